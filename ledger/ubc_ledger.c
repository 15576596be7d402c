/* ubc_ledger.c: life cycle, account and escrow tables, incremental hashing, the batch loop,
 * authorization, audit and replay. Operation semantics live in ubc_ledger_ops.c and
 * ubc_ledger_gov.c. Single-threaded by contract (see ubc_ledger.h) except the summary seqlock.
 */
#include <errno.h>
#include <string.h>

#include <sodium.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "ledger/ubc_ledger_private.h"

UBC_STATIC_ASSERT(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "ledger records are little endian");

#define LEDGER_ALIGN 64u

static uint64_t
align_up(uint64_t value, uint64_t align)
{
    return (value + align - 1) & ~(align - 1);
}

static uint64_t
pow2_at_least(uint64_t value)
{
    uint64_t result = 1;
    while (result < value)
        result <<= 1;
    return result;
}

static ubc_u128
hash128(const void *data, size_t bytes, uint64_t seed)
{
    XXH128_hash_t h = XXH3_128bits_withSeed(data, bytes, seed);
    return ((ubc_u128)h.high64 << 64) | h.low64;
}

size_t
ubc_ledger_align(void)
{
    return LEDGER_ALIGN;
}

static int
config_valid(const struct ubc_ledger_config *c)
{
    if (c == NULL)
        return 0;
    if (c->accounts_max < 4 || c->accounts_max > (1u << 28))
        return 0;
    if (c->escrows_max < 1 || c->escrows_max > (1u << 28) || c->unbonding_max < 1 ||
        c->unbonding_max > (1u << 28))
        return 0;
    if (c->proposals_max < 1 || c->proposals_max > 256)
        return 0;
    if (c->multisig_accounts_max < 1 || c->multisig_accounts_max > (1u << 20))
        return 0;
    if (c->multisig_keys_max < 1 || c->multisig_keys_max > UBC_LEDGER_MULTISIG_KEYS_LIMIT)
        return 0;
    if (c->guardian_key_count < 1 || c->guardian_key_count > c->multisig_keys_max ||
        c->guardian_keys == NULL)
        return 0;
    if (c->guardian_threshold < 1 || c->guardian_threshold > c->guardian_key_count)
        return 0;
    if (c->genesis_count > c->accounts_max - 2 || (c->genesis_count > 0 && c->genesis == NULL))
        return 0;
    for (uint32_t p = 0; p < UBC_LEDGER_PARAM_COUNT; p++)
        if (!ubc_ledger_param_valid(p, c->params[p]))
            return 0;
    return 1;
}

/* Computes the layout into *layout (a scratch header) and returns the footprint, 0 if invalid. */
static size_t
layout_compute(const struct ubc_ledger_config *c, struct ubc_ledger *layout)
{
    if (!config_valid(c))
        return 0;
    memset(layout, 0, sizeof(*layout));
    layout->account_capacity = pow2_at_least(2ull * c->accounts_max);
    layout->escrow_capacity = pow2_at_least(2ull * c->escrows_max);
    layout->bitmap_words = (layout->account_capacity + 63) / 64;
    layout->multisig_stride = align_up(sizeof(struct ubc_ledger_multisig) +
                                           (uint64_t)c->multisig_keys_max * UBC_LEDGER_KEY_BYTES,
                                       8);
    uint64_t off = align_up(sizeof(struct ubc_ledger), LEDGER_ALIGN);
    layout->offset_accounts = off;
    off = align_up(off + layout->account_capacity * sizeof(struct ubc_ledger_account), 64);
    layout->offset_escrows = off;
    off = align_up(off + layout->escrow_capacity * sizeof(struct ubc_ledger_escrow), 64);
    layout->offset_unbonding = off;
    off = align_up(off + (uint64_t)c->unbonding_max * sizeof(struct ubc_ledger_unbonding), 64);
    layout->offset_proposals = off;
    off = align_up(off + (uint64_t)c->proposals_max * sizeof(struct ubc_ledger_proposal), 64);
    layout->offset_bitmaps = off;
    off = align_up(off + (uint64_t)c->proposals_max * layout->bitmap_words * 8, 64);
    layout->offset_multisig = off;
    off = align_up(off + (uint64_t)c->multisig_accounts_max * layout->multisig_stride, 64);
    layout->footprint = off;
    return (size_t)off;
}

size_t
ubc_ledger_footprint(const struct ubc_ledger_config *config)
{
    struct ubc_ledger layout;
    return layout_compute(config, &layout);
}

/* ---- account table: open addressing, linear probing, no deletion ---- */

static uint64_t
account_home(const struct ubc_ledger *ledger, const uint8_t *key)
{
    return XXH3_64bits_withSeed(key, UBC_LEDGER_KEY_BYTES, ledger->config.chain_id) &
           (ledger->account_capacity - 1);
}

