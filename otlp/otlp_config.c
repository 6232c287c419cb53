/* SPDX-License-Identifier: MIT */
/*
 * "type": "otlp" in a configuration file: the description of this kind of
 * sink (log/sinks/sink_kind.h) that this library adds to the file's kinds
 * when it is loaded (and by log_otlp_config_register()). The library's
 * configuration code reads the keys into a log_otlp_options; this file
 * only says which keys there are and where each goes.
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
 *     "level": "info"                                    // as for every sink
 *   }
 */
#include <ctxlog/otlp.h>

#include <stddef.h>
#include <string.h>

#include "log/sinks/sink_kind.h"

static const char *const encodings[] = {"protobuf", "json", NULL};
static const char *const compressions[] = {"none", "gzip", NULL};

#define OPT(m) .offset = offsetof(log_otlp_options, m)
#define MS(key, m)                                                                             \
    {.name = key, .type = LOG__KEY_INT, OPT(m), .size = sizeof(int), .min = 1, .max = 3600000, \
     .range = "from 1 to 3600000"}
static const log__sink_key otlp_keys[] = {
    {.name = "endpoint", .type = LOG__KEY_STRING, OPT(endpoint), .nonempty = true},
    /* LOG_OTLP_PROTOBUF is 0, LOG_OTLP_JSON 1. */
    {.name = "encoding", .type = LOG__KEY_ENUM, OPT(encoding), .size = sizeof(log_otlp_encoding),
     .names = encodings, .what = "OTLP encoding"},
    /* Not given: LOG_OTLP_COMPRESSION_DEFAULT (0); none 1, gzip 2. */
    {.name = "compression", .type = LOG__KEY_ENUM, OPT(compression),
     .size = sizeof(log_otlp_compression), .names = compressions, .what = "compression",
     .base = LOG_OTLP_COMPRESSION_NONE},
    {.name = "service_name", .type = LOG__KEY_STRING, OPT(service_name), .nonempty = true},
    {.name = "resource_attributes", .type = LOG__KEY_PAIRS, OPT(resource_attributes)},
    {.name = "headers", .type = LOG__KEY_PAIRS, OPT(headers)},
    {.name = "batch_max", .type = LOG__KEY_INT, OPT(batch_max), .size = sizeof(size_t), .min = 1,
     .max = 1000000, .range = "from 1 to 1000000"},
    {.name = "queue_max", .type = LOG__KEY_INT, OPT(queue_max), .size = sizeof(size_t), .min = 1,
     .max = 1 << 30, .range = "from 1 to 1073741824"},
    MS("batch_delay_ms", batch_delay_ms),
    MS("timeout_ms", timeout_ms),
    MS("retry_min_ms", retry_min_ms),
    MS("retry_max_ms", retry_max_ms),
    {.name = NULL},
};
#undef MS
#undef OPT

static const char *check(void *opts, unsigned given, const char **key)
{
    const log_otlp_options *o = opts;
    (void)given;
    if (o->endpoint && strncmp(o->endpoint, "http://", 7) != 0 &&
        strncmp(o->endpoint, "https://", 8) != 0) {
        *key = "endpoint";
        return "must be an http:// or https:// URL";
    }
#ifndef CTXLOG_OTLP_HAVE_ZLIB
    if (o->compression == LOG_OTLP_COMPRESSION_GZIP) {
        *key = "compression";
        return "gzip needs a libctxlog-otlp built with zlib";
    }
#endif
    return NULL;
}

static int make(const void *opts, log_sink **out, log__sink_why *why)
{
    (void)why;
    return log_sink_otlp(out, opts);
}

/* The record goes out as OTLP's own structure: no formatter applies. */
static const log__sink_kind otlp_kind = {
    .type = "otlp",
    .keys = otlp_keys,
    .opts_size = sizeof(log_otlp_options),
    .formatted = false,
    .check = check,
    .make = make,
};

int log_otlp_config_register(void)
{
    return log__sink_kind_add(&otlp_kind);
}

/* Loaded (the shared library, or this object of the static one): files
 * may say "otlp" from the start. */
__attribute__((constructor)) static void register_at_load(void)
{
    (void)log_otlp_config_register();
}
