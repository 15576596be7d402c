/* ubc_role_ledger.c: the ledger role (see ubc_role_ledger.h). */
#include "node/ubc_role_ledger.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_malloc.h>

#include "common/ubc_assert.h"
#include "ledger/ubc_ledger_msg.h"
#include "node/ubc_log.h"
#include "node/ubc_roles.h"

static const enum ubc_link_id ledger_inputs[] = { UBC_LINK_SCHED_TO_LEDGER,
                                                  UBC_LINK_CONSENSUS_TO_LEDGER,
                                                  UBC_LINK_DISK_TO_LEDGER };

/* The scheduler waits for the outcome of each escrow lock before it
 * acknowledges the job: those messages go back as LEDGER_RESULT; the others
 * are done. A full ring keeps the answers here until the next poll. */
static void
ledger_answer_locks(struct ubc_role_ledger *role, struct ubc_msg **msgs, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        struct ubc_msg *msg = msgs[i];
        uint32_t op = role->op_index[i];
        if (op == UBC_LEDGER_MSG_NO_OP || msg->hdr.src_role != UBC_ROLE_SCHED ||
            role->ops[op].kind != UBC_LEDGER_OP_ESCROW_LOCK) {
            role->state->handled_by_type[msg->hdr.type & UBC_MSG_TYPE_MAX]++;
            rte_mempool_put(role->state->node->msg_pool, msg);
            continue;
        }
        /* Input stops while answers wait, and a burst is smaller than the array. */
        UBC_ASSERT(role->answers_count < UBC_ARRAY_SIZE(role->answers));
        const struct ubc_ledger_op *lock = &role->ops[op];
        uint16_t result = role->op_results[op];
        /* An owner without an account has no funds: that is what the client hears. */
        enum ubc_err error =
            result == UBC_LEDGER_ERR_NO_ACCOUNT ? UBC_ERR_FUNDS : ubc_ledger_result_to_err(result);
        struct ubc_reply reply = { .id = lock->args.u.escrow.job_id,
                                   .error = (uint16_t)error,
                                   .state = lock->kind,
                                   .detail = result };
        role->state->handled_by_type[msg->hdr.type & UBC_MSG_TYPE_MAX]++;
        msg->hdr.type = UBC_MSG_LEDGER_RESULT;
        msg->hdr.len = sizeof(reply);
        msg->hdr.src_role = UBC_ROLE_LEDGER;
        memset(&msg->u, 0, sizeof(reply));
        msg->u.reply = reply;
        role->answers[role->answers_count++] = msg;
    }
}

static uint32_t
ledger_flush_answers(struct ubc_role_ledger *role)
{
    if (role->answers_count == 0)
        return 0;
    struct ubc_link *link = &role->state->node->links[UBC_LINK_LEDGER_TO_SCHED];
    uint32_t sent = ubc_link_send_burst(link, role->answers, role->answers_count);
    memmove(role->answers, role->answers + sent,
            (role->answers_count - sent) * sizeof(role->answers[0]));
    role->answers_count -= sent;
    return sent;
}

/* One burst from one input: every message becomes an op (or is answered
 * malformed), the ops are applied as one batch at the next height, and the
 * messages are released. Results are counted by code. */
static uint32_t
ledger_apply_link(struct ubc_role_ledger *role, struct ubc_link *link)
{
    struct ubc_msg *msgs[UBC_ROLE_LEDGER_BURST];
    uint32_t n = ubc_link_recv_burst(link, msgs, UBC_ROLE_LEDGER_BURST);
    if (n == 0)
        return 0;
    uint32_t count =
        ubc_ledger_msgs_to_ops(msgs, n, role->ops, UBC_ROLE_LEDGER_BURST, role->op_index);
    if (count > 0) {
        struct ubc_ledger_audit audit;
        int rc = ubc_ledger_apply_batch(role->ledger, role->ops, count, ++role->height,
                                        role->op_results, &audit);
        UBC_ASSERT(rc == 0); /* count <= 2 bursts, heights only grow */
        role->batches++;
        for (uint32_t i = 0; i < count; i++) {
            UBC_ASSERT(role->op_results[i] < UBC_LEDGER_RESULT_COUNT);
            role->results[role->op_results[i]]++;
            role->by_kind[role->ops[i].kind & 31]++;
        }
    }
    ledger_answer_locks(role, msgs, n);
    return n;
}

