/* ledger_test_util.h: fixtures for the ledger tests: deterministic keys, a small ledger, op
 * builders, and a one-batch apply helper. Test code, single-threaded; the fixture owns the
 * ledger memory (aligned_alloc in setup, free in teardown).
 */
#ifndef LEDGER_TEST_UTIL_H
#define LEDGER_TEST_UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ledger/ubc_ledger.h"

#define TEST_CHAIN_ID 0x7562636c65646772ull
#define TEST_KEYS 24u
#define TEST_GUARDIANS 3u

struct test_key {
    uint8_t public_key[crypto_sign_PUBLICKEYBYTES];
    uint8_t secret_key[crypto_sign_SECRETKEYBYTES];
};

struct test_fixture {
    void *mem;
    struct ubc_ledger *ledger;
    struct ubc_ledger_config config;
    struct test_key users[TEST_KEYS];
    struct test_key authority;
    struct test_key guardians[TEST_GUARDIANS];
    uint8_t guardian_keys[TEST_GUARDIANS][32];
    struct ubc_ledger_genesis_entry genesis[TEST_KEYS];
    uint64_t height;
    uint64_t nonces[TEST_KEYS + 1]; /* last nonce used per user; [TEST_KEYS] = guardian */
};

static inline void
test_key_make(struct test_key *k, uint32_t index)
{
    uint8_t seed[crypto_sign_SEEDBYTES];
    memset(seed, 0, sizeof(seed));
    memcpy(seed, &index, sizeof(index));
    seed[31] = 0x5a;
    crypto_sign_seed_keypair(k->public_key, k->secret_key, seed);
}

static inline void
test_config_default(struct test_fixture *f, uint32_t funded, uint64_t balance)
{
    struct ubc_ledger_config *c = &f->config;
    memset(c, 0, sizeof(*c));
    c->accounts_max = 64;
    c->escrows_max = 32;
    c->unbonding_max = 16;
    c->proposals_max = 4;
    c->multisig_accounts_max = 4;
    c->multisig_keys_max = 4;
    c->chain_id = TEST_CHAIN_ID;
    c->params[UBC_LEDGER_PARAM_BURN_RATE_BPS] = 500; /* 5% */
    c->params[UBC_LEDGER_PARAM_MIN_STAKE] = 100;
    c->params[UBC_LEDGER_PARAM_UNBONDING_HEIGHTS] = 10;
    c->params[UBC_LEDGER_PARAM_QUORUM_BPS] = 3000;
    c->params[UBC_LEDGER_PARAM_THRESHOLD_BPS] = 5000;
    c->params[UBC_LEDGER_PARAM_VOTING_HEIGHTS] = 5;
    c->params[UBC_LEDGER_PARAM_TIMELOCK_HEIGHTS] = 3;
    c->params[UBC_LEDGER_PARAM_EMISSION_PER_EPOCH] = 10000;
    c->params[UBC_LEDGER_PARAM_REWARD_WORK_BPS] = 6000;
    memcpy(c->authority, f->authority.public_key, 32);
    memset(c->treasury, 0x77, 32);
    memset(c->guardian, 0x99, 32);
    for (uint32_t g = 0; g < TEST_GUARDIANS; g++)
        memcpy(f->guardian_keys[g], f->guardians[g].public_key, 32);
    c->guardian_keys = (const uint8_t(*)[32])f->guardian_keys;
    c->guardian_key_count = TEST_GUARDIANS;
    c->guardian_threshold = 2;
    for (uint32_t i = 0; i < funded && i < TEST_KEYS; i++) {
        memcpy(f->genesis[i].key, f->users[i].public_key, 32);
        f->genesis[i].balance = balance;
    }
    c->genesis = f->genesis;
    c->genesis_count = funded;
}

static inline void
test_keys_make(struct test_fixture *f)
{
    for (uint32_t i = 0; i < TEST_KEYS; i++)
        test_key_make(&f->users[i], i);
    test_key_make(&f->authority, 1000);
    for (uint32_t g = 0; g < TEST_GUARDIANS; g++)
        test_key_make(&f->guardians[g], 2000 + g);
}

/* Formats the ledger from f->config; returns 0 or -1. */
static inline int
test_ledger_open(struct test_fixture *f)
{
    size_t footprint = ubc_ledger_footprint(&f->config);
    if (footprint == 0)
        return -1;
    f->mem = aligned_alloc(ubc_ledger_align(), (footprint + 63) & ~(size_t)63);
    if (f->mem == NULL || ubc_ledger_new(f->mem, &f->config) == NULL)
        return -1;
    f->ledger = ubc_ledger_join(f->mem);
    f->height = 1;
    memset(f->nonces, 0, sizeof(f->nonces));
    return f->ledger == NULL ? -1 : 0;
}

static inline void
test_ledger_close(struct test_fixture *f)
{
    if (f->mem != NULL) {
        ubc_ledger_delete(ubc_ledger_leave(f->ledger));
        free(f->mem);
    }
    f->mem = NULL;
    f->ledger = NULL;
}

/* An op by user i with the next nonce, signed and verified. */
static inline struct ubc_ledger_op
test_op_user(struct test_fixture *f, uint32_t user, uint8_t kind)
{
    struct ubc_ledger_op op;
    memset(&op, 0, sizeof(op));
    op.kind = kind;
    op.nonce = ++f->nonces[user];
    memcpy(op.account, f->users[user].public_key, 32);
    return op;
}

static inline void
test_op_sign(struct ubc_ledger_op *op, const struct test_key *k)
{
    ubc_ledger_op_sign(TEST_CHAIN_ID, op, k->secret_key);
    op->verify = UBC_LEDGER_VERIFY_NONE;
}

/* An op on the node's authority, marked internal. */
static inline struct ubc_ledger_op
test_op_node(const uint8_t *subject, uint8_t kind)
{
    struct ubc_ledger_op op;
    memset(&op, 0, sizeof(op));
    op.kind = kind;
    if (subject != NULL)
        memcpy(op.account, subject, 32);
    ubc_ledger_mark_internal(&op, 1);
    return op;
}

/* Verifies (unless already marked) and applies ops as one batch at f->height; returns the
 * result of ops[0]. */
static inline uint16_t
test_apply(struct test_fixture *f, struct ubc_ledger_op *ops, uint32_t n, uint16_t *results)
{
    uint32_t begin = 0;
    for (uint32_t i = 0; i <= n; i++) {
        int internal =
            i < n && ops[i].verify != UBC_LEDGER_VERIFY_NONE && ops[i].kind != UBC_LEDGER_OP_COSIGN;
        if (i == n || internal) {
            if (i > begin)
                ubc_ledger_verify_batch(TEST_CHAIN_ID, &ops[begin], i - begin);
            begin = i + 1;
        }
    }
    struct ubc_ledger_audit audit;
    uint16_t local[64];
    uint16_t *out = results != NULL ? results : local;
    if (ubc_ledger_apply_batch(f->ledger, ops, n, f->height, out, &audit) != 0)
        return UINT16_MAX;
    return out[0];
}

static inline uint16_t
test_apply_one(struct test_fixture *f, struct ubc_ledger_op op)
{
    return test_apply(f, &op, 1, NULL);
}

static inline struct ubc_ledger_account_info
test_account(struct test_fixture *f, const uint8_t *key)
{
    struct ubc_ledger_account_info info;
    memset(&info, 0, sizeof(info));
    ubc_ledger_account_get(f->ledger, key, &info);
    return info;
}

#endif /* LEDGER_TEST_UTIL_H */
