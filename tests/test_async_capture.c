/* SPDX-License-Identifier: MIT */
/*
 * Async mode's captured records (log/async/async_capture.h): for a route
 * that is the context filter and one buffered JSON sink of the DEFAULT or
 * ECS preset, the logging thread copies what a record is made of (stamp,
 * message, fields, and a context entry when its context snapshot changed)
 * into its ring, and the writer encodes it.
 *
 * - The bytes are sync mode's but for the timestamp: the same calls are
 *   made once in each mode and the files compared line by line, the
 *   timestamp's value cut out of both (every key, its order and every
 *   value byte for byte). In async mode each call's way into the ring is
 *   checked too (captured, formatted on the thread, or written at once),
 *   so that a comparison never passes because nothing was captured.
 * - Timestamps: within a microsecond of CLOCK_REALTIME read around each
 *   call, non-decreasing per thread; the writer's conversion on its first
 *   pass after a sleep; the crash handler's.
 * - Context per record, copies of what the call passed, drop and block
 *   policies, fork(), the crash handler (each crash in a fresh image of
 *   this program: --crash-child), threads that exit with records queued,
 *   async mode turned off and on again (also under threads that log), an
 *   error written unflushed.
 *
 * Every line is parsed with jansson (duplicate keys rejected); counts are
 * exact. CTXLOG_STRESS_RECORDS caps the records per thread of the
 * many-record tests (valgrind); the sanitizers run fewer, and allow the
 * timestamps 50 us. CTXLOG_TEST_FILTER=pattern runs the matching tests.
 */
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include <ctxlog/ctxlog.h>

#include "log/async/async_capture.h"
#include "log/async/async_clock.h"
#include "log/async/async_ring.h"
#include "log/log_internal.h"
#include "support.h"

/* The fork and crash tests' children start a writer thread: allowed. */
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
    return "die_after_fork=0";
}

/* The queue of the tests that log from the main thread: its ring is made
 * once, on its first async record, at the size configured then (a thread's
 * ring keeps its size). The small queues are only ever used by threads
 * made for them. */
#define QUEUE ((size_t)256 * 1024)

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define SLOW 4
#else
#define SLOW 1
#endif

static char *path_sync, *path_async;
static log_sink *cur_sink; /* the root's sink: our reference */
static log_sink *held;     /* a sink whose lock the main thread holds */

/* Hold up the writer on s (its lock); a test that fails meanwhile has it
 * let go in teardown. */
static void hold_writer(log_sink *s)
{
    pthread_mutex_lock(&s->lock);
    held = s;
}

static void release_writer(void)
{
    log_sink *s = held;
    held = NULL;
    pthread_mutex_unlock(&s->lock);
}

static int setup(void **state)
{
    (void)state;
    path_sync = ts_temp_path("capture-sync.log");
    path_async = ts_temp_path("capture-async.log");
    ts_unlink(path_sync);
    ts_unlink(path_async);
    return 0;
}

static void lines_free_all(void);

static int teardown(void **state)
{
    (void)state;
    if (held)
        release_writer();
    lines_free_all();
    (void)log__async_set(false, QUEUE, false);
    log_shutdown();
    log_sink_release(cur_sink);
    cur_sink = NULL;
    ts_unlink(path_sync);
    ts_unlink(path_async);
    free(path_sync);
    free(path_async);
    return 0;
}

/* Records per thread: n, fewer under the sanitizers, at most
 * CTXLOG_STRESS_RECORDS. */
static long scaled(long n)
{
    n /= SLOW;
    const char *e = getenv("CTXLOG_STRESS_RECORDS");
    long cap = e ? strtol(e, NULL, 10) : 0;
    if (cap > 0 && cap < n)
        n = cap;
    return n > 10 ? n : 10;
}

/* A fresh file sink on `path` (emptied), with JSON options jo (NULL: the
 * defaults), as the root's only sink, at info. */
static log_sink *use_file(const char *path, const log_json_options *jo)
{
    log_sink *s = NULL;
    ts_unlink(path);
    assert_int_equal(log_sink_file(&s, path, NULL), 0);
    if (jo) {
        log_formatter *f = log_formatter_json(jo);
        assert_non_null(f);
        assert_int_equal(log_sink_set_formatter(s, f), 0);
        log_formatter_release(f);
    }
    assert_int_equal(log_logger_clear_sinks(NULL), 0);
    assert_int_equal(log_logger_add_sink(NULL, s), 0);
    assert_int_equal(log_level_set(LOG_LEVEL_INFO), 0);
    log_sink_release(cur_sink);
    cur_sink = s;
    return s;
}

/* Whether the root's route takes captured records (log_route.line_sink). */
static bool root_captures(void)
{
    const log_route *r = atomic_load(&log__root()->route);
    return r && r->line_sink != NULL;
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0)
        ;
}

static void sleep_us(long us)
{
    struct timespec t = {0, us * 1000};
    nanosleep(&t, NULL);
}

static int64_t realtime_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* ---- reading the files back ----------------------------------------------------- */

/* A file's lines, each parsed. */
typedef struct file_lines {
    char *text;
    size_t n;
    const char **at; /* each line's first byte */
    size_t *len;     /* its length without the '\n' */
    json_t **rec;
} file_lines;

/* Where they are kept: what a failed test leaves is freed by teardown. */
#define LINE_SLOTS 4
static file_lines line_slots[LINE_SLOTS];

static void lines_free(file_lines *fl)
{
    for (size_t i = 0; i < fl->n; i++)
        json_decref(fl->rec[i]);
    free(fl->at);
    free(fl->len);
    free(fl->rec);
    free(fl->text);
    memset(fl, 0, sizeof *fl);
}

/* What a test that failed did not give back. */
static void lines_free_all(void)
{
    for (int i = 0; i < LINE_SLOTS; i++)
        lines_free(&line_slots[i]);
}

/* Every line of `path`, each '\n'-terminated and one JSON object
 * (duplicate keys rejected; `flags` more jansson decoding flags). Give it
 * back with lines_free. */
static file_lines *read_lines(const char *path, size_t flags)
{
    file_lines *fl = line_slots;
    while (fl < line_slots + LINE_SLOTS && fl->text)
        fl++;
    assert_true(fl < line_slots + LINE_SLOTS);
    size_t size = 0, cap = 0;
    fl->text = ts_read_file(path, &size);
    if (!fl->text)
        fail_msg("%s cannot be read", path);
    for (size_t pos = 0; pos < size;) {
        char *nl = memchr(fl->text + pos, '\n', size - pos);
        if (!nl)
            fail_msg("%s: line %zu does not end with a newline", path, fl->n + 1);
        if (fl->n == cap) {
            cap = cap ? cap * 2 : 256;
            const char **at = realloc(fl->at, cap * sizeof *at);
            size_t *len = at ? realloc(fl->len, cap * sizeof *len) : NULL;
            json_t **rec = len ? realloc(fl->rec, cap * sizeof *rec) : NULL;
            fl->at = at ? at : fl->at;
            fl->len = len ? len : fl->len;
            fl->rec = rec ? rec : fl->rec;
            assert_non_null(rec);
        }
        size_t len = (size_t)(nl - (fl->text + pos));
        json_error_t err;
        json_t *j = json_loadb(fl->text + pos, len,
                               JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL | flags, &err);
        if (!json_is_object(j)) {
            json_decref(j);
            fail_msg("%s: line %zu is not a JSON object (%s): %.300s", path, fl->n + 1, err.text,
                     fl->text + pos);
        }
        fl->at[fl->n] = fl->text + pos;
        fl->len[fl->n] = len;
        fl->rec[fl->n] = j;
        fl->n++;
        pos += len + 1;
    }
    return fl;
}

static const char *str_of(json_t *rec, const char *key)
{
    return json_string_value(json_object_get(rec, key));
}

static long long int_of(json_t *rec, const char *key)
{
    json_t *v = json_object_get(rec, key);
    if (!json_is_integer(v))
        fail_msg("member \"%s\" is not an integer", key);
    return (long long)json_integer_value(v);
}

/* "YYYY-MM-DDTHH:MM:SS.uuuuuuZ": microseconds since the epoch. */
static int64_t ts_parse(const char *v)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.ddddddZ";
    for (size_t i = 0; i < sizeof shape - 1; i++) {
        bool ok = shape[i] == 'd' ? v[i] >= '0' && v[i] <= '9' : v[i] == shape[i];
        if (!ok)
            fail_msg("timestamp \"%.27s\" is not YYYY-MM-DDTHH:MM:SS.uuuuuuZ", v);
    }
    int f[7];
    const int at[7] = {0, 5, 8, 11, 14, 17, 20}, len[7] = {4, 2, 2, 2, 2, 2, 6};
    for (int i = 0; i < 7; i++) {
        f[i] = 0;
        for (int k = 0; k < len[i]; k++)
            f[i] = f[i] * 10 + (v[at[i] + k] - '0');
    }
    struct tm tm = {0};
    tm.tm_year = f[0] - 1900;
    tm.tm_mon = f[1] - 1;
    tm.tm_mday = f[2];
    tm.tm_hour = f[3];
    tm.tm_min = f[4];
    tm.tm_sec = f[5];
    return (int64_t)timegm(&tm) * 1000000 + f[6];
}

/* The timestamp of a line: its first member, `{"<key>":"<27 bytes>"` (ts,
 * @timestamp or timestamp as the preset names it), which the parsed record
 * must hold with that value. *value_at gets the offset of its value in the
 * line. Returns its microseconds since the epoch. */
static int64_t line_ts(const char *line, size_t len, json_t *rec, size_t *value_at)
{
    if (len < 40 || line[0] != '{' || line[1] != '"')
        fail_msg("line does not open with a member: %.100s", line);
    const char *kend = memchr(line + 2, '"', len - 2);
    assert_non_null(kend);
    size_t klen = (size_t)(kend - (line + 2));
    if (klen >= 32 || (size_t)(kend - line) + 3 + 28 > len || kend[1] != ':' || kend[2] != '"' ||
        kend[3 + 27] != '"')
        fail_msg("the first member is not a timestamp: %.100s", line);
    char key[32];
    memcpy(key, line + 2, klen);
    key[klen] = '\0';
    const char *v = kend + 3;
    const char *parsed = str_of(rec, key);
    if (!parsed || strlen(parsed) != 27 || memcmp(parsed, v, 27) != 0)
        fail_msg("member \"%s\" parsed is not the line's \"%.27s\"", key, v);
    *value_at = (size_t)(v - line);
    return ts_parse(v);
}

/* ---- which way a call went into the calling thread's ring --------------------- */

/* The calling thread's ring's head: where its next entry goes (async mode). */
static uint64_t ring_head(void)
{
    log__ring *r = log__ring_mine();
    assert_non_null(r);
    return atomic_load(&r->head);
}

struct queued {
    int captured, contexts, formatted;
};

