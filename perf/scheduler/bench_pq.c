/* bench_pq.c: insert + remove-min pairs per second on a prefilled queue,
 * 1, 2 and 4 threads (4 oversubscribes this 2-core machine), for ubc_pq,
 * a mutex-protected binary heap and an rte_ring MPMC FIFO, in one run and
 * with the same operation pattern (one insert then one remove per pair,
 * element by element, same random classes and priorities). At 1 thread
 * also: ubc_pq in single-thread mode against an SP/SC rte_ring (the
 * cheapest ring mode: no CAS either), and bursts of BENCH_BURST inserts
 * then BENCH_BURST removes through the burst APIs of both, single-thread
 * against SP/SC and MPMC against MPMC. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ring.h>

#include "common/ubc_time.h"
#include "perf/scheduler/bench.h"
#include "scheduler/ubc_pq.h"

#define BENCH_BURST 32u

struct subject {
    const char *name;
    const char *mode; /* emitted as params.mode */
    /* Burst subjects: one call runs BENCH_BURST inserts then BENCH_BURST
     * removes and returns the pairs that succeeded; NULL = pair by pair. */
    uint32_t (*burst)(void *ctx, uint64_t *rng);
    int one_thread; /* measured at 1 thread only (single-thread, SP/SC modes) */
    int (*insert)(void *ctx, uint32_t qos_class, uint16_t priority, uint64_t value);
    int (*remove)(void *ctx, uint64_t *value);
    void *ctx;
    /* Prefill path: for ubc_pq, item i goes to shard i mod shards (what N
     * lcores inserting would leave); NULL = insert. */
    int (*insert_prefill)(void *ctx, uint64_t index, uint32_t qos_class, uint16_t priority,
                          uint64_t value);
};

/* ---- ubc_pq ---- */
static int
pq_insert(void *ctx, uint32_t qos_class, uint16_t priority, uint64_t value)
{
    return ubc_pq_insert(ctx, qos_class, priority, value, 0) == UBC_OK;
}

/* Relaxed: the queue's default remove (local, global every global_period). */
static int
pq_remove(void *ctx, uint64_t *value)
{
    struct ubc_pq_item item;
    if (!ubc_pq_remove(ctx, &item))
        return 0;
    *value = item.value;
    return 1;
}

/* Strict: every remove global (best level over all shards). */
static int
pq_remove_strict(void *ctx, uint64_t *value)
{
    struct ubc_pq_item item;
    if (!ubc_pq_remove_at(ctx, ubc_pq_shard_self(ctx), 0, &item))
        return 0;
    *value = item.value;
    return 1;
}

static int
pq_insert_prefill(void *ctx, uint64_t index, uint32_t qos_class, uint16_t priority, uint64_t value)
{
    uint32_t shard = (uint32_t)(index % ubc_pq_shard_count(ctx));
    return ubc_pq_insert_at(ctx, shard, qos_class, priority, value, 0) == UBC_OK;
}

/* ---- mutex + binary heap (strict order on class, priority, arrival) ---- */
struct heap {
    pthread_mutex_t lock;
    uint64_t *keys;
    uint64_t *values;
    uint32_t count;
    uint32_t capacity;
    uint64_t seq;
};

static int
heap_insert(void *ctx, uint32_t qos_class, uint16_t priority, uint64_t value)
{
    struct heap *h = ctx;
    pthread_mutex_lock(&h->lock);
    if (h->count == h->capacity) {
        pthread_mutex_unlock(&h->lock);
        return 0;
    }
    uint64_t key = (uint64_t)qos_class << 60 | (uint64_t)(65535u - priority) << 40 |
                   (h->seq++ & ((1ull << 40) - 1));
    uint32_t pos = h->count++;
    while (pos > 0 && h->keys[(pos - 1) / 2] > key) {
        h->keys[pos] = h->keys[(pos - 1) / 2];
        h->values[pos] = h->values[(pos - 1) / 2];
        pos = (pos - 1) / 2;
    }
    h->keys[pos] = key;
    h->values[pos] = value;
    pthread_mutex_unlock(&h->lock);
    return 1;
}

