/* SPDX-License-Identifier: MIT */
/* The logging calls end to end: configuration from the environment, the
 * stdout/stderr/file outputs, levels, typed fields and context stamping.
 * Every line produced is parsed back with jansson. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include <ctxlog/ctxlog.h>

#include "support.h"

/* Linked with --wrap=malloc (see tests/CMakeLists.txt): 1 makes every
 * malloc of this program and of the static library fail. */
void *__real_malloc(size_t n);
void *__wrap_malloc(size_t n);
static atomic_int malloc_fails;

void *__wrap_malloc(size_t n)
{
    return atomic_load(&malloc_fails) ? NULL : __real_malloc(n);
}

static void env_clear(void)
{
    unsetenv("CTXLOG_LEVEL");
    unsetenv("CTXLOG_FORMAT");
    unsetenv("CTXLOG_OUTPUT");
}

/* Log into a fresh file through CTXLOG_OUTPUT. */
static char *use_file(const char *name)
{
    char *path = ts_temp_path(name);
    ts_unlink(path);
    env_clear();
    setenv("CTXLOG_OUTPUT", path, 1);
    assert_int_equal(log_configure_env(), 0);
    return path;
}

static json_t *finish(char *path)
{
    log_shutdown();
    json_t *recs = ts_read_records(path);
    ts_unlink(path);
    free(path);
    return recs;
}

static const char *str_of(json_t *rec, const char *key)
{
    return json_string_value(json_object_get(rec, key));
}

static void test_log__zero_config_json_on_stdout_at_info(void **state)
{
    (void)state;
    env_clear();
    log_shutdown(); /* the next record configures afresh */
    char *path = ts_temp_path("stdout.log");
    ts_capture cap = ts_capture_begin(1, path);
    log_debug("not written");
    log_info("hello %s", "world");
    log_shutdown();
    ts_capture_end(&cap);
    json_t *recs = ts_read_records(path);
    assert_int_equal(json_array_size(recs), 1);
    json_t *r = json_array_get(recs, 0);
    assert_string_equal(str_of(r, "msg"), "hello world");
    assert_string_equal(str_of(r, "level"), "info");
    assert_string_equal(str_of(r, "logger"), "root");
    const char *keys[] = {"ts", "level", "logger", "msg"};
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach(r, k, v) {
        (void)v;
        assert_true(i < 4);
        assert_string_equal(k, keys[i++]);
    }
    assert_int_equal(i, 4);
    json_decref(recs);
    ts_unlink(path);
    free(path);
}

static void test_log__level_from_env(void **state)
{
    (void)state;
    char *path = ts_temp_path("level.log");
    ts_unlink(path);
    env_clear();
    setenv("CTXLOG_OUTPUT", path, 1);
    setenv("CTXLOG_LEVEL", "DEBUG", 1);
    assert_int_equal(log_configure_env(), 0);
    assert_int_equal(log_level_get(), LOG_LEVEL_DEBUG);
    log_trace("no");
    log_debug("yes");
    setenv("CTXLOG_LEVEL", "off", 1);
    assert_int_equal(log_configure_env(), 0);
    log_fatal("no either");
    json_t *recs = finish(path);
    assert_int_equal(json_array_size(recs), 1);
    assert_string_equal(str_of(json_array_get(recs, 0), "level"), "debug");
    json_decref(recs);
    env_clear();
}

static void test_log__bad_env_values_reported_and_defaulted(void **state)
{
    (void)state;
    char *out = ts_temp_path("badenv.log");
    char *err = ts_temp_path("badenv.err");
    ts_unlink(out);
    env_clear();
    setenv("CTXLOG_OUTPUT", out, 1);
    setenv("CTXLOG_LEVEL", "loud", 1);
    setenv("CTXLOG_FORMAT", "xml", 1);
    ts_capture cap = ts_capture_begin(2, err);
    assert_int_equal(log_configure_env(), CTXLOG_ECONFIG);
    ts_capture_end(&cap);
    assert_int_equal(log_level_get(), LOG_LEVEL_INFO);
    log_info("still json");
    json_t *recs = finish(out);
    assert_int_equal(json_array_size(recs), 1);
    json_decref(recs);
    char *text = ts_read_file(err, NULL);
    assert_non_null(strstr(text, "CTXLOG_LEVEL='loud'"));
    assert_non_null(strstr(text, "CTXLOG_FORMAT='xml'"));
    free(text);
    ts_unlink(err);
    free(err);
    env_clear();
}

