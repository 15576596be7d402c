/* test_ledger_ops.c: every ledger operation and every result code, including each refusal. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "ledger/ubc_ledger_settle.h"
#include "ledger_test_util.h"

static struct test_fixture fixture;

static int
setup(void **state)
{
    memset(&fixture, 0, sizeof(fixture));
    test_keys_make(&fixture);
    test_config_default(&fixture, 8, 10000);
    *state = &fixture;
    return test_ledger_open(&fixture);
}

static int
teardown(void **state)
{
    test_ledger_close(*state);
    return 0;
}

static struct ubc_ledger_op
transfer_op(struct test_fixture *f, uint32_t from, const uint8_t *to, uint64_t amount)
{
    struct ubc_ledger_op op = test_op_user(f, from, UBC_LEDGER_OP_TRANSFER);
    memcpy(op.args.u.transfer.target, to, 32);
    op.args.u.transfer.amount = amount;
    test_op_sign(&op, &f->users[from]);
    return op;
}

static struct ubc_ledger_op
amount_op(struct test_fixture *f, uint32_t user, uint8_t kind, uint64_t amount)
{
    struct ubc_ledger_op op = test_op_user(f, user, kind);
    op.args.u.amount.amount = amount;
    test_op_sign(&op, &f->users[user]);
    return op;
}

static void
assert_conserved(struct test_fixture *f)
{
    struct ubc_ledger_supply s;
    ubc_ledger_supply_get(f->ledger, &s);
    assert_true(s.conserved);
    assert_true(s.scan_matches);
}

static void
test_lifecycle(void **state)
{
    struct test_fixture *f = *state;
    struct ubc_ledger_config bad = f->config;
    bad.accounts_max = 0;
    assert_int_equal(ubc_ledger_footprint(&bad), 0);
    bad = f->config;
    bad.guardian_threshold = 4;
    assert_int_equal(ubc_ledger_footprint(&bad), 0);
    bad = f->config;
    bad.params[UBC_LEDGER_PARAM_BURN_RATE_BPS] = 10001;
    assert_int_equal(ubc_ledger_footprint(&bad), 0);
    assert_int_equal(ubc_ledger_footprint(NULL), 0);
    assert_true(ubc_ledger_footprint(&f->config) > 0);
    uint64_t junk[16] __attribute__((aligned(64))) = { 0 };
    assert_null(ubc_ledger_join(junk));
    assert_non_null(ubc_ledger_join(f->mem));
    struct ubc_ledger_supply s;
    ubc_ledger_supply_get(f->ledger, &s);
    assert_int_equal(s.minted, 80000);
    assert_int_equal(s.balances, 80000);
    assert_int_equal(test_account(f, f->users[0].public_key).balance, 10000);
    struct ubc_ledger_summary summary;
    ubc_ledger_summary_read(f->ledger, &summary);
    assert_int_equal(summary.minted, 80000);
    assert_int_equal(summary.account_count, 10); /* 8 users, treasury, guardian */
    assert_int_equal(ubc_ledger_height(f->ledger), 0);
    test_apply(f, NULL, 0, NULL);
    assert_int_equal(ubc_ledger_height(f->ledger), 1);
    assert_conserved(f);
}

static void
test_create_account(void **state)
{
    struct test_fixture *f = *state;
    struct ubc_ledger_op op = test_op_user(f, 10, UBC_LEDGER_OP_CREATE_ACCOUNT);
    op.nonce = 0;
    test_op_sign(&op, &f->users[10]);
    assert_int_equal(test_apply_one(f, op), UBC_LEDGER_OK);
    op.verify = UBC_LEDGER_VERIFY_NONE;
    assert_int_equal(test_apply_one(f, op), UBC_LEDGER_ERR_ACCOUNT_EXISTS);
    /* Someone else cannot create an account for a key they do not hold. */
    struct ubc_ledger_op other = test_op_user(f, 11, UBC_LEDGER_OP_CREATE_ACCOUNT);
    test_op_sign(&other, &f->users[0]);
    assert_int_equal(test_apply_one(f, other), UBC_LEDGER_ERR_UNAUTHORIZED);
    /* The node may open accounts (providers' payment keys). */
    struct ubc_ledger_op node = test_op_node(f->users[11].public_key, UBC_LEDGER_OP_CREATE_ACCOUNT);
    assert_int_equal(test_apply_one(f, node), UBC_LEDGER_OK);
    assert_int_equal(ubc_ledger_account_get(f->ledger, f->users[11].public_key,
                                            &(struct ubc_ledger_account_info){ 0 }),
                     0);
    uint8_t missing[32] = { 1 };
    struct ubc_ledger_account_info info;
    assert_int_equal(ubc_ledger_account_get(f->ledger, missing, &info), -ENOENT);
}

static void
test_create_account_full(void **state)
{
    struct test_fixture *f = *state;
    uint32_t created = 0;
    uint16_t r = UBC_LEDGER_OK;
    for (uint32_t i = 0; i < 64 && r == UBC_LEDGER_OK; i++) {
        uint8_t key[32];
        memset(key, 0, sizeof(key));
        memcpy(key, &i, sizeof(i));
        key[31] = 0xee;
        r = test_apply_one(f, test_op_node(key, UBC_LEDGER_OP_CREATE_ACCOUNT));
        created += r == UBC_LEDGER_OK;
    }
    assert_int_equal(r, UBC_LEDGER_ERR_FULL);
    assert_int_equal(created, 64 - 10);
    /* A payment to a provider without an account cannot open one either. */
    struct ubc_ledger_op lock = test_op_node(f->users[0].public_key, UBC_LEDGER_OP_ESCROW_LOCK);
    lock.args.u.escrow.job_id = 1;
    lock.args.u.escrow.amount = 10;
    assert_int_equal(test_apply_one(f, lock), UBC_LEDGER_OK);
    struct ubc_ledger_op release = lock;
    release.kind = UBC_LEDGER_OP_ESCROW_RELEASE;
    memcpy(release.args.u.escrow.provider, f->users[20].public_key, 32);
    assert_int_equal(test_apply_one(f, release), UBC_LEDGER_ERR_FULL);
    assert_int_equal(test_account(f, f->users[0].public_key).escrowed, 10);
}

static void
test_transfer(void **state)
{
    struct test_fixture *f = *state;
    assert_int_equal(test_apply_one(f, transfer_op(f, 0, f->users[1].public_key, 2500)),
                     UBC_LEDGER_OK);
    assert_int_equal(test_account(f, f->users[0].public_key).balance, 7500);
    assert_int_equal(test_account(f, f->users[1].public_key).balance, 12500);
    assert_int_equal(test_account(f, f->users[0].public_key).nonce, 1);
    assert_int_equal(test_apply_one(f, transfer_op(f, 0, f->users[1].public_key, 7501)),
                     UBC_LEDGER_ERR_INSUFFICIENT_FUNDS);
    /* The refused attempt consumed its nonce: the signed op can never be replayed later. */
    assert_int_equal(test_account(f, f->users[0].public_key).nonce, 2);
    assert_int_equal(test_apply_one(f, transfer_op(f, 0, f->users[20].public_key, 1)),
                     UBC_LEDGER_ERR_NO_ACCOUNT);
    assert_int_equal(test_apply_one(f, transfer_op(f, 0, f->users[0].public_key, 5)),
                     UBC_LEDGER_OK);
    assert_int_equal(test_account(f, f->users[0].public_key).balance, 7500);
    assert_conserved(f);
}

