/* ubc_role_disk.c: the disk role (see ubc_role_disk.h). */
#include "node/ubc_role_disk.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_malloc.h>

#include "common/ubc_assert.h"
#include "common/ubc_time.h"
#include "ledger/ubc_ledger.h"
#include "node/ubc_job_set.h"
#include "node/ubc_role_ledger.h"
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
disk_reply(struct ubc_role_disk *disk, struct ubc_msg *msg, int status)
{
    UBC_ASSERT(msg != NULL && msg->hdr.type == UBC_MSG_JOURNAL_APPEND);
    msg->hdr.type = UBC_MSG_JOURNAL_DURABLE;
    msg->hdr.flags =
        (uint16_t)((msg->hdr.flags & UBC_DISK_RECORD_MASK) | (status == 0 ? 0 : UBC_DISK_FAILED));
    UBC_ASSERT(disk->done_tail - disk->done_head <= disk->done_mask);
    disk->done[disk->done_tail++ & disk->done_mask] = msg;
}

/* A record's outcome: counted (ubcctl stats: durable, failed), then answered. */
static void
disk_finish(struct ubc_role_disk *disk, struct ubc_msg *msg, int status)
{
    if (status == 0)
        disk->stats.durable++;
    else
        disk->stats.failed++;
    disk_reply(disk, msg, status);
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

/* Either journal failing stops new work: a job needs both its record and its escrow. */
static void
disk_note_read_only(struct ubc_role_disk *disk)
{
    if (disk->read_only != 0)
        return;
    struct ubc_journal *failed = disk->journal;
    int read_only = ubc_journal_read_only(failed);
    if (read_only == 0) {
        failed = disk->ledger_journal;
        read_only = ubc_journal_read_only(failed);
    }
    if (read_only == 0)
        return;
    snprintf(disk->read_only_reason, sizeof(disk->read_only_reason), "%s%s",
             failed == disk->ledger_journal ? "ledger journal: " : "",
             ubc_journal_read_only_reason(failed));
    __atomic_store_n(&disk->read_only, read_only, __ATOMIC_RELEASE);
    UBC_LOG(ERR, UBC_LOG_DISK, "journal is read-only: %s; new work is refused",
            disk->read_only_reason);
}

static bool
disk_is_ledger_record(uint16_t type)
{
    return type >= UBC_RECORD_LEDGER_FIRST && type <= UBC_RECORD_LEDGER_LAST;
}

/* Where an append's record is: in the message, or (ledger batches) in the producer's buffer. */
static int
disk_record_of(const struct ubc_msg *msg, const void **payload, uint32_t *length)
{
    if (!disk_is_ledger_record(msg->hdr.flags)) {
        *payload = msg->u.bytes;
        *length = msg->hdr.len;
        return msg->hdr.len <= UBC_MSG_PAYLOAD_SIZE ? 0 : -1;
    }
    struct ubc_record_external external;
    if (msg->hdr.len != sizeof(external))
        return -1;
    memcpy(&external, msg->u.bytes, sizeof(external));
    if (external.data == NULL || external.bytes == 0 || external.bytes > UINT32_MAX)
        return -1;
    *payload = external.data;
    *length = (uint32_t)external.bytes;
    return 0;
}

/* The archive's name must be the live segment itself: a name linked before a
 * crash may since have been re-created (an unwritten spare is discarded by
 * recovery and prepared again), and the live file is the one the journal
 * writes; a stale link is replaced. */
static int
disk_archive_one(int live, int archive, const char *name)
{
    struct stat here, there;
    if (fstatat(live, name, &here, 0) != 0)
        return errno == ENOENT ? 0 : -errno; /* retired meanwhile: already archived */
    if (fstatat(archive, name, &there, 0) == 0) {
        if (there.st_ino == here.st_ino && there.st_dev == here.st_dev)
            return 0;
        if (unlinkat(archive, name, 0) != 0)
            return -errno;
    }
    return linkat(live, name, archive, name, 0) == 0 ? 0 : -errno;
}

/* Before a checkpoint retires ledger segments, each one gets a hard link in
 * <data>/ledger-archive (segments are never rewritten once sealed: the link
 * keeps them whole), so the audit still replays from genesis. Blocking
 * directory calls on the disk lcore, but only once per checkpoint. */
static int
disk_archive_ledger(struct ubc_role_disk *disk)
{
    DIR *dir = opendir(disk->ledger_dir); /* lint:allow rare, once per checkpoint */
    int archive = open(disk->archive_dir, O_RDONLY | O_DIRECTORY); /* lint:allow same */
    if (dir == NULL || archive < 0) {
        if (dir != NULL)
            closedir(dir);
        return -errno;
    }
    int rc = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL && rc == 0) { /* lint:allow same */
        uint64_t index;
        if (ubc_journal_segment_name_parse(entry->d_name, &index) != 0)
            continue;
        rc = disk_archive_one(dirfd(dir), archive, entry->d_name);
    }
    if (rc == 0 && fsync(archive) != 0) /* lint:allow the links must outlive the unlinks */
        rc = -errno;
    close(archive);
    closedir(dir);
    return rc;
}

