/* SPDX-License-Identifier: MIT */
/* ctx_thread_create: pthread_create that carries the creator's context. */
#include "ctx/ctx_internal.h"

#include <errno.h>
#include <stdlib.h>

typedef struct start {
    void *(*fn)(void *arg);
    void *arg;
    ctx_snapshot *ctx;
} start;

static void *trampoline(void *p)
{
    start s = *(start *)p;
    free(p);
    ctx__thread_adopt(s.ctx);
    return s.fn(s.arg);
}

int ctx_thread_create(pthread_t *out, const pthread_attr_t *attr, void *(*fn)(void *arg),
                      void *arg)
{
    if (!out || !fn)
        return EINVAL;
    start *s = malloc(sizeof *s);
    if (!s)
        return ENOMEM;
    *s = (start){.fn = fn, .arg = arg, .ctx = ctx_copy()};
    int err = pthread_create(out, attr, trampoline, s);
    if (err) {
        ctx_release(s->ctx);
        free(s);
    }
    return err;
}
