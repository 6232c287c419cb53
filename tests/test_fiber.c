/* SPDX-License-Identifier: MIT */
/*
 * Coroutines and fibers (SPEC §11): each task owns its context state, and a
 * scheduler switches it in when it resumes the task and out when the task
 * yields (tests/coro.c is such a scheduler, over ucontext).
 *
 * - the contract of ctx_fiber_new/switch/free, tokens across states;
 * - the issue's case: coroutines that set a variable, yield and reset;
 * - the compiler trap: this file is built at -O2, and a coroutine that logs,
 *   yields, resumes on another thread and logs again must be filtered by the
 *   new thread's level floor (the one its fiber put there), not the old's;
 * - under load: 10,000 requests as coroutines, interleaved on one thread and
 *   on 4 threads (M:N), in sync and in async mode, each with nested scopes
 *   that span yields, a child span, a thread started inside it, and replay
 *   on an error logged after a yield. Every record is parsed back and must
 *   carry its own request's values; every reset returns 0.
 *
 * CTXLOG_STRESS_REQUESTS scales the load down (valgrind).
 */
#include <limits.h>
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
#include <jansson.h>

#include <ctxlog/ctxlog.h>

#include "coro.h"
#include "log/log_internal.h"
#include "support.h"

/* ---- the contract ---------------------------------------------------------- */

static int released;
static void count_release(void *p)
{
    (void)p;
    released++;
}

static void test_fiber_state_is_its_own(void **state)
{
    (void)state;
    ctx_var *v = ctx_var_new("fiber_test_v", CTX_VAR_LOGGED);
    ctx_var *p = ctx_var_new("fiber_test_p", 0);
    ctx_token outer = ctx_set(v, "thread");

    ctx_fiber *f = ctx_fiber_new(); /* a snapshot of "thread" */
    assert_non_null(f);
    ctx_token changed_later = ctx_set(v, "thread-later");

    assert_null(ctx_fiber_switch(f)); /* was the thread's own */
    assert_string_equal(ctx_get(v), "thread");
    ctx_token in_f = ctx_set(v, "fiber");
    (void)ctx_set_ptr(p, &released, count_release);
    assert_string_equal(ctx_get(v), "fiber");
    /* A token of the thread's own state does nothing here. */
    assert_int_equal(ctx_reset(changed_later), CTXLOG_ECONTEXT);
    assert_string_equal(ctx_get(v), "fiber");
    assert_int_equal(ctx_fiber_free(f), CTXLOG_EBUSY);

    assert_ptr_equal(ctx_fiber_switch(NULL), f);
    assert_string_equal(ctx_get(v), "thread-later");
    assert_null(ctx_get_ptr(p));
    /* The fiber's token does nothing on the thread's own state. */
    assert_int_equal(ctx_reset(in_f), CTXLOG_ECONTEXT);
    assert_string_equal(ctx_get(v), "thread-later");

    /* Switching to what is current changes nothing. */
    assert_null(ctx_fiber_switch(NULL));
    assert_null(ctx_fiber_switch(f));
    assert_ptr_equal(ctx_fiber_switch(f), f);
    assert_int_equal(ctx_reset(in_f), 0);
    assert_string_equal(ctx_get(v), "thread");
    assert_int_equal(ctx_reset(in_f), CTXLOG_ESTALE);
    assert_ptr_equal(ctx_fiber_switch(NULL), f);

    /* Freeing discards what it set: the pointer value is released. */
    assert_int_equal(released, 0);
    assert_int_equal(ctx_fiber_free(f), 0);
    assert_int_equal(released, 1);
    assert_int_equal(ctx_fiber_free(NULL), 0);

    assert_int_equal(ctx_reset(changed_later), 0);
    assert_int_equal(ctx_reset(outer), 0);
    assert_null(ctx_get(v));
}

/* A fiber made inside a fiber copies that fiber's context; switching
 * between two fibers returns the one switched out. */
