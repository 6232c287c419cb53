/* SPDX-License-Identifier: MIT */
/* The UTF-8 decoder (ctx_utf8.h), and the validation of ids built on it. */
#include "ctx/ctx_utf8.h"

size_t ctx__utf8_item(const unsigned char *p, size_t n, int *ok)
{
    unsigned c = p[0];
    unsigned lo = 0x80, hi = 0xBF; /* Table 3-7 range of the second byte */
    size_t need;

    *ok = 0;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0)
            lo = 0xA0; /* below: overlong */
        else if (c == 0xED)
            hi = 0x9F; /* above: surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0)
            lo = 0x90; /* below: overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* above: > U+10FFFF */
    } else {
        return 1; /* stray continuation, C0, C1, F5..FF */
    }
    if (n < 2 || p[1] < lo || p[1] > hi)
        return 1;
    size_t k = 2;
    while (k < need && k < n && (p[k] & 0xC0) == 0x80)
        k++;
    *ok = k == need;
    return k;
}

int ctx__text_clean(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f)
                return 0;
            i++;
            continue;
        }
        int ok;
        size_t k = ctx__utf8_item(s + i, len - i, &ok);
        /* C1 controls U+0080..U+009F are C2 80..C2 9F. */
        if (!ok || (c == 0xc2 && s[i + 1] < 0xa0))
            return 0;
        i += k;
    }
    return 1;
}
