/* SPDX-License-Identifier: MIT */
/*
 * The public formatter objects of <ctxlog/sink.h> and the entry point the
 * logger core calls (fmt_format). A formatter is immutable once made, so
 * many threads format with it at once without locks; only the reference
 * count changes, atomically.
 */
#include "formatters/fmt_formatter.h"

#include <stdatomic.h>
#include <stdlib.h>

#include "formatters/fmt_console.h"
#include "formatters/fmt_json.h"

enum fmt_kind { KIND_JSON, KIND_CONSOLE, KIND_CUSTOM };

struct log_formatter {
    atomic_size_t refs;
    bool immortal; /* the shared default: references are not counted */
    enum fmt_kind kind;
    log_json_options json; /* KIND_JSON */
    log_color_mode color;  /* KIND_CONSOLE */
    bool no_color;         /* NO_COLOR was set and not empty when it was made */
    log_format_fn fn;      /* KIND_CUSTOM */
    void *payload;
    void (*release)(void *payload);
};

/* Every sink without a formatter shares this one: counting its references
 * would only make the cache line of the count bounce between threads. */
static log_formatter default_json = {
    .refs = 1,
    .immortal = true,
    .kind = KIND_JSON,
    .json = {.preset = LOG_JSON_DEFAULT, .callsite = false, .thread_id = false},
};

log_formatter *fmt_formatter_default(void)
{
    return &default_json;
}

static log_formatter *formatter_new(enum fmt_kind kind)
{
    log_formatter *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    atomic_init(&f->refs, 1);
    f->kind = kind;
    return f;
}

log_formatter *log_formatter_json(const log_json_options *opts)
{
    if (opts && (unsigned)opts->preset > LOG_JSON_OTEL)
        return NULL;
    log_formatter *f = formatter_new(KIND_JSON);
    if (!f)
        return NULL;
    if (opts)
        f->json = *opts;
    else
        f->json.preset = LOG_JSON_DEFAULT;
    return f;
}

log_formatter *log_formatter_console(log_color_mode color)
{
    if ((unsigned)color > LOG_COLOR_NEVER)
        return NULL;
    log_formatter *f = formatter_new(KIND_CONSOLE);
    if (!f)
        return NULL;
    f->color = color;
    /* no-color.org: set and not empty means no colour. Read once, here:
     * getenv races with setenv in other threads, formatting must not. */
    const char *nc = getenv("NO_COLOR");
    f->no_color = nc && nc[0] != '\0';
    return f;
}

log_formatter *log_formatter_custom(log_format_fn fn, void *payload, void (*release)(void *payload))
{
    if (!fn)
        return NULL;
    log_formatter *f = formatter_new(KIND_CUSTOM);
    if (!f)
        return NULL; /* the payload stays the caller's */
    f->fn = fn;
    f->payload = payload;
    f->release = release;
    return f;
}

log_formatter *fmt_formatter_retain(log_formatter *f)
{
    if (f && !f->immortal)
        atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
    return f;
}

void log_formatter_release(log_formatter *f)
{
    if (!f || f->immortal)
        return;
    /* Release: this thread's uses happen before the free in whichever thread
     * drops the last reference; that thread acquires them. */
    if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_release) != 1)
        return;
    atomic_thread_fence(memory_order_acquire);
    if (f->kind == KIND_CUSTOM && f->release)
        f->release(f->payload);
    free(f);
}

void log_buf_append(log_buf *b, const void *p, size_t n)
{
    if (!b || (!p && n))
        return;
    fmt_buf_append(b, p, n);
}

void log_buf_append_json_string(log_buf *b, const char *s, size_t n)
{
    if (b)
        fmt_json_string(b, s, n);
}

static int format_custom(const log_formatter *f, const log_record *r, bool tty, fmt_buf *out)
{
    size_t start = out->len;
    int rc = f->fn(r, out, tty, f->payload);

    if (rc == 0 && out->len > start && out->data[out->len - 1] != '\n')
        fmt_buf_putc(out, '\n'); /* records must not run together in a file */
    if (out->oom || rc != 0) {
        out->len = start;
        return out->oom ? CTXLOG_ENOMEM : 1;
    }
    return 0;
}

const log_json_options *fmt_formatter_json_options(const log_formatter *f)
{
    return f && f->kind == KIND_JSON ? &f->json : NULL;
}

int fmt_format(const log_formatter *f, const log_record *r, bool tty, fmt_buf *out)
{
    if (!f || !r || !out)
        return CTXLOG_EINVAL;
    if (out->oom)
        return CTXLOG_ENOMEM;

    switch (f->kind) {
    case KIND_JSON:
        return fmt_json_record(r, &f->json, out);
    case KIND_CONSOLE: {
        bool color = f->color == LOG_COLOR_ALWAYS ||
                     (f->color == LOG_COLOR_AUTO && tty && !f->no_color);
        return fmt_console_record(r, color, out);
    }
    case KIND_CUSTOM:
        return format_custom(f, r, tty, out);
    }
    return CTXLOG_EINVAL;
}
