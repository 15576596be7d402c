/* ubc_admin_ledger.c: the `ledger` admin command: summary, supply with the
 * conservation check, one account, parameters. The summary is read through
 * the ledger's seqlock (any thread); supply and accounts are answered by the
 * ledger role through its mailbox. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "common/ubc_assert.h"
#include "node/ubc_admin_cmds.h"
#include "node/ubc_role_ledger.h"

/* with_scan: the supply came from the ledger role with a full scan of the
 * accounts (scan_matches); else from the published summary (counters only). */
static json_t *
supply_json(const struct ubc_ledger_supply *s, int with_scan)
{
    uint64_t sum =
        s->balances + s->staked + s->escrowed + s->unbonding + s->reward_pool + s->burned;
    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:b,s:b,s:s}", "minted",
                     (json_int_t)s->minted, "balances", (json_int_t)s->balances, "staked",
                     (json_int_t)s->staked, "escrowed", (json_int_t)s->escrowed, "unbonding",
                     (json_int_t)s->unbonding, "reward_pool", (json_int_t)s->reward_pool, "burned",
                     (json_int_t)s->burned, "sum", (json_int_t)sum, "conserved",
                     s->conserved && sum == s->minted, "scan_matches",
                     with_scan ? s->scan_matches != 0 : 0, "equation",
                     "minted = balances + staked + escrowed + unbonding + reward_pool + burned");
}

static json_t *
params_json(const uint64_t *params)
{
    json_t *out = json_object();
    for (uint32_t p = 0; p < UBC_LEDGER_PARAM_COUNT; p++)
        json_object_set_new(out, ubc_ledger_param_name(p), json_integer((json_int_t)params[p]));
    return out;
}

static json_t *
summary_json(const struct ubc_role_ledger *role)
{
    struct ubc_ledger_summary s;
    ubc_ledger_summary_read(role->ledger, &s);
    struct ubc_ledger_supply supply = { .minted = s.minted,
                                        .balances = s.balances,
                                        .staked = s.staked,
                                        .escrowed = s.escrowed,
                                        .unbonding = s.unbonding,
                                        .reward_pool = s.reward_pool,
                                        .burned = s.burned,
                                        .conserved = 1,
                                        .scan_matches = 1 };
    json_t *results = json_object();
    for (uint32_t r = 0; r < UBC_LEDGER_RESULT_COUNT; r++) {
        if (role->stats.results[r] != 0)
            json_object_set_new(results, ubc_ledger_result_name((uint16_t)r),
                                json_integer((json_int_t)role->stats.results[r]));
    }
    char hash[40];
    snprintf(hash, sizeof(hash), "%016llx%016llx", (unsigned long long)s.state_hash[0],
             (unsigned long long)s.state_hash[1]);
    json_t *out = json_pack(
        "{s:I,s:I,s:b,s:I,s:I,s:I,s:I,s:s,s:o,s:o,s:o}", "height", (json_int_t)s.height, "batches",
        (json_int_t)s.batch_count, "paused", s.paused != 0, "accounts", (json_int_t)s.account_count,
        "escrows", (json_int_t)s.escrow_count, "ops_applied", (json_int_t)s.ops_applied,
        "ops_refused", (json_int_t)s.ops_refused, "state_hash", hash, "supply",
        supply_json(&supply, 0), "params", params_json(s.params), "results", results);
    return out;
}

static int
ledger_call(struct ubc_node *node, uint32_t command, const char *text, const void *payload,
            uint32_t payload_len, struct ubc_control_request **answer, char *error,
            size_t error_cap)
{
    int rc = ubc_node_control_call(node, UBC_ROLE_LEDGER, command, 0, text, payload, payload_len,
                                   2000, answer);
    if (rc == -ETIMEDOUT || rc == -EBUSY)
        snprintf(error, error_cap, "the ledger role did not answer in 2000 ms");
    else if (rc == 0)
        rc = (*answer)->result;
    return rc;
}

static json_t *
account_json(const struct ubc_ledger_account_info *a, const char *hex)
{
    return json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:b,s:b}", "account", hex, "balance",
                     (json_int_t)a->balance, "staked", (json_int_t)a->staked, "escrowed",
                     (json_int_t)a->escrowed, "unbonding", (json_int_t)a->unbonding, "nonce",
                     (json_int_t)a->nonce, "frozen", (a->flags & UBC_LEDGER_ACCOUNT_FROZEN) != 0,
                     "multisig", (a->flags & UBC_LEDGER_ACCOUNT_MULTISIG) != 0);
}

