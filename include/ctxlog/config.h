/* SPDX-License-Identifier: MIT */
/**
 * @file config.h
 * @brief Configuration from a JSON file (schema in README.md, "Configuration file").
 */
#ifndef CTXLOG_CONFIG_H
#define CTXLOG_CONFIG_H

#include <ctxlog/common.h>

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

#ifdef __cplusplus
}
#endif

#endif /* CTXLOG_CONFIG_H */
