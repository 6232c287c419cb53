/* SPDX-License-Identifier: MIT */
/*
 * fork() while another thread reloads the configuration file (and declares
 * context variables): every lock the library owns is taken around the
 * fork, so each child finds none held by a thread it does not have. Each
 * child loads the configuration itself, declares a variable and logs one
 * record; it must exit 0 within a generous bound (an alarm in the parent
 * kills a hung child and fails the test).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include <ctxlog/ctxlog.h>

#include "support.h"

/* The children start the library's background thread: allowed. */
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
    return "die_after_fork=0";
}

#define CHILDREN 40
#define WAIT_S 30 /* per child; a child that works takes milliseconds */

static atomic_int stop;
static atomic_long reloads;
static char *cfg_path;

static void *reloader(void *arg)
{
    (void)arg;
    for (unsigned i = 0; !atomic_load(&stop); i++) {
        assert_int_equal(log_config_load(cfg_path, NULL), 0);
        char name[32];
        snprintf(name, sizeof name, "fork_var_%u", i % 16);
        assert_non_null(ctx_var_new(name, CTX_VAR_LOGGED));
        atomic_fetch_add(&reloads, 1);
    }
    return NULL;
}

static void on_alarm(int sig)
{
    (void)sig; /* only interrupts waitpid */
}

/* The child's exit status, or -1 when it had not exited within WAIT_S
 * seconds (then it is killed). */
static int wait_child(pid_t pid)
{
    struct sigaction sa = {0}, old;
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, &old); /* no SA_RESTART: waitpid returns EINTR */
    alarm(WAIT_S);
    int status = 0;
    pid_t got = waitpid(pid, &status, 0); /* -1 with EINTR: the alarm */
    alarm(0);
    sigaction(SIGALRM, &old, NULL);
    if (got != pid) {
        kill(pid, SIGKILL);
        (void)waitpid(pid, &status, 0);
        return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void test_fork_config__children_of_a_reloading_process_log(void **state)
{
    (void)state;
    char *log_path = ts_temp_path("fork_config.log");
    cfg_path = ts_temp_path("fork_config.json");
    FILE *f = fopen(cfg_path, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"level\": \"info\", \"sinks\": {\"f\": {\"type\": \"file\", \"path\": \"%s\"}},"
            " \"loggers\": {\"root\": {\"sinks\": [\"f\"]}}}",
            log_path);
    fclose(f);
    assert_int_equal(log_config_load(cfg_path, NULL), 0);

    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, reloader, NULL), 0);
    while (atomic_load(&reloads) < 3)
        usleep(1000);
    for (int i = 0; i < CHILDREN; i++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            int ok = log_config_load(cfg_path, NULL) == 0;
            ok &= ctx_var_new("child_var", CTX_VAR_LOGGED) != NULL;
            log_info_kv("child", LOG_I64("i", i));
            ok &= log_flush() == 0;
            _exit(ok ? 0 : 1);
        }
        int rc = wait_child(pid);
        if (rc != 0) {
            atomic_store(&stop, 1);
            pthread_join(th, NULL);
            fail_msg("child %d: %s (%d)", i, rc < 0 ? "hung" : "failed", rc);
        }
    }
    atomic_store(&stop, 1);
    pthread_join(th, NULL);
    assert_int_equal(log_flush(), 0);
    log_shutdown();

    /* Every child's record, once. */
    json_t *recs = ts_read_records(log_path);
    int seen[CHILDREN] = {0};
    size_t k;
    json_t *r;
    json_array_foreach(recs, k, r) {
        const char *msg = json_string_value(json_object_get(r, "msg"));
        assert_non_null(msg);
        if (strcmp(msg, "child") != 0)
            continue;
        json_int_t i = json_integer_value(json_object_get(r, "i"));
        assert_true(i >= 0 && i < CHILDREN);
        seen[i]++;
    }
    for (int i = 0; i < CHILDREN; i++)
        assert_int_equal(seen[i], 1);
    json_decref(recs);
    ts_unlink(log_path);
    ts_unlink(cfg_path);
    free(log_path);
    free(cfg_path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fork_config__children_of_a_reloading_process_log),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
