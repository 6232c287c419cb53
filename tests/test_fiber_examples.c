/* SPDX-License-Identifier: MIT */
/*
 * The coroutine and fiber examples, run as programs: libpcl coroutines on
 * one thread (pcl_requests), Boost.Fiber's work_stealing on 4 threads
 * (fiber_work_stealing) and C++20 coroutines on a thread pool (coro_pool).
 * Each runs 2,000 requests that yield in the middle of their work; every
 * record is parsed back and must carry its own request's ids, its trace
 * throughout, and its child span exactly around the two records logged in
 * it. Where the scheduler moves tasks between threads, some requests must
 * have run on more than one (else the test would prove nothing about
 * migration).
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

#include "support.h"

#define REQUESTS 2000
#define RECORDS 4 /* per request */

typedef struct seen {
    int records;
    unsigned workers; /* bit k: ran on worker k */
    char trace[33], span[17], child[17];
} seen;

static const char *get(const json_t *r, const char *k)
{
    const char *s = json_string_value(json_object_get(r, k));
    return s ? s : "";
}

/* Run `program` and check its records; returns how many requests ran on
 * more than one thread. */
static int run_example(const char *program)
{
    char *path = ts_temp_path("fiber_example.log");
    ts_unlink(path);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "CTXLOG_OUTPUT='%s' CTXLOG_LEVEL=info '%s' %d", path, program,
             REQUESTS);
    assert_int_equal(system(cmd), 0);
    json_t *recs = ts_read_records(path);
    seen *s = calloc(REQUESTS, sizeof *s);
    assert_non_null(s);
    int finals = 0;
    size_t k;
    json_t *r;
    json_array_foreach(recs, k, r)
    {
        const char *msg = get(r, "msg");
        if (strcmp(msg, "all requests done") == 0) {
            assert_null(json_object_get(r, "request_id"));
            assert_null(json_object_get(r, "user_id"));
            assert_null(json_object_get(r, "trace_id"));
            finals++;
            continue;
        }
        json_int_t i = json_integer_value(json_object_get(r, "i"));
        assert_true(i >= 0 && i < REQUESTS);
        char want[32];
        snprintf(want, sizeof want, "req-%d", (int)i);
        assert_string_equal(get(r, "request_id"), want);
        snprintf(want, sizeof want, "user-%d", (int)i);
        assert_string_equal(get(r, "user_id"), want);
        snprintf(want, sizeof want, "tenant-%d", (int)i % 3);
        assert_string_equal(get(r, "tenant_id"), want);
        seen *q = &s[i];
        q->records++;
        q->workers |= 1u << json_integer_value(json_object_get(r, "worker"));
        /* One trace for the request; the child span around its two records. */
        if (!q->trace[0])
            snprintf(q->trace, sizeof q->trace, "%s", get(r, "trace_id"));
        assert_string_equal(get(r, "trace_id"), q->trace);
        int in_span = strcmp(msg, "query sent") == 0 || strcmp(msg, "query done") == 0;
        char *span = in_span ? q->child : q->span;
        if (!span[0])
            snprintf(span, 17, "%s", get(r, "span_id"));
        assert_string_equal(get(r, "span_id"), span);
        assert_int_equal(strlen(get(r, "span_id")), 16);
    }
    int migrated = 0;
    for (int i = 0; i < REQUESTS; i++) {
        assert_int_equal(s[i].records, RECORDS);
        assert_string_not_equal(s[i].span, s[i].child);
        migrated += (s[i].workers & (s[i].workers - 1)) != 0;
    }
    assert_int_equal(finals, 1);
    print_message("%s: %d requests, %zu records, %d moved between threads\n", program, REQUESTS,
                  json_array_size(recs), migrated);
    free(s);
    json_decref(recs);
    ts_unlink(path);
    free(path);
    return migrated;
}

static void test_pcl_requests(void **state)
{
    (void)state;
#ifdef PCL_REQUESTS_PATH
    assert_int_equal(run_example(PCL_REQUESTS_PATH), 0); /* one thread */
#else
    skip();
#endif
}

static void test_fiber_work_stealing(void **state)
{
    (void)state;
#ifdef FIBER_WORK_STEALING_PATH
    /* Every run's records are checked whole; that some request moved
     * between threads is up to the scheduler, which on a machine busy with
     * other work may leave every fiber where it started: up to five runs. */
    int moved = 0;
    for (int run = 0; run < 5 && moved == 0; run++)
        moved = run_example(FIBER_WORK_STEALING_PATH);
    assert_true(moved > 0);
#else
    skip();
#endif
}

static void test_coro_pool(void **state)
{
    (void)state;
#ifdef CORO_POOL_PATH
    assert_true(run_example(CORO_POOL_PATH) > 0);
#else
    skip();
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pcl_requests),
        cmocka_unit_test(test_fiber_work_stealing),
        cmocka_unit_test(test_coro_pool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
