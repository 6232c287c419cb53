/* SPDX-License-Identifier: MIT */
/*
 * Burst limits per call site (include/ctxlog/policy.h). The clock is the
 * test's own (log_limits.clock), moved by hand, so the counts do not depend
 * on the machine's speed: 1,000,000 identical warnings from 4 threads in one
 * interval under "first 100, then 1 in 1,000" write exactly 1,099 records and
 * one summary of the other 998,901. CTXLOG_STRESS_RECORDS scales the storm
 * down (valgrind).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include <ctxlog/ctxlog.h>

#include "support.h"

#define THREADS 4
#define SEC 1000000000ull

static _Atomic uint64_t fake_ns;
static long storm_records = 1000000;
static atomic_int storm_line; /* the storm's call site */

static uint64_t fake_clock(void *payload)
{
    (void)payload;
    return atomic_load(&fake_ns);
}

static void limits_on(uint32_t first, uint32_t m, log_level exempt)
{
    log_limits l = LOG_LIMITS_INIT;
    l.first = first;
    l.then_one_in = m;
    l.interval_ns = SEC;
    l.exempt = exempt;
    l.clock = fake_clock;
    assert_int_equal(log_limits_set(&l), 0);
}

static void storm(long i)
{
    atomic_store(&storm_line, __LINE__); log_warn_kv("storm", LOG_I64("i", i));
}

static uint64_t written_of(uint64_t n, uint64_t first, uint64_t m)
{
    return n <= first ? n : first + (n - first) / m;
}

static const char *str_of(const json_t *r, const char *k)
{
    return json_string_value(json_object_get(r, k));
}

static int is_summary(const json_t *r)
{
    return strcmp(str_of(r, "msg"), "records suppressed by the burst limit") == 0;
}

static void *storm_thread(void *arg)
{
    long n = (long)(intptr_t)arg;
    CTX_REQUEST("storm-request", NULL, NULL);
    for (long i = 0; i < n; i++)
        storm(i);
    return NULL;
}

static void test_limits__million_warnings_in_one_interval(void **state)
{
    (void)state;
    const char *env = getenv("CTXLOG_STRESS_RECORDS");
    if (env && atol(env) > 0)
        storm_records = atol(env) * 10;
    atomic_store(&fake_ns, 5 * SEC + SEC / 2);
    char *path = ts_log_to_file("limits_storm.log");
    limits_on(100, 1000, LOG_LEVEL_ERROR);
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(
            pthread_create(&th[i], NULL, storm_thread, (void *)(intptr_t)(storm_records / THREADS)),
            0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(log_flush(), 0); /* the interval has not ended: no summary yet */
    atomic_store(&fake_ns, 6 * SEC + SEC / 2);
    json_t *recs = ts_log_collect(path); /* log_flush: the summary is due */
    assert_int_equal(log_limits_set(NULL), 0);

    uint64_t total = (uint64_t)(storm_records / THREADS) * THREADS;
    uint64_t expect = written_of(total, 100, 1000);
    uint64_t storms = 0, summaries = 0, suppressed = 0;
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r) {
        if (is_summary(r)) {
            summaries++;
            suppressed += (uint64_t)json_integer_value(json_object_get(r, "suppressed"));
            assert_string_equal(str_of(r, "level"), "warn");
            assert_int_equal(json_integer_value(json_object_get(r, "limited_line")),
                             atomic_load(&storm_line));
            assert_non_null(strstr(str_of(r, "limited_file"), "test_limits.c"));
            assert_null(json_object_get(r, "request_id")); /* no request's */
            assert_int_equal(i, json_array_size(recs) - 1);
            continue;
        }
        assert_string_equal(str_of(r, "msg"), "storm");
        assert_string_equal(str_of(r, "request_id"), "storm-request");
        storms++;
    }
    print_message("records=%llu written=%llu summaries=%llu suppressed=%llu\n",
                  (unsigned long long)total, (unsigned long long)storms,
                  (unsigned long long)summaries, (unsigned long long)suppressed);
    assert_int_equal(storms, expect);
    assert_int_equal(summaries, 1);
    assert_int_equal(storms + suppressed, total);
    json_decref(recs);
}

static void test_limits__each_interval_summarized_by_the_next_record(void **state)
{
    (void)state;
    enum { INTERVALS = 10, PER = 10000 };
    atomic_store(&fake_ns, 100 * SEC);
    char *path = ts_log_to_file("limits_intervals.log");
    limits_on(100, 1000, LOG_LEVEL_ERROR);
    for (int k = 0; k < INTERVALS; k++) {
        atomic_store(&fake_ns, (100 + (uint64_t)k) * SEC + 1);
        for (long i = 0; i < PER; i++)
            storm(k * PER + i);
    }
    atomic_store(&fake_ns, (100 + INTERVALS) * SEC + 1);
    json_t *recs = ts_log_collect(path);
    assert_int_equal(log_limits_set(NULL), 0);
    /* Interval k: its 109 records, then (just before interval k+1's first
     * record, or at the flush for the last) one summary of 9,891. */
    uint64_t w = written_of(PER, 100, 1000);
    assert_int_equal(json_array_size(recs), INTERVALS * (w + 1));
    for (int k = 0; k < INTERVALS; k++) {
        for (uint64_t j = 0; j < w; j++) {
            const json_t *r = json_array_get(recs, (size_t)(k * (w + 1) + j));
            assert_string_equal(str_of(r, "msg"), "storm");
            json_int_t at = json_integer_value(json_object_get(r, "i")) - k * PER;
            /* the first 100, then the 1000th, 2000th … after them */
            assert_int_equal(at, j < 100 ? (json_int_t)j : (json_int_t)(99 + (j - 99) * 1000));
        }
        const json_t *s = json_array_get(recs, (size_t)(k * (w + 1) + w));
        assert_true(is_summary(s));
        assert_int_equal(json_integer_value(json_object_get(s, "suppressed")), PER - w);
    }
    json_decref(recs);
}

