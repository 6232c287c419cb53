/* SPDX-License-Identifier: MIT */
/*
 * The JSON formatter. Every line produced here is parsed back with jansson
 * (JSON_REJECT_DUPLICATES) by the shared checker in fuzz/json_record_check.c,
 * which also compares each member with an independent reference; the cases
 * below add the exact expectations of the contract on top.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ctxlog/ctxlog.h>

#include "formatters/fmt_json.h"
#include "formatters/fmt_json_line.h"
#include "fuzz/json_record_check.h"
#include "support.h"

#define FFFD "\xEF\xBF\xBD"
#define MiB (1024 * 1024)

static fmt_buf buf;

static int teardown(void **state)
{
    (void)state;
    fmt_buf_free(&buf);
    return 0;
}

/* 2026-11-23T10:00:00.123456Z */
static log_record base_record(void)
{
    log_record r = {
        .level = LOG_LEVEL_INFO,
        .time = {.tv_sec = 1795428000, .tv_nsec = 123456789},
        .logger = "app.db",
        .msg = "hello",
        .msg_len = 5,
        .line = 42,
        .thread_id = 4242,
    };
    return r;
}

/* Format, parse back, compare with the reference; fails the test on any
 * difference. Returns the parsed object. */
static json_t *format_checked(const log_record *r, unsigned flags)
{
    char err[4096];
    json_t *o = NULL;

    if (jrc_check_record(r, flags, &buf, &o, err, sizeof err) != 0)
        fail_msg("%s", err);
    return o;
}

/* The bytes of the last line in buf (from `start`). */
static const char *line_at(size_t start, size_t *len)
{
    *len = buf.len - start;
    return buf.data + start;
}

static void assert_members(const json_t *o, const char *const *want, size_t n)
{
    void *it = json_object_iter((json_t *)o);
    for (size_t i = 0; i < n; i++, it = json_object_iter_next((json_t *)o, it)) {
        assert_non_null(it);
        assert_string_equal(json_object_iter_key(it), want[i]);
    }
    assert_null(it);
}

static void assert_str_member(const json_t *o, const char *key, const char *want, size_t len)
{
    const json_t *v = json_object_get(o, key);
    if (!json_is_string(v))
        fail_msg("member \"%s\" missing or not a string", key);
    assert_int_equal(json_string_length(v), len);
    assert_memory_equal(json_string_value(v), want, len);
}

/* ---- layout --------------------------------------------------------------------- */

static void test_fmt_json__member_order(void **state)
{
    (void)state;
    log_record r = base_record();
    log_field ctx[] = {LOG_STR("request_id", "r-1"), LOG_STR("user_id", "u-7")};
    log_field f[] = {LOG_I64("attempt", 3), LOG_STR("method", "GET")};
    r.ctx_fields = ctx;
    r.n_ctx_fields = 2;
    r.fields = f;
    r.n_fields = 2;
    r.file = "db.c";
    r.func = "db_open";

    json_t *o = format_checked(&r, FMT_JSON_CALLSITE | FMT_JSON_THREAD);
    static const char *const want[] = {"ts", "level", "logger", "msg", "request_id", "user_id",
                                       "attempt", "method", "file", "line", "func", "thread_id"};
    assert_members(o, want, sizeof want / sizeof want[0]);
    assert_string_equal(json_string_value(json_object_get(o, "ts")), "2026-11-23T10:00:00.123456Z");
    assert_string_equal(json_string_value(json_object_get(o, "level")), "info");
    assert_string_equal(json_string_value(json_object_get(o, "logger")), "app.db");
    assert_string_equal(json_string_value(json_object_get(o, "msg")), "hello");
    assert_string_equal(json_string_value(json_object_get(o, "request_id")), "r-1");
    assert_int_equal(json_integer_value(json_object_get(o, "attempt")), 3);
    assert_string_equal(json_string_value(json_object_get(o, "file")), "db.c");
    assert_int_equal(json_integer_value(json_object_get(o, "line")), 42);
    assert_string_equal(json_string_value(json_object_get(o, "func")), "db_open");
    assert_int_equal(json_integer_value(json_object_get(o, "thread_id")), 4242);
    json_decref(o);
}

static void test_fmt_json__minimal_record_has_core_members_only(void **state)
{
    (void)state;
    log_record r = base_record();
    size_t start = buf.len;

    json_t *o = format_checked(&r, 0);
    static const char *const want[] = {"ts", "level", "logger", "msg"};
    assert_members(o, want, 4);
    json_decref(o);

    size_t n;
    const char *line = line_at(start, &n);
    assert_memory_equal(line + n - 2, "}\n", 2);
}

static void test_fmt_json__ts_format_and_round_trip(void **state)
{
    (void)state;
    static const struct {
        struct timespec t;
        const char *want;
    } cases[] = {
        {{1795428000, 123456789}, "2026-11-23T10:00:00.123456Z"},
        {{0, 0}, "1970-01-01T00:00:00.000000Z"},
        {{1709251199, 999999999}, "2024-02-29T23:59:59.999999Z"},
        {{-1, 500000}, "1969-12-31T23:59:59.000500Z"},
        {{1795428000, 999}, "2026-11-23T10:00:00.000000Z"},
        {{1795428001, 1000}, "2026-11-23T10:00:01.000001Z"},
        {{1795428000, 123456789}, "2026-11-23T10:00:00.123456Z"}, /* cache goes back */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        log_record r = base_record();
        r.time = cases[i].t;
        json_t *o = format_checked(&r, 0); /* checks char classes and timegm */
        assert_string_equal(json_string_value(json_object_get(o, "ts")), cases[i].want);
        json_decref(o);
    }
}

static void test_fmt_json__ts_out_of_range_stays_rfc3339(void **state)
{
    (void)state;
    log_record r = base_record();

    r.time.tv_sec = (time_t)300000000000LL; /* year ~11476 */
    json_t *o = format_checked(&r, 0);
    assert_string_equal(json_string_value(json_object_get(o, "ts")), "9999-12-31T23:59:59.123456Z");
    json_decref(o);

    r.time.tv_sec = 1795428000;
    r.time.tv_nsec = 2000000000; /* invalid: clamped */
    o = format_checked(&r, 0);
    assert_string_equal(json_string_value(json_object_get(o, "ts")), "2026-11-23T10:00:00.999999Z");
    json_decref(o);
}

static void test_fmt_json__level_names(void **state)
{
    (void)state;
    static const char *const names[] = {"trace", "debug", "info", "warn", "error", "fatal"};

    for (int l = LOG_LEVEL_TRACE; l <= LOG_LEVEL_FATAL; l++) {
        log_record r = base_record();
        r.level = (log_level)l;
        json_t *o = format_checked(&r, 0);
        assert_string_equal(json_string_value(json_object_get(o, "level")), names[l]);
        json_decref(o);
    }
    log_record r = base_record();
    r.level = (log_level)77;
    json_t *o = format_checked(&r, 0);
    assert_string_equal(json_string_value(json_object_get(o, "level")), "unknown");
    json_decref(o);
}

/* ---- strings ----------------------------------------------------------------------- */

static void assert_escaped(const char *in, size_t len, const char *want)
{
    fmt_buf b = {0};
    fmt_json_string(&b, in, len);
    assert_false(b.oom);
    if (b.len != strlen(want) || memcmp(b.data, want, b.len) != 0)
        fail_msg("escaped as %.*s, want %s", (int)b.len, b.data, want);
    fmt_buf_free(&b);
}

