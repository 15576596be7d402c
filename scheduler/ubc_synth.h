/* ubc_synth.h: a deterministic synthetic traffic source for the scheduler.
 *
 * Contract: from a seed, produces the messages the net role would deliver
 * to sched: provider registrations, periodic heartbeats, job submits with a
 * realistic mix (gang sizes, redundancy, CPU/memory/GPU demands, classes,
 * bids, deadlines) arriving as a Poisson process, and task results for the
 * assignments the scheduler hands out (after the task's work time, some
 * failing or disagreeing as configured). The node's demo and the perf
 * harnesses drive ubc_sched with it in process. Single-threaded; memory
 * caller-owned (footprint/new/join); nothing allocated afterwards. The same
 * seed and the same call sequence give the same messages.
 */
#ifndef UBC_SYNTH_H
#define UBC_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "common/ubc_msg.h"

#define UBC_SYNTH_MAGIC 0x7562635f73796e31ull /* "ubc_syn1" */

struct ubc_synth_params {
    uint64_t seed;
    uint32_t provider_count;
    uint32_t operator_count;
    uint32_t owner_count;
    uint32_t results_max; /* pending results remembered (bounded) */
    uint64_t heartbeat_interval_ns;
    uint64_t job_interval_ns;     /* mean time between submits; 0 = no jobs */
    uint32_t work_scale_permille; /* task run time = work_ms x this / 1000 */
    uint32_t fail_permille;       /* results reported failed */
    uint32_t mismatch_permille;   /* results with a wrong hash */
    uint32_t gpu_permille;        /* jobs and providers with GPUs */
};

struct ubc_synth_stats {
    uint64_t registrations;
    uint64_t heartbeats;
    uint64_t submits;
    uint64_t results;
    uint64_t results_dropped; /* pending-result table full */
    uint64_t providers_killed;
};

struct ubc_synth;

void ubc_synth_params_default(struct ubc_synth_params *params);
size_t ubc_synth_align(void);
size_t ubc_synth_footprint(const struct ubc_synth_params *params);
void *ubc_synth_new(void *mem, const struct ubc_synth_params *params);
struct ubc_synth *ubc_synth_join(void *mem);
void *ubc_synth_leave(struct ubc_synth *synth);
void *ubc_synth_delete(void *mem);

/* Writes up to max messages due at now_ns into msgs; returns the count.
 * Registrations come first, then results, heartbeats and submits. */
uint32_t ubc_synth_poll(struct ubc_synth *synth, uint64_t now_ns, struct ubc_msg *msgs,
                        uint32_t max);

/* Feeds the scheduler's outputs back: assignments start simulated work. */
void ubc_synth_observe(struct ubc_synth *synth, const struct ubc_msg *msgs, uint32_t count,
                       uint64_t now_ns);

/* Silences a provider: no more heartbeats or results (failover demos). */
void ubc_synth_kill_provider(struct ubc_synth *synth, uint64_t provider_id);

/* Changes the mean time between submits (0 stops them). */
void ubc_synth_set_job_interval(struct ubc_synth *synth, uint64_t job_interval_ns);

/* Builds one random job submit (ids from 1 upward) without the clock. */
void ubc_synth_make_job(struct ubc_synth *synth, struct ubc_msg *msg);

void ubc_synth_stats_read(const struct ubc_synth *synth, struct ubc_synth_stats *stats);

#endif /* UBC_SYNTH_H */
