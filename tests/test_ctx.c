/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the context store (include/ctxlog/ctx.h, SPEC §3), written from
 * the public contract only. Every test uses its own variables (uvar()) so that
 * a failing test cannot leak state into the next one.
 *
 * cmocka assertions are only made on the main thread: helper threads record
 * what they saw into structs that the main thread checks after joining them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ctxlog/ctx.h>

#include "support.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

/* A fresh, never used variable. */
static ctx_var *uvar(void)
{
    static atomic_int counter;
    char name[64];
    snprintf(name, sizeof name, "test_ctx.var.%d", atomic_fetch_add(&counter, 1));
    ctx_var *v = ctx_var_new(name, 0);
    assert_non_null(v);
    return v;
}

/* Copy of a value as seen by another thread: NULL is kept apart from "". */
typedef struct seen {
    int is_null;
    char text[256];
} seen;

static void see(seen *s, const char *value)
{
    s->is_null = value == NULL;
    snprintf(s->text, sizeof s->text, "%s", value ? value : "");
}

#define assert_seen_null(s) assert_true((s).is_null)
#define assert_seen_str(s, str)                                                  \
    do {                                                                         \
        assert_false((s).is_null);                                               \
        assert_string_equal((s).text, (str));                                    \
    } while (0)

/* A countdown latch with a timeout so that a broken implementation makes a
 * test fail instead of hanging. */
typedef struct latch {
    pthread_mutex_t m;
    pthread_cond_t c;
    int n;
} latch;

static void latch_init(latch *l)
{
    pthread_mutex_init(&l->m, NULL);
    pthread_cond_init(&l->c, NULL);
    l->n = 0;
}

static void latch_destroy(latch *l)
{
    pthread_mutex_destroy(&l->m);
    pthread_cond_destroy(&l->c);
}

static void latch_post(latch *l)
{
    pthread_mutex_lock(&l->m);
    l->n++;
    pthread_cond_broadcast(&l->c);
    pthread_mutex_unlock(&l->m);
}

/* Wait until the latch has been posted @p target times; 0, or -1 after 30 s. */
static int latch_wait(latch *l, int target)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 30;
    int rc = 0;
    pthread_mutex_lock(&l->m);
    while (l->n < target && rc == 0)
        rc = pthread_cond_timedwait(&l->c, &l->m, &deadline);
    int ok = l->n >= target;
    pthread_mutex_unlock(&l->m);
    return ok ? 0 : -1;
}

/* Run fn(arg) on a plain pthread (empty context) and join it. */
static void run_plain_thread(void *(*fn)(void *), void *arg)
{
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, fn, arg), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
}

/* Release counting for ctx_set_ptr values. */
typedef struct relcount {
    atomic_int calls;
} relcount;

static void count_release(void *p)
{
    relcount *r = p;
    atomic_fetch_add(&r->calls, 1);
}

static int is_hex_lower(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* 8-4-4-4-12 lowercase hex, version 7, variant 10xx. */
static int is_uuid7(const char *s)
{
    if (s == NULL || strlen(s) != CTX_UUID_LEN)
        return 0;
    for (int i = 0; i < CTX_UUID_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!is_hex_lower(s[i])) {
            return 0;
        }
    }
    if (s[14] != '7')
        return 0;
    if (strchr("89ab", s[19]) == NULL)
        return 0;
    return 1;
}

/* The 48-bit Unix millisecond timestamp of a UUIDv7. */
static uint64_t uuid7_ms(const char *s)
{
    uint64_t ms = 0;
    for (int i = 0; i < 13; i++) {
        if (i == 8)
            continue;
        char c = s[i];
        ms = ms * 16 + (uint64_t)(c <= '9' ? c - '0' : c - 'a' + 10);
    }
    return ms;
}

static void assert_uuid7_now(const char *s)
{
    assert_non_null(s);
    if (!is_uuid7(s))
        fail_msg("not a UUIDv7: \"%s\"", s);
    int64_t secs = (int64_t)(uuid7_ms(s) / 1000);
    int64_t now = (int64_t)time(NULL);
    int64_t diff = secs > now ? secs - now : now - secs;
    if (diff > 5)
        fail_msg("UUIDv7 timestamp %" PRId64 " is %" PRId64 " s from now", secs, diff);
}

/* ------------------------------------------------------------------------ */
/* ctx_var_new / ctx_var_name / built-ins                                   */
/* ------------------------------------------------------------------------ */

static void test_ctx__var_new_same_name_same_handle(void **state)
{
    (void)state;
    ctx_var *a = ctx_var_new("test_ctx.same_name", CTX_VAR_LOGGED);
    assert_non_null(a);
    ctx_var *b = ctx_var_new("test_ctx.same_name", 0);
    assert_ptr_equal(a, b);
    ctx_var *c = ctx_var_new("test_ctx.same_name.other", 0);
    assert_non_null(c);
    assert_ptr_not_equal(a, c);
    /* a name from a different buffer with the same text */
    char buf[] = "test_ctx.same_name";
    assert_ptr_equal(ctx_var_new(buf, 0), a);
}

static void test_ctx__var_new_copies_name(void **state)
{
    (void)state;
    char buf[] = "test_ctx.copied_name";
    ctx_var *v = ctx_var_new(buf, 0);
    assert_non_null(v);
    buf[0] = 'X';
    assert_string_equal(ctx_var_name(v), "test_ctx.copied_name");
    assert_ptr_equal(ctx_var_new("test_ctx.copied_name", 0), v);
}

static void test_ctx__var_new_null_or_empty_is_null(void **state)
{
    (void)state;
    assert_null(ctx_var_new(NULL, 0));
    assert_null(ctx_var_new("", 0));
    assert_null(ctx_var_new(NULL, CTX_VAR_LOGGED));
    assert_null(ctx_var_new("", CTX_VAR_LOGGED));
}

static void test_ctx__var_name_returns_declared_name(void **state)
{
    (void)state;
    ctx_var *v = ctx_var_new("test_ctx.named", CTX_VAR_LOGGED);
    assert_non_null(v);
    assert_non_null(ctx_var_name(v));
    assert_string_equal(ctx_var_name(v), "test_ctx.named");
}

#define RACE_THREADS 8
#define RACE_ROUNDS 64

typedef struct race_arg {
    pthread_barrier_t *barrier;
    char (*names)[64];
    ctx_var *got[RACE_ROUNDS];
} race_arg;

static void *race_thread(void *p)
{
    race_arg *a = p;
    for (int r = 0; r < RACE_ROUNDS; r++) {
        pthread_barrier_wait(a->barrier);
        a->got[r] = ctx_var_new(a->names[r], CTX_VAR_LOGGED);
    }
    return NULL;
}

static void test_ctx__var_new_race_same_handle(void **state)
{
    (void)state;
    static char names[RACE_ROUNDS][64];
    for (int r = 0; r < RACE_ROUNDS; r++)
        snprintf(names[r], sizeof names[r], "test_ctx.race.%d", r);
    pthread_barrier_t barrier;
    assert_int_equal(pthread_barrier_init(&barrier, NULL, RACE_THREADS), 0);
    static race_arg args[RACE_THREADS];
    pthread_t th[RACE_THREADS];
    for (int i = 0; i < RACE_THREADS; i++) {
        args[i].barrier = &barrier;
        args[i].names = names;
        assert_int_equal(pthread_create(&th[i], NULL, race_thread, &args[i]), 0);
    }
    for (int i = 0; i < RACE_THREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    pthread_barrier_destroy(&barrier);
    for (int r = 0; r < RACE_ROUNDS; r++) {
        ctx_var *expect = ctx_var_new(names[r], 0);
        assert_non_null(expect);
        assert_string_equal(ctx_var_name(expect), names[r]);
        for (int i = 0; i < RACE_THREADS; i++)
            assert_ptr_equal(args[i].got[r], expect);
    }
}

static void test_ctx__builtin_vars_named(void **state)
{
    (void)state;
    assert_non_null(CTX_REQUEST_ID);
    assert_non_null(CTX_USER_ID);
    assert_non_null(CTX_TENANT_ID);
    assert_string_equal(ctx_var_name(CTX_REQUEST_ID), "request_id");
    assert_string_equal(ctx_var_name(CTX_USER_ID), "user_id");
    assert_string_equal(ctx_var_name(CTX_TENANT_ID), "tenant_id");
    assert_ptr_not_equal(CTX_REQUEST_ID, CTX_USER_ID);
    assert_ptr_not_equal(CTX_USER_ID, CTX_TENANT_ID);
    assert_ptr_not_equal(CTX_REQUEST_ID, CTX_TENANT_ID);
    /* stable handles, and the same as declaring the name */
    assert_ptr_equal(CTX_REQUEST_ID, ctx_var_request_id());
    assert_ptr_equal(ctx_var_new("request_id", 0), CTX_REQUEST_ID);
    assert_ptr_equal(ctx_var_new("user_id", 0), CTX_USER_ID);
    assert_ptr_equal(ctx_var_new("tenant_id", 0), CTX_TENANT_ID);
}

/* ------------------------------------------------------------------------ */
/* ctx_set / ctx_get                                                        */
/* ------------------------------------------------------------------------ */

static void test_ctx__set_copies_string(void **state)
{
    (void)state;
    ctx_var *v = uvar();
    char buf[32] = "original";
    ctx_token t = ctx_set(v, buf);
    memcpy(buf, "CHANGED!", 9);
    assert_string_equal(ctx_get(v), "original");
    assert_int_equal(ctx_reset(t), 0);
    assert_null(ctx_get(v));
}

static void test_ctx__set_null_unsets(void **state)
{
    (void)state;
    ctx_var *v = uvar();
    ctx_token t1 = ctx_set(v, "x");
    assert_string_equal(ctx_get(v), "x");
    ctx_token t2 = ctx_set(v, NULL);
    assert_null(ctx_get(v));
    assert_int_equal(ctx_reset(t2), 0);
    assert_string_equal(ctx_get(v), "x");
    assert_int_equal(ctx_reset(t1), 0);
    assert_null(ctx_get(v));
}

static void test_ctx__set_empty_string_is_set(void **state)
{
    (void)state;
    ctx_var *v = uvar();
    ctx_token t = ctx_set(v, "");
    assert_non_null(ctx_get(v));
    assert_string_equal(ctx_get(v), "");
    assert_int_equal(ctx_reset(t), 0);
    assert_null(ctx_get(v));
}

static void test_ctx__get_unset_is_null(void **state)
{
    (void)state;
    ctx_var *v = uvar();
    assert_null(ctx_get(v));
    ctx_var *w = uvar();
    ctx_token t = ctx_set(w, "w");
    assert_null(ctx_get(v)); /* other variables set: still unset */
    assert_int_equal(ctx_reset(t), 0);
}

static void test_ctx__get_null_var_is_null(void **state)
{
    (void)state;
    assert_null(ctx_get(NULL));
    assert_null(ctx_get_ptr(NULL));
    int64_t x = 7;
    assert_int_equal(ctx_get_i64(NULL, &x), CTXLOG_EINVAL);
}

static void test_ctx__set_null_var_token_einval(void **state)
{
    (void)state;
    ctx_var *v = uvar();
    ctx_token tv = ctx_set(v, "kept");
    ctx_token t = ctx_set(NULL, "x");
    assert_string_equal(ctx_get(v), "kept"); /* nothing changed */
    assert_int_equal(ctx_reset(t), CTXLOG_EINVAL);
    ctx_token ti = ctx_set_i64(NULL, 5);
    assert_int_equal(ctx_reset(ti), CTXLOG_EINVAL);
    ctx_token tp = ctx_set_ptr(NULL, &tv, NULL);
    assert_int_equal(ctx_reset(tp), CTXLOG_EINVAL);
    assert_string_equal(ctx_get(v), "kept");
    assert_int_equal(ctx_reset(tv), 0);
    assert_null(ctx_get(v));
}

static void test_ctx__set_long_value(void **state)
{
    (void)state;
    ctx_var *v = uvar();
    size_t n = 100000;
    char *big = malloc(n + 1);
    assert_non_null(big);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)('a' + i % 26);
    big[n] = '\0';
    ctx_token t = ctx_set(v, big);
    assert_non_null(ctx_get(v));
    assert_int_equal(strlen(ctx_get(v)), n);
    assert_string_equal(ctx_get(v), big);
    free(big);
    assert_int_equal(ctx_reset(t), 0);
}

/* ------------------------------------------------------------------------ */
/* ctx_reset                                                                */
/* ------------------------------------------------------------------------ */

static void test_ctx__reset_restores_previous(void **state)
{
    (void)state;
    ctx_var *v = uvar();
    ctx_token t1 = ctx_set(v, "a");
    ctx_token t2 = ctx_set(v, "b");
    assert_string_equal(ctx_get(v), "b");
    assert_int_equal(ctx_reset(t2), 0);
    assert_string_equal(ctx_get(v), "a");
    assert_int_equal(ctx_reset(t1), 0);
    assert_null(ctx_get(v)); /* exactly: unset, not "" */
}

static void test_ctx__reset_leaves_other_vars(void **state)
{
    (void)state;
    ctx_var *v = uvar(), *w = uvar();
    ctx_token tv = ctx_set(v, "v");
    ctx_token tw = ctx_set(w, "w");
    assert_int_equal(ctx_reset(tv), 0); /* not LIFO across variables */
    assert_null(ctx_get(v));
    assert_string_equal(ctx_get(w), "w");
    assert_int_equal(ctx_reset(tw), 0);
    assert_null(ctx_get(w));
}

