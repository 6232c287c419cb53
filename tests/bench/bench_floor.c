/* SPDX-License-Identifier: MIT */
/*
 * The floor of issue 4: a minimal hand-written JSON-lines logger doing the
 * same workload as bench_workload (same command line, same result line), to
 * put ctxlog's figures beside what the work itself costs on this machine.
 *
 *   bench_floor W1|W2|W3|W4|W4ctx [path] [records]
 *
 * What it does per record, and nothing more:
 *   - clock_gettime(CLOCK_REALTIME), the RFC 3339 UTC timestamp with
 *     microseconds (the "YYYY-MM-DDTHH:MM:SS" part cached per second, as a
 *     fast logger would), the level name, logger "root", the message (scanned
 *     for characters that need escaping), the context bytes, the field key
 *     (scanned too) and the integer formatted in decimal;
 *   - memcpy of all that into a 64 KiB buffer, write(2) of the buffer when the
 *     next record might not fit, and at the end.
 * The context bytes (the escaped "request_id":…,"user_id":…,"tenant_id":…
 * fragment) are built when the request changes, every 100 records. Nothing
 * of a line is precomputed beyond its constant keys.
 *
 * W2: 2 threads, each with its own 64 KiB buffer and requests, writing whole
 * buffers (whole lines) to one O_APPEND descriptor. W3: W1 with every call
 * timed (a buffered synchronous logger's caller time). W4: the level test of
 * 10,000,000 disabled calls, a relaxed atomic load the compiler must keep.
 * W4ctx: the same test with a per-thread context level as well (the least a
 * per-context override costs), timed as in bench_workload.
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "bench_common.h"

enum { F_TRACE, F_DEBUG, F_INFO, F_WARN, F_ERROR, F_FATAL, F_OFF };

static const struct {
    const char *s;
    size_t n;
} level_names[] = {{"trace", 5}, {"debug", 5}, {"info", 4},
                   {"warn", 4},  {"error", 5}, {"fatal", 5}};

/* The logger's level, and the calling thread's context level (F_OFF + 1:
 * none). */
static int floor_gate = F_INFO;
static _Thread_local int floor_ctx_level = F_OFF + 1;

static inline int floor_enabled(int lvl)
{
    return lvl >= __atomic_load_n(&floor_gate, __ATOMIC_RELAXED);
}

static inline int floor_enabled_ctx(int lvl)
{
    return lvl >= __atomic_load_n(&floor_gate, __ATOMIC_RELAXED) || lvl >= floor_ctx_level;
}

#define FLOOR_BUF (64 * 1024)

typedef struct floor_out {
    int fd;
    size_t len;
    time_t sec; /* the second `prefix` holds; -1: none yet */
    char prefix[20];
    size_t ctx_len;
    char ctx[512];
    const char *logger;
    size_t logger_len;
    int failed;
    char buf[FLOOR_BUF];
} floor_out;

static void floor_init(floor_out *f, int fd)
{
    f->fd = fd;
    f->len = 0;
    f->sec = -1;
    f->ctx_len = 0;
    f->logger = "root";
    f->logger_len = 4;
    f->failed = 0;
}

static void floor_write(floor_out *f)
{
    const char *p = f->buf;
    size_t left = f->len;
    while (left > 0) {
        ssize_t w = write(f->fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            f->failed = 1;
            break;
        }
        p += w;
        left -= (size_t)w;
    }
    f->len = 0;
}

/* A new request: its context bytes, escaped once. */
static void floor_set_context(floor_out *f, const bench_request *r)
{
    f->ctx_len = bench_ctx_fragment(f->ctx, r);
}

static void floor_prefix(floor_out *f, time_t sec)
{
    struct tm tm;
    gmtime_r(&sec, &tm);
    int y = tm.tm_year + 1900;
    char *o = f->prefix;
    const int parts[5] = {tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec};
    o[0] = (char)('0' + y / 1000 % 10);
    o[1] = (char)('0' + y / 100 % 10);
    o[2] = (char)('0' + y / 10 % 10);
    o[3] = (char)('0' + y % 10);
    for (int i = 0; i < 5; i++) {
        o[4 + 3 * i] = "--T::"[i];
        o[5 + 3 * i] = (char)('0' + parts[i] / 10);
        o[6 + 3 * i] = (char)('0' + parts[i] % 10);
    }
    f->sec = sec;
}

