/* SPDX-License-Identifier: MIT */
/*
 * Which bytes a JSON string copies as they are (private, inline): printable
 * ASCII except '"' and '\\'. Tested a word at a time, so that the usual
 * string, short and plain, costs a few instructions to check and copy.
 * Shared by the string encoder and the scalar writer (fmt_json_scalar.h).
 */
#ifndef CTXLOG_FMT_JSON_PLAIN_H
#define CTXLOG_FMT_JSON_PLAIN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* These sit on every record's path: inlined even where gcc would not. */
#define FMT_INLINE inline __attribute__((always_inline))

/* 1 for the bytes copied verbatim: printable ASCII except '"' and '\\'. */
static const unsigned char fmt_plain[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x20: '"' */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x30 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x40 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* 0x50: '\\' */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x60 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, /* 0x70: DEL */
    /* 0x80-0xFF: not plain; the UTF-8 decoder decides. */
};

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/* Nonzero when some byte of w is zero (exact as a yes/no answer). */
static FMT_INLINE uint64_t has_zero(uint64_t w)
{
    return (w - ONES) & ~w & HIGHS;
}

/* Nonzero when some byte of w needs more than a copy: >= 0x80, < 0x20, '"',
 * '\\' or DEL. Lets the common all-ASCII case move 8 bytes per step. */
static FMT_INLINE uint64_t has_special(uint64_t w)
{
    return (w & HIGHS) | ((w - ONES * 0x20) & ~w & HIGHS) | has_zero(w ^ (ONES * '"')) |
           has_zero(w ^ (ONES * '\\')) | has_zero(w ^ (ONES * 0x7F));
}

static FMT_INLINE uint64_t load64(const unsigned char *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof w); /* unaligned-safe; compiles to one load */
    return w;
}

static FMT_INLINE uint32_t load32(const unsigned char *p)
{
    uint32_t w;
    memcpy(&w, p, sizeof w);
    return w;
}

/* has_special for the 4 bytes of a 32-bit word. */
static FMT_INLINE uint32_t has_special32(uint32_t w)
{
    const uint32_t ones = 0x01010101u, highs = 0x80808080u;
#define ZERO32(x) (((x) - ones) & ~(x) & highs)
    return (w & highs) | ((w - ones * 0x20) & ~w & highs) | ZERO32(w ^ (ones * '"')) |
           ZERO32(w ^ (ones * '\\')) | ZERO32(w ^ (ones * 0x7F));
#undef ZERO32
}

#ifdef __SSE2__
#include <emmintrin.h>

/* Nonzero when some byte of v is not plain: (v + 1) < 0x21 as signed bytes
 * catches < 0x20, DEL and >= 0x80 at once. */
static FMT_INLINE int fmt_special16(__m128i v)
{
    __m128i low = _mm_cmplt_epi8(_mm_add_epi8(v, _mm_set1_epi8(1)), _mm_set1_epi8(0x21));
    __m128i quote = _mm_cmpeq_epi8(v, _mm_set1_epi8('"'));
    __m128i bslash = _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'));
    return _mm_movemask_epi8(_mm_or_si128(low, _mm_or_si128(quote, bslash)));
}
#endif

/* Whether s[0, len) is all plain bytes: whole words, the last one
 * overlapping the previous when len is not a multiple of its size. */
static FMT_INLINE int fmt_all_plain(const unsigned char *s, size_t len)
{
#ifdef __SSE2__
    if (len >= 16) {
        for (size_t i = 0; i + 16 < len; i += 16)
            if (fmt_special16(_mm_loadu_si128((const __m128i *)(const void *)(s + i))))
                return 0;
        return !fmt_special16(_mm_loadu_si128((const __m128i *)(const void *)(s + len - 16)));
    }
    if (len >= 8)
        return !fmt_special16(_mm_set_epi64x((long long)load64(s + len - 8), (long long)load64(s)));
    if (len >= 4)
        return !fmt_special16(_mm_set_epi32(0x20202020, 0x20202020, (int)load32(s + len - 4),
                                            (int)load32(s)));
#else
    if (len >= 8) {
        for (size_t i = 0; i + 8 < len; i += 8)
            if (has_special(load64(s + i)))
                return 0;
        return !has_special(load64(s + len - 8));
    }
    if (len >= 4)
        return !has_special32(load32(s)) && !has_special32(load32(s + len - 4));
#endif
    for (size_t i = 0; i < len; i++)
        if (!fmt_plain[s[i]])
            return 0;
    return 1;
}

/* Copy len bytes, short ones as two overlapping words rather than a call. */
static FMT_INLINE void fmt_copy_short(char *out, const unsigned char *s, size_t len)
{
    if (len >= 8 && len <= 16) {
        uint64_t a = load64(s), z = load64(s + len - 8);
        memcpy(out, &a, 8);
        memcpy(out + len - 8, &z, 8);
    } else if (len >= 4 && len < 8) {
        uint32_t a = load32(s), z = load32(s + len - 4);
        memcpy(out, &a, 4);
        memcpy(out + len - 4, &z, 4);
    } else if (len) { /* s may be NULL when len is 0 */
        memcpy(out, s, len);
    }
}

