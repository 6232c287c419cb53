/* SPDX-License-Identifier: MIT */
/* The syslog sink: the exact RFC 5424 bytes (read from a UDP and a local
 * socket the test binds), and a real syslog-ng started by the test in the
 * foreground on a free port of 127.0.0.1, with its own configuration,
 * persist, pid and control files in the test's directory: its syslog()
 * source (TCP, octet counting), json-parser on MSG, and one file per
 * tenant_id. Every line those files get is parsed with jansson.
 *
 * Without syslog-ng (Debian package syslog-ng-core) the test is skipped
 * (exit status 77). CTXLOG_STRESS_RECORDS (valgrind) and the sanitizers
 * scale the threaded case down from 100,000 records. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include <ctxlog/ctxlog.h>

#include "log/async/async.h"
#include "support.h"

/* The child of the fork test starts a writer thread: allowed. */
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
    return "die_after_fork=0";
}

#define SYSLOG_NG "/usr/sbin/syslog-ng"
#define THREADS 4
#define TENANTS 10
#define EID 32473

static char dir[256];  /* the test's directory */
static unsigned port;  /* syslog-ng's */
static pid_t sng_pid = -1;

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* ---- syslog-ng ---------------------------------------------------------------------- */

static unsigned free_port(int type)
{
    unsigned p;
    close(ts_loopback_socket(type, &p));
    return p;
}

static int port_listens(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* The configuration the README shows: the syslog() source, json-parser on
 * MSG, one file per tenant_id (records without one go to tenant-.log);
 * flow-control, so that syslog-ng slows the sender rather than dropping. */
static void write_config(void)
{
    char path[300];
    snprintf(path, sizeof path, "%s/syslog-ng.conf", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "@version: current\n"
            "source s_ctxlog {\n"
            "  syslog(ip(\"127.0.0.1\") port(%u) transport(\"tcp\")\n"
            "         max-connections(100) log-iw-size(10000) log-msg-size(1048576));\n"
            "};\n"
            "parser p_json { json-parser(prefix(\".json.\")); };\n"
            "destination d_tenant {\n"
            "  file(\"%s/tenant-${.json.tenant_id}.log\"\n"
            "       template(\"${.SDATA.ctx@%d.request_id}\\t${MSG}\\n\"));\n"
            "};\n"
            "log { source(s_ctxlog); parser(p_json); destination(d_tenant); flags(flow-control); };\n",
            port, dir, EID);
    fclose(f);
}

static void sng_start(void)
{
    char conf[300], persist[300], pidf[300], ctl[300], out[300];
    snprintf(conf, sizeof conf, "%s/syslog-ng.conf", dir);
    snprintf(persist, sizeof persist, "%s/syslog-ng.persist", dir);
    snprintf(pidf, sizeof pidf, "%s/syslog-ng.pid", dir);
    snprintf(ctl, sizeof ctl, "%s/syslog-ng.ctl", dir);
    snprintf(out, sizeof out, "%s/syslog-ng.out", dir);
    sng_pid = fork();
    if (sng_pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(SYSLOG_NG, SYSLOG_NG, "-F", "--no-caps", "-f", conf, "-R", persist, "-p", pidf,
              "-c", ctl, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 400 && !port_listens(); i++)
        sleep_ms(25);
    if (!port_listens())
        fail_msg("syslog-ng did not start; see %s", out);
}

static void sng_stop(void)
{
    if (sng_pid > 0) {
        kill(sng_pid, SIGTERM);
        waitpid(sng_pid, NULL, 0);
        sng_pid = -1;
    }
}

/* ---- reading the tenants' files ------------------------------------------------------ */

/* Lines of a file in the test's directory so far, read incrementally:
 * polling re-reads only what was appended since the last call. */
static size_t lines_in(const char *name)
{
    static struct {
        char name[64];
        off_t off;
        size_t lines;
    } seen[32];
    size_t k = 0;
    while (k < 32 && seen[k].name[0] && strcmp(seen[k].name, name) != 0)
        k++;
    assert_true(k < 32);
    if (!seen[k].name[0])
        snprintf(seen[k].name, sizeof seen[k].name, "%s", name);
    char path[300], buf[1 << 16];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return seen[k].lines;
    ssize_t n;
    while ((n = pread(fd, buf, sizeof buf, seen[k].off)) > 0) {
        seen[k].off += n;
        for (ssize_t i = 0; i < n; i++)
            seen[k].lines += buf[i] == '\n';
    }
    close(fd);
    return seen[k].lines;
}

static size_t tenant_lines(const char *prefix, int tenants)
{
    size_t n = 0;
    char name[64];
    for (int k = 0; k < tenants; k++) {
        snprintf(name, sizeof name, "tenant-%s%d.log", prefix, k);
        n += lines_in(name);
    }
    return n;
}

/* Wait (up to two minutes: syslog-ng writes as it receives) until the
 * files of `tenants` tenants hold `want` lines. */
static size_t wait_lines(const char *prefix, int tenants, size_t want)
{
    size_t n = 0;
    for (int i = 0; i < 1200 && (n = tenant_lines(prefix, tenants)) < want; i++)
        sleep_ms(100);
    return n;
}

/* Each line of a file: "request_id from the SD element" TAB "MSG", MSG
 * parsed with jansson; fn gets both. */
static void each_line(const char *name, void (*fn)(const char *sd_req, json_t *rec, void *arg),
                      void *arg)
{
    char path[300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    size_t len = 0;
    char *data = ts_read_file(path, &len);
    if (!data)
        return;
    for (char *line = data, *end; line < data + len; line = end + 1) {
        end = memchr(line, '\n', (size_t)(data + len - line));
        assert_non_null(end);
        char *tab = memchr(line, '\t', (size_t)(end - line));
        assert_non_null(tab);
        *tab = '\0';
        json_error_t err;
        json_t *rec = json_loadb(tab + 1, (size_t)(end - tab - 1), 0, &err);
        if (!rec)
            fail_msg("%s: MSG is not JSON: %s", name, err.text);
        fn(line, rec, arg);
        json_decref(rec);
    }
    free(data);
}

/* ---- the bytes of a message ---------------------------------------------------------- */

static log_sink *sink;
static uint64_t dropped_before;

static int teardown(void **state)
{
    (void)state;
    (void)log__async_set(false, 0, false);
    (void)log_logger_clear_sinks(NULL);
    log_sink_release(sink);
    sink = NULL;
    log_shutdown();
    return 0;
}

static void use_sink(log_sink *s)
{
    sink = s;
    dropped_before = log_dropped_count();
    assert_int_equal(log_logger_clear_sinks(NULL), 0);
    assert_int_equal(log_logger_add_sink(NULL, s), 0);
}

/* The message the test's socket got, NUL-terminated. */
static size_t receive(int fd, char *buf, size_t cap)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 10000), 1);
    ssize_t n = recv(fd, buf, cap - 1, 0);
    assert_true(n > 0);
    buf[n] = '\0';
    return (size_t)n;
}

