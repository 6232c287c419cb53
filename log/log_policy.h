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

/* Whether the record of logger `lg` at `level` from file:line is written
 * under the burst limit (true when limits are off or do not apply). Writes
 * the summary of the site's previous interval first when it is owed. */
bool log__limit_pass(log_logger *lg, int level, const char *file, int line);
/* log_flush(), log_limits_set(): the summaries owed for intervals that
 * have ended, or were counted under limits that are no longer the current
 * ones (`all`: for the current ones too), each under its own limits. */
void log__limits_flush(bool all);

#endif /* CTXLOG_LOG_POLICY_H */
