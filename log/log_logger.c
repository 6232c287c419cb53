/* SPDX-License-Identifier: MIT */
/*
 * Named loggers: the registry, level inheritance along dotted names, child
 * loggers with bound fields, and the routes (filters and sinks) records take.
 *
 * Configuration calls take the registry lock, recompute every logger's
 * effective level and route, publish them, and only then (outside the lock)
 * wait for threads still using an old route before releasing it.
 */
#include "log/log_internal.h"
#include "log/base/log_lane.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;

/* The root's effective level is log__gate itself, read by the macros. */
int log__gate = LOG_LEVEL_TRACE;

static log__filter root_ctx_filter[] = {{log__filter_ctx, NULL}};

static log_logger root = {
    .head = {.gate = &log__gate},
    .name = "root",
    .owner = &root,
    .level = LOG_LEVEL_INFO,
    .effective = LOG_LEVEL_INFO,
    .additive = true,
};
static int ctx_filter_on = 1;
static log_logger *last = &root; /* tail of the registry list */

log_logger *const log__root_logger = &root;

static int *gate_of(log_logger *lg)
{
    return lg == &root ? &log__gate : &lg->effective;
}

/* ---- routes ---------------------------------------------------------------- */

static void route_free(log_route *r)
{
    if (!r)
        return;
    for (unsigned i = 0; i < r->nsinks; i++)
        log_sink_release(r->sinks[i]);
    free(r);
}

/* The route of `lg`: filters from the root down to it, sinks from it up to
 * the first non-additive logger. One allocation. */
static log_route *route_build(log_logger *lg)
{
    unsigned nf = ctx_filter_on ? 1 : 0, ns = 0;
    for (log_logger *p = lg; p; p = p->parent)
        nf += p->nfilters;
    for (log_logger *p = lg; p; p = p->additive ? p->parent : NULL)
        ns += p->nsinks;
    log_route *r = malloc(sizeof *r + nf * sizeof(log__filter) + ns * sizeof(log_sink *));
    if (!r)
        return NULL;
    r->filters = (log__filter *)(void *)(r + 1);
    r->sinks = (log_sink **)(void *)(r->filters + nf);
    r->nfilters = nf;
    r->nsinks = ns;
    /* Filters root first: fill from the end, walking up. */
    unsigned f = nf;
    for (log_logger *p = lg; p; p = p->parent)
        for (unsigned i = p->nfilters; i > 0; i--)
            r->filters[--f] = p->filters[i - 1];
    if (ctx_filter_on)
        r->filters[--f] = root_ctx_filter[0];
    r->ctx_only = nf == (ctx_filter_on ? 1u : 0u);
    unsigned s = 0;
    for (log_logger *p = lg; p; p = p->additive ? p->parent : NULL)
        for (unsigned i = 0; i < p->nsinks; i++)
            r->sinks[s++] = log__sink_ref(p->sinks[i]);
    r->line_sink = ctx_filter_on && nf == 1 && ns == 1 && log__sink_takes_cached_lines(r->sinks[0])
                      ? r->sinks[0]
                      : NULL;
    return r;
}

/* Recompute every logger's effective level; caller holds the registry lock.
 * Levels live outside the routes (the gates the macros read), so this
 * allocates nothing and waits for no thread. */
static void levels_update(void)
{
    /* Parents come before children in the list: inherit top-down. */
    for (log_logger *p = &root; p; p = p->next) {
        int eff = p->level != LOG_LEVEL_INHERIT ? p->level : *gate_of(p->parent);
        __atomic_store_n(gate_of(p), eff, __ATOMIC_RELAXED);
    }
    log__lanes_changed(); /* lanes hold the levels they serve */
}

/* Recompute levels and routes of every logger; caller holds the registry
 * lock and passes back the old routes to release with routes_retire(). */
static int rebuild(log_route ***old_out, size_t *nold)
{
    size_t n = 0;
    for (log_logger *p = &root; p; p = p->next)
        n++;
    log_route **old = calloc(n, sizeof *old);
    log_route **fresh = calloc(n, sizeof *fresh);
    if (!old || !fresh) {
        free(old);
        free(fresh);
        return CTXLOG_ENOMEM;
    }
    size_t i = 0;
    for (log_logger *p = &root; p; p = p->next, i++) {
        fresh[i] = route_build(p);
        if (!fresh[i]) {
            while (i > 0)
                route_free(fresh[--i]);
            free(old);
            free(fresh);
            return CTXLOG_ENOMEM;
        }
    }
    levels_update();
    i = 0;
    for (log_logger *p = &root; p; p = p->next, i++)
        old[i] = atomic_exchange(&p->route, fresh[i]);
    free(fresh);
    *old_out = old;
    *nold = n;
    return 0;
}