/* A string value: memcpy when nothing needs escaping (the usual case). */
static inline char *floor_str(char *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == '"' || c == '\\')
            return bench_json_escape(o, s);
    }
    memcpy(o, s, n);
    return o + n;
}

static inline char *floor_i64(char *o, int64_t v)
{
    char tmp[24];
    char *e = tmp + sizeof tmp, *p = e;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    memcpy(o, p, (size_t)(e - p));
    return o + (e - p);
}

#define PUT(lit) (memcpy(o, lit, sizeof lit - 1), o += sizeof lit - 1)

static void floor_log_i64(floor_out *f, int lvl, const char *msg, const char *key, int64_t v)
{
    size_t msg_len = strlen(msg), key_len = strlen(key);
    size_t need = 160 + f->logger_len + f->ctx_len + 6 * (msg_len + key_len);
    if (need > FLOOR_BUF)
        return; /* not in this workload */
    if (f->len + need > FLOOR_BUF)
        floor_write(f);

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != f->sec)
        floor_prefix(f, ts.tv_sec);

    char *o = f->buf + f->len;
    PUT("{\"ts\":\"");
    memcpy(o, f->prefix, 19);
    o += 19;
    *o = '.';
    long us = ts.tv_nsec / 1000;
    for (int i = 6; i >= 1; i--) {
        o[i] = (char)('0' + us % 10);
        us /= 10;
    }
    o += 7;
    PUT("Z\",\"level\":\"");
    memcpy(o, level_names[lvl].s, level_names[lvl].n);
    o += level_names[lvl].n;
    PUT("\",\"logger\":\"");
    memcpy(o, f->logger, f->logger_len);
    o += f->logger_len;
    PUT("\",\"msg\":\"");
    o = floor_str(o, msg, msg_len);
    *o++ = '"';
    if (f->ctx_len) {
        *o++ = ',';
        memcpy(o, f->ctx, f->ctx_len);
        o += f->ctx_len;
    }
    PUT(",\"");
    o = floor_str(o, key, key_len);
    PUT("\":");
    o = floor_i64(o, v);
    PUT("}\n");
    f->len = (size_t)(o - f->buf);
}

#define floor_info_i64(f, msg, key, v)                                          \
    do {                                                                       \
        if (floor_enabled(F_INFO))                                             \
            floor_log_i64((f), F_INFO, (msg), (key), (v));                     \
    } while (0)

