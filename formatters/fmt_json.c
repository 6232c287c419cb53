/* SPDX-License-Identifier: MIT */
/*
 * The JSON formatter: one record -> one JSON object and '\n'.
 *
 * Member names and order per preset (optional members in brackets: the call
 * site when asked for and the record has a file, the thread id when asked for):
 *
 * LOG_JSON_DEFAULT (SPEC section 5):
 *   ts, level, logger, msg, <context fields>, <fields>,
 *   [file, line, func], [thread_id]
 *   The context fields are named after their variables: the trace's
 *   (SPEC section 8) are trace_id, span_id, trace_flags.
 *
 * LOG_JSON_ECS (Elastic Common Schema 8.11, flat dotted names as Filebeat
 * and the ECS loggers write them):
 *   @timestamp, log.level, log.logger, message, ecs.version ("8.11.0"),
 *   <context fields>, <fields>,
 *   [log.origin.file.name, log.origin.file.line, log.origin.function],
 *   [process.thread.id]
 *   The context fields trace_id and span_id are written as ECS's trace.id
 *   and span.id; ECS has no field for the flags, so trace_flags keeps its
 *   name, as request_id does.
 *
 * LOG_JSON_OTEL (OpenTelemetry log data model, flat exporter form):
 *   timestamp, [trace_id, span_id, flags], severity_text, severity_number,
 *   body, instrumentation_scope {name: <logger>},
 *   attributes {<context fields>, <fields>,
 *               [code.filepath, code.lineno, code.function], [thread.id]}
 *   The data model's TraceId, SpanId and TraceFlags are top-level fields:
 *   the context's trace_id and span_id strings go there, and trace_flags as
 *   the number `flags` (when it is two lower-case hex digits); they are then
 *   not repeated in attributes.
 *   severity_text is TRACE DEBUG INFO WARN ERROR FATAL and severity_number
 *   1 5 9 13 17 21 (the first number of each OTel range); an out-of-range
 *   level is UNKNOWN with 0 (SEVERITY_NUMBER_UNSPECIFIED). attributes is
 *   always present, {} when empty.
 *
 * Timestamps are RFC 3339 UTC with microseconds in every preset; level is
 * lowercase in DEFAULT and ECS ("unknown" when out of range).
 *
 * Keys are unique within each object. The keys the preset writes itself in
 * the object that holds the fields (the top level for DEFAULT and ECS, the
 * attributes object for OTEL) are reserved from the start, the optional ones
 * only when they will be written. A field key that is already taken is
 * renamed: a context field to "ctx.<key>", a record field to
 * "fields.<key>", and if that is taken as well, ".2", ".3", ... is appended
 * until it is unique. Keys are compared by their escaped bytes, which
 * fmt_json_string makes canonical, so two raw keys that sanitize to the same
 * text count as the same key.
 */
#include "formatters/fmt_json.h"
#include "formatters/fmt_json_line.h"
#include "formatters/fmt_json_plain.h"
#include "formatters/fmt_json_scalar.h"
#include "formatters/fmt_time.h"

#include "ctx/ctx_tls.h"
#include "ctx/ctx_utf8.h"

#include <assert.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- keys already in the record ------------------------------------------ */

/* Where an emitted key (quotes included) sits in the output buffer. Offsets,
 * not pointers: the buffer may move when it grows. */
struct key_span {
    size_t off;
    size_t len;
};

/* Reused by every record this thread formats, so steady state allocates
 * nothing. Freed at thread exit through the pthread key below. */
static CTX__TLS struct key_span *tl_keys;
static CTX__TLS size_t tl_keys_cap;
/* 1 while fmt_json_record_fresh encodes: no allocation (the tables are
 * what the thread has, or the ones below). */
static CTX__TLS int tl_no_alloc;

/* The context fields of the last record formatted on this thread, as they
 * were written (see put_ctx): reused while the context and the options that
 * shape them stay the same. */
#define CTX_CACHE_KEYS 16
struct ctx_cache {
    uint64_t serial; /* 0: empty */
    int preset, callsite, thread, comma_in, comma_out;
    fmt_buf bytes;
    struct key_span spans[CTX_CACHE_KEYS]; /* offsets into bytes */
    size_t nspans;
    int have_mask;
    uint64_t mask; /* the keyset's mask after the context fields */
};
static CTX__TLS struct ctx_cache tl_ctx;

/* A record with more keys than this finds them through a hash index of
 * tl_keys instead of a scan, so that a record of 100,000 fields, or of
 * 20,000 fields with one key, is written in linear time. */
#define INDEX_FROM 16

/* A slot of the index: a key (its place in tl_keys, plus one; 0: empty),
 * and the next ".N" suffix to try when a key renamed to this one is taken
 * again (put_key): every smaller one was taken when last tried. */
struct key_slot {
    uint32_t key1;
    uint32_t next;
};
static CTX__TLS struct key_slot *tl_index;
static CTX__TLS size_t tl_index_cap; /* a power of two, or 0 */
#ifndef NDEBUG
static CTX__TLS fmt_buf tl_check; /* fmt_json_check's fresh encoding */
#endif
/* log_record_walk's: the record as JSON, the decoded key and string. */
static CTX__TLS fmt_buf tl_walk_json, tl_walk_key, tl_walk_str;

static pthread_once_t keys_once = PTHREAD_ONCE_INIT;
static pthread_key_t keys_key;
static int keys_key_ok;

/* Thread exit: the thread's buffers go (the key's value only marks that
 * there are some). */
static void keys_release(void *p)
{
    (void)p;
    free(tl_keys);
    free(tl_index);
    tl_index = NULL;
    tl_index_cap = 0;
    fmt_buf_free(&tl_ctx.bytes);
    tl_ctx.serial = 0;
    fmt_buf_free(&tl_walk_json);
    fmt_buf_free(&tl_walk_key);
    fmt_buf_free(&tl_walk_str);
#ifndef NDEBUG
    fmt_buf_free(&tl_check);
#endif
    /* Another key's destructor may still log from this thread. */
    tl_keys = NULL;
    tl_keys_cap = 0;
}

