/* SPDX-License-Identifier: MIT */
/**
 * @file log.h
 * @brief Logging calls: levels, printf-style and typed-field records.
 *
 * Every call here works with no setup at all: the first record configures the
 * library from the environment (CTXLOG_LEVEL, CTXLOG_FORMAT, CTXLOG_OUTPUT),
 * and with nothing set it writes JSON lines to stdout at level info.
 *
 * Each record carries every CTX_VAR_LOGGED variable set in the calling thread's
 * current context (see ctx.h), stamped by the context filter.
 *
 * Thread safety: every call in this header is safe from any thread, and may run
 * concurrently with the configuration calls. A record is written by one
 * write(2) call, so records from several threads never interleave.
 *
 * From inside a record (a filter or a callback sink, see sink.h), the calls
 * that replace sinks, filters or the configuration return CTXLOG_EBUSY and
 * change nothing: the record in progress still uses them. Setting a level
 * and log_flush() work there.
 *
 * From inside an operation of a user's sink (log_sink_custom(), see
 * sink.h), which runs under that sink's lock, possibly on the async writer
 * thread, the same calls return CTXLOG_EBUSY, and so do log_flush(),
 * log_reopen(), log_limits_set() and the constructors of sinks that take
 * lines; log_shutdown() does nothing; setting a level works. Each call's
 * documentation says which.
 */
#ifndef CTXLOG_LOG_H
#define CTXLOG_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ctxlog/common.h>
#include <ctxlog/ctx.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Severity levels, in increasing order. (<syslog.h> owns LOG_INFO etc.) */
typedef enum log_level {
    LOG_LEVEL_INHERIT = -1, /**< as a logger's level: follow the parent's */
    LOG_LEVEL_TRACE = 0,
    LOG_LEVEL_DEBUG = 1,
    LOG_LEVEL_INFO = 2,
    LOG_LEVEL_WARN = 3,
    LOG_LEVEL_ERROR = 4,
    LOG_LEVEL_FATAL = 5,
    LOG_LEVEL_OFF = 6, /**< as a threshold: nothing is logged */
} log_level;

struct json_t; /* jansson's json_t */

/** Type of a typed field. */
typedef enum log_field_type {
    LOG_FIELD_STR = 1,
    LOG_FIELD_I64,
    LOG_FIELD_U64,
    LOG_FIELD_F64,
    LOG_FIELD_BOOL,
    LOG_FIELD_JSON,
} log_field_type;

/**
 * @brief One typed key/value of a record. Build them with the LOG_STR … LOG_JSON
 *        macros; the record borrows key and value for the duration of the call.
 */
typedef struct log_field {
    const char *key;
    log_field_type type;
    union {
        const char *s;         /**< LOG_FIELD_STR; NULL is written as JSON null */
        int64_t i64;           /**< LOG_FIELD_I64 */
        uint64_t u64;          /**< LOG_FIELD_U64 */
        double f64;            /**< LOG_FIELD_F64; NaN and ±Inf are written as strings */
        bool b;                /**< LOG_FIELD_BOOL */
        const struct json_t *json; /**< LOG_FIELD_JSON; borrowed, NULL is JSON null */
    } v;
} log_field;

/* Private: what the field macros below expand to. Allocate nothing. */
static inline log_field log__field_str(const char *k, const char *val)
{
    log_field f;
    f.key = k;
    f.type = LOG_FIELD_STR;
    f.v.u64 = 0; /* the whole union set, as an initializer would */
    f.v.s = val;
    return f;
}
static inline log_field log__field_i64(const char *k, int64_t val)
{
    log_field f;
    f.key = k;
    f.type = LOG_FIELD_I64;
    f.v.i64 = val;
    return f;
}
static inline log_field log__field_u64(const char *k, uint64_t val)
{
    log_field f;
    f.key = k;
    f.type = LOG_FIELD_U64;
    f.v.u64 = val;
    return f;
}
static inline log_field log__field_f64(const char *k, double val)
{
    log_field f;
    f.key = k;
    f.type = LOG_FIELD_F64;
    f.v.f64 = val;
    return f;
}
static inline log_field log__field_bool(const char *k, bool val)
{
    log_field f;
    f.key = k;
    f.type = LOG_FIELD_BOOL;
    f.v.u64 = 0; /* the whole union set, as an initializer would */
    f.v.b = val;
    return f;
}
static inline log_field log__field_json(const char *k, const struct json_t *val)
{
    log_field f;
    f.key = k;
    f.type = LOG_FIELD_JSON;
    f.v.u64 = 0; /* the whole union set, as an initializer would */
    f.v.json = val;
    return f;
}

/*
 * Typed-field constructors, in C and C++. They allocate nothing. The value
 * is converted to the macro's type as a function argument is: LOG_I64("ms",
 * 3.7) logs 3, LOG_U64("n", -1) logs 18446744073709551615. LOG_KV picks the
 * type from the value instead.
 */
