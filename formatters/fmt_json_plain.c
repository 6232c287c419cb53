/* SPDX-License-Identifier: MIT */
/* The data of the number writers of fmt_json_plain.h, used by the encoder,
 * the line cache and the timestamp writer alike. */
#include "formatters/fmt_json_plain.h"

const char fmt_digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";
