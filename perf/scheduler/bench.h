/* bench.h: shared pieces of the scheduler perf harness (ubc_sched_bench).
 * One executable, one subcommand per harness: pq, place, latency, failover.
 * Each writes JSON Lines through ubc_bench_emit (common/ubc_bench.h) and
 * honours UBC_BENCH_QUICK=1. Single-threaded except where a harness
 * starts its own worker threads (pq). */
#ifndef UBC_SCHED_BENCH_H
#define UBC_SCHED_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "common/ubc_bench.h"

int bench_pq(int argc, char **argv);
int bench_place(int argc, char **argv);
int bench_latency(int argc, char **argv);
int bench_failover(int argc, char **argv);

void *bench_alloc(size_t bytes); /* 64-byte aligned, zeroed; exits on failure */

static inline uint64_t
bench_rng(uint64_t *state)
{
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * 0x2545f4914f6cdd1dull;
}

#endif /* UBC_SCHED_BENCH_H */
