/* SPDX-License-Identifier: MIT */
/* A server program run as a child of a test: started on a free loopback port
 * with its records going to a file, stopped with SIGTERM. Every wait has a
 * deadline, so a server that hangs fails the test instead of hanging it.
 * The calls use cmocka's assertions: main thread only. */
#ifndef CTXLOG_TEST_HTTP_SERVER_PROC_H
#define CTXLOG_TEST_HTTP_SERVER_PROC_H

#include <sys/types.h>

typedef struct ts_server {
    pid_t pid;     /* 0 when no child is running */
    int reaped;    /* waitpid() collected the exit status below */
    int status;
    unsigned short port;
} ts_server;

/* Start `path port` with CTXLOG_OUTPUT=log_path and CTXLOG_LEVEL=info, on a
 * port that was free a moment ago, and return once it accepts connections
 * on 127.0.0.1. Fails the test if it exits or does not listen in time. */
void ts_server_start(ts_server *s, const char *path, const char *log_path, int timeout_ms);

/* The same, with one more argument after the port (NULL: none) and, when
 * `async` is set, CTXLOG_ASYNC=1 in the child's environment. */
void ts_server_start_ex(ts_server *s, const char *path, const char *log_path, int timeout_ms,
                        const char *extra_arg, int async);

/* Send SIGTERM and reap the child. Fails the test unless it exits with
 * status 0 within timeout_ms (it is then killed with SIGKILL). */
void ts_server_stop(ts_server *s, int timeout_ms);

/* Kill and reap a child still running (after a failed assertion); no-op
 * otherwise. For a cmocka teardown. */
void ts_server_kill(ts_server *s);

#endif
