/* SPDX-License-Identifier: MIT */
/*
 * The logging calls: build a record on the calling thread (message, time,
 * fields), run it through its logger's route — the filters, then each sink
 * with its formatter — and write it.
 *
 * Per-thread buffers are reused from record to record, so the steady state
 * allocates nothing. A call made while the same thread is already inside one
 * (a filter or a json_t dump that logs) gets fresh buffers of its own.
 */
#include "log/async/async_capture.h"
#include "log/filter_ctx.h"
#include "log/log_internal.h"
#include "log/log_policy.h"
#include "log/sinks/sink_ops.h"

#include <assert.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ctx/ctx_internal.h"
#include "formatters/fmt_formatter.h"
#include "formatters/fmt_json.h"

/* Buffers that grew past this are given back after the record. */
#define KEEP_BYTES (64 * 1024)

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static CTX__TLS log__scratch *my_scratch;

static void scratch_free(void *p)
{
    log__scratch *s = p;
    fmt_buf_free(&s->msg);
    fmt_buf_free(&s->out);
    fmt_buf_free(&s->unit);
    free(s->ctx);
    free(s->fields);
    if (my_scratch == s)
        my_scratch = NULL;
    free(s);
}

static void scratch_key_make(void)
{
    (void)pthread_key_create(&scratch_key, scratch_free);
}

static inline log__scratch *scratch_get(int *temporary)
{
    log__scratch *s = my_scratch;
    *temporary = 0;
    if (s && !s->busy) {
        s->busy = 1;
        return s;
    }
    s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->tid = (long)syscall(SYS_gettid);
    s->busy = 1;
    if (my_scratch) {
        *temporary = 1; /* re-entered: the thread's own buffers are in use */
        return s;
    }
    (void)pthread_once(&scratch_once, scratch_key_make);
    (void)pthread_setspecific(scratch_key, s);
    my_scratch = s;
    return s;
}

static void scratch_put(log__scratch *s, int temporary)
{
    if (temporary) {
        scratch_free(s);
        return;
    }
    if (s->msg.cap > KEEP_BYTES)
        fmt_buf_free(&s->msg);
    if (s->out.cap > KEEP_BYTES)
        fmt_buf_free(&s->out);
    if (s->unit.cap > KEEP_BYTES)
        fmt_buf_free(&s->unit);
    s->busy = 0;
}

int log__scratch_fields(log__scratch *sc, size_t n)
{
    if (n <= sc->fields_cap)
        return 0;
    size_t cap = sc->fields_cap ? sc->fields_cap * 2 : 16;
    while (cap < n)
        cap *= 2;
    log_field *grown = realloc(sc->fields, cap * sizeof *grown);
    if (!grown)
        return -1;
    sc->fields = grown;
    sc->fields_cap = cap;
    return 0;
}

/* What the precise test says of a record (record_enabled). */
enum { REC_OFF = 0, REC_ON = 1, REC_POLICY = 2 };

/* The precise test behind the macros' cheap one: the logger's level, or
 * the level the current context asks for, whichever lets more through.
 * REC_POLICY when the policies (log_policy.h) may have a say: the context's
 * level let it through (a level floor, or a replay that may keep it), or
 * sampling or limits are on, or it is an error in a context that may keep
 * records for it. A record at the logger's level in a plain context of a
 * process without sampling or limits pays one more test. */
static int level_enabled(const log_logger *owner, log_level level)
{
    int gate = __atomic_load_n(owner->head.gate, __ATOMIC_RELAXED);
    if ((int)level < gate)
        return (int)level >= ctx__level_floor ? REC_POLICY : REC_OFF;
    if (__builtin_expect(log__policy_maybe((int)level), 0))
        return REC_POLICY;
    return REC_ON;
}

/* Inlined into both entry points: one call frame per record, not three. */
#define ALWAYS_INLINE inline __attribute__((always_inline))

