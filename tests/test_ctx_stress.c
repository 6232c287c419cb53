/* SPDX-License-Identifier: MIT */
/*
 * Concurrency stress test of the context store, meant to run under
 * ThreadSanitizer (and useful under AddressSanitizer).
 *
 * NTHREADS threads, started with ctx_thread_create from a main context, each
 * run STRESS_ITERS iterations of:
 *   - CTX_SCOPE three string variables to values unique to (thread, iteration),
 *     plus an opaque pointer (ctx_set_ptr) whose release is counted per value;
 *   - ctx_copy, then hand the snapshot through a mutex-protected queue to the
 *     next thread, which ctx_run's it and checks that it sees exactly the
 *     producer's values;
 *   - ctx_pool_submit to one shared ctx_pool(POOL_THREADS); the task checks the
 *     submitter's values and that nothing from an earlier task leaked in;
 *   - ctx_attach / ctx_detach cycles (a shared snapshot, then the own snapshot
 *     nested inside it), checking values at every step.
 * Helper threads never call cmocka: every check bumps `checks`, every failed
 * check bumps `mismatches`, and the main thread asserts mismatches == 0.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ctxlog/ctx.h>

#ifndef STRESS_ITERS
#define STRESS_ITERS 20000
#endif
#define NTHREADS 8
#define POOL_THREADS 4
#define VALLEN 48

static atomic_long g_checks;
static atomic_long g_mismatches;
static atomic_long g_first_mismatch_line;

#define CHECK(cond)                                                              \
    do {                                                                         \
        atomic_fetch_add_explicit(&g_checks, 1, memory_order_relaxed);           \
        if (!(cond)) {                                                           \
            atomic_fetch_add(&g_mismatches, 1);                                  \
            long zero_ = 0;                                                      \
            atomic_compare_exchange_strong(&g_first_mismatch_line, &zero_,       \
                                           (long)__LINE__);                      \
        }                                                                        \
    } while (0)

static int str_is(const char *got, const char *want)
{
    if (want == NULL)
        return got == NULL;
    return got != NULL && strcmp(got, want) == 0;
}

static ctx_var *g_va, *g_vb, *g_vc, *g_vp, *g_vleak, *g_vroot, *g_vattach;
static ctx_pool *g_pool;
static ctx_snapshot *g_shared; /* va="shared-a", vattach="shared", rest unset */

/* One release counter per pointer value ever set: each must end at exactly 1. */
static atomic_int g_released[NTHREADS * STRESS_ITERS];
static atomic_long g_release_calls;

static void release_marker(void *p)
{
    atomic_int *m = p;
    atomic_fetch_add(m, 1);
    atomic_fetch_add(&g_release_calls, 1);
}

typedef struct expect {
    char a[VALLEN], b[VALLEN], c[VALLEN];
    atomic_int *marker;
} expect;

static void check_expect(const expect *e)
{
    CHECK(str_is(ctx_get(g_va), e->a));
    CHECK(str_is(ctx_get(g_vb), e->b));
    CHECK(str_is(ctx_get(g_vc), e->c));
    CHECK(ctx_get_ptr(g_vp) == e->marker);
    CHECK(ctx_get(g_vp) == NULL);
    /* visible, so not released yet */
    CHECK(atomic_load(e->marker) == 0);
}

/* ---- snapshot hand-off queue -------------------------------------------- */

typedef struct item {
    struct item *next;
    ctx_snapshot *snap;
    expect e;
} item;

typedef struct queue {
    pthread_mutex_t m;
    pthread_cond_t cv;
    item *head, *tail;
} queue;

static queue g_queues[NTHREADS];

static void queue_push(queue *q, item *it)
{
    it->next = NULL;
    pthread_mutex_lock(&q->m);
    if (q->tail)
        q->tail->next = it;
    else
        q->head = it;
    q->tail = it;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->m);
}

static item *queue_pop(queue *q, int block)
{
    pthread_mutex_lock(&q->m);
    while (block && q->head == NULL)
        pthread_cond_wait(&q->cv, &q->m);
    item *it = q->head;
    if (it) {
        q->head = it->next;
        if (q->head == NULL)
            q->tail = NULL;
    }
    pthread_mutex_unlock(&q->m);
    return it;
}

static void consume_fn(void *p)
{
    item *it = p;
    check_expect(&it->e);
    CHECK(ctx_get(g_vroot) == NULL); /* the snapshot's context, not the consumer's */
    /* whatever is set here is discarded with the frame */
    ctx_set(g_va, "consumer-scribble");
    ctx_set(g_vleak, "consumer-leak");
    CHECK(str_is(ctx_get(g_va), "consumer-scribble"));
}

static void consume(item *it)
{
    ctx_run(it->snap, consume_fn, it);
    CHECK(ctx_get(g_vleak) == NULL);
    CHECK(str_is(ctx_get(g_vroot), "root"));
    ctx_release(it->snap);
    free(it);
}

