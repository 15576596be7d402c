/* test_journal_async.c: what the disk lcore must never block on.
 *
 * - a snapshot written asynchronously while appends go on and become
 *   durable; recovery then starts from it and retired segments are gone;
 * - a snapshot that fails half-way (fsync EIO) leaves no file behind and the
 *   previous snapshot stays in force, the journal keeps appending;
 * - a process killed at chosen moments during a snapshot: recovery uses the
 *   previous snapshot (or the new one if it became durable), never a .tmp;
 * - segment preparation goes through file requests (openat, fallocate,
 *   fsync of the directory), never the synchronous allocate;
 * - a spare segment file left empty by a crash right after its openat.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "journal_test_util.h"

#define BLOB_BYTES (2u << 20)

static uint8_t blob[BLOB_BYTES];

static void
blob_fill(uint8_t *out, uint64_t bytes, uint64_t tag)
{
    for (uint64_t i = 0; i < bytes; i++)
        out[i] = (uint8_t)(tag * 131u + i * 7u + (i >> 12));
}

struct replay {
    struct test_seen seen;
    uint64_t blob_errors;
};

/* The blob's tag is its sequence: check every byte. */
static void
replay_snapshot(void *ctx, uint64_t sequence, const void *data, uint64_t bytes)
{
    struct replay *r = ctx;
    const uint8_t *p = data;
    for (uint64_t i = 0; i < bytes; i++)
        if (p[i] != (uint8_t)(sequence * 131u + i * 7u + (i >> 12))) {
            r->blob_errors++;
            break;
        }
    test_seen_snapshot(&r->seen, sequence, data, bytes);
}

static void
replay_record(void *ctx, uint64_t sequence, uint16_t type, const void *payload, uint32_t length)
{
    struct replay *r = ctx;
    test_seen_record(&r->seen, sequence, type, payload, length);
}

static int
reopen(const char *dir, const struct ubc_journal_params *p, struct replay *r,
       struct ubc_journal_scan_result *report)
{
    uint64_t footprint = ubc_journal_footprint(p);
    void *mem = aligned_alloc(ubc_journal_align(), footprint);
    struct ubc_journal *j = ubc_journal_join(ubc_journal_new(mem, p));
    struct ubc_journal_uring uring;
    assert_int_equal(ubc_journal_uring_init(&uring, 64), 0);
    memset(r, 0, sizeof(*r));
    struct ubc_journal_open_params op = { .dir = dir,
                                          .io = ubc_journal_uring_io(&uring),
                                          .snapshot_callback = replay_snapshot,
                                          .record_callback = replay_record,
                                          .replay_ctx = r };
    int rc = ubc_journal_open(j, &op, report);
    ubc_journal_close(j);
    ubc_journal_uring_fini(&uring);
    ubc_journal_delete(ubc_journal_leave(j));
    free(mem);
    return rc;
}

static void
append_some(struct test_journal *t, struct test_seen *durable, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++)
        assert_true(test_append(t, durable) > 0);
    assert_int_equal(ubc_journal_flush(t->journal, test_seen_durable, durable), 0);
}

static int
dir_has_temp(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int found = 0;
    while (d != NULL && (e = readdir(d)) != NULL)
        found |= strstr(e->d_name, ".tmp") != NULL;
    if (d != NULL)
        closedir(d);
    return found;
}

