/* SPDX-License-Identifier: MIT */
/*
 * fork() handlers (private), for every part of the library that owns a
 * lock: each registers its handler beside the lock (CTX__FORK_PART), with
 * its place in the library's lock order, and one set of pthread_atfork
 * handlers calls them all. In prepare every part takes its locks, the
 * outermost first, so that the child starts with no lock held by a thread
 * it does not have; in parent and child each releases them, innermost
 * first, the child forgetting what belongs to the parent. No list of parts
 * is kept by hand: a part that is linked in is registered.
 *
 * It sits in ctx/, the lowest layer, so that the context store's own lock
 * (the innermost) is ordered with those of log/.
 */
#ifndef CTXLOG_CTX_FORK_H
#define CTXLOG_CTX_FORK_H

enum { CTX__FORK_PREPARE = 0, CTX__FORK_PARENT = 1, CTX__FORK_CHILD = 2 };

/*
 * The library's lock order, outermost first: a part's handler takes its
 * locks after those of every lower rank. A lock is never taken while one
 * of a higher rank is held.
 */
enum ctx__fork_rank {
    CTX__FORK_RANK_INIT = 10,     /* log/config: the set-up (log_configure_env, first record) */
    CTX__FORK_RANK_LOAD = 15,     /* log/config: loading a configuration file */
    CTX__FORK_RANK_KINDS = 17,    /* log/sinks: adding a sink kind (log__sink_kind_add) */
    CTX__FORK_RANK_LOGGERS = 20,  /* log: the loggers and routes */
    CTX__FORK_RANK_WRITER = 30,   /* log/async: the background writer */
    CTX__FORK_RANK_RINGS = 40,    /* log/async: the threads' queues */
    CTX__FORK_RANK_TBUFS = 50,    /* log/sinks: the threads' own buffers */
    CTX__FORK_RANK_SINKS = 60,    /* log/sinks: the registry of sinks, then each sink */
    CTX__FORK_RANK_HAZARDS = 70,  /* log/base: the threads' hazard slots */
    CTX__FORK_RANK_LIMITS = 80,   /* log: the burst limits' configurations */
    CTX__FORK_RANK_CTX_VARS = 90, /* ctx: the variables' registry */
};

/* Register `fn` (called with a CTX__FORK_* phase) at `rank`. From a
 * constructor only (CTX__FORK_PART), before any thread exists. */
void ctx__fork_register(enum ctx__fork_rank rank, void (*fn)(int phase));

/* Install the pthread_atfork handlers (once; any thread). */
void ctx__fork_install(void);

/* Register `fn` at `rank` when the program (or the library) is loaded. */
#define CTX__FORK_PART(rank, fn)                                                  \
    __attribute__((constructor)) static void fn##_fork_register(void)            \
    {                                                                             \
        ctx__fork_register(rank, fn);                                             \
    }

/* The handler of a part whose one lock is the pthread mutex `m`: taken
 * in prepare, released in parent and child (the child's copy of what it
 * guards is as the parent's was: nothing in it was half-changed). */
#define CTX__FORK_MUTEX(rank, m)                                                  \
    static void m##_fork(int phase)                                               \
    {                                                                             \
        if (phase == CTX__FORK_PREPARE)                                           \
            pthread_mutex_lock(&m);                                               \
        else                                                                      \
            pthread_mutex_unlock(&m);                                             \
    }                                                                             \
    CTX__FORK_PART(rank, m##_fork)

#endif /* CTXLOG_CTX_FORK_H */