static void test_log__every_level_name(void **state)
{
    (void)state;
    char *path = use_file("levels.log");
    log_level_set(LOG_LEVEL_TRACE);
    log_trace("t");
    log_debug("d");
    log_info("i");
    log_warn("w");
    log_error("e");
    log_fatal("f");
    log_level_set(LOG_LEVEL_INFO);
    json_t *recs = finish(path);
    const char *want[] = {"trace", "debug", "info", "warn", "error", "fatal"};
    assert_int_equal(json_array_size(recs), 6);
    for (size_t i = 0; i < 6; i++)
        assert_string_equal(str_of(json_array_get(recs, i), "level"), want[i]);
    json_decref(recs);
}

static int evaluated;
static int side_effect(void)
{
    return ++evaluated;
}

static void test_log__disabled_arguments_not_evaluated(void **state)
{
    (void)state;
    char *path = use_file("disabled.log");
    log_level_set(LOG_LEVEL_WARN);
    evaluated = 0;
    log_info("%d", side_effect());
    log_debug_kv("x", LOG_I64("n", side_effect()));
    assert_int_equal(evaluated, 0);
    log_warn("%d", side_effect());
    assert_int_equal(evaluated, 1);
    log_level_set(LOG_LEVEL_INFO);
    json_t *recs = finish(path);
    assert_int_equal(json_array_size(recs), 1);
    assert_string_equal(str_of(json_array_get(recs, 0), "msg"), "1");
    json_decref(recs);
}

static void test_log__level_api(void **state)
{
    (void)state;
    log_level l;
    assert_int_equal(log_level_parse("Warning", &l), 0);
    assert_int_equal(l, LOG_LEVEL_WARN);
    assert_int_equal(log_level_parse("verbose", &l), CTXLOG_EINVAL);
    assert_int_equal(log_level_parse(NULL, &l), CTXLOG_EINVAL);
    assert_int_equal(log_level_set((log_level)42), CTXLOG_EINVAL);
    assert_int_equal(log_level_set((log_level)-1), CTXLOG_EINVAL);
    assert_null(log_level_name((log_level)7));
    assert_string_equal(log_level_name(LOG_LEVEL_OFF), "off");
    assert_string_equal(ctxlog_strerror(CTXLOG_ESTALE), "token already used or too old");
    assert_string_equal(ctxlog_strerror(-99), "unknown error");
    assert_string_equal(ctxlog_version(), CTXLOG_VERSION_STRING);
}

static void test_log__context_stamped_in_order(void **state)
{
    (void)state;
    ctx_var *order = ctx_var_new("order_id", CTX_VAR_LOGGED);
    ctx_var *secret = ctx_var_new("session_secret", 0);
    ctx_var *attempt = ctx_var_new("attempt", CTX_VAR_LOGGED);
    ctx_var *handle = ctx_var_new("db_handle", CTX_VAR_LOGGED);
    char *path = use_file("ctx.log");
    log_info("before");
    {
        CTX_SCOPE(order, "o-9");
        CTX_SCOPE(secret, "hunter2");
        ctx_token t = ctx_set_i64(attempt, 3);
        ctx_token p = ctx_set_ptr(handle, &evaluated, NULL);
        CTX_REQUEST("r-1", "u-1", "t-1");
        log_info_kv("inside", LOG_STR("k", "v"));
        assert_int_equal(ctx_reset(p), 0);
        assert_int_equal(ctx_reset(t), 0);
    }
    log_info("after");
    json_t *recs = finish(path);
    assert_int_equal(json_array_size(recs), 3);
    assert_int_equal(json_object_size(json_array_get(recs, 0)), 4);
    assert_int_equal(json_object_size(json_array_get(recs, 2)), 4);
    json_t *r = json_array_get(recs, 1);
    const char *want[] = {"ts", "level", "logger", "msg", "request_id", "user_id",
                          "tenant_id", "order_id", "attempt", "k"};
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach(r, k, v) {
        (void)v;
        assert_true(i < 10);
        assert_string_equal(k, want[i++]);
    }
    assert_int_equal(i, 10);
    assert_string_equal(str_of(r, "request_id"), "r-1");
    assert_string_equal(str_of(r, "tenant_id"), "t-1");
    assert_int_equal(json_integer_value(json_object_get(r, "attempt")), 3);
    assert_true(json_is_integer(json_object_get(r, "attempt")));
    json_decref(recs);
}

