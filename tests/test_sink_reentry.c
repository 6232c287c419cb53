/* SPDX-License-Identifier: MIT */
/*
 * Public calls made from inside a user's sink operation (log_sink_custom),
 * in sync mode (on the logging thread or the background thread) and in
 * async mode (on the writer thread): each works or returns CTXLOG_EBUSY,
 * and none waits for the thread that makes it. A call that hung would hang
 * this test (ctest's timeout fails it).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include <ctxlog/ctxlog.h>

#include "log/log_internal.h"
#include "support.h"

/* What the operations saw, under `lock`. */
typedef struct probe {
    pthread_mutex_t lock;
    char *data;
    size_t len;
    int calls_done;        /* the calls below were made (once) */
    int flush_rc, reopen_rc, add_sink_rc, clear_sinks_rc, config_rc, output_rc, env_rc;
    int limits_rc, file_rc, custom_rc, level_rc;
    int stdout_null;       /* log_sink_stdout() gave NULL */
    int flush_in_flush_rc; /* log_flush() from the flush operation */
    int flush_in_close_rc; /* log_flush() from the close operation */
    int flushes, closes;
    log_sink *to_release;  /* a sink whose last reference the write drops */
    char *path;            /* for log_sink_file: must not be created */
} probe;

static int other_closes; /* the released sink's close calls */

static void quiet_callback(const log_record *rec, const char *text, size_t len, void *payload)
{
    (void)rec;
    (void)text;
    (void)len;
    (void)payload;
}

static int other_write(void *state, const char *lines, size_t len)
{
    (void)state;
    (void)lines;
    (void)len;
    return 0;
}

static void other_close(void *state)
{
    (void)state;
    other_closes++;
}

static log_sink *other_sink(void)
{
    log_sink_ops ops = LOG_SINK_OPS_INIT;
    ops.write = other_write;
    ops.close = other_close;
    log_sink *s = NULL;
    assert_int_equal(log_sink_custom(&s, &ops, NULL), 0);
    return s;
}

/* Every call a transport might be tempted to make, once. */
static void make_calls(probe *p)
{
    p->flush_rc = log_flush();
    p->reopen_rc = log_reopen();
    log_sink *o = NULL;
    log_sink_ops ops = LOG_SINK_OPS_INIT;
    ops.write = other_write;
    p->custom_rc = log_sink_custom(&o, &ops, NULL);
    p->file_rc = log_sink_file(&o, p->path, NULL);
    p->stdout_null = log_sink_stdout() == NULL;
    log_sink *cb = log_sink_callback(quiet_callback, NULL);
    p->add_sink_rc = cb ? log_logger_add_sink(log_get("reentry.other"), cb) : -1000;
    log_sink_release(cb);
    p->clear_sinks_rc = log_logger_clear_sinks(NULL);
    p->config_rc = log_config_load(p->path, NULL);
    p->output_rc = log_output_set("stderr");
    p->env_rc = log_configure_env();
    p->limits_rc = log_limits_set(NULL);
    p->level_rc = log_level_set(LOG_LEVEL_TRACE);
    log_shutdown(); /* does nothing from here */
    log_sink_release(p->to_release); /* its last reference: freed later */
    p->to_release = NULL;
}

static int probe_write(void *state, const char *lines, size_t len)
{
    probe *p = state;
    pthread_mutex_lock(&p->lock);
    int first = !p->calls_done;
    p->calls_done = 1;
    char *d = realloc(p->data, p->len + len + 1);
    assert_non_null(d);
    p->data = d;
    memcpy(p->data + p->len, lines, len);
    p->len += len;
    p->data[p->len] = '\0';
    pthread_mutex_unlock(&p->lock);
    if (first)
        make_calls(p);
    return 0;
}

static int probe_flush(void *state)
{
    probe *p = state;
    p->flushes++;
    p->flush_in_flush_rc = log_flush();
    return 0;
}

static void probe_close(void *state)
{
    probe *p = state;
    p->closes++;
    p->flush_in_close_rc = log_flush();
}

