/* SPDX-License-Identifier: MIT */
/*
 * The OTLP sink against OpenTelemetry's own protocol code: a receiver
 * (tests/otlp_receiver/receiver.js, run with node) decodes every request
 * with the generated protobuf code of @opentelemetry/otlp-transformer and
 * writes what it got as JSON lines, which this test reads with jansson.
 *
 * Without node or the receiver's npm package the test is skipped (exit
 * status 77), unless the build requires everything (CTXLOG_REQUIRE_ALL:
 * CI), where it fails.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctxlog/ctxlog.h>
#include <ctxlog/otlp.h>

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support.h"

/* ---- the receiver ------------------------------------------------------------------ */

typedef struct receiver {
    pid_t pid;
    unsigned port;
    char *out;
    char base[64]; /* http://127.0.0.1:PORT */
} receiver;

static char node_bin[512];

/* Receivers running, killed at the end whatever failed. */
static pid_t live[16];

static void live_set(pid_t old, pid_t now)
{
    for (size_t i = 0; i < sizeof live / sizeof live[0]; i++)
        if (live[i] == old) {
            live[i] = now;
            return;
        }
}

static int find_node(void)
{
    const char *cands[] = {NODE_BIN, "/usr/bin/node", "/usr/bin/nodejs", "/usr/local/bin/node"};
    for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++) {
        if (cands[i][0] && access(cands[i], X_OK) == 0) {
            snprintf(node_bin, sizeof node_bin, "%s", cands[i]);
            return 0;
        }
    }
    return -1;
}

static int receiver_ready(void)
{
    char path[1024];
    snprintf(path, sizeof path,
             "%s/node_modules/@opentelemetry/otlp-transformer/build/src/generated/root.js",
             RECEIVER_DIR);
    return access(path, R_OK);
}

/* Start the receiver on `port` (0: a free one), writing to r->out. */
static void rx_start(receiver *r, unsigned port)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    char portarg[16];
    snprintf(portarg, sizeof portarg, "%u", port);
    char script[1024];
    snprintf(script, sizeof script, "%s/receiver.js", RECEIVER_DIR);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        execl(node_bin, node_bin, script, r->out, portarg, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    char line[64] = "";
    size_t n = 0;
    while (n + 1 < sizeof line) {
        ssize_t k = read(p[0], line + n, 1);
        if (k <= 0 || line[n] == '\n')
            break;
        n++;
    }
    line[n] = '\0';
    close(p[0]);
    unsigned got = 0;
    if (sscanf(line, "PORT %u", &got) != 1)
        fail_msg("the receiver did not start: '%s'", line);
    r->pid = pid;
    live_set(0, pid);
    r->port = got;
    snprintf(r->base, sizeof r->base, "http://127.0.0.1:%u", got);
}

static size_t collect(char *p, size_t size, size_t n, void *payload)
{
    json_t **acc = payload;
    const char *old = json_string_value(*acc);
    size_t ol = old ? strlen(old) : 0;
    char *buf = malloc(ol + size * n + 1);
    memcpy(buf, old ? old : "", ol);
    memcpy(buf + ol, p, size * n);
    buf[ol + size * n] = '\0';
    json_decref(*acc);
    *acc = json_string(buf);
    free(buf);
    return size * n;
}

/* A request to the receiver; returns the answer's body (a JSON string). */
static json_t *rx_http(receiver *r, const char *method, const char *path, const char *body)
{
    CURL *c = curl_easy_init();
    assert_non_null(c);
    char url[128];
    snprintf(url, sizeof url, "%s%s", r->base, path);
    json_t *acc = json_string("");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &acc);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK)
        fail_msg("receiver %s %s: %s", method, path, curl_easy_strerror(rc));
    return acc;
}

static void rx_control(receiver *r, const char *json)
{
    json_decref(rx_http(r, "POST", "/control", json));
}

static json_int_t rx_stat(receiver *r, const char *key)
{
    json_t *s = rx_http(r, "GET", "/stats", NULL);
    json_t *j = json_loads(json_string_value(s), 0, NULL);
    assert_non_null(j);
    json_int_t v = json_integer_value(json_object_get(j, key));
    json_decref(j);
    json_decref(s);
    return v;
}

