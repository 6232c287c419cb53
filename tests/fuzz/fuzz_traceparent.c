/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the traceparent parser (ctx/ctx_trace.c): any bytes
 * are an incoming header. Checks, aborting on a violation:
 *   - ctx_traceparent_valid() agrees with an independent reference written
 *     here from the W3C rules (fields split at '-', not fixed offsets);
 *   - after ctx_trace_begin() the ids are lower-case hex of the right length
 *     and not all zero, the flags two lower-case hex digits;
 *   - an accepted header is continued (its trace-id, flags and parent-id),
 *     a refused one starts a new trace with flags 01 and no parent, and no
 *     id of it is kept;
 *   - the outgoing header is valid and round-trips: continued by a callee,
 *     it gives the same trace and flags, with our span as the parent;
 *   - ctx_trace_end() leaves nothing set.
 * Input: the whole input is the header; a NUL in it ends the C string, as
 * it would for a header value handed over as one.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ctxlog/ctx.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "fuzz_traceparent: %s failed (line %d)\n", #cond, __LINE__); \
            abort();                                                                    \
        }                                                                               \
    } while (0)

static int is_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strchr("0123456789abcdef", s[i]) || s[i] == '\0')
            return 0;
    return 1;
}

static int nonzero(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != '0')
            return 1;
    return 0;
}

/* A value of the right shape: n lower-case hex digits, then the end. */
static int id_ok(const char *s, size_t n, int need_nonzero)
{
    return s && strlen(s) == n && is_lower_hex(s, n) && (!need_nonzero || nonzero(s, n));
}

/* The reference: split at '-' and apply the recommendation field by field. */
static int reference_valid(const char *h)
{
    const char *field[5];
    size_t len[5];
    int n = 0;
    const char *p = h;
    while (n < 5) {
        const char *dash = strchr(p, '-');
        field[n] = p;
        len[n] = dash ? (size_t)(dash - p) : strlen(p);
        n++;
        if (!dash)
            break;
        p = dash + 1;
    }
    if (n < 4 || len[0] != 2 || !is_lower_hex(field[0], 2) || memcmp(field[0], "ff", 2) == 0)
        return 0;
    int v00 = memcmp(field[0], "00", 2) == 0;
    if (v00 && n != 4)
        return 0; /* nothing after the flags, not even a dash */
    /* A later version: the flags field ends at a dash or at the end. */
    return len[1] == 32 && is_lower_hex(field[1], 32) && nonzero(field[1], 32) &&
           len[2] == 16 && is_lower_hex(field[2], 16) && nonzero(field[2], 16) &&
           len[3] == 2 && is_lower_hex(field[3], 2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *h = malloc(size + 1);
    if (!h)
        return 0;
    memcpy(h, data, size);
    h[size] = '\0';

    int valid = ctx_traceparent_valid(h);
    CHECK(valid == 0 || valid == 1);
    CHECK(valid == reference_valid(h));

    ctx_trace t = ctx_trace_begin(h);
    const char *trace = ctx_get(CTX_TRACE_ID), *span = ctx_get(CTX_SPAN_ID);
    const char *flags = ctx_get(CTX_TRACE_FLAGS), *parent = ctx_get(CTX_PARENT_SPAN_ID);
    CHECK(id_ok(trace, CTX_TRACE_ID_LEN, 1));
    CHECK(id_ok(span, CTX_SPAN_ID_LEN, 1));
    CHECK(id_ok(flags, 2, 0));
    if (valid) {
        CHECK(memcmp(trace, h + 3, 32) == 0);
        CHECK(id_ok(parent, CTX_SPAN_ID_LEN, 1) && memcmp(parent, h + 36, 16) == 0);
        CHECK(memcmp(flags, h + 53, 2) == 0);
        CHECK(strcmp(span, parent) != 0);
    } else {
        CHECK(parent == NULL);
        CHECK(strcmp(flags, "01") == 0);
        CHECK(size < 35 || memcmp(trace, h + 3, 32) != 0);
    }

    char out[CTX_TRACEPARENT_LEN + 1];
    CHECK(ctx_traceparent(out) == 0);
    CHECK(strlen(out) == CTX_TRACEPARENT_LEN && ctx_traceparent_valid(out) && reference_valid(out));
    CHECK(memcmp(out, "00-", 3) == 0 && memcmp(out + 3, trace, 32) == 0 &&
          memcmp(out + 36, span, 16) == 0 && memcmp(out + 53, flags, 2) == 0);

    /* The callee's side of the same header. */
    char mine[CTX_SPAN_ID_LEN + 1], my_trace[CTX_TRACE_ID_LEN + 1], my_flags[3];
    memcpy(mine, span, sizeof mine);
    memcpy(my_trace, trace, sizeof my_trace);
    memcpy(my_flags, flags, sizeof my_flags);
    ctx_trace callee = ctx_trace_begin(out);
    CHECK(strcmp(ctx_get(CTX_TRACE_ID), my_trace) == 0);
    CHECK(strcmp(ctx_get(CTX_TRACE_FLAGS), my_flags) == 0);
    CHECK(strcmp(ctx_get(CTX_PARENT_SPAN_ID), mine) == 0);
    ctx_trace_end(&callee);
    CHECK(strcmp(ctx_get(CTX_SPAN_ID), mine) == 0);

    ctx_trace_end(&t);
    CHECK(!ctx_get(CTX_TRACE_ID) && !ctx_get(CTX_SPAN_ID) && !ctx_get(CTX_TRACE_FLAGS) &&
          !ctx_get(CTX_PARENT_SPAN_ID));
    free(h);
    return 0;
}