static void test_ctx__reset_lifo_nested_same_var(void **state)
{
    (void)state;
    ctx_var *v = uvar();
    enum { N = 20 };
    ctx_token t[N];
    char buf[16];
    for (int i = 0; i < N; i++) {
        snprintf(buf, sizeof buf, "val%d", i);
        t[i] = ctx_set(v, buf);
        assert_string_equal(ctx_get(v), buf);
    }
    for (int i = N - 1; i >= 0; i--) {
        assert_int_equal(ctx_reset(t[i]), 0);
        if (i == 0) {
            assert_null(ctx_get(v));
        } else {
            snprintf(buf, sizeof buf, "val%d", i - 1);
            assert_string_equal(ctx_get(v), buf);
        }
    }
}

static void test_ctx__reset_out_of_order_restores_that_sets_previous(void **state)
{
    (void)state;
    ctx_var *v = uvar();
    ctx_token t1 = ctx_set(v, "a");
    ctx_token t2 = ctx_set(v, "b");
    assert_int_equal(ctx_reset(t1), 0); /* value before t1: unset */
    assert_null(ctx_get(v));
    assert_int_equal(ctx_reset(t2), 0); /* value before t2: "a" */
    assert_string_equal(ctx_get(v), "a");
    assert_int_equal(ctx_reset(t2), CTXLOG_ESTALE);
    assert_int_equal(ctx_reset(t1), CTXLOG_ESTALE);
    ctx_token t3 = ctx_set(v, NULL);
    assert_int_equal(ctx_reset(t3), 0);
    assert_string_equal(ctx_get(v), "a");
    ctx_token t4 = ctx_set(v, NULL); /* leave the variable unset */
    (void)t4;
}

static void test_ctx__reset_twice_estale(void **state)
{
    (void)state;
    ctx_var *v = uvar();
    ctx_token t0 = ctx_set(v, "zero");
    ctx_token t = ctx_set(v, "one");
    assert_int_equal(ctx_reset(t), 0);
    assert_string_equal(ctx_get(v), "zero");
    assert_int_equal(ctx_reset(t), CTXLOG_ESTALE);
    assert_string_equal(ctx_get(v), "zero"); /* the failed reset changed nothing */
    assert_int_equal(ctx_reset(t0), 0);
    assert_int_equal(ctx_reset(t0), CTXLOG_ESTALE);
    assert_null(ctx_get(v));
}

typedef struct xthread {
    ctx_var *v;
    ctx_token tok;
    int rc;
    seen before, after;
} xthread;

static void *set_in_thread(void *p)
{
    xthread *x = p;
    x->tok = ctx_set(x->v, "thread-value");
    return NULL;
}

static void *reset_in_thread(void *p)
{
    xthread *x = p;
    see(&x->before, ctx_get(x->v));
    x->rc = ctx_reset(x->tok);
    see(&x->after, ctx_get(x->v));
    return NULL;
}

static void test_ctx__reset_token_from_other_thread_econtext(void **state)
{
    (void)state;
    ctx_var *v = uvar();
    /* a token made in another thread, reset here */
    xthread x = {.v = v};
    run_plain_thread(set_in_thread, &x);
    ctx_token mine = ctx_set(v, "main-value");
    assert_int_equal(ctx_reset(x.tok), CTXLOG_ECONTEXT);
    assert_string_equal(ctx_get(v), "main-value");

    /* a token made here, reset in another thread */
    xthread y = {.v = v, .tok = mine};
    run_plain_thread(reset_in_thread, &y);
    assert_int_equal(y.rc, CTXLOG_ECONTEXT);
    assert_seen_null(y.before);
    assert_seen_null(y.after);
    assert_string_equal(ctx_get(v), "main-value");
    /* the failed attempt elsewhere did not consume the token */
    assert_int_equal(ctx_reset(mine), 0);
    assert_null(ctx_get(v));
}

typedef struct run_tok {
    ctx_var *v;
    ctx_token tok;
    int rc;
    seen s;
} run_tok;

static void set_in_run(void *p)
{
    run_tok *r = p;
    r->tok = ctx_set(r->v, "inner");
}

static void test_ctx__reset_token_from_finished_run_econtext(void **state)
{
    (void)state;
    ctx_var *v = uvar();
    ctx_token outer = ctx_set(v, "outer");
    run_tok r = {.v = v};
    ctx_snapshot *s = ctx_copy();
    ctx_run(s, set_in_run, &r);
    ctx_release(s);
    assert_string_equal(ctx_get(v), "outer");
    assert_int_equal(ctx_reset(r.tok), CTXLOG_ECONTEXT);
    assert_string_equal(ctx_get(v), "outer");
    /* also when the run frame started from an empty context */
    ctx_run(NULL, set_in_run, &r);
    assert_int_equal(ctx_reset(r.tok), CTXLOG_ECONTEXT);
    assert_string_equal(ctx_get(v), "outer");
    assert_int_equal(ctx_reset(outer), 0);
    assert_null(ctx_get(v));
}

static void reset_in_run(void *p)
{
    run_tok *r = p;
    r->rc = ctx_reset(r->tok);
    see(&r->s, ctx_get(r->v));
}

static void test_ctx__reset_outer_token_inside_run_econtext(void **state)
{
    (void)state;
    ctx_var *v = uvar();
    ctx_token outer = ctx_set(v, "outer");
    ctx_snapshot *s = ctx_copy();
    run_tok r = {.v = v, .tok = outer, .rc = 99};
    ctx_run(s, reset_in_run, &r);
    assert_int_equal(r.rc, CTXLOG_ECONTEXT);
    assert_seen_str(r.s, "outer");
    r.rc = 99;
    ctx_run(NULL, reset_in_run, &r);
    assert_int_equal(r.rc, CTXLOG_ECONTEXT);
    assert_seen_null(r.s);
    ctx_release(s);
    assert_string_equal(ctx_get(v), "outer");
    assert_int_equal(ctx_reset(outer), 0); /* still valid in its own frame */
    assert_null(ctx_get(v));
}

static void test_ctx__reset_zeroed_token_fails(void **state)
{
    (void)state;
    ctx_token z;
    memset(&z, 0, sizeof z);
    assert_true(ctx_reset(z) < 0);
    assert_true(ctx_detach(z) < 0);
    ctx_var *v = uvar();
    ctx_token t = ctx_set(v, "v");
    assert_true(ctx_reset(z) < 0);
    assert_string_equal(ctx_get(v), "v");
    assert_int_equal(ctx_reset(t), 0);
}

static void test_ctx__reset_attach_token_einval(void **state)
{
    (void)state;
    ctx_var *v = uvar();
    ctx_token tv = ctx_set(v, "snap");
    ctx_snapshot *s = ctx_copy();
    assert_int_equal(ctx_reset(tv), 0);
    ctx_token ta = ctx_attach(s);
    assert_string_equal(ctx_get(v), "snap");
    assert_int_equal(ctx_reset(ta), CTXLOG_EINVAL);
    assert_string_equal(ctx_get(v), "snap"); /* still attached */
    assert_int_equal(ctx_detach(ta), 0);
    assert_null(ctx_get(v));
    ctx_release(s);
}

typedef struct dropped {
    ctx_var *v, *w;
    int rc_w, rc_last, rc_stale_v;
    seen w_after, v_before, v_after;
} dropped;

static void *dropped_thread(void *p)
{
    dropped *d = p;
    ctx_token tw = ctx_set(d->w, "w-value");
    ctx_token first = {0}, last = {0};
    char buf[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(buf, sizeof buf, "v%d", i);
        last = ctx_set(d->v, buf);
        if (i == 0)
            first = last;
    }
    see(&d->v_before, ctx_get(d->v));
    d->rc_w = ctx_reset(tw);
    see(&d->w_after, ctx_get(d->w));
    d->rc_stale_v = ctx_reset(first);
    d->rc_last = ctx_reset(last);
    see(&d->v_after, ctx_get(d->v));
    return NULL;
}

static void test_ctx__dropped_tokens_same_var_keep_other_var_token(void **state)
{
    (void)state;
    dropped d = {.v = uvar(), .w = uvar()};
    /* in the base frame of a fresh thread ... */
    run_plain_thread(dropped_thread, &d);
    assert_seen_str(d.v_before, "v999");
    assert_int_equal(d.rc_w, 0);
    assert_seen_null(d.w_after);
    assert_int_equal(d.rc_stale_v, CTXLOG_ESTALE);
    assert_int_equal(d.rc_last, 0);
    assert_seen_str(d.v_after, "v998");
    /* ... and in the main thread */
    dropped e = {.v = uvar(), .w = uvar()};
    dropped_thread(&e);
    assert_int_equal(e.rc_w, 0);
    assert_seen_null(e.w_after);
    assert_int_equal(e.rc_stale_v, CTXLOG_ESTALE);
    assert_int_equal(e.rc_last, 0);
    assert_seen_str(e.v_after, "v998");
}

static void test_ctx__undo_depth_overflow_oldest_estale(void **state)
{
    (void)state;
    enum { EXTRA = 8, N = CTX_UNDO_DEPTH + EXTRA };
    ctx_var *vars[N];
    ctx_token tok[N];
    char buf[16];
    for (int i = 0; i < N; i++) {
        vars[i] = uvar();
        snprintf(buf, sizeof buf, "%d", i);
        tok[i] = ctx_set(vars[i], buf);
    }
    /* the EXTRA oldest are beyond CTX_UNDO_DEPTH: stale, and nothing changes */
    for (int i = 0; i < EXTRA; i++) {
        assert_int_equal(ctx_reset(tok[i]), CTXLOG_ESTALE);
        snprintf(buf, sizeof buf, "%d", i);
        assert_string_equal(ctx_get(vars[i]), buf);
    }
    /* the last CTX_UNDO_DEPTH still work */
    for (int i = N - 1; i >= EXTRA; i--) {
        assert_int_equal(ctx_reset(tok[i]), 0);
        assert_null(ctx_get(vars[i]));
    }
    for (int i = 0; i < EXTRA; i++) {
        snprintf(buf, sizeof buf, "%d", i);
        assert_string_equal(ctx_get(vars[i]), buf);
        ctx_set(vars[i], NULL);
    }
}

/* A full list of a few variables gives up the oldest record of the variable
 * with the most records; of variables tied, the one whose oldest record is
 * oldest; with one record each, the oldest of all. */
/* Runs in a thread of its own (an empty undo list to start with) and
 * counts what went wrong: cmocka asserts on the test's thread only. */
#define VICTIM_CHECK(cond) (bad += !(cond))
static void *full_undo_victims_thread(void *p)
{
    int bad = 0;
    ctx_var *a = uvar(), *b = uvar(), *c = uvar(), *d = uvar();
    ctx_token ta[11], tb[11], tc[10], td[3];
    /* 10 of c, then a b a b ... (11 each): 32 records. */
    for (int i = 0; i < 10; i++)
        tc[i] = ctx_set(c, "c");
    for (int i = 0; i < 11; i++) {
        ta[i] = ctx_set(a, "a");
        tb[i] = ctx_set(b, "b");
    }
    /* a and b have the most, 11; a's oldest is older than b's: it goes.
     * Then b has the most (c 10, a 10, b 11): b's oldest goes. Then c, a
     * and b tie at 10, and c's oldest is the oldest. */
    const ctx_token *gone[3] = {&ta[0], &tb[0], &tc[0]};
    for (int i = 0; i < 3; i++) {
        td[i] = ctx_set(d, "d");
        /* A stale token's reset changes nothing, so it can be tried now. */
        VICTIM_CHECK(ctx_reset(*gone[i]) == CTXLOG_ESTALE);
    }
    /* Every other token still works, newest first. */
    for (int i = 2; i >= 0; i--)
        VICTIM_CHECK(ctx_reset(td[i]) == 0);
    VICTIM_CHECK(ctx_get(d) == NULL);
    for (int i = 10; i >= 1; i--) {
        VICTIM_CHECK(ctx_reset(tb[i]) == 0);
        VICTIM_CHECK(ctx_reset(ta[i]) == 0);
    }
    for (int i = 9; i >= 1; i--)
        VICTIM_CHECK(ctx_reset(tc[i]) == 0);
    /* The sets given up are not undone: their values stay. */
    VICTIM_CHECK(ctx_get(a) && strcmp(ctx_get(a), "a") == 0);
    VICTIM_CHECK(ctx_get(b) && strcmp(ctx_get(b), "b") == 0);
    VICTIM_CHECK(ctx_get(c) && strcmp(ctx_get(c), "c") == 0);
    (void)ctx_set(a, NULL);
    (void)ctx_set(b, NULL);
    (void)ctx_set(c, NULL);

    /* One record each (distinct variables): the oldest of all goes. */
    ctx_var *v[CTX_UNDO_DEPTH + 1];
    ctx_token tv[CTX_UNDO_DEPTH + 1];
    for (int i = 0; i <= CTX_UNDO_DEPTH; i++) {
        v[i] = uvar();
        tv[i] = ctx_set(v[i], "x");
    }
    VICTIM_CHECK(ctx_reset(tv[0]) == CTXLOG_ESTALE);
    for (int i = CTX_UNDO_DEPTH; i >= 1; i--)
        VICTIM_CHECK(ctx_reset(tv[i]) == 0);
    (void)ctx_set(v[0], NULL);
    *(int *)p = bad;
    return NULL;
}
#undef VICTIM_CHECK

