/* SPDX-License-Identifier: MIT */
/* The registry of declared context variables. */
#include "ctx/ctx_internal.h"

#include "ctx/ctx_fork.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Built-ins come first so that records list them first, in this order. */
static ctx_var builtins[] = {
    {.name = "request_id", .name_len = 10, .flags = CTX_VAR_LOGGED, .id = 0},
    {.name = "user_id", .name_len = 7, .flags = CTX_VAR_LOGGED, .id = 1},
    {.name = "tenant_id", .name_len = 9, .flags = CTX_VAR_LOGGED, .id = 2},
    /* W3C Trace Context (ctx_trace.c), stamped right after the request ids */
    {.name = "trace_id", .name_len = 8, .flags = CTX_VAR_LOGGED, .id = 3},
    {.name = "span_id", .name_len = 7, .flags = CTX_VAR_LOGGED, .id = 4},
    {.name = "trace_flags", .name_len = 11, .flags = CTX_VAR_LOGGED, .id = 5},
    /* kept for ctx_get() and CTX_SPAN, not stamped: see ctx.h */
    {.name = "parent_span_id", .name_len = 14, .flags = 0, .id = 6},
    /* private: not reachable through ctx_var_new() */
    {.name = "ctxlog.level_floor", .name_len = 18, .flags = 0, .id = 7},
    /* private: the request's replay buffer (log/log_replay.c) */
    {.name = "ctxlog.replay", .name_len = 13, .flags = 0, .id = 8},
};
#define NPUBLIC 7
#define NBUILTIN (sizeof builtins / sizeof builtins[0])

typedef struct node {
    struct node *next;
    ctx_var var;
    char name[];
} node;

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static node *registry;
static unsigned next_id = NBUILTIN;

CTX__FORK_MUTEX(CTX__FORK_RANK_CTX_VARS, registry_lock)

ctx_var *ctx_var_request_id(void) { return &builtins[0]; }
ctx_var *ctx_var_user_id(void) { return &builtins[1]; }
ctx_var *ctx_var_tenant_id(void) { return &builtins[2]; }
ctx_var *ctx_var_trace_id(void) { return &builtins[3]; }
ctx_var *ctx_var_span_id(void) { return &builtins[4]; }
ctx_var *ctx_var_trace_flags(void) { return &builtins[5]; }
ctx_var *ctx_var_parent_span_id(void) { return &builtins[6]; }
ctx_var *ctx__floor_var(void) { return &builtins[7]; }
ctx_var *ctx__replay_var(void) { return &builtins[8]; }

const char *ctx_var_name(const ctx_var *v)
{
    return v ? v->name : NULL;
}

ctx_var *ctx_var_new(const char *name, unsigned flags)
{
    if (!name || !*name)
        return NULL;
    size_t len = strlen(name);
    for (size_t i = 0; i < NPUBLIC; i++)
        if (strcmp(builtins[i].name, name) == 0)
            return &builtins[i];

    ctx__fork_install(); /* a child must not find registry_lock held */
    ctx_var *found = NULL;
    pthread_mutex_lock(&registry_lock);
    for (node *n = registry; n && !found; n = n->next)
        if (strcmp(n->name, name) == 0)
            found = &n->var;
    if (!found) {
        node *n = malloc(sizeof *n + len + 1);
        if (n) {
            memcpy(n->name, name, len + 1);
            n->var = (ctx_var){.name = n->name, .name_len = len,
                               .flags = flags & CTX_VAR_LOGGED, .id = next_id++};
            n->next = registry;
            registry = n;
            found = &n->var;
        }
    }
    pthread_mutex_unlock(&registry_lock);
    return found;
}
