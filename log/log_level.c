/* SPDX-License-Identifier: MIT */
/* Level names, the root level, and the per-context level override. */
#include "log/log_internal.h"

#include <strings.h>

#include "ctx/ctx_internal.h"

/* Whether the application chose the root level itself; the implicit read of
 * the environment on first use does not override that choice. */
static atomic_int level_chosen;

static const char *const names[] = {"trace", "debug", "info", "warn", "error", "fatal", "off"};

const char *log_level_name(log_level level)
{
    if ((int)level < LOG_LEVEL_TRACE || level > LOG_LEVEL_OFF)
        return NULL;
    return names[level];
}

int log_level_parse(const char *name, log_level *out)
{
    if (!name || !out)
        return CTXLOG_EINVAL;
    for (int i = LOG_LEVEL_TRACE; i <= LOG_LEVEL_OFF; i++) {
        if (strcasecmp(name, names[i]) == 0) {
            *out = (log_level)i;
            return 0;
        }
    }
    if (strcasecmp(name, "warning") == 0) {
        *out = LOG_LEVEL_WARN;
        return 0;
    }
    return CTXLOG_EINVAL;
}

int log__level_apply(log_level level, int chosen)
{
    atomic_store_explicit(&level_chosen, chosen, memory_order_relaxed);
    return log_logger_set_level(log__root(), level);
}

void log__level_choose(void)
{
    atomic_store_explicit(&level_chosen, 1, memory_order_relaxed);
}

int log__level_chosen(void)
{
    return atomic_load_explicit(&level_chosen, memory_order_relaxed);
}

int log_level_set(log_level level)
{
    if ((int)level < LOG_LEVEL_TRACE || level > LOG_LEVEL_OFF)
        return CTXLOG_EINVAL;
    return log__level_apply(level, 1);
}

log_level log_level_get(void)
{
    return log_logger_level(log__root());
}

ctx_token log_context_level(log_level level)
{
    if ((int)level < LOG_LEVEL_TRACE || level > LOG_LEVEL_OFF)
        return (ctx_token){0};
    return ctx_set_i64(ctx__floor_var(), (int64_t)level);
}
