/* Named loggers, levels along the hierarchy, child loggers with bound
 * fields, per-context levels and filters. Every line is parsed back with
 * jansson. */
#include <sched.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include <ctxlog/ctxlog.h>

#include "loggers_db.h"
#include "support.h"

static char *out_path;

/* Fresh configuration: everything to one file, root at info. */
static int setup(void **state)
{
    (void)state;
    out_path = ts_temp_path("loggers.log");
    ts_unlink(out_path);
    log_shutdown();
    log_level_set(LOG_LEVEL_INFO);
    for (const char *const *n = (const char *const[]){"app", "app.db", "app.db.pool", "app.http",
                                                      NULL};
         *n; n++)
        log_logger_set_level(log_get(*n), LOG_LEVEL_INHERIT);
    log_logger_clear_filters(NULL);
    assert_int_equal(log_output_set(out_path), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (out_path) { /* a test that read no records */
        log_shutdown();
        ts_unlink(out_path);
        free(out_path);
        out_path = NULL;
    }
    return 0;
}

static json_t *records(void)
{
    log_shutdown();
    json_t *r = ts_read_records(out_path);
    ts_unlink(out_path);
    free(out_path);
    out_path = NULL;
    return r;
}

static const char *sget(json_t *r, const char *k)
{
    return json_string_value(json_object_get(r, k));
}

static void test_loggers__same_pointer_and_names(void **state)
{
    (void)state;
    log_logger *a = log_get("app.db");
    assert_non_null(a);
    assert_ptr_equal(a, log_get("app.db"));
    assert_ptr_equal(log_get(NULL), log_get("root"));
    assert_ptr_equal(log_get(""), log_get("root"));
    assert_string_equal(log_logger_name(a), "app.db");
    assert_string_equal(log_logger_name(log_get(NULL)), "root");
    assert_int_equal(log_logger_set_level(log_get(NULL), LOG_LEVEL_INHERIT), CTXLOG_EINVAL);
    assert_int_equal(log_logger_set_level(a, (log_level)9), CTXLOG_EINVAL);
}

static void test_loggers__levels_inherit_along_dots(void **state)
{
    (void)state;
    log_logger *app = log_get("app"), *db = log_get("app.db"), *pool = log_get("app.db.pool"),
               *http = log_get("app.http");
    assert_int_equal(log_logger_level(pool), LOG_LEVEL_INFO);
    log_logger_set_level(db, LOG_LEVEL_DEBUG);
    assert_int_equal(log_logger_level(pool), LOG_LEVEL_DEBUG);
    assert_int_equal(log_logger_level(http), LOG_LEVEL_INFO);
    log_logger_set_level(app, LOG_LEVEL_ERROR);
    assert_int_equal(log_logger_level(http), LOG_LEVEL_ERROR);
    assert_int_equal(log_logger_level(pool), LOG_LEVEL_DEBUG); /* nearer wins */
    log_debug_to(pool, "pool debug");
    log_warn_to(http, "http warn dropped");
    log_error_to(http, "http error");
    log_info("root info");
    log_logger_set_level(db, LOG_LEVEL_INHERIT);
    log_debug_to(pool, "pool debug dropped");
    log_logger_set_level(app, LOG_LEVEL_INHERIT);
    json_t *recs = records();
    assert_int_equal(json_array_size(recs), 3);
    assert_string_equal(sget(json_array_get(recs, 0), "logger"), "app.db.pool");
    assert_string_equal(sget(json_array_get(recs, 0), "level"), "debug");
    assert_string_equal(sget(json_array_get(recs, 1), "msg"), "http error");
    assert_string_equal(sget(json_array_get(recs, 2), "logger"), "root");
    json_decref(recs);
}

static void test_loggers__file_names_its_logger_once(void **state)
{
    (void)state;
    db_query("select 1");
    log_logger_set_level(log_get("app.db"), LOG_LEVEL_DEBUG);
    db_query("select 2");
    log_logger_set_level(log_get("app.db"), LOG_LEVEL_INHERIT);
    json_t *recs = records();
    assert_int_equal(json_array_size(recs), 3);
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(sget(json_array_get(recs, i), "logger"), "app.db");
    assert_string_equal(sget(json_array_get(recs, 0), "sql"), "select 1");
    assert_string_equal(sget(json_array_get(recs, 2), "level"), "debug");
    json_decref(recs);
}

static void test_loggers__child_bound_fields_after_context(void **state)
{
    (void)state;
    char shard[] = "s-7";
    log_logger *child =
        LOG_CHILD(log_get("app.db"), LOG_STR("component", "pool"), LOG_STR("db.shard", shard));
    assert_non_null(child);
    shard[0] = 'X'; /* copied, not borrowed */
    log_logger *grandchild = LOG_CHILD(child, LOG_I64("conn", 3));
    {
        CTX_REQUEST("r-1", "u-1", "t-1");
        log_info_kv_to(grandchild, "acquired", LOG_I64("wait_ms", 2));
        log_info_to(child, "plain");
    }
    log_logger_set_level(log_get("app.db"), LOG_LEVEL_WARN);
    log_info_to(child, "dropped: the child follows its parent's level");
    log_logger_set_level(log_get("app.db"), LOG_LEVEL_INHERIT);
    log_logger_free(grandchild);
    log_logger_free(child);
    log_logger_free(log_get("app")); /* named loggers are never freed */
    json_t *recs = records();
    assert_int_equal(json_array_size(recs), 2);
    json_t *r = json_array_get(recs, 0);
    const char *want[] = {"ts", "level", "logger", "msg", "request_id", "user_id",
                          "tenant_id", "component", "db.shard", "conn", "wait_ms"};
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach(r, k, v) {
        (void)v;
        assert_true(i < 11);
        assert_string_equal(k, want[i++]);
    }
    assert_int_equal(i, 11);
    assert_string_equal(sget(r, "db.shard"), "s-7");
    assert_string_equal(sget(r, "logger"), "app.db");
    assert_string_equal(sget(json_array_get(recs, 1), "component"), "pool");
    json_decref(recs);
}

static void *spawned_debug(void *p)
{
    (void)p;
    log_debug("from spawned thread");
    return NULL;
}

static void test_loggers__per_context_level_only_for_that_request(void **state)
{
    (void)state;
    log_logger *lg = log_get("app.http");
    {
        CTX_REQUEST("flagged", NULL, NULL);
        LOG_CONTEXT_LEVEL(LOG_LEVEL_DEBUG);
        log_debug_to(lg, "flagged debug");
        log_trace_to(lg, "trace still off");
        pthread_t t;
        assert_int_equal(ctx_thread_create(&t, NULL, spawned_debug, NULL), 0);
        pthread_join(t, NULL);
    }
    log_debug_to(lg, "after the request: off again");
    assert_int_equal(log_logger_level(lg), LOG_LEVEL_INFO); /* nobody else's level moved */
    json_t *recs = records();
    assert_int_equal(json_array_size(recs), 2);
    for (size_t i = 0; i < 2; i++) {
        assert_string_equal(sget(json_array_get(recs, i), "request_id"), "flagged");
        assert_string_equal(sget(json_array_get(recs, i), "level"), "debug");
    }
    json_decref(recs);
}

static void *plain_request(void *p)
{
    (void)p;
    CTX_REQUEST("plain", NULL, NULL);
    for (int i = 0; i < 1000; i++)
        log_debug("plain debug %d", i);
    return NULL;
}

static void test_loggers__per_context_level_other_threads_unaffected(void **state)
{
    (void)state;
    CTX_REQUEST("flagged", NULL, NULL);
    LOG_CONTEXT_LEVEL(LOG_LEVEL_DEBUG);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, plain_request, NULL), 0);
    log_debug("flagged debug");
    pthread_join(t, NULL);
    json_t *recs = records();
    assert_int_equal(json_array_size(recs), 1);
    assert_string_equal(sget(json_array_get(recs, 0), "request_id"), "flagged");
    json_decref(recs);
}