/* The published summary (seqlock: any thread) says whether it is paused. */
static int
ledger_paused_now(const struct ubc_role_ledger *role)
{
    struct ubc_ledger_summary summary;
    ubc_ledger_summary_read(role->ledger, &summary);
    return summary.paused != 0;
}

/* `ledger submit op=HEX`: an operation signed by its account's key (or a
 * multisig account's op followed by its cosignatures), as ubc-ledger-op
 * prints it. The control thread is its verify stage; the ledger applies it
 * with the same authorization as any operation. Pause and resume by the
 * guardian go this way. */
static int
ledger_submit(struct ubc_node *node, const json_t *args, uint8_t only_kind, json_t **result,
              char *error, size_t error_cap)
{
    const char *hex = json_string_value(json_object_get(args, "op"));
    struct ubc_ledger_op ops[UBC_LEDGER_SUBMIT_OPS_MAX];
    size_t bytes = 0;
    if (hex == NULL ||
        sodium_hex2bin((uint8_t *)ops, sizeof(ops), hex, strlen(hex), NULL, &bytes, NULL) != 0 ||
        bytes == 0 || bytes % sizeof(ops[0]) != 0) {
        snprintf(error, error_cap, "expected op=<448 hex digits per operation> (ubc-ledger-op)");
        return -EINVAL;
    }
    uint32_t n = (uint32_t)(bytes / sizeof(ops[0]));
    if (only_kind != UBC_LEDGER_OP_NONE && ops[0].kind != only_kind) {
        snprintf(error, error_cap, "op=HEX is a %s operation, not %s",
                 ubc_ledger_op_kind_name(ops[0].kind), ubc_ledger_op_kind_name(only_kind));
        return -EINVAL;
    }
    uint32_t bad = ubc_ledger_verify_batch(node->config.ledger_chain_id, ops, n);
    struct ubc_control_request *answer;
    int rc = ledger_call(node, UBC_LEDGER_COMMAND_SUBMIT, NULL, ops, (uint32_t)bytes, &answer,
                         error, error_cap);
    if (rc != 0)
        return rc;
    const uint16_t *results = (const void *)answer->reply;
    json_t *list = json_array();
    for (uint32_t i = 0; i < n; i++)
        json_array_append_new(list, json_string(ubc_ledger_result_name(results[i])));
    *result = json_pack("{s:s,s:o,s:i,s:b}", "result", ubc_ledger_result_name(results[0]),
                        "results", list, "bad_signatures", (json_int_t)bad, "paused",
                        ledger_paused_now(node->ledger));
    return 0;
}

static int
ledger_stats(struct ubc_node *node, json_t **result, char *error, size_t error_cap)
{
    struct ubc_control_request *answer;
    int rc = ledger_call(node, UBC_LEDGER_COMMAND_STATS, NULL, NULL, 0, &answer, error, error_cap);
    if (rc != 0)
        return rc;
    const struct ubc_role_ledger_stats *s = (const void *)answer->reply;
    json_t *kinds = json_object();
    for (uint32_t k = 1; k < UBC_LEDGER_OP_KIND_COUNT; k++) {
        if (s->by_kind[k] != 0)
            json_object_set_new(kinds, ubc_ledger_op_kind_name((uint8_t)k),
                                json_integer((json_int_t)s->by_kind[k]));
    }
    *result = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:b,s:o}", "height",
                        (json_int_t)s->height, "batches", (json_int_t)s->batches, "ops",
                        (json_int_t)s->ops, "batches_durable", (json_int_t)s->batches_durable,
                        "batches_failed", (json_int_t)s->batches_failed, "answers_sched",
                        (json_int_t)s->answers_sched, "answers_net", (json_int_t)s->answers_net,
                        "answers_dropped", (json_int_t)s->answers_dropped, "done_records",
                        (json_int_t)s->done_records, "refused_read_only",
                        (json_int_t)s->refused_read_only, "slots_full", (json_int_t)s->slots_full,
                        "read_only", node->ledger->read_only != 0, "by_kind", kinds);
    return 0;
}