/* Checks one message of the record logged below; returns its MSG. */
static const char *check_header(const char *m, const char *pri, const char *host, const char *app)
{
    size_t pl = strlen(pri);
    assert_memory_equal(m, pri, pl);
    m += pl;
    /* TIMESTAMP: 2026-11-30T07:57:29.123456Z */
    assert_int_equal(strlen(m) > 28, 1);
    assert_true(m[4] == '-' && m[7] == '-' && m[10] == 'T' && m[13] == ':' && m[16] == ':' &&
                m[19] == '.' && m[26] == 'Z' && m[27] == ' ');
    m += 28;
    char want[256];
    snprintf(want, sizeof want, "%s %s %ld app.db ", host, app, (long)getpid());
    assert_memory_equal(m, want, strlen(want));
    return m + strlen(want);
}

static void test_sink_syslog__message_bytes_udp_and_local(void **state)
{
    (void)state;
    /* UDP: a socket of the test's on 127.0.0.1. */
    unsigned uport;
    int u = ts_loopback_socket(SOCK_DGRAM, &uport);
    log_syslog_options o = {.transport = LOG_SYSLOG_UDP,
                            .port = uport,
                            .facility = 16,
                            .app_name = "my app",
                            .hostname = "h\xc3\xa9st"};
    log_sink *s;
    assert_int_equal(log_sink_syslog(&s, &o), 0);
    use_sink(s);
    ctx_var *odd = ctx_var_new("a very long name with = and ] and \" over 32", CTX_VAR_LOGGED);
    {
        CTX_REQUEST("r\"1\\]", "u1", "t1");
        CTX_SCOPE(odd, "bad \xff utf8 \xe2\x82\xac");
        log_warn_kv_to(log_get("app.db"), "hello", LOG_I64("n", 7));
    }
    char buf[4096];
    receive(u, buf, sizeof buf);
    /* local0 (16) * 8 + warning (4) = 132; non-ASCII host bytes as '_'. */
    const char *m = check_header(buf, "<132>1 ", "h__st", "my_app");
    const char *sd = "[ctx@32473 request_id=\"r\\\"1\\\\\\]\" user_id=\"u1\" tenant_id=\"t1\" "
                     "a_very_long_name_with___and___an=\"bad \xef\xbf\xbd utf8 \xe2\x82\xac\"] ";
    assert_memory_equal(m, sd, strlen(sd));
    json_error_t err;
    json_t *rec = json_loads(m + strlen(sd), 0, &err); /* MSG: the JSON line, no newline */
    assert_non_null(rec);
    assert_string_equal(json_string_value(json_object_get(rec, "msg")), "hello");
    assert_string_equal(json_string_value(json_object_get(rec, "request_id")), "r\"1\\]");
    assert_int_equal(json_integer_value(json_object_get(rec, "n")), 7);
    assert_int_equal(buf[strlen(buf) - 1], '}');
    json_decref(rec);

    /* Without context: "-" for SD; a record at info, facility user. */
    assert_int_equal(log_logger_clear_sinks(NULL), 0);
    log_sink_release(s);
    sink = NULL;
    o.facility = 0;
    o.app_name = NULL;
    o.hostname = "h";
    assert_int_equal(log_sink_syslog(&s, &o), 0);
    use_sink(s);
    log_info_kv_to(log_get("app.db"), "plain");
    receive(u, buf, sizeof buf);
    m = check_header(buf, "<14>1 ", "h", program_invocation_short_name);
    assert_memory_equal(m, "- {", 3);
    close(u);

    /* The local socket (datagrams, as /dev/log). */
    char *path = ts_temp_path("dev-log");
    int l = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    snprintf(un.sun_path, sizeof un.sun_path, "%s", path);
    assert_int_equal(bind(l, (struct sockaddr *)&un, sizeof un), 0);
    assert_int_equal(log_logger_clear_sinks(NULL), 0);
    log_sink_release(s);
    sink = NULL;
    log_syslog_options lo = {.path = path, .hostname = "h", .app_name = "a"};
    assert_int_equal(log_sink_syslog(&s, &lo), 0);
    use_sink(s);
    log_error_kv_to(log_get("app.db"), "local");
    receive(l, buf, sizeof buf);
    m = check_header(buf, "<11>1 ", "h", "a");
    close(l);
    ts_unlink(path);
    free(path);
    assert_int_equal(log_dropped_count() - dropped_before, 0);
}