uint32_t
ubc_ledger_account_find(const struct ubc_ledger *ledger, const uint8_t *key)
{
    struct ubc_ledger_account *accounts = ubc_ledger_accounts(ledger);
    uint64_t mask = ledger->account_capacity - 1;
    uint64_t slot = account_home(ledger, key);
    /* The load factor stays <= 1/2, so an empty slot always ends the probe. */
    for (uint64_t probe = 0; probe < ledger->account_capacity; probe++) {
        const struct ubc_ledger_account *a = &accounts[slot];
        if (!(a->flags & UBC_LEDGER_SLOT_USED))
            return UBC_LEDGER_NO_INDEX;
        if (ubc_ledger_key_equal(a->key, key))
            return (uint32_t)slot;
        slot = (slot + 1) & mask;
    }
    UBC_ASSERT(0 && "account table has no empty slot");
    return UBC_LEDGER_NO_INDEX;
}

void
ubc_ledger_account_rehash(struct ubc_ledger *ledger, struct ubc_ledger_account *account)
{
    UBC_ASSERT(account->flags & UBC_LEDGER_SLOT_USED);
    ubc_u128 fresh = hash128(account, UBC_LEDGER_ACCOUNT_HASHED_BYTES, ledger->config.chain_id);
    ledger->accounts_sum = ledger->accounts_sum - account->hash + fresh;
    account->hash = fresh;
}

/* Returns the new slot, or UBC_LEDGER_NO_INDEX when accounts_max is reached. The caller checked
 * that the key is absent. */
uint32_t
ubc_ledger_account_insert(struct ubc_ledger *ledger, const uint8_t *key, uint64_t height)
{
    if (ledger->account_count >= ledger->config.accounts_max)
        return UBC_LEDGER_NO_INDEX;
    struct ubc_ledger_account *accounts = ubc_ledger_accounts(ledger);
    uint64_t mask = ledger->account_capacity - 1;
    uint64_t slot = account_home(ledger, key);
    for (uint64_t probe = 0; probe < ledger->account_capacity; probe++) {
        struct ubc_ledger_account *a = &accounts[slot];
        if (!(a->flags & UBC_LEDGER_SLOT_USED)) {
            memset(a, 0, sizeof(*a));
            memcpy(a->key, key, UBC_LEDGER_KEY_BYTES);
            a->created_height = height;
            a->flags = UBC_LEDGER_SLOT_USED;
            a->multisig_index = UBC_LEDGER_NO_INDEX;
            ubc_ledger_account_rehash(ledger, a);
            ledger->account_count++;
            return (uint32_t)slot;
        }
        UBC_ASSERT(!ubc_ledger_key_equal(a->key, key));
        slot = (slot + 1) & mask;
    }
    UBC_ASSERT(0 && "account table has no empty slot");
    return UBC_LEDGER_NO_INDEX;
}

void
ubc_ledger_multisig_rehash(struct ubc_ledger *ledger, struct ubc_ledger_account *account)
{
    UBC_ASSERT(account->multisig_index != UBC_LEDGER_NO_INDEX);
    struct ubc_ledger_multisig *m = ubc_ledger_multisig_at(ledger, account->multisig_index);
    UBC_ASSERT(m->key_count <= ledger->config.multisig_keys_max);
    size_t bytes = sizeof(*m) + (size_t)m->key_count * UBC_LEDGER_KEY_BYTES;
    account->multisig_digest = XXH3_64bits_withSeed(m, bytes, ledger->config.chain_id);
    ubc_ledger_account_rehash(ledger, account);
}

/* ---- escrow table: open addressing keyed by (owner slot, job id), backward-shift delete ---- */

static uint64_t
escrow_home(const struct ubc_ledger *ledger, uint32_t owner_index, uint64_t job_id)
{
    uint64_t key[2] = { job_id, owner_index };
    return XXH3_64bits_withSeed(key, sizeof(key), ledger->config.chain_id) &
           (ledger->escrow_capacity - 1);
}

uint32_t
ubc_ledger_escrow_find(const struct ubc_ledger *ledger, uint32_t owner_index, uint64_t job_id)
{
    struct ubc_ledger_escrow *escrows = ubc_ledger_escrows(ledger);
    uint64_t mask = ledger->escrow_capacity - 1;
    uint64_t slot = escrow_home(ledger, owner_index, job_id);
    for (uint64_t probe = 0; probe < ledger->escrow_capacity; probe++) {
        const struct ubc_ledger_escrow *e = &escrows[slot];
        if (e->owner_index == UBC_LEDGER_NO_INDEX)
            return UBC_LEDGER_NO_INDEX;
        if (e->owner_index == owner_index && e->job_id == job_id)
            return (uint32_t)slot;
        slot = (slot + 1) & mask;
    }
    UBC_ASSERT(0 && "escrow table has no empty slot");
    return UBC_LEDGER_NO_INDEX;
}

static void
escrow_rehash(struct ubc_ledger *ledger, struct ubc_ledger_escrow *e)
{
    ubc_u128 fresh = hash128(e, UBC_LEDGER_ESCROW_HASHED_BYTES, ledger->config.chain_id);
    ledger->escrows_sum = ledger->escrows_sum - e->hash + fresh;
    e->hash = fresh;
}