/* Stop it gracefully (what is in flight is answered first). */
static void rx_stop(receiver *r)
{
    json_decref(rx_http(r, "POST", "/stop", ""));
    int st;
    assert_int_equal(waitpid(r->pid, &st, 0), r->pid);
    live_set(r->pid, 0);
    r->pid = 0;
}

static void rx_new(receiver *r, const char *name)
{
    memset(r, 0, sizeof *r);
    r->out = ts_temp_path(name);
    ts_unlink(r->out);
    rx_start(r, 0);
}

static void rx_free(receiver *r)
{
    if (r->pid)
        rx_stop(r);
    ts_unlink(r->out);
    free(r->out);
}

static json_t *rx_records(receiver *r)
{
    struct stat st;
    if (stat(r->out, &st) != 0)
        return json_array();
    return ts_read_records(r->out);
}

/* ---- the sink ----------------------------------------------------------------------- */

static log_sink *sink_to(receiver *r, log_otlp_options o)
{
    char url[128];
    snprintf(url, sizeof url, "%s/v1/logs", r->base);
    o.endpoint = url;
    if (!o.service_name)
        o.service_name = "otlp-test";
    if (!o.batch_delay_ms)
        o.batch_delay_ms = 20;
    if (!o.timeout_ms)
        o.timeout_ms = 20000;
    if (!o.retry_max_ms)
        o.retry_max_ms = 300;
    log_sink *s = NULL;
    assert_int_equal(log_sink_otlp(&s, &o), 0);
    assert_int_equal(log_logger_clear_sinks(NULL), 0);
    assert_int_equal(log_logger_add_sink(NULL, s), 0);
    log_level_set(LOG_LEVEL_TRACE);
    return s;
}

static void sink_done(log_sink *s)
{
    assert_int_equal(log_logger_clear_sinks(NULL), 0);
    log_sink_release(s); /* the last reference: closed, its thread joined */
}

/* ---- the records ------------------------------------------------------------------ */

static json_t *shared_obj, *shared_arr;

enum { PER_REQUEST = 50 };

/* One traced request's records: seq from `first`. */
static void log_request(int first, int n)
{
    char tp[CTX_TRACEPARENT_LEN + 1], rid[32];
    snprintf(tp, sizeof tp, "00-%08x%08x%016x-%016x-01", 0xabcu, (unsigned)first + 1, 7u,
             (unsigned)first + 3);
    snprintf(rid, sizeof rid, "req-%d", first);
    CTX_REQUEST_TRACED(rid, "user-7", "tenant-3", tp);
    log_logger *db = log_get("app.db");
    for (int i = 0; i < n; i++) {
        int64_t seq = first + i;
        const char *trace = ctx_get(CTX_TRACE_ID), *span = ctx_get(CTX_SPAN_ID);
        static const log_level levels[] = {LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN,
                                           LOG_LEVEL_ERROR, LOG_LEVEL_TRACE};
        log_level lvl = levels[seq % 5];
        const char *msg = seq % 10 == 0 ? "bad \xff utf-8" : "request work";
        log_to_kv(seq % 3 == 0 ? db : NULL, lvl, msg, LOG_I64("seq", seq), LOG_I64("neg", -seq),
                  LOG_F64("ratio", 0.25), LOG_BOOL("odd", seq & 1), LOG_STR("tp_trace", trace),
                  LOG_STR("tp_span", span), LOG_JSON("obj", shared_obj),
                  LOG_JSON("arr", shared_arr), LOG_STR("request_id", "field-dup"),
                  LOG_U64("big", UINT64_MAX), LOG_STR("bad", "\xc3\x28"));
    }
}

struct worker {
    int first, n;
};

static void *worker(void *p)
{
    const struct worker *w = p;
    for (int i = 0; i < w->n; i += PER_REQUEST)
        log_request(w->first + i, w->n - i < PER_REQUEST ? w->n - i : PER_REQUEST);
    return NULL;
}

/* n records from `threads` threads, seq from `first`. */
static void log_many(int first, int n, int threads)
{
    pthread_t t[16];
    struct worker w[16];
    assert_true(threads <= 16);
    for (int i = 0; i < threads; i++) {
        w[i] = (struct worker){first + i * (n / threads), n / threads};
        assert_int_equal(pthread_create(&t[i], NULL, worker, &w[i]), 0);
    }
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
}

