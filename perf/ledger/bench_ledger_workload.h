/* bench_ledger_workload.h: the ledger harnesses' shared workloads: deterministic keys, a funded
 * ledger, pre-verified transfers among random pairs, and escrow lock / final release cycles with
 * IN_FLIGHT escrows open. Benchmark code, single-threaded; it allocates freely. The footprint of
 * the last ledger made is in bench_ledger_bytes.
 */
#ifndef BENCH_LEDGER_WORKLOAD_H
#define BENCH_LEDGER_WORKLOAD_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/ubc_assert.h"
#include "common/ubc_splitmix.h"
#include "ledger/ubc_ledger.h"

#define IN_FLIGHT 256u

static size_t bench_ledger_bytes;

static uint64_t rng_state = 0xbe11c4;

static uint64_t
rng_next(void)
{
    return ubc_splitmix64(&rng_state);
}

static void
key_of(uint32_t index, uint8_t key[32])
{
    uint64_t words[4] = { index * 0x9e3779b97f4a7c15ull + 1, index, ~(uint64_t)index, 77 };
    memcpy(key, words, 32);
}

static struct ubc_ledger *
ledger_open(uint32_t accounts, void **mem_out)
{
    static uint8_t guardian_keys[1][32];
    struct ubc_ledger_genesis_entry *genesis = calloc(accounts, sizeof(*genesis));
    struct ubc_ledger_config c;
    memset(&c, 0, sizeof(c));
    c.accounts_max = accounts + 16;
    c.escrows_max = IN_FLIGHT + 8;
    c.unbonding_max = 1024;
    c.proposals_max = 8;
    c.multisig_accounts_max = 4;
    c.multisig_keys_max = 4;
    c.chain_id = 1;
    c.params[UBC_LEDGER_PARAM_BURN_RATE_BPS] = 500;
    c.params[UBC_LEDGER_PARAM_THRESHOLD_BPS] = 5000;
    c.params[UBC_LEDGER_PARAM_VOTING_HEIGHTS] = 10;
    memset(c.treasury, 0xee, 32);
    memset(c.guardian, 0xdd, 32);
    c.guardian_keys = (const uint8_t(*)[32])guardian_keys;
    c.guardian_key_count = 1;
    c.guardian_threshold = 1;
    for (uint32_t i = 0; i < accounts; i++) {
        key_of(i, genesis[i].key);
        genesis[i].balance = 1000000000000ull;
    }
    c.genesis = genesis;
    c.genesis_count = accounts;
    size_t footprint = ubc_ledger_footprint(&c);
    bench_ledger_bytes = footprint;
    UBC_ASSERT(footprint > 0);
    void *mem = aligned_alloc(ubc_ledger_align(), (footprint + 63) & ~(size_t)63);
    UBC_ASSERT(mem != NULL && ubc_ledger_new(mem, &c) != NULL);
    free(genesis);
    *mem_out = mem;
    return ubc_ledger_join(mem);
}

/* ---- workloads ---- */

static struct ubc_ledger_op *
transfers_make(uint32_t accounts, uint64_t total)
{
    struct ubc_ledger_op *ops = calloc(total, sizeof(*ops));
    uint64_t *nonces = calloc(accounts, sizeof(*nonces));
    UBC_ASSERT(ops != NULL && nonces != NULL);
    for (uint64_t i = 0; i < total; i++) {
        uint32_t from = (uint32_t)(rng_next() % accounts), to = (uint32_t)(rng_next() % accounts);
        ops[i].kind = UBC_LEDGER_OP_TRANSFER;
        ops[i].verify = UBC_LEDGER_VERIFY_OK;
        ops[i].nonce = ++nonces[from];
        key_of(from, ops[i].account);
        key_of(from, ops[i].signer);
        key_of(to, ops[i].args.u.transfer.target);
        ops[i].args.u.transfer.amount = 1 + rng_next() % 1000;
    }
    free(nonces);
    return ops;
}

/* lock(j) followed, IN_FLIGHT locks later, by the final release of j. */
static struct ubc_ledger_op *
escrows_make(uint32_t accounts, uint64_t total)
{
    struct ubc_ledger_op *ops = calloc(total, sizeof(*ops));
    UBC_ASSERT(ops != NULL);
    uint32_t *owners = calloc(total, sizeof(*owners));
    uint64_t locks = 0, releases = 0;
    for (uint64_t i = 0; i < total; i++) {
        struct ubc_ledger_op *op = &ops[i];
        int lock = (i % 2 == 0 && locks < total / 2) || releases + IN_FLIGHT / 2 > locks;
        lock = lock && !(locks >= releases + IN_FLIGHT);
        uint64_t job = lock ? locks : releases;
        if (lock)
            owners[job] = (uint32_t)(rng_next() % accounts);
        op->kind = lock ? UBC_LEDGER_OP_ESCROW_LOCK : UBC_LEDGER_OP_ESCROW_RELEASE;
        op->flags = lock ? 0 : UBC_LEDGER_FLAG_RELEASE_FINAL;
        op->verify = UBC_LEDGER_VERIFY_INTERNAL;
        key_of(owners[job], op->account);
        op->args.u.escrow.job_id = job;
        op->args.u.escrow.amount = 1000;
        key_of((uint32_t)(rng_next() % accounts), op->args.u.escrow.provider);
        locks += lock;
        releases += !lock;
    }
    free(owners);
    return ops;
}

#endif /* BENCH_LEDGER_WORKLOAD_H */