static void test_sink_syslog__bad_arguments(void **state)
{
    (void)state;
    log_sink *s = (log_sink *)1;
    assert_int_equal(log_sink_syslog(NULL, NULL), CTXLOG_EINVAL);
    log_syslog_options o = {.facility = 24};
    assert_int_equal(log_sink_syslog(&s, &o), CTXLOG_EINVAL);
    assert_null(s);
    o = (log_syslog_options){.transport = (log_syslog_transport)7};
    assert_int_equal(log_sink_syslog(&s, &o), CTXLOG_EINVAL);
    o = (log_syslog_options){.transport = LOG_SYSLOG_TCP, .port = 70000};
    assert_int_equal(log_sink_syslog(&s, &o), CTXLOG_EINVAL);
    o = (log_syslog_options){.transport = LOG_SYSLOG_TCP, .timeout_ms = -1};
    assert_int_equal(log_sink_syslog(&s, &o), CTXLOG_EINVAL);
    o = (log_syslog_options){.transport = LOG_SYSLOG_UNIX, .path = ""};
    assert_int_equal(log_sink_syslog(&s, &o), CTXLOG_EINVAL);
    o = (log_syslog_options){.transport = LOG_SYSLOG_UDP, .host = "no-such-host.invalid"};
    assert_int_equal(log_sink_syslog(&s, &o), CTXLOG_EIO);
}

/* ---- a daemon that never reads: the logging thread goes on ---------------------------- */

