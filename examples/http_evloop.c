/* SPDX-License-Identifier: MIT */
/*
 * An event-loop HTTP server (libevent's evhttp) on ONE thread: each request is
 * handled in hops, timer callbacks a small random delay apart, so hundreds of
 * requests interleave on the same thread — the C counterpart of asyncio.
 *
 * A thread's current context cannot tell the requests apart here, so the
 * context travels with the work: every hop is scheduled through ctx_bind(),
 * which captures the context current at scheduling time, and the timer runs
 * ctx_bound_run(), which makes it current for the hop and drops it after. The
 * entry point sets the ids once with CTX_REQUEST; no hop takes an id as an
 * argument, and there is no global "current request".
 *
 * The trace (W3C Trace Context) travels the same way: the entry point
 * continues the incoming `traceparent` with CTX_REQUEST_TRACED (or starts a
 * new trace when it is missing or invalid), and every hop logs with it.
 *
 * Each GET or HEAD writes exactly four records (tests/test_http_load.c and
 * tests/test_http_trace.c count them):
 *     "request received"  the entry point (evhttp's callback); field
 *                         "parent_span_id" (the caller's span, or null)
 *     "order loaded"      hop 1
 *     "order priced"      hop 2
 *     "request done"      hop 3, which sends the reply; field "status"
 * Any other method writes "request received" and "request done" (405).
 * Outside any request: "listening", "stopping", "stopped" (no ids).
 *
 * The response echoes the request id in force in X-Request-ID, read with
 * ctx_get() in hop 3: the client's if it was acceptable, else the UUIDv7 that
 * CTX_REQUEST made; and the request's span in `traceparent`.
 *
 * Run: ./http_evloop [port]            (127.0.0.1 only; default 8080)
 * Stop with SIGINT or SIGTERM: it stops accepting, lets the requests in
 * flight finish (at most STOP_GRACE_S seconds), then exits.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <ctxlog/ctxlog.h>

#define MAX_DELAY_US 2000 /* each hop waits 0 .. 2 ms */
#define STOP_GRACE_S 5

struct server {
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *listener;
    int inflight; /* requests whose reply is not written yet */
    int stopping;
    uint32_t rng;
};

/* One request in flight. It carries no ids: those are in the context. */
struct request {
    struct server *srv;
    struct evhttp_request *req;
    long cents;
};

/* ---- scheduling a hop in the current context ----------------------------------- */

static uint32_t next_random(struct server *srv)
{
    /* xorshift32: the loop is single-threaded, so plain state is enough. */
    uint32_t x = srv->rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return srv->rng = x;
}

/* libevent's callback shape around ctx_bound_run(). */
static void run_bound(evutil_socket_t fd, short what, void *bound)
{
    (void)fd;
    (void)what;
    ctx_bound_run(bound);
}

/* Run fn(r) on the loop after a random delay, in the context current now.
 * event_base_once() frees its event after firing; ctx_bound_run() frees the
 * binding. Returns 0, or -1 when nothing was scheduled. */
static int later(struct request *r, void (*fn)(void *arg))
{
    struct timeval tv = {.tv_sec = 0, .tv_usec = (suseconds_t)(next_random(r->srv) % MAX_DELAY_US)};
    ctx_bound *b = ctx_bind(fn, r);
    if (!b)
        return -1;
    if (event_base_once(r->srv->base, -1, EV_TIMEOUT, run_bound, b, &tv) != 0) {
        ctx_bound_free(b);
        return -1;
    }
    return 0;
}

/* ---- finishing a request ---------------------------------------------------------- */

static void request_gone(struct server *srv)
{
    if (--srv->inflight == 0 && srv->stopping)
        event_base_loopbreak(srv->base);
}

/* Called by libevent once the reply has been written out. */
static void on_sent(struct evhttp_request *req, void *arg)
{
    (void)req;
    request_gone(arg);
}

static void finish(struct request *r, int status, const char *reason, const char *body)
{
    struct evhttp_request *req = r->req;
    struct server *srv = r->srv;
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    evhttp_add_header(out, "X-Request-ID", ctx_get(CTX_REQUEST_ID));
    char tp[CTX_TRACEPARENT_LEN + 1];
    if (ctx_traceparent(tp) == 0)
        evhttp_add_header(out, "traceparent", tp);
    evhttp_add_header(out, "Content-Type", "text/plain");
    struct evbuffer *buf = evbuffer_new();
    if (buf)
        evbuffer_add(buf, body, strlen(body));
    /* A client that went away before the reply leaves the request without a
     * connection: libevent then frees it in evhttp_send_reply() and never
     * calls on_sent(). */
    int orphan = evhttp_request_get_connection(req) == NULL;
    evhttp_send_reply(req, status, reason, buf);
    if (buf)
        evbuffer_free(buf);
    log_info_kv("request done", LOG_I64("status", status));
    free(r);
    if (orphan)
        request_gone(srv);
}

/* ---- the hops -------------------------------------------------------------------- */

static void send_reply(void *arg)
{
    struct request *r = arg;
    char body[64];
    snprintf(body, sizeof body, "total_cents=%ld\n", r->cents);
    finish(r, HTTP_OK, "OK", body);
}

