/* ubc_msg.c: names of message types and error codes, for logs and tools. */
#include "common/ubc_msg.h"

static const char *const err_names[UBC_ERR_COUNT] = {
    [UBC_OK] = "ok",
    [UBC_ERR_MALFORMED] = "malformed",
    [UBC_ERR_VERSION] = "version",
    [UBC_ERR_UNKNOWN_TYPE] = "unknown-type",
    [UBC_ERR_AUTH] = "auth",
    [UBC_ERR_OVERLOADED] = "overloaded",
    [UBC_ERR_QUEUE_FULL] = "queue-full",
    [UBC_ERR_QUOTA] = "quota",
    [UBC_ERR_FUNDS] = "funds",
    [UBC_ERR_INFEASIBLE] = "infeasible",
    [UBC_ERR_DUPLICATE] = "duplicate",
    [UBC_ERR_UNKNOWN_JOB] = "unknown-job",
    [UBC_ERR_UNKNOWN_PROVIDER] = "unknown-provider",
    [UBC_ERR_DEADLINE] = "deadline",
    [UBC_ERR_PAUSED] = "paused",
    [UBC_ERR_DRAINING] = "draining",
    [UBC_ERR_READ_ONLY] = "read-only",
    [UBC_ERR_CANCELLED] = "cancelled",
    [UBC_ERR_RETRIES] = "retries-exhausted",
    [UBC_ERR_INTERNAL] = "internal",
    [UBC_ERR_MISMATCH] = "result-mismatch",
};

const char *
ubc_err_name(enum ubc_err err)
{
    if ((unsigned)err >= UBC_ERR_COUNT || err_names[err] == NULL)
        return "unknown-error";
    return err_names[err];
}

const char *
ubc_msg_type_name(uint16_t type)
{
    switch (type) {
    case UBC_MSG_JOB_SUBMIT: return "job-submit";
    case UBC_MSG_JOB_CANCEL: return "job-cancel";
    case UBC_MSG_JOB_QUERY: return "job-query";
    case UBC_MSG_PROVIDER_REGISTER: return "provider-register";
    case UBC_MSG_PROVIDER_HEARTBEAT: return "provider-heartbeat";
    case UBC_MSG_PROVIDER_DEREGISTER: return "provider-deregister";
    case UBC_MSG_TASK_RESULT: return "task-result";
    case UBC_MSG_ACK: return "ack";
    case UBC_MSG_REFUSAL: return "refusal";
    case UBC_MSG_JOB_STATUS: return "job-status";
    case UBC_MSG_ASSIGNMENT: return "assignment";
    case UBC_MSG_LEDGER_OP: return "ledger-op";
    case UBC_MSG_LEDGER_RESULT: return "ledger-result";
    case UBC_MSG_JOURNAL_APPEND: return "journal-append";
    case UBC_MSG_JOURNAL_DURABLE: return "journal-durable";
    case UBC_MSG_CONTROL: return "control";
    default:
        if (type >= UBC_MSG_CONSENSUS_FIRST && type <= UBC_MSG_CONSENSUS_LAST)
            return "consensus";
        return "unknown";
    }
}

uint32_t
ubc_msg_payload_bytes(uint16_t type)
{
    switch (type) {
    case UBC_MSG_ACK:
    case UBC_MSG_REFUSAL:
    case UBC_MSG_JOB_STATUS:
    case UBC_MSG_LEDGER_RESULT: return sizeof(struct ubc_reply);
    case UBC_MSG_ASSIGNMENT: return sizeof(struct ubc_assignment);
    case UBC_MSG_JOB_SUBMIT: return sizeof(struct ubc_job_submit);
    case UBC_MSG_JOB_CANCEL:
    case UBC_MSG_JOB_QUERY: return sizeof(struct ubc_job_ref);
    case UBC_MSG_PROVIDER_REGISTER: return sizeof(struct ubc_provider_register);
    case UBC_MSG_PROVIDER_HEARTBEAT: return sizeof(struct ubc_provider_heartbeat);
    case UBC_MSG_TASK_RESULT: return sizeof(struct ubc_task_result);
    default: return UBC_MSG_PAYLOAD_SIZE;
    }
}
