/* ubc_sched.c: the engine's tables, life cycle and input messages.
 * Placement and time-driven work are in ubc_sched_run.c. */
#include "scheduler/ubc_sched.h"

#include <string.h>

#include "common/ubc_assert.h"
#include "scheduler/ubc_sched_internal.h"

#define SCHED_REDUNDANCY_MAX UBC_PLACE_REPLICAS_MAX

struct sched_layout {
    size_t pq, pool, job_map, owner_map, jobs, slots, owners, job_free, owner_free, heap, total;
};

static size_t
align_up(size_t n)
{
    return (n + 63u) & ~(size_t)63u;
}

static uint32_t
next_pow2(uint32_t n)
{
    uint32_t p = 2;
    while (p < n)
        p <<= 1;
    return p;
}

static struct ubc_pq_params
sched_pq_params(const struct ubc_sched_config *c)
{
    /* Twice the queue: stale entries of cancelled jobs drain lazily. Only
     * the sched lcore touches the queue: single-thread mode, no CAS. */
    return (struct ubc_pq_params){ .band_count = c->pq_bands,
                                   .level_capacity = next_pow2(2u * c->queue_capacity),
                                   .aging_ns = c->aging_ns,
                                   .flags = UBC_PQ_FLAG_SINGLE_THREAD };
}

static struct ubc_pool_params
sched_pool_params(const struct ubc_sched_config *c)
{
    return (struct ubc_pool_params){ .max_providers = c->max_providers,
                                     .sample_k = c->sample_k,
                                     .scan_max = c->scan_max,
                                     .seed = c->seed ^ 0x5bd1e995u };
}

static int
sched_config_valid(const struct ubc_sched_config *c)
{
    if (c == NULL || c->max_jobs == 0 || c->max_jobs >= (1u << 30) || c->max_tasks == 0 ||
        c->max_tasks >= (1u << 30) || c->queue_capacity == 0 || c->queue_capacity > (1u << 28))
        return 0;
    if (c->max_owners == 0 || c->quota_jobs_per_owner == 0 || c->place_budget == 0)
        return 0;
    if (c->max_replicas_per_job == 0 || c->max_replicas_per_job > 1024)
        return 0;
    if (c->heartbeat_suspect_ns == 0 || c->heartbeat_down_ns <= c->heartbeat_suspect_ns)
        return 0;
    for (uint32_t i = 0; i < UBC_QOS_CLASSES; i++)
        if (c->class_policy[i] == UBC_POLICY_DEFAULT || c->class_policy[i] > UBC_POLICY_REPUTATION)
            return 0;
    return 1;
}

static int
sched_layout(const struct ubc_sched_config *c, struct sched_layout *l)
{
    if (!sched_config_valid(c))
        return 0;
    struct ubc_pq_params pq = sched_pq_params(c);
    struct ubc_pool_params pool = sched_pool_params(c);
    size_t pq_bytes = ubc_pq_footprint(&pq);
    size_t pool_bytes = ubc_pool_footprint(&pool);
    if (pq_bytes == 0 || pool_bytes == 0)
        return 0;
    size_t at = align_up(sizeof(struct ubc_sched));
    l->pq = at, at += align_up(pq_bytes);
    l->pool = at, at += align_up(pool_bytes);
    l->job_map = at, at += align_up(ubc_map_footprint(c->max_jobs));
    l->owner_map = at, at += align_up(ubc_map_footprint(c->max_owners));
    l->jobs = at, at += align_up((size_t)c->max_jobs * sizeof(struct sched_job));
    l->slots = at, at += align_up((size_t)c->max_tasks * sizeof(struct sched_slot));
    l->owners = at, at += align_up((size_t)c->max_owners * sizeof(struct sched_owner));
    l->job_free = at, at += align_up((size_t)c->max_jobs * sizeof(uint32_t));
    l->owner_free = at, at += align_up((size_t)c->max_owners * sizeof(uint32_t));
    l->heap = at, at += align_up((size_t)c->max_jobs * sizeof(uint32_t));
    l->total = at;
    return 1;
}

void
ubc_sched_config_default(struct ubc_sched_config *c)
{
    UBC_ASSERT(c != NULL);
    *c = (struct ubc_sched_config){
        .max_jobs = 65536,
        .max_providers = 65536,
        .max_tasks = 262144,
        .queue_capacity = 32768,
        .max_owners = 16384,
        .quota_jobs_per_owner = 4096,
        .max_replicas_per_job = 64,
        .pq_bands = 4,
        .sample_k = 2,
        .scan_max = 32,
        .place_budget = 512,
        .preempt_victims_max = 4,
        .heartbeat_suspect_ns = 300000000ull,
        .heartbeat_down_ns = 800000000ull,
        .aging_ns = 100000000ull,
        .retry_interval_ns = 10000000ull,
        .seed = 0x75626373636864ull,
    };
    for (uint32_t i = 0; i < UBC_QOS_CLASSES; i++) {
        c->class_preempt[i] = i < 2;
        c->class_policy[i] = i < 4   ? UBC_POLICY_SPREAD
                             : i < 6 ? UBC_POLICY_BINPACK
                             : i < 7 ? UBC_POLICY_PRICE
                                     : UBC_POLICY_REPUTATION;
    }
}

size_t
ubc_sched_align(void)
{
    return 64;
}

size_t
ubc_sched_footprint(const struct ubc_sched_config *config)
{
    struct sched_layout l;
    return sched_layout(config, &l) ? l.total : 0;
}

static void
sched_attach(struct ubc_sched *s)
{
    uint8_t *base = (uint8_t *)s;
    s->pq = ubc_pq_join(base + s->off_pq);
    s->pool = ubc_pool_join(base + s->off_pool);
    s->job_map = ubc_map_join(base + s->off_job_map);
    s->owner_map = ubc_map_join(base + s->off_owner_map);
    s->jobs = (struct sched_job *)(base + s->off_jobs);
    s->slots = (struct sched_slot *)(base + s->off_slots);
    s->owners = (struct sched_owner *)(base + s->off_owners);
    s->job_free = (uint32_t *)(base + s->off_job_free);
    s->owner_free = (uint32_t *)(base + s->off_owner_free);
    s->heap = (uint32_t *)(base + s->off_heap);
    UBC_ASSERT(s->pq != NULL && s->pool != NULL && s->job_map != NULL && s->owner_map != NULL);
}

