/* ubc_role_disk.c: the disk role (see ubc_role_disk.h). */
#include "node/ubc_role_disk.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <rte_malloc.h>

#include "common/ubc_assert.h"
#include "common/ubc_time.h"
#include "node/ubc_job_set.h"
#include "node/ubc_log.h"

#define DISK_URING_DEPTH 64u

static uint64_t
disk_now_ns(const struct ubc_role_disk *disk, uint64_t now_tsc)
{
    return ubc_time_cycles_to_ns(now_tsc - disk->start_tsc, disk->tsc_hz);
}

static struct ubc_link *
disk_reply_link(struct ubc_role_disk *disk, uint16_t producer)
{
    struct ubc_node *node = disk->state->node;
    switch (producer) {
    case UBC_ROLE_SCHED: return &node->links[UBC_LINK_DISK_TO_SCHED];
    case UBC_ROLE_LEDGER: return &node->links[UBC_LINK_DISK_TO_LEDGER];
    default: return NULL;
    }
}

/* The journal's callback: the record in the message is durable (or never
 * will be). The message goes back to its producer in order; if that ring is
 * full it waits in the done queue. */
static void
disk_finish(struct ubc_role_disk *disk, struct ubc_msg *msg, int status)
{
    UBC_ASSERT(msg != NULL && msg->hdr.type == UBC_MSG_JOURNAL_APPEND);
    msg->hdr.type = UBC_MSG_JOURNAL_DURABLE;
    msg->hdr.flags =
        (uint16_t)((msg->hdr.flags & UBC_DISK_RECORD_MASK) | (status == 0 ? 0 : UBC_DISK_FAILED));
    if (status == 0)
        disk->stats.durable++;
    else
        disk->stats.failed++;
    UBC_ASSERT(disk->done_tail - disk->done_head <= disk->done_mask);
    disk->done[disk->done_tail++ & disk->done_mask] = msg;
}

static void
disk_durable(void *ctx, uint64_t cookie, uint64_t sequence, int status)
{
    (void)sequence;
    struct ubc_role_disk *disk = ctx;
    UBC_ASSERT(disk->outstanding > 0);
    disk->outstanding--;
    disk_finish(disk, (struct ubc_msg *)(uintptr_t)cookie, status);
}

static uint32_t
disk_flush_done(struct ubc_role_disk *disk)
{
    uint32_t moved = 0;
    while (disk->done_head != disk->done_tail) {
        struct ubc_msg *msg = disk->done[disk->done_head & disk->done_mask];
        struct ubc_link *link = disk_reply_link(disk, msg->hdr.src_role);
        if (link == NULL) { /* a producer that wants no answer */
            rte_mempool_put(disk->state->node->msg_pool, msg);
        } else if (ubc_link_send_burst(link, &msg, 1) != 1) {
            break;
        }
        disk->done_head++;
        moved++;
    }
    return moved;
}

static void
disk_note_read_only(struct ubc_role_disk *disk)
{
    int read_only = ubc_journal_read_only(disk->journal);
    if (read_only == 0 || disk->read_only != 0)
        return;
    snprintf(disk->read_only_reason, sizeof(disk->read_only_reason), "%s",
             ubc_journal_read_only_reason(disk->journal));
    __atomic_store_n(&disk->read_only, read_only, __ATOMIC_RELEASE);
    UBC_LOG(ERR, UBC_LOG_DISK, "journal is read-only: %s; new work is refused",
            disk->read_only_reason);
}

/* Appends one record; false when the journal is out of buffers (retry). */
static bool
disk_append(struct ubc_role_disk *disk, struct ubc_msg *msg)
{
    if (msg->hdr.type != UBC_MSG_JOURNAL_APPEND || msg->hdr.len > UBC_MSG_PAYLOAD_SIZE) {
        UBC_LOG(ERR, UBC_LOG_DISK, "dropped a message of type %u on the journal ring",
                msg->hdr.type);
        rte_mempool_put(disk->state->node->msg_pool, msg);
        return true;
    }
    int64_t sequence = ubc_journal_append(disk->journal, msg->hdr.flags, msg->u.bytes, msg->hdr.len,
                                          (uint64_t)(uintptr_t)msg);
    if (sequence == -UBC_ERR_OVERLOADED) {
        disk->stats.backpressure++;
        return false;
    }
    if (sequence < 0) { /* read-only or malformed: it will never be durable */
        disk_finish(disk, msg, (int)sequence);
        return true;
    }
    disk->stats.appended++;
    disk->outstanding++;
    disk->records_since_snapshot++;
    if (ubc_job_set_record(disk->jobs, msg->hdr.flags, msg->u.bytes, msg->hdr.len) != 0)
        disk->stats.job_set_overflows++; /* the next snapshot would miss it: counted */
    return true;
}

