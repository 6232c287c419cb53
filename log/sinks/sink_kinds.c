/* SPDX-License-Identifier: MIT */
/* The kinds of sink the configuration file knows ("type"), each described
 * in its own file (sink_kind.h): log__kind_<name>. A new kind of the
 * library is one more name in this list; one in a library of its own adds
 * itself with log__sink_kind_add. */
#include "log/sinks/sink_kind.h"

#include <stdatomic.h>
#include <string.h>

#define LOG__SINK_KINDS(X) X(stdout) X(stderr) X(file) X(journald) X(syslog)

#define DECLARE(name) extern const log__sink_kind log__kind_##name;
#define LIST(name) &log__kind_##name,
LOG__SINK_KINDS(DECLARE)
static const log__sink_kind *const builtin[] = {LOG__SINK_KINDS(LIST)};
#define NBUILTIN (sizeof builtin / sizeof builtin[0])

/* Added from constructors: each slot is written before the count that
 * publishes it. */
static const log__sink_kind *added[LOG__SINK_KINDS_ADDED];
static atomic_size_t nadded;

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
    for (size_t i = 0; log__sink_kind_at(i); i++)
        if (strcmp(log__sink_kind_at(i)->type, kind->type) == 0)
            return CTXLOG_EINVAL;
    size_t n = atomic_load(&nadded);
    if (n == LOG__SINK_KINDS_ADDED)
        return CTXLOG_ENOMEM;
    added[n] = kind;
    atomic_store_explicit(&nadded, n + 1, memory_order_release);
    return 0;
}
