/* SPDX-License-Identifier: MIT */
/*
 * What every part of log/ shares and that calls nothing of theirs: the
 * library's reports about itself (log_report.c: one line on stderr, never a
 * record, and the count of records lost; ctxlog_errors.c: the messages of
 * the error codes and the thread's last error detail), and the phases of
 * fork() each part takes part in (ctx/ctx_fork.h).
 */
#ifndef CTXLOG_LOG_BASE_H
#define CTXLOG_LOG_BASE_H

#include <stdint.h>

#include <ctxlog/common.h>

#include "ctx/ctx_fork.h"

void log__report(const char *fmt, ...) CTXLOG_PRINTF(1, 2);
void log__count_dropped(uint64_t n);

/* Set (printf-style) or clear the calling thread's ctxlog_last_error().
 * errno is left as it was. */
void log__error_detail(const char *fmt, ...) CTXLOG_PRINTF(1, 2);
void log__error_detail_clear(void);

/* A part's fork handler (registered with CTX__FORK_PART, ctx/ctx_fork.h)
 * is called in lock order for PREPARE and in reverse for PARENT and CHILD. */
enum {
    LOG__FORK_PREPARE = CTX__FORK_PREPARE,
    LOG__FORK_PARENT = CTX__FORK_PARENT,
    LOG__FORK_CHILD = CTX__FORK_CHILD,
};

#endif /* CTXLOG_LOG_BASE_H */
