/* SPDX-License-Identifier: MIT */
/*
 * Sampling by request: a request is kept or sampled out whole, by a hash of
 * its id (trace_id when set, else request_id), so that every thread and every
 * process that sees the id decides the same. The hash is FNV-1a 64 of the
 * id's bytes, then MurmurHash3's fmix64 finalizer; kept when it is below
 * ratio × 2^64.
 *
 * Each thread remembers the decision for the snapshot it last asked about
 * (by its serial), so that a request's records hash its id once per thread
 * and context change, not once per record.
 */
#include "log/log_policy.h"
#include "log/base/log_lane.h"

#include <assert.h>
#include <string.h>

#include "ctx/ctx_internal.h"

atomic_int log__policies;

/*
 * The setting is published as one word, so that a record sees the ratio and
 * the level of one log_sampling_set() call, never one's ratio with
 * another's level: bits 0-61 are the ratio's IEEE 754 double (bits 62 and 63
 * of a double in [0, 2) are 0), bits 62-63 the level below which records may
 * be sampled out (LOG_LEVEL_DEBUG … LOG_LEVEL_WARN, 1 … 3). The word itself
 * tags each thread's cached decision: any other setting recomputes it.
 */
#define RATIO_BITS ((UINT64_C(1) << 62) - 1)
#define LEVEL_SHIFT 62
#define RATIO_ONE UINT64_C(0x3ff0000000000000) /* 1.0 */

static atomic_uint_fast64_t setting = RATIO_ONE | (uint64_t)LOG_LEVEL_WARN << LEVEL_SHIFT;

static CTX__TLS uint64_t cached_serial, cached_setting;
static CTX__TLS bool cached_out;

static uint64_t pack(double ratio, log_level below)
{
    uint64_t bits;
    memcpy(&bits, &ratio, sizeof bits);
    assert((bits & ~RATIO_BITS) == 0 && below >= LOG_LEVEL_DEBUG && below <= LOG_LEVEL_WARN);
    return bits | (uint64_t)below << LEVEL_SHIFT;
}

static double ratio_of(uint64_t s)
{
    uint64_t bits = s & RATIO_BITS;
    double ratio;
    memcpy(&ratio, &bits, sizeof ratio);
    return ratio;
}

static int below_of(uint64_t s)
{
    return (int)(s >> LEVEL_SHIFT);
}

/* FNV-1a 64 of the id, then MurmurHash3's 64-bit finalizer (fmix64): FNV
 * alone leaves the top bits, which the ratio compares, nearly the same for
 * ids that differ in their last characters only (sequential ids). */
static uint64_t id_hash(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

/* Whether the id is kept under setting s: its hash below ratio × 2^64 (the
 * product of a ratio below 1 is at most 2^64 - 2^11: it fits). */
static bool keeps(const char *id, size_t n, uint64_t s)
{
    double ratio = ratio_of(s);
    return ratio >= 1.0 || id_hash(id, n) < (uint64_t)(ratio * 18446744073709551616.0);
}

int log_sampling_set(double ratio, log_level below)
{
    if (!(ratio >= 0.0 && ratio <= 1.0) || below < LOG_LEVEL_DEBUG || below > LOG_LEVEL_WARN)
        return CTXLOG_EINVAL;
    atomic_store(&setting, pack(ratio + 0.0, below)); /* + 0.0: -0.0 is 0.0 */
    /* The policy bit only spares records the load of the setting while
     * sampling is off (a setting of ratio 1 keeps everything). It follows
     * the setting published last: a call that raced with another one sets
     * it again from the word until the word stays what it read. */
    uint64_t s;
    do {
        s = atomic_load(&setting);
        if (ratio_of(s) < 1.0)
            atomic_fetch_or(&log__policies, LOG__POLICY_SAMPLING);
        else
            atomic_fetch_and(&log__policies, ~LOG__POLICY_SAMPLING);
    } while (atomic_load(&setting) != s);
    log__lanes_changed(); /* lanes serve records no policy may change */
    return 0;
}

int log_sampling_keeps(const char *id)
{
    if (!id || !(atomic_load(&log__policies) & LOG__POLICY_SAMPLING))
        return 1;
    return keeps(id, strlen(id), atomic_load(&setting));
}

bool log__sampled_out(int level)
{
    if (!(atomic_load_explicit(&log__policies, memory_order_relaxed) & LOG__POLICY_SAMPLING))
        return false;
    /* One load: everything below decides by this setting alone. */
    uint64_t s = atomic_load_explicit(&setting, memory_order_relaxed);
    if (level >= below_of(s))
        return false;
    const ctx_snapshot *snap = ctx__current();
    if (snap->serial == cached_serial && s == cached_setting)
        return cached_out;
    const ctx__val *id = ctx__snap_lookup(snap, CTX_TRACE_ID);
    if (!id || !id->str)
        id = ctx__snap_lookup(snap, CTX_REQUEST_ID);
    bool out = id && id->str && !keeps(id->str, id->len, s);
    cached_serial = snap->serial;
    cached_setting = s;
    cached_out = out;
    return out;
}
