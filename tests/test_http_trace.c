/* SPDX-License-Identifier: MIT */
/*
 * Tracing across processes, for real: the threaded example (libmicrohttpd)
 * calls the event-loop example (libevent) over HTTP for each order's quote,
 * both run as processes on 127.0.0.1, under load from 16 libcurl client
 * threads (1,024 requests). A quarter of the requests carry a valid
 * traceparent (some of a later version, some not sampled), a quarter a
 * valid one too, a quarter an invalid one, a quarter none. After SIGTERM,
 * every line of both logs is parsed with jansson and checked:
 *   - every record of a request, in both services, has the trace_id the
 *     caller answered with: the incoming one when it was valid, else a new
 *     one, never the invalid header's; trace_flags likewise;
 *   - the callee's parent span (its "request received" parent_span_id) is
 *     the caller's outgoing client span (the span of its "quote fetched"),
 *     whose own parent is the caller's request span; the caller's parent is
 *     the incoming header's parent-id, or none;
 *   - within a service, a request's records share its span (pool tasks and
 *     event-loop hops included) and carry exactly its ids: nothing is
 *     mis-stamped;
 *   - no record holds any part of an invalid header;
 *   - each request wrote exactly its records, the servers nothing else but
 *     "listening", "stopping", "stopped".
 * Once with synchronous logging, once with CTXLOG_ASYNC=1 in both servers.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include <ctxlog/ctx.h>

#include "http_client.h"
#include "http_server_proc.h"
#include "support.h"

#define CLIENTS 16
#define PER_CLIENT 64 /* 16 x 64 = 1,024 requests */
#define LOAD (CLIENTS * PER_CLIENT)
#define START_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS 15000
#define CURL_TIMEOUT_MS 10000

enum kind { VALID, INVALID, MISSING };

/* What request i sent and what the caller answered. */
struct req {
    enum kind kind;
    char header[128];                   /* the traceparent sent (VALID, INVALID) */
    char sent_trace[33], sent_parent[17]; /* the ids in it, lower case */
    char sent_flags[3];
    char resp_trace[33], resp_span[17]; /* from the response's traceparent */
    char resp_flags[3];
    char client_span[17];               /* the caller's "quote fetched" span */
    char callee_span[17];
};
static struct req reqs[LOAD];
static ts_server caller, callee;

/* ---- the requests ----------------------------------------------------------------- */

static void plan(void)
{
    for (int i = 0; i < LOAD; i++) {
        struct req *r = &reqs[i];
        char t[33], p[17];
        const char *flags = i % 8 == 4 ? "00" : "01";
        snprintf(t, sizeof t, "%016x%016x", 0xabc000u + (unsigned)i, (unsigned)i + 1);
        snprintf(p, sizeof p, "%016x", 0x5000u + (unsigned)i);
        memset(r, 0, sizeof *r);
        memcpy(r->sent_trace, t, sizeof t);
        memcpy(r->sent_parent, p, sizeof p);
        memcpy(r->sent_flags, flags, 3);
        switch (i % 4) {
        case 0:
        case 1:
            r->kind = VALID;
            /* Some of a later version, with a field version 00 does not have. */
            snprintf(r->header, sizeof r->header, "%s-%s-%s-%s%s", i % 8 == 1 ? "cc" : "00", t, p,
                     flags, i % 8 == 1 ? "-future" : "");
            break;
        case 2: {
            r->kind = INVALID;
            char upper[33];
            for (int k = 0; k < 32; k++)
                upper[k] = (char)(t[k] >= 'a' ? t[k] - 32 : t[k]);
            upper[32] = '\0';
            switch ((i / 4) % 6) {
            case 0: snprintf(r->header, sizeof r->header, "00-%s-%s-01", upper, p); break;
            case 1: snprintf(r->header, sizeof r->header, "ff-%s-%s-01", t, p); break;
            case 2: snprintf(r->header, sizeof r->header, "00-%s-0000000000000000-01", t); break;
            case 3: snprintf(r->header, sizeof r->header, "00-%s-%s-01-extra", t, p); break;
            case 4: snprintf(r->header, sizeof r->header, "00-%.31s-%s-01", t, p); break;
            default: snprintf(r->header, sizeof r->header, "00_%s_%s_01", t, p); break;
            }
            break;
        }
        default:
            r->kind = MISSING;
            break;
        }
        assert_int_equal(ctx_traceparent_valid(r->kind == MISSING ? NULL : r->header), r->kind == VALID);
    }
}

