/* SPDX-License-Identifier: MIT */
/*
 * Key presets of the JSON formatter (default, ECS, OpenTelemetry) and the
 * JSON formatter objects. Every line is parsed back with jansson
 * (JSON_REJECT_DUPLICATES), and members are checked by name, order and value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <ctxlog/config.h>
#include <ctxlog/ctxlog.h>

#include "formatters/fmt_formatter.h"
#include "formatters/fmt_json.h"
#include "support.h"

#define FFFD "\xEF\xBF\xBD"
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

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

static log_json_options opts_of(log_json_preset p, bool callsite, bool thread)
{
    log_json_options o = {.preset = p, .callsite = callsite, .thread_id = thread};
    return o;
}

/* One '\n' at the end and no other byte below 0x20. */
static void assert_one_line(const char *l, size_t n)
{
    assert_true(n > 0);
    assert_int_equal(l[n - 1], '\n');
    for (size_t i = 0; i + 1 < n; i++)
        if ((unsigned char)l[i] < 0x20)
            fail_msg("raw control byte 0x%02x at %zu", (unsigned char)l[i], i);
}

static json_t *parse_line(const char *l, size_t n)
{
    json_error_t err;
    assert_one_line(l, n);
    json_t *o = json_loadb(l, n, JSON_REJECT_DUPLICATES, &err);
    if (!o)
        fail_msg("jansson rejects the line: %s (column %d): %.*s", err.text, err.column, (int)n, l);
    assert_true(json_is_object(o));
    return o;
}

/* Format `r` into a cleared buffer and parse it back. */
static json_t *format(const log_record *r, const log_json_options *o)
{
    fmt_buf_clear(&buf);
    assert_int_equal(fmt_json_record(r, o, &buf), 0);
    return parse_line(buf.data, buf.len);
}

static void assert_members(const json_t *o, const char *const *want, size_t n)
{
    void *it = json_object_iter((json_t *)o);
    for (size_t i = 0; i < n; i++, it = json_object_iter_next((json_t *)o, it)) {
        if (!it)
            fail_msg("%zu members, want %zu", i, n);
        if (strcmp(json_object_iter_key(it), want[i]) != 0)
            fail_msg("member %zu is \"%s\", want \"%s\"", i, json_object_iter_key(it), want[i]);
    }
    if (it)
        fail_msg("extra member \"%s\"", json_object_iter_key(it));
}

static void assert_str(const json_t *o, const char *key, const char *want)
{
    const json_t *v = json_object_get(o, key);
    if (!json_is_string(v))
        fail_msg("member \"%s\" missing or not a string", key);
    assert_string_equal(json_string_value(v), want);
}

static void assert_int(const json_t *o, const char *key, json_int_t want)
{
    const json_t *v = json_object_get(o, key);
    if (!json_is_integer(v))
        fail_msg("member \"%s\" missing or not an integer", key);
    assert_true(json_integer_value(v) == want);
}

static const json_t *attributes(const json_t *o)
{
    const json_t *a = json_object_get(o, "attributes");
    if (!json_is_object(a))
        fail_msg("no \"attributes\" object");
    return a;
}

/* ---- default ------------------------------------------------------------------- */

static void test_fmt_presets__default_output_unchanged(void **state)
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

    /* SPEC section 5, byte for byte, as it was before presets existed. */
    static const char want[] =
        "{\"ts\":\"2026-11-23T10:00:00.123456Z\",\"level\":\"info\",\"logger\":\"app.db\","
        "\"msg\":\"hello\",\"request_id\":\"r-1\",\"user_id\":\"u-7\",\"attempt\":3,"
        "\"method\":\"GET\",\"file\":\"db.c\",\"line\":42,\"func\":\"db_open\","
        "\"thread_id\":4242}\n";
    log_json_options o = opts_of(LOG_JSON_DEFAULT, true, true);
    json_t *j = format(&r, &o);
    assert_int_equal(buf.len, sizeof want - 1);
    assert_memory_equal(buf.data, want, sizeof want - 1);
    json_decref(j);

    /* NULL options and a zeroed struct are the same defaults. */
    static const char want_plain[] =
        "{\"ts\":\"2026-11-23T10:00:00.123456Z\",\"level\":\"info\",\"logger\":\"app.db\","
        "\"msg\":\"hello\",\"request_id\":\"r-1\",\"user_id\":\"u-7\",\"attempt\":3,"
        "\"method\":\"GET\"}\n";
    j = format(&r, NULL);
    assert_int_equal(buf.len, sizeof want_plain - 1);
    assert_memory_equal(buf.data, want_plain, sizeof want_plain - 1);
    json_decref(j);
    log_json_options zero = {0};
    j = format(&r, &zero);
    assert_int_equal(buf.len, sizeof want_plain - 1);
    assert_memory_equal(buf.data, want_plain, sizeof want_plain - 1);
    json_decref(j);
}

/* ---- ECS ----------------------------------------------------------------------- */

