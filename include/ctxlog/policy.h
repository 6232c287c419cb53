/* SPDX-License-Identifier: MIT */
/**
 * @file policy.h
 * @brief Which records are written: replay on error, sampling by request,
 *        burst limits per call site (README "Replay, sampling and limits").
 *
 * Order of the decisions for a record that passed the level test: a record
 * the loggers would write, unless its request is sampled out, is written
 * (subject to the burst limit of its call site); else, when its request keeps
 * records for replay at its level, it is kept; else it is dropped.
 *
 * Thread safety: every call here is safe from any thread, concurrently with
 * logging. The configuration calls take effect for the records that start
 * after they return.
 */
#ifndef CTXLOG_POLICY_H
#define CTXLOG_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include <ctxlog/common.h>
#include <ctxlog/ctx.h>
#include <ctxlog/log.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- replay on error ---------------------------------------------------------- */

/**
 * @brief Keep, for the current context, the records at @p level and above
 *        that the loggers would not write (below their level, or sampled
 *        out), and write them when the request logs an error.
 *
 * The kept records are formatted at once (JSON, with the options of the
 * first sink of the record's logger that writes JSON lines; a logger with
 * none keeps nothing) into one buffer that belongs to the context: every
 * thread (ctx_thread_create), pool task (ctx_pool) and bound callback
 * (ctx_bind) that inherits the context keeps into the same buffer. When any
 * record at error or above is written in that context, the kept records are
 * written first, in the order they were kept, each with the member
 * `"replayed":true` (a user field named "replayed" is renamed, see README
 * "Key collisions"), to the sinks of the error's logger that write JSON
 * lines: stdout, stderr, file and custom (log_sink_custom()) sinks with a
 * JSON formatter (sinks with another formatter, callback sinks, and the
 * journald and syslog sinks get no replay); then the error. The buffer is
 * then empty and keeps again.
 *
 * Bounded: the buffer holds at most @p max_bytes of formatted records; past
 * it the oldest records go, counted, and a replay that lost some starts with
 * one record `{"msg":"replay: older records dropped","replayed":true,
 * "replay_dropped":N}` at the error's level. A record longer than
 * @p max_bytes is dropped (counted the same way).
 *
 * When the last snapshot of the context is released (the request ended: the
 * token reset, every copy, task and bound callback done), the kept records
 * are discarded, and the memory freed.
 *
 * Cost: a context without replay pays nothing. With replay, a record below
 * the loggers' level is formatted and copied into the buffer under the
 * buffer's own lock (one per request).
 *
 * A replay started inside another one replaces it until its token is reset:
 * the inner scope keeps into (and an error there replays) its own buffer.
 *
 * @param level LOG_LEVEL_TRACE … LOG_LEVEL_WARN: the lowest level kept.
 * @param max_bytes 256 … 1 GiB.
 * @return a token; ctx_reset() ends the replay for this context (records
 *         already kept stay with the snapshots that still hold the buffer).
 *         A zero token (ctx_reset() then returns CTXLOG_EINVAL) when an
 *         argument is out of range or memory ran out: nothing is kept then.
 */
CTXLOG_API ctx_token log_context_replay(log_level level, size_t max_bytes);

/** log_context_replay() for the rest of the enclosing block. */
#define LOG_CONTEXT_REPLAY(level, max_bytes)                                       \
    __attribute__((cleanup(ctx__scope_exit), unused)) ctx_token CTX__UNIQ(log__rpl_) = \
        log_context_replay((level), (max_bytes))

/**
 * @brief Set the level and the bound that log_context_replay_default() uses
 *        (the configuration file's "replay" object sets the same).
 * @param level the lowest level kept, LOG_LEVEL_TRACE … LOG_LEVEL_WARN; or
 *        LOG_LEVEL_OFF: log_context_replay_default() does nothing (the
 *        default until this is called).
 * @param max_bytes 256 … 1 GiB (ignored with LOG_LEVEL_OFF).
 * @return 0 or CTXLOG_EINVAL (nothing changed).
 */
CTXLOG_API int log_replay_defaults_set(log_level level, size_t max_bytes);

/**
 * @brief log_context_replay() with the defaults of log_replay_defaults_set()
 *        or of the configuration file: a request entry point calls it, the
 *        configuration decides whether it keeps anything.
 * @return as log_context_replay(); a zero token when the defaults are off.
 */
CTXLOG_API ctx_token log_context_replay_default(void);

/** log_context_replay_default() for the rest of the enclosing block. */
#define LOG_CONTEXT_REPLAY_DEFAULT()                                               \
    __attribute__((cleanup(ctx__scope_exit), unused)) ctx_token CTX__UNIQ(log__rpl_) = \
        log_context_replay_default()

/** Counters of the replay buffers of the whole process. */
typedef struct log_replay_stats {
    uint64_t buffers;      /**< replay buffers alive now */
    uint64_t bytes;        /**< bytes their records' storage takes now */
    uint64_t peak_bytes;   /**< the most `bytes` has been */
    uint64_t peak_buffer;  /**< the most bytes one buffer's storage has taken */
    uint64_t kept;         /**< records kept */
    uint64_t replayed;     /**< kept records written by a replay */
    uint64_t dropped;      /**< kept records dropped: past a buffer's max_bytes, out
                            *   of memory, or when an error's route had no sink
                            *   that takes a replay (the sinks changed since) */
    uint64_t discarded;    /**< kept records discarded when their request ended */
} log_replay_stats;

