/* SPDX-License-Identifier: MIT */
/* Compiles with <syslog.h> beside <ctxlog/ctxlog.h> under -std=c11
 * -pedantic -Werror, and logs one record with context. */
#include <ctxlog/ctxlog.h>
#include <syslog.h>

int main(void)
{
    int syslog_prio = LOG_INFO; /* syslog's name, untouched by ctxlog */
    CTX_REQUEST("consumer-1", "u", "t");
    log_info("syslog LOG_INFO is %d", syslog_prio);
    log_info_kv("kv", LOG_I64("level_info", LOG_LEVEL_INFO));
    return 0;
}
