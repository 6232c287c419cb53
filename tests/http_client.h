/* SPDX-License-Identifier: MIT */
/* The client side of the HTTP tests that run the example servers as
 * processes (test_http_load.c, test_http_trace.c): curl handles made the
 * same way, headers, and the records' user ids. */
#ifndef CTXLOG_TEST_HTTP_CLIENT_H
#define CTXLOG_TEST_HTTP_CLIENT_H

#include <curl/curl.h>

/* A handle for one client thread: no signals (threads), a timeout of
 * timeout_ms per request, never through a proxy, the body discarded.
 * NULL when curl_easy_init fails. */
CURL *hc_handle(long timeout_ms);

/* Append a header line; on allocation failure sets *oom and returns the
 * list as it was. */
struct curl_slist *hc_add_header(struct curl_slist *list, const char *line, int *oom);

/* cmocka group setup and teardown: curl_global_init and cleanup. */
int hc_curl_up(void **state);
int hc_curl_down(void **state);

/* The request a record belongs to, from its user id "uid-<i>" with
 * 0 <= i < n written exactly so; -1 otherwise. */
int hc_request_of(const char *uid, int n);

#endif /* CTXLOG_TEST_HTTP_CLIENT_H */
