/* SPDX-License-Identifier: MIT */
/*
 * Format-then-parse checker for the JSON formatter (see json_record_check.h).
 *
 * Written to be independent of formatters/: the UTF-8 decoder works on code
 * point arithmetic instead of Table 3-7 byte ranges, and duplicate keys are
 * resolved on decoded text instead of escaped bytes. If both sides agree,
 * two different readings of the rules agree.
 */
#include "fuzz/json_record_check.h"

#include <math.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- reference UTF-8 decoder -------------------------------------------------- */

/* Smallest code point that needs `total` bytes: anything lower is overlong. */
static const uint32_t min_for_len[5] = {0, 0, 0x80, 0x800, 0x10000};

/*
 * Can a `total`-byte sequence whose bits so far are `bits` (with `left` bits
 * still to come) still encode a scalar value? Its completions are exactly the
 * range [bits << left, (bits << left) | (2^left - 1)].
 */
static int can_complete(uint32_t bits, unsigned left, unsigned total)
{
    uint32_t first = bits << left;
    uint32_t last = first | ((UINT32_C(1) << left) - 1);
    uint32_t lo = min_for_len[total];
    uint32_t hi = total == 4 ? 0x10FFFF : min_for_len[total + 1] - 1;

    if (last < lo || first > hi)
        return 0;
    if (first < lo)
        first = lo;
    if (last > hi)
        last = hi;
    return !(first >= 0xD800 && last <= 0xDFFF); /* nothing but surrogates */
}

/* Number of leading 1 bits of a byte. */
static unsigned leading_ones(unsigned char c)
{
    unsigned n = 0;
    while (n < 8 && (c & (0x80u >> n)))
        n++;
    return n;
}

static size_t put_utf8(unsigned char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | cp >> 6);
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | cp >> 12);
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | cp >> 18);
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/*
 * Decode s[*i...] into one code point, or U+FFFD (and *bad set) for a maximal
 * ill-formed subpart. Advances *i past what it consumed.
 */
static uint32_t next_code_point(const unsigned char *s, size_t len, size_t *i, int *bad)
{
    unsigned char c = s[*i];
    unsigned total = leading_ones(c);

    *bad = 0;
    if (total == 0) {
        (*i)++;
        return c;
    }
    *bad = 1;
    if (total == 1 || total > 4) { /* continuation or no such length */
        (*i)++;
        return 0xFFFD;
    }
    uint32_t bits = c & (0xFFu >> (total + 1));
    unsigned have = 1;
    if (!can_complete(bits, 6 * (total - 1), total)) {
        (*i)++;
        return 0xFFFD;
    }
    while (have < total && *i + have < len) {
        unsigned char cc = s[*i + have];
        if (leading_ones(cc) != 1)
            break;
        uint32_t more = bits << 6 | (cc & 0x3Fu);
        if (!can_complete(more, 6 * (total - have - 1), total))
            break;
        bits = more;
        have++;
    }
    *i += have;
    *bad = have != total;
    return *bad ? 0xFFFD : bits;
}

char *jrc_sanitize(const char *s, size_t len, size_t *out_len)
{
    const unsigned char *u = (const unsigned char *)s;
    unsigned char *out = malloc(len * 3 + 1); /* one byte -> at most U+FFFD */

    if (!out)
        return NULL;
    size_t o = 0;
    int bad = 0;
    for (size_t i = 0; i < len;)
        o += put_utf8(out + o, next_code_point(u, len, &i, &bad));
    out[o] = 0;
    *out_len = o;
    return (char *)out;
}

size_t jrc_replacement_count(const char *s, size_t len)
{
    size_t n = 0;
    int bad = 0;
    for (size_t i = 0; i < len; n += bad)
        next_code_point((const unsigned char *)s, len, &i, &bad);
    return n;
}

/* ---- expected keys ------------------------------------------------------------------ */

struct text {
    char *s;
    size_t len;
};

struct keyset {
    struct text *v;
    size_t n, cap;
};

static int keyset_has(const struct keyset *k, const char *s, size_t len)
{
    for (size_t i = 0; i < k->n; i++)
        if (k->v[i].len == len && memcmp(k->v[i].s, s, len) == 0)
            return 1;
    return 0;
}

/* Takes ownership of s. */
static int keyset_add(struct keyset *k, char *s, size_t len)
{
    if (k->n == k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 16;
        struct text *v = realloc(k->v, cap * sizeof *v);
        if (!v) {
            free(s);
            return -1;
        }
        k->v = v;
        k->cap = cap;
    }
    k->v[k->n].s = s;
    k->v[k->n].len = len;
    k->n++;
    return 0;
}

