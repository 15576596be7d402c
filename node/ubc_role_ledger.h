/* ubc_role_ledger.h: the ledger role: applies the scheduler's escrow and
 * settlement effects (and, later, clients' and consensus' operations) to the
 * token ledger (ledger/ubc_ledger.h) in batches, one batch per poll.
 *
 * Contract: ubc_role_ledger_init() runs on the main thread at start-up (the
 * ledger's tables are sized from the config; genesis from ledger.genesis_*);
 * poll and housekeep run on the ledger lcore only. The control thread reads
 * the ledger through ubc_ledger_summary_read() (seqlock, any thread) and
 * through the role's control mailbox for per-account queries.
 */
#ifndef UBC_ROLE_LEDGER_H
#define UBC_ROLE_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/ubc_ledger.h"
#include "node/ubc_node.h"

#define UBC_ROLE_LEDGER_BURST 64u
#define UBC_LEDGER_SUBMIT_OPS_MAX 17u /* an op and up to 16 cosignatures */

enum ubc_ledger_command {
    UBC_LEDGER_COMMAND_ACCOUNT = 1, /* text: 64 hex digits; reply: struct ubc_ledger_account_info */
    UBC_LEDGER_COMMAND_SUPPLY,      /* reply: struct ubc_ledger_supply (with a full scan) */
    UBC_LEDGER_COMMAND_SUBMIT,      /* payload: verified ops (an op and its cosigns);
                                     * reply: one uint16_t result per op */
    UBC_LEDGER_COMMAND_PROPOSALS,   /* reply: struct ubc_ledger_proposal_info[] */
};

struct ubc_role_ledger {
    struct ubc_role_state *state;
    struct ubc_ledger *ledger;
    uint64_t height;
    uint64_t batches;
    uint64_t results[UBC_LEDGER_RESULT_COUNT]; /* per result code, settlements included */
    uint64_t by_kind[32];                      /* applied ops per enum ubc_ledger_op_kind */
    struct ubc_ledger_op ops[UBC_ROLE_LEDGER_BURST];
    uint32_t op_index[UBC_ROLE_LEDGER_BURST];
    struct ubc_msg *answers[2 * UBC_ROLE_LEDGER_BURST]; /* escrow outcomes for the scheduler */
    uint32_t answers_count;
    uint16_t op_results[UBC_ROLE_LEDGER_BURST];
};

int ubc_role_ledger_init(struct ubc_node *node, struct ubc_role_ledger *role, char *error,
                         size_t error_cap);
void ubc_role_ledger_fini(struct ubc_role_ledger *role);

uint32_t ubc_role_ledger_poll(void *ctx, uint64_t now_tsc);
void ubc_role_ledger_housekeep(void *ctx, uint64_t now_tsc);
bool ubc_role_ledger_drained(void *ctx);

#endif /* UBC_ROLE_LEDGER_H */
