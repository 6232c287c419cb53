/* SPDX-License-Identifier: MIT */
/* UUIDv7 (RFC 9562): 48-bit Unix milliseconds, a 12-bit counter in rand_a
 * (method 1 of §6.2) so that one thread's ids are strictly increasing, and
 * 62 random bits. Random bits come from a per-thread generator seeded by
 * getrandom(2), which also makes the trace and span ids (ctx__random64). */
#include "ctx/ctx_internal.h"

#include <pthread.h>
#include <sys/random.h>
#include <time.h>

typedef struct uuid_state {
    uint64_t last_ms;
    uint32_t counter; /* 12 bits used */
    uint64_t rng[2];  /* xorshift128+ */
    int seeded;
} uuid_state;

static CTX__TLS uuid_state st;

static uint64_t rng_next(void)
{
    uint64_t s1 = st.rng[0];
    const uint64_t s0 = st.rng[1];
    st.rng[0] = s0;
    s1 ^= s1 << 23;
    st.rng[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
    return st.rng[1] + s0;
}

/* A forked child starts on a copy of the forking thread's generator: it
 * reseeds, or parent and child would make the same ids. */
static void forked_child(void)
{
    st.seeded = 0;
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void atfork_register(void)
{
    (void)pthread_atfork(NULL, NULL, forked_child);
}

static void seed(void)
{
    pthread_once(&atfork_once, atfork_register);
    if (getrandom(st.rng, sizeof st.rng, 0) != (ssize_t)sizeof st.rng) {
        /* No entropy source: mix time and the state's address instead. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        st.rng[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15u ^ (uint64_t)(uintptr_t)&st;
        st.rng[1] = (uint64_t)ts.tv_sec * 0xbf58476d1ce4e5b9u + 1;
    }
    if (!st.rng[0] && !st.rng[1])
        st.rng[1] = 1;
    st.seeded = 1;
}

uint64_t ctx__random64(void)
{
    if (!st.seeded)
        seed();
    return rng_next();
}

void ctx_uuid7(char out[CTX_UUID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    if (!out)
        return;
    if (!st.seeded)
        seed();
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    if (ms > st.last_ms) {
        st.last_ms = ms;
        /* Start low in the counter's range to leave room for increments. */
        st.counter = (uint32_t)(rng_next() & 0x7ff);
    } else if (++st.counter > 0xfff) {
        /* Counter exhausted within this millisecond: borrow the next one. */
        st.last_ms++;
        st.counter = (uint32_t)(rng_next() & 0x7ff);
    }
    ms = st.last_ms;
    uint64_t rb = rng_next();

    unsigned char b[16];
    for (int i = 0; i < 6; i++)
        b[i] = (unsigned char)(ms >> (40 - 8 * i));
    b[6] = (unsigned char)(0x70 | (st.counter >> 8));
    b[7] = (unsigned char)st.counter;
    b[8] = (unsigned char)(0x80 | ((rb >> 56) & 0x3f));
    for (int i = 9; i < 16; i++)
        b[i] = (unsigned char)(rb >> (8 * (15 - i)));

    char *p = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hex[b[i] >> 4];
        *p++ = hex[b[i] & 15];
    }
    *p = '\0';
}
