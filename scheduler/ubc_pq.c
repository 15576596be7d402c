/* ubc_pq.c: per-shard, per-level Vyukov rings under per-shard summary
 * bitmaps (see ubc_pq.h and docs/scheduler.md section 1). */
#include "scheduler/ubc_pq.h"

#include <stdalign.h>
#include <stdatomic.h>
#include <string.h>

#include "common/ubc_assert.h"

#define PQ_LINE 64u
#define PQ_WORDS (UBC_PQ_LEVELS_MAX / 64u) /* summary words per shard: one line */

/* 16 bytes, four to a line. value (and the entry time, kept in a separate
 * array that exists only when aging is on, so a queue without aging touches
 * no line for it) are atomics (relaxed) so a sweep may peek at a head it
 * does not own yet; ownership itself is decided by the sequence number. */
struct pq_slot {
    _Atomic uint64_t sequence;
    _Atomic uint64_t value;
};

/* Producers and consumers touch different lines. */
struct pq_level {
    alignas(PQ_LINE) _Atomic uint64_t enqueue_pos;
    alignas(PQ_LINE) _Atomic uint64_t dequeue_pos;
};

/* One shard's bitmap of levels that may be non-empty, level 0 (best) in bit
 * 0 of word 0. The whole summary is one cache line, so a remove reads one
 * line per shard; only that shard's inserts and failed pops write it. */
struct pq_summary {
    alignas(PQ_LINE) _Atomic uint64_t words[PQ_WORDS];
};

struct ubc_pq {
    uint64_t magic;
    uint32_t band_count;
    uint32_t band_shift; /* priority >> band_shift = band */
    uint32_t band_log2;  /* band_count = 1 << band_log2: shifts, not divisions */
    uint32_t level_count;
    uint32_t level_capacity;
    uint32_t shard_count;   /* power of two */
    uint32_t word_count;    /* summary words in use: ceil(level_count / 64) */
    uint32_t global_period; /* default remove: every n-th call looks at all shards */
    uint32_t single_thread; /* UBC_PQ_FLAG_SINGLE_THREAD: plain loads and stores */
    uint32_t fast_path;     /* single_thread and one shard: the engine's direct path */
    uint64_t aging_ns;
    uint64_t slots_offset;   /* bytes from the struct to the slot array */
    uint64_t entries_offset; /* to the entry-time array; 0 = no aging, no array */
    struct pq_summary summary[UBC_PQ_SHARDS_MAX];
    struct pq_level levels[]; /* shard_count x level_count, then the slots */
};

_Static_assert(sizeof(struct pq_summary) == PQ_LINE, "a shard summary is one line");

/* initial-exec: the library is built -fPIC but linked statically, and the
 * default model would call __tls_get_addr on every insert and remove. */
#define PQ_TLS static _Thread_local __attribute__((tls_model("initial-exec")))

static _Atomic uint32_t pq_thread_next;
PQ_TLS uint32_t pq_thread_index = UINT32_MAX;
/* Default removes left before the thread's next global one, and how far
 * that one rotates its tie order. */
PQ_TLS uint32_t pq_thread_countdown;
PQ_TLS uint32_t pq_thread_rotation;

static uint32_t
pq_shards_of(const struct ubc_pq_params *p)
{
    return p->shard_count == 0 ? 1u : p->shard_count;
}

static int
pq_params_valid(const struct ubc_pq_params *p)
{
    if (p == NULL || p->band_count == 0 || p->band_count > UBC_PQ_BANDS_MAX)
        return 0;
    if ((p->flags & ~UBC_PQ_FLAG_SINGLE_THREAD) != 0)
        return 0;
    if ((p->band_count & (p->band_count - 1)) != 0)
        return 0;
    uint32_t shards = pq_shards_of(p);
    if (shards > UBC_PQ_SHARDS_MAX || (shards & (shards - 1)) != 0)
        return 0;
    if (p->level_capacity < 2 || (p->level_capacity & (p->level_capacity - 1)) != 0)
        return 0;
    return p->level_capacity <= (1u << 30);
}

size_t
ubc_pq_align(void)
{
    return PQ_LINE;
}

static size_t
pq_slots_offset(uint32_t level_total)
{
    size_t bytes = sizeof(struct ubc_pq) + (size_t)level_total * sizeof(struct pq_level);
    return (bytes + PQ_LINE - 1) & ~(size_t)(PQ_LINE - 1);
}

