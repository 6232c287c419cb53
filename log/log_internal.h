/*
 * Private structures of the logger core: sinks, the active configuration and
 * how a logging call reaches them.
 *
 * The active configuration is immutable once published. A logging call pins
 * it with a per-thread hazard pointer (no lock shared by all threads); a
 * configuration change publishes a new one, waits until no thread still pins
 * the old one, then closes what the old one alone used.
 */
#ifndef CTXLOG_LOG_INTERNAL_H
#define CTXLOG_LOG_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <ctxlog/ctx.h>
#include <ctxlog/log.h>

#include "formatters/fmt_record.h"

/* An output: a file descriptor written one whole record at a time. */
typedef struct log_sink {
    atomic_uint refs;
    int fd;
    int owns_fd;          /* close on free (files, not stdout/stderr) */
    char *name;           /* "stdout", "stderr" or the path, for messages */
    log_level level;      /* records below it are not written here */
    pthread_mutex_t lock; /* one writer at a time: records never interleave */
    int failing;          /* last write failed (under lock): report once */
} log_sink;

/* sink_fd.c */
log_sink *log__sink_fd(int fd, const char *name);             /* stdout/stderr */
int log__sink_file(const char *path, log_sink **out);          /* 0 or CTXLOG_EIO */
log_sink *log__sink_ref(log_sink *s);
void log__sink_unref(log_sink *s);
/* Write one formatted record; a failure is counted and reported once. */
void log__sink_write(log_sink *s, const char *data, size_t len);

#define LOG__MAX_SINKS 8

typedef struct log_config {
    log_sink *sinks[LOG__MAX_SINKS];
    unsigned nsinks;
    unsigned json_flags; /* FMT_JSON_* */
} log_config;

/* log_config.c */
/* Pin the active configuration (initializing it from the environment on
 * first use); unpin when done. Never returns NULL. */
const log_config *log__config_pin(void);
void log__config_unpin(void);

/* log_level.c */
int log__root_level(void);
void log__gate_update(void);
/* Set the root level; `chosen` records that the application picked it. */
void log__level_apply(log_level level, int chosen);
int log__level_chosen(void);

/* log_report.c: one line on stderr about the library itself (never a record) */
void log__report(const char *fmt, ...) CTXLOG_PRINTF(1, 2);
void log__count_dropped(uint64_t n);

/* filter_ctx.c: the context filter. Fills `out` (grown as needed, kept across
 * calls) with one field per logged variable set in `s`; returns the count. */
size_t log__filter_ctx(const ctx_snapshot *s, log_field **out, size_t *cap);

#endif /* CTXLOG_LOG_INTERNAL_H */
