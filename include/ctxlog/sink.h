/* SPDX-License-Identifier: MIT */
/**
 * @file sink.h
 * @brief Where records go and how they look: records, filters, formatters, sinks.
 *
 * A record emitted on a logger runs through a pipeline of filters (the
 * context filter first, then the filters of the root, of each ancestor and
 * of the logger itself), then is written to every sink of the logger and of
 * its ancestors (up to the first logger that is not additive), each sink with
 * its own level and formatter.
 *
 * Sinks and formatters are refcounted: every `*_new` returns one reference,
 * attaching one to a logger takes another, `*_release` drops one.
 * Thread safety: all calls here are safe from any thread, concurrently with
 * logging; a configuration change takes effect for records that start after it.
 */
#ifndef CTXLOG_SINK_H
#define CTXLOG_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <ctxlog/log.h>

#ifdef __cplusplus
extern "C" {
#endif

/** One record as filters, formatters and callback sinks see it. Everything
 * it points to is borrowed for the duration of the call. */
typedef struct log_record {
    log_level level;
    struct timespec time;        /**< CLOCK_REALTIME when the call was made */
    const char *logger;          /**< logger name, e.g. "root", "app.db" */
    const char *msg;             /**< any bytes, not necessarily NUL-terminated */
    size_t msg_len;
    const log_field *ctx_fields; /**< stamped by the context filter */
    size_t n_ctx_fields;
    log_field *fields;           /**< bound fields, then the call's, then added ones */
    size_t n_fields;
    const char *file;            /**< call site */
    int line;
    const char *func;
    long thread_id;              /**< the kernel thread id of the caller */
    void *priv_;                 /**< private */
} log_record;

/* ---- filters ---------------------------------------------------------------- */

/** A filter's verdict. */
typedef enum log_filter_result { LOG_FILTER_KEEP = 0, LOG_FILTER_DROP = 1 } log_filter_result;

/**
 * A filter: may change the record's fields (replace a value, add one with
 * log_record_add_field()) and decide whether it is kept. Called on the
 * logging thread, possibly by many threads at once.
 */
typedef log_filter_result (*log_filter_fn)(log_record *rec, void *payload);

/**
 * @brief Append a field to the record (from a filter). Key and value are
 *        borrowed until the record is written: use static strings or ones the
 *        filter's payload owns. @return 0, CTXLOG_EINVAL or CTXLOG_ENOMEM.
 */
CTXLOG_API int log_record_add_field(log_record *rec, log_field field);

/**
 * @brief Add @p fn to the end of @p lg's pipeline (NULL: the root). It applies
 *        to records of @p lg and of its descendants.
 * @return 0; CTXLOG_EINVAL when @p fn is NULL; CTXLOG_ENOMEM; CTXLOG_EBUSY
 *         from a filter or a callback sink (nothing changed).
 */
CTXLOG_API int log_logger_add_filter(log_logger *lg, log_filter_fn fn, void *payload);

/**
 * @brief Remove every filter added to @p lg (the root keeps its context filter).
 * @return 0; CTXLOG_ENOMEM; CTXLOG_EBUSY from a filter or a callback sink
 *         (nothing changed).
 */
CTXLOG_API int log_logger_clear_filters(log_logger *lg);

/**
 * @brief Turn the context filter (the stage that stamps the logged context
 *        variables) on or off for the whole pipeline. On by default.
 *        From a filter or a callback sink it does nothing.
 */
CTXLOG_API void log_context_filter_enable(bool on);

/* ---- formatters --------------------------------------------------------------- */

/** A growable byte buffer formatters append to. */
typedef struct log_buf log_buf;

/** @brief Append @p n bytes. Allocation failure is remembered and reported by the caller. */
CTXLOG_API void log_buf_append(log_buf *b, const void *p, size_t n);

/** @brief Append @p n arbitrary bytes as a JSON string literal (quotes, escapes, U+FFFD). */
CTXLOG_API void log_buf_append_json_string(log_buf *b, const char *s, size_t n);

/** A formatter: turns a record into bytes (one line, '\n' included). */
typedef struct log_formatter log_formatter;

/** Key names of the JSON formatter. */
typedef enum log_json_preset {
    LOG_JSON_DEFAULT = 0, /**< ts, level, logger, msg (SPEC §5) */
    LOG_JSON_ECS,         /**< Elastic Common Schema: @timestamp, log.level, log.logger, message */
    LOG_JSON_OTEL,        /**< OpenTelemetry log data model names */
} log_json_preset;

/** Options of the JSON formatter. */
typedef struct log_json_options {
    log_json_preset preset;
    bool callsite;  /**< add file, line and function */
    bool thread_id; /**< add the caller's thread id */
} log_json_options;

/** @brief A JSON formatter; @p opts NULL means the defaults. NULL when out of memory. */
CTXLOG_API log_formatter *log_formatter_json(const log_json_options *opts);

/** When the console formatter colours the level. */
typedef enum log_color_mode {
    LOG_COLOR_AUTO = 0, /**< when the sink is a TTY and NO_COLOR is not set */
    LOG_COLOR_ALWAYS,
    LOG_COLOR_NEVER,
} log_color_mode;

/** @brief A formatter for people: aligned columns, coloured level, compact ids. */
CTXLOG_API log_formatter *log_formatter_console(log_color_mode color);

/**
 * A user formatter: append the record to @p out (one line, '\n' included).
 * @p tty tells whether the sink being written is a terminal.
 * @return 0, or non-zero to skip the record for this sink.
 */
typedef int (*log_format_fn)(const log_record *rec, log_buf *out, bool tty, void *payload);

/**
 * @brief Wrap a user formatter. @p release (may be NULL) is called with
 *        @p payload when the last reference goes.
 */
CTXLOG_API log_formatter *log_formatter_custom(log_format_fn fn, void *payload,
                                               void (*release)(void *payload));

/** @brief Drop a reference. NULL is a no-op. */
CTXLOG_API void log_formatter_release(log_formatter *f);

/* ---- sinks -------------------------------------------------------------------- */

/** An output. */
typedef struct log_sink log_sink;

/**
 * @brief Sinks writing to the process's stdout / stderr. NULL when out of
 *        memory, and from a sink's operation (log_sink_ops).
 *
 * Writing to a pipe or socket whose reader has gone never raises SIGPIPE
 * in the process, in either mode (the same holds for a file sink whose
 * path is a named pipe): the library does not change SIGPIPE's
 * disposition, but blocks it around its own writes and takes back the one
 * its write raised. The records are counted in log_dropped_count() and the
 * failure is said once on stderr. Whether the descriptor is a pipe or a
 * socket is decided when the sink is made.
 */
CTXLOG_API log_sink *log_sink_stdout(void);
CTXLOG_API log_sink *log_sink_stderr(void);

/** Options of a file sink. */
typedef struct log_file_options {
    size_t max_bytes; /**< rotate before a record would take the file past this; 0: never */
    unsigned backups; /**< keep app.log.1 … app.log.N (N ≥ 1 when max_bytes is set) */
    /**
     * false (default): records are batched in a 64 KiB buffer per logging
     * thread, written when it is full, for a record at error or above, by
     * log_flush() (every thread's), when the thread exits, at exit, and at
     * the latest about 100 ms after the first of them. Each thread's
     * records keep their order; different threads' come in batches.
     * true: each record is written with its own write(2) before the call
     * returns.
     */
    bool write_through;
} log_file_options;

/**
 * @brief A sink appending to @p path (created with mode 0640).
 * With rotation, `path` is renamed to `path.1` (`.1` to `.2` …, the last
 * dropped) before a record that would not fit; a record is never split
 * across files, and is never lost by a rotation.
 * @param[out] out the sink.
 * @param opts NULL: no rotation.
 * @return 0; CTXLOG_ENOENT when the file's directory does not exist (it is
 *         not created); CTXLOG_EIO when the file cannot be opened for
 *         another reason (errno tells why); CTXLOG_EINVAL; CTXLOG_ENOMEM;
 *         CTXLOG_EBUSY from a sink's operation (log_sink_ops). On ENOENT
 *         and EIO, ctxlog_last_error() names the path and the
 *         system's reason (`cannot open log file 'logs/app.log': No such
 *         file or directory`); on success it is cleared.
 */
CTXLOG_API int log_sink_file(log_sink **out, const char *path, const log_file_options *opts);

/**
 * A callback sink receives every record it is given, and its formatted text
 * (NULL with 0 when the sink has no formatter). Called on the logging thread,
 * possibly from several threads at once.
 */
typedef void (*log_sink_fn)(const log_record *rec, const char *text, size_t len, void *payload);

/** @brief A sink calling @p fn. Without a formatter set, @p text is NULL. */
CTXLOG_API log_sink *log_sink_callback(log_sink_fn fn, void *payload);

/* ---- the machine's log pipeline: journald and syslog ------------------------------ */

/**
 * Options of a journald sink. Zero (or NULL options) means the default of
 * each member.
 */
typedef struct log_journald_options {
    /** The journal's native socket; NULL: "/run/systemd/journal/socket". */
    const char *socket_path;
    /** SYSLOG_IDENTIFIER; NULL: the program's name (program_invocation_short_name). */
    const char *identifier;
    /** Longest wait, in milliseconds, for the journal to take one entry
     *  when its queue is full; 0: 1000. */
    int timeout_ms;
} log_journald_options;

/**
 * @brief A sink sending each record to systemd-journald over its native
 *        protocol (no libsystemd needed).
 *
 * Each entry has MESSAGE (the record's message, any bytes), PRIORITY (trace
 * and debug 7, info 6, warn 4, error 3, fatal 2), SYSLOG_IDENTIFIER, LOGGER
 * (the logger's name), TID, CODE_FILE/CODE_LINE/CODE_FUNC (when the call
 * site is known), then one field per context variable and per field of the
 * record, in the record's order. Names are mapped to the journal's rules:
 * a-z becomes A-Z, every byte other than A-Z, 0-9 and '_' becomes '_',
 * leading '_' are dropped (they mark the journal's trusted fields), a name
 * left empty or starting with a digit gets "F_" in front, and the result is
 * cut to 64 bytes. A mapped name equal to one already in the entry (one of
 * the fields above, or an earlier variable or field) gets "_2", "_3"… after
 * it: nothing is dropped. String values are sent as their bytes; other
 * values as the JSON encoder writes them (42, true, {"a":1}). Values with a
 * newline, and any other, go in the protocol's length-prefixed form when
 * needed; an entry too large for one datagram goes through a sealed memfd.
 *
 * The sink has no formatter (log_sink_set_formatter() is accepted and
 * ignored) and no buffer. The entry is always built on the logging thread
 * (with the context as of the call). In sync mode it is sent there too,
 * before the call returns; in async mode it is handed to the background
 * writer through the thread's queue, like every other sink's records (per
 * thread order kept; a full queue blocks or drops and counts as
 * configured), and the writer sends it. A send waits at most timeout_ms;
 * after one such wait in vain, sends do not wait again until an entry goes
 * through (or log_flush() tries once more), so a journal that stopped
 * reading costs the logging thread one timeout, not one per record.
 * When the journal does not take an entry (not running, its queue full for
 * longer than timeout_ms, or full while sends do not wait), the record is
 * counted in log_dropped_count(),
 * said once on stderr, and an entry says how many were lost ("journald:
 * records dropped", field DROPPED) after the next entry that goes through,
 * or on log_flush(); records the async queue dropped are said in the same
 * entry. log_flush() returns CTXLOG_EIO while the journal does not take
 * entries (the last send, or that entry, failed).
 *
 * @param[out] out the sink (one reference); NULL on error.
 * @param opts NULL: the defaults; copied.
 * @return 0; CTXLOG_EINVAL when @p out is NULL, a path is too long for a
 *         socket address or timeout_ms is negative; CTXLOG_EIO when no
 *         socket can be made (errno tells why); CTXLOG_ENOMEM;
 *         CTXLOG_EBUSY from a sink's operation (log_sink_ops).
 *         The journal need not be running yet.
 * Thread safety: any thread; the sink may be used by many threads at once.
 */
CTXLOG_API int log_sink_journald(log_sink **out, const log_journald_options *opts);

/** How a syslog sink reaches the daemon. */
typedef enum log_syslog_transport {
    LOG_SYSLOG_UNIX = 0, /**< datagrams on a local socket (default "/dev/log") */
    LOG_SYSLOG_UDP,      /**< one datagram per message (RFC 5426) */
    LOG_SYSLOG_TCP,      /**< a stream, RFC 6587 octet counting: "LEN SP MSG" */
} log_syslog_transport;

/** Options of a syslog sink. Zero (or NULL options) means each default. */
typedef struct log_syslog_options {
    log_syslog_transport transport;
    /** LOG_SYSLOG_UNIX: the socket; NULL: "/dev/log". */
    const char *path;
    /** UDP and TCP: host name or address; NULL: "127.0.0.1". */
    const char *host;
    /** UDP and TCP: port; 0: 514. */
    unsigned port;
    /** Facility number 1..23 (user=1 … local0=16 … local7=23, not shifted
     *  as <syslog.h>'s LOG_LOCAL0 is); 0: 1 (user). */
    unsigned facility;
    /** APP-NAME; NULL: the program's name. Cut to 48 printable ASCII bytes. */
    const char *app_name;
    /** HOSTNAME; NULL: gethostname(). Cut to 255 printable ASCII bytes. */
    const char *hostname;
    /** Private enterprise number of the "ctx@N" structured-data element;
     *  0: 32473 (the number RFC 5612 reserves for documentation). */
    unsigned enterprise_id;
    /** TCP: records kept while the daemon cannot take them; 0: 10000. */
    size_t queue_max;
    /** Longest wait for the daemon, per connect and per blocked send, in
     *  milliseconds; 0: 1000. */
    int timeout_ms;
    /** TCP: first and longest wait between connection attempts, doubling
     *  from one to the other (back to the first once a connection
     *  delivered a frame and stayed open); 0: 100 and 10000. */
    int reconnect_min_ms;
    int reconnect_max_ms;
} log_syslog_options;

/**
 * @brief A sink sending each record as an RFC 5424 message to a syslog
 *        daemon.
 *
 * `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG`: PRI is facility
 * × 8 + severity (trace and debug 7, info 6, warn 4, error 3, fatal 2),
 * TIMESTAMP the record's time in UTC with microseconds, PROCID the process
 * id, MSGID the logger's name (cut to 32 printable ASCII bytes), SD one
 * element `[ctx@N name="value" …]` with the record's context variables
 * ("-" when it has none; `"`, `\` and `]` escaped with a backslash, invalid
 * UTF-8 replaced by U+FFFD, names cut to 32 printable ASCII bytes with
 * `=`, `]`, `"` and space replaced by `_`), and MSG the record as the
 * sink's formatter writes it (JSON by default; log_sink_set_formatter()
 * changes it), without the final newline.
 *
 * The message is always built on the logging thread (with the context as
 * of the call). In sync mode it is sent there too, under the sink's lock;
 * in async mode it is handed to the background writer through the
 * thread's queue, like every other sink's records (per-thread order kept;
 * a full queue blocks or drops and counts as configured), and the writer
 * sends it. A send waits at most timeout_ms; after one such wait in vain,
 * sends (datagrams too) do not wait again until the daemon takes bytes. UDP: a message longer than
 * a datagram takes (65,507 bytes over IPv4, 65,527 over IPv6) is sent with
 * its MSG cut to fit, at a UTF-8 character's start (RFC 5424 6.1), the
 * header and structured data whole. UNIX and UDP: a message the daemon or
 * the network does not take (no daemon; a local socket's message over its
 * buffer) is lost and counted. TCP: while the daemon is away or not
 * reading, up to queue_max records wait in the sink, and connection
 * attempts follow with the backoff, which starts over only once a
 * connection delivered a frame and stayed open as long as the backoff had
 * grown (a daemon that accepts and closes at once is retried at the
 * backoff's pace); once connected again the queue goes out first, in order
 * (with the next record, on log_flush(), or when the sink is released).
 * log_flush() (and log_shutdown()) connects at once, sends the queue, and
 * returns CTXLOG_EIO while some record is left in it. Records that found
 * the queue full are counted in log_dropped_count(), said once on stderr
 * per outage, and followed by a record saying how many ("syslog: records
 * dropped", field "dropped", also counting those the async queue dropped)
 * once delivery resumes. After fork() the child sends only its own
 * records, on a connection of its own. Records in flight in the kernel's
 * buffers when a daemon is killed cannot be known to TCP's sender and are
 * not counted; a daemon that closes its connection is noticed before the
 * next send.
 *
 * @param[out] out the sink (one reference); NULL on error.
 * @param opts NULL: the defaults; copied.
 * @return 0; CTXLOG_EINVAL when @p out is NULL or an option is out of range
 *         (transport, facility > 23, a path too long, negative times);
 *         CTXLOG_EIO when the host cannot be resolved or no socket can be
 *         made; CTXLOG_ENOMEM; CTXLOG_EBUSY from a sink's operation
 *         (log_sink_ops). The daemon need not be running yet.
 * Thread safety: any thread; the sink may be used by many threads at once.
 */
CTXLOG_API int log_sink_syslog(log_sink **out, const log_syslog_options *opts);

/* ---- users' own transports -------------------------------------------------------- */

/** The version of log_sink_ops this header describes: 2 added @c fork.
 *  A program built with version 1 keeps working (its struct ends before
 *  @c fork). */
#define LOG_SINK_OPS_VERSION 2

/** The phases of fork() that log_sink_ops.fork is called in. */
typedef enum log_fork_phase {
    LOG_FORK_PREPARE = 0, /**< before fork(), in the forking thread */
    LOG_FORK_PARENT = 1,  /**< after fork(), in the parent */
    LOG_FORK_CHILD = 2,   /**< after fork(), in the child (its only thread) */
} log_fork_phase;

/**
 * What a user's sink does with the lines the library gives it: the
 * operations of a transport of your own (a socket, a message queue, a test
 * that collects lines). Initialize with #LOG_SINK_OPS_INIT, then set the
 * members you need, so that a program built against this header keeps
 * working when later versions add members.
 *
 * Every call gets the `state` given to log_sink_custom().
 *
 * Threading: calls on one sink never overlap (they are made under the
 * sink's lock, in the order the lines are to be delivered); they may come
 * from any logging thread (writing its buffer out), from the library's
 * background thread (the periodic flush, and every write in async mode),
 * or from a thread calling log_flush(), log_reopen() or releasing the last
 * reference. An operation must not log through ctxlog: a record logged
 * from inside one is dropped and counted in log_dropped_count(). It must
 * not block forever: logging threads that need the sink wait for it.
 *
 * Calls from inside an operation never wait for the operation's own
 * thread. These return CTXLOG_EBUSY and change nothing: log_flush(),
 * log_reopen(), log_config_load(), log_configure_env(), log_output_set(),
 * log_limits_set(), log_logger_add_sink(), log_logger_clear_sinks(),
 * log_logger_set_additive(), log_logger_add_filter(),
 * log_logger_clear_filters(), log_sink_file(), log_sink_journald(),
 * log_sink_syslog() and log_sink_custom(); log_sink_stdout() and
 * log_sink_stderr() return NULL; log_shutdown() and
 * log_context_filter_enable() do nothing. log_sink_release() works: a
 * sink whose last reference goes there is closed by the next log_flush()
 * or log_shutdown() (or release) made outside an operation. Setting
 * levels, sampling, replay defaults, log_reopen_request(),
 * log_dropped_count() and the context calls work.
 */
typedef struct log_sink_ops {
    /** #LOG_SINK_OPS_VERSION. */
    unsigned version;
    /**
     * Required. Deliver @p len bytes of whole formatted records: one or
     * more lines, each ending in '\n', never a line split between two
     * calls. Records come in batches (up to 64 KiB), each thread's in the
     * order it logged them.
     * @return 0; otherwise a positive errno value saying why (any other
     *         non-zero value is taken as EIO): every record of the batch is
     *         counted as lost in log_dropped_count(), and the library says
     *         once on stderr that the sink fails (and once when it works
     *         again).
     */
    int (*write)(void *state, const char *lines, size_t len);
    /**
     * Optional (NULL: nothing to do). Called by log_flush() (and at exit)
     * after every record logged before it was given to @c write: make them
     * durable or delivered. @return 0 or an errno value (not reported on stderr:
     * log_flush() returns CTXLOG_EIO, once every sink was asked).
     */
    int (*flush)(void *state);
    /**
     * Optional (NULL: nothing to do). Start over on a fresh destination:
     * called by log_reopen() after every record logged before it was given
     * to @c write, and after log_reopen_request() before the first write
     * of records logged after the request. @return 0, or non-zero when it
     * failed (reported once on stderr; log_reopen() returns CTXLOG_EIO).
     */
    int (*reopen)(void *state);
    /**
     * Optional (NULL: nothing to do). Called once, when the last reference
     * to the sink goes (log_sink_release() and detaching it from every
     * logger, or log_shutdown()), after every record it was given has been
     * passed to @c write; no other call follows. It releases @p state.
     */
    void (*close)(void *state);
    /**
     * Optional (NULL: nothing to do; version 2). For a transport with locks
     * or threads of its own: called around every fork() of the process
     * with the sink's lock held, in the library's lock order (after the
     * locks of the logging threads' buffers, before the context store's).
     * LOG_FORK_PREPARE: take the state's own locks (a lock a write takes:
     * writes are made under the sink's lock, which is held). LOG_FORK_PARENT:
     * release them. LOG_FORK_CHILD: release them and forget what is the
     * parent's to deliver; no thread of the parent exists in the child (start
     * one again when needed). It must not log, nor call the library.
     */
    void (*fork)(void *state, log_fork_phase phase);
} log_sink_ops;

/** An initializer for log_sink_ops: the version, every operation NULL. */
#define LOG_SINK_OPS_INIT {LOG_SINK_OPS_VERSION, NULL, NULL, NULL, NULL, NULL}

/**
 * @brief A sink that hands batches of whole formatted lines to @p ops.
 *
 * It works like a file sink: JSON by default (log_sink_set_formatter()
 * changes it; with a JSON formatter it also gets the records replayed on
 * error, see log_context_replay()), its own level, records batched in a
 * buffer per logging thread in sync mode and written by the background thread in async mode,
 * written out by log_flush(), at exit and within about 100 ms. The crash
 * handler skips it (its operations need not be async-signal-safe); after
 * fork() the child writes only its own records.
 *
 * @param[out] out the sink (one reference); set to NULL on error.
 * @param ops the operations; copied, so it may be a temporary.
 * @param state passed to every operation. Ownership: the sink owns it once
 *        the call succeeded and gives it back through @c close (the
 *        caller keeps it when the call fails: @c close is not called).
 * @return 0; CTXLOG_EINVAL when @p out, @p ops or @p ops->write is NULL or
 *         @p ops->version is not one this library knows; CTXLOG_ENOMEM;
 *         CTXLOG_EBUSY from a sink's operation (registering the sink would
 *         wait for what that operation's thread holds).
 * Thread safety: may be called from any thread.
 */
CTXLOG_API int log_sink_custom(log_sink **out, const log_sink_ops *ops, void *state);

/* ---- a record's members, as the JSON formatter decides them ------------------------ */

/** Which part of the record a member is (log_record_walk()). */
typedef enum log_member_role {
    LOG_MEMBER_CORE = 0, /**< a member the formatter writes itself (time, level, message…) */
    LOG_MEMBER_CONTEXT,  /**< a logged context variable */
    LOG_MEMBER_FIELD,    /**< a field of the record (bound, the call's, a filter's) */
} log_member_role;

/** The type of a member's value, as the JSON formatter writes it. */
typedef enum log_member_type {
    LOG_MEMBER_NULL = 0, /**< JSON null: a NULL string, a JSON value it cannot write */
    LOG_MEMBER_STR,      /**< v.str: valid UTF-8 (invalid input repaired with U+FFFD) */
    LOG_MEMBER_I64,      /**< v.i64 */
    LOG_MEMBER_U64,      /**< v.u64 */
    LOG_MEMBER_F64,      /**< v.f64 (NaN and ±Inf too; JSON writes them as strings) */
    LOG_MEMBER_BOOL,     /**< v.b */
    LOG_MEMBER_JSON,     /**< v.json: a jansson value the formatter checked and wrote */
} log_member_type;

/** One member of a record (log_record_walk()). Everything is borrowed for
 *  the duration of the callback. */
typedef struct log_member {
    log_member_role role;
    const char *key; /**< UTF-8, the name written (renamed on a collision); not NUL-terminated */
    size_t key_len;
    log_member_type type;
    union {
        struct {
            const char *p; /**< not NUL-terminated; may contain NUL */
            size_t len;
        } str;
        int64_t i64;
        uint64_t u64;
        double f64;
        bool b;
        const struct json_t *json; /**< borrowed */
    } v;
    const char *json; /**< the value as the JSON formatter writes it (escaped string, number…) */
    size_t json_len;
} log_member;

/** Called for each member; a non-zero return stops the walk and is returned by it. */
typedef int (*log_member_fn)(const log_member *m, void *payload);

/**
 * @brief Call @p fn for every member of @p rec, in order, as the JSON
 *        formatter writes the record under the OpenTelemetry preset
 *        (#LOG_JSON_OTEL, without call site or thread id).
 *
 * The formatter itself makes the decisions (which members, their keys,
 * renaming on a collision, their types, UTF-8 repair): the walk is the
 * formatter run with a listener, so a transport built on it (the OTLP sink)
 * never disagrees with the JSON lines. Members, in order: the core ones
 * (role #LOG_MEMBER_CORE) "timestamp" (RFC 3339 string), "trace_id",
 * "span_id" (strings, when the context has them), "flags" (I64, when
 * trace_flags is two hex digits), "severity_text", "severity_number" (I64),
 * "body" (the message), "instrumentation_scope.name" (the logger); then the
 * attributes: the logged context variables (#LOG_MEMBER_CONTEXT, trace_id,
 * span_id and trace_flags left out when they are core members above) and
 * the fields (#LOG_MEMBER_FIELD), keys unique (README "Key collisions").
 *
 * @param rec the record (from a filter, a formatter or a callback sink).
 * @param fn called once per member, on the calling thread.
 * @return 0; CTXLOG_EINVAL when @p rec or @p fn is NULL; CTXLOG_ENOMEM;
 *         or the first non-zero value @p fn returned.
 * Thread safety: any thread; @p fn must not call log_record_walk() itself.
 * It never logs.
 */
CTXLOG_API int log_record_walk(const log_record *rec, log_member_fn fn, void *payload);

/** @brief Records below @p level are not written to @p s. Default: trace (all). */
CTXLOG_API int log_sink_set_level(log_sink *s, log_level level);

/**
 * @brief Use @p f for @p s (the sink takes a reference). Default: JSON for
 *        stdout/stderr/file sinks, none for callback sinks. NULL removes it.
 * @return 0; CTXLOG_ESTATE once the sink was attached to a logger (set the
 *         formatter first); CTXLOG_EINVAL.
 */
CTXLOG_API int log_sink_set_formatter(log_sink *s, log_formatter *f);

/** @brief Drop a reference. NULL is a no-op. From a sink's operation
 *         (log_sink_ops), a last reference is closed by the next
 *         log_flush() or log_shutdown() made outside one. */
CTXLOG_API void log_sink_release(log_sink *s);

/**
 * @brief Write records of @p lg (NULL: root) and of its descendants to @p s too.
 *
 * The root and the default output: until the application chooses the
 * root's outputs, the first record installs the default one (CTXLOG_OUTPUT,
 * else stdout; see log_configure_env()). The first sink added to the root
 * replaces that default output, whether a record was logged before or not;
 * the sinks added after it add to it. The outputs chosen by
 * log_configure_env(), log_output_set() or a configuration file are not
 * the default: sinks added to the root after them add to them. So
 * `log_logger_add_sink(NULL, s)` alone always means "the root writes to s
 * (and to what else the application chose)", never to stdout as well.
 * @return 0; CTXLOG_EINVAL when @p s is NULL; CTXLOG_ENOMEM; CTXLOG_EBUSY
 *         from a filter or a callback sink (nothing changed).
 */
CTXLOG_API int log_logger_add_sink(log_logger *lg, log_sink *s);

/**
 * @brief Detach every sink of @p lg.
 * @return 0; CTXLOG_ENOMEM; CTXLOG_EBUSY from a filter or a callback sink
 *         (nothing changed).
 */
CTXLOG_API int log_logger_clear_sinks(log_logger *lg);

/**
 * @brief Whether records of @p lg also go to its ancestors' sinks (default
 *        true). With false, only the sinks of @p lg and of its descendants
 *        between it and the emitting logger are used.
 * @return 0; CTXLOG_ENOMEM; CTXLOG_EBUSY from a filter or a callback sink
 *         (nothing changed).
 */
CTXLOG_API int log_logger_set_additive(log_logger *lg, bool additive);

/**
 * @brief Reopen every file sink now (after logrotate moved the file).
 * What any thread buffered before the call is written to the old file first.
 * @return 0, or CTXLOG_EIO when some file could not be reopened (it keeps
 *         writing to the old descriptor, and the failure is reported once);
 *         CTXLOG_EBUSY from a sink's operation (log_sink_ops: it would wait
 *         for what that operation's thread holds).
 */
CTXLOG_API int log_reopen(void);

/**
 * @brief Ask for a reopen of every file sink before it writes records logged
 * after the request (records buffered before it go to the old file).
 * Async-signal-safe: call it from a SIGHUP handler.
 */
CTXLOG_API void log_reopen_request(void);

#ifdef __cplusplus
}
#endif

#endif /* CTXLOG_SINK_H */
