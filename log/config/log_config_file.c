/* SPDX-License-Identifier: MIT */
/*
 * Configuration from a JSON file: log_config_load().
 *
 * Schema:
 * {
 *   "level": "info",                       // optional: root level (trace debug info warn error fatal off)
 *   "sinks": {                             // optional: named outputs
 *     "<name>": {
 *       "type": "file",                    // required: a kind of log/sinks/sink_kinds.c:
 *                                          //   stdout stderr file journald syslog
 *       ...                                // the kind's own keys, described in its file
 *                                          //   (sink_file.c, sink_syslog.c, ...: log__kind_<type>)
 *       "level": "debug",                  // optional level of the sink
 *       "format": "json" | "console",      // optional, default json (kinds that take a formatter)
 *       "preset": "default" | "ecs" | "otel",   // json only
 *       "callsite": true, "thread_id": true,    // json only, booleans
 *       "color": "auto" | "always" | "never"    // console only
 *     }
 *   },
 *   "loggers": {                           // optional
 *     "root":   {"level": "info", "sinks": ["out"]},
 *     "app.db": {"level": "debug", "sinks": ["dbfile"], "additive": false}
 *   },
 *   "async": {                             // optional: the background writer
 *     "enabled": true,                     // optional boolean, default false
 *     "queue_bytes": 262144,               // optional integer 4096..1 GiB: each logging thread's queue
 *     "overflow": "block" | "drop"         // optional, default block
 *   },
 *   "replay": {                            // optional: what log_context_replay_default() keeps
 *     "level": "debug",                    // required: trace..warn, or off
 *     "max_bytes": 65536                   // optional integer 256..1 GiB, default 65536
 *   },
 *   "sampling": {                          // optional: sampling by request
 *     "ratio": 0.1,                        // required number 0..1
 *     "below": "warn"                      // optional: debug..warn, default warn
 *   },
 *   "limits": {                            // optional: burst limits per call site
 *     "first": 100,                        // optional integer 1..4294967295, default 100
 *     "then_one_in": 1000,                 // optional integer 1..4294967295, default 1000
 *     "interval_ms": 1000,                 // optional integer 1..86400000, default 1000
 *     "exempt": "error"                    // optional level (off: none), default error
 *   }
 * }
 *
 * Details the schema leaves open:
 * - Level names are those of log_level_parse() (case-insensitive, "warning"
 *   too). A logger without "level" inherits its parent's; the root without
 *   one takes the top-level "level", else info; "loggers.root.level" wins
 *   over the top-level "level" when both are given.
 * - A logger without "additive" is additive; "additive" on the root is
 *   rejected (it has no ancestors to stop at). A logger name is dotted with
 *   no empty part; "root" is the root logger.
 * - Without a "root" entry, or with one that has no "sinks" key, the root
 *   writes JSON to stdout (the zero-config default); "sinks": [] means the
 *   root writes nowhere. A sink listed twice for one logger is rejected.
 * - Only sinks some logger lists are opened, so an unused definition creates
 *   no file. Relative paths are relative to the working directory.
 * - "backups" without "max_bytes" (or with 0) is accepted and has no effect.
 * - Without "async", or with "enabled": false, records are written on the
 *   logging thread. CTXLOG_ASYNC in the environment is applied after the
 *   file, so it wins.
 * - "replay", "sampling" and "limits" are part of the configuration the
 *   file replaces: without one, that policy is off after the load (the
 *   replay defaults off, sampling at ratio 1, no limits), whatever code set
 *   before.
 *
 * All or nothing: the file is parsed and checked whole into a plan without
 * touching anything, then every sink the plan uses is created (the only step
 * that can fail for reasons outside the file, an unopenable path), and only
 * when all of that succeeded is the configuration replaced. Error key paths
 * quote a name that contains a dot (or a quote, a backslash, a control
 * character, or is empty): loggers."app.db".level.
 */
#include "log/log_internal.h"
#include "log/config/config_internal.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include <ctxlog/config.h>
#include <ctxlog/policy.h>

#include "log/sinks/sink_kind.h"

#if JSON_INTEGER_IS_LONG_LONG
#define JINT_MAX LLONG_MAX
#else
#define JINT_MAX LONG_MAX
#endif

typedef struct sink_plan {
    const char *name; /* borrowed from the parsed document, like every string here */
    const log__sink_kind *kind;
    void *opts;       /* the kind's options (kind->opts_size bytes), read from its keys */
    bool has_level;
    log_level level;
    bool console; /* else JSON */
    log_json_options json;
    log_color_mode color;
    char *pairs[LOG__SINK_KEYS_MAX]; /* LOG__KEY_PAIRS values, freed with the plan */
    bool used;      /* only sinks some logger lists are opened */
    log_sink *sink; /* our reference, once the whole file is valid */
} sink_plan;

typedef struct logger_plan {
    const char *name;
    bool is_root;
    log_logger *lg; /* resolved before anything is applied */
    bool has_level;
    log_level level;
    bool has_additive;
    bool additive;
    bool has_sinks;
    size_t *sinks; /* indices into plan.sinks */
    size_t nsinks;
} logger_plan;

typedef struct plan {
    const char *file;
    log_config_error *err;
    bool has_level;
    log_level level;
    sink_plan *sinks;
    size_t nsinks;
    logger_plan *loggers;
    size_t nloggers;
    log_sink *fallback; /* the root's stdout sink when the file gives it none */
    bool async;
    size_t queue_bytes;
    bool drop;
    log_level replay_level; /* LOG_LEVEL_OFF: no "replay" */
    size_t replay_bytes;
    double sample_ratio;    /* 1: no "sampling" */
    log_level sample_below;
    bool has_limits;
    log_limits limits;
} plan;

