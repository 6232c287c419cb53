/* SPDX-License-Identifier: MIT */
/*
 * "type": "otlp" in a configuration file: the kind this library adds to
 * the file's sink types (log_config_sink_kind_add), registered when the
 * library is loaded and by log_otlp_config_register().
 *
 *   "collector": {
 *     "type": "otlp",
 *     "endpoint": "http://otel-collector:4318/v1/logs", // optional string
 *     "encoding": "protobuf" | "json",                  // optional
 *     "compression": "none" | "gzip",                   // optional
 *     "service_name": "checkout",                       // optional string
 *     "resource_attributes": {"deployment.environment": "prod"}, // optional, strings
 *     "headers": {"Authorization": "Bearer …"},          // optional, strings
 *     "batch_max": 512, "batch_delay_ms": 1000,          // optional integers
 *     "queue_max": 2048, "timeout_ms": 10000,            // optional integers
 *     "retry_min_ms": 100, "retry_max_ms": 5000,         // optional integers
 *     "level": "info"                                    // the library's, as for every sink
 *   }
 */
#include <ctxlog/config.h>
#include <ctxlog/otlp.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const keys[] = {
    "endpoint",  "encoding",       "compression", "service_name", "resource_attributes",
    "headers",   "batch_max",      "batch_delay_ms", "queue_max",  "timeout_ms",
    "retry_min_ms", "retry_max_ms",
};

/* s percent-encoded where the "k=v,k2=v2" form needs it. */
static void put_encoded(char *out, size_t *o, const char *s)
{
    for (; *s; s++) {
        if (*s == ',' || *s == '=' || *s == '%') {
            if (out)
                sprintf(out + *o, "%%%02X", (unsigned char)*s);
            *o += 3;
        } else {
            if (out)
                out[*o] = *s;
            (*o)++;
        }
    }
}

/* An object of strings as "k=v,k2=v2" (*out NULL when absent); the
 * offending key and why on error. */
static int pairs(const json_t *obj, const char *key, char **out, const char **bad, char *why,
                 size_t cap)
{
    const json_t *o = json_object_get(obj, key);
    *out = NULL;
    if (!o)
        return 0;
    if (!json_is_object(o)) {
        *bad = key;
        snprintf(why, cap, "must be an object of strings");
        return CTXLOG_ECONFIG;
    }
    size_t n = 1;
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)o, k, v) {
        if (!json_is_string(v) || !*k) {
            *bad = key;
            snprintf(why, cap, "must be an object of strings with non-empty names");
            return CTXLOG_ECONFIG;
        }
        put_encoded(NULL, &n, k);
        put_encoded(NULL, &n, json_string_value(v));
        n += 2;
    }
    char *s = malloc(n);
    if (!s)
        return CTXLOG_ENOMEM;
    size_t at = 0;
    json_object_foreach((json_t *)o, k, v) {
        if (at)
            s[at++] = ',';
        put_encoded(s, &at, k);
        s[at++] = '=';
        put_encoded(s, &at, json_string_value(v));
    }
    s[at] = '\0';
    *out = s;
    return 0;
}

static int get_str(const json_t *obj, const char *key, const char **out, const char **bad,
                   char *why, size_t cap)
{
    const json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    if (!json_is_string(v) || !*json_string_value(v)) {
        *bad = key;
        snprintf(why, cap, "must be a non-empty string");
        return CTXLOG_ECONFIG;
    }
    *out = json_string_value(v);
    return 0;
}

static int get_num(const json_t *obj, const char *key, long long max, long long *out,
                   const char **bad, char *why, size_t cap)
{
    const json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > max) {
        *bad = key;
        snprintf(why, cap, "must be an integer from 1 to %lld", max);
        return CTXLOG_ECONFIG;
    }
    *out = (long long)json_integer_value(v);
    return 0;
}

static int get_choice(const json_t *obj, const char *key, const char *a, const char *b,
                      int *out, const char **bad, char *why, size_t cap)
{
    const char *s = NULL;
    int rc = get_str(obj, key, &s, bad, why, cap);
    if (rc || !s)
        return rc;
    if (strcmp(s, a) == 0 || strcmp(s, b) == 0) {
        *out = strcmp(s, b) == 0;
        return 0;
    }
    *bad = key;
    snprintf(why, cap, "must be \"%s\" or \"%s\"", a, b);
    return CTXLOG_ECONFIG;
}