static const char *sv(json_t *attrs, const char *key, const char *type)
{
    return json_string_value(json_object_get(json_object_get(attrs, key), type));
}

/* Check every record of the workload is there once and whole; returns how
 * many of seq [first, first + n) arrived (each at most once). Other
 * records (the drop reports) go to *others. */
static int check_records(json_t *recs, int first, int n, const char *encoding, json_t *others)
{
    unsigned char *seen = calloc((size_t)n, 1);
    int got = 0;
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r) {
        json_t *a = json_object_get(r, "attrs");
        const char *seqs = sv(a, "seq", "i");
        if (!seqs) {
            if (others)
                json_array_append(others, r);
            continue;
        }
        long long seq = strtoll(seqs, NULL, 10);
        if (seq < first || seq >= first + n)
            continue;
        assert_int_equal(seen[seq - first], 0); /* nothing twice */
        seen[seq - first] = 1;
        got++;
        assert_string_equal(json_string_value(json_object_get(r, "encoding")), encoding);
        assert_int_equal(json_array_size(json_object_get(r, "duplicateKeys")), 0);
        static const int numbers[] = {5, 9, 13, 17, 1};
        static const char *const texts[] = {"DEBUG", "INFO", "WARN", "ERROR", "TRACE"};
        assert_int_equal(json_integer_value(json_object_get(r, "severityNumber")), numbers[seq % 5]);
        assert_string_equal(json_string_value(json_object_get(r, "severityText")), texts[seq % 5]);
        assert_string_equal(sv(r, "body", "s"), seq % 10 == 0 ? "bad \xef\xbf\xbd utf-8" : "request work");
        assert_string_equal(json_string_value(json_object_get(r, "scope")), seq % 3 == 0 ? "app.db" : "root");
        json_t *res = json_object_get(r, "resource");
        assert_string_equal(sv(res, "service.name", "s"), "otlp-test");
        /* trace and span ids as bytes, the flags from the traceparent */
        assert_string_equal(json_string_value(json_object_get(r, "traceId")), sv(a, "tp_trace", "s"));
        assert_string_equal(json_string_value(json_object_get(r, "spanId")), sv(a, "tp_span", "s"));
        assert_int_equal(strlen(sv(a, "tp_trace", "s")), 32);
        assert_int_equal(json_integer_value(json_object_get(r, "flags")), 1);
        assert_null(json_object_get(a, "trace_id"));
        assert_null(json_object_get(a, "span_id"));
        assert_null(json_object_get(a, "trace_flags"));
        assert_true(strtoull(json_string_value(json_object_get(r, "time")), NULL, 10) > 1600000000ull * 1000000000ull);
        assert_true(strtoull(json_string_value(json_object_get(r, "observed")), NULL, 10) >=
                    strtoull(json_string_value(json_object_get(r, "time")), NULL, 10));
        /* context variables and fields, each with its type */
        assert_true(strncmp(sv(a, "request_id", "s"), "req-", 4) == 0);
        assert_string_equal(sv(a, "user_id", "s"), "user-7");
        assert_string_equal(sv(a, "tenant_id", "s"), "tenant-3");
        assert_string_equal(sv(a, "fields.request_id", "s"), "field-dup"); /* renamed, kept */
        char neg[32];
        snprintf(neg, sizeof neg, "%lld", -seq);
        assert_string_equal(sv(a, "neg", "i"), neg);
        assert_true(json_real_value(json_object_get(json_object_get(a, "ratio"), "d")) == 0.25);
        assert_true(json_is_boolean(json_object_get(json_object_get(a, "odd"), "b")));
        assert_int_equal(json_is_true(json_object_get(json_object_get(a, "odd"), "b")), (int)(seq & 1));
        assert_string_equal(sv(a, "big", "s"), "18446744073709551615");
        assert_string_equal(sv(a, "bad", "s"), "\xef\xbf\xbd(");
        json_t *kv = json_object_get(json_object_get(a, "obj"), "kv");
        assert_non_null(kv);
        assert_string_equal(sv(kv, "a", "i"), "1");
        assert_string_equal(sv(kv, "b", "s"), "two");
        json_t *c = json_object_get(json_object_get(kv, "c"), "a");
        assert_int_equal(json_array_size(c), 2);
        assert_string_equal(json_string_value(json_object_get(json_array_get(c, 0), "i")), "1");
        assert_string_equal(json_string_value(json_object_get(json_array_get(c, 1), "s")), "x");
        assert_true(json_is_true(json_object_get(json_object_get(json_object_get(json_object_get(kv, "d"), "kv"), "e"), "b")));
        json_t *arr = json_object_get(json_object_get(a, "arr"), "a");
        assert_int_equal(json_array_size(arr), 3);
        assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 0), "i")), "1");
        assert_true(json_real_value(json_object_get(json_array_get(arr, 1), "d")) == 2.5);
        assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 2), "s")), "z");
    }
    free(seen);
    return got;
}

