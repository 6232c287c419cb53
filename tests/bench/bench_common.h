/* SPDX-License-Identifier: MIT */
/*
 * Shared by the issue-4 benchmark programs (bench_workload.c for ctxlog,
 * bench_floor.c, bench_spdlog.cpp): the command line, the workload's ids,
 * clocks, per-call samples, the check of the output file and the result line.
 *
 * The workload (issue 4): each record is
 *     log_info_kv("user logged in", LOG_I64("attempt", i))
 * with request_id (a 36-char UUID), user_id and tenant_id in the context, and
 * a new request (three sets) every BENCH_PER_REQUEST records.
 *
 * Every program prints one line of key=value pairs for the run-bench script,
 * e.g. "impl=floor workload=W1 records=1000000 total_ns=... ns_per_record=...
 * lines=1000000 ok=1".
 *
 * C11 and C++11 alike (bench_spdlog.cpp includes it): everything is static
 * inline so that a program need not use all of it.
 */
#ifndef CTXLOG_BENCH_COMMON_H
#define CTXLOG_BENCH_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define BENCH_PER_REQUEST 100  /* records per request */
#define BENCH_ID_LEN 36        /* request_id: a UUID in text form */

/* ---- command line -------------------------------------------------------- */

enum bench_workload {
    BENCH_W1 = 1, BENCH_W2, BENCH_W3, BENCH_W4, BENCH_W4CTX, BENCH_W1TRACE, BENCH_W1TRACE1,
    BENCH_W1REPLAY, BENCH_W1KEEP, BENCH_W1REPLAYERR, BENCH_W3SYNC, BENCH_W3CALL, BENCH_W3CLOCK
};

typedef struct bench_args {
    int workload;         /* enum bench_workload */
    const char *name;     /* "W1" … "W4ctx", "W1trace", "W1trace1", "W1replay" … */
    const char *path;     /* the output file */
    long records;         /* W1–W3: records in all; W4/W4ctx: calls per measure */
    int own_path;         /* path made here (mkstemp): removed at the end */
    char tmp[64];
} bench_args;

static inline void bench_usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s W1|W2|W3|W4|W4ctx|W1trace|W1trace1|W1replay|W1keep|W1replayerr"
            " [path] [records]\n"
            "  W1     records to a regular file, 1 thread, flushed at the end (default 1000000)\n"
            "  W2     the same from 2 threads with different contexts, same file (default 1000000 in all)\n"
            "  W3     W1 with per-call caller time (ctxlog: in async mode, CTXLOG_ASYNC=1)\n"
            "  W3sync W3 in sync mode (ctxlog only): the caller's time per call without the writer\n"
            "  W3call W3's loop calling a function that returns at once (bench_call only)\n"
            "  W3clock the same function reading the clock, as async mode's caller (bench_call only)\n"
            "  W4     disabled debug calls at level info (default 10000000)\n"
            "  W4ctx  disabled calls with and without a per-context level override\n"
            "  W1trace  W1 with a W3C trace continued per request (ctxlog only)\n"
            "  W1trace1 W1 inside one W3C trace begun before the timed loop (ctxlog only)\n"
            "  W1replay W1, each request with replay on error at debug (ctxlog only)\n"
            "  W1keep   the same with debug records: all kept, none written (ctxlog only)\n"
            "  W1replayerr W1keep whose requests end with an error: all replayed (ctxlog only)\n"
            "  path   output file, truncated first (default: a temp file, removed)\n",
            prog);
}

