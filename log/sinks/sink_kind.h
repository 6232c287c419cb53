/* SPDX-License-Identifier: MIT */
/*
 * How a kind of sink describes itself to the configuration file (private),
 * as an nginx module carries the table of the directives it understands:
 * its "type", the keys it takes and where each goes in its own options
 * struct, a check of what its keys say together, and how it makes the sink
 * from them. The configuration code (log/config/log_config_file.c) walks
 * the list of kinds (sink_kinds.c) and names none: a new kind is its own
 * file, with its description, and one name in that list (or, for a kind
 * in a library of its own, one call of log__sink_kind_add).
 *
 * Plain data and two functions: nothing here reads JSON.
 */
#ifndef CTXLOG_SINK_KIND_H
#define CTXLOG_SINK_KIND_H

#include <stdbool.h>
#include <stddef.h>

#include <ctxlog/common.h>
#include <ctxlog/sink.h>

typedef enum log__key_type {
    LOG__KEY_STRING, /* const char * (borrowed from the parsed file until the sink is made) */
    LOG__KEY_INT,    /* an integer member of `size` bytes: int, unsigned, size_t */
    LOG__KEY_BOOL,   /* bool */
    LOG__KEY_ENUM,   /* int: the index of the name in `names`, plus `base` */
    LOG__KEY_PAIRS,  /* an object of strings, as the const char * "k=v,k2=v2" with ',', '='
                      * and '%' percent-encoded (the OTEL_* variables' form); kept by the
                      * configuration code until the sink is made */
} log__key_type;

typedef struct log__sink_key {
    const char *name;
    log__key_type type;
    size_t offset; /* of the member in the kind's options struct */
    size_t size;   /* LOG__KEY_INT: sizeof the member (4 or 8) */
    bool required;
    bool nonempty;                /* LOG__KEY_STRING: "" is refused */
    long long min, max;           /* LOG__KEY_INT: inclusive */
    const char *range;            /* LOG__KEY_INT: "from 1 to 65535", for the message */
    const char *const *names;     /* LOG__KEY_ENUM: the accepted values, NULL-terminated */
    const char *what;             /* LOG__KEY_ENUM: "syslog transport", for the message */
    int base;                     /* LOG__KEY_ENUM: stored as index + base (not given: 0) */
} log__sink_key;

/* At most this many keys a kind (bits of `given`). */
#define LOG__SINK_KEYS_MAX 32

/* Why a sink could not be made (log__sink_kind.make). */
typedef struct log__sink_why {
    const char *key;   /* the key it is about; NULL: the sink as a whole */
    const char *what;  /* "cannot open"; NULL: nothing to add to the error code */
    const char *value; /* what could not be opened or reached */
    int err;           /* an errno value */
} log__sink_why;

typedef struct log__sink_kind {
    const char *type;           /* the value of "type" */
    const log__sink_key *keys;  /* ends with an entry whose name is NULL */
    size_t opts_size;           /* bytes of its options struct (zeroed, then the keys given) */
    bool formatted;             /* takes "format", "preset", "callsite", "thread_id", "color" */
    /* What the keys say together, once each given one is stored (bit i of
     * `given`: keys[i] was in the file); may fill in defaults. Returns
     * NULL, or what is wrong, with *key the key it is about (NULL: the
     * sink as a whole). May be NULL. */
    const char *(*check)(void *opts, unsigned given, const char **key);
    /* Make the sink from the options. Returns 0 or an error code; for a
     * failure the file's reader should explain (a path that cannot be
     * opened, a host that cannot be reached) it fills *why, which the
     * configuration code reports as CTXLOG_EIO, "<what> <value>:
     * <strerror(err)>". */
    int (*make)(const void *opts, log_sink **out, struct log__sink_why *why);
} log__sink_kind;

/* The kinds the configuration file knows (sink_kinds.c): the library's
 * own, then those added with log__sink_kind_add; NULL past the last. */
const log__sink_kind *log__sink_kind_at(size_t i);

/* Add a kind from outside the core library (the OTLP sink's library, when
 * it is loaded). Any thread. Returns 0 (also when this very kind was
 * added already); CTXLOG_EINVAL for NULL, a kind without a type, keys or
 * constructor, or another kind of a type already known; CTXLOG_ENOMEM
 * past LOG__SINK_KINDS_ADDED. */
#define LOG__SINK_KINDS_ADDED 8
CTXLOG_API int log__sink_kind_add(const log__sink_kind *kind);

#endif /* CTXLOG_SINK_KIND_H */
