/* SPDX-License-Identifier: MIT */
/* The stdout and stderr sinks; writing records to a file descriptor, whole
 * (one buffer, or several with writev(2)), for them and for files; and
 * saying once when a sink's writes fail. Each record goes out in one call
 * when the kernel takes it whole. The caller holds the sink's lock, so a
 * retried remainder cannot interleave with another thread's record; except
 * a thread writing its own buffer into a file that does not rotate
 * (sink_file.c), whose O_APPEND write only a short write (a full disk)
 * could split. */
#include "log/sinks/sink_ops.h"
#include "log/sinks/sink_kind.h"
#include "log/base/log_hazard.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "formatters/fmt_formatter.h"

/* After a write that took nothing: whether to try again (interrupted, or
 * a non-blocking descriptor that is full: wait for room first). */
static int try_again(int fd, ssize_t w)
{
    if (w < 0 && errno == EINTR)
        return 1;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        (void)poll(&pfd, 1, 1000);
        return 1;
    }
    return 0;
}

bool log__fd_is_pipe(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
}

/*
 * A pipe or socket whose reader has gone: write(2) fails with EPIPE and
 * raises SIGPIPE, whose default action kills the process. The library does
 * not change the process's disposition of SIGPIPE (that is the
 * application's); it blocks the signal in the writing thread around its
 * own writes and, when its write raised it, takes it back (sigtimedwait
 * without waiting) before unblocking. The failure is then an EPIPE like
 * any other: the records are counted as dropped and the failure said once.
 * A thread that blocks SIGPIPE itself is left as it is (one system call):
 * a SIGPIPE the write raises stays pending for it, as the application
 * chose. Only descriptors that can raise it pay for the two extra system
 * calls (regular files cannot), made per write-out, which is per record
 * only for sinks that write each record through.
 */
typedef struct pipe_guard {
    sigset_t old; /* the thread's mask before */
    bool blocked; /* SIGPIPE was blocked already: nothing to undo */
} pipe_guard;

static void guard_begin(pipe_guard *g)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    g->blocked = pthread_sigmask(SIG_BLOCK, &set, &g->old) != 0 ||
                 sigismember(&g->old, SIGPIPE) == 1;
}

static void guard_end(const pipe_guard *g, int err)
{
    if (g->blocked)
        return;
    if (err == EPIPE) {
        /* Unblocked until now, so none was pending before: this one is ours. */
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGPIPE);
        const struct timespec zero = {0, 0};
        while (sigtimedwait(&set, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    (void)pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

static int write_all(int fd, const char *p, size_t len, size_t *wrote)
{
    *wrote = 0;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            *wrote += (size_t)n;
        } else if (!try_again(fd, n)) {
            return n < 0 ? errno : EIO;
        }
    }
    return 0;
}

int log__write_all(int fd, bool pipe, const char *p, size_t len, size_t *wrote)
{
    if (!pipe)
        return write_all(fd, p, len, wrote);
    pipe_guard g;
    guard_begin(&g);
    int err = write_all(fd, p, len, wrote);
    guard_end(&g, err);
    return err;
}

static int writev_all(int fd, struct iovec *iov, int n, int *done, size_t *part)
{
    int i = 0;
    *part = 0;
    while (i < n) {
        ssize_t w = writev(fd, iov + i, n - i < IOV_MAX ? n - i : IOV_MAX);
        if (w <= 0) {
            if (try_again(fd, w))
                continue;
            *done = i;
            return w < 0 ? errno : EIO;
        }
        size_t left = (size_t)w;
        while (i < n && left >= iov[i].iov_len) {
            left -= iov[i++].iov_len;
            *part = 0;
        }
        if (i < n) { /* a piece written in part: the rest of it next */
            iov[i].iov_base = (char *)iov[i].iov_base + left;
            iov[i].iov_len -= left;
            *part += left;
        }
    }
    *done = n;
    *part = 0;
    return 0;
}

int log__writev_all(int fd, bool pipe, struct iovec *iov, int n, int *done, size_t *part)
{
    if (!pipe)
        return writev_all(fd, iov, n, done, part);
    pipe_guard g;
    guard_begin(&g);
    int err = writev_all(fd, iov, n, done, part);
    guard_end(&g, err);
    return err;
}

/* ---- the stdout and stderr sinks ---------------------------------------------------- */

typedef struct fd_sink {
    log_sink base;
    int fd;    /* not ours: never closed */
    bool pipe; /* log__fd_is_pipe(fd) when the sink was made */
} fd_sink;

static int fd_write_lines(log_sink *s, const char *p, size_t len, unsigned gen, size_t *done)
{
    (void)gen; /* the process's descriptors are never reopened */
    LOG__ASSERT_LOCKED(s);
    *done = 0;
    fd_sink *f = LOG__SINK_OF(fd_sink, s);
    size_t wrote; /* a line written in part cannot be taken back from a stream */
    return log__write_all(f->fd, f->pipe, p, len, &wrote);
}

static int fd_writev(log_sink *s, struct iovec *iov, int n, int *done)
{
    LOG__ASSERT_LOCKED(s);
    fd_sink *f = LOG__SINK_OF(fd_sink, s);
    size_t part;
    return log__writev_all(f->fd, f->pipe, iov, n, done, &part);
}

static void fd_crash_write(log_sink *s, const char *p, size_t len)
{
    /* Unguarded: pthread_sigmask and sigtimedwait are not meant for a
     * signal handler, and the process is ending anyway. */
    size_t wrote;
    (void)write_all(LOG__SINK_OF(fd_sink, s)->fd, p, len, &wrote);
}

static const log__sink_ops fd_ops = {
    .name = "fd",
    .write_lines = fd_write_lines,
    .writev = fd_writev,
    .crash_write = fd_crash_write,
};

static log_sink *fd_sink_new(int fd, const char *name)
{
    /* Registering it from a user's sink operation would wait for the
     * registry of sinks, which the operation's thread may hold. */
    if (log__in_sink_op())
        return NULL;
    log_sink *s = log__sink_new(&fd_ops, sizeof(fd_sink), name);
    if (!s)
        return NULL;
    LOG__SINK_OF(fd_sink, s)->fd = fd;
    LOG__SINK_OF(fd_sink, s)->pipe = log__fd_is_pipe(fd);
    s->tty = isatty(fd) == 1;
    s->formatter = fmt_formatter_retain(fmt_formatter_default());
    s->json = fmt_formatter_json_options(s->formatter);
    log__sink_register(s);
    return s;
}

log_sink *log_sink_stdout(void)
{
    return fd_sink_new(STDOUT_FILENO, "stdout");
}

log_sink *log_sink_stderr(void)
{
    return fd_sink_new(STDERR_FILENO, "stderr");
}

/* ---- in the configuration file: "stdout" and "stderr", no keys of their own ---- */

static const log__sink_key no_keys[] = {{.name = NULL}};

static int make_stdout(const void *opts, log_sink **out, log__sink_why *why)
{
    (void)opts, (void)why;
    *out = log_sink_stdout();
    return *out ? 0 : CTXLOG_ENOMEM;
}

static int make_stderr(const void *opts, log_sink **out, log__sink_why *why)
{
    (void)opts, (void)why;
    *out = log_sink_stderr();
    return *out ? 0 : CTXLOG_ENOMEM;
}

const log__sink_kind log__kind_stdout = {
    .type = "stdout", .keys = no_keys, .formatted = true, .make = make_stdout};
const log__sink_kind log__kind_stderr = {
    .type = "stderr", .keys = no_keys, .formatted = true, .make = make_stderr};
