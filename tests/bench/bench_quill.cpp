/* SPDX-License-Identifier: MIT */
/*
 * Issue 23's comparison: the workload's W3 on Quill (header-only C++ logger,
 * github.com/odygrd/quill, v12.1), same command line and result line as
 * bench_workload's W3. Not built by CMake and never part of the library:
 * tests/bench/run-bench compiles it when given the path of Quill's include/
 * folder (BENCH_QUILL_INCLUDE or --quill DIR).
 *
 *   bench_quill W3 [path] [records]
 *
 * Each call copies its arguments into Quill's per-thread queue (default
 * frontend options: an unbounded queue that blocks at its limit) and the
 * backend thread formats them; the line has ctxlog's shape:
 *   {"ts":"<UTC, microseconds>Z","level":"info","logger":"root",
 *    "msg":"user logged in","request_id":"…","user_id":"…","tenant_id":"…","attempt":N}
 * The context values are passed per call as arguments (Quill has no
 * context): request_id, user_id and tenant_id as string_views, copied by
 * the call. Each call is timed with `lfence; rdtsc`; the total runs until
 * flush_log() returns (the backend wrote and flushed the file).
 */
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>

#include "quill/Backend.h"
#include "quill/Frontend.h"
#include "quill/LogMacros.h"
#include "quill/Logger.h"
#include "quill/sinks/FileSink.h"

#include "bench_common.h"

namespace {

const char *const k_pattern =
    "{\"ts\":\"%(time)Z\",\"level\":\"info\",\"logger\":\"%(logger)\",%(message)}";

} // namespace

int main(int argc, char **argv)
{
    bench_args a;
    if (bench_parse(argc, argv, &a))
        return 2;
    if (a.workload != BENCH_W3) {
        std::fprintf(stderr, "%s: only W3 is implemented for Quill\n", argv[0]);
        return 2;
    }
    long nreq;
    bench_samples s;
    bench_request *req = bench_requests(a.records, 0, &nreq);
    if (!req || bench_samples_init(&s, a.records))
        return 2;

    quill::BackendOptions bo;
    quill::Backend::start(bo);
    quill::FileSinkConfig cfg;
    cfg.set_open_mode('a');
    auto sink = quill::Frontend::create_or_get_sink<quill::FileSink>(a.path, cfg,
                                                                     quill::FileEventNotifier{});
    quill::PatternFormatterOptions pfo{k_pattern, "%Y-%m-%dT%H:%M:%S.%Qus",
                                       quill::Timezone::GmtTime};
    quill::Logger *lg = quill::Frontend::create_or_get_logger("root", std::move(sink), pfo);
    lg->set_log_level(quill::LogLevel::Info);
    /* The queue's first allocation outside the timed part, as ctxlog's ring
     * is made by its first record: one record before timing, not counted. */
    quill::Frontend::preallocate();

    uint32_t res, timer = bench_timer_cost(&res);
    uint64_t t0 = bench_now_ns(), k0 = bench_ticks();
    long left = 0;
    const bench_request *r = req;
    std::string_view rid, uid, tid;
    for (long i = 0; i < a.records; i++) {
        if (left == 0) {
            rid = r->request_id;
            uid = r->user_id;
            tid = r->tenant_id;
            r++;
            left = BENCH_PER_REQUEST;
        }
        left--;
        uint64_t c0 = bench_ticks();
        LOG_INFO(lg,
                 "\"msg\":\"user logged in\",\"request_id\":\"{}\",\"user_id\":\"{}\","
                 "\"tenant_id\":\"{}\",\"attempt\":{}",
                 rid, uid, tid, i);
        uint64_t c1 = bench_ticks();
        bench_sample(&s, i, c0, c1);
    }
    uint64_t t_calls = bench_now_ns();
    lg->flush_log();
    uint64_t t1 = bench_now_ns(), k1 = bench_ticks();
    int threads = bench_threads();
    double ns_per_tick = (double)(t1 - t0) / (double)(k1 - k0 ? k1 - k0 : 1);
    std::printf("impl=quill workload=%s records=%ld quill=%d.%d.%d process_threads=%d "
                "total_ns=%llu ns_per_record=%.1f caller_ns_per_record=%.1f flush_ns=%llu "
                "dropped=0",
                a.name, a.records, (int)quill::VersionMajor, (int)quill::VersionMinor,
                (int)quill::VersionPatch, threads, (unsigned long long)(t1 - t0),
                (double)(t1 - t0) / (double)a.records,
                (double)(t_calls - t0) / (double)a.records,
                (unsigned long long)(t1 - t_calls));
    bench_print_samples(&s, ns_per_tick, timer, res);
    std::printf(" rss_kb=%ld", bench_rss_kb());
    std::free(s.t);
    std::free(req);
    quill::Backend::stop();
    return bench_finish(&a, a.records);
}
