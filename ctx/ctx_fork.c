/* SPDX-License-Identifier: MIT */
/*
 * The registry of fork() handlers (ctx_fork.h): filled by the parts'
 * constructors, sorted by rank, walked by one set of pthread_atfork
 * handlers.
 */
#include "ctx/ctx_fork.h"

#include <assert.h>
#include <pthread.h>
#include <stddef.h>

#define MAX_PARTS 32

typedef struct part {
    enum ctx__fork_rank rank;
    void (*fn)(int phase);
} part;

/* Written by constructors alone, before main and before any thread. */
static part parts[MAX_PARTS];
static size_t nparts;
static pthread_once_t once = PTHREAD_ONCE_INIT;

void ctx__fork_register(enum ctx__fork_rank rank, void (*fn)(int phase))
{
    assert(fn && nparts < MAX_PARTS);
    if (nparts == MAX_PARTS)
        return;
    /* Insertion in rank order; equal ranks keep their registration order. */
    size_t i = nparts++;
    for (; i > 0 && parts[i - 1].rank > rank; i--)
        parts[i] = parts[i - 1];
    parts[i] = (part){rank, fn};
}

static void prepare(void)
{
    for (size_t i = 0; i < nparts; i++)
        parts[i].fn(CTX__FORK_PREPARE);
}

static void parent(void)
{
    for (size_t i = nparts; i > 0; i--)
        parts[i - 1].fn(CTX__FORK_PARENT);
}

static void child(void)
{
    for (size_t i = nparts; i > 0; i--)
        parts[i - 1].fn(CTX__FORK_CHILD);
}

static void install(void)
{
    (void)pthread_atfork(prepare, parent, child);
}

void ctx__fork_install(void)
{
    (void)pthread_once(&once, install);
}
