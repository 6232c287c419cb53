/*
 * Replay on error under load (issue 16): 10,000 requests, 1 % failing, each
 * with replay at debug while the loggers write info. A request starts on a
 * libevent loop (the main thread), goes on in a task of a 4-thread ctx_pool,
 * and ends back on the loop in a callback bound with ctx_bind. Its four debug
 * records (one per hop, two in the pool) are kept in its context's buffer;
 * the failing ones log an error in the last hop.
 *
 * The file must hold exactly: one info record per request (written at once),
 * and for each failed request its four debug records, each marked
 * "replayed", in the order logged, with its own ids, then its error; no
 * debug record of any other request. The replay buffers' own accounting
 * says no buffer grew past its bound, and that every buffer was freed with
 * its request (kept = replayed + discarded).
 *
 * CTXLOG_STRESS_REQUESTS scales it down (valgrind); ThreadSanitizer runs it
 * whole.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <jansson.h>

#include <ctxlog/ctxlog.h>

#include "support.h"

#define POOL_THREADS 4
#define IN_FLIGHT 64
#define FAIL_EVERY 100 /* 1 % */
#define MAX_BYTES 4096
#define DEBUG_PER_REQUEST 4

static struct event_base *base;
static ctx_pool *pool;
static int total = 10000;
static int started, finished; /* loop thread only */
static atomic_int task_errors;

static int failing(int n)
{
    return n % FAIL_EVERY == FAIL_EVERY / 2;
}

static void start_next(void);

/* Hop 3, on the loop, in the request's context (bound). */
static void finish(void *arg)
{
    int n = (int)(intptr_t)arg;
    log_debug_kv("hop", LOG_I64("seq", 3), LOG_I64("n", n));
    if (failing(n))
        log_error_kv("request failed", LOG_I64("n", n));
    finished++;
    if (started < total)
        start_next();
    else if (finished == total)
        event_base_loopbreak(base); /* the keep-alive timer would hold it */
}

static void run_bound(evutil_socket_t fd, short what, void *bound)
{
    (void)fd, (void)what;
    ctx_bound_run(bound);
}

/* Hops 1 and 2, in a pool thread; then back to the loop. */
static void pooled(void *arg)
{
    int n = (int)(intptr_t)arg;
    log_debug_kv("hop", LOG_I64("seq", 1), LOG_I64("n", n));
    log_debug_kv("hop", LOG_I64("seq", 2), LOG_I64("n", n));
    ctx_bound *b = ctx_bind(finish, arg);
    struct timeval now = {0, 0};
    if (!b || event_base_once(base, -1, EV_TIMEOUT, run_bound, b, &now) != 0)
        atomic_fetch_add(&task_errors, 1);
}

/* Hop 0, on the loop: the request's entry point. */
static void start_next(void)
{
    int n = started++;
    char rid[32], uid[32], tid[32];
    snprintf(rid, sizeof rid, "req-%d", n);
    snprintf(uid, sizeof uid, "user-%d", n);
    snprintf(tid, sizeof tid, "tenant-%d", n % 7);
    CTX_REQUEST(rid, uid, tid);
    LOG_CONTEXT_REPLAY(LOG_LEVEL_DEBUG, MAX_BYTES);
    log_info_kv("request", LOG_I64("n", n));
    log_debug_kv("hop", LOG_I64("seq", 0), LOG_I64("n", n));
    if (ctx_pool_submit(pool, pooled, (void *)(intptr_t)n) != 0)
        atomic_fetch_add(&task_errors, 1);
}

static void kick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    for (int i = 0; i < IN_FLIGHT && started < total; i++)
        start_next();
}

static void check_ids(const json_t *r, int n)
{
    char want[32];
    snprintf(want, sizeof want, "req-%d", n);
    assert_string_equal(json_string_value(json_object_get(r, "request_id")), want);
    snprintf(want, sizeof want, "user-%d", n);
    assert_string_equal(json_string_value(json_object_get(r, "user_id")), want);
    snprintf(want, sizeof want, "tenant-%d", n % 7);
    assert_string_equal(json_string_value(json_object_get(r, "tenant_id")), want);
}

