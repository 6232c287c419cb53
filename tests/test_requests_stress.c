/* SPDX-License-Identifier: MIT */
/*
 * The mission under load: 8 threads each serve 10,000 requests. A request
 * sets its three ids once at its entry point; records are then written three
 * calls deep, from a thread it spawns with ctx_thread_create, and from a task
 * it submits to a shared ctx_pool. Every record must carry exactly its own
 * request's ids, and every request's four records must all be there.
 * Meant to run under ThreadSanitizer too (CTXLOG_STRESS_REQUESTS scales it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include <ctxlog/ctxlog.h>

#include "support.h"

#define THREADS 8
#define STAGES 4 /* entry, deep, spawned thread, pool task */

static ctx_pool *pool;
static int requests_per_thread = 10000;

static void deep3(int depth)
{
    if (depth < 3) {
        deep3(depth + 1);
        return;
    }
    log_info_kv("deep", LOG_I64("stage", 1));
}

static void *spawned(void *arg)
{
    (void)arg;
    log_info_kv("spawned", LOG_I64("stage", 2));
    return NULL;
}

static void pooled(void *arg)
{
    (void)arg;
    log_info_kv("pooled", LOG_I64("stage", 3));
}

/* cmocka's assertions are not for other threads: count failures instead. */
static int serve(int worker, int n)
{
    char rid[48], uid[32], tid[32];
    snprintf(rid, sizeof rid, "w%d-r%d", worker, n);
    snprintf(uid, sizeof uid, "user-%d-%d", worker, n);
    snprintf(tid, sizeof tid, "tenant-%d", worker);
    CTX_REQUEST(rid, uid, tid);
    log_info_kv("entry", LOG_I64("stage", 0));
    deep3(0);
    pthread_t t;
    if (ctx_thread_create(&t, NULL, spawned, NULL) != 0)
        return 1;
    pthread_join(t, NULL);
    return ctx_pool_submit(pool, pooled, NULL) != 0;
}

static void *server_thread(void *arg)
{
    int worker = (int)(intptr_t)arg;
    intptr_t failures = 0;
    for (int n = 0; n < requests_per_thread; n++)
        failures += serve(worker, n);
    /* The thread is reused request after request: nothing may linger. */
    if (ctx_get(CTX_REQUEST_ID) || ctx_get(CTX_USER_ID) || ctx_get(CTX_TENANT_ID))
        failures++;
    return (void *)failures;
}

static void test_requests__ids_follow_every_record(void **state)
{
    (void)state;
    const char *env = getenv("CTXLOG_STRESS_REQUESTS");
    if (env && atoi(env) > 0)
        requests_per_thread = atoi(env);
    char *path = ts_temp_path("stress.log");
    ts_unlink(path);
    assert_int_equal(log_output_set(path), 0);
    pool = ctx_pool_new(4);
    assert_non_null(pool);

    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, server_thread, (void *)(intptr_t)i), 0);
    for (int i = 0; i < THREADS; i++) {
        void *failures; /* a count, as a pointer */
        pthread_join(th[i], &failures);
        assert_null(failures);
    }
    ctx_pool_free(pool);
    log_shutdown();

    json_t *recs = ts_read_records(path);
    size_t total = (size_t)THREADS * (size_t)requests_per_thread;
    assert_int_equal(json_array_size(recs), total * STAGES);
    unsigned char *seen = calloc(total, 1);
    assert_non_null(seen);
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r) {
        const char *rid = json_string_value(json_object_get(r, "request_id"));
        const char *uid = json_string_value(json_object_get(r, "user_id"));
        const char *tid = json_string_value(json_object_get(r, "tenant_id"));
        json_int_t stage = json_integer_value(json_object_get(r, "stage"));
        assert_non_null(rid);
        assert_non_null(uid);
        assert_non_null(tid);
        int w, n;
        assert_int_equal(sscanf(rid, "w%d-r%d", &w, &n), 2);
        assert_true(w >= 0 && w < THREADS && n >= 0 && n < requests_per_thread);
        char want[48];
        snprintf(want, sizeof want, "user-%d-%d", w, n);
        assert_string_equal(uid, want);
        snprintf(want, sizeof want, "tenant-%d", w);
        assert_string_equal(tid, want);
        assert_true(stage >= 0 && stage < STAGES);
        size_t idx = (size_t)w * (size_t)requests_per_thread + (size_t)n;
        unsigned bit = 1u << stage;
        assert_false(seen[idx] & bit); /* each stage exactly once */
        seen[idx] |= (unsigned char)bit;
    }
    for (size_t k = 0; k < total; k++)
        assert_int_equal(seen[k], (1u << STAGES) - 1);
    free(seen);
    json_decref(recs);
    ts_unlink(path);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests__ids_follow_every_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