/* The entries the calling thread queued since its head was `from`. Only
 * this thread writes its ring, and nothing it queued since is overwritten
 * before it queues more; the writer only reads them. */
static struct queued queued_since(uint64_t from)
{
    struct queued q = {0, 0, 0};
    log__ring *r = log__my_ring;
    uint64_t head = atomic_load(&r->head), at = from;
    while (at < head) {
        log__ring_hdr h;
        const char *p = log__ring_next(r, &at, head, &h);
        if (!p)
            break;
        if (h.flags & RING_CAPTURED)
            q.captured++;
        else if (h.flags & RING_CONTEXT)
            q.contexts++;
        else
            q.formatted++;
    }
    return q;
}

/* What a call is expected to do in async mode. */
enum way {
    NONE,   /* nothing (a level below the threshold) */
    CAP,    /* captured when the route takes captured records, else formatted */
    TXT,    /* formatted on the calling thread and queued */
    DIRECT, /* formatted, too big for the ring: written from the calling thread */
};

static int checking;       /* async run: check each call's way */
static bool capturing;     /* the route takes captured records */
static int expected_lines; /* lines the calls so far write */

static void check_way(uint64_t from, enum way w, int line)
{
    struct queued q = queued_since(from);
    if (w == CAP && !capturing)
        w = TXT;
    bool ok;
    switch (w) {
    case CAP:
        ok = q.captured == 1 && q.formatted == 0 && q.contexts <= 1;
        break;
    case TXT:
        ok = q.captured == 0 && q.formatted == 1 && q.contexts == 0;
        break;
    default:
        ok = q.captured == 0 && q.formatted == 0 && q.contexts == 0;
        break;
    }
    if (!ok)
        fail_msg("line %d: %d captured, %d formatted, %d context entries queued, not as "
                 "expected (%s)",
                 line, q.captured, q.formatted, q.contexts,
                 w == CAP ? "captured" : w == TXT ? "formatted" : "nothing queued");
}

/* One logging call, its way checked in async mode. */
#define REC(w, ...)                                                                \
    do {                                                                           \
        uint64_t rec_h0_ = checking ? ring_head() : 0;                             \
        __VA_ARGS__;                                                               \
        if (checking)                                                              \
            check_way(rec_h0_, (w), __LINE__);                                     \
        if ((w) != NONE)                                                           \
            expected_lines++;                                                      \
    } while (0)

/* A record of message msg[0, len) (NULs and all) at info on the root. */
static void info_n(const char *msg, size_t len, const log_field *f, size_t n)
{
    log__kv_n(NULL, LOG_LEVEL_INFO, __FILE__, __LINE__, __func__, msg, len, f, n);
}

/* ---- 1. the bytes sync mode writes ------------------------------------------------ */

/* Compare the two files line by line, the timestamps' values cut out:
 * everything else, key order included, byte for byte. */
static void compare_files(int want_lines)
{
    file_lines *a = read_lines(path_sync, JSON_DECODE_INT_AS_REAL);
    file_lines *b = read_lines(path_async, JSON_DECODE_INT_AS_REAL);
    size_t n = a->n < b->n ? a->n : b->n;
    for (size_t i = 0; i < n; i++) {
        size_t va, vb;
        (void)line_ts(a->at[i], a->len[i], a->rec[i], &va);
        (void)line_ts(b->at[i], b->len[i], b->rec[i], &vb);
        if (va != vb || a->len[i] != b->len[i] || memcmp(a->at[i], b->at[i], va) != 0 ||
            memcmp(a->at[i] + va + 27, b->at[i] + vb + 27, a->len[i] - va - 27) != 0)
            fail_msg("line %zu differs:\n  sync:  %.*s\n  async: %.*s", i + 1,
                     (int)(a->len[i] < 600 ? a->len[i] : 600), a->at[i],
                     (int)(b->len[i] < 600 ? b->len[i] : 600), b->at[i]);
    }
    if (a->n != b->n)
        fail_msg("sync wrote %zu lines, async %zu (the first %zu the same)", a->n, b->n, n);
    if (a->n != (size_t)want_lines)
        fail_msg("%zu lines written, %d expected", a->n, want_lines);
    lines_free(a);
    lines_free(b);
}

struct shapes {
    void (*fn)(void);
};

static void run_shapes(void *arg)
{
    ((const struct shapes *)arg)->fn();
}

/* Make the calls of fn in sync mode into path_sync, then in async mode
 * into path_async, each in a frame of its own (what fn sets goes with it);
 * the files must be the same but for the timestamps. `captures`: whether
 * the sink's options make it a route of captured records. */
static void same_both_ways(void (*fn)(void), const log_json_options *jo, bool captures)
{
    struct shapes s = {fn};
    assert_int_equal(log__async_set(false, QUEUE, false), 0);
    use_file(path_sync, jo);
    checking = 0;
    expected_lines = 0;
    ctx_run(NULL, run_shapes, &s);
    int lines = expected_lines;
    assert_int_equal(log_flush(), 0);

    use_file(path_async, jo);
    assert_int_equal(log__async_set(true, QUEUE, false), 0);
    capturing = root_captures();
    assert_int_equal(capturing, captures);
    /* The main thread's ring: big enough for the records below. */
    assert_true(log__ring_mine()->cap >= QUEUE);
    checking = 1;
    expected_lines = 0;
    ctx_run(NULL, run_shapes, &s);
    checking = 0;
    assert_int_equal(expected_lines, lines);
    assert_int_equal(log_flush(), 0);
    assert_int_equal(log__async_set(false, QUEUE, false), 0);
    compare_files(lines);
}

static ctx_var *var(const char *name, unsigned flags)
{
    ctx_var *v = ctx_var_new(name, flags);
    assert_non_null(v);
    return v;
}

/* A message of len bytes, from a pattern with characters to escape now
 * and then. */
static char *pattern_msg(size_t len)
{
    char *m = malloc(len + 1);
    assert_non_null(m);
    for (size_t i = 0; i < len; i++)
        m[i] = i % 997 == 500 ? '"' : i % 1999 == 900 ? '\n' : (char)('a' + i % 26);
    m[len] = '\0';
    return m;
}

/* Every field type and value class, escapes, keys, field counts. */
static void shapes_fields(void)
{
    REC(CAP, log_info_kv("the empty context", LOG_I64("n", 0)));
    CTX_REQUEST("req-1", "user-1", "tenant-1");
    REC(CAP, log_info_kv("a request", LOG_I64("n", 1)));

    REC(CAP, log_info_kv("integers", LOG_I64("imin", INT64_MIN), LOG_I64("imax", INT64_MAX),
                         LOG_I64("zero", 0), LOG_I64("minus", -1), LOG_U64("umax", UINT64_MAX),
                         LOG_U64("u0", 0)));
    REC(CAP, log_info_kv("booleans", LOG_BOOL("t", true), LOG_BOOL("f", false)));
    REC(CAP, log_info_kv("doubles", LOG_F64("nan", NAN), LOG_F64("mnan", -NAN),
                         LOG_F64("inf", INFINITY), LOG_F64("minf", -INFINITY),
                         LOG_F64("mzero", -0.0), LOG_F64("tiny", 5e-324),
                         LOG_F64("max", DBL_MAX), LOG_F64("e21", 1e21), LOG_F64("tenth", 0.1),
                         LOG_F64("third", 1.0 / 3), LOG_F64("int", 123456789.0)));
    REC(CAP, log_info_kv("strings", LOG_STR("plain", "text"),
                         LOG_STR("esc", "q\" b\\ n\n r\r t\t b\b f\f /"),
                         LOG_STR("ctl", "\x01\x1f\x7f"), LOG_STR("bad", "\xff\xfe"),
                         LOG_STR("cut", "ab\xc3"), LOG_STR("overlong", "\xc0\xaf"),
                         LOG_STR("surrogate", "\xed\xa0\x80"),
                         LOG_STR("seps", "\xe2\x80\xa8\xe2\x80\xa9"),
                         LOG_STR("utf8", "h\xc3\xa9llo \xf0\x9f\x98\x80"), LOG_STR("empty", "")));
    REC(CAP, log_info_kv("keys", LOG_STR("k\"ey", "1"), LOG_STR("\xff", "2"), LOG_STR("", "3"),
                         LOG_STR("a\nb", "4"), LOG_STR("back\\slash", "5"),
                         LOG_STR("\xc3\xa9t\xc3\xa9", "6")));

    /* 0 to 16 fields of every type: captured; 17 and 20: formatted. */
    static char keys[20][8];
    log_field f[20];
    for (int i = 0; i < 20; i++) {
        snprintf(keys[i], sizeof keys[i], "k%d", i);
        switch (i % 5) {
        case 0:
            f[i] = LOG_STR(keys[i], i % 2 ? "odd" : "e\"ven");
            break;
        case 1:
            f[i] = LOG_I64(keys[i], -i * 1000003LL);
            break;
        case 2:
            f[i] = LOG_U64(keys[i], UINT64_MAX - (uint64_t)i);
            break;
        case 3:
            f[i] = LOG_F64(keys[i], i * 0.25);
            break;
        default:
            f[i] = LOG_BOOL(keys[i], i % 2);
            break;
        }
    }
    for (size_t n = 0; n <= 16; n++)
        REC(CAP, info_n("counted", 7, f, n));
    REC(TXT, info_n("seventeen", 9, f, 17));
    REC(TXT, info_n("twenty", 6, f, 20));
    REC(CAP, info_n("no array", 8, NULL, 3)); /* fields NULL: none */

    /* The same shape again and again (the line caches), values varying:
     * some need escaping, some change type under the same key. */
    for (int i = 0; i < 12; i++)
        REC(CAP, log_info_kv("repeated", LOG_I64("n", i),
                             LOG_STR("s", i % 3 ? "v" : "needs \"escaping\"\n"),
                             LOG_F64("f", i % 4 == 3 ? NAN : i * 0.5), LOG_BOOL("b", i & 1)));
    REC(CAP, log_info_kv("retyped", LOG_I64("x", 1)));
    REC(CAP, log_info_kv("retyped", LOG_STR("x", "1")));
    REC(CAP, log_info_kv("retyped", LOG_F64("x", INFINITY)));
    REC(CAP, log_info_kv("retyped", LOG_BOOL("x", false)));
    REC(CAP, log_info_kv("retyped", LOG_U64("x", UINT64_MAX)));
}

