/* SPDX-License-Identifier: MIT */
/*
 * The ctxlog demo: a request's entry point sets its ids once; every log line
 * below it carries them — three calls deep, in a thread it spawns, in a pool
 * task it submits. A second request shows that nothing leaks from the first.
 *
 * Run: ./quickstart            (JSON lines on stdout)
 *      CTXLOG_LEVEL=debug ./quickstart
 *      CTXLOG_OUTPUT=app.log ./quickstart
 */
#include <ctxlog/ctxlog.h>

static ctx_pool *pool;

static void charge_card(const char *order)
{
    log_info_kv("card charged", LOG_STR("order", order), LOG_I64("amount_cents", 1299));
    log_debug("charge details for %s", order);
}

static void place_order(const char *order)
{
    log_info("placing order %s", order);
    charge_card(order);
}

static void handle_checkout(void)
{
    place_order("A-1001");
}

static void *audit_thread(void *arg)
{
    log_info_kv("audit record written", LOG_STR("table", (const char *)arg));
    return NULL;
}

static void send_receipt(void *arg)
{
    log_info_kv("receipt e-mailed", LOG_STR("to", (const char *)arg), LOG_BOOL("html", true));
}

/* A request's entry point: the only place the ids are set. The receipt
 * goes to the address the request gave (`email`), never another's. */
static void serve(const char *request_id, const char *user, const char *tenant,
                  const char *email)
{
    CTX_REQUEST(request_id, user, tenant);
    log_info("request started");

    handle_checkout(); /* three levels deep */

    pthread_t t;
    if (ctx_thread_create(&t, NULL, audit_thread, "orders") == 0)
        pthread_join(t, NULL);

    /* The pool captures this request's context now, at submit time. */
    ctx_pool_submit(pool, send_receipt, (void *)email);
    log_info("request finished");
}

int main(void)
{
    pool = ctx_pool_new(2);
    if (!pool)
        return 1;
    serve("req-7f3a", "alice", "acme", "alice@example.com");
    serve(NULL, "bob", "globex", "bob@example.com"); /* no id given: a UUIDv7 is generated */
    ctx_pool_free(pool);   /* runs the queued receipts, then joins */
    log_info("demo done"); /* outside any request: no ids at all */
    return 0;
}