static void test_fmt_json__string_bytes_are_canonical(void **state)
{
    (void)state;
    /* Key comparison relies on exactly these forms: short escapes, lowercase
     * \u00xx, U+2028/U+2029 escaped, everything else verbatim. */
    assert_escaped("a\"b\\c", 5, "\"a\\\"b\\\\c\"");
    assert_escaped("\b\f\n\r\t", 5, "\"\\b\\f\\n\\r\\t\"");
    assert_escaped("\x00\x01\x1a\x1f\x7f", 5, "\"\\u0000\\u0001\\u001a\\u001f\\u007f\"");
    assert_escaped("\xE2\x80\xA8x\xE2\x80\xA9", 7, "\"\\u2028x\\u2029\"");
    assert_escaped("/<>'", 4, "\"/<>'\"");
    assert_escaped("\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80", 9, "\"\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80\"");
    assert_escaped("\xE2\x80\xA7\xE2\x80\xAA", 6, "\"\xE2\x80\xA7\xE2\x80\xAA\""); /* neighbours */
    assert_escaped("\xff\xfe", 2, "\"" FFFD FFFD "\"");
    assert_escaped(NULL, 0, "\"\"");
    assert_escaped("", 0, "\"\"");
}

static void test_fmt_json__escapes_every_control_char_quote_backslash_del(void **state)
{
    (void)state;
    for (int c = 0; c <= 0x7F; c++) {
        if (!(c < 0x20 || c == 0x7F || c == '"' || c == '\\'))
            continue;
        char msg[3] = {'<', (char)c, '>'};
        log_record r = base_record();
        r.msg = msg;
        r.msg_len = 3;
        json_t *o = format_checked(&r, 0); /* also: no raw control byte in line */
        assert_str_member(o, "msg", msg, 3);
        json_decref(o);
    }
}

static void test_fmt_json__line_separators_escaped_and_preserved(void **state)
{
    (void)state;
    static const char msg[] = "a\xE2\x80\xA8" "b\xE2\x80\xA9" "c";
    log_record r = base_record();
    r.msg = msg;
    r.msg_len = sizeof msg - 1;
    json_t *o = format_checked(&r, 0); /* the checker rejects raw E2 80 A8/A9 */
    assert_str_member(o, "msg", msg, sizeof msg - 1);
    json_decref(o);
}

static void test_fmt_json__invalid_utf8_replaced_per_maximal_subpart(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *want;
        size_t n_fffd;
    } cases[] = {
        {"\xC0\x80", FFFD FFFD, 2},                       /* overlong 2-byte */
        {"\xC1\xBF", FFFD FFFD, 2},
        {"\xE0\x80\x80", FFFD FFFD FFFD, 3},              /* overlong 3-byte */
        {"\xE0\x9F\xBF", FFFD FFFD FFFD, 3},
        {"\xF0\x80\x80\x80", FFFD FFFD FFFD FFFD, 4},     /* overlong 4-byte */
        {"\xF0\x8F\xBF\xBF", FFFD FFFD FFFD FFFD, 4},
        {"\xED\xA0\x80", FFFD FFFD FFFD, 3},              /* surrogate D800 */
        {"\xED\xBF\xBF", FFFD FFFD FFFD, 3},              /* surrogate DFFF */
        {"\xF4\x90\x80\x80", FFFD FFFD FFFD FFFD, 4},     /* U+110000 */
        {"\xF5\x80\x80\x80", FFFD FFFD FFFD FFFD, 4},
        {"\xE2\x82", FFFD, 1},                            /* truncated at end */
        {"\xE2\x82z", FFFD "z", 1},                       /* truncated before ASCII */
        {"\xF0\x9F\x98", FFFD, 1},
        {"\xF0\x9F\x98" "\xC3\xA9", FFFD "\xC3\xA9", 1},  /* truncated before valid */
        {"\x80", FFFD, 1},                                /* stray continuation */
        {"\xBF", FFFD, 1},
        {"\x80\xBF\x80", FFFD FFFD FFFD, 3},
        {"\xE2\x28\xA1", FFFD "(" FFFD, 2},
        /* The example of Unicode section 3.9 (U+FFFD substitution). */
        {"\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64",
         "a" FFFD FFFD FFFD "b" FFFD "c" FFFD FFFD "d", 6},
        {"\xEF\xBF\xBD", FFFD, 0},                        /* a real U+FFFD stays */
        {"\xF4\x8F\xBF\xBF", "\xF4\x8F\xBF\xBF", 0},      /* U+10FFFF is valid */
        {"\xED\x9F\xBF", "\xED\x9F\xBF", 0},              /* U+D7FF is valid */
        {"\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80\xff",
         "\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80" FFFD, 1}, /* é 中 😀 kept */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = strlen(cases[i].in);
        assert_int_equal(jrc_replacement_count(cases[i].in, len), cases[i].n_fffd);

        log_record r = base_record();
        r.msg = cases[i].in;
        r.msg_len = len;
        json_t *o = format_checked(&r, 0);
        assert_str_member(o, "msg", cases[i].want, strlen(cases[i].want));
        json_decref(o);
    }
    for (int c = 0xF5; c <= 0xFF; c++) {
        char in[3] = {'x', (char)c, 'y'};
        log_record r = base_record();
        r.msg = in;
        r.msg_len = 3;
        json_t *o = format_checked(&r, 0);
        assert_str_member(o, "msg", "x" FFFD "y", 5);
        json_decref(o);
    }
}

static void test_fmt_json__special_byte_at_every_offset_of_ascii_run(void **state)
{
    (void)state;
    /* The plain-ASCII scan moves 8 bytes at a time: a byte needing work must
     * be found wherever it sits in the word. */
    static const char specials[] = {'"', '\\', 0x7F, 0x1F, 0x00, (char)0x80, (char)0xC3};
    char msg[64];
    for (size_t s = 0; s < sizeof specials; s++) {
        for (size_t off = 0; off < 40; off++) {
            memset(msg, 'a', sizeof msg);
            msg[off] = specials[s];
            log_record r = base_record();
            r.msg = msg;
            r.msg_len = sizeof msg;
            fmt_buf_clear(&buf);
            json_t *o = format_checked(&r, 0); /* compared with the reference */
            json_decref(o);
        }
    }
}

static void test_fmt_json__sequences_across_internal_chunks(void **state)
{
    (void)state;
    /* Long strings are escaped in 64 KiB steps; UTF-8 sequences (valid and
     * not) and escapes that straddle a step boundary must come out whole. */
    enum { LEN = 3 * 65536 + 100 };
    static const char *const pieces[] = {"\xF0\x9F\x98\x80", "\xE2\x80\xA8", "\xF0\x9F\x98",
                                         "\xE0\x80\x80", "\x01\x02\x03\x04", "\xC3\xA9"};
    char *msg = malloc(LEN);
    assert_non_null(msg);
    for (size_t p = 0; p < sizeof pieces / sizeof pieces[0]; p++) {
        for (size_t shift = 1; shift <= 4; shift++) {
            memset(msg, 'x', LEN);
            for (size_t k = 1; k <= 3; k++)
                memcpy(msg + k * 65536 - shift, pieces[p], strlen(pieces[p]));
            log_record r = base_record();
            r.msg = msg;
            r.msg_len = LEN;
            fmt_buf_clear(&buf);
            json_t *o = format_checked(&r, 0);
            json_decref(o);
        }
    }
    free(msg);
}

static void test_fmt_json__no_raw_newline_inside_record(void **state)
{
    (void)state;
    log_record r = base_record();
    log_field ctx[] = {LOG_STR("tenant\n", "a\r\nb")};
    log_field f[] = {LOG_STR("k\ney", "line1\nline2\n"), LOG_STR("x", "\n")};
    r.msg = "one\ntwo\r\n";
    r.msg_len = 9;
    r.logger = "log\nger";
    r.ctx_fields = ctx;
    r.n_ctx_fields = 1;
    r.fields = f;
    r.n_fields = 2;
    r.file = "a\nb.c";
    r.func = "f\n";

    size_t start = buf.len;
    json_t *o = format_checked(&r, FMT_JSON_CALLSITE);
    size_t n;
    const char *line = line_at(start, &n);
    assert_ptr_equal(memchr(line, '\n', n), line + n - 1);
    assert_str_member(o, "k\ney", "line1\nline2\n", 12);
    assert_str_member(o, "file", "a\nb.c", 5);
    json_decref(o);
}

