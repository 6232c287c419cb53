/* SPDX-License-Identifier: MIT */
/*
 * Async mode and buffered output: nothing lost with "block", drops counted
 * exactly with "drop", log_flush() waits for the queue, per-thread order,
 * fork(), the crash handler, and when buffered records reach the file.
 * Every line is parsed back with jansson (duplicate keys rejected).
 *
 * CTXLOG_STRESS_RECORDS sets the records per thread of the loss test
 * (default 250,000: 4 threads x 250,000 = 1,000,000 records).
 */
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include <ctxlog/config.h>
#include <ctxlog/ctxlog.h>

#include "log/log_internal.h"
#include "support.h"

/* The child of the fork tests starts a writer thread: allowed. */
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
    return "die_after_fork=0";
}

#define THREADS 4

static char *out_path;

static int setup(void **state)
{
    (void)state;
    out_path = ts_temp_path("async.log");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    (void)log__async_set(false, 0, false);
    log_shutdown();
    ts_unlink(out_path);
    free(out_path);
    out_path = NULL;
    return 0;
}

/* Make `s` (a fresh file sink on out_path) the root's only sink. */
static log_sink *file_sink(const log_file_options *opts)
{
    log_sink *s = NULL;
    assert_int_equal(log_sink_file(&s, out_path, opts), 0);
    assert_int_equal(log_logger_clear_sinks(NULL), 0);
    assert_int_equal(log_logger_add_sink(NULL, s), 0);
    log_level_set(LOG_LEVEL_INFO);
    return s; /* the caller's reference */
}

/* Calls fn(record, arg) for every line of `path`, each parsed with
 * jansson; fails on a line that is not one JSON object. Returns the lines;
 * *size (when not NULL) gets the file's size. */
static size_t each_record_in(const char *path, void (*fn)(json_t *rec, void *arg), void *arg,
                             size_t *size)
{
    size_t len = 0, lines = 0;
    char *text = ts_read_file(path, &len);
    assert_non_null(text);
    if (size)
        *size = len;
    for (char *p = text, *end = text + len; p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        assert_non_null(nl); /* every record ends with '\n' */
        json_error_t err;
        json_t *rec = json_loadb(p, (size_t)(nl - p), JSON_REJECT_DUPLICATES, &err);
        if (!json_is_object(rec))
            fail_msg("line %zu is not a JSON object: %s", lines + 1, err.text);
        fn(rec, arg);
        json_decref(rec);
        lines++;
        p = nl + 1;
    }
    free(text);
    return lines;
}

/* The same for out_path. */
static size_t each_record(void (*fn)(json_t *rec, void *arg), void *arg)
{
    return each_record_in(out_path, fn, arg, NULL);
}

static long records_per_thread(long dflt)
{
    const char *e = getenv("CTXLOG_STRESS_RECORDS");
    long n = e ? strtol(e, NULL, 10) : 0;
    return n > 0 ? n : dflt;
}

/* ---- block: every record once, each thread's in order ------------------------- */

struct writer_arg {
    int t;
    long n;
};

static void *log_many(void *p)
{
    const struct writer_arg *a = p;
    char user[32];
    snprintf(user, sizeof user, "thread-%d", a->t);
    CTX_REQUEST(NULL, user, "tenant-async");
    for (long i = 0; i < a->n; i++)
        log_info_kv("user logged in", LOG_I64("t", a->t), LOG_I64("i", i));
    return NULL;
}

struct order_check {
    long next[THREADS];
    char rid_seen[THREADS][64];
};

static void check_order(json_t *rec, void *arg)
{
    struct order_check *c = arg;
    json_int_t t = json_integer_value(json_object_get(rec, "t"));
    json_int_t i = json_integer_value(json_object_get(rec, "i"));
    assert_true(t >= 0 && t < THREADS);
    if (i != c->next[t])
        fail_msg("thread %d: record %lld where %ld was due", (int)t, (long long)i, c->next[t]);
    c->next[t]++;
    char user[32];
    snprintf(user, sizeof user, "thread-%d", (int)t);
    assert_string_equal(json_string_value(json_object_get(rec, "user_id")), user);
    const char *rid = json_string_value(json_object_get(rec, "request_id"));
    assert_non_null(rid);
    if (!c->rid_seen[t][0])
        snprintf(c->rid_seen[t], sizeof c->rid_seen[t], "%s", rid);
    assert_string_equal(rid, c->rid_seen[t]); /* one request per thread */
}

