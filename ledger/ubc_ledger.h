/* ubc_ledger.h: the token ledger, a deterministic state machine over fixed-size operations.
 *
 * Contract. One ledger lives in caller-owned memory sized by ubc_ledger_footprint(config) and is
 * formatted by ubc_ledger_new (which also applies the genesis allocation); nothing is allocated
 * afterwards. Exactly one thread (the ledger role's lcore) calls ubc_ledger_apply_batch, the
 * query functions and ubc_ledger_replay_batch. ubc_ledger_verify_batch is pure (it reads no
 * ledger state) and may run on any number of threads over disjoint ranges of a batch; it writes
 * only the `verify` byte of the operations it is given. ubc_ledger_summary_read may be called
 * from any thread (the control thread) at any time: it reads a seqlock-published snapshot.
 *
 * Trust. The apply path never checks a signature: it trusts op->verify. Every operation from
 * outside the process MUST pass through ubc_ledger_verify_batch, which always overwrites that
 * byte (it never lets an external op claim UBC_LEDGER_VERIFY_INTERNAL). Operations built by a
 * trusted in-process role on the node's own authority (escrow, settlement, rewards, slashing)
 * are marked with ubc_ledger_mark_internal instead of being signed.
 *
 * Amounts are integer base units (uint64_t); every addition and subtraction is overflow-checked
 * and refused with a result code, never wrapped. docs/ledger.md documents every operation, who
 * may issue it, its result codes, the signed bytes, the state hash and the conservation equation.
 */
#ifndef UBC_LEDGER_H
#define UBC_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#include "common/ubc_msg.h"

#define UBC_LEDGER_KEY_BYTES 32u
#define UBC_LEDGER_SIGNATURE_BYTES 64u
#define UBC_LEDGER_OP_SIZE 224u    /* one op fills one struct ubc_msg payload */
#define UBC_LEDGER_BATCH_MAX 8192u /* ops per apply_batch call */
#define UBC_LEDGER_MULTISIG_KEYS_LIMIT 16u
#define UBC_LEDGER_HASH_BYTES 16u       /* state hash: 128 bits */
#define UBC_LEDGER_CHECKPOINT_BYTES 32u /* checkpoint digest: BLAKE2b-256 */
#define UBC_LEDGER_SIGNED_BYTES 152u    /* length of the message every signature covers */
#define UBC_LEDGER_VERSION 1u           /* state machine version at genesis */

enum ubc_ledger_op_kind {
    UBC_LEDGER_OP_NONE = 0,
    UBC_LEDGER_OP_CREATE_ACCOUNT = 1,    /* the key itself, or the node authority */
    UBC_LEDGER_OP_TRANSFER = 2,          /* account (or k of its multisig keys) */
    UBC_LEDGER_OP_STAKE = 3,             /* account */
    UBC_LEDGER_OP_UNSTAKE = 4,           /* account; released after the unbonding time lock */
    UBC_LEDGER_OP_BURN = 5,              /* account */
    UBC_LEDGER_OP_ESCROW_LOCK = 6,       /* node authority, on behalf of an authenticated owner */
    UBC_LEDGER_OP_ESCROW_RELEASE = 7,    /* node authority: pay a provider minus the burn fee */
    UBC_LEDGER_OP_ESCROW_REFUND = 8,     /* node authority: return what is left to the owner */
    UBC_LEDGER_OP_REWARD_EPOCH = 9,      /* node authority: mint emission, pay the stake share */
    UBC_LEDGER_OP_REWARD_WORK = 10,      /* node authority: pay a provider's share of work */
    UBC_LEDGER_OP_SLASH = 11,            /* node authority, with an evidence reference */
    UBC_LEDGER_OP_PROPOSE = 12,          /* a staked account */
    UBC_LEDGER_OP_VOTE = 13,             /* a staked account, weight = its stake */
    UBC_LEDGER_OP_EXECUTE = 14,          /* any account, once passed and time-locked */
    UBC_LEDGER_OP_MULTISIG_ADD_KEY = 15, /* account (k of n once it is multisig) */
    UBC_LEDGER_OP_MULTISIG_SET_THRESHOLD = 16,
    UBC_LEDGER_OP_PAUSE = 17,  /* guardian multisig */
    UBC_LEDGER_OP_RESUME = 18, /* guardian multisig */
    UBC_LEDGER_OP_FREEZE = 19, /* guardian multisig: set or clear an account's freeze */
    UBC_LEDGER_OP_COSIGN = 20, /* one more signature for the preceding op */
    UBC_LEDGER_OP_KIND_COUNT
};

