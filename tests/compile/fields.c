/* SPDX-License-Identifier: MIT */
/* Compiled, not run, by every C and C++ compiler found (see CMakeLists.txt
 * here), with -Wall -Wextra -pedantic -Werror: as it is it must compile
 * without a warning; with CTXLOG_BAD set to one of the cases below it must
 * be rejected, for the reason the case names. */
#include <ctxlog/ctxlog.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct point {
    int x, y;
};

int fields_use(json_t *j);
int fields_use(json_t *j)
{
    int ms = 3;
    unsigned long long big = 1;
    size_t n = 2;
    double ratio = 0.5;
    float f = 0.25f;
    bool ok = true;
    char buf[8] = "buf";
    const char *name = "disk";
    struct point p = {1, 2};

    log_info_kv("no field");
    log_info_kv("typed", LOG_STR("s", name), LOG_I64("i", ms), LOG_U64("u", big),
                LOG_F64("f", ratio), LOG_BOOL("b", ok), LOG_JSON("j", j));
    log_info_kv("inferred", LOG_KV("ms", ms), LOG_KV("big", big), LOG_KV("n", n),
                LOG_KV("ratio", ratio), LOG_KV("f", f), LOG_KV("ok", ok), LOG_KV("buf", buf),
                LOG_KV("name", name), LOG_KV("lit", "x"), LOG_KV("j", j));
    log_info_kvf(("took %d ms", ms), LOG_KV("ms", ms));
    log_info_kvf(("no field"));
    log_warn_kv_to(log_get("app"), "to a logger", LOG_KV("x", p.x));
    {
        CTX_REQUEST(NULL, "u-1", NULL);
        CTX_SCOPE(CTX_TENANT_ID, "acme");
        LOG_CONTEXT_LEVEL(LOG_LEVEL_DEBUG);
        log_logger *child = LOG_CHILD(log_get("app"), LOG_KV("y", p.y));
        log_logger_free(child);
    }
#if CTXLOG_BAD == 1 /* expect: no field type for a struct */
    log_info_kv("bad", LOG_KV("p", p));
#elif CTXLOG_BAD == 2 /* expect: the format does not match its argument */
    log_info_kvf(("took %d ms", name), LOG_KV("ms", ms));
#elif CTXLOG_BAD == 3 /* expect: no field type for another pointer */
    log_info_kv("bad", LOG_KV("p", &p));
#elif CTXLOG_BAD == 4 /* expect: no field type for long double */
    long double ld = 1;
    log_info_kv("bad", LOG_KV("ld", ld));
#endif
    return 0;
}