static void test_fmt_presets__ecs_member_names_order_and_values(void **state)
{
    (void)state;
    log_record r = base_record();
    r.level = LOG_LEVEL_WARN;
    log_field ctx[] = {LOG_STR("request_id", "r-1"), LOG_STR("user_id", "u-7")};
    log_field f[] = {LOG_I64("attempt", 3), LOG_STR("method", "GET")};
    r.ctx_fields = ctx;
    r.n_ctx_fields = 2;
    r.fields = f;
    r.n_fields = 2;
    r.file = "db.c"; /* not asked for: not written */

    log_json_options o = opts_of(LOG_JSON_ECS, false, false);
    json_t *j = format(&r, &o);
    static const char *const want[] = {"@timestamp", "log.level", "log.logger", "message",
                                       "ecs.version", "request_id", "user_id", "attempt",
                                       "method"};
    assert_members(j, want, N_OF(want));
    assert_str(j, "@timestamp", "2026-11-23T10:00:00.123456Z");
    assert_str(j, "log.level", "warn");
    assert_str(j, "log.logger", "app.db");
    assert_str(j, "message", "hello");
    assert_str(j, "ecs.version", "8.11.0");
    assert_str(j, "request_id", "r-1");
    assert_str(j, "user_id", "u-7");
    assert_int(j, "attempt", 3);
    assert_str(j, "method", "GET");
    json_decref(j);
}

static void test_fmt_presets__ecs_callsite_and_thread(void **state)
{
    (void)state;
    log_record r = base_record();
    log_field f[] = {LOG_BOOL("ok", true)};
    r.fields = f;
    r.n_fields = 1;
    r.file = "src/db.c";
    r.line = 7;
    r.func = "db_open";
    r.thread_id = 31337;

    log_json_options o = opts_of(LOG_JSON_ECS, true, true);
    json_t *j = format(&r, &o);
    static const char *const want[] = {"@timestamp", "log.level", "log.logger", "message",
                                       "ecs.version", "ok", "log.origin.file.name",
                                       "log.origin.file.line", "log.origin.function",
                                       "process.thread.id"};
    assert_members(j, want, N_OF(want));
    assert_str(j, "log.origin.file.name", "src/db.c");
    assert_int(j, "log.origin.file.line", 7);
    assert_str(j, "log.origin.function", "db_open");
    assert_int(j, "process.thread.id", 31337);
    json_decref(j);

    /* Each optional group on its own, and a call site without a function. */
    r.func = NULL;
    o = opts_of(LOG_JSON_ECS, true, false);
    j = format(&r, &o);
    static const char *const cs[] = {"@timestamp", "log.level", "log.logger", "message",
                                     "ecs.version", "ok", "log.origin.file.name",
                                     "log.origin.file.line", "log.origin.function"};
    assert_members(j, cs, N_OF(cs));
    assert_true(json_is_null(json_object_get(j, "log.origin.function")));
    json_decref(j);

    o = opts_of(LOG_JSON_ECS, false, true);
    j = format(&r, &o);
    static const char *const th[] = {"@timestamp", "log.level", "log.logger", "message",
                                     "ecs.version", "ok", "process.thread.id"};
    assert_members(j, th, N_OF(th));
    json_decref(j);
}

static void test_fmt_presets__ecs_collisions_are_renamed(void **state)
{
    (void)state;
    log_record r = base_record();
    log_field ctx[] = {LOG_STR("message", "c1"), LOG_STR("log.level", "c2"),
                       LOG_STR("ecs.version", "c3"), LOG_STR("msg", "c4")};
    log_field f[] = {LOG_STR("@timestamp", "f1"),      LOG_STR("message", "f2"),
                     LOG_STR("log.origin.file.name", "f3"), LOG_STR("process.thread.id", "f4"),
                     LOG_STR("ts", "f5"),              LOG_STR("msg", "f6")};
    r.ctx_fields = ctx;
    r.n_ctx_fields = N_OF(ctx);
    r.fields = f;
    r.n_fields = N_OF(f);
    r.file = "a.c";
    r.func = "fn";

    log_json_options o = opts_of(LOG_JSON_ECS, true, true);
    json_t *j = format(&r, &o);
    /* The default preset's names are free in ECS: "msg" and "ts" stay; the
     * call's "msg" then collides with the context's one. */
    static const char *const want[] = {
        "@timestamp", "log.level", "log.logger", "message", "ecs.version",
        "ctx.message", "ctx.log.level", "ctx.ecs.version", "msg",
        "fields.@timestamp", "fields.message", "fields.log.origin.file.name",
        "fields.process.thread.id", "ts", "fields.msg",
        "log.origin.file.name", "log.origin.file.line", "log.origin.function",
        "process.thread.id"};
    assert_members(j, want, N_OF(want));
    assert_str(j, "message", "hello");
    assert_str(j, "ctx.message", "c1");
    assert_str(j, "ctx.log.level", "c2");
    assert_str(j, "ctx.ecs.version", "c3");
    assert_str(j, "ecs.version", "8.11.0");
    assert_str(j, "msg", "c4");
    assert_str(j, "fields.msg", "f6");
    assert_str(j, "fields.log.origin.file.name", "f3");
    assert_str(j, "log.origin.file.name", "a.c");
    json_decref(j);

    /* Optional keys are reserved only when written. */
    o = opts_of(LOG_JSON_ECS, false, false);
    j = format(&r, &o);
    assert_str(j, "log.origin.file.name", "f3");
    assert_str(j, "process.thread.id", "f4");
    assert_null(json_object_get(j, "fields.log.origin.file.name"));
    json_decref(j);
}

/* ---- OpenTelemetry ------------------------------------------------------------- */

