/* SPDX-License-Identifier: MIT */
/*
 * The OTLP sink: a user's sink of the core (log_sink_custom) with a
 * formatter of its own.
 *
 * On the logging thread the formatter encodes the record (otlp_encode.c:
 * its scope and LogRecord, from the JSON formatter's walk) and hands it to
 * the core as one "line": the unit's bytes with '\n' and ESC escaped, so
 * that the core's buffers, batches and counts of lines work for it as for
 * any custom sink. The custom sink's write (on a logging thread writing its
 * buffer out, or the core's background thread) unescapes each line into an
 * item of the sink's bounded queue, or counts it lost when the queue is
 * full. Nothing is sent there.
 *
 * The sink's own thread (started on first use, and in a child after fork)
 * takes batches off the queue and POSTs them with libcurl on one keep-alive
 * handle, retrying with backoff on connection errors and 429/502/503/504.
 *
 * Counting: `pushed` is every record the write took (queued or lost at
 * once), `finished` those delivered or counted as lost; log_flush() (the
 * custom sink's flush) waits until `finished` reaches what `pushed` was.
 */
#include <ctxlog/otlp.h>

#include "otlp/otlp_encode.h"
#include "otlp/otlp_env.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#ifdef CTXLOG_OTLP_HAVE_ZLIB
#include <zlib.h>
#endif

/* ---- a unit as one line ---------------------------------------------------------- */

/* The unit's bytes travel as a line of the core's, so no byte of it may be
 * '\n'. Every byte is XORed with MASK first, which turns the bytes
 * protobuf is full of ('\n' is the tag of every field 1 of type bytes)
 * into others, then the rare '\n' and ESC left become ESC 1 and ESC 2: a
 * line is the unit's length plus a few bytes, and it goes eight bytes at a
 * time. */
#define ESC 0x1B
#define MASK 0xF5u /* '\n' comes from 0xFF, ESC from 0xEE: neither in ASCII, 0xFF never in UTF-8 */

static const uint64_t ones = 0x0101010101010101u;

/* Whether any byte of the word x is '\n' or ESC (SWAR: a byte of x ^ c is
 * zero where x has c). */
static inline bool has_special(uint64_t x)
{
    const uint64_t highs = 0x8080808080808080u;
    uint64_t a = x ^ (ones * '\n'), b = x ^ (ones * ESC);
    return (((a - ones) & ~a) | ((b - ones) & ~b)) & highs;
}

static size_t escape(const unsigned char *p, size_t n, unsigned char *out)
{
    size_t o = 0, i = 0;
    while (i < n) {
        uint64_t x;
        while (i + 8 <= n && (memcpy(&x, p + i, 8), x ^= ones * MASK, !has_special(x))) {
            memcpy(out + o, &x, 8);
            o += 8;
            i += 8;
        }
        size_t end = i + 8 <= n ? i + 8 : n;
        for (; i < end; i++) {
            unsigned char c = (unsigned char)(p[i] ^ MASK);
            if (c == '\n' || c == ESC) {
                out[o++] = ESC;
                out[o++] = c == '\n' ? 1 : 2;
            } else {
                out[o++] = c;
            }
        }
    }
    return o;
}

static size_t unescape(const unsigned char *p, size_t n, unsigned char *out)
{
    size_t o = 0, i = 0;
    while (i < n) {
        const unsigned char *e = memchr(p + i, ESC, n - i);
        size_t run = e ? (size_t)(e - (p + i)) : n - i;
        size_t k = 0;
        for (; k + 8 <= run; k += 8) {
            uint64_t x;
            memcpy(&x, p + i + k, 8);
            x ^= ones * MASK;
            memcpy(out + o + k, &x, 8);
        }
        for (; k < run; k++)
            out[o + k] = (unsigned char)(p[i + k] ^ MASK);
        o += run;
        i += run;
        if (i + 1 < n) {
            out[o++] = (unsigned char)((p[i + 1] == 1 ? '\n' : ESC) ^ MASK);
            i += 2;
        } else if (i < n) {
            i++; /* a lone ESC at the end: cannot come from escape() */
        }
    }
    return o;
}

