// SPDX-License-Identifier: MIT
//
// C++20 coroutines resumed on a thread pool: each request is a coroutine
// that hops to the pool (co_await pool.schedule()) in the middle of its
// work and resumes on whichever thread takes it, and every record still
// carries its own request's ids.
//
// What makes it work: the task's promise owns a ctx_fiber (a copy of the
// spawner's context), and the one place that resumes a task, resume(),
// switches it in around handle.resume(). A task that hops is handed to the
// pool there too, after its context is switched out: posted from inside
// await_suspend, another thread could resume it (and switch its fiber in)
// while this one still has it in. A coroutine frame is not a stack,
// so the request's scopes are objects here (request_scope, span_scope)
// rather than CTX_REQUEST and CTX_SPAN, which need a block of a function.
//
// Records (tests/test_fiber_examples.c checks them), per request i:
// "request started", "query sent" and "query done" in a child span that
// spans a hop, "request done"; each with field "i", field "worker" (the pool
// thread, 0 to 3) and the request's ids (request_id "req-<i>", user_id
// "user-<i>", tenant_id "tenant-<i mod 3>").
//
// Run: ./coro_pool [requests]   (default 1000; JSON lines on stdout)
#include <atomic>
#include <condition_variable>
#include <coroutine>
#include <cstdlib>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <ctxlog/ctxlog.h>

static thread_local int worker_index = -1;
class pool;

// A task that starts when spawned on a pool and is freed when it ends.
struct task {
    struct promise_type {
        ctx_fiber *fiber = ctx_fiber_new(); // made by the spawner: its context
        pool *next = nullptr;               // where it hops to when it suspends
        ~promise_type() { ctx_fiber_free(fiber); }
        task get_return_object() { return {std::coroutine_handle<promise_type>::from_promise(*this)}; }
        std::suspend_always initial_suspend() noexcept { return {}; }
        std::suspend_always final_suspend() noexcept { return {}; }
        void return_void() {}
        void unhandled_exception() { std::abort(); }
    };
    std::coroutine_handle<promise_type> handle;
};

static void resume(std::coroutine_handle<task::promise_type> h);

class pool {
  public:
    explicit pool(int n)
    {
        for (int t = 0; t < n; t++)
            threads_.emplace_back([this, t] { work(t); });
    }
    ~pool()
    {
        {
            std::lock_guard<std::mutex> lk(mu_);
            stop_ = true;
        }
        cv_.notify_all();
        for (auto &t : threads_)
            t.join();
    }
    void post(std::coroutine_handle<task::promise_type> h)
    {
        {
            std::lock_guard<std::mutex> lk(mu_);
            queue_.push_back(h);
        }
        cv_.notify_one();
    }
    // co_await p.schedule(): go on on one of the pool's threads.
    auto schedule()
    {
        struct awaiter {
            pool *p;
            bool await_ready() const noexcept { return false; }
            void await_suspend(std::coroutine_handle<task::promise_type> h) { h.promise().next = p; }
            void await_resume() const noexcept {}
        };
        return awaiter{this};
    }
    void spawn(task t) { post(t.handle); }

  private:
    void work(int index)
    {
        worker_index = index;
        for (;;) {
            std::unique_lock<std::mutex> lk(mu_);
            cv_.wait(lk, [this] { return stop_ || !queue_.empty(); });
            if (queue_.empty())
                return;
            auto h = queue_.front();
            queue_.pop_front();
            lk.unlock();
            resume(h);
        }
    }
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::coroutine_handle<task::promise_type>> queue_;
    std::vector<std::thread> threads_;
    bool stop_ = false;
};

// The one place a task runs: its context in, the task until it hops or
// ends, the context out; then the task is handed over, or freed.
static void resume(std::coroutine_handle<task::promise_type> h)
{
    ctx_fiber *prev = ctx_fiber_switch(h.promise().fiber);
    h.resume();
    ctx_fiber_switch(prev);
    if (h.done())
        h.destroy();
    else
        std::exchange(h.promise().next, nullptr)->post(h);
}

// The request's ids for as long as the object lives (in the coroutine's frame).
struct request_scope {
    ctx_request_traced r;
    request_scope(const char *rid, const char *user, const char *tenant)
        : r(ctx_request_traced_begin(rid, user, tenant, nullptr))
    {
    }
    ~request_scope() { ctx_request_traced_end(&r); }
};

struct span_scope {
    ctx_trace t = ctx_span_begin();
    ~span_scope() { ctx_trace_end(&t); }
};

static std::atomic<int> left;
static std::mutex done_mu;
static std::condition_variable done_cv;

static task handle(pool &p, int i)
{
    std::string rid = "req-" + std::to_string(i), user = "user-" + std::to_string(i),
                tenant = "tenant-" + std::to_string(i % 3);
    {
        request_scope req(rid.c_str(), user.c_str(), tenant.c_str());
        log_info_kv("request started", LOG_I64("i", i), LOG_I64("worker", worker_index));
        co_await p.schedule();
        {
            span_scope span;
            log_info_kv("query sent", LOG_I64("i", i), LOG_I64("worker", worker_index));
            co_await p.schedule();
            log_info_kv("query done", LOG_I64("i", i), LOG_I64("worker", worker_index));
        }
        co_await p.schedule();
        log_info_kv("request done", LOG_I64("i", i), LOG_I64("worker", worker_index));
    }
    if (--left == 0) {
        std::lock_guard<std::mutex> lk(done_mu);
        done_cv.notify_all();
    }
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? std::atoi(argv[1]) : 1000;
    if (n <= 0)
        return 2;
    left = n;
    {
        pool p(4);
        for (int i = 0; i < n; i++)
            p.spawn(handle(p, i));
        std::unique_lock<std::mutex> lk(done_mu);
        done_cv.wait(lk, [] { return left == 0; });
    }
    log_info("all requests done");
    return 0;
}
