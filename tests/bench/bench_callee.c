/* SPDX-License-Identifier: MIT */
/*
 * The least a logging call into a shared library costs (issue 23): two
 * entry points of log__kv_n's shape, in a shared library of their own, for
 * bench_call. One only reads its arguments; the other also reads the clock
 * as async mode's caller does (rdtsc where the time stamp counter is
 * usable, else CLOCK_REALTIME). Neither queues anything: they are the
 * floor under any implementation of the C API, not a logger.
 */
#include <stdint.h>
#include <time.h>

#include <ctxlog/log.h>

#include "bench_callee.h"

/* What the calls leave behind, so that the compiler keeps their reads. */
static _Thread_local __attribute__((tls_model("initial-exec"))) uint64_t kept;

static uint64_t args_sum(const char *msg, size_t msg_len, const log_field *fields,
                         size_t nfields)
{
    uint64_t sum = (uint64_t)(uintptr_t)msg + msg_len + nfields;
    if (nfields)
        sum += (uint64_t)(uintptr_t)fields[0].key + fields[0].v.u64;
    return sum;
}

void bench_callee_return(log_logger *lg, log_level level, const char *file, int line,
                         const char *func, const char *msg, size_t msg_len,
                         const log_field *fields, size_t nfields)
{
    (void)lg, (void)level, (void)file, (void)line, (void)func;
    kept = args_sum(msg, msg_len, fields, nfields);
}

void bench_callee_clock(log_logger *lg, log_level level, const char *file, int line,
                        const char *func, const char *msg, size_t msg_len,
                        const log_field *fields, size_t nfields)
{
    (void)lg, (void)level, (void)file, (void)line, (void)func;
#if defined(__x86_64__)
    uint64_t stamp = __builtin_ia32_rdtsc();
#else
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t stamp = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
#endif
    kept = stamp + args_sum(msg, msg_len, fields, nfields);
}