/* The drop reports among `others`: the sum of their "dropped". */
static long long dropped_reported(json_t *others)
{
    long long sum = 0;
    size_t i;
    json_t *r;
    json_array_foreach(others, i, r) {
        const char *body = sv(r, "body", "s");
        if (body && strcmp(body, "otlp: records dropped") == 0) {
            assert_string_equal(json_string_value(json_object_get(r, "scope")), "ctxlog");
            assert_int_equal(json_integer_value(json_object_get(r, "severityNumber")), 13);
            sum += strtoll(sv(json_object_get(r, "attrs"), "dropped", "i"), NULL, 10);
        }
    }
    return sum;
}

/* ---- the cases ---------------------------------------------------------------------- */

enum { THREADS = 8 };

/* The main workload's size: 40,000 records, or CTXLOG_STRESS_RECORDS
 * (fewer under valgrind), whole requests of every thread. */
static int many(void)
{
    const char *e = getenv("CTXLOG_STRESS_RECORDS");
    int n = e ? atoi(e) : 40000;
    int unit = THREADS * PER_REQUEST;
    n = n / unit * unit;
    return n < unit ? unit : n;
}

/* Tens of thousands of records from several threads in traced requests:
 * every one arrives once, whole, with its types. */
static void test_otlp__records_arrive_once_whole(void **state)
{
    (void)state;
    receiver r;
    rx_new(&r, "otlp_many.jsonl");
    uint64_t dropped0 = log_dropped_count();
    const int MANY = many();
    log_sink *s = sink_to(&r, (log_otlp_options){.queue_max = (size_t)MANY + 1000});
    log_many(0, MANY, THREADS);
    assert_int_equal(log_flush(), 0);
    assert_int_equal(log_dropped_count(), dropped0);
    sink_done(s);
    json_t *recs = rx_records(&r);
    assert_int_equal(check_records(recs, 0, MANY, "protobuf", NULL), MANY);
    assert_int_equal(json_array_size(recs), MANY);
    printf("# records: logged %d, received %d, requests %" PRId64 "\n", MANY,
           (int)json_array_size(recs), (int64_t)rx_stat(&r, "requests"));
    json_decref(recs);
    rx_free(&r);
}

/* The JSON encoding (decoded by the same generated code), gzip on. */
static void test_otlp__json_encoding(void **state)
{
    (void)state;
    receiver r;
    rx_new(&r, "otlp_json.jsonl");
    log_otlp_options o = {.encoding = LOG_OTLP_JSON, .queue_max = 20000};
#ifdef OTLP_HAVE_GZIP
    o.compression = LOG_OTLP_COMPRESSION_GZIP;
#endif
    log_sink *s = sink_to(&r, o);
    log_many(0, 10000, 4);
    assert_int_equal(log_flush(), 0);
    sink_done(s);
    json_t *recs = rx_records(&r);
    assert_int_equal(check_records(recs, 0, 10000, "json", NULL), 10000);
    assert_int_equal(rx_stat(&r, "bad"), 0);
    assert_true(rx_stat(&r, "json") > 0);
    assert_int_equal(rx_stat(&r, "protobuf"), 0);
    printf("# json: logged 10000, received %d, requests %" PRId64 ", gzip %" PRId64 "\n",
           (int)json_array_size(recs), (int64_t)rx_stat(&r, "json"), (int64_t)rx_stat(&r, "gzip"));
    json_decref(recs);
    rx_free(&r);
}