#define LOG_STR(k, val) log__field_str((k), (val))
#define LOG_I64(k, val) log__field_i64((k), (val))
#define LOG_U64(k, val) log__field_u64((k), (val))
#define LOG_F64(k, val) log__field_f64((k), (val))
#define LOG_BOOL(k, val) log__field_bool((k), (val))
/** A jansson value, serialized compactly. The reference is borrowed, not stolen. */
#define LOG_JSON(k, val) log__field_json((k), (val))

/**
 * @brief A field whose type is that of @p val: `LOG_KV("ms", elapsed)`.
 *
 * - signed integer types (char, signed char, short, int, long, long long and
 *   their typedefs: int64_t, ssize_t …): as LOG_I64;
 * - unsigned integer types (unsigned char … unsigned long long, size_t,
 *   uint64_t …): as LOG_U64;
 * - float, double: as LOG_F64;
 * - bool: as LOG_BOOL;
 * - char *, const char * (and char arrays, string literals): as LOG_STR;
 * - json_t *, const json_t *: as LOG_JSON.
 *
 * Any other type (a struct, long double, void *, another pointer, a NULL
 * constant) does not compile. In C an enum is its integer type; in C++ cast
 * it. In C before C23 `true` and `false` are int constants and log as 1 and
 * 0: pass a bool variable or use LOG_BOOL. @p val is evaluated once.
 * Implemented with C11 _Generic in C, with overloads in C++.
 */
#ifdef __cplusplus
#define LOG_KV(k, val) log__kv_field((k), (val))
#else
#define LOG_KV(k, val)                                                            \
    _Generic((val),                                                               \
        _Bool: log__field_bool,                                                   \
        char: log__field_i64,                                                     \
        signed char: log__field_i64,                                              \
        short: log__field_i64,                                                    \
        int: log__field_i64,                                                      \
        long: log__field_i64,                                                     \
        long long: log__field_i64,                                                \
        unsigned char: log__field_u64,                                            \
        unsigned short: log__field_u64,                                           \
        unsigned int: log__field_u64,                                             \
        unsigned long: log__field_u64,                                            \
        unsigned long long: log__field_u64,                                       \
        float: log__field_f64,                                                    \
        double: log__field_f64,                                                   \
        char *: log__field_str,                                                   \
        const char *: log__field_str,                                             \
        struct json_t *: log__field_json,                                         \
        const struct json_t *: log__field_json)((k), (val))
#endif

#ifdef __cplusplus
extern "C++" {
/* Private: LOG_KV in C++, one overload per type of the list above; the
 * deleted template takes every other type, so that it does not compile. */
inline log_field log__kv_field(const char *k, bool v) { return log__field_bool(k, v); }
inline log_field log__kv_field(const char *k, char v) { return log__field_i64(k, v); }
inline log_field log__kv_field(const char *k, signed char v) { return log__field_i64(k, v); }
inline log_field log__kv_field(const char *k, short v) { return log__field_i64(k, v); }
inline log_field log__kv_field(const char *k, int v) { return log__field_i64(k, v); }
inline log_field log__kv_field(const char *k, long v) { return log__field_i64(k, v); }
inline log_field log__kv_field(const char *k, long long v) { return log__field_i64(k, v); }
inline log_field log__kv_field(const char *k, unsigned char v) { return log__field_u64(k, v); }
inline log_field log__kv_field(const char *k, unsigned short v) { return log__field_u64(k, v); }
inline log_field log__kv_field(const char *k, unsigned int v) { return log__field_u64(k, v); }
inline log_field log__kv_field(const char *k, unsigned long v) { return log__field_u64(k, v); }
inline log_field log__kv_field(const char *k, unsigned long long v) { return log__field_u64(k, v); }
inline log_field log__kv_field(const char *k, float v) { return log__field_f64(k, v); }
inline log_field log__kv_field(const char *k, double v) { return log__field_f64(k, v); }
inline log_field log__kv_field(const char *k, char *v) { return log__field_str(k, v); }
inline log_field log__kv_field(const char *k, const char *v) { return log__field_str(k, v); }
inline log_field log__kv_field(const char *k, struct json_t *v) { return log__field_json(k, v); }
inline log_field log__kv_field(const char *k, const struct json_t *v) { return log__field_json(k, v); }
template <typename T> log_field log__kv_field(const char *k, T v) = delete;
}
#endif

/* ---- configuration --------------------------------------------------------- */

/**
 * @brief Set the level of the root logger (LOG_LEVEL_TRACE … LOG_LEVEL_OFF).
 *        Allocates nothing; works from a filter, a callback sink or a sink's
 *        operation too.
 * @return 0 or CTXLOG_EINVAL.
 */
CTXLOG_API int log_level_set(log_level level);

/** @brief The current threshold of the root logger. */
CTXLOG_API log_level log_level_get(void);

