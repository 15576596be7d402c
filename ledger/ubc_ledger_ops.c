/* ubc_ledger_ops.c: the semantics of every operation except governance.
 *
 * Each handler runs on the ledger thread after authorization (ubc_ledger.c) and either applies
 * the whole operation or changes nothing and returns a refusal: checks first, then writes. The
 * supply counters move with the account fields, so the conservation equation holds after every
 * handler. Handlers rehash every account they touch except `source`, which the caller rehashes.
 */
#include <string.h>

#include "ledger/ubc_ledger_private.h"

static struct ubc_ledger_account *
account_at(struct ubc_ledger *ledger, uint32_t slot)
{
    UBC_ASSERT(slot < ledger->account_capacity);
    struct ubc_ledger_account *a = &ubc_ledger_accounts(ledger)[slot];
    UBC_ASSERT(a->flags & UBC_LEDGER_SLOT_USED);
    return a;
}

static uint16_t
op_transfer(struct ubc_ledger *ledger, const struct ubc_ledger_op *op, uint32_t source)
{
    if (ledger->paused)
        return UBC_LEDGER_ERR_PAUSED;
    struct ubc_ledger_account *from = account_at(ledger, source);
    uint32_t target_slot = ubc_ledger_account_find(ledger, op->args.u.transfer.target);
    if (target_slot == UBC_LEDGER_NO_INDEX)
        return UBC_LEDGER_ERR_NO_ACCOUNT;
    struct ubc_ledger_account *to = account_at(ledger, target_slot);
    uint64_t amount = op->args.u.transfer.amount;
    if (from->balance < amount)
        return UBC_LEDGER_ERR_INSUFFICIENT_FUNDS;
    if (to == from)
        return UBC_LEDGER_OK;
    uint64_t to_balance;
    if (__builtin_add_overflow(to->balance, amount, &to_balance))
        return UBC_LEDGER_ERR_OVERFLOW;
    from->balance -= amount;
    to->balance = to_balance;
    ubc_ledger_account_rehash(ledger, to);
    return UBC_LEDGER_OK;
}

static uint16_t
op_stake(struct ubc_ledger *ledger, const struct ubc_ledger_op *op, uint32_t source)
{
    if (ledger->paused)
        return UBC_LEDGER_ERR_PAUSED;
    struct ubc_ledger_account *a = account_at(ledger, source);
    uint64_t amount = op->args.u.amount.amount;
    uint64_t staked;
    if (amount == 0)
        return UBC_LEDGER_ERR_MALFORMED;
    if (a->balance < amount)
        return UBC_LEDGER_ERR_INSUFFICIENT_FUNDS;
    if (__builtin_add_overflow(a->staked, amount, &staked))
        return UBC_LEDGER_ERR_OVERFLOW;
    if (staked < ledger->params[UBC_LEDGER_PARAM_MIN_STAKE])
        return UBC_LEDGER_ERR_MIN_STAKE;
    a->balance -= amount;
    a->staked = staked;
    ledger->balances -= amount;
    ledger->staked += amount;
    return UBC_LEDGER_OK;
}

static uint16_t
op_unstake(struct ubc_ledger *ledger, const struct ubc_ledger_op *op, uint32_t source)
{
    struct ubc_ledger_account *a = account_at(ledger, source);
    uint64_t amount = op->args.u.amount.amount;
    uint64_t release_height;
    if (amount == 0)
        return UBC_LEDGER_ERR_MALFORMED;
    if (a->staked < amount)
        return UBC_LEDGER_ERR_INSUFFICIENT_FUNDS;
    uint64_t left = a->staked - amount;
    if (left != 0 && left < ledger->params[UBC_LEDGER_PARAM_MIN_STAKE])
        return UBC_LEDGER_ERR_MIN_STAKE;
    if (__builtin_add_overflow(ledger->height, ledger->params[UBC_LEDGER_PARAM_UNBONDING_HEIGHTS],
                               &release_height))
        return UBC_LEDGER_ERR_OVERFLOW;
    if (ubc_ledger_unbonding_push(ledger, source, amount, release_height) != 0)
        return UBC_LEDGER_ERR_FULL;
    a->staked = left;
    a->unbonding += amount; /* staked + unbonding <= minted: no overflow */
    ledger->staked -= amount;
    ledger->unbonding += amount;
    return UBC_LEDGER_OK;
}

