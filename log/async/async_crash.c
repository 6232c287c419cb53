/* SPDX-License-Identifier: MIT */
/*
 * Async mode in a crash: the fatal signal handler writes out what every
 * thread's ring holds that the writer has not written (async.h,
 * log__rings_crash_write), taking it over from the writer as async_ring.h
 * says: formatted records as they are, captured ones encoded afresh in
 * memory of the handler's own (async_capture.h). Only async-signal-safe
 * calls; the handler runs once.
 */
#include "log/async/async_capture.h"
#include "log/async/async_ring.h"
#include "log/sinks/sink_ops.h"

#include <stdbool.h>
#include <time.h>

/* How long, in all, the crash handler waits for the writer to end a write
 * under way (milliseconds). A write to a pipe that nobody reads may never
 * end; then the handler writes the entries itself (they may come out
 * twice, but are not lost). */
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
        log__capture_crash_begin(r);
        while (tail < head) {
            log__ring_hdr h;
            const char *text = log__ring_next(r, &tail, head, &h);
            if (!text)
                continue;
            if (h.flags & (RING_CAPTURED | RING_CONTEXT))
                log__capture_crash_entry(r, &h, text);
            else if (h.sink && h.sink->ops->crash_write)
                h.sink->ops->crash_write(h.sink, text, h.len);
        }
    }
}