static void keys_key_create(void)
{
    keys_key_ok = pthread_key_create(&keys_key, keys_release) == 0;
}

/* Have the thread's buffers freed when it exits. */
static void tls_release_at_exit(void)
{
    pthread_once(&keys_once, keys_key_create);
    if (keys_key_ok && !pthread_getspecific(keys_key))
        pthread_setspecific(keys_key, &keys_key);
}

static int keys_reserve(size_t n)
{
    if (n <= tl_keys_cap)
        return 0;
    if (tl_no_alloc)
        return -1;
    size_t cap = tl_keys_cap ? tl_keys_cap : 32;
    while (cap < n) {
        if (cap > SIZE_MAX / 2 / sizeof *tl_keys)
            return -1;
        cap *= 2;
    }
    struct key_span *p = realloc(tl_keys, cap * sizeof *p);
    if (!p)
        return -1;
    tl_keys = p;
    tl_keys_cap = cap;
    tls_release_at_exit();
    return 0;
}

struct lit {
    const char *s;
    size_t len;
};
#define LIT(s) {s, sizeof s - 1}

/* Escaped forms, quotes included, as they are compared with emitted keys. */
static const struct lit default_core[] = {
    LIT("\"ts\""), LIT("\"level\""), LIT("\"logger\""), LIT("\"msg\""),
};
static const struct lit default_callsite[] = {
    LIT("\"file\""), LIT("\"line\""), LIT("\"func\""),
};
static const struct lit ecs_core[] = {
    LIT("\"@timestamp\""), LIT("\"log.level\""), LIT("\"log.logger\""),
    LIT("\"message\""),    LIT("\"ecs.version\""),
};
static const struct lit ecs_callsite[] = {
    LIT("\"log.origin.file.name\""), LIT("\"log.origin.file.line\""),
    LIT("\"log.origin.function\""),
};
static const struct lit otel_callsite[] = {
    LIT("\"code.filepath\""), LIT("\"code.lineno\""), LIT("\"code.function\""),
};

/* What a preset reserves in the object that holds the fields. */
struct preset {
    const struct lit *core; /* always written there */
    size_t ncore;
    const struct lit *callsite; /* file, line, function: three keys */
    struct lit thread;
};

static const struct preset presets[] = {
    [LOG_JSON_DEFAULT] = {default_core, 4, default_callsite, LIT("\"thread_id\"")},
    [LOG_JSON_ECS] = {ecs_core, 5, ecs_callsite, LIT("\"process.thread.id\"")},
    /* The core members are outside "attributes": no field can collide with them. */
    [LOG_JSON_OTEL] = {NULL, 0, otel_callsite, LIT("\"thread.id\"")},
};

struct keyset {
    size_t n;                 /* spans used in tl_keys */
    const struct preset *p;
    int callsite;             /* the call site will be written */
    int thread;               /* the thread id will be written */
    int comma;                /* the next member needs a ',' before it */
    int have_mask;            /* `mask` covers every key taken so far */
    uint64_t mask;            /* one bit (key_bit) per key taken */
    size_t indexed;           /* keys in tl_index (0: no index yet) */
    struct walk *walk;        /* log_record_walk's: told each member written */
};

/* A key's bit in a keyset's mask: a key whose bit is clear is not taken, so
 * most keys are found free without a comparison. k[0, len) is the escaped
 * key, quotes included (len >= 2). */
static inline uint64_t key_bit(const char *k, size_t len)
{
    unsigned h = (unsigned)len * 31u + (unsigned char)k[1] * 7u + (unsigned char)k[len - 2];
    return UINT64_C(1) << (h & 63);
}

static uint64_t lits_mask(const struct lit *l, size_t n)
{
    uint64_t m = 0;
    for (size_t i = 0; i < n; i++)
        m |= key_bit(l[i].s, l[i].len);
    return m;
}

/* The mask of every key ks has taken (the slow way, once per record at
 * most: the cached context path hands it over ready). */
static void mask_fill(struct keyset *ks, const fmt_buf *b)
{
    uint64_t m = lits_mask(ks->p->core, ks->p->ncore);
    if (ks->callsite)
        m |= lits_mask(ks->p->callsite, 3);
    if (ks->thread)
        m |= lits_mask(&ks->p->thread, 1);
    for (size_t i = 0; i < ks->n; i++)
        m |= key_bit(b->data + tl_keys[i].off, tl_keys[i].len);
    ks->mask = m;
    ks->have_mask = 1;
}

static int in_lits(const struct lit *l, size_t n, const char *k, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (l[i].len == len && memcmp(l[i].s, k, len) == 0)
            return 1;
    return 0;
}

static uint64_t key_hash(const char *k, size_t len)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325); /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)k[i]) * UINT64_C(0x100000001b3);
    return h;
}

/* The slot of the key k[0, len) in tl_index: the one holding it, or the
 * empty one where it would go. */
static struct key_slot *index_slot(const fmt_buf *b, const char *k, size_t len)
{
    size_t mask = tl_index_cap - 1;
    for (size_t i = (size_t)key_hash(k, len) & mask;; i = (i + 1) & mask) {
        struct key_slot *sl = &tl_index[i];
        if (!sl->key1)
            return sl;
        const struct key_span *t = &tl_keys[sl->key1 - 1];
        if (t->len == len && memcmp(b->data + t->off, k, len) == 0)
            return sl;
    }
}

/* Bring the index up to every key of the record (ks->n of them), at most
 * half full. A record's first use clears what the last record left (the
 * memory stays for the next one, unless it is far larger than this record
 * needs); growing keeps each key's suffix hint. Returns -1 when out of
 * memory (the caller scans instead). */
