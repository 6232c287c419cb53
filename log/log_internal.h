/*
 * Private structures of the logger core: loggers, their routes (the filters
 * and sinks a record of theirs goes through), sinks, and how a logging call
 * reaches them safely while the configuration changes.
 *
 * A route is immutable once published. A logging call pins its logger's
 * route with a per-thread hazard pointer (no lock shared by all threads); a
 * configuration change publishes new routes, waits until no thread still
 * pins an old one, then releases it (closing sinks no route uses any more).
 */
#ifndef CTXLOG_LOG_INTERNAL_H
#define CTXLOG_LOG_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <ctxlog/ctx.h>
#include <ctxlog/log.h>
#include <ctxlog/sink.h>

#include "formatters/fmt_record.h"
#include "formatters/fmt_json.h"

/* ---- sinks (sink.c; each kind in a file of its own, see sink_ops.h) ---- */

/* What a kind of sink does (sink_ops.h). */
typedef struct log__sink_ops log__sink_ops;

/* The part every sink has; a kind's own state follows it in a struct of
 * the kind's (sink_ops.h). */
struct log_sink {
    const log__sink_ops *ops;  /* chosen when the sink is made, never changed */
    atomic_uint refs;
    atomic_int level;          /* records below it are not written here */
    log_formatter *formatter;  /* NULL: callback sink without text; fixed once attached */
    const log_json_options *json; /* the formatter's, when it is a JSON one */
    atomic_bool attached;      /* added to a logger at least once */
    pthread_mutex_t lock;      /* one writer at a time: records never interleave */
    bool tty;                  /* the output is a terminal (for the console colours) */
    bool registered;           /* in the registry (a sink that takes lines) */
    char *name;                /* "stdout", "stderr", the path…, for messages */
    atomic_int failing;        /* last write failed (changed under lock): report once */
    /* shared output buffer of sinks that take lines (sink_buffer.c), under
     * lock: the async writer's, and sync records that have no thread buffer */
    bool buffered;             /* sync records are batched (file sinks by default);
                                * fixed before the sink is published */
    char *buf;                 /* LOG__SINK_BUF bytes once used */
    size_t buf_len;
    unsigned buf_gen;          /* log__reopen_generation at the buffer's first byte */
    uint64_t buf_since_ns;     /* CLOCK_MONOTONIC of the oldest unwritten byte */
    atomic_uint_fast64_t dropped;  /* records the async queue dropped for this sink */
    uint64_t drops_reported;   /* of those, already said in a record (writer only) */
    struct log_sink *reg_prev, *reg_next; /* registry of sinks that take lines */
};

log_sink *log__sink_ref(log_sink *s);
/* Write one record in sync mode: its formatted text (may be NULL for
 * callback sinks) into the sink's buffers, or the record to a sink that
 * takes records (sink_ops.h). */
void log__sink_write(log_sink *s, const log_record *r, const char *text, size_t len);
/* Whether s's records may be replayed from the JSON line cache straight
 * into thread buffers: a buffered sink (one that takes lines: a sink taking
 * records is never buffered) whose JSON options allow it
 * (fmt_json_line_opts). Fixed once the sink is attached. */
static inline bool log__sink_quick(const log_sink *s)
{
    return s->buffered && s->json && fmt_json_line_opts(s->json);
}

/* ---- output buffers of sinks that take lines (sink_buffer.c) ---- */

/* Size of a sink's buffer: records are written in batches of up to this. */
#define LOG__SINK_BUF (64 * 1024)
/* A buffered record waits at most about this long for the flusher. */
#define LOG__FLUSH_INTERVAL_NS (100 * 1000 * 1000ull)

/* How a record reaches a sink's buffer. */
enum log__put {
    LOG__PUT_SYNC = 0,   /* from the logging thread: buffered if the sink is */
    LOG__PUT_URGENT = 1, /* same, and written out at once (error and above) */
    LOG__PUT_BATCH = 2,  /* from the async writer: always buffered, it flushes */
};
/* Append one record (a whole number of lines) under the sink's lock. */
void log__sink_put(log_sink *s, const char *text, size_t len, enum log__put how);
/* Write n whole records to a sink straight from where they are (its
 * writev op), after what its buffer holds, or through its buffer when it
 * has no such op (sink_gather.c). */
struct iovec;
void log__sink_put_gathered(log_sink *s, struct iovec *iov, int n);
/* Write out a sink's buffer (log__sink_flush_locked: lock held). */
void log__sink_flush(log_sink *s);
void log__sink_flush_locked(log_sink *s);
/* A buffer became non-empty at `since_ns`: tell the flusher set with
 * log__sinks_set_flusher (none: buffers wait for log_flush, a full buffer
 * or the exit), so that it is written within LOG__FLUSH_INTERVAL_NS. */
void log__sinks_due(uint64_t since_ns);
void log__sinks_set_flusher(void (*fn)(uint64_t since_ns));
/* Put the sink in / take it out of the registry of sinks that take lines. */
void log__sink_register(log_sink *s);
void log__sink_unregister(log_sink *s);
/* Flush every registered sink; with `due_only`, only buffers older than
 * LOG__FLUSH_INTERVAL_NS at `now_ns`. Returns the monotonic time at which
 * the next buffer falls due (UINT64_MAX: none is waiting). */