size_t
ubc_pq_footprint(const struct ubc_pq_params *params)
{
    if (!pq_params_valid(params))
        return 0;
    uint32_t level_total = UBC_QOS_CLASSES * params->band_count * pq_shards_of(params);
    size_t slot_count = (size_t)level_total * params->level_capacity;
    size_t entry_bytes = params->aging_ns != 0 ? slot_count * sizeof(uint64_t) : 0;
    return pq_slots_offset(level_total) + slot_count * sizeof(struct pq_slot) + entry_bytes;
}

static inline struct pq_level *
pq_level_at(struct ubc_pq *pq, uint32_t shard, uint32_t level)
{
    return &pq->levels[(size_t)shard * pq->level_count + level];
}

static inline struct pq_slot *
pq_slots(const struct ubc_pq *pq, uint32_t shard, uint32_t level)
{
    uint8_t *base = (uint8_t *)(uintptr_t)pq + pq->slots_offset;
    size_t index = (size_t)shard * pq->level_count + level;
    return (struct pq_slot *)base + index * pq->level_capacity;
}

/* The level's entry times (slot i's at [i]), or NULL without aging. */
static inline _Atomic uint64_t *
pq_entries(const struct ubc_pq *pq, uint32_t shard, uint32_t level)
{
    if (pq->entries_offset == 0)
        return NULL;
    uint8_t *base = (uint8_t *)(uintptr_t)pq + pq->entries_offset;
    size_t index = (size_t)shard * pq->level_count + level;
    return (_Atomic uint64_t *)base + index * pq->level_capacity;
}

void *
ubc_pq_new(void *mem, const struct ubc_pq_params *params)
{
    if (mem == NULL || ((uintptr_t)mem & (PQ_LINE - 1)) != 0 || !pq_params_valid(params))
        return NULL;
    struct ubc_pq *pq = mem;
    uint32_t shards = pq_shards_of(params);
    uint32_t level_count = UBC_QOS_CLASSES * params->band_count;
    memset(pq, 0, pq_slots_offset(level_count * shards));
    pq->band_count = params->band_count;
    pq->band_shift = 16u - (uint32_t)__builtin_ctz(params->band_count);
    pq->band_log2 = (uint32_t)__builtin_ctz(params->band_count);
    pq->level_count = level_count;
    pq->level_capacity = params->level_capacity;
    pq->shard_count = shards;
    pq->word_count = (level_count + 63u) / 64u;
    pq->global_period = params->global_period == 0 ? 1u : params->global_period;
    pq->aging_ns = params->aging_ns;
    pq->single_thread = (params->flags & UBC_PQ_FLAG_SINGLE_THREAD) != 0;
    pq->fast_path = pq->single_thread && shards == 1;
    pq->slots_offset = pq_slots_offset(level_count * shards);
    size_t slot_count = (size_t)level_count * shards * params->level_capacity;
    pq->entries_offset =
        params->aging_ns != 0 ? pq->slots_offset + slot_count * sizeof(struct pq_slot) : 0;
    for (uint32_t shard = 0; shard < shards; shard++) {
        for (uint32_t w = 0; w < PQ_WORDS; w++)
            atomic_init(&pq->summary[shard].words[w], 0);
        for (uint32_t level = 0; level < level_count; level++) {
            struct pq_slot *slots = pq_slots(pq, shard, level);
            _Atomic uint64_t *entries = pq_entries(pq, shard, level);
            for (uint32_t i = 0; i < params->level_capacity; i++) {
                atomic_init(&slots[i].sequence, i);
                atomic_init(&slots[i].value, 0);
                if (entries != NULL)
                    atomic_init(&entries[i], 0);
            }
            atomic_init(&pq_level_at(pq, shard, level)->enqueue_pos, 0);
            atomic_init(&pq_level_at(pq, shard, level)->dequeue_pos, 0);
        }
    }
    pq->magic = UBC_PQ_MAGIC;
    return mem;
}

struct ubc_pq *
ubc_pq_join(void *mem)
{
    if (mem == NULL || ((uintptr_t)mem & (PQ_LINE - 1)) != 0)
        return NULL;
    struct ubc_pq *pq = mem;
    return pq->magic == UBC_PQ_MAGIC ? pq : NULL;
}

void *
ubc_pq_leave(struct ubc_pq *pq)
{
    UBC_ASSERT(pq != NULL && pq->magic == UBC_PQ_MAGIC);
    return pq;
}

void *
ubc_pq_delete(void *mem)
{
    struct ubc_pq *pq = ubc_pq_join(mem);
    if (pq == NULL)
        return NULL;
    pq->magic = 0;
    return mem;
}

uint32_t
ubc_pq_band_of(const struct ubc_pq *pq, uint16_t priority)
{
    return (uint32_t)priority >> pq->band_shift;
}