/* The ledger's checkpoint: its image becomes the ledger journal's snapshot
 * after the last batch record (appended just before, in ring order). */
static void
disk_ledger_checkpoint_begin(struct ubc_role_disk *disk, struct ubc_msg *msg)
{
    struct ubc_record_external external;
    memcpy(&external, msg->u.bytes, sizeof(external));
    int rc = disk->ledger_checkpoint != NULL ? -EBUSY : 0;
    if (rc == 0 && ubc_journal_read_only(disk->ledger_journal) != 0)
        rc = -EIO; /* the batch before it may not be durable: no image of it */
    if (rc == 0)
        rc = disk_archive_ledger(disk);
    if (rc == 0)
        rc = ubc_journal_snapshot_begin(disk->ledger_journal,
                                        ubc_journal_next_sequence(disk->ledger_journal) - 1,
                                        external.data, external.bytes);
    if (rc != 0) {
        disk->stats.ledger_checkpoint_failures++;
        UBC_LOG(WARNING, UBC_LOG_DISK, "ledger checkpoint not started: %s", strerror(-rc));
        disk_reply(disk, msg, rc);
        return;
    }
    disk->ledger_checkpoint = msg;
}

static void
disk_ledger_checkpoint_check(struct ubc_role_disk *disk)
{
    uint64_t sequence = 0;
    int rc = ubc_journal_snapshot_status(disk->ledger_journal, &sequence);
    if (rc == -EINPROGRESS)
        return;
    struct ubc_msg *msg = disk->ledger_checkpoint;
    disk->ledger_checkpoint = NULL;
    if (rc == 0) {
        struct ubc_record_external external;
        memcpy(&external, msg->u.bytes, sizeof(external));
        const struct ubc_ledger_checkpoint_header *header = external.data;
        disk->stats.ledger_checkpoints++;
        disk->stats.ledger_checkpoint_height = header->height;
    } else {
        disk->stats.ledger_checkpoint_failures++;
        UBC_LOG(WARNING, UBC_LOG_DISK, "ledger checkpoint at %lu failed: %s",
                (unsigned long)sequence, strerror(-rc));
    }
    disk_reply(disk, msg, rc); /* counted as a checkpoint above, not as a record */
}

/* Appends one record; false when the journal is out of buffers (retry). */
static bool
disk_append(struct ubc_role_disk *disk, struct ubc_msg *msg)
{
    if (msg->hdr.type == UBC_MSG_JOURNAL_APPEND && msg->hdr.flags == UBC_RECORD_LEDGER_CHECKPOINT &&
        msg->hdr.len == sizeof(struct ubc_record_external)) {
        disk_ledger_checkpoint_begin(disk, msg);
        return true;
    }
    const void *payload;
    uint32_t length;
    if (msg->hdr.type != UBC_MSG_JOURNAL_APPEND || disk_record_of(msg, &payload, &length) != 0) {
        UBC_LOG(ERR, UBC_LOG_DISK, "dropped a message of type %u on the journal ring",
                msg->hdr.type);
        rte_mempool_put(disk->state->node->msg_pool, msg);
        return true;
    }
    bool ledger = disk_is_ledger_record(msg->hdr.flags);
    struct ubc_journal *journal = ledger ? disk->ledger_journal : disk->journal;
    int64_t sequence =
        ubc_journal_append(journal, msg->hdr.flags, payload, length, (uint64_t)(uintptr_t)msg);
    if (sequence == -UBC_ERR_OVERLOADED) {
        disk->stats.backpressure++;
        return false;
    }
    if (sequence < 0) { /* read-only or malformed: it will never be durable */
        disk_finish(disk, msg, (int)sequence);
        return true;
    }
    disk->outstanding++;
    if (ledger) {
        disk->stats.ledger_appended++;
        return true;
    }
    disk->stats.appended++;
    disk->records_since_snapshot++;
    if (ubc_job_set_record(disk->jobs, msg->hdr.flags, msg->u.bytes, msg->hdr.len) != 0)
        disk->stats.job_set_overflows++; /* the next snapshot would miss it: counted */
    return true;
}

