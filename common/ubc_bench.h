/* ubc_bench.h: the one result schema every perf/ harness writes.
 *
 * A harness measures a subject and its baseline in the same run, repeats
 * each measurement, and reports medians. Each result is one JSON object on
 * one line (JSON Lines), appended to the file named by the environment
 * variable UBC_BENCH_OUT (or printed to stdout when it is unset):
 *
 *   {"harness":"pq","metric":"pairs_per_s","value":1.2e7,"unit":"ops/s",
 *    "params":{"threads":2,"prefill":1000000},"baseline":"mutex_heap",
 *    "baseline_value":4.0e6,"ratio":3.0,"samples":5}
 *
 * ratio = value / baseline_value for "higher is better" units and
 * baseline_value / value for "lower is better" units (latency, seconds), so
 * a ratio above 1 always means the subject wins. docs/performance.md
 * documents the schema. Called from one thread of a harness; not for ubcd.
 */
#ifndef UBC_BENCH_H
#define UBC_BENCH_H

#include <stddef.h>
#include <stdint.h>

#define UBC_BENCH_PARAMS_MAX 8

struct ubc_bench_param {
    const char *key;
    double value;     /* numeric parameter, used when text is NULL */
    const char *text; /* text parameter, or NULL */
};

struct ubc_bench_result {
    const char *harness;
    const char *metric;
    double value;
    const char *unit;
    int lower_is_better;  /* latency-like metrics */
    const char *baseline; /* NULL when the metric has no baseline */
    double baseline_value;
    uint32_t samples;
    uint32_t param_count;
    struct ubc_bench_param params[UBC_BENCH_PARAMS_MAX];
};

/* Adds a numeric or text parameter; returns 0, or -1 when params are full. */
int ubc_bench_param_num(struct ubc_bench_result *r, const char *key, double v);
int ubc_bench_param_text(struct ubc_bench_result *r, const char *key, const char *v);

/* Writes the result as one JSON line and a human line on stderr.
 * Returns 0, or a negative errno when the output file cannot be written. */
int ubc_bench_emit(const struct ubc_bench_result *r);

/* Median of n samples; sorts the array in place. n must be > 0. */
double ubc_bench_median(double *samples, size_t n);

/* Percentile p in [0,100] of n samples (nearest rank); sorts in place. */
double ubc_bench_percentile(double *samples, size_t n, double p);

/* Quick mode (UBC_BENCH_QUICK=1): harnesses shrink sizes and repetitions so
 * that the whole perf suite can run as a smoke test in `make test`. */
int ubc_bench_quick(void);

#endif /* UBC_BENCH_H */
