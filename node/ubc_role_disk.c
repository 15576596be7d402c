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

void
ubc_role_disk_housekeep(void *ctx, uint64_t now_tsc)
{
    struct ubc_role_disk *disk = ctx;
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

/* Replay: the journal's job records, folded into the set of acknowledged
 * jobs that had not finished, which go back to the scheduler. */
struct disk_replay {
    struct ubc_job_submit *jobs; /* open addressing by job_id; job_id 0 = empty */
    uint8_t *done;
    uint32_t mask;
    uint64_t records;
    int overflow;
};

static uint32_t
replay_slot(struct disk_replay *replay, uint64_t job_id)
{
    uint32_t slot = (uint32_t)((job_id * 0x9e3779b97f4a7c15ull) >> 32) & replay->mask;
    for (uint32_t probe = 0; probe <= replay->mask; probe++, slot = (slot + 1) & replay->mask) {
        if (replay->jobs[slot].job_id == job_id || replay->jobs[slot].job_id == 0)
            return slot;
    }
    return UINT32_MAX;
}

static void
replay_record(void *ctx, uint64_t sequence, uint16_t type, const void *payload, uint32_t length)
{
    (void)sequence;
    struct disk_replay *replay = ctx;
    replay->records++;
    uint64_t job_id;
    if (type == UBC_RECORD_JOB_SUBMIT && length == sizeof(struct ubc_job_submit))
        memcpy(&job_id, payload, sizeof(job_id)); /* job_id is the first field */
    else if (type == UBC_RECORD_JOB_DONE && length == sizeof(struct ubc_record_job_done))
        memcpy(&job_id, payload, sizeof(job_id));
    else
        return; /* records of other roles */
    uint32_t slot = replay_slot(replay, job_id);
    if (slot == UINT32_MAX || job_id == 0) {
        replay->overflow = 1;
        return;
    }
    if (type == UBC_RECORD_JOB_SUBMIT) {
        memcpy(&replay->jobs[slot], payload, sizeof(struct ubc_job_submit));
        replay->done[slot] = 0;
    } else {
        replay->jobs[slot].job_id = job_id;
        replay->done[slot] = 1;
    }
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

/* Hands every acknowledged, unfinished job back to the scheduler, as if
 * submitted now; its ACK was given before the crash and is not sent again. */
static uint64_t
replay_into_scheduler(struct disk_replay *replay, struct ubc_role_sched *sched,
                      struct ubc_role_disk *disk)
{
    uint64_t count = 0;
    struct ubc_msg msg;
    for (uint32_t slot = 0; slot <= replay->mask; slot++) {
        if (replay->jobs[slot].job_id == 0 || replay->done[slot])
            continue;
        memset(&msg, 0, sizeof(msg));
        msg.hdr.type = UBC_MSG_JOB_SUBMIT;
        msg.hdr.peer = UBC_PEER_NONE;
        msg.u.job_submit = replay->jobs[slot];
        sched->out.count = 0;
        int rc = ubc_sched_handle(sched->sched, &msg, 0, &sched->out);
        UBC_ASSERT(rc == UBC_OK); /* out is empty and large enough */
        replay_forward_escrow(sched, disk);
        sched->out.count = 0;
        count++;
    }
    return count;
}

static int
disk_open(struct ubc_node *node, struct ubc_role_disk *disk, struct disk_replay *replay,
          char *error, size_t error_cap)
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
        .record_callback = replay_record,
        .replay_ctx = replay,
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

static int
disk_replay_alloc(struct disk_replay *replay, uint32_t jobs_max)
{
    uint32_t slots = 1024;
    while (slots < 2u * jobs_max)
        slots <<= 1;
    memset(replay, 0, sizeof(*replay));
    replay->mask = slots - 1;
    replay->jobs = rte_zmalloc("replay_jobs", (size_t)slots * sizeof(replay->jobs[0]), 64);
    replay->done = rte_zmalloc("replay_done", slots, 64);
    return replay->jobs && replay->done ? 0 : -ENOMEM;
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
    int rc = disk_alloc(node, disk, error, error_cap);
    if (rc != 0)
        return rc;
    struct disk_replay replay;
    rc = disk_replay_alloc(&replay, node->config.sched_max_jobs);
    if (rc == 0)
        rc = disk_open(node, disk, &replay, error, error_cap);
    if (rc == 0 && replay.overflow) {
        snprintf(error, error_cap, "journal: more jobs than sched.max_jobs to recover");
        rc = -ENOSPC;
    }
    disk->state->control_fn = disk_control;
    disk->state->control_ctx = disk;
    if (rc == 0) {
        disk->stats.replayed_records = replay.records;
        disk->stats.replayed_jobs = replay_into_scheduler(&replay, sched, disk);
        UBC_LOG(NOTICE, UBC_LOG_DISK,
                "journal recovered: %lu records, %lu unfinished jobs "
                "back in the queue%s%s",
                (unsigned long)replay.records, (unsigned long)disk->stats.replayed_jobs,
                disk->recovery.notes[0] ? "; " : "", disk->recovery.notes);
    }
    rte_free(replay.jobs);
    rte_free(replay.done);
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
    disk->journal = NULL;
    disk->done = NULL;
}
