/* SPDX-License-Identifier: MIT */
/*
 * Per-thread buffers of buffered (file) sinks in sync mode: records a thread
 * buffered reach the file by log_flush() from another thread, at the thread's
 * exit, by the flusher within about 100 ms, when the sink is freed, before a
 * reopen and across rotation (split at line boundaries); fork() does not
 * write them twice; a switch to async mode keeps each thread's order; the
 * crash handler writes them. Every line is parsed back with jansson.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include <ctxlog/ctxlog.h>

#include "log/log_internal.h"
#include "support.h"

/* The child of the fork tests starts a writer thread: allowed. */
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
    return "die_after_fork=0";
}

static char *out_path;

static int setup(void **state)
{
    (void)state;
    out_path = ts_temp_path("tbuf.log");
    ts_unlink(out_path);
    log_level_set(LOG_LEVEL_INFO);
    return 0;
}

struct idler {
    pthread_t th;
    int running;    /* started and not yet joined (the teardown joins it) */
    int t;          /* its number, field "t" */
    int n;          /* records to log, msg "idle" */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int logged, release;
    int more;       /* after the release: records to log (msg "more") before exiting */
};

static struct idler idlers[4];
static void idler_finish(struct idler *w);

static int teardown(void **state)
{
    (void)state;
    /* A test that failed half-way leaves its idle threads: end them. */
    for (size_t k = 0; k < sizeof idlers / sizeof idlers[0]; k++)
        if (idlers[k].running)
            idler_finish(&idlers[k]);
    (void)log__async_set(false, 0, false);
    log_shutdown();
    ts_unlink(out_path);
    free(out_path);
    out_path = NULL;
    return 0;
}

/* A fresh buffered file sink on `path`, the root's only sink. */
static void use_file(const char *path, const log_file_options *o)
{
    log_sink *s = NULL;
    assert_int_equal(log_sink_file(&s, path, o), 0);
    assert_int_equal(log_logger_clear_sinks(NULL), 0);
    assert_int_equal(log_logger_add_sink(NULL, s), 0);
    log_sink_release(s);
}

static uint64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

static void pause_ms(long ms)
{
    struct timespec p = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&p, NULL);
}

/* Records of `path` (every line parsed with jansson); [] when it does not exist. */
static json_t *records_of(const char *path)
{
    if (access(path, F_OK) != 0)
        return json_array();
    return ts_read_records(path);
}

/* How many records of `path` have msg `msg` and field t == `t`; with
 * `in_order`, their field i must run 0, 1, 2 … */
static size_t count_msg(json_t *recs, const char *msg, json_int_t t, int in_order)
{
    size_t n = 0, i;
    json_t *r;
    json_array_foreach(recs, i, r) {
        if (strcmp(json_string_value(json_object_get(r, "msg")), msg) != 0)
            continue;
        if (json_integer_value(json_object_get(r, "t")) != t)
            continue;
        if (in_order && json_integer_value(json_object_get(r, "i")) != (json_int_t)n)
            fail_msg("'%s' of %lld: record %lld where %zu was due", msg, (long long)t,
                     (long long)json_integer_value(json_object_get(r, "i")), n);
        n++;
    }
    return n;
}

/* ---- a thread that logs, then waits (idle, alive) until released ------------------ */


static void *idler_main(void *p)
{
    struct idler *w = p;
    for (int i = 0; i < w->n; i++)
        log_info_kv("idle", LOG_I64("t", w->t), LOG_I64("i", i));
    pthread_mutex_lock(&w->mu);
    w->logged = 1;
    pthread_cond_broadcast(&w->cv);
    while (!w->release)
        pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
    for (int i = 0; i < w->more; i++)
        log_info_kv("more", LOG_I64("t", w->t), LOG_I64("i", i));
    return NULL;
}

