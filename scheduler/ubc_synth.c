/* ubc_synth.c: seeded traffic for the scheduler (see ubc_synth.h). */
#include "scheduler/ubc_synth.h"

#include <math.h>
#include <string.h>

#include "common/ubc_assert.h"

struct synth_result {
    uint64_t due_ns;
    struct ubc_task_result result;
};

struct ubc_synth {
    uint64_t magic;
    struct ubc_synth_params params;
    uint64_t rng;
    uint32_t registered;
    uint32_t heartbeat_cursor;
    uint64_t heartbeat_clock_ns; /* heartbeats are sent up to this time */
    uint64_t next_job_ns;
    uint64_t next_job_id;
    uint32_t result_count;
    uint32_t pad;
    struct ubc_synth_stats stats;
    uint64_t off_results;
    uint64_t off_killed;
};

static size_t
align_up(size_t n)
{
    return (n + 63u) & ~(size_t)63u;
}

void
ubc_synth_params_default(struct ubc_synth_params *p)
{
    *p = (struct ubc_synth_params){ .seed = 1,
                                    .provider_count = 1000,
                                    .operator_count = 250,
                                    .owner_count = 100,
                                    .results_max = 1u << 16,
                                    .heartbeat_interval_ns = 100000000ull,
                                    .job_interval_ns = 1000000ull,
                                    .work_scale_permille = 1000,
                                    .fail_permille = 10,
                                    .mismatch_permille = 2,
                                    .gpu_permille = 100 };
}

size_t
ubc_synth_align(void)
{
    return 64;
}

size_t
ubc_synth_footprint(const struct ubc_synth_params *p)
{
    if (p == NULL || p->provider_count == 0 || p->operator_count == 0 || p->owner_count == 0 ||
        p->results_max == 0 || p->heartbeat_interval_ns == 0 || p->provider_count > (1u << 26))
        return 0;
    return align_up(sizeof(struct ubc_synth)) +
           align_up((size_t)p->results_max * sizeof(struct synth_result)) +
           align_up(((size_t)p->provider_count + 8u) / 8u);
}

void *
ubc_synth_new(void *mem, const struct ubc_synth_params *p)
{
    if (mem == NULL || ((uintptr_t)mem & 63u) != 0 || ubc_synth_footprint(p) == 0)
        return NULL;
    struct ubc_synth *synth = mem;
    memset(synth, 0, sizeof(*synth));
    synth->params = *p;
    synth->rng = p->seed * 0x9e3779b97f4a7c15ull + 0x2545f4914f6cdd1dull;
    synth->next_job_id = 1;
    synth->off_results = align_up(sizeof(struct ubc_synth));
    synth->off_killed =
        synth->off_results + align_up((size_t)p->results_max * sizeof(struct synth_result));
    memset((uint8_t *)mem + synth->off_killed, 0, ((size_t)p->provider_count + 8u) / 8u);
    synth->magic = UBC_SYNTH_MAGIC;
    return mem;
}

struct ubc_synth *
ubc_synth_join(void *mem)
{
    struct ubc_synth *synth = mem;
    if (synth == NULL || ((uintptr_t)mem & 63u) != 0 || synth->magic != UBC_SYNTH_MAGIC)
        return NULL;
    return synth;
}

void *
ubc_synth_leave(struct ubc_synth *synth)
{
    UBC_ASSERT(synth != NULL && synth->magic == UBC_SYNTH_MAGIC);
    return synth;
}

void *
ubc_synth_delete(void *mem)
{
    struct ubc_synth *synth = ubc_synth_join(mem);
    if (synth == NULL)
        return NULL;
    synth->magic = 0;
    return mem;
}

static struct synth_result *
synth_results(struct ubc_synth *synth)
{
    return (struct synth_result *)((uint8_t *)synth + synth->off_results);
}

static uint8_t *
synth_killed(struct ubc_synth *synth)
{
    return (uint8_t *)synth + synth->off_killed;
}

