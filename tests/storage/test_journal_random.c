/* test_journal_random.c: random operation sequences against a simple model.
 *
 * usage: test_journal_random [steps] [seed]
 * Tiny segments (64 KiB, so batches are planned several segments ahead),
 * random bursts of appends, polls, flushes, snapshots and close/reopen
 * cycles, in ten configurations, four of them also through the fault layer
 * (short writes, interrupted fsyncs); two offload the chain
 * (ubc_journal_chain_poll called at random points between the others),
 * three recycle retired segments. After every reopen: every record that
 * was reported durable is replayed (from the snapshot on), in order and
 * intact, and durability was reported in order, once per record.
 * Exit 0 pass, 1 fail.
 */
#include <inttypes.h>

#include "journal_test_util.h"

static int
reopen_check(struct test_journal *t, const char *dir, const struct ubc_journal_params *p,
             uint64_t durable_max)
{
    ubc_journal_close(t->journal);
    struct test_seen replay = { 0 };
    int rc = test_journal_open(t, dir, p, 0, &replay);
    if (rc != 0 || replay.last_sequence < durable_max || replay.payload_errors != 0 ||
        replay.out_of_order != 0) {
        fprintf(stderr,
                "reopen: rc %d (%s), replayed to %" PRIu64 ", durable was %" PRIu64
                ", payload errors %" PRIu64 ", out of order %" PRIu64 "\n",
                rc, t->report.message, replay.last_sequence, durable_max, replay.payload_errors,
                replay.out_of_order);
        return 1;
    }
    if (ubc_journal_next_sequence(t->journal) != replay.last_sequence + 1) {
        fprintf(stderr, "reopen: next sequence %" PRIu64 " after replaying to %" PRIu64 "\n",
                ubc_journal_next_sequence(t->journal), replay.last_sequence);
        return 1;
    }
    return 0;
}

/* With faults: every write from the 5th on is short, and every 7th fsync
 * is interrupted: all recoverable, so nothing may fail. */
static void
faults_arm(struct test_journal *t)
{
    struct ubc_journal_fault_rule short_writes = { .kind = UBC_JOURNAL_FAULT_SHORT,
                                                   .nth = 5,
                                                   .persistent = 1 };
    struct ubc_journal_fault_rule interrupted = { .kind = UBC_JOURNAL_FAULT_ERROR,
                                                  .errno_value = EINTR,
                                                  .nth = 7 };
    ubc_journal_fault_set(&t->fault, UBC_JOURNAL_FAULT_WRITE, short_writes);
    ubc_journal_fault_set(&t->fault, UBC_JOURNAL_FAULT_FSYNC, interrupted);
}

static int
run(const struct ubc_journal_params *p, uint32_t steps, uint64_t *rng, int faults)
{
    char dir[256];
    test_dir_make(dir, sizeof(dir), "random");
    struct test_journal t = { .use_fault = faults };
    struct test_seen replay = { 0 };
    if (test_journal_open(&t, dir, p, 0, &replay) != 0)
        return 1;
    if (faults)
        faults_arm(&t);
    struct test_seen durable = { 0 };
    int failed = 0;
    for (uint32_t step = 0; step < steps && !failed; step++) {
        uint64_t dice = test_rng_next(rng) % 100;
        if (dice < 60) {
            uint64_t burst = 1 + test_rng_next(rng) % 80;
            for (uint64_t i = 0; i < burst && !failed; i++)
                failed = test_append(&t, &durable) < 0;
        } else if (dice < 85) {
            /* With the chain offloaded, the chain stage runs at random
             * points between the appender's calls, as another lcore would. */
            if (p->chain_offload && test_rng_next(rng) % 2 == 0)
                ubc_journal_chain_poll(t.journal);
            else
                ubc_journal_poll(t.journal, ubc_time_monotonic_ns(), test_seen_durable, &durable);
        } else if (dice < 93) {
            failed = ubc_journal_flush(t.journal, test_seen_durable, &durable) != 0;
        } else if (dice < 97) {
            failed = ubc_journal_flush(t.journal, test_seen_durable, &durable) != 0;
            uint64_t covered = ubc_journal_durable_sequence(t.journal);
            if (!failed && covered > 0)
                failed =
                    ubc_journal_snapshot_write(t.journal, covered, &covered, sizeof(covered)) != 0;
        } else {
            failed = reopen_check(&t, dir, p, ubc_journal_durable_sequence(t.journal));
            /* Records never reported durable may be gone; sequences restart there. */
            durable.last_sequence = ubc_journal_next_sequence(t.journal) - 1;
        }
        if (durable.out_of_order != 0 || durable.failed != 0) {
            fprintf(stderr, "step %u: durability reported out of order or failed\n", step);
            failed = 1;
        }
    }
    if (!failed)
        failed = ubc_journal_flush(t.journal, test_seen_durable, &durable) != 0;
    struct ubc_journal_stats stats;
    ubc_journal_stats_get(t.journal, &stats);
    if (!failed && p->recycle_segments && steps >= 500 && stats.segments_recycled == 0) {
        fprintf(stderr, "recycling on, %" PRIu64 " segments retired, none reused\n",
                stats.segments_retired);
        failed = 1;
    }
    if (!failed)
        failed = reopen_check(&t, dir, p, ubc_journal_durable_sequence(t.journal));
    test_journal_destroy(&t);
    test_dir_remove(dir);
    return failed;
}

int
main(int argc, char **argv)
{
    uint32_t steps = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 3000;
    uint64_t rng = argc > 2 ? strtoull(argv[2], NULL, 10) : 0xd1ce;
    printf("random journal: %u steps per configuration, seed %" PRIu64 "\n", steps, rng);
    rng |= 1;
    struct ubc_journal_params p = test_params_small();
    p.segment_bytes = 64u * 1024;
    int failed = run(&p, steps, &rng, 0);
    failed |= run(&p, steps, &rng, 1);
    p.batches_inflight_max = 1;
    p.batch_bytes_max = 32u * 1024;
    failed |= run(&p, steps, &rng, 0);
    p = test_params_small();
    p.sync_mode = UBC_JOURNAL_SYNC_DSYNC;
    p.commit_interval_ns = 50000;
    failed |= run(&p, steps, &rng, 0);
    failed |= run(&p, steps, &rng, 1);
    p = test_params_small();
    p.segment_bytes = 64u * 1024;
    p.chain_offload = 1;
    failed |= run(&p, steps, &rng, 0);
    failed |= run(&p, steps, &rng, 1);
    /* Retired segments recycled: reused files keep their earlier batches. */
    p.chain_offload = 0;
    p.recycle_segments = 1;
    failed |= run(&p, steps, &rng, 0);
    failed |= run(&p, steps, &rng, 1);
    p.sync_mode = UBC_JOURNAL_SYNC_DSYNC;
    p.chain_offload = 1;
    failed |= run(&p, steps, &rng, 0);
    printf("%s\n", failed ? "FAIL" : "PASS");
    return failed;
}
