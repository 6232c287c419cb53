/* SPDX-License-Identifier: MIT */
/*
 * W3C Trace Context (SPEC section 8): the traceparent parser as hostile
 * input (a table of valid and invalid headers from the recommendation),
 * continuing and starting traces, child spans, the outgoing header, and the
 * trace following the work into threads, pool tasks, bound callbacks and
 * async records. Records are parsed back with jansson, never grepped.
 *
 * cmocka assertions run on the main thread only: helper threads record what
 * they saw and the main thread checks it after joining them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include <ctxlog/ctxlog.h>

#include "support.h"

#define TRACE_A "4bf92f3577b34da6a3ce929d0e0e4736"
#define SPAN_A "00f067aa0ba902b7"
#define VALID_A "00-" TRACE_A "-" SPAN_A "-01"

/* ---- helpers --------------------------------------------------------------- */

/* What a thread saw of the trace variables. */
typedef struct seen_trace {
    char trace[64], span[64], flags[64], parent[64];
    int has_trace, has_span, has_flags, has_parent;
} seen_trace;

static void copy_var(char *out, int *has, ctx_var *v)
{
    const char *s = ctx_get(v);
    *has = s != NULL;
    snprintf(out, 64, "%s", s ? s : "");
}

static seen_trace look(void)
{
    seen_trace s;
    copy_var(s.trace, &s.has_trace, CTX_TRACE_ID);
    copy_var(s.span, &s.has_span, CTX_SPAN_ID);
    copy_var(s.flags, &s.has_flags, CTX_TRACE_FLAGS);
    copy_var(s.parent, &s.has_parent, CTX_PARENT_SPAN_ID);
    return s;
}

static int lower_hex(const char *s, size_t n)
{
    if (strlen(s) != n)
        return 0;
    int nonzero = 0;
    for (size_t i = 0; i < n; i++) {
        if (!strchr("0123456789abcdef", s[i]) || s[i] == '\0')
            return 0;
        nonzero |= s[i] != '0';
    }
    return nonzero;
}

static void assert_id(const char *s, size_t n)
{
    if (!lower_hex(s, n))
        fail_msg("\"%s\" is not %zu lower-case hex digits, not all zero", s, n);
}

static void assert_unset(const seen_trace *s)
{
    assert_false(s->has_trace);
    assert_false(s->has_span);
    assert_false(s->has_flags);
    assert_false(s->has_parent);
}

/* ---- the header table -------------------------------------------------------- */

static char one_mib_v00[(1u << 20) + 1];
static char one_mib_future[(1u << 20) + 1];

struct tp_case {
    const char *what;
    const char *header;
};

static const struct tp_case valid_cases[] = {
    {"the recommendation's example", VALID_A},
    {"not sampled", "00-" TRACE_A "-" SPAN_A "-00"},
    {"every flag bit", "00-" TRACE_A "-" SPAN_A "-ff"},
    {"ids with a single non-zero digit", "00-00000000000000000000000000000001-0000000000000001-01"},
    {"a later version, 55 bytes", "cc-" TRACE_A "-" SPAN_A "-01"},
    {"a later version with extra fields", "cc-" TRACE_A "-" SPAN_A "-01-what-the-future-will-be-like"},
    {"version 01 with a field", "01-" TRACE_A "-" SPAN_A "-09-abcd"},
    {"version fe", "fe-" TRACE_A "-" SPAN_A "-01-"},
};