uint32_t
ubc_ledger_escrow_insert(struct ubc_ledger *ledger, uint32_t owner_index, uint64_t job_id,
                         uint64_t amount)
{
    if (ledger->escrow_count >= ledger->config.escrows_max)
        return UBC_LEDGER_NO_INDEX;
    struct ubc_ledger_escrow *escrows = ubc_ledger_escrows(ledger);
    uint64_t mask = ledger->escrow_capacity - 1;
    uint64_t slot = escrow_home(ledger, owner_index, job_id);
    for (uint64_t probe = 0; probe < ledger->escrow_capacity; probe++) {
        struct ubc_ledger_escrow *e = &escrows[slot];
        if (e->owner_index == UBC_LEDGER_NO_INDEX) {
            memset(e, 0, sizeof(*e));
            e->job_id = job_id;
            e->owner_index = owner_index;
            e->amount = amount;
            e->created_height = ledger->height;
            escrow_rehash(ledger, e);
            ledger->escrow_count++;
            return (uint32_t)slot;
        }
        slot = (slot + 1) & mask;
    }
    UBC_ASSERT(0 && "escrow table has no empty slot");
    return UBC_LEDGER_NO_INDEX;
}

void
ubc_ledger_escrow_update(struct ubc_ledger *ledger, uint32_t slot, uint64_t amount)
{
    struct ubc_ledger_escrow *e = &ubc_ledger_escrows(ledger)[slot];
    UBC_ASSERT(e->owner_index != UBC_LEDGER_NO_INDEX);
    e->amount = amount;
    escrow_rehash(ledger, e);
}

void
ubc_ledger_escrow_remove(struct ubc_ledger *ledger, uint32_t slot)
{
    struct ubc_ledger_escrow *escrows = ubc_ledger_escrows(ledger);
    uint64_t mask = ledger->escrow_capacity - 1;
    uint64_t hole = slot;
    UBC_ASSERT(escrows[hole].owner_index != UBC_LEDGER_NO_INDEX);
    ledger->escrows_sum -= escrows[hole].hash;
    ledger->escrow_count--;
    /* Backward shift: pull later entries of the cluster into the hole unless their home lies
     * cyclically in (hole, next], so every probe path stays unbroken without tombstones. */
    uint64_t next = hole;
    for (uint64_t probe = 0; probe < ledger->escrow_capacity; probe++) {
        next = (next + 1) & mask;
        struct ubc_ledger_escrow *e = &escrows[next];
        if (e->owner_index == UBC_LEDGER_NO_INDEX)
            break;
        uint64_t home = escrow_home(ledger, e->owner_index, e->job_id);
        int stays = hole <= next ? (hole < home && home <= next) : (hole < home || home <= next);
        if (stays)
            continue;
        escrows[hole] = *e;
        hole = next;
    }
    memset(&escrows[hole], 0, sizeof(escrows[hole]));
    escrows[hole].owner_index = UBC_LEDGER_NO_INDEX;
}

/* ---- unbonding ring ---- */

ubc_u128
ubc_ledger_hash_unbonding(const struct ubc_ledger *ledger, const struct ubc_ledger_unbonding *entry)
{
    return hash128(entry, sizeof(*entry), ledger->config.chain_id);
}

int
ubc_ledger_unbonding_push(struct ubc_ledger *ledger, uint32_t account_index, uint64_t amount,
                          uint64_t release_height)
{
    if (ledger->unbonding_tail - ledger->unbonding_head >= ledger->config.unbonding_max)
        return -ENOSPC;
    struct ubc_ledger_unbonding *entry =
        &ubc_ledger_unbondings(ledger)[ledger->unbonding_tail % ledger->config.unbonding_max];
    memset(entry, 0, sizeof(*entry));
    entry->sequence = ledger->unbonding_tail;
    entry->amount = amount;
    entry->release_height = release_height;
    entry->account_index = account_index;
    ledger->unbonding_sum += ubc_ledger_hash_unbonding(ledger, entry);
    ledger->unbonding_tail++;
    return 0;
}

/* Releases unbonding entries due at `height`, in queue order. An entry whose release height is
 * later than its successor's (after governance shortened the unbonding time) holds the
 * successor back: release is never early, at most late by the old unbonding time. */
static void
unbonding_release(struct ubc_ledger *ledger, uint64_t height)
{
    struct ubc_ledger_unbonding *ring = ubc_ledger_unbondings(ledger);
    struct ubc_ledger_account *accounts = ubc_ledger_accounts(ledger);
    while (ledger->unbonding_head != ledger->unbonding_tail) {
        struct ubc_ledger_unbonding *e =
            &ring[ledger->unbonding_head % ledger->config.unbonding_max];
        if (e->release_height > height)
            break;
        struct ubc_ledger_account *a = &accounts[e->account_index];
        UBC_ASSERT(a->unbonding >= e->amount && ledger->unbonding >= e->amount);
        a->unbonding -= e->amount;
        a->balance += e->amount; /* cannot overflow: balance + unbonding <= minted */
        ledger->unbonding -= e->amount;
        ledger->balances += e->amount;
        ledger->unbonding_sum -= ubc_ledger_hash_unbonding(ledger, e);
        ubc_ledger_account_rehash(ledger, a);
        ledger->unbonding_head++;
    }
}