uint32_t
ubc_pq_shard_count(const struct ubc_pq *pq)
{
    UBC_ASSERT(pq != NULL && pq->magic == UBC_PQ_MAGIC);
    return pq->shard_count;
}

/* Threads get consecutive indices on first use, so N threads on a queue
 * of N (or more) shards get distinct home shards. */
uint32_t
ubc_pq_shard_self(const struct ubc_pq *pq)
{
    UBC_ASSERT(pq != NULL && pq->magic == UBC_PQ_MAGIC);
    if (pq_thread_index == UINT32_MAX)
        pq_thread_index = atomic_fetch_add_explicit(&pq_thread_next, 1, memory_order_relaxed);
    return pq_thread_index & (pq->shard_count - 1u);
}

/* Level numbers grow toward worse items so that the lowest set bit of the
 * summary is the best non-empty level. */
static inline uint32_t
pq_level_of(const struct ubc_pq *pq, uint32_t qos_class, uint32_t band)
{
    return qos_class * pq->band_count + (pq->band_count - 1u - band);
}

/* Single-thread mode: the positions alone say full and empty (the slot
 * sequence numbers are not used), and every access is a plain load or
 * store. The positions stay atomics so ubc_pq_depth may read them from
 * another thread. */
static inline int
pq_ring_push_single(struct ubc_pq *pq, uint32_t shard, uint32_t level, uint64_t value,
                    uint64_t now_ns)
{
    struct pq_level *lv = pq_level_at(pq, shard, level);
    struct pq_slot *slots = pq_slots(pq, shard, level);
    uint64_t mask = pq->level_capacity - 1u;
    uint64_t pos = atomic_load_explicit(&lv->enqueue_pos, memory_order_relaxed);
    if (pos - atomic_load_explicit(&lv->dequeue_pos, memory_order_relaxed) > mask)
        return 0;
    atomic_store_explicit(&slots[pos & mask].value, value, memory_order_relaxed);
    _Atomic uint64_t *entries = pq_entries(pq, shard, level);
    if (entries != NULL)
        atomic_store_explicit(&entries[pos & mask], now_ns, memory_order_relaxed);
    atomic_store_explicit(&lv->enqueue_pos, pos + 1, memory_order_relaxed);
    __builtin_prefetch(&slots[(pos + 8u) & mask], 1);
    return 1;
}

/* Pops the head (aging: only a head that entered at or before
 * entry_limit_ns); a pop that empties the level clears its summary bit, so
 * in this mode a set bit means exactly "non-empty". */
static inline int
pq_ring_pop_single(struct ubc_pq *pq, uint32_t shard, uint32_t level, uint64_t entry_limit_ns,
                   uint64_t *value)
{
    struct pq_level *lv = pq_level_at(pq, shard, level);
    struct pq_slot *slots = pq_slots(pq, shard, level);
    uint64_t mask = pq->level_capacity - 1u;
    uint64_t pos = atomic_load_explicit(&lv->dequeue_pos, memory_order_relaxed);
    uint64_t end = atomic_load_explicit(&lv->enqueue_pos, memory_order_relaxed);
    if (pos == end)
        return 0;
    if (entry_limit_ns != UINT64_MAX &&
        atomic_load_explicit(&pq_entries(pq, shard, level)[pos & mask], memory_order_relaxed) >
            entry_limit_ns)
        return 0;
    *value = atomic_load_explicit(&slots[pos & mask].value, memory_order_relaxed);
    if (pos + 1 != end) {
        atomic_store_explicit(&lv->dequeue_pos, pos + 1, memory_order_relaxed);
        __builtin_prefetch(&slots[(pos + 8u) & mask]);
        return 1;
    }
    /* Emptied: rewind the tail onto the slot just read (no sequence
     * numbers to keep in step in this mode), so a level that keeps going
     * empty and back, the common case above the frontier, reuses one hot
     * line instead of walking a fresh one every four inserts. */
    atomic_store_explicit(&lv->enqueue_pos, pos, memory_order_relaxed);
    _Atomic uint64_t *word = &pq->summary[shard].words[level / 64u];
    uint64_t bits = atomic_load_explicit(word, memory_order_relaxed);
    atomic_store_explicit(word, bits & ~(1ull << (level % 64u)), memory_order_relaxed);
    return 1;
}