/* Whole lines, or a sink's unit, for s: to the background writer in async
 * mode (a sink that takes records always gets them here, on the logging
 * thread), else to the sink. */
static void write_lines_out(log_sink *s, const log_record *r, const char *text, size_t len)
{
    if (atomic_load_explicit(&log__async_on, memory_order_relaxed)) {
        if (!s->ops->record && len) {
            if (log__tbuf_dirty)
                log__tbufs_write_mine(); /* records from before async mode first */
            log__async_put(s, text, len, r->level >= LOG_LEVEL_ERROR);
            return;
        }
    } else {
        log__ring_sync_barrier(); /* records from before sync mode first */
    }
    log__sink_write(s, r, text, len);
}

/* One record for s: a sink that builds units (sink_ops.h) gets its unit,
 * built here on the logging thread, instead of the text. */
static void write_out(log_sink *s, log__scratch *sc, const log_record *r, const char *text,
                      size_t len)
{
    if (__builtin_expect(s->ops->build != NULL, 0)) {
        if (log__sink_build(s, r, text, len, &sc->unit) != 0)
            return; /* counted */
        text = sc->unit.data;
        len = sc->unit.len;
    }
    write_lines_out(s, r, text, len);
}

/* A record as the logging call made it, before any filter. Member by
 * member: an initializer would clear the whole struct first. */
static ALWAYS_INLINE void record_init(log_record *r, log__scratch *sc, const log_logger *owner,
                                      log_level level, const char *file, int line,
                                      const char *func, const char *msg, size_t msg_len)
{
    r->level = level;
    r->logger = owner->name;
    r->msg = msg;
    r->msg_len = msg_len;
    r->ctx_fields = NULL;
    r->n_ctx_fields = 0;
    r->file = file;
    r->line = line;
    r->func = func;
    r->thread_id = sc->tid;
    r->priv_ = sc;
    sc->hint.serial = 0; /* until the context filter stamps the record */
    sc->hint.logger = owner->name;
}

/* A filter or a callback sink that logs nests records inside records; past
 * LOG__MAX_NESTING (or while a sink runs user code that must not log) the
 * record is refused. Like every other loss it is counted, and said once per
 * process so that the count has a reason. A thread whose slots could not be
 * allocated is refused here too, and told apart. Out of line: the record
 * path never gets here in a program that does not nest. */
static __attribute__((noinline, cold)) void nested_too_deep(void)
{
    static atomic_flag nested_reported = ATOMIC_FLAG_INIT;
    static atomic_flag oom_reported = ATOMIC_FLAG_INIT;
    log__count_dropped(1);
    if (!log__my_hazard) {
        if (!atomic_flag_test_and_set(&oom_reported))
            log__report("out of memory for a thread's record slots; its records are lost "
                        "(log_dropped_count())");
        return;
    }
    if (!atomic_flag_test_and_set(&nested_reported))
        log__report("records logged from a filter or a sink nested more than %d deep are "
                    "lost (log_dropped_count())",
                    LOG__MAX_NESTING);
}

/* What the policies (log_policy.h) decided for a record that is not
 * dropped: both NULL for a record written the usual way. */
typedef struct policy {
    log__rbuf *keep;   /* kept in this replay buffer, not written */
    log__rbuf *replay; /* written after this buffer's records */
} policy;
static const policy no_policy = {NULL, NULL};

/* The sink whose JSON options format kept records, and whose kind a replay
 * goes to: one that takes JSON lines (stdout, stderr, files, users' own
 * transports), not one that takes records (callbacks) nor one that builds
 * its own unit of each record (journald, syslog). */
static bool replay_sink(const log_sink *s)
{
    return s->json && !s->ops->record && !s->ops->build;
}

static const log_json_options *replay_options(const log_route *route)
{
    for (unsigned i = 0; i < route->nsinks; i++)
        if (replay_sink(route->sinks[i]))
            return route->sinks[i]->json;
    return NULL;
}