static uint32_t
disk_poll_journals(struct ubc_role_disk *disk, uint64_t now_tsc)
{
    uint64_t now_ns = disk_now_ns(disk, now_tsc);
    return ubc_journal_poll(disk->journal, now_ns, disk_durable, disk) +
           ubc_journal_poll(disk->ledger_journal, now_ns, disk_durable, disk);
}

uint32_t
ubc_role_disk_poll(void *ctx, uint64_t now_tsc)
{
    struct ubc_role_disk *disk = ctx;
    if (!disk->chain_taken_over && __atomic_load_n(&disk->state->node->stop, __ATOMIC_ACQUIRE)) {
        /* Stopping: the chain role's lcore may leave before this one drains. */
        ubc_journal_chain_takeover(disk->journal);
        ubc_journal_chain_takeover(disk->ledger_journal);
        disk->chain_taken_over = 1;
    }
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
    work += disk_poll_journals(disk, now_tsc);
    disk_note_read_only(disk);
    return work + disk_flush_done(disk);
}

/* The chain role: links both journals' sealed batches into their chains.
 * Runs on roles.chain's lcore, concurrently with the disk role (see
 * ubc_journal_chain_poll); touches nothing else of the disk role. */
uint32_t
ubc_role_chain_poll(void *ctx, uint64_t now_tsc)
{
    struct ubc_role_disk *disk = ctx;
    (void)now_tsc;
    return ubc_journal_chain_poll(disk->journal) + ubc_journal_chain_poll(disk->ledger_journal);
}

/* A snapshot of the unfinished jobs bounds recovery: segments before it are
 * retired. The set is serialized into the blob as it stands (it has folded
 * every record appended so far) and the journal writes it through io_uring
 * while appends go on: the disk lcore never waits for it. */
static void
disk_snapshot_begin(struct ubc_role_disk *disk)
{
    size_t bytes = ubc_job_set_snapshot(disk->jobs, disk->snapshot_blob, disk->snapshot_cap);
    UBC_ASSERT(bytes > 0); /* the blob is sized for the whole set */
    uint64_t sequence = ubc_journal_next_sequence(disk->journal) - 1; /* the last appended */
    int rc = ubc_journal_snapshot_begin(disk->journal, sequence, disk->snapshot_blob, bytes);
    if (rc != 0) {
        disk->stats.snapshot_failures++;
        UBC_LOG(WARNING, UBC_LOG_DISK, "snapshot at %lu not started: %s", (unsigned long)sequence,
                strerror(-rc));
        return;
    }
    ubc_job_set_compact(disk->jobs); /* the blob is written; tombstones can go */
    disk->records_since_snapshot = 0;
    disk->snapshot_running = 1;
}

static void
disk_snapshot_check(struct ubc_role_disk *disk)
{
    uint64_t sequence = 0;
    int rc = ubc_journal_snapshot_status(disk->journal, &sequence);
    if (rc == -EINPROGRESS)
        return;
    disk->snapshot_running = 0;
    if (rc == 0) {
        disk->stats.snapshots++;
        disk->stats.snapshot_sequence = sequence;
        return;
    }
    disk->stats.snapshot_failures++;
    UBC_LOG(WARNING, UBC_LOG_DISK, "snapshot at %lu failed: %s (the previous one stays in force)",
            (unsigned long)sequence, strerror(-rc));
}

void
ubc_role_disk_housekeep(void *ctx, uint64_t now_tsc)
{
    struct ubc_role_disk *disk = ctx;
    if (disk->ledger_checkpoint != NULL)
        disk_ledger_checkpoint_check(disk);
    if (disk->snapshot_running)
        disk_snapshot_check(disk);
    else if (disk->snapshot_records != 0 &&
             disk->records_since_snapshot >= disk->snapshot_records && disk->read_only == 0)
        disk_snapshot_begin(disk);
    disk_poll_journals(disk, now_tsc);
    disk_flush_done(disk);
    ubc_node_control_serve(disk->state);
}