static void
test_snapshot_while_appending(void **state)
{
    (void)state;
    char dir[256];
    test_dir_make(dir, sizeof(dir), "async-snap");
    struct ubc_journal_params p = test_params_small();
    struct test_journal t = { 0 };
    struct test_seen durable = { 0 };
    assert_int_equal(test_journal_open(&t, dir, &p, 0, &durable), 0);
    append_some(&t, &durable, 3000);
    uint64_t covered = ubc_journal_durable_sequence(t.journal);
    blob_fill(blob, BLOB_BYTES, covered);
    assert_int_equal(ubc_journal_snapshot_status(t.journal, NULL), -ENOENT);
    assert_int_equal(ubc_journal_snapshot_begin(t.journal, covered, blob, BLOB_BYTES), 0);
    assert_int_equal(ubc_journal_snapshot_begin(t.journal, covered, blob, BLOB_BYTES), -EBUSY);
    uint64_t durable_before = durable.count;
    uint32_t polls = 0;
    while (ubc_journal_snapshot_status(t.journal, NULL) == -EINPROGRESS) {
        assert_true(test_append(&t, &durable) > 0);
        ubc_journal_poll(t.journal, ubc_time_monotonic_ns(), test_seen_durable, &durable);
        ubc_journal_wait(t.journal);
        assert_true(++polls < 1000000);
    }
    uint64_t sequence = 0;
    assert_int_equal(ubc_journal_snapshot_status(t.journal, &sequence), 0);
    assert_int_equal(sequence, covered);
    /* Appends went on and became durable while the snapshot was written. */
    uint64_t durable_during = durable.count - durable_before;
    printf("snapshot of %u bytes: %u polls, %" PRIu64 " records made durable meanwhile\n",
           BLOB_BYTES, polls, durable_during);
    assert_true(durable_during > 0);
    append_some(&t, &durable, 500);
    struct ubc_journal_stats stats;
    ubc_journal_stats_get(t.journal, &stats);
    assert_true(stats.segments_retired > 0);
    assert_int_equal(stats.snapshots, 1);
    uint64_t last = ubc_journal_durable_sequence(t.journal);
    test_journal_destroy(&t);
    assert_false(dir_has_temp(dir));

    struct replay r;
    struct ubc_journal_scan_result report;
    assert_int_equal(reopen(dir, &p, &r, &report), 0);
    assert_int_equal(r.seen.snapshot_sequence, covered);
    assert_int_equal(r.seen.snapshot_bytes, BLOB_BYTES);
    assert_int_equal(r.blob_errors, 0);
    assert_int_equal(r.seen.last_sequence, last);
    assert_int_equal(r.seen.count, last - covered);
    assert_int_equal(r.seen.payload_errors + r.seen.out_of_order, 0);
    test_dir_remove(dir);
}

/* The disk role's way: snapshot the state folded so far, covering the last
 * record appended, without a flush; the snapshot waits for it to be durable. */
static void
test_snapshot_of_last_appended(void **state)
{
    (void)state;
    char dir[256];
    test_dir_make(dir, sizeof(dir), "async-last");
    struct ubc_journal_params p = test_params_small();
    struct test_journal t = { 0 };
    struct test_seen durable = { 0 };
    assert_int_equal(test_journal_open(&t, dir, &p, 0, &durable), 0);
    for (int i = 0; i < 2500; i++)
        assert_true(test_append(&t, &durable) > 0);
    uint64_t covered = ubc_journal_next_sequence(t.journal) - 1;
    assert_true(covered > ubc_journal_durable_sequence(t.journal)); /* not durable yet */
    /* Neither an older record inside a batch nor a future one is a batch end. */
    assert_int_equal(ubc_journal_snapshot_begin(t.journal, covered - 1, blob, 16), -EINVAL);
    assert_int_equal(ubc_journal_snapshot_begin(t.journal, covered + 1, blob, 16), -EINVAL);
    blob_fill(blob, 65536, covered);
    assert_int_equal(ubc_journal_snapshot_begin(t.journal, covered, blob, 65536), 0);
    while (ubc_journal_snapshot_status(t.journal, NULL) == -EINPROGRESS) {
        assert_true(test_append(&t, &durable) > 0);
        ubc_journal_poll(t.journal, ubc_time_monotonic_ns(), test_seen_durable, &durable);
        ubc_journal_wait(t.journal);
    }
    assert_int_equal(ubc_journal_snapshot_status(t.journal, NULL), 0);
    append_some(&t, &durable, 10);
    uint64_t last = ubc_journal_durable_sequence(t.journal);
    assert_int_equal(durable.count, last);
    assert_int_equal(durable.out_of_order, 0);
    test_journal_destroy(&t);
    struct replay r;
    struct ubc_journal_scan_result report;
    assert_int_equal(reopen(dir, &p, &r, &report), 0);
    assert_int_equal(r.seen.snapshot_sequence, covered);
    assert_int_equal(r.blob_errors, 0);
    assert_int_equal(r.seen.count, last - covered);
    assert_int_equal(r.seen.payload_errors + r.seen.out_of_order, 0);
    test_dir_remove(dir);
}

/* The journal fails before the records a snapshot covers are durable: the
 * snapshot fails with the journal's errno and writes nothing. */
