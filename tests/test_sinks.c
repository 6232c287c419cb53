/* SPDX-License-Identifier: MIT */
/* Sinks: several per logger with their own levels, additivity, callback
 * sinks, reopening for logrotate, and size-based rotation under concurrent
 * writers. Every line is parsed back with jansson. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include <ctxlog/ctxlog.h>

#include "log/log_internal.h"
#include "support.h"

/* The children of the pipe test start a writer thread: allowed. */
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
    return "die_after_fork=0";
}

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
    log_shutdown();
    log_logger_set_additive(log_get("app.db"), true);
    log_level_set(LOG_LEVEL_INFO);
    return 0;
}

static log_sink *file_sink(const char *path, const log_file_options *o)
{
    ts_unlink(path);
    log_sink *s = NULL;
    assert_int_equal(log_sink_file(&s, path, o), 0);
    return s;
}

static void test_sinks__levels_per_sink_and_additivity(void **state)
{
    (void)state;
    char *all = ts_temp_path("all.log"), *errors = ts_temp_path("errors.log"),
         *db = ts_temp_path("db.log");
    log_sink *s_all = file_sink(all, NULL), *s_err = file_sink(errors, NULL),
             *s_db = file_sink(db, NULL);
    assert_int_equal(log_sink_set_level(s_err, LOG_LEVEL_ERROR), 0);
    log_logger_add_sink(NULL, s_all);
    log_logger_add_sink(NULL, s_err);
    log_logger_add_sink(log_get("app.db"), s_db);
    log_sink_release(s_all);
    log_sink_release(s_err);
    log_sink_release(s_db);
    log_debug("root debug");
    log_error("root error");
    log_info_to(log_get("app.db.pool"), "db info");
    log_logger_set_additive(log_get("app.db"), false);
    log_error_to(log_get("app.db"), "db error, db only");
    log_shutdown();

    json_t *r_all = ts_read_records(all), *r_err = ts_read_records(errors),
           *r_db = ts_read_records(db);
    assert_int_equal(json_array_size(r_all), 3);
    assert_int_equal(json_array_size(r_err), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(r_err, 0), "msg")),
                        "root error");
    assert_int_equal(json_array_size(r_db), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(r_db, 0), "logger")),
                        "app.db.pool");
    json_decref(r_all);
    json_decref(r_err);
    json_decref(r_db);
    free(all);
    free(errors);
    free(db);
}

typedef struct {
    int calls;
    int with_text;
    char last_msg[64];
} cb_state;

static void callback(const log_record *rec, const char *text, size_t len, void *payload)
{
    cb_state *st = payload;
    st->calls++;
    snprintf(st->last_msg, sizeof st->last_msg, "%.*s", (int)rec->msg_len, rec->msg);
    if (text) {
        st->with_text++;
        json_error_t e;
        json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e);
        assert_non_null(j);
        assert_string_equal(json_string_value(json_object_get(j, "msg")), st->last_msg);
        json_decref(j);
    }
}

static void test_sinks__callback_sink(void **state)
{
    (void)state;
    cb_state raw = {0}, formatted = {0};
    log_sink *a = log_sink_callback(callback, &raw);
    log_sink *b = log_sink_callback(callback, &formatted);
    assert_null(log_sink_callback(NULL, NULL));
    log_formatter *json = log_formatter_json(NULL);
    assert_int_equal(log_sink_set_formatter(b, json), 0);
    log_formatter_release(json);
    log_logger_add_sink(NULL, a);
    log_logger_add_sink(NULL, b);
    assert_int_equal(log_sink_set_formatter(a, NULL), CTXLOG_ESTATE); /* attached */
    log_sink_release(a);
    log_sink_release(b);
    log_info("one");
    log_warn("two");
    log_shutdown();
    assert_int_equal(raw.calls, 2);
    assert_int_equal(raw.with_text, 0);
    assert_int_equal(formatted.calls, 2);
    assert_int_equal(formatted.with_text, 2);
    assert_string_equal(formatted.last_msg, "two");
}

/* One rule, whatever was logged before: the first sink added to the root
 * replaces the default output (stdout here), the next ones add to it. */
