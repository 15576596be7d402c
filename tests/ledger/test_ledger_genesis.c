/* test_ledger_genesis.c: the genesis record (a ledger rebuilt from the record alone has the same
 * state as one built from the config; damaged records are refused) and the escrow query the
 * node's recovery uses. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "ledger_test_util.h"

static struct test_fixture fixture;

static int
setup(void **state)
{
    (void)state;
    memset(&fixture, 0, sizeof(fixture));
    test_keys_make(&fixture);
    test_config_default(&fixture, 8, 1000000);
    return test_ledger_open(&fixture);
}

static int
teardown(void **state)
{
    (void)state;
    test_ledger_close(&fixture);
    return 0;
}

static void
test_round_trip(void **state)
{
    (void)state;
    size_t bytes = ubc_ledger_genesis_record_bytes(&fixture.config);
    uint8_t *record = malloc(bytes);
    assert_int_equal(ubc_ledger_genesis_record_write(record, bytes, &fixture.config),
                     (int64_t)bytes);
    assert_int_equal(ubc_ledger_genesis_record_write(record, bytes - 1, &fixture.config), -ENOSPC);
    static struct ubc_ledger_genesis_storage storage;
    struct ubc_ledger_config parsed;
    assert_int_equal(ubc_ledger_genesis_record_parse(record, bytes, &parsed, &storage), 0);
    assert_int_equal(parsed.genesis_count, 8);
    assert_int_equal(parsed.guardian_key_count, TEST_GUARDIANS);
    size_t footprint = ubc_ledger_footprint(&parsed);
    assert_int_equal(footprint, ubc_ledger_footprint(&fixture.config));
    void *mem = aligned_alloc(ubc_ledger_align(), (footprint + 63) & ~(size_t)63);
    struct ubc_ledger *rebuilt = ubc_ledger_join(ubc_ledger_new(mem, &parsed));
    assert_non_null(rebuilt);
    uint8_t a[UBC_LEDGER_CHECKPOINT_BYTES], b[UBC_LEDGER_CHECKPOINT_BYTES];
    ubc_ledger_checkpoint_digest(fixture.ledger, a);
    ubc_ledger_checkpoint_digest(rebuilt, b);
    assert_memory_equal(a, b, sizeof(a)); /* the same genesis state, byte for byte */
    /* Writing the parsed config again gives the same bytes. */
    uint8_t *again = malloc(bytes);
    assert_int_equal(ubc_ledger_genesis_record_write(again, bytes, &parsed), (int64_t)bytes);
    assert_memory_equal(record, again, bytes);
    free(again);
    free(mem);
    free(record);
}

static void
test_damaged_records_refused(void **state)
{
    (void)state;
    size_t bytes = ubc_ledger_genesis_record_bytes(&fixture.config);
    uint8_t *record = malloc(bytes + 8);
    assert_int_equal(ubc_ledger_genesis_record_write(record, bytes, &fixture.config),
                     (int64_t)bytes);
    static struct ubc_ledger_genesis_storage storage;
    struct ubc_ledger_config parsed;
    assert_int_equal(ubc_ledger_genesis_record_parse(record, bytes - 1, &parsed, &storage),
                     -EINVAL); /* truncated */
    assert_int_equal(ubc_ledger_genesis_record_parse(record, bytes + 8, &parsed, &storage),
                     -EINVAL); /* trailing bytes */
    assert_int_equal(ubc_ledger_genesis_record_parse(record, 10, &parsed, &storage), -EINVAL);
    record[0] ^= 1; /* magic */
    assert_int_equal(ubc_ledger_genesis_record_parse(record, bytes, &parsed, &storage), -EINVAL);
    record[0] ^= 1;
    record[8] = 2; /* version */
    assert_int_equal(ubc_ledger_genesis_record_parse(record, bytes, &parsed, &storage), -EINVAL);
    record[8] = 1;
    record[12] = 0xff; /* guardian key count beyond the limit */
    assert_int_equal(ubc_ledger_genesis_record_parse(record, bytes, &parsed, &storage), -EINVAL);
    free(record);
}

static void
test_escrow_query(void **state)
{
    (void)state;
    const uint8_t *owner = fixture.users[1].public_key;
    uint64_t amount = 0;
    assert_int_equal(ubc_ledger_escrow_get(fixture.ledger, owner, 42, &amount), -ENOENT);
    struct ubc_ledger_op lock = test_op_node(owner, UBC_LEDGER_OP_ESCROW_LOCK);
    lock.args.u.escrow.job_id = 42;
    lock.args.u.escrow.amount = 700;
    assert_int_equal(test_apply_one(&fixture, lock), UBC_LEDGER_OK);
    assert_int_equal(ubc_ledger_escrow_get(fixture.ledger, owner, 42, &amount), 0);
    assert_int_equal(amount, 700);
    assert_int_equal(ubc_ledger_escrow_get(fixture.ledger, fixture.users[2].public_key, 42, NULL),
                     -ENOENT); /* another owner's job 42 */
    uint8_t stranger[32];
    memset(stranger, 0x42, sizeof(stranger));
    assert_int_equal(ubc_ledger_escrow_get(fixture.ledger, stranger, 42, NULL), -ENOENT);
    struct ubc_ledger_op refund = test_op_node(owner, UBC_LEDGER_OP_ESCROW_REFUND);
    refund.args.u.escrow.job_id = 42;
    fixture.height++;
    assert_int_equal(test_apply_one(&fixture, refund), UBC_LEDGER_OK);
    assert_int_equal(ubc_ledger_escrow_get(fixture.ledger, owner, 42, NULL), -ENOENT);
}

int
main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_records_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escrow_query, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