static void
sched_init_tables(struct ubc_sched *s)
{
    const struct ubc_sched_config *c = &s->config;
    memset(s->jobs, 0, (size_t)c->max_jobs * sizeof(struct sched_job));
    memset(s->owners, 0, (size_t)c->max_owners * sizeof(struct sched_owner));
    for (uint32_t i = 0; i < c->max_jobs; i++)
        s->job_free[i] = c->max_jobs - 1u - i;
    s->job_free_top = c->max_jobs;
    for (uint32_t i = 0; i < c->max_owners; i++)
        s->owner_free[i] = c->max_owners - 1u - i;
    s->owner_free_top = c->max_owners;
    for (uint32_t i = 0; i < c->max_tasks; i++)
        s->slots[i] =
            (struct sched_slot){ .state = SLOT_FREE,
                                 .provider = SCHED_NONE,
                                 .job_next = i + 1u < c->max_tasks ? i + 1u : SCHED_NONE };
    s->slot_free_head = 0;
    s->slots_free = c->max_tasks;
    for (uint32_t i = 0; i < JOB_LIST_COUNT; i++)
        s->job_lists[i] = (struct sched_list){ SCHED_NONE, SCHED_NONE, 0 };
    for (uint32_t i = 0; i < WATCH_COUNT; i++)
        s->watch[i] = (struct sched_list){ SCHED_NONE, SCHED_NONE, 0 };
}

void *
ubc_sched_new(void *mem, const struct ubc_sched_config *config)
{
    struct sched_layout l;
    if (mem == NULL || ((uintptr_t)mem & 63u) != 0 || !sched_layout(config, &l))
        return NULL;
    struct ubc_sched *s = mem;
    memset(s, 0, sizeof(*s));
    s->config = *config;
    s->off_pq = l.pq, s->off_pool = l.pool, s->off_job_map = l.job_map;
    s->off_owner_map = l.owner_map, s->off_jobs = l.jobs, s->off_slots = l.slots;
    s->off_owners = l.owners, s->off_job_free = l.job_free, s->off_owner_free = l.owner_free;
    s->off_heap = l.heap;
    struct ubc_pq_params pq = sched_pq_params(config);
    struct ubc_pool_params pool = sched_pool_params(config);
    uint8_t *base = mem;
    if (ubc_pq_new(base + l.pq, &pq) == NULL || ubc_pool_new(base + l.pool, &pool) == NULL ||
        ubc_map_new(base + l.job_map, config->max_jobs, config->seed) == NULL ||
        ubc_map_new(base + l.owner_map, config->max_owners, config->seed * 31u) == NULL)
        return NULL;
    sched_attach(s);
    sched_init_tables(s);
    s->owner_seed = config->seed * 0x9e3779b97f4a7c15ull + 1u;
    s->room_min = config->max_replicas_per_job + 4u;
    s->room_place = config->max_replicas_per_job * (1u + config->preempt_victims_max) + 4u;
    s->magic = UBC_SCHED_MAGIC;
    return mem;
}

struct ubc_sched *
ubc_sched_join(void *mem)
{
    struct ubc_sched *s = mem;
    if (s == NULL || ((uintptr_t)mem & 63u) != 0 || s->magic != UBC_SCHED_MAGIC)
        return NULL;
    sched_attach(s); /* pointers are re-derived: the memory may be mapped elsewhere */
    return s;
}

void *
ubc_sched_leave(struct ubc_sched *s)
{
    UBC_ASSERT(s != NULL && s->magic == UBC_SCHED_MAGIC);
    return s;
}

void *
ubc_sched_delete(void *mem)
{
    struct ubc_sched *s = ubc_sched_join(mem);
    if (s == NULL)
        return NULL;
    ubc_pq_delete(s->pq);
    ubc_pool_delete(s->pool);
    ubc_map_delete(s->job_map);
    ubc_map_delete(s->owner_map);
    s->magic = 0;
    return mem;
}

uint32_t
ubc_sched_out_room_min(const struct ubc_sched *s)
{
    return s->room_min;
}

uint32_t
ubc_sched_out_room_tick(const struct ubc_sched *s)
{
    return s->room_place;
}

/* ---- output helpers ---- */

/* Inlined: every output is staged here, a status reply per query. */
static inline __attribute__((always_inline)) struct ubc_msg *
sched_out_push(struct ubc_sched_out *out, uint16_t type, uint16_t len)
{
    UBC_ASSERT(out->count < out->capacity); /* callers checked the room first */
    struct ubc_msg *msg = &out->msgs[out->count++];
    /* Replies, the hot output (one per status query), get their 48 bytes
     * zeroed, not 256: a whole-message memset compiles to `rep stos`. The
     * net role copies and encodes no more than the header and the type's
     * payload (ubc_msg_payload_bytes). */
    int reply = type == UBC_MSG_ACK || type == UBC_MSG_REFUSAL || type == UBC_MSG_JOB_STATUS;
    UBC_ASSERT(!reply || len == sizeof(struct ubc_reply));
    /* Two constant sizes, not one chosen at run time: a variable size
     * compiled to `rep stos`, whose start-up costs more than the stores. */
    if (reply)
        memset(msg, 0, sizeof(msg->hdr) + sizeof(struct ubc_reply));
    else
        memset(msg, 0, sizeof(*msg));
    msg->hdr.type = type;
    msg->hdr.len = len;
    msg->hdr.src_role = UBC_ROLE_SCHED;
    msg->hdr.peer = UBC_PEER_NONE;
    return msg;
}

/* Inlined, as the lookup and the query below: a status query's whole path. */
static inline __attribute__((always_inline)) void
sched_reply(struct ubc_sched_out *out, const struct ubc_msg *in, uint16_t type, uint64_t id,
            uint16_t error, uint16_t state, uint32_t detail)
{
    struct ubc_msg *msg = sched_out_push(out, type, sizeof(struct ubc_reply));
    msg->hdr.peer = in->hdr.peer;
    msg->hdr.peer_gen = in->hdr.peer_gen;
    msg->hdr.seq = in->hdr.seq;
    msg->hdr.tsc = in->hdr.tsc;
    msg->u.reply = (struct ubc_reply){ .id = id, .error = error, .state = state, .detail = detail };
}

static void
sched_refuse(struct ubc_sched *s, struct ubc_sched_out *out, const struct ubc_msg *in, uint64_t id,
             enum ubc_err error)
{
    UBC_ASSERT(error > UBC_OK && error < UBC_ERR_COUNT);
    s->stats.refusals[error]++;
    sched_reply(out, in, UBC_MSG_REFUSAL, id, (uint16_t)error, 0, 0);
}

static void
sched_emit_status(struct ubc_sched_out *out, const struct sched_job *job)
{
    struct ubc_msg *msg = sched_out_push(out, UBC_MSG_JOB_STATUS, sizeof(struct ubc_reply));
    msg->hdr.peer = job->peer;
    msg->hdr.peer_gen = job->peer_gen;
    msg->hdr.seq = job->request_seq;
    msg->hdr.tsc = job->request_tsc;
    msg->u.reply = (struct ubc_reply){ .id = job->spec.job_id,
                                       .error = job->error,
                                       .state = job->state,
                                       .detail = job->replicas_done };
}