static void test_fiber_nested_new_and_switch_chain(void **state)
{
    (void)state;
    ctx_var *v = ctx_var_new("fiber_test_v", CTX_VAR_LOGGED);
    ctx_fiber *a = ctx_fiber_new();
    assert_null(ctx_fiber_switch(a));
    ctx_token ta = ctx_set(v, "a");
    ctx_fiber *b = ctx_fiber_new();
    assert_ptr_equal(ctx_fiber_switch(b), a);
    assert_string_equal(ctx_get(v), "a");
    ctx_token tb = ctx_set(v, "b");
    assert_int_equal(ctx_reset(ta), CTXLOG_ECONTEXT);
    assert_ptr_equal(ctx_fiber_switch(a), b);
    assert_string_equal(ctx_get(v), "a");
    assert_int_equal(ctx_reset(tb), CTXLOG_ECONTEXT);
    assert_int_equal(ctx_reset(ta), 0);
    assert_null(ctx_get(v));
    assert_ptr_equal(ctx_fiber_switch(NULL), a);
    assert_int_equal(ctx_fiber_free(a), 0);
    assert_int_equal(ctx_fiber_free(b), 0);
}

/* ctx_run and ctx_attach frames belong to the fiber too. */
static void test_fiber_frames(void **state)
{
    (void)state;
    ctx_var *v = ctx_var_new("fiber_test_v", CTX_VAR_LOGGED);
    ctx_fiber *f = ctx_fiber_new();
    (void)ctx_fiber_switch(f);
    ctx_token s = ctx_set(v, "base");
    ctx_snapshot *snap = ctx_copy();
    ctx_token at = ctx_attach(NULL);
    assert_null(ctx_get(v));
    (void)ctx_fiber_switch(NULL);
    /* The attached frame is the fiber's: the thread cannot detach it. */
    assert_int_equal(ctx_detach(at), CTXLOG_ECONTEXT);
    (void)ctx_fiber_switch(f);
    assert_int_equal(ctx_detach(at), 0);
    assert_string_equal(ctx_get(v), "base");
    assert_int_equal(ctx_reset(s), 0);
    /* Freed with a frame still attached: the frame goes too. */
    (void)ctx_attach(snap);
    assert_string_equal(ctx_get(v), "base");
    (void)ctx_fiber_switch(NULL);
    ctx_release(snap);
    assert_int_equal(ctx_fiber_free(f), 0);
}

/* A token made in a fiber resets on another thread once the fiber is
 * current there; the thread that ran it before sees its own state. */
typedef struct hop {
    ctx_fiber *f;
    ctx_token tok;
    int rc;
    const char *seen;
} hop;

static void *resume_elsewhere(void *p)
{
    hop *h = p;
    ctx_var *v = ctx_var_new("fiber_test_v", CTX_VAR_LOGGED);
    ctx_token mine = ctx_set(v, "other thread");
    (void)ctx_fiber_switch(h->f);
    h->seen = ctx_get(v);
    h->rc = ctx_reset(h->tok);
    (void)ctx_fiber_switch(NULL);
    if (strcmp(ctx_get(v), "other thread") != 0)
        h->rc = 99;
    (void)ctx_reset(mine);
    return NULL;
}

static void *exit_while_switched_in(void *p)
{
    ctx_var *v = ctx_var_new("fiber_test_v", CTX_VAR_LOGGED);
    (void)ctx_set(v, "own state used");
    (void)ctx_fiber_switch(p);
    return NULL; /* without switching back */
}

static void test_fiber_migrates(void **state)
{
    (void)state;
    ctx_var *v = ctx_var_new("fiber_test_v", CTX_VAR_LOGGED);
    ctx_fiber *f = ctx_fiber_new();
    (void)ctx_fiber_switch(f);
    hop h = {.f = f, .tok = ctx_set(v, "in fiber")};
    (void)ctx_fiber_switch(NULL);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, resume_elsewhere, &h), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(h.rc, 0);
    assert_null(ctx_get(v));

    /* A thread that exits with the fiber switched in lets go of it. */
    assert_int_equal(pthread_create(&t, NULL, exit_while_switched_in, f), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(ctx_fiber_free(f), 0);
}