/* The formatter (payload: the encoding): the unit, escaped, and '\n'. */
static int format_unit(const log_record *rec, log_buf *out, bool tty, void *payload)
{
    (void)tty;
    otlp_buf *unit = otlp_tls_buf(OTLP_TLS_UNIT), *line = otlp_tls_buf(OTLP_TLS_LINE);
    log_otlp_encoding enc = (log_otlp_encoding)(intptr_t)payload;
    if (otlp_encode_record(rec, enc, unit) != 0) {
        log_dropped_add(1); /* out of memory: said by the count alone */
        return 1;
    }
    line->len = 0;
    line->oom = false;
    /* Room for the worst case: every byte escaped. */
    if (line->cap < 2 * unit->len + 1) {
        otlp_buf_free(line);
        line->data = malloc(2 * unit->len + 1);
        if (!line->data) {
            log_dropped_add(1);
            return 1;
        }
        line->cap = 2 * unit->len + 1;
    }
    line->len = escape(unit->data, unit->len, line->data);
    line->data[line->len++] = '\n';
    log_buf_append(out, line->data, line->len);
    if (line->cap > 64 * 1024)
        otlp_buf_free(line);
    if (unit->cap > 64 * 1024)
        otlp_buf_free(unit);
    return 0;
}

/* ---- the sink's state ------------------------------------------------------------- */

typedef struct item {
    struct item *next;
    size_t len;
    unsigned char data[];
} item;

/* The sender's own (made when it starts, freed when it stops): kept in
 * the sink rather than on its stack, so that at exit what a still running
 * sender holds is reachable from the sink, as everything else is. */
typedef struct sender_tx {
    CURL *curl;
    otlp_buf raw, body, report;
    otlp_unit *units;
    item **batch;
    CURL *parents; /* a child's copy of the parent's handle: never used nor closed */
} sender_tx;

typedef struct otlp_sink {
    otlp_settings set;
    struct curl_slist *headers;
    char name[160]; /* "otlp <endpoint>", for messages */

    pthread_mutex_t mu;
    pthread_cond_t work; /* the sender waits here */
    pthread_cond_t done; /* log_flush() waits here */
    item *head, *tail;
    size_t queued;
    uint64_t oldest_ns;    /* CLOCK_MONOTONIC when the head was queued */
    uint64_t pushed;       /* records the write took */
    uint64_t finished;     /* of those, delivered or counted */
    uint64_t flush_target; /* send without waiting for a full batch until finished reaches it */
    item **inflight;       /* the batch being sent (freed by a child after fork) */
    size_t ninflight;
    bool running, stopping;
    uint64_t stop_deadline_ns;
    pthread_t thread;
    uint64_t lost_unsaid; /* lost records not yet said in a record */
    bool down;            /* said on stderr in this outage */
    unsigned seed;        /* jitter */
    sender_tx tx;
} otlp_sink;

static uint64_t mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* The absolute CLOCK_MONOTONIC time `ns` for pthread_cond_timedwait. */
static struct timespec abs_of(uint64_t ns)
{
    return (struct timespec){.tv_sec = (time_t)(ns / 1000000000u), .tv_nsec = (long)(ns % 1000000000u)};
}

static void free_items(item *it)
{
    while (it) {
        item *next = it->next;
        free(it);
        it = next;
    }
}

/* mu held: n records are lost (reason for the stderr line). */
static void lost_locked(otlp_sink *o, uint64_t n, const char *reason)
{
    if (!n)
        return;
    log_dropped_add(n);
    o->lost_unsaid += n;
    if (!o->down)
        fprintf(stderr, "ctxlog: cannot deliver to %s: %s; records are being lost "
                        "(log_dropped_count())\n", o->name, reason);
    o->down = true;
}

/* ---- HTTP ----------------------------------------------------------------------- */

struct answer {
    long retry_after_s; /* -1: none */
    unsigned char body[4096]; /* the start of the response's body */
    size_t len;
};

static size_t on_header(char *p, size_t size, size_t n, void *payload)
{
    struct answer *a = payload;
    size_t len = size * n;
    static const char name[] = "retry-after:";
    if (len > sizeof name && strncasecmp(p, name, sizeof name - 1) == 0) {
        char tmp[32];
        size_t k = len - (sizeof name - 1);
        if (k >= sizeof tmp)
            k = sizeof tmp - 1;
        memcpy(tmp, p + sizeof name - 1, k);
        tmp[k] = '\0';
        char *end;
        long s = strtol(tmp, &end, 10);
        if (end != tmp && s >= 0)
            a->retry_after_s = s; /* an HTTP date is not honoured: the backoff is used */
    }
    return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *payload)
{
    struct answer *a = payload;
    size_t len = size * n, room = sizeof a->body - a->len;
    memcpy(a->body + a->len, p, len < room ? len : room);
    a->len += len < room ? len : room;
    return len;
}