bool
ubc_role_disk_drained(void *ctx)
{
    struct ubc_role_disk *disk = ctx;
    return disk->held_next == disk->held_count && disk->done_head == disk->done_tail &&
           disk->outstanding == 0 && !disk->snapshot_running && disk->ledger_checkpoint == NULL &&
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

struct replay_context {
    struct ubc_role_sched *sched;
    struct ubc_role_disk *disk;
    uint64_t count;
};

/* Hands one journaled, unfinished job back to the scheduler, as if submitted
 * now (its ACK, if it had one, is not sent again), when the recovered ledger
 * still holds its escrow. An ACK needs a durable escrow lock and every job's
 * lock is non-zero, so a job without one was either never acknowledged (its
 * lock never became durable) or is over (a durable refund closed it, and its
 * JOB_DONE record, written after that refund, was lost): either way it is
 * finished here, not run, and nothing is locked again. */
static void
replay_job(void *ctx, const struct ubc_job_submit *job)
{
    struct replay_context *replay = ctx;
    struct ubc_role_sched *sched = replay->sched;
    struct ubc_role_disk *disk = replay->disk;
    const struct ubc_ledger *ledger = sched->state->node->ledger->ledger;
    if (ubc_ledger_escrow_get(ledger, job->owner, job->job_id, NULL) != 0) {
        ubc_job_set_finish(disk->jobs, job->job_id);
        disk->stats.recovered_without_escrow++;
        return;
    }
    struct ubc_msg msg;
    memset(&msg, 0, sizeof(msg));
    msg.hdr.type = UBC_MSG_JOB_SUBMIT;
    msg.hdr.peer = UBC_PEER_NONE;
    msg.u.job_submit = *job;
    sched->out.count = 0;
    int rc = ubc_sched_handle(sched->sched, &msg, 0, &sched->out);
    UBC_ASSERT(rc == UBC_OK); /* out is empty and large enough */
    sched->out.count = 0;     /* its escrow lock is already in the ledger */
    replay->count++;
}

/* An escrow whose job the journal does not hold (its lock became durable,
 * its JOB_SUBMIT record did not: never acknowledged) is refunded now, as a
 * settlement on sched>ledger before any lcore runs. */
static void
replay_refund_orphan(void *ctx, const uint8_t *owner, uint64_t job_id, uint64_t amount)
{
    (void)amount;
    struct ubc_role_disk *disk = ctx;
    const struct ubc_job_submit *job = ubc_job_set_find(disk->jobs, job_id);
    if (job != NULL && memcmp(job->owner, owner, UBC_KEY_BYTES) == 0)
        return;
    struct ubc_node *node = disk->state->node;
    struct ubc_msg *msg;
    if (rte_mempool_get(node->msg_pool, (void **)&msg) != 0) {
        disk->stats.orphan_refunds_dropped++;
        return;
    }
    memset(msg, 0, sizeof(msg->hdr) + sizeof(struct ubc_settlement));
    msg->hdr.type = UBC_MSG_LEDGER_OP;
    msg->hdr.len = sizeof(struct ubc_settlement);
    msg->hdr.src_role = UBC_ROLE_SCHED;
    msg->hdr.peer = UBC_PEER_NONE;
    struct ubc_settlement refund = { .job_id = job_id, .kind = UBC_SETTLE_REFUND };
    memcpy(refund.owner, owner, UBC_KEY_BYTES);
    memcpy(msg->u.bytes, &refund, sizeof(refund));
    if (ubc_link_send_burst(&node->links[UBC_LINK_SCHED_TO_LEDGER], &msg, 1) != 1) {
        rte_mempool_put(node->msg_pool, msg);
        disk->stats.orphan_refunds_dropped++;
        return;
    }
    disk->stats.orphan_refunds++;
}

/* Ledger journal replay: the genesis record must match this node's, then
 * every batch is applied again and must reproduce its journaled results and
 * state hash. What each batch did to escrows is noted on the live jobs. */
static void
replay_ledger_fail(struct ubc_role_disk *disk, uint64_t sequence, const char *what)
{
    if (disk->ledger_replay_error[0] == '\0')
        snprintf(disk->ledger_replay_error, sizeof(disk->ledger_replay_error),
                 "ledger journal record %lu: %s", (unsigned long)sequence, what);
}

/* Two genesis records describe the same ledger when everything but the
 * table sizes matches: sizes may grow between restarts (more accounts, more
 * jobs); what the ledger is and what it began with may not change. */
static bool
replay_same_genesis(const void *a, size_t a_bytes, const void *b, size_t b_bytes)
{
    static struct ubc_ledger_genesis_storage storage_a, storage_b;
    struct ubc_ledger_config x, y;
    if (ubc_ledger_genesis_record_parse(a, a_bytes, &x, &storage_a) != 0 ||
        ubc_ledger_genesis_record_parse(b, b_bytes, &y, &storage_b) != 0)
        return false;
    bool same = x.chain_id == y.chain_id && memcmp(x.params, y.params, sizeof(x.params)) == 0 &&
                memcmp(x.authority, y.authority, sizeof(x.authority)) == 0 &&
                memcmp(x.treasury, y.treasury, sizeof(x.treasury)) == 0 &&
                memcmp(x.guardian, y.guardian, sizeof(x.guardian)) == 0 &&
                x.guardian_threshold == y.guardian_threshold &&
                x.guardian_key_count == y.guardian_key_count && x.genesis_count == y.genesis_count;
    same = same && memcmp(storage_a.guardian_keys, storage_b.guardian_keys,
                          (size_t)x.guardian_key_count * UBC_LEDGER_KEY_BYTES) == 0;
    same = same && memcmp(storage_a.entries, storage_b.entries,
                          (size_t)x.genesis_count * sizeof(storage_a.entries[0])) == 0;
    /* Smaller tables than the journal was written with could refuse what it applied. */
    return same && y.accounts_max >= x.accounts_max && y.escrows_max >= x.escrows_max &&
           y.unbonding_max >= x.unbonding_max && y.proposals_max >= x.proposals_max &&
           y.multisig_accounts_max >= x.multisig_accounts_max &&
           y.multisig_keys_max >= x.multisig_keys_max;
}

static void
replay_ledger_genesis(struct ubc_role_disk *disk, uint64_t sequence, const void *payload,
                      uint32_t length)
{
    const struct ubc_role_ledger *ledger = disk->state->node->ledger;
    if (disk->ledger_genesis_seen)
        replay_ledger_fail(disk, sequence, "a second genesis record");
    else if (!replay_same_genesis(payload, length, ledger->genesis, ledger->genesis_bytes))
        replay_ledger_fail(disk, sequence,
                           "made under another genesis, or with larger tables (ledger.*, "
                           "sched.max_jobs changed since the journal began: restore them, or "
                           "start from an empty data directory)");
    disk->ledger_genesis_seen = 1;
}

/* The newest ledger checkpoint: its image replaces the genesis ledger, and
 * only the batches after it are replayed. */
static void
replay_ledger_checkpoint(void *ctx, uint64_t sequence, const void *blob, uint64_t bytes)
{
    struct ubc_role_disk *disk = ctx;
    struct ubc_role_ledger *role = disk->state->node->ledger;
    struct ubc_ledger_checkpoint_header header;
    if (bytes < sizeof(header)) {
        replay_ledger_fail(disk, sequence, "a checkpoint too short for its header");
        return;
    }
    memcpy(&header, blob, sizeof(header));
    const uint8_t *genesis = (const uint8_t *)blob + sizeof(header);
    if (header.magic != UBC_LEDGER_CHECKPOINT_MAGIC || header.version != 1 ||
        bytes != sizeof(header) + header.genesis_bytes + header.image_bytes) {
        replay_ledger_fail(disk, sequence, "a malformed checkpoint");
        return;
    }
    if (!replay_same_genesis(genesis, header.genesis_bytes, role->genesis, role->genesis_bytes)) {
        replay_ledger_fail(disk, sequence, "a checkpoint made under another genesis");
        return;
    }
    if (header.image_bytes != role->ledger_bytes) {
        replay_ledger_fail(disk, sequence,
                           "the checkpoint's image has other table sizes than this config "
                           "(ledger.accounts_max or sched.max_jobs changed): restore them");
        return;
    }
    memcpy(role->ledger_memory, genesis + header.genesis_bytes, header.image_bytes);
    role->ledger = ubc_ledger_join(role->ledger_memory);
    if (role->ledger == NULL || ubc_ledger_height(role->ledger) != header.height) {
        replay_ledger_fail(disk, sequence, "the checkpoint's image is not a ledger");
        return;
    }
    role->height = header.height;
    disk->ledger_genesis_seen = 1;
    disk->stats.ledger_checkpoint_height = header.height;
}

static void
replay_ledger_record(void *ctx, uint64_t sequence, uint16_t type, const void *payload,
                     uint32_t length)
{
    struct ubc_role_disk *disk = ctx;
    struct ubc_role_ledger *role = disk->state->node->ledger;
    if (disk->ledger_replay_error[0] != '\0')
        return;
    if (type == UBC_RECORD_LEDGER_GENESIS) {
        replay_ledger_genesis(disk, sequence, payload, length);
        return;
    }
    if (type != UBC_RECORD_LEDGER_BATCH || !disk->ledger_genesis_seen ||
        length > disk->ledger_record_max) {
        replay_ledger_fail(disk, sequence, "not a batch after the genesis record, or too large");
        return;
    }
    memcpy(disk->ledger_scratch, payload, length); /* the parser wants 8-byte alignment */
    struct ubc_ledger_audit audit;
    int rc =
        ubc_ledger_replay(role->ledger, disk->ledger_scratch, length, disk->ledger_results, &audit);
    if (rc != 0) {
        replay_ledger_fail(disk, sequence,
                           rc == 1 ? "replaying it gives other results or another state hash "
                                     "(the ledger code or the journal changed)"
                                   : "a malformed batch");
        return;
    }
    disk->stats.ledger_replayed_batches++;
    disk->stats.ledger_replayed_ops += audit.op_count;
    role->height = audit.height;
}

struct disk_journal_spec {
    const char *name; /* the directory under the data directory */
    struct ubc_journal *journal;
    struct ubc_journal_uring *uring;
    int *uring_ready;
    struct ubc_journal_scan_result *recovery;
    ubc_journal_snapshot_fn snapshot_callback;
    ubc_journal_record_fn record_callback;
};

static int
disk_open(struct ubc_node *node, struct ubc_role_disk *disk, const struct disk_journal_spec *spec,
          char *error, size_t error_cap)
{
    char dir[UBC_CONFIG_PATH_MAX + 16];
    snprintf(dir, sizeof(dir), "%s/%s", node->config.data_dir, spec->name);
    if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
        snprintf(error, error_cap, "journal directory %s: %s", dir, strerror(errno));
        return -errno;
    }
    int rc = ubc_journal_uring_init(spec->uring, DISK_URING_DEPTH);
    if (rc != 0) {
        snprintf(error, error_cap, "io_uring: %s", strerror(-rc));
        return rc;
    }
    *spec->uring_ready = 1;
    struct ubc_journal_open_params open_params = {
        .dir = dir,
        .io = ubc_journal_uring_io(spec->uring),
        .flags = node->config.disk_repair ? UBC_JOURNAL_OPEN_REPAIR : 0,
        .snapshot_callback = spec->snapshot_callback,
        .record_callback = spec->record_callback,
        .replay_ctx = disk,
    };
    rc = ubc_journal_open(spec->journal, &open_params, spec->recovery);
    if (rc != 0)
        snprintf(error, error_cap, "journal %s: %s%s", dir,
                 spec->recovery->message[0] ? spec->recovery->message : strerror(-rc),
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
        .chain_offload = config->disk_chain_offload,
        .recycle_segments = config->disk_recycle_segments,
    };
}

