/* SPDX-License-Identifier: MIT */
/*
 * The formatter interface (private): what a record is, the byte buffer a
 * formatter appends to, and the formatters the library ships. Formatters are
 * pure record -> bytes steps: no I/O, no locks, no global state.
 */
#ifndef CTXLOG_FMT_RECORD_H
#define CTXLOG_FMT_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <ctxlog/sink.h>

/* The record is the public log_record of <ctxlog/sink.h>; the buffer is the
 * public (opaque there) log_buf, defined here. A formatter appends; on
 * allocation failure `oom` is set and further appends are ignored, so callers
 * check once at the end. */
struct log_buf {
    char *data;
    size_t len;
    size_t cap;
    int oom;
    int fixed; /* data is borrowed: no growing past cap (oom instead) */
};
typedef struct log_buf fmt_buf;

/* Make room for `extra` more bytes. Returns 0, or -1 (and sets oom). */
int fmt_buf_grow(fmt_buf *b, size_t extra);
static inline int fmt_buf_reserve(fmt_buf *b, size_t extra)
{
    if (!b->oom && b->cap - b->len >= extra)
        return 0;
    return fmt_buf_grow(b, extra);
}
static inline void fmt_buf_append(fmt_buf *b, const void *p, size_t n)
{
    if (n == 0 || fmt_buf_reserve(b, n))
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}
static inline void fmt_buf_putc(fmt_buf *b, char c)
{
    if (fmt_buf_reserve(b, 1))
        return;
    b->data[b->len++] = c;
}

/* What the logger core tells formatters about a record's context fields
 * (log_record.priv_ points to it, NULL when nothing is known): a
 * process-unique number of the context snapshot they were stamped from, so
 * that work depending on the context alone can be reused from record to
 * record. Valid while `fields` and `n` are still the record's. */
typedef struct fmt_ctx_hint {
    uint64_t serial; /* 0: unknown, reuse nothing */
    const log_field *fields;
    size_t n;
    /* The logger name the core put in the record: a string that lives and
     * stays the same as long as the process (loggers are never freed). */
    const char *logger;
} fmt_ctx_hint;
/* The hint of r when it vouches for r's context fields (serial known, the
 * same fields), else NULL: what the caches that depend on the context key
 * on. */
static inline const fmt_ctx_hint *fmt_ctx_vouched(const log_record *r)
{
    const fmt_ctx_hint *h = r->priv_;
    size_t n = r->ctx_fields ? r->n_ctx_fields : 0;
    return h && h->serial && h->fields == r->ctx_fields && h->n == n ? h : NULL;
}

/* Forget the content, keep the memory. */
static inline void fmt_buf_clear(fmt_buf *b)
{
    b->len = 0;
    b->oom = 0;
}
/* Free the memory. */
void fmt_buf_free(fmt_buf *b);

#endif /* CTXLOG_FMT_RECORD_H */