static void
sched_emit_settlement(struct ubc_sched *s, struct ubc_sched_out *out, const struct sched_job *job,
                      uint8_t kind, uint64_t amount, const struct sched_slot *slot)
{
    struct ubc_msg *msg = sched_out_push(out, UBC_MSG_LEDGER_OP, sizeof(struct ubc_settlement));
    struct ubc_settlement settle = { .job_id = job->spec.job_id, .amount = amount, .kind = kind };
    memcpy(settle.owner, job->spec.owner, UBC_KEY_BYTES);
    if (slot != NULL) {
        memcpy(settle.provider_account, slot->account, UBC_KEY_BYTES);
        settle.provider_id = slot->provider_id;
    }
    memcpy(msg->u.bytes, &settle, sizeof(settle));
    s->stats.settlements++;
}

void
sched_emit_assignment(struct ubc_sched *s, struct ubc_sched_out *out, const struct sched_job *job,
                      const struct sched_slot *slot, int revoke)
{
    const struct ubc_provider *p = ubc_pool_get_const(s->pool, slot->provider);
    struct ubc_msg *msg = sched_out_push(out, UBC_MSG_ASSIGNMENT, sizeof(struct ubc_assignment));
    msg->hdr.flags = revoke ? UBC_SCHED_FLAG_REVOKE : 0;
    msg->hdr.peer = p->peer;
    msg->hdr.peer_gen = p->peer_gen;
    msg->hdr.tsc = job->request_tsc;
    msg->u.assignment = (struct ubc_assignment){ .job_id = job->spec.job_id,
                                                 .provider_id = p->id,
                                                 .task_index = slot->task_index,
                                                 .replica = slot->replica,
                                                 .qos_class = job->spec.qos_class,
                                                 .price = slot->price,
                                                 .work_ms = job->spec.work_ms,
                                                 .deadline_ns = job->deadline_abs_ns };
}

/* ---- intrusive lists ---- */

void
sched_job_list_push(struct ubc_sched *s, uint32_t list, uint32_t job_index)
{
    struct sched_job *job = &s->jobs[job_index];
    struct sched_list *l = &s->job_lists[list];
    UBC_ASSERT(job->list_id == JOB_LIST_NONE && list != JOB_LIST_NONE && list < JOB_LIST_COUNT);
    job->list_id = (uint8_t)list;
    job->list_prev = l->tail;
    job->list_next = SCHED_NONE;
    if (l->tail != SCHED_NONE)
        s->jobs[l->tail].list_next = job_index;
    else
        l->head = job_index;
    l->tail = job_index;
    l->count++;
}

void
sched_job_list_remove(struct ubc_sched *s, uint32_t job_index)
{
    struct sched_job *job = &s->jobs[job_index];
    if (job->list_id == JOB_LIST_NONE)
        return;
    struct sched_list *l = &s->job_lists[job->list_id];
    UBC_ASSERT(l->count > 0);
    if (job->list_prev != SCHED_NONE)
        s->jobs[job->list_prev].list_next = job->list_next;
    else
        l->head = job->list_next;
    if (job->list_next != SCHED_NONE)
        s->jobs[job->list_next].list_prev = job->list_prev;
    else
        l->tail = job->list_prev;
    l->count--;
    job->list_id = JOB_LIST_NONE;
}

void
sched_watch_push(struct ubc_sched *s, uint32_t list, uint32_t provider_index)
{
    struct ubc_provider *p = ubc_pool_get(s->pool, provider_index);
    struct sched_list *l = &s->watch[list];
    UBC_ASSERT(p->watch_list == WATCH_NONE && list != WATCH_NONE && list < WATCH_COUNT);
    p->watch_list = (uint8_t)list;
    p->watch_prev = l->tail;
    p->watch_next = SCHED_NONE;
    if (l->tail != SCHED_NONE)
        ubc_pool_get(s->pool, l->tail)->watch_next = provider_index;
    else
        l->head = provider_index;
    l->tail = provider_index;
    l->count++;
}

void
sched_watch_remove(struct ubc_sched *s, uint32_t provider_index)
{
    struct ubc_provider *p = ubc_pool_get(s->pool, provider_index);
    if (p->watch_list == WATCH_NONE)
        return;
    struct sched_list *l = &s->watch[p->watch_list];
    UBC_ASSERT(l->count > 0);
    if (p->watch_prev != SCHED_NONE)
        ubc_pool_get(s->pool, p->watch_prev)->watch_next = p->watch_next;
    else
        l->head = p->watch_next;
    if (p->watch_next != SCHED_NONE)
        ubc_pool_get(s->pool, p->watch_next)->watch_prev = p->watch_prev;
    else
        l->tail = p->watch_prev;
    l->count--;
    p->watch_list = WATCH_NONE;
}

static uint64_t *
sched_health_counter(struct ubc_sched *s, uint8_t health)
{
    switch (health) {
    case UBC_HEALTH_UP: return &s->stats.providers_up;
    case UBC_HEALTH_SUSPECT: return &s->stats.providers_suspect;
    case UBC_HEALTH_DOWN: return &s->stats.providers_down;
    default: return &s->stats.providers_draining;
    }
}

void
sched_provider_health(struct ubc_sched *s, uint32_t provider_index, enum ubc_health health)
{
    struct ubc_provider *p = ubc_pool_get(s->pool, provider_index);
    if (p->health == health)
        return;
    uint64_t *before = sched_health_counter(s, p->health);
    UBC_ASSERT(*before > 0);
    (*before)--;
    (*sched_health_counter(s, (uint8_t)health))++;
    ubc_pool_set_health(s->pool, provider_index, health);
    if (health == UBC_HEALTH_UP)
        s->capacity_changed = 1;
}

/* Up or draining, from the two drain flags (for a provider that is live). */
static void
sched_provider_refresh(struct ubc_sched *s, uint32_t provider_index)
{
    struct ubc_provider *p = ubc_pool_get(s->pool, provider_index);
    int drained = p->admin_drained || p->self_drained;
    sched_provider_health(s, provider_index, drained ? UBC_HEALTH_DRAINING : UBC_HEALTH_UP);
}

/* ---- owners ---- */

static uint64_t
sched_owner_hash(const struct ubc_sched *s, const uint8_t *key)
{
    /* Keyed: a client cannot aim different keys at one entry without the seed. */
    uint64_t h = s->owner_seed;
    for (uint32_t i = 0; i < UBC_KEY_BYTES; i += 8) {
        uint64_t word;
        memcpy(&word, key + i, 8);
        h ^= word;
        h *= 0xff51afd7ed558ccdull;
        h ^= h >> 29;
        h *= 0xc4ceb9fe1a85ec53ull;
        h ^= h >> 32;
    }
    return h;
}

