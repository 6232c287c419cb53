/* SPDX-License-Identifier: MIT */
/* Library-wide answers: error code descriptions, the calling thread's last
 * error detail, and the run-time version. */
#include "log/base/log_base.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include <ctxlog/common.h>

static const char *const messages[] = {
    "success",
    "invalid argument",
    "out of memory",
    "token already used or too old",
    "token made in another context",
    "object in the wrong state",
    "input/output error",
    "invalid configuration",
    "not allowed from a filter, a callback sink or a sink operation, or while in use",
    "no such file or directory",
};

const char *ctxlog_strerror(int err)
{
    if (err > 0 || -err >= (int)(sizeof messages / sizeof messages[0]))
        return "unknown error";
    return messages[-err];
}

/* The detail of ctxlog_last_error(); a path longer than fits is cut. */
static _Thread_local struct {
    int set;
    char text[512];
} last_error;

void log__error_detail(const char *fmt, ...)
{
    int saved = errno; /* the caller's errno still tells why */
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(last_error.text, sizeof last_error.text, fmt, ap);
    va_end(ap);
    last_error.set = 1;
    errno = saved;
}

void log__error_detail_clear(void)
{
    last_error.set = 0;
}

const char *ctxlog_last_error(void)
{
    return last_error.set ? last_error.text : NULL;
}

const char *ctxlog_version(void)
{
    return CTXLOG_VERSION_STRING;
}
