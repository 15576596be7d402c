/* test_ledger_property.c: random operations against a deliberately simple reference model.
 *
 * The model keeps accounts in a small array indexed by user number, escrows in a linear list
 * and unbonding entries in a plain FIFO; it predicts each op's result code and effect. After
 * every batch the test compares every account, every supply bucket and every result code with
 * the ledger, checks conservation (counters and a full table scan) and that no amount exceeds
 * the supply (an underflow would). Signatures are not the subject here: ops are marked as the
 * verify stage would (OK, BAD or not verified). UBC_LEDGER_PROPERTY_OPS sets the op count
 * (default 500000; the 'stress' suite runs millions); UBC_LEDGER_PROPERTY_SEED the seed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "common/ubc_splitmix.h"
#include "ledger_test_util.h"

#define USERS 16u
#define FUNDED 12u
#define ESCROWS_MAX 32u
#define UNBONDING_MAX 64u
#define JOBS 48u
#define GUARDIAN USERS /* model index of the guardian account */
#define TREASURY (USERS + 1)
#define SLOTS (USERS + 2)

#define MEMBERS 6u /* pool of keys multisig accounts may add */
struct model_account {
    int exists, frozen;
    uint64_t balance, staked, escrowed, unbonding, nonce;
    int ms_alloc, ms_active; /* a key set exists; the threshold was set */
    uint32_t ms_threshold, ms_count, ms_keys[4];
};
struct model_escrow {
    int open;
    uint32_t owner;
    uint64_t job, amount;
};
struct model_unbond {
    uint32_t owner;
    uint64_t amount, release;
};
#define PROPOSALS 4u
struct model_proposal {
    int state;             /* enum ubc_ledger_proposal_state */
    uint32_t param, voted; /* voted: bit per model account */
    uint64_t id, value, end, yes, no;
};
struct model {
    struct model_account a[SLOTS];
    struct model_proposal p[PROPOSALS];
    uint64_t next_id, quorum_bps, threshold_bps, voting_heights, timelock_heights;
    uint32_t ms_allocated;
    struct model_escrow e[ESCROWS_MAX];
    struct model_unbond q[UNBONDING_MAX];
    uint32_t q_head, q_count, escrow_count;
    uint64_t minted, burned, pool, units_left, epoch, slash_seq, height;
    int paused;
    uint64_t burn_bps, min_stake, unbonding_heights, emission, work_bps;
};

static uint8_t keys[SLOTS + 1][32]; /* [SLOTS]: the guardian's member key */
static uint8_t authority_key[32];
static uint8_t member_keys[MEMBERS][32];

static uint64_t
rng_next(uint64_t *s)
{
    return ubc_splitmix64(s);
}

static uint64_t
rng_below(uint64_t *s, uint64_t bound)
{
    return rng_next(s) % bound;
}

static struct model_escrow *
model_escrow_find(struct model *m, uint32_t owner, uint64_t job)
{
    for (uint32_t i = 0; i < ESCROWS_MAX; i++)
        if (m->e[i].open && m->e[i].owner == owner && m->e[i].job == job)
            return &m->e[i];
    return NULL;
}

static void
model_escrow_close(struct model *m, struct model_escrow *e)
{
    struct model_account *o = &m->a[e->owner];
    o->escrowed -= e->amount;
    o->balance += e->amount;
    e->open = 0;
    m->escrow_count--;
}

static void
model_batch_begin(struct model *m, uint64_t height)
{
    m->height = height;
    while (m->q_count > 0 && m->q[m->q_head].release <= height) {
        struct model_unbond *u = &m->q[m->q_head];
        m->a[u->owner].unbonding -= u->amount;
        m->a[u->owner].balance += u->amount;
        m->q_head = (m->q_head + 1) % UNBONDING_MAX;
        m->q_count--;
    }
}

/* The op the generator made, in model terms. */
struct gen {
    uint8_t kind, mark, flags;
    uint32_t user, other;
    uint64_t amount, job, nonce;
    uint32_t signer_count, signers[6]; /* member keys signing for a multisig account */
};

static const uint32_t gov_params[3] = { UBC_LEDGER_PARAM_BURN_RATE_BPS, UBC_LEDGER_PARAM_MIN_STAKE,
                                        UBC_LEDGER_PARAM_UNBONDING_HEIGHTS };

static struct model_proposal *
model_proposal_find(struct model *m, uint64_t id)
{
    for (uint32_t i = 0; i < PROPOSALS; i++)
        if (m->p[i].state != UBC_LEDGER_PROPOSAL_FREE && m->p[i].id == id)
            return &m->p[i];
    return NULL;
}

