/* SPDX-License-Identifier: MIT */
/*
 * A threaded HTTP server (libmicrohttpd's thread pool) whose request entry
 * point sets the request's ids once, from the X-Request-ID, X-User-ID and
 * X-Tenant-ID headers. Every record below it carries them: two calls deep,
 * and in the three subtasks the request fans out to a ctx_pool, which run on
 * other threads while the entry point waits for them.
 *
 * Tracing across services (W3C Trace Context): the entry point continues
 * the trace of an incoming `traceparent` header (CTX_REQUEST_TRACED), or
 * starts one when it is missing or invalid. Given the URL of a quote
 * service (http_evloop, say), each order also asks it for a quote over HTTP
 * with libcurl, in a client span of its own (CTX_SPAN), passing that span as
 * the outgoing `traceparent` and the three ids: the callee's records then
 * carry the same trace_id, and its parent span is this client span.
 *
 * Each GET or HEAD writes exactly six records, seven with a quote service,
 * in this order as seen by the request (tests/test_http_load.c and
 * tests/test_http_trace.c count them):
 *     "request received"  the entry point, MHD's thread; field
 *                         "parent_span_id" (the caller's span, or null)
 *     "order loaded"      two calls below it
 *     "part priced" x3    pool tasks, field "part" = 0, 1, 2
 *     "quote fetched"     with a quote service only: in the client span,
 *                         fields "status" (the callee's HTTP status, -1 if
 *                         it could not be reached) and "parent_span_id"
 *     "request done"      the entry point, field "status"
 * Any other method writes "request received" and "request done" (405).
 * Outside any request: "listening", "stopping", "stopped" (no ids).
 *
 * The response echoes the request id actually in force in X-Request-ID: the
 * client's if it was acceptable, else the UUIDv7 that CTX_REQUEST made; and
 * the request's own span in `traceparent` (ctx_traceparent()).
 *
 * Run: ./http_threaded [port [quote-url]]  (127.0.0.1 only; default 8080)
 *      curl -i -H 'X-Request-ID: r-1' -H 'X-User-ID: alice' \
 *           -H 'X-Tenant-ID: acme' \
 *           -H 'traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' \
 *           http://127.0.0.1:8080/orders/42
 *      quote-url: e.g. http://127.0.0.1:8081 (http_evloop 8081); the order's
 *      path is appended.
 * Stop with SIGINT or SIGTERM.
 */
#define _POSIX_C_SOURCE 200809L /* sigwait, pthread_sigmask under -std=c11 */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <curl/curl.h>
#include <microhttpd.h>

#include <ctxlog/ctxlog.h>

#define HTTP_THREADS 4 /* MHD's pool: the threads that run entry points */
#define POOL_THREADS 4 /* ctx_pool: the threads that run the subtasks */
#define PARTS 3        /* subtasks per request */

static ctx_pool *pool;
static const char *quote_url; /* the quote service, or NULL */
static pthread_key_t curl_key; /* each MHD thread's libcurl handle */

/* ---- the subtasks ----------------------------------------------------------- */

/* What a request waits on: a countdown of its subtasks. It lives on the
 * entry point's stack, which is safe because the entry point does not return
 * before the count reaches zero. */
struct fanout {
    pthread_mutex_t lock;
    pthread_cond_t done;
    int pending;
    long cents[PARTS];
};

struct part {
    struct fanout *fan;
    const char *order;
    int index;
};

/* Runs on a pool thread, in the context its submitter had at submit time:
 * no id is passed in, yet the record carries the request's three. */
static void price_part(void *arg)
{
    struct part *p = arg;
    long cents = 100 * (long)(p->index + 1) + (long)strlen(p->order);
    log_info_kv("part priced", LOG_I64("part", p->index), LOG_I64("cents", cents));

    pthread_mutex_lock(&p->fan->lock);
    p->fan->cents[p->index] = cents;
    if (--p->fan->pending == 0)
        pthread_cond_signal(&p->fan->done);
    pthread_mutex_unlock(&p->fan->lock);
}

/* Fans the pricing out to the pool and waits for every part.
 * Returns the total, or -1 when the pool refused a part. */
