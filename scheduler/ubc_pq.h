/* ubc_pq.h: a bounded, lock-free multi-producer multi-consumer priority queue.
 *
 * Contract: items are 64-bit values chosen by the caller. Order: QoS class first
 * (UBC_QOS_CLASSES classes, 0 highest), then priority band within the class
 * (priority >> shift, higher first, raised by aging), then arrival (FIFO).
 * Any number of threads may call ubc_pq_insert and ubc_pq_remove at once;
 * ubc_pq_age may run concurrently with both (normally one caller, the
 * scheduler's tick). No locks, no allocation after ubc_pq_new, no system
 * calls. The caller owns the memory passed to ubc_pq_new (ubc_pq_footprint
 * bytes aligned to ubc_pq_align) and keeps it alive while any thread is
 * joined.
 *
 * Structure: shard_count shards (sub-queues). A shard is one Vyukov bounded
 * ring (sequence-tagged slots, so no ABA and no reclamation problem: slots
 * are never freed, a slot's sequence number says which lap owns it) per
 * (class, band) level, plus a one-cache-line bitmap of its levels that may
 * be non-empty. A thread inserts into its home shard. A global remove reads
 * every shard's bitmap and takes the best level seen; a local remove reads
 * only the home shard's (falling back to global when that shows nothing).
 * A level whose ring is full answers UBC_ERR_QUEUE_FULL: capacity is per
 * level and shard.
 * Semantics (docs/scheduler.md section 1 argues them): with one shard, or
 * global removes only, a remove returns the best level visible (strict at
 * level granularity, quiescently consistent); the default remove with
 * global_period P > 1 is relaxed with a bound: each thread's removes are
 * global at least every P-th call, local ones return the home shard's best.
 * Every (shard, level) is FIFO.
 */
#ifndef UBC_PQ_H
#define UBC_PQ_H

#include <stddef.h>
#include <stdint.h>

#include "common/ubc_msg.h"

#define UBC_PQ_MAGIC 0x7562635f70713032ull /* "ubc_pq02": sharded layout */
#define UBC_PQ_BANDS_MAX 64u
#define UBC_PQ_LEVELS_MAX (UBC_QOS_CLASSES * UBC_PQ_BANDS_MAX)
#define UBC_PQ_SHARDS_MAX 16u

/* ubc_pq_params.flags: one thread at a time calls insert, remove and age
 * (the caller serialises them, e.g. the sched lcore owns the queue). Same
 * order and results as the default mode run sequentially, without one CAS
 * or locked instruction: plain loads and stores, summary bits exact (a pop
 * that empties a level clears its bit, so no remove meets an empty level).
 * ubc_pq_depth may still be read from another thread (approximate). */
#define UBC_PQ_FLAG_SINGLE_THREAD 1u

struct ubc_pq_params {
    uint32_t band_count;     /* priority bands per class: power of two, 1..64 */
    uint32_t level_capacity; /* items per (class, band) level: power of two >= 2 */
    uint64_t aging_ns;       /* wait in one band before promotion; 0 = no aging */
    uint32_t shard_count;    /* sub-queues, power of two 1..16 (0 = 1); level_capacity each */
    uint32_t global_period;  /* ubc_pq_remove: every n-th call of a thread is global (0 = 1) */
    uint32_t flags;          /* UBC_PQ_FLAG_*; 0 = any number of threads */
};

struct ubc_pq_item {
    uint64_t value;
    uint8_t qos_class;
    uint8_t band; /* band the item came out of (0 = lowest) */
};

/* One item of ubc_pq_insert_burst. */
struct ubc_pq_entry {
    uint64_t value;
    uint32_t qos_class;
    uint16_t priority;
};

struct ubc_pq;

size_t ubc_pq_align(void);
/* Bytes for a queue with these params; 0 when the params are invalid. */
size_t ubc_pq_footprint(const struct ubc_pq_params *params);
/* Formats mem; returns mem, or NULL on bad arguments. */
void *ubc_pq_new(void *mem, const struct ubc_pq_params *params);
/* Returns the queue, or NULL when mem does not hold one. */
struct ubc_pq *ubc_pq_join(void *mem);
void *ubc_pq_leave(struct ubc_pq *pq);
/* Unformats the memory (clears the magic); returns mem for the caller to free. */
void *ubc_pq_delete(void *mem);

