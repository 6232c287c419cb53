/* SPDX-License-Identifier: MIT */
/* A program outside the project using libctxlog-otlp: makes an OTLP sink
 * (to a port where nothing listens), logs through it and shuts down, which
 * waits at most the sink's timeout and counts the record as lost. */
#include <ctxlog/ctxlog.h>
#include <ctxlog/otlp.h>

#include <stdio.h>

int main(void)
{
    log_otlp_options o = {.endpoint = "http://127.0.0.1:9/v1/logs", .timeout_ms = 200};
    log_sink *s = NULL;
    int rc = log_sink_otlp(&s, &o);
    if (rc != 0) {
        fprintf(stderr, "log_sink_otlp: %s\n", ctxlog_strerror(rc));
        return 1;
    }
    log_logger_add_sink(NULL, s);
    log_sink_release(s);
    log_info("consumer of libctxlog-otlp");
    log_shutdown();
    printf("otlp consumer: lost %llu of 1 (no collector)\n",
           (unsigned long long)log_dropped_count());
    return log_dropped_count() == 1 ? 0 : 1;
}