static void first_root_sink_case(int log_first)
{
    unsetenv("CTXLOG_OUTPUT");
    unsetenv("CTXLOG_CONFIG");
    unsetenv("CTXLOG_FORMAT");
    log_shutdown();
    char *out = ts_temp_path("default_stdout.log");
    ts_unlink(out);
    ts_capture cap = ts_capture_begin(1, out);
    cb_state a = {0}, b = {0};
    if (log_first)
        log_info("before");
    log_sink *sa = log_sink_callback(callback, &a);
    assert_int_equal(log_logger_add_sink(NULL, sa), 0);
    log_sink_release(sa);
    log_info("after");
    log_sink *sb = log_sink_callback(callback, &b);
    assert_int_equal(log_logger_add_sink(NULL, sb), 0);
    log_sink_release(sb);
    log_info("second");
    log_shutdown();
    ts_capture_end(&cap);

    json_t *recs = ts_read_records(out);
    assert_int_equal(json_array_size(recs), log_first ? 1 : 0);
    if (log_first)
        assert_string_equal(json_string_value(json_object_get(json_array_get(recs, 0), "msg")),
                            "before");
    assert_int_equal(a.calls, 2);
    assert_string_equal(a.last_msg, "second");
    assert_int_equal(b.calls, 1);
    json_decref(recs);
    ts_unlink(out);
    free(out);
}

static void test_sinks__first_root_sink_replaces_default_logged_before(void **state)
{
    (void)state;
    first_root_sink_case(1);
}

static void test_sinks__first_root_sink_replaces_default_nothing_logged(void **state)
{
    (void)state;
    first_root_sink_case(0);
}

/* An output the application chose is not the default: a sink added to the
 * root after log_output_set() or log_configure_env() adds to it. */
static void test_sinks__root_sink_adds_to_a_chosen_output(void **state)
{
    (void)state;
    for (int how = 0; how < 2; how++) {
        char *out = ts_temp_path("chosen.log");
        ts_unlink(out);
        if (how == 0) {
            assert_int_equal(log_output_set(out), 0);
        } else {
            setenv("CTXLOG_OUTPUT", out, 1);
            assert_int_equal(log_configure_env(), 0);
            unsetenv("CTXLOG_OUTPUT");
        }
        cb_state a = {0};
        log_sink *sa = log_sink_callback(callback, &a);
        assert_int_equal(log_logger_add_sink(NULL, sa), 0);
        log_sink_release(sa);
        log_info("both");
        log_shutdown();
        json_t *recs = ts_read_records(out);
        assert_int_equal(json_array_size(recs), 1);
        assert_string_equal(json_string_value(json_object_get(json_array_get(recs, 0), "msg")),
                            "both");
        assert_int_equal(a.calls, 1);
        json_decref(recs);
        ts_unlink(out);
        free(out);
    }
}

static void *last_error_of_thread(void *arg)
{
    (void)arg;
    return (void *)ctxlog_last_error();
}

/* A file sink that cannot be opened says why and which path: the code
 * (ENOENT apart), ctxlog_strerror, ctxlog_last_error (per thread, cleared
 * by a success) and errno. */
static void test_sinks__file_open_error_names_path(void **state)
{
    (void)state;
    log_sink *s = NULL;
    errno = 0;
    assert_int_equal(log_sink_file(&s, "/nonexistent-dir/sub/app.log", NULL), CTXLOG_ENOENT);
    assert_int_equal(errno, ENOENT);
    assert_null(s);
    assert_string_equal(ctxlog_strerror(CTXLOG_ENOENT), "no such file or directory");
    assert_string_equal(ctxlog_last_error(),
                        "cannot open log file '/nonexistent-dir/sub/app.log': "
                        "No such file or directory");
    /* Per thread: another thread has none. */
    pthread_t t;
    void *other = (void *)1;
    assert_int_equal(pthread_create(&t, NULL, last_error_of_thread, NULL), 0);
    assert_int_equal(pthread_join(t, &other), 0);
    assert_null(other);

    /* Another reason: EIO, and the detail says which. A directory cannot
     * be opened for writing. */
    char *dir = ts_temp_path("");
    assert_int_equal(log_sink_file(&s, dir, NULL), CTXLOG_EIO);
    assert_int_equal(errno, EISDIR);
    char want[512];
    snprintf(want, sizeof want, "cannot open log file '%s': %s", dir, strerror(EISDIR));
    assert_string_equal(ctxlog_last_error(), want);

    /* A success clears it. */
    char *ok = ts_temp_path("opened.log");
    assert_int_equal(log_sink_file(&s, ok, NULL), 0);
    assert_null(ctxlog_last_error());
    log_sink_release(s);
    ts_unlink(ok);
    free(ok);
    free(dir);
}

