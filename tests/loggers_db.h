/* SPDX-License-Identifier: MIT */
#ifndef CTXLOG_TEST_LOGGERS_DB_H
#define CTXLOG_TEST_LOGGERS_DB_H
/* Logs one info record ("query") and one debug record on logger "app.db". */
void db_query(const char *sql);
#endif
