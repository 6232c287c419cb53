/* SPDX-License-Identifier: MIT */
/* Helpers shared by the tests: temporary files, capturing a file descriptor,
 * and reading log output back as parsed JSON records (never grepped). */
#ifndef CTXLOG_TEST_SUPPORT_H
#define CTXLOG_TEST_SUPPORT_H

#include <jansson.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" { /* tests/test_header_cpp.cpp uses them too */
#endif

/* A fresh path in a private temporary directory (not created). Free it. */
char *ts_temp_path(const char *name);

/* Point `fd` (1 or 2) at a new file `path` until ts_capture_end(). */
typedef struct ts_capture {
    int fd;
    int saved;
} ts_capture;
ts_capture ts_capture_begin(int fd, const char *path);
void ts_capture_end(ts_capture *c);

/* The whole file as a NUL-terminated string (NULL if unreadable); *len set. */
char *ts_read_file(const char *path, size_t *len);

/* Parse every line of `path` with jansson. Each line must be a JSON object,
 * '\n'-terminated, with no duplicate keys; a line that is not fails the
 * test. Returns a JSON array of the records (caller owns it). */
json_t *ts_read_records(const char *path);
/* Lines in `path` now (0 when it does not exist), for polling while another
 * thread may be writing it; the records are parsed once writing is over. */
size_t ts_count_lines(const char *path);

/* Send the records at info and above to a fresh file `name` in the private
 * temporary directory (log_output_set, log_level_set). Returns its path, for
 * ts_log_collect(). */
char *ts_log_to_file(const char *name);

/* log_flush() (which must succeed) and log_shutdown(), then the records of
 * the file at `path` (ts_read_records); removes the file and frees `path`. */
json_t *ts_log_collect(char *path);

/* A socket of `type` (SOCK_DGRAM, SOCK_STREAM) bound to a free port of
 * 127.0.0.1, close-on-exec; *port gets the port. Fails the test when it
 * cannot be made. */
int ts_loopback_socket(int type, unsigned *port);

/* Remove a file and ignore errors. */
void ts_unlink(const char *path);

#ifdef __cplusplus
}
#endif

#endif
