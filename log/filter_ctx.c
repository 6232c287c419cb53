/* The context filter: stamps every logged variable set in the caller's
 * current context on the record, in the snapshot's order (request_id,
 * user_id, tenant_id, then others in declaration order). */
#include "log/log_internal.h"

#include <stdlib.h>

#include "ctx/ctx_internal.h"

size_t log__filter_ctx(const ctx_snapshot *s, log_field **out, size_t *cap)
{
    if (s->n > *cap) {
        log_field *grown = realloc(*out, s->n * sizeof **out);
        if (!grown)
            return 0; /* out of memory: the record goes out without context */
        *out = grown;
        *cap = s->n;
    }
    size_t n = 0;
    for (unsigned i = 0; i < s->n; i++) {
        const ctx__ent *e = &s->ent[i];
        if (!(e->var->flags & CTX_VAR_LOGGED))
            continue;
        if (e->val->kind == CTX__STR)
            (*out)[n++] = LOG_STR(e->var->name, e->val->str);
        else if (e->val->kind == CTX__I64)
            (*out)[n++] = LOG_I64(e->var->name, e->val->i64);
        /* pointers are never logged */
    }
    return n;
}