/* Where a value sits: a top-level key (section NULL) or a key of the entry
 * `name` of "sinks" or "loggers". */
typedef struct where {
    const char *section;
    const char *name;
} where;

#define TOP ((where){NULL, NULL})

/* Configurations are replaced one at a time, so two loads cannot interleave
 * their resets and additions. */
static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;

/* A child forked while another thread loads a file must not find the
 * lock held. */
CTX__FORK_MUTEX(CTX__FORK_RANK_LOAD, load_lock)

/* ---- error reporting ------------------------------------------------------------ */

static void append(char *out, size_t cap, size_t *len, const char *s, size_t n)
{
    /* Keep one byte for the NUL; drop what does not fit. */
    while (n > 0 && *len + 1 < cap) {
        out[(*len)++] = *s++;
        n--;
    }
    out[*len] = '\0';
}

/* Append `s` as a double-quoted string with JSON escapes, so that a name or
 * value with a newline in it cannot split the one-line message. Values are
 * cut after `max` bytes (at a character boundary) and marked with "...". */
static void append_quoted(char *out, size_t cap, size_t *len, const char *s, size_t max)
{
    append(out, cap, len, "\"", 1);
    size_t n = strlen(s);
    bool cut = n > max;
    if (cut) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            append(out, cap, len, esc, 2);
        } else if (c < 0x20 || c == 0x7f) {
            int k = c == '\n'   ? snprintf(esc, sizeof esc, "\\n")
                    : c == '\t' ? snprintf(esc, sizeof esc, "\\t")
                    : c == '\r' ? snprintf(esc, sizeof esc, "\\r")
                                : snprintf(esc, sizeof esc, "\\u%04x", c);
            append(out, cap, len, esc, (size_t)k);
        } else {
            append(out, cap, len, (const char *)&s[i], 1);
        }
    }
    if (cut)
        append(out, cap, len, "...", 3);
    append(out, cap, len, "\"", 1);
}

static bool needs_quotes(const char *name)
{
    if (!*name)
        return true;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p == '.' || *p == '"' || *p == '\\' || *p < 0x20 || *p == 0x7f)
            return true;
    return false;
}

/* "level", "sinks.out.path", "loggers.\"app.db\".level", "loggers.app". */
static void key_path(char *out, size_t cap, where w, const char *key)
{
    size_t len = 0;
    out[0] = '\0';
    if (w.section) {
        append(out, cap, &len, w.section, strlen(w.section));
        if (w.name) {
            append(out, cap, &len, ".", 1);
            if (needs_quotes(w.name))
                append_quoted(out, cap, &len, w.name, cap);
            else
                append(out, cap, &len, w.name, strlen(w.name));
        }
        if (key)
            append(out, cap, &len, ".", 1);
    }
    if (key)
        append(out, cap, &len, key, strlen(key));
}

/* A user-supplied value, quoted and cut short, for an error text. */
static const char *shown(char *buf, size_t cap, const char *s)
{
    size_t len = 0;
    buf[0] = '\0';
    append_quoted(buf, cap, &len, s, 48);
    return buf;
}

/* "a, b, c": the names, for a message that lists what is accepted. */
static const char *joined(char *out, size_t cap, const char *const *names, size_t n)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i)
            append(out, cap, &len, ", ", 2);
        append(out, cap, &len, names[i], strlen(names[i]));
    }
    return out;
}

static void copy_field(char *dst, size_t cap, const char *src)
{
    size_t len = 0;
    dst[0] = '\0';
    append(dst, cap, &len, src, strlen(src));
}

/* Fill the caller's error, say the same in one line on stderr, return `rc`. */
static int report(plan *p, int rc, int line, int column, const char *key, const char *fmt, ...)
    CTXLOG_PRINTF(6, 7);
static int report(plan *p, int rc, int line, int column, const char *key, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (n < 0)
        text[0] = '\0';
    /* jansson's texts quote the input near the error, and a path may hold
     * anything: nothing may break the message into two lines. */
    for (char *c = text; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
    char file[512];
    size_t flen = 0;
    file[0] = '\0';
    for (const char *c = p->file; *c; c++) {
        char ch = (unsigned char)*c < 0x20 || *c == 0x7f ? '?' : *c;
        append(file, sizeof file, &flen, &ch, 1);
    }
    if (p->err) {
        log_config_error *e = p->err;
        copy_field(e->file, sizeof e->file, p->file);
        e->line = line > 0 ? line : 0;
        e->column = column > 0 ? column : 0;
        copy_field(e->key, sizeof e->key, key ? key : "");
        copy_field(e->text, sizeof e->text, text);
    }
    char pos[32] = "";
    if (line > 0 && column > 0)
        snprintf(pos, sizeof pos, ":%d:%d", line, column);
    else if (line > 0)
        snprintf(pos, sizeof pos, ":%d", line);
    log__report("%s%s: %s%s%s", file, pos, key && *key ? key : "", key && *key ? ": " : "",
                text);
    return rc;
}

/* A semantic error: no line or column (jansson keeps no positions of values). */
static int reject(plan *p, int rc, where w, const char *key, const char *fmt, ...)
    CTXLOG_PRINTF(5, 6);
static int reject(plan *p, int rc, where w, const char *key, const char *fmt, ...)
{
    char path[512];
    key_path(path, sizeof path, w, key);
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (n < 0)
        text[0] = '\0';
    return report(p, rc, 0, 0, path, "%s", text);
}

/* ---- typed getters: absent is fine (0, output untouched), a wrong type is not ---- */

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number with a fraction";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "a value";
}

