/* SPDX-License-Identifier: MIT */
/*
 * The hot path allocates nothing in steady state: malloc, calloc, realloc
 * and friends are counted (this program defines them, forwarding to glibc)
 * over 10,000 records, in sync and in async mode, on every thread (the
 * writer's included).
 *
 * Not built with sanitizers (they own malloc). Under valgrind, which
 * replaces malloc before this program's definitions, the counter does not
 * move and the test says it is skipped.
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

#include <ctxlog/ctxlog.h>

#include "log/log_internal.h"
#include "support.h"

#define RECORDS 10000

/* ---- counting allocator ----------------------------------------------------------- */

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static atomic_long allocations;

void *malloc(size_t n);
void *calloc(size_t n, size_t m);
void *realloc(void *p, size_t n);
void free(void *p);
int posix_memalign(void **out, size_t align, size_t n);
void *aligned_alloc(size_t align, size_t n);

void *malloc(size_t n)
{
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t m)
{
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    return __libc_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    return __libc_realloc(p, n);
}

void free(void *p)
{
    __libc_free(p);
}

int posix_memalign(void **out, size_t align, size_t n)
{
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    *out = __libc_memalign(align, n);
    return *out ? 0 : 12 /* ENOMEM */;
}

void *aligned_alloc(size_t align, size_t n)
{
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    return __libc_memalign(align, n);
}

/* ---- the tests -------------------------------------------------------------------- */

static char *out_path;

static int counting_works(void)
{
    long before = atomic_load(&allocations);
    void *volatile p = malloc(16);
    free(p);
    return atomic_load(&allocations) != before;
}

/* The workload of the benchmark: a record with one typed field and three
 * context ids, a new request every 100 records. */
static void records(long from, long n, int new_requests)
{
    static char rid[48]; /* room for any long, so the format cannot be cut */
    for (long i = from; i < from + n; i += 100) {
        ctx_token t[3] = {{0}};
        if (new_requests) {
            snprintf(rid, sizeof rid, "0192a7c4-5b1e-7d3a-9f00-%012ld", i);
            t[0] = ctx_set(CTX_REQUEST_ID, rid);
            t[1] = ctx_set(CTX_USER_ID, "user-12345");
            t[2] = ctx_set(CTX_TENANT_ID, "tenant-42");
        }
        for (long k = i; k < i + 100 && k < from + n; k++)
            log_info_kv("user logged in", LOG_I64("attempt", k));
        if (new_requests)
            for (int j = 2; j >= 0; j--)
                (void)ctx_reset(t[j]);
    }
}

static void run(int async)
{
    if (!counting_works()) {
        print_message("malloc is not this program's (valgrind?): skipped\n");
        skip();
    }
    out_path = ts_temp_path("noalloc.log");
    assert_int_equal(log_output_set(out_path), 0);
    log_level_set(LOG_LEVEL_INFO);
    assert_int_equal(log__async_set(async, 0, false), 0);

    CTX_REQUEST("0192a7c4-5b1e-7d3a-9f00-1c2d3e4f5a6b", "user-12345", "tenant-42");
    records(0, RECORDS, 0); /* warm up: buffers, the ring, the writer */
    assert_int_equal(log_flush(), 0);

    long before = atomic_load(&allocations);
    records(RECORDS, RECORDS, 0);
    assert_int_equal(log_flush(), 0);
    long during = atomic_load(&allocations) - before;
    print_message("%s: %ld allocations over %d records in one context\n",
                  async ? "async" : "sync", during, RECORDS);
    assert_int_equal(during, 0);

    /* With a new request every 100 records, only the context changes
     * allocate (the new snapshots), never the records. */
    before = atomic_load(&allocations);
    records(0, RECORDS, 1);
    long with_requests = atomic_load(&allocations) - before;
    before = atomic_load(&allocations);
    for (long i = 0; i < RECORDS; i += 100) {
        ctx_token t[3];
        t[0] = ctx_set(CTX_REQUEST_ID, "0192a7c4-5b1e-7d3a-9f00-000000000000");
        t[1] = ctx_set(CTX_USER_ID, "user-12345");
        t[2] = ctx_set(CTX_TENANT_ID, "tenant-42");
        for (int j = 2; j >= 0; j--)
            (void)ctx_reset(t[j]);
    }
    long requests_alone = atomic_load(&allocations) - before;
    print_message("%s: %ld allocations over %d records and %d requests; the requests alone: %ld\n",
                  async ? "async" : "sync", with_requests, RECORDS, RECORDS / 100,
                  requests_alone);
    assert_int_equal(with_requests, requests_alone);

    (void)log__async_set(false, 0, false);
    log_shutdown();
    ts_unlink(out_path);
    free(out_path);
}

static void test_no_alloc__sync(void **state)
{
    (void)state;
    run(0);
}

static void test_no_alloc__async(void **state)
{
    (void)state;
    run(1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_alloc__sync),
        cmocka_unit_test(test_no_alloc__async),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