static void test_ctx__full_undo_list_victims(void **state)
{
    (void)state;
    pthread_t th;
    int bad = -1;
    assert_int_equal(pthread_create(&th, NULL, full_undo_victims_thread, &bad), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(bad, 0);
}

/* A thread whose undo list is full (>= CTX_UNDO_DEPTH sets never reset):
 * tokens of the most recent sets must still work, in particular nested sets
 * of one variable (nested CTX_SCOPEs). */
typedef struct full_undo {
    int leak_same_var; /* leak sets of one variable, else of distinct ones */
    ctx_var *v;
    int rc_inner, rc_outer;
    seen after_inner, after_outer, after_scopes, in_outer_scope;
} full_undo;

static void *full_undo_thread(void *p)
{
    full_undo *f = p;
    ctx_var *leak = uvar();
    char buf[32];
    for (int i = 0; i < CTX_UNDO_DEPTH + 8; i++) {
        snprintf(buf, sizeof buf, "leak%d", i);
        ctx_set(f->leak_same_var ? leak : uvar(), buf); /* token dropped */
    }
    ctx_token outer = ctx_set(f->v, "outer");
    ctx_token inner = ctx_set(f->v, "inner");
    f->rc_inner = ctx_reset(inner);
    see(&f->after_inner, ctx_get(f->v));
    f->rc_outer = ctx_reset(outer);
    see(&f->after_outer, ctx_get(f->v));
    {
        CTX_SCOPE(f->v, "scope-outer");
        {
            CTX_SCOPE(f->v, "scope-inner");
        }
        see(&f->in_outer_scope, ctx_get(f->v));
    }
    see(&f->after_scopes, ctx_get(f->v));
    return NULL;
}

static void check_full_undo(int leak_same_var)
{
    full_undo f = {.leak_same_var = leak_same_var, .v = uvar()};
    run_plain_thread(full_undo_thread, &f);
    assert_int_equal(f.rc_inner, 0);
    assert_seen_str(f.after_inner, "outer");
    assert_int_equal(f.rc_outer, 0);
    assert_seen_null(f.after_outer);
    assert_seen_str(f.in_outer_scope, "scope-outer");
    assert_seen_null(f.after_scopes);
}

static void test_ctx__undo_full_of_distinct_vars_nested_same_var_tokens_work(void **state)
{
    (void)state;
    check_full_undo(0);
}

static void test_ctx__undo_full_of_one_var_nested_scopes_restore(void **state)
{
    (void)state;
    check_full_undo(1);
}

/* ------------------------------------------------------------------------ */
/* ctx_get pointer lifetime                                                  */
/* ------------------------------------------------------------------------ */

static void test_ctx__get_pointer_survives_set_of_other_var(void **state)
{
    (void)state;
    ctx_var *v = uvar(), *w = uvar();
    ctx_token tv = ctx_set(v, "value-of-v");
    const char *p = ctx_get(v);
    assert_non_null(p);
    ctx_token tw = ctx_set(w, "w1");
    assert_string_equal(p, "value-of-v");
    char buf[32];
    for (int i = 0; i < 100; i++) { /* plenty of new contexts, old ones dropped */
        snprintf(buf, sizeof buf, "w%d", i);
        ctx_token ti = ctx_set(w, buf);
        ctx_snapshot *s = ctx_copy();
        ctx_release(s);
        assert_int_equal(ctx_reset(ti), 0);
    }
    assert_string_equal(p, "value-of-v");
    assert_int_equal(ctx_reset(tw), 0);
    assert_null(ctx_get(w));
    assert_string_equal(p, "value-of-v");
    assert_ptr_equal(ctx_get(v), p); /* not required, but the value is the same */
    assert_int_equal(ctx_reset(tv), 0);
}

/* ------------------------------------------------------------------------ */
/* typed values                                                             */
/* ------------------------------------------------------------------------ */

static void test_ctx__i64_roundtrip_and_decimal_text(void **state)
{
    (void)state;
    ctx_var *v = uvar();
    static const struct {
        int64_t n;
        const char *text;
    } cases[] = {
        {0, "0"},
        {42, "42"},
        {-1234567890123, "-1234567890123"},
        {INT64_MAX, "9223372036854775807"},
        {INT64_MIN, "-9223372036854775808"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ctx_token t = ctx_set_i64(v, cases[i].n);
        int64_t out = 12345;
        assert_int_equal(ctx_get_i64(v, &out), 0);
        assert_true(out == cases[i].n);
        assert_non_null(ctx_get(v));
        assert_string_equal(ctx_get(v), cases[i].text);
        assert_null(ctx_get_ptr(v));
        assert_int_equal(ctx_reset(t), 0);
        assert_null(ctx_get(v));
    }
}

static void test_ctx__get_i64_unset_or_string_einval(void **state)
{
    (void)state;
    ctx_var *v = uvar();
    int64_t out = 0;
    assert_int_equal(ctx_get_i64(v, &out), CTXLOG_EINVAL);
    ctx_token t = ctx_set(v, "not a number");
    assert_int_equal(ctx_get_i64(v, &out), CTXLOG_EINVAL);
    assert_int_equal(ctx_reset(t), 0);
    int dummy;
    t = ctx_set_ptr(v, &dummy, NULL);
    assert_int_equal(ctx_get_i64(v, &out), CTXLOG_EINVAL);
    assert_int_equal(ctx_reset(t), 0);
    /* i64 replaced by a string and back */
    ctx_token ti = ctx_set_i64(v, 77);
    ctx_token ts = ctx_set(v, "str");
    assert_int_equal(ctx_get_i64(v, &out), CTXLOG_EINVAL);
    assert_int_equal(ctx_reset(ts), 0);
    assert_int_equal(ctx_get_i64(v, &out), 0);
    assert_true(out == 77);
    assert_int_equal(ctx_reset(ti), 0);
}

static void test_ctx__ptr_get_ptr_and_get_null(void **state)
{
    (void)state;
    ctx_var *v = uvar();
    relcount rc = {0};
    ctx_token t = ctx_set_ptr(v, &rc, count_release);
    assert_ptr_equal(ctx_get_ptr(v), &rc);
    assert_null(ctx_get(v));
    int64_t out;
    assert_int_equal(ctx_get_i64(v, &out), CTXLOG_EINVAL);
    assert_int_equal(atomic_load(&rc.calls), 0);
    assert_int_equal(ctx_reset(t), 0);
    assert_null(ctx_get_ptr(v));
    assert_int_equal(atomic_load(&rc.calls), 1);
    /* strings are not pointers */
    t = ctx_set(v, "s");
    assert_null(ctx_get_ptr(v));
    assert_int_equal(ctx_reset(t), 0);
}

static void test_ctx__ptr_release_after_reset_and_snapshot_release(void **state)
{
    (void)state;
    ctx_var *v = uvar();
    relcount rc = {0};
    ctx_token t = ctx_set_ptr(v, &rc, count_release);
    ctx_snapshot *s = ctx_copy();
    assert_int_equal(ctx_reset(t), 0);
    assert_null(ctx_get_ptr(v));
    assert_int_equal(atomic_load(&rc.calls), 0); /* the snapshot still holds it */
    ctx_release(s);
    assert_int_equal(atomic_load(&rc.calls), 1);
    /* never again */
    ctx_snapshot *s2 = ctx_copy();
    ctx_release(s2);
    assert_int_equal(atomic_load(&rc.calls), 1);
}

static void test_ctx__ptr_release_snapshot_first_then_reset(void **state)
{
    (void)state;
    ctx_var *v = uvar();
    relcount rc = {0};
    ctx_token t = ctx_set_ptr(v, &rc, count_release);
    ctx_snapshot *s = ctx_copy();
    ctx_release(s);
    assert_int_equal(atomic_load(&rc.calls), 0); /* the context still holds it */
    assert_ptr_equal(ctx_get_ptr(v), &rc);
    assert_int_equal(ctx_reset(t), 0);
    assert_int_equal(atomic_load(&rc.calls), 1);
}

static void test_ctx__ptr_overwritten_then_restored(void **state)
{
    (void)state;
    ctx_var *v = uvar(), *w = uvar();
    relcount rc = {0};
    ctx_token t1 = ctx_set_ptr(v, &rc, count_release);
    ctx_token t2 = ctx_set(v, "string over ptr");
    ctx_token tw = ctx_set(w, "other"); /* more copies of the context */
    assert_int_equal(atomic_load(&rc.calls), 0); /* t2's undo still needs it */
    assert_int_equal(ctx_reset(tw), 0);
    assert_int_equal(ctx_reset(t2), 0);
    assert_ptr_equal(ctx_get_ptr(v), &rc);
    assert_int_equal(atomic_load(&rc.calls), 0);
    assert_int_equal(ctx_reset(t1), 0);
    assert_int_equal(atomic_load(&rc.calls), 1);
}

static void test_ctx__ptr_null_release_ok(void **state)
{
    (void)state;
    ctx_var *v = uvar();
    int x = 5;
    ctx_token t = ctx_set_ptr(v, &x, NULL);
    assert_ptr_equal(ctx_get_ptr(v), &x);
    ctx_snapshot *s = ctx_copy();
    assert_int_equal(ctx_reset(t), 0);
    ctx_release(s);
    assert_null(ctx_get_ptr(v));
}

typedef struct ptr_xfer {
    ctx_var *v;
    ctx_snapshot *s;
    relcount *rc;
    void *seen_ptr;
    int calls_before, calls_after;
} ptr_xfer;

static void see_ptr(void *p)
{
    ptr_xfer *x = p;
    x->seen_ptr = ctx_get_ptr(x->v);
}

static void *release_in_thread(void *p)
{
    ptr_xfer *x = p;
    ctx_run(x->s, see_ptr, x);
    x->calls_before = atomic_load(&x->rc->calls);
    ctx_release(x->s);
    x->calls_after = atomic_load(&x->rc->calls);
    return NULL;
}

static void test_ctx__ptr_release_on_other_thread(void **state)
{
    (void)state;
    ctx_var *v = uvar();
    relcount rc = {0};
    ctx_token t = ctx_set_ptr(v, &rc, count_release);
    ptr_xfer x = {.v = v, .s = ctx_copy(), .rc = &rc};
    assert_int_equal(ctx_reset(t), 0);
    assert_int_equal(atomic_load(&rc.calls), 0);
    run_plain_thread(release_in_thread, &x);
    assert_ptr_equal(x.seen_ptr, &rc);
    assert_int_equal(x.calls_before, 0);
    assert_int_equal(x.calls_after, 1);
    assert_int_equal(atomic_load(&rc.calls), 1);
}

typedef struct ptr_exit {
    ctx_var *v;
    relcount *rc;
} ptr_exit;

static void *set_ptr_and_exit(void *p)
{
    ptr_exit *e = p;
    ctx_set_ptr(e->v, e->rc, count_release); /* never reset */
    return NULL;
}

static void test_ctx__ptr_released_at_thread_exit(void **state)
{
    (void)state;
    relcount rc = {0};
    ptr_exit e = {.v = uvar(), .rc = &rc};
    run_plain_thread(set_ptr_and_exit, &e);
    assert_int_equal(atomic_load(&rc.calls), 1);
}

/* ------------------------------------------------------------------------ */
/* ctx_copy / ctx_retain / ctx_release                                      */
/* ------------------------------------------------------------------------ */

#ifndef NDEBUG
/* In a forked child: release a copy once more than it was taken, while the
 * snapshot's block is kept by the value the next snapshot shares. */
static void over_release_in_child(const char *errpath)
{
    int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || dup2(fd, STDERR_FILENO) < 0)
        _exit(2);
    close(fd);
    ctx_var *a = uvar(), *b = uvar();
    (void)ctx_set(a, "kept by the next snapshot");
    ctx_snapshot *c = ctx_copy();
    (void)ctx_set(b, "y"); /* the frame lets go of c's snapshot */
    ctx_release(c);        /* the last reference */
    ctx_release(c);        /* one too many */
    _exit(0);
}
#endif

static void test_ctx__over_release_aborts_in_debug(void **state)
{
    (void)state;
#ifdef NDEBUG
    print_message("built with NDEBUG: over-releases are not detected\n");
    skip();
#else
    char *errpath = ts_temp_path("over_release.err");
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        over_release_in_child(errpath);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    FILE *f = fopen(errpath, "r");
    assert_non_null(f);
    char text[512] = "";
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    ts_unlink(errpath);
    free(errpath);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT)
        fail_msg("the child was not aborted (status %#x), stderr: %s", status, text);
    assert_non_null(strstr(text, "ctx_release"));
#endif
}

typedef struct two_seen {
    ctx_var *v, *w;
    seen sv, sw;
} two_seen;

static void see_two(void *p)
{
    two_seen *t = p;
    see(&t->sv, ctx_get(t->v));
    see(&t->sw, ctx_get(t->w));
}