static int wrong_type(plan *p, where w, const char *key, const char *expected, const json_t *v)
{
    return reject(p, CTXLOG_ECONFIG, w, key, "must be %s, not %s", expected, type_name(v));
}

static int get_string(plan *p, const json_t *obj, where w, const char *key, const char **out)
{
    const json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    if (!json_is_string(v))
        return wrong_type(p, w, key, "a string", v);
    *out = json_string_value(v);
    return 0;
}

static int get_bool(plan *p, const json_t *obj, where w, const char *key, bool *has, bool *out)
{
    const json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return wrong_type(p, w, key, "true or false", v);
    *out = json_is_true(v);
    if (has)
        *has = true;
    return 0;
}

static int get_int(plan *p, const json_t *obj, where w, const char *key, json_int_t lo,
                   json_int_t hi, const char *range, json_int_t *out)
{
    const json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    if (!json_is_integer(v))
        return wrong_type(p, w, key, "an integer", v);
    json_int_t i = json_integer_value(v);
    if (i < lo || i > hi)
        return reject(p, CTXLOG_ECONFIG, w, key, "must be an integer %s, not %" JSON_INTEGER_FORMAT,
                      range, i);
    *out = i;
    return 0;
}

/* A level name under `key`, between lo and hi. */
static int get_level_at(plan *p, const json_t *obj, where w, const char *key, log_level lo,
                        log_level hi, bool *has, log_level *out)
{
    const char *s = NULL;
    int rc = get_string(p, obj, w, key, &s);
    if (rc || !s)
        return rc;
    char buf[64];
    log_level l;
    if (log_level_parse(s, &l) != 0)
        return reject(p, CTXLOG_ECONFIG, w, key,
                      "%s is not a level (trace, debug, info, warn, error, fatal, off)",
                      shown(buf, sizeof buf, s));
    if (l < lo || l > hi)
        return reject(p, CTXLOG_ECONFIG, w, key, "must be a level from %s to %s, not %s",
                      log_level_name(lo), log_level_name(hi), shown(buf, sizeof buf, s));
    *out = l;
    *has = true;
    return 0;
}

static int get_level(plan *p, const json_t *obj, where w, bool *has, log_level *out)
{
    return get_level_at(p, obj, w, "level", LOG_LEVEL_TRACE, LOG_LEVEL_OFF, has, out);
}

/* One of `names` (exact match); `out` gets its index. */
static int get_enum(plan *p, const json_t *obj, where w, const char *key,
                    const char *const *names, size_t n, const char *what, int *out)
{
    const char *s = NULL;
    int rc = get_string(p, obj, w, key, &s);
    if (rc || !s)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (int)i;
            return 0;
        }
    }
    char list[256], buf[64];
    return reject(p, CTXLOG_ECONFIG, w, key, "%s is not a %s (%s)", shown(buf, sizeof buf, s),
                  what, joined(list, sizeof list, names, n));
}

static int only_keys(plan *p, const json_t *obj, where w, const char *const *allowed, size_t n)
{
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        (void)v;
        size_t i = 0;
        while (i < n && strcmp(key, allowed[i]) != 0)
            i++;
        if (i == n) {
            char list[400]; /* every sink key, when the unknown one is a sink's */
            joined(list, sizeof list, allowed, n);
            char path[512];
            /* The unknown key itself may need quoting, like a name. */
            key_path(path, sizeof path, w, NULL);
            size_t plen = strlen(path);
            if (plen)
                append(path, sizeof path, &plen, ".", 1);
            if (needs_quotes(key))
                append_quoted(path, sizeof path, &plen, key, sizeof path);
            else
                append(path, sizeof path, &plen, key, strlen(key));
            return report(p, CTXLOG_ECONFIG, 0, 0, path, "unknown key (expected %s)", list);
        }
    }
    return 0;
}

/* ---- validation: the document into a plan, without side effects ------------------ */

/* The keys every sink takes, and those of sinks that take a formatter. */
static const char *const common_keys[] = {"type", "level"};
static const char *const formatter_keys[] = {"format", "preset", "callsite", "thread_id", "color"};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *const formats[] = {"json", "console"};
static const char *const presets[] = {"default", "ecs", "otel"};
static const char *const colors[] = {"auto", "always", "never"};

static int not_for(plan *p, const json_t *obj, where w, const char *key, const char *why)
{
    if (json_object_get(obj, key))
        return reject(p, CTXLOG_ECONFIG, w, key, "%s", why);
    return 0;
}

/* Whether `key` is one of `kind`'s own. */
static const log__sink_key *kind_key(const log__sink_kind *kind, const char *key, unsigned *i)
{
    for (*i = 0; kind->keys[*i].name; (*i)++)
        if (strcmp(kind->keys[*i].name, key) == 0)
            return &kind->keys[*i];
    return NULL;
}

static bool in_list(const char *key, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(key, list[i]) == 0)
            return true;
    return false;
}

/* Every key some sink takes, for the message about one no sink takes. */
static int known_sink_keys(plan *p, const json_t *obj, where w)
{
    const char *allowed[64];
    size_t n = 0;
    for (size_t i = 0; i < COUNT(common_keys); i++)
        allowed[n++] = common_keys[i];
    for (size_t i = 0; i < COUNT(formatter_keys); i++)
        allowed[n++] = formatter_keys[i];
    const log__sink_kind *kind;
    for (size_t i = 0; (kind = log__sink_kind_at(i)); i++)
        for (const log__sink_key *key = kind->keys; key->name; key++)
            if (!in_list(key->name, allowed, n) && n < COUNT(allowed))
                allowed[n++] = key->name;
    return only_keys(p, obj, w, allowed, n);
}

