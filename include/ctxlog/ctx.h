/* SPDX-License-Identifier: MIT */
/**
 * @file ctx.h
 * @brief The context store: request-scoped variables that follow the work.
 *
 * Every thread has a *current context*: an immutable, refcounted map from
 * variables (`ctx_var`) to values. `ctx_set` never changes a context in place;
 * it makes a new one (copy-on-write) and makes it current, so a snapshot taken
 * with `ctx_copy` never changes, costs O(1), and can be shared by any number of
 * threads. A context is carried to other threads explicitly (`ctx_run`,
 * `ctx_attach`) or by the helpers built on them (`ctx_thread_create`,
 * `ctx_pool`, `ctx_bind`). A thread started with plain `pthread_create` starts
 * with an empty context.
 *
 * Contexts are nested in *frames*: each thread has a base frame, and `ctx_run`
 * and `ctx_attach` push a new frame with another context as current. What is set
 * inside a frame is discarded when the frame ends.
 *
 * Thread safety: every call here is safe from any thread. Calls that read or
 * change "the current context" act on the calling thread's context only; none
 * of get/set/reset/copy takes a lock shared between threads.
 */
#ifndef CTXLOG_CTX_H
#define CTXLOG_CTX_H

#include <pthread.h>
#include <stdint.h>

#include <ctxlog/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A declared context variable. Lives for the life of the process. */
typedef struct ctx_var ctx_var;

/** An immutable, refcounted snapshot of a context. */
typedef struct ctx_snapshot ctx_snapshot;

/** Flags for ctx_var_new(). */
enum ctx_var_flags {
    /** Stamp the variable on every log record under its name while it is set. */
    CTX_VAR_LOGGED = 1u << 0,
};

/**
 * @brief A handle returned by ctx_set() (and ctx_attach()) to undo it.
 *
 * Returned by value; making one allocates nothing. The members are private.
 * A token may be dropped without being used. A frame keeps at most
 * CTX_UNDO_DEPTH undo records of sets not yet reset; when a new set finds the
 * list full, the oldest record of the variable with the most records goes (or
 * the oldest of all when each variable has one), and its token then gets
 * CTXLOG_ESTALE. A loop that sets a variable and drops the tokens thus never
 * breaks the scopes around it, nor nested scopes of the same variable.
 */
typedef struct ctx_token {
    const void *p_;  /* private: the variable (set) or frame (attach) */
    uint64_t serial_; /* private: unique id of the set or attach */
    uint64_t frame_;  /* private: id of the frame it was made in */
} ctx_token;

/** How many un-reset sets a frame remembers so that their tokens still work. */
#define CTX_UNDO_DEPTH 32

/** Longest value CTX_REQUEST accepts for an id, in bytes. */
#define CTX_ID_MAX 128

/** Length of a UUID in text form, without the terminating NUL. */
#define CTX_UUID_LEN 36

/**
 * @brief Declare (or look up) a context variable.
 * @param name  non-empty, NUL-terminated; copied.
 * @param flags CTX_VAR_LOGGED or 0.
 * @return the variable; the same handle for the same name (the flags of the
 *         first declaration win); NULL if @p name is NULL or empty or memory ran
 *         out. The handle is never freed.
 * Thread safety: safe; takes a registry lock (declarations only).
 */
CTXLOG_API ctx_var *ctx_var_new(const char *name, unsigned flags);

/** @brief The name a variable was declared with. Never NULL for a valid handle. */
CTXLOG_API const char *ctx_var_name(const ctx_var *v);

/** Built-in logged variables `request_id`, `user_id`, `tenant_id`. */
CTXLOG_API ctx_var *ctx_var_request_id(void);
CTXLOG_API ctx_var *ctx_var_user_id(void);
CTXLOG_API ctx_var *ctx_var_tenant_id(void);
#define CTX_REQUEST_ID (ctx_var_request_id())
#define CTX_USER_ID (ctx_var_user_id())
#define CTX_TENANT_ID (ctx_var_tenant_id())