/* Returns the owner index, SCHED_NONE if unknown. *colliding is set when
 * another key holds the hash (refused, not merged). */
static uint32_t
sched_owner_find(const struct ubc_sched *s, const uint8_t *key, int *colliding)
{
    uint32_t index = ubc_map_get(s->owner_map, sched_owner_hash(s, key));
    *colliding = 0;
    if (index == UBC_MAP_NONE)
        return SCHED_NONE;
    if (memcmp(s->owners[index].key, key, UBC_KEY_BYTES) != 0) {
        *colliding = 1;
        return SCHED_NONE;
    }
    return index;
}

static uint32_t
sched_owner_create(struct ubc_sched *s, const uint8_t *key)
{
    UBC_ASSERT(s->owner_free_top > 0);
    uint32_t index = s->owner_free[--s->owner_free_top];
    struct sched_owner *o = &s->owners[index];
    UBC_ASSERT(!o->in_use);
    memcpy(o->key, key, UBC_KEY_BYTES);
    o->hash = sched_owner_hash(s, key);
    o->active_jobs = 0;
    o->in_use = 1;
    int rc = ubc_map_put(s->owner_map, o->hash, index);
    UBC_ASSERT(rc == 0);
    return index;
}

static void
sched_owner_release(struct ubc_sched *s, uint32_t index)
{
    struct sched_owner *o = &s->owners[index];
    UBC_ASSERT(o->in_use && o->active_jobs > 0);
    if (--o->active_jobs > 0)
        return;
    int rc = ubc_map_remove(s->owner_map, o->hash);
    UBC_ASSERT(rc == 0);
    o->in_use = 0;
    s->owner_free[s->owner_free_top++] = index;
}

/* ---- deadline heap (indexed: a finished job leaves it at once) ---- */

static int
heap_less(const struct ubc_sched *s, uint32_t a, uint32_t b)
{
    return s->jobs[s->heap[a]].deadline_abs_ns < s->jobs[s->heap[b]].deadline_abs_ns;
}

static void
heap_swap(struct ubc_sched *s, uint32_t a, uint32_t b)
{
    uint32_t t = s->heap[a];
    s->heap[a] = s->heap[b];
    s->heap[b] = t;
    s->jobs[s->heap[a]].heap_pos = a;
    s->jobs[s->heap[b]].heap_pos = b;
}

static void
heap_sift(struct ubc_sched *s, uint32_t pos)
{
    while (pos > 0 && heap_less(s, pos, (pos - 1u) / 2u)) {
        heap_swap(s, pos, (pos - 1u) / 2u);
        pos = (pos - 1u) / 2u;
    }
    for (;;) {
        uint32_t best = pos, left = 2u * pos + 1u, right = left + 1u;
        if (left < s->heap_count && heap_less(s, left, best))
            best = left;
        if (right < s->heap_count && heap_less(s, right, best))
            best = right;
        if (best == pos)
            return;
        heap_swap(s, pos, best);
        pos = best;
    }
}

static void
sched_heap_push(struct ubc_sched *s, uint32_t job_index)
{
    UBC_ASSERT(s->heap_count < s->config.max_jobs);
    s->heap[s->heap_count] = job_index;
    s->jobs[job_index].heap_pos = s->heap_count++;
    heap_sift(s, s->heap_count - 1u);
}

void
sched_heap_remove(struct ubc_sched *s, uint32_t job_index)
{
    uint32_t pos = s->jobs[job_index].heap_pos;
    if (pos == SCHED_NONE)
        return;
    UBC_ASSERT(pos < s->heap_count && s->heap[pos] == job_index);
    s->jobs[job_index].heap_pos = SCHED_NONE;
    uint32_t last = --s->heap_count;
    if (pos == last)
        return;
    s->heap[pos] = s->heap[last];
    s->jobs[s->heap[pos]].heap_pos = pos;
    heap_sift(s, pos);
}

/* ---- jobs and slots ---- */

static int
sched_job_terminal(const struct sched_job *job)
{
    return job->state == UBC_JOB_VALIDATED || job->state == UBC_JOB_FAILED ||
           job->state == UBC_JOB_CANCELLED;
}

/* A free job index; evicts the oldest finished job when the table is full. */
static uint32_t
sched_job_alloc(struct ubc_sched *s)
{
    if (s->job_free_top == 0) {
        uint32_t oldest = s->job_lists[JOB_LIST_TERMINAL].head;
        UBC_ASSERT(oldest != SCHED_NONE);
        struct sched_job *old = &s->jobs[oldest];
        sched_job_list_remove(s, oldest);
        int rc = ubc_map_remove(s->job_map, old->spec.job_id);
        UBC_ASSERT(rc == 0);
        s->stats.jobs_by_state[old->state]--;
        old->in_use = 0;
        s->job_free[s->job_free_top++] = oldest;
    }
    return s->job_free[--s->job_free_top];
}

static void
sched_slots_alloc(struct ubc_sched *s, uint32_t job_index, uint32_t redundancy)
{
    struct sched_job *job = &s->jobs[job_index];
    uint32_t *link = &job->slot_head;
    UBC_ASSERT(s->slots_free >= job->replicas_total);
    for (uint32_t i = 0; i < job->replicas_total; i++) {
        uint32_t index = s->slot_free_head;
        struct sched_slot *slot = &s->slots[index];
        UBC_ASSERT(index != SCHED_NONE && slot->state == SLOT_FREE);
        s->slot_free_head = slot->job_next;
        *slot = (struct sched_slot){ .job = job_index,
                                     .provider = SCHED_NONE,
                                     .job_next = SCHED_NONE,
                                     .task_index = (uint16_t)(i / redundancy),
                                     .replica = (uint8_t)(i % redundancy),
                                     .state = SLOT_UNPLACED };
        *link = index;
        link = &slot->job_next;
    }
    s->slots_free -= job->replicas_total;
    s->stats.tasks_live += job->replicas_total;
}

static void
sched_slots_free(struct ubc_sched *s, uint32_t job_index)
{
    struct sched_job *job = &s->jobs[job_index];
    uint32_t index = job->slot_head;
    uint32_t freed = 0;
    while (index != SCHED_NONE) {
        struct sched_slot *slot = &s->slots[index];
        uint32_t next = slot->job_next;
        UBC_ASSERT(slot->job == job_index && slot->provider == SCHED_NONE);
        slot->state = SLOT_FREE;
        slot->job_next = s->slot_free_head;
        s->slot_free_head = index;
        index = next;
        freed++;
    }
    UBC_ASSERT(freed == job->replicas_total);
    job->slot_head = SCHED_NONE;
    s->slots_free += freed;
    s->stats.tasks_live -= freed;
}

