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

/* The genesis record's fixed part; guardian keys and genesis entries follow. */
struct genesis_header {
    uint64_t magic;
    uint32_t version;
    uint32_t guardian_key_count;
    uint32_t genesis_count;
    uint32_t guardian_threshold;
    uint32_t accounts_max;
    uint32_t escrows_max;
    uint32_t unbonding_max;
    uint32_t proposals_max;
    uint32_t multisig_accounts_max;
    uint32_t multisig_keys_max;
    uint64_t chain_id;
    uint64_t params[UBC_LEDGER_PARAM_COUNT];
    uint8_t authority[UBC_LEDGER_KEY_BYTES];
    uint8_t treasury[UBC_LEDGER_KEY_BYTES];
    uint8_t guardian[UBC_LEDGER_KEY_BYTES];
};

#define GENESIS_ENTRY_BYTES (UBC_LEDGER_KEY_BYTES + sizeof(uint64_t))

static size_t
genesis_bytes(uint32_t keys, uint32_t entries)
{
    return sizeof(struct genesis_header) + (size_t)keys * UBC_LEDGER_KEY_BYTES +
           (size_t)entries * GENESIS_ENTRY_BYTES;
}

size_t
ubc_ledger_genesis_record_bytes(const struct ubc_ledger_config *config)
{
    return genesis_bytes(config->guardian_key_count, config->genesis_count);
}

int64_t
ubc_ledger_genesis_record_write(void *buf, size_t cap, const struct ubc_ledger_config *config)
{
    if (buf == NULL || config == NULL ||
        config->guardian_key_count > UBC_LEDGER_MULTISIG_KEYS_LIMIT ||
        config->genesis_count > UBC_LEDGER_GENESIS_ENTRIES_MAX)
        return -EINVAL;
    size_t bytes = ubc_ledger_genesis_record_bytes(config);
    if (cap < bytes)
        return -ENOSPC;
    struct genesis_header header;
    memset(&header, 0, sizeof(header));
    header.magic = UBC_LEDGER_GENESIS_MAGIC;
    header.version = 1;
    header.guardian_key_count = config->guardian_key_count;
    header.genesis_count = config->genesis_count;
    header.guardian_threshold = config->guardian_threshold;
    header.accounts_max = config->accounts_max;
    header.escrows_max = config->escrows_max;
    header.unbonding_max = config->unbonding_max;
    header.proposals_max = config->proposals_max;
    header.multisig_accounts_max = config->multisig_accounts_max;
    header.multisig_keys_max = config->multisig_keys_max;
    header.chain_id = config->chain_id;
    memcpy(header.params, config->params, sizeof(header.params));
    memcpy(header.authority, config->authority, UBC_LEDGER_KEY_BYTES);
    memcpy(header.treasury, config->treasury, UBC_LEDGER_KEY_BYTES);
    memcpy(header.guardian, config->guardian, UBC_LEDGER_KEY_BYTES);
    uint8_t *cursor = buf;
    memcpy(cursor, &header, sizeof(header));
    cursor += sizeof(header);
    for (uint32_t i = 0; i < config->guardian_key_count; i++, cursor += UBC_LEDGER_KEY_BYTES)
        memcpy(cursor, config->guardian_keys[i], UBC_LEDGER_KEY_BYTES);
    for (uint32_t i = 0; i < config->genesis_count; i++) {
        memcpy(cursor, config->genesis[i].key, UBC_LEDGER_KEY_BYTES);
        memcpy(cursor + UBC_LEDGER_KEY_BYTES, &config->genesis[i].balance, sizeof(uint64_t));
        cursor += GENESIS_ENTRY_BYTES;
    }
    UBC_ASSERT((size_t)(cursor - (uint8_t *)buf) == bytes);
    return (int64_t)bytes;
}

int
ubc_ledger_genesis_record_parse(const void *buf, size_t bytes, struct ubc_ledger_config *config,
                                struct ubc_ledger_genesis_storage *storage)
{
    struct genesis_header header;
    if (buf == NULL || config == NULL || storage == NULL || bytes < sizeof(header))
        return -EINVAL;
    memcpy(&header, buf, sizeof(header));
    if (header.magic != UBC_LEDGER_GENESIS_MAGIC || header.version != 1 ||
        header.guardian_key_count > UBC_LEDGER_MULTISIG_KEYS_LIMIT ||
        header.genesis_count > UBC_LEDGER_GENESIS_ENTRIES_MAX ||
        bytes != genesis_bytes(header.guardian_key_count, header.genesis_count))
        return -EINVAL;
    memset(config, 0, sizeof(*config));
    config->accounts_max = header.accounts_max;
    config->escrows_max = header.escrows_max;
    config->unbonding_max = header.unbonding_max;
    config->proposals_max = header.proposals_max;
    config->multisig_accounts_max = header.multisig_accounts_max;
    config->multisig_keys_max = header.multisig_keys_max;
    config->chain_id = header.chain_id;
    memcpy(config->params, header.params, sizeof(config->params));
    memcpy(config->authority, header.authority, UBC_LEDGER_KEY_BYTES);
    memcpy(config->treasury, header.treasury, UBC_LEDGER_KEY_BYTES);
    memcpy(config->guardian, header.guardian, UBC_LEDGER_KEY_BYTES);
    config->guardian_threshold = header.guardian_threshold;
    config->guardian_key_count = header.guardian_key_count;
    config->genesis_count = header.genesis_count;
    const uint8_t *cursor = (const uint8_t *)buf + sizeof(header);
    for (uint32_t i = 0; i < header.guardian_key_count; i++, cursor += UBC_LEDGER_KEY_BYTES)
        memcpy(storage->guardian_keys[i], cursor, UBC_LEDGER_KEY_BYTES);
    for (uint32_t i = 0; i < header.genesis_count; i++, cursor += GENESIS_ENTRY_BYTES) {
        memcpy(storage->entries[i].key, cursor, UBC_LEDGER_KEY_BYTES);
        memcpy(&storage->entries[i].balance, cursor + UBC_LEDGER_KEY_BYTES, sizeof(uint64_t));
    }
    config->guardian_keys = (const uint8_t(*)[UBC_LEDGER_KEY_BYTES])storage->guardian_keys;
    config->genesis = storage->entries;
    return 0;
}