/**
 * Built-in variables of the W3C Trace Context (see CTX_TRACE).
 *
 * Logged: `trace_id` (32 lower-case hex digits), `span_id` (16) and
 * `trace_flags` (2). Declared after the request ids, so records list them
 * right after `tenant_id`, in this order.
 *
 * Not logged: `parent_span_id` (16 hex: the span this one was started from,
 * the incoming header's parent-id or the enclosing CTX_SPAN's span; unset
 * for the root span of a new trace). The log data models of OpenTelemetry
 * and ECS carry no parent on a log record, and stamping it on every record
 * would cost every record its bytes: read it with ctx_get() and log it
 * where the span starts, e.g.
 * `log_info_kv("request received", LOG_STR("parent_span_id", ctx_get(CTX_PARENT_SPAN_ID)))`.
 *
 * They are ordinary variables: ctx_get() reads them, and they follow the
 * context into threads, pools, bound callbacks and async records like any
 * other. Set them through CTX_TRACE / CTX_SPAN; a value set by hand with
 * ctx_set() is logged as it is, but ctx_traceparent() only writes a header
 * from values that form a valid one.
 */
CTXLOG_API ctx_var *ctx_var_trace_id(void);
CTXLOG_API ctx_var *ctx_var_span_id(void);
CTXLOG_API ctx_var *ctx_var_trace_flags(void);
CTXLOG_API ctx_var *ctx_var_parent_span_id(void);
#define CTX_TRACE_ID (ctx_var_trace_id())
#define CTX_SPAN_ID (ctx_var_span_id())
#define CTX_TRACE_FLAGS (ctx_var_trace_flags())
#define CTX_PARENT_SPAN_ID (ctx_var_parent_span_id())

/**
 * @brief Set @p v to a copy of @p value in the calling thread's current context.
 * @param value NUL-terminated string, copied; NULL unsets the variable.
 * @return a token for ctx_reset(). If @p v is NULL or memory runs out, nothing
 *         changes and the token returned makes ctx_reset() fail with CTXLOG_EINVAL.
 * Allocates at most once.
 */
CTXLOG_API ctx_token ctx_set(ctx_var *v, const char *value);

/** @brief Set @p v to a 64-bit integer (logged as a JSON number; ctx_get() gives its decimal text). */
CTXLOG_API ctx_token ctx_set_i64(ctx_var *v, int64_t value);

/**
 * @brief Set @p v to an opaque pointer. Never logged; ctx_get() returns NULL for it.
 * @param release called once with @p ptr when no context holds the value any
 *        more (possibly on another thread); may be NULL.
 */
CTXLOG_API ctx_token ctx_set_ptr(ctx_var *v, void *ptr, void (*release)(void *ptr));

/**
 * @brief Restore the variable of @p t to exactly its value before that ctx_set().
 * @return 0; CTXLOG_ESTALE if the token was already used (or is too old, see
 *         ctx_token); CTXLOG_ECONTEXT if it was made in another context or thread;
 *         CTXLOG_EINVAL if it is not a token of ctx_set(); CTXLOG_ENOMEM.
 * Never aborts. Allocates at most once.
 */
CTXLOG_API int ctx_reset(ctx_token t);

/**
 * @brief The current value of @p v as text, or NULL when unset (or @p v is NULL
 *        or holds a pointer).
 * Lifetime: the string stays valid at least until this thread next changes @p v
 * (a set, reset, or the end of the frame that set it).
 */
CTXLOG_API const char *ctx_get(const ctx_var *v);

/** @brief The current value of @p v as an integer. @return 0, or CTXLOG_EINVAL when unset or not an integer. */
CTXLOG_API int ctx_get_i64(const ctx_var *v, int64_t *out);

/** @brief The current pointer value of @p v, or NULL. Borrowed: valid while the context holds it. */
CTXLOG_API void *ctx_get_ptr(const ctx_var *v);