static int open_out(const bench_args *a)
{
    int fd = open(a->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
        fprintf(stderr, "%s: %s: %s\n", a->name, a->path, strerror(errno));
    return fd;
}

static void print_head(const bench_args *a, long records)
{
    printf("impl=floor workload=%s records=%ld", a->name, records);
}

/* ---- W1 ------------------------------------------------------------------ */

/* The timed loop of W1 (and of each W2 thread, each writing out its own
 * buffer at the end); see bench_workload.c. */
void bench_timed_w1(floor_out *f, const bench_request *req, long n);
void bench_timed_w1(floor_out *f, const bench_request *req, long n)
{
    long left = 0;
    const bench_request *r = req;
    for (long i = 0; i < n; i++) {
        if (left == 0) {
            floor_set_context(f, r++);
            left = BENCH_PER_REQUEST;
        }
        left--;
        floor_info_i64(f, "user logged in", "attempt", i);
    }
    floor_write(f); /* the flush at the end */
}

static int run_w1(bench_args *a)
{
    long nreq;
    bench_request *req = bench_requests(a->records, 0, &nreq);
    floor_out *f = malloc(sizeof *f);
    int fd = open_out(a);
    if (!req || !f || fd < 0)
        return 2;
    floor_init(f, fd);
    uint64_t t0 = bench_now_ns();
    bench_timed_w1(f, req, a->records);
    uint64_t t1 = bench_now_ns();
    close(fd);
    print_head(a, a->records);
    printf(" total_ns=%llu ns_per_record=%.1f write_failed=%d", (unsigned long long)(t1 - t0),
           (double)(t1 - t0) / (double)a->records, f->failed);
    free(f);
    free(req);
    return bench_finish(a, a->records);
}

/* ---- W2 ------------------------------------------------------------------ */

typedef struct w2_thread {
    pthread_t th;
    pthread_barrier_t *go;
    const bench_request *req;
    long n;
    floor_out *f;
} w2_thread;

static void *w2_main(void *p)
{
    w2_thread *t = p;
    pthread_barrier_wait(t->go);
    bench_timed_w1(t->f, t->req, t->n);
    return NULL;
}

static int run_w2(bench_args *a)
{
    enum { NT = 2 };
    w2_thread t[NT];
    pthread_barrier_t go;
    long per = a->records / NT, nreq;
    int fd = open_out(a);
    if (fd < 0)
        return 2;
    for (int k = 0; k < NT; k++) {
        t[k].req = bench_requests(per, k + 1, &nreq);
        t[k].f = malloc(sizeof *t[k].f);
        if (!t[k].req || !t[k].f)
            return 2;
        floor_init(t[k].f, fd);
        t[k].n = per;
        t[k].go = &go;
    }
    pthread_barrier_init(&go, NULL, NT + 1);
    for (int k = 0; k < NT; k++)
        if (pthread_create(&t[k].th, NULL, w2_main, &t[k]) != 0)
            return 2;
    uint64_t t0 = bench_now_ns();
    pthread_barrier_wait(&go);
    for (int k = 0; k < NT; k++)
        pthread_join(t[k].th, NULL);
    uint64_t t1 = bench_now_ns();
    pthread_barrier_destroy(&go);
    close(fd);
    int failed = 0;
    for (int k = 0; k < NT; k++) {
        failed |= t[k].f->failed;
        free(t[k].f);
        free((void *)t[k].req);
    }
    print_head(a, a->records);
    printf(" threads=%d total_ns=%llu ns_per_record=%.1f write_failed=%d", NT,
           (unsigned long long)(t1 - t0), (double)(t1 - t0) / (double)a->records, failed);
    return bench_finish(a, a->records);
}

/* ---- W3 ------------------------------------------------------------------ */

static int run_w3(bench_args *a)
{
    long nreq;
    bench_samples s;
    bench_request *req = bench_requests(a->records, 0, &nreq);
    floor_out *f = malloc(sizeof *f);
    int fd = open_out(a);
    if (!req || !f || fd < 0 || bench_samples_init(&s, a->records))
        return 2;
    floor_init(f, fd);
    uint32_t res, timer = bench_timer_cost(&res);
    uint64_t t0 = bench_now_ns(), k0 = bench_ticks();
    long left = 0;
    const bench_request *r = req;
    for (long i = 0; i < a->records; i++) {
        if (left == 0) {
            floor_set_context(f, r++);
            left = BENCH_PER_REQUEST;
        }
        left--;
        uint64_t c0 = bench_ticks();
        floor_info_i64(f, "user logged in", "attempt", i);
        uint64_t c1 = bench_ticks();
        bench_sample(&s, i, c0, c1);
    }
    uint64_t t_calls = bench_now_ns();
    floor_write(f);
    uint64_t t1 = bench_now_ns(), k1 = bench_ticks();
    close(fd);
    double ns_per_tick = (double)(t1 - t0) / (double)(k1 - k0 ? k1 - k0 : 1);
    print_head(a, a->records);
    printf(" process_threads=%d total_ns=%llu ns_per_record=%.1f caller_ns_per_record=%.1f"
           " flush_ns=%llu write_failed=%d",
           bench_threads(), (unsigned long long)(t1 - t0),
           (double)(t1 - t0) / (double)a->records, (double)(t_calls - t0) / (double)a->records,
           (unsigned long long)(t1 - t_calls), f->failed);
    bench_print_samples(&s, ns_per_tick, timer, res);
    free(s.t);
    free(f);
    free(req);
    return bench_finish(a, a->records);
}

/* ---- W4 and W4ctx ------------------------------------------------------------ */

static floor_out *w4_out; /* where an enabled call would go */

static double time_disabled(long n)
{
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++)
        if (floor_enabled(F_DEBUG))
            floor_log_i64(w4_out, F_DEBUG, "user logged in", "attempt", i);
    return (double)(bench_now_ns() - t0) / (double)n;
}

