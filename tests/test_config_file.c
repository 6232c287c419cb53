/* SPDX-License-Identifier: MIT */
/* log_config_load() end to end: a valid file routes records by logger and
 * sink as written; every kind of bad file is rejected whole, with the
 * previous configuration left in force, its error filled and exactly one
 * line on stderr. Every JSON line produced is parsed back with jansson. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include <ctxlog/ctxlog.h>

#include "log/sinks/sink_kind.h"
#include "support.h"

#ifndef CTXLOG_EXAMPLE_CONFIG
#error "CTXLOG_EXAMPLE_CONFIG must name examples/ctxlog.json"
#endif

/* ---- helpers ------------------------------------------------------------------- */

/* The private temporary directory, without the trailing slash. */
static const char *tmp_dir(void)
{
    static char dir[256];
    if (!dir[0]) {
        char *p = ts_temp_path("");
        size_t n = strlen(p);
        assert_true(n > 1 && n < sizeof dir);
        memcpy(dir, p, n - 1); /* drop the '/' */
        dir[n - 1] = '\0';
        free(p);
    }
    return dir;
}

/* A path in the temporary directory, with no file there yet. */
static char *fresh(const char *name)
{
    char *p = ts_temp_path(name);
    ts_unlink(p);
    return p;
}

/* Write `text` to the file `name`, every "@DIR@" replaced by the temporary
 * directory. Returns its path. */
static char *write_config(const char *name, const char *text)
{
    char *path = fresh(name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    const char *dir = tmp_dir();
    for (const char *s = text; *s;) {
        if (strncmp(s, "@DIR@", 5) == 0) {
            fputs(dir, f);
            s += 5;
        } else {
            fputc(*s++, f);
        }
    }
    assert_int_equal(fclose(f), 0);
    return path;
}

static void load_ok(const char *name, const char *text)
{
    char *cfg = write_config(name, text);
    log_config_error err;
    int rc = log_config_load(cfg, &err);
    if (rc != 0)
        fail_msg("%s rejected (%d): %s:%d:%d: %s: %s", name, rc, err.file, err.line, err.column,
                 err.key, err.text);
    free(cfg);
}

static json_t *records_of(const char *path)
{
    assert_int_equal(log_flush(), 0);
    return ts_read_records(path);
}

static const char *str_of(const json_t *rec, const char *key)
{
    return json_string_value(json_object_get(rec, key));
}

/* `key` as a flat member ("log.level") or nested ({"log":{"level":…}}). */
static const json_t *member(const json_t *rec, const char *key)
{
    const json_t *v = json_object_get(rec, key);
    if (v)
        return v;
    const char *dot = strchr(key, '.');
    if (!dot)
        return NULL;
    char head[64];
    size_t n = (size_t)(dot - key);
    assert_true(n < sizeof head);
    memcpy(head, key, n);
    head[n] = '\0';
    const json_t *inner = json_object_get(rec, head);
    return json_is_object(inner) ? member(inner, dot + 1) : NULL;
}

/* Whether some value anywhere in `v` is the integer `want`. */
static int has_integer(const json_t *v, json_int_t want)
{
    if (json_is_integer(v))
        return json_integer_value(v) == want;
    const char *k;
    const json_t *x;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, x) {
            if (has_integer(x, want))
                return 1;
        }
    }
    return 0;
}

/* Whether some string value anywhere in `v` ends with `suffix`. */
static int has_string_ending(const json_t *v, const char *suffix)
{
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t n = strlen(s), m = strlen(suffix);
        return n >= m && strcmp(s + n - m, suffix) == 0;
    }
    const char *k;
    const json_t *x;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, x) {
            if (has_string_ending(x, suffix))
                return 1;
        }
    }
    return 0;
}

/* Whether some string value anywhere in `v` is `want`. */
static int has_string(const json_t *v, const char *want)
{
    if (json_is_string(v))
        return strcmp(json_string_value(v), want) == 0;
    const char *k;
    const json_t *x;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, x) {
            if (has_string(x, want))
                return 1;
        }
    }
    return 0;
}

/* The messages of default-preset records, in order, as "logger:msg|…". */
static void expect_msgs(const char *path, const char *want)
{
    json_t *recs = records_of(path);
    char got[1024] = "";
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r) {
        const char *lg = str_of(r, "logger"), *msg = str_of(r, "msg");
        assert_non_null(lg);
        assert_non_null(msg);
        size_t len = strlen(got);
        snprintf(got + len, sizeof got - len, "%s%s:%s", i ? "|" : "", lg, msg);
    }
    assert_string_equal(got, want);
    json_decref(recs);
}

/* The lines of a text file (console output), each '\n'-terminated. */
static size_t split_lines(char *text, char **lines, size_t max)
{
    size_t n = 0;
    for (char *s = text; *s;) {
        char *nl = strchr(s, '\n');
        assert_non_null(nl); /* every line is terminated */
        *nl = '\0';
        assert_true(n < max);
        lines[n++] = s;
        s = nl + 1;
    }
    return n;
}

static void expect_not_json(const char *line)
{
    json_error_t jerr;
    json_t *j = json_loads(line, JSON_DECODE_ANY, &jerr);
    if (j)
        fail_msg("console line parsed as JSON: %s", line);
}

/* ---- valid files ----------------------------------------------------------------- */

/* Runs first, before any record: the implicit read of the environment at the
 * first record must not undo a file loaded before it. */
static void test_config_file__loaded_before_first_record_beats_environment(void **state)
{
    (void)state;
    char *file_log = fresh("first.log"), *env_log = fresh("first-env.log");
    setenv("CTXLOG_LEVEL", "error", 1);
    setenv("CTXLOG_OUTPUT", env_log, 1);
    load_ok("first.json",
            "{\"level\": \"debug\","
            " \"sinks\": {\"f\": {\"type\": \"file\", \"path\": \"@DIR@/first.log\"}},"
            " \"loggers\": {\"root\": {\"sinks\": [\"f\"]}}}");
    log_debug("first record");
    unsetenv("CTXLOG_LEVEL");
    unsetenv("CTXLOG_OUTPUT");
    assert_int_equal(log_level_get(), LOG_LEVEL_DEBUG);
    expect_msgs(file_log, "root:first record");
    struct stat st;
    assert_int_equal(stat(env_log, &st), -1);
    free(file_log);
    free(env_log);
}

static void test_config_file__ctxlog_config_names_the_file(void **state)
{
    (void)state;
    char *out = fresh("envcfg.log");
    char *cfg = write_config("envcfg.json",
                             "{\"sinks\": {\"f\": {\"type\": \"file\", \"path\": \"@DIR@/envcfg.log\"}},"
                             " \"loggers\": {\"root\": {\"level\": \"warn\", \"sinks\": [\"f\"]}}}");
    setenv("CTXLOG_CONFIG", cfg, 1);
    int rc = log_configure_env();
    unsetenv("CTXLOG_CONFIG");
    assert_int_equal(rc, 0);
    log_info("hidden");
    log_warn("from CTXLOG_CONFIG");
    expect_msgs(out, "root:from CTXLOG_CONFIG");
    free(cfg);
    free(out);
}

