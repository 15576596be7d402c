/* ubc_map.h: a fixed-capacity open-addressing hash map, uint64 key -> uint32.
 *
 * Contract: the scheduler's tables (jobs by id, providers by id, owners by
 * key hash) index their fixed arrays through this map. Linear probing with
 * backward-shift deletion (no tombstones, so probe lengths do not degrade
 * after churn); keys are mixed with a per-map seed so that client-chosen
 * ids cannot be crafted into long probe chains without knowing the seed.
 * Single-threaded: the owner (the sched lcore) is the only caller. Memory is
 * caller-owned, sized by ubc_map_footprint; nothing is allocated.
 */
#ifndef UBC_MAP_H
#define UBC_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "common/ubc_assert.h"

#define UBC_MAP_MAGIC 0x7562635f6d617031ull /* "ubc_map1" */
#define UBC_MAP_NONE UINT32_MAX

struct ubc_map_entry {
    uint64_t key;
    uint32_t value; /* UBC_MAP_NONE marks an empty entry */
    uint32_t pad;
};

/* Laid out here, not hidden in ubc_map.c, so that lookups inline: the
 * scheduler makes one or two per message. Callers use the functions. */
struct ubc_map {
    uint64_t magic;
    uint64_t seed;
    uint32_t mask;
    uint32_t count;
    uint32_t max_entries;
    uint32_t pad;
    struct ubc_map_entry entries[];
};

size_t ubc_map_align(void);
/* Bytes for a map holding up to max_entries (load factor <= 1/2); 0 if invalid. */
size_t ubc_map_footprint(uint32_t max_entries);
void *ubc_map_new(void *mem, uint32_t max_entries, uint64_t seed);
struct ubc_map *ubc_map_join(void *mem);
void *ubc_map_leave(struct ubc_map *map);
void *ubc_map_delete(void *mem);

/* Where key's probing starts: a keyed 64-bit finalizer (murmur3 fmix over
 * key ^ seed). */
static inline uint32_t
ubc_map_home(const struct ubc_map *map, uint64_t key)
{
    uint64_t h = (key ^ map->seed) * 0x9e3779b97f4a7c15ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return (uint32_t)h & map->mask;
}

/* Returns the value for key, or UBC_MAP_NONE. */
static inline uint32_t
ubc_map_get(const struct ubc_map *map, uint64_t key)
{
    UBC_ASSERT(map != NULL && map->magic == UBC_MAP_MAGIC);
    uint32_t i = ubc_map_home(map, key);
    for (uint32_t probes = 0; probes <= map->mask; probes++) {
        const struct ubc_map_entry *e = &map->entries[i];
        if (e->value == UBC_MAP_NONE)
            return UBC_MAP_NONE;
        if (e->key == key)
            return e->value;
        i = (i + 1u) & map->mask;
    }
    return UBC_MAP_NONE;
}

/* Starts loading the line of key's home slot (where ubc_map_get and
 * ubc_map_put begin probing). No effect on the map; any key is valid. */
static inline void
ubc_map_prefetch(const struct ubc_map *map, uint64_t key)
{
    UBC_ASSERT(map != NULL && map->magic == UBC_MAP_MAGIC);
    __builtin_prefetch(&map->entries[ubc_map_home(map, key)]);
}
/* Inserts a new key. Returns 0, -EEXIST when present, -ENOSPC when full.
 * value must not be UBC_MAP_NONE. */
int ubc_map_put(struct ubc_map *map, uint64_t key, uint32_t value);
/* Removes key. Returns 0 or -ENOENT. */
int ubc_map_remove(struct ubc_map *map, uint64_t key);
uint32_t ubc_map_count(const struct ubc_map *map);

#endif /* UBC_MAP_H */