static void test_fmt_presets__otel_member_names_order_and_values(void **state)
{
    (void)state;
    log_record r = base_record();
    log_field ctx[] = {LOG_STR("request_id", "r-1"), LOG_STR("user_id", "u-7")};
    log_field f[] = {LOG_I64("attempt", 3), LOG_STR("method", "GET")};
    r.ctx_fields = ctx;
    r.n_ctx_fields = 2;
    r.fields = f;
    r.n_fields = 2;

    log_json_options o = opts_of(LOG_JSON_OTEL, false, false);
    json_t *j = format(&r, &o);
    static const char *const want[] = {"timestamp", "severity_text", "severity_number",
                                       "body", "instrumentation_scope", "attributes"};
    assert_members(j, want, N_OF(want));
    assert_str(j, "timestamp", "2026-11-23T10:00:00.123456Z");
    assert_str(j, "severity_text", "INFO");
    assert_int(j, "severity_number", 9);
    assert_str(j, "body", "hello");

    json_t *scope = json_pack("{s:s}", "name", "app.db");
    assert_true(json_equal(json_object_get(j, "instrumentation_scope"), scope));
    json_decref(scope);

    const json_t *a = attributes(j);
    static const char *const attrs[] = {"request_id", "user_id", "attempt", "method"};
    assert_members(a, attrs, N_OF(attrs));
    assert_str(a, "request_id", "r-1");
    assert_str(a, "user_id", "u-7");
    assert_int(a, "attempt", 3);
    assert_str(a, "method", "GET");
    json_decref(j);
}

static void test_fmt_presets__otel_severity_numbers(void **state)
{
    (void)state;
    static const struct {
        log_level level;
        const char *text;
        int number;
    } cases[] = {
        {LOG_LEVEL_TRACE, "TRACE", 1}, {LOG_LEVEL_DEBUG, "DEBUG", 5},
        {LOG_LEVEL_INFO, "INFO", 9},   {LOG_LEVEL_WARN, "WARN", 13},
        {LOG_LEVEL_ERROR, "ERROR", 17}, {LOG_LEVEL_FATAL, "FATAL", 21},
        {(log_level)6, "UNKNOWN", 0},  {(log_level)-3, "UNKNOWN", 0},
    };
    log_json_options o = opts_of(LOG_JSON_OTEL, false, false);
    for (size_t i = 0; i < N_OF(cases); i++) {
        log_record r = base_record();
        r.level = cases[i].level;
        json_t *j = format(&r, &o);
        assert_str(j, "severity_text", cases[i].text);
        assert_int(j, "severity_number", cases[i].number);
        json_decref(j);
    }

    /* ECS keeps the lowercase names of the default preset. */
    o = opts_of(LOG_JSON_ECS, false, false);
    static const char *const lower[] = {"trace", "debug", "info", "warn", "error", "fatal",
                                        "unknown"};
    for (int l = 0; l <= 6; l++) {
        log_record r = base_record();
        r.level = (log_level)l;
        json_t *j = format(&r, &o);
        assert_str(j, "log.level", lower[l]);
        json_decref(j);
    }
}

static void test_fmt_presets__otel_callsite_and_thread_in_attributes(void **state)
{
    (void)state;
    log_record r = base_record();
    log_field ctx[] = {LOG_STR("request_id", "r-1")};
    r.ctx_fields = ctx;
    r.n_ctx_fields = 1;
    r.file = "src/db.c";
    r.line = -9;
    r.func = "db_open";
    r.thread_id = 99;

    log_json_options o = opts_of(LOG_JSON_OTEL, true, true);
    json_t *j = format(&r, &o);
    static const char *const top[] = {"timestamp", "severity_text", "severity_number",
                                      "body", "instrumentation_scope", "attributes"};
    assert_members(j, top, N_OF(top)); /* nothing added at the top level */
    const json_t *a = attributes(j);
    static const char *const want[] = {"request_id", "code.filepath", "code.lineno",
                                       "code.function", "thread.id"};
    assert_members(a, want, N_OF(want));
    assert_str(a, "code.filepath", "src/db.c");
    assert_int(a, "code.lineno", -9);
    assert_str(a, "code.function", "db_open");
    assert_int(a, "thread.id", 99);
    json_decref(j);

    /* Optional members first in the attributes: no stray comma. */
    r.ctx_fields = NULL;
    r.n_ctx_fields = 0;
    j = format(&r, &o);
    static const char *const only[] = {"code.filepath", "code.lineno", "code.function",
                                       "thread.id"};
    assert_members(attributes(j), only, N_OF(only));
    json_decref(j);

    o = opts_of(LOG_JSON_OTEL, false, true);
    j = format(&r, &o);
    static const char *const th[] = {"thread.id"};
    assert_members(attributes(j), th, 1);
    json_decref(j);

    /* Nothing at all: an empty attributes object, still there. */
    o = opts_of(LOG_JSON_OTEL, false, false);
    j = format(&r, &o);
    assert_members(j, top, N_OF(top));
    assert_int_equal(json_object_size(attributes(j)), 0);
    json_decref(j);
}

