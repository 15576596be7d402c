/* wire_samples.h: one valid, fully populated message of every wire type, for
 * the unit tests, the fuzz corpus generator and the decode benchmark.
 *
 * Contract: header-only, static functions; the caller owns msg. Every field
 * gets a distinct non-zero value (derived from salt) so a codec that swaps or
 * drops a field fails a round trip.
 */
#ifndef UBC_WIRE_SAMPLES_H
#define UBC_WIRE_SAMPLES_H

#include <string.h>

#include "common/ubc_msg.h"
#include "dataplane/wire/ubc_wire.h"

static const uint16_t ubc_wire_sample_types[] = {
    UBC_MSG_JOB_SUBMIT,
    UBC_MSG_JOB_CANCEL,
    UBC_MSG_JOB_QUERY,
    UBC_MSG_PROVIDER_REGISTER,
    UBC_MSG_PROVIDER_HEARTBEAT,
    UBC_MSG_PROVIDER_DEREGISTER,
    UBC_MSG_TASK_RESULT,
    UBC_MSG_ACK,
    UBC_MSG_REFUSAL,
    UBC_MSG_JOB_STATUS,
    UBC_MSG_ASSIGNMENT,
    UBC_MSG_LEDGER_OP,
    UBC_MSG_LEDGER_RESULT,
};

static inline void
ubc_wire_sample_bytes(uint8_t *out, size_t bytes, uint64_t salt)
{
    for (size_t i = 0; i < bytes; i++)
        out[i] = (uint8_t)(0xa0 + salt * 7 + i * 13);
}

static inline void
ubc_wire_sample_submit(struct ubc_job_submit *s, uint64_t salt)
{
    s->job_id = 0x1122334455667788ull + salt;
    ubc_wire_sample_bytes(s->owner, UBC_KEY_BYTES, salt);
    s->demand = (struct ubc_resources){
        .cpu_millis = 2000 + (uint32_t)salt, .mem_mib = 4096, .gpu_count = 1, .gpu_class = 3
    };
    s->task_count = 4;
    s->qos_class = 2;
    s->redundancy = 3;
    s->max_retries = 5;
    s->policy = UBC_POLICY_BINPACK;
    s->priority = 700;
    s->bid_per_task = 123456789ull;
    s->deadline_ns = 30000000000ull;
    s->labels = 0x00f0000000000f0full;
    s->work_ms = 2500;
}

static inline void
ubc_wire_sample_register(struct ubc_provider_register *p, uint64_t salt)
{
    p->provider_id = 0x0102030405060708ull + salt;
    p->operator_id = 0x0a0b0c0d0e0f1011ull;
    ubc_wire_sample_bytes(p->account, UBC_KEY_BYTES, salt + 1);
    p->capacity = (struct ubc_resources){
        .cpu_millis = 64000, .mem_mib = 262144, .gpu_count = 8, .gpu_class = 4
    };
    p->region = 17;
    p->labels = 0xffull;
    p->price_per_task = 1000 + salt;
    p->stake = 1000000000ull;
}

static inline void
ubc_wire_sample_result(struct ubc_task_result *r, uint64_t salt)
{
    r->job_id = 0x1122334455667788ull + salt;
    r->provider_id = 0x0102030405060708ull;
    r->task_index = 3;
    r->replica = 2;
    r->status = UBC_TASK_FAILED;
    r->run_ms = 2499;
    ubc_wire_sample_bytes(r->result_hash, UBC_HASH_BYTES, salt + 2);
}

static inline void
ubc_wire_sample_assignment(struct ubc_assignment *a, uint64_t salt)
{
    a->job_id = 0x1122334455667788ull + salt;
    a->provider_id = 0x0102030405060708ull;
    a->task_index = 1;
    a->replica = 1;
    a->qos_class = 7;
    a->price = 999;
    a->work_ms = 1500;
    a->deadline_ns = 1000000000ull;
}

