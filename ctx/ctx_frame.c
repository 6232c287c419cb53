/* SPDX-License-Identifier: MIT */
/*
 * Context state: the stack of frames and, in each, the current snapshot and
 * the undo records that give ctx_token its meaning. Each thread has its own
 * state; a fiber (ctx_fiber_new) is a state of the same kind that a
 * scheduler switches in on whichever thread runs its task, so that the
 * task's context, frames and tokens go with it.
 *
 * A token is three words and owns nothing, so it may be dropped. What
 * ctx_reset needs (the previous value) is kept by the frame in a bounded undo
 * list; ids make stale and foreign tokens detectable without touching memory
 * the token points to:
 *   serial = thread number << 32 | per-thread counter;
 *   set serials are even, frame ids odd, so the two kinds never mix up.
 */
#include "ctx/ctx_internal.h"

#include <assert.h>
#include <limits.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct undo {
    uint64_t serial;
    const ctx_var *var;
    ctx__val *old; /* one value reference, or NULL for "was unset" */
} undo;

/* The distinct variables of a frame's undo records and how many records
 * each has, while there are at most VARS_TRACKED of them (the usual case):
 * with them a full list finds its victim without counting it all again. */
#define VARS_TRACKED 8
typedef struct frame {
    struct frame *up;
    ctx_snapshot *cur; /* one snapshot reference */
    uint64_t id;
    unsigned nundo;
    int on_heap; /* made by ctx_attach */
    unsigned nvars; /* > VARS_TRACKED: more variables than that, not tracked */
    const ctx_var *vars[VARS_TRACKED];
    unsigned char counts[VARS_TRACKED];
    undo undo[CTX_UNDO_DEPTH];
} frame;
_Static_assert(CTX_UNDO_DEPTH < 256, "counts fit unsigned char");

/* A context state: a thread's own (made on its first use of the store) or
 * a fiber's; the public ctx_fiber is this struct. */
typedef struct ctx_fiber {
    frame *top;
    uint64_t thread_bits; /* state number << 32 (threads and fibers alike) */
    uint32_t counter;
    atomic_bool on_thread; /* a fiber: switched in on some thread now */
    frame base;
} tstate;

/* The calling thread's current state: its own, or the fiber switched in. */
static CTX__TLS tstate *tls;
/* The thread's own state (NULL until first used) and the fiber switched in
 * (NULL: none; then tls == own). */
static CTX__TLS tstate *own;
static CTX__TLS tstate *cur_fiber;
CTX__TLS int ctx__level_floor = INT_MAX;
CTX__TLS const ctx_snapshot *ctx__cur;
CTX__TLS uint64_t ctx__serial = 1; /* ctx__empty's */

int ctx__level_floor_get(void)
{
    return ctx__level_floor;
}

/* The current snapshot changed: refresh what the logging calls read. */
static void cur_changed(const tstate *t)
{
    ctx__cur = t->top->cur;
    ctx__level_floor = t->top->cur->floor;
    ctx__serial = t->top->cur->serial;
}
static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static atomic_uint_fast64_t thread_numbers = 1;

static void frame_init(frame *f, ctx_snapshot *cur, uint64_t id)
{
    f->up = NULL;
    f->cur = cur;
    f->id = id;
    f->nundo = 0;
    f->nvars = 0;
    f->on_heap = 0;
}

static void frame_clear(frame *f)
{
    for (unsigned i = 0; i < f->nundo; i++)
        ctx__val_unref(f->undo[i].old);
    f->nundo = 0;
    f->nvars = 0;
    ctx_release(f->cur);
    f->cur = &ctx__empty;
}

/* Pop and free every frame above `keep` (attached frames a callee left). */
static void unwind_to(tstate *t, frame *keep)
{
    while (t->top != keep && t->top != &t->base) {
        frame *f = t->top;
        t->top = f->up;
        frame_clear(f);
        if (f->on_heap)
            free(f);
    }
}

/* Thread exit (the key's destructor, with the thread's own state). A fiber
 * still switched in is let go, so that another thread may resume it. */
static void tstate_free(void *p)
{
    tstate *t = p;
    if (cur_fiber) {
        atomic_store_explicit(&cur_fiber->on_thread, false, memory_order_release);
        cur_fiber = NULL;
    }
    unwind_to(t, &t->base);
    frame_clear(&t->base);
    free(t);
    tls = own = NULL;
    ctx__cur = NULL;
    ctx__level_floor = INT_MAX;
    ctx__serial = ctx__empty.serial;
}

static void make_key(void)
{
    (void)pthread_key_create(&tls_key, tstate_free);
}