static void test_fmt_json__null_msg_logger_key_and_value(void **state)
{
    (void)state;
    log_record r = base_record();
    log_field f[] = {LOG_STR(NULL, "v"), LOG_STR("s", NULL)};
    r.msg = NULL;
    r.msg_len = 10; /* ignored for NULL */
    r.logger = NULL;
    r.fields = f;
    r.n_fields = 2;
    r.file = "x.c";
    r.func = NULL;

    json_t *o = format_checked(&r, FMT_JSON_CALLSITE);
    assert_str_member(o, "msg", "", 0);
    assert_str_member(o, "logger", "", 0);
    assert_str_member(o, "(null)", "v", 1);
    assert_true(json_is_null(json_object_get(o, "s")));
    assert_true(json_is_null(json_object_get(o, "func")));
    json_decref(o);
}

static void test_fmt_json__msg_is_length_delimited_and_keeps_nul(void **state)
{
    (void)state;
    log_record r = base_record();
    r.msg = "ab\0cdXXXX";
    r.msg_len = 5;
    json_t *o = format_checked(&r, 0);
    assert_str_member(o, "msg", "ab\0cd", 5);
    json_decref(o);
}

static void test_fmt_json__one_mib_message_comes_back_whole(void **state)
{
    (void)state;
    char *msg = malloc(MiB);
    assert_non_null(msg);
    for (size_t i = 0; i < MiB; i++)
        msg[i] = (char)('a' + i % 26);
    memcpy(msg + MiB / 2, "\xE4\xB8\xAD", 3); /* a multibyte char in the middle */

    log_record r = base_record();
    r.msg = msg;
    r.msg_len = MiB;
    json_t *o = format_checked(&r, 0);
    assert_str_member(o, "msg", msg, MiB);
    json_decref(o);
    free(msg);
}

static void test_fmt_json__one_mib_of_control_chars_comes_back_whole(void **state)
{
    (void)state;
    char *msg = malloc(MiB);
    assert_non_null(msg);
    for (size_t i = 0; i < MiB; i++)
        msg[i] = (char)(i % 33 == 32 ? 0x7F : i % 33); /* 0x00..0x1F and DEL */

    log_record r = base_record();
    r.msg = msg;
    r.msg_len = MiB;
    size_t start = buf.len;
    json_t *o = format_checked(&r, 0);
    assert_str_member(o, "msg", msg, MiB);
    json_decref(o);
    size_t n;
    line_at(start, &n);
    assert_true(n > 5 * (size_t)MiB); /* mostly \u00XX */
    free(msg);
}

static void test_fmt_json__one_mib_of_invalid_bytes_all_replaced(void **state)
{
    (void)state;
    char *msg = malloc(MiB);
    assert_non_null(msg);
    memset(msg, 0xFF, MiB);

    log_record r = base_record();
    r.msg = msg;
    r.msg_len = MiB;
    json_t *o = format_checked(&r, 0);
    const json_t *m = json_object_get(o, "msg");
    assert_int_equal(json_string_length(m), 3 * (size_t)MiB);
    for (size_t i = 0; i < MiB; i += 4099)
        assert_memory_equal(json_string_value(m) + 3 * i, FFFD, 3);
    json_decref(o);
    free(msg);
}

/* ---- field types -------------------------------------------------------------------- */

/* The raw text of a number member: jansson cannot hold integers above
 * INT64_MAX, so the exact digits are read from the already-parsed line. */
static void raw_member_text(size_t start, const char *key, char *out, size_t outsz)
{
    size_t n, klen = strlen(key);
    const char *line = line_at(start, &n);
    for (size_t i = 0; i + klen + 3 < n; i++) {
        if (line[i] == '"' && memcmp(line + i + 1, key, klen) == 0 && line[i + 1 + klen] == '"' &&
            line[i + 2 + klen] == ':') {
            const char *v = line + i + 3 + klen;
            size_t k = 0;
            while (v[k] != ',' && v[k] != '}' && k + 1 < outsz) {
                out[k] = v[k];
                k++;
            }
            out[k] = 0;
            return;
        }
    }
    fail_msg("member %s not in the line", key);
}

static void test_fmt_json__string_bool_and_integer_fields(void **state)
{
    (void)state;
    log_record r = base_record();
    log_field f[] = {
        LOG_STR("s", "v\xC3\xA9"), LOG_STR("null", NULL),   LOG_BOOL("t", true),
        LOG_BOOL("f", false),     LOG_I64("zero", 0),       LOG_I64("neg", -1),
        LOG_I64("min", INT64_MIN), LOG_I64("max", INT64_MAX), LOG_U64("u0", 0),
        LOG_U64("u", 12345678901234567ULL),
    };
    r.fields = f;
    r.n_fields = sizeof f / sizeof f[0];

    json_t *o = format_checked(&r, 0);
    assert_str_member(o, "s", "v\xC3\xA9", 3);
    assert_true(json_is_null(json_object_get(o, "null")));
    assert_true(json_is_true(json_object_get(o, "t")));
    assert_true(json_is_false(json_object_get(o, "f")));
    assert_true(json_is_integer(json_object_get(o, "min")));
    assert_true(json_integer_value(json_object_get(o, "min")) == INT64_MIN);
    assert_true(json_integer_value(json_object_get(o, "max")) == INT64_MAX);
    assert_true(json_integer_value(json_object_get(o, "neg")) == -1);
    assert_true(json_integer_value(json_object_get(o, "zero")) == 0);
    assert_true(json_integer_value(json_object_get(o, "u0")) == 0);
    assert_true(json_integer_value(json_object_get(o, "u")) == 12345678901234567LL);
    json_decref(o);
}

static void test_fmt_json__u64_above_int64_exact(void **state)
{
    (void)state;
    static const uint64_t vals[] = {UINT64_MAX, UINT64_MAX - 1, (uint64_t)INT64_MAX + 1};
    static const char *const text[] = {"18446744073709551615", "18446744073709551614",
                                       "9223372036854775808"};
    for (size_t i = 0; i < 3; i++) {
        log_record r = base_record();
        log_field f[] = {LOG_U64("big", vals[i])};
        r.fields = f;
        r.n_fields = 1;
        size_t start = buf.len;
        json_t *o = format_checked(&r, 0); /* parsed with JSON_DECODE_INT_AS_REAL */
        json_decref(o);
        char got[32];
        raw_member_text(start, "big", got, sizeof got);
        assert_string_equal(got, text[i]);
    }
}