static uint16_t
op_burn(struct ubc_ledger *ledger, const struct ubc_ledger_op *op, uint32_t source)
{
    struct ubc_ledger_account *a = account_at(ledger, source);
    uint64_t amount = op->args.u.amount.amount;
    if (a->balance < amount)
        return UBC_LEDGER_ERR_INSUFFICIENT_FUNDS;
    a->balance -= amount;
    ledger->balances -= amount;
    ledger->burned += amount;
    return UBC_LEDGER_OK;
}

static uint16_t
op_escrow_lock(struct ubc_ledger *ledger, const struct ubc_ledger_op *op)
{
    if (ledger->paused)
        return UBC_LEDGER_ERR_PAUSED;
    uint32_t owner_slot = ubc_ledger_account_find(ledger, op->account);
    if (owner_slot == UBC_LEDGER_NO_INDEX)
        return UBC_LEDGER_ERR_NO_ACCOUNT;
    struct ubc_ledger_account *owner = account_at(ledger, owner_slot);
    uint64_t amount = op->args.u.escrow.amount;
    if (owner->flags & UBC_LEDGER_ACCOUNT_FROZEN)
        return UBC_LEDGER_ERR_FROZEN;
    if (amount == 0)
        return UBC_LEDGER_ERR_MALFORMED;
    if (ubc_ledger_escrow_find(ledger, owner_slot, op->args.u.escrow.job_id) != UBC_LEDGER_NO_INDEX)
        return UBC_LEDGER_ERR_ESCROW_EXISTS;
    if (owner->balance < amount)
        return UBC_LEDGER_ERR_INSUFFICIENT_FUNDS;
    if (ubc_ledger_escrow_insert(ledger, owner_slot, op->args.u.escrow.job_id, amount) ==
        UBC_LEDGER_NO_INDEX)
        return UBC_LEDGER_ERR_FULL;
    owner->balance -= amount;
    owner->escrowed += amount;
    ledger->balances -= amount;
    ledger->escrowed += amount;
    ubc_ledger_account_rehash(ledger, owner);
    return UBC_LEDGER_OK;
}

/* Returns what is left in escrow slot `slot` to its owner and closes it. */
static void
escrow_close(struct ubc_ledger *ledger, struct ubc_ledger_account *owner, uint32_t slot)
{
    uint64_t rest = ubc_ledger_escrows(ledger)[slot].amount;
    UBC_ASSERT(owner->escrowed >= rest && ledger->escrowed >= rest);
    owner->escrowed -= rest;
    owner->balance += rest;
    ledger->escrowed -= rest;
    ledger->balances += rest;
    ubc_ledger_escrow_remove(ledger, slot);
}

/* The account node-authority credits go to (a provider's payment key, vouched for by the node
 * at registration): found, or opened on first payment so that no settlement is lost to a
 * missing account. UBC_LEDGER_NO_INDEX only when the account table is full. Called after every
 * other check of the op, because it writes. */
static uint32_t
payee_find_or_open(struct ubc_ledger *ledger, const uint8_t *key)
{
    uint32_t slot = ubc_ledger_account_find(ledger, key);
    if (slot == UBC_LEDGER_NO_INDEX)
        slot = ubc_ledger_account_insert(ledger, key, ledger->height);
    return slot;
}

