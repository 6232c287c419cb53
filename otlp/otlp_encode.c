/* SPDX-License-Identifier: MIT */
/*
 * OTLP encoding: protobuf wire format written by hand, and the OTLP/JSON
 * mapping (lowerCamelCase keys, trace and span ids as hex, 64-bit integers
 * as decimal strings).
 *
 * Field numbers (opentelemetry-proto v1):
 *   ExportLogsServiceRequest: 1 resource_logs
 *   ResourceLogs: 1 resource, 2 scope_logs
 *   Resource: 1 attributes
 *   ScopeLogs: 1 scope, 2 log_records
 *   InstrumentationScope: 1 name
 *   LogRecord: 1 time_unix_nano (fixed64), 2 severity_number (enum),
 *     3 severity_text, 5 body, 6 attributes, 8 flags (fixed32),
 *     9 trace_id (bytes), 10 span_id (bytes), 11 observed_time_unix_nano
 *     (fixed64)
 *   AnyValue: 1 string_value, 2 bool_value, 3 int_value, 4 double_value,
 *     5 array_value, 6 kvlist_value
 *   ArrayValue: 1 values; KeyValueList: 1 values; KeyValue: 1 key, 2 value
 *
 * A record's members come from log_record_walk(): the JSON formatter run
 * with a listener decides which there are, their keys (renamed on a
 * collision), their types and their repaired strings; this file only says
 * how each is written in OTLP.
 */
#include "otlp/otlp_encode.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- buffer ----------------------------------------------------------------- */

int otlp_buf_grow(otlp_buf *b, size_t n)
{
    if (b->oom)
        return -1;
    if (b->cap - b->len >= n)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < n) {
        if (cap > SIZE_MAX / 2) {
            b->oom = true;
            return -1;
        }
        cap *= 2;
    }
    unsigned char *p = realloc(b->data, cap);
    if (!p) {
        b->oom = true;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

static void putc_(otlp_buf *b, char c)
{
    otlp_buf_put(b, &c, 1);
}

static void puts_(otlp_buf *b, const char *s)
{
    otlp_buf_put(b, s, strlen(s));
}

void otlp_buf_free(otlp_buf *b)
{
    free(b->data);
    *b = (otlp_buf){0};
}

/* ---- the threads' scratch buffers ---------------------------------------------- */

static _Thread_local otlp_buf tls_bufs[OTLP_TLS_N];
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static pthread_key_t tls_key;
static bool tls_key_ok;

/* Thread exit: its buffers go (the key's value only marks that it has some). */
static void tls_release(void *p)
{
    (void)p;
    for (int i = 0; i < OTLP_TLS_N; i++)
        otlp_buf_free(&tls_bufs[i]);
}

static void tls_key_create(void)
{
    tls_key_ok = pthread_key_create(&tls_key, tls_release) == 0;
}

otlp_buf *otlp_tls_buf(int which)
{
    pthread_once(&tls_once, tls_key_create);
    if (tls_key_ok && !pthread_getspecific(tls_key))
        pthread_setspecific(tls_key, &tls_key);
    return &tls_bufs[which];
}

/* ---- protobuf wire format ------------------------------------------------------ */

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

static void pb_varint_long(otlp_buf *b, uint64_t v)
{
    unsigned char t[10];
    size_t n = 0;
    do {
        t[n] = (unsigned char)(v & 0x7F);
        v >>= 7;
        if (v)
            t[n] |= 0x80;
        n++;
    } while (v);
    otlp_buf_put(b, t, n);
}

/* Most varints here (tags, short lengths, flags) are one byte. */
static inline void pb_varint(otlp_buf *b, uint64_t v)
{
    if (v < 0x80 && b->len < b->cap) {
        b->data[b->len++] = (unsigned char)v;
        return;
    }
    pb_varint_long(b, v);
}

static void pb_tag(otlp_buf *b, unsigned field, unsigned wt)
{
    pb_varint(b, (uint64_t)field << 3 | wt);
}

static void pb_fixed64(otlp_buf *b, unsigned field, uint64_t v)
{
    unsigned char t[8];
    for (int i = 0; i < 8; i++)
        t[i] = (unsigned char)(v >> (8 * i));
    pb_tag(b, field, WT_I64);
    otlp_buf_put(b, t, 8);
}

static void pb_fixed32(otlp_buf *b, unsigned field, uint32_t v)
{
    unsigned char t[4];
    for (int i = 0; i < 4; i++)
        t[i] = (unsigned char)(v >> (8 * i));
    pb_tag(b, field, WT_I32);
    otlp_buf_put(b, t, 4);
}

static void pb_bytes(otlp_buf *b, unsigned field, const void *p, size_t n)
{
    pb_tag(b, field, WT_LEN);
    pb_varint(b, n);
    otlp_buf_put(b, p, n);
}

/* A nested message: its tag, then room for the longest length a body
 * here can have (5 bytes: < 4 GiB); pb_end writes the length and closes
 * the gap. */
#define PB_LEN_ROOM 5

static size_t pb_begin(otlp_buf *b, unsigned field)
{
    static const unsigned char room[PB_LEN_ROOM] = {0};
    pb_tag(b, field, WT_LEN);
    size_t at = b->len;
    otlp_buf_put(b, room, PB_LEN_ROOM);
    return at;
}

static void pb_end(otlp_buf *b, size_t at)
{
    if (b->oom)
        return;
    size_t body = b->len - at - PB_LEN_ROOM;
    if (body > UINT32_MAX) {
        b->oom = true; /* cannot be sent in one request anyway */
        return;
    }
    unsigned char t[PB_LEN_ROOM];
    size_t n = 0;
    uint64_t v = body;
    do {
        t[n] = (unsigned char)(v & 0x7F);
        v >>= 7;
        if (v)
            t[n] |= 0x80;
        n++;
    } while (v);
    memcpy(b->data + at, t, n);
    if (n < PB_LEN_ROOM) {
        memmove(b->data + at + n, b->data + at + PB_LEN_ROOM, body);
        b->len -= PB_LEN_ROOM - n;
    }
}

/* ---- JSON ---------------------------------------------------------------------- */

/* A JSON string from valid UTF-8 (every string here is: the walk repaired
 * the record's, jansson checks its own): quotes, backslashes and control
 * characters escaped. */
static void js_string(otlp_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    putc_(b, '"');
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7F)
            continue;
        otlp_buf_put(b, s + run, i - run);
        run = i + 1;
        char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        if (c == '"' || c == '\\') {
            e[1] = (char)c;
            otlp_buf_put(b, e, 2);
        } else if (c == '\n') {
            otlp_buf_put(b, "\\n", 2);
        } else {
            otlp_buf_put(b, e, 6);
        }
    }
    otlp_buf_put(b, s + run, n - run);
    putc_(b, '"');
}

