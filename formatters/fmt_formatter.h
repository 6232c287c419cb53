/* SPDX-License-Identifier: MIT */
/*
 * Formatter objects (private interface): what the logger core calls to turn
 * a record into the bytes of one sink. The public constructors are in
 * <ctxlog/sink.h>; struct log_formatter stays private to fmt_formatter.c.
 */
#ifndef CTXLOG_FMT_FORMATTER_H
#define CTXLOG_FMT_FORMATTER_H

#include <stdbool.h>

#include "formatters/fmt_record.h"

/*
 * Append @r to @out as @f formats it, for a sink that is (@tty) or is not a
 * terminal; @tty only matters for the console formatter's LOG_COLOR_AUTO and
 * for custom formatters, which receive it.
 * Returns 0: write the bytes appended to @out (a custom formatter's line is
 * given the '\n' it forgot). Non-zero: skip the record for this sink, with
 * @out as it was: 1 when a custom formatter asked to skip it (not an error),
 * CTXLOG_ENOMEM when the buffer could not grow, CTXLOG_EINVAL for NULL
 * arguments or a record a JSON formatter cannot write.
 * Thread safety: any number of threads may format with one formatter at once
 * (a custom function must allow that too).
 */
int fmt_format(const log_formatter *f, const log_record *r, bool tty, fmt_buf *out);
/* The options of a JSON formatter (NULL for any other kind), so that the
 * core can call fmt_json_record directly. Valid as long as `f`. */
const log_json_options *fmt_formatter_json_options(const log_formatter *f);

/* Take one more reference (for a sink that keeps @f). Returns @f; NULL is
 * passed through. */
log_formatter *fmt_formatter_retain(log_formatter *f);

/*
 * The JSON formatter with default options, for sinks without a formatter of
 * their own. Shared and never freed: retain and release do nothing to it.
 */
log_formatter *fmt_formatter_default(void);

#endif /* CTXLOG_FMT_FORMATTER_H */