static void
test_snapshot_waiting_when_disk_fails(void **state)
{
    (void)state;
    char dir[256];
    test_dir_make(dir, sizeof(dir), "async-ro");
    struct ubc_journal_params p = test_params_small();
    struct test_journal t = { .use_fault = 1 };
    struct test_seen durable = { 0 };
    assert_int_equal(test_journal_open(&t, dir, &p, 0, &durable), 0);
    append_some(&t, &durable, 100);
    struct ubc_journal_fault_rule rule = {
        .kind = UBC_JOURNAL_FAULT_ERROR, .errno_value = EIO, .nth = 1, .persistent = 1
    };
    ubc_journal_fault_set(&t.fault, UBC_JOURNAL_FAULT_WRITE, rule);
    for (int i = 0; i < 10; i++)
        assert_true(test_append(&t, &durable) > 0);
    uint64_t covered = ubc_journal_next_sequence(t.journal) - 1;
    assert_int_equal(ubc_journal_snapshot_begin(t.journal, covered, blob, 4096), 0);
    for (int i = 0; i < 1000 && ubc_journal_snapshot_status(t.journal, NULL) == -EINPROGRESS; i++) {
        ubc_journal_poll(t.journal, ubc_time_monotonic_ns(), test_seen_durable, &durable);
        ubc_journal_wait(t.journal);
    }
    assert_int_equal(ubc_journal_snapshot_status(t.journal, NULL), -EIO);
    assert_int_equal(ubc_journal_read_only(t.journal), EIO);
    assert_int_equal(durable.failed, 10); /* reported lost, never durable */
    assert_false(dir_has_temp(dir));
    test_journal_destroy(&t);
    struct replay r;
    struct ubc_journal_scan_result report;
    assert_int_equal(reopen(dir, &p, &r, &report), 0);
    assert_int_equal(r.seen.snapshot_sequence, 0); /* none */
    assert_int_equal(r.seen.count, 100);
    test_dir_remove(dir);
}

static void
test_snapshot_failure_keeps_previous(void **state)
{
    (void)state;
    char dir[256];
    test_dir_make(dir, sizeof(dir), "async-fail");
    struct ubc_journal_params p = test_params_small();
    struct test_journal t = { .use_fault = 1 };
    struct test_seen durable = { 0 };
    assert_int_equal(test_journal_open(&t, dir, &p, 0, &durable), 0);
    append_some(&t, &durable, 2000);
    uint64_t first = ubc_journal_durable_sequence(t.journal);
    blob_fill(blob, 4096, first);
    assert_int_equal(ubc_journal_snapshot_write(t.journal, first, blob, 4096), 0);
    append_some(&t, &durable, 2000);
    /* Let the next segment finish preparing, so the only file requests
     * counted below are the snapshot's: openat, blob writes, header, fsync. */
    struct ubc_journal_stats stats;
    for (int i = 0; i < 100000; i++) {
        ubc_journal_stats_get(t.journal, &stats);
        if (stats.spare_ready)
            break;
        ubc_journal_poll(t.journal, ubc_time_monotonic_ns(), test_seen_durable, &durable);
        ubc_journal_wait(t.journal);
    }
    assert_true(stats.spare_ready);
    struct ubc_journal_fault_rule rule = { .kind = UBC_JOURNAL_FAULT_ERROR,
                                           .errno_value = EIO,
                                           .nth = 5 }; /* the fsync: after
                                           openat, two 1 MiB blob writes, the header */
    ubc_journal_fault_set(&t.fault, UBC_JOURNAL_FAULT_FILE, rule);
    uint64_t second = ubc_journal_durable_sequence(t.journal);
    blob_fill(blob, BLOB_BYTES, second);
    assert_int_equal(ubc_journal_snapshot_write(t.journal, second, blob, BLOB_BYTES), -EIO);
    assert_int_equal(t.fault.injected[UBC_JOURNAL_FAULT_FILE], 1);
    assert_int_equal(ubc_journal_snapshot_status(t.journal, NULL), -EIO);
    assert_false(dir_has_temp(dir));
    assert_int_equal(ubc_journal_read_only(t.journal), 0); /* appends go on */
    append_some(&t, &durable, 100);
    uint64_t last = ubc_journal_durable_sequence(t.journal);
    test_journal_destroy(&t);

    struct replay r;
    struct ubc_journal_scan_result report;
    assert_int_equal(reopen(dir, &p, &r, &report), 0);
    assert_int_equal(r.seen.snapshot_sequence, first);
    assert_int_equal(r.blob_errors, 0);
    assert_int_equal(r.seen.last_sequence, last);
    assert_int_equal(r.seen.payload_errors + r.seen.out_of_order, 0);
    test_dir_remove(dir);
}

/* The child: snapshot 1 complete, then snapshot 2 begun and the process
 * killed after `steps` completions. Writes its durable watermark first. */
