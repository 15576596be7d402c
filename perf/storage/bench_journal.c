/* bench_journal.c: group-commit throughput of the journal against fio.
 *
 * Subject: 128-byte records appended as fast as the journal takes them, one
 * poll per tick, until sample_bytes of journal are durable; durable
 * records/s, MB/s written and fdatasyncs/s, for both sync modes, inside one
 * prepared segment, then with small segments (rolls and zero-fill included).
 * Baseline, same run, same file system: fio with the same engine (io_uring,
 * registered files and buffers), block size (= the journal's batch size),
 * queue depth (= batches in flight), O_DIRECT and durability policy
 * (fdatasync after every write, or O_DSYNC), parsed from
 * --output-format=json. Files live under $UBC_BENCH_DIR (default
 * /var/tmp/ubc-bench). UBC_BENCH_QUICK=1 shrinks everything to a smoke test.
 */
#include <errno.h>
#include <immintrin.h>
#include <pthread.h>
#include <stddef.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/ubc_bench.h"
#include "common/ubc_time.h"
#include "storage/ubc_blake3.h"
#include "storage/ubc_journal.h"

#include <sodium.h>

#define SAMPLES_MAX 16
#define RECORD_PAYLOAD_BYTES 128u
/* As the node's disk role drives its journal: a tick appends what its rings
 * hold (at most a burst), then polls; a batch is sealed when full or when
 * disk.commit_interval_us (default 100) has passed since it opened. */
#define TICK_RECORDS 256u
#define COMMIT_INTERVAL_NS 100000u

static int wait_when_idle = 1;

struct bench_config {
    char dir[512];
    uint64_t segment_bytes;
    uint64_t sample_bytes; /* journal bytes written per sample */
    uint32_t samples;
    uint32_t batch_bytes;
    uint32_t inflight;
    uint32_t chain_offload;        /* a second thread chains (ubc_journal_chain_poll) */
    uint32_t recycle;              /* reuse retired segments (params.recycle_segments) */
    uint64_t snapshot_every_bytes; /* a small snapshot this often, as the node takes them */
};

/* Snapshots while appending (journal_sample): what retires segments. */
static uint64_t snapshot_every_bytes;

struct sample {
    double records_per_s;
    double mb_per_s;
    double fsyncs_per_s;
    double cpu_ns_per_record;   /* this thread's user + system time */
    double latency_us_mean;     /* a batch's submit to durable */
    double cpu_wait_share;      /* of the wall time, waiting runnable for a CPU */
    double chain_ns_per_record; /* the chainer's busy time, when offloaded */
};

/* The chain stage on its own thread, as a chain lcore runs it: polls,
 * pausing when there is nothing to chain; counts only the time spent
 * chaining (the rest is spinning, which a shared lcore would give away). */
struct chainer {
    struct ubc_journal *journal;
    pthread_t thread;
    uint32_t stop;
    uint32_t paused;  /* while fio runs */
    uint64_t busy_ns; /* read by the appender between samples */
};

/* As the node's run loop idles by default (poll.idle_spins, poll.sleep_us_min):
 * on a shared machine a chainer that never sleeps takes the CPU the
 * kernel's completions need. UBC_BENCH_CHAIN_SPIN / _SLEEP_US override. */
static uint32_t chainer_spin_polls = 2000;
static uint32_t chainer_sleep_us = 20;
static double tsc_per_ns;

/* The TSC's rate against CLOCK_MONOTONIC over 20 ms: busy time is counted
 * in TSC ticks (a clock read per idle poll would cost more than the poll). */
static void
tsc_calibrate(void)
{
    uint64_t ns0 = ubc_time_monotonic_ns(), tsc0 = __rdtsc();
    usleep(20000);
    tsc_per_ns = (double)(__rdtsc() - tsc0) / (double)(ubc_time_monotonic_ns() - ns0);
}

static void *
chainer_main(void *arg)
{
    struct chainer *c = arg;
    uint32_t idle = 0;
    /* As the node's lcores (ubc_start.c): a 20 us sleep is 20 us, not 70. */
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
        uint64_t start = __rdtsc();
        if (ubc_journal_chain_poll(c->journal) > 0) {
            uint64_t ns = (uint64_t)((double)(__rdtsc() - start) / tsc_per_ns);
            __atomic_fetch_add(&c->busy_ns, ns, __ATOMIC_RELAXED);
            idle = 0;
        } else if (__atomic_load_n(&c->paused, __ATOMIC_ACQUIRE)) {
            usleep(1000);
        } else if (++idle < chainer_spin_polls) {
            _mm_pause();
        } else {
            usleep(chainer_sleep_us);
        }
    }
    return NULL;
}

