/* SPDX-License-Identifier: MIT */
/**
 * @file otlp.h
 * @brief Export records to OpenTelemetry over OTLP/HTTP (library
 *        `ctxlog-otlp`: link `ctxlog::otlp`, or `pkg-config ctxlog-otlp`).
 *
 * This header is not part of the umbrella `<ctxlog/ctxlog.h>`: its
 * function lives in its own library (libctxlog-otlp, which needs libcurl),
 * so that the core library keeps jansson and pthreads as its only run-time
 * dependencies. Include it explicitly.
 */
#ifndef CTXLOG_OTLP_H
#define CTXLOG_OTLP_H

#include <stddef.h>

#include <ctxlog/sink.h>

#ifdef __cplusplus
extern "C" {
#endif

/** How requests are encoded (the OTLP/HTTP content types). */
typedef enum log_otlp_encoding {
    LOG_OTLP_PROTOBUF = 0, /**< application/x-protobuf (the default, as the specification says) */
    LOG_OTLP_JSON = 1,     /**< application/json, the OTLP/JSON mapping */
} log_otlp_encoding;

/** Whether request bodies are compressed. */
typedef enum log_otlp_compression {
    LOG_OTLP_COMPRESSION_DEFAULT = 0, /**< OTEL_EXPORTER_OTLP_[LOGS_]COMPRESSION, else none */
    LOG_OTLP_COMPRESSION_NONE = 1,
    LOG_OTLP_COMPRESSION_GZIP = 2, /**< Content-Encoding: gzip (needs zlib at build time) */
} log_otlp_compression;

/**
 * Options of an OTLP sink. Zero (or NULL options) means the default of
 * each member; strings are copied.
 */
typedef struct log_otlp_options {
    /** Full URL of the logs path. NULL: OTEL_EXPORTER_OTLP_LOGS_ENDPOINT,
     *  else OTEL_EXPORTER_OTLP_ENDPOINT + "/v1/logs", else
     *  "http://localhost:4318/v1/logs". */
    const char *endpoint;
    /** LOG_OTLP_PROTOBUF (0) or LOG_OTLP_JSON. With the default (0),
     *  OTEL_EXPORTER_OTLP_LOGS_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL,
     *  chooses ("http/protobuf" or "http/json"; another value is said once
     *  on stderr and protobuf is used). */
    log_otlp_encoding encoding;
    /** The resource's service.name. NULL: OTEL_SERVICE_NAME, else a
     *  service.name in OTEL_RESOURCE_ATTRIBUTES, else the program's name. */
    const char *service_name;
    /** More resource attributes, "key=value,key2=value2" (values
     *  percent-decoded, as OTEL_RESOURCE_ATTRIBUTES), added after those of
     *  OTEL_RESOURCE_ATTRIBUTES. NULL: none. */
    const char *resource_attributes;
    /** More request headers, "name=value,name2=value2" (values
     *  percent-decoded, as OTEL_EXPORTER_OTLP_HEADERS), sent after those of
     *  OTEL_EXPORTER_OTLP_HEADERS and OTEL_EXPORTER_OTLP_LOGS_HEADERS. */
    const char *headers;
    log_otlp_compression compression;
    /** Most records in one request; 0: 512. */
    size_t batch_max;
    /** Longest time a record waits for its batch to fill, in ms; 0: 1000. */
    int batch_delay_ms;
    /** Most records waiting to be sent (not counting the batch being sent);
     *  0: 2048. Records that find it full are lost and counted. */
    size_t queue_max;
    /** Longest time of one request, and the bound of log_flush()'s and the
     *  exit's wait, in ms; 0: OTEL_EXPORTER_OTLP_[LOGS_]TIMEOUT, else 10000. */
    int timeout_ms;
    /** First and longest wait between attempts of a batch (doubling, with
     *  jitter); 0: 100 and 5000. */
    int retry_min_ms;
    int retry_max_ms;
} log_otlp_options;

/**
 * @brief A sink exporting records to an OpenTelemetry collector over
 *        OTLP/HTTP (http/protobuf by default, or http/json).
 *
 * Each record becomes one LogRecord: time_unix_nano (the call's time),
 * observed_time_unix_nano (when it was encoded), severity_number (trace 1,
 * debug 5, info 9, warn 13, error 17, fatal 21) and severity_text, body (the
 * message as a string), trace_id, span_id and flags from the context's
 * trace_id, span_id and trace_flags (bytes; hex in JSON), and as attributes
 * every logged context variable and every field with its type (string,
 * int, double, bool; a JSON object as a kvlist_value, an array as an
 * array_value), named as the JSON formatter names them (log_record_walk()).
 * Records are grouped by logger into ScopeLogs (scope name = the logger's
 * name) under one ResourceLogs whose resource has service.name and the
 * resource attributes.
 *
 * The record is encoded on the logging thread (with the context as of the
 * call) and queued; a background thread of the sink (started on first use,
 * and again in a child after fork()) sends batches of up to batch_max
 * records, at the latest batch_delay_ms after the first, over one
 * keep-alive connection. Nothing is sent on a logging thread. A request
 * that fails to connect, times out, or gets 429, 502, 503 or 504 is retried
 * with exponential backoff and jitter (a Retry-After in seconds is
 * honoured) until it goes through; meanwhile new records wait in the queue,
 * and those that find it full are lost. Any other answer (400 and the other
 * errors) loses the batch; a 2xx with a partial success loses the records
 * it says the collector rejected (rejected_log_records). Lost records are counted in log_dropped_count(),
 * said once on stderr per outage, and followed by a record saying how many
 * ("otlp: records dropped", attribute "dropped") once a request goes through
 * again. log_flush() waits, at most timeout_ms, until every record logged
 * before it was delivered or counted (CTXLOG_EIO when some is still
 * waiting); at exit (log_shutdown()) the sink does the same, and counts what
 * is left as lost. After fork() the child drops what the parent had queued
 * and sends its own records. In async mode the async writer hands records
 * to the sink like any other's.
 *
 * The sink is a custom sink (log_sink_custom()) with its own formatter: do
 * not give it another one (log_sink_set_formatter()). Its level works as
 * any sink's.
 *
 * @param[out] out the sink (one reference; log_sink_release() drops it).
 *             Set to NULL on error.
 * @param opts NULL: every default.
 * @return 0; CTXLOG_EINVAL when @p out is NULL, an option is out of range
 *         (negative times, an unknown encoding or compression, gzip when the
 *         library was built without zlib) or the endpoint is not an http://
 *         or https:// URL; CTXLOG_ENOMEM; CTXLOG_EIO when libcurl could not
 *         be set up; CTXLOG_EBUSY from a sink's operation (log_sink_ops).
 *         The collector need not be running yet.
 * Thread safety: any thread; the sink may be used by many threads at once.
 */
CTXLOG_API int log_sink_otlp(log_sink **out, const log_otlp_options *opts);

/**
 * @brief Let configuration files (log_config_load(), CTXLOG_CONFIG) use
 *        `"type": "otlp"` (keys in README "Sending logs to OpenTelemetry"
 *        and ctxlog-config(5)).
 *
 * The shared library does this when it is loaded. A program linked with
 * the static library, or with the linker's --as-needed, that uses "otlp"
 * only in its configuration file calls it once before loading the file
 * (which also makes sure the library is linked in).
 * @return 0; CTXLOG_ENOMEM.
 * Thread safety: any thread.
 */
CTXLOG_API int log_otlp_config_register(void);

#ifdef __cplusplus
}
#endif

#endif /* CTXLOG_OTLP_H */
