/* SPDX-License-Identifier: MIT */
/*
 * What a kind of sink is: a table of operations, chosen once when the sink
 * is made, beside the sink's own state (a struct of the kind's own whose
 * first member is the common log_sink).
 *
 * The common parts — the shared buffer (sink_buffer.c), the threads' own
 * buffers (sink_thread_buf.c), the async writer's gathered writes
 * (sink_gather.c, async_*.c), refcounting, flush, reopen, fork and the
 * crash handler — call these operations and never ask which kind a sink
 * is. A new kind is a new file with its own table: stdout and stderr
 * (sink_fd.c), files (sink_file.c), callbacks (sink_callback.c), users'
 * own transports (sink_custom.c), journald (sink_journald.c) and syslog
 * (sink_syslog.c).
 *
 * Units: a sink takes lines (the formatter's text; a batch of them is
 * written at once) unless it has a `build` op. Then its unit is the bytes
 * one record becomes (a journal entry, a syslog frame): `build` makes them
 * on the logging thread, and every op below that takes bytes gets whole
 * units — write_lines exactly one, writev one per iov — never a batch of
 * them in one piece (such a sink is never buffered).
 */
#ifndef CTXLOG_SINK_OPS_H
#define CTXLOG_SINK_OPS_H

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

#include "log/sinks/sinks.h"

struct iovec;

struct log__sink_ops {
    /* The kind, for messages and debugging. */
    const char *name;
    /*
     * Required for sinks that take lines or units (every kind but those
     * with `record`). The sink's lock held and its shared buffer written
     * out: write the whole lines p[0, len) (with `build`: the one unit),
     * buffered at reopen generation `gen` (log__reopen_generation when
     * their first byte was buffered). A reopen requested before those
     * bytes, and rotation between lines, are the sink's business. Returns
     * 0, or the errno of the write that failed, with *done the bytes of
     * whole lines written before it (the rest are counted as lost by the
     * caller; a unit not delivered is one record lost). A sink that keeps
     * units back to deliver later (a queue of its own) returns 0 for those
     * it kept, and counts those it could not keep itself.
     */
    int (*write_lines)(log_sink *s, const char *p, size_t len, unsigned gen, size_t *done);
    /*
     * Optional: the same, called with the lock held and returning with it
     * released, for a sink that can let other threads go on while its bytes
     * go out. NULL: write_lines under the lock.
     */
    int (*write_lines_unlock)(log_sink *s, const char *p, size_t len, unsigned gen,
                              size_t *done);
    /*
     * Optional (required with `build`). Lock held, shared buffer written
     * out: the async writer's run of n pieces (each whole lines, none
     * empty, several in a piece of JSON lines; with `build`, one unit
     * each) in one gathered write; *done gets how many were written whole
     * (or kept, as write_lines says). On failure iov[*done] is left
     * describing what of that piece is not in the destination (a line
     * written in part is cut off a file, or its rest counts as not
     * written). Returns 0 or errno. NULL: the records go through the
     * shared buffer, and out with write_lines (a sink that must place
     * every line itself, such as a file that rotates, leaves it NULL).
     */
    int (*writev)(log_sink *s, struct iovec *iov, int n, int *done);
    /* Optional. Lock held, every buffer written out (log_flush(), and
     * log_shutdown() through it): make what was written durable or
     * delivered (a sink with a queue of its own sends it now, if it can).
     * Returns 0 or an errno (some unit is still not delivered). */
    int (*flush)(log_sink *s);
    /* Optional. Lock held, the shared buffer written out (log_reopen()):
     * start over on a fresh destination. Returns 0 or CTXLOG_EIO. */
    int (*reopen)(log_sink *s);
    /* Optional. From a fatal signal handler, no lock taken: write whole
     * lines with async-signal-safe calls alone. NULL: the crash handler
     * skips the sink. */
    void (*crash_write)(log_sink *s, const char *p, size_t len);
    /* Optional: the sink takes each record itself, on the logging thread
     * (with its text, NULL when it has no formatter), instead of lines
     * through the buffers, in both modes; such a sink is not registered
     * and has no buffer (the callback sink). */
    void (*record)(log_sink *s, const log_record *r, const char *text, size_t len);
    /* Optional (not with `record`): on the logging thread, no lock held,
     * append to b the unit record r becomes (its text: the sink's
     * formatter's, NULL when it has none), the one place that decides
     * those bytes; b->oom when memory ran out. The unit then goes the way
     * of lines: written at once in sync mode, handed to the async writer in
     * async mode (sink_ops.h "Units"). Never empty. Also called for the
     * records the library writes itself (drop reports): r->file is NULL. */
    void (*build)(log_sink *s, const log_record *r, const char *text, size_t len, fmt_buf *b);
    /* Optional. Lock held, on the async writer: the async queue dropped
     * n records for the sink (counted already). A sink that says so with
     * a unit of its own, owed until it is delivered (never counted as a
     * lost record itself), takes the number here; NULL: the writer writes
     * a record saying so through the sink like any other. */
    void (*lost)(log_sink *s, uint64_t n);
    /* Optional. In the child after fork(), the lock held (taken before the
     * fork): forget what is the parent's to deliver or say (a queue of its
     * own, a count of lost records) and anything the child must not share
     * with it (a stream both would write frames to). */
    void (*fork_child)(log_sink *s);
    /* Optional. Around fork(), the lock held (taken in prepare before the
     * call, released after it in parent and child), with the phase
     * (LOG_FORK_PREPARE, _PARENT, _CHILD): for a kind whose state has locks
     * of its own, ordered after the sink's (a user's transport,
     * sink_custom.c). In the child it comes after fork_child. */
    void (*fork_phase)(log_sink *s, log_fork_phase phase);
    /* Optional. The last reference went and every buffer was written out:
     * release the kind's own resources (not the common struct). */
    void (*close)(log_sink *s);
};

/* A sink of `size` bytes (at least sizeof(log_sink): the kind's struct,
 * which starts with the common one), zeroed, with one reference, level
 * trace, no formatter, not registered. NULL when out of memory. */
log_sink *log__sink_new(const log__sink_ops *ops, size_t size, const char *name);

/* The kind's struct around a common one. */
#define LOG__SINK_OF(type, s) ((type *)(void *)(s))

/* In Debug builds: the sink's lock is held (by some thread). */
#define LOG__ASSERT_LOCKED(s) assert(pthread_mutex_trylock(&(s)->lock) == EBUSY)

/*
 * For a sink that reopens on log_reopen_request(): whether the bytes
 * buffered at generation `gen` are to be written after a reopen, that is
 * a request came after the sink last opened (*seen) and these bytes are not
 * older than it. Then *seen becomes the current generation. Lock held.
 */
static inline bool log__reopen_due(unsigned *seen, unsigned gen)
{
    unsigned cur = atomic_load(&log__reopen_generation);
    if (cur == *seen || gen == *seen)
        return false;
    *seen = cur;
    return true;
}

#endif /* CTXLOG_SINK_OPS_H */
