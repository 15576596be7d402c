/* ubc_loop.c: the per-lcore run loop (see ubc_loop.h). */
#include "common/ubc_loop.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_pause.h>

#include "common/ubc_assert.h"

int
ubc_loop_config_check(const struct ubc_loop_config *config)
{
    if (config->tsc_hz == 0 || config->housekeeping_us == 0)
        return -EINVAL;
    if (config->sleep_us_min == 0 || config->sleep_us_max < config->sleep_us_min)
        return -EINVAL;
    if (config->sleep_us_max > 100000) /* a sleeping role must still react within 0.1 s */
        return -EINVAL;
    return 0;
}

void
ubc_loop_init(struct ubc_loop *loop, const struct ubc_loop_config *config, uint32_t lcore_id,
              const int *stop)
{
    UBC_ASSERT(loop != NULL && config != NULL && stop != NULL);
    UBC_ASSERT(ubc_loop_config_check(config) == 0);
    memset(loop, 0, sizeof(*loop));
    loop->config = *config;
    loop->lcore_id = lcore_id;
    loop->stop = stop;
}

int
ubc_loop_add_role(struct ubc_loop *loop, const struct ubc_role_ops *ops)
{
    UBC_ASSERT(loop != NULL && ops != NULL && ops->poll != NULL && ops->name != NULL);
    if (loop->role_count >= UBC_LOOP_ROLES_MAX)
        return -ENOSPC;
    loop->roles[loop->role_count] = *ops;
    return (int)loop->role_count++;
}

uint64_t
ubc_loop_iterate(struct ubc_loop *loop, uint64_t now_tsc, uint64_t *next_housekeep_tsc)
{
    uint64_t items = 0;
    for (uint32_t i = 0; i < loop->role_count; i++) {
        struct ubc_role_ops *role = &loop->roles[i];
        struct ubc_role_stats *stats = &loop->role_stats[i];
        uint64_t start = rte_rdtsc();
        uint32_t done = role->poll(role->ctx, now_tsc);
        stats->polls++;
        if (done > 0) {
            stats->busy_polls++;
            stats->items += done;
            stats->busy_cycles += rte_rdtsc() - start;
            items += done;
        }
    }
    if (now_tsc >= *next_housekeep_tsc) {
        for (uint32_t i = 0; i < loop->role_count; i++) {
            if (loop->roles[i].housekeep != NULL) {
                loop->roles[i].housekeep(loop->roles[i].ctx, now_tsc);
                loop->role_stats[i].housekeeps++;
            }
        }
        *next_housekeep_tsc =
            now_tsc + loop->config.housekeeping_us * loop->config.tsc_hz / 1000000;
    }
    loop->stats.iterations++;
    return items;
}

static bool
loop_all_drained(const struct ubc_loop *loop)
{
    for (uint32_t i = 0; i < loop->role_count; i++) {
        const struct ubc_role_ops *role = &loop->roles[i];
        if (role->drained != NULL && !role->drained(role->ctx))
            return false;
    }
    return true;
}

static uint64_t
loop_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Sleeps sleep_us and records how late the thread woke: on a shared core the
 * wake-up cost is what an idle role pays when work arrives. */
static void
loop_sleep(struct ubc_loop *loop, uint32_t sleep_us)
{
    struct timespec request = { .tv_sec = 0, .tv_nsec = (long)sleep_us * 1000 };
    uint64_t before = loop_now_ns();
    nanosleep(&request, NULL);
    uint64_t slept = loop_now_ns() - before;
    uint64_t wanted = (uint64_t)sleep_us * 1000;
    loop->stats.sleeps++;
    loop->stats.sleep_ns_requested += wanted;
    loop->stats.sleep_ns_actual += slept;
    if (slept < wanted) {
        loop->stats.sleeps_interrupted++;
        return;
    }
    loop->stats.wake_late_ns_total += slept - wanted;
    if (slept - wanted > loop->stats.wake_late_ns_max)
        loop->stats.wake_late_ns_max = slept - wanted;
}

/* Idle back off: pause for idle_spins iterations, then sleeps that double. */
static void
loop_idle(struct ubc_loop *loop, uint32_t idle_run, uint32_t *sleep_us)
{
    loop->stats.idle_iterations++;
    if (loop->config.busy_poll || idle_run < loop->config.idle_spins) {
        rte_pause();
        return;
    }
    loop_sleep(loop, *sleep_us);
    *sleep_us *= 2;
    if (*sleep_us > loop->config.sleep_us_max)
        *sleep_us = loop->config.sleep_us_max;
}

int
ubc_loop_run(struct ubc_loop *loop)
{
    UBC_ASSERT(loop != NULL && loop->role_count > 0);
    uint64_t next_housekeep = 0;
    uint64_t drain_deadline = 0;
    uint32_t idle_run = 0;
    uint32_t sleep_us = loop->config.sleep_us_min;
    for (;;) {
        uint64_t now = rte_rdtsc();
        uint64_t items = ubc_loop_iterate(loop, now, &next_housekeep);
        if (__atomic_load_n(loop->stop, __ATOMIC_ACQUIRE)) {
            if (drain_deadline == 0)
                drain_deadline = now + (uint64_t)loop->config.drain_ms * loop->config.tsc_hz / 1000;
            if (items == 0 && loop_all_drained(loop))
                return 0;
            if (now > drain_deadline)
                return -ETIMEDOUT;
        }
        if (items > 0) {
            idle_run = 0;
            sleep_us = loop->config.sleep_us_min;
            continue;
        }
        idle_run = idle_run < UINT32_MAX ? idle_run + 1 : idle_run;
        loop_idle(loop, idle_run, &sleep_us);
    }
}
