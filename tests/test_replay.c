/* SPDX-License-Identifier: MIT */
/*
 * Replay on error (include/ctxlog/policy.h): what a request keeps, when it
 * is written and how it is marked, what is discarded, the bound, the
 * threads that share a request's buffer, and bad arguments. Every line is
 * parsed back with jansson (duplicate keys rejected).
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
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include <ctxlog/ctxlog.h>

#include "support.h"

static const char *str_of(const json_t *rec, const char *key)
{
    return json_string_value(json_object_get(rec, key));
}

static json_int_t int_of(const json_t *rec, const char *key)
{
    return json_integer_value(json_object_get(rec, key));
}

static log_replay_stats stats(void)
{
    log_replay_stats st;
    log_replay_stats_get(&st);
    return st;
}

static void test_replay__error_writes_kept_records_first_marked(void **state)
{
    (void)state;
    char *path = ts_log_to_file("replay_error.log");
    {
        CTX_REQUEST("r-1", "u-1", "t-1");
        LOG_CONTEXT_REPLAY(LOG_LEVEL_DEBUG, 65536);
        log_debug_kv("d", LOG_I64("seq", 0));
        log_trace_kv("t", LOG_I64("seq", -1)); /* below the replay's level */
        log_info_kv("i", LOG_I64("seq", 1));    /* written at once */
        log_debug("d %d", 2);
        log_error_kv("e", LOG_I64("seq", 3));
        log_debug_kv("d", LOG_I64("seq", 4)); /* kept again, never written */
    }
    json_t *recs = ts_log_collect(path);
    assert_int_equal(json_array_size(recs), 4);
    const char *msgs[] = {"i", "d", "d 2", "e"};
    const char *levels[] = {"info", "debug", "debug", "error"};
    const int marked[] = {0, 1, 1, 0};
    for (size_t i = 0; i < 4; i++) {
        const json_t *r = json_array_get(recs, i);
        assert_string_equal(str_of(r, "msg"), msgs[i]);
        assert_string_equal(str_of(r, "level"), levels[i]);
        assert_string_equal(str_of(r, "request_id"), "r-1");
        assert_string_equal(str_of(r, "tenant_id"), "t-1");
        assert_int_equal(json_is_true(json_object_get(r, "replayed")), marked[i]);
        assert_int_equal(json_object_get(r, "replayed") != NULL, marked[i]);
    }
    assert_int_equal(int_of(json_array_get(recs, 1), "seq"), 0);
    json_decref(recs);
}

static void test_replay__request_without_error_writes_nothing_kept(void **state)
{
    (void)state;
    log_replay_stats before = stats();
    char *path = ts_log_to_file("replay_quiet.log");
    {
        CTX_REQUEST("r-2", NULL, NULL);
        LOG_CONTEXT_REPLAY(LOG_LEVEL_DEBUG, 4096);
        log_debug("one");
        log_debug("two");
        log_warn("w"); /* written, but no replay: below error */
        assert_int_equal(stats().buffers, before.buffers + 1);
    }
    log_replay_stats after = stats();
    assert_int_equal(after.buffers, before.buffers);
    assert_int_equal(after.bytes, before.bytes);
    assert_int_equal(after.kept - before.kept, 2);
    assert_int_equal(after.discarded - before.discarded, 2);
    assert_int_equal(after.replayed, before.replayed);
    json_t *recs = ts_log_collect(path);
    assert_int_equal(json_array_size(recs), 1);
    assert_string_equal(str_of(json_array_get(recs, 0), "msg"), "w");
    json_decref(recs);
}