/**
 * @brief An O(1) immutable snapshot of the calling thread's current context.
 * @return a new reference, never NULL (an empty context is a valid snapshot).
 * Ownership: the caller owns one reference; give it back with ctx_release().
 * Thread safety: the snapshot may be used and released from any thread.
 */
CTXLOG_API ctx_snapshot *ctx_copy(void);

/** @brief Take another reference to @p c (NULL is allowed and returned). */
CTXLOG_API ctx_snapshot *ctx_retain(ctx_snapshot *c);

/**
 * @brief Drop one reference to @p c; NULL is a no-op.
 * Releasing more references than were taken (ctx_copy(), ctx_retain()) is
 * undefined behaviour: the snapshot may be freed while a thread's context
 * or another holder still uses it. Debug builds (without NDEBUG) catch the
 * release that finds no reference left while the snapshot's memory is still
 * there (kept by values other snapshots share) and abort with
 * "ctx_release: snapshot released more often than retained" on stderr; an
 * over-release that frees the snapshot first cannot be caught.
 */
CTXLOG_API void ctx_release(ctx_snapshot *c);

/**
 * @brief Run fn(arg) with @p c as the current context, in a new frame.
 * Whatever fn sets is discarded when it returns; the caller's context is then
 * current again. @p c may be NULL (an empty context). @p c is borrowed.
 */
CTXLOG_API void ctx_run(ctx_snapshot *c, void (*fn)(void *arg), void *arg);

/**
 * @brief Make @p c current in a new frame until ctx_detach() (for event-loop
 *        callbacks, coroutines and fibers that cannot wrap a call in ctx_run).
 * @p c is borrowed (the frame takes its own reference); NULL attaches an empty
 * context. Frames must be detached
 * in reverse order of attaching, on the thread that attached them.
 * @return a token for ctx_detach(); if memory runs out, nothing is attached and
 *         ctx_detach() of the token fails with CTXLOG_EINVAL.
 */
CTXLOG_API ctx_token ctx_attach(ctx_snapshot *c);

/**
 * @brief End the frame made by ctx_attach(), discarding what was set in it.
 * @return 0; CTXLOG_ESTALE if already detached; CTXLOG_ECONTEXT if it is not the
 *         innermost frame of this thread; CTXLOG_EINVAL if @p t is not from ctx_attach().
 */
CTXLOG_API int ctx_detach(ctx_token t);

/**
 * @brief pthread_create() whose new thread starts with a snapshot of the
 *        creator's current context.
 * @return 0 or the error number pthread_create() returned (EAGAIN …), ENOMEM.
 */
CTXLOG_API int ctx_thread_create(pthread_t *out, const pthread_attr_t *attr,
                                 void *(*fn)(void *arg), void *arg);

/** A callback bound to the context current when it was made. */
typedef struct ctx_bound ctx_bound;

/**
 * @brief Capture the current context together with fn and arg, so that any
 *        foreign pool or event loop can run fn in it.
 * @return the binding, or NULL if @p fn is NULL or memory ran out.
 * Ownership: the caller owns it; it is freed by ctx_bound_run() or ctx_bound_free().
 */
CTXLOG_API ctx_bound *ctx_bind(void (*fn)(void *arg), void *arg);

/**
 * @brief Run a binding once in its captured context and free it. The signature
 *        fits `void (*)(void *)` callback slots directly: pass the binding as
 *        the callback argument. NULL is a no-op.
 */
CTXLOG_API void ctx_bound_run(void *bound);

/** @brief Run a binding in its captured context and keep it (for repeating callbacks). */
CTXLOG_API void ctx_bound_call(void *bound);

/** @brief Free a binding without running it. NULL is a no-op. */
CTXLOG_API void ctx_bound_free(ctx_bound *b);

/** A pool of worker threads that run each task in its submitter's context. */
typedef struct ctx_pool ctx_pool;

/**
 * @brief Start a pool of @p nthreads workers (1 to 1024).
 * @return the pool, or NULL if @p nthreads is out of range or resources ran out.
 */
CTXLOG_API ctx_pool *ctx_pool_new(int nthreads);

