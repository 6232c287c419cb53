/* SPDX-License-Identifier: MIT */
/*
 * Issue 4's workload on spdlog (Debian's libspdlog-dev, 1.10), for comparison:
 * same command line and result line as bench_workload and bench_floor.
 *
 *   bench_spdlog W1|W2|W3|W4 [path] [records]
 *
 * The lines have ctxlog's shape: a pattern writes
 *   {"ts":"<UTC, microseconds>Z","level":"info","logger":"root",
 * and the call writes the rest:
 *   "msg":"user logged in",<context>,"attempt":N}
 * spdlog has no context: each thread keeps its request's context bytes,
 * escaped once per request (every 100 records), and passes them as an
 * argument. W1 uses basic_file_sink_st, W2 one logger on a basic_file_sink_mt
 * shared by 2 threads, W3 an async_logger (spdlog's thread pool, one worker,
 * queue of 8192, overflow policy block), W4 logger->debug at level info.
 * There is no per-context level in spdlog, hence no W4ctx.
 */
#include <pthread.h>

#include <memory>
#include <string>

#include <spdlog/async.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>

#include "bench_common.h"

namespace {

const char *const k_pattern =
    "{\"ts\":\"%Y-%m-%dT%H:%M:%S.%fZ\",\"level\":\"%l\",\"logger\":\"%n\",%v}";

void print_head(const bench_args *a, long records)
{
    std::printf("impl=spdlog workload=%s records=%ld spdlog=%d.%d.%d", a->name, records,
                SPDLOG_VER_MAJOR, SPDLOG_VER_MINOR, SPDLOG_VER_PATCH);
}

std::shared_ptr<spdlog::logger> make_logger(spdlog::sink_ptr sink)
{
    auto lg = std::make_shared<spdlog::logger>("root", std::move(sink));
    lg->set_pattern(k_pattern, spdlog::pattern_time_type::utc);
    lg->set_level(spdlog::level::info);
    lg->flush_on(spdlog::level::off);
    return lg;
}

struct ctx_bytes {
    char s[512];
    size_t n;
};

} // namespace

/* The timed loop of W1 (and of each W2 thread); see bench_workload.c. */
extern "C" void bench_timed_w1(spdlog::logger *lg, const bench_request *req, long n,
                               int flush);
extern "C" void bench_timed_w1(spdlog::logger *lg, const bench_request *req, long n,
                               int flush)
{
    ctx_bytes ctx;
    long left = 0;
    const bench_request *r = req;
    for (long i = 0; i < n; i++) {
        if (left == 0) {
            ctx.n = bench_ctx_fragment(ctx.s, r++);
            left = BENCH_PER_REQUEST;
        }
        left--;
        lg->info("\"msg\":\"user logged in\",{},\"attempt\":{}",
                 fmt::string_view(ctx.s, ctx.n), static_cast<int64_t>(i));
    }
    if (flush)
        lg->flush();
}

