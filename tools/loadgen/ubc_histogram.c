/* ubc_histogram.c: logarithmic latency buckets (see .h). */
#include "tools/loadgen/ubc_histogram.h"

#include <string.h>

#include "common/ubc_assert.h"

void
ubc_histogram_init(struct ubc_histogram *histogram)
{
    memset(histogram, 0, sizeof(*histogram));
    histogram->min = UINT64_MAX;
}

/* Magnitude m > 0 holds [2^(m-1+SUB_BITS), 2^(m+SUB_BITS)) in SUB_COUNT
 * buckets of width 2^(m-1): the top SUB_BITS+1 bits of a value pick its
 * bucket, which is why the relative width is at most 2^-SUB_BITS. */
uint32_t
ubc_histogram_bucket(uint64_t value)
{
    if (value < UBC_HISTOGRAM_SUB_COUNT)
        return (uint32_t)value;
    uint32_t top_bit = 63u - (uint32_t)__builtin_clzll(value);
    uint32_t magnitude = top_bit - UBC_HISTOGRAM_SUB_BITS + 1u;
    uint32_t mantissa = (uint32_t)(value >> (magnitude - 1u)) - UBC_HISTOGRAM_SUB_COUNT;
    UBC_ASSERT(mantissa < UBC_HISTOGRAM_SUB_COUNT);
    uint32_t bucket = magnitude * UBC_HISTOGRAM_SUB_COUNT + mantissa;
    UBC_ASSERT(bucket < UBC_HISTOGRAM_BUCKETS);
    return bucket;
}

uint64_t
ubc_histogram_bucket_low(uint32_t bucket)
{
    UBC_ASSERT(bucket < UBC_HISTOGRAM_BUCKETS);
    uint32_t magnitude = bucket / UBC_HISTOGRAM_SUB_COUNT;
    uint64_t mantissa = bucket % UBC_HISTOGRAM_SUB_COUNT;
    if (magnitude == 0)
        return mantissa;
    return (UBC_HISTOGRAM_SUB_COUNT + mantissa) << (magnitude - 1u);
}

uint64_t
ubc_histogram_bucket_high(uint32_t bucket)
{
    uint32_t magnitude = bucket / UBC_HISTOGRAM_SUB_COUNT;
    if (magnitude == 0)
        return ubc_histogram_bucket_low(bucket);
    return ubc_histogram_bucket_low(bucket) + ((1ull << (magnitude - 1u)) - 1u);
}

void
ubc_histogram_record(struct ubc_histogram *histogram, uint64_t value)
{
    histogram->buckets[ubc_histogram_bucket(value)]++;
    histogram->count++;
    uint64_t sum = histogram->sum + value;
    histogram->sum = sum < value ? UINT64_MAX : sum;
    if (value < histogram->min)
        histogram->min = value;
    if (value > histogram->max)
        histogram->max = value;
}

uint64_t
ubc_histogram_percentile(const struct ubc_histogram *histogram, double p)
{
    if (histogram->count == 0)
        return 0;
    if (p <= 0.0)
        return histogram->min;
    if (p >= 100.0)
        return histogram->max;
    /* Nearest rank: the smallest value with at least ceil(p% of count) values at or below. */
    double exact = p / 100.0 * (double)histogram->count;
    uint64_t rank = (uint64_t)exact;
    if ((double)rank < exact)
        rank++;
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (uint32_t bucket = 0; bucket < UBC_HISTOGRAM_BUCKETS; bucket++) {
        seen += histogram->buckets[bucket];
        if (seen >= rank) {
            uint64_t high = ubc_histogram_bucket_high(bucket);
            return high < histogram->max ? high : histogram->max;
        }
    }
    UBC_ASSERT(0 && "bucket counts sum to count");
    return histogram->max;
}

double
ubc_histogram_mean(const struct ubc_histogram *histogram)
{
    return histogram->count ? (double)histogram->sum / (double)histogram->count : 0.0;
}

void
ubc_histogram_merge(struct ubc_histogram *into, const struct ubc_histogram *from)
{
    for (uint32_t bucket = 0; bucket < UBC_HISTOGRAM_BUCKETS; bucket++)
        into->buckets[bucket] += from->buckets[bucket];
    into->count += from->count;
    uint64_t sum = into->sum + from->sum;
    into->sum = sum < from->sum ? UINT64_MAX : sum;
    if (from->min < into->min)
        into->min = from->min;
    if (from->max > into->max)
        into->max = from->max;
}