static void test_fmt_presets__otel_collisions_inside_attributes(void **state)
{
    (void)state;
    log_record r = base_record();
    log_field ctx[] = {LOG_STR("request_id", "c1"), LOG_STR("code.lineno", "c2")};
    log_field f[] = {LOG_STR("request_id", "f1"), LOG_STR("body", "f2"),
                     LOG_STR("timestamp", "f3"),  LOG_STR("thread.id", "f4"),
                     LOG_STR("k", "f5"),          LOG_STR("fields.k", "f6"),
                     LOG_STR("k", "f7"),          LOG_STR("code.function", "f8")};
    r.ctx_fields = ctx;
    r.n_ctx_fields = N_OF(ctx);
    r.fields = f;
    r.n_fields = N_OF(f);
    r.file = "a.c";
    r.func = "fn";

    log_json_options o = opts_of(LOG_JSON_OTEL, true, true);
    json_t *j = format(&r, &o);
    assert_str(j, "body", "hello"); /* the top level is untouched */
    assert_str(j, "timestamp", "2026-11-23T10:00:00.123456Z");
    const json_t *a = attributes(j);
    /* The core names live outside the attributes: "body" and "timestamp"
     * are free there and stay. */
    static const char *const want[] = {
        "request_id", "ctx.code.lineno", "fields.request_id", "body", "timestamp",
        "fields.thread.id", "k", "fields.k", "fields.k.2", "fields.code.function",
        "code.filepath", "code.lineno", "code.function", "thread.id"};
    assert_members(a, want, N_OF(want));
    assert_str(a, "request_id", "c1");
    assert_str(a, "ctx.code.lineno", "c2");
    assert_str(a, "fields.request_id", "f1");
    assert_str(a, "body", "f2");
    assert_str(a, "fields.thread.id", "f4");
    assert_str(a, "k", "f5");
    assert_str(a, "fields.k", "f6");
    assert_str(a, "fields.k.2", "f7");
    assert_str(a, "fields.code.function", "f8");
    assert_int(a, "code.lineno", 42);
    assert_str(a, "code.function", "fn");
    assert_int(a, "thread.id", 4242);
    json_decref(j);
}

/* ---- every preset ------------------------------------------------------------------ */

static const log_json_preset all_presets[] = {LOG_JSON_DEFAULT, LOG_JSON_ECS, LOG_JSON_OTEL};

/* The object that holds the fields under preset p. */
static const json_t *field_object(const json_t *j, log_json_preset p)
{
    return p == LOG_JSON_OTEL ? attributes(j) : j;
}

static void test_fmt_presets__callsite_needs_a_file(void **state)
{
    (void)state;
    static const char *const names[][3] = {
        {"file", "line", "func"},
        {"log.origin.file.name", "log.origin.file.line", "log.origin.function"},
        {"code.filepath", "code.lineno", "code.function"},
    };
    for (size_t p = 0; p < N_OF(all_presets); p++) {
        log_record r = base_record();
        r.func = "fn"; /* no file: no call site, and its keys are not reserved */
        log_field f[] = {LOG_I64(names[p][0], 1), LOG_I64(names[p][1], 2),
                         LOG_I64(names[p][2], 3)};
        r.fields = f;
        r.n_fields = 3;
        log_json_options o = opts_of(all_presets[p], true, false);
        json_t *j = format(&r, &o);
        const json_t *obj = field_object(j, all_presets[p]);
        for (int k = 0; k < 3; k++)
            assert_int(obj, names[p][k], k + 1);
        json_decref(j);
    }
}