uint32_t
ubc_role_ledger_poll(void *ctx, uint64_t now_tsc)
{
    (void)now_tsc;
    struct ubc_role_ledger *role = ctx;
    uint32_t work = ledger_flush_answers(role);
    if (role->answers_count != 0)
        return work; /* the scheduler must take its answers first */
    for (uint32_t i = 0; i < UBC_ARRAY_SIZE(ledger_inputs); i++) {
        work += ledger_apply_link(role, &role->state->node->links[ledger_inputs[i]]);
        work += ledger_flush_answers(role);
    }
    return work;
}

void
ubc_role_ledger_housekeep(void *ctx, uint64_t now_tsc)
{
    (void)now_tsc;
    struct ubc_role_ledger *role = ctx;
    ubc_node_control_serve(role->state);
}

bool
ubc_role_ledger_drained(void *ctx)
{
    struct ubc_role_ledger *role = ctx;
    if (role->answers_count != 0)
        return false;
    for (uint32_t i = 0; i < UBC_ARRAY_SIZE(ledger_inputs); i++) {
        if (ubc_link_count(&role->state->node->links[ledger_inputs[i]]) != 0)
            return false;
    }
    return true;
}

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

/* Applies operations an operator submitted (already through the verify
 * stage on the control thread) as one batch at the next height, between two
 * bursts of the ledger lcore. */
static void
ledger_control_submit(struct ubc_role_ledger *role, struct ubc_control_request *req)
{
    uint32_t n = req->reply_len / (uint32_t)sizeof(struct ubc_ledger_op);
    if (n == 0 || n > UBC_LEDGER_SUBMIT_OPS_MAX ||
        req->reply_len != n * (uint32_t)sizeof(struct ubc_ledger_op)) {
        req->result = -EINVAL;
        return;
    }
    struct ubc_ledger_op ops[UBC_LEDGER_SUBMIT_OPS_MAX];
    uint16_t results[UBC_LEDGER_SUBMIT_OPS_MAX];
    memcpy(ops, req->reply, req->reply_len);
    struct ubc_ledger_audit audit;
    int rc = ubc_ledger_apply_batch(role->ledger, ops, n, ++role->height, results, &audit);
    UBC_ASSERT(rc == 0); /* n is small and heights only grow */
    role->batches++;
    for (uint32_t i = 0; i < n; i++)
        role->results[results[i] < UBC_LEDGER_RESULT_COUNT ? results[i] : 0]++;
    memcpy(req->reply, results, n * sizeof(results[0]));
    req->reply_len = n * (uint32_t)sizeof(results[0]);
    req->result = 0;
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
    default: req->result = -EOPNOTSUPP; break;
    }
}

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
    if (rc != 0)
        return rc;
    size_t footprint = ubc_ledger_footprint(&config);
    if (footprint == 0) {
        snprintf(error, error_cap, "config: ledger.*: the ledger refuses these sizes");
        return -EINVAL;
    }
    void *memory = rte_zmalloc("ledger", footprint, ubc_ledger_align());
    if (memory == NULL) {
        snprintf(error, error_cap, "ledger: cannot allocate %zu bytes", footprint);
        return -ENOMEM;
    }
    role->ledger = ubc_ledger_join(ubc_ledger_new(memory, &config));
    if (role->ledger == NULL) {
        rte_free(memory);
        snprintf(error, error_cap, "config: ledger.*: the ledger refuses this configuration");
        return -EINVAL;
    }
    role->height = ubc_ledger_height(role->ledger);
    role->state->control_fn = ledger_control;
    role->state->control_ctx = role;
    return 0;
}

void
ubc_role_ledger_fini(struct ubc_role_ledger *role)
{
    if (role->ledger != NULL)
        rte_free(ubc_ledger_delete(ubc_ledger_leave(role->ledger)));
    role->ledger = NULL;
}
