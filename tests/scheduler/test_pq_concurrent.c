/* test_pq_concurrent.c: ubc_pq under several threads (suite concurrent, TSan).
 *
 * 1. Mixed stress: every thread inserts and removes; afterwards each item was
 *    removed exactly once, and each consumer saw each producer's items of one
 *    level in insertion order (per-level FIFO).
 * 2. Recorded history, remove phase: items are inserted concurrently, then
 *    removed concurrently with a logical clock around each remove; the
 *    history must be linearizable to a strict priority queue: no remove of a
 *    level-L item ends before some remove of a better item has started.
 * 3. Aging sweeps concurrent with producers and consumers lose nothing.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "scheduler/ubc_pq.h"

#define THREADS 4u
#define BANDS 4u
#define LEVELS (UBC_QOS_CLASSES * BANDS)
/* Operations per thread; UBC_TEST_SCALE multiplies it (suite stress). */
static uint32_t per_thread = 40000u;
#define PER_THREAD per_thread

/* value = producer (8 bits) | level (16 bits) | sequence (40 bits) */
static inline uint64_t
value_make(uint64_t producer, uint64_t level, uint64_t seq)
{
    return producer << 56 | level << 40 | seq;
}
#define VALUE_PRODUCER(v) ((uint32_t)((v) >> 56))
#define VALUE_LEVEL(v) ((uint32_t)(((v) >> 40) & 0xffff))
#define VALUE_SEQ(v) ((v) & ((1ull << 40) - 1))

static uint32_t
level_of(uint32_t qos_class, uint16_t priority)
{
    return qos_class * BANDS + (BANDS - 1 - (priority >> 14));
}

