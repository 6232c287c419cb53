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
    /* No size to keep: only files that rotate need it, and they took the
     * buffered way above. */
    int done;
    int err = log__writev_all(s->fd, iov, n, &done);
    if (err)
        log__sink_failed(s, err, (uint64_t)(n - done)); /* not written whole: lost */
    else if (s->failing)
        log__sink_recovered(s);
    pthread_mutex_unlock(&s->lock);
}
