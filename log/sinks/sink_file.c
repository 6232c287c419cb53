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
 *
 * Two tables of operations: a file that rotates places every line itself,
 * so it takes the async writer's records through the shared buffer (no
 * writev op) and writes under its lock; one that does not rotate writes the
 * async writer's runs with one writev, and threads' buffers without the
 * lock (under fd_lock), so that threads writing their buffers out do not
 * wait for each other's write(2) on it (the kernel orders O_APPEND writes).
 */
#include "log/sinks/sink_ops.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formatters/fmt_formatter.h"

typedef struct file_sink {
    log_sink base;             /* name: the path */
    int fd;
    pthread_rwlock_t fd_lock;  /* held (read) while writing without the sink's lock,
                                * (write) to replace fd; taken after the sink's lock */
    size_t max_bytes;          /* 0: no rotation */
    unsigned backups;
    uint64_t size;             /* bytes in the current file */
    unsigned reopen_seen;      /* log__reopen_generation when last opened */
    bool pipe;                 /* the path is a named pipe or a socket (log__fd_is_pipe) */
} file_sink;

static int open_file(const char *path, uint64_t *size)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
        return -1;
    struct stat st;
    *size = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
    return fd;
}

/* Open the path again (it may have been moved away). Sink lock held. On
 * failure the old descriptor stays in use. Returns 0 or -1. */
