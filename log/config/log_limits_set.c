/* SPDX-License-Identifier: MIT */
/* log_limits_set(): the burst limits replaced (log/log_limit.c), then what
 * was counted under the old ones written out as their summaries. */
#include "log/log_internal.h"
#include "log/log_policy.h"

int log_limits_set(const log_limits *limits)
{
    /* The summaries it writes would be refused there (and lost). */
    if (log__in_sink_op())
        return CTXLOG_EBUSY;
    int rc = log__limits_replace(limits);
    /* What was counted under the limits replaced is summarized under them,
     * now: the new limits (or none) start from zero. */
    if (rc == 0)
        log__limits_flush(false, log__write_owed, NULL);
    return rc;
}
