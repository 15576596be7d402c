/* ubc_role_ledger.c: the ledger role (see ubc_role_ledger.h). */
#include "node/ubc_role_ledger.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_malloc.h>

#include "common/ubc_assert.h"
#include "ledger/ubc_ledger_msg.h"
#include "node/ubc_log.h"
#include "node/ubc_role_disk.h"
#include "node/ubc_role_verify.h"
#include "node/ubc_roles.h"

/* ---- outboxes: answers released by a durable batch, waiting for ring room ---- */

static void
outbox_push(struct ubc_ledger_outbox *box, struct ubc_msg *msg)
{
    UBC_ASSERT(box->tail - box->head <= box->mask); /* sized for every held message */
    box->msgs[box->tail++ & box->mask] = msg;
}

static uint32_t
outbox_count(const struct ubc_ledger_outbox *box)
{
    return box->tail - box->head;
}

/* Sends in order to a fixed link, or (link NULL) to each message's net instance. */
static uint32_t
outbox_flush(struct ubc_role_ledger *role, struct ubc_ledger_outbox *box, struct ubc_link *link)
{
    uint32_t moved = 0;
    while (box->head != box->tail) {
        struct ubc_msg *msg = box->msgs[box->head & box->mask];
        struct ubc_link *to = link;
        if (to == NULL)
            to = ubc_node_link_to_net(role->state->node, UBC_ROLE_LEDGER, msg->hdr.peer);
        if (to == NULL) { /* no instance owns the peer any more */
            role->stats.answers_dropped++;
            rte_mempool_put(role->state->node->msg_pool, msg);
        } else if (ubc_link_send_burst(to, &msg, 1) != 1) {
            break;
        }
        box->head++;
        moved++;
    }
    return moved;
}

static uint32_t
ledger_flush_outboxes(struct ubc_role_ledger *role)
{
    struct ubc_node *node = role->state->node;
    return outbox_flush(role, &role->to_sched, &node->links[UBC_LINK_LEDGER_TO_SCHED]) +
           outbox_flush(role, &role->to_net, NULL) +
           outbox_flush(role, &role->to_disk, &node->links[UBC_LINK_TO_DISK]);
}

/* Messages the role holds: with batches in the journal, or in outboxes. */
static uint32_t
ledger_held_total(const struct ubc_role_ledger *role)
{
    return (role->held_tail - role->held_head) + outbox_count(&role->to_sched) +
           outbox_count(&role->to_net) + outbox_count(&role->to_disk);
}

/* ---- answers: each input message becomes what its producer hears ---- */

static void
ledger_reply_in_place(struct ubc_msg *msg, struct ubc_reply reply)
{
    msg->hdr.type = UBC_MSG_LEDGER_RESULT;
    msg->hdr.flags = 0;
    msg->hdr.len = sizeof(reply);
    msg->hdr.src_role = UBC_ROLE_LEDGER;
    memset(msg->u.bytes, 0, sizeof(reply));
    msg->u.reply = reply;
}

/* A scheduler's settlement: a lock's outcome goes back (the ACK waits for
 * it), a closed escrow becomes its job's JOB_DONE record, the rest is done. */
static enum ubc_ledger_dest
ledger_answer_settlement(struct ubc_msg *msg, const struct ubc_ledger_op *op, uint16_t result)
{
    if (op == NULL)
        return UBC_LEDGER_DEST_FREE;
    uint64_t job_id = op->args.u.escrow.job_id;
    if (op->kind == UBC_LEDGER_OP_ESCROW_LOCK) {
        /* An owner without an account has no funds: that is what the client hears. */
        enum ubc_err error =
            result == UBC_LEDGER_ERR_NO_ACCOUNT ? UBC_ERR_FUNDS : ubc_ledger_result_to_err(result);
        ledger_reply_in_place(
            msg, (struct ubc_reply){
                     .id = job_id, .error = (uint16_t)error, .state = op->kind, .detail = result });
        return UBC_LEDGER_DEST_SCHED;
    }
    if (op->kind != UBC_LEDGER_OP_ESCROW_REFUND)
        return UBC_LEDGER_DEST_FREE;
    memset(msg, 0, sizeof(msg->hdr) + sizeof(struct ubc_record_job_done));
    msg->hdr.type = UBC_MSG_JOURNAL_APPEND;
    msg->hdr.flags = UBC_RECORD_JOB_DONE;
    msg->hdr.len = sizeof(struct ubc_record_job_done);
    msg->hdr.src_role = UBC_ROLE_LEDGER;
    msg->hdr.peer = UBC_PEER_NONE;
    ((struct ubc_record_job_done *)(void *)msg->u.bytes)->job_id = job_id;
    return UBC_LEDGER_DEST_DISK;
}