/**
 * @brief The counters so far (each read atomically, not all at one instant).
 * Every kept record is, in the end, replayed, dropped, discarded, or still
 * in a live buffer, whatever configuration changes happen meanwhile: every
 * reading has kept >= replayed + dropped + discarded, the difference being
 * the records in live buffers (or being replayed now); with no buffer alive
 * and no replay under way they are equal. @p out NULL does nothing.
 */
CTXLOG_API void log_replay_stats_get(log_replay_stats *out);

/* ---- sampling by request -------------------------------------------------------- */

/**
 * @brief Write the records below @p below of only a fraction @p ratio of the
 *        requests, chosen by their id, whole.
 *
 * A request's id is its trace_id when set, else its request_id. Its hash is
 * FNV-1a 64 of the id's bytes followed by MurmurHash3's 64-bit finalizer
 * (fmix64: h ^= h >> 33; h *= 0xff51afd7ed558ccd; h ^= h >> 33;
 * h *= 0xc4ceb9fe1a85ec53; h ^= h >> 33); the request is kept when the hash
 * is below ratio × 2^64, the product truncated to an integer (see
 * log_sampling_keeps()): the same in every thread and
 * every process, so services sampling at the same ratio keep the same
 * requests, and a higher ratio keeps a superset. A context with neither id
 * is always kept. Records at @p below and above are always written. A
 * sampled-out request that keeps records for replay keeps the ones it does
 * not write.
 *
 * Cost: none while off (ratio 1). On: a hash of the id once per context
 * change in each thread, then a compare per record.
 *
 * Thread safety: may be called from any thread while others log. The ratio
 * and @p below are published together: each record is decided by the
 * setting of one call, never by one call's ratio with another's level.
 *
 * @param ratio 0 … 1; 1 turns sampling off.
 * @param below LOG_LEVEL_DEBUG … LOG_LEVEL_WARN.
 * @return 0 or CTXLOG_EINVAL (NaN or out of range; nothing changed).
 */
CTXLOG_API int log_sampling_set(double ratio, log_level below);

/**
 * @brief Whether a request with id @p id is kept under the current ratio
 *        (1 when sampling is off or @p id is NULL).
 */
CTXLOG_API int log_sampling_keeps(const char *id);

/* ---- burst limits ---------------------------------------------------------------- */

/** A burst limit, the same for every call site (file and line). */
typedef struct log_limits {
    int version;            /**< LOG_LIMITS_VERSION */
    uint32_t first;         /**< records written at the start of each interval, >= 1 */
    uint32_t then_one_in;   /**< then one in this many (the M-th, 2M-th, …), >= 1 */
    uint64_t interval_ns;   /**< the interval, >= 1 ms */
    log_level exempt;       /**< records at this level and above are never
                             *   limited; LOG_LEVEL_OFF: none is exempt */
    /** Optional: the clock in ns (monotonic); NULL: CLOCK_MONOTONIC_COARSE.
     *  Called on every limited record, from any thread. */
    uint64_t (*clock)(void *payload);
    void *payload;          /**< passed to `clock` */
} log_limits;

#define LOG_LIMITS_VERSION 1
/** First 100 per second, then one in 1,000; errors exempt. */
#define LOG_LIMITS_INIT                                                            \
    {LOG_LIMITS_VERSION, 100, 1000, 1000000000ull, LOG_LEVEL_ERROR, NULL, NULL}

/**
 * @brief Limit the records of each call site: in every interval (the clock
 *        divided by interval_ns), the first `first` records of a site are
 *        written, then one in `then_one_in`; the rest are suppressed.
 *
 * After an interval in which a site suppressed records, one record says how
 * many: `{"level":<the site's>, "msg":"records suppressed by the burst
 * limit", "suppressed":N, "limited_file":"…", "limited_line":L}`, written
 * without any request's context, by whichever comes first: the next record
 * of that site in a later interval (just before it), or log_flush() (and so
 * log_shutdown() and the exit) once the clock is past the interval. The
 * written records plus the summaries' counts are exactly the site's records.
 *
 * Lock-free on the logging path (one atomic compare-and-swap per record of
 * a limited site). Up to 4096 call sites are tracked; records of sites
 * past those, of lines past 131071, and of calls without a file are not
 * limited.
 *
 * @param limits NULL turns limits off; copied. Whether they replace limits
 *        or turn them off, the counts of the limits replaced are
 *        summarized under those limits by this call (the summaries still
 *        owed, and those of intervals in progress); the new limits count
 *        from zero.
 * @return 0 or CTXLOG_EINVAL (wrong version, a value out of range; nothing
 *         changed); CTXLOG_ENOMEM; CTXLOG_EBUSY from a sink's operation
 *         (log_sink_ops: the summaries it owes could not be written there).
 */
CTXLOG_API int log_limits_set(const log_limits *limits);

#ifdef __cplusplus
}
#endif

#endif /* CTXLOG_POLICY_H */
