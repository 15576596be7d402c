/* ubc_place.c: bounded searches over the bucket index (see ubc_place.h). */
#include "scheduler/ubc_place.h"

#include "common/ubc_assert.h"

struct place_search {
    const struct ubc_place_request *request;
    const struct ubc_place_exclude *exclude;
    uint32_t examined;
    uint32_t feasible;
    uint32_t best;
    int64_t best_score;
    uint32_t rejected[UBC_PLACE_REASON_COUNT];
};

static enum ubc_place_reason
place_check(const struct place_search *s, const struct ubc_provider *p, uint32_t index)
{
    const struct ubc_resources *d = &s->request->demand;
    if (p->free.cpu_millis < d->cpu_millis || p->free.mem_mib < d->mem_mib ||
        p->free.gpu_count < d->gpu_count)
        return UBC_PLACE_NO_CAPACITY;
    if (d->gpu_count > 0 && d->gpu_class != 0 && p->capacity.gpu_class != d->gpu_class)
        return UBC_PLACE_NO_CAPACITY;
    if ((p->labels & s->request->labels) != s->request->labels)
        return UBC_PLACE_LABELS;
    if (p->price_per_task > s->request->bid_per_task)
        return UBC_PLACE_PRICE;
    for (uint32_t i = 0; i < s->exclude->count; i++)
        if (s->exclude->providers[i] == index || s->exclude->operators[i] == p->operator_id)
            return UBC_PLACE_AFFINITY;
    return UBC_PLACE_OK;
}

/* Utilisation left after placement in 1/1024 units per dimension. */
static int64_t
place_headroom(const struct ubc_provider *p, const struct ubc_resources *d)
{
    int64_t cpu = ((int64_t)(p->free.cpu_millis - d->cpu_millis) << 10) / p->capacity.cpu_millis;
    int64_t mem = ((int64_t)(p->free.mem_mib - d->mem_mib) << 10) / p->capacity.mem_mib;
    return cpu + mem;
}

static int64_t
place_score(const struct place_search *s, const struct ubc_provider *p)
{
    switch (s->request->policy) {
    case UBC_POLICY_BINPACK: return -place_headroom(p, &s->request->demand);
    case UBC_POLICY_PRICE: return -(int64_t)(p->price_per_task >> 1);
    case UBC_POLICY_REPUTATION: return (int64_t)p->reputation;
    default: return place_headroom(p, &s->request->demand);
    }
}

/* Members whose records are fetched ahead of the one examined: member
 * indices are read sequentially from the bucket's range, the records are
 * not cache resident at 1M providers, so a batch's misses overlap. */
#define PLACE_LOOKAHEAD 8u

static void
place_examine(struct ubc_pool *pool, struct place_search *s, uint32_t bucket, uint32_t index)
{
    const struct ubc_provider *p = ubc_pool_get_const(pool, index);
    UBC_ASSERT(p->in_use && p->health == UBC_HEALTH_UP && p->bucket == bucket);
    s->examined++;
    enum ubc_place_reason why = place_check(s, p, index);
    if (why != UBC_PLACE_OK) {
        s->rejected[why]++;
        return;
    }
    int64_t score = place_score(s, p);
    if (s->feasible == 0 || score > s->best_score) {
        s->best = index;
        s->best_score = score;
    }
    s->feasible++;
}

/* Examines up to the bucket's size (bounded by scan_max and k feasible)
 * from its cursor, then moves the cursor past what it examined. */
static void
place_walk_bucket(struct ubc_pool *pool, struct place_search *s, uint32_t bucket)
{
    uint32_t k = ubc_pool_sample_k(pool), scan_max = ubc_pool_scan_max(pool);
    uint32_t count = ubc_pool_bucket_count(pool, bucket);
    if (count == 0)
        return;
    const uint32_t *members = ubc_pool_bucket_members(pool, bucket);
    uint32_t first = ubc_pool_bucket_cursor(pool, bucket) % count;
    uint32_t budget = scan_max - s->examined < count ? scan_max - s->examined : count;
    uint32_t i = 0;
    while (i < budget && s->feasible < k) {
        /* fetch a batch (k + 1 records: most walks stop after k feasible
         * ones), then examine it */
        uint32_t batch = budget - i < k + 1 ? budget - i : k + 1;
        batch = batch < PLACE_LOOKAHEAD ? batch : PLACE_LOOKAHEAD;
        for (uint32_t j = 0; j < batch; j++)
            __builtin_prefetch(ubc_pool_get_const(pool, members[(first + i + j) % count]));
        for (uint32_t j = 0; j < batch && s->feasible < k; j++, i++)
            place_examine(pool, s, bucket, members[(first + i) % count]);
    }
    ubc_pool_bucket_set_cursor(pool, bucket, (first + i) % count);
}

