/* SPDX-License-Identifier: MIT */
/*
 * The syslog sink: each record becomes one RFC 5424 message, its context
 * in a structured-data element and its formatted text (the JSON line the
 * sink's formatter writes, without its newline) as MSG; sent as a datagram
 * (local socket, UDP) or on a TCP stream framed by octet counting
 * (RFC 6587: "LEN SP MSG").
 *
 * The sink builds units (sink_ops.h `build`): the frame is made on the
 * logging thread (build_frame, the one place that decides its bytes: the
 * message needs the record's context), and delivered by the sink's
 * write_lines (one frame) and writev (one frame per iov) ops — on the
 * logging thread in sync mode, by the async writer in async mode. Queueing
 * and sending happen under the sink's lock, so frames never interleave on
 * the stream.
 *
 * TCP: a daemon that closed its end is noticed before each send (the
 * socket reads as closed), the connection is dropped and made again after
 * a backoff; meanwhile frames wait in the queue up to queue_max, and the
 * records that found it full are counted. A send that cannot go on waits
 * for the daemon at most timeout_ms, once: until the daemon takes bytes
 * again the following records go to the queue without waiting. The sink
 * counts what its queue could not keep itself (the common failure state,
 * `failing`, is for the writes that fail: datagrams); log_flush() sends
 * the queue (connecting at once) and fails while some frame is left.
 */
#include "log/sinks/sink_ops.h"
#include "log/sinks/sink_kind.h"
#include "log/base/log_hazard.h"
#include "log/sinks/sink_severity.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctx/ctx_utf8.h"
#include "formatters/fmt_formatter.h"
#include "formatters/fmt_json.h"

#define DEFAULT_PATH "/dev/log"
#define DEFAULT_HOST "127.0.0.1"
/* Room kept in front of a message for the octet count and its space. */
#define PREFIX 24

/* One message waiting for the stream: data[start, len), of which bytes
 * [off, len) are still to send. */
typedef struct frame {
    struct frame *next;
    char *data;
    size_t start, off, len;
} frame;

typedef struct syslog_sink {
    log_sink base;
    log_syslog_transport transport;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    unsigned facility, enterprise_id;
    char host[256];
    char app[49];
    size_t queue_max;
    int timeout_ms, backoff_min_ms, backoff_max_ms;
    /* Under the lock: */
    int fd; /* -1: not connected (TCP) */
    frame *head, *tail;
    size_t queued;
    bool stalled;         /* a send waited timeout_ms in vain; no byte went since */
    bool down;            /* TCP: gone, or the queue full; said once, until it empties */
    uint64_t lost;        /* records lost (here or in the async queue) not yet said */
    uint64_t next_try_ns; /* TCP: no connection attempt before this */
    int backoff_ms;
    uint64_t connected_ns; /* TCP: when the connection was made */
    bool sent_whole;       /* TCP: a frame went whole on this connection */
} syslog_sink;

/* ---- the message ---------------------------------------------------------------- */

/* Printable US-ASCII (33..126) as RFC 5424's header fields take it: other
 * bytes become '_', cut to max, "-" when empty. */
static void put_token(fmt_buf *b, const char *s, size_t max)
{
    size_t n = 0;
    for (const unsigned char *c = (const unsigned char *)(s ? s : ""); *c && n < max; c++, n++)
        fmt_buf_putc(b, *c >= 33 && *c <= 126 ? (char)*c : '_');
    if (n == 0)
        fmt_buf_putc(b, '-');
}

/* An SD-NAME: printable US-ASCII but '=', ' ', ']' and '"', at most 32. */
static void put_sd_name(fmt_buf *b, const char *s)
{
    size_t n = 0;
    for (const unsigned char *c = (const unsigned char *)(s ? s : ""); *c && n < 32; c++, n++)
        fmt_buf_putc(b, *c > 32 && *c < 127 && *c != '=' && *c != ']' && *c != '"' ? (char)*c : '_');
    if (n == 0)
        fmt_buf_putc(b, '_');
}

