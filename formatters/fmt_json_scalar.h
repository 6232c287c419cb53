/*
 * A field value the JSON formatter's quick paths write themselves (private,
 * inline): an integer, a boolean, NULL, or a short string with nothing to
 * escape. Any other value is left to the general writer (fmt_json_value),
 * which writes these the same way.
 */
#ifndef CTXLOG_FMT_JSON_SCALAR_H
#define CTXLOG_FMT_JSON_SCALAR_H

#include "formatters/fmt_json_plain.h"
#include "formatters/fmt_record.h"

/* Longest string value the quick paths take. */
#define FMT_SCALAR_STR_MAX 128

/* The most bytes f's value takes, 0 when a quick path cannot write it. Sets
 * *sl to a string value's length. */
static FMT_INLINE size_t fmt_scalar_room(const log_field *f, size_t *sl)
{
    switch (f->type) {
    case LOG_FIELD_I64:
    case LOG_FIELD_U64:
        return 20;
    case LOG_FIELD_BOOL:
        return 5;
    case LOG_FIELD_STR:
        if (!f->v.s)
            return 4;
        *sl = strlen(f->v.s);
        if (*sl > FMT_SCALAR_STR_MAX || !fmt_all_plain((const unsigned char *)f->v.s, *sl))
            return 0;
        return *sl + 2;
    default:
        return 0; /* reals, JSON values, unknown types */
    }
}

/* Write f's value at o (fmt_scalar_room said it fits; sl as it set it);
 * returns the end. */
static FMT_INLINE char *fmt_scalar_put(char *o, const log_field *f, size_t sl)
{
    switch (f->type) {
    case LOG_FIELD_I64:
        return fmt_i64_put(o, f->v.i64);
    case LOG_FIELD_U64:
        return fmt_u64_put(o, f->v.u64);
    case LOG_FIELD_BOOL:
        if (f->v.b) {
            memcpy(o, "true", 4);
            return o + 4;
        }
        memcpy(o, "false", 5);
        return o + 5;
    default: /* LOG_FIELD_STR */
        if (!f->v.s) {
            memcpy(o, "null", 4);
            return o + 4;
        }
        *o++ = '"';
        fmt_copy_short(o, (const unsigned char *)f->v.s, sl);
        o += sl;
        *o++ = '"';
        return o;
    }
}

#endif /* CTXLOG_FMT_JSON_SCALAR_H */
