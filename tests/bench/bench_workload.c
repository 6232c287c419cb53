/* SPDX-License-Identifier: MIT */
/*
 * Issue 4's workload on ctxlog, one workload per run, for tests/bench/run-bench
 * (which runs it alternately with bench_floor and bench_spdlog):
 *
 *   bench_workload W1|W2|W3|W4|W4ctx|W1trace|W1trace1|W1replay|W1keep|W1replayerr
 *                  [path] [records]
 *
 *   W1     records (default 1,000,000) from 1 thread to a regular file,
 *          log_flush() at the end, inside the timed part.
 *   W1trace  W1 with a W3C trace: each new request also continues its
 *          incoming traceparent (ctx_trace_begin: trace_id, trace_flags, a
 *          fresh span_id and parent_span_id), so every record carries four
 *          more members. What tracing costs, against W1.
 *   W1trace1  W1 inside one trace, begun before the timed loop: what
 *          stamping the trace on records costs, without beginning one per
 *          request.
 *   W1replay  W1, each request with replay on error at debug
 *          (log_context_replay, 64 KiB; reset when the next request
 *          begins): what a request that keeps records pays for the ones it
 *          writes.
 *   W1keep W1replay with log_debug_kv instead: every record is kept
 *          (formatted into the request's buffer), none written, each
 *          request's discarded when it ends: a request that does not fail.
 *   W1replayerr  W1keep whose requests end with log_error_kv instead of
 *          the last debug record: the 99 kept records are written first,
 *          marked, then the error; the file holds every record as W1's.
 *   W2     2 threads x records/2, each its own requests (contexts), same file.
 *   W3     W1 with the time of every call kept (caller time: p50, p99.9, max)
 *          and the total until log_flush() returns; run with CTXLOG_ASYNC=1
 *          (set here when the environment does not say). The file must then
 *          hold exactly `records` lines.
 *   W3sync W3 in sync mode (CTXLOG_ASYNC=0): the caller's time per call
 *          when it formats and writes the record itself.
 *   W4     log_debug_kv at level info, disabled (default 10,000,000 calls).
 *   W4ctx  disabled calls and per-context levels (issue 3): while another
 *          thread's request has lowered its own level to debug
 *          (log_context_level), a thread without the override times disabled
 *          log_debug_kv and log_trace_kv; then the thread with the override
 *          times log_trace_kv (still disabled for it), after checking that its
 *          log_debug_kv is written.
 *
 * Every record: log_info_kv("user logged in", LOG_I64("attempt", i)) with
 * request_id (36-char UUID), user_id and tenant_id set by ctx_set on the
 * built-in variables; a new request (three ctx_set) every 100 records. The
 * ids are made before timing. Output goes through CTXLOG_OUTPUT and
 * log_configure_env(), as a deployed program would configure it.
 *
 * Prints one line of key=value pairs (see bench_common.h); exit status 0 when
 * the file holds the expected number of well-formed lines.
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "bench_common.h"
#include "bench_w1.h"

#include <ctxlog/ctxlog.h>

/* The timed loop of W1 (and of each W2 thread, which leave the flush to the
 * main thread). An external function: run-bench counts the instructions run
 * inside it (callgrind --toggle-collect=bench_timed_w1*). */
void bench_timed_w1(const bench_request *req, long n, int flush);
void bench_timed_w1(const bench_request *req, long n, int flush)
{
    bench_w1_records(req, n);
    if (flush)
        (void)log_flush();
}

/* W1trace's loop: W1's, and each request continues its trace (the tokens
 * dropped, as W1 drops its own). Counted by callgrind like W1's. */
void bench_timed_w1trace(const bench_request *req, long n);
void bench_timed_w1trace(const bench_request *req, long n)
{
    long left = 0;
    const bench_request *r = req;
    for (long i = 0; i < n; i++) {
        if (left == 0) {
            (void)ctx_set(CTX_REQUEST_ID, r->request_id);
            (void)ctx_set(CTX_USER_ID, r->user_id);
            (void)ctx_set(CTX_TENANT_ID, r->tenant_id);
            (void)ctx_trace_begin(r->traceparent);
            r++;
            left = BENCH_PER_REQUEST;
        }
        left--;
        log_info_kv("user logged in", LOG_I64("attempt", i));
    }
    (void)log_flush();
}

