/* SPDX-License-Identifier: MIT */
/*
 * Rough costs of the core paths, printed as a table:
 *   - log_info_kv with three context ids set, to a regular file (sync);
 *   - the same line length written by a bare write(2) per record (baseline:
 *     what any unbuffered logger pays the kernel);
 *   - a disabled log_debug (level info);
 *   - ctx_get, ctx_set+ctx_reset, ctx_copy+ctx_release.
 * Usage: bench_core [records] [output-file]   (defaults: 1000000, a temp file)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ctxlog/ctxlog.h>

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void row(const char *what, double total_ns, double n)
{
    printf("| %-46s | %12.0f | %10.2f |\n", what, n, total_ns / n);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    char tmpl[] = "/tmp/ctxlog-bench-XXXXXX";
    const char *path = argc > 2 ? argv[2] : NULL;
    if (!path) {
        int fd = mkstemp(tmpl);
        if (fd < 0)
            return 1;
        close(fd);
        path = tmpl;
    }
    if (n <= 0 || log_output_set(path) != 0)
        return 1;
    log_level_set(LOG_LEVEL_INFO);

    printf("| %-46s | %12s | %10s |\n", "operation", "calls", "ns/call");
    printf("|%s|%s|%s|\n", "------------------------------------------------", "--------------",
           "------------");

    CTX_REQUEST("0192a7c4-5b1e-7d3a-9f00-1c2d3e4f5a6b", "user-42", "tenant-7");
    double t0 = now_ns();
    for (long i = 0; i < n; i++)
        log_info_kv("user logged in", LOG_I64("attempt", i));
    double t1 = now_ns();
    row("log_info_kv, 3 context ids, to a file", t1 - t0, (double)n);

    /* Baseline: one write(2) per record of the same size, nothing else. */
    char line[256];
    int len = snprintf(line, sizeof line,
                       "{\"ts\":\"2026-11-23T10:00:00.123456Z\",\"level\":\"info\",\"logger\":"
                       "\"root\",\"msg\":\"user logged in\",\"request_id\":\"0192a7c4-5b1e-7d3a-"
                       "9f00-1c2d3e4f5a6b\",\"user_id\":\"user-42\",\"tenant_id\":\"tenant-7\","
                       "\"attempt\":123456}\n");
    int fd = open(path, O_WRONLY | O_APPEND);
    t0 = now_ns();
    for (long i = 0; i < n; i++)
        if (write(fd, line, (size_t)len) != len)
            return 1;
    t1 = now_ns();
    close(fd);
    row("baseline: bare write(2) of the same line", t1 - t0, (double)n);

    long m = n * 10;
    volatile long sink = 0;
    t0 = now_ns();
    for (long i = 0; i < m; i++)
        log_debug("disabled %ld", sink++);
    t1 = now_ns();
    row("disabled log_debug (level info)", t1 - t0, (double)m);

    t0 = now_ns();
    for (long i = 0; i < m; i++)
        sink += ctx_get(CTX_USER_ID) != NULL;
    t1 = now_ns();
    row("ctx_get", t1 - t0, (double)m);

    t0 = now_ns();
    for (long i = 0; i < n; i++) {
        ctx_token t = ctx_set(CTX_USER_ID, "user-43");
        ctx_reset(t);
    }
    t1 = now_ns();
    row("ctx_set + ctx_reset", t1 - t0, (double)n);

    t0 = now_ns();
    for (long i = 0; i < m; i++)
        ctx_release(ctx_copy());
    t1 = now_ns();
    row("ctx_copy + ctx_release", t1 - t0, (double)m);

    log_shutdown();
    if (path == tmpl)
        unlink(tmpl);
    return 0;
}
