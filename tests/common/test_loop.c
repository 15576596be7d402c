/* test_loop.c: the run loop shares an lcore fairly, backs off when idle,
 * housekeeps on time and drains before it returns. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <rte_cycles.h>

#include "common/ubc_loop.h"
#include "common/ubc_time.h"

struct scripted_role {
    uint64_t calls;
    uint32_t work_per_call; /* what poll returns */
    uint64_t stop_after;    /* sets *stop after this many calls (0: never) */
    uint64_t drained_after; /* drained() true once calls >= this */
    uint64_t housekeeps;
    int *stop;
};

static uint32_t
scripted_poll(void *ctx, uint64_t now_tsc)
{
    (void)now_tsc;
    struct scripted_role *role = ctx;
    role->calls++;
    if (role->stop_after != 0 && role->calls >= role->stop_after)
        __atomic_store_n(role->stop, 1, __ATOMIC_RELEASE);
    return __atomic_load_n(role->stop, __ATOMIC_ACQUIRE)
               ? 0
               : role->work_per_call; /* stopping: no new work arrives */
}

static void
scripted_housekeep(void *ctx, uint64_t now_tsc)
{
    (void)now_tsc;
    ((struct scripted_role *)ctx)->housekeeps++;
}

static bool
scripted_drained(void *ctx)
{
    struct scripted_role *role = ctx;
    return role->calls >= role->drained_after;
}

static struct ubc_loop_config
test_config(void)
{
    return (struct ubc_loop_config){ .idle_spins = 10,
                                     .sleep_us_min = 10,
                                     .sleep_us_max = 80,
                                     .housekeeping_us = 1000,
                                     .drain_ms = 50,
                                     .tsc_hz = 1000000000ull };
}

static void
add_scripted(struct ubc_loop *loop, const char *name, struct scripted_role *role)
{
    struct ubc_role_ops ops = { .name = name,
                                .ctx = role,
                                .poll = scripted_poll,
                                .housekeep = scripted_housekeep,
                                .drained = scripted_drained };
    assert_true(ubc_loop_add_role(loop, &ops) >= 0);
}

/* A role that always has work cannot starve its neighbour: each iteration
 * polls every role exactly once. */
static void
test_busy_role_does_not_starve_neighbour(void **state)
{
    (void)state;
    int stop = 0;
    struct ubc_loop loop;
    struct ubc_loop_config config = test_config();
    ubc_loop_init(&loop, &config, 0, &stop);
    struct scripted_role busy = { .work_per_call = 32, .stop = &stop };
    struct scripted_role quiet = { .work_per_call = 0, .stop = &stop, .stop_after = 100000 };
    add_scripted(&loop, "busy", &busy);
    add_scripted(&loop, "quiet", &quiet);
    assert_int_equal(ubc_loop_run(&loop), 0);
    assert_int_equal(busy.calls, quiet.calls);
    assert_int_equal(loop.role_stats[0].polls, loop.role_stats[1].polls);
    assert_int_equal(loop.role_stats[0].items, 32 * loop.role_stats[0].busy_polls);
    assert_true(loop.role_stats[0].busy_polls >= 99999);
    assert_int_equal(loop.role_stats[1].busy_polls, 0);
    /* Work every iteration: the loop never slept. */
    assert_int_equal(loop.stats.sleeps, 0);
}

/* Idle: idle_spins pauses, then sleeps of 10, 20, 40, 80, 80, ... us. */
static void
test_idle_backoff_doubles_to_bound(void **state)
{
    (void)state;
    int stop = 0;
    struct ubc_loop loop;
    struct ubc_loop_config config = test_config();
    ubc_loop_init(&loop, &config, 0, &stop);
    struct scripted_role idle = { .work_per_call = 0, .stop = &stop, .stop_after = 40 };
    add_scripted(&loop, "idle", &idle);
    assert_int_equal(ubc_loop_run(&loop), 0);
    uint64_t sleeps = loop.stats.sleeps;
    assert_true(sleeps >= 25); /* 40 polls - 10 spins - the stopping one(s) */
    uint64_t expected = 10 + 20 + 40 + (sleeps - 3) * 80;
    assert_int_equal(loop.stats.sleep_ns_requested, expected * 1000);
    assert_true(loop.stats.sleep_ns_actual + 1000 * loop.stats.sleeps_interrupted * 80 >=
                loop.stats.sleep_ns_requested);
    assert_true(loop.stats.wake_late_ns_max <= loop.stats.wake_late_ns_total);
}