static uint64_t next_serial(tstate *t, int odd)
{
    /* Wrapping after 2^31 sets only risks a very old token matching. */
    t->counter += 2;
    if (t->counter == 0)
        t->counter = 2;
    return t->thread_bits | t->counter | (uint64_t)(odd != 0);
}

/* A new state whose base context is `base` (the reference is taken over). */
static tstate *tstate_new(ctx_snapshot *base)
{
    tstate *t = malloc(sizeof *t);
    if (!t)
        return NULL;
    t->thread_bits = atomic_fetch_add(&thread_numbers, 1) << 32;
    t->counter = 0;
    atomic_init(&t->on_thread, false);
    frame_init(&t->base, base, 0);
    t->base.id = next_serial(t, 1);
    t->top = &t->base;
    return t;
}

/* The calling thread's current state, its own made on first use (a fiber
 * switched in is always there, so only the thread's own is ever made). */
static tstate *tstate_get(void)
{
    tstate *t = tls;
    if (t)
        return t;
    assert(!cur_fiber && !own);
    (void)pthread_once(&tls_once, make_key);
    t = tstate_new(&ctx__empty);
    if (!t)
        return NULL;
    if (pthread_setspecific(tls_key, t) != 0) {
        free(t);
        return NULL;
    }
    tls = own = t;
    return t;
}

/* Index of v in f->vars, or f->nvars. Tracked frames only. */
static unsigned var_slot(const frame *f, const ctx_var *v)
{
    unsigned k = 0;
    while (k < f->nvars && f->vars[k] != v)
        k++;
    return k;
}

static void var_added(frame *f, const ctx_var *v)
{
    if (f->nvars > VARS_TRACKED)
        return;
    unsigned k = var_slot(f, v);
    if (k < f->nvars) {
        f->counts[k]++;
    } else if (k == VARS_TRACKED) {
        f->nvars = VARS_TRACKED + 1; /* too many: count when needed */
    } else {
        f->vars[k] = v;
        f->counts[k] = 1;
        f->nvars++;
    }
}

/* Remove f->undo[i] (its old value's reference is the caller's). */
static void undo_remove(frame *f, unsigned i)
{
    const ctx_var *v = f->undo[i].var;
    memmove(&f->undo[i], &f->undo[i + 1], (f->nundo - i - 1) * sizeof f->undo[0]);
    f->nundo--;
    if (f->nundo == 0) {
        f->nvars = 0; /* tracked again from scratch */
    } else if (f->nvars <= VARS_TRACKED) {
        unsigned k = var_slot(f, v);
        if (--f->counts[k] == 0) {
            f->nvars--;
            f->vars[k] = f->vars[f->nvars];
            f->counts[k] = f->counts[f->nvars];
        }
    }
}

/* The record a full list gives up: the oldest record of the variable with
 * the most records (of those tied, the one whose oldest record is oldest),
 * or the oldest record of all when no variable has more than one. */
static unsigned undo_victim(const frame *f)
{
    if (f->nvars <= VARS_TRACKED) {
        unsigned best = 1;
        for (unsigned k = 0; k < f->nvars; k++)
            if (f->counts[k] > best)
                best = f->counts[k];
        if (best == 1)
            return 0;
        /* The first record of a variable with that many is the one. */
        for (unsigned i = 0;; i++)
            if (f->counts[var_slot(f, f->undo[i].var)] == best)
                return i;
    }
    /* Many variables: count them all (a linear table of them). */
    const ctx_var *var[CTX_UNDO_DEPTH];
    unsigned count[CTX_UNDO_DEPTH], first[CTX_UNDO_DEPTH], nvars = 0;
    for (unsigned i = 0; i < f->nundo; i++) {
        unsigned k = 0;
        while (k < nvars && var[k] != f->undo[i].var)
            k++;
        if (k == nvars) {
            var[k] = f->undo[i].var;
            count[k] = 0;
            first[k] = i;
            nvars++;
        }
        count[k]++;
    }
    unsigned victim = 0, best = 1;
    for (unsigned k = 0; k < nvars; k++) {
        if (count[k] > best || (count[k] == best && best > 1 && first[k] < victim)) {
            best = count[k];
            victim = first[k];
        }
    }
    return victim;
}

/* Remember how to undo a set. When the list is full one record must go
 * (undo_victim): a loop that sets one variable and drops its tokens fills
 * the list with that variable, and nested scopes of a variable keep working
 * as long as older records of it can go first. */
