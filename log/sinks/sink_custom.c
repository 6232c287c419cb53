/* SPDX-License-Identifier: MIT */
/*
 * Users' own transports (log_sink_custom): a sink that takes lines like a
 * file sink — the same thread buffers, shared buffer and async batches in
 * front of it — and hands each batch of whole lines to the user's write.
 *
 * The user's operations run under the sink's lock, so a record they logged
 * would wait for that lock (or for a thread buffer the caller holds): they
 * run with the thread's records refused (log__records_refuse), so that
 * such a record is dropped and counted instead.
 */
#include "log/sinks/sink_ops.h"

#include "log/base/log_hazard.h"
#include "ctx/ctx_fork.h"

#include <stddef.h>
#include <string.h>

#include "formatters/fmt_formatter.h"

typedef struct custom_sink {
    log_sink base;
    log_sink_ops ops;     /* the user's, copied */
    void *state;
    unsigned reopen_seen; /* log__reopen_generation when last reopened or made */
} custom_sink;

/* The user's non-zero result as an errno value for the report. */
static int as_errno(int rc)
{
    return rc > 0 ? rc : EIO;
}

/* Lock held: the user's reopen, reported when it fails. Returns 0 or
 * CTXLOG_EIO. */
static int reopen_locked(custom_sink *c)
{
    if (!c->ops.reopen)
        return 0;
    unsigned g = log__records_refuse();
    int rc = c->ops.reopen(c->state);
    log__records_allow(g);
    if (rc == 0)
        return 0;
    log__report("cannot reopen %s (error %d); still writing to it", c->base.name, rc);
    return CTXLOG_EIO;
}

static int custom_write_lines(log_sink *s, const char *p, size_t len, unsigned gen,
                              size_t *done)
{
    LOG__ASSERT_LOCKED(s);
    custom_sink *c = LOG__SINK_OF(custom_sink, s);
    if (c->ops.reopen && log__reopen_due(&c->reopen_seen, gen))
        (void)reopen_locked(c);
    *done = 0; /* a failed batch is lost whole */
    unsigned g = log__records_refuse();
    int rc = c->ops.write(c->state, p, len);
    log__records_allow(g);
    return rc ? as_errno(rc) : 0;
}

static int custom_flush(log_sink *s)
{
    LOG__ASSERT_LOCKED(s);
    custom_sink *c = LOG__SINK_OF(custom_sink, s);
    if (!c->ops.flush)
        return 0;
    unsigned g = log__records_refuse();
    int rc = c->ops.flush(c->state);
    log__records_allow(g);
    return rc ? as_errno(rc) : 0;
}

static int custom_reopen(log_sink *s)
{
    LOG__ASSERT_LOCKED(s);
    custom_sink *c = LOG__SINK_OF(custom_sink, s);
    c->reopen_seen = atomic_load(&log__reopen_generation);
    return reopen_locked(c);
}

static void custom_fork_phase(log_sink *s, log_fork_phase phase)
{
    custom_sink *c = LOG__SINK_OF(custom_sink, s);
    if (c->ops.fork)
        c->ops.fork(c->state, phase);
}

static void custom_close(log_sink *s)
{
    custom_sink *c = LOG__SINK_OF(custom_sink, s);
    if (!c->ops.close)
        return;
    unsigned g = log__records_refuse();
    c->ops.close(c->state);
    log__records_allow(g);
}

/* No writev: the async writer's records go through the shared buffer, so
 * the user gets batches rather than one call per record. No crash_write:
 * the user's write need not be async-signal-safe. */
static const log__sink_ops custom_ops = {
    .name = "custom",
    .write_lines = custom_write_lines,
    .flush = custom_flush,
    .reopen = custom_reopen,
    .close = custom_close,
    .fork_phase = custom_fork_phase,
};

/* The size of the operations a caller built against `version` passes. */
static size_t ops_size(unsigned version)
{
    switch (version) {
    case 1:
        return offsetof(log_sink_ops, fork);
    case LOG_SINK_OPS_VERSION:
        return sizeof(log_sink_ops);
    default:
        return 0;
    }
}

int log_sink_custom(log_sink **out, const log_sink_ops *ops, void *state)
{
    if (!out)
        return CTXLOG_EINVAL;
    *out = NULL;
    if (!ops || !ops_size(ops->version) || !ops->write)
        return CTXLOG_EINVAL;
    /* Registering it from a user's sink operation would wait for the
     * registry of sinks, which the operation's thread may hold. */
    if (log__in_sink_op())
        return CTXLOG_EBUSY;
    log_sink *s = log__sink_new(&custom_ops, sizeof(custom_sink), "custom sink");
    if (!s)
        return CTXLOG_ENOMEM;
    custom_sink *c = LOG__SINK_OF(custom_sink, s);
    memcpy(&c->ops, ops, ops_size(ops->version)); /* later members stay NULL */
    c->ops.version = LOG_SINK_OPS_VERSION;
    c->state = state;
    c->reopen_seen = atomic_load(&log__reopen_generation);
    s->formatter = fmt_formatter_retain(fmt_formatter_default());
    s->json = fmt_formatter_json_options(s->formatter);
    s->buffered = true;
    if (c->ops.fork)
        ctx__fork_install(); /* its fork op is due from now on, records or not */
    log__sink_register(s);
    *out = s;
    return 0;
}
