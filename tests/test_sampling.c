/* SPDX-License-Identifier: MIT */
/*
 * Sampling by request (include/ctxlog/policy.h): 100,000 requests at 10 %
 * keep 10 ± 0.5 % of them, each whole (all its info records, from its own
 * thread and a pool task it submits) or not at all, decided by the documented
 * hash alone; warn and above always written; a sampled-out request that
 * fails replays what it did not write; a record changed under its feet
 * is decided by one whole setting. CTXLOG_STRESS_REQUESTS (valgrind)
 * and ThreadSanitizer scale the count down, and the ratio's tolerance with
 * it.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include <ctxlog/ctxlog.h>

#include "log/log_policy.h"
#include "support.h"

#define THREADS 4
#define INFO_PER_REQUEST 3 /* 2 on the request's thread, 1 in a pool task */

/* ThreadSanitizer runs a fifth of them (its tolerance widens to match). */
#if defined(__SANITIZE_THREAD__)
static int total = 20000;
#else
static int total = 100000;
#endif

/* The documented decision, computed here independently: FNV-1a 64 of the
 * id, then fmix64, below ratio × 2^64. */
static int expect_keep(const char *id, double ratio)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char *p = id; *p; p++) {
        h ^= (unsigned char)*p;
        h *= 0x100000001b3ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h < (uint64_t)(ratio * 18446744073709551616.0);
}

static ctx_pool *pool;

static void pooled(void *arg)
{
    log_info_kv("pooled", LOG_I64("n", (int64_t)(intptr_t)arg));
}

static void *serve(void *arg)
{
    intptr_t worker = (intptr_t)arg, failures = 0;
    for (int n = (int)worker; n < total; n += THREADS) {
        char rid[40];
        snprintf(rid, sizeof rid, "req-%08d", n);
        CTX_REQUEST(rid, NULL, NULL);
        log_info_kv("start", LOG_I64("n", n));
        if (ctx_pool_submit(pool, pooled, (void *)(intptr_t)n) != 0)
            failures++;
        log_info_kv("end", LOG_I64("n", n));
        if (n % 1000 == 0)
            log_warn_kv("slow", LOG_I64("n", n)); /* always written */
    }
    return (void *)failures;
}

static void test_sampling__keeps_whole_requests_at_the_ratio(void **state)
{
    (void)state;
    const char *env = getenv("CTXLOG_STRESS_REQUESTS");
    if (env && atoi(env) > 0)
        total = atoi(env) * 10;
    char *path = ts_log_to_file("sampling.log");
    assert_int_equal(log_sampling_set(0.10, LOG_LEVEL_WARN), 0);
    pool = ctx_pool_new(THREADS);
    assert_non_null(pool);
    pthread_t th[THREADS];
    for (intptr_t i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, serve, (void *)i), 0);
    for (int i = 0; i < THREADS; i++) {
        void *failures;
        pthread_join(th[i], &failures);
        assert_null(failures);
    }
    ctx_pool_free(pool);
    assert_int_equal(log_sampling_set(1.0, LOG_LEVEL_WARN), 0);
    json_t *recs = ts_log_collect(path);

    unsigned char *infos = calloc((size_t)total, 1);
    assert_non_null(infos);
    int warns = 0;
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r) {
        json_int_t n = json_integer_value(json_object_get(r, "n"));
        assert_true(n >= 0 && n < total);
        char rid[40];
        snprintf(rid, sizeof rid, "req-%08d", (int)n);
        assert_string_equal(json_string_value(json_object_get(r, "request_id")), rid);
        if (strcmp(json_string_value(json_object_get(r, "level")), "warn") == 0) {
            warns++;
            continue;
        }
        infos[n]++;
    }
    int kept = 0, expected = 0;
    for (int n = 0; n < total; n++) {
        char rid[40];
        snprintf(rid, sizeof rid, "req-%08d", n);
        /* Whole or nothing, and the documented hash decides. */
        assert_true(infos[n] == 0 || infos[n] == INFO_PER_REQUEST);
        assert_int_equal(infos[n] == INFO_PER_REQUEST, expect_keep(rid, 0.10));
        assert_int_equal(log_sampling_keeps(rid), 1); /* sampling is off again */
        kept += infos[n] != 0;
        expected += expect_keep(rid, 0.10);
    }
    assert_int_equal(warns, (total + 999) / 1000);
    double share = (double)kept / total;
    print_message("requests=%d kept=%d share=%.4f\n", total, kept, share);
    /* 10 ± 0.5 % at 100,000 requests; a scaled-down run gets the binomial
     * tolerance of its size (4 standard deviations). */
    double tol = total >= 100000 ? 0.005 : 4 * sqrt(0.1 * 0.9 / total);
    assert_true(fabs(share - 0.10) <= tol);
    assert_int_equal(kept, expected);
    free(infos);
    json_decref(recs);
}