/**
 * @brief Queue fn(arg); the submitter's current context is captured now and the
 *        task runs in it. A worker starts every task from its captured context
 *        alone: nothing one task set is seen by the next.
 * @return 0; CTXLOG_EINVAL for a NULL pool or fn; CTXLOG_ESTATE once
 *         ctx_pool_free() has begun; CTXLOG_ENOMEM.
 * Thread safety: any thread may submit, including a task of the same pool.
 */
CTXLOG_API int ctx_pool_submit(ctx_pool *p, void (*fn)(void *arg), void *arg);

/**
 * @brief Run every task already queued, join the workers, free the pool.
 * Must not be called from one of the pool's own tasks. NULL is a no-op.
 */
CTXLOG_API void ctx_pool_free(ctx_pool *p);

/**
 * @brief Write a fresh time-ordered UUIDv7 (RFC 9562) as 36 lowercase hex
 *        characters and dashes plus a NUL into @p out.
 * Ids made by one thread are strictly increasing.
 */
CTXLOG_API void ctx_uuid7(char out[CTX_UUID_LEN + 1]);

/* ---- coroutines and fibers ------------------------------------------------ */

/**
 * A task's own context state, for coroutines and fibers (ucontext
 * schedulers, libpcl, Boost.Fiber, C++20 coroutines): its current context,
 * its frames (ctx_run, ctx_attach) and the undo records its tokens refer
 * to. Each task owns one, as an asyncio task or a greenlet owns its
 * context; a scheduler switches it in when it resumes the task and out when
 * the task yields (README "Coroutines and fibers").
 *
 * While a fiber is switched in, it *is* the thread's context: ctx_get(),
 * ctx_set(), scopes, records, and the threads, pool tasks and bound
 * callbacks started from it all see the fiber's context, and the thread's
 * own state waits, untouched, until ctx_fiber_switch(NULL). What the
 * logging calls keep per thread (the level floor the macros test, the
 * cached encoding of the last context) is refreshed or keyed by context at
 * each switch, so no record is stamped or filtered by another task's state.
 */
typedef struct ctx_fiber ctx_fiber;

/**
 * @brief A new task state whose context starts as a snapshot of the
 *        caller's current context (as asyncio.create_task copies it).
 * @return the fiber, owned by the caller (ctx_fiber_free()); NULL when
 *         memory ran out. About 1 KiB (see README).
 * Thread safety: any thread; the fiber is not switched in anywhere yet.
 */
CTXLOG_API ctx_fiber *ctx_fiber_new(void);

/**
 * @brief Make @p f the calling thread's context state, and return the one
 *        it replaced, so that the scheduler can switch back with it.
 * @param f the fiber to switch in, or NULL for the thread's own state.
 * @return the fiber that was switched in before, or NULL when it was the
 *         thread's own state.
 * A token made while @p f is current resets correctly whenever @p f is
 * current again, on any thread; used while another state is current it
 * returns CTXLOG_ECONTEXT and changes nothing.
 * Cost: O(1), a few stores: no allocation, no lock, no system call.
 * Thread safety: a fiber is current on at most one thread at a time and
 * may be switched in on any thread (M:N schedulers): switch it out on one
 * thread before switching it in on another, with the scheduler's own
 * hand-over (queue, lock) in between. Switching in a fiber that is current
 * on another thread is a bug (Debug builds abort). A thread must switch
 * back to its own state (NULL) before it exits; one that does not lets go
 * of the fiber at exit (if it had used the context store itself).
 * Calls that run a function in a frame (ctx_run(), ctx_bound_run(), pool
 * tasks) must return with the state current that they found: switch
 * fibers around them, not inside them without switching back.
 */
CTXLOG_API ctx_fiber *ctx_fiber_switch(ctx_fiber *f);

/**
 * @brief Discard what @p f set, release its contexts, and free it.
 * A coroutine that ends in the middle of a ctx_run() frame keeps that
 * frame on its own stack: free its fiber before its stack.
 * @return 0 (NULL is a no-op); CTXLOG_EBUSY, with nothing done, while @p f
 *         is switched in on a thread.
 */