/* The level floor the logging macros test follows the fiber. */
static void test_fiber_level_floor(void **state)
{
    (void)state;
    assert_int_equal(log_level_set(LOG_LEVEL_INFO), 0);
    ctx_fiber *f = ctx_fiber_new();
    (void)ctx_fiber_switch(f);
    ctx_token lvl = log_context_level(LOG_LEVEL_DEBUG);
    assert_true(log__enabled(NULL, LOG_LEVEL_DEBUG));
    (void)ctx_fiber_switch(NULL);
    assert_false(log__enabled(NULL, LOG_LEVEL_DEBUG));
    (void)ctx_fiber_switch(f);
    assert_true(log__enabled(NULL, LOG_LEVEL_DEBUG));
    assert_int_equal(ctx_reset(lvl), 0);
    assert_false(log__enabled(NULL, LOG_LEVEL_DEBUG));
    (void)ctx_fiber_switch(NULL);
    assert_int_equal(ctx_fiber_free(f), 0);
}

/* ---- the issue's case: set, yield, reset ---------------------------------- */

#define ISSUE_COROS 4
typedef struct issue_req {
    int i;
    int reset_rc;
    char user[32];
} issue_req;

static void issue_body(void *arg)
{
    issue_req *r = arg;
    char rid[32], tenant[32];
    snprintf(rid, sizeof rid, "req-%d", r->i);
    snprintf(r->user, sizeof r->user, "user-%d", r->i);
    snprintf(tenant, sizeof tenant, "tenant-%d", r->i);
    CTX_REQUEST(rid, r->user, tenant);
    ctx_token t = ctx_set(CTX_USER_ID, "admin");
    coro_yield();
    r->reset_rc = ctx_reset(t);
    coro_yield();
    log_info_kv("after reset", LOG_I64("i", r->i));
}

static json_t *run_issue_case(int with_fibers, issue_req *reqs)
{
    char *path = ts_log_to_file("fiber_issue.log");
    coro *cos[ISSUE_COROS];
    for (int i = 0; i < ISSUE_COROS; i++) {
        reqs[i] = (issue_req){.i = i};
        cos[i] = coro_new(issue_body, &reqs[i], with_fibers);
    }
    coro_run_all(cos, ISSUE_COROS, 1);
    /* Without fibers the scheduler leaves whatever the last coroutine set. */
    ctx_var *vars[] = {CTX_REQUEST_ID, CTX_USER_ID, CTX_TENANT_ID};
    for (int k = 0; k < 3 && !with_fibers; k++)
        (void)ctx_set(vars[k], NULL);
    return ts_log_collect(path);
}

static void test_fiber_issue_case(void **state)
{
    (void)state;
    issue_req reqs[ISSUE_COROS];
    /* Without a fiber per coroutine, what the issue saw: the coroutines
     * share the thread's state, so records carry another coroutine's ids. */
    json_t *recs = run_issue_case(0, reqs);
    int foreign = 0;
    size_t k;
    json_t *rec;
    json_array_foreach(recs, k, rec)
    {
        char rid[32];
        snprintf(rid, sizeof rid, "req-%d", (int)json_integer_value(json_object_get(rec, "i")));
        const char *got = json_string_value(json_object_get(rec, "request_id"));
        foreign += !got || strcmp(got, rid) != 0;
    }
    assert_true(foreign > 0);
    json_decref(recs);

    /* With one: every reset works and every record is the coroutine's own. */
    recs = run_issue_case(1, reqs);
    assert_int_equal(json_array_size(recs), ISSUE_COROS);
    for (int i = 0; i < ISSUE_COROS; i++)
        assert_int_equal(reqs[i].reset_rc, 0);
    json_array_foreach(recs, k, rec)
    {
        int i = (int)json_integer_value(json_object_get(rec, "i"));
        assert_string_equal(json_string_value(json_object_get(rec, "user_id")), reqs[i].user);
    }
    json_decref(recs);
}

/* ---- the compiler trap: log, yield, resume on another thread, log -------- */

/* A thread that runs steps handed to it, one at a time, and stays alive, so
 * that a thread-local address kept from it would still point at its own
 * (different) level floor. */
typedef struct carrier {
    pthread_t t;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    void (*step)(void *);
    void *arg;
    int quit;
    int debug_floor; /* its own state has log_context_level(DEBUG) */
} carrier;

