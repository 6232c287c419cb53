/* Immutable snapshots and the blocks that hold them (see ctx_internal.h). */
#include "ctx/ctx_internal.h"

#include <assert.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ctx_snapshot ctx__empty = {.n = 0, .floor = INT_MAX, .serial = 1};
static atomic_uint_fast64_t next_serial = 2;

static void blk_unref(ctx__blk *b, ctx__val *val)
{
    if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (val && val->kind == CTX__PTR && val->release)
        val->release(val->ptr);
    free(b);
}

/* The value stored inline in a block, if any: it sits right after the
 * snapshot's entries. */
static ctx__val *blk_val(ctx_snapshot *s)
{
    ctx__val *v = (ctx__val *)(void *)&s->ent[s->n];
    return v->blk == s->blk ? v : NULL;
}

void ctx__val_ref(ctx__val *val)
{
    if (val)
        atomic_fetch_add_explicit(&val->blk->refs, 1, memory_order_relaxed);
}

void ctx__val_unref(ctx__val *val)
{
    if (!val)
        return;
    /* The block starts with ctx__blk and then the snapshot. */
    blk_unref(val->blk, val);
}

ctx_snapshot *ctx_retain(ctx_snapshot *c)
{
    if (c && c != &ctx__empty)
        atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    return c;
}

#ifndef NDEBUG
/* A release with no reference left to give back. Seen only while the
 * snapshot's memory is still there (its block kept alive by values other
 * snapshots share); once freed, nothing can be read safely. The caller's
 * accounting is wrong and a later release would free memory in use, so
 * Debug builds stop here, where the error is, rather than at that crash. */
static void over_released(void)
{
    fputs("ctx_release: snapshot released more often than retained\n", stderr);
    fflush(stderr); /* abort() writes out no buffer */
    abort();
}
#endif

void ctx_release(ctx_snapshot *c)
{
    if (!c || c == &ctx__empty)
        return;
    unsigned held = atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel);
#ifndef NDEBUG
    if (held == 0)
        over_released();
#endif
    if (held != 1)
        return;
    ctx__blk *b = c->blk;
    ctx__val *own = blk_val(c);
    for (unsigned i = 0; i < c->n; i++)
        ctx__val_unref(c->ent[i].val);
    /* The snapshot's own hold on its block; the inline value may live on. */
    blk_unref(b, own);
}

ctx__val *ctx__snap_lookup(const ctx_snapshot *s, const ctx_var *v)
{
    for (unsigned i = 0; i < s->n; i++) {
        if (s->ent[i].var == v)
            return s->ent[i].val;
        if (s->ent[i].var->id > v->id)
            break;
    }
    return NULL;
}

/* A block of `size` bytes for a snapshot of n entries derived from base:
 * the block's and the snapshot's first reference, a fresh serial, base's
 * level floor, and the first value slot (at val_off) marked as holding no
 * value yet (see blk_val). The caller fills the entries and values. NULL
 * when out of memory. */
static char *snap_alloc(const ctx_snapshot *base, unsigned n, size_t snap_off, size_t val_off,
                        size_t size)
{
    char *mem = malloc(size);
    if (!mem)
        return NULL;
    ctx__blk *b = (ctx__blk *)(void *)mem;
    ctx_snapshot *s = (ctx_snapshot *)(void *)(mem + snap_off);
    atomic_init(&b->refs, 1); /* the snapshot's hold */
    atomic_init(&s->refs, 1);
    s->blk = b;
    s->n = n;
    s->floor = base->floor;
    s->serial = atomic_fetch_add_explicit(&next_serial, 1, memory_order_relaxed);
    ((ctx__val *)(void *)(mem + val_off))->blk = NULL;
    return mem;
}

/* The level from which records reach the core: the level floor's, or the
 * replay variable's level when lower. */
static int snap_floor(const ctx_snapshot *s)
{
    const ctx__val *lvl = ctx__snap_lookup(s, ctx__floor_var());
    const ctx__val *keep = ctx__snap_lookup(s, ctx__replay_var());
    int floor = lvl && lvl->kind == CTX__I64 ? (int)lvl->i64 : INT_MAX;
    if (keep && keep->kind == CTX__PTR && (int)keep->i64 < floor)
        floor = (int)keep->i64;
    return floor;
}

#define ALIGN_UP(x, a) (((x) + (a)-1) & ~((size_t)(a)-1))