static const struct tp_case invalid_cases[] = {
    {"NULL", NULL},
    {"empty", ""},
    {"version ff", "ff-" TRACE_A "-" SPAN_A "-01"},
    {"upper-case version", "0A-" TRACE_A "-" SPAN_A "-01"},
    {"non-hex version", "0g-" TRACE_A "-" SPAN_A "-01"},
    {"one-digit version", "0-" TRACE_A "-" SPAN_A "-01"},
    {"upper-case trace-id", "00-4BF92F3577B34DA6A3CE929D0E0E4736-" SPAN_A "-01"},
    {"one upper-case digit in the trace-id", "00-4bf92f3577b34da6a3ce929d0e0e473A-" SPAN_A "-01"},
    {"upper-case parent-id", "00-" TRACE_A "-00F067AA0BA902B7-01"},
    {"upper-case flags", "00-" TRACE_A "-" SPAN_A "-0A"},
    {"non-hex in the trace-id", "00-4bf92f3577b34da6a3ce929d0e0e473g-" SPAN_A "-01"},
    {"non-hex in the parent-id", "00-" TRACE_A "-00f067aa0ba902bz-01"},
    {"non-hex flags", "00-" TRACE_A "-" SPAN_A "-0x"},
    {"short trace-id", "00-4bf92f3577b34da6a3ce929d0e0e473-" SPAN_A "-01"},
    {"long trace-id", "00-4bf92f3577b34da6a3ce929d0e0e47361-" SPAN_A "-01"},
    {"short parent-id", "00-" TRACE_A "-00f067aa0ba902b-01"},
    {"long parent-id", "00-" TRACE_A "-00f067aa0ba902b71-01"},
    {"one-digit flags", "00-" TRACE_A "-" SPAN_A "-1"},
    {"three-digit flags", "00-" TRACE_A "-" SPAN_A "-001"},
    {"all-zero trace-id", "00-00000000000000000000000000000000-" SPAN_A "-01"},
    {"all-zero parent-id", "00-" TRACE_A "-0000000000000000-01"},
    {"version 00 with an extra field", "00-" TRACE_A "-" SPAN_A "-01-what-the-future-will-be-like"},
    {"version 00 with a trailing dash", "00-" TRACE_A "-" SPAN_A "-01-"},
    {"trailing space", VALID_A " "},
    {"trailing tab", VALID_A "\t"},
    {"trailing CR LF", VALID_A "\r\n"},
    {"leading space", " " VALID_A},
    {"underscores for dashes", "00_" TRACE_A "_" SPAN_A "_01"},
    {"a missing dash", "00" TRACE_A "-" SPAN_A "-01"},
    {"fields swapped", "00-" SPAN_A "-" TRACE_A "-01"},
    {"a later version going on without a dash", "cc-" TRACE_A "-" SPAN_A "-01x"},
    {"a later version cut short", "cc-" TRACE_A "-" SPAN_A "-0"},
    {"a later version with an all-zero trace-id", "cc-00000000000000000000000000000000-" SPAN_A "-01"},
    {"a later version with upper-case hex", "cc-" TRACE_A "-00F067AA0BA902B7-01-x"},
    {"a 1 MiB version-00 header", one_mib_v00},
    {"only dashes", "--------------------------------------------------------"},
    {"a UTF-8 lookalike digit", "00-" TRACE_A "-" SPAN_A "-0\xd9\xa1"},
};

static int setup_headers(void **state)
{
    (void)state;
    /* A valid header followed by 1 MiB: version 00 must stop at 55 bytes,
     * a later version may go on after a dash. */
    memset(one_mib_v00, 'a', sizeof one_mib_v00 - 1);
    memcpy(one_mib_v00, VALID_A "-", sizeof VALID_A);
    memset(one_mib_future, 'b', sizeof one_mib_future - 1);
    memcpy(one_mib_future, "cc-" TRACE_A "-" SPAN_A "-01-", sizeof VALID_A);
    return 0;
}

