/* ubc_role_verify.h: the verify role: checks the Ed25519 signatures of
 * client ledger operations in bursts, off the ledger's apply path.
 *
 * Contract: the net role puts each client operation group (an op and its
 * cosign records, consecutive messages of type UBC_MSG_LEDGER_OP) on
 * net>verify in one burst; a dequeue may still split a group, so this role
 * holds an incomplete tail until the rest arrives. It writes each op's
 * verify mark in place (ledger/ubc_ledger_msg.h) and passes the messages, in
 * order and whole groups at a time, to verify>ledger. It reads no ledger
 * state, so several instances could share the work; one instance verifies
 * about 20k signatures per second (docs/ledger.md). At most
 * ledger.verify_burst ops are checked per poll, so that the roles sharing
 * this lcore keep running (a check costs about 50 us).
 * init runs on the main thread; poll/housekeep/drained on the verify lcore.
 */
#ifndef UBC_ROLE_VERIFY_H
#define UBC_ROLE_VERIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "node/ubc_node.h"

#define UBC_VERIFY_GROUP_MAX 17u /* an op and up to 16 cosignatures */
#define UBC_VERIFY_HELD_MAX (64u + UBC_VERIFY_GROUP_MAX)

struct ubc_role_verify {
    struct ubc_role_state *state;
    uint64_t chain_id;
    uint32_t burst;
    uint32_t held_count; /* received, not yet verified (an incomplete group waits here) */
    uint32_t out_count;  /* verified, waiting for room on verify>ledger */
    struct ubc_msg *held[UBC_VERIFY_HELD_MAX];
    struct ubc_msg *out[UBC_VERIFY_HELD_MAX];
    uint64_t verified; /* op records checked */
    uint64_t bad;      /* of which the signature or the record was bad */
    uint64_t groups;
};

void ubc_role_verify_init(struct ubc_node *node, struct ubc_role_verify *role);

/* Messages in held[0..count) that form whole groups from the start. */
uint32_t ubc_role_verify_complete_prefix(struct ubc_msg *const *msgs, uint32_t count,
                                         uint32_t *groups);

uint32_t ubc_role_verify_poll(void *ctx, uint64_t now_tsc);
void ubc_role_verify_housekeep(void *ctx, uint64_t now_tsc);
bool ubc_role_verify_drained(void *ctx);

#endif /* UBC_ROLE_VERIFY_H */
