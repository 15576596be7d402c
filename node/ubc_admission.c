/* ubc_admission.c: jobs waiting for their ACK (see ubc_admission.h). */
#include "node/ubc_admission.h"

#include <string.h>

#include "common/ubc_assert.h"

static uint32_t
admission_slots(uint32_t capacity)
{
    return ubc_table_slots(capacity, 64);
}

size_t
ubc_admission_footprint(uint32_t capacity)
{
    if (capacity == 0 || capacity > (1u << 26))
        return 0;
    return sizeof(struct ubc_admission_table) +
           (size_t)admission_slots(capacity) * sizeof(struct ubc_admission);
}

struct ubc_admission_table *
ubc_admission_new(void *memory, uint32_t capacity)
{
    size_t footprint = ubc_admission_footprint(capacity);
    if (memory == NULL || footprint == 0)
        return NULL;
    memset(memory, 0, footprint);
    struct ubc_admission_table *table = memory;
    table->mask = admission_slots(capacity) - 1;
    table->used_max = capacity;
    return table;
}

static uint32_t
admission_home(const struct ubc_admission_table *table, uint64_t job_id)
{
    return (uint32_t)((job_id * 0x9e3779b97f4a7c15ull) >> 32) & table->mask;
}

struct ubc_admission *
ubc_admission_find(struct ubc_admission_table *table, uint64_t job_id)
{
    UBC_ASSERT(job_id != 0);
    for (uint32_t slot = admission_home(table, job_id);; slot = (slot + 1) & table->mask) {
        struct ubc_admission *entry = &table->slots[slot];
        if (entry->job_id == job_id)
            return entry;
        if (entry->job_id == 0)
            return NULL; /* used <= slots / 2: the probe ends */
    }
}

struct ubc_admission *
ubc_admission_upsert(struct ubc_admission_table *table, uint64_t job_id)
{
    UBC_ASSERT(job_id != 0);
    for (uint32_t slot = admission_home(table, job_id);; slot = (slot + 1) & table->mask) {
        struct ubc_admission *entry = &table->slots[slot];
        if (entry->job_id == job_id)
            return entry;
        if (entry->job_id == 0) {
            if (table->used >= table->used_max)
                return NULL;
            table->used++;
            entry->job_id = job_id;
            return entry;
        }
    }
}

/* Backward-shift deletion: later members of the probe run move into the hole
 * when that brings them no further from home, so no tombstone is needed. */
void
ubc_admission_remove(struct ubc_admission_table *table, struct ubc_admission *entry)
{
    uint32_t hole = (uint32_t)(entry - table->slots);
    UBC_ASSERT(hole <= table->mask && entry->job_id != 0);
    for (uint32_t next = (hole + 1) & table->mask; table->slots[next].job_id != 0;
         next = (next + 1) & table->mask) {
        uint32_t home = admission_home(table, table->slots[next].job_id);
        /* Move when home is not cyclically in (hole, next]. */
        uint32_t distance_home = (next - home) & table->mask;
        uint32_t distance_hole = (next - hole) & table->mask;
        if (distance_home >= distance_hole) {
            table->slots[hole] = table->slots[next];
            hole = next;
        }
    }
    memset(&table->slots[hole], 0, sizeof(table->slots[hole]));
    table->used--;
}
