/* SPDX-License-Identifier: MIT */
/*
 * The console formatter (private interface): one record -> one line for a
 * person reading a terminal during development. Not meant to be parsed; use
 * the JSON formatter for machines.
 */
#ifndef CTXLOG_FMT_CONSOLE_H
#define CTXLOG_FMT_CONSOLE_H

#include <stdbool.h>

#include "formatters/fmt_record.h"

/* Width of the logger column; longer names keep their tail after a '…'. */
#define FMT_CONSOLE_LOGGER_WIDTH 12
/* Characters of request_id shown, its last ones: enough to tell requests
 * apart by eye (of a UUIDv7, 8 hex digits of its random part). */
#define FMT_CONSOLE_REQ_CHARS 8
/* Characters of trace_id shown, for the same reason. */
#define FMT_CONSOLE_TRACE_CHARS 8

/*
 * Append the record as one line:
 *
 *   HH:MM:SS.mmm LEVEL logger:       message  req=3a9c0e5b user=u-7 k=v …
 *
 * local time to the millisecond; the level upper case, padded to 5; the
 * logger name and ':' padded to FMT_CONSOLE_LOGGER_WIDTH + 1; the message;
 * then, after two spaces, the context fields (request_id as "req", its
 * last FMT_CONSOLE_REQ_CHARS characters, user_id as "user", tenant_id as
 * "tenant", trace_id as "trace" cut to FMT_CONSOLE_TRACE_CHARS, span_id as
 * "span", in that order, then the others as they come; trace_flags is left
 * out, the JSON records have it) and the record's fields, as key=value.
 *
 * Everything printed is made safe for a terminal and kept on one line:
 * \n \r \t as \\n \\r \\t, other C0 controls and DEL as \\xNN, C1 controls,
 * U+2028/U+2029 and the bidirectional overrides as \\uNNNN, invalid UTF-8
 * as U+FFFD. A string value that is empty or holds a space, '"', '=' or
 * anything escaped is quoted, with '"' and '\\' escaped inside. Other values
 * are written as in JSON (NaN and infinities as NaN, +Inf, -Inf).
 *
 * `color`: wrap the level name in an ANSI SGR colour.
 * Returns 0; CTXLOG_EINVAL for a NULL record or buffer; CTXLOG_ENOMEM when
 * the buffer could not grow (b->oom set). On failure the buffer is left as
 * it was.
 */
int fmt_console_record(const log_record *r, bool color, fmt_buf *b);

#endif /* CTXLOG_FMT_CONSOLE_H */