static log_filter_result drop_health(log_record *rec, void *payload)
{
    (void)payload;
    return rec->msg_len == 6 && memcmp(rec->msg, "health", 6) == 0 ? LOG_FILTER_DROP
                                                                    : LOG_FILTER_KEEP;
}

static log_filter_result add_host(log_record *rec, void *payload)
{
    assert_int_equal(log_record_add_field(rec, LOG_STR("host", (const char *)payload)), 0);
    return LOG_FILTER_KEEP;
}

static log_filter_result redact(log_record *rec, void *payload)
{
    (void)payload;
    for (size_t i = 0; i < rec->n_fields; i++)
        if (strcmp(rec->fields[i].key, "password") == 0)
            rec->fields[i] = LOG_STR("password", "[REDACTED]");
    return LOG_FILTER_KEEP;
}

static void test_loggers__filters_drop_add_redact(void **state)
{
    (void)state;
    assert_int_equal(log_logger_add_filter(NULL, drop_health, NULL), 0);
    assert_int_equal(log_logger_add_filter(log_get("app"), add_host, "web-1"), 0);
    assert_int_equal(log_logger_add_filter(log_get("app.http"), redact, NULL), 0);
    assert_int_equal(log_logger_add_filter(NULL, NULL, NULL), CTXLOG_EINVAL);
    log_info("health");
    log_info_to(log_get("app.http"), "health");
    log_info_kv_to(log_get("app.http"), "login", LOG_STR("user", "bob"),
                   LOG_STR("password", "hunter2"));
    log_info_kv("root login", LOG_STR("password", "kept at root"));
    CTX_REQUEST("r-9", NULL, NULL);
    log_context_filter_enable(false);
    log_info("no context stamped");
    log_context_filter_enable(true);
    log_logger_clear_filters(log_get("app"));
    log_logger_clear_filters(log_get("app.http"));
    log_logger_clear_filters(NULL);
    json_t *recs = records();
    assert_int_equal(json_array_size(recs), 3);
    json_t *r = json_array_get(recs, 0);
    assert_string_equal(sget(r, "password"), "[REDACTED]");
    assert_string_equal(sget(r, "user"), "bob");
    assert_string_equal(sget(r, "host"), "web-1");
    r = json_array_get(recs, 1);
    assert_string_equal(sget(r, "password"), "kept at root");
    assert_null(json_object_get(r, "host"));
    r = json_array_get(recs, 2);
    assert_null(json_object_get(r, "request_id"));
    json_decref(recs);
}

