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
 *
 * After a captured record the thread is left a lane (log__capture_lane;
 * the lane and the call that writes through it, log__lane_put, are in
 * <ctxlog/log.h>, with the one writer of a captured record's entry,
 * log__entry_write): the common call copies its record from the macro,
 * without calling in.
 */
#ifndef CTXLOG_LOG_ASYNC_CAPTURE_H
#define CTXLOG_LOG_ASYNC_CAPTURE_H

#include "log/async/async_clock.h"
#include "log/async/async_ring.h"
#include "log/sinks/sinks.h"

#include <assert.h>
#include <stddef.h>
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

/* The layout a lane writes (<ctxlog/log.h>, log__entry_write), which the
 * reader below takes apart: the two must agree. */
_Static_assert(offsetof(cap_rec, stamp) == 0 && offsetof(cap_rec, logger) == 8 &&
                   offsetof(cap_rec, msg_len) == 16 && offsetof(cap_rec, n) == 20 &&
                   offsetof(cap_rec, level) == 22 && sizeof(cap_rec) == 24,
               "cap_rec is layout 1's record part");
_Static_assert(offsetof(cap_field, v) == 0 && offsetof(cap_field, key_len) == 8 &&
                   offsetof(cap_field, type) == 12,
               "cap_field is layout 1's field part");
_Static_assert(offsetof(log__ring_hdr, sink) == 0 && offsetof(log__ring_hdr, len) == 8 &&
                   offsetof(log__ring_hdr, flags) == 12 && RING_CAPTURED == 2,
               "the ring's header is layout 1's");
_Static_assert(LOG__LANE_FIELDS == LOG__CAPTURE_FIELDS, "a lane takes what capture takes");

/* Count a record s lost (a full queue that drops). */
void log__capture_dropped(log_sink *s);

/*
 * Queue a record for sink s (the route's line sink) from the calling
 * thread, made under the context snapshot of `serial`: the call's message
 * and fields are copied (log__entry_write). LOG__CAPTURE_CTX when the
 * thread's last context entry is not that snapshot's; LOG__CAPTURE_NO when
 * it cannot be captured (see LOG__CAPTURE_FIELDS).
 */
int log__capture_put(log_sink *s, uint64_t serial, log_level level, const char *logger,
                     const char *msg, size_t msg_len, const log_field *f, size_t n);

/* After a record of logger `lg` (as the call named it; its name `name`)
 * was queued for s by log__capture_put: leave the calling thread a lane
 * (<ctxlog/log.h>) for the records of lg at `level` and above (below
 * error), decided under log__lane_epoch `epoch`. Nothing when lanes cannot
 * be used (no process-wide barrier, stamps that are not the counter). */
void log__capture_lane(log_sink *s, const log_logger *lg, const char *name, int level,
                       unsigned epoch);

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
