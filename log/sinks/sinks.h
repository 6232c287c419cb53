/* SPDX-License-Identifier: MIT */
/*
 * Sinks (private): the part every sink has, the shared and per-thread
 * buffers in front of the sinks that take lines, and how bytes are written
 * and failures counted. Each kind of sink is a file of its own behind the
 * operations of sink_ops.h. Called by the core (log/), the async writer
 * (log/async/) and the set-up (log/config/); calls nothing of theirs (the
 * flusher of the buffers is registered: log__sinks_set_flusher).
 */
#ifndef CTXLOG_SINKS_H
#define CTXLOG_SINKS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <ctxlog/log.h>
#include <ctxlog/sink.h>

#include "ctx/ctx_tls.h"
#include "formatters/fmt_json.h"
#include "formatters/fmt_record.h"
#include "log/base/log_base.h"

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
    struct log_sink *defer_next; /* released from a user's sink operation, freed later */
};

log_sink *log__sink_ref(log_sink *s);
/* Free the sinks whose last reference went inside a user's sink operation
 * (log_sink_release), now that the caller holds no sink's lock. */
void log__sinks_release_deferred(void);
/* Write one record in sync mode: its formatted text (may be NULL for
 * callback sinks; for a sink that builds units, the unit log__sink_build
 * made) into the sink's buffers, or the record to a sink that takes
 * records (sink_ops.h). */
void log__sink_write(log_sink *s, const log_record *r, const char *text, size_t len);
/* For a sink with a `build` op (sink_ops.h): the unit record r (with the
 * sink's text, NULL when it has none) becomes, into b (cleared first).
 * Returns 0, or -1 when memory ran out (the record is counted as lost and
 * said once). */
int log__sink_build(log_sink *s, const log_record *r, const char *text, size_t len, fmt_buf *b);
/* Whether s's records may be written from the JSON line cache straight
 * into thread buffers: a buffered sink (one that takes lines: a sink taking
 * records is never buffered) whose JSON options allow it
 * (fmt_json_line_opts). Fixed once the sink is attached. */
static inline bool log__sink_takes_cached_lines(const log_sink *s)
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
/* Append one record (a whole number of lines, or one unit: sink_ops.h)
 * under the sink's lock. */
void log__sink_put(log_sink *s, const char *text, size_t len, enum log__put how);
/* Write n pieces of whole records to a sink straight from where they are
 * (its writev op), after what its buffer holds, or through its buffer when
 * it has no such op (sink_gather.c). lines[i] is how many records piece i
 * holds (NULL: one each; a piece of more is JSON lines, one '\n' ending
 * each). claim(payload) is called once, just before the records are handed
 * over (with the sink's lock held when they are written straight): when it
 * returns false someone else (the crash handler) has taken them, and
 * nothing is written. Records not written are counted lost, each once.
 * Returns claim's answer. */
struct iovec;
bool log__sink_put_gathered(log_sink *s, struct iovec *iov, int n, const unsigned *lines,
                            bool (*claim)(void *payload), void *payload);
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
/* Flush every registered sink's shared buffer; with `due_only`, only
 * buffers older than LOG__FLUSH_INTERVAL_NS at `now_ns`. Returns the
 * monotonic time at which the next buffer falls due (UINT64_MAX: none is
 * waiting). */
uint64_t log__buffers_flush(int due_only, uint64_t now_ns);
/* Write out and reopen every registered sink that reopens (log_reopen).
 * Returns 0 or CTXLOG_EIO. */
int log__buffers_reopen(void);
/* From a fatal signal handler: write out every shared buffer, no locks. */
void log__buffers_crash_write(void);
/* For every registered sink whose async queue dropped records since the
 * last call, write a record saying how many (writer thread only). */
void log__sinks_report_drops(void);

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
/* log_flush(), after log__sinks_flush: write out what each registered
 * sink's shared buffer took since, and call its flush op if it has one.
 * Returns CTXLOG_EIO when some flush op failed or some sink's last write
 * failed (its `failing` flag: in this flush or before it, the background
 * thread may have written just before; it stays until a write succeeds
 * again), else 0. */
int log__sinks_sync(void);

/* ---- per-thread buffers of buffered sinks in sync mode (sink_thread_buf.c) ---- */

/* Append a record to the calling thread's buffer for `s` (`urgent`: and
 * write the buffer out now). Without a buffer of its own for `s`, the
 * thread puts it in the sink's shared buffer (log__sink_put), after writing
 * out what it buffered for `s` itself, so that its order holds. */
void log__tbuf_put(log_sink *s, const char *text, size_t len, int urgent);
/* Write the record k describes from the JSON line cache (not urgent;
 * fmt_json_line_write_to; s's formatter allows it: see log_route.line_sink)
 * straight into the calling thread's buffer for `s`, when that buffer
 * already holds records and has room. Returns 0 when written, 1 otherwise
 * (nothing done). `check` (Debug builds only, else NULL) is the record the
 * line stands for, checked with fmt_json_check. */
int log__tbuf_line(log_sink *s, const fmt_line_key *k, const log_record *check);
/* The calling thread may have buffered bytes (set by it alone). */
extern CTX__TLS int log__tbuf_dirty;
/* Write out the calling thread's buffers (before an async record). */
void log__tbufs_write_mine(void);
/* Every thread's buffers, as log__sinks_flush (which calls it). */
uint64_t log__tbufs_flush(int due_only, uint64_t now_ns);
/* A sink is being freed: write out every thread's buffer for it and
 * forget it there. */
void log__tbufs_detach(log_sink *s);
/* From a fatal signal handler: write every thread buffer, no locks. */
void log__tbufs_crash_write(void);

/* ---- every sink at once (sinks_all.c) ---- */

/* The threads' buffers and the shared ones, as log__buffers_flush. */
uint64_t log__sinks_flush(int due_only, uint64_t now_ns);
/* From a fatal signal handler: write out every buffer, no locks taken. */
void log__sinks_crash_write(void);

/* Whether writing to fd can raise SIGPIPE (a pipe or a socket): then the
 * writes below keep the signal from the process (sink_fd.c). */
bool log__fd_is_pipe(int fd);
/* Write all of it to fd (`pipe`: log__fd_is_pipe(fd)); returns 0 or the
 * errno of the failure (EPIPE when the reader has gone, never SIGPIPE),
 * with *wrote the bytes written before it (a full disk takes a part). */
int log__write_all(int fd, bool pipe, const char *p, size_t len, size_t *wrote);
/* The same for n pieces, none empty, in order (writev; iov is used up as
 * it goes): *done gets how many pieces were written whole and, on failure,
 * *part how many bytes of the next one were written (its bytes end at
 * iov[*done].iov_base). */
int log__writev_all(int fd, bool pipe, struct iovec *iov, int n, int *done, size_t *part);
/* Count `lost` records (at least one) as lost, and say so once per failure
 * streak (under s->lock) (sink_failure.c). */
void log__sink_failed(log_sink *s, int err, uint64_t lost);
void log__sink_recovered(log_sink *s);
/* Bumped by log_reopen_request(): sinks that reopen compare it with the
 * generation at which they last opened (log__reopen_due, sink_ops.h). */
extern atomic_uint log__reopen_generation;

#endif /* CTXLOG_SINKS_H */