static void
sched_provider_unlink_slot(struct ubc_sched *s, struct sched_slot *slot)
{
    struct ubc_provider *p = ubc_pool_get(s->pool, slot->provider);
    if (slot->provider_prev != SCHED_NONE)
        s->slots[slot->provider_prev].provider_next = slot->provider_next;
    else
        p->task_head = slot->provider_next;
    if (slot->provider_next != SCHED_NONE)
        s->slots[slot->provider_next].provider_prev = slot->provider_prev;
    if (slot->state == SLOT_ASSIGNED) {
        UBC_ASSERT(p->tasks_unconfirmed > 0);
        p->tasks_unconfirmed--;
    }
}

/* Returns a placed slot's resources and forgets its provider. */
void
sched_slot_unplace(struct ubc_sched *s, struct sched_slot *slot)
{
    UBC_ASSERT(slot->provider != SCHED_NONE);
    ubc_pool_release(s->pool, slot->provider, &s->jobs[slot->job].spec.demand);
    sched_slot_forget(s, slot);
}

/* Forgets a placed slot's provider whose capacity was already released. */
void
sched_slot_forget(struct ubc_sched *s, struct sched_slot *slot)
{
    UBC_ASSERT(slot->provider != SCHED_NONE);
    UBC_ASSERT(slot->state == SLOT_ASSIGNED || slot->state == SLOT_RUNNING);
    struct sched_job *job = &s->jobs[slot->job];
    sched_provider_unlink_slot(s, slot);
    slot->provider = SCHED_NONE;
    slot->state = SLOT_UNPLACED;
    job->replicas_unplaced++;
    s->capacity_changed = 1;
}

static void
sched_waiting_set(struct ubc_sched *s, struct sched_job *job, int waiting)
{
    if (job->waiting == waiting)
        return;
    job->waiting = (uint8_t)waiting;
    if (waiting) {
        s->waiting++;
        s->stats.queue_depth[job->spec.qos_class]++;
    } else {
        UBC_ASSERT(s->waiting > 0);
        s->waiting--;
        s->stats.queue_depth[job->spec.qos_class]--;
    }
}

/* Puts a job with unplaced replicas in the queue (or parks it when its
 * queue level is full: a parked job is retried later, never dropped). */
void
sched_enqueue(struct ubc_sched *s, uint32_t job_index, uint64_t now_ns)
{
    struct sched_job *job = &s->jobs[job_index];
    UBC_ASSERT(!sched_job_terminal(job) && job->replicas_unplaced > 0);
    sched_waiting_set(s, job, 1);
    if (job->queued || job->list_id == JOB_LIST_PARKED)
        return;
    uint64_t value = (uint64_t)job->generation << 32 | job_index;
    if (ubc_pq_insert(s->pq, job->spec.qos_class, job->spec.priority, value, now_ns) == UBC_OK)
        job->queued = 1;
    else
        sched_job_list_push(s, JOB_LIST_PARKED, job_index);
}

static void
sched_job_set_state(struct ubc_sched *s, struct sched_job *job, uint8_t state)
{
    UBC_ASSERT(s->stats.jobs_by_state[job->state] > 0);
    s->stats.jobs_by_state[job->state]--;
    s->stats.jobs_by_state[state]++;
    job->state = state;
}

/* Releases everything a job holds and makes it terminal: revokes placed
 * replicas (except on down providers), refunds the escrow, reports the
 * final status. Needs replicas_total + 2 outputs. */
void
sched_job_finish(struct ubc_sched *s, uint32_t job_index, uint8_t state, uint8_t error,
                 struct ubc_sched_out *out)
{
    struct sched_job *job = &s->jobs[job_index];
    UBC_ASSERT(!sched_job_terminal(job));
    UBC_ASSERT(sched_out_room(out) >= (uint32_t)job->replicas_total + 2u);
    for (uint32_t i = job->slot_head; i != SCHED_NONE; i = s->slots[i].job_next) {
        struct sched_slot *slot = &s->slots[i];
        if (slot->provider == SCHED_NONE)
            continue;
        if (ubc_pool_get_const(s->pool, slot->provider)->health != UBC_HEALTH_DOWN)
            sched_emit_assignment(s, out, job, slot, 1);
        sched_slot_unplace(s, slot);
    }
    job->generation++; /* a queue entry, if any, is now stale */
    job->queued = 0;
    sched_waiting_set(s, job, 0);
    sched_job_list_remove(s, job_index);
    sched_heap_remove(s, job_index);
    if (job->escrow > 0)
        sched_emit_settlement(s, out, job, UBC_SETTLE_REFUND, job->escrow, NULL);
    job->escrow = 0;
    job->error = error;
    sched_job_set_state(s, job, state);
    sched_emit_status(out, job);
    sched_slots_free(s, job_index);
    sched_owner_release(s, job->owner_index);
    sched_job_list_push(s, JOB_LIST_TERMINAL, job_index);
}

/* A replica failed or lost its provider: count a retry, then requeue the
 * job or fail it when its retries are used up. */
void
sched_job_requeue_slot_failure(struct ubc_sched *s, uint32_t job_index, uint64_t now_ns,
                               struct ubc_sched_out *out)
{
    struct sched_job *job = &s->jobs[job_index];
    s->stats.retries++;
    s->stats.tasks_requeued++;
    if (job->retries_used < UINT8_MAX)
        job->retries_used++;
    if (job->retries_used > job->spec.max_retries) {
        sched_job_finish(s, job_index, UBC_JOB_FAILED, UBC_ERR_RETRIES, out);
        return;
    }
    sched_enqueue(s, job_index, now_ns);
}

/* ---- inputs ---- */

static enum ubc_err
sched_submit_check(const struct ubc_sched *s, const struct ubc_job_submit *js)
{
    uint32_t replicas = (uint32_t)js->task_count * js->redundancy;
    if (js->job_id == 0 || js->task_count == 0 || js->redundancy == 0 ||
        js->redundancy > SCHED_REDUNDANCY_MAX || js->qos_class >= UBC_QOS_CLASSES ||
        js->policy > UBC_POLICY_REPUTATION || replicas > s->config.max_replicas_per_job)
        return UBC_ERR_MALFORMED;
    if (js->demand.cpu_millis == 0 && js->demand.mem_mib == 0 && js->demand.gpu_count == 0)
        return UBC_ERR_MALFORMED;
    if (js->bid_per_task != 0 && replicas > UINT64_MAX / js->bid_per_task)
        return UBC_ERR_MALFORMED;
    struct ubc_resources max = ubc_pool_capacity_max(s->pool);
    if (ubc_pool_count(s->pool) > 0 &&
        (js->demand.cpu_millis > max.cpu_millis || js->demand.mem_mib > max.mem_mib ||
         js->demand.gpu_count > max.gpu_count))
        return UBC_ERR_INFEASIBLE;
    return UBC_OK;
}

