/* SPDX-License-Identifier: MIT */
/*
 * Async mode's captured records: see async_capture.h, which also has the
 * entries' layout (the logging thread's common case is the lane, in
 * <ctxlog/log.h>). Here: the logging thread's calls that go in, the lane
 * they leave, the writer's side and the crash handler's.
 */
#include "log/async/async_capture.h"
#include "log/async/async_clock.h"
#include "log/base/log_hazard.h"
#include "log/sinks/sink_ops.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* The fields cf[0, n) describe, their bytes at b, into out. */
static void fields_read(const char *cfp, size_t n, const char *b, log_field *out)
{
    for (size_t i = 0; i < n; i++) {
        cap_field cf;
        memcpy(&cf, cfp + i * sizeof cf, sizeof cf);
        out[i].key = b;
        b += cf.key_len + 1;
        out[i].type = (log_field_type)cf.type;
        if (cf.type == LOG_FIELD_STR) {
            out[i].v.s = b;
            b += cf.v + 1;
        } else {
            memcpy(&out[i].v, &cf.v, sizeof cf.v);
        }
    }
}

/* ---- the logging thread's side -------------------------------------------- */

void log__capture_dropped(log_sink *s)
{
    atomic_fetch_add_explicit(&s->dropped, 1, memory_order_relaxed);
    log__count_dropped(1);
}

int log__capture_put(log_sink *s, uint64_t serial, log_level level, const char *logger,
                     const char *msg, size_t msg_len, const log_field *f, size_t n)
{
    log__ring *r = log__ring_mine();
    if (!r || n > LOG__CAPTURE_FIELDS)
        return LOG__CAPTURE_NO;
    if (r->ctx_serial != serial)
        return LOG__CAPTURE_CTX;
    size_t kl[LOG__CAPTURE_FIELDS], sl[LOG__CAPTURE_FIELDS];
    size_t bytes = log__entry_measure(msg_len, f, n, kl, sl);
    if (bytes > LOG__CAPTURE_BYTES + 1) /* and (size_t)-1: a field it cannot hold */
        return LOG__CAPTURE_NO;
    size_t need = log__entry_size(n, bytes);
    if (need > r->cap / 2)
        return LOG__CAPTURE_NO;
    uint64_t stamp = log__stamp_now();
    uint64_t head;
    char *p = log__ring_reserve(r, need, &head);
    if (!p) {
        log__capture_dropped(s);
        return LOG__CAPTURE_DONE;
    }
    log__entry_write(p, need, s, stamp, logger, (int)level, msg, msg_len, f, n, kl, sl);
    log__ring_commit(r, head, level >= LOG_LEVEL_ERROR);
    return LOG__CAPTURE_DONE;
}

void log__capture_lane(log_sink *s, const log_logger *lg, const char *name, int level,
                       unsigned epoch)
{
    struct log__lane *L = log__my_lane1;
    log__ring *r = log__my_ring;
    if (!L || !r || level >= LOG_LEVEL_ERROR || !atomic_load(&log__hazard_asym) ||
        __atomic_load_n(&log__stamp_tsc, __ATOMIC_RELAXED) != 1)
        return;
    /* The room known to be free, up to the next 4 KiB mark (where
     * log__ring_commit looks whether the writer sleeps); the ring's end is
     * such a mark, so the room never wraps. */
    uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint64_t end = (h | 4095) + 1;
    if (end > r->tail_seen + r->cap)
        end = r->tail_seen + r->cap;
    if (end <= h)
        return;
    _Static_assert(sizeof r->head == sizeof(uint64_t), "a lane publishes the head");
    L->pos = r->data + (h & (r->cap - 1));
    L->end = L->pos + (end - h);
    assert(L->end <= r->data + r->cap);
    L->head = (uint64_t *)(void *)&r->head;
    L->count = h;
    L->lg = lg;
    L->name = name;
    L->sink = s;
    L->serial = r->ctx_serial;
    L->epoch = epoch;
    L->level = level;
}

