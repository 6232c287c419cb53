/* SPDX-License-Identifier: MIT */
/* ctx_pool: worker threads that run each task in its submitter's context. */
#include "ctx/ctx_internal.h"

#include <stdlib.h>

typedef struct task {
    struct task *next;
    void (*fn)(void *arg);
    void *arg;
    ctx_snapshot *ctx;
} task;

struct ctx_pool {
    pthread_mutex_t lock;
    pthread_cond_t ready;
    task *head, *tail;
    int stopping;
    int nthreads;
    pthread_t threads[];
};

static void *worker(void *p)
{
    ctx_pool *pool = p;
    for (;;) {
        pthread_mutex_lock(&pool->lock);
        while (!pool->head && !pool->stopping)
            pthread_cond_wait(&pool->ready, &pool->lock);
        task *t = pool->head;
        if (t) {
            pool->head = t->next;
            if (!pool->head)
                pool->tail = NULL;
        }
        pthread_mutex_unlock(&pool->lock);
        if (!t)
            return NULL; /* stopping and drained */
        /* A frame of its own: nothing the task sets outlives it. */
        ctx_run(t->ctx, t->fn, t->arg);
        ctx_release(t->ctx);
        free(t);
    }
}

ctx_pool *ctx_pool_new(int nthreads)
{
    if (nthreads < 1 || nthreads > 1024)
        return NULL;
    ctx_pool *pool = calloc(1, sizeof *pool + (size_t)nthreads * sizeof(pthread_t));
    if (!pool)
        return NULL;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->ready, NULL);
    for (int i = 0; i < nthreads; i++) {
        /* Plain pthread_create: a worker has no context of its own. */
        if (pthread_create(&pool->threads[i], NULL, worker, pool) != 0) {
            pool->nthreads = i;
            ctx_pool_free(pool);
            return NULL;
        }
    }
    pool->nthreads = nthreads;
    return pool;
}

int ctx_pool_submit(ctx_pool *pool, void (*fn)(void *arg), void *arg)
{
    if (!pool || !fn)
        return CTXLOG_EINVAL;
    task *t = malloc(sizeof *t);
    if (!t)
        return CTXLOG_ENOMEM;
    *t = (task){.fn = fn, .arg = arg, .ctx = ctx_copy()};
    pthread_mutex_lock(&pool->lock);
    if (pool->stopping) {
        pthread_mutex_unlock(&pool->lock);
        ctx_release(t->ctx);
        free(t);
        return CTXLOG_ESTATE;
    }
    if (pool->tail)
        pool->tail->next = t;
    else
        pool->head = t;
    pool->tail = t;
    pthread_cond_signal(&pool->ready);
    pthread_mutex_unlock(&pool->lock);
    return 0;
}

void ctx_pool_free(ctx_pool *pool)
{
    if (!pool)
        return;
    pthread_mutex_lock(&pool->lock);
    pool->stopping = 1;
    pthread_cond_broadcast(&pool->ready);
    pthread_mutex_unlock(&pool->lock);
    for (int i = 0; i < pool->nthreads; i++)
        pthread_join(pool->threads[i], NULL);
    pthread_cond_destroy(&pool->ready);
    pthread_mutex_destroy(&pool->lock);
    free(pool);
}