static void on_sighup(int sig)
{
    (void)sig;
    log_reopen_request();
}

static void test_sinks__reopen_after_move(void **state)
{
    (void)state;
    char *path = ts_temp_path("reopen.log");
    char *moved = ts_temp_path("reopen.log.moved");
    log_sink *s = file_sink(path, NULL);
    log_logger_add_sink(NULL, s);
    log_sink_release(s);
    log_info("before");
    assert_int_equal(rename(path, moved), 0); /* what logrotate does */
    log_info("still to the moved file");
    assert_int_equal(log_reopen(), 0);
    log_info("after reopen");
    assert_int_equal(rename(path, moved), 0);
    /* from a SIGHUP handler: a request, honoured at the next write */
    signal(SIGHUP, on_sighup);
    raise(SIGHUP);
    signal(SIGHUP, SIG_DFL);
    log_info("after request");
    log_shutdown();
    json_t *r = ts_read_records(path);
    assert_int_equal(json_array_size(r), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(r, 0), "msg")),
                        "after request");
    json_decref(r);
    r = ts_read_records(moved);
    assert_int_equal(json_array_size(r), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(r, 0), "msg")),
                        "after reopen");
    json_decref(r);
    free(path);
    free(moved);
}

static void test_sinks__bad_arguments(void **state)
{
    (void)state;
    log_sink *s = NULL;
    assert_int_equal(log_sink_file(&s, NULL, NULL), CTXLOG_EINVAL);
    assert_int_equal(log_sink_file(&s, "", NULL), CTXLOG_EINVAL);
    assert_int_equal(log_sink_file(NULL, "/tmp/x", NULL), CTXLOG_EINVAL);
    assert_int_equal(log_sink_file(&s, "/nonexistent-dir/x.log", NULL), CTXLOG_ENOENT);
    log_file_options bad = {.max_bytes = 100, .backups = 0};
    assert_int_equal(log_sink_file(&s, "/tmp/x.log", &bad), CTXLOG_EINVAL);
    assert_int_equal(log_sink_set_level(NULL, LOG_LEVEL_INFO), CTXLOG_EINVAL);
    assert_int_equal(log_logger_add_sink(NULL, NULL), CTXLOG_EINVAL);
    log_sink_release(NULL);
    log_formatter_release(NULL);
}

#define ROT_THREADS 4
#define ROT_RECORDS 5000

static void *rot_writer(void *p)
{
    int id = (int)(intptr_t)p;
    for (int i = 0; i < ROT_RECORDS; i++)
        log_info_kv("rotating", LOG_I64("writer", id), LOG_I64("i", i));
    return NULL;
}

/* 20,000 records of ~170 bytes through a 64 KiB file with 100 backups:
 * every record is found exactly once, whole, across the rotated files. */
static void test_sinks__rotation_under_concurrent_writers(void **state)
{
    (void)state;
    char *path = ts_temp_path("rot.log");
    char name[512];
    for (unsigned k = 0; k <= 101; k++) {
        snprintf(name, sizeof name, k ? "%s.%u" : "%s", path, k);
        ts_unlink(name);
    }
    log_file_options o = {.max_bytes = 64 * 1024, .backups = 100};
    log_sink *s = file_sink(path, &o);
    log_logger_add_sink(NULL, s);
    log_sink_release(s);
    pthread_t th[ROT_THREADS];
    for (int i = 0; i < ROT_THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, rot_writer, (void *)(intptr_t)i), 0);
    for (int i = 0; i < ROT_THREADS; i++)
        pthread_join(th[i], NULL);
    log_shutdown();

    unsigned char *seen = calloc(ROT_THREADS * ROT_RECORDS, 1);
    size_t total = 0;
    unsigned files = 0;
    for (unsigned k = 0; k <= 101; k++) {
        snprintf(name, sizeof name, k ? "%s.%u" : "%s", path, k);
        struct stat st;
        if (stat(name, &st) != 0)
            continue;
        files++;
        assert_true(k <= 100);
        assert_true((size_t)st.st_size <= o.max_bytes);
        json_t *recs = ts_read_records(name);
        size_t i;
        json_t *r;
        json_array_foreach(recs, i, r) {
            json_int_t w = json_integer_value(json_object_get(r, "writer"));
            json_int_t n = json_integer_value(json_object_get(r, "i"));
            assert_true(w >= 0 && w < ROT_THREADS && n >= 0 && n < ROT_RECORDS);
            assert_int_equal(seen[w * ROT_RECORDS + n], 0);
            seen[w * ROT_RECORDS + n] = 1;
            total++;
        }
        json_decref(recs);
        ts_unlink(name);
    }
    assert_true(files > 10);
    assert_int_equal(total, ROT_THREADS * ROT_RECORDS);
    free(seen);
    free(path);
}

