/* SPDX-License-Identifier: MIT */
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
 *
 * A write cut short (a full disk) leaves no part of a record in the file:
 * the part is cut off its end again (cut_torn), so that the next record
 * does not continue it; the record is counted as lost with those after it.
 */
#include "log/sinks/sink_ops.h"
#include "log/sinks/sink_kind.h"
#include "log/base/log_hazard.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
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
    /* Read too, to check what cut_torn cuts; a file the process may only
     * write is written all the same. */
    int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0 && errno == EACCES)
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
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

/* Whether the n bytes at `off` in fd are those of p. */
static bool file_has(int fd, uint64_t off, const char *p, size_t n)
{
    char back[4096];
    while (n > 0) {
        size_t k = n < sizeof back ? n : sizeof back;
        if (pread(fd, back, k, (off_t)off) != (ssize_t)k || memcmp(back, p, k) != 0)
            return false;
        off += k;
        p += k;
        n -= k;
    }
    return true;
}

/*
 * A write cut short put the first n bytes of a line, `torn`, at the end of
 * the file: cut them off (ftruncate), so that the file keeps whole records
 * only. Under fd_lock (write), taken here, so that no other thread appends
 * meanwhile; the bytes are read back first, and left (and said) if they
 * are not the file's last ones any more (a thread that wrote after them
 * before the lock was taken). Returns the file's size after it, or 0 when
 * unknown.
 */
static uint64_t cut_torn(file_sink *f, const char *torn, size_t n)
{
    pthread_rwlock_wrlock(&f->fd_lock);
    struct stat st;
    uint64_t size = fstat(f->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
    if (n && size >= n && file_has(f->fd, size - n, torn, n) &&
        ftruncate(f->fd, (off_t)(size - n)) == 0) {
        size -= n;
    } else if (n) {
        log__report("cannot remove a record written in part from '%s'", f->base.name);
    }
    pthread_rwlock_unlock(&f->fd_lock);
    return size;
}

/* After the write of the whole lines p[0, len) failed having written
 * `wrote` bytes: the bytes of the lines written whole; a line written in
 * part is cut off the file. *size gets the file's size when known. */
static size_t keep_whole_lines(file_sink *f, const char *p, size_t wrote, uint64_t *size)
{
    const char *nl = wrote ? memrchr(p, '\n', wrote) : NULL;
    size_t whole = nl ? (size_t)(nl - p) + 1 : 0;
    *size = cut_torn(f, p + whole, wrote - whole);
    return whole;
}

/* ---- the operations ------------------------------------------------------------------ */

/* A file that does not rotate: the lines in one write. */
static int file_write_lines(log_sink *s, const char *p, size_t len, unsigned gen, size_t *done)
{
    LOG__ASSERT_LOCKED(s);
    file_sink *f = LOG__SINK_OF(file_sink, s);
    if (log__reopen_due(&f->reopen_seen, gen))
        (void)reopen_locked(f);
    size_t wrote;
    int err = log__write_all(f->fd, f->pipe, p, len, &wrote);
    if (!err) {
        f->size += len;
        *done = len;
        return 0;
    }
    uint64_t size;
    *done = keep_whole_lines(f, p, wrote, &size);
    f->size = size ? size : f->size + *done;
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
    size_t wrote;
    int err = log__write_all(f->fd, f->pipe, p, len, &wrote);
    pthread_rwlock_unlock(&f->fd_lock);
    *done = len;
    if (err) {
        uint64_t size; /* not kept without the sink's lock */
        *done = keep_whole_lines(f, p, wrote, &size);
    }
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
    size_t part;
    int err = log__writev_all(f->fd, f->pipe, iov, n, done, &part);
    if (err && part) {
        /* Of the piece written in part, the lines written whole stay; the
         * one written in part is cut off, and counts as not written. */
        assert(*done < n);
        const char *p = (const char *)iov[*done].iov_base - part;
        uint64_t size;
        size_t whole = keep_whole_lines(f, p, part, &size);
        if (size)
            f->size = size;
        iov[*done].iov_base = (char *)(uintptr_t)(p + whole);
        iov[*done].iov_len += part - whole;
    }
    return err;
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
        size_t wrote;
        int err = log__write_all(f->fd, f->pipe, p + off, n, &wrote);
        if (err) {
            uint64_t size;
            *done = off + keep_whole_lines(f, p + off, wrote, &size);
            f->size = size ? size : f->size + (*done - off);
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
    size_t wrote;
    (void)log__write_all(f->fd, false, p, len, &wrote); /* unguarded, as fd_crash_write */
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
    /* Registering it from a user's sink operation would wait for the
     * registry of sinks, which the operation's thread may hold. */
    if (log__in_sink_op())
        return CTXLOG_EBUSY;
    if (opts && opts->max_bytes && (opts->backups < 1 || opts->backups > 1000))
        return CTXLOG_EINVAL;
    uint64_t size;
    int fd = open_file(path, &size);
    if (fd < 0) {
        int e = errno;
        log__error_detail("cannot open log file '%s': %s", path, strerror(e));
        return e == ENOENT ? CTXLOG_ENOENT : CTXLOG_EIO;
    }
    log__error_detail_clear();
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

/* ---- in the configuration file: "type": "file" ---------------------------------------- */

typedef struct file_conf {
    const char *path;
    log_file_options o;
} file_conf;

enum { KEY_PATH, KEY_MAX_BYTES, KEY_BACKUPS, KEY_WRITE_THROUGH };
static const log__sink_key file_keys[] = {
    [KEY_PATH] = {.name = "path", .type = LOG__KEY_STRING, .offset = offsetof(file_conf, path),
                  .required = true, .nonempty = true},
    [KEY_MAX_BYTES] = {.name = "max_bytes", .type = LOG__KEY_INT,
                       .offset = offsetof(file_conf, o.max_bytes), .size = sizeof(size_t),
                       .min = 0, .max = (unsigned long long)SIZE_MAX < LLONG_MAX ? (long long)SIZE_MAX : LLONG_MAX,
                       .range = ">= 0"},
    [KEY_BACKUPS] = {.name = "backups", .type = LOG__KEY_INT,
                     .offset = offsetof(file_conf, o.backups), .size = sizeof(unsigned), .min = 1,
                     .max = 1000, .range = "from 1 to 1000"},
    [KEY_WRITE_THROUGH] = {.name = "write_through", .type = LOG__KEY_BOOL,
                           .offset = offsetof(file_conf, o.write_through)},
    {.name = NULL},
};

/* A rotated file keeps 5 backups unless told otherwise. */
static const char *check_file(void *opts, unsigned given, const char **key)
{
    file_conf *c = opts;
    (void)key;
    if (!(given & 1u << KEY_BACKUPS) && c->o.max_bytes > 0)
        c->o.backups = 5;
    return NULL;
}

static int make_file(const void *opts, log_sink **out, log__sink_why *why)
{
    const file_conf *c = opts;
    int rc = log_sink_file(out, c->path, &c->o);
    if (rc == CTXLOG_EIO || rc == CTXLOG_ENOENT)
        *why = (log__sink_why){"path", "cannot open", c->path, errno};
    return rc;
}

const log__sink_kind log__kind_file = {
    .type = "file",
    .keys = file_keys,
    .opts_size = sizeof(file_conf),
    .formatted = true,
    .check = check_file,
    .make = make_file,
};