static void test_log__typed_fields(void **state)
{
    (void)state;
    char *path = use_file("kv.log");
    json_t *obj = json_pack("{s:i, s:[s]}", "a", 1, "b", "x\"y");
    log_info_kv("typed", LOG_STR("s", "text"), LOG_STR("nul", NULL), LOG_I64("i", INT64_MIN),
                LOG_U64("u", (uint64_t)INT64_MAX + 0), LOG_F64("f", 0.5), LOG_BOOL("b", true),
                LOG_JSON("j", obj), LOG_JSON("jn", NULL));
    json_decref(obj);
    json_t *recs = finish(path);
    json_t *r = json_array_get(recs, 0);
    assert_string_equal(str_of(r, "s"), "text");
    assert_true(json_is_null(json_object_get(r, "nul")));
    assert_true(json_integer_value(json_object_get(r, "i")) == INT64_MIN);
    assert_true(json_integer_value(json_object_get(r, "u")) == INT64_MAX);
    assert_true(json_real_value(json_object_get(r, "f")) == 0.5);
    assert_true(json_is_true(json_object_get(r, "b")));
    json_t *j = json_object_get(r, "j");
    assert_int_equal(json_integer_value(json_object_get(j, "a")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "b"), 0)), "x\"y");
    assert_true(json_is_null(json_object_get(r, "jn")));
    json_decref(recs);

    /* UINT64_MAX is valid JSON but beyond jansson's integers: parse it as a
     * real, and check the text is exact. */
    path = use_file("u64.log");
    log_info_kv("u", LOG_U64("u", UINT64_MAX));
    log_shutdown();
    char *text = ts_read_file(path, NULL);
    json_error_t e;
    json_t *rec = json_loads(text, JSON_DECODE_INT_AS_REAL | JSON_REJECT_DUPLICATES, &e);
    assert_non_null(rec);
    assert_true(json_real_value(json_object_get(rec, "u")) == 18446744073709551615.0);
    json_decref(rec);
    assert_non_null(strstr(text, "\"u\":18446744073709551615}\n"));
    free(text);
    ts_unlink(path);
    free(path);
}

/* The formatter reuses the bytes of a thread's previous record of the same
 * shape (logger, level, context, message and field keys). A message or key
 * buffer rewritten in place between two calls, a value, a level or a
 * context that changes: each record must still say what its call said. */
