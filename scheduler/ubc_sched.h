/* ubc_sched.h: the job lifecycle engine driven by the sched role.
 *
 * Contract: one struct ubc_sched per node, sized from struct
 * ubc_sched_config (footprint/new/join/leave/delete over caller-owned
 * memory; nothing is allocated afterwards). Exactly one thread (the sched
 * lcore) calls handle/tick/drain; the control thread must not touch it
 * directly: it asks the sched role through its control ring, and the role
 * answers with ubc_sched_stats_read / *_list (plain copies into caller
 * buffers). Time is a parameter (now_ns), never read from a clock.
 *
 * Inputs: JOB_SUBMIT, JOB_CANCEL, JOB_QUERY, PROVIDER_REGISTER,
 * PROVIDER_HEARTBEAT, PROVIDER_DEREGISTER, TASK_RESULT. Outputs are written
 * into out (a caller-owned bounded array): ACK and REFUSAL (reply.error is
 * an enum ubc_err), JOB_STATUS, ASSIGNMENT (to providers; hdr.flags
 * UBC_SCHED_FLAG_REVOKE means "stop this task"), LEDGER_OP carrying a
 * struct ubc_settlement. Replies echo the request's peer, peer_gen, seq and
 * tsc; assignments carry the provider's last known peer and the submit's tsc.
 *
 * Nothing is lost when out is short: ubc_sched_handle returns
 * UBC_ERR_OVERLOADED without changing any state when out has less room than
 * ubc_sched_out_room_min(); the caller flushes out and calls again with the
 * same message. ubc_sched_tick stops early when out runs low and resumes
 * on the next call.
 */
#ifndef UBC_SCHED_H
#define UBC_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include "common/ubc_msg.h"
#include "scheduler/ubc_place.h"
#include "scheduler/ubc_settle.h"

#define UBC_SCHED_MAGIC 0x7562635f73636831ull /* "ubc_sch1" */
#define UBC_SCHED_FLAG_REVOKE 1u              /* ASSIGNMENT hdr.flags: task withdrawn */
#define UBC_SCHED_HEARTBEAT_DRAIN 1u          /* heartbeat flags bit 0 */

enum ubc_job_state {
    UBC_JOB_PENDING = 0,
    UBC_JOB_ASSIGNED = 1,
    UBC_JOB_RUNNING = 2,
    UBC_JOB_COMPLETED = 3, /* all replicas reported; validation follows at once */
    UBC_JOB_VALIDATED = 4,
    UBC_JOB_FAILED = 5,
    UBC_JOB_CANCELLED = 6,
    UBC_JOB_STATE_COUNT = 7,
};

struct ubc_sched_config {
    uint32_t max_jobs; /* job table, terminal jobs included until evicted */
    uint32_t max_providers;
    uint32_t max_tasks;                     /* task replica slots of live jobs */
    uint32_t queue_capacity;                /* jobs waiting for placement (queued + parked) */
    uint32_t max_owners;                    /* owners with live jobs */
    uint32_t quota_jobs_per_owner;          /* live jobs per owner */
    uint32_t max_replicas_per_job;          /* task_count x redundancy, <= 1024 */
    uint32_t pq_bands;                      /* priority bands per class (power of two) */
    uint32_t sample_k;                      /* power-of-k choices */
    uint32_t scan_max;                      /* providers examined per decision at most */
    uint32_t place_budget;                  /* jobs taken from the queue per tick */
    uint32_t preempt_victims_max;           /* jobs evicted for one placement at most */
    uint64_t heartbeat_suspect_ns;          /* silence before suspect (no new work) */
    uint64_t heartbeat_down_ns;             /* silence before down (tasks requeued) */
    uint64_t aging_ns;                      /* wait per priority band promotion */
    uint64_t retry_interval_ns;             /* parked (unplaceable) jobs retried after */
    uint8_t class_preempt[UBC_QOS_CLASSES]; /* 1: may evict lower classes */
    uint8_t class_policy[UBC_QOS_CLASSES];  /* enum ubc_policy for DEFAULT */
    uint64_t seed;
};

/* Counters: a plain struct copy (ubc_sched_stats_read). */
struct ubc_sched_stats {
    uint64_t queue_depth[UBC_QOS_CLASSES]; /* jobs waiting, per class */
    uint64_t jobs_by_state[UBC_JOB_STATE_COUNT];
    uint64_t jobs_submitted;
    uint64_t jobs_accepted;
    uint64_t refusals[UBC_ERR_COUNT]; /* by reason */
    uint64_t decisions;               /* replicas placed */
    uint64_t placement_failures[UBC_PLACE_REASON_COUNT];
    uint64_t jobs_parked;
    uint64_t preemptions; /* jobs evicted */
    uint64_t failovers;   /* providers declared down */
    uint64_t tasks_requeued;
    uint64_t retries;
    uint64_t deadline_expired;
    uint64_t validation_mismatches;
    uint64_t heartbeats;
    uint64_t results;
    uint64_t results_stale; /* for unknown jobs, replaced replicas, wrong provider */
    uint64_t messages_unknown;
    uint64_t providers;
    uint64_t providers_up;
    uint64_t providers_suspect;
    uint64_t providers_down;
    uint64_t providers_draining;
    uint64_t tasks_live;
    uint64_t settlements;
    uint64_t out_overloaded; /* handle calls deferred for room */
};