static void
test_transfer_refusals(void **state)
{
    struct test_fixture *f = *state;
    struct ubc_ledger_op op = transfer_op(f, 0, f->users[1].public_key, 10);
    assert_int_equal(test_apply_one(f, op), UBC_LEDGER_OK);
    op.verify = UBC_LEDGER_VERIFY_NONE;
    assert_int_equal(test_apply_one(f, op), UBC_LEDGER_ERR_NONCE); /* replay */
    op = transfer_op(f, 0, f->users[1].public_key, 10);
    op.nonce += 5;
    test_op_sign(&op, &f->users[0]);
    assert_int_equal(test_apply_one(f, op), UBC_LEDGER_ERR_NONCE);
    f->nonces[0] -= 5 + 1;
    op = transfer_op(f, 0, f->users[1].public_key, 10);
    op.args.u.transfer.amount = 9999; /* tampered after signing */
    assert_int_equal(test_apply_one(f, op), UBC_LEDGER_ERR_BAD_SIGNATURE);
    op = transfer_op(f, 0, f->users[1].public_key, 10);
    test_op_sign(&op, &f->users[1]); /* valid signature by the wrong key */
    assert_int_equal(test_apply_one(f, op), UBC_LEDGER_ERR_UNAUTHORIZED);
    op.verify = UBC_LEDGER_VERIFY_NONE;
    struct ubc_ledger_audit audit;
    uint16_t result = 0;
    assert_int_equal(ubc_ledger_apply_batch(f->ledger, &op, 1, f->height, &result, &audit), 0);
    assert_int_equal(result, UBC_LEDGER_ERR_NOT_VERIFIED);
    ubc_ledger_mark_internal(&op, 1); /* the node cannot move a user's funds */
    assert_int_equal(test_apply_one(f, op), UBC_LEDGER_ERR_UNAUTHORIZED);
    op.reserved = 1;
    assert_int_equal(test_apply_one(f, op), UBC_LEDGER_ERR_MALFORMED);
    op.reserved = 0;
    op.kind = 200;
    assert_int_equal(test_apply_one(f, op), UBC_LEDGER_ERR_MALFORMED);
    assert_int_equal(test_account(f, f->users[0].public_key).balance, 9990);
}

static void
test_stake_unstake(void **state)
{
    struct test_fixture *f = *state;
    const uint8_t *k0 = f->users[0].public_key;
    assert_int_equal(test_apply_one(f, amount_op(f, 0, UBC_LEDGER_OP_STAKE, 50)),
                     UBC_LEDGER_ERR_MIN_STAKE);
    assert_int_equal(test_apply_one(f, amount_op(f, 0, UBC_LEDGER_OP_STAKE, 0)),
                     UBC_LEDGER_ERR_MALFORMED);
    assert_int_equal(test_apply_one(f, amount_op(f, 0, UBC_LEDGER_OP_STAKE, 20000)),
                     UBC_LEDGER_ERR_INSUFFICIENT_FUNDS);
    assert_int_equal(test_apply_one(f, amount_op(f, 0, UBC_LEDGER_OP_STAKE, 1000)), UBC_LEDGER_OK);
    assert_int_equal(test_account(f, k0).staked, 1000);
    assert_int_equal(test_account(f, k0).balance, 9000);
    assert_int_equal(test_apply_one(f, amount_op(f, 0, UBC_LEDGER_OP_UNSTAKE, 950)),
                     UBC_LEDGER_ERR_MIN_STAKE);
    assert_int_equal(test_apply_one(f, amount_op(f, 0, UBC_LEDGER_OP_UNSTAKE, 1001)),
                     UBC_LEDGER_ERR_INSUFFICIENT_FUNDS);
    assert_int_equal(test_apply_one(f, amount_op(f, 0, UBC_LEDGER_OP_UNSTAKE, 0)),
                     UBC_LEDGER_ERR_MALFORMED);
    assert_int_equal(test_apply_one(f, amount_op(f, 0, UBC_LEDGER_OP_UNSTAKE, 400)), UBC_LEDGER_OK);
    assert_int_equal(test_account(f, k0).unbonding, 400);
    /* The time lock: 10 heights after height 1, released at height 11, not before. */
    f->height = 10;
    test_apply(f, NULL, 0, NULL);
    assert_int_equal(test_account(f, k0).unbonding, 400);
    f->height = 11;
    test_apply(f, NULL, 0, NULL);
    assert_int_equal(test_account(f, k0).unbonding, 0);
    assert_int_equal(test_account(f, k0).balance, 9400);
    assert_int_equal(test_account(f, k0).staked, 600);
    assert_conserved(f);
}

static void
test_unbonding_full_and_paused_release(void **state)
{
    struct test_fixture *f = *state;
    assert_int_equal(test_apply_one(f, amount_op(f, 0, UBC_LEDGER_OP_STAKE, 5000)), UBC_LEDGER_OK);
    for (uint32_t i = 0; i < 16; i++)
        assert_int_equal(test_apply_one(f, amount_op(f, 0, UBC_LEDGER_OP_UNSTAKE, 1)),
                         UBC_LEDGER_OK);
    assert_int_equal(test_apply_one(f, amount_op(f, 0, UBC_LEDGER_OP_UNSTAKE, 1)),
                     UBC_LEDGER_ERR_FULL);
    struct ubc_ledger_op pause = test_op_user(f, 0, UBC_LEDGER_OP_PAUSE);
    f->nonces[0]--;
    pause.nonce = ++f->nonces[TEST_KEYS];
    memcpy(pause.account, f->config.guardian, 32);
    pause.cosign_count = 1;
    test_op_sign(&pause, &f->guardians[0]);
    struct ubc_ledger_op batch[2] = { pause };
    ubc_ledger_op_cosign(TEST_CHAIN_ID, &pause, &batch[1], f->guardians[1].secret_key);
    assert_int_equal(test_apply(f, batch, 2, NULL), UBC_LEDGER_OK);
    assert_true(ubc_ledger_paused(f->ledger));
    f->height = 20; /* unbonding completes while stopped */
    test_apply(f, NULL, 0, NULL);
    assert_int_equal(test_account(f, f->users[0].public_key).unbonding, 0);
    assert_int_equal(test_account(f, f->users[0].public_key).balance, 5016);
    assert_conserved(f);
}