/* Starts the chain thread when the config offloads; NULL otherwise. */
static struct chainer *
chainer_start(const struct bench_config *c, struct chainer *chainer, struct ubc_journal *j)
{
    *chainer = (struct chainer){ .journal = j };
    if (!c->chain_offload)
        return NULL;
    if (tsc_per_ns == 0)
        tsc_calibrate();
    if (pthread_create(&chainer->thread, NULL, chainer_main, chainer) != 0) {
        fprintf(stderr, "bench_journal: no chain thread; chaining inline\n");
        return NULL; /* the journal's flush chains what is sealed: slow, not stuck */
    }
    return chainer;
}

static void
chainer_stop(struct chainer *chainer)
{
    if (chainer == NULL)
        return;
    __atomic_store_n(&chainer->stop, 1u, __ATOMIC_RELEASE);
    pthread_join(chainer->thread, NULL);
}

/* Nanoseconds this thread waited runnable for a CPU (/proc schedstat). */
static double
thread_run_delay_ns(void)
{
    FILE *f = fopen("/proc/thread-self/schedstat", "r");
    unsigned long long on_cpu = 0, delay = 0;
    if (f != NULL) {
        if (fscanf(f, "%llu %llu", &on_cpu, &delay) != 2)
            delay = 0;
        fclose(f);
    }
    return (double)delay;
}

static double
thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void
remove_tree(const char *dir)
{
    char command[640];
    snprintf(command, sizeof(command), "rm -rf '%s'", dir);
    if (system(command) != 0)
        fprintf(stderr, "bench_journal: could not remove %s\n", dir);
}

static void
journal_tick(struct ubc_journal *j, const uint8_t *payload, uint64_t *appended, uint64_t limit)
{
    uint64_t before = *appended;
    if (limit - before > TICK_RECORDS)
        limit = before + TICK_RECORDS;
    while (*appended < limit) {
        int64_t rc = ubc_journal_append(j, 1, payload, RECORD_PAYLOAD_BYTES, *appended);
        if (rc < 0)
            break;
        (*appended)++;
    }
    /* Backpressure with nothing to do: wait instead of spinning, so that on
     * this 2-core machine the kernel's fdatasync workers get the CPU. */
    if (*appended == before && wait_when_idle)
        ubc_journal_wait(j);
    ubc_journal_poll(j, ubc_time_monotonic_ns(), NULL, NULL);
}

/* Starts a snapshot of a tiny blob every snapshot_every_bytes of records,
 * when none is running: the journal writes it asynchronously and retires
 * the segments it covers, as the node's disk role does. */
static void
journal_snapshot_due(struct ubc_journal *j, uint64_t appended)
{
    static const uint64_t blob = 42;
    static uint64_t next_at, appended_last;
    if (snapshot_every_bytes == 0)
        return;
    uint64_t bytes = appended * ubc_journal_record_footprint(RECORD_PAYLOAD_BYTES);
    if (appended < appended_last) /* a new sample counts from 0 */
        next_at = 0;
    appended_last = appended;
    if (bytes < next_at || ubc_journal_snapshot_status(j, NULL) == -EINPROGRESS)
        return;
    if (ubc_journal_snapshot_begin(j, ubc_journal_next_sequence(j) - 1, &blob, sizeof(blob)) == 0)
        next_at = bytes + snapshot_every_bytes;
}

static struct sample
journal_sample(struct ubc_journal *j, uint64_t records, struct chainer *chainer)
{
    uint64_t chain_busy_start =
        chainer != NULL ? __atomic_load_n(&chainer->busy_ns, __ATOMIC_RELAXED) : 0;
    static uint8_t payload[RECORD_PAYLOAD_BYTES];
    struct ubc_journal_stats before, after;
    ubc_journal_stats_get(j, &before);
    uint64_t start_sequence = ubc_journal_next_sequence(j);
    uint64_t appended = 0;
    double cpu_start = thread_cpu_ns();
    double delay_start = thread_run_delay_ns();
    uint64_t start = ubc_time_monotonic_ns();
    while (appended < records) {
        journal_tick(j, payload, &appended, records);
        journal_snapshot_due(j, appended);
    }
    if (ubc_journal_flush(j, NULL, NULL) != 0)
        fprintf(stderr, "bench_journal: %s\n", ubc_journal_read_only_reason(j));
    double seconds = (double)(ubc_time_monotonic_ns() - start) * 1e-9;
    ubc_journal_stats_get(j, &after);
    uint64_t durable = ubc_journal_durable_sequence(j) + 1 - start_sequence;
    struct sample s = {
        .records_per_s = (double)durable / seconds,
        .mb_per_s = (double)(after.bytes_written - before.bytes_written) / seconds / 1e6,
        .fsyncs_per_s = (double)(after.fsyncs - before.fsyncs) / seconds,
        .cpu_ns_per_record = (thread_cpu_ns() - cpu_start) / (double)durable,
        .cpu_wait_share = (thread_run_delay_ns() - delay_start) / (seconds * 1e9),
        .latency_us_mean =
            (double)(after.durable_latency_ns_total - before.durable_latency_ns_total) /
            (double)(after.batches - before.batches + (after.batches == before.batches)) / 1e3,
    };
    if (chainer != NULL)
        s.chain_ns_per_record =
            (double)(__atomic_load_n(&chainer->busy_ns, __ATOMIC_RELAXED) - chain_busy_start) /
            (double)durable;
    return s;
}

