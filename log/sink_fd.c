/* Writing records to a file descriptor, whole (one buffer, or several with
 * writev(2)), and saying so once when it fails. Each record goes out in one
 * call when the kernel takes it whole;
 * the caller holds the sink's lock, so a retried remainder cannot interleave
 * with another thread's record. */
#include "log/log_internal.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

int log__writev_all(int fd, struct iovec *iov, int n, int *done)
{
    int i = 0;
    while (i < n && iov[i].iov_len == 0)
        i++;
    while (i < n) {
        /* One piece left: write(2), so that a signal handler's call (one
         * piece) stays within the async-signal-safe calls. */
        ssize_t w = n - i == 1 ? write(fd, iov[i].iov_base, iov[i].iov_len)
                               : writev(fd, iov + i, n - i < IOV_MAX ? n - i : IOV_MAX);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            (void)poll(&pfd, 1, 1000);
            continue;
        }
        if (w <= 0) {
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

int log__write_all(int fd, const char *p, size_t len)
{
    struct iovec one = {(void *)(uintptr_t)p, len};
    int done;
    return log__writev_all(fd, &one, 1, &done);
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