static void
test_burn(void **state)
{
    struct test_fixture *f = *state;
    assert_int_equal(test_apply_one(f, amount_op(f, 2, UBC_LEDGER_OP_BURN, 300)), UBC_LEDGER_OK);
    assert_int_equal(test_apply_one(f, amount_op(f, 2, UBC_LEDGER_OP_BURN, 9701)),
                     UBC_LEDGER_ERR_INSUFFICIENT_FUNDS);
    struct ubc_ledger_supply s;
    ubc_ledger_supply_get(f->ledger, &s);
    assert_int_equal(s.burned, 300);
    assert_int_equal(s.balances, 80000 - 300);
    assert_conserved(f);
}

static struct ubc_ledger_op
escrow_op(struct test_fixture *f, uint32_t owner, uint8_t kind, uint64_t job, uint64_t amount,
          uint32_t provider)
{
    struct ubc_ledger_op op = test_op_node(f->users[owner].public_key, kind);
    op.args.u.escrow.job_id = job;
    op.args.u.escrow.amount = amount;
    memcpy(op.args.u.escrow.provider, f->users[provider].public_key, 32);
    return op;
}

static void
test_escrow_cycle(void **state)
{
    struct test_fixture *f = *state;
    const uint8_t *owner = f->users[0].public_key;
    const uint8_t *provider = f->users[1].public_key;
    assert_int_equal(test_apply_one(f, escrow_op(f, 0, UBC_LEDGER_OP_ESCROW_LOCK, 7, 4000, 1)),
                     UBC_LEDGER_OK);
    assert_int_equal(test_account(f, owner).escrowed, 4000);
    assert_int_equal(test_apply_one(f, escrow_op(f, 0, UBC_LEDGER_OP_ESCROW_LOCK, 7, 1, 1)),
                     UBC_LEDGER_ERR_ESCROW_EXISTS);
    assert_int_equal(test_apply_one(f, escrow_op(f, 0, UBC_LEDGER_OP_ESCROW_LOCK, 8, 6001, 1)),
                     UBC_LEDGER_ERR_INSUFFICIENT_FUNDS);
    assert_int_equal(test_apply_one(f, escrow_op(f, 0, UBC_LEDGER_OP_ESCROW_LOCK, 8, 0, 1)),
                     UBC_LEDGER_ERR_MALFORMED);
    assert_int_equal(test_apply_one(f, escrow_op(f, 0, UBC_LEDGER_OP_ESCROW_RELEASE, 7, 4001, 1)),
                     UBC_LEDGER_ERR_INSUFFICIENT_FUNDS);
    /* Release 2000 to the provider: 5% burned, 1900 paid; then the final release of 1000
     * returns the remaining 1000 to the owner. */
    assert_int_equal(test_apply_one(f, escrow_op(f, 0, UBC_LEDGER_OP_ESCROW_RELEASE, 7, 2000, 1)),
                     UBC_LEDGER_OK);
    assert_int_equal(test_account(f, provider).balance, 11900);
    struct ubc_ledger_op last = escrow_op(f, 0, UBC_LEDGER_OP_ESCROW_RELEASE, 7, 1000, 1);
    last.flags = UBC_LEDGER_FLAG_RELEASE_FINAL;
    assert_int_equal(test_apply_one(f, last), UBC_LEDGER_OK);
    assert_int_equal(test_account(f, provider).balance, 12850);
    assert_int_equal(test_account(f, owner).balance, 7000);
    assert_int_equal(test_account(f, owner).escrowed, 0);
    /* A failover that settles twice is refused: the escrow is closed. */
    assert_int_equal(test_apply_one(f, last), UBC_LEDGER_ERR_NO_ESCROW);
    assert_int_equal(test_apply_one(f, escrow_op(f, 0, UBC_LEDGER_OP_ESCROW_REFUND, 7, 0, 1)),
                     UBC_LEDGER_ERR_NO_ESCROW);
    assert_int_equal(test_apply_one(f, escrow_op(f, 20, UBC_LEDGER_OP_ESCROW_LOCK, 1, 1, 1)),
                     UBC_LEDGER_ERR_NO_ACCOUNT);
    assert_int_equal(test_apply_one(f, escrow_op(f, 0, UBC_LEDGER_OP_ESCROW_RELEASE, 9, 1, 1)),
                     UBC_LEDGER_ERR_NO_ESCROW);
    /* A provider's first payment opens its account. */
    assert_int_equal(test_apply_one(f, escrow_op(f, 0, UBC_LEDGER_OP_ESCROW_LOCK, 9, 100, 1)),
                     UBC_LEDGER_OK);
    struct ubc_ledger_op first = escrow_op(f, 0, UBC_LEDGER_OP_ESCROW_RELEASE, 9, 100, 15);
    first.flags = UBC_LEDGER_FLAG_RELEASE_FINAL;
    assert_int_equal(test_apply_one(f, first), UBC_LEDGER_OK);
    assert_int_equal(test_account(f, f->users[15].public_key).balance, 95);
    struct ubc_ledger_supply s;
    ubc_ledger_supply_get(f->ledger, &s);
    assert_int_equal(s.burned, 155);
    assert_conserved(f);
}

static void
test_escrow_refund_and_authority(void **state)
{
    struct test_fixture *f = *state;
    assert_int_equal(test_apply_one(f, escrow_op(f, 3, UBC_LEDGER_OP_ESCROW_LOCK, 1, 500, 1)),
                     UBC_LEDGER_OK);
    assert_int_equal(test_apply_one(f, escrow_op(f, 3, UBC_LEDGER_OP_ESCROW_REFUND, 1, 0, 1)),
                     UBC_LEDGER_OK);
    assert_int_equal(test_account(f, f->users[3].public_key).balance, 10000);
    /* Signed by the authority key instead of marked internal: accepted. */
    struct ubc_ledger_op op = escrow_op(f, 3, UBC_LEDGER_OP_ESCROW_LOCK, 2, 500, 1);
    test_op_sign(&op, &f->authority);
    assert_int_equal(test_apply_one(f, op), UBC_LEDGER_OK);
    /* Signed by the owner: an account cannot lock escrow on its own (only the node settles). */
    op = escrow_op(f, 3, UBC_LEDGER_OP_ESCROW_LOCK, 3, 500, 1);
    test_op_sign(&op, &f->users[3]);
    assert_int_equal(test_apply_one(f, op), UBC_LEDGER_ERR_UNAUTHORIZED);
    op = escrow_op(f, 3, UBC_LEDGER_OP_ESCROW_LOCK, 3, 500, 1);
    op.cosign_count = 1;
    struct ubc_ledger_op pair[2] = { op };
    pair[1].kind = UBC_LEDGER_OP_COSIGN;
    pair[1].verify = UBC_LEDGER_VERIFY_OK;
    struct ubc_ledger_audit audit;
    uint16_t results[2];
    assert_int_equal(ubc_ledger_apply_batch(f->ledger, pair, 2, f->height, results, &audit), 0);
    assert_int_equal(results[0], UBC_LEDGER_ERR_MALFORMED);
    assert_int_equal(results[1], UBC_LEDGER_ERR_MALFORMED);
}