static inline int bench_parse(int argc, char **argv, bench_args *a)
{
    static const char *const names[] = {"W1",      "W2",       "W3",     "W4",
                                        "W4ctx",   "W1trace",  "W1trace1", "W1replay",
                                        "W1keep",  "W1replayerr", "W3sync", "W3call",
                                        "W3clock"};
    memset(a, 0, sizeof *a);
    if (argc < 2 || argc > 4) {
        bench_usage(argv[0]);
        return -1;
    }
    for (int i = 0; i < (int)(sizeof names / sizeof names[0]); i++)
        if (strcmp(argv[1], names[i]) == 0 ||
            (i == 4 && strcmp(argv[1], "W4CTX") == 0)) {
            a->workload = i + 1;
            a->name = names[i];
        }
    if (!a->workload) {
        bench_usage(argv[0]);
        return -1;
    }
    a->records = a->workload == BENCH_W4 || a->workload == BENCH_W4CTX ? 10000000L : 1000000L;
    if (argc > 3) {
        char *end = NULL;
        a->records = strtol(argv[3], &end, 10);
        if (!end || *end || a->records <= 0 || a->records > 1000000000L) {
            fprintf(stderr, "%s: bad record count '%s'\n", argv[0], argv[3]);
            return -1;
        }
    }
    if (a->workload == BENCH_W2 && a->records % 2) {
        fprintf(stderr, "%s: W2 needs an even record count\n", argv[0]);
        return -1;
    }
    if (argc > 2 && argv[2][0]) {
        a->path = argv[2];
    } else {
        const char *dir = getenv("TMPDIR");
        snprintf(a->tmp, sizeof a->tmp, "%s/ctxlog-bench-XXXXXX",
                 dir && *dir && strlen(dir) < 32 ? dir : "/tmp");
        int fd = mkstemp(a->tmp);
        if (fd < 0) {
            perror("mkstemp");
            return -1;
        }
        close(fd);
        a->path = a->tmp;
        a->own_path = 1;
    }
    /* Start from an empty file: every implementation opens it for append. */
    int fd = open(a->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) {
        fprintf(stderr, "%s: cannot open '%s': %s\n", argv[0], a->path, strerror(errno));
        return -1;
    }
    close(fd);
    return 0;
}

/* ---- clocks -------------------------------------------------------------- */

static inline uint64_t bench_now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Per-call samples: `lfence; rdtsc` on x86-64 (the fence keeps the read
 * from passing the call it times; about 10-20 ns a read, against about 30
 * for clock_gettime under kvm-clock), converted with a rate measured against
 * CLOCK_MONOTONIC over the whole run; clock_gettime elsewhere. */
static inline uint64_t bench_ticks(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_lfence();
    return __builtin_ia32_rdtsc();
#else
    return bench_now_ns();
#endif
}

/* ---- the workload's ids --------------------------------------------------- */

typedef struct bench_request {
    char request_id[BENCH_ID_LEN + 1];
    char user_id[16];
    char tenant_id[16];
    char traceparent[56]; /* W1trace: the request's incoming W3C header */
} bench_request;

static inline uint64_t bench_splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* The requests of one thread (`stream` 0, 1 …), made before any timing: the
 * same ids for every implementation. Random (version 4) UUIDs, user-NNNNN,
 * tenant-NN. */
static inline bench_request *bench_requests(long records, int stream, long *count)
{
    long n = (records + BENCH_PER_REQUEST - 1) / BENCH_PER_REQUEST;
    if (n < 1)
        n = 1;
    bench_request *r = (bench_request *)calloc((size_t)n, sizeof *r);
    if (!r)
        return NULL;
    uint64_t seed = 0x6374786c6f67u + (uint64_t)stream * 0x1000193u;
    static const char hex[] = "0123456789abcdef";
    for (long k = 0; k < n; k++) {
        uint64_t hi = bench_splitmix(&seed), lo = bench_splitmix(&seed);
        unsigned char b[16];
        for (int j = 0; j < 8; j++) {
            b[j] = (unsigned char)(hi >> (8 * j));
            b[8 + j] = (unsigned char)(lo >> (8 * j));
        }
        b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
        b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
        char *o = r[k].request_id;
        for (int j = 0; j < 16; j++) {
            if (j == 4 || j == 6 || j == 8 || j == 10)
                *o++ = '-';
            *o++ = hex[b[j] >> 4];
            *o++ = hex[b[j] & 15];
        }
        *o = '\0';
        snprintf(r[k].user_id, sizeof r[k].user_id, "user-%05u",
                 (unsigned)(bench_splitmix(&seed) % 100000u));
        snprintf(r[k].tenant_id, sizeof r[k].tenant_id, "tenant-%u",
                 (unsigned)(bench_splitmix(&seed) % 100u));
        /* Made after the other ids so that those stay what they were. */
        uint64_t t1 = bench_splitmix(&seed), t2 = bench_splitmix(&seed);
        uint64_t p = bench_splitmix(&seed);
        snprintf(r[k].traceparent, sizeof r[k].traceparent, "00-%016llx%016llx-%016llx-01",
                 (unsigned long long)(t1 | 1), (unsigned long long)t2,
                 (unsigned long long)(p | 1));
    }
    *count = n;
    return r;
}