/* A client's op: the main op of a group is answered (docs/wire-protocol.md,
 * LEDGER_RESULT); its cosign records are not. */
static enum ubc_ledger_dest
ledger_answer_client(struct ubc_role_ledger *role, struct ubc_msg *msg,
                     const struct ubc_ledger_op *op, uint16_t result)
{
    if (msg->hdr.peer == UBC_PEER_NONE || (op != NULL && op->kind == UBC_LEDGER_OP_COSIGN))
        return UBC_LEDGER_DEST_FREE;
    if (op == NULL)
        result = UBC_LEDGER_ERR_MALFORMED;
    ledger_reply_in_place(msg, (struct ubc_reply){
                                   .id = op != NULL ? op->nonce : 0,
                                   .error = (uint16_t)ubc_ledger_result_to_err(result),
                                   .state = result,
                                   .detail = (uint32_t)role->height,
                               });
    return UBC_LEDGER_DEST_NET;
}

static void
ledger_hold(struct ubc_role_ledger *role, struct ubc_msg *msg, enum ubc_ledger_dest dest)
{
    UBC_ASSERT(role->held_tail - role->held_head <= role->held_mask);
    role->held[role->held_tail & role->held_mask] = msg;
    role->held_dest[role->held_tail & role->held_mask] = (uint8_t)dest;
    role->held_tail++;
}

/* What a message becomes; op is NULL when it was not an op (answered malformed). */
static enum ubc_ledger_dest
ledger_answer(struct ubc_role_ledger *role, struct ubc_msg *msg, const struct ubc_ledger_op *op,
              uint16_t result)
{
    role->state->handled_by_type[msg->hdr.type & UBC_MSG_TYPE_MAX]++;
    if (msg->hdr.src_role == UBC_ROLE_SCHED)
        return ledger_answer_settlement(msg, op, result);
    if (msg->hdr.src_role == UBC_ROLE_NET || msg->hdr.src_role == UBC_ROLE_VERIFY)
        return ledger_answer_client(role, msg, op, result);
    return UBC_LEDGER_DEST_FREE;
}

/* ---- durability: a batch's answers leave when the journal has it ---- */

/* The journal lost the batch (or the ledger is read-only): answers say so. */
static uint8_t
ledger_answer_failed(struct ubc_msg *msg, uint8_t dest)
{
    if (dest == UBC_LEDGER_DEST_SCHED || dest == UBC_LEDGER_DEST_NET) {
        msg->u.reply.error = UBC_ERR_READ_ONLY;
        return dest;
    }
    return UBC_LEDGER_DEST_FREE; /* a JOB_DONE: its escrow's close is not durable either */
}

static void
ledger_route(struct ubc_role_ledger *role, struct ubc_msg *msg, uint8_t dest)
{
    switch (dest) {
    case UBC_LEDGER_DEST_SCHED:
        outbox_push(&role->to_sched, msg), role->stats.answers_sched++;
        break;
    case UBC_LEDGER_DEST_NET: outbox_push(&role->to_net, msg), role->stats.answers_net++; break;
    case UBC_LEDGER_DEST_DISK: outbox_push(&role->to_disk, msg), role->stats.done_records++; break;
    default: rte_mempool_put(role->state->node->msg_pool, msg); break;
    }
}

static void
ledger_release(struct ubc_role_ledger *role, const struct ubc_ledger_slot *slot, bool failed)
{
    UBC_ASSERT(slot->held_first == role->held_head);
    for (uint32_t i = 0; i < slot->held_count; i++) {
        uint32_t at = role->held_head++ & role->held_mask;
        uint8_t dest = role->held_dest[at];
        if (failed)
            dest = ledger_answer_failed(role->held[at], dest);
        ledger_route(role, role->held[at], dest);
    }
}

