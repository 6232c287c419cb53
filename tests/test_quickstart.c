/* SPDX-License-Identifier: MIT */
/* The demo, run as a program: every line of a request carries that request's
 * three ids, and nothing of the first request shows in the second or after;
 * each request's receipt goes to its own user's address. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "support.h"

static const char *get(json_t *r, const char *k)
{
    return json_string_value(json_object_get(r, k));
}

static void test_quickstart__ids_on_every_line(void **state)
{
    (void)state;
    char *path = ts_temp_path("quickstart.log");
    ts_unlink(path);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "CTXLOG_OUTPUT='%s' CTXLOG_LEVEL=info '%s'", path, QUICKSTART_PATH);
    assert_int_equal(system(cmd), 0);
    json_t *recs = ts_read_records(path);
    size_t n = json_array_size(recs);
    assert_true(n >= 13);

    int first = 0, second = 0, receipts = 0;
    const char *second_id = NULL;
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r) {
        const char *rid = get(r, "request_id");
        if (strcmp(get(r, "msg"), "receipt e-mailed") == 0)
            receipts++;
        if (!rid) {
            assert_string_equal(get(r, "msg"), "demo done");
            assert_null(get(r, "user_id"));
            assert_null(get(r, "tenant_id"));
            continue;
        }
        if (strcmp(rid, "req-7f3a") == 0) {
            first++;
            assert_string_equal(get(r, "user_id"), "alice");
            assert_string_equal(get(r, "tenant_id"), "acme");
            if (strcmp(get(r, "msg"), "receipt e-mailed") == 0)
                assert_string_equal(get(r, "to"), "alice@example.com");
        } else {
            second++;
            if (!second_id)
                second_id = rid;
            assert_string_equal(rid, second_id);
            assert_int_equal(strlen(rid), 36);
            assert_int_equal(rid[14], '7'); /* a generated UUIDv7 */
            assert_string_equal(get(r, "user_id"), "bob");
            assert_string_equal(get(r, "tenant_id"), "globex");
            if (strcmp(get(r, "msg"), "receipt e-mailed") == 0)
                assert_string_equal(get(r, "to"), "bob@example.com");
        }
    }
    /* started, placing, charged, audit, receipt, finished */
    assert_int_equal(first, 6);
    assert_int_equal(second, 6);
    assert_int_equal(receipts, 2);
    json_decref(recs);
    ts_unlink(path);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quickstart__ids_on_every_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
