/* SPDX-License-Identifier: MIT */
/*
 * The threads' lanes (<ctxlog/log.h>, struct log__lane; log/base/log_lane.h):
 * in async mode, after a captured record, a typed call on the same logger,
 * at a level that goes the same way, under the same context, writes its
 * record into the thread's queue itself.
 *
 * - The lane is taken: log__lane_put, the call the macros make first,
 *   returns 1 after a captured record (so that the byte comparisons of
 *   test_async_capture.c, made with the macros, go through it).
 * - What it decided holds only until it changes: a logger's level, the
 *   sink's level, sampling, limits, the sinks (a route), async mode, the
 *   context (ctx_set, a fiber switched in), another logger, an error, and
 *   the thread's queue written another way. After each, the lane is not
 *   taken, and the record the usual way makes shows the change.
 * - Threads that log through their lanes while another thread changes the
 *   sink's level and the sinks: every record is in the file exactly once,
 *   with its own thread's context (ThreadSanitizer runs it too).
 *
 * Every line is parsed with jansson; counts are exact.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include <ctxlog/ctxlog.h>

#include "log/async/async.h"
#include "log/async/async_clock.h"
#include "log/base/log_hazard.h"
#include "support.h"

#define QUEUE ((size_t)256 * 1024)

static char *path;
static log_sink *sink; /* the root's sink: our reference */

/* The root's only sink: a file at `p`, emptied; root at info. */
static void use_file(const char *p)
{
    log_sink *s = NULL;
    ts_unlink(p);
    assert_int_equal(log_sink_file(&s, p, NULL), 0);
    assert_int_equal(log_logger_clear_sinks(NULL), 0);
    assert_int_equal(log_logger_add_sink(NULL, s), 0);
    assert_int_equal(log_level_set(LOG_LEVEL_INFO), 0);
    log_sink_release(sink);
    sink = s;
}