static int keyset_add_lit(struct keyset *k, const char *lit)
{
    char *s = strdup(lit);
    return s ? keyset_add(k, s, strlen(lit)) : -1;
}

static void keyset_free(struct keyset *k)
{
    for (size_t i = 0; i < k->n; i++)
        free(k->v[i].s);
    free(k->v);
}

/* The key a field must appear under: the decoded key if free, else
 * prefix + key, else prefix + key + ".N" for the first free N >= 2. */
static int add_field_key(struct keyset *k, const char *raw, const char *prefix)
{
    size_t len;
    char *key = jrc_sanitize(raw ? raw : "(null)", raw ? strlen(raw) : 6, &len);

    if (!key)
        return -1;
    if (!keyset_has(k, key, len))
        return keyset_add(k, key, len);

    size_t plen = strlen(prefix);
    char *cand = malloc(plen + len + 32);
    if (!cand) {
        free(key);
        return -1;
    }
    memcpy(cand, prefix, plen);
    memcpy(cand + plen, key, len);
    size_t base = plen + len, clen = base;
    free(key);
    for (unsigned long n = 2; keyset_has(k, cand, clen); n++)
        clen = base + (size_t)sprintf(cand + base, ".%lu", n);
    return keyset_add(k, cand, clen);
}

/* ---- reporting ---------------------------------------------------------------------- */

struct ctx {
    char *err;
    size_t errsz;
    const unsigned char *line;
    size_t n;
};

static int fail(struct ctx *c, const char *fmt, ...) CTXLOG_PRINTF(2, 3);

static int fail(struct ctx *c, const char *fmt, ...)
{
    va_list ap;
    int used;

    va_start(ap, fmt);
    used = vsnprintf(c->err, c->errsz, fmt, ap);
    va_end(ap);
    if (used < 0 || (size_t)used >= c->errsz || !c->line)
        return -1;
    /* Append the start of the line, non-printables as \xNN. */
    size_t o = (size_t)used;
    o += (size_t)snprintf(c->err + o, c->errsz - o, " | line: ");
    for (size_t i = 0; i < c->n && i < 300 && o + 5 < c->errsz; i++) {
        unsigned char ch = c->line[i];
        if (ch >= 0x20 && ch < 0x7F)
            c->err[o++] = (char)ch;
        else
            o += (size_t)snprintf(c->err + o, c->errsz - o, "\\x%02x", ch);
    }
    c->err[o < c->errsz ? o : c->errsz - 1] = 0;
    return -1;
}

/* ---- value checks ----------------------------------------------------------------- */

static int check_text(struct ctx *c, const char *what, const json_t *got, const char *raw,
                      size_t rawlen)
{
    size_t len;
    char *want = jrc_sanitize(raw, rawlen, &len);

    if (!want)
        return fail(c, "out of memory in checker");
    int ok = json_is_string(got) && json_string_length(got) == len &&
             memcmp(json_string_value(got), want, len) == 0;
    free(want);
    if (!ok)
        return fail(c, "%s: string differs from the reference sanitizer", what);
    return 0;
}

static int check_int(struct ctx *c, const char *what, const json_t *got, int ints_as_real,
                     int negative, uint64_t mag)
{
    if (ints_as_real) {
        /* Only used when some u64 exceeds json_int_t: exact digits are then
         * checked by the caller's own test, here the value must be close. */
        double want = negative ? -(double)mag : (double)mag;
        if (!json_is_real(got) || json_real_value(got) != want)
            return fail(c, "%s: number differs", what);
        return 0;
    }
    if (!json_is_integer(got))
        return fail(c, "%s: not an integer", what);
    json_int_t v = json_integer_value(got);
    int ok = negative ? v < 0 && 0 - (uint64_t)v == mag : v >= 0 && (uint64_t)v == mag;
    if (!ok)
        return fail(c, "%s: integer differs", what);
    return 0;
}

static int check_i64(struct ctx *c, const char *what, const json_t *got, int as_real, int64_t v)
{
    return check_int(c, what, got, as_real, v < 0, v < 0 ? 0 - (uint64_t)v : (uint64_t)v);
}

