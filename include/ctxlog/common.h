/* SPDX-License-Identifier: MIT */
/**
 * @file common.h
 * @brief Library-wide definitions of ctxlog: export macro, error codes, version.
 *
 * Error convention: a call that can fail returns `int`, 0 on success or one of
 * the negative `CTXLOG_E*` codes below; no call aborts on bad input.
 */
#ifndef CTXLOG_COMMON_H
#define CTXLOG_COMMON_H

#include <ctxlog/version.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(CTXLOG_BUILDING) && defined(__GNUC__)
#define CTXLOG_API __attribute__((visibility("default")))
#else
#define CTXLOG_API
#endif

#if defined(__GNUC__)
#define CTXLOG_PRINTF(fmt_idx, va_idx) __attribute__((format(printf, fmt_idx, va_idx)))
#else
#define CTXLOG_PRINTF(fmt_idx, va_idx)
#endif

/** Error codes. Every failing call returns one of these (all negative). */
enum ctxlog_error {
    CTXLOG_OK = 0,
    CTXLOG_EINVAL = -1,   /**< an argument is NULL, empty or out of range */
    CTXLOG_ENOMEM = -2,   /**< an allocation failed */
    CTXLOG_ESTALE = -3,   /**< the token was already used, or is too old to undo */
    CTXLOG_ECONTEXT = -4, /**< the token was made in another context or thread */
    CTXLOG_ESTATE = -5,   /**< the object is shutting down or in the wrong state */
    CTXLOG_EIO = -6,      /**< an open, write or other system call failed */
    CTXLOG_ECONFIG = -7,  /**< a configuration value is invalid */
    CTXLOG_EBUSY = -8,    /**< not allowed now (nothing changed): from a filter, a callback sink or a sink's
                           operation; on a fiber switched in on a thread */
    CTXLOG_ENOENT = -9,   /**< a file, or a directory of its path, does not exist */
};

/**
 * @brief A static, human-readable description of an error code.
 * @return never NULL; "unknown error" for codes this version does not know.
 * Thread safety: safe from any thread.
 */
CTXLOG_API const char *ctxlog_strerror(int err);

/**
 * @brief What the calling thread's last failed call that says more than its
 *        code went wrong with, in one line, e.g. `cannot open log file
 *        'logs/app.log': No such file or directory`.
 *
 * Calls that set it say so in their documentation (log_sink_file(),
 * log_output_set(); also the first record's configuration when
 * CTXLOG_OUTPUT cannot be opened); they clear it when they succeed. Other calls leave it
 * as it is, like errno: read it right after the failing call.
 * @return the text, or NULL when there is none. Valid until the calling
 *         thread's next call that sets or clears it; owned by the library.
 * Thread safety: per thread; safe from any thread.
 */
CTXLOG_API const char *ctxlog_last_error(void);

/**
 * @brief The run-time version of the library, e.g. "0.1.0".
 * Compare with CTXLOG_VERSION_STRING to detect a header/library mismatch.
 */
CTXLOG_API const char *ctxlog_version(void);

#ifdef __cplusplus
}
#endif

#endif /* CTXLOG_COMMON_H */
