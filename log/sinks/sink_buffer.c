/* SPDX-License-Identifier: MIT */
/*
 * The shared output buffer of sinks that take lines (every kind but the
 * callback sink), writing buffered lines out through the sink's operations
 * (sink_ops.h), and the registry of those sinks.
 *
 * In sync mode a logging thread buffers its records in a buffer of its own
 * (sink_thread_buf.c); the sink's shared buffer takes the async writer's
 * records, and those of a thread that has no buffer of its own for the
 * sink. Either kind is a 64 KiB buffer of whole lines written out with one
 * write(2) when the next record would not fit, when a record at error or
 * above arrives, on log_flush(), at exit, and at the latest
 * LOG__FLUSH_INTERVAL_NS after its first byte (the background thread sees
 * to that). A write never splits a line, and a file rotates between lines.
 *
 * The registry lets log_flush(), log_reopen(), the flusher, fork() and the
 * crash handler reach every sink that may hold unwritten bytes.
 */
#include "log/sinks/sink_ops.h"

#include "log/base/log_hazard.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "formatters/fmt_formatter.h"

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static log_sink *reg_head;

/* Who writes buffers out when they fall due: the background thread
 * (log/async/), set by the set-up before the first record. */
static _Atomic(void (*)(uint64_t since_ns)) flusher;

void log__sinks_set_flusher(void (*fn)(uint64_t since_ns))
{
    atomic_store(&flusher, fn);
}

void log__sinks_due(uint64_t since_ns)
{
    void (*fn)(uint64_t) = atomic_load_explicit(&flusher, memory_order_relaxed);
    if (fn)
        fn(since_ns);
}

atomic_uint log__reopen_generation;

uint64_t log__now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

void log__sink_register(log_sink *s)
{
    assert(s->ops->write_lines);
    pthread_mutex_lock(&reg_lock);
    s->registered = true;
    s->reg_prev = NULL;
    s->reg_next = reg_head;
    if (reg_head)
        reg_head->reg_prev = s;
    reg_head = s;
    pthread_mutex_unlock(&reg_lock);
}

void log__sink_unregister(log_sink *s)
{
    pthread_mutex_lock(&reg_lock);
    if (s->reg_prev)
        s->reg_prev->reg_next = s->reg_next;
    else if (reg_head == s)
        reg_head = s->reg_next;
    if (s->reg_next)
        s->reg_next->reg_prev = s->reg_prev;
    s->reg_prev = s->reg_next = NULL;
    pthread_mutex_unlock(&reg_lock);
}

/* The records in the bytes p[0, len) a sink takes: its lines, or one
 * unit (sink_ops.h). */
static size_t count_records(const log_sink *s, const char *p, size_t len)
{
    if (s->ops->build)
        return 1; /* write_lines gets one unit at a time */
    size_t n = 0;
    for (const char *e = p + len; (p = memchr(p, '\n', (size_t)(e - p))) != NULL; p++)
        n++;
    return n;
}

/* After writing the whole lines p[0, len) to `s` (lock held), of which the
 * first `done` bytes went out before the write that failed with `err`
 * (0: all of them): the records lost, or the sink working again. */
static void wrote_locked(log_sink *s, const char *p, size_t len, size_t done, int err)
{
    if (err) {
        assert(done < len);
        log__sink_failed(s, err, count_records(s, p + done, len - done));
        return;
    }
    if (s->failing)
        log__sink_recovered(s);
}

/* Write whole lines of generation `gen` to the sink, its shared buffer
 * written out already (lock held). */
static void write_lines_locked(log_sink *s, const char *p, size_t len, unsigned gen)
{
    LOG__ASSERT_LOCKED(s);
    assert(s->buf_len == 0);
    if (len == 0)
        return;
    size_t done = 0;
    int err = s->ops->write_lines(s, p, len, gen, &done);
    wrote_locked(s, p, len, done, err);
}

void log__sink_flush_locked(log_sink *s)
{
    size_t n = s->buf_len;
    s->buf_len = 0;
    write_lines_locked(s, s->buf, n, s->buf_gen);
}