/* The ledger journal takes whole batches: its records are as large as
 * ledger.batch_ops operations, and a group commit holds at least one. */
static void
disk_ledger_params(const struct ubc_config *config, uint64_t record_max,
                   struct ubc_journal_params *params)
{
    disk_params_from_config(config, params);
    params->recycle_segments = 0; /* <data>/ledger-archive hard-links retired segments */
    params->payload_bytes_max = (uint32_t)record_max;
    uint64_t batch = ((record_max + 2 * 4096 + 4095) / 4096) * 4096;
    if (batch > params->batch_bytes_max)
        params->batch_bytes_max = (uint32_t)batch;
    while (params->segment_bytes < 4ull * params->batch_bytes_max)
        params->segment_bytes *= 2;
}

static struct ubc_journal *
disk_journal_alloc(const struct ubc_journal_params *params, char *error, size_t error_cap)
{
    uint64_t footprint = ubc_journal_footprint(params);
    if (footprint == 0) {
        snprintf(error, error_cap,
                 "config: disk.*: the journal refuses these sizes (batch_kib "
                 "a multiple of 4, segment_mib larger than a batch)");
        return NULL;
    }
    void *memory = rte_zmalloc("journal", footprint, ubc_journal_align());
    if (memory == NULL) {
        snprintf(error, error_cap, "journal: cannot allocate %lu bytes", (unsigned long)footprint);
        return NULL;
    }
    struct ubc_journal *journal = ubc_journal_join(ubc_journal_new(memory, params));
    UBC_ASSERT(journal != NULL);
    return journal;
}

