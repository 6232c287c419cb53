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
 */
#ifndef CTXLOG_LOG_H
#define CTXLOG_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ctxlog/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Severity levels, in increasing order. (<syslog.h> owns LOG_INFO etc.) */
typedef enum log_level {
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

/* Typed-field constructors. They allocate nothing; a value of the wrong type is
 * a compile-time diagnostic. */
#define LOG_STR(k, val) ((log_field){.key = (k), .type = LOG_FIELD_STR, .v.s = (val)})
#define LOG_I64(k, val) ((log_field){.key = (k), .type = LOG_FIELD_I64, .v.i64 = (val)})
#define LOG_U64(k, val) ((log_field){.key = (k), .type = LOG_FIELD_U64, .v.u64 = (val)})
#define LOG_F64(k, val) ((log_field){.key = (k), .type = LOG_FIELD_F64, .v.f64 = (val)})
#define LOG_BOOL(k, val) ((log_field){.key = (k), .type = LOG_FIELD_BOOL, .v.b = (val)})
/** A jansson value, serialized compactly. The reference is borrowed, not stolen. */
#define LOG_JSON(k, val) ((log_field){.key = (k), .type = LOG_FIELD_JSON, .v.json = (val)})

/* ---- configuration --------------------------------------------------------- */

/** @brief Set the threshold of the root logger (LOG_LEVEL_TRACE … LOG_LEVEL_OFF). @return 0 or CTXLOG_EINVAL. */
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
 * @return 0; CTXLOG_EINVAL for NULL or ""; CTXLOG_EIO when the file cannot be
 *         opened (the message names it on stderr, the previous output stays).
 */
CTXLOG_API int log_output_set(const char *where);

/**
 * @brief (Re)apply the configuration from the environment: CTXLOG_LEVEL,
 *        CTXLOG_FORMAT (json), CTXLOG_OUTPUT. The first record does this
 *        implicitly. An invalid value is named in one line on stderr and its
 *        default kept; an unwritable CTXLOG_OUTPUT falls back to stderr.
 * @return 0, or CTXLOG_ECONFIG when some value was invalid (the rest applied).
 */
CTXLOG_API int log_configure_env(void);

/** @brief Write out everything accepted so far (fsync is not implied). @return 0 or CTXLOG_EIO. */
CTXLOG_API int log_flush(void);

/**
 * @brief Flush and close every output. Runs by itself at exit. A record logged
 *        after it configures the library afresh from the environment.
 */
CTXLOG_API void log_shutdown(void);

/**
 * @brief Number of records that could not be written (write errors) since start.
 * Each kind of failure is also reported once on stderr.
 */
CTXLOG_API uint64_t log_dropped_count(void);

/* ---- logging calls ---------------------------------------------------------- */

/** Private: lowest level any logger may emit; read by the macros. */
extern CTXLOG_API int log__gate;

#define LOG__ENABLED(lvl) ((int)(lvl) >= __atomic_load_n(&log__gate, __ATOMIC_RELAXED))

/** Private entry points behind the macros. */
CTXLOG_API void log__printf(log_level level, const char *file, int line, const char *func,
                            const char *fmt, ...) CTXLOG_PRINTF(5, 6);
CTXLOG_API void log__kv(log_level level, const char *file, int line, const char *func,
                        const char *msg, const log_field *fields, size_t nfields);

/**
 * @brief Log a printf-formatted message at @p lvl. The format is checked by the
 *        compiler; when the level is disabled the arguments are not evaluated.
 */
#define log_at(lvl, ...)                                                        \
    do {                                                                        \
        if (LOG__ENABLED(lvl))                                                  \
            log__printf((lvl), __FILE__, __LINE__, __func__, __VA_ARGS__);      \
    } while (0)

/**
 * @brief Log @p msg (a plain string, not a format) with typed fields, e.g.
 *        `log_at_kv(LOG_LEVEL_INFO, "login", LOG_STR("method", m), LOG_I64("attempt", n))`.
 * At least one field; fields are not evaluated when the level is disabled.
 */
#define log_at_kv(lvl, msg, ...)                                                \
    do {                                                                        \
        if (LOG__ENABLED(lvl)) {                                                \
            const log_field log__fields_[] = {__VA_ARGS__};                     \
            log__kv((lvl), __FILE__, __LINE__, __func__, (msg), log__fields_,   \
                    sizeof log__fields_ / sizeof log__fields_[0]);              \
        }                                                                       \
    } while (0)

#define log_trace(...) log_at(LOG_LEVEL_TRACE, __VA_ARGS__)
#define log_debug(...) log_at(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...) log_at(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...) log_at(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_at(LOG_LEVEL_ERROR, __VA_ARGS__)
/** Logs at fatal level and flushes; it does not end the process. */
#define log_fatal(...) log_at(LOG_LEVEL_FATAL, __VA_ARGS__)

#define log_trace_kv(...) log_at_kv(LOG_LEVEL_TRACE, __VA_ARGS__)
#define log_debug_kv(...) log_at_kv(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info_kv(...) log_at_kv(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn_kv(...) log_at_kv(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error_kv(...) log_at_kv(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_fatal_kv(...) log_at_kv(LOG_LEVEL_FATAL, __VA_ARGS__)

#ifdef __cplusplus
}
#endif

#endif /* CTXLOG_LOG_H */
