/* ubc_role_sched.h: the sched role: drives the scheduler library
 * (scheduler/ubc_sched.h) from its input rings and hands its outputs to the
 * net and ledger roles.
 *
 * Contract: ubc_role_sched_init() runs on the main thread at start-up (it
 * allocates the scheduler's tables from the config); poll, housekeep and
 * drained run on the sched lcore only; the control thread reaches the
 * scheduler through the role's control mailbox (commands below), never
 * directly. Nothing is lost at any step: a message the scheduler cannot take
 * yet is held and retried, outputs a full ring refuses stay staged.
 */
#ifndef UBC_ROLE_SCHED_H
#define UBC_ROLE_SCHED_H

#include <stdint.h>

#include "node/ubc_admission.h"
#include "node/ubc_node.h"
#include "scheduler/ubc_sched.h"

#define UBC_ROLE_SCHED_STAGE_MAX 1024u
#define UBC_ROLE_SCHED_PARKED_MAX 4096u /* assignments waiting for their job's escrow */

/* An assignment (or revocation) of a job whose escrow the ledger has not
 * answered yet: no provider works for a job that may not be paid for. */
struct ubc_parked {
    struct ubc_msg *msg;
    uint64_t job_id;
    uint32_t state; /* 0 waiting, 1 release, 2 drop */
};

/* Control commands of the sched role (struct ubc_control_request). */
enum ubc_sched_command {
    UBC_SCHED_COMMAND_STATS = 1, /* reply: struct ubc_sched_stats */
    UBC_SCHED_COMMAND_JOBS,      /* argument: state mask; reply: job summaries */
    UBC_SCHED_COMMAND_JOB,       /* argument: job id; reply: one job summary */
    UBC_SCHED_COMMAND_PROVIDERS, /* argument: health mask; reply: provider summaries */
    UBC_SCHED_COMMAND_PROVIDER,  /* argument: provider id; reply: one summary */
    UBC_SCHED_COMMAND_DRAIN,     /* argument: provider id */
    UBC_SCHED_COMMAND_UNDRAIN,   /* argument: provider id */
};

struct ubc_role_sched {
    struct ubc_role_state *state;
    struct ubc_sched *sched;
    struct ubc_msg *held[32]; /* inputs the scheduler deferred (out was full) */
    uint32_t held_count;
    uint32_t held_next;
    struct ubc_sched_out out; /* staged outputs, not yet on a ring */
    uint32_t room_min;        /* ubc_sched_out_room_min(sched), read per input */
    uint32_t out_sent;        /* staged outputs already handed to a ring */
    uint64_t tsc_hz;
    uint64_t start_tsc;
    struct ubc_msg *to_disk[64]; /* journal appends waiting for room on any>disk */
    uint32_t to_disk_count;
    const int *disk_read_only; /* the disk role's state: refuse new jobs */
    uint64_t acks_deferred;    /* job ACKs that waited for their journal record */
    uint64_t acks_sent;
    uint64_t refused_read_only;
    uint64_t refused_escrow; /* the ledger refused the job's escrow (funds...) */
    uint64_t admission_full;
    uint64_t submits_repeated;             /* a client's retry of a job it already submitted */
    struct ubc_admission_table *admission; /* jobs waiting for journal and escrow */
    uint64_t replies_unaddressed;          /* outputs for no peer (replayed jobs) */
    uint64_t routed_net;
    uint64_t routed_ledger;
    uint64_t unrouted; /* outputs of a type no link takes (counted, freed) */
    struct ubc_parked parked[UBC_ROLE_SCHED_PARKED_MAX]; /* FIFO */
    uint32_t parked_head;
    uint32_t parked_tail;
    uint64_t assignments_parked;   /* held until the escrow was locked */
    uint64_t assignments_dropped;  /* never sent: the escrow was refused */
    uint64_t parked_full;          /* sent without waiting: the FIFO was full */
    uint64_t revocations_withheld; /* of refused jobs no provider had heard of */
    /* Inputs the scheduler is done with, kept to carry this poll's outputs
     * (one pool get and one put less per message, on lines still in the
     * cache); what is left goes back in one put at the end of the poll. */
    struct ubc_msg *spent[64];
    uint32_t spent_count;
    /* An input since the last tick could give placement work (anything
     * but a status query, which changes nothing). */
    bool placement_due;
};

int ubc_role_sched_init(struct ubc_node *node, struct ubc_role_sched *role);
void ubc_role_sched_fini(struct ubc_role_sched *role);

uint32_t ubc_role_sched_poll(void *ctx, uint64_t now_tsc);
void ubc_role_sched_housekeep(void *ctx, uint64_t now_tsc);
bool ubc_role_sched_drained(void *ctx);

#endif /* UBC_ROLE_SCHED_H */