static enum ubc_err
sched_submit_admit(const struct ubc_sched *s, const struct ubc_job_submit *js)
{
    enum ubc_err err = sched_submit_check(s, js);
    if (err != UBC_OK)
        return err;
    if (ubc_map_get(s->job_map, js->job_id) != UBC_MAP_NONE)
        return UBC_ERR_DUPLICATE;
    if (s->waiting >= s->config.queue_capacity)
        return UBC_ERR_QUEUE_FULL;
    int colliding;
    uint32_t owner = sched_owner_find(s, js->owner, &colliding);
    if (colliding)
        return UBC_ERR_QUOTA;
    if (owner != SCHED_NONE && s->owners[owner].active_jobs >= s->config.quota_jobs_per_owner)
        return UBC_ERR_QUOTA;
    if (owner == SCHED_NONE && s->owner_free_top == 0)
        return UBC_ERR_OVERLOADED;
    if (s->slots_free < (uint32_t)js->task_count * js->redundancy)
        return UBC_ERR_OVERLOADED;
    if (s->job_free_top == 0 && s->job_lists[JOB_LIST_TERMINAL].count == 0)
        return UBC_ERR_OVERLOADED;
    return UBC_OK;
}

static void
sched_job_init(struct ubc_sched *s, uint32_t job_index, const struct ubc_msg *in, uint64_t now_ns)
{
    const struct ubc_job_submit *js = &in->u.job_submit;
    struct sched_job *job = &s->jobs[job_index];
    uint32_t generation = job->generation + 1u;
    *job = (struct sched_job){ .spec = *js,
                               .submitted_ns = now_ns,
                               .peer = in->hdr.peer,
                               .peer_gen = in->hdr.peer_gen,
                               .request_seq = in->hdr.seq,
                               .request_tsc = in->hdr.tsc,
                               .generation = generation,
                               .heap_pos = SCHED_NONE,
                               .slot_head = SCHED_NONE,
                               .list_prev = SCHED_NONE,
                               .list_next = SCHED_NONE,
                               .state = UBC_JOB_PENDING,
                               .in_use = 1 };
    job->replicas_total = (uint16_t)(js->task_count * js->redundancy);
    job->replicas_unplaced = job->replicas_total;
    job->escrow = js->bid_per_task * job->replicas_total;
    job->policy =
        js->policy != UBC_POLICY_DEFAULT ? js->policy : s->config.class_policy[js->qos_class];
    if (js->deadline_ns != 0) /* saturate: a huge deadline must not wrap into the past */
        job->deadline_abs_ns =
            js->deadline_ns > UINT64_MAX - now_ns ? UINT64_MAX : now_ns + js->deadline_ns;
}

static void
sched_on_submit(struct ubc_sched *s, const struct ubc_msg *in, uint64_t now_ns,
                struct ubc_sched_out *out)
{
    const struct ubc_job_submit *js = &in->u.job_submit;
    s->stats.jobs_submitted++;
    enum ubc_err err = sched_submit_admit(s, js);
    if (err != UBC_OK) {
        sched_refuse(s, out, in, js->job_id, err);
        return;
    }
    uint32_t job_index = sched_job_alloc(s);
    sched_job_init(s, job_index, in, now_ns);
    struct sched_job *job = &s->jobs[job_index];
    int colliding;
    uint32_t owner = sched_owner_find(s, js->owner, &colliding);
    job->owner_index = owner != SCHED_NONE ? owner : sched_owner_create(s, js->owner);
    s->owners[job->owner_index].active_jobs++;
    int rc = ubc_map_put(s->job_map, js->job_id, job_index);
    UBC_ASSERT(rc == 0);
    sched_slots_alloc(s, job_index, js->redundancy);
    s->stats.jobs_by_state[UBC_JOB_PENDING]++;
    s->stats.jobs_accepted++;
    if (job->deadline_abs_ns != 0)
        sched_heap_push(s, job_index);
    sched_enqueue(s, job_index, now_ns);
    sched_reply(out, in, UBC_MSG_ACK, js->job_id, UBC_OK, UBC_JOB_PENDING, 0);
    sched_emit_settlement(s, out, job, UBC_SETTLE_ESCROW_LOCK, job->escrow, NULL);
}

/* Job of a reference, checking the owner. */
static inline __attribute__((always_inline)) uint32_t
sched_job_lookup(struct ubc_sched *s, const struct ubc_msg *in, struct ubc_sched_out *out)
{
    const struct ubc_job_ref *ref = &in->u.job_ref;
    uint32_t job_index = ubc_map_get(s->job_map, ref->job_id);
    if (job_index == UBC_MAP_NONE) {
        sched_refuse(s, out, in, ref->job_id, UBC_ERR_UNKNOWN_JOB);
        return SCHED_NONE;
    }
    if (memcmp(s->jobs[job_index].spec.owner, ref->owner, UBC_KEY_BYTES) != 0) {
        sched_refuse(s, out, in, ref->job_id, UBC_ERR_AUTH);
        return SCHED_NONE;
    }
    return job_index;
}

static void
sched_on_cancel(struct ubc_sched *s, const struct ubc_msg *in, struct ubc_sched_out *out)
{
    uint32_t job_index = sched_job_lookup(s, in, out);
    if (job_index == SCHED_NONE)
        return;
    struct sched_job *job = &s->jobs[job_index];
    if (!sched_job_terminal(job))
        sched_job_finish(s, job_index, UBC_JOB_CANCELLED, UBC_ERR_CANCELLED, out);
    /* Cancelling a finished job is a no-op answered with its state. */
    sched_reply(out, in, UBC_MSG_ACK, job->spec.job_id, UBC_OK, job->state, job->replicas_done);
}

static inline __attribute__((always_inline)) void
sched_on_query(struct ubc_sched *s, const struct ubc_msg *in, struct ubc_sched_out *out)
{
    uint32_t job_index = sched_job_lookup(s, in, out);
    if (job_index == SCHED_NONE)
        return;
    const struct sched_job *job = &s->jobs[job_index];
    sched_reply(out, in, UBC_MSG_JOB_STATUS, job->spec.job_id, job->error, job->state,
                job->replicas_done);
}

