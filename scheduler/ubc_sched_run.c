/* ubc_sched_run.c: placement, preemption, time-driven work and reports of
 * the lifecycle engine (tables and inputs are in ubc_sched.c). */
#include <string.h>

#include "common/ubc_assert.h"
#include "scheduler/ubc_sched_internal.h"

/* ---- placement ---- */

static struct ubc_place_request
sched_request(const struct sched_job *job)
{
    return (struct ubc_place_request){ .demand = job->spec.demand,
                                       .labels = job->spec.labels,
                                       .bid_per_task = job->spec.bid_per_task,
                                       .policy = job->policy };
}

static void
sched_rollback(struct ubc_sched *s, const struct sched_job *job, const uint32_t *placed,
               uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        struct sched_slot *slot = &s->slots[placed[i]];
        ubc_pool_release(s->pool, slot->provider, &job->spec.demand);
        slot->provider = SCHED_NONE;
    }
}

/* Chooses providers for every unplaced replica of the job, all or nothing.
 * Replicas of one task (consecutive slots) avoid each other's providers
 * and operators, including replicas placed earlier and still running. */
static enum ubc_place_reason
sched_choose(struct ubc_sched *s, const struct sched_job *job, uint32_t *placed, uint32_t *count)
{
    struct ubc_place_request request = sched_request(job);
    uint32_t redundancy = job->spec.redundancy;
    uint32_t index = job->slot_head;
    *count = 0;
    while (index != SCHED_NONE) {
        struct ubc_place_exclude exclude = { .count = 0 };
        uint32_t group[UBC_PLACE_REPLICAS_MAX];
        for (uint32_t r = 0; r < redundancy; r++, index = s->slots[index].job_next) {
            UBC_ASSERT(index != SCHED_NONE);
            group[r] = index;
            const struct sched_slot *slot = &s->slots[index];
            if (slot->state == SLOT_UNPLACED)
                continue;
            /* finished replicas keep their provider and operator excluded */
            exclude.providers[exclude.count] = slot->provider;
            exclude.operators[exclude.count++] = slot->operator_id;
        }
        for (uint32_t r = 0; r < redundancy; r++) {
            struct sched_slot *slot = &s->slots[group[r]];
            if (slot->state != SLOT_UNPLACED)
                continue;
            enum ubc_place_reason reason;
            uint32_t provider = ubc_place_one(s->pool, &request, &exclude, &reason);
            if (provider == SCHED_NONE) {
                sched_rollback(s, job, placed, *count);
                return reason;
            }
            ubc_pool_reserve(s->pool, provider, &job->spec.demand);
            slot->provider = provider;
            placed[(*count)++] = group[r];
            exclude.providers[exclude.count] = provider;
            exclude.operators[exclude.count++] = ubc_pool_get(s->pool, provider)->operator_id;
        }
    }
    return UBC_PLACE_OK;
}

static void
sched_commit_slot(struct ubc_sched *s, struct sched_job *job, struct sched_slot *slot,
                  uint32_t slot_index, struct ubc_sched_out *out)
{
    struct ubc_provider *p = ubc_pool_get(s->pool, slot->provider);
    slot->state = SLOT_ASSIGNED;
    slot->provider_id = p->id;
    slot->operator_id = p->operator_id;
    slot->price = p->price_per_task;
    memcpy(slot->account, p->account, UBC_KEY_BYTES);
    slot->provider_prev = SCHED_NONE;
    slot->provider_next = p->task_head;
    if (p->task_head != SCHED_NONE)
        s->slots[p->task_head].provider_prev = slot_index;
    p->task_head = slot_index;
    p->tasks_unconfirmed++;
    sched_emit_assignment(s, out, job, slot, 0);
}

