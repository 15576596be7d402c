/* fuzz_ledger.c: libFuzzer harness for the two places the ledger reads untrusted bytes: a
 * journal record (ubc_ledger_batch_record_parse, then replay/apply of what it holds) and raw op
 * records off the wire (verify stage, then apply). Invariants checked on every input: no crash,
 * supply conserved, counters equal a full scan. Built as a libFuzzer target with -Dfuzz=true
 * and clang; otherwise main() below drives it with deterministic mutations of valid records
 * (suite 'fast').
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/ubc_splitmix.h"
#include "ledger/ubc_ledger.h"

#define FUZZ_OPS_MAX 64u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t ledger_mem[1u << 20] __attribute__((aligned(64)));
static uint8_t guardian_keys[2][32];
static struct ubc_ledger_genesis_entry genesis[4];
static struct ubc_ledger_config config;

static void
key_of(uint32_t index, uint8_t key[32])
{
    memset(key, 0, 32);
    key[0] = (uint8_t)(index + 1);
    key[31] = 0x3c;
}

static struct ubc_ledger *
ledger_fresh(void)
{
    if (config.accounts_max == 0) {
        config.accounts_max = 16;
        config.escrows_max = 8;
        config.unbonding_max = 8;
        config.proposals_max = 2;
        config.multisig_accounts_max = 2;
        config.multisig_keys_max = 3;
        config.chain_id = 7;
        config.params[UBC_LEDGER_PARAM_THRESHOLD_BPS] = 5000;
        config.params[UBC_LEDGER_PARAM_VOTING_HEIGHTS] = 2;
        config.params[UBC_LEDGER_PARAM_EMISSION_PER_EPOCH] = 1000;
        config.params[UBC_LEDGER_PARAM_BURN_RATE_BPS] = 300;
        key_of(100, config.treasury);
        key_of(101, config.guardian);
        key_of(102, config.authority);
        key_of(0, guardian_keys[0]);
        key_of(1, guardian_keys[1]);
        config.guardian_keys = (const uint8_t(*)[32])guardian_keys;
        config.guardian_key_count = 2;
        config.guardian_threshold = 1;
        for (uint32_t i = 0; i < 4; i++) {
            key_of(i, genesis[i].key);
            genesis[i].balance = 1000000;
        }
        config.genesis = genesis;
        config.genesis_count = 4;
    }
    if (ubc_ledger_footprint(&config) > sizeof(ledger_mem) ||
        ubc_ledger_new(ledger_mem, &config) == NULL)
        abort();
    return ubc_ledger_join(ledger_mem);
}

static void
check(struct ubc_ledger *ledger)
{
    struct ubc_ledger_supply s;
    ubc_ledger_supply_get(ledger, &s);
    if (!s.conserved || !s.scan_matches)
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t buf[72 + FUZZ_OPS_MAX * 226] __attribute__((aligned(64)));
    static struct ubc_ledger_op ops[FUZZ_OPS_MAX];
    static uint16_t results[FUZZ_OPS_MAX];
    if (size > sizeof(buf))
        return 0;
    memcpy(buf, data, size);
    struct ubc_ledger *ledger = ledger_fresh();
    struct ubc_ledger_audit audit;
    const struct ubc_ledger_op *record_ops;
    const uint16_t *record_results;
    if (ubc_ledger_batch_record_parse(buf, size, &audit, &record_ops, &record_results) == 0) {
        (void)ubc_ledger_replay_batch(ledger, record_ops, audit.op_count, record_results, &audit,
                                      results);
        check(ledger);
        ledger = ledger_fresh();
    }
    /* The same bytes as raw ops from the wire: the verify stage marks them, then apply. */
    uint32_t n = (uint32_t)(size / sizeof(struct ubc_ledger_op));
    memcpy(ops, data, (size_t)n * sizeof(struct ubc_ledger_op));
    ubc_ledger_verify_batch(config.chain_id, ops, n);
    if (ubc_ledger_apply_batch(ledger, ops, n, 1, results, &audit) != 0)
        abort();
    check(ledger);
    /* And unverified but marked as the verify stage could have: the apply path alone. */
    memcpy(ops, data, (size_t)n * sizeof(struct ubc_ledger_op));
    if (ubc_ledger_apply_batch(ledger, ops, n, 2, results, &audit) != 0)
        abort();
    check(ledger);
    return 0;
}

#ifndef UBC_LEDGER_LIBFUZZER
static uint64_t
rng_next(uint64_t *s)
{
    return ubc_splitmix64(s);
}

/* A valid record of plausible ops (escrow, transfers by genesis keys), mutated per round. */
int
main(void)
{
    if (sodium_init() < 0)
        return 1;
    static uint8_t seed[72 + 8 * 226] __attribute__((aligned(64)));
    static uint8_t input[sizeof(seed)] __attribute__((aligned(64)));
    struct ubc_ledger_op ops[8];
    uint16_t results[8] = { 0 };
    memset(ops, 0, sizeof(ops));
    for (uint32_t i = 0; i < 8; i++) {
        ops[i].kind = (uint8_t)(1 + i % 19);
        ops[i].nonce = 1;
        key_of(i % 4, ops[i].account);
        key_of(i % 4, ops[i].signer);
        key_of((i + 1) % 4, ops[i].args.u.transfer.target);
        ops[i].args.u.transfer.amount = 100 * i;
        ops[i].verify = (uint8_t)(i % 4);
    }
    struct ubc_ledger_audit audit = { .height = 3, .op_count = 8 };
    if (ubc_ledger_batch_record_write(seed, sizeof(seed), &audit, ops, results) < 0)
        return 1;
    uint64_t rng = 0xf022;
    for (uint32_t round = 0; round < 1500; round++) {
        memcpy(input, seed, sizeof(seed));
        size_t size = sizeof(seed);
        if (rng_next(&rng) % 8 == 0)
            size = rng_next(&rng) % sizeof(seed);
        for (uint64_t k = rng_next(&rng) % 12; k > 0; k--)
            input[rng_next(&rng) % sizeof(seed)] = (uint8_t)rng_next(&rng);
        LLVMFuzzerTestOneInput(input, size);
    }
    printf("fuzz_ledger: 1500 mutated inputs, invariants held\n");
    return 0;
}
#endif