/* Per-operation result codes. Stable numbers: they are journaled and replied. */
enum ubc_ledger_result {
    UBC_LEDGER_OK = 0,
    UBC_LEDGER_ERR_MALFORMED = 1,     /* unknown kind, bad field, stray or missing cosign */
    UBC_LEDGER_ERR_NOT_VERIFIED = 2,  /* the verify stage did not see this op */
    UBC_LEDGER_ERR_BAD_SIGNATURE = 3, /* a signature (main or cosign) did not verify */
    UBC_LEDGER_ERR_UNAUTHORIZED = 4,  /* valid signature, but not by whom the op needs */
    UBC_LEDGER_ERR_MULTISIG_TOO_FEW = 5,
    UBC_LEDGER_ERR_NONCE = 6, /* nonce is not the account's nonce + 1 */
    UBC_LEDGER_ERR_NO_ACCOUNT = 7,
    UBC_LEDGER_ERR_ACCOUNT_EXISTS = 8,
    UBC_LEDGER_ERR_INSUFFICIENT_FUNDS = 9,
    UBC_LEDGER_ERR_OVERFLOW = 10,
    UBC_LEDGER_ERR_PAUSED = 11,
    UBC_LEDGER_ERR_FROZEN = 12,
    UBC_LEDGER_ERR_MIN_STAKE = 13, /* stake would end between 0 and the minimum */
    UBC_LEDGER_ERR_FULL = 14,      /* a table sized at creation is full */
    UBC_LEDGER_ERR_ESCROW_EXISTS = 15,
    UBC_LEDGER_ERR_NO_ESCROW = 16,
    UBC_LEDGER_ERR_NO_PROPOSAL = 17,
    UBC_LEDGER_ERR_VOTING_CLOSED = 18,
    UBC_LEDGER_ERR_ALREADY_VOTED = 19,
    UBC_LEDGER_ERR_NO_STAKE = 20,      /* voting or proposing needs stake */
    UBC_LEDGER_ERR_TIME_LOCK = 21,     /* the time lock has not elapsed */
    UBC_LEDGER_ERR_NOT_PASSED = 22,    /* quorum or threshold not reached */
    UBC_LEDGER_ERR_BAD_PARAMETER = 23, /* parameter id or value out of range */
    UBC_LEDGER_ERR_EPOCH = 24,         /* reward epoch out of order */
    UBC_LEDGER_ERR_SEQUENCE = 25,      /* slash evidence sequence not increasing */
    UBC_LEDGER_RESULT_COUNT
};

/* Marks written by the verify stage (or ubc_ledger_mark_internal) into op->verify. */
enum ubc_ledger_verify_mark {
    UBC_LEDGER_VERIFY_NONE = 0,
    UBC_LEDGER_VERIFY_OK = 1,       /* signature checked against op->signer */
    UBC_LEDGER_VERIFY_BAD = 2,      /* signature failed or the record is malformed */
    UBC_LEDGER_VERIFY_INTERNAL = 3, /* issued in-process on the node's authority, no signature */
};

/* Governance parameters; they change only through an executed proposal. */
enum ubc_ledger_param {
    UBC_LEDGER_PARAM_BURN_RATE_BPS = 0,     /* share of each escrow release burned */
    UBC_LEDGER_PARAM_MIN_STAKE = 1,         /* smallest non-zero stake; needed to propose */
    UBC_LEDGER_PARAM_UNBONDING_HEIGHTS = 2, /* unstake time lock */
    UBC_LEDGER_PARAM_QUORUM_BPS = 3,        /* votes cast / total stake needed */
    UBC_LEDGER_PARAM_THRESHOLD_BPS = 4,     /* yes / votes cast needed */
    UBC_LEDGER_PARAM_VOTING_HEIGHTS = 5,    /* voting period of a proposal */
    UBC_LEDGER_PARAM_TIMELOCK_HEIGHTS = 6,  /* delay between voting end and execution */
    UBC_LEDGER_PARAM_EMISSION_PER_EPOCH = 7,
    UBC_LEDGER_PARAM_REWARD_WORK_BPS = 8, /* share of emission paid for validated work */
    UBC_LEDGER_PARAM_COUNT
};

