/* ubc_admin_ledger.c: the `ledger` admin command: summary, supply with the
 * conservation check, one account, parameters. The summary is read through
 * the ledger's seqlock (any thread); supply and accounts are answered by the
 * ledger role through its mailbox. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

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
        if (role->results[r] != 0)
            json_object_set_new(results, ubc_ledger_result_name((uint16_t)r),
                                json_integer((json_int_t)role->results[r]));
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
ledger_call(struct ubc_node *node, uint32_t command, const char *text,
            struct ubc_control_request **answer, char *error, size_t error_cap)
{
    int rc = ubc_node_control_call(node, UBC_ROLE_LEDGER, command, 0, text, 2000, answer);
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
        int rc = ledger_call(node, UBC_LEDGER_COMMAND_SUPPLY, NULL, &answer, error, error_cap);
        if (rc == 0)
            *result = supply_json((const void *)answer->reply, 1);
        return rc;
    }
    if (strcmp(what, "account") == 0) {
        const char *hex = json_string_value(json_object_get(args, "account"));
        int rc = hex ? ledger_call(node, UBC_LEDGER_COMMAND_ACCOUNT, hex, &answer, error, error_cap)
                     : -EINVAL;
        if (rc == -EINVAL)
            snprintf(error, error_cap, "expected account=<64 hex digits>");
        else if (rc == -ENOENT)
            snprintf(error, error_cap, "no account %s", hex);
        if (rc == 0)
            *result = account_json((const void *)answer->reply, hex);
        return rc;
    }
    snprintf(error, error_cap, "expected summary, supply or account account=HEX");
    return -EINVAL;
}

static const struct ubc_admin_command ledger_commands[] = {
    { "ledger", "[summary | supply | account account=HEX]",
      "the token ledger: height, state hash, supply and its conservation, accounts, params",
      cmd_ledger },
};

const struct ubc_admin_command *
ubc_admin_ledger_commands(uint32_t *count)
{
    *count = UBC_ARRAY_SIZE(ledger_commands);
    return ledger_commands;
}
