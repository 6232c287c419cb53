/* SPDX-License-Identifier: MIT */
/*
 * Which records are written (private): the request's replay buffer
 * (log_replay.c), sampling by request (log_sampling.c) and burst limits per
 * call site (log_limit.c). The core (log_core.c) asks them only when the
 * record's context lowered its level, or log__policy_maybe() says one of
 * them may apply, so that a record of a process that uses none of them
 * pays one more test.
 */
#ifndef CTXLOG_LOG_POLICY_H
#define CTXLOG_LOG_POLICY_H

#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ctxlog/log.h>
#include <ctxlog/policy.h>

#include "formatters/fmt_record.h"

/* Bits of log__policies: which process-wide policies are on. */
#define LOG__POLICY_SAMPLING 1
#define LOG__POLICY_LIMITS 2
extern atomic_int log__policies;

/* Whether some policy may apply to a record at `level` that the loggers
 * write: sampling or limits are on process-wide, or it is an error in a
 * context with a level floor or a replay buffer (ctx__level_floor, see
 * ctx/ctx_internal.h), which may have kept records for it. */
static inline bool log__policy_maybe(int level)
{
    return atomic_load_explicit(&log__policies, memory_order_relaxed) != 0 ||
           (level >= LOG_LEVEL_ERROR && ctx__level_floor != INT_MAX);
}

/* ---- replay buffers (log_replay.c) ---- */

typedef struct log__rbuf log__rbuf;

/* The current context's replay buffer and the level it keeps from, or NULL. */
log__rbuf *log__rbuf_current(int *level);
/* Keep one formatted record (whole '\n'-terminated lines). */
void log__rbuf_keep(log__rbuf *rb, const char *text, size_t len);
/* Take every kept record into `out` (appended; emptying the buffer), and
 * the count of those dropped since the last take. Returns the number of
 * records taken. */
size_t log__rbuf_take(log__rbuf *rb, fmt_buf *out, uint64_t *dropped);
/* The n records a replay took: written to a sink, or not (no sink of the
 * route takes a replay any more; counted as dropped). */
void log__rbuf_replayed(size_t n, bool written);

/* ---- sampling (log_sampling.c) ---- */

/* Whether a record at `level` of the current context is sampled out. */
bool log__sampled_out(int level);

/* ---- burst limits (log_limit.c) ---- */

/* A summary the burst limit owes: `suppressed` records of the site
 * file:line (logger lg, level) in an interval that ended, or under limits
 * that were replaced. The limits only report it; whoever asked writes it
 * (log__write_owed, log_core.c), as the record LOG__OWED_MSG with the
 * fields of log__owed_fields, in the empty context, past the policies. */
typedef struct log__owed {
    log_logger *lg; /* NULL: nothing owed */
    int level;
    const char *file;
    int line;
    uint64_t suppressed;
} log__owed;
#define LOG__OWED_MSG "records suppressed by the burst limit"
#define LOG__OWED_FIELDS 3
void log__owed_fields(const log__owed *o, log_field f[LOG__OWED_FIELDS]);

/* Whether the record of logger `lg` at `level` from file:line is written
 * under the burst limit (true when limits are off or do not apply). When
 * the site's previous interval's summary is owed, *owed gets it (else
 * owed->lg is NULL): write it before the record. */
bool log__limit_pass(log_logger *lg, int level, const char *file, int line, log__owed *owed);
/* The summaries owed for intervals that have ended, or were counted under
 * limits that are no longer the current ones (`all`: for the current ones
 * too), each under its own limits: put(o, arg) for each. */
void log__limits_flush(bool all, void (*put)(const log__owed *o, void *arg), void *arg);
/* Replace the limits (NULL: off); log_limits_set() then flushes what was
 * counted under the old ones. Returns 0, CTXLOG_EINVAL or CTXLOG_ENOMEM. */
int log__limits_replace(const log_limits *limits);

#endif /* CTXLOG_LOG_POLICY_H */