enum ubc_ledger_proposal_kind {
    UBC_LEDGER_PROPOSAL_PARAMETER = 1, /* param = id, value = new value */
    UBC_LEDGER_PROPOSAL_TREASURY = 2,  /* value = amount paid from the treasury to target */
    UBC_LEDGER_PROPOSAL_UPGRADE = 3,   /* value = new version, height = activation height */
};

enum ubc_ledger_proposal_state {
    UBC_LEDGER_PROPOSAL_FREE = 0,
    UBC_LEDGER_PROPOSAL_ACTIVE = 1,
    UBC_LEDGER_PROPOSAL_EXECUTED = 2,
    UBC_LEDGER_PROPOSAL_REJECTED = 3,
};

#define UBC_LEDGER_FLAG_RELEASE_FINAL 0x01u /* ESCROW_RELEASE: refund the rest, close */
#define UBC_LEDGER_FLAG_VOTE_YES 0x01u      /* VOTE: yes (else no) */
#define UBC_LEDGER_FLAG_FREEZE_SET 0x01u    /* FREEZE: set (else clear) */

/* Arguments per kind. All integers little endian (the host order, asserted). */
struct ubc_ledger_args {
    union {
        struct {
            uint8_t target[UBC_LEDGER_KEY_BYTES];
            uint64_t amount;
        } transfer; /* TRANSFER; FREEZE uses target only */
        struct {
            uint64_t amount;
        } amount; /* STAKE, UNSTAKE, BURN */
        struct {
            uint64_t job_id;
            uint64_t amount;
            uint8_t provider[UBC_LEDGER_KEY_BYTES];
        } escrow; /* ESCROW_LOCK (amount), RELEASE (amount, provider), REFUND */
        struct {
            uint64_t epoch;
            uint64_t work_units; /* EPOCH: total units; WORK: this provider's units */
            uint8_t provider[UBC_LEDGER_KEY_BYTES];
        } reward;
        struct {
            uint64_t amount;
            uint64_t sequence; /* strictly increasing per ledger */
            uint8_t evidence[UBC_HASH_BYTES];
        } slash; /* account = the slashed account */
        struct {
            uint32_t kind; /* enum ubc_ledger_proposal_kind */
            uint32_t param;
            uint64_t value;
            uint64_t height;
            uint8_t target[UBC_LEDGER_KEY_BYTES];
        } propose;
        struct {
            uint64_t proposal_id;
        } proposal; /* VOTE, EXECUTE */
        struct {
            uint8_t key[UBC_LEDGER_KEY_BYTES];
        } multisig_key;
        struct {
            uint32_t threshold;
        } multisig_threshold;
        uint8_t bytes[80];
    } u;
};

struct ubc_ledger_op {
    uint8_t kind;                          /* enum ubc_ledger_op_kind */
    uint8_t flags;                         /* UBC_LEDGER_FLAG_* per kind */
    uint8_t cosign_count;                  /* COSIGN records that follow this op in the batch */
    uint8_t verify;                        /* enum ubc_ledger_verify_mark; not signed */
    uint32_t reserved;                     /* zero */
    uint64_t nonce;                        /* account's nonce + 1 for account-signed ops */
    uint8_t account[UBC_LEDGER_KEY_BYTES]; /* the acting (or, for node ops, subject) account */
    uint8_t signer[UBC_LEDGER_KEY_BYTES];  /* the public key that made `signature` */
    uint8_t signature[UBC_LEDGER_SIGNATURE_BYTES];
    struct ubc_ledger_args args;
};

UBC_STATIC_ASSERT(sizeof(struct ubc_ledger_op) == UBC_LEDGER_OP_SIZE, "op is 224 bytes");
UBC_STATIC_ASSERT(UBC_LEDGER_OP_SIZE <= UBC_MSG_PAYLOAD_SIZE, "op fits a message payload");

