/* SPDX-License-Identifier: MIT */
/* The HTTP tests' client side: see http_client.h. */
#include "http_client.h"

#include <stdio.h>
#include <string.h>

static size_t discard(char *data, size_t size, size_t n, void *user)
{
    (void)data;
    (void)user;
    return size * n;
}

CURL *hc_handle(long timeout_ms)
{
    CURL *h = curl_easy_init();
    if (!h)
        return NULL;
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for timeouts */
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_PROXY, ""); /* never through an http_proxy */
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    return h;
}

struct curl_slist *hc_add_header(struct curl_slist *list, const char *line, int *oom)
{
    struct curl_slist *more = curl_slist_append(list, line);
    if (!more)
        *oom = 1;
    return more ? more : list;
}

int hc_curl_up(void **state)
{
    (void)state;
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

int hc_curl_down(void **state)
{
    (void)state;
    curl_global_cleanup();
    return 0;
}

int hc_request_of(const char *uid, int n)
{
    int i, end = 0;
    char want[32];
    if (!uid || sscanf(uid, "uid-%d%n", &i, &end) != 1 || uid[end] != '\0' || i < 0 || i >= n)
        return -1;
    snprintf(want, sizeof want, "uid-%d", i);
    return strcmp(uid, want) == 0 ? i : -1;
}
