/* test_place.c: the id map, the provider pool index and placement policies
 * (suite fast). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "scheduler/ubc_map.h"
#include "scheduler/ubc_place.h"
#include "scheduler/ubc_pool.h"

static void *
mem_alloc(size_t bytes)
{
    void *mem = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    assert_non_null(mem);
    return mem;
}

static void
test_map_model(void **state)
{
    (void)state;
    enum { MAX = 1000, KEYS = 3000 };
    void *mem = mem_alloc(ubc_map_footprint(MAX));
    struct ubc_map *map = ubc_map_join(ubc_map_new(mem, MAX, 42));
    assert_non_null(map);
    static uint32_t model[KEYS];
    memset(model, 0xff, sizeof(model));
    uint32_t count = 0;
    uint64_t rng = 7;
    for (int step = 0; step < 200000; step++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t key = (uint32_t)(rng >> 33) % KEYS;
        uint64_t map_key = (uint64_t)key * 0x10001; /* keys clustered on purpose */
        if ((rng >> 20) & 1) {
            int rc = ubc_map_put(map, map_key, key + 1);
            if (model[key] != UINT32_MAX)
                assert_int_equal(rc, -17 /* EEXIST */);
            else if (count == MAX)
                assert_int_equal(rc, -28 /* ENOSPC */);
            else {
                assert_int_equal(rc, 0);
                model[key] = key + 1;
                count++;
            }
        } else {
            int rc = ubc_map_remove(map, map_key);
            assert_int_equal(rc, model[key] == UINT32_MAX ? -2 /* ENOENT */ : 0);
            if (model[key] != UINT32_MAX)
                count--;
            model[key] = UINT32_MAX;
        }
        uint32_t probe = (uint32_t)(rng >> 40) % KEYS;
        assert_int_equal(ubc_map_get(map, (uint64_t)probe * 0x10001),
                         model[probe] == UINT32_MAX ? UBC_MAP_NONE : model[probe]);
        assert_int_equal(ubc_map_count(map), count);
    }
    assert_int_equal(ubc_map_footprint(0), 0);
    free(ubc_map_delete(mem));
}

static struct ubc_pool *
pool_make(uint32_t max, uint32_t k, uint32_t scan_max, void **mem_out)
{
    struct ubc_pool_params params = {
        .max_providers = max, .sample_k = k, .scan_max = scan_max, .seed = 9
    };
    void *mem = mem_alloc(ubc_pool_footprint(&params));
    struct ubc_pool *pool = ubc_pool_join(ubc_pool_new(mem, &params));
    assert_non_null(pool);
    *mem_out = mem;
    return pool;
}

static uint32_t
add(struct ubc_pool *pool, uint64_t id, uint64_t op, uint32_t cpu, uint32_t mem, uint64_t price)
{
    struct ubc_provider_register reg = { .provider_id = id,
                                         .operator_id = op,
                                         .capacity = { .cpu_millis = cpu, .mem_mib = mem },
                                         .price_per_task = price,
                                         .labels = 1 };
    uint32_t index;
    assert_int_equal(ubc_pool_add(pool, &reg, 0, &index), UBC_OK);
    return index;
}

static void
test_pool_basics(void **state)
{
    (void)state;
    void *mem;
    struct ubc_pool *pool = pool_make(4, 2, 16, &mem);
    struct ubc_provider_register reg = { .provider_id = 1, .capacity = { 1000, 1000, 0, 0 } };
    uint32_t index;
    assert_int_equal(ubc_pool_add(pool, &reg, 0, &index), UBC_OK);
    assert_int_equal(ubc_pool_add(pool, &reg, 0, &index), UBC_ERR_DUPLICATE);
    reg.provider_id = 0;
    assert_int_equal(ubc_pool_add(pool, &reg, 0, &index), UBC_ERR_MALFORMED);
    reg.provider_id = 5;
    reg.capacity.gpu_count = 2; /* GPUs without a class */
    assert_int_equal(ubc_pool_add(pool, &reg, 0, &index), UBC_ERR_MALFORMED);
    reg.capacity.gpu_count = 0;
    for (uint64_t id = 2; id <= 4; id++) {
        reg.provider_id = id;
        assert_int_equal(ubc_pool_add(pool, &reg, 0, &index), UBC_OK);
    }
    reg.provider_id = 9;
    assert_int_equal(ubc_pool_add(pool, &reg, 0, &index), UBC_ERR_OVERLOADED);
    assert_int_equal(ubc_pool_count(pool), 4);
    uint32_t two = ubc_pool_find(pool, 2);
    assert_int_not_equal(two, UBC_POOL_NONE);
    ubc_pool_remove(pool, two);
    assert_int_equal(ubc_pool_find(pool, 2), UBC_POOL_NONE);
    assert_int_equal(ubc_pool_add(pool, &reg, 0, &index), UBC_OK);
    assert_int_equal(index, two);
    assert_int_equal(ubc_pool_cpu_class(0), 0);
    assert_int_equal(ubc_pool_cpu_class(1), 1);
    assert_int_equal(ubc_pool_cpu_class(1024), 11);
    assert_int_equal(ubc_pool_cpu_class(UINT32_MAX), 32);
    free(ubc_pool_delete(mem));
}