/* THREADS threads run log_many with n records each; returns when all are done. */
static void run_loggers(long n)
{
    pthread_t th[THREADS];
    struct writer_arg args[THREADS];
    for (int t = 0; t < THREADS; t++) {
        args[t] = (struct writer_arg){t, n};
        assert_int_equal(pthread_create(&th[t], NULL, log_many, &args[t]), 0);
    }
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);
}

static void test_async__block_loses_nothing_and_keeps_thread_order(void **state)
{
    (void)state;
    log_sink *s = file_sink(NULL);
    assert_int_equal(log__async_set(true, 64 * 1024, false), 0);
    long n = records_per_thread(250000);
    run_loggers(n);
    uint64_t dropped = log_dropped_count();
    assert_int_equal(log_flush(), 0); /* returns once all of it is in the file */

    struct order_check c;
    memset(&c, 0, sizeof c);
    size_t lines = each_record(check_order, &c);
    assert_int_equal(lines, (size_t)(THREADS * n));
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(c.next[t], n);
    assert_int_equal(log_dropped_count(), dropped);
    log_sink_release(s);
}

/* ---- drop: written + reported = logged ----------------------------------------- */

struct drop_count {
    size_t records;
    uint64_t reported;
    size_t reports;
};

static void count_drops(json_t *rec, void *arg)
{
    struct drop_count *d = arg;
    const char *logger = json_string_value(json_object_get(rec, "logger"));
    if (strcmp(logger, "ctxlog") == 0) {
        json_t *n = json_object_get(rec, "dropped");
        assert_true(json_is_integer(n) && json_integer_value(n) > 0);
        assert_string_equal(json_string_value(json_object_get(rec, "level")), "warn");
        d->reported += (uint64_t)json_integer_value(n);
        d->reports++;
    } else {
        d->records++;
    }
}

static void test_async__drop_counts_exactly(void **state)
{
    (void)state;
    log_sink *s = file_sink(NULL);
    assert_int_equal(log__async_set(true, 4096, true), 0);
    uint64_t before = log_dropped_count();
    long n = records_per_thread(250000) / 50 + 100;
    /* Hold the writer up on the sink, so the tiny queues overflow. */
    pthread_mutex_lock(&s->lock);
    run_loggers(n);
    pthread_mutex_unlock(&s->lock);
    assert_int_equal(log_flush(), 0);

    struct drop_count d = {0};
    each_record(count_drops, &d);
    assert_true(d.reported > 0);
    assert_true(d.reports >= 1);
    assert_int_equal(d.records + d.reported, (size_t)(THREADS * n));
    assert_int_equal(log_dropped_count() - before, d.reported);
    log_sink_release(s);
}

/* ---- the writer's batches: rotation and write failures -------------------------------- */

/* A rotating file takes the buffered way out of the queues: still every
 * record once, in each thread's order, no file over max_bytes. */
static void test_async__rotating_file_loses_nothing(void **state)
{
    (void)state;
    enum { BACKUPS = 200 };
    log_file_options o = {.max_bytes = 32 * 1024, .backups = BACKUPS};
    log_sink *s = file_sink(&o);
    assert_int_equal(log__async_set(true, 64 * 1024, false), 0);
    long n = records_per_thread(250000) / 250 + 200; /* ~1.6 MB: ~50 files */
    run_loggers(n);
    assert_int_equal(log_flush(), 0);

    /* Oldest first: the highest number down to the live file. */
    struct order_check c = {0};
    char path[4096];
    for (int k = BACKUPS; k >= 0; k--) {
        if (k)
            snprintf(path, sizeof path, "%s.%d", out_path, k);
        else
            snprintf(path, sizeof path, "%s", out_path);
        if (access(path, F_OK) != 0)
            continue;
        size_t size = 0;
        each_record_in(path, check_order, &c, &size);
        assert_true(size <= o.max_bytes);
        if (k)
            (void)unlink(path);
    }
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(c.next[t], n);
    log_sink_release(s);
}

/* Records the writer cannot write are counted as lost, each once. */
static void test_async__write_failure_counted(void **state)
{
    (void)state;
    if (access("/dev/full", W_OK) != 0)
        skip();
    log_sink *s = NULL;
    assert_int_equal(log_sink_file(&s, "/dev/full", NULL), 0);
    assert_int_equal(log_logger_clear_sinks(NULL), 0);
    assert_int_equal(log_logger_add_sink(NULL, s), 0);
    assert_int_equal(log__async_set(true, 0, false), 0);
    char *err = ts_temp_path("full.err");
    ts_capture cap = ts_capture_begin(2, err);
    uint64_t before = log_dropped_count();
    for (int i = 0; i < 1000; i++)
        log_info_kv("lost", LOG_I64("i", i));
    (void)log_flush();
    uint64_t lost = log_dropped_count() - before;
    ts_capture_end(&cap);
    assert_int_equal(lost, 1000);
    ts_unlink(err);
    free(err);
    log_sink_release(s);
}