static void js_u64_string(otlp_buf *b, uint64_t v)
{
    char t[32];
    int k = snprintf(t, sizeof t, "\"%llu\"", (unsigned long long)v);
    otlp_buf_put(b, t, (size_t)k);
}

static void js_i64_string(otlp_buf *b, int64_t v)
{
    char t[32];
    int k = snprintf(t, sizeof t, "\"%lld\"", (long long)v);
    otlp_buf_put(b, t, (size_t)k);
}

/* A double as the proto3 JSON mapping writes it (NaN and the infinities
 * as strings), shortest round-trip form, '.' whatever the locale. */
static void js_double(otlp_buf *b, double v)
{
    if (isnan(v)) {
        puts_(b, "\"NaN\"");
        return;
    }
    if (isinf(v)) {
        puts_(b, v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
        return;
    }
    char t[64];
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(t, sizeof t, "%.*g", prec, v);
        if (prec == 17 || strtod(t, NULL) == v)
            break;
    }
    for (int i = 0; i < n; i++)
        if (t[i] == ',')
            t[i] = '.';
    otlp_buf_put(b, t, (size_t)n);
}

/* ---- AnyValue ------------------------------------------------------------------ */

#define MAX_DEPTH 64

static void pb_any_json(otlp_buf *b, const json_t *j, int depth);
static void js_any_json(otlp_buf *b, const json_t *j, int depth);

/* The fields of an AnyValue for the jansson value j (no fields: empty,
 * which is how OTLP says null). */