/* Request i to the caller; checks and keeps the traceparent it answers with.
 * Returns 0, or -1 with the reason in err. */
static int fetch(CURL *h, int i, char *err, size_t err_size)
{
    struct req *r = &reqs[i];
    char url[64], line[256];
    struct curl_slist *hdrs = NULL;
    int oom = 0;
    snprintf(line, sizeof line, "X-Request-ID: req-%d", i);
    hdrs = hc_add_header(hdrs, line, &oom);
    snprintf(line, sizeof line, "X-User-ID: uid-%d", i);
    hdrs = hc_add_header(hdrs, line, &oom);
    snprintf(line, sizeof line, "X-Tenant-ID: tid-%d", i);
    hdrs = hc_add_header(hdrs, line, &oom);
    if (r->kind != MISSING) {
        snprintf(line, sizeof line, "traceparent: %s", r->header);
        hdrs = hc_add_header(hdrs, line, &oom);
    }
    if (oom) {
        curl_slist_free_all(hdrs);
        snprintf(err, err_size, "request %d: out of memory", i);
        return -1;
    }
    snprintf(url, sizeof url, "http://127.0.0.1:%u/orders/%d", caller.port, i);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    struct curl_header *tp;
    int ret = -1;
    if (rc != CURLE_OK)
        snprintf(err, err_size, "request %d: %s", i, curl_easy_strerror(rc));
    else if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status), status != 200)
        snprintf(err, err_size, "request %d: HTTP status %ld", i, status);
    else if (curl_easy_header(h, "traceparent", 0, CURLH_HEADER, -1, &tp) != CURLHE_OK ||
             tp->amount != 1)
        snprintf(err, err_size, "request %d: not one traceparent in the response", i);
    else if (!ctx_traceparent_valid(tp->value) || strncmp(tp->value, "00-", 3) != 0 ||
             strlen(tp->value) != CTX_TRACEPARENT_LEN)
        snprintf(err, err_size, "request %d: the response's traceparent \"%s\" is not valid", i,
                 tp->value);
    else {
        memcpy(r->resp_trace, tp->value + 3, 32);
        memcpy(r->resp_span, tp->value + 36, 16);
        memcpy(r->resp_flags, tp->value + 53, 2);
        if (r->kind == VALID && (strcmp(r->resp_trace, r->sent_trace) != 0 ||
                                 strcmp(r->resp_flags, r->sent_flags) != 0))
            snprintf(err, err_size, "request %d: sent %s, answered %s", i, r->header, tp->value);
        else if (r->kind != VALID &&
                 (strcmp(r->resp_trace, r->sent_trace) == 0 || strcmp(r->resp_flags, "01") != 0))
            snprintf(err, err_size, "request %d: sent %s, answered %s: not a new trace", i,
                     r->kind == MISSING ? "no traceparent" : r->header, tp->value);
        else
            ret = 0;
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hdrs);
    return ret;
}

struct client {
    int first, count, done;
    char error[512];
};

static void *client_main(void *arg)
{
    struct client *c = arg;
    CURL *h = hc_handle(CURL_TIMEOUT_MS);
    if (!h) {
        snprintf(c->error, sizeof c->error, "curl_easy_init failed");
        return NULL;
    }
    for (int i = c->first; i < c->first + c->count; i++) {
        if (fetch(h, i, c->error, sizeof c->error) != 0)
            break;
        c->done++;
    }
    curl_easy_cleanup(h);
    return NULL;
}

static double fire(void)
{
    struct client clients[CLIENTS];
    pthread_t th[CLIENTS];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int c = 0; c < CLIENTS; c++) {
        /* Interleaved, so every client sends every kind. */
        clients[c] = (struct client){.first = c * PER_CLIENT, .count = PER_CLIENT};
        assert_int_equal(pthread_create(&th[c], NULL, client_main, &clients[c]), 0);
    }
    for (int c = 0; c < CLIENTS; c++)
        pthread_join(th[c], NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    for (int c = 0; c < CLIENTS; c++)
        if (clients[c].done != clients[c].count)
            fail_msg("client %d: %s", c, clients[c].error);
    return (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
}

/* ---- the records ------------------------------------------------------------------ */

static const char *str(const json_t *rec, const char *key)
{
    return json_string_value(json_object_get(rec, key));
}

static void bad(const char *who, const json_t *rec, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

static void bad(const char *who, const json_t *rec, const char *fmt, ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    fail_msg("%s: %s\n  in record: %s", who, why, json_dumps(rec, JSON_COMPACT));
    abort();
}

static int request_of(const char *uid)
{
    return hc_request_of(uid, LOAD);
}

/* No string anywhere in v holds the invalid header, nor its trace-id. */
static void assert_nothing_of(const char *who, const json_t *rec, const json_t *v,
                              const struct req *r)
{
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (strstr(s, r->header) || strstr(s, r->sent_trace))
            bad(who, rec, "holds a part of the invalid header %s", r->header);
    } else if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x)
            assert_nothing_of(who, rec, x, r);
    }
}