/* ---- life cycle ---- */

static int
genesis_apply(struct ubc_ledger *ledger, const struct ubc_ledger_config *c)
{
    uint32_t t = ubc_ledger_account_insert(ledger, c->treasury, 0);
    struct ubc_ledger_account *accounts = ubc_ledger_accounts(ledger);
    accounts[t].flags |= UBC_LEDGER_ACCOUNT_TREASURY;
    ubc_ledger_account_rehash(ledger, &accounts[t]);
    ledger->treasury_index = t;
    if (ubc_ledger_account_find(ledger, c->guardian) != UBC_LEDGER_NO_INDEX)
        return -EINVAL;
    uint32_t g = ubc_ledger_account_insert(ledger, c->guardian, 0);
    struct ubc_ledger_multisig *m = ubc_ledger_multisig_at(ledger, 0);
    m->threshold = c->guardian_threshold;
    m->key_count = c->guardian_key_count;
    memcpy(ubc_ledger_multisig_keys(m), c->guardian_keys,
           (size_t)c->guardian_key_count * UBC_LEDGER_KEY_BYTES);
    ledger->multisig_count = 1;
    accounts[g].flags |= UBC_LEDGER_ACCOUNT_MULTISIG;
    accounts[g].multisig_index = 0;
    ubc_ledger_multisig_rehash(ledger, &accounts[g]);
    ledger->guardian_index = g;
    for (uint32_t i = 0; i < c->genesis_count; i++) {
        uint32_t slot = ubc_ledger_account_find(ledger, c->genesis[i].key);
        if (slot == UBC_LEDGER_NO_INDEX)
            slot = ubc_ledger_account_insert(ledger, c->genesis[i].key, 0);
        UBC_ASSERT(slot != UBC_LEDGER_NO_INDEX); /* genesis_count <= accounts_max - 2 */
        struct ubc_ledger_account *a = &accounts[slot];
        if (__builtin_add_overflow(ledger->minted, c->genesis[i].balance, &ledger->minted))
            return -EOVERFLOW;
        a->balance += c->genesis[i].balance; /* <= minted, cannot overflow */
        ledger->balances += c->genesis[i].balance;
        ubc_ledger_account_rehash(ledger, a);
    }
    return 0;
}

static void summary_publish(struct ubc_ledger *ledger);

void *
ubc_ledger_new(void *mem, const struct ubc_ledger_config *config)
{
    struct ubc_ledger layout;
    size_t footprint = layout_compute(config, &layout);
    if (mem == NULL || footprint == 0 || ((uintptr_t)mem % LEDGER_ALIGN) != 0)
        return NULL;
    if (sodium_init() < 0) /* start-up only: the verify stage must not initialise lazily */
        return NULL;
    memset(mem, 0, footprint);
    struct ubc_ledger *ledger = mem;
    *ledger = layout;
    ledger->config = *config;
    ledger->config.guardian_keys = NULL; /* borrowed pointers are not kept */
    ledger->config.genesis = NULL;
    ledger->version = UBC_LEDGER_VERSION;
    ledger->proposal_next_id = 1;
    memcpy(ledger->params, config->params, sizeof(ledger->params));
    struct ubc_ledger_escrow *escrows = ubc_ledger_escrows(ledger);
    for (uint64_t i = 0; i < ledger->escrow_capacity; i++)
        escrows[i].owner_index = UBC_LEDGER_NO_INDEX;
    if (genesis_apply(ledger, config) != 0)
        return NULL;
    ubc_ledger_state_hash(ledger, ledger->state_hash_last);
    summary_publish(ledger);
    __atomic_store_n(&ledger->magic, UBC_LEDGER_MAGIC, __ATOMIC_RELEASE);
    return mem;
}

struct ubc_ledger *
ubc_ledger_join(void *mem)
{
    if (mem == NULL || ((uintptr_t)mem % LEDGER_ALIGN) != 0)
        return NULL;
    struct ubc_ledger *ledger = mem;
    if (__atomic_load_n(&ledger->magic, __ATOMIC_ACQUIRE) != UBC_LEDGER_MAGIC)
        return NULL;
    return ledger;
}

void *
ubc_ledger_leave(struct ubc_ledger *ledger)
{
    return ledger;
}

void *
ubc_ledger_delete(void *mem)
{
    struct ubc_ledger *ledger = ubc_ledger_join(mem);
    if (ledger == NULL)
        return NULL;
    __atomic_store_n(&ledger->magic, 0, __ATOMIC_RELEASE);
    return mem;
}

/* ---- state hash ---- */

