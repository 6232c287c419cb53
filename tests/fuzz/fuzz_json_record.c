/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the JSON formatter: any bytes become a record, the
 * record is formatted, and the shared checker parses the line back and
 * compares it with an independent reference. A mismatch aborts.
 *
 * Input layout: byte 0 picks level, flags and time; byte 1 picks the field
 * type, the context key and whether the field is repeated; the rest is split
 * at NUL bytes into field key, field value, context value and msg (the msg
 * takes the remainder, NULs included).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "formatters/fmt_json.h"
#include "fuzz/json_record_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reused like the library reuses its buffers: steady state, no prefix reset. */
static fmt_buf buf;

/* Next NUL-delimited part as a C string (malloc'd); moves data and size on. */
static char *take_part(const uint8_t **data, size_t *size)
{
    const uint8_t *end = memchr(*data, 0, *size);
    size_t len = end ? (size_t)(end - *data) : *size;
    char *s = malloc(len + 1);
    if (!s)
        abort();
    memcpy(s, *data, len);
    s[len] = 0;
    *data += end ? len + 1 : len;
    *size -= end ? len + 1 : len;
    return s;
}

/*
 * Logger names the harness vouches for. check_fast_path() hands the
 * record's logger to the formatter in a hint (fmt_ctx_hint.logger), whose
 * contract is a string that lives and stays the same as long as the
 * process: the formatter keeps the pointer and compares it with later
 * records' instead of their bytes. A name freed after its iteration could
 * come back from malloc at the same address with other bytes. So each
 * distinct name is copied once into this table and never freed (the table
 * keeps it reachable). A long run that fills the table gets the fixed name
 * for new names instead; the content of the names is covered by then.
 */
#define NAME_SLOTS (1u << 16)        /* a power of two */
#define NAME_MAX_COUNT (NAME_SLOTS / 2) /* open addressing stays half empty */
#define NAME_MAX_BYTES (32u << 20)
static const char *names[NAME_SLOTS];
static size_t names_count, names_bytes;

static const char *intern_name(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        h = (h ^ *p) * 16777619u;
    size_t len = strlen(s);
    for (uint32_t i = h & (NAME_SLOTS - 1);; i = (i + 1) & (NAME_SLOTS - 1)) {
        if (!names[i]) {
            if (names_count == NAME_MAX_COUNT || names_bytes + len + 1 > NAME_MAX_BYTES)
                return "app.fuzz";
            char *copy = strdup(s);
            if (!copy)
                abort();
            names[i] = copy;
            names_count++;
            names_bytes += len + 1;
            return copy;
        }
        if (strcmp(names[i], s) == 0)
            return names[i];
    }
}

static json_t *make_json(const char *v)
{
    size_t len = strlen(v);
    switch (v[0]) {
    case 'n': /* a string jansson never checked */
        return json_stringn_nocheck(v + 1, len - 1);
    case 'k': { /* a key jansson never checked */
        json_t *o = json_object();
        if (o)
            json_object_set_new_nocheck(o, v + 1, json_true());
        return o;
    }
    default:
        return json_loadb(v, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const time_t times[] = {1795428000, 0, -1, 253402300800LL, -62167219201LL,
                                   1709251199, 4102444800LL, 951782400};
    uint8_t b0 = size > 0 ? data[0] : 0;
    uint8_t b1 = size > 1 ? data[1] : 0;
    data += size > 2 ? 2 : size;
    size -= size > 2 ? 2 : size;

    char *key = take_part(&data, &size);
    char *val = take_part(&data, &size);
    char *ctxval = take_part(&data, &size);
    const char *msg = (const char *)data; /* remainder, any bytes */

    log_record r = {
        .level = (log_level)(b0 & 7), /* 6 and 7: out of range */
        .time = {.tv_sec = times[(b0 >> 5) & 7], .tv_nsec = (long)(b1 * 3921568L)},
        .logger = (b1 & 0x80) ? intern_name(key) : "app.fuzz",
        .msg = size ? msg : NULL,
        .msg_len = size,
        .file = (b0 & 0x08) ? val : NULL,
        .line = (int)b1 - 100,
        .func = (b1 & 0x40) ? NULL : "fuzz",
        .thread_id = -(long)b0,
    };
    unsigned flags = (b0 & 0x08 ? FMT_JSON_CALLSITE : 0) | (b0 & 0x10 ? FMT_JSON_THREAD : 0);

    log_field f[2];
    json_t *j = NULL;
    int64_t i64 = 0;
    double f64 = 0;
    memcpy(&i64, val, strlen(val) < 8 ? strlen(val) : 8);
    memcpy(&f64, &i64, sizeof f64); /* every bit pattern: NaN, inf, subnormal */
    switch (b1 % 6) {
    case 0: f[0] = LOG_STR(key, val); break;
    case 1: f[0] = LOG_I64(key, i64); break;
    case 2: f[0] = LOG_U64(key, (uint64_t)i64); break;
    case 3: f[0] = LOG_F64(key, f64); break;
    case 4: f[0] = LOG_BOOL(key, strlen(val) & 1); break;
    default: j = make_json(val); f[0] = LOG_JSON(key, j); break;
    }
    f[1] = LOG_STR(key, ctxval); /* the same key again: renamed */

    /* Context key: a logged variable, the field's own key, or a core key. */
    static const char *const ctx_keys[] = {"request_id", NULL, "msg", "ctx.msg"};
    const char *ck = ctx_keys[(b1 >> 3) & 3];
    log_field ctx[] = {LOG_STR(ck ? ck : key, ctxval)};
    r.ctx_fields = ctx;
    r.n_ctx_fields = 1;
    r.fields = f;
    r.n_fields = (b1 & 0x20) ? 2 : 1;

    char err[4096];
    if (buf.len > (1u << 20))
        fmt_buf_clear(&buf);
    if (jrc_check_record(&r, flags, &buf, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_json_record: %s\n", err);
        abort();
    }

    json_decref(j);
    free(key);
    free(val);
    free(ctxval);
    return 0;
}
