/* test_journal_fault.c: the journal under injected I/O faults.
 *
 * Every case appends through the fault layer, then reopens without faults
 * and checks the promise: every record reported durable is replayed intact,
 * and after a hard error the journal is read-only with a reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "journal_test_util.h"

#define RECORDS 2000u

struct fault_case {
    enum ubc_journal_fault_op op;
    struct ubc_journal_fault_rule rule;
    uint32_t sync_mode;
    int expect_read_only;
};

struct fault_outcome {
    struct test_seen durable;
    uint64_t appended;
    struct ubc_journal_stats stats;
    int read_only;
    char reason[192];
};

static void
run_with_fault(const char *dir, const struct fault_case *c, struct fault_outcome *out)
{
    struct ubc_journal_params p = test_params_small();
    p.sync_mode = c->sync_mode;
    struct test_journal t = { .use_fault = 1 };
    struct test_seen replay = { 0 };
    assert_int_equal(test_journal_open(&t, dir, &p, 0, &replay), 0);
    ubc_journal_fault_set(&t.fault, c->op, c->rule);
    memset(out, 0, sizeof(*out));
    for (uint64_t i = 1; i <= RECORDS; i++) {
        int64_t rc = test_append(&t, &out->durable);
        if (rc < 0) {
            assert_int_equal(rc, -UBC_ERR_READ_ONLY);
            break;
        }
        out->appended++;
        if (i % 11 == 0)
            ubc_journal_poll(t.journal, ubc_time_monotonic_ns(), test_seen_durable, &out->durable);
    }
    int flushed = ubc_journal_flush(t.journal, test_seen_durable, &out->durable);
    out->read_only = ubc_journal_read_only(t.journal);
    snprintf(out->reason, sizeof(out->reason), "%s", ubc_journal_read_only_reason(t.journal));
    ubc_journal_stats_get(t.journal, &out->stats);
    assert_int_equal(flushed, out->read_only ? -UBC_ERR_READ_ONLY : 0);
    /* Each appended record was reported exactly once, in order. */
    assert_int_equal(out->durable.count + out->durable.failed, out->appended);
    assert_int_equal(out->durable.out_of_order, 0);
    if (out->read_only) {
        assert_true(strlen(out->reason) > 0);
        uint8_t byte = 0;
        assert_int_equal(ubc_journal_append(t.journal, 1, &byte, 1, 0), -UBC_ERR_READ_ONLY);
    }
    test_journal_destroy(&t);
}

/* Reopens without faults: durable records are all there, intact. */
static void
check_durable_survive(const char *dir, const struct fault_outcome *out)
{
    struct ubc_journal_params p = test_params_small();
    struct test_journal t = { 0 };
    struct test_seen replay = { 0 };
    int rc = test_journal_open(&t, dir, &p, 0, &replay);
    if (rc != 0)
        fail_msg("reopen failed: %s", t.report.message);
    assert_true(replay.count >= out->durable.count);
    assert_true(replay.count <= out->appended);
    assert_int_equal(replay.payload_errors, 0);
    assert_int_equal(replay.out_of_order, 0);
    test_journal_destroy(&t);
}

static struct fault_outcome
run_case(const struct fault_case *c, const char *tag)
{
    char dir[256];
    test_dir_make(dir, sizeof(dir), tag);
    struct fault_outcome out;
    run_with_fault(dir, c, &out);
    assert_int_equal(out.read_only != 0, c->expect_read_only);
    if (c->expect_read_only) {
        assert_int_equal(out.read_only, c->rule.errno_value == 0 ? EIO : c->rule.errno_value);
        assert_true(out.durable.failed > 0 || out.appended < RECORDS);
    } else {
        assert_int_equal(out.durable.count, RECORDS);
    }
    check_durable_survive(dir, &out);
    test_dir_remove(dir);
    return out;
}

static struct ubc_journal_fault_rule
rule(enum ubc_journal_fault_kind kind, int error, uint64_t nth, uint32_t persistent)
{
    struct ubc_journal_fault_rule r = {
        .kind = kind, .errno_value = error, .nth = nth, .persistent = persistent
    };
    return r;
}