/* The loop of W1replay (mode 0), W1keep (1) and W1replayerr (2). Counted
 * by callgrind like W1's. */
void bench_timed_w1replay(const bench_request *req, long n, int mode);
void bench_timed_w1replay(const bench_request *req, long n, int mode)
{
    long left = 0;
    const bench_request *r = req;
    ctx_token keep = {0};
    for (long i = 0; i < n; i++) {
        if (left == 0) {
            (void)ctx_reset(keep); /* the previous request's: its records go */
            (void)ctx_set(CTX_REQUEST_ID, r->request_id);
            (void)ctx_set(CTX_USER_ID, r->user_id);
            (void)ctx_set(CTX_TENANT_ID, r->tenant_id);
            keep = log_context_replay(LOG_LEVEL_DEBUG, 64 * 1024);
            r++;
            left = BENCH_PER_REQUEST;
        }
        left--;
        if (mode == 0)
            log_info_kv("user logged in", LOG_I64("attempt", i));
        else if (mode == 2 && (left == 0 || i == n - 1))
            log_error_kv("user logged in", LOG_I64("attempt", i));
        else
            log_debug_kv("user logged in", LOG_I64("attempt", i));
    }
    (void)ctx_reset(keep);
    (void)log_flush();
}

/* W3's loop: the same, each call timed. External, as W1's: run-bench
 * counts the instructions of the calling thread inside it. */
void bench_timed_w3(const bench_request *req, long n, bench_samples *s);
void bench_timed_w3(const bench_request *req, long n, bench_samples *s)
{
    BENCH_W1_LOOP(req, n, i, {
        uint64_t t0 = bench_ticks();
        log_info_kv("user logged in", LOG_I64("attempt", i));
        uint64_t t1 = bench_ticks();
        bench_sample(s, i, t0, t1);
    });
}

static int setup(const bench_args *a)
{
    /* The bench's own file and level, whatever the caller's environment says;
     * CTXLOG_ASYNC is left alone (W3 turns it on when unset). */
    unsetenv("CTXLOG_CONFIG");
    unsetenv("CTXLOG_FORMAT");
    setenv("CTXLOG_LEVEL", "info", 1);
    setenv("CTXLOG_OUTPUT", a->path, 1);
    if (a->workload == BENCH_W3)
        setenv("CTXLOG_ASYNC", "1", 0);
    if (a->workload == BENCH_W3SYNC)
        setenv("CTXLOG_ASYNC", "0", 1);
    int rc = log_configure_env();
    if (rc != 0) {
        fprintf(stderr, "%s: log_configure_env: %s\n", a->name, ctxlog_strerror(rc));
        return -1;
    }
    return log_level_set(LOG_LEVEL_INFO) == 0 ? 0 : -1;
}

static void print_head(const bench_args *a, long records)
{
    const char *async = getenv("CTXLOG_ASYNC");
    printf("impl=ctxlog workload=%s records=%ld async_env=%s", a->name, records,
           async && *async ? async : "unset");
}

/* ---- W1 ------------------------------------------------------------------ */

static int run_w1(bench_args *a)
{
    long nreq;
    bench_request *req = bench_requests(a->records, 0, &nreq);
    if (!req || setup(a))
        return 2;
    if (a->workload == BENCH_W1TRACE1)
        (void)ctx_trace_begin(req[0].traceparent); /* for the whole run */
    uint64_t t0 = bench_now_ns();
    if (a->workload == BENCH_W1TRACE)
        bench_timed_w1trace(req, a->records);
    else if (a->workload == BENCH_W1REPLAY)
        bench_timed_w1replay(req, a->records, 0);
    else if (a->workload == BENCH_W1KEEP)
        bench_timed_w1replay(req, a->records, 1);
    else if (a->workload == BENCH_W1REPLAYERR)
        bench_timed_w1replay(req, a->records, 2);
    else
        bench_timed_w1(req, a->records, 1);
    uint64_t t1 = bench_now_ns();
    int frc = log_flush(); /* nothing left: its result only */
    print_head(a, a->records);
    printf(" total_ns=%llu ns_per_record=%.1f flush_rc=%d dropped=%llu",
           (unsigned long long)(t1 - t0), (double)(t1 - t0) / (double)a->records, frc,
           (unsigned long long)log_dropped_count());
    free(req);
    return bench_finish(a, a->workload == BENCH_W1KEEP ? 0 : a->records);
}