struct ubc_ledger_genesis_entry {
    uint8_t key[UBC_LEDGER_KEY_BYTES];
    uint64_t balance;
};

struct ubc_ledger_config {
    uint32_t accounts_max;
    uint32_t escrows_max;
    uint32_t unbonding_max;
    uint32_t proposals_max;
    uint32_t multisig_accounts_max;
    uint32_t multisig_keys_max; /* per multisig account, <= UBC_LEDGER_MULTISIG_KEYS_LIMIT */
    uint64_t chain_id;          /* domain separation of signatures and hashes */
    uint64_t params[UBC_LEDGER_PARAM_COUNT];
    uint8_t authority[UBC_LEDGER_KEY_BYTES]; /* the node's key for escrow/settlement ops */
    uint8_t treasury[UBC_LEDGER_KEY_BYTES];  /* account moved only by governance */
    uint8_t guardian[UBC_LEDGER_KEY_BYTES];  /* id of the guardian multisig account */
    uint32_t guardian_threshold;
    uint32_t guardian_key_count;
    const uint8_t (*guardian_keys)[UBC_LEDGER_KEY_BYTES]; /* read only by ubc_ledger_new */
    const struct ubc_ledger_genesis_entry *genesis;       /* read only by ubc_ledger_new */
    uint32_t genesis_count;
};

/* The record each applied batch yields; the journal stores it with the ops and results. */
struct ubc_ledger_audit {
    uint64_t height;
    uint64_t batch_index; /* batches applied before this one */
    uint32_t op_count;
    uint32_t ok_count;
    uint8_t ops_digest[UBC_LEDGER_HASH_BYTES];      /* XXH3-128 of the ops and results */
    uint8_t state_hash[UBC_LEDGER_HASH_BYTES];      /* after the batch */
    uint8_t state_hash_prev[UBC_LEDGER_HASH_BYTES]; /* before the batch */
};

struct ubc_ledger_account_info {
    uint8_t key[UBC_LEDGER_KEY_BYTES];
    uint64_t balance;
    uint64_t staked;
    uint64_t escrowed;
    uint64_t unbonding;
    uint64_t nonce;
    uint64_t created_height;
    uint32_t flags; /* UBC_LEDGER_ACCOUNT_* */
    uint32_t multisig_threshold;
    uint32_t multisig_key_count;
};

#define UBC_LEDGER_ACCOUNT_FROZEN 0x02u
#define UBC_LEDGER_ACCOUNT_MULTISIG 0x04u
#define UBC_LEDGER_ACCOUNT_TREASURY 0x08u

/* minted = balances + staked + escrowed + unbonding + reward_pool + burned (conserved). */
struct ubc_ledger_supply {
    uint64_t minted;
    uint64_t balances;
    uint64_t staked;
    uint64_t escrowed;
    uint64_t unbonding;
    uint64_t reward_pool;
    uint64_t burned;
    uint32_t conserved;    /* the equation holds on the counters */
    uint32_t scan_matches; /* the counters equal a full scan of accounts and tables */
};

struct ubc_ledger_proposal_info {
    uint64_t id;
    uint32_t kind;
    uint32_t state; /* enum ubc_ledger_proposal_state */
    uint32_t param;
    uint32_t voter_count;
    uint64_t value;
    uint64_t height;
    uint8_t target[UBC_LEDGER_KEY_BYTES];
    uint8_t proposer[UBC_LEDGER_KEY_BYTES];
    uint64_t start_height;
    uint64_t voting_end_height;
    uint64_t votes_yes;
    uint64_t votes_no;
};

/* Published after every batch; readable from any thread. */
struct ubc_ledger_summary {
    uint64_t height;
    uint64_t batch_count;
    uint64_t version;
    uint64_t pending_version;
    uint64_t pending_height;
    uint64_t paused;
    uint64_t account_count;
    uint64_t escrow_count;
    uint64_t ops_applied;
    uint64_t ops_refused;
    uint64_t params[UBC_LEDGER_PARAM_COUNT];
    uint64_t minted, balances, staked, escrowed, unbonding, reward_pool, burned;
    uint64_t state_hash[2];
};

struct ubc_ledger;