static void test_limits__errors_exempt_and_sites_apart(void **state)
{
    (void)state;
    atomic_store(&fake_ns, 200 * SEC);
    char *path = ts_log_to_file("limits_exempt.log");
    limits_on(2, 1000, LOG_LEVEL_ERROR);
    for (int i = 0; i < 50; i++)
        log_error_kv("exempt", LOG_I64("i", i));
    for (int i = 0; i < 50; i++)
        log_info_kv("site a", LOG_I64("i", i));
    for (int i = 0; i < 50; i++)
        log_info_kv("site b", LOG_I64("i", i));
    assert_int_equal(log_limits_set(NULL), 0); /* owed summaries now */
    json_t *recs = ts_log_collect(path);
    int exempt = 0, a = 0, b = 0, summaries = 0;
    json_int_t suppressed = 0;
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r) {
        const char *m = str_of(r, "msg");
        if (is_summary(r)) {
            summaries++;
            suppressed += json_integer_value(json_object_get(r, "suppressed"));
            assert_string_equal(str_of(r, "level"), "info");
        } else if (strcmp(m, "exempt") == 0) {
            exempt++;
        } else if (strcmp(m, "site a") == 0) {
            a++;
        } else {
            assert_string_equal(m, "site b");
            b++;
        }
    }
    assert_int_equal(exempt, 50);
    assert_int_equal(a, 2);
    assert_int_equal(b, 2);
    assert_int_equal(summaries, 2);
    assert_int_equal(suppressed, 96);
    json_decref(recs);
}

static void test_limits__off_by_default_and_bad_arguments(void **state)
{
    (void)state;
    char *path = ts_log_to_file("limits_off.log");
    for (int i = 0; i < 500; i++)
        log_info("not limited");
    json_t *recs = ts_log_collect(path);
    assert_int_equal(json_array_size(recs), 500);
    json_decref(recs);

    log_limits l = LOG_LIMITS_INIT;
    l.version = 99;
    assert_int_equal(log_limits_set(&l), CTXLOG_EINVAL);
    l = (log_limits)LOG_LIMITS_INIT;
    l.first = 0;
    assert_int_equal(log_limits_set(&l), CTXLOG_EINVAL);
    l = (log_limits)LOG_LIMITS_INIT;
    l.then_one_in = 0;
    assert_int_equal(log_limits_set(&l), CTXLOG_EINVAL);
    l = (log_limits)LOG_LIMITS_INIT;
    l.interval_ns = 1000;
    assert_int_equal(log_limits_set(&l), CTXLOG_EINVAL);
    l = (log_limits)LOG_LIMITS_INIT;
    l.exempt = (log_level)42;
    assert_int_equal(log_limits_set(&l), CTXLOG_EINVAL);
    assert_int_equal(log_limits_set(NULL), 0);
}

/* Limits changed in the middle of an interval, changed again, then turned
 * off: what was counted under each limits is summarized under them, so the
 * written records plus the summaries' counts are exactly those logged. */
static void burst(long i)
{
    log_info_kv("burst", LOG_I64("i", i));
}

static void test_limits__changed_mid_interval_counts_stay_exact(void **state)
{
    (void)state;
    atomic_store(&fake_ns, 20 * SEC + SEC / 4);
    char *path = ts_log_to_file("limits_change.log");
    long logged = 0;
    limits_on(10, 5, LOG_LEVEL_ERROR);
    for (int k = 0; k < 100; k++)
        burst(logged++);
    limits_on(3, 7, LOG_LEVEL_ERROR); /* same interval, other limits */
    for (int k = 0; k < 1000; k++)
        burst(logged++);
    limits_on(50, 2, LOG_LEVEL_ERROR);
    for (int k = 0; k < 1000; k++)
        burst(logged++);
    atomic_store(&fake_ns, 21 * SEC + SEC / 4); /* a new interval under them */
    for (int k = 0; k < 400; k++)
        burst(logged++);
    assert_int_equal(log_limits_set(NULL), 0); /* off: the rest written */
    for (int k = 0; k < 100; k++)
        burst(logged++);
    json_t *recs = ts_log_collect(path);

    uint64_t written = 0, suppressed = 0, summaries = 0;
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r) {
        if (is_summary(r)) {
            summaries++;
            suppressed += (uint64_t)json_integer_value(json_object_get(r, "suppressed"));
            continue;
        }
        assert_string_equal(str_of(r, "msg"), "burst");
        written++;
    }
    json_decref(recs);
    assert_int_equal(logged, 2600);
    assert_int_equal(written + suppressed, (uint64_t)logged);
    /* Each stretch under its own limits: 10 + 90/5, 3 + 997/7, 50 + 950/2,
     * 50 + 350/2, then 100 unlimited. */
    assert_int_equal(written, (10 + 18) + (3 + 142) + (50 + 475) + (50 + 175) + 100);
    assert_int_equal(summaries, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limits__million_warnings_in_one_interval),
        cmocka_unit_test(test_limits__each_interval_summarized_by_the_next_record),
        cmocka_unit_test(test_limits__errors_exempt_and_sites_apart),
        cmocka_unit_test(test_limits__off_by_default_and_bad_arguments),
        cmocka_unit_test(test_limits__changed_mid_interval_counts_stay_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
