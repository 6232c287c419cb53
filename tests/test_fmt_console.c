/* SPDX-License-Identifier: MIT */
/*
 * The console formatter (layout, terminal-safe text, quoting, colour) and
 * user formatters plugged into sinks with log_formatter_custom().
 *
 * Lines are compared byte for byte with the layout documented in
 * formatters/fmt_console.h. Local time is pinned with TZ so that the clock
 * column is known. LOG_COLOR_AUTO is checked twice: through fmt_format()'s
 * tty argument, and end to end on a real terminal (openpty) with a stderr
 * sink, which is how the library decides it.
 *
 * This program is linked with --wrap=malloc,--wrap=realloc (see
 * tests/CMakeLists.txt) so that an allocation inside the formatters can be
 * made to fail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <poll.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <jansson.h>

#include <ctxlog/ctxlog.h>

#include "formatters/fmt_console.h"
#include "formatters/fmt_formatter.h"
#include "support.h"

#define FFFD "\xEF\xBF\xBD"
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* 2026-11-23T10:00:00.123456789Z: 10:00:00.123 with TZ=UTC. */
#define T0 1795428000
#define PREFIX "10:00:00.123 INFO  app.db:       "

static fmt_buf buf;

/* ---- allocation failure ------------------------------------------------------------ */

void *__real_malloc(size_t n);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_realloc(void *p, size_t n);

/* -1: allocations succeed; k >= 0: k more succeed, then every one fails. */
static atomic_int alloc_budget = -1;

static int alloc_allowed(void)
{
    int b = atomic_load(&alloc_budget);
    while (b > 0 && !atomic_compare_exchange_weak(&alloc_budget, &b, b - 1))
        ;
    return b != 0;
}

void *__wrap_malloc(size_t n)
{
    return alloc_allowed() ? __real_malloc(n) : NULL;
}

void *__wrap_realloc(void *p, size_t n)
{
    return alloc_allowed() ? __real_realloc(p, n) : NULL;
}

static int group_setup(void **state)
{
    (void)state;
    setenv("TZ", "UTC", 1);
    tzset();
    unsetenv("NO_COLOR");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fmt_buf_free(&buf);
    return 0;
}

static log_record base_record(void)
{
    log_record r = {
        .level = LOG_LEVEL_INFO,
        .time = {.tv_sec = T0, .tv_nsec = 123456789},
        .logger = "app.db",
        .msg = "hello",
        .msg_len = 5,
    };
    return r;
}

/* The record as one console line, NUL-terminated (the NUL is not counted). */
static const char *line_of(const log_record *r, bool color)
{
    fmt_buf_clear(&buf);
    assert_int_equal(fmt_console_record(r, color, &buf), 0);
    assert_false(buf.oom);
    fmt_buf_putc(&buf, '\0');
    buf.len--;
    return buf.data;
}

/* Code points in UTF-8 text (what a terminal shows as columns here). */
static size_t chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/* One '\n', at the end; no other byte a terminal would act on. */
static void assert_terminal_safe(const char *l, size_t n, bool sgr_allowed)
{
    assert_true(n > 0);
    assert_int_equal(l[n - 1], '\n');
    for (size_t i = 0; i + 1 < n; i++) {
        unsigned char c = (unsigned char)l[i];
        if (c == 0x1b && sgr_allowed && l[i + 1] == '[')
            continue;
        if (c < 0x20 || c == 0x7f)
            fail_msg("raw byte 0x%02x at %zu: %.*s", c, i, (int)n, l);
    }
}

/* The line with every SGR sequence ("ESC [ ... m") removed. */
static char *strip_sgr(const char *l)
{
    char *out = malloc(strlen(l) + 1), *o = out;
    assert_non_null(out);
    while (*l) {
        if (l[0] == '\x1b' && l[1] == '[') {
            const char *m = strchr(l, 'm');
            assert_non_null(m);
            l = m + 1;
            continue;
        }
        *o++ = *l++;
    }
    *o = '\0';
    return out;
}

/* ---- layout --------------------------------------------------------------------- */

static void test_fmt_console__layout(void **state)
{
    (void)state;
    log_record r = base_record();
    /* Context fields in an order the formatter must fix: req, user, tenant
     * first, then the others as they come. */
    log_field ctx[] = {LOG_STR("span", "s-1"), LOG_STR("tenant_id", "acme"),
                       LOG_STR("user_id", "u-7"), LOG_I64("shard", 4),
                       LOG_STR("request_id", "0190b6f4-7a3c-7def-8123-456789abcdef")};
    log_field f[] = {LOG_I64("attempt", 3),   LOG_STR("method", "GET"),
                     LOG_BOOL("ok", true),    LOG_F64("ratio", 0.5),
                     LOG_U64("n", UINT64_MAX), LOG_I64("delta", -5)};
    r.ctx_fields = ctx;
    r.n_ctx_fields = N_OF(ctx);
    r.fields = f;
    r.n_fields = N_OF(f);

    assert_string_equal(line_of(&r, false),
                        PREFIX "hello  req=89abcdef user=u-7 tenant=acme span=s-1 shard=4 "
                               "attempt=3 method=GET ok=true ratio=0.5 "
                               "n=18446744073709551615 delta=-5\n");
    assert_terminal_safe(buf.data, buf.len, false);

    /* Only the record's own fields: no context, still two spaces. */
    r.ctx_fields = NULL;
    r.n_ctx_fields = 0;
    r.n_fields = 1;
    assert_string_equal(line_of(&r, false), PREFIX "hello  attempt=3\n");

    /* Nothing after the message: no trailing spaces. */
    r.fields = NULL;
    r.n_fields = 5; /* ignored without an array */
    assert_string_equal(line_of(&r, false), PREFIX "hello\n");

    /* Only some of the known ones. */
    log_field tenant_only[] = {LOG_STR("tenant_id", "acme")};
    r.ctx_fields = tenant_only;
    r.n_ctx_fields = 1;
    assert_string_equal(line_of(&r, false), PREFIX "hello  tenant=acme\n");

    /* A NULL message with a length is an empty message. */
    r.msg = NULL;
    r.n_ctx_fields = 0;
    assert_string_equal(line_of(&r, false), PREFIX "\n");
}