static void
test_escrow_full(void **state)
{
    struct test_fixture *f = *state;
    uint16_t r = UBC_LEDGER_OK;
    uint32_t job = 0;
    for (; job < 40 && r == UBC_LEDGER_OK; job++)
        r = test_apply_one(f, escrow_op(f, job % 8, UBC_LEDGER_OP_ESCROW_LOCK, job, 10, 0));
    assert_int_equal(r, UBC_LEDGER_ERR_FULL);
    assert_int_equal(job, 33);
    /* Remove from the middle of clusters, then every escrow is still found. */
    for (uint32_t j = 0; j < 32; j += 3)
        assert_int_equal(
            test_apply_one(f, escrow_op(f, j % 8, UBC_LEDGER_OP_ESCROW_REFUND, j, 0, 0)),
            UBC_LEDGER_OK);
    for (uint32_t j = 0; j < 32; j++) {
        struct ubc_ledger_op op = escrow_op(f, j % 8, UBC_LEDGER_OP_ESCROW_REFUND, j, 0, 0);
        assert_int_equal(test_apply_one(f, op),
                         j % 3 == 0 ? UBC_LEDGER_ERR_NO_ESCROW : UBC_LEDGER_OK);
    }
    assert_conserved(f);
}

static void
test_rewards(void **state)
{
    struct test_fixture *f = *state;
    assert_int_equal(test_apply_one(f, amount_op(f, 0, UBC_LEDGER_OP_STAKE, 1000)), UBC_LEDGER_OK);
    assert_int_equal(test_apply_one(f, amount_op(f, 1, UBC_LEDGER_OP_STAKE, 3000)), UBC_LEDGER_OK);
    struct ubc_ledger_op epoch = test_op_node(NULL, UBC_LEDGER_OP_REWARD_EPOCH);
    epoch.args.u.reward.epoch = 2;
    assert_int_equal(test_apply_one(f, epoch), UBC_LEDGER_ERR_EPOCH);
    epoch.args.u.reward.epoch = 1;
    epoch.args.u.reward.work_units = 3;
    assert_int_equal(test_apply_one(f, epoch), UBC_LEDGER_OK);
    /* 10000 emitted: 4000 by stake (1000 and 3000), 6000 into the work pool. */
    assert_int_equal(test_account(f, f->users[0].public_key).balance, 9000 + 1000);
    assert_int_equal(test_account(f, f->users[1].public_key).balance, 7000 + 3000);
    struct ubc_ledger_op work = test_op_node(NULL, UBC_LEDGER_OP_REWARD_WORK);
    work.args.u.reward.epoch = 1;
    work.args.u.reward.work_units = 1;
    memcpy(work.args.u.reward.provider, f->users[5].public_key, 32);
    assert_int_equal(test_apply_one(f, work), UBC_LEDGER_OK);
    assert_int_equal(test_account(f, f->users[5].public_key).balance, 12000);
    work.args.u.reward.work_units = 3;
    assert_int_equal(test_apply_one(f, work), UBC_LEDGER_ERR_MALFORMED);
    work.args.u.reward.epoch = 2;
    assert_int_equal(test_apply_one(f, work), UBC_LEDGER_ERR_EPOCH);
    work.args.u.reward.epoch = 1;
    work.args.u.reward.work_units = 1;
    memset(work.args.u.reward.provider, 0x31, 32); /* a provider without an account yet */
    assert_int_equal(test_apply_one(f, work), UBC_LEDGER_OK);
    assert_int_equal(test_account(f, work.args.u.reward.provider).balance, 2000);
    /* Next epoch: the unclaimed 2000 of the work pool go to the treasury. */
    epoch.args.u.reward.epoch = 2;
    epoch.args.u.reward.work_units = 0;
    assert_int_equal(test_apply_one(f, epoch), UBC_LEDGER_OK);
    assert_int_equal(test_account(f, f->config.treasury).balance, 2000 + 6000);
    struct ubc_ledger_supply s;
    ubc_ledger_supply_get(f->ledger, &s);
    assert_int_equal(s.minted, 100000);
    assert_int_equal(s.reward_pool, 0);
    assert_conserved(f);
}

static void
test_emission_overflow(void **state)
{
    struct test_fixture *f = *state;
    test_ledger_close(f);
    test_config_default(f, 1, UINT64_MAX - 10);
    assert_int_equal(test_ledger_open(f), 0);
    struct ubc_ledger_op epoch = test_op_node(NULL, UBC_LEDGER_OP_REWARD_EPOCH);
    epoch.args.u.reward.epoch = 1;
    assert_int_equal(test_apply_one(f, epoch), UBC_LEDGER_ERR_OVERFLOW);
    /* Unbonding release height past UINT64_MAX. */
    assert_int_equal(test_apply_one(f, amount_op(f, 0, UBC_LEDGER_OP_STAKE, 1000)), UBC_LEDGER_OK);
    f->height = UINT64_MAX - 2;
    assert_int_equal(test_apply_one(f, amount_op(f, 0, UBC_LEDGER_OP_UNSTAKE, 500)),
                     UBC_LEDGER_ERR_OVERFLOW);
    f->height = 5; /* heights never go backwards */
    struct ubc_ledger_audit audit;
    assert_int_equal(ubc_ledger_apply_batch(f->ledger, NULL, 0, 5, NULL, &audit), -EINVAL);
    assert_int_equal(
        ubc_ledger_apply_batch(f->ledger, NULL, UBC_LEDGER_BATCH_MAX + 1, UINT64_MAX, NULL, &audit),
        -EINVAL);
    /* Genesis that overflows the supply is refused. */
    struct test_fixture *g = calloc(1, sizeof(*g));
    assert_non_null(g);
    test_keys_make(g);
    test_config_default(g, 2, UINT64_MAX / 2 + 1);
    assert_int_equal(test_ledger_open(g), -1);
    free(g->mem);
    free(g);
}

static void
test_slash(void **state)
{
    struct test_fixture *f = *state;
    assert_int_equal(test_apply_one(f, amount_op(f, 4, UBC_LEDGER_OP_STAKE, 2000)), UBC_LEDGER_OK);
    struct ubc_ledger_op slash = test_op_node(f->users[4].public_key, UBC_LEDGER_OP_SLASH);
    slash.args.u.slash.amount = 500;
    slash.args.u.slash.sequence = 1;
    memset(slash.args.u.slash.evidence, 0xab, 32);
    assert_int_equal(test_apply_one(f, slash), UBC_LEDGER_OK);
    assert_int_equal(test_account(f, f->users[4].public_key).staked, 1500);
    assert_int_equal(test_apply_one(f, slash), UBC_LEDGER_ERR_SEQUENCE);
    slash.args.u.slash.sequence = 2;
    slash.args.u.slash.amount = 1000000; /* capped at the stake */
    assert_int_equal(test_apply_one(f, slash), UBC_LEDGER_OK);
    assert_int_equal(test_account(f, f->users[4].public_key).staked, 0);
    slash.args.u.slash.sequence = 3;
    memset(slash.account, 0x42, 32);
    assert_int_equal(test_apply_one(f, slash), UBC_LEDGER_ERR_NO_ACCOUNT);
    struct ubc_ledger_supply s;
    ubc_ledger_supply_get(f->ledger, &s);
    assert_int_equal(s.burned, 2000);
    assert_conserved(f);
}

