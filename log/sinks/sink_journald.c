/* SPDX-License-Identifier: MIT */
/*
 * The journald sink: each record becomes one journal entry sent over the
 * journal's native protocol, implemented here from systemd's description
 * of it ("Native Journal Protocol"): a datagram on an AF_UNIX socket made
 * of fields, `NAME=value\n`, or `NAME\n` + the value's length as 64-bit
 * little endian + the value + `\n` for a value holding a newline (or any
 * bytes); an entry too large for a datagram is written to a memfd, sealed,
 * and the descriptor passed with SCM_RIGHTS.
 *
 * The sink builds units (sink_ops.h `build`): the entry is made on the
 * logging thread (build_entry, the one place that decides its bytes: it
 * needs the record's fields), and sent by the sink's write_lines (one
 * entry) and writev (one entry per iov) ops, under the sink's lock — on the
 * logging thread in sync mode, by the async writer in async mode. An entry
 * that cannot be sent is lost and counted by the common code
 * (log__sink_failed); the first one sent after that is followed by an
 * entry saying how many were lost (owed until it goes: log_flush() tries
 * it too).
 */
#include "log/sinks/sink_ops.h"
#include "log/sinks/sink_kind.h"
#include "log/base/log_hazard.h"
#include "log/sinks/sink_severity.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "formatters/fmt_json.h"

#define DEFAULT_SOCKET "/run/systemd/journal/socket"
/* The journal refuses longer field names. */
#define NAME_MAX_LEN 64

typedef struct journald_sink {
    log_sink base;
    int fd;
    struct sockaddr_un addr;
    socklen_t addr_len;
    char *identifier;
    uint64_t lost; /* records lost (here or in the async queue) not yet said; under lock */
    /* Under lock: a send waited the timeout in vain and none went since;
     * until one does, sends do not wait (the journal stopped reading: the
     * logging thread pays one timeout, not one per record). */
    bool stalled;
} journald_sink;

/* The fields every entry has, whose names a variable or field never takes. */
static const char *const own_fields[] = {"MESSAGE",  "PRIORITY",  "SYSLOG_IDENTIFIER",
                                         "LOGGER",   "TID",       "CODE_FILE",
                                         "CODE_LINE", "CODE_FUNC"};

/* ---- building an entry ------------------------------------------------------------ */

static void put_field(fmt_buf *b, const char *name, const char *v, size_t vlen)
{
    fmt_buf_append(b, name, strlen(name));
    if (v && memchr(v, '\n', vlen)) {
        fmt_buf_putc(b, '\n');
        uint64_t le = htole64((uint64_t)vlen);
        fmt_buf_append(b, &le, sizeof le);
    } else {
        fmt_buf_putc(b, '=');
    }
    fmt_buf_append(b, v, vlen);
    fmt_buf_putc(b, '\n');
}

static void put_number(fmt_buf *b, const char *name, long long n)
{
    char num[24];
    int k = snprintf(num, sizeof num, "%lld", n);
    put_field(b, name, num, (size_t)k);
}

/* The names used in one entry so far, NUL-separated in `used`. */
static bool name_used(const fmt_buf *used, const char *name)
{
    for (size_t i = 0; i < used->len; i += strlen(used->data + i) + 1)
        if (strcmp(used->data + i, name) == 0)
            return true;
    return false;
}

/* The journal name of key (the rule is in sink.h), not yet in `used`;
 * added to it. */
