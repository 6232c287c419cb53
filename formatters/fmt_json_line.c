/* SPDX-License-Identifier: MIT */
/*
 * The JSON formatter's line cache: see fmt_json_line.h.
 *
 * A cached line is the record's bytes, as the encoder wrote them, from after
 * the timestamp to just before the first field's value, then each further
 * field's `,"key":`:
 *
 *   seg[0]: ,"level":"info","logger":"root","msg":"user logged in",
 *           "request_id":"...","user_id":"...","tenant_id":"...","attempt":
 *   seg[i]: ,"key_i":
 *
 * A record of the same shape is written as the preset's opening, the
 * timestamp, and seg[0] value[0] seg[1] value[1] ... "}\n". The shape is the
 * context snapshot (its serial: the core vouches for it), the logger (a name
 * that never changes), the level, the preset, the message and the field
 * keys. Message and keys are compared by content only: the async writer's
 * copies of them (log/async/async_capture.h) are new bytes each time.
 */
#include "formatters/fmt_json_line.h"
#include "formatters/fmt_json.h"
#include "formatters/fmt_json_scalar.h"
#include "formatters/fmt_time.h"

#include "ctx/ctx_tls.h"

#include <assert.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#define LINE_BYTES 400

struct line {
    uint64_t serial; /* 0: empty */
    const char *logger;
    int level;
    int preset;
    size_t msg_len;
    size_t nf;
    size_t key_len[FMT_LINE_FIELDS];
    size_t key_at[FMT_LINE_FIELDS]; /* the key's text in bytes (after its quote) */
    size_t seg_end[FMT_LINE_FIELDS]; /* seg[i] is bytes[seg_end[i-1] or 0, seg_end[i]) */
    size_t msg_at;
    size_t len;
    char bytes[LINE_BYTES];
};

/* On the heap, not in static TLS: the library's initial-exec TLS stays small
 * enough for dlopen. Freed at thread exit. */
static CTX__TLS struct line *tl_line;
static pthread_once_t line_once = PTHREAD_ONCE_INIT;
static pthread_key_t line_key;
static int line_key_ok;

static void line_free(void *p)
{
    if (tl_line == p)
        tl_line = NULL;
    free(p);
}

static void line_key_create(void)
{
    line_key_ok = pthread_key_create(&line_key, line_free) == 0;
}

/* Whether a[0, n) and b[0, n) are the same bytes. */
static FMT_INLINE int same_bytes(const char *a, const char *b, size_t n)
{
    const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
    if (n >= 8 && n <= 16)
        return ((load64(x) ^ load64(y)) | (load64(x + n - 8) ^ load64(y + n - 8))) == 0;
    if (n >= 4 && n < 8)
        return ((load32(x) ^ load32(y)) | (load32(x + n - 4) ^ load32(y + n - 4))) == 0;
    return n == 0 || memcmp(a, b, n) == 0;
}

/* This thread's line when k has its shape (message and all but the keys). */
static FMT_INLINE const struct line *line_match(const fmt_line_key *k, log_json_preset preset)
{
    const struct line *L = tl_line;
    size_t nf = k->fields ? k->nfields : 0;
    if (!L || L->serial != k->serial || L->logger != k->logger || L->level != k->level ||
        L->preset != (int)preset || L->nf != nf || L->msg_len != k->msg_len || !same_bytes(L->bytes + L->msg_at, k->msg, k->msg_len))
        return NULL;
    return L;
}

/* The most bytes line_emit writes for L. */
static FMT_INLINE size_t line_need(const struct line *L)
{
    return 16 + FMT_RFC3339_LEN + 3 + L->len + L->nf * FMT_SCALAR_ROOM;
}

/* Write k's record at o (line_need(L) bytes of room) in one pass, checking
 * each key as it goes; returns the end, or NULL when a key or value does
 * not fit the line (the bytes at o are then undefined). */
static FMT_INLINE char *line_emit(const struct line *L, const fmt_line_key *k,
                                  log_json_preset preset, char *o)
{
    o = fmt_json_open(o, preset, k->time);
    size_t at = 0;
    for (size_t i = 0; i < L->nf; i++) {
        const log_field *f = &k->fields[i];
        /* The same bytes, then the end of the key: no strlen. */
        if (!f->key || !same_bytes(L->bytes + L->key_at[i], f->key, L->key_len[i]) ||
            f->key[L->key_len[i]] != '\0')
            return NULL;
        memcpy(o, L->bytes + at, L->seg_end[i] - at);
        o += L->seg_end[i] - at;
        at = L->seg_end[i];
        if (!(o = fmt_scalar_write(o, f)))
            return NULL;
    }
    if (at < L->len) { /* no fields: all of it (nothing follows the last key) */
        memcpy(o, L->bytes + at, L->len - at);
        o += L->len - at;
    }
    o[0] = '}';
    o[1] = '\n';
    return o + 2;
}

