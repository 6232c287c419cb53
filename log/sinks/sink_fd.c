/* The stdout and stderr sinks; writing records to a file descriptor, whole
 * (one buffer, or several with writev(2)), for them and for files; and
 * saying once when a sink's writes fail. Each record goes out in one call
 * when the kernel takes it whole. The caller holds the sink's lock, so a
 * retried remainder cannot interleave with another thread's record; except
 * a thread writing its own buffer into a file that does not rotate
 * (sink_file.c), whose O_APPEND write only a short write (a full disk)
 * could split. */
#include "log/sinks/sink_ops.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <sys/uio.h>
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

int log__write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
        } else if (!try_again(fd, n)) {
            return n < 0 ? errno : EIO;
        }
    }
    return 0;
}

int log__writev_all(int fd, struct iovec *iov, int n, int *done)
{
    int i = 0;
    while (i < n) {
        ssize_t w = writev(fd, iov + i, n - i < IOV_MAX ? n - i : IOV_MAX);
        if (w <= 0) {
            if (try_again(fd, w))
                continue;
            *done = i;
            return w < 0 ? errno : EIO;
        }
        size_t left = (size_t)w;
        while (i < n && left >= iov[i].iov_len)
            left -= iov[i++].iov_len;
        if (i < n) { /* a piece written in part: the rest of it next */
            iov[i].iov_base = (char *)iov[i].iov_base + left;
            iov[i].iov_len -= left;
        }
    }
    *done = n;
    return 0;
}

void log__sink_failed(log_sink *s, int err, uint64_t lost)
{
    log__count_dropped(lost ? lost : 1);
    if (!s->failing)
        log__report("cannot write to %s: %s; records are being lost (log_dropped_count())",
                    s->name, strerror(err));
    s->failing = 1;
}

void log__sink_recovered(log_sink *s)
{
    s->failing = 0;
    log__report("writing to %s again; %llu records lost so far", s->name,
                (unsigned long long)log_dropped_count());
}

/* ---- the stdout and stderr sinks ---------------------------------------------------- */

typedef struct fd_sink {
    log_sink base;
    int fd; /* not ours: never closed */
} fd_sink;

static int fd_write_lines(log_sink *s, const char *p, size_t len, unsigned gen, size_t *done)
{
    (void)gen; /* the process's descriptors are never reopened */
    *done = 0;
    return log__write_all(LOG__SINK_OF(fd_sink, s)->fd, p, len);
}

static int fd_writev(log_sink *s, struct iovec *iov, int n, int *done)
{
    return log__writev_all(LOG__SINK_OF(fd_sink, s)->fd, iov, n, done);
}

static void fd_crash_write(log_sink *s, const char *p, size_t len)
{
    (void)log__write_all(LOG__SINK_OF(fd_sink, s)->fd, p, len);
}

static const log__sink_ops fd_ops = {
    .name = "fd",
    .write_lines = fd_write_lines,
    .writev = fd_writev,
    .crash_write = fd_crash_write,
};

static log_sink *fd_sink_new(int fd, const char *name)
{
    log_sink *s = log__sink_new(&fd_ops, sizeof(fd_sink), name);
    if (!s)
        return NULL;
    LOG__SINK_OF(fd_sink, s)->fd = fd;
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
