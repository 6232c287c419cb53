/* SPDX-License-Identifier: MIT */
/*
 * The JSON formatter's line cache (private).
 *
 * Most records of a thread repeat the shape of the one before: the same
 * logger, level, context snapshot, message and field keys, with only the
 * time and the field values new. Each thread keeps the bytes of the last
 * such record around its values, cut from what the JSON encoder
 * (fmt_json.c) wrote for it, so that the next one is the timestamp, one
 * copy and its values, each written by the encoder's own scalar writer
 * (fmt_json_scalar.h). Debug builds check every line written from the
 * cache against a fresh encoding (fmt_json_check). What is cached is
 * compared by content, not by pointer: a message or key buffer that was
 * rewritten in place is a miss, and the same text at another address (the
 * async writer's copies) a hit. ("Replay" in this library means only
 * replay on error, log_context_replay; this cache reuses bytes.)
 */
#ifndef CTXLOG_FMT_JSON_LINE_H
#define CTXLOG_FMT_JSON_LINE_H

#include "formatters/fmt_record.h"

/* Fields a cached line may have. */
#define FMT_LINE_FIELDS 4

/* What the cache compares, and the time: a record's shape without the
 * record (the core's line cache route has none). `serial` is the context
 * snapshot's (nonzero), `logger` a name the core vouches for. */
typedef struct fmt_line_key {
    uint64_t serial;
    const char *logger;
    int level;
    const char *msg;
    size_t msg_len;
    const log_field *fields;
    size_t nfields;
    const struct timespec *time;
} fmt_line_key;

/*
 * Write the record k describes at out[0, room) as the cached line of this
 * thread when it has the same shape, for a DEFAULT or ECS preset without
 * call site or thread id. Returns the bytes written; 0 when the cache does
 * not apply or room is short (out's bytes are then undefined).
 */
size_t fmt_json_line_write_to(const fmt_line_key *k, log_json_preset preset, char *out,
                              size_t room);

/*
 * The same, appended to b, for a record the core vouches for (r->priv_,
 * see fmt_ctx_hint). Returns 0 when written, 1 when the cache does not
 * apply (nothing written), CTXLOG_ENOMEM when b cannot grow (b as it was).
 */
int fmt_json_line_put(const log_record *r, log_json_preset preset, fmt_buf *b);

/* Where the encoder wrote the parts of a record that the line cache keeps:
 * offsets into its output, filled while it writes. */
typedef struct fmt_line_marks {
    size_t line;                    /* just after the timestamp's closing quote */
    size_t msg;                     /* the message's opening quote */
    size_t nf;                      /* record fields written */
    size_t comma[FMT_LINE_FIELDS];  /* field i's ',' before its key */
    size_t val[FMT_LINE_FIELDS];    /* field i's value */
    int scalar[FMT_LINE_FIELDS];    /* field i's value came from fmt_scalar_write */
    size_t end;                     /* where the closing "}\n" starts */
} fmt_line_marks;

/*
 * Remember the record the encoder just wrote at out (marks m) for the next
 * one of its shape. Does nothing unless the record can be rewritten to the
 * same bytes: a context the core vouches for, the message and every key
 * written as they are (not escaped, not renamed), every value from the
 * scalar writer, and a line that fits the cache.
 */
void fmt_json_line_learn(const log_record *r, log_json_preset preset, const char *out,
                         const fmt_line_marks *m);

#ifndef NDEBUG
/* Tests, Debug builds: change one byte of this thread's cached line (the
 * first letter of the level's key), so that the next record of its shape
 * is written wrong from the cache and fmt_json_check must catch it.
 * Returns 0, or -1 when nothing is cached. */
int fmt_json_line_spoil(void);
#endif

#endif /* CTXLOG_FMT_JSON_LINE_H */