static uint16_t
model_propose(struct model *m, const struct gen *g)
{
    const struct model_account *a = &m->a[g->user];
    if (a->staked == 0 || a->staked < m->min_stake)
        return UBC_LEDGER_ERR_NO_STAKE;
    uint32_t param = gov_params[g->job % 3];
    if (param == UBC_LEDGER_PARAM_BURN_RATE_BPS && g->amount > 10000)
        return UBC_LEDGER_ERR_BAD_PARAMETER;
    struct model_proposal *slot = NULL;
    for (uint32_t i = 0; i < PROPOSALS && slot == NULL; i++)
        if (m->p[i].state == UBC_LEDGER_PROPOSAL_FREE)
            slot = &m->p[i];
    for (uint32_t i = 0; i < PROPOSALS && slot == NULL; i++) {
        struct model_proposal *p = &m->p[i];
        int oldest = 1;
        for (uint32_t k = 0; k < PROPOSALS; k++)
            if (m->p[k].state != UBC_LEDGER_PROPOSAL_ACTIVE && m->p[k].id < p->id)
                oldest = 0;
        if (p->state != UBC_LEDGER_PROPOSAL_ACTIVE && oldest)
            slot = p;
    }
    if (slot == NULL)
        return UBC_LEDGER_ERR_FULL;
    *slot =
        (struct model_proposal){ UBC_LEDGER_PROPOSAL_ACTIVE,    param, 0, m->next_id++, g->amount,
                                 m->height + m->voting_heights, 0,     0 };
    return UBC_LEDGER_OK;
}

static uint16_t
model_vote(struct model *m, const struct gen *g)
{
    struct model_proposal *p = model_proposal_find(m, g->job);
    if (p == NULL)
        return UBC_LEDGER_ERR_NO_PROPOSAL;
    if (p->state != UBC_LEDGER_PROPOSAL_ACTIVE || m->height >= p->end)
        return UBC_LEDGER_ERR_VOTING_CLOSED;
    uint64_t weight = m->a[g->user].staked;
    if (weight == 0)
        return UBC_LEDGER_ERR_NO_STAKE;
    if (p->voted & (1u << g->user))
        return UBC_LEDGER_ERR_ALREADY_VOTED;
    p->voted |= 1u << g->user;
    if (g->flags & UBC_LEDGER_FLAG_VOTE_YES)
        p->yes += weight;
    else
        p->no += weight;
    return UBC_LEDGER_OK;
}

static uint16_t
model_execute(struct model *m, const struct gen *g)
{
    struct model_proposal *p = model_proposal_find(m, g->job);
    if (p == NULL)
        return UBC_LEDGER_ERR_NO_PROPOSAL;
    if (p->state != UBC_LEDGER_PROPOSAL_ACTIVE)
        return UBC_LEDGER_ERR_VOTING_CLOSED;
    if (m->height < p->end + m->timelock_heights)
        return UBC_LEDGER_ERR_TIME_LOCK;
    unsigned __int128 total = 0, cast = (unsigned __int128)p->yes + p->no;
    for (uint32_t i = 0; i < SLOTS; i++)
        total += m->a[i].staked;
    if (p->yes == 0 || cast * 10000 < total * m->quorum_bps ||
        (unsigned __int128)p->yes * 10000 < cast * m->threshold_bps) {
        p->state = UBC_LEDGER_PROPOSAL_REJECTED;
        return UBC_LEDGER_ERR_NOT_PASSED;
    }
    if (p->param == UBC_LEDGER_PARAM_BURN_RATE_BPS)
        m->burn_bps = p->value;
    else if (p->param == UBC_LEDGER_PARAM_MIN_STAKE)
        m->min_stake = p->value;
    else
        m->unbonding_heights = p->value;
    p->state = UBC_LEDGER_PROPOSAL_EXECUTED;
    return UBC_LEDGER_OK;
}

static uint16_t
model_multisig_op(struct model *m, const struct gen *g)
{
    struct model_account *a = &m->a[g->user];
    if (g->kind == UBC_LEDGER_OP_MULTISIG_SET_THRESHOLD) {
        if (!a->ms_alloc || g->amount == 0 || g->amount > a->ms_count)
            return UBC_LEDGER_ERR_MALFORMED;
        a->ms_threshold = (uint32_t)g->amount;
        a->ms_active = 1;
        return UBC_LEDGER_OK;
    }
    if (!a->ms_alloc) {
        if (m->ms_allocated >= 4)
            return UBC_LEDGER_ERR_FULL;
        a->ms_alloc = 1;
        m->ms_allocated++;
    }
    for (uint32_t k = 0; k < a->ms_count; k++)
        if (a->ms_keys[k] == g->job)
            return UBC_LEDGER_ERR_MALFORMED;
    if (a->ms_count >= 4)
        return UBC_LEDGER_ERR_FULL;
    a->ms_keys[a->ms_count++] = (uint32_t)g->job;
    return UBC_LEDGER_OK;
}

/* k distinct members among the signers, every signer a member. */
static uint16_t
model_multisig_check(const struct model_account *a, const struct gen *g)
{
    uint32_t seen = 0;
    for (uint32_t i = 0; i < g->signer_count; i++) {
        uint32_t member = UINT32_MAX;
        for (uint32_t k = 0; k < a->ms_count; k++)
            if (a->ms_keys[k] == g->signers[i])
                member = k;
        if (member == UINT32_MAX)
            return UBC_LEDGER_ERR_UNAUTHORIZED;
        seen |= 1u << member;
    }
    return (uint32_t)__builtin_popcount(seen) < a->ms_threshold ? UBC_LEDGER_ERR_MULTISIG_TOO_FEW
                                                                : UBC_LEDGER_OK;
}