/* A thread that logs `n` records and waits; returns once they are logged. */
static struct idler *idler_start(int t, int n)
{
    struct idler *w = NULL;
    for (size_t k = 0; k < sizeof idlers / sizeof idlers[0] && !w; k++)
        if (!idlers[k].running)
            w = &idlers[k];
    assert_non_null(w);
    memset(w, 0, sizeof *w);
    w->t = t;
    w->n = n;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    assert_int_equal(pthread_create(&w->th, NULL, idler_main, w), 0);
    w->running = 1;
    pthread_mutex_lock(&w->mu);
    while (!w->logged)
        pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
    return w;
}

/* Let it log `more` records and exit; join it. */
static void idler_finish(struct idler *w)
{
    pthread_mutex_lock(&w->mu);
    w->release = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    assert_int_equal(pthread_join(w->th, NULL), 0);
    w->running = 0;
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
}

/* ---- (a) log_flush() writes an idle thread's buffer ----------------------------------- */

static void test_thread_buf__log_flush_writes_idle_threads_buffers(void **state)
{
    (void)state;
    use_file(out_path, NULL);
    uint64_t t0 = now_ms();
    struct idler *w0 = idler_start(0, 50), *w1 = idler_start(1, 70);
    /* Buffered in the threads: not in the file before the flush is due
     * (checked only while it cannot be due yet, whatever the machine). */
    size_t early = ts_count_lines(out_path);
    if (now_ms() - t0 < 90)
        assert_int_equal(early, 0);
    assert_int_equal(log_flush(), 0); /* from this thread, the others idle */
    json_t *r = records_of(out_path);
    assert_int_equal(json_array_size(r), 120);
    assert_int_equal(count_msg(r, "idle", 0, 1), 50);
    assert_int_equal(count_msg(r, "idle", 1, 1), 70);
    json_decref(r);
    idler_finish(w0);
    idler_finish(w1);
}

/* ---- (b) a thread that exits without flushing loses nothing ---------------------------- */

#define EXITERS 4
#define EXIT_RECORDS 777 /* not a whole number of buffers */

static void *log_and_exit(void *p)
{
    int t = (int)(intptr_t)p;
    for (int i = 0; i < EXIT_RECORDS; i++)
        log_info_kv("exiting", LOG_I64("t", t), LOG_I64("i", i));
    return NULL;
}

static void test_thread_buf__exiting_thread_loses_nothing(void **state)
{
    (void)state;
    use_file(out_path, NULL);
    pthread_t th[EXITERS];
    for (int t = 0; t < EXITERS; t++)
        assert_int_equal(pthread_create(&th[t], NULL, log_and_exit, (void *)(intptr_t)t), 0);
    for (int t = 0; t < EXITERS; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);
    /* Written at the threads' exit, before any flush. */
    json_t *r = records_of(out_path);
    assert_int_equal(json_array_size(r), EXITERS * EXIT_RECORDS);
    json_decref(r);
    assert_int_equal(log_flush(), 0);
    r = records_of(out_path);
    assert_int_equal(json_array_size(r), EXITERS * EXIT_RECORDS);
    for (int t = 0; t < EXITERS; t++)
        assert_int_equal(count_msg(r, "exiting", t, 1), EXIT_RECORDS);
    json_decref(r);
}

/* A key destructor that logs after the library's own has run. */
static pthread_key_t late_key;

static void late_destructor(void *p)
{
    log_info_kv("from a destructor", LOG_I64("t", (int)(intptr_t)p - 1), LOG_I64("i", 0));
}

static void *log_then_exit_with_destructor(void *p)
{
    (void)pthread_setspecific(late_key, p);
    for (int i = 0; i < 10; i++)
        log_info_kv("exiting", LOG_I64("t", (int)(intptr_t)p - 1), LOG_I64("i", i));
    return NULL;
}

static void test_thread_buf__logging_from_a_later_key_destructor(void **state)
{
    (void)state;
    use_file(out_path, NULL);
    /* The library's key exists first, so its destructor runs first. */
    log_info_kv("main", LOG_I64("t", 99), LOG_I64("i", 0));
    assert_int_equal(log_flush(), 0);
    assert_int_equal(pthread_key_create(&late_key, late_destructor), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, log_then_exit_with_destructor, (void *)1), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(log_flush(), 0);
    json_t *r = records_of(out_path);
    assert_int_equal(json_array_size(r), 12);
    assert_int_equal(count_msg(r, "exiting", 0, 1), 10);
    assert_int_equal(count_msg(r, "from a destructor", 0, 1), 1);
    /* After the thread's own records. */
    const char *last = json_string_value(
        json_object_get(json_array_get(r, json_array_size(r) - 1), "msg"));
    assert_string_equal(last, "from a destructor");
    json_decref(r);
    pthread_key_delete(late_key);
}