static void
test_policies(void **state)
{
    (void)state;
    void *mem;
    struct ubc_pool *pool = pool_make(16, 4, 64, &mem);
    uint32_t small = add(pool, 1, 1, 1500, 4096, 30);
    uint32_t medium = add(pool, 2, 2, 3000, 4096, 20);
    uint32_t large = add(pool, 3, 3, 64000, 65536, 10);
    struct ubc_place_request req = { .demand = { 1000, 1024, 0, 0 },
                                     .labels = 1,
                                     .bid_per_task = 100,
                                     .policy = UBC_POLICY_BINPACK };
    struct ubc_place_exclude none = { 0 };
    enum ubc_place_reason reason;
    assert_int_equal(ubc_place_one(pool, &req, &none, &reason), small);
    req.policy = UBC_POLICY_SPREAD;
    assert_int_equal(ubc_place_one(pool, &req, &none, &reason), large);
    req.policy = UBC_POLICY_PRICE;
    assert_int_equal(ubc_place_one(pool, &req, &none, &reason), large);
    req.bid_per_task = 25; /* large is cheapest anyway; exclude it */
    struct ubc_place_exclude ex = { .count = 1, .providers = { large }, .operators = { 3 } };
    assert_int_equal(ubc_place_one(pool, &req, &ex, &reason), medium);
    req.bid_per_task = 5;
    assert_int_equal(ubc_place_one(pool, &req, &none, &reason), UBC_POOL_NONE);
    assert_int_equal(reason, UBC_PLACE_PRICE);
    req.bid_per_task = 100;
    req.labels = 2;
    assert_int_equal(ubc_place_one(pool, &req, &none, &reason), UBC_POOL_NONE);
    assert_int_equal(reason, UBC_PLACE_LABELS);
    req.labels = 1;
    req.policy = UBC_POLICY_REPUTATION;
    ubc_pool_get(pool, medium)->reputation = UBC_REPUTATION_ONE;
    assert_int_equal(ubc_place_one(pool, &req, &none, &reason), medium);
    /* unhealthy providers are not candidates */
    ubc_pool_set_health(pool, medium, UBC_HEALTH_SUSPECT);
    assert_int_not_equal(ubc_place_one(pool, &req, &none, &reason), medium);
    ubc_pool_set_health(pool, medium, UBC_HEALTH_UP);
    assert_int_equal(ubc_place_one(pool, &req, &none, &reason), medium);
    req.demand.cpu_millis = 100000;
    assert_int_equal(ubc_place_one(pool, &req, &none, &reason), UBC_POOL_NONE);
    assert_int_equal(reason, UBC_PLACE_NO_CAPACITY);
    free(ubc_pool_delete(mem));
}

static void
test_gpu(void **state)
{
    (void)state;
    void *mem;
    struct ubc_pool *pool = pool_make(16, 2, 64, &mem);
    uint32_t cpu_only = add(pool, 1, 1, 8000, 8192, 1);
    struct ubc_provider_register reg = { .provider_id = 2,
                                         .operator_id = 2,
                                         .capacity = { 8000, 8192, 4, 3 } };
    uint32_t gpu3, gpu10;
    assert_int_equal(ubc_pool_add(pool, &reg, 0, &gpu3), UBC_OK);
    reg.provider_id = 3;
    reg.capacity.gpu_class = 10; /* same group as class 3 (1 + 9 % 7 = 3) */
    assert_int_equal(ubc_pool_add(pool, &reg, 0, &gpu10), UBC_OK);
    struct ubc_place_request req = { .demand = { 1000, 1024, 0, 0 },
                                     .bid_per_task = 10,
                                     .policy = UBC_POLICY_SPREAD };
    struct ubc_place_exclude none = { 0 };
    enum ubc_place_reason reason;
    assert_int_equal(ubc_place_one(pool, &req, &none, &reason), cpu_only);
    req.demand.gpu_count = 2;
    req.demand.gpu_class = 10;
    assert_int_equal(ubc_place_one(pool, &req, &none, &reason), gpu10);
    req.demand.gpu_class = 3;
    assert_int_equal(ubc_place_one(pool, &req, &none, &reason), gpu3);
    req.demand.gpu_count = 5;
    assert_int_equal(ubc_place_one(pool, &req, &none, &reason), UBC_POOL_NONE);
    req.demand.gpu_count = 4;
    req.demand.gpu_class = 0; /* any class */
    uint32_t any = ubc_place_one(pool, &req, &none, &reason);
    assert_true(any == gpu3 || any == gpu10);
    free(ubc_pool_delete(mem));
}

