/* SPDX-License-Identifier: MIT */
/*
 * The background thread. In async mode it is the writer: it drains every
 * thread's ring, each run of records for one sink in one writev
 * (sink_gather.c) — formatted records straight from the ring, captured ones
 * encoded first (async_capture.h) — and pauses briefly after a pass that
 * wrote something, so that a burst becomes a few large writes. In both modes it
 * writes out sync buffers (the sinks' shared ones and the threads' own)
 * that have waited LOG__FLUSH_INTERVAL_NS.
 *
 * It never logs. It starts with the first buffered record or the first
 * queued one, blocks every signal, and runs until the process ends. After a
 * drain finds nothing it polls for a while (so that logging threads seldom
 * have to wake it), then sleeps until woken or until a buffer falls due.
 */
#include "log/async/async_capture.h"
#include "log/base/log_lane.h"
#include "log/async/async_clock.h"
#include "log/async/async_ring.h"

#include <assert.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/uio.h>
#include <sys/prctl.h>
#include <string.h>
#include <time.h>

#define POLL_NS (50 * 1000)        /* between polls while records flow */
#define POLLS 400                  /* about 20 ms of polling, then sleep */
#define GATHER 256                 /* records per writev */
#define BATCH_PAUSE_NS (20 * 1000) /* after a pass that wrote something */

static pthread_mutex_t w_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t w_cond = PTHREAD_COND_INITIALIZER;    /* wakes the writer */
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER; /* flush requests done */
static int running;       /* under w_lock */
static int kicked;        /* a sync buffer became non-empty (w_lock) */
static uint64_t flush_req, flush_done; /* under w_lock */
static int cond_clock_set; /* w_cond waits on CLOCK_MONOTONIC */
/* When the thread next looks at the sync buffers (CLOCK_MONOTONIC): 0 while
 * it looks, UINT64_MAX when it does not run or waits for no buffer. A
 * buffer that becomes non-empty kicks it only if that is too late (or it
 * is looking: it may have passed that buffer already). */
static _Atomic uint64_t flush_deadline = UINT64_MAX;

/* A run of a ring's entries, [from, to), about to be written. */
struct run {
    log__ring *r;
    uint64_t from, to;
    uint64_t taken; /* when the claim fails: how far the crash handler took */
};

/* Claim the run for the writer (see async_ring.h). It fails only when the
 * crash handler has claimed the entries from `from` on. */
static bool claim_run(void *payload)
{
    struct run *run = payload;
    uint64_t expect = run->from;
    assert(run->from <= run->to && run->to <= atomic_load(&run->r->head));
    if (atomic_compare_exchange_strong(&run->r->claimed, &expect, run->to))
        return true;
    assert(expect > run->from);
    run->taken = expect;
    return false;
}

/* The writer's lines for the captured records of a run (async_capture.h),
 * given back when it grew big. */
static fmt_buf w_lines;

/* Take the context entry at [from, to) of r: claimed first, so that the
 * crash handler, which takes over from the claimed position, finds the
 * ring's context (log__ring_ctx) as of there once the tail has moved. */
static bool take_context(log__ring *r, uint64_t from, uint64_t to, const char *payload,
                         size_t len, uint64_t *taken)
{
    struct run run = {.r = r, .from = from, .to = to};
    if (!claim_run(&run)) {
        *taken = run.taken;
        return false;
    }
    (void)log__capture_take_ctx(r, payload, len); /* failing, its records are counted */
    return true;
}

/* Drain `r` up to `limit` (a head it had); returns the entries written.
 * Runs of entries for one sink are written in one writev: formatted ones
 * from the ring, captured ones encoded into w_lines first (one piece for
 * those in a row). The tail moves past entries once they are written. */
