/* SPDX-License-Identifier: MIT */
/*
 * The context filter's common case, inline (private): the same context
 * snapshot as the thread's previous record, whose fields are still in the
 * thread's scratch. filter_ctx.c has the rest.
 */
#ifndef CTXLOG_FILTER_CTX_H
#define CTXLOG_FILTER_CTX_H

#include "ctx/ctx_internal.h"
#include "log/log_internal.h"

/* The context filter's fields of snapshot s, in its order, into
 * out[0, cap), with their keys' and strings' lengths (when key_len is not
 * NULL; str_len 0 for an integer): the one place that decides which of a
 * context's variables a record carries, and how. Returns how many there
 * are, which may be more than cap (only cap written). */
size_t log__ctx_fields(const ctx_snapshot *s, log_field *out, uint32_t *key_len,
                       uint32_t *str_len, size_t cap);

/* Rebuild sc's context fields from snapshot s (filter_ctx.c). Returns -1
 * when out of memory (the record then goes without context). */
int log__filter_ctx_rebuild(log__scratch *sc, const ctx_snapshot *s);

/* Stamp the calling thread's context fields on rec (whose priv_ is sc). */
static inline void log__stamp_ctx(log_record *rec, log__scratch *sc)
{
    const ctx_snapshot *s = ctx__current();
    /* Snapshot serials are unique in the process: the same serial, the same
     * fields (records cannot change them: they are const). */
    if ((!s->serial || s->serial != sc->ctx_serial) && log__filter_ctx_rebuild(sc, s) != 0)
        return;
    rec->ctx_fields = sc->ctx;
    rec->n_ctx_fields = sc->ctx_n;
    sc->hint.serial = s->serial;
    sc->hint.fields = sc->ctx;
    sc->hint.n = sc->ctx_n;
}

#endif /* CTXLOG_FILTER_CTX_H */