static void test_fmt_presets__hostile_text_in_every_preset(void **state)
{
    (void)state;
    static const char msg[] = "a\nb\x1b[31m\"q\"\\\xff\xe2\x80\xa8\x7f\0z";
    static const char *const msg_key[] = {"msg", "message", "body"};
    static const char *const logger_path[] = {"logger", "log.logger", NULL};

    for (size_t p = 0; p < N_OF(all_presets); p++) {
        log_record r = base_record();
        r.msg = msg;
        r.msg_len = sizeof msg - 1;
        r.logger = "lo\tg\xc0";
        log_field f[] = {LOG_STR("k\n\xfe", "v\r\xed\xa0\x80")};
        r.fields = f;
        r.n_fields = 1;
        log_json_options o = opts_of(all_presets[p], false, false);

        fmt_buf_clear(&buf);
        assert_int_equal(fmt_json_record(&r, &o, &buf), 0);
        json_error_t err;
        assert_one_line(buf.data, buf.len);
        json_t *j = json_loadb(buf.data, buf.len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
        if (!j)
            fail_msg("preset %zu: %s", p, err.text);

        const json_t *m = json_object_get(j, msg_key[p]);
        static const char want_msg[] = "a\nb\x1b[31m\"q\"\\" FFFD "\xe2\x80\xa8\x7f\0z";
        assert_int_equal(json_string_length(m), sizeof want_msg - 1);
        assert_memory_equal(json_string_value(m), want_msg, sizeof want_msg - 1);
        const json_t *lg = logger_path[p]
                               ? json_object_get(j, logger_path[p])
                               : json_object_get(json_object_get(j, "instrumentation_scope"), "name");
        assert_string_equal(json_string_value(lg), "lo\tg" FFFD);
        assert_str(field_object(j, all_presets[p]), "k\n" FFFD, "v\r" FFFD FFFD FFFD);
        json_decref(j);
    }
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t rng(void) /* xorshift64*: deterministic across runs and platforms */
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

/* Names that collide with each other, with core and optional keys of some
 * preset, with renamed forms, or only once sanitized (\xff and \xfe both
 * read as U+FFFD). */
static const char *const hostile_keys[] = {
    "msg", "ts", "level", "message", "@timestamp", "ecs.version", "log.level",
    "body", "timestamp", "severity_text", "attributes", "file", "thread_id",
    "log.origin.file.name", "process.thread.id", "code.filepath", "code.lineno", "thread.id",
    "ctx.msg", "fields.msg", "fields.msg.2", "k", "fields.k", "ctx.k", "\xff", "\xfe",
    FFFD, ("fields." FFFD), "ctx.\xff", "",
};

static void test_fmt_presets__keys_unique_and_nothing_dropped(void **state)
{
    (void)state;
    for (int n = 0; n < 3000; n++) {
        log_json_preset p = all_presets[n % 3];
        log_field ctx[6], f[10];
        size_t nctx = (size_t)(rng() % 7), nf = (size_t)(rng() % 11);
        for (size_t i = 0; i < nctx; i++)
            ctx[i] = LOG_I64(hostile_keys[rng() % N_OF(hostile_keys)], 1000 + (int64_t)i);
        for (size_t i = 0; i < nf; i++)
            f[i] = LOG_I64(hostile_keys[rng() % N_OF(hostile_keys)], 2000 + (int64_t)i);
        log_record r = base_record();
        r.ctx_fields = ctx;
        r.n_ctx_fields = nctx;
        r.fields = f;
        r.n_fields = nf;
        bool cs = rng() & 1, th = rng() & 1;
        r.file = rng() & 1 ? "f.c" : NULL;
        log_json_options o = opts_of(p, cs, th);

        json_t *j = format(&r, &o); /* fails on a duplicate key */
        const json_t *obj = field_object(j, p);
        size_t ncore = p == LOG_JSON_DEFAULT ? 4 : p == LOG_JSON_ECS ? 5 : 0;
        size_t nopt = (cs && r.file ? 3 : 0) + (th ? 1 : 0);
        if (json_object_size(obj) != ncore + nctx + nf + nopt)
            fail_msg("case %d: %zu members, want %zu", n, json_object_size(obj),
                     ncore + nctx + nf + nopt);
        if (p == LOG_JSON_OTEL)
            assert_int_equal(json_object_size(j), 6);

        /* Every field's value is there exactly once. */
        int seen[2][10] = {{0}};
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)obj, key, v) {
            json_int_t x = json_is_integer(v) ? json_integer_value(v) : 0;
            if (x >= 1000 && x < 1000 + (json_int_t)nctx)
                seen[0][x - 1000]++;
            else if (x >= 2000 && x < 2000 + (json_int_t)nf)
                seen[1][x - 2000]++;
        }
        for (size_t i = 0; i < nctx; i++)
            assert_int_equal(seen[0][i], 1);
        for (size_t i = 0; i < nf; i++)
            assert_int_equal(seen[1][i], 1);
        json_decref(j);
    }
}

static void test_fmt_presets__appends_after_existing_content(void **state)
{
    (void)state;
    log_record r = base_record();
    log_field f[] = {LOG_STR("k", "v"), LOG_STR("k", "w")};
    r.fields = f;
    r.n_fields = 2;

    for (size_t p = 0; p < N_OF(all_presets); p++) {
        log_json_options o = opts_of(all_presets[p], true, true);
        fmt_buf_clear(&buf);
        fmt_buf_append(&buf, "prefix;", 7);
        /* Key offsets must not assume the record starts at 0. */
        assert_int_equal(fmt_json_record(&r, &o, &buf), 0);
        size_t mid = buf.len;
        assert_int_equal(fmt_json_record(&r, &o, &buf), 0);
        assert_memory_equal(buf.data, "prefix;", 7);
        json_t *a = parse_line(buf.data + 7, mid - 7);
        json_t *b = parse_line(buf.data + mid, buf.len - mid);
        assert_true(json_equal(a, b));
        assert_str(field_object(a, all_presets[p]), "fields.k", "w");
        json_decref(a);
        json_decref(b);
    }
}

static void test_fmt_presets__bad_preset_and_oom(void **state)
{
    (void)state;
    log_record r = base_record();
    log_json_options bad = {.preset = (log_json_preset)3};

    fmt_buf_append(&buf, "x", 1);
    assert_int_equal(fmt_json_record(&r, &bad, &buf), CTXLOG_EINVAL);
    bad.preset = (log_json_preset)-1;
    assert_int_equal(fmt_json_record(&r, &bad, &buf), CTXLOG_EINVAL);
    assert_int_equal(buf.len, 1);
    assert_null(log_formatter_json(&bad));

    for (size_t p = 0; p < N_OF(all_presets); p++) {
        log_json_options o = opts_of(all_presets[p], true, true);
        buf.oom = 1;
        assert_int_equal(fmt_json_record(&r, &o, &buf), CTXLOG_ENOMEM);
        assert_int_equal(buf.len, 1);
        buf.oom = 0;
        assert_int_equal(fmt_json_record(NULL, &o, &buf), CTXLOG_EINVAL);
        assert_int_equal(fmt_json_record(&r, &o, NULL), CTXLOG_EINVAL);
        assert_int_equal(buf.len, 1);
    }
}

/* ---- formatter objects ---------------------------------------------------------------- */