static void test_sinks__rotation_keeps_n_backups(void **state)
{
    (void)state;
    char *path = ts_temp_path("keep.log");
    char name[512];
    for (unsigned k = 0; k <= 4; k++) {
        snprintf(name, sizeof name, k ? "%s.%u" : "%s", path, k);
        ts_unlink(name);
    }
    log_file_options o = {.max_bytes = 1000, .backups = 3};
    log_sink *s = file_sink(path, &o);
    log_logger_add_sink(NULL, s);
    log_sink_release(s);
    for (int i = 0; i < 100; i++)
        log_info_kv("r", LOG_I64("i", i));
    log_shutdown();
    /* the newest records are in path, then .1, .2, .3; .4 never exists */
    json_int_t newest_prev = 1000;
    for (unsigned k = 0; k <= 3; k++) {
        snprintf(name, sizeof name, k ? "%s.%u" : "%s", path, k);
        json_t *recs = ts_read_records(name);
        assert_true(json_array_size(recs) > 0);
        json_int_t last = json_integer_value(
            json_object_get(json_array_get(recs, json_array_size(recs) - 1), "i"));
        assert_true(last < newest_prev);
        newest_prev = json_integer_value(json_object_get(json_array_get(recs, 0), "i"));
        json_decref(recs);
        ts_unlink(name);
    }
    snprintf(name, sizeof name, "%s.4", path);
    assert_int_equal(access(name, F_OK), -1);
    free(path);
}

/* A route of the context filter and one buffered JSON file sink writes
 * records of a shape the thread wrote just before without making a record
 * (log_core.c, cached_line_record). Everything that changes what a record
 * becomes must still apply to those: the sink's level, a filter added to
 * the route, a child logger's bound fields. */
static log_filter_result drop_marked(log_record *rec, void *payload)
{
    (void)payload;
    for (size_t i = 0; i < rec->n_fields; i++)
        if (strcmp(rec->fields[i].key, "n") == 0 && rec->fields[i].v.i64 % 2)
            return LOG_FILTER_DROP; /* odd n */
    return LOG_FILTER_KEEP;
}

static void test_sinks__replay_route_follows_changes(void **state)
{
    (void)state;
    char *path = ts_temp_path("replay.log");
    log_sink *s = file_sink(path, NULL);
    log_logger_add_sink(NULL, s);
    log_level_set(LOG_LEVEL_INFO);
    (void)ctx_set(CTX_REQUEST_ID, "q-1");
    long n = 0;
    for (int i = 0; i < 5; i++) /* the shape, learned */
        log_info_kv("same shape", LOG_I64("n", n++));
    assert_int_equal(log_sink_set_level(s, LOG_LEVEL_WARN), 0);
    for (int i = 0; i < 5; i++)
        log_info_kv("same shape", LOG_I64("n", 1000 + i)); /* below the sink: none */
    assert_int_equal(log_sink_set_level(s, LOG_LEVEL_TRACE), 0);
    for (int i = 0; i < 5; i++)
        log_info_kv("same shape", LOG_I64("n", n++));
    assert_int_equal(log_logger_add_filter(NULL, drop_marked, NULL), 0);
    for (int i = 0; i < 6; i++, n++)
        log_info_kv("same shape", LOG_I64("n", n)); /* the odd ones dropped */
    assert_int_equal(log_logger_clear_filters(NULL), 0);
    const log_field binds[] = {LOG_STR("bound", "yes")};
    log_logger *child = log_logger_child(log_get("root"), binds, 1);
    assert_non_null(child);
    for (int i = 0; i < 3; i++)
        log_info_kv_to(child, "same shape", LOG_I64("n", n++));
    for (int i = 0; i < 3; i++)
        log_info_kv("same shape", LOG_I64("n", n++));
    log_logger_free(child);
    log_sink_release(s);
    (void)ctx_set(CTX_REQUEST_ID, NULL);
    log_shutdown();

    json_t *recs = ts_read_records(path);
    long want = 0;
    size_t k = 0;
    for (; k < json_array_size(recs); k++) {
        json_t *r = json_array_get(recs, k);
        while (want >= 10 && want < 16 && want % 2) /* dropped by the filter */
            want++;
        assert_int_equal(json_integer_value(json_object_get(r, "n")), want);
        assert_string_equal(json_string_value(json_object_get(r, "request_id")), "q-1");
        int bound = want >= 16 && want < 19;
        assert_int_equal(json_object_get(r, "bound") != NULL, bound);
        want++;
    }
    assert_int_equal(k, 5 + 5 + 3 + 3 + 3);
    json_decref(recs);
    ts_unlink(path);
    free(path);
}