struct state_image {
    uint64_t version, height, paused, pending_version, pending_height, epoch;
    uint64_t epoch_work_units_left, slash_sequence, proposal_next_id;
    uint64_t unbonding_head, unbonding_tail, account_count, escrow_count, multisig_count;
    uint64_t params[UBC_LEDGER_PARAM_COUNT];
    uint64_t minted, balances, staked, escrowed, unbonding, reward_pool, burned;
    ubc_u128 accounts_sum, escrows_sum, unbonding_sum;
    uint8_t proposals_digest[16];
};

static void
state_image_fill(const struct ubc_ledger *ledger, struct state_image *image_out)
{
    struct state_image image;
    memset(&image, 0, sizeof(image));
    image.version = ledger->version;
    image.height = ledger->height;
    image.paused = ledger->paused;
    image.pending_version = ledger->pending_version;
    image.pending_height = ledger->pending_height;
    image.epoch = ledger->epoch;
    image.epoch_work_units_left = ledger->epoch_work_units_left;
    image.slash_sequence = ledger->slash_sequence;
    image.proposal_next_id = ledger->proposal_next_id;
    image.unbonding_head = ledger->unbonding_head;
    image.unbonding_tail = ledger->unbonding_tail;
    image.account_count = ledger->account_count;
    image.escrow_count = ledger->escrow_count;
    image.multisig_count = ledger->multisig_count;
    memcpy(image.params, ledger->params, sizeof(image.params));
    image.minted = ledger->minted;
    image.balances = ledger->balances;
    image.staked = ledger->staked;
    image.escrowed = ledger->escrowed;
    image.unbonding = ledger->unbonding;
    image.reward_pool = ledger->reward_pool;
    image.burned = ledger->burned;
    image.accounts_sum = ledger->accounts_sum;
    image.escrows_sum = ledger->escrows_sum;
    image.unbonding_sum = ledger->unbonding_sum;
    ubc_ledger_proposals_digest(ledger, image.proposals_digest);
    *image_out = image;
}

void
ubc_ledger_state_hash(const struct ubc_ledger *ledger, uint8_t out[UBC_LEDGER_HASH_BYTES])
{
    struct state_image image;
    state_image_fill(ledger, &image);
    XXH128_hash_t h = XXH3_128bits_withSeed(&image, sizeof(image), ledger->config.chain_id);
    XXH128_canonicalFromHash((XXH128_canonical_t *)out, h);
}

/* BLAKE2b-256 over a canonical serialization of the whole state: the header image, then every
 * used account record and escrow record in slot order (slot positions are a function of the
 * applied history, so replicas agree), the unbonding queue in order, the proposal slots with
 * their voter bitmaps, and the multisig key sets in use. O(table sizes): for checkpoints. */
void
ubc_ledger_checkpoint_digest(const struct ubc_ledger *ledger,
                             uint8_t out[UBC_LEDGER_CHECKPOINT_BYTES])
{
    crypto_generichash_state state;
    struct state_image image;
    state_image_fill(ledger, &image);
    crypto_generichash_init(&state, NULL, 0, UBC_LEDGER_CHECKPOINT_BYTES);
    crypto_generichash_update(&state, (const uint8_t *)&image, sizeof(image));
    const struct ubc_ledger_account *accounts = ubc_ledger_accounts(ledger);
    for (uint64_t i = 0; i < ledger->account_capacity; i++)
        if (accounts[i].flags & UBC_LEDGER_SLOT_USED)
            crypto_generichash_update(&state, (const uint8_t *)&accounts[i],
                                      UBC_LEDGER_ACCOUNT_HASHED_BYTES);
    const struct ubc_ledger_escrow *escrows = ubc_ledger_escrows(ledger);
    for (uint64_t i = 0; i < ledger->escrow_capacity; i++)
        if (escrows[i].owner_index != UBC_LEDGER_NO_INDEX)
            crypto_generichash_update(&state, (const uint8_t *)&escrows[i],
                                      UBC_LEDGER_ESCROW_HASHED_BYTES);
    const struct ubc_ledger_unbonding *ring = ubc_ledger_unbondings(ledger);
    for (uint64_t p = ledger->unbonding_head; p != ledger->unbonding_tail; p++)
        crypto_generichash_update(&state, (const uint8_t *)&ring[p % ledger->config.unbonding_max],
                                  sizeof(*ring));
    crypto_generichash_update(&state, (const uint8_t *)ubc_ledger_proposals(ledger),
                              (size_t)ledger->config.proposals_max *
                                  sizeof(struct ubc_ledger_proposal));
    crypto_generichash_update(&state, (const uint8_t *)ubc_ledger_bitmap(ledger, 0),
                              (size_t)ledger->config.proposals_max * ledger->bitmap_words * 8);
    if (ledger->multisig_count > 0)
        crypto_generichash_update(&state, (const uint8_t *)ubc_ledger_multisig_at(ledger, 0),
                                  (size_t)ledger->multisig_count * ledger->multisig_stride);
    crypto_generichash_final(&state, out, UBC_LEDGER_CHECKPOINT_BYTES);
}

static int
supply_conserved(const struct ubc_ledger *ledger)
{
    ubc_u128 held = (ubc_u128)ledger->balances + ledger->staked + ledger->escrowed +
                    ledger->unbonding + ledger->reward_pool + ledger->burned;
    return held == (ubc_u128)ledger->minted;
}