/** @brief Lowercase name of a level ("info"), or NULL when out of range. */
CTXLOG_API const char *log_level_name(log_level level);

/**
 * @brief Parse a level name: trace, debug, info, warn (or warning), error, fatal,
 *        off; case-insensitive. @return 0 or CTXLOG_EINVAL (out untouched).
 */
CTXLOG_API int log_level_parse(const char *name, log_level *out);

/**
 * @brief Send the records to @p where: "stdout", "stderr" or a file path (opened
 *        for append, created with mode 0640).
 * @return 0; CTXLOG_EINVAL for NULL or ""; CTXLOG_ENOENT or CTXLOG_EIO when
 *         the file cannot be opened, as log_sink_file() (the message names
 *         it on stderr and in ctxlog_last_error(), the previous output stays);
 *         CTXLOG_ENOMEM; CTXLOG_EBUSY from a filter, a callback sink or a
 *         sink's operation (the previous output stays).
 */
CTXLOG_API int log_output_set(const char *where);

/**
 * @brief (Re)apply the configuration from the environment: CTXLOG_LEVEL,
 *        CTXLOG_FORMAT (json), CTXLOG_OUTPUT. The first record does this
 *        implicitly. An invalid value is named in one line on stderr and its
 *        default kept; an unwritable CTXLOG_OUTPUT falls back to stderr.
 * @return 0, or CTXLOG_ECONFIG when some value was invalid (the rest applied);
 *         CTXLOG_EBUSY from a filter, a callback sink or a sink's operation
 *         (nothing applied).
 */
CTXLOG_API int log_configure_env(void);

/**
 * @brief Write out everything accepted so far (fsync is not implied). Works
 *        from a filter or a callback sink too; from an operation of a user's
 *        sink (log_sink_ops) it returns CTXLOG_EBUSY and does nothing, since
 *        it would wait for what that operation's thread holds.
 * @return 0; CTXLOG_EIO when the last write to some output failed, in this
 *         flush or before it (those records are lost: counted in
 *         log_dropped_count() and said once on stderr; it is returned until
 *         a write to that output succeeds again or the output is closed),
 *         when the flush operation of a custom sink (log_sink_custom())
 *         failed, or when a journald or syslog sink could not deliver what
 *         it holds or owes (log_sink_journald(), log_sink_syslog(): a
 *         syslog TCP sink connects and sends its queue here);
 *         CTXLOG_EBUSY from a sink's operation.
 */
CTXLOG_API int log_flush(void);

/**
 * @brief Flush and close every output. Runs by itself at exit. A record logged
 *        after it configures the library afresh from the environment.
 *
 * From a filter, a callback sink or a sink's operation (anywhere inside a
 * record on the calling thread) it returns at once and does nothing at
 * all, since the record in progress, or the operation, still uses the
 * outputs: nothing is written out, no sink is closed, no burst-limit
 * summary is written, the configuration stays (the record goes on to its
 * sinks, and later records go to the same ones), and nothing is deferred:
 * call it again outside a record to shut down. When exit() is called from
 * inside a record, the exit handler writes out the sinks' buffers and
 * skips its log_shutdown() in the same way.
 */
CTXLOG_API void log_shutdown(void);

/**
 * @brief Number of records that could not be written (write errors) since start.
 * Each kind of failure is also reported once on stderr.
 */
CTXLOG_API uint64_t log_dropped_count(void);

/**
 * @brief Add @p n records to log_dropped_count(): for a transport of a
 *        user's sink (log_sink_custom()) that keeps records in a queue of
 *        its own after its write took them, and loses some later (a queue
 *        full, a peer that refused them). Saying so on stderr is the
 *        caller's business.
 * Thread safety: any thread, also from a sink's operation; lock-free.
 */
CTXLOG_API void log_dropped_add(uint64_t n);

/**
 * @brief Opt in to writing out, on a fatal signal (SIGSEGV, SIGBUS, SIGILL,
 *        SIGFPE, SIGABRT), the records already formatted but not yet written
 *        (buffered, or queued in async mode), with async-signal-safe calls
 *        only; then the signal goes on to the handler installed before, or
 *        its default action. A record being written at that very moment may
 *        appear twice. Call once, early, from any thread; later calls do
 *        nothing. @return 0, or CTXLOG_EINVAL if sigaction() failed.
 */
CTXLOG_API int log_crash_handler_install(void);

/* ---- named loggers -------------------------------------------------------- */

/**
 * A named logger ("app.db"). Levels are inherited along the dotted hierarchy
 * (app.db inherits from app, app from the root) unless set on the logger.
 * Loggers returned by log_get() live for the life of the process.
 */
typedef struct log_logger log_logger;

/** Private: the head of every logger, read by the logging macros. */
struct log__logger_head {
    const int *gate; /* the effective level (a child logger shares its parent's) */
};