static int
disk_alloc_ledger(struct ubc_node *node, struct ubc_role_disk *disk, char *error, size_t error_cap)
{
    disk->ledger_record_max = ubc_ledger_batch_record_bytes(node->config.ledger_batch_ops);
    if (disk->ledger_record_max < node->ledger->genesis_bytes)
        disk->ledger_record_max = node->ledger->genesis_bytes;
    struct ubc_journal_params params;
    disk_ledger_params(&node->config, disk->ledger_record_max, &params);
    disk->ledger_journal = disk_journal_alloc(&params, error, error_cap);
    disk->ledger_scratch = rte_zmalloc("ledger_replay", disk->ledger_record_max, 64);
    disk->ledger_results =
        rte_zmalloc("ledger_results", UBC_LEDGER_BATCH_MAX * sizeof(uint16_t), 64);
    if (disk->ledger_journal == NULL)
        return -EINVAL;
    if (disk->ledger_scratch == NULL || disk->ledger_results == NULL) {
        snprintf(error, error_cap, "ledger journal: cannot allocate replay buffers");
        return -ENOMEM;
    }
    return 0;
}

static int
disk_alloc(struct ubc_node *node, struct ubc_role_disk *disk, char *error, size_t error_cap)
{
    struct ubc_journal_params params;
    disk_params_from_config(&node->config, &params);
    disk->journal = disk_journal_alloc(&params, error, error_cap);
    if (disk->journal == NULL)
        return -EINVAL;
    uint32_t done_slots = 1;
    while (done_slots < node->config.ring_msg_pool_size + 1)
        done_slots <<= 1;
    disk->done = rte_zmalloc("disk_done", done_slots * sizeof(disk->done[0]), 64);
    disk->done_mask = done_slots - 1;
    if (disk->done == NULL) {
        snprintf(error, error_cap, "journal: cannot allocate the done queue");
        return -ENOMEM;
    }
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
    return disk_alloc_ledger(node, disk, error, error_cap);
}

