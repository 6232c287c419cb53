/* SPDX-License-Identifier: MIT */
/*
 * The threads' lanes (private; the lane itself and the call that writes
 * through it are in <ctxlog/log.h>, struct log__lane): how the library
 * shuts them. A lane is left by async mode's captured-record path
 * (log__capture_lane, log/async/async_capture.h) and lives in the thread's
 * hazard slots (log_hazard.h), so that a configuration change that waits
 * for pinned routes also waits for lanes being written.
 *
 * A lane holds decisions: which levels of a logger go which way, to which
 * sink, under which context. Whatever changes one of them calls
 * log__lanes_changed() after the change; a change that frees a route waits
 * for the lanes too (log__wait_unpinned). The thread's own lane is shut
 * (log__lane_shut) whenever its queue is written another way, so that an
 * open lane always starts at the queue's head.
 */
#ifndef CTXLOG_LOG_LANE_H
#define CTXLOG_LOG_LANE_H

#include <ctxlog/log.h>

#include "ctx/ctx_tls.h"

/* Every lane left before this call is shut for the calls that read
 * log__lane_epoch after it. */
static inline void log__lanes_changed(void)
{
    __atomic_fetch_add(&log__lane_epoch, 1, __ATOMIC_RELEASE);
}

/* The calling thread's lane no longer serves any call. */
static inline void log__lane_shut(void)
{
    struct log__lane *L = log__my_lane1;
    if (L)
        L->level = LOG__LANE_SHUT;
}

#endif /* CTXLOG_LOG_LANE_H */