int log__capture_ctx(log_sink *s, uint64_t serial, const log_field *f, const uint32_t *key_len,
                     const uint32_t *str_len, size_t n)
{
    log__ring *r = log__ring_mine();
    if (!r || n > LOG__CAPTURE_CTX_FIELDS)
        return LOG__CAPTURE_NO;
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += (size_t)key_len[i] + 1 + (f[i].type == LOG_FIELD_STR ? (size_t)str_len[i] + 1 : 0);
    size_t len = sizeof(cap_ctx) + n * sizeof(cap_field) + bytes;
    if (bytes > LOG__CAPTURE_CTX_BYTES || log__ring_entry_size(len) > r->cap / 2)
        return LOG__CAPTURE_NO;
    uint64_t head;
    char *p = log__ring_reserve(r, log__ring_entry_size(len), &head);
    if (!p) {
        log__capture_dropped(s); /* the record it was for */
        return LOG__CAPTURE_DONE;
    }
    cap_ctx *c = (cap_ctx *)(void *)(p + RING_HDR);
    log__ring_hdr_put(p, s, len, RING_CONTEXT);
    c->serial = serial;
    c->n = n;
    char *cf = p + RING_HDR + sizeof *c;
    char *b = cf + n * sizeof(cap_field);
    for (size_t i = 0; i < n; i++) {
        cap_field d = {.key_len = key_len[i], .type = (uint32_t)f[i].type};
        assert(strlen(f[i].key) == key_len[i]);
        log__bytes_copy(b, f[i].key, (size_t)key_len[i] + 1);
        b += key_len[i] + 1;
        if (f[i].type == LOG_FIELD_STR) {
            assert(strlen(f[i].v.s) == str_len[i]);
            log__bytes_copy(b, f[i].v.s, (size_t)str_len[i] + 1);
            b += str_len[i] + 1;
            d.v = str_len[i];
        } else {
            memcpy(&d.v, &f[i].v, sizeof d.v);
        }
        memcpy(cf + i * sizeof d, &d, sizeof d);
    }
    assert((size_t)(b - p) == RING_HDR + len);
    log__ring_commit(r, head, 0);
    r->ctx_serial = serial;
    return LOG__CAPTURE_CTX;
}

/* ---- the writer's side ------------------------------------------------------ */

int log__capture_take_ctx(log__ring *r, const char *payload, size_t len)
{
    log__ring_ctx *c = r->ctx;
    if (!c && !(c = r->ctx = calloc(1, sizeof *c)))
        return -1;
    cap_ctx h;
    assert(len >= sizeof h);
    memcpy(&h, payload, sizeof h);
    c->serial = 0; /* until taken whole */
    if (len > c->bytes_cap) {
        char *grown = realloc(c->bytes, len);
        if (!grown)
            return -1;
        c->bytes = grown;
        c->bytes_cap = len;
    }
    if (h.n > c->fields_cap) {
        log_field *grown = realloc(c->fields, h.n * sizeof *grown);
        if (!grown)
            return -1;
        c->fields = grown;
        c->fields_cap = h.n;
    }
    memcpy(c->bytes, payload, len);
    const char *cf = c->bytes + sizeof h;
    fields_read(cf, h.n, cf + h.n * sizeof(cap_field), c->fields);
    c->n = h.n;
    c->serial = h.serial;
    return 0;
}

/* The record at payload as the logging thread would have made it but for
 * its time (*stamp) and context: its fields in f (LOG__CAPTURE_FIELDS). */