static int
heap_remove(void *ctx, uint64_t *value)
{
    struct heap *h = ctx;
    pthread_mutex_lock(&h->lock);
    if (h->count == 0) {
        pthread_mutex_unlock(&h->lock);
        return 0;
    }
    *value = h->values[0];
    uint64_t key = h->keys[--h->count];
    uint64_t moved = h->values[h->count];
    uint32_t pos = 0;
    for (;;) {
        uint32_t child = 2 * pos + 1;
        if (child >= h->count)
            break;
        if (child + 1 < h->count && h->keys[child + 1] < h->keys[child])
            child++;
        if (h->keys[child] >= key)
            break;
        h->keys[pos] = h->keys[child];
        h->values[pos] = h->values[child];
        pos = child;
    }
    h->keys[pos] = key;
    h->values[pos] = moved;
    pthread_mutex_unlock(&h->lock);
    return 1;
}

/* ---- rte_ring MP/MC FIFO ---- */
static int
ring_insert(void *ctx, uint32_t qos_class, uint16_t priority, uint64_t value)
{
    (void)qos_class, (void)priority;
    return rte_ring_mp_enqueue(ctx, (void *)(uintptr_t)value) == 0;
}

static int
ring_remove(void *ctx, uint64_t *value)
{
    void *obj;
    if (rte_ring_mc_dequeue(ctx, &obj) != 0)
        return 0;
    *value = (uint64_t)(uintptr_t)obj;
    return 1;
}

static inline void item_next(uint64_t *rng, uint32_t *qos_class, uint16_t *priority,
                             uint64_t *value);

static uint32_t
pq_burst(void *ctx, uint64_t *rng)
{
    struct ubc_pq_entry entries[BENCH_BURST];
    struct ubc_pq_item items[BENCH_BURST];
    for (uint32_t k = 0; k < BENCH_BURST; k++)
        item_next(rng, &entries[k].qos_class, &entries[k].priority, &entries[k].value);
    uint32_t in = ubc_pq_insert_burst(ctx, entries, BENCH_BURST, 0);
    uint32_t out = ubc_pq_remove_burst(ctx, 0, items, BENCH_BURST);
    return in < out ? in : out;
}

/* SP/SC ring: one producer and one consumer (here the same thread). */
static int
ring_sp_insert(void *ctx, uint32_t qos_class, uint16_t priority, uint64_t value)
{
    (void)qos_class, (void)priority;
    return rte_ring_sp_enqueue(ctx, (void *)(uintptr_t)value) == 0;
}

static int
ring_sc_remove(void *ctx, uint64_t *value)
{
    void *obj;
    if (rte_ring_sc_dequeue(ctx, &obj) != 0)
        return 0;
    *value = (uint64_t)(uintptr_t)obj;
    return 1;
}

static uint32_t
ring_burst_common(void *ctx, uint64_t *rng, int single)
{
    void *objs[BENCH_BURST];
    uint32_t qos_class;
    uint16_t priority;
    uint64_t value;
    for (uint32_t k = 0; k < BENCH_BURST; k++) {
        item_next(rng, &qos_class, &priority, &value);
        objs[k] = (void *)(uintptr_t)value;
    }
    unsigned in = single ? rte_ring_sp_enqueue_burst(ctx, objs, BENCH_BURST, NULL)
                         : rte_ring_mp_enqueue_burst(ctx, objs, BENCH_BURST, NULL);
    unsigned out = single ? rte_ring_sc_dequeue_burst(ctx, objs, BENCH_BURST, NULL)
                          : rte_ring_mc_dequeue_burst(ctx, objs, BENCH_BURST, NULL);
    return in < out ? in : out;
}

static uint32_t
ring_burst_spsc(void *ctx, uint64_t *rng)
{
    return ring_burst_common(ctx, rng, 1);
}

static uint32_t
ring_burst_mpmc(void *ctx, uint64_t *rng)
{
    return ring_burst_common(ctx, rng, 0);
}

struct worker {
    const struct subject *subject;
    _Atomic uint32_t *ready;
    _Atomic uint32_t *go;
    _Atomic uint32_t *stop;
    uint32_t cpu;
    uint64_t pairs;
    uint64_t seed;
    uint64_t misses;
    uint64_t remove_failures; /* of the misses, pairs whose remove found nothing */
};

/* The item mix every subject sees: class uniform over the 8 QoS classes,
 * priority uniform over 16 bits (8 bands per class in ubc_pq: 64 levels). */