/* A varint at p[*i, n); false when it is cut. */
static bool read_varint(const unsigned char *p, size_t n, size_t *i, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; *i < n && shift < 64; shift += 7) {
        unsigned char c = p[(*i)++];
        *v |= (uint64_t)(c & 0x7F) << shift;
        if (!(c & 0x80))
            return true;
    }
    return false;
}

/* The records a 2xx answer says the collector rejected: the
 * ExportLogsServiceResponse's partial_success (1) rejected_log_records
 * (1), in protobuf or OTLP/JSON ("partialSuccess":
 * {"rejectedLogRecords": "N"}). 0 when it says none or cannot be read. */
static uint64_t rejected_of(const struct answer *a, log_otlp_encoding enc)
{
    const unsigned char *p = a->body;
    size_t n = a->len;
    if (enc == LOG_OTLP_JSON) {
        static const char key[] = "\"rejectedLogRecords\"";
        const unsigned char *k = memmem(p, n, key, sizeof key - 1);
        if (!k)
            return 0;
        size_t i = (size_t)(k - p) + sizeof key - 1;
        while (i < n && (p[i] == ':' || p[i] == ' ' || p[i] == '"'))
            i++;
        uint64_t v = 0;
        while (i < n && p[i] >= '0' && p[i] <= '9')
            v = v * 10 + (uint64_t)(p[i++] - '0');
        return v;
    }
    for (size_t i = 0; i < n;) {
        uint64_t tag, len;
        if (!read_varint(p, n, &i, &tag))
            return 0;
        if ((tag & 7) != 2) { /* not a message: skip a varint, or give up */
            if ((tag & 7) != 0 || !read_varint(p, n, &i, &len))
                return 0;
            continue;
        }
        if (!read_varint(p, n, &i, &len) || len > n - i)
            return 0;
        if (tag >> 3 != 1) {
            i += (size_t)len;
            continue;
        }
        size_t end = i + (size_t)len; /* ExportLogsPartialSuccess */
        while (i < end) {
            uint64_t t2, v;
            if (!read_varint(p, end, &i, &t2))
                return 0;
            if ((t2 & 7) == 0) {
                if (!read_varint(p, end, &i, &v))
                    return 0;
                if (t2 >> 3 == 1)
                    return v;
            } else if ((t2 & 7) == 2) {
                if (!read_varint(p, end, &i, &v) || v > end - i)
                    return 0;
                i += (size_t)v;
            } else {
                return 0;
            }
        }
        return 0;
    }
    return 0;
}

#ifdef CTXLOG_OTLP_HAVE_ZLIB
/* gzip of in into out. Returns 0 or -1. */
static int gzip(const otlp_buf *in, otlp_buf *out)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    uLong bound = deflateBound(&z, (uLong)in->len);
    out->len = 0;
    out->oom = false;
    if (out->cap < bound) {
        otlp_buf_free(out);
        out->data = malloc(bound);
        if (!out->data) {
            deflateEnd(&z);
            return -1;
        }
        out->cap = bound;
    }
    z.next_in = in->data;
    z.avail_in = (uInt)in->len;
    z.next_out = out->data;
    z.avail_out = (uInt)bound;
    int rc = deflate(&z, Z_FINISH);
    out->len = bound - z.avail_out;
    deflateEnd(&z);
    return rc == Z_STREAM_END ? 0 : -1;
}
#endif

/* One POST of body. Returns the HTTP status, or 0 when no answer came
 * (connection refused, reset, timeout); *why says why, for messages. */
static long post(otlp_sink *o, CURL *c, const otlp_buf *body, long timeout_ms,
                 struct answer *a, char *why, size_t cap)
{
    char err[CURL_ERROR_SIZE] = "";
    a->retry_after_s = -1;
    a->len = 0;
    curl_easy_setopt(c, CURLOPT_URL, o->set.endpoint);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, (const char *)body->data);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, o->headers);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, a);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    if (rc != CURLE_OK) {
        snprintf(why, cap, "%s", err[0] ? err : curl_easy_strerror(rc));
        return 0;
    }
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    snprintf(why, cap, "HTTP status %ld", status);
    return status;
}

