/* SPDX-License-Identifier: MIT */
/*
 * A configuration file is read in blocks, not a byte per read(2): this
 * test's own read() (which the library and jansson call instead of libc's)
 * counts the calls while a 1 MiB file is loaded. Parse errors keep their
 * line and column.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include <ctxlog/ctxlog.h>

#include "support.h"

static atomic_long reads;

/* Every read(2) of the process, counted. */
ssize_t read(int fd, void *buf, size_t n)
{
    atomic_fetch_add(&reads, 1);
    return syscall(SYS_read, fd, buf, n);
}

#define PAD (1u << 20)

/* A file of `before`, PAD spaces and `after`; the caller frees the path. */
static char *padded_file(const char *name, const char *before, const char *after)
{
    char *path = ts_temp_path(name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(before, f);
    for (unsigned i = 0; i < PAD / 64; i++)
        fputs("                                                               \n", f);
    fputs(after, f);
    assert_int_equal(fclose(f), 0);
    return path;
}

static void test_config_read__a_mebibyte_in_few_reads(void **state)
{
    (void)state;
    char *log_path = ts_temp_path("config_read.log");
    char head[512];
    snprintf(head, sizeof head,
             "{\"level\": \"warn\", \"sinks\": {\"f\": {\"type\": \"file\", \"path\": \"%s\"}},",
             log_path);
    char *path = padded_file("config_read.json", head, "\"loggers\": {\"root\": {\"sinks\": [\"f\"]}}}\n");
    atomic_store(&reads, 0);
    assert_int_equal(log_config_load(path, NULL), 0);
    long n = atomic_load(&reads);
    assert_true(n >= 1);
    assert_true(n < 64); /* a byte per call would be over a million */
    assert_int_equal(log_level_get(), LOG_LEVEL_WARN);
    log_warn("configured");
    json_t *recs = ts_log_collect(log_path);
    assert_int_equal(json_array_size(recs), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(recs, 0), "msg")),
                        "configured");
    json_decref(recs);
    ts_unlink(path);
    free(path);
}

static void test_config_read__error_position_after_the_padding(void **state)
{
    (void)state;
    char *path = padded_file("config_read_bad.json", "{\"level\": \"info\",\n", "  \"sinks\": }\n");
    log_config_error err;
    atomic_store(&reads, 0);
    assert_int_equal(log_config_load(path, &err), CTXLOG_ECONFIG);
    assert_true(atomic_load(&reads) < 64);
    /* Line 1 the head, PAD/64 lines of spaces, then the bad line. */
    assert_int_equal(err.line, 1 + PAD / 64 + 1);
    assert_int_equal(err.column, 12); /* at the '}' */
    ts_unlink(path);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_read__a_mebibyte_in_few_reads),
        cmocka_unit_test(test_config_read__error_position_after_the_padding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
