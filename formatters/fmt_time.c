/* SPDX-License-Identifier: MIT */
/*
 * RFC 3339 timestamps: the per-second part (see fmt_time.h), e.g.
 * 2026-11-23T10:00:00.123456Z.
 */
#include "formatters/fmt_time.h"
#include "formatters/fmt_json.h"

#include <string.h>

CTX__TLS struct fmt_ts_cache fmt_ts_cache;

#define PREFIX_LEN (FMT_TS_PREFIX - 1) /* "YYYY-MM-DDTHH:MM:SS" */
_Static_assert(PREFIX_LEN + 8 == FMT_RFC3339_LEN, "timestamp length");

/* out[0, PREFIX_LEN) and '.' */
static void format_prefix(time_t sec, char *out)
{
    struct tm tm;

    /* RFC 3339 has exactly four year digits: clamp what gmtime cannot
     * express that way rather than emit a timestamp parsers reject. */
    if (!gmtime_r(&sec, &tm) || tm.tm_year < -1900) {
        memcpy(out, "0000-01-01T00:00:00.", FMT_TS_PREFIX);
        return;
    }
    if (tm.tm_year > 9999 - 1900) {
        memcpy(out, "9999-12-31T23:59:59.", FMT_TS_PREFIX);
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
    out[PREFIX_LEN] = '.';
}

char *fmt_rfc3339_put_slow(char *out, const struct timespec *t)
{
    struct fmt_ts_cache *c = &fmt_ts_cache;
    if (!c->valid || c->sec != t->tv_sec) {
        format_prefix(t->tv_sec, c->prefix);
        c->sec = t->tv_sec;
        c->valid = 1;
    }
    /* A tv_nsec outside [0, 1e9) is a caller bug; clamp to keep 6 digits. */
    struct timespec in_range = {.tv_sec = t->tv_sec, .tv_nsec = t->tv_nsec};
    if (in_range.tv_nsec < 0)
        in_range.tv_nsec = 0;
    if (in_range.tv_nsec > 999999999)
        in_range.tv_nsec = 999999999;
    return fmt_rfc3339_put(out, &in_range);
}

void fmt_rfc3339_utc(fmt_buf *b, const struct timespec *t)
{
    if (fmt_buf_reserve(b, FMT_RFC3339_LEN))
        return;
    fmt_rfc3339_put(b->data + b->len, t);
    b->len += FMT_RFC3339_LEN;
}