static bool retryable(long status)
{
    return status == 0 || status == 429 || status == 502 || status == 503 || status == 504;
}

/* mu held: wait ms (or until the sink stops). Returns false when the sink
 * is stopping and its deadline passed: give up. */
static bool backoff_locked(otlp_sink *o, uint64_t ms)
{
    uint64_t until = mono_ns() + ms * 1000000u;
    if (o->stopping && until > o->stop_deadline_ns)
        until = o->stop_deadline_ns;
    struct timespec ts = abs_of(until);
    while (mono_ns() < until) {
        if (pthread_cond_timedwait(&o->work, &o->mu, &ts) == ETIMEDOUT)
            break;
        if (o->stopping && mono_ns() >= o->stop_deadline_ns)
            break;
    }
    return !(o->stopping && mono_ns() >= o->stop_deadline_ns);
}

/* The request for units u[0, n), compressed when asked for, into body.
 * Returns 0 or -1 (out of memory). */
static int build(otlp_sink *o, const otlp_unit *u, size_t n, otlp_buf *raw, otlp_buf *body)
{
    if (otlp_encode_request(u, n, o->set.resource, o->set.nresource, o->set.encoding, raw))
        return -1;
#ifdef CTXLOG_OTLP_HAVE_ZLIB
    if (o->set.gzip)
        return gzip(raw, body);
#endif
    otlp_buf tmp = *body;
    *body = *raw;
    *raw = tmp;
    return 0;
}

/* The record saying how many were lost, as a unit into b. */
static int drop_report(otlp_sink *o, uint64_t n, otlp_buf *b)
{
    static const char msg[] = "otlp: records dropped";
    log_field f = LOG_U64("dropped", n);
    log_record r;
    memset(&r, 0, sizeof r);
    r.level = LOG_LEVEL_WARN;
    r.logger = "ctxlog";
    r.msg = msg;
    r.msg_len = sizeof msg - 1;
    r.fields = &f;
    r.n_fields = 1;
    clock_gettime(CLOCK_REALTIME, &r.time);
    return otlp_encode_record(&r, o->set.encoding, b);
}

/* Sender thread, mu not held: deliver units u[0, n) (retrying while the
 * answer allows). Returns true when delivered (*rejected: how many of them
 * the collector said it rejected, a partial success), false when lost
 * (counted by the caller) with *why. */
static bool deliver(otlp_sink *o, CURL *c, const otlp_unit *u, size_t n, otlp_buf *raw,
                    otlp_buf *body, char *why, size_t cap, uint64_t *rejected)
{
    *rejected = 0;
    if (build(o, u, n, raw, body)) {
        snprintf(why, cap, "out of memory");
        return false;
    }
    uint64_t backoff = (uint64_t)o->set.retry_min_ms;
    for (;;) {
        /* At exit, a request ends by the exit's deadline too. */
        long timeout = o->set.timeout_ms;
        pthread_mutex_lock(&o->mu);
        if (o->stopping) {
            uint64_t now = mono_ns();
            long left = now < o->stop_deadline_ns
                            ? (long)((o->stop_deadline_ns - now) / 1000000u) : 0;
            timeout = left < 1 ? 1 : left < timeout ? left : timeout;
        }
        pthread_mutex_unlock(&o->mu);
        struct answer a;
        long status = post(o, c, body, timeout, &a, why, cap);
        if (status >= 200 && status < 300) {
            *rejected = rejected_of(&a, o->set.encoding);
            if (*rejected > n)
                *rejected = n;
            if (*rejected)
                snprintf(why, cap, "the collector rejected %llu of %zu records",
                         (unsigned long long)*rejected, n);
            return true;
        }
        if (!retryable(status))
            return false;
        uint64_t wait;
        if (a.retry_after_s >= 0) {
            wait = (uint64_t)a.retry_after_s * 1000u;
        } else {
            /* Full jitter over the upper half: [backoff/2, backoff]. */
            wait = backoff / 2 + (uint64_t)rand_r(&o->seed) % (backoff / 2 + 1);
            backoff = backoff * 2 > (uint64_t)o->set.retry_max_ms ? (uint64_t)o->set.retry_max_ms
                                                                  : backoff * 2;
        }
        pthread_mutex_lock(&o->mu);
        bool go_on = backoff_locked(o, wait);
        pthread_mutex_unlock(&o->mu);
        if (!go_on)
            return false;
    }
}

