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

#include <sys/uio.h>

void log__sink_put_gathered(log_sink *s, struct iovec *iov, int n)
{
    assert(s->registered && n > 0);
    if (!s->ops->writev) {
        for (int i = 0; i < n; i++)
            log__sink_put(s, iov[i].iov_base, iov[i].iov_len, LOG__PUT_BATCH);
        return;
    }
    pthread_mutex_lock(&s->lock);
    log__sink_flush_locked(s); /* older records first */
    int done;
    int err = s->ops->writev(s, iov, n, &done);
    if (err)
        log__sink_failed(s, err, (uint64_t)(n - done)); /* not written whole: lost */
    else if (s->failing)
        log__sink_recovered(s);
    pthread_mutex_unlock(&s->lock);
}
