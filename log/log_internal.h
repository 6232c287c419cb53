/* SPDX-License-Identifier: MIT */
/*
 * Private structures of the logger core: loggers, their routes (the filters
 * and sinks a record of theirs goes through), levels, and how a logging call
 * reaches them safely while the configuration changes. The core calls the
 * async writer (log/async/async.h) and the sinks (log/sinks/sinks.h).
 *
 * A route is immutable once published. A logging call pins its logger's
 * route with a per-thread hazard pointer (no lock shared by all threads); a
 * configuration change publishes new routes, waits until no thread still
 * pins an old one, then releases it (closing sinks no route uses any more).
 */
#ifndef CTXLOG_LOG_INTERNAL_H
#define CTXLOG_LOG_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <ctxlog/ctx.h>
#include <ctxlog/log.h>
#include <ctxlog/sink.h>

#include "formatters/fmt_json.h"
#include "formatters/fmt_record.h"
#include "log/async/async.h"
#include "log/base/log_base.h"
#include "log/base/log_hazard.h"
#include "log/sinks/sinks.h"

/* ---- loggers and routes (log_logger.c) ---- */

typedef struct log__filter {
    log_filter_fn fn;
    void *payload;
} log__filter;

typedef struct log_route {
    unsigned nfilters;
    unsigned nsinks;
    bool ctx_only;        /* no filter but the context filter (first, if on):
                           * nothing can change a record's fields */
    log_sink *line_sink;  /* the one sink, when the route is the context
                           * filter and one buffered sink whose JSON records
                           * the line cache can write: records may take
                           * log__tbuf_line without being made (log_core.c) */
    log__filter *filters; /* root's first, then each ancestor's, then the logger's */
    log_sink **sinks;     /* one reference each */
} log_route;

struct log_logger {
    struct log__logger_head head; /* must stay first: read by the macros */
    const char *name;
    log_logger *owner;   /* the named logger (itself, or a child's parent) */
    log_logger *parent;  /* NULL for the root */
    int level;           /* own level or LOG_LEVEL_INHERIT (registry lock) */
    int effective;       /* what head.gate points to for named loggers */
    bool additive;
    log_sink **sinks;    /* own sinks (registry lock) */
    unsigned nsinks;
    log__filter *filters; /* own filters (registry lock) */
    unsigned nfilters;
    _Atomic(log_route *) route;
    log_field *bound;    /* child loggers: bound fields (owned copies) */
    size_t nbound;
    log_logger *next;    /* registry, in creation order (parents first) */
};

/* The root logger (log_logger.c). */
extern log_logger *const log__root_logger;
static inline log_logger *log__root(void)
{
    return log__root_logger;
}
/* One logger's part of a whole configuration (log__loggers_replace). */
typedef struct log__logger_conf {
    log_logger *lg;
    bool has_level;       /* else it inherits */
    log_level level;      /* not LOG_LEVEL_INHERIT for the root */
    bool has_additive;    /* else it is additive */
    bool additive;
    log_sink *const *sinks; /* added to what earlier entries of lg gave */
    size_t nsinks;
} log__logger_conf;

struct log__replace {
    log_level root_level; /* unless an entry of the root gives one */
    const log__logger_conf *confs;
    size_t n;
};

/* Replace the configuration of every logger at once: each back to the
 * defaults (inherits, is additive, has no sinks; the root at root_level),
 * then the entries applied; filters (and the context filter's switch)
 * stay. The levels and routes are published in one step. Returns 0,
 * CTXLOG_ENOMEM (nothing changed) or CTXLOG_EBUSY (from inside a record). */
int log__loggers_replace(const struct log__replace *conf);
/* Detach every sink of every logger (log_shutdown). */
void log__sinks_clear_all(void);
/* Replace the root's sinks by `s` (a reference is taken). `is_default`:
 * the default output of the implicit configuration, installed only when
 * the root has no sink, and replaced by the first log_logger_add_sink()
 * on the root. */
int log__root_set_sink(log_sink *s, int is_default);
int log__root_has_sinks(void);

/* ---- pinning a route (hazard slots: log/base/log_hazard.h) ---- */

/* Pin the route of `owner` for the calling thread; NULL when nested too
 * deep (or out of memory). Unpin when done. Inline: once per record. */