static void
test_gang_all_or_nothing(void **state)
{
    (void)state;
    void *mem;
    struct ubc_pool *pool = pool_make(16, 2, 64, &mem);
    /* operators: 1, 1, 2, 3 -> at most 3 distinct operators */
    uint32_t idx[4] = { add(pool, 1, 1, 4000, 4096, 1), add(pool, 2, 1, 4000, 4096, 1),
                        add(pool, 3, 2, 4000, 4096, 1), add(pool, 4, 3, 4000, 4096, 1) };
    struct ubc_place_request req = { .demand = { 1000, 1024, 0, 0 },
                                     .bid_per_task = 10,
                                     .policy = UBC_POLICY_SPREAD };
    uint32_t out[64];
    assert_int_equal(ubc_place_gang(pool, &req, 2, 4, out), UBC_PLACE_AFFINITY);
    for (int i = 0; i < 4; i++)
        assert_int_equal(ubc_pool_get(pool, idx[i])->free.cpu_millis, 4000);
    assert_int_equal(ubc_place_gang(pool, &req, 4, 3, out), UBC_PLACE_OK);
    for (uint32_t t = 0; t < 4; t++) {
        uint64_t ops[3];
        for (uint32_t r = 0; r < 3; r++)
            ops[r] = ubc_pool_get(pool, out[t * 3 + r])->operator_id;
        assert_true(ops[0] != ops[1] && ops[1] != ops[2] && ops[0] != ops[2]);
    }
    uint64_t used = 0;
    for (int i = 0; i < 4; i++)
        used += 4000 - ubc_pool_get(pool, idx[i])->free.cpu_millis;
    assert_int_equal(used, 12000);
    /* too big a gang: 16 - 12 = 4 CPUs left, needs 6 */
    assert_int_not_equal(ubc_place_gang(pool, &req, 3, 2, out), UBC_PLACE_OK);
    used = 0;
    for (int i = 0; i < 4; i++)
        used += 4000 - ubc_pool_get(pool, idx[i])->free.cpu_millis;
    assert_int_equal(used, 12000);
    free(ubc_pool_delete(mem));
}

/* With scan_max above the pool size a failure means no provider fits; a
 * success never over-commits. Checked against a linear scan. */
static void
test_index_matches_scan(void **state)
{
    (void)state;
    enum { N = 300 };
    void *mem;
    struct ubc_pool *pool = pool_make(N, 3, 4096, &mem);
    uint64_t rng = 99;
    for (uint32_t i = 0; i < N; i++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        add(pool, i + 1, i % 17, 500 + (uint32_t)(rng >> 33) % 64000,
            512 + (uint32_t)(rng >> 20) % 65536, 1);
    }
    static uint32_t placed[20000];
    static struct ubc_resources demands[20000];
    uint32_t n = 0;
    for (int step = 0; step < 20000; step++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        struct ubc_place_request req = { .demand = { 100 + (uint32_t)(rng >> 33) % 8000,
                                                     64 + (uint32_t)(rng >> 45) % 8192 },
                                         .bid_per_task = 10,
                                         .policy = (uint8_t)(1 + (rng >> 30) % 4) };
        if (((rng >> 12) & 3) == 0 && n > 0) {
            uint32_t victim = (uint32_t)(rng >> 35) % n;
            ubc_pool_release(pool, placed[victim], &demands[victim]);
            placed[victim] = placed[--n];
            demands[victim] = demands[n];
            continue;
        }
        struct ubc_place_exclude none = { 0 };
        enum ubc_place_reason reason;
        uint32_t index = ubc_place_one(pool, &req, &none, &reason);
        if (index == UBC_POOL_NONE) {
            for (uint32_t i = 0; i < N; i++) {
                const struct ubc_provider *p = ubc_pool_get(pool, i);
                assert_false(p->free.cpu_millis >= req.demand.cpu_millis &&
                             p->free.mem_mib >= req.demand.mem_mib);
            }
            continue;
        }
        ubc_pool_reserve(pool, index, &req.demand);
        placed[n] = index;
        demands[n++] = req.demand;
    }
    assert_true(n > 1000);
    free(ubc_pool_delete(mem));
}