/* mu held: whether the sender has a batch to send now. */
static bool due_locked(const otlp_sink *o, uint64_t now)
{
    if (!o->queued)
        return false;
    return o->queued >= o->set.batch_max || o->stopping || o->flush_target > o->finished ||
           now >= o->oldest_ns + (uint64_t)o->set.batch_delay_ms * 1000000u;
}

static void *sender(void *arg)
{
    otlp_sink *o = arg;
    CURL *c = o->tx.curl = curl_easy_init();
    otlp_buf *raw = &o->tx.raw, *body = &o->tx.body, *report = &o->tx.report;
    otlp_unit *units = o->tx.units = calloc(o->set.batch_max, sizeof *units);
    item **batch = o->tx.batch = calloc(o->set.batch_max, sizeof *batch);
    char why[CURL_ERROR_SIZE + 64];

    pthread_mutex_lock(&o->mu);
    for (;;) {
        uint64_t now = mono_ns();
        if (!due_locked(o, now)) {
            if (o->stopping)
                break; /* nothing left */
            if (o->queued) {
                struct timespec ts =
                    abs_of(o->oldest_ns + (uint64_t)o->set.batch_delay_ms * 1000000u);
                pthread_cond_timedwait(&o->work, &o->mu, &ts);
            } else {
                pthread_cond_wait(&o->work, &o->mu);
            }
            continue;
        }
        if (o->stopping && now >= o->stop_deadline_ns) {
            /* Out of time at exit: what is left is lost. */
            uint64_t n = o->queued;
            free_items(o->head);
            o->head = o->tail = NULL;
            o->queued = 0;
            lost_locked(o, n, "the exit's wait for delivery ran out");
            o->finished += n;
            pthread_cond_broadcast(&o->done);
            break;
        }
        size_t n = 0;
        while (o->head && n < o->set.batch_max && c && units && batch) {
            item *it = o->head;
            o->head = it->next;
            batch[n] = it;
            units[n] = (otlp_unit){it->data, it->len};
            n++;
        }
        if (!o->head)
            o->tail = NULL;
        o->queued -= n;
        o->oldest_ns = now; /* the rest waits batch_delay_ms at most from here */
        o->inflight = batch;
        o->ninflight = n;
        pthread_mutex_unlock(&o->mu);

        uint64_t rejected = 0;
        bool ok = n && deliver(o, c, units, n, raw, body, why, sizeof why, &rejected);
        if (!n)
            snprintf(why, sizeof why, "out of memory");

        pthread_mutex_lock(&o->mu);
        o->inflight = NULL;
        o->ninflight = 0;
        for (size_t i = 0; i < n; i++)
            free(batch[i]);
        if (!ok) {
            uint64_t lost = n ? n : o->queued;
            if (!n) { /* no handle or memory: the queue is lost */
                free_items(o->head);
                o->head = o->tail = NULL;
                o->queued = 0;
            }
            lost_locked(o, lost, why);
            o->finished += lost;
        } else {
            o->finished += n;
            if (rejected)
                lost_locked(o, rejected, why); /* a partial success: counted, said once */
            else
                o->down = false;
            uint64_t unsaid = o->lost_unsaid;
            if (unsaid && drop_report(o, unsaid, report) == 0) {
                pthread_mutex_unlock(&o->mu);
                otlp_unit u = {report->data, report->len};
                uint64_t refused;
                bool said = deliver(o, c, &u, 1, raw, body, why, sizeof why, &refused);
                pthread_mutex_lock(&o->mu);
                if (said && !refused)
                    o->lost_unsaid -= unsaid;
            }
        }
        pthread_cond_broadcast(&o->done);
    }
    pthread_mutex_unlock(&o->mu);
    free(units);
    free(batch);
    otlp_buf_free(raw);
    otlp_buf_free(body);
    otlp_buf_free(report);
    if (c)
        curl_easy_cleanup(c);
    o->tx.curl = NULL;
    o->tx.units = NULL;
    o->tx.batch = NULL;
    return NULL;
}

/* mu held: the sender runs (started on first use, and in a child after
 * fork()). Signals are blocked in it: libcurl's and TLS's writes must not
 * raise SIGPIPE in the application, nor its handlers run there. */
