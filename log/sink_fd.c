/* Writing records to a file descriptor, whole (one buffer, or several with
 * writev(2)), and saying so once when it fails. Each record goes out in one
 * call when the kernel takes it whole. The caller holds the sink's lock, so
 * a retried remainder cannot interleave with another thread's record;
 * except a thread writing its own buffer into a file that does not rotate
 * (sink_buffer.c), whose O_APPEND write only a short write (a full disk)
 * could split. */
#include "log/log_internal.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

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
