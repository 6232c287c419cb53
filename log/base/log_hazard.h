/* SPDX-License-Identifier: MIT */
/*
 * Hazard slots (private): how a logging call pins the route it follows
 * without a lock shared by all threads (log__route_pin, log/log_internal.h),
 * and how a configuration change waits until no thread pins an old route.
 * A thread's slots also count how deep its logging calls nest, which is
 * how records logged from inside a record (a filter, a sink) are refused.
 * Shared by the core, the sinks and the set-up; calls nothing of theirs.
 */
#ifndef CTXLOG_LOG_HAZARD_H
#define CTXLOG_LOG_HAZARD_H

#include <assert.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "ctx/ctx_tls.h"
#include "log/base/log_lane.h"

struct log_route;

/* How deep logging calls may nest on one thread (a filter or a json_t dump
 * that logs); a record deeper than that is dropped and counted. */
#define LOG__MAX_NESTING 4

/* A thread's hazard slots: one per nesting level, and how many are in use;
 * and its lane (log_lane.h), which a configuration change waits for as it
 * waits for the slots. */
typedef struct log__hazard {
    _Atomic(const struct log_route *) slot[LOG__MAX_NESTING];
    unsigned depth;
    struct log__lane lane;
    struct log__hazard *next;
} log__hazard;
extern CTX__TLS log__hazard *log__my_hazard;
/* 1: pins rely on membarrier() in log__wait_unpinned (set before any pin). */
extern atomic_int log__hazard_asym;
/* The calling thread's slots, made on its first pin; NULL: out of memory. */
log__hazard *log__hazard_make(void);
/* Whether the calling thread is inside a logging call (running a filter or
 * a callback sink): it pins a route, which a configuration change made now
 * would wait for forever. */
static inline bool log__in_record(void)
{
    const log__hazard *h = log__my_hazard;
    return h && h->depth > 0;
}
/* Wait until no thread pins any of the `n` routes (unpublished before the
 * call), and until no lane left before the call is being written. */
void log__wait_unpinned(struct log_route *const *routes, size_t n);

/* How many user operations of sinks the calling thread is running (see
 * log__records_refuse). */
extern CTX__TLS unsigned log__sink_ops_running;

/* While a sink runs code that must not log (a user's operation under the
 * sink's lock): records the calling thread logs meanwhile are refused,
 * dropped and counted, as if nested too deep, and so are the calls that
 * would wait for what the thread holds (log__in_sink_op). Returns what to
 * pass back to log__records_allow. */
static inline unsigned log__records_refuse(void)
{
    log__sink_ops_running++;
    log__hazard *h = log__hazard_make();
    if (!h)
        return LOG__MAX_NESTING + 1; /* no slots: a record finds none either */
    log__lane_shut(); /* and none goes by the lane */
    unsigned depth = h->depth;
    assert(depth <= LOG__MAX_NESTING);
    h->depth = LOG__MAX_NESTING;
    return depth;
}

static inline void log__records_allow(unsigned depth)
{
    assert(log__sink_ops_running > 0);
    log__sink_ops_running--;
    log__hazard *h = log__my_hazard;
    /* Nothing pinned or unpinned meanwhile: every pin found no slot. */
    assert(!h || depth > LOG__MAX_NESTING || h->depth == LOG__MAX_NESTING);
    if (h && depth <= LOG__MAX_NESTING)
        h->depth = depth;
}

/* Whether the calling thread is inside a user's sink operation: it holds
 * that sink's lock, maybe the registry of sinks or a thread buffer, or it
 * is the async writer, so log_flush() or log_reopen() would wait for it
 * forever. */
static inline bool log__in_sink_op(void)
{
    return log__sink_ops_running > 0;
}


#endif /* CTXLOG_LOG_HAZARD_H */
