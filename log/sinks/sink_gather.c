/* SPDX-License-Identifier: MIT */
/*
 * The async writer's batches: records written straight from the queues to
 * a sink with its writev op, after whatever the sink's buffer holds, under
 * the sink's lock — no copy into the buffer, one lock and one system call
 * for a run of records.
 *
 * A sink without that op (a file that rotates and places every line
 * itself, a user's transport) takes the buffered way (log__sink_put), and
 * gets the records in batches of whole lines through write_lines.
 */
#include "log/sinks/sink_ops.h"

#include <string.h>
#include <sys/uio.h>

/* Records of pieces [done, n) not written: each piece's, and the lines
 * whose ending is in what is left of a piece written in part. */
static uint64_t not_written(const struct iovec *iov, int n, const unsigned *lines, int done)
{
    uint64_t lost = 0;
    for (int i = done; i < n; i++) {
        if (!lines || lines[i] == 1) {
            lost++;
        } else if (i > done) {
            lost += lines[i];
        } else {
            const char *p = iov[i].iov_base, *end = p + iov[i].iov_len;
            while ((p = memchr(p, '\n', (size_t)(end - p)))) {
                lost++;
                p++;
            }
        }
    }
    return lost;
}

bool log__sink_put_gathered(log_sink *s, struct iovec *iov, int n, const unsigned *lines,
                            bool (*claim)(void *payload), void *payload)
{
    assert(s->registered && n > 0 && claim);
    if (!s->ops->writev) {
        /* Copied into the buffer, they are the buffer's from then on (the
         * crash handler writes buffers out too). */
        if (!claim(payload))
            return false;
        for (int i = 0; i < n; i++)
            log__sink_put(s, iov[i].iov_base, iov[i].iov_len, LOG__PUT_BATCH);
        return true;
    }
    pthread_mutex_lock(&s->lock);
    log__sink_flush_locked(s); /* older records first */
    /* Claimed under the lock, right before the write: a writer that waits
     * for the lock (held by a thread that crashed, say) has claimed
     * nothing, and the crash handler can take the records instead. */
    if (!claim(payload)) {
        pthread_mutex_unlock(&s->lock);
        return false;
    }
    int done;
    LOG__ASSERT_LOCKED(s);
    int err = s->ops->writev(s, iov, n, &done);
    if (err)
        log__sink_failed(s, err, not_written(iov, n, lines, done));
    else if (s->failing)
        log__sink_recovered(s);
    pthread_mutex_unlock(&s->lock);
    return true;
}
