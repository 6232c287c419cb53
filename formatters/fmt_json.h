/* SPDX-License-Identifier: MIT */
/*
 * The JSON formatter (private interface). One record -> one JSON object and a
 * '\n', always valid JSON and valid UTF-8 whatever bytes come in.
 */
#ifndef CTXLOG_FMT_JSON_H
#define CTXLOG_FMT_JSON_H

#include "formatters/fmt_json_line.h"
#include "formatters/fmt_record.h"

/*
 * Append the record as one JSON line under the key names of `opts->preset`
 * (the exact lists are at the top of fmt_json.c): the core members, the
 * context fields, the record's fields, then the call site (opts->callsite,
 * when r->file is set) and the thread id (opts->thread_id). NULL opts means
 * the defaults: LOG_JSON_DEFAULT, no call site, no thread id.
 * A key that is already in the same object is written renamed (see README
 * "Key collisions"), never dropped.
 * This is the one writer of JSON records: the caches that let the next
 * record of the same shape go faster (the line cache, fmt_json_line.h; the
 * context's members and the level and logger, fmt_json.c) keep bytes it
 * wrote and reuse them.
 * Returns 0; CTXLOG_EINVAL for a NULL record or buffer or an unknown preset;
 * CTXLOG_ENOMEM when the buffer could not grow (b->oom set). On failure the
 * buffer is left as it was.
 */
int fmt_json_record(const log_record *r, const log_json_options *opts, fmt_buf *b);

/*
 * The same bytes without reading or filling any cache (what fmt_json_check
 * compares with), allocating nothing: for the crash handler, into a fixed
 * buffer. A record with more keys than the thread's tables hold (16 on a
 * thread that never encoded one) is refused with CTXLOG_ENOMEM.
 */
int fmt_json_record_fresh(const log_record *r, const log_json_options *opts, fmt_buf *b);

/* Whether records under opts may be written from the line cache
 * (fmt_json_line.h): the DEFAULT or ECS preset, without call site or
 * thread id. */
static inline int fmt_json_line_opts(const log_json_options *opts)
{
    return !opts->callsite && !opts->thread_id &&
           (opts->preset == LOG_JSON_DEFAULT || opts->preset == LOG_JSON_ECS);
}

/*
 * Debug builds (no NDEBUG): abort with both texts on stderr unless
 * got[0, len) is exactly what a fresh encoding of r under opts (no cache
 * read or written) gives. Every record written from a cache is checked, so
 * that a cache that disagrees with the encoder fails the tests instead of
 * reaching a file. Release builds: nothing.
 */
#ifndef NDEBUG
void fmt_json_check(const log_record *r, const log_json_options *opts, const char *got,
                    size_t len);
#else
static inline void fmt_json_check(const log_record *r, const log_json_options *opts,
                                  const char *got, size_t len)
{
    (void)r, (void)opts, (void)got, (void)len;
}
#endif

/* Append one field's value as JSON, the way fmt_json_record writes it (for
 * the other formatters, which print non-string values naturally). */
void fmt_json_value(fmt_buf *b, const log_field *f);

/* Append `len` arbitrary bytes as a JSON string literal, quotes included:
 * '"', '\\' and control characters escaped, invalid UTF-8 replaced by U+FFFD
 * (one per maximal ill-formed subpart, as Unicode recommends). */
void fmt_json_string(fmt_buf *b, const char *s, size_t len);

/* Append "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" (RFC 3339, UTC, microseconds) without
 * quotes; fmt_time.h writes it into raw memory. */
void fmt_rfc3339_utc(fmt_buf *b, const struct timespec *t);

#endif /* CTXLOG_FMT_JSON_H */