static void test_trace__valid_headers_continue_the_trace(void **state)
{
    (void)state;
    for (size_t k = 0; k <= sizeof valid_cases / sizeof valid_cases[0]; k++) {
        const char *what = k < sizeof valid_cases / sizeof valid_cases[0] ? valid_cases[k].what
                                                                            : "a later version, 1 MiB";
        const char *h = k < sizeof valid_cases / sizeof valid_cases[0] ? valid_cases[k].header
                                                                        : one_mib_future;
        if (!ctx_traceparent_valid(h))
            fail_msg("%s: rejected: %.80s", what, h);
        {
            CTX_TRACE(h);
            seen_trace s = look();
            if (strncmp(s.trace, h + 3, 32) != 0 || strlen(s.trace) != 32)
                fail_msg("%s: trace_id %s, header %.80s", what, s.trace, h);
            if (strncmp(s.parent, h + 36, 16) != 0 || strlen(s.parent) != 16)
                fail_msg("%s: parent_span_id %s, header %.80s", what, s.parent, h);
            if (strncmp(s.flags, h + 53, 2) != 0 || strlen(s.flags) != 2)
                fail_msg("%s: trace_flags %s, header %.80s", what, s.flags, h);
            assert_id(s.span, 16);
            assert_string_not_equal(s.span, s.parent);

            /* The outgoing header: version 00, same trace and flags, our span. */
            char out[CTX_TRACEPARENT_LEN + 1];
            assert_int_equal(ctx_traceparent(out), 0);
            assert_true(ctx_traceparent_valid(out));
            assert_int_equal(strlen(out), CTX_TRACEPARENT_LEN);
            assert_memory_equal(out, "00-", 3);
            assert_memory_equal(out + 3, h + 3, 32);
            assert_memory_equal(out + 36, s.span, 16);
            assert_memory_equal(out + 53, h + 53, 2);
        }
        seen_trace after = look();
        assert_unset(&after);
    }
}

static void test_trace__invalid_headers_start_a_new_trace(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof invalid_cases / sizeof invalid_cases[0]; k++) {
        const struct tp_case *c = &invalid_cases[k];
        if (ctx_traceparent_valid(c->header))
            fail_msg("%s: accepted: %.80s", c->what, c->header);
        CTX_TRACE(c->header);
        seen_trace s = look();
        assert_id(s.trace, 32);
        assert_id(s.span, 16);
        assert_string_equal(s.flags, "01");
        if (s.has_parent)
            fail_msg("%s: parent_span_id %s set from an invalid header", c->what, s.parent);
        /* Nothing of the header was kept: a new trace id, not its own. */
        if (c->header && strlen(c->header) > 3 + 32 && strncmp(s.trace, c->header + 3, 32) == 0)
            fail_msg("%s: the invalid header's trace-id was continued", c->what);
        if (c->header && strlen(c->header) > 36 + 16 && strstr(c->header, s.span))
            fail_msg("%s: the span id comes from the header", c->what);
    }
}

/* An invalid incoming header inside a scope that already had a parent: the
 * new trace's root span has no parent, not the outer one. */
static void test_trace__new_trace_unsets_an_outer_parent(void **state)
{
    (void)state;
    CTX_TRACE(VALID_A);
    assert_string_equal(ctx_get(CTX_PARENT_SPAN_ID), SPAN_A);
    {
        CTX_TRACE("00-not-a-header");
        assert_null(ctx_get(CTX_PARENT_SPAN_ID));
        assert_string_not_equal(ctx_get(CTX_TRACE_ID), TRACE_A);
    }
    assert_string_equal(ctx_get(CTX_PARENT_SPAN_ID), SPAN_A);
    assert_string_equal(ctx_get(CTX_TRACE_ID), TRACE_A);
}

static void test_trace__new_ids_are_random_and_distinct(void **state)
{
    (void)state;
    enum { N = 2000 };
    static char traces[N][33], spans[N][17];
    for (int i = 0; i < N; i++) {
        ctx_trace t = ctx_trace_begin(NULL);
        seen_trace s = look();
        assert_id(s.trace, 32);
        assert_id(s.span, 16);
        assert_string_equal(s.flags, "01");
        assert_false(s.has_parent);
        memcpy(traces[i], s.trace, 33);
        memcpy(spans[i], s.span, 17);
        ctx_trace_end(&t);
    }
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            if (strcmp(traces[i], traces[j]) == 0 || strcmp(spans[i], spans[j]) == 0)
                fail_msg("ids %d and %d repeat", i, j);
}

