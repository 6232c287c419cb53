/* SPDX-License-Identifier: MIT */
/*
 * Per-thread output buffers of buffered sinks, in sync mode.
 *
 * Each thread that logs to a buffered sink (a file sink unless it is
 * write_through) appends its records to a 64 KiB buffer of its own for that
 * sink, so threads logging to one file share no lock and no cache line per
 * record. A thread has SLOTS such buffers, one per sink it logs to; for a
 * sink beyond those the thread uses the sink's shared buffer (sink_buffer.c).
 *
 * A buffer holds whole lines and is written out with one write(2) under the
 * sink's lock (so rotation, reopen and the size of the file stay exact):
 * when the next record would not fit, for a record at error or above, by
 * log_flush() (every thread's buffers), by the background thread at the
 * latest LOG__FLUSH_INTERVAL_NS after its first byte, when a reopen was
 * requested since its first byte, when its thread exits, when its sink is
 * freed, and before its thread's next record in async mode (order).
 *
 * Reopen: a thread's buffer never mixes bytes from before and after a
 * reopen request; before the first newer bytes are written (and reopen the
 * file), every buffer of older bytes is written to the old file.
 *
 * Each buffer has a spinlock that its own thread takes for every record
 * (uncontended: one exchange, and a plain store to release it) and that
 * others take only to write the buffer out. Lock order: tset_lock, then a
 * buffer's lock, then the sink's lock. A thread appends to its own buffers
 * without tset_lock.
 */
#include "log/sinks/sink_ops.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "formatters/fmt_json.h"

/* Sinks a thread can buffer for at once. */
#define SLOTS 4

typedef struct tbuf {
    atomic_int lock;             /* 1: held */
    _Atomic(log_sink *) sink;    /* NULL: free; set by the owner, cleared when the sink goes */
    char *data;                  /* LOG__SINK_BUF bytes, from the first claim on */
    size_t len;
    uint64_t since_ns;           /* CLOCK_MONOTONIC of the first unwritten byte */
    unsigned gen;                /* log__reopen_generation at the first unwritten byte */
    atomic_int pending;          /* len > 0, for a scan without the lock; seq_cst
                                  * against the flusher's deadline (log__sinks_due) */
} tbuf;

/* A thread's buffers; cache-line aligned, so that no two threads' share a line. */
typedef struct tset {
    tbuf slot[SLOTS];
    struct tset *prev, *next;    /* registry, under tset_lock */
} tset;

CTX__TLS int log__tbuf_dirty;
static CTX__TLS tset *my_tset;
static CTX__TLS int my_tset_gone;

static pthread_mutex_t tset_lock = PTHREAD_MUTEX_INITIALIZER;
static tset *tsets;
/* log__reopen_generation up to which every buffer of older bytes has been
 * written out (written under tset_lock). */
static atomic_uint tsets_gen;
static pthread_key_t tset_key;
static pthread_once_t tset_once = PTHREAD_ONCE_INIT;

/* ---- the buffer's lock ------------------------------------------------------------ */

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void tb_lock_slow(tbuf *b)
{
    /* Held by another thread writing this buffer out: that takes one
     * write(2), so spin a little, then give the CPU away. */
    unsigned spins = 0;
    do {
        while (atomic_load_explicit(&b->lock, memory_order_relaxed)) {
            if (++spins < 128)
                cpu_relax();
            else
                sched_yield();
        }
    } while (atomic_exchange_explicit(&b->lock, 1, memory_order_acquire));
}

static inline void tb_lock(tbuf *b)
{
    if (atomic_exchange_explicit(&b->lock, 1, memory_order_acquire))
        tb_lock_slow(b);
}

static inline void tb_unlock(tbuf *b)
{
    atomic_store_explicit(&b->lock, 0, memory_order_release);
}

/* Write the buffer out into `s` (its sink); the buffer's lock held. */
static void tb_write(tbuf *b, log_sink *s)
{
    assert(atomic_load_explicit(&b->lock, memory_order_relaxed));
    if (!b->len)
        return;
    pthread_mutex_lock(&s->lock);
    log__sink_write_lines_unlock(s, b->data, b->len, b->gen);
    b->len = 0;
    atomic_store_explicit(&b->pending, 0, memory_order_relaxed);
}

/* Write out every thread's pending buffer that `due` says is due (each
 * asked with its lock held, and only when it holds bytes for a sink).
 * tset_lock held. */
