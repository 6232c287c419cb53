/*
 * Sampling by request (include/ctxlog/policy.h): 100,000 requests at 10 %
 * keep 10 ± 0.5 % of them, each whole (all its info records, from its own
 * thread and a pool task it submits) or not at all, decided by the documented
 * hash alone; warn and above always written; a sampled-out request that
 * fails replays what it did not write. CTXLOG_STRESS_REQUESTS (valgrind)
 * and ThreadSanitizer scale the count down, and the ratio's tolerance with
 * it.
 */
#include <math.h>
#include <pthread.h>
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

#define THREADS 4
#define INFO_PER_REQUEST 3 /* 2 on the request's thread, 1 in a pool task */

/* ThreadSanitizer runs a fifth of them (its tolerance widens to match). */
#if defined(__SANITIZE_THREAD__)
static int total = 20000;
#else
static int total = 100000;
#endif

static char *use_file(const char *name)
{
    char *path = ts_temp_path(name);
    ts_unlink(path);
    assert_int_equal(log_output_set(path), 0);
    assert_int_equal(log_level_set(LOG_LEVEL_INFO), 0);
    return path;
}

static json_t *finish(char *path)
{
    assert_int_equal(log_flush(), 0);
    log_shutdown();
    json_t *recs = ts_read_records(path);
    ts_unlink(path);
    free(path);
    return recs;
}

/* The documented decision, computed here independently: FNV-1a 64 of the
 * id, then fmix64, below ratio × 2^64. */
static int expect_keep(const char *id, double ratio)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char *p = id; *p; p++) {
        h ^= (unsigned char)*p;
        h *= 0x100000001b3ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h < (uint64_t)(ratio * 18446744073709551616.0);
}

static ctx_pool *pool;

static void pooled(void *arg)
{
    log_info_kv("pooled", LOG_I64("n", (int64_t)(intptr_t)arg));
}

static void *serve(void *arg)
{
    intptr_t worker = (intptr_t)arg, failures = 0;
    for (int n = (int)worker; n < total; n += THREADS) {
        char rid[40];
        snprintf(rid, sizeof rid, "req-%08d", n);
        CTX_REQUEST(rid, NULL, NULL);
        log_info_kv("start", LOG_I64("n", n));
        if (ctx_pool_submit(pool, pooled, (void *)(intptr_t)n) != 0)
            failures++;
        log_info_kv("end", LOG_I64("n", n));
        if (n % 1000 == 0)
            log_warn_kv("slow", LOG_I64("n", n)); /* always written */
    }
    return (void *)failures;
}

static void test_sampling__keeps_whole_requests_at_the_ratio(void **state)
{
    (void)state;
    const char *env = getenv("CTXLOG_STRESS_REQUESTS");
    if (env && atoi(env) > 0)
        total = atoi(env) * 10;
    char *path = use_file("sampling.log");
    assert_int_equal(log_sampling_set(0.10, LOG_LEVEL_WARN), 0);
    pool = ctx_pool_new(THREADS);
    assert_non_null(pool);
    pthread_t th[THREADS];
    for (intptr_t i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, serve, (void *)i), 0);
    for (int i = 0; i < THREADS; i++) {
        void *failures;
        pthread_join(th[i], &failures);
        assert_null(failures);
    }
    ctx_pool_free(pool);
    assert_int_equal(log_sampling_set(1.0, LOG_LEVEL_WARN), 0);
    json_t *recs = finish(path);

    unsigned char *infos = calloc((size_t)total, 1);
    assert_non_null(infos);
    int warns = 0;
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r) {
        json_int_t n = json_integer_value(json_object_get(r, "n"));
        assert_true(n >= 0 && n < total);
        char rid[40];
        snprintf(rid, sizeof rid, "req-%08d", (int)n);
        assert_string_equal(json_string_value(json_object_get(r, "request_id")), rid);
        if (strcmp(json_string_value(json_object_get(r, "level")), "warn") == 0) {
            warns++;
            continue;
        }
        infos[n]++;
    }
    int kept = 0, expected = 0;
    for (int n = 0; n < total; n++) {
        char rid[40];
        snprintf(rid, sizeof rid, "req-%08d", n);
        /* Whole or nothing, and the documented hash decides. */
        assert_true(infos[n] == 0 || infos[n] == INFO_PER_REQUEST);
        assert_int_equal(infos[n] == INFO_PER_REQUEST, expect_keep(rid, 0.10));
        assert_int_equal(log_sampling_keeps(rid), 1); /* sampling is off again */
        kept += infos[n] != 0;
        expected += expect_keep(rid, 0.10);
    }
    assert_int_equal(warns, (total + 999) / 1000);
    double share = (double)kept / total;
    print_message("requests=%d kept=%d share=%.4f\n", total, kept, share);
    /* 10 ± 0.5 % at 100,000 requests; a scaled-down run gets the binomial
     * tolerance of its size (4 standard deviations). */
    double tol = total >= 100000 ? 0.005 : 4 * sqrt(0.1 * 0.9 / total);
    assert_true(fabs(share - 0.10) <= tol);
    assert_int_equal(kept, expected);
    free(infos);
    json_decref(recs);
}