/* The operator's ops lead the batch: their results lead the record's. */
static void
ledger_control_answer(struct ubc_role_ledger *role, const struct ubc_ledger_slot *slot, bool failed)
{
    struct ubc_control_request *req = &role->state->control;
    req->reply_len = 0;
    req->result = -EIO;
    if (!failed) {
        struct ubc_ledger_audit audit;
        const struct ubc_ledger_op *ops;
        const uint16_t *results;
        int rc =
            ubc_ledger_batch_record_parse(slot->record, slot->record_bytes, &audit, &ops, &results);
        UBC_ASSERT(rc == 0 && audit.op_count >= slot->control_count);
        memcpy(req->reply, results, slot->control_count * sizeof(results[0]));
        req->reply_len = slot->control_count * (uint32_t)sizeof(results[0]);
        req->result = 0;
    }
    role->control_active = 0;
    ubc_node_control_complete(role->state);
}

/* The disk role returned an append: a batch (oldest first) or a JOB_DONE. */
static void
ledger_on_durable(struct ubc_role_ledger *role, struct ubc_msg *msg)
{
    uint16_t record = msg->hdr.flags & UBC_DISK_RECORD_MASK;
    bool failed = (msg->hdr.flags & UBC_DISK_FAILED) != 0;
    if (record == UBC_RECORD_LEDGER_BATCH) {
        UBC_ASSERT(role->slot_head != role->slot_tail);
        struct ubc_ledger_slot *slot = &role->slots[role->slot_head % UBC_LEDGER_SLOTS];
        struct ubc_record_external external;
        memcpy(&external, msg->u.bytes, sizeof(external));
        UBC_ASSERT(slot->busy && external.data == slot->record); /* the journal keeps order */
        if (failed && !role->read_only) {
            role->read_only = 1;
            UBC_LOG(ERR, UBC_LOG_LEDGER,
                    "the journal lost the batch at height %lu: the ledger is read-only",
                    (unsigned long)slot->height);
        }
        role->stats.batches_durable += !failed;
        role->stats.batches_failed += failed;
        ledger_release(role, slot, failed);
        if (slot->control_count > 0)
            ledger_control_answer(role, slot, failed);
        slot->busy = 0;
        role->slot_head++;
    } else if (record == UBC_RECORD_LEDGER_CHECKPOINT) {
        UBC_ASSERT(role->checkpoint_busy);
        role->checkpoint_busy = 0;
        if (failed) {
            role->stats.checkpoint_failures++;
        } else {
            const struct ubc_ledger_checkpoint_header *header = (const void *)role->checkpoint;
            role->stats.checkpoints++;
            role->stats.checkpoint_height = header->height;
        }
    }
    rte_mempool_put(role->state->node->msg_pool, msg);
}

static uint32_t
ledger_take_durable(struct ubc_role_ledger *role)
{
    struct ubc_msg *msgs[UBC_LEDGER_SLOTS * 4];
    uint32_t n = ubc_link_recv_burst(&role->state->node->links[UBC_LINK_DISK_TO_LEDGER], msgs,
                                     UBC_ARRAY_SIZE(msgs));
    for (uint32_t i = 0; i < n; i++)
        ledger_on_durable(role, msgs[i]);
    return n;
}

/* ---- batches ---- */

/* Gathers up to `room` input messages: settlements, then clients' groups
 * (never split: a group's first part waits in carry), then consensus. */