/* A signed-looking TRANSFER (the codec checks no signature). */
static inline void
ubc_wire_sample_ledger_op(struct ubc_wire_ledger_op *op, uint64_t salt)
{
    memset(op, 0, sizeof(*op));
    op->kind = 2; /* TRANSFER */
    op->nonce = 0x0102030405060708ull + salt;
    ubc_wire_sample_bytes(op->account, sizeof(op->account), salt + 3);
    ubc_wire_sample_bytes(op->signer, sizeof(op->signer), salt + 4);
    ubc_wire_sample_bytes(op->signature, sizeof(op->signature), salt + 5);
    ubc_wire_sample_bytes(op->args, 32, salt + 6); /* target */
    uint64_t amount = 0x1122334455667788ull + salt;
    memcpy(op->args + 32, &amount, sizeof(amount));
}

/* A COSIGN record for a group's main op. */
static inline void
ubc_wire_sample_cosign(struct ubc_wire_ledger_op *op, uint64_t salt)
{
    memset(op, 0, sizeof(*op));
    op->kind = UBC_WIRE_LEDGER_KIND_COSIGN;
    ubc_wire_sample_bytes(op->signer, sizeof(op->signer), salt + 7);
    ubc_wire_sample_bytes(op->signature, sizeof(op->signature), salt + 8);
}

/* Fills msg with a valid message of type, as the decoder would produce it. */
static inline void
ubc_wire_sample(struct ubc_msg *msg, uint16_t type, uint64_t salt)
{
    memset(msg, 0, sizeof(*msg));
    msg->hdr.type = type;
    msg->hdr.seq = 0x0badc0ffee000000ull + salt;
    switch (type) {
    case UBC_MSG_JOB_SUBMIT: ubc_wire_sample_submit(&msg->u.job_submit, salt); break;
    case UBC_MSG_JOB_CANCEL:
    case UBC_MSG_JOB_QUERY:
        msg->u.job_ref.job_id = 42 + salt;
        ubc_wire_sample_bytes(msg->u.job_ref.owner, UBC_KEY_BYTES, salt);
        break;
    case UBC_MSG_PROVIDER_REGISTER:
        ubc_wire_sample_register(&msg->u.provider_register, salt);
        break;
    case UBC_MSG_PROVIDER_HEARTBEAT:
        msg->u.heartbeat.provider_id = 77 + salt;
        msg->u.heartbeat.running_tasks = 12;
        msg->u.heartbeat.flags = UBC_WIRE_HEARTBEAT_FLAG_DRAIN;
        break;
    case UBC_MSG_PROVIDER_DEREGISTER: msg->u.heartbeat.provider_id = 78 + salt; break;
    case UBC_MSG_TASK_RESULT: ubc_wire_sample_result(&msg->u.task_result, salt); break;
    case UBC_MSG_ASSIGNMENT: ubc_wire_sample_assignment(&msg->u.assignment, salt); break;
    case UBC_MSG_LEDGER_OP:
        ubc_wire_sample_ledger_op((struct ubc_wire_ledger_op *)msg->u.bytes, salt);
        msg->hdr.len = UBC_WIRE_LEDGER_OP_BYTES;
        break;
    case UBC_MSG_LEDGER_RESULT:
        ubc_wire_reply_init(msg, type, msg->hdr.seq, 42 + salt, UBC_OK, 9, 1234);
        break;
    case UBC_MSG_ACK: ubc_wire_reply_init(msg, type, msg->hdr.seq, 42 + salt, UBC_OK, 0, 0); break;
    case UBC_MSG_REFUSAL:
        ubc_wire_reply_init(msg, type, msg->hdr.seq, 42 + salt, UBC_ERR_OVERLOADED, 0, 9);
        break;
    default: ubc_wire_reply_init(msg, type, msg->hdr.seq, 42 + salt, UBC_OK, 3, 2); break;
    }
    msg->hdr.flags = 0;
    msg->hdr.src_role = UBC_ROLE_NET;
    msg->hdr.peer = UBC_PEER_NONE;
}

#endif /* UBC_WIRE_SAMPLES_H */
