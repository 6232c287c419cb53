/* SPDX-License-Identifier: MIT */
/*
 * The request's replay buffer: records kept, already formatted, until the
 * request logs an error (they are then written first) or ends (they are
 * discarded). The buffer is the value of a private context variable
 * (ctx__replay_var), so it is shared by every snapshot of the request and
 * freed with the last of them (the variable's release function).
 *
 * The records sit in a ring of whole lines that grows, doubling, up to the
 * request's bound; past it the oldest lines go. One lock per buffer: only
 * the threads of one request meet there.
 */
#include "log/log_policy.h"

#include <assert.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ctx/ctx_internal.h"

#define MIN_BYTES 256
#define MAX_BYTES ((size_t)1 << 30)
#define FIRST_CAP 1024

struct log__rbuf {
    pthread_mutex_t lock;
    size_t max;       /* the bound on cap */
    char *ring;       /* cap bytes; lines from head, len bytes, wrapping */
    size_t cap, head, len;
    size_t nrec;      /* whole lines in the ring */
    uint64_t dropped; /* lines dropped since the last take */
};

static atomic_uint_fast64_t st_buffers, st_bytes, st_peak_bytes, st_peak_buffer, st_kept,
    st_replayed, st_dropped, st_discarded;

static atomic_int def_level = LOG_LEVEL_OFF;
static atomic_size_t def_bytes;

static void peak(atomic_uint_fast64_t *p, uint64_t v)
{
    uint64_t cur = atomic_load_explicit(p, memory_order_relaxed);
    while (v > cur && !atomic_compare_exchange_weak_explicit(p, &cur, v, memory_order_relaxed,
                                                             memory_order_relaxed))
        ;
}

/*
 * A kept record is counted in st_kept before its buffer's lock is taken,
 * and in st_replayed, st_dropped or st_discarded (with release order) after
 * it leaves the buffer under that lock. So reading those three first (with
 * acquire order) and st_kept last gives kept >= replayed + dropped +
 * discarded at every instant: the difference is the records in live
 * buffers or on their way to a sink.
 */
static void count_out(atomic_uint_fast64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_release);
}

static void rbuf_free(void *p)
{
    log__rbuf *rb = p;
    count_out(&st_discarded, rb->nrec);
    atomic_fetch_sub_explicit(&st_bytes, rb->cap, memory_order_relaxed);
    atomic_fetch_sub_explicit(&st_buffers, 1, memory_order_relaxed);
    pthread_mutex_destroy(&rb->lock);
    free(rb->ring);
    free(rb);
}

ctx_token log_context_replay(log_level level, size_t max_bytes)
{
    if ((int)level < LOG_LEVEL_TRACE || level > LOG_LEVEL_WARN || max_bytes < MIN_BYTES ||
        max_bytes > MAX_BYTES)
        return (ctx_token){0};
    log__rbuf *rb = calloc(1, sizeof *rb);
    if (!rb)
        return (ctx_token){0};
    pthread_mutex_init(&rb->lock, NULL);
    rb->max = max_bytes;
    atomic_fetch_add_explicit(&st_buffers, 1, memory_order_relaxed);
    ctx_token t = ctx__set_replay(rb, rbuf_free, (int)level);
    if (!t.p_)
        rbuf_free(rb); /* out of memory: the context never held it */
    return t;
}

int log_replay_defaults_set(log_level level, size_t max_bytes)
{
    if (level != LOG_LEVEL_OFF &&
        ((int)level < LOG_LEVEL_TRACE || level > LOG_LEVEL_WARN || max_bytes < MIN_BYTES ||
         max_bytes > MAX_BYTES))
        return CTXLOG_EINVAL;
    atomic_store(&def_bytes, max_bytes);
    atomic_store(&def_level, (int)level);
    return 0;
}

ctx_token log_context_replay_default(void)
{
    int level = atomic_load(&def_level);
    if (level == LOG_LEVEL_OFF)
        return (ctx_token){0};
    return log_context_replay((log_level)level, atomic_load(&def_bytes));
}

