/* SPDX-License-Identifier: MIT */
/* W3C Trace Context (SPEC section 8): the `traceparent` header read at a
 * request's entry point, the trace variables it sets, child spans, and the
 * header written for an outgoing call.
 *
 * A traceparent is `vv-<trace-id>-<parent-id>-<flags>`; the offsets below
 * are those of every version's first four fields. The header is hostile
 * input: it is checked in place, at most CTX_TRACEPARENT_LEN + 1 bytes of it
 * are read, and nothing is copied out of it before it has passed. */
#include "ctx/ctx_internal.h"

#include <assert.h>
#include <string.h>

enum {
    TP_TRACE = 3,                         /* trace-id: 32 hex */
    TP_PARENT = TP_TRACE + CTX_TRACE_ID_LEN + 1, /* parent-id: 16 hex */
    TP_FLAGS = TP_PARENT + CTX_SPAN_ID_LEN + 1,  /* flags: 2 hex */
};
_Static_assert(TP_FLAGS + 2 == CTX_TRACEPARENT_LEN, "traceparent layout");

static const char hexdigits[] = "0123456789abcdef";

/* Lower-case hex only: the recommendation rejects upper case. */
static const unsigned char is_hex[256] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
};

static int all_hex(const char *s, size_t n)
{
    unsigned ok = 1;
    for (size_t i = 0; i < n; i++)
        ok &= is_hex[(unsigned char)s[i]];
    return (int)ok;
}

static int all_zero(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != '0')
            return 0;
    return 1;
}

/* Whether trace/span/flags (NUL-terminated, maybe NULL) form the fields of a
 * valid header. */
static int ids_ok(const char *trace, const char *span, const char *flags)
{
    return trace && span && flags && strlen(trace) == CTX_TRACE_ID_LEN &&
           strlen(span) == CTX_SPAN_ID_LEN && strlen(flags) == 2 &&
           all_hex(trace, CTX_TRACE_ID_LEN) && !all_zero(trace, CTX_TRACE_ID_LEN) &&
           all_hex(span, CTX_SPAN_ID_LEN) && !all_zero(span, CTX_SPAN_ID_LEN) &&
           all_hex(flags, 2);
}

int ctx_traceparent_valid(const char *h)
{
    if (!h)
        return 0;
    /* A 1 MiB header costs what a 56-byte one does. */
    size_t len = strnlen(h, CTX_TRACEPARENT_LEN + 1);
    if (len < CTX_TRACEPARENT_LEN || !is_hex[(unsigned char)h[0]] ||
        !is_hex[(unsigned char)h[1]] || (h[0] == 'f' && h[1] == 'f'))
        return 0;
    if (h[0] == '0' && h[1] == '0') {
        if (len != CTX_TRACEPARENT_LEN) /* nothing after the flags */
            return 0;
    } else if (len > CTX_TRACEPARENT_LEN && h[CTX_TRACEPARENT_LEN] != '-') {
        return 0; /* a later version may add fields, each after a '-' */
    }
    return h[2] == '-' && h[TP_PARENT - 1] == '-' && h[TP_FLAGS - 1] == '-' &&
           all_hex(h + TP_TRACE, CTX_TRACE_ID_LEN) && !all_zero(h + TP_TRACE, CTX_TRACE_ID_LEN) &&
           all_hex(h + TP_PARENT, CTX_SPAN_ID_LEN) && !all_zero(h + TP_PARENT, CTX_SPAN_ID_LEN) &&
           all_hex(h + TP_FLAGS, 2);
}

static void put_hex64(char *out, uint64_t v)
{
    for (int i = 15; i >= 0; i--, v >>= 4)
        out[i] = hexdigits[v & 15];
}

/* A random non-zero id of `words` 64-bit words as hex, NUL-terminated. */
static void random_id(char *out, int words)
{
    uint64_t w[2];
    assert(words == 1 || words == 2);
    do {
        w[0] = ctx__random64();
        w[1] = words == 2 ? ctx__random64() : 0;
    } while (w[0] == 0 && w[1] == 0);
    for (int i = 0; i < words; i++)
        put_hex64(out + 16 * i, w[i]);
    out[16 * words] = '\0';
}

/* Set the four variables (NULL: unset for the scope) with one new
 * snapshot; ctx_trace_end() undoes them one by one. */
