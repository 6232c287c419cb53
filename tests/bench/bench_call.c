/* SPDX-License-Identifier: MIT */
/*
 * The floor under W3's caller time (issue 23): W3's timed loop, each call
 * made to a function of log__kv_n's shape in a shared library of its own
 * (bench_callee.c) that does nothing with the record. Same test of the
 * level before the call, same field array, same nine arguments, same timer
 * as bench_workload's W3 and bench_quill's.
 *
 *   bench_call W3call|W3clock [path] [records]
 *
 *   W3call   the call returns at once: what the C API's call itself costs
 *   W3clock  the call reads the clock as async mode's caller does (rdtsc)
 *
 * Nothing is written: the output file is left empty.
 */
#define _GNU_SOURCE
#include "bench_callee.h"
#include "bench_common.h"
#include "bench_w1.h"

#include <ctxlog/ctxlog.h>

typedef void callee_fn(log_logger *, log_level, const char *, int, const char *, const char *,
                       size_t, const log_field *, size_t);

/* log_info_kv's expansion (log__to_kv_M in <ctxlog/log.h>), to fn. */
#define CALL_INFO_KV(fn, msg, ...)                                                       \
    do {                                                                                 \
        log_logger *lg_ = LOG__THIS_LOGGER;                                              \
        if (log__enabled(lg_, LOG_LEVEL_INFO)) {                                         \
            const char *msg_ = (msg);                                                    \
            const log_field fields_[] = {__VA_ARGS__};                                   \
            fn(lg_, LOG_LEVEL_INFO, __FILE__, __LINE__, __func__, msg_,                  \
               msg_ ? __builtin_strlen(msg_) : 0, fields_, sizeof fields_ / sizeof fields_[0]); \
        }                                                                                \
    } while (0)

/* W3's loop (bench_workload.c), the call to fn. External, as W3's:
 * run-bench counts the instructions inside it. */
void bench_timed_calls(callee_fn *fn, const bench_request *req, long n, bench_samples *s);
void bench_timed_calls(callee_fn *fn, const bench_request *req, long n, bench_samples *s)
{
    BENCH_W1_LOOP(req, n, i, {
        uint64_t t0 = bench_ticks();
        CALL_INFO_KV(fn, "user logged in", LOG_I64("attempt", i));
        uint64_t t1 = bench_ticks();
        bench_sample(s, i, t0, t1);
    });
}

int main(int argc, char **argv)
{
    bench_args a;
    if (bench_parse(argc, argv, &a))
        return 2;
    callee_fn *fn = a.workload == BENCH_W3CALL    ? bench_callee_return
                    : a.workload == BENCH_W3CLOCK ? bench_callee_clock
                                                  : NULL;
    if (!fn) {
        fprintf(stderr, "%s: only W3call and W3clock\n", argv[0]);
        return 2;
    }
    /* The level W3 runs at, so that the test before the call is W3's. */
    unsetenv("CTXLOG_CONFIG");
    setenv("CTXLOG_LEVEL", "info", 1);
    setenv("CTXLOG_OUTPUT", a.path, 1);
    int rc = log_configure_env();
    FILE *out = fopen(a.path, "w"); /* empty: nothing is logged */
    if (rc != 0 || !out) {
        fprintf(stderr, "%s: set-up failed\n", argv[0]);
        return 2;
    }
    fclose(out);
    long nreq;
    bench_samples s;
    bench_request *req = bench_requests(a.records, 0, &nreq);
    if (!req || bench_samples_init(&s, a.records))
        return 2;
    uint32_t res, timer = bench_timer_cost(&res);
    uint64_t t0 = bench_now_ns(), k0 = bench_ticks();
    bench_timed_calls(fn, req, a.records, &s);
    uint64_t t1 = bench_now_ns(), k1 = bench_ticks();
    double ns_per_tick = (double)(t1 - t0) / (double)(k1 - k0 ? k1 - k0 : 1);
    printf("impl=call workload=%s records=%ld", a.name, a.records);
    bench_print_samples(&s, ns_per_tick, timer, res);
    printf(" rss_kb=%ld", bench_rss_kb());
    free(s.t);
    free(req);
    log_shutdown();
    return bench_finish(&a, 0);
}
