/* test_ledger_determinism.c: the same batches give the same state hash in two ledgers at
 * different addresses and in two processes; replaying the journaled batches (ops, results,
 * audit records) reproduces every checkpoint; any change to the journal or the state is
 * detected as a divergence.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/ubc_splitmix.h"
#include "ledger_test_util.h"

#define BATCHES 400u
#define BATCH_OPS 48u

struct journal {
    struct ubc_ledger_op ops[BATCHES][BATCH_OPS];
    uint16_t results[BATCHES][BATCH_OPS];
    struct ubc_ledger_audit audit[BATCHES];
    uint32_t count[BATCHES];
    uint64_t height[BATCHES];
};

static struct journal journal;
static struct test_fixture base;

static uint64_t
rng_next(uint64_t *s)
{
    return ubc_splitmix64(s);
}

/* One random op; nonces come from the fixture, so most signed ops are in sequence. */
static void
random_op(struct test_fixture *f, uint64_t *rng, struct ubc_ledger_op *op)
{
    uint32_t user = (uint32_t)(rng_next(rng) % 10), other = (uint32_t)(rng_next(rng) % 10);
    uint64_t amount = rng_next(rng) % 3000;
    static const uint8_t kinds[] = { UBC_LEDGER_OP_TRANSFER,      UBC_LEDGER_OP_TRANSFER,
                                     UBC_LEDGER_OP_STAKE,         UBC_LEDGER_OP_UNSTAKE,
                                     UBC_LEDGER_OP_ESCROW_LOCK,   UBC_LEDGER_OP_ESCROW_RELEASE,
                                     UBC_LEDGER_OP_ESCROW_REFUND, UBC_LEDGER_OP_PROPOSE,
                                     UBC_LEDGER_OP_VOTE,          UBC_LEDGER_OP_EXECUTE,
                                     UBC_LEDGER_OP_REWARD_EPOCH,  UBC_LEDGER_OP_BURN };
    uint8_t kind = kinds[rng_next(rng) % sizeof(kinds)];
    if (kind >= UBC_LEDGER_OP_ESCROW_LOCK && kind <= UBC_LEDGER_OP_REWARD_EPOCH) {
        *op = test_op_node(f->users[user].public_key, kind);
        op->args.u.escrow.job_id = rng_next(rng) % 16;
        op->args.u.escrow.amount = amount;
        memcpy(op->args.u.escrow.provider, f->users[other].public_key, 32);
        op->flags = (uint8_t)(rng_next(rng) % 2);
        if (kind == UBC_LEDGER_OP_REWARD_EPOCH) {
            op->args.u.reward.epoch = rng_next(rng) % 50;
            op->args.u.reward.work_units = 0;
        }
        return;
    }
    *op = test_op_user(f, user, kind);
    memcpy(op->signer, f->users[user].public_key, 32);
    op->verify = UBC_LEDGER_VERIFY_OK; /* as the verify stage marks it */
    op->flags = (uint8_t)(rng_next(rng) % 2);
    if (kind == UBC_LEDGER_OP_TRANSFER) {
        memcpy(op->args.u.transfer.target, f->users[other].public_key, 32);
        op->args.u.transfer.amount = amount;
    } else if (kind == UBC_LEDGER_OP_PROPOSE) {
        op->args.u.propose.kind = UBC_LEDGER_PROPOSAL_PARAMETER;
        op->args.u.propose.param = UBC_LEDGER_PARAM_BURN_RATE_BPS;
        op->args.u.propose.value = rng_next(rng) % 2000;
    } else if (kind == UBC_LEDGER_OP_VOTE || kind == UBC_LEDGER_OP_EXECUTE) {
        op->args.u.proposal.proposal_id = 1 + rng_next(rng) % 8;
    } else {
        op->args.u.amount.amount = amount;
    }
}

static void
journal_build(void)
{
    uint64_t rng = 0xde7e4a1;
    uint64_t height = 1;
    for (uint32_t b = 0; b < BATCHES; b++) {
        journal.count[b] = 1 + (uint32_t)(rng_next(&rng) % BATCH_OPS);
        height += rng_next(&rng) % 3;
        journal.height[b] = height;
        for (uint32_t i = 0; i < journal.count[b]; i++)
            random_op(&base, &rng, &journal.ops[b][i]);
    }
}

static void
open_copy(struct test_fixture *f)
{
    memcpy(f, &base, sizeof(*f));
    f->config.guardian_keys = (const uint8_t(*)[32])f->guardian_keys;
    f->config.genesis = f->genesis;
    f->mem = NULL;
    assert_int_equal(test_ledger_open(f), 0);
}