static void test_trace__end_restores_the_outer_trace(void **state)
{
    (void)state;
    seen_trace none = look();
    assert_unset(&none);
    ctx_trace outer = ctx_trace_begin(VALID_A);
    seen_trace o = look();
    {
        CTX_TRACE(NULL);
        seen_trace in = look();
        assert_string_not_equal(in.trace, o.trace);
        assert_string_not_equal(in.span, o.span);
    }
    seen_trace back = look();
    assert_string_equal(back.trace, o.trace);
    assert_string_equal(back.span, o.span);
    assert_string_equal(back.flags, o.flags);
    assert_string_equal(back.parent, o.parent);
    ctx_trace_end(&outer);
    seen_trace after = look();
    assert_unset(&after);
    ctx_trace_end(NULL); /* a no-op */
}

/* CTX_TRACE in a function left early: reset on every way out. */
static int traced_early_return(const char *h, int leave_early, char span_out[17])
{
    CTX_TRACE(h);
    snprintf(span_out, 17, "%s", ctx_get(CTX_SPAN_ID));
    if (leave_early)
        return 1;
    for (int i = 0; i < 3; i++) {
        CTX_SPAN();
        if (i == 1)
            break;
    }
    return 0;
}

static void test_trace__scope_ends_on_every_way_out(void **state)
{
    (void)state;
    char span[17];
    assert_int_equal(traced_early_return(VALID_A, 1, span), 1);
    seen_trace s = look();
    assert_unset(&s);
    assert_int_equal(traced_early_return(VALID_A, 0, span), 0);
    s = look();
    assert_unset(&s);
}

static void test_trace__span_is_a_child_of_the_current_span(void **state)
{
    (void)state;
    CTX_TRACE(VALID_A);
    seen_trace root = look();
    {
        CTX_SPAN();
        seen_trace child = look();
        assert_string_equal(child.trace, TRACE_A);
        assert_string_equal(child.flags, "01");
        assert_string_equal(child.parent, root.span);
        assert_id(child.span, 16);
        assert_string_not_equal(child.span, root.span);
        {
            CTX_SPAN();
            seen_trace grandchild = look();
            assert_string_equal(grandchild.trace, TRACE_A);
            assert_string_equal(grandchild.parent, child.span);
            char out[CTX_TRACEPARENT_LEN + 1];
            assert_int_equal(ctx_traceparent(out), 0);
            assert_memory_equal(out + 36, grandchild.span, 16);
        }
        seen_trace back = look();
        assert_string_equal(back.span, child.span);
        assert_string_equal(back.parent, root.span);
    }
    seen_trace back = look();
    assert_string_equal(back.span, root.span);
    assert_string_equal(back.parent, SPAN_A);
}

static void test_trace__span_without_a_trace_starts_one(void **state)
{
    (void)state;
    {
        CTX_SPAN();
        seen_trace s = look();
        assert_id(s.trace, 32);
        assert_id(s.span, 16);
        assert_string_equal(s.flags, "01");
        assert_false(s.has_parent);
    }
    seen_trace after = look();
    assert_unset(&after);
}

static void test_trace__traceparent_needs_a_trace(void **state)
{
    (void)state;
    char out[CTX_TRACEPARENT_LEN + 1] = "x";
    assert_int_equal(ctx_traceparent(out), CTXLOG_ESTATE);
    assert_string_equal(out, "");
    assert_int_equal(ctx_traceparent(NULL), CTXLOG_EINVAL);

    /* Variables set by hand that do not form a header are not written. */
    ctx_token a = ctx_set(CTX_TRACE_ID, "4BF92F3577B34DA6A3CE929D0E0E4736");
    ctx_token b = ctx_set(CTX_SPAN_ID, SPAN_A);
    ctx_token c = ctx_set(CTX_TRACE_FLAGS, "01");
    assert_int_equal(ctx_traceparent(out), CTXLOG_ESTATE);
    {
        /* ...and a span below them starts a real trace. */
        CTX_SPAN();
        assert_int_equal(ctx_traceparent(out), 0);
        assert_true(ctx_traceparent_valid(out));
    }
    assert_int_equal(ctx_reset(c), 0);
    assert_int_equal(ctx_reset(b), 0);
    assert_int_equal(ctx_reset(a), 0);

    CTX_TRACE(VALID_A);
    assert_int_equal(ctx_traceparent(out), 0);
    assert_memory_equal(out, "00-" TRACE_A "-", 36);
    assert_memory_equal(out + 36, ctx_get(CTX_SPAN_ID), 16);
    assert_string_equal(out + 52, "-01");
}