/* Life cycle (Firedancer style). footprint returns 0 when the config is invalid. */
size_t ubc_ledger_align(void);
size_t ubc_ledger_footprint(const struct ubc_ledger_config *config);
void *ubc_ledger_new(void *mem, const struct ubc_ledger_config *config); /* NULL on bad config */
struct ubc_ledger *ubc_ledger_join(void *mem);                           /* NULL on bad magic */
void *ubc_ledger_leave(struct ubc_ledger *ledger);
void *ubc_ledger_delete(void *mem);

/* Verify stage. Checks each signed record of ops[0..n) and writes its verify mark. A range must
 * start at a non-COSIGN op (split batches at op boundaries). Returns the number marked BAD. */
uint32_t ubc_ledger_verify_batch(uint64_t chain_id, struct ubc_ledger_op *ops, uint32_t n);

/* Marks ops built by a trusted in-process role as issued on the node's authority. */
void ubc_ledger_mark_internal(struct ubc_ledger_op *ops, uint32_t n);

/* The exact bytes a signature covers (UBC_LEDGER_SIGNED_BYTES): "UBC-LEDGER-OP-V1" || chain_id ||
 * kind, flags, cosign_count, 0, reserved || nonce || account || args. */
void ubc_ledger_op_signed_bytes(uint64_t chain_id, const struct ubc_ledger_op *op,
                                uint8_t out[UBC_LEDGER_SIGNED_BYTES]);

/* Signs op with secret_key (libsodium 64-byte form) and sets op->signer. For tools and tests;
 * cosigners sign `main` into their own COSIGN record with ubc_ledger_op_cosign. */
void ubc_ledger_op_sign(uint64_t chain_id, struct ubc_ledger_op *op, const uint8_t *secret_key);
void ubc_ledger_op_cosign(uint64_t chain_id, const struct ubc_ledger_op *main,
                          struct ubc_ledger_op *cosign, const uint8_t *secret_key);

/* Applies ops[0..n) in order at `height` (>= the ledger's height), writes one result per op,
 * asserts conservation, and fills *audit (required). Returns 0, or -EINVAL (n too large, height
 * going backwards, a NULL argument: nothing applied). Results are per record: an op's COSIGN
 * records get the op's result. */
int ubc_ledger_apply_batch(struct ubc_ledger *ledger, const struct ubc_ledger_op *ops, uint32_t n,
                           uint64_t height, uint16_t *results, struct ubc_ledger_audit *audit);

/* Re-applies a journaled batch and compares with its audit record: returns 0 when the ops digest,
 * the results and the state hash all match, 1 on divergence, -EINVAL as apply_batch. */
int ubc_ledger_replay_batch(struct ubc_ledger *ledger, const struct ubc_ledger_op *ops, uint32_t n,
                            const uint16_t *results_journaled,
                            const struct ubc_ledger_audit *journaled, uint16_t *results_scratch);

/* The journal record of one applied batch: the audit record, then n ops, then n results (u16),
 * in host (little endian) order with no padding; 8-byte aligned ops when the buffer is. */
size_t ubc_ledger_batch_record_bytes(uint32_t n);
/* Writes the record into buf; returns its size, or -ENOSPC when cap is too small, -EINVAL. */
int64_t ubc_ledger_batch_record_write(void *buf, size_t cap, const struct ubc_ledger_audit *audit,
                                      const struct ubc_ledger_op *ops, const uint16_t *results);
/* Validates a record read back (from a journal or a file: untrusted) and points into it.
 * Returns 0, or -EINVAL when the length does not match the op count, the count exceeds a batch,
 * or buf is not 8-byte aligned. */
int ubc_ledger_batch_record_parse(const void *buf, size_t bytes, struct ubc_ledger_audit *audit,
                                  const struct ubc_ledger_op **ops, const uint16_t **results);

/* The genesis record: the first record of a ledger journal, so that an auditor rebuilds the
 * ledger from the journal alone (ubc-journal audit) and a node refuses a journal made under
 * another genesis. It holds the whole struct ubc_ledger_config, its guardian keys and genesis
 * entries, little endian, behind a magic and a version. */
