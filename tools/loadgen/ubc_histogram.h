/* ubc_histogram.h: a latency histogram with logarithmic buckets (the
 * HdrHistogram layout), fixed size, for the load generator.
 *
 * Contract: a histogram is a plain struct of fixed size (about 60 KiB): the
 * caller owns it (static, stack or memory allocated at start-up) and calls
 * ubc_histogram_init() once; recording never allocates, never fails and costs
 * a count-leading-zeros and an increment. Not thread-safe: one writer; merge
 * per-thread histograms with ubc_histogram_merge(). Values are unsigned
 * integers in any unit (the load generator records nanoseconds).
 *
 * Precision: values below 2^UBC_HISTOGRAM_SUB_BITS are exact; above, a value
 * lands in a bucket whose width is at most 2^-UBC_HISTOGRAM_SUB_BITS (0.78 %)
 * of its lower bound, and percentiles report the bucket's highest value, so a
 * reported percentile is never below the true one and at most 0.78 % above.
 */
#ifndef UBC_HISTOGRAM_H
#define UBC_HISTOGRAM_H

#include <stdint.h>

#define UBC_HISTOGRAM_SUB_BITS 7u
#define UBC_HISTOGRAM_SUB_COUNT (1u << UBC_HISTOGRAM_SUB_BITS)
/* Magnitude 0 holds the exact values; magnitudes 1..64-SUB_BITS the rest. */
#define UBC_HISTOGRAM_BUCKETS ((65u - UBC_HISTOGRAM_SUB_BITS) * UBC_HISTOGRAM_SUB_COUNT)

struct ubc_histogram {
    uint64_t count;
    uint64_t sum; /* saturates at UINT64_MAX */
    uint64_t min;
    uint64_t max;
    uint64_t buckets[UBC_HISTOGRAM_BUCKETS];
};

void ubc_histogram_init(struct ubc_histogram *histogram);

/* The bucket a value falls in, and the lowest and highest value of a bucket. */
uint32_t ubc_histogram_bucket(uint64_t value);
uint64_t ubc_histogram_bucket_low(uint32_t bucket);
uint64_t ubc_histogram_bucket_high(uint32_t bucket);

void ubc_histogram_record(struct ubc_histogram *histogram, uint64_t value);

/* The value at percentile p in [0, 100] (nearest rank, p = 0 gives the
 * minimum, p = 100 the maximum), reported as the highest value of its bucket
 * but never above the recorded maximum. 0 when the histogram is empty. */
uint64_t ubc_histogram_percentile(const struct ubc_histogram *histogram, double p);

double ubc_histogram_mean(const struct ubc_histogram *histogram);

/* into += from. */
void ubc_histogram_merge(struct ubc_histogram *into, const struct ubc_histogram *from);

#endif /* UBC_HISTOGRAM_H */