static int line_write(const fmt_line_key *k, log_json_preset preset, fmt_buf *b)
{
    const struct line *L = line_match(k, preset);
    if (!L)
        return 1;
    if (fmt_buf_reserve(b, line_need(L)))
        return CTXLOG_ENOMEM;
    char *e = line_emit(L, k, preset, b->data + b->len);
    if (!e)
        return 1; /* the bytes past b->len do not count */
    b->len = (size_t)(e - b->data);
    return 0;
}

size_t fmt_json_line_write_to(const fmt_line_key *k, log_json_preset preset, char *out,
                              size_t room)
{
    const struct line *L = line_match(k, preset);
    if (!L || room < line_need(L))
        return 0;
    char *e = line_emit(L, k, preset, out);
    return e ? (size_t)(e - out) : 0;
}

int fmt_json_line_put(const log_record *r, log_json_preset preset, fmt_buf *b)
{
    const fmt_ctx_hint *h = fmt_ctx_vouched(r);
    if (!h || h->logger != r->logger)
        return 1;
    fmt_line_key k = {
        .serial = h->serial,
        .logger = r->logger,
        .level = (int)r->level,
        .msg = r->msg,
        .msg_len = r->msg_len,
        .fields = r->fields,
        .nfields = r->n_fields,
        .time = &r->time,
    };
    return line_write(&k, preset, b);
}

/* Whether out[at] holds `"s"` followed by `tail` (0: nothing), s[0, n)
 * as it is: what the line cache compares raw text with. */
static int raw_at(const char *out, size_t at, const char *s, size_t n, char tail)
{
    return out[at] == '"' && (n == 0 || memcmp(out + at + 1, s, n) == 0) &&
           out[at + 1 + n] == '"' && (!tail || out[at + 2 + n] == tail);
}

void fmt_json_line_learn(const log_record *r, log_json_preset preset, const char *out,
                         const fmt_line_marks *m)
{
    const fmt_ctx_hint *h = fmt_ctx_vouched(r);
    size_t nf = r->fields ? r->n_fields : 0;

    if (!h || h->logger != r->logger || !r->logger || nf > FMT_LINE_FIELDS || m->nf != nf ||
        (!r->msg && r->msg_len) || !raw_at(out, m->msg, r->msg, r->msg_len, 0))
        return;
    /* The segments' total: everything but the values. */
    size_t len = nf ? m->val[0] - m->line : m->end - m->line;
    for (size_t i = 0; i < nf; i++) {
        const char *key = r->fields[i].key;
        size_t kl = key ? strlen(key) : 0;
        if (!key || !m->scalar[i] || out[m->comma[i]] != ',' ||
            !raw_at(out, m->comma[i] + 1, key, kl, ':') || m->val[i] != m->comma[i] + kl + 4)
            return; /* escaped or renamed: the cache could not compare it */
        if (i > 0)
            len += m->val[i] - m->comma[i];
    }
    if (len > LINE_BYTES)
        return;

    struct line *L = tl_line;
    if (!L) {
        L = malloc(sizeof *L);
        if (!L)
            return; /* no cache: records take the encoder */
        pthread_once(&line_once, line_key_create);
        if (!line_key_ok || pthread_setspecific(line_key, L) != 0) {
            free(L);
            return;
        }
        tl_line = L;
    }
    size_t at = nf ? m->val[0] - m->line : len;
    memcpy(L->bytes, out + m->line, at);
    for (size_t i = 0; i < nf; i++) {
        if (i > 0) {
            size_t seg = m->val[i] - m->comma[i];
            memcpy(L->bytes + at, out + m->comma[i], seg);
            L->key_at[i] = at + 2;
            at += seg;
        } else {
            L->key_at[0] = m->comma[0] + 2 - m->line;
        }
        L->seg_end[i] = at;
        L->key_len[i] = strlen(r->fields[i].key);
    }
    assert(at == len);
    L->len = len;
    L->msg_at = m->msg + 1 - m->line;
    L->msg_len = r->msg_len;
    L->nf = nf;
    L->logger = r->logger;
    L->level = (int)r->level;
    L->preset = (int)preset;
    L->serial = h->serial;
}

#ifndef NDEBUG
int fmt_json_line_spoil(void)
{
    struct line *L = tl_line;
    /* bytes: ,"level":… (or ,"log.level":…), the message after it */
    if (!L || !L->serial || L->len < 3 || L->msg_at <= 3)
        return -1;
    L->bytes[2] ^= 0x20; /* the letter's case */
    return 0;
}
#endif
