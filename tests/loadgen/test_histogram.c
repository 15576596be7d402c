/* test_histogram: the load generator's logarithmic latency buckets against
 * exact percentiles of the same samples (tools/loadgen/ubc_histogram.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tools/loadgen/ubc_histogram.h"

static struct ubc_histogram histogram;
static struct ubc_histogram other;

/* Every value lies in its bucket, buckets tile the range without gaps, and
 * each is at most 2^-SUB_BITS of its lower bound wide. */
static void
test_buckets_tile(void **state)
{
    (void)state;
    for (uint32_t b = 0; b + 1 < UBC_HISTOGRAM_BUCKETS; b++) {
        assert_int_equal(ubc_histogram_bucket_high(b) + 1, ubc_histogram_bucket_low(b + 1));
        uint64_t low = ubc_histogram_bucket_low(b);
        uint64_t width = ubc_histogram_bucket_high(b) - low + 1;
        assert_true(low < UBC_HISTOGRAM_SUB_COUNT || width * UBC_HISTOGRAM_SUB_COUNT <= low);
        assert_int_equal(ubc_histogram_bucket(low), b);
        assert_int_equal(ubc_histogram_bucket(ubc_histogram_bucket_high(b)), b);
    }
    assert_int_equal(ubc_histogram_bucket(UINT64_MAX), UBC_HISTOGRAM_BUCKETS - 1);
    assert_int_equal(ubc_histogram_bucket_high(UBC_HISTOGRAM_BUCKETS - 1), UINT64_MAX);
    assert_int_equal(ubc_histogram_bucket(0), 0);
}

static int
compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Percentiles of a skewed random sample: never below the exact nearest-rank
 * value, at most 0.78 % above it. */
static void
test_percentiles_match_exact(void **state)
{
    (void)state;
    enum { N = 100000 };
    static uint64_t values[N];
    uint64_t seed = 42;
    ubc_histogram_init(&histogram);
    for (int i = 0; i < N; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t r = seed >> 33;
        values[i] = (r % 1000) * (r % 1000) * (1 + r % 7) + r % 50; /* 0 .. ~7e6, long tail */
        ubc_histogram_record(&histogram, values[i]);
    }
    qsort(values, N, sizeof(values[0]), compare_u64);
    static const double points[] = { 1, 10, 50, 90, 99, 99.9, 99.99 };
    for (size_t i = 0; i < sizeof(points) / sizeof(points[0]); i++) {
        size_t rank = (size_t)(points[i] / 100.0 * N + 0.999999);
        uint64_t exact = values[rank - 1];
        uint64_t got = ubc_histogram_percentile(&histogram, points[i]);
        assert_true(got >= exact);
        assert_true((double)(got - exact) <= (double)exact / UBC_HISTOGRAM_SUB_COUNT + 1);
    }
    assert_int_equal(ubc_histogram_percentile(&histogram, 0), values[0]);
    assert_int_equal(ubc_histogram_percentile(&histogram, 100), values[N - 1]);
    assert_int_equal(histogram.count, N);
}

static void
test_empty_small_and_merge(void **state)
{
    (void)state;
    ubc_histogram_init(&histogram);
    assert_int_equal(ubc_histogram_percentile(&histogram, 50), 0);
    for (uint64_t v = 1; v <= 100; v++)
        ubc_histogram_record(&histogram, v); /* below SUB_COUNT: exact */
    assert_int_equal(ubc_histogram_percentile(&histogram, 50), 50);
    assert_int_equal(ubc_histogram_percentile(&histogram, 99), 99);
    assert_true(ubc_histogram_mean(&histogram) > 50.49 && ubc_histogram_mean(&histogram) < 50.51);
    ubc_histogram_init(&other);
    ubc_histogram_record(&other, 1000000);
    ubc_histogram_record(&other, UINT64_MAX);
    ubc_histogram_merge(&histogram, &other);
    assert_int_equal(histogram.count, 102);
    assert_int_equal(histogram.max, UINT64_MAX);
    assert_int_equal(histogram.min, 1);
    assert_int_equal(histogram.sum, UINT64_MAX); /* saturated, not wrapped */
    assert_int_equal(ubc_histogram_percentile(&histogram, 100), UINT64_MAX);
    uint64_t p99 = ubc_histogram_percentile(&histogram, 99);
    assert_true(p99 >= 1000000 && p99 <= 1000000 + 1000000 / UBC_HISTOGRAM_SUB_COUNT);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buckets_tile),
        cmocka_unit_test(test_percentiles_match_exact),
        cmocka_unit_test(test_empty_small_and_merge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
