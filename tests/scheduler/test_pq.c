/* test_pq.c: sequential semantics of ubc_pq (suite fast). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "scheduler/ubc_pq.h"

/* Every test runs twice: default (multi-thread) mode, then
 * UBC_PQ_FLAG_SINGLE_THREAD, whose results must be the same. */
static uint32_t pq_flags;

static struct ubc_pq *
pq_make(uint32_t bands, uint32_t capacity, uint64_t aging_ns, void **mem_out)
{
    struct ubc_pq_params params = {
        .band_count = bands, .level_capacity = capacity, .aging_ns = aging_ns, .flags = pq_flags
    };
    size_t bytes = ubc_pq_footprint(&params);
    assert_true(bytes > 0);
    void *mem = aligned_alloc(ubc_pq_align(), (bytes + 63) & ~(size_t)63);
    assert_non_null(mem);
    assert_ptr_equal(ubc_pq_new(mem, &params), mem);
    struct ubc_pq *pq = ubc_pq_join(mem);
    assert_non_null(pq);
    *mem_out = mem;
    return pq;
}

static void
pq_free(struct ubc_pq *pq, void *mem)
{
    ubc_pq_leave(pq);
    assert_ptr_equal(ubc_pq_delete(mem), mem);
    assert_null(ubc_pq_join(mem));
    free(mem);
}

static void
test_params(void **state)
{
    (void)state;
    struct ubc_pq_params p = { .band_count = 3, .level_capacity = 8 };
    assert_int_equal(ubc_pq_footprint(&p), 0);
    p.band_count = 128;
    assert_int_equal(ubc_pq_footprint(&p), 0);
    p.band_count = 4;
    p.level_capacity = 6;
    assert_int_equal(ubc_pq_footprint(&p), 0);
    p.level_capacity = 1;
    assert_int_equal(ubc_pq_footprint(&p), 0);
    assert_int_equal(ubc_pq_footprint(NULL), 0);
    p.level_capacity = 8;
    assert_true(ubc_pq_footprint(&p) > 0);
    p.flags = 2; /* unknown flag */
    assert_int_equal(ubc_pq_footprint(&p), 0);
    p.flags = UBC_PQ_FLAG_SINGLE_THREAD;
    assert_true(ubc_pq_footprint(&p) > 0);
    char junk[128] __attribute__((aligned(64))) = { 0 };
    assert_null(ubc_pq_join(junk));
    assert_null(ubc_pq_new(junk + 1, &p));
}

/* Class first, then band (higher priority first), then arrival. */
static void
test_order(void **state)
{
    (void)state;
    void *mem;
    struct ubc_pq *pq = pq_make(4, 64, 0, &mem);
    /* band = priority >> 14 with 4 bands */
    uint64_t seq = 0;
    struct {
        uint32_t qos_class;
        uint16_t priority;
    } inputs[] = { { 3, 100 }, { 0, 0 },   { 3, 65535 }, { 0, 65535 }, { 7, 40000 },
                   { 0, 0 },   { 3, 100 }, { 0, 16384 }, { 0, 16383 } };
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++)
        assert_int_equal(ubc_pq_insert(pq, inputs[i].qos_class, inputs[i].priority, seq++, 0),
                         UBC_OK);
    /* expected removal order by input index */
    uint64_t expected[] = { 3, 7, 1, 5, 8, 2, 0, 6, 4 };
    for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
        struct ubc_pq_item item;
        assert_int_equal(ubc_pq_remove(pq, &item), 1);
        assert_int_equal(item.value, expected[i]);
        assert_int_equal(item.qos_class, inputs[expected[i]].qos_class);
        assert_int_equal(item.band, inputs[expected[i]].priority >> 14);
    }
    struct ubc_pq_item item;
    assert_int_equal(ubc_pq_remove(pq, &item), 0);
    assert_int_equal(ubc_pq_insert(pq, 8, 0, 1, 0), UBC_ERR_MALFORMED);
    pq_free(pq, mem);
}

