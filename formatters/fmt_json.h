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
 * Returns 0; CTXLOG_EINVAL for a NULL record or buffer or an unknown preset;
 * CTXLOG_ENOMEM when the buffer could not grow (b->oom set). On failure the
 * buffer is left as it was.
 */
int fmt_json_record(const log_record *r, const log_json_options *opts, fmt_buf *b);

/* The common path behind the line cache (fmt_json_line.h), which it fills:
 * 0 written, 1 not taken (nothing written), CTXLOG_ENOMEM. */
int fmt_json_fast(const log_record *r, log_json_preset preset, fmt_buf *b);

/* Whether records under opts may take fmt_json_record's quick paths: the
 * DEFAULT or ECS preset, without call site or thread id. */
static inline int fmt_json_quick_opts(const log_json_options *opts)
{
    return !opts->callsite && !opts->thread_id &&
           (opts->preset == LOG_JSON_DEFAULT || opts->preset == LOG_JSON_ECS);
}

/*
 * fmt_json_record's quick paths alone (options fmt_json_quick_opts allows),
 * for the usual record: one the core vouches for (see fmt_ctx_hint) whose
 * head this thread has written before, plain keys and simple values: the
 * line cache, else the common path that fills it. Returns 0 when written
 * (the same bytes fmt_json_record writes), 1 when the record needs the
 * general path (nothing written), CTXLOG_ENOMEM when b cannot grow (b as
 * it was).
 */
static inline int fmt_json_quick(const log_record *r, log_json_preset preset, fmt_buf *b)
{
    int rc = fmt_json_line_put(r, preset, b);
    return rc == 1 ? fmt_json_fast(r, preset, b) : rc;
}

/* Append one field's value as JSON, the way fmt_json_record writes it (for
 * the other formatters, which print non-string values naturally). */
void fmt_json_value(fmt_buf *b, const log_field *f);

/* Append `len` arbitrary bytes as a JSON string literal, quotes included:
 * '"', '\\' and control characters escaped, invalid UTF-8 replaced by U+FFFD
 * (one per maximal ill-formed subpart, as Unicode recommends). */
void fmt_json_string(fmt_buf *b, const char *s, size_t len);

/*
 * Length of the UTF-8 item at p (n > 0 bytes available; p[0] >= 0x80). Sets
 * *ok when it is a well-formed sequence; otherwise the return value is the
 * length of the maximal ill-formed subpart, always >= 1. Shared so that every
 * formatter replaces invalid UTF-8 by U+FFFD the same way.
 */
size_t fmt_utf8_item(const unsigned char *p, size_t n, int *ok);

/* Append "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" (RFC 3339, UTC, microseconds) without
 * quotes; fmt_time.h writes it into raw memory. */
void fmt_rfc3339_utc(fmt_buf *b, const struct timespec *t);

#endif /* CTXLOG_FMT_JSON_H */
