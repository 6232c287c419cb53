/* SPDX-License-Identifier: MIT */
/*
 * The JSON encoder's scalar writer (private, inline): an integer, a
 * boolean, NULL, or a short string with nothing to escape. The encoder
 * (fmt_json.c put_value) writes every such value with it, and the line
 * cache (fmt_json_line.c) writes values with it, so both write the same
 * bytes. Any other value is the encoder's general case.
 */
#ifndef CTXLOG_FMT_JSON_SCALAR_H
#define CTXLOG_FMT_JSON_SCALAR_H

#include "formatters/fmt_json_plain.h"
#include "formatters/fmt_record.h"

/* Longest string value the scalar writer takes. */
#define FMT_SCALAR_STR_MAX 128

/* The most bytes fmt_scalar_write writes. */
#define FMT_SCALAR_ROOM (FMT_SCALAR_STR_MAX + 2)

/* Write f's value at o, which has room for FMT_SCALAR_ROOM bytes; returns
 * the end, or NULL when it is not a value for the scalar writer (o's bytes
 * are then undefined). */
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
        return fmt_plain_string_put(o, (const unsigned char *)f->v.s, sl);
    }
    default:
        return NULL; /* reals, JSON values, unknown types */
    }
}

#endif /* CTXLOG_FMT_JSON_SCALAR_H */