/* The bucket order against the records: every up provider is a member of
 * exactly the bucket its GPU group and free CPU class name, at the position
 * it records; no other provider is a member; class masks match. */
static void
bucket_order_check(const struct ubc_pool *pool, uint32_t max)
{
    uint32_t members_total = 0, up = 0;
    for (uint32_t b = 0; b < UBC_POOL_BUCKETS; b++) {
        uint32_t count = ubc_pool_bucket_count(pool, b);
        const uint32_t *members = ubc_pool_bucket_members(pool, b);
        uint32_t group = b / UBC_POOL_CPU_CLASSES, cpu_class = b % UBC_POOL_CPU_CLASSES;
        assert_int_equal((ubc_pool_class_mask(pool, group) >> cpu_class) & 1, count > 0);
        for (uint32_t i = 0; i < count; i++) {
            const struct ubc_provider *p = ubc_pool_get_const(pool, members[i]);
            assert_true(p->in_use && p->health == UBC_HEALTH_UP && p->bucket == b);
            assert_int_equal(ubc_pool_gpu_group(p->capacity.gpu_count, p->capacity.gpu_class),
                             group);
            assert_int_equal(ubc_pool_cpu_class(p->free.cpu_millis), cpu_class);
            /* positions are consecutive: the record's back-reference holds */
            assert_int_equal(p->bucket_pos, ubc_pool_get_const(pool, members[0])->bucket_pos + i);
        }
        members_total += count;
    }
    for (uint32_t i = 0; i < max; i++) {
        const struct ubc_provider *p = ubc_pool_get_const(pool, i);
        up += p->in_use && p->health == UBC_HEALTH_UP;
    }
    assert_int_equal(members_total, up);
}

static void
test_bucket_order_model(void **state)
{
    (void)state;
    enum { N = 64 };
    void *mem;
    struct ubc_pool *pool = pool_make(N, 2, 64, &mem);
    static struct ubc_resources held[N][8];
    static uint32_t held_count[N];
    uint64_t rng = 4242, next_id = 1;
    for (int step = 0; step < 20000; step++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t r = (uint32_t)(rng >> 33), i = r % N, op = (r >> 8) % 8;
        struct ubc_provider *p = ubc_pool_get(pool, i);
        if (!p->in_use) {
            uint16_t gpus = (r >> 12) % 4 == 0 ? (uint16_t)(1 + (r >> 14) % 4) : 0;
            struct ubc_provider_register reg = { .provider_id = next_id++,
                                                 .capacity = { 1000u << ((r >> 16) % 8), 4096, gpus,
                                                               gpus ? (uint16_t)(1 + (r >> 20) % 9)
                                                                    : 0 } };
            uint32_t index;
            assert_int_equal(ubc_pool_add(pool, &reg, 0, &index), UBC_OK);
        } else if (op <= 2 && held_count[i] < 8) {
            struct ubc_resources d = { 1 + (r >> 12) % 2000, 1, 0, 0 };
            if (p->free.cpu_millis >= d.cpu_millis && p->free.mem_mib >= d.mem_mib) {
                ubc_pool_reserve(pool, i, &d);
                held[i][held_count[i]++] = d;
            }
        } else if (op <= 4 && held_count[i] > 0) {
            ubc_pool_release(pool, i, &held[i][--held_count[i]]);
        } else if (op == 5) {
            ubc_pool_set_health(pool, i, (enum ubc_health)((r >> 12) % 4));
        } else if (op == 6 && held_count[i] == 0) {
            ubc_pool_remove(pool, i);
        }
        bucket_order_check(pool, N);
    }
    free(ubc_pool_delete(mem));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_model),
        cmocka_unit_test(test_pool_basics),
        cmocka_unit_test(test_policies),
        cmocka_unit_test(test_gpu),
        cmocka_unit_test(test_gang_all_or_nothing),
        cmocka_unit_test(test_index_matches_scan),
        cmocka_unit_test(test_bucket_order_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
