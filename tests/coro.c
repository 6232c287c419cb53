/* SPDX-License-Identifier: MIT */
/* Stackful coroutines and a round-robin M:N scheduler for the tests (coro.h). */
#include "coro.h"

#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <ucontext.h>

#if defined(__SANITIZE_ADDRESS__)
#define CORO_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CORO_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define CORO_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CORO_TSAN 1
#endif
#endif
#ifdef CORO_ASAN
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef CORO_TSAN
#include <sanitizer/tsan_interface.h>
#endif
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define CORO_VALGRIND 1
#endif
#endif

#define STACK_SIZE (256 * 1024)

struct coro {
    ucontext_t uc;
    ucontext_t *caller; /* the scheduler's context that resumed it */
    void (*fn)(void *arg);
    void *arg;
    ctx_fiber *fiber;
    char *stack;
    int done;
    int thread;
    unsigned migrations;
#ifdef CORO_VALGRIND
    unsigned vg_id;
#endif
#ifdef CORO_ASAN
    void *fake;               /* the coroutine's fake stack while suspended */
    const void *caller_bottom; /* the scheduler's stack, to switch back to */
    size_t caller_size;
#endif
#ifdef CORO_TSAN
    void *tsan_fiber;
    void *tsan_caller;
#endif
};

static _Thread_local coro *running;

/* Back to the scheduler: from coro_yield, and once when fn returns. */
static void to_caller(coro *c, int last)
{
#ifdef CORO_ASAN
    __sanitizer_start_switch_fiber(last ? NULL : &c->fake, c->caller_bottom, c->caller_size);
#endif
#ifdef CORO_TSAN
    __tsan_switch_to_fiber(c->tsan_caller, 0);
#endif
    if (last) {
        setcontext(c->caller);
        abort();
    }
    swapcontext(&c->uc, c->caller);
    /* Resumed, perhaps on another thread. */
#ifdef CORO_ASAN
    __sanitizer_finish_switch_fiber(c->fake, &c->caller_bottom, &c->caller_size);
#endif
}

static void trampoline(unsigned hi, unsigned lo)
{
    coro *c = (coro *)(((uintptr_t)hi << 32) | (uintptr_t)lo);
#ifdef CORO_ASAN
    __sanitizer_finish_switch_fiber(NULL, &c->caller_bottom, &c->caller_size);
#endif
    c->fn(c->arg);
    c->done = 1;
    to_caller(c, 1);
}

coro *coro_new(void (*fn)(void *arg), void *arg, int with_fiber)
{
    coro *c = calloc(1, sizeof *c);
    if (!c)
        abort();
    c->fn = fn;
    c->arg = arg;
    c->thread = -1;
    if (with_fiber && !(c->fiber = ctx_fiber_new()))
        abort();
    c->stack = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (c->stack == MAP_FAILED)
        abort();
#ifdef CORO_VALGRIND
    c->vg_id = VALGRIND_STACK_REGISTER(c->stack, c->stack + STACK_SIZE);
#endif
#ifdef CORO_TSAN
    c->tsan_fiber = __tsan_create_fiber(0);
#endif
    getcontext(&c->uc);
    c->uc.uc_stack.ss_sp = c->stack;
    c->uc.uc_stack.ss_size = STACK_SIZE;
    c->uc.uc_link = NULL;
    uintptr_t p = (uintptr_t)c;
    makecontext(&c->uc, (void (*)(void))trampoline, 2, (unsigned)(p >> 32), (unsigned)p);
    return c;
}

void coro_yield(void)
{
    coro *c = running;
    assert(c);
    to_caller(c, 0);
}

/* Resume c on this thread (numbered `thread`) until it yields or ends. */
static int resume(coro *c, int thread)
{
    ucontext_t here;
    if (c->thread >= 0 && c->thread != thread)
        c->migrations++;
    c->thread = thread;
    c->caller = &here;
    coro *outer = running;
    running = c;
    /* What a scheduler does for ctxlog: the task's context in, then out. */
    ctx_fiber *prev = ctx_fiber_switch(c->fiber ? c->fiber : NULL);
#ifdef CORO_TSAN
    c->tsan_caller = __tsan_get_current_fiber();
    __tsan_switch_to_fiber(c->tsan_fiber, 0);
#endif
#ifdef CORO_ASAN
    void *fake = NULL;
    __sanitizer_start_switch_fiber(&fake, c->stack, STACK_SIZE);
#endif
    swapcontext(&here, &c->uc);
#ifdef CORO_ASAN
    __sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
    if (c->fiber)
        (void)ctx_fiber_switch(prev);
    running = outer;
    return !c->done;
}

int coro_step(coro *c, int thread)
{
    return resume(c, thread);
}

void coro_free(coro *c)
{
    if (!c)
        return;
    if (c->fiber && ctx_fiber_free(c->fiber) != 0)
        abort();
#ifdef CORO_TSAN
    __tsan_destroy_fiber(c->tsan_fiber);
#endif
#ifdef CORO_VALGRIND
    VALGRIND_STACK_DEREGISTER(c->vg_id);
#endif
    munmap(c->stack, STACK_SIZE);
    free(c);
}

int coro_last_thread(const coro *c)
{
    return c->thread;
}

unsigned coro_migrations(const coro *c)
{
    return c->migrations;
}

/* ---- the scheduler: one run queue, N threads ------------------------------ */

typedef struct sched {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    coro **q; /* a ring of n slots */
    size_t n, head, count, live;
} sched;

typedef struct worker {
    sched *s;
    int index;
} worker;

static void *work(void *p)
{
    worker *w = p;
    sched *s = w->s;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (s->count == 0 && s->live > 0)
            pthread_cond_wait(&s->cv, &s->mu);
        if (s->live == 0) {
            pthread_mutex_unlock(&s->mu);
            return NULL;
        }
        coro *c = s->q[s->head];
        s->head = (s->head + 1) % s->n;
        s->count--;
        pthread_mutex_unlock(&s->mu);

        int more = resume(c, w->index);

        pthread_mutex_lock(&s->mu);
        if (more) {
            s->q[(s->head + s->count) % s->n] = c;
            s->count++;
            pthread_cond_signal(&s->cv);
        } else if (--s->live == 0) {
            pthread_cond_broadcast(&s->cv);
        }
        pthread_mutex_unlock(&s->mu);
        if (!more)
            coro_free(c);
    }
}

void coro_run_all(coro **cos, size_t n, int threads)
{
    sched s = {.n = n, .count = n, .live = n};
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.cv, NULL);
    s.q = malloc(n * sizeof *s.q);
    if (!s.q)
        abort();
    for (size_t i = 0; i < n; i++)
        s.q[i] = cos[i];
    if (threads <= 1) {
        worker w = {&s, 0};
        (void)work(&w);
    } else {
        pthread_t *t = malloc((size_t)threads * sizeof *t);
        worker *w = malloc((size_t)threads * sizeof *w);
        if (!t || !w)
            abort();
        for (int i = 0; i < threads; i++) {
            w[i] = (worker){&s, i};
            if (pthread_create(&t[i], NULL, work, &w[i]) != 0)
                abort();
        }
        for (int i = 0; i < threads; i++)
            pthread_join(t[i], NULL);
        free(t);
        free(w);
    }
    free(s.q);
    pthread_cond_destroy(&s.cv);
    pthread_mutex_destroy(&s.mu);
}
