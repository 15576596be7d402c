/* ubc_time.h: clocks for code that must not depend on DPDK (libraries, tools,
 * tests). Roles inside ubcd use the TSC through rte_rdtsc(); libraries take
 * "now" as an argument so that tests and the simulator can drive time.
 *
 * Any thread may call these; they do not allocate and do not block.
 */
#ifndef UBC_TIME_H
#define UBC_TIME_H

#include <stdint.h>
#include <time.h>

static inline uint64_t
ubc_time_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t
ubc_time_realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Nanoseconds in `cycles` of a clock at `hz`; split so that cycles * 1e9
 * cannot overflow (it would after ~6 s at 3 GHz). */
static inline uint64_t
ubc_time_cycles_to_ns(uint64_t cycles, uint64_t hz)
{
    return cycles / hz * 1000000000ull + cycles % hz * 1000000000ull / hz;
}

#endif /* UBC_TIME_H */
