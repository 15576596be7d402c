/* ubc_map.c: linear probing with backward-shift deletion (see ubc_map.h). */
#include "scheduler/ubc_map.h"

#include <errno.h>
#include <string.h>

#include "common/ubc_assert.h"

static uint32_t
map_slots(uint32_t max_entries)
{
    uint32_t slots = 16;
    while (slots < 2u * max_entries)
        slots <<= 1;
    return slots;
}

size_t
ubc_map_align(void)
{
    return 64;
}

size_t
ubc_map_footprint(uint32_t max_entries)
{
    if (max_entries == 0 || max_entries > (1u << 30))
        return 0;
    return sizeof(struct ubc_map) + (size_t)map_slots(max_entries) * sizeof(struct ubc_map_entry);
}

void *
ubc_map_new(void *mem, uint32_t max_entries, uint64_t seed)
{
    if (mem == NULL || ubc_map_footprint(max_entries) == 0 || ((uintptr_t)mem & 63u) != 0)
        return NULL;
    struct ubc_map *map = mem;
    uint32_t slots = map_slots(max_entries);
    map->seed = seed | 1u;
    map->mask = slots - 1u;
    map->count = 0;
    map->max_entries = max_entries;
    for (uint32_t i = 0; i < slots; i++)
        map->entries[i] = (struct ubc_map_entry){ .key = 0, .value = UBC_MAP_NONE };
    map->magic = UBC_MAP_MAGIC;
    return mem;
}

struct ubc_map *
ubc_map_join(void *mem)
{
    struct ubc_map *map = mem;
    if (map == NULL || ((uintptr_t)mem & 63u) != 0 || map->magic != UBC_MAP_MAGIC)
        return NULL;
    return map;
}

void *
ubc_map_leave(struct ubc_map *map)
{
    UBC_ASSERT(map != NULL && map->magic == UBC_MAP_MAGIC);
    return map;
}

void *
ubc_map_delete(void *mem)
{
    struct ubc_map *map = ubc_map_join(mem);
    if (map == NULL)
        return NULL;
    map->magic = 0;
    return mem;
}

int
ubc_map_put(struct ubc_map *map, uint64_t key, uint32_t value)
{
    UBC_ASSERT(map != NULL && map->magic == UBC_MAP_MAGIC && value != UBC_MAP_NONE);
    uint32_t i = ubc_map_home(map, key);
    for (;;) {
        struct ubc_map_entry *e = &map->entries[i];
        if (e->value == UBC_MAP_NONE)
            break;
        if (e->key == key)
            return -EEXIST;
        i = (i + 1u) & map->mask;
    }
    if (map->count >= map->max_entries)
        return -ENOSPC;
    map->entries[i] = (struct ubc_map_entry){ .key = key, .value = value };
    map->count++;
    return 0;
}

int
ubc_map_remove(struct ubc_map *map, uint64_t key)
{
    UBC_ASSERT(map != NULL && map->magic == UBC_MAP_MAGIC);
    uint32_t i = ubc_map_home(map, key);
    for (;;) {
        struct ubc_map_entry *e = &map->entries[i];
        if (e->value == UBC_MAP_NONE)
            return -ENOENT;
        if (e->key == key)
            break;
        i = (i + 1u) & map->mask;
    }
    /* Backward shift: move later entries of the cluster into the hole when
     * the hole lies between their home and their current position. */
    uint32_t hole = i;
    uint32_t j = i;
    for (;;) {
        j = (j + 1u) & map->mask;
        struct ubc_map_entry *e = &map->entries[j];
        if (e->value == UBC_MAP_NONE)
            break;
        uint32_t home = ubc_map_home(map, e->key);
        uint32_t distance_home = (j - home) & map->mask;
        uint32_t distance_hole = (j - hole) & map->mask;
        if (distance_hole <= distance_home) {
            map->entries[hole] = *e;
            hole = j;
        }
    }
    map->entries[hole] = (struct ubc_map_entry){ .key = 0, .value = UBC_MAP_NONE };
    UBC_ASSERT(map->count > 0);
    map->count--;
    return 0;
}

uint32_t
ubc_map_count(const struct ubc_map *map)
{
    UBC_ASSERT(map != NULL && map->magic == UBC_MAP_MAGIC);
    return map->count;
}