static void test_fmt_console__levels_padded(void **state)
{
    (void)state;
    static const struct {
        int level;
        const char *col;
    } cases[] = {
        {LOG_LEVEL_TRACE, "TRACE "}, {LOG_LEVEL_DEBUG, "DEBUG "}, {LOG_LEVEL_INFO, "INFO  "},
        {LOG_LEVEL_WARN, "WARN  "},  {LOG_LEVEL_ERROR, "ERROR "}, {LOG_LEVEL_FATAL, "FATAL "},
        {6, "?     "},               {-1, "?     "},
    };
    for (size_t i = 0; i < N_OF(cases); i++) {
        log_record r = base_record();
        r.level = (log_level)cases[i].level;
        char want[128];
        snprintf(want, sizeof want, "10:00:00.123 %sapp.db:       hello\n", cases[i].col);
        assert_string_equal(line_of(&r, false), want);
        /* An unknown level is not coloured either, and the line stays one. */
        line_of(&r, true);
        assert_terminal_safe(buf.data, buf.len, true);
    }
}

static void test_fmt_console__clock_is_local_time_to_the_ms(void **state)
{
    (void)state;
    static const struct {
        time_t sec;
        long nsec;
        const char *want;
    } cases[] = {
        {0, 0, "00:00:00.000"},           {59, 999999999, "00:00:59.999"},
        {3601, 5000000, "01:00:01.005"},  {0, 999000, "00:00:00.000"},
        {T0, 123456789, "10:00:00.123"},  {T0 + 86399, 1000000, "09:59:59.001"},
        {0, -1, "00:00:00.000"},          {0, 1999999999, "00:00:00.999"},
    };
    /* In this order, each second differs from the last one formatted: the
     * per-thread cache of "HH:MM:SS" must follow. */
    for (size_t i = 0; i < N_OF(cases); i++) {
        log_record r = base_record();
        r.time.tv_sec = cases[i].sec;
        r.time.tv_nsec = cases[i].nsec;
        const char *l = line_of(&r, false);
        if (strncmp(l, cases[i].want, 12) != 0 || l[12] != ' ')
            fail_msg("case %zu: %.13s, want %s", i, l, cases[i].want);
    }

    /* Local time, not UTC: two hours east. */
    setenv("TZ", "XYZ-2", 1);
    tzset();
    log_record r = base_record();
    r.time.tv_sec = T0 + 1; /* another second than the last one formatted */
    const char *l = line_of(&r, false);
    setenv("TZ", "UTC", 1);
    tzset();
    assert_memory_equal(l, "12:00:01.123 ", 13);
}

static void test_fmt_console__logger_column(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *col; /* the column, ':' and padding included */
    } cases[] = {
        {"app.db", "app.db:       "},
        {"", ":             "},
        {NULL, ":             "},
        {"abcdefghijkl", "abcdefghijkl: "},                   /* exactly 12 */
        {"abcdefghijklm", "\xE2\x80\xA6" "cdefghijklm: "},    /* 13: tail kept */
        {"app.database.pool", "\xE2\x80\xA6" "tabase.pool: "},
        {"caf\xC3\xA9.\xC3\xB1" "and\xC3\xBA", "caf\xC3\xA9.\xC3\xB1" "and\xC3\xBA:   "},
        {"\xC3\xBC" "ber.gr\xC3\xB6\xC3\x9F" "en\xC3\xA4" "nderung",
         "\xE2\x80\xA6\xC3\x9F" "en\xC3\xA4" "nderung: "},
        {"a\nb", "a\\nb:         "},
        {"a\xff", "a" FFFD ":           "},
    };
    for (size_t i = 0; i < N_OF(cases); i++) {
        log_record r = base_record();
        r.logger = cases[i].name;
        char want[128];
        snprintf(want, sizeof want, "10:00:00.123 INFO  %shello\n", cases[i].col);
        const char *l = line_of(&r, false);
        if (strcmp(l, want) != 0)
            fail_msg("case %zu: \"%s\", want \"%s\"", i, l, want);
        /* The message starts in the same column whatever the name. */
        const char *msg = strstr(l, "hello");
        assert_int_equal(chars(l, (size_t)(msg - l)), 13 + 6 + FMT_CONSOLE_LOGGER_WIDTH + 2);
    }
}

/* ---- text safe for a terminal ------------------------------------------------------ */

static void test_fmt_console__message_escaped(void **state)
{
    (void)state;
    static const char in[] = "a\nb\rc\td\x1b[31me\x7f" "f\x01g\x00h"
                             "\xC2\x85" "i\xE2\x80\xAE" "j\xE2\x81\xA6" "k\xE2\x80\xA8"
                             "l\xE2\x80\xA9" "m\xff" "n\xE2\x82" "o\xC3\xA9\xE2\x82\xAC"
                             "p\\q\"r=s t";
    static const char want[] = PREFIX "a\\nb\\rc\\td\\x1b[31me\\x7f" "f\\x01g\\x00h"
                               "\\u0085i\\u202ej\\u2066k\\u2028l\\u2029m" FFFD "n" FFFD
                               "o\xC3\xA9\xE2\x82\xAC" "p\\q\"r=s t\n";
    log_record r = base_record();
    r.msg = in;
    r.msg_len = sizeof in - 1; /* the NUL inside counts */
    assert_string_equal(line_of(&r, false), want);
    assert_terminal_safe(buf.data, buf.len, false);
}