static void test_config_file__full_config_routes_by_logger_and_sink(void **state)
{
    (void)state;
    char *main_log = fresh("full-main.log"), *db_log = fresh("full-db.log"),
         *human_log = fresh("full-human.log");
    load_ok("full.json",
            "{\n"
            "  \"level\": \"info\",\n"
            "  \"sinks\": {\n"
            "    \"main\": {\"type\": \"file\", \"path\": \"@DIR@/full-main.log\", \"level\": \"debug\"},\n"
            "    \"db\": {\"type\": \"file\", \"path\": \"@DIR@/full-db.log\", \"format\": \"json\",\n"
            "           \"preset\": \"ecs\", \"callsite\": true, \"thread_id\": true,\n"
            "           \"max_bytes\": 1048576, \"backups\": 3},\n"
            "    \"human\": {\"type\": \"file\", \"path\": \"@DIR@/full-human.log\", \"format\": \"console\",\n"
            "              \"color\": \"never\", \"level\": \"warn\"}\n"
            "  },\n"
            "  \"loggers\": {\n"
            "    \"root\": {\"level\": \"info\", \"sinks\": [\"main\", \"human\"]},\n"
            "    \"app.db\": {\"level\": \"debug\", \"sinks\": [\"db\"], \"additive\": false},\n"
            "    \"app.http\": {\"level\": \"warn\"}\n"
            "  }\n"
            "}\n");
    log_logger *db = log_get("app.db"), *pool = log_get("app.db.pool"),
               *http = log_get("app.http");
    assert_int_equal(log_logger_level(db), LOG_LEVEL_DEBUG);
    assert_int_equal(log_logger_level(pool), LOG_LEVEL_DEBUG); /* inherited */
    assert_int_equal(log_logger_level(http), LOG_LEVEL_WARN);
    assert_int_equal(log_level_get(), LOG_LEVEL_INFO);

    log_debug("root debug");     /* below the root's level */
    log_info("root info");       /* main only: human is warn */
    log_warn("root warn");       /* main and human */
    log_debug_to(db, "db debug"); /* db only: app.db is not additive */
    log_info_to(pool, "pool info"); /* db only, through app.db */
    log_info_to(http, "http info"); /* below app.http's level */
    log_error_to(http, "http error"); /* main and human, through the root */

    expect_msgs(main_log, "root:root info|root:root warn|app.http:http error");

    json_t *recs = records_of(db_log);
    assert_int_equal(json_array_size(recs), 2);
    const char *want[] = {"db debug", "pool info"};
    const char *want_level[] = {"debug", "info"};
    const char *want_logger[] = {"app.db", "app.db.pool"};
    for (size_t i = 0; i < 2; i++) {
        const json_t *r = json_array_get(recs, i);
        /* ECS names, not the default ones. */
        assert_null(json_object_get(r, "msg"));
        assert_null(json_object_get(r, "ts"));
        assert_non_null(member(r, "@timestamp"));
        assert_string_equal(json_string_value(member(r, "message")), want[i]);
        assert_string_equal(json_string_value(member(r, "log.level")), want_level[i]);
        assert_string_equal(json_string_value(member(r, "log.logger")), want_logger[i]);
        assert_true(has_string_ending(r, "test_config_file.c")); /* callsite */
        assert_true(has_integer(r, (json_int_t)syscall(SYS_gettid))); /* thread_id */
    }
    json_decref(recs);

    /* Console: one line per record, for people, not JSON, no colour. */
    size_t len;
    char *text = ts_read_file(human_log, &len);
    assert_non_null(text);
    char *lines[8] = {NULL};
    size_t n = split_lines(text, lines, 8);
    assert_int_equal(n, 2);
    assert_non_null(strstr(lines[0], "root warn"));
    assert_non_null(strstr(lines[1], "http error"));
    for (size_t i = 0; i < n; i++) {
        expect_not_json(lines[i]);
        assert_null(strchr(lines[i], '\033'));
    }
    free(text);
    free(main_log);
    free(db_log);
    free(human_log);
}

static void test_config_file__root_without_sinks_writes_json_to_stdout(void **state)
{
    (void)state;
    char *out = fresh("zero.stdout");
    ts_capture cap = ts_capture_begin(1, out);
    load_ok("zero.json", "{\"level\": \"warn\"}");
    log_info("hidden");
    log_warn("shown");
    /* A root entry without a "sinks" key keeps the default too. */
    load_ok("zero2.json", "{\"loggers\": {\"root\": {\"level\": \"debug\"}}}");
    log_debug("debug shown");
    /* "sinks": [] is an explicit "nowhere". */
    load_ok("zero3.json", "{\"loggers\": {\"root\": {\"sinks\": []}}}");
    log_error("nowhere");
    assert_int_equal(log_flush(), 0);
    ts_capture_end(&cap);
    expect_msgs(out, "root:shown|root:debug shown");
    free(out);
}

static void test_config_file__load_replaces_previous_configuration(void **state)
{
    (void)state;
    char *a = fresh("replace-a.log"), *adb = fresh("replace-adb.log"),
         *b = fresh("replace-b.log");
    load_ok("replace-a.json",
            "{\"sinks\": {\"a\": {\"type\": \"file\", \"path\": \"@DIR@/replace-a.log\"},"
            "             \"adb\": {\"type\": \"file\", \"path\": \"@DIR@/replace-adb.log\"}},"
            " \"loggers\": {\"root\": {\"sinks\": [\"a\"]},"
            "               \"app.db\": {\"level\": \"debug\", \"sinks\": [\"adb\"], \"additive\": false}}}");
    log_logger *db = log_get("app.db");
    log_debug_to(db, "a debug");
    load_ok("replace-b.json",
            "{\"sinks\": {\"b\": {\"type\": \"file\", \"path\": \"@DIR@/replace-b.log\"}},"
            " \"loggers\": {\"root\": {\"sinks\": [\"b\"]}}}");
    /* app.db is back to the defaults: inherits info, no sinks, additive. */
    assert_int_equal(log_logger_level(db), LOG_LEVEL_INFO);
    log_debug_to(db, "b debug hidden");
    log_info_to(db, "b info");
    log_info("b root");
    expect_msgs(a, "");
    expect_msgs(adb, "app.db:a debug");
    expect_msgs(b, "app.db:b info|root:b root");
    free(a);
    free(adb);
    free(b);
}

static void test_config_file__sink_shared_by_loggers_writes_each_record_once(void **state)
{
    (void)state;
    char *out = fresh("shared.log");
    load_ok("shared.json",
            "{\"sinks\": {\"out\": {\"type\": \"file\", \"path\": \"@DIR@/shared.log\"}},"
            " \"loggers\": {\"root\": {\"sinks\": [\"out\"]},"
            "               \"app\": {\"sinks\": [\"out\"], \"additive\": false},"
            "               \"app.x\": {\"level\": \"error\"}}}");
    log_info("from root");
    log_info_to(log_get("app"), "from app");
    log_info_to(log_get("app.x"), "hidden");
    log_error_to(log_get("app.x"), "from app.x");
    expect_msgs(out, "root:from root|app:from app|app.x:from app.x");
    free(out);
}

static void test_config_file__file_rotation_options_are_used(void **state)
{
    (void)state;
    char *base = fresh("rot.log");
    char *names[4];
    for (int i = 0; i < 4; i++) {
        char n[32];
        snprintf(n, sizeof n, "rot.log.%d", i + 1);
        names[i] = fresh(n);
    }
    load_ok("rot.json",
            "{\"sinks\": {\"r\": {\"type\": \"file\", \"path\": \"@DIR@/rot.log\","
            "                     \"max_bytes\": 400, \"backups\": 2}},"
            " \"loggers\": {\"root\": {\"sinks\": [\"r\"]}}}");
    for (int i = 0; i < 40; i++)
        log_info("rotation record %d", i);
    assert_int_equal(log_flush(), 0);
    struct stat st;
    assert_int_equal(stat(base, &st), 0);
    assert_true(st.st_size <= 400);
    /* Two backups kept, the third dropped, every line whole. */
    assert_int_equal(stat(names[0], &st), 0);
    assert_true(st.st_size <= 400);
    assert_int_equal(stat(names[1], &st), 0);
    assert_int_equal(stat(names[2], &st), -1);
    json_t *recs = records_of(names[1]);
    json_decref(recs);
    recs = records_of(names[0]);
    json_decref(recs);
    recs = records_of(base);
    assert_true(json_array_size(recs) >= 1);
    assert_string_equal(str_of(json_array_get(recs, json_array_size(recs) - 1), "msg"),
                        "rotation record 39");
    json_decref(recs);
    free(base);
    for (int i = 0; i < 4; i++)
        free(names[i]);
}

