/* SPDX-License-Identifier: MIT */
// The public header compiles as C++ too (-std=c++17 -Wall -Wextra -pedantic
// -Werror, see tests/CMakeLists.txt; tests/compile/ checks c++20 and the
// other C++ compiler), beside <syslog.h>, and its macros work there: the
// scopes end with the C++ block like they do in C, and the field macros,
// LOG_KV, the _kvf calls and child loggers make the records they make in C
// (read back with jansson).
#include <ctxlog/ctxlog.h>
#include <ctxlog/otlp.h> /* declarations only: libctxlog-otlp is not linked here */
#include <jansson.h>
#include <syslog.h>

#include <stdlib.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

extern "C" { // this cmocka.h has no C++ guards of its own
#include <cmocka.h>
}

#include "support.h"

static void test_header_cpp__trace_scopes(void **state)
{
    (void)state;
    char out[CTX_TRACEPARENT_LEN + 1];
    {
        CTX_REQUEST_TRACED("r-1", "u-1", "t-1",
                           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        assert_string_equal(ctx_get(CTX_TRACE_ID), "4bf92f3577b34da6a3ce929d0e0e4736");
        {
            CTX_SPAN();
            assert_string_equal(ctx_get(CTX_TRACE_ID), "4bf92f3577b34da6a3ce929d0e0e4736");
            assert_int_equal(ctx_traceparent(out), 0);
            assert_true(ctx_traceparent_valid(out));
        }
        assert_string_equal(ctx_get(CTX_PARENT_SPAN_ID), "00f067aa0ba902b7");
        CTX_SCOPE(CTX_USER_ID, "u-2");
        assert_string_equal(ctx_get(CTX_USER_ID), "u-2");
    }
    assert_null(ctx_get(CTX_TRACE_ID));
    assert_null(ctx_get(CTX_REQUEST_ID));
    assert_int_equal(ctx_traceparent(out), CTXLOG_ESTATE);
    assert_int_equal(LOG_INFO, 6); // syslog's, untouched
}

static const char *str_of(json_t *rec, const char *key)
{
    return json_string_value(json_object_get(rec, key));
}

static void test_header_cpp__fields_request_and_child(void **state)
{
    (void)state;
    char *path = ts_temp_path("cpp.log");
    ts_unlink(path);
    setenv("CTXLOG_OUTPUT", path, 1);
    assert_int_equal(log_configure_env(), 0);

    json_t *obj = json_pack("{s:i}", "a", 1);
    {
        CTX_REQUEST("r-cpp", "u-1", "t-1");
        CTX_SCOPE(CTX_USER_ID, "u-2");
        int ms = 42;
        unsigned long n = 7;
        const char *who = "alice";
        bool ok = true;
        double ratio = 0.5;
        log_info_kv("typed", LOG_STR("s", "text"), LOG_I64("i", -3), LOG_U64("u", 9u),
                    LOG_F64("f", 0.25), LOG_BOOL("b", false), LOG_JSON("j", obj));
        log_info_kv("inferred", LOG_KV("ms", ms), LOG_KV("n", n), LOG_KV("who", who),
                    LOG_KV("ok", ok), LOG_KV("ratio", ratio), LOG_KV("lit", "x"),
                    LOG_KV("j", obj));
        log_info_kvf(("took %d ms", ms), LOG_KV("ms", ms));
        log_info_kv("alone");
        log_logger *child = LOG_CHILD(log_get("app.cpp"), LOG_STR("component", "pool"),
                                      LOG_KV("shard", 4));
        assert_non_null(child);
        log_warn_kv_to(child, "from the child", LOG_KV("k", 1));
        log_logger_free(child);
    }
    json_decref(obj);
    log_shutdown();
    unsetenv("CTXLOG_OUTPUT");

    json_t *recs = ts_read_records(path);
    assert_int_equal(json_array_size(recs), 5);
    for (size_t i = 0; i < 5; i++) {
        json_t *r = json_array_get(recs, i);
        assert_string_equal(str_of(r, "request_id"), "r-cpp");
        assert_string_equal(str_of(r, "user_id"), "u-2");
        assert_string_equal(str_of(r, "tenant_id"), "t-1");
    }
    json_t *r = json_array_get(recs, 0);
    assert_string_equal(str_of(r, "s"), "text");
    assert_int_equal(json_integer_value(json_object_get(r, "i")), -3);
    assert_int_equal(json_integer_value(json_object_get(r, "u")), 9);
    assert_true(json_real_value(json_object_get(r, "f")) == 0.25);
    assert_true(json_is_false(json_object_get(r, "b")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "j"), "a")), 1);

    r = json_array_get(recs, 1);
    assert_true(json_is_integer(json_object_get(r, "ms")));
    assert_int_equal(json_integer_value(json_object_get(r, "ms")), 42);
    assert_int_equal(json_integer_value(json_object_get(r, "n")), 7);
    assert_string_equal(str_of(r, "who"), "alice");
    assert_true(json_is_true(json_object_get(r, "ok"))); // a C++ bool is a bool
    assert_true(json_is_real(json_object_get(r, "ratio")));
    assert_string_equal(str_of(r, "lit"), "x");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "j"), "a")), 1);

    r = json_array_get(recs, 2);
    assert_string_equal(str_of(r, "msg"), "took 42 ms");
    assert_int_equal(json_integer_value(json_object_get(r, "ms")), 42);

    r = json_array_get(recs, 3);
    assert_string_equal(str_of(r, "msg"), "alone");
    assert_int_equal(json_object_size(r), 7); // ts level logger msg and the three ids

    r = json_array_get(recs, 4);
    assert_string_equal(str_of(r, "logger"), "app.cpp");
    assert_string_equal(str_of(r, "level"), "warn");
    assert_string_equal(str_of(r, "component"), "pool");
    assert_int_equal(json_integer_value(json_object_get(r, "shard")), 4);
    assert_int_equal(json_integer_value(json_object_get(r, "k")), 1);
    json_decref(recs);
    ts_unlink(path);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_cpp__trace_scopes),
        cmocka_unit_test(test_header_cpp__fields_request_and_child),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
