/* SPDX-License-Identifier: MIT */
/*
 * fork(): the child gets a working logger. Every part that owns a lock
 * registers its fork handler beside it (CTX__FORK_PART, ctx/ctx_fork.h),
 * with its place in the lock order: before the fork every lock of the
 * library is taken, outermost first, so the child starts with consistent
 * state and none held by a thread it does not have; the child then
 * forgets what belongs to the parent (records buffered or queued there,
 * the writer thread, other threads' buffers and hazard slots). The parent
 * and its writer carry on untouched. Here the handlers are installed,
 * before the first record and before a configuration file starts anything.
 */
#include "log/log_internal.h"
#include "log/config/config_internal.h"

void log__fork_handlers_install(void)
{
    ctx__fork_install();
}