/* A PARAM-VALUE: UTF-8 (invalid sequences become U+FFFD), with '"', '\'
 * and ']' escaped by a backslash. */
static void put_sd_value(fmt_buf *b, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            if (c == '"' || c == '\\' || c == ']')
                fmt_buf_putc(b, '\\');
            fmt_buf_putc(b, (char)c);
            i++;
            continue;
        }
        int ok;
        size_t k = ctx__utf8_item(s + i, n - i, &ok);
        if (ok)
            fmt_buf_append(b, s + i, k);
        else
            fmt_buf_append(b, "\xEF\xBF\xBD", 3);
        i += k;
    }
}

static void put_sd(const syslog_sink *y, const log_record *r, fmt_buf *b)
{
    size_t n = r->ctx_fields ? r->n_ctx_fields : 0;
    if (n == 0) {
        fmt_buf_putc(b, '-');
        return;
    }
    char id[32];
    int k = snprintf(id, sizeof id, "[ctx@%u", y->enterprise_id);
    fmt_buf_append(b, id, (size_t)k);
    fmt_buf tmp = {0};
    for (size_t i = 0; i < n; i++) {
        const log_field *f = &r->ctx_fields[i];
        fmt_buf_putc(b, ' ');
        put_sd_name(b, f->key);
        fmt_buf_append(b, "=\"", 2);
        if (f->type == LOG_FIELD_STR && f->v.s) {
            put_sd_value(b, f->v.s, strlen(f->v.s));
        } else {
            fmt_buf_clear(&tmp);
            fmt_json_value(&tmp, f); /* numbers as the JSON encoder writes them */
            if (tmp.oom)
                b->oom = 1;
            else
                put_sd_value(b, tmp.data, tmp.len);
        }
        fmt_buf_putc(b, '"');
    }
    fmt_buf_putc(b, ']');
    fmt_buf_free(&tmp);
}

/* The largest message one datagram carries on the sink's transport
 * (SIZE_MAX on a stream): UDP's payload over IPv4 or IPv6. A local socket
 * takes more than any record the library keeps whole in a datagram. */
static size_t datagram_limit(const syslog_sink *y)
{
    if (y->transport != LOG_SYSLOG_UDP)
        return SIZE_MAX;
    return y->addr.ss_family == AF_INET6 ? 65527 : 65507;
}

/*
 * The bytes one record becomes, into b (b->oom when memory ran out); the
 * frame starts at the returned offset (for TCP, the octet count is written
 * just before the message, in the room left for it).
 */
static size_t build_frame(const syslog_sink *y, const log_record *r, const char *text,
                          size_t len, fmt_buf *b)
{
    static const char room[PREFIX] = {0};
    if (y->transport == LOG_SYSLOG_TCP)
        fmt_buf_append(b, room, PREFIX);
    size_t start = b->len;
    char head[32];
    int k = snprintf(head, sizeof head, "<%u>1 ", y->facility * 8 + (unsigned)log__severity(r->level));
    fmt_buf_append(b, head, (size_t)k);
    fmt_rfc3339_utc(b, &r->time);
    fmt_buf_putc(b, ' ');
    fmt_buf_append(b, y->host, strlen(y->host));
    fmt_buf_putc(b, ' ');
    fmt_buf_append(b, y->app, strlen(y->app));
    k = snprintf(head, sizeof head, " %ld ", (long)getpid());
    fmt_buf_append(b, head, (size_t)k);
    put_token(b, r->logger, 32);
    fmt_buf_putc(b, ' ');
    put_sd(y, r, b);
    fmt_buf_putc(b, ' ');
    const char *msg = text ? text : r->msg;
    if (text && len && text[len - 1] == '\n')
        len--;
    else if (!text)
        len = r->msg ? r->msg_len : 0;
    if (msg) {
        /* A datagram has a limit: past it MSG is cut (RFC 5424 6.1, 5426
         * 3.2), at a UTF-8 character's start, the header and structured
         * data kept whole. */
        size_t limit = datagram_limit(y), used = b->len - start;
        if (len > 0 && used < limit && len > limit - used) {
            len = limit - used;
            while (len > 0 && ((unsigned char)msg[len] & 0xC0) == 0x80)
                len--;
        }
        fmt_buf_append(b, msg, len);
    }
    if (b->oom || y->transport != LOG_SYSLOG_TCP)
        return start;
    char count[PREFIX];
    k = snprintf(count, sizeof count, "%zu ", b->len - start);
    assert(k > 0 && k < PREFIX); /* the room left in front holds the count */
    memcpy(b->data + start - (size_t)k, count, (size_t)k);
    return start - (size_t)k;
}