/* ---- (c) the flusher writes an idle thread's buffer within the interval ----------------- */

static void test_thread_buf__flusher_writes_idle_thread_buffer(void **state)
{
    (void)state;
    use_file(out_path, NULL);
    struct idler *w = idler_start(0, 3);
    /* Due after 100 ms; a loaded machine (valgrind) gets 5 s. */
    for (int i = 0; i < 500 && ts_count_lines(out_path) < 3; i++)
        pause_ms(10);
    json_t *r = records_of(out_path);
    assert_int_equal(count_msg(r, "idle", 0, 1), 3);
    json_decref(r);
    idler_finish(w);
}

/* ---- (d) rotation: thread buffers split at line boundaries ------------------------------- */

#define ROT_THREADS 4
#define ROT_RECORDS 1500
#define ROT_MAX 8000     /* much smaller than a thread's 64 KiB buffer */
#define ROT_BACKUPS 400

static void *rot_writer(void *p)
{
    int t = (int)(intptr_t)p;
    for (int i = 0; i < ROT_RECORDS; i++)
        log_info_kv("rotating", LOG_I64("t", t), LOG_I64("i", i));
    return NULL;
}

static void rot_name(char *buf, size_t cap, unsigned k)
{
    snprintf(buf, cap, k ? "%s.%u" : "%s", out_path, k);
}

static void test_thread_buf__rotation_splits_buffers_between_lines(void **state)
{
    (void)state;
    char name[512];
    for (unsigned k = 0; k <= ROT_BACKUPS + 1; k++) {
        rot_name(name, sizeof name, k);
        ts_unlink(name);
    }
    log_file_options o = {.max_bytes = ROT_MAX, .backups = ROT_BACKUPS};
    use_file(out_path, &o);
    pthread_t th[ROT_THREADS];
    for (int t = 0; t < ROT_THREADS; t++)
        assert_int_equal(pthread_create(&th[t], NULL, rot_writer, (void *)(intptr_t)t), 0);
    for (int t = 0; t < ROT_THREADS; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);
    assert_int_equal(log_flush(), 0);

    /* Oldest file first: each thread's records once each, in order, no
     * file over max_bytes, every line whole (parsed). */
    json_int_t next[ROT_THREADS] = {0};
    unsigned files = 0;
    for (unsigned k = ROT_BACKUPS + 1; k-- > 0;) {
        rot_name(name, sizeof name, k);
        struct stat st;
        if (stat(name, &st) != 0)
            continue;
        files++;
        assert_true(k <= ROT_BACKUPS);
        assert_true((size_t)st.st_size <= ROT_MAX);
        json_t *recs = ts_read_records(name);
        size_t i;
        json_t *r;
        json_array_foreach(recs, i, r) {
            json_int_t t = json_integer_value(json_object_get(r, "t"));
            json_int_t n = json_integer_value(json_object_get(r, "i"));
            assert_true(t >= 0 && t < ROT_THREADS);
            if (n != next[t])
                fail_msg("%s: thread %lld record %lld where %lld was due", name, (long long)t,
                         (long long)n, (long long)next[t]);
            next[t]++;
        }
        json_decref(recs);
        ts_unlink(name);
    }
    for (int t = 0; t < ROT_THREADS; t++)
        assert_int_equal(next[t], ROT_RECORDS);
    assert_true(files > 20);
}