CTXLOG_API int ctx_fiber_free(ctx_fiber *f);

#if defined(__cplusplus)
#define CTXLOG_TLS thread_local
#else
#define CTXLOG_TLS _Thread_local
#endif

/**
 * Private: the per-context log level floor of the calling thread's current
 * context (see log_context_level(), and log_context_replay() in policy.h,
 * whose kept level lowers it too); INT_MAX-like when none is in force. Kept
 * up to date by the context store whenever the current context changes, so
 * the logging macros can test it with one load.
 */
extern CTXLOG_API CTXLOG_TLS int ctx__level_floor __attribute__((tls_model("initial-exec")));

/**
 * Private: the serial of the calling thread's current context (unique in
 * the process; 1: the empty one), kept up to date as ctx__level_floor is,
 * so that the logging macros can tell with one load whether the context is
 * still the one the thread's lane was left with (log.h).
 */
extern CTXLOG_API CTXLOG_TLS uint64_t ctx__serial __attribute__((tls_model("initial-exec")));

/**
 * Private: ctx__level_floor of the thread running the caller *now*. A task
 * that yields on one thread and resumes on another (ctx_fiber) must not
 * read the first thread's floor after the resume: code inlined into the
 * task's function may not keep a thread-local address across a call
 * (LLVM issue 98479). On x86-64 the load goes through the %fs segment at
 * that access, written out (CTX__TLS_LOAD32), so that no compiler keeps the
 * thread's address, not even one that instruments memory accesses (the
 * sanitizers); elsewhere the thread pointer is a register the compiler may
 * read once and keep across calls, so the library reads it.
 */
CTXLOG_API int ctx__level_floor_get(void);
#if defined(__x86_64__) && defined(__GNUC__)
/* Private: the calling thread's `var`, an initial-exec thread-local
 * variable of the library of 4 bytes (CTX__TLS_LOAD32: an int) or 8 bytes
 * (CTX__TLS_LOAD64: of type `type`), read at this point through %fs. */
#define CTX__TLS_LOAD_(type, mov, var)                                            \
    __extension__({                                                               \
        type ctx__v_;                                                             \
        uint64_t ctx__off_;                                                       \
        __asm__ volatile("movq " #var "@gottpoff(%%rip), %1\n\t" mov             \
                         " %%fs:(%1), %0"                                         \
                         : "=r"(ctx__v_), "=&r"(ctx__off_));                      \
        ctx__v_;                                                                  \
    })
#define CTX__TLS_LOAD32(var) CTX__TLS_LOAD_(int, "movl", var)
#define CTX__TLS_LOAD64(type, var) CTX__TLS_LOAD_(type, "movq", var)
#define CTX__LEVEL_FLOOR() CTX__TLS_LOAD32(ctx__level_floor)
#else
#define CTX__LEVEL_FLOOR() (ctx__level_floor_get())
#endif

/** Scope guard used by CTX_SCOPE. */
CTXLOG_API void ctx__scope_exit(ctx_token *t);

#define CTX__CAT2(a, b) a##b
#define CTX__CAT(a, b) CTX__CAT2(a, b)
#define CTX__UNIQ(prefix) CTX__CAT(prefix, __COUNTER__)

/**
 * @brief Set @p var to @p value (a string) for the rest of the enclosing block;
 *        it is reset on every way out of the block (`return`, `break`, `goto`).
 * Several CTX_SCOPEs in one block reset in reverse order. Needs GCC or Clang
 * (`__attribute__((cleanup))`).
 */
#define CTX_SCOPE(var, value)                                                  \
    __attribute__((cleanup(ctx__scope_exit), unused)) ctx_token CTX__UNIQ(ctx__scope_) = \
        ctx_set((var), (value))

/** The three tokens of a request scope (see CTX_REQUEST). Members are private. */
typedef struct ctx_request {
    ctx_token request_id_, user_id_, tenant_id_;
} ctx_request;

