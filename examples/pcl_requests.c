/* SPDX-License-Identifier: MIT */
/*
 * Many requests interleaved on one thread as coroutines of the Portable
 * Coroutine Library (libpcl): each request yields back to the scheduler in
 * the middle of its work, with scopes open across the yields, and every
 * record still carries its own request's ids.
 *
 * What makes it work is the scheduler's part: each coroutine owns a
 * ctx_fiber, switched in before co_call() resumes it and out when it
 * yields back (see run() below: two lines).
 *
 * Records (tests/test_fiber_examples.c checks them), per request i:
 * "request started", then "query sent" and "query done" in a child span
 * (CTX_SPAN) that spans a yield, then "request done"; each with field "i"
 * and the request's ids (request_id "req-<i>", user_id "user-<i>",
 * tenant_id "tenant-<i mod 3>"), trace_id the same on all four.
 *
 * Run: ./pcl_requests [requests]     (default 1000; JSON lines on stdout)
 */
#include <stdio.h>
#include <stdlib.h>

#include <pcl.h>

#include <ctxlog/ctxlog.h>

#define STACK_SIZE (64 * 1024)

typedef struct request {
    int i;
    int done;
    coroutine_t co;
    ctx_fiber *fiber; /* the request's own context state */
} request;

/* Give the thread back to the scheduler (co_call returns there). */
static void yield(void)
{
    co_resume();
}

static void handle(void *arg)
{
    request *r = arg;
    char rid[32], user[32], tenant[32];
    snprintf(rid, sizeof rid, "req-%d", r->i);
    snprintf(user, sizeof user, "user-%d", r->i);
    snprintf(tenant, sizeof tenant, "tenant-%d", r->i % 3);
    {
        CTX_REQUEST_TRACED(rid, user, tenant, NULL);
        log_info_kv("request started", LOG_I64("i", r->i), LOG_I64("worker", 0));
        yield();
        {
            CTX_SPAN();
            log_info_kv("query sent", LOG_I64("i", r->i), LOG_I64("worker", 0));
            yield();
            log_info_kv("query done", LOG_I64("i", r->i), LOG_I64("worker", 0));
        }
        yield();
        log_info_kv("request done", LOG_I64("i", r->i), LOG_I64("worker", 0));
    }
    r->done = 1; /* returning ends the coroutine: libpcl frees it */
}

/* Round robin until every request is done. */
static void run(request *reqs, int n)
{
    for (int left = n; left > 0;) {
        for (int i = 0; i < n; i++) {
            request *r = &reqs[i];
            if (r->done)
                continue;
            ctx_fiber *prev = ctx_fiber_switch(r->fiber); /* its context in */
            co_call(r->co);
            ctx_fiber_switch(prev); /* and out */
            if (r->done) {
                ctx_fiber_free(r->fiber);
                left--;
            }
        }
    }
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 1000;
    if (n <= 0 || co_thread_init() != 0)
        return 2;
    request *reqs = calloc((size_t)n, sizeof *reqs);
    if (!reqs)
        return 1;
    for (int i = 0; i < n; i++) {
        reqs[i].i = i;
        reqs[i].fiber = ctx_fiber_new(); /* a copy of main's (empty) context */
        reqs[i].co = co_create(handle, &reqs[i], NULL, STACK_SIZE);
        if (!reqs[i].fiber || !reqs[i].co)
            return 1;
    }
    run(reqs, n);
    log_info("all requests done");
    free(reqs);
    co_thread_cleanup();
    return 0;
}
