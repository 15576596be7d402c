/* bench_pq.c: insert + remove-min pairs per second on a prefilled queue,
 * 1, 2 and 4 threads (4 oversubscribes this 2-core machine), for ubc_pq,
 * a mutex-protected binary heap and an rte_ring MPMC FIFO, in one run and
 * with the same operation pattern (one insert then one remove per pair,
 * element by element, same random classes and priorities). */
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

struct subject {
    const char *name;
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
    while (atomic_load_explicit(w->stop, memory_order_relaxed) == 0) {
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
ring_setup(uint64_t prefill_count)
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
    if (ring == NULL)
        fprintf(stderr, "pq: rte_ring_create failed: no rte_ring baseline\n");
    return ring;
}

static void
emit(const char *subject, const char *baseline, double value, double baseline_value,
     uint32_t threads, const struct ubc_pq_params *params, uint64_t misses, uint32_t samples)
{
    struct ubc_bench_result r = { .harness = "pq",
                                  .metric = "pairs_per_s",
                                  .value = value,
                                  .unit = "ops/s",
                                  .baseline = baseline,
                                  .baseline_value = baseline_value,
                                  .samples = samples };
    ubc_bench_param_num(&r, "threads", threads);
    ubc_bench_param_num(&r, "prefill", ubc_bench_quick() ? 10000 : 1000000);
    ubc_bench_param_text(&r, "subject", subject);
    ubc_bench_param_num(&r, "shards", params->shard_count);
    ubc_bench_param_num(&r, "global_period",
                        strcmp(subject, "ubc_pq") == 0 ? params->global_period : 1);
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

enum { SUBJECT_PQ, SUBJECT_PQ_STRICT, SUBJECT_HEAP, SUBJECT_RING, SUBJECTS };

/* Medians of samples for every subject at one thread count; subjects take
 * turns within each sample round so load changes hit all of them. */
static void
run_threads(struct subject *subjects, uint32_t subject_count, uint32_t threads,
            uint64_t prefill_count, uint64_t duration_ns, uint32_t samples,
            const struct ubc_pq_params *params)
{
    double rates[SUBJECTS][8] = { { 0 } };
    uint64_t misses[SUBJECTS] = { 0 };
    for (uint32_t k = 0; k < samples; k++)
        for (uint32_t i = 0; i < subject_count; i++)
            rates[i][k] =
                run_sample(&subjects[i], threads, prefill_count, duration_ns, k + 1, &misses[i]);
    double median[SUBJECTS] = { 0 };
    for (uint32_t i = 0; i < subject_count; i++)
        median[i] = ubc_bench_median(rates[i], samples);
    for (uint32_t i = SUBJECT_PQ; i <= SUBJECT_PQ_STRICT; i++) {
        const char *name = subjects[i].name;
        if (subject_count <= SUBJECT_HEAP) {
            emit(name, NULL, median[i], 0, threads, params, misses[i], samples);
            continue;
        }
        emit(name, "mutex_heap", median[i], median[SUBJECT_HEAP], threads, params, misses[i],
             samples);
        if (subject_count > SUBJECT_RING)
            emit(name, "rte_ring_mpmc", median[i], median[SUBJECT_RING], threads, params, misses[i],
                 samples);
    }
    if (misses[SUBJECT_HEAP] + misses[SUBJECT_RING] != 0)
        fprintf(stderr, "pq: baseline misses: heap %lu, ring %lu\n",
                (unsigned long)misses[SUBJECT_HEAP], (unsigned long)misses[SUBJECT_RING]);
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
    uint64_t duration_ns = quick ? 20000000ull : 200000000ull;
    uint32_t samples = quick ? 1 : 5;
    uint32_t only_threads = env_u32("UBC_BENCH_PQ_THREADS", 0);
    /* Per shard and level: the worst level of a shard must hold its prefill
     * share plus 1/64 of a sample's inserts (the queue drifts toward its
     * worst items), so no insert fails for lack of room. */
    struct ubc_pq_params params = { .band_count = 8,
                                    .level_capacity = quick ? 16384 : 262144,
                                    .shard_count = env_u32("UBC_BENCH_PQ_SHARDS", 2),
                                    .global_period = env_u32("UBC_BENCH_PQ_PERIOD", 64) };
    size_t pq_bytes = ubc_pq_footprint(&params);
    if (pq_bytes == 0) {
        fprintf(stderr, "pq: invalid UBC_BENCH_PQ_SHARDS\n");
        return 2;
    }
    void *pq_mem = bench_alloc(pq_bytes);
    struct ubc_pq *pq = ubc_pq_join(ubc_pq_new(pq_mem, &params));
    struct heap heap = { .capacity = (uint32_t)(prefill_count * 2) };
    pthread_mutex_init(&heap.lock, NULL);
    heap.keys = bench_alloc(heap.capacity * sizeof(uint64_t));
    heap.values = bench_alloc(heap.capacity * sizeof(uint64_t));
    /* Both ubc_pq subjects use the same queue (emptied and refilled before
     * every sample); they differ only in the remove they call. */
    struct subject subjects[SUBJECTS] = {
        { "ubc_pq", pq_insert, pq_remove, pq, pq_insert_prefill },
        { "ubc_pq_strict", pq_insert, pq_remove_strict, pq, pq_insert_prefill },
        { "mutex_heap", heap_insert, heap_remove, &heap, NULL },
        { "rte_ring_mpmc", ring_insert, ring_remove, NULL, NULL },
    };
    uint32_t subject_count = SUBJECT_HEAP;
    if (getenv("UBC_BENCH_PQ_ONLY") == NULL) {
        subjects[SUBJECT_RING].ctx = ring_setup(prefill_count);
        subject_count = subjects[SUBJECT_RING].ctx != NULL ? SUBJECTS : SUBJECT_RING;
    }
    static const uint32_t thread_counts[] = { 1, 2, 4 };
    for (uint32_t t = 0; t < 3; t++)
        if (only_threads == 0 || only_threads == thread_counts[t])
            run_threads(subjects, subject_count, thread_counts[t], prefill_count, duration_ns,
                        samples, &params);
    free(heap.keys), free(heap.values), free(ubc_pq_delete(pq_mem));
    return 0;
}
