/* SPDX-License-Identifier: MIT */
/* The journald sink against the real systemd-journald: when one runs, the
 * test uses it; otherwise, as root, it starts /lib/systemd/systemd-journald
 * standalone (rate limiting off through a drop-in under
 * /run/systemd/journald.conf.d/ it writes and removes, volatile storage) and
 * stops it by its pid at the end. Records are read back with
 * `journalctl -o json --all` filtered by an identifier unique to the run,
 * and every entry is parsed with jansson. Without root and without a
 * running journald the test is skipped (exit status 77).
 *
 * CTXLOG_STRESS_RECORDS (valgrind) and the sanitizers scale the threaded
 * case down from 10,000 records. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
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

#define JOURNAL_DIR "/run/systemd/journal"
#define JOURNAL_SOCKET JOURNAL_DIR "/socket"
#define DROPIN_DIR "/run/systemd/journald.conf.d"
#define JOURNALD "/lib/systemd/systemd-journald"
#define THREADS 4
#define BIG (1024 * 1024)

static pid_t journald_pid = -1; /* ours to stop, when we started it */
static char dropin[128];
static char ident[64];          /* unique per run */

/* ---- the daemon --------------------------------------------------------------------- */

/* Whether a journal listens on the socket: an empty datagram is taken. */
static int journal_listens(void)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX, .sun_path = JOURNAL_SOCKET};
    int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* 0 when a journal runs (ours or the machine's), 77 to skip. */
static int journald_start(void)
{
    if (journal_listens()) {
        fprintf(stderr, "using the running systemd-journald (its rate limits apply)\n");
        return 0;
    }
    if (geteuid() != 0 || access(JOURNALD, X_OK) != 0) {
        fprintf(stderr, "SKIP: no systemd-journald runs, and starting one needs root and %s "
                        "(Debian package systemd)\n", JOURNALD);
        return 77;
    }
    (void)mkdir("/run/systemd", 0755);
    (void)mkdir(JOURNAL_DIR, 0755);
    (void)mkdir(DROPIN_DIR, 0755);
    snprintf(dropin, sizeof dropin, DROPIN_DIR "/ctxlog-test-%ld.conf", (long)getpid());
    FILE *f = fopen(dropin, "w");
    if (!f) {
        fprintf(stderr, "SKIP: cannot write %s: %s\n", dropin, strerror(errno));
        return 77;
    }
    /* No rate limit: the test sends 10,000 entries in a burst. */
    fputs("[Journal]\nRateLimitIntervalSec=0\nStorage=volatile\n", f);
    fclose(f);
    journald_pid = fork();
    if (journald_pid == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, 1);
        execl(JOURNALD, JOURNALD, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200 && !journal_listens(); i++)
        sleep_ms(50);
    if (!journal_listens()) {
        fprintf(stderr, "SKIP: %s did not start\n", JOURNALD);
        return 77;
    }
    return 0;
}

static void journald_stop(void)
{
    if (journald_pid > 0) {
        kill(journald_pid, SIGTERM);
        waitpid(journald_pid, NULL, 0);
        journald_pid = -1;
    }
    if (dropin[0])
        unlink(dropin);
}

/* ---- reading back ------------------------------------------------------------------- */

/* The entries of this run with `extra` (a journalctl match or ""), parsed. */
static json_t *read_entries(const char *extra)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd,
             "journalctl -o json --all --no-pager SYSLOG_IDENTIFIER=%s %s 2>/dev/null", ident,
             extra);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    json_t *all = json_array();
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, p)) > 0) {
        json_error_t err;
        json_t *e = json_loadb(line, (size_t)n, 0, &err);
        if (!e)
            fail_msg("journalctl wrote a line that is not JSON: %s", err.text);
        json_array_append_new(all, e);
    }
    free(line);
    pclose(p);
    return all;
}

/* The entries of this run once journald has them all: a last entry sent
 * after them on the same socket (journald takes a socket's datagrams in
 * order) under a marker identifier; once journalctl shows it (waiting up to
 * a minute), every earlier entry is in the journal too. Then one read of
 * the run's entries. */
static json_t *entries_when(size_t want)
{
    (void)want;
    char marker[96], entry[160], cmd[256];
    snprintf(marker, sizeof marker, "%s-end", ident);
    int n = snprintf(entry, sizeof entry, "MESSAGE=end\nSYSLOG_IDENTIFIER=%s\n", marker);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX, .sun_path = JOURNAL_SOCKET};
    assert_int_equal(sendto(fd, entry, (size_t)n, 0, (struct sockaddr *)&a, sizeof a), n);
    close(fd);
    snprintf(cmd, sizeof cmd, "journalctl -q -n 1 -o cat --no-pager SYSLOG_IDENTIFIER=%s", marker);
    for (int i = 0; i < 600; i++) {
        char out[16] = "";
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        size_t got = fread(out, 1, sizeof out - 1, p);
        pclose(p);
        if (got >= 3 && memcmp(out, "end", 3) == 0)
            break;
        sleep_ms(50);
    }
    return read_entries("");
}