static void test_config_file__example_file_loads_and_routes(void **state)
{
    (void)state;
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof cwd));
    char *dir = ts_temp_path("example");
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(chdir(dir), 0); /* an empty directory: the file loads as shipped */

    char *out = ts_temp_path("example.stdout"), *err = ts_temp_path("example.stderr");
    ts_capture c1 = ts_capture_begin(1, out);
    ts_capture c2 = ts_capture_begin(2, err);
    log_config_error e;
    int rc = log_config_load(CTXLOG_EXAMPLE_CONFIG, &e);
    log_info("started");
    log_error("failed");
    log_debug_to(log_get("app.db"), "query");
    log_info_to(log_get("app.http"), "hidden");
    log_warn_to(log_get("app.http"), "slow");
    assert_int_equal(log_flush(), 0);
    ts_capture_end(&c2);
    ts_capture_end(&c1);
    if (rc != 0)
        fail_msg("example rejected (%d): %s:%d:%d: %s: %s", rc, e.file, e.line, e.column, e.key,
                 e.text);

    expect_msgs("app.log", "root:started|root:failed|app.http:slow");
    json_t *recs = records_of("app.log");
    json_int_t tid = (json_int_t)syscall(SYS_gettid);
    for (size_t i = 0; i < json_array_size(recs); i++)
        assert_true(has_integer(json_array_get(recs, i), tid)); /* thread_id */
    json_decref(recs);

    recs = records_of("db.log"); /* ECS */
    assert_int_equal(json_array_size(recs), 1);
    assert_string_equal(json_string_value(member(json_array_get(recs, 0), "message")), "query");
    json_decref(recs);

    recs = records_of(out); /* the collector: errors only, OpenTelemetry names */
    assert_int_equal(json_array_size(recs), 1);
    assert_true(has_string(json_array_get(recs, 0), "failed"));
    assert_null(json_object_get(json_array_get(recs, 0), "msg"));
    json_decref(recs);

    size_t len;
    char *text = ts_read_file(err, &len); /* console, warn and up */
    assert_non_null(text);
    char *lines[8] = {NULL};
    size_t n = split_lines(text, lines, 8);
    assert_int_equal(n, 2);
    assert_non_null(strstr(lines[0], "failed"));
    assert_non_null(strstr(lines[1], "slow"));
    for (size_t i = 0; i < n; i++) {
        expect_not_json(lines[i]);
        assert_null(strchr(lines[i], '\033')); /* auto: not a terminal */
    }
    free(text);

    assert_int_equal(chdir(cwd), 0);
    free(out);
    free(err);
    free(dir);
}

/* ---- rejected files -------------------------------------------------------------- */

/* A known configuration that rejected files must leave in force: the root
 * writes to prev.log at info, app.db only from error up. */
static char *load_previous(void)
{
    char *prev = fresh("prev.log");
    load_ok("prev.json",
            "{\"sinks\": {\"prev\": {\"type\": \"file\", \"path\": \"@DIR@/prev.log\"}},"
            " \"loggers\": {\"root\": {\"sinks\": [\"prev\"]},"
            "               \"app.db\": {\"level\": \"error\"}}}");
    return prev;
}

/*
 * Load `text` (or the file `path` when given) over the previous configuration
 * and check that it is rejected with `want_rc` and `want_key` at `want_line`
 * (and `want_col` unless negative), that one line saying the same went to
 * stderr, and that records still follow the previous configuration. The bad
 * files write to @DIR@/bad.log: it must receive nothing.
 */
static void expect_rejected_at(const char *text, const char *path, int want_rc,
                               const char *want_key, int want_line, int want_col)
{
    char *prev = load_previous();
    char *bad = fresh("bad.log");
    log_logger *db = log_get("app.db");
    log_info("before");
    char *cfg = path ? strdup(path) : write_config("bad.json", text);
    assert_non_null(cfg);
    char *errpath = fresh("stderr.txt");
    log_config_error err;
    memset(&err, 0x5a, sizeof err); /* every member must be written */
    ts_capture cap = ts_capture_begin(2, errpath);
    int rc = log_config_load(cfg, &err);
    ts_capture_end(&cap);

    log_debug("debug hidden");
    log_info("after");
    log_warn_to(db, "db warn hidden");
    log_error_to(db, "db error");

    if (rc != want_rc || strcmp(err.key, want_key) != 0 || err.line != want_line)
        fail_msg("got %d key '%.128s' line %d (%.256s), want %d key '%s' line %d", rc, err.key,
                 err.line, err.text, want_rc, want_key, want_line);
    if (want_col >= 0)
        assert_int_equal(err.column, want_col);
    assert_string_equal(err.file, cfg);
    assert_true(strlen(err.text) > 0);

    /* Exactly one line: "ctxlog: <file>[:<line>[:<col>]]: [<key>: ]<text>". */
    char want[1200];
    char pos[32] = "";
    if (err.line > 0 && err.column > 0)
        snprintf(pos, sizeof pos, ":%d:%d", err.line, err.column);
    else if (err.line > 0)
        snprintf(pos, sizeof pos, ":%d", err.line);
    snprintf(want, sizeof want, "ctxlog: %s%s: %s%s%s\n", cfg, pos, err.key,
             err.key[0] ? ": " : "", err.text);
    size_t len;
    char *got = ts_read_file(errpath, &len);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);

    expect_msgs(prev, "root:before|root:after|app.db:db error");
    got = ts_read_file(bad, &len);
    if (got)
        assert_int_equal(len, 0); /* opened maybe, never written */
    free(got);
    free(cfg);
    free(errpath);
    free(bad);
    free(prev);
}

static void expect_rejected(const char *text, int want_rc, const char *want_key)
{
    expect_rejected_at(text, NULL, want_rc, want_key, 0, 0);
}

/* A root sink on bad.log that a bad file adds to whatever it gets wrong. */
#define BAD_SINK "\"bad\": {\"type\": \"file\", \"path\": \"@DIR@/bad.log\"}"
#define BAD_ROOT "\"root\": {\"level\": \"trace\", \"sinks\": [\"bad\"]}"

static void test_config_file__syntax_error_names_line_and_column(void **state)
{
    (void)state;
    expect_rejected_at("{\n"
                       "  \"level\": \"debug\",\n"
                       "  \"sinks\": {\"out\": {\"type\": \"stdout\",}}\n"
                       "}\n",
                       NULL, CTXLOG_ECONFIG, "", 3, 38);
    /* Trailing garbage and an empty file are syntax errors too. */
    expect_rejected_at("{\"level\": \"debug\"} x", NULL, CTXLOG_ECONFIG, "", 1, 20);
    expect_rejected_at("", NULL, CTXLOG_ECONFIG, "", 1, -1);
}

static void test_config_file__duplicate_key_names_line(void **state)
{
    (void)state;
    expect_rejected_at("{\n"
                       "  \"level\": \"info\",\n"
                       "  \"level\": \"debug\"\n"
                       "}\n",
                       NULL, CTXLOG_ECONFIG, "", 3, 9);
    expect_rejected_at("{\"sinks\": {" BAD_SINK ",\n" BAD_SINK "}}", NULL, CTXLOG_ECONFIG, "", 2,
                       -1);
}

static void test_config_file__unknown_top_level_key(void **state)
{
    (void)state;
    expect_rejected("{\"level\": \"debug\", \"sinks\": {" BAD_SINK "},"
                    " \"loggers\": {" BAD_ROOT "}, \"asnyc\": {\"enabled\": true}}",
                    CTXLOG_ECONFIG, "asnyc");
    /* And inside "async". */
    expect_rejected("{\"async\": {\"queue\": 1024}}", CTXLOG_ECONFIG, "async.queue");
    expect_rejected("{\"async\": {\"enabled\": 1}}", CTXLOG_ECONFIG, "async.enabled");
    expect_rejected("{\"async\": {\"queue_bytes\": 100}}", CTXLOG_ECONFIG, "async.queue_bytes");
    expect_rejected("{\"async\": {\"overflow\": \"spill\"}}", CTXLOG_ECONFIG, "async.overflow");
    expect_rejected("{\"async\": true}", CTXLOG_ECONFIG, "async");
    expect_rejected("{\"sinks\": {\"o\": {\"type\": \"stdout\", \"write_through\": true}}}",
                    CTXLOG_ECONFIG, "sinks.o.write_through");
    expect_rejected("{\"Level\": \"debug\"}", CTXLOG_ECONFIG, "Level");
}

