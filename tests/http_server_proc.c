/* SPDX-License-Identifier: MIT */
#include "http_server_proc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

extern char **environ;

static struct sockaddr_in loopback(unsigned short port)
{
    return (struct sockaddr_in){
        .sin_family = AF_INET,
        .sin_port = htons(port),
        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
    };
}

/* A port the kernel just handed out for 127.0.0.1. Another process could
 * take it before the server binds it; the server then fails to start and
 * the test says so, which is rare enough on a test machine. */
static unsigned short free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = loopback(0);
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Whether the child has exited within timeout_ms; reaps it if so. Polls
 * waitpid() rather than a pidfd, which valgrind does not know. */
static int exited(ts_server *s, int timeout_ms)
{
    long deadline = now_ms() + timeout_ms;
    for (;;) {
        if (s->reaped)
            return 1;
        pid_t r = waitpid(s->pid, &s->status, WNOHANG);
        if (r == s->pid) {
            s->reaped = 1;
            return 1;
        }
        if (r < 0 && errno != EINTR)
            fail_msg("waitpid: %s", strerror(errno));
        if (now_ms() >= deadline)
            return 0;
        struct timespec pause = {0, 2 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
}

static int accepts(unsigned short port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = loopback(port);
    int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

static void reap(ts_server *s, int *status)
{
    if (!s->reaped)
        while (waitpid(s->pid, &s->status, 0) < 0 && errno == EINTR)
            ;
    *status = s->status;
    s->pid = 0;
    s->reaped = 0;
}

/* The environment of the child: ours, with the logging variables replaced. */
static char **child_env(char *output, int async)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 4, sizeof *env);
    assert_non_null(env);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "CTXLOG_", 7) != 0)
            env[k++] = environ[i];
    env[k++] = output;
    env[k++] = "CTXLOG_LEVEL=info";
    if (async)
        env[k++] = "CTXLOG_ASYNC=1";
    return env;
}

void ts_server_start(ts_server *s, const char *path, const char *log_path, int timeout_ms)
{
    ts_server_start_ex(s, path, log_path, timeout_ms, NULL, 0);
}

void ts_server_start_ex(ts_server *s, const char *path, const char *log_path, int timeout_ms,
                        const char *extra_arg, int async)
{
    *s = (ts_server){.port = free_port()};
    char port[8], *output;
    snprintf(port, sizeof port, "%u", s->port);
    assert_true(asprintf(&output, "CTXLOG_OUTPUT=%s", log_path) > 0);
    char **env = child_env(output, async);
    char *argv[] = {(char *)path, port, (char *)extra_arg, NULL};

    /* Everything the child needs is prepared: after fork() it only execs. */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execve(path, argv, env);
        _exit(127);
    }
    free(env);
    free(output);
    s->pid = pid;

    /* Nothing tells us when the server listens but the port itself: retry
     * connect() every 5 ms until the deadline, and stop early if it died. */
    long deadline = now_ms() + timeout_ms;
    while (!accepts(s->port)) {
        if (exited(s, 5)) {
            int status;
            reap(s, &status);
            fail_msg("%s exited before listening (status %#x)", path, status);
        }
        if (now_ms() > deadline)
            fail_msg("%s does not accept connections on port %u after %d ms", path, s->port,
                     timeout_ms);
    }
}

void ts_server_stop(ts_server *s, int timeout_ms)
{
    assert_true(s->pid > 0);
    assert_int_equal(kill(s->pid, SIGTERM), 0);
    int status, in_time = exited(s, timeout_ms);
    if (!in_time)
        kill(s->pid, SIGKILL);
    reap(s, &status);
    if (!in_time)
        fail_msg("the server did not exit within %d ms of SIGTERM", timeout_ms);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("the server did not stop cleanly: status %#x", status);
}

void ts_server_kill(ts_server *s)
{
    if (s->pid <= 0)
        return;
    int status;
    kill(s->pid, SIGKILL);
    reap(s, &status);
}
