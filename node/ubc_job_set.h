/* ubc_job_set.h: the acknowledged jobs that have not finished, as the
 * journal tells them: every JOB_SUBMIT record adds one, every JOB_DONE
 * record finishes one. The disk role keeps it up to date as it appends, so
 * that a snapshot can be written from it at any time, and rebuilds it at
 * recovery from the newest snapshot plus the records after it; the
 * scheduler then gets the unfinished jobs back.
 *
 * Contract: open addressing over caller-owned memory sized at start-up
 * (footprint/new); finished entries stay as tombstones until the next
 * compaction (ubc_job_set_compact, after a snapshot), so the table needs
 * room for the live jobs plus the submissions between two compactions.
 * One thread (the disk lcore, or main at start-up) uses a set.
 */
#ifndef UBC_JOB_SET_H
#define UBC_JOB_SET_H

#include <stddef.h>
#include <stdint.h>

#include "common/ubc_msg.h"

#define UBC_JOB_SET_SNAPSHOT_MAGIC 0x31504e5343425530ull /* "0UBCSNP1" */

struct ubc_job_set {
    uint64_t magic;
    uint32_t mask;               /* slots - 1 */
    uint32_t used;               /* slots holding a job, finished or not */
    uint32_t live;               /* unfinished jobs */
    uint32_t used_max;           /* beyond it inserts are refused (load factor 1/2) */
    uint64_t overflows;          /* inserts refused: the set was full */
    uint8_t *finished;           /* per slot */
    struct ubc_job_submit *jobs; /* per slot; job_id 0 = empty */
};

/* The snapshot blob: this header, then `count` struct ubc_job_submit. */
struct ubc_job_set_snapshot_header {
    uint64_t magic;
    uint32_t version;
    uint32_t count;
};

size_t ubc_job_set_footprint(uint32_t capacity);
/* Formats memory (of footprint bytes, 64-byte aligned) for capacity jobs. */
struct ubc_job_set *ubc_job_set_new(void *memory, uint32_t capacity);

/* Record hooks; return 0, or -ENOSPC when the set is full (counted). */
int ubc_job_set_submit(struct ubc_job_set *set, const struct ubc_job_submit *job);
void ubc_job_set_finish(struct ubc_job_set *set, uint64_t job_id);

/* Feeds one journal record (other types are ignored). Returns 0 or -ENOSPC. */
int ubc_job_set_record(struct ubc_job_set *set, uint16_t type, const void *payload,
                       uint32_t length);

/* Drops the tombstones of finished jobs. */
void ubc_job_set_compact(struct ubc_job_set *set);

/* Writes the live jobs as a snapshot blob; returns its size, or 0 when cap
 * is too small. */
size_t ubc_job_set_snapshot(const struct ubc_job_set *set, void *blob, size_t cap);
/* Loads a snapshot blob (untrusted: checked) into an empty set. 0 or -EINVAL
 * (bad magic, version or size) or -ENOSPC. */
int ubc_job_set_load(struct ubc_job_set *set, const void *blob, uint64_t bytes);

/* Calls fn for every unfinished job. */
void ubc_job_set_each_live(const struct ubc_job_set *set,
                           void (*fn)(void *ctx, const struct ubc_job_submit *job), void *ctx);

/* The unfinished job with this id, or NULL. */
const struct ubc_job_submit *ubc_job_set_find(const struct ubc_job_set *set, uint64_t job_id);

#endif /* UBC_JOB_SET_H */
