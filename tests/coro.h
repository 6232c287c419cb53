/* SPDX-License-Identifier: MIT */
/*
 * Stackful coroutines for the tests (ucontext), and a scheduler that runs
 * them round robin on N threads: with N = 1 they interleave on one thread,
 * with N > 1 a coroutine resumes on whichever thread takes it next (M:N).
 *
 * The scheduler is what a real one does for ctxlog: each coroutine owns a
 * ctx_fiber, switched in before the coroutine is resumed and out when it
 * yields. The stacks are known to valgrind, ThreadSanitizer and
 * AddressSanitizer (their fiber annotations), so those tools follow the
 * switches.
 */
#ifndef CTXLOG_TEST_CORO_H
#define CTXLOG_TEST_CORO_H

#include <stddef.h>

#include <ctxlog/ctx.h>

typedef struct coro coro;

/* A new coroutine that will run fn(arg) on its own stack, with a
 * ctx_fiber made now (a snapshot of the caller's context) unless
 * `with_fiber` is 0: then it runs in whatever state its thread has, as it
 * would under a scheduler that knows nothing of ctxlog. */
coro *coro_new(void (*fn)(void *arg), void *arg, int with_fiber);

/* Inside a coroutine: give the thread back to the scheduler. */
void coro_yield(void);

/* Run every coroutine of `cos` to its end, round robin, on `threads`
 * threads (1: on the calling thread alone); frees them as they end. */
void coro_run_all(coro **cos, size_t n, int threads);

/* Resume one coroutine on the calling thread, which the caller numbers
 * `thread`, until it yields or ends (switching its fiber in and out);
 * returns 1 while it has not ended. */
int coro_step(coro *c, int thread);

/* Free a coroutine (its fiber first, then its stack). */
void coro_free(coro *c);

/* The thread the coroutine last ran on (its index in coro_run_all, or
 * coro_step's number), and how many times it moved from one thread to another. */
int coro_last_thread(const coro *c);
unsigned coro_migrations(const coro *c);

#endif