/* The build op: the frame alone, from b's start. */
static void syslog_build(log_sink *s, const log_record *r, const char *text, size_t len,
                         fmt_buf *b)
{
    size_t start = build_frame(LOG__SINK_OF(syslog_sink, s), r, text, len, b);
    if (start && !b->oom) {
        memmove(b->data, b->data + start, b->len - start);
        b->len -= start;
    }
}

/* The record that says how many records were lost, as a frame. */
static void build_drop_report(const syslog_sink *y, uint64_t n, fmt_buf *b, size_t *start)
{
    static const char msg[] = "syslog: records dropped";
    log_field field = LOG_U64("dropped", n);
    log_record r = {
        .level = LOG_LEVEL_WARN,
        .logger = "ctxlog",
        .msg = msg,
        .msg_len = sizeof msg - 1,
        .fields = &field,
        .n_fields = 1,
    };
    clock_gettime(CLOCK_REALTIME, &r.time);
    fmt_buf text = {0};
    const log_sink *s = &y->base;
    bool ok = s->formatter && fmt_format(s->formatter, &r, s->tty, &text) == 0 && !text.oom;
    *start = build_frame(y, &r, ok ? text.data : NULL, ok ? text.len : 0, b);
    fmt_buf_free(&text);
}

/* ---- datagrams (local socket, UDP) ------------------------------------------------ */

/* Lock held: one datagram, waiting for the daemon (timeout_ms) only when
 * the last send did not wait in vain: a daemon that stopped reading costs
 * the logging thread one timeout, not one per record, until it reads. */
static int send_datagram(syslog_sink *y, const char *p, size_t len)
{
    int flags = MSG_NOSIGNAL | (y->stalled ? MSG_DONTWAIT : 0);
    for (;;) {
        if (sendto(y->fd, p, len, flags, (const struct sockaddr *)&y->addr, y->addr_len) >= 0) {
            y->stalled = false;
            return 0;
        }
        if (errno == EINTR)
            continue;
        if (errno != EWOULDBLOCK)
            return errno;
        y->stalled = true;
        return ETIMEDOUT;
    }
}

/* Lock held: one frame. After a failure, once one goes through, the
 * frame saying how many were lost follows (until it goes, it is owed). */
static int datagram_locked(syslog_sink *y, const char *p, size_t len)
{
    int err = send_datagram(y, p, len);
    if (err) {
        y->lost++; /* counted by the caller (log__sink_failed) */
        return err;
    }
    if (!y->lost)
        return 0;
    fmt_buf b = {0};
    size_t start = 0;
    build_drop_report(y, y->lost, &b, &start);
    if (!b.oom && send_datagram(y, b.data + start, b.len - start) == 0)
        y->lost = 0;
    fmt_buf_free(&b);
    return 0;
}

/* ---- the TCP stream ---------------------------------------------------------------- */

static uint64_t mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Lock held: the connection is gone (err says why, for the report). The
 * frame being sent starts over on the next connection: the daemon drops a
 * frame it did not get whole. */
static void disconnect_locked(syslog_sink *y, int err)
{
    log_sink *s = &y->base;
    close(y->fd);
    y->fd = -1;
    y->stalled = false;
    if (y->head)
        y->head->off = y->head->start;
    y->next_try_ns = mono_ns() + (uint64_t)y->backoff_ms * 1000000u;
    y->backoff_ms = y->backoff_ms * 2 > y->backoff_max_ms ? y->backoff_max_ms : y->backoff_ms * 2;
    if (!y->down)
        log__report("cannot send to %s: %s; up to %zu records wait for it, more are lost "
                    "(log_dropped_count())",
                    s->name, strerror(err), y->queue_max);
    y->down = true;
}