static void test_ctx__copy_is_immutable(void **state)
{
    (void)state;
    ctx_var *v = uvar(), *w = uvar();
    ctx_token tv = ctx_set(v, "a");
    ctx_snapshot *s = ctx_copy();
    assert_non_null(s);
    ctx_token tv2 = ctx_set(v, "b");
    ctx_token tw = ctx_set(w, "x");
    two_seen ts = {.v = v, .w = w};
    ctx_run(s, see_two, &ts);
    assert_seen_str(ts.sv, "a");
    assert_seen_null(ts.sw);
    assert_int_equal(ctx_reset(tw), 0);
    assert_int_equal(ctx_reset(tv2), 0);
    assert_int_equal(ctx_reset(tv), 0);
    ctx_run(s, see_two, &ts); /* resets do not touch the snapshot either */
    assert_seen_str(ts.sv, "a");
    ctx_release(s);
}

static void *copy_in_fresh_thread(void *p)
{
    two_seen *t = p;
    ctx_snapshot *s = ctx_copy();
    if (s == NULL) {
        t->sv.is_null = 0;
        snprintf(t->sv.text, sizeof t->sv.text, "ctx_copy returned NULL");
        return NULL;
    }
    ctx_run(s, see_two, t);
    ctx_release(s);
    return NULL;
}

static void test_ctx__copy_of_empty_context_not_null(void **state)
{
    (void)state;
    ctx_var *v = uvar();
    ctx_token tv = ctx_set(v, "main only");
    two_seen ts = {.v = v, .w = uvar()};
    run_plain_thread(copy_in_fresh_thread, &ts);
    assert_seen_null(ts.sv);
    assert_seen_null(ts.sw);
    assert_int_equal(ctx_reset(tv), 0);
}

#define SHARE_THREADS 4
#define SHARE_ITERS 2000

typedef struct share_arg {
    ctx_snapshot *s;
    ctx_var *v, *w, *x;
    relcount *rc;
    atomic_int *bad;
    atomic_int *runs;
} share_arg;

static void share_fn(void *p)
{
    share_arg *a = p;
    const char *vv = ctx_get(a->v), *ww = ctx_get(a->w);
    if (!vv || strcmp(vv, "shared-v") != 0 || !ww || strcmp(ww, "shared-w") != 0 ||
        ctx_get(a->x) != NULL || ctx_get_ptr(a->x) != NULL)
        atomic_fetch_add(a->bad, 1);
    /* changes inside are private to this run */
    ctx_set(a->x, "private");
    ctx_set(a->v, "changed");
    ctx_snapshot *inner = ctx_copy();
    ctx_release(inner);
    if (atomic_load(&a->rc->calls) != 0)
        atomic_fetch_add(a->bad, 1);
    atomic_fetch_add(a->runs, 1);
}

static void *share_thread(void *p)
{
    share_arg *a = p;
    for (int i = 0; i < SHARE_ITERS; i++) {
        ctx_snapshot *s = ctx_retain(a->s);
        ctx_run(s, share_fn, a);
        ctx_release(s);
    }
    return NULL;
}

static void test_ctx__snapshot_shared_by_4_threads(void **state)
{
    (void)state;
    ctx_var *v = uvar(), *w = uvar(), *x = uvar(), *pv = uvar();
    relcount rc = {0};
    atomic_int bad = 0, runs = 0;
    ctx_token t1 = ctx_set(v, "shared-v");
    ctx_token t2 = ctx_set(w, "shared-w");
    ctx_token t3 = ctx_set_ptr(pv, &rc, count_release);
    ctx_snapshot *s = ctx_copy();
    assert_int_equal(ctx_reset(t3), 0);
    assert_int_equal(ctx_reset(t2), 0);
    assert_int_equal(ctx_reset(t1), 0);
    share_arg a = {.s = s, .v = v, .w = w, .x = x, .rc = &rc, .bad = &bad, .runs = &runs};
    pthread_t th[SHARE_THREADS];
    for (int i = 0; i < SHARE_THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, share_thread, &a), 0);
    for (int i = 0; i < SHARE_THREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    assert_int_equal(atomic_load(&bad), 0);
    assert_int_equal(atomic_load(&runs), SHARE_THREADS * SHARE_ITERS);
    assert_int_equal(atomic_load(&rc.calls), 0);
    two_seen ts = {.v = v, .w = x};
    ctx_run(s, see_two, &ts);
    assert_seen_str(ts.sv, "shared-v");
    assert_seen_null(ts.sw);
    ctx_release(s);
    assert_int_equal(atomic_load(&rc.calls), 1);
}

static void test_ctx__retain_release_refcount(void **state)
{
    (void)state;
    ctx_var *v = uvar();
    relcount rc = {0};
    ctx_token t = ctx_set_ptr(v, &rc, count_release);
    ctx_snapshot *s = ctx_copy();
    assert_ptr_equal(ctx_retain(s), s);
    assert_ptr_equal(ctx_retain(s), s); /* three references now */
    assert_int_equal(ctx_reset(t), 0);
    ctx_release(s);
    assert_int_equal(atomic_load(&rc.calls), 0);
    ctx_release(s);
    assert_int_equal(atomic_load(&rc.calls), 0);
    ptr_xfer x = {.v = v};
    ctx_run(s, see_ptr, &x); /* still alive and intact */
    assert_ptr_equal(x.seen_ptr, &rc);
    ctx_release(s);
    assert_int_equal(atomic_load(&rc.calls), 1);
}

static void test_ctx__release_and_retain_null_ok(void **state)
{
    (void)state;
    ctx_release(NULL);
    assert_null(ctx_retain(NULL));
}

static void test_ctx__copy_many_releases_no_leak(void **state)
{
    (void)state;
    ctx_var *v = uvar();
    ctx_token t = ctx_set(v, "x");
    ctx_snapshot *s[100];
    for (int i = 0; i < 100; i++) {
        s[i] = ctx_copy();
        assert_non_null(s[i]);
    }
    for (int i = 0; i < 100; i++)
        ctx_release(s[i]);
    assert_int_equal(ctx_reset(t), 0);
}

/* ------------------------------------------------------------------------ */
/* ctx_run                                                                  */
/* ------------------------------------------------------------------------ */

static void test_ctx__run_sees_snapshot_values(void **state)
{
    (void)state;
    ctx_var *v = uvar(), *w = uvar();
    ctx_token tv = ctx_set(v, "sv");
    ctx_token tw = ctx_set(w, "sw");
    ctx_snapshot *s = ctx_copy();
    assert_int_equal(ctx_reset(tw), 0);
    assert_int_equal(ctx_reset(tv), 0);
    tv = ctx_set(v, "caller");
    two_seen ts = {.v = v, .w = w};
    ctx_run(s, see_two, &ts);
    assert_seen_str(ts.sv, "sv");
    assert_seen_str(ts.sw, "sw");
    assert_string_equal(ctx_get(v), "caller");
    assert_null(ctx_get(w));
    assert_int_equal(ctx_reset(tv), 0);
    ctx_release(s);
}

typedef struct run_set {
    ctx_var *v, *w;
    seen sv_in, sw_in;
} run_set;

static void set_and_leave(void *p)
{
    run_set *r = p;
    ctx_set(r->v, "set-in-fn");
    ctx_set(r->w, "w-in-fn");
    ctx_set(r->v, "set-twice-in-fn");
    see(&r->sv_in, ctx_get(r->v));
    see(&r->sw_in, ctx_get(r->w));
}

static void test_ctx__run_discards_fn_sets(void **state)
{
    (void)state;
    ctx_var *v = uvar(), *w = uvar();
    ctx_token tv = ctx_set(v, "snap");
    ctx_snapshot *s = ctx_copy();
    ctx_token tv2 = ctx_set(v, "caller");
    run_set r = {.v = v, .w = w};
    ctx_run(s, set_and_leave, &r);
    assert_seen_str(r.sv_in, "set-twice-in-fn");
    assert_seen_str(r.sw_in, "w-in-fn");
    assert_string_equal(ctx_get(v), "caller");
    assert_null(ctx_get(w));
    /* the snapshot itself did not change */
    two_seen ts = {.v = v, .w = w};
    ctx_run(s, see_two, &ts);
    assert_seen_str(ts.sv, "snap");
    assert_seen_null(ts.sw);
    /* the caller's tokens still work after the run */
    assert_int_equal(ctx_reset(tv2), 0);
    assert_string_equal(ctx_get(v), "snap");
    assert_int_equal(ctx_reset(tv), 0);
    assert_null(ctx_get(v));
    ctx_release(s);
}

static void test_ctx__run_null_is_empty_context(void **state)
{
    (void)state;
    ctx_var *v = uvar(), *w = uvar();
    ctx_token tv = ctx_set(v, "caller-v");
    ctx_token tw = ctx_set(w, "caller-w");
    two_seen ts = {.v = v, .w = w};
    ctx_run(NULL, see_two, &ts);
    assert_seen_null(ts.sv);
    assert_seen_null(ts.sw);
    run_set r = {.v = v, .w = w};
    ctx_run(NULL, set_and_leave, &r);
    assert_string_equal(ctx_get(v), "caller-v");
    assert_string_equal(ctx_get(w), "caller-w");
    assert_int_equal(ctx_reset(tw), 0);
    assert_int_equal(ctx_reset(tv), 0);
}

typedef struct nested {
    ctx_var *v, *w;
    ctx_snapshot *inner_snap;
    seen outer_v_before, inner_v, inner_w, outer_v_after, outer_w_after;
    int inner_rc;
} nested;

static void nested_inner(void *p)
{
    nested *n = p;
    see(&n->inner_v, ctx_get(n->v));
    see(&n->inner_w, ctx_get(n->w));
    ctx_set(n->v, "inner-set");
}

static void nested_outer(void *p)
{
    nested *n = p;
    see(&n->outer_v_before, ctx_get(n->v));
    ctx_token t = ctx_set(n->w, "outer-w");
    ctx_run(n->inner_snap, nested_inner, n);
    see(&n->outer_v_after, ctx_get(n->v));
    see(&n->outer_w_after, ctx_get(n->w));
    n->inner_rc = ctx_reset(t);
}

static void test_ctx__run_nested(void **state)
{
    (void)state;
    ctx_var *v = uvar(), *w = uvar();
    ctx_token t = ctx_set(v, "inner-snap");
    ctx_snapshot *inner = ctx_copy();
    assert_int_equal(ctx_reset(t), 0);
    t = ctx_set(v, "outer-snap");
    ctx_snapshot *outer = ctx_copy();
    assert_int_equal(ctx_reset(t), 0);
    t = ctx_set(v, "caller");
    nested n = {.v = v, .w = w, .inner_snap = inner, .inner_rc = 99};
    ctx_run(outer, nested_outer, &n);
    assert_seen_str(n.outer_v_before, "outer-snap");
    assert_seen_str(n.inner_v, "inner-snap");
    assert_seen_null(n.inner_w);
    assert_seen_str(n.outer_v_after, "outer-snap");
    assert_seen_str(n.outer_w_after, "outer-w");
    assert_int_equal(n.inner_rc, 0);
    assert_string_equal(ctx_get(v), "caller");
    assert_null(ctx_get(w));
    assert_int_equal(ctx_reset(t), 0);
    ctx_release(inner);
    ctx_release(outer);
}

static void copy_inside(void *p)
{
    ctx_snapshot **out = p;
    *out = ctx_copy();
}

static void test_ctx__copy_inside_run_outlives_run(void **state)
{
    (void)state;
    ctx_var *v = uvar();
    ctx_token t = ctx_set(v, "in-snapshot");
    ctx_snapshot *s = ctx_copy();
    assert_int_equal(ctx_reset(t), 0);
    ctx_snapshot *inner = NULL;
    ctx_run(s, copy_inside, &inner);
    ctx_release(s);
    assert_non_null(inner);
    two_seen ts = {.v = v, .w = uvar()};
    ctx_run(inner, see_two, &ts);
    assert_seen_str(ts.sv, "in-snapshot");
    ctx_release(inner);
}

/* ------------------------------------------------------------------------ */
/* ctx_attach / ctx_detach                                                  */
/* ------------------------------------------------------------------------ */

static void test_ctx__attach_detach_visible_between(void **state)
{
    (void)state;
    ctx_var *v = uvar(), *w = uvar();
    ctx_token t1 = ctx_set(v, "snap-v");
    ctx_token t2 = ctx_set(w, "snap-w");
    ctx_snapshot *s = ctx_copy();
    assert_int_equal(ctx_reset(t2), 0);
    assert_int_equal(ctx_reset(t1), 0);
    ctx_token tc = ctx_set(v, "caller");
    ctx_token ta = ctx_attach(s);
    assert_string_equal(ctx_get(v), "snap-v");
    assert_string_equal(ctx_get(w), "snap-w");
    assert_int_equal(ctx_detach(ta), 0);
    assert_string_equal(ctx_get(v), "caller");
    assert_null(ctx_get(w));
    assert_int_equal(ctx_reset(tc), 0);
    ctx_release(s);
}