static uint16_t
model_user_op(struct model *m, const struct gen *g)
{
    struct model_account *a = &m->a[g->user], *t = &m->a[g->other];
    switch (g->kind) {
    case UBC_LEDGER_OP_TRANSFER:
        if (m->paused)
            return UBC_LEDGER_ERR_PAUSED;
        if (!t->exists)
            return UBC_LEDGER_ERR_NO_ACCOUNT;
        if (a->balance < g->amount)
            return UBC_LEDGER_ERR_INSUFFICIENT_FUNDS;
        a->balance -= g->amount;
        t->balance += g->amount;
        return UBC_LEDGER_OK;
    case UBC_LEDGER_OP_STAKE:
        if (m->paused)
            return UBC_LEDGER_ERR_PAUSED;
        if (g->amount == 0)
            return UBC_LEDGER_ERR_MALFORMED;
        if (a->balance < g->amount)
            return UBC_LEDGER_ERR_INSUFFICIENT_FUNDS;
        if (a->staked + g->amount < m->min_stake)
            return UBC_LEDGER_ERR_MIN_STAKE;
        a->balance -= g->amount;
        a->staked += g->amount;
        return UBC_LEDGER_OK;
    case UBC_LEDGER_OP_UNSTAKE:
        if (g->amount == 0)
            return UBC_LEDGER_ERR_MALFORMED;
        if (a->staked < g->amount)
            return UBC_LEDGER_ERR_INSUFFICIENT_FUNDS;
        if (a->staked - g->amount != 0 && a->staked - g->amount < m->min_stake)
            return UBC_LEDGER_ERR_MIN_STAKE;
        if (m->q_count == UNBONDING_MAX)
            return UBC_LEDGER_ERR_FULL;
        m->q[(m->q_head + m->q_count) % UNBONDING_MAX] =
            (struct model_unbond){ g->user, g->amount, m->height + m->unbonding_heights };
        m->q_count++;
        a->staked -= g->amount;
        a->unbonding += g->amount;
        return UBC_LEDGER_OK;
    case UBC_LEDGER_OP_BURN:
        if (a->balance < g->amount)
            return UBC_LEDGER_ERR_INSUFFICIENT_FUNDS;
        a->balance -= g->amount;
        m->burned += g->amount;
        return UBC_LEDGER_OK;
    case UBC_LEDGER_OP_PROPOSE: return model_propose(m, g);
    case UBC_LEDGER_OP_MULTISIG_ADD_KEY:
    case UBC_LEDGER_OP_MULTISIG_SET_THRESHOLD: return model_multisig_op(m, g);
    case UBC_LEDGER_OP_VOTE: return model_vote(m, g);
    case UBC_LEDGER_OP_EXECUTE: return model_execute(m, g);
    default: return UINT16_MAX;
    }
}

static uint16_t
model_guardian_op(struct model *m, const struct gen *g)
{
    if (g->user != GUARDIAN)
        return UBC_LEDGER_ERR_UNAUTHORIZED;
    if (g->kind != UBC_LEDGER_OP_FREEZE) {
        m->paused = g->kind == UBC_LEDGER_OP_PAUSE;
        return UBC_LEDGER_OK;
    }
    if (!m->a[g->other].exists)
        return UBC_LEDGER_ERR_NO_ACCOUNT;
    if (g->other == GUARDIAN)
        return UBC_LEDGER_ERR_UNAUTHORIZED;
    m->a[g->other].frozen = g->flags & UBC_LEDGER_FLAG_FREEZE_SET;
    return UBC_LEDGER_OK;
}

static uint16_t
model_signed_op(struct model *m, const struct gen *g)
{
    if (g->mark == UBC_LEDGER_VERIFY_NONE)
        return UBC_LEDGER_ERR_NOT_VERIFIED;
    if (g->mark == UBC_LEDGER_VERIFY_BAD)
        return UBC_LEDGER_ERR_BAD_SIGNATURE;
    struct model_account *a = &m->a[g->user];
    if (!a->exists)
        return UBC_LEDGER_ERR_NO_ACCOUNT;
    if (a->ms_active) {
        uint16_t r = model_multisig_check(a, g);
        if (r != UBC_LEDGER_OK)
            return r;
    }
    if (g->nonce != a->nonce + 1)
        return UBC_LEDGER_ERR_NONCE;
    a->nonce++;
    if (g->kind == UBC_LEDGER_OP_PAUSE || g->kind == UBC_LEDGER_OP_RESUME ||
        g->kind == UBC_LEDGER_OP_FREEZE)
        return model_guardian_op(m, g);
    if (a->frozen)
        return UBC_LEDGER_ERR_FROZEN;
    return model_user_op(m, g);
}