static void
test_full_and_wrap(void **state)
{
    (void)state;
    void *mem;
    struct ubc_pq *pq = pq_make(1, 4, 0, &mem);
    for (uint64_t lap = 0; lap < 5; lap++) {
        for (uint64_t i = 0; i < 4; i++)
            assert_int_equal(ubc_pq_insert(pq, 2, 7, lap * 10 + i, 0), UBC_OK);
        assert_int_equal(ubc_pq_insert(pq, 2, 7, 99, 0), UBC_ERR_QUEUE_FULL);
        /* other levels are independent */
        assert_int_equal(ubc_pq_insert(pq, 1, 7, 50, 0), UBC_OK);
        assert_int_equal(ubc_pq_depth(pq, 2), 4);
        struct ubc_pq_item item;
        assert_int_equal(ubc_pq_remove(pq, &item), 1);
        assert_int_equal(item.value, 50);
        for (uint64_t i = 0; i < 4; i++) {
            assert_int_equal(ubc_pq_remove(pq, &item), 1);
            assert_int_equal(item.value, lap * 10 + i);
        }
        assert_int_equal(ubc_pq_remove(pq, &item), 0);
        assert_int_equal(ubc_pq_depth(pq, 2), 0);
    }
    pq_free(pq, mem);
}

static void
test_remove_from(void **state)
{
    (void)state;
    void *mem;
    struct ubc_pq *pq = pq_make(2, 8, 0, &mem);
    assert_int_equal(ubc_pq_insert(pq, 0, 0, 10, 0), UBC_OK);
    assert_int_equal(ubc_pq_insert(pq, 5, 0, 11, 0), UBC_OK);
    assert_int_equal(ubc_pq_insert(pq, 6, 65535, 12, 0), UBC_OK);
    struct ubc_pq_item item;
    assert_int_equal(ubc_pq_remove_from(pq, 6, &item), 1);
    assert_int_equal(item.value, 12);
    assert_int_equal(ubc_pq_remove_from(pq, 6, &item), 0);
    assert_int_equal(ubc_pq_remove_from(pq, 1, &item), 1);
    assert_int_equal(item.value, 11);
    assert_int_equal(ubc_pq_remove_from(pq, 9, &item), 0);
    assert_int_equal(ubc_pq_remove(pq, &item), 1);
    assert_int_equal(item.value, 10);
    pq_free(pq, mem);
}

/* A low-priority item overtakes newer high-priority ones after waiting
 * aging_ns per band: nothing starves within a class. */
static void
test_aging(void **state)
{
    (void)state;
    void *mem;
    struct ubc_pq *pq = pq_make(4, 16, 1000, &mem);
    struct ubc_pq_item spill;
    int spilled;
    assert_int_equal(ubc_pq_insert(pq, 1, 0, 1, 0), UBC_OK); /* band 0 at t=0 */
    assert_int_equal(ubc_pq_age(pq, 999, 100, &spill, &spilled), 0);
    assert_int_equal(ubc_pq_age(pq, 1000, 100, &spill, &spilled), 1); /* -> band 1 */
    assert_int_equal(spilled, 0);
    assert_int_equal(ubc_pq_age(pq, 1500, 100, &spill, &spilled), 0);
    assert_int_equal(ubc_pq_age(pq, 2000, 100, &spill, &spilled), 1); /* -> band 2 */
    assert_int_equal(ubc_pq_insert(pq, 1, 65535, 2, 2000), UBC_OK);   /* band 3 */
    assert_int_equal(ubc_pq_age(pq, 3000, 100, &spill, &spilled), 1); /* -> band 3 */
    assert_int_equal(ubc_pq_insert(pq, 1, 65535, 3, 3000), UBC_OK);
    assert_int_equal(ubc_pq_age(pq, 9000, 100, &spill, &spilled), 0); /* top band stays */
    struct ubc_pq_item item;
    uint64_t expected[] = { 2, 1, 3 };
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ubc_pq_remove(pq, &item), 1);
        assert_int_equal(item.value, expected[i]);
        assert_int_equal(item.band, 3);
    }
    /* budget bounds a sweep */
    for (uint64_t i = 0; i < 10; i++)
        assert_int_equal(ubc_pq_insert(pq, 4, 0, 100 + i, 10000), UBC_OK);
    assert_int_equal(ubc_pq_age(pq, 11000, 3, &spill, &spilled), 3);
    assert_int_equal(ubc_pq_age(pq, 11000, 100, &spill, &spilled), 7);
    for (uint64_t i = 0; i < 10; i++) {
        assert_int_equal(ubc_pq_remove(pq, &item), 1);
        assert_int_equal(item.value, 100 + i);
        assert_int_equal(item.band, 1);
    }
    pq_free(pq, mem);
}

