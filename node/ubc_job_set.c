/* ubc_job_set.c: unfinished acknowledged jobs (see ubc_job_set.h). */
#include "node/ubc_job_set.h"

#include <errno.h>
#include <string.h>

#include "common/ubc_assert.h"
#include "node/ubc_role_disk.h"

#define JOB_SET_MAGIC 0x5445534a4f424255ull /* "UBBOJSET" */

static uint32_t
job_set_slots(uint32_t capacity)
{
    return ubc_table_slots(capacity, 64);
}

size_t
ubc_job_set_footprint(uint32_t capacity)
{
    if (capacity == 0 || capacity > (1u << 28))
        return 0;
    size_t slots = job_set_slots(capacity);
    size_t bytes = sizeof(struct ubc_job_set) + slots * sizeof(struct ubc_job_submit) + slots;
    return (bytes + 63) & ~(size_t)63;
}

struct ubc_job_set *
ubc_job_set_new(void *memory, uint32_t capacity)
{
    size_t footprint = ubc_job_set_footprint(capacity);
    if (memory == NULL || footprint == 0)
        return NULL;
    UBC_ASSERT(((uintptr_t)memory & 63) == 0);
    memset(memory, 0, footprint);
    struct ubc_job_set *set = memory;
    uint32_t slots = job_set_slots(capacity);
    set->mask = slots - 1;
    set->used_max = slots / 2;
    set->jobs = (struct ubc_job_submit *)(set + 1);
    set->finished = (uint8_t *)(set->jobs + slots);
    set->magic = JOB_SET_MAGIC;
    return set;
}

/* The slot holding job_id, or the empty slot where it would go. */
static uint32_t
job_set_slot(const struct ubc_job_set *set, uint64_t job_id)
{
    uint32_t slot = (uint32_t)((job_id * 0x9e3779b97f4a7c15ull) >> 32) & set->mask;
    for (uint32_t probe = 0; probe <= set->mask; probe++, slot = (slot + 1) & set->mask) {
        uint64_t here = set->jobs[slot].job_id;
        if (here == job_id || here == 0)
            return slot;
    }
    UBC_ASSERT(0); /* used <= slots / 2: an empty slot always exists */
    return 0;
}

int
ubc_job_set_submit(struct ubc_job_set *set, const struct ubc_job_submit *job)
{
    UBC_ASSERT(set->magic == JOB_SET_MAGIC && job->job_id != 0);
    uint32_t slot = job_set_slot(set, job->job_id);
    if (set->jobs[slot].job_id == 0) {
        if (set->used >= set->used_max) {
            set->overflows++;
            return -ENOSPC;
        }
        set->used++;
    } else if (!set->finished[slot]) {
        set->live--; /* the same job journaled again: keep one */
    }
    set->jobs[slot] = *job;
    set->finished[slot] = 0;
    set->live++;
    return 0;
}

void
ubc_job_set_finish(struct ubc_job_set *set, uint64_t job_id)
{
    UBC_ASSERT(set->magic == JOB_SET_MAGIC);
    if (job_id == 0)
        return;
    uint32_t slot = job_set_slot(set, job_id);
    if (set->jobs[slot].job_id == job_id && !set->finished[slot]) {
        set->finished[slot] = 1;
        set->live--;
    }
}

int
ubc_job_set_record(struct ubc_job_set *set, uint16_t type, const void *payload, uint32_t length)
{
    if (type == UBC_RECORD_JOB_SUBMIT && length == sizeof(struct ubc_job_submit)) {
        struct ubc_job_submit job;
        memcpy(&job, payload, sizeof(job));
        return job.job_id != 0 ? ubc_job_set_submit(set, &job) : 0;
    }
    if (type == UBC_RECORD_JOB_DONE && length == sizeof(struct ubc_record_job_done)) {
        struct ubc_record_job_done done;
        memcpy(&done, payload, sizeof(done));
        ubc_job_set_finish(set, done.job_id);
    }
    return 0;
}

