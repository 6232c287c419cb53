/* SPDX-License-Identifier: MIT */
/*
 * Async mode's captured records (private): for a route the line cache
 * serves (the context filter and one buffered JSON sink), the logging
 * thread does not make the record. It copies what the record is made of
 * into its ring — a stamp of the time (async_clock.h), level, logger, the
 * message and the fields' keys and values — and the writer encodes it with
 * the one encoder (fmt_json.c, through its line cache), so the bytes are
 * those sync mode writes.
 *
 * The context goes as a context entry: the logged variables of a snapshot
 * (as the context filter makes them fields), queued once when the thread's
 * snapshot changes, before the first record made under it. The writer
 * keeps the last one of each ring (log__ring_ctx) and stamps it on the
 * records after it. So a record's context is copied, never referenced: a
 * snapshot is released when its request is done with it, whatever the
 * queue holds.
 */
#ifndef CTXLOG_LOG_ASYNC_CAPTURE_H
#define CTXLOG_LOG_ASYNC_CAPTURE_H

#include "log/async/async_clock.h"
#include "log/async/async_ring.h"
#include "log/sinks/sinks.h"

#include <assert.h>
#include <stdint.h>
#include <string.h>

/* What log__capture_put and log__capture_ctx did. */
enum {
    LOG__CAPTURE_NO = 0,   /* nothing: make the record the usual way */
    LOG__CAPTURE_DONE = 1, /* queued, or dropped and counted (a full queue that drops) */
    LOG__CAPTURE_CTX = 2,  /* put: the context entry first (log__capture_ctx); ctx: queued */
};

/* More fields than this, or a LOG_JSON one (a json_t lives as long as the
 * call), a NULL key or string: made the usual way. So is a record whose
 * message, keys and strings take more than LOG__CAPTURE_BYTES, or made
 * under a context of more than LOG__CAPTURE_CTX_FIELDS logged variables or
 * LOG__CAPTURE_CTX_BYTES: the crash handler, which encodes captured
 * records into memory of its own, has room for the largest that is not. */
#define LOG__CAPTURE_FIELDS 16
#define LOG__CAPTURE_BYTES 8192
#define LOG__CAPTURE_CTX_FIELDS 32
#define LOG__CAPTURE_CTX_BYTES 4096

/*
 * The entries (after the ring's 16-byte header). A captured record:
 *
 *   cap_rec        the stamp, the logger (a name that lives as long as the
 *                  process), the message's length, the level, the fields'
 *                  number
 *   cap_field[n]   each field's type, its key's length, and its value (a
 *                  string's length for a string)
 *   bytes          the message, then each field's key and string value,
 *                  each followed by a NUL
 *
 * A context entry: cap_ctx (the snapshot's serial and the number of
 * fields), then its fields as a record's are.
 */
typedef struct cap_rec {
    uint64_t stamp;
    const char *logger;
    uint32_t msg_len;
    uint16_t n;
    uint8_t level;
    uint8_t pad_;
} cap_rec;

typedef struct cap_field {
    uint64_t v; /* the value's bits; a string's length */
    uint32_t key_len;
    uint32_t type;
} cap_field;

typedef struct cap_ctx {
    uint64_t serial;
    uint64_t n;
} cap_ctx;

_Static_assert(sizeof(cap_rec) % 8 == 0 && sizeof(cap_field) == 16 && sizeof(cap_ctx) == 16,
               "parts that keep what follows them aligned");

/* Copy n bytes, few as a rule: in two overlapping loads and stores when
 * n <= 16 (no call, no read past the source's end). */
static inline void log__capture_bytes(char *d, const char *s, size_t n)
{
    if (n >= 8 && n <= 16) {
        uint64_t a, b;
        memcpy(&a, s, 8);
        memcpy(&b, s + n - 8, 8);
        memcpy(d, &a, 8);
        memcpy(d + n - 8, &b, 8);
    } else if (n >= 4 && n < 8) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + n - 4, 4);
        memcpy(d, &a, 4);
        memcpy(d + n - 4, &b, 4);
    } else {
        memcpy(d, s, n);
    }
}

/* Count a record s lost (a full queue that drops). */
void log__capture_dropped(log_sink *s);

/* Write a captured record's ring header and cap_rec at p. Member by
 * member: a struct built first would be copied from the stack. */
static inline void log__capture_head(char *p, log_sink *s, size_t len, uint64_t stamp,
                                     const char *logger, size_t msg_len, size_t n,
                                     log_level level)
{
    cap_rec *rec = (cap_rec *)(void *)(p + RING_HDR);
    log__ring_hdr_put(p, s, len, RING_CAPTURED);
    rec->stamp = stamp;
    rec->logger = logger;
    rec->msg_len = (uint32_t)msg_len;
    rec->n = (uint16_t)n;
    rec->level = (uint8_t)level;
    rec->pad_ = 0;
}

/* log__capture_put when the quick way does not apply: any number of fields
 * up to LOG__CAPTURE_FIELDS, keys and strings of any length. */
int log__capture_put_any(log_sink *s, uint64_t serial, log_level level, const char *logger,
                         const char *msg, size_t msg_len, const log_field *f, size_t n,
                         uint64_t stamp);

/* The quick way's bounds: up to this many fields, a message, keys and
 * strings up to these lengths (room for them is reserved before they are
 * measured): the longest such record fits half the smallest queue. */