static void write_due_locked(int (*due)(const tbuf *b, void *arg), void *arg)
{
    for (tset *t = tsets; t; t = t->next) {
        for (int k = 0; k < SLOTS; k++) {
            tbuf *b = &t->slot[k];
            if (!atomic_load(&b->pending))
                continue;
            tb_lock(b);
            log_sink *s = atomic_load_explicit(&b->sink, memory_order_relaxed);
            if (s && b->len && due(b, arg))
                tb_write(b, s);
            tb_unlock(b);
        }
    }
}

/* Bytes of an older reopen generation than *arg. */
static int older_gen(const tbuf *b, void *arg)
{
    return b->gen != *(const unsigned *)arg;
}

/* A reopen was requested (log_reopen_request): before any thread's newer
 * bytes reopen a file, every buffer of older bytes goes to the file it was
 * meant for. tset_lock held. */
static void catch_up_locked(void)
{
    unsigned cur = atomic_load(&log__reopen_generation);
    if (atomic_load_explicit(&tsets_gen, memory_order_relaxed) == cur)
        return;
    write_due_locked(older_gen, &cur);
    atomic_store_explicit(&tsets_gen, cur, memory_order_release);
}

/* Write out and forget every buffer of `t` (tset_lock held). */
static void tset_write_all(tset *t)
{
    for (int k = 0; k < SLOTS; k++) {
        tbuf *b = &t->slot[k];
        tb_lock(b);
        log_sink *s = atomic_load_explicit(&b->sink, memory_order_relaxed);
        if (s)
            tb_write(b, s);
        atomic_store_explicit(&b->sink, NULL, memory_order_relaxed);
        tb_unlock(b);
    }
}

static void tset_unlink_locked(tset *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else if (tsets == t)
        tsets = t->next;
    if (t->next)
        t->next->prev = t->prev;
    t->prev = t->next = NULL;
}

static void tset_free(tset *t)
{
    for (int k = 0; k < SLOTS; k++)
        free(t->slot[k].data);
    free(t);
}

/* ---- a thread's set: made on its first buffered record, gone at its exit -------- */

/* pthread key destructor: the thread exits. Its buffers are written out
 * while still registered (so that a sink being freed meanwhile waits for
 * this); a record it logs after this (another key's destructor) goes
 * through the sink's shared buffer. */
static void tset_exit(void *p)
{
    tset *t = p;
    pthread_mutex_lock(&tset_lock);
    catch_up_locked();
    tset_write_all(t);
    tset_unlink_locked(t);
    pthread_mutex_unlock(&tset_lock);
    my_tset = NULL;
    my_tset_gone = 1;
    log__tbuf_dirty = 0;
    tset_free(t);
}

static void tset_key_make(void)
{
    (void)pthread_key_create(&tset_key, tset_exit);
}

/* The calling thread's set, made now; NULL when out of memory or when the
 * thread is exiting. */
static tset *tset_make(void)
{
    if (my_tset_gone)
        return NULL;
    (void)pthread_once(&tset_once, tset_key_make);
    size_t size = (sizeof(tset) + 63) & ~(size_t)63;
    tset *t = aligned_alloc(64, size);
    if (!t)
        return NULL;
    memset(t, 0, size);
    if (pthread_setspecific(tset_key, t) != 0) {
        free(t);
        return NULL;
    }
    pthread_mutex_lock(&tset_lock);
    t->next = tsets;
    if (tsets)
        tsets->prev = t;
    tsets = t;
    pthread_mutex_unlock(&tset_lock);
    my_tset = t;
    return t;
}

/* A slot of `t` for `s`: a free one, else one whose buffer is empty (its
 * sink's next record from here claims another). NULL when every slot holds
 * bytes for another sink, or out of memory. */
static tbuf *slot_claim(tset *t, log_sink *s)
{
    for (int pass = 0; pass < 2; pass++) {
        for (int k = 0; k < SLOTS; k++) {
            tbuf *b = &t->slot[k];
            if (pass == 0 && atomic_load_explicit(&b->sink, memory_order_relaxed))
                continue;
            tb_lock(b);
            log_sink *cur = atomic_load_explicit(&b->sink, memory_order_relaxed);
            if (!cur || b->len == 0) {
                if (!b->data && !(b->data = malloc(LOG__SINK_BUF))) {
                    tb_unlock(b);
                    return NULL;
                }
                atomic_store_explicit(&b->sink, s, memory_order_relaxed);
                tb_unlock(b);
                return b;
            }
            tb_unlock(b);
        }
    }
    return NULL;
}

/* ---- the logging thread ------------------------------------------------------------ */

