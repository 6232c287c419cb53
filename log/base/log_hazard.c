/* SPDX-License-Identifier: MIT */
/*
 * Hazard pointers for routes. Each thread owns a few slots (logging calls
 * may nest a little); pinning writes only to the thread's own slots, and a
 * configuration change scans every thread's slots before freeing a route.
 *
 * A pin must be ordered before its re-check of the route (store, then
 * load). A full fence per record would cost every logging call a drain of
 * its store buffer; instead the fence is asymmetric, as in folly's hazard
 * pointers: the pin orders its store against the compiler only, and the
 * rare configuration change runs membarrier(2), which puts a full barrier
 * on every thread of the process, before it scans the slots. Where
 * membarrier is not available (old kernels, some sandboxes and tools), each
 * pin uses a sequentially consistent store.
 */
#include "log/base/log_hazard.h"

#include "log/base/log_base.h"

#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

typedef log__hazard hazard;

static pthread_mutex_t hazards_lock = PTHREAD_MUTEX_INITIALIZER;
static hazard *hazards;
static pthread_key_t hazard_key;
static pthread_once_t hazard_once = PTHREAD_ONCE_INIT;
CTX__TLS log__hazard *log__my_hazard;
CTX__TLS struct log__lane *log__my_lane1;
unsigned log__lane_epoch;
CTX__TLS unsigned log__sink_ops_running;

static void hazard_free(void *p)
{
    hazard *h = p;
    /* A thread ends outside any logging call: nothing pinned. */
    assert(h->depth == 0);
    for (unsigned k = 0; k < LOG__MAX_NESTING; k++)
        assert(!atomic_load(&h->slot[k]));
    pthread_mutex_lock(&hazards_lock);
    for (hazard **pp = &hazards; *pp; pp = &(*pp)->next) {
        if (*pp == h) {
            *pp = h->next;
            break;
        }
    }
    pthread_mutex_unlock(&hazards_lock);
    if (log__my_hazard == h) {
        log__my_hazard = NULL;
        log__my_lane1 = NULL;
    }
    free(h);
}

static void hazard_key_make(void)
{
    (void)pthread_key_create(&hazard_key, hazard_free);
}

/* 1: pins rely on membarrier() in log__wait_unpinned. Set once, before any
 * thread pins or scans (both go through asym_once first). */
atomic_int log__hazard_asym;
static pthread_once_t asym_once = PTHREAD_ONCE_INIT;

static int membarrier_register(void)
{
    return syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
}

static void asym_init(void)
{
    atomic_store(&log__hazard_asym, membarrier_register());
}

log__hazard *log__hazard_make(void)
{
    hazard *h = log__my_hazard;
    if (h)
        return h;
    (void)pthread_once(&hazard_once, hazard_key_make);
    (void)pthread_once(&asym_once, asym_init);
    h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->lane.level = LOG__LANE_SHUT;
    pthread_mutex_lock(&hazards_lock);
    h->next = hazards;
    hazards = h;
    pthread_mutex_unlock(&hazards_lock);
    (void)pthread_setspecific(hazard_key, h);
    log__my_hazard = h;
    log__my_lane1 = &h->lane;
    return h;
}

static void hazards_fork(int phase)
{
    if (phase == LOG__FORK_PREPARE) {
        pthread_mutex_lock(&hazards_lock);
        return;
    }
    if (phase == LOG__FORK_CHILD) {
        /* Only this thread exists here: the others' slots would pin their
         * routes forever. Their memory is the parent's threads' to free. */
        hazards = log__my_hazard;
        if (log__my_hazard)
            log__my_hazard->next = NULL;
        /* A new process: register it too, or pin the slow way (no other
         * thread can be pinning yet). */
        if (atomic_load(&log__hazard_asym) && !membarrier_register())
            atomic_store(&log__hazard_asym, 0);
    }
    pthread_mutex_unlock(&hazards_lock);
}
CTX__FORK_PART(CTX__FORK_RANK_HAZARDS, hazards_fork)

void log__wait_unpinned(struct log_route *const *routes, size_t n)
{
    (void)pthread_once(&asym_once, asym_init);
#ifndef NDEBUG
    /* Not from inside a record on one of these routes: this thread would
     * wait for itself (configuration calls refuse with CTXLOG_EBUSY). */
    const hazard *me = log__my_hazard;
    for (unsigned k = 0; me && k < me->depth && k < LOG__MAX_NESTING; k++)
        for (size_t i = 0; i < n; i++)
            assert(atomic_load(&me->slot[k]) != routes[i]);
#endif
    /* The routes were unpublished before this call, and the lanes are shut
     * now: after the barrier, every pin and every lane's busy mark made
     * before that is visible, and every later pin's re-check sees the new
     * route and lets the old one go, every later lane call the new epoch. */
    log__lanes_changed();
    if (atomic_load(&log__hazard_asym))
        (void)syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
    pthread_mutex_lock(&hazards_lock);
    for (hazard *h = hazards; h; h = h->next) {
        while (__atomic_load_n(&h->lane.busy, __ATOMIC_ACQUIRE))
            sched_yield(); /* a lane call is copying a record: nanoseconds */
        for (unsigned k = 0; k < LOG__MAX_NESTING; k++) {
            for (;;) {
                const struct log_route *p = atomic_load(&h->slot[k]);
                size_t i = 0;
                while (i < n && routes[i] != p)
                    i++;
                if (!p || i == n)
                    break;
                sched_yield();
            }
        }
    }
    pthread_mutex_unlock(&hazards_lock);
}
