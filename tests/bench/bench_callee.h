/* SPDX-License-Identifier: MIT */
/* bench_callee.c's entry points (libbench_callee.so): log__kv_n's shape. */
#ifndef CTXLOG_BENCH_CALLEE_H
#define CTXLOG_BENCH_CALLEE_H

#include <stddef.h>

#include <ctxlog/log.h>

#define BENCH_CALLEE_API __attribute__((visibility("default")))

/* Reads its arguments and returns. */
BENCH_CALLEE_API void bench_callee_return(log_logger *lg, log_level level, const char *file,
                                          int line, const char *func, const char *msg,
                                          size_t msg_len, const log_field *fields,
                                          size_t nfields);
/* The same, and reads the clock as async mode's caller does. */
BENCH_CALLEE_API void bench_callee_clock(log_logger *lg, log_level level, const char *file,
                                         int line, const char *func, const char *msg,
                                         size_t msg_len, const log_field *fields,
                                         size_t nfields);

#endif /* CTXLOG_BENCH_CALLEE_H */