/* Inserts value. Returns UBC_OK, UBC_ERR_MALFORMED (class out of range) or
 * UBC_ERR_QUEUE_FULL (that level is full). now_ns starts the aging clock. */
int ubc_pq_insert(struct ubc_pq *pq, uint32_t qos_class, uint16_t priority, uint64_t value,
                  uint64_t now_ns);

/* Inserts entries[0..count-1] in order into the calling thread's home
 * shard, as count ubc_pq_insert calls would (each entry is visible once its
 * summary bit is set; the burst sets each touched summary word once).
 * Returns how many were inserted: it stops at the first entry that fails
 * (malformed class or full level; ubc_pq_insert on it gives the reason). */
uint32_t ubc_pq_insert_burst(struct ubc_pq *pq, const struct ubc_pq_entry *entries, uint32_t count,
                             uint64_t now_ns);

/* Up to max removes, as max ubc_pq_remove_from(pq, min_class) calls would
 * return them, stopping at the first that finds nothing. Returns how many
 * items were written to out. In UBC_PQ_FLAG_SINGLE_THREAD mode with one
 * shard it takes a run of the best level at once. */
uint32_t ubc_pq_remove_burst(struct ubc_pq *pq, uint32_t min_class, struct ubc_pq_item *out,
                             uint32_t max);

/* Removes an item into *out. Returns 1, or 0 when no item is visible. With
 * one shard or global_period 1: the best item (ubc_pq_remove_at). Otherwise
 * every global_period-th call of a thread is ubc_pq_remove_at and the others
 * ubc_pq_remove_local on the thread's home shard (relaxed: docs/scheduler.md
 * states the bound). */
int ubc_pq_remove(struct ubc_pq *pq, struct ubc_pq_item *out);

/* The calling thread's home shard: threads are numbered on first use (any
 * queue), home = number mod shard_count. ubc_pq_insert and ubc_pq_remove use
 * it; the _at forms take it explicitly (an lcore passes its lcore index). */
uint32_t ubc_pq_shard_self(const struct ubc_pq *pq);
uint32_t ubc_pq_shard_count(const struct ubc_pq *pq);

/* ubc_pq_insert into shard `shard` (< shard_count, else UBC_ERR_MALFORMED). */
int ubc_pq_insert_at(struct ubc_pq *pq, uint32_t shard, uint32_t qos_class, uint16_t priority,
                     uint64_t value, uint64_t now_ns);

/* Global remove (classes min_class..7): reads every shard's summary and
 * takes the best level seen; on a tie the shard `home` (mod shard_count)
 * first, then the next shards in order. Returns 1 or 0. */
int ubc_pq_remove_at(struct ubc_pq *pq, uint32_t home, uint32_t min_class, struct ubc_pq_item *out);

/* Local remove: the best item of shard `home` only (no other shard's lines
 * are read); when home shows nothing, a global remove. Returns 1 or 0. */
int ubc_pq_remove_local(struct ubc_pq *pq, uint32_t home, uint32_t min_class,
                        struct ubc_pq_item *out);

/* ubc_pq_remove restricted to classes min_class..7. Returns 1 or 0. */
int ubc_pq_remove_from(struct ubc_pq *pq, uint32_t min_class, struct ubc_pq_item *out);

/* Promotes items that waited aging_ns in their band by one band, at most
 * budget moves. Returns the number moved. If the band above and the item's
 * own band are both full (only possible with concurrent producers), the item
 * is returned in *spill, *spilled is set to 1 and the sweep stops: the
 * caller must re-insert it. */
uint32_t ubc_pq_age(struct ubc_pq *pq, uint64_t now_ns, uint32_t budget, struct ubc_pq_item *spill,
                    int *spilled);

/* Items visible in a class (approximate while others operate). */
uint64_t ubc_pq_depth(const struct ubc_pq *pq, uint32_t qos_class);
uint32_t ubc_pq_band_of(const struct ubc_pq *pq, uint16_t priority);

#endif /* UBC_PQ_H */