/* ---- configuration calls from inside a record ---------------------------------- */

/* What the calls made from a filter or a callback sink returned. Before
 * CTXLOG_EBUSY the first call that changes a route waited forever for the
 * calling thread's own pin: these tests hung (run under `timeout`). */
static struct {
    int done;
    int rc[16];
    int n;
    const char *cfg;   /* a valid configuration file */
    const char *other; /* a path log_output_set must not create */
    log_sink *extra;
    int calls;         /* of the callback sink */
    int texts_ok;      /* its texts that parsed as the record's JSON */
} inner;

/* The documented answers, in the order inner_calls() makes the calls:
 * levels, flushing and reopening work; what replaces sinks, filters or the
 * configuration is refused. */
static const int inner_want[] = {
    0,            /* log_level_set */
    0,            /* log_logger_set_level */
    0,            /* log_flush */
    0,            /* log_reopen */
    CTXLOG_EBUSY, /* log_logger_add_sink */
    CTXLOG_EBUSY, /* log_logger_clear_sinks */
    CTXLOG_EBUSY, /* log_logger_set_additive */
    CTXLOG_EBUSY, /* log_logger_add_filter */
    CTXLOG_EBUSY, /* log_logger_clear_filters */
    CTXLOG_EBUSY, /* log_config_load */
    CTXLOG_EBUSY, /* log_output_set */
    CTXLOG_EBUSY, /* log_configure_env */
};

static log_filter_result keep_all(log_record *rec, void *payload)
{
    (void)rec;
    (void)payload;
    return LOG_FILTER_KEEP;
}

/* Every configuration call, once (on the first record). No cmocka assert
 * here: a jump out of a record would leave its route pinned. */
static void inner_calls(void)
{
    if (inner.done)
        return;
    inner.done = 1;
    int k = 0;
    inner.rc[k++] = log_level_set(LOG_LEVEL_DEBUG);
    inner.rc[k++] = log_logger_set_level(log_get("app.inner"), LOG_LEVEL_WARN);
    inner.rc[k++] = log_flush();
    inner.rc[k++] = log_reopen();
    inner.rc[k++] = log_logger_add_sink(NULL, inner.extra);
    inner.rc[k++] = log_logger_clear_sinks(NULL);
    inner.rc[k++] = log_logger_set_additive(log_get("app.inner"), false);
    inner.rc[k++] = log_logger_add_filter(NULL, keep_all, NULL);
    inner.rc[k++] = log_logger_clear_filters(NULL);
    log_config_error err;
    inner.rc[k++] = log_config_load(inner.cfg, &err);
    inner.rc[k++] = log_output_set(inner.other);
    inner.rc[k++] = log_configure_env();
    inner.n = k;
    /* No result to check: they must return, and change nothing. */
    log_context_filter_enable(true);
    log_shutdown();
}

static log_filter_result calling_filter(log_record *rec, void *payload)
{
    (void)rec;
    (void)payload;
    inner_calls();
    return LOG_FILTER_KEEP;
}

static void calling_sink(const log_record *rec, const char *text, size_t len, void *payload)
{
    (void)payload;
    inner_calls();
    inner.calls++;
    json_t *j = text ? json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
    const char *msg = json_string_value(json_object_get(j, "msg"));
    if (msg && strlen(msg) == rec->msg_len && memcmp(msg, rec->msg, rec->msg_len) == 0)
        inner.texts_ok++;
    json_decref(j);
}

