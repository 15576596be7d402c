/* ubc_ledger_gov.c: governance. Staked accounts propose a parameter change, a treasury spend or
 * a scheduled upgrade; stakers vote once per proposal with their current stake as weight; any
 * account executes a proposal once voting has ended, its time lock has elapsed, and it reached
 * quorum (votes cast / total stake) and threshold (yes / votes cast). Ledger thread only.
 */
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "ledger/ubc_ledger_private.h"

#define HEIGHTS_LIMIT (1ull << 32)

int
ubc_ledger_param_valid(uint32_t param, uint64_t value)
{
    switch (param) {
    case UBC_LEDGER_PARAM_BURN_RATE_BPS:
    case UBC_LEDGER_PARAM_QUORUM_BPS:
    case UBC_LEDGER_PARAM_REWARD_WORK_BPS: return value <= 10000;
    case UBC_LEDGER_PARAM_THRESHOLD_BPS: return value >= 1 && value <= 10000;
    case UBC_LEDGER_PARAM_VOTING_HEIGHTS: return value >= 1 && value <= HEIGHTS_LIMIT;
    case UBC_LEDGER_PARAM_UNBONDING_HEIGHTS:
    case UBC_LEDGER_PARAM_TIMELOCK_HEIGHTS: return value <= HEIGHTS_LIMIT;
    case UBC_LEDGER_PARAM_MIN_STAKE:
    case UBC_LEDGER_PARAM_EMISSION_PER_EPOCH: return 1;
    default: return 0;
    }
}

static uint32_t
proposal_find(const struct ubc_ledger *ledger, uint64_t id)
{
    const struct ubc_ledger_proposal *slots = ubc_ledger_proposals(ledger);
    for (uint32_t i = 0; i < ledger->config.proposals_max; i++)
        if (slots[i].state != UBC_LEDGER_PROPOSAL_FREE && slots[i].id == id)
            return i;
    return UBC_LEDGER_NO_INDEX;
}

/* A free slot, else the finished proposal with the smallest id (history is kept as long as
 * room allows), else none: active proposals are never evicted. */
static uint32_t
proposal_slot_take(const struct ubc_ledger *ledger)
{
    const struct ubc_ledger_proposal *slots = ubc_ledger_proposals(ledger);
    uint32_t oldest = UBC_LEDGER_NO_INDEX;
    for (uint32_t i = 0; i < ledger->config.proposals_max; i++) {
        if (slots[i].state == UBC_LEDGER_PROPOSAL_FREE)
            return i;
        if (slots[i].state != UBC_LEDGER_PROPOSAL_ACTIVE &&
            (oldest == UBC_LEDGER_NO_INDEX || slots[i].id < slots[oldest].id))
            oldest = i;
    }
    return oldest;
}

static int
proposal_args_valid(const struct ubc_ledger *ledger, const struct ubc_ledger_op *op)
{
    switch (op->args.u.propose.kind) {
    case UBC_LEDGER_PROPOSAL_PARAMETER:
        return ubc_ledger_param_valid(op->args.u.propose.param, op->args.u.propose.value);
    case UBC_LEDGER_PROPOSAL_TREASURY: return op->args.u.propose.value > 0;
    case UBC_LEDGER_PROPOSAL_UPGRADE: return op->args.u.propose.value > ledger->version;
    default: return 0;
    }
}

uint16_t
ubc_ledger_op_propose(struct ubc_ledger *ledger, const struct ubc_ledger_op *op, uint32_t source)
{
    const struct ubc_ledger_account *a = &ubc_ledger_accounts(ledger)[source];
    uint64_t voting_end;
    if (a->staked == 0 || a->staked < ledger->params[UBC_LEDGER_PARAM_MIN_STAKE])
        return UBC_LEDGER_ERR_NO_STAKE;
    if (!proposal_args_valid(ledger, op))
        return UBC_LEDGER_ERR_BAD_PARAMETER;
    if (__builtin_add_overflow(ledger->height, ledger->params[UBC_LEDGER_PARAM_VOTING_HEIGHTS],
                               &voting_end))
        return UBC_LEDGER_ERR_OVERFLOW;
    uint32_t slot = proposal_slot_take(ledger);
    if (slot == UBC_LEDGER_NO_INDEX)
        return UBC_LEDGER_ERR_FULL;
    struct ubc_ledger_proposal *p = &ubc_ledger_proposals(ledger)[slot];
    memset(p, 0, sizeof(*p));
    memset(ubc_ledger_bitmap(ledger, slot), 0, ledger->bitmap_words * sizeof(uint64_t));
    p->id = ledger->proposal_next_id++;
    p->kind = op->args.u.propose.kind;
    p->state = UBC_LEDGER_PROPOSAL_ACTIVE;
    p->param = op->args.u.propose.param;
    p->value = op->args.u.propose.value;
    p->height = op->args.u.propose.height;
    memcpy(p->target, op->args.u.propose.target, UBC_LEDGER_KEY_BYTES);
    p->proposer_index = source;
    p->start_height = ledger->height;
    p->voting_end_height = voting_end;
    return UBC_LEDGER_OK;
}