/* Waits until the journal's next segment is zero-filled, so the samples
 * measure appends and not segment preparation. */
static void
journal_settle(struct ubc_journal *j)
{
    struct ubc_journal_stats stats;
    for (int i = 0; i < 600000; i++) {
        ubc_journal_poll(j, ubc_time_monotonic_ns(), NULL, NULL);
        ubc_journal_stats_get(j, &stats);
        if (stats.spare_ready || ubc_journal_read_only(j))
            return;
        usleep(100);
    }
}

static int fio_sample(const struct bench_config *c, int dsync, struct sample *out);

/* Runs the journal's samples, each followed by fio's (fio != NULL): the two
 * alternate, so a change in the machine's load hits both sides alike. */
static int
journal_run(const struct bench_config *c, uint32_t sync_mode, struct sample *out,
            struct sample *fio)
{
    char dir[600];
    snprintf(dir, sizeof(dir), "%s/journal-%u", c->dir, sync_mode);
    remove_tree(dir);
    if (mkdir(dir, 0755) != 0)
        return -errno;
    struct ubc_journal_params p = {
        .segment_bytes = c->segment_bytes,
        .batch_bytes_max = c->batch_bytes,
        .batches_inflight_max = c->inflight,
        .commit_interval_ns = COMMIT_INTERVAL_NS,
        .payload_bytes_max = 4096,
        .sync_mode = sync_mode,
        .chain_offload = c->chain_offload,
        .recycle_segments = c->recycle,
    };
    snapshot_every_bytes = c->snapshot_every_bytes;
    void *mem = aligned_alloc(ubc_journal_align(), ubc_journal_footprint(&p));
    struct ubc_journal *j = ubc_journal_join(ubc_journal_new(mem, &p));
    struct ubc_journal_uring uring;
    int rc = j == NULL ? -EINVAL : ubc_journal_uring_init(&uring, 64);
    if (rc != 0) {
        free(mem);
        return rc;
    }
    struct ubc_journal_open_params op = { .dir = dir, .io = ubc_journal_uring_io(&uring) };
    struct ubc_journal_scan_result report;
    rc = ubc_journal_open(j, &op, &report);
    if (rc == 0) {
        struct chainer chainer;
        struct chainer *with = chainer_start(c, &chainer, j);
        *out = journal_sample(j, 1000, with); /* warm-up: creates segment 0 */
        journal_settle(j);
        uint64_t records = c->sample_bytes / ubc_journal_record_footprint(RECORD_PAYLOAD_BYTES);
        for (uint32_t i = 0; i < c->samples && rc == 0; i++) {
            out[i] = journal_sample(j, records, with);
            if (with != NULL) /* fio gets the CPU the chainer would spin on */
                __atomic_store_n(&with->paused, 1u, __ATOMIC_RELEASE);
            if (fio != NULL && fio_sample(c, sync_mode == UBC_JOURNAL_SYNC_DSYNC, &fio[i]) != 0)
                rc = -EIO;
            if (with != NULL)
                __atomic_store_n(&with->paused, 0u, __ATOMIC_RELEASE);
        }
        chainer_stop(with);
        ubc_journal_close(j);
    }
    ubc_journal_uring_fini(&uring);
    ubc_journal_delete(ubc_journal_leave(j));
    free(mem);
    remove_tree(dir);
    return rc;
}