static void test_fmt_json__doubles_round_trip_as_reals(void **state)
{
    (void)state;
    static const double vals[] = {0.1,    1.0,      1e300, -0.0,          0.0,     -1.5,
                                  100.0,  1e15,     1e21,  1.0 / 3.0,     5e-324,  DBL_MAX,
                                  -DBL_MIN, 123456789.0, 0.30000000000000004, 2.5e-8};
    log_field f[sizeof vals / sizeof vals[0]];
    char keys[sizeof vals / sizeof vals[0]][8];
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        snprintf(keys[i], sizeof keys[i], "d%zu", i);
        f[i] = LOG_F64(keys[i], vals[i]);
    }
    log_record r = base_record();
    r.fields = f;
    r.n_fields = sizeof f / sizeof f[0];

    size_t start = buf.len;
    json_t *o = format_checked(&r, 0); /* each: a JSON real, bit-exact, sign kept */
    assert_true(json_is_real(json_object_get(o, "d1")));
    assert_true(signbit(json_real_value(json_object_get(o, "d3"))));
    json_decref(o);

    /* Shortest form, and ".0" only when needed. */
    char got[40];
    raw_member_text(start, "d0", got, sizeof got);
    assert_string_equal(got, "0.1");
    raw_member_text(start, "d1", got, sizeof got);
    assert_string_equal(got, "1.0");
    raw_member_text(start, "d2", got, sizeof got);
    assert_string_equal(got, "1e+300");
    raw_member_text(start, "d3", got, sizeof got);
    assert_string_equal(got, "-0.0");
    raw_member_text(start, "d6", got, sizeof got);
    assert_string_equal(got, "100.0");
    raw_member_text(start, "d14", got, sizeof got);
    assert_string_equal(got, "0.30000000000000004");
}

static void test_fmt_json__nonfinite_doubles_are_strings(void **state)
{
    (void)state;
    log_record r = base_record();
    log_field f[] = {LOG_F64("nan", NAN), LOG_F64("pinf", INFINITY), LOG_F64("ninf", -INFINITY)};
    r.fields = f;
    r.n_fields = 3;
    json_t *o = format_checked(&r, 0);
    assert_string_equal(json_string_value(json_object_get(o, "nan")), "NaN");
    assert_string_equal(json_string_value(json_object_get(o, "pinf")), "Infinity");
    assert_string_equal(json_string_value(json_object_get(o, "ninf")), "-Infinity");
    json_decref(o);
}

static void test_fmt_json__json_fields(void **state)
{
    (void)state;
    json_t *obj = json_pack("{s:i, s:[b, n, f], s:{s:s}}", "a", 1, "b", 1, 2.5, "c", "d", "e");
    json_t *arr = json_pack("[i, s, s]", -7, "x\ny", "\xC3\xA9");
    json_t *str = json_string("q\"\x7f\xE2\x80\xA8"); /* DEL and U+2028: escaped by us */
    json_t *bad = json_stringn_nocheck("\xff\xfe", 2); /* not UTF-8: becomes null */
    json_t *badkey = json_object();
    json_object_set_new_nocheck(badkey, "\xC0\x80", json_true());
    json_t *integer = json_integer(INT64_MIN);
    assert_non_null(obj);
    assert_non_null(arr);
    assert_non_null(str);
    assert_non_null(bad);

    log_field f[] = {LOG_JSON("obj", obj), LOG_JSON("arr", arr),      LOG_JSON("str", str),
                     LOG_JSON("none", NULL), LOG_JSON("bad", bad),    LOG_JSON("badkey", badkey),
                     LOG_JSON("int", integer)};
    log_record r = base_record();
    r.fields = f;
    r.n_fields = sizeof f / sizeof f[0];

    json_t *o = format_checked(&r, 0);
    assert_true(json_equal(json_object_get(o, "obj"), obj));
    assert_true(json_equal(json_object_get(o, "arr"), arr));
    assert_true(json_equal(json_object_get(o, "str"), str));
    assert_true(json_equal(json_object_get(o, "int"), integer));
    assert_true(json_is_null(json_object_get(o, "none")));
    assert_true(json_is_null(json_object_get(o, "bad")));
    assert_true(json_is_null(json_object_get(o, "badkey")));
    assert_int_equal(obj->refcount, 1); /* borrowed, not stolen */
    json_decref(o);
    json_decref(obj);
    json_decref(arr);
    json_decref(str);
    json_decref(bad);
    json_decref(badkey);
    json_decref(integer);
}

static void test_fmt_json__json_fields_jansson_cannot_dump_are_null(void **state)
{
    (void)state;
    /* jansson writes an invalid key as an unterminated string and goes on;
     * two of them even make valid JSON of a different object. */
    json_t *twobad = json_object();
    json_object_set_new_nocheck(twobad, "\xff", json_integer(1));
    json_object_set_new_nocheck(twobad, "\xfe", json_integer(1));
    json_t *prefix = json_pack("[{s:s}]", "ok", "v");
    json_object_set_new_nocheck(json_array_get(prefix, 0), "a\xE2\x82", json_string(":1}"));
    json_t *nulkey = json_object();
    json_object_setn_nocheck(nulkey, "a\0b", 3, json_true());
    json_t *nulstr = json_stringn("a\0b", 3); /* a NUL inside a value is fine */
    json_t *a = json_array(), *b = json_array(); /* a cycle */
    json_array_append(a, b);
    json_array_append(b, a);
    json_t *deep = json_array(), *shallow = json_array();
    for (int i = 0; i < 3000; i++)
        deep = json_pack("[o]", deep);
    for (int i = 0; i < 100; i++)
        shallow = json_pack("[o]", shallow);

    log_field f[] = {LOG_JSON("twobad", twobad), LOG_JSON("prefix", prefix),
                     LOG_JSON("nulkey", nulkey), LOG_JSON("nulstr", nulstr),
                     LOG_JSON("cycle", a),       LOG_JSON("deep", deep),
                     LOG_JSON("shallow", shallow)};
    log_record r = base_record();
    r.fields = f;
    r.n_fields = sizeof f / sizeof f[0];
    json_t *o = format_checked(&r, 0);
    assert_true(json_is_null(json_object_get(o, "twobad")));
    assert_true(json_is_null(json_object_get(o, "prefix")));
    assert_true(json_is_null(json_object_get(o, "nulkey")));
    assert_true(json_equal(json_object_get(o, "nulstr"), nulstr));
    assert_true(json_is_null(json_object_get(o, "cycle")));
    assert_true(json_is_null(json_object_get(o, "deep")));
    assert_true(json_equal(json_object_get(o, "shallow"), shallow));
    json_decref(o);

    json_array_clear(a);
    json_decref(a);
    json_decref(b);
    json_decref(twobad);
    json_decref(prefix);
    json_decref(nulkey);
    json_decref(nulstr);
    json_decref(deep);
    json_decref(shallow);
}

static void test_fmt_json__large_json_field_grows_the_buffer(void **state)
{
    (void)state;
    /* Bigger than any slack the buffer has: the first dump reports the size,
     * the second fills the reserved room. */
    json_t *arr = json_array();
    for (int i = 0; i < 20000; i++)
        json_array_append_new(arr, json_string("0123456789abcdef\x7f"));
    log_field f[] = {LOG_JSON("big", arr)};
    log_record r = base_record();
    r.fields = f;
    r.n_fields = 1;
    json_t *o = format_checked(&r, 0);
    assert_true(json_equal(json_object_get(o, "big"), arr));
    json_decref(o);
    json_decref(arr);
}

/* ---- duplicate keys ---------------------------------------------------------------- */

static void test_fmt_json__field_named_msg_is_renamed(void **state)
{
    (void)state;
    log_record r = base_record();
    log_field f[] = {LOG_STR("msg", "user msg"), LOG_STR("ts", "user ts")};
    r.fields = f;
    r.n_fields = 2;
    json_t *o = format_checked(&r, 0);
    static const char *const want[] = {"ts", "level", "logger", "msg", "fields.msg", "fields.ts"};
    assert_members(o, want, 6);
    assert_string_equal(json_string_value(json_object_get(o, "msg")), "hello");
    assert_string_equal(json_string_value(json_object_get(o, "fields.msg")), "user msg");
    assert_string_equal(json_string_value(json_object_get(o, "fields.ts")), "user ts");
    json_decref(o);
}

