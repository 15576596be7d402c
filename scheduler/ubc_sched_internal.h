/* ubc_sched_internal.h: the engine's private layout, shared by the files of
 * the engine (ubc_sched.c: tables and inputs; ubc_sched_run.c: placement,
 * time-driven work, reports). Not for use outside scheduler/.
 */
#ifndef UBC_SCHED_INTERNAL_H
#define UBC_SCHED_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "scheduler/ubc_map.h"
#include "scheduler/ubc_pool.h"
#include "scheduler/ubc_pq.h"
#include "scheduler/ubc_sched.h"

#define SCHED_NONE UINT32_MAX

enum sched_slot_state {
    SLOT_FREE = 0,
    SLOT_UNPLACED = 1,
    SLOT_ASSIGNED = 2,
    SLOT_RUNNING = 3,
    SLOT_DONE = 4,
};

/* Job lists: a job is in at most one. */
enum sched_job_list {
    JOB_LIST_NONE = 0,
    JOB_LIST_PARKED = 1,
    JOB_LIST_TERMINAL = 2,
    JOB_LIST_RUNNING = 3, /* + qos class */
    JOB_LIST_COUNT = JOB_LIST_RUNNING + UBC_QOS_CLASSES,
};

/* Provider lists, ordered by last heartbeat (oldest first). */
enum sched_provider_list {
    WATCH_NONE = 0,
    WATCH_LIVE = 1,     /* up or draining */
    WATCH_SUSPECT = 2,  /* silent longer than heartbeat_suspect_ns */
    WATCH_FAILOVER = 3, /* down; its tasks are being requeued */
    WATCH_COUNT = 4,
};

struct sched_slot {
    uint32_t job;
    uint32_t provider; /* pool index, SCHED_NONE when unplaced */
    uint32_t job_next; /* next slot of the job, or of the free list */
    uint32_t provider_prev;
    uint32_t provider_next;
    uint16_t task_index;
    uint8_t replica;
    uint8_t state; /* enum sched_slot_state */
    uint64_t provider_id;
    uint64_t operator_id;
    uint64_t price;
    uint8_t account[UBC_KEY_BYTES];
    uint8_t result_hash[UBC_HASH_BYTES];
};

/* A status query, the most frequent request, reads the first 48 bytes
 * only (the four fields in front, the spec's id and owner): with the
 * record padded to three whole lines, that is one line per query, not the
 * two or three a 184-byte record straddled. */
struct sched_job {
    uint16_t replicas_done;
    uint8_t state;
    uint8_t error;
    uint8_t in_use;
    uint8_t policy;  /* resolved */
    uint8_t queued;  /* an entry in the pq is live */
    uint8_t waiting; /* counted in the queue depth (queued or parked) */
    struct ubc_job_submit spec;
    uint64_t submitted_ns;
    uint64_t deadline_abs_ns; /* 0 = none */
    uint64_t escrow;          /* still locked */
    uint64_t request_seq;
    uint64_t request_tsc;
    uint32_t peer;
    uint32_t peer_gen;
    uint32_t generation; /* bumps when a queue entry goes stale */
    uint32_t owner_index;
    uint32_t slot_head;
    uint32_t list_prev;
    uint32_t list_next;
    uint32_t heap_pos;
    uint16_t replicas_total;
    uint16_t replicas_unplaced;
    uint8_t list_id;
    uint8_t retries_used;
    uint8_t pad[10];
};

UBC_STATIC_ASSERT(sizeof(struct sched_job) == 192, "a job record is three whole cache lines");
UBC_STATIC_ASSERT(offsetof(struct sched_job, spec.owner) + UBC_KEY_BYTES <= 64,
                  "a status query reads one line of the record");

struct sched_owner {
    uint8_t key[UBC_KEY_BYTES];
    uint64_t hash;
    uint32_t active_jobs;
    uint32_t in_use;
};

struct sched_list {
    uint32_t head;
    uint32_t tail;
    uint32_t count;
};

struct ubc_sched {
    uint64_t magic;
    struct ubc_sched_config config;
    uint64_t off_pq, off_pool, off_job_map, off_owner_map, off_jobs, off_slots, off_owners;
    uint64_t off_job_free, off_owner_free, off_heap;
    uint32_t job_free_top;
    uint32_t owner_free_top;
    uint32_t slot_free_head;
    uint32_t slots_free;
    uint32_t heap_count;
    uint32_t room_min;   /* out room for any handle */
    uint32_t room_place; /* out room for one placement with preemption */
    uint32_t waiting;    /* jobs queued or parked */
    uint8_t capacity_changed;
    uint64_t last_unpark_ns;
    uint64_t owner_seed;
    struct sched_list job_lists[JOB_LIST_COUNT];
    struct sched_list watch[WATCH_COUNT];
    struct ubc_pq *pq;
    struct ubc_pool *pool;
    struct ubc_map *job_map;
    struct ubc_map *owner_map;
    struct sched_job *jobs;
    struct sched_slot *slots;
    struct sched_owner *owners;
    uint32_t *job_free;
    uint32_t *owner_free;
    uint32_t *heap; /* job indices, min-heap on deadline_abs_ns */
    struct ubc_sched_stats stats;
};

/* Output helpers (ubc_sched.c). The room check is inline: handle makes
 * it per input. */
static inline uint32_t
sched_out_room(const struct ubc_sched_out *out)
{
    UBC_ASSERT(out->count <= out->capacity);
    return out->capacity - out->count;
}
void sched_emit_assignment(struct ubc_sched *s, struct ubc_sched_out *out,
                           const struct sched_job *job, const struct sched_slot *slot, int revoke);
/* Lists. */
void sched_job_list_push(struct ubc_sched *s, uint32_t list, uint32_t job_index);
void sched_job_list_remove(struct ubc_sched *s, uint32_t job_index);
void sched_watch_push(struct ubc_sched *s, uint32_t list, uint32_t provider_index);
void sched_watch_remove(struct ubc_sched *s, uint32_t provider_index);
void sched_provider_health(struct ubc_sched *s, uint32_t provider_index, enum ubc_health health);
/* Lifecycle steps shared by inputs and tick. */
void sched_enqueue(struct ubc_sched *s, uint32_t job_index, uint64_t now_ns);
void sched_slot_unplace(struct ubc_sched *s, struct sched_slot *slot);
void sched_slot_forget(struct ubc_sched *s, struct sched_slot *slot);
void sched_job_finish(struct ubc_sched *s, uint32_t job_index, uint8_t state, uint8_t error,
                      struct ubc_sched_out *out);
void sched_job_requeue_slot_failure(struct ubc_sched *s, uint32_t job_index, uint64_t now_ns,
                                    struct ubc_sched_out *out);
void sched_heap_remove(struct ubc_sched *s, uint32_t job_index);
/* Placement (ubc_sched_run.c). */
void sched_place_loop(struct ubc_sched *s, uint64_t now_ns, struct ubc_sched_out *out);

#endif /* UBC_SCHED_INTERNAL_H */