static void undo_push(frame *f, uint64_t serial, const ctx_var *v, ctx__val *old)
{
    if (f->nundo == CTX_UNDO_DEPTH) {
        unsigned victim = undo_victim(f);
        ctx__val_unref(f->undo[victim].old);
        undo_remove(f, victim);
    }
    ctx__val_ref(old);
    f->undo[f->nundo++] = (undo){.serial = serial, .var = v, .old = old};
    var_added(f, v);
}

static ctx_token set_value(ctx_var *v, const ctx__newval *nv)
{
    ctx_token bad = {0};
    tstate *t = v ? tstate_get() : NULL;
    if (!t)
        return bad;
    frame *f = t->top;
    ctx__val *old = ctx__snap_lookup(f->cur, v);
    if (nv || old) {
        ctx_snapshot *s = ctx__snap_with(f->cur, v, NULL, nv);
        if (!s)
            return bad;
        /* Take the undo reference before the old snapshot can drop `old`. */
        uint64_t serial = next_serial(t, 0);
        undo_push(f, serial, v, old);
        ctx_release(f->cur);
        f->cur = s;
        cur_changed(t);
        return (ctx_token){.p_ = v, .serial_ = serial, .frame_ = f->id};
    }
    /* Unsetting what is unset changes nothing, but the token still works. */
    uint64_t serial = next_serial(t, 0);
    undo_push(f, serial, v, NULL);
    return (ctx_token){.p_ = v, .serial_ = serial, .frame_ = f->id};
}

void ctx__set_strs(ctx_var *const *vars, const char *const *strs, unsigned k,
                   ctx_token *tokens)
{
    tstate *t = tstate_get();
    ctx__val *olds[CTX__SET_MAX];
    ctx_snapshot *s =
        t ? ctx__snap_with_strs(t->top->cur, (const ctx_var *const *)vars, strs, k, olds) : NULL;
    if (!s) {
        for (unsigned i = 0; i < k; i++)
            tokens[i] = ctx_set(vars[i], strs[i]);
        return;
    }
    frame *f = t->top;
    for (unsigned i = 0; i < k; i++) {
        /* Undo references taken before the old snapshot can drop them. */
        uint64_t serial = next_serial(t, 0);
        undo_push(f, serial, vars[i], olds[i]);
        tokens[i] = (ctx_token){.p_ = vars[i], .serial_ = serial, .frame_ = f->id};
    }
    ctx_release(f->cur);
    f->cur = s;
    cur_changed(t);
}

ctx_token ctx_set(ctx_var *v, const char *value)
{
    if (!value)
        return set_value(v, NULL);
    ctx__newval nv = {.kind = CTX__STR, .str = value, .len = strlen(value)};
    return set_value(v, &nv);
}

ctx_token ctx_set_i64(ctx_var *v, int64_t value)
{
    ctx__newval nv = {.kind = CTX__I64, .i64 = value};
    return set_value(v, &nv);
}

ctx_token ctx__set_replay(void *ptr, void (*release)(void *ptr), int level)
{
    ctx__newval nv = {.kind = CTX__PTR, .ptr = ptr, .release = release, .i64 = level};
    return set_value(ctx__replay_var(), &nv);
}

ctx_token ctx_set_ptr(ctx_var *v, void *ptr, void (*release)(void *ptr))
{
    ctx__newval nv = {.kind = CTX__PTR, .ptr = ptr, .release = release};
    return set_value(v, &nv);
}

/* Whether a token's serial was made by this thread. */
static int ours(const tstate *t, uint64_t serial)
{
    return (serial & ~(uint64_t)UINT32_MAX) == t->thread_bits;
}

int ctx_reset(ctx_token tok)
{
    if (!tok.p_ || !tok.serial_ || (tok.serial_ & 1))
        return CTXLOG_EINVAL;
    tstate *t = tls;
    if (!t || !ours(t, tok.serial_) || t->top->id != tok.frame_)
        return CTXLOG_ECONTEXT;
    frame *f = t->top;
    unsigned i = f->nundo;
    while (i > 0 && f->undo[i - 1].serial != tok.serial_)
        i--;
    if (i == 0)
        return CTXLOG_ESTALE;
    undo *u = &f->undo[i - 1];
    if (ctx__snap_lookup(f->cur, u->var) != u->old) {
        ctx_snapshot *s = ctx__snap_with(f->cur, u->var, u->old, NULL);
        if (!s)
            return CTXLOG_ENOMEM;
        ctx_release(f->cur);
        f->cur = s;
        cur_changed(t);
    }
    ctx__val_unref(u->old);
    undo_remove(f, i - 1);
    return 0;
}

void ctx__scope_exit(ctx_token *t)
{
    (void)ctx_reset(*t);
}