static void test_log__repeated_records_follow_rewritten_buffers(void **state)
{
    (void)state;
    char *path = use_file("repeat.log");
    char msg[64], key[32], val[32];
    enum { N = 60 };
    (void)ctx_set(CTX_REQUEST_ID, "req-a");
    for (int i = 0; i < N; i++) {
        /* Same lengths for a while, then other lengths, then bytes to escape. */
        snprintf(msg, sizeof msg, i < 20 ? "message %02d" : i < 40 ? "msg %d!" : "say \"%d\"",
                 i / 5);
        snprintf(key, sizeof key, i == 33 ? "msg" : i < 30 ? "key%d" : "k_%d", i / 7);
        snprintf(val, sizeof val, i % 3 ? "v%d" : "tab\t%d", i);
        if (i == 25)
            (void)ctx_set(CTX_REQUEST_ID, "req-b");
        if (i % 11 == 10)
            log_warn_kv(msg, LOG_I64(key, i), LOG_STR("s", val));
        else
            log_info_kv(msg, LOG_I64(key, i), LOG_STR("s", val));
    }
    (void)ctx_set(CTX_REQUEST_ID, NULL);
    json_t *recs = finish(path);
    assert_int_equal(json_array_size(recs), N);
    for (int i = 0; i < N; i++) {
        json_t *r = json_array_get(recs, (size_t)i);
        snprintf(msg, sizeof msg, i < 20 ? "message %02d" : i < 40 ? "msg %d!" : "say \"%d\"",
                 i / 5);
        snprintf(key, sizeof key, i == 33 ? "fields.msg" : i < 30 ? "key%d" : "k_%d", i / 7);
        snprintf(val, sizeof val, i % 3 ? "v%d" : "tab\t%d", i);
        assert_string_equal(str_of(r, "msg"), msg);
        assert_string_equal(str_of(r, "level"), i % 11 == 10 ? "warn" : "info");
        assert_string_equal(str_of(r, "request_id"), i < 25 ? "req-a" : "req-b");
        assert_true(json_is_integer(json_object_get(r, key)));
        assert_int_equal(json_integer_value(json_object_get(r, key)), i);
        assert_string_equal(str_of(r, "s"), val);
        assert_int_equal(json_object_size(r), 7);
    }
    json_decref(recs);
}

static void test_log__hostile_input_stays_valid(void **state)
{
    (void)state;
    char *path = use_file("hostile.log");
    log_info("quote\" backslash\\ newline\n tab\t bell\a bad\xff\xfe utf8 \xe2\x82");
    log_info_kv(NULL, LOG_STR(NULL, "null key"), LOG_STR("msg", "collides"));
    log_info("%s", "");
    json_t *recs = finish(path);
    assert_int_equal(json_array_size(recs), 3);
    assert_string_equal(str_of(json_array_get(recs, 0), "msg"),
                        "quote\" backslash\\ newline\n tab\t bell\a bad\xef\xbf\xbd\xef\xbf\xbd"
                        " utf8 \xef\xbf\xbd");
    json_t *r = json_array_get(recs, 1);
    assert_string_equal(str_of(r, "msg"), "");
    assert_string_equal(str_of(r, "fields.msg"), "collides");
    json_decref(recs);
}

static void test_log__one_mib_message_whole(void **state)
{
    (void)state;
    size_t n = 1024 * 1024;
    char *big = malloc(n + 1);
    assert_non_null(big);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)('a' + i % 26);
    big[n] = '\0';
    char *path = use_file("big.log");
    log_info("%s", big);
    log_info_kv(big, LOG_STR("again", big));
    json_t *recs = finish(path);
    assert_int_equal(json_array_size(recs), 2);
    assert_string_equal(str_of(json_array_get(recs, 0), "msg"), big);
    assert_string_equal(str_of(json_array_get(recs, 1), "msg"), big);
    assert_string_equal(str_of(json_array_get(recs, 1), "again"), big);
    json_decref(recs);
    free(big);
}

static void test_log__file_appends_with_mode_0640(void **state)
{
    (void)state;
    char *path = ts_temp_path("append.log");
    ts_unlink(path);
    mode_t old = umask(0);
    env_clear();
    setenv("CTXLOG_OUTPUT", path, 1);
    assert_int_equal(log_configure_env(), 0);
    umask(old);
    log_info("first");
    log_shutdown();
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    assert_int_equal(log_configure_env(), 0); /* reopens: must append */
    log_info("second");
    json_t *recs = finish(path);
    assert_int_equal(json_array_size(recs), 2);
    assert_string_equal(str_of(json_array_get(recs, 0), "msg"), "first");
    assert_string_equal(str_of(json_array_get(recs, 1), "msg"), "second");
    json_decref(recs);
    env_clear();
}

