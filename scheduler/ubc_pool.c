/* ubc_pool.c: provider table and the (GPU group, CPU class) bucket index. */
#include "scheduler/ubc_pool.h"

#include <string.h>

#include "common/ubc_assert.h"
#include "scheduler/ubc_map.h"

/* Buckets are contiguous ranges of one permutation of all provider slots:
 * range 0 holds providers outside the index (down, draining, unused slots),
 * range 1 + b holds bucket b, in (GPU group, CPU class) order. A search
 * reads a bucket's member indices sequentially and fetches their records in
 * parallel (no pointer chasing: at 1M providers every record is a miss).
 * Moving a provider between ranges swaps it across each boundary in
 * between, O(1) per boundary; a reserve or release changes the CPU class by
 * one or two, so it crosses one or two. cursor is an offset into the range
 * where the next search starts (rotates for spread). */
struct pool_bucket {
    uint32_t cursor;
};

#define POOL_RANGES (UBC_POOL_BUCKETS + 1u)

struct ubc_pool {
    uint64_t magic;
    struct ubc_pool_params params;
    uint32_t count;
    uint32_t free_top;
    uint64_t providers_offset;
    uint64_t free_offset;
    uint64_t map_offset;
    uint64_t order_offset;
    struct ubc_resources capacity_max;
    uint64_t class_mask[UBC_POOL_GPU_GROUPS];
    struct pool_bucket buckets[UBC_POOL_BUCKETS];
    uint32_t range_start[POOL_RANGES + 1]; /* range r is [start[r], start[r + 1]) */
};

static size_t
align_up(size_t n)
{
    return (n + 63u) & ~(size_t)63u;
}

size_t
ubc_pool_align(void)
{
    return 64;
}

static int
pool_params_valid(const struct ubc_pool_params *p)
{
    return p != NULL && p->max_providers > 0 && p->max_providers < (1u << 28) && p->sample_k > 0 &&
           p->sample_k <= 64 && p->scan_max >= p->sample_k && p->scan_max <= 4096;
}

size_t
ubc_pool_footprint(const struct ubc_pool_params *params)
{
    if (!pool_params_valid(params))
        return 0;
    size_t bytes = align_up(sizeof(struct ubc_pool));
    bytes += align_up((size_t)params->max_providers * sizeof(struct ubc_provider));
    bytes += align_up((size_t)params->max_providers * sizeof(uint32_t));
    bytes += align_up((size_t)params->max_providers * sizeof(uint32_t));
    return bytes + align_up(ubc_map_footprint(params->max_providers));
}

static inline struct ubc_provider *
pool_providers(const struct ubc_pool *pool)
{
    return (struct ubc_provider *)((uint8_t *)(uintptr_t)pool + pool->providers_offset);
}

static inline uint32_t *
pool_free_stack(struct ubc_pool *pool)
{
    return (uint32_t *)((uint8_t *)pool + pool->free_offset);
}

/* The permutation: provider indices in range order. */
static inline uint32_t *
pool_order(const struct ubc_pool *pool)
{
    return (uint32_t *)((uint8_t *)(uintptr_t)pool + pool->order_offset);
}

static inline struct ubc_map *
pool_map(const struct ubc_pool *pool)
{
    return (struct ubc_map *)((uint8_t *)(uintptr_t)pool + pool->map_offset);
}

void *
ubc_pool_new(void *mem, const struct ubc_pool_params *params)
{
    if (mem == NULL || ((uintptr_t)mem & 63u) != 0 || !pool_params_valid(params))
        return NULL;
    struct ubc_pool *pool = mem;
    memset(pool, 0, sizeof(*pool));
    pool->params = *params;
    pool->providers_offset = align_up(sizeof(struct ubc_pool));
    pool->free_offset = pool->providers_offset +
                        align_up((size_t)params->max_providers * sizeof(struct ubc_provider));
    pool->order_offset =
        pool->free_offset + align_up((size_t)params->max_providers * sizeof(uint32_t));
    pool->map_offset =
        pool->order_offset + align_up((size_t)params->max_providers * sizeof(uint32_t));
    memset(pool_providers(pool), 0, (size_t)params->max_providers * sizeof(struct ubc_provider));
    uint32_t *stack = pool_free_stack(pool);
    /* Lowest index on top: tables fill from the front (nicer for tests). */
    for (uint32_t i = 0; i < params->max_providers; i++)
        stack[i] = params->max_providers - 1u - i;
    pool->free_top = params->max_providers;
    /* Every slot starts outside the index (range 0); the others are empty. */
    uint32_t *order = pool_order(pool);
    for (uint32_t i = 0; i < params->max_providers; i++) {
        order[i] = i;
        pool_providers(pool)[i].bucket_pos = i;
    }
    pool->range_start[0] = 0;
    for (uint32_t r = 1; r <= POOL_RANGES; r++)
        pool->range_start[r] = params->max_providers;
    if (ubc_map_new(pool_map(pool), params->max_providers, params->seed) == NULL)
        return NULL;
    pool->magic = UBC_POOL_MAGIC;
    return mem;
}

