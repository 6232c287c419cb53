/* SPDX-License-Identifier: MIT */
/* Fields whose type comes from the value (LOG_KV), the printf-style calls
 * that carry fields (log_info_kvf …), and the _kv calls with no field.
 * Every line produced is parsed back with jansson. The C++ side of the same
 * macros is tests/test_header_cpp.cpp; what must not compile is checked by
 * tests/compile/. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <cmocka.h>
#include <jansson.h>

#include <ctxlog/ctxlog.h>

#include "support.h"

static char *use_file(const char *name)
{
    char *path = ts_temp_path(name);
    ts_unlink(path);
    unsetenv("CTXLOG_LEVEL");
    unsetenv("CTXLOG_FORMAT");
    setenv("CTXLOG_OUTPUT", path, 1);
    assert_int_equal(log_configure_env(), 0);
    return path;
}

static json_t *finish(char *path)
{
    log_shutdown();
    json_t *recs = ts_read_records(path);
    ts_unlink(path);
    free(path);
    unsetenv("CTXLOG_OUTPUT");
    return recs;
}

/* Each C type gets the field type of its signedness and kind. */
static void test_fields__kv_picks_the_type(void **state)
{
    (void)state;
    char c = 'a';
    signed char sc = -1;
    short s = -2;
    int i = -3;
    long l = -4;
    long long ll = -5;
    int64_t i64 = INT64_MIN;
    ssize_t ss = -6;
    unsigned char uc = 255;
    unsigned short us = 65535;
    unsigned u = UINT32_MAX;
    unsigned long ul = ULONG_MAX;
    unsigned long long ull = ULLONG_MAX;
    size_t sz = 7;
    uint64_t u64 = UINT64_MAX;
    float f = 0.25f;
    double d = 3.7;
    bool b = true;
    char buf[] = "buf";
    char *str = buf;
    const char *cstr = "const";
    json_t *j = json_integer(1);
    const json_t *cj = j;

    struct {
        log_field f;
        log_field_type want;
    } cases[] = {
        {LOG_KV("c", c), LOG_FIELD_I64},     {LOG_KV("sc", sc), LOG_FIELD_I64},
        {LOG_KV("s", s), LOG_FIELD_I64},     {LOG_KV("i", i), LOG_FIELD_I64},
        {LOG_KV("l", l), LOG_FIELD_I64},     {LOG_KV("ll", ll), LOG_FIELD_I64},
        {LOG_KV("i64", i64), LOG_FIELD_I64}, {LOG_KV("ss", ss), LOG_FIELD_I64},
        {LOG_KV("uc", uc), LOG_FIELD_U64},   {LOG_KV("us", us), LOG_FIELD_U64},
        {LOG_KV("u", u), LOG_FIELD_U64},     {LOG_KV("ul", ul), LOG_FIELD_U64},
        {LOG_KV("ull", ull), LOG_FIELD_U64}, {LOG_KV("sz", sz), LOG_FIELD_U64},
        {LOG_KV("u64", u64), LOG_FIELD_U64}, {LOG_KV("f", f), LOG_FIELD_F64},
        {LOG_KV("d", d), LOG_FIELD_F64},     {LOG_KV("b", b), LOG_FIELD_BOOL},
        {LOG_KV("buf", buf), LOG_FIELD_STR}, {LOG_KV("str", str), LOG_FIELD_STR},
        {LOG_KV("cstr", cstr), LOG_FIELD_STR}, {LOG_KV("lit", "lit"), LOG_FIELD_STR},
        {LOG_KV("j", j), LOG_FIELD_JSON},    {LOG_KV("cj", cj), LOG_FIELD_JSON},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        assert_int_equal(cases[k].f.type, cases[k].want);
    }
    /* The values, unchanged. */
    assert_int_equal(cases[0].f.v.i64, 'a');
    assert_true(cases[1].f.v.i64 == -1);
    assert_true(cases[6].f.v.i64 == INT64_MIN);
    assert_true(cases[11].f.v.u64 == ULONG_MAX);
    assert_true(cases[14].f.v.u64 == UINT64_MAX);
    assert_true(cases[15].f.v.f64 == 0.25);
    assert_true(cases[16].f.v.f64 == 3.7);
    assert_true(cases[17].f.v.b);
    assert_ptr_equal(cases[18].f.v.s, buf);
    assert_string_equal(cases[21].f.v.s, "lit");
    assert_ptr_equal(cases[23].f.v.json, j);
    assert_string_equal(cases[4].f.key, "l");
    json_decref(j);
}