static void test_ctx__attach_sets_discarded_on_detach(void **state)
{
    (void)state;
    ctx_var *v = uvar(), *w = uvar();
    ctx_token t1 = ctx_set(v, "snap");
    ctx_snapshot *s = ctx_copy();
    ctx_token ta = ctx_attach(s);
    ctx_set(v, "set-while-attached");
    ctx_set(w, "w-while-attached");
    assert_string_equal(ctx_get(v), "set-while-attached");
    assert_int_equal(ctx_detach(ta), 0);
    assert_string_equal(ctx_get(v), "snap");
    assert_null(ctx_get(w));
    /* the snapshot did not change */
    ta = ctx_attach(s);
    assert_string_equal(ctx_get(v), "snap");
    assert_null(ctx_get(w));
    assert_int_equal(ctx_detach(ta), 0);
    assert_int_equal(ctx_reset(t1), 0);
    ctx_release(s);
}

static void test_ctx__attach_borrows_snapshot(void **state)
{
    (void)state;
    ctx_var *v = uvar();
    relcount rc = {0};
    ctx_token t1 = ctx_set(v, "borrowed");
    ctx_snapshot *s = ctx_copy();
    assert_int_equal(ctx_reset(t1), 0);
    ctx_token ta = ctx_attach(s);
    ctx_release(s); /* the frame holds its own reference */
    assert_string_equal(ctx_get(v), "borrowed");
    ctx_var *p = uvar();
    ctx_set_ptr(p, &rc, count_release);
    assert_int_equal(ctx_detach(ta), 0);
    assert_null(ctx_get(v));
    assert_int_equal(atomic_load(&rc.calls), 1); /* set in the frame, gone with it */
}

static void test_ctx__detach_twice_estale(void **state)
{
    (void)state;
    ctx_snapshot *s = ctx_copy();
    ctx_token ta = ctx_attach(s);
    assert_int_equal(ctx_detach(ta), 0);
    assert_int_equal(ctx_detach(ta), CTXLOG_ESTALE);
    ctx_release(s);
}

static void test_ctx__detach_outer_while_inner_attached_econtext(void **state)
{
    (void)state;
    ctx_var *v = uvar();
    ctx_token t = ctx_set(v, "one");
    ctx_snapshot *s1 = ctx_copy();
    assert_int_equal(ctx_reset(t), 0);
    t = ctx_set(v, "two");
    ctx_snapshot *s2 = ctx_copy();
    assert_int_equal(ctx_reset(t), 0);
    ctx_token outer = ctx_attach(s1);
    ctx_token inner = ctx_attach(s2);
    assert_string_equal(ctx_get(v), "two");
    assert_int_equal(ctx_detach(outer), CTXLOG_ECONTEXT);
    assert_string_equal(ctx_get(v), "two"); /* nothing changed */
    assert_int_equal(ctx_detach(inner), 0);
    assert_string_equal(ctx_get(v), "one");
    assert_int_equal(ctx_detach(outer), 0);
    assert_null(ctx_get(v));
    ctx_release(s1);
    ctx_release(s2);
}

static void test_ctx__detach_set_token_einval(void **state)
{
    (void)state;
    ctx_var *v = uvar();
    ctx_token t = ctx_set(v, "x");
    assert_int_equal(ctx_detach(t), CTXLOG_EINVAL);
    assert_string_equal(ctx_get(v), "x");
    assert_int_equal(ctx_reset(t), 0); /* the failed detach did not use it */
    assert_null(ctx_get(v));
}

typedef struct detach_x {
    ctx_token tok;
    int rc;
} detach_x;

static void *detach_in_thread(void *p)
{
    detach_x *d = p;
    d->rc = ctx_detach(d->tok);
    return NULL;
}

static void test_ctx__detach_on_other_thread_fails(void **state)
{
    (void)state;
    ctx_var *v = uvar();
    ctx_token t = ctx_set(v, "snap");
    ctx_snapshot *s = ctx_copy();
    assert_int_equal(ctx_reset(t), 0);
    detach_x d = {.tok = ctx_attach(s), .rc = 99};
    run_plain_thread(detach_in_thread, &d);
    assert_int_equal(d.rc, CTXLOG_ECONTEXT);
    assert_string_equal(ctx_get(v), "snap");
    assert_int_equal(ctx_detach(d.tok), 0);
    assert_null(ctx_get(v));
    ctx_release(s);
}

static void test_ctx__reset_token_from_detached_frame_econtext(void **state)
{
    (void)state;
    ctx_var *v = uvar();
    ctx_token base = ctx_set(v, "base");
    ctx_snapshot *s = ctx_copy();
    ctx_token ta = ctx_attach(s);
    ctx_token inner = ctx_set(v, "attached");
    assert_int_equal(ctx_reset(base), CTXLOG_ECONTEXT); /* outer frame's token */
    assert_int_equal(ctx_detach(ta), 0);
    assert_int_equal(ctx_reset(inner), CTXLOG_ECONTEXT);
    assert_string_equal(ctx_get(v), "base");
    assert_int_equal(ctx_reset(base), 0);
    assert_null(ctx_get(v));
    ctx_release(s);
}

static void test_ctx__attach_null_does_not_crash(void **state)
{
    (void)state;
    ctx_var *v = uvar();
    ctx_token t = ctx_set(v, "caller");
    ctx_token ta = ctx_attach(NULL);
    int rc = ctx_detach(ta);
    if (rc == 0) {
        /* attached an empty context: fine */
    } else {
        assert_int_equal(rc, CTXLOG_EINVAL);
    }
    assert_string_equal(ctx_get(v), "caller");
    assert_int_equal(ctx_reset(t), 0);
}

/* ------------------------------------------------------------------------ */
/* ctx_thread_create                                                        */
/* ------------------------------------------------------------------------ */

typedef struct child_arg {
    ctx_var *v, *w;
    latch *go;
    int wait_rc;
    seen v_start, w_start, v_after_set;
} child_arg;

static void *child_thread(void *p)
{
    child_arg *c = p;
    c->wait_rc = c->go ? latch_wait(c->go, 1) : 0;
    see(&c->v_start, ctx_get(c->v));
    see(&c->w_start, ctx_get(c->w));
    ctx_set(c->v, "set-by-child");
    ctx_set(c->w, "w-by-child");
    see(&c->v_after_set, ctx_get(c->v));
    return NULL;
}

static void test_ctx__thread_create_inherits_at_creation(void **state)
{
    (void)state;
    ctx_var *v = uvar(), *w = uvar();
    latch go;
    latch_init(&go);
    ctx_token t1 = ctx_set(v, "at-create");
    child_arg c = {.v = v, .w = w, .go = &go};
    pthread_t th;
    assert_int_equal(ctx_thread_create(&th, NULL, child_thread, &c), 0);
    ctx_token t2 = ctx_set(v, "after-create");
    ctx_token t3 = ctx_set(w, "w-after-create");
    latch_post(&go); /* the child reads only now */
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(c.wait_rc, 0);
    assert_seen_str(c.v_start, "at-create");
    assert_seen_null(c.w_start);
    assert_seen_str(c.v_after_set, "set-by-child");
    /* the child's sets did not reach the parent */
    assert_string_equal(ctx_get(v), "after-create");
    assert_string_equal(ctx_get(w), "w-after-create");
    assert_int_equal(ctx_reset(t3), 0);
    assert_int_equal(ctx_reset(t2), 0);
    assert_int_equal(ctx_reset(t1), 0);
    latch_destroy(&go);
}

static void test_ctx__thread_create_child_set_does_not_affect_parent(void **state)
{
    (void)state;
    ctx_var *v = uvar(), *w = uvar();
    ctx_token t1 = ctx_set(v, "parent");
    child_arg c = {.v = v, .w = w};
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_JOINABLE);
    pthread_t th;
    assert_int_equal(ctx_thread_create(&th, &attr, child_thread, &c), 0);
    pthread_attr_destroy(&attr);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_seen_str(c.v_start, "parent");
    assert_seen_str(c.v_after_set, "set-by-child");
    assert_string_equal(ctx_get(v), "parent");
    assert_null(ctx_get(w));
    assert_int_equal(ctx_reset(t1), 0);
}

static void test_ctx__plain_pthread_starts_empty(void **state)
{
    (void)state;
    ctx_var *v = uvar(), *w = uvar();
    ctx_token t1 = ctx_set(v, "parent");
    ctx_token t2 = ctx_set(CTX_REQUEST_ID, "parent-request");
    child_arg c = {.v = v, .w = CTX_REQUEST_ID};
    run_plain_thread(child_thread, &c);
    assert_seen_null(c.v_start);
    assert_seen_null(c.w_start);
    assert_string_equal(ctx_get(v), "parent");
    assert_string_equal(ctx_get(CTX_REQUEST_ID), "parent-request");
    assert_int_equal(ctx_reset(t2), 0);
    assert_int_equal(ctx_reset(t1), 0);
    (void)w;
}

static void *grandchild_level(void *p);

typedef struct chain {
    ctx_var *v;
    int depth;
    seen s[4];
    int rc;
} chain;

static void *grandchild_level(void *p)
{
    chain *c = p;
    see(&c->s[c->depth], ctx_get(c->v));
    if (c->depth < 3) {
        char buf[32];
        snprintf(buf, sizeof buf, "level%d", c->depth + 1);
        ctx_set(c->v, buf);
        c->depth++;
        pthread_t th;
        int rc = ctx_thread_create(&th, NULL, grandchild_level, c);
        if (rc == 0)
            pthread_join(th, NULL); /* c is the child's until it is joined */
        c->rc |= rc;
    }
    return NULL;
}

static void test_ctx__thread_create_chains(void **state)
{
    (void)state;
    chain c = {.v = uvar()};
    ctx_token t = ctx_set(c.v, "level0");
    pthread_t th;
    assert_int_equal(ctx_thread_create(&th, NULL, grandchild_level, &c), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(c.rc, 0);
    assert_seen_str(c.s[0], "level0");
    assert_seen_str(c.s[1], "level1");
    assert_seen_str(c.s[2], "level2");
    assert_seen_str(c.s[3], "level3");
    assert_string_equal(ctx_get(c.v), "level0");
    assert_int_equal(ctx_reset(t), 0);
}

/* ------------------------------------------------------------------------ */
/* ctx_pool                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct gate_task {
    latch started;
    latch open;
    atomic_int wait_rc; /* 0, or -1 once a wait timed out */
} gate_task;

static void gate_fn(void *p)
{
    gate_task *g = p;
    latch_post(&g->started);
    if (latch_wait(&g->open, 1) != 0)
        atomic_store(&g->wait_rc, -1);
}

typedef struct rec_task {
    ctx_var *v, *w;
    seen sv, sw;
    latch done;
} rec_task;

static void rec_fn(void *p)
{
    rec_task *r = p;
    see(&r->sv, ctx_get(r->v));
    see(&r->sw, ctx_get(r->w));
    latch_post(&r->done);
}

static void test_ctx__pool_captures_at_submit(void **state)
{
    (void)state;
    ctx_var *v = uvar(), *w = uvar();
    ctx_pool *p = ctx_pool_new(1);
    assert_non_null(p);
    gate_task g = {.wait_rc = 0};
    latch_init(&g.started);
    latch_init(&g.open);
    assert_int_equal(ctx_pool_submit(p, gate_fn, &g), 0);
    assert_int_equal(latch_wait(&g.started, 1), 0); /* the only worker is busy */
    ctx_token t1 = ctx_set(v, "old");
    rec_task r = {.v = v, .w = w};
    latch_init(&r.done);
    assert_int_equal(ctx_pool_submit(p, rec_fn, &r), 0);
    ctx_token t2 = ctx_set(v, "new");
    ctx_token t3 = ctx_set(w, "new-w");
    latch_post(&g.open); /* the task runs only now */
    assert_int_equal(latch_wait(&r.done, 1), 0);
    assert_seen_str(r.sv, "old");
    assert_seen_null(r.sw);
    ctx_pool_free(p);
    assert_int_equal(atomic_load(&g.wait_rc), 0);
    assert_int_equal(ctx_reset(t3), 0);
    assert_int_equal(ctx_reset(t2), 0);
    assert_int_equal(ctx_reset(t1), 0);
    latch_destroy(&g.started);
    latch_destroy(&g.open);
    latch_destroy(&r.done);
}

typedef struct leak_task {
    ctx_var *v, *w;
    relcount *rc;
    latch done;
} leak_task;

static void leak_fn(void *p)
{
    leak_task *l = p;
    ctx_set(l->v, "leaked-by-A"); /* never reset */
    ctx_set(l->w, "w-by-A");
    ctx_set_ptr(l->v, l->rc, count_release);
    ctx_set(l->v, "leaked-by-A-again");
    latch_post(&l->done);
}

typedef struct submit_b {
    ctx_pool *p;
    rec_task *r;
    int rc;
} submit_b;

static void submit_from_here(void *p)
{
    submit_b *s = p;
    s->rc = ctx_pool_submit(s->p, rec_fn, s->r);
}

