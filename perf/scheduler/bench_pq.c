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
};

/* ---- ubc_pq ---- */
static int
pq_insert(void *ctx, uint32_t qos_class, uint16_t priority, uint64_t value)
{
    return ubc_pq_insert(ctx, qos_class, priority, value, 0) == UBC_OK;
}

static int
pq_remove(void *ctx, uint64_t *value)
{
    struct ubc_pq_item item;
    if (!ubc_pq_remove(ctx, &item))
        return 0;
    *value = item.value;
    return 1;
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
    _Atomic uint32_t *go;
    _Atomic uint32_t *stop;
    uint32_t cpu;
    uint64_t pairs;
    uint64_t seed;
    uint64_t misses;
};

static void *
worker_main(void *arg)
{
    struct worker *w = arg;
    const struct subject *s = w->subject;
    uint64_t rng = w->seed;
    /* rte_eal_init pinned the main thread to lcore 0 and threads inherit
     * that: place workers explicitly, thread t on CPU t mod 2. */
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(w->cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
    while (atomic_load_explicit(w->go, memory_order_acquire) == 0)
        ;
    while (atomic_load_explicit(w->stop, memory_order_relaxed) == 0) {
        for (uint32_t i = 0; i < 256; i++) {
            uint64_t r = bench_rng(&rng);
            uint64_t value;
            if (!s->insert(s->ctx, (uint32_t)(r & 7), (uint16_t)(r >> 8), r))
                w->misses++;
            if (!s->remove(s->ctx, &value))
                w->misses++;
        }
        w->pairs += 256;
    }
    return NULL;
}

/* Runs threads for duration_ns (time-bounded: a collapsing baseline cannot
 * stall the harness); returns pairs per second. */
static double
run_sample(const struct subject *s, uint32_t threads, uint64_t duration_ns, uint64_t seed)
{
    pthread_t tids[8];
    struct worker workers[8];
    _Atomic uint32_t go = 0, stop = 0;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    cpus = cpus > 0 ? cpus : 1;
    for (uint32_t t = 0; t < threads; t++) {
        workers[t] = (struct worker){ .subject = s,
                                      .go = &go,
                                      .stop = &stop,
                                      .cpu = (uint32_t)(t % (uint32_t)cpus),
                                      .seed = seed * 977 + t + 1 };
        pthread_create(&tids[t], NULL, worker_main, &workers[t]);
    }
    struct timespec pause = { .tv_sec = 0, .tv_nsec = 2000000 };
    nanosleep(&pause, NULL); /* let every worker reach the start line */
    uint64_t start = ubc_time_monotonic_ns();
    atomic_store_explicit(&go, 1, memory_order_release);
    struct timespec run = { .tv_sec = (time_t)(duration_ns / 1000000000ull),
                            .tv_nsec = (long)(duration_ns % 1000000000ull) };
    nanosleep(&run, NULL);
    atomic_store_explicit(&stop, 1, memory_order_relaxed);
    uint64_t pairs = 0;
    for (uint32_t t = 0; t < threads; t++) {
        pthread_join(tids[t], NULL);
        pairs += workers[t].pairs;
    }
    uint64_t elapsed = ubc_time_monotonic_ns() - start;
    return (double)pairs * 1e9 / (double)elapsed;
}

static void
prefill(const struct subject *s, uint64_t count)
{
    uint64_t rng = 12345;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t r = bench_rng(&rng);
        if (!s->insert(s->ctx, (uint32_t)(r & 7), (uint16_t)(r >> 8), r)) {
            fprintf(stderr, "pq: prefill of %s failed at %lu\n", s->name, (unsigned long)i);
            exit(1);
        }
    }
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
emit(const char *baseline, double value, double baseline_value, uint32_t threads,
     uint64_t prefill_count, uint32_t samples)
{
    struct ubc_bench_result r = { .harness = "pq",
                                  .metric = "pairs_per_s",
                                  .value = value,
                                  .unit = "ops/s",
                                  .baseline = baseline,
                                  .baseline_value = baseline_value,
                                  .samples = samples };
    ubc_bench_param_num(&r, "threads", threads);
    ubc_bench_param_num(&r, "prefill", (double)prefill_count);
    ubc_bench_param_text(&r, "subject", "ubc_pq");
    ubc_bench_emit(&r);
}

int
bench_pq(int argc, char **argv)
{
    (void)argc, (void)argv;
    int quick = ubc_bench_quick();
    uint64_t prefill_count = quick ? 10000 : 1000000;
    uint64_t duration_ns = quick ? 20000000ull : 200000000ull;
    uint32_t samples = quick ? 1 : 5;
    struct ubc_pq_params params = { .band_count = 8, .level_capacity = quick ? 4096 : 65536 };
    void *pq_mem = bench_alloc(ubc_pq_footprint(&params));
    struct subject subjects[3] = {
        { "ubc_pq", pq_insert, pq_remove, ubc_pq_join(ubc_pq_new(pq_mem, &params)) },
        { "mutex_heap", heap_insert, heap_remove, NULL },
        { "rte_ring_mpmc", ring_insert, ring_remove, NULL },
    };
    struct heap heap = { .capacity = (uint32_t)(prefill_count * 2) };
    pthread_mutex_init(&heap.lock, NULL);
    heap.keys = bench_alloc(heap.capacity * sizeof(uint64_t));
    heap.values = bench_alloc(heap.capacity * sizeof(uint64_t));
    subjects[1].ctx = &heap;
    subjects[2].ctx = ring_setup(prefill_count);
    uint32_t subject_count = subjects[2].ctx != NULL ? 3 : 2;
    for (uint32_t i = 0; i < subject_count; i++)
        prefill(&subjects[i], prefill_count);
    static const uint32_t thread_counts[] = { 1, 2, 4 };
    for (uint32_t t = 0; t < 3; t++) {
        double rates[3][8];
        for (uint32_t k = 0; k < samples; k++)
            for (uint32_t i = 0; i < subject_count; i++)
                rates[i][k] = run_sample(&subjects[i], thread_counts[t], duration_ns, k + 1);
        double median[3];
        for (uint32_t i = 0; i < subject_count; i++)
            median[i] = ubc_bench_median(rates[i], samples);
        emit("mutex_heap", median[0], median[1], thread_counts[t], prefill_count, samples);
        if (subject_count == 3)
            emit("rte_ring_mpmc", median[0], median[2], thread_counts[t], prefill_count, samples);
    }
    free(heap.keys), free(heap.values), free(ubc_pq_delete(pq_mem));
    return 0;
}
