/* test_journal_powercut.c: simulated power cuts, the case kill -9 cannot reach.
 *
 * usage: test_journal_powercut [iterations] [seed]
 * An I/O layer wrapped around io_uring keeps the old contents of every write
 * until an fdatasync that was queued after the write finished (or was linked
 * to it) has completed; in O_DSYNC mode, until the write finished. At a
 * random moment the test "cuts the power": it stops driving the journal, lets
 * the kernel finish what was in flight, then, for every write no completed
 * sync covers, keeps it, undoes it, or undoes a random subset of its 512-byte
 * sectors (torn, in any order). Then it recovers the directory with a fresh
 * journal: recovery must accept it (a legitimate crash is never corruption)
 * and replay every record reported durable before the cut, intact.
 * Directory operations (file creation, renames, unlinks: segment
 * preparation, snapshots, retirement, recycling) are modelled as a journaled
 * file system orders them: each is durable once a directory fsync queued
 * after it finished; at the cut, a random number of the others, oldest
 * first, survive and the rest are undone, newest first (an unlinked file is
 * kept under a hidden link until then).
 * Exit 0 pass, 1 fail, 77 skip (no io_uring).
 */
#include <inttypes.h>

#include "journal_test_util.h"

#define SECTOR_BYTES 512u
#define PENDING_MAX 4096u

struct pending_write {
    uint64_t id;
    uint32_t slot;
    uint32_t bytes;
    uint64_t offset;
    uint8_t *before; /* the bytes the write replaced; NULL once covered */
    uint64_t user_data;
    uint64_t done_event; /* event number when it finished, 0 before */
};

struct pending_sync {
    uint32_t slot;
    uint32_t done;
    uint64_t linked_write_id; /* the write it is linked to, or 0 */
    uint64_t user_data;
    uint64_t queued_event;
};

#define DIROPS_MAX 256u
#define LOCAL_MAX 16u

/* A directory operation not yet covered by a directory fsync. */
struct pending_dirop {
    uint32_t op; /* UBC_JOURNAL_IO_OPENAT (a creation), RENAMEAT or UNLINKAT */
    char name[64];
    char new_name[64];
    char keep[64]; /* UNLINKAT: the hidden link that keeps the inode */
};

struct powercut {
    struct ubc_journal_io inner;
    int fds[UBC_JOURNAL_IO_FILE_SLOTS];
    int dsync;
    int cut;        /* after the cut, completions are swallowed */
    uint64_t event; /* counts write completions and sync submissions */
    uint64_t next_id;
    uint64_t last_linked; /* id of the last write queued with a link, or 0 */
    uint32_t inflight;
    uint32_t write_count;
    uint32_t sync_count;
    struct pending_write writes[PENDING_MAX];
    struct pending_sync syncs[PENDING_MAX];
    int dir_fd; /* the journal's directory (a second open, for undoing) */
    uint32_t dirop_count;
    uint64_t dirops_undone;
    struct pending_dirop dirops[DIROPS_MAX];
    uint32_t local_count; /* completions of file requests, run synchronously */
    struct ubc_journal_io_completion local[LOCAL_MAX];
};

static uint64_t rng_state;

static uint64_t
rng_next(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static int
pc_buffers_register(void *ctx, void *base, uint64_t bytes)
{
    struct powercut *pc = ctx;
    return pc->inner.ops->buffers_register(pc->inner.ctx, base, bytes);
}

static int
pc_file_register(void *ctx, uint32_t slot, int fd)
{
    struct powercut *pc = ctx;
    pc->fds[slot] = fd;
    return pc->inner.ops->file_register(pc->inner.ctx, slot, fd);
}

/* A second open of the journal's file, without O_DIRECT: any alignment. */
static int
reopen_plain(int fd_direct, int flags)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd_direct);
    return open(path, flags);
}

/* Drops covered writes and finished syncs so the tables do not fill. */
static void
compact(struct powercut *pc)
{
    uint32_t kept = 0;
    for (uint32_t i = 0; i < pc->write_count; i++)
        if (pc->writes[i].before != NULL)
            pc->writes[kept++] = pc->writes[i];
    pc->write_count = kept;
    kept = 0;
    for (uint32_t i = 0; i < pc->sync_count; i++)
        if (!pc->syncs[i].done)
            pc->syncs[kept++] = pc->syncs[i];
    pc->sync_count = kept;
}

