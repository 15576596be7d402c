/* bench_ledger_journal.c: ledger operations applied AND journaled on one core.
 *
 * What the ledger role does per batch, without the rings: apply a batch of pre-verified
 * transfers (ubc_ledger_apply_batch), write its record (ops, results, audit with the state
 * hash) and append it to an io_uring journal with group commit (storage/ubc_journal.h,
 * linked fdatasync), polling the journal between batches on the same thread; an op counts when
 * its batch is durable. Baseline in the same run: the same batches applied without a journal,
 * so the ratio is what durability costs. Batches of 512 ops (the node's ledger.batch_ops
 * default) and 8192. The journal lives under UBC_BENCH_DIR (default /var/tmp/ubc-bench).
 *
 * Then recovery: a ledger journal of 8192-op batches (256 MiB; 16 MiB quick) is recovered the
 * way the node does it (ubc_journal_open: scan, checksums, chain; every batch replayed with
 * ubc_ledger_replay, which checks its results and state hash) with the page cache dropped for
 * its files, in seconds per GiB of journal; baseline: the same scan without the replay (the
 * journal's own floor). A second journal has a checkpoint (the ledger's memory image as the
 * journal's snapshot) at 90% of its batches: recovery loads the image and replays the rest.
 * Medians of 5 samples; UBC_BENCH_QUICK=1 shrinks it to a smoke test.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/ubc_bench.h"
#include "common/ubc_time.h"
#include "ledger/ubc_ledger.h"
#include "perf/ledger/bench_ledger_workload.h"
#include "storage/ubc_journal.h"
#include "storage/ubc_journal_io.h"

#define SAMPLES_MAX 16u
#define ACCOUNTS 100000u

struct durable_count {
    uint64_t ops;
    uint64_t failed;
};

static void
on_durable(void *ctx, uint64_t cookie, uint64_t sequence, int status)
{
    (void)sequence;
    struct durable_count *count = ctx;
    count->ops += cookie;
    count->failed += status != 0;
}

struct run {
    struct ubc_ledger *ledger;
    struct ubc_journal *journal; /* NULL: apply only */
    uint64_t height;
    uint32_t batch;
    uint8_t *record;
    uint16_t *results;
};

/* Applies (and journals) `batches` batches; returns ops/s counted when durable. */
static double
run_batches(struct run *r, const struct ubc_ledger_op *ops, uint32_t batches)
{
    struct durable_count count = { 0, 0 };
    uint64_t start = ubc_time_monotonic_ns();
    for (uint32_t b = 0; b < batches; b++) {
        struct ubc_ledger_audit audit;
        UBC_ASSERT(ubc_ledger_apply_batch(r->ledger, ops + (uint64_t)b * r->batch, r->batch,
                                          ++r->height, r->results, &audit) == 0);
        if (r->journal == NULL) {
            count.ops += r->batch;
            continue;
        }
        int64_t bytes =
            ubc_ledger_batch_record_write(r->record, ubc_ledger_batch_record_bytes(r->batch),
                                          &audit, ops + (uint64_t)b * r->batch, r->results);
        UBC_ASSERT(bytes > 0);
        int64_t seq;
        while ((seq = ubc_journal_append(r->journal, 0x0202, r->record, (uint32_t)bytes,
                                         r->batch)) == -UBC_ERR_OVERLOADED) {
            ubc_journal_wait(r->journal);
            ubc_journal_poll(r->journal, ubc_time_monotonic_ns(), on_durable, &count);
        }
        UBC_ASSERT(seq >= 0);
        ubc_journal_poll(r->journal, ubc_time_monotonic_ns(), on_durable, &count);
    }
    if (r->journal != NULL)
        UBC_ASSERT(ubc_journal_flush(r->journal, on_durable, &count) == 0);
    double seconds = (double)(ubc_time_monotonic_ns() - start) / 1e9;
    UBC_ASSERT(count.failed == 0 && count.ops == (uint64_t)batches * r->batch);
    return (double)count.ops / seconds;
}