/* ---- configuration ------------------------------------------------------------------ */

static void count_lines(json_t *rec, void *arg)
{
    (void)rec;
    ++*(size_t *)arg;
}

static void test_async__enabled_by_config_file_and_environment(void **state)
{
    (void)state;
    char *cfg = ts_temp_path("async.json");
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"sinks\": {\"f\": {\"type\": \"file\", \"path\": \"%s\"}},"
            " \"loggers\": {\"root\": {\"sinks\": [\"f\"]}},"
            " \"async\": {\"enabled\": true, \"queue_bytes\": 8192, \"overflow\": \"block\"}}",
            out_path);
    fclose(f);
    assert_int_equal(log_config_load(cfg, NULL), 0);
    assert_int_equal(atomic_load(&log__async_on), 1);
    for (int i = 0; i < 5000; i++)
        log_info("through the queue %d", i);
    assert_int_equal(log_flush(), 0);
    size_t n = 0;
    each_record(count_lines, &n);
    assert_int_equal(n, 5000);

    /* CTXLOG_ASYNC is applied after the file: 0 wins over "enabled". */
    setenv("CTXLOG_CONFIG", cfg, 1);
    setenv("CTXLOG_ASYNC", "0", 1);
    assert_int_equal(log_configure_env(), 0);
    assert_int_equal(atomic_load(&log__async_on), 0);
    setenv("CTXLOG_ASYNC", "1", 1);
    assert_int_equal(log_configure_env(), 0);
    assert_int_equal(atomic_load(&log__async_on), 1);
    unsetenv("CTXLOG_ASYNC");
    unsetenv("CTXLOG_CONFIG");
    ts_unlink(cfg);
    free(cfg);
}

struct burst {
    long n;
};

static void *log_burst(void *p)
{
    const struct burst *b = p;
    for (long i = 0; i < b->n; i++)
        log_info_kv("burst", LOG_I64("i", i));
    return NULL;
}

/* CTXLOG_ASYNC=1 turns the writer on and keeps the file's queue size and
 * overflow policy: a burst into a tiny queue whose writer is held up drops
 * and counts records instead of waiting for room. */
static void test_async__environment_keeps_file_overflow_policy(void **state)
{
    (void)state;
    char *cfg = ts_temp_path("async-drop.json");
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"sinks\": {\"f\": {\"type\": \"file\", \"path\": \"%s\"}},"
            " \"loggers\": {\"root\": {\"sinks\": [\"f\"]}},"
            " \"async\": {\"queue_bytes\": 4096, \"overflow\": \"drop\"}}",
            out_path);
    assert_int_equal(fclose(f), 0);
    setenv("CTXLOG_CONFIG", cfg, 1);
    setenv("CTXLOG_ASYNC", "1", 1);
    assert_int_equal(log_configure_env(), 0);
    unsetenv("CTXLOG_ASYNC");
    unsetenv("CTXLOG_CONFIG");
    assert_int_equal(atomic_load(&log__async_on), 1);

    const log_route *route = atomic_load(&log__root()->route);
    assert_int_equal(route->nsinks, 1);
    log_sink *s = route->sinks[0]; /* the route's reference keeps it */
    uint64_t before = log_dropped_count();
    /* Hold the writer up on the sink, so the queue overflows. With "block"
     * the burst would wait for the writer for good: it runs on a thread,
     * and one that has not returned long after it could have is released
     * and reported instead of hanging the suite. */
    pthread_mutex_lock(&s->lock);
    struct burst b = {.n = 2000};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, log_burst, &b), 0);
    struct timespec until;
    assert_int_equal(clock_gettime(CLOCK_REALTIME, &until), 0);
    until.tv_sec += 30;
    int blocked = pthread_timedjoin_np(t, NULL, &until) != 0;
    pthread_mutex_unlock(&s->lock);
    if (blocked)
        assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(log_flush(), 0);
    if (blocked)
        fail_msg("a full queue blocked: the file's \"overflow\": \"drop\" was lost");

    struct drop_count d = {0};
    each_record(count_drops, &d);
    assert_true(d.reported > 0);
    assert_int_equal(d.records + d.reported, (size_t)b.n);
    assert_int_equal(log_dropped_count() - before, d.reported);
    ts_unlink(cfg);
    free(cfg);
}