static int
pc_write_queue(void *ctx, uint32_t slot, const void *buf, uint32_t bytes, uint64_t offset,
               uint64_t user_data, uint32_t flags)
{
    struct powercut *pc = ctx;
    if (pc->write_count == PENDING_MAX)
        compact(pc);
    if (pc->write_count == PENDING_MAX)
        return -EBUSY;
    uint8_t *before = calloc(1, bytes);
    int fd = reopen_plain(pc->fds[slot], O_RDONLY);
    ssize_t got = fd < 0 ? -1 : pread(fd, before, bytes, (off_t)offset);
    if (fd >= 0)
        close(fd);
    int rc = got < 0 ? -EIO
                     : pc->inner.ops->write_queue(pc->inner.ctx, slot, buf, bytes, offset,
                                                  user_data, flags);
    if (rc != 0) {
        free(before);
        return rc;
    }
    uint64_t id = ++pc->next_id;
    pc->writes[pc->write_count++] = (struct pending_write){ .id = id,
                                                            .slot = slot,
                                                            .bytes = bytes,
                                                            .offset = offset,
                                                            .before = before,
                                                            .user_data = user_data };
    pc->last_linked = (flags & UBC_JOURNAL_IO_LINK) ? id : 0;
    pc->inflight++;
    return 0;
}

static int
pc_fsync_queue(void *ctx, uint32_t slot, uint64_t user_data, uint32_t flags)
{
    struct powercut *pc = ctx;
    if (pc->sync_count == PENDING_MAX)
        compact(pc);
    if (pc->sync_count == PENDING_MAX)
        return -EBUSY;
    int rc = pc->inner.ops->fsync_queue(pc->inner.ctx, slot, user_data, flags);
    if (rc != 0)
        return rc;
    pc->syncs[pc->sync_count++] = (struct pending_sync){ .slot = slot,
                                                         .linked_write_id = pc->last_linked,
                                                         .user_data = user_data,
                                                         .queued_event = ++pc->event };
    pc->last_linked = 0;
    pc->inflight++;
    return 0;
}

/* A sync finished: it covers the writes on its file that had finished when
 * it was queued, and the write it was linked to. */
static void
sync_finished(struct powercut *pc, struct pending_sync *sync, int32_t result)
{
    sync->done = 1;
    if (result != 0 || pc->cut)
        return;
    for (uint32_t i = 0; i < pc->write_count; i++) {
        struct pending_write *w = &pc->writes[i];
        int finished_before = w->done_event != 0 && w->done_event < sync->queued_event;
        if (w->before != NULL && w->slot == sync->slot &&
            (finished_before || w->id == sync->linked_write_id)) {
            free(w->before);
            w->before = NULL;
        }
    }
}

static void
completion_note(struct powercut *pc, const struct ubc_journal_io_completion *c)
{
    pc->inflight--;
    for (uint32_t i = 0; i < pc->sync_count; i++)
        if (!pc->syncs[i].done && pc->syncs[i].user_data == c->user_data) {
            sync_finished(pc, &pc->syncs[i], c->result);
            return;
        }
    for (uint32_t i = 0; i < pc->write_count; i++) {
        struct pending_write *w = &pc->writes[i];
        if (w->done_event == 0 && w->user_data == c->user_data) {
            w->done_event = ++pc->event;
            if (pc->dsync && !pc->cut && c->result == (int32_t)w->bytes) {
                free(w->before);
                w->before = NULL;
            }
            return;
        }
    }
}

static int
pc_submit(void *ctx)
{
    struct powercut *pc = ctx;
    return pc->inner.ops->submit(pc->inner.ctx);
}