static void test_config_file__unknown_sink_key(void **state)
{
    (void)state;
    expect_rejected("{\"sinks\": {\"out\": {\"type\": \"file\", \"path\": \"@DIR@/bad.log\","
                    " \"colour\": \"never\"}}, \"loggers\": {\"root\": {\"sinks\": [\"out\"]}}}",
                    CTXLOG_ECONFIG, "sinks.out.colour");
}

static void test_config_file__unknown_logger_key(void **state)
{
    (void)state;
    expect_rejected("{\"sinks\": {" BAD_SINK "}, \"loggers\": {" BAD_ROOT ","
                    " \"app.db\": {\"level\": \"debug\", \"propagate\": false}}}",
                    CTXLOG_ECONFIG, "loggers.\"app.db\".propagate");
}

static void test_config_file__wrong_types(void **state)
{
    (void)state;
    expect_rejected("{\"level\": 3}", CTXLOG_ECONFIG, "level");
    expect_rejected("{\"sinks\": [\"bad\"]}", CTXLOG_ECONFIG, "sinks");
    expect_rejected("{\"loggers\": \"root\"}", CTXLOG_ECONFIG, "loggers");
    expect_rejected("{\"sinks\": {\"bad\": \"stdout\"}}", CTXLOG_ECONFIG, "sinks.bad");
    expect_rejected("{\"sinks\": {\"f\": {\"type\": \"file\", \"path\": \"@DIR@/bad.log\","
                    " \"max_bytes\": \"10MB\"}}, \"loggers\": {\"root\": {\"sinks\": [\"f\"]}}}",
                    CTXLOG_ECONFIG, "sinks.f.max_bytes");
    expect_rejected("{\"sinks\": {\"f\": {\"type\": \"file\", \"path\": \"@DIR@/bad.log\","
                    " \"max_bytes\": 1.5}}, \"loggers\": {\"root\": {\"sinks\": [\"f\"]}}}",
                    CTXLOG_ECONFIG, "sinks.f.max_bytes");
    expect_rejected("{\"sinks\": {\"f\": {\"type\": \"file\", \"path\": 7}}}", CTXLOG_ECONFIG,
                    "sinks.f.path");
    expect_rejected("{\"sinks\": {\"o\": {\"type\": \"stdout\", \"callsite\": \"yes\"}}}",
                    CTXLOG_ECONFIG, "sinks.o.callsite");
    expect_rejected("{\"sinks\": {" BAD_SINK "}, \"loggers\": {\"root\": {\"sinks\": \"bad\"}}}",
                    CTXLOG_ECONFIG, "loggers.root.sinks");
    expect_rejected("{\"sinks\": {" BAD_SINK "}, \"loggers\": {\"root\": {\"sinks\": [1]}}}",
                    CTXLOG_ECONFIG, "loggers.root.sinks");
    expect_rejected("{\"loggers\": {\"app\": {\"additive\": \"no\"}}}", CTXLOG_ECONFIG,
                    "loggers.app.additive");
    expect_rejected("{\"loggers\": {\"app\": null}}", CTXLOG_ECONFIG, "loggers.app");
    expect_rejected("[]", CTXLOG_ECONFIG, "");
}

static void test_config_file__bad_level_name(void **state)
{
    (void)state;
    expect_rejected("{\"sinks\": {" BAD_SINK "}, \"loggers\": {" BAD_ROOT ","
                    " \"app.db\": {\"level\": \"verbose\"}}}",
                    CTXLOG_ECONFIG, "loggers.\"app.db\".level");
    expect_rejected("{\"level\": \"\"}", CTXLOG_ECONFIG, "level");
    expect_rejected("{\"sinks\": {\"o\": {\"type\": \"stdout\", \"level\": \"inherit\"}}}",
                    CTXLOG_ECONFIG, "sinks.o.level");
}

/* ---- the journald and syslog sinks ------------------------------------------------- */

/* A datagram the test's socket got, NUL-terminated. */
static size_t receive_dgram(int fd, char *buf, size_t cap)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 10000), 1);
    ssize_t n = recv(fd, buf, cap - 1, 0);
    assert_true(n > 0);
    buf[n] = '\0';
    return (size_t)n;
}

static void test_config_file__journald_and_syslog_sinks(void **state)
{
    (void)state;
    /* Sockets of the test's own stand in for the daemons' here (the
     * daemons themselves: test_sink_journald, test_sink_syslog). */
    unsigned uport;
    int u = ts_loopback_socket(SOCK_DGRAM, &uport);
    char *jpath = fresh("journal.sock");
    int j = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    snprintf(un.sun_path, sizeof un.sun_path, "%s", jpath);
    assert_int_equal(bind(j, (struct sockaddr *)&un, sizeof un), 0);

    char text[1024];
    snprintf(text, sizeof text,
             "{\"sinks\": {"
             "  \"journal\": {\"type\": \"journald\", \"socket_path\": \"@DIR@/journal.sock\","
             "                \"identifier\": \"cfg-ident\", \"timeout_ms\": 500, \"level\": \"warn\"},"
             "  \"syslog\": {\"type\": \"syslog\", \"transport\": \"udp\", \"host\": \"127.0.0.1\","
             "               \"port\": %u, \"facility\": \"local0\", \"app_name\": \"cfg-app\","
             "               \"hostname\": \"cfg-host\", \"enterprise_id\": 12345,"
             "               \"callsite\": true}},"
             " \"loggers\": {\"root\": {\"level\": \"info\", \"sinks\": [\"journal\", \"syslog\"]}}}",
             uport);
    load_ok("pipeline.json", text);
    {
        CTX_REQUEST("cfg-1", NULL, NULL);
        log_info_kv("info to syslog only", LOG_STR("k", "v"));
        log_warn_kv("warn to both", LOG_STR("k", "w"));
    }
    char buf[4096];
    /* syslog: local0 (16) * 8 + info (6) = 134. */
    receive_dgram(u, buf, sizeof buf);
    const char *head = "<134>1 ";
    assert_memory_equal(buf, head, strlen(head));
    char want[128];
    snprintf(want, sizeof want, " cfg-host cfg-app %ld root [ctx@12345 request_id=\"cfg-1\"] {",
             (long)getpid());
    const char *at = strstr(buf, want);
    assert_non_null(at);
    json_error_t jerr;
    json_t *rec = json_loads(at + strlen(want) - 1, 0, &jerr);
    assert_non_null(rec);
    assert_string_equal(json_string_value(json_object_get(rec, "msg")), "info to syslog only");
    assert_string_equal(json_string_value(json_object_get(rec, "func")),
                        "test_config_file__journald_and_syslog_sinks"); /* "callsite" */
    json_decref(rec);
    receive_dgram(u, buf, sizeof buf);
    assert_memory_equal(buf, "<132>1 ", 7);
    /* journald: the warning alone (its level), its fields. */
    receive_dgram(j, buf, sizeof buf);
    assert_memory_equal(buf, "MESSAGE=warn to both\nPRIORITY=4\nSYSLOG_IDENTIFIER=cfg-ident\n",
                        strlen("MESSAGE=warn to both\nPRIORITY=4\nSYSLOG_IDENTIFIER=cfg-ident\n"));
    assert_non_null(strstr(buf, "\nREQUEST_ID=cfg-1\nK=w\n"));
    assert_int_equal(recv(j, buf, sizeof buf, MSG_DONTWAIT), -1);
    log_shutdown();
    close(u);
    close(j);
    ts_unlink(jpath);
    free(jpath);
}