/* Run inner_calls() from the first record, through a filter (use_filter) or
 * a callback sink, with a file sink on the root; then check the answers and
 * that the configuration is the one from before (plus the levels). */
static void check_calls_from_inside(int use_filter)
{
    char *out = ts_temp_path("inner.log"), *extra = ts_temp_path("inner-extra.log"),
         *other = ts_temp_path("inner-other.log"), *cfg = ts_temp_path("inner.json");
    ts_unlink(other);
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    fprintf(f, "{\"level\": \"error\", \"loggers\": {\"root\": {\"sinks\": []}}}");
    assert_int_equal(fclose(f), 0);
    memset(&inner, 0, sizeof inner);
    inner.cfg = cfg;
    inner.other = other;
    inner.extra = file_sink(extra, NULL);
    log_sink *s_out = file_sink(out, NULL);
    assert_int_equal(log_logger_add_sink(NULL, s_out), 0);
    log_sink_release(s_out);
    log_sink *cb = NULL;
    if (use_filter) {
        assert_int_equal(log_logger_add_filter(NULL, calling_filter, NULL), 0);
    } else {
        cb = log_sink_callback(calling_sink, NULL);
        assert_non_null(cb);
        log_formatter *json = log_formatter_json(NULL);
        assert_int_equal(log_sink_set_formatter(cb, json), 0);
        log_formatter_release(json);
        assert_int_equal(log_logger_add_sink(NULL, cb), 0);
        log_sink_release(cb);
    }
    uint64_t dropped = log_dropped_count();

    log_info("first");
    log_info("second");

    assert_int_equal(inner.n, (int)(sizeof inner_want / sizeof inner_want[0]));
    for (int k = 0; k < inner.n; k++) {
        if (inner.rc[k] != inner_want[k])
            fail_msg("call %d from a %s returned %d (%s), not %d", k,
                     use_filter ? "filter" : "callback sink", inner.rc[k],
                     ctxlog_strerror(inner.rc[k]), inner_want[k]);
    }
    assert_string_equal(ctxlog_strerror(CTXLOG_EBUSY),
                        "not allowed from a filter, a callback sink or a sink operation, or while in use");
    /* The levels changed; nothing else did. */
    assert_int_equal(log_level_get(), LOG_LEVEL_DEBUG);
    assert_int_equal(log_logger_level(log_get("app.inner")), LOG_LEVEL_WARN);
    log_debug("third"); /* at the new root level */
    assert_int_equal(log_flush(), 0);
    json_t *recs = ts_read_records(out);
    assert_int_equal(json_array_size(recs), 3);
    const char *want[] = {"first", "second", "third"};
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(json_string_value(json_object_get(json_array_get(recs, i), "msg")),
                            want[i]);
    json_decref(recs);
    if (!use_filter) {
        assert_int_equal(inner.calls, 3);
        assert_int_equal(inner.texts_ok, 3);
    }
    assert_int_equal(log_dropped_count(), dropped);
    size_t len = 1;
    char *text = ts_read_file(extra, &len);
    assert_int_equal(len, 0); /* the extra sink was never added */
    free(text);
    assert_int_not_equal(access(other, F_OK), 0); /* log_output_set opened nothing */

    log_sink_release(inner.extra);
    assert_int_equal(log_logger_clear_filters(NULL), 0);
    assert_int_equal(log_logger_set_level(log_get("app.inner"), LOG_LEVEL_INHERIT), 0);
    ts_unlink(out);
    ts_unlink(extra);
    ts_unlink(cfg);
    free(out);
    free(extra);
    free(other);
    free(cfg);
}

static void test_sinks__configuration_from_a_filter(void **state)
{
    (void)state;
    check_calls_from_inside(1);
}

static void test_sinks__configuration_from_a_callback_sink(void **state)
{
    (void)state;
    check_calls_from_inside(0);
}

/* ---- a pipe whose reader has gone -------------------------------------------------- */

#define PIPE_LATE 100

/* Read up to '\n' from fd into buf (NUL-terminated); the length. */
static size_t read_line(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap && read(fd, buf + n, 1) == 1 && buf[n] != '\n')
        n++;
    buf[n] = '\0';
    return n;
}