/* Keep the record, formatted, in its request's replay buffer. */
static __attribute__((noinline)) void keep_record(const log_route *route, const log_record *r,
                                                  log__scratch *sc, log__rbuf *rb)
{
    const log_json_options *jo = replay_options(route);
    if (!jo)
        return; /* no sink would take its replay */
    fmt_buf_clear(&sc->out);
    if (fmt_json_record(r, jo, &sc->out) != 0 || sc->out.oom) {
        log__count_dropped(1);
        return;
    }
    log__rbuf_keep(rb, sc->out.data, sc->out.len);
}

/* Before the error r: the records its request kept, to the sinks of its
 * route that take JSON lines and its level, led by a note of how many were
 * dropped past the bound; in one piece of whole lines per sink. */
static __attribute__((noinline)) void replay_records(const log_route *route, const log_record *r,
                                                     log__rbuf *rb)
{
    fmt_buf lines = {0}, block = {0};
    uint64_t dropped;
    size_t n = log__rbuf_take(rb, &lines, &dropped);
    const log_json_options *jo = replay_options(route);
    const fmt_buf *out = &lines;
    if (dropped && jo) {
        const log_field f[] = {LOG_BOOL("replayed", true), LOG_U64("replay_dropped", dropped)};
        log_record nr = *r;
        nr.msg = "replay: older records dropped";
        nr.msg_len = strlen(nr.msg);
        nr.fields = (log_field *)(uintptr_t)f; /* const for the formatter */
        nr.n_fields = 2;
        if (fmt_json_record(&nr, jo, &block) == 0 && !block.oom) {
            fmt_buf_append(&block, lines.data, lines.len);
            if (!block.oom)
                out = &block;
        }
    }
    bool written = false;
    for (unsigned i = 0; i < route->nsinks && out->len; i++) {
        log_sink *s = route->sinks[i];
        if (!replay_sink(s) || (int)r->level < atomic_load_explicit(&s->level, memory_order_relaxed))
            continue;
        write_lines_out(s, r, out->data, out->len);
        written = true;
    }
    log__rbuf_replayed(n, written);
    if (!written && n)
        log__count_dropped(n);
    fmt_buf_free(&lines);
    fmt_buf_free(&block);
}