static void test_ctx__pool_worker_does_not_carry_context(void **state)
{
    (void)state;
    ctx_var *v = uvar(), *w = uvar();
    relcount rc = {0};
    ctx_pool *p = ctx_pool_new(1);
    assert_non_null(p);
    leak_task a = {.v = v, .w = w, .rc = &rc};
    latch_init(&a.done);
    assert_int_equal(ctx_pool_submit(p, leak_fn, &a), 0);
    assert_int_equal(latch_wait(&a.done, 1), 0);

    /* B: submitted from an empty context */
    rec_task b = {.v = v, .w = w};
    latch_init(&b.done);
    submit_b sb = {.p = p, .r = &b, .rc = 99};
    ctx_run(NULL, submit_from_here, &sb);
    assert_int_equal(sb.rc, 0);
    assert_int_equal(latch_wait(&b.done, 1), 0);
    assert_seen_null(b.sv);
    assert_seen_null(b.sw);

    /* C: submitted with w set, sees its own w, not A's */
    ctx_token tw = ctx_set(w, "w-of-C");
    rec_task c = {.v = v, .w = w};
    latch_init(&c.done);
    assert_int_equal(ctx_pool_submit(p, rec_fn, &c), 0);
    assert_int_equal(latch_wait(&c.done, 1), 0);
    assert_seen_null(c.sv);
    assert_seen_str(c.sw, "w-of-C");
    assert_int_equal(ctx_reset(tw), 0);

    ctx_pool_free(p);
    /* what A set was dropped with its task (at the latest when the pool ended) */
    assert_int_equal(atomic_load(&rc.calls), 1);
    latch_destroy(&a.done);
    latch_destroy(&b.done);
    latch_destroy(&c.done);
}

static atomic_int g_pool_count;

static void count_fn(void *p)
{
    (void)p;
    atomic_fetch_add(&g_pool_count, 1);
}

static void *pool_free_thread(void *p)
{
    ctx_pool_free(p);
    return NULL;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_ctx__pool_free_runs_queued_then_submit_estate(void **state)
{
    (void)state;
    atomic_store(&g_pool_count, 0);
    ctx_pool *p = ctx_pool_new(2);
    assert_non_null(p);
    gate_task g = {.wait_rc = 0};
    latch_init(&g.started);
    latch_init(&g.open);
    /* block both workers so that everything else stays queued */
    assert_int_equal(ctx_pool_submit(p, gate_fn, &g), 0);
    assert_int_equal(ctx_pool_submit(p, gate_fn, &g), 0);
    assert_int_equal(latch_wait(&g.started, 2), 0);
    int expected = 0;
    for (int i = 0; i < 500; i++) {
        assert_int_equal(ctx_pool_submit(p, count_fn, NULL), 0);
        expected++;
    }
    assert_int_equal(atomic_load(&g_pool_count), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, pool_free_thread, p), 0);
    /* submit until ctx_pool_free has begun; what was accepted must still run */
    int rc;
    double deadline = now_s() + 20.0;
    while ((rc = ctx_pool_submit(p, count_fn, NULL)) == 0) {
        expected++;
        if (now_s() > deadline)
            break;
        sched_yield();
    }
    latch_post(&g.open); /* from here on p may be gone */
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(rc, CTXLOG_ESTATE);
    assert_int_equal(atomic_load(&g_pool_count), expected);
    assert_int_equal(atomic_load(&g.wait_rc), 0);
    latch_destroy(&g.started);
    latch_destroy(&g.open);
}

static void test_ctx__pool_free_runs_many_queued(void **state)
{
    (void)state;
    atomic_store(&g_pool_count, 0);
    ctx_pool *p = ctx_pool_new(3);
    assert_non_null(p);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(ctx_pool_submit(p, count_fn, NULL), 0);
    ctx_pool_free(p);
    assert_int_equal(atomic_load(&g_pool_count), 10000);
}

static void test_ctx__pool_submit_invalid_args(void **state)
{
    (void)state;
    assert_int_equal(ctx_pool_submit(NULL, count_fn, NULL), CTXLOG_EINVAL);
    ctx_pool *p = ctx_pool_new(1);
    assert_non_null(p);
    assert_int_equal(ctx_pool_submit(p, NULL, NULL), CTXLOG_EINVAL);
    ctx_pool_free(p);
    ctx_pool_free(NULL); /* no-op */
}

static void test_ctx__pool_new_out_of_range_null(void **state)
{
    (void)state;
    assert_null(ctx_pool_new(0));
    assert_null(ctx_pool_new(-1));
    assert_null(ctx_pool_new(1025));
    assert_null(ctx_pool_new(100000));
    assert_null(ctx_pool_new(INT32_MIN));
    ctx_pool *p = ctx_pool_new(1);
    assert_non_null(p);
    ctx_pool_free(p);
}

typedef struct self_submit {
    ctx_pool *p;
    ctx_var *v;
    int rc;
    rec_task child;
} self_submit;

static void self_submit_fn(void *p)
{
    self_submit *s = p;
    ctx_set(s->v, "set-in-parent-task");
    s->rc = ctx_pool_submit(s->p, rec_fn, &s->child);
}

static void test_ctx__pool_task_submits_to_own_pool(void **state)
{
    (void)state;
    ctx_var *v = uvar(), *w = uvar();
    ctx_pool *p = ctx_pool_new(1); /* one worker: must not deadlock */
    assert_non_null(p);
    ctx_token tw = ctx_set(w, "submitter-w");
    self_submit s = {.p = p, .v = v, .rc = 99, .child = {.v = v, .w = w}};
    latch_init(&s.child.done);
    assert_int_equal(ctx_pool_submit(p, self_submit_fn, &s), 0);
    assert_int_equal(latch_wait(&s.child.done, 1), 0);
    assert_int_equal(s.rc, 0);
    /* the child task captured the parent task's context */
    assert_seen_str(s.child.sv, "set-in-parent-task");
    assert_seen_str(s.child.sw, "submitter-w");
    ctx_pool_free(p);
    assert_int_equal(ctx_reset(tw), 0);
    latch_destroy(&s.child.done);
}

static void test_ctx__pool_free_without_tasks(void **state)
{
    (void)state;
    for (int i = 1; i <= 8; i++) {
        ctx_pool *p = ctx_pool_new(i);
        assert_non_null(p);
        ctx_pool_free(p);
    }
}

/* ------------------------------------------------------------------------ */
/* ctx_bind                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct bound_rec {
    ctx_var *v, *w;
    int calls;
    seen sv[4], sw[4];
} bound_rec;

static void bound_fn(void *p)
{
    bound_rec *r = p;
    if (r->calls < 4) {
        see(&r->sv[r->calls], ctx_get(r->v));
        see(&r->sw[r->calls], ctx_get(r->w));
    }
    r->calls++;
    ctx_set(r->w, "set-inside-bound");
}

typedef struct foreign {
    void *bound;
    ctx_var *v;
    int twice;
    seen before, after;
} foreign;

static void *foreign_thread(void *p)
{
    foreign *f = p;
    ctx_token t = ctx_set(f->v, "foreign-own");
    see(&f->before, ctx_get(f->v));
    if (f->twice) {
        ctx_bound_call(f->bound);
        ctx_bound_call(f->bound);
    } else {
        ctx_bound_run(f->bound); /* used as a plain void (*)(void *) callback */
    }
    see(&f->after, ctx_get(f->v));
    ctx_reset(t);
    return NULL;
}

static void test_ctx__bound_run_on_foreign_thread(void **state)
{
    (void)state;
    ctx_var *v = uvar(), *w = uvar();
    bound_rec r = {.v = v, .w = w};
    ctx_token t = ctx_set(v, "captured");
    ctx_bound *b = ctx_bind(bound_fn, &r);
    assert_non_null(b);
    ctx_token t2 = ctx_set(v, "changed-after-bind");
    foreign f = {.bound = b, .v = v};
    void (*callback)(void *) = ctx_bound_run; /* fits the callback slot */
    (void)callback;
    run_plain_thread(foreign_thread, &f);
    assert_int_equal(r.calls, 1);
    assert_seen_str(r.sv[0], "captured");
    assert_seen_null(r.sw[0]);
    assert_seen_str(f.before, "foreign-own");
    assert_seen_str(f.after, "foreign-own"); /* the foreign thread got its own back */
    assert_string_equal(ctx_get(v), "changed-after-bind");
    assert_null(ctx_get(w));
    assert_int_equal(ctx_reset(t2), 0);
    assert_int_equal(ctx_reset(t), 0);
}

static void test_ctx__bound_call_twice_then_free(void **state)
{
    (void)state;
    ctx_var *v = uvar(), *w = uvar();
    bound_rec r = {.v = v, .w = w};
    ctx_token t = ctx_set(v, "captured");
    ctx_bound *b = ctx_bind(bound_fn, &r);
    assert_non_null(b);
    assert_int_equal(ctx_reset(t), 0);
    foreign f = {.bound = b, .v = v, .twice = 1};
    run_plain_thread(foreign_thread, &f);
    assert_int_equal(r.calls, 2);
    assert_seen_str(r.sv[0], "captured");
    assert_seen_str(r.sv[1], "captured");
    assert_seen_null(r.sw[0]);
    assert_seen_null(r.sw[1]); /* what the first call set is gone */
    assert_seen_str(f.after, "foreign-own");
    /* and once more on this thread */
    ctx_bound_call(b);
    assert_int_equal(r.calls, 3);
    assert_seen_str(r.sv[2], "captured");
    assert_null(ctx_get(v));
    assert_null(ctx_get(w));
    ctx_bound_free(b);
}

static void test_ctx__bind_null_fn_is_null(void **state)
{
    (void)state;
    int x;
    assert_null(ctx_bind(NULL, &x));
    assert_null(ctx_bind(NULL, NULL));
}

static void test_ctx__bound_run_and_free_null_noop(void **state)
{
    (void)state;
    ctx_bound_run(NULL);
    ctx_bound_free(NULL);
}

static void test_ctx__bound_free_releases_captured_context(void **state)
{
    (void)state;
    ctx_var *v = uvar();
    relcount rc = {0};
    bound_rec r = {.v = v, .w = uvar()};
    ctx_token t = ctx_set_ptr(v, &rc, count_release);
    ctx_bound *b = ctx_bind(bound_fn, &r);
    assert_non_null(b);
    assert_int_equal(ctx_reset(t), 0);
    assert_int_equal(atomic_load(&rc.calls), 0);
    ctx_bound_free(b);
    assert_int_equal(r.calls, 0); /* never ran */
    assert_int_equal(atomic_load(&rc.calls), 1);

    /* ctx_bound_run frees too */
    relcount rc2 = {0};
    t = ctx_set_ptr(v, &rc2, count_release);
    b = ctx_bind(bound_fn, &r);
    assert_int_equal(ctx_reset(t), 0);
    ctx_bound_run(b);
    assert_int_equal(r.calls, 1);
    assert_int_equal(atomic_load(&rc2.calls), 1);
}

/* ------------------------------------------------------------------------ */
/* CTX_SCOPE                                                                */
/* ------------------------------------------------------------------------ */

static void test_ctx__scope_visible_in_block_reset_at_end(void **state)
{
    (void)state;
    ctx_var *v = uvar();
    ctx_token t = ctx_set(v, "before");
    {
        CTX_SCOPE(v, "in-block");
        assert_string_equal(ctx_get(v), "in-block");
    }
    assert_string_equal(ctx_get(v), "before");
    assert_int_equal(ctx_reset(t), 0);
    {
        CTX_SCOPE(v, "from-unset");
        assert_string_equal(ctx_get(v), "from-unset");
    }
    assert_null(ctx_get(v));
}

static int scope_helper(ctx_var *v, int early, int *seen_ok)
{
    CTX_SCOPE(v, "in-helper");
    *seen_ok = ctx_get(v) && strcmp(ctx_get(v), "in-helper") == 0;
    if (early)
        return 1;
    CTX_SCOPE(v, "later-in-helper");
    *seen_ok = *seen_ok && ctx_get(v) && strcmp(ctx_get(v), "later-in-helper") == 0;
    return 2;
}

static void test_ctx__scope_reset_on_early_return(void **state)
{
    (void)state;
    ctx_var *v = uvar();
    int ok = 0;
    assert_int_equal(scope_helper(v, 1, &ok), 1);
    assert_true(ok);
    assert_null(ctx_get(v));
    ctx_token t = ctx_set(v, "caller");
    assert_int_equal(scope_helper(v, 1, &ok), 1);
    assert_string_equal(ctx_get(v), "caller");
    assert_int_equal(scope_helper(v, 0, &ok), 2);
    assert_true(ok);
    assert_string_equal(ctx_get(v), "caller");
    assert_int_equal(ctx_reset(t), 0);
}

static void test_ctx__scope_reset_on_break_and_continue(void **state)
{
    (void)state;
    ctx_var *v = uvar();
    int iterations = 0, unset_at_top = 0;
    for (int i = 0; i < 10; i++) {
        if (ctx_get(v) == NULL)
            unset_at_top++;
        CTX_SCOPE(v, "loop");
        assert_string_equal(ctx_get(v), "loop");
        iterations++;
        if (i % 2 == 0)
            continue;
        if (i == 5)
            break;
    }
    assert_int_equal(iterations, 6);
    assert_int_equal(unset_at_top, 6);
    assert_null(ctx_get(v));
    int n = 0;
    while (1) {
        CTX_SCOPE(v, "while");
        if (++n == 3)
            break;
    }
    assert_null(ctx_get(v));
    switch (n) {
    case 3: {
        CTX_SCOPE(v, "switch");
        assert_string_equal(ctx_get(v), "switch");
        break;
    }
    default:
        break;
    }
    assert_null(ctx_get(v));
}