static void test_trace__request_traced_sets_both(void **state)
{
    (void)state;
    {
        CTX_REQUEST_TRACED("req-1", "alice", "acme", VALID_A);
        assert_string_equal(ctx_get(CTX_REQUEST_ID), "req-1");
        assert_string_equal(ctx_get(CTX_USER_ID), "alice");
        assert_string_equal(ctx_get(CTX_TENANT_ID), "acme");
        assert_string_equal(ctx_get(CTX_TRACE_ID), TRACE_A);
        assert_string_equal(ctx_get(CTX_PARENT_SPAN_ID), SPAN_A);
    }
    assert_null(ctx_get(CTX_REQUEST_ID));
    seen_trace s = look();
    assert_unset(&s);
    {
        CTX_REQUEST_TRACED(NULL, NULL, NULL, "garbage");
        assert_non_null(ctx_get(CTX_REQUEST_ID));
        assert_id(ctx_get(CTX_TRACE_ID), 32);
        assert_null(ctx_get(CTX_PARENT_SPAN_ID));
    }
    ctx_request_traced_end(NULL);
}

static void test_trace__variables_are_the_builtins(void **state)
{
    (void)state;
    assert_ptr_equal(ctx_var_new("trace_id", 0), CTX_TRACE_ID);
    assert_ptr_equal(ctx_var_new("span_id", 0), CTX_SPAN_ID);
    assert_ptr_equal(ctx_var_new("trace_flags", 0), CTX_TRACE_FLAGS);
    assert_ptr_equal(ctx_var_new("parent_span_id", 0), CTX_PARENT_SPAN_ID);
    assert_string_equal(ctx_var_name(CTX_TRACE_ID), "trace_id");
    assert_string_equal(ctx_var_name(CTX_SPAN_ID), "span_id");
    assert_string_equal(ctx_var_name(CTX_TRACE_FLAGS), "trace_flags");
    assert_string_equal(ctx_var_name(CTX_PARENT_SPAN_ID), "parent_span_id");
}

/* ---- propagation --------------------------------------------------------------- */

static void *thread_look(void *arg)
{
    *(seen_trace *)arg = look();
    {
        /* A span of its own does not reach back into the creator. */
        CTX_SPAN();
    }
    return NULL;
}

static void test_trace__threads_inherit_the_trace(void **state)
{
    (void)state;
    CTX_TRACE(VALID_A);
    seen_trace mine = look(), theirs, plain;
    pthread_t th;
    assert_int_equal(ctx_thread_create(&th, NULL, thread_look, &theirs), 0);
    pthread_join(th, NULL);
    assert_string_equal(theirs.trace, mine.trace);
    assert_string_equal(theirs.span, mine.span);
    assert_string_equal(theirs.parent, SPAN_A);
    assert_int_equal(pthread_create(&th, NULL, thread_look, &plain), 0);
    pthread_join(th, NULL);
    assert_unset(&plain);
}

struct task {
    seen_trace s;
    pthread_mutex_t *lock;
    pthread_cond_t *cond;
    int *left;
};

static void task_look(void *arg)
{
    struct task *t = arg;
    t->s = look();
    pthread_mutex_lock(t->lock);
    if (--*t->left == 0)
        pthread_cond_signal(t->cond);
    pthread_mutex_unlock(t->lock);
}

/* A plain thread (starting with an empty context) that runs a binding. */
static void *run_binding(void *b)
{
    ctx_bound_run(b);
    return NULL;
}

