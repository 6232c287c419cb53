/* SPDX-License-Identifier: MIT */
/* How the library speaks about itself: one line on stderr, written directly
 * (never as a record, so a broken output cannot recurse), plus the count of
 * records lost to write errors. */
#include "log/base/log_base.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include <ctxlog/log.h>

static atomic_uint_fast64_t dropped;

void log__report(const char *fmt, ...)
{
    char line[1024];
    int n = snprintf(line, sizeof line, "ctxlog: ");
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w; /* nowhere left to report a failure to */
}

void log__count_dropped(uint64_t n)
{
    atomic_fetch_add_explicit(&dropped, n, memory_order_relaxed);
}

void log_dropped_add(uint64_t n)
{
    log__count_dropped(n);
}

uint64_t log_dropped_count(void)
{
    return atomic_load_explicit(&dropped, memory_order_relaxed);
}