static void
test_busy_poll_never_sleeps(void **state)
{
    (void)state;
    int stop = 0;
    struct ubc_loop loop;
    struct ubc_loop_config config = test_config();
    config.busy_poll = true;
    ubc_loop_init(&loop, &config, 0, &stop);
    struct scripted_role idle = { .work_per_call = 0, .stop = &stop, .stop_after = 5000 };
    add_scripted(&loop, "idle", &idle);
    assert_int_equal(ubc_loop_run(&loop), 0);
    assert_int_equal(loop.stats.sleeps, 0);
    assert_true(loop.stats.idle_iterations >= 4999);
}

static void
test_housekeeping_period(void **state)
{
    (void)state;
    int stop = 0;
    struct ubc_loop loop;
    struct ubc_loop_config config = test_config();
    config.tsc_hz = 1000000000ull; /* 1000 us at 1 GHz: 1e6 cycles */
    ubc_loop_init(&loop, &config, 0, &stop);
    struct scripted_role role = { .stop = &stop };
    add_scripted(&loop, "role", &role);
    uint64_t next = 0;
    ubc_loop_iterate(&loop, 5, &next);
    assert_int_equal(role.housekeeps, 1);
    assert_int_equal(next, 5 + 1000000);
    ubc_loop_iterate(&loop, 999999, &next);
    assert_int_equal(role.housekeeps, 1);
    ubc_loop_iterate(&loop, 1000005, &next);
    assert_int_equal(role.housekeeps, 2);
    assert_int_equal(loop.role_stats[0].housekeeps, 2);
}

/* Stop waits for drained(); a role that never drains hits drain_ms. */
static void
test_drain_then_timeout(void **state)
{
    (void)state;
    int stop = 0;
    struct ubc_loop loop;
    struct ubc_loop_config config = test_config();
    config.drain_ms = 10000; /* generous: a loaded machine wakes sleepers late */
    ubc_loop_init(&loop, &config, 0, &stop);
    struct scripted_role role = { .stop = &stop, .stop_after = 10, .drained_after = 100 };
    add_scripted(&loop, "role", &role);
    assert_int_equal(ubc_loop_run(&loop), 0);
    assert_true(role.calls >= 100);

    stop = 0;
    config.drain_ms = 50;
    ubc_loop_init(&loop, &config, 0, &stop);
    struct scripted_role stuck = { .stop = &stop, .stop_after = 10, .drained_after = UINT64_MAX };
    add_scripted(&loop, "stuck", &stuck);
    assert_int_equal(ubc_loop_run(&loop), -ETIMEDOUT);
}

static void
test_config_check_and_capacity(void **state)
{
    (void)state;
    struct ubc_loop_config config = test_config();
    assert_int_equal(ubc_loop_config_check(&config), 0);
    config.sleep_us_max = 5; /* below the minimum */
    assert_int_equal(ubc_loop_config_check(&config), -EINVAL);
    config = test_config();
    config.tsc_hz = 0;
    assert_int_equal(ubc_loop_config_check(&config), -EINVAL);

    int stop = 0;
    struct ubc_loop loop;
    config = test_config();
    ubc_loop_init(&loop, &config, 0, &stop);
    struct scripted_role role = { .stop = &stop };
    for (int i = 0; i < UBC_LOOP_ROLES_MAX; i++)
        add_scripted(&loop, "role", &role);
    struct ubc_role_ops ops = { .name = "one-too-many", .ctx = &role, .poll = scripted_poll };
    assert_int_equal(ubc_loop_add_role(&loop, &ops), -ENOSPC);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_busy_role_does_not_starve_neighbour),
        cmocka_unit_test(test_idle_backoff_doubles_to_bound),
        cmocka_unit_test(test_busy_poll_never_sleeps),
        cmocka_unit_test(test_housekeeping_period),
        cmocka_unit_test(test_drain_then_timeout),
        cmocka_unit_test(test_config_check_and_capacity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