typedef struct {
    int id;
    int n;
} writer_arg;

static atomic_int writers_done;
static atomic_int level_flips;

/* Waits until the main thread has flipped the levels more than `seen` times:
 * so that flips happen while the writers log, however the threads are
 * scheduled. */
static int flips_after(int seen)
{
    while (atomic_load(&level_flips) <= seen)
        sched_yield();
    return atomic_load(&level_flips);
}

static void *level_writer(void *p)
{
    writer_arg *a = p;
    log_logger *lg = log_get(a->id % 2 ? "app.db.pool" : "app.http");
    int seen = flips_after(0);
    for (int i = 0; i < a->n; i++) {
        if (i == a->n / 2)
            flips_after(seen); /* at least one flip during this writer's run */
        log_info_kv_to(lg, "tick", LOG_I64("writer", a->id), LOG_I64("i", i));
    }
    atomic_fetch_add(&writers_done, 1);
    return NULL;
}

/* Levels change while 4 threads log: run under TSan in CI. Records of each
 * writer stay whole and in order; only levels decide what is written. */
static void test_loggers__level_changes_while_threads_log(void **state)
{
    (void)state;
    pthread_t th[4];
    writer_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (writer_arg){.id = i, .n = 5000};
        assert_int_equal(pthread_create(&th[i], NULL, level_writer, &args[i]), 0);
    }
    /* Flip levels for as long as the writers run; each writer waits for a
     * flip before it starts and another one halfway. */
    atomic_store(&level_flips, 0);
    for (int k = 0; atomic_load(&writers_done) < 4; k++) {
        log_logger_set_level(log_get("app"), k % 2 ? LOG_LEVEL_ERROR : LOG_LEVEL_INHERIT);
        log_logger_set_level(log_get("app.db"), k % 3 ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
        atomic_fetch_add(&level_flips, 1);
    }
    assert_true(atomic_load(&level_flips) >= 2);
    log_logger_set_level(log_get("app"), LOG_LEVEL_INHERIT);
    log_logger_set_level(log_get("app.db"), LOG_LEVEL_INHERIT);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    json_t *recs = records();
    json_int_t last[4] = {-1, -1, -1, -1};
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r) {
        json_int_t w = json_integer_value(json_object_get(r, "writer"));
        json_int_t n = json_integer_value(json_object_get(r, "i"));
        assert_true(w >= 0 && w < 4);
        assert_true(n > last[w]);
        last[w] = n;
    }
    /* app.db is explicit (debug or info): app.db.pool never drops an info
     * record; app.http does while app is at error. */
    assert_true(last[1] == 4999 && last[3] == 4999);
    assert_true(json_array_size(recs) >= 2 * 5000);
    json_decref(recs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_loggers__same_pointer_and_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loggers__levels_inherit_along_dots, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loggers__file_names_its_logger_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loggers__child_bound_fields_after_context, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loggers__per_context_level_only_for_that_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loggers__per_context_level_other_threads_unaffected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loggers__filters_drop_add_redact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loggers__level_changes_while_threads_log, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