static uint32_t
ledger_gather(struct ubc_role_ledger *role, uint32_t room)
{
    struct ubc_node *node = role->state->node;
    uint32_t n = ubc_link_recv_burst(&node->links[UBC_LINK_SCHED_TO_LEDGER], role->msgs, room);
    uint32_t first_client = n;
    if (role->carry_count > 0 && n + role->carry_count <= room) {
        memcpy(role->msgs + n, role->carry, role->carry_count * sizeof(role->carry[0]));
        n += role->carry_count;
        role->carry_count = 0;
    }
    if (role->carry_count == 0 && n < room)
        n += ubc_link_recv_burst(&node->links[UBC_LINK_VERIFY_TO_LEDGER], role->msgs + n, room - n);
    uint32_t groups;
    uint32_t whole = first_client + ubc_role_verify_complete_prefix(role->msgs + first_client,
                                                                    n - first_client, &groups);
    if (whole < n) {
        UBC_ASSERT(n - whole <= UBC_LEDGER_CARRY_MAX); /* an incomplete group, at the end */
        role->carry_count = n - whole;
        memcpy(role->carry, role->msgs + whole, role->carry_count * sizeof(role->carry[0]));
        n = whole;
    }
    if (n < room)
        n += ubc_link_recv_burst(&node->links[UBC_LINK_CONSENSUS_TO_LEDGER], role->msgs + n,
                                 room - n);
    return n;
}

static void
ledger_count(struct ubc_role_ledger *role, uint32_t count)
{
    role->stats.batches++;
    role->stats.ops += count;
    role->stats.height = role->height;
    for (uint32_t i = 0; i < count; i++) {
        UBC_ASSERT(role->op_results[i] < UBC_LEDGER_RESULT_COUNT);
        role->stats.results[role->op_results[i]]++;
        role->stats.by_kind[role->ops[i].kind & 31]++;
    }
}

/* An append whose record stays in the ledger's buffer until it comes back durable. */
static void
ledger_send_external(struct ubc_role_ledger *role, struct ubc_msg *msg, uint16_t record,
                     const void *data, uint64_t bytes)
{
    struct ubc_record_external external = { data, bytes };
    memset(msg, 0, sizeof(msg->hdr) + sizeof(external));
    msg->hdr.type = UBC_MSG_JOURNAL_APPEND;
    msg->hdr.flags = record;
    msg->hdr.len = sizeof(external);
    msg->hdr.src_role = UBC_ROLE_LEDGER;
    msg->hdr.peer = UBC_PEER_NONE;
    memcpy(msg->u.bytes, &external, sizeof(external));
    outbox_push(&role->to_disk, msg);
}

static void
ledger_send_record(struct ubc_role_ledger *role, struct ubc_ledger_slot *slot,
                   struct ubc_msg *append)
{
    ledger_send_external(role, append, UBC_RECORD_LEDGER_BATCH, slot->record, slot->record_bytes);
    role->slot_tail++;
}

/* Between two batches, the ledger's memory is a consistent image of the
 * state at role->height: copy it (a few ms for tens of MiB, every
 * ledger.checkpoint_batches batches) and hand it to the disk role, which
 * writes it after the batch record just sent. */
static void
ledger_maybe_checkpoint(struct ubc_role_ledger *role)
{
    role->batches_since_checkpoint++;
    if (role->checkpoint_every == 0 || role->checkpoint_busy ||
        role->batches_since_checkpoint < role->checkpoint_every)
        return;
    struct ubc_msg *request;
    if (rte_mempool_get(role->state->node->msg_pool, (void **)&request) != 0)
        return; /* the next batch tries again */
    struct ubc_ledger_checkpoint_header header = { .magic = UBC_LEDGER_CHECKPOINT_MAGIC,
                                                   .version = 1,
                                                   .genesis_bytes = role->genesis_bytes,
                                                   .image_bytes = role->ledger_bytes,
                                                   .height = role->height };
    memcpy(role->checkpoint, &header, sizeof(header)); /* the genesis follows, written at start */
    memcpy(role->checkpoint + sizeof(header) + role->genesis_bytes, role->ledger_memory,
           role->ledger_bytes);
    ledger_send_external(role, request, UBC_RECORD_LEDGER_CHECKPOINT, role->checkpoint,
                         role->checkpoint_bytes);
    role->checkpoint_busy = 1;
    role->batches_since_checkpoint = 0;
}

