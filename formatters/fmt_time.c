/*
 * RFC 3339 timestamps in UTC with microseconds: 2026-11-23T10:00:00.123456Z.
 *
 * gmtime_r is the expensive part and changes once a second, so each thread
 * keeps the last "YYYY-MM-DDTHH:MM:SS" it formatted and only redoes the
 * fractional part while the second stays the same.
 */
#include "formatters/fmt_json.h"
#include "formatters/fmt_json_plain.h"

#include <string.h>

#define PREFIX_LEN 19 /* "YYYY-MM-DDTHH:MM:SS" */
_Static_assert(PREFIX_LEN + 8 == FMT_RFC3339_LEN, "timestamp length");

static _Thread_local __attribute__((tls_model("initial-exec"))) struct {
    int valid; /* time_t 0 is a real second, so a flag says "filled" */
    time_t sec;
    char prefix[PREFIX_LEN + 1];
} cache;

static void format_prefix(time_t sec, char *out)
{
    struct tm tm;

    /* RFC 3339 has exactly four year digits: clamp what gmtime cannot
     * express that way rather than emit a timestamp parsers reject. */
    if (!gmtime_r(&sec, &tm) || tm.tm_year < -1900) {
        memcpy(out, "0000-01-01T00:00:00", PREFIX_LEN + 1);
        return;
    }
    if (tm.tm_year > 9999 - 1900) {
        memcpy(out, "9999-12-31T23:59:59", PREFIX_LEN + 1);
        return;
    }
    /* Fixed-width digits by hand: every field is in range here. */
    int year = tm.tm_year + 1900;
    const int parts[] = {tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec};
    const char seps[] = "--T::";
    out[0] = (char)('0' + year / 1000);
    out[1] = (char)('0' + year / 100 % 10);
    out[2] = (char)('0' + year / 10 % 10);
    out[3] = (char)('0' + year % 10);
    for (int i = 0; i < 5; i++) {
        out[4 + 3 * i] = seps[i];
        out[5 + 3 * i] = (char)('0' + parts[i] / 10);
        out[6 + 3 * i] = (char)('0' + parts[i] % 10);
    }
    out[PREFIX_LEN] = '\0';
}

char *fmt_rfc3339_put(char *out, const struct timespec *t)
{
    if (!cache.valid || cache.sec != t->tv_sec) {
        format_prefix(t->tv_sec, cache.prefix);
        cache.sec = t->tv_sec;
        cache.valid = 1;
    }
    /* A tv_nsec outside [0, 1e9) is a caller bug; clamp to keep 6 digits. */
    long usec = t->tv_nsec / 1000;
    if (usec < 0)
        usec = 0;
    if (usec > 999999)
        usec = 999999;
    unsigned us = (unsigned)usec, hi = us / 10000, mid = us / 100 % 100, lo = us % 100;
    memcpy(out, cache.prefix, PREFIX_LEN);
    out += PREFIX_LEN;
    out[0] = '.';
    memcpy(out + 1, fmt_digit_pairs + 2 * hi, 2);
    memcpy(out + 3, fmt_digit_pairs + 2 * mid, 2);
    memcpy(out + 5, fmt_digit_pairs + 2 * lo, 2);
    out[7] = 'Z';
    return out + 8;
}

void fmt_rfc3339_utc(fmt_buf *b, const struct timespec *t)
{
    if (fmt_buf_reserve(b, FMT_RFC3339_LEN))
        return;
    fmt_rfc3339_put(b->data + b->len, t);
    b->len += FMT_RFC3339_LEN;
}
