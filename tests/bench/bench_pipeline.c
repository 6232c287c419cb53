/* SPDX-License-Identifier: MIT */
/*
 * The pipeline sinks beside the file sink, for tests/bench/run-bench:
 *
 *   bench_pipeline file PATH RECORDS
 *   bench_pipeline journald IDENTIFIER RECORDS
 *   bench_pipeline syslog PORT:DIR RECORDS
 *
 * W1's records (log_info_kv("user logged in", LOG_I64("attempt", i)), a new
 * request, three ctx_set, every 100 records) from one thread, in sync mode
 * (or async mode with CTXLOG_ASYNC=1 in the environment: the workload's
 * name then ends in "-async"), to one sink: a file (log_flush() at the end), the running journald
 * (native protocol), or a syslog daemon on 127.0.0.1:PORT over TCP that
 * writes each message as one line to DIR/syslog-<PROCID>.log (run-bench
 * starts syslog-ng so: one file per run).
 *
 * Prints one line of key=value pairs: caller_ns_per_record (the logging
 * loop alone, divided by the records), records_per_s (records over the time
 * from the first call until the daemon has them all: the file holds every
 * line, journalctl shows the last record), and ok=1 when exactly RECORDS
 * records arrived (counted after the timing) and none was counted as
 * dropped.
 */
#define _GNU_SOURCE
#include "bench_common.h"
#include "bench_w1.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ctxlog/ctxlog.h>

static void log_records(const bench_request *req, long n)
{
    bench_w1_records(req, n);
}

static long file_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    long n = 0;
    char buf[1 << 16];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0)
        for (size_t i = 0; i < got; i++)
            n += buf[i] == '\n';
    fclose(f);
    return n;
}

/* Entries of the identifier the journal holds (`last`: whether the last
 * of them is the record attempt=records-1, which is cheap to ask). */
static long journal_count(const char *ident, int last, long records)
{
    char cmd[320];
    if (last)
        snprintf(cmd, sizeof cmd,
                 "journalctl -q -n 1 -o export --no-pager SYSLOG_IDENTIFIER=%s | grep -c '^ATTEMPT=%ld$'",
                 ident, records - 1);
    else
        snprintf(cmd, sizeof cmd, "journalctl -q -o cat --no-pager SYSLOG_IDENTIFIER=%s | wc -l",
                 ident);
    FILE *p = popen(cmd, "r");
    long n = 0;
    if (p && fscanf(p, "%ld", &n) != 1)
        n = 0;
    if (p)
        pclose(p);
    return n;
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s file PATH|journald IDENT|syslog PORT:FILE RECORDS\n", argv[0]);
        return 2;
    }
    const char *kind = argv[1];
    long records = atol(argv[3]);
    long nreq;
    bench_request *req = bench_requests(records, 0, &nreq);
    log_sink *s = NULL;
    int rc = -1;
    char out[512] = "";
    if (strcmp(kind, "file") == 0) {
        snprintf(out, sizeof out, "%s", argv[2]);
        rc = log_sink_file(&s, out, NULL);
    } else if (strcmp(kind, "journald") == 0) {
        log_journald_options o = {.identifier = argv[2]};
        rc = log_sink_journald(&s, &o);
    } else if (strcmp(kind, "syslog") == 0) {
        unsigned port = 0;
        char dir[400];
        if (sscanf(argv[2], "%u:%399s", &port, dir) != 2)
            return 2;
        snprintf(out, sizeof out, "%s/syslog-%ld.log", dir, (long)getpid());
        log_syslog_options o = {.transport = LOG_SYSLOG_TCP, .port = port};
        rc = log_sink_syslog(&s, &o);
    }
    if (rc != 0 || !req) {
        fprintf(stderr, "bench_pipeline: cannot make the %s sink (%d)\n", kind, rc);
        return 2;
    }
    log_logger_clear_sinks(NULL);
    log_logger_add_sink(NULL, s);
    log_sink_release(s);

    uint64_t t0 = bench_now_ns();
    log_records(req, records);
    uint64_t t1 = bench_now_ns();
    (void)log_flush();
    int journal = strcmp(kind, "journald") == 0;
    long got = 0;
    /* Until the daemon has them all (at most ten minutes; none when some
     * were lost already). */
    for (int i = 0; i < 60000 && log_dropped_count() == 0; i++) {
        got = journal ? journal_count(argv[2], 1, records) : file_lines(out);
        if (journal ? got == 1 : got >= records)
            break;
        sleep_ms(journal ? 20 : 2);
    }
    uint64_t t2 = bench_now_ns();
    if (journal)
        got = journal_count(argv[2], 0, records);
    uint64_t dropped = log_dropped_count();
    const char *mode = getenv("CTXLOG_ASYNC");
    printf("impl=ctxlog workload=P-%s%s records=%ld caller_ns_per_record=%.1f records_per_s=%.0f "
           "received=%ld dropped=%llu ok=%d\n",
           kind, mode && strcmp(mode, "1") == 0 ? "-async" : "", records,
           (double)(t1 - t0) / (double)records,
           (double)records * 1e9 / (double)(t2 - t0), got, (unsigned long long)dropped,
           got == records && dropped == 0);
    free(req);
    log_shutdown();
    return got == records && dropped == 0 ? 0 : 1;
}