static inline int
pq_ring_push(struct ubc_pq *pq, uint32_t shard, uint32_t level, uint64_t value, uint64_t now_ns)
{
    if (pq->single_thread)
        return pq_ring_push_single(pq, shard, level, value, now_ns);
    struct pq_level *lv = pq_level_at(pq, shard, level);
    struct pq_slot *slots = pq_slots(pq, shard, level);
    uint64_t mask = pq->level_capacity - 1u;
    uint64_t pos = atomic_load_explicit(&lv->enqueue_pos, memory_order_relaxed);
    struct pq_slot *slot;
    for (;;) {
        slot = &slots[pos & mask];
        uint64_t seq = atomic_load_explicit(&slot->sequence, memory_order_acquire);
        int64_t diff = (int64_t)(seq - pos);
        if (diff == 0) {
            /* seq_cst: the claim is the producer's half of the Dekker pair
             * with pq_level_clear (a locked instruction on x86 anyway). */
            if (atomic_compare_exchange_weak_explicit(&lv->enqueue_pos, &pos, pos + 1,
                                                      memory_order_seq_cst, memory_order_relaxed))
                break;
        } else if (diff < 0) {
            return 0; /* the slot of the previous lap is still occupied: full */
        } else {
            pos = atomic_load_explicit(&lv->enqueue_pos, memory_order_relaxed);
        }
    }
    atomic_store_explicit(&slot->value, value, memory_order_relaxed);
    _Atomic uint64_t *entries = pq_entries(pq, shard, level);
    if (entries != NULL)
        atomic_store_explicit(&entries[pos & mask], now_ns, memory_order_relaxed);
    atomic_store_explicit(&slot->sequence, pos + 1, memory_order_release);
    __builtin_prefetch(&slots[(pos + 8u) & mask], 1); /* the level's next slots, for writing */
    return 1;
}

/* Pops the head of a level. With entry_limit_ns != UINT64_MAX it pops only a
 * head whose entry time is <= entry_limit_ns (the aging sweep). */
static inline int
pq_ring_pop(struct ubc_pq *pq, uint32_t shard, uint32_t level, uint64_t entry_limit_ns,
            uint64_t *value)
{
    if (pq->single_thread)
        return pq_ring_pop_single(pq, shard, level, entry_limit_ns, value);
    struct pq_level *lv = pq_level_at(pq, shard, level);
    struct pq_slot *slots = pq_slots(pq, shard, level);
    uint64_t mask = pq->level_capacity - 1u;
    uint64_t pos = atomic_load_explicit(&lv->dequeue_pos, memory_order_relaxed);
    struct pq_slot *slot;
    for (;;) {
        slot = &slots[pos & mask];
        uint64_t seq = atomic_load_explicit(&slot->sequence, memory_order_acquire);
        int64_t diff = (int64_t)(seq - (pos + 1));
        if (diff == 0) {
            /* The entry time read here belongs to lap pos if the CAS succeeds:
             * no producer can rewrite the slot before we release it. */
            if (entry_limit_ns != UINT64_MAX &&
                atomic_load_explicit(&pq_entries(pq, shard, level)[pos & mask],
                                     memory_order_relaxed) > entry_limit_ns)
                return 0;
            if (atomic_compare_exchange_weak_explicit(&lv->dequeue_pos, &pos, pos + 1,
                                                      memory_order_relaxed, memory_order_relaxed))
                break;
        } else if (diff < 0) {
            return 0; /* empty, or the head's producer has not published yet */
        } else {
            pos = atomic_load_explicit(&lv->dequeue_pos, memory_order_relaxed);
        }
    }
    *value = atomic_load_explicit(&slot->value, memory_order_relaxed);
    atomic_store_explicit(&slot->sequence, pos + mask + 1, memory_order_release);
    /* Levels are consumed in order, but a prefilled level sits in DRAM and
     * the hardware prefetcher loses the stream among the other levels. */
    __builtin_prefetch(&slots[(pos + 8u) & mask]);
    return 1;
}

static inline int
pq_ring_nonempty(struct ubc_pq *pq, uint32_t shard, uint32_t level)
{
    struct pq_level *lv = pq_level_at(pq, shard, level);
    uint64_t deq = atomic_load_explicit(&lv->dequeue_pos, memory_order_seq_cst);
    uint64_t enq = atomic_load_explicit(&lv->enqueue_pos, memory_order_seq_cst);
    return enq != deq;
}

/* Dekker pairing with pq_level_clear. The producer's claim (seq_cst CAS on
 * enqueue_pos) precedes this seq_cst load; the consumer's clear (seq_cst RMW)
 * precedes its seq_cst re-read of enqueue_pos. In the single total order of
 * seq_cst operations either the re-read sees the claim (the consumer sets
 * the bit back) or the load sees the clear (the producer sets the bit). */