static void record_read(const char *payload, log_record *rec, log_field *f, uint64_t *stamp)
{
    cap_rec h;
    memcpy(&h, payload, sizeof h);
    const char *cf = payload + sizeof h;
    const char *msg = cf + h.n * sizeof(cap_field);
    fields_read(cf, h.n, msg + h.msg_len + 1, f);
    rec->level = (log_level)h.level;
    rec->logger = h.logger;
    rec->msg = msg;
    rec->msg_len = h.msg_len;
    rec->fields = f;
    rec->n_fields = h.n;
    rec->file = NULL;
    rec->line = 0;
    rec->func = NULL;
    rec->thread_id = 0; /* the route's sink writes none */
    rec->priv_ = NULL;
    *stamp = h.stamp;
}

int log__capture_encode(log__ring *r, log_sink *s, const char *payload, size_t len, fmt_buf *out)
{
    (void)len;
    const log__ring_ctx *c = r->ctx;
    if (!c || !c->serial) {
        log__capture_dropped(s); /* its context entry was lost to a lack of memory */
        return -1;
    }
    log_record rec;
    log_field f[LOG__CAPTURE_FIELDS];
    uint64_t stamp;
    record_read(payload, &rec, f, &stamp);
    assert(rec.n_fields <= LOG__CAPTURE_FIELDS);
    log__stamp_time(stamp, &rec.time);
    rec.ctx_fields = c->fields;
    rec.n_ctx_fields = c->n;
    /* Vouched as the context filter vouches: the serial of the snapshot
     * these fields came from. So the encoder's caches serve the writer. */
    fmt_ctx_hint hint = {.serial = c->serial, .fields = c->fields, .n = c->n, .logger = rec.logger};
    rec.priv_ = &hint;
    if (fmt_json_record(&rec, s->json, out) != 0) {
        out->oom = 0; /* what the buffer held is still there */
        log__capture_dropped(s);
        return -1;
    }
    return 0;
}

/* ---- the crash handler ------------------------------------------------------ */

/* Its own memory: it runs once, allocating nothing. A line is at most six
 * bytes for each byte of the message, keys, strings and context (an
 * invalid byte becomes \ufffd), and a few hundred more. */
#define CRASH_CTX_FIELDS LOG__CAPTURE_CTX_FIELDS
static log_field crash_ctx_fields[CRASH_CTX_FIELDS];
static const log_field *crash_ctx;
static size_t crash_ctx_n;
static int crash_ctx_ok;
static log_field crash_fields[LOG__CAPTURE_FIELDS];
static char crash_line[6 * (LOG__CAPTURE_BYTES + LOG__CAPTURE_CTX_BYTES) + 64 * 1024];

void log__capture_crash_begin(log__ring *r)
{
    const log__ring_ctx *c = r->ctx;
    crash_ctx_ok = c && c->serial;
    crash_ctx = crash_ctx_ok ? c->fields : NULL;
    crash_ctx_n = crash_ctx_ok ? c->n : 0;
}

void log__capture_crash_entry(log__ring *r, const log__ring_hdr *h, const char *payload)
{
    (void)r;
    if (h->flags & RING_CONTEXT) {
        cap_ctx c;
        memcpy(&c, payload, sizeof c);
        crash_ctx_ok = c.n <= CRASH_CTX_FIELDS;
        if (crash_ctx_ok) {
            const char *cf = payload + sizeof c;
            fields_read(cf, c.n, cf + c.n * sizeof(cap_field), crash_ctx_fields);
            crash_ctx = crash_ctx_fields;
            crash_ctx_n = c.n;
        }
        return;
    }
    log_sink *s = h->sink;
    if (!crash_ctx_ok || !s || !s->ops->crash_write)
        return;
    log_record rec;
    uint64_t stamp;
    record_read(payload, &rec, crash_fields, &stamp);
    log__stamp_time_crash(stamp, &rec.time);
    rec.ctx_fields = crash_ctx;
    rec.n_ctx_fields = crash_ctx_n;
    fmt_buf b = {.data = crash_line, .len = 0, .cap = sizeof crash_line, .oom = 0, .fixed = 1};
    if (fmt_json_record_fresh(&rec, s->json, &b) == 0 && !b.oom)
        s->ops->crash_write(s, b.data, b.len);
}