/* Runs fio once; fills MB/s and fdatasyncs/s. */
static int
fio_sample(const struct bench_config *c, int dsync, struct sample *out)
{
    char command[1024];
    snprintf(command, sizeof(command),
             "fio --name=journal --filename=%s/fio.dat --size=%llu --bs=%u --rw=write "
             "--ioengine=io_uring --registerfiles --fixedbufs --direct=1 --iodepth=%u "
             "--overwrite=1 %s --output-format=json 2>/dev/null",
             c->dir, (unsigned long long)c->sample_bytes, c->batch_bytes, c->inflight,
             dsync ? "--sync=dsync" : "--fdatasync=1");
    FILE *pipe = popen(command, "r");
    if (pipe == NULL)
        return -errno;
    json_error_t error;
    json_t *root = json_loadf(pipe, JSON_DISABLE_EOF_CHECK, &error);
    int status = pclose(pipe);
    if (root == NULL || status != 0) {
        fprintf(stderr, "bench_journal: fio failed (%s)\n", root == NULL ? error.text : "exit");
        json_decref(root);
        return -EIO;
    }
    json_t *job = json_array_get(json_object_get(root, "jobs"), 0);
    json_t *write = json_object_get(job, "write");
    double runtime_s = json_number_value(json_object_get(job, "job_runtime")) / 1000.0;
    double bw = json_number_value(json_object_get(write, "bw_bytes"));
    json_t *sync_lat = json_object_get(json_object_get(job, "sync"), "lat_ns");
    double syncs = json_number_value(json_object_get(sync_lat, "N"));
    out->mb_per_s = bw / 1e6;
    out->fsyncs_per_s = runtime_s > 0 ? syncs / runtime_s : 0;
    out->records_per_s = 0;
    out->cpu_ns_per_record = 0;
    out->latency_us_mean = 0;
    out->cpu_wait_share = 0;
    json_decref(root);
    return bw > 0 ? 0 : -EIO;
}

static double
median_of(const struct sample *s, uint32_t n, size_t field)
{
    double values[SAMPLES_MAX];
    for (uint32_t i = 0; i < n; i++)
        values[i] = *(const double *)((const char *)&s[i] + field);
    return ubc_bench_median(values, n);
}

static void
emit(const struct bench_config *c, const char *mode, const char *metric, const char *unit,
     double value, const char *baseline, double baseline_value)
{
    struct ubc_bench_result r = {
        .harness = "journal",
        .metric = metric,
        .value = value,
        .unit = unit,
        .baseline = baseline,
        .baseline_value = baseline_value,
        .samples = c->samples,
    };
    ubc_bench_param_text(&r, "sync", mode);
    ubc_bench_param_text(&r, "chain", c->chain_offload ? "offload" : "inline");
    ubc_bench_param_num(&r, "recycle_segments", c->recycle);
    ubc_bench_param_num(&r, "snapshot_every_bytes", (double)c->snapshot_every_bytes);
    ubc_bench_param_num(&r, "record_payload_bytes", RECORD_PAYLOAD_BYTES);
    ubc_bench_param_num(&r, "block_bytes", c->batch_bytes);
    ubc_bench_param_num(&r, "inflight", c->inflight);
    ubc_bench_param_num(&r, "sample_bytes", (double)c->sample_bytes);
    ubc_bench_param_num(&r, "segment_bytes", (double)c->segment_bytes);
    ubc_bench_emit(&r);
}

