/* SPDX-License-Identifier: MIT */
/* The redaction example, run as a program: no secret it logs ever reaches
 * the output, in any form, and every record is otherwise intact. Run twice:
 * configured by CTXLOG_OUTPUT, and by a CTXLOG_CONFIG file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "support.h"

/* Everything the example passes as a password or a card number. */
static const char *const secrets[] = {
    "hunter2", "4111 1111 1111 1111", "4012888888881881", "5500 0000 0000 0004",
};

static const char *get(json_t *r, const char *k)
{
    return json_string_value(json_object_get(r, k));
}

static json_t *find(json_t *recs, const char *msg)
{
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r) {
        if (strcmp(get(r, "msg"), msg) == 0)
            return r;
    }
    fail_msg("no record \"%s\"", msg);
    return NULL;
}

static void check_output(const char *path)
{
    size_t len;
    char *raw = ts_read_file(path, &len);
    assert_non_null(raw);
    /* The raw bytes first: no secret in any spelling, anywhere. */
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
        if (strstr(raw, secrets[i]))
            fail_msg("\"%s\" is in the output:\n%s", secrets[i], raw);
    free(raw);

    json_t *recs = ts_read_records(path);
    assert_int_equal(json_array_size(recs), 5);

    /* Every field named like a secret is "[REDACTED]", and marked. */
    size_t i, marked = 0;
    json_t *r;
    json_array_foreach(recs, i, r) {
        int secret = 0;
        static const char *const keys[] = {"password", "card_number"};
        for (int k = 0; k < 2; k++) {
            json_t *v = json_object_get(r, keys[k]);
            if (!v)
                continue;
            secret = 1;
            assert_true(json_is_string(v));
            assert_string_equal(json_string_value(v), "[REDACTED]");
        }
        json_t *mark = json_object_get(r, "redacted");
        assert_int_equal(mark != NULL, secret);
        if (mark) {
            assert_true(json_is_true(mark));
            marked++;
        }
    }
    assert_int_equal(marked, 4);

    /* What is not secret is kept, with its type. */
    r = find(recs, "login");
    assert_string_equal(get(r, "user"), "alice");
    assert_string_equal(get(r, "password"), "[REDACTED]");
    r = find(recs, "payment");
    assert_string_equal(get(r, "card_number"), "[REDACTED]");
    assert_int_equal(json_integer_value(json_object_get(r, "amount_cents")), 1299);
    r = find(recs, "refund");
    assert_string_equal(get(r, "level"), "warn");
    assert_string_equal(get(r, "card_number"), "[REDACTED]");
    assert_int_equal(json_integer_value(json_object_get(r, "amount_cents")), -500);
    r = find(recs, "charge authorised");
    assert_string_equal(get(r, "logger"), "app.pay");
    assert_string_equal(get(r, "card_number"), "[REDACTED]");
    assert_string_equal(get(r, "request_id"), "req-42");
    assert_string_equal(get(r, "user_id"), "alice");
    assert_string_equal(get(r, "tenant_id"), "acme");
    r = find(recs, "profile updated");
    assert_string_equal(get(r, "email"), "alice@example.com");
    assert_null(json_object_get(r, "request_id"));
    json_decref(recs);
}

static void run(const char *env)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s '%s'", env, REDACT_FILTER_PATH);
    assert_int_equal(system(cmd), 0);
}

static void test_redact_filter__environment(void **state)
{
    (void)state;
    char *path = ts_temp_path("redact.log");
    ts_unlink(path);
    char env[2048];
    snprintf(env, sizeof env, "env -u CTXLOG_CONFIG CTXLOG_OUTPUT='%s' CTXLOG_LEVEL=info", path);
    run(env);
    check_output(path);
    ts_unlink(path);
    free(path);
}

static void test_redact_filter__config_file(void **state)
{
    (void)state;
    char *path = ts_temp_path("redact-cfg.log"), *cfg = ts_temp_path("redact.json");
    ts_unlink(path);
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"level\": \"info\", \"sinks\": {\"out\": {\"type\": \"file\", \"path\": \"%s\"}},"
            " \"loggers\": {\"root\": {\"sinks\": [\"out\"]}}}\n",
            path);
    fclose(f);
    char env[2048];
    snprintf(env, sizeof env, "env -u CTXLOG_OUTPUT CTXLOG_CONFIG='%s'", cfg);
    run(env);
    check_output(path);
    ts_unlink(path);
    ts_unlink(cfg);
    free(path);
    free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redact_filter__environment),
        cmocka_unit_test(test_redact_filter__config_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