static void store_int(void *at, size_t size, long long v)
{
    if (size == sizeof(int)) {
        int i = (int)v;
        memcpy(at, &i, sizeof i);
    } else {
        assert(size == sizeof(long long));
        memcpy(at, &v, sizeof v);
    }
}

/* s percent-encoded where the "k=v,k2=v2" form needs it, at out (NULL:
 * only counted), from *at on. */
static void put_encoded(char *out, size_t *at, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        if (*s == ',' || *s == '=' || *s == '%') {
            if (out) {
                out[*at] = '%';
                out[*at + 1] = hex[(unsigned char)*s >> 4];
                out[*at + 2] = hex[(unsigned char)*s & 15];
            }
            *at += 3;
        } else {
            if (out)
                out[*at] = *s;
            (*at)++;
        }
    }
}

/* An object of strings as "k=v,k2=v2" (LOG__KEY_PAIRS): malloc'd into *out. */
static int get_pairs(plan *p, const json_t *obj, where w, const char *key, char **out)
{
    const json_t *o = json_object_get(obj, key);
    if (!json_is_object(o))
        return wrong_type(p, w, key, "an object of strings", o);
    const char *k;
    const json_t *v;
    size_t n = 1;
    json_object_foreach((json_t *)o, k, v) {
        if (!json_is_string(v) || !*k)
            return reject(p, CTXLOG_ECONFIG, w, key,
                          "must be an object of strings with non-empty names");
        put_encoded(NULL, &n, k);
        put_encoded(NULL, &n, json_string_value(v));
        n += 2;
    }
    char *s = malloc(n);
    if (!s)
        return reject(p, CTXLOG_ENOMEM, w, key, "out of memory");
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

/* One of the kind's keys, given in the file, into its place in `opts`
 * (`owned`: where a value the plan must free goes). */
static int read_key(plan *p, const json_t *obj, where w, const log__sink_key *k, void *opts,
                    char **owned)
{
    char *at = (char *)opts + k->offset;
    int rc;
    switch (k->type) {
    case LOG__KEY_PAIRS:
        if ((rc = get_pairs(p, obj, w, k->name, owned)) != 0)
            return rc;
        memcpy(at, owned, sizeof *owned);
        return 0;
    case LOG__KEY_STRING: {
        const char *v = NULL;
        if ((rc = get_string(p, obj, w, k->name, &v)) != 0)
            return rc;
        if (k->nonempty && !*v)
            return reject(p, CTXLOG_ECONFIG, w, k->name, "must not be empty");
        memcpy(at, &v, sizeof v);
        return 0;
    }
    case LOG__KEY_INT: {
        json_int_t v = 0;
        json_int_t hi = (long long)JINT_MAX < k->max ? JINT_MAX : (json_int_t)k->max;
        if ((rc = get_int(p, obj, w, k->name, (json_int_t)k->min, hi, k->range, &v)) != 0)
            return rc;
        store_int(at, k->size, (long long)v);
        return 0;
    }
    case LOG__KEY_BOOL:
        return get_bool(p, obj, w, k->name, NULL, (bool *)(void *)at);
    case LOG__KEY_ENUM: {
        size_t n = 0;
        while (k->names[n])
            n++;
        int v = 0;
        if ((rc = get_enum(p, obj, w, k->name, k->names, n, k->what, &v)) != 0)
            return rc;
        store_int(at, k->size, (long long)v + k->base);
        return 0;
    }
    }
    return 0;
}

/* The kind's own keys, then what they say together. */
static int plan_kind(plan *p, const json_t *obj, where w, sink_plan *sp)
{
    const log__sink_kind *kind = sp->kind;
    sp->opts = calloc(1, kind->opts_size ? kind->opts_size : 1);
    if (!sp->opts)
        return reject(p, CTXLOG_ENOMEM, w, NULL, "out of memory");
    unsigned given = 0;
    for (unsigned i = 0; kind->keys[i].name; i++) {
        const log__sink_key *k = &kind->keys[i];
        assert(i < LOG__SINK_KEYS_MAX);
        if (!json_object_get(obj, k->name)) {
            if (k->required)
                return reject(p, CTXLOG_ECONFIG, w, k->name, "is required for a %s sink",
                              kind->type);
            continue;
        }
        int rc = read_key(p, obj, w, k, sp->opts, &sp->pairs[i]);
        if (rc)
            return rc;
        given |= 1u << i;
    }
    const char *key = NULL;
    const char *why = kind->check ? kind->check(sp->opts, given, &key) : NULL;
    if (why)
        return reject(p, CTXLOG_ECONFIG, w, key, "%s", why);
    return 0;
}

static int plan_sink(plan *p, const char *name, const json_t *obj, sink_plan *sp)
{
    where w = {"sinks", name};
    sp->name = name;
    if (!json_is_object(obj))
        return reject(p, CTXLOG_ECONFIG, w, NULL, "must be an object, not %s", type_name(obj));
    int rc = known_sink_keys(p, obj, w);
    if (rc)
        return rc;

    size_t nkinds = 0;
    const char *types[16];
    for (const log__sink_kind *k; (k = log__sink_kind_at(nkinds));) {
        assert(nkinds < COUNT(types));
        types[nkinds++] = k->type;
    }
    if (!json_object_get(obj, "type")) {
        char list[160];
        return reject(p, CTXLOG_ECONFIG, w, "type", "is required (%s)",
                      joined(list, sizeof list, types, nkinds));
    }
    int type = 0;
    if ((rc = get_enum(p, obj, w, "type", types, nkinds, "sink type", &type)) != 0)
        return rc;
    sp->kind = log__sink_kind_at((size_t)type);
    /* A key of another kind, or a formatter's for a kind without one. */
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        unsigned i;
        (void)v;
        if (in_list(key, common_keys, COUNT(common_keys)) || kind_key(sp->kind, key, &i) ||
            (sp->kind->formatted && in_list(key, formatter_keys, COUNT(formatter_keys))))
            continue;
        return reject(p, CTXLOG_ECONFIG, w, key, "does not apply to a %s sink", sp->kind->type);
    }
    if ((rc = plan_kind(p, obj, w, sp)) != 0)
        return rc;

    if ((rc = get_level(p, obj, w, &sp->has_level, &sp->level)) != 0)
        return rc;
    if (!sp->kind->formatted)
        return 0;
    int format = 0;
    if ((rc = get_enum(p, obj, w, "format", formats, 2, "format", &format)) != 0)
        return rc;
    sp->console = format == 1;
    if (sp->console) {
        const char *why = "applies to the json format only";
        if ((rc = not_for(p, obj, w, "preset", why)) != 0 ||
            (rc = not_for(p, obj, w, "callsite", why)) != 0 ||
            (rc = not_for(p, obj, w, "thread_id", why)) != 0)
            return rc;
        int color = 0;
        if ((rc = get_enum(p, obj, w, "color", colors, 3, "color mode", &color)) != 0)
            return rc;
        sp->color = color == 1 ? LOG_COLOR_ALWAYS : color == 2 ? LOG_COLOR_NEVER : LOG_COLOR_AUTO;
    } else {
        if ((rc = not_for(p, obj, w, "color", "applies to the console format only")) != 0)
            return rc;
        int preset = 0;
        if ((rc = get_enum(p, obj, w, "preset", presets, 3, "preset", &preset)) != 0)
            return rc;
        sp->json.preset = preset == 1 ? LOG_JSON_ECS : preset == 2 ? LOG_JSON_OTEL : LOG_JSON_DEFAULT;
        if ((rc = get_bool(p, obj, w, "callsite", NULL, &sp->json.callsite)) != 0 ||
            (rc = get_bool(p, obj, w, "thread_id", NULL, &sp->json.thread_id)) != 0)
            return rc;
    }
    return 0;
}

