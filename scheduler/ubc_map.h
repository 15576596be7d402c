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

#define UBC_MAP_MAGIC 0x7562635f6d617031ull /* "ubc_map1" */
#define UBC_MAP_NONE UINT32_MAX

struct ubc_map;

size_t ubc_map_align(void);
/* Bytes for a map holding up to max_entries (load factor <= 1/2); 0 if invalid. */
size_t ubc_map_footprint(uint32_t max_entries);
void *ubc_map_new(void *mem, uint32_t max_entries, uint64_t seed);
struct ubc_map *ubc_map_join(void *mem);
void *ubc_map_leave(struct ubc_map *map);
void *ubc_map_delete(void *mem);

/* Returns the value for key, or UBC_MAP_NONE. */
uint32_t ubc_map_get(const struct ubc_map *map, uint64_t key);
/* Starts loading the line of key's home slot (where ubc_map_get and
 * ubc_map_put begin probing). No effect on the map; any key is valid. */
void ubc_map_prefetch(const struct ubc_map *map, uint64_t key);
/* Inserts a new key. Returns 0, -EEXIST when present, -ENOSPC when full.
 * value must not be UBC_MAP_NONE. */
int ubc_map_put(struct ubc_map *map, uint64_t key, uint32_t value);
/* Removes key. Returns 0 or -ENOENT. */
int ubc_map_remove(struct ubc_map *map, uint64_t key);
uint32_t ubc_map_count(const struct ubc_map *map);

#endif /* UBC_MAP_H */