static void *carrier_main(void *p)
{
    carrier *c = p;
    ctx_token lvl = {0};
    if (c->debug_floor)
        lvl = log_context_level(LOG_LEVEL_DEBUG);
    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (!c->step && !c->quit)
            pthread_cond_wait(&c->cv, &c->mu);
        if (c->quit)
            break;
        c->step(c->arg);
        c->step = NULL;
        pthread_cond_broadcast(&c->cv);
    }
    pthread_mutex_unlock(&c->mu);
    (void)ctx_reset(lvl);
    return NULL;
}

static void carrier_start(carrier *c, int debug_floor)
{
    *c = (carrier){.debug_floor = debug_floor};
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    assert_int_equal(pthread_create(&c->t, NULL, carrier_main, c), 0);
}

static void carrier_run(carrier *c, void (*step)(void *), void *arg)
{
    pthread_mutex_lock(&c->mu);
    c->step = step;
    c->arg = arg;
    pthread_cond_broadcast(&c->cv);
    while (c->step)
        pthread_cond_wait(&c->cv, &c->mu);
    pthread_mutex_unlock(&c->mu);
}

static void carrier_stop(carrier *c)
{
    pthread_mutex_lock(&c->mu);
    c->quit = 1;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->t, NULL);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
}

typedef struct step {
    coro *c;
    int thread;
} step;

static void step_coro(void *p)
{
    step *s = p;
    (void)coro_step(s->c, s->thread);
}

/* Built at -O2: the macros' test is inlined here, around a call that
 * yields. X lowers its own level to debug; Y does not. */
static void body_x(void *arg)
{
    (void)arg;
    LOG_CONTEXT_LEVEL(LOG_LEVEL_DEBUG);
    log_debug("x before yield");
    coro_yield();
    log_debug("x after yield");
}

static void body_y(void *arg)
{
    (void)arg;
    log_debug("y before yield");
    coro_yield();
    log_debug("y after yield");
}

static void test_fiber_compiler_trap(void **state)
{
    (void)state;
    char *path = ts_log_to_file("fiber_trap.log");
    carrier plain, lowered; /* own level floor: none, and debug */
    carrier_start(&plain, 0);
    carrier_start(&lowered, 1);
    coro *x = coro_new(body_x, NULL, 1), *y = coro_new(body_y, NULL, 1);
    /* X starts where the floor is none, and resumes on the other thread
     * (whose own floor is debug too, but it has X's switched in). */
    carrier_run(&plain, step_coro, &(step){x, 0});
    carrier_run(&lowered, step_coro, &(step){x, 1});
    /* Y starts where the thread's own floor is debug (Y's is not), and
     * resumes where none is: neither of its records may pass. */
    carrier_run(&lowered, step_coro, &(step){y, 1});
    carrier_run(&plain, step_coro, &(step){y, 0});
    assert_int_equal(coro_migrations(x), 1);
    assert_int_equal(coro_migrations(y), 1);
    coro_free(x);
    coro_free(y);
    carrier_stop(&plain);
    carrier_stop(&lowered);
    json_t *recs = ts_log_collect(path);
    assert_int_equal(json_array_size(recs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(recs, 0), "msg")),
                        "x before yield");
    assert_string_equal(json_string_value(json_object_get(json_array_get(recs, 1), "msg")),
                        "x after yield");
    json_decref(recs);
}

/* ---- under load -------------------------------------------------------------- */

#define FAIL_EVERY 10

/* ThreadSanitizer takes a slot of at most 8,128 for each thread and each
 * coroutine stack (its fiber) alive, and is slow to give a thread's back:
 * under it the requests run 1,000 at a time, and one in 8 starts a thread. */
#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifdef UNDER_TSAN
#define THREAD_EVERY 8
#define WAVE 1000
#else
#define THREAD_EVERY 1
#define WAVE INT_MAX
#endif

typedef struct req {
    int i;
    int resets_failed;   /* resets that did not return 0 */
    int scope_leaked;    /* a scope's value seen after its block */
    int thread_failed;
    char rid[40], user[24], tenant[24];
    char trace[CTX_TRACE_ID_LEN + 1], span[CTX_SPAN_ID_LEN + 1], child[CTX_SPAN_ID_LEN + 1];
} req;

