/* SPDX-License-Identifier: MIT */
/*
 * The per-thread queues of async mode (private): one single-producer,
 * single-consumer ring of bytes per logging thread, drained by the writer.
 *
 * An entry is a 16-byte header (the sink, the length, flags) and the
 * formatted record, padded to 16 bytes. An entry never wraps: when the end
 * of the ring is too short for it, a WRAP header fills the rest.
 *
 * A producer does not write its entries into the ring one by one: the
 * ring's lines are the writer's too (it reads them from the other core),
 * and every store to one of them would wait for it to come back. Entries
 * are staged first, in the same format, in a small buffer of the thread's
 * own (log__ring_stage_cap bytes), and copied into the ring in one piece
 * when it fills up, for a record at error or above, and by the writer: for
 * log_flush, for a thread gone, and for a stage older than
 * LOG__FLUSH_INTERVAL_NS. A lock per ring (one exchange, uncontended but
 * for those) serializes the thread and the writer as producers.
 *
 * Rings are never freed: when its thread exits a ring is orphaned, drained,
 * then given to the next thread that needs one. So the list of rings can be
 * walked without a lock (by the writer, and by the crash handler).
 *
 * The writer and the crash handler never write the same entry: each
 * claims the entries it writes by moving `claimed` forward with a
 * compare-and-swap, the writer one run at a time just before the run's
 * write (sink_gather.c), the handler everything up to the head. The writer
 * stores the tail after each write, so the tail is also how far it has
 * written: a handler that finds claimed ahead of the tail waits for the
 * write under way to end, and writes the rest itself.
 */
#ifndef CTXLOG_LOG_ASYNC_RING_H
#define CTXLOG_LOG_ASYNC_RING_H

#include <assert.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "log/async/async.h"

enum { RING_OWNED = 0, RING_ORPHAN = 1, RING_FREE = 2 };

typedef struct log__ring {
    _Atomic uint64_t head; /* bytes ever written (producer) */
    uint64_t tail_seen;    /* the producer's last read of tail: room it knows of */
    atomic_int stage_lock; /* 1: held (by the thread or the writer) */
    _Atomic size_t stage_len; /* bytes staged; read without the lock as a hint */
    uint64_t stage_since;  /* CLOCK_MONOTONIC of the first staged entry */
    char *stage;           /* log__ring_stage_cap(cap) bytes */
    char pad_head[16];
    _Atomic uint64_t tail; /* bytes ever consumed: written out (writer) */
    _Atomic uint64_t claimed; /* bytes taken to be written (writer, crash handler) */
    char pad_tail[48];
    char *data;
    size_t cap;            /* a power of two */
    atomic_int state;
    atomic_int waiting;    /* the producer waits for room */
    struct log__ring *_Atomic next;
} log__ring;

typedef struct log__ring_hdr {
    log_sink *sink;
    uint32_t len;
    uint32_t flags;
} log__ring_hdr;

#define RING_HDR ((size_t)sizeof(log__ring_hdr))
#define RING_WRAP 1u

/*
 * The ring's counters, in Debug builds (they only grow): tail <= claimed
 * <= head, all whole entries (multiples of 16 bytes). Read in that order,
 * so that a check made while the others move them is still sound: a tail
 * read first is at most the claimed read after it, which is at most the
 * head read last. The producer checks head - tail <= cap itself, where it
 * moves the head (ring_publish).
 */
static inline void log__ring_check(log__ring *r)
{
#ifndef NDEBUG
    uint64_t tail = atomic_load(&r->tail);
    uint64_t claimed = atomic_load(&r->claimed);
    uint64_t head = atomic_load(&r->head);
    assert(tail <= claimed && claimed <= head);
    assert(tail % 16 == 0 && claimed % 16 == 0 && head % 16 == 0);
#else
    (void)r;
#endif
}

/* Bytes an entry of `len` takes. */
static inline size_t log__ring_entry_size(size_t len)
{
    return RING_HDR + ((len + 15) & ~(size_t)15);
}

/* Read the entry at `*tail` (which is before the head) into *h and return
 * its text; *tail moves past it. A WRAP filler is skipped first. */
static inline const char *log__ring_next(const log__ring *r, uint64_t *tail, uint64_t head,
                                         log__ring_hdr *h)
{
    size_t off = (size_t)*tail & (r->cap - 1);
    memcpy(h, r->data + off, RING_HDR);
    if (h->flags & RING_WRAP) {
        *tail += r->cap - off;
        if (*tail >= head)
            return NULL;
        memcpy(h, r->data, RING_HDR);
        off = 0;
    }
    *tail += log__ring_entry_size(h->len);
    return r->data + off + RING_HDR;
}

/* Bytes a ring of `cap` bytes stages: small enough that a whole stage
 * always finds room in the ring, even across its end. */
static inline size_t log__ring_stage_cap(size_t cap)
{
    return cap / 4 < 4096 ? cap / 4 : 4096;
}

/* The rings' consumer (the writer, async_writer.c), as the rings see it:
 * the rings know nothing else of it. It registers before it turns async
 * mode on, and sets log__ring_consumer_idle while it sleeps. */
typedef struct log__ring_consumer {
    void (*wake)(void);             /* records were queued while it slept */
    void (*due)(uint64_t since_ns); /* a stage became non-empty at since_ns */
} log__ring_consumer;
void log__rings_set_consumer(const log__ring_consumer *c);
extern atomic_int log__ring_consumer_idle;

/* The first ring of the list (newest first). */
log__ring *log__rings_first(void);
/* For the writer: copy r's staged entries into it when there are any (and,
 * with older_than_ns, only when staged before that). Returns 0 when nothing
 * is left staged, 1 when the stage is in use by its thread or the ring has
 * no room for it (drain the ring and try again). */
int log__ring_stage_publish(log__ring *r, uint64_t older_than_ns);
/* Wake a producer waiting for room in `r`. */
void log__ring_wake_producer(log__ring *r);

#endif /* CTXLOG_LOG_ASYNC_RING_H */
