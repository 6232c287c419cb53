/* SPDX-License-Identifier: MIT */
/* Users' own transports (log_sink_custom): a memory sink written here
 * through the public interface alone collects the batches it is given;
 * every line is parsed back with jansson. Records from several threads
 * arrive once each, whole, in each thread's order, in sync and async mode;
 * log_flush(), log_reopen() and releasing the sink call its operations;
 * failed writes are counted and reported once; bad arguments are refused. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include <ctxlog/ctxlog.h>

#include "log/log_internal.h"
#include "support.h"

/* The child of the fork test starts a writer thread: allowed. */
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
    return "die_after_fork=0";
}

/* ---- the memory sink ------------------------------------------------------------------ */

/* Each test keeps its memory sink's state in static storage: when a failed
 * assertion ends a test early, the sink still points to it until the
 * teardown's log_shutdown() releases it. */
typedef struct mem {
    pthread_mutex_t lock; /* the test thread reads while the library writes */
    char *data;
    size_t len, cap;
    unsigned writes, flushes, reopens, closes;
    unsigned split_batches; /* batches not ending with a whole line */
    size_t lines_at_flush, lines_at_reopen, lines_at_close;
    int fail;               /* write returns this when non-zero */
    int reopen_fail;        /* reopen returns this */
    int flush_fail;         /* flush returns this */
    int log_inside;         /* write logs a record of its own */
} mem;

static size_t lines_of(const char *p, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += p[i] == '\n';
    return n;
}

static int mem_write(void *state, const char *lines, size_t len)
{
    mem *m = state;
    if (m->log_inside)
        log_info("from inside the sink"); /* must be dropped, not deadlock */
    pthread_mutex_lock(&m->lock);
    m->writes++;
    if (len == 0 || lines[len - 1] != '\n')
        m->split_batches++;
    int fail = m->fail;
    if (!fail) {
        if (m->len + len + 1 > m->cap) {
            size_t cap = (m->len + len + 1) * 2;
            char *p = realloc(m->data, cap);
            assert_non_null(p);
            m->data = p;
            m->cap = cap;
        }
        memcpy(m->data + m->len, lines, len);
        m->len += len;
        m->data[m->len] = '\0';
    }
    pthread_mutex_unlock(&m->lock);
    return fail;
}

static int mem_flush(void *state)
{
    mem *m = state;
    pthread_mutex_lock(&m->lock);
    m->flushes++;
    m->lines_at_flush = lines_of(m->data, m->len);
    int fail = m->flush_fail;
    pthread_mutex_unlock(&m->lock);
    return fail;
}

static int mem_reopen(void *state)
{
    mem *m = state;
    pthread_mutex_lock(&m->lock);
    m->reopens++;
    m->lines_at_reopen = lines_of(m->data, m->len);
    int rc = m->reopen_fail;
    pthread_mutex_unlock(&m->lock);
    return rc;
}

static void mem_close(void *state)
{
    mem *m = state;
    pthread_mutex_lock(&m->lock);
    m->closes++;
    m->lines_at_close = lines_of(m->data, m->len);
    pthread_mutex_unlock(&m->lock);
}

static void mem_init(mem *m)
{
    memset(m, 0, sizeof *m);
    pthread_mutex_init(&m->lock, NULL);
}

static void mem_free(mem *m)
{
    free(m->data);
    pthread_mutex_destroy(&m->lock);
}

static log_sink *mem_sink(mem *m)
{
    log_sink_ops ops = LOG_SINK_OPS_INIT;
    ops.write = mem_write;
    ops.flush = mem_flush;
    ops.reopen = mem_reopen;
    ops.close = mem_close;
    log_sink *s = NULL;
    assert_int_equal(log_sink_custom(&s, &ops, m), 0);
    assert_non_null(s);
    return s;
}

