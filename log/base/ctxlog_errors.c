/* Library-wide answers: error code descriptions and the run-time version. */
#include <ctxlog/common.h>

static const char *const messages[] = {
    "success",
    "invalid argument",
    "out of memory",
    "token already used or too old",
    "token made in another context",
    "object in the wrong state",
    "input/output error",
    "invalid configuration",
    "not allowed from a filter or a callback sink",
};

const char *ctxlog_strerror(int err)
{
    if (err > 0 || -err >= (int)(sizeof messages / sizeof messages[0]))
        return "unknown error";
    return messages[-err];
}

const char *ctxlog_version(void)
{
    return CTXLOG_VERSION_STRING;
}