/* Fields named as the members the preset writes, and as the context's. */
static void shapes_collisions(void)
{
    ctx_var *order = var("order_id", CTX_VAR_LOGGED);
    ctx_var *msg = var("msg", CTX_VAR_LOGGED); /* a context name that collides */
    CTX_REQUEST("req-2", "user-2", "tenant-2");
    CTX_SCOPE(CTX_TRACE_ID, "4bf92f3577b34da6a3ce929d0e0e4736");
    CTX_SCOPE(CTX_SPAN_ID, "00f067aa0ba902b7");
    CTX_SCOPE(CTX_TRACE_FLAGS, "01");
    (void)ctx_set_i64(order, 42);
    REC(CAP, log_info_kv("default's keys", LOG_STR("ts", "a"), LOG_STR("level", "b"),
                         LOG_STR("msg", "c"), LOG_STR("logger", "d")));
    (void)ctx_set(msg, "context msg");
    REC(CAP, log_info_kv("context's keys", LOG_STR("request_id", "e"), LOG_STR("user_id", "f"),
                         LOG_STR("tenant_id", "g"), LOG_I64("order_id", 7),
                         LOG_STR("trace_id", "h"), LOG_STR("span_id", "i"),
                         LOG_STR("ctx.msg", "j"), LOG_STR("msg", "k")));
    REC(CAP, log_info_kv("renames taken", LOG_STR("fields.msg", "l"), LOG_STR("msg", "m"),
                         LOG_STR("fields.msg.2", "n"), LOG_STR("msg", "o")));
    REC(CAP, log_info_kv("ecs's keys", LOG_STR("@timestamp", "p"), LOG_STR("log.level", "q"),
                         LOG_STR("log.logger", "r"), LOG_STR("message", "s"),
                         LOG_STR("ecs.version", "t"), LOG_STR("trace.id", "u"),
                         LOG_STR("span.id", "v")));
    REC(CAP, log_info_kv("otel's keys", LOG_STR("timestamp", "w"), LOG_STR("body", "x"),
                         LOG_STR("attributes", "y"), LOG_STR("severity_text", "z")));
    REC(CAP, log_info_kv("twice", LOG_I64("a", 1), LOG_I64("a", 2), LOG_STR("a", "3")));
}

/* Messages: empty, NULL, around the copy's 4, 8 and 16 bytes, long, over
 * 64 KiB, with NULs (msg_len), cut short by msg_len, rewritten in place. */
static void shapes_messages(void)
{
    CTX_REQUEST("req-3", "user-3", "tenant-3");
    const log_field one[] = {LOG_I64("n", 1)};
    REC(CAP, log_info_kv(""));
    REC(CAP, log_info_kv((const char *)NULL));
    REC(CAP, log_info_kv("escapes \" \\ \n \x01 \x7f bad \xff\xc3 sep \xe2\x80\xa8"));
    static const size_t lens[] = {1, 3, 4, 7, 8, 9, 15, 16, 17, 31, 33, 401, 4095, 70000};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        char *m = pattern_msg(lens[i]);
        /* Longer than the crash handler has room for: formatted. */
        enum way w = lens[i] + 2 > LOG__CAPTURE_BYTES ? TXT : CAP;
        REC(w, info_n(m, lens[i], one, 1));
        REC(w, info_n(m, lens[i], NULL, 0));
        free(m);
    }
    /* Message and a value of 70,000 bytes each: too big to capture (half
     * the queue), then too big for the queue once formatted. */
    char *big = pattern_msg(70000);
    REC(DIRECT, log_info_kv(big, LOG_STR("v", big)));
    REC(CAP, log_info_kv("after the big one", LOG_I64("n", 2)));
    free(big);

    REC(CAP, info_n("a\0b", 3, one, 1));
    REC(CAP, info_n("\0", 1, NULL, 0));
    REC(CAP, info_n("x\0y", 3, one, 1));
    REC(CAP, info_n("x\0z", 3, one, 1)); /* differs after the NUL only */
    REC(CAP, info_n("nul at \0 the middle of 24", 24, one, 1));
    REC(CAP, info_n("trailing\0", 9, one, 1));
    REC(CAP, info_n("trailing", 8, one, 1));
    REC(CAP, info_n("cut short here", 3, one, 1));

    /* The same buffers rewritten between calls. */
    char msg[32], key[16], val[16];
    for (int i = 0; i < 6; i++) {
        snprintf(msg, sizeof msg, "in place %c", 'A' + i % 2);
        snprintf(key, sizeof key, "key%c", 'a' + i % 3);
        snprintf(val, sizeof val, "val%d", i);
        const log_field f[] = {LOG_STR(key, val), LOG_I64("i", i)};
        REC(CAP, info_n(msg, strlen(msg), f, 2));
    }
}

/* Levels, loggers, the records formatted on the calling thread (in the
 * thread's order among the captured ones), and the context changing:
 * sets, scopes, ctx_run, ctx_attach, more than 16 logged variables. */
static void log_in_run(void *arg)
{
    (void)arg;
    REC(CAP, log_info_kv("in ctx_run", LOG_I64("n", 1)));
    CTX_SCOPE(CTX_USER_ID, "user-in-run");
    REC(CAP, log_info_kv("in ctx_run, user set", LOG_I64("n", 2)));
}

static void shapes_mixed(void)
{
    CTX_REQUEST("req-4", "user-4", "tenant-4");
    ctx_var *session = var("session", CTX_VAR_LOGGED);
    ctx_var *hidden = var("hidden", 0);
    (void)ctx_set(session, "s\"e\\s\n\x01\xff");
    (void)ctx_set(hidden, "never logged");
    REC(CAP, log_info_kv("session", LOG_I64("n", 1)));

    REC(NONE, log_debug_kv("below the level", LOG_I64("n", 2)));
    REC(CAP, log_warn_kv("warn", LOG_I64("n", 3)));
    REC(CAP, log_error_kv("error", LOG_I64("n", 4)));
    REC(CAP, log_fatal_kv("fatal", LOG_I64("n", 5)));
    {
        LOG_CONTEXT_LEVEL(LOG_LEVEL_DEBUG);
        REC(CAP, log_debug_kv("debug for this context", LOG_I64("n", 6)));
    }

    log_logger *db = log_get("app.db");
    assert_non_null(db);
    REC(CAP, log_info_kv_to(db, "named", LOG_I64("n", 7)));
    log_logger *child = LOG_CHILD(db, LOG_STR("component", "pool"), LOG_I64("shard", 3));
    assert_non_null(child);
    REC(TXT, log_info_kv_to(child, "bound fields", LOG_I64("n", 8)));
    REC(CAP, log_info_kv("between", LOG_I64("n", 9)));
    REC(TXT, log_info_kv_to(child, "bound collides", LOG_STR("component", "other")));
    log_logger_free(child);

    json_t *j = json_pack("{s:i, s:[s, f, b], s:{s:n}}", "a", 1, "b", "x", 2.5, 1, "c", "d");
    assert_non_null(j);
    REC(TXT, log_info_kv("json", LOG_JSON("j", j), LOG_I64("after", 1)));
    json_decref(j);
    REC(CAP, log_info_kv("between", LOG_I64("n", 10)));
    REC(TXT, log_info("printf %d %s", 42, "x"));
    REC(CAP, log_info_kv("between", LOG_I64("n", 11)));
    REC(TXT, log_info_kvf(("kvf %d", 43), LOG_I64("n", 12)));
    REC(TXT, log_info_kv("null string", LOG_STR("s", NULL)));
    REC(TXT, log_info_kv("null key", LOG_STR(NULL, "v")));
    REC(CAP, log_info_kv("between", LOG_I64("n", 13)));

    /* The context, changing between records. */
    ctx_snapshot *first = ctx_copy();
    (void)ctx_set(CTX_USER_ID, "user-4b");
    REC(CAP, log_info_kv("user changed", LOG_I64("n", 14)));
    ctx_snapshot *second = ctx_copy();
    {
        CTX_SCOPE(CTX_TENANT_ID, "tenant-inner");
        REC(CAP, log_info_kv("scope", LOG_I64("n", 15)));
        {
            CTX_SCOPE(CTX_TENANT_ID, "tenant-innermost");
            REC(CAP, log_info_kv("nested scope", LOG_I64("n", 16)));
            ctx_run(first, log_in_run, NULL);
            REC(CAP, log_info_kv("after ctx_run", LOG_I64("n", 17)));
        }
        REC(CAP, log_info_kv("scope again", LOG_I64("n", 18)));
    }
    for (int i = 0; i < 6; i++) {
        ctx_token t = ctx_attach(i % 2 ? second : first);
        REC(CAP, log_info_kv("attached", LOG_I64("i", i)));
        assert_int_equal(ctx_detach(t), 0);
    }
    (void)ctx_set(session, NULL);
    REC(CAP, log_info_kv("session unset", LOG_I64("n", 19)));
    ctx_release(first);
    ctx_release(second);

    /* A context of more than 16 logged variables. */
    for (int i = 0; i < 20; i++) {
        char name[16];
        snprintf(name, sizeof name, "v%02d", i);
        ctx_var *v = var(name, CTX_VAR_LOGGED);
        if (i % 2)
            (void)ctx_set_i64(v, -i);
        else
            (void)ctx_set(v, name);
    }
    REC(CAP, log_info_kv("twenty variables", LOG_I64("n", 20)));
    REC(CAP, log_info_kv("twenty variables again", LOG_I64("n", 21)));
}

static void test_capture__fields_same_as_sync(void **state)
{
    (void)state;
    same_both_ways(shapes_fields, NULL, true);
}

static void test_capture__collisions_same_as_sync(void **state)
{
    (void)state;
    same_both_ways(shapes_collisions, NULL, true);
}

static void test_capture__messages_same_as_sync(void **state)
{
    (void)state;
    same_both_ways(shapes_messages, NULL, true);
}

static void test_capture__mixed_same_as_sync(void **state)
{
    (void)state;
    same_both_ways(shapes_mixed, NULL, true);
}

/* ECS is captured too; OTel and the call site are formatted on the
 * calling thread, and must still be the same. */
static void test_capture__presets_same_as_sync(void **state)
{
    (void)state;
    const struct {
        log_json_options jo;
        bool captures;
    } presets[] = {
        {{.preset = LOG_JSON_ECS}, true},
        {{.preset = LOG_JSON_OTEL}, false},
        {{.preset = LOG_JSON_DEFAULT, .callsite = true}, false},
        {{.preset = LOG_JSON_ECS, .callsite = true}, false},
    };
    void (*all[])(void) = {shapes_fields, shapes_collisions, shapes_messages, shapes_mixed};
    for (size_t p = 0; p < sizeof presets / sizeof presets[0]; p++)
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
            same_both_ways(all[i], &presets[p].jo, presets[p].captures);
}

/* What the call passed may change once it returns: message, key, value
 * and context are copies. */