/* ---- pool tasks ---------------------------------------------------------- */

static atomic_long g_pool_done;

static void pool_task(void *p)
{
    expect *e = p;
    CHECK(ctx_get(g_vleak) == NULL); /* nothing from an earlier task */
    check_expect(e);
    CHECK(ctx_get(g_vroot) == NULL); /* captured inside a scope... */
    ctx_set(g_vleak, "task-leak");   /* ...and never reset */
    ctx_set(g_vb, "task-scribble");
    free(e);
    atomic_fetch_add(&g_pool_done, 1);
}

/* ---- worker thread ------------------------------------------------------- */

typedef struct worker {
    int id;
    unsigned rng;
    int received;
} worker;

static unsigned next_rand(unsigned *s)
{
    unsigned x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x ? x : 0x9e3779b9u;
}

static void attach_cycle(ctx_snapshot *own, const expect *e)
{
    ctx_token outer = ctx_attach(g_shared);
    CHECK(str_is(ctx_get(g_va), "shared-a"));
    CHECK(str_is(ctx_get(g_vattach), "shared"));
    CHECK(ctx_get(g_vb) == NULL);
    CHECK(ctx_get_ptr(g_vp) == NULL);
    ctx_token tb = ctx_set(g_vb, "in-attach");
    ctx_token inner = ctx_attach(own);
    check_expect(e);
    CHECK(ctx_get(g_vattach) == NULL);
    ctx_set(g_vc, "inner-scribble");
    CHECK(ctx_detach(outer) == CTXLOG_ECONTEXT); /* not the innermost */
    CHECK(ctx_detach(inner) == 0);
    CHECK(ctx_detach(inner) == CTXLOG_ESTALE);
    CHECK(str_is(ctx_get(g_vb), "in-attach"));
    CHECK(str_is(ctx_get(g_va), "shared-a"));
    CHECK(ctx_reset(tb) == 0);
    CHECK(ctx_get(g_vb) == NULL);
    CHECK(ctx_detach(outer) == 0);
    /* back in the thread's own scope */
    CHECK(str_is(ctx_get(g_va), e->a));
    CHECK(str_is(ctx_get(g_vb), e->b));
    CHECK(str_is(ctx_get(g_vc), e->c));
    CHECK(ctx_get(g_vattach) == NULL);
}

static void *worker_main(void *p)
{
    worker *w = p;
    CHECK(str_is(ctx_get(g_vroot), "root")); /* inherited via ctx_thread_create */
    queue *mine = &g_queues[w->id];
    queue *next = &g_queues[(w->id + 1) % NTHREADS];
    for (int i = 0; i < STRESS_ITERS; i++) {
        item *it = malloc(sizeof *it);
        expect *task = malloc(sizeof *task);
        if (it == NULL || task == NULL) {
            CHECK(0);
            free(it);
            free(task);
            break;
        }
        unsigned r = next_rand(&w->rng);
        snprintf(it->e.a, VALLEN, "a-%d-%d-%08x", w->id, i, r);
        snprintf(it->e.b, VALLEN, "b-%u", r ^ (unsigned)i);
        snprintf(it->e.c, VALLEN, "c-%d/%d", i, w->id);
        it->e.marker = &g_released[w->id * STRESS_ITERS + i];
        {
            CTX_SCOPE(g_va, it->e.a);
            CTX_SCOPE(g_vb, it->e.b);
            CTX_SCOPE(g_vc, "placeholder");
            CTX_SCOPE(g_vc, it->e.c);
            ctx_token tp = ctx_set_ptr(g_vp, it->e.marker, release_marker);
            CHECK(str_is(ctx_get(g_vroot), "root"));
            {
                CTX_SCOPE(g_vroot, NULL); /* the snapshot and task do not carry root */
                it->snap = ctx_copy();
                CHECK(it->snap != NULL);
                *task = it->e;
                CHECK(ctx_pool_submit(g_pool, pool_task, task) == 0);
            }
            CHECK(str_is(ctx_get(g_vroot), "root"));
            check_expect(&it->e);
            attach_cycle(it->snap, &it->e);
            CHECK(ctx_reset(tp) == 0);
            CHECK(ctx_get_ptr(g_vp) == NULL);
            queue_push(next, it); /* `it` belongs to the consumer from here */
        }
        CHECK(ctx_get(g_va) == NULL);
        CHECK(ctx_get(g_vb) == NULL);
        CHECK(ctx_get(g_vc) == NULL);
        /* consume what has arrived so far */
        item *in;
        while ((in = queue_pop(mine, 0)) != NULL) {
            consume(in);
            w->received++;
        }
    }
    while (w->received < STRESS_ITERS) {
        consume(queue_pop(mine, 1));
        w->received++;
    }
    CHECK(str_is(ctx_get(g_vroot), "root"));
    return NULL;
}