static int
fd_is_directory(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Records a directory operation before running it; an unlink first links
 * the file under a hidden name so that the cut can bring it back. */
static void
dirop_note(struct powercut *pc, const struct ubc_journal_io_file_request *r)
{
    int creates = r->op == UBC_JOURNAL_IO_OPENAT && (r->open_flags & O_CREAT);
    if (!creates && r->op != UBC_JOURNAL_IO_RENAMEAT && r->op != UBC_JOURNAL_IO_UNLINKAT)
        return;
    if (creates && faccessat(r->fd, r->name, F_OK, 0) == 0)
        return; /* an existing file opened again: nothing new in the directory */
    if (pc->dirop_count == DIROPS_MAX)
        return; /* not modelled: treated as durable */
    struct pending_dirop *d = &pc->dirops[pc->dirop_count++];
    *d = (struct pending_dirop){ .op = creates ? UBC_JOURNAL_IO_OPENAT : r->op };
    snprintf(d->name, sizeof(d->name), "%s", r->name);
    if (r->new_name != NULL)
        snprintf(d->new_name, sizeof(d->new_name), "%s", r->new_name);
    if (r->op == UBC_JOURNAL_IO_UNLINKAT) {
        snprintf(d->keep, sizeof(d->keep), ".pc-kept-%u", pc->dirop_count);
        if (linkat(r->fd, r->name, r->fd, d->keep, 0) != 0)
            pc->dirop_count--; /* nothing to keep: the unlink fails anyway */
    }
}

/* A directory fsync finished: every operation before it is durable. */
static void
dirops_durable(struct powercut *pc)
{
    for (uint32_t i = 0; i < pc->dirop_count; i++)
        if (pc->dirops[i].op == UBC_JOURNAL_IO_UNLINKAT)
            unlinkat(pc->dir_fd, pc->dirops[i].keep, 0);
    pc->dirop_count = 0;
}

/* File requests run here and now, and complete through the next reap. */
static int
pc_file_op_queue(void *ctx, const struct ubc_journal_io_file_request *r, uint64_t user_data)
{
    struct powercut *pc = ctx;
    if (pc->local_count == LOCAL_MAX)
        return -EBUSY;
    dirop_note(pc, r);
    int directory_sync = r->op == UBC_JOURNAL_IO_FSYNC && fd_is_directory(r->fd);
    int32_t result = ubc_journal_io_file_run(r);
    if (directory_sync && result == 0 && !pc->cut)
        dirops_durable(pc);
    pc->local[pc->local_count++] =
        (struct ubc_journal_io_completion){ .user_data = user_data, .result = result };
    return 0;
}

/* The cut: the first k of the uncovered directory operations survive (a
 * journaled file system commits them in order), the others are undone. */
static void
dirops_cut(struct powercut *pc)
{
    uint32_t survive = pc->dirop_count == 0 ? 0 : (uint32_t)(rng_next() % (pc->dirop_count + 1));
    for (uint32_t i = pc->dirop_count; i > survive; i--) {
        struct pending_dirop *d = &pc->dirops[i - 1];
        if (d->op == UBC_JOURNAL_IO_OPENAT)
            unlinkat(pc->dir_fd, d->name, 0);
        else if (d->op == UBC_JOURNAL_IO_RENAMEAT)
            renameat(pc->dir_fd, d->new_name, pc->dir_fd, d->name);
        else
            renameat(pc->dir_fd, d->keep, pc->dir_fd, d->name);
        pc->dirops_undone++;
    }
    dirops_durable(pc); /* drops the hidden links of the surviving unlinks */
}

static uint32_t
pc_reap(void *ctx, struct ubc_journal_io_completion *out, uint32_t max)
{
    struct powercut *pc = ctx;
    if (pc->cut)
        return 0;
    uint32_t taken = 0;
    while (pc->local_count > 0 && taken < max) {
        out[taken++] = pc->local[0];
        memmove(pc->local, pc->local + 1, --pc->local_count * sizeof(pc->local[0]));
    }
    if (taken > 0)
        return taken;
    uint32_t count = pc->inner.ops->reap(pc->inner.ctx, out, max);
    for (uint32_t i = 0; i < count; i++)
        completion_note(pc, &out[i]);
    return count;
}

static int
pc_wait(void *ctx)
{
    struct powercut *pc = ctx;
    if (pc->local_count > 0)
        return 0; /* a completion is waiting here */
    return pc->inner.ops->wait(pc->inner.ctx);
}

static int
pc_allocate(void *ctx, int fd, uint64_t bytes)
{
    struct powercut *pc = ctx;
    return pc->inner.ops->allocate(pc->inner.ctx, fd, bytes);
}

static const struct ubc_journal_io_ops powercut_ops = {
    .buffers_register = pc_buffers_register,
    .file_register = pc_file_register,
    .write_queue = pc_write_queue,
    .fsync_queue = pc_fsync_queue,
    .submit = pc_submit,
    .reap = pc_reap,
    .wait = pc_wait,
    .allocate = pc_allocate,
    .file_op_queue = pc_file_op_queue,
};

/* Undoes a whole write, or a random subset of its sectors, or nothing. */
static void
lose(struct powercut *pc, const struct pending_write *w, uint64_t *lost_writes)
{
    uint64_t dice = rng_next() % 10;
    if (dice < 4)
        return; /* it reached the platter */
    int fd = reopen_plain(pc->fds[w->slot], O_WRONLY);
    if (fd < 0)
        return; /* the file was closed since: a covered segment */
    if (getenv("POWERCUT_DEBUG") != NULL) {
        char link[64], target[512];
        snprintf(link, sizeof(link), "/proc/self/fd/%d", pc->fds[w->slot]);
        ssize_t n = readlink(link, target, sizeof(target) - 1);
        target[n > 0 ? n : 0] = '\0';
        printf("  lose: slot %u %s offset %" PRIu64 " bytes %u user_data %" PRIx64 " dice %" PRIu64
               " done_event %" PRIu64 "\n",
               w->slot, target, w->offset, w->bytes, w->user_data, dice, w->done_event);
    }
    (*lost_writes)++;
    for (uint32_t at = 0; at < w->bytes; at += SECTOR_BYTES) {
        uint32_t bytes = w->bytes - at < SECTOR_BYTES ? w->bytes - at : SECTOR_BYTES;
        if (dice < 7 || rng_next() % 2)
            (void)!pwrite(fd, w->before + at, bytes, (off_t)(w->offset + at));
    }
    fdatasync(fd);
    close(fd);
}

/* The power goes: the kernel finishes what it had, then unsynced writes are
 * lost, newest first, so overlapping writes unwind in order. */
static uint64_t
power_cut(struct powercut *pc)
{
    pc->cut = 1;
    struct ubc_journal_io_completion done[64];
    while (pc->inflight > 0) {
        pc->inner.ops->wait(pc->inner.ctx);
        uint32_t count = pc->inner.ops->reap(pc->inner.ctx, done, 64);
        for (uint32_t i = 0; i < count; i++)
            completion_note(pc, &done[i]);
    }
    uint64_t lost_writes = 0;
    for (uint32_t i = pc->write_count; i > 0; i--) {
        struct pending_write *w = &pc->writes[i - 1];
        if (w->before != NULL)
            lose(pc, w, &lost_writes);
        free(w->before);
        w->before = NULL;
    }
    dirops_cut(pc);
    return lost_writes;
}

static void
durable_note(void *ctx, uint64_t cookie, uint64_t sequence, int status)
{
    uint64_t *durable = ctx;
    (void)cookie;
    if (status == 0 && sequence > *durable)
        *durable = sequence;
}

/* Closes the fds the abandoned journal left open in dir. */
static void
close_leftovers(const char *dir)
{
    char link[64], target[512];
    for (int fd = 3; fd < 1024; fd++) {
        snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, target, sizeof(target) - 1);
        if (n <= 0)
            continue;
        target[n] = '\0';
        if (strncmp(target, dir, strlen(dir)) == 0)
            close(fd);
    }
}