static void test_capture__copies_what_the_call_passed(void **state)
{
    (void)state;
    log_sink *s = use_file(path_async, NULL);
    assert_int_equal(log__async_set(true, QUEUE, false), 0);
    capturing = root_captures();
    assert_true(capturing);
    enum { N = 100 };
    /* The writer cannot write until all of them are queued and changed. */
    hold_writer(s);
    char value[16], key[16], msg[16];
    for (int i = 0; i < N; i++) {
        snprintf(value, sizeof value, "v%d", i);
        snprintf(key, sizeof key, "k%d", i % 3);
        snprintf(msg, sizeof msg, "m%d", i % 2);
        ctx_token t = ctx_set(CTX_REQUEST_ID, value);
        const log_field f[] = {LOG_STR(key, value)};
        uint64_t h0 = ring_head();
        info_n(msg, strlen(msg), f, 1);
        check_way(h0, CAP, __LINE__);
        assert_int_equal(ctx_reset(t), 0);
        memset(value, 'X', sizeof value - 1);
        memset(key, 'Y', sizeof key - 1);
        memset(msg, 'Z', sizeof msg - 1);
        value[sizeof value - 1] = key[sizeof key - 1] = msg[sizeof msg - 1] = '\0';
    }
    release_writer();
    assert_int_equal(log_flush(), 0);
    file_lines *fl = read_lines(path_async, 0);
    assert_int_equal(fl->n, N);
    for (int i = 0; i < N; i++) {
        char want[16], k[16], m[16];
        snprintf(want, sizeof want, "v%d", i);
        snprintf(k, sizeof k, "k%d", i % 3);
        snprintf(m, sizeof m, "m%d", i % 2);
        assert_string_equal(str_of(fl->rec[i], "msg"), m);
        assert_string_equal(str_of(fl->rec[i], "request_id"), want);
        assert_string_equal(str_of(fl->rec[i], k), want);
        assert_int_equal(json_object_size(fl->rec[i]), 6); /* ts level logger msg request_id k */
    }
    lines_free(fl);
}

/* ---- 2. timestamps ----------------------------------------------------------------- */

#define TS_THREADS 2
/* A microsecond; under the sanitizers, whose runtime sits between the
 * writer's two readings of a pair, 50. */
#define TS_SLACK_NS (SLOW > 1 ? 50000 : 1000)

struct ts_run {
    int t;
    long n;
    int64_t *before, *after; /* CLOCK_REALTIME around each call, ns */
    int not_captured;        /* calls that did not capture */
};

static void *ts_logger(void *arg)
{
    struct ts_run *tr = arg;
    char user[32];
    snprintf(user, sizeof user, "ts-user-%d", tr->t);
    CTX_REQUEST(NULL, user, "ts-tenant");
    for (long i = 0; i < tr->n; i++) {
        /* Short pauses, and some long enough for the writer to go to sleep
         * (it polls for 20 ms, then sleeps up to 100 ms): records then wait
         * for it to wake up, and its first pair of readings after some 95
         * ms of sleep is taken cold. */
        if (i > 0 && i % (tr->n / 5) == 0)
            sleep_ms(115);
        else if (i % 250 == 125)
            sleep_ms(2 + 3 * tr->t);
        if (i % 300 == 299)
            (void)ctx_set(CTX_USER_ID, user); /* a new snapshot: a context entry */
        uint64_t h0 = ring_head();
        tr->before[i] = realtime_ns();
        log_info_kv("timed", LOG_I64("t", tr->t), LOG_I64("i", i));
        tr->after[i] = realtime_ns();
        struct queued q = queued_since(h0);
        tr->not_captured += q.captured != 1;
    }
    return NULL;
}

static void test_capture__timestamps_within_the_call(void **state)
{
    (void)state;
    use_file(path_async, NULL);
    assert_int_equal(log__async_set(true, QUEUE, false), 0);
    long n = scaled(3000);
    struct ts_run runs[TS_THREADS];
    pthread_t th[TS_THREADS];
    for (int t = 0; t < TS_THREADS; t++) {
        runs[t] = (struct ts_run){.t = t, .n = n};
        runs[t].before = calloc((size_t)n, sizeof(int64_t));
        runs[t].after = calloc((size_t)n, sizeof(int64_t));
        assert_true(runs[t].before && runs[t].after);
        assert_int_equal(pthread_create(&th[t], NULL, ts_logger, &runs[t]), 0);
    }
    for (int t = 0; t < TS_THREADS; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);
    assert_int_equal(log_flush(), 0);

    file_lines *fl = read_lines(path_async, 0);
    assert_int_equal(fl->n, (size_t)(TS_THREADS * n));
    long next[TS_THREADS] = {0};
    int64_t last[TS_THREADS] = {0};
    long outside = 0, backwards = 0;
    int64_t worst = 0;
    char first_bad[256] = "";
    for (size_t k = 0; k < fl->n; k++) {
        size_t at;
        int64_t us = line_ts(fl->at[k], fl->len[k], fl->rec[k], &at);
        int t = (int)int_of(fl->rec[k], "t");
        long i = (long)int_of(fl->rec[k], "i");
        assert_true(t >= 0 && t < TS_THREADS);
        assert_int_equal(i, next[t]);
        next[t]++;
        /* A microsecond of slack each way; the stamp is the call's. */
        int64_t ns = us * 1000, lo = runs[t].before[i] - TS_SLACK_NS,
                hi = runs[t].after[i] + TS_SLACK_NS;
        if (ns < lo || ns > hi) {
            int64_t off = ns < lo ? lo - ns : ns - hi;
            if (off > worst)
                worst = off;
            if (!outside++)
                snprintf(first_bad, sizeof first_bad,
                         "thread %d record %ld: ts %.27s is %lld ns %s the call [%lld, %lld]", t,
                         i, fl->at[k] + at, (long long)(ns < lo ? lo - ns : ns - hi) + 1000,
                         ns < lo ? "before" : "after", (long long)runs[t].before[i],
                         (long long)runs[t].after[i]);
        }
        if (us < last[t])
            backwards++;
        last[t] = us;
    }
    for (int t = 0; t < TS_THREADS; t++) {
        assert_int_equal(runs[t].not_captured, 0);
        free(runs[t].before);
        free(runs[t].after);
    }
    lines_free(fl);
    if (outside || backwards)
        fail_msg("%ld of %ld timestamps outside their call (worst by %lld ns past the slack; "
                 "first: %s), %ld earlier than the thread's record before",
                 outside, (long)(TS_THREADS * n), (long long)worst, first_bad, backwards);
}

/* The writer's placing of a stamp (log/async/async_clock.h) as it does it
 * on its first pass after a sleep, without the rest of the writer: this
 * thread plays the writer (pairs of readings each 50 us, then a 100 ms
 * sleep, then a pair and the conversion), another thread takes a stamp
 * just before the pass, between two readings of CLOCK_REALTIME. It must
 * be placed within a microsecond, as async_clock.h says ("exact to the
 * pairs' own reading, well under a microsecond"). Async mode is off and
 * nothing is buffered, so the real writer sleeps and takes no pair. */
static atomic_int cold_go;
static uint64_t cold_stamp;
static int64_t cold_before, cold_after;

static void *stamp_when_told(void *arg)
{
    (void)arg;
    while (atomic_load(&cold_go) == 0)
        (void)realtime_ns(); /* this thread's clock readings stay warm */
    cold_before = realtime_ns();
    cold_stamp = log__stamp_now();
    cold_after = realtime_ns();
    atomic_store(&cold_go, 2);
    return NULL;
}

static void test_capture__clock_first_pass_after_sleep(void **state)
{
    (void)state;
#if defined(__SANITIZE_THREAD__)
    skip(); /* the pairs are the writer's alone: racy when the test plays it */
#endif
    assert_int_equal(log__async_set(false, QUEUE, false), 0);
    assert_int_equal(log_flush(), 0);
    (void)log__stamp_now(); /* decided */
    int64_t worst = 0;
    char msg[160] = "";
    for (int round = 0; round < 8; round++) {
        for (int i = 0; i < 100; i++) {
            log__stamp_sync();
            sleep_us(50);
        }
        atomic_store(&cold_go, 0);
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, stamp_when_told, NULL), 0);
        sleep_ms(100);
        atomic_store(&cold_go, 1);
        while (atomic_load(&cold_go) != 2)
            ;
        log__stamp_sync();
        struct timespec t;
        log__stamp_time(cold_stamp, &t);
        assert_int_equal(pthread_join(th, NULL), 0);
        int64_t ns = (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
        int64_t off = ns < cold_before ? cold_before - ns : ns > cold_after ? ns - cold_after : 0;
        if (off > worst) {
            worst = off;
            snprintf(msg, sizeof msg, "round %d: placed %lld ns %s [before, after] (%lld ns wide)",
                     round, (long long)off, ns < cold_before ? "before" : "after",
                     (long long)(cold_after - cold_before));
        }
    }
    if (getenv("CTXLOG_TEST_VERBOSE"))
        print_message("worst: %lld ns (%s)\n", (long long)worst, msg);
    if (worst > 1000)
        fail_msg("a stamp taken just before the writer's first pass after a sleep is placed "
                 "more than 1 us off: worst %s",
                 msg);
}

/* ---- 3. the context of each record --------------------------------------------------- */

#define REQS 5
static const char *const req_ids[REQS] = {"req-a", "req-b", "req-c", "req-d", "req-e"};
static const char *const user_ids[REQS] = {"user-a", "user-b", "user-c", "user-d", "user-e"};

/* The record's request_id, user_id and tenant_id are exactly these (NULL:
 * absent). */
static void has_ids(json_t *rec, const char *rid, const char *uid, const char *tid)
{
    const char *want[3] = {rid, uid, tid};
    const char *keys[3] = {"request_id", "user_id", "tenant_id"};
    for (int i = 0; i < 3; i++) {
        const char *got = str_of(rec, keys[i]);
        if (!want[i] ? json_object_get(rec, keys[i]) != NULL : !got || strcmp(got, want[i]) != 0)
            fail_msg("record \"%s\" %lld: %s is %s, not %s", str_of(rec, "msg"),
                     json_is_integer(json_object_get(rec, "i")) ? int_of(rec, "i") : -1LL,
                     keys[i], got ? got : "absent", want[i] ? want[i] : "absent");
    }
}

static void log_under_snapshot(void *arg)
{
    log_info_kv("under ctx_run", LOG_I64("i", *(const int *)arg));
}

