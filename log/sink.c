/* The sink object: refcounting, level, formatter, and the stdout, stderr and
 * callback sinks. Files are in sink_file.c. */
#include "log/log_internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formatters/fmt_formatter.h"

static log_sink *sink_new(enum log__sink_kind kind, const char *name)
{
    log_sink *s = calloc(1, sizeof *s);
    char *copy = s ? strdup(name) : NULL;
    if (!copy) {
        free(s);
        return NULL;
    }
    atomic_init(&s->refs, 1);
    atomic_init(&s->level, LOG_LEVEL_TRACE);
    s->kind = kind;
    s->name = copy;
    s->fd = -1;
    pthread_mutex_init(&s->lock, NULL);
    /* A reopen waiting for the descriptor goes before new writers: with
     * many threads writing, readers could otherwise keep it out. */
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    (void)pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&s->fd_lock, &ra);
    pthread_rwlockattr_destroy(&ra);
    return s;
}

static log_sink *fd_sink(int fd, const char *name)
{
    log_sink *s = sink_new(LOG__SINK_FD, name);
    if (!s)
        return NULL;
    s->fd = fd;
    s->tty = isatty(fd) == 1;
    s->formatter = fmt_formatter_retain(fmt_formatter_default());
    s->json = fmt_formatter_json_options(s->formatter);
    log__sink_register(s);
    return s;
}

log_sink *log_sink_stdout(void)
{
    return fd_sink(STDOUT_FILENO, "stdout");
}

log_sink *log_sink_stderr(void)
{
    return fd_sink(STDERR_FILENO, "stderr");
}

log_sink *log__sink_alloc_file(const char *path)
{
    log_sink *s = sink_new(LOG__SINK_FILE, path);
    if (s) {
        s->formatter = fmt_formatter_retain(fmt_formatter_default());
        s->json = fmt_formatter_json_options(s->formatter);
    }
    return s; /* registered once opened */
}

log_sink *log_sink_callback(log_sink_fn fn, void *payload)
{
    if (!fn)
        return NULL;
    log_sink *s = sink_new(LOG__SINK_CALLBACK, "callback");
    if (!s)
        return NULL;
    s->fn = fn;
    s->payload = payload;
    return s;
}

int log_sink_set_level(log_sink *s, log_level level)
{
    if (!s || (int)level < LOG_LEVEL_TRACE || level > LOG_LEVEL_OFF)
        return CTXLOG_EINVAL;
    atomic_store_explicit(&s->level, (int)level, memory_order_relaxed);
    return 0;
}

int log_sink_set_formatter(log_sink *s, log_formatter *f)
{
    if (!s)
        return CTXLOG_EINVAL;
    /* Records read the formatter without a lock: it is fixed from the
     * moment the sink is attached. */
    if (atomic_load(&s->attached))
        return CTXLOG_ESTATE;
    log_formatter *old = s->formatter;
    s->formatter = fmt_formatter_retain(f);
    s->json = fmt_formatter_json_options(s->formatter);
    log_formatter_release(old);
    return 0;
}

log_sink *log__sink_ref(log_sink *s)
{
    if (s)
        atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    return s;
}

void log_sink_release(log_sink *s)
{
    if (!s || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (s->kind != LOG__SINK_CALLBACK) {
        log__sink_unregister(s);
        if (s->buffered)
            log__tbufs_detach(s); /* no thread buffer keeps a pointer to it */
        log__sink_flush(s); /* no route uses it: nothing can be queued for it */
        free(s->buf);
    }
    if (s->kind == LOG__SINK_FILE)
        log__file_close(s);
    log_formatter_release(s->formatter);
    pthread_mutex_destroy(&s->lock);
    pthread_rwlock_destroy(&s->fd_lock);
    free(s->name);
    free(s);
}

void log__sink_write(log_sink *s, const log_record *r, const char *text, size_t len)
{
    if (s->kind == LOG__SINK_CALLBACK) {
        s->fn(r, text, len, s->payload);
        return;
    }
    int urgent = r->level >= LOG_LEVEL_ERROR;
    if (atomic_load_explicit(&log__async_on, memory_order_relaxed)) {
        if (log__tbuf_dirty)
            log__tbufs_write_mine(); /* records from before async mode first */
        log__async_put(s, text, len, urgent);
    } else if (s->buffered) {
        log__tbuf_put(s, text, len, urgent);
    } else {
        log__sink_put(s, text, len, urgent ? LOG__PUT_URGENT : LOG__PUT_SYNC);
    }
}