static uint16_t
model_escrow_op(struct model *m, const struct gen *g)
{
    struct model_account *o = &m->a[g->user];
    if (m->paused && g->kind != UBC_LEDGER_OP_ESCROW_REFUND)
        return UBC_LEDGER_ERR_PAUSED;
    if (!o->exists)
        return UBC_LEDGER_ERR_NO_ACCOUNT;
    struct model_escrow *e = model_escrow_find(m, g->user, g->job);
    if (g->kind == UBC_LEDGER_OP_ESCROW_LOCK) {
        if (o->frozen)
            return UBC_LEDGER_ERR_FROZEN;
        if (g->amount == 0)
            return UBC_LEDGER_ERR_MALFORMED;
        if (e != NULL)
            return UBC_LEDGER_ERR_ESCROW_EXISTS;
        if (o->balance < g->amount)
            return UBC_LEDGER_ERR_INSUFFICIENT_FUNDS;
        if (m->escrow_count == ESCROWS_MAX)
            return UBC_LEDGER_ERR_FULL;
        for (e = m->e; e->open; e++)
            ;
        *e = (struct model_escrow){ 1, g->user, g->job, g->amount };
        m->escrow_count++;
        o->balance -= g->amount;
        o->escrowed += g->amount;
        return UBC_LEDGER_OK;
    }
    if (e == NULL)
        return UBC_LEDGER_ERR_NO_ESCROW;
    if (g->kind == UBC_LEDGER_OP_ESCROW_REFUND) {
        model_escrow_close(m, e);
        return UBC_LEDGER_OK;
    }
    if (g->amount > e->amount)
        return UBC_LEDGER_ERR_INSUFFICIENT_FUNDS;
    m->a[g->other].exists = 1; /* a payee's account opens on its first payment */
    uint64_t fee = g->amount * m->burn_bps / 10000;
    e->amount -= g->amount;
    o->escrowed -= g->amount;
    m->a[g->other].balance += g->amount - fee;
    m->burned += fee;
    if (g->flags & UBC_LEDGER_FLAG_RELEASE_FINAL)
        model_escrow_close(m, e);
    return UBC_LEDGER_OK;
}

static uint16_t
model_reward_op(struct model *m, const struct gen *g)
{
    if (g->kind == UBC_LEDGER_OP_REWARD_EPOCH) {
        if (g->job != m->epoch + 1)
            return UBC_LEDGER_ERR_EPOCH;
        m->epoch++;
        m->minted += m->emission;
        uint64_t leftover = m->pool, work = m->emission * m->work_bps / 10000;
        uint64_t stake = m->emission - work, total = 0, paid = 0;
        if (g->amount == 0) {
            leftover += work;
            work = 0;
        }
        m->pool = work;
        m->units_left = g->amount;
        for (uint32_t i = 0; i < SLOTS; i++)
            total += m->a[i].staked;
        for (uint32_t i = 0; i < SLOTS && total > 0; i++) {
            uint64_t share = (uint64_t)((unsigned __int128)stake * m->a[i].staked / total);
            m->a[i].balance += share;
            paid += share;
        }
        m->a[TREASURY].balance += leftover + stake - paid;
        return UBC_LEDGER_OK;
    }
    if (g->job != m->epoch || m->epoch == 0)
        return UBC_LEDGER_ERR_EPOCH;
    if (g->amount == 0 || g->amount > m->units_left)
        return UBC_LEDGER_ERR_MALFORMED;
    m->a[g->other].exists = 1;
    uint64_t paid = (uint64_t)((unsigned __int128)m->pool * g->amount / m->units_left);
    m->pool -= paid;
    m->units_left -= g->amount;
    m->a[g->other].balance += paid;
    return UBC_LEDGER_OK;
}

static uint16_t
model_node_op(struct model *m, const struct gen *g)
{
    if (g->mark == UBC_LEDGER_VERIFY_NONE)
        return UBC_LEDGER_ERR_NOT_VERIFIED;
    switch (g->kind) {
    case UBC_LEDGER_OP_CREATE_ACCOUNT:
        if (m->a[g->user].exists)
            return UBC_LEDGER_ERR_ACCOUNT_EXISTS;
        m->a[g->user].exists = 1;
        return UBC_LEDGER_OK;
    case UBC_LEDGER_OP_SLASH: {
        if (g->job <= m->slash_seq)
            return UBC_LEDGER_ERR_SEQUENCE;
        struct model_account *a = &m->a[g->user];
        if (!a->exists)
            return UBC_LEDGER_ERR_NO_ACCOUNT;
        uint64_t taken = g->amount < a->staked ? g->amount : a->staked;
        m->slash_seq = g->job;
        a->staked -= taken;
        m->burned += taken;
        return UBC_LEDGER_OK;
    }
    case UBC_LEDGER_OP_REWARD_EPOCH:
    case UBC_LEDGER_OP_REWARD_WORK: return model_reward_op(m, g);
    default: return model_escrow_op(m, g);
    }
}

static int
is_node_kind(uint8_t kind)
{
    return kind == UBC_LEDGER_OP_CREATE_ACCOUNT || kind == UBC_LEDGER_OP_SLASH ||
           (kind >= UBC_LEDGER_OP_ESCROW_LOCK && kind <= UBC_LEDGER_OP_REWARD_WORK);
}

static uint64_t
gen_amount(uint64_t *rng)
{
    switch (rng_below(rng, 4)) {
    case 0: return rng_below(rng, 10);
    case 1: return rng_below(rng, 1000);
    case 2: return rng_below(rng, 20000);
    default: return rng_below(rng, 200000);
    }
}