static int check_f64(struct ctx *c, const char *what, const json_t *got, double v)
{
    const char *special = isnan(v) ? "NaN" : isinf(v) ? (v > 0 ? "Infinity" : "-Infinity") : NULL;

    if (special) {
        if (!json_is_string(got) || strcmp(json_string_value(got), special) != 0)
            return fail(c, "%s: want the string %s", what, special);
        return 0;
    }
    if (!json_is_real(got))
        return fail(c, "%s: %g is not written as a JSON real", what, v);
    double g = json_real_value(got);
    if (g != v || signbit(g) != signbit(v))
        return fail(c, "%s: %.17g read back as %.17g", what, v, g);
    return 0;
}

/* What a LOG_JSON value must read back as: itself when jansson's own dump
 * of it parses back to an equal value, else null. */
static int check_embedded(struct ctx *c, const char *what, const json_t *got, const json_t *j)
{
    int want_null = 1;

    if (j) {
        char *dump = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
        if (dump) {
            json_t *back = json_loads(dump, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
            want_null = !back || !json_equal(back, (json_t *)j);
            json_decref(back);
            free(dump);
        }
    }
    if (want_null ? !json_is_null(got) : !json_equal((json_t *)got, (json_t *)j))
        return fail(c, "%s: embedded JSON differs (want %s)", what, want_null ? "null" : "the value");
    return 0;
}

static int check_field(struct ctx *c, const log_field *f, const json_t *got, int as_real)
{
    const char *what = f->key ? f->key : "(null)";

    switch (f->type) {
    case LOG_FIELD_STR:
        if (!f->v.s)
            return json_is_null(got) ? 0 : fail(c, "%s: want null", what);
        return check_text(c, what, got, f->v.s, strlen(f->v.s));
    case LOG_FIELD_I64:
        return check_i64(c, what, got, as_real, f->v.i64);
    case LOG_FIELD_U64:
        return check_int(c, what, got, as_real, 0, f->v.u64);
    case LOG_FIELD_F64:
        return check_f64(c, what, got, f->v.f64);
    case LOG_FIELD_BOOL:
        if (f->v.b ? !json_is_true(got) : !json_is_false(got))
            return fail(c, "%s: want %s", what, f->v.b ? "true" : "false");
        return 0;
    case LOG_FIELD_JSON:
        return check_embedded(c, what, got, (const json_t *)f->v.json);
    }
    return json_is_null(got) ? 0 : fail(c, "%s: unknown type, want null", what);
}

/* ---- ts ------------------------------------------------------------------------------ */

static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

static int check_ts(struct ctx *c, const json_t *got, const struct timespec *t)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.ddddddZ";
    const char *s = json_string_value(got);

    if (!s || json_string_length(got) != sizeof shape - 1)
        return fail(c, "ts: not a 27-character string");
    for (size_t i = 0; i < sizeof shape - 1; i++) {
        int ok = shape[i] == 'd' ? s[i] >= '0' && s[i] <= '9' : s[i] == shape[i];
        if (!ok)
            return fail(c, "ts: character %zu breaks YYYY-MM-DDTHH:MM:SS.uuuuuuZ", i);
    }

    struct tm tm = {0};
    tm.tm_year = digits(s, 4) - 1900;
    tm.tm_mon = digits(s + 5, 2) - 1;
    tm.tm_mday = digits(s + 8, 2);
    tm.tm_hour = digits(s + 11, 2);
    tm.tm_min = digits(s + 14, 2);
    tm.tm_sec = digits(s + 17, 2);
    if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 60)
        return fail(c, "ts: a field is out of range");

    /* Years 0000 and 9999 bound what four digits can say; beyond, clamped. */
    const time_t first = (time_t)-62167219200LL, last = (time_t)253402300799LL;
    time_t want = t->tv_sec < first ? first : t->tv_sec > last ? last : t->tv_sec;
    if (timegm(&tm) != want)
        return fail(c, "ts: does not read back as %lld", (long long)t->tv_sec);

    long usec = t->tv_nsec < 0 ? 0 : t->tv_nsec > 999999999 ? 999999 : t->tv_nsec / 1000;
    if (digits(s + 20, 6) != usec)
        return fail(c, "ts: microseconds differ from %ld", usec);
    return 0;
}

/* ---- the record ------------------------------------------------------------------- */

static const char *const level_names[] = {"trace", "debug", "info", "warn", "error", "fatal"};