/* Every code point that must not act on the terminal, alone as a message. */
static void test_fmt_console__every_hidden_code_point(void **state)
{
    (void)state;
    char in[8], want[128];
    log_record r = base_record();
    r.msg = in;

    for (unsigned c = 0; c < 0x20; c++) {
        in[0] = (char)c;
        r.msg_len = 1;
        const char *e = c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
        char hex[8];
        snprintf(hex, sizeof hex, "\\x%02x", c);
        snprintf(want, sizeof want, PREFIX "%s\n", e ? e : hex);
        assert_string_equal(line_of(&r, false), want);
    }
    for (unsigned c = 0x80; c < 0xA0; c++) { /* C1 controls */
        in[0] = (char)0xC2;
        in[1] = (char)c;
        r.msg_len = 2;
        snprintf(want, sizeof want, PREFIX "\\u%04x\n", c);
        assert_string_equal(line_of(&r, false), want);
    }
    static const unsigned hidden[] = {0x2028, 0x2029, 0x202A, 0x202B, 0x202C,
                                      0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069};
    for (size_t i = 0; i < N_OF(hidden); i++) {
        unsigned cp = hidden[i];
        in[0] = (char)(0xE0 | cp >> 12);
        in[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        in[2] = (char)(0x80 | (cp & 0x3F));
        r.msg_len = 3;
        snprintf(want, sizeof want, PREFIX "\\u%04x\n", cp);
        assert_string_equal(line_of(&r, false), want);
    }
    /* Their neighbours are ordinary text and print as they are. */
    static const char *const plain[] = {"\xC2\xA0", "\xE2\x80\xA7", "\xE2\x80\xAF",
                                        "\xE2\x81\xA5", "\xE2\x81\xAA", "\xF0\x9F\x98\x80"};
    for (size_t i = 0; i < N_OF(plain); i++) {
        r.msg = plain[i];
        r.msg_len = strlen(plain[i]);
        snprintf(want, sizeof want, PREFIX "%s\n", plain[i]);
        assert_string_equal(line_of(&r, false), want);
    }
}

static void test_fmt_console__invalid_utf8_replaced(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *out;
    } cases[] = {
        {"\xff", FFFD},
        {"\xC0\xAF", FFFD FFFD},               /* overlong: two subparts */
        {"\xE2\x82", FFFD},                    /* truncated: one subpart */
        {"\xED\xA0\x80", FFFD FFFD FFFD},      /* surrogate */
        {"\xF4\x90\x80\x80", FFFD FFFD FFFD FFFD}, /* above U+10FFFF */
        {"\x9B" "31m", FFFD "31m"},            /* a lone C1 byte: no 8-bit CSI */
        {"ok\xE2\x82\xAC\xE2", "ok\xE2\x82\xAC" FFFD},
    };
    for (size_t i = 0; i < N_OF(cases); i++) {
        log_record r = base_record();
        r.msg = cases[i].in;
        r.msg_len = strlen(cases[i].in);
        char want[128];
        snprintf(want, sizeof want, PREFIX "%s\n", cases[i].out);
        assert_string_equal(line_of(&r, false), want);
    }
}

static void test_fmt_console__values_quoted_when_needed(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *out;
    } cases[] = {
        {"plain", "plain"},
        {"", "\"\""},
        {"a b", "\"a b\""},
        {"a=b", "\"a=b\""},
        {"say \"hi\"", "\"say \\\"hi\\\"\""},
        {"q\"\\", "\"q\\\"\\\\\""},
        {"c:\\dir", "c:\\dir"}, /* a backslash alone: unambiguous unquoted */
        {"two\nlines", "\"two\\nlines\""},
        {"tab\there", "\"tab\\there\""},
        {"\x1b[2J", "\"\\x1b[2J\""},
        {"del\x7f", "\"del\\x7f\""},
        {"\xE2\x80\xAE" "evil", "\"\\u202eevil\""},
        {"\xC2\x9B" "1m", "\"\\u009b1m\""},
        {"a\xff" "b", "a" FFFD "b"},
        {"caf\xC3\xA9\xE2\x82\xAC", "caf\xC3\xA9\xE2\x82\xAC"},
    };
    for (size_t i = 0; i < N_OF(cases); i++) {
        log_record r = base_record();
        log_field f[] = {LOG_STR("k", cases[i].in)};
        r.fields = f;
        r.n_fields = 1;
        char want[160];
        snprintf(want, sizeof want, PREFIX "hello  k=%s\n", cases[i].out);
        const char *l = line_of(&r, false);
        if (strcmp(l, want) != 0)
            fail_msg("case %zu: \"%s\", want \"%s\"", i, l, want);
        assert_terminal_safe(buf.data, buf.len, false);
    }

    /* Keys are made safe too; a NULL key and a NULL value have a name. */
    log_record r = base_record();
    log_field f[] = {LOG_STR("k\ney", "v"), LOG_STR(NULL, "x"), LOG_STR("s", NULL),
                     LOG_STR("\xE2\x80\xAE", "y")};
    r.fields = f;
    r.n_fields = N_OF(f);
    assert_string_equal(line_of(&r, false),
                        PREFIX "hello  k\\ney=v (null)=x s=null \\u202e=y\n");
}

static void test_fmt_console__other_values(void **state)
{
    (void)state;
    json_t *obj = json_pack("{s:[i,i],s:s}", "a", 1, 2, "s", "x\xE2\x80\xAE" "y\xC2\x85");
    json_t *str = json_string("two\nlines");
    assert_non_null(obj);
    log_record r = base_record();
    log_field f[] = {LOG_F64("nan", NAN),        LOG_F64("inf", INFINITY),
                     LOG_F64("ninf", -INFINITY), LOG_F64("three", 3.0),
                     LOG_F64("tenth", 0.1),      LOG_BOOL("no", false),
                     LOG_JSON("j", obj),         LOG_JSON("s", str),
                     LOG_JSON("none", NULL),     LOG_I64("min", INT64_MIN)};
    r.fields = f;
    r.n_fields = N_OF(f);
    /* JSON values stay JSON text: C1 controls and bidi overrides inside
     * their strings are escaped the JSON way, which jansson does not do. */
    assert_string_equal(line_of(&r, false),
                        PREFIX "hello  nan=NaN inf=+Inf ninf=-Inf three=3.0 tenth=0.1 no=false "
                               "j={\"a\":[1,2],\"s\":\"x\\u202ey\\u0085\"} "
                               "s=\"two\\nlines\" none=null min=-9223372036854775808\n");
    assert_terminal_safe(buf.data, buf.len, false);
    json_decref(obj);
    json_decref(str);
}

/* The ids the library makes tell requests apart on the console: ids made
 * in a row (the same millisecond, mostly: the same first 8 characters)
 * show their random tail, each a different one. 16 ids: two equal 32-bit
 * random tails come once in 3e7 runs. */
