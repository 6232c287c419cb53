/* SPDX-License-Identifier: MIT */
/* A source file that names its logger once: its plain log_info calls go to
 * "app.db" (used by test_loggers.c). */
#define CTXLOG_LOGGER "app.db"
#include <ctxlog/ctxlog.h>

#include "loggers_db.h"

void db_query(const char *sql)
{
    log_info_kv("query", LOG_STR("sql", sql));
    log_debug("query details");
}