struct ubc_sched_job_summary {
    uint64_t job_id;
    uint8_t owner[UBC_KEY_BYTES];
    uint64_t submitted_ns;
    uint64_t deadline_ns; /* absolute; 0 = none */
    uint64_t bid_per_task;
    uint16_t task_count;
    uint16_t replicas_placed;
    uint16_t replicas_done;
    uint8_t redundancy;
    uint8_t state; /* enum ubc_job_state */
    uint8_t qos_class;
    uint8_t policy;
    uint8_t retries_used;
    uint8_t error; /* enum ubc_err: why it failed or was cancelled */
};

struct ubc_sched_job_filter {
    uint32_t state_mask; /* bit per enum ubc_job_state; 0 = any */
    int16_t qos_class;   /* -1 = any */
    uint8_t match_owner;
    uint8_t owner[UBC_KEY_BYTES];
};

struct ubc_sched_provider_summary {
    uint64_t provider_id;
    uint64_t operator_id;
    uint64_t price_per_task;
    uint64_t stake;
    uint64_t last_heartbeat_ns;
    struct ubc_resources capacity;
    struct ubc_resources free;
    uint32_t reputation; /* 65536 = 1.0 */
    uint32_t tasks;
    uint16_t region;
    uint8_t health; /* enum ubc_health */
    uint8_t admin_drained;
};

struct ubc_sched_provider_filter {
    uint32_t health_mask; /* bit per enum ubc_health; 0 = any */
    int32_t region;       /* -1 = any */
};

/* A caller-owned output array. */
struct ubc_sched_out {
    struct ubc_msg *msgs;
    uint32_t count;
    uint32_t capacity;
};

struct ubc_sched;

/* Fills defaults sized for the given tables (tests and the node start here). */
void ubc_sched_config_default(struct ubc_sched_config *config);
size_t ubc_sched_align(void);
/* Bytes needed; 0 when the config is invalid. */
size_t ubc_sched_footprint(const struct ubc_sched_config *config);
void *ubc_sched_new(void *mem, const struct ubc_sched_config *config);
struct ubc_sched *ubc_sched_join(void *mem);
void *ubc_sched_leave(struct ubc_sched *s);
void *ubc_sched_delete(void *mem);

/* Room handle needs in out for any input. */
uint32_t ubc_sched_out_room_min(const struct ubc_sched *s);
/* Room tick needs to place one job (with preemption); size out for it. */
uint32_t ubc_sched_out_room_tick(const struct ubc_sched *s);

/* Processes one input. Returns UBC_OK (done; refusals are outputs) or
 * UBC_ERR_OVERLOADED (out too full; nothing changed: flush and retry). */
int ubc_sched_handle(struct ubc_sched *s, const struct ubc_msg *in, uint64_t now_ns,
                     struct ubc_sched_out *out);

/* Starts loading what handling each of msgs[0..count) will touch first, so
 * that a caller holding a burst of input can overlap those cache misses:
 * call it over the whole burst before handling the first (one call a burst,
 * not one a message: the call cost a quarter of a query's prefetch). Job messages (SUBMIT, CANCEL, QUERY, TASK_RESULT): the job
 * map's home slot of the job id; provider messages (REGISTER, HEARTBEAT,
 * DEREGISTER, and TASK_RESULT's provider): the provider map's home slot.
 * Side-effect free (no state, counter or output changes; a malformed or
 * unknown message prefetches at most a slot), a few ns (one hash per id,
 * no load that can miss); same thread as ubc_sched_handle. */
void ubc_sched_prefetch(const struct ubc_sched *s, struct ubc_msg *const *msgs, uint32_t count);

/* Time-driven work: heartbeat timeouts and failover, deadlines, aging,
 * parked retries, then placement of queued jobs (place_budget at most). */
void ubc_sched_tick(struct ubc_sched *s, uint64_t now_ns, struct ubc_sched_out *out);

/* Admin drain (1) / undrain (0). Returns UBC_OK or UBC_ERR_UNKNOWN_PROVIDER. */
int ubc_sched_drain(struct ubc_sched *s, uint64_t provider_id, int drain);

void ubc_sched_stats_read(const struct ubc_sched *s, struct ubc_sched_stats *stats);

/* Lists matching jobs from *cursor (0 to start) into out; returns how many
 * were written and advances *cursor (UINT32_MAX when done). */
uint32_t ubc_sched_jobs_list(const struct ubc_sched *s, const struct ubc_sched_job_filter *filter,
                             uint32_t *cursor, struct ubc_sched_job_summary *out, uint32_t max);
int ubc_sched_job_get(const struct ubc_sched *s, uint64_t job_id,
                      struct ubc_sched_job_summary *out);
uint32_t ubc_sched_providers_list(const struct ubc_sched *s,
                                  const struct ubc_sched_provider_filter *filter, uint32_t *cursor,
                                  struct ubc_sched_provider_summary *out, uint32_t max);
int ubc_sched_provider_get(const struct ubc_sched *s, uint64_t provider_id,
                           struct ubc_sched_provider_summary *out);

const char *ubc_job_state_name(uint8_t state);

#endif /* UBC_SCHED_H */
