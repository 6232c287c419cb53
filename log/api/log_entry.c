/* SPDX-License-Identifier: MIT */
/*
 * The logging calls behind the macros of <ctxlog/log.h>: the library sets
 * itself up from the environment on the first record (log/config), then
 * hands the record to the core (log/log_core.c), which never calls the
 * set-up itself. In async mode a typed record is offered to the core's
 * captured-record path first (log__core_kv_async).
 */
#include <stdarg.h>
#include <string.h>

#include "log/config/config_internal.h"
#include "log/log_internal.h"

/* The first record: set up, then the record. Out of line, so that the
 * common path below is a test and a jump, both calls in tail position
 * with the caller's arguments as they are. */
static __attribute__((noinline, cold)) void kv_first(log_logger *lg, log_level level,
                                                     const char *file, int line,
                                                     const char *func, const char *msg,
                                                     size_t msg_len, const log_field *fields,
                                                     size_t nfields)
{
    log__ensure_init();
    log__core_kv(lg, level, file, line, func, msg, msg_len, fields, nfields);
}

void log__kv_n(log_logger *lg, log_level level, const char *file, int line, const char *func,
               const char *msg, size_t msg_len, const log_field *fields, size_t nfields)
{
    if (__builtin_expect(!atomic_load_explicit(&log__initialized, memory_order_acquire), 0))
        kv_first(lg, level, file, line, func, msg, msg_len, fields, nfields);
    else if (atomic_load_explicit(&log__async_on, memory_order_relaxed))
        log__core_kv_async(lg, level, file, line, func, msg, msg_len, fields, nfields);
    else
        log__core_kv(lg, level, file, line, func, msg, msg_len, fields, nfields);
}

void log__kv(log_logger *lg, log_level level, const char *file, int line, const char *func,
             const char *msg, const log_field *fields, size_t nfields)
{
    log__kv_n(lg, level, file, line, func, msg, msg ? strlen(msg) : 0, fields, nfields);
}

void log__printf(log_logger *lg, log_level level, const char *file, int line, const char *func,
                 const char *fmt, ...)
{
    log__ensure_init();
    va_list ap;
    va_start(ap, fmt);
    log__core_vprintf(lg, level, file, line, func, NULL, 0, fmt, ap);
    va_end(ap);
}

void log__printf_kv(log_logger *lg, log_level level, const char *file, int line,
                    const char *func, const log_field *fields, size_t nfields, const char *fmt,
                    ...)
{
    log__ensure_init();
    va_list ap;
    va_start(ap, fmt);
    log__core_vprintf(lg, level, file, line, func, fields, nfields, fmt, ap);
    va_end(ap);
}