static void test_thread_buf__record_bigger_than_max_bytes_goes_alone(void **state)
{
    (void)state;
    char name[512];
    for (unsigned k = 0; k <= 10; k++) {
        rot_name(name, sizeof name, k);
        ts_unlink(name);
    }
    log_file_options o = {.max_bytes = 300, .backups = 10};
    use_file(out_path, &o);
    char big[600];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    log_info_kv("small", LOG_I64("t", 0), LOG_I64("i", 0));
    log_info_kv(big, LOG_I64("t", 0), LOG_I64("i", 1));
    log_info_kv("small", LOG_I64("t", 0), LOG_I64("i", 2));
    assert_int_equal(log_flush(), 0);
    /* .2: small 0; .1: the big one alone; path: small 2. */
    for (unsigned k = 0; k <= 2; k++) {
        rot_name(name, sizeof name, k);
        json_t *r = ts_read_records(name);
        assert_int_equal(json_array_size(r), 1);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(r, 0), "i")), 2 - k);
        json_decref(r);
        ts_unlink(name);
    }
    rot_name(name, sizeof name, 3);
    assert_int_equal(access(name, F_OK), -1);
}

/* ---- reopen: a thread's buffered records go to the file they were meant for -------------- */

static void reopen_case(int by_request)
{
    char *moved = ts_temp_path("tbuf.log.moved");
    ts_unlink(moved);
    use_file(out_path, NULL);
    struct idler *w = idler_start(0, 20); /* buffered in the thread */
    w->more = 20;
    log_info_kv("idle", LOG_I64("t", 1), LOG_I64("i", 0)); /* and in this one */
    assert_int_equal(rename(out_path, moved), 0); /* what logrotate does */
    if (by_request)
        log_reopen_request(); /* as from a SIGHUP handler */
    else
        assert_int_equal(log_reopen(), 0);
    idler_finish(w); /* logs "more" after the reopen, then exits */
    log_info_kv("more", LOG_I64("t", 1), LOG_I64("i", 0));
    assert_int_equal(log_flush(), 0);

    json_t *old = records_of(moved), *cur = records_of(out_path);
    assert_int_equal(json_array_size(old), 21);
    assert_int_equal(count_msg(old, "idle", 0, 1), 20);
    assert_int_equal(count_msg(old, "idle", 1, 1), 1);
    assert_int_equal(json_array_size(cur), 21);
    assert_int_equal(count_msg(cur, "more", 0, 1), 20);
    assert_int_equal(count_msg(cur, "more", 1, 1), 1);
    json_decref(old);
    json_decref(cur);
    ts_unlink(moved);
    free(moved);
}

static void test_thread_buf__log_reopen_writes_buffers_to_the_old_file(void **state)
{
    (void)state;
    reopen_case(0);
}

static void test_thread_buf__reopen_request_keeps_buffered_records_in_old_file(void **state)
{
    (void)state;
    reopen_case(1);
}

/* ---- reopen while threads write their buffers out ------------------------------------------ */

struct busy {
    int t;
    long n;
};

static void *busy_main(void *p)
{
    const struct busy *b = p;
    for (long i = 0; i < b->n; i++)
        log_info_kv("busy", LOG_I64("t", b->t), LOG_I64("i", i));
    return NULL;
}

/* Threads write their buffers into a file without its lock; log_reopen()
 * replaces the descriptor under them again and again: every record once,
 * whole, each thread's in order across the files. */
static void test_thread_buf__reopen_while_threads_write_loses_nothing(void **state)
{
    (void)state;
    enum { NT = 3, MOVES = 8 };
    const char *e = getenv("CTXLOG_STRESS_RECORDS");
    long n = e && atol(e) > 0 ? atol(e) : 20000;
    use_file(out_path, NULL);
    pthread_t th[NT];
    struct busy b[NT];
    for (int t = 0; t < NT; t++) {
        b[t] = (struct busy){t, n};
        assert_int_equal(pthread_create(&th[t], NULL, busy_main, &b[t]), 0);
    }
    char *moved[MOVES];
    for (int k = 0; k < MOVES; k++) {
        char name[32];
        snprintf(name, sizeof name, "tbuf-moved-%d.log", k);
        moved[k] = ts_temp_path(name);
        pause_ms(2);
        assert_int_equal(rename(out_path, moved[k]), 0);
        assert_int_equal(log_reopen(), 0);
    }
    for (int t = 0; t < NT; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);
    assert_int_equal(log_flush(), 0);

    json_t *all = json_array();
    for (int k = 0; k <= MOVES; k++) {
        json_t *recs = records_of(k < MOVES ? moved[k] : out_path);
        assert_int_equal(json_array_extend(all, recs), 0);
        json_decref(recs);
        if (k < MOVES) {
            ts_unlink(moved[k]);
            free(moved[k]);
        }
    }
    assert_int_equal(json_array_size(all), (size_t)(NT * n));
    for (int t = 0; t < NT; t++)
        assert_int_equal(count_msg(all, "busy", t, 1), (size_t)n);
    json_decref(all);
}