/* Random operations against a sorted reference model. */
static void
test_model(void **state)
{
    (void)state;
    void *mem;
    struct ubc_pq *pq = pq_make(8, 256, 0, &mem);
    enum { MODEL_MAX = 4096 };
    static uint64_t keys[MODEL_MAX];
    uint32_t count = 0;
    uint64_t rng = 12345, seq = 0;
    for (int step = 0; step < 200000; step++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t r = (uint32_t)(rng >> 33);
        if ((r & 3) != 0 && count < MODEL_MAX) {
            uint32_t qos_class = (r >> 2) & 7;
            uint16_t priority = (uint16_t)(r >> 5);
            uint32_t level = qos_class * 8 + (7 - (priority >> 13));
            uint64_t key = ((uint64_t)level << 40) | seq;
            int rc = ubc_pq_insert(pq, qos_class, priority, key, 0);
            if (rc == UBC_ERR_QUEUE_FULL)
                continue;
            assert_int_equal(rc, UBC_OK);
            keys[count++] = key;
            seq++;
        } else {
            struct ubc_pq_item item;
            int got = ubc_pq_remove(pq, &item);
            if (count == 0) {
                assert_int_equal(got, 0);
                continue;
            }
            uint32_t best = 0;
            for (uint32_t i = 1; i < count; i++)
                if (keys[i] < keys[best])
                    best = i;
            assert_int_equal(got, 1);
            assert_int_equal(item.value, keys[best]);
            keys[best] = keys[--count];
        }
    }
    pq_free(pq, mem);
}

static struct ubc_pq *
pq_make_sharded(uint32_t shards, uint32_t period, uint32_t capacity, void **mem_out)
{
    struct ubc_pq_params params = { .band_count = 8,
                                    .level_capacity = capacity,
                                    .shard_count = shards,
                                    .global_period = period,
                                    .flags = pq_flags };
    size_t bytes = ubc_pq_footprint(&params);
    assert_true(bytes > 0);
    void *mem = aligned_alloc(ubc_pq_align(), (bytes + 63) & ~(size_t)63);
    assert_non_null(mem);
    assert_non_null(ubc_pq_new(mem, &params));
    *mem_out = mem;
    return ubc_pq_join(mem);
}

static void
test_shard_params(void **state)
{
    (void)state;
    struct ubc_pq_params p = { .band_count = 4, .level_capacity = 8, .shard_count = 3 };
    assert_int_equal(ubc_pq_footprint(&p), 0);
    p.shard_count = 32;
    assert_int_equal(ubc_pq_footprint(&p), 0);
    p.shard_count = 16;
    size_t sixteen = ubc_pq_footprint(&p);
    p.shard_count = 1;
    assert_true(sixteen > 8 * ubc_pq_footprint(&p));
    p.shard_count = 0; /* 0 means 1 */
    assert_int_equal(ubc_pq_footprint(&p),
                     ubc_pq_footprint(&(struct ubc_pq_params){
                         .band_count = 4, .level_capacity = 8, .shard_count = 1 }));
    void *mem;
    struct ubc_pq *pq = pq_make_sharded(4, 1, 8, &mem);
    assert_int_equal(ubc_pq_shard_count(pq), 4);
    assert_true(ubc_pq_shard_self(pq) < 4);
    assert_int_equal(ubc_pq_insert_at(pq, 4, 0, 0, 1, 0), UBC_ERR_MALFORMED);
    struct ubc_pq_item item;
    assert_int_equal(ubc_pq_remove_at(pq, 0, 8, &item), 0);
    assert_int_equal(ubc_pq_remove_local(pq, 0, 8, &item), 0);
    pq_free(pq, mem);
}

/* Default remove with global_period P: local removes take the home shard's
 * best, every P-th call is global; a home shard with nothing visible falls
 * back to a global remove, so no item is stranded in another shard. */
