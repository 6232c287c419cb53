/* SPDX-License-Identifier: MIT */
/*
 * The opt-in crash handler: on a fatal signal, write out what is already
 * formatted (sink buffers, then queued records) with write(2) alone, then
 * let the signal do what it did before (the previous handler, or the
 * default action: a core dump).
 */
#include "log/log_internal.h"

#include <signal.h>
#include <string.h>

static const int fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
#define NFATAL (sizeof fatal / sizeof fatal[0])
static struct sigaction previous[NFATAL];
static atomic_int installed;
static atomic_flag writing = ATOMIC_FLAG_INIT;

static void on_fatal(int sig, siginfo_t *info, void *uctx)
{
    /* Once, even when several threads crash together. */
    if (!atomic_flag_test_and_set(&writing)) {
        log__sinks_crash_write();
        log__rings_crash_write();
    }
    size_t i = 0;
    while (i < NFATAL && fatal[i] != sig)
        i++;
    if (i < NFATAL && (previous[i].sa_flags & SA_SIGINFO) && previous[i].sa_sigaction) {
        previous[i].sa_sigaction(sig, info, uctx);
        return;
    }
    if (i < NFATAL && previous[i].sa_handler != SIG_DFL && previous[i].sa_handler != SIG_IGN &&
        !(previous[i].sa_flags & SA_SIGINFO)) {
        previous[i].sa_handler(sig);
        return;
    }
    /* Default action: restore it; returning re-runs the faulting
     * instruction (or, for a raised signal, raise it again). */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    (void)sigaction(sig, &dfl, NULL);
    if (info == NULL || info->si_code <= 0) /* sent by kill/raise/abort */
        (void)raise(sig);
}

int log_crash_handler_install(void)
{
    if (atomic_exchange(&installed, 1))
        return 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fatal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < NFATAL; i++) {
        if (sigaction(fatal[i], &sa, &previous[i]) != 0) {
            atomic_store(&installed, 0);
            return CTXLOG_EINVAL;
        }
    }
    return 0;
}
