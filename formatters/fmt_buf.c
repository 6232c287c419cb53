/* SPDX-License-Identifier: MIT */
/* The growable byte buffer formatters write records into. */
#include "formatters/fmt_record.h"

#include <stdlib.h>
#include <string.h>

int fmt_buf_grow(fmt_buf *b, size_t extra)
{
    if (b->oom)
        return -1;
    if (b->cap - b->len >= extra)
        return 0;
    if (b->fixed) {
        b->oom = 1;
        return -1;
    }
    size_t need = b->len + extra;
    if (need < b->len) { /* overflow */
        b->oom = 1;
        return -1;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

void fmt_buf_free(fmt_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}