static void test_replay__other_requests_are_untouched(void **state)
{
    (void)state;
    char *path = ts_log_to_file("replay_other.log");
    {
        CTX_REQUEST("with", NULL, NULL);
        LOG_CONTEXT_REPLAY(LOG_LEVEL_DEBUG, 4096);
        log_debug("kept");
        {
            CTX_REQUEST("without", NULL, NULL); /* a new request, same buffer */
            log_debug("also kept: the context still holds the buffer");
        }
    }
    {
        CTX_REQUEST("plain", NULL, NULL);
        log_debug("dropped");
        log_error("plain error"); /* no buffer: nothing replayed */
    }
    json_t *recs = ts_log_collect(path);
    assert_int_equal(json_array_size(recs), 1);
    assert_string_equal(str_of(json_array_get(recs, 0), "msg"), "plain error");
    json_decref(recs);
}

static void test_replay__bound_drops_oldest_and_says_how_many(void **state)
{
    (void)state;
    log_replay_stats before = stats();
    char *path = ts_log_to_file("replay_bound.log");
    enum { N = 200 };
    {
        CTX_REQUEST("r-bound", NULL, NULL);
        LOG_CONTEXT_REPLAY(LOG_LEVEL_DEBUG, 1024);
        for (int i = 0; i < N; i++)
            log_debug_kv("kept", LOG_I64("seq", i));
        char big[2048];
        memset(big, 'x', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        log_debug_kv("too big", LOG_STR("big", big)); /* never fits */
        assert_true(stats().peak_buffer <= 1024);
        log_error("boom");
    }
    log_replay_stats after = stats();
    json_t *recs = ts_log_collect(path);
    size_t n = json_array_size(recs);
    assert_true(n >= 3);
    /* The note, then the newest records that fit, in order, then the error. */
    const json_t *note = json_array_get(recs, 0);
    assert_string_equal(str_of(note, "msg"), "replay: older records dropped");
    assert_string_equal(str_of(note, "level"), "error");
    assert_true(json_is_true(json_object_get(note, "replayed")));
    json_int_t dropped = int_of(note, "replay_dropped");
    size_t kept = n - 2;
    assert_int_equal((size_t)dropped + kept, N + 1);
    for (size_t i = 0; i < kept; i++) {
        const json_t *r = json_array_get(recs, 1 + i);
        assert_int_equal(int_of(r, "seq"), (json_int_t)(N - kept + i));
        assert_true(json_is_true(json_object_get(r, "replayed")));
    }
    assert_string_equal(str_of(json_array_get(recs, n - 1), "msg"), "boom");
    assert_int_equal(after.dropped - before.dropped, (uint64_t)dropped);
    assert_int_equal(after.replayed - before.replayed, kept);
    assert_true(after.peak_buffer <= 1024);
    json_decref(recs);
}

static void test_replay__user_field_named_replayed_is_renamed(void **state)
{
    (void)state;
    char *path = ts_log_to_file("replay_collide.log");
    {
        CTX_REQUEST("r-c", NULL, NULL);
        LOG_CONTEXT_REPLAY(LOG_LEVEL_DEBUG, 4096);
        log_debug_kv("d", LOG_STR("replayed", "mine"));
        log_error("e");
    }
    json_t *recs = ts_log_collect(path); /* duplicate keys would fail here */
    assert_int_equal(json_array_size(recs), 2);
    const json_t *r = json_array_get(recs, 0);
    assert_true(json_is_true(json_object_get(r, "replayed")));
    /* The user's value is kept under the renamed key (README "Key collisions"). */
    assert_string_equal(str_of(r, "fields.replayed"), "mine");
    json_decref(recs);
}

static void *thread_logs(void *arg)
{
    log_debug_kv("from thread", LOG_I64("seq", (int64_t)(intptr_t)arg));
    return NULL;
}

static void task_logs(void *arg)
{
    log_debug_kv("from task", LOG_I64("seq", (int64_t)(intptr_t)arg));
}

static void bound_logs(void *arg)
{
    log_debug_kv("from callback", LOG_I64("seq", (int64_t)(intptr_t)arg));
    log_error("failed in a callback");
}

static void test_replay__threads_tasks_and_callbacks_share_the_buffer(void **state)
{
    (void)state;
    char *path = ts_log_to_file("replay_share.log");
    ctx_pool *pool = ctx_pool_new(2);
    assert_non_null(pool);
    ctx_bound *b;
    {
        CTX_REQUEST("r-share", NULL, NULL);
        LOG_CONTEXT_REPLAY(LOG_LEVEL_DEBUG, 65536);
        log_debug_kv("entry", LOG_I64("seq", 0));
        pthread_t t;
        assert_int_equal(ctx_thread_create(&t, NULL, thread_logs, (void *)1), 0);
        pthread_join(t, NULL);
        assert_int_equal(ctx_pool_submit(pool, task_logs, (void *)2), 0);
        ctx_pool_free(pool); /* runs the task, joins */
        b = ctx_bind(bound_logs, (void *)3);
        assert_non_null(b);
    }
    {
        CTX_REQUEST("r-other", NULL, NULL);
        log_debug("another request's: dropped");
    }
    /* The request's scope is over, its callback is not: the callback's
     * snapshot holds the buffer, and its error replays it. */
    ctx_bound_run(b);
    json_t *recs = ts_log_collect(path);
    assert_int_equal(json_array_size(recs), 5);
    const char *msgs[] = {"entry", "from thread", "from task", "from callback",
                          "failed in a callback"};
    for (size_t i = 0; i < 5; i++) {
        const json_t *r = json_array_get(recs, i);
        assert_string_equal(str_of(r, "msg"), msgs[i]);
        assert_string_equal(str_of(r, "request_id"), "r-share");
        if (i < 4)
            assert_int_equal(int_of(r, "seq"), (json_int_t)i);
        assert_int_equal(json_is_true(json_object_get(r, "replayed")), i < 4);
    }
    json_decref(recs);
}

static void test_replay__ends_with_its_scope_not_the_request(void **state)
{
    (void)state;
    char *path = ts_log_to_file("replay_scope.log");
    {
        CTX_REQUEST("r-s", NULL, NULL);
        {
            LOG_CONTEXT_REPLAY(LOG_LEVEL_DEBUG, 4096);
            log_debug("kept, then discarded with the scope");
        }
        log_debug("not kept: no replay any more");
        log_error("no replay");
    }
    json_t *recs = ts_log_collect(path);
    assert_int_equal(json_array_size(recs), 1);
    assert_string_equal(str_of(json_array_get(recs, 0), "msg"), "no replay");
    json_decref(recs);
}

static void test_replay__bad_arguments_keep_nothing(void **state)
{
    (void)state;
    log_replay_stats before = stats();
    ctx_token t = log_context_replay(LOG_LEVEL_ERROR, 4096);
    assert_int_equal(ctx_reset(t), CTXLOG_EINVAL);
    t = log_context_replay(LOG_LEVEL_DEBUG, 10);
    assert_int_equal(ctx_reset(t), CTXLOG_EINVAL);
    t = log_context_replay((log_level)-5, 4096);
    assert_int_equal(ctx_reset(t), CTXLOG_EINVAL);
    t = log_context_replay(LOG_LEVEL_DEBUG, (size_t)1 << 31);
    assert_int_equal(ctx_reset(t), CTXLOG_EINVAL);
    assert_int_equal(stats().buffers, before.buffers);
    assert_int_equal(log_replay_defaults_set(LOG_LEVEL_FATAL, 4096), CTXLOG_EINVAL);
    assert_int_equal(log_replay_defaults_set(LOG_LEVEL_DEBUG, 1), CTXLOG_EINVAL);
    log_replay_stats_get(NULL); /* does nothing */
}

static void test_replay__defaults_decide_what_the_default_call_does(void **state)
{
    (void)state;
    log_replay_stats before = stats();
    assert_int_equal(log_replay_defaults_set(LOG_LEVEL_OFF, 0), 0);
    {
        LOG_CONTEXT_REPLAY_DEFAULT();
        assert_int_equal(stats().buffers, before.buffers); /* off: nothing */
    }
    assert_int_equal(log_replay_defaults_set(LOG_LEVEL_DEBUG, 8192), 0);
    char *path = ts_log_to_file("replay_default.log");
    {
        CTX_REQUEST("r-d", NULL, NULL);
        LOG_CONTEXT_REPLAY_DEFAULT();
        assert_int_equal(stats().buffers, before.buffers + 1);
        log_debug("kept");
        log_error("e");
    }
    assert_int_equal(log_replay_defaults_set(LOG_LEVEL_OFF, 0), 0);
    json_t *recs = ts_log_collect(path);
    assert_int_equal(json_array_size(recs), 2);
    assert_true(json_is_true(json_object_get(json_array_get(recs, 0), "replayed")));
    json_decref(recs);
}

static log_filter_result drop_secret(log_record *rec, void *payload)
{
    (void)payload;
    for (size_t i = 0; i < rec->n_fields; i++)
        if (strcmp(rec->fields[i].key, "secret") == 0)
            return LOG_FILTER_DROP;
    return LOG_FILTER_KEEP;
}

/* A kept record is the record the sinks would get: filters run on it (a
 * dropped one is not kept), a child logger's bound fields are on it. */
static void test_replay__filters_and_bound_fields_apply_to_kept_records(void **state)
{
    (void)state;
    char *path = ts_log_to_file("replay_filters.log");
    log_logger *app = log_get("app.replay");
    assert_non_null(app);
    assert_int_equal(log_logger_add_filter(app, drop_secret, NULL), 0);
    log_logger *child = LOG_CHILD(app, LOG_STR("component", "db"));
    assert_non_null(child);
    {
        CTX_REQUEST("r-f", NULL, NULL);
        LOG_CONTEXT_REPLAY(LOG_LEVEL_DEBUG, 4096);
        log_debug_kv_to(child, "bound", LOG_I64("seq", 0));
        log_debug_kv_to(app, "filtered out", LOG_STR("secret", "pw"));
        log_error_to(app, "e");
    }
    log_logger_free(child);
    assert_int_equal(log_logger_clear_filters(app), 0);
    json_t *recs = ts_log_collect(path);
    assert_int_equal(json_array_size(recs), 2);
    const json_t *r = json_array_get(recs, 0);
    assert_string_equal(str_of(r, "msg"), "bound");
    assert_string_equal(str_of(r, "logger"), "app.replay");
    assert_string_equal(str_of(r, "component"), "db");
    assert_true(json_is_true(json_object_get(r, "replayed")));
    assert_string_equal(str_of(json_array_get(recs, 1), "msg"), "e");
    json_decref(recs);
}

/* A route with a JSON file and a syslog sink: the file gets the replay, the
 * syslog sink (which builds a message of each record) only the error, in
 * one message of one record. */
static void test_replay__pipeline_sinks_get_the_error_alone(void **state)
{
    (void)state;
    unsigned uport;
    int u = ts_loopback_socket(SOCK_DGRAM, &uport);
    char *path = ts_log_to_file("replay_pipeline.log");
    log_syslog_options o = {.transport = LOG_SYSLOG_UDP, .port = uport};
    log_sink *sl = NULL;
    assert_int_equal(log_sink_syslog(&sl, &o), 0);
    assert_int_equal(log_logger_add_sink(NULL, sl), 0);
    log_sink_release(sl);
    {
        CTX_REQUEST("r-p", NULL, NULL);
        LOG_CONTEXT_REPLAY(LOG_LEVEL_DEBUG, 65536);
        log_debug_kv("d", LOG_I64("seq", 0));
        log_debug_kv("d", LOG_I64("seq", 1));
        log_error_kv("e", LOG_I64("seq", 2));
    }
    json_t *recs = ts_log_collect(path);
    assert_int_equal(json_array_size(recs), 3);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(int_of(json_array_get(recs, i), "seq"), (json_int_t)i);
    json_decref(recs);
    char buf[4096];
    ssize_t n = recv(u, buf, sizeof buf - 1, MSG_DONTWAIT);
    assert_true(n > 0);
    buf[n] = '\0';
    const char *msg = strchr(buf, '{'); /* MSG, after the header and SD */
    assert_non_null(msg);
    json_error_t err;
    json_t *rec = json_loads(msg, JSON_REJECT_DUPLICATES, &err);
    assert_non_null(rec);
    assert_string_equal(str_of(rec, "msg"), "e");
    assert_null(json_object_get(rec, "replayed"));
    json_decref(rec);
    assert_int_equal(recv(u, buf, sizeof buf, MSG_DONTWAIT), -1); /* nothing else */
    close(u);
}

static void drop_record(const log_record *rec, const char *text, size_t len, void *payload)
{
    (void)rec, (void)text, (void)len, (void)payload;
}

/* Only a callback sink on the root: no sink that takes a replay. */
static void route_to_callback(void)
{
    assert_int_equal(log_logger_clear_sinks(NULL), 0);
    log_sink *cb = log_sink_callback(drop_record, NULL);
    assert_non_null(cb);
    assert_int_equal(log_logger_add_sink(NULL, cb), 0);
    log_sink_release(cb);
}

static void assert_stats_balance(const log_replay_stats *st)
{
    assert_int_equal(st->buffers, 0);
    assert_int_equal(st->kept, st->replayed + st->dropped + st->discarded);
}

/* The sinks change between what a request kept and its error: the new
 * route has no sink that takes a replay, so the kept records are lost;
 * they are counted as dropped, and the counters still add up. */
static void test_replay__counts_add_up_when_the_route_changes(void **state)
{
    (void)state;
    char *path = ts_log_to_file("replay_route_change.log");
    log_replay_stats before = stats();
    assert_stats_balance(&before);
    {
        CTX_REQUEST("r-rc", NULL, NULL);
        LOG_CONTEXT_REPLAY(LOG_LEVEL_DEBUG, 65536);
        log_debug("d1");
        log_debug("d2");
        route_to_callback();
        log_error("e"); /* no sink takes the two kept records */
    }
    log_replay_stats after = stats();
    assert_int_equal(after.kept - before.kept, 2);
    assert_int_equal(after.dropped - before.dropped, 2);
    assert_int_equal(after.replayed, before.replayed);
    assert_stats_balance(&after);
    log_shutdown();
    ts_unlink(path);
    free(path);
}

/*
 * Requests keep, replay and discard records on several threads while
 * another switches the root's sinks between a file and a callback: every
 * reading of the counters has kept >= replayed + dropped + discarded (the
 * difference is what live buffers hold), and once every request has ended
 * they are equal.
 */
#if defined(__SANITIZE_THREAD__)
#define CHURN_REQUESTS 300
#else
#define CHURN_REQUESTS 3000
#endif
#define CHURN_THREADS 3

static atomic_int churning;

static void *churn_requests(void *arg)
{
    intptr_t t = (intptr_t)arg;
    for (int n = 0; n < CHURN_REQUESTS; n++) {
        char rid[32];
        snprintf(rid, sizeof rid, "c-%d-%d", (int)t, n);
        CTX_REQUEST(rid, NULL, NULL);
        LOG_CONTEXT_REPLAY(LOG_LEVEL_DEBUG, 512);
        for (int i = 0; i < 1 + n % 7; i++)
            log_debug_kv("d", LOG_I64("seq", i)); /* 512 bytes: some dropped */
        if (n % 3 == 0)
            log_error("e");
    }
    return NULL;
}

static void *read_stats(void *arg)
{
    (void)arg;
    long bad = 0;
    while (atomic_load(&churning)) {
        log_replay_stats st = stats();
        if (st.kept < st.replayed + st.dropped + st.discarded)
            bad++;
    }
    return (void *)bad;
}

static void test_replay__counts_add_up_across_sink_changes(void **state)
{
    (void)state;
    char *path = ts_log_to_file("replay_churn.log");
    atomic_store(&churning, 1);
    pthread_t th[CHURN_THREADS], reader;
    for (intptr_t i = 0; i < CHURN_THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, churn_requests, (void *)i), 0);
    assert_int_equal(pthread_create(&reader, NULL, read_stats, NULL), 0);
    for (int i = 0; i < 200; i++) {
        route_to_callback();
        assert_int_equal(log_output_set(path), 0);
    }
    for (int i = 0; i < CHURN_THREADS; i++)
        pthread_join(th[i], NULL);
    atomic_store(&churning, 0);
    void *bad;
    pthread_join(reader, &bad);
    assert_int_equal((intptr_t)bad, 0);
    log_replay_stats st = stats();
    print_message("kept=%llu replayed=%llu dropped=%llu discarded=%llu\n",
                  (unsigned long long)st.kept, (unsigned long long)st.replayed,
                  (unsigned long long)st.dropped, (unsigned long long)st.discarded);
    assert_stats_balance(&st);
    log_shutdown();
    ts_unlink(path);
    free(path);
}