/* Walks the feasible CPU classes of one GPU group in the policy's order. */
static int
place_walk_group(struct ubc_pool *pool, struct place_search *s, uint32_t group)
{
    uint32_t first_class = ubc_pool_cpu_class(s->request->demand.cpu_millis);
    uint64_t mask = ubc_pool_class_mask(pool, group) & (~0ull << first_class);
    int ascending = s->request->policy == UBC_POLICY_BINPACK;
    int collect_k =
        s->request->policy == UBC_POLICY_PRICE || s->request->policy == UBC_POLICY_REPUTATION;
    while (mask != 0 && s->examined < ubc_pool_scan_max(pool)) {
        uint32_t cpu_class =
            ascending ? (uint32_t)__builtin_ctzll(mask) : 63u - (uint32_t)__builtin_clzll(mask);
        mask &= ~(1ull << cpu_class);
        place_walk_bucket(pool, s, group * UBC_POOL_CPU_CLASSES + cpu_class);
        if (s->feasible >= ubc_pool_sample_k(pool) || (s->feasible > 0 && !collect_k))
            return 1;
    }
    return s->feasible > 0 && !collect_k;
}

static enum ubc_place_reason
place_reason(const struct place_search *s)
{
    enum ubc_place_reason reason = UBC_PLACE_NO_CAPACITY;
    uint32_t most = 0;
    for (uint32_t r = UBC_PLACE_NO_CAPACITY; r < UBC_PLACE_REASON_COUNT; r++)
        if (s->rejected[r] > most) {
            most = s->rejected[r];
            reason = (enum ubc_place_reason)r;
        }
    return reason;
}

uint32_t
ubc_place_one(struct ubc_pool *pool, const struct ubc_place_request *request,
              const struct ubc_place_exclude *exclude, enum ubc_place_reason *reason)
{
    UBC_ASSERT(pool != NULL && request != NULL && exclude != NULL && reason != NULL);
    UBC_ASSERT(exclude->count <= UBC_PLACE_REPLICAS_MAX);
    struct place_search s = { .request = request, .exclude = exclude, .best = UBC_POOL_NONE };
    const struct ubc_resources *d = &request->demand;
    /* CPU-only demands try GPU-less providers first so GPUs stay free. */
    if (d->gpu_count == 0) {
        for (uint32_t group = 0; group < UBC_POOL_GPU_GROUPS; group++)
            if (place_walk_group(pool, &s, group))
                break;
    } else if (d->gpu_class != 0) {
        place_walk_group(pool, &s, ubc_pool_gpu_group(d->gpu_count, d->gpu_class));
    } else {
        for (uint32_t group = 1; group < UBC_POOL_GPU_GROUPS; group++)
            if (place_walk_group(pool, &s, group))
                break;
    }
    *reason = s.feasible > 0 ? UBC_PLACE_OK : place_reason(&s);
    return s.feasible > 0 ? s.best : UBC_POOL_NONE;
}

enum ubc_place_reason
ubc_place_gang(struct ubc_pool *pool, const struct ubc_place_request *request, uint32_t task_count,
               uint32_t redundancy, uint32_t *providers_out)
{
    UBC_ASSERT(redundancy >= 1 && redundancy <= UBC_PLACE_REPLICAS_MAX && task_count >= 1);
    uint32_t placed = 0;
    enum ubc_place_reason reason = UBC_PLACE_OK;
    for (uint32_t t = 0; t < task_count && reason == UBC_PLACE_OK; t++) {
        struct ubc_place_exclude exclude = { .count = 0 };
        for (uint32_t r = 0; r < redundancy; r++) {
            uint32_t index = ubc_place_one(pool, request, &exclude, &reason);
            if (index == UBC_POOL_NONE)
                break;
            ubc_pool_reserve(pool, index, &request->demand);
            providers_out[placed++] = index;
            exclude.providers[exclude.count] = index;
            exclude.operators[exclude.count++] = ubc_pool_get_const(pool, index)->operator_id;
        }
    }
    if (reason == UBC_PLACE_OK)
        return UBC_PLACE_OK;
    while (placed > 0)
        ubc_pool_release(pool, providers_out[--placed], &request->demand);
    return reason;
}

const char *
ubc_place_reason_name(enum ubc_place_reason reason)
{
    static const char *const names[UBC_PLACE_REASON_COUNT] = {
        "ok", "no_capacity", "price", "labels", "affinity",
    };
    return (unsigned)reason < UBC_PLACE_REASON_COUNT ? names[reason] : "unknown";
}
