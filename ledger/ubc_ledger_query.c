/* ubc_ledger_query.c: read-only queries for the ledger thread (copied out as plain structs) and
 * the names of codes. The control thread reaches these through the ledger role, or reads the
 * seqlock summary (ubc_ledger_summary_read) directly.
 */
#include <errno.h>
#include <string.h>

#include "ledger/ubc_ledger_private.h"

uint64_t
ubc_ledger_height(const struct ubc_ledger *ledger)
{
    return ledger->height;
}

int
ubc_ledger_paused(const struct ubc_ledger *ledger)
{
    return ledger->paused != 0;
}

uint64_t
ubc_ledger_param_get(const struct ubc_ledger *ledger, enum ubc_ledger_param param)
{
    if ((unsigned)param >= UBC_LEDGER_PARAM_COUNT)
        return 0;
    return ledger->params[param];
}

int
ubc_ledger_account_get(const struct ubc_ledger *ledger, const uint8_t *key,
                       struct ubc_ledger_account_info *out)
{
    uint32_t slot = ubc_ledger_account_find(ledger, key);
    if (slot == UBC_LEDGER_NO_INDEX)
        return -ENOENT;
    const struct ubc_ledger_account *a = &ubc_ledger_accounts(ledger)[slot];
    memset(out, 0, sizeof(*out));
    memcpy(out->key, a->key, UBC_LEDGER_KEY_BYTES);
    out->balance = a->balance;
    out->staked = a->staked;
    out->escrowed = a->escrowed;
    out->unbonding = a->unbonding;
    out->nonce = a->nonce;
    out->created_height = a->created_height;
    out->flags = a->flags & ~UBC_LEDGER_SLOT_USED;
    if (a->multisig_index != UBC_LEDGER_NO_INDEX) {
        const struct ubc_ledger_multisig *m = ubc_ledger_multisig_at(ledger, a->multisig_index);
        out->multisig_threshold = m->threshold;
        out->multisig_key_count = m->key_count;
    }
    return 0;
}

/* Sums every bucket from the tables themselves: O(account capacity + escrow capacity). */
static int
supply_scan_matches(const struct ubc_ledger *ledger)
{
    ubc_u128 balances = 0, staked = 0, escrowed = 0, unbonding = 0, escrow_entries = 0;
    ubc_u128 queue = 0;
    const struct ubc_ledger_account *accounts = ubc_ledger_accounts(ledger);
    for (uint64_t i = 0; i < ledger->account_capacity; i++) {
        if (!(accounts[i].flags & UBC_LEDGER_SLOT_USED))
            continue;
        balances += accounts[i].balance;
        staked += accounts[i].staked;
        escrowed += accounts[i].escrowed;
        unbonding += accounts[i].unbonding;
    }
    const struct ubc_ledger_escrow *escrows = ubc_ledger_escrows(ledger);
    for (uint64_t i = 0; i < ledger->escrow_capacity; i++)
        if (escrows[i].owner_index != UBC_LEDGER_NO_INDEX)
            escrow_entries += escrows[i].amount;
    const struct ubc_ledger_unbonding *ring = ubc_ledger_unbondings(ledger);
    for (uint64_t p = ledger->unbonding_head; p != ledger->unbonding_tail; p++)
        queue += ring[p % ledger->config.unbonding_max].amount;
    return balances == ledger->balances && staked == ledger->staked &&
           escrowed == ledger->escrowed && unbonding == ledger->unbonding &&
           escrow_entries == ledger->escrowed && queue == ledger->unbonding;
}

void
ubc_ledger_supply_get(const struct ubc_ledger *ledger, struct ubc_ledger_supply *out)
{
    memset(out, 0, sizeof(*out));
    out->minted = ledger->minted;
    out->balances = ledger->balances;
    out->staked = ledger->staked;
    out->escrowed = ledger->escrowed;
    out->unbonding = ledger->unbonding;
    out->reward_pool = ledger->reward_pool;
    out->burned = ledger->burned;
    ubc_u128 held = (ubc_u128)out->balances + out->staked + out->escrowed + out->unbonding +
                    out->reward_pool + out->burned;
    out->conserved = held == (ubc_u128)out->minted;
    out->scan_matches = (uint32_t)supply_scan_matches(ledger);
}