static void
disk_flush_ignore(void *ctx, uint64_t cookie, uint64_t sequence, int status)
{
    (void)ctx, (void)cookie, (void)sequence, (void)status;
}

/* A new ledger journal begins with the genesis it was made under. */
static int
disk_ledger_begin(struct ubc_role_disk *disk, char *error, size_t error_cap)
{
    const struct ubc_role_ledger *ledger = disk->state->node->ledger;
    int64_t sequence = ubc_journal_append(disk->ledger_journal, UBC_RECORD_LEDGER_GENESIS,
                                          ledger->genesis, ledger->genesis_bytes, 0);
    int rc = sequence < 0 ? (int)sequence
                          : ubc_journal_flush(disk->ledger_journal, disk_flush_ignore, NULL);
    if (rc != 0)
        snprintf(error, error_cap, "ledger journal: cannot write the genesis record (%d)", rc);
    return rc == 0 ? 0 : -EIO;
}

static int
disk_recover_ledger(struct ubc_node *node, struct ubc_role_disk *disk, char *error,
                    size_t error_cap)
{
    snprintf(disk->ledger_dir, sizeof(disk->ledger_dir), "%s/ledger", node->config.data_dir);
    snprintf(disk->archive_dir, sizeof(disk->archive_dir), "%s/ledger-archive",
             node->config.data_dir);
    if (mkdir(disk->archive_dir, 0750) != 0 && errno != EEXIST) {
        snprintf(error, error_cap, "ledger archive %s: %s", disk->archive_dir, strerror(errno));
        return -errno;
    }
    struct disk_journal_spec spec = { "ledger",
                                      disk->ledger_journal,
                                      &disk->ledger_uring,
                                      &disk->ledger_uring_ready,
                                      &disk->ledger_recovery,
                                      replay_ledger_checkpoint,
                                      replay_ledger_record };
    int rc = disk_open(node, disk, &spec, error, error_cap);
    if (rc == 0 && disk->ledger_replay_error[0] != '\0') {
        snprintf(error, error_cap, "%s", disk->ledger_replay_error);
        return -EUCLEAN;
    }
    if (rc == 0 && !disk->ledger_genesis_seen)
        rc = disk_ledger_begin(disk, error, error_cap);
    return rc;
}