static int
run_mode(const struct bench_config *c, uint32_t sync_mode)
{
    int dsync = sync_mode == UBC_JOURNAL_SYNC_DSYNC;
    const char *mode = dsync ? "o_dsync" : "linked_fdatasync";
    struct sample journal[SAMPLES_MAX], fio[SAMPLES_MAX];
    struct sample layout;
    if (fio_sample(c, dsync, &layout) != 0) /* the first run lays the file out */
        return 1;
    int rc = journal_run(c, sync_mode, journal, fio);
    if (rc != 0) {
        fprintf(stderr, "bench_journal: journal run failed: %s\n", strerror(-rc));
        return 1;
    }
    double mb = median_of(journal, c->samples, offsetof(struct sample, mb_per_s));
    double fio_mb = median_of(fio, c->samples, offsetof(struct sample, mb_per_s));
    double records = median_of(journal, c->samples, offsetof(struct sample, records_per_s));
    emit(c, mode, "write_mb_per_s", "MB/s", mb, "fio", fio_mb);
    /* Each journal sample ran right before its fio sample: the median of
     * the pairs' ratios is steadier than the ratio of the medians when the
     * machine's speed drifts during the run (a shared host). */
    double ratios[SAMPLES_MAX];
    for (uint32_t i = 0; i < c->samples; i++)
        ratios[i] = fio[i].mb_per_s > 0 ? journal[i].mb_per_s / fio[i].mb_per_s : 0;
    emit(c, mode, "write_mb_per_s_paired_ratio", "x", ubc_bench_median(ratios, c->samples), NULL,
         0);
    emit(c, mode, "durable_records_per_s", "records/s", records, "aim_1M_records_per_s", 1e6);
    /* CPU per record says whether a run was bound by the CPU or the disk, and
     * is steadier than wall-clock rates on a shared machine. */
    double cpu = median_of(journal, c->samples, offsetof(struct sample, cpu_ns_per_record));
    emit(c, mode, "cpu_ns_per_record", "ns", cpu, NULL, 0);
    if (c->chain_offload) { /* the chain thread's busy time: the CPU moved off the appender */
        double chain = median_of(journal, c->samples, offsetof(struct sample, chain_ns_per_record));
        emit(c, mode, "chain_cpu_ns_per_record", "ns", chain, NULL, 0);
    }
    double latency = median_of(journal, c->samples, offsetof(struct sample, latency_us_mean));
    emit(c, mode, "batch_durable_latency_us_mean", "us", latency, NULL, 0);
    /* How much of the run the harness spent waiting for a CPU others held. */
    double wait = median_of(journal, c->samples, offsetof(struct sample, cpu_wait_share));
    emit(c, mode, "cpu_wait_share", "fraction", wait, NULL, 0);
    if (!dsync) {
        double syncs = median_of(journal, c->samples, offsetof(struct sample, fsyncs_per_s));
        double fio_syncs = median_of(fio, c->samples, offsetof(struct sample, fsyncs_per_s));
        emit(c, mode, "fdatasyncs_per_s", "fsyncs/s", syncs, "fio", fio_syncs);
    }
    return 0;
}

/* A device that takes every write at once and keeps nothing: the journal's
 * own CPU cost (records, hashing, batching, completions) without the disk
 * and without the kernel, i.e. the bandwidth ceiling of one core. */
#define NULL_QUEUE 512u
struct null_device {
    struct ubc_journal_io_completion done[NULL_QUEUE];
    uint32_t head, tail;
};

static int
null_push(struct null_device *d, uint64_t user_data, int32_t result)
{
    if (d->tail - d->head == NULL_QUEUE)
        return -EBUSY;
    d->done[d->tail++ % NULL_QUEUE] =
        (struct ubc_journal_io_completion){ .user_data = user_data, .result = result };
    return 0;
}

static int
null_buffers(void *ctx, void *base, uint64_t bytes)
{
    (void)ctx, (void)base, (void)bytes;
    return 0;
}

static int
null_file_register(void *ctx, uint32_t slot, int fd)
{
    (void)ctx, (void)slot, (void)fd;
    return 0;
}

static int
null_write(void *ctx, uint32_t slot, const void *buf, uint32_t bytes, uint64_t offset,
           uint64_t user_data, uint32_t flags)
{
    (void)slot, (void)buf, (void)offset, (void)flags;
    return null_push(ctx, user_data, (int32_t)bytes);
}

static int
null_fsync(void *ctx, uint32_t slot, uint64_t user_data, uint32_t flags)
{
    (void)slot, (void)flags;
    return null_push(ctx, user_data, 0);
}

static int
null_submit(void *ctx)
{
    (void)ctx;
    return 0;
}

static uint32_t
null_reap(void *ctx, struct ubc_journal_io_completion *out, uint32_t max)
{
    struct null_device *d = ctx;
    uint32_t count = 0;
    while (count < max && d->head != d->tail)
        out[count++] = d->done[d->head++ % NULL_QUEUE];
    return count;
}

static int
null_allocate(void *ctx, int fd, uint64_t bytes)
{
    (void)ctx, (void)fd, (void)bytes;
    return 0;
}

static int
null_file_op(void *ctx, const struct ubc_journal_io_file_request *r, uint64_t user_data)
{
    /* Files are really opened (the journal keeps their fds), nothing else. */
    int32_t result = r->op == UBC_JOURNAL_IO_OPENAT || r->op == UBC_JOURNAL_IO_CLOSE
                         ? ubc_journal_io_file_run(r)
                         : 0;
    return null_push(ctx, user_data, result);
}

static const struct ubc_journal_io_ops null_ops = {
    .buffers_register = null_buffers,
    .file_register = null_file_register,
    .write_queue = null_write,
    .fsync_queue = null_fsync,
    .submit = null_submit,
    .reap = null_reap,
    .wait = null_submit,
    .allocate = null_allocate,
    .file_op_queue = null_file_op,
};

