/* SPDX-License-Identifier: MIT */
/*
 * Sink kinds added to the configuration file by other libraries
 * (log_config_sink_kind_add): a small registry the configuration file's
 * planner looks a "type" up in (log__config_sink_kind) when it is not one
 * of the library's own.
 */
#include "log/config/config_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <ctxlog/config.h>

static pthread_mutex_t kinds_lock = PTHREAD_MUTEX_INITIALIZER;
static const log_config_sink_kind **kinds;
static size_t nkinds;

int log_config_sink_kind_add(const log_config_sink_kind *kind)
{
    static const char *const own[] = {"stdout", "stderr", "file", "journald", "syslog"};
    if (!kind || kind->version != LOG_CONFIG_SINK_KIND_VERSION || !kind->type || !*kind->type ||
        !kind->check || !kind->make || (kind->nkeys && !kind->keys))
        return CTXLOG_EINVAL;
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        if (strcmp(kind->type, own[i]) == 0)
            return CTXLOG_EINVAL;
    pthread_mutex_lock(&kinds_lock);
    int rc = 0;
    size_t i = 0;
    while (i < nkinds && strcmp(kinds[i]->type, kind->type) != 0)
        i++;
    if (i < nkinds) {
        kinds[i] = kind;
    } else {
        const log_config_sink_kind **k = realloc(kinds, (nkinds + 1) * sizeof *k);
        if (k) {
            kinds = k;
            kinds[nkinds++] = kind;
        } else {
            rc = CTXLOG_ENOMEM;
        }
    }
    pthread_mutex_unlock(&kinds_lock);
    return rc;
}

const log_config_sink_kind *log__config_sink_kind(const char *type)
{
    const log_config_sink_kind *k = NULL;
    pthread_mutex_lock(&kinds_lock);
    for (size_t i = 0; type && i < nkinds && !k; i++)
        if (strcmp(kinds[i]->type, type) == 0)
            k = kinds[i];
    pthread_mutex_unlock(&kinds_lock);
    return k;
}
