/* ubc_role_ledger.h: the ledger role: applies operations to the token
 * ledger (ledger/ubc_ledger.h) in batches, journals every batch, and answers
 * only once the batch is durable.
 *
 * Inputs: the scheduler's settlements (sched>ledger), clients' signed ops
 * already through the verify role (verify>ledger, whole groups), consensus
 * commits (consensus>ledger), operators' ops (the control mailbox, signatures
 * checked on the control thread). Each poll takes up to ledger.batch_ops of
 * them, applies them as one batch at the next height, writes the batch record
 * (ops, results, audit with the state hash) into one of its record buffers
 * and sends it to the disk role's ledger journal (a UBC_RECORD_LEDGER_BATCH
 * append naming that buffer). Answers wait with the batch: when the disk
 * role returns the append durable, escrow-lock outcomes go to the scheduler
 * (LEDGER_RESULT), client results to the net instance that owns the peer,
 * an operator's results to the control thread, and each closed escrow's
 * JOB_DONE record to the job journal (so a job is journaled done only after
 * its settlement is durable: recovery relies on that order). A batch the
 * journal could not write turns the ledger read-only: its answers and every
 * later one say READ_ONLY, nothing more is applied.
 *
 * Contract: ubc_role_ledger_init() runs on the main thread at start-up (the
 * ledger's tables and record buffers sized from the config; the genesis
 * record built from ledger.genesis_*), before the disk role's init, which
 * replays the ledger journal into role->ledger. poll and housekeep run on
 * the ledger lcore only. The control thread reads the ledger through
 * ubc_ledger_summary_read() (seqlock, any thread) and the control mailbox.
 */
#ifndef UBC_ROLE_LEDGER_H
#define UBC_ROLE_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/ubc_ledger.h"
#include "node/ubc_node.h"

#define UBC_LEDGER_SUBMIT_OPS_MAX 17u /* an op and up to 16 cosignatures */
#define UBC_LEDGER_SLOTS 8u           /* batches in the journal at once */
#define UBC_LEDGER_CARRY_MAX 16u      /* the tail of a group split by a dequeue */

enum ubc_ledger_command {
    UBC_LEDGER_COMMAND_ACCOUNT = 1, /* text: 64 hex digits; reply: struct ubc_ledger_account_info */
    UBC_LEDGER_COMMAND_SUPPLY,      /* reply: struct ubc_ledger_supply (with a full scan) */
    UBC_LEDGER_COMMAND_SUBMIT,      /* payload: verified ops (an op and its cosigns); reply,
                                     * once the batch is durable: one uint16_t result per op */
    UBC_LEDGER_COMMAND_PROPOSALS,   /* reply: struct ubc_ledger_proposal_info[] */
    UBC_LEDGER_COMMAND_STATS,       /* reply: struct ubc_role_ledger_stats */
};

/* Where a held message goes once its batch is durable. */
enum ubc_ledger_dest {
    UBC_LEDGER_DEST_FREE = 0,
    UBC_LEDGER_DEST_SCHED = 1, /* an escrow-lock outcome */
    UBC_LEDGER_DEST_NET = 2,   /* a client's result */
    UBC_LEDGER_DEST_DISK = 3,  /* a JOB_DONE record */
};

struct ubc_ledger_slot {
    uint8_t *record; /* the batch record, read by the disk lcore until durable */
    uint64_t record_bytes;
    uint64_t height;
    uint32_t held_first; /* the batch's answers: held[held_first .. held_first + held_count) */
    uint32_t held_count;
    uint32_t control_count; /* the operator's ops at the front of the batch, 0 if none */
    uint32_t busy;
};

struct ubc_ledger_outbox {
    struct ubc_msg **msgs; /* ring of mask + 1 */
    uint32_t mask;
    uint32_t head;
    uint32_t tail;
};

struct ubc_role_ledger_stats {
    uint64_t height;
    uint64_t batches;
    uint64_t ops;
    uint64_t batches_durable;
    uint64_t batches_failed;  /* the journal went read-only under them */
    uint64_t answers_sched;   /* escrow-lock outcomes */
    uint64_t answers_net;     /* client results */
    uint64_t answers_dropped; /* client results for peers no net instance owns */
    uint64_t done_records;    /* JOB_DONE records after a closed escrow */
    uint64_t refused_read_only;
    uint64_t slots_full;  /* polls that found every record buffer in the journal */
    uint64_t checkpoints; /* images the disk role wrote */
    uint64_t checkpoint_failures;
    uint64_t checkpoint_height;                /* of the newest image written */
    uint64_t results[UBC_LEDGER_RESULT_COUNT]; /* per result code, settlements included */
    uint64_t by_kind[32];                      /* applied ops per enum ubc_ledger_op_kind */
};

struct ubc_role_ledger {
    struct ubc_role_state *state;
    struct ubc_ledger *ledger;
    uint64_t height;
    uint32_t batch_ops; /* most ops per batch (ledger.batch_ops) */
    int read_only;
    uint8_t *genesis; /* the genesis record, compared with the journal's */
    uint32_t genesis_bytes;
    void *ledger_memory; /* the ledger's region (ledger_bytes): a checkpoint is a copy of it */
    uint64_t ledger_bytes;
    uint8_t *checkpoint; /* header, genesis, image: read by the disk lcore while busy */
    uint64_t checkpoint_bytes;
    uint32_t checkpoint_every; /* batches between checkpoints (ledger.checkpoint_batches) */
    uint32_t checkpoint_busy;
    uint64_t batches_since_checkpoint;
    struct ubc_ledger_slot slots[UBC_LEDGER_SLOTS];
    uint32_t slot_head; /* oldest batch in the journal */
    uint32_t slot_tail; /* next free */
    /* Messages held with their batch, and where each goes. */
    struct ubc_msg **held;
    uint8_t *held_dest;
    uint32_t held_mask;
    uint32_t held_head;
    uint32_t held_tail;
    struct ubc_ledger_outbox to_sched, to_net, to_disk;
    /* The operator's group, from the control mailbox. */
    struct ubc_ledger_op control_ops[UBC_LEDGER_SUBMIT_OPS_MAX];
    uint32_t control_count;                      /* queued, not yet applied */
    uint32_t control_active;                     /* in a batch, waiting for the journal */
    struct ubc_msg *carry[UBC_LEDGER_CARRY_MAX]; /* a group's first part from verify>ledger */
    uint32_t carry_count;
    /* Per-batch scratch, sized for batch_ops. */
    struct ubc_msg **msgs;
    struct ubc_ledger_op *ops;
    uint32_t *op_index;
    uint16_t *op_results;
    struct ubc_role_ledger_stats stats;
};

int ubc_role_ledger_init(struct ubc_node *node, struct ubc_role_ledger *role, char *error,
                         size_t error_cap);
void ubc_role_ledger_fini(struct ubc_role_ledger *role);

uint32_t ubc_role_ledger_poll(void *ctx, uint64_t now_tsc);
void ubc_role_ledger_housekeep(void *ctx, uint64_t now_tsc);
bool ubc_role_ledger_drained(void *ctx);

#endif /* UBC_ROLE_LEDGER_H */