static inline const log_route *log__route_pin(log_logger *owner)
{
    log__hazard *h = log__my_hazard;
    if (__builtin_expect(!h, 0) && !(h = log__hazard_make()))
        return NULL;
    assert(h->depth <= LOG__MAX_NESTING);
    if (h->depth == LOG__MAX_NESTING)
        return NULL;
    _Atomic(const log_route *) *slot = &h->slot[h->depth++];
    assert(!atomic_load_explicit(slot, memory_order_relaxed)); /* unpinned when left */
    int light = atomic_load_explicit(&log__hazard_asym, memory_order_relaxed);
    for (;;) {
        const log_route *r = atomic_load_explicit(&owner->route, memory_order_acquire);
        assert(r); /* a logger has a route from its creation on */
        if (light) {
            atomic_store_explicit(slot, r, memory_order_relaxed);
            atomic_signal_fence(memory_order_seq_cst); /* the heavy side: membarrier */
        } else {
            atomic_store(slot, r); /* seq_cst: ordered before the re-check */
        }
        if (atomic_load_explicit(&owner->route, memory_order_acquire) == r)
            return r;
    }
}

/* Each log__route_pin that returned a route is undone by one call, in the
 * reverse order, before the record's call returns (asserted in Debug
 * builds: a pin left behind makes every configuration change wait
 * forever, an unpin too many lets a route go while it is in use). */
static inline void log__route_unpin(void)
{
    log__hazard *h = log__my_hazard;
    assert(h && h->depth > 0 && h->depth <= LOG__MAX_NESTING);
    assert(atomic_load_explicit(&h->slot[h->depth - 1], memory_order_relaxed));
    if (h && h->depth > 0)
        atomic_store_explicit(&h->slot[--h->depth], NULL, memory_order_release);
}

/* ---- levels (log_level.c) ---- */

int log__level_chosen(void);
/* Set the root's level (log_logger_set_level's result), and whether the
 * application chose it. */
int log__level_apply(log_level level, int chosen);
/* The application chose the root level (a configuration file set it). */
void log__level_choose(void);

/* ---- the context filter (filter_ctx.c) ---- */

log_filter_result log__filter_ctx(log_record *rec, void *payload);

/* ---- per-record scratch (log_core.c) ---- */

typedef struct log__scratch {
    fmt_ctx_hint hint;    /* first: log_record.priv_ is read as one by formatters */
    fmt_buf msg;          /* the printf-formatted message */
    fmt_buf out;          /* a formatted record */
    fmt_buf unit;         /* the unit a sink builds from it (sink_ops.h) */
    log_field *ctx;       /* context fields */
    size_t ctx_cap;
    uint64_t ctx_serial;  /* the snapshot `ctx` holds the fields of; 0: none */
    size_t ctx_n;
    log_field *fields;    /* bound + call + added fields */
    size_t fields_cap;
    long tid;
    int busy;
} log__scratch;

/* ---- the record path (log_core.c): decide, filter, format, put ---- */

/* The logging calls, once the library is set up (log/api/log_entry.c):
 * a typed record (msg not NULL, fields NULL only with nfields 0), and a
 * printf-formatted one with optional fields. */
void log__core_kv(log_logger *lg, log_level level, const char *file, int line, const char *func,
                  const char *msg, size_t msg_len, const log_field *fields, size_t nfields);
void log__core_vprintf(log_logger *lg, log_level level, const char *file, int line,
                       const char *func, const log_field *fields, size_t nfields,
                       const char *fmt, va_list ap);
/* The same in async mode: its common case queued for the writer to encode
 * when the logger, the route and the context leave nothing else to do
 * (log/async/async_capture.h), else log__core_kv. */
void log__core_kv_async(log_logger *lg, log_level level, const char *file, int line,
                        const char *func, const char *msg, size_t msg_len,
                        const log_field *fields, size_t nfields);

/* Write a summary the burst limit owes (log_policy.h), past the policies,
 * in the empty context. `arg` is unused: the signature fits
 * log__limits_flush's `put`. */
struct log__owed;
void log__write_owed(const struct log__owed *o, void *arg);

/* Make room for `n` fields in the scratch's field array. */
int log__scratch_fields(log__scratch *sc, size_t n);

#endif /* CTXLOG_LOG_INTERNAL_H */
