/* The context filter: the pipeline's first stage. It stamps every logged
 * variable set in the caller's current context on the record, in the
 * snapshot's order (request_id, user_id, tenant_id, then the application's
 * own in declaration order). The fields of the last snapshot seen are kept
 * in the thread's scratch and reused while that snapshot stays current
 * (snapshot serials are unique in the process). */
#include "log/log_internal.h"

#include <stdlib.h>

#include "ctx/ctx_internal.h"

log_filter_result log__filter_ctx(log_record *rec, void *payload)
{
    (void)payload;
    log__scratch *sc = rec->priv_;
    const ctx_snapshot *s = ctx__current();
    /* The same snapshot as this thread's previous record: its fields are
     * still in sc->ctx (records cannot change them: they are const). */
    if (!s->serial || s->serial != sc->ctx_serial) {
        if (s->n > sc->ctx_cap) {
            log_field *grown = realloc(sc->ctx, s->n * sizeof *grown);
            if (!grown)
                return LOG_FILTER_KEEP; /* out of memory: the record goes without context */
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
    }
    rec->ctx_fields = sc->ctx;
    rec->n_ctx_fields = sc->ctx_n;
    sc->hint.serial = s->serial;
    sc->hint.fields = sc->ctx;
    sc->hint.n = sc->ctx_n;
    return LOG_FILTER_KEEP;
}