/* Lock held: connect when the backoff allows. Returns whether connected. */
static bool connect_locked(syslog_sink *y, bool now)
{
    if (y->fd >= 0)
        return true;
    if (!now && mono_ns() < y->next_try_ns)
        return false;
    int fd = socket(y->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        y->fd = -1;
        return false;
    }
    int err = 0;
    if (connect(fd, (const struct sockaddr *)&y->addr, y->addr_len) < 0) {
        err = errno;
        if (err == EINPROGRESS) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            int pr = poll(&p, 1, y->timeout_ms);
            socklen_t el = sizeof err;
            if (pr <= 0)
                err = pr == 0 ? ETIMEDOUT : errno;
            else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
                err = errno;
        }
    }
    y->fd = fd;
    if (err) {
        disconnect_locked(y, err);
        return false;
    }
    /* The backoff starts over only once the daemon proved it takes frames
     * (pump_locked): one that accepts and closes at once is tried at the
     * backoff's pace, not every reconnect_min_ms. */
    y->connected_ns = mono_ns();
    y->sent_whole = false;
    return true;
}

/* Lock held: whether the daemon closed its end (it never sends anything,
 * so the socket reading as ready means end of stream or an error). */
static bool peer_closed(const syslog_sink *y)
{
    struct pollfd p = {.fd = y->fd, .events = POLLIN | POLLRDHUP};
    return poll(&p, 1, 0) > 0 && p.revents;
}

/* Lock held: send what the queue holds, as far as the daemon takes it. */
static void pump_locked(syslog_sink *y)
{
    LOG__ASSERT_LOCKED(&y->base);
    assert(y->transport == LOG_SYSLOG_TCP);
    if (y->fd >= 0 && peer_closed(y))
        disconnect_locked(y, ECONNRESET);
    else if (y->fd >= 0 && y->sent_whole && y->backoff_ms != y->backoff_min_ms &&
             mono_ns() - y->connected_ns >= (uint64_t)y->backoff_ms * 1000000u)
        y->backoff_ms = y->backoff_min_ms; /* a frame went, and it kept the connection
                                            * as long as the backoff had grown */
    if (!connect_locked(y, false))
        return;
    while (y->head) {
        frame *f = y->head;
        ssize_t w = send(y->fd, f->data + f->off, f->len - f->off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
            y->stalled = false;
            f->off += (size_t)w;
            if (f->off == f->len) {
                y->sent_whole = true;
                y->head = f->next;
                if (!y->head)
                    y->tail = NULL;
                y->queued--;
                free(f->data);
                free(f);
            }
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (y->stalled)
                return;
            struct pollfd p = {.fd = y->fd, .events = POLLOUT};
            int pr = poll(&p, 1, y->timeout_ms);
            if (pr == 0)
                y->stalled = true;
            if (pr == 0 || (pr < 0 && errno != EINTR))
                return;
            continue;
        }
        disconnect_locked(y, w < 0 ? errno : EPIPE);
        return;
    }
}

/* Lock held: append the frame data[start, len) (data is taken, or freed);
 * `counted`: it takes a place of the queue's bound. Returns false when
 * there was no room or memory (nothing queued). */
static bool enqueue_locked(syslog_sink *y, char *data, size_t start, size_t len, bool counted)
{
    LOG__ASSERT_LOCKED(&y->base);
    assert(start < len && (y->head != NULL) == (y->queued != 0));
    frame *f = counted && y->queued >= y->queue_max ? NULL : malloc(sizeof *f);
    if (!f) {
        free(data);
        return false;
    }
    *f = (frame){.data = data, .start = start, .off = start, .len = len};
    if (y->tail)
        y->tail->next = f;
    else
        y->head = f;
    y->tail = f;
    y->queued++; /* a drop report is over the bound by one at most */
    return true;
}