static bool start_locked(otlp_sink *o)
{
    if (o->running)
        return true;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&o->thread, NULL, sender, o);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return false;
    (void)pthread_setname_np(o->thread, "ctxlog-otlp"); /* for ps, top and debuggers */
    o->running = true;
    o->stopping = false;
    return true;
}

/* ---- the custom sink's operations ------------------------------------------------ */

static int op_write(void *state, const char *lines, size_t len)
{
    otlp_sink *o = state;
    const unsigned char *p = (const unsigned char *)lines, *end = p + len;
    item *first = NULL, **link = &first;
    size_t n = 0;
    uint64_t nomem = 0;
    while (p < end) {
        const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t k = nl ? (size_t)(nl - p) : (size_t)(end - p);
        item *it = malloc(sizeof *it + k);
        if (it) {
            it->next = NULL;
            it->len = unescape(p, k, it->data);
            *link = it;
            link = &it->next;
            n++;
        } else {
            nomem++;
        }
        p += k + 1;
    }
    pthread_mutex_lock(&o->mu);
    o->pushed += n + nomem;
    o->finished += nomem;
    lost_locked(o, nomem, "out of memory");
    uint64_t full = 0;
    if (n && !start_locked(o)) {
        full = n; /* no thread: nothing can be sent */
        free_items(first);
        first = NULL;
        lost_locked(o, full, "cannot start the sender thread");
        o->finished += full;
        n = 0;
    }
    for (item *it = first; it;) {
        item *next = it->next;
        if (o->queued >= o->set.queue_max) {
            free(it);
            full++;
        } else {
            it->next = NULL;
            if (o->tail)
                o->tail->next = it;
            else {
                o->head = it;
                o->oldest_ns = mono_ns();
            }
            o->tail = it;
            o->queued++;
        }
        it = next;
    }
    if (full && n) {
        o->finished += full;
        lost_locked(o, full, "its queue is full");
    }
    if (o->queued)
        pthread_cond_signal(&o->work);
    pthread_mutex_unlock(&o->mu);
    return 0; /* taken: queued, or counted here */
}

/* mu held: wait until every record taken before now is finished, at most
 * until deadline. Returns whether they are. */
static bool wait_finished_locked(otlp_sink *o, uint64_t deadline)
{
    uint64_t target = o->pushed;
    if (o->finished >= target)
        return true;
    if (o->flush_target < target)
        o->flush_target = target;
    pthread_cond_signal(&o->work);
    struct timespec ts = abs_of(deadline);
    while (o->finished < target && mono_ns() < deadline)
        pthread_cond_timedwait(&o->done, &o->mu, &ts);
    return o->finished >= target;
}

static int op_flush(void *state)
{
    otlp_sink *o = state;
    pthread_mutex_lock(&o->mu);
    bool ok = wait_finished_locked(o, mono_ns() + (uint64_t)o->set.timeout_ms * 1000000u);
    pthread_mutex_unlock(&o->mu);
    return ok ? 0 : ETIMEDOUT;
}

static void destroy(otlp_sink *o)
{
    pthread_mutex_destroy(&o->mu);
    pthread_cond_destroy(&o->work);
    pthread_cond_destroy(&o->done);
    curl_slist_free_all(o->headers);
    otlp_settings_free(&o->set);
    free(o);
}

/* The last reference went: deliver what waits (at most timeout_ms), count
 * the rest, stop the sender. */
static void op_close(void *state)
{
    otlp_sink *o = state;
    pthread_mutex_lock(&o->mu);
    bool running = o->running;
    o->stopping = true;
    o->stop_deadline_ns = mono_ns() + (uint64_t)o->set.timeout_ms * 1000000u;
    o->flush_target = o->pushed;
    pthread_cond_broadcast(&o->work);
    pthread_mutex_unlock(&o->mu);
    if (running)
        pthread_join(o->thread, NULL);
    if (o->queued) { /* no sender (it could not start) */
        log_dropped_add(o->queued);
        free_items(o->head);
    }
    destroy(o);
}

/* The sender's two conditions, on the monotonic clock (their waits have
 * deadlines): when the sink is made, and anew in a forked child. */
static void conds_init(otlp_sink *o)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&o->work, &ca);
    pthread_cond_init(&o->done, &ca);
    pthread_condattr_destroy(&ca);
}

/* fork(): called with the sink's lock held; mu is taken after it, as a
 * write takes it, and the sender never takes the sink's lock. */
