/* SPDX-License-Identifier: MIT */
/*
 * OTLP encoding (private to libctxlog-otlp): a record -> one unit (its
 * scope and its LogRecord, in protobuf or OTLP/JSON), units -> one
 * ExportLogsServiceRequest body. Hand-written protobuf wire format: the
 * messages are few and fixed (field numbers of opentelemetry-proto,
 * the .proto files of opentelemetry/proto: collector/logs, logs, common, resource).
 * Which members a record has, their keys and types, come from the JSON
 * formatter's own walk (log_record_walk).
 */
#ifndef CTXLOG_OTLP_ENCODE_H
#define CTXLOG_OTLP_ENCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <ctxlog/otlp.h>

/* A growable byte buffer; `oom` once an allocation failed (appends are
 * then ignored). */
typedef struct otlp_buf {
    unsigned char *data;
    size_t len, cap;
    bool oom;
} otlp_buf;

/* Grow b for n more bytes; -1 (b->oom) when it cannot. */
int otlp_buf_grow(otlp_buf *b, size_t n);

static inline void otlp_buf_put(otlp_buf *b, const void *p, size_t n)
{
    if (n == 0 || (b->cap - b->len < n && otlp_buf_grow(b, n)))
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}
void otlp_buf_free(otlp_buf *b);

/* The calling thread's scratch buffers (which: OTLP_TLS_*), freed when the
 * thread exits. */
enum { OTLP_TLS_REC = 0, OTLP_TLS_SCOPE, OTLP_TLS_ATTRS, OTLP_TLS_UNIT, OTLP_TLS_LINE, OTLP_TLS_N };
otlp_buf *otlp_tls_buf(int which);

/* A key and value pair of the resource (strings, UTF-8). */
typedef struct otlp_attr {
    char *key;
    char *value;
} otlp_attr;

/*
 * The unit record r becomes: varint length of the scope name, the scope
 * name, then the LogRecord (protobuf: its fields; JSON: its object), into
 * b (cleared first). Returns 0, or a negative CTXLOG_E* code.
 */
int otlp_encode_record(const log_record *r, log_otlp_encoding enc, otlp_buf *b);

/* One unit of a batch, as otlp_encode_record made it. */
typedef struct otlp_unit {
    const unsigned char *p;
    size_t len;
} otlp_unit;

/*
 * The request body for the units u[0, n) with the resource attributes
 * attrs[0, nattrs) (service.name first), into body (cleared first): one
 * ResourceLogs, one ScopeLogs per scope in order of first appearance.
 * Returns 0 or CTXLOG_ENOMEM.
 */
int otlp_encode_request(const otlp_unit *u, size_t n, const otlp_attr *attrs, size_t nattrs,
                        log_otlp_encoding enc, otlp_buf *body);

#endif /* CTXLOG_OTLP_ENCODE_H */