/* 503 with Retry-After for a while: nothing lost, nothing twice. */
static void test_otlp__503_retry_after_loses_nothing(void **state)
{
    (void)state;
    receiver r;
    rx_new(&r, "otlp_503.jsonl");
    uint64_t dropped0 = log_dropped_count();
    log_sink *s = sink_to(&r, (log_otlp_options){.queue_max = 20000});
    rx_control(&r, "{\"mode\":\"503\",\"count\":3,\"retry_after\":1}");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    log_many(0, 5000, 4);
    assert_int_equal(log_flush(), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(log_dropped_count(), dropped0);
    sink_done(s);
    json_t *recs = rx_records(&r);
    assert_int_equal(check_records(recs, 0, 5000, "protobuf", NULL), 5000);
    assert_int_equal(json_array_size(recs), 5000);
    assert_int_equal(rx_stat(&r, "answered503"), 3);
    /* Retry-After: 1 honoured three times: at least about 3 s. */
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_true(secs >= 2.9);
    printf("# 503: logged 5000, answered 503 %" PRId64 " times, received %d, dropped 0, %.1f s\n",
           (int64_t)rx_stat(&r, "answered503"), (int)json_array_size(recs), secs);
    json_decref(recs);
    rx_free(&r);
}

/* A 400 loses its batch, counted exactly; the next delivery says so. */
static void test_otlp__400_is_counted_not_retried(void **state)
{
    (void)state;
    receiver r;
    rx_new(&r, "otlp_400.jsonl");
    uint64_t dropped0 = log_dropped_count();
    /* One batch for the 40, sent by the flush however slow the machine
     * (a batch that filled over two requests would split the 400's). */
    log_sink *s = sink_to(&r, (log_otlp_options){.queue_max = 20000, .batch_delay_ms = 3600000});
    rx_control(&r, "{\"mode\":\"400\",\"count\":1}");
    log_request(0, 40);
    assert_int_equal(log_flush(), 0);
    json_int_t rejected = rx_stat(&r, "rejected_records");
    assert_int_equal(rejected, 40);
    assert_int_equal(log_dropped_count() - dropped0, 40);
    log_request(100, 10);
    assert_int_equal(log_flush(), 0);
    sink_done(s);
    json_t *recs = rx_records(&r), *others = json_array();
    assert_int_equal(check_records(recs, 100, 10, "protobuf", others), 10);
    assert_int_equal(check_records(recs, 0, 40, "protobuf", NULL), 0);
    assert_int_equal(dropped_reported(others), 40);
    assert_int_equal(rx_stat(&r, "answered400"), 1);
    printf("# 400: logged 50, rejected %d (counted %d), received %d + drop report\n",
           (int)rejected, (int)(log_dropped_count() - dropped0), check_records(recs, 100, 10, "protobuf", NULL));
    json_decref(others);
    json_decref(recs);
    rx_free(&r);
}

/* A partial success (200 with rejected_log_records) is counted exactly, in
 * both encodings. */
static void partial_success(log_otlp_encoding enc)
{
    const char *name = enc == LOG_OTLP_JSON ? "json" : "protobuf";
    receiver r;
    rx_new(&r, "otlp_partial.jsonl");
    uint64_t dropped0 = log_dropped_count();
    log_sink *s = sink_to(&r, (log_otlp_options){.encoding = enc, .queue_max = 1000});
    rx_control(&r, "{\"mode\":\"partial\",\"count\":1}");
    log_request(0, 30);
    assert_int_equal(log_flush(), 0);
    assert_int_equal(log_dropped_count() - dropped0, 1);
    log_request(100, 30);
    assert_int_equal(log_flush(), 0);
    sink_done(s);
    assert_int_equal(rx_stat(&r, "partial"), 1);
    json_t *recs = rx_records(&r), *others = json_array();
    int got = check_records(recs, 0, 30, name, others) + check_records(recs, 100, 30, name, NULL);
    long long counted = (long long)(log_dropped_count() - dropped0);
    assert_int_equal(counted, rx_stat(&r, "rejected_records"));
    assert_int_equal(got + counted, 60);
    assert_int_equal(dropped_reported(others), counted);
    printf("# partial success (%s): logged 60, received %d + rejected and counted %lld, "
           "reported %lld\n", name, got, counted, dropped_reported(others));
    json_decref(others);
    json_decref(recs);
    rx_free(&r);
}

static void test_otlp__partial_success_is_counted(void **state)
{
    (void)state;
    partial_success(LOG_OTLP_PROTOBUF);
    partial_success(LOG_OTLP_JSON);
}

/* The receiver stops and starts again: received + counted = logged,
 * nothing twice, and a record says how many were lost. */
static void test_otlp__receiver_restart(void **state)
{
    (void)state;
    receiver r;
    rx_new(&r, "otlp_restart.jsonl");
    uint64_t dropped0 = log_dropped_count();
    log_sink *s = sink_to(&r, (log_otlp_options){.queue_max = 3000, .batch_max = 200});
    log_many(0, 2000, 4);
    assert_int_equal(log_flush(), 0);
    assert_int_equal(log_dropped_count(), dropped0);
    unsigned port = r.port;
    rx_stop(&r);
    /* Logged while nobody listens: the queue keeps 3000 and the batch
     * being retried, the rest are lost and counted. */
    log_many(2000, 8000, 4);
    struct timespec pause = {0, 300 * 1000 * 1000};
    nanosleep(&pause, NULL);
    rx_start(&r, port);
    assert_int_equal(log_flush(), 0);
    log_request(20000, 10); /* after the outage */
    assert_int_equal(log_flush(), 0);
    sink_done(s);
    json_t *recs = rx_records(&r), *others = json_array();
    int before = check_records(recs, 0, 2000, "protobuf", NULL);
    int during = check_records(recs, 2000, 8000, "protobuf", others);
    int after = check_records(recs, 20000, 10, "protobuf", NULL);
    long long counted = (long long)(log_dropped_count() - dropped0);
    assert_int_equal(before, 2000);
    assert_int_equal(after, 10);
    assert_int_equal(during + counted, 8000);
    assert_true(counted > 0);
    assert_int_equal(dropped_reported(others), counted);
    printf("# restart: logged 8000 while down, received %d + counted %lld = %lld, reported %lld\n",
           during, counted, during + counted, dropped_reported(others));
    json_decref(others);
    json_decref(recs);
    rx_free(&r);
}

/* A slow receiver does not slow the logging thread: all the records were
 * logged while the receiver had got only a few of them. */
static void test_otlp__slow_receiver_not_on_logging_thread(void **state)
{
    (void)state;
    receiver r;
    rx_new(&r, "otlp_slow.jsonl");
    uint64_t dropped0 = log_dropped_count();
    log_sink *s = sink_to(&r, (log_otlp_options){.queue_max = 20000, .batch_max = 100});
    rx_control(&r, "{\"mode\":\"slow\",\"delay_ms\":1000}");
    log_many(0, 10000, 1);
    json_int_t received_when_logged = rx_stat(&r, "records");
    /* One request a second: the logging thread went through all 10,000
     * while a few hundred at most were delivered. */
    assert_true(received_when_logged < 10000 / 2);
    rx_control(&r, "{\"mode\":\"ok\"}");
    assert_int_equal(log_flush(), 0);
    assert_int_equal(log_dropped_count(), dropped0);
    sink_done(s);
    json_t *recs = rx_records(&r);
    assert_int_equal(check_records(recs, 0, 10000, "protobuf", NULL), 10000);
    printf("# slow: logged 10000 while the receiver had %d; then received %d\n",
           (int)received_when_logged, (int)json_array_size(recs));
    json_decref(recs);
    rx_free(&r);
}

/* LeakSanitizer cannot stop a forked child's threads (it finds the
 * parent's in its list), so what the child's sender thread holds at exit
 * would be reported as lost. Registered before the library's own exit
 * handler, this runs after it (the records are delivered by then) and
 * ends a child before the leak check; the parent is checked as usual. */
/* The fork test's child starts the sink's sender thread: allowed. */
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
    return "die_after_fork=0";
}