uint16_t
ubc_ledger_op_vote(struct ubc_ledger *ledger, const struct ubc_ledger_op *op, uint32_t source)
{
    uint32_t slot = proposal_find(ledger, op->args.u.proposal.proposal_id);
    if (slot == UBC_LEDGER_NO_INDEX)
        return UBC_LEDGER_ERR_NO_PROPOSAL;
    struct ubc_ledger_proposal *p = &ubc_ledger_proposals(ledger)[slot];
    if (p->state != UBC_LEDGER_PROPOSAL_ACTIVE || ledger->height >= p->voting_end_height)
        return UBC_LEDGER_ERR_VOTING_CLOSED;
    uint64_t weight = ubc_ledger_accounts(ledger)[source].staked;
    if (weight == 0)
        return UBC_LEDGER_ERR_NO_STAKE;
    uint64_t *bitmap = ubc_ledger_bitmap(ledger, slot);
    uint64_t bit = 1ull << (source % 64);
    if (bitmap[source / 64] & bit)
        return UBC_LEDGER_ERR_ALREADY_VOTED;
    uint64_t *tally = (op->flags & UBC_LEDGER_FLAG_VOTE_YES) ? &p->votes_yes : &p->votes_no;
    uint64_t sum;
    if (__builtin_add_overflow(*tally, weight, &sum))
        return UBC_LEDGER_ERR_OVERFLOW;
    *tally = sum;
    bitmap[source / 64] |= bit;
    p->voter_count++;
    return UBC_LEDGER_OK;
}

static int
proposal_passed(const struct ubc_ledger *ledger, const struct ubc_ledger_proposal *p)
{
    ubc_u128 cast = (ubc_u128)p->votes_yes + p->votes_no;
    ubc_u128 quorum = (ubc_u128)ledger->params[UBC_LEDGER_PARAM_QUORUM_BPS] * ledger->staked;
    ubc_u128 threshold = (ubc_u128)ledger->params[UBC_LEDGER_PARAM_THRESHOLD_BPS] * cast;
    return p->votes_yes > 0 && cast * 10000u >= quorum &&
           (ubc_u128)p->votes_yes * 10000u >= threshold;
}

static uint16_t
treasury_spend(struct ubc_ledger *ledger, const struct ubc_ledger_proposal *p)
{
    if (ledger->paused)
        return UBC_LEDGER_ERR_PAUSED;
    uint32_t target_slot = ubc_ledger_account_find(ledger, p->target);
    if (target_slot == UBC_LEDGER_NO_INDEX)
        return UBC_LEDGER_ERR_NO_ACCOUNT;
    struct ubc_ledger_account *accounts = ubc_ledger_accounts(ledger);
    struct ubc_ledger_account *treasury = &accounts[ledger->treasury_index];
    struct ubc_ledger_account *target = &accounts[target_slot];
    if (treasury->balance < p->value)
        return UBC_LEDGER_ERR_INSUFFICIENT_FUNDS;
    if (target == treasury)
        return UBC_LEDGER_OK;
    treasury->balance -= p->value;
    target->balance += p->value; /* both balances are parts of minted: no overflow */
    ubc_ledger_account_rehash(ledger, treasury);
    ubc_ledger_account_rehash(ledger, target);
    return UBC_LEDGER_OK;
}

/* Executes a passed proposal. A refused treasury spend leaves the proposal active so it can be
 * executed again later (after a resume, or once the treasury holds enough). */
uint16_t
ubc_ledger_op_execute(struct ubc_ledger *ledger, const struct ubc_ledger_op *op)
{
    uint32_t slot = proposal_find(ledger, op->args.u.proposal.proposal_id);
    if (slot == UBC_LEDGER_NO_INDEX)
        return UBC_LEDGER_ERR_NO_PROPOSAL;
    struct ubc_ledger_proposal *p = &ubc_ledger_proposals(ledger)[slot];
    if (p->state != UBC_LEDGER_PROPOSAL_ACTIVE)
        return UBC_LEDGER_ERR_VOTING_CLOSED;
    uint64_t timelock = ledger->params[UBC_LEDGER_PARAM_TIMELOCK_HEIGHTS];
    if (ledger->height < p->voting_end_height || ledger->height - p->voting_end_height < timelock)
        return UBC_LEDGER_ERR_TIME_LOCK;
    if (!proposal_passed(ledger, p)) {
        p->state = UBC_LEDGER_PROPOSAL_REJECTED;
        return UBC_LEDGER_ERR_NOT_PASSED;
    }
    switch (p->kind) {
    case UBC_LEDGER_PROPOSAL_PARAMETER:
        UBC_ASSERT(ubc_ledger_param_valid(p->param, p->value));
        ledger->params[p->param] = p->value;
        break;
    case UBC_LEDGER_PROPOSAL_TREASURY: {
        uint16_t r = treasury_spend(ledger, p);
        if (r != UBC_LEDGER_OK)
            return r;
        break;
    }
    case UBC_LEDGER_PROPOSAL_UPGRADE:
        ledger->pending_version = p->value;
        ledger->pending_height = p->height > ledger->height ? p->height : ledger->height + 1;
        break;
    default: UBC_ASSERT(0 && "proposal kind validated at propose");
    }
    p->state = UBC_LEDGER_PROPOSAL_EXECUTED;
    return UBC_LEDGER_OK;
}

void
ubc_ledger_proposals_digest(const struct ubc_ledger *ledger, uint8_t out[16])
{
    const struct ubc_ledger_proposal *slots = ubc_ledger_proposals(ledger);
    XXH128_hash_t h = XXH3_128bits_withSeed(
        slots, (size_t)ledger->config.proposals_max * sizeof(*slots), ledger->config.chain_id);
    XXH128_canonicalFromHash((XXH128_canonical_t *)out, h);
}