struct ubc_pool *
ubc_pool_join(void *mem)
{
    struct ubc_pool *pool = mem;
    if (pool == NULL || ((uintptr_t)mem & 63u) != 0 || pool->magic != UBC_POOL_MAGIC)
        return NULL;
    return pool;
}

void *
ubc_pool_leave(struct ubc_pool *pool)
{
    UBC_ASSERT(pool != NULL && pool->magic == UBC_POOL_MAGIC);
    return pool;
}

void *
ubc_pool_delete(void *mem)
{
    struct ubc_pool *pool = ubc_pool_join(mem);
    if (pool == NULL)
        return NULL;
    ubc_map_delete(pool_map(pool));
    pool->magic = 0;
    return mem;
}

uint32_t
ubc_pool_cpu_class(uint32_t cpu_millis)
{
    return cpu_millis == 0 ? 0u : 32u - (uint32_t)__builtin_clz(cpu_millis);
}

uint32_t
ubc_pool_gpu_group(uint16_t gpu_count, uint16_t gpu_class)
{
    if (gpu_count == 0)
        return 0;
    return 1u + (uint32_t)(gpu_class == 0 ? 0 : (gpu_class - 1u) % (UBC_POOL_GPU_GROUPS - 1u));
}

static uint32_t
pool_bucket_of(const struct ubc_provider *p)
{
    uint32_t group = ubc_pool_gpu_group(p->capacity.gpu_count, p->capacity.gpu_class);
    return group * UBC_POOL_CPU_CLASSES + ubc_pool_cpu_class(p->free.cpu_millis);
}

static inline void
pool_swap(struct ubc_pool *pool, uint32_t a, uint32_t b)
{
    if (a == b)
        return;
    uint32_t *order = pool_order(pool);
    uint32_t x = order[a], y = order[b];
    order[a] = y, order[b] = x;
    pool_providers(pool)[y].bucket_pos = a;
    pool_providers(pool)[x].bucket_pos = b;
}

/* Moves a provider from range `from` to range `to` across the boundaries in
 * between: upward it swaps with the last member of its range and the
 * boundary above moves down by one; downward the reverse. Every range in
 * between keeps its members (one leaves its front or back, none enters). */
static void
pool_move(struct ubc_pool *pool, uint32_t index, uint32_t from, uint32_t to)
{
    uint32_t *start = pool->range_start;
    struct ubc_provider *p = &pool_providers(pool)[index];
    UBC_ASSERT(p->bucket_pos >= start[from] && p->bucket_pos < start[from + 1]);
    for (; from < to; from++) {
        pool_swap(pool, p->bucket_pos, start[from + 1] - 1u);
        start[from + 1]--;
    }
    for (; from > to; from--) {
        pool_swap(pool, p->bucket_pos, start[from]);
        start[from]++;
    }
    UBC_ASSERT(pool_order(pool)[p->bucket_pos] == index);
}

static inline uint32_t
pool_range_count(const struct ubc_pool *pool, uint32_t range)
{
    return pool->range_start[range + 1] - pool->range_start[range];
}

static void
pool_mask_update(struct ubc_pool *pool, uint32_t b)
{
    uint64_t bit = 1ull << (b % UBC_POOL_CPU_CLASSES);
    if (pool_range_count(pool, 1u + b) != 0)
        pool->class_mask[b / UBC_POOL_CPU_CLASSES] |= bit;
    else
        pool->class_mask[b / UBC_POOL_CPU_CLASSES] &= ~bit;
}

/* Into the index (from range 0), or from one bucket to another. */
static void
pool_rebucket(struct ubc_pool *pool, uint32_t index)
{
    struct ubc_provider *p = &pool_providers(pool)[index];
    uint32_t b = pool_bucket_of(p);
    uint32_t old = p->bucket;
    if (old == b)
        return;
    pool_move(pool, index, old == UBC_POOL_NONE ? 0 : 1u + old, 1u + b);
    p->bucket = b;
    if (old != UBC_POOL_NONE)
        pool_mask_update(pool, old);
    pool_mask_update(pool, b);
}

static void
pool_link(struct ubc_pool *pool, uint32_t index)
{
    UBC_ASSERT(pool_providers(pool)[index].bucket == UBC_POOL_NONE);
    pool_rebucket(pool, index);
}

