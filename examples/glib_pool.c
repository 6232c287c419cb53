/* SPDX-License-Identifier: MIT */
/*
 * Plugging ctxlog into a thread pool it knows nothing about: GLib's
 * GThreadPool. The pool's threads are GLib's and start with no context. The
 * submitter wraps each task with ctx_bind(), which captures its current
 * context, and pushes the binding as the task's data; the pool's function
 * hands it to ctx_bound_run(), which runs the task in that context and frees
 * the binding. The same two calls fit libuv's uv_queue_work or any pool that
 * takes a function and a void *.
 *
 * Records (tests/test_glib_pool.c checks them): per request, "request
 * started" on the submitter's thread, then "thumbnail made" x3 on pool
 * threads (field "image" = 0, 1, 2), all with the request's ids; "demo done"
 * at the end, outside any request, with none.
 *
 * Run: ./glib_pool                (JSON lines on stdout)
 */
#include <stdint.h>

#include <glib.h>

#include <ctxlog/ctxlog.h>

#define IMAGES 3

/* GLib's mutexes and condition variables are bare futexes on Linux, which
 * ThreadSanitizer cannot see, so it would take the pool's hand-off of a
 * binding for a data race. Under TSan, publish that one edge, keyed on the
 * binding; in any other build these do nothing. */
#if defined(__SANITIZE_THREAD__)
#define HANDOFF_VISIBLE_TO_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define HANDOFF_VISIBLE_TO_TSAN 1
#endif
#endif
#ifdef HANDOFF_VISIBLE_TO_TSAN
#include <sanitizer/tsan_interface.h>
#define handoff_publish(p) __tsan_release(p)
#define handoff_receive(p) __tsan_acquire(p)
#else
#define handoff_publish(p) ((void)(p))
#define handoff_receive(p) ((void)(p))
#endif

static void make_thumbnail(void *arg)
{
    int image = (int)(intptr_t)arg;
    log_info_kv("thumbnail made", LOG_I64("image", image), LOG_I64("px", 64 << image));
}

/* The pool's function: data is the ctx_bound * the submitter pushed. */
static void run_task(gpointer data, gpointer user_data)
{
    (void)user_data;
    handoff_receive(data);
    ctx_bound_run(data);
}

static void serve(GThreadPool *pool, const char *request_id, const char *user, const char *tenant)
{
    CTX_REQUEST(request_id, user, tenant);
    log_info("request started");
    for (int i = 0; i < IMAGES; i++) {
        ctx_bound *b = ctx_bind(make_thumbnail, (void *)(intptr_t)i);
        GError *err = NULL;
        if (!b) {
            log_error("out of memory");
            continue;
        }
        handoff_publish(b);
        if (!g_thread_pool_push(pool, b, &err)) {
            log_error_kv("g_thread_pool_push failed", LOG_STR("error", err->message));
            g_error_free(err);
            ctx_bound_free(b);
        }
    }
}

int main(void)
{
    GError *err = NULL;
    GThreadPool *pool = g_thread_pool_new(run_task, NULL, 2, FALSE, &err);
    if (!pool) {
        log_error_kv("g_thread_pool_new failed", LOG_STR("error", err->message));
        g_error_free(err);
        return 1;
    }
    serve(pool, "req-glib-1", "alice", "acme");
    serve(pool, NULL, "bob", "globex"); /* no id given: a UUIDv7 is generated */
    g_thread_pool_free(pool, FALSE, TRUE); /* runs what is queued, then joins */
    log_info("demo done");
    return 0;
}
