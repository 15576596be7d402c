/* ubc_role_disk.h: the disk role: owns the journal (storage/ubc_journal.h)
 * and makes other roles' records durable with group commit.
 *
 * Contract: a role that needs a record durable sends a message of type
 * UBC_MSG_JOURNAL_APPEND on the any>disk ring: hdr.flags holds the record
 * type (enum ubc_record_type), hdr.len the payload length, u.bytes the
 * payload. The disk role appends it, and when the group commit holding it is
 * on disk it returns the very same message, retyped UBC_MSG_JOURNAL_DURABLE,
 * to its producer (disk>sched or disk>ledger); hdr.flags then holds the
 * record type, with UBC_DISK_FAILED set when the journal went read-only and
 * the record will never be durable. A producer acknowledges nothing to the outside before that.
 *
 * Two journals: <data>/journal holds the jobs (retired behind snapshots),
 * <data>/ledger holds the ledger's batches from its genesis record on (the
 * audit trail: never retired). Record types 0x02xx go to the ledger journal;
 * their payload is a struct ubc_record_external naming the producer's buffer.
 *
 * ubc_role_disk_init() runs on the main thread at start-up, after the
 * ledger role's init: it opens and recovers both journals (blocking),
 * replays the ledger's batches into the ledger (checking every state hash),
 * hands the unfinished acknowledged jobs back to the scheduler (with their
 * escrows as the ledger journal left them), and refuses to start on
 * corruption (naming file and offset) or divergence unless disk.repair is
 * set. poll/housekeep/drained run on the disk lcore only.
 */
#ifndef UBC_ROLE_DISK_H
#define UBC_ROLE_DISK_H

#include <stdint.h>

#include "node/ubc_node.h"
#include "node/ubc_role_sched.h"
#include "node/ubc_records.h"
#include "storage/ubc_journal.h"

struct ubc_job_set;

#define UBC_DISK_FAILED 0x8000u      /* in hdr.flags of a durable reply: never durable */
#define UBC_DISK_RECORD_MASK 0x7fffu /* hdr.flags: the record type */

struct ubc_role_disk_stats {
    uint64_t appended;
    uint64_t durable;
    uint64_t failed;
    uint64_t backpressure; /* appends retried because every batch buffer was busy */
    uint64_t replayed_records;
    uint64_t replayed_jobs; /* acknowledged jobs handed back to the scheduler at start */
    uint64_t snapshots;
    uint64_t snapshot_failures;
    uint64_t snapshot_sequence; /* the newest snapshot covers the records up to it */
    uint64_t job_set_overflows; /* jobs the set could not hold (see disk.snapshot_records) */
    uint64_t ledger_appended;
    uint64_t ledger_replayed_batches; /* at start, each one's state hash checked */
    uint64_t ledger_replayed_ops;
    uint64_t recovered_without_escrow; /* journaled jobs never acknowledged, or already settled */
    uint64_t orphan_refunds;           /* escrows without a journaled job, refunded at start */
    uint64_t orphan_refunds_dropped;   /* ... that the ring or the pool could not take */
    uint64_t ledger_checkpoints;       /* ledger images written (and retired segments before) */
    uint64_t ledger_checkpoint_failures;
    uint64_t ledger_checkpoint_height; /* the newest image's height (restored or written) */
};

struct ubc_role_disk {
    struct ubc_role_state *state;
    struct ubc_journal *journal;
    struct ubc_journal_uring uring;
    struct ubc_msg *held[32]; /* appends to retry, in order */
    uint32_t held_count;
    uint32_t held_next;
    struct ubc_msg **done; /* durable messages waiting for room on their ring */
    uint32_t done_mask;
    uint32_t done_head;
    uint32_t done_tail;
    uint64_t outstanding; /* appended, not yet reported by the journal */
    uint64_t tsc_hz;
    uint64_t start_tsc;
    int read_only; /* the journal's errno once it went read-only; read by sched */
    char read_only_reason[160];
    struct ubc_role_disk_stats stats;
    struct ubc_journal_scan_result recovery;
    struct ubc_job_set *jobs; /* unfinished acknowledged jobs, for snapshots */
    uint8_t *snapshot_blob;
    size_t snapshot_cap;
    uint64_t records_since_snapshot;
    uint64_t snapshot_records; /* 0: never */
    int snapshot_running;      /* the journal is writing snapshot_blob */
    int replay_damaged;
    /* The ledger journal. */
    struct ubc_journal *ledger_journal;
    struct ubc_journal_uring ledger_uring;
    struct ubc_journal_scan_result ledger_recovery;
    uint8_t *ledger_scratch; /* an aligned copy of a record being replayed */
    uint16_t *ledger_results;
    uint64_t ledger_record_max;
    int ledger_genesis_seen;
    int uring_ready; /* each io_uring initialized (fini must not touch one that is not) */
    struct ubc_msg *ledger_checkpoint; /* the ledger's request while its snapshot is written */
    char ledger_dir[UBC_CONFIG_PATH_MAX + 16];
    char archive_dir[UBC_CONFIG_PATH_MAX + 16];
    int ledger_uring_ready;
    int chain_taken_over; /* the node stops: the disk lcore chains from now on */
    char ledger_replay_error[256];
};

/* The disk role's answer to a control request (any command). */
struct ubc_role_disk_report {
    struct ubc_journal_stats journal;
    struct ubc_journal_stats ledger_journal;
    uint64_t durable_sequence;
    uint64_t next_sequence;
};

int ubc_role_disk_init(struct ubc_node *node, struct ubc_role_disk *disk,
                       struct ubc_role_sched *sched, char *error, size_t error_cap);
void ubc_role_disk_fini(struct ubc_role_disk *disk);

uint32_t ubc_role_disk_poll(void *ctx, uint64_t now_tsc);
void ubc_role_disk_housekeep(void *ctx, uint64_t now_tsc);
bool ubc_role_disk_drained(void *ctx);

/* The chain role (roles.chain; work only with disk.chain_offload): ctx is
 * the disk role. Any lcore; lock-free against the disk role's lcore. */
uint32_t ubc_role_chain_poll(void *ctx, uint64_t now_tsc);

#endif /* UBC_ROLE_DISK_H */