/* ---- a sink freed while a thread holds buffered records for it --------------------------- */

static void test_thread_buf__freed_sink_writes_thread_buffers(void **state)
{
    (void)state;
    use_file(out_path, NULL);
    struct idler *w = idler_start(0, 30);
    /* The last reference goes: the thread's buffer is written out, and the
     * thread forgets the sink (ASan: no use after free below). */
    assert_int_equal(log_logger_clear_sinks(NULL), 0);
    json_t *r = records_of(out_path);
    assert_int_equal(count_msg(r, "idle", 0, 1), 30);
    json_decref(r);
    /* A new sink (perhaps at the same address): the thread's next records
     * go there, and only there. */
    char *second = ts_temp_path("tbuf2.log");
    ts_unlink(second);
    use_file(second, NULL);
    w->more = 15;
    idler_finish(w);
    assert_int_equal(log_flush(), 0);
    r = records_of(second);
    assert_int_equal(json_array_size(r), 15);
    assert_int_equal(count_msg(r, "more", 0, 1), 15);
    json_decref(r);
    r = records_of(out_path);
    assert_int_equal(json_array_size(r), 30);
    json_decref(r);
    log_shutdown();
    ts_unlink(second);
    free(second);
}

/* ---- more sinks than a thread has buffers ------------------------------------------------ */

#define MANY 7

static void test_thread_buf__more_sinks_than_thread_buffers(void **state)
{
    (void)state;
    char *paths[MANY];
    log_logger *lg[MANY];
    for (int k = 0; k < MANY; k++) {
        char name[32], lname[32];
        snprintf(name, sizeof name, "many%d.log", k);
        snprintf(lname, sizeof lname, "many.l%d", k);
        paths[k] = ts_temp_path(name);
        ts_unlink(paths[k]);
        log_sink *s = NULL;
        assert_int_equal(log_sink_file(&s, paths[k], NULL), 0);
        lg[k] = log_get(lname);
        assert_int_equal(log_logger_add_sink(lg[k], s), 0);
        log_logger_set_additive(lg[k], false);
        log_sink_release(s);
    }
    for (int i = 0; i < 2000; i++) {
        int k = (i * 5 + i / 7) % MANY;
        log_info_kv_to(lg[k], "spread", LOG_I64("t", k), LOG_I64("i", i / 1));
    }
    assert_int_equal(log_flush(), 0);
    size_t total = 0;
    for (int k = 0; k < MANY; k++) {
        json_t *r = records_of(paths[k]);
        json_int_t prev = -1;
        size_t i;
        json_t *rec;
        json_array_foreach(r, i, rec) {
            assert_int_equal(json_integer_value(json_object_get(rec, "t")), k);
            json_int_t n = json_integer_value(json_object_get(rec, "i"));
            assert_true(n > prev); /* in order */
            prev = n;
        }
        total += json_array_size(r);
        json_decref(r);
    }
    assert_int_equal(total, 2000);
    for (int k = 0; k < MANY; k++) {
        assert_int_equal(log_logger_clear_sinks(lg[k]), 0);
        log_logger_set_additive(lg[k], true);
        ts_unlink(paths[k]);
        free(paths[k]);
    }
}

/* ---- (e) fork: the child writes its own records, never the parent's buffered ones -------- */