/* ---- authorization ---- */

static int
is_authority_kind(uint8_t kind)
{
    return kind == UBC_LEDGER_OP_ESCROW_LOCK || kind == UBC_LEDGER_OP_ESCROW_RELEASE ||
           kind == UBC_LEDGER_OP_ESCROW_REFUND || kind == UBC_LEDGER_OP_REWARD_EPOCH ||
           kind == UBC_LEDGER_OP_REWARD_WORK || kind == UBC_LEDGER_OP_SLASH;
}

/* Checks the verify marks of an op and its cosigns; INTERNAL is acceptable only if allowed. */
static uint16_t
marks_check(const struct ubc_ledger_op *ops, uint32_t cosigns, int internal_allowed)
{
    for (uint32_t i = 0; i <= cosigns; i++) {
        switch (ops[i].verify) {
        case UBC_LEDGER_VERIFY_OK: break;
        case UBC_LEDGER_VERIFY_BAD: return UBC_LEDGER_ERR_BAD_SIGNATURE;
        case UBC_LEDGER_VERIFY_INTERNAL:
            if (!internal_allowed || i > 0)
                return UBC_LEDGER_ERR_UNAUTHORIZED;
            break;
        default: return UBC_LEDGER_ERR_NOT_VERIFIED;
        }
    }
    return UBC_LEDGER_OK;
}

static uint16_t
authorize_authority(const struct ubc_ledger *ledger, const struct ubc_ledger_op *ops,
                    uint32_t cosigns)
{
    uint16_t r = marks_check(ops, cosigns, 1);
    if (r != UBC_LEDGER_OK)
        return r;
    if (cosigns != 0)
        return UBC_LEDGER_ERR_MALFORMED;
    if (ops[0].verify == UBC_LEDGER_VERIFY_INTERNAL)
        return UBC_LEDGER_OK;
    if (!ubc_ledger_key_equal(ops[0].signer, ledger->config.authority))
        return UBC_LEDGER_ERR_UNAUTHORIZED;
    return UBC_LEDGER_OK;
}

/* Counts distinct member keys among the signers of ops[0..cosigns]; a non-member signs in vain
 * and makes the op unauthorized (a client bug or an attack worth refusing loudly). */
static uint16_t
multisig_check(const struct ubc_ledger *ledger, const struct ubc_ledger_account *account,
               const struct ubc_ledger_op *ops, uint32_t cosigns)
{
    struct ubc_ledger_multisig *m = ubc_ledger_multisig_at(ledger, account->multisig_index);
    uint8_t(*keys)[32] = ubc_ledger_multisig_keys(m);
    if (cosigns + 1 > UBC_LEDGER_MULTISIG_KEYS_LIMIT)
        return UBC_LEDGER_ERR_MALFORMED;
    uint32_t seen_mask = 0;
    for (uint32_t i = 0; i <= cosigns; i++) {
        uint32_t member = UBC_LEDGER_NO_INDEX;
        for (uint32_t k = 0; k < m->key_count; k++)
            if (ubc_ledger_key_equal(keys[k], ops[i].signer))
                member = k;
        if (member == UBC_LEDGER_NO_INDEX)
            return UBC_LEDGER_ERR_UNAUTHORIZED;
        seen_mask |= 1u << member;
    }
    if ((uint32_t)__builtin_popcount(seen_mask) < m->threshold)
        return UBC_LEDGER_ERR_MULTISIG_TOO_FEW;
    return UBC_LEDGER_OK;
}

/* Authorizes an account-signed op and consumes its nonce; *source receives the account slot.
 * From here on the op counts as the account's attempt, whatever the operation's outcome. */
static uint16_t
authorize_account(struct ubc_ledger *ledger, const struct ubc_ledger_op *ops, uint32_t cosigns,
                  uint32_t *source)
{
    uint16_t r = marks_check(ops, cosigns, 0);
    if (r != UBC_LEDGER_OK)
        return r;
    uint32_t slot = ubc_ledger_account_find(ledger, ops[0].account);
    if (slot == UBC_LEDGER_NO_INDEX)
        return UBC_LEDGER_ERR_NO_ACCOUNT;
    struct ubc_ledger_account *a = &ubc_ledger_accounts(ledger)[slot];
    if (a->flags & UBC_LEDGER_ACCOUNT_TREASURY)
        return UBC_LEDGER_ERR_UNAUTHORIZED;
    if (a->flags & UBC_LEDGER_ACCOUNT_MULTISIG) {
        r = multisig_check(ledger, a, ops, cosigns);
        if (r != UBC_LEDGER_OK)
            return r;
    } else {
        if (cosigns != 0)
            return UBC_LEDGER_ERR_MALFORMED;
        if (!ubc_ledger_key_equal(ops[0].signer, a->key))
            return UBC_LEDGER_ERR_UNAUTHORIZED;
    }
    if (a->nonce == UINT64_MAX || ops[0].nonce != a->nonce + 1)
        return UBC_LEDGER_ERR_NONCE;
    a->nonce++;
    *source = slot;
    return UBC_LEDGER_OK;
}