static enum ubc_place_reason
sched_place_job(struct ubc_sched *s, uint32_t job_index, struct ubc_sched_out *out)
{
    struct sched_job *job = &s->jobs[job_index];
    uint32_t placed[1024];
    uint32_t count;
    UBC_ASSERT(job->replicas_unplaced > 0 && job->replicas_unplaced <= 1024);
    enum ubc_place_reason reason = sched_choose(s, job, placed, &count);
    if (reason != UBC_PLACE_OK)
        return reason;
    UBC_ASSERT(count == job->replicas_unplaced && sched_out_room(out) >= count);
    for (uint32_t i = 0; i < count; i++)
        sched_commit_slot(s, job, &s->slots[placed[i]], placed[i], out);
    job->replicas_unplaced = 0;
    s->stats.decisions += count;
    job->queued = 0;
    sched_job_list_remove(s, job_index);
    sched_job_list_push(s, JOB_LIST_RUNNING + job->spec.qos_class, job_index);
    if (job->waiting) {
        job->waiting = 0;
        s->waiting--;
        s->stats.queue_depth[job->spec.qos_class]--;
    }
    if (job->state == UBC_JOB_PENDING) {
        s->stats.jobs_by_state[UBC_JOB_PENDING]--;
        s->stats.jobs_by_state[UBC_JOB_ASSIGNED]++;
        job->state = UBC_JOB_ASSIGNED;
    }
    return UBC_PLACE_OK;
}

/* Preemption is transactional: victims' capacity is lent to the
 * placement attempt (released but still recorded on their slots); only if
 * the attempt succeeds are the victims withdrawn and requeued, otherwise
 * their capacity is taken back exactly where it was and nobody notices. */
static void
sched_victim_lend(struct ubc_sched *s, uint32_t job_index, int lend)
{
    const struct sched_job *job = &s->jobs[job_index];
    for (uint32_t i = job->slot_head; i != SCHED_NONE; i = s->slots[i].job_next) {
        const struct sched_slot *slot = &s->slots[i];
        if (slot->state != SLOT_ASSIGNED && slot->state != SLOT_RUNNING)
            continue;
        if (lend)
            ubc_pool_release(s->pool, slot->provider, &job->spec.demand);
        else
            ubc_pool_reserve(s->pool, slot->provider, &job->spec.demand);
    }
}

/* Withdraws a lent victim for good: revokes its replicas and requeues it
 * (preemption does not count as a retry). */
static void
sched_evict(struct ubc_sched *s, uint32_t job_index, uint64_t now_ns, struct ubc_sched_out *out)
{
    struct sched_job *job = &s->jobs[job_index];
    for (uint32_t i = job->slot_head; i != SCHED_NONE; i = s->slots[i].job_next) {
        struct sched_slot *slot = &s->slots[i];
        if (slot->state != SLOT_ASSIGNED && slot->state != SLOT_RUNNING)
            continue;
        sched_emit_assignment(s, out, job, slot, 1);
        sched_slot_forget(s, slot); /* its capacity was lent, now given */
    }
    sched_job_list_remove(s, job_index);
    s->stats.jobs_by_state[job->state]--;
    s->stats.jobs_by_state[UBC_JOB_PENDING]++;
    job->state = UBC_JOB_PENDING;
    s->stats.preemptions++;
    sched_enqueue(s, job_index, now_ns);
}

/* Up to preempt_victims_max running jobs of classes below qos_class,
 * lowest class and newest first. */
static uint32_t
sched_victims(const struct ubc_sched *s, uint32_t qos_class, uint32_t *victims)
{
    uint32_t count = 0;
    for (uint32_t c = UBC_QOS_CLASSES; c-- > qos_class + 1u;) {
        uint32_t j = s->job_lists[JOB_LIST_RUNNING + c].tail;
        for (; j != SCHED_NONE && count < s->config.preempt_victims_max; j = s->jobs[j].list_prev)
            victims[count++] = j;
    }
    return count;
}

static enum ubc_place_reason
sched_preempt(struct ubc_sched *s, uint32_t job_index, uint64_t now_ns, struct ubc_sched_out *out)
{
    uint32_t victims[64];
    UBC_ASSERT(s->config.preempt_victims_max <= 64);
    uint32_t count = sched_victims(s, s->jobs[job_index].spec.qos_class, victims);
    enum ubc_place_reason reason = UBC_PLACE_NO_CAPACITY;
    uint32_t lent = 0;
    while (lent < count && reason != UBC_PLACE_OK) {
        sched_victim_lend(s, victims[lent++], 1);
        reason = sched_place_job(s, job_index, out);
    }
    for (uint32_t v = 0; v < lent; v++) {
        if (reason == UBC_PLACE_OK)
            sched_evict(s, victims[v], now_ns, out);
        else
            sched_victim_lend(s, victims[v], 0);
    }
    return reason;
}

