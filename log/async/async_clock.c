/* SPDX-License-Identifier: MIT */
/*
 * The time of a captured record: see async_clock.h.
 */
#include "log/async/async_clock.h"

#include <pthread.h>
#include <stdatomic.h>

int log__stamp_tsc = -1;

/* A reading of the counter and the clock, one right after the other. */
struct pair {
    uint64_t tsc;
    int64_t ns;
};

static struct pair start;         /* when stamps were decided on */
static struct pair older, newer;  /* the writer's two latest pairs */
static double between;            /* nanoseconds per tick from older to newer */
static _Atomic double ns_per_tick; /* from `start` to the newest pair */
static pthread_once_t decide_once = PTHREAD_ONCE_INIT;

static int64_t realtime_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

#if defined(__x86_64__)
/* The counter read on both sides of the clock: the pair is the clock and
 * the counter's midpoint, from the read that took the least ticks of a few
 * (the first clock_gettime after a sleep can take microseconds). */
static struct pair read_pair(void)
{
    struct pair best = {0, 0};
    uint64_t best_width = UINT64_MAX;
    for (int i = 0; i < 4; i++) {
        uint64_t t0 = __rdtsc();
        int64_t ns = realtime_ns();
        uint64_t t1 = __rdtsc();
        if (t1 - t0 < best_width) {
            best_width = t1 - t0;
            best.tsc = t0 + (t1 - t0) / 2;
            best.ns = ns;
        }
        if (best_width < 200) /* tens of nanoseconds: good enough */
            break;
    }
    return best;
}

/* CPUID leaf 0x80000007, EDX bit 8: the counter runs at one rate in every
 * power state, and the kernel keeps it in step across CPUs. */
static int tsc_invariant(void)
{
    unsigned a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x80000000u), "c"(0));
    if (a < 0x80000007u)
        return 0;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x80000007u), "c"(0));
    return (d >> 8) & 1;
}
#endif

static void decide(void)
{
    int tsc = 0;
#if defined(__x86_64__)
    tsc = tsc_invariant();
    if (tsc) {
        /* A first rate from pairs 20 us apart (good to a fraction of a
         * percent), for the writer's first records; each pass refines it. */
        start = read_pair();
        do
            newer = read_pair();
        while (newer.ns - start.ns < 20000 && newer.ns >= start.ns);
        if (newer.tsc <= start.tsc || newer.ns <= start.ns)
            newer = start; /* the clock stepped back: no first rate */
        older = start;
        between = newer.tsc > start.tsc
                      ? (double)(newer.ns - start.ns) / (double)(newer.tsc - start.tsc)
                      : 0.0;
        atomic_store_explicit(&ns_per_tick, between, memory_order_relaxed);
    }
#endif
    __atomic_store_n(&log__stamp_tsc, tsc, __ATOMIC_RELEASE);
}

int log__stamp_decide(void)
{
    (void)pthread_once(&decide_once, decide);
    return __atomic_load_n(&log__stamp_tsc, __ATOMIC_ACQUIRE);
}

void log__stamp_sync(void)
{
#if defined(__x86_64__)
    if (__atomic_load_n(&log__stamp_tsc, __ATOMIC_ACQUIRE) != 1)
        return;
    struct pair p = read_pair();
    if (p.tsc <= newer.tsc || p.ns <= newer.ns)
        return; /* the clock stepped back, or no time passed: keep the pairs */
    older = newer;
    newer = p;
    between = (double)(newer.ns - older.ns) / (double)(newer.tsc - older.tsc);
    atomic_store_explicit(&ns_per_tick, (double)(p.ns - start.ns) / (double)(p.tsc - start.tsc),
                          memory_order_relaxed);
#endif
}

/* `stamp` placed from pair `p` at `rate` nanoseconds per tick. */
static int64_t from_pair(uint64_t stamp, struct pair p, double rate)
{
    double ticks = stamp >= p.tsc ? (double)(stamp - p.tsc) : -(double)(p.tsc - stamp);
    return p.ns + (int64_t)(ticks * rate);
}

static void to_timespec(int64_t ns, struct timespec *t)
{
    t->tv_sec = (time_t)(ns / 1000000000);
    t->tv_nsec = (long)(ns % 1000000000);
    if (t->tv_nsec < 0) {
        t->tv_sec--;
        t->tv_nsec += 1000000000;
    }
}

/* `stamp` between pairs a and b (a.tsc < b.tsc), or past them, at their
 * rate. */
static int64_t between_pairs(uint64_t stamp, struct pair a, struct pair b)
{
    return from_pair(stamp, a, (double)(b.ns - a.ns) / (double)(b.tsc - a.tsc));
}

void log__stamp_time(uint64_t stamp, struct timespec *t)
{
    int64_t ns = (int64_t)stamp;
    if (__atomic_load_n(&log__stamp_tsc, __ATOMIC_ACQUIRE) == 1) {
        if (newer.tsc > older.tsc && stamp >= older.tsc)
            ns = from_pair(stamp, older, between); /* between the two, or just after */
        else if (older.tsc > start.tsc)
            ns = between_pairs(stamp, start, older); /* queued before the last pass */
        else
            ns = from_pair(stamp, start, atomic_load_explicit(&ns_per_tick,
                                                              memory_order_relaxed));
    }
    to_timespec(ns, t);
}

void log__stamp_time_crash(uint64_t stamp, struct timespec *t)
{
    int64_t ns = (int64_t)stamp;
#if defined(__x86_64__)
    if (__atomic_load_n(&log__stamp_tsc, __ATOMIC_ACQUIRE) == 1) {
        /* Between the first pair (every stamp is after it) and one of its
         * own (every stamp is before it): nothing the writer may be
         * changing, and no rate taken from a short span. */
        struct pair now = read_pair();
        ns = now.tsc > start.tsc ? between_pairs(stamp, start, now)
                                 : from_pair(stamp, start, atomic_load_explicit(
                                                               &ns_per_tick, memory_order_relaxed));
    }
#endif
    to_timespec(ns, t);
}
