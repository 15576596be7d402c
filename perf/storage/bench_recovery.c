/* bench_recovery.c: seconds to recover a GiB of journal, with and without a
 * snapshot.
 *
 * Builds a journal of 128-byte records (1 GiB; 16 MiB in quick mode), then
 * times ubc_journal_open (scan: checksums, chain, replay to a callback) with
 * the page cache dropped for the journal's files (posix_fadvise DONTNEED, so
 * other processes' caches are untouched). Baseline: reading the same files
 * cold with read(2), the floor any recovery pays. A second journal gets a
 * snapshot at 90% of its records: recovery then reads the snapshot and the
 * last 10% (earlier segments are retired), reported per GiB of history.
 * Files live under $UBC_BENCH_DIR (default /var/tmp/ubc-bench).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/ubc_bench.h"
#include "common/ubc_time.h"
#include "storage/ubc_journal.h"

#define SAMPLES_MAX 16
#define RECORD_PAYLOAD_BYTES 128u
#define GIB (1024.0 * 1024.0 * 1024.0)

struct bench_journal {
    void *mem;
    struct ubc_journal *journal;
    struct ubc_journal_uring uring;
    struct ubc_journal_params params;
};

static uint64_t replay_checksum;

static void
replay_record(void *ctx, uint64_t sequence, uint16_t type, const void *payload, uint32_t length)
{
    (void)ctx;
    (void)type;
    const uint8_t *p = payload;
    replay_checksum += sequence + (length > 0 ? p[length - 1] : 0);
}

static void
replay_snapshot(void *ctx, uint64_t sequence, const void *blob, uint64_t bytes)
{
    (void)ctx;
    (void)blob;
    replay_checksum += sequence + bytes;
}

static void
remove_tree(const char *dir)
{
    char command[640];
    snprintf(command, sizeof(command), "rm -rf '%s'", dir);
    if (system(command) != 0)
        fprintf(stderr, "bench_recovery: could not remove %s\n", dir);
}

static int
bench_open(struct bench_journal *b, const char *dir)
{
    if (b->mem == NULL) {
        b->params = (struct ubc_journal_params){
            .segment_bytes = 64ull << 20,
            .batch_bytes_max = 256u * 1024,
            .batches_inflight_max = 4,
            .payload_bytes_max = 4096,
        };
        b->mem = aligned_alloc(ubc_journal_align(), ubc_journal_footprint(&b->params));
        b->journal = ubc_journal_join(ubc_journal_new(b->mem, &b->params));
        if (b->journal == NULL || ubc_journal_uring_init(&b->uring, 64) != 0)
            return -EINVAL;
    }
    struct ubc_journal_open_params op = {
        .dir = dir,
        .io = ubc_journal_uring_io(&b->uring),
        .snapshot_callback = replay_snapshot,
        .record_callback = replay_record,
    };
    struct ubc_journal_scan_result report;
    int rc = ubc_journal_open(b->journal, &op, &report);
    if (rc != 0)
        fprintf(stderr, "bench_recovery: open: %s\n", report.message);
    return rc;
}

static void
bench_destroy(struct bench_journal *b)
{
    ubc_journal_close(b->journal);
    ubc_journal_delete(ubc_journal_leave(b->journal));
    ubc_journal_uring_fini(&b->uring);
    free(b->mem);
    memset(b, 0, sizeof(*b));
}

static void
append_records(struct ubc_journal *j, uint64_t records)
{
    uint8_t payload[RECORD_PAYLOAD_BYTES];
    for (uint64_t i = 0; i < records;) {
        memset(payload, (int)(i & 0xff), sizeof(payload));
        if (ubc_journal_append(j, 1, payload, sizeof(payload), i) > 0)
            i++;
        else
            ubc_journal_poll(j, ubc_time_monotonic_ns(), NULL, NULL);
    }
    ubc_journal_flush(j, NULL, NULL);
}

/* Builds a journal of records; with a snapshot after 90% of them. */
static int
build(const char *dir, uint64_t records, int with_snapshot)
{
    remove_tree(dir);
    if (mkdir(dir, 0755) != 0)
        return -errno;
    struct bench_journal b = { 0 };
    int rc = bench_open(&b, dir);
    if (rc != 0)
        return rc;
    uint64_t first = with_snapshot ? records / 10 * 9 : records;
    append_records(b.journal, first);
    if (with_snapshot) {
        static uint8_t blob[1u << 20]; /* stands for scheduler and ledger state */
        uint64_t covered = ubc_journal_durable_sequence(b.journal);
        rc = ubc_journal_snapshot_write(b.journal, covered, blob, sizeof(blob));
        append_records(b.journal, records - first);
    }
    bench_destroy(&b);
    return rc;
}