uint64_t log__sinks_flush(int due_only, uint64_t now_ns);
/* Whether some registered sink's last write failed (its `failing` flag). */
int log__sinks_failing(void);
/* For every registered sink whose async queue dropped records since the
 * last call, write a record saying how many (writer thread only). */
void log__sinks_report_drops(void);
/* From a fatal signal handler: write out every buffer, no locks taken. */
void log__sinks_crash_write(void);
uint64_t log__now_ns(void);
/* Write `len` bytes of whole lines buffered at reopen generation `gen` to
 * the sink (its lock held): its shared buffer first, then the bytes through
 * the sink's write_lines op (which reopens and rotates as it needs);
 * records of a failed write are counted as lost. */
void log__sink_write_lines(log_sink *s, const char *p, size_t len, unsigned gen);
/* The same, called with the lock held and returning with it released; a
 * sink with a write_lines_unlock op (a file that does not rotate) is
 * written without the lock, so that threads writing their buffers out do
 * not wait for each other's write(2) on it. */
void log__sink_write_lines_unlock(log_sink *s, const char *p, size_t len, unsigned gen);
/* log_flush(): call the flush op of every registered sink that has one,
 * after writing out its shared buffer. Returns 0 or the first op's error. */
int log__sinks_sync(void);

/* ---- per-thread buffers of buffered sinks in sync mode (sink_thread_buf.c) ---- */

/* Append a record to the calling thread's buffer for `s` (`urgent`: and
 * write the buffer out now). Without a buffer of its own for `s`, the
 * thread puts it in the sink's shared buffer (log__sink_put), after writing
 * out what it buffered for `s` itself, so that its order holds. */
void log__tbuf_put(log_sink *s, const char *text, size_t len, int urgent);
/* Replay the record k describes from the JSON line cache (not urgent;
 * fmt_json_line_write_to; s's formatter allows it: see log_route.quick)
 * straight into the calling thread's buffer for `s`, when that buffer
 * already holds records and has room. Returns 0 when written, 1 otherwise
 * (nothing done). `check` (Debug builds only, else NULL) is the record the
 * line stands for, checked with fmt_json_check. */
int log__tbuf_line(log_sink *s, const fmt_line_key *k, const log_record *check);
/* The calling thread may have buffered bytes (set by it alone). */
extern __thread int log__tbuf_dirty __attribute__((tls_model("initial-exec")));
/* Write out the calling thread's buffers (before an async record). */
void log__tbufs_write_mine(void);
/* Every thread's buffers, as log__sinks_flush (which calls it). */
uint64_t log__tbufs_flush(int due_only, uint64_t now_ns);
/* A sink is being freed: write out every thread's buffer for it and
 * forget it there. */
void log__tbufs_detach(log_sink *s);
/* From a fatal signal handler: write every thread buffer, no locks. */
void log__tbufs_crash_write(void);

/* ---- fork() (log_fork.c): each module's part, called in lock order for
 * PREPARE and in reverse for PARENT and CHILD ---- */

enum { LOG__FORK_PREPARE = 0, LOG__FORK_PARENT = 1, LOG__FORK_CHILD = 2 };
/* Install the handlers (once): the set-up does, before the first record
 * and before a configuration file starts anything. */
void log__fork_handlers_install(void);
void log__config_fork(int phase);   /* log_config.c */
void log__registry_fork(int phase); /* log_logger.c */
void log__writer_fork(int phase);   /* async_writer.c */
void log__rings_fork(int phase);    /* async_ring.c */
/* sink_thread_buf.c: prepare waits for appends; the child forgets every
 * thread's unwritten bytes and the other threads' buffers */
void log__tbufs_fork(int phase);
/* sink_buffer.c: the child forgets the parent's unwritten bytes */
void log__sinks_fork(int phase);
void log__hazards_fork(int phase);  /* log_hazard.c */

/* ---- async mode (async_ring.c, async_writer.c) ---- */

/* Size of each thread's queue and what happens when it is full. */
void log__async_configure(size_t queue_bytes, bool drop);
/* From a fatal signal handler: write out every queued record, no locks. */
void log__rings_crash_write(void);

/* 0: records are written on the logging thread; 1: handed to the writer. */
extern atomic_int log__async_on;

/* Hand a formatted record for `s` to the writer through the calling
 * thread's queue (overflow as configured). */
void log__async_put(log_sink *s, const char *text, size_t len, int urgent);
/* Start or stop async mode (stopping writes out what is queued). */
int log__async_set(bool on, size_t queue_bytes, bool drop);
/* Wait until everything queued before the call is written out. */
void log__async_drain(void);
/* The background thread: async writer, and flusher of sync buffers. */
void log__writer_kick(void);      /* a buffer became non-empty */
/* A buffer became non-empty at `since_ns`: kick the background thread
 * unless it will look at the buffers by then anyway. */
