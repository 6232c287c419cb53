/**
 * @file ctxlog.h
 * @brief Umbrella header of ctxlog: structured JSON logging with request context.
 *
 * Include this one header. It brings in the context store (ctx.h) and the
 * logging calls (log.h). It defines no LOG_INFO-style names, so it can be
 * included together with <syslog.h>.
 */
#ifndef CTXLOG_CTXLOG_H
#define CTXLOG_CTXLOG_H

#include <ctxlog/common.h>
#include <ctxlog/ctx.h>
#include <ctxlog/log.h>

#endif /* CTXLOG_CTXLOG_H */
