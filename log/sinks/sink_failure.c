/* SPDX-License-Identifier: MIT */
/* A sink's failing writes: the records they lose are counted
 * (log_dropped_count()), and each streak of failures is said once on
 * stderr, with the count, when it starts and when writing works again. */
#include "log/sinks/sinks.h"

#include <string.h>

void log__sink_failed(log_sink *s, int err, uint64_t lost)
{
    log__count_dropped(lost ? lost : 1);
    if (!s->failing)
        log__report("cannot write to %s: %s; records are being lost (log_dropped_count())",
                    s->name, strerror(err));
    s->failing = 1;
}

void log__sink_recovered(log_sink *s)
{
    s->failing = 0;
    log__report("writing to %s again; %llu records lost so far", s->name,
                (unsigned long long)log_dropped_count());
}