static void test_sink_syslog__daemon_not_reading_never_blocks(void **state)
{
    (void)state;
    /* A listening socket nobody accepts from: the kernel takes the
     * connection and a few buffers' worth, then nothing. */
    unsigned lport;
    int l = ts_loopback_socket(SOCK_STREAM, &lport);
    assert_int_equal(listen(l, 1), 0);
    log_syslog_options o = {.transport = LOG_SYSLOG_TCP,
                            .port = lport,
                            .queue_max = 8,
                            .timeout_ms = 50};
    log_sink *s;
    assert_int_equal(log_sink_syslog(&s, &o), 0);
    use_sink(s);
    enum { RECORDS = 300, SIZE = 64 * 1024 };
    char *big = malloc(SIZE + 1);
    memset(big, 'x', SIZE);
    big[SIZE] = '\0';
    for (int i = 0; i < RECORDS; i++)
        log_info_kv("big", LOG_I64("i", i), LOG_STR("pad", big));
    uint64_t lost_logging = log_dropped_count() - dropped_before;
    assert_true(lost_logging > 0); /* 300 x 64 KiB do not fit in the buffers */
    /* Released: one last wait, the rest counted. */
    assert_int_equal(log_logger_clear_sinks(NULL), 0);
    log_sink_release(s);
    sink = NULL;
    uint64_t lost = log_dropped_count() - dropped_before;
    /* Now read what the connection got: whole frames + lost = logged. */
    int c = accept(l, NULL, NULL);
    assert_true(c >= 0);
    size_t cap = 64u << 20, len = 0;
    char *data = malloc(cap);
    ssize_t n;
    while ((n = recv(c, data + len, cap - len, 0)) > 0)
        len += (size_t)n;
    size_t frames = 0, pos = 0;
    while (pos < len) {
        char *sp = memchr(data + pos, ' ', len - pos);
        assert_non_null(sp);
        size_t flen = strtoul(data + pos, NULL, 10);
        size_t body = (size_t)(sp - data) + 1;
        if (body + flen > len)
            break; /* the frame being sent when the sink gave up */
        json_error_t err;
        const char *msg = memchr(data + body, '{', flen);
        assert_non_null(msg);
        json_t *rec = json_loadb(msg, flen - (size_t)(msg - (data + body)), 0, &err);
        assert_non_null(rec);
        assert_int_equal(json_integer_value(json_object_get(rec, "i")), (json_int_t)frames);
        json_decref(rec);
        frames++;
        pos = body + flen;
    }
    assert_int_equal(frames + lost, RECORDS);
    free(data);
    free(big);
    close(c);
    close(l);
}

/* ---- syslog-ng: 100,000 records, 10 tenants, every record in its file once ------------- */

static long per_thread;
static const char *tenant_prefix; /* each run its own files: "" sync, "a" async */

static void *tenant_thread(void *arg)
{
    int t = (int)(intptr_t)arg;
    char req[48], tenant[32];
    for (long i = 0; i < per_thread; i++) {
        snprintf(req, sizeof req, "r-%d-%ld", t, i);
        snprintf(tenant, sizeof tenant, "%s%ld", tenant_prefix, i % TENANTS);
        CTX_REQUEST(req, "user \"quoted\"", tenant);
        log_info_kv("tenant record", LOG_I64("t", t), LOG_I64("i", i),
                    LOG_STR("text", "a ] b \\ c \" d\nnew line"));
    }
    return NULL;
}

struct seen {
    char *seen;
    int tenant;
    size_t count;
    long last[THREADS]; /* in the current file: each thread's last record */
};

static void check_tenant_line(const char *sd_req, json_t *rec, void *arg)
{
    struct seen *s = arg;
    const char *req = json_string_value(json_object_get(rec, "request_id"));
    assert_non_null(req);
    assert_string_equal(sd_req, req); /* the SD element, as syslog-ng parsed it */
    int t;
    long i;
    assert_int_equal(sscanf(req, "r-%d-%ld", &t, &i), 2);
    assert_true(t >= 0 && t < THREADS && i >= 0 && i < per_thread);
    assert_int_equal(json_integer_value(json_object_get(rec, "t")), t);
    assert_int_equal(json_integer_value(json_object_get(rec, "i")), i);
    assert_int_equal(i % TENANTS, s->tenant);
    assert_true(i > s->last[t]); /* each thread's records in the order it logged them */
    s->last[t] = i;
    char tenant[16];
    snprintf(tenant, sizeof tenant, "%s%d", tenant_prefix, s->tenant);
    assert_string_equal(json_string_value(json_object_get(rec, "tenant_id")), tenant);
    assert_string_equal(json_string_value(json_object_get(rec, "user_id")), "user \"quoted\"");
    assert_string_equal(json_string_value(json_object_get(rec, "text")), "a ] b \\ c \" d\nnew line");
    assert_string_equal(json_string_value(json_object_get(rec, "msg")), "tenant record");
    size_t k = (size_t)t * (size_t)per_thread + (size_t)i;
    assert_int_equal(s->seen[k], 0);
    s->seen[k] = 1;
    s->count++;
}

/* 100,000 records from 4 threads (sync or async mode), each in its
 * tenant's file once, whole, and in the order its thread logged it. */