static ALWAYS_INLINE void emit(log_logger *lg, log__scratch *sc, log_level level, const char *file,
                               int line, const char *func, const char *msg, size_t msg_len,
                               const log_field *fields, size_t nfields, const policy *pol)
{
    log_logger *owner = lg->owner;
    const log_route *route = log__route_pin(owner);
    if (!route) {
        nested_too_deep();
        return;
    }
    if (route->nsinks == 0)
        goto out;

    log_record r;
    record_init(&r, sc, owner, level, file, line, func, msg, msg_len);
    clock_gettime(CLOCK_REALTIME, &r.time);
    if (route->ctx_only && lg->nbound == 0 && !pol->keep) {
        /* Nothing may change the fields: the call's own array will do. The
         * record is const for sinks and formatters. */
        r.fields = (log_field *)(uintptr_t)fields;
        r.n_fields = nfields;
        if (route->nfilters)
            log__stamp_ctx(&r, sc); /* the context filter, inline */
    } else {
        /* The record's own copy of the fields, so filters may change them;
         * a kept record's first is its mark. */
        size_t mark = pol->keep != NULL;
        size_t n = mark + lg->nbound + nfields;
        if (n) {
            if (log__scratch_fields(sc, n) != 0) {
                log__count_dropped(1);
                goto out;
            }
            if (mark)
                sc->fields[0] = LOG_BOOL("replayed", true);
            if (lg->nbound)
                memcpy(sc->fields + mark, lg->bound, lg->nbound * sizeof *sc->fields);
            if (nfields)
                memcpy(sc->fields + mark + lg->nbound, fields, nfields * sizeof *sc->fields);
        }
        r.fields = sc->fields;
        r.n_fields = n;
        for (unsigned i = 0; i < route->nfilters; i++)
            if (route->filters[i].fn(&r, route->filters[i].payload) == LOG_FILTER_DROP)
                goto out;
    }
    if (pol->keep) {
        keep_record(route, &r, sc, pol->keep);
        goto out;
    }
    if (pol->replay)
        replay_records(route, &r, pol->replay);

    /* Format once per (formatter, tty) in a row: sinks usually share one. */
    const log_formatter *done = NULL;
    int done_tty = 0, done_ok = 0;
    for (unsigned i = 0; i < route->nsinks; i++) {
        log_sink *s = route->sinks[i];
        if ((int)level < atomic_load_explicit(&s->level, memory_order_relaxed))
            continue;
        /* Fixed once the sink is attached: the route's reference keeps it. */
        const log_formatter *f = s->formatter;
        if (!f) {
            write_out(s, sc, &r, NULL, 0);
            continue;
        }
        if (f != done || done_tty != s->tty) {
            fmt_buf_clear(&sc->out);
            /* Fixed with the formatter: JSON needs no dispatch. */
            const log_json_options *jo = s->json;
            done_ok = (jo ? fmt_json_record(&r, jo, &sc->out)
                          : fmt_format(f, &r, s->tty, &sc->out)) == 0;
            if (done_ok && sc->out.oom) {
                done_ok = 0;
                log__count_dropped(1);
                log__report("out of memory formatting a record of %zu bytes; it is lost", msg_len);
            }
            done = f;
            done_tty = s->tty;
        }
        if (done_ok)
            write_out(s, sc, &r, sc->out.data, sc->out.len);
    }
out:
    log__route_unpin();
}

/* What both kinds of record do first: default to the root, and the
 * precise level test. */
static ALWAYS_INLINE int record_enabled(log_logger **lg, log_level level)
{
    if (!*lg)
        *lg = log__root();
    return level_enabled((*lg)->owner, level);
}

/*
 * When a policy may apply (REC_POLICY): whether the record is to be
 * made, and what for (*p). A record the loggers (or the context's level)
 * would write is written unless its request is sampled out, under its call
 * site's burst limit, and after its request's kept records when it is an
 * error. A record not written is kept when its request keeps records at its
 * level. Out of line: contexts without a floor or replay, in a process
 * without sampling or limits, never get here.
 */
static __attribute__((noinline)) bool policy_decide(log_logger *owner, log_level level,
                                                    const char *file, int line, policy *p)
{
    const ctx_snapshot *snap = ctx__current();
    int write_floor = INT_MAX, keep_level = INT_MAX;
    log__rbuf *rb = NULL;
    if (snap->floor != INT_MAX) {
        const ctx__val *v = ctx__snap_lookup(snap, ctx__floor_var());
        if (v && v->kind == CTX__I64)
            write_floor = (int)v->i64;
        rb = log__rbuf_current(&keep_level);
    }
    int gate = __atomic_load_n(owner->head.gate, __ATOMIC_RELAXED);
    bool write = ((int)level >= gate || (int)level >= write_floor) && !log__sampled_out(level);
    if (!write) {
        if (!rb || (int)level < keep_level)
            return false;
        p->keep = rb;
        return true;
    }
    log__owed owed;
    bool pass = log__limit_pass(owner, level, file, line, &owed);
    if (owed.lg)
        log__write_owed(&owed, NULL);
    if (!pass)
        return false;
    if (rb && level >= LOG_LEVEL_ERROR)
        p->replay = rb;
    return true;
}

/* Then the thread's buffers; NULL when out of memory (counted). */
static ALWAYS_INLINE log__scratch *record_scratch(int *temporary)
{
    log__scratch *sc = scratch_get(temporary);
    if (!sc)
        log__count_dropped(1);
    return sc;
}