/* ---- fork ----------------------------------------------------------------------------- */

struct fork_count {
    int before[1000], after[1000], child[100];
};

static void count_fork(json_t *rec, void *arg)
{
    struct fork_count *c = arg;
    const char *msg = json_string_value(json_object_get(rec, "msg"));
    json_int_t i = json_integer_value(json_object_get(rec, "i"));
    if (strcmp(msg, "before") == 0 && i >= 0 && i < 1000)
        c->before[i]++;
    else if (strcmp(msg, "after") == 0 && i >= 0 && i < 1000)
        c->after[i]++;
    else if (strcmp(msg, "child") == 0 && i >= 0 && i < 100)
        c->child[i]++;
    else
        fail_msg("unexpected record '%s' %lld", msg, (long long)i);
}

static void fork_and_log(int async)
{
    log_sink *s = file_sink(NULL);
    assert_int_equal(log__async_set(async, 0, false), 0);
    for (int i = 0; i < 1000; i++)
        log_info_kv("before", LOG_I64("i", i)); /* queued or buffered */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        for (int i = 0; i < 100; i++)
            log_info_kv("child", LOG_I64("i", i));
        log_flush();
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    for (int i = 0; i < 1000; i++)
        log_info_kv("after", LOG_I64("i", i));
    assert_int_equal(log_flush(), 0);

    struct fork_count c;
    memset(&c, 0, sizeof c);
    each_record(count_fork, &c);
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(c.before[i], 1); /* not written again by the child */
        assert_int_equal(c.after[i], 1);  /* the parent's writer works on */
    }
    for (int i = 0; i < 100; i++)
        assert_int_equal(c.child[i], 1); /* the child logs normally */
    log_sink_release(s);
}

static void test_async__fork_child_logs_parent_unharmed(void **state)
{
    (void)state;
    fork_and_log(1);
}

static void test_async__fork_with_sync_buffers(void **state)
{
    (void)state;
    fork_and_log(0);
}

/* ---- the crash handler -------------------------------------------------------------- */

static void crash_with_pending(int async)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        log_sink *s = file_sink(NULL);
        (void)log__async_set(async, 0, false);
        if (log_crash_handler_install() != 0)
            _exit(3);
        if (async)
            pthread_mutex_lock(&s->lock); /* the writer cannot write them */
        for (int i = 0; i < 50; i++)
            log_info_kv("pending", LOG_I64("i", i));
        abort();
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
    size_t n = 0;
    each_record(count_lines, &n);
    assert_int_equal(n, 50);
}

static void test_async__crash_handler_writes_queued_records(void **state)
{
    (void)state;
    crash_with_pending(1);
}

static void test_async__crash_handler_writes_buffered_records(void **state)
{
    (void)state;
    crash_with_pending(0);
}

/* The crash handler racing the writer: records the writer is writing out
 * as the process crashes must be written once, by one of them. */
#define CRASH_RUNS 50
#define CRASH_RECORDS 100000
#define CRASH_QUEUE ((size_t)16 << 20)

/* Fewer runs where every record costs many times more (the sanitizers;
 * valgrind sets CTXLOG_STRESS_RECORDS): the plain build runs all 50. */
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define CRASH_RUNS_HERE 10
#else
#define CRASH_RUNS_HERE CRASH_RUNS
#endif
static long crash_records;

static void *log_numbered(void *arg)
{
    (void)arg;
    for (long i = 0; i < crash_records; i++)
        log_info_kv("numbered", LOG_I64("i", i));
    return NULL;
}

static void count_each_i(json_t *rec, void *arg)
{
    unsigned char *seen = arg;
    json_int_t i = json_integer_value(json_object_get(rec, "i"));
    if (i < 0 || i >= crash_records)
        fail_msg("unexpected record %lld", (long long)i);
    if (seen[i] == UCHAR_MAX)
        fail_msg("record %lld seen too often", (long long)i);
    seen[i]++;
}