/* journalctl's JSON for one value: a string, or an array of byte values
 * (not UTF-8 or not printable); a field given twice is an array of those. */
static int value_bytes(const json_t *v, char **out, size_t *len)
{
    if (json_is_string(v)) {
        *len = json_string_length(v);
        *out = malloc(*len + 1);
        memcpy(*out, json_string_value(v), *len);
        return 0;
    }
    if (!json_is_array(v) || (json_array_size(v) && !json_is_integer(json_array_get(v, 0))))
        return -1; /* absent, null (too long without --all) or several values */
    *len = json_array_size(v);
    *out = malloc(*len + 1);
    for (size_t i = 0; i < *len; i++)
        (*out)[i] = (char)json_integer_value(json_array_get(v, i));
    return 0;
}

static void assert_field(const json_t *e, const char *name, const char *want, size_t want_len)
{
    char *got = NULL;
    size_t len = 0;
    if (value_bytes(json_object_get(e, name), &got, &len) != 0)
        fail_msg("field %s missing or not one value", name);
    if (len != want_len || memcmp(got, want, len) != 0)
        fail_msg("field %s: got %zu bytes \"%.*s\", want %zu \"%.*s\"", name, len,
                 (int)(len > 80 ? 80 : len), got, want_len, (int)(want_len > 80 ? 80 : want_len),
                 want);
    free(got);
}

static void assert_str(const json_t *e, const char *name, const char *want)
{
    assert_field(e, name, want, strlen(want));
}

/* ---- set-up ------------------------------------------------------------------------- */

static log_sink *sink;
static uint64_t dropped_before;