static bool logger_name_ok(const char *name)
{
    /* Dotted, no empty part: "", ".x", "a..b" and "x." name no logger. */
    if (!*name || *name == '.')
        return false;
    for (const char *c = name; *c; c++)
        if (*c == '.' && (c[1] == '.' || c[1] == '\0'))
            return false;
    return true;
}

static int plan_logger(plan *p, const char *name, const json_t *obj, logger_plan *lp)
{
    static const char *const keys[] = {"level", "sinks", "additive"};
    where w = {"loggers", name};
    lp->name = name;
    lp->is_root = strcmp(name, "root") == 0;
    if (!logger_name_ok(name))
        return reject(p, CTXLOG_ECONFIG, w, NULL,
                      "is not a logger name (dotted, no empty part; \"root\" for the root)");
    if (!json_is_object(obj))
        return reject(p, CTXLOG_ECONFIG, w, NULL, "must be an object, not %s", type_name(obj));
    int rc = only_keys(p, obj, w, keys, sizeof keys / sizeof keys[0]);
    if (rc)
        return rc;
    if ((rc = get_level(p, obj, w, &lp->has_level, &lp->level)) != 0)
        return rc;
    if (lp->is_root &&
        (rc = not_for(p, obj, w, "additive", "does not apply to the root logger")) != 0)
        return rc;
    if ((rc = get_bool(p, obj, w, "additive", &lp->has_additive, &lp->additive)) != 0)
        return rc;

    const json_t *list = json_object_get(obj, "sinks");
    if (!list)
        return 0;
    if (!json_is_array(list))
        return wrong_type(p, w, "sinks", "an array of sink names", list);
    lp->has_sinks = true;
    lp->sinks = calloc(json_array_size(list) + 1, sizeof *lp->sinks);
    if (!lp->sinks)
        return reject(p, CTXLOG_ENOMEM, w, "sinks", "out of memory");
    size_t i;
    const json_t *item;
    json_array_foreach(list, i, item) {
        if (!json_is_string(item))
            return reject(p, CTXLOG_ECONFIG, w, "sinks", "must be an array of sink names, not of %s",
                          type_name(item));
        const char *sname = json_string_value(item);
        char buf[64];
        size_t k = 0;
        while (k < p->nsinks && strcmp(p->sinks[k].name, sname) != 0)
            k++;
        if (k == p->nsinks)
            return reject(p, CTXLOG_ECONFIG, w, "sinks", "sink %s is not defined in \"sinks\"",
                          shown(buf, sizeof buf, sname));
        for (size_t j = 0; j < lp->nsinks; j++)
            if (lp->sinks[j] == k)
                return reject(p, CTXLOG_ECONFIG, w, "sinks", "sink %s is listed twice",
                              shown(buf, sizeof buf, sname));
        lp->sinks[lp->nsinks++] = k;
        p->sinks[k].used = true;
    }
    return 0;
}

static const char *const overflows[] = {"block", "drop"};

static int plan_async(plan *p, const json_t *obj)
{
    static const char *const keys[] = {"enabled", "queue_bytes", "overflow"};
    where w = {"async", NULL};
    if (!json_is_object(obj))
        return wrong_type(p, TOP, "async", "an object", obj);
    int rc = only_keys(p, obj, w, keys, sizeof keys / sizeof keys[0]);
    json_int_t bytes = 0;
    int overflow = 0;
    if (rc || (rc = get_bool(p, obj, w, "enabled", NULL, &p->async)) != 0 ||
        (rc = get_int(p, obj, w, "queue_bytes", 4096, 1 << 30, "from 4096 to 1073741824",
                      &bytes)) != 0 ||
        (rc = get_enum(p, obj, w, "overflow", overflows, 2, "overflow policy", &overflow)) != 0)
        return rc;
    p->queue_bytes = (size_t)bytes;
    p->drop = overflow == 1;
    return 0;
}

