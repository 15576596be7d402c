/* ubc_ledger_settle.h: turns the scheduler's settlement records into ledger operations.
 *
 * Contract: the ledger role calls ubc_ledger_op_from_settlement for each struct ubc_settlement
 * it receives from the sched role (an in-process, trusted producer), so the op comes out marked
 * UBC_LEDGER_VERIFY_INTERNAL: escrow and settlement are issued on the node's authority. Pure
 * function, any thread, no allocation. Returns 0, or -EINVAL for an unknown settlement kind
 * (answer it with UBC_ERR_MALFORMED; never apply it). A release names the provider's account,
 * which the ledger opens on the first payment (refused with UBC_LEDGER_ERR_FULL only when the
 * account table is full; the escrow then stays open until the refund). The refund returns
 * whatever the escrow still holds (its amount field is informative), which also makes a
 * repeated settlement after a failover harmless: the escrow is closed and the repeat gets
 * UBC_LEDGER_ERR_NO_ESCROW.
 */
#ifndef UBC_LEDGER_SETTLE_H
#define UBC_LEDGER_SETTLE_H

#include <errno.h>
#include <string.h>

#include "ledger/ubc_ledger.h"
#include "scheduler/ubc_settle.h"

static inline int
ubc_ledger_op_from_settlement(const struct ubc_settlement *settlement, struct ubc_ledger_op *op)
{
    memset(op, 0, sizeof(*op));
    switch (settlement->kind) {
    case UBC_SETTLE_ESCROW_LOCK: op->kind = UBC_LEDGER_OP_ESCROW_LOCK; break;
    case UBC_SETTLE_RELEASE: op->kind = UBC_LEDGER_OP_ESCROW_RELEASE; break;
    case UBC_SETTLE_REFUND: op->kind = UBC_LEDGER_OP_ESCROW_REFUND; break;
    default: return -EINVAL;
    }
    memcpy(op->account, settlement->owner, UBC_LEDGER_KEY_BYTES);
    op->args.u.escrow.job_id = settlement->job_id;
    op->args.u.escrow.amount = settlement->amount;
    memcpy(op->args.u.escrow.provider, settlement->provider_account, UBC_LEDGER_KEY_BYTES);
    ubc_ledger_mark_internal(op, 1);
    return 0;
}

#endif /* UBC_LEDGER_SETTLE_H */