#define LOG__CAPTURE_QUICK 4
#define LOG__CAPTURE_MSG_MAX 1023
#define LOG__CAPTURE_KEY_MAX 31
#define LOG__CAPTURE_STR_MAX 127
#define LOG__CAPTURE_MOST(n, msg_len)                                                        \
    (sizeof(cap_rec) + (n) * (sizeof(cap_field) + LOG__CAPTURE_KEY_MAX + 1 +                 \
                              LOG__CAPTURE_STR_MAX + 1) + (msg_len) + 1)
_Static_assert(RING_HDR + LOG__CAPTURE_MOST(LOG__CAPTURE_QUICK, LOG__CAPTURE_MSG_MAX) + 15 <=
                   LOG__RING_MIN / 2,
               "the quick way's longest record fits half the smallest queue");

/*
 * Queue a record for sink s (the route's line sink) from the calling
 * thread, made under the context snapshot of `serial`: the call's message
 * and fields are copied. LOG__CAPTURE_CTX when the thread's last context
 * entry is not that snapshot's. Inline: the whole of async mode's common
 * path on the logging thread. It reserves room for the longest record of
 * its shape and publishes only what it wrote; a record that turns out not
 * to fit the quick way's bounds is left unpublished and queued by
 * log__capture_put_any instead.
 */
static inline __attribute__((always_inline)) int log__capture_put(log_sink *s, uint64_t serial,
                                                                  log_level level,
                                                                  const char *logger,
                                                                  const char *msg, size_t msg_len,
                                                                  const log_field *f, size_t n)
{
    uint64_t stamp = log__stamp_now();
    log__ring *r = log__my_ring;
    if (__builtin_expect(!r || n > LOG__CAPTURE_QUICK || msg_len > LOG__CAPTURE_MSG_MAX, 0))
        return log__capture_put_any(s, serial, level, logger, msg, msg_len, f, n, stamp);
    if (__builtin_expect(r->ctx_serial != serial, 0))
        return LOG__CAPTURE_CTX;
    size_t need = log__ring_entry_size(LOG__CAPTURE_MOST(n, msg_len));
    uint64_t head;
    char *p = log__ring_reserve(r, need, &head);
    if (__builtin_expect(!p, 0)) {
        log__capture_dropped(s);
        return LOG__CAPTURE_DONE;
    }
    char *cf = p + RING_HDR + sizeof(cap_rec);
    char *b = cf + n * sizeof(cap_field);
    log__capture_bytes(b, msg, msg_len);
    b[msg_len] = '\0';
    b += msg_len + 1;
    for (size_t i = 0; i < n; i++) {
        cap_field c;
        const char *key = f[i].key;
        if (__builtin_expect(!key || f[i].type == LOG_FIELD_JSON, 0))
            goto any;
        size_t kl = strlen(key);
        if (__builtin_expect(kl > LOG__CAPTURE_KEY_MAX, 0))
            goto any;
        log__capture_bytes(b, key, kl + 1);
        b += kl + 1;
        c.key_len = (uint32_t)kl;
        c.type = (uint32_t)f[i].type;
        if (f[i].type == LOG_FIELD_STR) {
            const char *str = f[i].v.s;
            size_t sl = str ? strlen(str) : SIZE_MAX;
            if (__builtin_expect(sl > LOG__CAPTURE_STR_MAX, 0))
                goto any;
            log__capture_bytes(b, str, sl + 1);
            b += sl + 1;
            c.v = sl;
        } else {
            memcpy(&c.v, &f[i].v, sizeof c.v);
        }
        memcpy(cf + i * sizeof c, &c, sizeof c);
    }
    size_t len = (size_t)(b - p) - RING_HDR;
    log__capture_head(p, s, len, stamp, logger, msg_len, n, level);
    log__ring_commit(r, head - need + log__ring_entry_size(len), level >= LOG_LEVEL_ERROR);
    return LOG__CAPTURE_DONE;
any:
    return log__capture_put_any(s, serial, level, logger, msg, msg_len, f, n, stamp);
}

/*
 * Queue the context entry of snapshot `serial`, whose logged variables
 * are f[0, n) (the context filter's fields, log__ctx_fields), with their
 * keys' and strings' lengths, for records to s. LOG__CAPTURE_CTX when
 * queued; LOG__CAPTURE_DONE when the queue was full and dropped it (the
 * record that needed it is counted as dropped); LOG__CAPTURE_NO when it
 * cannot be queued (make the record the usual way).
 */
int log__capture_ctx(log_sink *s, uint64_t serial, const log_field *f, const uint32_t *key_len,
                     const uint32_t *str_len, size_t n);

/* The writer's copy of a ring's last context entry. */
typedef struct log__ring_ctx {
    uint64_t serial;
    log_field *fields; /* keys and strings in `bytes` */
    size_t n, fields_cap;
    char *bytes;
    size_t bytes_cap;
} log__ring_ctx;

/* The writer: take the context entry at payload (len bytes) of ring r.
 * Returns 0, or -1 when out of memory (the ring's records until its next
 * context entry are then dropped and counted). */
int log__capture_take_ctx(log__ring *r, const char *payload, size_t len);

/* The writer: append the captured record at payload (len bytes, queued in
 * r for sink s) to out, as one JSON line. Returns 0, or -1 when it cannot
 * (out of memory, no context entry): the record is lost, counted here. */
int log__capture_encode(log__ring *r, log_sink *s, const char *payload, size_t len, fmt_buf *out);

/* The crash handler, for each ring: from the writer's context, then each
 * entry from where it takes over (async-signal-safe but for the encoder's
 * key table on a thread's first record: fmt_json_record_fresh). */
void log__capture_crash_begin(log__ring *r);
void log__capture_crash_entry(log__ring *r, const log__ring_hdr *h, const char *payload);

#endif /* CTXLOG_LOG_ASYNC_CAPTURE_H */