/* The line sink (log_route.line_sink: a route of the context filter and
 * one buffered JSON sink) that a record of lg at `level` goes to alone, its
 * route pinned (log__route_unpin when done); NULL, nothing pinned, when the
 * record is to be made the usual way: a logger with bound fields, another
 * route, or the sink's level above the record's. */
static ALWAYS_INLINE log_sink *line_sink_pin(log_logger *lg, log_level level)
{
    if (lg->nbound)
        return NULL;
    const log_route *route = log__route_pin(lg->owner);
    if (!route)
        return NULL; /* the usual way counts it */
    log_sink *s = route->line_sink;
    if (s && (int)level >= atomic_load_explicit(&s->level, memory_order_relaxed))
        return s;
    log__route_unpin();
    return NULL;
}

/*
 * The line cache's route, for a route that is the context filter and one
 * buffered JSON sink (log_route.line_sink), a record not urgent, in sync mode,
 * of the shape this thread wrote last (the JSON line cache): no record is
 * made; the line goes straight into the thread's buffer. The bytes are
 * those the usual way writes. Returns 1 when written, 0 when the record is
 * to be made the usual way.
 */
static ALWAYS_INLINE int cached_line_record(log_logger *lg, log_level level, const char *msg,
                                       size_t msg_len, const log_field *fields, size_t nfields)
{
    if ((int)level >= LOG_LEVEL_ERROR)
        return 0;
    log_sink *s = line_sink_pin(lg, level);
    if (!s)
        return 0;
    log_logger *owner = lg->owner;
    int done = 0;
    const ctx_snapshot *snap = ctx__current();
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    fmt_line_key k = {
        .serial = snap->serial, /* 0 (unknown) matches no line */
        .logger = owner->name,
        .level = (int)level,
        .msg = msg,
        .msg_len = msg_len,
        .fields = fields,
        .nfields = nfields,
        .time = &now,
    };
#ifdef NDEBUG
    done = log__tbuf_line(s, &k, NULL) == 0;
#else
    /* The record the usual way makes, for fmt_json_check. */
    int temporary;
    log__scratch *sc = scratch_get(&temporary);
    if (sc) {
        log_record r;
        record_init(&r, sc, owner, level, NULL, 0, NULL, msg, msg_len);
        r.time = now;
        r.fields = (log_field *)(uintptr_t)fields;
        r.n_fields = nfields;
        log__stamp_ctx(&r, sc);
        done = log__tbuf_line(s, &k, &r) == 0;
        scratch_put(sc, temporary);
    }
#endif
    log__route_unpin();
    return done;
}

/* The context entry a captured record needs first (async_capture.h): the
 * context filter's fields of snapshot snap. Out of line: once per context
 * change. A context of more than LOG__CAPTURE_CTX_FIELDS logged variables
 * is not captured: its records are made the usual way. */
static __attribute__((noinline)) int capture_context(log_sink *s, const ctx_snapshot *snap)
{
    log_field f[LOG__CAPTURE_CTX_FIELDS];
    uint32_t key_len[LOG__CAPTURE_CTX_FIELDS], str_len[LOG__CAPTURE_CTX_FIELDS];
    size_t n = log__ctx_fields(snap, f, key_len, str_len, LOG__CAPTURE_CTX_FIELDS);
    if (n > LOG__CAPTURE_CTX_FIELDS)
        return LOG__CAPTURE_NO;
    return log__capture_ctx(s, snap->serial, f, key_len, str_len, n);
}

/* The lowest level a lane left for owner's records to s may serve: the
 * levels at which level_enabled says REC_ON and s takes them (the context's
 * level floor matters only below the gate, or for errors, which go in);
 * LOG__LANE_SHUT while a policy may apply. */