static void test_trace__pool_tasks_and_bound_callbacks_run_in_the_trace(void **state)
{
    (void)state;
    enum { N = 8 };
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
    int left = N;
    struct task t[N];
    char spans[N][17];
    ctx_pool *pool = ctx_pool_new(3);
    assert_non_null(pool);
    for (int i = 0; i < N; i++) {
        t[i] = (struct task){.lock = &lock, .cond = &cond, .left = &left};
        CTX_TRACE(VALID_A); /* each task its own span of the same trace */
        snprintf(spans[i], sizeof spans[i], "%s", ctx_get(CTX_SPAN_ID));
        assert_int_equal(ctx_pool_submit(pool, task_look, &t[i]), 0);
    }
    pthread_mutex_lock(&lock);
    while (left > 0)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
    ctx_pool_free(pool);
    for (int i = 0; i < N; i++) {
        assert_string_equal(t[i].s.trace, TRACE_A);
        assert_string_equal(t[i].s.span, spans[i]);
        assert_string_equal(t[i].s.parent, SPAN_A);
    }

    /* A bound callback, run later outside the scope, on another thread. */
    struct task bt = {.lock = &lock, .cond = &cond, .left = &left};
    left = 1;
    ctx_bound *b;
    char span[17];
    {
        CTX_TRACE(NULL);
        CTX_SPAN();
        snprintf(span, sizeof span, "%s", ctx_get(CTX_SPAN_ID));
        b = ctx_bind(task_look, &bt);
        assert_non_null(b);
    }
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, run_binding, b), 0);
    pthread_join(th, NULL);
    assert_string_equal(bt.s.span, span);
    assert_id(bt.s.parent, 16);
    assert_id(bt.s.trace, 32);
}

/* ---- records, sync and async ------------------------------------------------------ */

struct logger_arg {
    int index;
};

/* Each thread: its own trace from a header, a child span, records in both. */
static void *log_thread(void *arg)
{
    int i = ((struct logger_arg *)arg)->index;
    char h[CTX_TRACEPARENT_LEN + 1], uid[32];
    snprintf(h, sizeof h, "00-%032x-%016x-01", i + 1, i + 0x100);
    snprintf(uid, sizeof uid, "u%d", i);
    for (int k = 0; k < 200; k++) {
        CTX_REQUEST_TRACED(NULL, uid, NULL, h);
        log_info_kv("in request", LOG_I64("k", k),
                    LOG_STR("parent", ctx_get(CTX_PARENT_SPAN_ID)));
        CTX_SPAN();
        log_info_kv("in span", LOG_I64("k", k), LOG_STR("parent", ctx_get(CTX_PARENT_SPAN_ID)));
    }
    return NULL;
}

static void check_thread_records(const char *path, int nthreads)
{
    json_t *recs = ts_read_records(path);
    size_t n = 0, idx;
    json_t *r;
    /* The spans of "in request" records by (thread, k), for the child check. */
    static char req_span[8][200][17];
    json_array_foreach(recs, idx, r) {
        const char *msg = json_string_value(json_object_get(r, "msg"));
        const char *uid = json_string_value(json_object_get(r, "user_id"));
        if (!msg || !uid || (strcmp(msg, "in request") && strcmp(msg, "in span")))
            continue;
        int i = atoi(uid + 1), k = (int)json_integer_value(json_object_get(r, "k"));
        assert_true(i >= 0 && i < nthreads && k >= 0 && k < 200);
        char want_trace[33], want_parent[17];
        snprintf(want_trace, sizeof want_trace, "%032x", i + 1);
        snprintf(want_parent, sizeof want_parent, "%016x", i + 0x100);
        const char *trace = json_string_value(json_object_get(r, "trace_id"));
        const char *span = json_string_value(json_object_get(r, "span_id"));
        const char *parent = json_string_value(json_object_get(r, "parent"));
        assert_null(json_object_get(r, "parent_span_id")); /* not stamped */
        const char *flags = json_string_value(json_object_get(r, "trace_flags"));
        assert_non_null(trace);
        assert_non_null(span);
        assert_non_null(parent);
        assert_non_null(flags);
        assert_string_equal(trace, want_trace);
        assert_string_equal(flags, "01");
        assert_id(span, 16);
        if (strcmp(msg, "in request") == 0) {
            assert_string_equal(parent, want_parent);
            snprintf(req_span[i][k], 17, "%s", span);
        } else {
            /* A record is written before the next; the request's came first. */
            assert_string_equal(parent, req_span[i][k]);
        }
        /* Member order: right after the request ids. */
        void *it = json_object_iter_at(r, "user_id");
        it = json_object_iter_next(r, it);
        assert_string_equal(json_object_iter_key(it), "trace_id");
        it = json_object_iter_next(r, it);
        assert_string_equal(json_object_iter_key(it), "span_id");
        it = json_object_iter_next(r, it);
        assert_string_equal(json_object_iter_key(it), "trace_flags");
        it = json_object_iter_next(r, it);
        assert_string_equal(json_object_iter_key(it), "k");
        n++;
    }
    assert_int_equal(n, (size_t)nthreads * 400);
    json_decref(recs);
}