/* A journal whose group commit holds at least one batch record of `batch` ops. */
static struct ubc_journal *
journal_make(uint32_t batch, void **mem, struct ubc_journal_uring *uring)
{
    uint64_t record = ubc_ledger_batch_record_bytes(batch);
    struct ubc_journal_params p = {
        .segment_bytes = 256ull << 20,
        .batch_bytes_max = (uint32_t)(((record + 8192 + 4095) / 4096) * 4096),
        .batches_inflight_max = 4,
        .payload_bytes_max = (uint32_t)record,
        .sync_mode = UBC_JOURNAL_SYNC_LINKED,
        .commit_interval_ns = 0,
    };
    if (p.batch_bytes_max < (1u << 20))
        p.batch_bytes_max = 1u << 20;
    *mem = aligned_alloc(ubc_journal_align(), ubc_journal_footprint(&p));
    struct ubc_journal *j = ubc_journal_join(ubc_journal_new(*mem, &p));
    UBC_ASSERT(j != NULL && ubc_journal_uring_init(uring, 64) == 0);
    return j;
}

static struct ubc_journal *
journal_open(const char *dir, uint32_t batch, void **mem, struct ubc_journal_uring *uring)
{
    struct ubc_journal *j = journal_make(batch, mem, uring);
    struct ubc_journal_open_params op = { .dir = dir, .io = ubc_journal_uring_io(uring) };
    struct ubc_journal_scan_result report;
    UBC_ASSERT(ubc_journal_open(j, &op, &report) == 0);
    return j;
}

static void
bench_batch(const char *base, struct ubc_ledger_op *(*make)(uint32_t, uint64_t), const char *metric,
            const char *pattern, double ops_per_unit, uint32_t batch, uint32_t batches,
            uint32_t samples)
{
    char dir[600];
    snprintf(dir, sizeof(dir), "%s/ledger-journal-%s-%u", base, pattern, batch);
    char command[1400];
    snprintf(command, sizeof(command), "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    UBC_ASSERT(system(command) == 0);
    uint64_t per_sample = (uint64_t)batch * batches;
    struct ubc_ledger_op *ops = make(ACCOUNTS, per_sample * samples);
    void *mem_journaled, *mem_applied, *mem_journal;
    struct ubc_journal_uring uring;
    struct run journaled = { ledger_open(ACCOUNTS, &mem_journaled), NULL, 0, batch, NULL, NULL };
    struct run applied = { ledger_open(ACCOUNTS, &mem_applied), NULL, 0, batch, NULL, NULL };
    journaled.journal = journal_open(dir, batch, &mem_journal, &uring);
    journaled.record = aligned_alloc(64, (ubc_ledger_batch_record_bytes(batch) + 63) & ~63ull);
    journaled.results = applied.results = calloc(batch, sizeof(uint16_t));
    double subject[SAMPLES_MAX], baseline[SAMPLES_MAX];
    for (uint32_t s = 0; s < samples; s++) {
        /* Each side applies its own copy of the stream: both ledgers see the same ops. */
        subject[s] = run_batches(&journaled, ops + s * per_sample, batches) / ops_per_unit;
        baseline[s] = run_batches(&applied, ops + s * per_sample, batches) / ops_per_unit;
    }
    struct ubc_bench_result r;
    memset(&r, 0, sizeof(r));
    r.harness = "ledger";
    r.metric = metric;
    r.unit = ops_per_unit == 1.0 ? "ops/s" : "cycles/s";
    r.value = ubc_bench_median(subject, samples);
    r.baseline = "applied_only_same_batches";
    r.baseline_value = ubc_bench_median(baseline, samples);
    r.samples = samples;
    ubc_bench_param_num(&r, "accounts", ACCOUNTS);
    ubc_bench_param_num(&r, "batch", batch);
    ubc_bench_param_text(&r, "sync", "linked_fdatasync");
    ubc_bench_param_text(&r, "pattern", pattern);
    ubc_bench_emit(&r);
    ubc_journal_close(journaled.journal);
    ubc_journal_uring_fini(&uring);
    free(ubc_journal_delete(ubc_journal_leave(journaled.journal)));
    free(journaled.record);
    free(journaled.results);
    free(mem_journaled);
    free(mem_applied);
    free(ops);
    snprintf(command, sizeof(command), "rm -rf '%s'", dir);
    UBC_ASSERT(system(command) == 0);
}

/* ---- recovery ---- */

#define GIB (1024.0 * 1024.0 * 1024.0)

struct replayer {
    struct ubc_ledger *ledger;
    void *memory;
    size_t bytes;
    uint8_t *scratch;
    uint16_t *results;
    uint64_t batches;
    int replay; /* 0: scan only (the baseline) */
    int bad;
};

static void
replay_snapshot(void *ctx, uint64_t sequence, const void *blob, uint64_t bytes)
{
    (void)sequence;
    struct replayer *r = ctx;
    if (bytes != r->bytes) {
        r->bad++;
        return;
    }
    memcpy(r->memory, blob, bytes);
    r->ledger = ubc_ledger_join(r->memory);
}

static void
replay_record(void *ctx, uint64_t sequence, uint16_t type, const void *payload, uint32_t length)
{
    (void)sequence, (void)type;
    struct replayer *r = ctx;
    r->batches++;
    if (!r->replay)
        return;
    memcpy(r->scratch, payload, length); /* 8-byte alignment, as the node does */
    struct ubc_ledger_audit audit;
    r->bad += ubc_ledger_replay(r->ledger, r->scratch, length, r->results, &audit) != 0;
}

/* Drops the page cache of the journal's files (ours only). */
static uint64_t
drop_cache(const char *dir)
{
    DIR *d = opendir(dir);
    UBC_ASSERT(d != NULL);
    uint64_t bytes = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int fd = openat(dirfd(d), e->d_name, O_RDONLY);
        struct stat st;
        if (fd < 0)
            continue;
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
            fdatasync(fd);
            posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
            bytes += (uint64_t)st.st_size;
        }
        close(fd);
    }
    closedir(d);
    return bytes;
}

