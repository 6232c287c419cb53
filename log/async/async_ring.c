/* SPDX-License-Identifier: MIT */
/*
 * Async mode, the logging thread's side: its ring (async_ring.h), handing a
 * formatted record over, and what happens when the ring is full (wait for
 * the writer, or drop and count).
 */
#include "log/async/async_ring.h"
#include "log/sinks/sink_ops.h"

#include <assert.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

atomic_int log__async_on;

/* The consumer of the rings as they see it (async_ring.h). */
atomic_int log__ring_consumer_idle;
static log__ring_consumer consumer;

/* Written once, before async mode is first turned on (which orders it
 * before every producer's read); the same consumer after that. */
void log__rings_set_consumer(const log__ring_consumer *c)
{
    assert(c && c->wake && c->due);
    assert(!consumer.wake || (consumer.wake == c->wake && consumer.due == c->due));
    if (!consumer.wake)
        consumer = *c;
}

static atomic_size_t queue_bytes = 256 * 1024;
static atomic_int drop_when_full;

static log__ring *_Atomic rings;
static pthread_mutex_t room_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t room_cond = PTHREAD_COND_INITIALIZER;
static pthread_key_t ring_key;
static pthread_once_t ring_once = PTHREAD_ONCE_INIT;
static CTX__TLS log__ring *my_ring;

log__ring *log__rings_first(void)
{
    return atomic_load_explicit(&rings, memory_order_acquire);
}

static void ring_orphan(void *p)
{
    log__ring *r = p;
    if (my_ring == r)
        my_ring = NULL;
    atomic_store_explicit(&r->state, RING_ORPHAN, memory_order_release);
}

static void ring_key_make(void)
{
    (void)pthread_key_create(&ring_key, ring_orphan);
}

static size_t pow2_at_least(size_t n)
{
    size_t c = 4096;
    while (c < n && c < ((size_t)1 << 30))
        c <<= 1;
    return c;
}

/* The calling thread's ring: a free one of the configured size, or a new
 * one. NULL when out of memory. */
static log__ring *ring_get(void)
{
    log__ring *r = my_ring;
    if (r)
        return r;
    (void)pthread_once(&ring_once, ring_key_make);
    size_t cap = pow2_at_least(atomic_load(&queue_bytes));
    for (r = log__rings_first(); r; r = atomic_load(&r->next)) {
        int free_state = RING_FREE;
        if (r->cap == cap && atomic_compare_exchange_strong(&r->state, &free_state, RING_OWNED))
            break;
    }
    if (!r) {
        r = calloc(1, sizeof *r);
        char *data = r ? malloc(cap) : NULL;
        char *stage = data ? malloc(log__ring_stage_cap(cap)) : NULL;
        if (!stage) {
            free(data);
            free(r);
            return NULL;
        }
        r->data = data;
        r->cap = cap;
        r->stage = stage;
        log__ring *first = log__rings_first();
        do
            atomic_store_explicit(&r->next, first, memory_order_relaxed);
        while (!atomic_compare_exchange_weak(&rings, &first, r));
    }
    (void)pthread_setspecific(ring_key, r);
    my_ring = r;
    return r;
}

void log__ring_wake_producer(log__ring *r)
{
    if (!atomic_load_explicit(&r->waiting, memory_order_acquire))
        return;
    pthread_mutex_lock(&room_lock);
    atomic_store(&r->waiting, 0);
    pthread_cond_broadcast(&room_cond);
    pthread_mutex_unlock(&room_lock);
}