static void test_capture__each_record_its_context(void **state)
{
    (void)state;
    use_file(path_async, NULL);
    assert_int_equal(log__async_set(true, QUEUE, false), 0);
    capturing = root_captures();
    assert_true(capturing);
    enum { N = 60 };
    ctx_snapshot *snaps[REQS];
    for (int r = 0; r < REQS; r++) {
        ctx_token a = ctx_set(CTX_REQUEST_ID, req_ids[r]);
        ctx_token b = ctx_set(CTX_USER_ID, user_ids[r]);
        snaps[r] = ctx_copy();
        assert_int_equal(ctx_reset(b), 0);
        assert_int_equal(ctx_reset(a), 0);
    }
    /* ctx_set before each record, switching requests each time. */
    for (int i = 0; i < N; i++) {
        ctx_token a = ctx_set(CTX_REQUEST_ID, req_ids[i % REQS]);
        ctx_token b = ctx_set(CTX_USER_ID, user_ids[(i * 3) % REQS]);
        uint64_t h0 = ring_head();
        log_info_kv("set", LOG_I64("i", i));
        struct queued q = queued_since(h0);
        assert_int_equal(q.captured, 1);
        assert_int_equal(q.contexts, 1); /* a new snapshot each time */
        assert_int_equal(ctx_reset(b), 0);
        assert_int_equal(ctx_reset(a), 0);
    }
    /* The same snapshots again and again, attached and run in. */
    for (int i = 0; i < N; i++) {
        ctx_token t = ctx_attach(snaps[i % REQS]);
        log_info_kv("attached", LOG_I64("i", i));
        assert_int_equal(ctx_detach(t), 0);
        ctx_run(snaps[(i + 2) % REQS], log_under_snapshot, &i);
    }
    /* Scopes nested in a request, and a ctx_run inside them. */
    {
        CTX_REQUEST("req-outer", "user-outer", "tenant-outer");
        log_info_kv("outer", LOG_I64("i", 0));
        {
            CTX_SCOPE(CTX_USER_ID, "user-inner");
            log_info_kv("inner", LOG_I64("i", 0));
            {
                CTX_SCOPE(CTX_TENANT_ID, NULL);
                log_info_kv("innermost", LOG_I64("i", 0));
                int i = -1;
                ctx_run(snaps[0], log_under_snapshot, &i);
                log_info_kv("innermost", LOG_I64("i", 1));
            }
            log_info_kv("inner", LOG_I64("i", 1));
        }
        log_info_kv("outer", LOG_I64("i", 1));
    }
    log_info_kv("no context", LOG_I64("i", 0));
    for (int r = 0; r < REQS; r++)
        ctx_release(snaps[r]);
    assert_int_equal(log_flush(), 0);

    file_lines *fl = read_lines(path_async, 0);
    assert_int_equal(fl->n, 3 * N + 8);
    size_t k = 0;
    for (int i = 0; i < N; i++, k++) {
        assert_string_equal(str_of(fl->rec[k], "msg"), "set");
        assert_int_equal(int_of(fl->rec[k], "i"), i);
        has_ids(fl->rec[k], req_ids[i % REQS], user_ids[(i * 3) % REQS], NULL);
    }
    for (int i = 0; i < N; i++) {
        assert_string_equal(str_of(fl->rec[k], "msg"), "attached");
        assert_int_equal(int_of(fl->rec[k], "i"), i);
        has_ids(fl->rec[k++], req_ids[i % REQS], user_ids[i % REQS], NULL);
        assert_string_equal(str_of(fl->rec[k], "msg"), "under ctx_run");
        assert_int_equal(int_of(fl->rec[k], "i"), i);
        has_ids(fl->rec[k++], req_ids[(i + 2) % REQS], user_ids[(i + 2) % REQS], NULL);
    }
    static const struct {
        const char *msg;
        int i;
        const char *rid, *uid, *tid;
    } tail[] = {
        {"outer", 0, "req-outer", "user-outer", "tenant-outer"},
        {"inner", 0, "req-outer", "user-inner", "tenant-outer"},
        {"innermost", 0, "req-outer", "user-inner", NULL},
        {"under ctx_run", -1, "req-a", "user-a", NULL},
        {"innermost", 1, "req-outer", "user-inner", NULL},
        {"inner", 1, "req-outer", "user-inner", "tenant-outer"},
        {"outer", 1, "req-outer", "user-outer", "tenant-outer"},
        {"no context", 0, NULL, NULL, NULL},
    };
    for (size_t t = 0; t < sizeof tail / sizeof tail[0]; t++, k++) {
        assert_string_equal(str_of(fl->rec[k], "msg"), tail[t].msg);
        assert_int_equal(int_of(fl->rec[k], "i"), tail[t].i);
        has_ids(fl->rec[k], tail[t].rid, tail[t].uid, tail[t].tid);
    }
    assert_int_equal(k, fl->n);
    lines_free(fl);
}

/* A record's context is the one of its call, whatever happens to the
 * context after it (changed, its snapshot released) before it is written. */
static void test_capture__context_changed_after_the_call(void **state)
{
    (void)state;
    log_sink *s = use_file(path_async, NULL);
    assert_int_equal(log__async_set(true, QUEUE, false), 0);
    assert_true(root_captures());
    hold_writer(s); /* nothing is written until it is all done */
    {
        CTX_REQUEST("req-x", "user-old", "tenant-x");
        log_info_kv("first", LOG_I64("i", 0));
        (void)ctx_set(CTX_USER_ID, "user-new");
        log_info_kv("second", LOG_I64("i", 1));
        (void)ctx_set(CTX_USER_ID, "user-newer");
        (void)ctx_set(CTX_REQUEST_ID, "req-y");
    } /* the request's snapshots are released here */
    log_info_kv("third", LOG_I64("i", 2));
    release_writer();
    assert_int_equal(log_flush(), 0);
    file_lines *fl = read_lines(path_async, 0);
    assert_int_equal(fl->n, 3);
    has_ids(fl->rec[0], "req-x", "user-old", "tenant-x");
    has_ids(fl->rec[1], "req-x", "user-new", "tenant-x");
    has_ids(fl->rec[2], NULL, NULL, NULL);
    assert_string_equal(str_of(fl->rec[0], "msg"), "first");
    assert_string_equal(str_of(fl->rec[1], "msg"), "second");
    assert_string_equal(str_of(fl->rec[2], "msg"), "third");
    lines_free(fl);
}

/* Several threads switching among shared snapshots (the same serials in
 * several rings) and contexts of their own. */
#define CTX_THREADS 4

struct ctx_thread {
    int t;
    long n;
    ctx_snapshot **snaps;
};

static void *switch_contexts(void *arg)
{
    const struct ctx_thread *ct = arg;
    char own[32];
    snprintf(own, sizeof own, "own-%d", ct->t);
    for (long i = 0; i < ct->n; i++) {
        int r = (int)((i + ct->t) % REQS);
        if (i % 3 == 2) {
            ctx_token a = ctx_set(CTX_REQUEST_ID, own);
            log_info_kv("own", LOG_I64("t", ct->t), LOG_I64("i", i), LOG_I64("r", -1));
            (void)ctx_reset(a);
        } else {
            ctx_token a = ctx_attach(ct->snaps[r]);
            log_info_kv("shared", LOG_I64("t", ct->t), LOG_I64("i", i), LOG_I64("r", r));
            (void)ctx_detach(a);
        }
    }
    return NULL;
}

static void test_capture__threads_switching_contexts(void **state)
{
    (void)state;
    use_file(path_async, NULL);
    assert_int_equal(log__async_set(true, QUEUE, false), 0);
    ctx_snapshot *snaps[REQS];
    for (int r = 0; r < REQS; r++) {
        ctx_token a = ctx_set(CTX_REQUEST_ID, req_ids[r]);
        ctx_token b = ctx_set(CTX_USER_ID, user_ids[r]);
        snaps[r] = ctx_copy();
        (void)ctx_reset(b);
        (void)ctx_reset(a);
    }
    long n = scaled(5000);
    pthread_t th[CTX_THREADS];
    struct ctx_thread args[CTX_THREADS];
    for (int t = 0; t < CTX_THREADS; t++) {
        args[t] = (struct ctx_thread){t, n, snaps};
        assert_int_equal(pthread_create(&th[t], NULL, switch_contexts, &args[t]), 0);
    }
    for (int t = 0; t < CTX_THREADS; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);
    assert_int_equal(log_flush(), 0);
    for (int r = 0; r < REQS; r++)
        ctx_release(snaps[r]);

    file_lines *fl = read_lines(path_async, 0);
    assert_int_equal(fl->n, (size_t)(CTX_THREADS * n));
    long next[CTX_THREADS] = {0};
    for (size_t k = 0; k < fl->n; k++) {
        json_t *rec = fl->rec[k];
        int t = (int)int_of(rec, "t");
        long i = (long)int_of(rec, "i");
        int r = (int)int_of(rec, "r");
        assert_true(t >= 0 && t < CTX_THREADS);
        assert_int_equal(i, next[t]++);
        if (r < 0) {
            char own[32];
            snprintf(own, sizeof own, "own-%d", t);
            has_ids(rec, own, NULL, NULL);
        } else {
            assert_int_equal(r, (i + t) % REQS);
            has_ids(rec, req_ids[r], user_ids[r], NULL);
        }
    }
    lines_free(fl);
}

/* ---- 4. overflow: drop counts exactly, block loses nothing --------------------------- */

#define Q_THREADS 4

struct q_thread {
    int t;
    long n;
};

/* Records numbered per thread, under a request of the thread's own that
 * changes every 50 records. */
static void *log_numbered(void *arg)
{
    const struct q_thread *q = arg;
    char rid[32], uid[32];
    snprintf(uid, sizeof uid, "q-user-%d", q->t);
    for (long i = 0; i < q->n; i++) {
        if (i % 50 == 0) {
            snprintf(rid, sizeof rid, "q-%d-%ld", q->t, i / 50);
            (void)ctx_set(CTX_REQUEST_ID, rid);
            (void)ctx_set(CTX_USER_ID, uid);
        }
        log_info_kv("numbered", LOG_I64("t", q->t), LOG_I64("seq", i), LOG_STR("pad", "0123456789"));
    }
    return NULL;
}

static void run_numbered(long n)
{
    pthread_t th[Q_THREADS];
    struct q_thread args[Q_THREADS];
    for (int t = 0; t < Q_THREADS; t++) {
        args[t] = (struct q_thread){t, n};
        assert_int_equal(pthread_create(&th[t], NULL, log_numbered, &args[t]), 0);
    }
    for (int t = 0; t < Q_THREADS; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);
}

struct numbered_check {
    long records, seen[Q_THREADS], last[Q_THREADS];
    uint64_t reported;
    long reports;
};

/* Each thread's records in its order (gaps allowed: dropped), each with the
 * thread's request of its number; the writer's drop reports summed. */
static void check_numbered(const char *path, struct numbered_check *c)
{
    memset(c, 0, sizeof *c);
    for (int t = 0; t < Q_THREADS; t++)
        c->last[t] = -1;
    file_lines *fl = read_lines(path, 0);
    for (size_t k = 0; k < fl->n; k++) {
        json_t *rec = fl->rec[k];
        if (strcmp(str_of(rec, "logger"), "ctxlog") == 0) {
            long long d = int_of(rec, "dropped");
            assert_true(d > 0);
            c->reported += (uint64_t)d;
            c->reports++;
            continue;
        }
        int t = (int)int_of(rec, "t");
        long seq = (long)int_of(rec, "seq");
        assert_true(t >= 0 && t < Q_THREADS);
        if (seq <= c->last[t])
            fail_msg("thread %d: record %ld after %ld", t, seq, c->last[t]);
        c->last[t] = seq;
        c->seen[t]++;
        c->records++;
        char rid[32], uid[32];
        snprintf(rid, sizeof rid, "q-%d-%ld", t, seq / 50);
        snprintf(uid, sizeof uid, "q-user-%d", t);
        has_ids(rec, rid, uid, NULL);
        assert_string_equal(str_of(rec, "pad"), "0123456789");
    }
    lines_free(fl);
}