static void test_sampling__trace_id_decides_when_set(void **state)
{
    (void)state;
    assert_int_equal(log_sampling_set(0.5, LOG_LEVEL_WARN), 0);
    char *path = ts_log_to_file("sampling_trace.log");
    int written = 0, expected = 0;
    for (int n = 0; n < 200; n++) {
        char rid[32];
        snprintf(rid, sizeof rid, "same-request-id");
        CTX_REQUEST(rid, NULL, NULL);
        CTX_TRACE(NULL); /* a fresh trace id for each */
        const char *trace = ctx_get(CTX_TRACE_ID);
        assert_non_null(trace);
        assert_int_equal(log_sampling_keeps(trace), expect_keep(trace, 0.5));
        expected += expect_keep(trace, 0.5);
        log_info("x");
    }
    assert_int_equal(log_sampling_set(1.0, LOG_LEVEL_WARN), 0);
    json_t *recs = ts_log_collect(path);
    written = (int)json_array_size(recs);
    /* By the request id alone all 200 would be kept or none. */
    assert_int_equal(written, expected);
    assert_true(written > 0 && written < 200);
    json_decref(recs);
}

static void test_sampling__below_level_and_context_without_ids(void **state)
{
    (void)state;
    assert_int_equal(log_sampling_set(0.0, LOG_LEVEL_INFO), 0); /* every request out */
    assert_int_equal(log_level_set(LOG_LEVEL_DEBUG), 0);
    char *path = ts_temp_path("sampling_below.log");
    ts_unlink(path);
    assert_int_equal(log_output_set(path), 0);
    assert_int_equal(log_level_set(LOG_LEVEL_DEBUG), 0);
    log_debug("no ids: kept");
    {
        CTX_REQUEST("r", NULL, NULL);
        log_debug("sampled out");
        log_info("info: at the level, written");
        log_warn("warn: written");
    }
    assert_int_equal(log_sampling_set(1.0, LOG_LEVEL_WARN), 0);
    json_t *recs = ts_log_collect(path);
    assert_int_equal(json_array_size(recs), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(recs, 0), "msg")),
                        "no ids: kept");
    assert_string_equal(json_string_value(json_object_get(json_array_get(recs, 1), "msg")),
                        "info: at the level, written");
    json_decref(recs);
}

static void test_sampling__sampled_out_request_replays_on_error(void **state)
{
    (void)state;
    assert_int_equal(log_sampling_set(0.0, LOG_LEVEL_WARN), 0);
    char *path = ts_log_to_file("sampling_replay.log");
    {
        CTX_REQUEST("r-out", NULL, NULL);
        LOG_CONTEXT_REPLAY(LOG_LEVEL_DEBUG, 4096);
        log_debug("d");
        log_info("i");
        log_warn("w"); /* written: warn and above always are */
        log_error("e");
    }
    {
        CTX_REQUEST("r-out-2", NULL, NULL);
        log_info("sampled out, no replay: dropped");
    }
    assert_int_equal(log_sampling_set(1.0, LOG_LEVEL_WARN), 0);
    json_t *recs = ts_log_collect(path);
    assert_int_equal(json_array_size(recs), 4);
    const char *msgs[] = {"w", "d", "i", "e"};
    for (size_t i = 0; i < 4; i++) {
        const json_t *r = json_array_get(recs, i);
        assert_string_equal(json_string_value(json_object_get(r, "msg")), msgs[i]);
        assert_int_equal(json_is_true(json_object_get(r, "replayed")), i == 1 || i == 2);
    }
    json_decref(recs);
}

/* Ids that differ only in their last characters (sequential request ids)
 * must spread as well as random ones: every block of 1,000 consecutive ids
 * keeps about 100 at 10 % (±4 standard deviations), not all or none. */
static void test_sampling__sequential_ids_spread(void **state)
{
    (void)state;
    assert_int_equal(log_sampling_set(0.10, LOG_LEVEL_WARN), 0);
    for (int block = 0; block < 20; block++) {
        int kept = 0;
        for (int i = 0; i < 1000; i++) {
            char rid[40];
            snprintf(rid, sizeof rid, "order-%d", block * 1000 + i);
            int k = log_sampling_keeps(rid);
            assert_int_equal(k, expect_keep(rid, 0.10));
            kept += k;
        }
        if (kept < 62 || kept > 138)
            fail_msg("block %d kept %d of 1000 sequential ids at 10 %%", block, kept);
    }
    assert_int_equal(log_sampling_set(1.0, LOG_LEVEL_WARN), 0);
}

/*
 * One publication: while a thread switches between setting A (ratio 0,
 * records below info sampled out) and setting B (ratio 0.5, below warn),
 * threads log info records of a request that B keeps. A writes them (info
 * is not below info), B writes them (the request is kept); only a record
 * that saw A's ratio with B's level drops them. Every record must be
 * written. Each record is in a context of its own (a new snapshot), so
 * that no thread answers from its cached decision.
 */