/* Wait until the writer has consumed up to `tail`. */
static void wait_for_tail(log__ring *r, uint64_t tail)
{
    for (int spin = 0; spin < 64; spin++) {
        if (atomic_load_explicit(&r->tail, memory_order_acquire) >= tail)
            return;
        if (spin == 0)
            consumer.wake();
        sched_yield();
    }
    while (atomic_load_explicit(&r->tail, memory_order_acquire) < tail) {
        consumer.wake(); /* not under room_lock: the consumer's lock comes first */
        pthread_mutex_lock(&room_lock);
        if (atomic_load_explicit(&r->tail, memory_order_acquire) < tail) {
            atomic_store(&r->waiting, 1);
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += 1000000; /* a missed wake-up costs 1 ms at most */
            if (until.tv_nsec >= 1000000000) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000;
            }
            (void)pthread_cond_timedwait(&room_cond, &room_lock, &until);
        }
        pthread_mutex_unlock(&room_lock);
    }
}

/* ---- the stage ---------------------------------------------------------- */

static void stage_lock(log__ring *r)
{
    unsigned spins = 0;
    while (atomic_exchange_explicit(&r->stage_lock, 1, memory_order_acquire)) {
        /* The writer copies the stage out (a few hundred ns), or it waits
         * for room as the thread would. */
        if (++spins > 64)
            sched_yield();
    }
}

static void stage_unlock(log__ring *r)
{
    atomic_store_explicit(&r->stage_lock, 0, memory_order_release);
}

/* Count the staged entries of stage[0, n) as dropped, per sink. */
static void stage_drop(const char *stage, size_t n)
{
    for (size_t at = 0; at < n;) {
        log__ring_hdr h;
        memcpy(&h, stage + at, RING_HDR);
        atomic_fetch_add_explicit(&h.sink->dropped, 1, memory_order_relaxed);
        log__count_dropped(1);
        at += log__ring_entry_size(h.len);
    }
}

/* Make room for `total` more bytes after `head`, stage lock held: 0 when
 * there is room (waited for when `wait`), 1 when there is none and not
 * `wait`, -1 when there is none and full queues drop. */
static int ring_room(log__ring *r, uint64_t head, size_t total, int wait)
{
    /* The tail is read again only when the room last seen is not enough:
     * its cache line is the writer's, and stays there. */
    if (head + total - r->tail_seen > r->cap)
        r->tail_seen = atomic_load_explicit(&r->tail, memory_order_acquire);
    if (head + total - r->tail_seen <= r->cap)
        return 0;
    if (atomic_load_explicit(&drop_when_full, memory_order_relaxed)) {
        if (atomic_load_explicit(&log__ring_consumer_idle, memory_order_relaxed))
            consumer.wake();
        return -1;
    }
    if (!wait)
        return 1;
    wait_for_tail(r, head + total - r->cap);
    return 0;
}

/* Publish the ring's new head (stage lock held). */
static void ring_publish(log__ring *r, uint64_t head)
{
    /* Forward, by whole entries, never more than the ring ahead of the
     * writer (ring_room made the room). */
    assert(head > atomic_load_explicit(&r->head, memory_order_relaxed) && head % 16 == 0);
    assert(head - atomic_load(&r->tail) <= r->cap);
    atomic_store_explicit(&r->head, head, memory_order_release);
    log__ring_check(r);
    /* No fence: a writer that went to sleep just as this was queued wakes
     * by itself within LOG__FLUSH_INTERVAL_NS. */
    if (atomic_load_explicit(&log__ring_consumer_idle, memory_order_relaxed))
        consumer.wake();
}

/*
 * Copy the staged entries into the ring in one piece (or two, around its
 * end), stage lock held. Without room: with `drop` configured the entries
 * are dropped and counted; else with `wait` set this waits for the writer,
 * and without it returns 1 (nothing done). Returns 0 when the stage is
 * empty.
 */