static uint16_t
op_escrow_release(struct ubc_ledger *ledger, const struct ubc_ledger_op *op)
{
    if (ledger->paused)
        return UBC_LEDGER_ERR_PAUSED;
    uint32_t owner_slot = ubc_ledger_account_find(ledger, op->account);
    if (owner_slot == UBC_LEDGER_NO_INDEX)
        return UBC_LEDGER_ERR_NO_ACCOUNT;
    uint32_t slot = ubc_ledger_escrow_find(ledger, owner_slot, op->args.u.escrow.job_id);
    if (slot == UBC_LEDGER_NO_INDEX)
        return UBC_LEDGER_ERR_NO_ESCROW;
    struct ubc_ledger_escrow *e = &ubc_ledger_escrows(ledger)[slot];
    uint64_t amount = op->args.u.escrow.amount;
    if (amount > e->amount)
        return UBC_LEDGER_ERR_INSUFFICIENT_FUNDS;
    uint32_t provider_slot = payee_find_or_open(ledger, op->args.u.escrow.provider);
    if (provider_slot == UBC_LEDGER_NO_INDEX)
        return UBC_LEDGER_ERR_FULL;
    struct ubc_ledger_account *owner = account_at(ledger, owner_slot);
    struct ubc_ledger_account *provider = account_at(ledger, provider_slot);
    uint64_t fee =
        (uint64_t)((ubc_u128)amount * ledger->params[UBC_LEDGER_PARAM_BURN_RATE_BPS] / 10000u);
    uint64_t paid = amount - fee;
    UBC_ASSERT(fee <= amount && owner->escrowed >= amount);
    owner->escrowed -= amount;
    provider->balance += paid; /* provider balance + owner escrow <= minted: no overflow */
    ledger->escrowed -= amount;
    ledger->balances += paid;
    ledger->burned += fee;
    ubc_ledger_escrow_update(ledger, slot, e->amount - amount);
    if (op->flags & UBC_LEDGER_FLAG_RELEASE_FINAL)
        escrow_close(ledger, owner, slot);
    ubc_ledger_account_rehash(ledger, provider);
    if (provider != owner)
        ubc_ledger_account_rehash(ledger, owner);
    return UBC_LEDGER_OK;
}

static uint16_t
op_escrow_refund(struct ubc_ledger *ledger, const struct ubc_ledger_op *op)
{
    uint32_t owner_slot = ubc_ledger_account_find(ledger, op->account);
    if (owner_slot == UBC_LEDGER_NO_INDEX)
        return UBC_LEDGER_ERR_NO_ACCOUNT;
    uint32_t slot = ubc_ledger_escrow_find(ledger, owner_slot, op->args.u.escrow.job_id);
    if (slot == UBC_LEDGER_NO_INDEX)
        return UBC_LEDGER_ERR_NO_ESCROW;
    struct ubc_ledger_account *owner = account_at(ledger, owner_slot);
    escrow_close(ledger, owner, slot);
    ubc_ledger_account_rehash(ledger, owner);
    return UBC_LEDGER_OK;
}

/* Pays `amount` of already-minted funds held outside balances (reward pool or fresh emission)
 * to the treasury. */
static void
treasury_credit(struct ubc_ledger *ledger, uint64_t amount)
{
    struct ubc_ledger_account *t = account_at(ledger, ledger->treasury_index);
    t->balance += amount; /* <= minted */
    ledger->balances += amount;
    ubc_ledger_account_rehash(ledger, t);
}

/* Splits `share` over stakers in proportion to stake (one pass over the table, once per epoch);
 * returns the undistributed dust. */
static uint64_t
stake_share_pay(struct ubc_ledger *ledger, uint64_t share)
{
    if (ledger->staked == 0)
        return share;
    struct ubc_ledger_account *accounts = ubc_ledger_accounts(ledger);
    uint64_t paid_total = 0;
    for (uint64_t slot = 0; slot < ledger->account_capacity; slot++) {
        struct ubc_ledger_account *a = &accounts[slot];
        if (!(a->flags & UBC_LEDGER_SLOT_USED) || a->staked == 0)
            continue;
        uint64_t paid = (uint64_t)((ubc_u128)share * a->staked / ledger->staked);
        a->balance += paid;
        paid_total += paid;
        ubc_ledger_account_rehash(ledger, a);
    }
    UBC_ASSERT(paid_total <= share);
    ledger->balances += paid_total;
    return share - paid_total;
}

static uint16_t
op_reward_epoch(struct ubc_ledger *ledger, const struct ubc_ledger_op *op)
{
    uint64_t emission = ledger->params[UBC_LEDGER_PARAM_EMISSION_PER_EPOCH];
    uint64_t minted;
    if (op->args.u.reward.epoch != ledger->epoch + 1)
        return UBC_LEDGER_ERR_EPOCH;
    if (__builtin_add_overflow(ledger->minted, emission, &minted))
        return UBC_LEDGER_ERR_OVERFLOW;
    ledger->epoch++;
    /* Work rewards unclaimed in the last epoch go to the treasury, not to the next epoch. */
    uint64_t leftover = ledger->reward_pool;
    ledger->reward_pool = 0;
    ledger->minted = minted;
    uint64_t work_share =
        (uint64_t)((ubc_u128)emission * ledger->params[UBC_LEDGER_PARAM_REWARD_WORK_BPS] / 10000u);
    uint64_t stake_share = emission - work_share;
    uint64_t work_units = op->args.u.reward.work_units;
    if (work_units == 0) {
        leftover += work_share; /* cannot overflow: both are parts of minted */
        work_share = 0;
    }
    ledger->reward_pool = work_share;
    ledger->epoch_work_units_left = work_units;
    leftover += stake_share_pay(ledger, stake_share);
    treasury_credit(ledger, leftover);
    return UBC_LEDGER_OK;
}