/**
 * @brief Set request_id, user_id and tenant_id (what CTX_REQUEST does, as a call).
 * A NULL or empty @p request_id is replaced by a fresh UUIDv7. An id longer
 * than CTX_ID_MAX bytes, or holding a control character or invalid UTF-8, is
 * rejected: a rejected request_id is replaced by a fresh UUIDv7, a rejected
 * (or NULL) user_id or tenant_id is unset for the scope, even if an outer
 * scope had set it. Nothing rejected is ever stored or logged.
 * @return the tokens; undo them with ctx_request_end().
 */
CTXLOG_API ctx_request ctx_request_begin(const char *request_id, const char *user_id,
                                         const char *tenant_id);

/** @brief Undo ctx_request_begin(): reset the three ids in reverse order. */
CTXLOG_API void ctx_request_end(ctx_request *r);

/**
 * @brief Whether @p id would be accepted by CTX_REQUEST as it is (non-empty, at
 *        most CTX_ID_MAX bytes, valid UTF-8, no control characters).
 */
CTXLOG_API int ctx_id_valid(const char *id);

/**
 * @brief The request-entry helper: sets the three ids like ctx_request_begin()
 *        for the rest of the enclosing block, scoped like CTX_SCOPE.
 */
#define CTX_REQUEST(request_id, user_id, tenant_id)                               \
    __attribute__((cleanup(ctx_request_end), unused)) ctx_request CTX__UNIQ(ctx__req_) = \
        ctx_request_begin((request_id), (user_id), (tenant_id))

/* ---- W3C Trace Context ---------------------------------------------------- */

/** Length of a version-00 `traceparent` header value, without the NUL. */
#define CTX_TRACEPARENT_LEN 55
/** Length of a trace id in hex, without the NUL. */
#define CTX_TRACE_ID_LEN 32
/** Length of a span id in hex, without the NUL. */
#define CTX_SPAN_ID_LEN 16

/**
 * The tokens of a trace scope (CTX_TRACE, CTX_SPAN, ctx_trace_begin()).
 * Returned by value, owns nothing; members are private.
 */
typedef struct ctx_trace {
    ctx_token trace_id_, trace_flags_, span_id_, parent_span_id_;
} ctx_trace;

/**
 * @brief Whether @p traceparent is a header ctx_trace_begin() would continue,
 *        by the rules of the W3C Trace Context recommendation.
 *
 * Valid: `vv-<32 hex trace-id>-<16 hex parent-id>-<2 hex flags>`, lower-case
 * hex only, dashes exactly there, neither id all zeros, version not `ff`.
 * Version `00` must end right after the flags (exactly 55 bytes: no trailing
 * whitespace, no extra field). A later version is read by its first four
 * fields: it may go on after the flags, but only with a `-`. At most 56
 * bytes of @p traceparent are read, whatever its length.
 * @return 1 when valid, 0 otherwise (NULL included).
 * Thread safety: pure; any thread.
 */
CTXLOG_API int ctx_traceparent_valid(const char *traceparent);

/**
 * @brief Enter a trace: continue the one an incoming `traceparent` header
 *        names, or start a new one (what CTX_TRACE does, as a call).
 *
 * A valid @p traceparent (see ctx_traceparent_valid()) continues its trace:
 * `trace_id` and `trace_flags` are the header's (the flags as received),
 * `span_id` a fresh random id, and `parent_span_id` the header's parent-id.
 * NULL or an invalid header starts a new trace: a random non-zero 128-bit
 * `trace_id`, a random non-zero 64-bit `span_id`, `trace_flags` `01`
 * (sampled), and `parent_span_id` unset for the scope. Nothing of an invalid
 * header is stored or logged. Ids come from a per-thread generator seeded
 * from getrandom(2) (reseeded in a forked child).
 *
 * `tracestate` is not read: ctxlog neither stores nor logs it. A service
 * that forwards it passes the incoming `tracestate` on unchanged, and drops
 * it when ctx_traceparent_valid() said the `traceparent` was invalid, as
 * the recommendation asks.
 * @return the tokens; undo them with ctx_trace_end(). If memory runs out
 *         some variables may be left as they were; ctx_trace_end() still
 *         undoes what was set.
 * Allocates what ctx_set() does for each variable set (at most four).
 */