static int setup(void **state)
{
    (void)state;
    path = ts_temp_path("lane.log");
    use_file(path);
    assert_int_equal(log__async_set(true, QUEUE, false), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    (void)log_sampling_set(1.0, LOG_LEVEL_WARN);
    (void)log_limits_set(NULL);
    (void)log__async_set(false, QUEUE, false);
    log_shutdown();
    log_sink_release(sink);
    sink = NULL;
    ts_unlink(path);
    free(path);
    return 0;
}

/* The lane's call as the macros make it, with one field; 1 when taken. */
static int lane_put(log_logger *lg, log_level level, const char *msg, int64_t i)
{
    const log_field f[] = {LOG_I64("i", i)};
    return LOG__LANE_PUT(lg, (int)level, msg, strlen(msg), f, 1);
}

/* Lanes need the counter as the stamp and a process-wide barrier; where
 * either is missing (another CPU, valgrind) every call goes in. */
static bool lanes_here(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    log_info_kv("decides the stamps", LOG_I64("i", -1));
    return __atomic_load_n(&log__stamp_tsc, __ATOMIC_RELAXED) == 1 &&
           atomic_load(&log__hazard_asym);
#else
    return false;
#endif
}

#define NEED_LANES()                                                                   \
    do {                                                                               \
        if (!lanes_here()) {                                                           \
            print_message("no lanes here (no TSC stamps or no membarrier)\n");        \
            skip();                                                                    \
        }                                                                              \
    } while (0)

/* A record on lg at info the usual way (`msg`), then as many "filler"
 * records as it takes for the thread's lane to have room for a few more
 * (a lane's room ends at each 4 KiB mark of the queue). */
static void open_lane(log_logger *lg, const char *msg)
{
    log_to_kv(lg, LOG_LEVEL_INFO, msg, LOG_I64("i", 0));
    for (int k = 0; log__my_lane1->end - log__my_lane1->pos < 1024; k++) {
        if (k == 200)
            fail_msg("the lane was not left with room");
        log_to_kv(lg, LOG_LEVEL_INFO, "filler", LOG_I64("i", -2));
    }
}

/* The records in the file, after a flush. */
static json_t *records(void)
{
    assert_int_equal(log_flush(), 0);
    return ts_read_records(path);
}

static json_t *record_with(json_t *recs, const char *msg)
{
    json_t *found = NULL;
    size_t k;
    json_t *r;
    json_array_foreach(recs, k, r) {
        if (strcmp(json_string_value(json_object_get(r, "msg")), msg) == 0) {
            if (found)
                fail_msg("\"%s\" written twice", msg);
            found = r;
        }
    }
    return found;
}

static void test_lane__taken_after_a_captured_record(void **state)
{
    (void)state;
    NEED_LANES();
    CTX_REQUEST("req-1", "user-1", "tenant-1");
    open_lane(NULL, "opens");
    assert_int_equal(lane_put(NULL, LOG_LEVEL_INFO, "by the lane", 1), 1);
    assert_int_equal(lane_put(NULL, LOG_LEVEL_WARN, "a warning by the lane", 2), 1);
    /* Errors go in: they wake the writer. */
    assert_int_equal(lane_put(NULL, LOG_LEVEL_ERROR, "an error", 3), 0);
    json_t *recs = records();
    json_t *r = record_with(recs, "by the lane");
    assert_non_null(r);
    assert_string_equal(json_string_value(json_object_get(r, "request_id")), "req-1");
    assert_string_equal(json_string_value(json_object_get(r, "tenant_id")), "tenant-1");
    assert_int_equal(json_integer_value(json_object_get(r, "i")), 1);
    assert_string_equal(json_string_value(json_object_get(r, "level")), "info");
    r = record_with(recs, "a warning by the lane");
    assert_non_null(r);
    assert_string_equal(json_string_value(json_object_get(r, "level")), "warn");
    assert_null(record_with(recs, "an error"));
    json_decref(recs);
}

/* After `change`, the lane is not taken; the usual call then writes the
 * record (written 1), or not (0), or as a policy decides (-1). */
typedef void (*change_fn)(void);

static void lane_shut_by(change_fn change, int written)
{
    CTX_REQUEST("req-2", "user-2", "tenant-2");
    open_lane(NULL, "opens");
    assert_int_equal(lane_put(NULL, LOG_LEVEL_INFO, "before", 1), 1);
    change();
    assert_int_equal(lane_put(NULL, LOG_LEVEL_INFO, "not by the lane", 2), 0);
    log_info_kv("after", LOG_I64("i", 3));
    json_t *recs = records();
    assert_non_null(record_with(recs, "before"));
    assert_null(record_with(recs, "not by the lane"));
    if (written == 1)
        assert_non_null(record_with(recs, "after"));
    else if (written == 0)
        assert_null(record_with(recs, "after"));
    json_decref(recs);
}

static void root_to_warn(void)
{
    assert_int_equal(log_level_set(LOG_LEVEL_WARN), 0);
}
static void sink_to_warn(void)
{
    assert_int_equal(log_sink_set_level(sink, LOG_LEVEL_WARN), 0);
}
static void sampling_on(void)
{
    assert_int_equal(log_sampling_set(0.5, LOG_LEVEL_WARN), 0);
}
static void limits_on(void)
{
    const log_limits l = LOG_LIMITS_INIT;
    assert_int_equal(log_limits_set(&l), 0);
}
static void sinks_changed(void)
{
    assert_int_equal(log_logger_clear_sinks(NULL), 0);
    assert_int_equal(log_logger_add_sink(NULL, sink), 0);
}
static void async_off(void)
{
    assert_int_equal(log__async_set(false, QUEUE, false), 0);
}
static void queue_written_another_way(void)
{
    log_info("a printf-style record, formatted on the thread");
}

/* The changes that shut a lane, and what the call after them writes: one
 * test each (main), run by test_lane__shut_by. */
struct shut_case {
    change_fn change;
    int written;
};
static const struct shut_case by_logger_level = {root_to_warn, 0},
                              by_sink_level = {sink_to_warn, 0},
                              by_sampling = {sampling_on, -1}, by_limits = {limits_on, 1},
                              by_route_change = {sinks_changed, 1},
                              by_async_off = {async_off, 1},
                              by_queue_written_another_way = {queue_written_another_way, 1};

static void test_lane__shut_by(void **state)
{
    const struct shut_case *c = *state;
    NEED_LANES();
    lane_shut_by(c->change, c->written);
}

static void test_lane__context_and_logger(void **state)
{
    (void)state;
    NEED_LANES();
    log_logger *db = log_get("app.db");
    assert_non_null(db);
    ctx_token t = ctx_set(CTX_REQUEST_ID, "req-a");
    open_lane(NULL, "opens");
    assert_int_equal(lane_put(NULL, LOG_LEVEL_INFO, "a by the lane", 1), 1);
    /* Another logger goes in (and takes the lane). */
    assert_int_equal(lane_put(db, LOG_LEVEL_INFO, "db not by the lane", 2), 0);
    open_lane(db, "db");
    assert_int_equal(lane_put(db, LOG_LEVEL_INFO, "db by the lane", 4), 1);
    assert_int_equal(lane_put(NULL, LOG_LEVEL_INFO, "root not by the lane", 5), 0);
    /* A new context goes in; its records carry it. */
    ctx_token u = ctx_set(CTX_REQUEST_ID, "req-b");
    assert_int_equal(lane_put(db, LOG_LEVEL_INFO, "b not by the lane", 6), 0);
    open_lane(db, "b opens");
    assert_int_equal(lane_put(db, LOG_LEVEL_INFO, "b by the lane", 8), 1);
    /* A fiber switched in is another context. */
    ctx_fiber *f = ctx_fiber_new();
    assert_non_null(f);
    ctx_fiber *prev = ctx_fiber_switch(f);
    (void)ctx_set(CTX_REQUEST_ID, "req-fiber");
    assert_int_equal(lane_put(db, LOG_LEVEL_INFO, "fiber not by the lane", 9), 0);
    open_lane(db, "fiber opens");
    assert_int_equal(lane_put(db, LOG_LEVEL_INFO, "fiber by the lane", 11), 1);
    (void)ctx_fiber_switch(prev);
    assert_int_equal(lane_put(db, LOG_LEVEL_INFO, "back not by the lane", 12), 0);
    log_to_kv(db, LOG_LEVEL_INFO, "back", LOG_I64("i", 13));
    assert_int_equal(ctx_fiber_free(f), 0);
    ctx_reset(u);
    ctx_reset(t);

    json_t *recs = records();
    static const struct {
        const char *msg, *rid, *logger;
    } want[] = {
        {"a by the lane", "req-a", "root"},   {"db", "req-a", "app.db"},
        {"db by the lane", "req-a", "app.db"}, {"b opens", "req-b", "app.db"},
        {"b by the lane", "req-b", "app.db"},  {"fiber opens", "req-fiber", "app.db"},
        {"fiber by the lane", "req-fiber", "app.db"}, {"back", "req-b", "app.db"},
    };
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        json_t *r = record_with(recs, want[k].msg);
        if (!r)
            fail_msg("\"%s\" not written", want[k].msg);
        assert_string_equal(json_string_value(json_object_get(r, "request_id")), want[k].rid);
        assert_string_equal(json_string_value(json_object_get(r, "logger")), want[k].logger);
    }
    static const char *const gone[] = {"db not by the lane", "root not by the lane",
                                       "b not by the lane", "fiber not by the lane",
                                       "back not by the lane"};
    for (size_t k = 0; k < sizeof gone / sizeof gone[0]; k++)
        assert_null(record_with(recs, gone[k]));
    json_decref(recs);
}