static inline void
pq_level_mark(struct ubc_pq *pq, uint32_t shard, uint32_t level)
{
    _Atomic uint64_t *word = &pq->summary[shard].words[level / 64u];
    uint64_t bit = 1ull << (level % 64u);
    if (pq->single_thread) {
        uint64_t bits = atomic_load_explicit(word, memory_order_relaxed);
        atomic_store_explicit(word, bits | bit, memory_order_relaxed);
        return;
    }
    if ((atomic_load_explicit(word, memory_order_seq_cst) & bit) == 0)
        atomic_fetch_or_explicit(word, bit, memory_order_seq_cst);
}

static inline void
pq_level_clear(struct ubc_pq *pq, uint32_t shard, uint32_t level)
{
    _Atomic uint64_t *word = &pq->summary[shard].words[level / 64u];
    uint64_t bit = 1ull << (level % 64u);
    if (pq->single_thread) { /* a pop already cleared it: keep the bits exact */
        UBC_ASSERT(!pq_ring_nonempty(pq, shard, level));
        uint64_t bits = atomic_load_explicit(word, memory_order_relaxed);
        atomic_store_explicit(word, bits & ~bit, memory_order_relaxed);
        return;
    }
    atomic_fetch_and_explicit(word, ~bit, memory_order_seq_cst);
    if (pq_ring_nonempty(pq, shard, level))
        atomic_fetch_or_explicit(word, bit, memory_order_seq_cst);
}

int
ubc_pq_insert_at(struct ubc_pq *pq, uint32_t shard, uint32_t qos_class, uint16_t priority,
                 uint64_t value, uint64_t now_ns)
{
    UBC_ASSERT(pq != NULL && pq->magic == UBC_PQ_MAGIC);
    if (qos_class >= UBC_QOS_CLASSES || shard >= pq->shard_count)
        return UBC_ERR_MALFORMED;
    uint32_t level = pq_level_of(pq, qos_class, ubc_pq_band_of(pq, priority));
    UBC_ASSERT(level < pq->level_count);
    if (!pq_ring_push(pq, shard, level, value, now_ns))
        return UBC_ERR_QUEUE_FULL;
    pq_level_mark(pq, shard, level);
    return UBC_OK;
}

__attribute__((noinline)) static int
pq_insert_other(struct ubc_pq *pq, uint32_t qos_class, uint16_t priority, uint64_t value,
                uint64_t now_ns)
{
    return ubc_pq_insert_at(pq, ubc_pq_shard_self(pq), qos_class, priority, value, now_ns);
}

int
ubc_pq_insert(struct ubc_pq *pq, uint32_t qos_class, uint16_t priority, uint64_t value,
              uint64_t now_ns)
{
    UBC_ASSERT(pq != NULL && pq->magic == UBC_PQ_MAGIC);
    /* The engine's case (one lcore, one shard): a leaf with no thread
     * index and no call, so it saves no registers; the rest is a tail call. */
    if (__builtin_expect(pq->fast_path, 1)) {
        if (qos_class >= UBC_QOS_CLASSES)
            return UBC_ERR_MALFORMED;
        uint32_t level = pq_level_of(pq, qos_class, (uint32_t)priority >> pq->band_shift);
        if (!pq_ring_push_single(pq, 0, level, value, now_ns))
            return UBC_ERR_QUEUE_FULL;
        _Atomic uint64_t *word = &pq->summary[0].words[level / 64u];
        uint64_t bits = atomic_load_explicit(word, memory_order_relaxed);
        atomic_store_explicit(word, bits | 1ull << (level % 64u), memory_order_relaxed);
        return UBC_OK;
    }
    return pq_insert_other(pq, qos_class, priority, value, now_ns);
}

static inline void
pq_item_fill(const struct ubc_pq *pq, uint32_t level, uint64_t value, struct ubc_pq_item *out)
{
    out->value = value;
    out->qos_class = (uint8_t)(level >> pq->band_log2);
    out->band = (uint8_t)(pq->band_count - 1u - (level & (pq->band_count - 1u)));
}

/* Best level set in a snapshot of one shard's summary, or UINT32_MAX. */
static inline uint32_t
pq_snapshot_best(const uint64_t *words, uint32_t word_count)
{
    for (uint32_t w = 0; w < word_count; w++)
        if (words[w] != 0)
            return w * 64u + (uint32_t)__builtin_ctzll(words[w]);
    return UINT32_MAX;
}

/* Reads the summaries of shards first_shard .. first_shard + span - 1 (mod
 * shard_count) once, levels >= first_level only, into snapshot rows 0..span-1.
 * The read is acquire: a set bit was published after its level's claim. */