static void probe_init(probe *p)
{
    memset(p, 0, sizeof *p);
    pthread_mutex_init(&p->lock, NULL);
    p->flush_in_flush_rc = p->flush_in_close_rc = 1;
    p->path = ts_temp_path("reentry.log");
    p->to_release = other_sink();
    other_closes = 0;
}

static void probe_free(probe *p)
{
    free(p->data);
    ts_unlink(p->path);
    free(p->path);
    pthread_mutex_destroy(&p->lock);
}

/* The root's only sink: the probe. */
static void use_probe(probe *p)
{
    log_sink_ops ops = LOG_SINK_OPS_INIT;
    ops.write = probe_write;
    ops.flush = probe_flush;
    ops.close = probe_close;
    log_sink *s = NULL;
    assert_int_equal(log_sink_custom(&s, &ops, p), 0);
    assert_int_equal(log_logger_clear_sinks(NULL), 0);
    assert_int_equal(log_logger_add_sink(NULL, s), 0);
    log_sink_release(s);
}

static size_t records_of(probe *p, const char *msg)
{
    size_t n = 0;
    pthread_mutex_lock(&p->lock);
    const char *q = p->data, *end = p->data + p->len;
    while (q && q < end) {
        const char *nl = memchr(q, '\n', (size_t)(end - q));
        assert_non_null(nl);
        json_error_t e;
        json_t *r = json_loadb(q, (size_t)(nl - q), JSON_REJECT_DUPLICATES, &e);
        if (!r)
            fail_msg("not JSON: %.*s (%s)", (int)(nl - q), q, e.text);
        const char *m = json_string_value(json_object_get(r, "msg"));
        assert_non_null(m);
        n += strcmp(m, msg) == 0;
        json_decref(r);
        q = nl + 1;
    }
    pthread_mutex_unlock(&p->lock);
    return n;
}

static int setup(void **state)
{
    (void)state;
    log_shutdown();
    log_level_set(LOG_LEVEL_INFO);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    (void)log__async_set(false, 0, false);
    (void)log_limits_set(NULL);
    log_shutdown();
    log_level_set(LOG_LEVEL_INFO);
    return 0;
}

static void reentry_case(bool async)
{
    static probe p;
    probe_init(&p);
    use_probe(&p);
    if (async)
        assert_int_equal(log__async_set(true, 0, false), 0);
    for (int i = 0; i < 50; i++)
        log_info_kv("reentry", LOG_I64("i", i));
    log_error("urgent"); /* written at once in sync mode */
    assert_int_equal(log_flush(), 0);
    assert_true(p.calls_done);

    /* What would wait for the operation's own thread says so. */
    assert_int_equal(p.flush_rc, CTXLOG_EBUSY);
    assert_int_equal(p.reopen_rc, CTXLOG_EBUSY);
    assert_int_equal(p.custom_rc, CTXLOG_EBUSY);
    assert_int_equal(p.file_rc, CTXLOG_EBUSY);
    assert_true(p.stdout_null);
    assert_int_equal(p.add_sink_rc, CTXLOG_EBUSY);
    assert_int_equal(p.clear_sinks_rc, CTXLOG_EBUSY);
    assert_int_equal(p.config_rc, CTXLOG_EBUSY);
    assert_int_equal(p.output_rc, CTXLOG_EBUSY);
    assert_int_equal(p.env_rc, CTXLOG_EBUSY);
    assert_int_equal(p.limits_rc, CTXLOG_EBUSY);
    /* What does not, works. */
    assert_int_equal(p.level_rc, 0);
    assert_int_equal(log_level_get(), LOG_LEVEL_TRACE);
    /* The sink released inside went at the next log_flush(), once. */
    assert_int_equal(other_closes, 1);
    /* log_flush() from the flush operation. */
    assert_true(p.flushes >= 1);
    assert_int_equal(p.flush_in_flush_rc, CTXLOG_EBUSY);
    /* log_shutdown() from inside did nothing: the probe is still the root's
     * sink, and every record is there once. */
    log_info("after");
    assert_int_equal(log_flush(), 0);
    assert_int_equal(records_of(&p, "reentry"), 50);
    assert_int_equal(records_of(&p, "urgent"), 1);
    assert_int_equal(records_of(&p, "after"), 1);
    assert_int_equal(access(p.path, F_OK), -1); /* log_sink_file made nothing */

    (void)log__async_set(false, 0, false);
    log_shutdown();
    assert_int_equal(p.closes, 1);
    assert_int_equal(p.flush_in_close_rc, CTXLOG_EBUSY);
    probe_free(&p);
}

