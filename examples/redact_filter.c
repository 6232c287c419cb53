/* SPDX-License-Identifier: MIT */
/*
 * A user filter that keeps secrets out of the logs. It runs on every record
 * before any sink sees it (after the context filter that stamps the ids),
 * replaces the value of every field named "password" or "card_number" with
 * "[REDACTED]", whatever its type, and marks the record with "redacted":
 * true. Fields bound to a child logger are record fields too, so they are
 * covered. The message text is not: pass secrets as fields, never inside the
 * format string.
 *
 * Records (tests/test_redact_filter.c checks them):
 *     "login"              password redacted, user kept
 *     "payment"            card_number redacted, amount_cents kept
 *     "refund"             a numeric card_number, redacted all the same
 *     "charge authorised"  card_number bound to a child logger, redacted;
 *                          with the request's ids
 *     "profile updated"    no secret: unchanged, no "redacted" field
 *
 * Run: ./redact_filter            (JSON lines on stdout)
 */
#include <stdint.h>
#include <string.h>

#include <ctxlog/ctxlog.h>

static const char *const secret_keys[] = {"password", "card_number"};
#define N_SECRET_KEYS (sizeof secret_keys / sizeof secret_keys[0])

static int is_secret(const char *key)
{
    for (size_t k = 0; key && k < N_SECRET_KEYS; k++)
        if (strcmp(key, secret_keys[k]) == 0)
            return 1;
    return 0;
}

/* Called on the logging thread, possibly by many threads at once: it
 * touches nothing but the record. The record is the filter's own copy, so
 * replacing a field changes what is written, not the caller's data. */
static log_filter_result redact(log_record *rec, void *payload)
{
    (void)payload;
    int hidden = 0;
    for (size_t i = 0; i < rec->n_fields; i++) {
        if (is_secret(rec->fields[i].key)) {
            rec->fields[i] = LOG_STR(rec->fields[i].key, "[REDACTED]");
            hidden = 1;
        }
    }
    /* Key and value must outlive the record: static strings. */
    if (hidden)
        (void)log_record_add_field(rec, LOG_BOOL("redacted", true));
    return LOG_FILTER_KEEP;
}

static void charge(const char *card)
{
    /* A child logger with the card bound to every record it writes. */
    log_logger *pay = LOG_CHILD(log_get("app.pay"), LOG_STR("card_number", card));
    if (!pay)
        return;
    log_info_kv_to(pay, "charge authorised", LOG_I64("amount_cents", 1299));
    log_logger_free(pay);
}

int main(void)
{
    /* Added first thing: it stays in force when the environment or a
     * configuration file (CTXLOG_CONFIG) is applied at the first record. */
    if (log_logger_add_filter(NULL, redact, NULL) != 0)
        return 1;

    log_info_kv("login", LOG_STR("user", "alice"), LOG_STR("password", "hunter2"));
    log_info_kv("payment", LOG_STR("card_number", "4111 1111 1111 1111"),
                LOG_I64("amount_cents", 1299));
    log_warn_kv("refund", LOG_U64("card_number", UINT64_C(4012888888881881)),
                LOG_I64("amount_cents", -500));
    {
        CTX_REQUEST("req-42", "alice", "acme");
        charge("5500 0000 0000 0004");
    }
    log_info_kv("profile updated", LOG_STR("email", "alice@example.com"));
    return 0;
}