/* ---- W2 ------------------------------------------------------------------ */

typedef struct w2_thread {
    pthread_t th;
    pthread_barrier_t *go;
    const bench_request *req;
    long n;
} w2_thread;

static void *w2_main(void *p)
{
    w2_thread *t = p;
    pthread_barrier_wait(t->go);
    bench_timed_w1(t->req, t->n, 0);
    return NULL;
}

static int run_w2(bench_args *a)
{
    enum { NT = 2 };
    w2_thread t[NT];
    bench_request *req[NT];
    pthread_barrier_t go;
    long per = a->records / NT, nreq;
    for (int k = 0; k < NT; k++) {
        req[k] = bench_requests(per, k + 1, &nreq);
        if (!req[k])
            return 2;
    }
    if (setup(a))
        return 2;
    pthread_barrier_init(&go, NULL, NT + 1);
    for (int k = 0; k < NT; k++) {
        t[k].go = &go;
        t[k].req = req[k];
        t[k].n = per;
        /* A plain thread: each starts with an empty context of its own. */
        if (pthread_create(&t[k].th, NULL, w2_main, &t[k]) != 0)
            return 2;
    }
    uint64_t t0 = bench_now_ns();
    pthread_barrier_wait(&go);
    for (int k = 0; k < NT; k++)
        pthread_join(t[k].th, NULL);
    int frc = log_flush();
    uint64_t t1 = bench_now_ns();
    pthread_barrier_destroy(&go);
    print_head(a, a->records);
    printf(" threads=%d total_ns=%llu ns_per_record=%.1f flush_rc=%d dropped=%llu", NT,
           (unsigned long long)(t1 - t0), (double)(t1 - t0) / (double)a->records, frc,
           (unsigned long long)log_dropped_count());
    for (int k = 0; k < NT; k++)
        free(req[k]);
    return bench_finish(a, a->records);
}

/* ---- W3 ------------------------------------------------------------------ */

static int run_w3(bench_args *a)
{
    long nreq;
    bench_samples s;
    bench_request *req = bench_requests(a->records, 0, &nreq);
    if (!req || bench_samples_init(&s, a->records) || setup(a))
        return 2;
    uint32_t res, timer = bench_timer_cost(&res);
    uint64_t t0 = bench_now_ns(), k0 = bench_ticks();
    bench_timed_w3(req, a->records, &s);
    uint64_t t_calls = bench_now_ns();
    int frc = log_flush();
    uint64_t t1 = bench_now_ns(), k1 = bench_ticks();
    int threads = bench_threads();
    double ns_per_tick = (double)(t1 - t0) / (double)(k1 - k0 ? k1 - k0 : 1);
    print_head(a, a->records);
    printf(" process_threads=%d total_ns=%llu ns_per_record=%.1f caller_ns_per_record=%.1f"
           " flush_ns=%llu flush_rc=%d dropped=%llu",
           threads, (unsigned long long)(t1 - t0), (double)(t1 - t0) / (double)a->records,
           (double)(t_calls - t0) / (double)a->records, (unsigned long long)(t1 - t_calls), frc,
           (unsigned long long)log_dropped_count());
    bench_print_samples(&s, ns_per_tick, timer, res);
    printf(" rss_kb=%ld", bench_rss_kb());
    free(s.t);
    free(req);
    return bench_finish(a, a->records);
}

/* ---- W4 ------------------------------------------------------------------ */

/* The timed loops of W4 are a few instructions each: where the linker puts
 * them matters (a loop across a 4 KiB page boundary ran at twice the time
 * per call here). Aligned so that adding code elsewhere in this file does
 * not move them across one. */
#define BENCH_LOOP_ALIGN __attribute__((aligned(256)))