static inline void
pq_snapshot_take(struct ubc_pq *pq, uint32_t first_shard, uint32_t span, uint32_t first_level,
                 uint64_t *snapshot)
{
    uint32_t first_word = first_level / 64u;
    for (uint32_t i = 0; i < span; i++) {
        uint32_t shard = (first_shard + i) & (pq->shard_count - 1u);
        uint64_t *words = snapshot + (size_t)i * PQ_WORDS;
        for (uint32_t w = 0; w < pq->word_count; w++) {
            words[w] = w < first_word ? 0
                                      : atomic_load_explicit(&pq->summary[shard].words[w],
                                                             memory_order_acquire);
        }
        if (first_level % 64u != 0)
            words[first_word] &= ~0ull << (first_level % 64u);
    }
}

/* Takes the best item the snapshot shows (ties: the earliest row). Each
 * failed pop removes one bit from the snapshot, so the loop ends after at
 * most one pass over what the snapshot saw: a remove never waits for an
 * insert that has claimed a slot but not yet published it. */
static int
pq_remove_snapshot(struct ubc_pq *pq, uint32_t first_shard, uint32_t span, uint64_t *snapshot,
                   struct ubc_pq_item *out)
{
    for (;;) {
        uint32_t best_level = UINT32_MAX, best_row = 0;
        for (uint32_t i = 0; i < span; i++) {
            uint32_t level = pq_snapshot_best(snapshot + (size_t)i * PQ_WORDS, pq->word_count);
            if (level < best_level)
                best_level = level, best_row = i;
        }
        if (best_level == UINT32_MAX)
            return 0;
        uint32_t shard = (first_shard + best_row) & (pq->shard_count - 1u);
        uint64_t value;
        if (pq_ring_pop(pq, shard, best_level, UINT64_MAX, &value)) {
            pq_item_fill(pq, best_level, value, out);
            return 1;
        }
        pq_level_clear(pq, shard, best_level);
        snapshot[(size_t)best_row * PQ_WORDS + best_level / 64u] &= ~(1ull << (best_level % 64u));
    }
}

/* Best non-empty level >= first_level of one shard, or UINT32_MAX, read
 * from the live summary (single-thread mode: the bits are exact). */
static inline uint32_t
pq_summary_best(const struct ubc_pq *pq, uint32_t shard, uint32_t first_level)
{
    const _Atomic uint64_t *words = pq->summary[shard].words;
    uint32_t w = first_level / 64u;
    if (w >= pq->word_count)
        return UINT32_MAX;
    uint64_t bits =
        atomic_load_explicit(&words[w], memory_order_relaxed) & (~0ull << (first_level % 64u));
    while (bits == 0) {
        if (++w == pq->word_count)
            return UINT32_MAX;
        bits = atomic_load_explicit(&words[w], memory_order_relaxed);
    }
    return w * 64u + (uint32_t)__builtin_ctzll(bits);
}

/* Single-thread remove over shards home .. home + span - 1 (ties: the
 * earliest). A set bit is a non-empty level, so the pop cannot fail. */
static inline int
pq_remove_single(struct ubc_pq *pq, uint32_t home, uint32_t span, uint32_t min_class,
                 struct ubc_pq_item *out)
{
    uint32_t first_level = min_class * pq->band_count;
    uint32_t best_level = UINT32_MAX, best_shard = 0;
    for (uint32_t i = 0; i < span; i++) {
        uint32_t shard = (home + i) & (pq->shard_count - 1u);
        uint32_t level = pq_summary_best(pq, shard, first_level);
        if (level < best_level)
            best_level = level, best_shard = shard;
    }
    if (best_level == UINT32_MAX)
        return 0;
    uint64_t value;
    int popped = pq_ring_pop_single(pq, best_shard, best_level, UINT64_MAX, &value);
    UBC_ASSERT(popped);
    pq_item_fill(pq, best_level, value, out);
    return 1;
}

int
ubc_pq_remove_at(struct ubc_pq *pq, uint32_t home, uint32_t min_class, struct ubc_pq_item *out)
{
    UBC_ASSERT(pq != NULL && pq->magic == UBC_PQ_MAGIC && out != NULL);
    if (min_class >= UBC_QOS_CLASSES)
        return 0;
    if (pq->single_thread)
        return pq_remove_single(pq, home, pq->shard_count, min_class, out);
    uint64_t snapshot[UBC_PQ_SHARDS_MAX * PQ_WORDS];
    pq_snapshot_take(pq, home, pq->shard_count, min_class * pq->band_count, snapshot);
    return pq_remove_snapshot(pq, home, pq->shard_count, snapshot, out);
}