static int index_catch_up(struct keyset *ks, const fmt_buf *b)
{
    assert(ks->n < UINT32_MAX);
    size_t need = 64;
    while (need < 2 * ks->n + 2)
        need *= 2;
    if (ks->indexed == 0 && tl_index_cap >= need && tl_index_cap <= 4 * need) {
        memset(tl_index, 0, tl_index_cap * sizeof *tl_index);
    } else if (ks->indexed == 0 || need > tl_index_cap) {
        if (tl_no_alloc)
            return -1;
        struct key_slot *old = tl_index;
        size_t nold = ks->indexed ? tl_index_cap : 0;
        struct key_slot *p = calloc(need, sizeof *p);
        if (!p)
            return -1;
        tl_index = p;
        tl_index_cap = need;
        for (size_t i = 0; i < nold; i++) {
            if (!old[i].key1)
                continue;
            const struct key_span *t = &tl_keys[old[i].key1 - 1];
            *index_slot(b, b->data + t->off, t->len) = old[i];
        }
        free(old);
    }
    for (; ks->indexed < ks->n; ks->indexed++) {
        const struct key_span *t = &tl_keys[ks->indexed];
        struct key_slot *sl = index_slot(b, b->data + t->off, t->len);
        if (!sl->key1)
            *sl = (struct key_slot){(uint32_t)ks->indexed + 1, 0};
    }
    return 0;
}

/* Whether the escaped key b[off, off + len) is taken. With `slot`, a
 * record past INDEX_FROM keys gets the key's index slot (NULL otherwise):
 * where put_key keeps the next suffix to try. */
static int key_taken(struct keyset *ks, const fmt_buf *b, size_t off, size_t len,
                     struct key_slot **slot)
{
    const char *k = b->data + off;

    if (slot)
        *slot = NULL;
    if (!ks->have_mask)
        mask_fill(ks, b);
    if (!(ks->mask & key_bit(k, len)))
        return 0;

    if (in_lits(ks->p->core, ks->p->ncore, k, len))
        return 1;
    if (ks->callsite && in_lits(ks->p->callsite, 3, k, len))
        return 1;
    if (ks->thread && in_lits(&ks->p->thread, 1, k, len))
        return 1;
    if (ks->n >= INDEX_FROM && index_catch_up(ks, b) == 0) {
        struct key_slot *sl = index_slot(b, k, len);
        if (slot && sl->key1)
            *slot = sl;
        return sl->key1 != 0;
    }
    for (size_t i = 0; i < ks->n; i++)
        if (tl_keys[i].len == len && memcmp(b->data + tl_keys[i].off, k, len) == 0)
            return 1;
    return 0;
}

/* ---- numbers -------------------------------------------------------------- */

static void put_i64(fmt_buf *b, int64_t v)
{
    if (fmt_buf_reserve(b, 20))
        return;
    b->len = (size_t)(fmt_i64_put(b->data + b->len, v) - b->data);
}

static void put_f64(fmt_buf *b, double v)
{
    if (isnan(v)) {
        fmt_buf_append(b, "\"NaN\"", 5);
        return;
    }
    if (isinf(v)) {
        if (v > 0)
            fmt_buf_append(b, "\"Infinity\"", 10);
        else
            fmt_buf_append(b, "\"-Infinity\"", 11);
        return;
    }

    /* The shortest of 15, 16, 17 significant digits that reads back as the
     * same double; 17 always does. */
    char tmp[64];
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (prec == 17 || strtod(tmp, NULL) == v)
            break;
    }
    if (n < 0 || (size_t)n >= sizeof tmp) {
        fmt_buf_append(b, "null", 4); /* cannot happen with %g; stay valid JSON */
        return;
    }

    /* printf and strtod follow LC_NUMERIC, so the round trip above is
     * consistent, but JSON wants '.': whatever is not a digit, sign or
     * exponent is the locale's radix (maybe several bytes) and becomes '.'. */
    char out[72];
    size_t o = 0;
    int real = 0;
    for (int i = 0; i < n;) {
        char c = tmp[i];
        if ((c >= '0' && c <= '9') || c == '-' || c == '+') {
            out[o++] = c;
            i++;
        } else if (c == 'e' || c == 'E') {
            out[o++] = c;
            real = 1;
            i++;
        } else {
            out[o++] = '.';
            real = 1;
            while (i < n && !(tmp[i] >= '0' && tmp[i] <= '9') && tmp[i] != 'e' && tmp[i] != 'E')
                i++;
        }
    }
    /* "1" would read back as an integer; keep the JSON type a real. */
    if (!real) {
        out[o++] = '.';
        out[o++] = '0';
    }
    fmt_buf_append(b, out, o);
}

/* ---- embedded jansson values ----------------------------------------------- */

/*
 * Check that p[0, n) (jansson's output, or an object key) is valid UTF-8,
 * and count what the record's string rules escape but jansson writes raw:
 * DEL and U+2028/U+2029 (in a dump both can only occur inside strings).
 * Returns 0, or -1 when not UTF-8.
 */
static int scan_utf8(const unsigned char *p, size_t n, size_t *dels, size_t *seps)
{
    size_t i = 0;

    *dels = *seps = 0;
    while (i < n) {
        unsigned c = p[i];
        if (c < 0x80) {
            *dels += c == 0x7F;
            i++;
            continue;
        }
        int ok;
        size_t k = ctx__utf8_item(p + i, n - i, &ok);
        if (!ok)
            return -1;
        if (k == 3 && c == 0xE2 && p[i + 1] == 0x80 && (p[i + 2] & 0xFE) == 0xA8)
            (*seps)++;
        i += k;
    }
    return 0;
}

/* Rewrite DEL and U+2028/U+2029 in d[0, n) as \u escapes, in place from the
 * back; `grow` more bytes are reserved after d + n. Returns the new length. */
static size_t escape_dump(char *d, size_t n, size_t grow)
{
    unsigned char *p = (unsigned char *)d;
    size_t r = n, w = n + grow;

    while (r > 0) {
        unsigned c = p[--r];
        if (c == 0x7F) {
            w -= 6;
            memcpy(p + w, "\\u007f", 6);
        } else if ((c == 0xA8 || c == 0xA9) && r >= 2 && p[r - 1] == 0x80 && p[r - 2] == 0xE2) {
            r -= 2;
            w -= 6;
            memcpy(p + w, c == 0xA8 ? "\\u2028" : "\\u2029", 6);
        } else {
            p[--w] = (unsigned char)c;
        }
    }
    return n + grow;
}

