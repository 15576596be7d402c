/* ubc_ledger_private.h: the in-memory layout of a ledger, shared by the ledger/ sources only.
 *
 * Contract: everything here is touched by the ledger thread alone, except the summary seqlock
 * (written by the ledger thread, read by any thread). The ledger is one contiguous region:
 * struct ubc_ledger, then the account table, escrow table, unbonding ring, proposal slots,
 * vote bitmaps and multisig key sets, each at an offset stored in the header so the region
 * can be joined at any address.
 */
#ifndef UBC_LEDGER_PRIVATE_H
#define UBC_LEDGER_PRIVATE_H

#include <string.h>

#include "ledger/ubc_ledger.h"

#define UBC_LEDGER_MAGIC 0x5542434c45444752ull /* "UBCLEDGR" */
#define UBC_LEDGER_SLOT_USED 0x01u             /* account slot in use (with the public flags) */
#define UBC_LEDGER_NO_INDEX UINT32_MAX

typedef unsigned __int128 ubc_u128;

/* One account slot. The first 96 bytes are the hashed record; the hash of it is kept so an
 * update subtracts the old hash from the running sum without recomputing it. */
struct ubc_ledger_account {
    uint8_t key[UBC_LEDGER_KEY_BYTES];
    uint64_t balance;
    uint64_t staked;
    uint64_t escrowed;
    uint64_t unbonding;
    uint64_t nonce;
    uint64_t created_height;
    uint32_t flags;
    uint32_t multisig_index;
    uint64_t multisig_digest; /* XXH3-64 of the key set and threshold, 0 when not multisig */
    ubc_u128 hash;            /* of the 96 bytes above; 0 while the slot is empty */
    uint8_t pad[16];
};
#define UBC_LEDGER_ACCOUNT_HASHED_BYTES 96u
UBC_STATIC_ASSERT(sizeof(struct ubc_ledger_account) == 128, "account slot is 128 bytes");

struct ubc_ledger_escrow {
    uint64_t job_id;
    uint32_t owner_index; /* account slot; UBC_LEDGER_NO_INDEX when the slot is empty */
    uint32_t reserved;
    uint64_t amount; /* left in escrow */
    uint64_t created_height;
    ubc_u128 hash;
};
#define UBC_LEDGER_ESCROW_HASHED_BYTES 32u

struct ubc_ledger_unbonding {
    uint64_t sequence; /* enqueue count, so equal entries hash differently */
    uint64_t amount;
    uint64_t release_height;
    uint32_t account_index;
    uint32_t reserved;
};

struct ubc_ledger_proposal {
    uint64_t id;
    uint32_t kind;
    uint32_t state;
    uint32_t param;
    uint32_t voter_count;
    uint64_t value;
    uint64_t height;
    uint8_t target[UBC_LEDGER_KEY_BYTES];
    uint32_t proposer_index;
    uint32_t reserved;
    uint64_t start_height;
    uint64_t voting_end_height;
    uint64_t votes_yes;
    uint64_t votes_no;
};

struct ubc_ledger_multisig {
    uint32_t threshold;
    uint32_t key_count;
    /* followed by multisig_keys_max keys of 32 bytes */
};

struct ubc_ledger_seqlock {
    uint64_t sequence; /* odd while the writer is copying */
    uint64_t words[sizeof(struct ubc_ledger_summary) / sizeof(uint64_t)];
};

struct ubc_ledger {
    uint64_t magic;
    struct ubc_ledger_config config; /* pointers cleared after new */
    uint64_t account_capacity;       /* power of two, >= 2 * accounts_max */
    uint64_t escrow_capacity;        /* power of two, >= 2 * escrows_max */
    uint64_t bitmap_words;           /* per proposal: one bit per account slot */
    uint64_t multisig_stride;        /* bytes per multisig entry */
    uint64_t offset_accounts, offset_escrows, offset_unbonding, offset_proposals;
    uint64_t offset_bitmaps, offset_multisig, footprint;

    /* state */
    uint64_t height;
    uint64_t batch_count;
    uint64_t version;
    uint64_t pending_version;
    uint64_t pending_height;
    uint32_t paused;
    uint32_t account_count;
    uint32_t escrow_count;
    uint32_t multisig_count;
    uint64_t unbonding_head; /* ring positions, monotonic */
    uint64_t unbonding_tail;
    uint64_t proposal_next_id;
    uint64_t epoch;
    uint64_t epoch_work_units_left;
    uint64_t slash_sequence;
    uint64_t params[UBC_LEDGER_PARAM_COUNT];
    uint32_t treasury_index;
    uint32_t guardian_index;

    /* supply counters, conserved: minted = balances + staked + escrowed + unbonding
     * + reward_pool + burned */
    uint64_t minted, balances, staked, escrowed, unbonding, reward_pool, burned;

