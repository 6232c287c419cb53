/* SPDX-License-Identifier: MIT */
/* The kinds of sink the configuration file knows ("type"), each described
 * in its own file (sink_kind.h): log__kind_<name>. A new kind is one more
 * name in this list. */
#include "log/sinks/sink_kind.h"

#define LOG__SINK_KINDS(X) X(stdout) X(stderr) X(file) X(journald) X(syslog)

#define DECLARE(name) extern const log__sink_kind log__kind_##name;
#define LIST(name) &log__kind_##name,
LOG__SINK_KINDS(DECLARE)
const log__sink_kind *const log__sink_kinds[] = {LOG__SINK_KINDS(LIST) NULL};