/* Like `prog | head -1`: the child logs to stdout, a pipe; the parent reads
 * one line and closes its end, then the child logs PIPE_LATE more records.
 * The child must live on (not killed by SIGPIPE), with those records
 * counted as dropped, in either mode. */
static void closed_pipe(bool async)
{
    int out[2], go[2], report[2];
    assert_int_equal(pipe(out), 0);
    assert_int_equal(pipe(go), 0);
    assert_int_equal(pipe(report), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(out[0]);
        close(go[1]);
        close(report[0]);
        signal(SIGPIPE, SIG_DFL); /* what a program gets by default */
        if (dup2(out[1], STDOUT_FILENO) < 0)
            _exit(3);
        close(out[1]);
        log_sink *s = log_sink_stdout();
        if (!s || log_logger_clear_sinks(NULL) != 0 || log_logger_add_sink(NULL, s) != 0 ||
            log__async_set(async, 0, false) != 0)
            _exit(4);
        log_level_set(LOG_LEVEL_INFO);
        log_info_kv("first", LOG_I64("i", 0));
        (void)log_flush();
        char c;
        if (read(go[0], &c, 1) != 1) /* the parent has closed its end */
            _exit(5);
        for (int i = 1; i <= PIPE_LATE; i++)
            log_info_kv("late", LOG_I64("i", i));
        (void)log_flush();
        char line[64];
        int len = snprintf(line, sizeof line, "%llu\n", (unsigned long long)log_dropped_count());
        if (write(report[1], line, (size_t)len) != len)
            _exit(6);
        _exit(0);
    }
    close(out[1]);
    close(go[0]);
    close(report[1]);
    char buf[4096];
    size_t n = read_line(out[0], buf, sizeof buf);
    json_error_t err;
    json_t *rec = json_loadb(buf, n, JSON_REJECT_DUPLICATES, &err);
    if (!json_is_object(rec))
        fail_msg("the first line is not a JSON object: %s", err.text);
    assert_string_equal(json_string_value(json_object_get(rec, "msg")), "first");
    json_decref(rec);
    close(out[0]); /* the reader goes */
    assert_int_equal(write(go[1], "x", 1), 1);
    close(go[1]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status))
        fail_msg("%s mode: the child was killed by signal %d", async ? "async" : "sync",
                 WTERMSIG(status));
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    n = read_line(report[0], buf, sizeof buf);
    close(report[0]);
    assert_true(n > 0);
    /* The first record was read; every later one was dropped, and counted. */
    assert_int_equal(strtoull(buf, NULL, 10), PIPE_LATE);
}

static void test_sinks__closed_pipe_counts_drops_sync(void **state)
{
    (void)state;
    closed_pipe(false);
}

static void test_sinks__closed_pipe_counts_drops_async(void **state)
{
    (void)state;
    closed_pipe(true);
}

/* ---- a full disk ---------------------------------------------------------------------- */

#define DISK_FULL_RECORDS 40000
#define DISK_FREED_RECORDS 1000

static char *disk_dir;     /* the small file system's mount point */
static bool disk_mounted;

enum disk_mode { DISK_BUFFERED, DISK_WRITE_THROUGH, DISK_ASYNC };

struct disk_count {
    size_t full, freed;
};

static void count_disk_record(json_t *rec, struct disk_count *c)
{
    const char *msg = json_string_value(json_object_get(rec, "msg"));
    assert_non_null(msg);
    if (strcmp(msg, "full") == 0)
        c->full++;
    else if (strcmp(msg, "freed") == 0)
        c->freed++;
    else
        fail_msg("unexpected record '%s'", msg);
}

/* Fill the small file system `dir` with records (a filler file takes some
 * room first), free the filler's room, log some more: every line of the
 * file must be a whole record, and lines + drops = records logged. */