uint32_t
ubc_ledger_proposals_get(const struct ubc_ledger *ledger, struct ubc_ledger_proposal_info *out,
                         uint32_t out_max)
{
    const struct ubc_ledger_proposal *slots = ubc_ledger_proposals(ledger);
    const struct ubc_ledger_account *accounts = ubc_ledger_accounts(ledger);
    uint32_t count = 0;
    for (uint32_t i = 0; i < ledger->config.proposals_max && count < out_max; i++) {
        const struct ubc_ledger_proposal *p = &slots[i];
        if (p->state == UBC_LEDGER_PROPOSAL_FREE)
            continue;
        struct ubc_ledger_proposal_info *info = &out[count++];
        memset(info, 0, sizeof(*info));
        info->id = p->id;
        info->kind = p->kind;
        info->state = p->state;
        info->param = p->param;
        info->voter_count = p->voter_count;
        info->value = p->value;
        info->height = p->height;
        memcpy(info->target, p->target, UBC_LEDGER_KEY_BYTES);
        memcpy(info->proposer, accounts[p->proposer_index].key, UBC_LEDGER_KEY_BYTES);
        info->start_height = p->start_height;
        info->voting_end_height = p->voting_end_height;
        info->votes_yes = p->votes_yes;
        info->votes_no = p->votes_no;
    }
    return count;
}

static const char *const result_names[UBC_LEDGER_RESULT_COUNT] = {
    [UBC_LEDGER_OK] = "ok",
    [UBC_LEDGER_ERR_MALFORMED] = "malformed",
    [UBC_LEDGER_ERR_NOT_VERIFIED] = "not-verified",
    [UBC_LEDGER_ERR_BAD_SIGNATURE] = "bad-signature",
    [UBC_LEDGER_ERR_UNAUTHORIZED] = "unauthorized",
    [UBC_LEDGER_ERR_MULTISIG_TOO_FEW] = "multisig-too-few",
    [UBC_LEDGER_ERR_NONCE] = "nonce",
    [UBC_LEDGER_ERR_NO_ACCOUNT] = "no-account",
    [UBC_LEDGER_ERR_ACCOUNT_EXISTS] = "account-exists",
    [UBC_LEDGER_ERR_INSUFFICIENT_FUNDS] = "insufficient-funds",
    [UBC_LEDGER_ERR_OVERFLOW] = "overflow",
    [UBC_LEDGER_ERR_PAUSED] = "paused",
    [UBC_LEDGER_ERR_FROZEN] = "frozen",
    [UBC_LEDGER_ERR_MIN_STAKE] = "min-stake",
    [UBC_LEDGER_ERR_FULL] = "full",
    [UBC_LEDGER_ERR_ESCROW_EXISTS] = "escrow-exists",
    [UBC_LEDGER_ERR_NO_ESCROW] = "no-escrow",
    [UBC_LEDGER_ERR_NO_PROPOSAL] = "no-proposal",
    [UBC_LEDGER_ERR_VOTING_CLOSED] = "voting-closed",
    [UBC_LEDGER_ERR_ALREADY_VOTED] = "already-voted",
    [UBC_LEDGER_ERR_NO_STAKE] = "no-stake",
    [UBC_LEDGER_ERR_TIME_LOCK] = "time-lock",
    [UBC_LEDGER_ERR_NOT_PASSED] = "not-passed",
    [UBC_LEDGER_ERR_BAD_PARAMETER] = "bad-parameter",
    [UBC_LEDGER_ERR_EPOCH] = "epoch",
    [UBC_LEDGER_ERR_SEQUENCE] = "sequence",
};

const char *
ubc_ledger_result_name(uint16_t result)
{
    return result < UBC_LEDGER_RESULT_COUNT ? result_names[result] : "unknown";
}

static const char *const kind_names[UBC_LEDGER_OP_KIND_COUNT] = {
    [UBC_LEDGER_OP_NONE] = "none",
    [UBC_LEDGER_OP_CREATE_ACCOUNT] = "create-account",
    [UBC_LEDGER_OP_TRANSFER] = "transfer",
    [UBC_LEDGER_OP_STAKE] = "stake",
    [UBC_LEDGER_OP_UNSTAKE] = "unstake",
    [UBC_LEDGER_OP_BURN] = "burn",
    [UBC_LEDGER_OP_ESCROW_LOCK] = "escrow-lock",
    [UBC_LEDGER_OP_ESCROW_RELEASE] = "escrow-release",
    [UBC_LEDGER_OP_ESCROW_REFUND] = "escrow-refund",
    [UBC_LEDGER_OP_REWARD_EPOCH] = "reward-epoch",
    [UBC_LEDGER_OP_REWARD_WORK] = "reward-work",
    [UBC_LEDGER_OP_SLASH] = "slash",
    [UBC_LEDGER_OP_PROPOSE] = "propose",
    [UBC_LEDGER_OP_VOTE] = "vote",
    [UBC_LEDGER_OP_EXECUTE] = "execute",
    [UBC_LEDGER_OP_MULTISIG_ADD_KEY] = "multisig-add-key",
    [UBC_LEDGER_OP_MULTISIG_SET_THRESHOLD] = "multisig-set-threshold",
    [UBC_LEDGER_OP_PAUSE] = "pause",
    [UBC_LEDGER_OP_RESUME] = "resume",
    [UBC_LEDGER_OP_FREEZE] = "freeze",
    [UBC_LEDGER_OP_COSIGN] = "cosign",
};

