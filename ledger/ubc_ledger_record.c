/* ubc_ledger_record.c: the journal record of an applied batch (see ubc_ledger.h). Pure
 * functions over caller buffers; any thread. Parsing never trusts the buffer. */
#include <errno.h>
#include <string.h>

#include "ledger/ubc_ledger.h"

UBC_STATIC_ASSERT(sizeof(struct ubc_ledger_audit) % 8 == 0, "ops follow the audit aligned");

size_t
ubc_ledger_batch_record_bytes(uint32_t n)
{
    return sizeof(struct ubc_ledger_audit) + (size_t)n * (sizeof(struct ubc_ledger_op) + 2);
}

int64_t
ubc_ledger_batch_record_write(void *buf, size_t cap, const struct ubc_ledger_audit *audit,
                              const struct ubc_ledger_op *ops, const uint16_t *results)
{
    if (buf == NULL || audit == NULL || audit->op_count > UBC_LEDGER_BATCH_MAX ||
        (audit->op_count > 0 && (ops == NULL || results == NULL)))
        return -EINVAL;
    uint32_t n = audit->op_count;
    size_t bytes = ubc_ledger_batch_record_bytes(n);
    if (cap < bytes)
        return -ENOSPC;
    uint8_t *cursor = buf;
    memcpy(cursor, audit, sizeof(*audit));
    cursor += sizeof(*audit);
    if (n > 0) {
        memcpy(cursor, ops, (size_t)n * sizeof(*ops));
        cursor += (size_t)n * sizeof(*ops);
        memcpy(cursor, results, (size_t)n * sizeof(*results));
        cursor += (size_t)n * sizeof(*results);
    }
    UBC_ASSERT((size_t)(cursor - (uint8_t *)buf) == bytes);
    return (int64_t)bytes;
}

int
ubc_ledger_batch_record_parse(const void *buf, size_t bytes, struct ubc_ledger_audit *audit,
                              const struct ubc_ledger_op **ops, const uint16_t **results)
{
    if (buf == NULL || ((uintptr_t)buf % 8) != 0 || bytes < sizeof(*audit))
        return -EINVAL;
    memcpy(audit, buf, sizeof(*audit));
    if (audit->op_count > UBC_LEDGER_BATCH_MAX ||
        bytes != ubc_ledger_batch_record_bytes(audit->op_count))
        return -EINVAL;
    const uint8_t *base = buf;
    *ops = (const struct ubc_ledger_op *)(base + sizeof(*audit));
    *results = (const uint16_t *)(base + sizeof(*audit) +
                                  (size_t)audit->op_count * sizeof(struct ubc_ledger_op));
    return 0;
}

int
ubc_ledger_replay(struct ubc_ledger *ledger, const void *record, size_t bytes, uint16_t *scratch,
                  struct ubc_ledger_audit *audit_out)
{
    struct ubc_ledger_audit audit;
    const struct ubc_ledger_op *ops;
    const uint16_t *results;
    int rc = ubc_ledger_batch_record_parse(record, bytes, &audit, &ops, &results);
    if (rc != 0)
        return rc;
    if (audit_out != NULL)
        *audit_out = audit;
    return ubc_ledger_replay_batch(ledger, ops, audit.op_count, results, &audit, scratch);
}
