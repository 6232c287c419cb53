/* SPDX-License-Identifier: MIT */
/*
 * The set-up (private): the configuration from the environment that the
 * first record triggers, and the fork() handlers. The core calls
 * log__ensure_init on every record: the one call from the core up to the
 * set-up, since the set-up itself configures loggers and sinks.
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

/* The sink kind another library added for `type` (config_kinds.c), or
 * NULL. Kinds are never removed: the pointer stays valid. */
struct log_config_sink_kind;
const struct log_config_sink_kind *log__config_sink_kind(const char *type);

#endif /* CTXLOG_CONFIG_INTERNAL_H */