/**
 * @brief The logger named @p name, created on first use.
 * @param name dotted name; NULL, "" and "root" give the root logger.
 * @return the same pointer for the same name; NULL only when out of memory.
 * Thread safety: safe; takes the registry lock (cache the pointer).
 */
CTXLOG_API log_logger *log_get(const char *name);

/** @brief The logger's name ("root" for the root logger). */
CTXLOG_API const char *log_logger_name(const log_logger *lg);

/**
 * @brief Set the level of @p lg, or LOG_LEVEL_INHERIT to follow its parent
 *        (not for the root). Takes effect at once for every thread and for
 *        every descendant that inherits. Allocates nothing; works from a
 *        filter or a callback sink too. @return 0 or CTXLOG_EINVAL.
 */
CTXLOG_API int log_logger_set_level(log_logger *lg, log_level level);

/** @brief The effective level of @p lg (its own, or inherited). */
CTXLOG_API log_level log_logger_level(const log_logger *lg);

/**
 * @brief A child of @p parent that stamps @p fields on every record it emits,
 *        after the context fields and before the call's own fields.
 * Same name, level, sinks and filters as @p parent. The fields are copied
 * (strings duplicated, LOG_JSON values referenced).
 * @return the child, or NULL (bad arguments, out of memory).
 * Ownership: the caller frees it with log_logger_free(), after its last use.
 */
CTXLOG_API log_logger *log_logger_child(log_logger *parent, const log_field *fields, size_t n);

/** @brief Free a logger made by log_logger_child(). NULL and log_get() loggers are ignored. */
CTXLOG_API void log_logger_free(log_logger *child);

/** Make a child with bound fields: `LOG_CHILD(db, LOG_STR("component", "pool"))`.
 *  At least one field. */
#ifdef __cplusplus
extern "C++" {
template <typename... F> inline log_logger *log__child(log_logger *parent, const F &...f)
{
    const log_field fields[] = {f...};
    return log_logger_child(parent, fields, sizeof...(F));
}
}
#define LOG_CHILD(parent, ...) log__child((parent), __VA_ARGS__)
#else
#define LOG_CHILD(parent, ...)                                                   \
    log_logger_child((parent), (const log_field[]){__VA_ARGS__},               \
                     sizeof((const log_field[]){__VA_ARGS__}) / sizeof(log_field))
#endif

/* ---- per-context level ------------------------------------------------------- */

/**
 * @brief Lower the effective level for the current context only: records at
 *        @p level and above are written for this request (and whatever
 *        inherits its context: threads, pool tasks, bound callbacks), whatever
 *        the loggers' levels. Other contexts see no change and keep the cost of
 *        their disabled calls.
 * @return a token; ctx_reset() ends the override. LOG_LEVEL_OFF removes an
 *         override set by an outer scope.
 */
CTXLOG_API ctx_token log_context_level(log_level level);

/** log_context_level() for the rest of the enclosing block. */
#define LOG_CONTEXT_LEVEL(level)                                                   \
    __attribute__((cleanup(ctx__scope_exit), unused)) ctx_token CTX__UNIQ(log__lvl_) = \
        log_context_level(level)

/* ---- logging calls ---------------------------------------------------------- */

/** Private: the root logger's effective level; read by the macros. */
extern CTXLOG_API int log__gate;

/*
 * Which logger plain log_info() etc. use in this source file: define
 * CTXLOG_LOGGER before including this header, e.g.
 *     #define CTXLOG_LOGGER "app.db"
 *     #include <ctxlog/ctxlog.h>
 * Without it they go to the root logger.
 */
#ifdef CTXLOG_LOGGER
static log_logger *log__file_logger_;
static inline log_logger *log__file_logger(void)
{
    log_logger *lg = __atomic_load_n(&log__file_logger_, __ATOMIC_ACQUIRE);
    if (!lg) {
        lg = log_get(CTXLOG_LOGGER);
        __atomic_store_n(&log__file_logger_, lg, __ATOMIC_RELEASE);
    }
    return lg;
}
#define LOG__THIS_LOGGER log__file_logger()
#else
#define LOG__THIS_LOGGER ((log_logger *)0)
#endif

/** Private: whether a call at @p lvl on @p lg passes the cheap test. */
static inline int log__enabled(const log_logger *lg, int lvl)
{
    int gate = __atomic_load_n(lg ? ((const struct log__logger_head *)(const void *)lg)->gate
                                  : &log__gate,
                               __ATOMIC_RELAXED);
    return lvl >= gate || lvl >= CTX__LEVEL_FLOOR();
}

/** Private entry points behind the macros. */
CTXLOG_API void log__printf(log_logger *lg, log_level level, const char *file, int line,
                            const char *func, const char *fmt, ...) CTXLOG_PRINTF(6, 7);
CTXLOG_API void log__kv(log_logger *lg, log_level level, const char *file, int line,
                        const char *func, const char *msg, const log_field *fields,
                        size_t nfields);