void log__writer_due(uint64_t since_ns);
void log__writer_wake(void);      /* records were queued while it slept */
extern atomic_int log__writer_idle;
/* Write all of it to fd; returns 0 or the errno of the failure. */
int log__write_all(int fd, const char *p, size_t len);
/* The same for n pieces, none empty, in order (writev; iov is used up as
 * it goes): *done gets how many pieces were written whole. */
int log__writev_all(int fd, struct iovec *iov, int n, int *done);
/* Count `lost` records (at least one) as lost, and say so once per failure
 * streak (under s->lock). */
void log__sink_failed(log_sink *s, int err, uint64_t lost);
void log__sink_recovered(log_sink *s);
/* Bumped by log_reopen_request(): sinks that reopen compare it with the
 * generation at which they last opened (log__reopen_due, sink_ops.h). */
extern atomic_uint log__reopen_generation;

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
    log_sink *quick;      /* the one sink, when the route is the context
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
/* Replace the root's sinks by `s` (a reference is taken). */
int log__root_set_sink(log_sink *s);
int log__root_has_sinks(void);

/* ---- hazard pointers (log_hazard.c) ---- */

/* How deep logging calls may nest on one thread (a filter or a json_t dump
 * that logs); a record deeper than that is dropped and counted. */
#define LOG__MAX_NESTING 4

/* A thread's hazard slots: one per nesting level, and how many are in use. */
typedef struct log__hazard {
    _Atomic(const log_route *) slot[LOG__MAX_NESTING];
    unsigned depth;
    struct log__hazard *next;
} log__hazard;
extern __thread log__hazard *log__my_hazard __attribute__((tls_model("initial-exec")));
/* 1: pins rely on membarrier() in log__wait_unpinned (set before any pin). */
extern atomic_int log__hazard_asym;
/* The calling thread's slots, made on its first pin; NULL: out of memory. */
log__hazard *log__hazard_make(void);

/* Pin the route of `owner` for the calling thread; NULL when nested too
 * deep (or out of memory). Unpin when done. Inline: once per record. */
static inline const log_route *log__route_pin(log_logger *owner)
{
    log__hazard *h = log__my_hazard;
    if (__builtin_expect(!h, 0) && !(h = log__hazard_make()))
        return NULL;
    if (h->depth == LOG__MAX_NESTING)
        return NULL;
    _Atomic(const log_route *) *slot = &h->slot[h->depth++];
    int light = atomic_load_explicit(&log__hazard_asym, memory_order_relaxed);
    for (;;) {
        const log_route *r = atomic_load_explicit(&owner->route, memory_order_acquire);
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

static inline void log__route_unpin(void)
{
    log__hazard *h = log__my_hazard;
    if (h && h->depth > 0)
        atomic_store_explicit(&h->slot[--h->depth], NULL, memory_order_release);
}
/* Whether the calling thread is inside a logging call (running a filter or
 * a callback sink): it pins a route, which a configuration change made now
 * would wait for forever. */
static inline bool log__in_record(void)
{
    const log__hazard *h = log__my_hazard;
    return h && h->depth > 0;
}
/* Wait until no thread pins any of the `n` routes. */
void log__wait_unpinned(log_route *const *routes, size_t n);

/* ---- set-up (log_config.c) ---- */

/* Configure from the environment once, before the first record. */
extern atomic_int log__initialized;
void log__init_slow(void);
static inline void log__ensure_init(void)
{
    if (__builtin_expect(!atomic_load_explicit(&log__initialized, memory_order_acquire), 0))
        log__init_slow();
}

/* ---- levels (log_level.c) ---- */

int log__level_chosen(void);
/* Set the root's level (log_logger_set_level's result), and whether the
 * application chose it. */
int log__level_apply(log_level level, int chosen);
/* The application chose the root level (a configuration file set it). */
void log__level_choose(void);

/* ---- reporting (log_report.c): one line on stderr about the library itself
 * (never a record), and the count of records lost ---- */

void log__report(const char *fmt, ...) CTXLOG_PRINTF(1, 2);
void log__count_dropped(uint64_t n);

/* ---- the context filter (filter_ctx.c) ---- */

log_filter_result log__filter_ctx(log_record *rec, void *payload);

/* ---- per-record scratch (log_core.c) ---- */

typedef struct log__scratch {
    fmt_ctx_hint hint;    /* first: log_record.priv_ is read as one by formatters */
    fmt_buf msg;          /* the printf-formatted message */
    fmt_buf out;          /* a formatted record */
    log_field *ctx;       /* context fields */
    size_t ctx_cap;
    uint64_t ctx_serial;  /* the snapshot `ctx` holds the fields of; 0: none */
    size_t ctx_n;
    log_field *fields;    /* bound + call + added fields */
    size_t fields_cap;
    long tid;
    int busy;
} log__scratch;

/* Make room for `n` fields in the scratch's field array. */
int log__scratch_fields(log__scratch *sc, size_t n);

#endif /* CTXLOG_LOG_INTERNAL_H */