static int plan_replay(plan *p, const json_t *obj)
{
    static const char *const keys[] = {"level", "max_bytes"};
    where w = {"replay", NULL};
    if (!json_is_object(obj))
        return wrong_type(p, TOP, "replay", "an object", obj);
    int rc = only_keys(p, obj, w, keys, sizeof keys / sizeof keys[0]);
    if (rc)
        return rc;
    if (!json_object_get(obj, "level"))
        return reject(p, CTXLOG_ECONFIG, w, "level", "is required (trace, debug, info, warn, off)");
    bool has = false;
    json_int_t bytes = 65536;
    if ((rc = get_level(p, obj, w, &has, &p->replay_level)) != 0 ||
        (rc = get_int(p, obj, w, "max_bytes", 256, 1 << 30, "from 256 to 1073741824", &bytes)) !=
            0)
        return rc;
    if (p->replay_level > LOG_LEVEL_WARN && p->replay_level != LOG_LEVEL_OFF)
        return reject(p, CTXLOG_ECONFIG, w, "level",
                      "must be trace, debug, info, warn or off, not %s",
                      log_level_name(p->replay_level));
    p->replay_bytes = (size_t)bytes;
    return 0;
}

static int plan_sampling(plan *p, const json_t *obj)
{
    static const char *const keys[] = {"ratio", "below"};
    where w = {"sampling", NULL};
    if (!json_is_object(obj))
        return wrong_type(p, TOP, "sampling", "an object", obj);
    int rc = only_keys(p, obj, w, keys, sizeof keys / sizeof keys[0]);
    if (rc)
        return rc;
    const json_t *ratio = json_object_get(obj, "ratio");
    if (!ratio)
        return reject(p, CTXLOG_ECONFIG, w, "ratio", "is required (a number from 0 to 1)");
    if (!json_is_number(ratio))
        return wrong_type(p, w, "ratio", "a number from 0 to 1", ratio);
    double r = json_number_value(ratio);
    if (!(r >= 0.0 && r <= 1.0))
        return reject(p, CTXLOG_ECONFIG, w, "ratio", "must be a number from 0 to 1, not %g", r);
    bool has = false;
    p->sample_ratio = r;
    return get_level_at(p, obj, w, "below", LOG_LEVEL_DEBUG, LOG_LEVEL_WARN, &has,
                        &p->sample_below);
}

static int plan_limits(plan *p, const json_t *obj)
{
    static const char *const keys[] = {"first", "then_one_in", "interval_ms", "exempt"};
    where w = {"limits", NULL};
    if (!json_is_object(obj))
        return wrong_type(p, TOP, "limits", "an object", obj);
    int rc = only_keys(p, obj, w, keys, sizeof keys / sizeof keys[0]);
    if (rc)
        return rc;
    json_int_t first = 100, m = 1000, ms = 1000;
    bool has = false;
    p->limits = (log_limits)LOG_LIMITS_INIT;
    if ((rc = get_int(p, obj, w, "first", 1, UINT32_MAX, "from 1 to 4294967295", &first)) != 0 ||
        (rc = get_int(p, obj, w, "then_one_in", 1, UINT32_MAX, "from 1 to 4294967295", &m)) !=
            0 ||
        (rc = get_int(p, obj, w, "interval_ms", 1, 86400000, "from 1 to 86400000", &ms)) != 0 ||
        (rc = get_level_at(p, obj, w, "exempt", LOG_LEVEL_TRACE, LOG_LEVEL_OFF, &has,
                           &p->limits.exempt)) != 0)
        return rc;
    p->limits.first = (uint32_t)first;
    p->limits.then_one_in = (uint32_t)m;
    p->limits.interval_ns = (uint64_t)ms * 1000000u;
    p->has_limits = true;
    return 0;
}

static int plan_document(plan *p, const json_t *doc)
{
    static const char *const keys[] = {"level",  "sinks",    "loggers",
                                       "async",  "replay",   "sampling", "limits"};
    if (!json_is_object(doc))
        return report(p, CTXLOG_ECONFIG, 0, 0, "", "the top level must be an object, not %s",
                      type_name(doc));
    int rc = only_keys(p, doc, TOP, keys, sizeof keys / sizeof keys[0]);
    if (rc)
        return rc;
    if ((rc = get_level(p, doc, TOP, &p->has_level, &p->level)) != 0)
        return rc;

    const json_t *sinks = json_object_get(doc, "sinks");
    if (sinks && !json_is_object(sinks))
        return wrong_type(p, TOP, "sinks", "an object", sinks);
    if (sinks && json_object_size(sinks) > 0) {
        p->sinks = calloc(json_object_size(sinks), sizeof *p->sinks);
        if (!p->sinks)
            return reject(p, CTXLOG_ENOMEM, TOP, "sinks", "out of memory");
        const char *name;
        const json_t *v;
        json_object_foreach((json_t *)sinks, name, v) {
            if ((rc = plan_sink(p, name, v, &p->sinks[p->nsinks++])) != 0)
                return rc;
        }
    }

    const json_t *async = json_object_get(doc, "async");
    if (async && (rc = plan_async(p, async)) != 0)
        return rc;
    const json_t *replay = json_object_get(doc, "replay");
    if (replay && (rc = plan_replay(p, replay)) != 0)
        return rc;
    const json_t *sampling = json_object_get(doc, "sampling");
    if (sampling && (rc = plan_sampling(p, sampling)) != 0)
        return rc;
    const json_t *limits = json_object_get(doc, "limits");
    if (limits && (rc = plan_limits(p, limits)) != 0)
        return rc;

    const json_t *loggers = json_object_get(doc, "loggers");
    if (loggers && !json_is_object(loggers))
        return wrong_type(p, TOP, "loggers", "an object", loggers);
    if (loggers && json_object_size(loggers) > 0) {
        p->loggers = calloc(json_object_size(loggers), sizeof *p->loggers);
        if (!p->loggers)
            return reject(p, CTXLOG_ENOMEM, TOP, "loggers", "out of memory");
        const char *name;
        const json_t *v;
        json_object_foreach((json_t *)loggers, name, v) {
            if ((rc = plan_logger(p, name, v, &p->loggers[p->nloggers++])) != 0)
                return rc;
        }
    }
    return 0;
}