/* Lock held: a copy of the frame p[0, len) into the queue, or counted as
 * lost when it is full (after one more try to send) or memory ran out. */
static void keep_locked(syslog_sink *y, const char *p, size_t len)
{
    log_sink *s = &y->base;
    if (y->queued >= y->queue_max)
        pump_locked(y); /* full: make room if the daemon takes bytes */
    if (y->queued < y->queue_max) {
        char *data = malloc(len);
        if (data) {
            memcpy(data, p, len);
            if (enqueue_locked(y, data, 0, len, true))
                return;
        }
    }
    log__count_dropped(1);
    y->lost++;
    if (!y->down)
        log__report("cannot keep records for %s: its queue of %zu is full; records are "
                    "being lost (log_dropped_count())",
                    s->name, y->queue_max);
    y->down = true;
}

/* Lock held, TCP: send what the queue holds; once it went out whole after
 * a failure, say so, and send the record that tells how many were lost. */
static void deliver_locked(syslog_sink *y)
{
    pump_locked(y);
    if ((!y->down && !y->lost) || y->head || y->fd < 0)
        return;
    if (y->down) {
        y->down = false;
        log__sink_recovered(&y->base);
    }
    if (!y->lost)
        return;
    fmt_buf b = {0};
    size_t start = 0;
    build_drop_report(y, y->lost, &b, &start);
    if (!b.oom && enqueue_locked(y, b.data, start, b.len, false))
        y->lost = 0;
    else
        fmt_buf_free(&b);
    pump_locked(y);
}

/* The write_lines op: one frame (sink_ops.h "Units"). */
static int syslog_write_lines(log_sink *s, const char *p, size_t len, unsigned gen, size_t *done)
{
    (void)gen; /* nothing to reopen */
    LOG__ASSERT_LOCKED(s);
    syslog_sink *y = LOG__SINK_OF(syslog_sink, s);
    *done = 0;
    if (y->transport != LOG_SYSLOG_TCP)
        return datagram_locked(y, p, len);
    deliver_locked(y); /* older frames, and the report of a past outage, first */
    keep_locked(y, p, len);
    pump_locked(y);
    return 0; /* kept, or counted by keep_locked */
}

/* The writev op: the async writer's run, one frame per iov. */
static int syslog_writev(log_sink *s, struct iovec *iov, int n, int *done)
{
    LOG__ASSERT_LOCKED(s);
    syslog_sink *y = LOG__SINK_OF(syslog_sink, s);
    *done = 0;
    if (y->transport != LOG_SYSLOG_TCP) {
        for (int i = 0; i < n; i++) {
            int err = datagram_locked(y, iov[i].iov_base, iov[i].iov_len);
            if (err) {
                y->lost += (uint64_t)(n - i - 1); /* the rest of the run is lost too */
                return err;
            }
            *done = i + 1;
        }
        return 0;
    }
    deliver_locked(y);
    for (int i = 0; i < n; i++)
        keep_locked(y, iov[i].iov_base, iov[i].iov_len);
    pump_locked(y);
    *done = n;
    return 0; /* kept, or counted by keep_locked */
}

/* The lost op: records the async queue dropped, said with the others. */
static void syslog_lost(log_sink *s, uint64_t n)
{
    LOG__ASSERT_LOCKED(s);
    LOG__SINK_OF(syslog_sink, s)->lost += n;
}

/* The fork_child op: the queued frames and the lost count are the
 * parent's to deliver and say; a TCP stream is the parent's too (frames of
 * both would interleave on it), so the child connects on its own. */
static void syslog_fork_child(log_sink *s)
{
    syslog_sink *y = LOG__SINK_OF(syslog_sink, s);
    y->lost = 0;
    while (y->head) {
        frame *f = y->head;
        y->head = f->next;
        free(f->data);
        free(f);
    }
    y->tail = NULL;
    y->queued = 0;
    y->stalled = false;
    if (y->transport != LOG_SYSLOG_TCP)
        return; /* datagrams never interleave: the socket is shared */
    if (y->fd >= 0)
        close(y->fd);
    y->fd = -1;
    y->down = y->stalled = false;
    y->next_try_ns = 0;
    y->backoff_ms = y->backoff_min_ms;
}

