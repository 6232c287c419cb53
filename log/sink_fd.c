/* Writing records to a file descriptor, whole, and saying so once when it
 * fails. Each record goes out in one write(2) when the kernel takes it whole;
 * the caller holds the sink's lock, so a retried remainder cannot interleave
 * with another thread's record. */
#include "log/log_internal.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

int log__write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            (void)poll(&pfd, 1, 1000);
        } else {
            return n < 0 ? errno : EIO;
        }
    }
    return 0;
}

void log__sink_failed(log_sink *s, int err)
{
    log__count_dropped(1);
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