static void test_fmt_presets__json_formatter_objects(void **state)
{
    (void)state;
    log_record r = base_record();
    log_field f[] = {LOG_STR("msg", "x")};
    r.fields = f;
    r.n_fields = 1;
    r.file = "a.c";
    fmt_buf direct = {0};

    for (size_t p = 0; p < N_OF(all_presets); p++) {
        log_json_options o = opts_of(all_presets[p], true, p != 1);
        log_formatter *fm = log_formatter_json(&o);
        assert_non_null(fm);
        o.preset = LOG_JSON_DEFAULT; /* the formatter keeps its own copy */

        fmt_buf_clear(&direct);
        log_json_options want = opts_of(all_presets[p], true, p != 1);
        assert_int_equal(fmt_json_record(&r, &want, &direct), 0);
        for (int tty = 0; tty < 2; tty++) {
            fmt_buf_clear(&buf);
            assert_int_equal(fmt_format(fm, &r, tty, &buf), 0);
            assert_int_equal(buf.len, direct.len);
            assert_memory_equal(buf.data, direct.data, direct.len);
        }
        log_formatter_release(fm);
    }

    /* NULL options, and the shared default, are the default preset. */
    fmt_buf_clear(&direct);
    assert_int_equal(fmt_json_record(&r, NULL, &direct), 0);
    log_formatter *fm = log_formatter_json(NULL);
    assert_non_null(fm);
    log_formatter *def = fmt_formatter_default();
    assert_ptr_equal(def, fmt_formatter_default());
    log_formatter *both[] = {fm, def};
    for (int i = 0; i < 2; i++) {
        fmt_buf_clear(&buf);
        assert_int_equal(fmt_format(both[i], &r, true, &buf), 0);
        assert_int_equal(buf.len, direct.len);
        assert_memory_equal(buf.data, direct.data, direct.len);
    }
    log_formatter_release(fm);

    /* The shared default outlives any number of releases. */
    assert_ptr_equal(fmt_formatter_retain(def), def);
    for (int i = 0; i < 3; i++)
        log_formatter_release(def);
    fmt_buf_clear(&buf);
    assert_int_equal(fmt_format(def, &r, false, &buf), 0);
    assert_int_equal(buf.len, direct.len);
    fmt_buf_free(&direct);
}

/* Each thread formats under its own preset with colliding keys: the
 * per-thread key arrays must not bleed into each other. */
static void *format_in_thread(void *arg)
{
    log_json_preset p = all_presets[(uintptr_t)arg % 3];
    fmt_buf b = {0};
    char *result = NULL;

    for (int i = 0; i < 2000 && !result; i++) {
        log_record r = base_record();
        log_field f[] = {LOG_I64("k", i), LOG_I64("k", -i), LOG_STR("fields.k", "x")};
        r.fields = f;
        r.n_fields = 3;
        log_json_options o = opts_of(p, false, true);
        fmt_buf_clear(&b);
        json_error_t err;
        json_t *j = NULL;
        if (fmt_json_record(&r, &o, &b) != 0 ||
            !(j = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, &err))) {
            result = strdup("unparsable line");
            break;
        }
        const json_t *obj = p == LOG_JSON_OTEL ? json_object_get(j, "attributes") : j;
        if (json_integer_value(json_object_get(obj, "k")) != i ||
            json_integer_value(json_object_get(obj, "fields.k")) != -i ||
            !json_is_string(json_object_get(obj, "fields.fields.k")))
            result = strdup("wrong member");
        json_decref(j);
    }
    fmt_buf_free(&b);
    return result;
}

static void test_fmt_presets__threads_with_different_presets(void **state)
{
    (void)state;
    enum { T = 6 };
    pthread_t th[T];
    for (uintptr_t i = 0; i < T; i++)
        assert_int_equal(pthread_create(&th[i], NULL, format_in_thread, (void *)i), 0);
    for (int i = 0; i < T; i++) {
        void *err;
        assert_int_equal(pthread_join(th[i], &err), 0);
        if (err) {
            char copy[64];
            snprintf(copy, sizeof copy, "%s", (char *)err);
            free(err);
            fail_msg("thread %d: %s", i, copy);
        }
    }
}

/* ---- the trace variables (SPEC section 8) ------------------------------------------ */

#define T_TRACE "4bf92f3577b34da6a3ce929d0e0e4736"
#define T_SPAN "00f067aa0ba902b7"
#define T_PARENT "b7ad6b7169203331"

static log_record traced_record(log_field *ctx, size_t n)
{
    log_record r = base_record();
    r.ctx_fields = ctx;
    r.n_ctx_fields = n;
    return r;
}

static void test_fmt_presets__default_trace_after_tenant_id(void **state)
{
    (void)state;
    log_field ctx[] = {LOG_STR("request_id", "r-1"),  LOG_STR("user_id", "u-7"),
                       LOG_STR("tenant_id", "acme"),  LOG_STR("trace_id", T_TRACE),
                       LOG_STR("span_id", T_SPAN),    LOG_STR("trace_flags", "01"),
                       LOG_STR("order", "o-1")};
    log_field f[] = {LOG_I64("attempt", 3)};
    log_record r = traced_record(ctx, N_OF(ctx));
    r.fields = f;
    r.n_fields = 1;
    log_json_options o = opts_of(LOG_JSON_DEFAULT, false, false);
    json_t *j = format(&r, &o);
    static const char *const want[] = {"ts",          "level",          "logger", "msg",
                                       "request_id",  "user_id",        "tenant_id",
                                       "trace_id",    "span_id",        "trace_flags",
                                       "order",       "attempt"};
    assert_members(j, want, N_OF(want));
    assert_str(j, "trace_id", T_TRACE);
    assert_str(j, "span_id", T_SPAN);
    assert_str(j, "trace_flags", "01");
    json_decref(j);
}