/* Applies the whole journal; fills hashes[b] with the state hash after batch b. */
static void
apply_all(struct test_fixture *f, uint8_t (*hashes)[UBC_LEDGER_HASH_BYTES], int record)
{
    for (uint32_t b = 0; b < BATCHES; b++) {
        struct ubc_ledger_audit audit;
        uint16_t results[BATCH_OPS];
        assert_int_equal(ubc_ledger_apply_batch(f->ledger, journal.ops[b], journal.count[b],
                                                journal.height[b], results, &audit),
                         0);
        memcpy(hashes[b], audit.state_hash, UBC_LEDGER_HASH_BYTES);
        uint8_t now[UBC_LEDGER_HASH_BYTES];
        ubc_ledger_state_hash(f->ledger, now);
        assert_memory_equal(now, audit.state_hash, sizeof(now));
        if (record) {
            journal.audit[b] = audit;
            memcpy(journal.results[b], results, sizeof(results));
        }
    }
}

static uint8_t hashes_a[BATCHES][UBC_LEDGER_HASH_BYTES];
static uint8_t hashes_b[BATCHES][UBC_LEDGER_HASH_BYTES];

static void
test_two_ledgers(void **state)
{
    (void)state;
    struct test_fixture a, b;
    open_copy(&a);
    void *padding = malloc(12345); /* b lands elsewhere in memory */
    open_copy(&b);
    apply_all(&a, hashes_a, 1);
    apply_all(&b, hashes_b, 0);
    assert_memory_equal(hashes_a, hashes_b, sizeof(hashes_a));
    /* The run did real work: some ops of every batch class succeeded. */
    uint32_t ok = 0;
    for (uint32_t i = 0; i < BATCHES; i++)
        ok += journal.audit[i].ok_count;
    assert_true(ok > BATCHES * 4);
    struct ubc_ledger_proposal_info info[4];
    assert_true(ubc_ledger_proposals_get(a.ledger, info, 4) > 0);
    free(padding);
    test_ledger_close(&a);
    test_ledger_close(&b);
}