int
ubc_pq_remove_local(struct ubc_pq *pq, uint32_t home, uint32_t min_class, struct ubc_pq_item *out)
{
    UBC_ASSERT(pq != NULL && pq->magic == UBC_PQ_MAGIC && out != NULL);
    if (min_class >= UBC_QOS_CLASSES)
        return 0;
    home &= pq->shard_count - 1u;
    if (pq->single_thread) {
        if (pq_remove_single(pq, home, 1, min_class, out))
            return 1;
        return pq->shard_count > 1 ? pq_remove_single(pq, home, pq->shard_count, min_class, out)
                                   : 0;
    }
    uint64_t snapshot[PQ_WORDS];
    pq_snapshot_take(pq, home, 1, min_class * pq->band_count, snapshot);
    if (pq_remove_snapshot(pq, home, 1, snapshot, out))
        return 1;
    return pq->shard_count > 1 ? ubc_pq_remove_at(pq, home, min_class, out) : 0;
}

/* The default remove: local, and global every global_period-th call of
 * the thread (a countdown: no division on the hot path). Global calls start
 * their tie order one shard further each time, so equal-level items of
 * every shard get their turn. */
int
ubc_pq_remove_from(struct ubc_pq *pq, uint32_t min_class, struct ubc_pq_item *out)
{
    if (pq->fast_path) {
        UBC_ASSERT(pq->magic == UBC_PQ_MAGIC && out != NULL);
        return min_class < UBC_QOS_CLASSES ? pq_remove_single(pq, 0, 1, min_class, out) : 0;
    }
    uint32_t home = ubc_pq_shard_self(pq);
    if (pq->global_period <= 1)
        return ubc_pq_remove_at(pq, home, min_class, out);
    if (pq_thread_countdown == 0 || pq_thread_countdown > pq->global_period) {
        pq_thread_countdown = pq->global_period - 1u;
        return ubc_pq_remove_at(pq, home + ++pq_thread_rotation, min_class, out);
    }
    pq_thread_countdown--;
    return ubc_pq_remove_local(pq, home, min_class, out);
}

int
ubc_pq_remove(struct ubc_pq *pq, struct ubc_pq_item *out)
{
    UBC_ASSERT(pq != NULL && pq->magic == UBC_PQ_MAGIC && out != NULL);
    if (__builtin_expect(pq->fast_path, 1)) { /* as in ubc_pq_insert */
        const _Atomic uint64_t *words = pq->summary[0].words;
        uint32_t w = 0;
        uint64_t bits;
        while ((bits = atomic_load_explicit(&words[w], memory_order_relaxed)) == 0)
            if (++w == pq->word_count)
                return 0;
        uint32_t level = w * 64u + (uint32_t)__builtin_ctzll(bits);
        uint64_t value;
        int popped = pq_ring_pop_single(pq, 0, level, UINT64_MAX, &value);
        UBC_ASSERT(popped); /* exact bits: a set bit is a non-empty level */
        pq_item_fill(pq, level, value, out);
        return 1;
    }
    return ubc_pq_remove_from(pq, 0, out);
}

uint32_t
ubc_pq_insert_burst(struct ubc_pq *pq, const struct ubc_pq_entry *entries, uint32_t count,
                    uint64_t now_ns)
{
    UBC_ASSERT(pq != NULL && pq->magic == UBC_PQ_MAGIC && (entries != NULL || count == 0));
    uint32_t shard = ubc_pq_shard_self(pq);
    uint64_t pending[PQ_WORDS] = { 0 };
    uint32_t done = 0;
    for (; done < count; done++) {
        const struct ubc_pq_entry *e = &entries[done];
        if (e->qos_class >= UBC_QOS_CLASSES)
            break;
        uint32_t level = pq_level_of(pq, e->qos_class, ubc_pq_band_of(pq, e->priority));
        if (!pq_ring_push(pq, shard, level, e->value, now_ns))
            break;
        pending[level / 64u] |= 1ull << (level % 64u);
    }
    /* One summary update per word. Each bit still follows its level's
     * claim in program order, which is all the Dekker pairing with
     * pq_level_clear needs (docs/scheduler.md, bitmap correctness). */
    _Atomic uint64_t *words = pq->summary[shard].words;
    for (uint32_t w = 0; w < pq->word_count; w++) {
        if (pending[w] == 0)
            continue;
        if (pq->single_thread) {
            uint64_t bits = atomic_load_explicit(&words[w], memory_order_relaxed);
            atomic_store_explicit(&words[w], bits | pending[w], memory_order_relaxed);
        } else if ((pending[w] & ~atomic_load_explicit(&words[w], memory_order_seq_cst)) != 0) {
            atomic_fetch_or_explicit(&words[w], pending[w], memory_order_seq_cst);
        }
    }
    return done;
}