static pid_t parent_pid;
static void child_skips_leak_check(void)
{
    if (getpid() != parent_pid)
        _exit(0);
}

/* After fork() the child sends its own records once, and none of the
 * parent's; the child's exit delivers what it logged. */
static void test_otlp__fork_child_sends_its_own(void **state)
{
    (void)state;
    receiver r;
    rx_new(&r, "otlp_fork.jsonl");
    log_sink *s = sink_to(&r, (log_otlp_options){.queue_max = 20000});
    log_request(0, 500);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* No flush: the exit (log_shutdown at exit) delivers them. */
        log_request(1000, 200);
        exit(0);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_int_equal(log_flush(), 0);
    sink_done(s);
    json_t *recs = rx_records(&r);
    assert_int_equal(check_records(recs, 0, 500, "protobuf", NULL), 500);
    assert_int_equal(check_records(recs, 1000, 200, "protobuf", NULL), 200);
    assert_int_equal(json_array_size(recs), 700);
    json_decref(recs);
    rx_free(&r);
}

/* "type": "otlp" in a configuration file, JSON encoding, in async mode. */
static void test_otlp__config_file_async(void **state)
{
    (void)state;
    receiver r;
    rx_new(&r, "otlp_config.jsonl");
    char *path = ts_temp_path("otlp.json");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"sinks\": {\"collector\": {\"type\": \"otlp\",\n"
            "  \"endpoint\": \"%s/v1/logs\", \"encoding\": \"json\",\n"
            "  \"service_name\": \"otlp-test\", \"level\": \"debug\",\n"
            "  \"resource_attributes\": {\"deployment.environment\": \"test,1\"},\n"
            "  \"headers\": {\"X-Test\": \"yes\"},\n"
            "  \"batch_max\": 100, \"batch_delay_ms\": 20, \"queue_max\": 10000}},\n"
            " \"loggers\": {\"root\": {\"level\": \"trace\", \"sinks\": [\"collector\"]}},\n"
            " \"async\": {\"enabled\": true}}\n",
            r.base);
    fclose(f);
    assert_int_equal(log_otlp_config_register(), 0);
    log_config_error err;
    int rc = log_config_load(path, &err);
    if (rc)
        fail_msg("%s:%d %s: %s", err.file, err.line, err.key, err.text);
    uint64_t dropped0 = log_dropped_count();
    log_many(0, 2000, 4); /* the trace records (1 in 5) are below the sink's level */
    assert_int_equal(log_flush(), 0);
    assert_int_equal(log_dropped_count(), dropped0);
    json_t *recs = rx_records(&r);
    assert_int_equal(json_array_size(recs), 1600);
    size_t i;
    json_t *rec;
    json_array_foreach(recs, i, rec) {
        json_t *res = json_object_get(rec, "resource");
        assert_string_equal(sv(res, "deployment.environment", "s"), "test,1");
        assert_int_not_equal(json_integer_value(json_object_get(rec, "severityNumber")), 1);
        assert_string_equal(json_string_value(json_object_get(rec, "encoding")), "json");
    }
    json_decref(recs);

    /* A bad value names its key; the configuration in force stays. */
    f = fopen(path, "w");
    fprintf(f, "{\"sinks\": {\"c\": {\"type\": \"otlp\", \"batch_max\": 0}},\n"
               " \"loggers\": {\"root\": {\"sinks\": [\"c\"]}}}\n");
    fclose(f);
    assert_int_equal(log_config_load(path, &err), CTXLOG_ECONFIG);
    assert_string_equal(err.key, "sinks.c.batch_max");
    f = fopen(path, "w");
    fprintf(f, "{\"sinks\": {\"c\": {\"type\": \"otlp\", \"format\": \"console\"}},\n"
               " \"loggers\": {\"root\": {\"sinks\": [\"c\"]}}}\n");
    fclose(f);
    assert_int_equal(log_config_load(path, &err), CTXLOG_ECONFIG);
    assert_string_equal(err.key, "sinks.c.format");

    assert_int_equal(log_logger_clear_sinks(NULL), 0);
    log_shutdown(); /* the async writer and the sink go */
    ts_unlink(path);
    free(path);
    rx_free(&r);
}