/* The root's only sink: `m`. The root keeps the reference. */
static void use_mem(mem *m)
{
    log_sink *s = mem_sink(m);
    assert_int_equal(log_logger_clear_sinks(NULL), 0);
    assert_int_equal(log_logger_add_sink(NULL, s), 0);
    log_sink_release(s);
}

/* Every line collected, parsed (each must be a JSON object); the caller
 * owns the array. */
static json_t *mem_records(mem *m)
{
    json_t *all = json_array();
    pthread_mutex_lock(&m->lock);
    assert_int_equal(m->split_batches, 0);
    const char *p = m->data, *end = m->data + m->len;
    while (p && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        assert_non_null(nl); /* whole lines only */
        json_error_t e;
        json_t *r = json_loadb(p, (size_t)(nl - p), JSON_REJECT_DUPLICATES, &e);
        if (!r)
            fail_msg("not JSON: %.*s (%s)", (int)(nl - p), p, e.text);
        assert_true(json_is_object(r));
        json_array_append_new(all, r);
        p = nl + 1;
    }
    pthread_mutex_unlock(&m->lock);
    return all;
}

static size_t mem_lines(mem *m)
{
    pthread_mutex_lock(&m->lock);
    size_t n = lines_of(m->data, m->len);
    pthread_mutex_unlock(&m->lock);
    return n;
}

/* ---- set-up ------------------------------------------------------------------------------ */

static int setup(void **state)
{
    (void)state;
    log_shutdown();
    log_level_set(LOG_LEVEL_TRACE);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    (void)log__async_set(false, 0, false);
    log_shutdown();
    log_level_set(LOG_LEVEL_INFO);
    return 0;
}

/* ---- records from several threads --------------------------------------------------------- */

#define THREADS 4
#define PER_THREAD 5000

static void *writer(void *arg)
{
    long t = (long)(intptr_t)arg;
    for (long i = 0; i < PER_THREAD; i++)
        log_info_kv("custom", LOG_I64("t", t), LOG_I64("i", i));
    return NULL;
}

/* Every thread's records once each, whole, in the order it logged them. */
static void threads_case(int async)
{
    static mem m;
    mem_init(&m);
    use_mem(&m);
    if (async)
        assert_int_equal(log__async_set(true, 0, false), 0);
    pthread_t th[THREADS];
    for (long t = 0; t < THREADS; t++)
        assert_int_equal(pthread_create(&th[t], NULL, writer, (void *)(intptr_t)t), 0);
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    assert_int_equal(log_flush(), 0);

    json_t *recs = mem_records(&m);
    assert_int_equal(json_array_size(recs), THREADS * PER_THREAD);
    long next[THREADS] = {0};
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r) {
        assert_string_equal(json_string_value(json_object_get(r, "msg")), "custom");
        json_int_t t = json_integer_value(json_object_get(r, "t"));
        assert_true(t >= 0 && t < THREADS);
        assert_int_equal(json_integer_value(json_object_get(r, "i")), next[t]);
        next[t]++;
    }
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(next[t], PER_THREAD);
    json_decref(recs);
    log_shutdown();
    assert_int_equal(m.closes, 1);
    mem_free(&m);
}

static void test_sink_custom__sync_threads_each_record_once_in_order(void **state)
{
    (void)state;
    threads_case(0);
}

static void test_sink_custom__async_threads_each_record_once_in_order(void **state)
{
    (void)state;
    threads_case(1);
}

/* ---- flush, reopen, close ------------------------------------------------------------------ */