static void op_fork(void *state, log_fork_phase phase)
{
    otlp_sink *o = state;
    if (phase == LOG_FORK_PREPARE) {
        pthread_mutex_lock(&o->mu);
        return;
    }
    if (phase == LOG_FORK_CHILD) {
        /* What is queued or being sent is the parent's to deliver; the
         * sender and its connection are the parent's too (the handle is
         * left alone: closing it could write on the parent's stream). */
        free_items(o->head);
        for (size_t i = 0; i < o->ninflight; i++)
            free(o->inflight[i]);
        /* The child's sender makes its own; the parent's buffers go, its
         * handle stays (see above). */
        CURL *parents = o->tx.curl ? o->tx.curl : o->tx.parents;
        free(o->tx.units);
        free(o->tx.batch);
        otlp_buf_free(&o->tx.raw);
        otlp_buf_free(&o->tx.body);
        otlp_buf_free(&o->tx.report);
        o->tx = (sender_tx){.parents = parents};
        o->inflight = NULL;
        o->ninflight = 0;
        o->head = o->tail = NULL;
        o->queued = 0;
        o->pushed = o->finished = o->flush_target = 0;
        o->lost_unsaid = 0;
        o->down = false;
        o->running = o->stopping = false;
        o->seed ^= (unsigned)getpid();
        conds_init(o);
    }
    pthread_mutex_unlock(&o->mu);
}

/* ---- making one ------------------------------------------------------------------ */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static bool curl_ok;

static void curl_setup(void)
{
    curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

static int headers_of(otlp_sink *o)
{
    const char *type = o->set.encoding == LOG_OTLP_JSON ? "Content-Type: application/json"
                                                        : "Content-Type: application/x-protobuf";
    struct curl_slist *l = curl_slist_append(NULL, type);
    if (l && o->set.gzip)
        l = curl_slist_append(l, "Content-Encoding: gzip") ? l : NULL;
    if (l)
        l = curl_slist_append(l, "Expect:") ? l : NULL; /* no 100-continue round trip */
    for (size_t i = 0; l && i < o->set.nheaders; i++) {
        size_t n = strlen(o->set.headers[i].key) + strlen(o->set.headers[i].value) + 3;
        char *h = malloc(n);
        if (!h) {
            curl_slist_free_all(l);
            return CTXLOG_ENOMEM;
        }
        snprintf(h, n, "%s: %s", o->set.headers[i].key, o->set.headers[i].value);
        struct curl_slist *next = curl_slist_append(l, h);
        free(h);
        if (!next) {
            curl_slist_free_all(l);
            return CTXLOG_ENOMEM;
        }
    }
    if (!l)
        return CTXLOG_ENOMEM;
    o->headers = l;
    return 0;
}

int log_sink_otlp(log_sink **out, const log_otlp_options *opts)
{
    if (!out)
        return CTXLOG_EINVAL;
    *out = NULL;
    pthread_once(&curl_once, curl_setup);
    if (!curl_ok)
        return CTXLOG_EIO;
    otlp_sink *o = calloc(1, sizeof *o);
    if (!o)
        return CTXLOG_ENOMEM;
    int rc = otlp_settings_init(&o->set, opts);
    if (rc) {
        free(o);
        return rc;
    }
    rc = headers_of(o);
    if (rc) {
        otlp_settings_free(&o->set);
        free(o);
        return rc;
    }
    snprintf(o->name, sizeof o->name, "otlp %s", o->set.endpoint);
    pthread_mutex_init(&o->mu, NULL);
    conds_init(o);
    o->seed = (unsigned)mono_ns() ^ (unsigned)getpid();

    log_sink_ops ops = LOG_SINK_OPS_INIT;
    ops.write = op_write;
    ops.flush = op_flush;
    ops.close = op_close;
    ops.fork = op_fork;
    log_sink *s = NULL;
    rc = log_sink_custom(&s, &ops, o);
    if (rc) {
        destroy(o);
        return rc;
    }
    log_formatter *f = log_formatter_custom(format_unit, (void *)(intptr_t)o->set.encoding, NULL);
    if (!f || log_sink_set_formatter(s, f) != 0) {
        log_formatter_release(f);
        log_sink_release(s); /* closes o */
        return CTXLOG_ENOMEM;
    }
    log_formatter_release(f);
    *out = s;
    return 0;
}