void log__sink_write_lines(log_sink *s, const char *p, size_t len, unsigned gen)
{
    if (s->buf_len)
        log__sink_flush_locked(s); /* older: a thread's records come out in order */
    write_lines_locked(s, p, len, gen);
}

void log__sink_write_lines_unlock(log_sink *s, const char *p, size_t len, unsigned gen)
{
    LOG__ASSERT_LOCKED(s);
    if (!s->ops->write_lines_unlock) {
        log__sink_write_lines(s, p, len, gen);
        pthread_mutex_unlock(&s->lock);
        return;
    }
    if (s->buf_len)
        log__sink_flush_locked(s); /* older: a thread's records come out in order */
    size_t done = 0;
    int err = s->ops->write_lines_unlock(s, p, len, gen, &done);
    /* The lock again only when there is something to say. */
    if (err || atomic_load_explicit(&s->failing, memory_order_relaxed)) {
        pthread_mutex_lock(&s->lock);
        wrote_locked(s, p, len, done, err);
        pthread_mutex_unlock(&s->lock);
    }
}

void log__sink_put(log_sink *s, const char *text, size_t len, enum log__put how)
{
    assert(s->registered);
    unsigned gen = atomic_load(&log__reopen_generation);
    pthread_mutex_lock(&s->lock);
    /* The buffer never mixes bytes from before and after a reopen request:
     * the older ones go where they were meant for (the sink's write_lines
     * reopens before the newer ones). */
    if (s->buf_len && s->buf_gen != gen)
        log__sink_flush_locked(s);
    /* Units (sink_ops.h) are written one at a time, never buffered. */
    int buffer = (how == LOG__PUT_BATCH || s->buffered) && !s->ops->build;
    if (buffer && !s->buf) {
        s->buf = malloc(LOG__SINK_BUF);
        if (!s->buf)
            buffer = 0; /* out of memory: write through */
    }
    if (!buffer || len > LOG__SINK_BUF / 2) {
        log__sink_write_lines(s, text, len, gen);
    } else {
        if (len > LOG__SINK_BUF - s->buf_len)
            log__sink_flush_locked(s);
        int was_empty = s->buf_len == 0;
        if (was_empty)
            s->buf_gen = gen;
        memcpy(s->buf + s->buf_len, text, len);
        s->buf_len += len;
        if (how == LOG__PUT_URGENT) {
            log__sink_flush_locked(s);
        } else if (was_empty && how == LOG__PUT_SYNC) {
            uint64_t since = s->buf_since_ns = log__now_ns();
            pthread_mutex_unlock(&s->lock);
            log__sinks_due(since); /* so that it is written within the interval */
            return;
        }
    }
    pthread_mutex_unlock(&s->lock);
}

void log__sink_flush(log_sink *s)
{
    pthread_mutex_lock(&s->lock);
    log__sink_flush_locked(s);
    pthread_mutex_unlock(&s->lock);
}

uint64_t log__buffers_flush(int due_only, uint64_t now_ns)
{
    uint64_t next = UINT64_MAX;
    pthread_mutex_lock(&reg_lock);
    for (log_sink *s = reg_head; s; s = s->reg_next) {
        pthread_mutex_lock(&s->lock);
        if (s->buf_len) {
            uint64_t due = s->buf_since_ns + LOG__FLUSH_INTERVAL_NS;
            if (!due_only || due <= now_ns)
                log__sink_flush_locked(s);
            else if (due < next)
                next = due;
        }
        pthread_mutex_unlock(&s->lock);
    }
    pthread_mutex_unlock(&reg_lock);
    return next;
}

/* The record that says how many records the async queue dropped for `s`
 * (b: the writer's buffer), or the number to the sink that says it itself. */
static void report_drops(log_sink *s, uint64_t n, fmt_buf *b)
{
    if (s->ops->lost) {
        pthread_mutex_lock(&s->lock);
        LOG__ASSERT_LOCKED(s);
        s->ops->lost(s, n);
        pthread_mutex_unlock(&s->lock);
        return;
    }
    log_field field = LOG_U64("dropped", n);
    log_record r = {
        .level = LOG_LEVEL_WARN,
        .logger = "ctxlog",
        .msg = "async queue full: records dropped",
        .msg_len = sizeof "async queue full: records dropped" - 1,
        .fields = &field,
        .n_fields = 1,
    };
    clock_gettime(CLOCK_REALTIME, &r.time);
    fmt_buf_clear(b);
    if (s->formatter && fmt_format(s->formatter, &r, s->tty, b) == 0 && !b->oom)
        log__sink_put(s, b->data, b->len, LOG__PUT_BATCH);
}