static void full_disk(const char *dir, enum disk_mode mode)
{
    char path[512], filler[512];
    snprintf(path, sizeof path, "%s/app.log", dir);
    snprintf(filler, sizeof filler, "%s/filler", dir);
    int fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    static char block[64 * 1024];
    memset(block, 'x', sizeof block);
    for (int i = 0; i < 4; i++)
        assert_int_equal(write(fd, block, sizeof block), (ssize_t)sizeof block);
    close(fd);

    log_sink *s = NULL;
    log_file_options opts = {.write_through = mode == DISK_WRITE_THROUGH};
    assert_int_equal(log_sink_file(&s, path, &opts), 0);
    assert_int_equal(log_logger_clear_sinks(NULL), 0);
    assert_int_equal(log_logger_add_sink(NULL, s), 0);
    log_level_set(LOG_LEVEL_INFO);
    assert_int_equal(log__async_set(mode == DISK_ASYNC, 0, false), 0);
    uint64_t dropped_before = log_dropped_count();
    for (long i = 0; i < DISK_FULL_RECORDS; i++)
        log_info_kv("full", LOG_I64("i", i));
    assert_int_equal(log_flush(), CTXLOG_EIO); /* the disk is full */
    assert_int_equal(unlink(filler), 0);
    for (long i = 0; i < DISK_FREED_RECORDS; i++)
        log_info_kv("freed", LOG_I64("i", i));
    assert_int_equal(log_flush(), 0);
    assert_int_equal(log__async_set(false, 0, false), 0);
    uint64_t dropped = log_dropped_count() - dropped_before;

    size_t len = 0, lines = 0;
    struct disk_count c = {0, 0};
    char *text = ts_read_file(path, &len);
    assert_non_null(text);
    for (char *p = text, *end = text + len; p < end; lines++) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            fail_msg("mode %d: the file ends inside a record (line %zu)", (int)mode, lines + 1);
        json_error_t err;
        json_t *rec = json_loadb(p, (size_t)(nl - p), JSON_REJECT_DUPLICATES, &err);
        if (!json_is_object(rec))
            fail_msg("mode %d: line %zu is not a JSON object: %s", (int)mode, lines + 1,
                     err.text);
        count_disk_record(rec, &c);
        json_decref(rec);
        p = nl + 1;
    }
    free(text);
    print_message("mode %d: %zu lines (%zu + %zu), %llu dropped\n", (int)mode, lines, c.full,
                  c.freed, (unsigned long long)dropped);
    assert_true(dropped > 0);
    assert_int_equal(c.freed, DISK_FREED_RECORDS); /* written again once there is room */
    assert_int_equal(lines + dropped, DISK_FULL_RECORDS + DISK_FREED_RECORDS);
    assert_int_equal(log_logger_clear_sinks(NULL), 0);
    log_sink_release(s);
    assert_int_equal(unlink(path), 0);
}

static void test_sinks__full_disk_leaves_whole_records(void **state)
{
    (void)state;
    if (geteuid() != 0) {
        print_message("not root: cannot mount a small file system; skipped\n");
        skip();
    }
    disk_dir = ts_temp_path("small");
    assert_int_equal(mkdir(disk_dir, 0700), 0);
    if (mount("tmpfs", disk_dir, "tmpfs", 0, "size=2m") != 0) {
        print_message("cannot mount a tmpfs (%s); skipped\n", strerror(errno));
        skip();
    }
    disk_mounted = true;
    full_disk(disk_dir, DISK_BUFFERED);
    full_disk(disk_dir, DISK_WRITE_THROUGH);
    full_disk(disk_dir, DISK_ASYNC);
}

/* The small file system goes, whether the test passed or not. */
static int teardown_disk(void **state)
{
    (void)log__async_set(false, 0, false);
    (void)log_logger_clear_sinks(NULL);
    if (disk_mounted && umount(disk_dir) != 0)
        print_message("cannot unmount %s: %s\n", disk_dir, strerror(errno));
    disk_mounted = false;
    if (disk_dir)
        rmdir(disk_dir);
    free(disk_dir);
    disk_dir = NULL;
    return teardown(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sinks__levels_per_sink_and_additivity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sinks__callback_sink, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sinks__file_open_error_names_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sinks__first_root_sink_replaces_default_logged_before,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_sinks__first_root_sink_replaces_default_nothing_logged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sinks__root_sink_adds_to_a_chosen_output, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sinks__reopen_after_move, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sinks__bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sinks__rotation_under_concurrent_writers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sinks__rotation_keeps_n_backups, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sinks__replay_route_follows_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sinks__configuration_from_a_filter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sinks__closed_pipe_counts_drops_sync, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sinks__closed_pipe_counts_drops_async, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sinks__full_disk_leaves_whole_records, setup,
                                        teardown_disk),
        cmocka_unit_test_setup_teardown(test_sinks__configuration_from_a_callback_sink, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