static void test_fmt_json__ctx_field_named_level_is_renamed(void **state)
{
    (void)state;
    log_record r = base_record();
    log_field ctx[] = {LOG_STR("level", "ctx level"), LOG_STR("logger", "ctx logger")};
    log_field f[] = {LOG_STR("ctx.level", "call")};
    r.ctx_fields = ctx;
    r.n_ctx_fields = 2;
    r.fields = f;
    r.n_fields = 1;
    json_t *o = format_checked(&r, 0);
    static const char *const want[] = {"ts",         "level",     "logger",          "msg",
                                       "ctx.level", "ctx.logger", "fields.ctx.level"};
    assert_members(o, want, 7);
    assert_string_equal(json_string_value(json_object_get(o, "level")), "info");
    assert_string_equal(json_string_value(json_object_get(o, "ctx.level")), "ctx level");
    assert_string_equal(json_string_value(json_object_get(o, "fields.ctx.level")), "call");
    json_decref(o);
}

static void test_fmt_json__field_same_as_ctx_field_is_renamed(void **state)
{
    (void)state;
    log_record r = base_record();
    log_field ctx[] = {LOG_STR("request_id", "from ctx")};
    log_field f[] = {LOG_STR("request_id", "from call")};
    r.ctx_fields = ctx;
    r.n_ctx_fields = 1;
    r.fields = f;
    r.n_fields = 1;
    json_t *o = format_checked(&r, 0);
    assert_string_equal(json_string_value(json_object_get(o, "request_id")), "from ctx");
    assert_string_equal(json_string_value(json_object_get(o, "fields.request_id")), "from call");
    json_decref(o);
}

static void test_fmt_json__two_fields_same_name(void **state)
{
    (void)state;
    log_record r = base_record();
    log_field f[] = {LOG_I64("k", 1), LOG_I64("k", 2), LOG_I64("k", 3)};
    r.fields = f;
    r.n_fields = 3;
    json_t *o = format_checked(&r, 0);
    static const char *const want[] = {"ts", "level", "logger", "msg", "k", "fields.k", "fields.k.2"};
    assert_members(o, want, 7);
    assert_int_equal(json_integer_value(json_object_get(o, "k")), 1);
    assert_int_equal(json_integer_value(json_object_get(o, "fields.k")), 2);
    assert_int_equal(json_integer_value(json_object_get(o, "fields.k.2")), 3);
    json_decref(o);
}

static void test_fmt_json__renamed_key_already_taken_gets_suffix(void **state)
{
    (void)state;
    log_record r = base_record();
    log_field f[] = {LOG_STR("fields.msg", "first"), LOG_STR("fields.msg.2", "second"),
                     LOG_STR("msg", "third")};
    r.fields = f;
    r.n_fields = 3;
    json_t *o = format_checked(&r, 0);
    assert_string_equal(json_string_value(json_object_get(o, "fields.msg")), "first");
    assert_string_equal(json_string_value(json_object_get(o, "fields.msg.2")), "second");
    assert_string_equal(json_string_value(json_object_get(o, "fields.msg.3")), "third");
    json_decref(o);
}

static void test_fmt_json__keys_sanitizing_to_same_text_are_renamed(void **state)
{
    (void)state;
    log_record r = base_record();
    log_field ctx[] = {LOG_STR("\xff", "ctx ff")};
    log_field f[] = {LOG_STR("\xfe", "call fe"), LOG_STR("\xC0", "call c0"),
                     LOG_STR(FFFD, "call real fffd")};
    r.ctx_fields = ctx;
    r.n_ctx_fields = 1;
    r.fields = f;
    r.n_fields = 3;
    json_t *o = format_checked(&r, 0);
    static const char *const want[] = {"ts",          "level",           "logger",
                                       "msg",         FFFD,              "fields." FFFD,
                                       "fields." FFFD ".2", "fields." FFFD ".3"};
    assert_members(o, want, 8);
    assert_string_equal(json_string_value(json_object_get(o, FFFD)), "ctx ff");
    assert_string_equal(json_string_value(json_object_get(o, "fields." FFFD ".3")), "call real fffd");
    json_decref(o);
}

static void test_fmt_json__escaped_keys_collide_with_equal_text(void **state)
{
    (void)state;
    log_record r = base_record();
    log_field f[] = {LOG_STR("a\nb", "1"), LOG_STR("a\nb", "2"), LOG_STR("\xE2\x80\xA8", "3"),
                     LOG_STR("\xE2\x80\xA8", "4")};
    r.fields = f;
    r.n_fields = 4;
    json_t *o = format_checked(&r, 0);
    assert_string_equal(json_string_value(json_object_get(o, "fields.a\nb")), "2");
    assert_string_equal(json_string_value(json_object_get(o, "fields.\xE2\x80\xA8")), "4");
    json_decref(o);
}

static void test_fmt_json__optional_keys_reserved_only_when_written(void **state)
{
    (void)state;
    log_field f[] = {LOG_STR("file", "f"), LOG_STR("line", "l"), LOG_STR("func", "fn"),
                     LOG_STR("thread_id", "t")};
    log_record r = base_record();
    r.fields = f;
    r.n_fields = 4;
    r.file = "x.c";
    r.func = "main";

    json_t *o = format_checked(&r, FMT_JSON_CALLSITE | FMT_JSON_THREAD);
    static const char *const renamed[] = {
        "ts",          "level",          "logger", "msg",  "fields.file", "fields.line",
        "fields.func", "fields.thread_id", "file", "line", "func",        "thread_id"};
    assert_members(o, renamed, 12);
    assert_string_equal(json_string_value(json_object_get(o, "fields.file")), "f");
    assert_string_equal(json_string_value(json_object_get(o, "file")), "x.c");
    json_decref(o);

    o = format_checked(&r, 0); /* nothing optional: the user keys are free */
    static const char *const kept[] = {"ts", "level", "logger", "msg", "file", "line", "func",
                                       "thread_id"};
    assert_members(o, kept, 8);
    assert_string_equal(json_string_value(json_object_get(o, "file")), "f");
    json_decref(o);

    r.file = NULL; /* callsite asked for but unknown: file/line/func are free */
    o = format_checked(&r, FMT_JSON_CALLSITE);
    assert_members(o, kept, 8);
    json_decref(o);
}

static void test_fmt_json__many_same_keys_use_growing_suffixes(void **state)
{
    (void)state;
    enum { N = 150 };
    log_field *f = calloc(N, sizeof *f);
    log_field *ctx = calloc(N, sizeof *ctx);
    assert_non_null(f);
    assert_non_null(ctx);
    for (int i = 0; i < N; i++) {
        f[i] = LOG_I64("k", i);
        ctx[i] = LOG_I64("k", -i);
    }
    log_record r = base_record();
    r.ctx_fields = ctx;
    r.n_ctx_fields = N;
    r.fields = f;
    r.n_fields = N;

    for (int round = 0; round < 2; round++) { /* second round: reused key array */
        json_t *o = format_checked(&r, 0);
        assert_int_equal(json_object_size(o), 4 + 2 * N);
        assert_int_equal(json_integer_value(json_object_get(o, "k")), 0);
        assert_int_equal(json_integer_value(json_object_get(o, "ctx.k")), -1);
        assert_int_equal(json_integer_value(json_object_get(o, "ctx.k.149")), -149);
        assert_int_equal(json_integer_value(json_object_get(o, "fields.k")), 0);
        assert_int_equal(json_integer_value(json_object_get(o, "fields.k.150")), 149);
        json_decref(o);
    }
    free(f);
    free(ctx);
}

/* Encode r and parse it back (duplicate keys rejected); fails the test
 * otherwise. */
static json_t *format_parsed(const log_record *r)
{
    fmt_buf_clear(&buf);
    assert_int_equal(fmt_json_record(r, NULL, &buf), 0);
    json_error_t err;
    json_t *o = json_loadb(buf.data, buf.len, JSON_REJECT_DUPLICATES, &err);
    if (!o)
        fail_msg("not JSON: %s", err.text);
    return o;
}