#if defined(__SANITIZE_THREAD__)
#define SWITCHES 2000
#else
#define SWITCHES 50000
#endif
#define LOGGERS 3

static atomic_int switching;
static atomic_long delivered;
static ctx_var *mark_var;
static char kept_id[32];

static void count_record(const log_record *rec, const char *text, size_t len, void *payload)
{
    (void)rec, (void)text, (void)len, (void)payload;
    atomic_fetch_add(&delivered, 1);
}

static atomic_long mixed, progress;

static void *log_while_switching(void *arg)
{
    (void)arg;
    long n = 0;
    CTX_REQUEST(kept_id, NULL, NULL);
    while (atomic_load(&switching)) {
        CTX_SCOPE(mark_var, "x"); /* a new snapshot: its decision is not cached */
        log_info("kept by both settings");
        n++;
        atomic_fetch_add(&progress, 1);
        /* The decision itself, many times per record: the window between
         * two separate publications is a few instructions wide. */
        for (int i = 0; i < 64; i++) {
            ctx_token t = ctx_set(mark_var, "y");
            if (log__sampled_out(LOG_LEVEL_INFO))
                atomic_fetch_add(&mixed, 1);
            ctx_reset(t);
        }
    }
    return (void *)n;
}

static void test_sampling__setting_changes_are_atomic(void **state)
{
    (void)state;
    for (int i = 0; !kept_id[0]; i++) {
        char id[32];
        snprintf(id, sizeof id, "req-%d", i);
        if (expect_keep(id, 0.5))
            memcpy(kept_id, id, sizeof id);
    }
    mark_var = ctx_var_new("sampling_mark", 0);
    assert_int_equal(log_level_set(LOG_LEVEL_INFO), 0);
    assert_int_equal(log_logger_clear_sinks(NULL), 0);
    log_sink *cb = log_sink_callback(count_record, NULL);
    assert_non_null(cb);
    assert_int_equal(log_logger_add_sink(NULL, cb), 0);
    log_sink_release(cb);
    assert_int_equal(log_sampling_set(0.5, LOG_LEVEL_WARN), 0);
    atomic_store(&delivered, 0);
    atomic_store(&switching, 1);
    pthread_t th[LOGGERS];
    for (int i = 0; i < LOGGERS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, log_while_switching, NULL), 0);
    /* Until the loggers have made some records under the switching too. */
    for (long i = 0; i < SWITCHES || atomic_load(&progress) < 2000; i++) {
        assert_int_equal(log_sampling_set(0.0, LOG_LEVEL_INFO), 0);
        assert_int_equal(log_sampling_set(0.5, LOG_LEVEL_WARN), 0);
    }
    atomic_store(&switching, 0);
    long logged = 0;
    for (int i = 0; i < LOGGERS; i++) {
        void *n;
        pthread_join(th[i], &n);
        logged += (long)n;
    }
    assert_int_equal(log_sampling_set(1.0, LOG_LEVEL_WARN), 0);
    print_message("logged=%ld delivered=%ld\n", logged, atomic_load(&delivered));
    assert_true(logged > 0);
    print_message("decisions that mixed two settings: %ld\n", atomic_load(&mixed));
    assert_int_equal(atomic_load(&mixed), 0);
    assert_int_equal(atomic_load(&delivered), logged);
    log_shutdown();
}

static void test_sampling__bad_arguments(void **state)
{
    (void)state;
    assert_int_equal(log_sampling_set(-0.1, LOG_LEVEL_WARN), CTXLOG_EINVAL);
    assert_int_equal(log_sampling_set(1.5, LOG_LEVEL_WARN), CTXLOG_EINVAL);
    assert_int_equal(log_sampling_set(NAN, LOG_LEVEL_WARN), CTXLOG_EINVAL);
    assert_int_equal(log_sampling_set(0.5, LOG_LEVEL_ERROR), CTXLOG_EINVAL);
    assert_int_equal(log_sampling_set(0.5, LOG_LEVEL_TRACE), CTXLOG_EINVAL);
    assert_int_equal(log_sampling_keeps(NULL), 1);
    assert_int_equal(log_sampling_keeps("anything"), 1); /* off */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sampling__keeps_whole_requests_at_the_ratio),
        cmocka_unit_test(test_sampling__trace_id_decides_when_set),
        cmocka_unit_test(test_sampling__below_level_and_context_without_ids),
        cmocka_unit_test(test_sampling__sampled_out_request_replays_on_error),
        cmocka_unit_test(test_sampling__sequential_ids_spread),
        cmocka_unit_test(test_sampling__setting_changes_are_atomic),
        cmocka_unit_test(test_sampling__bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
