/* SPDX-License-Identifier: MIT */
/* The kinds of sink the configuration file knows ("type"), each described
 * in its own file (sink_kind.h): log__kind_<name>. A new kind of the
 * library is one more name in this list; one in a library of its own adds
 * itself with log__sink_kind_add. */
#include "log/sinks/sink_kind.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "ctx/ctx_fork.h"

#define LOG__SINK_KINDS(X) X(stdout) X(stderr) X(file) X(journald) X(syslog)

#define DECLARE(name) extern const log__sink_kind log__kind_##name;
#define LIST(name) &log__kind_##name,
LOG__SINK_KINDS(DECLARE)
static const log__sink_kind *const builtin[] = {LOG__SINK_KINDS(LIST)};
#define NBUILTIN (sizeof builtin / sizeof builtin[0])

/* Added from constructors (or any thread, under add_lock): each slot is
 * written before the count that publishes it, so readers take no lock. */
static const log__sink_kind *added[LOG__SINK_KINDS_ADDED];
static atomic_size_t nadded;
static pthread_mutex_t add_lock = PTHREAD_MUTEX_INITIALIZER;
CTX__FORK_MUTEX(CTX__FORK_RANK_KINDS, add_lock)

const log__sink_kind *log__sink_kind_at(size_t i)
{
    if (i < NBUILTIN)
        return builtin[i];
    i -= NBUILTIN;
    return i < atomic_load_explicit(&nadded, memory_order_acquire) ? added[i] : NULL;
}

int log__sink_kind_add(const log__sink_kind *kind)
{
    if (!kind || !kind->type || !kind->keys || !kind->make)
        return CTXLOG_EINVAL;
    pthread_mutex_lock(&add_lock);
    int rc = 0;
    const log__sink_kind *k;
    for (size_t i = 0; (k = log__sink_kind_at(i)); i++)
        if (strcmp(k->type, kind->type) == 0) {
            rc = k == kind ? 1 : CTXLOG_EINVAL; /* 1: added already */
            break;
        }
    size_t n = atomic_load_explicit(&nadded, memory_order_relaxed);
    if (rc == 0 && n == LOG__SINK_KINDS_ADDED)
        rc = CTXLOG_ENOMEM;
    if (rc == 0) {
        added[n] = kind;
        atomic_store_explicit(&nadded, n + 1, memory_order_release);
    }
    pthread_mutex_unlock(&add_lock);
    return rc == 1 ? 0 : rc;
}