static void route_by_tenant(int async)
{
    tenant_prefix = async ? "a" : "";
    if (async)
        assert_int_equal(log__async_set(true, 0, false), 0);
    log_syslog_options o = {.transport = LOG_SYSLOG_TCP, .port = port};
    log_sink *s;
    assert_int_equal(log_sink_syslog(&s, &o), 0);
    use_sink(s);
    const char *e = getenv("CTXLOG_STRESS_RECORDS");
    long total = e && atol(e) > 0 ? atol(e) : 100000;
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
    total = total > 10000 ? 10000 : total;
#endif
    per_thread = total / THREADS;
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(ctx_thread_create(&th[t], NULL, tenant_thread, (void *)(intptr_t)t), 0);
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    assert_int_equal(log_flush(), 0);
    size_t want = (size_t)(per_thread * THREADS);
    assert_int_equal(wait_lines(tenant_prefix, TENANTS, want), want);

    struct seen sn = {.seen = calloc(want, 1)};
    printf("syslog-ng (%s mode): %zu records sent over TCP; per tenant:", async ? "async" : "sync",
           want);
    for (int k = 0; k < TENANTS; k++) {
        char name[32];
        snprintf(name, sizeof name, "tenant-%s%d.log", tenant_prefix, k);
        sn.tenant = k;
        for (int t = 0; t < THREADS; t++)
            sn.last[t] = -1;
        size_t before = sn.count;
        each_line(name, check_tenant_line, &sn);
        size_t expect = 0;
        for (long i = 0; i < per_thread; i++)
            expect += i % TENANTS == k;
        assert_int_equal(sn.count - before, expect * THREADS);
        printf(" %d:%zu", k, sn.count - before);
    }
    printf("; received %zu\n", sn.count);
    assert_int_equal(sn.count, want);
    free(sn.seen);
    assert_int_equal(log_dropped_count() - dropped_before, 0);
}

static void test_sink_syslog__syslog_ng_routes_every_record_by_tenant(void **state)
{
    (void)state;
    route_by_tenant(0);
}

/* The same through the async writer: the frames are built on the logging
 * threads and sent by the writer, whole and in each thread's order. */
static void test_sink_syslog__async_mode_routes_every_record_in_order(void **state)
{
    (void)state;
    route_by_tenant(1);
}

/* ---- the daemon goes away and comes back ----------------------------------------------- */

struct outage {
    long phase[3];     /* records of each phase found */
    long seen[3][4096];
    uint64_t reported; /* the drop report's count */
    int reports;
};

static void check_outage_line(const char *sd_req, json_t *rec, void *arg)
{
    struct outage *o = arg;
    const char *req = json_string_value(json_object_get(rec, "request_id"));
    if (!req) { /* the record saying how many were dropped */
        assert_string_equal(sd_req, "");
        assert_string_equal(json_string_value(json_object_get(rec, "msg")),
                            "syslog: records dropped");
        o->reported = (uint64_t)json_integer_value(json_object_get(rec, "dropped"));
        o->reports++;
        return;
    }
    int ph;
    long i;
    assert_int_equal(sscanf(req, "o-%d-%ld", &ph, &i), 2);
    assert_true(ph >= 0 && ph < 3 && i >= 0 && i < 4096);
    assert_int_equal(o->seen[ph][i], 0);
    o->seen[ph][i] = 1;
    o->phase[ph]++;
}

static void log_phase(int ph, long n)
{
    char req[32];
    for (long i = 0; i < n; i++) {
        snprintf(req, sizeof req, "o-%d-%ld", ph, i);
        CTX_REQUEST(req, NULL, "outage");
        log_info_kv("outage record", LOG_I64("i", i));
    }
}