/* ---- creation: every object the plan needs, before anything is replaced ---------- */

static int create_sink(plan *p, sink_plan *sp)
{
    where w = {"sinks", sp->name};
    log__sink_why why = {0};
    int rc = sp->kind->make(sp->opts, &sp->sink, &why);
    if (rc && why.what) {
        char buf[96];
        return reject(p, CTXLOG_EIO, w, why.key, "%s %s: %s", why.what,
                      shown(buf, sizeof buf, why.value), strerror(why.err));
    }
    if (rc == 0 && sp->has_level)
        rc = log_sink_set_level(sp->sink, sp->level);
    if (rc == 0 && sp->kind->formatted) {
        log_formatter *f =
            sp->console ? log_formatter_console(sp->color) : log_formatter_json(&sp->json);
        rc = f ? log_sink_set_formatter(sp->sink, f) : CTXLOG_ENOMEM;
        log_formatter_release(f); /* the sink holds its own reference */
    }
    if (rc)
        return reject(p, rc, w, NULL, "cannot create the sink: %s", ctxlog_strerror(rc));
    return 0;
}

static bool root_needs_default(const plan *p)
{
    for (size_t i = 0; i < p->nloggers; i++)
        if (p->loggers[i].is_root)
            return !p->loggers[i].has_sinks;
    return true;
}

static int create_all(plan *p)
{
    for (size_t i = 0; i < p->nsinks; i++) {
        if (!p->sinks[i].used)
            continue;
        int rc = create_sink(p, &p->sinks[i]);
        if (rc)
            return rc;
    }
    if (root_needs_default(p)) {
        p->fallback = log_sink_stdout();
        if (!p->fallback)
            return reject(p, CTXLOG_ENOMEM, (where){"loggers", "root"}, "sinks", "out of memory");
    }
    /* log_get() creates loggers for good, so only once the file is known good. */
    for (size_t i = 0; i < p->nloggers; i++) {
        logger_plan *lp = &p->loggers[i];
        lp->lg = log_get(lp->name);
        if (!lp->lg)
            return reject(p, CTXLOG_ENOMEM, (where){"loggers", lp->name}, NULL, "out of memory");
    }
    return 0;
}

/* ---- apply ---------------------------------------------------------------------- */

static int apply(plan *p)
{
    log_logger *root = log_get("root");
    if (!root)
        return reject(p, CTXLOG_ENOMEM, TOP, NULL, "out of memory");
    log_level root_level = p->has_level ? p->level : LOG_LEVEL_INFO;
    size_t total = 0;
    for (size_t i = 0; i < p->nloggers; i++) {
        if (p->loggers[i].is_root && p->loggers[i].has_level)
            root_level = p->loggers[i].level;
        total += p->loggers[i].nsinks;
    }
    /* The whole configuration is handed over at once and published as one
     * switch (log__loggers_replace): applied call by call, every record
     * logged between a reset and the sinks' addition would find a root
     * without sinks and be lost, uncounted. The fallback is one more entry
     * for the root. */
    log__logger_conf *confs = calloc(p->nloggers + 1, sizeof *confs);
    log_sink **sinks = calloc(total + 1, sizeof *sinks);
    if (!confs || !sinks) {
        free(confs);
        free(sinks);
        return reject(p, CTXLOG_ENOMEM, TOP, NULL, "out of memory");
    }
    size_t n = 0, used = 0;
    for (size_t i = 0; i < p->nloggers; i++) {
        const logger_plan *lp = &p->loggers[i];
        log__logger_conf *c = &confs[n++];
        c->lg = lp->lg;
        c->has_level = lp->has_level && !lp->is_root; /* the root's is root_level */
        c->level = lp->level;
        c->has_additive = lp->has_additive;
        c->additive = lp->additive;
        c->sinks = sinks + used;
        c->nsinks = lp->nsinks;
        for (size_t k = 0; k < lp->nsinks; k++)
            sinks[used++] = p->sinks[lp->sinks[k]].sink;
    }
    if (p->fallback) {
        sinks[used] = p->fallback;
        confs[n++] = (log__logger_conf){.lg = root, .sinks = sinks + used, .nsinks = 1};
    }
    struct log__replace conf = {.root_level = root_level, .confs = confs, .n = n};
    int rc = log__loggers_replace(&conf);
    free(confs);
    free(sinks);
    if (rc)
        /* Out of memory, or called from inside a record (CTXLOG_EBUSY):
         * the records keep the previous configuration. */
        return reject(p, rc, TOP, NULL, "the configuration was not applied: %s",
                      ctxlog_strerror(rc));
    /* As chosen by the application: the implicit read of the environment
     * before the first record must not override the file's level. */
    log__level_choose();
    /* Checked when planned: only memory can fail here. */
    rc = log_limits_set(p->has_limits ? &p->limits : NULL);
    if (rc == 0)
        rc = log_sampling_set(p->sample_ratio, p->sample_below);
    if (rc == 0)
        rc = log_replay_defaults_set(p->replay_level, p->replay_bytes);
    if (rc)
        return reject(p, rc, TOP, NULL, "the configuration was applied only in part: %s",
                      ctxlog_strerror(rc));
    rc = log__async_set(p->async, p->queue_bytes, p->drop);
    if (rc)
        /* Only the writer thread can fail to start; the loggers are set. */
        return reject(p, rc, TOP, NULL, "the configuration was applied only in part: %s",
                      ctxlog_strerror(rc));
    return 0;
}

