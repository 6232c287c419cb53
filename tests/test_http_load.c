/* SPDX-License-Identifier: MIT */
/*
 * The two HTTP examples under load, as real processes. For each server:
 * 16 client threads (libcurl, one easy handle each, kept alive) send 2,048
 * requests, each with its own X-Request-ID, X-User-ID and X-Tenant-ID, and
 * check the X-Request-ID the response echoes; then a few requests whose
 * X-Request-ID is malformed or missing. After SIGTERM, every line the server
 * logged is parsed with jansson (duplicate keys rejected) and checked:
 *   - a record of a request carries exactly that request's three ids (the
 *     request is found by its user id, unique per request): no record
 *     carries an id of another request;
 *   - every request wrote exactly its expected records, stage by stage (the
 *     stages are listed in each example's header comment);
 *   - a malformed or missing id was replaced by a fresh UUIDv7, which is what
 *     the response echoed and what every record of that request carries: the
 *     raw bytes were never logged;
 *   - outside requests there are only "listening", "stopping" and "stopped",
 *     once each and without ids: the server shut down cleanly.
 * Prints each server's requests/s (wall time of the 2,048 requests) and the
 * number of records checked.
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

#include "http_client.h"
#include "http_server_proc.h"
#include "support.h"

#define CLIENTS 16
#define PER_CLIENT 128 /* 16 x 128 = 2,048 requests per server */
#define LOAD (CLIENTS * PER_CLIENT)
#define START_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS 15000
#define CURL_TIMEOUT_MS 10000
#define ID_CAP 160 /* room for any echo we compare: the longest sent id is 20 */
#define STAGES_MAX 4

/* ---- what each server is expected to log ------------------------------------ */

struct server_spec {
    const char *name;
    const char *path;
    int nstages;
    const char *stage[STAGES_MAX]; /* "msg" of each stage */
    int per_stage[STAGES_MAX];     /* records of that stage per request */
    int parts;                     /* records with "part": 0 .. parts-1, once each */
};

static const struct server_spec threaded = {
    .name = "http_threaded",
    .path = HTTP_THREADED_PATH,
    .nstages = 4,
    .stage = {"request received", "order loaded", "part priced", "request done"},
    .per_stage = {1, 1, 3, 1},
    .parts = 3,
};

static const struct server_spec evloop = {
    .name = "http_evloop",
    .path = HTTP_EVLOOP_PATH,
    .nstages = 4,
    .stage = {"request received", "order loaded", "order priced", "request done"},
    .per_stage = {1, 1, 1, 1},
    .parts = 0,
};

static const char *const lifecycle[] = {"listening", "stopping", "stopped"};
#define NLIFECYCLE (sizeof lifecycle / sizeof lifecycle[0])

/* ---- request ids that must never be logged as they are ------------------------- */

static char long_id[301]; /* filled with 300 'r' */

static const struct odd_id {
    const char *what;
    const char *raw; /* NULL: no X-Request-ID header at all */
} odd_ids[] = {
    {"a control character", "abc\x01" "def"},
    {"a tab", "abc\tdef"},
    {"DEL", "abc\x7f" "def"},
    {"a C1 control (U+0085)", "abc\xc2\x85" "def"},
    {"invalid UTF-8", "abc\xc3\x28" "def"},
    {"bytes never in UTF-8", "\xff\xfe" "id"},
    {"300 bytes", long_id},
    {"no header", NULL},
};
#define NODD ((int)(sizeof odd_ids / sizeof odd_ids[0]))
#define TOTAL (LOAD + NODD)

/* Request i is GET /orders/i with X-User-ID uid-i and X-Tenant-ID tid-i;
 * the request id it is expected to run under is rid[i]: req-i for the load,
 * the UUIDv7 the server echoed for the odd ones. */
static char (*rid)[ID_CAP];
static unsigned short port;
static ts_server server;

/* ---- the client side ------------------------------------------------------------- */

/* GET /orders/i with request i's user and tenant ids and raw_rid as
 * X-Request-ID (none if NULL); the X-Request-ID of the response goes to
 * echo. Returns 0, or -1 with the reason in err. */