/* ---- threads on their lanes while the configuration changes ---------------- */

#define THREADS 3
static atomic_int stop;

struct worker {
    pthread_t th;
    int id;
    long n;
};

static log_filter_result keep_all(log_record *rec, void *payload)
{
    (void)rec;
    (void)payload;
    return LOG_FILTER_KEEP;
}

/* A new route for the root, and back, the records kept all along. */
static void routes_changed(void)
{
    assert_int_equal(log_logger_add_filter(NULL, keep_all, NULL), 0);
    assert_int_equal(log_logger_clear_filters(NULL), 0);
}

static void *log_by_lane(void *arg)
{
    struct worker *w = arg;
    char rid[32];
    snprintf(rid, sizeof rid, "thread-%d", w->id);
    CTX_REQUEST(rid, "u", "t");
    for (long i = 0; i < w->n; i++)
        log_info_kv("work", LOG_I64("thread", w->id), LOG_I64("i", i));
    return NULL;
}

static void test_lane__threads_while_the_configuration_changes(void **state)
{
    (void)state;
    NEED_LANES();
    struct worker w[THREADS];
    long n = 20000;
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
    n /= 4;
#endif
    const char *e = getenv("CTXLOG_STRESS_RECORDS");
    if (e && atol(e) > 0 && atol(e) < n)
        n = atol(e);
    atomic_store(&stop, 0);
    for (int k = 0; k < THREADS; k++) {
        w[k].id = k;
        w[k].n = n;
        assert_int_equal(pthread_create(&w[k].th, NULL, log_by_lane, &w[k]), 0);
    }
    /* Changes that shut every lane, none that loses a record: the sink's
     * level stays at or below info, the routes keep every record. */
    for (int round = 0; round < 200; round++) {
        assert_int_equal(log_sink_set_level(sink, round % 2 ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO),
                         0);
        if (round % 10 == 0)
            routes_changed();
        if (round % 25 == 0)
            assert_int_equal(log_level_set(round % 50 ? LOG_LEVEL_INFO : LOG_LEVEL_DEBUG), 0);
    }
    for (int k = 0; k < THREADS; k++)
        assert_int_equal(pthread_join(w[k].th, NULL), 0);

    json_t *recs = records();
    char *got = calloc((size_t)THREADS * (size_t)n, 1);
    assert_non_null(got);
    size_t k;
    json_t *r;
    long found = 0;
    json_array_foreach(recs, k, r) {
        if (strcmp(json_string_value(json_object_get(r, "msg")), "work") != 0)
            continue;
        long t = (long)json_integer_value(json_object_get(r, "thread"));
        long i = (long)json_integer_value(json_object_get(r, "i"));
        assert_true(t >= 0 && t < THREADS && i >= 0 && i < n);
        char rid[32];
        snprintf(rid, sizeof rid, "thread-%ld", t);
        assert_string_equal(json_string_value(json_object_get(r, "request_id")), rid);
        if (got[t * n + i])
            fail_msg("thread %ld record %ld written twice", t, i);
        got[t * n + i] = 1;
        found++;
    }
    assert_int_equal(found, (long)THREADS * n);
    free(got);
    json_decref(recs);
}

int main(void)
{
    unsetenv("CTXLOG_ASYNC");
    unsetenv("CTXLOG_CONFIG");
#define T(name) cmocka_unit_test_setup_teardown(test_lane__##name, setup, teardown)
#define SHUT(how)                                                                      \
    {"test_lane__shut_" #how, test_lane__shut_by, setup, teardown, (void *)&how}
    const struct CMUnitTest tests[] = {
        T(taken_after_a_captured_record),
        SHUT(by_logger_level),
        SHUT(by_sink_level),
        SHUT(by_sampling),
        SHUT(by_limits),
        SHUT(by_route_change),
        SHUT(by_async_off),
        SHUT(by_queue_written_another_way),
        T(context_and_logger),
        T(threads_while_the_configuration_changes),
    };
#undef SHUT
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
