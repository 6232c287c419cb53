/* SPDX-License-Identifier: MIT */
/**
 * @file config.h
 * @brief Configuration from a JSON file (schema in README.md, "Configuration file").
 */
#ifndef CTXLOG_CONFIG_H
#define CTXLOG_CONFIG_H

#include <stddef.h>

#include <ctxlog/common.h>
#include <ctxlog/sink.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Where and why a configuration file was rejected. */
typedef struct log_config_error {
    char file[256]; /**< the file's path */
    int line;       /**< 1-based; 0 when unknown */
    int column;     /**< 1-based; 0 when unknown */
    char key[128];  /**< the offending key as a path, e.g. "sinks.file.max_bytes"; "" for syntax */
    char text[256]; /**< what is wrong */
} log_config_error;

/**
 * @brief Replace the whole configuration (loggers' levels, sinks, formatters)
 *        by the one in the JSON file at @p path.
 * All or nothing: a file with a syntax error, an unknown key, a value of the
 * wrong type, a bad level name or an unwritable path is rejected whole, the
 * previous configuration stays in force, and one line naming the file,
 * line/column or key is written on stderr.
 * @param[out] err filled on failure; may be NULL.
 * The loggers' levels, sinks and routes switch over in one step: every record
 * is written by the previous configuration or by the new one.
 * Only a regular file is read: a FIFO, a device or a directory is refused
 * at once (never waited on), with line 0, key "" and "not a regular file".
 * @return 0, CTXLOG_ECONFIG (err says why), CTXLOG_EIO (the file cannot be
 *         opened or is not a regular file, or a sink's path cannot be
 *         opened), CTXLOG_ENOMEM, CTXLOG_EBUSY (called from a filter, a
 *         callback sink or a sink's operation: nothing is read or changed).
 * The environment's CTXLOG_CONFIG names a file loaded the same way at the
 * first record; CTXLOG_LEVEL and CTXLOG_OUTPUT then do not apply.
 */
CTXLOG_API int log_config_load(const char *path, log_config_error *err);

/** The version of log_config_sink_kind this header describes. */
#define LOG_CONFIG_SINK_KIND_VERSION 1

/**
 * A kind of sink that a library outside libctxlog adds to the
 * configuration file's `"type"`s (libctxlog-otlp adds "otlp"). The file's
 * sink object has "type", "level" (handled by the library, as for every
 * sink) and the kind's own keys; formatters do not apply.
 * Its JSON object is a jansson `json_t` (borrowed for the call).
 */
typedef struct log_config_sink_kind {
    unsigned version; /**< #LOG_CONFIG_SINK_KIND_VERSION */
    const char *type; /**< the "type" value, e.g. "otlp"; static storage */
    const char *const *keys; /**< the kind's own keys (static storage) */
    size_t nkeys;
    /**
     * Required. Validate the sink's object, with no side effect. Return 0,
     * or CTXLOG_ECONFIG with *key set to the offending key (static or from
     * @p obj; NULL: the object) and a message in why[0, cap).
     */
    int (*check)(const struct json_t *obj, const char **key, char *why, size_t cap);
    /**
     * Required. Make the sink (one reference into *out) from an object
     * check() accepted. Return 0 or a negative CTXLOG_E* code (the file
     * is then rejected whole with ctxlog_strerror()'s text).
     */
    int (*make)(const struct json_t *obj, log_sink **out);
} log_config_sink_kind;

/**
 * @brief Let configuration files use @p kind's "type" from now on.
 * @param kind kept by pointer: static storage.
 * @return 0; CTXLOG_EINVAL when @p kind, its type, check or make is NULL,
 *         its version unknown, or its type is one of the library's own
 *         (stdout, stderr, file, journald, syslog); CTXLOG_ENOMEM. Adding
 *         the same kind (pointer) again does nothing; another kind of the
 *         same type replaces it.
 * Thread safety: any thread, concurrently with log_config_load().
 */
CTXLOG_API int log_config_sink_kind_add(const log_config_sink_kind *kind);

#ifdef __cplusplus
}
#endif

#endif /* CTXLOG_CONFIG_H */