/* JSON string body of `s` (no quotes) at `o`; returns the end. Used by the
 * floor and the spdlog program to build their context bytes per request. */
static inline char *bench_json_escape(char *o, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c < 0x20) {
            memcpy(o, "\\u00", 4);
            o[4] = hex[c >> 4];
            o[5] = hex[c & 15];
            o += 6;
        } else {
            *o++ = (char)c;
        }
    }
    return o;
}

/* `"request_id":"…","user_id":"…","tenant_id":"…"` for one request into
 * `out` (room for 6 times the ids plus the keys); returns its length. */
static inline size_t bench_ctx_fragment(char *out, const bench_request *r)
{
    char *o = out;
    memcpy(o, "\"request_id\":\"", 14);
    o = bench_json_escape(o + 14, r->request_id);
    memcpy(o, "\",\"user_id\":\"", 13);
    o = bench_json_escape(o + 13, r->user_id);
    memcpy(o, "\",\"tenant_id\":\"", 15);
    o = bench_json_escape(o + 15, r->tenant_id);
    *o++ = '"';
    *o = '\0';
    return (size_t)(o - out);
}

/* ---- per-call samples ------------------------------------------------------ */

typedef struct bench_samples {
    uint32_t *t; /* ticks per call, saturated */
    long n;
} bench_samples;

/* Allocated and touched before timing: no page fault in the loop. */
static inline int bench_samples_init(bench_samples *s, long n)
{
    s->t = (uint32_t *)malloc((size_t)n * sizeof *s->t);
    s->n = n;
    if (!s->t)
        return -1;
    memset(s->t, 0, (size_t)n * sizeof *s->t);
    return 0;
}

static inline void bench_sample(bench_samples *s, long i, uint64_t t0, uint64_t t1)
{
    uint64_t d = t1 - t0;
    s->t[i] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
}

static inline int bench_u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The timer's own cost: the median of back-to-back reads, in ticks; and its
 * resolution: the smallest step seen (under a hypervisor the TSC may move
 * in steps of many ticks). */
static inline uint32_t bench_timer_cost(uint32_t *resolution)
{
    uint32_t d[1001], res = UINT32_MAX;
    for (int i = 0; i < 1001; i++) {
        uint64_t a = bench_ticks();
        uint64_t b = bench_ticks();
        d[i] = (uint32_t)(b - a);
    }
    uint64_t prev = bench_ticks();
    for (int i = 0; i < 100000; i++) {
        uint64_t t = bench_ticks();
        if (t != prev && t - prev < res)
            res = (uint32_t)(t - prev);
        prev = t;
    }
    *resolution = res;
    qsort(d, 1001, sizeof d[0], bench_u32_cmp);
    return d[500];
}

/* Prints p50/p99/p999/max (ns) of the samples; `ns_per_tick` from the run. */
static inline void bench_print_samples(bench_samples *s, double ns_per_tick, uint32_t timer,
                                       uint32_t resolution)
{
    qsort(s->t, (size_t)s->n, sizeof s->t[0], bench_u32_cmp);
    double sum = 0;
    for (long i = 0; i < s->n; i++)
        sum += s->t[i];
    long n = s->n;
#define BENCH_PCT(q) ((double)s->t[(long)((double)(n - 1) * (q))] * ns_per_tick)
    printf(" p50_ns=%.1f p90_ns=%.1f p99_ns=%.1f p999_ns=%.1f max_ns=%.1f mean_ns=%.1f"
           " timer_ns=%.1f timer_res_ns=%.1f",
           BENCH_PCT(0.5), BENCH_PCT(0.9), BENCH_PCT(0.99), BENCH_PCT(0.999),
           (double)s->t[n - 1] * ns_per_tick, sum / (double)n * ns_per_tick,
           (double)timer * ns_per_tick, (double)resolution * ns_per_tick);
#undef BENCH_PCT
}