/* The same with msg's length (strlen) given: the macros pass it, so that
 * the compiler counts a literal message's bytes once, at compile time. */
CTXLOG_API void log__kv_n(log_logger *lg, log_level level, const char *file, int line,
                          const char *func, const char *msg, size_t msg_len,
                          const log_field *fields, size_t nfields);
/* log__printf() with typed fields: the formatted message, then the fields. */
CTXLOG_API void log__printf_kv(log_logger *lg, log_level level, const char *file, int line,
                               const char *func, const log_field *fields, size_t nfields,
                               const char *fmt, ...) CTXLOG_PRINTF(8, 9);

/*
 * Private: a thread's lane into its async queue (log/base/log_lane.h).
 *
 * In async mode a typed record whose route is the context filter and one
 * JSON sink is captured: its parts are copied into the thread's queue, in
 * the layout below, and the writer encodes them. When the library has
 * queued such a record, it leaves the thread a lane: room in its queue up to
 * the next 4 KiB mark, and what it decided for that record (its logger, the
 * levels that go the same way, the sink, the context whose entry is queued).
 * A later call on the same logger, at a level it serves (below error), under
 * the same context, that fits the room, writes its entry itself and
 * publishes it: it does not call into the library. Any other call goes in,
 * and may leave a lane again. A change to what was decided (a level, a sink,
 * a route, a policy, async mode) moves log__lane_epoch, which shuts every
 * lane; a change that frees a route also waits until no lane is being
 * written (busy).
 *
 * The entry (layout 1): a 16-byte header (sink, payload length, flags 2),
 * then the payload: the stamp (the time-stamp counter), the logger's name,
 * the message's length (32 bits), the fields' number (16), the level (8), a
 * zero byte; per field its value's 8 bytes (a string's length) and its
 * key's length and type (32 bits each); then the message, each key and
 * string value, each with its NUL; padded to 16 bytes. A library that
 * writes another layout exports another lane (log__my_lane2, ...) and keeps
 * log__my_lane1, always NULL, so that a program built against this header
 * keeps working, the usual way.
 */
struct log__lane {
    char *pos;            /* the next entry's place in the queue */
    char *end;            /* the end of the room */
    uint64_t *head;       /* the queue's published bytes (release store) */
    uint64_t count;       /* *head's value at pos */
    const log_logger *lg; /* the logger served, as calls name it (NULL: the root) */
    const char *name;     /* its name */
    const void *sink;     /* the sink its records go to */
    uint64_t serial;      /* the context its last context entry holds (ctx__serial) */
    int level;            /* the lowest level served; LOG__LANE_SHUT: none */
    unsigned epoch;       /* log__lane_epoch when it was left */
    unsigned busy;        /* 1 while a call writes */
    unsigned pad_;
};
#define LOG__LANE_SHUT 0x7fffffff
#define LOG__LANE_FIELDS 16
/** Private: the calling thread's lane (NULL: none yet). */
extern CTXLOG_API CTXLOG_TLS struct log__lane *log__my_lane1
    __attribute__((tls_model("initial-exec")));
/** Private: moved by every change to what lanes were left with. */
extern CTXLOG_API unsigned log__lane_epoch;

/* Private: copy n bytes, few as a rule: in two overlapping loads and
 * stores when 4 <= n <= 16 (no call, no read outside the source), else
 * memcpy. A length known at compile time keeps one of the three. Where the
 * compiler knows the source's size but not n (a literal key when it did
 * not fold its strlen, as under a sanitizer), GCC warns of the branches
 * that n rules out: they never run. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Warray-bounds"
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#if __GNUC__ >= 11
#pragma GCC diagnostic ignored "-Wstringop-overread"
#endif
#endif
static inline __attribute__((always_inline)) void log__bytes_copy(char *d, const char *s,
                                                                  size_t n)
{
    if (n >= 8 && n <= 16) {
        uint64_t a, b;
        __builtin_memcpy(&a, s, 8);
        __builtin_memcpy(&b, s + n - 8, 8);
        __builtin_memcpy(d, &a, 8);
        __builtin_memcpy(d + n - 8, &b, 8);
    } else if (n >= 4 && n < 8) {
        uint32_t a, b;
        __builtin_memcpy(&a, s, 4);
        __builtin_memcpy(&b, s + n - 4, 4);
        __builtin_memcpy(d, &a, 4);
        __builtin_memcpy(d + n - 4, &b, 4);
    } else {
        __builtin_memcpy(d, s, n);
    }
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

/* Private: write a captured record's entry at p (16-byte aligned, room for
 * `need` bytes, log__entry_size): the one writer of layout 1, used by the
 * lane and by the library. kl[i] and sl[i] are the keys' and string
 * values' lengths. */