/* NULL options: the OTEL_* environment decides. */
static void test_otlp__environment(void **state)
{
    (void)state;
    receiver r;
    rx_new(&r, "otlp_env.jsonl");
    setenv("OTEL_EXPORTER_OTLP_ENDPOINT", r.base, 1); /* + /v1/logs */
    setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json", 1);
    setenv("OTEL_SERVICE_NAME", "env-service", 1);
    setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name=ignored, team = a%2Cb ,bad=\xff", 1);
    setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-one=1,x-two=a%3Db", 1);
    setenv("OTEL_EXPORTER_OTLP_LOGS_HEADERS", "x-two=logs", 1);
    log_sink *s = NULL;
    assert_int_equal(log_sink_otlp(&s, NULL), 0);
    unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT");
    unsetenv("OTEL_EXPORTER_OTLP_PROTOCOL");
    unsetenv("OTEL_SERVICE_NAME");
    unsetenv("OTEL_RESOURCE_ATTRIBUTES");
    unsetenv("OTEL_EXPORTER_OTLP_HEADERS");
    unsetenv("OTEL_EXPORTER_OTLP_LOGS_HEADERS");
    assert_int_equal(log_logger_clear_sinks(NULL), 0);
    assert_int_equal(log_logger_add_sink(NULL, s), 0);
    log_info_kv("from the environment", LOG_STR("k", "v"));
    assert_int_equal(log_flush(), 0);
    sink_done(s);
    json_t *recs = rx_records(&r);
    assert_int_equal(json_array_size(recs), 1);
    json_t *rec = json_array_get(recs, 0);
    assert_string_equal(json_string_value(json_object_get(rec, "encoding")), "json");
    json_t *res = json_object_get(rec, "resource");
    assert_string_equal(sv(res, "service.name", "s"), "env-service");
    assert_string_equal(sv(res, "team", "s"), "a,b");
    assert_string_equal(sv(res, "bad", "s"), "?");
    json_t *h = json_object_get(rec, "headers");
    assert_string_equal(json_string_value(json_object_get(h, "x-one")), "1");
    assert_string_equal(json_string_value(json_object_get(h, "x-two")), "logs");
    assert_string_equal(sv(rec, "body", "s"), "from the environment");
    assert_string_equal(json_string_value(json_object_get(rec, "traceId")), "");
    json_decref(recs);
    rx_free(&r);
}