static const uint8_t gen_kinds[] = {
    UBC_LEDGER_OP_TRANSFER,
    UBC_LEDGER_OP_TRANSFER,
    UBC_LEDGER_OP_TRANSFER,
    UBC_LEDGER_OP_TRANSFER,
    UBC_LEDGER_OP_STAKE,
    UBC_LEDGER_OP_UNSTAKE,
    UBC_LEDGER_OP_BURN,
    UBC_LEDGER_OP_ESCROW_LOCK,
    UBC_LEDGER_OP_ESCROW_LOCK,
    UBC_LEDGER_OP_ESCROW_RELEASE,
    UBC_LEDGER_OP_ESCROW_RELEASE,
    UBC_LEDGER_OP_ESCROW_REFUND,
    UBC_LEDGER_OP_CREATE_ACCOUNT,
    UBC_LEDGER_OP_REWARD_EPOCH,
    UBC_LEDGER_OP_REWARD_WORK,
    UBC_LEDGER_OP_SLASH,
    UBC_LEDGER_OP_PAUSE,
    UBC_LEDGER_OP_RESUME,
    UBC_LEDGER_OP_FREEZE,
    UBC_LEDGER_OP_STAKE,
    UBC_LEDGER_OP_UNSTAKE,
    UBC_LEDGER_OP_PROPOSE,
    UBC_LEDGER_OP_VOTE,
    UBC_LEDGER_OP_VOTE,
    UBC_LEDGER_OP_EXECUTE,
    UBC_LEDGER_OP_MULTISIG_ADD_KEY,
    UBC_LEDGER_OP_MULTISIG_SET_THRESHOLD,
};

/* Draws one op; the nonce is right most of the time so that most ops get through. */
static struct gen
gen_op(uint64_t *rng, const struct model *m)
{
    struct gen g;
    memset(&g, 0, sizeof(g));
    g.kind = gen_kinds[rng_below(rng, sizeof(gen_kinds))];
    g.user = (uint32_t)rng_below(rng, USERS);
    g.other = (uint32_t)rng_below(rng, SLOTS);
    g.amount = gen_amount(rng);
    g.job = rng_below(rng, JOBS);
    g.flags = (uint8_t)rng_below(rng, 2);
    uint64_t fault = rng_below(rng, 100);
    g.mark = fault < 2 ? UBC_LEDGER_VERIFY_NONE
                       : (fault < 4 && !is_node_kind(g.kind) ? UBC_LEDGER_VERIFY_BAD
                                                             : UBC_LEDGER_VERIFY_OK);
    if (g.kind == UBC_LEDGER_OP_PAUSE || g.kind == UBC_LEDGER_OP_RESUME ||
        g.kind == UBC_LEDGER_OP_FREEZE)
        g.user = rng_below(rng, 8) == 0 ? g.user : GUARDIAN;
    if (g.kind == UBC_LEDGER_OP_FREEZE)
        g.flags = rng_below(rng, 4) == 0 ? UBC_LEDGER_FLAG_FREEZE_SET : 0;
    if (g.kind == UBC_LEDGER_OP_PAUSE && rng_below(rng, 3) != 0)
        g.kind = UBC_LEDGER_OP_RESUME; /* keep the ledger mostly running */
    if (g.kind == UBC_LEDGER_OP_REWARD_EPOCH || g.kind == UBC_LEDGER_OP_REWARD_WORK)
        g.job = m->epoch + rng_below(rng, 3) - (g.kind == UBC_LEDGER_OP_REWARD_WORK);
    if (g.kind == UBC_LEDGER_OP_REWARD_WORK || g.kind == UBC_LEDGER_OP_REWARD_EPOCH)
        g.amount = rng_below(rng, 6);
    if (g.kind == UBC_LEDGER_OP_SLASH)
        g.job = m->slash_seq + rng_below(rng, 3);
    if ((g.kind == UBC_LEDGER_OP_ESCROW_RELEASE || g.kind == UBC_LEDGER_OP_ESCROW_REFUND) &&
        rng_below(rng, 4) != 0) { /* mostly settle an escrow that is open */
        const struct model_escrow *e = &m->e[rng_below(rng, ESCROWS_MAX)];
        if (e->open) {
            g.user = e->owner;
            g.job = e->job;
            g.amount = rng_below(rng, 2) ? e->amount / (1 + rng_below(rng, 3)) : g.amount;
        }
    }
    if (g.kind == UBC_LEDGER_OP_VOTE || g.kind == UBC_LEDGER_OP_EXECUTE) {
        uint64_t back = rng_below(rng, 6);
        g.job = m->next_id > back ? m->next_id - back : 0;
    }
    if (g.kind == UBC_LEDGER_OP_PROPOSE) {
        g.job = rng_below(rng, 3);
        g.amount = g.job == 0 ? rng_below(rng, 10100) : rng_below(rng, g.job == 1 ? 500 : 20);
    }
    if (g.kind == UBC_LEDGER_OP_MULTISIG_ADD_KEY ||
        g.kind == UBC_LEDGER_OP_MULTISIG_SET_THRESHOLD) {
        g.user = 8 + (uint32_t)rng_below(rng, 2); /* two users become multisig accounts */
        g.job = rng_below(rng, MEMBERS);
        g.amount = rng_below(rng, 5);
    }
    if (!is_node_kind(g.kind) && g.user < USERS && m->a[g.user].ms_active) {
        const struct model_account *a = &m->a[g.user];
        g.signer_count = 1 + (uint32_t)rng_below(rng, a->ms_threshold + 2);
        for (uint32_t i = 0; i < g.signer_count; i++) /* mostly members, sometimes outsiders */
            g.signers[i] = rng_below(rng, 8) != 0 ? a->ms_keys[rng_below(rng, a->ms_count)]
                                                  : (uint32_t)rng_below(rng, MEMBERS);
    }
    g.nonce = m->a[g.user].nonce + 1;
    if (rng_below(rng, 100) < 3)
        g.nonce += rng_below(rng, 3) + 1 - 2 * (rng_below(rng, 2)); /* off by some */
    return g;
}