const char *
ubc_ledger_op_kind_name(uint8_t kind)
{
    return kind < UBC_LEDGER_OP_KIND_COUNT ? kind_names[kind] : "unknown";
}

static const char *const param_names[UBC_LEDGER_PARAM_COUNT] = {
    [UBC_LEDGER_PARAM_BURN_RATE_BPS] = "burn_rate_bps",
    [UBC_LEDGER_PARAM_MIN_STAKE] = "min_stake",
    [UBC_LEDGER_PARAM_UNBONDING_HEIGHTS] = "unbonding_heights",
    [UBC_LEDGER_PARAM_QUORUM_BPS] = "quorum_bps",
    [UBC_LEDGER_PARAM_THRESHOLD_BPS] = "threshold_bps",
    [UBC_LEDGER_PARAM_VOTING_HEIGHTS] = "voting_heights",
    [UBC_LEDGER_PARAM_TIMELOCK_HEIGHTS] = "timelock_heights",
    [UBC_LEDGER_PARAM_EMISSION_PER_EPOCH] = "emission_per_epoch",
    [UBC_LEDGER_PARAM_REWARD_WORK_BPS] = "reward_work_bps",
};

const char *
ubc_ledger_param_name(uint32_t param)
{
    return param < UBC_LEDGER_PARAM_COUNT ? param_names[param] : "unknown";
}

enum ubc_err
ubc_ledger_result_to_err(uint16_t result)
{
    switch (result) {
    case UBC_LEDGER_OK: return UBC_OK;
    case UBC_LEDGER_ERR_NOT_VERIFIED:
    case UBC_LEDGER_ERR_BAD_SIGNATURE:
    case UBC_LEDGER_ERR_UNAUTHORIZED:
    case UBC_LEDGER_ERR_MULTISIG_TOO_FEW:
    case UBC_LEDGER_ERR_NONCE: return UBC_ERR_AUTH;
    case UBC_LEDGER_ERR_INSUFFICIENT_FUNDS: return UBC_ERR_FUNDS;
    case UBC_LEDGER_ERR_PAUSED: return UBC_ERR_PAUSED;
    case UBC_LEDGER_ERR_ACCOUNT_EXISTS:
    case UBC_LEDGER_ERR_ESCROW_EXISTS:
    case UBC_LEDGER_ERR_ALREADY_VOTED: return UBC_ERR_DUPLICATE;
    case UBC_LEDGER_ERR_NO_ESCROW: return UBC_ERR_UNKNOWN_JOB;
    case UBC_LEDGER_ERR_FULL: return UBC_ERR_OVERLOADED;
    default: return UBC_ERR_MALFORMED;
    }
}

int
ubc_ledger_escrow_get(const struct ubc_ledger *ledger, const uint8_t *owner, uint64_t job_id,
                      uint64_t *amount)
{
    uint32_t owner_index = ubc_ledger_account_find(ledger, owner);
    if (owner_index == UBC_LEDGER_NO_INDEX)
        return -ENOENT;
    uint32_t slot = ubc_ledger_escrow_find(ledger, owner_index, job_id);
    if (slot == UBC_LEDGER_NO_INDEX)
        return -ENOENT;
    if (amount != NULL)
        *amount = ubc_ledger_escrows(ledger)[slot].amount;
    return 0;
}

uint64_t
ubc_ledger_escrows_each(const struct ubc_ledger *ledger,
                        void (*fn)(void *ctx, const uint8_t *owner, uint64_t job_id,
                                   uint64_t amount),
                        void *ctx)
{
    const struct ubc_ledger_escrow *escrows = ubc_ledger_escrows(ledger);
    const struct ubc_ledger_account *accounts = ubc_ledger_accounts(ledger);
    uint64_t count = 0;
    for (uint64_t slot = 0; slot < ledger->escrow_capacity; slot++) {
        if (escrows[slot].owner_index == UBC_LEDGER_NO_INDEX)
            continue;
        fn(ctx, accounts[escrows[slot].owner_index].key, escrows[slot].job_id,
           escrows[slot].amount);
        count++;
    }
    return count;
}
