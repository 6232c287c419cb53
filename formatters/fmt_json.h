/*
 * The JSON formatter (private interface). One record -> one JSON object and a
 * '\n', always valid JSON and valid UTF-8 whatever bytes come in.
 */
#ifndef CTXLOG_FMT_JSON_H
#define CTXLOG_FMT_JSON_H

#include "formatters/fmt_record.h"

/* Optional members of a JSON record. */
enum fmt_json_flags {
    FMT_JSON_CALLSITE = 1u << 0, /* "file", "line", "func" (when r->file is set) */
    FMT_JSON_THREAD = 1u << 1,   /* "thread_id" */
};

/* Append the record as one JSON line: ts, level, logger, msg, the context
 * fields, the call's fields, then the optional members chosen by `flags`.
 * A key that is already in the record is written renamed (see README "Key
 * collisions"), never dropped.
 * Returns 0, or CTXLOG_ENOMEM when the buffer could not grow (b->oom set). */
int fmt_json_record(const log_record *r, unsigned flags, fmt_buf *b);

/* Append `len` arbitrary bytes as a JSON string literal, quotes included:
 * '"', '\\' and control characters escaped, invalid UTF-8 replaced by U+FFFD
 * (one per maximal ill-formed subpart, as Unicode recommends). */
void fmt_json_string(fmt_buf *b, const char *s, size_t len);

/* Append "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" (RFC 3339, UTC, microseconds) without quotes. */
void fmt_rfc3339_utc(fmt_buf *b, const struct timespec *t);

#endif /* CTXLOG_FMT_JSON_H */
