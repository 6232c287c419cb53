/* SPDX-License-Identifier: MIT */
/*
 * The OTLP sink beside the file sink, for tests/bench/run-bench-otlp:
 *
 *   bench_otlp file PATH RECORDS
 *   bench_otlp otlp URL RECORDS        (URL: the receiver's /v1/logs)
 *
 * W1's records (log_info_kv("user logged in", LOG_I64("attempt", i)), a new
 * request, three ctx_set, every 100 records) from one thread, in sync mode
 * (async with CTXLOG_ASYNC=1: the workload's name ends in "-async"), to
 * one sink. The logging loop is bench_timed_w1_otlp (callgrind counts it
 * alone: the logging thread's instructions, not the sender's).
 *
 * Prints one line of key=value pairs: caller_ns_per_record (the logging
 * loop alone), records_per_s (records over the time from the first call
 * until log_flush() returned: the file has them, or the receiver answered
 * 2xx for all of them), and ok=1 when log_flush() succeeded and nothing
 * was counted as dropped (run-bench-otlp checks the receiver's count).
 */
#define _GNU_SOURCE
#include "bench_common.h"
#include "bench_w1.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ctxlog/ctxlog.h>
#include <ctxlog/otlp.h>

__attribute__((noinline)) void bench_timed_w1_otlp(const bench_request *req, long n);

void bench_timed_w1_otlp(const bench_request *req, long n)
{
    bench_w1_records(req, n);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s file PATH|otlp URL RECORDS\n", argv[0]);
        return 2;
    }
    const char *kind = argv[1];
    long records = atol(argv[3]);
    long nreq;
    bench_request *req = bench_requests(records, 0, &nreq);
    log_sink *s = NULL;
    int rc = -1;
    if (strcmp(kind, "file") == 0) {
        rc = log_sink_file(&s, argv[2], NULL);
    } else if (strcmp(kind, "otlp") == 0) {
        /* A queue that holds the whole run: the bench measures cost and
         * throughput, not the bound. */
        log_otlp_options o = {.endpoint = argv[2], .service_name = "bench",
                              .queue_max = (size_t)records + 1, .timeout_ms = 60000};
        rc = log_sink_otlp(&s, &o);
    }
    if (rc != 0 || !req) {
        fprintf(stderr, "bench_otlp: cannot make the %s sink (%d)\n", kind, rc);
        return 2;
    }
    log_logger_clear_sinks(NULL);
    log_logger_add_sink(NULL, s);
    log_sink_release(s);

    uint64_t t0 = bench_now_ns();
    bench_timed_w1_otlp(req, records);
    uint64_t t1 = bench_now_ns();
    int flushed = log_flush() == 0;
    uint64_t t2 = bench_now_ns();
    uint64_t dropped = log_dropped_count();
    const char *mode = getenv("CTXLOG_ASYNC");
    printf("impl=ctxlog workload=O-%s%s records=%ld caller_ns_per_record=%.1f records_per_s=%.0f "
           "dropped=%llu ok=%d\n",
           kind, mode && strcmp(mode, "1") == 0 ? "-async" : "", records,
           (double)(t1 - t0) / (double)records, (double)records * 1e9 / (double)(t2 - t0),
           (unsigned long long)dropped, flushed && dropped == 0);
    free(req);
    log_shutdown();
    return flushed && dropped == 0 ? 0 : 1;
}
