/* bench_ledger.c: ledger throughput, subject and baseline in the same run.
 *
 * 1. transfers/s through ubc_ledger_apply_batch (batches of 8192, and of 32 as in a ring burst;
 *    pre-verified transfers among `accounts` funded accounts, random pairs), against a naive
 *    ledger doing the same checks (verified mark, signer, nonce, funds, overflow) with accounts
 *    in a sorted array found by binary search, and the state hash recomputed over the whole
 *    state after each batch (the obvious way to get a per-batch state hash); a second line
 *    compares with the naive ledger without any state hash, i.e. what our hashing and audit
 *    record cost.
 * 2. escrow/settle cycles/s: lock then final release (to a provider, minus the burn fee) of
 *    unique jobs with 256 escrows in flight, same two baselines (naive escrows: a linear array).
 * 3. Ed25519 verifications/s of ubc_ledger_verify_batch on 1 and 2 threads, against libsodium
 *    crypto_sign_verify_detached one by one on one thread over the same signed bytes.
 * Medians of >= 5 samples; UBC_BENCH_QUICK=1 shrinks everything to a smoke test;
 * UBC_LEDGER_BENCH_ACCOUNTS overrides the account count (default 100000).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#define XXH_INLINE_ALL /* as the subject: the same hash code on both sides */
#include <xxhash.h>

#include "common/ubc_bench.h"
#include "common/ubc_time.h"
#include "ledger/ubc_ledger.h"
#include "perf/ledger/bench_ledger_workload.h"

#define BATCH 8192u
#define SAMPLES_MAX 16u

struct setup {
    uint32_t accounts, batches, samples, signatures;
    uint32_t batch; /* ops per apply call */
};

/* ---- the naive baseline ledger ---- */

struct naive_account {
    uint8_t key[32];
    uint64_t balance, staked, escrowed, nonce;
};

struct naive_escrow {
    uint64_t job;
    uint32_t owner, open;
    uint64_t amount;
};

struct naive {
    struct naive_account *accounts; /* sorted by key */
    uint32_t count;
    struct naive_escrow escrows[IN_FLIGHT + 8];
    uint64_t burned, minted;
    int hashed;
    uint8_t state_hash[16];
};

