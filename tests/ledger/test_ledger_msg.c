/* test_ledger_msg.c: the ledger role's message glue: a burst of settlements from sched and
 * signed client ops (one multisig with a cosign) goes through verify, conversion, apply and
 * replies; forged internal marks and malformed messages are refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "ledger/ubc_ledger_msg.h"
#include "ledger/ubc_ledger_settle.h"
#include "ledger_test_util.h"

static struct test_fixture fixture;
static struct ubc_msg msgs[8] __attribute__((aligned(64)));

static void
msg_settlement(struct ubc_msg *msg, struct test_fixture *f, uint8_t kind, uint64_t amount)
{
    memset(msg, 0, sizeof(*msg));
    msg->hdr.type = UBC_MSG_LEDGER_OP;
    msg->hdr.src_role = UBC_ROLE_SCHED;
    msg->hdr.len = sizeof(struct ubc_settlement);
    msg->hdr.seq = 500 + kind;
    struct ubc_settlement s = { .job_id = 77, .amount = amount, .kind = kind };
    memcpy(s.owner, f->users[0].public_key, 32);
    memcpy(s.provider_account, f->users[1].public_key, 32);
    memcpy(msg->u.bytes, &s, sizeof(s));
}

static void
msg_op(struct ubc_msg *msg, const struct ubc_ledger_op *op)
{
    memset(msg, 0, sizeof(*msg));
    msg->hdr.type = UBC_MSG_LEDGER_OP;
    msg->hdr.src_role = UBC_ROLE_NET;
    msg->hdr.len = sizeof(*op);
    msg->hdr.peer = 3;
    msg->hdr.seq = op->nonce;
    memcpy(msg->u.bytes, op, sizeof(*op));
}

static void
test_burst(void **state)
{
    (void)state;
    struct test_fixture *f = &fixture;
    memset(f, 0, sizeof(*f));
    test_keys_make(f);
    test_config_default(f, 8, 10000);
    assert_int_equal(test_ledger_open(f), 0);
    msg_settlement(&msgs[0], f, UBC_SETTLE_ESCROW_LOCK, 1000);
    struct ubc_ledger_op t = test_op_user(f, 2, UBC_LEDGER_OP_TRANSFER);
    memcpy(t.args.u.transfer.target, f->users[3].public_key, 32);
    t.args.u.transfer.amount = 10;
    test_op_sign(&t, &f->users[2]);
    msg_op(&msgs[1], &t);
    msg_settlement(&msgs[2], f, UBC_SETTLE_RELEASE, 1000);
    /* A pause by the 2-of-3 guardian: the op, then its cosign, as two messages. */
    struct ubc_ledger_op pause;
    memset(&pause, 0, sizeof(pause));
    pause.kind = UBC_LEDGER_OP_PAUSE;
    pause.nonce = 1;
    pause.cosign_count = 1;
    memcpy(pause.account, f->config.guardian, 32);
    test_op_sign(&pause, &f->guardians[0]);
    struct ubc_ledger_op cosign;
    ubc_ledger_op_cosign(TEST_CHAIN_ID, &pause, &cosign, f->guardians[2].secret_key);
    msg_op(&msgs[3], &pause);
    msg_op(&msgs[4], &cosign);
    /* A client op forging the internal mark (an escrow lock on someone else's funds). */
    struct ubc_ledger_op forged = test_op_node(f->users[4].public_key, UBC_LEDGER_OP_ESCROW_LOCK);
    forged.args.u.escrow.amount = 5000;
    msg_op(&msgs[5], &forged);
    msg_op(&msgs[6], &t);
    msgs[6].hdr.len = 12;              /* malformed length */
    msg_settlement(&msgs[7], f, 9, 1); /* unknown settlement kind */
    struct ubc_msg *burst[8];
    for (uint32_t i = 0; i < 8; i++)
        burst[i] = &msgs[i];
    assert_int_equal(ubc_ledger_verify_msgs(TEST_CHAIN_ID, burst, 8), 1); /* the forged one */
    struct ubc_ledger_op ops[8];
    uint32_t op_index[8];
    uint16_t results[8];
    uint32_t n = ubc_ledger_msgs_to_ops(burst, 8, ops, 8, op_index);
    assert_int_equal(n, 6);
    assert_int_equal(op_index[6], UBC_LEDGER_MSG_NO_OP);
    assert_int_equal(op_index[7], UBC_LEDGER_MSG_NO_OP);
    struct ubc_ledger_audit audit;
    assert_int_equal(ubc_ledger_apply_batch(f->ledger, ops, n, 1, results, &audit), 0);
    ubc_ledger_msgs_reply(burst, 8, op_index, ops, results);
    assert_int_equal(msgs[0].hdr.type, UBC_MSG_LEDGER_RESULT);
    assert_int_equal(msgs[0].u.reply.id, 77);
    assert_int_equal(msgs[0].u.reply.error, UBC_OK);
    assert_int_equal(msgs[0].hdr.seq, 500 + UBC_SETTLE_ESCROW_LOCK);
    assert_int_equal(msgs[1].u.reply.detail, UBC_LEDGER_OK);
    assert_int_equal(msgs[1].hdr.peer, 3);
    assert_int_equal(msgs[2].u.reply.detail, UBC_LEDGER_OK);
    assert_int_equal(msgs[3].u.reply.detail, UBC_LEDGER_OK);
    assert_int_equal(msgs[4].u.reply.detail, UBC_LEDGER_OK);
    assert_int_equal(msgs[5].u.reply.detail, UBC_LEDGER_ERR_BAD_SIGNATURE);
    assert_int_equal(msgs[5].u.reply.error, UBC_ERR_AUTH);
    assert_int_equal(msgs[6].u.reply.error, UBC_ERR_MALFORMED);
    assert_int_equal(msgs[7].u.reply.error, UBC_ERR_MALFORMED);
    assert_true(ubc_ledger_paused(f->ledger));
    assert_int_equal(test_account(f, f->users[1].public_key).balance, 10950);
    assert_int_equal(test_account(f, f->users[4].public_key).balance, 10000);
    /* Unverified forged mark (the verify stage skipped): demoted, never internal. */
    msg_op(&msgs[0], &forged);
    n = ubc_ledger_msgs_to_ops(burst, 1, ops, 8, op_index);
    assert_int_equal(n, 1);
    assert_int_equal(ops[0].verify, UBC_LEDGER_VERIFY_NONE);
    test_ledger_close(f);
}

int
main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