static void
test_write_eio(void **state)
{
    (void)state;
    struct fault_case c = { UBC_JOURNAL_FAULT_WRITE, rule(UBC_JOURNAL_FAULT_ERROR, EIO, 20, 0),
                            UBC_JOURNAL_SYNC_LINKED, 1 };
    run_case(&c, "weio");
    c.sync_mode = UBC_JOURNAL_SYNC_DSYNC;
    run_case(&c, "weio-dsync");
}

static void
test_write_enospc_persistent(void **state)
{
    (void)state;
    struct fault_case c = { UBC_JOURNAL_FAULT_WRITE, rule(UBC_JOURNAL_FAULT_ERROR, ENOSPC, 30, 1),
                            UBC_JOURNAL_SYNC_LINKED, 1 };
    run_case(&c, "wnospc");
}

static void
test_fsync_eio(void **state)
{
    (void)state;
    struct fault_case c = { UBC_JOURNAL_FAULT_FSYNC, rule(UBC_JOURNAL_FAULT_ERROR, EIO, 15, 0),
                            UBC_JOURNAL_SYNC_LINKED, 1 };
    run_case(&c, "feio");
}

static void
test_fsync_enospc(void **state)
{
    (void)state;
    struct fault_case c = { UBC_JOURNAL_FAULT_FSYNC, rule(UBC_JOURNAL_FAULT_ERROR, ENOSPC, 7, 1),
                            UBC_JOURNAL_SYNC_LINKED, 1 };
    run_case(&c, "fnospc");
}

static void
test_short_writes_completed(void **state)
{
    (void)state;
    struct fault_case c = { UBC_JOURNAL_FAULT_WRITE, rule(UBC_JOURNAL_FAULT_SHORT, 0, 9, 0),
                            UBC_JOURNAL_SYNC_LINKED, 0 };
    assert_int_equal(run_case(&c, "short").stats.short_writes, 1);
    c.rule.persistent = 1; /* every write from the 9th on is short */
    assert_true(run_case(&c, "short-all").stats.short_writes > 10);
    c.sync_mode = UBC_JOURNAL_SYNC_DSYNC;
    assert_true(run_case(&c, "short-dsync").stats.short_writes > 10);
}

static void
test_torn_write(void **state)
{
    (void)state;
    struct fault_case c = { UBC_JOURNAL_FAULT_WRITE, rule(UBC_JOURNAL_FAULT_TORN, EIO, 25, 1),
                            UBC_JOURNAL_SYNC_LINKED, 1 };
    run_case(&c, "torn");
}

static void
test_transient_requeued(void **state)
{
    (void)state;
    struct fault_case c = { UBC_JOURNAL_FAULT_WRITE, rule(UBC_JOURNAL_FAULT_ERROR, EAGAIN, 12, 0),
                            UBC_JOURNAL_SYNC_LINKED, 0 };
    assert_true(run_case(&c, "eagain").stats.requeues >= 1);
    c.op = UBC_JOURNAL_FAULT_FSYNC;
    c.rule = rule(UBC_JOURNAL_FAULT_ERROR, EINTR, 5, 0);
    assert_true(run_case(&c, "eintr").stats.requeues >= 1);
}

static void
test_allocate_enospc(void **state)
{
    (void)state;
    /* The first allocation (segment 0) works, the next spare cannot. */
    struct fault_case c = { UBC_JOURNAL_FAULT_ALLOCATE, rule(UBC_JOURNAL_FAULT_ERROR, ENOSPC, 2, 1),
                            UBC_JOURNAL_SYNC_LINKED, 1 };
    run_case(&c, "alloc");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_eio),
        cmocka_unit_test(test_write_enospc_persistent),
        cmocka_unit_test(test_fsync_eio),
        cmocka_unit_test(test_fsync_enospc),
        cmocka_unit_test(test_short_writes_completed),
        cmocka_unit_test(test_torn_write),
        cmocka_unit_test(test_transient_requeued),
        cmocka_unit_test(test_allocate_enospc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
