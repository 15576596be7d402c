/* test_journal_basic.c: appends, durability callbacks, reopen and replay,
 * segment rolls, both sync modes, backpressure, snapshots and retirement. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "journal_test_util.h"

static void
append_flush_reopen(uint32_t sync_mode, uint64_t count, uint32_t open_flags)
{
    char dir[256];
    test_dir_make(dir, sizeof(dir), "basic");
    struct ubc_journal_params p = test_params_small();
    p.sync_mode = sync_mode;
    struct test_journal t = { 0 };
    struct test_seen replay = { 0 };
    assert_int_equal(test_journal_open(&t, dir, &p, open_flags, &replay), 0);
    assert_int_equal(replay.count, 0);
    struct test_seen durable = { 0 };
    for (uint64_t i = 1; i <= count; i++) {
        assert_int_equal(test_append(&t, &durable), (int64_t)i);
        if (i % 37 == 0)
            ubc_journal_poll(t.journal, ubc_time_monotonic_ns(), test_seen_durable, &durable);
    }
    assert_int_equal(ubc_journal_flush(t.journal, test_seen_durable, &durable), 0);
    assert_int_equal(durable.count, count);
    assert_int_equal(durable.failed, 0);
    assert_int_equal(durable.out_of_order, 0);
    assert_int_equal(ubc_journal_durable_sequence(t.journal), count);
    struct ubc_journal_stats stats;
    ubc_journal_stats_get(t.journal, &stats);
    assert_true(stats.segments_created >= 2); /* 256 KiB segments roll */
    assert_int_equal(stats.direct_io, (open_flags & UBC_JOURNAL_OPEN_BUFFERED) ? 0 : 1);
    ubc_journal_close(t.journal);

    /* Reopen: every record comes back, in order, intact. */
    memset(&replay, 0, sizeof(replay));
    assert_int_equal(test_journal_open(&t, dir, &p, 0, &replay), 0);
    assert_int_equal(replay.count, count);
    assert_int_equal(replay.out_of_order, 0);
    assert_int_equal(replay.payload_errors, 0);
    assert_int_equal(t.report.torn_records, 0);
    assert_int_equal(ubc_journal_next_sequence(t.journal), count + 1);
    /* Appends continue the chain after a reopen. */
    memset(&durable, 0, sizeof(durable));
    durable.last_sequence = count;
    for (uint64_t i = 1; i <= 100; i++)
        assert_int_equal(test_append(&t, &durable), (int64_t)(count + i));
    assert_int_equal(ubc_journal_flush(t.journal, test_seen_durable, &durable), 0);
    assert_int_equal(durable.count, 100);
    ubc_journal_close(t.journal);
    memset(&replay, 0, sizeof(replay));
    assert_int_equal(test_journal_open(&t, dir, &p, 0, &replay), 0);
    assert_int_equal(replay.count, count + 100);
    assert_int_equal(replay.payload_errors, 0);
    test_journal_destroy(&t);
    test_dir_remove(dir);
}

static void
test_linked(void **state)
{
    (void)state;
    append_flush_reopen(UBC_JOURNAL_SYNC_LINKED, 5000, 0);
}

/* The path a file system without O_DIRECT takes: buffered writes + fdatasync. */
static void
test_buffered(void **state)
{
    (void)state;
    append_flush_reopen(UBC_JOURNAL_SYNC_LINKED, 2000, UBC_JOURNAL_OPEN_BUFFERED);
}

static void
test_dsync(void **state)
{
    (void)state;
    append_flush_reopen(UBC_JOURNAL_SYNC_DSYNC, 3000, 0);
}

static void
test_params_invalid(void **state)
{
    (void)state;
    struct ubc_journal_params p = test_params_small();
    assert_true(ubc_journal_footprint(&p) > 0);
    p.batch_bytes_max = 1000; /* not a multiple of a block */
    assert_int_equal(ubc_journal_footprint(&p), 0);
    p = test_params_small();
    p.batches_inflight_max = 0;
    assert_int_equal(ubc_journal_footprint(&p), 0);
    p = test_params_small();
    p.payload_bytes_max = p.batch_bytes_max; /* cannot fit with its commit */
    assert_int_equal(ubc_journal_footprint(&p), 0);
    p = test_params_small();
    p.segment_bytes = 8192;
    assert_int_equal(ubc_journal_footprint(&p), 0);
    assert_null(ubc_journal_new(NULL, &p));
    assert_null(ubc_journal_join(NULL));
}