/* Drops finished jobs, then re-inserts the live ones in place: linear
 * probing has no cheap deletion, so compaction is the deletion. */
void
ubc_job_set_compact(struct ubc_job_set *set)
{
    UBC_ASSERT(set->magic == JOB_SET_MAGIC);
    uint32_t slots = set->mask + 1;
    for (uint32_t slot = 0; slot < slots; slot++) {
        if (set->jobs[slot].job_id != 0 && set->finished[slot]) {
            memset(&set->jobs[slot], 0, sizeof(set->jobs[slot]));
            set->finished[slot] = 0;
            set->used--;
        }
    }
    /* Live entries after a hole may now be unreachable: re-place them all,
     * walking from an empty slot so that every probe cluster is visited from
     * its start (an entry only moves back toward its home, into a hole the
     * walk already passed). */
    uint32_t start = 0;
    while (set->jobs[start].job_id != 0)
        start++; /* used <= slots / 2: an empty slot exists */
    for (uint32_t step = 1; step <= slots; step++) {
        uint32_t slot = (start + step) & set->mask;
        if (set->jobs[slot].job_id == 0)
            continue;
        struct ubc_job_submit job = set->jobs[slot];
        memset(&set->jobs[slot], 0, sizeof(set->jobs[slot]));
        uint32_t home = job_set_slot(set, job.job_id);
        set->jobs[home] = job;
    }
    UBC_ASSERT(set->used == set->live);
}

size_t
ubc_job_set_snapshot(const struct ubc_job_set *set, void *blob, size_t cap)
{
    size_t bytes = sizeof(struct ubc_job_set_snapshot_header) +
                   (size_t)set->live * sizeof(struct ubc_job_submit);
    if (bytes > cap)
        return 0;
    struct ubc_job_set_snapshot_header header = { .magic = UBC_JOB_SET_SNAPSHOT_MAGIC,
                                                  .version = 1,
                                                  .count = set->live };
    memcpy(blob, &header, sizeof(header));
    struct ubc_job_submit *out = (void *)((uint8_t *)blob + sizeof(header));
    uint32_t written = 0;
    for (uint32_t slot = 0; slot <= set->mask; slot++) {
        if (set->jobs[slot].job_id != 0 && !set->finished[slot])
            memcpy(&out[written++], &set->jobs[slot], sizeof(out[0]));
    }
    UBC_ASSERT(written == set->live);
    return bytes;
}

int
ubc_job_set_load(struct ubc_job_set *set, const void *blob, uint64_t bytes)
{
    struct ubc_job_set_snapshot_header header;
    if (bytes < sizeof(header))
        return -EINVAL;
    memcpy(&header, blob, sizeof(header));
    if (header.magic != UBC_JOB_SET_SNAPSHOT_MAGIC || header.version != 1 ||
        bytes != sizeof(header) + (uint64_t)header.count * sizeof(struct ubc_job_submit))
        return -EINVAL;
    const uint8_t *cursor = (const uint8_t *)blob + sizeof(header);
    for (uint32_t i = 0; i < header.count; i++, cursor += sizeof(struct ubc_job_submit)) {
        int rc =
            ubc_job_set_record(set, UBC_RECORD_JOB_SUBMIT, cursor, sizeof(struct ubc_job_submit));
        if (rc != 0)
            return rc;
    }
    return 0;
}

void
ubc_job_set_each_live(const struct ubc_job_set *set,
                      void (*fn)(void *ctx, const struct ubc_job_submit *job), void *ctx)
{
    for (uint32_t slot = 0; slot <= set->mask; slot++) {
        if (set->jobs[slot].job_id != 0 && !set->finished[slot])
            fn(ctx, &set->jobs[slot]);
    }
}

const struct ubc_job_submit *
ubc_job_set_find(const struct ubc_job_set *set, uint64_t job_id)
{
    if (job_id == 0)
        return NULL;
    uint32_t slot = job_set_slot(set, job_id);
    return set->jobs[slot].job_id == job_id && !set->finished[slot] ? &set->jobs[slot] : NULL;
}