void log__sinks_report_drops(void)
{
    static fmt_buf b; /* the writer thread's own */
    pthread_mutex_lock(&reg_lock);
    for (log_sink *s = reg_head; s; s = s->reg_next) {
        uint64_t d = atomic_load_explicit(&s->dropped, memory_order_relaxed);
        if (d != s->drops_reported) {
            report_drops(s, d - s->drops_reported, &b);
            s->drops_reported = d;
        }
    }
    pthread_mutex_unlock(&reg_lock);
    if (b.cap > LOG__SINK_BUF)
        fmt_buf_free(&b);
}

static void sinks_fork(int phase)
{
    if (phase == LOG__FORK_PREPARE) {
        pthread_mutex_lock(&reg_lock);
        /* fd_lock is not taken: only a thread writing its own buffer out
         * holds it, and that thread holds its buffer's lock, which the
         * thread buffers' prepare has already taken. */
        for (log_sink *s = reg_head; s; s = s->reg_next) {
            pthread_mutex_lock(&s->lock);
            if (s->ops->fork_phase)
                s->ops->fork_phase(s, LOG_FORK_PREPARE);
        }
        return;
    }
    for (log_sink *s = reg_head; s; s = s->reg_next) {
        if (phase == LOG__FORK_CHILD) {
            s->buf_len = 0; /* the parent writes these; written twice otherwise */
            LOG__ASSERT_LOCKED(s); /* taken in prepare */
            if (s->ops->fork_child)
                s->ops->fork_child(s);
        }
        if (s->ops->fork_phase)
            s->ops->fork_phase(s, phase == LOG__FORK_CHILD ? LOG_FORK_CHILD : LOG_FORK_PARENT);
        pthread_mutex_unlock(&s->lock);
    }
    pthread_mutex_unlock(&reg_lock);
}
CTX__FORK_PART(CTX__FORK_RANK_SINKS, sinks_fork)

void log__buffers_crash_write(void)
{
    /* No lock: the thread that crashed may hold one. A buffer being
     * written at this very moment may come out twice; none is lost. A sink
     * without a crash-safe way to write is skipped. */
    for (log_sink *s = reg_head; s; s = s->reg_next) {
        size_t n = s->buf_len;
        if (s->ops->crash_write && s->buf && n && n <= LOG__SINK_BUF)
            s->ops->crash_write(s, s->buf, n);
    }
}

int log__sinks_sync(void)
{
    int failed = 0;
    pthread_mutex_lock(&reg_lock);
    for (log_sink *s = reg_head; s; s = s->reg_next) {
        if (s->ops->flush) {
            pthread_mutex_lock(&s->lock);
            log__sink_flush_locked(s); /* appended since log__sinks_flush */
            LOG__ASSERT_LOCKED(s);
            failed |= s->ops->flush(s) != 0;
            pthread_mutex_unlock(&s->lock);
        }
        failed |= atomic_load(&s->failing) != 0;
    }
    pthread_mutex_unlock(&reg_lock);
    return failed ? CTXLOG_EIO : 0;
}

int log__buffers_reopen(void)
{
    int rc = 0;
    pthread_mutex_lock(&reg_lock);
    for (log_sink *s = reg_head; s; s = s->reg_next) {
        if (!s->ops->reopen)
            continue;
        pthread_mutex_lock(&s->lock);
        log__sink_flush_locked(s);
        LOG__ASSERT_LOCKED(s);
        if (s->ops->reopen(s) != 0)
            rc = CTXLOG_EIO;
        pthread_mutex_unlock(&s->lock);
    }
    pthread_mutex_unlock(&reg_lock);
    return rc;
}

void log_reopen_request(void)
{
    /* A lock-free atomic add: safe in a signal handler. */
    atomic_fetch_add(&log__reopen_generation, 1);
}