static void pb_any_json(otlp_buf *b, const json_t *j, int depth)
{
    if (!j || depth > MAX_DEPTH)
        return;
    switch (json_typeof(j)) {
    case JSON_STRING:
        pb_bytes(b, 1, json_string_value(j), json_string_length(j));
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        pb_tag(b, 2, WT_VARINT);
        pb_varint(b, json_is_true(j));
        break;
    case JSON_INTEGER:
        pb_tag(b, 3, WT_VARINT);
        pb_varint(b, (uint64_t)json_integer_value(j));
        break;
    case JSON_REAL: {
        double d = json_real_value(j);
        uint64_t u;
        memcpy(&u, &d, 8);
        pb_fixed64(b, 4, u);
        break;
    }
    case JSON_ARRAY: {
        size_t arr = pb_begin(b, 5);
        for (size_t i = 0; i < json_array_size(j); i++) {
            size_t v = pb_begin(b, 1);
            pb_any_json(b, json_array_get(j, i), depth + 1);
            pb_end(b, v);
        }
        pb_end(b, arr);
        break;
    }
    case JSON_OBJECT: {
        size_t kvl = pb_begin(b, 6);
        const char *key;
        json_t *val;
        json_object_foreach((json_t *)j, key, val) {
            size_t kv = pb_begin(b, 1);
            pb_bytes(b, 1, key, strlen(key));
            size_t v = pb_begin(b, 2);
            pb_any_json(b, val, depth + 1);
            pb_end(b, v);
            pb_end(b, kv);
        }
        pb_end(b, kvl);
        break;
    }
    default:
        break; /* null */
    }
}

static void js_any_json(otlp_buf *b, const json_t *j, int depth)
{
    if (!j || depth > MAX_DEPTH) {
        puts_(b, "{}");
        return;
    }
    switch (json_typeof(j)) {
    case JSON_STRING:
        puts_(b, "{\"stringValue\":");
        js_string(b, json_string_value(j), json_string_length(j));
        putc_(b, '}');
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        puts_(b, json_is_true(j) ? "{\"boolValue\":true}" : "{\"boolValue\":false}");
        break;
    case JSON_INTEGER:
        puts_(b, "{\"intValue\":");
        js_i64_string(b, (int64_t)json_integer_value(j));
        putc_(b, '}');
        break;
    case JSON_REAL:
        puts_(b, "{\"doubleValue\":");
        js_double(b, json_real_value(j));
        putc_(b, '}');
        break;
    case JSON_ARRAY:
        puts_(b, "{\"arrayValue\":{\"values\":[");
        for (size_t i = 0; i < json_array_size(j); i++) {
            if (i)
                putc_(b, ',');
            js_any_json(b, json_array_get(j, i), depth + 1);
        }
        puts_(b, "]}}");
        break;
    case JSON_OBJECT: {
        puts_(b, "{\"kvlistValue\":{\"values\":[");
        const char *key;
        json_t *val;
        int first = 1;
        json_object_foreach((json_t *)j, key, val) {
            if (!first)
                putc_(b, ',');
            first = 0;
            puts_(b, "{\"key\":");
            js_string(b, key, strlen(key));
            puts_(b, ",\"value\":");
            js_any_json(b, val, depth + 1);
            putc_(b, '}');
        }
        puts_(b, "]}}");
        break;
    }
    default:
        puts_(b, "{}");
        break;
    }
}

/* The fields of an AnyValue for a member's value. A u64 above INT64_MAX
 * has no OTLP integer: it goes as its decimal string, exact. */
static void pb_any(otlp_buf *b, const log_member *m)
{
    switch (m->type) {
    case LOG_MEMBER_STR:
        pb_bytes(b, 1, m->v.str.p, m->v.str.len);
        break;
    case LOG_MEMBER_I64:
        pb_tag(b, 3, WT_VARINT);
        pb_varint(b, (uint64_t)m->v.i64);
        break;
    case LOG_MEMBER_U64:
        if (m->v.u64 <= INT64_MAX) {
            pb_tag(b, 3, WT_VARINT);
            pb_varint(b, m->v.u64);
        } else {
            pb_bytes(b, 1, m->json, m->json_len);
        }
        break;
    case LOG_MEMBER_F64: {
        uint64_t u;
        memcpy(&u, &m->v.f64, 8);
        pb_fixed64(b, 4, u);
        break;
    }
    case LOG_MEMBER_BOOL:
        pb_tag(b, 2, WT_VARINT);
        pb_varint(b, m->v.b);
        break;
    case LOG_MEMBER_JSON:
        pb_any_json(b, (const json_t *)m->v.json, 0);
        break;
    default:
        break; /* null: an empty AnyValue */
    }
}

