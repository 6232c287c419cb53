/*
 * The async writer's batches: records written straight from the queues to
 * an fd or file sink with writev(2), after whatever the sink's buffer
 * holds, under the sink's lock — no copy into the buffer, one lock and one
 * system call for a run of records.
 *
 * A file that rotates (max_bytes) or is to be reopened takes the buffered
 * way (log__sink_put), which decides where each record goes.
 */
#include "log/log_internal.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <sys/uio.h>

void log__sink_put_gathered(log_sink *s, struct iovec *iov, int n)
{
    pthread_mutex_lock(&s->lock);
    if (s->kind == LOG__SINK_FILE &&
        (s->max_bytes || s->reopen_seen != atomic_load(&log__reopen_generation))) {
        pthread_mutex_unlock(&s->lock);
        for (int i = 0; i < n; i++)
            log__sink_put(s, iov[i].iov_base, iov[i].iov_len, LOG__PUT_BATCH);
        return;
    }
    log__sink_flush_locked(s); /* older records first */
    int i = 0, err = 0;
    uint64_t written = 0;
    while (i < n) {
        ssize_t w = writev(s->fd, iov + i, n - i < IOV_MAX ? n - i : IOV_MAX);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pfd = {.fd = s->fd, .events = POLLOUT};
            (void)poll(&pfd, 1, 1000);
            continue;
        }
        if (w <= 0) {
            err = w < 0 ? errno : EIO;
            break;
        }
        written += (uint64_t)w;
        size_t left = (size_t)w;
        while (i < n && left >= iov[i].iov_len)
            left -= iov[i++].iov_len;
        if (i < n) { /* a record written in part: the rest of it next */
            iov[i].iov_base = (char *)iov[i].iov_base + left;
            iov[i].iov_len -= left;
        }
    }
    s->size += written;
    if (err) {
        /* Records not written whole are lost: one is counted by
         * log__sink_failed, which also says so once per failure streak. */
        log__count_dropped((uint64_t)(n - i - 1));
        log__sink_failed(s, err);
    } else if (s->failing) {
        log__sink_recovered(s);
    }
    pthread_mutex_unlock(&s->lock);
}