static void
pool_unlink(struct ubc_pool *pool, uint32_t index)
{
    struct ubc_provider *p = &pool_providers(pool)[index];
    if (p->bucket == UBC_POOL_NONE)
        return;
    uint32_t b = p->bucket;
    pool_move(pool, index, 1u + b, 0);
    p->bucket = UBC_POOL_NONE;
    pool_mask_update(pool, b);
}

static int
pool_register_valid(const struct ubc_provider_register *reg)
{
    if (reg->provider_id == 0 || reg->capacity.cpu_millis == 0 || reg->capacity.mem_mib == 0)
        return 0;
    return reg->capacity.gpu_count == 0 || reg->capacity.gpu_class != 0;
}

static void
pool_note_capacity(struct ubc_pool *pool, const struct ubc_resources *c)
{
    struct ubc_resources *m = &pool->capacity_max;
    m->cpu_millis = c->cpu_millis > m->cpu_millis ? c->cpu_millis : m->cpu_millis;
    m->mem_mib = c->mem_mib > m->mem_mib ? c->mem_mib : m->mem_mib;
    m->gpu_count = c->gpu_count > m->gpu_count ? c->gpu_count : m->gpu_count;
}

int
ubc_pool_add(struct ubc_pool *pool, const struct ubc_provider_register *reg, uint64_t now_ns,
             uint32_t *index_out)
{
    UBC_ASSERT(pool != NULL && pool->magic == UBC_POOL_MAGIC && reg != NULL);
    if (!pool_register_valid(reg))
        return UBC_ERR_MALFORMED;
    if (ubc_map_get(pool_map(pool), reg->provider_id) != UBC_MAP_NONE)
        return UBC_ERR_DUPLICATE;
    if (pool->free_top == 0)
        return UBC_ERR_OVERLOADED;
    uint32_t index = pool_free_stack(pool)[--pool->free_top];
    UBC_ASSERT(index < pool->params.max_providers);
    struct ubc_provider *p = &pool_providers(pool)[index];
    UBC_ASSERT(!p->in_use);
    uint32_t bucket_pos = p->bucket_pos; /* owned by the bucket order, not the record */
    memset(p, 0, sizeof(*p));
    p->bucket_pos = bucket_pos;
    p->id = reg->provider_id;
    p->operator_id = reg->operator_id;
    memcpy(p->account, reg->account, UBC_KEY_BYTES);
    p->capacity = reg->capacity;
    p->free = reg->capacity;
    p->region = reg->region;
    p->labels = reg->labels;
    p->price_per_task = reg->price_per_task;
    p->stake = reg->stake;
    p->reputation = UBC_REPUTATION_ONE / 2;
    p->last_heartbeat_ns = now_ns;
    p->health = UBC_HEALTH_UP;
    p->in_use = 1;
    p->bucket = UBC_POOL_NONE;
    p->watch_prev = p->watch_next = p->task_head = UBC_POOL_NONE;
    p->peer = UBC_PEER_NONE;
    int rc = ubc_map_put(pool_map(pool), p->id, index);
    UBC_ASSERT(rc == 0);
    pool_link(pool, index);
    pool_note_capacity(pool, &reg->capacity);
    pool->count++;
    *index_out = index;
    return UBC_OK;
}

void
ubc_pool_remove(struct ubc_pool *pool, uint32_t index)
{
    UBC_ASSERT(pool != NULL && index < pool->params.max_providers);
    struct ubc_provider *p = &pool_providers(pool)[index];
    UBC_ASSERT(p->in_use);
    pool_unlink(pool, index);
    int rc = ubc_map_remove(pool_map(pool), p->id);
    UBC_ASSERT(rc == 0);
    p->in_use = 0;
    p->id = 0;
    UBC_ASSERT(pool->free_top < pool->params.max_providers);
    pool_free_stack(pool)[pool->free_top++] = index;
    pool->count--;
}

void
ubc_pool_prefetch(const struct ubc_pool *pool, uint64_t provider_id)
{
    UBC_ASSERT(pool != NULL && pool->magic == UBC_POOL_MAGIC);
    ubc_map_prefetch(pool_map(pool), provider_id);
}

uint32_t
ubc_pool_find(const struct ubc_pool *pool, uint64_t provider_id)
{
    UBC_ASSERT(pool != NULL && pool->magic == UBC_POOL_MAGIC);
    return ubc_map_get(pool_map(pool), provider_id);
}

struct ubc_provider *
ubc_pool_get(struct ubc_pool *pool, uint32_t index)
{
    UBC_ASSERT(pool != NULL && index < pool->params.max_providers);
    return &pool_providers(pool)[index];
}

const struct ubc_provider *
ubc_pool_get_const(const struct ubc_pool *pool, uint32_t index)
{
    UBC_ASSERT(pool != NULL && index < pool->params.max_providers);
    return &pool_providers(pool)[index];
}

