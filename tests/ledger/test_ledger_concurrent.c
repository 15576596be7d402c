/* test_ledger_concurrent.c: the two multi-threaded contracts of the ledger.
 * 1. ubc_ledger_summary_read from another thread while the ledger thread applies batches: every
 *    snapshot is internally consistent (conservation holds in it, heights never go back).
 * 2. ubc_ledger_verify_batch on two threads over disjoint halves of a batch gives the same marks
 *    as one thread.
 * Run under ThreadSanitizer in build-*-tsan (suite 'concurrent').
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "ledger_test_util.h"

static struct test_fixture fixture;
static int writer_done;

struct reader_report {
    uint64_t snapshots;
    uint64_t inconsistent;
    uint64_t went_back;
};

static void *
reader_main(void *arg)
{
    struct reader_report *report = arg;
    uint64_t last_height = 0;
    while (!__atomic_load_n(&writer_done, __ATOMIC_ACQUIRE)) {
        struct ubc_ledger_summary s;
        ubc_ledger_summary_read(fixture.ledger, &s);
        unsigned __int128 held = (unsigned __int128)s.balances + s.staked + s.escrowed +
                                 s.unbonding + s.reward_pool + s.burned;
        report->inconsistent += held != s.minted;
        report->went_back += s.height < last_height;
        last_height = s.height;
        report->snapshots++;
    }
    return NULL;
}

static void
test_summary_while_applying(void **state)
{
    (void)state;
    struct test_fixture *f = &fixture;
    memset(f, 0, sizeof(*f));
    test_keys_make(f);
    test_config_default(f, 8, 1000000);
    assert_int_equal(test_ledger_open(f), 0);
    struct reader_report report = { 0 };
    pthread_t reader;
    assert_int_equal(pthread_create(&reader, NULL, reader_main, &report), 0);
    struct ubc_ledger_op ops[32];
    uint16_t results[32];
    for (uint32_t b = 0; b < 3000; b++) {
        for (uint32_t i = 0; i < 32; i++) {
            uint32_t user = (b + i / 2) % 8;
            ops[i] = test_op_node(f->users[user].public_key,
                                  i % 2 ? UBC_LEDGER_OP_ESCROW_REFUND : UBC_LEDGER_OP_ESCROW_LOCK);
            ops[i].args.u.escrow.job_id = b * 32 + i - (i % 2);
            ops[i].args.u.escrow.amount = 10 + b % 7;
            if (i % 8 == 6) { /* burns move supply between buckets */
                ops[i] = test_op_user(f, user, UBC_LEDGER_OP_BURN);
                memcpy(ops[i].signer, f->users[user].public_key, 32);
                ops[i].args.u.amount.amount = 1;
                ops[i].verify = UBC_LEDGER_VERIFY_OK;
            }
        }
        struct ubc_ledger_audit audit;
        assert_int_equal(ubc_ledger_apply_batch(f->ledger, ops, 32, b + 1, results, &audit), 0);
        assert_int_equal(results[0], UBC_LEDGER_OK);
    }
    __atomic_store_n(&writer_done, 1, __ATOMIC_RELEASE);
    assert_int_equal(pthread_join(reader, NULL), 0);
    assert_true(report.snapshots > 0);
    assert_int_equal(report.inconsistent, 0);
    assert_int_equal(report.went_back, 0);
    struct ubc_ledger_summary s;
    ubc_ledger_summary_read(f->ledger, &s);
    assert_int_equal(s.height, 3000);
    assert_int_equal(s.burned, 3000 * 4);
    test_ledger_close(f);
}

struct verify_half {
    struct ubc_ledger_op *ops;
    uint32_t n;
};

static void *
verify_main(void *arg)
{
    struct verify_half *half = arg;
    ubc_ledger_verify_batch(TEST_CHAIN_ID, half->ops, half->n);
    return NULL;
}

static void
test_verify_two_threads(void **state)
{
    (void)state;
    struct test_fixture *f = &fixture;
    memset(f, 0, sizeof(*f));
    test_keys_make(f);
    enum { N = 96 };
    static struct ubc_ledger_op ops[N], copy[N];
    for (uint32_t i = 0; i < N; i++) {
        ops[i] = test_op_user(f, i % TEST_KEYS, UBC_LEDGER_OP_TRANSFER);
        ops[i].args.u.transfer.amount = i;
        test_op_sign(&ops[i], &f->users[i % TEST_KEYS]);
        if (i % 5 == 0)
            ops[i].signature[9] ^= 4;
    }
    memcpy(copy, ops, sizeof(ops));
    uint32_t bad = ubc_ledger_verify_batch(TEST_CHAIN_ID, copy, N);
    assert_int_equal(bad, (N + 4) / 5);
    struct verify_half halves[2] = { { ops, N / 2 }, { ops + N / 2, N - N / 2 } };
    pthread_t second;
    assert_int_equal(pthread_create(&second, NULL, verify_main, &halves[1]), 0);
    verify_main(&halves[0]);
    assert_int_equal(pthread_join(second, NULL), 0);
    for (uint32_t i = 0; i < N; i++)
        assert_int_equal(ops[i].verify, copy[i].verify);
}

int
main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_summary_while_applying),
        cmocka_unit_test(test_verify_two_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