static void test_fmt_console__request_id_uuid7_apart(void **state)
{
    (void)state;
    enum { N = 16 };
    char ids[N][CTX_UUID_LEN + 1];
    char shown[N][64];
    for (size_t i = 0; i < N; i++) {
        ctx_uuid7(ids[i]);
        log_record r = base_record();
        log_field ctx[] = {LOG_STR("request_id", ids[i])};
        r.ctx_fields = ctx;
        r.n_ctx_fields = 1;
        const char *l = line_of(&r, false);
        const char *at = strstr(l, "  req=");
        assert_non_null(at);
        snprintf(shown[i], sizeof shown[i], "%s", at + 6);
        char want[16];
        snprintf(want, sizeof want, "%s\n", ids[i] + CTX_UUID_LEN - FMT_CONSOLE_REQ_CHARS);
        assert_string_equal(shown[i], want);
        for (size_t k = 0; k < i; k++)
            assert_string_not_equal(shown[i], shown[k]);
    }
}

static void test_fmt_console__request_id_cut(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *out;
    } cases[] = {
        {"0123456789abcdef", "89abcdef"}, /* the last 8 */
        {"short", "short"},
        {"12345678", "12345678"},
        {"", "\"\""},
        {"\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9",
         "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9"},
        {"x\xC3\xA9" "bcdefgh", "\xC3\xA9" "bcdefgh"}, /* characters, not bytes */
        {"abcdefg hij", "\"defg hij\""},   /* quoted after the cut */
        {"ab cdefghij", "cdefghij"},       /* the space was cut off */
        {"\n\n\n\n\n\n\n\n\n\n", "\"\\n\\n\\n\\n\\n\\n\\n\\n\""},
        {"\xff\xfe\xff\xfe\xff\xfe\xff\xfe\xff", FFFD FFFD FFFD FFFD FFFD FFFD FFFD FFFD},
    };
    for (size_t i = 0; i < N_OF(cases); i++) {
        log_record r = base_record();
        log_field ctx[] = {LOG_STR("request_id", cases[i].in)};
        r.ctx_fields = ctx;
        r.n_ctx_fields = 1;
        char want[160];
        snprintf(want, sizeof want, PREFIX "hello  req=%s\n", cases[i].out);
        const char *l = line_of(&r, false);
        if (strcmp(l, want) != 0)
            fail_msg("case %zu: \"%s\", want \"%s\"", i, l, want);
    }

    /* Only the context's request_id is shortened, not a field of that name,
     * and not the other known ones. */
    log_record r = base_record();
    static const char long_id[] = "0190b6f4-7a3c-7def-8123-456789abcdef";
    log_field ctx[] = {LOG_STR("user_id", long_id), LOG_STR("tenant_id", long_id),
                       LOG_I64("request_id", 1234567890123)};
    log_field f[] = {LOG_STR("request_id", long_id)};
    r.ctx_fields = ctx;
    r.n_ctx_fields = N_OF(ctx);
    r.fields = f;
    r.n_fields = 1;
    char want[256];
    snprintf(want, sizeof want,
             PREFIX "hello  req=1234567890123 user=%s tenant=%s request_id=%s\n", long_id,
             long_id, long_id);
    assert_string_equal(line_of(&r, false), want);
}

/* The trace: a short trace id and the span after the request ids; the
 * flags are left to the JSON records. */
static void test_fmt_console__trace_id_short(void **state)
{
    (void)state;
    log_record r = base_record();
    log_field ctx[] = {LOG_STR("request_id", "r-1"),
                       LOG_STR("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"),
                       LOG_STR("span_id", "00f067aa0ba902b7"), LOG_STR("trace_flags", "01"),
                       LOG_I64("shard", 4)};
    r.ctx_fields = ctx;
    r.n_ctx_fields = N_OF(ctx);
    assert_string_equal(line_of(&r, false),
                        PREFIX "hello  req=r-1 trace=4bf92f35 span=00f067aa0ba902b7 shard=4\n");
    assert_terminal_safe(buf.data, buf.len, false);

    /* A hand-set trace id is shown as safely as any value. */
    log_field odd[] = {LOG_STR("trace_id", "\x1b[31mred\x1b[0m")};
    r.ctx_fields = odd;
    r.n_ctx_fields = 1;
    assert_string_equal(line_of(&r, false), PREFIX "hello  trace=\"\\x1b[31mred\"\n");
    assert_terminal_safe(buf.data, buf.len, false);
}

/* ---- colour ------------------------------------------------------------------------ */