uint32_t
ubc_role_disk_poll(void *ctx, uint64_t now_tsc)
{
    struct ubc_role_disk *disk = ctx;
    uint32_t work = disk_flush_done(disk);
    while (disk->held_next < disk->held_count && disk_append(disk, disk->held[disk->held_next]))
        disk->held_next++, work++;
    if (disk->held_next == disk->held_count) {
        disk->held_count = ubc_link_recv_burst(&disk->state->node->links[UBC_LINK_TO_DISK],
                                               disk->held, UBC_ARRAY_SIZE(disk->held));
        disk->held_next = 0;
        while (disk->held_next < disk->held_count && disk_append(disk, disk->held[disk->held_next]))
            disk->held_next++, work++;
    }
    work += ubc_journal_poll(disk->journal, disk_now_ns(disk, now_tsc), disk_durable, disk);
    disk_note_read_only(disk);
    return work + disk_flush_done(disk);
}

/* A snapshot of the unfinished jobs bounds recovery: segments before it are
 * retired. It blocks the disk lcore for one flush and one file write, so it
 * runs only every disk.snapshot_records records. */
static void
disk_snapshot(struct ubc_role_disk *disk)
{
    if (ubc_journal_flush(disk->journal, disk_durable, disk) != 0)
        return; /* read-only: no snapshot */
    size_t bytes = ubc_job_set_snapshot(disk->jobs, disk->snapshot_blob, disk->snapshot_cap);
    UBC_ASSERT(bytes > 0); /* the blob is sized for the whole set */
    uint64_t sequence = ubc_journal_durable_sequence(disk->journal);
    int rc = ubc_journal_snapshot_write(disk->journal, sequence, disk->snapshot_blob, bytes);
    if (rc != 0) {
        disk->stats.snapshot_failures++;
        UBC_LOG(WARNING, UBC_LOG_DISK, "snapshot at %lu failed: %s", (unsigned long)sequence,
                strerror(-rc));
        return;
    }
    ubc_job_set_compact(disk->jobs);
    disk->records_since_snapshot = 0;
    disk->stats.snapshots++;
    disk->stats.snapshot_sequence = sequence;
}

void
ubc_role_disk_housekeep(void *ctx, uint64_t now_tsc)
{
    struct ubc_role_disk *disk = ctx;
    if (disk->snapshot_records != 0 && disk->records_since_snapshot >= disk->snapshot_records &&
        disk->read_only == 0)
        disk_snapshot(disk);
    ubc_journal_poll(disk->journal, disk_now_ns(disk, now_tsc), disk_durable, disk);
    disk_flush_done(disk);
    ubc_node_control_serve(disk->state);
}

bool
ubc_role_disk_drained(void *ctx)
{
    struct ubc_role_disk *disk = ctx;
    return disk->held_next == disk->held_count && disk->done_head == disk->done_tail &&
           disk->outstanding == 0 &&
           ubc_link_count(&disk->state->node->links[UBC_LINK_TO_DISK]) == 0;
}

/* Recovery: the snapshot, then every record after it, fold into the set of
 * unfinished acknowledged jobs. */
static void
replay_snapshot(void *ctx, uint64_t sequence, const void *blob, uint64_t blob_bytes)
{
    struct ubc_role_disk *disk = ctx;
    if (ubc_job_set_load(disk->jobs, blob, blob_bytes) != 0)
        disk->replay_damaged = 1;
    disk->stats.snapshot_sequence = sequence;
}

static void
replay_record(void *ctx, uint64_t sequence, uint16_t type, const void *payload, uint32_t length)
{
    (void)sequence;
    struct ubc_role_disk *disk = ctx;
    disk->stats.replayed_records++;
    if (ubc_job_set_record(disk->jobs, type, payload, length) != 0)
        disk->replay_damaged = 1;
}

/* The ledger keeps no journal of its own yet and restarts from genesis, so
 * the escrow of a recovered job is locked again: its lock goes to the ledger
 * ring now (before any lcore runs); a second ACK is not sent. */
