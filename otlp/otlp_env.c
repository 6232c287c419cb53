/* SPDX-License-Identifier: MIT */
/*
 * The OTLP exporter's settings: options first, then the environment of the
 * OpenTelemetry exporter specification, then the defaults.
 */
#include "otlp/otlp_env.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* The first of two variables that is set and not empty. */
static const char *env2(const char *specific, const char *general)
{
    const char *v = env(specific);
    return v ? v : env(general);
}

static int hexv(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Replace, in place, each byte of s that does not start or continue valid
 * UTF-8 with '?': a collector refuses a request whose strings are not
 * UTF-8 (protobuf's string type), so the environment's text is made safe
 * (the records' strings are repaired by the JSON formatter's walk). */
static void utf8_safe(char *str)
{
    unsigned char *s = (unsigned char *)str;
    while (*s) {
        unsigned c = *s;
        size_t n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 && c >= 0xC2 ? 2 : (c & 0xF0) == 0xE0 ? 3
                 : (c & 0xF8) == 0xF0 && c <= 0xF4 ? 4 : 0;
        size_t k = 1;
        while (n && k < n && (s[k] & 0xC0) == 0x80)
            k++;
        bool ok = n && k == n;
        if (ok && n == 3) /* no overlong forms, no surrogates */
            ok = !(c == 0xE0 && s[1] < 0xA0) && !(c == 0xED && s[1] >= 0xA0);
        if (ok && n == 4)
            ok = !(c == 0xF0 && s[1] < 0x90) && !(c == 0xF4 && s[1] >= 0x90);
        if (!ok) {
            *s++ = '?';
            continue;
        }
        s += n;
    }
}

/* s[0, n) trimmed of blanks and percent-decoded, as a new string. */
static char *decode(const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    char *out = malloc(n + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && hexv(s[i + 1]) >= 0 && hexv(s[i + 2]) >= 0) {
            *o++ = (char)(hexv(s[i + 1]) * 16 + hexv(s[i + 2]));
            i += 2;
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    utf8_safe(out);
    return out;
}

/* Append the pairs of "k=v,k2=v2" (W3C Baggage-like, as the OTel variables
 * take them) to *list. A pair without '=' or with an empty key is skipped.
 * With `replace`, a key already in the list gets the new value. */
static int add_pairs(otlp_attr **list, size_t *n, const char *text, bool replace)
{
    if (!text)
        return 0;
    for (const char *p = text; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (eq) {
            char *k = decode(p, (size_t)(eq - p));
            char *v = decode(eq + 1, len - (size_t)(eq - p) - 1);
            if (!k || !v) {
                free(k);
                free(v);
                return CTXLOG_ENOMEM;
            }
            size_t at = *n;
            for (size_t i = 0; replace && i < *n; i++)
                if (strcmp((*list)[i].key, k) == 0)
                    at = i;
            if (!*k) {
                free(k);
                free(v);
            } else if (at < *n) {
                free(k);
                free((*list)[at].value);
                (*list)[at].value = v;
            } else {
                otlp_attr *l = realloc(*list, (*n + 1) * sizeof *l);
                if (!l) {
                    free(k);
                    free(v);
                    return CTXLOG_ENOMEM;
                }
                *list = l;
                l[(*n)++] = (otlp_attr){k, v};
            }
        }
        p += len;
        if (*p == ',')
            p++;
    }
    return 0;
}

static int env_ms(const char *specific, const char *general, int dflt)
{
    const char *v = env2(specific, general);
    if (!v)
        return dflt;
    char *end;
    errno = 0;
    long ms = strtol(v, &end, 10);
    if (errno || *end || ms <= 0 || ms > 3600 * 1000)
        return dflt;
    return (int)ms;
}

void otlp_settings_free(otlp_settings *s)
{
    free(s->endpoint);
    for (size_t i = 0; i < s->nresource; i++) {
        free(s->resource[i].key);
        free(s->resource[i].value);
    }
    for (size_t i = 0; i < s->nheaders; i++) {
        free(s->headers[i].key);
        free(s->headers[i].value);
    }
    free(s->resource);
    free(s->headers);
    memset(s, 0, sizeof *s);
}

static int endpoint_of(otlp_settings *s, const char *given)
{
    const char *e = given ? given : env("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT");
    if (e) {
        s->endpoint = strdup(e);
    } else if ((e = env("OTEL_EXPORTER_OTLP_ENDPOINT")) != NULL) {
        size_t n = strlen(e);
        while (n && e[n - 1] == '/')
            n--; /* "http://host:4318/" + "v1/logs" */
        s->endpoint = malloc(n + sizeof "/v1/logs");
        if (s->endpoint) {
            memcpy(s->endpoint, e, n);
            memcpy(s->endpoint + n, "/v1/logs", sizeof "/v1/logs");
        }
    } else {
        s->endpoint = strdup("http://localhost:4318/v1/logs");
    }
    if (!s->endpoint)
        return CTXLOG_ENOMEM;
    if (strncasecmp(s->endpoint, "http://", 7) != 0 && strncasecmp(s->endpoint, "https://", 8) != 0)
        return CTXLOG_EINVAL;
    return 0;
}

static int encoding_of(otlp_settings *s, log_otlp_encoding given)
{
    if ((unsigned)given > LOG_OTLP_JSON)
        return CTXLOG_EINVAL;
    s->encoding = given;
    const char *p = env2("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL");
    if (given != LOG_OTLP_PROTOBUF || !p)
        return 0;
    if (strcmp(p, "http/json") == 0)
        s->encoding = LOG_OTLP_JSON;
    else if (strcmp(p, "http/protobuf") != 0)
        fprintf(stderr, "ctxlog: OTLP protocol '%s' is not supported; using http/protobuf\n", p);
    return 0;
}

static int compression_of(otlp_settings *s, log_otlp_compression given)
{
    if ((unsigned)given > LOG_OTLP_COMPRESSION_GZIP)
        return CTXLOG_EINVAL;
    if (given == LOG_OTLP_COMPRESSION_DEFAULT) {
        const char *c = env2("OTEL_EXPORTER_OTLP_LOGS_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION");
        given = c && strcmp(c, "gzip") == 0 ? LOG_OTLP_COMPRESSION_GZIP : LOG_OTLP_COMPRESSION_NONE;
    }
    s->gzip = given == LOG_OTLP_COMPRESSION_GZIP;
#ifndef CTXLOG_OTLP_HAVE_ZLIB
    if (s->gzip)
        return CTXLOG_EINVAL;
#endif
    return 0;
}

static int resource_of(otlp_settings *s, const log_otlp_options *o)
{
    /* service.name first: the option, OTEL_SERVICE_NAME, the resource
     * attributes' own, or the program's name. */
    s->resource = calloc(1, sizeof *s->resource);
    if (!s->resource)
        return CTXLOG_ENOMEM;
    s->nresource = 1;
    s->resource[0].key = strdup("service.name");
    if (!s->resource[0].key)
        return CTXLOG_ENOMEM;
    int rc = add_pairs(&s->resource, &s->nresource, env("OTEL_RESOURCE_ATTRIBUTES"), true);
    if (rc == 0)
        rc = add_pairs(&s->resource, &s->nresource, o->resource_attributes, true);
    if (rc)
        return rc;
    const char *name = o->service_name ? o->service_name : env("OTEL_SERVICE_NAME");
    if (!name && s->resource[0].value)
        return 0; /* from the resource attributes */
    if (!name)
        name = program_invocation_short_name;
    free(s->resource[0].value);
    s->resource[0].value = strdup(name);
    if (!s->resource[0].value)
        return CTXLOG_ENOMEM;
    utf8_safe(s->resource[0].value);
    return 0;
}

int otlp_settings_init(otlp_settings *s, const log_otlp_options *opts)
{
    log_otlp_options o = {0};
    if (opts)
        o = *opts;
    memset(s, 0, sizeof *s);
    if (o.batch_delay_ms < 0 || o.timeout_ms < 0 || o.retry_min_ms < 0 || o.retry_max_ms < 0)
        return CTXLOG_EINVAL;
    int rc = endpoint_of(s, o.endpoint);
    if (rc == 0)
        rc = encoding_of(s, o.encoding);
    if (rc == 0)
        rc = compression_of(s, o.compression);
    if (rc == 0)
        rc = resource_of(s, &o);
    if (rc == 0)
        rc = add_pairs(&s->headers, &s->nheaders, env("OTEL_EXPORTER_OTLP_HEADERS"), true);
    if (rc == 0)
        rc = add_pairs(&s->headers, &s->nheaders, env("OTEL_EXPORTER_OTLP_LOGS_HEADERS"), true);
    if (rc == 0)
        rc = add_pairs(&s->headers, &s->nheaders, o.headers, true);
    if (rc) {
        otlp_settings_free(s);
        return rc;
    }
    s->batch_max = o.batch_max ? o.batch_max : 512;
    s->queue_max = o.queue_max ? o.queue_max : 2048;
    s->batch_delay_ms = o.batch_delay_ms ? o.batch_delay_ms : 1000;
    s->timeout_ms = o.timeout_ms ? o.timeout_ms
                                 : env_ms("OTEL_EXPORTER_OTLP_LOGS_TIMEOUT",
                                          "OTEL_EXPORTER_OTLP_TIMEOUT", 10000);
    s->retry_min_ms = o.retry_min_ms ? o.retry_min_ms : 100;
    s->retry_max_ms = o.retry_max_ms ? o.retry_max_ms : 5000;
    if (s->retry_max_ms < s->retry_min_ms)
        s->retry_max_ms = s->retry_min_ms;
    return 0;
}