static int stage_publish_locked(log__ring *r, int wait)
{
    size_t n = atomic_load_explicit(&r->stage_len, memory_order_relaxed);
    if (!n)
        return 0;
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    size_t off = (size_t)head & (r->cap - 1);
    size_t contig = r->cap - off, first = n;
    if (contig < n) {
        /* The whole entries that fit before the end; a WRAP header fills
         * the rest (entries are multiples of 16 bytes, so is contig). */
        first = 0;
        for (;;) {
            log__ring_hdr h;
            memcpy(&h, r->stage + first, RING_HDR);
            size_t e = log__ring_entry_size(h.len);
            if (first + e > contig)
                break;
            first += e;
        }
    }
    size_t total = first == n ? n : contig + (n - first);
    int room = ring_room(r, head, total, wait);
    if (room > 0)
        return 1;
    if (room < 0) {
        stage_drop(r->stage, n);
    } else {
        memcpy(r->data + off, r->stage, first);
        if (first < n) {
            if (first < contig) {
                log__ring_hdr wrap = {.sink = NULL, .len = 0, .flags = RING_WRAP};
                memcpy(r->data + off + first, &wrap, RING_HDR);
            }
            memcpy(r->data, r->stage + first, n - first);
        }
        ring_publish(r, head + total);
    }
    atomic_store_explicit(&r->stage_len, 0, memory_order_relaxed);
    return 0;
}

/* One entry straight into the ring (one bigger than a stage), after what
 * is staged; stage lock held. */
static void ring_put_locked(log__ring *r, log_sink *s, const char *text, size_t len)
{
    (void)stage_publish_locked(r, 1);
    size_t need = log__ring_entry_size(len);
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    size_t off = (size_t)head & (r->cap - 1);
    size_t contig = r->cap - off;
    if (ring_room(r, head, contig < need ? contig + need : need, 1) < 0) {
        atomic_fetch_add_explicit(&s->dropped, 1, memory_order_relaxed);
        log__count_dropped(1);
        return;
    }
    if (contig < need) {
        log__ring_hdr wrap = {.sink = NULL, .len = 0, .flags = RING_WRAP};
        memcpy(r->data + off, &wrap, RING_HDR);
        head += contig;
        off = 0;
    }
    log__ring_hdr h = {.sink = s, .len = (uint32_t)len, .flags = 0};
    memcpy(r->data + off, &h, RING_HDR);
    memcpy(r->data + off + RING_HDR, text, len);
    ring_publish(r, head + need);
}

int log__ring_stage_publish(log__ring *r, uint64_t older_than_ns)
{
    if (!atomic_load_explicit(&r->stage_len, memory_order_relaxed))
        return 0;
    if (atomic_exchange_explicit(&r->stage_lock, 1, memory_order_acquire))
        return 1; /* its thread is at it */
    int rc = 0;
    if (!older_than_ns || r->stage_since <= older_than_ns)
        rc = stage_publish_locked(r, 0);
    stage_unlock(r);
    return rc;
}

void log__async_put(log_sink *s, const char *text, size_t len, int urgent)
{
    log__ring *r = ring_get();
    size_t need = log__ring_entry_size(len);
    if (!r || need > r->cap / 2 || len > UINT32_MAX) {
        /* Out of memory, or too big for the ring: written from here, after
         * what this thread queued before, to keep its order. */
        if (r) {
            stage_lock(r);
            (void)stage_publish_locked(r, 1);
            stage_unlock(r);
            wait_for_tail(r, atomic_load_explicit(&r->head, memory_order_relaxed));
        }
        log__sink_put(s, text, len, urgent ? LOG__PUT_URGENT : LOG__PUT_SYNC);
        return;
    }
    size_t cap = log__ring_stage_cap(r->cap);
    uint64_t since = 0;
    stage_lock(r);
    size_t have = atomic_load_explicit(&r->stage_len, memory_order_relaxed);
    if (need > cap - have) {
        (void)stage_publish_locked(r, 1);
        have = 0;
    }
    if (need <= cap) {
        log__ring_hdr h = {.sink = s, .len = (uint32_t)len, .flags = 0};
        memcpy(r->stage + have, &h, RING_HDR);
        memcpy(r->stage + have + RING_HDR, text, len);
        if (!have)
            since = r->stage_since = log__now_ns();
        atomic_store_explicit(&r->stage_len, have + need, memory_order_relaxed);
    } else {
        ring_put_locked(r, s, text, len); /* bigger than a stage */
    }
    if (urgent)
        (void)stage_publish_locked(r, 1);
    stage_unlock(r);
    if (since)
        consumer.due(since); /* so that the writer takes it within the interval */
}

