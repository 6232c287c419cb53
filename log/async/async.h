/* SPDX-License-Identifier: MIT */
/*
 * Async mode (private): each logging thread's queue (async_ring.c) and the
 * background thread (async_writer.c), which writes the queued records to
 * their sinks and writes out the sinks' buffers when they fall due. Called
 * by the core and the set-up; calls the sinks.
 */
#ifndef CTXLOG_ASYNC_H
#define CTXLOG_ASYNC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log/sinks/sinks.h"

/* Size of each thread's queue and what happens when it is full. */
void log__async_configure(size_t queue_bytes, bool drop);
/* From a fatal signal handler: write out every queued record, no locks. */
void log__rings_crash_write(void);

/* 0: records are written on the logging thread; 1: handed to the writer. */
extern atomic_int log__async_on;

/* Hand a formatted record for `s` to the writer through the calling
 * thread's queue (overflow as configured). */
void log__async_put(log_sink *s, const char *text, size_t len, int urgent);
/* Start or stop async mode (stopping writes out what is queued). */
int log__async_set(bool on, size_t queue_bytes, bool drop);
/* Start or stop async mode and keep the queue size and overflow policy
 * (the environment's switch, which must not undo a file's options). */
int log__async_turn(bool on);
/* Wait until everything queued before the call is written out. */
void log__async_drain(void);
/* The background thread: async writer, and flusher of sync buffers. */
void log__writer_kick(void);      /* a buffer became non-empty */
/* A buffer became non-empty at `since_ns`: kick the background thread
 * unless it will look at the buffers by then anyway. */
void log__writer_due(uint64_t since_ns);
void log__writer_wake(void);      /* records were queued while it slept */

#endif /* CTXLOG_ASYNC_H */