static long price_order(const char *order)
{
    struct fanout fan = {.pending = PARTS};
    struct part parts[PARTS];
    int refused = 0;
    pthread_mutex_init(&fan.lock, NULL);
    pthread_cond_init(&fan.done, NULL);

    for (int i = 0; i < PARTS; i++) {
        parts[i] = (struct part){.fan = &fan, .order = order, .index = i};
        if (ctx_pool_submit(pool, price_part, &parts[i]) != 0) {
            pthread_mutex_lock(&fan.lock);
            fan.pending--;
            pthread_mutex_unlock(&fan.lock);
            refused++;
        }
    }
    long total = 0;
    pthread_mutex_lock(&fan.lock);
    while (fan.pending > 0)
        pthread_cond_wait(&fan.done, &fan.lock);
    for (int i = 0; i < PARTS; i++)
        total += fan.cents[i];
    pthread_mutex_unlock(&fan.lock);

    pthread_cond_destroy(&fan.done);
    pthread_mutex_destroy(&fan.lock);
    if (refused) {
        log_error_kv("pricing refused by the pool", LOG_I64("parts", refused));
        return -1;
    }
    return total;
}

/* ---- the call to the quote service --------------------------------------------- */

static size_t discard(char *data, size_t size, size_t n, void *user)
{
    (void)data;
    (void)user;
    return size * n;
}

/* The calling thread's handle, made on first use and kept, so that its
 * connection to the quote service stays open between requests. Freed when
 * the thread exits (curl_key's destructor). */
static CURL *thread_curl(void)
{
    CURL *h = pthread_getspecific(curl_key);
    if (h)
        return h;
    h = curl_easy_init();
    if (!h)
        return NULL;
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for timeouts */
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_PROXY, ""); /* never through an http_proxy */
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    if (pthread_setspecific(curl_key, h) != 0) {
        curl_easy_cleanup(h);
        return NULL;
    }
    return h;
}

static struct curl_slist *add_header(struct curl_slist *list, const char *name,
                                     const char *value, int *oom)
{
    char line[256];
    if (!value)
        return list;
    snprintf(line, sizeof line, "%s: %s", name, value);
    struct curl_slist *more = curl_slist_append(list, line);
    if (!more)
        *oom = 1;
    return more ? more : list;
}

/* GET <quote_url><order> in a client span of its own: the callee continues
 * this trace with this span as its parent. The ids in force go along; they
 * passed CTX_REQUEST's checks, so they cannot break a header line. Returns
 * the callee's HTTP status, or -1. */
static long fetch_quote(const char *order)
{
    CTX_SPAN();
    char tp[CTX_TRACEPARENT_LEN + 1], url[512];
    long status = -1;
    int oom = 0;
    CURL *h = thread_curl();
    struct curl_slist *hdrs = NULL;
    if (h && ctx_traceparent(tp) == 0 &&
        snprintf(url, sizeof url, "%s%s", quote_url, order) < (int)sizeof url) {
        hdrs = add_header(hdrs, "traceparent", tp, &oom);
        hdrs = add_header(hdrs, "X-Request-ID", ctx_get(CTX_REQUEST_ID), &oom);
        hdrs = add_header(hdrs, "X-User-ID", ctx_get(CTX_USER_ID), &oom);
        hdrs = add_header(hdrs, "X-Tenant-ID", ctx_get(CTX_TENANT_ID), &oom);
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
        if (!oom && curl_easy_perform(h) == CURLE_OK)
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
        curl_slist_free_all(hdrs);
    }
    log_info_kv("quote fetched", LOG_I64("status", status),
                LOG_STR("parent_span_id", ctx_get(CTX_PARENT_SPAN_ID)));
    return status;
}

/* ---- the layers below the entry point ---------------------------------------- */

static void load_order(const char *order)
{
    log_info_kv("order loaded", LOG_STR("order", order));
}

static long handle_order(const char *order)
{
    load_order(order);
    long total = price_order(order);
    if (total >= 0 && quote_url && fetch_quote(order) != 200)
        return -1;
    return total;
}

/* ---- the entry point ------------------------------------------------------------ */

