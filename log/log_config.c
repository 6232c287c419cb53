/*
 * The active configuration and its safe replacement.
 *
 * Readers (every logging call) pin the configuration with a hazard pointer
 * of their own thread; a writer swaps in a new configuration, then waits
 * until no thread's hazard still names the old one before releasing it. A
 * logging call thus touches only its own thread's cache line, and a sink is
 * never closed while a thread is writing to it.
 */
#include "log/log_internal.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formatters/fmt_json.h"

typedef struct hazard {
    _Atomic(const log_config *) pinned;
    unsigned depth; /* a log call inside a log call keeps the outer pin */
    struct hazard *next;
} hazard;

static _Atomic(log_config *) active;
static pthread_mutex_t config_lock = PTHREAD_MUTEX_INITIALIZER; /* writers */
static pthread_mutex_t hazards_lock = PTHREAD_MUTEX_INITIALIZER;
static hazard *hazards;
static pthread_key_t hazard_key;
static pthread_once_t hazard_once = PTHREAD_ONCE_INIT;
static __thread hazard *my_hazard __attribute__((tls_model("initial-exec")));
static int atexit_done;

static void hazard_free(void *p)
{
    hazard *h = p;
    pthread_mutex_lock(&hazards_lock);
    for (hazard **pp = &hazards; *pp; pp = &(*pp)->next) {
        if (*pp == h) {
            *pp = h->next;
            break;
        }
    }
    pthread_mutex_unlock(&hazards_lock);
    if (my_hazard == h)
        my_hazard = NULL;
    free(h);
}

static void hazard_key_make(void)
{
    (void)pthread_key_create(&hazard_key, hazard_free);
}

static hazard *hazard_get(void)
{
    hazard *h = my_hazard;
    if (h)
        return h;
    (void)pthread_once(&hazard_once, hazard_key_make);
    h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    pthread_mutex_lock(&hazards_lock);
    h->next = hazards;
    hazards = h;
    pthread_mutex_unlock(&hazards_lock);
    (void)pthread_setspecific(hazard_key, h);
    my_hazard = h;
    return h;
}

static void config_free(log_config *c)
{
    if (!c)
        return;
    for (unsigned i = 0; i < c->nsinks; i++)
        log__sink_unref(c->sinks[i]);
    free(c);
}

/* Publish `c` (may be NULL) and release the previous configuration once no
 * thread uses it. Caller holds config_lock. */
static void config_swap(log_config *c)
{
    log_config *old = atomic_exchange(&active, c);
    if (!old)
        return;
    pthread_mutex_lock(&hazards_lock);
    for (hazard *h = hazards; h; h = h->next)
        while (atomic_load(&h->pinned) == old)
            sched_yield();
    pthread_mutex_unlock(&hazards_lock);
    config_free(old);
}

static log_config *config_new_stdout(void)
{
    log_config *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->sinks[0] = log__sink_fd(STDOUT_FILENO, "stdout");
    if (!c->sinks[0]) {
        free(c);
        return NULL;
    }
    c->nsinks = 1;
    return c;
}

/* Build a configuration writing to `where`; with `fallback`, an unopenable
 * file falls back to stderr (after saying so) instead of failing. */
static int config_for_output(const char *where, int fallback, log_config **out)
{
    log_config *c = calloc(1, sizeof *c);
    if (!c)
        return CTXLOG_ENOMEM;
    int err = 0;
    log_sink *s = NULL;
    if (strcmp(where, "stdout") == 0) {
        s = log__sink_fd(STDOUT_FILENO, "stdout");
    } else if (strcmp(where, "stderr") == 0) {
        s = log__sink_fd(STDERR_FILENO, "stderr");
    } else {
        err = log__sink_file(where, &s);
        if (err == CTXLOG_EIO) {
            int e = errno;
            log__report("cannot open log file '%s': %s%s", where, strerror(e),
                        fallback ? "; writing to stderr instead" : "");
            if (fallback) {
                err = 0;
                s = log__sink_fd(STDERR_FILENO, "stderr");
            }
        }
    }
    if (!err && !s)
        err = CTXLOG_ENOMEM;
    if (err) {
        free(c);
        return err;
    }
    c->sinks[0] = s;
    c->nsinks = 1;
    *out = c;
    return 0;
}