/* Writes the op (and its cosign records) at ops; returns the number of records. */
static uint32_t
gen_encode(const struct gen *g, struct ubc_ledger_op *ops)
{
    struct ubc_ledger_op *op = &ops[0];
    memset(op, 0, sizeof(*op));
    op->kind = g->kind;
    op->flags = g->flags;
    op->nonce = g->nonce;
    memcpy(op->account, keys[g->user], 32);
    memcpy(op->signer, g->user == GUARDIAN ? keys[TREASURY + 1] : keys[g->user], 32);
    op->verify = is_node_kind(g->kind) && g->mark == UBC_LEDGER_VERIFY_OK
                     ? UBC_LEDGER_VERIFY_INTERNAL
                     : g->mark;
    switch (g->kind) {
    case UBC_LEDGER_OP_TRANSFER:
    case UBC_LEDGER_OP_FREEZE:
        memcpy(op->args.u.transfer.target, keys[g->other], 32);
        op->args.u.transfer.amount = g->amount;
        break;
    case UBC_LEDGER_OP_ESCROW_LOCK:
    case UBC_LEDGER_OP_ESCROW_RELEASE:
    case UBC_LEDGER_OP_ESCROW_REFUND:
        op->args.u.escrow.job_id = g->job;
        op->args.u.escrow.amount = g->amount;
        memcpy(op->args.u.escrow.provider, keys[g->other], 32);
        break;
    case UBC_LEDGER_OP_REWARD_EPOCH:
    case UBC_LEDGER_OP_REWARD_WORK:
        op->args.u.reward.epoch = g->job;
        op->args.u.reward.work_units = g->amount;
        memcpy(op->args.u.reward.provider, keys[g->other], 32);
        break;
    case UBC_LEDGER_OP_SLASH:
        op->args.u.slash.amount = g->amount;
        op->args.u.slash.sequence = g->job;
        break;
    case UBC_LEDGER_OP_PROPOSE:
        op->args.u.propose.kind = UBC_LEDGER_PROPOSAL_PARAMETER;
        op->args.u.propose.param = gov_params[g->job % 3];
        op->args.u.propose.value = g->amount;
        break;
    case UBC_LEDGER_OP_VOTE:
    case UBC_LEDGER_OP_EXECUTE: op->args.u.proposal.proposal_id = g->job; break;
    case UBC_LEDGER_OP_MULTISIG_ADD_KEY:
        memcpy(op->args.u.multisig_key.key, member_keys[g->job], 32);
        break;
    case UBC_LEDGER_OP_MULTISIG_SET_THRESHOLD:
        op->args.u.multisig_threshold.threshold = (uint32_t)g->amount;
        break;
    default: op->args.u.amount.amount = g->amount; break;
    }
    if (g->signer_count == 0)
        return 1;
    op->cosign_count = (uint8_t)(g->signer_count - 1);
    memcpy(op->signer, member_keys[g->signers[0]], 32);
    for (uint32_t i = 1; i < g->signer_count; i++) {
        memset(&ops[i], 0, sizeof(ops[i]));
        ops[i].kind = UBC_LEDGER_OP_COSIGN;
        ops[i].verify = UBC_LEDGER_VERIFY_OK;
        memcpy(ops[i].signer, member_keys[g->signers[i]], 32);
    }
    return g->signer_count;
}