/* Renaming is linear: 20,000 fields of one key (a child logger's bound
 * field repeated by the call, say) took minutes with a rescan per suffix;
 * the names are the same as ever: k, fields.k, fields.k.2, ... */
static void test_fmt_json__20000_same_keys(void **state)
{
    (void)state;
    enum { N = 20000 };
    log_field *f = calloc(N, sizeof *f);
    assert_non_null(f);
    for (int i = 0; i < N; i++)
        f[i] = LOG_I64("k", i);
    log_record r = base_record();
    r.fields = f;
    r.n_fields = N;
    json_t *o = format_parsed(&r);
    assert_int_equal(json_object_size(o), 4 + N);
    assert_int_equal(json_integer_value(json_object_get(o, "k")), 0);
    assert_int_equal(json_integer_value(json_object_get(o, "fields.k")), 1);
    for (int i = 2; i < N; i++) {
        char key[32];
        snprintf(key, sizeof key, "fields.k.%d", i);
        json_t *v = json_object_get(o, key);
        if (!v || json_integer_value(v) != i)
            fail_msg("%s is not %d", key, i);
    }
    json_decref(o);
    free(f);
}

/* 100,000 distinct keys: each found free without a scan of the others. */
static void test_fmt_json__100000_distinct_keys(void **state)
{
    (void)state;
    enum { N = 100000 };
    log_field *f = calloc(N, sizeof *f);
    char(*keys)[16] = calloc(N, sizeof *keys);
    assert_non_null(f);
    assert_non_null(keys);
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], "key%d", i);
        f[i] = LOG_I64(keys[i], i);
    }
    log_record r = base_record();
    r.fields = f;
    r.n_fields = N;
    json_t *o = format_parsed(&r);
    assert_int_equal(json_object_size(o), 4 + N);
    for (int i = 0; i < N; i += 997)
        assert_int_equal(json_integer_value(json_object_get(o, keys[i])), i);
    json_decref(o);
    free(keys);
    free(f);
}

/* Past the size where keys are indexed, a renamed key still takes the
 * smallest free suffix, also when a field took one of them by name. */
static void test_fmt_json__indexed_renaming_takes_smallest_free_suffix(void **state)
{
    (void)state;
    log_field f[26];
    char pad[20][8];
    for (int i = 0; i < 20; i++) {
        snprintf(pad[i], sizeof pad[i], "p%d", i);
        f[i] = LOG_I64(pad[i], i);
    }
    f[20] = LOG_I64("k", 100);
    f[21] = LOG_I64("k", 101);
    f[22] = LOG_I64("fields.k.3", 102);
    f[23] = LOG_I64("k", 103);
    f[24] = LOG_I64("k", 104);
    f[25] = LOG_I64("k", 105);
    log_record r = base_record();
    r.fields = f;
    r.n_fields = 26;
    json_t *o = format_parsed(&r);
    assert_int_equal(json_object_size(o), 4 + 26);
    assert_int_equal(json_integer_value(json_object_get(o, "k")), 100);
    assert_int_equal(json_integer_value(json_object_get(o, "fields.k")), 101);
    assert_int_equal(json_integer_value(json_object_get(o, "fields.k.3")), 102);
    assert_int_equal(json_integer_value(json_object_get(o, "fields.k.2")), 103);
    assert_int_equal(json_integer_value(json_object_get(o, "fields.k.4")), 104);
    assert_int_equal(json_integer_value(json_object_get(o, "fields.k.5")), 105);
    json_decref(o);
}

/* ---- flags, buffer, errors ------------------------------------------------------- */

static void test_fmt_json__callsite_and_thread_flags(void **state)
{
    (void)state;
    log_record r = base_record();
    r.file = "src/a.c";
    r.line = -5;
    r.func = "fn";
    r.thread_id = -77;

    json_t *o = format_checked(&r, FMT_JSON_CALLSITE);
    static const char *const cs[] = {"ts", "level", "logger", "msg", "file", "line", "func"};
    assert_members(o, cs, 7);
    assert_int_equal(json_integer_value(json_object_get(o, "line")), -5);
    json_decref(o);

    o = format_checked(&r, FMT_JSON_THREAD);
    static const char *const th[] = {"ts", "level", "logger", "msg", "thread_id"};
    assert_members(o, th, 5);
    assert_true(json_integer_value(json_object_get(o, "thread_id")) == -77);
    json_decref(o);

    o = format_checked(&r, 0);
    assert_int_equal(json_object_size(o), 4);
    json_decref(o);
}

static void test_fmt_json__appends_after_existing_content(void **state)
{
    (void)state;
    fmt_buf_append(&buf, "prefix;", 7);
    log_record r = base_record();
    log_field f[] = {LOG_STR("k", "v"), LOG_STR("k", "w")};
    r.fields = f;
    r.n_fields = 2;
    json_t *o1 = format_checked(&r, 0); /* key offsets must not assume 0 */
    size_t mid = buf.len;
    json_t *o2 = format_checked(&r, 0);
    assert_memory_equal(buf.data, "prefix;", 7);
    json_error_t e;
    json_t *again = json_loadb(buf.data + 7, mid - 7, JSON_REJECT_DUPLICATES, &e);
    assert_non_null(again);
    assert_true(json_equal(again, o1));
    assert_true(json_equal(o1, o2));
    json_decref(again);
    json_decref(o1);
    json_decref(o2);
}

static void test_fmt_json__oom_buffer_and_bad_arguments(void **state)
{
    (void)state;
    log_record r = base_record();

    fmt_buf_append(&buf, "x", 1);
    buf.oom = 1;
    assert_int_equal(fmt_json_record(&r, NULL, &buf), CTXLOG_ENOMEM);
    assert_int_equal(buf.len, 1);
    fmt_buf_clear(&buf);

    assert_int_equal(fmt_json_record(NULL, NULL, &buf), CTXLOG_EINVAL);
    assert_int_equal(fmt_json_record(&r, NULL, NULL), CTXLOG_EINVAL);
    assert_int_equal(buf.len, 0);
}

static void *format_in_thread(void *arg)
{
    long id = (long)(intptr_t)arg;
    fmt_buf b = {0};
    char err[4096];
    char *result = NULL;

    /* Each thread has its own time cache and key array: different seconds
     * and colliding keys in every thread must not bleed into another. */
    for (int i = 0; i < 2000 && !result; i++) {
        log_record r = base_record();
        r.time.tv_sec += id * 1000 + i;
        log_field f[] = {LOG_I64("msg", id), LOG_I64("msg", i), LOG_STR("level", "x")};
        r.fields = f;
        r.n_fields = 3;
        r.thread_id = id;
        fmt_buf_clear(&b);
        if (jrc_check_record(&r, FMT_JSON_THREAD, &b, NULL, err, sizeof err))
            result = strdup(err);
    }
    fmt_buf_free(&b);
    return result; /* the key array is freed by the thread-exit destructor */
}

static void test_fmt_json__threads_format_concurrently(void **state)
{
    (void)state;
    enum { T = 8 };
    pthread_t th[T];
    for (long i = 0; i < T; i++)
        assert_int_equal(pthread_create(&th[i], NULL, format_in_thread, (void *)(intptr_t)i), 0);
    for (int i = 0; i < T; i++) {
        void *err;
        assert_int_equal(pthread_join(th[i], &err), 0);
        if (err)
            fail_msg("thread %d: %s", i, (char *)err);
    }
}

/* ---- property test --------------------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t rng(void) /* xorshift64*: deterministic across runs and platforms */
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