static size_t drain_ring(log__ring *r, uint64_t limit)
{
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    size_t total = 0;
    while (tail < limit) {
        struct iovec iov[GATHER];
        size_t at[GATHER]; /* SIZE_MAX, or where in w_lines the piece starts */
        unsigned lines[GATHER]; /* records in the piece */
        log_sink *sink = NULL;
        int n = 0;          /* pieces */
        size_t records = 0; /* records in them */
        uint64_t end = tail;
        fmt_buf_clear(&w_lines);
        while (end < limit && records < GATHER) {
            uint64_t next = end;
            log__ring_hdr h;
            const char *text = log__ring_next(r, &next, limit, &h);
            if (text && (h.flags & RING_CONTEXT)) {
                if (n || end != tail)
                    break; /* the run before it first */
                uint64_t taken;
                if (!take_context(r, end, next, text, h.len, &taken))
                    next = taken;
                end = tail = next;
                atomic_store_explicit(&r->tail, tail, memory_order_release);
                continue;
            }
            if (text && n && h.sink != sink)
                break;
            end = next; /* past a WRAP filler too */
            if (!text)
                break;
            sink = h.sink;
            if (h.flags & RING_CAPTURED) {
                size_t start = w_lines.len;
                if (log__capture_encode(r, h.sink, text, h.len, &w_lines) != 0)
                    continue; /* lost, and counted */
                records++;
                if (n && at[n - 1] != SIZE_MAX) {
                    iov[n - 1].iov_len += w_lines.len - start; /* right after it */
                    lines[n - 1]++;
                    continue;
                }
                lines[n] = 1;
                at[n] = start;
                iov[n++] = (struct iovec){NULL, w_lines.len - start};
            } else {
                records++;
                lines[n] = 1;
                at[n] = SIZE_MAX;
                iov[n++] = (struct iovec){(void *)(uintptr_t)text, h.len};
            }
        }
        if (tail >= limit || end == tail)
            continue; /* only a context entry (or a run cut right after one) */
        for (int i = 0; i < n; i++)
            if (at[i] != SIZE_MAX)
                iov[i].iov_base = w_lines.data + at[i]; /* w_lines grows no more */
        struct run run = {.r = r, .from = tail, .to = end};
        bool mine = n ? log__sink_put_gathered(sink, iov, n, lines, claim_run, &run) : claim_run(&run);
        if (mine) {
            total += records;
        } else {
            /* The crash handler writes what it took; the writer goes on
             * after it (should the process live on). */
            end = run.taken;
        }
        tail = end;
        atomic_store_explicit(&r->tail, tail, memory_order_release);
        log__ring_check(r); /* written (or taken by the crash handler) only once claimed */
        log__ring_wake_producer(r);
    }
    if (w_lines.cap > 1024 * 1024)
        fmt_buf_free(&w_lines);
    log__ring_wake_producer(r);
    return total;
}

/* One pass over every ring; returns the entries written. */
static size_t drain_all(void)
{
    size_t n = 0;
    log__stamp_sync(); /* for the captured records' time */
    for (log__ring *r = log__rings_first(); r; r = atomic_load(&r->next)) {
        uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
        if (head != atomic_load_explicit(&r->tail, memory_order_relaxed))
            n += drain_ring(r, head);
        else if (atomic_load(&r->state) == RING_ORPHAN)
            atomic_store(&r->state, RING_FREE); /* drained: reusable */
    }
    return n;
}

/* Everything queued so far: the heads now, drained to. */
static void drain_to_now(void)
{
    log__stamp_sync();
    for (log__ring *r = log__rings_first(); r; r = atomic_load(&r->next))
        drain_ring(r, atomic_load_explicit(&r->head, memory_order_acquire));
}

/* Every queue empty: each record queued so far has been handed to its
 * sink (a tail moves past a record only once the sink has it). */
static int rings_empty(void)
{
    for (log__ring *r = log__rings_first(); r; r = atomic_load(&r->next))
        if (atomic_load_explicit(&r->head, memory_order_acquire) !=
            atomic_load_explicit(&r->tail, memory_order_acquire))
            return 0;
    return 1;
}