static void
append_burst(struct ubc_journal *j, uint64_t *durable)
{
    uint8_t payload[1024];
    uint64_t burst = 1 + rng_next() % 60;
    for (uint64_t k = 0; k < burst; k++) {
        uint64_t sequence = ubc_journal_next_sequence(j);
        uint32_t length = test_payload(sequence, payload, 1024);
        while (ubc_journal_append(j, (uint16_t)(1 + sequence % 7), payload, length, sequence * 3) ==
               -UBC_ERR_OVERLOADED) {
            ubc_journal_poll(j, ubc_time_monotonic_ns(), durable_note, durable);
            ubc_journal_wait(j);
        }
    }
}

/* One boot: recover (checking what the last cut left), run, cut the power. */
static int
boot_run_cut(const char *dir, const struct ubc_journal_params *p, uint32_t boot,
             uint64_t *durable_before)
{
    struct powercut *pc = calloc(1, sizeof(*pc));
    struct ubc_journal_uring uring;
    if (pc == NULL || ubc_journal_uring_init(&uring, 64) != 0)
        return 1;
    pc->inner = ubc_journal_uring_io(&uring);
    pc->dsync = p->sync_mode == UBC_JOURNAL_SYNC_DSYNC;
    for (uint32_t i = 0; i < UBC_JOURNAL_IO_FILE_SLOTS; i++)
        pc->fds[i] = -1;
    pc->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    void *mem = aligned_alloc(ubc_journal_align(), ubc_journal_footprint(p));
    struct ubc_journal *j = ubc_journal_join(ubc_journal_new(mem, p));
    struct ubc_journal_open_params op = {
        .dir = dir,
        .io = { .ops = &powercut_ops, .ctx = pc },
        .snapshot_callback = test_seen_snapshot,
        .record_callback = test_seen_record,
    };
    struct test_seen replay = { 0 };
    op.replay_ctx = &replay;
    struct ubc_journal_scan_result report;
    int rc = ubc_journal_open(j, &op, &report);
    int failed = rc != 0 || replay.last_sequence < *durable_before || replay.payload_errors != 0 ||
                 replay.out_of_order != 0;
    if (failed) {
        fprintf(stderr,
                "boot %u: open %d (%s); replayed to %" PRIu64 ", %" PRIu64
                " was durable; payload errors %" PRIu64 "\n",
                boot, rc, report.message, replay.last_sequence, *durable_before,
                replay.payload_errors);
    } else {
        uint64_t durable = ubc_journal_durable_sequence(j);
        uint64_t steps = 20 + rng_next() % 300;
        for (uint64_t step = 0; step < steps; step++) {
            append_burst(j, &durable);
            ubc_journal_poll(j, ubc_time_monotonic_ns(), durable_note, &durable);
            uint64_t dice = rng_next() % 200;
            if (dice == 0 && ubc_journal_flush(j, durable_note, &durable) == 0)
                ubc_journal_snapshot_write(j, ubc_journal_durable_sequence(j), "s", 1);
            /* An asynchronous one too: its steps (retirement, the reuse of what
             * it retires) interleave with appends and segment rolls. */
            if (dice == 1 && ubc_journal_snapshot_status(j, NULL) != -EINPROGRESS)
                ubc_journal_snapshot_begin(j, ubc_journal_next_sequence(j) - 1, "a", 1);
        }
        uint64_t lost = power_cut(pc);
        struct ubc_journal_stats stats;
        ubc_journal_stats_get(j, &stats);
        printf("boot %u: recovered to %" PRIu64 "%s; %" PRIu64 " durable at the cut, %" PRIu64
               " unsynced writes undone or torn, %" PRIu64 " directory operations undone, %" PRIu64
               " segments reused\n",
               boot, replay.last_sequence, report.torn_bytes ? " (torn tail cut)" : "",
               ubc_journal_durable_sequence(j), lost, pc->dirops_undone, stats.segments_recycled);
        *durable_before = ubc_journal_durable_sequence(j);
    }
    ubc_journal_uring_fini(&uring);
    close_leftovers(dir);
    free(mem);
    free(pc);
    return failed;
}