static void routes_retire(log_route **old, size_t n)
{
    log__wait_unpinned(old, n);
    log__async_drain(); /* no record queued for a sink that goes */
    for (size_t i = 0; i < n; i++)
        route_free(old[i]);
    free(old);
}

/* Run `change` under the registry lock, then rebuild and retire.
 * From inside a record (a filter or a callback sink of this thread) it
 * changes nothing and returns CTXLOG_EBUSY: the thread pins the route it is
 * running, so retiring that route would wait for the thread itself forever,
 * and freeing it without waiting would pull the route from under the
 * record. Deferring the release to the record's end would cost every
 * record's unpin a check; configuring from a filter is rare enough to say
 * no instead. */
static int reconfigure(int (*change)(void *arg), void *arg)
{
    if (log__in_record())
        return CTXLOG_EBUSY;
    log_route **old = NULL;
    size_t nold = 0;
    pthread_mutex_lock(&registry_lock);
    int rc = change ? change(arg) : 0;
    if (rc == 0)
        rc = rebuild(&old, &nold);
    pthread_mutex_unlock(&registry_lock);
    if (old)
        routes_retire(old, nold);
    return rc;
}

CTX__FORK_MUTEX(CTX__FORK_RANK_LOGGERS, registry_lock)

/* ---- the registry ------------------------------------------------------------ */

static log_logger *find(const char *name, size_t len)
{
    for (log_logger *p = root.next; p; p = p->next)
        if (strlen(p->name) == len && memcmp(p->name, name, len) == 0)
            return p;
    return NULL;
}

/* Create `name` (and its missing ancestors). Registry lock held. */
static log_logger *create(const char *name, size_t len)
{
    log_logger *lg = find(name, len);
    if (lg)
        return lg;
    log_logger *parent = &root;
    const char *dot = NULL;
    for (size_t i = len; i > 0; i--) {
        if (name[i - 1] == '.') {
            dot = name + i - 1;
            break;
        }
    }
    if (dot && dot > name) {
        parent = create(name, (size_t)(dot - name));
        if (!parent)
            return NULL;
    }
    lg = calloc(1, sizeof *lg + len + 1);
    if (!lg)
        return NULL;
    char *copy = (char *)(lg + 1);
    memcpy(copy, name, len);
    copy[len] = '\0';
    lg->name = copy;
    lg->owner = lg;
    lg->parent = parent;
    lg->level = LOG_LEVEL_INHERIT;
    lg->effective = *gate_of(parent);
    lg->head.gate = &lg->effective;
    lg->additive = true;
    atomic_init(&lg->route, route_build(lg));
    if (!atomic_load(&lg->route)) {
        free(lg);
        return NULL;
    }
    last->next = lg;
    last = lg;
    return lg;
}

log_logger *log_get(const char *name)
{
    if (!name || !*name || strcmp(name, "root") == 0)
        return &root;
    pthread_mutex_lock(&registry_lock);
    log_logger *lg = create(name, strlen(name));
    pthread_mutex_unlock(&registry_lock);
    return lg;
}

const char *log_logger_name(const log_logger *lg)
{
    return lg ? lg->name : root.name;
}

log_level log_logger_level(const log_logger *lg)
{
    const log_logger *o = lg ? lg->owner : &root;
    return (log_level)__atomic_load_n(o->head.gate, __ATOMIC_RELAXED);
}

int log_logger_set_level(log_logger *lg, log_level level)
{
    lg = lg ? lg->owner : &root;
    if ((int)level < LOG_LEVEL_INHERIT || level > LOG_LEVEL_OFF ||
        (lg == &root && level == LOG_LEVEL_INHERIT))
        return CTXLOG_EINVAL;
    /* Levels are not part of the routes: no route is rebuilt, so this
     * cannot run out of memory and works from a filter or a callback sink
     * too (no wait for the routes in use). */
    pthread_mutex_lock(&registry_lock);
    lg->level = (int)level;
    levels_update();
    pthread_mutex_unlock(&registry_lock);
    return 0;
}

/* ---- sinks and filters ------------------------------------------------------- */

struct sink_arg {
    log_logger *lg;
    log_sink *sink;
};

/* Whether the root's one sink is the default output, installed by the
 * implicit configuration of the first record (registry lock). */
static bool root_default;

