/* SPDX-License-Identifier: MIT */
/*
 * Set-up: the implicit configuration from the environment before the first
 * record, log_output_set, log_flush and log_shutdown.
 *
 * Before the first record the root's gate is at trace, so that any call
 * reaches log__ensure_init(); from then on the gate is the root's level.
 */
#include "log/log_internal.h"
#include "log/config/config_internal.h"
#include "log/log_policy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ctxlog/config.h>

static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
atomic_int log__initialized;
static int atexit_done;

/* A sink for "stdout", "stderr" or a path. With `fallback`, a file that
 * cannot be opened gives a stderr sink instead (after saying so). */
static int sink_for(const char *where, int fallback, log_sink **out)
{
    if (strcmp(where, "stdout") == 0)
        *out = log_sink_stdout();
    else if (strcmp(where, "stderr") == 0)
        *out = log_sink_stderr();
    else {
        int err = log_sink_file(out, where, NULL);
        if (err == CTXLOG_EIO || err == CTXLOG_ENOENT) {
            log__report("cannot open log file '%s': %s%s", where, strerror(errno),
                        fallback ? "; writing to stderr instead" : "");
            if (!fallback)
                return err;
            *out = log_sink_stderr();
        } else if (err) {
            return err;
        }
    }
    return *out ? 0 : CTXLOG_ENOMEM;
}

static void at_exit(void)
{
    /* Every buffer and queue, also those of sinks the application still
     * holds (the others are written out as log_shutdown frees them), and
     * the sinks' own flush: a transport that keeps records in a queue of
     * its own (syslog over TCP, the OTLP sink) delivers them, each within
     * its bound, instead of losing them with the process. */
    (void)log_flush();
    log_shutdown();
}

/* CTXLOG_ASYNC: 1 starts the writer, 0 stops it, unset leaves it be. */
static int async_from_env(void)
{
    const char *async = getenv("CTXLOG_ASYNC");
    if (!async || !*async)
        return 0;
    if (strcmp(async, "1") != 0 && strcmp(async, "0") != 0) {
        log__report("CTXLOG_ASYNC='%s' is not 0 or 1; ignored", async);
        return CTXLOG_ECONFIG;
    }
    /* Only the switch: the queue size and overflow policy stay those the
     * file (or the application) chose. */
    (void)log__async_turn(async[0] == '1');
    return 0;
}

/* Caller holds init_lock. `implicit`: the read before the first record,
 * which keeps what the application configured in code. */
static int configure_env_locked(int implicit)
{
    int rc = 0;
    log__fork_handlers_install();
    /* The background thread writes out what waits in the sinks' buffers. */
    log__sinks_set_flusher(log__writer_due);
    if (!atexit_done) {
        atexit_done = 1;
        atexit(at_exit);
    }
    const char *cfg = getenv("CTXLOG_CONFIG");
    if (cfg && *cfg) {
        /* log_config_load reports its own error line. */
        if (log_config_load(cfg, NULL) == 0)
            return async_from_env();
        log__report("CTXLOG_CONFIG: using the environment instead");
        rc = CTXLOG_ECONFIG;
    }
    const char *lv = getenv("CTXLOG_LEVEL");
    log_level level = LOG_LEVEL_INFO;
    if (lv && *lv && log_level_parse(lv, &level) != 0) {
        log__report("CTXLOG_LEVEL='%s' is not a level (trace, debug, info, warn, error, "
                    "fatal, off); using info", lv);
        level = LOG_LEVEL_INFO;
        rc = CTXLOG_ECONFIG;
    }
    const char *fmt = getenv("CTXLOG_FORMAT");
    log_formatter *f = NULL;
    if (fmt && *fmt && strcmp(fmt, "json") != 0) {
        if (strcmp(fmt, "console") == 0) {
            f = log_formatter_console(LOG_COLOR_AUTO);
        } else {
            log__report("CTXLOG_FORMAT='%s' is not a format (json, console); using json", fmt);
            rc = CTXLOG_ECONFIG;
        }
    }
    if (!implicit || !log__root_has_sinks()) {
        const char *where = getenv("CTXLOG_OUTPUT");
        log_sink *s = NULL;
        if (sink_for(where && *where ? where : "stdout", 1, &s) != 0)
            s = log_sink_stdout();
        if (s && f)
            (void)log_sink_set_formatter(s, f);
        if (s)
            (void)log__root_set_sink(s, implicit);
        log_sink_release(s);
    }
    log_formatter_release(f);
    if (!implicit || !log__level_chosen())
        (void)log__level_apply(level, 0);
    int arc = async_from_env();
    return rc ? rc : arc;
}

CTX__FORK_MUTEX(CTX__FORK_RANK_INIT, init_lock)

void log__init_slow(void)
{
    /* A record logged by a filter or a callback sink after another thread's
     * log_shutdown: its outputs cannot be set up from here (the routes are
     * in use by this thread). The next record logged outside one does it. */
    if (log__in_record())
        return;
    pthread_mutex_lock(&init_lock);
    if (!atomic_load(&log__initialized)) {
        (void)configure_env_locked(1);
        atomic_store_explicit(&log__initialized, 1, memory_order_release);
    }
    pthread_mutex_unlock(&init_lock);
}

int log_configure_env(void)
{
    /* Its changes would be refused one by one (and fall back to defaults). */
    if (log__in_record())
        return CTXLOG_EBUSY;
    pthread_mutex_lock(&init_lock);
    int rc = configure_env_locked(0);
    atomic_store_explicit(&log__initialized, 1, memory_order_release);
    pthread_mutex_unlock(&init_lock);
    return rc;
}

int log_output_set(const char *where)
{
    if (!where || !*where)
        return CTXLOG_EINVAL;
    /* Before the file is opened (created): the switch would be refused. */
    if (log__in_record())
        return CTXLOG_EBUSY;
    log__ensure_init();
    log_sink *s = NULL;
    int rc = sink_for(where, 0, &s);
    if (rc)
        return rc;
    log__error_detail_clear();
    rc = log__root_set_sink(s, 0);
    log_sink_release(s);
    return rc;
}

int log_flush(void)
{
    /* From a user's sink operation: the thread holds what the flush
     * waits for (that sink's lock, or it is the async writer). */
    if (log__in_sink_op())
        return CTXLOG_EBUSY;
    /* Summaries of ended intervals, then out with them. */
    log__limits_flush(false, log__write_owed, NULL);
    log__async_drain();
    (void)log__sinks_flush(0, 0);
    /* The sinks' own flush, after every buffer; a sink that failed (a
     * write, or a user transport's flush) has lost accepted records. */
    int rc = log__sinks_sync();
    log__sinks_release_deferred(); /* released by the operations just run */
    return rc;
}

void log_shutdown(void)
{
    /* From a filter or a callback sink the sinks cannot go (their routes
     * are in use by this very thread): do nothing rather than half of it. */
    if (log__in_record() || log__in_sink_op())
        return;
    log__sinks_release_deferred();
    log__limits_flush(false, log__write_owed, NULL);
    pthread_mutex_lock(&init_lock);
    /* Levels and filters stay; the sinks go, and are closed once no thread
     * uses the old routes. The next record sets outputs up afresh. */
    log__sinks_clear_all();
    atomic_store_explicit(&log__initialized, 0, memory_order_release);
    pthread_mutex_unlock(&init_lock);
}