static void test_log__unwritable_path_falls_back_to_stderr(void **state)
{
    (void)state;
    char *err = ts_temp_path("fallback.err");
    env_clear();
    setenv("CTXLOG_OUTPUT", "/nonexistent-dir/app.log", 1);
    ts_capture cap = ts_capture_begin(2, err);
    assert_int_equal(log_configure_env(), 0);
    log_info("kept");
    log_shutdown();
    ts_capture_end(&cap);
    char *text = ts_read_file(err, NULL);
    /* first line: the library's one clear message; then the record */
    char *nl = strchr(text, '\n');
    assert_non_null(nl);
    *nl = '\0';
    assert_non_null(strstr(text, "/nonexistent-dir/app.log"));
    assert_non_null(strstr(text, "stderr"));
    json_error_t e;
    json_t *rec = json_loads(nl + 1, JSON_REJECT_DUPLICATES, &e);
    assert_non_null(rec);
    assert_string_equal(str_of(rec, "msg"), "kept");
    json_decref(rec);
    free(text);
    ts_unlink(err);
    free(err);
    env_clear();
}

static void test_log__output_set(void **state)
{
    (void)state;
    char *path = ts_temp_path("output_set.log");
    ts_unlink(path);
    char *err = ts_temp_path("output_set.err");
    assert_int_equal(log_output_set(NULL), CTXLOG_EINVAL);
    assert_int_equal(log_output_set(""), CTXLOG_EINVAL);
    assert_int_equal(log_output_set(path), 0);
    ts_capture cap = ts_capture_begin(2, err);
    assert_int_equal(log_output_set("/nonexistent-dir/x.log"), CTXLOG_ENOENT);
    assert_non_null(strstr(ctxlog_last_error(), "'/nonexistent-dir/x.log'"));
    ts_capture_end(&cap);
    log_info("still to the file");
    json_t *recs = finish(path);
    assert_int_equal(json_array_size(recs), 1);
    json_decref(recs);
    char *text = ts_read_file(err, NULL);
    assert_non_null(strstr(text, "/nonexistent-dir/x.log"));
    free(text);
    ts_unlink(err);
    free(err);
}

static void test_log__write_failure_counted_and_reported_once(void **state)
{
    (void)state;
    if (access("/dev/full", W_OK) != 0)
        skip();
    char *err = ts_temp_path("full.err");
    uint64_t before = log_dropped_count();
    ts_capture cap = ts_capture_begin(2, err);
    assert_int_equal(log_output_set("/dev/full"), 0);
    for (int i = 0; i < 5; i++)
        log_info("lost %d", i);
    log_shutdown();
    ts_capture_end(&cap);
    assert_int_equal(log_dropped_count() - before, 5);
    char *text = ts_read_file(err, NULL);
    const char *first = strstr(text, "cannot write to /dev/full");
    assert_non_null(first);
    assert_null(strstr(first + 1, "cannot write to /dev/full"));
    free(text);
    ts_unlink(err);
    free(err);
}

/* A filter that logs from inside every record it sees: each record it
 * logs passes it again, until the nesting limit refuses one. */
static log_filter_result log_again(log_record *rec, void *payload)
{
    (void)rec;
    atomic_fetch_add((atomic_int *)payload, 1);
    log_info("from the filter");
    return LOG_FILTER_KEEP;
}

static void test_log__nesting_limit_counted_and_reported_once(void **state)
{
    (void)state;
    char *path = use_file("nested.log");
    char *err = ts_temp_path("nested.err");
    ts_unlink(err);
    atomic_int calls = 0;
    assert_int_equal(log_logger_add_filter(NULL, log_again, &calls), 0);
    uint64_t before = log_dropped_count();
    ts_capture cap = ts_capture_begin(2, err);
    enum { OUTER = 3 };
    for (int i = 0; i < OUTER; i++)
        log_info("outer %d", i);
    assert_int_equal(log_logger_clear_filters(NULL), 0);
    json_t *recs = finish(path);
    ts_capture_end(&cap);

    /* Each outer record nests as deep as the limit allows; the one record
     * logged below that depth is refused, and only that one. */
    int depth = atomic_load(&calls) / OUTER;
    assert_int_equal(atomic_load(&calls), OUTER * depth);
    assert_true(depth >= 2);
    assert_int_equal(json_array_size(recs), (size_t)(OUTER * depth));
    assert_int_equal(log_dropped_count() - before, OUTER);

    /* One line for the process, however many records are refused. */
    size_t len;
    char *text = ts_read_file(err, &len);
    assert_non_null(text);
    char *nl = strchr(text, '\n');
    if (!nl || nl[1] != '\0')
        fail_msg("want exactly one line on stderr, got: %s", text);
    assert_non_null(strstr(text, "ctxlog: "));
    assert_non_null(strstr(text, "nest"));
    free(text);
    ts_unlink(err);
    free(err);
    json_decref(recs);
}

