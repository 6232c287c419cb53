/*
 * The logging calls: build a record on the calling thread (message, time,
 * context fields), format it once with each sink's formatter, write it.
 *
 * Per-thread buffers are reused from record to record, so the steady state
 * allocates nothing. A call made while the same thread is already inside one
 * (a log call from a json_t dump, say) gets fresh buffers of its own.
 */
#include "log/log_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ctx/ctx_internal.h"
#include "formatters/fmt_json.h"

typedef struct scratch {
    fmt_buf msg;         /* the printf-formatted message */
    fmt_buf out;         /* the formatted record */
    log_field *ctx;      /* context fields */
    size_t ctx_cap;
    long tid;
    int busy;
} scratch;

/* Buffers that grew past this are given back after the record. */
#define KEEP_BYTES (64 * 1024)

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static __thread scratch *my_scratch __attribute__((tls_model("initial-exec")));

static void scratch_free(void *p)
{
    scratch *s = p;
    fmt_buf_free(&s->msg);
    fmt_buf_free(&s->out);
    free(s->ctx);
    if (my_scratch == s)
        my_scratch = NULL;
    free(s);
}

static void scratch_key_make(void)
{
    (void)pthread_key_create(&scratch_key, scratch_free);
}

static scratch *scratch_get(int *temporary)
{
    scratch *s = my_scratch;
    *temporary = 0;
    if (s && !s->busy) {
        s->busy = 1;
        return s;
    }
    s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->tid = (long)syscall(SYS_gettid);
    s->busy = 1;
    if (my_scratch) {
        *temporary = 1; /* re-entered: the thread's own buffers are in use */
        return s;
    }
    (void)pthread_once(&scratch_once, scratch_key_make);
    (void)pthread_setspecific(scratch_key, s);
    my_scratch = s;
    return s;
}

static void scratch_put(scratch *s, int temporary)
{
    if (temporary) {
        scratch_free(s);
        return;
    }
    if (s->msg.cap > KEEP_BYTES)
        fmt_buf_free(&s->msg);
    if (s->out.cap > KEEP_BYTES)
        fmt_buf_free(&s->out);
    s->busy = 0;
}

/* Pin the configuration and tell whether `level` is written at all. The
 * macros' gate is only a first, coarse test. On true, unpin after emit(). */
static int enabled(log_level level, const log_config **cfg)
{
    *cfg = log__config_pin();
    if ((int)level >= log__root_level() && (*cfg)->nsinks > 0)
        return 1;
    log__config_unpin();
    return 0;
}

static void emit(const log_config *cfg, scratch *sc, log_level level, const char *file, int line,
                 const char *func, const char *msg, size_t msg_len, const log_field *fields,
                 size_t nfields)
{
    log_record r = {
        .level = level,
        .logger = "root",
        .msg = msg,
        .msg_len = msg_len,
        .fields = fields,
        .n_fields = nfields,
        .file = file,
        .line = line,
        .func = func,
        .thread_id = sc->tid,
    };
    clock_gettime(CLOCK_REALTIME, &r.time);
    r.n_ctx_fields = log__filter_ctx(ctx__current(), &sc->ctx, &sc->ctx_cap);
    r.ctx_fields = sc->ctx;

    fmt_buf_clear(&sc->out);
    if (fmt_json_record(&r, cfg->json_flags, &sc->out) != 0) {
        log__count_dropped(1);
        log__report("out of memory formatting a record of %zu bytes; it is lost", msg_len);
    } else {
        for (unsigned i = 0; i < cfg->nsinks; i++)
            if ((int)level >= (int)cfg->sinks[i]->level)
                log__sink_write(cfg->sinks[i], sc->out.data, sc->out.len);
    }
}

void log__printf(log_level level, const char *file, int line, const char *func,
                 const char *fmt, ...)
{
    const log_config *cfg;
    if (!enabled(level, &cfg))
        return;
    int temporary;
    scratch *sc = scratch_get(&temporary);
    if (!sc) {
        log__count_dropped(1);
        log__config_unpin();
        return;
    }
    const char *msg = "";
    size_t len = 0;
    if (fmt) {
        fmt_buf_clear(&sc->msg);
        (void)fmt_buf_reserve(&sc->msg, 256);
        va_list ap;
        va_start(ap, fmt);
        int n = sc->msg.oom ? -1 : vsnprintf(sc->msg.data, sc->msg.cap, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n >= sc->msg.cap && fmt_buf_reserve(&sc->msg, (size_t)n + 1) == 0) {
            va_start(ap, fmt);
            n = vsnprintf(sc->msg.data, sc->msg.cap, fmt, ap);
            va_end(ap);
        }
        if (n >= 0 && (size_t)n < sc->msg.cap) {
            msg = sc->msg.data;
            len = (size_t)n;
        } else {
            msg = fmt; /* the format failed (bad conversion, out of memory) */
            len = strlen(fmt);
        }
    }
    emit(cfg, sc, level, file, line, func, msg, len, NULL, 0);
    scratch_put(sc, temporary);
    log__config_unpin();
}

void log__kv(log_level level, const char *file, int line, const char *func, const char *msg,
             const log_field *fields, size_t nfields)
{
    const log_config *cfg;
    if (!enabled(level, &cfg))
        return;
    int temporary;
    scratch *sc = scratch_get(&temporary);
    if (!sc) {
        log__count_dropped(1);
        log__config_unpin();
        return;
    }
    if (!fields)
        nfields = 0;
    emit(cfg, sc, level, file, line, func, msg ? msg : "", msg ? strlen(msg) : 0, fields,
         nfields);
    scratch_put(sc, temporary);
    log__config_unpin();
}