static void test_capture__drop_counts_exactly(void **state)
{
    (void)state;
    log_sink *s = use_file(path_async, NULL);
    assert_int_equal(log__async_set(true, 4096, true), 0);
    assert_true(root_captures());
    uint64_t before = log_dropped_count();
    long n = scaled(4000);
    hold_writer(s); /* the queues overflow */
    run_numbered(n);
    release_writer();
    assert_int_equal(log_flush(), 0);
    uint64_t dropped = log_dropped_count() - before;

    struct numbered_check c;
    check_numbered(path_async, &c);
    assert_true(c.reported > 0);
    assert_true(c.records > 0);
    if ((uint64_t)c.records + c.reported != (uint64_t)(Q_THREADS * n))
        fail_msg("%ld written + %llu reported dropped != %ld logged", c.records,
                 (unsigned long long)c.reported, (long)(Q_THREADS * n));
    assert_int_equal(dropped, c.reported);
}

struct holder {
    log_sink *s;
    atomic_int held;
};

/* Hold the sink's lock for 100 ms: the writer waits, the queues fill. */
static void *hold_sink(void *arg)
{
    struct holder *h = arg;
    pthread_mutex_lock(&h->s->lock);
    atomic_store(&h->held, 1);
    sleep_ms(100);
    pthread_mutex_unlock(&h->s->lock);
    return NULL;
}

static void test_capture__block_loses_nothing(void **state)
{
    (void)state;
    log_sink *s = use_file(path_async, NULL);
    assert_int_equal(log__async_set(true, 4096, false), 0);
    assert_true(root_captures());
    uint64_t before = log_dropped_count();
    long n = scaled(6000);
    /* Held up at first, so that the threads wait for room. */
    struct holder h = {s, 0};
    pthread_t holder;
    assert_int_equal(pthread_create(&holder, NULL, hold_sink, &h), 0);
    while (!atomic_load(&h.held))
        sleep_ms(1);
    run_numbered(n);
    assert_int_equal(pthread_join(holder, NULL), 0);
    assert_int_equal(log_flush(), 0);
    struct numbered_check c;
    check_numbered(path_async, &c);
    for (int t = 0; t < Q_THREADS; t++)
        assert_int_equal(c.seen[t], n);
    assert_int_equal(c.records, Q_THREADS * n);
    assert_int_equal(c.reported, 0);
    assert_int_equal(log_dropped_count(), before);
}

/* ---- 5. fork ----------------------------------------------------------------------------- */

struct fork_run {
    int child_status;
    pid_t pid;
    long before;
    bool error_first;
};

/* The child: records under the context it inherited, one of its own, a
 * request of its own, and the inherited one again; then log_flush and out.
 * With error_first, an error first (which wakes, and so starts, the
 * child's writer). */
static void child_logs(bool error_first)
{
    if (error_first)
        log_error_kv("child error first", LOG_I64("i", 0));
    for (int i = 0; i < 3; i++)
        log_info_kv("child inherited", LOG_I64("i", i));
    (void)ctx_set(CTX_USER_ID, "child-user");
    for (int i = 0; i < 3; i++)
        log_info_kv("child changed", LOG_I64("i", i));
    {
        CTX_REQUEST("child-req", "child-user-2", "child-tenant");
        for (int i = 0; i < 3; i++)
            log_info_kv("child request", LOG_I64("i", i));
    }
    for (int i = 0; i < 3; i++)
        log_info_kv("child after", LOG_I64("i", i));
    _exit(log_flush() == 0 ? 0 : 9);
}

/* A thread that logs, changes its context, logs once more and forks at
 * once, its records still queued (most runs). */
static void *fork_from_thread(void *arg)
{
    struct fork_run *fr = arg;
    CTX_REQUEST("parent-req", "parent-user", "parent-tenant");
    /* At least 200 records, and as many more as bring this thread's queue
     * just past a 4 KiB mark: the child's records then cross none (a
     * record that crosses one, or an error, wakes the writer). */
    long n = 0;
    while (n < 200 || (atomic_load(&log__my_ring->head) & 4095) >= 512)
        log_info_kv("parent before", LOG_I64("i", n++));
    fr->before = n;
    (void)ctx_set(CTX_USER_ID, "parent-user-2");
    log_info_kv("parent changed", LOG_I64("i", 0));
    fr->pid = fork();
    if (fr->pid == 0)
        child_logs(fr->error_first);
    if (fr->pid > 0)
        (void)waitpid(fr->pid, &fr->child_status, 0);
    for (int i = 0; i < 3; i++)
        log_info_kv("parent after", LOG_I64("i", i));
    return NULL;
}

static void fork_child_context(bool error_first)
{
    use_file(path_async, NULL);
    assert_int_equal(log__async_set(true, QUEUE, false), 0);
    assert_true(root_captures());
    struct fork_run fr = {.before = 0, .error_first = error_first};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, fork_from_thread, &fr), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_true(fr.pid > 0);
    assert_true(WIFEXITED(fr.child_status));
    assert_int_equal(WEXITSTATUS(fr.child_status), 0);
    assert_int_equal(log_flush(), 0);

    const struct {
        const char *msg;
        int count;
        const char *rid, *uid, *tid;
    } want[] = {
        {"parent before", (int)fr.before, "parent-req", "parent-user", "parent-tenant"},
        {"parent changed", 1, "parent-req", "parent-user-2", "parent-tenant"},
        {"parent after", 3, "parent-req", "parent-user-2", "parent-tenant"},
        {"child error first", error_first, "parent-req", "parent-user-2", "parent-tenant"},
        {"child inherited", 3, "parent-req", "parent-user-2", "parent-tenant"},
        {"child changed", 3, "parent-req", "child-user", "parent-tenant"},
        {"child request", 3, "child-req", "child-user-2", "child-tenant"},
        {"child after", 3, "parent-req", "child-user", "parent-tenant"},
    };
    enum { KINDS = sizeof want / sizeof want[0] };
    int seen[KINDS] = {0};
    file_lines *fl = read_lines(path_async, 0);
    for (size_t k = 0; k < fl->n; k++) {
        const char *msg = str_of(fl->rec[k], "msg");
        size_t w = 0;
        while (w < KINDS && strcmp(want[w].msg, msg) != 0)
            w++;
        if (w == KINDS)
            fail_msg("unexpected record \"%s\"", msg);
        assert_int_equal(int_of(fl->rec[k], "i"), seen[w]); /* each once, in order */
        seen[w]++;
        has_ids(fl->rec[k], want[w].rid, want[w].uid, want[w].tid);
    }
    lines_free(fl);
    char bad[512] = "";
    for (size_t w = 0; w < KINDS; w++)
        if (seen[w] != want[w].count)
            snprintf(bad + strlen(bad), sizeof bad - strlen(bad), " \"%s\": %d of %d;",
                     want[w].msg, seen[w], want[w].count);
    if (bad[0])
        fail_msg("records written (child exited %d after log_flush() == 0):%s",
                 WEXITSTATUS(fr.child_status), bad);
}

/* A child that logs a few records (under 4 KiB, none urgent) and calls
 * log_flush(): they reach the file, each with the child's context. */
static void test_capture__fork_child_context(void **state)
{
    (void)state;
    fork_child_context(false);
}

/* The same, the child's writer started by an error first: the context of
 * each of the child's records (the parent's last context entry may not have
 * been taken by the parent's writer when it forked). */
static void test_capture__fork_child_context_writer_started(void **state)
{
    (void)state;
    fork_child_context(true);
}

/* ---- 6. the crash handler --------------------------------------------------------------- */

/*
 * Each crash runs in a fresh image of this program (fork, then exec of
 * this program with --crash-child), so that it starts as a process does:
 * nothing of the other tests' async mode (the clock's pairs, the writer)
 * is inherited, and cmocka's signal handlers are not installed. The child
 * holds its sink's lock, so that the writer cannot write: the handler must.
 */
struct crash_plan {
    int sig;
    long big;     /* a captured record of a message this long (0: none) */
    int ctx_vars; /* then a context of this many logged variables more (0: none) */
    int heap;     /* crash in free(): glibc's abort on a double free, its arena locked */
};

#define CRASH_RECORDS 44 /* i = 0..43; 41 and 42 with `big`, 43 with `ctx_vars` */

static struct crash_plan crash_plan_now;
/* This program (argv[0] made absolute: /proc/self/exe is valgrind's own
 * under valgrind). */
static char self_path[4096] = "/proc/self/exe";
/* CLOCK_REALTIME around each call (ns), saved by the child for the parent. */
static int64_t crash_before[CRASH_RECORDS], crash_after[CRASH_RECORDS];

#define TIMED(i, ...)                                                              \
    do {                                                                           \
        crash_before[i] = realtime_ns();                                           \
        __VA_ARGS__;                                                               \
        crash_after[i] = realtime_ns();                                            \
    } while (0)

/* The child's records, on a thread: two requests in turn, a context change,
 * records formatted on the thread among the captured ones. */
static void *crash_logger(void *arg)
{
    (void)arg;
    const struct crash_plan *p = &crash_plan_now;
    ctx_snapshot *a, *b;
    {
        CTX_REQUEST("crash-a", "user-a", "tenant-a");
        a = ctx_copy();
    }
    {
        CTX_REQUEST("crash-b", "user-b", "tenant-b");
        b = ctx_copy();
    }
    for (int i = 0; i < 40; i++) {
        ctx_token t = ctx_attach(i % 2 ? b : a);
        if (i % 10 == 5)
            TIMED(i, log_info("formatted %d", i));
        else
            TIMED(i, log_info_kv("captured", LOG_I64("i", i)));
        (void)ctx_detach(t);
    }
    ctx_token t = ctx_attach(a);
    (void)ctx_set(CTX_USER_ID, "user-a2");
    TIMED(40, log_info_kv("changed", LOG_I64("i", 40)));
    if (p->big) {
        char *m = pattern_msg((size_t)p->big);
        TIMED(41, log_info_kv(m, LOG_I64("i", 41)));
        free(m);
        TIMED(42, log_info_kv("after the big one", LOG_I64("i", 42)));
    }
    if (p->ctx_vars) {
        for (int v = 0; v < p->ctx_vars; v++) {
            char name[16];
            snprintf(name, sizeof name, "crash%02d", v);
            (void)ctx_set(ctx_var_new(name, CTX_VAR_LOGGED), name);
        }
        TIMED(43, log_info_kv("many variables", LOG_I64("i", 43)));
    }
    (void)ctx_detach(t);
    ctx_release(a);
    ctx_release(b);
    return NULL;
}