CTXLOG_API ctx_trace ctx_trace_begin(const char *traceparent);

/**
 * @brief Begin a child span of the current trace: a fresh `span_id`, the
 *        current span as `parent_span_id`, the same `trace_id` and
 *        `trace_flags` (what CTX_SPAN does, as a call). When no trace is set
 *        (or the trace variables do not form a valid one), it starts a new
 *        trace as ctx_trace_begin(NULL) does.
 * @return the tokens; undo them with ctx_trace_end().
 */
CTXLOG_API ctx_trace ctx_span_begin(void);

/**
 * @brief Undo ctx_trace_begin() or ctx_span_begin(): the trace variables get
 *        back the values they had before, in reverse order. NULL is a no-op.
 * Must run in the frame (thread, ctx_run, ctx_attach) that began it.
 */
CTXLOG_API void ctx_trace_end(ctx_trace *t);

/**
 * @brief Write the outgoing `traceparent` header of the current context:
 *        `00-<trace_id>-<span_id>-<trace_flags>` and a NUL, into @p out.
 *
 * The current span is the parent-id the callee will see. No allocation.
 * @param[out] out room for CTX_TRACEPARENT_LEN + 1 bytes; on error it holds "".
 * @return 0; CTXLOG_ESTATE when no trace is set (or the trace variables,
 *         set by hand, do not form a valid header); CTXLOG_EINVAL when
 *         @p out is NULL.
 */
CTXLOG_API int ctx_traceparent(char out[CTX_TRACEPARENT_LEN + 1]);

/**
 * @brief Continue or start a trace for the rest of the enclosing block, from
 *        an incoming `traceparent` header value (NULL when the request had
 *        none); scoped like CTX_SCOPE. See ctx_trace_begin().
 */
#define CTX_TRACE(traceparent)                                                    \
    __attribute__((cleanup(ctx_trace_end), unused)) ctx_trace CTX__UNIQ(ctx__trace_) = \
        ctx_trace_begin((traceparent))

/**
 * @brief A child span for the rest of the enclosing block: fresh `span_id`,
 *        same trace, the enclosing span restored when the block is left.
 *        Starts a new trace when none is set. See ctx_span_begin().
 */
#define CTX_SPAN()                                                                \
    __attribute__((cleanup(ctx_trace_end), unused)) ctx_trace CTX__UNIQ(ctx__span_) = \
        ctx_span_begin()

/** The tokens of CTX_REQUEST_TRACED. Members are private. */
typedef struct ctx_request_traced {
    ctx_request request_;
    ctx_trace trace_;
} ctx_request_traced;

/**
 * @brief ctx_request_begin() then ctx_trace_begin(), as one call.
 * @return the tokens; undo them with ctx_request_traced_end().
 */
CTXLOG_API ctx_request_traced ctx_request_traced_begin(const char *request_id,
                                                       const char *user_id,
                                                       const char *tenant_id,
                                                       const char *traceparent);

/** @brief Undo ctx_request_traced_begin(): the trace, then the request ids. NULL is a no-op. */
CTXLOG_API void ctx_request_traced_end(ctx_request_traced *r);

/**
 * @brief CTX_REQUEST and CTX_TRACE in one scope: the request entry point of
 *        a service that takes part in distributed traces.
 */
#define CTX_REQUEST_TRACED(request_id, user_id, tenant_id, traceparent)          \
    __attribute__((cleanup(ctx_request_traced_end), unused))                      \
    ctx_request_traced CTX__UNIQ(ctx__reqt_) =                                    \
        ctx_request_traced_begin((request_id), (user_id), (tenant_id), (traceparent))

#ifdef __cplusplus
}
#endif

#endif /* CTXLOG_CTX_H */
