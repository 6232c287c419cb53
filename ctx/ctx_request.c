/* SPDX-License-Identifier: MIT */
/* CTX_REQUEST: set the three request ids at a request's entry point, refusing
 * ids that could corrupt a log line or a terminal. */
#include "ctx/ctx_internal.h"

#include <string.h>

int ctx_id_valid(const char *id)
{
    if (!id)
        return 0;
    size_t len = strnlen(id, CTX_ID_MAX + 1);
    return len > 0 && len <= CTX_ID_MAX && ctx__text_clean(id, len);
}

ctx_request ctx_request_begin(const char *request_id, const char *user_id,
                              const char *tenant_id)
{
    char uuid[CTX_UUID_LEN + 1];
    if (!ctx_id_valid(request_id)) {
        ctx_uuid7(uuid);
        request_id = uuid;
    }
    ctx_request r;
    r.request_id_ = ctx_set(CTX_REQUEST_ID, request_id);
    r.user_id_ = ctx_set(CTX_USER_ID, ctx_id_valid(user_id) ? user_id : NULL);
    r.tenant_id_ = ctx_set(CTX_TENANT_ID, ctx_id_valid(tenant_id) ? tenant_id : NULL);
    return r;
}

void ctx_request_end(ctx_request *r)
{
    if (!r)
        return;
    (void)ctx_reset(r->tenant_id_);
    (void)ctx_reset(r->user_id_);
    (void)ctx_reset(r->request_id_);
}
