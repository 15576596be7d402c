/* bench_main.c: ubc_sched_bench <pq|place|latency|failover>. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "perf/scheduler/bench.h"

/* Large blocks are 2 MiB aligned and asked for transparent huge pages (as
 * ubcd's DPDK memory would be): the queue, the heap and the pool all get
 * them, so no subject pays TLB misses the others do not. */
void *
bench_alloc(size_t bytes)
{
    size_t align = bytes >= (4u << 20) ? (2u << 20) : 64u;
    size_t rounded = (bytes + align - 1) & ~(align - 1);
    void *mem = aligned_alloc(align, rounded);
    if (mem == NULL) {
        fprintf(stderr, "ubc_sched_bench: out of memory (%zu bytes)\n", bytes);
        exit(1);
    }
    if (align > 64u)
        (void)madvise(mem, rounded, MADV_HUGEPAGE);
    memset(mem, 0, bytes);
    return mem;
}

int
main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } harnesses[] = { { "pq", bench_pq },
                      { "place", bench_place },
                      { "latency", bench_latency },
                      { "failover", bench_failover } };
    if (argc >= 2)
        for (size_t i = 0; i < sizeof(harnesses) / sizeof(harnesses[0]); i++)
            if (strcmp(argv[1], harnesses[i].name) == 0)
                return harnesses[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "usage: ubc_sched_bench pq|place|latency|failover\n"
                    "  UBC_BENCH_QUICK=1 for a smoke run, UBC_BENCH_OUT=file for JSON Lines\n");
    return 2;
}