static void test_log__shutdown_then_log_again(void **state)
{
    (void)state;
    char *path = use_file("again.log");
    log_info("one");
    log_shutdown();
    log_shutdown(); /* twice is fine */
    log_info("two"); /* reconfigures from the environment: same file */
    assert_int_equal(log_flush(), 0);
    json_t *recs = finish(path);
    assert_int_equal(json_array_size(recs), 2);
    json_decref(recs);
    env_clear();
}

static void test_log__flush_reports_write_failure(void **state)
{
    (void)state;
    if (access("/dev/full", W_OK) != 0)
        skip();
    char *err = ts_temp_path("flush-full.err");
    ts_capture cap = ts_capture_begin(2, err);
    assert_int_equal(log_output_set("/dev/full"), 0); /* opens; every write fails */
    log_info("lost");
    int rc = log_flush();
    ts_capture_end(&cap);
    assert_int_equal(rc, CTXLOG_EIO);
    ts_unlink(err);
    free(err);

    /* A file that takes the records: 0, and they are there. */
    char *path = ts_temp_path("flush-ok.log");
    ts_unlink(path);
    assert_int_equal(log_output_set(path), 0);
    log_info("kept");
    assert_int_equal(log_flush(), 0);
    json_t *recs = finish(path);
    assert_int_equal(json_array_size(recs), 1);
    assert_string_equal(str_of(json_array_get(recs, 0), "msg"), "kept");
    json_decref(recs);
}

static void test_log__level_set_needs_no_allocation(void **state)
{
    (void)state;
    char *path = use_file("level-nomem.log");
    log_info("before");
    /* The level is the gate the macros read, not part of a route: changing
     * it must neither fail for memory nor report success without effect. */
    atomic_store(&malloc_fails, 1);
    int rc = log_level_set(LOG_LEVEL_WARN);
    atomic_store(&malloc_fails, 0);
    assert_int_equal(rc, 0);
    assert_int_equal(log_level_get(), LOG_LEVEL_WARN);
    log_info("filtered out");
    log_warn("after");
    assert_int_equal(log_level_set(LOG_LEVEL_INFO), 0);
    json_t *recs = finish(path);
    assert_int_equal(json_array_size(recs), 2);
    assert_string_equal(str_of(json_array_get(recs, 0), "msg"), "before");
    assert_string_equal(str_of(json_array_get(recs, 1), "msg"), "after");
    json_decref(recs);
    env_clear();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log__zero_config_json_on_stdout_at_info),
        cmocka_unit_test(test_log__level_from_env),
        cmocka_unit_test(test_log__bad_env_values_reported_and_defaulted),
        cmocka_unit_test(test_log__every_level_name),
        cmocka_unit_test(test_log__disabled_arguments_not_evaluated),
        cmocka_unit_test(test_log__level_api),
        cmocka_unit_test(test_log__context_stamped_in_order),
        cmocka_unit_test(test_log__typed_fields),
        cmocka_unit_test(test_log__repeated_records_follow_rewritten_buffers),
        cmocka_unit_test(test_log__hostile_input_stays_valid),
        cmocka_unit_test(test_log__one_mib_message_whole),
        cmocka_unit_test(test_log__file_appends_with_mode_0640),
        cmocka_unit_test(test_log__unwritable_path_falls_back_to_stderr),
        cmocka_unit_test(test_log__output_set),
        cmocka_unit_test(test_log__write_failure_counted_and_reported_once),
        cmocka_unit_test(test_log__nesting_limit_counted_and_reported_once),
        cmocka_unit_test(test_log__shutdown_then_log_again),
        cmocka_unit_test(test_log__flush_reports_write_failure),
        cmocka_unit_test(test_log__level_set_needs_no_allocation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