/* Applies one batch and hands its record to the journal. Returns the inputs taken. */
static uint32_t
ledger_batch(struct ubc_role_ledger *role, struct ubc_msg *append)
{
    struct ubc_ledger_slot *slot = &role->slots[role->slot_tail % UBC_LEDGER_SLOTS];
    uint32_t control = role->control_count;
    memcpy(role->ops, role->control_ops, control * sizeof(role->ops[0]));
    uint32_t n = ledger_gather(role, role->batch_ops - control);
    if (control == 0 && n == 0) {
        rte_mempool_put(role->state->node->msg_pool, append);
        return 0;
    }
    uint32_t count = control + ubc_ledger_msgs_to_ops(role->msgs, n, role->ops + control,
                                                      role->batch_ops - control, role->op_index);
    struct ubc_ledger_audit audit;
    int rc = ubc_ledger_apply_batch(role->ledger, role->ops, count, role->height + 1,
                                    role->op_results, &audit);
    UBC_ASSERT(rc == 0); /* count <= batch_ops and heights only grow */
    role->height++;
    ledger_count(role, count);
    int64_t bytes =
        ubc_ledger_batch_record_write(slot->record, ubc_ledger_batch_record_bytes(role->batch_ops),
                                      &audit, role->ops, role->op_results);
    UBC_ASSERT(bytes > 0);
    *slot = (struct ubc_ledger_slot){ .record = slot->record,
                                      .record_bytes = (uint64_t)bytes,
                                      .height = role->height,
                                      .held_first = role->held_tail,
                                      .control_count = control,
                                      .busy = 1 };
    for (uint32_t i = 0; i < n; i++) {
        uint32_t op = role->op_index[i];
        const struct ubc_ledger_op *applied =
            op == UBC_LEDGER_MSG_NO_OP ? NULL : &role->ops[control + op];
        uint16_t result = applied == NULL ? 0 : role->op_results[control + op];
        ledger_hold(role, role->msgs[i], ledger_answer(role, role->msgs[i], applied, result));
    }
    slot->held_count = role->held_tail - slot->held_first;
    role->control_active = control;
    role->control_count = 0;
    ledger_send_record(role, slot, append);
    ledger_maybe_checkpoint(role);
    return n + control;
}

/* Read-only: nothing is applied; every input hears READ_ONLY at once. */
static uint32_t
ledger_refuse_all(struct ubc_role_ledger *role)
{
    uint32_t n = ledger_gather(role, role->batch_ops);
    ubc_ledger_msgs_to_ops(role->msgs, n, role->ops, role->batch_ops, role->op_index);
    for (uint32_t i = 0; i < n; i++) {
        /* The op tells an escrow lock (the scheduler waits for its answer) from the rest. */
        uint32_t op = role->op_index[i];
        const struct ubc_ledger_op *refused = op == UBC_LEDGER_MSG_NO_OP ? NULL : &role->ops[op];
        uint8_t dest =
            (uint8_t)ledger_answer(role, role->msgs[i], refused, UBC_LEDGER_ERR_MALFORMED);
        ledger_route(role, role->msgs[i], ledger_answer_failed(role->msgs[i], dest));
    }
    if (role->control_count > 0) {
        struct ubc_ledger_slot none = { .control_count = role->control_count };
        role->control_count = 0;
        ledger_control_answer(role, &none, true);
    }
    role->stats.refused_read_only += n;
    return n;
}

uint32_t
ubc_role_ledger_poll(void *ctx, uint64_t now_tsc)
{
    (void)now_tsc;
    struct ubc_role_ledger *role = ctx;
    uint32_t work = ledger_take_durable(role);
    work += ledger_flush_outboxes(role);
    if (role->read_only)
        return work + ledger_refuse_all(role) + ledger_flush_outboxes(role);
    if (role->slot_tail - role->slot_head == UBC_LEDGER_SLOTS) {
        role->stats.slots_full++;
        return work;
    }
    /* Room for a whole batch among the held messages, or wait for the rings to drain. */
    if (ledger_held_total(role) + role->batch_ops + UBC_LEDGER_CARRY_MAX + 2 > role->held_mask)
        return work;
    struct ubc_msg *append;
    if (rte_mempool_get(role->state->node->msg_pool, (void **)&append) != 0)
        return work;
    work += ledger_batch(role, append);
    return work + ledger_flush_outboxes(role);
}

void
ubc_role_ledger_housekeep(void *ctx, uint64_t now_tsc)
{
    (void)now_tsc;
    struct ubc_role_ledger *role = ctx;
    ubc_node_control_serve(role->state);
}