static int raw_checks(struct ctx *c)
{
    const unsigned char *l = c->line;
    size_t n = c->n;

    if (n < 2 || l[n - 1] != '\n')
        return fail(c, "the line does not end with '\\n'");
    for (size_t i = 0; i + 1 < n; i++) {
        if (l[i] < 0x20 || l[i] == 0x7F)
            return fail(c, "raw control byte 0x%02x at %zu", l[i], i);
        if (i + 2 < n && l[i] == 0xE2 && l[i + 1] == 0x80 && (l[i + 2] == 0xA8 || l[i + 2] == 0xA9))
            return fail(c, "raw U+2028/U+2029 at %zu", i);
    }
    size_t slen;
    char *clean = jrc_sanitize((const char *)l, n, &slen);
    if (!clean)
        return fail(c, "out of memory in checker");
    int valid = slen == n && memcmp(clean, l, n) == 0;
    free(clean);
    if (!valid)
        return fail(c, "the line is not valid UTF-8");
    return 0;
}

static int has_big_u64(const log_field *f, size_t n)
{
    for (size_t i = 0; f && i < n; i++)
        if (f[i].type == LOG_FIELD_U64 && f[i].v.u64 > INT64_MAX)
            return 1;
    return 0;
}

static int expected_keys(const log_record *r, int callsite, int thread, struct keyset *k)
{
    static const char *const core[] = {"ts", "level", "logger", "msg"};
    static const char *const opt[] = {"file", "line", "func", "thread_id"};
    size_t nctx = r->ctx_fields ? r->n_ctx_fields : 0;
    size_t nf = r->fields ? r->n_fields : 0;

    /* Optional keys are reserved from the start but come last: add them to
     * a set first, resolve the fields, then move them to the end. */
    struct keyset optset = {0};
    for (size_t i = 0; i < 4; i++)
        if (keyset_add_lit(k, core[i]))
            goto oom;
    for (size_t i = 0; i < 4; i++)
        if ((i < 3 ? callsite : thread) && keyset_add_lit(&optset, opt[i]))
            goto oom;
    for (size_t i = 0; i < optset.n; i++) /* visible to the rename rule */
        if (keyset_add_lit(k, optset.v[i].s))
            goto oom;
    size_t nopt = optset.n;
    for (size_t i = 0; i < nctx; i++)
        if (add_field_key(k, r->ctx_fields[i].key, "ctx."))
            goto oom;
    for (size_t i = 0; i < nf; i++)
        if (add_field_key(k, r->fields[i].key, "fields."))
            goto oom;
    /* Rotate the optional keys from after the core ones to the end. */
    struct text tmp[4];
    memcpy(tmp, k->v + 4, nopt * sizeof *tmp);
    memmove(k->v + 4, k->v + 4 + nopt, (k->n - 4 - nopt) * sizeof *tmp);
    memcpy(k->v + k->n - nopt, tmp, nopt * sizeof *tmp);
    keyset_free(&optset);
    return 0;
oom:
    keyset_free(&optset);
    return -1;
}

/*
 * The formatter writes records the logging core vouches for (a context
 * serial and logger in log_record.priv_) through the caches once it has
 * seen their context and head. It must write the same bytes as the general
 * path, which a record without priv_ always takes: format `r` that way, then
 * three times with a fresh hint (the second time the context and head
 * caches are warm, the third time the line cache too), for the DEFAULT and
 * ECS presets, and compare.
 */
static int check_fast_path(struct ctx *c, const log_record *r, unsigned flags)
{
    static _Atomic uint64_t serials = UINT64_C(1) << 63; /* never a snapshot's */
    static const log_json_preset presets[] = {LOG_JSON_DEFAULT, LOG_JSON_ECS};
    int rc = 0;

    for (size_t p = 0; rc == 0 && p < sizeof presets / sizeof presets[0]; p++) {
        const log_json_options opts = {
            .preset = presets[p],
            .callsite = (flags & FMT_JSON_CALLSITE) != 0,
            .thread_id = (flags & FMT_JSON_THREAD) != 0,
        };
        fmt_buf want = {0}, got = {0};
        if (fmt_json_record(r, &opts, &want) != 0) {
            fmt_buf_free(&want);
            return fail(c, "general path failed for preset %d", (int)presets[p]);
        }
        fmt_ctx_hint h = {
            .serial = serials++,
            .fields = r->ctx_fields,
            .n = r->ctx_fields ? r->n_ctx_fields : 0,
            .logger = r->logger,
        };
        log_record rh = *r;
        rh.priv_ = &h;
        for (int pass = 0; rc == 0 && pass < 3; pass++) {
            fmt_buf_clear(&got);
            if (fmt_json_record(&rh, &opts, &got) != 0)
                rc = fail(c, "hinted record failed (preset %d, pass %d)", (int)presets[p], pass);
            else if (got.len != want.len || memcmp(got.data, want.data, want.len) != 0)
                rc = fail(c, "preset %d, pass %d: cached path wrote\n%.*s\nthe general path\n%.*s",
                          (int)presets[p], pass, (int)got.len, got.data, (int)want.len,
                          want.data);
        }
        fmt_buf_free(&want);
        fmt_buf_free(&got);
    }
    return rc;
}