static void test_sampling__trace_id_decides_when_set(void **state)
{
    (void)state;
    assert_int_equal(log_sampling_set(0.5, LOG_LEVEL_WARN), 0);
    char *path = use_file("sampling_trace.log");
    int written = 0, expected = 0;
    for (int n = 0; n < 200; n++) {
        char rid[32];
        snprintf(rid, sizeof rid, "same-request-id");
        CTX_REQUEST(rid, NULL, NULL);
        CTX_TRACE(NULL); /* a fresh trace id for each */
        const char *trace = ctx_get(CTX_TRACE_ID);
        assert_non_null(trace);
        assert_int_equal(log_sampling_keeps(trace), expect_keep(trace, 0.5));
        expected += expect_keep(trace, 0.5);
        log_info("x");
    }
    assert_int_equal(log_sampling_set(1.0, LOG_LEVEL_WARN), 0);
    json_t *recs = finish(path);
    written = (int)json_array_size(recs);
    /* By the request id alone all 200 would be kept or none. */
    assert_int_equal(written, expected);
    assert_true(written > 0 && written < 200);
    json_decref(recs);
}

static void test_sampling__below_level_and_context_without_ids(void **state)
{
    (void)state;
    assert_int_equal(log_sampling_set(0.0, LOG_LEVEL_INFO), 0); /* every request out */
    assert_int_equal(log_level_set(LOG_LEVEL_DEBUG), 0);
    char *path = ts_temp_path("sampling_below.log");
    ts_unlink(path);
    assert_int_equal(log_output_set(path), 0);
    assert_int_equal(log_level_set(LOG_LEVEL_DEBUG), 0);
    log_debug("no ids: kept");
    {
        CTX_REQUEST("r", NULL, NULL);
        log_debug("sampled out");
        log_info("info: at the level, written");
        log_warn("warn: written");
    }
    assert_int_equal(log_sampling_set(1.0, LOG_LEVEL_WARN), 0);
    json_t *recs = finish(path);
    assert_int_equal(json_array_size(recs), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(recs, 0), "msg")),
                        "no ids: kept");
    assert_string_equal(json_string_value(json_object_get(json_array_get(recs, 1), "msg")),
                        "info: at the level, written");
    json_decref(recs);
}

static void test_sampling__sampled_out_request_replays_on_error(void **state)
{
    (void)state;
    assert_int_equal(log_sampling_set(0.0, LOG_LEVEL_WARN), 0);
    char *path = use_file("sampling_replay.log");
    {
        CTX_REQUEST("r-out", NULL, NULL);
        LOG_CONTEXT_REPLAY(LOG_LEVEL_DEBUG, 4096);
        log_debug("d");
        log_info("i");
        log_warn("w"); /* written: warn and above always are */
        log_error("e");
    }
    {
        CTX_REQUEST("r-out-2", NULL, NULL);
        log_info("sampled out, no replay: dropped");
    }
    assert_int_equal(log_sampling_set(1.0, LOG_LEVEL_WARN), 0);
    json_t *recs = finish(path);
    assert_int_equal(json_array_size(recs), 4);
    const char *msgs[] = {"w", "d", "i", "e"};
    for (size_t i = 0; i < 4; i++) {
        const json_t *r = json_array_get(recs, i);
        assert_string_equal(json_string_value(json_object_get(r, "msg")), msgs[i]);
        assert_int_equal(json_is_true(json_object_get(r, "replayed")), i == 1 || i == 2);
    }
    json_decref(recs);
}

/* Ids that differ only in their last characters (sequential request ids)
 * must spread as well as random ones: every block of 1,000 consecutive ids
 * keeps about 100 at 10 % (±4 standard deviations), not all or none. */
static void test_sampling__sequential_ids_spread(void **state)
{
    (void)state;
    assert_int_equal(log_sampling_set(0.10, LOG_LEVEL_WARN), 0);
    for (int block = 0; block < 20; block++) {
        int kept = 0;
        for (int i = 0; i < 1000; i++) {
            char rid[40];
            snprintf(rid, sizeof rid, "order-%d", block * 1000 + i);
            int k = log_sampling_keeps(rid);
            assert_int_equal(k, expect_keep(rid, 0.10));
            kept += k;
        }
        if (kept < 62 || kept > 138)
            fail_msg("block %d kept %d of 1000 sequential ids at 10 %%", block, kept);
    }
    assert_int_equal(log_sampling_set(1.0, LOG_LEVEL_WARN), 0);
}

static void test_sampling__bad_arguments(void **state)
{
    (void)state;
    assert_int_equal(log_sampling_set(-0.1, LOG_LEVEL_WARN), CTXLOG_EINVAL);
    assert_int_equal(log_sampling_set(1.5, LOG_LEVEL_WARN), CTXLOG_EINVAL);
    assert_int_equal(log_sampling_set(NAN, LOG_LEVEL_WARN), CTXLOG_EINVAL);
    assert_int_equal(log_sampling_set(0.5, LOG_LEVEL_ERROR), CTXLOG_EINVAL);
    assert_int_equal(log_sampling_set(0.5, LOG_LEVEL_TRACE), CTXLOG_EINVAL);
    assert_int_equal(log_sampling_keeps(NULL), 1);
    assert_int_equal(log_sampling_keeps("anything"), 1); /* off */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sampling__keeps_whole_requests_at_the_ratio),
        cmocka_unit_test(test_sampling__trace_id_decides_when_set),
        cmocka_unit_test(test_sampling__below_level_and_context_without_ids),
        cmocka_unit_test(test_sampling__sampled_out_request_replays_on_error),
        cmocka_unit_test(test_sampling__sequential_ids_spread),
        cmocka_unit_test(test_sampling__bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