static int
naive_compare(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

static struct naive_account *
naive_find(struct naive *n, const uint8_t *key)
{
    return bsearch(key, n->accounts, n->count, sizeof(*n->accounts), naive_compare);
}

static uint16_t
naive_transfer(struct naive *n, const struct ubc_ledger_op *op)
{
    if (op->verify != UBC_LEDGER_VERIFY_OK)
        return UBC_LEDGER_ERR_NOT_VERIFIED;
    struct naive_account *from = naive_find(n, op->account);
    if (from == NULL)
        return UBC_LEDGER_ERR_NO_ACCOUNT;
    if (memcmp(op->signer, from->key, 32) != 0)
        return UBC_LEDGER_ERR_UNAUTHORIZED;
    if (op->nonce != from->nonce + 1)
        return UBC_LEDGER_ERR_NONCE;
    from->nonce++;
    struct naive_account *to = naive_find(n, op->args.u.transfer.target);
    if (to == NULL)
        return UBC_LEDGER_ERR_NO_ACCOUNT;
    uint64_t amount = op->args.u.transfer.amount, sum;
    if (from->balance < amount)
        return UBC_LEDGER_ERR_INSUFFICIENT_FUNDS;
    if (__builtin_add_overflow(to->balance, amount, &sum))
        return UBC_LEDGER_ERR_OVERFLOW;
    from->balance -= amount;
    to->balance += amount;
    return UBC_LEDGER_OK;
}

static struct naive_escrow *
naive_escrow_find(struct naive *n, uint32_t owner, uint64_t job)
{
    for (uint32_t i = 0; i < IN_FLIGHT + 8; i++)
        if (n->escrows[i].open && n->escrows[i].owner == owner && n->escrows[i].job == job)
            return &n->escrows[i];
    return NULL;
}

static uint16_t
naive_escrow(struct naive *n, const struct ubc_ledger_op *op)
{
    if (op->verify != UBC_LEDGER_VERIFY_INTERNAL)
        return UBC_LEDGER_ERR_UNAUTHORIZED;
    struct naive_account *owner = naive_find(n, op->account);
    if (owner == NULL)
        return UBC_LEDGER_ERR_NO_ACCOUNT;
    uint32_t owner_index = (uint32_t)(owner - n->accounts);
    struct naive_escrow *e = naive_escrow_find(n, owner_index, op->args.u.escrow.job_id);
    uint64_t amount = op->args.u.escrow.amount;
    if (op->kind == UBC_LEDGER_OP_ESCROW_LOCK) {
        if (e != NULL)
            return UBC_LEDGER_ERR_ESCROW_EXISTS;
        if (owner->balance < amount)
            return UBC_LEDGER_ERR_INSUFFICIENT_FUNDS;
        for (e = n->escrows; e < n->escrows + IN_FLIGHT + 8 && e->open; e++)
            ;
        if (e == n->escrows + IN_FLIGHT + 8)
            return UBC_LEDGER_ERR_FULL;
        *e = (struct naive_escrow){ op->args.u.escrow.job_id, owner_index, 1, amount };
        owner->balance -= amount;
        owner->escrowed += amount;
        return UBC_LEDGER_OK;
    }
    if (e == NULL)
        return UBC_LEDGER_ERR_NO_ESCROW;
    struct naive_account *provider = naive_find(n, op->args.u.escrow.provider);
    if (provider == NULL)
        return UBC_LEDGER_ERR_NO_ACCOUNT;
    if (amount > e->amount)
        return UBC_LEDGER_ERR_INSUFFICIENT_FUNDS;
    uint64_t fee = amount * 500 / 10000;
    owner->escrowed -= e->amount;
    provider->balance += amount - fee;
    owner->balance += e->amount - amount;
    n->burned += fee;
    e->open = 0;
    return UBC_LEDGER_OK;
}

static void
naive_apply(struct naive *n, const struct ubc_ledger_op *ops, uint32_t count, uint16_t *results)
{
    for (uint32_t i = 0; i < count; i++)
        results[i] = ops[i].kind == UBC_LEDGER_OP_TRANSFER ? naive_transfer(n, &ops[i])
                                                           : naive_escrow(n, &ops[i]);
    if (n->hashed) {
        XXH3_state_t state;
        XXH3_128bits_reset(&state);
        XXH3_128bits_update(&state, n->accounts, (size_t)n->count * sizeof(*n->accounts));
        XXH3_128bits_update(&state, n->escrows, sizeof(n->escrows));
        XXH3_128bits_update(&state, &n->burned, sizeof(n->burned));
        XXH128_canonicalFromHash((XXH128_canonical_t *)n->state_hash, XXH3_128bits_digest(&state));
    }
}

static void
naive_open(struct naive *n, uint32_t accounts, int hashed)
{
    memset(n, 0, sizeof(*n));
    n->accounts = calloc(accounts, sizeof(*n->accounts));
    UBC_ASSERT(n->accounts != NULL);
    for (uint32_t i = 0; i < accounts; i++) {
        key_of(i, n->accounts[i].key);
        n->accounts[i].balance = 1000000000000ull;
    }
    qsort(n->accounts, accounts, sizeof(*n->accounts), naive_compare);
    n->count = accounts;
    n->hashed = hashed;
}

/* ---- the subject ---- */

struct side {
    struct ubc_ledger *ledger;
    struct naive *naive;
    uint64_t height;
};

/* Applies `batches` batches from ops on one side; returns ops per second. */
static double
run_batches(struct side *s, const struct ubc_ledger_op *ops, uint32_t batches, uint32_t batch_ops,
            uint16_t *results)
{
    uint64_t start = ubc_time_monotonic_ns();
    uint64_t refused = 0;
    for (uint32_t b = 0; b < batches; b++) {
        const struct ubc_ledger_op *batch = ops + (uint64_t)b * batch_ops;
        if (s->ledger != NULL) {
            struct ubc_ledger_audit audit;
            UBC_ASSERT(ubc_ledger_apply_batch(s->ledger, batch, batch_ops, ++s->height, results,
                                              &audit) == 0);
        } else {
            naive_apply(s->naive, batch, batch_ops, results);
        }
        for (uint32_t i = 0; i < batch_ops; i++)
            refused += results[i] != UBC_LEDGER_OK;
    }
    double seconds = (double)(ubc_time_monotonic_ns() - start) / 1e9;
    UBC_ASSERT(refused == 0); /* every op of the workload is valid on both sides */
    return (double)batches * batch_ops / seconds;
}

static void
emit(const char *metric, const char *unit, double value, const char *baseline,
     double baseline_value, uint32_t samples, uint32_t accounts, uint32_t batch,
     const char *pattern)
{
    struct ubc_bench_result r;
    memset(&r, 0, sizeof(r));
    r.harness = "ledger";
    r.metric = metric;
    r.unit = unit;
    r.value = value;
    r.baseline = baseline;
    r.baseline_value = baseline_value;
    r.samples = samples;
    ubc_bench_param_num(&r, "accounts", accounts);
    ubc_bench_param_num(&r, "batch", batch);
    ubc_bench_param_text(&r, "pattern", pattern);
    ubc_bench_emit(&r);
}

/* Runs the subject and both naive baselines on `make` workloads, interleaved per sample. */
static void
bench_apply(const struct setup *su, struct ubc_ledger_op *(*make)(uint32_t, uint64_t),
            const char *metric, const char *unit, const char *pattern, double ops_per_unit)
{
    uint64_t per_sample = (uint64_t)su->batches * su->batch;
    struct ubc_ledger_op *ops = make(su->accounts, per_sample * su->samples);
    uint16_t *results = calloc(BATCH, sizeof(*results));
    void *mem = NULL;
    struct side subject = { ledger_open(su->accounts, &mem), NULL, 0 };
    static struct naive hashed, plain;
    naive_open(&hashed, su->accounts, 1);
    naive_open(&plain, su->accounts, 0);
    struct side side_hashed = { NULL, &hashed, 0 }, side_plain = { NULL, &plain, 0 };
    double a[SAMPLES_MAX], b[SAMPLES_MAX], c[SAMPLES_MAX];
    for (uint32_t s = 0; s < su->samples; s++) {
        const struct ubc_ledger_op *slice = ops + s * per_sample;
        a[s] = run_batches(&subject, slice, su->batches, su->batch, results) / ops_per_unit;
        b[s] = run_batches(&side_hashed, slice, su->batches, su->batch, results) / ops_per_unit;
        c[s] = run_batches(&side_plain, slice, su->batches, su->batch, results) / ops_per_unit;
    }
    double subject_median = ubc_bench_median(a, su->samples);
    emit(metric, unit, subject_median, "naive_bsearch_full_rehash",
         ubc_bench_median(b, su->samples), su->samples, su->accounts, su->batch, pattern);
    emit(metric, unit, subject_median, "naive_bsearch_no_hash", ubc_bench_median(c, su->samples),
         su->samples, su->accounts, su->batch, pattern);
    free(hashed.accounts);
    free(plain.accounts);
    free(results);
    free(ops);
    free(mem);
}

/* ---- verification ---- */

struct verify_job {
    struct ubc_ledger_op *ops;
    uint32_t count;
    uint32_t bad;
};

static void *
verify_thread(void *arg)
{
    struct verify_job *job = arg;
    job->bad = ubc_ledger_verify_batch(1, job->ops, job->count);
    return NULL;
}

static double
verify_run(struct ubc_ledger_op *ops, uint32_t n, uint32_t threads)
{
    struct verify_job jobs[2] = { { ops, n / threads, 0 },
                                  { ops + n / threads, n - n / threads, 0 } };
    pthread_t tid;
    uint64_t start = ubc_time_monotonic_ns();
    if (threads == 2)
        UBC_ASSERT(pthread_create(&tid, NULL, verify_thread, &jobs[1]) == 0);
    verify_thread(&jobs[0]);
    if (threads == 2)
        UBC_ASSERT(pthread_join(tid, NULL) == 0);
    double seconds = (double)(ubc_time_monotonic_ns() - start) / 1e9;
    UBC_ASSERT(jobs[0].bad == 0 && (threads == 1 || jobs[1].bad == 0));
    return n / seconds;
}

static double
sodium_run(const struct ubc_ledger_op *ops, const uint8_t (*messages)[UBC_LEDGER_SIGNED_BYTES],
           uint32_t n)
{
    uint64_t start = ubc_time_monotonic_ns();
    uint32_t bad = 0;
    for (uint32_t i = 0; i < n; i++)
        bad += crypto_sign_verify_detached(ops[i].signature, messages[i], UBC_LEDGER_SIGNED_BYTES,
                                           ops[i].signer) != 0;
    double seconds = (double)(ubc_time_monotonic_ns() - start) / 1e9;
    UBC_ASSERT(bad == 0);
    return n / seconds;
}

static void
bench_verify(const struct setup *su)
{
    uint32_t n = su->signatures;
    struct ubc_ledger_op *ops = calloc(n, sizeof(*ops));
    uint8_t(*messages)[UBC_LEDGER_SIGNED_BYTES] = calloc(n, UBC_LEDGER_SIGNED_BYTES);
    uint8_t pk[64][32], sk[64][64];
    for (uint32_t k = 0; k < 64; k++)
        crypto_sign_keypair(pk[k], sk[k]);
    for (uint32_t i = 0; i < n; i++) {
        ops[i].kind = UBC_LEDGER_OP_TRANSFER;
        ops[i].nonce = i + 1;
        memcpy(ops[i].account, pk[i % 64], 32);
        ops[i].args.u.transfer.amount = i;
        ubc_ledger_op_sign(1, &ops[i], sk[i % 64]);
        ubc_ledger_op_signed_bytes(1, &ops[i], messages[i]);
    }
    double one[SAMPLES_MAX], two[SAMPLES_MAX], base[SAMPLES_MAX];
    for (uint32_t s = 0; s < su->samples; s++) {
        one[s] = verify_run(ops, n, 1);
        two[s] = verify_run(ops, n, 2);
        base[s] = sodium_run(ops, (const uint8_t(*)[UBC_LEDGER_SIGNED_BYTES])messages, n);
    }
    double base_median = ubc_bench_median(base, su->samples);
    emit("verify_per_s_1_thread", "verifications/s", ubc_bench_median(one, su->samples),
         "sodium_verify_one_by_one_1_thread", base_median, su->samples, 64, n, "transfer");
    emit("verify_per_s_2_threads", "verifications/s", ubc_bench_median(two, su->samples),
         "sodium_verify_one_by_one_1_thread", base_median, su->samples, 64, n, "transfer");
    free(ops);
    free(messages);
}

int
main(void)
{
    if (sodium_init() < 0)
        return 1;
    struct setup su = { 100000, 8, 5, 4096, BATCH };
    if (ubc_bench_quick())
        su = (struct setup){ 1000, 1, 2, 128, BATCH };
    const char *accounts = getenv("UBC_LEDGER_BENCH_ACCOUNTS"); /* e.g. 1000000 */
    if (accounts != NULL && atoi(accounts) >= 1000)
        su.accounts = (uint32_t)atoi(accounts);
    bench_apply(&su, transfers_make, "transfers_per_s", "ops/s", "random_pairs", 1.0);
    bench_apply(&su, escrows_make, "escrow_settle_cycles_per_s", "cycles/s",
                "lock_release_256_in_flight", 2.0);
    /* Ring bursts: the ledger role may apply what one poll brought, 32 ops at a time. */
    struct setup small = su;
    small.batch = 32;
    small.batches = su.batches * (BATCH / 32) / 4; /* a quarter of the ops: the naive full
                                                      * rehash per burst is slow */
    bench_apply(&small, transfers_make, "transfers_per_s", "ops/s", "random_pairs", 1.0);
    bench_verify(&su);
    return 0;
}
