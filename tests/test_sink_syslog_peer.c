/* SPDX-License-Identifier: MIT */
/*
 * The syslog sink against peers of the test's own: a TCP daemon that
 * accepts and closes at once is reconnected at the backoff's pace (the
 * backoff starts over only once a connection kept a delivered frame), and
 * a record too big for a UDP datagram is sent with its MSG cut to fit
 * (header and structured data whole, MSG cut at a UTF-8 character).
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include <ctxlog/ctxlog.h>

#include "support.h"

static log_sink *sink;

static int teardown(void **state)
{
    (void)state;
    (void)log_logger_clear_sinks(NULL);
    log_sink_release(sink);
    sink = NULL;
    log_shutdown();
    return 0;
}

static void use_sink(log_sink *s)
{
    sink = s;
    assert_int_equal(log_logger_clear_sinks(NULL), 0);
    assert_int_equal(log_logger_add_sink(NULL, s), 0);
}

/* ---- a daemon that accepts and closes at once ------------------------------------ */

typedef struct closer {
    int fd;
    atomic_int stop;
    atomic_int accepts;
} closer;

static void *closer_run(void *arg)
{
    closer *c = arg;
    while (!atomic_load(&c->stop)) {
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        if (poll(&p, 1, 20) != 1)
            continue;
        int a = accept(c->fd, NULL, NULL);
        if (a >= 0) {
            atomic_fetch_add(&c->accepts, 1);
            close(a);
        }
    }
    return NULL;
}

static uint64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

/* Records for 1.5 s, one every 2 ms, to a daemon that closes every
 * connection at once: with the backoff from 50 ms doubling to 2 s the sink
 * connects at about 0, 50, 150, 350, 750 ms and 1.55 s; resetting the
 * backoff on every connect made it every 50 ms (about 30 times). */
static void test_sink_syslog_peer__closing_daemon_paced_by_backoff(void **state)
{
    (void)state;
    static closer c;
    unsigned port;
    c.fd = ts_loopback_socket(SOCK_STREAM, &port);
    assert_int_equal(listen(c.fd, 64), 0);
    atomic_store(&c.stop, 0);
    atomic_store(&c.accepts, 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, closer_run, &c), 0);

    log_syslog_options o = {.transport = LOG_SYSLOG_TCP,
                            .port = port,
                            .hostname = "h",
                            .app_name = "a",
                            .timeout_ms = 200,
                            .reconnect_min_ms = 50,
                            .reconnect_max_ms = 2000};
    log_sink *s;
    assert_int_equal(log_sink_syslog(&s, &o), 0);
    use_sink(s);
    ts_capture cap = ts_capture_begin(2, "/dev/null");
    uint64_t until = mono_ms() + 1500;
    long records = 0;
    while (mono_ms() < until) {
        log_info_kv("to a closing daemon", LOG_I64("i", records++));
        usleep(2000);
    }
    ts_capture_end(&cap);
    atomic_store(&c.stop, 1);
    pthread_join(th, NULL);
    close(c.fd);
    int accepts = atomic_load(&c.accepts);
    assert_true(records > 10);
    assert_true(accepts >= 2);  /* it did try again */
    assert_true(accepts <= 12); /* at the backoff's pace, not every 50 ms */
}

/* ---- a record over a UDP datagram's limit ------------------------------------------ */

#define UDP_MAX 65507

static void test_sink_syslog_peer__udp_record_too_big_is_truncated(void **state)
{
    (void)state;
    unsigned uport;
    int u = ts_loopback_socket(SOCK_DGRAM, &uport);
    int big = 1 << 20;
    assert_int_equal(setsockopt(u, SOL_SOCKET, SO_RCVBUF, &big, sizeof big), 0);
    log_syslog_options o = {.transport = LOG_SYSLOG_UDP, .port = uport, .hostname = "h",
                            .app_name = "a"};
    log_sink *s;
    assert_int_equal(log_sink_syslog(&s, &o), 0);
    use_sink(s);
    uint64_t dropped = log_dropped_count();

    /* 100,001 bytes of message: "x" then "é" (2 bytes) 50,000 times, so
     * that a cut at any length can land inside a character. */
    size_t n = 1 + 2 * 50000;
    char *msg = malloc(n + 1);
    assert_non_null(msg);
    msg[0] = 'x';
    for (size_t i = 1; i < n; i += 2)
        memcpy(msg + i, "\xc3\xa9", 2);
    msg[n] = '\0';
    static char buf[1 << 17];
    for (int shift = 0; shift < 2; shift++) {
        {
            CTX_REQUEST("trunc-req", NULL, NULL);
            log_info_kv_to(log_get("app.big"), msg + shift, LOG_I64("n", 1));
        }
        struct pollfd p = {.fd = u, .events = POLLIN};
        assert_int_equal(poll(&p, 1, 10000), 1);
        ssize_t got = recv(u, buf, sizeof buf, 0);
        assert_true(got > 0 && got <= UDP_MAX);
        assert_true(got > UDP_MAX - 4); /* cut where the limit is */
        buf[got] = '\0';
        /* Header and structured data whole. */
        const char *sd = " h a ";
        assert_memory_equal(buf, "<14>1 ", 6);
        const char *q = memchr(buf + 6, ' ', (size_t)got - 6); /* after TIMESTAMP */
        assert_non_null(q);
        assert_memory_equal(q, sd, strlen(sd));
        q += strlen(sd);
        char want[64];
        snprintf(want, sizeof want, "%ld app.big [ctx@32473 request_id=\"trunc-req\"] ",
                 (long)getpid());
        assert_memory_equal(q, want, strlen(want));
        const char *m = q + strlen(want);
        size_t mlen = (size_t)(buf + got - m);
        /* MSG: the start of the JSON line, cut at a character: valid UTF-8
         * (jansson refuses a string that is not). */
        assert_memory_equal(m, "{\"ts\":\"", 7);
        json_t *as_string = json_stringn(m, mlen);
        assert_non_null(as_string);
        json_decref(as_string);
        const char *in_msg = strstr(m, "\"msg\":\"");
        assert_non_null(in_msg);
        in_msg += 7;
        assert_memory_equal(in_msg, msg + shift, (size_t)(buf + got - in_msg));
    }
    free(msg);
    assert_int_equal(log_dropped_count(), dropped); /* none lost */

    /* A record that fits is whole: its MSG is the JSON line. */
    log_info_kv_to(log_get("app.big"), "small", LOG_I64("n", 2));
    struct pollfd p = {.fd = u, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 10000), 1);
    ssize_t got = recv(u, buf, sizeof buf - 1, 0);
    assert_true(got > 0);
    buf[got] = '\0';
    const char *j = strstr(buf, " - {");
    assert_non_null(j);
    json_error_t err;
    json_t *rec = json_loads(j + 3, 0, &err);
    assert_non_null(rec);
    assert_string_equal(json_string_value(json_object_get(rec, "msg")), "small");
    json_decref(rec);
    close(u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_sink_syslog_peer__closing_daemon_paced_by_backoff,
                                  teardown),
        cmocka_unit_test_teardown(test_sink_syslog_peer__udp_record_too_big_is_truncated,
                                  teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
