/* ubc_settle.h: settlement records the scheduler sends to the ledger.
 *
 * Contract: the sched role emits one struct ubc_settlement per ledger effect
 * of a job, carried in the payload of a UBC_MSG_LEDGER_OP message
 * (hdr.src_role = UBC_ROLE_SCHED). Per job the amounts balance exactly:
 * escrow_lock = sum(release) + refund. A job's lock is emitted with its ACK;
 * releases (one per replica, to the provider's account) and one refund
 * (to the owner, remainder of the escrow) follow when the job is validated;
 * a cancelled, expired or failed job gets a refund of the whole escrow.
 * Plain data: no functions, any thread may read it.
 */
#ifndef UBC_SETTLE_H
#define UBC_SETTLE_H

#include <stdint.h>

#include "common/ubc_msg.h"

enum ubc_settle_kind {
    UBC_SETTLE_ESCROW_LOCK = 1, /* owner -> escrow of the job */
    UBC_SETTLE_RELEASE = 2,     /* escrow -> provider account (work validated) */
    UBC_SETTLE_REFUND = 3,      /* escrow -> owner */
};

struct ubc_settlement {
    uint64_t job_id;
    uint8_t owner[UBC_KEY_BYTES];
    uint8_t provider_account[UBC_KEY_BYTES]; /* zero for lock and refund */
    uint64_t amount;                         /* base units */
    uint64_t provider_id;                    /* 0 for lock and refund */
    uint8_t kind;                            /* enum ubc_settle_kind */
    uint8_t reserved[7];
};

UBC_STATIC_ASSERT(sizeof(struct ubc_settlement) <= UBC_MSG_PAYLOAD_SIZE, "settlement fits");

#endif /* UBC_SETTLE_H */