static inline void
item_next(uint64_t *rng, uint32_t *qos_class, uint16_t *priority, uint64_t *value)
{
    uint64_t r = bench_rng(rng);
    *qos_class = (uint32_t)(r & 7);
    *priority = (uint16_t)(r >> 8);
    *value = r;
}

static void
worker_pin(uint32_t cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* Each worker waits for the start, then runs insert+remove pairs. Only
 * pairs whose insert and remove both succeeded count; failures are reported
 * as misses. */
static void *
worker_main(void *arg)
{
    struct worker *w = arg;
    const struct subject *s = w->subject;
    uint64_t rng = w->seed;
    uint32_t qos_class;
    uint16_t priority;
    uint64_t value;
    /* rte_eal_init pinned the main thread to lcore 0 and threads inherit
     * that: place workers explicitly, thread t on CPU t mod 2. */
    worker_pin(w->cpu);
    atomic_fetch_add_explicit(w->ready, 1, memory_order_acq_rel);
    while (atomic_load_explicit(w->go, memory_order_acquire) == 0)
        ;
    uint64_t pairs = 0, misses = 0;
    while (s->burst != NULL && atomic_load_explicit(w->stop, memory_order_relaxed) == 0) {
        for (uint32_t i = 0; i < 8; i++) {
            uint32_t done = s->burst(s->ctx, &rng);
            pairs += done;
            misses += BENCH_BURST - done;
        }
    }
    while (s->burst == NULL && atomic_load_explicit(w->stop, memory_order_relaxed) == 0) {
        for (uint32_t i = 0; i < 256; i++) {
            item_next(&rng, &qos_class, &priority, &value);
            int inserted = s->insert(s->ctx, qos_class, priority, value);
            int removed = s->remove(s->ctx, &value);
            int ok = inserted & removed;
            w->remove_failures += (uint64_t)!removed;
            pairs += (uint64_t)ok;
            misses += (uint64_t)!ok;
        }
    }
    w->pairs = pairs;
    w->misses += misses;
    return NULL;
}

/* Empties the subject and prefills it (same items for every subject), runs them for duration_ns
 * (time-bounded: a collapsing baseline cannot stall the harness); returns
 * pairs per second. */
static double
run_sample(const struct subject *s, uint32_t threads, uint64_t prefill_count, uint64_t duration_ns,
           uint64_t seed, uint64_t *misses)
{
    pthread_t tids[8];
    struct worker workers[8];
    _Atomic uint32_t ready = 0, go = 0, stop = 0;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    cpus = cpus > 0 ? cpus : 1;
    uint64_t value, rng = 12345;
    uint32_t qos_class;
    uint16_t priority;
    while (s->remove(s->ctx, &value))
        ;
    for (uint64_t i = 0; i < prefill_count; i++) {
        item_next(&rng, &qos_class, &priority, &value);
        int ok = s->insert_prefill != NULL
                     ? s->insert_prefill(s->ctx, i, qos_class, priority, value)
                     : s->insert(s->ctx, qos_class, priority, value);
        *misses += (uint64_t)!ok;
    }
    for (uint32_t t = 0; t < threads; t++) {
        workers[t] = (struct worker){ .subject = s,
                                      .ready = &ready,
                                      .go = &go,
                                      .stop = &stop,
                                      .cpu = (uint32_t)(t % (uint32_t)cpus),
                                      .seed = seed * 977 + t + 1 };
        pthread_create(&tids[t], NULL, worker_main, &workers[t]);
    }
    struct timespec pause = { .tv_sec = 0, .tv_nsec = 1000000 };
    while (atomic_load_explicit(&ready, memory_order_acquire) < threads)
        nanosleep(&pause, NULL);
    uint64_t start = ubc_time_monotonic_ns();
    atomic_store_explicit(&go, 1, memory_order_release);
    struct timespec run = { .tv_sec = (time_t)(duration_ns / 1000000000ull),
                            .tv_nsec = (long)(duration_ns % 1000000000ull) };
    nanosleep(&run, NULL);
    atomic_store_explicit(&stop, 1, memory_order_relaxed);
    uint64_t pairs = 0, remove_failures = 0, misses_before = *misses;
    for (uint32_t t = 0; t < threads; t++) {
        pthread_join(tids[t], NULL);
        pairs += workers[t].pairs;
        *misses += workers[t].misses;
        remove_failures += workers[t].remove_failures;
    }
    if (*misses != misses_before) /* say which side failed: never hidden */
        fprintf(stderr, "pq: %s, %u threads: %lu failed pairs (%lu with a failed remove)\n",
                s->name, threads, (unsigned long)(*misses - misses_before),
                (unsigned long)remove_failures);
    uint64_t elapsed = ubc_time_monotonic_ns() - start;
    return (double)pairs * 1e9 / (double)elapsed;
}

static struct rte_ring *
ring_setup(uint64_t prefill_count, struct rte_ring **spsc)
{
    char *eal_argv[] = { "ubc_sched_bench",
                         "--no-huge",
                         "-m",
                         "512",
                         "--no-pci",
                         "--no-shconf",
                         "-l",
                         "0-1",
                         "--log-level=lib.eal:error",
                         NULL };
    if (rte_eal_init(9, eal_argv) < 0) {
        fprintf(stderr, "pq: rte_eal_init failed (%s): no rte_ring baseline\n",
                rte_strerror(rte_errno));
        return NULL;
    }
    uint32_t size = 1;
    while (size <= prefill_count * 2)
        size <<= 1;
    struct rte_ring *ring = rte_ring_create("ubc_bench_pq", size, SOCKET_ID_ANY, 0);
    *spsc =
        rte_ring_create("ubc_bench_pq_spsc", size, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (ring == NULL || *spsc == NULL)
        fprintf(stderr, "pq: rte_ring_create failed: no rte_ring baseline\n");
    return ring;
}

static void
emit(const struct subject *subject, const struct subject *baseline, double value,
     double baseline_value, uint32_t threads, uint32_t shards, uint32_t period, uint64_t misses,
     uint32_t samples)
{
    struct ubc_bench_result r = { .harness = "pq",
                                  .metric = "pairs_per_s",
                                  .value = value,
                                  .unit = "ops/s",
                                  .baseline = baseline != NULL ? baseline->name : NULL,
                                  .baseline_value = baseline_value,
                                  .samples = samples };
    ubc_bench_param_num(&r, "threads", threads);
    ubc_bench_param_num(&r, "prefill", ubc_bench_quick() ? 10000 : 1000000);
    ubc_bench_param_text(&r, "subject", subject->name);
    ubc_bench_param_text(&r, "mode", subject->mode);
    ubc_bench_param_num(&r, "shards", shards);
    ubc_bench_param_num(&r, "global_period", period);
    ubc_bench_param_text(&r, "mix", "8 classes x 8 bands, uniform");
    ubc_bench_param_num(&r, "misses", (double)misses);
    ubc_bench_emit(&r);
}

static uint32_t
env_u32(const char *name, uint32_t fallback)
{
    const char *text = getenv(name);
    return text != NULL && atoi(text) > 0 ? (uint32_t)atoi(text) : fallback;
}

enum {
    SUBJECT_PQ,
    SUBJECT_PQ_STRICT,
    SUBJECT_PQ_SINGLE,
    SUBJECT_PQ_SINGLE_BURST,
    SUBJECT_PQ_BURST,
    SUBJECT_HEAP,
    SUBJECT_RING,
    SUBJECT_RING_SPSC,
    SUBJECT_RING_SPSC_BURST,
    SUBJECT_RING_BURST,
    SUBJECTS
};

/* Which baselines each ubc_pq subject is reported against: the same mode. */
static const struct {
    uint32_t subject, baseline;
} bench_pairs[] = {
    { SUBJECT_PQ, SUBJECT_HEAP },
    { SUBJECT_PQ, SUBJECT_RING },
    { SUBJECT_PQ_STRICT, SUBJECT_HEAP },
    { SUBJECT_PQ_STRICT, SUBJECT_RING },
    { SUBJECT_PQ_SINGLE, SUBJECT_HEAP },
    { SUBJECT_PQ_SINGLE, SUBJECT_RING_SPSC },
    { SUBJECT_PQ_SINGLE_BURST, SUBJECT_RING_SPSC_BURST },
    { SUBJECT_PQ_BURST, SUBJECT_RING_BURST },
};

struct bench_setup {
    struct subject *subjects;
    uint32_t shards, period; /* of the multi-thread queue */
    uint64_t prefill_count, duration_ns;
    uint32_t samples;
};

static int
subject_runs(const struct bench_setup *b, uint32_t i, uint32_t threads)
{
    return b->subjects[i].ctx != NULL && (threads == 1 || !b->subjects[i].one_thread);
}

/* Medians of samples for every subject at one thread count; subjects take
 * turns within each sample round so load changes hit all of them. */
static void
run_threads(const struct bench_setup *b, uint32_t threads)
{
    double rates[SUBJECTS][8] = { { 0 } };
    uint64_t misses[SUBJECTS] = { 0 };
    for (uint32_t k = 0; k < b->samples; k++)
        for (uint32_t i = 0; i < SUBJECTS; i++)
            if (subject_runs(b, i, threads))
                rates[i][k] = run_sample(&b->subjects[i], threads, b->prefill_count, b->duration_ns,
                                         k + 1, &misses[i]);
    double median[SUBJECTS] = { 0 };
    for (uint32_t i = 0; i < SUBJECTS; i++)
        if (subject_runs(b, i, threads))
            median[i] = ubc_bench_median(rates[i], b->samples);
    for (uint32_t i = 0; i < SUBJECT_HEAP; i++) {
        if (!subject_runs(b, i, threads))
            continue;
        int single = i == SUBJECT_PQ_SINGLE || i == SUBJECT_PQ_SINGLE_BURST;
        uint32_t shards = single ? 1 : b->shards;
        uint32_t period = i == SUBJECT_PQ || i == SUBJECT_PQ_BURST ? b->period : 1;
        int emitted = 0;
        for (size_t p = 0; p < sizeof(bench_pairs) / sizeof(bench_pairs[0]); p++) {
            uint32_t base = bench_pairs[p].baseline;
            if (bench_pairs[p].subject != i || !subject_runs(b, base, threads))
                continue;
            emit(&b->subjects[i], &b->subjects[base], median[i], median[base], threads, shards,
                 period, misses[i], b->samples);
            emitted = 1;
        }
        if (!emitted)
            emit(&b->subjects[i], NULL, median[i], 0, threads, shards, period, misses[i],
                 b->samples);
    }
    for (uint32_t i = SUBJECT_HEAP; i < SUBJECTS; i++)
        if (misses[i] != 0)
            fprintf(stderr, "pq: baseline %s misses: %lu\n", b->subjects[i].name,
                    (unsigned long)misses[i]);
}

static struct ubc_pq *
pq_create(const struct ubc_pq_params *params, void **mem)
{
    size_t bytes = ubc_pq_footprint(params);
    if (bytes == 0)
        return NULL;
    *mem = bench_alloc(bytes);
    return ubc_pq_join(ubc_pq_new(*mem, params));
}

/* The rings exist only when the EAL starts; UBC_BENCH_PQ_ONLY=1 skips
 * every baseline. */
static void
subjects_attach_baselines(struct subject *subjects, uint64_t prefill_count)
{
    if (getenv("UBC_BENCH_PQ_ONLY") == NULL) {
        struct rte_ring *spsc = NULL;
        struct rte_ring *ring = ring_setup(prefill_count, &spsc);
        subjects[SUBJECT_RING].ctx = subjects[SUBJECT_RING_BURST].ctx = ring;
        subjects[SUBJECT_RING_SPSC].ctx = subjects[SUBJECT_RING_SPSC_BURST].ctx = spsc;
    } else {
        subjects[SUBJECT_HEAP].ctx = NULL;
    }
}

/* Knobs for profiling one case: UBC_BENCH_PQ_THREADS=n runs only n threads,
 * UBC_BENCH_PQ_SHARDS=s sets the queue's shard count (default 2, one per
 * core of this machine), UBC_BENCH_PQ_PERIOD=p its global_period (default
 * 64), UBC_BENCH_PQ_ONLY=1 skips the baselines. */
int
bench_pq(int argc, char **argv)
{
    (void)argc, (void)argv;
    int quick = ubc_bench_quick();
    uint64_t prefill_count = quick ? 10000 : 1000000;
    /* Per shard and level: the worst level of a shard must hold its prefill
     * share plus 1/64 of a sample's inserts (the queue drifts toward its
     * worst items), so no insert fails for lack of room. */
    struct ubc_pq_params params = { .band_count = 8,
                                    .level_capacity = quick ? 16384 : 262144,
                                    .shard_count = env_u32("UBC_BENCH_PQ_SHARDS", 2),
                                    .global_period = env_u32("UBC_BENCH_PQ_PERIOD", 64) };
    /* The single-thread queue: one shard, and room for the whole prefill
     * in one level (2^20 >= 1M, 1 GiB): it runs fastest, so within a
     * sample its frontier can reach the worst level, which then holds
     * every item. The queue never holds more than the prefill. */
    struct ubc_pq_params single_params = { .band_count = 8,
                                           .level_capacity = quick ? 16384 : 1048576,
                                           .flags = UBC_PQ_FLAG_SINGLE_THREAD };
    void *pq_mem = NULL, *single_mem = NULL;
    struct ubc_pq *pq = pq_create(&params, &pq_mem);
    struct ubc_pq *single = pq_create(&single_params, &single_mem);
    if (pq == NULL || single == NULL) {
        fprintf(stderr, "pq: invalid UBC_BENCH_PQ_SHARDS\n");
        return 2;
    }
    struct heap heap = { .capacity = (uint32_t)(prefill_count * 2) };
    pthread_mutex_init(&heap.lock, NULL);
    heap.keys = bench_alloc(heap.capacity * sizeof(uint64_t));
    heap.values = bench_alloc(heap.capacity * sizeof(uint64_t));
    /* Subjects of one mode share one structure (emptied and refilled
     * before every sample); they differ in the calls they make. */
    struct subject subjects[SUBJECTS] = {
        [SUBJECT_PQ] = { "ubc_pq", "mpmc", NULL, 0, pq_insert, pq_remove, pq, pq_insert_prefill },
        [SUBJECT_PQ_STRICT] = { "ubc_pq_strict", "mpmc", NULL, 0, pq_insert, pq_remove_strict, pq,
                                pq_insert_prefill },
        [SUBJECT_PQ_SINGLE] = { "ubc_pq_single", "single_thread", NULL, 1, pq_insert, pq_remove,
                                single, NULL },
        [SUBJECT_PQ_SINGLE_BURST] = { "ubc_pq_single_burst", "single_thread_burst32", pq_burst, 1,
                                      pq_insert, pq_remove, single, NULL },
        [SUBJECT_PQ_BURST] = { "ubc_pq_burst", "mpmc_burst32", pq_burst, 1, pq_insert, pq_remove,
                               pq, pq_insert_prefill },
        [SUBJECT_HEAP] = { "mutex_heap", "mpmc", NULL, 0, heap_insert, heap_remove, &heap, NULL },
        [SUBJECT_RING] = { "rte_ring_mpmc", "mpmc", NULL, 0, ring_insert, ring_remove, NULL, NULL },
        [SUBJECT_RING_SPSC] = { "rte_ring_spsc", "spsc", NULL, 1, ring_sp_insert, ring_sc_remove,
                                NULL, NULL },
        [SUBJECT_RING_SPSC_BURST] = { "rte_ring_spsc_burst", "spsc_burst32", ring_burst_spsc, 1,
                                      ring_sp_insert, ring_sc_remove, NULL, NULL },
        [SUBJECT_RING_BURST] = { "rte_ring_mpmc_burst", "mpmc_burst32", ring_burst_mpmc, 1,
                                 ring_insert, ring_remove, NULL, NULL },
    };
    subjects_attach_baselines(subjects, prefill_count);
    struct bench_setup setup = { .subjects = subjects,
                                 .shards = params.shard_count,
                                 .period = params.global_period,
                                 .prefill_count = prefill_count,
                                 .duration_ns = quick ? 20000000ull : 200000000ull,
                                 .samples = quick ? 1 : 5 };
    uint32_t only_threads = env_u32("UBC_BENCH_PQ_THREADS", 0);
    static const uint32_t thread_counts[] = { 1, 2, 4 };
    for (uint32_t t = 0; t < 3; t++)
        if (only_threads == 0 || only_threads == thread_counts[t])
            run_threads(&setup, thread_counts[t]);
    free(heap.keys), free(heap.values);
    free(ubc_pq_delete(pq_mem)), free(ubc_pq_delete(single_mem));
    return 0;
}