static void test_config_file__journald_and_syslog_keys_checked(void **state)
{
    (void)state;
#define USED(sink) sink "}, \"loggers\": {\"root\": {\"sinks\": [\"s\"]}}}"
    expect_rejected("{\"sinks\": {\"s\": {\"type\": \"journald\", \"format\": \"json\"}}}",
                    CTXLOG_ECONFIG, "sinks.s.format");
    expect_rejected("{\"sinks\": {\"s\": {\"type\": \"journald\", \"path\": \"/x\"}}}",
                    CTXLOG_ECONFIG, "sinks.s.path");
    expect_rejected("{\"sinks\": {\"s\": {\"type\": \"journald\", \"socket_path\": \"\"}}}",
                    CTXLOG_ECONFIG, "sinks.s.socket_path");
    expect_rejected("{\"sinks\": {\"s\": {\"type\": \"journald\", \"identifier\": 3}}}",
                    CTXLOG_ECONFIG, "sinks.s.identifier");
    expect_rejected("{\"sinks\": {\"s\": {\"type\": \"stdout\", \"identifier\": \"x\"}}}",
                    CTXLOG_ECONFIG, "sinks.s.identifier");
    expect_rejected("{\"sinks\": {\"s\": {\"type\": \"file\", \"path\": \"@DIR@/bad.log\","
                    " \"host\": \"x\"}}}",
                    CTXLOG_ECONFIG, "sinks.s.host");
    expect_rejected("{\"sinks\": {\"s\": {\"type\": \"syslog\", \"transport\": \"tls\"}}}",
                    CTXLOG_ECONFIG, "sinks.s.transport");
    expect_rejected("{\"sinks\": {\"s\": {\"type\": \"syslog\", \"host\": \"x\"}}}",
                    CTXLOG_ECONFIG, "sinks.s.host");
    expect_rejected("{\"sinks\": {\"s\": {\"type\": \"syslog\", \"transport\": \"udp\","
                    " \"path\": \"/dev/log\"}}}",
                    CTXLOG_ECONFIG, "sinks.s.path");
    expect_rejected("{\"sinks\": {\"s\": {\"type\": \"syslog\", \"transport\": \"udp\","
                    " \"queue_max\": 10}}}",
                    CTXLOG_ECONFIG, "sinks.s.queue_max");
    expect_rejected("{\"sinks\": {\"s\": {\"type\": \"syslog\", \"transport\": \"tcp\","
                    " \"port\": 0}}}",
                    CTXLOG_ECONFIG, "sinks.s.port");
    expect_rejected("{\"sinks\": {\"s\": {\"type\": \"syslog\", \"transport\": \"tcp\","
                    " \"port\": \"514\"}}}",
                    CTXLOG_ECONFIG, "sinks.s.port");
    expect_rejected("{\"sinks\": {\"s\": {\"type\": \"syslog\", \"facility\": \"kern\"}}}",
                    CTXLOG_ECONFIG, "sinks.s.facility");
    expect_rejected("{\"sinks\": {\"s\": {\"type\": \"syslog\", \"enterprise_id\": 0}}}",
                    CTXLOG_ECONFIG, "sinks.s.enterprise_id");
    expect_rejected("{\"sinks\": {\"s\": {\"type\": \"syslog\", \"timeout_ms\": 0}}}",
                    CTXLOG_ECONFIG, "sinks.s.timeout_ms");
    expect_rejected("{\"sinks\": {\"s\": {\"type\": \"syslog\", \"app_name\": \"\"}}}",
                    CTXLOG_ECONFIG, "sinks.s.app_name");
    /* Found when the sink is made: a host that does not resolve. */
    expect_rejected(USED("{\"sinks\": {\"s\": {\"type\": \"syslog\", \"transport\": \"tcp\","
                         " \"host\": \"no-such-host.invalid\"}"),
                    CTXLOG_EIO, "sinks.s.host");
#undef USED
}

/* ---- a kind added from outside the library (as the OTLP sink's library does) ---- */

typedef struct probe_conf {
    const char *path;
    unsigned copies;
    int mode; /* 0: not given, else 1 + index */
} probe_conf;

static const char *const probe_modes[] = {"fast", "safe", NULL};
static const log__sink_key probe_keys[] = {
    {.name = "path", .type = LOG__KEY_STRING, .offset = offsetof(probe_conf, path),
     .required = true, .nonempty = true},
    {.name = "copies", .type = LOG__KEY_INT, .offset = offsetof(probe_conf, copies),
     .size = sizeof(unsigned), .min = 1, .max = 9, .range = "from 1 to 9"},
    {.name = "mode", .type = LOG__KEY_ENUM, .offset = offsetof(probe_conf, mode),
     .size = sizeof(int), .names = probe_modes, .what = "probe mode", .base = 1},
    {.name = NULL},
};
static probe_conf probe_made;
static char probe_path[512]; /* the file's strings live only while it loads */

static const char *probe_check(void *opts, unsigned given, const char **key)
{
    probe_conf *c = opts;
    if (!(given & 2u))
        c->copies = 1; /* the default */
    if (c->mode == 2 && c->copies < 2) {
        *key = "copies";
        return "must be 2 or more in safe mode";
    }
    return NULL;
}

static int probe_make(const void *opts, log_sink **out, log__sink_why *why)
{
    (void)why;
    probe_made = *(const probe_conf *)opts;
    snprintf(probe_path, sizeof probe_path, "%s", probe_made.path);
    probe_made.path = probe_path;
    return log_sink_file(out, probe_path, NULL);
}

static const log__sink_kind probe_kind = {
    .type = "probe",
    .keys = probe_keys,
    .opts_size = sizeof(probe_conf),
    .formatted = true,
    .check = probe_check,
    .make = probe_make,
};

static void test_config_file__kind_added_from_outside(void **state)
{
    (void)state;
    assert_int_equal(log__sink_kind_add(&probe_kind), 0);
    assert_int_equal(log__sink_kind_add(&probe_kind), 0); /* this kind again: nothing */
    log__sink_kind other = probe_kind;                    /* another of a type taken */
    assert_int_equal(log__sink_kind_add(&other), CTXLOG_EINVAL);
    other.type = "file";
    assert_int_equal(log__sink_kind_add(&other), CTXLOG_EINVAL);
    assert_int_equal(log__sink_kind_add(NULL), CTXLOG_EINVAL);
    /* Its keys are read into its options, its check fills defaults, it
     * makes the sink, and the formatter keys apply to it. */
    char *path = fresh("probe.log");
    char text[1024];
    snprintf(text, sizeof text,
             "{\"sinks\": {\"p\": {\"type\": \"probe\", \"path\": \"%s\", \"mode\": \"fast\","
             " \"callsite\": true}}, \"loggers\": {\"root\": {\"sinks\": [\"p\"]}}}",
             path);
    load_ok("probe.json", text);
    assert_string_equal(probe_made.path, path);
    assert_int_equal(probe_made.copies, 1);
    assert_int_equal(probe_made.mode, 1);
    log_info("to the probe");
    json_t *recs = records_of(path);
    assert_int_equal(json_array_size(recs), 1);
    assert_non_null(json_object_get(json_array_get(recs, 0), "line")); /* "callsite" */
    json_decref(recs);
    /* Its own errors name its keys. */
    expect_rejected("{\"sinks\": {\"p\": {\"type\": \"probe\"}}}", CTXLOG_ECONFIG,
                    "sinks.p.path");
    expect_rejected("{\"sinks\": {\"p\": {\"type\": \"probe\", \"path\": \"x\","
                    " \"copies\": 10}}}",
                    CTXLOG_ECONFIG, "sinks.p.copies");
    expect_rejected("{\"sinks\": {\"p\": {\"type\": \"probe\", \"path\": \"x\","
                    " \"mode\": \"safe\"}}}",
                    CTXLOG_ECONFIG, "sinks.p.copies");
    expect_rejected("{\"sinks\": {\"p\": {\"type\": \"probe\", \"path\": \"x\","
                    " \"mode\": \"slow\"}}}",
                    CTXLOG_ECONFIG, "sinks.p.mode");
    /* Another kind's key does not apply to it. */
    expect_rejected("{\"sinks\": {\"p\": {\"type\": \"probe\", \"path\": \"x\","
                    " \"host\": \"h\"}}}",
                    CTXLOG_ECONFIG, "sinks.p.host");
    ts_unlink(path);
    free(path);
}