static void test_async__crash_flush_writes_each_record_once(void **state)
{
    (void)state;
    crash_records = records_per_thread(CRASH_RECORDS);
    int runs = crash_records < CRASH_RECORDS ? 5 : CRASH_RUNS_HERE;
    unsigned char *seen = malloc((size_t)crash_records);
    assert_non_null(seen);
    for (int run = 0; run < runs; run++) {
        ts_unlink(out_path);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            /* cmocka catches SIGSEGV; the crash handler passes it on to
             * the default action instead. */
            signal(SIGSEGV, SIG_DFL);
            (void)file_sink(NULL);
            /* A queue that holds them all: the writer is still at work when
             * the crash comes, most runs. */
            if (log__async_set(true, CRASH_QUEUE, false) != 0 ||
                log_crash_handler_install() != 0)
                _exit(3);
            pthread_t t;
            if (pthread_create(&t, NULL, log_numbered, NULL) != 0 || pthread_join(t, NULL) != 0)
                _exit(4);
            /* No thread logs now; the writer may still be writing. */
            raise(SIGSEGV);
            _exit(5);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSEGV)
            fail_msg("run %d: child status %#x, not killed by SIGSEGV", run, status);
        memset(seen, 0, (size_t)crash_records);
        size_t lines = each_record(count_each_i, seen);
        size_t twice = 0, missing = 0;
        for (long i = 0; i < crash_records; i++) {
            twice += seen[i] > 1;
            missing += seen[i] == 0;
        }
        if (lines != (size_t)crash_records || twice || missing)
            fail_msg("run %d: %zu lines, %zu records more than once, %zu missing", run, lines,
                     twice, missing);
    }
    free(seen);
}

/* ---- when buffered records reach the file ------------------------------------------ */

static size_t lines_now(void)
{
    return ts_count_lines(out_path);
}

static void test_async__buffered_error_is_written_at_once(void **state)
{
    (void)state;
    log_sink *s = file_sink(NULL);
    log_info("buffered");
    log_error("urgent"); /* writes out what came before it too */
    assert_int_equal(lines_now(), 2);
    log_sink_release(s);
}

static void test_async__buffered_info_is_written_by_the_flusher(void **state)
{
    (void)state;
    log_sink *s = file_sink(NULL);
    log_info("buffered");
    /* Due after 100 ms; allow a loaded machine much longer. */
    for (int i = 0; i < 500 && lines_now() == 0; i++) {
        struct timespec pause = {0, 10 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    assert_int_equal(lines_now(), 1);
    log_sink_release(s);
}

static void test_async__write_through_is_written_at_once(void **state)
{
    (void)state;
    log_file_options o = {.write_through = true};
    log_sink *s = file_sink(&o);
    log_info("one");
    log_info("two");
    assert_int_equal(lines_now(), 2);
    log_sink_release(s);
}

/* In async mode a thread's records are staged before they are queued (see
 * log/async_ring.h). Those of a thread that logs no more, or is gone,
 * still reach the file without a log_flush(): the writer queues a stage
 * older than the flush interval, and a gone thread's at once. */
static size_t lines_within_5s(size_t want)
{
    for (int i = 0; i < 500 && lines_now() < want; i++) {
        struct timespec pause = {0, 10 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    return lines_now();
}

static void test_async__staged_records_reach_the_file_unflushed(void **state)
{
    (void)state;
    log_sink *s = file_sink(NULL);
    assert_int_equal(log__async_set(true, 0, false), 0);
    log_info("staged");
    log_info("then idle");
    assert_int_equal(lines_within_5s(2), 2);
    log_sink_release(s);
}

static void *log_three_and_exit(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++)
        log_info_kv("from a thread", LOG_I64("i", i));
    return NULL;
}

static void order_of_i(json_t *rec, void *arg)
{
    long *next = arg;
    assert_int_equal(json_integer_value(json_object_get(rec, "i")), *next);
    (*next)++;
}

static void test_async__records_of_a_thread_gone_reach_the_file(void **state)
{
    (void)state;
    log_sink *s = file_sink(NULL);
    assert_int_equal(log__async_set(true, 0, false), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, log_three_and_exit, NULL), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(lines_within_5s(3), 3);
    long next = 0;
    assert_int_equal(each_record(order_of_i, &next), 3);
    log_sink_release(s);
}

int main(void)
{
    unsetenv("CTXLOG_ASYNC");
    unsetenv("CTXLOG_CONFIG");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_async__block_loses_nothing_and_keeps_thread_order,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_async__drop_counts_exactly, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async__rotating_file_loses_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async__write_failure_counted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async__enabled_by_config_file_and_environment, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_async__environment_keeps_file_overflow_policy, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_async__fork_child_logs_parent_unharmed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_async__fork_with_sync_buffers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async__crash_handler_writes_queued_records, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_async__crash_handler_writes_buffered_records, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_async__crash_flush_writes_each_record_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_async__buffered_error_is_written_at_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_async__buffered_info_is_written_by_the_flusher, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_async__staged_records_reach_the_file_unflushed,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_async__records_of_a_thread_gone_reach_the_file,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_async__write_through_is_written_at_once, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