static uint16_t
apply_create(struct ubc_ledger *ledger, const struct ubc_ledger_op *ops, uint32_t cosigns)
{
    uint16_t r = marks_check(ops, cosigns, 1);
    if (r != UBC_LEDGER_OK)
        return r;
    if (cosigns != 0)
        return UBC_LEDGER_ERR_MALFORMED;
    if (ops[0].verify == UBC_LEDGER_VERIFY_OK &&
        !ubc_ledger_key_equal(ops[0].signer, ops[0].account) &&
        !ubc_ledger_key_equal(ops[0].signer, ledger->config.authority))
        return UBC_LEDGER_ERR_UNAUTHORIZED;
    if (ubc_ledger_account_find(ledger, ops[0].account) != UBC_LEDGER_NO_INDEX)
        return UBC_LEDGER_ERR_ACCOUNT_EXISTS;
    if (ubc_ledger_account_insert(ledger, ops[0].account, ledger->height) == UBC_LEDGER_NO_INDEX)
        return UBC_LEDGER_ERR_FULL;
    return UBC_LEDGER_OK;
}

/* Applies ops[0] with its cosigns; *consumed receives the number of records it covers. */
static uint16_t
apply_one(struct ubc_ledger *ledger, const struct ubc_ledger_op *ops, uint32_t remaining,
          uint32_t *consumed)
{
    const struct ubc_ledger_op *op = &ops[0];
    uint32_t cosigns = 0;
    *consumed = 1;
    if (op->kind == UBC_LEDGER_OP_COSIGN)
        return UBC_LEDGER_ERR_MALFORMED; /* a cosign with no op before it */
    while (cosigns < op->cosign_count && cosigns + 1 < remaining &&
           ops[cosigns + 1].kind == UBC_LEDGER_OP_COSIGN)
        cosigns++;
    *consumed = 1 + cosigns;
    if (cosigns != op->cosign_count || op->kind == UBC_LEDGER_OP_NONE ||
        op->kind >= UBC_LEDGER_OP_KIND_COUNT || op->reserved != 0)
        return UBC_LEDGER_ERR_MALFORMED;
    if (op->kind == UBC_LEDGER_OP_CREATE_ACCOUNT)
        return apply_create(ledger, ops, cosigns);
    if (is_authority_kind(op->kind)) {
        uint16_t r = authorize_authority(ledger, ops, cosigns);
        return r != UBC_LEDGER_OK ? r : ubc_ledger_op_dispatch(ledger, op, UBC_LEDGER_NO_INDEX);
    }
    uint32_t source = UBC_LEDGER_NO_INDEX;
    uint16_t r = authorize_account(ledger, ops, cosigns, &source);
    if (r != UBC_LEDGER_OK)
        return r;
    r = ubc_ledger_op_dispatch(ledger, op, source);
    ubc_ledger_account_rehash(ledger, &ubc_ledger_accounts(ledger)[source]);
    return r;
}

/* ---- batches ---- */

static void
batch_begin(struct ubc_ledger *ledger, uint64_t height)
{
    ledger->height = height;
    if (ledger->pending_version != 0 && height >= ledger->pending_height) {
        ledger->version = ledger->pending_version;
        ledger->pending_version = 0;
        ledger->pending_height = 0;
    }
    unbonding_release(ledger, height);
}

static void
ops_digest(const struct ubc_ledger_op *ops, uint32_t n, const uint16_t *results,
           uint8_t out[UBC_LEDGER_HASH_BYTES])
{
    XXH3_state_t state;
    XXH3_128bits_reset(&state);
    XXH3_128bits_update(&state, ops, (size_t)n * sizeof(*ops));
    XXH3_128bits_update(&state, results, (size_t)n * sizeof(*results));
    XXH128_canonicalFromHash((XXH128_canonical_t *)out, XXH3_128bits_digest(&state));
}

int
ubc_ledger_apply_batch(struct ubc_ledger *ledger, const struct ubc_ledger_op *ops, uint32_t n,
                       uint64_t height, uint16_t *results, struct ubc_ledger_audit *audit)
{
    UBC_ASSERT(ledger != NULL && ledger->magic == UBC_LEDGER_MAGIC);
    if (n > UBC_LEDGER_BATCH_MAX || height < ledger->height || (n > 0 && ops == NULL) ||
        (n > 0 && results == NULL) || audit == NULL)
        return -EINVAL;
    memset(audit, 0, sizeof(*audit));
    /* Nothing changes the state between batches, so the last batch's hash is the one before. */
    memcpy(audit->state_hash_prev, ledger->state_hash_last, UBC_LEDGER_HASH_BYTES);
    batch_begin(ledger, height);
    uint32_t ok_count = 0;
    for (uint32_t i = 0; i < n;) {
        uint32_t consumed = 1;
        uint16_t r = apply_one(ledger, &ops[i], n - i, &consumed);
        UBC_ASSERT(consumed >= 1 && consumed <= n - i);
        for (uint32_t k = 0; k < consumed; k++)
            results[i + k] = r;
        ok_count += r == UBC_LEDGER_OK ? consumed : 0;
        i += consumed;
    }
    UBC_ASSERT(supply_conserved(ledger));
    ledger->ops_applied += ok_count;
    ledger->ops_refused += n - ok_count;
    audit->height = height;
    audit->batch_index = ledger->batch_count++;
    audit->op_count = n;
    audit->ok_count = ok_count;
    ops_digest(ops, n, results, audit->ops_digest);
    ubc_ledger_state_hash(ledger, audit->state_hash);
    memcpy(ledger->state_hash_last, audit->state_hash, UBC_LEDGER_HASH_BYTES);
    summary_publish(ledger);
    return 0;
}

