/* SPDX-License-Identifier: MIT */
/* What filters may do to a record. */
#include "log/log_internal.h"

int log_record_add_field(log_record *rec, log_field field)
{
    if (!rec || !rec->priv_ || !field.key)
        return CTXLOG_EINVAL;
    log__scratch *sc = rec->priv_;
    /* rec->fields lives in the scratch's array (see log_core.c). */
    if (log__scratch_fields(sc, rec->n_fields + 1) != 0)
        return CTXLOG_ENOMEM;
    rec->fields = sc->fields;
    rec->fields[rec->n_fields++] = field;
    return 0;
}