static const char *const lifecycle[] = {"listening", "stopping", "stopped"};

/* The checks both services share; returns the request, or -1 for a
 * lifecycle record. */
static int common(const char *who, const json_t *rec, int *outside)
{
    const char *uid = str(rec, "user_id");
    if (!uid && !str(rec, "request_id")) {
        if (json_object_get(rec, "trace_id") || json_object_get(rec, "span_id"))
            bad(who, rec, "a trace outside any request");
        for (int l = 0; l < 3; l++)
            if (strcmp(str(rec, "msg"), lifecycle[l]) == 0) {
                outside[l]++;
                return -1;
            }
        bad(who, rec, "a record outside any request");
    }
    int i = request_of(uid);
    if (i < 0)
        bad(who, rec, "a user_id of no request");
    const struct req *r = &reqs[i];
    char rid[32], tid[32];
    snprintf(rid, sizeof rid, "req-%d", i);
    snprintf(tid, sizeof tid, "tid-%d", i);
    const char *trace = str(rec, "trace_id"), *span = str(rec, "span_id");
    const char *flags = str(rec, "trace_flags");
    if (!str(rec, "request_id") || strcmp(str(rec, "request_id"), rid) != 0 ||
        !str(rec, "tenant_id") || strcmp(str(rec, "tenant_id"), tid) != 0)
        bad(who, rec, "request %d runs with other ids", i);
    if (!trace || strcmp(trace, r->resp_trace) != 0)
        bad(who, rec, "request %d has trace_id %s, the caller answered %s", i,
            trace ? trace : "(none)", r->resp_trace);
    if (!flags || strcmp(flags, r->resp_flags) != 0)
        bad(who, rec, "request %d: trace_flags %s, expected %s", i, flags ? flags : "(none)",
            r->resp_flags);
    if (!span || strlen(span) != 16)
        bad(who, rec, "request %d: no span_id", i);
    if (r->kind == INVALID)
        assert_nothing_of(who, rec, rec, r);
    return i;
}

static void want_parent(const char *who, const json_t *rec, int i, const char *want)
{
    const json_t *p = json_object_get(rec, "parent_span_id");
    if (!p)
        bad(who, rec, "request %d: no parent_span_id field", i);
    if (!want ? !json_is_null(p) : !json_is_string(p) || strcmp(json_string_value(p), want) != 0)
        bad(who, rec, "request %d: parent_span_id should be %s", i, want ? want : "null");
}

static void check_caller(const char *path)
{
    static const char *const stage[] = {"request received", "order loaded", "part priced",
                                        "quote fetched", "request done"};
    static const int per[] = {1, 1, 3, 1, 1};
    int (*n)[5] = calloc(LOAD, sizeof *n), outside[3] = {0};
    assert_non_null(n);
    json_t *recs = ts_read_records(path);
    size_t k;
    json_t *rec;
    json_array_foreach(recs, k, rec) {
        int i = common("caller", rec, outside);
        if (i < 0)
            continue;
        struct req *r = &reqs[i];
        const char *msg = str(rec, "msg"), *span = str(rec, "span_id");
        int s = 0;
        while (s < 5 && strcmp(msg, stage[s]) != 0)
            s++;
        if (s == 5)
            bad("caller", rec, "not a record of any stage");
        n[i][s]++;
        if (s == 3) { /* the client span */
            if (strcmp(span, r->resp_span) == 0)
                bad("caller", rec, "request %d: the call has no span of its own", i);
            want_parent("caller", rec, i, r->resp_span);
            if (json_integer_value(json_object_get(rec, "status")) != 200)
                bad("caller", rec, "request %d: the callee did not answer 200", i);
            memcpy(r->client_span, span, 17);
            continue;
        }
        if (strcmp(span, r->resp_span) != 0)
            bad("caller", rec, "request %d: span %s, the request's is %s", i, span, r->resp_span);
        if (s == 0)
            want_parent("caller", rec, i, r->kind == VALID ? r->sent_parent : NULL);
    }
    for (int i = 0; i < LOAD; i++)
        for (int s = 0; s < 5; s++)
            if (n[i][s] != per[s])
                fail_msg("caller: request %d wrote %d \"%s\", expected %d", i, n[i][s], stage[s],
                         per[s]);
    for (int l = 0; l < 3; l++)
        if (outside[l] != 1)
            fail_msg("caller: %d \"%s\" records", outside[l], lifecycle[l]);
    assert_int_equal(json_array_size(recs), (size_t)LOAD * 7 + 3);
    json_decref(recs);
    free(n);
}