static uint64_t
rng_next(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

struct shared {
    struct ubc_pq *pq;
    _Atomic uint64_t clock;
    _Atomic uint32_t go;
    _Atomic uint32_t producers_done;
};

struct record {
    uint64_t value;
    uint64_t start;
    uint64_t end;
    uint32_t local; /* a local remove on the shard of the value's producer */
};

struct worker {
    struct shared *shared;
    uint32_t id;
    uint32_t inserted;
    uint32_t removed;
    struct record *log;
};

static uint32_t pq_shards = 1; /* shard_count of the next pq_make */
static uint32_t pq_period = 1; /* global_period of the next pq_make */
static uint32_t pq_burst = 0;  /* mixed stress: bursts of up to this many (0 = single ops) */

static struct ubc_pq *
pq_make(uint32_t capacity, uint64_t aging_ns, void **mem_out)
{
    struct ubc_pq_params params = { .band_count = BANDS,
                                    .level_capacity = capacity,
                                    .aging_ns = aging_ns,
                                    .shard_count = pq_shards,
                                    .global_period = pq_period };
    size_t bytes = ubc_pq_footprint(&params);
    void *mem = aligned_alloc(ubc_pq_align(), (bytes + 63) & ~(size_t)63);
    assert_non_null(mem);
    assert_non_null(ubc_pq_new(mem, &params));
    *mem_out = mem;
    return ubc_pq_join(mem);
}

/* One step of the burst variant: insert a burst of 1..pq_burst items or
 * remove up to pq_burst. */
static void
mixed_burst_step(struct worker *w, uint64_t *rng, uint64_t *seq)
{
    struct ubc_pq_entry entries[16];
    struct ubc_pq_item items[16];
    uint32_t r = (uint32_t)rng_next(rng), count = 1 + (r >> 24) % pq_burst;
    if ((r & 1) == 0) {
        for (uint32_t k = 0; k < count; k++) {
            uint32_t e = (uint32_t)rng_next(rng);
            entries[k].qos_class = e & 7;
            entries[k].priority = (uint16_t)(e >> 4);
            entries[k].value = value_make(w->id, level_of(e & 7, entries[k].priority), *seq + k);
        }
        uint32_t done = ubc_pq_insert_burst(w->shared->pq, entries, count, 0);
        *seq += done;
        w->inserted += done;
        return;
    }
    uint32_t got = ubc_pq_remove_burst(w->shared->pq, 0, items, count);
    for (uint32_t k = 0; k < got; k++)
        w->log[w->removed++].value = items[k].value;
}

static void *
mixed_main(void *arg)
{
    struct worker *w = arg;
    uint64_t rng = 977 + w->id;
    uint64_t seq = 0;
    while (atomic_load(&w->shared->go) == 0)
        ;
    for (uint32_t i = 0; i < PER_THREAD / (pq_burst + 1); i++) {
        if (pq_burst != 0) {
            mixed_burst_step(w, &rng, &seq);
            continue;
        }
        uint32_t r = (uint32_t)rng_next(&rng);
        if ((r & 1) == 0) {
            uint32_t qos_class = (r >> 1) & 7;
            uint16_t priority = (uint16_t)(r >> 4);
            uint64_t v = value_make(w->id, level_of(qos_class, priority), seq);
            if (ubc_pq_insert(w->shared->pq, qos_class, priority, v, 0) == UBC_OK) {
                seq++;
                w->inserted++;
            }
        } else {
            struct ubc_pq_item item;
            if (ubc_pq_remove(w->shared->pq, &item) == 1)
                w->log[w->removed++].value = item.value;
        }
    }
    return NULL;
}

static void
check_fifo_per_consumer(struct worker *workers, uint32_t count)
{
    static uint64_t last[THREADS][LEVELS];
    for (uint32_t c = 0; c < count; c++) {
        memset(last, 0xff, sizeof(last));
        for (uint32_t i = 0; i < workers[c].removed; i++) {
            uint64_t v = workers[c].log[i].value;
            uint64_t *prev = &last[VALUE_PRODUCER(v)][VALUE_LEVEL(v)];
            assert_true(*prev == UINT64_MAX || *prev < VALUE_SEQ(v));
            *prev = VALUE_SEQ(v);
        }
    }
}

static void
check_exactly_once(struct worker *workers, uint32_t count)
{
    uint8_t *seen[THREADS];
    for (uint32_t p = 0; p < count; p++)
        seen[p] = calloc(workers[p].inserted + 1, 1);
    uint64_t removed = 0;
    for (uint32_t c = 0; c < count; c++) {
        for (uint32_t i = 0; i < workers[c].removed; i++) {
            uint64_t v = workers[c].log[i].value;
            uint32_t p = VALUE_PRODUCER(v);
            assert_true(p < count && VALUE_SEQ(v) < workers[p].inserted);
            assert_int_equal(seen[p][VALUE_SEQ(v)], 0);
            seen[p][VALUE_SEQ(v)] = 1;
        }
        removed += workers[c].removed;
    }
    uint64_t inserted = 0;
    for (uint32_t p = 0; p < count; p++) {
        inserted += workers[p].inserted;
        free(seen[p]);
    }
    assert_int_equal(removed, inserted);
}

static void
run_threads(struct worker *workers, uint32_t count, void *(*fn)(void *))
{
    pthread_t threads[THREADS + 1];
    for (uint32_t i = 0; i < count; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, fn, &workers[i]), 0);
    atomic_store(&workers[0].shared->go, 1);
    for (uint32_t i = 0; i < count; i++)
        assert_int_equal(pthread_join(threads[i], NULL), 0);
}

/* Drains what is left into worker 0's log, single-threaded. */
static void
drain_into(struct worker *w, uint32_t log_max)
{
    struct ubc_pq_item item;
    while (ubc_pq_remove(w->shared->pq, &item) == 1) {
        assert_true(w->removed < log_max);
        w->log[w->removed++].value = item.value;
    }
}

static void
test_mixed_stress(void **state)
{
    (void)state;
    void *mem;
    struct shared shared = { .pq = pq_make(1024, 0, &mem) };
    struct worker workers[THREADS];
    uint32_t log_max = PER_THREAD * THREADS;
    for (uint32_t i = 0; i < THREADS; i++)
        workers[i] = (struct worker){ .shared = &shared,
                                      .id = i,
                                      .log = calloc(log_max, sizeof(struct record)) };
    run_threads(workers, THREADS, mixed_main);
    drain_into(&workers[0], log_max);
    check_exactly_once(workers, THREADS);
    check_fifo_per_consumer(workers, THREADS);
    for (uint32_t i = 0; i < THREADS; i++)
        free(workers[i].log);
    free(ubc_pq_delete(mem));
}

static void *
fill_main(void *arg)
{
    struct worker *w = arg;
    uint64_t rng = 31 + w->id;
    while (atomic_load(&w->shared->go) == 0)
        ;
    for (uint32_t i = 0; i < PER_THREAD / 4; i++) {
        uint32_t r = (uint32_t)rng_next(&rng);
        uint32_t qos_class = r & 7;
        uint16_t priority = (uint16_t)(r >> 3);
        uint64_t v = value_make(w->id, level_of(qos_class, priority), w->inserted);
        /* producer id = its shard (when there are enough shards) */
        assert_int_equal(
            ubc_pq_insert_at(w->shared->pq, w->id % pq_shards, qos_class, priority, v, 0), UBC_OK);
        w->inserted++;
    }
    return NULL;
}