static void
sched_park(struct ubc_sched *s, uint32_t job_index, enum ubc_place_reason reason)
{
    s->stats.placement_failures[reason]++;
    s->stats.jobs_parked++;
    sched_job_list_remove(s, job_index);
    sched_job_list_push(s, JOB_LIST_PARKED, job_index);
}

static void
sched_place_or_park(struct ubc_sched *s, uint32_t job_index, uint64_t now_ns,
                    struct ubc_sched_out *out)
{
    enum ubc_place_reason reason = sched_place_job(s, job_index, out);
    uint32_t qos_class = s->jobs[job_index].spec.qos_class;
    /* Evicting helps only when capacity is what is missing. */
    if (reason == UBC_PLACE_NO_CAPACITY && s->config.class_preempt[qos_class] &&
        sched_preempt(s, job_index, now_ns, out) == UBC_PLACE_OK)
        return;
    if (reason != UBC_PLACE_OK)
        sched_park(s, job_index, reason);
}

/* Takes jobs from the queue in order; one that cannot be placed is parked
 * so the jobs behind it are still served (no head-of-line blocking). */
void
sched_place_loop(struct ubc_sched *s, uint64_t now_ns, struct ubc_sched_out *out)
{
    for (uint32_t n = 0; n < s->config.place_budget; n++) {
        if (sched_out_room(out) < s->room_place)
            return;
        struct ubc_pq_item item;
        if (!ubc_pq_remove(s->pq, &item))
            return;
        uint32_t job_index = (uint32_t)item.value;
        UBC_ASSERT(job_index < s->config.max_jobs);
        struct sched_job *job = &s->jobs[job_index];
        if (!job->in_use || !job->queued || job->generation != (uint32_t)(item.value >> 32))
            continue; /* stale entry of a finished or re-queued job */
        job->queued = 0;
        sched_place_or_park(s, job_index, now_ns, out);
    }
}

/* ---- time-driven work ---- */

/* Live providers are kept in heartbeat order, so only list heads are
 * examined: silent past suspect -> suspect (no new work); silent past
 * down -> down, and its replicas go back to the queue. */
static void
sched_sweep_heartbeats(struct ubc_sched *s, uint64_t now_ns)
{
    const struct ubc_sched_config *c = &s->config;
    for (;;) {
        uint32_t index = s->watch[WATCH_LIVE].head;
        if (index == SCHED_NONE)
            break;
        struct ubc_provider *p = ubc_pool_get(s->pool, index);
        if (now_ns < p->last_heartbeat_ns + c->heartbeat_suspect_ns)
            break;
        sched_watch_remove(s, index);
        sched_watch_push(s, WATCH_SUSPECT, index);
        sched_provider_health(s, index, UBC_HEALTH_SUSPECT);
    }
    for (;;) {
        uint32_t index = s->watch[WATCH_SUSPECT].head;
        if (index == SCHED_NONE)
            break;
        struct ubc_provider *p = ubc_pool_get(s->pool, index);
        if (now_ns < p->last_heartbeat_ns + c->heartbeat_down_ns)
            break;
        sched_watch_remove(s, index);
        sched_watch_push(s, WATCH_FAILOVER, index);
        sched_provider_health(s, index, UBC_HEALTH_DOWN);
        s->stats.failovers++;
    }
}

/* Requeues the replicas of down providers (a counted retry each). Stops
 * when out could not take a failed job's outputs; resumes next tick. */
static void
sched_failover(struct ubc_sched *s, uint64_t now_ns, struct ubc_sched_out *out)
{
    for (;;) {
        uint32_t index = s->watch[WATCH_FAILOVER].head;
        if (index == SCHED_NONE)
            return;
        struct ubc_provider *p = ubc_pool_get(s->pool, index);
        while (p->task_head != SCHED_NONE) {
            if (sched_out_room(out) < s->room_min)
                return;
            struct sched_slot *slot = &s->slots[p->task_head];
            uint32_t job_index = slot->job;
            sched_slot_unplace(s, slot);
            sched_job_requeue_slot_failure(s, job_index, now_ns, out);
        }
        /* Done: it stays down, out of every list, until it heartbeats. */
        sched_watch_remove(s, index);
    }
}