int
main(int argc, char **argv)
{
    uint32_t boots = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 30;
    rng_state = (argc > 2 ? strtoull(argv[2], NULL, 10) : 0xc07) | 1;
    printf("power-cut test: %u boots per mode\n", boots);
    struct ubc_journal_uring probe;
    if (ubc_journal_uring_init(&probe, 8) != 0)
        return 77;
    ubc_journal_uring_fini(&probe);
    int failed = 0;
    /* Modes: linked, O_DSYNC, then both again with retired segments recycled
     * (reused files keep their earlier batches past every new tail). */
    for (uint32_t mode = 0; mode < 4 && !failed; mode++) {
        char dir[256];
        test_dir_make(dir, sizeof(dir), "powercut");
        struct ubc_journal_params p = test_params_small();
        p.segment_bytes = 128u * 1024; /* rolls often */
        p.sync_mode = mode % 2 == 0 ? UBC_JOURNAL_SYNC_LINKED : UBC_JOURNAL_SYNC_DSYNC;
        p.recycle_segments = mode >= 2;
        uint64_t durable = 0;
        for (uint32_t boot = 0; boot < boots && !failed; boot++)
            failed = boot_run_cut(dir, &p, boot, &durable);
        if (!failed) /* the last cut, checked by one more recovery */
            failed = boot_run_cut(dir, &p, boots, &durable);
        if (failed)
            fprintf(stderr, "journal kept in %s\n", dir);
        else
            test_dir_remove(dir);
    }
    printf("%s\n", failed ? "FAIL" : "PASS");
    return failed;
}
