/*
 * The formatter interface (private): what a record is, the byte buffer a
 * formatter appends to, and the formatters the library ships. Formatters are
 * pure record -> bytes steps: no I/O, no locks, no global state.
 */
#ifndef CTXLOG_FMT_RECORD_H
#define CTXLOG_FMT_RECORD_H

#include <stddef.h>
#include <time.h>

#include <ctxlog/log.h>

/* One log record as the pipeline sees it. Everything is borrowed for the
 * duration of the formatting call. */
typedef struct log_record {
    log_level level;
    struct timespec time;          /* CLOCK_REALTIME */
    const char *logger;            /* logger name, e.g. "root", "app.db" */
    const char *msg;               /* any bytes; not NUL-terminated necessarily */
    size_t msg_len;
    const log_field *ctx_fields;   /* stamped by the context filter */
    size_t n_ctx_fields;
    const log_field *fields;       /* the call's own typed fields */
    size_t n_fields;
    const char *file;              /* call site; NULL when unknown */
    int line;
    const char *func;
    long thread_id;
} log_record;

/* A growable byte buffer. A formatter appends; on allocation failure `oom`
 * is set and further appends are ignored, so callers check once at the end. */
typedef struct fmt_buf {
    char *data;
    size_t len;
    size_t cap;
    int oom;
} fmt_buf;

/* Make room for `extra` more bytes. Returns 0, or -1 (and sets oom). */
int fmt_buf_reserve(fmt_buf *b, size_t extra);
void fmt_buf_append(fmt_buf *b, const void *p, size_t n);
void fmt_buf_putc(fmt_buf *b, char c);
/* Forget the content, keep the memory. */
void fmt_buf_clear(fmt_buf *b);
/* Free the memory. */
void fmt_buf_free(fmt_buf *b);

#endif /* CTXLOG_FMT_RECORD_H */