static int
ledger_proposals(struct ubc_node *node, json_t **result, char *error, size_t error_cap)
{
    struct ubc_control_request *answer;
    int rc =
        ledger_call(node, UBC_LEDGER_COMMAND_PROPOSALS, NULL, NULL, 0, &answer, error, error_cap);
    if (rc != 0)
        return rc;
    const struct ubc_ledger_proposal_info *p = (const void *)answer->reply;
    uint32_t count = answer->reply_len / (uint32_t)sizeof(*p);
    json_t *list = json_array();
    for (uint32_t i = 0; i < count; i++)
        json_array_append_new(
            list,
            json_pack("{s:I,s:i,s:i,s:i,s:I,s:I,s:I,s:I,s:I}", "id", (json_int_t)p[i].id, "kind",
                      p[i].kind, "state", p[i].state, "param", p[i].param, "value",
                      (json_int_t)p[i].value, "votes_yes", (json_int_t)p[i].votes_yes, "votes_no",
                      (json_int_t)p[i].votes_no, "start_height", (json_int_t)p[i].start_height,
                      "voting_end_height", (json_int_t)p[i].voting_end_height));
    *result = list;
    return 0;
}

static int
cmd_ledger(void *ctx, const json_t *args, json_t **result, char *error, size_t error_cap)
{
    struct ubc_node *node = ctx;
    const char *what = json_string_value(json_object_get(args, "what"));
    struct ubc_control_request *answer;
    if (what == NULL || strcmp(what, "summary") == 0) {
        *result = summary_json(node->ledger);
        return 0;
    }
    if (strcmp(what, "supply") == 0) {
        int rc =
            ledger_call(node, UBC_LEDGER_COMMAND_SUPPLY, NULL, NULL, 0, &answer, error, error_cap);
        if (rc == 0)
            *result = supply_json((const void *)answer->reply, 1);
        return rc;
    }
    if (strcmp(what, "account") == 0 || strcmp(what, "balance") == 0) {
        const char *hex = json_string_value(json_object_get(args, "account"));
        int rc = hex ? ledger_call(node, UBC_LEDGER_COMMAND_ACCOUNT, hex, NULL, 0, &answer, error,
                                   error_cap)
                     : -EINVAL;
        if (rc == -EINVAL)
            snprintf(error, error_cap, "expected account=<64 hex digits>");
        else if (rc == -ENOENT)
            snprintf(error, error_cap, "no account %s", hex);
        if (rc == 0)
            *result = account_json((const void *)answer->reply, hex);
        return rc;
    }
    if (strcmp(what, "submit") == 0)
        return ledger_submit(node, args, UBC_LEDGER_OP_NONE, result, error, error_cap);
    /* Pause and resume: the guardian's signed op, through the same authorization. */
    if (strcmp(what, "pause") == 0)
        return ledger_submit(node, args, UBC_LEDGER_OP_PAUSE, result, error, error_cap);
    if (strcmp(what, "resume") == 0)
        return ledger_submit(node, args, UBC_LEDGER_OP_RESUME, result, error, error_cap);
    if (strcmp(what, "params") == 0) {
        struct ubc_ledger_summary s;
        ubc_ledger_summary_read(node->ledger->ledger, &s);
        *result = params_json(s.params);
        return 0;
    }
    if (strcmp(what, "stats") == 0)
        return ledger_stats(node, result, error, error_cap);
    if (strcmp(what, "proposals") == 0)
        return ledger_proposals(node, result, error, error_cap);
    snprintf(error, error_cap,
             "expected summary, supply, params, proposals, stats, balance|account account=HEX, "
             "submit op=HEX, pause op=HEX or resume op=HEX");
    return -EINVAL;
}

static const struct ubc_admin_command ledger_commands[] = {
    { "ledger",
      "[summary | supply | params | proposals | stats | balance account=HEX | account "
      "account=HEX | submit op=HEX | pause op=HEX | resume op=HEX]",
      "the token ledger: height, state hash, supply and its conservation, accounts, params, "
      "proposals, batches journaled; submit a signed operation; pause/resume with the "
      "guardian's signed op (answered once the batch is durable)",
      cmd_ledger },
};

const struct ubc_admin_command *
ubc_admin_ledger_commands(uint32_t *count)
{
    *count = UBC_ARRAY_SIZE(ledger_commands);
    return ledger_commands;
}