static ctx_trace set_trace(const char *trace, const char *flags, const char *span,
                           const char *parent)
{
    /* One new snapshot for the four (declaration order: trace_id, span_id,
     * trace_flags, parent_span_id). */
    ctx_var *const vars[4] = {CTX_TRACE_ID, CTX_SPAN_ID, CTX_TRACE_FLAGS, CTX_PARENT_SPAN_ID};
    const char *const strs[4] = {trace, span, flags, parent};
    ctx_token tok[4];
    ctx__set_strs(vars, strs, 4, tok);
    ctx_trace t;
    t.trace_id_ = tok[0];
    t.span_id_ = tok[1];
    t.trace_flags_ = tok[2];
    t.parent_span_id_ = tok[3];
    return t;
}

ctx_trace ctx_trace_begin(const char *traceparent)
{
    char trace[CTX_TRACE_ID_LEN + 1], parent[CTX_SPAN_ID_LEN + 1], span[CTX_SPAN_ID_LEN + 1];
    char flags[3];
    const char *from = NULL;

    if (ctx_traceparent_valid(traceparent)) {
        memcpy(trace, traceparent + TP_TRACE, CTX_TRACE_ID_LEN);
        trace[CTX_TRACE_ID_LEN] = '\0';
        memcpy(parent, traceparent + TP_PARENT, CTX_SPAN_ID_LEN);
        parent[CTX_SPAN_ID_LEN] = '\0';
        memcpy(flags, traceparent + TP_FLAGS, 2);
        flags[2] = '\0';
        from = parent;
    } else {
        random_id(trace, 2);
        memcpy(flags, "01", 3);
    }
    random_id(span, 1);
    assert(ids_ok(trace, span, flags));
    return set_trace(trace, flags, span, from);
}

ctx_trace ctx_span_begin(void)
{
    const char *trace = ctx_get(CTX_TRACE_ID), *cur = ctx_get(CTX_SPAN_ID);
    if (!ids_ok(trace, cur, ctx_get(CTX_TRACE_FLAGS)))
        return ctx_trace_begin(NULL);

    /* The enclosing span becomes the parent; copied first, since setting
     * span_id may end the life of the string ctx_get returned. */
    char parent[CTX_SPAN_ID_LEN + 1], span[CTX_SPAN_ID_LEN + 1];
    memcpy(parent, cur, sizeof parent);
    do
        random_id(span, 1);
    while (memcmp(span, parent, CTX_SPAN_ID_LEN) == 0);

    ctx_var *const vars[2] = {CTX_SPAN_ID, CTX_PARENT_SPAN_ID};
    const char *const strs[2] = {span, parent};
    ctx_token tok[2];
    ctx__set_strs(vars, strs, 2, tok);
    ctx_trace t;
    memset(&t, 0, sizeof t); /* trace_id and flags stay: their tokens do nothing */
    t.span_id_ = tok[0];
    t.parent_span_id_ = tok[1];
    return t;
}

void ctx_trace_end(ctx_trace *t)
{
    if (!t)
        return;
    /* A token that was never made (a child span's trace_id) is refused
     * with CTXLOG_EINVAL and changes nothing. */
    (void)ctx_reset(t->parent_span_id_);
    (void)ctx_reset(t->span_id_);
    (void)ctx_reset(t->trace_flags_);
    (void)ctx_reset(t->trace_id_);
}

int ctx_traceparent(char out[CTX_TRACEPARENT_LEN + 1])
{
    if (!out)
        return CTXLOG_EINVAL;
    const char *trace = ctx_get(CTX_TRACE_ID), *span = ctx_get(CTX_SPAN_ID);
    const char *flags = ctx_get(CTX_TRACE_FLAGS);
    if (!ids_ok(trace, span, flags)) {
        out[0] = '\0';
        return CTXLOG_ESTATE;
    }
    memcpy(out, "00-", 3);
    memcpy(out + TP_TRACE, trace, CTX_TRACE_ID_LEN);
    out[TP_PARENT - 1] = '-';
    memcpy(out + TP_PARENT, span, CTX_SPAN_ID_LEN);
    out[TP_FLAGS - 1] = '-';
    memcpy(out + TP_FLAGS, flags, 2);
    out[CTX_TRACEPARENT_LEN] = '\0';
    assert(ctx_traceparent_valid(out));
    return 0;
}

ctx_request_traced ctx_request_traced_begin(const char *request_id, const char *user_id,
                                            const char *tenant_id, const char *traceparent)
{
    ctx_request_traced r;
    r.request_ = ctx_request_begin(request_id, user_id, tenant_id);
    r.trace_ = ctx_trace_begin(traceparent);
    return r;
}

void ctx_request_traced_end(ctx_request_traced *r)
{
    if (!r)
        return;
    ctx_trace_end(&r->trace_);
    ctx_request_end(&r->request_);
}