static int fetch(CURL *h, int i, const char *raw_rid, char echo[ID_CAP], char *err, size_t err_size)
{
    char url[64], line[512];
    struct curl_slist *hdrs = NULL;
    int oom = 0;
    if (raw_rid) {
        snprintf(line, sizeof line, "X-Request-ID: %s", raw_rid);
        hdrs = hc_add_header(hdrs, line, &oom);
    }
    snprintf(line, sizeof line, "X-User-ID: uid-%d", i);
    hdrs = hc_add_header(hdrs, line, &oom);
    snprintf(line, sizeof line, "X-Tenant-ID: tid-%d", i);
    hdrs = hc_add_header(hdrs, line, &oom);
    if (oom) {
        curl_slist_free_all(hdrs);
        snprintf(err, err_size, "request %d: out of memory", i);
        return -1;
    }

    snprintf(url, sizeof url, "http://127.0.0.1:%u/orders/%d", port, i);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    struct curl_header *echoed;
    int ret = -1;
    if (rc != CURLE_OK)
        snprintf(err, err_size, "request %d: %s", i, curl_easy_strerror(rc));
    else if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status), status != 200)
        snprintf(err, err_size, "request %d: HTTP status %ld", i, status);
    else if (curl_easy_header(h, "X-Request-ID", 0, CURLH_HEADER, -1, &echoed) != CURLHE_OK)
        snprintf(err, err_size, "request %d: no X-Request-ID in the response", i);
    else if (echoed->amount != 1)
        snprintf(err, err_size, "request %d: %zu X-Request-ID headers", i, echoed->amount);
    else if (snprintf(echo, ID_CAP, "%s", echoed->value) >= ID_CAP)
        snprintf(err, err_size, "request %d: echoed X-Request-ID too long", i);
    else
        ret = 0;
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hdrs);
    return ret;
}

struct client {
    int first, count;
    int done;          /* requests answered and checked */
    char error[512];   /* the first failure; a client stops at it */
};

/* cmocka's assertions are for the main thread: a client records its first
 * failure and stops, so a hung server costs one curl timeout, not 128. */
static void *client_main(void *arg)
{
    struct client *c = arg;
    CURL *h = hc_handle(CURL_TIMEOUT_MS);
    if (!h) {
        snprintf(c->error, sizeof c->error, "curl_easy_init failed");
        return NULL;
    }
    for (int i = c->first; i < c->first + c->count; i++) {
        char echo[ID_CAP];
        if (fetch(h, i, rid[i], echo, c->error, sizeof c->error) != 0)
            break;
        if (strcmp(echo, rid[i]) != 0) {
            snprintf(c->error, sizeof c->error, "request %d: sent X-Request-ID %s, echoed %s",
                     i, rid[i], echo);
            break;
        }
        c->done++;
    }
    curl_easy_cleanup(h);
    return NULL;
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Requests 0 .. LOAD-1 from CLIENTS threads at once. Returns the wall time. */
static double fire_load(void)
{
    struct client clients[CLIENTS];
    pthread_t th[CLIENTS];
    for (int i = 0; i < LOAD; i++)
        snprintf(rid[i], ID_CAP, "req-%d", i);

    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int c = 0; c < CLIENTS; c++) {
        clients[c] = (struct client){.first = c * PER_CLIENT, .count = PER_CLIENT};
        assert_int_equal(pthread_create(&th[c], NULL, client_main, &clients[c]), 0);
    }
    for (int c = 0; c < CLIENTS; c++)
        pthread_join(th[c], NULL);
    double secs = seconds_since(&t0);

    for (int c = 0; c < CLIENTS; c++)
        if (clients[c].done != clients[c].count)
            fail_msg("client %d: %s", c, clients[c].error);
    return secs;
}

static int is_uuid7(const char *s)
{
    if (strlen(s) != 36)
        return 0;
    for (int k = 0; k < 36; k++) {
        if (k == 8 || k == 13 || k == 18 || k == 23) {
            if (s[k] != '-')
                return 0;
        } else if (!strchr("0123456789abcdef", s[k])) {
            return 0;
        }
    }
    return s[14] == '7' && strchr("89ab", s[19]) != NULL;
}

/* Requests LOAD .. TOTAL-1, one after the other: each must be answered under
 * a fresh UUIDv7, which becomes the id its records must carry. */
static void fire_odd(void)
{
    memset(long_id, 'r', sizeof long_id - 1);
    CURL *h = hc_handle(CURL_TIMEOUT_MS);
    assert_non_null(h);
    for (int k = 0; k < NODD; k++) {
        int i = LOAD + k;
        char echo[ID_CAP], err[512];
        if (fetch(h, i, odd_ids[k].raw, echo, err, sizeof err) != 0)
            fail_msg("X-Request-ID with %s: %s", odd_ids[k].what, err);
        if (!is_uuid7(echo))
            fail_msg("X-Request-ID with %s: the response echoed \"%s\", not a fresh UUIDv7",
                     odd_ids[k].what, echo);
        for (int j = LOAD; j < i; j++)
            if (strcmp(rid[j], echo) == 0)
                fail_msg("X-Request-ID with %s: UUID %s was already used", odd_ids[k].what, echo);
        memcpy(rid[i], echo, ID_CAP);
    }
    curl_easy_cleanup(h);
}

/* ---- the records ------------------------------------------------------------------ */

static const char *str(json_t *rec, const char *key)
{
    return json_string_value(json_object_get(rec, key));
}

/* The request a record belongs to, from its user id; -1 if none. */
static int request_of(const char *uid)
{
    return hc_request_of(uid, TOTAL);
}

static int index_of(const char *const *names, int n, const char *name)
{
    for (int k = 0; name && k < n; k++)
        if (strcmp(names[k], name) == 0)
            return k;
    return -1;
}