static void
sched_expire(struct ubc_sched *s, uint64_t now_ns, struct ubc_sched_out *out)
{
    while (s->heap_count > 0 && sched_out_room(out) >= s->room_min) {
        uint32_t job_index = s->heap[0];
        if (s->jobs[job_index].deadline_abs_ns > now_ns)
            return;
        s->stats.deadline_expired++;
        sched_job_finish(s, job_index, UBC_JOB_FAILED, UBC_ERR_DEADLINE, out);
    }
}

/* Parked jobs go back to the queue after retry_interval_ns, or sooner (a
 * sixteenth of it) when capacity was freed since. */
static void
sched_unpark(struct ubc_sched *s, uint64_t now_ns)
{
    uint64_t since = now_ns - s->last_unpark_ns;
    uint64_t interval = s->config.retry_interval_ns;
    if (now_ns < s->last_unpark_ns ||
        (since < interval && !(s->capacity_changed && since >= interval / 16u)))
        return;
    s->last_unpark_ns = now_ns;
    s->capacity_changed = 0;
    /* Bounded per tick so a crowd of unplaceable jobs costs a steady
     * trickle, not a latency spike; re-parked jobs go to the tail, so every
     * parked job gets its turn. */
    uint32_t count = s->job_lists[JOB_LIST_PARKED].count;
    count = count < s->config.place_budget ? count : s->config.place_budget;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t job_index = s->job_lists[JOB_LIST_PARKED].head;
        struct sched_job *job = &s->jobs[job_index];
        uint64_t value = (uint64_t)job->generation << 32 | job_index;
        if (ubc_pq_insert(s->pq, job->spec.qos_class, job->spec.priority, value, now_ns) != UBC_OK)
            return;
        sched_job_list_remove(s, job_index);
        job->queued = 1;
    }
}

static void
sched_age(struct ubc_sched *s, uint64_t now_ns)
{
    struct ubc_pq_item spill;
    int spilled;
    ubc_pq_age(s->pq, now_ns, s->config.place_budget, &spill, &spilled);
    if (!spilled)
        return;
    /* Only possible with a full level: keep the job, retry it later. */
    uint32_t job_index = (uint32_t)spill.value;
    struct sched_job *job = &s->jobs[job_index];
    if (job->in_use && job->queued && job->generation == (uint32_t)(spill.value >> 32)) {
        job->queued = 0;
        sched_job_list_push(s, JOB_LIST_PARKED, job_index);
    }
}

void
ubc_sched_tick(struct ubc_sched *s, uint64_t now_ns, struct ubc_sched_out *out)
{
    UBC_ASSERT(s != NULL && s->magic == UBC_SCHED_MAGIC && out != NULL);
    sched_sweep_heartbeats(s, now_ns);
    sched_failover(s, now_ns, out);
    sched_expire(s, now_ns, out);
    sched_age(s, now_ns);
    sched_unpark(s, now_ns);
    sched_place_loop(s, now_ns, out);
}

/* ---- reports ---- */

void
ubc_sched_stats_read(const struct ubc_sched *s, struct ubc_sched_stats *stats)
{
    UBC_ASSERT(s != NULL && s->magic == UBC_SCHED_MAGIC && stats != NULL);
    *stats = s->stats;
}

static void
sched_job_summarize(const struct ubc_sched *s, uint32_t job_index,
                    struct ubc_sched_job_summary *out)
{
    const struct sched_job *job = &s->jobs[job_index];
    *out = (struct ubc_sched_job_summary){ .job_id = job->spec.job_id,
                                           .submitted_ns = job->submitted_ns,
                                           .deadline_ns = job->deadline_abs_ns,
                                           .bid_per_task = job->spec.bid_per_task,
                                           .task_count = job->spec.task_count,
                                           .replicas_placed = (uint16_t)(job->replicas_total -
                                                                         job->replicas_unplaced -
                                                                         job->replicas_done),
                                           .replicas_done = job->replicas_done,
                                           .redundancy = job->spec.redundancy,
                                           .state = job->state,
                                           .qos_class = job->spec.qos_class,
                                           .policy = job->policy,
                                           .retries_used = job->retries_used,
                                           .error = job->error };
    if (job->state >= UBC_JOB_VALIDATED)
        out->replicas_placed = 0;
    memcpy(out->owner, job->spec.owner, UBC_KEY_BYTES);
}