static const enum ubc_link_id ledger_inputs[] = { UBC_LINK_SCHED_TO_LEDGER,
                                                  UBC_LINK_VERIFY_TO_LEDGER,
                                                  UBC_LINK_CONSENSUS_TO_LEDGER,
                                                  UBC_LINK_DISK_TO_LEDGER };

bool
ubc_role_ledger_drained(void *ctx)
{
    struct ubc_role_ledger *role = ctx;
    if (ledger_held_total(role) != 0 || role->slot_head != role->slot_tail ||
        role->carry_count != 0 || role->control_count != 0 || role->checkpoint_busy)
        return false;
    for (uint32_t i = 0; i < UBC_ARRAY_SIZE(ledger_inputs); i++) {
        if (ubc_link_count(&role->state->node->links[ledger_inputs[i]]) != 0)
            return false;
    }
    return true;
}

/* ---- control mailbox ---- */

static int
ledger_parse_key(const char *hex, uint8_t key[UBC_LEDGER_KEY_BYTES])
{
    if (strlen(hex) != 2 * UBC_LEDGER_KEY_BYTES)
        return -1;
    for (uint32_t i = 0; i < UBC_LEDGER_KEY_BYTES; i++) {
        unsigned value;
        if (sscanf(hex + 2 * i, "%2x", &value) != 1)
            return -1;
        key[i] = (uint8_t)value;
    }
    return 0;
}

/* Operations an operator submitted (through the verify stage on the control
 * thread) lead the next batch; the answer waits until it is durable. */
static void
ledger_control_submit(struct ubc_role_ledger *role, struct ubc_control_request *req)
{
    uint32_t n = req->reply_len / (uint32_t)sizeof(struct ubc_ledger_op);
    if (n == 0 || n > UBC_LEDGER_SUBMIT_OPS_MAX || n > role->batch_ops ||
        req->reply_len != n * (uint32_t)sizeof(struct ubc_ledger_op)) {
        req->result = -EINVAL;
        return;
    }
    UBC_ASSERT(role->control_count == 0 && role->control_active == 0); /* one request at a time */
    memcpy(role->control_ops, req->reply, req->reply_len);
    role->control_count = n;
    req->result = UBC_CONTROL_DEFERRED;
}

static void
ledger_control(void *ctx, struct ubc_control_request *req)
{
    struct ubc_role_ledger *role = ctx;
    uint8_t key[UBC_LEDGER_KEY_BYTES];
    switch (req->command) {
    case UBC_LEDGER_COMMAND_ACCOUNT:
        if (ledger_parse_key(req->text, key) != 0) {
            req->result = -EINVAL;
            break;
        }
        req->result = ubc_ledger_account_get(role->ledger, key, (void *)req->reply);
        req->reply_len = sizeof(struct ubc_ledger_account_info);
        break;
    case UBC_LEDGER_COMMAND_SUPPLY:
        ubc_ledger_supply_get(role->ledger, (void *)req->reply);
        req->reply_len = sizeof(struct ubc_ledger_supply);
        req->result = 0;
        break;
    case UBC_LEDGER_COMMAND_SUBMIT: ledger_control_submit(role, req); break;
    case UBC_LEDGER_COMMAND_PROPOSALS:
        req->reply_len = (uint32_t)sizeof(struct ubc_ledger_proposal_info) *
                         ubc_ledger_proposals_get(role->ledger, (void *)req->reply,
                                                  UBC_CONTROL_REPLY_MAX /
                                                      sizeof(struct ubc_ledger_proposal_info));
        req->result = 0;
        break;
    case UBC_LEDGER_COMMAND_STATS:
        memcpy(req->reply, &role->stats, sizeof(role->stats));
        req->reply_len = sizeof(role->stats);
        req->result = 0;
        break;
    default: req->result = -EOPNOTSUPP; break;
    }
}

/* ---- start-up ---- */