/* The control thread's view of the journal, copied on the disk lcore. */
static void
disk_control(void *ctx, struct ubc_control_request *req)
{
    struct ubc_role_disk *disk = ctx;
    struct ubc_role_disk_report *report = (struct ubc_role_disk_report *)req->reply;
    ubc_journal_stats_get(disk->journal, &report->journal);
    ubc_journal_stats_get(disk->ledger_journal, &report->ledger_journal);
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
    UBC_ASSERT(node->ledger != NULL && node->ledger->ledger != NULL); /* ledger init ran first */
    int rc = disk_alloc(node, disk, error, error_cap);
    if (rc != 0)
        return rc;
    disk->state->control_fn = disk_control;
    disk->state->control_ctx = disk;
    struct disk_journal_spec spec = { "journal",          disk->journal,   &disk->uring,
                                      &disk->uring_ready, &disk->recovery, replay_snapshot,
                                      replay_record };
    rc = disk_open(node, disk, &spec, error, error_cap);
    if (rc == 0 && disk->replay_damaged) {
        snprintf(error, error_cap,
                 "journal: the snapshot is damaged or holds more jobs than "
                 "sched.max_jobs + disk.snapshot_records");
        rc = -EUCLEAN;
    }
    if (rc == 0)
        rc = disk_recover_ledger(node, disk, error, error_cap);
    if (rc != 0)
        return rc;
    struct replay_context replay = { .sched = sched, .disk = disk };
    ubc_job_set_each_live(disk->jobs, replay_job, &replay);
    disk->stats.replayed_jobs = replay.count;
    ubc_ledger_escrows_each(node->ledger->ledger, replay_refund_orphan, disk);
    UBC_LOG(NOTICE, UBC_LOG_DISK,
            "journal recovered: snapshot at %lu, %lu records after it, %lu unfinished jobs back "
            "in the queue, %lu without an escrow finished, %lu orphan escrows refunded; ledger: "
            "%lu batches (%lu ops) replayed to height %lu, every state hash matching%s%s",
            (unsigned long)disk->stats.snapshot_sequence,
            (unsigned long)disk->stats.replayed_records, (unsigned long)replay.count,
            (unsigned long)disk->stats.recovered_without_escrow,
            (unsigned long)disk->stats.orphan_refunds,
            (unsigned long)disk->stats.ledger_replayed_batches,
            (unsigned long)disk->stats.ledger_replayed_ops,
            (unsigned long)ubc_ledger_height(node->ledger->ledger),
            disk->recovery.notes[0] ? "; " : "", disk->recovery.notes);
    return 0;
}

void
ubc_role_disk_fini(struct ubc_role_disk *disk)
{
    if (disk->journal != NULL) {
        ubc_journal_close(disk->journal);
        rte_free(ubc_journal_delete(ubc_journal_leave(disk->journal)));
    }
    if (disk->uring_ready)
        ubc_journal_uring_fini(&disk->uring);
    if (disk->ledger_journal != NULL) {
        ubc_journal_close(disk->ledger_journal);
        rte_free(ubc_journal_delete(ubc_journal_leave(disk->ledger_journal)));
    }
    if (disk->ledger_uring_ready)
        ubc_journal_uring_fini(&disk->ledger_uring);
    disk->uring_ready = disk->ledger_uring_ready = 0;
    rte_free(disk->done);
    rte_free(disk->jobs);
    rte_free(disk->snapshot_blob);
    rte_free(disk->ledger_scratch);
    rte_free(disk->ledger_results);
    disk->journal = NULL;
    disk->ledger_journal = NULL;
    disk->done = NULL;
    disk->jobs = NULL;
    disk->snapshot_blob = NULL;
    disk->ledger_scratch = NULL;
    disk->ledger_results = NULL;
}