static void
replay_forward_escrow(struct ubc_role_sched *sched, struct ubc_role_disk *disk)
{
    struct ubc_node *node = sched->state->node;
    for (uint32_t i = 0; i < sched->out.count; i++) {
        const struct ubc_msg *out = &sched->out.msgs[i];
        struct ubc_msg *msg;
        if (out->hdr.type != UBC_MSG_LEDGER_OP)
            continue;
        if (rte_mempool_get(node->msg_pool, (void **)&msg) != 0) {
            disk->stats.replay_escrows_dropped++;
            continue;
        }
        *msg = *out;
        msg->hdr.src_role = UBC_ROLE_SCHED;
        if (ubc_link_send_burst(&node->links[UBC_LINK_SCHED_TO_LEDGER], &msg, 1) != 1) {
            rte_mempool_put(node->msg_pool, msg);
            disk->stats.replay_escrows_dropped++;
        }
    }
}

struct replay_context {
    struct ubc_role_sched *sched;
    struct ubc_role_disk *disk;
    uint64_t count;
};

/* Hands one acknowledged, unfinished job back to the scheduler, as if
 * submitted now; its ACK was given before the crash and is not sent again. */
static void
replay_job(void *ctx, const struct ubc_job_submit *job)
{
    struct replay_context *replay = ctx;
    struct ubc_role_sched *sched = replay->sched;
    struct ubc_msg msg;
    memset(&msg, 0, sizeof(msg));
    msg.hdr.type = UBC_MSG_JOB_SUBMIT;
    msg.hdr.peer = UBC_PEER_NONE;
    msg.u.job_submit = *job;
    sched->out.count = 0;
    int rc = ubc_sched_handle(sched->sched, &msg, 0, &sched->out);
    UBC_ASSERT(rc == UBC_OK); /* out is empty and large enough */
    replay_forward_escrow(sched, replay->disk);
    sched->out.count = 0;
    replay->count++;
}

static int
disk_open(struct ubc_node *node, struct ubc_role_disk *disk, char *error, size_t error_cap)
{
    char dir[UBC_CONFIG_PATH_MAX + 16];
    snprintf(dir, sizeof(dir), "%s/journal", node->config.data_dir);
    if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
        snprintf(error, error_cap, "journal directory %s: %s", dir, strerror(errno));
        return -errno;
    }
    int rc = ubc_journal_uring_init(&disk->uring, DISK_URING_DEPTH);
    if (rc != 0) {
        snprintf(error, error_cap, "io_uring: %s", strerror(-rc));
        return rc;
    }
    struct ubc_journal_open_params open_params = {
        .dir = dir,
        .io = ubc_journal_uring_io(&disk->uring),
        .flags = node->config.disk_repair ? UBC_JOURNAL_OPEN_REPAIR : 0,
        .snapshot_callback = replay_snapshot,
        .record_callback = replay_record,
        .replay_ctx = disk,
    };
    rc = ubc_journal_open(disk->journal, &open_params, &disk->recovery);
    if (rc != 0)
        snprintf(error, error_cap, "journal %s: %s%s", dir,
                 disk->recovery.message[0] ? disk->recovery.message : strerror(-rc),
                 rc == -EUCLEAN ? " (ubcd --set disk.repair=true truncates there, losing what "
                                  "follows)"
                                : "");
    return rc;
}

static void
disk_params_from_config(const struct ubc_config *config, struct ubc_journal_params *params)
{
    *params = (struct ubc_journal_params){
        .segment_bytes = (uint64_t)config->disk_segment_mib << 20,
        .batch_bytes_max = config->disk_batch_kib << 10,
        .batches_inflight_max = config->disk_batches_inflight,
        .payload_bytes_max = UBC_MSG_PAYLOAD_SIZE,
        .sync_mode = config->disk_sync_dsync ? UBC_JOURNAL_SYNC_DSYNC : UBC_JOURNAL_SYNC_LINKED,
        .commit_interval_ns = (uint64_t)config->disk_commit_interval_us * 1000ull,
    };
}