static void plan_free(plan *p)
{
    for (size_t i = 0; i < p->nsinks; i++) {
        log_sink_release(p->sinks[i].sink);
        free(p->sinks[i].opts);
        for (size_t k = 0; k < LOG__SINK_KEYS_MAX; k++)
            free(p->sinks[i].pairs[k]);
    }
    for (size_t i = 0; i < p->nloggers; i++)
        free(p->loggers[i].sinks);
    log_sink_release(p->fallback);
    free(p->sinks);
    free(p->loggers);
}

/* jansson's failure to parse what was read as our error. */
static int parse_failed(plan *p, const json_error_t *jerr)
{
    if (json_error_code(jerr) == json_error_out_of_memory)
        return report(p, CTXLOG_ENOMEM, 0, 0, "", "out of memory");
    return report(p, CTXLOG_ECONFIG, jerr->line, jerr->column, "", "%s", jerr->text);
}

/* Open the file and parse it. Only a regular file is read: a FIFO would
 * block the open or the read (holding load_lock) until some writer came,
 * and a device or a directory is no configuration either. O_NONBLOCK makes
 * the open of a FIFO return at once so that fstat can refuse it; a regular
 * file reads the same with it. */
/* The whole of the regular file fd (of `size` bytes when it was looked
 * at; it may have changed since) into *out (malloc'd, *len bytes).
 * Returns 0, CTXLOG_ENOMEM, or CTXLOG_EIO with errno set. */
static int read_all(int fd, size_t size, char **out, size_t *len)
{
    size_t cap = size + 1 > 4096 ? size + 1 : 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf)
        return CTXLOG_ENOMEM;
    for (;;) {
        if (n == cap) {
            char *bigger = cap < SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
            if (!bigger) {
                free(buf);
                return CTXLOG_ENOMEM;
            }
            buf = bigger;
            cap *= 2;
        }
        size_t want = cap - n < (1u << 20) ? cap - n : (1u << 20);
        ssize_t got = read(fd, buf + n, want);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            int e = errno;
            free(buf);
            errno = e;
            return CTXLOG_EIO;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    *out = buf;
    *len = n;
    return 0;
}

static int load_document(plan *p, json_t **out)
{
    *out = NULL;
    int fd = open(p->file, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return report(p, CTXLOG_EIO, 0, 0, "", "cannot open: %s", strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return report(p, CTXLOG_EIO, 0, 0, "", "cannot read: %s", strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return report(p, CTXLOG_EIO, 0, 0, "", "not a regular file (%s)",
                      S_ISDIR(st.st_mode)    ? "a directory"
                      : S_ISFIFO(st.st_mode) ? "a FIFO"
                      : S_ISSOCK(st.st_mode) ? "a socket"
                      : S_ISCHR(st.st_mode)  ? "a character device"
                      : S_ISBLK(st.st_mode)  ? "a block device"
                                             : "an unknown kind");
    }
    /* Read in blocks, then parse the bytes: jansson's own reading of a
     * descriptor takes one read(2) per byte. */
    char *text = NULL;
    size_t len = 0;
    int rc = read_all(fd, (size_t)st.st_size, &text, &len);
    int e = errno;
    close(fd);
    if (rc == CTXLOG_ENOMEM)
        return report(p, CTXLOG_ENOMEM, 0, 0, "", "out of memory");
    if (rc)
        return report(p, CTXLOG_EIO, 0, 0, "", "cannot read: %s", strerror(e));
    json_error_t jerr;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (!doc)
        return parse_failed(p, &jerr);
    *out = doc;
    return 0;
}

int log_config_load(const char *path, log_config_error *err)
{
    if (err)
        memset(err, 0, sizeof *err);
    if (!path || !*path) {
        if (err)
            copy_field(err->text, sizeof err->text, "no file name given");
        return CTXLOG_EINVAL;
    }
    plan p = {.file = path,
              .err = err,
              .replay_level = LOG_LEVEL_OFF,
              .sample_ratio = 1.0,
              .sample_below = LOG_LEVEL_WARN};
    /* Before anything is opened or created: the switch would be refused. */
    if (log__in_record())
        return report(&p, CTXLOG_EBUSY, 0, 0, "",
                      "cannot load a configuration from a filter, a callback sink or a sink's operation");
    log__fork_handlers_install(); /* it may start the writer thread */
    pthread_mutex_lock(&load_lock);
    json_t *doc;
    int rc = load_document(&p, &doc);
    if (rc == 0 && (rc = plan_document(&p, doc)) == 0 && (rc = create_all(&p)) == 0)
        rc = apply(&p);
    /* Loggers hold their own references to what was attached. */
    plan_free(&p);
    json_decref(doc);
    pthread_mutex_unlock(&load_lock);
    return rc;
}
