/* ubc_ledger_msg.c: message glue for the ledger role (see ubc_ledger_msg.h). */
#include <string.h>

#include "ledger/ubc_ledger_msg.h"
#include "ledger/ubc_ledger_settle.h"

static int
is_settlement(const struct ubc_msg *msg)
{
    return msg->hdr.src_role == UBC_ROLE_SCHED;
}

static int
is_op_record(const struct ubc_msg *msg)
{
    return msg->hdr.type == UBC_MSG_LEDGER_OP && !is_settlement(msg) &&
           msg->hdr.len == sizeof(struct ubc_ledger_op);
}

/* The ops of a burst are not contiguous, so the verify loop runs over a gathered copy in chunks
 * that end at op boundaries (an op and its cosigns stay together), then scatters the marks. */
#define VERIFY_CHUNK 64u

static uint32_t
verify_chunk(uint64_t chain_id, struct ubc_msg *const *msgs, const uint32_t *which, uint32_t count)
{
    struct ubc_ledger_op ops[VERIFY_CHUNK];
    for (uint32_t i = 0; i < count; i++)
        memcpy(&ops[i], msgs[which[i]]->u.bytes, sizeof(ops[i]));
    uint32_t bad = ubc_ledger_verify_batch(chain_id, ops, count);
    for (uint32_t i = 0; i < count; i++)
        ((struct ubc_ledger_op *)(void *)msgs[which[i]]->u.bytes)->verify = ops[i].verify;
    return bad;
}

uint32_t
ubc_ledger_verify_msgs(uint64_t chain_id, struct ubc_msg *const *msgs, uint32_t n)
{
    uint32_t which[VERIFY_CHUNK];
    uint32_t count = 0, bad = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (!is_op_record(msgs[i]))
            continue;
        const struct ubc_ledger_op *op = (const void *)msgs[i]->u.bytes;
        /* Flush before an op whose cosigns might not fit; a cosign never starts a chunk unless
         * it is stray anyway (then it is marked bad, as it should be). */
        if (count > 0 && op->kind != UBC_LEDGER_OP_COSIGN &&
            count + 1u + op->cosign_count > VERIFY_CHUNK) {
            bad += verify_chunk(chain_id, msgs, which, count);
            count = 0;
        }
        which[count++] = i;
        if (count == VERIFY_CHUNK) {
            bad += verify_chunk(chain_id, msgs, which, count);
            count = 0;
        }
    }
    if (count > 0)
        bad += verify_chunk(chain_id, msgs, which, count);
    return bad;
}

uint32_t
ubc_ledger_msgs_to_ops(struct ubc_msg *const *msgs, uint32_t n, struct ubc_ledger_op *ops,
                       uint32_t ops_max, uint32_t *op_index)
{
    uint32_t count = 0;
    for (uint32_t i = 0; i < n; i++) {
        const struct ubc_msg *msg = msgs[i];
        op_index[i] = UBC_LEDGER_MSG_NO_OP;
        if (msg->hdr.type != UBC_MSG_LEDGER_OP || count >= ops_max)
            continue;
        if (is_settlement(msg)) {
            struct ubc_settlement settlement;
            if (msg->hdr.len != sizeof(settlement))
                continue;
            memcpy(&settlement, msg->u.bytes, sizeof(settlement));
            if (ubc_ledger_op_from_settlement(&settlement, &ops[count]) != 0)
                continue;
        } else {
            if (msg->hdr.len != sizeof(struct ubc_ledger_op))
                continue;
            memcpy(&ops[count], msg->u.bytes, sizeof(ops[count]));
            if (ops[count].verify == UBC_LEDGER_VERIFY_INTERNAL)
                ops[count].verify = UBC_LEDGER_VERIFY_NONE;
        }
        op_index[i] = count++;
    }
    return count;
}

static int
is_escrow_kind(uint8_t kind)
{
    return kind == UBC_LEDGER_OP_ESCROW_LOCK || kind == UBC_LEDGER_OP_ESCROW_RELEASE ||
           kind == UBC_LEDGER_OP_ESCROW_REFUND;
}

void
ubc_ledger_msgs_reply(struct ubc_msg *const *msgs, uint32_t n, const uint32_t *op_index,
                      const struct ubc_ledger_op *ops, const uint16_t *results)
{
    for (uint32_t i = 0; i < n; i++) {
        struct ubc_msg *msg = msgs[i];
        struct ubc_reply reply = { .error = UBC_ERR_MALFORMED, .detail = UBC_LEDGER_ERR_MALFORMED };
        if (op_index[i] != UBC_LEDGER_MSG_NO_OP) {
            const struct ubc_ledger_op *op = &ops[op_index[i]];
            uint16_t result = results[op_index[i]];
            reply.id = is_escrow_kind(op->kind) ? op->args.u.escrow.job_id : op->nonce;
            reply.error = (uint16_t)ubc_ledger_result_to_err(result);
            reply.state = op->kind;
            reply.detail = result;
        }
        msg->hdr.type = UBC_MSG_LEDGER_RESULT;
        msg->hdr.len = sizeof(reply);
        msg->hdr.src_role = UBC_ROLE_LEDGER;
        memset(msg->u.bytes, 0, sizeof(reply));
        msg->u.reply = reply;
    }
}