static void js_any(otlp_buf *b, const log_member *m)
{
    switch (m->type) {
    case LOG_MEMBER_STR:
        puts_(b, "{\"stringValue\":");
        otlp_buf_put(b, m->json, m->json_len); /* the formatter's escaped string */
        putc_(b, '}');
        break;
    case LOG_MEMBER_I64:
        puts_(b, "{\"intValue\":");
        js_i64_string(b, m->v.i64);
        putc_(b, '}');
        break;
    case LOG_MEMBER_U64:
        if (m->v.u64 <= INT64_MAX) {
            puts_(b, "{\"intValue\":");
            js_u64_string(b, m->v.u64);
        } else {
            puts_(b, "{\"stringValue\":");
            js_u64_string(b, m->v.u64);
        }
        putc_(b, '}');
        break;
    case LOG_MEMBER_F64:
        puts_(b, "{\"doubleValue\":");
        js_double(b, m->v.f64);
        putc_(b, '}');
        break;
    case LOG_MEMBER_BOOL:
        puts_(b, m->v.b ? "{\"boolValue\":true}" : "{\"boolValue\":false}");
        break;
    case LOG_MEMBER_JSON:
        js_any_json(b, (const json_t *)m->v.json, 0);
        break;
    default:
        puts_(b, "{}");
        break;
    }
}

/* ---- a record ------------------------------------------------------------------ */

struct rec_state {
    log_otlp_encoding enc;
    otlp_buf *rec;   /* the LogRecord's fields (protobuf) or members (JSON) */
    otlp_buf *scope; /* the logger's name, repaired */
    int nattrs;      /* JSON: attributes written so far */
    otlp_buf *attrs; /* JSON: the attributes array's members */
};

static int key_is(const log_member *m, const char *k)
{
    size_t n = strlen(k);
    return m->key_len == n && memcmp(m->key, k, n) == 0;
}