static void
sched_on_register(struct ubc_sched *s, const struct ubc_msg *in, uint64_t now_ns,
                  struct ubc_sched_out *out)
{
    const struct ubc_provider_register *reg = &in->u.provider_register;
    uint32_t index = ubc_pool_find(s->pool, reg->provider_id);
    if (index != UBC_POOL_NONE) {
        /* A provider that restarted registers again: refresh its route. */
        struct ubc_provider *p = ubc_pool_get(s->pool, index);
        if (p->operator_id != reg->operator_id ||
            memcmp(&p->capacity, &reg->capacity, sizeof(p->capacity)) != 0) {
            sched_refuse(s, out, in, reg->provider_id, UBC_ERR_DUPLICATE);
            return;
        }
        p->peer = in->hdr.peer;
        p->peer_gen = in->hdr.peer_gen;
        sched_reply(out, in, UBC_MSG_ACK, reg->provider_id, UBC_OK, p->health, 0);
        return;
    }
    int rc = ubc_pool_add(s->pool, reg, now_ns, &index);
    if (rc != UBC_OK) {
        sched_refuse(s, out, in, reg->provider_id, (enum ubc_err)rc);
        return;
    }
    struct ubc_provider *p = ubc_pool_get(s->pool, index);
    p->peer = in->hdr.peer;
    p->peer_gen = in->hdr.peer_gen;
    s->stats.providers++;
    s->stats.providers_up++;
    s->capacity_changed = 1;
    sched_watch_push(s, WATCH_LIVE, index);
    sched_reply(out, in, UBC_MSG_ACK, reg->provider_id, UBC_OK, UBC_HEALTH_UP, 0);
}

/* The first heartbeat after an assignment confirms it: assigned -> running. */
static void
sched_confirm_tasks(struct ubc_sched *s, struct ubc_provider *p)
{
    for (uint32_t i = p->task_head; i != SCHED_NONE && p->tasks_unconfirmed > 0;
         i = s->slots[i].provider_next) {
        struct sched_slot *slot = &s->slots[i];
        if (slot->state != SLOT_ASSIGNED)
            continue;
        slot->state = SLOT_RUNNING;
        p->tasks_unconfirmed--;
        struct sched_job *job = &s->jobs[slot->job];
        if (job->state == UBC_JOB_ASSIGNED)
            sched_job_set_state(s, job, UBC_JOB_RUNNING);
    }
}

static void
sched_on_heartbeat(struct ubc_sched *s, const struct ubc_msg *in, uint64_t now_ns,
                   struct ubc_sched_out *out)
{
    const struct ubc_provider_heartbeat *hb = &in->u.heartbeat;
    uint32_t index = ubc_pool_find(s->pool, hb->provider_id);
    if (index == UBC_POOL_NONE) {
        sched_refuse(s, out, in, hb->provider_id, UBC_ERR_UNKNOWN_PROVIDER);
        return;
    }
    struct ubc_provider *p = ubc_pool_get(s->pool, index);
    s->stats.heartbeats++;
    if (p->watch_list == WATCH_FAILOVER)
        return; /* its tasks are still being requeued: it comes back afterwards */
    p->last_heartbeat_ns = now_ns > p->last_heartbeat_ns ? now_ns : p->last_heartbeat_ns;
    p->peer = in->hdr.peer;
    p->peer_gen = in->hdr.peer_gen;
    p->self_drained = (hb->flags & UBC_SCHED_HEARTBEAT_DRAIN) != 0;
    sched_watch_remove(s, index);
    sched_watch_push(s, WATCH_LIVE, index);
    sched_provider_refresh(s, index);
    if (p->tasks_unconfirmed > 0)
        sched_confirm_tasks(s, p);
    /* The protocol answers every heartbeat: a provider that hears nothing
     * knows the node lost it and registers again. */
    sched_reply(out, in, UBC_MSG_ACK, hb->provider_id, UBC_OK, p->health, p->running_tasks);
}

/* A provider leaving on purpose: its unfinished replicas are requeued
 * without counting a retry. */
static void
sched_on_deregister(struct ubc_sched *s, const struct ubc_msg *in, uint64_t now_ns,
                    struct ubc_sched_out *out)
{
    uint64_t provider_id = in->u.heartbeat.provider_id;
    uint32_t index = ubc_pool_find(s->pool, provider_id);
    if (index == UBC_POOL_NONE) {
        sched_refuse(s, out, in, provider_id, UBC_ERR_UNKNOWN_PROVIDER);
        return;
    }
    struct ubc_provider *p = ubc_pool_get(s->pool, index);
    while (p->task_head != SCHED_NONE) {
        struct sched_slot *slot = &s->slots[p->task_head];
        uint32_t job_index = slot->job;
        sched_slot_unplace(s, slot);
        s->stats.tasks_requeued++;
        sched_enqueue(s, job_index, now_ns);
    }
    sched_watch_remove(s, index);
    (*sched_health_counter(s, p->health))--;
    s->stats.providers--;
    ubc_pool_remove(s->pool, index);
    sched_reply(out, in, UBC_MSG_ACK, provider_id, UBC_OK, UBC_HEALTH_DOWN, 0);
}

static void
sched_reputation_move(struct ubc_sched *s, const struct sched_slot *slot, int agreed)
{
    uint32_t index = ubc_pool_find(s->pool, slot->provider_id);
    if (index == UBC_POOL_NONE)
        return; /* the provider left since */
    struct ubc_provider *p = ubc_pool_get(s->pool, index);
    if (agreed)
        p->reputation += (UBC_REPUTATION_ONE - p->reputation) / 16u;
    else
        p->reputation -= p->reputation / 4u;
    UBC_ASSERT(p->reputation <= UBC_REPUTATION_ONE);
}

/* All replicas of every task must report the same result hash. */
static int
sched_job_agrees(const struct ubc_sched *s, const struct sched_job *job)
{
    const struct sched_slot *first = NULL;
    for (uint32_t i = job->slot_head; i != SCHED_NONE; i = s->slots[i].job_next) {
        const struct sched_slot *slot = &s->slots[i];
        if (slot->replica == 0)
            first = slot;
        else if (memcmp(first->result_hash, slot->result_hash, UBC_HASH_BYTES) != 0)
            return 0;
    }
    return 1;
}

/* Every replica reported success: validate, pay, refund the rest. */
static void
sched_job_complete(struct ubc_sched *s, uint32_t job_index, struct ubc_sched_out *out)
{
    struct sched_job *job = &s->jobs[job_index];
    sched_job_set_state(s, job, UBC_JOB_COMPLETED);
    int agreed = sched_job_agrees(s, job);
    for (uint32_t i = job->slot_head; i != SCHED_NONE; i = s->slots[i].job_next) {
        struct sched_slot *slot = &s->slots[i];
        sched_reputation_move(s, slot, agreed);
        if (!agreed)
            continue;
        UBC_ASSERT(job->escrow >= slot->price);
        job->escrow -= slot->price;
        sched_emit_settlement(s, out, job, UBC_SETTLE_RELEASE, slot->price, slot);
    }
    if (!agreed)
        s->stats.validation_mismatches++;
    /* finish refunds what is left of the escrow and reports the status */
    sched_job_finish(s, job_index, agreed ? UBC_JOB_VALIDATED : UBC_JOB_FAILED,
                     agreed ? UBC_OK : UBC_ERR_MISMATCH, out);
}