int jrc_check_record(const log_record *r, unsigned flags, fmt_buf *b, json_t **out, char *err,
                     size_t errsz)
{
    struct ctx c = {.err = err, .errsz = errsz};
    size_t start = b->len;
    const log_json_options opts = {
        .preset = LOG_JSON_DEFAULT,
        .callsite = (flags & FMT_JSON_CALLSITE) != 0,
        .thread_id = (flags & FMT_JSON_THREAD) != 0,
    };
    int rc = fmt_json_record(r, &opts, b);

    if (out)
        *out = NULL;
    if (rc != 0)
        return fail(&c, "fmt_json_record returned %d", rc);
    c.line = (const unsigned char *)b->data + start;
    c.n = b->len - start;
    if (raw_checks(&c))
        return -1;
    if (!r->priv_ && check_fast_path(&c, r, flags))
        return -1;

    size_t nctx = r->ctx_fields ? r->n_ctx_fields : 0;
    size_t nf = r->fields ? r->n_fields : 0;
    int as_real = has_big_u64(r->ctx_fields, nctx) || has_big_u64(r->fields, nf);
    json_error_t jerr;
    json_t *root = json_loadb((const char *)c.line, c.n,
                              JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL |
                                  (as_real ? JSON_DECODE_INT_AS_REAL : 0),
                              &jerr);
    if (!root)
        return fail(&c, "jansson rejects the line: %s (column %d)", jerr.text, jerr.column);
    if (!json_is_object(root)) {
        json_decref(root);
        return fail(&c, "the line is not a JSON object");
    }

    int callsite = (flags & FMT_JSON_CALLSITE) && r->file;
    int thread = (flags & FMT_JSON_THREAD) != 0;
    struct keyset keys = {0};
    if (expected_keys(r, callsite, thread, &keys)) {
        keyset_free(&keys);
        json_decref(root);
        return fail(&c, "out of memory in checker");
    }

    rc = 0;
    if (json_object_size(root) != keys.n)
        rc = fail(&c, "%zu members, want %zu", json_object_size(root), keys.n);
    void *it = json_object_iter(root);
    for (size_t i = 0; rc == 0 && i < keys.n; i++, it = json_object_iter_next(root, it)) {
        const char *key = json_object_iter_key(it);
        size_t klen = json_object_iter_key_len(it);
        const json_t *v = json_object_iter_value(it);
        if (klen != keys.v[i].len || memcmp(key, keys.v[i].s, klen) != 0) {
            rc = fail(&c, "member %zu is \"%s\", want \"%s\"", i, key, keys.v[i].s);
            break;
        }
        if (i == 0) {
            rc = check_ts(&c, v, &r->time);
        } else if (i == 1) {
            const char *want = (unsigned)r->level < 6 ? level_names[r->level] : "unknown";
            if (!json_is_string(v) || strcmp(json_string_value(v), want) != 0)
                rc = fail(&c, "level: want \"%s\"", want);
        } else if (i == 2) {
            rc = check_text(&c, "logger", v, r->logger ? r->logger : "",
                            r->logger ? strlen(r->logger) : 0);
        } else if (i == 3) {
            rc = check_text(&c, "msg", v, r->msg ? r->msg : "", r->msg ? r->msg_len : 0);
        } else if (i < 4 + nctx) {
            rc = check_field(&c, &r->ctx_fields[i - 4], v, as_real);
        } else if (i < 4 + nctx + nf) {
            rc = check_field(&c, &r->fields[i - 4 - nctx], v, as_real);
        } else if (callsite && i == 4 + nctx + nf) {
            rc = check_text(&c, "file", v, r->file, strlen(r->file));
        } else if (callsite && i == 5 + nctx + nf) {
            rc = check_i64(&c, "line", v, as_real, r->line);
        } else if (callsite && i == 6 + nctx + nf) {
            if (r->func)
                rc = check_text(&c, "func", v, r->func, strlen(r->func));
            else if (!json_is_null(v))
                rc = fail(&c, "func: want null");
        } else {
            rc = check_i64(&c, "thread_id", v, as_real, r->thread_id);
        }
    }
    keyset_free(&keys);
    if (rc == 0 && out)
        *out = root;
    else
        json_decref(root);
    return rc;
}