/* xorshift64*: fast, deterministic, good enough for traffic shapes. */
static uint64_t
synth_next(struct ubc_synth *synth)
{
    synth->rng ^= synth->rng >> 12;
    synth->rng ^= synth->rng << 25;
    synth->rng ^= synth->rng >> 27;
    return synth->rng * 0x2545f4914f6cdd1dull;
}

static uint32_t
synth_below(struct ubc_synth *synth, uint32_t bound)
{
    return (uint32_t)((synth_next(synth) >> 32) * bound >> 32);
}

static void
synth_header(struct ubc_msg *msg, uint16_t type, uint16_t len, uint32_t peer, uint64_t now_ns)
{
    memset(msg, 0, sizeof(*msg));
    msg->hdr.type = type;
    msg->hdr.len = len;
    msg->hdr.src_role = UBC_ROLE_NET;
    msg->hdr.peer = peer;
    msg->hdr.tsc = now_ns;
}

/* Provider i (id i + 1): capacity classes from laptops to 8-GPU boxes. */
static void
synth_make_provider(struct ubc_synth *synth, uint32_t i, struct ubc_msg *msg, uint64_t now_ns)
{
    static const uint32_t cpus[] = { 4000, 8000, 16000, 32000, 64000, 128000 };
    synth_header(msg, UBC_MSG_PROVIDER_REGISTER, sizeof(struct ubc_provider_register), i, now_ns);
    struct ubc_provider_register *reg = &msg->u.provider_register;
    uint32_t cpu = cpus[synth_below(synth, UBC_ARRAY_SIZE(cpus))];
    reg->provider_id = i + 1u;
    reg->operator_id = 1u + i % synth->params.operator_count;
    reg->capacity = (struct ubc_resources){ .cpu_millis = cpu, .mem_mib = cpu * 4u };
    if (synth_below(synth, 1000) < synth->params.gpu_permille) {
        reg->capacity.gpu_count = (uint16_t)(1u << synth_below(synth, 4));
        reg->capacity.gpu_class = (uint16_t)(1u + synth_below(synth, 4));
    }
    reg->region = (uint16_t)synth_below(synth, 16);
    reg->labels = synth_next(synth) & 0xf;
    reg->price_per_task = 10u + synth_below(synth, 90);
    reg->stake = 1000u + synth_below(synth, 100000);
    memcpy(reg->account, &reg->provider_id, sizeof(reg->provider_id));
}

void
ubc_synth_make_job(struct ubc_synth *synth, struct ubc_msg *msg)
{
    UBC_ASSERT(synth != NULL && synth->magic == UBC_SYNTH_MAGIC && msg != NULL);
    synth_header(msg, UBC_MSG_JOB_SUBMIT, sizeof(struct ubc_job_submit), 0, 0);
    struct ubc_job_submit *js = &msg->u.job_submit;
    uint32_t shape = synth_below(synth, 100);
    uint64_t owner = 1u + synth_below(synth, synth->params.owner_count);
    js->job_id = synth->next_job_id++;
    memcpy(js->owner, &owner, sizeof(owner));
    js->demand.cpu_millis = 250u << synth_below(synth, 5); /* 250 .. 4000 */
    js->demand.mem_mib = js->demand.cpu_millis * (1u + synth_below(synth, 4));
    if (synth_below(synth, 1000) < synth->params.gpu_permille) {
        js->demand.gpu_count = 1;
        js->demand.gpu_class = (uint16_t)synth_below(synth, 5); /* 0 = any */
    }
    js->task_count = (uint16_t)(shape < 70 ? 1 : shape < 90 ? 2 + synth_below(synth, 3) : 8);
    js->redundancy = (uint8_t)(shape % 3 == 0 ? 2 : 1);
    js->qos_class = (uint8_t)synth_below(synth, UBC_QOS_CLASSES);
    js->max_retries = 3;
    js->priority = (uint16_t)synth_next(synth);
    js->bid_per_task = 60u + synth_below(synth, 200);
    js->deadline_ns = shape < 50 ? 0 : 30000000000ull;
    js->work_ms = 5u + synth_below(synth, 100);
    synth->stats.submits++;
    msg->hdr.seq = js->job_id;
}

