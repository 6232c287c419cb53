/**
 * @file ctxlog.h
 * @brief Umbrella header of ctxlog: structured JSON logging with request context.
 *
 * Include this one header. It brings in the context store (ctx.h), the
 * logging calls and loggers (log.h), sinks, formatters and filters (sink.h)
 * configuration files (config.h), and replay on error, sampling by request
 * and burst limits (policy.h). It defines no LOG_INFO-style names, so it can be
 * included together with <syslog.h>.
 */
#ifndef CTXLOG_CTXLOG_H
#define CTXLOG_CTXLOG_H

#include <ctxlog/common.h>
#include <ctxlog/ctx.h>
#include <ctxlog/log.h>
#include <ctxlog/sink.h>
#include <ctxlog/config.h>
#include <ctxlog/policy.h>

#endif /* CTXLOG_CTXLOG_H */