void log_replay_stats_get(log_replay_stats *out)
{
    if (!out)
        return;
    out->replayed = atomic_load_explicit(&st_replayed, memory_order_acquire);
    out->dropped = atomic_load_explicit(&st_dropped, memory_order_acquire);
    out->discarded = atomic_load_explicit(&st_discarded, memory_order_acquire);
    out->kept = atomic_load_explicit(&st_kept, memory_order_acquire);
    out->buffers = atomic_load(&st_buffers);
    out->bytes = atomic_load(&st_bytes);
    out->peak_bytes = atomic_load(&st_peak_bytes);
    out->peak_buffer = atomic_load(&st_peak_buffer);
}

log__rbuf *log__rbuf_current(int *level)
{
    const ctx__val *v = ctx__snap_lookup(ctx__current(), ctx__replay_var());
    if (!v || v->kind != CTX__PTR)
        return NULL;
    *level = (int)v->i64;
    return v->ptr;
}

/* Copy `n` bytes out of the ring from offset `at` (wrapping). */
static void ring_read(const log__rbuf *rb, size_t at, char *dst, size_t n)
{
    size_t first = rb->cap - at < n ? rb->cap - at : n;
    memcpy(dst, rb->ring + at, first);
    memcpy(dst + first, rb->ring, n - first);
}

/* Grow the ring (linearized) to hold `need` bytes, up to the bound. */
static void ring_grow(log__rbuf *rb, size_t need)
{
    size_t cap = rb->cap ? rb->cap : FIRST_CAP;
    while (cap < need && cap < rb->max)
        cap *= 2;
    if (cap > rb->max)
        cap = rb->max;
    if (cap <= rb->cap)
        return;
    char *ring = malloc(cap);
    if (!ring)
        return; /* the oldest lines make room instead */
    if (rb->len)
        ring_read(rb, rb->head, ring, rb->len);
    free(rb->ring);
    atomic_fetch_add_explicit(&st_bytes, cap - rb->cap, memory_order_relaxed);
    peak(&st_peak_bytes, atomic_load_explicit(&st_bytes, memory_order_relaxed));
    peak(&st_peak_buffer, cap);
    rb->ring = ring;
    rb->cap = cap;
    rb->head = 0;
}

/* Drop the oldest line. */
static void ring_drop_oldest(log__rbuf *rb)
{
    assert(rb->nrec > 0 && rb->len > 0);
    size_t n = 0;
    while (rb->ring[(rb->head + n) % rb->cap] != '\n')
        n++;
    n++;
    assert(n <= rb->len);
    rb->head = (rb->head + n) % rb->cap;
    rb->len -= n;
    rb->nrec--;
    rb->dropped++;
    count_out(&st_dropped, 1);
}

void log__rbuf_keep(log__rbuf *rb, const char *text, size_t len)
{
    assert(len > 0 && text[len - 1] == '\n');
    atomic_fetch_add_explicit(&st_kept, 1, memory_order_relaxed);
    pthread_mutex_lock(&rb->lock);
    if (rb->cap - rb->len < len)
        ring_grow(rb, rb->len + len);
    if (len > rb->cap) {
        rb->dropped++; /* longer than the bound: never fits */
        count_out(&st_dropped, 1);
        pthread_mutex_unlock(&rb->lock);
        return;
    }
    while (rb->cap - rb->len < len)
        ring_drop_oldest(rb);
    size_t at = (rb->head + rb->len) % rb->cap;
    size_t first = rb->cap - at < len ? rb->cap - at : len;
    memcpy(rb->ring + at, text, first);
    memcpy(rb->ring, text + first, len - first);
    rb->len += len;
    rb->nrec++;
    pthread_mutex_unlock(&rb->lock);
}

size_t log__rbuf_take(log__rbuf *rb, fmt_buf *out, uint64_t *dropped)
{
    pthread_mutex_lock(&rb->lock);
    size_t n = 0;
    if (rb->len && fmt_buf_reserve(out, rb->len) == 0) {
        ring_read(rb, rb->head, out->data + out->len, rb->len);
        out->len += rb->len;
        n = rb->nrec;
    } else if (rb->len) {
        rb->dropped += rb->nrec; /* out of memory: lost, counted */
        count_out(&st_dropped, rb->nrec);
    }
    rb->head = rb->len = rb->nrec = 0;
    *dropped = rb->dropped;
    rb->dropped = 0;
    pthread_mutex_unlock(&rb->lock);
    return n;
}

void log__rbuf_replayed(size_t n, bool written)
{
    count_out(written ? &st_replayed : &st_dropped, n);
}