static void test_otlp__bad_options(void **state)
{
    (void)state;
    log_sink *s = (log_sink *)1;
    assert_int_equal(log_sink_otlp(NULL, NULL), CTXLOG_EINVAL);
    log_otlp_options o = {.endpoint = "ftp://x/v1/logs"};
    assert_int_equal(log_sink_otlp(&s, &o), CTXLOG_EINVAL);
    assert_null(s);
    o = (log_otlp_options){.timeout_ms = -1};
    assert_int_equal(log_sink_otlp(&s, &o), CTXLOG_EINVAL);
    o = (log_otlp_options){.encoding = (log_otlp_encoding)7};
    assert_int_equal(log_sink_otlp(&s, &o), CTXLOG_EINVAL);
}

int main(void)
{
    parent_pid = getpid();
    atexit(child_skips_leak_check); /* before any record: runs after the library's */
    if (find_node() != 0 || receiver_ready() != 0) {
        fprintf(stderr, "test_otlp: node or the receiver's npm package (npm ci in %s) is "
                        "missing\n", RECEIVER_DIR);
        return CTXLOG_REQUIRE_ALL_TESTS ? 1 : 77;
    }
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    shared_obj = json_pack("{s:i, s:s, s:[i,s], s:{s:b}}", "a", 1, "b", "two", "c", 1, "x", "d",
                           "e", 1);
    shared_arr = json_pack("[i,f,s]", 1, 2.5, "z");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_otlp__bad_options),
        cmocka_unit_test(test_otlp__records_arrive_once_whole),
        cmocka_unit_test(test_otlp__json_encoding),
        cmocka_unit_test(test_otlp__503_retry_after_loses_nothing),
        cmocka_unit_test(test_otlp__400_is_counted_not_retried),
        cmocka_unit_test(test_otlp__partial_success_is_counted),
        cmocka_unit_test(test_otlp__receiver_restart),
        cmocka_unit_test(test_otlp__slow_receiver_not_on_logging_thread),
        cmocka_unit_test(test_otlp__fork_child_sends_its_own),
        cmocka_unit_test(test_otlp__config_file_async),
        cmocka_unit_test(test_otlp__environment),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    for (size_t i = 0; i < sizeof live / sizeof live[0]; i++)
        if (live[i] > 0) {
            kill(live[i], SIGKILL);
            waitpid(live[i], NULL, 0);
        }
    json_decref(shared_obj);
    json_decref(shared_arr);
    return rc;
}