static ctx_var *phase_var(void)
{
    return ctx_var_new("phase", CTX_VAR_LOGGED);
}

static void copy_var(char *out, size_t n, ctx_var *v)
{
    const char *s = ctx_get(v);
    snprintf(out, n, "%s", s ? s : "");
}

static void *thread_in_request(void *arg)
{
    req *r = arg;
    log_info_kv("from thread", LOG_I64("i", r->i));
    return NULL;
}

static void request(void *arg)
{
    req *r = arg;
    CTX_REQUEST_TRACED(r->rid, r->user, r->tenant, NULL);
    LOG_CONTEXT_REPLAY(LOG_LEVEL_DEBUG, 4096);
    copy_var(r->trace, sizeof r->trace, CTX_TRACE_ID);
    copy_var(r->span, sizeof r->span, CTX_SPAN_ID);
    log_info_kv("start", LOG_I64("i", r->i));
    coro_yield();
    {
        ctx_token admin = ctx_set(CTX_USER_ID, "admin");
        coro_yield();
        {
            CTX_SCOPE(phase_var(), "inner");
            coro_yield();
            log_info_kv("inner", LOG_I64("i", r->i));
            coro_yield();
        }
        r->scope_leaked += ctx_get(phase_var()) != NULL;
        log_debug_kv("kept", LOG_I64("i", r->i)); /* as admin, for replay */
        coro_yield();
        r->resets_failed += ctx_reset(admin) != 0;
    }
    log_info_kv("after reset", LOG_I64("i", r->i));
    coro_yield();
    {
        CTX_SPAN();
        copy_var(r->child, sizeof r->child, CTX_SPAN_ID);
        coro_yield();
        log_info_kv("in span", LOG_I64("i", r->i));
        pthread_t t;
        if (r->i % THREAD_EVERY == 0 && (ctx_thread_create(&t, NULL, thread_in_request, r) != 0 ||
                                         pthread_join(t, NULL) != 0))
            r->thread_failed++;
        coro_yield();
    }
    r->scope_leaked += strcmp(ctx_get(CTX_SPAN_ID), r->span) != 0;
    coro_yield();
    if (r->i % FAIL_EVERY == 0)
        log_error_kv("failed", LOG_I64("i", r->i));
    else
        log_info_kv("done", LOG_I64("i", r->i));
}

static int stress_requests(void)
{
    const char *e = getenv("CTXLOG_STRESS_REQUESTS");
    int n = e ? atoi(e) : 10000;
    return n > 0 ? n : 10000;
}

static const char *str(const json_t *rec, const char *key)
{
    const char *s = json_string_value(json_object_get(rec, key));
    return s ? s : "";
}

/* What a record of request r must say, by its message; 0 when it does. */
static int misstamped(const json_t *rec, const req *r)
{
    const char *msg = str(rec, "msg");
    int replayed = json_is_true(json_object_get(rec, "replayed"));
    int admin = strcmp(msg, "inner") == 0 || strcmp(msg, "kept") == 0;
    int child = strcmp(msg, "in span") == 0 || strcmp(msg, "from thread") == 0;
    if (strcmp(str(rec, "request_id"), r->rid) || strcmp(str(rec, "tenant_id"), r->tenant) ||
        strcmp(str(rec, "user_id"), admin ? "admin" : r->user) ||
        strcmp(str(rec, "trace_id"), r->trace) ||
        strcmp(str(rec, "span_id"), child ? r->child : r->span))
        return 1;
    if ((strcmp(msg, "inner") == 0) != (json_object_get(rec, "phase") != NULL))
        return 1;
    if (strcmp(msg, "inner") == 0 && strcmp(str(rec, "phase"), "inner") != 0)
        return 1;
    return replayed != (strcmp(msg, "kept") == 0);
}