/* Deeper values are written as null: jansson's parser stops at the same
 * depth, and the walk below must end on cyclic values too. */
#define MAX_JSON_DEPTH 2048

/*
 * Whether every object key inside j is UTF-8 without NUL. jansson refuses a
 * bad string value, but writes a bad key as an unterminated string and
 * carries on (dump.c ignores that error), which would break the line.
 */
static int json_keys_ok(const json_t *j, int depth)
{
    size_t dels, seps;

    if (depth > MAX_JSON_DEPTH)
        return 0;
    if (json_is_array(j)) {
        for (size_t i = 0; i < json_array_size(j); i++)
            if (!json_keys_ok(json_array_get(j, i), depth + 1))
                return 0;
    } else if (json_is_object(j)) {
        for (void *it = json_object_iter((json_t *)j); it;
             it = json_object_iter_next((json_t *)j, it)) {
            const char *k = json_object_iter_key(it);
#if JANSSON_VERSION_HEX >= 0x020e00
            size_t klen = json_object_iter_key_len(it);
#else
            size_t klen = strlen(k);
#endif
            if (memchr(k, 0, klen) || scan_utf8((const unsigned char *)k, klen, &dels, &seps) ||
                !json_keys_ok(json_object_iter_value(it), depth + 1))
                return 0;
        }
    }
    return 1;
}

static void put_json(fmt_buf *b, const json_t *j)
{
    const size_t flags = JSON_COMPACT | JSON_ENCODE_ANY;

    if (!j || !json_keys_ok(j, 0)) {
        fmt_buf_append(b, "null", 4);
        return;
    }
    if (fmt_buf_reserve(b, 64))
        return;
    /* Dump straight into the buffer; when it does not fit, jansson says how
     * much it needs, and the second attempt gets exactly that. */
    size_t avail = b->cap - b->len;
    size_t n = json_dumpb(j, b->data + b->len, avail, flags);
    if (n > avail) {
        if (fmt_buf_reserve(b, n))
            return;
        avail = b->cap - b->len;
        n = json_dumpb(j, b->data + b->len, avail, flags);
        if (n > avail) /* the value changed under us: a caller bug */
            n = 0;
    }
    /* 0: dump failed (a cycle, a string value jansson refuses); the scan
     * re-checks UTF-8 so that nothing jansson lets through can break the line. */
    size_t dels, seps;
    if (n == 0 || scan_utf8((const unsigned char *)b->data + b->len, n, &dels, &seps)) {
        fmt_buf_append(b, "null", 4);
        return;
    }
    if (dels || seps) {
        size_t grow = dels * 5 + seps * 3; /* DEL -> \u007f, U+2028 -> \u2028 */
        if (fmt_buf_reserve(b, n + grow))
            return;
        n = escape_dump(b->data + b->len, n, grow);
    }
    b->len += n;
}

/* ---- the walk over a record (log_record_walk) ------------------------------ */

/*
 * log_record_walk is the encoder itself run with a listener: each member is
 * told to the caller right after the encoder wrote it, with the key it was
 * written under (renamed or not: put_key decided) and its value as the
 * encoder decided it (null, a repaired string, a number, a JSON value), so
 * that no other code decides which members a record has or how they are
 * named. Strings are given back decoded from the escaped bytes written.
 */
struct walk {
    log_member_fn fn;
    void *payload;
    int rc;          /* the first non-zero answer of fn: the walk stops */
    fmt_buf *key;    /* the decoded key */
    fmt_buf *str;    /* the decoded string value */
};