/* The flush op (log_flush()): TCP, the queue sent now, connecting at once
 * (the backoff is for records, not for a flush) and waiting for the daemon
 * timeout_ms at most; an error while a frame is left. Datagrams: the frame
 * owed about lost records, if any. */
static int syslog_flush(log_sink *s)
{
    LOG__ASSERT_LOCKED(s);
    syslog_sink *y = LOG__SINK_OF(syslog_sink, s);
    if (y->transport != LOG_SYSLOG_TCP) {
        if (!y->lost)
            return 0;
        y->stalled = false; /* a flush may wait once more for the daemon */
        fmt_buf b = {0};
        size_t start = 0;
        build_drop_report(y, y->lost, &b, &start);
        int err = b.oom ? ENOMEM : send_datagram(y, b.data + start, b.len - start);
        fmt_buf_free(&b);
        if (err)
            return err;
        y->lost = 0;
        if (s->failing)
            log__sink_recovered(s);
        return 0;
    }
    if (!y->head && !y->down && !y->lost)
        return 0;
    y->stalled = false; /* one more wait for a daemon that stopped reading */
    if (y->fd >= 0 && peer_closed(y))
        disconnect_locked(y, ECONNRESET);
    if (!connect_locked(y, true))
        return ECONNREFUSED;
    deliver_locked(y);
    return y->head ? ETIMEDOUT : 0;
}

/* The last reference went: a last try to deliver what waits (connecting
 * at once, each send waiting at most timeout_ms); what is left is lost. */
static void syslog_close(log_sink *s)
{
    syslog_sink *y = LOG__SINK_OF(syslog_sink, s);
    pthread_mutex_lock(&s->lock); /* the last reference: for the assertions */
    if (y->head) {
        y->stalled = false;
        if (connect_locked(y, true))
            pump_locked(y);
    }
    pthread_mutex_unlock(&s->lock);
    if (y->queued) {
        log__count_dropped(y->queued);
        log__report("%zu records for %s could not be delivered before it was closed", y->queued,
                    s->name);
    }
    while (y->head) {
        frame *f = y->head;
        y->head = f->next;
        free(f->data);
        free(f);
    }
    if (y->fd >= 0)
        close(y->fd);
}

/* No crash_write: a frame may wait in the queue; no reopen. */
static const log__sink_ops syslog_ops = {
    .name = "syslog",
    .write_lines = syslog_write_lines,
    .writev = syslog_writev,
    .flush = syslog_flush,
    .build = syslog_build,
    .lost = syslog_lost,
    .fork_child = syslog_fork_child,
    .close = syslog_close,
};

/* The peer's address into y, and the sink's name into name. */
static int resolve(syslog_sink *y, const log_syslog_options *o, char *name, size_t cap)
{
    if (o->transport == LOG_SYSLOG_UNIX) {
        const char *path = o->path ? o->path : DEFAULT_PATH;
        struct sockaddr_un *un = (struct sockaddr_un *)&y->addr;
        if (!*path || strlen(path) >= sizeof un->sun_path)
            return CTXLOG_EINVAL;
        un->sun_family = AF_UNIX;
        memcpy(un->sun_path, path, strlen(path) + 1);
        y->addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
        snprintf(name, cap, "syslog %s", path);
        return 0;
    }
    const char *host = o->host ? o->host : DEFAULT_HOST;
    char port[16];
    snprintf(port, sizeof port, "%u", o->port ? o->port : 514u);
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC,
        .ai_socktype = o->transport == LOG_SYSLOG_TCP ? SOCK_STREAM : SOCK_DGRAM,
    };
    struct addrinfo *ai = NULL;
    if (getaddrinfo(host, port, &hints, &ai) != 0 || !ai) {
        errno = EHOSTUNREACH;
        return CTXLOG_EIO;
    }
    memcpy(&y->addr, ai->ai_addr, ai->ai_addrlen);
    y->addr_len = ai->ai_addrlen;
    freeaddrinfo(ai);
    snprintf(name, cap, "syslog %s %s:%s", o->transport == LOG_SYSLOG_TCP ? "tcp" : "udp", host,
             port);
    return 0;
}