/* Drops the page cache of every file in dir; returns their total size. */
static uint64_t
evict_dir(const char *dir, int read_back)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    static uint8_t buffer[1u << 20];
    uint64_t total = 0;
    struct dirent *e;
    char path[1024];
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        int fd = open(path, O_RDONLY);
        if (fd < 0)
            continue;
        fdatasync(fd);
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        ssize_t got;
        while (read_back && (got = read(fd, buffer, sizeof(buffer))) > 0)
            total += (uint64_t)got;
        if (!read_back) {
            struct stat st;
            total += fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
        }
        close(fd);
    }
    closedir(d);
    return total;
}

static double
recovery_seconds(const char *dir)
{
    evict_dir(dir, 0);
    struct bench_journal b = { 0 };
    uint64_t start = ubc_time_monotonic_ns();
    int rc = bench_open(&b, dir);
    double seconds = (double)(ubc_time_monotonic_ns() - start) * 1e-9;
    bench_destroy(&b);
    return rc == 0 ? seconds : -1.0;
}

static double
read_seconds(const char *dir)
{
    evict_dir(dir, 0);
    uint64_t start = ubc_time_monotonic_ns();
    evict_dir(dir, 1);
    return (double)(ubc_time_monotonic_ns() - start) * 1e-9;
}

static void
emit(const char *metric, double value, const char *baseline, double baseline_value,
     uint32_t samples, double journal_gib, const char *snapshot)
{
    struct ubc_bench_result r = {
        .harness = "recovery",
        .metric = metric,
        .value = value,
        .unit = "s/GiB",
        .lower_is_better = 1,
        .baseline = baseline,
        .baseline_value = baseline_value,
        .samples = samples,
    };
    ubc_bench_param_num(&r, "journal_gib", journal_gib);
    ubc_bench_param_num(&r, "record_payload_bytes", RECORD_PAYLOAD_BYTES);
    ubc_bench_param_text(&r, "snapshot", snapshot);
    ubc_bench_emit(&r);
}

int
main(void)
{
    int quick = ubc_bench_quick();
    uint32_t samples = quick ? 3 : 5;
    uint64_t journal_bytes = quick ? (16ull << 20) : (1ull << 30);
    uint64_t records = journal_bytes / ubc_journal_record_footprint(RECORD_PAYLOAD_BYTES);
    const char *base = getenv("UBC_BENCH_DIR");
    char root[512], plain[600], snap[600];
    snprintf(root, sizeof(root), "%s/storage-recovery", base != NULL ? base : "/var/tmp/ubc-bench");
    snprintf(plain, sizeof(plain), "%s/plain", root);
    snprintf(snap, sizeof(snap), "%s/snapshot", root);
    char command[700];
    snprintf(command, sizeof(command), "mkdir -p '%s'", root);
    if (system(command) != 0 || build(plain, records, 0) != 0 || build(snap, records, 1) != 0) {
        fprintf(stderr, "bench_recovery: could not build the journals\n");
        return 1;
    }
    recovery_seconds(plain); /* the first open removes the unused spare */
    recovery_seconds(snap);
    double history_gib = (double)records * ubc_journal_record_footprint(RECORD_PAYLOAD_BYTES) / GIB;
    double with_plain[SAMPLES_MAX], with_snap[SAMPLES_MAX], reads[SAMPLES_MAX];
    for (uint32_t i = 0; i < samples; i++) {
        with_plain[i] = recovery_seconds(plain) / history_gib;
        with_snap[i] = recovery_seconds(snap) / history_gib;
        reads[i] = read_seconds(plain) / history_gib;
    }
    double plain_median = ubc_bench_median(with_plain, samples);
    emit("recovery_s_per_gib", plain_median, "cold_read_s_per_gib",
         ubc_bench_median(reads, samples), samples, history_gib, "none");
    emit("recovery_s_per_gib", ubc_bench_median(with_snap, samples), "no_snapshot_s_per_gib",
         plain_median, samples, history_gib, "at_90_percent");
    remove_tree(root);
    return replay_checksum == 0; /* replay must have seen records */
}
