/* SPDX-License-Identifier: MIT */
/*
 * The library's one spelling of a thread-local variable (private):
 *
 *     static CTX__TLS struct thing *mine;
 *
 * C11 _Thread_local in the initial-exec model: one load from the thread
 * pointer on every access, no call to __tls_get_addr. The library keeps its
 * static thread-local data to a few hundred bytes (larger per-thread state,
 * such as buffers and the line cache, lives on the heap behind one of these
 * pointers), so that a program can still dlopen() it. Used by ctx/,
 * formatters/ and log/.
 */
#ifndef CTXLOG_CTX_TLS_H
#define CTXLOG_CTX_TLS_H

#define CTX__TLS _Thread_local __attribute__((tls_model("initial-exec")))

#endif /* CTXLOG_CTX_TLS_H */