static void test_ctx__scope_reset_on_goto(void **state)
{
    (void)state;
    ctx_var *v = uvar();
    volatile int leave = 1;
    {
        CTX_SCOPE(v, "before-goto");
        assert_string_equal(ctx_get(v), "before-goto");
        if (leave)
            goto out;
        fail_msg("goto not taken");
    }
out:
    assert_null(ctx_get(v));
    int rounds = 0;
again : {
    CTX_SCOPE(v, "retry");
    if (++rounds < 3)
        goto again;
}
    assert_int_equal(rounds, 3);
    assert_null(ctx_get(v));
}

static void test_ctx__scope_nested_same_var_restore_in_order(void **state)
{
    (void)state;
    ctx_var *v = uvar();
    {
        CTX_SCOPE(v, "outer");
        assert_string_equal(ctx_get(v), "outer");
        {
            CTX_SCOPE(v, "middle");
            assert_string_equal(ctx_get(v), "middle");
            {
                CTX_SCOPE(v, "inner");
                assert_string_equal(ctx_get(v), "inner");
            }
            assert_string_equal(ctx_get(v), "middle");
        }
        assert_string_equal(ctx_get(v), "outer");
    }
    assert_null(ctx_get(v));
}

static void test_ctx__scope_two_in_one_block(void **state)
{
    (void)state;
    ctx_var *v = uvar(), *w = uvar();
    ctx_token t = ctx_set(v, "before");
    {
        CTX_SCOPE(v, "first");
        CTX_SCOPE(w, "w-first");
        assert_string_equal(ctx_get(v), "first");
        assert_string_equal(ctx_get(w), "w-first");
        CTX_SCOPE(v, "second"); /* same variable twice in one block */
        assert_string_equal(ctx_get(v), "second");
    }
    assert_string_equal(ctx_get(v), "before");
    assert_null(ctx_get(w));
    assert_int_equal(ctx_reset(t), 0);
    {
        CTX_SCOPE(v, "a"); CTX_SCOPE(w, "b"); /* two on one line */
        assert_string_equal(ctx_get(v), "a");
        assert_string_equal(ctx_get(w), "b");
    }
    assert_null(ctx_get(v));
    assert_null(ctx_get(w));
}

static void test_ctx__scope_null_value_unsets_in_block(void **state)
{
    (void)state;
    ctx_var *v = uvar();
    ctx_token t = ctx_set(v, "outside");
    {
        CTX_SCOPE(v, NULL);
        assert_null(ctx_get(v));
    }
    assert_string_equal(ctx_get(v), "outside");
    assert_int_equal(ctx_reset(t), 0);
}

/* ------------------------------------------------------------------------ */
/* CTX_REQUEST, ctx_request_begin/end, ctx_uuid7, ctx_id_valid               */
/* ------------------------------------------------------------------------ */

/* A failed assertion longjmps past CTX_REQUEST's cleanup; make sure one
 * failing request test does not leave the shared built-ins set for the next. */
static int clear_builtins(void **state)
{
    (void)state;
    ctx_var *b[3] = {CTX_REQUEST_ID, CTX_USER_ID, CTX_TENANT_ID};
    for (int i = 0; i < 3; i++)
        if (ctx_get(b[i]) != NULL)
            ctx_set(b[i], NULL);
    return 0;
}

static void test_ctx__request_sets_three_ids(void **state)
{
    (void)state;
    {
        CTX_REQUEST("req-1", "user-1", "tenant-1");
        assert_string_equal(ctx_get(CTX_REQUEST_ID), "req-1");
        assert_string_equal(ctx_get(CTX_USER_ID), "user-1");
        assert_string_equal(ctx_get(CTX_TENANT_ID), "tenant-1");
    }
    assert_null(ctx_get(CTX_REQUEST_ID));
    assert_null(ctx_get(CTX_USER_ID));
    assert_null(ctx_get(CTX_TENANT_ID));
}

static void test_ctx__request_null_user_and_tenant_unset(void **state)
{
    (void)state;
    {
        CTX_REQUEST("req-2", NULL, NULL);
        assert_string_equal(ctx_get(CTX_REQUEST_ID), "req-2");
        assert_null(ctx_get(CTX_USER_ID));
        assert_null(ctx_get(CTX_TENANT_ID));
    }
    assert_null(ctx_get(CTX_REQUEST_ID));
}

static void test_ctx__request_null_or_empty_id_generates_uuid7(void **state)
{
    (void)state;
    char first[CTX_UUID_LEN + 1];
    {
        CTX_REQUEST(NULL, "u", "t");
        const char *rid = ctx_get(CTX_REQUEST_ID);
        assert_uuid7_now(rid);
        snprintf(first, sizeof first, "%s", rid);
        assert_string_equal(ctx_get(CTX_USER_ID), "u");
        assert_string_equal(ctx_get(CTX_TENANT_ID), "t");
    }
    assert_null(ctx_get(CTX_REQUEST_ID));
    {
        CTX_REQUEST("", NULL, NULL);
        const char *rid = ctx_get(CTX_REQUEST_ID);
        assert_uuid7_now(rid);
        assert_true(strcmp(rid, first) > 0); /* fresh, and later */
    }
    assert_null(ctx_get(CTX_REQUEST_ID));
}

static void test_ctx__uuid7_format_and_time(void **state)
{
    (void)state;
    char buf[CTX_UUID_LEN + 8];
    memset(buf, 'Z', sizeof buf);
    ctx_uuid7(buf);
    assert_int_equal(buf[CTX_UUID_LEN], '\0');
    assert_int_equal(buf[CTX_UUID_LEN + 1], 'Z'); /* wrote no more than 37 bytes */
    assert_uuid7_now(buf);
    /* negative controls for the checker itself */
    assert_false(is_uuid7("0190b5c8-1e2a-4abc-8def-0123456789ab")); /* version 4 */
    assert_false(is_uuid7("0190b5c8-1e2a-7abc-cdef-0123456789ab")); /* variant 110 */
    assert_false(is_uuid7("0190B5C8-1E2A-7ABC-8DEF-0123456789AB")); /* upper case */
    assert_true(is_uuid7("0190b5c8-1e2a-7abc-bdef-0123456789ab"));
}

static void test_ctx__uuid7_strictly_increasing(void **state)
{
    (void)state;
    enum { N = 10000 };
    char prev[CTX_UUID_LEN + 1], cur[CTX_UUID_LEN + 1];
    ctx_uuid7(prev);
    assert_true(is_uuid7(prev));
    for (int i = 0; i < N; i++) {
        ctx_uuid7(cur);
        if (!is_uuid7(cur))
            fail_msg("call %d: not a UUIDv7: %s", i, cur);
        if (strcmp(prev, cur) >= 0)
            fail_msg("call %d: %s not after %s", i, cur, prev);
        memcpy(prev, cur, sizeof prev);
    }
}

#define UUID_THREADS 4
#define UUID_PER_THREAD 2000

static char g_uuids[UUID_THREADS * UUID_PER_THREAD][CTX_UUID_LEN + 1];