static int lane_level(const log_logger *owner, const log_sink *s)
{
    if (atomic_load_explicit(&log__policies, memory_order_relaxed))
        return LOG__LANE_SHUT;
    int gate = __atomic_load_n(owner->head.gate, __ATOMIC_RELAXED);
    int sl = atomic_load_explicit(&s->level, memory_order_relaxed);
    return gate > sl ? gate : sl;
}

/*
 * Async mode's route for the same routes (the line cache's): no record is
 * made; what it is made of is copied into the thread's queue, and the
 * writer encodes it (log/async/async_capture.h). Returns 1 when queued (or
 * dropped and counted), 0 when the record is to be made the usual way.
 * With `lane`, a call of async mode's entry point: the thread is left a
 * lane for the records that would go the same way (as_called: the logger
 * as the call named it; epoch: log__lane_epoch before anything was read).
 */
static ALWAYS_INLINE int captured_record(log_logger *lg, log_level level, const char *msg,
                                         size_t msg_len, const log_field *fields, size_t nfields,
                                         int lane, const log_logger *as_called, unsigned epoch)
{
    log_sink *s = line_sink_pin(lg, level);
    if (!s)
        return 0;
    const char *logger = lg->owner->name;
    if (__builtin_expect(log__tbuf_dirty, 0))
        log__tbufs_write_mine(); /* records from before async mode first */
    const ctx_snapshot *snap = ctx__current();
    int rc = log__capture_put(s, snap->serial, level, logger, msg, msg_len, fields, nfields);
    if (__builtin_expect(rc == LOG__CAPTURE_CTX, 0)) {
        rc = capture_context(s, snap);
        if (rc == LOG__CAPTURE_CTX)
            rc = log__capture_put(s, snap->serial, level, logger, msg, msg_len, fields, nfields);
    }
    if (lane && rc == LOG__CAPTURE_DONE)
        log__capture_lane(s, as_called, logger, lane_level(lg->owner, s), epoch);
    log__route_unpin();
    return rc == LOG__CAPTURE_DONE;
}

/* A record neither filter nor policy may change: written from the line
 * cache in sync mode, captured in async mode, when its route allows. */
static ALWAYS_INLINE int plain_record(log_logger *lg, log_level level, const char *msg,
                                      size_t msg_len, const log_field *fields, size_t nfields)
{
    if (atomic_load_explicit(&log__async_on, memory_order_relaxed))
        return captured_record(lg, level, msg, msg_len, fields, nfields, 0, NULL, 0);
    log__ring_sync_barrier(); /* records from before sync mode first */
    return cached_line_record(lg, level, msg, msg_len, fields, nfields);
}

/* The message of a printf-style call, in the thread's message buffer; the
 * format itself when formatting fails (bad conversion, out of memory). */
static const char *format_msg(log__scratch *sc, const char *fmt, va_list ap, size_t *len)
{
    if (!fmt) {
        *len = 0;
        return "";
    }
    fmt_buf_clear(&sc->msg);
    (void)fmt_buf_reserve(&sc->msg, 256);
    va_list again;
    va_copy(again, ap);
    int n = sc->msg.oom ? -1 : vsnprintf(sc->msg.data, sc->msg.cap, fmt, ap);
    if (n >= 0 && (size_t)n >= sc->msg.cap && fmt_buf_reserve(&sc->msg, (size_t)n + 1) == 0)
        n = vsnprintf(sc->msg.data, sc->msg.cap, fmt, again);
    va_end(again);
    if (n >= 0 && (size_t)n < sc->msg.cap) {
        *len = (size_t)n;
        return sc->msg.data;
    }
    *len = strlen(fmt);
    return fmt;
}

/* Both printf forms: the policies, the message formatted, then emit. */
void log__core_vprintf(log_logger *lg, log_level level, const char *file, int line,
                       const char *func, const log_field *fields, size_t nfields,
                       const char *fmt, va_list ap)
{
    int on = record_enabled(&lg, level);
    policy pol = {NULL, NULL};
    if (on == REC_OFF || (on == REC_POLICY && !policy_decide(lg->owner, level, file, line, &pol)))
        return;
    int temporary;
    log__scratch *sc = record_scratch(&temporary);
    if (!sc)
        return;
    size_t len;
    const char *msg = format_msg(sc, fmt, ap, &len);
    emit(lg, sc, level, file, line, func, msg, len, fields, fields ? nfields : 0, &pol);
    scratch_put(sc, temporary);
}