const char *ctx_get(const ctx_var *v)
{
    if (!v)
        return NULL;
    ctx__val *val = ctx__snap_lookup(ctx__current(), v);
    return val ? val->str : NULL;
}

int ctx_get_i64(const ctx_var *v, int64_t *out)
{
    ctx__val *val = v && out ? ctx__snap_lookup(ctx__current(), v) : NULL;
    if (!val || val->kind != CTX__I64)
        return CTXLOG_EINVAL;
    *out = val->i64;
    return 0;
}

void *ctx_get_ptr(const ctx_var *v)
{
    ctx__val *val = v ? ctx__snap_lookup(ctx__current(), v) : NULL;
    return val && val->kind == CTX__PTR ? val->ptr : NULL;
}

ctx_snapshot *ctx_copy(void)
{
    return ctx_retain((ctx_snapshot *)ctx__current());
}

void ctx_run(ctx_snapshot *c, void (*fn)(void *arg), void *arg)
{
    if (!fn)
        return;
    tstate *t = tstate_get();
    if (!t) {
        fn(arg); /* out of memory: run it rather than lose the work */
        return;
    }
    frame f;
    frame_init(&f, ctx_retain(c ? c : &ctx__empty), next_serial(t, 1));
    f.up = t->top;
    t->top = &f;
    cur_changed(t);
    fn(arg);
    assert(tls == t && "ctx_run: fn returned with another context state switched in");
    unwind_to(t, &f);
    t->top = f.up;
    frame_clear(&f);
    cur_changed(t);
}

ctx_token ctx_attach(ctx_snapshot *c)
{
    ctx_token bad = {0};
    tstate *t = tstate_get();
    frame *f = t ? malloc(sizeof *f) : NULL;
    if (!f)
        return bad;
    frame_init(f, ctx_retain(c ? c : &ctx__empty), next_serial(t, 1));
    f->on_heap = 1;
    f->up = t->top;
    t->top = f;
    cur_changed(t);
    return (ctx_token){.p_ = f, .serial_ = f->id, .frame_ = f->up->id};
}

int ctx_detach(ctx_token tok)
{
    if (!tok.p_ || !(tok.serial_ & 1))
        return CTXLOG_EINVAL;
    tstate *t = tls;
    if (!t || !ours(t, tok.serial_))
        return CTXLOG_ECONTEXT;
    if (t->top->id != tok.serial_) {
        for (frame *f = t->top; f; f = f->up)
            if (f->id == tok.serial_)
                return CTXLOG_ECONTEXT; /* not the innermost frame */
        return CTXLOG_ESTALE;
    }
    frame *f = t->top;
    t->top = f->up;
    frame_clear(f);
    free(f);
    cur_changed(t);
    return 0;
}

void ctx__thread_adopt(ctx_snapshot *c)
{
    tstate *t = tstate_get();
    if (!t) {
        ctx_release(c);
        return;
    }
    ctx_release(t->base.cur);
    t->base.cur = c;
    cur_changed(t);
}

/* ---- fibers --------------------------------------------------------------- */

ctx_fiber *ctx_fiber_new(void)
{
    ctx_snapshot *base = ctx_copy();
    tstate *f = tstate_new(base);
    if (!f)
        ctx_release(base);
    return f;
}

/* O(1): a few stores, no lock, no call that can block. The flag is a
 * plain store on either side: a fiber is handed from thread to thread by
 * the scheduler, whose own synchronization orders what the fiber did. */
ctx_fiber *ctx_fiber_switch(ctx_fiber *f)
{
    tstate *prev = cur_fiber;
    if (f == prev)
        return prev;
    if (prev)
        atomic_store_explicit(&prev->on_thread, false, memory_order_release);
    if (f) {
        assert(!atomic_load_explicit(&f->on_thread, memory_order_relaxed) &&
               "ctx_fiber_switch: the fiber is current on another thread");
        atomic_store_explicit(&f->on_thread, true, memory_order_relaxed);
    }
    cur_fiber = f;
    tls = f ? f : own;
    if (tls) {
        cur_changed(tls);
    } else {
        ctx__cur = NULL; /* the thread's own state, not made yet: empty */
        ctx__level_floor = INT_MAX;
        ctx__serial = ctx__empty.serial;
    }
    return prev;
}

int ctx_fiber_free(ctx_fiber *f)
{
    if (!f)
        return 0;
    if (atomic_load_explicit(&f->on_thread, memory_order_acquire))
        return CTXLOG_EBUSY;
    unwind_to(f, &f->base);
    frame_clear(&f->base);
    free(f);
    return 0;
}