void log__async_configure(size_t bytes, bool drop)
{
    if (bytes)
        atomic_store(&queue_bytes, bytes);
    atomic_store(&drop_when_full, drop);
}

/* How long, in all, the crash handler waits for others (milliseconds): for
 * the writer to end a write under way, and for a stage in use. A write to
 * a pipe that nobody reads may never end; then the handler writes the
 * entries itself (they may come out twice, but are not lost). */
#define CRASH_PATIENCE_MS 1000
static int crash_patience = CRASH_PATIENCE_MS; /* the handler runs once */

/* Wait a millisecond, when there is patience left. */
static bool crash_wait(void)
{
    if (crash_patience <= 0)
        return false;
    crash_patience--;
    struct timespec ms = {0, 1000000};
    (void)nanosleep(&ms, NULL); /* async-signal-safe */
    return true;
}

void log__rings_crash_write(void)
{
    for (log__ring *r = log__rings_first(); r; r = atomic_load(&r->next)) {
        /* The stage first: while the handler holds its lock, nobody copies
         * it into the ring, so the head stays where it is read. */
        bool staged_mine;
        while (!(staged_mine = !atomic_exchange(&r->stage_lock, 1)) && crash_wait())
            ;
        uint64_t head = atomic_load(&r->head);
        uint64_t from = atomic_load(&r->claimed);
        while (from < head && !atomic_compare_exchange_weak(&r->claimed, &from, head))
            ;
        /* [from, head) is the handler's now. The writer claimed what is
         * before it, and may be writing it still (it blocks this signal
         * and runs on): wait until it has. */
        uint64_t tail;
        while ((tail = atomic_load(&r->tail)) < from && crash_wait())
            ;
        if (tail > from)
            tail = from;
        while (tail < head) {
            log__ring_hdr h;
            const char *text = log__ring_next(r, &tail, head, &h);
            if (text && h.sink && h.sink->ops->crash_write)
                h.sink->ops->crash_write(h.sink, text, h.len);
        }
        /* Then what is staged, newer; taken, so that the writer does not
         * copy it into the ring after all. */
        size_t n = atomic_load(&r->stage_len);
        for (size_t at = 0; at < n;) {
            log__ring_hdr h;
            memcpy(&h, r->stage + at, RING_HDR);
            if (h.sink && h.sink->ops->crash_write)
                h.sink->ops->crash_write(h.sink, r->stage + at + RING_HDR, h.len);
            at += log__ring_entry_size(h.len);
        }
        if (staged_mine) {
            atomic_store(&r->stage_len, 0);
            stage_unlock(r);
        }
    }
}

static void rings_fork(int phase)
{
    if (phase == LOG__FORK_PREPARE) {
        pthread_mutex_lock(&room_lock);
        return;
    }
    pthread_mutex_unlock(&room_lock);
    if (phase != LOG__FORK_CHILD)
        return;
    pthread_cond_t fresh = PTHREAD_COND_INITIALIZER;
    room_cond = fresh; /* the parent's waiters are not here */
    /* What the parent queued is the parent's to write; the other threads
     * do not exist here. */
    for (log__ring *r = log__rings_first(); r; r = atomic_load(&r->next)) {
        atomic_store(&r->tail, atomic_load(&r->head));
        atomic_store(&r->claimed, atomic_load(&r->tail));
        atomic_store(&r->stage_len, 0);
        atomic_store(&r->stage_lock, 0); /* a thread that held it is not here */
        atomic_store(&r->waiting, 0);
        if (r != my_ring)
            atomic_store(&r->state, RING_FREE);
    }
}
CTX__FORK_PART(CTX__FORK_RANK_RINGS, rings_fork)