struct runner {
    pthread_t th;
    atomic_int stop;
    long done;
};

static void *run_until_stopped(void *p)
{
    struct runner *r = p;
    long i = 0;
    while (!atomic_load(&r->stop)) {
        log_info_kv("running", LOG_I64("t", 7), LOG_I64("i", i));
        i++;
    }
    r->done = i;
    return NULL;
}

#define FORKS 5

static void test_thread_buf__fork_child_never_writes_parent_buffers(void **state)
{
    (void)state;
    use_file(out_path, NULL);
    struct idler *w = idler_start(0, 40); /* buffered in an idle thread */
    struct runner run = {.stop = 0};
    assert_int_equal(pthread_create(&run.th, NULL, run_until_stopped, &run), 0);
    for (int f = 0; f < FORKS; f++) {
        for (int i = 0; i < 10; i++)
            log_info_kv("parent", LOG_I64("t", f), LOG_I64("i", i)); /* buffered here */
        pid_t pid = fork(); /* while `run` appends */
        assert_true(pid >= 0);
        if (pid == 0) {
            for (int i = 0; i < 25; i++)
                log_info_kv("child", LOG_I64("t", f), LOG_I64("i", i));
            log_flush();
            _exit(0);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    atomic_store(&run.stop, 1);
    assert_int_equal(pthread_join(run.th, NULL), 0);
    idler_finish(w);
    assert_int_equal(log_flush(), 0);

    json_t *r = records_of(out_path);
    assert_int_equal(count_msg(r, "idle", 0, 1), 40);        /* once: not by a child */
    assert_int_equal(count_msg(r, "running", 7, 1), (size_t)run.done);
    for (int f = 0; f < FORKS; f++) {
        assert_int_equal(count_msg(r, "parent", f, 1), 10);
        assert_int_equal(count_msg(r, "child", f, 1), 25);
    }
    assert_int_equal(json_array_size(r), 40 + (size_t)run.done + FORKS * 35);
    json_decref(r);
}

/* ---- (f) a switch to async mode keeps each thread's order ------------------------------- */

#define ROUNDS 10

struct toggled {
    pthread_barrier_t round;
    atomic_int stop;
};

/* Logs in every round until told to stop, numbering its records across
 * rounds; async mode starts in the middle of each round. */
struct toggling_arg {
    struct toggled *g;
    int t;
};

static void *toggling_logger(void *p)
{
    const struct toggling_arg *a = p;
    struct toggled *g = a->g;
    long i = 0;
    for (int round = 0; round < ROUNDS; round++) {
        pthread_barrier_wait(&g->round);
        while (!atomic_load(&g->stop)) {
            log_info_kv("toggled", LOG_I64("t", a->t), LOG_I64("i", i));
            i++;
        }
        pthread_barrier_wait(&g->round);
    }
    return (void *)(intptr_t)i;
}

static void test_thread_buf__async_switches_keep_thread_order(void **state)
{
    (void)state;
    use_file(out_path, NULL);
    struct toggled g;
    pthread_barrier_init(&g.round, NULL, 3);
    struct toggling_arg args[2] = {{&g, 0}, {&g, 1}};
    pthread_t th[2];
    for (int t = 0; t < 2; t++)
        assert_int_equal(pthread_create(&th[t], NULL, toggling_logger, &args[t]), 0);
    for (int round = 0; round < ROUNDS; round++) {
        atomic_store(&g.stop, 0);
        pthread_barrier_wait(&g.round); /* the threads log into their buffers */
        pause_ms(2);
        assert_int_equal(log__async_set(true, 0, false), 0); /* while they log */
        pause_ms(2);
        atomic_store(&g.stop, 1);
        pthread_barrier_wait(&g.round); /* they stopped */
        assert_int_equal(log__async_set(false, 0, false), 0);
    }
    void *n[2];
    for (int t = 0; t < 2; t++)
        assert_int_equal(pthread_join(th[t], &n[t]), 0);
    pthread_barrier_destroy(&g.round);
    assert_int_equal(log_flush(), 0);
    json_t *r = records_of(out_path);
    for (int t = 0; t < 2; t++)
        assert_int_equal(count_msg(r, "toggled", t, 1), (size_t)(intptr_t)n[t]);
    json_decref(r);
}

/* A thread's sync records still buffered when async mode starts behind its
 * back (no flush of all buffers): its first async record writes them out
 * first. Without that, the writer would write the async ones first. */
static void test_thread_buf__first_async_record_writes_own_buffer_first(void **state)
{
    (void)state;
    use_file(out_path, NULL);
    assert_int_equal(log__async_set(true, 0, false), 0); /* the writer runs */
    atomic_store(&log__async_on, 0);
    for (int i = 0; i < 30; i++)
        log_info_kv("order", LOG_I64("t", 0), LOG_I64("i", i)); /* buffered */
    atomic_store(&log__async_on, 1);
    for (int i = 30; i < 60; i++)
        log_info_kv("order", LOG_I64("t", 0), LOG_I64("i", i)); /* queued */
    /* Let the writer write what was queued, before any flush of buffers. */
    for (int i = 0; i < 500 && ts_count_lines(out_path) < 60; i++)
        pause_ms(2);
    assert_int_equal(log_flush(), 0);
    json_t *r = records_of(out_path);
    assert_int_equal(count_msg(r, "order", 0, 1), 60);
    json_decref(r);
}

/* Turning async mode on writes every thread's buffer out at once (a
 * thread that logs no more would otherwise wait for the flusher). */
static void test_thread_buf__async_on_writes_every_thread_buffer(void **state)
{
    (void)state;
    use_file(out_path, NULL);
    struct idler *w = idler_start(0, 12);
    assert_int_equal(log__async_set(true, 0, false), 0);
    json_t *r = records_of(out_path);
    assert_int_equal(count_msg(r, "idle", 0, 1), 12);
    json_decref(r);
    idler_finish(w);
}

/* ---- the crash handler writes other threads' buffers ---------------------------------- */

static void test_thread_buf__crash_handler_writes_thread_buffers(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        use_file(out_path, NULL);
        if (log_crash_handler_install() != 0)
            _exit(3);
        (void)idler_start(0, 25);
        for (int i = 0; i < 5; i++)
            log_info_kv("main", LOG_I64("t", 1), LOG_I64("i", i));
        abort();
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
    json_t *r = records_of(out_path);
    assert_int_equal(count_msg(r, "idle", 0, 1), 25);
    assert_int_equal(count_msg(r, "main", 1, 1), 5);
    json_decref(r);
}

int main(void)
{
    /* CTXLOG_TEST_FILTER=pattern runs the matching tests alone. */
    if (getenv("CTXLOG_TEST_FILTER"))
        cmocka_set_test_filter(getenv("CTXLOG_TEST_FILTER"));
    unsetenv("CTXLOG_ASYNC");
    unsetenv("CTXLOG_CONFIG");
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_thread_buf__log_flush_writes_idle_threads_buffers),
        T(test_thread_buf__exiting_thread_loses_nothing),
        T(test_thread_buf__logging_from_a_later_key_destructor),
        T(test_thread_buf__flusher_writes_idle_thread_buffer),
        T(test_thread_buf__rotation_splits_buffers_between_lines),
        T(test_thread_buf__record_bigger_than_max_bytes_goes_alone),
        T(test_thread_buf__log_reopen_writes_buffers_to_the_old_file),
        T(test_thread_buf__reopen_request_keeps_buffered_records_in_old_file),
        T(test_thread_buf__reopen_while_threads_write_loses_nothing),
        T(test_thread_buf__freed_sink_writes_thread_buffers),
        T(test_thread_buf__more_sinks_than_thread_buffers),
        T(test_thread_buf__fork_child_never_writes_parent_buffers),
        T(test_thread_buf__async_switches_keep_thread_order),
        T(test_thread_buf__first_async_record_writes_own_buffer_first),
        T(test_thread_buf__async_on_writes_every_thread_buffer),
        T(test_thread_buf__crash_handler_writes_thread_buffers),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