static void test_fmt_presets__ecs_trace_and_span_ids(void **state)
{
    (void)state;
    log_field ctx[] = {LOG_STR("request_id", "r-1"), LOG_STR("trace_id", T_TRACE),
                       LOG_STR("span_id", T_SPAN), LOG_STR("trace_flags", "01")};
    /* A call field under ECS's name is renamed, never dropped. */
    log_field f[] = {LOG_STR("trace.id", "mine"), LOG_STR("span_id", "also mine")};
    log_record r = traced_record(ctx, N_OF(ctx));
    r.fields = f;
    r.n_fields = N_OF(f);
    log_json_options o = opts_of(LOG_JSON_ECS, false, false);
    json_t *j = format(&r, &o);
    static const char *const want[] = {"@timestamp",  "log.level",   "log.logger",
                                       "message",     "ecs.version", "request_id",
                                       "trace.id",    "span.id",     "trace_flags",
                                       "fields.trace.id", "span_id"};
    assert_members(j, want, N_OF(want));
    assert_str(j, "trace.id", T_TRACE);
    assert_str(j, "span.id", T_SPAN);
    assert_str(j, "trace_flags", "01");
    assert_str(j, "fields.trace.id", "mine");
    assert_str(j, "span_id", "also mine");
    json_decref(j);
}

static void test_fmt_presets__otel_trace_at_the_top_level(void **state)
{
    (void)state;
    log_field ctx[] = {LOG_STR("request_id", "r-1"), LOG_STR("trace_id", T_TRACE),
                       LOG_STR("span_id", T_SPAN), LOG_STR("trace_flags", "03"),
                       LOG_STR("order", "o-1")};
    log_field f[] = {LOG_STR("trace_id", "a field, not the trace")};
    log_record r = traced_record(ctx, N_OF(ctx));
    r.fields = f;
    r.n_fields = 1;
    log_json_options o = opts_of(LOG_JSON_OTEL, true, true);
    r.file = "db.c";
    json_t *j = format(&r, &o);
    static const char *const want[] = {"timestamp", "trace_id", "span_id", "flags",
                                       "severity_text", "severity_number", "body",
                                       "instrumentation_scope", "attributes"};
    assert_members(j, want, N_OF(want));
    assert_str(j, "trace_id", T_TRACE);
    assert_str(j, "span_id", T_SPAN);
    assert_int(j, "flags", 3);
    const json_t *a = attributes(j);
    static const char *const attrs[] = {"request_id", "order", "trace_id",
                                        "code.filepath", "code.lineno", "code.function",
                                        "thread.id"};
    assert_members(a, attrs, N_OF(attrs));
    assert_str(a, "order", "o-1");
    assert_str(a, "trace_id", "a field, not the trace");
    json_decref(j);
}

/* What OTel cannot put at the top level stays in attributes, once. */
static void test_fmt_presets__otel_odd_trace_values_stay_in_attributes(void **state)
{
    (void)state;
    log_field ctx[] = {LOG_STR("trace_id", T_TRACE), LOG_STR("trace_flags", "0X"),
                       LOG_STR("trace_id", "again"), LOG_I64("span_id", 7),
                       LOG_STR("trace_flags", "1")};
    log_record r = traced_record(ctx, N_OF(ctx));
    log_json_options o = opts_of(LOG_JSON_OTEL, false, false);
    json_t *j = format(&r, &o);
    static const char *const want[] = {"timestamp", "trace_id", "severity_text",
                                       "severity_number", "body", "instrumentation_scope",
                                       "attributes"};
    assert_members(j, want, N_OF(want));
    assert_str(j, "trace_id", T_TRACE);
    const json_t *a = attributes(j);
    static const char *const attrs[] = {"trace_flags", "trace_id", "span_id", "ctx.trace_flags"};
    assert_members(a, attrs, N_OF(attrs));
    assert_str(a, "trace_flags", "0X");
    assert_str(a, "trace_id", "again");
    assert_int(a, "span_id", 7);
    assert_str(a, "ctx.trace_flags", "1");
    json_decref(j);
}

static void test_fmt_presets__no_trace_no_trace_members(void **state)
{
    (void)state;
    log_field ctx[] = {LOG_STR("request_id", "r-1")};
    log_record r = traced_record(ctx, N_OF(ctx));
    static const char *const trace_keys[] = {"trace_id", "span_id", "trace_flags", "flags",
                                             "parent_span_id", "trace.id", "span.id"};
    for (size_t p = 0; p < 3; p++) {
        log_json_options o = opts_of((log_json_preset)p, false, false);
        json_t *j = format(&r, &o);
        const json_t *a = p == LOG_JSON_OTEL ? attributes(j) : j;
        for (size_t k = 0; k < N_OF(trace_keys); k++) {
            assert_null(json_object_get(j, trace_keys[k]));
            assert_null(json_object_get(a, trace_keys[k]));
        }
        json_decref(j);
    }
}

/* Through the logger, one sink per preset: the records of a trace, most of
 * them written from the caches (line cache, context members), which Debug
 * builds check against a fresh encoding of each record. parent_span_id is
 * not stamped: the records carry it as a field of their own. */