static uint32_t
synth_poll_heartbeats(struct ubc_synth *synth, uint64_t now_ns, struct ubc_msg *msgs, uint32_t max)
{
    const struct ubc_synth_params *p = &synth->params;
    uint64_t per_ns = p->heartbeat_interval_ns / p->provider_count;
    per_ns = per_ns > 0 ? per_ns : 1;
    uint32_t n = 0;
    while (n < max && synth->heartbeat_clock_ns + per_ns <= now_ns) {
        synth->heartbeat_clock_ns += per_ns;
        uint32_t i = synth->heartbeat_cursor;
        synth->heartbeat_cursor = (i + 1u) % p->provider_count;
        if (synth_killed(synth)[i / 8u] & (1u << (i % 8u)))
            continue;
        synth_header(&msgs[n], UBC_MSG_PROVIDER_HEARTBEAT, sizeof(struct ubc_provider_heartbeat), i,
                     now_ns);
        msgs[n++].u.heartbeat.provider_id = i + 1u;
        synth->stats.heartbeats++;
    }
    return n;
}

/* Results are kept in a binary min-heap on due time. */
static void
synth_heap_swap(struct synth_result *h, uint32_t a, uint32_t b)
{
    struct synth_result t = h[a];
    h[a] = h[b];
    h[b] = t;
}

static void
synth_heap_pop(struct ubc_synth *synth)
{
    struct synth_result *h = synth_results(synth);
    UBC_ASSERT(synth->result_count > 0);
    h[0] = h[--synth->result_count];
    for (uint32_t pos = 0;;) {
        uint32_t best = pos, l = 2u * pos + 1u, r = l + 1u;
        if (l < synth->result_count && h[l].due_ns < h[best].due_ns)
            best = l;
        if (r < synth->result_count && h[r].due_ns < h[best].due_ns)
            best = r;
        if (best == pos)
            return;
        synth_heap_swap(h, pos, best);
        pos = best;
    }
}

static uint32_t
synth_poll_results(struct ubc_synth *synth, uint64_t now_ns, struct ubc_msg *msgs, uint32_t max)
{
    struct synth_result *h = synth_results(synth);
    uint32_t n = 0;
    while (n < max && synth->result_count > 0 && h[0].due_ns <= now_ns) {
        uint64_t provider = h[0].result.provider_id - 1u;
        if (provider < synth->params.provider_count &&
            (synth_killed(synth)[provider / 8u] & (1u << (provider % 8u))) == 0) {
            synth_header(&msgs[n], UBC_MSG_TASK_RESULT, sizeof(struct ubc_task_result),
                         (uint32_t)provider, now_ns);
            msgs[n++].u.task_result = h[0].result;
            synth->stats.results++;
        }
        synth_heap_pop(synth);
    }
    return n;
}

static uint32_t
synth_poll_jobs(struct ubc_synth *synth, uint64_t now_ns, struct ubc_msg *msgs, uint32_t max)
{
    uint32_t n = 0;
    if (synth->params.job_interval_ns == 0)
        return 0;
    if (synth->next_job_ns == 0)
        synth->next_job_ns = now_ns;
    while (n < max && synth->next_job_ns <= now_ns) {
        ubc_synth_make_job(synth, &msgs[n]);
        /* The scheduled arrival time: latency counts the wait for a poll. */
        msgs[n].hdr.tsc = synth->next_job_ns;
        n++;
        /* exponential gaps: -ln(U) x mean */
        double u = ((double)(synth_next(synth) >> 11) + 1.0) / 9007199254740993.0;
        synth->next_job_ns += (uint64_t)(-log(u) * (double)synth->params.job_interval_ns) + 1u;
    }
    return n;
}