static void price_order(void *arg)
{
    struct request *r = arg;
    r->cents = 1200 + (long)strlen(evhttp_request_get_uri(r->req));
    log_info_kv("order priced", LOG_I64("cents", r->cents));
    if (later(r, send_reply) != 0)
        finish(r, HTTP_SERVUNAVAIL, "Service Unavailable", "overloaded\n");
}

static void load_order(void *arg)
{
    struct request *r = arg;
    log_info_kv("order loaded", LOG_STR("order", evhttp_request_get_uri(r->req)));
    if (later(r, price_order) != 0)
        finish(r, HTTP_SERVUNAVAIL, "Service Unavailable", "overloaded\n");
}

/* ---- the entry point ---------------------------------------------------------------- */

static const char *method_name(enum evhttp_cmd_type cmd)
{
    switch (cmd) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    default: return "other";
    }
}

static void on_request(struct evhttp_request *req, void *arg)
{
    struct server *srv = arg;
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);

    /* The only place the ids and the trace are set. They are reset when
     * this callback returns; the hops scheduled below keep their own
     * captured copy. */
    CTX_REQUEST_TRACED(evhttp_find_header(in, "X-Request-ID"), evhttp_find_header(in, "X-User-ID"),
                       evhttp_find_header(in, "X-Tenant-ID"), evhttp_find_header(in, "traceparent"));
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    log_info_kv("request received", LOG_STR("method", method_name(cmd)),
                LOG_STR("path", evhttp_request_get_uri(req)),
                LOG_STR("parent_span_id", ctx_get(CTX_PARENT_SPAN_ID)));

    struct request *r = malloc(sizeof *r);
    if (!r) {
        evhttp_send_error(req, HTTP_SERVUNAVAIL, NULL);
        log_info_kv("request done", LOG_I64("status", HTTP_SERVUNAVAIL));
        return;
    }
    *r = (struct request){.srv = srv, .req = req};
    srv->inflight++;
    evhttp_request_set_on_complete_cb(req, on_sent, srv);

    if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD)
        finish(r, 405, "Method Not Allowed", "GET or HEAD only\n");
    else if (later(r, load_order) != 0)
        finish(r, HTTP_SERVUNAVAIL, "Service Unavailable", "overloaded\n");
}

/* ---- start and stop ---------------------------------------------------------------- */

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    struct server *srv = arg;
    if (srv->stopping)
        return;
    srv->stopping = 1;
    log_info_kv("stopping", LOG_STR("signal", sig == SIGINT ? "SIGINT" : "SIGTERM"),
                LOG_I64("in_flight", srv->inflight));
    evhttp_del_accept_socket(srv->http, srv->listener);
    srv->listener = NULL;
    if (srv->inflight == 0) {
        event_base_loopbreak(srv->base);
        return;
    }
    /* The last reply breaks the loop (request_gone); this bounds the wait
     * should a reply never complete (its client vanished mid-write). */
    struct timeval grace = {.tv_sec = STOP_GRACE_S};
    event_base_loopexit(srv->base, &grace);
}

static int parse_port(int argc, char **argv, unsigned short *out)
{
    if (argc < 2) {
        *out = 8080;
        return 0;
    }
    char *end;
    long v = strtol(argv[1], &end, 10);
    if (argc > 2 || *argv[1] == '\0' || *end != '\0' || v < 1 || v > 65535)
        return -1;
    *out = (unsigned short)v;
    return 0;
}

int main(int argc, char **argv)
{
    unsigned short port;
    if (parse_port(argc, argv, &port) != 0) {
        fprintf(stderr, "usage: %s [port]\n", argv[0]);
        return 2;
    }
    /* libevent writes with plain write(2): a client that closed its end
     * must give EPIPE, not kill the server. */
    signal(SIGPIPE, SIG_IGN);

    struct server srv = {.rng = (uint32_t)getpid() | 1u};
    int rc = 1;
    struct event *ev_int = NULL, *ev_term = NULL;
    srv.base = event_base_new();
    if (!srv.base)
        goto out;
    srv.http = evhttp_new(srv.base);
    ev_int = evsignal_new(srv.base, SIGINT, on_signal, &srv);
    ev_term = evsignal_new(srv.base, SIGTERM, on_signal, &srv);
    if (!srv.http || !ev_int || !ev_term || event_add(ev_int, NULL) != 0 ||
        event_add(ev_term, NULL) != 0)
        goto out;
    evhttp_set_gencb(srv.http, on_request, &srv);
    srv.listener = evhttp_bind_socket_with_handle(srv.http, "127.0.0.1", port);
    if (!srv.listener) {
        log_error_kv("cannot listen", LOG_STR("address", "127.0.0.1"), LOG_I64("port", port));
        goto out;
    }
    log_info_kv("listening", LOG_STR("address", "127.0.0.1"), LOG_I64("port", port));

    if (event_base_dispatch(srv.base) == 0)
        rc = 0;
out:
    if (srv.http)
        evhttp_free(srv.http); /* closes the connections still open */
    if (ev_int)
        event_free(ev_int);
    if (ev_term)
        event_free(ev_term);
    if (srv.base)
        event_base_free(srv.base);
    if (rc == 0)
        log_info("stopped");
    log_shutdown();
    return rc;
}