static void
null_device_run(const struct bench_config *c)
{
    static struct null_device device;
    char dir[600];
    snprintf(dir, sizeof(dir), "%s/journal-null", c->dir);
    remove_tree(dir);
    struct ubc_journal_params p = { .segment_bytes = 4ull << 30, /* no roll in the samples */
                                    .batch_bytes_max = c->batch_bytes,
                                    .batches_inflight_max = c->inflight,
                                    .commit_interval_ns = COMMIT_INTERVAL_NS,
                                    .payload_bytes_max = 4096,
                                    .chain_offload = c->chain_offload };
    void *mem = aligned_alloc(ubc_journal_align(), ubc_journal_footprint(&p));
    struct ubc_journal *j = ubc_journal_join(ubc_journal_new(mem, &p));
    struct ubc_journal_scan_result report;
    struct ubc_journal_open_params op = { .dir = dir, .io = { .ops = &null_ops, .ctx = &device } };
    if (j == NULL || mkdir(dir, 0755) != 0 || ubc_journal_open(j, &op, &report) != 0) {
        fprintf(stderr, "bench_journal: null device: cannot open\n");
        free(mem);
        return;
    }
    struct sample s[SAMPLES_MAX];
    uint64_t records = c->sample_bytes / ubc_journal_record_footprint(RECORD_PAYLOAD_BYTES);
    struct chainer chainer;
    struct chainer *with = chainer_start(c, &chainer, j);
    journal_sample(j, 1000, with);
    journal_settle(j);
    for (uint32_t i = 0; i < c->samples; i++)
        s[i] = journal_sample(j, records, with);
    chainer_stop(with);
    ubc_journal_close(j);
    ubc_journal_delete(ubc_journal_leave(j));
    free(mem);
    remove_tree(dir);
    emit(c, "null_device", "write_mb_per_s", "MB/s",
         median_of(s, c->samples, offsetof(struct sample, mb_per_s)), NULL, 0);
    emit(c, "null_device", "cpu_ns_per_record", "ns",
         median_of(s, c->samples, offsetof(struct sample, cpu_ns_per_record)), NULL, 0);
    if (c->chain_offload)
        emit(c, "null_device", "chain_cpu_ns_per_record", "ns",
             median_of(s, c->samples, offsetof(struct sample, chain_ns_per_record)), NULL, 0);
}

/* One snapshot of blob_bytes while appending: the longest time the lcore
 * spent in one append burst + poll (its stall) with the asynchronous
 * snapshot, against the time the blocking ubc_journal_snapshot_write() takes
 * (the stall the disk lcore had before), same journal, same blob. */
/* Appends and polls until the snapshot finished (snapshot) or for
 * duration_ns (no snapshot); returns the longest append burst + poll. */
static uint64_t
ticks_longest_ns(struct ubc_journal *j, int snapshot, uint64_t duration_ns)
{
    static uint8_t payload[RECORD_PAYLOAD_BYTES];
    uint64_t appended = 0, longest = 0;
    uint64_t end = ubc_time_monotonic_ns() + duration_ns;
    while (snapshot ? ubc_journal_snapshot_status(j, NULL) == -EINPROGRESS
                    : ubc_time_monotonic_ns() < end) {
        uint64_t tick = ubc_time_monotonic_ns();
        uint64_t before = appended;
        while (ubc_journal_append(j, 1, payload, RECORD_PAYLOAD_BYTES, appended) > 0)
            appended++;
        ubc_journal_poll(j, ubc_time_monotonic_ns(), NULL, NULL);
        uint64_t spent = ubc_time_monotonic_ns() - tick;
        longest = spent > longest ? spent : longest;
        if (appended == before)
            ubc_journal_wait(j);
    }
    return longest;
}

static int
snapshot_stall_sample(struct ubc_journal *j, const uint8_t *blob, uint64_t blob_bytes,
                      double *async_stall_ms, double *blocking_ms, double *plain_ms)
{
    if (ubc_journal_flush(j, NULL, NULL) != 0)
        return -EIO;
    uint64_t start = ubc_time_monotonic_ns();
    int rc = ubc_journal_snapshot_write(j, ubc_journal_durable_sequence(j), blob, blob_bytes);
    *blocking_ms = (double)(ubc_time_monotonic_ns() - start) * 1e-6;
    if (rc != 0 || ubc_journal_flush(j, NULL, NULL) != 0)
        return rc != 0 ? rc : -EIO;
    *plain_ms = (double)ticks_longest_ns(j, 0, (uint64_t)(*blocking_ms * 1e6)) * 1e-6;
    uint64_t begin = ubc_time_monotonic_ns();
    rc = ubc_journal_snapshot_begin(j, ubc_journal_durable_sequence(j), blob, blob_bytes);
    uint64_t begin_ns = ubc_time_monotonic_ns() - begin; /* a tick of its own */
    if (rc != 0)
        return rc;
    uint64_t longest = ticks_longest_ns(j, 1, 0);
    *async_stall_ms = (double)(longest > begin_ns ? longest : begin_ns) * 1e-6;
    return ubc_journal_snapshot_status(j, NULL);
}

