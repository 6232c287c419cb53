/* SPDX-License-Identifier: MIT */
/*
 * The shared workload's records on ctxlog (README "Performance"): a new
 * request (three ctx_set) every BENCH_PER_REQUEST records, one
 * log_info_kv("user logged in", LOG_I64("attempt", i)) each. The one copy
 * of it that bench_workload (W1, W2), bench_pipeline and bench_otlp run,
 * inlined into each program's own timed function.
 */
#ifndef CTXLOG_BENCH_W1_H
#define CTXLOG_BENCH_W1_H

#include <ctxlog/ctxlog.h>

#include "bench_common.h"

static inline __attribute__((always_inline)) void bench_w1_records(const bench_request *req,
                                                                   long n)
{
    long left = 0;
    const bench_request *r = req;
    for (long i = 0; i < n; i++) {
        if (left == 0) {
            (void)ctx_set(CTX_REQUEST_ID, r->request_id);
            (void)ctx_set(CTX_USER_ID, r->user_id);
            (void)ctx_set(CTX_TENANT_ID, r->tenant_id);
            r++;
            left = BENCH_PER_REQUEST;
        }
        left--;
        log_info_kv("user logged in", LOG_I64("attempt", i));
    }
}

#endif