static int
ledger_config(const struct ubc_config *node_config, struct ubc_ledger_config *config,
              struct ubc_ledger_genesis_entry *genesis, uint8_t (*guardian_keys)[32], char *error,
              size_t error_cap)
{
    memset(config, 0, sizeof(*config));
    config->accounts_max = node_config->ledger_accounts_max;
    config->escrows_max = node_config->sched_max_jobs;
    config->unbonding_max = node_config->ledger_accounts_max;
    config->proposals_max = 64;
    config->multisig_accounts_max = 64;
    config->multisig_keys_max = UBC_LEDGER_MULTISIG_KEYS_LIMIT;
    config->chain_id = node_config->ledger_chain_id;
    config->params[UBC_LEDGER_PARAM_BURN_RATE_BPS] = node_config->ledger_burn_rate_bps;
    config->params[UBC_LEDGER_PARAM_QUORUM_BPS] = 3334;
    config->params[UBC_LEDGER_PARAM_THRESHOLD_BPS] = 5001;
    config->params[UBC_LEDGER_PARAM_VOTING_HEIGHTS] = 1000;
    config->params[UBC_LEDGER_PARAM_TIMELOCK_HEIGHTS] = 1000;
    config->params[UBC_LEDGER_PARAM_UNBONDING_HEIGHTS] = 1000;
    memset(config->treasury, 0xee, sizeof(config->treasury));
    memset(config->guardian, 0xdd, sizeof(config->guardian));
    if (ledger_parse_key(node_config->ledger_guardian_key, guardian_keys[0]) != 0) {
        snprintf(error, error_cap, "config: ledger.guardian_key: expected 64 hex digits");
        return -EINVAL;
    }
    if (node_config->ledger_authority_key[0] != '\0' &&
        ledger_parse_key(node_config->ledger_authority_key, config->authority) != 0) {
        snprintf(error, error_cap, "config: ledger.authority_key: expected 64 hex digits");
        return -EINVAL;
    }
    config->guardian_keys = (const uint8_t(*)[32])guardian_keys;
    config->guardian_key_count = 1;
    config->guardian_threshold = 1;
    if (node_config->ledger_genesis_account[0] != '\0') {
        if (ledger_parse_key(node_config->ledger_genesis_account, genesis->key) != 0) {
            snprintf(error, error_cap, "config: ledger.genesis_account: expected 64 hex digits");
            return -EINVAL;
        }
        genesis->balance = node_config->ledger_genesis_balance;
        config->genesis = genesis;
        config->genesis_count = 1;
    }
    return 0;
}

static int
ledger_outbox_init(struct ubc_ledger_outbox *box, uint32_t slots)
{
    box->msgs = rte_zmalloc("ledger_outbox", slots * sizeof(box->msgs[0]), 64);
    box->mask = slots - 1;
    return box->msgs != NULL ? 0 : -ENOMEM;
}

/* Every table the role needs, sized from ledger.batch_ops; nothing after start. */
static int
ledger_alloc(struct ubc_role_ledger *role, uint32_t batch_ops, char *error, size_t error_cap)
{
    role->batch_ops = batch_ops;
    uint32_t held = 1;
    while (held < UBC_LEDGER_SLOTS * (batch_ops + UBC_LEDGER_CARRY_MAX + 1) + 1)
        held <<= 1;
    role->held_mask = held - 1;
    role->held = rte_zmalloc("ledger_held", held * sizeof(role->held[0]), 64);
    role->held_dest = rte_zmalloc("ledger_dest", held, 64);
    role->msgs = rte_zmalloc("ledger_msgs", (batch_ops + 1) * sizeof(role->msgs[0]), 64);
    role->ops = rte_zmalloc("ledger_ops", (batch_ops + 1) * sizeof(role->ops[0]), 64);
    role->op_index = rte_zmalloc("ledger_index", (batch_ops + 1) * sizeof(uint32_t), 64);
    role->op_results = rte_zmalloc("ledger_results", (batch_ops + 1) * sizeof(uint16_t), 64);
    int rc = ledger_outbox_init(&role->to_sched, held) | ledger_outbox_init(&role->to_net, held) |
             ledger_outbox_init(&role->to_disk, held);
    bool ok = rc == 0 && role->held && role->held_dest && role->msgs && role->ops &&
              role->op_index && role->op_results;
    for (uint32_t i = 0; i < UBC_LEDGER_SLOTS && ok; i++) {
        role->slots[i].record =
            rte_zmalloc("ledger_record", ubc_ledger_batch_record_bytes(batch_ops), 64);
        ok = role->slots[i].record != NULL;
    }
    if (!ok)
        snprintf(error, error_cap, "ledger: cannot allocate the batch tables for %u ops",
                 batch_ops);
    return ok ? 0 : -ENOMEM;
}

