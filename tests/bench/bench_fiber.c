/* SPDX-License-Identifier: MIT */
/*
 * What a fiber costs a scheduler (tests/bench/run-bench-fiber runs it):
 *
 *   bench_fiber switch N   N round trips ctx_fiber_switch(f), then back
 *                          (NULL): the scheduler's part of one resume;
 *   bench_fiber swap N     N round trips of a bare swapcontext(3) to a
 *                          coroutine that yields straight back: what any
 *                          ucontext scheduler pays per resume anyway;
 *   bench_fiber both N     the two together, as a scheduler does them;
 *   bench_fiber idle N     N idle fibers (made, never switched in): heap
 *                          bytes each, by mallinfo2().
 *
 * The fiber has the three request ids set, so a switch refreshes a real
 * context. Prints one line: "impl=ctxlog workload=FIBER<mode> ns=…
 * [bytes_per_fiber=…] ok=1". The loops are in functions named
 * bench_timed_*, which callgrind counts alone (--toggle-collect).
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>

#include <ctxlog/ctxlog.h>

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static ucontext_t main_uc, co_uc;

static void co_loop(void)
{
    for (;;)
        swapcontext(&co_uc, &main_uc);
}

__attribute__((noinline)) static void bench_timed_switch(ctx_fiber *f, long n)
{
    for (long i = 0; i < n; i++) {
        ctx_fiber *prev = ctx_fiber_switch(f);
        (void)ctx_fiber_switch(prev);
    }
}

__attribute__((noinline)) static void bench_timed_swap(long n)
{
    for (long i = 0; i < n; i++)
        swapcontext(&main_uc, &co_uc);
}

__attribute__((noinline)) static void bench_timed_both(ctx_fiber *f, long n)
{
    for (long i = 0; i < n; i++) {
        ctx_fiber *prev = ctx_fiber_switch(f);
        swapcontext(&main_uc, &co_uc);
        (void)ctx_fiber_switch(prev);
    }
}

static int idle(long n)
{
    ctx_fiber **fs = malloc((size_t)n * sizeof *fs);
    if (!fs)
        return 1;
    struct mallinfo2 before = mallinfo2();
    for (long i = 0; i < n; i++)
        if (!(fs[i] = ctx_fiber_new()))
            return 1;
    struct mallinfo2 after = mallinfo2();
    /* Heap in use plus what mmap'd chunks hold, per fiber (allocator
     * headers included). */
    double bytes = ((double)(after.uordblks + after.hblkhd) -
                    (double)(before.uordblks + before.hblkhd)) / (double)n;
    for (long i = 0; i < n; i++)
        if (ctx_fiber_free(fs[i]) != 0)
            return 1;
    free(fs);
    printf("impl=ctxlog workload=FIBERidle fibers=%ld bytes_per_fiber=%.0f ok=1\n", n, bytes);
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    long n = argc > 2 ? atol(argv[2]) : 1000000;
    if (n <= 0)
        return 2;
    CTX_REQUEST("0192a7c4-5b1e-7d3a-9f00-1c2d3e4f5a6b", "user-42", "tenant-7");
    if (strcmp(mode, "idle") == 0)
        return idle(n);

    static char stack[64 * 1024];
    getcontext(&co_uc);
    co_uc.uc_stack.ss_sp = stack;
    co_uc.uc_stack.ss_size = sizeof stack;
    makecontext(&co_uc, co_loop, 0);
    ctx_fiber *f = ctx_fiber_new(); /* has the request's three ids */
    if (!f)
        return 1;

    double t0 = now_ns();
    if (strcmp(mode, "switch") == 0)
        bench_timed_switch(f, n);
    else if (strcmp(mode, "swap") == 0)
        bench_timed_swap(n);
    else if (strcmp(mode, "both") == 0)
        bench_timed_both(f, n);
    else
        return 2;
    double t1 = now_ns();
    int ok = ctx_fiber_free(f) == 0 && strcmp(ctx_get(CTX_USER_ID), "user-42") == 0;
    printf("impl=ctxlog workload=FIBER%s n=%ld ns=%.1f ok=%d\n", mode, n, (t1 - t0) / (double)n,
           ok);
    return ok ? 0 : 1;
}