static void
test_shard_relaxed_bound(void **state)
{
    (void)state;
    enum { PERIOD = 4 };
    void *mem;
    struct ubc_pq *pq = pq_make_sharded(2, PERIOD, 256, &mem);
    uint32_t home = ubc_pq_shard_self(pq), other = home ^ 1u;
    for (uint64_t i = 0; i < 40; i++) {
        assert_int_equal(ubc_pq_insert_at(pq, home, 7, 0, 1000 + i, 0), UBC_OK);
        assert_int_equal(ubc_pq_insert_at(pq, other, 0, 65535, i, 0), UBC_OK);
    }
    uint32_t since_best = 0, best_taken = 0, home_taken = 0;
    struct ubc_pq_item item;
    for (int i = 0; i < 40; i++) {
        assert_int_equal(ubc_pq_remove(pq, &item), 1);
        if (item.qos_class == 0) {
            assert_int_equal(item.value, best_taken++); /* FIFO inside the shard */
            since_best = 0;
        } else {
            assert_int_equal(item.value, 1000 + home_taken++);
            assert_true(++since_best < PERIOD); /* the bound: P-1 in a row at most */
        }
    }
    assert_int_equal(best_taken, 10);
    /* home drained: every remove now finds the other shard's items */
    while (home_taken < 40) {
        assert_int_equal(ubc_pq_remove_local(pq, home, 0, &item), 1);
        if (item.qos_class == 7)
            home_taken++;
        else
            best_taken++;
    }
    while (best_taken < 40) {
        assert_int_equal(ubc_pq_remove_local(pq, home, 0, &item), 1);
        assert_int_equal(item.value, best_taken++);
    }
    assert_int_equal(ubc_pq_remove(pq, &item), 0);
    pq_free(pq, mem);
}

/* Random operations on 4 shards against per-shard sorted models: every
 * remove returns the head of its shard, which is the global best level for
 * global removes (ubc_pq_remove_at, and every 3rd default remove) and the
 * home shard's best for local ones. */
enum { SHARDS_MODEL = 4, SHARD_MODEL_MAX = 1024 };
static uint64_t shard_keys[SHARDS_MODEL][SHARD_MODEL_MAX];
static uint32_t shard_counts[SHARDS_MODEL];

static uint32_t
shard_model_best(uint32_t shard)
{
    uint32_t best = 0;
    for (uint32_t i = 1; i < shard_counts[shard]; i++)
        if (shard_keys[shard][i] < shard_keys[shard][best])
            best = i;
    return best;
}

/* Checks a removed item against the models; returns 1 when its level was the
 * global best. */
static int
shard_model_take(uint64_t value)
{
    uint32_t shard = (uint32_t)(value >> 56), global_level = UINT32_MAX;
    assert_true(shard < SHARDS_MODEL && shard_counts[shard] > 0);
    for (uint32_t s = 0; s < SHARDS_MODEL; s++)
        if (shard_counts[s] > 0) {
            uint32_t level = (uint32_t)(shard_keys[s][shard_model_best(s)] >> 40) & 0xffff;
            global_level = level < global_level ? level : global_level;
        }
    uint32_t best = shard_model_best(shard);
    assert_int_equal(shard_keys[shard][best], value);
    shard_keys[shard][best] = shard_keys[shard][--shard_counts[shard]];
    return ((value >> 40) & 0xffff) == global_level;
}