/* Printable US-ASCII of s, cut to cap - 1, "-" when empty. */
static void header_field(char *out, size_t cap, const char *s)
{
    fmt_buf b = {.data = out, .cap = cap - 1, .fixed = 1};
    size_t n = strlen(s ? s : "");
    put_token(&b, s, n < cap - 1 ? n : cap - 1);
    out[b.len] = '\0';
}

int log_sink_syslog(log_sink **out, const log_syslog_options *opts)
{
    if (!out)
        return CTXLOG_EINVAL;
    *out = NULL;
    /* Registering it from a user's sink operation would wait for the
     * registry of sinks, which the operation's thread may hold. */
    if (log__in_sink_op())
        return CTXLOG_EBUSY;
    log_syslog_options o = {0};
    if (opts)
        o = *opts;
    if ((unsigned)o.transport > LOG_SYSLOG_TCP || o.facility > 23 || o.port > 65535 ||
        o.timeout_ms < 0 || o.reconnect_min_ms < 0 || o.reconnect_max_ms < 0)
        return CTXLOG_EINVAL;
    syslog_sink tmp = {.transport = o.transport};
    char name[512];
    int rc = resolve(&tmp, &o, name, sizeof name);
    if (rc)
        return rc;
    int type = o.transport == LOG_SYSLOG_TCP ? SOCK_STREAM : SOCK_DGRAM;
    int fd = -1;
    if (o.transport != LOG_SYSLOG_TCP) {
        fd = socket(tmp.addr.ss_family, type | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return CTXLOG_EIO;
    }
    log_sink *s = log__sink_new(&syslog_ops, sizeof(syslog_sink), name);
    log_formatter *json = s ? log_formatter_json(NULL) : NULL;
    if (!json) {
        if (fd >= 0)
            close(fd);
        if (s) {
            LOG__SINK_OF(syslog_sink, s)->fd = -1;
            log_sink_release(s);
        }
        return CTXLOG_ENOMEM;
    }
    syslog_sink *y = LOG__SINK_OF(syslog_sink, s);
    y->transport = o.transport;
    y->addr = tmp.addr;
    y->addr_len = tmp.addr_len;
    y->fd = fd;
    y->facility = o.facility ? o.facility : 1;
    y->enterprise_id = o.enterprise_id ? o.enterprise_id : 32473;
    y->queue_max = o.queue_max ? o.queue_max : 10000;
    y->timeout_ms = o.timeout_ms ? o.timeout_ms : 1000;
    y->backoff_min_ms = o.reconnect_min_ms ? o.reconnect_min_ms : 100;
    y->backoff_max_ms = o.reconnect_max_ms ? o.reconnect_max_ms : 10000;
    if (y->backoff_max_ms < y->backoff_min_ms)
        y->backoff_max_ms = y->backoff_min_ms;
    y->backoff_ms = y->backoff_min_ms;
    char hostname[256] = "";
    if (!o.hostname && gethostname(hostname, sizeof hostname - 1) == 0)
        o.hostname = hostname;
    header_field(y->host, sizeof y->host, o.hostname);
    header_field(y->app, sizeof y->app, o.app_name ? o.app_name : program_invocation_short_name);
    (void)log_sink_set_formatter(s, json);
    log_formatter_release(json);
    if (fd >= 0) {
        int ms = y->timeout_ms;
        struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    } else {
        pthread_mutex_lock(&s->lock);
        (void)connect_locked(y, true); /* a daemon not there yet is not an error */
        pthread_mutex_unlock(&s->lock);
    }
    log__sink_register(s); /* log_flush() reaches it; the async writer writes it */
    *out = s;
    return 0;
}

/* ---- in the configuration file: "type": "syslog" -------------------------------------- */

static const char *const transports[] = {"unix", "udp", "tcp", NULL};
/* Facility numbers 1.. in order (kern, 0, is not for programs). */
static const char *const facilities[] = {
    "user",   "mail",   "daemon", "auth",   "syslog", "lpr",      "news",    "uucp",
    "cron",   "authpriv", "ftp",  "ntp",    "security", "console", "solaris-cron",
    "local0", "local1", "local2", "local3", "local4", "local5",   "local6",  "local7", NULL};

#define OPT(m) .offset = offsetof(log_syslog_options, m)
enum { KEY_TRANSPORT, KEY_PATH, KEY_HOST, KEY_PORT, KEY_QUEUE_MAX };
static const log__sink_key syslog_keys[] = {
    [KEY_TRANSPORT] = {.name = "transport", .type = LOG__KEY_ENUM, OPT(transport),
                       .size = sizeof(log_syslog_transport), .names = transports,
                       .what = "syslog transport"},
    [KEY_PATH] = {.name = "path", .type = LOG__KEY_STRING, OPT(path), .nonempty = true},
    [KEY_HOST] = {.name = "host", .type = LOG__KEY_STRING, OPT(host), .nonempty = true},
    [KEY_PORT] = {.name = "port", .type = LOG__KEY_INT, OPT(port), .size = sizeof(unsigned),
                  .min = 1, .max = 65535, .range = "from 1 to 65535"},
    [KEY_QUEUE_MAX] = {.name = "queue_max", .type = LOG__KEY_INT, OPT(queue_max),
                       .size = sizeof(size_t), .min = 1, .max = 1 << 30,
                       .range = "from 1 to 1073741824"},
    {.name = "facility", .type = LOG__KEY_ENUM, OPT(facility), .size = sizeof(unsigned),
     .names = facilities, .what = "facility", .base = 1},
    {.name = "app_name", .type = LOG__KEY_STRING, OPT(app_name), .nonempty = true},
    {.name = "hostname", .type = LOG__KEY_STRING, OPT(hostname), .nonempty = true},
    {.name = "enterprise_id", .type = LOG__KEY_INT, OPT(enterprise_id), .size = sizeof(unsigned),
     .min = 1, .max = 4294967295LL, .range = "from 1 to 4294967295"},
    {.name = "timeout_ms", .type = LOG__KEY_INT, OPT(timeout_ms), .size = sizeof(int), .min = 1,
     .max = 3600000, .range = "from 1 to 3600000"},
    {.name = NULL},
};
#undef OPT

/* Which keys apply depends on the transport. */
static const char *check_syslog(void *opts, unsigned given, const char **key)
{
    const log_syslog_options *o = opts;
    if (o->transport == LOG_SYSLOG_UNIX && (given & (1u << KEY_HOST | 1u << KEY_PORT))) {
        *key = given & 1u << KEY_HOST ? "host" : "port";
        return "applies to the udp and tcp transports only";
    }
    if (o->transport != LOG_SYSLOG_UNIX && (given & 1u << KEY_PATH)) {
        *key = "path";
        return "applies to the unix transport only";
    }
    if (o->transport != LOG_SYSLOG_TCP && (given & 1u << KEY_QUEUE_MAX)) {
        *key = "queue_max";
        return "applies to the tcp transport only";
    }
    if (o->path && strlen(o->path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        *key = "path";
        return "is too long for a socket address";
    }
    return NULL;
}

static int make_syslog(const void *opts, log_sink **out, log__sink_why *why)
{
    const log_syslog_options *o = opts;
    int rc = log_sink_syslog(out, o);
    if (rc == CTXLOG_EIO)
        *why = (log__sink_why){o->host ? "host" : NULL, "cannot reach syslog at",
                               o->host ? o->host : "127.0.0.1", errno};
    return rc;
}

const log__sink_kind log__kind_syslog = {
    .type = "syslog",
    .keys = syslog_keys,
    .opts_size = sizeof(log_syslog_options),
    .formatted = true,
    .check = check_syslog,
    .make = make_syslog,
};