static struct ubc_ledger_op
propose_op(struct test_fixture *f, uint32_t user, uint32_t kind, uint32_t param, uint64_t value)
{
    struct ubc_ledger_op op = test_op_user(f, user, UBC_LEDGER_OP_PROPOSE);
    op.args.u.propose.kind = kind;
    op.args.u.propose.param = param;
    op.args.u.propose.value = value;
    memcpy(op.args.u.propose.target, f->users[6].public_key, 32);
    op.args.u.propose.height = 40;
    test_op_sign(&op, &f->users[user]);
    return op;
}

static struct ubc_ledger_op
proposal_op(struct test_fixture *f, uint32_t user, uint8_t kind, uint64_t id, int yes)
{
    struct ubc_ledger_op op = test_op_user(f, user, kind);
    op.args.u.proposal.proposal_id = id;
    op.flags = yes ? UBC_LEDGER_FLAG_VOTE_YES : 0;
    test_op_sign(&op, &f->users[user]);
    return op;
}

static void
test_governance_parameter(void **state)
{
    struct test_fixture *f = *state;
    const uint32_t burn = UBC_LEDGER_PARAM_BURN_RATE_BPS;
    assert_int_equal(test_apply_one(f, propose_op(f, 0, UBC_LEDGER_PROPOSAL_PARAMETER, burn, 100)),
                     UBC_LEDGER_ERR_NO_STAKE);
    for (uint32_t u = 0; u < 3; u++)
        assert_int_equal(test_apply_one(f, amount_op(f, u, UBC_LEDGER_OP_STAKE, 1000)),
                         UBC_LEDGER_OK);
    assert_int_equal(
        test_apply_one(f, propose_op(f, 0, UBC_LEDGER_PROPOSAL_PARAMETER, burn, 10001)),
        UBC_LEDGER_ERR_BAD_PARAMETER);
    assert_int_equal(test_apply_one(f, propose_op(f, 0, UBC_LEDGER_PROPOSAL_PARAMETER, 99, 1)),
                     UBC_LEDGER_ERR_BAD_PARAMETER);
    assert_int_equal(test_apply_one(f, propose_op(f, 0, UBC_LEDGER_PROPOSAL_PARAMETER, burn, 100)),
                     UBC_LEDGER_OK); /* id 1, voting until height 6 */
    assert_int_equal(test_apply_one(f, proposal_op(f, 0, UBC_LEDGER_OP_VOTE, 1, 1)), UBC_LEDGER_OK);
    assert_int_equal(test_apply_one(f, proposal_op(f, 0, UBC_LEDGER_OP_VOTE, 1, 1)),
                     UBC_LEDGER_ERR_ALREADY_VOTED);
    assert_int_equal(test_apply_one(f, proposal_op(f, 1, UBC_LEDGER_OP_VOTE, 1, 0)), UBC_LEDGER_OK);
    assert_int_equal(test_apply_one(f, proposal_op(f, 5, UBC_LEDGER_OP_VOTE, 1, 1)),
                     UBC_LEDGER_ERR_NO_STAKE);
    assert_int_equal(test_apply_one(f, proposal_op(f, 2, UBC_LEDGER_OP_VOTE, 9, 1)),
                     UBC_LEDGER_ERR_NO_PROPOSAL);
    assert_int_equal(test_apply_one(f, proposal_op(f, 2, UBC_LEDGER_OP_VOTE, 1, 1)), UBC_LEDGER_OK);
    /* Voting ends at 6, the time lock at 9: execution before is refused. */
    assert_int_equal(test_apply_one(f, proposal_op(f, 3, UBC_LEDGER_OP_EXECUTE, 1, 0)),
                     UBC_LEDGER_ERR_TIME_LOCK);
    f->height = 6;
    assert_int_equal(test_apply_one(f, proposal_op(f, 3, UBC_LEDGER_OP_VOTE, 1, 1)),
                     UBC_LEDGER_ERR_VOTING_CLOSED);
    f->height = 8;
    assert_int_equal(test_apply_one(f, proposal_op(f, 3, UBC_LEDGER_OP_EXECUTE, 1, 0)),
                     UBC_LEDGER_ERR_TIME_LOCK);
    f->height = 9;
    assert_int_equal(ubc_ledger_param_get(f->ledger, burn), 500);
    assert_int_equal(test_apply_one(f, proposal_op(f, 3, UBC_LEDGER_OP_EXECUTE, 1, 0)),
                     UBC_LEDGER_OK);
    assert_int_equal(ubc_ledger_param_get(f->ledger, burn), 100);
    assert_int_equal(test_apply_one(f, proposal_op(f, 3, UBC_LEDGER_OP_EXECUTE, 1, 0)),
                     UBC_LEDGER_ERR_VOTING_CLOSED);
    struct ubc_ledger_proposal_info info[4];
    assert_int_equal(ubc_ledger_proposals_get(f->ledger, info, 4), 1);
    assert_int_equal(info[0].state, UBC_LEDGER_PROPOSAL_EXECUTED);
    assert_int_equal(info[0].votes_yes, 2000);
    assert_int_equal(info[0].votes_no, 1000);
    assert_int_equal(info[0].voter_count, 3);
}