static inline __attribute__((always_inline)) void
log__entry_write(char *p, size_t need, const void *sink, uint64_t stamp, const char *name,
                 int level, const char *msg, size_t msg_len, const log_field *f, size_t n,
                 const size_t *kl, const size_t *sl)
{
    uint32_t len = (uint32_t)(need - 16), flags = 2, ml = (uint32_t)msg_len;
    uint16_t nn = (uint16_t)n;
    uint8_t lv = (uint8_t)level, zero = 0;
    __builtin_memcpy(p, &sink, 8);
    __builtin_memcpy(p + 8, &len, 4);
    __builtin_memcpy(p + 12, &flags, 4);
    __builtin_memcpy(p + 16, &stamp, 8);
    __builtin_memcpy(p + 24, &name, 8);
    __builtin_memcpy(p + 32, &ml, 4);
    __builtin_memcpy(p + 36, &nn, 2);
    __builtin_memcpy(p + 38, &lv, 1);
    __builtin_memcpy(p + 39, &zero, 1);
    char *cf = p + 40;
    char *b = cf + 16 * n;
    log__bytes_copy(b, msg, msg_len);
    b[msg_len] = '\0';
    b += msg_len + 1;
    for (size_t i = 0; i < n; i++) {
        uint32_t k = (uint32_t)kl[i], t = (uint32_t)f[i].type;
        uint64_t v;
        log__bytes_copy(b, f[i].key, kl[i] + 1);
        b += kl[i] + 1;
        if (f[i].type == LOG_FIELD_STR) {
            log__bytes_copy(b, f[i].v.s, sl[i] + 1);
            b += sl[i] + 1;
            v = sl[i];
        } else {
            __builtin_memcpy(&v, &f[i].v, 8);
        }
        __builtin_memcpy(cf + 16 * i, &v, 8);
        __builtin_memcpy(cf + 16 * i + 8, &k, 4);
        __builtin_memcpy(cf + 16 * i + 12, &t, 4);
    }
}

/* Private: whether a captured record can hold f[0, n), and what its keys
 * and string values take: their lengths in kl[i] and sl[i], and the bytes
 * of the message (msg_len) and of them, NULs included. (size_t)-1 for a
 * NULL key or string or a LOG_JSON field (those records are made the usual
 * way). The one test of a record's fields, for the lane and the library. */
static inline __attribute__((always_inline)) size_t
log__entry_measure(size_t msg_len, const log_field *f, size_t n, size_t *kl, size_t *sl)
{
    size_t bytes = msg_len + 1;
    for (size_t i = 0; i < n; i++) {
        if (!f[i].key || f[i].type == LOG_FIELD_JSON ||
            (f[i].type == LOG_FIELD_STR && !f[i].v.s))
            return (size_t)-1;
        kl[i] = __builtin_strlen(f[i].key);
        sl[i] = f[i].type == LOG_FIELD_STR ? __builtin_strlen(f[i].v.s) : 0;
        bytes += kl[i] + 1 + (f[i].type == LOG_FIELD_STR ? sl[i] + 1 : 0);
    }
    return bytes;
}

/* Private: the bytes of a layout-1 entry whose message, keys and strings
 * take `bytes` (NULs included) with n fields. */
static inline size_t log__entry_size(size_t n, size_t bytes)
{
    return 16 + ((24 + 16 * n + bytes + 15) & ~(size_t)15);
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(CTXLOG_NO_LANE)
/* Private: the record through the thread's lane; 0 when it must go in. A
 * NULL message or key, a NULL string or a LOG_JSON field go in. */
static inline __attribute__((always_inline)) int log__lane_put(const log_logger *lg, int level,
                                                              const char *msg, size_t msg_len,
                                                              const log_field *f, size_t n)
{
    /* Thread-local variables read through %fs where they are used (see
     * CTX__LEVEL_FLOOR): a task may resume on another thread. */
    struct log__lane *L = CTX__TLS_LOAD64(struct log__lane *, log__my_lane1);
    if (!L || !msg || n > LOG__LANE_FIELDS || level >= LOG_LEVEL_ERROR)
        return 0;
    size_t kl[LOG__LANE_FIELDS], sl[LOG__LANE_FIELDS];
    size_t bytes = log__entry_measure(msg_len, f, n, kl, sl);
    if (bytes == (size_t)-1)
        return 0;
    size_t need = log__entry_size(n, bytes);
    if (level < L->level || L->lg != lg || need > (size_t)(L->end - L->pos) ||
        L->serial != CTX__TLS_LOAD64(uint64_t, ctx__serial))
        return 0;
    /* Busy before the epoch is read: a change that moved it and then
     * waits (after a process-wide barrier) sees this call, or this call
     * sees the change. */
    __atomic_store_n(&L->busy, 1, __ATOMIC_RELAXED);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    if (L->epoch != __atomic_load_n(&log__lane_epoch, __ATOMIC_RELAXED)) {
        __atomic_store_n(&L->busy, 0, __ATOMIC_RELEASE);
        return 0;
    }
    char *p = L->pos;
    log__entry_write(p, need, L->sink, __builtin_ia32_rdtsc(), L->name, level, msg, msg_len,
                     f, n, kl, sl);
    L->pos = p + need;
    L->count += need;
    __atomic_store_n(L->head, L->count, __ATOMIC_RELEASE);
    __atomic_store_n(&L->busy, 0, __ATOMIC_RELEASE);
    return 1;
}
#define LOG__LANE_PUT(lg, lvl, msg, len, f, n) log__lane_put((lg), (lvl), (msg), (len), (f), (n))
#else
#define LOG__LANE_PUT(lg, lvl, msg, len, f, n) 0
#endif

/* Private: `1` for one argument, `M` for 2 to 64: the field macros below
 * pick their expansion by it, so that a call with no field uses no empty
 * variadic argument nor an empty array (which the C and C++ compilers treat
 * differently). */
#define LOG__ARG65(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, \
                   a17, a18, a19, a20, a21, a22, a23, a24, a25, a26, a27, a28, a29, a30,   \
                   a31, a32, a33, a34, a35, a36, a37, a38, a39, a40, a41, a42, a43, a44,   \
                   a45, a46, a47, a48, a49, a50, a51, a52, a53, a54, a55, a56, a57, a58,   \
                   a59, a60, a61, a62, a63, a64, n, ...)                                  \
    n
