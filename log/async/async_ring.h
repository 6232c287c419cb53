/* SPDX-License-Identifier: MIT */
/*
 * The per-thread queues of async mode (private): one single-producer,
 * single-consumer ring of bytes per logging thread, drained by the writer.
 *
 * An entry is a 16-byte header (the sink, the length, flags) and the
 * formatted record, padded to 16 bytes. An entry never wraps: when the end
 * of the ring is too short for it, a WRAP header fills the rest.
 *
 * The thread writes each entry straight into its ring and publishes it by
 * moving the head (a release store): no lock, no system call. The writer
 * reads entries well behind the head (it pauses between passes), so the
 * lines the thread writes are seldom the ones being read; the thread asks
 * for the line it will write next ahead of time (prefetch for writing),
 * so that taking it back from the writer's cache is not waited for. The
 * writer is woken only when it sleeps, and then once per 4 KiB queued or
 * for a record at error or above; otherwise it finds the records on its
 * next pass, within LOG__FLUSH_INTERVAL_NS.
 *
 * Besides formatted records (text for a sink), a ring holds captured
 * records and context entries (async_capture.h): what a record is made
 * of, encoded by the writer.
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

#include "ctx/ctx_tls.h"
#include "log/async/async.h"
#include "log/base/log_lane.h"

enum { RING_OWNED = 0, RING_ORPHAN = 1, RING_FREE = 2 };

typedef struct log__ring {
    _Atomic uint64_t head; /* bytes ever written (producer) */
    uint64_t tail_seen;    /* the producer's last read of tail: room it knows of */
    uint64_t ctx_serial;   /* the producer's: the snapshot of the last context
                            * entry queued (async_capture.h); 0: none */
    uint64_t committed;    /* the producer's: the head its last
                            * log__ring_commit published */
    char pad_head[32];
    _Atomic uint64_t tail; /* bytes ever consumed: written out (writer) */
    _Atomic uint64_t claimed; /* bytes taken to be written (writer, crash handler) */
    char pad_tail[48];
    char *data;
    size_t cap;            /* a power of two */
    atomic_int state;
    atomic_int waiting;    /* the producer waits for room */
    struct log__ring_ctx *ctx; /* the writer's: context entries taken (async_capture.c) */
    struct log__ring *_Atomic next;
} log__ring;

typedef struct log__ring_hdr {
    log_sink *sink;
    uint32_t len;
    uint32_t flags;
} log__ring_hdr;

#define RING_HDR ((size_t)sizeof(log__ring_hdr))
#define LOG__RING_MIN 4096 /* the smallest queue's bytes */
#define RING_WRAP 1u     /* filler to the end of the ring */
#define RING_CAPTURED 2u /* a captured record (async_capture.h) */
#define RING_CONTEXT 4u  /* a context entry (async_capture.h) */

/* Write an entry's header at p (in the ring, 16-byte aligned): member by
 * member, so that no header is built on the stack first and copied. */
static inline void log__ring_hdr_put(char *p, log_sink *sink, size_t len, uint32_t flags)
{
    log__ring_hdr *h = (log__ring_hdr *)(void *)p;
    h->sink = sink;
    h->len = (uint32_t)len;
    h->flags = flags;
}

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

/* The rings' consumer (the writer, async_writer.c), as the rings see it:
 * the rings know nothing else of it. It registers before it turns async
 * mode on, and sets log__ring_consumer_idle while it sleeps. */
typedef struct log__ring_consumer {
    void (*wake)(void); /* records were queued while it slept */
} log__ring_consumer;
void log__rings_set_consumer(const log__ring_consumer *c);
extern atomic_int log__ring_consumer_idle;

/* The first ring of the list (newest first). */
log__ring *log__rings_first(void);
/* Wake a producer waiting for room in `r`. */
void log__ring_wake_producer(log__ring *r);

/* ---- the producer's side: the calling thread's ring ---- */

extern CTX__TLS log__ring *log__my_ring;
/* The calling thread's ring, made or taken on its first entry; NULL when
 * out of memory. */