static void test_config_file__bad_enum_value(void **state)
{
    (void)state;
    expect_rejected("{\"sinks\": {\"o\": {\"type\": \"kafka\"}}}", CTXLOG_ECONFIG, "sinks.o.type");
    expect_rejected("{\"sinks\": {\"o\": {\"type\": \"STDOUT\"}}}", CTXLOG_ECONFIG, "sinks.o.type");
    expect_rejected("{\"sinks\": {\"o\": {\"type\": \"stdout\", \"format\": \"xml\"}}}",
                    CTXLOG_ECONFIG, "sinks.o.format");
    expect_rejected("{\"sinks\": {\"o\": {\"type\": \"stdout\", \"preset\": \"gelf\"}}}",
                    CTXLOG_ECONFIG, "sinks.o.preset");
    expect_rejected("{\"sinks\": {\"o\": {\"type\": \"stdout\", \"format\": \"console\","
                    " \"color\": \"rainbow\"}}}",
                    CTXLOG_ECONFIG, "sinks.o.color");
}

static void test_config_file__missing_required_key(void **state)
{
    (void)state;
    expect_rejected("{\"sinks\": {\"o\": {\"level\": \"info\"}}}", CTXLOG_ECONFIG, "sinks.o.type");
    expect_rejected("{\"sinks\": {\"f\": {\"type\": \"file\"}}}", CTXLOG_ECONFIG, "sinks.f.path");
    expect_rejected("{\"sinks\": {\"f\": {\"type\": \"file\", \"path\": \"\"}}}", CTXLOG_ECONFIG,
                    "sinks.f.path");
}

static void test_config_file__undefined_sink_reference(void **state)
{
    (void)state;
    expect_rejected("{\"sinks\": {" BAD_SINK "}, \"loggers\": {" BAD_ROOT ","
                    " \"app.db\": {\"sinks\": [\"db\"]}}}",
                    CTXLOG_ECONFIG, "loggers.\"app.db\".sinks");
    expect_rejected("{\"loggers\": {\"root\": {\"sinks\": [\"out\"]}}}", CTXLOG_ECONFIG,
                    "loggers.root.sinks");
    /* Listing a sink twice would write each record twice. */
    expect_rejected("{\"sinks\": {" BAD_SINK "}, \"loggers\": {\"root\": {\"sinks\": [\"bad\", \"bad\"]}}}",
                    CTXLOG_ECONFIG, "loggers.root.sinks");
}

static void test_config_file__key_not_applicable_to_type(void **state)
{
    (void)state;
    expect_rejected("{\"sinks\": {" BAD_SINK ", \"out\": {\"type\": \"stdout\", \"path\": \"x.log\"}},"
                    " \"loggers\": {" BAD_ROOT "}}",
                    CTXLOG_ECONFIG, "sinks.out.path");
    expect_rejected("{\"sinks\": {\"e\": {\"type\": \"stderr\", \"max_bytes\": 10}}}",
                    CTXLOG_ECONFIG, "sinks.e.max_bytes");
    expect_rejected("{\"sinks\": {\"c\": {\"type\": \"stdout\", \"format\": \"console\","
                    " \"preset\": \"ecs\"}}}",
                    CTXLOG_ECONFIG, "sinks.c.preset");
    expect_rejected("{\"sinks\": {\"c\": {\"type\": \"stdout\", \"format\": \"console\","
                    " \"thread_id\": true}}}",
                    CTXLOG_ECONFIG, "sinks.c.thread_id");
    /* json is the default format, and color is for the console one. */
    expect_rejected("{\"sinks\": {\"j\": {\"type\": \"stdout\", \"color\": \"never\"}}}",
                    CTXLOG_ECONFIG, "sinks.j.color");
    expect_rejected("{\"loggers\": {\"root\": {\"additive\": false}}}", CTXLOG_ECONFIG,
                    "loggers.root.additive");
}

static void test_config_file__out_of_range_numbers(void **state)
{
    (void)state;
    expect_rejected("{\"sinks\": {\"f\": {\"type\": \"file\", \"path\": \"@DIR@/bad.log\","
                    " \"max_bytes\": -1}}, \"loggers\": {\"root\": {\"sinks\": [\"f\"]}}}",
                    CTXLOG_ECONFIG, "sinks.f.max_bytes");
    expect_rejected("{\"sinks\": {\"f\": {\"type\": \"file\", \"path\": \"@DIR@/bad.log\","
                    " \"max_bytes\": 100, \"backups\": 0}}}",
                    CTXLOG_ECONFIG, "sinks.f.backups");
    expect_rejected("{\"sinks\": {\"f\": {\"type\": \"file\", \"path\": \"@DIR@/bad.log\","
                    " \"max_bytes\": 100, \"backups\": 1001}}}",
                    CTXLOG_ECONFIG, "sinks.f.backups");
}

static void test_config_file__replay_sampling_limits_keys(void **state)
{
    (void)state;
    expect_rejected("{\"replay\": true}", CTXLOG_ECONFIG, "replay");
    expect_rejected("{\"replay\": {\"max_bytes\": 4096}}", CTXLOG_ECONFIG, "replay.level");
    expect_rejected("{\"replay\": {\"level\": \"error\"}}", CTXLOG_ECONFIG, "replay.level");
    expect_rejected("{\"replay\": {\"level\": \"loud\"}}", CTXLOG_ECONFIG, "replay.level");
    expect_rejected("{\"replay\": {\"level\": \"debug\", \"max_bytes\": 100}}", CTXLOG_ECONFIG,
                    "replay.max_bytes");
    expect_rejected("{\"replay\": {\"level\": \"debug\", \"size\": 1}}", CTXLOG_ECONFIG,
                    "replay.size");
    expect_rejected("{\"sampling\": {\"below\": \"info\"}}", CTXLOG_ECONFIG, "sampling.ratio");
    expect_rejected("{\"sampling\": {\"ratio\": 1.5}}", CTXLOG_ECONFIG, "sampling.ratio");
    expect_rejected("{\"sampling\": {\"ratio\": \"10%\"}}", CTXLOG_ECONFIG, "sampling.ratio");
    expect_rejected("{\"sampling\": {\"ratio\": 0.1, \"below\": \"error\"}}", CTXLOG_ECONFIG,
                    "sampling.below");
    expect_rejected("{\"limits\": {\"first\": 0}}", CTXLOG_ECONFIG, "limits.first");
    expect_rejected("{\"limits\": {\"then_one_in\": -1}}", CTXLOG_ECONFIG, "limits.then_one_in");
    expect_rejected("{\"limits\": {\"interval_ms\": 0}}", CTXLOG_ECONFIG, "limits.interval_ms");
    expect_rejected("{\"limits\": {\"exempt\": \"loud\"}}", CTXLOG_ECONFIG, "limits.exempt");
    expect_rejected("{\"limits\": {\"burst\": 5}}", CTXLOG_ECONFIG, "limits.burst");
    expect_rejected("{\"limits\": [1]}", CTXLOG_ECONFIG, "limits");

    char *out = fresh("policies.log");
    load_ok("policies.json",
            "{\"sinks\": {\"f\": {\"type\": \"file\", \"path\": \"@DIR@/policies.log\"}},"
            " \"loggers\": {\"root\": {\"level\": \"info\", \"sinks\": [\"f\"]}},"
            " \"replay\": {\"level\": \"debug\", \"max_bytes\": 4096},"
            " \"sampling\": {\"ratio\": 0, \"below\": \"warn\"},"
            " \"limits\": {\"first\": 2, \"then_one_in\": 1000000, \"interval_ms\": 60000,"
            "             \"exempt\": \"error\"}}");
    {
        CTX_REQUEST("cfg-request", NULL, NULL);
        LOG_CONTEXT_REPLAY_DEFAULT(); /* the file's "replay" */
        log_info("sampled out, kept"); /* ratio 0: every request is out */
        log_error("cfg error");
    }
    for (int i = 0; i < 5; i++)
        log_info("limited"); /* no request id: not sampled; the file's limit */
    /* A file without the three keys turns them off: the summary owed is
     * written first, then nothing is sampled, kept or limited. */
    load_ok("policies2.json",
            "{\"sinks\": {\"f\": {\"type\": \"file\", \"path\": \"@DIR@/policies.log\"}},"
            " \"loggers\": {\"root\": {\"level\": \"info\", \"sinks\": [\"f\"]}}}");
    {
        CTX_REQUEST("cfg-request-2", NULL, NULL);
        LOG_CONTEXT_REPLAY_DEFAULT(); /* off now */
        log_debug("not kept");
        log_info("written");
        log_error("no replay");
    }
    json_t *recs = records_of(out);
    const char *want[] = {"sampled out, kept", "cfg error", "limited", "limited",
                          "records suppressed by the burst limit", "written", "no replay"};
    assert_int_equal(json_array_size(recs), sizeof want / sizeof want[0]);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        assert_string_equal(str_of(json_array_get(recs, i), "msg"), want[i]);
    assert_true(json_is_true(json_object_get(json_array_get(recs, 0), "replayed")));
    assert_int_equal(json_integer_value(json_object_get(json_array_get(recs, 4), "suppressed")), 3);
    json_decref(recs);
    ts_unlink(out);
    free(out);
}

