/* SPDX-License-Identifier: MIT */
/*
 * RFC 3339 timestamps: the per-second part (see fmt_time.h), e.g.
 * 2026-11-23T10:00:00.123456Z.
 */
#include "formatters/fmt_time.h"
#include "formatters/fmt_json.h"

#include <stdint.h>
#include <string.h>

CTX__TLS struct fmt_ts_cache fmt_ts_cache;

#define PREFIX_LEN (FMT_TS_PREFIX - 1) /* "YYYY-MM-DDTHH:MM:SS" */
_Static_assert(PREFIX_LEN + 8 == FMT_RFC3339_LEN, "timestamp length");

/* The civil date (proleptic Gregorian) of day z, days since 1970-01-01:
 * arithmetic only, as counted in eras of 400 years (146097 days) that
 * start on March 1st. No gmtime_r: that one may read the time zone file
 * and allocate on its first call, and a crash handler encodes records
 * too (fmt_json_record_fresh). */
static void civil_from_days(int64_t z, int64_t *year, int *month, int *day)
{
    z += 719468; /* days from 0000-03-01 to 1970-01-01 */
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;                                      /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    int64_t mp = (5 * doy + 2) / 153;                                    /* [0, 11], March first */
    *day = (int)(doy - (153 * mp + 2) / 5 + 1);
    *month = (int)(mp < 10 ? mp + 3 : mp - 9);
    *year = yoe + era * 400 + (*month <= 2);
}

/* out[0, PREFIX_LEN) and '.' */
static void format_prefix(time_t sec, char *out)
{
    int64_t s = (int64_t)sec;
    int64_t days = s / 86400, rem = s % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    int64_t year;
    int month, mday;
    civil_from_days(days, &year, &month, &mday);
    /* RFC 3339 has exactly four year digits: clamp what cannot be
     * expressed that way rather than emit a timestamp parsers reject. */
    if (year < 0) {
        memcpy(out, "0000-01-01T00:00:00.", FMT_TS_PREFIX);
        return;
    }
    if (year > 9999) {
        memcpy(out, "9999-12-31T23:59:59.", FMT_TS_PREFIX);
        return;
    }
    /* Fixed-width digits by hand: every field is in range here. */
    int y = (int)year;
    const int parts[] = {month, mday, (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60)};
    const char seps[] = "--T::";
    out[0] = (char)('0' + y / 1000);
    out[1] = (char)('0' + y / 100 % 10);
    out[2] = (char)('0' + y / 10 % 10);
    out[3] = (char)('0' + y % 10);
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
