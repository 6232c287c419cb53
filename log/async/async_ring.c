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
    assert(c && c->wake);
    assert(!consumer.wake || consumer.wake == c->wake);
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
CTX__TLS log__ring *log__my_ring;
CTX__TLS int log__ring_pending;

log__ring *log__rings_first(void)
{
    return atomic_load_explicit(&rings, memory_order_acquire);
}

static void ring_orphan(void *p)
{
    log__ring *r = p;
    log__lane_shut(); /* its room is in the ring that goes */
    if (log__my_ring == r)
        log__my_ring = NULL;
    atomic_store_explicit(&r->state, RING_ORPHAN, memory_order_release);
}

static void ring_key_make(void)
{
    (void)pthread_key_create(&ring_key, ring_orphan);
}

static size_t pow2_at_least(size_t n)
{
    size_t c = LOG__RING_MIN;
    while (c < n && c < ((size_t)1 << 30))
        c <<= 1;
    return c;
}

/* The calling thread's ring: a free one of the configured size, or a new
 * one. NULL when out of memory. */
log__ring *log__ring_make_mine(void)
{
    log__ring *r = log__my_ring;
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
        if (!data) {
            free(r);
            return NULL;
        }
        r->data = data;
        r->cap = cap;
        log__ring *first = log__rings_first();
        do
            atomic_store_explicit(&r->next, first, memory_order_relaxed);
        while (!atomic_compare_exchange_weak(&rings, &first, r));
    }
    (void)pthread_setspecific(ring_key, r);
    log__my_ring = r;
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

void log__ring_wait_mine(void)
{
    log__ring *r = log__my_ring;
    if (r)
        wait_for_tail(r, atomic_load_explicit(&r->head, memory_order_relaxed));
    log__ring_pending = 0;
    log__lane_shut(); /* its records would not set log__ring_pending again */
}

void log__ring_wake_consumer(void)
{
    /* One wake per sleep: the flag is taken, so that the threads that
     * find it set before the consumer runs again do not wake it too. */
    if (atomic_exchange(&log__ring_consumer_idle, 0))
        consumer.wake();
}

int log__ring_room_slow(log__ring *r, uint64_t head, size_t total)
{
    /* The tail is read again only when the room last seen is not enough:
     * its cache line is the writer's, and stays there. */
    r->tail_seen = atomic_load_explicit(&r->tail, memory_order_acquire);
    if (head + total - r->tail_seen <= r->cap)
        return 0;
    if (atomic_load_explicit(&drop_when_full, memory_order_relaxed)) {
        if (atomic_load_explicit(&log__ring_consumer_idle, memory_order_relaxed))
            log__ring_wake_consumer();
        return -1;
    }
    /* Until half the ring is free, not only this entry's room: the writer
     * is behind, and a thread that waited for each entry would wait at
     * every run the writer writes. One longer wait now and then keeps the
     * calls in between from waiting at all. */
    uint64_t half = total <= r->cap / 2 ? head + total - r->cap / 2 : head;
    wait_for_tail(r, half);
    r->tail_seen = atomic_load_explicit(&r->tail, memory_order_acquire);
    return 0;
}

void log__async_put(log_sink *s, const char *text, size_t len, int urgent)
{
    log__ring *r = log__ring_mine();
    size_t need = log__ring_entry_size(len);
    if (!r || need > r->cap / 2 || len > UINT32_MAX) {
        /* Out of memory, or too big for the ring: written from here, after
         * what this thread queued before, to keep its order. */
        if (r)
            wait_for_tail(r, atomic_load_explicit(&r->head, memory_order_relaxed));
        log__sink_put(s, text, len, urgent ? LOG__PUT_URGENT : LOG__PUT_SYNC);
        return;
    }
    uint64_t head;
    char *p = log__ring_reserve(r, need, &head);
    if (!p) {
        atomic_fetch_add_explicit(&s->dropped, 1, memory_order_relaxed);
        log__count_dropped(1);
        return;
    }
    log__ring_hdr_put(p, s, len, 0);
    memcpy(p + RING_HDR, text, len);
    log__ring_commit(r, head, urgent);
}

void log__async_configure(size_t bytes, bool drop)
{
    if (bytes)
        atomic_store(&queue_bytes, bytes);
    atomic_store(&drop_when_full, drop);
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
        atomic_store(&r->waiting, 0);
        /* The parent's writer may not have taken its context entries. */
        r->ctx_serial = 0;
        r->committed = atomic_load(&r->head);
        if (r != log__my_ring)
            atomic_store(&r->state, RING_FREE);
    }
    log__lane_shut();
    log__lanes_changed();
}
CTX__FORK_PART(CTX__FORK_RANK_RINGS, rings_fork)
