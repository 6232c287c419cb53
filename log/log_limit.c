/* SPDX-License-Identifier: MIT */
/*
 * Burst limits per call site: in each interval the first N records of a
 * site are written, then one in M; how many were suppressed is written in
 * one summary record after the interval.
 *
 * Lock-free: a fixed table of sites, found by open addressing on a key that
 * packs the file pointer and the line (claimed by compare-and-swap, never
 * given back), and per site one 64-bit word holding the interval's number
 * (its low WIN_BITS bits), the epoch of the configuration it was counted
 * under, and the count of the site's records in it. Every record moves the
 * word by one compare-and-swap: the thread that moves it into a new
 * interval (or a new configuration) alone sees the old count, and reports
 * the summary it owes, under the configuration that count was decided by;
 * log_flush() and log_limits_set() move the word of a site whose interval
 * has ended, or whose configuration was replaced, the same way. So each
 * interval's count is summarized exactly once, and by the limits its
 * records were written or suppressed under. The limits never log: the
 * core writes what they report (log__owed).
 */
#include "log/log_policy.h"
#include "log/base/log_lane.h"

#include <assert.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log/base/log_base.h"

#define SITES 4096 /* a power of two */
#define PROBES 32
#define LINE_BITS 17
#define PTR_BITS 47
#define WIN_BITS 22
#define EPOCH_BITS 6 /* configurations told apart in a word (modulo) */
#define COUNT_BITS (64 - WIN_BITS - EPOCH_BITS)
#define COUNT_MASK ((UINT64_C(1) << COUNT_BITS) - 1)
#define EPOCHS (1u << EPOCH_BITS)

typedef struct site {
    _Atomic uint64_t key;  /* 0: free */
    _Atomic uint64_t word; /* interval << (64 - WIN_BITS) | epoch << COUNT_BITS | count */
    _Atomic(log_logger *) lg;
    atomic_int level;
} site;

static site sites[SITES];
/* A configuration as published: never freed, since a record may still read
 * the one it loaded; every one made stays on a list (they are few: one per
 * log_limits_set() call). */
typedef struct conf_node {
    log_limits limits; /* first: published as a log_limits */
    unsigned epoch;    /* its number in the sites' words, < EPOCHS */
    struct conf_node *older;
} conf_node;
static _Atomic(const log_limits *) conf;
static conf_node *confs; /* under confs_lock */
static unsigned next_epoch; /* under confs_lock */
/* The configuration of each epoch in use: a count in a word is summarized
 * under the one it was counted by. Every change sweeps the words of older
 * epochs (log__limits_flush), so a slot is reused only after its counts
 * are gone. */
static _Atomic(const conf_node *) by_epoch[EPOCHS];
static atomic_bool ever_set; /* a sweep has something to look at */
static pthread_mutex_t confs_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_flag full_reported = ATOMIC_FLAG_INIT;

CTX__FORK_MUTEX(CTX__FORK_RANK_LIMITS, confs_lock)