/* The options the object describes; o's strings borrow from obj, except
 * resource_attributes and headers (freed by the caller). */
static int parse(const json_t *obj, log_otlp_options *o, const char **bad, char *why, size_t cap)
{
    memset(o, 0, sizeof *o);
    long long batch = 0, delay = 0, queue = 0, timeout = 0, rmin = 0, rmax = 0;
    int json = 0, gz = -1;
    int rc;
    if ((rc = get_str(obj, "endpoint", &o->endpoint, bad, why, cap)) ||
        (rc = get_str(obj, "service_name", &o->service_name, bad, why, cap)) ||
        (rc = get_choice(obj, "encoding", "protobuf", "json", &json, bad, why, cap)) ||
        (rc = get_choice(obj, "compression", "none", "gzip", &gz, bad, why, cap)) ||
        (rc = get_num(obj, "batch_max", 1000000, &batch, bad, why, cap)) ||
        (rc = get_num(obj, "batch_delay_ms", 3600000, &delay, bad, why, cap)) ||
        (rc = get_num(obj, "queue_max", 1 << 30, &queue, bad, why, cap)) ||
        (rc = get_num(obj, "timeout_ms", 3600000, &timeout, bad, why, cap)) ||
        (rc = get_num(obj, "retry_min_ms", 3600000, &rmin, bad, why, cap)) ||
        (rc = get_num(obj, "retry_max_ms", 3600000, &rmax, bad, why, cap)))
        return rc;
    if (o->endpoint && strncmp(o->endpoint, "http://", 7) != 0 &&
        strncmp(o->endpoint, "https://", 8) != 0) {
        *bad = "endpoint";
        snprintf(why, cap, "must be an http:// or https:// URL");
        return CTXLOG_ECONFIG;
    }
    o->encoding = json ? LOG_OTLP_JSON : LOG_OTLP_PROTOBUF;
    o->compression = gz < 0 ? LOG_OTLP_COMPRESSION_DEFAULT
                            : gz ? LOG_OTLP_COMPRESSION_GZIP : LOG_OTLP_COMPRESSION_NONE;
#ifndef CTXLOG_OTLP_HAVE_ZLIB
    if (gz == 1) {
        *bad = "compression";
        snprintf(why, cap, "gzip needs a libctxlog-otlp built with zlib");
        return CTXLOG_ECONFIG;
    }
#endif
    o->batch_max = (size_t)batch;
    o->batch_delay_ms = (int)delay;
    o->queue_max = (size_t)queue;
    o->timeout_ms = (int)timeout;
    o->retry_min_ms = (int)rmin;
    o->retry_max_ms = (int)rmax;
    char *res = NULL, *hdr = NULL;
    if ((rc = pairs(obj, "resource_attributes", &res, bad, why, cap)) ||
        (rc = pairs(obj, "headers", &hdr, bad, why, cap))) {
        free(res);
        return rc;
    }
    o->resource_attributes = res;
    o->headers = hdr;
    return 0;
}

static int check(const struct json_t *obj, const char **key, char *why, size_t cap)
{
    log_otlp_options o;
    int rc = parse(obj, &o, key, why, cap);
    free((char *)o.resource_attributes);
    free((char *)o.headers);
    return rc;
}

static int make(const struct json_t *obj, log_sink **out)
{
    log_otlp_options o;
    const char *key = NULL;
    char why[256];
    int rc = parse(obj, &o, &key, why, sizeof why);
    if (rc == 0)
        rc = log_sink_otlp(out, &o);
    free((char *)o.resource_attributes);
    free((char *)o.headers);
    return rc;
}

static const log_config_sink_kind otlp_kind = {
    .version = LOG_CONFIG_SINK_KIND_VERSION,
    .type = "otlp",
    .keys = keys,
    .nkeys = sizeof keys / sizeof keys[0],
    .check = check,
    .make = make,
};

int log_otlp_config_register(void)
{
    return log_config_sink_kind_add(&otlp_kind);
}

/* Loaded (the shared library, or this object of the static one): files
 * may say "otlp" from the start. */
__attribute__((constructor)) static void register_at_load(void)
{
    (void)log_otlp_config_register();
}
