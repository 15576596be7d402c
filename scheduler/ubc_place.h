/* ubc_place.h: placement policies over the provider pool index.
 *
 * Contract: ubc_place_one picks one provider for one task replica without
 * reserving it; ubc_place_gang places a whole gang (task_count tasks x
 * redundancy replicas) all-or-nothing, reserving capacity as it goes and
 * rolling every reservation back on failure. Replicas of one task land on
 * distinct providers of distinct operators (anti-affinity). Every candidate
 * must fit the demand (CPU, memory, GPU count and class), carry the
 * requested labels and ask no more than the bid.
 * Policies: spread (buckets with the most free CPU first, least utilised of
 * k), bin-pack (the tightest feasible bucket first, best fit of k), price
 * (lowest ask among k feasible), reputation (highest reputation among k).
 * Cost: at most scan_max members examined and at most 8 x 33 bitmap steps
 * per decision, whatever the pool size. Single-threaded (the sched lcore).
 */
#ifndef UBC_PLACE_H
#define UBC_PLACE_H

#include <stdint.h>

#include "scheduler/ubc_pool.h"

#define UBC_PLACE_REPLICAS_MAX 16u

enum ubc_place_reason {
    UBC_PLACE_OK = 0,
    UBC_PLACE_NO_CAPACITY = 1, /* no provider with enough free resources */
    UBC_PLACE_PRICE = 2,       /* providers fit but ask more than the bid */
    UBC_PLACE_LABELS = 3,      /* providers fit but lack the labels */
    UBC_PLACE_AFFINITY = 4,    /* only providers/operators already used by the task */
    UBC_PLACE_REASON_COUNT = 5,
};

struct ubc_place_request {
    struct ubc_resources demand;
    uint64_t labels;
    uint64_t bid_per_task;
    uint8_t policy; /* enum ubc_policy, not DEFAULT */
};

/* Providers and operators a replica must avoid. */
struct ubc_place_exclude {
    uint32_t count;
    uint32_t providers[UBC_PLACE_REPLICAS_MAX];
    uint64_t operators[UBC_PLACE_REPLICAS_MAX];
};

/* Returns a provider index, or UBC_POOL_NONE with *reason set. */
uint32_t ubc_place_one(struct ubc_pool *pool, const struct ubc_place_request *request,
                       const struct ubc_place_exclude *exclude, enum ubc_place_reason *reason);

/* Places and reserves task_count x redundancy replicas; providers_out[t *
 * redundancy + r]. Returns UBC_PLACE_OK or the reason of the first replica
 * that could not be placed (then nothing stays reserved). */
enum ubc_place_reason ubc_place_gang(struct ubc_pool *pool, const struct ubc_place_request *request,
                                     uint32_t task_count, uint32_t redundancy,
                                     uint32_t *providers_out);

const char *ubc_place_reason_name(enum ubc_place_reason reason);

#endif /* UBC_PLACE_H */