static void
crash_child(const char *dir, const struct ubc_journal_params *p, uint32_t steps, int pipe_fd)
{
    struct test_journal t = { 0 };
    struct test_seen durable = { 0 };
    if (test_journal_open(&t, dir, p, 0, &durable) != 0)
        _exit(2);
    for (int i = 0; i < 1500; i++)
        test_append(&t, &durable);
    ubc_journal_flush(t.journal, test_seen_durable, &durable);
    uint64_t first = ubc_journal_durable_sequence(t.journal);
    blob_fill(blob, 8192, first);
    if (ubc_journal_snapshot_write(t.journal, first, blob, 8192) != 0)
        _exit(3);
    for (int i = 0; i < 1500; i++)
        test_append(&t, &durable);
    ubc_journal_flush(t.journal, test_seen_durable, &durable);
    uint64_t second = ubc_journal_durable_sequence(t.journal);
    uint64_t marks[2] = { first, second };
    if (write(pipe_fd, marks, sizeof(marks)) != sizeof(marks))
        _exit(4);
    blob_fill(blob, BLOB_BYTES, second);
    if (ubc_journal_snapshot_begin(t.journal, second, blob, BLOB_BYTES) != 0)
        _exit(5);
    for (uint32_t i = 0; i < steps; i++) {
        ubc_journal_poll(t.journal, ubc_time_monotonic_ns(), test_seen_durable, &durable);
        ubc_journal_wait(t.journal);
    }
    raise(SIGKILL);
}

static void
test_crash_during_snapshot(void **state)
{
    (void)state;
    struct ubc_journal_params p = test_params_small();
    uint32_t with_temp_recovered = 0, used_first = 0, used_second = 0;
    for (uint32_t steps = 0; steps < 12; steps++) {
        char dir[256];
        test_dir_make(dir, sizeof(dir), "async-crash");
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            crash_child(dir, &p, steps, fds[1]);
        }
        close(fds[1]);
        uint64_t marks[2] = { 0, 0 };
        assert_int_equal(read(fds[0], marks, sizeof(marks)), sizeof(marks));
        close(fds[0]);
        int status = 0;
        waitpid(pid, &status, 0);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        int had_temp = dir_has_temp(dir);
        struct replay r;
        struct ubc_journal_scan_result report;
        int rc = reopen(dir, &p, &r, &report);
        if (rc != 0)
            fail_msg("steps %u: %s", steps, report.message);
        assert_false(dir_has_temp(dir));
        assert_int_equal(r.blob_errors, 0);
        assert_true(r.seen.snapshot_sequence == marks[0] || r.seen.snapshot_sequence == marks[1]);
        assert_true(r.seen.last_sequence >= marks[1]);
        assert_int_equal(r.seen.payload_errors + r.seen.out_of_order, 0);
        used_first += r.seen.snapshot_sequence == marks[0];
        used_second += r.seen.snapshot_sequence == marks[1];
        with_temp_recovered += had_temp && r.seen.snapshot_sequence == marks[0];
        test_dir_remove(dir);
    }
    printf("killed during a snapshot 12 times: previous snapshot used %u times (%u with a .tmp "
           "left), the new one %u times\n",
           used_first, with_temp_recovered, used_second);
    assert_true(with_temp_recovered > 0);
    assert_true(used_second > 0);
}

/* Counts the file requests, passing them to io_uring. */
struct counting_io {
    struct ubc_journal_io inner;
    struct ubc_journal_io_ops ops;
    uint64_t requests[8];
    uint64_t sync_allocations;
};

static struct counting_io counting;

static int
counting_file_op(void *ctx, const struct ubc_journal_io_file_request *r, uint64_t user_data)
{
    struct counting_io *c = ctx;
    c->requests[r->op & 7u]++;
    return c->inner.ops->file_op_queue(c->inner.ctx, r, user_data);
}

static int
counting_allocate(void *ctx, int fd, uint64_t bytes)
{
    struct counting_io *c = ctx;
    c->sync_allocations++;
    return c->inner.ops->allocate(c->inner.ctx, fd, bytes);
}

#define FORWARD(name, signature, call) \
    static int name signature          \
    {                                  \
        struct counting_io *c = ctx;   \
        return c->inner.ops->call;     \
    }
FORWARD(counting_buffers, (void *ctx, void *base, uint64_t bytes),
        buffers_register(c->inner.ctx, base, bytes))
FORWARD(counting_file_register, (void *ctx, uint32_t slot, int fd),
        file_register(c->inner.ctx, slot, fd))
FORWARD(counting_write,
        (void *ctx, uint32_t slot, const void *buf, uint32_t bytes, uint64_t offset,
         uint64_t user_data, uint32_t flags),
        write_queue(c->inner.ctx, slot, buf, bytes, offset, user_data, flags))