/* The child's whole life (its own process image). */
static void crash_child(const struct crash_plan *p, const char *path)
{
    /* The previous handler of SIGSEGV, which the crash handler passes the
     * signal on to: the default action (not a sanitizer's). */
    signal(SIGSEGV, SIG_DFL);
    log_sink *s = NULL;
    if (log_sink_file(&s, path, NULL) != 0 || log_logger_clear_sinks(NULL) != 0 ||
        log_logger_add_sink(NULL, s) != 0 || log__async_set(true, 1 << 20, false) != 0 ||
        log_crash_handler_install() != 0 || !root_captures())
        _exit(3);
    pthread_mutex_lock(&s->lock); /* the writer cannot write */
    crash_plan_now = *p;
    pthread_t th;
    if (pthread_create(&th, NULL, crash_logger, NULL) != 0 || pthread_join(th, NULL) != 0)
        _exit(4);
    char times[4096];
    snprintf(times, sizeof times, "%s.times", path);
    FILE *f = fopen(times, "wb");
    if (!f || fwrite(crash_before, sizeof crash_before, 1, f) != 1 ||
        fwrite(crash_after, sizeof crash_after, 1, f) != 1 || fclose(f) != 0)
        _exit(6);
    if (p->heap) {
        /* Too big for the thread cache: freed under the arena's lock, where
         * glibc finds the second free and aborts, the lock still held. */
        char *volatile block = malloc(4000);
        char *volatile guard = malloc(100);
        free(block);
        free(block);
        (void)guard;
    }
    if (p->sig == SIGABRT)
        abort();
    raise(p->sig);
    _exit(5);
}

/* The crash handler wrote each record once, in order, with its context;
 * with check_times, each at the time of its call (`slack_us` either way)
 * and in order. */
static void crash_and_check(const struct crash_plan *p, bool check_times, long slack_us)
{
    char *times = ts_temp_path("capture-async.log.times");
    ts_unlink(path_async);
    ts_unlink(times);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char sig[16], big[32], vars[16];
        snprintf(sig, sizeof sig, "%d", p->sig);
        snprintf(big, sizeof big, "%ld", p->big);
        snprintf(vars, sizeof vars, "%d", p->ctx_vars);
        execl(self_path, "test_async_capture", "--crash-child", sig, big, vars,
              p->heap ? "1" : "0", path_async, (char *)NULL);
        _exit(127);
    }
    /* A handler that blocks (a lock the crash left taken) hangs the child:
     * 3 s (it takes milliseconds), then it is killed and the test fails. */
    int st = 0;
    pid_t got = 0;
    for (int w = 0; w < 300 * SLOW && got == 0; w++) {
        got = waitpid(pid, &st, WNOHANG);
        if (got == 0)
            sleep_ms(10);
    }
    if (got == 0) {
        kill(pid, SIGKILL);
        (void)waitpid(pid, &st, 0);
        size_t n = ts_count_lines(path_async);
        fail_msg("the crashed child hung in the crash handler for %d s (killed); %zu of its "
                 "records were written",
                 3 * SLOW, n);
    }
    assert_int_equal(got, pid);
    if (!WIFSIGNALED(st) || WTERMSIG(st) != p->sig)
        fail_msg("child status %#x, not killed by signal %d", st, p->sig);
    size_t tlen = 0;
    char *tb = ts_read_file(times, &tlen);
    assert_non_null(tb);
    assert_int_equal(tlen, sizeof crash_before + sizeof crash_after);
    memcpy(crash_before, tb, sizeof crash_before);
    memcpy(crash_after, tb + sizeof crash_before, sizeof crash_after);
    free(tb);
    ts_unlink(times);
    free(times);

    file_lines *fl = read_lines(path_async, 0);
    size_t k = 0;
    int64_t last = 0;
    for (int i = 0; i < CRASH_RECORDS; i++) {
        if ((i == 41 || i == 42) && !p->big)
            continue;
        if (i == 43 && !p->ctx_vars)
            continue;
        if (k >= fl->n)
            fail_msg("%zu records written by the crash handler; record %d is missing", fl->n, i);
        json_t *rec = fl->rec[k];
        const char *msg = str_of(rec, "msg");
        assert_non_null(msg);
        if (i < 40 && i % 10 == 5) {
            char want_msg[32];
            snprintf(want_msg, sizeof want_msg, "formatted %d", i);
            if (strcmp(msg, want_msg) != 0)
                fail_msg("record %d is \"%.40s\"", i, msg);
        } else {
            if (!json_is_integer(json_object_get(rec, "i")) || int_of(rec, "i") != i)
                fail_msg("record %d is missing: \"%.40s\" is in its place", i, msg);
            if (i == 41)
                assert_int_equal(strlen(msg), p->big);
        }
        if (i < 40)
            has_ids(rec, i % 2 ? "crash-b" : "crash-a", i % 2 ? "user-b" : "user-a",
                    i % 2 ? "tenant-b" : "tenant-a");
        else
            has_ids(rec, "crash-a", "user-a2", "tenant-a");
        for (int v = 0; i == 43 && v < p->ctx_vars; v++) {
            char name[16];
            snprintf(name, sizeof name, "crash%02d", v);
            assert_string_equal(str_of(rec, name), name);
        }
        size_t at;
        int64_t us = line_ts(fl->at[k], fl->len[k], rec, &at);
        if (check_times) {
            int64_t lo = crash_before[i] - slack_us * 1000, hi = crash_after[i] + slack_us * 1000;
            if (us * 1000 < lo || us * 1000 > hi)
                fail_msg("record %d (%s): ts %.27s is %lld us %s its call", i,
                         i < 40 && i % 10 == 5 ? "formatted" : "captured", fl->at[k] + at,
                         (long long)((us * 1000 < lo ? crash_before[i] - us * 1000
                                                     : us * 1000 - crash_after[i]) /
                                     1000),
                         us * 1000 < lo ? "before" : "after");
            if (us < last)
                fail_msg("record %d: ts %.27s is %lld us before the record written before it", i,
                         fl->at[k] + at, (long long)(last - us));
        }
        last = us;
        k++;
    }
    if (k != fl->n)
        fail_msg("%zu records written, %zu expected", fl->n, k);
    lines_free(fl);
}

static void test_capture__crash_writes_captured_records(void **state)
{
    (void)state;
    const struct crash_plan segv = {SIGSEGV, 0, 0, 0}, abrt = {SIGABRT, 0, 0, 0};
    crash_and_check(&segv, false, 0);
    crash_and_check(&abrt, false, 0);
}

/* The times the handler gives captured records are those of their calls,
 * as the writer's are (100 us of slack: it has its own pair of readings and
 * the counter's rate), in the thread's order among the formatted records'. */
static void test_capture__crash_timestamps(void **state)
{
    (void)state;
    const struct crash_plan segv = {SIGSEGV, 0, 0, 0};
    crash_and_check(&segv, true, 100);
}

/* A captured record longer than 64 KiB (the child's queue is 1 MiB) is
 * written by the crash handler as the writer would. */
static void test_capture__crash_writes_a_long_record(void **state)
{
    (void)state;
    const struct crash_plan p = {SIGSEGV, 100 * 1000, 0, 0};
    crash_and_check(&p, false, 0);
}

/* A context of more logged variables than 64, queued after the writer
 * took its last context entry. */
static void test_capture__crash_writes_a_big_context(void **state)
{
    (void)state;
    const struct crash_plan p = {SIGABRT, 0, 70, 0};
    crash_and_check(&p, false, 0);
}

/* The crash is glibc's abort on a double free, its arena's lock held: the
 * handler must write the queued records with nothing that allocates or
 * takes a lock (write(2) only, README), and the process must die. */
static void test_capture__crash_inside_malloc(void **state)
{
    (void)state;
#if !defined(__GLIBC__) || defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
    skip(); /* another allocator: no such abort, or its own report */
#endif
    const struct crash_plan p = {SIGABRT, 0, 0, 1};
    crash_and_check(&p, false, 0);
}

/* ---- 7. threads that exit with records queued -------------------------------------------- */

#define EXIT_THREADS 8

struct exit_thread {
    int wave, t;
};

static void *log_and_exit(void *arg)
{
    const struct exit_thread *e = arg;
    /* First under the context it was started with (the creator's: the
     * same snapshot for every thread of the wave), then its own, then the
     * first again: the ring's last context entry is the creator's. */
    log_info_kv("inherited", LOG_I64("w", e->wave), LOG_I64("t", e->t), LOG_I64("i", 0));
    {
        char rid[32], uid[32];
        snprintf(rid, sizeof rid, "exit-%d-%d", e->wave, e->t);
        snprintf(uid, sizeof uid, "exit-user-%d", e->t);
        CTX_REQUEST(rid, uid, "exit-tenant");
        for (int i = 1; i <= 5; i++)
            log_info_kv("own", LOG_I64("w", e->wave), LOG_I64("t", e->t), LOG_I64("i", i));
        (void)ctx_set(CTX_USER_ID, "exit-user-changed");
        log_info_kv("changed", LOG_I64("w", e->wave), LOG_I64("t", e->t), LOG_I64("i", 6));
    }
    log_info_kv("back", LOG_I64("w", e->wave), LOG_I64("t", e->t), LOG_I64("i", 7));
    return NULL;
}

static size_t count_rings(void)
{
    size_t n = 0;
    for (log__ring *r = log__rings_first(); r; r = atomic_load(&r->next))
        n++;
    return n;
}

static void run_wave(int wave)
{
    pthread_t th[EXIT_THREADS];
    struct exit_thread args[EXIT_THREADS];
    for (int t = 0; t < EXIT_THREADS; t++) {
        args[t] = (struct exit_thread){wave, t};
        assert_int_equal(ctx_thread_create(&th[t], NULL, log_and_exit, &args[t]), 0);
    }
    for (int t = 0; t < EXIT_THREADS; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);
}

