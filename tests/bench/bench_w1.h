/* SPDX-License-Identifier: MIT */
/*
 * The shared workload's records on ctxlog (README "Performance"): a new
 * request (three ctx_set) every BENCH_PER_REQUEST records, one
 * log_info_kv("user logged in", LOG_I64("attempt", i)) each. The one copy
 * of it that bench_workload (W1, W2, W3), bench_pipeline, bench_otlp and
 * bench_call run, inlined into each program's own timed function.
 */
#ifndef CTXLOG_BENCH_W1_H
#define CTXLOG_BENCH_W1_H

#include <ctxlog/ctxlog.h>

#include "bench_common.h"

/* The workload's loop: a new request (three ctx_set) every
 * BENCH_PER_REQUEST records, then `record`, a statement in which `i` is the
 * record's number (from 0 to n - 1). */
#define BENCH_W1_LOOP(req, n, i, record)                                                  \
    do {                                                                                 \
        long left_ = 0;                                                                  \
        const bench_request *r_ = (req);                                                 \
        for (long i = 0; i < (n); i++) {                                                 \
            if (left_ == 0) {                                                            \
                (void)ctx_set(CTX_REQUEST_ID, r_->request_id);                           \
                (void)ctx_set(CTX_USER_ID, r_->user_id);                                 \
                (void)ctx_set(CTX_TENANT_ID, r_->tenant_id);                             \
                r_++;                                                                    \
                left_ = BENCH_PER_REQUEST;                                               \
            }                                                                            \
            left_--;                                                                     \
            record;                                                                      \
        }                                                                                \
    } while (0)

static inline __attribute__((always_inline)) void bench_w1_records(const bench_request *req,
                                                                   long n)
{
    BENCH_W1_LOOP(req, n, i, log_info_kv("user logged in", LOG_I64("attempt", i)));
}

#endif
