/* SPDX-License-Identifier: MIT */
/*
 * The console formatter: one record -> one line for people (layout in
 * fmt_console.h).
 *
 * A terminal interprets more than C0 controls: ESC starts a sequence that can
 * recolour, move the cursor or retitle the window, C1 controls (U+0080..
 * U+009F) do the same on some terminals, and bidirectional overrides reorder
 * what is shown. Logged text is untrusted, so every byte printed goes through
 * put_safe(), which shows those as escapes instead of letting them act.
 */
#include "formatters/fmt_console.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "formatters/fmt_json.h"

#include "ctx/ctx_tls.h"
#include "ctx/ctx_utf8.h"

#define PUT_LIT(b, lit) fmt_buf_append((b), lit, sizeof lit - 1)

/* ---- text safe for a terminal --------------------------------------------- */

/*
 * The code point of a well-formed item that must not reach the terminal raw
 * (C1 controls, U+2028/U+2029, the bidi embeddings, overrides and isolates),
 * or 0 when the item can be printed as it is.
 */
static unsigned hidden_cp(const unsigned char *p, size_t k)
{
    if (k == 2 && p[0] == 0xC2 && p[1] < 0xA0)
        return p[1]; /* U+0080..U+009F */
    if (k == 3 && p[0] == 0xE2) {
        unsigned cp = 0x2000u | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
        if ((cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069))
            return cp;
    }
    return 0;
}

static const char hex[] = "0123456789abcdef";

static void put_hex_escape(fmt_buf *b, unsigned c)
{
    char e[4] = {'\\', 'x', hex[c >> 4 & 15], hex[c & 15]};

    switch (c) {
    case '\n': PUT_LIT(b, "\\n"); return;
    case '\r': PUT_LIT(b, "\\r"); return;
    case '\t': PUT_LIT(b, "\\t"); return;
    default: fmt_buf_append(b, e, sizeof e); return;
    }
}

static void put_u_escape(fmt_buf *b, unsigned cp)
{
    char e[6] = {'\\', 'u', hex[cp >> 12 & 15], hex[cp >> 8 & 15], hex[cp >> 4 & 15], hex[cp & 15]};
    fmt_buf_append(b, e, sizeof e);
}

/*
 * Append s[0, len) so that it shows as one line and cannot drive the
 * terminal (see the top of the file); invalid UTF-8 becomes U+FFFD, one per
 * maximal ill-formed subpart as in the JSON output. `quoted`: the text sits
 * between double quotes, so '"' and '\\' are escaped too.
 */
static void put_safe(fmt_buf *b, const char *str, size_t len, int quoted)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, run = 0; /* s[run, i) is copied as it is */

    if (!s)
        len = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c >= 0x20 && c < 0x7F && !(quoted && (c == '"' || c == '\\'))) {
            i++;
            continue;
        }
        int ok = 0;
        size_t k = c < 0x80 ? 1 : ctx__utf8_item(s + i, len - i, &ok);
        unsigned cp = ok ? hidden_cp(s + i, k) : 0;
        if (ok && !cp) {
            i += k;
            continue;
        }
        fmt_buf_append(b, s + run, i - run);
        if (c == '"' || c == '\\') {
            fmt_buf_putc(b, '\\');
            fmt_buf_putc(b, (char)c);
        } else if (c < 0x80) {
            put_hex_escape(b, c);
        } else if (cp) {
            put_u_escape(b, cp);
        } else {
            PUT_LIT(b, "\xEF\xBF\xBD");
        }
        i += k;
        run = i;
    }
    fmt_buf_append(b, s + run, i - run);
}

/* Whether valid UTF-8 text holds an item hidden_cp() would escape. */
static int has_hidden(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;

    for (size_t i = 0; i < len;) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        int ok;
        size_t k = ctx__utf8_item(s + i, len - i, &ok);
        if (ok && hidden_cp(s + i, k))
            return 1;
        i += k;
    }
    return 0;
}

/* Whether a string value needs quotes to read unambiguously as key=value:
 * empty, or holding a separator, a quote, or anything put_safe escapes. */
static int needs_quotes(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;

    if (len == 0)
        return 1;
    for (size_t i = 0; i < len; i++) {
        unsigned c = s[i];
        if (c == ' ' || c == '"' || c == '=' || c < 0x20 || c == 0x7F)
            return 1;
    }
    return has_hidden(str, len);
}

/* Bytes of the first `n` characters of s[0, len) (an ill-formed subpart
 * counts as one character: it prints as one U+FFFD). */
static size_t prefix_chars(const char *str, size_t len, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;

    for (; n > 0 && i < len; n--) {
        int ok;
        i += s[i] < 0x80 ? 1 : ctx__utf8_item(s + i, len - i, &ok);
    }
    return i;
}

/* Bytes before the last `n` characters of s[0, len) (characters counted as
 * prefix_chars() counts them). */