/* What the issue saw the typed macros get wrong, written with LOG_KV. */
static void test_fields__kv_record(void **state)
{
    (void)state;
    char *path = use_file("kv.log");
    double ms = 3.7;
    int n = -1;
    const char *name = "disk";
    bool ok = false;
    log_info_kv("kv", LOG_KV("ms", ms), LOG_KV("n", n), LOG_KV("name", name), LOG_KV("ok", ok));
    json_t *recs = finish(path);
    assert_int_equal(json_array_size(recs), 1);
    json_t *r = json_array_get(recs, 0);
    assert_true(json_is_real(json_object_get(r, "ms")));
    assert_true(json_real_value(json_object_get(r, "ms")) == 3.7);
    assert_true(json_is_integer(json_object_get(r, "n")));
    assert_int_equal(json_integer_value(json_object_get(r, "n")), -1);
    assert_string_equal(json_string_value(json_object_get(r, "name")), "disk");
    assert_true(json_is_false(json_object_get(r, "ok")));
    json_decref(recs);
}

static int evaluated;
static int count_evaluation(void)
{
    return ++evaluated;
}

/* A formatted message with fields, after them in the record; the
 * arguments are not evaluated when the level is off. */
static void test_fields__kvf_formats_and_carries_fields(void **state)
{
    (void)state;
    char *path = use_file("kvf.log");
    int ms = 42;
    log_logger *db = log_get("app.db");
    evaluated = 0;
    log_info_kvf(("took %d ms on %s", ms, "db1"), LOG_KV("ms", ms), LOG_STR("db", "db1"));
    log_debug_kvf(("hidden %d", count_evaluation()), LOG_KV("n", count_evaluation()));
    log_warn_kvf_to(db, ("%s", "to a logger"), LOG_KV("k", 1));
    log_error_kvf(("no field, %d%%", 100));
    log_to_kvf(NULL, LOG_LEVEL_INFO, ("plain"));
    assert_int_equal(evaluated, 0);
    json_t *recs = finish(path);
    assert_int_equal(json_array_size(recs), 4);

    json_t *r = json_array_get(recs, 0);
    assert_string_equal(json_string_value(json_object_get(r, "msg")), "took 42 ms on db1");
    assert_string_equal(json_string_value(json_object_get(r, "level")), "info");
    assert_int_equal(json_integer_value(json_object_get(r, "ms")), 42);
    assert_string_equal(json_string_value(json_object_get(r, "db")), "db1");
    assert_int_equal(json_object_size(r), 6); /* ts level logger msg ms db */

    r = json_array_get(recs, 1);
    assert_string_equal(json_string_value(json_object_get(r, "msg")), "to a logger");
    assert_string_equal(json_string_value(json_object_get(r, "logger")), "app.db");
    assert_string_equal(json_string_value(json_object_get(r, "level")), "warn");
    assert_int_equal(json_integer_value(json_object_get(r, "k")), 1);

    r = json_array_get(recs, 2);
    assert_string_equal(json_string_value(json_object_get(r, "msg")), "no field, 100%");
    assert_int_equal(json_object_size(r), 4);
    r = json_array_get(recs, 3);
    assert_string_equal(json_string_value(json_object_get(r, "msg")), "plain");
    assert_int_equal(json_object_size(r), 4);
    json_decref(recs);
}

