/* SPDX-License-Identifier: MIT */
/*
 * JSON string literals from arbitrary bytes.
 *
 * The output is canonical: one input gives one byte sequence, and two inputs
 * that decode to the same code points give the same bytes. fmt_json.c relies
 * on that to detect duplicate keys by comparing escaped bytes.
 *
 * Invalid UTF-8 becomes U+FFFD, one per "maximal subpart of an ill-formed
 * subsequence" (Unicode 15, section 3.9, and Table 3-7): a lead byte followed
 * by as many bytes as still could complete a well-formed sequence is replaced
 * by a single U+FFFD; decoding resumes at the first byte that broke it.
 */
#include "formatters/fmt_json.h"
#include "formatters/fmt_json_plain.h"

#include "ctx/ctx_utf8.h"

#include <stdint.h>
#include <string.h>

/* Input bytes handled per reservation. Every input byte yields at most six
 * output bytes (a control byte becomes \u00XX), so reserving per chunk bounds
 * the slack to ~6 x CHUNK instead of 6 x the whole (maybe 1 MiB) string. */
#define CHUNK 65536

/* Escape one ASCII byte that is not plain. Returns the new end. */
static char *escape_ascii(char *out, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    char shortform = 0;

    switch (c) {
    case '"': shortform = '"'; break;
    case '\\': shortform = '\\'; break;
    case '\b': shortform = 'b'; break;
    case '\f': shortform = 'f'; break;
    case '\n': shortform = 'n'; break;
    case '\r': shortform = 'r'; break;
    case '\t': shortform = 't'; break;
    default: break;
    }
    *out++ = '\\';
    if (shortform) {
        *out++ = shortform;
        return out;
    }
    memcpy(out, "u00", 3);
    out[3] = hex[c >> 4];
    out[4] = hex[c & 15];
    return out + 5;
}

static void json_string_escaped(fmt_buf *b, const unsigned char *s, size_t len);

void fmt_json_string(fmt_buf *b, const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;

    if (!s)
        len = 0;
    /* Most strings are short and need no escaping: check, then copy. */
    if (len <= 256 && fmt_all_plain(s, len)) {
        if (fmt_buf_reserve(b, len + 2))
            return;
        b->len = (size_t)(fmt_plain_string_put(b->data + b->len, s, len) - b->data);
        return;
    }
    json_string_escaped(b, s, len);
}

/* The general case: escape what must be, replace invalid UTF-8. */
static void json_string_escaped(fmt_buf *b, const unsigned char *s, size_t len)
{
    size_t i = 0;

    fmt_buf_putc(b, '"');
    while (i < len) {
        size_t chunk = len - i < CHUNK ? len - i : CHUNK;
        /* +3: the last item may start inside the chunk and run 3 bytes past. */
        if (fmt_buf_reserve(b, (chunk + 3) * 6))
            return;
        char *out = b->data + b->len;
        size_t stop = i + chunk;
        size_t run = i; /* start of bytes to copy as they are */

        while (i < stop) {
            while (i + 8 <= stop && !has_special(load64(s + i)))
                i += 8;
            while (i < stop && fmt_plain[s[i]])
                i++;
            if (i >= stop)
                break;

            unsigned char c = s[i];
            if (c < 0x80) {
                memcpy(out, s + run, i - run);
                out = escape_ascii(out + (i - run), c);
                run = ++i;
                continue;
            }
            int ok;
            size_t k = ctx__utf8_item(s + i, len - i, &ok);
            /* JSON allows raw U+2028/U+2029, JavaScript string literals did
             * not; escaping them keeps the line safe to embed anywhere. */
            int line_sep = ok && k == 3 && c == 0xE2 && s[i + 1] == 0x80 && (s[i + 2] & 0xFE) == 0xA8;
            if (ok && !line_sep) {
                i += k; /* well-formed: part of the verbatim run */
                continue;
            }
            memcpy(out, s + run, i - run);
            out += i - run;
            if (line_sep) {
                memcpy(out, s[i + 2] == 0xA8 ? "\\u2028" : "\\u2029", 6);
                out += 6;
            } else {
                memcpy(out, "\xEF\xBF\xBD", 3);
                out += 3;
            }
            i += k;
            run = i;
        }
        memcpy(out, s + run, i - run);
        out += i - run;
        b->len = (size_t)(out - b->data);
    }
    fmt_buf_putc(b, '"');
}