static size_t suffix_start(const char *str, size_t len, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t chars = 0;

    for (size_t i = 0; i < len; chars++) {
        int ok;
        i += s[i] < 0x80 ? 1 : ctx__utf8_item(s + i, len - i, &ok);
    }
    return chars > n ? prefix_chars(str, len, chars - n) : 0;
}

/* Characters (code points) in UTF-8 text that put_safe wrote. */
static size_t count_chars(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

/* ---- columns ------------------------------------------------------------------ */

/* Local "HH:MM:SS" changes once a second; localtime_r takes a lock in glibc,
 * so each thread keeps the last one it made. */
static CTX__TLS struct {
    int valid;
    time_t sec;
    char hms[8];
} clock_cache;

static void put_clock(fmt_buf *b, const struct timespec *t)
{
    if (!clock_cache.valid || clock_cache.sec != t->tv_sec) {
        struct tm tm;
        if (localtime_r(&t->tv_sec, &tm)) {
            const int parts[] = {tm.tm_hour, tm.tm_min, tm.tm_sec};
            for (int i = 0; i < 3; i++) {
                clock_cache.hms[3 * i] = (char)('0' + parts[i] / 10 % 10);
                clock_cache.hms[3 * i + 1] = (char)('0' + parts[i] % 10);
                if (i < 2)
                    clock_cache.hms[3 * i + 2] = ':';
            }
        } else {
            memcpy(clock_cache.hms, "??:??:??", 8);
        }
        clock_cache.sec = t->tv_sec;
        clock_cache.valid = 1;
    }

    /* A tv_nsec outside [0, 1e9) is a caller bug; clamp to keep 3 digits. */
    long ms = t->tv_nsec / 1000000;
    if (ms < 0)
        ms = 0;
    if (ms > 999)
        ms = 999;
    char frac[5] = {'.', (char)('0' + ms / 100), (char)('0' + ms / 10 % 10), (char)('0' + ms % 10), ' '};
    fmt_buf_append(b, clock_cache.hms, sizeof clock_cache.hms);
    fmt_buf_append(b, frac, sizeof frac);
}

static void put_spaces(fmt_buf *b, size_t n)
{
    static const char sp[] = "                ";
    while (n > 0) {
        size_t k = n < sizeof sp - 1 ? n : sizeof sp - 1;
        fmt_buf_append(b, sp, k);
        n -= k;
    }
}

#define LEVEL_WIDTH 5

static void put_level(fmt_buf *b, log_level level, bool color)
{
    static const char *const names[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"};
    /* dim, dim, green, yellow, red, bold red */
    static const char *const sgr[] = {"\x1b[2m",  "\x1b[2m",  "\x1b[32m",
                                      "\x1b[33m", "\x1b[31m", "\x1b[1;31m"};
    const char *name = "?"; /* out of range: a caller bug, still one line */
    int known = (unsigned)level < sizeof names / sizeof names[0];

    if (known)
        name = names[level];
    if (color && known)
        fmt_buf_append(b, sgr[level], strlen(sgr[level]));
    fmt_buf_append(b, name, strlen(name));
    if (color && known)
        PUT_LIT(b, "\x1b[0m");
    put_spaces(b, LEVEL_WIDTH - strlen(name) + 1);
}

/* The logger name and ':' in a column of FMT_CONSOLE_LOGGER_WIDTH + 1. A
 * longer name keeps its tail, the most specific part of a dotted name. */
static void put_logger(fmt_buf *b, const char *name)
{
    size_t at = b->len;

    put_safe(b, name, name ? strlen(name) : 0, 0);
    if (b->oom)
        return;
    size_t cols = count_chars(b->data + at, b->len - at);
    if (cols > FMT_CONSOLE_LOGGER_WIDTH) {
        /* Skip the characters that do not fit, and one more for the '…'. */
        size_t drop = cols - FMT_CONSOLE_LOGGER_WIDTH + 1, cut = 0;
        for (; drop > 0; drop--) {
            cut++;
            while (at + cut < b->len && ((unsigned char)b->data[at + cut] & 0xC0) == 0x80)
                cut++;
        }
        size_t tail = b->len - at - cut;
        if (fmt_buf_reserve(b, 3))
            return;
        memmove(b->data + at + 3, b->data + at + cut, tail);
        memcpy(b->data + at, "\xE2\x80\xA6", 3); /* U+2026 HORIZONTAL ELLIPSIS */
        b->len = at + 3 + tail;
        cols = FMT_CONSOLE_LOGGER_WIDTH;
    }
    fmt_buf_putc(b, ':');
    put_spaces(b, FMT_CONSOLE_LOGGER_WIDTH - cols + 1);
}

/* ---- key=value -------------------------------------------------------------------- */

static void put_string_value(fmt_buf *b, const char *s, size_t len)
{
    if (needs_quotes(s, len)) {
        fmt_buf_putc(b, '"');
        put_safe(b, s, len, 1);
        fmt_buf_putc(b, '"');
    } else {
        put_safe(b, s, len, 0);
    }
}

static void put_other_value(fmt_buf *b, const log_field *f)
{
    if (f->type == LOG_FIELD_F64 && !isfinite(f->v.f64)) {
        if (isnan(f->v.f64))
            PUT_LIT(b, "NaN");
        else if (f->v.f64 > 0)
            PUT_LIT(b, "+Inf");
        else
            PUT_LIT(b, "-Inf");
        return;
    }

    size_t at = b->len;
    fmt_json_value(b, f);
    if (f->type != LOG_FIELD_JSON || b->oom)
        return;
    /* The JSON text has no raw C0 control or DEL, but jansson writes C1
     * controls and bidi overrides inside strings as they are. */
    size_t n = b->len - at;
    if (!has_hidden(b->data + at, n))
        return;
    char *copy = malloc(n);
    if (!copy) {
        b->len = at;
        b->oom = 1;
        return;
    }
    memcpy(copy, b->data + at, n);
    b->len = at;
    put_safe(b, copy, n, 0);
    free(copy);
}

struct line {
    fmt_buf *b;
    size_t nkv; /* key=value pairs written so far */
};

/* Which part of a long string value put_kv shows. */
enum shown {
    SHOW_ALL,
    SHOW_HEAD, /* the first max_chars characters */
    SHOW_TAIL, /* the last max_chars characters */
};

static void put_kv(struct line *l, const char *key, const log_field *f, enum shown shown,
                   size_t max_chars)
{
    fmt_buf *b = l->b;

    if (l->nkv++ == 0)
        PUT_LIT(b, "  "); /* set the pairs apart from the message */
    else
        fmt_buf_putc(b, ' ');
    put_safe(b, key ? key : "(null)", key ? strlen(key) : 6, 0);
    fmt_buf_putc(b, '=');
    if (f->type == LOG_FIELD_STR && f->v.s) {
        const char *v = f->v.s;
        size_t len = strlen(v);
        if (shown == SHOW_HEAD) {
            len = prefix_chars(v, len, max_chars);
        } else if (shown == SHOW_TAIL) {
            size_t at = suffix_start(v, len, max_chars);
            v += at;
            len -= at;
        }
        put_string_value(b, v, len);
    } else {
        put_other_value(b, f);
    }
}

/* The context variables people scan for, first and under short names; and
 * the trace flags, not shown (label NULL): they make the line long and a
 * person tells traces apart by the trace id. Of a request_id the tail is
 * shown: a UUIDv7 begins with its time, the same for every request of a
 * minute, and ends with random bits. */
static const struct {
    const char *key;
    const char *label;
    enum shown shown;
    size_t max_chars;
} known_ctx[] = {
    {"request_id", "req", SHOW_TAIL, FMT_CONSOLE_REQ_CHARS},
    {"user_id", "user", SHOW_ALL, 0},
    {"tenant_id", "tenant", SHOW_ALL, 0},
    {"trace_id", "trace", SHOW_HEAD, FMT_CONSOLE_TRACE_CHARS},
    {"span_id", "span", SHOW_ALL, 0},
    {"trace_flags", NULL, SHOW_ALL, 0},
};
#define N_KNOWN (sizeof known_ctx / sizeof known_ctx[0])

static int known_index(const char *key)
{
    for (size_t k = 0; key && k < N_KNOWN; k++)
        if (strcmp(key, known_ctx[k].key) == 0)
            return (int)k;
    return -1;
}

static void put_fields(struct line *l, const log_record *r)
{
    size_t nctx = r->ctx_fields ? r->n_ctx_fields : 0;
    size_t nf = r->fields ? r->n_fields : 0;

    for (size_t k = 0; k < N_KNOWN; k++)
        for (size_t i = 0; i < nctx; i++)
            if (known_ctx[k].label && known_index(r->ctx_fields[i].key) == (int)k)
                put_kv(l, known_ctx[k].label, &r->ctx_fields[i], known_ctx[k].shown,
                       known_ctx[k].max_chars);
    for (size_t i = 0; i < nctx; i++)
        if (known_index(r->ctx_fields[i].key) < 0)
            put_kv(l, r->ctx_fields[i].key, &r->ctx_fields[i], SHOW_ALL, 0);
    for (size_t i = 0; i < nf; i++)
        put_kv(l, r->fields[i].key, &r->fields[i], SHOW_ALL, 0);
}

int fmt_console_record(const log_record *r, bool color, fmt_buf *b)
{
    if (!r || !b)
        return CTXLOG_EINVAL;
    if (b->oom)
        return CTXLOG_ENOMEM;

    size_t start = b->len;
    struct line l = {.b = b, .nkv = 0};

    put_clock(b, &r->time);
    put_level(b, r->level, color);
    put_logger(b, r->logger);
    put_safe(b, r->msg, r->msg ? r->msg_len : 0, 0);
    put_fields(&l, r);
    fmt_buf_putc(b, '\n');
    if (!b->oom)
        return 0;
    /* Never leave half a record behind for a caller that ignores the code. */
    b->len = start;
    return CTXLOG_ENOMEM;
}