static void test_config_file__unwritable_path_is_eio_and_applies_nothing(void **state)
{
    (void)state;
    /* bad.log opens; the second sink does not: neither is used. */
    expect_rejected("{\"level\": \"trace\", \"sinks\": {" BAD_SINK ","
                    " \"broken\": {\"type\": \"file\", \"path\": \"/nonexistent/x.log\"}},"
                    " \"loggers\": {\"root\": {\"sinks\": [\"bad\", \"broken\"]}}}",
                    CTXLOG_EIO, "sinks.broken.path");
}

static void test_config_file__missing_file_is_eio(void **state)
{
    (void)state;
    char *missing = fresh("no-such-config.json");
    expect_rejected_at(NULL, missing, CTXLOG_EIO, "", 0, 0);
    /* A directory is refused: it is not a regular file. */
    expect_rejected_at(NULL, tmp_dir(), CTXLOG_EIO, "", 0, 0);
    free(missing);
}

/* log_config_load() on another thread, so that a call that blocks fails
 * the test instead of hanging the suite. */
typedef struct guarded_load {
    const char *path;
    log_config_error err;
    int rc;
} guarded_load;

static void *guarded_load_main(void *arg)
{
    guarded_load *g = arg;
    g->rc = log_config_load(g->path, &g->err);
    return NULL;
}

/* Load `path` on a thread; false if it has not returned within a bound far
 * beyond any real load (a hang guard, not a measure of speed). */
static bool load_guarded(guarded_load *g, const char *path)
{
    memset(g, 0, sizeof *g);
    g->path = path;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, guarded_load_main, g), 0);
    struct timespec until;
    assert_int_equal(clock_gettime(CLOCK_REALTIME, &until), 0);
    until.tv_sec += 30;
    if (pthread_timedjoin_np(t, NULL, &until) != 0) {
        /* Give the blocked open or read a writer that goes away at once, so
         * that it sees the end of the input and the thread can be joined. */
        int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd >= 0)
            close(fd);
        pthread_join(t, NULL);
        return false;
    }
    return true;
}

static void test_config_file__non_regular_file_is_refused_without_blocking(void **state)
{
    (void)state;
    char *fifo = fresh("config.fifo");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    const char *paths[] = {fifo, tmp_dir()};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        guarded_load g;
        char *errpath = fresh("stderr.txt");
        ts_capture cap = ts_capture_begin(2, errpath);
        bool returned = load_guarded(&g, paths[i]);
        ts_capture_end(&cap);
        if (!returned)
            fail_msg("log_config_load(\"%s\") blocked", paths[i]);
        ts_unlink(errpath);
        free(errpath);
        assert_int_equal(g.rc, CTXLOG_EIO);
        assert_string_equal(g.err.file, paths[i]);
        assert_int_equal(g.err.line, 0);
        assert_string_equal(g.err.key, "");
        assert_non_null(strstr(g.err.text, "not a regular file"));
        /* The whole contract of a rejected file: one line on stderr, the
         * previous configuration still in force. */
        expect_rejected_at(NULL, paths[i], CTXLOG_EIO, "", 0, 0);
    }
    ts_unlink(fifo);
    free(fifo);
}

static void test_config_file__names_are_quoted_in_key_paths(void **state)
{
    (void)state;
    expect_rejected("{\"sinks\": {\"a.b\": {\"type\": \"tcp\"}}}", CTXLOG_ECONFIG,
                    "sinks.\"a.b\".type");
    /* A newline in a name stays escaped: the report is still one line. */
    expect_rejected("{\"sinks\": {\"x\\ny\": {\"type\": \"tcp\"}}}", CTXLOG_ECONFIG,
                    "sinks.\"x\\ny\".type");
    expect_rejected("{\"loggers\": {\"app..db\": {}}}", CTXLOG_ECONFIG, "loggers.\"app..db\"");
    expect_rejected("{\"loggers\": {\"\": {}}}", CTXLOG_ECONFIG, "loggers.\"\"");
    /* A value with a newline is escaped in the text as well. */
    expect_rejected("{\"level\": \"lo\\nud\"}", CTXLOG_ECONFIG, "level");
}

static void test_config_file__error_struct_is_optional(void **state)
{
    (void)state;
    char *prev = load_previous();
    char *cfg = write_config("bad-noerr.json", "{\"level\": \"loud\"}");
    char *errpath = fresh("stderr-noerr.txt");
    ts_capture cap = ts_capture_begin(2, errpath);
    assert_int_equal(log_config_load(cfg, NULL), CTXLOG_ECONFIG);
    ts_capture_end(&cap);
    size_t len;
    char *got = ts_read_file(errpath, &len);
    assert_non_null(got);
    assert_non_null(memchr(got, '\n', len));
    assert_ptr_equal(memchr(got, '\n', len), got + len - 1); /* one line */
    assert_int_equal(strncmp(got, "ctxlog: ", 8), 0);
    free(got);

    log_config_error err;
    assert_int_equal(log_config_load(NULL, &err), CTXLOG_EINVAL);
    assert_int_equal(log_config_load("", NULL), CTXLOG_EINVAL);
    log_info("still here");
    expect_msgs(prev, "root:still here");
    free(errpath);
    free(cfg);
    free(prev);
}

/* ---- concurrency ---------------------------------------------------------------- */

static atomic_int stop;
static atomic_long logged;

static void *log_loop(void *arg)
{
    (void)arg;
    log_logger *db = log_get("app.db");
    /* Bounded, and yielding now and then: on a slow or serialising
     * scheduler (valgrind) the loads must still get their turn, and the
     * files stay small enough to read back. */
    for (int i = 0; !atomic_load(&stop) && i < 200000; i++) {
        log_info("loop %d", i);
        log_info_to(db, "db loop %d", i);
        atomic_fetch_add(&logged, 1);
        if (i % 16 == 15)
            sched_yield();
    }
    return NULL;
}