static int setup(void **state)
{
    (void)state;
    static int test_no;
    snprintf(ident, sizeof ident, "ctxlog-test-%ld-%ld-%d", (long)getpid(), (long)time(NULL),
             ++test_no);
    dropped_before = log_dropped_count();
    log_journald_options o = {.identifier = ident};
    assert_int_equal(log_sink_journald(&sink, &o), 0);
    assert_int_equal(log_logger_clear_sinks(NULL), 0);
    assert_int_equal(log_logger_add_sink(NULL, sink), 0);
    assert_int_equal(log_level_set(LOG_LEVEL_TRACE), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    (void)log__async_set(false, 0, false);
    log_sink_release(sink);
    sink = NULL;
    log_shutdown();
    return 0;
}

/* ---- one entry: names, values, the protocol's forms --------------------------------- */

/* In sync or async mode (there the 1 MiB entry is too big for the queue
 * and is sent from the logging thread, after what it queued before). */
static void names_values(int async)
{
    if (async)
        assert_int_equal(log__async_set(true, 0, false), 0);
    char *big = malloc(BIG + 1);
    for (size_t i = 0; i < BIG; i++)
        big[i] = (char)('a' + i % 26);
    big[BIG] = '\0';
    json_t *obj = json_pack("{s:i,s:[s]}", "a", 1, "b", "x");
    ctx_var *odd = ctx_var_new("_odd-name", CTX_VAR_LOGGED);
    {
        CTX_SCOPE(odd, "v\"al\nue");
        CTX_REQUEST("names-1", "u\"1\\", "t]1");
        log_warn_kv("first line\nsecond \xff line", LOG_STR("message", "not the message"),
                LOG_STR("a-b", "dash"), LOG_STR("A_B", "upper"), LOG_STR("9lives", "digit"),
                LOG_STR("", "empty"), LOG_I64("count", -42), LOG_BOOL("ok", true),
                LOG_JSON("obj", obj), LOG_STR("big", big), LOG_STR("raw", "\x01\x02\xfe"));
    }
    log_info("small");
    json_decref(obj);
    assert_int_equal(log_flush(), 0);

    json_t *all = entries_when(2);
    assert_int_equal(json_array_size(all), 2);
    json_t *e = json_array_get(all, 0);
    assert_field(e, "MESSAGE", "first line\nsecond \xff line", strlen("first line\nsecond \xff line"));
    assert_str(e, "PRIORITY", "4");
    assert_str(e, "SYSLOG_IDENTIFIER", ident);
    assert_str(e, "LOGGER", "root");
    assert_str(e, "CODE_FUNC", "names_values");
    assert_non_null(strstr(json_string_value(json_object_get(e, "CODE_FILE")), "test_sink_journald.c"));
    assert_non_null(json_object_get(e, "CODE_LINE"));
    char tid[24];
    snprintf(tid, sizeof tid, "%ld", (long)gettid());
    assert_str(e, "TID", tid);
    assert_str(e, "ODD_NAME", "v\"al\nue");
    assert_str(e, "REQUEST_ID", "names-1");
    assert_str(e, "USER_ID", "u\"1\\");
    assert_str(e, "TENANT_ID", "t]1");
    assert_str(e, "MESSAGE_2", "not the message");
    assert_str(e, "A_B", "dash");
    assert_str(e, "A_B_2", "upper");
    assert_str(e, "F_9LIVES", "digit");
    assert_str(e, "F_", "empty");
    assert_str(e, "COUNT", "-42");
    assert_str(e, "OK", "true");
    assert_str(e, "OBJ", "{\"a\":1,\"b\":[\"x\"]}");
    assert_field(e, "BIG", big, BIG); /* more than a datagram: through a memfd */
    assert_field(e, "RAW", "\x01\x02\xfe", 3);
    assert_str(json_array_get(all, 1), "MESSAGE", "small");
    assert_str(json_array_get(all, 1), "PRIORITY", "6");
    assert_null(json_object_get(json_array_get(all, 1), "REQUEST_ID"));
    json_decref(all);
    free(big);
    assert_int_equal(log_dropped_count() - dropped_before, 0);
}

static void test_sink_journald__names_values_and_large_entry(void **state)
{
    (void)state;
    names_values(0);
}

static void test_sink_journald__async_names_values_and_large_entry(void **state)
{
    (void)state;
    names_values(1);
}

/* ---- many threads, hostile values, every record once -------------------------------- */

static long per_thread;

static void expected_s(char *out, size_t cap, int t, long i)
{
    snprintf(out, cap, "q\"uote\\ new\nline \xc3\x28 bad utf8 %d/%ld", t, i);
}

static void *logger_thread(void *arg)
{
    int t = (int)(intptr_t)arg;
    char tenant[32], user[32], req[32], s[96];
    snprintf(tenant, sizeof tenant, "tenant-%d", t);
    for (long i = 0; i < per_thread; i++) {
        snprintf(req, sizeof req, "r-%d-%ld", t, i);
        snprintf(user, sizeof user, "u\"%ld", i % 7);
        expected_s(s, sizeof s, t, i);
        CTX_REQUEST(req, user, tenant);
        log_info_kv("rec\n%d", LOG_I64("t", t), LOG_I64("i", i), LOG_STR("s", s));
    }
    return NULL;
}

static void run_threads(int async)
{
    if (async)
        assert_int_equal(log__async_set(true, 0, false), 0);
    const char *e = getenv("CTXLOG_STRESS_RECORDS");
    long total = e && atol(e) > 0 ? atol(e) : 10000;
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
    total = total > 2000 ? 2000 : total;
#endif
    per_thread = total / THREADS;
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(pthread_create(&th[t], NULL, logger_thread, (void *)(intptr_t)t), 0);
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    assert_int_equal(log_flush(), 0); /* async: the writer has sent them all */
    size_t want = (size_t)(per_thread * THREADS);

    json_t *all = entries_when(want);
    assert_int_equal(json_array_size(all), want);
    char *seen = calloc(want, 1);
    long last[THREADS]; /* each thread's last record so far, in the journal's order */
    for (int t = 0; t < THREADS; t++)
        last[t] = -1;
    size_t i;
    json_t *ent;
    json_array_foreach(all, i, ent) {
        int t;
        long n;
        const char *req = json_string_value(json_object_get(ent, "REQUEST_ID"));
        assert_non_null(req);
        assert_int_equal(sscanf(req, "r-%d-%ld", &t, &n), 2);
        assert_true(t >= 0 && t < THREADS && n >= 0 && n < per_thread);
        size_t k = (size_t)t * (size_t)per_thread + (size_t)n;
        assert_int_equal(seen[k], 0);
        seen[k] = 1;
        assert_true(n > last[t]); /* in the order its thread logged them */
        last[t] = n;
        char buf[96];
        assert_str(ent, "MESSAGE", "rec\n%d");
        assert_str(ent, "PRIORITY", "6");
        snprintf(buf, sizeof buf, "tenant-%d", t);
        assert_str(ent, "TENANT_ID", buf);
        snprintf(buf, sizeof buf, "u\"%ld", n % 7);
        assert_str(ent, "USER_ID", buf);
        snprintf(buf, sizeof buf, "%d", t);
        assert_str(ent, "T", buf);
        snprintf(buf, sizeof buf, "%ld", n);
        assert_str(ent, "I", buf);
        expected_s(buf, sizeof buf, t, n);
        assert_str(ent, "S", buf);
        assert_non_null(json_object_get(ent, "TID"));
    }
    free(seen);
    json_decref(all);
    assert_int_equal(log_dropped_count() - dropped_before, 0);
}

static void test_sink_journald__threads_every_record_once(void **state)
{
    (void)state;
    run_threads(0);
}

static void test_sink_journald__async_mode_every_record_once(void **state)
{
    (void)state;
    run_threads(1);
}

/* ---- no journal: counted, said once, and said in the journal once it is back ------- */

/* In async mode the writer sends, and log_flush() alone (no record after
 * it) sends the entry owed about the lost ones. */
static void lost_records(int async)
{
    if (async)
        assert_int_equal(log__async_set(true, 0, false), 0);
    char *path = ts_temp_path("journal-socket");
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    /* A socket nobody reads is bound only later: first nothing is there. */
    log_journald_options o = {.socket_path = path, .identifier = ident};
    log_sink *lost;
    assert_int_equal(log_sink_journald(&lost, &o), 0);
    assert_int_equal(log_logger_clear_sinks(NULL), 0);
    assert_int_equal(log_logger_add_sink(NULL, lost), 0);
    char *err_path = ts_temp_path("stderr");
    ts_capture cap = ts_capture_begin(2, err_path);
    uint64_t before = log_dropped_count();
    for (int i = 0; i < 5; i++)
        log_info("nowhere %d", i);
    if (async)
        assert_int_equal(log_flush(), CTXLOG_EIO); /* the writer got them; none went */
    assert_int_equal(log_dropped_count() - before, 5);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    if (async)
        assert_int_equal(log_flush(), 0); /* the report goes: the journal is back */
    log_info("back");
    assert_int_equal(log_flush(), 0);
    ts_capture_end(&cap);
    size_t len;
    char *err = ts_read_file(err_path, &len);
    assert_non_null(strstr(err, "cannot write to"));
    assert_null(strstr(strstr(err, "cannot write to") + 1, "cannot write to")); /* once */
    /* Sync: the socket got the record that went through, then the entry
     * telling how many were lost before it. Async: that entry, sent by
     * log_flush(), then the record. */
    char dgram[4096];
    for (int k = 0; k < 2; k++) {
        ssize_t n = recv(fd, dgram, sizeof dgram - 1, MSG_DONTWAIT);
        assert_true(n > 0);
        dgram[n] = '\0';
        if (k == async) {
            assert_memory_equal(dgram, "MESSAGE=back\n", strlen("MESSAGE=back\n"));
            continue;
        }
        assert_memory_equal(dgram, "MESSAGE=journald: records dropped\n",
                            strlen("MESSAGE=journald: records dropped\n"));
        assert_non_null(strstr(dgram, "\nDROPPED=5\n"));
    }
    assert_int_equal(recv(fd, dgram, sizeof dgram, MSG_DONTWAIT), -1);
    assert_int_equal(log_logger_clear_sinks(NULL), 0);
    log_sink_release(lost);
    close(fd);
    ts_unlink(path);
    ts_unlink(err_path);
    free(path);
    free(err_path);
    free(err);
}

static void test_sink_journald__lost_records_counted_and_reported(void **state)
{
    (void)state;
    lost_records(0);
}

static void test_sink_journald__async_lost_records_flush_reports(void **state)
{
    (void)state;
    lost_records(1);
}

/* ---- a journal that stops reading: the logging thread goes on ------------------------- */

/* What a journal that stopped reading looks like to the sink: a socket the
 * test binds and reads only once the records are logged (on a thread of
 * its own, so that log_flush() can send meanwhile). */
struct reader {
    int fd;
    atomic_int stop; /* set once log_flush() returned: every send is done */
    long n, found, last;
    char *seen;
    uint64_t reported; /* the DROPPED of the entries saying so */
    int reports;
};

static void *reader_main(void *arg)
{
    struct reader *rd = arg;
    char *buf = malloc(1 << 16);
    for (;;) {
        ssize_t k = recv(rd->fd, buf, (1 << 16) - 1, MSG_DONTWAIT);
        if (k < 0) {
            if (atomic_load(&rd->stop))
                break; /* drained after the last send */
            struct timespec ms = {0, 1000000};
            nanosleep(&ms, NULL);
            continue;
        }
        buf[k] = '\0';
        const char *d = strstr(buf, "\nDROPPED=");
        if (strncmp(buf, "MESSAGE=journald: records dropped\n", 34) == 0 && d) {
            rd->reported += strtoull(d + 9, NULL, 10);
            rd->reports++;
            continue;
        }
        assert_memory_equal(buf, "MESSAGE=stopped journal\n", 24);
        const char *f = strstr(buf, "\nI=");
        assert_non_null(f);
        long i = strtol(f + 3, NULL, 10);
        assert_true(i >= 0 && i < rd->n);
        assert_int_equal(rd->seen[i], 0);
        rd->seen[i] = 1;
        assert_true(i > rd->last); /* in the order logged */
        rd->last = i;
        rd->found++;
    }
    free(buf);
    return NULL;
}

static void test_sink_journald__journal_not_reading_async_drop(void **state)
{
    (void)state;
    const char *e = getenv("CTXLOG_STRESS_RECORDS");
    long n = e && atol(e) > 0 ? atol(e) : 5000;
    char *path = ts_temp_path("journal-stopped");
    struct reader rd = {.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), .n = n, .last = -1};
    rd.seen = calloc((size_t)n, 1);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    assert_int_equal(bind(rd.fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(log__async_set(true, 0, true), 0); /* full queue: drop */
    log_journald_options o = {.socket_path = path, .identifier = ident, .timeout_ms = 20};
    log_sink *s;
    assert_int_equal(log_sink_journald(&s, &o), 0);
    assert_int_equal(log_logger_clear_sinks(NULL), 0);
    assert_int_equal(log_logger_add_sink(NULL, s), 0);
    char *err_path = ts_temp_path("stderr");
    ts_capture cap = ts_capture_begin(2, err_path);

    /* Once the socket's queue is full each send waits timeout_ms and
     * fails; that is the writer's wait. Were the logging thread to wait
     * for the journal, this loop would take n x timeout_ms. */
    for (long i = 0; i < n; i++)
        log_info_kv("stopped journal", LOG_I64("i", i));
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, reader_main, &rd), 0);
    int rc = CTXLOG_EIO;
    for (int i = 0; i < 100 && rc != 0; i++)
        rc = log_flush(); /* the rest, and the entry saying how many were lost */
    assert_int_equal(rc, 0);
    atomic_store(&rd.stop, 1);
    pthread_join(th, NULL);
    ts_capture_end(&cap);
    uint64_t dropped = log_dropped_count() - dropped_before;
    printf("journal not reading (async, drop): logged %ld, delivered %ld, dropped and counted "
           "%llu, reported in %d entries\n",
           n, rd.found, (unsigned long long)dropped, rd.reports);
    if (n >= 5000)
        assert_true(dropped > 0); /* more than the socket's queue holds */
    assert_int_equal((uint64_t)rd.found + dropped, (uint64_t)n);
    assert_int_equal(rd.reported, dropped);
    assert_int_equal(log_logger_clear_sinks(NULL), 0);
    log_sink_release(s);
    close(rd.fd);
    free(rd.seen);
    ts_unlink(path);
    ts_unlink(err_path);
    free(path);
    free(err_path);
}