static void test_sink_syslog__syslog_ng_restart_queue_and_exact_drops(void **state)
{
    (void)state;
    enum { N1 = 1000, N2 = 3000, N3 = 200, QUEUE = 500 };
    assert_int_equal(log__async_set(true, 0, false), 0); /* the async mode this time */
    log_syslog_options o = {.transport = LOG_SYSLOG_TCP,
                            .port = port,
                            .queue_max = QUEUE,
                            .reconnect_min_ms = 10,
                            .reconnect_max_ms = 40};
    log_sink *s;
    assert_int_equal(log_sink_syslog(&s, &o), 0);
    use_sink(s);

    /* 1: delivered while the daemon runs. */
    log_phase(0, N1);
    for (int i = 0; i < 1200 && lines_in("tenant-outage.log") < N1; i++)
        sleep_ms(100);
    assert_int_equal(lines_in("tenant-outage.log"), N1);

    /* 2: the daemon is gone: QUEUE records kept, the rest counted. */
    sng_stop();
    char *err_path = ts_temp_path("stderr");
    ts_capture cap = ts_capture_begin(2, err_path);
    log_phase(1, N2);
    /* The writer has them all once log_flush returns; it cannot deliver. */
    assert_int_equal(log_flush(), CTXLOG_EIO);
    ts_capture_end(&cap);
    uint64_t dropped = log_dropped_count() - dropped_before;
    assert_int_equal(dropped, N2 - QUEUE);
    size_t len;
    char *err = ts_read_file(err_path, &len);
    assert_non_null(strstr(err, "cannot send to syslog tcp"));
    assert_null(strstr(err, "cannot keep")); /* one line for the outage */

    /* 3: back; log_flush() alone, with no record after it, reconnects at
     * once: the queue goes out, then the record saying how many were
     * lost. */
    sng_start();
    cap = ts_capture_begin(2, err_path);
    assert_int_equal(log_flush(), 0);
    ts_capture_end(&cap);
    free(err);
    err = ts_read_file(err_path, &len);
    assert_non_null(strstr(err, "writing to syslog tcp"));
    for (int i = 0; i < 1200 && lines_in("tenant-outage.log") < N1 + QUEUE; i++)
        sleep_ms(100);
    for (int i = 0; i < 1200 && lines_in("tenant-.log") < 1; i++)
        sleep_ms(100);
    assert_int_equal(lines_in("tenant-outage.log"), N1 + QUEUE);
    assert_int_equal(lines_in("tenant-.log"), 1);
    /* Then records go on as usual. */
    log_phase(2, N3);
    assert_int_equal(log_flush(), 0);
    size_t want = N1 + QUEUE + N3;
    for (int i = 0; i < 1200 && lines_in("tenant-outage.log") < want; i++)
        sleep_ms(100);
    struct outage *ou = calloc(1, sizeof *ou);
    each_line("tenant-outage.log", check_outage_line, ou);
    each_line("tenant-.log", check_outage_line, ou);
    assert_int_equal(ou->phase[0], N1);
    assert_int_equal(ou->phase[1], QUEUE);
    for (long i = 0; i < QUEUE; i++)
        assert_int_equal(ou->seen[1][i], 1); /* the oldest were kept */
    assert_int_equal(ou->phase[2], N3);
    assert_int_equal(ou->reports, 1);
    assert_int_equal(ou->reported, N2 - QUEUE);
    printf("syslog-ng outage: logged %d while down, %ld delivered after the restart, %llu "
           "dropped and counted\n",
           N2, ou->phase[1], (unsigned long long)dropped);
    /* Nothing lost silently: delivered + counted = logged. */
    assert_int_equal((uint64_t)(ou->phase[0] + ou->phase[1] + ou->phase[2]) + dropped,
                     (uint64_t)(N1 + N2 + N3));
    free(ou);
    free(err);
    ts_unlink(err_path);
    free(err_path);
}

/* ---- fork(): the child sends its own records, never the parent's ---------------------- */

static void log_fork_records(const char *who, long n)
{
    char req[32];
    for (long i = 0; i < n; i++) {
        snprintf(req, sizeof req, "f-%s-%ld", who, i);
        CTX_REQUEST(req, NULL, "fork");
        log_info_kv("fork record", LOG_I64("i", i));
    }
}

struct forked {
    long found[2]; /* parent's, child's */
    char seen[2][64];
};

static void check_fork_line(const char *sd_req, json_t *rec, void *arg)
{
    struct forked *f = arg;
    const char *req = json_string_value(json_object_get(rec, "request_id"));
    assert_non_null(req);
    assert_string_equal(sd_req, req);
    char who[16];
    long i;
    assert_int_equal(sscanf(req, "f-%15[a-z]-%ld", who, &i), 2);
    int c = strcmp(who, "child") == 0;
    assert_true(c || strcmp(who, "parent") == 0);
    assert_true(i >= 0 && i < 64);
    assert_int_equal(f->seen[c][i], 0); /* once */
    f->seen[c][i] = 1;
    assert_int_equal(json_integer_value(json_object_get(rec, "i")), i);
    f->found[c]++;
}