static void test_replay_requests__failed_requests_alone_replay_their_debug(void **state)
{
    (void)state;
    const char *env = getenv("CTXLOG_STRESS_REQUESTS");
    if (env && atoi(env) > 0)
        total = atoi(env);
    char *path = ts_temp_path("replay_requests.log");
    ts_unlink(path);
    assert_int_equal(log_output_set(path), 0);
    assert_int_equal(log_level_set(LOG_LEVEL_INFO), 0);
    log_replay_stats before;
    log_replay_stats_get(&before);

    assert_int_equal(evthread_use_pthreads(), 0);
    base = event_base_new();
    assert_non_null(base);
    pool = ctx_pool_new(POOL_THREADS);
    assert_non_null(pool);
    struct timeval now = {0, 0}, hour = {3600, 0};
    /* Pending while the pool works, so that the loop waits for its callbacks. */
    struct event *keep_alive = event_new(base, -1, EV_PERSIST, kick, NULL);
    assert_non_null(keep_alive);
    assert_int_equal(event_add(keep_alive, &hour), 0);
    assert_int_equal(event_base_once(base, -1, EV_TIMEOUT, kick, NULL, &now), 0);
    assert_int_equal(event_base_dispatch(base), 0);
    event_free(keep_alive);
    ctx_pool_free(pool);
    event_base_free(base);
    assert_int_equal(atomic_load(&task_errors), 0);
    assert_int_equal(finished, total);
    assert_int_equal(log_flush(), 0);

    /* Every request ended: its buffer went with it. */
    log_replay_stats st;
    log_replay_stats_get(&st);
    int nfailed = 0;
    for (int n = 0; n < total; n++)
        nfailed += failing(n);
    uint64_t kept = st.kept - before.kept, replayed = st.replayed - before.replayed;
    uint64_t discarded = st.discarded - before.discarded, dropped = st.dropped - before.dropped;
    print_message("requests=%d failed=%d kept=%llu replayed=%llu discarded=%llu dropped=%llu "
                  "peak_buffer=%llu peak_bytes=%llu max_bytes=%d\n",
                  total, nfailed, (unsigned long long)kept, (unsigned long long)replayed,
                  (unsigned long long)discarded, (unsigned long long)dropped,
                  (unsigned long long)st.peak_buffer, (unsigned long long)st.peak_bytes,
                  MAX_BYTES);
    assert_int_equal(st.buffers, before.buffers);
    assert_int_equal(st.bytes, before.bytes);
    assert_true(st.peak_buffer > 0 && st.peak_buffer <= MAX_BYTES);
    assert_true(st.peak_bytes <= (uint64_t)(IN_FLIGHT + POOL_THREADS) * MAX_BYTES);
    assert_int_equal(kept, (uint64_t)total * DEBUG_PER_REQUEST);
    assert_int_equal(replayed, (uint64_t)nfailed * DEBUG_PER_REQUEST);
    assert_int_equal(discarded, (uint64_t)(total - nfailed) * DEBUG_PER_REQUEST);
    assert_int_equal(dropped, 0);

    json_t *recs = ts_read_records(path);
    assert_int_equal(json_array_size(recs),
                     (size_t)total + (size_t)nfailed * (DEBUG_PER_REQUEST + 1));
    int *next_seq = calloc((size_t)total, sizeof *next_seq); /* debug records seen */
    unsigned char *info = calloc((size_t)total, 1), *error = calloc((size_t)total, 1);
    assert_true(next_seq && info && error);
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r) {
        const char *level = json_string_value(json_object_get(r, "level"));
        json_int_t n = json_integer_value(json_object_get(r, "n"));
        assert_non_null(level);
        assert_true(n >= 0 && n < total);
        check_ids(r, (int)n);
        const json_t *mark = json_object_get(r, "replayed");
        if (strcmp(level, "info") == 0) {
            assert_null(mark);
            assert_false(info[n]);
            info[n] = 1;
        } else if (strcmp(level, "debug") == 0) {
            /* Only failed requests', marked, in order, before their error. */
            assert_true(failing((int)n));
            assert_true(json_is_true(mark));
            assert_false(error[n]);
            assert_int_equal(json_integer_value(json_object_get(r, "seq")), next_seq[n]);
            next_seq[n]++;
        } else {
            assert_string_equal(level, "error");
            assert_null(mark);
            assert_true(failing((int)n));
            assert_int_equal(next_seq[n], DEBUG_PER_REQUEST);
            assert_false(error[n]);
            error[n] = 1;
        }
    }
    for (int n = 0; n < total; n++) {
        assert_true(info[n]);
        assert_int_equal(error[n], failing(n));
        assert_int_equal(next_seq[n], failing(n) ? DEBUG_PER_REQUEST : 0);
    }
    free(next_seq);
    free(info);
    free(error);
    json_decref(recs);
    ts_unlink(path);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_requests__failed_requests_alone_replay_their_debug),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    log_shutdown();
    return rc;
}