ctx_snapshot *ctx__snap_with(const ctx_snapshot *base, const ctx_var *v, ctx__val *val,
                             const ctx__newval *nv)
{
    /* Where v goes in the sorted entries, and whether it is there already. */
    unsigned pos = 0;
    while (pos < base->n && base->ent[pos].var->id < v->id)
        pos++;
    int present = pos < base->n && base->ent[pos].var == v;
    int setting = nv != NULL || val != NULL;
    unsigned n = base->n + (setting && !present) - (!setting && present);
    /* Nothing left (the usual end of a request): the static empty context,
     * so that a thread outside any request holds no block. */
    if (n == 0 && (v == ctx__floor_var() || base->floor == INT_MAX))
        return &ctx__empty;

    char i64buf[24];
    const char *text = NULL;
    size_t text_len = 0;
    if (nv && nv->kind == CTX__STR) {
        text = nv->str;
        text_len = nv->len;
    } else if (nv && nv->kind == CTX__I64) {
        text_len = (size_t)snprintf(i64buf, sizeof i64buf, "%" PRId64, nv->i64);
        text = i64buf;
    }

    size_t snap_off = ALIGN_UP(sizeof(ctx__blk), _Alignof(ctx_snapshot));
    size_t val_off = ALIGN_UP(snap_off + sizeof(ctx_snapshot) + n * sizeof(ctx__ent),
                              _Alignof(ctx__val));
    size_t str_off = val_off + sizeof(ctx__val);
    size_t size = nv ? str_off + (text ? text_len + 1 : 0) : val_off + sizeof(ctx__val);
    if (nv && text_len > SIZE_MAX - str_off - 1)
        return NULL;

    char *mem = snap_alloc(base, n, snap_off, val_off, size);
    if (!mem)
        return NULL;
    ctx__blk *b = (ctx__blk *)(void *)mem;
    ctx_snapshot *s = (ctx_snapshot *)(void *)(mem + snap_off);
    ctx__val *own = (ctx__val *)(void *)(mem + val_off);

    ctx__val *newv = val;
    if (nv) {
        own->blk = b;
        own->kind = nv->kind;
        own->i64 = nv->i64;
        own->ptr = nv->ptr;
        own->release = nv->release;
        own->len = text_len;
        own->str = NULL;
        if (text) {
            own->str = mem + str_off;
            memcpy(own->str, text, text_len);
            own->str[text_len] = '\0';
        }
        newv = own;
    }

    unsigned o = 0;
    for (unsigned i = 0; i < pos; i++)
        s->ent[o++] = base->ent[i];
    if (newv)
        s->ent[o++] = (ctx__ent){.var = v, .val = newv};
    for (unsigned i = pos + (unsigned)present; i < base->n; i++)
        s->ent[o++] = base->ent[i];
    for (unsigned i = 0; i < n; i++)
        ctx__val_ref(s->ent[i].val);
    if (v == ctx__floor_var() || v == ctx__replay_var())
        s->floor = snap_floor(s);
    return s;
}

ctx_snapshot *ctx__snap_with_strs(const ctx_snapshot *base, const ctx_var *const *vars,
                                  const char *const *strs, unsigned k, ctx__val **olds)
{
    size_t lens[CTX__SET_MAX], text = 0;
    unsigned adds = 0, removes = 0;
    assert(k >= 1 && k <= CTX__SET_MAX);
    /* The current values, in one walk: both lists are sorted by id. */
    unsigned j = 0;
    for (unsigned i = 0; i < base->n && j < k; i++) {
        while (j < k && vars[j]->id < base->ent[i].var->id)
            olds[j++] = NULL;
        if (j < k && vars[j] == base->ent[i].var)
            olds[j++] = base->ent[i].val;
    }
    while (j < k)
        olds[j++] = NULL;
    for (unsigned i = 0; i < k; i++) {
        /* Sorted by id, distinct, never the level floor (its snapshot cache). */
        assert(i == 0 || vars[i - 1]->id < vars[i]->id);
        assert(vars[i] != ctx__floor_var() && vars[i] != ctx__replay_var());
        assert(olds[i] == ctx__snap_lookup(base, vars[i]));
        int present = olds[i] != NULL;
        lens[i] = strs[i] ? strlen(strs[i]) : 0;
        if (strs[i]) {
            if (lens[i] > SIZE_MAX / 2 - text)
                return NULL;
            text += lens[i] + 1;
        }
        adds += strs[i] && !present;
        removes += !strs[i] && present;
    }
    unsigned n = base->n + adds - removes;

    size_t snap_off = ALIGN_UP(sizeof(ctx__blk), _Alignof(ctx_snapshot));
    size_t val_off = ALIGN_UP(snap_off + sizeof(ctx_snapshot) + n * sizeof(ctx__ent),
                              _Alignof(ctx__val));
    /* One value slot at least: blk_val() reads the first as the marker. */
    size_t str_off = val_off + (k ? k : 1) * sizeof(ctx__val);
    char *mem = snap_alloc(base, n, snap_off, val_off, str_off + text);
    if (!mem)
        return NULL;
    ctx__blk *b = (ctx__blk *)(void *)mem;
    ctx_snapshot *snap = (ctx_snapshot *)(void *)(mem + snap_off);
    ctx__val *own = (ctx__val *)(void *)(mem + val_off);

    /* The new values, inline. Strings never need a release, so blk_val()
     * finding the first of them is all the block's release needs. */
    ctx__val *newv[CTX__SET_MAX];
    char *at = mem + str_off;
    unsigned nv = 0;
    for (unsigned i = 0; i < k; i++) {
        newv[i] = NULL;
        if (!strs[i])
            continue;
        ctx__val *v = &own[nv++];
        *v = (ctx__val){.blk = b, .kind = CTX__STR, .len = lens[i], .str = at};
        memcpy(at, strs[i], lens[i] + 1);
        at += lens[i] + 1;
        newv[i] = v;
    }
    if (nv == 0)
        own[0].blk = NULL;

    /* Merge the base's entries with the new ones, both sorted by id. */
    unsigned o = 0;
    j = 0;
    for (unsigned i = 0; i < base->n; i++) {
        const ctx__ent *e = &base->ent[i];
        while (j < k && vars[j]->id < e->var->id) {
            if (newv[j])
                snap->ent[o++] = (ctx__ent){.var = vars[j], .val = newv[j]};
            j++;
        }
        if (j < k && vars[j] == e->var) {
            if (newv[j])
                snap->ent[o++] = (ctx__ent){.var = vars[j], .val = newv[j]};
            j++;
            continue;
        }
        snap->ent[o++] = *e;
    }
    for (; j < k; j++)
        if (newv[j])
            snap->ent[o++] = (ctx__ent){.var = vars[j], .val = newv[j]};
    assert(o == n);
    for (unsigned i = 0; i < n; i++)
        ctx__val_ref(snap->ent[i].val);
    return snap;
}