/* Registry lock held. The sinks' last references go with the old routes. */
static void clear_sinks(log_logger *lg)
{
    for (unsigned i = 0; i < lg->nsinks; i++)
        log_sink_release(lg->sinks[i]);
    free(lg->sinks);
    lg->sinks = NULL;
    lg->nsinks = 0;
    if (lg == &root)
        root_default = false;
}

static int do_add_sink(void *p)
{
    struct sink_arg *a = p;
    /* The first sink the application adds to the root replaces the default
     * output, whether it was installed already or not (see sink.h). */
    bool replace = a->lg == &root && root_default;
    size_t keep = replace ? 0 : a->lg->nsinks;
    log_sink **grown = replace ? malloc(sizeof *grown)
                               : realloc(a->lg->sinks, (keep + 1) * sizeof *grown);
    if (!grown)
        return CTXLOG_ENOMEM;
    if (replace)
        clear_sinks(&root);
    assert(a->lg->nsinks == keep);
    a->lg->sinks = grown;
    a->lg->sinks[a->lg->nsinks++] = log__sink_ref(a->sink);
    atomic_store(&a->sink->attached, true);
    return 0;
}

int log_logger_add_sink(log_logger *lg, log_sink *s)
{
    if (!s)
        return CTXLOG_EINVAL;
    struct sink_arg a = {lg ? lg->owner : &root, s};
    return reconfigure(do_add_sink, &a);
}

static int do_clear_sinks(void *p)
{
    clear_sinks(p);
    return 0;
}

int log_logger_clear_sinks(log_logger *lg)
{
    return reconfigure(do_clear_sinks, lg ? lg->owner : &root);
}

struct root_sink_arg {
    log_sink *sink;
    bool is_default;
};

static int do_set_root_sink(void *p)
{
    struct root_sink_arg *a = p;
    if (a->is_default && root.nsinks)
        return 0; /* the application's sinks, added meanwhile, stay */
    clear_sinks(&root);
    struct sink_arg add = {&root, a->sink};
    int rc = do_add_sink(&add);
    root_default = rc == 0 && a->is_default;
    return rc;
}

int log__root_set_sink(log_sink *s, int is_default)
{
    struct root_sink_arg a = {s, is_default != 0};
    return reconfigure(do_set_root_sink, &a);
}

int log__root_has_sinks(void)
{
    pthread_mutex_lock(&registry_lock);
    int has = root.nsinks > 0;
    pthread_mutex_unlock(&registry_lock);
    return has;
}

struct additive_arg {
    log_logger *lg;
    bool additive;
};

static int do_set_additive(void *p)
{
    struct additive_arg *a = p;
    a->lg->additive = a->additive;
    return 0;
}

int log_logger_set_additive(log_logger *lg, bool additive)
{
    struct additive_arg a = {lg ? lg->owner : &root, additive};
    return reconfigure(do_set_additive, &a);
}

struct filter_arg {
    log_logger *lg;
    log__filter filter;
};

static int do_add_filter(void *p)
{
    struct filter_arg *a = p;
    log__filter *grown = realloc(a->lg->filters, (a->lg->nfilters + 1) * sizeof *grown);
    if (!grown)
        return CTXLOG_ENOMEM;
    a->lg->filters = grown;
    a->lg->filters[a->lg->nfilters++] = a->filter;
    return 0;
}

int log_logger_add_filter(log_logger *lg, log_filter_fn fn, void *payload)
{
    if (!fn)
        return CTXLOG_EINVAL;
    struct filter_arg a = {lg ? lg->owner : &root, {fn, payload}};
    return reconfigure(do_add_filter, &a);
}

static int do_clear_filters(void *p)
{
    log_logger *lg = p;
    free(lg->filters);
    lg->filters = NULL;
    lg->nfilters = 0;
    return 0;
}

int log_logger_clear_filters(log_logger *lg)
{
    return reconfigure(do_clear_filters, lg ? lg->owner : &root);
}

static int do_ctx_filter(void *p)
{
    ctx_filter_on = *(bool *)p;
    return 0;
}

void log_context_filter_enable(bool on)
{
    (void)reconfigure(do_ctx_filter, &on);
}

/* Room for every sink `a` gives, on each logger it names, without changing
 * what any logger holds (so that a failure leaves everything as it was). */
