/* SPDX-License-Identifier: MIT */
/*
 * The time of a captured record (private): what the logging thread reads
 * at the call is a stamp, which the writer turns into the wall-clock time
 * that sync mode would have read (CLOCK_REALTIME).
 *
 * On x86-64 with an invariant TSC (CPUID says so) a stamp is the time-stamp
 * counter, one instruction; elsewhere it is CLOCK_REALTIME in nanoseconds
 * and needs no turning. The writer pairs the counter with the clock at
 * each pass over the queues (log__stamp_sync; the counter read on both
 * sides of the clock) and places a stamp between the two latest pairs by
 * interpolation: exact to the pairs' own reading (well under a
 * microsecond), whatever the counter's frequency and however the clock is
 * being slewed. A stamp older than the older pair (a record queued before
 * the writer's previous pass, seen only now) is placed between the first
 * pair, taken when stamps were decided on, and that one.
 */
#ifndef CTXLOG_LOG_ASYNC_CLOCK_H
#define CTXLOG_LOG_ASYNC_CLOCK_H

#include <stdint.h>
#include <time.h>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

/* 1: stamps are TSC readings; 0: CLOCK_REALTIME nanoseconds; -1: not yet
 * known (log__stamp_now decides on the process's first captured record,
 * once, taking a first measure of the counter's rate over 20 us). */
extern int log__stamp_tsc;
int log__stamp_decide(void);

/* The stamp of now, on the logging thread. */
static inline uint64_t log__stamp_now(void)
{
#if defined(__x86_64__)
    int tsc = __atomic_load_n(&log__stamp_tsc, __ATOMIC_RELAXED);
    if (__builtin_expect(tsc < 0, 0))
        tsc = log__stamp_decide();
    if (tsc)
        return __rdtsc();
#endif
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* The writer, at each pass over the queues, before it reads their heads:
 * a new pair of the counter and the clock. */
void log__stamp_sync(void);

/* The wall-clock time of `stamp`, on the writer. */
void log__stamp_time(uint64_t stamp, struct timespec *t);
/* The same for the crash handler: from a pair of its own and the rate
 * over the run, reading nothing the writer may be changing. */
void log__stamp_time_crash(uint64_t stamp, struct timespec *t);

#endif /* CTXLOG_LOG_ASYNC_CLOCK_H */
