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

/* The most bytes fmt_scalar_write writes. */
#define FMT_SCALAR_ROOM (FMT_SCALAR_STR_MAX + 2)

/* Write f's value at o, which has room for FMT_SCALAR_ROOM bytes; returns
 * the end, or NULL when a quick path cannot write it (o's bytes are then
 * undefined). */
static FMT_INLINE char *fmt_scalar_write(char *o, const log_field *f)
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
    case LOG_FIELD_STR: {
        if (!f->v.s) {
            memcpy(o, "null", 4);
            return o + 4;
        }
        size_t sl = strlen(f->v.s);
        if (sl > FMT_SCALAR_STR_MAX || !fmt_all_plain((const unsigned char *)f->v.s, sl))
            return NULL;
        *o++ = '"';
        fmt_copy_short(o, (const unsigned char *)f->v.s, sl);
        o += sl;
        *o++ = '"';
        return o;
    }
    default:
        return NULL; /* reals, JSON values, unknown types */
    }
}

#endif /* CTXLOG_FMT_JSON_SCALAR_H */