/* A message longer than the first formatting buffer (256 bytes). */
static void test_fields__kvf_long_message(void **state)
{
    (void)state;
    char *path = use_file("kvf_long.log");
    char big[1001];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    log_info_kvf(("<%s>", big), LOG_KV("len", sizeof big - 1));
    json_t *recs = finish(path);
    assert_int_equal(json_array_size(recs), 1);
    const char *msg = json_string_value(json_object_get(json_array_get(recs, 0), "msg"));
    assert_non_null(msg);
    assert_int_equal(strlen(msg), 1002);
    assert_int_equal(msg[0], '<');
    assert_int_equal(msg[1001], '>');
    assert_int_equal(json_integer_value(json_object_get(json_array_get(recs, 0), "len")), 1000);
    json_decref(recs);
}

/* log_info_kv("x") with no field logs the message alone; the message is
 * not evaluated when the level is off. */
static void test_fields__kv_without_fields(void **state)
{
    (void)state;
    char *path = use_file("nofield.log");
    log_logger *db = log_get("app.db");
    evaluated = 0;
    log_info_kv("alone");
    log_warn_kv_to(db, "alone to a logger");
    log_debug_kv(count_evaluation() ? "hidden" : "hidden");
    log_info_kv((const char *)NULL);
    assert_int_equal(evaluated, 0);
    json_t *recs = finish(path);
    assert_int_equal(json_array_size(recs), 3);
    json_t *r = json_array_get(recs, 0);
    assert_string_equal(json_string_value(json_object_get(r, "msg")), "alone");
    assert_int_equal(json_object_size(r), 4);
    r = json_array_get(recs, 1);
    assert_string_equal(json_string_value(json_object_get(r, "msg")), "alone to a logger");
    assert_string_equal(json_string_value(json_object_get(r, "logger")), "app.db");
    r = json_array_get(recs, 2);
    assert_string_equal(json_string_value(json_object_get(r, "msg")), "");
    json_decref(recs);
}

/* 63 fields, the most one call takes. */
static void test_fields__kv_most_fields(void **state)
{
    (void)state;
    char *path = use_file("most.log");
#define F8(p)                                                                      \
    LOG_KV(p "0", 0), LOG_KV(p "1", 1), LOG_KV(p "2", 2), LOG_KV(p "3", 3), LOG_KV(p "4", 4), \
        LOG_KV(p "5", 5), LOG_KV(p "6", 6), LOG_KV(p "7", 7)
    log_info_kv("many", F8("a"), F8("b"), F8("c"), F8("d"), F8("e"), F8("f"), F8("g"),
                LOG_KV("h0", 0), LOG_KV("h1", 1), LOG_KV("h2", 2), LOG_KV("h3", 3),
                LOG_KV("h4", 4), LOG_KV("h5", 5), LOG_KV("h6", 6));
    log_info_kvf(("%s", "many"), F8("a"), F8("b"), F8("c"), F8("d"), F8("e"), F8("f"), F8("g"),
                 LOG_KV("h0", 0), LOG_KV("h1", 1), LOG_KV("h2", 2), LOG_KV("h3", 3),
                 LOG_KV("h4", 4), LOG_KV("h5", 5), LOG_KV("h6", 6));
#undef F8
    json_t *recs = finish(path);
    assert_int_equal(json_array_size(recs), 2);
    for (size_t k = 0; k < 2; k++) {
        json_t *r = json_array_get(recs, k);
        assert_int_equal(json_object_size(r), 4 + 63);
        assert_int_equal(json_integer_value(json_object_get(r, "h6")), 6);
        assert_int_equal(json_integer_value(json_object_get(r, "g7")), 7);
    }
    json_decref(recs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields__kv_picks_the_type),
        cmocka_unit_test(test_fields__kv_record),
        cmocka_unit_test(test_fields__kvf_formats_and_carries_fields),
        cmocka_unit_test(test_fields__kvf_long_message),
        cmocka_unit_test(test_fields__kv_without_fields),
        cmocka_unit_test(test_fields__kv_most_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