static size_t random_bytes(char *out, size_t max)
{
    static const char *const pieces[] = {"\xC3\xA9", "\xE4\xB8\xAD", "\xF0\x9F\x98\x80",
                                         "\xE2\x80\xA8", "\xEF\xBF\xBD", "\"", "\\", "\xED\xA0\x80",
                                         "\xF4\x8F\xBF\xBF", "\xE0\xA0"};
    size_t len = (size_t)(rng() % (max + 1)), i = 0;
    while (i < len) {
        uint64_t x = rng();
        switch (x % 10) {
        case 0: case 1: case 2:
            out[i++] = (char)(0x20 + (x >> 8) % 0x5F);
            break;
        case 3:
            out[i++] = (char)((x >> 8) % 3 == 0 ? 0x7F : (x >> 8) % 0x20);
            break;
        case 4: case 5: case 6: case 7:
            out[i++] = (char)(0x80 + (x >> 8) % 0x80);
            break;
        default: {
            const char *p = pieces[(x >> 8) % (sizeof pieces / sizeof pieces[0])];
            for (; *p && i < len; p++)
                out[i++] = *p;
        }
        }
    }
    return len;
}

static void test_fmt_json__random_bytes_match_reference_sanitizer(void **state)
{
    (void)state;
    char msg[301], key[41], val[61];
    char err[4096];

    for (int n = 0; n < 20000; n++) {
        log_record r = base_record();
        size_t mlen = random_bytes(msg, 300);
        r.msg = msg;
        r.msg_len = mlen;

        /* Keys and values are C strings: cut at the first NUL. */
        size_t klen = random_bytes(key, 40);
        key[klen] = 0;
        size_t vlen = random_bytes(val, 60);
        val[vlen] = 0;
        log_field ctx[] = {LOG_STR(n % 3 ? key : "msg", val)};
        log_field f[] = {LOG_STR(key, val), LOG_STR(n % 5 ? "x" : key, n % 7 ? val : NULL)};
        if (n % 2) {
            r.ctx_fields = ctx;
            r.n_ctx_fields = 1;
        }
        r.fields = f;
        r.n_fields = 2;

        fmt_buf_clear(&buf);
        json_t *o = NULL;
        if (jrc_check_record(&r, n % 4 == 0 ? FMT_JSON_THREAD : 0, &buf, &o, err, sizeof err))
            fail_msg("string %d: %s", n, err);

        /* The property itself, stated once more in plain terms. */
        size_t want_len;
        char *want = jrc_sanitize(msg, mlen, &want_len);
        assert_non_null(want);
        assert_str_member(o, "msg", want, want_len);
        free(want);
        json_decref(o);
    }
}

/*
 * fmt_json_check can fail. In a child process (it aborts): a record whose
 * text differs from a fresh encoding by one byte; and the line cache itself
 * spoiled (one byte of the cached line changed), so that the next record of
 * that shape is written wrong from the cache. Each child must die of
 * SIGABRT with the check's message and both texts on stderr; the same
 * children with nothing spoiled exit 0.
 */
#ifndef NDEBUG
enum { SPOIL_NONE, SPOIL_TEXT, SPOIL_CACHE };

static void check_child(int spoil, const char *logpath)
{
    if (spoil != SPOIL_CACHE && logpath == NULL) {
        log_record r = base_record();
        fmt_buf b = {0};
        if (fmt_json_record(&r, NULL, &b) != 0)
            _exit(3);
        if (spoil == SPOIL_TEXT)
            b.data[2] ^= 0x20; /* {"Ts":… */
        fmt_json_check(&r, NULL, b.data, b.len);
        _exit(0);
    }
    if (log_output_set(logpath) != 0 || log_level_set(LOG_LEVEL_INFO) != 0)
        _exit(3);
    CTX_REQUEST("r-check", "u-check", NULL);
    log_info_kv("same shape", LOG_I64("n", 1)); /* encoded, learnt by the cache */
    log_info_kv("same shape", LOG_I64("n", 2)); /* from the cache, checked */
    if (spoil == SPOIL_CACHE && fmt_json_line_spoil() != 0)
        _exit(4); /* nothing cached: the cache was not used */
    log_info_kv("same shape", LOG_I64("n", 3)); /* from the spoiled cache */
    log_shutdown();
    _exit(0);
}

/* Run check_child; returns its wait status, its stderr in *err (malloc'd). */
static int run_check_child(int spoil, const char *logpath, char **err)
{
    char *errpath = ts_temp_path("fmt_json_check.err");
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || dup2(fd, 2) < 0)
            _exit(5);
        check_child(spoil, logpath);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    size_t len;
    *err = ts_read_file(errpath, &len);
    assert_non_null(*err);
    ts_unlink(errpath);
    free(errpath);
    return status;
}

static void assert_aborted_by_check(int status, const char *err, const char *spoiled)
{
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT)
        fail_msg("the check did not abort (status %#x), stderr: %s", status, err);
    assert_non_null(strstr(err, "a JSON record written from a cache differs from a fresh encoding"));
    assert_non_null(strstr(err, spoiled)); /* the wrong text */
}

static void test_fmt_json__check_catches_a_wrong_text(void **state)
{
    (void)state;
    char *err;
    int status = run_check_child(SPOIL_NONE, NULL, &err);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    free(err);
    status = run_check_child(SPOIL_TEXT, NULL, &err);
    assert_aborted_by_check(status, err, "cached: {\"Ts\":");
    assert_non_null(strstr(err, "fresh:  {\"ts\":"));
    free(err);
}

static void test_fmt_json__check_catches_a_spoiled_line_cache(void **state)
{
    (void)state;
    char *logpath = ts_temp_path("fmt_json_check.log");
    char *err;
    int status = run_check_child(SPOIL_NONE, logpath, &err);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("the unspoiled child failed (status %#x), stderr: %s", status, err);
    free(err);
    status = run_check_child(SPOIL_CACHE, logpath, &err);
    assert_aborted_by_check(status, err, ",\"Level\":\"info\"");
    free(err);
    ts_unlink(logpath);
    free(logpath);
}
#endif
/* ---- the walk over a record (log_record_walk) ------------------------------------- */

struct walked {
    json_t *core, *attrs; /* key -> the member's JSON text, parsed */
    json_t *order;        /* attribute keys in order */
    int strings_ok;       /* every STR member's bytes are its JSON text decoded */
};

