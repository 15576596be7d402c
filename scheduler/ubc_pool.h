/* ubc_pool.h: the provider pool and its free-capacity index.
 *
 * Contract: a fixed table of providers (index pool + id map) and an index
 * that finds a feasible provider without scanning the pool. Providers that
 * are up are linked into one bucket per (GPU group, CPU class): GPU group 0
 * holds providers without GPUs, groups 1..7 hold GPU providers by
 * 1 + (gpu_class - 1) % 7; the CPU class is the bit length of the free CPU
 * millicores (0..32). A provider in a CPU class above a demand's class fits
 * that demand's CPU for certain, so placement (ubc_place.h) walks at most a
 * few buckets, picked through per-group bitmaps of non-empty classes, and a
 * bounded number of members per bucket from a rotating cursor.
 * Single-threaded: owned by the sched lcore. No allocation after new().
 */
#ifndef UBC_POOL_H
#define UBC_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "common/ubc_msg.h"

#define UBC_POOL_MAGIC 0x7562635f706f6f31ull /* "ubc_poo1" */
#define UBC_POOL_NONE UINT32_MAX
#define UBC_POOL_GPU_GROUPS 8u
#define UBC_POOL_CPU_CLASSES 33u
#define UBC_POOL_BUCKETS (UBC_POOL_GPU_GROUPS * UBC_POOL_CPU_CLASSES)
#define UBC_REPUTATION_ONE 65536u /* reputation is fixed point: 65536 = 1.0 */

enum ubc_health {
    UBC_HEALTH_UP = 0,
    UBC_HEALTH_SUSPECT = 1,
    UBC_HEALTH_DOWN = 2,
    UBC_HEALTH_DRAINING = 3,
};

/* The first cache line holds everything a placement decision reads, so a
 * candidate costs one line; the rest is touched on reserve and by the
 * engine. Records are 64-byte aligned. */
struct ubc_provider {
    struct ubc_resources free;
    struct ubc_resources capacity;
    uint32_t bucket_pos; /* position in the pool's bucket order (ubc_pool.c) */
    uint32_t reputation; /* 0..UBC_REPUTATION_ONE */
    uint64_t labels;
    uint64_t price_per_task;
    uint64_t operator_id;
    uint32_t bucket; /* UBC_POOL_NONE when not indexed */
    uint8_t health;  /* enum ubc_health */
    uint8_t in_use;
    uint16_t region;
    /* second line onward */
    uint32_t spare;
    uint32_t running_tasks;
    uint64_t id;
    uint64_t stake;
    uint64_t last_heartbeat_ns;
    /* Owned by the lifecycle engine (ubc_sched.c): heartbeat order list,
     * the provider's task list, its reply route. */
    uint32_t watch_prev;
    uint32_t watch_next;
    uint32_t task_head;
    uint32_t peer;
    uint32_t peer_gen;
    uint32_t tasks_unconfirmed; /* assigned, not yet confirmed by a heartbeat */
    uint8_t watch_list;         /* which engine list holds it */
    uint8_t admin_drained;
    uint8_t self_drained;
    uint8_t reserved;
    uint8_t account[UBC_KEY_BYTES];
} __attribute__((aligned(64)));

UBC_STATIC_ASSERT(offsetof(struct ubc_provider, region) + 2 <= 64, "hot fields in line one");

struct ubc_pool_params {
    uint32_t max_providers;
    uint32_t sample_k; /* feasible candidates compared per decision (power of k) */
    uint32_t scan_max; /* members examined per decision at most */
    uint64_t seed;     /* id map hashing */
};

struct ubc_pool;

size_t ubc_pool_align(void);
size_t ubc_pool_footprint(const struct ubc_pool_params *params);
void *ubc_pool_new(void *mem, const struct ubc_pool_params *params);
struct ubc_pool *ubc_pool_join(void *mem);
void *ubc_pool_leave(struct ubc_pool *pool);
void *ubc_pool_delete(void *mem);

/* Adds a provider (health up, indexed, reputation 1/2). Returns UBC_OK,
 * UBC_ERR_MALFORMED, UBC_ERR_DUPLICATE or UBC_ERR_OVERLOADED (pool full). */
int ubc_pool_add(struct ubc_pool *pool, const struct ubc_provider_register *reg, uint64_t now_ns,
                 uint32_t *index_out);
/* Removes a provider; the caller has already released its tasks. */
void ubc_pool_remove(struct ubc_pool *pool, uint32_t index);
/* Index of a provider id, or UBC_POOL_NONE. */
uint32_t ubc_pool_find(const struct ubc_pool *pool, uint64_t provider_id);
/* Starts loading the id map's home slot of provider_id (ubc_pool_find's
 * first probe). No effect on the pool. */
void ubc_pool_prefetch(const struct ubc_pool *pool, uint64_t provider_id);
struct ubc_provider *ubc_pool_get(struct ubc_pool *pool, uint32_t index);
const struct ubc_provider *ubc_pool_get_const(const struct ubc_pool *pool, uint32_t index);
/* Index members are up providers only. */
void ubc_pool_set_health(struct ubc_pool *pool, uint32_t index, enum ubc_health health);
/* Takes or returns a demand from a provider's free capacity (re-buckets). */
void ubc_pool_reserve(struct ubc_pool *pool, uint32_t index, const struct ubc_resources *demand);
void ubc_pool_release(struct ubc_pool *pool, uint32_t index, const struct ubc_resources *demand);
uint32_t ubc_pool_count(const struct ubc_pool *pool);
uint32_t ubc_pool_capacity(const struct ubc_pool *pool);
/* The largest capacity ever registered, per dimension (for INFEASIBLE). */
struct ubc_resources ubc_pool_capacity_max(const struct ubc_pool *pool);

/* Index internals for ubc_place.c. */
uint32_t ubc_pool_cpu_class(uint32_t cpu_millis);
uint32_t ubc_pool_gpu_group(uint16_t gpu_count, uint16_t gpu_class);
uint64_t ubc_pool_class_mask(const struct ubc_pool *pool, uint32_t gpu_group);
/* A bucket's members are ubc_pool_bucket_members(..)[0 .. count-1] (valid
 * until the next pool change); the cursor is an offset into them. */
uint32_t ubc_pool_bucket_cursor(const struct ubc_pool *pool, uint32_t bucket);
void ubc_pool_bucket_set_cursor(struct ubc_pool *pool, uint32_t bucket, uint32_t offset);
uint32_t ubc_pool_bucket_count(const struct ubc_pool *pool, uint32_t bucket);
const uint32_t *ubc_pool_bucket_members(const struct ubc_pool *pool, uint32_t bucket);
uint32_t ubc_pool_sample_k(const struct ubc_pool *pool);
uint32_t ubc_pool_scan_max(const struct ubc_pool *pool);

#endif /* UBC_POOL_H */
