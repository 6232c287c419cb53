/* Level names, the root threshold and the gate the logging macros read. */
#include "log/log_internal.h"

#include <strings.h>

/* Starts at TRACE so that the very first call of any level reaches the slow
 * path, which reads the environment and then narrows the gate. */
int log__gate = LOG_LEVEL_TRACE;

static atomic_int root_level = LOG_LEVEL_INFO;
/* Whether the application chose the level itself; the implicit read of the
 * environment on first use does not override that choice. */
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

int log__root_level(void)
{
    return atomic_load_explicit(&root_level, memory_order_relaxed);
}

void log__gate_update(void)
{
    __atomic_store_n(&log__gate, log__root_level(), __ATOMIC_RELAXED);
}

void log__level_apply(log_level level, int chosen)
{
    atomic_store_explicit(&root_level, (int)level, memory_order_relaxed);
    atomic_store_explicit(&level_chosen, chosen, memory_order_relaxed);
    log__gate_update();
}

int log__level_chosen(void)
{
    return atomic_load_explicit(&level_chosen, memory_order_relaxed);
}

int log_level_set(log_level level)
{
    if ((int)level < LOG_LEVEL_TRACE || level > LOG_LEVEL_OFF)
        return CTXLOG_EINVAL;
    log__level_apply(level, 1);
    return 0;
}

log_level log_level_get(void)
{
    return (log_level)log__root_level();
}
