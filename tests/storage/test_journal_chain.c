/* test_journal_chain.c: the chain stage on its own thread (chain_offload).
 *
 * usage: test_journal_chain [records] [seed]
 * A second thread calls ubc_journal_chain_poll() in a loop, as a chain lcore
 * does, while this one appends bursts, polls, flushes and takes asynchronous
 * snapshots of the last record appended (the case whose chain is not known
 * when it is requested), on small segments so that segment headers (which
 * carry a chain value too) are written by the chainer often. Checks: every
 * record reported durable once and in order, the chainer did the hashing,
 * and the directory, reopened, verifies end to end (every chain link and
 * segment header) and replays every record from the last snapshot on.
 * Then the same with the chainer stopped halfway (takeover: the appender
 * chains the rest). Runs under TSan (suite concurrent). Exit 0 pass, 1 fail.
 */
#include <inttypes.h>
#include <pthread.h>

#include "journal_test_util.h"

struct chainer {
    struct ubc_journal *journal;
    uint32_t stop;
    uint64_t batches;
};

static void *
chainer_main(void *arg)
{
    struct chainer *c = arg;
    while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
        uint32_t n = ubc_journal_chain_poll(c->journal);
        __atomic_fetch_add(&c->batches, n, __ATOMIC_RELAXED);
        if (n == 0)
            sched_yield(); /* lint:allow a test thread on a shared machine */
    }
    return NULL;
}

/* An asynchronous snapshot of the last record appended, driven to its end. */
static int
snapshot_last(struct test_journal *t, struct test_seen *durable, uint64_t *blob)
{
    *blob = ubc_journal_next_sequence(t->journal) - 1;
    int rc = ubc_journal_snapshot_begin(t->journal, *blob, blob, sizeof(*blob));
    if (rc != 0) {
        fprintf(stderr, "snapshot_begin(%" PRIu64 "): %d\n", *blob, rc);
        return 1;
    }
    while ((rc = ubc_journal_snapshot_status(t->journal, NULL)) == -EINPROGRESS) {
        ubc_journal_poll(t->journal, ubc_time_monotonic_ns(), test_seen_durable, durable);
        ubc_journal_wait(t->journal);
    }
    if (rc != 0)
        fprintf(stderr, "snapshot of %" PRIu64 ": %d\n", *blob, rc);
    return rc != 0;
}

static int
append_all(struct test_journal *t, uint64_t records, uint64_t *rng, struct test_seen *durable,
           uint64_t *blob)
{
    uint64_t appended = 0;
    while (appended < records) {
        uint64_t burst = 1 + test_rng_next(rng) % 200;
        for (uint64_t i = 0; i < burst && appended < records; i++, appended++)
            if (test_append(t, durable) < 0)
                return 1;
        ubc_journal_poll(t->journal, ubc_time_monotonic_ns(), test_seen_durable, durable);
        uint64_t dice = test_rng_next(rng) % 100;
        if (dice < 3 && snapshot_last(t, durable, blob) != 0)
            return 1;
        if (dice >= 3 && dice < 6 && ubc_journal_flush(t->journal, test_seen_durable, durable))
            return 1;
    }
    return ubc_journal_flush(t->journal, test_seen_durable, durable) != 0;
}

static int
check_reopen(struct test_journal *t, const char *dir, const struct ubc_journal_params *p,
             uint64_t last_sequence)
{
    ubc_journal_close(t->journal);
    struct test_seen replay = { 0 };
    int rc = test_journal_open(t, dir, p, 0, &replay);
    if (rc != 0 || replay.last_sequence != last_sequence || replay.payload_errors != 0 ||
        replay.out_of_order != 0) {
        fprintf(stderr, "reopen: rc %d (%s), replayed to %" PRIu64 " of %" PRIu64 "\n", rc,
                t->report.message, replay.last_sequence, last_sequence);
        return 1;
    }
    return 0;
}

static int
run(uint64_t records, uint64_t seed, int stop_halfway)
{
    char dir[256];
    test_dir_make(dir, sizeof(dir), "chain");
    struct ubc_journal_params p = test_params_small();
    p.segment_bytes = 256u * 1024;
    p.chain_offload = 1;
    struct test_journal t = { .chainer_thread = 1 };
    struct test_seen durable = { 0 };
    if (test_journal_open(&t, dir, &p, 0, &durable) != 0)
        return 1;
    struct chainer chainer = { .journal = t.journal };
    pthread_t thread;
    if (pthread_create(&thread, NULL, chainer_main, &chainer) != 0)
        return 1;
    uint64_t rng = seed | 1, blob = 0;
    uint64_t first = stop_halfway ? records / 2 : records;
    int failed = append_all(&t, first, &rng, &durable, &blob);
    __atomic_store_n(&chainer.stop, 1u, __ATOMIC_RELEASE);
    pthread_join(thread, NULL);
    if (!failed && stop_halfway) {
        ubc_journal_chain_takeover(t.journal);
        t.chainer_thread = 0;
        failed = append_all(&t, records - first, &rng, &durable, &blob);
    }
    struct ubc_journal_stats stats;
    ubc_journal_stats_get(t.journal, &stats);
    uint64_t last = ubc_journal_next_sequence(t.journal) - 1;
    printf("chain offload%s: %" PRIu64 " records, %" PRIu64 " batches, %" PRIu64
           " chained by the chainer, %" PRIu64 " snapshots\n",
           stop_halfway ? " (chainer stopped halfway)" : "", last, stats.batches, chainer.batches,
           stats.snapshots);
    if (!failed && (durable.count != records || durable.out_of_order || durable.failed ||
                    durable.last_sequence != last)) {
        fprintf(stderr,
                "durable: %" PRIu64 " of %" PRIu64 " reported, %" PRIu64 " out of order, %" PRIu64
                " failed\n",
                durable.count, records, durable.out_of_order, durable.failed);
        failed = 1;
    }
    if (!failed && (chainer.batches == 0 || stats.segments_created < 3)) {
        fprintf(stderr, "the chainer chained %" PRIu64 " batches over %" PRIu64 " segments\n",
                chainer.batches, stats.segments_created);
        failed = 1;
    }
    if (!failed)
        failed = check_reopen(&t, dir, &p, last);
    test_journal_destroy(&t);
    test_dir_remove(dir);
    return failed;
}

int
main(int argc, char **argv)
{
    uint64_t records = argc > 1 ? strtoull(argv[1], NULL, 10) : 20000;
    uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 10) : 0xc4a1;
    int failed = run(records, seed, 0);
    failed |= run(records, seed + 1, 1);
    printf("%s\n", failed ? "FAIL" : "PASS");
    return failed;
}