namespace {

int run_w1(bench_args *a)
{
    long nreq;
    bench_request *req = bench_requests(a->records, 0, &nreq);
    if (!req)
        return 2;
    {
        auto lg = make_logger(std::make_shared<spdlog::sinks::basic_file_sink_st>(a->path));
        uint64_t t0 = bench_now_ns();
        bench_timed_w1(lg.get(), req, a->records, 1);
        uint64_t t1 = bench_now_ns();
        print_head(a, a->records);
        std::printf(" total_ns=%llu ns_per_record=%.1f", (unsigned long long)(t1 - t0),
                    (double)(t1 - t0) / (double)a->records);
    }
    std::free(req);
    return bench_finish(a, a->records);
}

struct w2_thread {
    pthread_t th;
    pthread_barrier_t *go;
    spdlog::logger *lg;
    const bench_request *req;
    long n;
};

void *w2_main(void *p)
{
    w2_thread *t = static_cast<w2_thread *>(p);
    pthread_barrier_wait(t->go);
    bench_timed_w1(t->lg, t->req, t->n, 0);
    return nullptr;
}

int run_w2(bench_args *a)
{
    const int nt = 2;
    w2_thread t[nt];
    pthread_barrier_t go;
    long per = a->records / nt, nreq;
    auto lg = make_logger(std::make_shared<spdlog::sinks::basic_file_sink_mt>(a->path));
    pthread_barrier_init(&go, nullptr, nt + 1);
    for (int k = 0; k < nt; k++) {
        t[k].go = &go;
        t[k].lg = lg.get();
        t[k].req = bench_requests(per, k + 1, &nreq);
        t[k].n = per;
        if (!t[k].req)
            return 2;
    }
    for (int k = 0; k < nt; k++)
        if (pthread_create(&t[k].th, nullptr, w2_main, &t[k]) != 0)
            return 2;
    uint64_t t0 = bench_now_ns();
    pthread_barrier_wait(&go);
    for (int k = 0; k < nt; k++)
        pthread_join(t[k].th, nullptr);
    lg->flush();
    uint64_t t1 = bench_now_ns();
    pthread_barrier_destroy(&go);
    lg.reset();
    for (int k = 0; k < nt; k++)
        std::free(const_cast<bench_request *>(t[k].req));
    print_head(a, a->records);
    std::printf(" threads=%d total_ns=%llu ns_per_record=%.1f", nt,
                (unsigned long long)(t1 - t0), (double)(t1 - t0) / (double)a->records);
    return bench_finish(a, a->records);
}

int run_w3(bench_args *a)
{
    long nreq;
    bench_samples s;
    bench_request *req = bench_requests(a->records, 0, &nreq);
    if (!req || bench_samples_init(&s, a->records))
        return 2;
    auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(a->path);
    spdlog::init_thread_pool(8192, 1);
    auto lg = std::make_shared<spdlog::async_logger>("root", sink, spdlog::thread_pool(),
                                                     spdlog::async_overflow_policy::block);
    lg->set_pattern(k_pattern, spdlog::pattern_time_type::utc);
    lg->set_level(spdlog::level::info);
    uint32_t res, timer = bench_timer_cost(&res);
    ctx_bytes ctx;
    long left = 0;
    const bench_request *r = req;
    uint64_t t0 = bench_now_ns(), k0 = bench_ticks();
    for (long i = 0; i < a->records; i++) {
        if (left == 0) {
            ctx.n = bench_ctx_fragment(ctx.s, r++);
            left = BENCH_PER_REQUEST;
        }
        left--;
        uint64_t c0 = bench_ticks();
        lg->info("\"msg\":\"user logged in\",{},\"attempt\":{}",
                 fmt::string_view(ctx.s, ctx.n), static_cast<int64_t>(i));
        uint64_t c1 = bench_ticks();
        bench_sample(&s, i, c0, c1);
    }
    uint64_t t_calls = bench_now_ns();
    int threads = bench_threads();
    /* Everything written: queue a flush, then stop the pool (its worker
     * drains the queue before it is joined). */
    lg->flush();
    lg.reset();
    spdlog::shutdown();
    uint64_t t1 = bench_now_ns(), k1 = bench_ticks();
    double ns_per_tick = (double)(t1 - t0) / (double)(k1 - k0 ? k1 - k0 : 1);
    print_head(a, a->records);
    std::printf(" process_threads=%d total_ns=%llu ns_per_record=%.1f caller_ns_per_record=%.1f"
                " flush_ns=%llu",
                threads, (unsigned long long)(t1 - t0), (double)(t1 - t0) / (double)a->records,
                (double)(t_calls - t0) / (double)a->records,
                (unsigned long long)(t1 - t_calls));
    bench_print_samples(&s, ns_per_tick, timer, res);
    sink.reset();
    std::free(s.t);
    std::free(req);
    return bench_finish(a, a->records);
}

spdlog::logger *w4_lg;
ctx_bytes w4_ctx;

double time_disabled_debug(long n)
{
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++)
        w4_lg->debug("\"msg\":\"user logged in\",{},\"attempt\":{}",
                     fmt::string_view(w4_ctx.s, w4_ctx.n), static_cast<int64_t>(i));
    return (double)(bench_now_ns() - t0) / (double)n;
}

int run_w4(bench_args *a)
{
    long nreq;
    bench_request *req = bench_requests(1, 0, &nreq);
    if (!req)
        return 2;
    w4_ctx.n = bench_ctx_fragment(w4_ctx.s, req);
    double ns, mean;
    {
        auto lg = make_logger(std::make_shared<spdlog::sinks::basic_file_sink_st>(a->path));
        w4_lg = lg.get();
        ns = bench_median_batches(time_disabled_debug, a->records, &mean);
        lg->flush();
        w4_lg = nullptr;
    }
    print_head(a, a->records);
    std::printf(" calls=%ld ns_per_call=%.3f mean_ns_per_call=%.3f", a->records, ns, mean);
    std::free(req);
    return bench_finish(a, 0);
}

} // namespace

int main(int argc, char **argv)
{
    bench_args a;
    if (bench_parse(argc, argv, &a))
        return 2;
    try {
        switch (a.workload) {
        case BENCH_W1: return run_w1(&a);
        case BENCH_W2: return run_w2(&a);
        case BENCH_W3: return run_w3(&a);
        case BENCH_W4: return run_w4(&a);
        default:
            std::fprintf(stderr, "%s: not supported by spdlog (no per-context level)\n",
                         a.name);
            if (a.own_path)
                unlink(a.path);
            return 3;
        }
    } catch (const std::exception &e) {
        std::fprintf(stderr, "spdlog: %s\n", e.what());
        return 2;
    }
}