static void test_ctx__stress_snapshots_pool_attach(void **state)
{
    (void)state;
    g_va = ctx_var_new("stress.a", CTX_VAR_LOGGED);
    g_vb = ctx_var_new("stress.b", CTX_VAR_LOGGED);
    g_vc = ctx_var_new("stress.c", 0);
    g_vp = ctx_var_new("stress.ptr", 0);
    g_vleak = ctx_var_new("stress.leak", 0);
    g_vroot = ctx_var_new("stress.root", 0);
    g_vattach = ctx_var_new("stress.attach", 0);
    assert_non_null(g_va);
    assert_non_null(g_vb);
    assert_non_null(g_vc);
    assert_non_null(g_vp);
    assert_non_null(g_vleak);
    assert_non_null(g_vroot);
    assert_non_null(g_vattach);

    {
        CTX_SCOPE(g_va, "shared-a");
        CTX_SCOPE(g_vattach, "shared");
        g_shared = ctx_copy();
    }
    assert_non_null(g_shared);
    g_pool = ctx_pool_new(POOL_THREADS);
    assert_non_null(g_pool);
    for (int i = 0; i < NTHREADS; i++) {
        pthread_mutex_init(&g_queues[i].m, NULL);
        pthread_cond_init(&g_queues[i].cv, NULL);
    }

    static worker workers[NTHREADS];
    pthread_t th[NTHREADS];
    {
        CTX_SCOPE(g_vroot, "root");
        for (int i = 0; i < NTHREADS; i++) {
            workers[i] = (worker){.id = i, .rng = 0x12345u * (unsigned)(i + 1)};
            assert_int_equal(ctx_thread_create(&th[i], NULL, worker_main, &workers[i]), 0);
        }
    }
    assert_null(ctx_get(g_vroot));
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    ctx_pool_free(g_pool);
    ctx_release(g_shared);

    long total = (long)NTHREADS * STRESS_ITERS;
    for (int i = 0; i < NTHREADS; i++) {
        assert_int_equal(workers[i].received, STRESS_ITERS);
        assert_null(g_queues[i].head);
        pthread_mutex_destroy(&g_queues[i].m);
        pthread_cond_destroy(&g_queues[i].cv);
    }
    print_message("checks: %ld, mismatches: %ld (first at line %ld)\n",
                  atomic_load(&g_checks), atomic_load(&g_mismatches),
                  atomic_load(&g_first_mismatch_line));
    assert_int_equal(atomic_load(&g_mismatches), 0);
    assert_true(atomic_load(&g_checks) > total * 40);
    assert_int_equal(atomic_load(&g_pool_done), total);
    /* every pointer value released exactly once, once nothing held it */
    assert_int_equal(atomic_load(&g_release_calls), total);
    for (long i = 0; i < total; i++)
        if (atomic_load(&g_released[i]) != 1)
            fail_msg("pointer value %ld released %d times", i, atomic_load(&g_released[i]));
}

/* Many threads declaring the same variables while others set and copy them. */
#define DECL_ROUNDS 200

static atomic_long g_decl_bad;

static void *decl_main(void *p)
{
    int id = (int)(intptr_t)p;
    char name[64], val[32];
    for (int r = 0; r < DECL_ROUNDS; r++) {
        snprintf(name, sizeof name, "stress.decl.%d", r);
        ctx_var *v = ctx_var_new(name, CTX_VAR_LOGGED);
        if (v == NULL || strcmp(ctx_var_name(v), name) != 0) {
            atomic_fetch_add(&g_decl_bad, 1);
            continue;
        }
        snprintf(val, sizeof val, "%d:%d", id, r);
        ctx_token t = ctx_set(v, val);
        ctx_snapshot *s = ctx_copy();
        if (!str_is(ctx_get(v), val))
            atomic_fetch_add(&g_decl_bad, 1);
        if (ctx_reset(t) != 0 || ctx_get(v) != NULL)
            atomic_fetch_add(&g_decl_bad, 1);
        ctx_token ta = ctx_attach(s);
        if (!str_is(ctx_get(v), val) || ctx_detach(ta) != 0)
            atomic_fetch_add(&g_decl_bad, 1);
        ctx_release(s);
        if (ctx_var_new(name, 0) != v)
            atomic_fetch_add(&g_decl_bad, 1);
    }
    return NULL;
}

static void test_ctx__stress_declare_while_using(void **state)
{
    (void)state;
    pthread_t th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, decl_main, (void *)(intptr_t)i), 0);
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    assert_int_equal(atomic_load(&g_decl_bad), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ctx__stress_snapshots_pool_attach),
        cmocka_unit_test(test_ctx__stress_declare_while_using),
    };
    return cmocka_run_group_tests_name("ctx_stress", tests, NULL, NULL);
}