static int
disk_alloc(struct ubc_node *node, struct ubc_role_disk *disk, char *error, size_t error_cap)
{
    struct ubc_journal_params params;
    disk_params_from_config(&node->config, &params);
    uint64_t footprint = ubc_journal_footprint(&params);
    if (footprint == 0) {
        snprintf(error, error_cap,
                 "config: disk.*: the journal refuses these sizes (batch_kib "
                 "a multiple of 4, segment_mib larger than a batch)");
        return -EINVAL;
    }
    void *memory = rte_zmalloc("journal", footprint, ubc_journal_align());
    uint32_t done_slots = 1;
    while (done_slots < node->config.ring_msg_pool_size + 1)
        done_slots <<= 1;
    disk->done = rte_zmalloc("disk_done", done_slots * sizeof(disk->done[0]), 64);
    disk->done_mask = done_slots - 1;
    if (memory == NULL || disk->done == NULL) {
        snprintf(error, error_cap, "journal: cannot allocate %lu bytes", (unsigned long)footprint);
        return -ENOMEM;
    }
    disk->journal = ubc_journal_join(ubc_journal_new(memory, &params));
    UBC_ASSERT(disk->journal != NULL);
    /* Room for the jobs the scheduler may hold plus those submitted between
     * two snapshots (finished ones linger until the snapshot compacts). */
    uint32_t capacity = node->config.sched_max_jobs + node->config.disk_snapshot_records;
    disk->jobs =
        ubc_job_set_new(rte_zmalloc("disk_jobs", ubc_job_set_footprint(capacity), 64), capacity);
    disk->snapshot_cap = sizeof(struct ubc_job_set_snapshot_header) +
                         (size_t)capacity * sizeof(struct ubc_job_submit);
    disk->snapshot_blob = rte_zmalloc("disk_snapshot", disk->snapshot_cap, 64);
    if (disk->jobs == NULL || disk->snapshot_blob == NULL) {
        snprintf(error, error_cap, "journal: cannot allocate the job set for %u jobs", capacity);
        return -ENOMEM;
    }
    return 0;
}

/* The control thread's view of the journal, copied on the disk lcore. */
static void
disk_control(void *ctx, struct ubc_control_request *req)
{
    struct ubc_role_disk *disk = ctx;
    struct ubc_role_disk_report *report = (struct ubc_role_disk_report *)req->reply;
    ubc_journal_stats_get(disk->journal, &report->journal);
    report->durable_sequence = ubc_journal_durable_sequence(disk->journal);
    report->next_sequence = ubc_journal_next_sequence(disk->journal);
    req->reply_len = sizeof(*report);
    req->result = 0;
}

int
ubc_role_disk_init(struct ubc_node *node, struct ubc_role_disk *disk, struct ubc_role_sched *sched,
                   char *error, size_t error_cap)
{
    memset(disk, 0, sizeof(*disk));
    disk->state = &node->roles[UBC_ROLE_DISK];
    disk->tsc_hz = node->tsc_hz;
    disk->start_tsc = node->start_tsc;
    disk->snapshot_records = node->config.disk_snapshot_records;
    int rc = disk_alloc(node, disk, error, error_cap);
    if (rc != 0)
        return rc;
    disk->state->control_fn = disk_control;
    disk->state->control_ctx = disk;
    rc = disk_open(node, disk, error, error_cap);
    if (rc == 0 && disk->replay_damaged) {
        snprintf(error, error_cap,
                 "journal: the snapshot is damaged or holds more jobs than "
                 "sched.max_jobs + disk.snapshot_records");
        rc = -EUCLEAN;
    }
    if (rc == 0) {
        struct replay_context replay = { .sched = sched, .disk = disk };
        ubc_job_set_each_live(disk->jobs, replay_job, &replay);
        disk->stats.replayed_jobs = replay.count;
        UBC_LOG(NOTICE, UBC_LOG_DISK,
                "journal recovered: snapshot at %lu, %lu records after it, %lu unfinished jobs "
                "back in the queue%s%s",
                (unsigned long)disk->stats.snapshot_sequence,
                (unsigned long)disk->stats.replayed_records, (unsigned long)replay.count,
                disk->recovery.notes[0] ? "; " : "", disk->recovery.notes);
    }
    return rc;
}

void
ubc_role_disk_fini(struct ubc_role_disk *disk)
{
    if (disk->journal != NULL) {
        ubc_journal_close(disk->journal);
        rte_free(ubc_journal_delete(ubc_journal_leave(disk->journal)));
        ubc_journal_uring_fini(&disk->uring);
    }
    rte_free(disk->done);
    rte_free(disk->jobs);
    rte_free(disk->snapshot_blob);
    disk->journal = NULL;
    disk->done = NULL;
    disk->jobs = NULL;
    disk->snapshot_blob = NULL;
}
