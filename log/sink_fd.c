/* Sinks that write to a file descriptor: stdout, stderr and files opened for
 * append (created 0640). Each record goes out in one write(2) when the kernel
 * takes it whole; the sink's lock keeps a retried remainder from interleaving
 * with another thread's record. */
#include "log/log_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static log_sink *sink_new(int fd, int owns_fd, const char *name)
{
    log_sink *s = calloc(1, sizeof *s);
    char *copy = s ? strdup(name) : NULL;
    if (!copy) {
        free(s);
        return NULL;
    }
    atomic_init(&s->refs, 1);
    s->fd = fd;
    s->owns_fd = owns_fd;
    s->name = copy;
    s->level = LOG_LEVEL_TRACE;
    pthread_mutex_init(&s->lock, NULL);
    return s;
}

log_sink *log__sink_fd(int fd, const char *name)
{
    return sink_new(fd, 0, name);
}

int log__sink_file(const char *path, log_sink **out)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
        return CTXLOG_EIO;
    log_sink *s = sink_new(fd, 1, path);
    if (!s) {
        close(fd);
        return CTXLOG_ENOMEM;
    }
    *out = s;
    return 0;
}

log_sink *log__sink_ref(log_sink *s)
{
    if (s)
        atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    return s;
}

void log__sink_unref(log_sink *s)
{
    if (!s || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (s->owns_fd)
        close(s->fd);
    pthread_mutex_destroy(&s->lock);
    free(s->name);
    free(s);
}

/* Write all of it; wait when a non-blocking descriptor is full. Returns 0 or
 * the errno of the failure. */
static int write_all(int fd, const char *p, size_t len)
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

void log__sink_write(log_sink *s, const char *data, size_t len)
{
    pthread_mutex_lock(&s->lock);
    int err = write_all(s->fd, data, len);
    if (err) {
        log__count_dropped(1);
        if (!s->failing)
            log__report("cannot write to %s: %s; records are being lost (log_dropped_count())",
                        s->name, strerror(err));
        s->failing = 1;
    } else if (s->failing) {
        s->failing = 0;
        log__report("writing to %s again; %llu records lost so far", s->name,
                    (unsigned long long)log_dropped_count());
    }
    pthread_mutex_unlock(&s->lock);
}