static uint16_t
op_reward_work(struct ubc_ledger *ledger, const struct ubc_ledger_op *op)
{
    uint64_t units = op->args.u.reward.work_units;
    if (op->args.u.reward.epoch != ledger->epoch || ledger->epoch == 0)
        return UBC_LEDGER_ERR_EPOCH;
    if (units == 0 || units > ledger->epoch_work_units_left)
        return UBC_LEDGER_ERR_MALFORMED;
    uint32_t slot = payee_find_or_open(ledger, op->args.u.reward.provider);
    if (slot == UBC_LEDGER_NO_INDEX)
        return UBC_LEDGER_ERR_FULL;
    struct ubc_ledger_account *provider = account_at(ledger, slot);
    /* pool * units / units_left telescopes: the last claim takes exactly what remains. */
    uint64_t paid =
        (uint64_t)((ubc_u128)ledger->reward_pool * units / ledger->epoch_work_units_left);
    UBC_ASSERT(paid <= ledger->reward_pool);
    ledger->reward_pool -= paid;
    ledger->epoch_work_units_left -= units;
    provider->balance += paid;
    ledger->balances += paid;
    ubc_ledger_account_rehash(ledger, provider);
    return UBC_LEDGER_OK;
}

static uint16_t
op_slash(struct ubc_ledger *ledger, const struct ubc_ledger_op *op)
{
    if (op->args.u.slash.sequence <= ledger->slash_sequence)
        return UBC_LEDGER_ERR_SEQUENCE;
    uint32_t slot = ubc_ledger_account_find(ledger, op->account);
    if (slot == UBC_LEDGER_NO_INDEX)
        return UBC_LEDGER_ERR_NO_ACCOUNT;
    struct ubc_ledger_account *a = account_at(ledger, slot);
    uint64_t taken = op->args.u.slash.amount < a->staked ? op->args.u.slash.amount : a->staked;
    ledger->slash_sequence = op->args.u.slash.sequence;
    a->staked -= taken;
    ledger->staked -= taken;
    ledger->burned += taken;
    ubc_ledger_account_rehash(ledger, a);
    return UBC_LEDGER_OK;
}

static uint16_t
op_multisig_add_key(struct ubc_ledger *ledger, const struct ubc_ledger_op *op, uint32_t source)
{
    struct ubc_ledger_account *a = account_at(ledger, source);
    if (a->multisig_index == UBC_LEDGER_NO_INDEX) {
        if (ledger->multisig_count >= ledger->config.multisig_accounts_max)
            return UBC_LEDGER_ERR_FULL;
        a->multisig_index = ledger->multisig_count++;
        struct ubc_ledger_multisig *fresh = ubc_ledger_multisig_at(ledger, a->multisig_index);
        memset(fresh, 0, ledger->multisig_stride);
    }
    struct ubc_ledger_multisig *m = ubc_ledger_multisig_at(ledger, a->multisig_index);
    uint8_t(*keys)[32] = ubc_ledger_multisig_keys(m);
    for (uint32_t k = 0; k < m->key_count; k++)
        if (ubc_ledger_key_equal(keys[k], op->args.u.multisig_key.key))
            return UBC_LEDGER_ERR_MALFORMED;
    if (m->key_count >= ledger->config.multisig_keys_max)
        return UBC_LEDGER_ERR_FULL;
    memcpy(keys[m->key_count], op->args.u.multisig_key.key, UBC_LEDGER_KEY_BYTES);
    m->key_count++;
    ubc_ledger_multisig_rehash(ledger, a);
    return UBC_LEDGER_OK;
}