static void map_name(const char *key, fmt_buf *used, char out[NAME_MAX_LEN + 1])
{
    size_t n = 0;
    for (const unsigned char *c = (const unsigned char *)(key ? key : ""); *c; c++) {
        if (n == 0 && *c == '_')
            continue; /* leading '_': the journal's trusted fields */
        if (n == NAME_MAX_LEN)
            break;
        char m = (*c >= 'a' && *c <= 'z') ? (char)(*c - 'a' + 'A')
                 : ((*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9')) ? (char)*c
                                                                          : '_';
        if (n == 0 && m == '_')
            continue; /* a byte mapped to '_' is dropped at the front too */
        out[n++] = m;
    }
    if (n == 0 || (out[0] >= '0' && out[0] <= '9')) {
        size_t keep = n > NAME_MAX_LEN - 2 ? NAME_MAX_LEN - 2 : n;
        memmove(out + 2, out, keep);
        memcpy(out, "F_", 2);
        n = keep + 2;
    }
    out[n] = '\0';
    for (unsigned k = 2; name_used(used, out); k++) {
        char suffix[16];
        int sl = snprintf(suffix, sizeof suffix, "_%u", k);
        size_t base = n + (size_t)sl > NAME_MAX_LEN ? NAME_MAX_LEN - (size_t)sl : n;
        memcpy(out + base, suffix, (size_t)sl + 1);
    }
    fmt_buf_append(used, out, strlen(out) + 1);
}

static void put_user_field(fmt_buf *b, fmt_buf *used, fmt_buf *tmp, const log_field *f)
{
    char name[NAME_MAX_LEN + 1];
    map_name(f->key, used, name);
    if (f->type == LOG_FIELD_STR && f->v.s) {
        put_field(b, name, f->v.s, strlen(f->v.s));
        return;
    }
    fmt_buf_clear(tmp);
    fmt_json_value(tmp, f);
    if (tmp->oom)
        b->oom = 1; /* the entry is incomplete: not sent */
    else
        put_field(b, name, tmp->data, tmp->len);
}

/* The whole entry for r into b (b->oom when memory ran out). */
static void build_entry(const journald_sink *j, const log_record *r, fmt_buf *b)
{
    fmt_buf used = {0}, tmp = {0};
    for (size_t i = 0; i < sizeof own_fields / sizeof own_fields[0]; i++)
        fmt_buf_append(&used, own_fields[i], strlen(own_fields[i]) + 1);

    put_field(b, "MESSAGE", r->msg ? r->msg : "", r->msg ? r->msg_len : 0);
    put_number(b, "PRIORITY", log__severity(r->level));
    put_field(b, "SYSLOG_IDENTIFIER", j->identifier, strlen(j->identifier));
    if (r->logger)
        put_field(b, "LOGGER", r->logger, strlen(r->logger));
    put_number(b, "TID", r->thread_id);
    if (r->file) {
        put_field(b, "CODE_FILE", r->file, strlen(r->file));
        put_number(b, "CODE_LINE", r->line);
        if (r->func)
            put_field(b, "CODE_FUNC", r->func, strlen(r->func));
    }
    for (size_t i = 0; r->ctx_fields && i < r->n_ctx_fields; i++)
        put_user_field(b, &used, &tmp, &r->ctx_fields[i]);
    for (size_t i = 0; i < r->n_fields; i++)
        put_user_field(b, &used, &tmp, &r->fields[i]);
    if (used.oom)
        b->oom = 1;
    fmt_buf_free(&used);
    fmt_buf_free(&tmp);
}

/* ---- sending ------------------------------------------------------------------------ */

/* The entry in a sealed memfd, its descriptor passed: for entries larger
 * than a datagram. Returns 0 or an errno value. */
static int send_memfd(journald_sink *j, const char *p, size_t len)
{
    int mfd = memfd_create("ctxlog-journal-entry", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (mfd < 0)
        return errno;
    int err = 0;
    size_t off = 0;
    while (off < len && !err) {
        ssize_t w = write(mfd, p + off, len - off);
        if (w > 0)
            off += (size_t)w;
        else if (w < 0 && errno != EINTR)
            err = errno;
    }
    if (!err && fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
        err = errno;
    if (!err) {
        union {
            struct cmsghdr h;
            char space[CMSG_SPACE(sizeof(int))];
        } control;
        memset(&control, 0, sizeof control);
        struct msghdr mh = {
            .msg_name = &j->addr,
            .msg_namelen = j->addr_len,
            .msg_control = control.space,
            .msg_controllen = sizeof control.space,
        };
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &mfd, sizeof(int));
        while (sendmsg(j->fd, &mh, MSG_NOSIGNAL | (j->stalled ? MSG_DONTWAIT : 0)) < 0) {
            if (errno != EINTR) {
                err = errno == EWOULDBLOCK ? ETIMEDOUT : errno;
                break;
            }
        }
    }
    close(mfd);
    return err;
}

/* One entry; returns 0 or an errno value. */
static int send_entry_once(journald_sink *j, const char *p, size_t len)
{
    struct iovec iov = {.iov_base = (void *)p, .iov_len = len};
    struct msghdr mh = {
        .msg_name = &j->addr,
        .msg_namelen = j->addr_len,
        .msg_iov = &iov,
        .msg_iovlen = 1,
    };
    for (;;) {
        if (sendmsg(j->fd, &mh, MSG_NOSIGNAL | (j->stalled ? MSG_DONTWAIT : 0)) >= 0)
            return 0;
        if (errno == EINTR)
            continue;
        if (errno == EMSGSIZE || errno == ENOBUFS)
            return send_memfd(j, p, len);
        return errno == EWOULDBLOCK ? ETIMEDOUT : errno;
    }
}

/* Lock held: one entry, waiting for the journal only when the last send
 * did not wait in vain (stalled). Returns 0 or an errno value. */
static int send_entry(journald_sink *j, const char *p, size_t len)
{
    LOG__ASSERT_LOCKED(&j->base);
    int err = send_entry_once(j, p, len);
    if (!err)
        j->stalled = false;
    else if (err == ETIMEDOUT)
        j->stalled = true;
    return err;
}

/* Lock held: send the entry that tells how many records were lost.
 * Returns 0 or an errno value (then it is still owed). */
static int report_lost_locked(journald_sink *j)
{
    LOG__ASSERT_LOCKED(&j->base);
    log_field field = LOG_U64("dropped", j->lost);
    log_record r = {
        .level = LOG_LEVEL_WARN,
        .logger = "ctxlog",
        .msg = "journald: records dropped",
        .msg_len = sizeof "journald: records dropped" - 1,
        .fields = &field,
        .n_fields = 1,
        .thread_id = 0,
    };
    clock_gettime(CLOCK_REALTIME, &r.time);
    fmt_buf b = {0};
    build_entry(j, &r, &b);
    int err = b.oom ? ENOMEM : send_entry(j, b.data, b.len);
    fmt_buf_free(&b);
    if (!err)
        j->lost = 0;
    return err;
}

/* The build op: the entry, from the record's fields (not its text). */
static void journald_build(log_sink *s, const log_record *r, const char *text, size_t len,
                           fmt_buf *b)
{
    (void)text, (void)len;
    build_entry(LOG__SINK_OF(journald_sink, s), r, b);
}

/* Lock held: one entry; after it, the report owed, if any. */
static int deliver_locked(journald_sink *j, const char *p, size_t len)
{
    int err = send_entry(j, p, len);
    if (err) {
        j->lost++; /* counted by the caller (log__sink_failed) */
        return err;
    }
    if (j->lost)
        (void)report_lost_locked(j);
    return 0;
}

/* The write_lines op: one entry (sink_ops.h "Units"). */
static int journald_write_lines(log_sink *s, const char *p, size_t len, unsigned gen,
                                size_t *done)
{
    (void)gen; /* nothing to reopen */
    LOG__ASSERT_LOCKED(s);
    *done = 0;
    return deliver_locked(LOG__SINK_OF(journald_sink, s), p, len);
}

/* The writev op: the async writer's run, one entry per iov. */
static int journald_writev(log_sink *s, struct iovec *iov, int n, int *done)
{
    LOG__ASSERT_LOCKED(s);
    journald_sink *j = LOG__SINK_OF(journald_sink, s);
    for (*done = 0; *done < n; (*done)++) {
        int err = deliver_locked(j, iov[*done].iov_base, iov[*done].iov_len);
        if (err) {
            j->lost += (uint64_t)(n - *done - 1); /* the rest of the run is lost too */
            return err;
        }
    }
    return 0;
}

/* The lost op: records the async queue dropped, said with the others. */
static void journald_lost(log_sink *s, uint64_t n)
{
    LOG__ASSERT_LOCKED(s);
    LOG__SINK_OF(journald_sink, s)->lost += n;
}

/* The fork_child op: the parent says what it lost; datagrams on the
 * shared socket never interleave, so the child keeps it. */
static void journald_fork_child(log_sink *s)
{
    LOG__SINK_OF(journald_sink, s)->lost = 0;
    LOG__SINK_OF(journald_sink, s)->stalled = false;
}

/* The flush op: every entry was sent or counted already; the report owed
 * about lost ones is tried now (it also tells whether the journal is
 * back). */
static int journald_flush(log_sink *s)
{
    LOG__ASSERT_LOCKED(s);
    journald_sink *j = LOG__SINK_OF(journald_sink, s);
    if (!j->lost)
        return 0;
    j->stalled = false; /* a flush may wait once more for the journal */
    int err = report_lost_locked(j);
    if (!err && s->failing)
        log__sink_recovered(s);
    return err;
}

static void journald_close(log_sink *s)
{
    journald_sink *j = LOG__SINK_OF(journald_sink, s);
    close(j->fd);
    free(j->identifier);
}

/* No crash_write, no reopen. */
static const log__sink_ops journald_ops = {
    .name = "journald",
    .write_lines = journald_write_lines,
    .writev = journald_writev,
    .flush = journald_flush,
    .build = journald_build,
    .lost = journald_lost,
    .fork_child = journald_fork_child,
    .close = journald_close,
};

int log_sink_journald(log_sink **out, const log_journald_options *opts)
{
    if (!out)
        return CTXLOG_EINVAL;
    *out = NULL;
    /* Registering it from a user's sink operation would wait for the
     * registry of sinks, which the operation's thread may hold. */
    if (log__in_sink_op())
        return CTXLOG_EBUSY;
    log_journald_options o = {0};
    if (opts)
        o = *opts;
    const char *path = o.socket_path ? o.socket_path : DEFAULT_SOCKET;
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (!*path || strlen(path) >= sizeof addr.sun_path || o.timeout_ms < 0)
        return CTXLOG_EINVAL;
    memcpy(addr.sun_path, path, strlen(path) + 1);
    const char *ident = o.identifier ? o.identifier : program_invocation_short_name;

    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return CTXLOG_EIO;
    int ms = o.timeout_ms ? o.timeout_ms : 1000;
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);

    log_sink *s = log__sink_new(&journald_ops, sizeof(journald_sink), path);
    if (!s) {
        close(fd);
        return CTXLOG_ENOMEM;
    }
    journald_sink *j = LOG__SINK_OF(journald_sink, s);
    j->fd = fd; /* the sink's from here: closed by journald_close */
    j->addr = addr;
    j->addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
    j->identifier = strdup(ident && *ident ? ident : "ctxlog");
    if (!j->identifier) {
        log_sink_release(s);
        return CTXLOG_ENOMEM;
    }
    log__sink_register(s); /* log_flush() reaches it; the async writer writes it */
    *out = s;
    return 0;
}

/* ---- in the configuration file: "type": "journald" ------------------------------------ */

static const log__sink_key journald_keys[] = {
    {.name = "socket_path", .type = LOG__KEY_STRING,
     .offset = offsetof(log_journald_options, socket_path), .nonempty = true},
    {.name = "identifier", .type = LOG__KEY_STRING,
     .offset = offsetof(log_journald_options, identifier), .nonempty = true},
    {.name = "timeout_ms", .type = LOG__KEY_INT, .offset = offsetof(log_journald_options, timeout_ms),
     .size = sizeof(int), .min = 1, .max = 3600000, .range = "from 1 to 3600000"},
    {.name = NULL},
};

static const char *check_journald(void *opts, unsigned given, const char **key)
{
    const log_journald_options *o = opts;
    (void)given;
    if (o->socket_path && strlen(o->socket_path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        *key = "socket_path";
        return "is too long for a socket address";
    }
    return NULL;
}

static int make_journald(const void *opts, log_sink **out, log__sink_why *why)
{
    (void)why;
    return log_sink_journald(out, opts);
}

/* A journal entry is made of the record's fields: no formatter. */
const log__sink_kind log__kind_journald = {
    .type = "journald",
    .keys = journald_keys,
    .opts_size = sizeof(log_journald_options),
    .formatted = false,
    .check = check_journald,
    .make = make_journald,
};