static void
test_two_processes(void **state)
{
    (void)state;
    int pipe_fds[2];
    assert_int_equal(pipe(pipe_fds), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        struct test_fixture c;
        open_copy(&c);
        apply_all(&c, hashes_b, 0);
        ssize_t wrote = write(pipe_fds[1], hashes_b, sizeof(hashes_b));
        _exit(wrote == (ssize_t)sizeof(hashes_b) ? 0 : 1);
    }
    close(pipe_fds[1]);
    static uint8_t received[BATCHES][UBC_LEDGER_HASH_BYTES];
    size_t got = 0;
    while (got < sizeof(received)) {
        ssize_t r = read(pipe_fds[0], (uint8_t *)received + got, sizeof(received) - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(pipe_fds[0]);
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(got, sizeof(received));
    assert_memory_equal(received, hashes_a, sizeof(received));
}

static void
test_replay(void **state)
{
    (void)state;
    struct test_fixture r;
    open_copy(&r);
    uint16_t scratch[BATCH_OPS];
    for (uint32_t b = 0; b < BATCHES; b++)
        assert_int_equal(ubc_ledger_replay_batch(r.ledger, journal.ops[b], journal.count[b],
                                                 journal.results[b], &journal.audit[b], scratch),
                         0);
    uint8_t final[UBC_LEDGER_HASH_BYTES];
    ubc_ledger_state_hash(r.ledger, final);
    assert_memory_equal(final, hashes_a[BATCHES - 1], sizeof(final));
    test_ledger_close(&r);
}

/* The journal record round trip: write every batch as a record, read them back, replay. */
static void
test_replay_from_records(void **state)
{
    (void)state;
    size_t cap = (size_t)BATCHES * (ubc_ledger_batch_record_bytes(BATCH_OPS) + 8);
    uint8_t *file = aligned_alloc(64, (cap + 63) & ~(size_t)63);
    assert_non_null(file);
    size_t offsets[BATCHES + 1] = { 0 };
    for (uint32_t b = 0; b < BATCHES; b++) {
        int64_t bytes =
            ubc_ledger_batch_record_write(file + offsets[b], cap - offsets[b], &journal.audit[b],
                                          journal.ops[b], journal.results[b]);
        assert_true(bytes > 0);
        offsets[b + 1] = offsets[b] + (((size_t)bytes + 7) & ~(size_t)7);
    }
    struct test_fixture r;
    open_copy(&r);
    static uint16_t scratch[UBC_LEDGER_BATCH_MAX];
    for (uint32_t b = 0; b < BATCHES; b++) {
        struct ubc_ledger_audit audit;
        const struct ubc_ledger_op *ops;
        const uint16_t *results;
        size_t bytes = ubc_ledger_batch_record_bytes(journal.count[b]);
        assert_int_equal(
            ubc_ledger_batch_record_parse(file + offsets[b], bytes, &audit, &ops, &results), 0);
        if (b % 2 == 0) {
            assert_int_equal(
                ubc_ledger_replay_batch(r.ledger, ops, audit.op_count, results, &audit, scratch),
                0);
        } else { /* the one-call form the journal tool uses */
            struct ubc_ledger_audit seen;
            assert_int_equal(ubc_ledger_replay(r.ledger, file + offsets[b], bytes, scratch, &seen),
                             0);
            assert_int_equal(seen.batch_index, b);
        }
    }
    struct ubc_ledger_audit audit;
    const struct ubc_ledger_op *ops;
    const uint16_t *results;
    size_t bytes = ubc_ledger_batch_record_bytes(journal.count[0]);
    assert_int_equal(ubc_ledger_batch_record_parse(file, bytes - 1, &audit, &ops, &results),
                     -EINVAL);
    assert_int_equal(ubc_ledger_batch_record_parse(file + 1, bytes, &audit, &ops, &results),
                     -EINVAL);
    assert_int_equal(ubc_ledger_batch_record_parse(file, 10, &audit, &ops, &results), -EINVAL);
    assert_int_equal(ubc_ledger_replay(r.ledger, file, 10, scratch, NULL), -EINVAL);
    ((struct ubc_ledger_audit *)file)->op_count = UBC_LEDGER_BATCH_MAX + 1;
    assert_int_equal(ubc_ledger_batch_record_parse(file, bytes, &audit, &ops, &results), -EINVAL);
    assert_int_equal(ubc_ledger_batch_record_write(file, 10, &journal.audit[0], journal.ops[0],
                                                   journal.results[0]),
                     -ENOSPC);
    free(file);
    test_ledger_close(&r);
}

/* Replays with one change at batch `at`; returns the first batch reported divergent. */
static uint32_t
replay_tampered(int what, uint32_t at)
{
    struct test_fixture r;
    open_copy(&r);
    uint16_t scratch[BATCH_OPS];
    uint32_t diverged = UINT32_MAX;
    for (uint32_t b = 0; b < BATCHES && diverged == UINT32_MAX; b++) {
        struct ubc_ledger_op ops[BATCH_OPS];
        uint16_t results[BATCH_OPS];
        struct ubc_ledger_audit audit = journal.audit[b];
        memcpy(ops, journal.ops[b], sizeof(ops));
        memcpy(results, journal.results[b], sizeof(results));
        if (b == at && what == 0)
            ops[0].args.u.bytes[0] ^= 1; /* an op altered in the journal */
        if (b == at && what == 1)
            results[0] ^= 1;
        if (b == at && what == 2)
            audit.state_hash[3] ^= 0x10;
        if (ubc_ledger_replay_batch(r.ledger, ops, journal.count[b], results, &audit, scratch) != 0)
            diverged = b;
    }
    test_ledger_close(&r);
    return diverged;
}

static void
test_replay_detects_divergence(void **state)
{
    (void)state;
    assert_int_equal(replay_tampered(0, 17), 17);
    assert_int_equal(replay_tampered(1, 90), 90);
    assert_int_equal(replay_tampered(2, 250), 250);
    assert_int_equal(replay_tampered(3, 0), UINT32_MAX); /* untouched journal: no divergence */
}

/* The ledger region is position independent: a byte copy taken between batches is a snapshot
 * that joins anywhere and continues exactly like the original. */
static void
test_snapshot_copy_and_checkpoint(void **state)
{
    (void)state;
    struct test_fixture a, b;
    open_copy(&a);
    open_copy(&b);
    size_t footprint = ubc_ledger_footprint(&a.config);
    void *copy = aligned_alloc(ubc_ledger_align(), (footprint + 63) & ~(size_t)63);
    assert_non_null(copy);
    for (uint32_t bi = 0; bi < BATCHES; bi++) {
        struct ubc_ledger_audit audit;
        uint16_t results[BATCH_OPS];
        if (bi == BATCHES / 2) {
            memcpy(copy, a.mem, footprint);
            test_ledger_close(&a);
            a.mem = copy; /* the snapshot replaces the original */
            a.ledger = ubc_ledger_join(copy);
            assert_non_null(a.ledger);
        }
        assert_int_equal(ubc_ledger_apply_batch(a.ledger, journal.ops[bi], journal.count[bi],
                                                journal.height[bi], results, &audit),
                         0);
        assert_memory_equal(audit.state_hash, hashes_a[bi], UBC_LEDGER_HASH_BYTES);
        assert_int_equal(ubc_ledger_apply_batch(b.ledger, journal.ops[bi], journal.count[bi],
                                                journal.height[bi], results, &audit),
                         0);
    }
    uint8_t da[UBC_LEDGER_CHECKPOINT_BYTES], db[UBC_LEDGER_CHECKPOINT_BYTES];
    ubc_ledger_checkpoint_digest(a.ledger, da);
    ubc_ledger_checkpoint_digest(b.ledger, db);
    assert_memory_equal(da, db, sizeof(da));
    struct ubc_ledger_op op = test_op_node(a.users[0].public_key, UBC_LEDGER_OP_ESCROW_LOCK);
    op.args.u.escrow.job_id = 999;
    op.args.u.escrow.amount = 1;
    struct ubc_ledger_audit audit;
    uint16_t result;
    assert_int_equal(ubc_ledger_apply_batch(a.ledger, &op, 1, UINT64_MAX, &result, &audit), 0);
    assert_int_equal(result, UBC_LEDGER_OK);
    ubc_ledger_checkpoint_digest(a.ledger, da);
    assert_memory_not_equal(da, db, sizeof(da));
    test_ledger_close(&a);
    test_ledger_close(&b);
}

static void
test_hash_sensitivity(void **state)
{
    (void)state;
    struct test_fixture a, b;
    open_copy(&a);
    open_copy(&b);
    uint8_t ha[UBC_LEDGER_HASH_BYTES], hb[UBC_LEDGER_HASH_BYTES];
    ubc_ledger_state_hash(a.ledger, ha);
    ubc_ledger_state_hash(b.ledger, hb);
    assert_memory_equal(ha, hb, sizeof(ha));
    struct ubc_ledger_op op = test_op_user(&a, 0, UBC_LEDGER_OP_TRANSFER);
    memcpy(op.signer, a.users[0].public_key, 32);
    memcpy(op.args.u.transfer.target, a.users[1].public_key, 32);
    op.args.u.transfer.amount = 1;
    op.verify = UBC_LEDGER_VERIFY_OK;
    struct ubc_ledger_audit audit;
    uint16_t result;
    assert_int_equal(ubc_ledger_apply_batch(a.ledger, &op, 1, 2, &result, &audit), 0);
    assert_int_equal(result, UBC_LEDGER_OK);
    op.args.u.transfer.amount = 2;
    assert_int_equal(ubc_ledger_apply_batch(b.ledger, &op, 1, 2, &result, &audit), 0);
    ubc_ledger_state_hash(a.ledger, ha);
    ubc_ledger_state_hash(b.ledger, hb);
    assert_memory_not_equal(ha, hb, sizeof(ha));
    /* Same state reached by different paths gives the same hash: 1 + 1 == 2. */
    op.nonce = 2;
    op.args.u.transfer.amount = 1;
    assert_int_equal(ubc_ledger_apply_batch(a.ledger, &op, 1, 3, &result, &audit), 0);
    struct ubc_ledger_op empty;
    assert_int_equal(ubc_ledger_apply_batch(b.ledger, &empty, 0, 3, &result, &audit), 0);
    ubc_ledger_state_hash(a.ledger, ha);
    ubc_ledger_state_hash(b.ledger, hb);
    assert_memory_not_equal(ha, hb, sizeof(ha)); /* nonces differ: 2 against 1 */
    test_ledger_close(&a);
    test_ledger_close(&b);
}

int
main(void)
{
    if (sodium_init() < 0)
        return 1;
    memset(&base, 0, sizeof(base));
    test_keys_make(&base);
    test_config_default(&base, 10, 20000);
    base.config.escrows_max = 64;
    base.config.params[UBC_LEDGER_PARAM_QUORUM_BPS] = 100;
    journal_build();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_ledgers),
        cmocka_unit_test(test_two_processes),
        cmocka_unit_test(test_replay),
        cmocka_unit_test(test_replay_from_records),
        cmocka_unit_test(test_replay_detects_divergence),
        cmocka_unit_test(test_snapshot_copy_and_checkpoint),
        cmocka_unit_test(test_hash_sensitivity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