/* Single thread, one shard: removes are sequential, so a run popped from
 * the best level is what that many removes would return one by one. */
static uint32_t
pq_remove_burst_single(struct ubc_pq *pq, uint32_t min_class, struct ubc_pq_item *out, uint32_t max)
{
    uint32_t first_level = min_class * pq->band_count, done = 0;
    while (done < max) {
        uint32_t level = pq_summary_best(pq, 0, first_level);
        if (level == UINT32_MAX)
            break;
        uint64_t value;
        while (done < max && pq_ring_pop_single(pq, 0, level, UINT64_MAX, &value))
            pq_item_fill(pq, level, value, &out[done++]);
    }
    return done;
}

uint32_t
ubc_pq_remove_burst(struct ubc_pq *pq, uint32_t min_class, struct ubc_pq_item *out, uint32_t max)
{
    UBC_ASSERT(pq != NULL && pq->magic == UBC_PQ_MAGIC && (out != NULL || max == 0));
    if (min_class >= UBC_QOS_CLASSES)
        return 0;
    if (pq->single_thread && pq->shard_count == 1)
        return pq_remove_burst_single(pq, min_class, out, max);
    uint32_t done = 0;
    while (done < max && ubc_pq_remove_from(pq, min_class, &out[done]))
        done++;
    return done;
}

/* Re-inserts an aged item into its shard: band above, else its own band.
 * Returns 0 only when both levels were full. */
static int
pq_age_reinsert(struct ubc_pq *pq, uint32_t shard, uint32_t level, uint64_t value, uint64_t now_ns,
                uint64_t entry_ns)
{
    if (pq_ring_push(pq, shard, level - 1u, value, now_ns)) {
        pq_level_mark(pq, shard, level - 1u);
        return 1;
    }
    if (pq_ring_push(pq, shard, level, value, entry_ns)) {
        pq_level_mark(pq, shard, level);
        return 1;
    }
    return 0;
}

/* One shard's sweep; returns 0 when an item had to be spilled. */
static int
pq_age_shard(struct ubc_pq *pq, uint32_t shard, uint64_t now_ns, uint64_t limit_ns, uint32_t budget,
             uint32_t *moved, struct ubc_pq_item *spill)
{
    for (uint32_t qos_class = 0; qos_class < UBC_QOS_CLASSES; qos_class++) {
        /* From the band just below the top down: promotions never cascade
         * twice in one sweep because the promoted item's clock restarts. */
        for (uint32_t band = pq->band_count - 1u; band-- > 0;) {
            uint32_t level = pq_level_of(pq, qos_class, band);
            uint64_t value;
            while (*moved < budget && pq_ring_pop(pq, shard, level, limit_ns, &value)) {
                if (!pq_age_reinsert(pq, shard, level, value, now_ns, limit_ns)) {
                    pq_item_fill(pq, level, value, spill);
                    return 0;
                }
                (*moved)++;
            }
        }
    }
    return 1;
}

uint32_t
ubc_pq_age(struct ubc_pq *pq, uint64_t now_ns, uint32_t budget, struct ubc_pq_item *spill,
           int *spilled)
{
    UBC_ASSERT(pq != NULL && pq->magic == UBC_PQ_MAGIC && spill != NULL && spilled != NULL);
    *spilled = 0;
    if (pq->aging_ns == 0 || pq->band_count == 1 || now_ns < pq->aging_ns)
        return 0;
    uint64_t limit_ns = now_ns - pq->aging_ns;
    uint32_t moved = 0;
    for (uint32_t shard = 0; shard < pq->shard_count; shard++) {
        if (!pq_age_shard(pq, shard, now_ns, limit_ns, budget, &moved, spill)) {
            *spilled = 1;
            return moved;
        }
    }
    return moved;
}

uint64_t
ubc_pq_depth(const struct ubc_pq *pq, uint32_t qos_class)
{
    UBC_ASSERT(pq != NULL && pq->magic == UBC_PQ_MAGIC);
    if (qos_class >= UBC_QOS_CLASSES)
        return 0;
    uint64_t depth = 0;
    for (uint32_t shard = 0; shard < pq->shard_count; shard++) {
        for (uint32_t band = 0; band < pq->band_count; band++) {
            const struct pq_level *lv =
                &pq->levels[(size_t)shard * pq->level_count + pq_level_of(pq, qos_class, band)];
            uint64_t deq = atomic_load_explicit(&lv->dequeue_pos, memory_order_relaxed);
            uint64_t enq = atomic_load_explicit(&lv->enqueue_pos, memory_order_relaxed);
            depth += enq > deq ? enq - deq : 0;
        }
    }
    return depth;
}