static const char *header(struct MHD_Connection *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *body)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    /* The id in force, not the header: CTX_REQUEST replaced a missing or
     * unacceptable one, and that replacement is what the records carry. */
    enum MHD_Result ok =
        MHD_add_response_header(resp, "X-Request-ID", ctx_get(CTX_REQUEST_ID));
    /* This request's span: a client that goes on from here is its child. */
    char tp[CTX_TRACEPARENT_LEN + 1];
    if (ok == MHD_YES && ctx_traceparent(tp) == 0)
        ok = MHD_add_response_header(resp, "traceparent", tp);
    if (ok == MHD_YES)
        ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
    if (ok == MHD_YES)
        ok = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    log_info_kv("request done", LOG_I64("status", ok == MHD_YES ? (int64_t)status : -1));
    return ok;
}

/* Called by an MHD thread several times per request: once when the headers
 * are in, once per chunk of body, once more when the body is complete. The
 * request is handled on that last call; answering earlier would make MHD
 * close the connection instead of keeping it alive. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **req_cls)
{
    static int headers_seen; /* any non-NULL marker will do */
    (void)cls;
    (void)version;
    (void)upload_data;
    if (!*req_cls) {
        *req_cls = &headers_seen;
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        *upload_data_size = 0; /* a body is not used: skip it */
        return MHD_YES;
    }

    /* The only place the ids and the trace are set; they are reset when this
     * returns, so nothing reaches the next request this MHD thread serves.
     * A missing or invalid traceparent starts a new trace. */
    CTX_REQUEST_TRACED(header(conn, "X-Request-ID"), header(conn, "X-User-ID"),
                       header(conn, "X-Tenant-ID"), header(conn, "traceparent"));
    log_info_kv("request received", LOG_STR("method", method), LOG_STR("path", url),
                LOG_STR("parent_span_id", ctx_get(CTX_PARENT_SPAN_ID)));

    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "GET or HEAD only\n");

    long total = handle_order(url);
    if (total < 0)
        return reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "overloaded\n");
    char body[64];
    snprintf(body, sizeof body, "total_cents=%ld\n", total);
    return reply(conn, MHD_HTTP_OK, body);
}

/* ---- main ---------------------------------------------------------------------- */

static int parse_args(int argc, char **argv, unsigned short *out)
{
    if (argc < 2) {
        *out = 8080;
        return 0;
    }
    char *end;
    long v = strtol(argv[1], &end, 10);
    if (argc > 3 || *argv[1] == '\0' || *end != '\0' || v < 1 || v > 65535)
        return -1;
    *out = (unsigned short)v;
    if (argc == 3) {
        /* Loopback only, like the server itself. */
        if (strncmp(argv[2], "http://127.0.0.1:", 17) != 0)
            return -1;
        quote_url = argv[2];
    }
    return 0;
}

static void curl_free_handle(void *h)
{
    curl_easy_cleanup(h);
}

int main(int argc, char **argv)
{
    unsigned short port;
    if (parse_args(argc, argv, &port) != 0) {
        fprintf(stderr, "usage: %s [port [http://127.0.0.1:PORT]]\n", argv[0]);
        return 2;
    }
    /* Before any thread: curl_global_init is not thread-safe. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
        pthread_key_create(&curl_key, curl_free_handle) != 0) {
        log_error("cannot set up libcurl");
        return 1;
    }

    /* The stop signals are taken by sigwait() below. Blocking them before
     * any thread starts means every thread (MHD's, the pool's) inherits the
     * mask, so no signal interrupts a worker in the middle of a request. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    pool = ctx_pool_new(POOL_THREADS);
    if (!pool) {
        log_error("cannot start the worker pool");
        return 1;
    }
    struct sockaddr_in addr = {
        .sin_family = AF_INET,
        .sin_port = htons(port),
        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
    };
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, port, NULL, NULL, on_request, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)HTTP_THREADS,
        MHD_OPTION_END);
    if (!d) {
        log_error_kv("cannot listen", LOG_STR("address", "127.0.0.1"), LOG_I64("port", port));
        ctx_pool_free(pool);
        return 1;
    }
    log_info_kv("listening", LOG_STR("address", "127.0.0.1"), LOG_I64("port", port));

    int sig = 0;
    sigwait(&stop, &sig);
    log_info_kv("stopping", LOG_STR("signal", sig == SIGINT ? "SIGINT" : "SIGTERM"));
    MHD_stop_daemon(d); /* joins MHD's threads: requests in flight finish first */
    ctx_pool_free(pool);
    curl_global_cleanup(); /* the threads' handles went with them */
    log_info("stopped");
    log_shutdown();
    return 0;
}