FORWARD(counting_fsync, (void *ctx, uint32_t slot, uint64_t user_data, uint32_t flags),
        fsync_queue(c->inner.ctx, slot, user_data, flags))
FORWARD(counting_submit, (void *ctx), submit(c->inner.ctx))
FORWARD(counting_wait, (void *ctx), wait(c->inner.ctx))

static uint32_t
counting_reap(void *ctx, struct ubc_journal_io_completion *out, uint32_t max)
{
    struct counting_io *c = ctx;
    return c->inner.ops->reap(c->inner.ctx, out, max);
}

static void
test_segment_preparation_async(void **state)
{
    (void)state;
    char dir[256];
    test_dir_make(dir, sizeof(dir), "async-roll");
    struct ubc_journal_params p = test_params_small();
    struct ubc_journal_uring uring;
    assert_int_equal(ubc_journal_uring_init(&uring, 64), 0);
    counting = (struct counting_io){
        .inner = ubc_journal_uring_io(&uring),
        .ops = { .buffers_register = counting_buffers,
                 .file_register = counting_file_register,
                 .write_queue = counting_write,
                 .fsync_queue = counting_fsync,
                 .submit = counting_submit,
                 .reap = counting_reap,
                 .wait = counting_wait,
                 .allocate = counting_allocate,
                 .file_op_queue = counting_file_op },
    };
    void *mem = aligned_alloc(ubc_journal_align(), ubc_journal_footprint(&p));
    struct ubc_journal *j = ubc_journal_join(ubc_journal_new(mem, &p));
    struct test_seen replay = { 0 };
    struct ubc_journal_open_params op = { .dir = dir,
                                          .io = { .ops = &counting.ops, .ctx = &counting },
                                          .snapshot_callback = test_seen_snapshot,
                                          .record_callback = test_seen_record,
                                          .replay_ctx = &replay };
    struct ubc_journal_scan_result report;
    assert_int_equal(ubc_journal_open(j, &op, &report), 0);
    struct test_journal t = { .mem = mem, .journal = j };
    struct test_seen durable = { 0 };
    append_some(&t, &durable, 6000); /* about 1.5 MiB: several 256 KiB segments */
    struct ubc_journal_stats stats;
    ubc_journal_stats_get(j, &stats);
    ubc_journal_close(j);
    printf("%" PRIu64 " segments created: openat %" PRIu64 ", fallocate %" PRIu64 ", fsync %" PRIu64
           ", close %" PRIu64 " requests; synchronous allocations %" PRIu64 "\n",
           stats.segments_created, counting.requests[UBC_JOURNAL_IO_OPENAT],
           counting.requests[UBC_JOURNAL_IO_FALLOCATE], counting.requests[UBC_JOURNAL_IO_FSYNC],
           counting.requests[UBC_JOURNAL_IO_CLOSE], counting.sync_allocations);
    assert_true(stats.segments_created >= 4);
    assert_true(counting.requests[UBC_JOURNAL_IO_OPENAT] >= stats.segments_created);
    assert_int_equal(counting.requests[UBC_JOURNAL_IO_FALLOCATE], stats.segments_created);
    /* The last spare may still be between its steps when close stops it. */
    assert_true(counting.requests[UBC_JOURNAL_IO_FSYNC] + 1 >= stats.segments_created);
    assert_true(counting.requests[UBC_JOURNAL_IO_CLOSE] >= stats.segments_created - 2);
    assert_int_equal(counting.sync_allocations, 0);
    ubc_journal_delete(ubc_journal_leave(j));
    ubc_journal_uring_fini(&uring);
    free(mem);

    /* A crash right after a spare's openat leaves an empty file: not corruption. */
    char path[512];
    snprintf(path, sizeof(path), "%s/seg-%016" PRIx64 ".ubcj", dir, stats.segments_created);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    close(fd);
    struct replay r;
    int rc = reopen(dir, &p, &r, &report);
    if (rc != 0)
        fail_msg("empty spare refused: %s", report.message);
    assert_int_equal(r.seen.count, 6000);
    test_dir_remove(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_snapshot_while_appending),
        cmocka_unit_test(test_snapshot_of_last_appended),
        cmocka_unit_test(test_snapshot_waiting_when_disk_fails),
        cmocka_unit_test(test_snapshot_failure_keeps_previous),
        cmocka_unit_test(test_crash_during_snapshot),
        cmocka_unit_test(test_segment_preparation_async),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
