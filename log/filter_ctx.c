/* SPDX-License-Identifier: MIT */
/* The context filter: the pipeline's first stage. It stamps every logged
 * variable set in the caller's current context on the record, in the
 * snapshot's order (request_id, user_id, tenant_id, then the application's
 * own in declaration order). The fields of the last snapshot seen are kept
 * in the thread's scratch and reused while that snapshot stays current
 * (filter_ctx.h). */
#include "log/filter_ctx.h"

#include <stdlib.h>

size_t log__ctx_fields(const ctx_snapshot *s, log_field *out, uint32_t *key_len,
                       uint32_t *str_len, size_t cap)
{
    size_t n = 0;
    for (unsigned i = 0; i < s->n; i++) {
        const ctx__ent *e = &s->ent[i];
        if (!(e->var->flags & CTX_VAR_LOGGED) || e->val->kind == CTX__PTR)
            continue; /* pointers are never logged */
        if (n < cap) {
            if (e->val->kind == CTX__STR)
                out[n] = LOG_STR(e->var->name, e->val->str);
            else
                out[n] = LOG_I64(e->var->name, e->val->i64);
            if (key_len) {
                key_len[n] = (uint32_t)e->var->name_len;
                str_len[n] = e->val->kind == CTX__STR ? (uint32_t)e->val->len : 0;
            }
        }
        n++;
    }
    return n;
}

int log__filter_ctx_rebuild(log__scratch *sc, const ctx_snapshot *s)
{
    if (s->n > sc->ctx_cap) {
        log_field *grown = realloc(sc->ctx, s->n * sizeof *grown);
        if (!grown)
            return -1;
        sc->ctx = grown;
        sc->ctx_cap = s->n;
    }
    sc->ctx_n = log__ctx_fields(s, sc->ctx, NULL, NULL, sc->ctx_cap);
    sc->ctx_serial = s->serial;
    return 0;
}

log_filter_result log__filter_ctx(log_record *rec, void *payload)
{
    (void)payload;
    log__stamp_ctx(rec, rec->priv_);
    return LOG_FILTER_KEEP;
}
