// SPDX-License-Identifier: MIT
//
// Boost.Fiber with its work_stealing scheduler on 4 threads: fibers yield in
// the middle of a request and resume on whichever thread steals them, and
// every record still carries its own request's ids.
//
// What makes it work is one scheduling algorithm (ctx_work_stealing below):
// it gives every fiber a ctx_fiber, made when the fiber is first scheduled
// (a copy of its launcher's context), and switches it in pick_next(), which
// every switch of Boost.Fiber goes through; everything else is
// work_stealing's own.
//
// Records (tests/test_fiber_examples.c checks them), per request i:
// "request started", "query sent" and "query done" in a child span that
// spans a yield, "request done"; each with field "i", field "worker" (the
// thread it ran on, 0 to 3) and the request's ids (request_id "req-<i>",
// user_id "user-<i>", tenant_id "tenant-<i mod 3>").
//
// Run: ./fiber_work_stealing [requests]   (default 1000; JSON lines on stdout)
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <boost/fiber/all.hpp>

#include <ctxlog/ctxlog.h>

namespace bf = boost::fibers;

constexpr int threads = 4;

// Per fiber: its own context state (none for the threads' main and
// dispatcher fibers, which keep their thread's own).
class ctx_props : public bf::fiber_properties {
  public:
    explicit ctx_props(bf::context *c)
        : bf::fiber_properties(c),
          fiber_(c->is_context(bf::type::worker_context) ? ctx_fiber_new() : nullptr)
    {
    }
    ~ctx_props() override { ctx_fiber_free(fiber_); }
    ctx_fiber *fiber() const { return fiber_; }

  private:
    ctx_fiber *fiber_;
};

// work_stealing, with the fiber's context switched in where it picks the
// next fiber to run.
class ctx_work_stealing : public bf::algo::algorithm_with_properties<ctx_props> {
  public:
    explicit ctx_work_stealing(std::uint32_t n) : inner_(new bf::algo::work_stealing(n)) {}
    void awakened(bf::context *c, ctx_props &) noexcept override { inner_->awakened(c); }
    bf::context *pick_next() noexcept override
    {
        bf::context *c = inner_->pick_next();
        ctx_fiber_switch(c ? properties(c).fiber() : nullptr);
        return c;
    }
    bool has_ready_fibers() const noexcept override { return inner_->has_ready_fibers(); }
    void suspend_until(std::chrono::steady_clock::time_point const &t) noexcept override
    {
        inner_->suspend_until(t);
    }
    void notify() noexcept override { inner_->notify(); }

  private:
    // Shared with work_stealing's own list of every thread's scheduler
    // (the thieves' victims), which lives until the process exits.
    boost::intrusive_ptr<bf::algo::work_stealing> inner_;
};

static thread_local int worker_index;
static std::atomic<int> left;
static bf::mutex done_mu;
static bf::condition_variable done_cv;

static void handle(int i)
{
    std::string rid = "req-" + std::to_string(i), user = "user-" + std::to_string(i),
                tenant = "tenant-" + std::to_string(i % 3);
    {
        CTX_REQUEST_TRACED(rid.c_str(), user.c_str(), tenant.c_str(), nullptr);
        log_info_kv("request started", LOG_I64("i", i), LOG_I64("worker", worker_index));
        boost::this_fiber::yield();
        {
            CTX_SPAN();
            log_info_kv("query sent", LOG_I64("i", i), LOG_I64("worker", worker_index));
            boost::this_fiber::yield();
            log_info_kv("query done", LOG_I64("i", i), LOG_I64("worker", worker_index));
        }
        boost::this_fiber::yield();
        log_info_kv("request done", LOG_I64("i", i), LOG_I64("worker", worker_index));
    }
    if (--left == 0) {
        std::lock_guard<bf::mutex> lk(done_mu);
        done_cv.notify_all();
    }
}

// Each thread joins the scheduler, then sleeps in its dispatcher (running
// fibers it steals) until every request is done.
static void wait_all()
{
    std::unique_lock<bf::mutex> lk(done_mu);
    done_cv.wait(lk, [] { return left == 0; });
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? std::atoi(argv[1]) : 1000;
    if (n <= 0)
        return 2;
    left = n;
    // work_stealing's constructor waits until all 4 threads have one.
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; t++)
        pool.emplace_back([t] {
            worker_index = t;
            bf::use_scheduling_algorithm<ctx_work_stealing>(threads);
            wait_all();
        });
    bf::use_scheduling_algorithm<ctx_work_stealing>(threads);
    for (int i = 0; i < n; i++)
        bf::fiber(handle, i).detach();
    wait_all();
    for (auto &t : pool)
        t.join();
    log_info("all requests done");
    return 0;
}
