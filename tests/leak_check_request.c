/* SPDX-License-Identifier: MIT */
/* A program as an application writes it: a request scope, records from it,
 * from a thread and from a pool task, then log_shutdown(). ctest runs it
 * under valgrind (see tests/CMakeLists.txt): no block may be "definitely"
 * or "possibly lost", and with share/ctxlog.supp nothing the library keeps
 * may even be listed as still reachable. */
#include <pthread.h>
#include <stdio.h>

#include <ctxlog/ctxlog.h>

static void *in_thread(void *arg)
{
    (void)arg;
    log_info_kv("from a thread", LOG_KV("n", 2));
    return NULL;
}

static void in_task(void *arg)
{
    (void)in_thread(arg);
}

int main(void)
{
    int rc = 0;
    {
        CTX_REQUEST(NULL, "alice", "acme");
        CTX_SCOPE(CTX_TENANT_ID, "other");
        log_info_kv("hello", LOG_KV("n", 1));
        log_info_kvf(("took %d ms", 3), LOG_KV("ms", 3));
        pthread_t t;
        if (ctx_thread_create(&t, NULL, in_thread, NULL) != 0 || pthread_join(t, NULL) != 0)
            rc = 1;
        ctx_pool *p = ctx_pool_new(2);
        if (!p || ctx_pool_submit(p, in_task, NULL) != 0)
            rc = 1;
        ctx_pool_free(p);
    }
    if (log_flush() != 0)
        rc = 1;
    log_shutdown();
    return rc;
}