static void test_sink_custom__flush_delivers_everything_then_calls_flush(void **state)
{
    (void)state;
    static mem m;
    mem_init(&m);
    use_mem(&m);
    for (int i = 0; i < 100; i++)
        log_info_kv("flushed", LOG_I64("i", i));
    assert_int_equal(log_flush(), 0);
    /* Delivered before log_flush() returned, and before flush was called. */
    assert_int_equal(mem_lines(&m), 100);
    assert_int_equal(m.flushes, 1);
    assert_int_equal(m.lines_at_flush, 100);
    assert_int_equal(m.writes >= 1, 1);
    json_t *recs = mem_records(&m);
    for (size_t i = 0; i < json_array_size(recs); i++)
        assert_int_equal(json_integer_value(json_object_get(json_array_get(recs, i), "i")),
                         (json_int_t)i);
    json_decref(recs);
    /* A transport that cannot make them durable: log_flush() says so. */
    m.flush_fail = EIO;
    log_info("not durable");
    assert_int_equal(log_flush(), CTXLOG_EIO);
    assert_int_equal(m.flushes, 2);
    assert_int_equal(mem_lines(&m), 101);
    log_shutdown();
    mem_free(&m);
}

static void test_sink_custom__reopen_after_what_was_logged_before(void **state)
{
    (void)state;
    static mem m;
    mem_init(&m);
    use_mem(&m);
    for (int i = 0; i < 10; i++)
        log_info("before reopen");
    assert_int_equal(log_reopen(), 0);
    assert_int_equal(m.reopens, 1);
    assert_int_equal(m.lines_at_reopen, 10); /* the older records first */
    log_info("after reopen");
    assert_int_equal(log_flush(), 0);
    assert_int_equal(mem_lines(&m), 11);
    assert_int_equal(m.reopens, 1);

    /* A failed reopen is the caller's to know. */
    m.reopen_fail = EACCES;
    ts_capture cap = ts_capture_begin(2, "/dev/null");
    assert_int_equal(log_reopen(), CTXLOG_EIO);
    ts_capture_end(&cap);
    assert_int_equal(m.reopens, 2);
    m.reopen_fail = 0;
    log_shutdown();
    mem_free(&m);
}

static void test_sink_custom__reopen_request_before_newer_records(void **state)
{
    (void)state;
    static mem m;
    mem_init(&m);
    use_mem(&m);
    log_info("old");
    log_reopen_request(); /* as from a SIGHUP handler */
    log_info("new");
    assert_int_equal(log_flush(), 0);
    assert_int_equal(m.reopens, 1);
    assert_int_equal(m.lines_at_reopen, 1); /* "old" before it, "new" after */
    json_t *recs = mem_records(&m);
    assert_int_equal(json_array_size(recs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(recs, 1), "msg")),
                        "new");
    json_decref(recs);
    log_shutdown();
    mem_free(&m);
}

static void test_sink_custom__close_once_when_the_last_reference_goes(void **state)
{
    (void)state;
    static mem m;
    mem_init(&m);
    log_sink *s = mem_sink(&m);
    assert_int_equal(log_logger_add_sink(NULL, s), 0);
    assert_int_equal(log_logger_add_sink(log_get("app.custom"), s), 0);
    log_sink_release(s); /* the loggers still hold it */
    assert_int_equal(log_logger_set_additive(log_get("app.custom"), false), 0);
    log_info("one");
    log_info_to(log_get("app.custom"), "two");
    assert_int_equal(log_logger_set_additive(log_get("app.custom"), true), 0);
    assert_int_equal(m.closes, 0);
    assert_int_equal(log_logger_clear_sinks(NULL), 0);
    assert_int_equal(m.closes, 0); /* app.custom still holds it */
    assert_int_equal(log_logger_clear_sinks(log_get("app.custom")), 0);
    assert_int_equal(m.closes, 1);
    assert_int_equal(m.lines_at_close, 2); /* everything written before close */
    log_shutdown();
    assert_int_equal(m.closes, 1);
    mem_free(&m);

    /* A sink never attached. */
    mem_init(&m);
    s = mem_sink(&m);
    log_sink_release(s);
    assert_int_equal(m.closes, 1);
    assert_int_equal(m.writes, 0);
    mem_free(&m);
}

/* ---- fork() ------------------------------------------------------------------------------------ */