static uint16_t
op_multisig_set_threshold(struct ubc_ledger *ledger, const struct ubc_ledger_op *op,
                          uint32_t source)
{
    struct ubc_ledger_account *a = account_at(ledger, source);
    if (a->multisig_index == UBC_LEDGER_NO_INDEX)
        return UBC_LEDGER_ERR_MALFORMED;
    struct ubc_ledger_multisig *m = ubc_ledger_multisig_at(ledger, a->multisig_index);
    uint32_t threshold = op->args.u.multisig_threshold.threshold;
    if (threshold == 0 || threshold > m->key_count)
        return UBC_LEDGER_ERR_MALFORMED;
    m->threshold = threshold;
    a->flags |= UBC_LEDGER_ACCOUNT_MULTISIG;
    ubc_ledger_multisig_rehash(ledger, a);
    return UBC_LEDGER_OK;
}

static uint16_t
op_guardian(struct ubc_ledger *ledger, const struct ubc_ledger_op *op, uint32_t source)
{
    if (source != ledger->guardian_index)
        return UBC_LEDGER_ERR_UNAUTHORIZED;
    if (op->kind == UBC_LEDGER_OP_PAUSE || op->kind == UBC_LEDGER_OP_RESUME) {
        ledger->paused = op->kind == UBC_LEDGER_OP_PAUSE;
        return UBC_LEDGER_OK;
    }
    UBC_ASSERT(op->kind == UBC_LEDGER_OP_FREEZE);
    uint32_t slot = ubc_ledger_account_find(ledger, op->args.u.transfer.target);
    if (slot == UBC_LEDGER_NO_INDEX)
        return UBC_LEDGER_ERR_NO_ACCOUNT;
    if (slot == ledger->guardian_index)
        return UBC_LEDGER_ERR_UNAUTHORIZED; /* the guardian cannot lock itself out */
    struct ubc_ledger_account *target = account_at(ledger, slot);
    if (op->flags & UBC_LEDGER_FLAG_FREEZE_SET)
        target->flags |= UBC_LEDGER_ACCOUNT_FROZEN;
    else
        target->flags &= ~UBC_LEDGER_ACCOUNT_FROZEN;
    ubc_ledger_account_rehash(ledger, target);
    return UBC_LEDGER_OK;
}

static uint16_t
dispatch_account(struct ubc_ledger *ledger, const struct ubc_ledger_op *op, uint32_t source)
{
    if (account_at(ledger, source)->flags & UBC_LEDGER_ACCOUNT_FROZEN)
        return UBC_LEDGER_ERR_FROZEN;
    switch (op->kind) {
    case UBC_LEDGER_OP_TRANSFER: return op_transfer(ledger, op, source);
    case UBC_LEDGER_OP_STAKE: return op_stake(ledger, op, source);
    case UBC_LEDGER_OP_UNSTAKE: return op_unstake(ledger, op, source);
    case UBC_LEDGER_OP_BURN: return op_burn(ledger, op, source);
    case UBC_LEDGER_OP_PROPOSE: return ubc_ledger_op_propose(ledger, op, source);
    case UBC_LEDGER_OP_VOTE: return ubc_ledger_op_vote(ledger, op, source);
    case UBC_LEDGER_OP_EXECUTE: return ubc_ledger_op_execute(ledger, op);
    case UBC_LEDGER_OP_MULTISIG_ADD_KEY: return op_multisig_add_key(ledger, op, source);
    case UBC_LEDGER_OP_MULTISIG_SET_THRESHOLD: return op_multisig_set_threshold(ledger, op, source);
    default: return UBC_LEDGER_ERR_MALFORMED;
    }
}

uint16_t
ubc_ledger_op_dispatch(struct ubc_ledger *ledger, const struct ubc_ledger_op *op, uint32_t source)
{
    switch (op->kind) {
    case UBC_LEDGER_OP_ESCROW_LOCK: return op_escrow_lock(ledger, op);
    case UBC_LEDGER_OP_ESCROW_RELEASE: return op_escrow_release(ledger, op);
    case UBC_LEDGER_OP_ESCROW_REFUND: return op_escrow_refund(ledger, op);
    case UBC_LEDGER_OP_REWARD_EPOCH: return op_reward_epoch(ledger, op);
    case UBC_LEDGER_OP_REWARD_WORK: return op_reward_work(ledger, op);
    case UBC_LEDGER_OP_SLASH: return op_slash(ledger, op);
    case UBC_LEDGER_OP_PAUSE:
    case UBC_LEDGER_OP_RESUME:
    case UBC_LEDGER_OP_FREEZE: return op_guardian(ledger, op, source);
    default: break;
    }
    UBC_ASSERT(source != UBC_LEDGER_NO_INDEX);
    return dispatch_account(ledger, op, source);
}