static void test_fmt_presets__trace_through_the_logger_in_every_preset(void **state)
{
    (void)state;
    static const char *const names[] = {"default", "ecs", "otel"};
    char *paths[3], *conf = ts_temp_path("trace_presets.json");
    FILE *cf = fopen(conf, "w");
    assert_non_null(cf);
    fprintf(cf, "{\"sinks\": {");
    for (int p = 0; p < 3; p++) {
        char name[64];
        snprintf(name, sizeof name, "trace_%s.log", names[p]);
        paths[p] = ts_temp_path(name);
        ts_unlink(paths[p]);
        fprintf(cf, "%s\"%s\": {\"type\": \"file\", \"path\": \"%s\", \"preset\": \"%s\"}",
                p ? ", " : "", names[p], paths[p], names[p]);
    }
    fprintf(cf, "}, \"loggers\": {\"root\": {\"level\": \"info\", "
                "\"sinks\": [\"default\", \"ecs\", \"otel\"]}}}\n");
    fclose(cf);
    log_config_error err;
    assert_int_equal(log_config_load(conf, &err), 0);

    char spans[2][17];
    {
        CTX_REQUEST_TRACED("r-1", "u-1", "t-1", "00-" T_TRACE "-" T_PARENT "-01");
        snprintf(spans[0], sizeof spans[0], "%s", ctx_get(CTX_SPAN_ID));
        for (int i = 0; i < 20; i++)
            log_info_kv("in request", LOG_I64("i", i),
                        LOG_STR("parent_span_id", ctx_get(CTX_PARENT_SPAN_ID)));
        CTX_SPAN();
        snprintf(spans[1], sizeof spans[1], "%s", ctx_get(CTX_SPAN_ID));
        for (int i = 0; i < 20; i++)
            log_info_kv("in span", LOG_I64("i", i),
                        LOG_STR("parent_span_id", ctx_get(CTX_PARENT_SPAN_ID)));
    }
    log_info("no trace");
    assert_int_equal(log_flush(), 0);

    for (int p = 0; p < 3; p++) {
        json_t *recs = ts_read_records(paths[p]);
        assert_int_equal(json_array_size(recs), 41);
        size_t k;
        json_t *j;
        json_array_foreach(recs, k, j) {
            const json_t *top = j, *a = p == LOG_JSON_OTEL ? attributes(j) : j;
            const char *trace_key = p == LOG_JSON_ECS ? "trace.id" : "trace_id";
            const char *span_key = p == LOG_JSON_ECS ? "span.id" : "span_id";
            if (k == 40) {
                assert_null(json_object_get(top, trace_key));
                assert_null(json_object_get(a, "parent_span_id"));
                continue;
            }
            int in_span = k >= 20;
            assert_str(top, trace_key, T_TRACE);
            assert_str(top, span_key, spans[in_span]);
            assert_str(a, "parent_span_id", in_span ? spans[0] : T_PARENT);
            if (p == LOG_JSON_OTEL)
                assert_int(top, "flags", 1);
            else
                assert_str(top, "trace_flags", "01");
            assert_int(a, "i", (json_int_t)(k % 20));
        }
        json_decref(recs);
        ts_unlink(paths[p]);
        free(paths[p]);
    }
    log_shutdown();
    ts_unlink(conf);
    free(conf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_fmt_presets__default_output_unchanged, teardown),
        cmocka_unit_test_teardown(test_fmt_presets__ecs_member_names_order_and_values, teardown),
        cmocka_unit_test_teardown(test_fmt_presets__ecs_callsite_and_thread, teardown),
        cmocka_unit_test_teardown(test_fmt_presets__ecs_collisions_are_renamed, teardown),
        cmocka_unit_test_teardown(test_fmt_presets__otel_member_names_order_and_values,
                                  teardown),
        cmocka_unit_test_teardown(test_fmt_presets__otel_severity_numbers, teardown),
        cmocka_unit_test_teardown(test_fmt_presets__otel_callsite_and_thread_in_attributes,
                                  teardown),
        cmocka_unit_test_teardown(test_fmt_presets__otel_collisions_inside_attributes, teardown),
        cmocka_unit_test_teardown(test_fmt_presets__callsite_needs_a_file, teardown),
        cmocka_unit_test_teardown(test_fmt_presets__hostile_text_in_every_preset, teardown),
        cmocka_unit_test_teardown(test_fmt_presets__keys_unique_and_nothing_dropped, teardown),
        cmocka_unit_test_teardown(test_fmt_presets__appends_after_existing_content, teardown),
        cmocka_unit_test_teardown(test_fmt_presets__bad_preset_and_oom, teardown),
        cmocka_unit_test_teardown(test_fmt_presets__json_formatter_objects, teardown),
        cmocka_unit_test_teardown(test_fmt_presets__threads_with_different_presets, teardown),
        cmocka_unit_test_teardown(test_fmt_presets__default_trace_after_tenant_id, teardown),
        cmocka_unit_test_teardown(test_fmt_presets__ecs_trace_and_span_ids, teardown),
        cmocka_unit_test_teardown(test_fmt_presets__otel_trace_at_the_top_level, teardown),
        cmocka_unit_test_teardown(test_fmt_presets__otel_odd_trace_values_stay_in_attributes,
                                  teardown),
        cmocka_unit_test_teardown(test_fmt_presets__no_trace_no_trace_members, teardown),
        cmocka_unit_test_teardown(test_fmt_presets__trace_through_the_logger_in_every_preset,
                                  teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