/* Through the background writer: the replay is queued in one piece before
 * the error, from the thread that logs the error. Last: it leaves async
 * mode on. */
static void test_replay__async_mode_keeps_the_order(void **state)
{
    (void)state;
    char *path = ts_temp_path("replay_async.log");
    ts_unlink(path);
    setenv("CTXLOG_OUTPUT", path, 1);
    setenv("CTXLOG_ASYNC", "1", 1);
    setenv("CTXLOG_LEVEL", "info", 1);
    assert_int_equal(log_configure_env(), 0);
    enum { N = 50 };
    for (int req = 0; req < 3; req++) {
        char rid[16];
        snprintf(rid, sizeof rid, "a-%d", req);
        CTX_REQUEST(rid, NULL, NULL);
        LOG_CONTEXT_REPLAY(LOG_LEVEL_DEBUG, 65536);
        for (int i = 0; i < N; i++)
            log_debug_kv("d", LOG_I64("seq", i));
        if (req != 1)
            log_error_kv("e", LOG_I64("seq", N));
    }
    unsetenv("CTXLOG_OUTPUT");
    unsetenv("CTXLOG_ASYNC");
    unsetenv("CTXLOG_LEVEL");
    json_t *recs = ts_log_collect(path);
    assert_int_equal(json_array_size(recs), 2 * (N + 1));
    for (size_t i = 0; i < json_array_size(recs); i++) {
        const json_t *r = json_array_get(recs, i);
        size_t k = i % (N + 1);
        assert_string_equal(str_of(r, "request_id"), i < N + 1 ? "a-0" : "a-2");
        assert_int_equal(int_of(r, "seq"), (json_int_t)k);
        assert_int_equal(json_is_true(json_object_get(r, "replayed")), k < N);
    }
    json_decref(recs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay__error_writes_kept_records_first_marked),
        cmocka_unit_test(test_replay__request_without_error_writes_nothing_kept),
        cmocka_unit_test(test_replay__other_requests_are_untouched),
        cmocka_unit_test(test_replay__bound_drops_oldest_and_says_how_many),
        cmocka_unit_test(test_replay__user_field_named_replayed_is_renamed),
        cmocka_unit_test(test_replay__threads_tasks_and_callbacks_share_the_buffer),
        cmocka_unit_test(test_replay__ends_with_its_scope_not_the_request),
        cmocka_unit_test(test_replay__bad_arguments_keep_nothing),
        cmocka_unit_test(test_replay__defaults_decide_what_the_default_call_does),
        cmocka_unit_test(test_replay__filters_and_bound_fields_apply_to_kept_records),
        cmocka_unit_test(test_replay__pipeline_sinks_get_the_error_alone),
        cmocka_unit_test(test_replay__counts_add_up_when_the_route_changes),
        cmocka_unit_test(test_replay__counts_add_up_across_sink_changes),
        cmocka_unit_test(test_replay__async_mode_keeps_the_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
