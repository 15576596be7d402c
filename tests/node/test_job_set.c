/* test_job_set.c: the set of unfinished acknowledged jobs survives
 * finishing, compaction and a snapshot round trip, and refuses (counts)
 * what does not fit. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "node/ubc_job_set.h"
#include "node/ubc_role_disk.h"

static struct ubc_job_set *
set_create(uint32_t capacity, void **memory)
{
    *memory = aligned_alloc(64, ubc_job_set_footprint(capacity));
    assert_non_null(*memory);
    return ubc_job_set_new(*memory, capacity);
}

static struct ubc_job_submit
job(uint64_t id)
{
    struct ubc_job_submit j = { .job_id = id, .task_count = 1, .redundancy = 1 };
    j.owner[0] = (uint8_t)id;
    return j;
}

static void
count_live(void *ctx, const struct ubc_job_submit *j)
{
    uint64_t *sum = ctx;
    sum[0]++;
    sum[1] += j->job_id;
    assert_int_equal(j->owner[0], (uint8_t)j->job_id);
}

/* Jobs 1..n submitted, the even ones finished: the odd ones remain, through
 * compaction and through a snapshot loaded into a second set. */
static void
test_finish_compact_snapshot(void **state)
{
    (void)state;
    enum { N = 3000 };
    void *m1, *m2;
    struct ubc_job_set *set = set_create(N, &m1);
    for (uint64_t id = 1; id <= N; id++) {
        struct ubc_job_submit j = job(id * 7919); /* spread over the table */
        assert_int_equal(ubc_job_set_record(set, UBC_RECORD_JOB_SUBMIT, &j, sizeof(j)), 0);
    }
    for (uint64_t id = 2; id <= N; id += 2) {
        struct ubc_record_job_done done = { .job_id = id * 7919 };
        ubc_job_set_record(set, UBC_RECORD_JOB_DONE, &done, sizeof(done));
    }
    assert_int_equal(set->live, N / 2);
    ubc_job_set_compact(set);
    assert_int_equal(set->used, N / 2);
    /* Every live job is still found: finishing it again changes live. */
    for (uint64_t id = 1; id <= N; id += 2) {
        ubc_job_set_finish(set, id * 7919);
        struct ubc_job_submit j = job(id * 7919);
        assert_int_equal(ubc_job_set_submit(set, &j), 0);
    }
    assert_int_equal(set->live, N / 2);
    size_t cap = sizeof(struct ubc_job_set_snapshot_header) + N * sizeof(struct ubc_job_submit);
    void *blob = malloc(cap);
    size_t bytes = ubc_job_set_snapshot(set, blob, cap);
    assert_true(bytes > 0);
    struct ubc_job_set *copy = set_create(N, &m2);
    assert_int_equal(ubc_job_set_load(copy, blob, bytes), 0);
    uint64_t a[2] = { 0, 0 }, b[2] = { 0, 0 };
    ubc_job_set_each_live(set, count_live, a);
    ubc_job_set_each_live(copy, count_live, b);
    assert_int_equal(a[0], N / 2);
    assert_memory_equal(a, b, sizeof(a));
    /* A damaged blob is refused, not trusted. */
    assert_int_equal(ubc_job_set_load(copy, blob, bytes - 1), -EINVAL);
    ((uint8_t *)blob)[0] ^= 1;
    assert_int_equal(ubc_job_set_load(copy, blob, bytes), -EINVAL);
    assert_int_equal(ubc_job_set_snapshot(set, blob, 8), 0);
    free(blob);
    free(m1);
    free(m2);
}

static void
test_full_and_other_records(void **state)
{
    (void)state;
    void *memory;
    struct ubc_job_set *set = set_create(10, &memory);
    uint32_t accepted = 0;
    for (uint64_t id = 1; id <= 100; id++) {
        struct ubc_job_submit j = job(id);
        if (ubc_job_set_submit(set, &j) == 0)
            accepted++;
    }
    assert_int_equal(accepted, set->used_max);
    assert_int_equal(set->overflows, 100 - accepted);
    uint8_t other[16] = { 0 };
    assert_int_equal(ubc_job_set_record(set, 0x77, other, sizeof(other)), 0);
    assert_int_equal(ubc_job_set_record(set, UBC_RECORD_JOB_SUBMIT, other, sizeof(other)), 0);
    assert_int_equal(ubc_job_set_footprint(0), 0);
    free(memory);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_finish_compact_snapshot),
        cmocka_unit_test(test_full_and_other_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
