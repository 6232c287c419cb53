/* SPDX-License-Identifier: MIT */
/* The public header stands alone: it is included first, with nothing before
 * it, compiled with -std=c11 -pedantic -Werror (see tests/CMakeLists.txt),
 * and lives beside <syslog.h>, which owns LOG_INFO, LOG_DEBUG, LOG_ERR. */
#include <ctxlog/ctxlog.h>
#include <ctxlog/otlp.h> /* declarations only: libctxlog-otlp is not linked here */
#include <syslog.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

static void test_header__syslog_names_untouched(void **state)
{
    (void)state;
    /* syslog's priorities keep their values; ours have their own names. */
    assert_int_equal(LOG_INFO, 6);
    assert_int_equal(LOG_DEBUG, 7);
    assert_int_equal(LOG_ERR, 3);
    assert_int_equal(LOG_LEVEL_TRACE, 0);
    assert_true(LOG_LEVEL_TRACE < LOG_LEVEL_DEBUG && LOG_LEVEL_DEBUG < LOG_LEVEL_INFO &&
                LOG_LEVEL_INFO < LOG_LEVEL_WARN && LOG_LEVEL_WARN < LOG_LEVEL_ERROR &&
                LOG_LEVEL_ERROR < LOG_LEVEL_FATAL && LOG_LEVEL_FATAL < LOG_LEVEL_OFF);
    assert_true(CTXLOG_VERSION_HEX >= 0x000100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header__syslog_names_untouched),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