/* The child writes its own records only: what the parent had buffered is
 * the parent's to write (else it would be written twice). */
static void test_sink_custom__fork_child_writes_only_its_own(void **state)
{
    (void)state;
    static mem m;
    mem_init(&m);
    use_mem(&m);
    for (int i = 0; i < 20; i++)
        log_info("parent before fork");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* What the parent's background thread may have written already is
         * in this copy of the sink's memory: count from here. */
        size_t at_fork = m.len;
        log_info("child");
        (void)log_flush();
        pthread_mutex_lock(&m.lock);
        int ok = lines_of(m.data + at_fork, m.len - at_fork) == 1 &&
                 strstr(m.data + at_fork, "\"child\"") != NULL;
        pthread_mutex_unlock(&m.lock);
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    log_info("parent after fork");
    assert_int_equal(log_flush(), 0);
    json_t *recs = mem_records(&m);
    assert_int_equal(json_array_size(recs), 21);
    assert_string_equal(json_string_value(json_object_get(json_array_get(recs, 20), "msg")),
                        "parent after fork");
    json_decref(recs);
    log_shutdown();
    mem_free(&m);
}

/* ---- replay on error ------------------------------------------------------------------------ */

/* A custom sink with the JSON formatter gets the request's kept records
 * when it logs an error, like a file sink. */
static void test_sink_custom__gets_replay_on_error(void **state)
{
    (void)state;
    static mem m;
    mem_init(&m);
    use_mem(&m);
    log_level_set(LOG_LEVEL_INFO);
    {
        CTX_REQUEST("replay-req", NULL, NULL);
        ctx_token t = log_context_replay(LOG_LEVEL_DEBUG, 4096);
        log_debug("kept");
        log_error("failed");
        ctx_reset(t);
    }
    assert_int_equal(log_flush(), 0);
    json_t *recs = mem_records(&m);
    assert_int_equal(json_array_size(recs), 2);
    json_t *kept = json_array_get(recs, 0);
    assert_string_equal(json_string_value(json_object_get(kept, "msg")), "kept");
    assert_true(json_is_true(json_object_get(kept, "replayed")));
    assert_string_equal(json_string_value(json_object_get(kept, "request_id")), "replay-req");
    assert_string_equal(json_string_value(json_object_get(json_array_get(recs, 1), "msg")),
                        "failed");
    json_decref(recs);
    log_shutdown();
    mem_free(&m);
}

/* ---- failures --------------------------------------------------------------------------------- */

static int count_of(const char *text, const char *what)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, what)) != NULL; p += strlen(what))
        n++;
    return n;
}

static void test_sink_custom__failed_writes_counted_and_reported_once(void **state)
{
    (void)state;
    char *err = ts_temp_path("custom.err");
    static mem m;
    mem_init(&m);
    m.fail = EPIPE;
    use_mem(&m);
    uint64_t before = log_dropped_count();
    ts_capture cap = ts_capture_begin(2, err);
    for (int i = 0; i < 37; i++)
        log_info_kv("lost", LOG_I64("i", i));
    /* Accepted records were lost: the flush says so. */
    assert_int_equal(log_flush(), CTXLOG_EIO);
    log_error("lost too"); /* written at once: a batch of its own */
    assert_int_equal(log_flush(), CTXLOG_EIO);
    ts_capture_end(&cap);
    assert_int_equal(log_dropped_count() - before, 38);
    assert_true(m.writes >= 2);
    assert_int_equal(m.len, 0);
    char *text = ts_read_file(err, NULL);
    assert_non_null(text);
    assert_int_equal(count_of(text, "cannot write to custom sink"), 1);
    free(text);
    log_shutdown();
    mem_free(&m);
    ts_unlink(err);
    free(err);
}