static void deadline(struct timespec *ts, uint64_t mono_ns)
{
    /* w_cond uses CLOCK_MONOTONIC (see start_locked). */
    ts->tv_sec = (time_t)(mono_ns / 1000000000u);
    ts->tv_nsec = (long)(mono_ns % 1000000000u);
}

/* Wait about ns nanoseconds without giving up the CPU: a sleep that short
 * takes 80 us and more on a virtual machine's timer, and the queues fill
 * meanwhile. Only while records flow; an idle writer sleeps. */
static void spin_for(uint64_t ns)
{
    uint64_t until = log__now_ns() + ns;
    while (log__now_ns() < until) {
#if defined(__x86_64__) || defined(__i386__)
        for (int i = 0; i < 64; i++)
            __builtin_ia32_pause();
#endif
    }
}

static void *writer_main(void *arg)
{
    (void)arg;
    /* Its pauses are short: the default 50 us of timer slack would more
     * than triple them. */
    (void)prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
    unsigned polls = POLLS;
    int batch = 0; /* records in buffers since they were last written out */
    for (;;) {
        pthread_mutex_lock(&w_lock);
        uint64_t req = flush_req;
        pthread_mutex_unlock(&w_lock);
        if (req != flush_done) {
            drain_to_now();
            log__sinks_report_drops();
            (void)log__sinks_flush(0, 0);
            batch = 0;
            pthread_mutex_lock(&w_lock);
            flush_done = req;
            pthread_cond_broadcast(&done_cond);
            pthread_mutex_unlock(&w_lock);
            continue;
        }
        if (drain_all()) {
            batch = 1;
            polls = 0;
            /* Let records pile up a little before the next pass: a writer
             * that chases each record as it is queued pulls the cache
             * lines the logging thread is still writing (the next entry,
             * the head) and slows every call down. */
            spin_for(BATCH_PAUSE_NS);
            continue;
        }
        /* The rings ran dry: the end of a batch. */
        if (batch) {
            log__sinks_report_drops();
            (void)log__sinks_flush(0, 0);
            batch = 0;
        }
        uint64_t now = log__now_ns();
        atomic_store(&flush_deadline, 0);
        uint64_t due = log__sinks_flush(1, now);
        if (polls < POLLS && atomic_load_explicit(&log__async_on, memory_order_relaxed)) {
            polls++;
            struct timespec pause = {0, POLL_NS};
            nanosleep(&pause, NULL);
            continue;
        }
        pthread_mutex_lock(&w_lock);
        atomic_store(&log__ring_consumer_idle, 1);
        if (!kicked && flush_req == flush_done && rings_empty()) {
            /* In async mode, wake up now and then even with no buffer
             * waiting: for records queued while this slept (a logging
             * thread wakes it only once per 4 KiB queued). */
            uint64_t until = due;
            if (atomic_load(&log__async_on) && until > now + LOG__FLUSH_INTERVAL_NS)
                until = now + LOG__FLUSH_INTERVAL_NS;
            atomic_store(&flush_deadline, until);
            if (until == UINT64_MAX) {
                pthread_cond_wait(&w_cond, &w_lock);
            } else {
                struct timespec ts;
                deadline(&ts, until);
                (void)pthread_cond_timedwait(&w_cond, &w_lock, &ts);
            }
        }
        atomic_store(&log__ring_consumer_idle, 0);
        kicked = 0;
        pthread_mutex_unlock(&w_lock);
        polls = 0;
    }
    return NULL;
}