static void
test_governance_not_passed(void **state)
{
    struct test_fixture *f = *state;
    for (uint32_t u = 0; u < 4; u++)
        assert_int_equal(test_apply_one(f, amount_op(f, u, UBC_LEDGER_OP_STAKE, 1000)),
                         UBC_LEDGER_OK);
    /* Quorum 30% of 4000 = 1200: one vote of 1000 is not enough. */
    assert_int_equal(test_apply_one(f, propose_op(f, 0, UBC_LEDGER_PROPOSAL_TREASURY, 0, 50)),
                     UBC_LEDGER_OK);
    assert_int_equal(test_apply_one(f, proposal_op(f, 0, UBC_LEDGER_OP_VOTE, 1, 1)), UBC_LEDGER_OK);
    /* Threshold 50%: 1000 yes against 2000 no fails. */
    assert_int_equal(test_apply_one(f, propose_op(f, 1, UBC_LEDGER_PROPOSAL_TREASURY, 0, 50)),
                     UBC_LEDGER_OK);
    assert_int_equal(test_apply_one(f, proposal_op(f, 1, UBC_LEDGER_OP_VOTE, 2, 1)), UBC_LEDGER_OK);
    assert_int_equal(test_apply_one(f, proposal_op(f, 2, UBC_LEDGER_OP_VOTE, 2, 0)), UBC_LEDGER_OK);
    assert_int_equal(test_apply_one(f, proposal_op(f, 3, UBC_LEDGER_OP_VOTE, 2, 0)), UBC_LEDGER_OK);
    f->height = 20;
    assert_int_equal(test_apply_one(f, proposal_op(f, 3, UBC_LEDGER_OP_EXECUTE, 1, 0)),
                     UBC_LEDGER_ERR_NOT_PASSED);
    assert_int_equal(test_apply_one(f, proposal_op(f, 3, UBC_LEDGER_OP_EXECUTE, 2, 0)),
                     UBC_LEDGER_ERR_NOT_PASSED);
    assert_int_equal(test_apply_one(f, proposal_op(f, 3, UBC_LEDGER_OP_EXECUTE, 1, 0)),
                     UBC_LEDGER_ERR_VOTING_CLOSED);
    /* Proposal slots: 2 rejected ones are reused, oldest first; active ones never. */
    for (uint32_t i = 0; i < 4; i++)
        assert_int_equal(test_apply_one(f, propose_op(f, 0, UBC_LEDGER_PROPOSAL_UPGRADE, 0, 2 + i)),
                         UBC_LEDGER_OK);
    assert_int_equal(test_apply_one(f, propose_op(f, 0, UBC_LEDGER_PROPOSAL_UPGRADE, 0, 9)),
                     UBC_LEDGER_ERR_FULL);
    assert_int_equal(test_apply_one(f, propose_op(f, 0, UBC_LEDGER_PROPOSAL_UPGRADE, 0, 1)),
                     UBC_LEDGER_ERR_BAD_PARAMETER);
}

static void
test_governance_treasury_and_upgrade(void **state)
{
    struct test_fixture *f = *state;
    assert_int_equal(test_apply_one(f, amount_op(f, 0, UBC_LEDGER_OP_STAKE, 1000)), UBC_LEDGER_OK);
    assert_int_equal(test_apply_one(f, transfer_op(f, 1, f->config.treasury, 3000)), UBC_LEDGER_OK);
    assert_int_equal(test_apply_one(f, propose_op(f, 0, UBC_LEDGER_PROPOSAL_TREASURY, 0, 2000)),
                     UBC_LEDGER_OK);
    assert_int_equal(test_apply_one(f, propose_op(f, 0, UBC_LEDGER_PROPOSAL_TREASURY, 0, 9000)),
                     UBC_LEDGER_OK);
    assert_int_equal(test_apply_one(f, propose_op(f, 0, UBC_LEDGER_PROPOSAL_UPGRADE, 0, 2)),
                     UBC_LEDGER_OK);
    for (uint64_t id = 1; id <= 3; id++)
        assert_int_equal(test_apply_one(f, proposal_op(f, 0, UBC_LEDGER_OP_VOTE, id, 1)),
                         UBC_LEDGER_OK);
    f->height = 9;
    assert_int_equal(test_apply_one(f, proposal_op(f, 2, UBC_LEDGER_OP_EXECUTE, 1, 0)),
                     UBC_LEDGER_OK);
    assert_int_equal(test_account(f, f->users[6].public_key).balance, 12000);
    assert_int_equal(test_apply_one(f, proposal_op(f, 2, UBC_LEDGER_OP_EXECUTE, 2, 0)),
                     UBC_LEDGER_ERR_INSUFFICIENT_FUNDS);
    assert_int_equal(test_apply_one(f, proposal_op(f, 2, UBC_LEDGER_OP_EXECUTE, 3, 0)),
                     UBC_LEDGER_OK);
    struct ubc_ledger_summary summary;
    ubc_ledger_summary_read(f->ledger, &summary);
    assert_int_equal(summary.version, 1);
    assert_int_equal(summary.pending_version, 2);
    f->height = 40; /* the activation height proposed */
    test_apply(f, NULL, 0, NULL);
    ubc_ledger_summary_read(f->ledger, &summary);
    assert_int_equal(summary.version, 2);
    /* Nobody signs for the treasury: it moves only by governance. */
    struct ubc_ledger_op op = transfer_op(f, 0, f->users[1].public_key, 1);
    memcpy(op.account, f->config.treasury, 32);
    test_op_sign(&op, &f->users[0]);
    assert_int_equal(test_apply_one(f, op), UBC_LEDGER_ERR_UNAUTHORIZED);
    assert_conserved(f);
}

/* Builds ops[0] by `account` (user index or TEST_KEYS for the guardian) with signatures from
 * the given signer keys: ops[0] main, ops[1..] cosigns. Returns the number of records. */
static uint32_t
multisig_ops(struct test_fixture *f, struct ubc_ledger_op *ops, struct ubc_ledger_op main,
             const struct test_key **signers, uint32_t signer_count)
{
    main.cosign_count = (uint8_t)(signer_count - 1);
    test_op_sign(&main, signers[0]);
    ops[0] = main;
    for (uint32_t i = 1; i < signer_count; i++)
        ubc_ledger_op_cosign(TEST_CHAIN_ID, &main, &ops[i], signers[i]->secret_key);
    (void)f;
    return signer_count;
}

static struct ubc_ledger_op
guardian_op(struct test_fixture *f, uint8_t kind)
{
    struct ubc_ledger_op op;
    memset(&op, 0, sizeof(op));
    op.kind = kind;
    op.nonce = ++f->nonces[TEST_KEYS];
    memcpy(op.account, f->config.guardian, 32);
    return op;
}

