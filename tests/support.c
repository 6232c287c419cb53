/* SPDX-License-Identifier: MIT */
#include "support.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include <ctxlog/ctxlog.h>

char *ts_temp_path(const char *name)
{
    static char dir[64];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/ctxlog-test-XXXXXX");
        assert_non_null(mkdtemp(dir));
    }
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    assert_non_null(p);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

ts_capture ts_capture_begin(int fd, const char *path)
{
    ts_capture c = {.fd = fd, .saved = dup(fd)};
    assert_true(c.saved >= 0);
    int f = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(f >= 0);
    assert_true(dup2(f, fd) == fd);
    close(f);
    return c;
}

void ts_capture_end(ts_capture *c)
{
    assert_true(dup2(c->saved, c->fd) == c->fd);
    close(c->saved);
    c->saved = -1;
}

char *ts_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t r;
    while ((r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (cap - n - 1 == 0) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

size_t ts_count_lines(const char *path)
{
    size_t len = 0, n = 0;
    char *text = ts_read_file(path, &len);
    for (size_t i = 0; text && i < len; i++)
        n += text[i] == '\n';
    free(text);
    return n;
}

json_t *ts_read_records(const char *path)
{
    size_t len;
    char *text = ts_read_file(path, &len);
    assert_non_null(text);
    json_t *all = json_array();
    size_t start = 0;
    while (start < len) {
        char *nl = memchr(text + start, '\n', len - start);
        if (!nl)
            fail_msg("%s: last line is not newline-terminated: %.80s", path, text + start);
        size_t line_len = (size_t)(nl - (text + start));
        json_error_t err;
        json_t *rec = json_loadb(text + start, line_len, JSON_REJECT_DUPLICATES, &err);
        if (!rec || !json_is_object(rec))
            fail_msg("%s: not a JSON object (%s): %.200s", path, err.text, text + start);
        json_array_append_new(all, rec);
        start += line_len + 1;
    }
    free(text);
    return all;
}

void ts_unlink(const char *path)
{
    (void)unlink(path);
}

char *ts_log_to_file(const char *name)
{
    char *path = ts_temp_path(name);
    ts_unlink(path);
    assert_int_equal(log_output_set(path), 0);
    assert_int_equal(log_level_set(LOG_LEVEL_INFO), 0);
    return path;
}

json_t *ts_log_collect(char *path)
{
    assert_int_equal(log_flush(), 0);
    log_shutdown();
    json_t *recs = ts_read_records(path);
    ts_unlink(path);
    free(path);
    return recs;
}

int ts_loopback_socket(int type, unsigned *port)
{
    int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}
