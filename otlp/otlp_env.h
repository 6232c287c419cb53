/* SPDX-License-Identifier: MIT */
/*
 * The OTLP exporter's settings (private to libctxlog-otlp): the options
 * with the OpenTelemetry exporter specification's environment variables
 * filled in.
 */
#ifndef CTXLOG_OTLP_ENV_H
#define CTXLOG_OTLP_ENV_H

#include <stdbool.h>
#include <stddef.h>

#include "otlp/otlp_encode.h"

typedef struct otlp_settings {
    char *endpoint;
    log_otlp_encoding encoding;
    bool gzip;
    otlp_attr *resource; /* service.name first */
    size_t nresource;
    otlp_attr *headers;
    size_t nheaders;
    size_t batch_max, queue_max;
    int batch_delay_ms, timeout_ms, retry_min_ms, retry_max_ms;
} otlp_settings;

/* Fill s from opts (NULL: defaults) and the environment. Returns 0,
 * CTXLOG_EINVAL or CTXLOG_ENOMEM (s is then freed). */
int otlp_settings_init(otlp_settings *s, const log_otlp_options *opts);
void otlp_settings_free(otlp_settings *s);

#endif /* CTXLOG_OTLP_ENV_H */