static inline __attribute__((always_inline)) double time_disabled_ctx(int lvl, long n)
{
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++)
        if (floor_enabled_ctx(lvl))
            floor_log_i64(w4_out, lvl, "user logged in", "attempt", i);
    return (double)(bench_now_ns() - t0) / (double)n;
}

static double time_disabled_ctx_debug(long n)
{
    return time_disabled_ctx(F_DEBUG, n);
}

static double time_disabled_ctx_trace(long n)
{
    return time_disabled_ctx(F_TRACE, n);
}

static int run_w4(bench_args *a)
{
    long nreq;
    bench_request *req = bench_requests(1, 0, &nreq);
    w4_out = malloc(sizeof *w4_out);
    int fd = open_out(a);
    if (!req || !w4_out || fd < 0)
        return 2;
    floor_init(w4_out, fd);
    floor_set_context(w4_out, req);
    double mean, ns = bench_median_batches(time_disabled, a->records, &mean);
    floor_write(w4_out);
    close(fd);
    print_head(a, a->records);
    printf(" calls=%ld ns_per_call=%.3f mean_ns_per_call=%.3f", a->records, ns, mean);
    free(w4_out);
    free(req);
    return bench_finish(a, 0);
}

typedef struct w4ctx {
    pthread_barrier_t step;
    floor_out *f;
    long n;
    double ovr_trace_ns;
} w4ctx;

static void *w4ctx_override(void *p)
{
    w4ctx *w = p;
    floor_ctx_level = F_DEBUG; /* this request lowered its own level */
    if (floor_enabled_ctx(F_DEBUG))
        floor_log_i64(w->f, F_DEBUG, "user logged in", "attempt", -1);
    floor_write(w->f);
    pthread_barrier_wait(&w->step);
    pthread_barrier_wait(&w->step);
    w->ovr_trace_ns = bench_median_batches(time_disabled_ctx_trace, w->n, NULL);
    floor_ctx_level = F_OFF + 1;
    return NULL;
}

static int run_w4ctx(bench_args *a)
{
    long nreq;
    w4ctx w;
    pthread_t th;
    bench_request *req = bench_requests(2 * BENCH_PER_REQUEST, 0, &nreq);
    floor_out *mine = malloc(sizeof *mine);
    int fd = open_out(a);
    memset(&w, 0, sizeof w);
    w.f = malloc(sizeof *w.f);
    if (!req || !mine || !w.f || fd < 0)
        return 2;
    floor_init(mine, fd);
    floor_init(w.f, fd);
    floor_set_context(mine, &req[0]);
    floor_set_context(w.f, &req[1]);
    w4_out = mine;
    w.n = a->records;
    pthread_barrier_init(&w.step, NULL, 2);
    if (pthread_create(&th, NULL, w4ctx_override, &w) != 0)
        return 2;
    pthread_barrier_wait(&w.step);
    double plain_debug = bench_median_batches(time_disabled_ctx_debug, a->records, NULL);
    double plain_trace = bench_median_batches(time_disabled_ctx_trace, a->records, NULL);
    pthread_barrier_wait(&w.step);
    pthread_join(th, NULL);
    pthread_barrier_destroy(&w.step);
    floor_write(mine);
    close(fd);
    print_head(a, a->records);
    printf(" calls=%ld plain_debug_ns=%.3f plain_trace_ns=%.3f override_trace_ns=%.3f",
           a->records, plain_debug, plain_trace, w.ovr_trace_ns);
    free(mine);
    free(w.f);
    free(req);
    return bench_finish(a, 1);
}

int main(int argc, char **argv)
{
    bench_args a;
    if (bench_parse(argc, argv, &a))
        return 2;
    switch (a.workload) {
    case BENCH_W1: return run_w1(&a);
    case BENCH_W2: return run_w2(&a);
    case BENCH_W3: return run_w3(&a);
    case BENCH_W4: return run_w4(&a);
    case BENCH_W4CTX: return run_w4ctx(&a);
    }
    return 2;
}
