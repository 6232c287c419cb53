/* SPDX-License-Identifier: MIT */
/* The sink object: what every kind has in common (refcounting, level,
 * formatter) and how a record reaches a sink. Each kind is in a file of
 * its own (sink_ops.h). */
#include "log/sinks/sink_ops.h"

#include "log/base/log_hazard.h"
#include "log/base/log_lane.h"

#include <stdlib.h>
#include <string.h>

#include "formatters/fmt_formatter.h"

log_sink *log__sink_new(const log__sink_ops *ops, size_t size, const char *name)
{
    assert(ops && size >= sizeof(log_sink));
    /* A sink takes either records or lines. */
    assert(!ops->record != !ops->write_lines);
    /* A sink that builds its units writes them one by one, in both modes. */
    assert(!ops->build || (ops->write_lines && ops->writev));
    /* Its own reports of losses are for such a sink only. */
    assert(!ops->lost || ops->build);
    log_sink *s = calloc(1, size);
    char *copy = s ? strdup(name) : NULL;
    if (!copy) {
        free(s);
        return NULL;
    }
    s->ops = ops;
    atomic_init(&s->refs, 1);
    atomic_init(&s->level, LOG_LEVEL_TRACE);
    s->name = copy;
    pthread_mutex_init(&s->lock, NULL);
    return s;
}

int log_sink_set_level(log_sink *s, log_level level)
{
    if (!s || (int)level < LOG_LEVEL_TRACE || level > LOG_LEVEL_OFF)
        return CTXLOG_EINVAL;
    atomic_store_explicit(&s->level, (int)level, memory_order_relaxed);
    log__lanes_changed(); /* a lane may hold the sink's level */
    return 0;
}

int log_sink_set_formatter(log_sink *s, log_formatter *f)
{
    if (!s)
        return CTXLOG_EINVAL;
    /* Records read the formatter without a lock: it is fixed from the
     * moment the sink is attached. */
    if (atomic_load(&s->attached))
        return CTXLOG_ESTATE;
    log_formatter *old = s->formatter;
    s->formatter = fmt_formatter_retain(f);
    s->json = fmt_formatter_json_options(s->formatter);
    log_formatter_release(old);
    return 0;
}

log_sink *log__sink_ref(log_sink *s)
{
    if (s)
        atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    return s;
}

/* Sinks released inside a user's sink operation, freed by the next
 * log_flush(), log_shutdown() or release outside one. */
static _Atomic(log_sink *) deferred;

static void sink_free(log_sink *s);

void log__sinks_release_deferred(void)
{
    if (log__in_sink_op() || !atomic_load_explicit(&deferred, memory_order_relaxed))
        return;
    log_sink *s = atomic_exchange(&deferred, NULL);
    while (s) {
        log_sink *next = s->defer_next;
        sink_free(s);
        s = next;
    }
}

void log_sink_release(log_sink *s)
{
    if (!s || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1) {
        log__sinks_release_deferred();
        return;
    }
    /* The operation's thread holds its sink's lock, maybe the registry of
     * sinks: unregistering now would wait for itself. No route uses the
     * sink any more, so it may wait (registered, its buffer kept). */
    if (s->registered && log__in_sink_op()) {
        s->defer_next = atomic_load_explicit(&deferred, memory_order_relaxed);
        while (!atomic_compare_exchange_weak(&deferred, &s->defer_next, s))
            ;
        return;
    }
    sink_free(s);
    log__sinks_release_deferred();
}

static void sink_free(log_sink *s)
{
    if (s->registered) {
        log__sink_unregister(s);
        if (s->buffered)
            log__tbufs_detach(s); /* no thread buffer keeps a pointer to it */
        log__sink_flush(s); /* no route uses it: nothing can be queued for it */
        free(s->buf);
    }
    if (s->ops->close)
        s->ops->close(s);
    log_formatter_release(s->formatter);
    pthread_mutex_destroy(&s->lock);
    free(s->name);
    free(s);
}

int log__sink_build(log_sink *s, const log_record *r, const char *text, size_t len, fmt_buf *b)
{
    static atomic_flag said = ATOMIC_FLAG_INIT;
    assert(s->ops->build);
    fmt_buf_clear(b);
    s->ops->build(s, r, text, len, b);
    if (!b->oom) {
        assert(b->len > 0); /* a unit is never empty */
        return 0;
    }
    log__count_dropped(1);
    if (!atomic_flag_test_and_set(&said))
        log__report("out of memory building a record for %s; it is lost (log_dropped_count())",
                    s->name);
    return -1;
}

void log__sink_write(log_sink *s, const log_record *r, const char *text, size_t len)
{
    /* A unit (sink_ops.h) is never buffered: it goes out at once. */
    assert(!s->ops->build || !s->buffered);
    if (__builtin_expect(s->ops->record != NULL, 0)) {
        s->ops->record(s, r, text, len);
        return;
    }
    if (len == 0)
        return; /* no formatter, or one that wrote nothing: no line */
    int urgent = r->level >= LOG_LEVEL_ERROR;
    if (s->buffered) {
        log__tbuf_put(s, text, len, urgent);
    } else {
        log__sink_put(s, text, len, urgent ? LOG__PUT_URGENT : LOG__PUT_SYNC);
    }
}
