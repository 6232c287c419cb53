/* SPDX-License-Identifier: MIT */
/* The complete programs of README.md (its "```c program" blocks, extracted
 * and built by tests/readme_programs.cmake) run as they stand: each, started
 * from an empty working directory without CTXLOG_* variables, exits 0, says
 * nothing on stderr, and everything it wrote (stdout, and every file it left
 * in its directory) is JSON records, at least one in all. And the build holds
 * every marked block of README.md, so none can be skipped unnoticed. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <jansson.h>

#include "support.h"

#ifndef README_PATH
#error "README_PATH must name README.md"
#endif
#ifndef README_PROGRAMS
#error "README_PROGRAMS must list the built programs, separated by ':'"
#endif

#define MARKER "\n```c program\n"

static size_t count_programs(const char *list)
{
    size_t n = 1;
    for (const char *p = list; *p; p++)
        n += *p == ':';
    return *list ? n : 0;
}

static void test_readme_programs__every_marked_block_is_built(void **state)
{
    (void)state;
    size_t len;
    char *text = ts_read_file(README_PATH, &len);
    assert_non_null(text);
    size_t marked = 0;
    for (const char *p = text; (p = strstr(p, MARKER)) != NULL; p += strlen(MARKER))
        marked++;
    free(text);
    assert_true(marked > 0);
    /* Fails when README.md gained or lost a program since the last configure. */
    assert_int_equal(marked, count_programs(README_PROGRAMS));
}

/* Every record a program left in `dir` (each regular file must be JSON lines). */
static size_t records_in_dir(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        json_t *recs = ts_read_records(path);
        n += json_array_size(recs);
        json_decref(recs);
    }
    closedir(d);
    return n;
}

static void run_one(const char *prog, size_t index)
{
    char name[64];
    snprintf(name, sizeof name, "readme-program-%zu", index);
    char *dir = ts_temp_path(name);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(name, sizeof name, "readme-program-%zu.stdout", index);
    char *out = ts_temp_path(name);
    snprintf(name, sizeof name, "readme-program-%zu.stderr", index);
    char *err = ts_temp_path(name);

    char cmd[16384];
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' >'%s' 2>'%s'", dir, prog, out, err);
    int status = system(cmd);
    size_t len;
    char *err_text = ts_read_file(err, &len);
    assert_non_null(err_text);
    if (status != 0 || len != 0)
        fail_msg("README program %zu (%s): status %d, stderr: %.2000s", index, prog, status,
                 err_text);
    free(err_text);

    json_t *recs = ts_read_records(out);
    size_t n = json_array_size(recs) + records_in_dir(dir);
    json_decref(recs);
    if (n == 0)
        fail_msg("README program %zu (%s) logged nothing", index, prog);
    free(dir);
    free(out);
    free(err);
}

static void test_readme_programs__each_runs_and_logs_json(void **state)
{
    (void)state;
    static const char *const vars[] = {"CTXLOG_CONFIG", "CTXLOG_LEVEL", "CTXLOG_FORMAT",
                                       "CTXLOG_OUTPUT", "CTXLOG_ASYNC"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
    char *list = strdup(README_PROGRAMS);
    assert_non_null(list);
    size_t index = 0;
    char *save = NULL;
    for (char *prog = strtok_r(list, ":", &save); prog; prog = strtok_r(NULL, ":", &save))
        run_one(prog, ++index);
    assert_int_equal(index, count_programs(README_PROGRAMS));
    free(list);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_readme_programs__every_marked_block_is_built),
        cmocka_unit_test(test_readme_programs__each_runs_and_logs_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