static void bad_record(const struct server_spec *spec, json_t *rec, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

static void bad_record(const struct server_spec *spec, json_t *rec, const char *fmt, ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    fail_msg("%s: %s\n  in record: %s", spec->name, why, json_dumps(rec, JSON_COMPACT));
    abort(); /* fail_msg does not return */
}

/* Check every record; returns how many there were. */
static size_t check_records(const struct server_spec *spec, const char *log_path)
{
    struct tally {
        unsigned char n[STAGES_MAX];
        unsigned parts; /* bit k: "part" k seen */
    } *tally = calloc(TOTAL, sizeof *tally);
    assert_non_null(tally);
    int outside[NLIFECYCLE] = {0};

    json_t *recs = ts_read_records(log_path);
    size_t k;
    json_t *r;
    json_array_foreach(recs, k, r) {
        const char *msg = str(r, "msg"), *req = str(r, "request_id");
        const char *uid = str(r, "user_id"), *tid = str(r, "tenant_id");
        if (!req && !uid && !tid) {
            int l = index_of(lifecycle, (int)NLIFECYCLE, msg);
            if (l < 0)
                bad_record(spec, r, "a record outside any request");
            outside[l]++;
            continue;
        }
        int i = request_of(uid);
        if (i < 0)
            bad_record(spec, r, "a user_id of no request");
        char want_tid[32];
        snprintf(want_tid, sizeof want_tid, "tid-%d", i);
        if (!req || strcmp(req, rid[i]) != 0 || !tid || strcmp(tid, want_tid) != 0)
            bad_record(spec, r, "request %d runs as request_id %s, tenant_id %s", i, rid[i], want_tid);

        int s = index_of(spec->stage, spec->nstages, msg);
        if (s < 0)
            bad_record(spec, r, "not a record of any stage");
        tally[i].n[s]++;
        json_t *part = json_object_get(r, "part");
        if (part) {
            json_int_t p = json_integer_value(part);
            if (!json_is_integer(part) || p < 0 || p >= spec->parts || (tally[i].parts >> p & 1))
                bad_record(spec, r, "an unexpected or repeated part");
            tally[i].parts |= 1u << p;
        }
        if (strcmp(msg, "request done") == 0 &&
            json_integer_value(json_object_get(r, "status")) != 200)
            bad_record(spec, r, "a request not answered with 200");
    }

    int per_request = 0;
    for (int s = 0; s < spec->nstages; s++)
        per_request += spec->per_stage[s];
    for (int i = 0; i < TOTAL; i++) {
        for (int s = 0; s < spec->nstages; s++)
            if (tally[i].n[s] != spec->per_stage[s])
                fail_msg("%s: request %d (%s) wrote %d \"%s\" records, expected %d", spec->name,
                         i, rid[i], tally[i].n[s], spec->stage[s], spec->per_stage[s]);
        if (tally[i].parts != (1u << spec->parts) - 1)
            fail_msg("%s: request %d (%s) priced parts %#x", spec->name, i, rid[i],
                     tally[i].parts);
    }
    for (size_t l = 0; l < NLIFECYCLE; l++)
        if (outside[l] != 1)
            fail_msg("%s: %d \"%s\" records, expected 1", spec->name, outside[l], lifecycle[l]);

    size_t n = json_array_size(recs);
    assert_int_equal(n, (size_t)TOTAL * (size_t)per_request + NLIFECYCLE);
    json_decref(recs);
    free(tally);
    return n;
}

/* ---- the tests ------------------------------------------------------------------- */

static void run(const struct server_spec *spec)
{
    char name[64];
    snprintf(name, sizeof name, "%s.log", spec->name);
    char *log_path = ts_temp_path(name);
    ts_unlink(log_path);
    rid = calloc(TOTAL, sizeof *rid);
    assert_non_null(rid);

    ts_server_start(&server, spec->path, log_path, START_TIMEOUT_MS);
    port = server.port;
    double secs = fire_load();
    fire_odd();
    ts_server_stop(&server, STOP_TIMEOUT_MS);

    size_t n = check_records(spec, log_path);
    printf("%s: %d requests from %d client threads in %.3f s: %.0f requests/s; "
           "%d odd request ids replaced; %zu records checked\n",
           spec->name, LOAD, CLIENTS, secs, LOAD / secs, NODD, n);
    fflush(stdout);
    free(rid);
    rid = NULL;
    ts_unlink(log_path);
    free(log_path);
}

static void test_http_load__threaded(void **state)
{
    (void)state;
    run(&threaded);
}

static void test_http_load__evloop(void **state)
{
    (void)state;
    run(&evloop);
}

/* After a failed assertion: the server must not outlive the test. */
static int kill_server(void **state)
{
    (void)state;
    ts_server_kill(&server);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_http_load__threaded, kill_server),
        cmocka_unit_test_teardown(test_http_load__evloop, kill_server),
    };
    return cmocka_run_group_tests(tests, hc_curl_up, hc_curl_down);
}
