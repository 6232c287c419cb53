/* SPDX-License-Identifier: MIT */
/*
 * RFC 3339 timestamps in UTC with microseconds (private):
 * "YYYY-MM-DDTHH:MM:SS.uuuuuuZ", always FMT_RFC3339_LEN bytes.
 *
 * The date and time of day are the expensive part and change once a
 * second, so each thread keeps the last "YYYY-MM-DDTHH:MM:SS." it
 * formatted; within the same second a timestamp is that copy and six
 * digits, inline.
 */
#ifndef CTXLOG_FMT_TIME_H
#define CTXLOG_FMT_TIME_H

#include <stdint.h>
#include <string.h>
#include <time.h>

#include "ctx/ctx_tls.h"
#include "formatters/fmt_json_plain.h"
#include "formatters/fmt_record.h"

#define FMT_RFC3339_LEN 27
#define FMT_TS_PREFIX 20 /* "YYYY-MM-DDTHH:MM:SS." */

struct fmt_ts_cache {
    time_t sec;
    int valid; /* time_t 0 is a real second, so a flag says "filled" */
    char prefix[FMT_TS_PREFIX];
};
/* The calling thread's (fmt_time.c). */
extern CTX__TLS struct fmt_ts_cache fmt_ts_cache;

/* The general case: another second, or a tv_nsec out of range. */
char *fmt_rfc3339_put_slow(char *out, const struct timespec *t);

/* Write the timestamp of t at out[0, FMT_RFC3339_LEN); returns the end. */
static FMT_INLINE char *fmt_rfc3339_put(char *out, const struct timespec *t)
{
    const struct fmt_ts_cache *c = &fmt_ts_cache;
    if (!c->valid || c->sec != t->tv_sec || (unsigned long)t->tv_nsec >= 1000000000ul)
        return fmt_rfc3339_put_slow(out, t);
    uint32_t us = (uint32_t)t->tv_nsec / 1000u;
    uint32_t hi = us / 10000u, rest = us - hi * 10000u;
    uint32_t mid = (rest * 5243u) >> 19, lo = rest - mid * 100u; /* rest / 100, rest % 100 */
    memcpy(out, c->prefix, 16);
    memcpy(out + 16, c->prefix + 16, FMT_TS_PREFIX - 16);
    memcpy(out + FMT_TS_PREFIX, fmt_digit_pairs + 2 * hi, 2);
    memcpy(out + FMT_TS_PREFIX + 2, fmt_digit_pairs + 2 * mid, 2);
    memcpy(out + FMT_TS_PREFIX + 4, fmt_digit_pairs + 2 * lo, 2);
    out[FMT_RFC3339_LEN - 1] = 'Z';
    return out + FMT_RFC3339_LEN;
}

/* The opening of a DEFAULT or ECS JSON record up to the timestamp's closing
 * quote, `{"ts":"…"` or `{"@timestamp":"…"`: at most 16 + FMT_RFC3339_LEN
 * bytes at out; returns the end. */
static FMT_INLINE char *fmt_json_open(char *out, log_json_preset preset, const struct timespec *t)
{
    if (preset == LOG_JSON_ECS) {
        memcpy(out, "{\"@timestamp\":\"", 15);
        out += 15;
    } else {
        memcpy(out, "{\"ts\":\"", 7);
        out += 7;
    }
    out = fmt_rfc3339_put(out, t);
    *out++ = '"';
    return out;
}

#endif /* CTXLOG_FMT_TIME_H */
