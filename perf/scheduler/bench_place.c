/* bench_place.c: placement decisions per second on one core with 1k, 100k
 * and 1M providers and a mixed demand, against a linear-scan first fit
 * over the same providers with the same demand sequence. Both keep the
 * pool near half full: each decision reserves, and once the window of live
 * placements is full the oldest is released first (same on both sides). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ubc_time.h"
#include "perf/scheduler/bench.h"
#include "scheduler/ubc_place.h"
#include "scheduler/ubc_pool.h"
#include "scheduler/ubc_synth.h"

struct flat_provider {
    struct ubc_resources free;
    uint16_t gpu_class;
    uint16_t pad;
    uint64_t labels;
    uint64_t price;
};

struct window {
    uint32_t *provider;
    struct ubc_resources *demand;
    uint32_t head;
    uint32_t count;
    uint32_t capacity;
};

static void
make_demands(struct ubc_place_request *demands, uint32_t count, uint64_t seed)
{
    uint64_t rng = seed;
    for (uint32_t i = 0; i < count; i++) {
        uint64_t r = bench_rng(&rng);
        struct ubc_place_request *d = &demands[i];
        *d = (struct ubc_place_request){ .policy = UBC_POLICY_SPREAD };
        d->demand.cpu_millis = 250u << (r % 5);
        d->demand.mem_mib = d->demand.cpu_millis * (uint32_t)(1 + (r >> 8) % 4);
        if ((r >> 16) % 10 == 0) {
            d->demand.gpu_count = 1;
            d->demand.gpu_class = (uint16_t)((r >> 20) % 5);
        }
        d->labels = (r >> 24) % 4 == 0 ? 1 : 0;
        d->bid_per_task = 60 + (r >> 32) % 200;
    }
}

static int
flat_fits(const struct flat_provider *p, const struct ubc_place_request *q)
{
    const struct ubc_resources *d = &q->demand;
    if (p->free.cpu_millis < d->cpu_millis || p->free.mem_mib < d->mem_mib ||
        p->free.gpu_count < d->gpu_count)
        return 0;
    if (d->gpu_count > 0 && d->gpu_class != 0 && p->gpu_class != d->gpu_class)
        return 0;
    return (p->labels & q->labels) == q->labels && p->price <= q->bid_per_task;
}

static uint32_t
flat_first_fit(struct flat_provider *flat, uint32_t count, const struct ubc_place_request *q)
{
    for (uint32_t i = 0; i < count; i++)
        if (flat_fits(&flat[i], q))
            return i;
    return UBC_POOL_NONE;
}

static void
flat_take(struct flat_provider *p, const struct ubc_resources *d, int sign)
{
    p->free.cpu_millis += (uint32_t)(sign * (int64_t)d->cpu_millis);
    p->free.mem_mib += (uint32_t)(sign * (int64_t)d->mem_mib);
    p->free.gpu_count = (uint16_t)(p->free.gpu_count + sign * d->gpu_count);
}

/* Registers count providers from the synthetic source in both forms. */
static uint64_t
build_pools(struct ubc_pool *pool, struct flat_provider *flat, uint32_t count)
{
    struct ubc_synth_params sp;
    ubc_synth_params_default(&sp);
    sp.provider_count = count, sp.operator_count = count / 4 + 1, sp.results_max = 16;
    sp.job_interval_ns = 0;
    void *mem = bench_alloc(ubc_synth_footprint(&sp));
    struct ubc_synth *synth = ubc_synth_join(ubc_synth_new(mem, &sp));
    struct ubc_msg msgs[256];
    uint64_t cpu_total = 0;
    for (uint32_t done = 0; done < count;) {
        uint32_t n = ubc_synth_poll(synth, 1, msgs, 256);
        for (uint32_t i = 0; i < n && done < count; i++, done++) {
            const struct ubc_provider_register *reg = &msgs[i].u.provider_register;
            uint32_t index;
            if (ubc_pool_add(pool, reg, 0, &index) != UBC_OK)
                exit(1);
            flat[index] = (struct flat_provider){ .free = reg->capacity,
                                                  .gpu_class = reg->capacity.gpu_class,
                                                  .labels = reg->labels,
                                                  .price = reg->price_per_task };
            cpu_total += reg->capacity.cpu_millis;
        }
    }
    free(ubc_synth_delete(mem));
    return cpu_total;
}

struct side {
    struct ubc_pool *pool;      /* subject when set */
    struct flat_provider *flat; /* baseline otherwise */
    uint32_t provider_count;
    struct window window;
    uint64_t placed;
};

static void
side_release_oldest(struct side *s)
{
    struct window *w = &s->window;
    uint32_t at = w->head;
    w->head = (w->head + 1) % w->capacity;
    w->count--;
    if (s->pool != NULL)
        ubc_pool_release(s->pool, w->provider[at], &w->demand[at]);
    else
        flat_take(&s->flat[w->provider[at]], &w->demand[at], 1);
}

static void
side_decide(struct side *s, const struct ubc_place_request *q)
{
    struct window *w = &s->window;
    if (w->count == w->capacity)
        side_release_oldest(s);
    uint32_t index;
    if (s->pool != NULL) {
        struct ubc_place_exclude none = { 0 };
        enum ubc_place_reason reason;
        index = ubc_place_one(s->pool, q, &none, &reason);
        if (index != UBC_POOL_NONE)
            ubc_pool_reserve(s->pool, index, &q->demand);
    } else {
        index = flat_first_fit(s->flat, s->provider_count, q);
        if (index != UBC_POOL_NONE)
            flat_take(&s->flat[index], &q->demand, -1);
    }
    if (index == UBC_POOL_NONE)
        return;
    uint32_t at = (w->head + w->count++) % w->capacity;
    w->provider[at] = index;
    w->demand[at] = q->demand;
    s->placed++;
}