/* The general case of log__tbuf_put: a first record, a buffer to write out
 * first or now, a contended lock, or the shared path. */
static __attribute__((noinline)) void put_slow(log_sink *s, const char *text, size_t len,
                                               int urgent)
{
    if (atomic_load_explicit(&log__reopen_generation, memory_order_relaxed) !=
        atomic_load_explicit(&tsets_gen, memory_order_acquire)) {
        pthread_mutex_lock(&tset_lock);
        catch_up_locked();
        pthread_mutex_unlock(&tset_lock);
    }
    tset *t = my_tset;
    tbuf *b = NULL;
    if (t || (t = tset_make()) != NULL) {
        for (int k = 0; k < SLOTS; k++) {
            if (atomic_load_explicit(&t->slot[k].sink, memory_order_relaxed) == s) {
                b = &t->slot[k];
                break;
            }
        }
        if (!b && len <= LOG__SINK_BUF / 2)
            b = slot_claim(t, s);
    }
    if (b) {
        tb_lock(b);
        if (len > LOG__SINK_BUF / 2) {
            /* Written through below, after what this thread buffered. */
            tb_write(b, s);
            tb_unlock(b);
            b = NULL;
        }
    }
    if (!b) {
        /* No buffer of its own for `s` (exiting thread, out of memory,
         * every slot in use, or a big record): the sink's shared buffer. */
        log__sink_put(s, text, len, urgent ? LOG__PUT_URGENT : LOG__PUT_SYNC);
        return;
    }
    /* A reopen requested since the first buffered byte: those bytes go to
     * the file they were meant for, this record to the new one. */
    unsigned gen = atomic_load_explicit(&log__reopen_generation, memory_order_relaxed);
    if (b->len && (gen != b->gen || len > LOG__SINK_BUF - b->len))
        tb_write(b, s);
    int was_empty = b->len == 0;
    memcpy(b->data + b->len, text, len);
    b->len += len;
    if (urgent) {
        tb_write(b, s);
        tb_unlock(b);
        return;
    }
    uint64_t since = 0;
    if (was_empty) {
        since = b->since_ns = log__now_ns();
        b->gen = gen;
        atomic_store(&b->pending, 1);
    }
    tb_unlock(b);
    if (was_empty) {
        log__tbuf_dirty = 1;
        log__sinks_due(since); /* so that it is written within the interval */
    }
}

void log__tbuf_put(log_sink *s, const char *text, size_t len, int urgent)
{
    /* The steady state: a record that fits after others in this thread's
     * buffer for `s`, nothing to write out. */
    tset *t = my_tset;
    if (__builtin_expect(t && !urgent, 1)) {
        for (int k = 0; k < SLOTS; k++) {
            tbuf *b = &t->slot[k];
            if (atomic_load_explicit(&b->sink, memory_order_relaxed) != s)
                continue;
            if (atomic_exchange_explicit(&b->lock, 1, memory_order_acquire))
                break; /* being written out by another thread */
            size_t have = b->len;
            if (have && len <= LOG__SINK_BUF - have &&
                b->gen == atomic_load_explicit(&log__reopen_generation, memory_order_relaxed)) {
                b->len = have + len;
                memcpy(b->data + have, text, len);
                tb_unlock(b);
                return;
            }
            tb_unlock(b);
            break;
        }
    }
    put_slow(s, text, len, urgent);
}

/* log__tbuf_put's steady state, for a line written from the cache: the
 * calling thread's buffer for `s`, locked, when it already holds records of
 * the current reopen generation; NULL otherwise. */
static inline __attribute__((always_inline)) tbuf *tb_mine_locked(log_sink *s)
{
    tset *t = my_tset;
    if (!t)
        return NULL;
    for (int k = 0; k < SLOTS; k++) {
        tbuf *b = &t->slot[k];
        if (atomic_load_explicit(&b->sink, memory_order_relaxed) != s)
            continue;
        if (atomic_exchange_explicit(&b->lock, 1, memory_order_acquire))
            return NULL; /* being written out by another thread */
        if (b->len &&
            b->gen == atomic_load_explicit(&log__reopen_generation, memory_order_relaxed))
            return b;
        tb_unlock(b);
        return NULL;
    }
    return NULL;
}

int log__tbuf_line(log_sink *s, const fmt_line_key *k, const log_record *check)
{
    tbuf *b = tb_mine_locked(s);
    if (!b)
        return 1;
    size_t n = fmt_json_line_write_to(k, s->json->preset, b->data + b->len,
                                      LOG__SINK_BUF - b->len);
    if (n && check)
        fmt_json_check(check, s->json, b->data + b->len, n);
    b->len += n;
    tb_unlock(b);
    return n ? 0 : 1;
}