static int reopen_locked(file_sink *f)
{
    uint64_t size;
    int fd = open_file(f->base.name, &size);
    if (fd < 0) {
        log__report("cannot reopen log file '%s': %s; still writing to the old file",
                    f->base.name, strerror(errno));
        return -1;
    }
    pthread_rwlock_wrlock(&f->fd_lock); /* no write without the lock under way */
    close(f->fd);
    f->fd = fd;
    f->pipe = log__fd_is_pipe(fd);
    pthread_rwlock_unlock(&f->fd_lock);
    f->size = size;
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
static void rotate_locked(file_sink *f)
{
    const char *path = f->base.name;
    char from[PATH_MAX], to[PATH_MAX];
    for (unsigned k = f->backups; k > 0; k--) {
        numbered(from, sizeof from, path, k - 1);
        numbered(to, sizeof to, path, k);
        if (rename(from, to) != 0 && errno != ENOENT && k == 1) {
            log__report("cannot rotate log file '%s': %s; it grows past max_bytes", path,
                        strerror(errno));
            f->size = 0; /* do not retry before the next max_bytes */
            return;
        }
    }
    (void)reopen_locked(f);
}

/* Bytes of the whole lines at the start of p[0..len) that fit in `room`. */
static size_t lines_within(const char *p, size_t len, uint64_t room)
{
    if (len <= room)
        return len;
    const char *nl = memrchr(p, '\n', (size_t)room);
    return nl ? (size_t)(nl - p) + 1 : 0;
}

/* How many leading bytes of p[0, len) (whole lines) go to the current file
 * now, after rotating it if the first line would not fit. A line bigger
 * than max_bytes (or one after a rotation that failed) goes alone, rather
 * than never. Sink lock held. */
static size_t fit(file_sink *f, const char *p, size_t len)
{
    uint64_t size = f->size;
    size_t n = lines_within(p, len, size < f->max_bytes ? f->max_bytes - size : 0);
    if (n)
        return n;
    if (size > 0) {
        rotate_locked(f);
        size = f->size;
        n = lines_within(p, len, size < f->max_bytes ? f->max_bytes - size : 0);
        if (n)
            return n;
    }
    const char *nl = memchr(p, '\n', len);
    return nl ? (size_t)(nl - p) + 1 : len;
}

/* ---- the operations ------------------------------------------------------------------ */

/* A file that does not rotate: the lines in one write. */
static int file_write_lines(log_sink *s, const char *p, size_t len, unsigned gen, size_t *done)
{
    LOG__ASSERT_LOCKED(s);
    file_sink *f = LOG__SINK_OF(file_sink, s);
    if (log__reopen_due(&f->reopen_seen, gen))
        (void)reopen_locked(f);
    *done = 0;
    int err = log__write_all(f->fd, f->pipe, p, len);
    if (!err)
        f->size += len;
    return err;
}

/* The same without the lock while the bytes go out: the size is not kept
 * (only rotation needs it). */
static int file_write_lines_unlock(log_sink *s, const char *p, size_t len, unsigned gen,
                                   size_t *done)
{
    LOG__ASSERT_LOCKED(s);
    file_sink *f = LOG__SINK_OF(file_sink, s);
    if (log__reopen_due(&f->reopen_seen, gen))
        (void)reopen_locked(f);
    pthread_rwlock_rdlock(&f->fd_lock);
    pthread_mutex_unlock(&s->lock);
    *done = 0;
    int err = log__write_all(f->fd, f->pipe, p, len);
    pthread_rwlock_unlock(&f->fd_lock);
    return err;
}

/* The async writer's records were logged before now: a reopen requested
 * by now comes first. */
static int file_writev(log_sink *s, struct iovec *iov, int n, int *done)
{
    LOG__ASSERT_LOCKED(s);
    file_sink *f = LOG__SINK_OF(file_sink, s);
    if (log__reopen_due(&f->reopen_seen, atomic_load(&log__reopen_generation)))
        (void)reopen_locked(f);
    return log__writev_all(f->fd, f->pipe, iov, n, done);
}

/* A file that rotates: line by line where it fills up. */
static int rotating_write_lines(log_sink *s, const char *p, size_t len, unsigned gen,
                                size_t *done)
{
    LOG__ASSERT_LOCKED(s);
    assert(s->buf_len == 0); /* fit() counts what is in the file alone */
    file_sink *f = LOG__SINK_OF(file_sink, s);
    if (log__reopen_due(&f->reopen_seen, gen))
        (void)reopen_locked(f);
    size_t off = 0;
    while (off < len) {
        size_t n = fit(f, p + off, len - off);
        int err = log__write_all(f->fd, f->pipe, p + off, n);
        if (err) {
            *done = off;
            return err;
        }
        f->size += n;
        off += n;
    }
    *done = len;
    return 0;
}

static int file_reopen(log_sink *s)
{
    LOG__ASSERT_LOCKED(s);
    file_sink *f = LOG__SINK_OF(file_sink, s);
    f->reopen_seen = atomic_load(&log__reopen_generation);
    return reopen_locked(f) == 0 ? 0 : CTXLOG_EIO;
}

static void file_crash_write(log_sink *s, const char *p, size_t len)
{
    file_sink *f = LOG__SINK_OF(file_sink, s);
    (void)log__write_all(f->fd, false, p, len); /* unguarded, as fd_crash_write */
}

static void file_close(log_sink *s)
{
    file_sink *f = LOG__SINK_OF(file_sink, s);
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    pthread_rwlock_destroy(&f->fd_lock);
}

static const log__sink_ops file_ops = {
    .name = "file",
    .write_lines = file_write_lines,
    .write_lines_unlock = file_write_lines_unlock,
    .writev = file_writev,
    .reopen = file_reopen,
    .crash_write = file_crash_write,
    .close = file_close,
};

static const log__sink_ops rotating_file_ops = {
    .name = "rotating file",
    .write_lines = rotating_write_lines,
    .reopen = file_reopen,
    .crash_write = file_crash_write,
    .close = file_close,
};

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
    size_t max_bytes = opts ? opts->max_bytes : 0;
    log_sink *s =
        log__sink_new(max_bytes ? &rotating_file_ops : &file_ops, sizeof(file_sink), path);
    if (!s) {
        close(fd);
        return CTXLOG_ENOMEM;
    }
    file_sink *f = LOG__SINK_OF(file_sink, s);
    f->fd = fd;
    f->pipe = log__fd_is_pipe(fd);
    f->size = size;
    f->max_bytes = max_bytes;
    f->backups = opts ? opts->backups : 0;
    f->reopen_seen = atomic_load(&log__reopen_generation);
    /* A reopen waiting for the descriptor goes before new writers: with
     * many threads writing, readers could otherwise keep it out. */
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    (void)pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&f->fd_lock, &ra);
    pthread_rwlockattr_destroy(&ra);
    s->formatter = fmt_formatter_retain(fmt_formatter_default());
    s->json = fmt_formatter_json_options(s->formatter);
    s->buffered = !(opts && opts->write_through);
    log__sink_register(s);
    *out = s;
    return 0;
}
