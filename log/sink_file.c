/*
 * File sinks: append (created 0640), reopen on request for logrotate, and
 * size-based rotation (app.log -> app.log.1 -> … -> app.log.N).
 *
 * Everything happens under the sink's lock, so a record is written whole to
 * one file: rotation happens between records, never inside one, and no
 * record is lost by it, whatever the number of writing threads. Buffered
 * records are written to the file they were meant for before a reopen or a
 * rotation; a thread's buffer of many lines is split between two files at
 * a line boundary when the file rotates in the middle of it.
 */
#include "log/log_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

atomic_uint log__reopen_generation;

static pthread_mutex_t files_lock = PTHREAD_MUTEX_INITIALIZER;
static log_sink *files;

static int open_file(const char *path, uint64_t *size)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
        return -1;
    struct stat st;
    *size = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
    return fd;
}

int log_sink_file(log_sink **out, const char *path, const log_file_options *opts)
{
    if (!out || !path || !*path)
        return CTXLOG_EINVAL;
    if (opts && opts->max_bytes && (opts->backups < 1 || opts->backups > 1000))
        return CTXLOG_EINVAL;
    uint64_t size;
    int fd = open_file(path, &size);
    if (fd < 0)
        return CTXLOG_EIO;
    log_sink *s = log__sink_alloc_file(path);
    if (!s) {
        close(fd);
        return CTXLOG_ENOMEM;
    }
    s->fd = fd;
    s->size = size;
    s->max_bytes = opts ? opts->max_bytes : 0;
    s->backups = opts ? opts->backups : 0;
    s->buffered = !(opts && opts->write_through);
    s->reopen_seen = atomic_load(&log__reopen_generation);
    pthread_mutex_lock(&files_lock);
    s->next_file = files;
    files = s;
    pthread_mutex_unlock(&files_lock);
    log__sink_register(s);
    *out = s;
    return 0;
}

void log__file_close(log_sink *s)
{
    pthread_mutex_lock(&files_lock);
    for (log_sink **pp = &files; *pp; pp = &(*pp)->next_file) {
        if (*pp == s) {
            *pp = s->next_file;
            break;
        }
    }
    pthread_mutex_unlock(&files_lock);
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}

/* Open the path again (it may have been moved away). Sink lock held. On
 * failure the old descriptor stays in use. Returns 0 or -1. */
static int reopen_locked(log_sink *s)
{
    uint64_t size;
    int fd = open_file(s->name, &size);
    if (fd < 0) {
        log__report("cannot reopen log file '%s': %s; still writing to the old file", s->name,
                    strerror(errno));
        return -1;
    }
    pthread_rwlock_wrlock(&s->fd_lock); /* no write without the lock under way */
    close(s->fd);
    s->fd = fd;
    pthread_rwlock_unlock(&s->fd_lock);
    s->size = size;
    return 0;
}

/* path.(k) for k >= 1, or path itself for k == 0. */
static void numbered(char *buf, size_t cap, const char *path, unsigned k)
{
    if (k == 0)
        snprintf(buf, cap, "%s", path);
    else
        snprintf(buf, cap, "%s.%u", path, k);
}

/* Shift path.(N-1) -> path.N … path -> path.1, then start a new file. Sink
 * lock held. A failed rename is reported; writing goes on in the old file
 * rather than losing records. */
static void rotate_locked(log_sink *s)
{
    char from[PATH_MAX], to[PATH_MAX];
    for (unsigned k = s->backups; k > 0; k--) {
        numbered(from, sizeof from, s->name, k - 1);
        numbered(to, sizeof to, s->name, k);
        if (rename(from, to) != 0 && errno != ENOENT && k == 1) {
            log__report("cannot rotate log file '%s': %s; it grows past max_bytes", s->name,
                        strerror(errno));
            s->size = 0; /* do not retry before the next max_bytes */
            return;
        }
    }
    (void)reopen_locked(s);
}

void log__file_before_put(log_sink *s, size_t len)
{
    unsigned gen = atomic_load(&log__reopen_generation);
    if (gen != s->reopen_seen) {
        s->reopen_seen = gen;
        log__sink_flush_locked(s); /* into the file it was for */
        (void)reopen_locked(s);
    }
    uint64_t size = s->size + s->buf_len; /* written + buffered */
    if (s->max_bytes && size > 0 && size + len > s->max_bytes) {
        log__sink_flush_locked(s);
        rotate_locked(s);
    }
}

void log__file_reopen_for(log_sink *s, unsigned gen)
{
    unsigned cur = atomic_load(&log__reopen_generation);
    /* Nothing requested, or these bytes were buffered before the request
     * (they go to the file they were meant for; the next newer bytes
     * reopen it). */
    if (cur == s->reopen_seen || gen == s->reopen_seen)
        return;
    s->reopen_seen = cur;
    log__sink_flush_locked(s); /* into the file it was for */
    (void)reopen_locked(s);
}

/* Bytes of the whole lines at the start of p[0..len) that fit in `room`. */
static size_t lines_within(const char *p, size_t len, uint64_t room)
{
    if (len <= room)
        return len;
    const char *nl = memrchr(p, '\n', (size_t)room);
    return nl ? (size_t)(nl - p) + 1 : 0;
}

size_t log__file_fit(log_sink *s, const char *p, size_t len)
{
    if (!s->max_bytes)
        return len;
    uint64_t size = s->size + s->buf_len;
    size_t n = lines_within(p, len, size < s->max_bytes ? s->max_bytes - size : 0);
    if (n)
        return n;
    if (size > 0) {
        log__sink_flush_locked(s);
        rotate_locked(s);
        size = s->size;
        n = lines_within(p, len, size < s->max_bytes ? s->max_bytes - size : 0);
        if (n)
            return n;
    }
    /* A line bigger than max_bytes (or a rotation that failed): that line
     * alone, rather than never. */
    const char *nl = memchr(p, '\n', len);
    return nl ? (size_t)(nl - p) + 1 : len;
}

void log__files_fork(int phase)
{
    if (phase == LOG__FORK_PREPARE)
        pthread_mutex_lock(&files_lock);
    else
        pthread_mutex_unlock(&files_lock);
}

int log_reopen(void)
{
    int rc = 0;
    /* What any thread buffered so far goes to the file it was meant for
     * (thread buffers come before files_lock in the lock order). */
    (void)log__tbufs_flush(0, 0);
    pthread_mutex_lock(&files_lock);
    for (log_sink *s = files; s; s = s->next_file) {
        pthread_mutex_lock(&s->lock);
        s->reopen_seen = atomic_load(&log__reopen_generation);
        log__sink_flush_locked(s);
        if (reopen_locked(s) != 0)
            rc = CTXLOG_EIO;
        pthread_mutex_unlock(&s->lock);
    }
    pthread_mutex_unlock(&files_lock);
    return rc;
}

void log_reopen_request(void)
{
    /* A lock-free atomic add: safe in a signal handler. */
    atomic_fetch_add(&log__reopen_generation, 1);
}