static void
test_pause_resume(void **state)
{
    struct test_fixture *f = *state;
    struct ubc_ledger_op ops[4];
    const struct test_key *two[2] = { &f->guardians[0], &f->guardians[2] };
    const struct test_key *same[2] = { &f->guardians[1], &f->guardians[1] };
    uint32_t n = multisig_ops(f, ops, guardian_op(f, UBC_LEDGER_OP_PAUSE), two, 1);
    assert_int_equal(test_apply(f, ops, n, NULL), UBC_LEDGER_ERR_MULTISIG_TOO_FEW);
    n = multisig_ops(f, ops, guardian_op(f, UBC_LEDGER_OP_PAUSE), same, 2);
    assert_int_equal(test_apply(f, ops, n, NULL), UBC_LEDGER_ERR_MULTISIG_TOO_FEW);
    /* An ordinary account cannot pause. */
    struct ubc_ledger_op op = test_op_user(f, 0, UBC_LEDGER_OP_PAUSE);
    test_op_sign(&op, &f->users[0]);
    assert_int_equal(test_apply_one(f, op), UBC_LEDGER_ERR_UNAUTHORIZED);
    f->nonces[TEST_KEYS] -= 2; /* the two refusals above failed before consuming nonces */
    n = multisig_ops(f, ops, guardian_op(f, UBC_LEDGER_OP_PAUSE), two, 2);
    assert_int_equal(test_apply(f, ops, n, NULL), UBC_LEDGER_OK);
    assert_true(ubc_ledger_paused(f->ledger));
    assert_int_equal(test_apply_one(f, transfer_op(f, 0, f->users[1].public_key, 1)),
                     UBC_LEDGER_ERR_PAUSED);
    assert_int_equal(test_apply_one(f, amount_op(f, 0, UBC_LEDGER_OP_STAKE, 500)),
                     UBC_LEDGER_ERR_PAUSED);
    assert_int_equal(test_apply_one(f, escrow_op(f, 0, UBC_LEDGER_OP_ESCROW_LOCK, 1, 5, 1)),
                     UBC_LEDGER_ERR_PAUSED);
    n = multisig_ops(f, ops, guardian_op(f, UBC_LEDGER_OP_RESUME), two, 2);
    assert_int_equal(test_apply(f, ops, n, NULL), UBC_LEDGER_OK);
    assert_false(ubc_ledger_paused(f->ledger));
    assert_int_equal(test_apply_one(f, escrow_op(f, 0, UBC_LEDGER_OP_ESCROW_LOCK, 1, 5, 1)),
                     UBC_LEDGER_OK);
    /* Paused again: settlement waits, refunds complete. */
    n = multisig_ops(f, ops, guardian_op(f, UBC_LEDGER_OP_PAUSE), two, 2);
    assert_int_equal(test_apply(f, ops, n, NULL), UBC_LEDGER_OK);
    assert_int_equal(test_apply_one(f, escrow_op(f, 0, UBC_LEDGER_OP_ESCROW_RELEASE, 1, 5, 1)),
                     UBC_LEDGER_ERR_PAUSED);
    assert_int_equal(test_apply_one(f, escrow_op(f, 0, UBC_LEDGER_OP_ESCROW_REFUND, 1, 0, 1)),
                     UBC_LEDGER_OK);
    assert_int_equal(test_account(f, f->users[0].public_key).balance, 10000);
}

static void
test_freeze(void **state)
{
    struct test_fixture *f = *state;
    struct ubc_ledger_op ops[2];
    const struct test_key *two[2] = { &f->guardians[1], &f->guardians[2] };
    struct ubc_ledger_op freeze = guardian_op(f, UBC_LEDGER_OP_FREEZE);
    memcpy(freeze.args.u.transfer.target, f->users[0].public_key, 32);
    freeze.flags = UBC_LEDGER_FLAG_FREEZE_SET;
    uint32_t n = multisig_ops(f, ops, freeze, two, 2);
    assert_int_equal(test_apply(f, ops, n, NULL), UBC_LEDGER_OK);
    assert_int_equal(test_apply_one(f, transfer_op(f, 0, f->users[1].public_key, 1)),
                     UBC_LEDGER_ERR_FROZEN);
    assert_int_equal(test_apply_one(f, escrow_op(f, 0, UBC_LEDGER_OP_ESCROW_LOCK, 1, 5, 1)),
                     UBC_LEDGER_ERR_FROZEN);
    assert_true(test_account(f, f->users[0].public_key).flags & UBC_LEDGER_ACCOUNT_FROZEN);
    freeze = guardian_op(f, UBC_LEDGER_OP_FREEZE);
    memcpy(freeze.args.u.transfer.target, f->users[0].public_key, 32);
    n = multisig_ops(f, ops, freeze, two, 2);
    assert_int_equal(test_apply(f, ops, n, NULL), UBC_LEDGER_OK);
    assert_int_equal(test_apply_one(f, transfer_op(f, 0, f->users[1].public_key, 1)),
                     UBC_LEDGER_OK);
    freeze = guardian_op(f, UBC_LEDGER_OP_FREEZE);
    memcpy(freeze.args.u.transfer.target, f->config.guardian, 32);
    n = multisig_ops(f, ops, freeze, two, 2);
    assert_int_equal(test_apply(f, ops, n, NULL), UBC_LEDGER_ERR_UNAUTHORIZED);
    freeze = guardian_op(f, UBC_LEDGER_OP_FREEZE);
    memset(freeze.args.u.transfer.target, 0x13, 32);
    n = multisig_ops(f, ops, freeze, two, 2);
    assert_int_equal(test_apply(f, ops, n, NULL), UBC_LEDGER_ERR_NO_ACCOUNT);
}

static void
test_multisig_account(void **state)
{
    struct test_fixture *f = *state;
    /* User 0 turns its account into a 2-of-3 multisig of users 10, 11, 12. */
    for (uint32_t k = 10; k <= 12; k++) {
        struct ubc_ledger_op add = test_op_user(f, 0, UBC_LEDGER_OP_MULTISIG_ADD_KEY);
        memcpy(add.args.u.multisig_key.key, f->users[k].public_key, 32);
        test_op_sign(&add, &f->users[0]);
        assert_int_equal(test_apply_one(f, add), UBC_LEDGER_OK);
    }
    struct ubc_ledger_op add = test_op_user(f, 0, UBC_LEDGER_OP_MULTISIG_ADD_KEY);
    memcpy(add.args.u.multisig_key.key, f->users[12].public_key, 32);
    test_op_sign(&add, &f->users[0]);
    assert_int_equal(test_apply_one(f, add), UBC_LEDGER_ERR_MALFORMED); /* duplicate key */
    struct ubc_ledger_op th = test_op_user(f, 0, UBC_LEDGER_OP_MULTISIG_SET_THRESHOLD);
    th.args.u.multisig_threshold.threshold = 4;
    test_op_sign(&th, &f->users[0]);
    assert_int_equal(test_apply_one(f, th), UBC_LEDGER_ERR_MALFORMED);
    th = test_op_user(f, 0, UBC_LEDGER_OP_MULTISIG_SET_THRESHOLD);
    th.args.u.multisig_threshold.threshold = 2;
    test_op_sign(&th, &f->users[0]);
    assert_int_equal(test_apply_one(f, th), UBC_LEDGER_OK);
    assert_int_equal(test_account(f, f->users[0].public_key).multisig_threshold, 2);
    /* Now the account key alone is not a member. */
    assert_int_equal(test_apply_one(f, transfer_op(f, 0, f->users[1].public_key, 1)),
                     UBC_LEDGER_ERR_UNAUTHORIZED);
    f->nonces[0]--;
    struct ubc_ledger_op ops[3];
    const struct test_key *one[1] = { &f->users[10] };
    struct ubc_ledger_op t = transfer_op(f, 0, f->users[1].public_key, 100);
    uint32_t n = multisig_ops(f, ops, t, one, 1);
    assert_int_equal(test_apply(f, ops, n, NULL), UBC_LEDGER_ERR_MULTISIG_TOO_FEW);
    const struct test_key *outsider[2] = { &f->users[10], &f->users[13] };
    n = multisig_ops(f, ops, t, outsider, 2);
    assert_int_equal(test_apply(f, ops, n, NULL), UBC_LEDGER_ERR_UNAUTHORIZED);
    const struct test_key *good[2] = { &f->users[12], &f->users[10] };
    n = multisig_ops(f, ops, t, good, 2);
    ops[1].signature[0] ^= 1;
    assert_int_equal(test_apply(f, ops, n, NULL), UBC_LEDGER_ERR_BAD_SIGNATURE);
    n = multisig_ops(f, ops, t, good, 2);
    uint16_t results[3];
    assert_int_equal(test_apply(f, ops, n, results), UBC_LEDGER_OK);
    assert_int_equal(results[1], UBC_LEDGER_OK);
    assert_int_equal(test_account(f, f->users[1].public_key).balance, 10100);
    /* A cosign that the op does not announce is stray; one that is missing is malformed. */
    t = transfer_op(f, 0, f->users[1].public_key, 100);
    n = multisig_ops(f, ops, t, good, 2);
    ops[0].cosign_count = 0;
    test_op_sign(&ops[0], &f->users[12]);
    assert_int_equal(test_apply(f, ops, n, results), UBC_LEDGER_ERR_MULTISIG_TOO_FEW);
    assert_int_equal(results[1], UBC_LEDGER_ERR_MALFORMED);
    t = transfer_op(f, 0, f->users[1].public_key, 100);
    n = multisig_ops(f, ops, t, good, 2);
    assert_int_equal(test_apply(f, ops, 1, NULL), UBC_LEDGER_ERR_MALFORMED);
}

