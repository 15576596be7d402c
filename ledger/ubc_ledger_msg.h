/* ubc_ledger_msg.h: the ledger role's message glue: ring messages in, ops out, replies back.
 *
 * Contract (proposed wiring, docs/ledger.md): a UBC_MSG_LEDGER_OP message carries either a
 * struct ubc_settlement (hdr.src_role == UBC_ROLE_SCHED, the scheduler's escrow effects) or
 * exactly one struct ubc_ledger_op record (from any other role: clients through net, consensus
 * commits). A multisig op arrives as consecutive messages: the op, then its COSIGN records.
 *   ubc_ledger_verify_msgs  the verify stage: checks the op records of a burst in place and
 *                           overwrites their verify marks. Reads no ledger state; any thread
 *                           (a verify lcore), never the settlements.
 *   ubc_ledger_msgs_to_ops  the ledger thread: copies a burst into an op array for
 *                           ubc_ledger_apply_batch; settlements become node-authority ops; an
 *                           op record claiming VERIFY_INTERNAL is demoted to unverified, since
 *                           only in-process settlements are internal.
 *   ubc_ledger_msgs_reply   the ledger thread, after apply (and after the journal made the batch
 *                           durable): rewrites each message in place into a
 *                           UBC_MSG_LEDGER_RESULT carrying a struct ubc_reply, keeping peer,
 *                           peer_gen, seq and tsc so the producer can route it back.
 * The messages stay owned by the caller (mempool); nothing here allocates or blocks. The wire
 * decoder must zero the verify byte of ops it receives (defence in depth with the demotion).
 */
#ifndef UBC_LEDGER_MSG_H
#define UBC_LEDGER_MSG_H

#include "common/ubc_msg.h"
#include "ledger/ubc_ledger.h"

#define UBC_LEDGER_MSG_NO_OP UINT32_MAX

uint32_t ubc_ledger_verify_msgs(uint64_t chain_id, struct ubc_msg *const *msgs, uint32_t n);

/* Writes ops for msgs[0..n) into ops (at most ops_max) and, per message, its op index or
 * UBC_LEDGER_MSG_NO_OP (wrong type or length: it is answered MALFORMED). Returns the op count. */
uint32_t ubc_ledger_msgs_to_ops(struct ubc_msg *const *msgs, uint32_t n, struct ubc_ledger_op *ops,
                                uint32_t ops_max, uint32_t *op_index);

/* reply.id = job id for escrow ops, nonce otherwise; reply.error = ubc_ledger_result_to_err;
 * reply.state = op kind; reply.detail = the ledger result code. */
void ubc_ledger_msgs_reply(struct ubc_msg *const *msgs, uint32_t n, const uint32_t *op_index,
                           const struct ubc_ledger_op *ops, const uint16_t *results);

#endif /* UBC_LEDGER_MSG_H */