static void
model_compare(const struct model *m, struct ubc_ledger *ledger)
{
    struct ubc_ledger_supply s;
    ubc_ledger_supply_get(ledger, &s);
    assert_true(s.conserved);
    assert_true(s.scan_matches);
    uint64_t balances = 0, staked = 0, escrowed = 0, unbonding = 0;
    for (uint32_t i = 0; i < SLOTS; i++) {
        struct ubc_ledger_account_info info;
        const struct model_account *a = &m->a[i];
        int rc = ubc_ledger_account_get(ledger, keys[i], &info);
        assert_int_equal(rc == 0, a->exists);
        if (rc != 0)
            continue;
        assert_int_equal(info.balance, a->balance);
        assert_int_equal(info.staked, a->staked);
        assert_int_equal(info.escrowed, a->escrowed);
        assert_int_equal(info.unbonding, a->unbonding);
        assert_int_equal(info.nonce, a->nonce);
        assert_int_equal((info.flags & UBC_LEDGER_ACCOUNT_FROZEN) != 0, a->frozen != 0);
        if (i < USERS) {
            assert_int_equal((info.flags & UBC_LEDGER_ACCOUNT_MULTISIG) != 0, a->ms_active);
            assert_int_equal(info.multisig_key_count, a->ms_count);
            assert_int_equal(info.multisig_threshold, a->ms_threshold);
        }
        assert_true(info.balance <= s.minted && info.staked <= s.minted);
        balances += a->balance;
        staked += a->staked;
        escrowed += a->escrowed;
        unbonding += a->unbonding;
    }
    assert_int_equal(s.minted, m->minted);
    assert_int_equal(s.burned, m->burned);
    assert_int_equal(s.reward_pool, m->pool);
    assert_int_equal(s.balances, balances);
    assert_int_equal(s.staked, staked);
    assert_int_equal(s.escrowed, escrowed);
    assert_int_equal(s.unbonding, unbonding);
    assert_int_equal(ubc_ledger_paused(ledger), m->paused);
}

static void
model_init(struct model *m, const struct ubc_ledger_config *c)
{
    memset(m, 0, sizeof(*m));
    for (uint32_t i = 0; i < FUNDED; i++) {
        m->a[i].exists = 1;
        m->a[i].balance = 50000;
        m->minted += 50000;
    }
    m->a[GUARDIAN].exists = 1;
    m->a[TREASURY].exists = 1;
    m->burn_bps = c->params[UBC_LEDGER_PARAM_BURN_RATE_BPS];
    m->min_stake = c->params[UBC_LEDGER_PARAM_MIN_STAKE];
    m->unbonding_heights = c->params[UBC_LEDGER_PARAM_UNBONDING_HEIGHTS];
    m->emission = c->params[UBC_LEDGER_PARAM_EMISSION_PER_EPOCH];
    m->work_bps = c->params[UBC_LEDGER_PARAM_REWARD_WORK_BPS];
    m->quorum_bps = c->params[UBC_LEDGER_PARAM_QUORUM_BPS];
    m->threshold_bps = c->params[UBC_LEDGER_PARAM_THRESHOLD_BPS];
    m->voting_heights = c->params[UBC_LEDGER_PARAM_VOTING_HEIGHTS];
    m->timelock_heights = c->params[UBC_LEDGER_PARAM_TIMELOCK_HEIGHTS];
    m->next_id = 1;
    m->ms_allocated = 1; /* the guardian's key set */
}

static void
property_setup(struct test_fixture *f)
{
    memset(f, 0, sizeof(*f));
    for (uint32_t i = 0; i < SLOTS + 1; i++) {
        memset(keys[i], 0, 32);
        keys[i][0] = (uint8_t)(i + 1);
        keys[i][31] = 0xc3;
    }
    memset(authority_key, 0xaa, 32);
    for (uint32_t i = 0; i < MEMBERS; i++) {
        memset(member_keys[i], 0, 32);
        member_keys[i][0] = (uint8_t)(0x80 + i);
        member_keys[i][31] = 0xd7;
    }
    test_config_default(f, 0, 0);
    f->config.escrows_max = ESCROWS_MAX;
    f->config.unbonding_max = UNBONDING_MAX;
    memcpy(f->config.authority, authority_key, 32);
    memcpy(f->config.guardian, keys[GUARDIAN], 32);
    memcpy(f->config.treasury, keys[TREASURY], 32);
    memcpy(f->guardian_keys[0], keys[TREASURY + 1], 32); /* the guardian's only member */
    f->config.guardian_key_count = 1;
    f->config.guardian_threshold = 1;
    for (uint32_t i = 0; i < FUNDED; i++) {
        memcpy(f->genesis[i].key, keys[i], 32);
        f->genesis[i].balance = 50000;
    }
    f->config.genesis_count = FUNDED;
}

static uint64_t
env_u64(const char *name, uint64_t fallback)
{
    const char *text = getenv(name);
    return text != NULL && *text != '\0' ? strtoull(text, NULL, 0) : fallback;
}