static int
ledger_make(struct ubc_role_ledger *role, const struct ubc_ledger_config *config, char *error,
            size_t error_cap)
{
    size_t footprint = ubc_ledger_footprint(config);
    if (footprint == 0) {
        snprintf(error, error_cap, "config: ledger.*: the ledger refuses these sizes");
        return -EINVAL;
    }
    void *memory = rte_zmalloc("ledger", footprint, ubc_ledger_align());
    if (memory == NULL) {
        snprintf(error, error_cap, "ledger: cannot allocate %zu bytes", footprint);
        return -ENOMEM;
    }
    role->ledger = ubc_ledger_join(ubc_ledger_new(memory, config));
    role->ledger_memory = memory;
    role->ledger_bytes = footprint;
    if (role->ledger == NULL) {
        rte_free(memory);
        snprintf(error, error_cap, "config: ledger.*: the ledger refuses this configuration");
        return -EINVAL;
    }
    role->genesis_bytes = (uint32_t)ubc_ledger_genesis_record_bytes(config);
    role->genesis = rte_zmalloc("ledger_genesis", role->genesis_bytes, 64);
    if (role->genesis == NULL ||
        ubc_ledger_genesis_record_write(role->genesis, role->genesis_bytes, config) !=
            (int64_t)role->genesis_bytes) {
        snprintf(error, error_cap, "ledger: cannot build the genesis record");
        return -ENOMEM;
    }
    role->checkpoint_bytes =
        sizeof(struct ubc_ledger_checkpoint_header) + role->genesis_bytes + footprint;
    role->checkpoint = rte_zmalloc("ledger_checkpoint", role->checkpoint_bytes, 64);
    if (role->checkpoint == NULL) {
        snprintf(error, error_cap, "ledger: cannot allocate the checkpoint buffer (%lu bytes)",
                 (unsigned long)role->checkpoint_bytes);
        return -ENOMEM;
    }
    memcpy(role->checkpoint + sizeof(struct ubc_ledger_checkpoint_header), role->genesis,
           role->genesis_bytes);
    return 0;
}

int
ubc_role_ledger_init(struct ubc_node *node, struct ubc_role_ledger *role, char *error,
                     size_t error_cap)
{
    memset(role, 0, sizeof(*role));
    role->state = &node->roles[UBC_ROLE_LEDGER];
    struct ubc_ledger_config config;
    struct ubc_ledger_genesis_entry genesis;
    uint8_t guardian_keys[1][32];
    int rc = ledger_config(&node->config, &config, &genesis, guardian_keys, error, error_cap);
    if (rc == 0)
        rc = ledger_make(role, &config, error, error_cap);
    if (rc == 0)
        rc = ledger_alloc(role, node->config.ledger_batch_ops, error, error_cap);
    if (rc != 0)
        return rc;
    role->height = ubc_ledger_height(role->ledger);
    role->checkpoint_every = node->config.ledger_checkpoint_batches;
    role->state->control_fn = ledger_control;
    role->state->control_ctx = role;
    return 0;
}

void
ubc_role_ledger_fini(struct ubc_role_ledger *role)
{
    if (role->ledger != NULL)
        rte_free(ubc_ledger_delete(ubc_ledger_leave(role->ledger)));
    for (uint32_t i = 0; i < UBC_LEDGER_SLOTS; i++)
        rte_free(role->slots[i].record);
    rte_free(role->held);
    rte_free(role->held_dest);
    rte_free(role->msgs);
    rte_free(role->ops);
    rte_free(role->op_index);
    rte_free(role->op_results);
    rte_free(role->to_sched.msgs);
    rte_free(role->to_net.msgs);
    rte_free(role->to_disk.msgs);
    rte_free(role->genesis);
    rte_free(role->checkpoint);
    memset(role, 0, sizeof(*role));
}