void
ubc_pool_set_health(struct ubc_pool *pool, uint32_t index, enum ubc_health health)
{
    struct ubc_provider *p = ubc_pool_get(pool, index);
    UBC_ASSERT(p->in_use);
    p->health = (uint8_t)health;
    if (health == UBC_HEALTH_UP && p->bucket == UBC_POOL_NONE)
        pool_link(pool, index);
    else if (health != UBC_HEALTH_UP)
        pool_unlink(pool, index);
}

void
ubc_pool_reserve(struct ubc_pool *pool, uint32_t index, const struct ubc_resources *demand)
{
    struct ubc_provider *p = ubc_pool_get(pool, index);
    UBC_ASSERT(p->in_use && p->free.cpu_millis >= demand->cpu_millis);
    UBC_ASSERT(p->free.mem_mib >= demand->mem_mib && p->free.gpu_count >= demand->gpu_count);
    uint32_t class_before = ubc_pool_cpu_class(p->free.cpu_millis);
    p->free.cpu_millis -= demand->cpu_millis;
    p->free.mem_mib -= demand->mem_mib;
    p->free.gpu_count = (uint16_t)(p->free.gpu_count - demand->gpu_count);
    p->running_tasks++;
    if (p->bucket != UBC_POOL_NONE && ubc_pool_cpu_class(p->free.cpu_millis) != class_before)
        pool_rebucket(pool, index);
}

void
ubc_pool_release(struct ubc_pool *pool, uint32_t index, const struct ubc_resources *demand)
{
    struct ubc_provider *p = ubc_pool_get(pool, index);
    UBC_ASSERT(p->in_use && p->running_tasks > 0);
    uint32_t class_before = ubc_pool_cpu_class(p->free.cpu_millis);
    p->free.cpu_millis += demand->cpu_millis;
    p->free.mem_mib += demand->mem_mib;
    p->free.gpu_count = (uint16_t)(p->free.gpu_count + demand->gpu_count);
    UBC_ASSERT(p->free.cpu_millis <= p->capacity.cpu_millis);
    UBC_ASSERT(p->free.mem_mib <= p->capacity.mem_mib);
    UBC_ASSERT(p->free.gpu_count <= p->capacity.gpu_count);
    p->running_tasks--;
    if (p->bucket != UBC_POOL_NONE && ubc_pool_cpu_class(p->free.cpu_millis) != class_before)
        pool_rebucket(pool, index);
}

uint32_t
ubc_pool_count(const struct ubc_pool *pool)
{
    return pool->count;
}

uint32_t
ubc_pool_capacity(const struct ubc_pool *pool)
{
    return pool->params.max_providers;
}

struct ubc_resources
ubc_pool_capacity_max(const struct ubc_pool *pool)
{
    return pool->capacity_max;
}

uint64_t
ubc_pool_class_mask(const struct ubc_pool *pool, uint32_t gpu_group)
{
    UBC_ASSERT(gpu_group < UBC_POOL_GPU_GROUPS);
    return pool->class_mask[gpu_group];
}

uint32_t
ubc_pool_bucket_cursor(const struct ubc_pool *pool, uint32_t bucket)
{
    UBC_ASSERT(bucket < UBC_POOL_BUCKETS);
    return pool->buckets[bucket].cursor;
}

void
ubc_pool_bucket_set_cursor(struct ubc_pool *pool, uint32_t bucket, uint32_t offset)
{
    UBC_ASSERT(bucket < UBC_POOL_BUCKETS);
    pool->buckets[bucket].cursor = offset;
    /* The next decision on this bucket starts here: fetch its record now
     * instead of stalling on it then. */
    uint32_t count = pool_range_count(pool, 1u + bucket);
    if (count > 0) {
        uint32_t index = pool_order(pool)[pool->range_start[1u + bucket] + offset % count];
        __builtin_prefetch(&pool_providers(pool)[index]);
    }
}

uint32_t
ubc_pool_bucket_count(const struct ubc_pool *pool, uint32_t bucket)
{
    UBC_ASSERT(bucket < UBC_POOL_BUCKETS);
    return pool_range_count(pool, 1u + bucket);
}

const uint32_t *
ubc_pool_bucket_members(const struct ubc_pool *pool, uint32_t bucket)
{
    UBC_ASSERT(bucket < UBC_POOL_BUCKETS);
    return pool_order(pool) + pool->range_start[1u + bucket];
}

uint32_t
ubc_pool_sample_k(const struct ubc_pool *pool)
{
    return pool->params.sample_k;
}

uint32_t
ubc_pool_scan_max(const struct ubc_pool *pool)
{
    return pool->params.scan_max;
}