static void
test_property(void **state)
{
    (void)state;
    static struct test_fixture f;
    static struct model m;
    property_setup(&f);
    assert_int_equal(test_ledger_open(&f), 0);
    model_init(&m, &f.config);
    uint64_t total = env_u64("UBC_LEDGER_PROPERTY_OPS", 500000);
    uint64_t rng = env_u64("UBC_LEDGER_PROPERTY_SEED", 0x1edde7);
    uint64_t height = 1, done = 0, ok = 0;
    struct ubc_ledger_op ops[64 * 6];
    uint16_t expected[64 * 6], results[64 * 6];
    uint64_t histogram[UBC_LEDGER_RESULT_COUNT] = { 0 };
    uint64_t applied_by_kind[UBC_LEDGER_OP_KIND_COUNT] = { 0 };
    while (done < total) {
        uint32_t n = 1 + (uint32_t)rng_below(&rng, 64);
        height += rng_below(&rng, 3);
        model_batch_begin(&m, height);
        uint32_t records = 0;
        for (uint32_t i = 0; i < n; i++) {
            struct gen g = gen_op(&rng, &m);
            uint32_t count = gen_encode(&g, &ops[records]);
            uint16_t e = is_node_kind(g.kind) ? model_node_op(&m, &g) : model_signed_op(&m, &g);
            for (uint32_t k = 0; k < count; k++)
                expected[records++] = e;
        }
        n = records;
        struct ubc_ledger_audit audit;
        assert_int_equal(ubc_ledger_apply_batch(f.ledger, ops, n, height, results, &audit), 0);
        for (uint32_t i = 0; i < n; i++) {
            if (results[i] != expected[i])
                fail_msg("op %llu (%s): ledger %s, model %s", (unsigned long long)(done + i),
                         ubc_ledger_op_kind_name(ops[i].kind), ubc_ledger_result_name(results[i]),
                         ubc_ledger_result_name(expected[i]));
            ok += results[i] == UBC_LEDGER_OK;
            histogram[results[i] < UBC_LEDGER_RESULT_COUNT ? results[i] : 0]++;
            applied_by_kind[ops[i].kind % UBC_LEDGER_OP_KIND_COUNT] += results[i] == UBC_LEDGER_OK;
        }
        model_compare(&m, f.ledger);
        done += n;
    }
    printf("property: %llu ops, %llu applied, final height %llu, epoch %llu, burned %llu\n",
           (unsigned long long)done, (unsigned long long)ok, (unsigned long long)height,
           (unsigned long long)m.epoch, (unsigned long long)m.burned);
    for (uint32_t r = 0; r < UBC_LEDGER_RESULT_COUNT; r++)
        if (histogram[r] != 0)
            printf("  %-20s %llu\n", ubc_ledger_result_name((uint16_t)r),
                   (unsigned long long)histogram[r]);
    for (uint32_t k = 1; k < UBC_LEDGER_OP_KIND_COUNT; k++)
        if (applied_by_kind[k] != 0)
            printf("  applied %-22s %llu\n", ubc_ledger_op_kind_name((uint8_t)k),
                   (unsigned long long)applied_by_kind[k]);
    assert_true(applied_by_kind[UBC_LEDGER_OP_EXECUTE] > 0); /* governance took effect */
    assert_true(ok > done / 5); /* the generator exercises success paths, not only refusals */
    test_ledger_close(&f);
}

/* Hostile input: generated ops with 1 to 4 random bytes overwritten anywhere in the record
 * (kind, cosign count, verify mark, keys, amounts). Nothing may crash, and after every batch
 * conservation and the full scan must hold. */
static void
test_mutated_ops(void **state)
{
    (void)state;
    static struct test_fixture f;
    static struct model m;
    property_setup(&f);
    assert_int_equal(test_ledger_open(&f), 0);
    model_init(&m, &f.config);
    uint64_t total = env_u64("UBC_LEDGER_PROPERTY_OPS", 500000) / 5;
    uint64_t rng = env_u64("UBC_LEDGER_PROPERTY_SEED", 0x1edde7) ^ 0xbadf00d;
    uint64_t height = 1, done = 0, ok = 0;
    struct ubc_ledger_op ops[64 * 6];
    uint16_t results[64 * 6];
    while (done < total) {
        uint32_t n = 1 + (uint32_t)rng_below(&rng, 64);
        height += rng_below(&rng, 3);
        for (uint32_t u = 0; u < SLOTS; u++) { /* follow the ledger's nonces, not a model */
            struct ubc_ledger_account_info info;
            m.a[u].nonce = ubc_ledger_account_get(f.ledger, keys[u], &info) == 0 ? info.nonce : 0;
        }
        uint32_t records = 0;
        for (uint32_t i = 0; i < n; i++) {
            struct gen g = gen_op(&rng, &m);
            m.a[g.user].nonce++;
            uint32_t count = gen_encode(&g, &ops[records]);
            uint8_t *bytes = (uint8_t *)&ops[records];
            for (uint64_t k = rng_below(&rng, 5); k > 0; k--)
                bytes[rng_below(&rng, sizeof(ops[0]) * count)] = (uint8_t)rng_next(&rng);
            records += count;
        }
        n = records;
        struct ubc_ledger_audit audit;
        assert_int_equal(ubc_ledger_apply_batch(f.ledger, ops, n, height, results, &audit), 0);
        struct ubc_ledger_supply s;
        ubc_ledger_supply_get(f.ledger, &s);
        assert_true(s.conserved);
        assert_true(s.scan_matches);
        for (uint32_t i = 0; i < n; i++) {
            assert_true(results[i] < UBC_LEDGER_RESULT_COUNT);
            ok += results[i] == UBC_LEDGER_OK;
        }
        done += n;
    }
    printf("mutated: %llu ops, %llu applied\n", (unsigned long long)done, (unsigned long long)ok);
    assert_true(ok > 0);
    test_ledger_close(&f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_property),
        cmocka_unit_test(test_mutated_ops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