static void test_capture__threads_gone_with_records_queued(void **state)
{
    (void)state;
    log_sink *s = use_file(path_async, NULL);
    assert_int_equal(log__async_set(true, QUEUE, false), 0);
    assert_true(root_captures());
    CTX_REQUEST("exit-main", "exit-main-user", "exit-main-tenant");
    /* Wave 0 exits with everything queued (the writer is held up). */
    hold_writer(s);
    run_wave(0);
    release_writer();
    assert_int_equal(log_flush(), 0);
    sleep_ms(20); /* the writer's next pass frees the drained rings */
    /* Wave 1 takes the rings wave 0 left (their last context entries
     * were wave 0's), starting under the same snapshot as wave 0. */
    size_t rings_before = count_rings();
    run_wave(1);
    assert_true(count_rings() < rings_before + EXIT_THREADS); /* some were taken again */
    /* Wave 2 exits with its records queued, and only log_flush writes
     * them. */
    hold_writer(s);
    run_wave(2);
    release_writer();
    assert_int_equal(log_flush(), 0);

    file_lines *fl = read_lines(path_async, 0);
    assert_int_equal(fl->n, 3 * EXIT_THREADS * 8);
    int next[3][EXIT_THREADS] = {{0}};
    for (size_t k = 0; k < fl->n; k++) {
        json_t *rec = fl->rec[k];
        int w = (int)int_of(rec, "w"), t = (int)int_of(rec, "t"), i = (int)int_of(rec, "i");
        assert_true(w >= 0 && w < 3 && t >= 0 && t < EXIT_THREADS);
        assert_int_equal(i, next[w][t]++);
        char rid[32], uid[32];
        snprintf(rid, sizeof rid, "exit-%d-%d", w, t);
        snprintf(uid, sizeof uid, "exit-user-%d", t);
        if (i == 0 || i == 7)
            has_ids(rec, "exit-main", "exit-main-user", "exit-main-tenant");
        else if (i < 6)
            has_ids(rec, rid, uid, "exit-tenant");
        else
            has_ids(rec, rid, "exit-user-changed", "exit-tenant");
    }
    lines_free(fl);
}

/* ---- 8. async mode off and on again ------------------------------------------------------ */

static int toggling; /* the async run of toggle_shapes: switch for real */

static void toggle(bool on)
{
    if (toggling)
        assert_int_equal(log__async_set(on, QUEUE, false), 0);
}

static void toggle_shapes(void)
{
    CTX_REQUEST("tog-1", "tog-user-1", "tog-tenant");
    int seq = 0;
    for (int round = 0; round < 4; round++) {
        toggle(true);
        for (int i = 0; i < 5; i++)
            log_info_kv("on", LOG_I64("seq", seq++), LOG_I64("round", round));
        log_info("formatted %d", seq++);
        (void)ctx_set(CTX_USER_ID, round % 2 ? "tog-user-1" : "tog-user-2");
        log_info_kv("on, changed", LOG_I64("seq", seq++));
        toggle(false);
        for (int i = 0; i < 5; i++)
            log_info_kv("off", LOG_I64("seq", seq++), LOG_I64("round", round));
        /* Changed while off, back to... */
        ctx_token t = ctx_set(CTX_TENANT_ID, "tog-tenant-off");
        log_info_kv("off, changed", LOG_I64("seq", seq++));
        (void)ctx_reset(t);
        if (round == 2) {
            ctx_token r = ctx_set(CTX_REQUEST_ID, "tog-2");
            toggle(true);
            log_info_kv("on, new request", LOG_I64("seq", seq++));
            toggle(false);
            (void)ctx_reset(r);
        }
    }
    toggle(true);
    log_info_kv("on at the end", LOG_I64("seq", seq++));
}

/* Switched on and off between records: the file is the one sync mode
 * writes but for the timestamps, so every record in its place with its
 * context. */
static void test_capture__async_off_and_on_again(void **state)
{
    (void)state;
    struct shapes s = {toggle_shapes};
    assert_int_equal(log__async_set(false, QUEUE, false), 0);
    use_file(path_sync, NULL);
    toggling = 0;
    ctx_run(NULL, run_shapes, &s);
    assert_int_equal(log_flush(), 0);

    use_file(path_async, NULL);
    toggling = 1;
    ctx_run(NULL, run_shapes, &s);
    toggling = 0;
    assert_int_equal(log_flush(), 0);
    assert_int_equal(log__async_set(false, QUEUE, false), 0);
    compare_files(4 * 13 + 1 + 1);
    file_lines *fl = read_lines(path_async, 0);
    for (size_t k = 0; k < fl->n; k++)
        if (json_object_get(fl->rec[k], "seq"))
            assert_int_equal(int_of(fl->rec[k], "seq"), (long long)k);
    lines_free(fl);
}

/* Threads log on, as fast as they can, while the mode is switched under
 * them every 1,500 records or so: each thread's records once, in its
 * order. (Switched off, a thread's queue may still hold records when its
 * next ones are written the sync way.) */
#define TOGGLE_THREADS 2

struct toggle_thread {
    int t;
    long most; /* records at most */
    atomic_int *stop;
    atomic_long logged;
};

static void *log_until_stopped(void *arg)
{
    struct toggle_thread *tt = arg;
    char rid[32];
    snprintf(rid, sizeof rid, "toggle-%d", tt->t);
    CTX_REQUEST(rid, "toggle-user", "toggle-tenant");
    long i = 0;
    while (!atomic_load_explicit(tt->stop, memory_order_relaxed) && i < tt->most) {
        log_info_kv("toggled", LOG_I64("t", tt->t), LOG_I64("seq", i));
        atomic_store_explicit(&tt->logged, ++i, memory_order_relaxed);
    }
    return NULL;
}

static void test_capture__async_switched_while_threads_log(void **state)
{
    (void)state;
    use_file(path_async, NULL);
    atomic_int stop = 0;
    pthread_t th[TOGGLE_THREADS];
    struct toggle_thread args[TOGGLE_THREADS];
    for (int t = 0; t < TOGGLE_THREADS; t++) {
        args[t].t = t;
        args[t].most = scaled(60000);
        args[t].stop = &stop;
        atomic_init(&args[t].logged, 0);
        assert_int_equal(pthread_create(&th[t], NULL, log_until_stopped, &args[t]), 0);
    }
    int switches = 40 / SLOW;
    for (int k = 0; k < switches; k++) {
        long target = (k + 1) * 1500L;
        for (int w = 0; w < 100000; w++) {
            long total = 0, most = 0;
            for (int t = 0; t < TOGGLE_THREADS; t++) {
                total += atomic_load(&args[t].logged);
                most += args[t].most;
            }
            if (total >= target || total >= most)
                break;
            sleep_us(20);
        }
        assert_int_equal(log__async_set(k % 2 == 0, QUEUE, false), 0);
    }
    atomic_store(&stop, 1);
    for (int t = 0; t < TOGGLE_THREADS; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);
    assert_int_equal(log__async_set(false, QUEUE, false), 0);
    assert_int_equal(log_flush(), 0);

    file_lines *fl = read_lines(path_async, 0);
    long next[TOGGLE_THREADS] = {0}, total = 0;
    for (size_t k = 0; k < fl->n; k++) {
        int t = (int)int_of(fl->rec[k], "t");
        long seq = (long)int_of(fl->rec[k], "seq");
        assert_true(t >= 0 && t < TOGGLE_THREADS);
        if (seq != next[t]) {
            size_t due_at = 0;
            for (size_t m = 0; m < fl->n && !due_at; m++)
                if (int_of(fl->rec[m], "t") == t && int_of(fl->rec[m], "seq") == next[t])
                    due_at = m + 1;
            fail_msg("thread %d: record %ld at line %zu where %ld was due; that one is %s%zu "
                     "(of %zu lines)",
                     t, seq, k + 1, next[t], due_at ? "at line " : "missing", due_at, fl->n);
        }
        next[t]++;
        char rid[32];
        snprintf(rid, sizeof rid, "toggle-%d", t);
        has_ids(fl->rec[k], rid, "toggle-user", "toggle-tenant");
    }
    for (int t = 0; t < TOGGLE_THREADS; t++) {
        assert_int_equal(next[t], atomic_load(&args[t].logged));
        total += atomic_load(&args[t].logged);
    }
    assert_int_equal((long)fl->n, total);
    lines_free(fl);
}

/* ---- an error goes out without log_flush ---------------------------------------------------- */

static size_t lines_within_5s(const char *path, size_t want)
{
    for (int i = 0; i < 500 && ts_count_lines(path) < want; i++)
        sleep_ms(10);
    return ts_count_lines(path);
}

static void test_capture__written_unflushed(void **state)
{
    (void)state;
    use_file(path_async, NULL);
    assert_int_equal(log__async_set(true, QUEUE, false), 0);
    capturing = root_captures();
    assert_true(capturing);
    CTX_REQUEST("unflushed", "u", "t");
    sleep_ms(200); /* the writer goes to sleep */
    uint64_t h0 = ring_head();
    log_error_kv("an error", LOG_I64("i", 0));
    check_way(h0, CAP, __LINE__);
    int64_t t0 = realtime_ns();
    assert_int_equal(lines_within_5s(path_async, 1), 1);
    int64_t took = realtime_ns() - t0;
    h0 = ring_head();
    log_info_kv("an info", LOG_I64("i", 1));
    check_way(h0, CAP, __LINE__);
    assert_int_equal(lines_within_5s(path_async, 2), 2);
    file_lines *fl = read_lines(path_async, 0);
    assert_int_equal(fl->n, 2);
    assert_string_equal(str_of(fl->rec[0], "level"), "error");
    assert_string_equal(str_of(fl->rec[0], "msg"), "an error");
    has_ids(fl->rec[0], "unflushed", "u", "t");
    assert_string_equal(str_of(fl->rec[1], "msg"), "an info");
    has_ids(fl->rec[1], "unflushed", "u", "t");
    lines_free(fl);
    /* An error wakes the writer: well under its 100 ms round. */
    if (took > 1000 * 1000000LL)
        fail_msg("the error took %lld ms to reach the file", (long long)(took / 1000000));
}

int main(int argc, char **argv)
{
    if (argc > 0 && !realpath(argv[0], self_path))
        snprintf(self_path, sizeof self_path, "/proc/self/exe");
    if (argc == 7 && strcmp(argv[1], "--crash-child") == 0) {
        const struct crash_plan p = {atoi(argv[2]), atol(argv[3]), atoi(argv[4]), atoi(argv[5])};
        crash_child(&p, argv[6]);
    }
    /* CTXLOG_TEST_FILTER=pattern runs the matching tests alone. */
    if (getenv("CTXLOG_TEST_FILTER"))
        cmocka_set_test_filter(getenv("CTXLOG_TEST_FILTER"));
    unsetenv("CTXLOG_ASYNC");
    unsetenv("CTXLOG_CONFIG");
#define T(name) cmocka_unit_test_setup_teardown(test_capture__##name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(fields_same_as_sync),
        T(collisions_same_as_sync),
        T(messages_same_as_sync),
        T(mixed_same_as_sync),
        T(presets_same_as_sync),
        T(copies_what_the_call_passed),
        T(timestamps_within_the_call),
        T(clock_first_pass_after_sleep),
        T(each_record_its_context),
        T(context_changed_after_the_call),
        T(threads_switching_contexts),
        T(drop_counts_exactly),
        T(block_loses_nothing),
        T(fork_child_context),
        T(fork_child_context_writer_started),
        T(crash_writes_captured_records),
        T(crash_timestamps),
        T(crash_writes_a_long_record),
        T(crash_writes_a_big_context),
        T(crash_inside_malloc),
        T(threads_gone_with_records_queued),
        T(async_off_and_on_again),
        T(async_switched_while_threads_log),
        T(written_unflushed),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