uint32_t
ubc_synth_poll(struct ubc_synth *synth, uint64_t now_ns, struct ubc_msg *msgs, uint32_t max)
{
    UBC_ASSERT(synth != NULL && synth->magic == UBC_SYNTH_MAGIC && msgs != NULL);
    uint32_t n = 0;
    while (n < max && synth->registered < synth->params.provider_count) {
        synth_make_provider(synth, synth->registered++, &msgs[n++], now_ns);
        synth->stats.registrations++;
    }
    if (synth->registered == synth->params.provider_count && synth->heartbeat_clock_ns == 0)
        synth->heartbeat_clock_ns = now_ns;
    n += synth_poll_results(synth, now_ns, msgs + n, max - n);
    if (synth->registered == synth->params.provider_count)
        n += synth_poll_heartbeats(synth, now_ns, msgs + n, max - n);
    n += synth_poll_jobs(synth, now_ns, msgs + n, max - n);
    return n;
}

static void
synth_schedule(struct ubc_synth *synth, const struct ubc_assignment *a, uint64_t now_ns)
{
    if (synth->result_count == synth->params.results_max) {
        synth->stats.results_dropped++;
        return;
    }
    struct synth_result *h = synth_results(synth);
    uint32_t pos = synth->result_count++;
    struct synth_result *r = &h[pos];
    r->due_ns = now_ns + a->work_ms * 1000000ull * synth->params.work_scale_permille / 1000u;
    r->result = (struct ubc_task_result){ .job_id = a->job_id,
                                          .provider_id = a->provider_id,
                                          .task_index = a->task_index,
                                          .replica = a->replica,
                                          .run_ms = (uint32_t)a->work_ms };
    uint32_t roll = synth_below(synth, 1000);
    r->result.status = roll < synth->params.fail_permille ? UBC_TASK_FAILED : UBC_TASK_OK;
    uint64_t hash = a->job_id * 0x9e3779b97f4a7c15ull + a->task_index;
    if (roll >= 1000u - synth->params.mismatch_permille)
        hash ^= synth_next(synth) | 1u;
    memcpy(r->result.result_hash, &hash, sizeof(hash));
    while (pos > 0 && h[(pos - 1u) / 2u].due_ns > h[pos].due_ns) {
        synth_heap_swap(h, pos, (pos - 1u) / 2u);
        pos = (pos - 1u) / 2u;
    }
}

void
ubc_synth_observe(struct ubc_synth *synth, const struct ubc_msg *msgs, uint32_t count,
                  uint64_t now_ns)
{
    UBC_ASSERT(synth != NULL && synth->magic == UBC_SYNTH_MAGIC);
    for (uint32_t i = 0; i < count; i++)
        if (msgs[i].hdr.type == UBC_MSG_ASSIGNMENT && msgs[i].hdr.flags == 0)
            synth_schedule(synth, &msgs[i].u.assignment, now_ns);
}

void
ubc_synth_kill_provider(struct ubc_synth *synth, uint64_t provider_id)
{
    UBC_ASSERT(synth != NULL && synth->magic == UBC_SYNTH_MAGIC);
    if (provider_id == 0 || provider_id > synth->params.provider_count)
        return;
    uint64_t i = provider_id - 1u;
    synth_killed(synth)[i / 8u] |= (uint8_t)(1u << (i % 8u));
    synth->stats.providers_killed++;
}

void
ubc_synth_stats_read(const struct ubc_synth *synth, struct ubc_synth_stats *stats)
{
    UBC_ASSERT(synth != NULL && synth->magic == UBC_SYNTH_MAGIC);
    *stats = synth->stats;
}

void
ubc_synth_set_job_interval(struct ubc_synth *synth, uint64_t job_interval_ns)
{
    UBC_ASSERT(synth != NULL && synth->magic == UBC_SYNTH_MAGIC);
    synth->params.job_interval_ns = job_interval_ns;
    synth->next_job_ns = 0;
}