static uint64_t coarse_ns(void *payload)
{
    (void)payload;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int log__limits_replace(const log_limits *limits)
{
    const log_limits *next = NULL;
    if (limits) {
        if (limits->version != LOG_LIMITS_VERSION || limits->first < 1 ||
            limits->then_one_in < 1 || limits->interval_ns < 1000000u ||
            (int)limits->exempt < LOG_LEVEL_TRACE || limits->exempt > LOG_LEVEL_OFF)
            return CTXLOG_EINVAL;
        conf_node *copy = malloc(sizeof *copy);
        if (!copy)
            return CTXLOG_ENOMEM;
        copy->limits = *limits;
        if (!copy->limits.clock)
            copy->limits.clock = coarse_ns;
        pthread_mutex_lock(&confs_lock);
        copy->older = confs;
        confs = copy;
        copy->epoch = next_epoch++ % EPOCHS;
        atomic_store(&by_epoch[copy->epoch], copy);
        pthread_mutex_unlock(&confs_lock);
        atomic_store(&ever_set, true);
        next = &copy->limits;
    }
    (void)atomic_exchange(&conf, next);
    if (next)
        atomic_fetch_or(&log__policies, LOG__POLICY_LIMITS);
    else
        atomic_fetch_and(&log__policies, ~LOG__POLICY_LIMITS);
    log__lanes_changed(); /* lanes serve records no policy may change */
    return 0;
}

static uint64_t window_of(uint64_t word)
{
    return word >> (64 - WIN_BITS);
}

static unsigned epoch_of(uint64_t word)
{
    return (unsigned)(word >> COUNT_BITS) & (EPOCHS - 1);
}

static uint64_t word_make(uint64_t win, unsigned epoch, uint64_t count)
{
    assert(count <= COUNT_MASK && epoch < EPOCHS);
    return win << (64 - WIN_BITS) | (uint64_t)epoch << COUNT_BITS | count;
}

/* The interval `c`'s clock is in now, as a word keeps it. */
static uint64_t window_now(const log_limits *c)
{
    return (c->clock(c->payload) / c->interval_ns) & ((UINT64_C(1) << WIN_BITS) - 1);
}

static const conf_node *node_of(const log_limits *c)
{
    return (const conf_node *)(const void *)c;
}

/* Records written among the first n of an interval. */
static uint64_t written(const log_limits *c, uint64_t n)
{
    if (n <= c->first)
        return n;
    return c->first + (n - c->first) / c->then_one_in;
}

void log__owed_fields(const log__owed *o, log_field f[LOG__OWED_FIELDS])
{
    f[0] = LOG_U64("suppressed", o->suppressed);
    f[1] = LOG_STR("limited_file", o->file);
    f[2] = LOG_I64("limited_line", o->line);
}

/* What a site's interval that counted `count` records under `c` owes:
 * nothing when none was suppressed. */
static bool owe(const log_limits *c, log_logger *lg, int level, const char *file, int line,
                uint64_t count, log__owed *o)
{
    uint64_t n = count - written(c, count);
    if (n == 0 || !lg)
        return false;
    *o = (log__owed){lg, level, file, line, n};
    return true;
}

static site *site_find(uint64_t key, log_logger *lg, int level)
{
    size_t i = (size_t)((key * 0x9e3779b97f4a7c15ull) >> 32) & (SITES - 1);
    for (int probe = 0; probe < PROBES; probe++, i = (i + 1) & (SITES - 1)) {
        site *s = &sites[i];
        uint64_t k = atomic_load_explicit(&s->key, memory_order_acquire);
        if (k == key)
            return s;
        if (k == 0) {
            if (atomic_compare_exchange_strong(&s->key, &k, key)) {
                atomic_store_explicit(&s->level, level, memory_order_relaxed);
                atomic_store_explicit(&s->lg, lg, memory_order_release);
                return s;
            }
            if (k == key)
                return s;
        }
    }
    if (!atomic_flag_test_and_set(&full_reported))
        log__report("more than %d call sites to limit: the records of the others are not "
                    "limited",
                    SITES);
    return NULL;
}

bool log__limit_pass(log_logger *lg, int level, const char *file, int line, log__owed *owed)
{
    owed->lg = NULL;
    const log_limits *c = atomic_load_explicit(&conf, memory_order_acquire);
    if (!c || level >= (int)c->exempt || !file || line < 0 ||
        line >= (1 << LINE_BITS) || (uintptr_t)file >> PTR_BITS)
        return true;
    uint64_t key = (uint64_t)(uintptr_t)file << LINE_BITS | (uint64_t)line;
    site *s = site_find(key, lg, level);
    if (!s)
        return true;
    uint64_t win = window_now(c);
    unsigned epoch = node_of(c)->epoch;
    uint64_t old = atomic_load_explicit(&s->word, memory_order_relaxed), next;
    bool same;
    for (;;) {
        if ((old & COUNT_MASK) && epoch_of(old) != epoch) {
            /* Counted under other limits: newer ones (published since this
             * record loaded `c`) decide this record too; older ones are
             * summarized under themselves. */
            const log_limits *now = atomic_load_explicit(&conf, memory_order_acquire);
            if (now != c) {
                if (!now || level >= (int)now->exempt)
                    return true;
                c = now;
                win = window_now(c);
                epoch = node_of(c)->epoch;
                old = atomic_load_explicit(&s->word, memory_order_relaxed);
                continue;
            }
        }
        same = (old & COUNT_MASK) && epoch_of(old) == epoch && window_of(old) == win;
        next = same ? old + 1 : word_make(win, epoch, 1);
        if (atomic_compare_exchange_weak_explicit(&s->word, &old, next, memory_order_relaxed,
                                                  memory_order_relaxed))
            break;
    }
    if (!same && (old & COUNT_MASK)) {
        const conf_node *oc = atomic_load(&by_epoch[epoch_of(old)]);
        (void)owe(oc ? &oc->limits : c, lg, level, file, line, old & COUNT_MASK, owed);
    }
    uint64_t k = next & COUNT_MASK;
    return k <= c->first || (k - c->first) % c->then_one_in == 0;
}

void log__limits_flush(bool all, void (*put)(const log__owed *o, void *arg), void *arg)
{
    if (!atomic_load_explicit(&ever_set, memory_order_acquire))
        return;
    const log_limits *c = atomic_load_explicit(&conf, memory_order_acquire);
    unsigned epoch = c ? node_of(c)->epoch : EPOCHS; /* EPOCHS: none current */
    uint64_t win = c ? window_now(c) : 0;
    for (size_t i = 0; i < SITES; i++) {
        site *s = &sites[i];
        uint64_t key = atomic_load_explicit(&s->key, memory_order_acquire);
        log_logger *lg = atomic_load_explicit(&s->lg, memory_order_acquire);
        if (!key || !lg)
            continue;
        uint64_t old = atomic_load_explicit(&s->word, memory_order_relaxed);
        for (;;) {
            /* A count of the current limits' current interval stays. */
            if ((old & COUNT_MASK) == 0 ||
                (!all && epoch_of(old) == epoch && window_of(old) == win))
                break;
            /* The interval and epoch stay; the count starts over (none yet). */
            uint64_t next = old & ~COUNT_MASK;
            if (atomic_compare_exchange_weak_explicit(&s->word, &old, next,
                                                      memory_order_relaxed,
                                                      memory_order_relaxed)) {
                const conf_node *oc = atomic_load(&by_epoch[epoch_of(old)]);
                log__owed o;
                if (oc && owe(&oc->limits, lg, atomic_load_explicit(&s->level, memory_order_relaxed),
                              (const char *)(uintptr_t)(key >> LINE_BITS),
                              (int)(key & ((1u << LINE_BITS) - 1)), old & COUNT_MASK, &o))
                    put(&o, arg);
                break;
            }
        }
    }
}
