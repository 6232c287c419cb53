// The public header compiles as C++ too (-std=c++17 -pedantic -Werror, see
// tests/CMakeLists.txt), beside <syslog.h>, and its scope macros work
// there: the trace scopes end with the C++ block like they do in C.
#include <ctxlog/ctxlog.h>
#include <syslog.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

extern "C" { // this cmocka.h has no C++ guards of its own
#include <cmocka.h>
}

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_cpp__trace_scopes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