static void
snapshot_stall(const struct bench_config *c)
{
    char dir[600];
    snprintf(dir, sizeof(dir), "%s/journal-snapshot", c->dir);
    remove_tree(dir);
    uint64_t blob_bytes = ubc_bench_quick() ? (1ull << 20) : (64ull << 20);
    uint8_t *blob = malloc(blob_bytes);
    struct ubc_journal_params p = { .segment_bytes = c->segment_bytes,
                                    .batch_bytes_max = c->batch_bytes,
                                    .batches_inflight_max = c->inflight,
                                    .commit_interval_ns = COMMIT_INTERVAL_NS,
                                    .payload_bytes_max = 4096 };
    void *mem = aligned_alloc(ubc_journal_align(), ubc_journal_footprint(&p));
    struct ubc_journal *j = ubc_journal_join(ubc_journal_new(mem, &p));
    struct ubc_journal_uring uring;
    struct ubc_journal_scan_result report;
    int rc = blob == NULL || j == NULL || mkdir(dir, 0755) != 0
                 ? -EINVAL
                 : ubc_journal_uring_init(&uring, 64);
    if (rc == 0) {
        memset(blob, 0x5a, blob_bytes);
        struct ubc_journal_open_params op = { .dir = dir, .io = ubc_journal_uring_io(&uring) };
        rc = ubc_journal_open(j, &op, &report);
        if (rc == 0) {
            struct sample warm;
            warm = journal_sample(j, 1000, NULL);
            (void)warm;
            double stall[SAMPLES_MAX], blocking[SAMPLES_MAX], plain[SAMPLES_MAX];
            for (uint32_t i = 0; i < c->samples && rc == 0; i++)
                rc = snapshot_stall_sample(j, blob, blob_bytes, &stall[i], &blocking[i], &plain[i]);
            if (rc == 0) {
                double blocking_ms = ubc_bench_median(blocking, c->samples);
                emit(c, "snapshot_while_appending", "tick_ms_max", "ms",
                     ubc_bench_median(stall, c->samples), "tick_ms_max_without_snapshot",
                     ubc_bench_median(plain, c->samples));
                emit(c, "snapshot_while_appending", "tick_ms_max", "ms",
                     ubc_bench_median(stall, c->samples), "blocking_snapshot_write_ms",
                     blocking_ms);
            }
            ubc_journal_close(j);
        }
        ubc_journal_uring_fini(&uring);
    }
    if (rc != 0)
        fprintf(stderr, "bench_journal: snapshot stall: %s\n", strerror(rc < 0 ? -rc : rc));
    if (j != NULL)
        ubc_journal_delete(ubc_journal_leave(j));
    free(mem);
    free(blob);
    remove_tree(dir);
}

/* MB/s of one chain link over a batch-sized buffer: BLAKE3 keyed (the
 * journal's chain since format 2) against libsodium's BLAKE2b-256 (format 1),
 * on this core, in this run: the CPU ceiling of a cryptographic chain. */
static void
hash_baseline(const struct bench_config *c)
{
    uint8_t *data = aligned_alloc(4096, c->batch_bytes);
    uint8_t chain[32] = { 0 };
    if (data == NULL || sodium_init() < 0) {
        free(data);
        return;
    }
    for (uint32_t i = 0; i < c->batch_bytes; i++)
        data[i] = (uint8_t)(i * 131u);
    uint32_t rounds = ubc_bench_quick() ? 20 : 400;
    double blake3[SAMPLES_MAX], blake2b[SAMPLES_MAX];
    for (uint32_t s = 0; s < c->samples; s++) {
        uint64_t start = ubc_time_monotonic_ns();
        for (uint32_t r = 0; r < rounds; r++)
            ubc_blake3_keyed(chain, data, c->batch_bytes, chain);
        uint64_t middle = ubc_time_monotonic_ns();
        for (uint32_t r = 0; r < rounds; r++)
            crypto_generichash(chain, 32, data, c->batch_bytes, chain, 32);
        uint64_t end = ubc_time_monotonic_ns();
        double bytes = (double)rounds * c->batch_bytes;
        blake3[s] = bytes / (double)(middle - start) * 1e3;
        blake2b[s] = bytes / (double)(end - middle) * 1e3;
    }
    free(data);
    emit(c, "hash_only", "chain_hash_mb_per_s", "MB/s", ubc_bench_median(blake3, c->samples),
         "blake2b_256", ubc_bench_median(blake2b, c->samples));
}

