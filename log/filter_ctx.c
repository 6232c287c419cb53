/* SPDX-License-Identifier: MIT */
/* The context filter: the pipeline's first stage. It stamps every logged
 * variable set in the caller's current context on the record, in the
 * snapshot's order (request_id, user_id, tenant_id, then the application's
 * own in declaration order). The fields of the last snapshot seen are kept
 * in the thread's scratch and reused while that snapshot stays current
 * (filter_ctx.h). */
#include "log/filter_ctx.h"

#include <stdlib.h>

int log__filter_ctx_rebuild(log__scratch *sc, const ctx_snapshot *s)
{
    if (s->n > sc->ctx_cap) {
        log_field *grown = realloc(sc->ctx, s->n * sizeof *grown);
        if (!grown)
            return -1;
        sc->ctx = grown;
        sc->ctx_cap = s->n;
    }
    size_t n = 0;
    for (unsigned i = 0; i < s->n; i++) {
        const ctx__ent *e = &s->ent[i];
        if (!(e->var->flags & CTX_VAR_LOGGED))
            continue;
        if (e->val->kind == CTX__STR)
            sc->ctx[n++] = LOG_STR(e->var->name, e->val->str);
        else if (e->val->kind == CTX__I64)
            sc->ctx[n++] = LOG_I64(e->var->name, e->val->i64);
        /* pointers are never logged */
    }
    sc->ctx_serial = s->serial;
    sc->ctx_n = n;
    return 0;
}

log_filter_result log__filter_ctx(log_record *rec, void *payload)
{
    (void)payload;
    log__stamp_ctx(rec, rec->priv_);
    return LOG_FILTER_KEEP;
}