#define LOG__ONE_OR_MANY(...)                                                     \
    LOG__ARG65(__VA_ARGS__, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, \
               M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, \
               M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, 1, 0)
#define LOG__UNPAREN(...) __VA_ARGS__

/**
 * @brief Log a printf-formatted message at @p lvl to logger @p lg (NULL: the
 *        root). The format is checked by the compiler; when the level is
 *        disabled the arguments are not evaluated.
 */
#define log_to(lg, lvl, ...)                                                      \
    do {                                                                          \
        log_logger *log__lg_ = (lg);                                              \
        if (log__enabled(log__lg_, (lvl)))                                        \
            log__printf(log__lg_, (lvl), __FILE__, __LINE__, __func__, __VA_ARGS__); \
    } while (0)

/**
 * @brief Log @p msg (a plain string, not a format) with typed fields to @p lg,
 *        e.g. `log_to_kv(db, LOG_LEVEL_INFO, "login", LOG_STR("method", m))`.
 * From 0 to 63 fields; with none it logs @p msg alone (in C and C++, with
 * every compiler). Neither @p msg nor the fields are evaluated when the level
 * is disabled. A NULL @p msg is logged as "".
 */
#define log_to_kv(lg, lvl, ...)                                                   \
    CTX__CAT(log__to_kv_, LOG__ONE_OR_MANY(__VA_ARGS__))((lg), (lvl), __VA_ARGS__)
#define log__to_kv_1(lg, lvl, msg)                                                \
    do {                                                                          \
        log_logger *log__lg_ = (lg);                                              \
        if (log__enabled(log__lg_, (lvl))) {                                      \
            const char *log__msg_ = (msg);                                        \
            size_t log__len_ = log__msg_ ? __builtin_strlen(log__msg_) : 0;       \
            if (!LOG__LANE_PUT(log__lg_, (lvl), log__msg_, log__len_,             \
                               (const log_field *)0, 0))                          \
                log__kv_n(log__lg_, (lvl), __FILE__, __LINE__, __func__,          \
                          log__msg_, log__len_, (const log_field *)0, 0);         \
        }                                                                         \
    } while (0)
#define log__to_kv_M(lg, lvl, msg, ...)                                           \
    do {                                                                          \
        log_logger *log__lg_ = (lg);                                              \
        if (log__enabled(log__lg_, (lvl))) {                                      \
            const char *log__msg_ = (msg);                                        \
            const log_field log__fields_[] = {__VA_ARGS__};                       \
            size_t log__len_ = log__msg_ ? __builtin_strlen(log__msg_) : 0;       \
            size_t log__n_ = sizeof log__fields_ / sizeof log__fields_[0];        \
            if (!LOG__LANE_PUT(log__lg_, (lvl), log__msg_, log__len_,             \
                               log__fields_, log__n_))                            \
                log__kv_n(log__lg_, (lvl), __FILE__, __LINE__, __func__,          \
                          log__msg_, log__len_, log__fields_, log__n_);           \
        }                                                                         \
    } while (0)

/**
 * @brief Log a printf-formatted message with typed fields to @p lg: the
 *        format and its arguments in parentheses, then the fields, e.g.
 *        `log_to_kvf(db, LOG_LEVEL_INFO, ("took %d ms", ms), LOG_KV("ms", ms))`.
 * The format is checked by the compiler like printf's (-Wformat). From 0 to
 * 63 fields. When the level is disabled neither the format arguments nor the
 * fields are evaluated. The message is formatted as log_to() formats it.
 */
