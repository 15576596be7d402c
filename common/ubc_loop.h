/* ubc_loop.h: the one run loop every lcore runs, over one or more roles.
 *
 * Contract: a role is a set of callbacks over its own context. The loop
 * calls each role's poll() in turn (round robin, one call per role per
 * iteration); a poll() does a bounded amount of work (one burst) and returns
 * how many items it handled, so no role can starve another on a shared
 * lcore. Every housekeeping_us the loop calls each role's housekeep().
 *
 * When a whole iteration did no work, the loop backs off: it spins with a
 * pause instruction for idle_spins iterations, then sleeps in steps that
 * double from sleep_us_min to sleep_us_max, and it measures how late each
 * sleep wakes (the wake-up cost) in its stats. busy_poll disables the back
 * off for dedicated production cores.
 *
 * Stopping: when *stop becomes non-zero the loop keeps polling until every
 * role's drained() says it holds nothing in flight, or drain_ms passes, then
 * returns. One thread runs a loop; its stats are written by that thread only
 * and read by the control thread (torn reads of single counters are
 * impossible on x86-64: each is one aligned 64-bit word).
 */
#ifndef UBC_LOOP_H
#define UBC_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#define UBC_LOOP_ROLES_MAX 8

struct ubc_role_ops {
    const char *name;
    void *ctx;
    /* One bounded burst of work; returns the number of items handled. */
    uint32_t (*poll)(void *ctx, uint64_t now_tsc);
    /* Periodic work: timers, counters publication. May be NULL. */
    void (*housekeep)(void *ctx, uint64_t now_tsc);
    /* True when the role holds nothing in flight. NULL means always. */
    bool (*drained)(void *ctx);
};

struct ubc_role_stats {
    uint64_t polls;      /* calls of poll() */
    uint64_t busy_polls; /* calls that returned > 0 */
    uint64_t items;      /* sum of poll() results */
    uint64_t housekeeps;
    uint64_t busy_cycles; /* TSC cycles spent in busy polls */
} __attribute__((aligned(64)));

struct ubc_loop_stats {
    uint64_t iterations;
    uint64_t idle_iterations;
    uint64_t sleeps;
    uint64_t sleep_ns_requested;
    uint64_t sleep_ns_actual;
    uint64_t wake_late_ns_total; /* oversleep summed over sleeps: the wake-up cost */
    uint64_t wake_late_ns_max;   /* worst oversleep */
    uint64_t sleeps_interrupted; /* woke early (a signal): not counted as late */
} __attribute__((aligned(64)));

struct ubc_loop_config {
    bool busy_poll;
    uint32_t idle_spins;   /* idle iterations before the first sleep */
    uint32_t sleep_us_min; /* first sleep */
    uint32_t sleep_us_max; /* sleeps double up to this */
    uint32_t housekeeping_us;
    uint32_t drain_ms; /* bound on the drain at stop */
    uint64_t tsc_hz;
};

struct ubc_loop {
    struct ubc_loop_config config;
    uint32_t lcore_id;
    uint32_t role_count;
    struct ubc_role_ops roles[UBC_LOOP_ROLES_MAX];
    struct ubc_role_stats role_stats[UBC_LOOP_ROLES_MAX];
    struct ubc_loop_stats stats;
    const int *stop; /* read with atomic loads: another thread sets it */
};

/* Validates a loop config; returns 0 or -EINVAL. */
int ubc_loop_config_check(const struct ubc_loop_config *config);

/* Prepares a loop with no roles. config must pass ubc_loop_config_check. */
void ubc_loop_init(struct ubc_loop *loop, const struct ubc_loop_config *config, uint32_t lcore_id,
                   const int *stop);

/* Adds a role; returns its index, or -ENOSPC when the loop is full. */
int ubc_loop_add_role(struct ubc_loop *loop, const struct ubc_role_ops *ops);

/* Runs until *stop and drained (or drain_ms passed). Returns 0, or
 * -ETIMEDOUT when the drain did not finish in time. */
int ubc_loop_run(struct ubc_loop *loop);

/* One iteration: polls every role once, housekeeps when due. Returns the
 * items handled. Exposed for tests and for callers that own their loop. */
uint64_t ubc_loop_iterate(struct ubc_loop *loop, uint64_t now_tsc, uint64_t *next_housekeep_tsc);

#endif /* UBC_LOOP_H */