static void at_exit(void)
{
    log_shutdown();
}

/* Read the environment and publish the result. On the implicit first read
 * (`implicit`), a level the application already chose is kept. Caller holds
 * config_lock. */
static int configure_env_locked(int implicit)
{
    int rc = 0;
    const char *lv = getenv("CTXLOG_LEVEL");
    log_level level = LOG_LEVEL_INFO;
    if (lv && *lv && log_level_parse(lv, &level) != 0) {
        log__report("CTXLOG_LEVEL='%s' is not a level (trace, debug, info, warn, error, "
                    "fatal, off); using info", lv);
        level = LOG_LEVEL_INFO;
        rc = CTXLOG_ECONFIG;
    }
    const char *fmt = getenv("CTXLOG_FORMAT");
    if (fmt && *fmt && strcmp(fmt, "json") != 0) {
        log__report("CTXLOG_FORMAT='%s' is not a known format (json); using json", fmt);
        rc = CTXLOG_ECONFIG;
    }
    const char *where = getenv("CTXLOG_OUTPUT");
    log_config *c = NULL;
    if (config_for_output(where && *where ? where : "stdout", 1, &c) != 0)
        c = config_new_stdout();
    if (!c)
        return CTXLOG_ENOMEM;
    config_swap(c);
    if (!implicit || !log__level_chosen())
        log__level_apply(level, 0);
    else
        log__gate_update();
    if (!atexit_done) {
        atexit_done = 1;
        atexit(at_exit);
    }
    return rc;
}

int log_configure_env(void)
{
    pthread_mutex_lock(&config_lock);
    int rc = configure_env_locked(0);
    pthread_mutex_unlock(&config_lock);
    return rc;
}

int log_output_set(const char *where)
{
    if (!where || !*where)
        return CTXLOG_EINVAL;
    pthread_mutex_lock(&config_lock);
    if (!atomic_load(&active))
        (void)configure_env_locked(1);
    log_config *c = NULL;
    int rc = config_for_output(where, 0, &c);
    if (rc == 0) {
        c->json_flags = atomic_load(&active) ? atomic_load(&active)->json_flags : 0;
        config_swap(c);
    }
    pthread_mutex_unlock(&config_lock);
    return rc;
}

const log_config *log__config_pin(void)
{
    static const log_config none = {.nsinks = 0};
    hazard *h = hazard_get();
    if (h && h->depth++ > 0)
        return atomic_load_explicit(&h->pinned, memory_order_relaxed);
    for (;;) {
        log_config *c = atomic_load(&active);
        if (!c) {
            pthread_mutex_lock(&config_lock);
            if (!atomic_load(&active))
                (void)configure_env_locked(1);
            pthread_mutex_unlock(&config_lock);
            c = atomic_load(&active);
            if (!c) {
                /* Out of memory: nowhere to write. */
                if (h)
                    atomic_store(&h->pinned, &none);
                return &none;
            }
        }
        if (!h)
            return c; /* cannot pin: still correct unless reconfigured right now */
        atomic_store(&h->pinned, c);
        if (atomic_load(&active) == c)
            return c;
    }
}

void log__config_unpin(void)
{
    hazard *h = my_hazard;
    if (h && --h->depth == 0)
        atomic_store_explicit(&h->pinned, NULL, memory_order_release);
}

int log_flush(void)
{
    /* Sinks write through to the kernel: nothing is held back in memory. */
    return 0;
}

void log_shutdown(void)
{
    pthread_mutex_lock(&config_lock);
    config_swap(NULL);
    /* The next record configures afresh; meanwhile let every call through. */
    __atomic_store_n(&log__gate, LOG_LEVEL_TRACE, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&config_lock);
}
