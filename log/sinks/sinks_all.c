/* SPDX-License-Identifier: MIT */
/* What reaches every sink's unwritten bytes at once: the threads' own
 * buffers (sink_thread_buf.c) and the sinks' shared ones (sink_buffer.c),
 * for the flusher, log_flush(), log_reopen() and the crash handler. */
#include "log/sinks/sink_ops.h"

#include "log/base/log_hazard.h"

uint64_t log__sinks_flush(int due_only, uint64_t now_ns)
{
    uint64_t next = log__buffers_flush(due_only, now_ns);
    /* Then the threads' own buffers (each writes its sink's shared buffer
     * out first: a thread's older records may be there). */
    uint64_t tnext = log__tbufs_flush(due_only, now_ns);
    return tnext < next ? tnext : next;
}

void log__sinks_crash_write(void)
{
    log__buffers_crash_write();
    log__tbufs_crash_write(); /* newer than the shared buffers' */
}

int log_reopen(void)
{
    /* From a user's sink operation: the thread holds a sink's lock (or is
     * the async writer), which the reopen would wait for. */
    if (log__in_sink_op())
        return CTXLOG_EBUSY;
    /* What any thread buffered so far goes where it was meant for (thread
     * buffers come before the registry in the lock order). */
    (void)log__tbufs_flush(0, 0);
    return log__buffers_reopen();
}