    /* running sums (mod 2^128) of the record hashes */
    ubc_u128 accounts_sum, escrows_sum, unbonding_sum;

    uint64_t ops_applied, ops_refused;
    uint8_t state_hash_last[UBC_LEDGER_HASH_BYTES]; /* after the last batch (or genesis) */
    struct ubc_ledger_seqlock summary __attribute__((aligned(64)));
};

static inline struct ubc_ledger_account *
ubc_ledger_accounts(const struct ubc_ledger *ledger)
{
    return (struct ubc_ledger_account *)((uintptr_t)ledger + ledger->offset_accounts);
}

static inline struct ubc_ledger_escrow *
ubc_ledger_escrows(const struct ubc_ledger *ledger)
{
    return (struct ubc_ledger_escrow *)((uintptr_t)ledger + ledger->offset_escrows);
}

static inline struct ubc_ledger_unbonding *
ubc_ledger_unbondings(const struct ubc_ledger *ledger)
{
    return (struct ubc_ledger_unbonding *)((uintptr_t)ledger + ledger->offset_unbonding);
}

static inline struct ubc_ledger_proposal *
ubc_ledger_proposals(const struct ubc_ledger *ledger)
{
    return (struct ubc_ledger_proposal *)((uintptr_t)ledger + ledger->offset_proposals);
}

static inline uint64_t *
ubc_ledger_bitmap(const struct ubc_ledger *ledger, uint32_t proposal_slot)
{
    uint64_t *base = (uint64_t *)((uintptr_t)ledger + ledger->offset_bitmaps);
    return base + (uint64_t)proposal_slot * ledger->bitmap_words;
}

static inline struct ubc_ledger_multisig *
ubc_ledger_multisig_at(const struct ubc_ledger *ledger, uint32_t index)
{
    UBC_ASSERT(index < ledger->config.multisig_accounts_max);
    return (struct ubc_ledger_multisig *)((uintptr_t)ledger + ledger->offset_multisig +
                                          (uint64_t)index * ledger->multisig_stride);
}

static inline uint8_t (*ubc_ledger_multisig_keys(struct ubc_ledger_multisig *m))[32]
{
    return (uint8_t(*)[32])(m + 1);
}

static inline int
ubc_ledger_key_equal(const uint8_t *a, const uint8_t *b)
{
    return memcmp(a, b, UBC_LEDGER_KEY_BYTES) == 0;
}

/* ubc_ledger.c: tables and hashing */
uint32_t ubc_ledger_account_find(const struct ubc_ledger *ledger, const uint8_t *key);
uint32_t ubc_ledger_account_insert(struct ubc_ledger *ledger, const uint8_t *key, uint64_t height);
void ubc_ledger_account_rehash(struct ubc_ledger *ledger, struct ubc_ledger_account *account);
void ubc_ledger_multisig_rehash(struct ubc_ledger *ledger, struct ubc_ledger_account *account);
uint32_t ubc_ledger_escrow_find(const struct ubc_ledger *ledger, uint32_t owner_index,
                                uint64_t job_id);
uint32_t ubc_ledger_escrow_insert(struct ubc_ledger *ledger, uint32_t owner_index, uint64_t job_id,
                                  uint64_t amount);
void ubc_ledger_escrow_update(struct ubc_ledger *ledger, uint32_t slot, uint64_t amount);
void ubc_ledger_escrow_remove(struct ubc_ledger *ledger, uint32_t slot);
int ubc_ledger_unbonding_push(struct ubc_ledger *ledger, uint32_t account_index, uint64_t amount,
                              uint64_t release_height);
ubc_u128 ubc_ledger_hash_unbonding(const struct ubc_ledger *ledger,
                                   const struct ubc_ledger_unbonding *entry);

/* ubc_ledger_ops.c: one handler per kind; `source` is the authorized acting account slot
 * (UBC_LEDGER_NO_INDEX for node-authority ops, which name their subject in op->account). */
uint16_t ubc_ledger_op_dispatch(struct ubc_ledger *ledger, const struct ubc_ledger_op *op,
                                uint32_t source);

/* ubc_ledger_gov.c */
uint16_t ubc_ledger_op_propose(struct ubc_ledger *ledger, const struct ubc_ledger_op *op,
                               uint32_t source);
uint16_t ubc_ledger_op_vote(struct ubc_ledger *ledger, const struct ubc_ledger_op *op,
                            uint32_t source);
uint16_t ubc_ledger_op_execute(struct ubc_ledger *ledger, const struct ubc_ledger_op *op);
int ubc_ledger_param_valid(uint32_t param, uint64_t value);
void ubc_ledger_proposals_digest(const struct ubc_ledger *ledger, uint8_t out[16]);

#endif /* UBC_LEDGER_PRIVATE_H */
