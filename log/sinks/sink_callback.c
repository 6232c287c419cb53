/* SPDX-License-Identifier: MIT */
/* The callback sink: each record, with its text when the sink has a
 * formatter, goes to the user's function on the logging thread. It takes
 * records rather than lines, so it has no buffer and is not registered:
 * log_flush(), log_reopen() and the crash handler have nothing to do for
 * it. */
#include "log/sinks/sink_ops.h"

typedef struct callback_sink {
    log_sink base;
    log_sink_fn fn;
    void *payload;
} callback_sink;

static void callback_record(log_sink *s, const log_record *r, const char *text, size_t len)
{
    callback_sink *c = LOG__SINK_OF(callback_sink, s);
    c->fn(r, text, len, c->payload);
}

static const log__sink_ops callback_ops = {
    .name = "callback",
    .record = callback_record,
};

log_sink *log_sink_callback(log_sink_fn fn, void *payload)
{
    if (!fn)
        return NULL;
    log_sink *s = log__sink_new(&callback_ops, sizeof(callback_sink), "callback");
    if (!s)
        return NULL;
    LOG__SINK_OF(callback_sink, s)->fn = fn;
    LOG__SINK_OF(callback_sink, s)->payload = payload;
    return s;
}