static void test_sink_reentry__sync_calls_from_ops_work_or_say_busy(void **state)
{
    (void)state;
    reentry_case(false);
}

static void test_sink_reentry__async_calls_from_ops_work_or_say_busy(void **state)
{
    (void)state;
    reentry_case(true);
}

/* From a callback sink (inside a record, no sink's lock held) log_flush()
 * works, in both modes. */
static int cb_flush_rc = 1;
static void flushing_callback(const log_record *rec, const char *text, size_t len,
                              void *payload)
{
    (void)rec;
    (void)text;
    (void)len;
    (void)payload;
    cb_flush_rc = log_flush();
}

static void callback_case(bool async)
{
    char *path = ts_log_to_file("reentry_cb.log");
    if (async)
        assert_int_equal(log__async_set(true, 0, false), 0);
    log_sink *cb = log_sink_callback(flushing_callback, NULL);
    assert_non_null(cb);
    assert_int_equal(log_logger_add_sink(NULL, cb), 0);
    log_sink_release(cb);
    cb_flush_rc = 1;
    log_info("from the callback");
    assert_int_equal(cb_flush_rc, 0);
    (void)log__async_set(false, 0, false);
    json_t *recs = ts_log_collect(path);
    assert_int_equal(json_array_size(recs), 1);
    json_decref(recs);
}

static void test_sink_reentry__flush_from_callback_sink_works(void **state)
{
    (void)state;
    callback_case(false);
    callback_case(true);
}

/*
 * log_shutdown() from a filter returns at once and does nothing: the
 * record goes on to the sink it was routed to, the sinks stay (a record
 * after it goes to the same file, not to the CTXLOG_OUTPUT a fresh set-up
 * would read), nothing is deferred; log_shutdown() outside then does it.
 */
static int shutdowns_in_filter;

static log_filter_result shutdown_filter(log_record *rec, void *payload)
{
    (void)payload;
    if (strcmp(rec->msg, "shut down, please") == 0) {
        log_shutdown();
        shutdowns_in_filter++;
    }
    return LOG_FILTER_KEEP;
}

static void test_sink_reentry__shutdown_from_a_filter_does_nothing(void **state)
{
    (void)state;
    char *path = ts_log_to_file("reentry_shutdown.log");
    char *fresh = ts_temp_path("reentry_shutdown_env.log");
    ts_unlink(fresh);
    setenv("CTXLOG_OUTPUT", fresh, 1); /* read by a set-up afresh only */
    assert_int_equal(log_logger_add_filter(NULL, shutdown_filter, NULL), 0);
    log_info("before");
    log_info("shut down, please");
    log_info("after");
    assert_int_equal(shutdowns_in_filter, 1);
    assert_int_equal(log_flush(), 0);
    size_t len;
    char *text = ts_read_file(path, &len);
    assert_non_null(text);
    assert_non_null(strstr(text, "\"before\""));
    assert_non_null(strstr(text, "\"shut down, please\""));
    assert_non_null(strstr(text, "\"after\""));
    free(text);
    assert_int_equal(access(fresh, F_OK), -1); /* not set up afresh */
    /* Outside a record it does shut down: the next record sets up from
     * the environment. */
    assert_int_equal(log_logger_clear_filters(NULL), 0);
    log_shutdown();
    log_info("set up afresh");
    assert_int_equal(log_flush(), 0);
    unsetenv("CTXLOG_OUTPUT");
    json_t *recs = ts_log_collect(fresh);
    assert_int_equal(json_array_size(recs), 1);
    json_decref(recs);
    ts_unlink(path);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sink_reentry__sync_calls_from_ops_work_or_say_busy,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_sink_reentry__async_calls_from_ops_work_or_say_busy,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_sink_reentry__flush_from_callback_sink_works, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sink_reentry__shutdown_from_a_filter_does_nothing,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