#define UBC_LEDGER_GENESIS_MAGIC 0x314e4547474c4255ull /* "UBLGGEN1" */
#define UBC_LEDGER_GENESIS_ENTRIES_MAX 1024u
struct ubc_ledger_genesis_storage {
    uint8_t guardian_keys[UBC_LEDGER_MULTISIG_KEYS_LIMIT][UBC_LEDGER_KEY_BYTES];
    struct ubc_ledger_genesis_entry entries[UBC_LEDGER_GENESIS_ENTRIES_MAX];
};
size_t ubc_ledger_genesis_record_bytes(const struct ubc_ledger_config *config);
/* Returns the size written, -ENOSPC (cap too small) or -EINVAL (too many keys or entries). */
int64_t ubc_ledger_genesis_record_write(void *buf, size_t cap,
                                        const struct ubc_ledger_config *config);
/* Validates a record read back (untrusted) into *config, whose key and entry pointers then point
 * into *storage. 0 or -EINVAL. */
int ubc_ledger_genesis_record_parse(const void *buf, size_t bytes, struct ubc_ledger_config *config,
                                    struct ubc_ledger_genesis_storage *storage);

/* For ubc-journal: parses one journaled batch record and replays it (ubc_ledger_replay_batch).
 * Feed the records of a journal in order to a ledger made by ubc_ledger_new from the genesis
 * config. Returns 0 (matches), 1 (the first divergence: stop and report the batch index),
 * -EINVAL (a malformed record, or a height going backwards). scratch holds UBC_LEDGER_BATCH_MAX
 * results. audit_out (may be NULL) receives the record's audit, for checkpoint reports. */
int ubc_ledger_replay(struct ubc_ledger *ledger, const void *record, size_t bytes,
                      uint16_t *scratch, struct ubc_ledger_audit *audit_out);

/* Queries: ledger thread only (the control thread asks the ledger role, or reads the summary). */
void ubc_ledger_state_hash(const struct ubc_ledger *ledger, uint8_t out[UBC_LEDGER_HASH_BYTES]);
uint64_t ubc_ledger_height(const struct ubc_ledger *ledger);
/* A cryptographic digest (BLAKE2b-256) of the whole state, for checkpoints and snapshots:
 * O(table sizes), so call it every N batches, not per batch (docs/ledger.md, state hash). */
void ubc_ledger_checkpoint_digest(const struct ubc_ledger *ledger,
                                  uint8_t out[UBC_LEDGER_CHECKPOINT_BYTES]);
int ubc_ledger_account_get(const struct ubc_ledger *ledger, const uint8_t *key,
                           struct ubc_ledger_account_info *out); /* 0 or -ENOENT */
void ubc_ledger_supply_get(const struct ubc_ledger *ledger, struct ubc_ledger_supply *out);
/* Calls fn for every open escrow (start-up reconciliation, tools); returns how many. */
uint64_t ubc_ledger_escrows_each(const struct ubc_ledger *ledger,
                                 void (*fn)(void *ctx, const uint8_t *owner, uint64_t job_id,
                                            uint64_t amount),
                                 void *ctx);
/* The escrow an owner holds for a job: 0 (amount left in *amount, may be NULL) or -ENOENT. */
int ubc_ledger_escrow_get(const struct ubc_ledger *ledger, const uint8_t *owner, uint64_t job_id,
                          uint64_t *amount);
uint64_t ubc_ledger_param_get(const struct ubc_ledger *ledger, enum ubc_ledger_param param);
uint32_t ubc_ledger_proposals_get(const struct ubc_ledger *ledger,
                                  struct ubc_ledger_proposal_info *out, uint32_t out_max);
int ubc_ledger_paused(const struct ubc_ledger *ledger);

/* Any thread: copies the snapshot published after the last batch (seqlock, retries on a race). */
void ubc_ledger_summary_read(const struct ubc_ledger *ledger, struct ubc_ledger_summary *out);

const char *ubc_ledger_result_name(uint16_t result);
const char *ubc_ledger_op_kind_name(uint8_t kind);
const char *ubc_ledger_param_name(uint32_t param);
/* The node-wide error code a reply carries for a ledger result. */
enum ubc_err ubc_ledger_result_to_err(uint16_t result);

#endif /* UBC_LEDGER_H */