/* Start the thread if it is not running (w_lock held). */
static void start_locked(void)
{
    if (running)
        return;
    if (!cond_clock_set) {
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_destroy(&w_cond);
        pthread_cond_init(&w_cond, &ca);
        pthread_condattr_destroy(&ca);
        cond_clock_set = 1;
    }
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    if (pthread_create(&t, &a, writer_main, NULL) == 0)
        running = 1;
    else
        log__report("cannot start the writer thread; buffered records wait for log_flush()");
    pthread_attr_destroy(&a);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void log__writer_kick(void)
{
    pthread_mutex_lock(&w_lock);
    start_locked();
    kicked = 1;
    pthread_cond_signal(&w_cond);
    pthread_mutex_unlock(&w_lock);
}

void log__writer_due(uint64_t since_ns)
{
    /* After the buffer's bytes (seq_cst): either the thread's next look at
     * the buffers comes after them, or this sees that look coming too late
     * (or under way) and kicks. */
    uint64_t d = atomic_load(&flush_deadline);
    if (d == 0 || d > since_ns + LOG__FLUSH_INTERVAL_NS)
        log__writer_kick();
}

void log__writer_wake(void)
{
    pthread_mutex_lock(&w_lock);
    start_locked();
    pthread_cond_signal(&w_cond);
    pthread_mutex_unlock(&w_lock);
}

void log__async_drain(void)
{
    /* In sync mode with nothing left queued there is nothing to wait for.
     * In async mode the writer goes through a flush all the same: it may
     * still owe a record about drops. */
    if (!atomic_load(&log__async_on) && rings_empty())
        return;
    pthread_mutex_lock(&w_lock);
    /* A forked child's records wait for a writer that starts when one is
     * woken (at 4 KiB queued): not for a flush. */
    if (!running && !rings_empty())
        start_locked();
    if (running) {
        uint64_t mine = ++flush_req;
        pthread_cond_signal(&w_cond);
        while (flush_done < mine)
            pthread_cond_wait(&done_cond, &w_lock);
    }
    pthread_mutex_unlock(&w_lock);
}

/* `configure`: set the queue size and overflow policy too; else they stay
 * as they are. */
static int async_switch(bool on, bool configure, size_t queue_bytes, bool drop)
{
    static const log__ring_consumer me = {log__writer_wake};
    log__rings_set_consumer(&me);
    if (!on) {
        atomic_store(&log__async_on, 0);
        log__lanes_changed(); /* records go the sync way from now on */
    }
    log__async_drain(); /* what was queued goes out first */
    if (configure)
        log__async_configure(queue_bytes, drop);
    if (on) {
        pthread_mutex_lock(&w_lock);
        start_locked();
        pthread_mutex_unlock(&w_lock);
        atomic_store(&log__async_on, running);
        if (!running)
            return CTXLOG_ENOMEM;
        /* A writer that went to sleep before async mode was on sleeps
         * without a deadline: from now on it wakes now and then. */
        log__writer_wake();
        /* The threads' sync buffers go out before their async records (a
         * thread that appended one meanwhile writes it out itself before
         * its next async record). */
        (void)log__sinks_flush(0, 0);
    }
    return 0;
}

int log__async_set(bool on, size_t queue_bytes, bool drop)
{
    return async_switch(on, true, queue_bytes, drop);
}

int log__async_turn(bool on)
{
    return async_switch(on, false, 0, false);
}

static void writer_fork(int phase)
{
    if (phase == LOG__FORK_PREPARE) {
        pthread_mutex_lock(&w_lock);
        return;
    }
    if (phase == LOG__FORK_CHILD) {
        /* The thread is not copied: the next buffered or queued record
         * starts one. Requests of the parent's threads do not exist here. */
        running = 0;
        kicked = 0;
        atomic_store(&flush_deadline, UINT64_MAX);
        flush_req = flush_done = 0;
        /* "Asleep": the next queued record wakes, that is starts, it. */
        atomic_store(&log__ring_consumer_idle, 1);
        pthread_cond_t fresh = PTHREAD_COND_INITIALIZER;
        done_cond = fresh; /* the parent's waiters are not here */
        if (cond_clock_set) {
            pthread_condattr_t ca;
            pthread_condattr_init(&ca);
            pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
            pthread_cond_init(&w_cond, &ca);
            pthread_condattr_destroy(&ca);
        }
    }
    pthread_mutex_unlock(&w_lock);
}
CTX__FORK_PART(CTX__FORK_RANK_WRITER, writer_fork)
