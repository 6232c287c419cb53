/* SPDX-License-Identifier: MIT */
/*
 * The library's one UTF-8 decoder (private): Unicode's well-formed byte
 * sequences (Table 3-7) and the maximal ill-formed subparts (section 3.9)
 * that the formatters replace by U+FFFD. The context store validates ids
 * with it, the formatters escape and check text with it.
 */
#ifndef CTXLOG_CTX_UTF8_H
#define CTXLOG_CTX_UTF8_H

#include <stddef.h>

/*
 * Length of the UTF-8 item at p (n > 0 bytes available; p[0] >= 0x80). Sets
 * *ok when it is a well-formed sequence; otherwise the return value is the
 * length of the maximal ill-formed subpart, always >= 1.
 */
size_t ctx__utf8_item(const unsigned char *p, size_t n, int *ok);

/* Whether s[0, len) is well-formed UTF-8 without C0 or C1 control
 * characters or DEL (what an id may hold). */
int ctx__text_clean(const char *s, size_t len);

#endif /* CTXLOG_CTX_UTF8_H */