static void
test_backpressure_and_malformed(void **state)
{
    (void)state;
    char dir[256];
    test_dir_make(dir, sizeof(dir), "bp");
    struct ubc_journal_params p = test_params_small();
    p.batches_inflight_max = 1;
    struct test_journal t = { 0 };
    struct test_seen replay = { 0 };
    assert_int_equal(test_journal_open(&t, dir, &p, 0, &replay), 0);
    uint8_t payload[1000] = { 0 };
    assert_int_equal(ubc_journal_append(t.journal, 0, payload, 10, 0), -UBC_ERR_MALFORMED);
    assert_int_equal(ubc_journal_append(t.journal, 0xF001, payload, 10, 0), -UBC_ERR_MALFORMED);
    assert_int_equal(ubc_journal_append(t.journal, 1, payload, 2000, 0), -UBC_ERR_MALFORMED);
    /* Without polls, two 16 KiB buffers fill and appends are refused. */
    int64_t rc = 0;
    uint64_t accepted = 0;
    for (int i = 0; i < 100 && rc >= 0; i++) {
        rc = ubc_journal_append(t.journal, 1, payload, sizeof(payload), (uint64_t)i);
        accepted += rc > 0;
    }
    assert_int_equal(rc, -UBC_ERR_OVERLOADED);
    assert_true(accepted >= 20 && accepted <= 32);
    struct test_seen durable = { 0 };
    assert_int_equal(ubc_journal_flush(t.journal, NULL, NULL), 0);
    assert_int_equal(ubc_journal_durable_sequence(t.journal), accepted);
    assert_true(ubc_journal_append(t.journal, 1, payload, 10, 0) > 0);
    (void)durable;
    test_journal_destroy(&t);
    test_dir_remove(dir);
}

static void
test_snapshot_retire(void **state)
{
    (void)state;
    char dir[256];
    test_dir_make(dir, sizeof(dir), "snap");
    struct ubc_journal_params p = test_params_small();
    struct test_journal t = { 0 };
    struct test_seen replay = { 0 };
    assert_int_equal(test_journal_open(&t, dir, &p, 0, &replay), 0);
    struct test_seen durable = { 0 };
    for (uint64_t i = 1; i <= 3000; i++)
        assert_true(test_append(&t, &durable) > 0);
    assert_int_equal(ubc_journal_flush(t.journal, test_seen_durable, &durable), 0);
    uint64_t covered = ubc_journal_durable_sequence(t.journal);
    assert_int_equal(ubc_journal_snapshot_write(t.journal, covered + 1, "x", 1), -EINVAL);
    const char blob[] = "scheduler and ledger state";
    assert_int_equal(ubc_journal_snapshot_write(t.journal, covered, blob, sizeof(blob)), 0);
    struct ubc_journal_stats stats;
    ubc_journal_stats_get(t.journal, &stats);
    assert_true(stats.segments_retired >= 1);
    for (uint64_t i = 1; i <= 500; i++)
        assert_true(test_append(&t, &durable) > 0);
    assert_int_equal(ubc_journal_flush(t.journal, test_seen_durable, &durable), 0);
    ubc_journal_close(t.journal);

    memset(&replay, 0, sizeof(replay));
    assert_int_equal(test_journal_open(&t, dir, &p, 0, &replay), 0);
    assert_int_equal(t.report.snapshot_found, 1);
    assert_int_equal(replay.snapshot_sequence, covered);
    assert_int_equal(replay.snapshot_bytes, sizeof(blob));
    assert_int_equal(replay.count, 500);
    assert_int_equal(replay.out_of_order, 0);
    assert_int_equal(replay.payload_errors, 0);
    test_journal_destroy(&t);
    test_dir_remove(dir);
}

static uint32_t
snapshot_files(const char *dir)
{
    uint32_t count = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    uint64_t value;
    while (d != NULL && (e = readdir(d)) != NULL)
        count += ubc_journal_snapshot_name_parse(e->d_name, &value) == 0;
    if (d != NULL)
        closedir(d);
    return count;
}

/* Old snapshots are removed as new ones complete, through every snapshot of
 * an open (a shared directory offset once hid them after the first), and
 * reopening in between changes nothing: at most the newest two remain. */
static void
test_snapshot_prune(void **state)
{
    (void)state;
    char dir[256];
    test_dir_make(dir, sizeof(dir), "prune");
    struct ubc_journal_params p = test_params_small();
    p.recycle_segments = 1; /* its open lists the directory too */
    struct test_journal t = { 0 };
    struct test_seen replay = { 0 }, durable = { 0 };
    assert_int_equal(test_journal_open(&t, dir, &p, 0, &replay), 0);
    for (uint32_t round = 0; round < 8; round++) {
        for (uint64_t i = 0; i < 50; i++)
            assert_true(test_append(&t, &durable) > 0);
        assert_int_equal(ubc_journal_flush(t.journal, test_seen_durable, &durable), 0);
        uint64_t covered = ubc_journal_durable_sequence(t.journal);
        assert_int_equal(ubc_journal_snapshot_write(t.journal, covered, "s", 1), 0);
        assert_true(snapshot_files(dir) <= 2);
        if (round == 4) { /* a new open, then more snapshots */
            ubc_journal_close(t.journal);
            memset(&replay, 0, sizeof(replay));
            assert_int_equal(test_journal_open(&t, dir, &p, 0, &replay), 0);
        }
    }
    assert_int_equal(snapshot_files(dir), 2);
    test_journal_destroy(&t);
    test_dir_remove(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params_invalid),
        cmocka_unit_test(test_linked),
        cmocka_unit_test(test_dsync),
        cmocka_unit_test(test_buffered),
        cmocka_unit_test(test_backpressure_and_malformed),
        cmocka_unit_test(test_snapshot_retire),
        cmocka_unit_test(test_snapshot_prune),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
