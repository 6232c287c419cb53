/**
 * @file ctxlog.h
 * @brief Umbrella header of ctxlog: structured JSON logging with request context.
 *
 * Include this one header. It brings in the context store (ctx.h), the
 * logging calls and loggers (log.h), sinks, formatters and filters (sink.h)
 * and configuration files (config.h). It defines no LOG_INFO-style names, so it can be
 * included together with <syslog.h>.
 */
#ifndef CTXLOG_CTXLOG_H
#define CTXLOG_CTXLOG_H

#include <ctxlog/common.h>
#include <ctxlog/ctx.h>
#include <ctxlog/log.h>
#include <ctxlog/sink.h>
#include <ctxlog/config.h>

#endif /* CTXLOG_CTXLOG_H */