static void *
drain_main(void *arg)
{
    struct worker *w = arg;
    struct shared *s = w->shared;
    while (atomic_load(&s->go) == 0)
        ;
    /* With shards: three local removes on the thread's own shard, then a
     * global one. */
    for (uint32_t n = 0;; n++) {
        struct record rec = { .local = pq_shards > 1 && n % 4 != 3 };
        struct ubc_pq_item item;
        rec.start = atomic_fetch_add(&s->clock, 1);
        int got = rec.local ? ubc_pq_remove_local(s->pq, w->id, 0, &item)
                            : ubc_pq_remove_at(s->pq, w->id, 0, &item);
        if (got == 0)
            return NULL;
        rec.end = atomic_fetch_add(&s->clock, 1);
        rec.value = item.value;
        w->log[w->removed++] = rec;
    }
}

static int
record_by_seq(const void *a, const void *b)
{
    uint64_t x = VALUE_SEQ(((const struct record *)a)->value);
    uint64_t y = VALUE_SEQ(((const struct record *)b)->value);
    return x < y ? -1 : x > y;
}

/* Strict order: every better-level item's remove (of any shard for a global
 * remove, of the item's own shard for a local one) started before this
 * remove ended. FIFO: within (producer, level), a later item's remove never
 * ends before an earlier item's remove starts. */
static void
check_linearizable(struct worker *workers, uint32_t count)
{
    static uint64_t last_start[THREADS][LEVELS];
    static uint64_t better_shard[THREADS][LEVELS];
    uint64_t better_any[LEVELS];
    memset(last_start, 0, sizeof(last_start));
    uint32_t total = 0;
    for (uint32_t c = 0; c < count; c++)
        for (uint32_t i = 0; i < workers[c].removed; i++) {
            struct record *r = &workers[c].log[i];
            uint64_t *last = &last_start[VALUE_PRODUCER(r->value)][VALUE_LEVEL(r->value)];
            *last = r->start > *last ? r->start : *last;
            total++;
        }
    uint64_t running = 0;
    for (uint32_t level = 0; level < LEVELS; level++) {
        better_any[level] = running;
        for (uint32_t p = 0; p < count; p++)
            running = last_start[p][level] > running ? last_start[p][level] : running;
    }
    for (uint32_t p = 0; p < count; p++) {
        running = 0;
        for (uint32_t level = 0; level < LEVELS; level++) {
            better_shard[p][level] = running;
            running = last_start[p][level] > running ? last_start[p][level] : running;
        }
    }
    struct record *all = calloc(total, sizeof(*all));
    uint32_t n = 0;
    for (uint32_t c = 0; c < count; c++)
        for (uint32_t i = 0; i < workers[c].removed; i++) {
            struct record *r = &workers[c].log[i];
            uint32_t level = VALUE_LEVEL(r->value);
            uint64_t better =
                r->local ? better_shard[VALUE_PRODUCER(r->value)][level] : better_any[level];
            assert_true(better < r->end);
            all[n++] = *r;
        }
    for (uint32_t p = 0; p < count; p++)
        for (uint32_t level = 0; level < LEVELS; level++) {
            uint32_t k = 0;
            for (uint32_t i = 0; i < n; i++)
                if (VALUE_PRODUCER(all[i].value) == p && VALUE_LEVEL(all[i].value) == level) {
                    struct record swap = all[k]; /* move the group to the front */
                    all[k++] = all[i];
                    all[i] = swap;
                }
            qsort(all, k, sizeof(*all), record_by_seq);
            uint64_t max_start = 0;
            for (uint32_t i = 0; i < k; i++) {
                assert_true(i == 0 || all[i].end > max_start);
                if (all[i].start > max_start)
                    max_start = all[i].start;
            }
        }
    free(all);
}

