/*
 * Private structures of the context store, shared by the files of ctx/ and
 * read (never written) by log/ to stamp context variables on records.
 *
 * Memory model. A context is an immutable snapshot: a sorted array of
 * (variable, value) entries. ctx_set never edits a snapshot: it builds a new
 * one in ONE allocation, a "block" that holds the new snapshot and, inline,
 * the new value. Values are shared by reference between snapshots, so a block
 * has two kinds of references:
 *   - snapshot references (snap->refs): threads' frames, ctx_copy() holders;
 *   - value references: snapshot entries and undo records pointing at its value.
 * blk->refs counts the value references plus one while the snapshot is alive.
 * When the snapshot dies it drops the values it points to, so an old block
 * kept alive only for its value holds nothing else alive: no chains.
 */
#ifndef CTXLOG_CTX_INTERNAL_H
#define CTXLOG_CTX_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <ctxlog/ctx.h>

#include "ctx/ctx_tls.h"
#include "ctx/ctx_utf8.h"

struct ctx_var {
    const char *name;
    size_t name_len;
    unsigned flags;
    unsigned id; /* declaration order; snapshots are sorted by it */
};

enum ctx__kind { CTX__STR = 1, CTX__I64, CTX__PTR };

typedef struct ctx__blk {
    atomic_uint refs;
} ctx__blk;

typedef struct ctx__val {
    ctx__blk *blk;
    enum ctx__kind kind;
    int64_t i64;
    void *ptr;
    void (*release)(void *ptr);
    size_t len;
    char *str; /* text for CTX__STR and CTX__I64, NULL for CTX__PTR */
} ctx__val;

typedef struct ctx__ent {
    const ctx_var *var;
    ctx__val *val;
} ctx__ent;

struct ctx_snapshot {
    atomic_uint refs; /* ignored for the static empty snapshot */
    ctx__blk *blk;    /* NULL for the static empty snapshot */
    int floor;        /* the lower of the level-floor variable's value and the
                       * replay variable's level, INT_MAX when neither is set:
                       * the level from which records reach the core */
    uint64_t serial;  /* unique in the process: formatters key caches on it */
    unsigned n;
    ctx__ent ent[];
};

/* A value to store inline in a new block. */
typedef struct ctx__newval {
    enum ctx__kind kind;
    const char *str; /* CTX__STR: the bytes to copy */
    size_t len;
    int64_t i64;
    void *ptr;
    void (*release)(void *ptr);
} ctx__newval;

extern ctx_snapshot ctx__empty;

/* The variable behind log_context_level(): an integer level, never logged.
 * Every snapshot caches its value in `floor`, and the current snapshot's is
 * mirrored in ctx__level_floor for the logging macros. */
ctx_var *ctx__floor_var(void);

/* The variable behind log_context_replay(): an opaque pointer (the
 * request's replay buffer, released with the last snapshot holding it)
 * whose i64 is the level from which records are kept. Never logged. It
 * takes part in the snapshot's `floor`, so that records to keep pass the
 * macros' cheap test; the core tells them apart from records to write. */
ctx_var *ctx__replay_var(void);
/* ctx_set_ptr() of the replay variable with its level (ctx_frame.c). */
ctx_token ctx__set_replay(void *ptr, void (*release)(void *ptr), int level);

/* ctx_snapshot.c */
ctx__val *ctx__snap_lookup(const ctx_snapshot *s, const ctx_var *v);
/* A new snapshot: `base` with `v` set to a new inline value `nv`, or (nv NULL)
 * to the existing value `val` (NULL = unset). Returns a snapshot holding one
 * reference (the static empty one when nothing is left), or NULL when
 * memory runs out. One allocation at most. */
ctx_snapshot *ctx__snap_with(const ctx_snapshot *base, const ctx_var *v, ctx__val *val,
                             const ctx__newval *nv);
/* Several string variables at once, in one allocation: `base` with each
 * vars[i] set to a copy of strs[i] (NULL: unset). vars sorted by id,
 * distinct, at most CTX__SET_MAX, not the level floor. olds[i] gets the
 * value vars[i] has in base (borrowed, NULL when unset), even on failure.
 * Returns a snapshot holding one reference, or NULL when memory runs out. */
#define CTX__SET_MAX 4
ctx_snapshot *ctx__snap_with_strs(const ctx_snapshot *base, const ctx_var *const *vars,
                                  const char *const *strs, unsigned k, ctx__val **olds);
void ctx__val_ref(ctx__val *val);   /* NULL allowed */
void ctx__val_unref(ctx__val *val); /* NULL allowed */

/* ctx_frame.c: the calling thread's current snapshot, borrowed (no reference
 * taken): valid until this thread next changes its context. Never NULL.
 * ctx_frame.c mirrors it in ctx__cur (NULL: the empty one) whenever it
 * changes, so that reading it costs a record no call. */
extern CTX__TLS const ctx_snapshot *ctx__cur;
static inline const ctx_snapshot *ctx__current(void)
{
    const ctx_snapshot *s = ctx__cur;
    return s ? s : &ctx__empty;
}

/* ctx_frame.c: ctx_set() of k string variables (as ctx__snap_with_strs
 * takes them) with one new snapshot; tokens[i] undoes vars[i] alone. Falls
 * back to one ctx_set() each when the snapshot cannot be made. */
void ctx__set_strs(ctx_var *const *vars, const char *const *strs, unsigned k,
                   ctx_token *tokens);

/* ctx_frame.c: make `c` the calling thread's base context (the reference
 * is taken over); used by a thread started with ctx_thread_create. */
void ctx__thread_adopt(ctx_snapshot *c);

/* ctx_uuid.c: 64 bits from the calling thread's generator (xorshift128+,
 * seeded from getrandom(2) on first use and again in a forked child). */
uint64_t ctx__random64(void);

#endif /* CTXLOG_CTX_INTERNAL_H */