static void test_sink_journald__bad_arguments(void **state)
{
    (void)state;
    log_sink *s = (log_sink *)1;
    assert_int_equal(log_sink_journald(NULL, NULL), CTXLOG_EINVAL);
    log_journald_options o = {.socket_path = ""};
    assert_int_equal(log_sink_journald(&s, &o), CTXLOG_EINVAL);
    assert_null(s);
    char longp[200];
    memset(longp, 'x', sizeof longp - 1);
    longp[sizeof longp - 1] = '\0';
    o.socket_path = longp;
    assert_int_equal(log_sink_journald(&s, &o), CTXLOG_EINVAL);
    o = (log_journald_options){.timeout_ms = -1};
    assert_int_equal(log_sink_journald(&s, &o), CTXLOG_EINVAL);
}

int main(void)
{
    int rc = journald_start();
    if (rc) {
        journald_stop();
        return rc;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sink_journald__bad_arguments),
        cmocka_unit_test_setup_teardown(test_sink_journald__names_values_and_large_entry, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sink_journald__threads_every_record_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sink_journald__async_mode_every_record_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sink_journald__lost_records_counted_and_reported,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_sink_journald__async_names_values_and_large_entry,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_sink_journald__async_lost_records_flush_reports,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_sink_journald__journal_not_reading_async_drop,
                                        setup, teardown),
    };
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    journald_stop();
    return rc;
}