static void test_sink_syslog__fork_child_never_sends_the_parents_queue(void **state)
{
    (void)state;
    enum { P = 50, C = 20 };
    assert_int_equal(log__async_set(true, 0, false), 0);
    log_syslog_options o = {.transport = LOG_SYSLOG_TCP,
                            .port = port,
                            .reconnect_min_ms = 10,
                            .reconnect_max_ms = 40};
    log_sink *s;
    assert_int_equal(log_sink_syslog(&s, &o), 0);
    use_sink(s);
    /* The daemon is down: the parent's records wait in the sink's queue
     * when the process forks. */
    sng_stop();
    char *err_path = ts_temp_path("stderr-fork");
    ts_capture cap = ts_capture_begin(2, err_path);
    log_fork_records("parent", P);
    assert_int_equal(log_flush(), CTXLOG_EIO);
    int go[2];
    assert_int_equal(pipe(go), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* Once the daemon is back: its own records, on a connection of its
         * own; the parent's queue is not the child's to send. */
        char c;
        close(go[1]);
        int ok = read(go[0], &c, 1) == 1;
        free(err_path); /* the parent's to unlink; not lost here (valgrind) */
        log_fork_records("child", C);
        _exit(ok && log_flush() == 0 ? 0 : 1);
    }
    close(go[0]);
    sng_start();
    assert_int_equal(write(go[1], "g", 1), 1);
    close(go[1]);
    int st;
    pid_t waited = waitpid(pid, &st, 0);
    int flushed = log_flush(); /* the parent's queue, by the parent */
    ts_capture_end(&cap);
    assert_int_equal(waited, pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_int_equal(flushed, 0);
    for (int i = 0; i < 1200 && lines_in("tenant-fork.log") < P + C; i++)
        sleep_ms(100);
    struct forked f;
    memset(&f, 0, sizeof f);
    each_line("tenant-fork.log", check_fork_line, &f);
    assert_int_equal(f.found[0], P);
    assert_int_equal(f.found[1], C);
    assert_int_equal(log_dropped_count() - dropped_before, 0);
    ts_unlink(err_path);
    free(err_path);
}

/* ---- a stopped daemon: the logging thread goes on, every loss counted ------------------ */

/* The records saying how many were dropped (the sink's, and the async
 * queue's), summed. */
struct reports {
    uint64_t dropped;
    int n;
};

static void sum_reports(const char *sd_req, json_t *rec, void *arg)
{
    struct reports *r = arg;
    assert_string_equal(sd_req, "");
    const char *msg = json_string_value(json_object_get(rec, "msg"));
    assert_non_null(msg);
    assert_non_null(strstr(msg, "records dropped"));
    r->dropped += (uint64_t)json_integer_value(json_object_get(rec, "dropped"));
    r->n++;
}

enum { STOPPED_PAD = 2048 };

struct stopped {
    char *seen;
    long n, found, last;
};

static void check_stopped_line(const char *sd_req, json_t *rec, void *arg)
{
    struct stopped *st = arg;
    const char *req = json_string_value(json_object_get(rec, "request_id"));
    assert_non_null(req);
    assert_string_equal(sd_req, req);
    long i;
    assert_int_equal(sscanf(req, "s-%ld", &i), 1);
    assert_true(i >= 0 && i < st->n);
    assert_int_equal(st->seen[i], 0);
    st->seen[i] = 1;
    assert_true(i > st->last); /* in the order logged */
    st->last = i;
    assert_int_equal(json_integer_value(json_object_get(rec, "i")), i);
    assert_int_equal(strlen(json_string_value(json_object_get(rec, "pad"))), STOPPED_PAD);
    st->found++;
}

static void test_sink_syslog__stopped_daemon_async_drop_never_waits(void **state)
{
    (void)state;
    enum { QUEUE = 100 };
    const char *e = getenv("CTXLOG_STRESS_RECORDS");
    long n = e && atol(e) > 0 ? atol(e) : 20000;
    struct reports before = {0};
    each_line("tenant-.log", sum_reports, &before); /* earlier tests' reports */
    /* A small async queue that drops when full, and a small sink queue. */
    assert_int_equal(log__async_set(true, 64 * 1024, true), 0);
    log_syslog_options o = {.transport = LOG_SYSLOG_TCP, .port = port, .queue_max = QUEUE};
    log_sink *s;
    assert_int_equal(log_sink_syslog(&s, &o), 0);
    use_sink(s);
    char *pad = malloc(STOPPED_PAD + 1);
    memset(pad, 'p', STOPPED_PAD);
    pad[STOPPED_PAD] = '\0';

    /* The daemon takes no byte: once the kernel's buffers are full, the
     * writer waits for it once (timeout_ms), then its records go to the
     * sink's queue, and past it are counted; the logging thread never
     * waits, its queue drops (counted) when the writer is behind. Were
     * the logging thread to wait for the daemon, this loop would not end. */
    assert_int_equal(kill(sng_pid, SIGSTOP), 0);
    char *err_path = ts_temp_path("stderr");
    ts_capture cap = ts_capture_begin(2, err_path);
    for (long i = 0; i < n; i++) {
        char req[32];
        snprintf(req, sizeof req, "s-%ld", i);
        CTX_REQUEST(req, NULL, "stopped");
        log_info_kv("stopped daemon", LOG_I64("i", i), LOG_STR("pad", pad));
    }
    assert_int_equal(kill(sng_pid, SIGCONT), 0);
    /* It reads again: log_flush() delivers what waits (each try waits for
     * the daemon timeout_ms at most). */
    int rc = CTXLOG_EIO;
    for (int i = 0; i < 100 && rc != 0; i++)
        rc = log_flush();
    assert_int_equal(rc, 0);
    ts_capture_end(&cap);
    uint64_t dropped = log_dropped_count() - dropped_before;
    if (n >= 20000)
        assert_true(dropped > 0); /* 40 MiB do not fit in the kernel's buffers */

    /* Exact: found + counted drops = logged; and the records saying how
     * many were dropped add up to the count. */
    size_t want = (size_t)n - (size_t)dropped;
    for (int i = 0; i < 1200 && lines_in("tenant-stopped.log") < want; i++)
        sleep_ms(100);
    struct reports after = {0};
    for (int i = 0; i < 1200; i++) {
        after = (struct reports){0};
        each_line("tenant-.log", sum_reports, &after);
        if (after.dropped - before.dropped >= dropped)
            break;
        sleep_ms(100);
    }
    struct stopped st = {.seen = calloc((size_t)n, 1), .n = n, .last = -1};
    each_line("tenant-stopped.log", check_stopped_line, &st);
    printf("syslog-ng stopped (async, drop): logged %ld, delivered %ld, dropped and counted "
           "%llu, reported in %d records\n",
           n, st.found, (unsigned long long)dropped, after.n - before.n);
    assert_int_equal((uint64_t)st.found + dropped, (uint64_t)n);
    assert_int_equal(after.dropped - before.dropped, dropped);
    free(st.seen);
    free(pad);
    ts_unlink(err_path);
    free(err_path);
}

static int daemon_setup(void **state)
{
    (void)state;
    write_config();
    sng_start();
    return 0;
}

static int daemon_teardown(void **state)
{
    sng_stop();
    return teardown(state);
}

/* The test's directory and what syslog-ng wrote there. */
static void remove_dir(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[600];
    while (d && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest local[] = {
        cmocka_unit_test(test_sink_syslog__bad_arguments),
        cmocka_unit_test_teardown(test_sink_syslog__message_bytes_udp_and_local, teardown),
        cmocka_unit_test_teardown(test_sink_syslog__daemon_not_reading_never_blocks, teardown),
    };
    int rc = cmocka_run_group_tests_name("without a daemon", local, NULL, NULL);
    if (access(SYSLOG_NG, X_OK) != 0) {
        fprintf(stderr, "SKIP: %s not found (Debian package syslog-ng-core): the tests "
                        "against syslog-ng did not run\n", SYSLOG_NG);
        return rc ? rc : 77;
    }
    char *d = ts_temp_path("syslog-ng");
    snprintf(dir, sizeof dir, "%s", d);
    free(d);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return 1;
    port = free_port(SOCK_STREAM);
    const struct CMUnitTest daemon[] = {
        cmocka_unit_test_setup_teardown(test_sink_syslog__syslog_ng_routes_every_record_by_tenant,
                                        daemon_setup, daemon_teardown),
        cmocka_unit_test_setup_teardown(test_sink_syslog__async_mode_routes_every_record_in_order,
                                        daemon_setup, daemon_teardown),
        cmocka_unit_test_setup_teardown(test_sink_syslog__syslog_ng_restart_queue_and_exact_drops,
                                        daemon_setup, daemon_teardown),
        cmocka_unit_test_setup_teardown(test_sink_syslog__fork_child_never_sends_the_parents_queue,
                                        daemon_setup, daemon_teardown),
        cmocka_unit_test_setup_teardown(test_sink_syslog__stopped_daemon_async_drop_never_waits,
                                        daemon_setup, daemon_teardown),
    };
    rc |= cmocka_run_group_tests_name("against syslog-ng", daemon, NULL, NULL);
    remove_dir();
    return rc;
}