static void
test_shard_model(void **state)
{
    (void)state;
    void *mem;
    struct ubc_pq *pq = pq_make_sharded(SHARDS_MODEL, 3, 256, &mem);
    memset(shard_counts, 0, sizeof(shard_counts)); /* the group runs twice */
    uint32_t home = ubc_pq_shard_self(pq), not_best_run = 0;
    uint64_t rng = 777, seq = 0;
    for (int step = 0; step < 100000; step++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t r = (uint32_t)(rng >> 33), shard = (r >> 20) & (SHARDS_MODEL - 1);
        if ((r & 3) != 0 && shard_counts[shard] < SHARD_MODEL_MAX) {
            uint32_t qos_class = (r >> 2) & 7;
            uint16_t priority = (uint16_t)(r >> 5);
            uint64_t level = qos_class * 8 + (7 - (priority >> 13));
            uint64_t key = (uint64_t)shard << 56 | level << 40 | seq;
            if (ubc_pq_insert_at(pq, shard, qos_class, priority, key, 0) != UBC_OK)
                continue;
            shard_keys[shard][shard_counts[shard]++] = key;
            seq++;
            continue;
        }
        struct ubc_pq_item item;
        int global = (r & 4) != 0;
        int got = global ? ubc_pq_remove_at(pq, r >> 8, 0, &item) : ubc_pq_remove(pq, &item);
        uint32_t total = 0;
        for (uint32_t s = 0; s < SHARDS_MODEL; s++)
            total += shard_counts[s];
        assert_int_equal(got, total > 0);
        if (!got)
            continue;
        int best = shard_model_take(item.value);
        assert_true(best || (!global && (uint32_t)(item.value >> 56) == home));
        not_best_run = best ? 0 : not_best_run + !global;
        assert_true(not_best_run < 3);
    }
    pq_free(pq, mem);
}

/* Bursts against the sorted model: insert_burst stops at the first full
 * level (and returns how many went in), remove_burst returns what that
 * many removes would, in order. */
static void
test_burst_model(void **state)
{
    (void)state;
    void *mem;
    struct ubc_pq *pq = pq_make(8, 64, 0, &mem);
    enum { MODEL_MAX = 8192 };
    static uint64_t keys[MODEL_MAX];
    uint32_t count = 0;
    uint64_t rng = 99, seq = 0;
    for (int step = 0; step < 20000; step++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t r = (uint32_t)(rng >> 33), n = 1 + (r >> 20) % 24;
        if ((r & 1) != 0) {
            struct ubc_pq_entry entries[24];
            for (uint32_t k = 0; k < n; k++) {
                rng = rng * 6364136223846793005ull + 1442695040888963407ull;
                uint32_t e = (uint32_t)(rng >> 33);
                entries[k].qos_class = (e >> 2) & 7;
                entries[k].priority = (uint16_t)(e >> 5);
                uint64_t level = entries[k].qos_class * 8 + (7 - (entries[k].priority >> 13));
                entries[k].value = level << 40 | (seq + k);
            }
            if ((r & 2) != 0)
                entries[n - 1].qos_class = 8; /* malformed: stops there */
            uint32_t done = ubc_pq_insert_burst(pq, entries, n, 0);
            assert_true(done <= n - ((r & 2) != 0));
            if (done < n && entries[done].qos_class < 8)
                assert_int_equal(
                    ubc_pq_insert(pq, entries[done].qos_class, entries[done].priority, 0, 0),
                    UBC_ERR_QUEUE_FULL);
            for (uint32_t k = 0; k < done; k++)
                keys[count++] = entries[k].value;
            seq += n;
        } else {
            struct ubc_pq_item items[24];
            uint32_t got = ubc_pq_remove_burst(pq, 0, items, n);
            assert_int_equal(got, count < n ? count : n);
            for (uint32_t k = 0; k < got; k++) {
                uint32_t best = 0;
                for (uint32_t i = 1; i < count; i++)
                    if (keys[i] < keys[best])
                        best = i;
                assert_int_equal(items[k].value, keys[best]);
                keys[best] = keys[--count];
            }
        }
        assert_true(count + 24 <= MODEL_MAX);
    }
    pq_free(pq, mem);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params),        cmocka_unit_test(test_order),
        cmocka_unit_test(test_full_and_wrap), cmocka_unit_test(test_remove_from),
        cmocka_unit_test(test_aging),         cmocka_unit_test(test_model),
        cmocka_unit_test(test_shard_params),  cmocka_unit_test(test_shard_relaxed_bound),
        cmocka_unit_test(test_shard_model),   cmocka_unit_test(test_burst_model),
    };
    int failed = cmocka_run_group_tests_name("pq_multi_thread_mode", tests, NULL, NULL);
    pq_flags = UBC_PQ_FLAG_SINGLE_THREAD;
    return failed + cmocka_run_group_tests_name("pq_single_thread_mode", tests, NULL, NULL);
}