static int
sched_job_matches(const struct sched_job *job, const struct ubc_sched_job_filter *filter)
{
    if (!job->in_use)
        return 0;
    if (filter == NULL)
        return 1;
    if (filter->state_mask != 0 && (filter->state_mask & (1u << job->state)) == 0)
        return 0;
    if (filter->qos_class >= 0 && job->spec.qos_class != filter->qos_class)
        return 0;
    return !filter->match_owner || memcmp(job->spec.owner, filter->owner, UBC_KEY_BYTES) == 0;
}

uint32_t
ubc_sched_jobs_list(const struct ubc_sched *s, const struct ubc_sched_job_filter *filter,
                    uint32_t *cursor, struct ubc_sched_job_summary *out, uint32_t max)
{
    UBC_ASSERT(s != NULL && s->magic == UBC_SCHED_MAGIC && cursor != NULL);
    uint32_t written = 0;
    uint32_t i = *cursor;
    for (; i < s->config.max_jobs && written < max; i++)
        if (sched_job_matches(&s->jobs[i], filter))
            sched_job_summarize(s, i, &out[written++]);
    *cursor = i < s->config.max_jobs ? i : UINT32_MAX;
    return written;
}

int
ubc_sched_job_get(const struct ubc_sched *s, uint64_t job_id, struct ubc_sched_job_summary *out)
{
    UBC_ASSERT(s != NULL && s->magic == UBC_SCHED_MAGIC && out != NULL);
    uint32_t job_index = ubc_map_get(s->job_map, job_id);
    if (job_index == UBC_MAP_NONE)
        return UBC_ERR_UNKNOWN_JOB;
    sched_job_summarize(s, job_index, out);
    return UBC_OK;
}

static void
sched_provider_summarize(const struct ubc_provider *p, struct ubc_sched_provider_summary *out)
{
    *out = (struct ubc_sched_provider_summary){ .provider_id = p->id,
                                                .operator_id = p->operator_id,
                                                .price_per_task = p->price_per_task,
                                                .stake = p->stake,
                                                .last_heartbeat_ns = p->last_heartbeat_ns,
                                                .capacity = p->capacity,
                                                .free = p->free,
                                                .reputation = p->reputation,
                                                .tasks = p->running_tasks,
                                                .region = p->region,
                                                .health = p->health,
                                                .admin_drained = p->admin_drained };
}

uint32_t
ubc_sched_providers_list(const struct ubc_sched *s, const struct ubc_sched_provider_filter *filter,
                         uint32_t *cursor, struct ubc_sched_provider_summary *out, uint32_t max)
{
    UBC_ASSERT(s != NULL && s->magic == UBC_SCHED_MAGIC && cursor != NULL);
    uint32_t written = 0;
    uint32_t i = *cursor;
    for (; i < s->config.max_providers && written < max; i++) {
        const struct ubc_provider *p = ubc_pool_get_const(s->pool, i);
        if (!p->in_use)
            continue;
        if (filter != NULL && filter->health_mask != 0 &&
            (filter->health_mask & (1u << p->health)) == 0)
            continue;
        if (filter != NULL && filter->region >= 0 && p->region != filter->region)
            continue;
        sched_provider_summarize(p, &out[written++]);
    }
    *cursor = i < s->config.max_providers ? i : UINT32_MAX;
    return written;
}

int
ubc_sched_provider_get(const struct ubc_sched *s, uint64_t provider_id,
                       struct ubc_sched_provider_summary *out)
{
    UBC_ASSERT(s != NULL && s->magic == UBC_SCHED_MAGIC && out != NULL);
    uint32_t index = ubc_pool_find(s->pool, provider_id);
    if (index == UBC_POOL_NONE)
        return UBC_ERR_UNKNOWN_PROVIDER;
    sched_provider_summarize(ubc_pool_get_const(s->pool, index), out);
    return UBC_OK;
}

const char *
ubc_job_state_name(uint8_t state)
{
    static const char *const names[UBC_JOB_STATE_COUNT] = {
        "pending", "assigned", "running", "completed", "validated", "failed", "cancelled",
    };
    return state < UBC_JOB_STATE_COUNT ? names[state] : "unknown";
}