#define log_to_kvf(lg, lvl, ...)                                                  \
    CTX__CAT(log__to_kvf_, LOG__ONE_OR_MANY(__VA_ARGS__))((lg), (lvl), __VA_ARGS__)
#define log__to_kvf_1(lg, lvl, fmt_args)                                          \
    do {                                                                          \
        log_logger *log__lg_ = (lg);                                              \
        if (log__enabled(log__lg_, (lvl)))                                        \
            log__printf_kv(log__lg_, (lvl), __FILE__, __LINE__, __func__,         \
                           (const log_field *)0, 0, LOG__UNPAREN fmt_args);        \
    } while (0)
#define log__to_kvf_M(lg, lvl, fmt_args, ...)                                     \
    do {                                                                          \
        log_logger *log__lg_ = (lg);                                              \
        if (log__enabled(log__lg_, (lvl))) {                                      \
            const log_field log__fields_[] = {__VA_ARGS__};                       \
            log__printf_kv(log__lg_, (lvl), __FILE__, __LINE__, __func__,         \
                           log__fields_, sizeof log__fields_ / sizeof log__fields_[0], \
                           LOG__UNPAREN fmt_args);                                \
        }                                                                         \
    } while (0)

/** Log to this file's logger (CTXLOG_LOGGER, else the root) at @p lvl. */
#define log_at(lvl, ...) log_to(LOG__THIS_LOGGER, lvl, __VA_ARGS__)
#define log_at_kv(lvl, ...) log_to_kv(LOG__THIS_LOGGER, lvl, __VA_ARGS__)
#define log_at_kvf(lvl, ...) log_to_kvf(LOG__THIS_LOGGER, lvl, __VA_ARGS__)

/* printf-style: log_info("took %d ms", ms). */
#define log_trace(...) log_at(LOG_LEVEL_TRACE, __VA_ARGS__)
#define log_debug(...) log_at(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...) log_at(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...) log_at(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_at(LOG_LEVEL_ERROR, __VA_ARGS__)
/** Logs at fatal level; it does not end the process. */
#define log_fatal(...) log_at(LOG_LEVEL_FATAL, __VA_ARGS__)

/* A plain message and fields: log_info_kv("login", LOG_KV("user", u)). */
#define log_trace_kv(...) log_at_kv(LOG_LEVEL_TRACE, __VA_ARGS__)
#define log_debug_kv(...) log_at_kv(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info_kv(...) log_at_kv(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn_kv(...) log_at_kv(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error_kv(...) log_at_kv(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_fatal_kv(...) log_at_kv(LOG_LEVEL_FATAL, __VA_ARGS__)

/* A printf-formatted message and fields:
 * log_info_kvf(("took %d ms", ms), LOG_KV("ms", ms)). */
#define log_trace_kvf(...) log_at_kvf(LOG_LEVEL_TRACE, __VA_ARGS__)
#define log_debug_kvf(...) log_at_kvf(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info_kvf(...) log_at_kvf(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn_kvf(...) log_at_kvf(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error_kvf(...) log_at_kvf(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_fatal_kvf(...) log_at_kvf(LOG_LEVEL_FATAL, __VA_ARGS__)

/* The same, to an explicit logger: log_info_to(db, "took %d ms", ms). */
#define log_trace_to(lg, ...) log_to(lg, LOG_LEVEL_TRACE, __VA_ARGS__)
#define log_debug_to(lg, ...) log_to(lg, LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info_to(lg, ...) log_to(lg, LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn_to(lg, ...) log_to(lg, LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error_to(lg, ...) log_to(lg, LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_fatal_to(lg, ...) log_to(lg, LOG_LEVEL_FATAL, __VA_ARGS__)

#define log_trace_kv_to(lg, ...) log_to_kv(lg, LOG_LEVEL_TRACE, __VA_ARGS__)
#define log_debug_kv_to(lg, ...) log_to_kv(lg, LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info_kv_to(lg, ...) log_to_kv(lg, LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn_kv_to(lg, ...) log_to_kv(lg, LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error_kv_to(lg, ...) log_to_kv(lg, LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_fatal_kv_to(lg, ...) log_to_kv(lg, LOG_LEVEL_FATAL, __VA_ARGS__)

#define log_trace_kvf_to(lg, ...) log_to_kvf(lg, LOG_LEVEL_TRACE, __VA_ARGS__)
#define log_debug_kvf_to(lg, ...) log_to_kvf(lg, LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info_kvf_to(lg, ...) log_to_kvf(lg, LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn_kvf_to(lg, ...) log_to_kvf(lg, LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error_kvf_to(lg, ...) log_to_kvf(lg, LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_fatal_kvf_to(lg, ...) log_to_kvf(lg, LOG_LEVEL_FATAL, __VA_ARGS__)

#ifdef __cplusplus
}
#endif

#endif /* CTXLOG_LOG_H */