static void test_fmt_console__color_wraps_the_level_only(void **state)
{
    (void)state;
    static const char *const sgr[] = {"\x1b[2m", "\x1b[2m", "\x1b[32m",
                                      "\x1b[33m", "\x1b[31m", "\x1b[1;31m"};
    static const char *const names[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"};
    log_field f[] = {LOG_STR("k", "\x1b[31mred")};
    for (int lv = 0; lv < 6; lv++) {
        log_record r = base_record();
        r.level = (log_level)lv;
        r.fields = f;
        r.n_fields = 1;
        r.msg = "m\x1b]0;title\x07";
        r.msg_len = strlen(r.msg);
        char *plain = strdup(line_of(&r, false));
        assert_non_null(plain);
        assert_null(strchr(plain, '\x1b'));
        const char *colored = line_of(&r, true);
        char want[64];
        snprintf(want, sizeof want, "10:00:00.123 %s%s\x1b[0m ", sgr[lv], names[lv]);
        assert_memory_equal(colored, want, strlen(want));
        /* Exactly one colour and one reset: logged ESC bytes stay escaped. */
        size_t n_esc = 0;
        for (const char *p = colored; *p; p++)
            n_esc += *p == '\x1b';
        assert_int_equal(n_esc, 2);
        char *stripped = strip_sgr(colored);
        assert_string_equal(stripped, plain);
        free(stripped);
        free(plain);
    }
}

/* What fmt_format writes for a console formatter on a sink that is (tty) or
 * is not a terminal: whether the level is coloured. */
static bool colored_by(const log_formatter *f, bool tty)
{
    log_record r = base_record();
    fmt_buf_clear(&buf);
    assert_int_equal(fmt_format(f, &r, tty, &buf), 0);
    fmt_buf_putc(&buf, '\0');
    bool c = strstr(buf.data, "\x1b[32mINFO\x1b[0m") != NULL;
    if (!c)
        assert_null(strchr(buf.data, '\x1b'));
    return c;
}

static void test_fmt_console__color_modes(void **state)
{
    (void)state;
    static const struct {
        const char *no_color; /* NULL: unset */
        bool auto_tty;        /* AUTO on a terminal */
    } env[] = {{NULL, true}, {"", true}, {"1", false}, {"0", false}};

    for (size_t i = 0; i < N_OF(env); i++) {
        if (env[i].no_color)
            setenv("NO_COLOR", env[i].no_color, 1);
        else
            unsetenv("NO_COLOR");
        log_formatter *fa = log_formatter_console(LOG_COLOR_AUTO);
        log_formatter *fy = log_formatter_console(LOG_COLOR_ALWAYS);
        log_formatter *fn = log_formatter_console(LOG_COLOR_NEVER);
        unsetenv("NO_COLOR"); /* read when the formatter is made, not later */
        assert_non_null(fa);
        assert_non_null(fy);
        assert_non_null(fn);

        assert_int_equal(colored_by(fa, true), env[i].auto_tty);
        assert_false(colored_by(fa, false));
        /* An explicit choice in code or configuration wins over NO_COLOR. */
        assert_true(colored_by(fy, true));
        assert_true(colored_by(fy, false));
        assert_false(colored_by(fn, true));
        assert_false(colored_by(fn, false));
        log_formatter_release(fa);
        log_formatter_release(fy);
        log_formatter_release(fn);
    }

    /* NO_COLOR set after the formatter was made does not change it. */
    log_formatter *fa = log_formatter_console(LOG_COLOR_AUTO);
    setenv("NO_COLOR", "1", 1);
    assert_true(colored_by(fa, true));
    unsetenv("NO_COLOR");
    log_formatter_release(fa);

    /* Through the formatter object, the same bytes as the formatter itself. */
    log_formatter *fn = log_formatter_console(LOG_COLOR_NEVER);
    log_record r = base_record();
    fmt_buf direct = {0};
    assert_int_equal(fmt_console_record(&r, false, &direct), 0);
    fmt_buf_clear(&buf);
    assert_int_equal(fmt_format(fn, &r, true, &buf), 0);
    assert_int_equal(buf.len, direct.len);
    assert_memory_equal(buf.data, direct.data, direct.len);
    fmt_buf_free(&direct);
    log_formatter_release(fn);
}

/* ---- on a real terminal --------------------------------------------------------------- */

typedef struct {
    int calls;
    int tty_calls;
} tty_probe;

static int probe_format(const log_record *rec, log_buf *out, bool tty, void *payload)
{
    tty_probe *p = payload;
    p->calls++;
    p->tty_calls += tty;
    log_buf_append(out, tty ? "probe:tty" : "probe:file", tty ? 9 : 10);
    (void)rec;
    return 0;
}

/* Read from the terminal's master side until `want` '\n's arrived (or a
 * second passed without data). Returns a NUL-terminated copy. */
static char *read_pty(int master, int want)
{
    size_t cap = 8192, len = 0;
    char *s = malloc(cap);
    assert_non_null(s);
    int lines = 0;
    while (lines < want && len < cap - 1) {
        struct pollfd p = {.fd = master, .events = POLLIN};
        if (poll(&p, 1, 1000) <= 0)
            break;
        ssize_t n = read(master, s + len, cap - 1 - len);
        if (n <= 0)
            break;
        for (ssize_t i = 0; i < n; i++)
            lines += s[len + (size_t)i] == '\n';
        len += (size_t)n;
    }
    s[len] = '\0';
    return s;
}

/*
 * One round: fd 2 is a terminal; a stderr sink made now and a file sink
 * share one AUTO console formatter (made with NO_COLOR as given), and a
 * second stderr sink has a user formatter that reports the tty flag it got.
 */
static void pty_round(const char *no_color, bool want_color)
{
    int master, slave;
    if (openpty(&master, &slave, NULL, NULL, NULL) != 0)
        skip(); /* no pseudo-terminals here: nothing to test against */
    struct termios t;
    assert_int_equal(tcgetattr(slave, &t), 0);
    cfmakeraw(&t); /* '\n' stays '\n' */
    assert_int_equal(tcsetattr(slave, TCSANOW, &t), 0);

    char *path = ts_temp_path("console-auto.log");
    ts_unlink(path);
    if (no_color)
        setenv("NO_COLOR", no_color, 1);
    else
        unsetenv("NO_COLOR");
    log_formatter *f = log_formatter_console(LOG_COLOR_AUTO);
    unsetenv("NO_COLOR");
    tty_probe probe = {0};
    log_formatter *pf = log_formatter_custom(probe_format, &probe, NULL);
    assert_non_null(f);
    assert_non_null(pf);
    log_sink *file = NULL;
    assert_int_equal(log_sink_file(&file, path, NULL), 0);
    assert_int_equal(log_sink_set_formatter(file, f), 0);

    fflush(stderr);
    int saved = dup(2);
    assert_true(saved >= 0);
    assert_int_equal(dup2(slave, 2), 2);
    /* No assertion until fd 2 is back: a failure must not go to the pty. */
    log_sink *term = log_sink_stderr();
    log_sink *term2 = log_sink_stderr();
    int ok = term && term2 && log_sink_set_formatter(term, f) == 0 &&
             log_sink_set_formatter(term2, pf) == 0 && log_logger_clear_sinks(NULL) == 0 &&
             log_logger_add_sink(NULL, term) == 0 && log_logger_add_sink(NULL, file) == 0 &&
             log_logger_add_sink(NULL, term2) == 0;
    if (ok)
        log_info_kv("on a terminal", LOG_STR("k", "v"));
    log_shutdown();
    log_sink_release(term);
    log_sink_release(term2);
    dup2(saved, 2);
    close(saved);
    close(slave);
    log_sink_release(file);
    log_formatter_release(f);
    log_formatter_release(pf);
    assert_true(ok);

    char *shown = read_pty(master, 2);
    close(master);
    char *saved_file = ts_read_file(path, NULL);
    assert_non_null(saved_file);

    /* The terminal got the console line, coloured or not, and the probe's. */
    const char *l = strstr(shown, "INFO");
    assert_non_null(l);
    if (want_color) {
        assert_non_null(strstr(shown, "\x1b[32mINFO\x1b[0m  root:"));
    } else {
        assert_null(strchr(shown, '\x1b'));
        assert_non_null(strstr(shown, " INFO  root:"));
    }
    assert_non_null(strstr(shown, "on a terminal  k=v\n"));
    assert_non_null(strstr(shown, "probe:tty\n"));
    assert_int_equal(probe.calls, 1);
    assert_int_equal(probe.tty_calls, 1);

    /* The file got the same formatter's line without colour. */
    assert_null(strchr(saved_file, '\x1b'));
    assert_non_null(strstr(saved_file, " INFO  root:         on a terminal  k=v\n"));
    free(saved_file);
    free(shown);
    ts_unlink(path);
    free(path);
}

static void test_fmt_console__auto_color_on_a_terminal(void **state)
{
    (void)state;
    pty_round(NULL, true);
    pty_round("", true);
    pty_round("1", false);
}

static int log_setup(void **state)
{
    (void)state;
    log_shutdown();
    log_level_set(LOG_LEVEL_TRACE);
    return 0;
}

static int log_teardown(void **state)
{
    (void)state;
    log_shutdown();
    unsetenv("CTXLOG_FORMAT");
    unsetenv("CTXLOG_OUTPUT");
    unsetenv("NO_COLOR");
    log_logger_clear_sinks(NULL);
    log_level_set(LOG_LEVEL_INFO);
    fmt_buf_free(&buf);
    return 0;
}

/* A line of the console layout at info from the root logger. */
static void assert_console_line(const char *l, const char *rest)
{
    /* "HH:MM:SS.mmm " */
    for (int i = 0; i < 12; i++) {
        if (i == 2 || i == 5)
            assert_int_equal(l[i], ':');
        else if (i == 8)
            assert_int_equal(l[i], '.');
        else if (l[i] < '0' || l[i] > '9')
            fail_msg("not a clock: %.13s", l);
    }
    assert_string_equal(l + 12, rest);
}

static void test_fmt_console__env_and_config_choose_console(void **state)
{
    (void)state;
    char *path = ts_temp_path("console-env.log");
    ts_unlink(path);
    setenv("CTXLOG_FORMAT", "console", 1);
    setenv("CTXLOG_OUTPUT", path, 1);
    setenv("NO_COLOR", "", 1);
    assert_int_equal(log_configure_env(), 0);
    log_info_kv("from the environment", LOG_I64("n", 1));
    log_debug("below info: not written");
    log_shutdown();
    char *text = ts_read_file(path, NULL);
    assert_non_null(text);
    /* AUTO on a file: no colour. */
    assert_console_line(text, " INFO  root:         from the environment  n=1\n");
    free(text);
    ts_unlink(path);

    /* The configuration file's console sinks: colour as asked. */
    static const char *const colors[] = {"always", "never", "auto"};
    char *cfg = ts_temp_path("console.json");
    for (size_t i = 0; i < N_OF(colors); i++) {
        FILE *fp = fopen(cfg, "w");
        assert_non_null(fp);
        fprintf(fp,
                "{\"sinks\": {\"f\": {\"type\": \"file\", \"path\": \"%s\", "
                "\"format\": \"console\", \"color\": \"%s\"}},"
                " \"loggers\": {\"root\": {\"sinks\": [\"f\"]}}}\n",
                path, colors[i]);
        fclose(fp);
        log_config_error err;
        if (log_config_load(cfg, &err) != 0)
            fail_msg("%s:%d: %s: %s", err.file, err.line, err.key, err.text);
        log_warn("from the file");
        log_shutdown();
        text = ts_read_file(path, NULL);
        assert_non_null(text);
        if (i == 0)
            assert_console_line(text, " \x1b[33mWARN\x1b[0m  root:         from the file\n");
        else
            assert_console_line(text, " WARN  root:         from the file\n");
        free(text);
        ts_unlink(path);
    }
    ts_unlink(cfg);
    free(cfg);
    free(path);
}

static void test_fmt_console__bad_arguments_and_oom(void **state)
{
    (void)state;
    log_record r = base_record();
    assert_null(log_formatter_console((log_color_mode)3));
    assert_null(log_formatter_console((log_color_mode)-1));

    fmt_buf_append(&buf, "x", 1);
    assert_int_equal(fmt_console_record(NULL, false, &buf), CTXLOG_EINVAL);
    assert_int_equal(fmt_console_record(&r, false, NULL), CTXLOG_EINVAL);
    buf.oom = 1;
    assert_int_equal(fmt_console_record(&r, true, &buf), CTXLOG_ENOMEM);
    assert_int_equal(buf.len, 1);
    log_formatter *f = log_formatter_console(LOG_COLOR_NEVER);
    assert_int_equal(fmt_format(f, &r, false, &buf), CTXLOG_ENOMEM);
    assert_int_equal(buf.len, 1);
    buf.oom = 0;
    assert_int_equal(fmt_format(f, NULL, false, &buf), CTXLOG_EINVAL);
    assert_int_equal(fmt_format(NULL, &r, false, &buf), CTXLOG_EINVAL);
    assert_int_equal(buf.len, 1);
    log_formatter_release(f);
    log_formatter_release(NULL);

    /* Appends after what is there; two records, two identical lines. */
    fmt_buf_clear(&buf);
    fmt_buf_append(&buf, "prefix;", 7);
    assert_int_equal(fmt_console_record(&r, false, &buf), 0);
    size_t mid = buf.len;
    assert_int_equal(fmt_console_record(&r, false, &buf), 0);
    assert_memory_equal(buf.data, "prefix;", 7);
    assert_int_equal(buf.len - mid, mid - 7);
    assert_memory_equal(buf.data + 7, buf.data + mid, mid - 7);
    assert_memory_equal(buf.data + 7, PREFIX "hello\n", mid - 7);

    /* A record of 1 MiB is written whole, still one line. */
    size_t big = 1 << 20;
    char *msg = malloc(big);
    assert_non_null(msg);
    for (size_t i = 0; i < big; i++)
        msg[i] = i % 1000 == 999 ? '\n' : 'a';
    r.msg = msg;
    r.msg_len = big;
    line_of(&r, true);
    assert_int_equal(buf.len, strlen(PREFIX) + 9 /* colour */ + big + big / 1000 + 1);
    assert_terminal_safe(buf.data, buf.len, true);
    free(msg);
}

/* A record whose line needs several allocations: a buffer that grows a few
 * times, a long logger name moved to fit the column, and a JSON value with
 * a bidi override (copied to be escaped). */
static int grow_format(const log_record *rec, log_buf *out, bool tty, void *payload)
{
    (void)tty;
    (void)payload;
    for (int i = 0; i < 64; i++)
        log_buf_append(out, rec->msg, rec->msg_len);
    return 0;
}

static void test_fmt_console__out_of_memory_leaves_the_buffer(void **state)
{
    (void)state;
    char msg[600];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = i % 3 ? 'm' : '\x1b';
    json_t *j = json_pack("{s:s}", "s", "\xE2\x80\xAE");
    assert_non_null(j);
    log_field f[] = {LOG_JSON("j", j)};
    log_record r = base_record();
    r.logger = "a.rather.long.logger.name.that.is.cut";
    r.msg = msg;
    r.msg_len = sizeof msg;
    r.fields = f;
    r.n_fields = 1;
    log_formatter *custom = log_formatter_custom(grow_format, NULL, NULL);
    assert_non_null(custom);

    fmt_buf full = {0};
    assert_int_equal(fmt_console_record(&r, true, &full), 0);

    /* The k-th allocation fails, for every k the line needs; then none. */
    int failures = 0;
    for (int k = 0;; k++) {
        fmt_buf_free(&buf);
        fmt_buf_append(&buf, "keep", 4);
        atomic_store(&alloc_budget, k);
        int rc = fmt_console_record(&r, true, &buf);
        atomic_store(&alloc_budget, -1);
        if (rc == 0) {
            assert_int_equal(buf.len, 4 + full.len);
            assert_memory_equal(buf.data + 4, full.data, full.len);
            break;
        }
        failures++;
        assert_int_equal(rc, CTXLOG_ENOMEM);
        assert_true(buf.oom);
        assert_int_equal(buf.len, 4); /* no half line behind */
        assert_memory_equal(buf.data, "keep", 4);
        assert_true(k < 50);
    }
    assert_true(failures >= 3);

    /* A user formatter's partial output goes too. */
    for (int k = 0;; k++) {
        fmt_buf_free(&buf);
        fmt_buf_append(&buf, "keep", 4);
        atomic_store(&alloc_budget, k);
        int rc = fmt_format(custom, &r, false, &buf);
        atomic_store(&alloc_budget, -1);
        if (rc == 0) {
            assert_int_equal(buf.len, 4 + 64 * sizeof msg + 1);
            break;
        }
        assert_int_equal(rc, CTXLOG_ENOMEM);
        assert_int_equal(buf.len, 4);
        assert_true(k < 50);
    }
    log_formatter_release(custom);
    fmt_buf_free(&full);
    json_decref(j);
}

/* ---- user formatters ------------------------------------------------------------------ */

typedef struct {
    int releases;
    int calls;
    bool add_newline;
    const char *skip; /* a message to skip, after writing part of it */
} custom_state;

static int custom_format(const log_record *rec, log_buf *out, bool tty, void *payload)
{
    custom_state *st = payload;
    st->calls++;
    char line[160];
    int n = snprintf(line, sizeof line, "%s|%s|%.*s|%s%s", log_level_name(rec->level),
                     rec->logger, (int)rec->msg_len, rec->msg, tty ? "tty" : "notty",
                     st->add_newline ? "\n" : "");
    if (st->skip && rec->msg_len == strlen(st->skip) &&
        memcmp(rec->msg, st->skip, rec->msg_len) == 0) {
        log_buf_append(out, "half a line", 11); /* must not reach the sink */
        return -1;
    }
    log_buf_append(out, line, (size_t)n);
    return 0;
}

static void custom_release(void *payload)
{
    ((custom_state *)payload)->releases++;
}

static void test_fmt_console__custom_formatter_bytes_written(void **state)
{
    (void)state;
    char *path = ts_temp_path("custom.log");
    custom_state nl = {.add_newline = true}, no_nl = {.add_newline = false};
    log_formatter *f_nl = log_formatter_custom(custom_format, &nl, custom_release);
    log_formatter *f_no = log_formatter_custom(custom_format, &no_nl, custom_release);
    assert_non_null(f_nl);
    assert_non_null(f_no);

    for (int round = 0; round < 2; round++) {
        ts_unlink(path);
        log_sink *s = NULL;
        assert_int_equal(log_sink_file(&s, path, NULL), 0);
        assert_int_equal(log_sink_set_formatter(s, round ? f_no : f_nl), 0);
        assert_int_equal(log_logger_clear_sinks(NULL), 0);
        assert_int_equal(log_logger_add_sink(NULL, s), 0);
        log_sink_release(s);
        log_info("hello");
        log_warn_to(log_get("app.db"), "second %d", 2);
        log_shutdown();
        size_t len;
        char *text = ts_read_file(path, &len);
        assert_non_null(text);
        /* Exactly the formatter's bytes; a forgotten '\n' is added, once. */
        static const char want[] = "info|root|hello|notty\nwarn|app.db|second 2|notty\n";
        assert_int_equal(len, sizeof want - 1);
        assert_memory_equal(text, want, sizeof want - 1);
        free(text);
    }
    assert_int_equal(nl.calls, 2);
    assert_int_equal(no_nl.calls, 2);
    log_formatter_release(f_nl);
    log_formatter_release(f_no);
    assert_int_equal(nl.releases, 1);
    assert_int_equal(no_nl.releases, 1);
    ts_unlink(path);
    free(path);
}

static void test_fmt_console__custom_formatter_released_once(void **state)
{
    (void)state;
    custom_state st = {0};
    /* Not made: the payload stays the caller's, release is not called. */
    assert_null(log_formatter_custom(NULL, &st, custom_release));
    assert_int_equal(st.releases, 0);

    log_formatter *f = log_formatter_custom(custom_format, &st, custom_release);
    assert_non_null(f);
    char *path = ts_temp_path("custom-release.log");
    ts_unlink(path);
    log_sink *file = NULL;
    assert_int_equal(log_sink_file(&file, path, NULL), 0);
    log_sink *err = log_sink_stderr();
    assert_non_null(err);
    assert_int_equal(log_sink_set_formatter(file, f), 0);
    assert_int_equal(log_sink_set_formatter(err, f), 0);
    assert_int_equal(log_sink_set_level(err, LOG_LEVEL_OFF), 0); /* keep stderr clean */
    log_formatter_release(f); /* the sinks hold it now */
    assert_int_equal(st.releases, 0);

    assert_int_equal(log_logger_clear_sinks(NULL), 0);
    assert_int_equal(log_logger_add_sink(NULL, file), 0);
    assert_int_equal(log_logger_add_sink(log_get("app"), err), 0);
    log_sink_release(file);
    log_sink_release(err);
    log_info("one");
    assert_int_equal(st.releases, 0);
    assert_int_equal(st.calls, 1);

    /* Detaching one sink leaves the other's reference. */
    assert_int_equal(log_logger_clear_sinks(log_get("app")), 0);
    assert_int_equal(st.releases, 0);
    log_info("two");
    assert_int_equal(st.calls, 2);
    /* The last reference goes with the last sink. */
    log_shutdown();
    assert_int_equal(st.releases, 1);
    assert_int_equal(st.calls, 2);
    ts_unlink(path);
    free(path);
}

typedef struct {
    int calls;
    char msgs[4][32];
    char text[4][160];
} cb_log;

static void cb_collect(const log_record *rec, const char *text, size_t len, void *payload)
{
    cb_log *c = payload;
    if (c->calls < 4) {
        snprintf(c->msgs[c->calls], sizeof c->msgs[0], "%.*s", (int)rec->msg_len, rec->msg);
        snprintf(c->text[c->calls], sizeof c->text[0], "%.*s", (int)len, text ? text : "");
    }
    c->calls++;
}

static void test_fmt_console__custom_skip_is_per_sink(void **state)
{
    (void)state;
    custom_state st = {.skip = "secret"};
    log_formatter *skipper = log_formatter_custom(custom_format, &st, custom_release);
    log_formatter *json = log_formatter_json(NULL);
    assert_non_null(skipper);
    assert_non_null(json);

    /* Directly: a skipped record leaves the buffer as it was. */
    log_record r = base_record();
    r.msg = "secret";
    r.msg_len = 6;
    fmt_buf_clear(&buf);
    fmt_buf_append(&buf, "kept", 4);
    assert_int_equal(fmt_format(skipper, &r, false, &buf), 1);
    assert_int_equal(buf.len, 4);
    assert_memory_equal(buf.data, "kept", 4);

    /* Sinks: two with the skipping formatter, one with JSON between them. */
    cb_log a = {0}, b = {0}, c = {0};
    log_sink *sa = log_sink_callback(cb_collect, &a);
    log_sink *sb = log_sink_callback(cb_collect, &b);
    log_sink *sc = log_sink_callback(cb_collect, &c);
    assert_int_equal(log_sink_set_formatter(sa, skipper), 0);
    assert_int_equal(log_sink_set_formatter(sb, json), 0);
    assert_int_equal(log_sink_set_formatter(sc, skipper), 0);
    assert_int_equal(log_logger_clear_sinks(NULL), 0);
    assert_int_equal(log_logger_add_sink(NULL, sa), 0);
    assert_int_equal(log_logger_add_sink(NULL, sb), 0);
    assert_int_equal(log_logger_add_sink(NULL, sc), 0);
    log_sink_release(sa);
    log_sink_release(sb);
    log_sink_release(sc);
    log_formatter_release(skipper);
    log_formatter_release(json);

    log_info("public");
    log_info("secret");
    log_info("after");
    log_shutdown();
    assert_int_equal(st.releases, 1);

    assert_int_equal(a.calls, 2);
    assert_string_equal(a.msgs[0], "public");
    assert_string_equal(a.text[0], "info|root|public|notty\n");
    assert_string_equal(a.msgs[1], "after");
    assert_int_equal(c.calls, 2);
    assert_string_equal(c.text[1], "info|root|after|notty\n");
    assert_int_equal(b.calls, 3);
    assert_string_equal(b.msgs[1], "secret");
    json_error_t e;
    json_t *j = json_loads(b.text[1], 0, &e);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "msg")), "secret");
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_fmt_console__layout, teardown),
        cmocka_unit_test_teardown(test_fmt_console__levels_padded, teardown),
        cmocka_unit_test_teardown(test_fmt_console__clock_is_local_time_to_the_ms, teardown),
        cmocka_unit_test_teardown(test_fmt_console__logger_column, teardown),
        cmocka_unit_test_teardown(test_fmt_console__message_escaped, teardown),
        cmocka_unit_test_teardown(test_fmt_console__every_hidden_code_point, teardown),
        cmocka_unit_test_teardown(test_fmt_console__invalid_utf8_replaced, teardown),
        cmocka_unit_test_teardown(test_fmt_console__values_quoted_when_needed, teardown),
        cmocka_unit_test_teardown(test_fmt_console__other_values, teardown),
        cmocka_unit_test_teardown(test_fmt_console__request_id_cut, teardown),
        cmocka_unit_test_teardown(test_fmt_console__request_id_uuid7_apart, teardown),
        cmocka_unit_test_teardown(test_fmt_console__trace_id_short, teardown),
        cmocka_unit_test_teardown(test_fmt_console__color_wraps_the_level_only, teardown),
        cmocka_unit_test_teardown(test_fmt_console__color_modes, teardown),
        cmocka_unit_test_teardown(test_fmt_console__bad_arguments_and_oom, teardown),
        cmocka_unit_test_teardown(test_fmt_console__out_of_memory_leaves_the_buffer, teardown),
        cmocka_unit_test_setup_teardown(test_fmt_console__auto_color_on_a_terminal, log_setup,
                                        log_teardown),
        cmocka_unit_test_setup_teardown(test_fmt_console__env_and_config_choose_console,
                                        log_setup, log_teardown),
        cmocka_unit_test_setup_teardown(test_fmt_console__custom_formatter_bytes_written,
                                        log_setup, log_teardown),
        cmocka_unit_test_setup_teardown(test_fmt_console__custom_formatter_released_once,
                                        log_setup, log_teardown),
        cmocka_unit_test_setup_teardown(test_fmt_console__custom_skip_is_per_sink, log_setup,
                                        log_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