static int replace_reserve(const struct log__replace *a)
{
    for (size_t i = 0; i < a->n; i++) {
        log_logger *lg = a->confs[i].lg->owner;
        size_t need = 0;
        for (size_t j = 0; j < a->n; j++) {
            if (a->confs[j].lg->owner != lg)
                continue;
            if (j < i)
                break; /* reserved with the first entry of this logger */
            need += a->confs[j].nsinks;
        }
        if (need == 0)
            continue;
        log_sink **grown = realloc(lg->sinks, (lg->nsinks + need) * sizeof *grown);
        if (!grown)
            return CTXLOG_ENOMEM;
        lg->sinks = grown;
    }
    return 0;
}

static int do_replace(void *p)
{
    const struct log__replace *a = p;
    int rc = replace_reserve(a);
    if (rc)
        return rc;
    /* Back to the defaults; the sink arrays stay allocated (they have the
     * room reserved). Filters stay: a configuration file cannot describe
     * them, and a redaction filter added in code must survive a file
     * loaded later. */
    for (log_logger *lg = &root; lg; lg = lg->next) {
        lg->level = lg == &root ? (int)a->root_level : LOG_LEVEL_INHERIT;
        lg->additive = true;
        for (unsigned i = 0; i < lg->nsinks; i++)
            log_sink_release(lg->sinks[i]);
        lg->nsinks = 0;
    }
    for (size_t i = 0; i < a->n; i++) {
        const log__logger_conf *c = &a->confs[i];
        log_logger *lg = c->lg->owner;
        if (c->has_level)
            lg->level = (int)c->level;
        if (c->has_additive)
            lg->additive = c->additive;
        for (size_t k = 0; k < c->nsinks; k++) {
            lg->sinks[lg->nsinks++] = log__sink_ref(c->sinks[k]);
            atomic_store(&c->sinks[k]->attached, true);
        }
    }
    return 0;
}

int log__loggers_replace(const struct log__replace *conf)
{
    /* One reconfiguration: the levels and routes of every logger are
     * published together, so each record takes either the old routes or
     * the new ones, never a state in between (such as a root without
     * sinks, whose records would be lost). */
    return reconfigure(do_replace, (void *)conf);
}

static int do_clear_all_sinks(void *p)
{
    (void)p;
    for (log_logger *lg = &root; lg; lg = lg->next)
        clear_sinks(lg);
    return 0;
}

void log__sinks_clear_all(void)
{
    (void)reconfigure(do_clear_all_sinks, NULL);
}


/* ---- child loggers -------------------------------------------------------------- */

static void bound_free(log_field *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free((char *)f[i].key);
        if (f[i].type == LOG_FIELD_STR)
            free((char *)f[i].v.s);
        else if (f[i].type == LOG_FIELD_JSON)
            json_decref((json_t *)f[i].v.json);
    }
    free(f);
}

log_logger *log_logger_child(log_logger *parent, const log_field *fields, size_t n)
{
    if (!fields && n)
        return NULL;
    log_logger *owner = parent ? parent->owner : &root;
    log_logger *lg = calloc(1, sizeof *lg);
    log_field *copy = calloc(n ? n : 1, sizeof *copy);
    if (!lg || !copy) {
        free(lg);
        free(copy);
        return NULL;
    }
    /* A child of a child keeps its parent's fields, then adds its own. */
    size_t base = parent && parent != owner ? parent->nbound : 0;
    if (base) {
        log_field *grown = realloc(copy, (base + n) * sizeof *copy);
        if (!grown) {
            free(lg);
            free(copy);
            return NULL;
        }
        copy = grown;
    }
    size_t k = 0;
    int ok = 1;
    for (size_t i = 0; i < base + n && ok; i++, k++) {
        const log_field *src = i < base ? &parent->bound[i] : &fields[i - base];
        copy[k] = *src;
        copy[k].key = strdup(src->key ? src->key : "(null)");
        ok = copy[k].key != NULL;
        if (src->type == LOG_FIELD_STR && src->v.s) {
            copy[k].v.s = strdup(src->v.s);
            ok = ok && copy[k].v.s;
        } else if (src->type == LOG_FIELD_JSON && src->v.json) {
            copy[k].v.json = json_incref((json_t *)src->v.json);
        }
    }
    if (!ok) {
        bound_free(copy, k);
        free(lg);
        return NULL;
    }
    lg->head.gate = owner->head.gate;
    lg->name = owner->name;
    lg->owner = owner;
    lg->parent = owner->parent;
    lg->bound = copy;
    lg->nbound = k;
    return lg;
}

void log_logger_free(log_logger *child)
{
    if (!child || child->owner == child)
        return;
    bound_free(child->bound, child->nbound);
    free(child);
}
