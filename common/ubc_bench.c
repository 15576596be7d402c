/* ubc_bench.c: JSON Lines writer for perf results (see ubc_bench.h). */
#include "common/ubc_bench.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ubc_assert.h"

int
ubc_bench_param_num(struct ubc_bench_result *r, const char *key, double v)
{
    UBC_ASSERT(r != NULL && key != NULL);
    if (r->param_count >= UBC_BENCH_PARAMS_MAX)
        return -1;
    r->params[r->param_count++] = (struct ubc_bench_param){ .key = key, .value = v };
    return 0;
}

int
ubc_bench_param_text(struct ubc_bench_result *r, const char *key, const char *v)
{
    UBC_ASSERT(r != NULL && key != NULL && v != NULL);
    if (r->param_count >= UBC_BENCH_PARAMS_MAX)
        return -1;
    r->params[r->param_count++] = (struct ubc_bench_param){ .key = key, .text = v };
    return 0;
}

static void
bench_write_number(FILE *f, double v)
{
    /* JSON has no NaN or infinity: a broken measurement becomes null. */
    if (isfinite(v))
        fprintf(f, "%.6g", v);
    else
        fputs("null", f);
}

static void
bench_write_json(FILE *f, const struct ubc_bench_result *r, double ratio)
{
    fprintf(f, "{\"harness\":\"%s\",\"metric\":\"%s\",\"value\":", r->harness, r->metric);
    bench_write_number(f, r->value);
    fprintf(f, ",\"unit\":\"%s\",\"params\":{", r->unit);
    for (uint32_t i = 0; i < r->param_count; i++) {
        const struct ubc_bench_param *p = &r->params[i];
        fprintf(f, "%s\"%s\":", i ? "," : "", p->key);
        if (p->text != NULL)
            fprintf(f, "\"%s\"", p->text);
        else
            bench_write_number(f, p->value);
    }
    fputs("},\"baseline\":", f);
    if (r->baseline != NULL) {
        fprintf(f, "\"%s\",\"baseline_value\":", r->baseline);
        bench_write_number(f, r->baseline_value);
        fputs(",\"ratio\":", f);
        bench_write_number(f, ratio);
    } else {
        fputs("null,\"baseline_value\":null,\"ratio\":null", f);
    }
    fprintf(f, ",\"samples\":%u}\n", r->samples);
}

int
ubc_bench_emit(const struct ubc_bench_result *r)
{
    UBC_ASSERT(r != NULL && r->harness != NULL && r->metric != NULL && r->unit != NULL);
    double ratio = NAN;
    if (r->baseline != NULL && r->value > 0 && r->baseline_value > 0)
        ratio = r->lower_is_better ? r->baseline_value / r->value : r->value / r->baseline_value;

    const char *path = getenv("UBC_BENCH_OUT");
    FILE *f = stdout;
    if (path != NULL && path[0] != '\0') {
        f = fopen(path, "a");
        if (f == NULL)
            return -errno;
    }
    bench_write_json(f, r, ratio);
    int rc = 0;
    if (f != stdout) {
        if (fclose(f) != 0)
            rc = -errno;
    } else {
        fflush(f);
    }

    fprintf(stderr, "%-10s %-28s %14.4g %-8s", r->harness, r->metric, r->value, r->unit);
    if (r->baseline != NULL)
        fprintf(stderr, "  %s=%.4g  ratio=%.2fx", r->baseline, r->baseline_value, ratio);
    fputc('\n', stderr);
    return rc;
}

static int
bench_compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double
ubc_bench_percentile(double *samples, size_t n, double p)
{
    UBC_ASSERT(samples != NULL && n > 0 && p >= 0 && p <= 100);
    qsort(samples, n, sizeof(samples[0]), bench_compare_double);
    size_t rank = (size_t)ceil(p / 100.0 * (double)n);
    if (rank == 0)
        rank = 1;
    return samples[rank - 1];
}

double
ubc_bench_median(double *samples, size_t n)
{
    UBC_ASSERT(samples != NULL && n > 0);
    qsort(samples, n, sizeof(samples[0]), bench_compare_double);
    if (n % 2 == 1)
        return samples[n / 2];
    return (samples[n / 2 - 1] + samples[n / 2]) / 2.0;
}

int
ubc_bench_quick(void)
{
    const char *q = getenv("UBC_BENCH_QUICK");
    return q != NULL && strcmp(q, "0") != 0 && q[0] != '\0';
}