static void run_logging_threads(int async)
{
    enum { NT = 4 };
    char *path = ts_temp_path(async ? "trace_async.log" : "trace_sync.log");
    ts_unlink(path);
    setenv("CTXLOG_OUTPUT", path, 1);
    setenv("CTXLOG_LEVEL", "info", 1);
    setenv("CTXLOG_ASYNC", async ? "1" : "0", 1);
    unsetenv("CTXLOG_CONFIG");
    unsetenv("CTXLOG_FORMAT");
    assert_int_equal(log_configure_env(), 0);

    pthread_t th[NT];
    struct logger_arg a[NT];
    for (int i = 0; i < NT; i++) {
        a[i].index = i;
        assert_int_equal(pthread_create(&th[i], NULL, log_thread, &a[i]), 0);
    }
    for (int i = 0; i < NT; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(log_flush(), 0);
    check_thread_records(path, NT);

    setenv("CTXLOG_ASYNC", "0", 1);
    setenv("CTXLOG_OUTPUT", "stderr", 1);
    assert_int_equal(log_configure_env(), 0);
    ts_unlink(path);
    free(path);
}

static void test_trace__records_carry_the_trace_sync(void **state)
{
    (void)state;
    run_logging_threads(0);
}

static void test_trace__records_carry_the_trace_async(void **state)
{
    (void)state;
    run_logging_threads(1);
}

/* ---- fork ---------------------------------------------------------------------- */

/* A forked child reseeds its generator: parent and child do not make the
 * same ids after the fork. */
static void test_trace__fork_child_makes_its_own_ids(void **state)
{
    (void)state;
    ctx_trace warm = ctx_trace_begin(NULL); /* the generator is seeded now */
    ctx_trace_end(&warm);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        ctx_trace t = ctx_trace_begin(NULL);
        (void)t;
        const char *id = ctx_get(CTX_TRACE_ID);
        ssize_t w = write(fds[1], id, 32);
        _exit(w == 32 ? 0 : 1);
    }
    close(fds[1]);
    CTX_TRACE(NULL);
    char child[33] = {0};
    assert_int_equal(read(fds[0], child, 32), 32);
    close(fds[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_id(child, 32);
    assert_string_not_equal(child, ctx_get(CTX_TRACE_ID));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trace__valid_headers_continue_the_trace),
        cmocka_unit_test(test_trace__invalid_headers_start_a_new_trace),
        cmocka_unit_test(test_trace__new_trace_unsets_an_outer_parent),
        cmocka_unit_test(test_trace__new_ids_are_random_and_distinct),
        cmocka_unit_test(test_trace__end_restores_the_outer_trace),
        cmocka_unit_test(test_trace__scope_ends_on_every_way_out),
        cmocka_unit_test(test_trace__span_is_a_child_of_the_current_span),
        cmocka_unit_test(test_trace__span_without_a_trace_starts_one),
        cmocka_unit_test(test_trace__traceparent_needs_a_trace),
        cmocka_unit_test(test_trace__request_traced_sets_both),
        cmocka_unit_test(test_trace__variables_are_the_builtins),
        cmocka_unit_test(test_trace__threads_inherit_the_trace),
        cmocka_unit_test(test_trace__pool_tasks_and_bound_callbacks_run_in_the_trace),
        cmocka_unit_test(test_trace__records_carry_the_trace_sync),
        cmocka_unit_test(test_trace__records_carry_the_trace_async),
        cmocka_unit_test(test_trace__fork_child_makes_its_own_ids),
    };
    return cmocka_run_group_tests(tests, setup_headers, NULL);
}
