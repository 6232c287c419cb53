/* SPDX-License-Identifier: MIT */
/* ctx_bind: a callback that carries the context it was made in, for foreign
 * thread pools and event loops. */
#include "ctx/ctx_internal.h"

#include <stdlib.h>

struct ctx_bound {
    void (*fn)(void *arg);
    void *arg;
    ctx_snapshot *ctx;
};

ctx_bound *ctx_bind(void (*fn)(void *arg), void *arg)
{
    if (!fn)
        return NULL;
    ctx_bound *b = malloc(sizeof *b);
    if (!b)
        return NULL;
    *b = (ctx_bound){.fn = fn, .arg = arg, .ctx = ctx_copy()};
    return b;
}

void ctx_bound_call(void *bound)
{
    ctx_bound *b = bound;
    if (b)
        ctx_run(b->ctx, b->fn, b->arg);
}

void ctx_bound_run(void *bound)
{
    ctx_bound_call(bound);
    ctx_bound_free(bound);
}

void ctx_bound_free(ctx_bound *b)
{
    if (!b)
        return;
    ctx_release(b->ctx);
    free(b);
}