static void test_config_file__reload_while_logging(void **state)
{
    (void)state;
    char *a = fresh("race-a.log"), *b = fresh("race-b.log");
    char *cfg_a = write_config("race-a.json",
                               "{\"sinks\": {\"a\": {\"type\": \"file\", \"path\": \"@DIR@/race-a.log\"}},"
                               " \"loggers\": {\"root\": {\"sinks\": [\"a\"]}}}");
    char *cfg_b = write_config("race-b.json",
                               "{\"sinks\": {\"b\": {\"type\": \"file\", \"path\": \"@DIR@/race-b.log\","
                               "                     \"format\": \"json\", \"preset\": \"ecs\"}},"
                               " \"loggers\": {\"root\": {\"sinks\": []},"
                               "   \"app.db\": {\"sinks\": [\"b\"], \"additive\": false}}}");
    assert_int_equal(log_config_load(cfg_a, NULL), 0);
    atomic_store(&stop, 0);
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, log_loop, NULL), 0);
    for (int i = 0; i < 40; i++) {
        assert_int_equal(log_config_load(i % 2 ? cfg_a : cfg_b, NULL), 0);
        /* Let the threads log under each configuration. */
        long seen = atomic_load(&logged);
        for (int spin = 0; spin < 100000 && atomic_load(&logged) < seen + 20; spin++)
            sched_yield();
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    /* Every line whole and valid, whichever configuration wrote it. */
    json_t *ra = records_of(a), *rb = records_of(b);
    assert_true(json_array_size(ra) > 0);
    assert_true(json_array_size(rb) > 0);
    size_t i;
    json_t *r;
    json_array_foreach(rb, i, r) {
        assert_string_equal(json_string_value(member(r, "log.logger")), "app.db");
    }
    json_decref(ra);
    json_decref(rb);
    free(cfg_a);
    free(cfg_b);
    free(a);
    free(b);
}

/* Four threads log numbered records while a fifth loads the same file (a
 * file sink for the root) again and again: each load must switch over in
 * one step, so that every record is written, once, by the old sink or the
 * new one. */
#define STORM_THREADS 4
#define STORM_LOADS 200
#define STORM_MAX 50000 /* records per thread at most: the file stays small */

static atomic_int storm_stop;
static atomic_int storm_ready;
static long storm_logged[STORM_THREADS];

static void *storm_log(void *arg)
{
    long t = (long)(intptr_t)arg;
    long n = 0;
    atomic_fetch_add(&storm_ready, 1);
    while (!atomic_load(&storm_stop) && n < STORM_MAX) {
        log_info_kv("storm", LOG_I64("t", t), LOG_I64("n", n));
        n++;
        if (n % 16 == 0)
            sched_yield(); /* the loads get their turn on a busy machine */
    }
    storm_logged[t] = n;
    return NULL;
}

static void *storm_load(void *arg)
{
    const char *cfg = arg;
    /* Only once every logging thread runs, so the loads meet records. */
    while (atomic_load(&storm_ready) < STORM_THREADS)
        sched_yield();
    for (int i = 0; i < STORM_LOADS; i++) {
        log_config_error err;
        int rc = log_config_load(cfg, &err);
        if (rc != 0) {
            fprintf(stderr, "load %d: %d %s: %s\n", i, rc, err.key, err.text);
            break;
        }
    }
    atomic_store(&storm_stop, 1);
    return NULL;
}

static void test_config_file__reload_loses_no_record(void **state)
{
    (void)state;
    char *out = fresh("storm.log");
    char *cfg = write_config("storm.json",
                             "{\"level\": \"info\","
                             " \"sinks\": {\"f\": {\"type\": \"file\", \"path\": \"@DIR@/storm.log\"}},"
                             " \"loggers\": {\"root\": {\"sinks\": [\"f\"]}}}");
    assert_int_equal(log_config_load(cfg, NULL), 0);
    uint64_t dropped = log_dropped_count();
    atomic_store(&storm_stop, 0);
    atomic_store(&storm_ready, 0);
    pthread_t t[STORM_THREADS], loader;
    for (long i = 0; i < STORM_THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, storm_log, (void *)(intptr_t)i), 0);
    assert_int_equal(pthread_create(&loader, NULL, storm_load, cfg), 0);
    assert_int_equal(pthread_join(loader, NULL), 0);
    atomic_store(&storm_stop, 1); /* also when a load failed */
    for (int i = 0; i < STORM_THREADS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);

    json_t *recs = records_of(out);
    long total = 0;
    unsigned char *seen[STORM_THREADS];
    for (int i = 0; i < STORM_THREADS; i++) {
        total += storm_logged[i];
        seen[i] = calloc((size_t)storm_logged[i] + 1, 1);
        assert_non_null(seen[i]);
    }
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r) {
        assert_string_equal(str_of(r, "msg"), "storm");
        json_t *jt = json_object_get(r, "t"), *jn = json_object_get(r, "n");
        assert_true(json_is_integer(jt) && json_is_integer(jn));
        json_int_t th = json_integer_value(jt), n = json_integer_value(jn);
        assert_true(th >= 0 && th < STORM_THREADS);
        assert_true(n >= 0 && n < storm_logged[th]);
        assert_int_equal(seen[th][n], 0); /* never twice */
        seen[th][n] = 1;
    }
    /* Every record logged is there (each at most once, above). */
    assert_int_equal((long)json_array_size(recs), total);
    assert_int_equal(log_dropped_count(), dropped);
    for (int k = 0; k < STORM_THREADS; k++)
        free(seen[k]);
    json_decref(recs);
    free(cfg);
    free(out);
}

int main(void)
{
    unsetenv("CTXLOG_CONFIG");
    unsetenv("CTXLOG_LEVEL");
    unsetenv("CTXLOG_OUTPUT");
    unsetenv("CTXLOG_FORMAT");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_file__loaded_before_first_record_beats_environment),
        cmocka_unit_test(test_config_file__ctxlog_config_names_the_file),
        cmocka_unit_test(test_config_file__full_config_routes_by_logger_and_sink),
        cmocka_unit_test(test_config_file__root_without_sinks_writes_json_to_stdout),
        cmocka_unit_test(test_config_file__load_replaces_previous_configuration),
        cmocka_unit_test(test_config_file__sink_shared_by_loggers_writes_each_record_once),
        cmocka_unit_test(test_config_file__file_rotation_options_are_used),
        cmocka_unit_test(test_config_file__example_file_loads_and_routes),
        cmocka_unit_test(test_config_file__syntax_error_names_line_and_column),
        cmocka_unit_test(test_config_file__duplicate_key_names_line),
        cmocka_unit_test(test_config_file__unknown_top_level_key),
        cmocka_unit_test(test_config_file__unknown_sink_key),
        cmocka_unit_test(test_config_file__unknown_logger_key),
        cmocka_unit_test(test_config_file__wrong_types),
        cmocka_unit_test(test_config_file__bad_level_name),
        cmocka_unit_test(test_config_file__bad_enum_value),
        cmocka_unit_test(test_config_file__kind_added_from_outside),
        cmocka_unit_test(test_config_file__missing_required_key),
        cmocka_unit_test(test_config_file__undefined_sink_reference),
        cmocka_unit_test(test_config_file__key_not_applicable_to_type),
        cmocka_unit_test(test_config_file__out_of_range_numbers),
        cmocka_unit_test(test_config_file__replay_sampling_limits_keys),
        cmocka_unit_test(test_config_file__unwritable_path_is_eio_and_applies_nothing),
        cmocka_unit_test(test_config_file__missing_file_is_eio),
        cmocka_unit_test(test_config_file__non_regular_file_is_refused_without_blocking),
        cmocka_unit_test(test_config_file__names_are_quoted_in_key_paths),
        cmocka_unit_test(test_config_file__error_struct_is_optional),
        cmocka_unit_test(test_config_file__journald_and_syslog_sinks),
        cmocka_unit_test(test_config_file__journald_and_syslog_keys_checked),
        cmocka_unit_test(test_config_file__reload_while_logging),
        cmocka_unit_test(test_config_file__reload_loses_no_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