/* Writes `batches` batches (a checkpoint after `checkpoint_at` of them, 0: none); returns the
 * bytes of journal written. */
static uint64_t
recovery_write(const char *dir, const struct ubc_ledger_op *ops, uint32_t batches,
               uint32_t checkpoint_at)
{
    char command[1400];
    snprintf(command, sizeof(command), "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    UBC_ASSERT(system(command) == 0);
    void *mem_ledger, *mem_journal;
    struct ubc_journal_uring uring;
    struct run r = { ledger_open(ACCOUNTS, &mem_ledger), NULL, 0, 8192, NULL, NULL };
    r.journal = journal_open(dir, 8192, &mem_journal, &uring);
    r.record = aligned_alloc(64, (ubc_ledger_batch_record_bytes(8192) + 63) & ~63ull);
    r.results = calloc(8192, sizeof(uint16_t));
    for (uint32_t b = 0; b < batches; b++) {
        run_batches(&r, ops + (uint64_t)b * 8192, 1);
        if (b + 1 == checkpoint_at) {
            size_t bytes = bench_ledger_bytes;
            UBC_ASSERT(ubc_journal_snapshot_write(r.journal,
                                                  ubc_journal_durable_sequence(r.journal),
                                                  mem_ledger, bytes) == 0);
        }
    }
    struct ubc_journal_stats stats;
    ubc_journal_stats_get(r.journal, &stats);
    ubc_journal_close(r.journal);
    ubc_journal_uring_fini(&uring);
    free(ubc_journal_delete(ubc_journal_leave(r.journal)));
    free(r.record);
    free(r.results);
    free(mem_ledger);
    return stats.bytes_written;
}

/* Recovers dir once, cold; returns seconds. */
static double
recovery_run(const char *dir, uint32_t batches, int replay, uint8_t hash[UBC_LEDGER_HASH_BYTES])
{
    drop_cache(dir);
    struct replayer r = { 0 };
    r.ledger = ledger_open(ACCOUNTS, &r.memory);
    r.bytes = bench_ledger_bytes;
    r.scratch = aligned_alloc(64, (ubc_ledger_batch_record_bytes(8192) + 63) & ~63ull);
    r.results = calloc(UBC_LEDGER_BATCH_MAX, sizeof(uint16_t));
    r.replay = replay;
    void *mem_journal;
    struct ubc_journal_uring uring;
    struct ubc_journal *j = journal_make(8192, &mem_journal, &uring);
    struct ubc_journal_open_params op = { .dir = dir,
                                          .io = ubc_journal_uring_io(&uring),
                                          .snapshot_callback = replay ? replay_snapshot : NULL,
                                          .record_callback = replay_record,
                                          .replay_ctx = &r };
    struct ubc_journal_scan_result report;
    uint64_t start = ubc_time_monotonic_ns();
    UBC_ASSERT(ubc_journal_open(j, &op, &report) == 0);
    double seconds = (double)(ubc_time_monotonic_ns() - start) / 1e9;
    UBC_ASSERT(r.bad == 0 && (r.batches == batches || replay));
    if (replay)
        ubc_ledger_state_hash(r.ledger, hash);
    ubc_journal_close(j);
    ubc_journal_uring_fini(&uring);
    free(ubc_journal_delete(ubc_journal_leave(j))); /* mem_journal */
    free(r.scratch);
    free(r.results);
    free(r.memory);
    return seconds;
}

static void
emit_recovery(const char *metric, double value, const char *baseline, double baseline_value,
              uint32_t samples, uint64_t bytes)
{
    struct ubc_bench_result r;
    memset(&r, 0, sizeof(r));
    r.harness = "ledger";
    r.metric = metric;
    r.unit = "s/GiB";
    r.lower_is_better = 1;
    r.value = value;
    r.baseline = baseline;
    r.baseline_value = baseline_value;
    r.samples = samples;
    ubc_bench_param_num(&r, "journal_mib", (double)bytes / (1 << 20));
    ubc_bench_param_num(&r, "batch", 8192);
    ubc_bench_emit(&r);
}

static void
bench_recovery(const char *base, uint32_t batches, uint32_t samples)
{
    char plain[600], checkpointed[600];
    snprintf(plain, sizeof(plain), "%s/ledger-recovery-plain", base);
    snprintf(checkpointed, sizeof(checkpointed), "%s/ledger-recovery-checkpoint", base);
    struct ubc_ledger_op *ops = transfers_make(ACCOUNTS, (uint64_t)batches * 8192);
    uint64_t bytes = recovery_write(plain, ops, batches, 0);
    recovery_write(checkpointed, ops, batches, batches * 9 / 10);
    free(ops);
    double replayed[SAMPLES_MAX], scanned[SAMPLES_MAX], from_checkpoint[SAMPLES_MAX];
    uint8_t hash_plain[UBC_LEDGER_HASH_BYTES], hash_checkpoint[UBC_LEDGER_HASH_BYTES];
    for (uint32_t s = 0; s < samples; s++) {
        replayed[s] = recovery_run(plain, batches, 1, hash_plain) * GIB / (double)bytes;
        scanned[s] = recovery_run(plain, batches, 0, NULL) * GIB / (double)bytes;
        from_checkpoint[s] =
            recovery_run(checkpointed, batches, 1, hash_checkpoint) * GIB / (double)bytes;
        UBC_ASSERT(memcmp(hash_plain, hash_checkpoint, sizeof(hash_plain)) == 0);
    }
    double replayed_median = ubc_bench_median(replayed, samples);
    emit_recovery("recovery_s_per_gib", replayed_median, "journal_scan_only_s_per_gib",
                  ubc_bench_median(scanned, samples), samples, bytes);
    emit_recovery("recovery_s_per_gib_checkpoint_at_90pct",
                  ubc_bench_median(from_checkpoint, samples), "recovery_s_per_gib_from_genesis",
                  replayed_median, samples, bytes);
    char command[1400];
    snprintf(command, sizeof(command), "rm -rf '%s' '%s'", plain, checkpointed);
    UBC_ASSERT(system(command) == 0);
}

int
main(void)
{
    const char *base = getenv("UBC_BENCH_DIR");
    if (base == NULL)
        base = "/var/tmp/ubc-bench";
    bool quick = ubc_bench_quick();
    const char *transfers = "transfers_applied_journaled_per_s";
    bench_batch(base, transfers_make, transfers, "random_pairs", 1.0, 512, quick ? 8 : 400,
                quick ? 2 : 5);
    bench_batch(base, transfers_make, transfers, "random_pairs", 1.0, 8192, quick ? 1 : 25,
                quick ? 2 : 5);
    bench_batch(base, escrows_make, "escrow_settle_cycles_applied_journaled_per_s",
                "lock_release_256_in_flight", 2.0, 512, quick ? 8 : 400, quick ? 2 : 5);
    bench_recovery(base, quick ? 8 : 140, quick ? 2 : 5);
    return 0;
}