int
ubc_ledger_replay_batch(struct ubc_ledger *ledger, const struct ubc_ledger_op *ops, uint32_t n,
                        const uint16_t *results_journaled, const struct ubc_ledger_audit *journaled,
                        uint16_t *results_scratch)
{
    if (journaled == NULL || journaled->op_count != n || n > UBC_LEDGER_BATCH_MAX ||
        (n > 0 && (ops == NULL || results_journaled == NULL || results_scratch == NULL)))
        return -EINVAL;
    uint8_t digest[UBC_LEDGER_HASH_BYTES];
    ops_digest(ops, n, results_journaled, digest);
    if (memcmp(digest, journaled->ops_digest, sizeof(digest)) != 0)
        return 1; /* the journaled ops or results are not what was applied */
    struct ubc_ledger_audit audit;
    int rc = ubc_ledger_apply_batch(ledger, ops, n, journaled->height, results_scratch, &audit);
    if (rc != 0)
        return rc;
    if (n > 0 && memcmp(results_scratch, results_journaled, (size_t)n * sizeof(uint16_t)) != 0)
        return 1;
    if (memcmp(audit.state_hash, journaled->state_hash, UBC_LEDGER_HASH_BYTES) != 0 ||
        memcmp(audit.state_hash_prev, journaled->state_hash_prev, UBC_LEDGER_HASH_BYTES) != 0)
        return 1;
    return 0;
}

/* ---- summary seqlock ---- */

static void
summary_fill(const struct ubc_ledger *ledger, struct ubc_ledger_summary *s)
{
    memset(s, 0, sizeof(*s));
    s->height = ledger->height;
    s->batch_count = ledger->batch_count;
    s->version = ledger->version;
    s->pending_version = ledger->pending_version;
    s->pending_height = ledger->pending_height;
    s->paused = ledger->paused;
    s->account_count = ledger->account_count;
    s->escrow_count = ledger->escrow_count;
    s->ops_applied = ledger->ops_applied;
    s->ops_refused = ledger->ops_refused;
    memcpy(s->params, ledger->params, sizeof(s->params));
    s->minted = ledger->minted;
    s->balances = ledger->balances;
    s->staked = ledger->staked;
    s->escrowed = ledger->escrowed;
    s->unbonding = ledger->unbonding;
    s->reward_pool = ledger->reward_pool;
    s->burned = ledger->burned;
    memcpy(s->state_hash, ledger->state_hash_last, UBC_LEDGER_HASH_BYTES);
}

static void
summary_publish(struct ubc_ledger *ledger)
{
    struct ubc_ledger_summary fresh;
    uint64_t words[sizeof(fresh) / sizeof(uint64_t)];
    summary_fill(ledger, &fresh);
    memcpy(words, &fresh, sizeof(words));
    struct ubc_ledger_seqlock *lock = &ledger->summary;
    uint64_t sequence = __atomic_load_n(&lock->sequence, __ATOMIC_RELAXED);
    __atomic_store_n(&lock->sequence, sequence + 1, __ATOMIC_RELAXED);
    /* Release stores (free on x86) keep the odd sequence ahead of every word without a fence,
     * which ThreadSanitizer does not model. */
    for (size_t i = 0; i < UBC_ARRAY_SIZE(words); i++)
        __atomic_store_n(&lock->words[i], words[i], __ATOMIC_RELEASE);
    __atomic_store_n(&lock->sequence, sequence + 2, __ATOMIC_RELEASE);
}

void
ubc_ledger_summary_read(const struct ubc_ledger *ledger, struct ubc_ledger_summary *out)
{
    const struct ubc_ledger_seqlock *lock = &ledger->summary;
    uint64_t words[sizeof(*out) / sizeof(uint64_t)];
    for (;;) {
        uint64_t before = __atomic_load_n(&lock->sequence, __ATOMIC_ACQUIRE);
        if (before & 1)
            continue;
        for (size_t i = 0; i < UBC_ARRAY_SIZE(words); i++)
            words[i] = __atomic_load_n(&lock->words[i], __ATOMIC_ACQUIRE);
        if (__atomic_load_n(&lock->sequence, __ATOMIC_RELAXED) == before)
            break;
    }
    memcpy(out, words, sizeof(words));
}
