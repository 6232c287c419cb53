/* SPDX-License-Identifier: MIT */
/* The syslog severity of a level, as both the journald sink (PRIORITY) and
 * the syslog sink (PRI) write it: trace and debug 7 (debug), info 6, warn 4
 * (warning), error 3 (err), fatal 2 (crit). */
#ifndef CTXLOG_SINK_SEVERITY_H
#define CTXLOG_SINK_SEVERITY_H

#include <ctxlog/log.h>

static inline int log__severity(log_level level)
{
    switch (level) {
    case LOG_LEVEL_INFO:
        return 6;
    case LOG_LEVEL_WARN:
        return 4;
    case LOG_LEVEL_ERROR:
        return 3;
    case LOG_LEVEL_FATAL:
        return 2;
    default:
        return 7;
    }
}

#endif /* CTXLOG_SINK_SEVERITY_H */