static void run_load(int threads, int async)
{
    int n = stress_requests();
    if (async)
        assert_int_equal(log__async_set(true, 64 * 1024, false), 0);
    char *path = ts_log_to_file("fiber_load.log");
    req *reqs = calloc((size_t)n, sizeof *reqs);
    coro **cos = calloc((size_t)n, sizeof *cos);
    assert_non_null(reqs);
    assert_non_null(cos);
    for (int i = 0; i < n; i++) {
        req *r = &reqs[i];
        r->i = i;
        snprintf(r->rid, sizeof r->rid, "req-%d-%d-%d", threads, async, i);
        snprintf(r->user, sizeof r->user, "user-%d", i);
        snprintf(r->tenant, sizeof r->tenant, "tenant-%d", i % 7);
    }
    /* The scheduler's own thread state stays as it was. */
    ctx_token mine = ctx_set(CTX_REQUEST_ID, "scheduler");
    for (int from = 0; from < n; from += WAVE) {
        int k = n - from < WAVE ? n - from : WAVE;
        for (int i = 0; i < k; i++)
            cos[i] = coro_new(request, &reqs[from + i], 1);
        coro_run_all(cos, (size_t)k, threads);
    }
    assert_string_equal(ctx_get(CTX_REQUEST_ID), "scheduler");
    assert_null(ctx_get(CTX_USER_ID));
    assert_int_equal(ctx_reset(mine), 0);
    json_t *recs = ts_log_collect(path);
    if (async)
        assert_int_equal(log__async_set(false, 0, false), 0);

    int *seen = calloc((size_t)n, sizeof *seen);
    assert_non_null(seen);
    size_t k, bad = 0;
    json_t *rec;
    json_array_foreach(recs, k, rec)
    {
        json_int_t i = json_integer_value(json_object_get(rec, "i"));
        if (!json_is_integer(json_object_get(rec, "i")) || i < 0 || i >= n) {
            bad++;
            continue;
        }
        seen[i]++;
        bad += misstamped(rec, &reqs[i]);
    }
    int failed_resets = 0, leaked = 0, thread_failed = 0, wrong_count = 0;
    for (int i = 0; i < n; i++) {
        failed_resets += reqs[i].resets_failed;
        leaked += reqs[i].scope_leaked;
        thread_failed += reqs[i].thread_failed;
        /* start, inner, after reset, in span, from thread, done/failed;
         * a failed request also replays its "kept". */
        wrong_count += seen[i] != 5 + (i % THREAD_EVERY == 0) + (i % FAIL_EVERY == 0);
    }
    print_message("%d coroutines on %d thread(s), %s: %zu records, %zu mis-stamped, "
                  "%d failed resets\n",
                  n, threads, async ? "async" : "sync", json_array_size(recs), bad,
                  failed_resets);
    assert_int_equal(bad, 0);
    assert_int_equal(failed_resets, 0);
    assert_int_equal(leaked, 0);
    assert_int_equal(thread_failed, 0);
    assert_int_equal(wrong_count, 0);
    assert_int_equal(json_array_size(recs), (size_t)(5 * n + (n + THREAD_EVERY - 1) / THREAD_EVERY +
                                                     (n + FAIL_EVERY - 1) / FAIL_EVERY));
    free(seen);
    free(reqs);
    free(cos);
    json_decref(recs);
}

static void test_fiber_load_one_thread_sync(void **state)
{
    (void)state;
    run_load(1, 0);
}

static void test_fiber_load_one_thread_async(void **state)
{
    (void)state;
    run_load(1, 1);
}

static void test_fiber_load_mn_sync(void **state)
{
    (void)state;
    run_load(4, 0);
}

static void test_fiber_load_mn_async(void **state)
{
    (void)state;
    run_load(4, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fiber_state_is_its_own),
        cmocka_unit_test(test_fiber_nested_new_and_switch_chain),
        cmocka_unit_test(test_fiber_frames),
        cmocka_unit_test(test_fiber_migrates),
        cmocka_unit_test(test_fiber_level_floor),
        cmocka_unit_test(test_fiber_issue_case),
        cmocka_unit_test(test_fiber_compiler_trap),
        cmocka_unit_test(test_fiber_load_one_thread_sync),
        cmocka_unit_test(test_fiber_load_one_thread_async),
        cmocka_unit_test(test_fiber_load_mn_sync),
        cmocka_unit_test(test_fiber_load_mn_async),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