/* Overrides to explore the design space; the defaults are what we quote. */
static void
config_from_environment(struct bench_config *c)
{
    const char *batch_kib = getenv("UBC_BENCH_JOURNAL_BATCH_KIB");
    const char *inflight = getenv("UBC_BENCH_JOURNAL_INFLIGHT");
    if (batch_kib != NULL)
        c->batch_bytes = (uint32_t)strtoul(batch_kib, NULL, 10) * 1024u;
    if (inflight != NULL)
        c->inflight = (uint32_t)strtoul(inflight, NULL, 10);
    const char *spin = getenv("UBC_BENCH_CHAIN_SPIN");
    if (spin != NULL)
        chainer_spin_polls = (uint32_t)strtoul(spin, NULL, 10);
    const char *sleep_us = getenv("UBC_BENCH_CHAIN_SLEEP_US");
    if (sleep_us != NULL)
        chainer_sleep_us = (uint32_t)strtoul(sleep_us, NULL, 10);
}

int
main(void)
{
    struct bench_config c = {
        .segment_bytes = 1ull << 30,
        .sample_bytes = 128ull << 20,
        .samples = 7,
        .batch_bytes = 256u * 1024,
        .inflight = 4,
    };
    if (ubc_bench_quick()) {
        c.segment_bytes = 16ull << 20;
        c.sample_bytes = 4ull << 20;
        c.samples = 2;
    }
    config_from_environment(&c);
    const char *base = getenv("UBC_BENCH_DIR");
    snprintf(c.dir, sizeof(c.dir), "%s/storage-journal",
             base != NULL ? base : "/var/tmp/ubc-bench");
    char command[600];
    snprintf(command, sizeof(command), "mkdir -p '%s'", c.dir);
    if (system(command) != 0)
        return 1;
    struct ubc_journal_uring probe;
    if (ubc_journal_uring_init(&probe, 8) != 0) {
        fprintf(stderr, "bench_journal: no io_uring here, skipping\n");
        return 77;
    }
    ubc_journal_uring_fini(&probe);
    /* UBC_BENCH_JOURNAL_PARTS (e.g. "small"): a subset, to explore. */
    const char *parts = getenv("UBC_BENCH_JOURNAL_PARTS");
#define PART(name) (parts == NULL || strstr(parts, name) != NULL)
    if (PART("hash"))
        hash_baseline(&c);
    if (PART("snapshot"))
        snapshot_stall(&c);
    if (PART("null,") || (parts != NULL && strcmp(parts, "null") == 0) || parts == NULL)
        null_device_run(&c);
    c.chain_offload = 1;
    if (PART("nulloffload"))
        null_device_run(&c);
    c.chain_offload = 0;
    int failed = PART("linked") ? run_mode(&c, UBC_JOURNAL_SYNC_LINKED) : 0;
    /* The chain on a second thread: what a node with a chain lcore does. */
    c.chain_offload = 1;
    if (PART("linkedoffload"))
        failed |= run_mode(&c, UBC_JOURNAL_SYNC_LINKED);
    if (PART("dsyncoffload"))
        failed |= run_mode(&c, UBC_JOURNAL_SYNC_DSYNC);
    c.chain_offload = 0;
    if (PART("dsync,") || (parts != NULL && strcmp(parts, "dsync") == 0) || parts == NULL)
        failed |= run_mode(&c, UBC_JOURNAL_SYNC_DSYNC);
    /* Small segments: every sample rolls segments and pays for preparing
     * (zero-filling) the next ones, the steady state of a long run. */
    c.segment_bytes = 64ull << 20;
    if (!ubc_bench_quick() && PART("small")) /* the smoke test stays under 5 s */
        failed |= run_mode(&c, UBC_JOURNAL_SYNC_LINKED);
    /* The node's steady state: snapshots retire segments, which are reused
     * (only their header rewritten) instead of new ones zero-filled; in both
     * sync modes (disk.sync_dsync). */
    c.recycle = 1;
    c.snapshot_every_bytes = 16ull << 20;
    if (!ubc_bench_quick() && PART("recycle")) {
        failed |= run_mode(&c, UBC_JOURNAL_SYNC_LINKED);
        failed |= run_mode(&c, UBC_JOURNAL_SYNC_DSYNC);
    }
    remove_tree(c.dir);
    return failed;
}
