/* SPDX-License-Identifier: MIT */
/*
 * An independent check of the JSON formatter, shared by test_fmt_json and the
 * fuzz target: format a record, parse the line back with jansson, and compare
 * every member with what the record says it should be. The expectations are
 * computed here from scratch (own UTF-8 decoder, own rename rule on decoded
 * keys), never by calling the formatter's helpers.
 */
#ifndef CTXLOG_JSON_RECORD_CHECK_H
#define CTXLOG_JSON_RECORD_CHECK_H

#include <stddef.h>

#include <jansson.h>

#include "formatters/fmt_json.h"

/*
 * Reference sanitizer: decode `len` bytes one code point at a time and return
 * the text a JSON parser must read back from the formatter's string, as UTF-8
 * (every maximal ill-formed subpart replaced by U+FFFD, nothing escaped).
 * Returns a malloc'd buffer (NUL-terminated, *out_len bytes before the NUL),
 * or NULL when out of memory.
 */
char *jrc_sanitize(const char *s, size_t len, size_t *out_len);

/* Number of U+FFFD the reference sanitizer puts in for `len` bytes. */
size_t jrc_replacement_count(const char *s, size_t len);

/* Optional members to ask the formatter for. These were the formatter's own
 * flags before log_json_options; the checker keeps them (and their names,
 * which the fuzz target uses) because it checks the default preset only:
 * the ECS and OTel presets are covered by test_fmt_presets. */
enum jrc_flags {
    FMT_JSON_CALLSITE = 1u << 0, /* "file", "line", "func" (when r->file is set) */
    FMT_JSON_THREAD = 1u << 1,   /* "thread_id" */
};

/*
 * Append the record to `b` with fmt_json_record() under the default preset,
 * with the optional members chosen by `flags`, and check the
 * new line: one '\n' at the end and no other control byte, valid UTF-8 with
 * DEL and U+2028/U+2029 escaped, parses with JSON_REJECT_DUPLICATES, members
 * in the documented order under the documented (renamed) keys, every value
 * equal to the record's.
 * On success returns 0 and, when `out` is not NULL, stores the parsed object
 * there (the caller json_decref's it). On mismatch returns -1 and describes
 * the first difference in `err`.
 */
int jrc_check_record(const log_record *r, unsigned flags, fmt_buf *b, json_t **out, char *err,
                     size_t errsz);

#endif /* CTXLOG_JSON_RECORD_CHECK_H */