static void check_callee(const char *path)
{
    static const char *const stage[] = {"request received", "order loaded", "order priced",
                                        "request done"};
    int (*n)[4] = calloc(LOAD, sizeof *n), outside[3] = {0};
    assert_non_null(n);
    json_t *recs = ts_read_records(path);
    size_t k;
    json_t *rec;
    json_array_foreach(recs, k, rec) {
        int i = common("callee", rec, outside);
        if (i < 0)
            continue;
        struct req *r = &reqs[i];
        const char *msg = str(rec, "msg"), *span = str(rec, "span_id");
        int s = 0;
        while (s < 4 && strcmp(msg, stage[s]) != 0)
            s++;
        if (s == 4)
            bad("callee", rec, "not a record of any stage");
        n[i][s]++;
        if (strcmp(span, r->client_span) == 0 || strcmp(span, r->resp_span) == 0)
            bad("callee", rec, "request %d: the callee logs under the caller's span", i);
        if (!r->callee_span[0])
            memcpy(r->callee_span, span, 17);
        else if (strcmp(span, r->callee_span) != 0)
            bad("callee", rec, "request %d: spans %s and %s in one request", i, span,
                r->callee_span);
        if (s == 0) /* the callee's parent is the caller's client span */
            want_parent("callee", rec, i, r->client_span);
    }
    for (int i = 0; i < LOAD; i++)
        for (int s = 0; s < 4; s++)
            if (n[i][s] != 1)
                fail_msg("callee: request %d wrote %d \"%s\", expected 1", i, n[i][s], stage[s]);
    for (int l = 0; l < 3; l++)
        if (outside[l] != 1)
            fail_msg("callee: %d \"%s\" records", outside[l], lifecycle[l]);
    assert_int_equal(json_array_size(recs), (size_t)LOAD * 4 + 3);
    json_decref(recs);
    free(n);
}

/* ---- the tests ------------------------------------------------------------------- */

static void run(int async)
{
    char *caller_log = ts_temp_path(async ? "trace_caller_async.log" : "trace_caller.log");
    char *callee_log = ts_temp_path(async ? "trace_callee_async.log" : "trace_callee.log");
    ts_unlink(caller_log);
    ts_unlink(callee_log);
    plan();

    ts_server_start_ex(&callee, HTTP_EVLOOP_PATH, callee_log, START_TIMEOUT_MS, NULL, async);
    char quote_url[64];
    snprintf(quote_url, sizeof quote_url, "http://127.0.0.1:%u", callee.port);
    ts_server_start_ex(&caller, HTTP_THREADED_PATH, caller_log, START_TIMEOUT_MS, quote_url,
                       async);
    double secs = fire();
    ts_server_stop(&caller, STOP_TIMEOUT_MS);
    ts_server_stop(&callee, STOP_TIMEOUT_MS);

    check_caller(caller_log); /* first: it finds each request's client span */
    check_callee(callee_log);
    printf("%s: %d requests (%d with a valid traceparent, %d invalid, %d none) through two "
           "services in %.3f s; %d records checked\n",
           async ? "async" : "sync", LOAD, LOAD / 2, LOAD / 4, LOAD / 4, secs, LOAD * 11 + 6);
    fflush(stdout);
    ts_unlink(caller_log);
    ts_unlink(callee_log);
    free(caller_log);
    free(callee_log);
}

static void test_http_trace__sync(void **state)
{
    (void)state;
    run(0);
}

static void test_http_trace__async(void **state)
{
    (void)state;
    run(1);
}

static int kill_servers(void **state)
{
    (void)state;
    ts_server_kill(&caller);
    ts_server_kill(&callee);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_http_trace__sync, kill_servers),
        cmocka_unit_test_teardown(test_http_trace__async, kill_servers),
    };
    return cmocka_run_group_tests(tests, hc_curl_up, hc_curl_down);
}
