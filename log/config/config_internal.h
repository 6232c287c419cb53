/* SPDX-License-Identifier: MIT */
/*
 * The set-up (private): the configuration from the environment that the
 * first record triggers, and the fork() handlers. The logging calls
 * (log/api/log_entry.c) call log__ensure_init before the core takes the
 * record; the core itself never calls the set-up.
 */
#ifndef CTXLOG_CONFIG_INTERNAL_H
#define CTXLOG_CONFIG_INTERNAL_H

#include <stdatomic.h>

/* Configure from the environment once, before the first record. */
extern atomic_int log__initialized;
void log__init_slow(void);
static inline void log__ensure_init(void)
{
    if (__builtin_expect(!atomic_load_explicit(&log__initialized, memory_order_acquire), 0))
        log__init_slow();
}

/* Install the fork() handlers (once): the set-up does, before the first
 * record and before a configuration file starts anything. */
void log__fork_handlers_install(void);


#endif /* CTXLOG_CONFIG_INTERNAL_H */
