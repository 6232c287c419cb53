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

#include <string.h>

#include "ctx/ctx_internal.h"

atomic_int log__policies;

static atomic_uint_fast64_t threshold; /* kept when hash < threshold */
static atomic_int below_level = LOG_LEVEL_WARN;
static atomic_uint_fast64_t generation = 1; /* bumped by every change */

static CTX__TLS uint64_t cached_serial, cached_gen;
static CTX__TLS bool cached_out;

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

static bool keeps(const char *id, size_t n)
{
    return id_hash(id, n) < atomic_load_explicit(&threshold, memory_order_relaxed);
}

int log_sampling_set(double ratio, log_level below)
{
    if (!(ratio >= 0.0 && ratio <= 1.0) || below < LOG_LEVEL_DEBUG || below > LOG_LEVEL_WARN)
        return CTXLOG_EINVAL;
    /* ratio < 1 is at most 1 - 2^-53: its product with 2^64 fits. */
    atomic_store(&threshold, ratio < 1.0 ? (uint64_t)(ratio * 18446744073709551616.0) : UINT64_MAX);
    atomic_store(&below_level, (int)below);
    atomic_fetch_add(&generation, 1);
    if (ratio < 1.0)
        atomic_fetch_or(&log__policies, LOG__POLICY_SAMPLING);
    else
        atomic_fetch_and(&log__policies, ~LOG__POLICY_SAMPLING);
    return 0;
}

int log_sampling_keeps(const char *id)
{
    if (!id || !(atomic_load(&log__policies) & LOG__POLICY_SAMPLING))
        return 1;
    return keeps(id, strlen(id));
}

bool log__sampled_out(int level)
{
    if (!(atomic_load_explicit(&log__policies, memory_order_relaxed) & LOG__POLICY_SAMPLING) ||
        level >= atomic_load_explicit(&below_level, memory_order_relaxed))
        return false;
    const ctx_snapshot *snap = ctx__current();
    uint64_t gen = atomic_load_explicit(&generation, memory_order_relaxed);
    if (snap->serial == cached_serial && gen == cached_gen)
        return cached_out;
    const ctx__val *id = ctx__snap_lookup(snap, CTX_TRACE_ID);
    if (!id || !id->str)
        id = ctx__snap_lookup(snap, CTX_REQUEST_ID);
    bool out = id && id->str && !keeps(id->str, id->len);
    cached_serial = snap->serial;
    cached_gen = gen;
    cached_out = out;
    return out;
}