static void
test_verify_stage(void **state)
{
    struct test_fixture *f = *state;
    struct ubc_ledger_op ops[4];
    ops[0] = transfer_op(f, 0, f->users[1].public_key, 1);
    ops[1] = transfer_op(f, 1, f->users[2].public_key, 1);
    ops[2] = ops[1];
    ops[2].nonce++; /* altered after signing */
    memset(&ops[3], 0, sizeof(ops[3]));
    ops[3].kind = UBC_LEDGER_OP_COSIGN;         /* stray */
    ops[0].verify = UBC_LEDGER_VERIFY_INTERNAL; /* an external op cannot keep this mark */
    assert_int_equal(ubc_ledger_verify_batch(TEST_CHAIN_ID, ops, 4), 2);
    assert_int_equal(ops[0].verify, UBC_LEDGER_VERIFY_OK);
    assert_int_equal(ops[1].verify, UBC_LEDGER_VERIFY_OK);
    assert_int_equal(ops[2].verify, UBC_LEDGER_VERIFY_BAD);
    assert_int_equal(ops[3].verify, UBC_LEDGER_VERIFY_BAD);
    /* Domain separation: the same op under another chain id does not verify. */
    assert_int_equal(ubc_ledger_verify_batch(TEST_CHAIN_ID + 1, ops, 1), 1);
    uint8_t a[UBC_LEDGER_SIGNED_BYTES], b[UBC_LEDGER_SIGNED_BYTES];
    ubc_ledger_op_signed_bytes(TEST_CHAIN_ID, &ops[0], a);
    ops[0].verify = UBC_LEDGER_VERIFY_OK;
    memset(ops[0].signature, 0, 64);
    ubc_ledger_op_signed_bytes(TEST_CHAIN_ID, &ops[0], b);
    assert_memory_equal(a, b, sizeof(a)); /* mark and signature are not signed */
    assert_memory_equal(a, "UBC-LEDGER-OP-V1", 16);
}

static void
test_settlement_records(void **state)
{
    struct test_fixture *f = *state;
    struct ubc_settlement lock = { .job_id = 42, .amount = 1000, .kind = UBC_SETTLE_ESCROW_LOCK };
    memcpy(lock.owner, f->users[0].public_key, 32);
    struct ubc_settlement release = lock;
    release.kind = UBC_SETTLE_RELEASE;
    release.amount = 600;
    memcpy(release.provider_account, f->users[1].public_key, 32);
    struct ubc_settlement refund = lock;
    refund.kind = UBC_SETTLE_REFUND;
    refund.amount = 400;
    struct ubc_ledger_op ops[4];
    assert_int_equal(ubc_ledger_op_from_settlement(&lock, &ops[0]), 0);
    assert_int_equal(ubc_ledger_op_from_settlement(&release, &ops[1]), 0);
    assert_int_equal(ubc_ledger_op_from_settlement(&refund, &ops[2]), 0);
    assert_int_equal(ubc_ledger_op_from_settlement(&refund, &ops[3]), 0); /* a failover repeat */
    uint16_t results[4];
    test_apply(f, ops, 4, results);
    assert_int_equal(results[0], UBC_LEDGER_OK);
    assert_int_equal(results[1], UBC_LEDGER_OK);
    assert_int_equal(results[2], UBC_LEDGER_OK);
    assert_int_equal(results[3], UBC_LEDGER_ERR_NO_ESCROW);
    assert_int_equal(test_account(f, f->users[0].public_key).balance, 9400);
    assert_int_equal(test_account(f, f->users[1].public_key).balance, 10570);
    refund.kind = 9;
    assert_int_equal(ubc_ledger_op_from_settlement(&refund, &ops[0]), -EINVAL);
}

static void
test_names(void **state)
{
    (void)state;
    for (uint16_t r = 0; r < UBC_LEDGER_RESULT_COUNT; r++) {
        assert_non_null(ubc_ledger_result_name(r));
        assert_string_not_equal(ubc_ledger_result_name(r), "unknown");
    }
    assert_string_equal(ubc_ledger_result_name(UBC_LEDGER_RESULT_COUNT), "unknown");
    for (uint8_t k = 0; k < UBC_LEDGER_OP_KIND_COUNT; k++)
        assert_string_not_equal(ubc_ledger_op_kind_name(k), "unknown");
    for (uint32_t p = 0; p < UBC_LEDGER_PARAM_COUNT; p++)
        assert_string_not_equal(ubc_ledger_param_name(p), "unknown");
    assert_int_equal(ubc_ledger_result_to_err(UBC_LEDGER_ERR_INSUFFICIENT_FUNDS), UBC_ERR_FUNDS);
    assert_int_equal(ubc_ledger_result_to_err(UBC_LEDGER_ERR_PAUSED), UBC_ERR_PAUSED);
    assert_int_equal(ubc_ledger_result_to_err(UBC_LEDGER_OK), UBC_OK);
}

int
main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_account, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_account_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transfer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transfer_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stake_unstake, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unbonding_full_and_paused_release, setup, teardown),
        cmocka_unit_test_setup_teardown(test_burn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escrow_cycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escrow_refund_and_authority, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escrow_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rewards, setup, teardown),
        cmocka_unit_test_setup_teardown(test_emission_overflow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_governance_parameter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_governance_not_passed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_governance_treasury_and_upgrade, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pause_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_freeze, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multisig_account, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_stage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_settlement_records, setup, teardown),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
