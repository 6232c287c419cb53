/* SPDX-License-Identifier: MIT */
/* The GLib example, run as a program: the tasks that GThreadPool's own threads
 * run through ctx_bound_run() log with their submitter's three ids, each
 * request's tasks with its own, and nothing outside the requests has any. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "support.h"

#define IMAGES 3

static const char *get(json_t *r, const char *k)
{
    return json_string_value(json_object_get(r, k));
}

/* What each request's records must carry; request_id NULL: a UUIDv7, the
 * same on all of the request's records. */
static struct request {
    const char *request_id, *user_id, *tenant_id;
    const char *seen_id;
    int started;
    unsigned images; /* bit k: "thumbnail made" for image k */
} requests[] = {
    {"req-glib-1", "alice", "acme", NULL, 0, 0},
    {NULL, "bob", "globex", NULL, 0, 0},
};
#define NREQUESTS (sizeof requests / sizeof requests[0])

static struct request *request_of(json_t *r)
{
    const char *uid = get(r, "user_id");
    for (size_t k = 0; uid && k < NREQUESTS; k++)
        if (strcmp(requests[k].user_id, uid) == 0)
            return &requests[k];
    fail_msg("a record of no request: %s", json_dumps(r, JSON_COMPACT));
    return NULL;
}

static void test_glib_pool__tasks_carry_submitter_ids(void **state)
{
    (void)state;
    char *path = ts_temp_path("glib_pool.log");
    ts_unlink(path);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "CTXLOG_OUTPUT='%s' CTXLOG_LEVEL=info '%s'", path, GLIB_POOL_PATH);
    assert_int_equal(system(cmd), 0);
    json_t *recs = ts_read_records(path);

    int done = 0;
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r) {
        const char *msg = get(r, "msg"), *rid = get(r, "request_id");
        assert_non_null(msg);
        if (strcmp(msg, "demo done") == 0) {
            assert_null(rid);
            assert_null(get(r, "user_id"));
            assert_null(get(r, "tenant_id"));
            done++;
            continue;
        }
        struct request *q = request_of(r);
        assert_non_null(rid);
        assert_string_equal(get(r, "tenant_id"), q->tenant_id);
        if (q->request_id) {
            assert_string_equal(rid, q->request_id);
        } else {
            assert_int_equal(strlen(rid), 36);
            assert_int_equal(rid[14], '7'); /* a generated UUIDv7 */
            if (!q->seen_id)
                q->seen_id = strdup(rid);
            assert_string_equal(rid, q->seen_id);
        }
        if (strcmp(msg, "request started") == 0) {
            q->started++;
            continue;
        }
        assert_string_equal(msg, "thumbnail made");
        json_int_t image = json_integer_value(json_object_get(r, "image"));
        assert_true(image >= 0 && image < IMAGES);
        assert_false(q->images >> image & 1);
        q->images |= 1u << image;
    }
    assert_int_equal(done, 1);
    for (size_t k = 0; k < NREQUESTS; k++) {
        assert_int_equal(requests[k].started, 1);
        assert_int_equal(requests[k].images, (1u << IMAGES) - 1);
    }
    assert_int_equal(json_array_size(recs), NREQUESTS * (1 + IMAGES) + 1);
    free((char *)requests[1].seen_id);
    json_decref(recs);
    ts_unlink(path);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_glib_pool__tasks_carry_submitter_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