static int hex_val(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Decode the string literal p[0, n) (quotes included) that fmt_json_string
 * wrote into out (cleared first): its escapes back to the code points. */
static void unescape(fmt_buf *out, const char *p, size_t n)
{
    fmt_buf_clear(out);
    if (n < 2)
        return;
    p++, n -= 2;
    for (size_t i = 0; i < n;) {
        const char *bs = memchr(p + i, '\\', n - i);
        size_t run = i;
        i = bs ? (size_t)(bs - p) : n;
        fmt_buf_append(out, p + run, i - run);
        if (i + 1 >= n)
            break;
        char c = p[i + 1];
        i += 2;
        switch (c) {
        case 'b': fmt_buf_putc(out, '\b'); break;
        case 'f': fmt_buf_putc(out, '\f'); break;
        case 'n': fmt_buf_putc(out, '\n'); break;
        case 'r': fmt_buf_putc(out, '\r'); break;
        case 't': fmt_buf_putc(out, '\t'); break;
        case 'u': {
            unsigned cp = 0;
            for (int k = 0; k < 4 && i < n; k++, i++)
                cp = cp * 16 + (unsigned)(hex_val(p[i]) < 0 ? 0 : hex_val(p[i]));
            /* The writer escapes control characters, DEL and U+2028/9
             * alone: never a surrogate. */
            char u[3];
            if (cp < 0x80) {
                fmt_buf_putc(out, (char)cp);
            } else if (cp < 0x800) {
                u[0] = (char)(0xC0 | (cp >> 6));
                u[1] = (char)(0x80 | (cp & 0x3F));
                fmt_buf_append(out, u, 2);
            } else {
                u[0] = (char)(0xE0 | (cp >> 12));
                u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
                u[2] = (char)(0x80 | (cp & 0x3F));
                fmt_buf_append(out, u, 3);
            }
            break;
        }
        default: fmt_buf_putc(out, c); break; /* '"', '\\', '/' */
        }
    }
}

/* Tell the walk's listener about the member whose escaped key is
 * k[0, klen) (quotes included) and whose value the encoder wrote at
 * b[vstart, b->len), from the field f (NULL: a string member of the
 * encoder's own, or a number in *num). */
static void tell(struct walk *w, log_member_role role, const fmt_buf *b, const char *k,
                 size_t klen, size_t vstart, const log_field *f, const int64_t *num)
{
    if (!w || w->rc || b->oom)
        return;
    log_member m;
    memset(&m, 0, sizeof m);
    m.role = role;
    if (!memchr(k, '\\', klen)) { /* nothing escaped: the bytes between the quotes */
        m.key = k + 1;
        m.key_len = klen - 2;
    } else {
        unescape(w->key, k, klen);
        m.key = w->key->data ? w->key->data : "";
        m.key_len = w->key->len;
    }
    m.json = b->data + vstart;
    m.json_len = b->len - vstart;
    int null = m.json_len == 4 && memcmp(m.json, "null", 4) == 0;
    log_field_type t = f ? f->type : num ? LOG_FIELD_I64 : LOG_FIELD_STR;
    if (null) {
        m.type = LOG_MEMBER_NULL;
    } else if (t == LOG_FIELD_STR) {
        m.type = LOG_MEMBER_STR;
        if (!memchr(m.json, '\\', m.json_len)) {
            m.v.str.p = m.json + 1;
            m.v.str.len = m.json_len - 2;
        } else {
            unescape(w->str, m.json, m.json_len);
            m.v.str.p = w->str->data ? w->str->data : "";
            m.v.str.len = w->str->len;
        }
    } else if (t == LOG_FIELD_I64) {
        m.type = LOG_MEMBER_I64;
        m.v.i64 = f ? f->v.i64 : *num;
    } else if (t == LOG_FIELD_U64) {
        m.type = LOG_MEMBER_U64;
        m.v.u64 = f->v.u64;
    } else if (t == LOG_FIELD_F64) {
        m.type = LOG_MEMBER_F64;
        m.v.f64 = f->v.f64;
    } else if (t == LOG_FIELD_BOOL) {
        m.type = LOG_MEMBER_BOOL;
        m.v.b = f->v.b;
    } else if (t == LOG_FIELD_JSON) {
        m.type = LOG_MEMBER_JSON;
        m.v.json = f->v.json;
    }
    if (w->key->oom || w->str->oom)
        w->rc = CTXLOG_ENOMEM;
    else
        w->rc = w->fn(&m, w->payload);
}

/* The member put_key and a put_value just wrote (the last key taken). */
static void tell_member(struct keyset *ks, const fmt_buf *b, log_member_role role, size_t vstart,
                        const log_field *f)
{
    if (!ks->walk || b->oom)
        return;
    const struct key_span *k = &tl_keys[ks->n - 1];
    tell(ks->walk, role, b, b->data + k->off, k->len, vstart, f, NULL);
}

/* ---- members --------------------------------------------------------------- */

/*
 * Write `"key":`, renamed with `prefix` (and a ".N" suffix) when the key is
 * taken, and remember it. Returns -1 when out of memory.
 */
static int put_key(struct keyset *ks, fmt_buf *b, const char *key, const char *prefix)
{
    if (ks->comma)
        fmt_buf_putc(b, ',');
    ks->comma = 1;

    size_t start = b->len;
    if (!key)
        key = "(null)";
    fmt_json_string(b, key, strlen(key));
    if (b->oom || keys_reserve(ks->n + 1))
        return -1;

    if (key_taken(ks, b, start, b->len - start, NULL)) {
        /* Escaping is per code point, so escape(prefix + key) is prefix +
         * escape(key) for an ASCII prefix: shift the escaped key right. */
        size_t plen = strlen(prefix);
        if (fmt_buf_reserve(b, plen + 24))
            return -1;
        char *k = b->data + start;
        memmove(k + 1 + plen, k + 1, b->len - start - 1);
        memcpy(k + 1, prefix, plen);
        b->len += plen;

        /* Then the first free ".N", N from 2. A key renamed before in
         * this record remembers where its search ended (every smaller N
         * was taken then, and keys are never given back): 20,000 fields
         * of one key cost one try each, not 20,000. */
        size_t quote = b->len - 1; /* the closing '"' */
        struct key_slot *base = NULL;
        if (key_taken(ks, b, start, b->len - start, &base)) {
            uint64_t n = base && base->next > 2 ? base->next : 2;
            do {
                char *o = b->data + quote; /* room: 1 + 20 + 1 <= 24 reserved */
                *o++ = '.';
                o = fmt_u64_put(o, n++);
                *o++ = '"';
                b->len = (size_t)(o - b->data);
            } while (key_taken(ks, b, start, b->len - start, NULL));
            if (base && n <= UINT32_MAX)
                base->next = (uint32_t)n;
        }
    }
    tl_keys[ks->n].off = start;
    tl_keys[ks->n].len = b->len - start;
    ks->n++;
    ks->mask |= key_bit(b->data + start, b->len - start);
    fmt_buf_putc(b, ':');
    return 0;
}

/* Append f's value. Returns 1 when the scalar writer wrote it (then the
 * line cache may write it again with that writer), else 0. */
static int put_value(fmt_buf *b, const log_field *f)
{
    if (fmt_buf_reserve(b, FMT_SCALAR_ROOM))
        return 0;
    char *e = fmt_scalar_write(b->data + b->len, f);
    if (e) {
        b->len = (size_t)(e - b->data);
        return 1;
    }
    switch (f->type) {
    case LOG_FIELD_STR: /* not NULL: the scalar writer takes that */
        fmt_json_string(b, f->v.s, strlen(f->v.s));
        break;
    case LOG_FIELD_F64:
        put_f64(b, f->v.f64);
        break;
    case LOG_FIELD_JSON:
        put_json(b, (const json_t *)f->v.json);
        break;
    default:
        fmt_buf_append(b, "null", 4); /* an unknown type must not break the line */
        break;
    }
    return 0;
}

void fmt_json_value(fmt_buf *b, const log_field *f)
{
    (void)put_value(b, f);
}

/* The fields f[0, n); with m, where each one's comma and value went. */
static int put_fields(struct keyset *ks, fmt_buf *b, const log_field *f, size_t n,
                      const char *prefix, fmt_line_marks *m)
{
    if (!f)
        n = 0;
    for (size_t i = 0; i < n; i++) {
        if (m)
            m->comma[i] = b->len;
        if (put_key(ks, b, f[i].key, prefix))
            return -1;
        size_t v = b->len;
        if (m) {
            m->val[i] = b->len;
            m->scalar[i] = put_value(b, &f[i]);
        } else {
            (void)put_value(b, &f[i]);
        }
        tell_member(ks, b, LOG_MEMBER_FIELD, v, &f[i]);
    }
    if (m)
        m->nf = n;
    return 0;
}

#define PUT_LIT(b, lit) fmt_buf_append((b), lit, sizeof lit - 1)

/* ---- the trace variables (SPEC section 8) ---------------------------------- */

/* The context fields OTel writes at the top level instead of in
 * "attributes": the first string `trace_id` and `span_id`, and the first
 * `trace_flags` that is two lower-case hex digits (written as the number
 * OTel's `flags` is). Anything else of those names stays in "attributes". */
struct otel_trace {
    const log_field *trace, *span, *flags;
};

static int is_str(const log_field *f, const char *key)
{
    return f->type == LOG_FIELD_STR && f->v.s && f->key && strcmp(f->key, key) == 0;
}

static int hex_nibble(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static struct otel_trace otel_trace_of(const log_record *r)
{
    struct otel_trace t = {NULL, NULL, NULL};
    size_t n = r->ctx_fields ? r->n_ctx_fields : 0;
    for (size_t i = 0; i < n; i++) {
        const log_field *f = &r->ctx_fields[i];
        if (!t.trace && is_str(f, "trace_id"))
            t.trace = f;
        else if (!t.span && is_str(f, "span_id"))
            t.span = f;
        else if (!t.flags && is_str(f, "trace_flags") && hex_nibble(f->v.s[0]) >= 0 &&
                 hex_nibble(f->v.s[1]) >= 0 && f->v.s[2] == '\0')
            t.flags = f;
    }
    return t;
}

/* OTel's top-level trace members, each followed by a ','. */
static void put_otel_trace(fmt_buf *b, const struct otel_trace *t, struct walk *w)
{
    if (t->trace) {
        PUT_LIT(b, "\"trace_id\":");
        size_t v = b->len;
        fmt_json_string(b, t->trace->v.s, strlen(t->trace->v.s));
        tell(w, LOG_MEMBER_CORE, b, "\"trace_id\"", 10, v, NULL, NULL);
        fmt_buf_putc(b, ',');
    }
    if (t->span) {
        PUT_LIT(b, "\"span_id\":");
        size_t v = b->len;
        fmt_json_string(b, t->span->v.s, strlen(t->span->v.s));
        tell(w, LOG_MEMBER_CORE, b, "\"span_id\"", 9, v, NULL, NULL);
        fmt_buf_putc(b, ',');
    }
    if (t->flags) {
        PUT_LIT(b, "\"flags\":");
        size_t v = b->len;
        int64_t flags = hex_nibble(t->flags->v.s[0]) * 16 + hex_nibble(t->flags->v.s[1]);
        put_i64(b, flags);
        tell(w, LOG_MEMBER_CORE, b, "\"flags\"", 7, v, NULL, &flags);
        fmt_buf_putc(b, ',');
    }
}

/* The key a context field is written under: ECS names the trace and the
 * span `trace.id` and `span.id`; every other name is the variable's. */
static const char *ctx_key(const log_field *f, log_json_preset preset)
{
    if (preset == LOG_JSON_ECS && f->key) {
        if (strcmp(f->key, "trace_id") == 0)
            return "trace.id";
        if (strcmp(f->key, "span_id") == 0)
            return "span.id";
    }
    return f->key;
}

/* The context fields under the preset's names, those OTel moved to the
 * top level left out. */
static int put_ctx_fields(struct keyset *ks, fmt_buf *b, const log_record *r,
                          log_json_preset preset)
{
    size_t n = r->ctx_fields ? r->n_ctx_fields : 0;
    struct otel_trace t = {NULL, NULL, NULL};
    if (preset == LOG_JSON_OTEL)
        t = otel_trace_of(r);
    for (size_t i = 0; i < n; i++) {
        const log_field *f = &r->ctx_fields[i];
        if (f == t.trace || f == t.span || f == t.flags)
            continue;
        if (put_key(ks, b, ctx_key(f, preset), "ctx."))
            return -1;
        size_t v = b->len;
        (void)put_value(b, f);
        tell_member(ks, b, LOG_MEMBER_CONTEXT, v, f);
    }
    return 0;
}

/* The context fields. They depend on the context alone (and on the
 * options), so for a record whose context the core identified, the bytes
 * and keys written for the previous record of the same context are copied
 * instead of escaped and checked again. */
static int put_ctx(struct keyset *ks, fmt_buf *b, const log_record *r, log_json_preset preset,
                   int cached)
{
    const fmt_ctx_hint *h = fmt_ctx_vouched(r);
    size_t n = r->ctx_fields ? r->n_ctx_fields : 0;
    if (!cached || !h || n > CTX_CACHE_KEYS)
        return put_ctx_fields(ks, b, r, preset);
    struct ctx_cache *c = &tl_ctx;
    if (c->serial == h->serial && c->preset == (int)preset && c->callsite == ks->callsite &&
        c->thread == ks->thread && c->comma_in == ks->comma && ks->n == 0) {
        if (keys_reserve(c->nspans))
            return -1;
        size_t at = b->len;
        fmt_buf_append(b, c->bytes.data, c->bytes.len);
        if (b->oom)
            return -1;
        for (size_t i = 0; i < c->nspans; i++)
            tl_keys[i] = (struct key_span){at + c->spans[i].off, c->spans[i].len};
        ks->n = c->nspans;
        ks->comma = c->comma_out;
        ks->have_mask = c->have_mask;
        ks->mask = c->mask;
        return 0;
    }
    size_t at = b->len, k0 = ks->n;
    int comma_in = ks->comma;
    if (put_ctx_fields(ks, b, r, preset))
        return -1;
    c->serial = 0;
    if (k0 != 0)
        return 0; /* only the first keys of a record are cached */
    fmt_buf_clear(&c->bytes);
    fmt_buf_append(&c->bytes, b->data + at, b->len - at);
    if (c->bytes.oom) {
        fmt_buf_free(&c->bytes); /* no cache this time; the record is fine */
        return 0;
    }
    for (size_t i = 0; i < ks->n; i++)
        c->spans[i] = (struct key_span){tl_keys[i].off - at, tl_keys[i].len};
    c->nspans = ks->n;
    c->serial = h->serial;
    c->preset = (int)preset;
    c->callsite = ks->callsite;
    c->thread = ks->thread;
    c->comma_in = comma_in;
    c->comma_out = ks->comma;
    if (!ks->have_mask)
        mask_fill(ks, b);
    c->have_mask = ks->have_mask;
    c->mask = ks->mask;
    return 0;
}

/* A reserved key the preset writes itself (never renamed: fields were
 * renamed around it). */
static void put_lit_key(struct keyset *ks, fmt_buf *b, const struct lit *k)
{
    if (ks->comma)
        fmt_buf_putc(b, ',');
    ks->comma = 1;
    fmt_buf_append(b, k->s, k->len);
    fmt_buf_putc(b, ':');
}

static void put_cstr_or_null(fmt_buf *b, const char *s)
{
    if (s)
        fmt_json_string(b, s, strlen(s));
    else
        fmt_buf_append(b, "null", 4);
}

static const char *const level_names[] = {"trace", "debug", "info", "warn", "error", "fatal"};
static const char *const otel_names[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"};
static const int otel_numbers[] = {1, 5, 9, 13, 17, 21};
#define N_LEVELS (sizeof level_names / sizeof level_names[0])

static void put_level_lower(fmt_buf *b, log_level level)
{
    const char *name = (unsigned)level < N_LEVELS ? level_names[level] : "unknown";
    fmt_buf_putc(b, '"');
    fmt_buf_append(b, name, strlen(name));
    fmt_buf_putc(b, '"');
}


static void put_logger(fmt_buf *b, const log_record *r)
{
    fmt_json_string(b, r->logger ? r->logger : "", r->logger ? strlen(r->logger) : 0);
}

static void put_msg(fmt_buf *b, const log_record *r)
{
    fmt_json_string(b, r->msg, r->msg ? r->msg_len : 0);
}


/* The members between the timestamp and the message of the DEFAULT and ECS
 * presets (level and logger, and the message's key) depend on the level and
 * the logger alone: each thread keeps those of its last record. Only a
 * logger name the core vouches for (see fmt_ctx_hint) is trusted to mean
 * the same bytes as last time. */
#define HEAD_CACHE_BYTES 192
struct head_cache {
    const char *logger; /* NULL: empty */
    int level;
    int preset;
    size_t len;
    char bytes[HEAD_CACHE_BYTES];
};
static CTX__TLS struct head_cache tl_head;

static void put_level_logger(fmt_buf *b, log_json_preset preset, const log_record *r, int cached)
{
    const fmt_ctx_hint *h = r->priv_;
    struct head_cache *c = &tl_head;
    int trusted = cached && h && r->logger && h->logger == r->logger;
    if (trusted && c->logger == r->logger && c->level == (int)r->level &&
        c->preset == (int)preset) {
        fmt_buf_append(b, c->bytes, c->len);
        return;
    }
    size_t at = b->len;
    if (preset == LOG_JSON_ECS) {
        PUT_LIT(b, ",\"log.level\":");
        put_level_lower(b, r->level);
        PUT_LIT(b, ",\"log.logger\":");
        put_logger(b, r);
        PUT_LIT(b, ",\"message\":");
    } else {
        PUT_LIT(b, ",\"level\":");
        put_level_lower(b, r->level);
        PUT_LIT(b, ",\"logger\":");
        put_logger(b, r);
        PUT_LIT(b, ",\"msg\":");
    }
    size_t len = b->len - at;
    if (!trusted || b->oom || len > sizeof c->bytes)
        return;
    memcpy(c->bytes, b->data + at, len);
    c->len = len;
    c->logger = r->logger;
    c->level = (int)r->level;
    c->preset = (int)preset;
}

/* The members before the fields, and the opening of the object that holds
 * the fields; with m, where the line cache's part and the message start. */
static void put_head(fmt_buf *b, log_json_preset preset, const log_record *r, int cached,
                     fmt_line_marks *m, struct walk *w)
{
    if (preset == LOG_JSON_OTEL) {
        int known = (unsigned)r->level < N_LEVELS;
        const char *name = known ? otel_names[r->level] : "UNKNOWN";
        struct otel_trace t = otel_trace_of(r);
        PUT_LIT(b, "{\"timestamp\":");
        size_t v = b->len;
        fmt_buf_putc(b, '"');
        fmt_rfc3339_utc(b, &r->time);
        fmt_buf_putc(b, '"');
        tell(w, LOG_MEMBER_CORE, b, "\"timestamp\"", 11, v, NULL, NULL);
        fmt_buf_putc(b, ',');
        put_otel_trace(b, &t, w);
        PUT_LIT(b, "\"severity_text\":");
        v = b->len;
        fmt_buf_putc(b, '"');
        fmt_buf_append(b, name, strlen(name));
        fmt_buf_putc(b, '"');
        tell(w, LOG_MEMBER_CORE, b, "\"severity_text\"", 15, v, NULL, NULL);
        PUT_LIT(b, ",\"severity_number\":");
        v = b->len;
        int64_t number = known ? otel_numbers[r->level] : 0;
        put_i64(b, number);
        tell(w, LOG_MEMBER_CORE, b, "\"severity_number\"", 17, v, NULL, &number);
        PUT_LIT(b, ",\"body\":");
        v = b->len;
        put_msg(b, r);
        tell(w, LOG_MEMBER_CORE, b, "\"body\"", 6, v, NULL, NULL);
        PUT_LIT(b, ",\"instrumentation_scope\":{\"name\":");
        v = b->len;
        put_logger(b, r);
        tell(w, LOG_MEMBER_CORE, b, "\"instrumentation_scope.name\"", 28, v, NULL, NULL);
        PUT_LIT(b, "},\"attributes\":{");
        return;
    }
    if (fmt_buf_reserve(b, 16 + FMT_RFC3339_LEN))
        return;
    b->len = (size_t)(fmt_json_open(b->data + b->len, preset, &r->time) - b->data);
    if (m)
        m->line = b->len;
    put_level_logger(b, preset, r, cached);
    if (m)
        m->msg = b->len;
    put_msg(b, r);
    if (preset == LOG_JSON_ECS)
        PUT_LIT(b, ",\"ecs.version\":\"8.11.0\"");
}

/*
 * The encoder. `cached`: read and fill the thread's caches (the level and
 * logger, the context's members, the line cache), as records do; 0 for the
 * fresh encoding that fmt_json_check compares them with.
 */
static int encode(const log_record *r, const log_json_options *opts, fmt_buf *b, int cached,
                  struct walk *w)
{
    size_t start = b->len;
    struct keyset ks = {
        .n = 0,
        .p = &presets[opts->preset],
        .callsite = opts->callsite && r->file,
        .thread = opts->thread_id,
        /* OTel's fields open a new object; the others follow the core members. */
        .comma = opts->preset != LOG_JSON_OTEL,
        .walk = w,
    };
    /* Where the line cache's bytes are, for a record it may keep. */
    fmt_line_marks marks, *m = NULL;
    if (cached && fmt_json_line_opts(opts) && r->priv_ &&
        (r->fields ? r->n_fields : 0) <= FMT_LINE_FIELDS)
        m = &marks;

    put_head(b, opts->preset, r, cached, m, w);
    if (put_ctx(&ks, b, r, opts->preset, cached) ||
        put_fields(&ks, b, r->fields, r->n_fields, "fields.", m)) {
        b->oom = 1;
        goto fail;
    }
    if (ks.callsite) {
        put_lit_key(&ks, b, &ks.p->callsite[0]);
        fmt_json_string(b, r->file, strlen(r->file));
        put_lit_key(&ks, b, &ks.p->callsite[1]);
        put_i64(b, r->line);
        put_lit_key(&ks, b, &ks.p->callsite[2]);
        put_cstr_or_null(b, r->func);
    }
    if (ks.thread) {
        put_lit_key(&ks, b, &ks.p->thread);
        put_i64(b, r->thread_id);
    }
    if (opts->preset == LOG_JSON_OTEL)
        fmt_buf_putc(b, '}'); /* attributes */
    size_t end = b->len;
    fmt_buf_append(b, "}\n", 2);
    if (b->oom)
        goto fail;
    if (m) {
        m->end = end;
        fmt_json_line_learn(r, opts->preset, b->data, m);
    }
    return 0;
fail:
    /* Never leave half a record behind for a caller that ignores the code. */
    b->len = start;
    return CTXLOG_ENOMEM;
}

#ifndef NDEBUG
void fmt_json_check(const log_record *r, const log_json_options *opts, const char *got,
                    size_t len)
{
    static const log_json_options defaults = {.preset = LOG_JSON_DEFAULT};
    fmt_buf *fresh = &tl_check;

    fmt_buf_clear(fresh);
    tls_release_at_exit();
    if (encode(r, opts ? opts : &defaults, fresh, 0, NULL) != 0)
        return; /* out of memory: nothing to compare with */
    if (fresh->len != len || memcmp(fresh->data, got, len) != 0) {
        fprintf(stderr,
                "ctxlog: a JSON record written from a cache differs from a fresh encoding\n"
                "  cached: %.*s  fresh:  %.*s",
                (int)len, got, (int)fresh->len, fresh->data);
        abort();
    }
}
#endif

/* The checks both of the encoder's entry points make: *opts (NULL: the
 * defaults) and the arguments. */
static int record_args(const log_record *r, const log_json_options **opts, const fmt_buf *b)
{
    static const log_json_options defaults = {.preset = LOG_JSON_DEFAULT};

    if (!*opts)
        *opts = &defaults;
    if (!r || !b || (unsigned)(*opts)->preset >= sizeof presets / sizeof presets[0])
        return CTXLOG_EINVAL;
    if (b->oom)
        return CTXLOG_ENOMEM;
    return 0;
}

int fmt_json_record(const log_record *r, const log_json_options *opts, fmt_buf *b)
{
    int bad = record_args(r, &opts, b);
    if (bad)
        return bad;
    size_t start = b->len;
    int rc = fmt_json_line_opts(opts) ? fmt_json_line_put(r, opts->preset, b) : 1;
    if (rc == 1)
        rc = encode(r, opts, b, 1, NULL);
    if (rc == 0)
        fmt_json_check(r, opts, b->data + start, b->len - start);
    return rc;
}

/* fmt_json_record_fresh's key table for a thread that has none. A crash
 * handler runs once; it may have interrupted malloc itself. */
static struct key_span fresh_keys[INDEX_FROM + 1];

int fmt_json_record_fresh(const log_record *r, const log_json_options *opts, fmt_buf *b)
{
    int bad = record_args(r, &opts, b);
    if (bad)
        return bad;
    int borrowed = !tl_keys;
    if (borrowed) {
        tl_keys = fresh_keys;
        tl_keys_cap = sizeof fresh_keys / sizeof fresh_keys[0];
    }
    tl_no_alloc = 1;
    int rc = encode(r, opts, b, 0, NULL);
    tl_no_alloc = 0;
    if (borrowed) {
        tl_keys = NULL;
        tl_keys_cap = 0;
    }
    return rc;
}

int log_record_walk(const log_record *r, log_member_fn fn, void *payload)
{
    static const log_json_options otel = {.preset = LOG_JSON_OTEL};
    if (!r || !fn)
        return CTXLOG_EINVAL;
    struct walk w = {.fn = fn, .payload = payload, .key = &tl_walk_key, .str = &tl_walk_str};
    fmt_buf_clear(&tl_walk_json);
    tls_release_at_exit();
    int rc = encode(r, &otel, &tl_walk_json, 0, &w);
    /* A huge record's memory is not kept for the thread's next one. */
    fmt_buf *bufs[] = {&tl_walk_json, &tl_walk_key, &tl_walk_str};
    for (size_t i = 0; i < 3; i++)
        if (bufs[i]->cap > 64 * 1024)
            fmt_buf_free(bufs[i]);
    return w.rc ? w.rc : rc;
}
