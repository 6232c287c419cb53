/* SPDX-License-Identifier: MIT */
/*
 * A journald or local syslog peer that stops reading (its queue full):
 * the logging thread waits for it once, not once per record, until it
 * reads again; the records meanwhile are counted as dropped exactly, said
 * once on stderr, and followed by a record with their number once delivery
 * resumes. This test's own sendmsg() and sendto() (which the library
 * calls instead of libc's) count the sends that waited in vain.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include <ctxlog/ctxlog.h>

#include "support.h"

static atomic_int waits; /* sends that could wait and timed out */

static void count_wait(long rc, int flags)
{
    if (rc < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && !(flags & MSG_DONTWAIT))
        atomic_fetch_add(&waits, 1);
}

ssize_t sendmsg(int fd, const struct msghdr *mh, int flags)
{
    long rc = syscall(SYS_sendmsg, fd, mh, flags);
    count_wait(rc, flags);
    return rc;
}

ssize_t sendto(int fd, const void *p, size_t n, int flags, const struct sockaddr *to,
               socklen_t tolen)
{
    long rc = syscall(SYS_sendto, fd, p, n, flags, to, tolen);
    count_wait(rc, flags);
    return rc;
}

#define STALLED 50
#define RESUMED 10

typedef struct peer {
    char *path;
    int fd;
} peer;

/* A datagram socket that never reads, its queue filled by the test. */
static peer peer_full(const char *name)
{
    peer p = {ts_temp_path(name), socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)};
    assert_true(p.fd >= 0);
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    snprintf(un.sun_path, sizeof un.sun_path, "%s", p.path);
    assert_int_equal(bind(p.fd, (struct sockaddr *)&un, sizeof un), 0);
    int f = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    assert_true(f >= 0);
    int sent = 0;
    while (syscall(SYS_sendto, f, "FILL", 4, MSG_DONTWAIT, (struct sockaddr *)&un, sizeof un) == 4)
        sent++;
    assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
    assert_true(sent > 0);
    close(f);
    return p;
}

/* The next datagram, NUL-terminated; 0 when none waits. */
static size_t next_datagram(peer *p, char *buf, size_t cap)
{
    ssize_t n = recv(p->fd, buf, cap - 1, MSG_DONTWAIT);
    if (n < 0) {
        assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
        return 0;
    }
    buf[n] = '\0';
    return (size_t)n;
}

/* What a sink's datagram carries, as a JSON record: journald's fields
 * MESSAGE and DROPPED (plain NAME=value lines: the test's records have no
 * newline), or syslog's MSG, parsed. */
typedef json_t *(*decode_fn)(const char *d, size_t n);

static json_t *decode_journal(const char *d, size_t n)
{
    json_t *r = json_object();
    const char *end = d + n;
    while (d < end) {
        const char *nl = memchr(d, '\n', (size_t)(end - d));
        assert_non_null(nl);
        const char *eq = memchr(d, '=', (size_t)(nl - d));
        if (!eq) { /* NAME\n, 64-bit length, value, \n */
            uint64_t len;
            memcpy(&len, nl + 1, 8);
            d = nl + 1 + 8 + len + 1;
            continue;
        }
        if (eq - d == 7 && memcmp(d, "MESSAGE", 7) == 0)
            json_object_set_new(r, "msg", json_stringn(eq + 1, (size_t)(nl - eq - 1)));
        if (eq - d == 7 && memcmp(d, "DROPPED", 7) == 0)
            json_object_set_new(r, "dropped", json_integer(atoll(eq + 1)));
        d = nl + 1;
    }
    return r;
}

static json_t *decode_syslog(const char *d, size_t n)
{
    (void)n;
    const char *msg = strstr(d, " - {"); /* no context: SD is "-" */
    assert_non_null(msg);
    json_error_t err;
    json_t *r = json_loads(msg + 3, 0, &err);
    if (!r)
        fail_msg("MSG is not JSON: %s (%s)", msg + 3, err.text);
    return r;
}

static int count_of(const char *text, const char *what)
{
    int k = 0;
    for (const char *p = text; (p = strstr(p, what)) != NULL; p += strlen(what))
        k++;
    return k;
}

static void stalled_case(peer *p, log_sink *s, decode_fn decode)
{
    assert_int_equal(log_logger_clear_sinks(NULL), 0);
    assert_int_equal(log_logger_add_sink(NULL, s), 0);
    char *err_path = ts_temp_path("stalled.err");
    ts_capture cap = ts_capture_begin(2, err_path);
    uint64_t dropped_before = log_dropped_count();
    atomic_store(&waits, 0);
    for (int i = 0; i < STALLED; i++)
        log_info_kv("stalled", LOG_I64("i", i));
    /* One wait in vain, then none until the peer reads. */
    assert_int_equal(atomic_load(&waits), 1);

    static char buf[1 << 16];
    size_t delivered = 0, n;
    while ((n = next_datagram(p, buf, sizeof buf)) != 0) /* the peer reads again */
        if (n != 4 || memcmp(buf, "FILL", 4) != 0)
            delivered++;
    for (int i = 0; i < RESUMED; i++)
        log_info_kv("resumed", LOG_I64("i", i));
    ts_capture_end(&cap);

    uint64_t reported = 0, resumed = 0;
    while ((n = next_datagram(p, buf, sizeof buf)) != 0) {
        json_t *r = decode(buf, n);
        const char *msg = json_string_value(json_object_get(r, "msg"));
        assert_non_null(msg);
        if (strstr(msg, "records dropped"))
            reported += (uint64_t)json_integer_value(json_object_get(r, "dropped"));
        else if (strcmp(msg, "resumed") == 0)
            resumed++;
        else
            delivered++; /* a stalled one that found room */
        json_decref(r);
    }
    assert_int_equal(resumed, RESUMED);
    assert_true(reported > 0);
    assert_int_equal(delivered + reported, STALLED);
    assert_int_equal(log_dropped_count() - dropped_before, reported);
    char *text = ts_read_file(err_path, NULL);
    assert_non_null(text);
    assert_int_equal(count_of(text, "cannot write to"), 1);
    free(text);
    ts_unlink(err_path);
    free(err_path);
    assert_int_equal(log_logger_clear_sinks(NULL), 0);
    log_sink_release(s);
    log_shutdown();
    close(p->fd);
    ts_unlink(p->path);
    free(p->path);
}

static void test_sink_stalled_peer__journald_one_wait_then_counted(void **state)
{
    (void)state;
    peer p = peer_full("journal.sock");
    log_journald_options o = {.socket_path = p.path, .timeout_ms = 100};
    log_sink *s;
    assert_int_equal(log_sink_journald(&s, &o), 0);
    stalled_case(&p, s, decode_journal);
}

static void test_sink_stalled_peer__syslog_local_one_wait_then_counted(void **state)
{
    (void)state;
    peer p = peer_full("dev-log");
    log_syslog_options o = {.path = p.path, .hostname = "h", .app_name = "a", .timeout_ms = 100};
    log_sink *s;
    assert_int_equal(log_sink_syslog(&s, &o), 0);
    stalled_case(&p, s, decode_syslog);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sink_stalled_peer__journald_one_wait_then_counted),
        cmocka_unit_test(test_sink_stalled_peer__syslog_local_one_wait_then_counted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