static struct sched_slot *
sched_slot_find(struct ubc_sched *s, const struct sched_job *job, uint16_t task_index,
                uint8_t replica)
{
    for (uint32_t i = job->slot_head; i != SCHED_NONE; i = s->slots[i].job_next) {
        struct sched_slot *slot = &s->slots[i];
        if (slot->task_index == task_index && slot->replica == replica)
            return slot;
    }
    return NULL;
}

static void
sched_on_result(struct ubc_sched *s, const struct ubc_msg *in, uint64_t now_ns,
                struct ubc_sched_out *out)
{
    const struct ubc_task_result *r = &in->u.task_result;
    s->stats.results++;
    uint32_t job_index = ubc_map_get(s->job_map, r->job_id);
    uint32_t provider = ubc_pool_find(s->pool, r->provider_id);
    struct sched_job *job = job_index == UBC_MAP_NONE ? NULL : &s->jobs[job_index];
    struct sched_slot *slot = job == NULL || sched_job_terminal(job)
                                  ? NULL
                                  : sched_slot_find(s, job, r->task_index, r->replica);
    /* Late results (revoked, failed over, re-placed elsewhere) are counted
     * and dropped: only the provider holding the replica may report it. */
    if (slot == NULL || provider == UBC_POOL_NONE || slot->provider != provider ||
        r->status > UBC_TASK_FAILED) {
        s->stats.results_stale++;
        /* Answered, so the provider stops retransmitting a result nobody waits for. */
        sched_refuse(s, out, in, r->job_id, UBC_ERR_UNKNOWN_JOB);
        return;
    }
    sched_reply(out, in, UBC_MSG_ACK, r->job_id, UBC_OK, job->state, job->replicas_done + 1u);
    if (r->status == UBC_TASK_FAILED) {
        sched_slot_unplace(s, slot);
        sched_job_requeue_slot_failure(s, job_index, now_ns, out);
        return;
    }
    sched_provider_unlink_slot(s, slot);
    ubc_pool_release(s->pool, slot->provider, &job->spec.demand);
    s->capacity_changed = 1;
    slot->provider = SCHED_NONE;
    slot->state = SLOT_DONE;
    memcpy(slot->result_hash, r->result_hash, UBC_HASH_BYTES);
    job->replicas_done++;
    if (job->replicas_done == job->replicas_total)
        sched_job_complete(s, job_index, out);
}

static inline void
sched_prefetch_one(const struct ubc_sched *s, const struct ubc_msg *msg)
{
    switch (msg->hdr.type) {
    case UBC_MSG_JOB_SUBMIT: ubc_map_prefetch(s->job_map, msg->u.job_submit.job_id); break;
    case UBC_MSG_JOB_CANCEL:
    case UBC_MSG_JOB_QUERY: ubc_map_prefetch(s->job_map, msg->u.job_ref.job_id); break;
    case UBC_MSG_PROVIDER_REGISTER:
        ubc_pool_prefetch(s->pool, msg->u.provider_register.provider_id);
        break;
    case UBC_MSG_PROVIDER_HEARTBEAT:
    case UBC_MSG_PROVIDER_DEREGISTER:
        ubc_pool_prefetch(s->pool, msg->u.heartbeat.provider_id);
        break;
    case UBC_MSG_TASK_RESULT:
        ubc_map_prefetch(s->job_map, msg->u.task_result.job_id);
        ubc_pool_prefetch(s->pool, msg->u.task_result.provider_id);
        break;
    default: break;
    }
}

void
ubc_sched_prefetch(const struct ubc_sched *s, struct ubc_msg *const *msgs, uint32_t count)
{
    UBC_ASSERT(s->magic == UBC_SCHED_MAGIC);
    for (uint32_t i = 0; i < count; i++)
        sched_prefetch_one(s, msgs[i]);
}

/* Every input but a status query. Out of line: the query path below then
 * needs no saved registers and no stack frame (with the submit, register
 * and result paths inlined beside it, each query pushed and popped six
 * registers around a 0x98-byte frame). */
static __attribute__((noinline)) void
sched_handle_other(struct ubc_sched *s, const struct ubc_msg *in, uint64_t now_ns,
                   struct ubc_sched_out *out)
{
    switch (in->hdr.type) {
    case UBC_MSG_JOB_SUBMIT: sched_on_submit(s, in, now_ns, out); break;
    case UBC_MSG_JOB_CANCEL: sched_on_cancel(s, in, out); break;
    case UBC_MSG_PROVIDER_REGISTER: sched_on_register(s, in, now_ns, out); break;
    case UBC_MSG_PROVIDER_HEARTBEAT: sched_on_heartbeat(s, in, now_ns, out); break;
    case UBC_MSG_PROVIDER_DEREGISTER: sched_on_deregister(s, in, now_ns, out); break;
    case UBC_MSG_TASK_RESULT: sched_on_result(s, in, now_ns, out); break;
    default:
        s->stats.messages_unknown++;
        if (in->hdr.peer != UBC_PEER_NONE)
            sched_refuse(s, out, in, 0, UBC_ERR_UNKNOWN_TYPE);
        break;
    }
}

int
ubc_sched_handle(struct ubc_sched *s, const struct ubc_msg *in, uint64_t now_ns,
                 struct ubc_sched_out *out)
{
    UBC_ASSERT(s->magic == UBC_SCHED_MAGIC); /* per input: the magic, not NULLs (those fault) */
    if (sched_out_room(out) < s->room_min) {
        s->stats.out_overloaded++;
        return UBC_ERR_OVERLOADED;
    }
    if (in->hdr.type == UBC_MSG_JOB_QUERY)
        sched_on_query(s, in, out);
    else
        sched_handle_other(s, in, now_ns, out);
    return UBC_OK;
}

int
ubc_sched_drain(struct ubc_sched *s, uint64_t provider_id, int drain)
{
    UBC_ASSERT(s != NULL && s->magic == UBC_SCHED_MAGIC);
    uint32_t index = ubc_pool_find(s->pool, provider_id);
    if (index == UBC_POOL_NONE)
        return UBC_ERR_UNKNOWN_PROVIDER;
    struct ubc_provider *p = ubc_pool_get(s->pool, index);
    p->admin_drained = drain != 0;
    if (p->watch_list == WATCH_LIVE)
        sched_provider_refresh(s, index);
    return UBC_OK;
}