void log__tbufs_write_mine(void)
{
    tset *t = my_tset;
    log__tbuf_dirty = 0;
    if (!t)
        return;
    for (int k = 0; k < SLOTS; k++) {
        tbuf *b = &t->slot[k];
        if (!atomic_load_explicit(&b->sink, memory_order_relaxed))
            continue;
        tb_lock(b);
        log_sink *s = atomic_load_explicit(&b->sink, memory_order_relaxed);
        if (s)
            tb_write(b, s);
        tb_unlock(b);
    }
}

/* ---- other threads: log_flush, the flusher, a sink that goes ----------------------- */

/* For log__tbufs_flush: every buffer, or (due_only) those whose first byte
 * is LOG__FLUSH_INTERVAL_NS old at now_ns; `next` gets the earliest time
 * another one falls due. */
struct flush_due {
    int due_only;
    uint64_t now_ns, next;
};

static int flush_is_due(const tbuf *b, void *arg)
{
    struct flush_due *f = arg;
    uint64_t due = b->since_ns + LOG__FLUSH_INTERVAL_NS;
    if (!f->due_only || due <= f->now_ns)
        return 1;
    if (due < f->next)
        f->next = due;
    return 0;
}

uint64_t log__tbufs_flush(int due_only, uint64_t now_ns)
{
    struct flush_due f = {.due_only = due_only, .now_ns = now_ns, .next = UINT64_MAX};
    pthread_mutex_lock(&tset_lock);
    catch_up_locked();
    write_due_locked(flush_is_due, &f);
    uint64_t next = f.next;
    pthread_mutex_unlock(&tset_lock);
    return next;
}

void log__tbufs_detach(log_sink *s)
{
    pthread_mutex_lock(&tset_lock);
    catch_up_locked();
    for (tset *t = tsets; t; t = t->next) {
        for (int k = 0; k < SLOTS; k++) {
            tbuf *b = &t->slot[k];
            if (atomic_load_explicit(&b->sink, memory_order_relaxed) != s)
                continue;
            /* Only its owner changes a slot's sink, and not to `s`, which
             * no route holds any more. */
            tb_lock(b);
            if (atomic_load_explicit(&b->sink, memory_order_relaxed) == s) {
                tb_write(b, s);
                atomic_store_explicit(&b->sink, NULL, memory_order_relaxed);
            }
            tb_unlock(b);
        }
    }
    pthread_mutex_unlock(&tset_lock);
}

/* ---- fork() and the crash handler ---------------------------------------------------- */

static void tbufs_fork(int phase)
{
    if (phase == LOG__FORK_PREPARE) {
        /* No buffer is mid-append or mid-write while the process is copied. */
        pthread_mutex_lock(&tset_lock);
        for (tset *t = tsets; t; t = t->next)
            for (int k = 0; k < SLOTS; k++)
                tb_lock(&t->slot[k]);
        return;
    }
    tset *next;
    for (tset *t = tsets; t; t = next) {
        next = t->next;
        for (int k = 0; k < SLOTS; k++) {
            if (phase == LOG__FORK_CHILD) {
                t->slot[k].len = 0; /* the parent writes these; written twice otherwise */
                atomic_store(&t->slot[k].pending, 0);
            }
            tb_unlock(&t->slot[k]);
        }
        if (phase == LOG__FORK_CHILD && t != my_tset) {
            /* The other threads do not exist here. */
            tset_unlink_locked(t);
            tset_free(t);
        }
    }
    if (phase == LOG__FORK_CHILD)
        log__tbuf_dirty = 0;
    pthread_mutex_unlock(&tset_lock);
}
CTX__FORK_PART(CTX__FORK_RANK_TBUFS, tbufs_fork)

void log__tbufs_crash_write(void)
{
    /* No lock: the thread that crashed may hold one. A buffer being written
     * at this very moment may come out twice, and a thread exiting at this
     * very moment may free its set under this loop; none is lost. */
    for (tset *t = tsets; t; t = t->next) {
        for (int k = 0; k < SLOTS; k++) {
            tbuf *b = &t->slot[k];
            log_sink *s = atomic_load_explicit(&b->sink, memory_order_relaxed);
            size_t n = b->len;
            if (s && s->ops->crash_write && b->data && n && n <= LOG__SINK_BUF)
                s->ops->crash_write(s, b->data, n);
        }
    }
}
