/* SPDX-License-Identifier: MIT */
/*
 * fork(): the child gets a working logger. Before the fork every lock of
 * the library is taken, in the order the library nests them, so the child
 * starts with consistent state and none held by a thread it does not have;
 * the child then forgets what belongs to the parent (records buffered or
 * queued there, the writer thread, other threads' buffers and hazard
 * slots). The parent and its writer carry on untouched.
 */
#include "log/log_internal.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;

/* In lock order: the outermost first. A thread's buffer lock (tbufs) is
 * taken before its sink's lock (sinks), never while holding the registry
 * of sinks. */
static void (*const parts[])(int) = {
    log__config_fork, log__registry_fork, log__writer_fork, log__rings_fork,
    log__tbufs_fork,  log__sinks_fork,    log__hazards_fork,
};
#define NPARTS (sizeof parts / sizeof parts[0])

static void prepare(void)
{
    for (size_t i = 0; i < NPARTS; i++)
        parts[i](LOG__FORK_PREPARE);
}

static void parent(void)
{
    for (size_t i = NPARTS; i > 0; i--)
        parts[i - 1](LOG__FORK_PARENT);
}

static void child(void)
{
    for (size_t i = NPARTS; i > 0; i--)
        parts[i - 1](LOG__FORK_CHILD);
}

static void install(void)
{
    (void)pthread_atfork(prepare, parent, child);
}

void log__fork_handlers_install(void)
{
    (void)pthread_once(&once, install);
}