static void test_sink_custom__records_logged_inside_are_dropped(void **state)
{
    (void)state;
    static mem m;
    mem_init(&m);
    m.log_inside = 1;
    use_mem(&m);
    uint64_t before = log_dropped_count();
    log_error("outside"); /* urgent: written at once, on this thread */
    assert_int_equal(log_flush(), 0);
    assert_int_equal(m.writes, 1);
    assert_int_equal(log_dropped_count() - before, 1);
    json_t *recs = mem_records(&m);
    assert_int_equal(json_array_size(recs), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(recs, 0), "msg")),
                        "outside");
    json_decref(recs);
    log_shutdown();
    mem_free(&m);
}

static void test_sink_custom__invalid_arguments(void **state)
{
    (void)state;
    static mem m;
    mem_init(&m);
    log_sink_ops ops = LOG_SINK_OPS_INIT;
    log_sink *s = (log_sink *)&m; /* set to NULL on error */
    assert_int_equal(log_sink_custom(NULL, &ops, &m), CTXLOG_EINVAL);
    assert_int_equal(log_sink_custom(&s, NULL, &m), CTXLOG_EINVAL);
    assert_null(s);
    assert_int_equal(log_sink_custom(&s, &ops, &m), CTXLOG_EINVAL); /* no write */
    ops.write = mem_write;
    ops.close = mem_close;
    ops.version = 0;
    assert_int_equal(log_sink_custom(&s, &ops, &m), CTXLOG_EINVAL);
    ops.version = LOG_SINK_OPS_VERSION + 1;
    assert_int_equal(log_sink_custom(&s, &ops, &m), CTXLOG_EINVAL);
    assert_null(s);
    assert_int_equal(m.closes, 0); /* the caller keeps its state */
    ops.version = LOG_SINK_OPS_VERSION;
    assert_int_equal(log_sink_custom(&s, &ops, &m), 0);
    log_sink_release(s);
    assert_int_equal(m.closes, 1);
    /* A program built against version 1 (no fork member) still works. */
    ops.version = 1;
    assert_int_equal(log_sink_custom(&s, &ops, &m), 0);
    log_sink_release(s);
    assert_int_equal(m.closes, 2);
    mem_free(&m);
}

static int fork_phases[3];
static void count_fork(void *state, log_fork_phase phase)
{
    (void)state;
    fork_phases[phase]++;
}

/* The fork op is called in every phase, in both processes. */
static void test_sink_custom__fork_op_in_every_phase(void **state)
{
    (void)state;
    static mem m;
    mem_init(&m);
    log_sink_ops ops = LOG_SINK_OPS_INIT;
    ops.write = mem_write;
    ops.close = mem_close;
    ops.fork = count_fork;
    log_sink *s = NULL;
    assert_int_equal(log_sink_custom(&s, &ops, &m), 0);
    memset(fork_phases, 0, sizeof fork_phases);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(fork_phases[LOG_FORK_PREPARE] == 1 && fork_phases[LOG_FORK_CHILD] == 1 &&
                      fork_phases[LOG_FORK_PARENT] == 0
                  ? 0
                  : 1);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_int_equal(fork_phases[LOG_FORK_PREPARE], 1);
    assert_int_equal(fork_phases[LOG_FORK_PARENT], 1);
    assert_int_equal(fork_phases[LOG_FORK_CHILD], 0);
    log_sink_release(s);
    mem_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sink_custom__fork_op_in_every_phase),
        cmocka_unit_test_setup_teardown(test_sink_custom__sync_threads_each_record_once_in_order,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_sink_custom__async_threads_each_record_once_in_order,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_sink_custom__flush_delivers_everything_then_calls_flush,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_sink_custom__reopen_after_what_was_logged_before,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_sink_custom__reopen_request_before_newer_records,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_sink_custom__close_once_when_the_last_reference_goes,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_sink_custom__fork_child_writes_only_its_own, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sink_custom__failed_writes_counted_and_reported_once,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_sink_custom__records_logged_inside_are_dropped,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_sink_custom__invalid_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sink_custom__gets_replay_on_error, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