static void
test_history_linearizable(void **state)
{
    (void)state;
    void *mem;
    uint32_t capacity = 4096;
    while (capacity < per_thread / 4) /* all fill items of a level must fit */
        capacity <<= 1;
    struct shared shared = { .pq = pq_make(capacity, 0, &mem) };
    struct worker workers[THREADS];
    uint32_t log_max = PER_THREAD * THREADS;
    for (uint32_t i = 0; i < THREADS; i++)
        workers[i] = (struct worker){ .shared = &shared,
                                      .id = i,
                                      .log = calloc(log_max, sizeof(struct record)) };
    run_threads(workers, THREADS, fill_main);
    uint32_t inserted[THREADS];
    for (uint32_t i = 0; i < THREADS; i++)
        inserted[i] = workers[i].inserted;
    atomic_store(&shared.go, 0);
    run_threads(workers, THREADS, drain_main);
    for (uint32_t i = 0; i < THREADS; i++)
        workers[i].inserted = inserted[i];
    check_exactly_once(workers, THREADS);
    check_linearizable(workers, THREADS);
    for (uint32_t i = 0; i < THREADS; i++)
        free(workers[i].log);
    free(ubc_pq_delete(mem));
}

static void *
ager_main(void *arg)
{
    struct worker *w = arg;
    struct shared *s = w->shared;
    uint64_t now = 0;
    while (atomic_load(&s->producers_done) < THREADS) {
        struct ubc_pq_item spill;
        int spilled;
        ubc_pq_age(s->pq, now, 64, &spill, &spilled);
        if (spilled)
            w->log[w->removed++].value = spill.value;
        now += 10;
    }
    return NULL;
}

static void *
mixed_aged_main(void *arg)
{
    struct worker *w = arg;
    mixed_main(arg);
    atomic_fetch_add(&w->shared->producers_done, 1);
    return NULL;
}

static void
test_aging_concurrent(void **state)
{
    (void)state;
    void *mem;
    struct shared shared = { .pq = pq_make(256, 5, &mem) };
    struct worker workers[THREADS + 1];
    uint32_t log_max = PER_THREAD * THREADS;
    for (uint32_t i = 0; i <= THREADS; i++)
        workers[i] = (struct worker){ .shared = &shared,
                                      .id = i,
                                      .log = calloc(log_max, sizeof(struct record)) };
    pthread_t ager;
    assert_int_equal(pthread_create(&ager, NULL, ager_main, &workers[THREADS]), 0);
    run_threads(workers, THREADS, mixed_aged_main);
    assert_int_equal(pthread_join(ager, NULL), 0);
    /* spilled items count as removed by worker 0 */
    for (uint32_t i = 0; i < workers[THREADS].removed; i++)
        workers[0].log[workers[0].removed++] = workers[THREADS].log[i];
    drain_into(&workers[0], log_max);
    check_exactly_once(workers, THREADS);
    for (uint32_t i = 0; i <= THREADS; i++)
        free(workers[i].log);
    free(ubc_pq_delete(mem));
}

/* The same checks on a queue of 4 shards (one per thread): default removes
 * (local, global every 4th) in the mixed stress; local and global removes
 * on recorded histories. */
static void
test_sharded_mixed_stress(void **state)
{
    pq_shards = THREADS, pq_period = 4;
    test_mixed_stress(state);
    pq_shards = 1, pq_period = 1;
}

static void
test_sharded_history(void **state)
{
    pq_shards = THREADS, pq_period = 4;
    test_history_linearizable(state);
    pq_shards = 1, pq_period = 1;
}

static void
test_sharded_aging_concurrent(void **state)
{
    pq_shards = 2, pq_period = 3;
    test_aging_concurrent(state);
    pq_shards = 1, pq_period = 1;
}

/* ubc_pq_insert_burst (one summary update per word) and
 * ubc_pq_remove_burst with 4 threads: exactly once, per-level FIFO; on 1
 * shard and on 4 shards with the relaxed default remove. */
static void
test_burst_mixed_stress(void **state)
{
    pq_burst = 8;
    test_mixed_stress(state);
    pq_shards = THREADS, pq_period = 4;
    test_mixed_stress(state);
    pq_shards = 1, pq_period = 1, pq_burst = 0;
}

int
main(void)
{
    const char *scale = getenv("UBC_TEST_SCALE");
    if (scale != NULL && atoi(scale) > 1 && atoi(scale) <= 1000)
        per_thread *= (uint32_t)atoi(scale);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mixed_stress),       cmocka_unit_test(test_history_linearizable),
        cmocka_unit_test(test_aging_concurrent),   cmocka_unit_test(test_sharded_mixed_stress),
        cmocka_unit_test(test_sharded_history),    cmocka_unit_test(test_sharded_aging_concurrent),
        cmocka_unit_test(test_burst_mixed_stress),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