/* ---- disabled calls ------------------------------------------------------------ */

#define BENCH_BATCHES 20

/* A loop of `n` calls timed by `fn`, returning ns per call. */
typedef double (*bench_loop_fn)(long n);

/* Runs `n` calls as BENCH_BATCHES timed batches and returns the median batch's
 * ns per call (a calls-per-nanosecond loop is at the mercy of one interrupt);
 * `mean` gets the plain average. */
static inline double bench_median_batches(bench_loop_fn fn, long n, double *mean)
{
    double r[BENCH_BATCHES], sum = 0;
    long per = n / BENCH_BATCHES > 0 ? n / BENCH_BATCHES : 1;
    for (int k = 0; k < BENCH_BATCHES; k++) {
        r[k] = fn(per);
        sum += r[k];
        for (int j = k; j > 0 && r[j] < r[j - 1]; j--) {
            double x = r[j];
            r[j] = r[j - 1];
            r[j - 1] = x;
        }
    }
    if (mean)
        *mean = sum / BENCH_BATCHES;
    return (r[BENCH_BATCHES / 2 - 1] + r[BENCH_BATCHES / 2]) / 2;
}

/* ---- the output file -------------------------------------------------------- */

typedef struct bench_check {
    long lines;     /* '\n' count */
    long bad;       /* lines not of the form {"ts":…}\n */
    long long bytes;
} bench_check;

/* Reads the file back (after the timed part): counts lines and checks that
 * each one starts with {"ts": and ends with }, which catches torn or
 * interleaved records. memchr does the scanning, so that the check stays
 * cheap under valgrind too. */
static inline int bench_check_file(const char *path, bench_check *c)
{
    enum { CAP = 1 << 20 };
    static char buf[CAP];
    static const char head[] = "{\"ts\":";
    memset(c, 0, sizeof *c);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t have = 0; /* an unfinished line, moved to buf[0] */
    int skip = 0;    /* the unfinished line was too long to keep: bad */
    ssize_t got;
    while ((got = read(fd, buf + have, CAP - have)) > 0) {
        c->bytes += got;
        char *p = buf, *end = buf + have + got, *nl;
        while ((nl = (char *)memchr(p, '\n', (size_t)(end - p))) != NULL) {
            c->lines++;
            if (skip || nl - p < 7 || memcmp(p, head, 6) != 0 || nl[-1] != '}')
                c->bad++;
            skip = 0;
            p = nl + 1;
        }
        have = (size_t)(end - p);
        if (have > CAP / 2) {
            skip = 1;
            have = 0;
        } else if (have) {
            memmove(buf, p, have);
        }
    }
    close(fd);
    if (have || skip)
        c->bad++; /* a last line without its newline */
    return got < 0 ? -1 : 0;
}

/* Checks the file, prints the common tail of the result line, removes a file
 * the program made itself. Returns the exit status. */
static inline int bench_finish(bench_args *a, long expect_lines)
{
    bench_check c;
    int rc = bench_check_file(a->path, &c);
    int ok = rc == 0 && c.lines == expect_lines && c.bad == 0;
    printf(" lines=%ld expected=%ld bad=%ld bytes=%lld ok=%d\n", c.lines, expect_lines, c.bad,
           c.bytes, ok);
    if (!ok)
        fprintf(stderr, "%s: %s has %ld lines (%ld malformed), expected %ld\n", a->name,
                a->path, c.lines, c.bad, expect_lines);
    if (a->own_path)
        unlink(a->path);
    fflush(stdout);
    return ok ? 0 : 1;
}

/* The process's peak resident set (kB), from getrusage. */
static inline long bench_rss_kb(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? (long)ru.ru_maxrss : -1;
}

/* Threads of the process (from /proc/self/status), to tell whether a
 * background writer runs. */
static inline int bench_threads(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int n = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "Threads:", 8) == 0)
            n = atoi(line + 8);
    fclose(f);
    return n;
}

#endif /* CTXLOG_BENCH_COMMON_H */