/* A typed record: the thread's buffers, then emit. */
static ALWAYS_INLINE void kv_emit(log_logger *lg, log_level level, const char *file, int line,
                                  const char *func, const char *msg, size_t msg_len,
                                  const log_field *fields, size_t nfields, const policy *pol)
{
    int temporary;
    log__scratch *sc = record_scratch(&temporary);
    if (!sc)
        return;
    emit(lg, sc, level, file, line, func, msg, msg_len, fields, nfields, pol);
    scratch_put(sc, temporary);
}

/* The same out of line, for records the policies had a say in. */
static __attribute__((noinline)) void kv_with(log_logger *lg, log_level level, const char *file,
                                              int line, const char *func, const char *msg,
                                              size_t msg_len, const log_field *fields,
                                              size_t nfields, const policy *pol)
{
    kv_emit(lg, level, file, line, func, msg, msg_len, fields, nfields, pol);
}

static __attribute__((noinline)) void kv_policy(log_logger *lg, log_level level, const char *file,
                                                int line, const char *func, const char *msg,
                                                size_t msg_len, const log_field *fields,
                                                size_t nfields)
{
    policy pol = {NULL, NULL};
    if (!policy_decide(lg->owner, level, file, line, &pol))
        return;
    /* The line cache's shortcut makes no record for a policy to see. */
    if (!pol.keep && !pol.replay && plain_record(lg, level, msg, msg_len, fields, nfields))
        return;
    kv_with(lg, level, file, line, func, msg, msg_len, fields, nfields, &pol);
}

void log__core_kv(log_logger *lg, log_level level, const char *file, int line, const char *func,
                  const char *msg, size_t msg_len, const log_field *fields, size_t nfields)
{
    int on = record_enabled(&lg, level);
    if (on == REC_OFF)
        return;
    if (!fields)
        nfields = 0;
    if (!msg) {
        msg = "";
        msg_len = 0;
    }
    if (on == REC_POLICY) {
        kv_policy(lg, level, file, line, func, msg, msg_len, fields, nfields);
        return;
    }
    if (plain_record(lg, level, msg, msg_len, fields, nfields))
        return;
    kv_emit(lg, level, file, line, func, msg, msg_len, fields, nfields, &no_policy);
}

void log__core_kv_async(log_logger *lg, log_level level, const char *file, int line,
                        const char *func, const char *msg, size_t msg_len,
                        const log_field *fields, size_t nfields)
{
    /* Before anything a lane left by this call would hold is read. */
    unsigned epoch = __atomic_load_n(&log__lane_epoch, __ATOMIC_ACQUIRE);
    log_logger *l = lg ? lg : log__root();
    if (level_enabled(l->owner, level) == REC_ON && msg && (fields || !nfields) &&
        captured_record(l, level, msg, msg_len, fields, nfields, 1, lg, epoch))
        return;
    log__core_kv(lg, level, file, line, func, msg, msg_len, fields, nfields);
}

static void owed_run(void *arg)
{
    const log__owed *o = arg;
    log_field f[LOG__OWED_FIELDS];
    log__owed_fields(o, f);
    kv_with(o->lg, (log_level)o->level, o->file, o->line, NULL, LOG__OWED_MSG,
            sizeof LOG__OWED_MSG - 1, f, LOG__OWED_FIELDS, &no_policy);
}

void log__write_owed(const log__owed *o, void *arg)
{
    (void)arg;
    ctx_run(NULL, owed_run, (void *)(uintptr_t)o); /* it belongs to no request */
}