/* Write s[0, len), all plain (fmt_all_plain), as a JSON string literal at
 * out (len + 2 bytes); returns the end. The one writer of such strings:
 * fmt_json_string and the scalar writer both use it. */
static FMT_INLINE char *fmt_plain_string_put(char *out, const unsigned char *s, size_t len)
{
    *out++ = '"';
    fmt_copy_short(out, s, len);
    out += len;
    *out++ = '"';
    return out;
}

/* A decimal number's digits in pairs. */
extern const char fmt_digit_pairs[201];

static FMT_INLINE unsigned fmt_digits10(uint64_t v)
{
    /* From the bit length: floor(log10(2^bits)) is bits * 1233 >> 12, one
     * less than the answer or the answer; one comparison says which. The
     * first entry is 0 so that 0 to 7 have one digit. */
    static const uint64_t above[20] = {
        0,           10,           100,           1000,           10000,
        100000,      1000000,      10000000,      100000000,      1000000000,
        UINT64_C(10000000000),       UINT64_C(100000000000),
        UINT64_C(1000000000000),     UINT64_C(10000000000000),
        UINT64_C(100000000000000),   UINT64_C(1000000000000000),
        UINT64_C(10000000000000000), UINT64_C(100000000000000000),
        UINT64_C(1000000000000000000), UINT64_C(10000000000000000000),
    };
    unsigned t = (unsigned)(64 - __builtin_clzll(v | 1)) * 1233u >> 12;
    return t + (v >= above[t]);
}

/* The 8 decimal digits of v < 10^8, leading zeros included, as ASCII in
 * one little-endian word (the first digit in the lowest byte): the two
 * halves of four digits, then their four pairs, then eight digits, each
 * step lane by lane (checked against printf for every v < 10^8). */
static FMT_INLINE uint64_t fmt_digits8(uint32_t v)
{
    uint64_t x = v / 10000 | (uint64_t)(v % 10000) << 32;
    uint64_t q = (x * 10486) >> 20 & UINT64_C(0x0000007F0000007F); /* lane / 100 */
    uint64_t y = q | (x - q * 100) << 16;
    uint64_t t = (y * 103) >> 10 & UINT64_C(0x000F000F000F000F); /* lane / 10 */
    return (t | (y - t * 10) << 8) + UINT64_C(0x3030303030303030);
}

/* Write v in decimal at out; returns the end. Stores up to 20 bytes at out
 * (8 for v < 10^8, some of them past the digits). */
static FMT_INLINE char *fmt_u64_put(char *out, uint64_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (v < 100000000) {
        uint64_t d = fmt_digits8((uint32_t)v);
        /* Leading zeros are the low bytes that are '0'; the last digit
         * (bit 56 set) stays even when it is one. */
        unsigned lead =
            (unsigned)__builtin_ctzll((d ^ UINT64_C(0x3030303030303030)) | UINT64_C(1) << 56) / 8;
        d >>= 8 * lead;
        memcpy(out, &d, 8);
        return out + 8 - lead;
    }
#endif
    char *end = out + fmt_digits10(v), *p = end;
    while (v > UINT32_MAX) {
        unsigned d = (unsigned)(v % 100) * 2;
        v /= 100;
        p -= 2;
        memcpy(p, fmt_digit_pairs + d, 2);
    }
    uint32_t w = (uint32_t)v; /* the rest in cheaper 32-bit arithmetic */
    while (w >= 10000) {
        uint32_t q = w / 10000, r = w - q * 10000;
        uint32_t hi = (r * 5243u) >> 19, lo = r - hi * 100; /* r / 100, r % 100 */
        p -= 4;
        memcpy(p, fmt_digit_pairs + 2 * hi, 2);
        memcpy(p + 2, fmt_digit_pairs + 2 * lo, 2);
        w = q;
    }
    if (w >= 100) {
        uint32_t hi = (w * 5243u) >> 19;
        p -= 2;
        memcpy(p, fmt_digit_pairs + 2 * (w - hi * 100), 2);
        w = hi;
    }
    if (w >= 10)
        memcpy(p - 2, fmt_digit_pairs + w * 2, 2);
    else
        p[-1] = (char)('0' + w);
    return end;
}

/* Write v in decimal at out; returns the end (at most 20 bytes). */
static FMT_INLINE char *fmt_i64_put(char *out, int64_t v)
{
    if (v < 0) {
        *out++ = '-';
        /* Negate in unsigned arithmetic: -INT64_MIN does not fit an int64_t. */
        return fmt_u64_put(out, 0 - (uint64_t)v);
    }
    return fmt_u64_put(out, (uint64_t)v);
}

#endif /* CTXLOG_FMT_JSON_PLAIN_H */