BENCH_LOOP_ALIGN static double time_disabled_debug(long n)
{
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++)
        log_debug_kv("user logged in", LOG_I64("attempt", i));
    return (double)(bench_now_ns() - t0) / (double)n;
}

BENCH_LOOP_ALIGN static double time_disabled_trace(long n)
{
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++)
        log_trace_kv("user logged in", LOG_I64("attempt", i));
    return (double)(bench_now_ns() - t0) / (double)n;
}

static void set_request(const bench_request *r)
{
    (void)ctx_set(CTX_REQUEST_ID, r->request_id);
    (void)ctx_set(CTX_USER_ID, r->user_id);
    (void)ctx_set(CTX_TENANT_ID, r->tenant_id);
}

static int run_w4(bench_args *a)
{
    long nreq;
    bench_request *req = bench_requests(1, 0, &nreq);
    if (!req || setup(a))
        return 2;
    set_request(req);
    double mean, ns = bench_median_batches(time_disabled_debug, a->records, &mean);
    print_head(a, a->records);
    printf(" calls=%ld ns_per_call=%.3f mean_ns_per_call=%.3f", a->records, ns, mean);
    free(req);
    return bench_finish(a, 0);
}

/* ---- W4ctx ----------------------------------------------------------------- */

typedef struct w4ctx {
    pthread_barrier_t step;
    const bench_request *req;
    long n;
    double ovr_trace_ns;
    int ovr_rc;
} w4ctx;

/* The request that lowered its own level to debug. */
static void *w4ctx_override(void *p)
{
    w4ctx *w = p;
    set_request(&w->req[1]);
    ctx_token lvl = log_context_level(LOG_LEVEL_DEBUG);
    /* Enabled for this request alone: the file must get this one line. */
    log_debug_kv("user logged in", LOG_I64("attempt", -1));
    pthread_barrier_wait(&w->step); /* the override is in force */
    pthread_barrier_wait(&w->step); /* the other thread has measured */
    w->ovr_trace_ns = bench_median_batches(time_disabled_trace, w->n, NULL);
    w->ovr_rc = ctx_reset(lvl);
    return NULL;
}

static int run_w4ctx(bench_args *a)
{
    long nreq;
    w4ctx w;
    pthread_t th;
    bench_request *req = bench_requests(2 * BENCH_PER_REQUEST, 0, &nreq);
    if (!req || setup(a))
        return 2;
    memset(&w, 0, sizeof w);
    w.req = req;
    w.n = a->records;
    pthread_barrier_init(&w.step, NULL, 2);
    if (pthread_create(&th, NULL, w4ctx_override, &w) != 0)
        return 2;
    set_request(&req[0]);
    pthread_barrier_wait(&w.step); /* the other request's override is in force */
    double plain_debug = bench_median_batches(time_disabled_debug, a->records, NULL);
    double plain_trace = bench_median_batches(time_disabled_trace, a->records, NULL);
    pthread_barrier_wait(&w.step);
    pthread_join(th, NULL);
    pthread_barrier_destroy(&w.step);
    int frc = log_flush();
    print_head(a, a->records);
    printf(" calls=%ld plain_debug_ns=%.3f plain_trace_ns=%.3f override_trace_ns=%.3f"
           " override_reset_rc=%d flush_rc=%d",
           a->records, plain_debug, plain_trace, w.ovr_trace_ns, w.ovr_rc, frc);
    free(req);
    return bench_finish(a, 1);
}

int main(int argc, char **argv)
{
    bench_args a;
    if (bench_parse(argc, argv, &a))
        return 2;
    int rc = 2;
    switch (a.workload) {
    case BENCH_W1:
    case BENCH_W1TRACE:
    case BENCH_W1TRACE1:
    case BENCH_W1REPLAY:
    case BENCH_W1KEEP:
    case BENCH_W1REPLAYERR: rc = run_w1(&a); break;
    case BENCH_W2: rc = run_w2(&a); break;
    case BENCH_W3:
    case BENCH_W3SYNC: rc = run_w3(&a); break;
    case BENCH_W4: rc = run_w4(&a); break;
    case BENCH_W4CTX: rc = run_w4ctx(&a); break;
    }
    log_shutdown();
    return rc;
}