static void *uuid_thread(void *p)
{
    int idx = (int)(intptr_t)p;
    for (int i = 0; i < UUID_PER_THREAD; i++)
        ctx_uuid7(g_uuids[idx * UUID_PER_THREAD + i]);
    return NULL;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_ctx__uuid7_unique_across_threads(void **state)
{
    (void)state;
    pthread_t th[UUID_THREADS];
    for (int i = 0; i < UUID_THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, uuid_thread, (void *)(intptr_t)i), 0);
    for (int i = 0; i < UUID_THREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    for (int t = 0; t < UUID_THREADS; t++) /* per thread: increasing */
        for (int i = 1; i < UUID_PER_THREAD; i++)
            assert_true(strcmp(g_uuids[t * UUID_PER_THREAD + i - 1],
                               g_uuids[t * UUID_PER_THREAD + i]) < 0);
    qsort(g_uuids, UUID_THREADS * UUID_PER_THREAD, sizeof g_uuids[0], cmp_str);
    for (int i = 0; i < UUID_THREADS * UUID_PER_THREAD; i++) {
        assert_true(is_uuid7(g_uuids[i]));
        if (i > 0 && strcmp(g_uuids[i - 1], g_uuids[i]) == 0)
            fail_msg("duplicate UUID %s", g_uuids[i]);
    }
}

static void check_rejected_request(const char *bad, const char *label)
{
    {
        CTX_REQUEST(bad, bad, bad);
        const char *rid = ctx_get(CTX_REQUEST_ID);
        if (rid == NULL || !is_uuid7(rid))
            fail_msg("%s: request_id is \"%s\", not a generated UUIDv7", label,
                     rid ? rid : "(null)");
        if (ctx_get(CTX_USER_ID) != NULL)
            fail_msg("%s: rejected user_id was stored", label);
        if (ctx_get(CTX_TENANT_ID) != NULL)
            fail_msg("%s: rejected tenant_id was stored", label);
    }
    assert_null(ctx_get(CTX_REQUEST_ID));
    assert_null(ctx_get(CTX_USER_ID));
    assert_null(ctx_get(CTX_TENANT_ID));
    /* the same through the function pair */
    ctx_request r = ctx_request_begin("good-req", bad, "good-tenant");
    assert_string_equal(ctx_get(CTX_REQUEST_ID), "good-req");
    if (ctx_get(CTX_USER_ID) != NULL)
        fail_msg("%s: rejected user_id was stored by ctx_request_begin", label);
    assert_string_equal(ctx_get(CTX_TENANT_ID), "good-tenant");
    ctx_request_end(&r);
    assert_null(ctx_get(CTX_REQUEST_ID));
    assert_null(ctx_get(CTX_TENANT_ID));
}

static void test_ctx__request_rejects_bad_ids(void **state)
{
    (void)state;
    char long_id[CTX_ID_MAX + 2];
    memset(long_id, 'a', CTX_ID_MAX + 1);
    long_id[CTX_ID_MAX + 1] = '\0'; /* 129 bytes */
    check_rejected_request(long_id, "129 bytes");
    check_rejected_request("abc\ndef", "newline");
    check_rejected_request("abc\r\n{\"level\":\"fatal\"}", "CRLF + JSON");
    check_rejected_request("\x1b[31mred", "ESC[31m");
    check_rejected_request("tab\there", "tab");
    check_rejected_request("del\x7f", "DEL");
    check_rejected_request("bad\xff\xfeutf8", "invalid UTF-8 \\xff\\xfe");
    check_rejected_request("trunc\xc3", "truncated UTF-8 sequence");
    check_rejected_request("\x80lead", "lone continuation byte");
}

static void test_ctx__request_accepts_128_bytes(void **state)
{
    (void)state;
    char id[CTX_ID_MAX + 1];
    memset(id, 'b', CTX_ID_MAX);
    id[CTX_ID_MAX] = '\0';
    {
        CTX_REQUEST(id, id, id);
        assert_string_equal(ctx_get(CTX_REQUEST_ID), id);
        assert_string_equal(ctx_get(CTX_USER_ID), id);
        assert_string_equal(ctx_get(CTX_TENANT_ID), id);
    }
    /* 128 bytes with multi-byte UTF-8 at the end: 125 + 3 */
    char utf[CTX_ID_MAX + 1];
    memset(utf, 'c', CTX_ID_MAX - 3);
    memcpy(utf + CTX_ID_MAX - 3, "\xe2\x82\xac", 4); /* EURO SIGN + NUL */
    assert_int_equal(strlen(utf), CTX_ID_MAX);
    {
        CTX_REQUEST(utf, "üser-日本", "tenant 😀");
        assert_string_equal(ctx_get(CTX_REQUEST_ID), utf);
        assert_string_equal(ctx_get(CTX_USER_ID), "üser-日本");
        assert_string_equal(ctx_get(CTX_TENANT_ID), "tenant 😀");
    }
    assert_null(ctx_get(CTX_REQUEST_ID));
}

static void test_ctx__id_valid_accepts(void **state)
{
    (void)state;
    char id[CTX_ID_MAX + 1];
    memset(id, 'x', CTX_ID_MAX);
    id[CTX_ID_MAX] = '\0';
    assert_true(ctx_id_valid(id));
    assert_true(ctx_id_valid("a"));
    assert_true(ctx_id_valid("req-123_abc.DEF:42/x"));
    assert_true(ctx_id_valid("with space"));
    assert_true(ctx_id_valid("quote\"and\\backslash"));
    assert_true(ctx_id_valid("caf\xc3\xa9"));            /* é */
    assert_true(ctx_id_valid("\xe6\x97\xa5\xe6\x9c\xac")); /* 日本 */
    assert_true(ctx_id_valid("\xf0\x9f\x98\x80"));         /* U+1F600 */
    assert_true(ctx_id_valid("\xf4\x8f\xbf\xbf"));         /* U+10FFFF */
}

static void test_ctx__id_valid_rejects(void **state)
{
    (void)state;
    char id[CTX_ID_MAX + 2];
    memset(id, 'x', CTX_ID_MAX + 1);
    id[CTX_ID_MAX + 1] = '\0';
    assert_false(ctx_id_valid(id)); /* 129 bytes */
    assert_false(ctx_id_valid(NULL));
    assert_false(ctx_id_valid(""));
    assert_false(ctx_id_valid("a\nb"));
    assert_false(ctx_id_valid("a\rb"));
    assert_false(ctx_id_valid("a\tb"));
    assert_false(ctx_id_valid("\x1b[31m"));
    assert_false(ctx_id_valid("\x01"));
    assert_false(ctx_id_valid("x\x1f"));
    assert_false(ctx_id_valid("del\x7f"));
    assert_false(ctx_id_valid("\xff"));
    assert_false(ctx_id_valid("ab\xc3"));     /* truncated */
    assert_false(ctx_id_valid("\x80"));       /* lone continuation */
    assert_false(ctx_id_valid("\xc3\x28"));   /* bad continuation */
    assert_false(ctx_id_valid("\xe2\x82"));   /* truncated 3-byte */
    assert_false(ctx_id_valid("\xf0\x9f\x98")); /* truncated 4-byte */
}

static void test_ctx__id_valid_rejects_overlong_surrogate_out_of_range(void **state)
{
    (void)state;
    assert_false(ctx_id_valid("\xc0\xaf"));         /* overlong '/' */
    assert_false(ctx_id_valid("\xc1\xbf"));         /* overlong */
    assert_false(ctx_id_valid("\xe0\x80\xaf"));     /* overlong 3-byte */
    assert_false(ctx_id_valid("\xf0\x80\x80\xaf")); /* overlong 4-byte */
    assert_false(ctx_id_valid("\xed\xa0\x80"));     /* surrogate U+D800 */
    assert_false(ctx_id_valid("\xf4\x90\x80\x80")); /* U+110000 */
    assert_false(ctx_id_valid("\xf8\x88\x80\x80\x80")); /* 5-byte form */
}

static void test_ctx__id_valid_rejects_c1_controls(void **state)
{
    (void)state;
    assert_false(ctx_id_valid("a\xc2\x85z")); /* U+0085 NEL */
    assert_false(ctx_id_valid("\xc2\x9b" "31m")); /* U+009B CSI */
    assert_false(ctx_id_valid("\xc2\x80"));    /* U+0080 */
    assert_true(ctx_id_valid("\xc2\xa0"));     /* U+00A0 is not a control */
}

static void test_ctx__request_restores_previous_after_block(void **state)
{
    (void)state;
    ctx_token tr = ctx_set(CTX_REQUEST_ID, "outer-req");
    ctx_token tu = ctx_set(CTX_USER_ID, "outer-user");
    {
        CTX_REQUEST("inner-req", "inner-user", "inner-tenant");
        assert_string_equal(ctx_get(CTX_REQUEST_ID), "inner-req");
        assert_string_equal(ctx_get(CTX_USER_ID), "inner-user");
        assert_string_equal(ctx_get(CTX_TENANT_ID), "inner-tenant");
        {
            CTX_REQUEST(NULL, "nested-user", "nested-tenant");
            assert_uuid7_now(ctx_get(CTX_REQUEST_ID));
        }
        assert_string_equal(ctx_get(CTX_REQUEST_ID), "inner-req");
        assert_string_equal(ctx_get(CTX_USER_ID), "inner-user");
        assert_string_equal(ctx_get(CTX_TENANT_ID), "inner-tenant");
    }
    assert_string_equal(ctx_get(CTX_REQUEST_ID), "outer-req");
    assert_string_equal(ctx_get(CTX_USER_ID), "outer-user");
    assert_null(ctx_get(CTX_TENANT_ID));
    assert_int_equal(ctx_reset(tu), 0);
    assert_int_equal(ctx_reset(tr), 0);
    assert_null(ctx_get(CTX_REQUEST_ID));
    assert_null(ctx_get(CTX_USER_ID));
}

static int request_helper(int early, int *ok)
{
    CTX_REQUEST("helper-req", "helper-user", NULL);
    *ok = ctx_get(CTX_REQUEST_ID) && strcmp(ctx_get(CTX_REQUEST_ID), "helper-req") == 0;
    if (early)
        return 1;
    return 2;
}

static void test_ctx__request_reset_on_early_return(void **state)
{
    (void)state;
    ctx_token tt = ctx_set(CTX_TENANT_ID, "outer-tenant");
    int ok = 0;
    assert_int_equal(request_helper(1, &ok), 1);
    assert_true(ok);
    assert_null(ctx_get(CTX_REQUEST_ID));
    assert_null(ctx_get(CTX_USER_ID));
    assert_string_equal(ctx_get(CTX_TENANT_ID), "outer-tenant");
    assert_int_equal(ctx_reset(tt), 0);
}

static void test_ctx__request_begin_end(void **state)
{
    (void)state;
    ctx_token tu = ctx_set(CTX_USER_ID, "outer-user");
    ctx_request r = ctx_request_begin(NULL, "fn-user", "fn-tenant");
    assert_uuid7_now(ctx_get(CTX_REQUEST_ID));
    assert_string_equal(ctx_get(CTX_USER_ID), "fn-user");
    assert_string_equal(ctx_get(CTX_TENANT_ID), "fn-tenant");
    ctx_request_end(&r);
    assert_null(ctx_get(CTX_REQUEST_ID));
    assert_string_equal(ctx_get(CTX_USER_ID), "outer-user");
    assert_null(ctx_get(CTX_TENANT_ID));
    assert_int_equal(ctx_reset(tu), 0);
}

static void test_ctx__request_copies_ids(void **state)
{
    (void)state;
    char rid[16] = "req-copy", uid[16] = "user-copy";
    {
        CTX_REQUEST(rid, uid, NULL);
        memcpy(rid, "XXXXXXXX", 8);
        memcpy(uid, "YYYYYYYYY", 9);
        assert_string_equal(ctx_get(CTX_REQUEST_ID), "req-copy");
        assert_string_equal(ctx_get(CTX_USER_ID), "user-copy");
    }
}

/* ------------------------------------------------------------------------ */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ctx__var_new_same_name_same_handle),
        cmocka_unit_test(test_ctx__var_new_copies_name),
        cmocka_unit_test(test_ctx__var_new_null_or_empty_is_null),
        cmocka_unit_test(test_ctx__var_name_returns_declared_name),
        cmocka_unit_test(test_ctx__var_new_race_same_handle),
        cmocka_unit_test(test_ctx__builtin_vars_named),

        cmocka_unit_test(test_ctx__set_copies_string),
        cmocka_unit_test(test_ctx__set_null_unsets),
        cmocka_unit_test(test_ctx__set_empty_string_is_set),
        cmocka_unit_test(test_ctx__get_unset_is_null),
        cmocka_unit_test(test_ctx__get_null_var_is_null),
        cmocka_unit_test(test_ctx__set_null_var_token_einval),
        cmocka_unit_test(test_ctx__set_long_value),

        cmocka_unit_test(test_ctx__reset_restores_previous),
        cmocka_unit_test(test_ctx__reset_leaves_other_vars),
        cmocka_unit_test(test_ctx__reset_lifo_nested_same_var),
        cmocka_unit_test(test_ctx__reset_out_of_order_restores_that_sets_previous),
        cmocka_unit_test(test_ctx__reset_twice_estale),
        cmocka_unit_test(test_ctx__reset_token_from_other_thread_econtext),
        cmocka_unit_test(test_ctx__reset_token_from_finished_run_econtext),
        cmocka_unit_test(test_ctx__reset_outer_token_inside_run_econtext),
        cmocka_unit_test(test_ctx__reset_zeroed_token_fails),
        cmocka_unit_test(test_ctx__reset_attach_token_einval),
        cmocka_unit_test(test_ctx__dropped_tokens_same_var_keep_other_var_token),
        cmocka_unit_test(test_ctx__undo_depth_overflow_oldest_estale),
        cmocka_unit_test(test_ctx__full_undo_list_victims),

        cmocka_unit_test(test_ctx__undo_full_of_distinct_vars_nested_same_var_tokens_work),
        cmocka_unit_test(test_ctx__undo_full_of_one_var_nested_scopes_restore),

        cmocka_unit_test(test_ctx__get_pointer_survives_set_of_other_var),

        cmocka_unit_test(test_ctx__i64_roundtrip_and_decimal_text),
        cmocka_unit_test(test_ctx__get_i64_unset_or_string_einval),
        cmocka_unit_test(test_ctx__ptr_get_ptr_and_get_null),
        cmocka_unit_test(test_ctx__ptr_release_after_reset_and_snapshot_release),
        cmocka_unit_test(test_ctx__ptr_release_snapshot_first_then_reset),
        cmocka_unit_test(test_ctx__ptr_overwritten_then_restored),
        cmocka_unit_test(test_ctx__ptr_null_release_ok),
        cmocka_unit_test(test_ctx__ptr_release_on_other_thread),
        cmocka_unit_test(test_ctx__ptr_released_at_thread_exit),

        cmocka_unit_test(test_ctx__copy_is_immutable),
        cmocka_unit_test(test_ctx__copy_of_empty_context_not_null),
        cmocka_unit_test(test_ctx__snapshot_shared_by_4_threads),
        cmocka_unit_test(test_ctx__retain_release_refcount),
        cmocka_unit_test(test_ctx__over_release_aborts_in_debug),
        cmocka_unit_test(test_ctx__release_and_retain_null_ok),
        cmocka_unit_test(test_ctx__copy_many_releases_no_leak),

        cmocka_unit_test(test_ctx__run_sees_snapshot_values),
        cmocka_unit_test(test_ctx__run_discards_fn_sets),
        cmocka_unit_test(test_ctx__run_null_is_empty_context),
        cmocka_unit_test(test_ctx__run_nested),
        cmocka_unit_test(test_ctx__copy_inside_run_outlives_run),

        cmocka_unit_test(test_ctx__attach_detach_visible_between),
        cmocka_unit_test(test_ctx__attach_sets_discarded_on_detach),
        cmocka_unit_test(test_ctx__attach_borrows_snapshot),
        cmocka_unit_test(test_ctx__detach_twice_estale),
        cmocka_unit_test(test_ctx__detach_outer_while_inner_attached_econtext),
        cmocka_unit_test(test_ctx__detach_set_token_einval),
        cmocka_unit_test(test_ctx__detach_on_other_thread_fails),
        cmocka_unit_test(test_ctx__reset_token_from_detached_frame_econtext),
        cmocka_unit_test(test_ctx__attach_null_does_not_crash),

        cmocka_unit_test(test_ctx__thread_create_inherits_at_creation),
        cmocka_unit_test(test_ctx__thread_create_child_set_does_not_affect_parent),
        cmocka_unit_test_setup(test_ctx__plain_pthread_starts_empty, clear_builtins),
        cmocka_unit_test(test_ctx__thread_create_chains),

        cmocka_unit_test(test_ctx__pool_captures_at_submit),
        cmocka_unit_test(test_ctx__pool_worker_does_not_carry_context),
        cmocka_unit_test(test_ctx__pool_free_runs_queued_then_submit_estate),
        cmocka_unit_test(test_ctx__pool_free_runs_many_queued),
        cmocka_unit_test(test_ctx__pool_submit_invalid_args),
        cmocka_unit_test(test_ctx__pool_new_out_of_range_null),
        cmocka_unit_test(test_ctx__pool_task_submits_to_own_pool),
        cmocka_unit_test(test_ctx__pool_free_without_tasks),

        cmocka_unit_test(test_ctx__bound_run_on_foreign_thread),
        cmocka_unit_test(test_ctx__bound_call_twice_then_free),
        cmocka_unit_test(test_ctx__bind_null_fn_is_null),
        cmocka_unit_test(test_ctx__bound_run_and_free_null_noop),
        cmocka_unit_test(test_ctx__bound_free_releases_captured_context),

        cmocka_unit_test(test_ctx__scope_visible_in_block_reset_at_end),
        cmocka_unit_test(test_ctx__scope_reset_on_early_return),
        cmocka_unit_test(test_ctx__scope_reset_on_break_and_continue),
        cmocka_unit_test(test_ctx__scope_reset_on_goto),
        cmocka_unit_test(test_ctx__scope_nested_same_var_restore_in_order),
        cmocka_unit_test(test_ctx__scope_two_in_one_block),
        cmocka_unit_test(test_ctx__scope_null_value_unsets_in_block),

        cmocka_unit_test_setup(test_ctx__request_sets_three_ids, clear_builtins),
        cmocka_unit_test_setup(test_ctx__request_null_user_and_tenant_unset, clear_builtins),
        cmocka_unit_test_setup(test_ctx__request_null_or_empty_id_generates_uuid7, clear_builtins),
        cmocka_unit_test(test_ctx__uuid7_format_and_time),
        cmocka_unit_test(test_ctx__uuid7_strictly_increasing),
        cmocka_unit_test(test_ctx__uuid7_unique_across_threads),
        cmocka_unit_test_setup(test_ctx__request_rejects_bad_ids, clear_builtins),
        cmocka_unit_test_setup(test_ctx__request_accepts_128_bytes, clear_builtins),
        cmocka_unit_test(test_ctx__id_valid_accepts),
        cmocka_unit_test(test_ctx__id_valid_rejects),
        cmocka_unit_test(test_ctx__id_valid_rejects_overlong_surrogate_out_of_range),
        cmocka_unit_test(test_ctx__id_valid_rejects_c1_controls),
        cmocka_unit_test_setup(test_ctx__request_restores_previous_after_block, clear_builtins),
        cmocka_unit_test_setup(test_ctx__request_reset_on_early_return, clear_builtins),
        cmocka_unit_test_setup(test_ctx__request_begin_end, clear_builtins),
        cmocka_unit_test_setup(test_ctx__request_copies_ids, clear_builtins),
    };
    return cmocka_run_group_tests_name("ctx", tests, NULL, NULL);
}