/* n bytes of lower-case or upper-case hex into out; 0 when it is not. */
static int unhex(const char *s, size_t len, unsigned char *out, size_t n)
{
    if (len != 2 * n)
        return 0;
    for (size_t i = 0; i < 2 * n; i++) {
        char c = s[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (v < 0)
            return 0;
        if (i % 2 == 0)
            out[i / 2] = (unsigned char)(v << 4);
        else
            out[i / 2] |= (unsigned char)v;
    }
    return 1;
}

static void attribute(struct rec_state *st, const log_member *m)
{
    if (st->enc == LOG_OTLP_PROTOBUF) {
        size_t kv = pb_begin(st->rec, 6);
        pb_bytes(st->rec, 1, m->key, m->key_len);
        size_t v = pb_begin(st->rec, 2);
        pb_any(st->rec, m);
        pb_end(st->rec, v);
        pb_end(st->rec, kv);
        return;
    }
    otlp_buf *a = st->attrs;
    if (st->nattrs++)
        putc_(a, ',');
    puts_(a, "{\"key\":");
    js_string(a, m->key, m->key_len);
    puts_(a, ",\"value\":");
    js_any(a, m);
    putc_(a, '}');
}

/* A trace or span id: bytes from its hex (16 or 8 of them); an id that is
 * not such hex stays an attribute under its name. */
static void trace_id(struct rec_state *st, const log_member *m, unsigned field, size_t n,
                     const char *json_key)
{
    unsigned char id[16];
    if (m->type != LOG_MEMBER_STR || !unhex(m->v.str.p, m->v.str.len, id, n)) {
        attribute(st, m);
        return;
    }
    if (st->enc == LOG_OTLP_PROTOBUF) {
        pb_bytes(st->rec, field, id, n);
        return;
    }
    putc_(st->rec, ',');
    puts_(st->rec, json_key);
    static const char hex[] = "0123456789abcdef";
    char h[33];
    for (size_t i = 0; i < n; i++) {
        h[2 * i] = hex[id[i] >> 4];
        h[2 * i + 1] = hex[id[i] & 15];
    }
    putc_(st->rec, '"');
    otlp_buf_put(st->rec, h, 2 * n);
    putc_(st->rec, '"');
}

static int on_member(const log_member *m, void *payload)
{
    struct rec_state *st = payload;
    otlp_buf *b = st->rec;
    bool pb = st->enc == LOG_OTLP_PROTOBUF;
    if (m->role != LOG_MEMBER_CORE) {
        attribute(st, m);
        return 0;
    }
    if (key_is(m, "trace_id")) {
        trace_id(st, m, 9, 16, "\"traceId\":");
    } else if (key_is(m, "span_id")) {
        trace_id(st, m, 10, 8, "\"spanId\":");
    } else if (key_is(m, "flags") && m->type == LOG_MEMBER_I64) {
        if (pb) {
            pb_fixed32(b, 8, (uint32_t)m->v.i64);
        } else {
            char t[32];
            int k = snprintf(t, sizeof t, ",\"flags\":%u", (unsigned)m->v.i64);
            otlp_buf_put(b, t, (size_t)k);
        }
    } else if (key_is(m, "severity_text") && m->type == LOG_MEMBER_STR) {
        if (pb) {
            pb_bytes(b, 3, m->v.str.p, m->v.str.len);
        } else {
            puts_(b, ",\"severityText\":");
            otlp_buf_put(b, m->json, m->json_len);
        }
    } else if (key_is(m, "severity_number") && m->type == LOG_MEMBER_I64) {
        if (pb) {
            if (m->v.i64) {
                pb_tag(b, 2, WT_VARINT);
                pb_varint(b, (uint64_t)m->v.i64);
            }
        } else {
            char t[32];
            int k = snprintf(t, sizeof t, ",\"severityNumber\":%d", (int)m->v.i64);
            otlp_buf_put(b, t, (size_t)k);
        }
    } else if (key_is(m, "body")) {
        if (pb) {
            size_t v = pb_begin(b, 5);
            pb_any(b, m);
            pb_end(b, v);
        } else {
            puts_(b, ",\"body\":");
            js_any(b, m);
        }
    } else if (key_is(m, "instrumentation_scope.name") && m->type == LOG_MEMBER_STR) {
        otlp_buf_put(st->scope, m->v.str.p, m->v.str.len);
    }
    /* "timestamp": the record's time, written exactly from its timespec. */
    return b->oom || st->scope->oom || st->attrs->oom ? CTXLOG_ENOMEM : 0;
}

static uint64_t ns_of(const struct timespec *t)
{
    return (uint64_t)t->tv_sec * 1000000000u + (uint64_t)t->tv_nsec;
}

int otlp_encode_record(const log_record *r, log_otlp_encoding enc, otlp_buf *b)
{
    otlp_buf *rec = otlp_tls_buf(OTLP_TLS_REC); /* the record before its scope goes in front */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    rec->len = 0;
    rec->oom = false;
    struct rec_state st = {.enc = enc, .rec = rec, .scope = otlp_tls_buf(OTLP_TLS_SCOPE),
                           .attrs = otlp_tls_buf(OTLP_TLS_ATTRS)};
    st.scope->len = st.attrs->len = 0;
    st.scope->oom = st.attrs->oom = false;
    uint64_t t = ns_of(&r->time), obs = ns_of(&now);
    if (enc == LOG_OTLP_PROTOBUF) {
        pb_fixed64(rec, 1, t);
        pb_fixed64(rec, 11, obs);
    } else {
        puts_(rec, "{\"timeUnixNano\":");
        js_u64_string(rec, t);
        puts_(rec, ",\"observedTimeUnixNano\":");
        js_u64_string(rec, obs);
    }
    int rc = log_record_walk(r, on_member, &st);
    if (rc == 0 && enc == LOG_OTLP_JSON) {
        if (st.nattrs) {
            puts_(rec, ",\"attributes\":[");
            otlp_buf_put(rec, st.attrs->data, st.attrs->len);
            putc_(rec, ']');
        }
        putc_(rec, '}');
    }
    b->len = 0;
    b->oom = false;
    pb_varint(b, st.scope->len);
    otlp_buf_put(b, st.scope->data, st.scope->len);
    otlp_buf_put(b, rec->data, rec->len);
    if (rc == 0 && (rec->oom || st.scope->oom || st.attrs->oom || b->oom))
        rc = CTXLOG_ENOMEM;
    /* A huge record's memory is not kept. */
    if (rec->cap > 64 * 1024)
        otlp_buf_free(rec);
    if (st.attrs->cap > 64 * 1024)
        otlp_buf_free(st.attrs);
    if (st.scope->cap > 64 * 1024)
        otlp_buf_free(st.scope);
    return rc;
}

/* ---- a request ------------------------------------------------------------------ */

/* A unit's scope and record. */
static void split(const otlp_unit *u, const unsigned char **scope, size_t *slen,
                  const unsigned char **rec, size_t *rlen)
{
    uint64_t n = 0;
    size_t i = 0;
    for (int shift = 0; i < u->len && shift < 64; shift += 7) {
        unsigned char c = u->p[i++];
        n |= (uint64_t)(c & 0x7F) << shift;
        if (!(c & 0x80))
            break;
    }
    if (n > u->len - i)
        n = u->len - i;
    *scope = u->p + i;
    *slen = (size_t)n;
    *rec = u->p + i + n;
    *rlen = u->len - i - (size_t)n;
}

static int same_scope(const otlp_unit *a, const otlp_unit *b)
{
    const unsigned char *sa, *sb, *ra, *rb;
    size_t la, lb, na, nb;
    split(a, &sa, &la, &ra, &na);
    split(b, &sb, &lb, &rb, &nb);
    return la == lb && memcmp(sa, sb, la) == 0;
}

int otlp_encode_request(const otlp_unit *u, size_t n, const otlp_attr *attrs, size_t nattrs,
                        log_otlp_encoding enc, otlp_buf *b)
{
    b->len = 0;
    b->oom = false;
    /* Scopes in order of first appearance; each unit once. */
    unsigned char *done = calloc(n ? n : 1, 1);
    if (!done)
        return CTXLOG_ENOMEM;
    bool pb = enc == LOG_OTLP_PROTOBUF;
    size_t rl = 0, res = 0;
    if (pb) {
        rl = pb_begin(b, 1);
        res = pb_begin(b, 1);
        for (size_t i = 0; i < nattrs; i++) {
            size_t kv = pb_begin(b, 1);
            pb_bytes(b, 1, attrs[i].key, strlen(attrs[i].key));
            size_t v = pb_begin(b, 2);
            pb_bytes(b, 1, attrs[i].value, strlen(attrs[i].value));
            pb_end(b, v);
            pb_end(b, kv);
        }
        pb_end(b, res);
    } else {
        puts_(b, "{\"resourceLogs\":[{\"resource\":{\"attributes\":[");
        for (size_t i = 0; i < nattrs; i++) {
            if (i)
                putc_(b, ',');
            puts_(b, "{\"key\":");
            js_string(b, attrs[i].key, strlen(attrs[i].key));
            puts_(b, ",\"value\":{\"stringValue\":");
            js_string(b, attrs[i].value, strlen(attrs[i].value));
            puts_(b, "}}");
        }
        puts_(b, "]},\"scopeLogs\":[");
    }
    int first_scope = 1;
    for (size_t i = 0; i < n; i++) {
        if (done[i])
            continue;
        const unsigned char *scope, *rec;
        size_t slen, rlen;
        split(&u[i], &scope, &slen, &rec, &rlen);
        size_t sl = 0;
        if (pb) {
            sl = pb_begin(b, 2);
            size_t sc = pb_begin(b, 1);
            pb_bytes(b, 1, scope, slen);
            pb_end(b, sc);
        } else {
            if (!first_scope)
                putc_(b, ',');
            puts_(b, "{\"scope\":{\"name\":");
            js_string(b, (const char *)scope, slen);
            puts_(b, "},\"logRecords\":[");
        }
        first_scope = 0;
        int first = 1;
        for (size_t j = i; j < n; j++) {
            if (done[j] || (j != i && !same_scope(&u[i], &u[j])))
                continue;
            done[j] = 1;
            const unsigned char *s2, *r2;
            size_t l2, n2;
            split(&u[j], &s2, &l2, &r2, &n2);
            if (pb) {
                pb_bytes(b, 2, r2, n2);
            } else {
                if (!first)
                    putc_(b, ',');
                otlp_buf_put(b, r2, n2);
            }
            first = 0;
        }
        if (pb)
            pb_end(b, sl);
        else
            puts_(b, "]}");
    }
    if (pb)
        pb_end(b, rl);
    else
        puts_(b, "]}]}");
    free(done);
    return b->oom ? CTXLOG_ENOMEM : 0;
}