static int collect_member(const log_member *m, void *payload)
{
    struct walked *w = payload;
    json_t *v = json_loadb(m->json, m->json_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    assert_non_null(v);
    char *key = strndup(m->key, m->key_len);
    if (m->type == LOG_MEMBER_STR &&
        (json_string_length(v) != m->v.str.len ||
         memcmp(json_string_value(v), m->v.str.p, m->v.str.len) != 0))
        w->strings_ok = 0;
    if (m->role == LOG_MEMBER_CORE) {
        json_object_set_new(w->core, key, v);
    } else {
        json_object_set_new(w->attrs, key, v);
        json_array_append_new(w->order, json_stringn(m->key, m->key_len));
    }
    free(key);
    return 0;
}

/* The walk yields exactly the members the OTel preset writes: the same
 * keys (renamed alike), in the same order, with the same values. */
static void test_fmt_json__walk_matches_the_encoder(void **state)
{
    (void)state;
    json_t *obj = json_pack("{s:i, s:[s, f]}", "a", 1, "b", "x", 2.5);
    log_field ctx[] = {
        LOG_STR("request_id", "r-1"),
        LOG_STR("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"),
        LOG_STR("span_id", "00f067aa0ba902b7"),
        LOG_STR("trace_flags", "01"),
        LOG_STR("bad\nkey", "v\xff"),
    };
    log_field fields[] = {
        LOG_STR("request_id", "dup"), LOG_STR("k", "one"),   LOG_STR("k", "two"),
        LOG_I64("n", -5),             LOG_U64("big", 42), LOG_F64("nan", NAN),
        LOG_F64("x", 0.5),            LOG_BOOL("t", true),   LOG_JSON("obj", obj),
        LOG_STR("null", NULL),        LOG_STR("ctl", "a\tb\x7f\xe2\x80\xa8"),
    };
    log_record r = base_record();
    r.msg = "m\xc3";
    r.msg_len = 2;
    r.ctx_fields = ctx;
    r.n_ctx_fields = sizeof ctx / sizeof ctx[0];
    r.fields = fields;
    r.n_fields = sizeof fields / sizeof fields[0];

    log_json_options o = {.preset = LOG_JSON_OTEL};
    fmt_buf_clear(&buf);
    assert_int_equal(fmt_json_record(&r, &o, &buf), 0);
    json_error_t jerr;
    json_t *line = json_loadb(buf.data, buf.len, 0, &jerr);
    if (!line)
        fail_msg("%s: %.*s", jerr.text, (int)buf.len, buf.data);

    struct walked w = {json_object(), json_object(), json_array(), 1};
    assert_int_equal(log_record_walk(&r, collect_member, &w), 0);
    assert_true(w.strings_ok);

    json_t *attrs = json_object_get(line, "attributes");
    assert_true(json_equal(attrs, w.attrs));
    size_t i = 0;
    for (void *it = json_object_iter(attrs); it; it = json_object_iter_next(attrs, it), i++)
        assert_string_equal(json_object_iter_key(it), json_string_value(json_array_get(w.order, i)));
    assert_int_equal(i, json_array_size(w.order));
    assert_non_null(json_object_get(w.attrs, "fields.request_id"));
    assert_non_null(json_object_get(w.attrs, "fields.k"));

    const char *core[] = {"timestamp", "trace_id", "span_id", "flags", "severity_text",
                          "severity_number", "body"};
    for (i = 0; i < sizeof core / sizeof core[0]; i++)
        assert_true(json_equal(json_object_get(line, core[i]), json_object_get(w.core, core[i])));
    assert_true(json_equal(json_object_get(json_object_get(line, "instrumentation_scope"), "name"),
                           json_object_get(w.core, "instrumentation_scope.name")));
    assert_int_equal(json_object_size(w.core), 8);

    /* A non-zero answer stops the walk and is returned. */
    json_decref(w.core);
    json_decref(w.attrs);
    json_decref(w.order);
    json_decref(line);
    json_decref(obj);
    assert_int_equal(log_record_walk(NULL, collect_member, NULL), CTXLOG_EINVAL);
    assert_int_equal(log_record_walk(&r, NULL, NULL), CTXLOG_EINVAL);
}

static int stop_at_two(const log_member *m, void *payload)
{
    (void)m;
    return ++*(int *)payload == 2 ? 42 : 0;
}

static void test_fmt_json__walk_stops_on_request(void **state)
{
    (void)state;
    log_record r = base_record();
    int n = 0;
    assert_int_equal(log_record_walk(&r, stop_at_two, &n), 42);
    assert_int_equal(n, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_fmt_json__member_order, teardown),
        cmocka_unit_test_teardown(test_fmt_json__minimal_record_has_core_members_only, teardown),
        cmocka_unit_test_teardown(test_fmt_json__ts_format_and_round_trip, teardown),
        cmocka_unit_test_teardown(test_fmt_json__ts_out_of_range_stays_rfc3339, teardown),
        cmocka_unit_test_teardown(test_fmt_json__level_names, teardown),
        cmocka_unit_test_teardown(test_fmt_json__string_bytes_are_canonical, teardown),
        cmocka_unit_test_teardown(test_fmt_json__escapes_every_control_char_quote_backslash_del,
                                  teardown),
        cmocka_unit_test_teardown(test_fmt_json__line_separators_escaped_and_preserved, teardown),
        cmocka_unit_test_teardown(test_fmt_json__invalid_utf8_replaced_per_maximal_subpart,
                                  teardown),
        cmocka_unit_test_teardown(test_fmt_json__special_byte_at_every_offset_of_ascii_run,
                                  teardown),
        cmocka_unit_test_teardown(test_fmt_json__sequences_across_internal_chunks, teardown),
        cmocka_unit_test_teardown(test_fmt_json__no_raw_newline_inside_record, teardown),
        cmocka_unit_test_teardown(test_fmt_json__null_msg_logger_key_and_value, teardown),
        cmocka_unit_test_teardown(test_fmt_json__msg_is_length_delimited_and_keeps_nul, teardown),
        cmocka_unit_test_teardown(test_fmt_json__one_mib_message_comes_back_whole, teardown),
        cmocka_unit_test_teardown(test_fmt_json__one_mib_of_control_chars_comes_back_whole,
                                  teardown),
        cmocka_unit_test_teardown(test_fmt_json__one_mib_of_invalid_bytes_all_replaced, teardown),
        cmocka_unit_test_teardown(test_fmt_json__string_bool_and_integer_fields, teardown),
        cmocka_unit_test_teardown(test_fmt_json__u64_above_int64_exact, teardown),
        cmocka_unit_test_teardown(test_fmt_json__doubles_round_trip_as_reals, teardown),
        cmocka_unit_test_teardown(test_fmt_json__nonfinite_doubles_are_strings, teardown),
        cmocka_unit_test_teardown(test_fmt_json__json_fields, teardown),
        cmocka_unit_test_teardown(test_fmt_json__json_fields_jansson_cannot_dump_are_null,
                                  teardown),
        cmocka_unit_test_teardown(test_fmt_json__large_json_field_grows_the_buffer, teardown),
        cmocka_unit_test_teardown(test_fmt_json__field_named_msg_is_renamed, teardown),
        cmocka_unit_test_teardown(test_fmt_json__ctx_field_named_level_is_renamed, teardown),
        cmocka_unit_test_teardown(test_fmt_json__field_same_as_ctx_field_is_renamed, teardown),
        cmocka_unit_test_teardown(test_fmt_json__two_fields_same_name, teardown),
        cmocka_unit_test_teardown(test_fmt_json__renamed_key_already_taken_gets_suffix, teardown),
        cmocka_unit_test_teardown(test_fmt_json__keys_sanitizing_to_same_text_are_renamed,
                                  teardown),
        cmocka_unit_test_teardown(test_fmt_json__escaped_keys_collide_with_equal_text, teardown),
        cmocka_unit_test_teardown(test_fmt_json__optional_keys_reserved_only_when_written,
                                  teardown),
        cmocka_unit_test_teardown(test_fmt_json__many_same_keys_use_growing_suffixes, teardown),
        cmocka_unit_test_teardown(test_fmt_json__20000_same_keys, teardown),
        cmocka_unit_test_teardown(test_fmt_json__100000_distinct_keys, teardown),
        cmocka_unit_test_teardown(test_fmt_json__indexed_renaming_takes_smallest_free_suffix,
                                  teardown),
        cmocka_unit_test_teardown(test_fmt_json__callsite_and_thread_flags, teardown),
        cmocka_unit_test_teardown(test_fmt_json__appends_after_existing_content, teardown),
        cmocka_unit_test_teardown(test_fmt_json__oom_buffer_and_bad_arguments, teardown),
        cmocka_unit_test_teardown(test_fmt_json__threads_format_concurrently, teardown),
        cmocka_unit_test_teardown(test_fmt_json__random_bytes_match_reference_sanitizer, teardown),
#ifndef NDEBUG
        cmocka_unit_test(test_fmt_json__check_catches_a_wrong_text),
        cmocka_unit_test(test_fmt_json__check_catches_a_spoiled_line_cache),
#endif
        cmocka_unit_test_teardown(test_fmt_json__walk_matches_the_encoder, teardown),
        cmocka_unit_test_teardown(test_fmt_json__walk_stops_on_request, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
