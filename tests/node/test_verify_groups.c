/* test_verify_groups.c: the verify and ledger roles take client ops in whole groups (an op and
 * its cosign records): ubc_role_verify_complete_prefix finds where the whole groups end, so a
 * dequeue that split a group leaves its first part waiting, and malformed leaders travel alone.
 * Also the job set's lookup that recovery uses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ledger/ubc_ledger.h"
#include "node/ubc_job_set.h"
#include "node/ubc_role_verify.h"

static struct ubc_msg messages[32];

static struct ubc_msg *
op_message(uint32_t i, uint8_t kind, uint8_t cosigns)
{
    struct ubc_msg *msg = &messages[i];
    memset(msg, 0, sizeof(*msg));
    msg->hdr.type = UBC_MSG_LEDGER_OP;
    msg->hdr.len = sizeof(struct ubc_ledger_op);
    struct ubc_ledger_op *op = (void *)msg->u.bytes;
    op->kind = kind;
    op->cosign_count = cosigns;
    return msg;
}

static void
test_whole_groups(void **state)
{
    (void)state;
    struct ubc_msg *m[8];
    m[0] = op_message(0, UBC_LEDGER_OP_TRANSFER, 0);
    m[1] = op_message(1, UBC_LEDGER_OP_TRANSFER, 2); /* a 2-of-n multisig transfer */
    m[2] = op_message(2, UBC_LEDGER_OP_COSIGN, 0);
    m[3] = op_message(3, UBC_LEDGER_OP_COSIGN, 0);
    m[4] = op_message(4, UBC_LEDGER_OP_STAKE, 1);
    m[5] = op_message(5, UBC_LEDGER_OP_COSIGN, 0);
    uint32_t groups;
    assert_int_equal(ubc_role_verify_complete_prefix(m, 6, &groups), 6);
    assert_int_equal(groups, 3);
    /* Split inside the second group: only the first is whole. */
    assert_int_equal(ubc_role_verify_complete_prefix(m, 3, &groups), 1);
    assert_int_equal(groups, 1);
    assert_int_equal(ubc_role_verify_complete_prefix(m, 5, &groups), 4);
    assert_int_equal(groups, 2);
    assert_int_equal(ubc_role_verify_complete_prefix(m, 0, &groups), 0);
}

static void
test_malformed_leaders_travel_alone(void **state)
{
    (void)state;
    struct ubc_msg *m[4];
    m[0] = op_message(0, UBC_LEDGER_OP_COSIGN, 5);     /* a stray cosign: alone */
    m[1] = op_message(1, UBC_LEDGER_OP_TRANSFER, 200); /* more cosigns than allowed: alone */
    m[2] = op_message(2, UBC_LEDGER_OP_TRANSFER, 0);
    m[2]->hdr.len = 10; /* not an op record: alone */
    m[3] = op_message(3, UBC_LEDGER_OP_TRANSFER, 0);
    m[3]->hdr.type = UBC_MSG_JOB_SUBMIT;
    uint32_t groups;
    assert_int_equal(ubc_role_verify_complete_prefix(m, 4, &groups), 4);
    assert_int_equal(groups, 4);
}

static void
test_job_set_find(void **state)
{
    (void)state;
    size_t footprint = ubc_job_set_footprint(64);
    void *memory = aligned_alloc(64, footprint);
    struct ubc_job_set *set = ubc_job_set_new(memory, 64);
    assert_non_null(set);
    struct ubc_job_submit job = { .job_id = 7, .owner = { 0xc1 } };
    assert_int_equal(ubc_job_set_submit(set, &job), 0);
    const struct ubc_job_submit *found = ubc_job_set_find(set, 7);
    assert_non_null(found);
    assert_int_equal(found->owner[0], 0xc1);
    assert_null(ubc_job_set_find(set, 8));
    assert_null(ubc_job_set_find(set, 0));
    ubc_job_set_finish(set, 7);
    assert_null(ubc_job_set_find(set, 7)); /* finished: not live any more */
    ubc_job_set_compact(set);
    assert_null(ubc_job_set_find(set, 7));
    free(memory);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_groups),
        cmocka_unit_test(test_malformed_leaders_travel_alone),
        cmocka_unit_test(test_job_set_find),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