log__ring *log__ring_make_mine(void);
static inline log__ring *log__ring_mine(void)
{
    log__ring *r = log__my_ring;
    return r ? r : log__ring_make_mine();
}

/* Make room for `total` more bytes after `head`, waiting for the writer
 * unless full queues drop: 0 when there is room, -1 when the entry is to
 * be dropped (the caller counts it). */
int log__ring_room_slow(log__ring *r, uint64_t head, size_t total);

/* Ask for the cache line at p to be written soon: taken from the writer's
 * cache now, so that the store that comes later does not wait for it. */
static inline void log__prefetch_write(const void *p)
{
#if defined(__x86_64__) || defined(__i386__)
    __asm__ volatile("prefetchw %0" : : "m"(*(const char *)p)); /* a no-op where not supported */
#else
    __builtin_prefetch(p, 1, 3);
#endif
}

/*
 * Where the entry of `need` bytes (log__ring_entry_size) goes in r (the
 * calling thread's), its header first; a WRAP filler is written when the
 * end of the ring is too close. *head gets the head to publish after it
 * (log__ring_commit). NULL when the ring is full and full queues drop (the
 * caller counts the entry); else waits for room. need <= cap / 2.
 */
static inline __attribute__((always_inline)) char *log__ring_reserve(log__ring *r, size_t need,
                                                                    uint64_t *head)
{
    log__lane_shut(); /* the head moves here: a lane starts at the head */
    uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    size_t off = (size_t)h & (r->cap - 1);
    size_t contig = r->cap - off;
    size_t total = contig < need ? contig + need : need;
    assert(need <= r->cap / 2 && need % 16 == 0);
    if (__builtin_expect(h + total - r->tail_seen > r->cap, 0) &&
        log__ring_room_slow(r, h, total) != 0)
        return NULL;
    if (__builtin_expect(contig < need, 0)) {
        log__ring_hdr_put(r->data + off, NULL, 0, RING_WRAP);
        h += contig;
        off = 0;
    }
    *head = h + need;
    /* Eight lines past this entry: written by the next few entries. */
    log__prefetch_write(r->data + ((off + need + 512) & (r->cap - 1)));
    return r->data + off;
}

/* 1 while the calling thread may have entries in its ring that the writer
 * has not written: set by each entry, cleared by log__ring_wait_mine. */
extern CTX__TLS int log__ring_pending;
/* Wait until the writer has written everything the calling thread queued. */
void log__ring_wait_mine(void);
/* Before a record written on the calling thread (sync mode, or a route that
 * does not queue): its queued records first, so that its order holds when
 * async mode was just turned off. */
static inline void log__ring_sync_barrier(void)
{
    if (__builtin_expect(log__ring_pending, 0))
        log__ring_wait_mine();
}

/* Publish the entries written up to `head`; wake the writer when it
 * sleeps and this is urgent or a 4 KiB mark was crossed since the last
 * commit (the consumer's wake; what a lane published in between counts,
 * and a lane's room ends at a mark). */
void log__ring_wake_consumer(void);
static inline __attribute__((always_inline)) void log__ring_commit(log__ring *r, uint64_t head,
                                                                  int urgent)
{
    /* Forward, by whole entries, never more than the ring ahead of the
     * writer (log__ring_reserve made the room). */
    assert(head > atomic_load_explicit(&r->head, memory_order_relaxed) && head % 16 == 0 &&
           head - atomic_load(&r->tail) <= r->cap);
    atomic_store_explicit(&r->head, head, memory_order_release);
    uint64_t last = r->committed;
    r->committed = head;
    log__ring_pending = 1;
    log__ring_check(r);
    /* No fence: a writer that went to sleep just as this was queued wakes
     * by itself within LOG__FLUSH_INTERVAL_NS. */
    if (__builtin_expect(atomic_load_explicit(&log__ring_consumer_idle, memory_order_relaxed), 0) &&
        (urgent || (last ^ head) >= 4096))
        log__ring_wake_consumer();
}

#endif /* CTXLOG_LOG_ASYNC_RING_H */