/* Decisions per second over at most max_decisions or max_ns. */
static double
side_run(struct side *s, const struct ubc_place_request *demands, uint32_t demand_count,
         uint64_t *cursor, uint64_t max_decisions, uint64_t max_ns)
{
    uint64_t start = ubc_time_monotonic_ns(), now = start, done = 0;
    while (done < max_decisions && now - start < max_ns) {
        for (uint32_t i = 0; i < 256 && done < max_decisions; i++, done++)
            side_decide(s, &demands[(*cursor)++ % demand_count]);
        now = ubc_time_monotonic_ns();
    }
    return (double)done * 1e9 / (double)(now - start);
}

static void
window_init(struct window *w, uint32_t capacity)
{
    *w = (struct window){ .capacity = capacity };
    w->provider = bench_alloc(capacity * sizeof(uint32_t));
    w->demand = bench_alloc(capacity * sizeof(struct ubc_resources));
}

static void
bench_place_size(uint32_t providers, int quick)
{
    struct ubc_pool_params pp = {
        .max_providers = providers, .sample_k = 2, .scan_max = 32, .seed = 7
    };
    void *pool_mem = bench_alloc(ubc_pool_footprint(&pp));
    struct ubc_pool *pool = ubc_pool_join(ubc_pool_new(pool_mem, &pp));
    struct flat_provider *flat = bench_alloc((size_t)providers * sizeof(*flat));
    uint64_t cpu_total = build_pools(pool, flat, providers);
    uint32_t demand_count = 1u << 16;
    struct ubc_place_request *demands = bench_alloc(demand_count * sizeof(*demands));
    make_demands(demands, demand_count, 99);
    /* half of the CPU in use at steady state (mean demand 1550 millicores) */
    uint32_t window = (uint32_t)(cpu_total / 2 / 1550);
    struct side subject = { .pool = pool, .provider_count = providers };
    struct side baseline = { .flat = flat, .provider_count = providers };
    window_init(&subject.window, window);
    window_init(&baseline.window, window);
    uint64_t cur_subject = 0, cur_baseline = 0;
    /* Warm up the subject to steady state, then give the baseline the very
     * same state (free capacities and live placements): a linear first fit
     * would need O(n^2) time to get there by itself at 1M providers. */
    side_run(&subject, demands, demand_count, &cur_subject, window, UINT64_MAX);
    for (uint32_t i = 0; i < providers; i++)
        flat[i].free = ubc_pool_get(pool, i)->free;
    memcpy(baseline.window.provider, subject.window.provider, window * sizeof(uint32_t));
    memcpy(baseline.window.demand, subject.window.demand, window * sizeof(struct ubc_resources));
    baseline.window.head = subject.window.head;
    baseline.window.count = subject.window.count;
    cur_baseline = cur_subject;
    uint32_t samples = quick ? 1 : 5;
    double rate_subject[8], rate_baseline[8];
    uint64_t placed_before = subject.placed;
    for (uint32_t k = 0; k < samples; k++) {
        rate_subject[k] = side_run(&subject, demands, demand_count, &cur_subject,
                                   quick ? 20000 : 2000000, quick ? 100000000ull : 2000000000ull);
        rate_baseline[k] = side_run(&baseline, demands, demand_count, &cur_baseline,
                                    quick ? 5000 : 200000, quick ? 50000000ull : 500000000ull);
    }
    struct ubc_bench_result r = { .harness = "place",
                                  .metric = "decisions_per_s",
                                  .value = ubc_bench_median(rate_subject, samples),
                                  .unit = "ops/s",
                                  .baseline = "linear_first_fit",
                                  .baseline_value = ubc_bench_median(rate_baseline, samples),
                                  .samples = samples };
    ubc_bench_param_num(&r, "providers", providers);
    ubc_bench_param_text(&r, "policy", "spread");
    ubc_bench_param_num(&r, "live_placements", window);
    ubc_bench_param_num(&r, "placed_fraction",
                        (double)(subject.placed - placed_before) /
                            (double)(cur_subject - window > 0 ? cur_subject - window : 1));
    ubc_bench_emit(&r);
    free(subject.window.provider), free(subject.window.demand);
    free(baseline.window.provider), free(baseline.window.demand);
    free(demands), free(flat), free(ubc_pool_delete(pool_mem));
}

int
bench_place(int argc, char **argv)
{
    (void)argc, (void)argv;
    int quick = ubc_bench_quick();
    static const uint32_t sizes[] = { 1000, 100000, 1000000 };
    static const uint32_t quick_sizes[] = { 1000, 10000 };
    /* UBC_BENCH_PLACE_PROVIDERS=n measures only that pool size (profiling). */
    const char *only = getenv("UBC_BENCH_PLACE_PROVIDERS");
    if (only != NULL && atoi(only) > 0)
        bench_place_size((uint32_t)atoi(only), quick);
    else if (quick)
        for (uint32_t i = 0; i < 2; i++)
            bench_place_size(quick_sizes[i], 1);
    else
        for (uint32_t i = 0; i < 3; i++)
            bench_place_size(sizes[i], 0);
    return 0;
}
