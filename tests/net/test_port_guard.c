/* test_port_guard.c: the teardown handshake of dataplane/ubc_port_guard.h,
 * without a port: a poller thread plays the net lcore (enter, test a
 * "connected" flag, read a "ring", leave) and a teardown thread plays the
 * memif driver's interrupt thread (clear the flag, synchronize, poison the
 * ring as munmap would, then reconnect). The poller must never read a
 * poisoned ring; without the synchronize it does (the negative control). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <sched.h>

#include "dataplane/ubc_port_guard.h"

#define RING_ALIVE 0x600dull
#define RING_GONE 0xdeadull

struct model {
    struct ubc_port_guard guard;
    struct ubc_port_guard_poller *poller;
    uint32_t connected; /* the driver's flag: written relaxed, as the PMD's plain store */
    uint64_t ring;      /* RING_ALIVE while mapped */
    uint32_t stop;
    uint64_t bursts, bad_reads, teardowns;
    bool synchronize;
};

static void *
poller_main(void *arg)
{
    struct model *m = arg;
    while (!__atomic_load_n(&m->stop, __ATOMIC_ACQUIRE)) {
        ubc_port_guard_enter(m->poller);
        if (__atomic_load_n(&m->connected, __ATOMIC_RELAXED)) {
            /* A burst: several reads of the ring, as rx reads descriptors. */
            for (int i = 0; i < 16; i++) {
                if (__atomic_load_n(&m->ring, __ATOMIC_RELAXED) != RING_ALIVE)
                    m->bad_reads++;
            }
        }
        ubc_port_guard_leave(m->poller);
        __atomic_fetch_add(&m->bursts, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void
run_model(struct model *m, uint64_t teardowns)
{
    ubc_port_guard_init(&m->guard);
    m->poller = ubc_port_guard_poller_add(&m->guard);
    assert_non_null(m->poller);
    m->connected = 1;
    m->ring = RING_ALIVE;
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, poller_main, m), 0);
    /* Tear down only while the poller runs: on a loaded 2-core machine the
     * thread may not have started before a short loop ends. */
    while (__atomic_load_n(&m->bursts, __ATOMIC_RELAXED) == 0)
        sched_yield();
    for (uint64_t i = 0; i < teardowns; i++) {
        __atomic_store_n(&m->connected, 0, __ATOMIC_RELAXED);
        if (m->synchronize)
            ubc_port_guard_synchronize();
        __atomic_store_n(&m->ring, RING_GONE, __ATOMIC_RELAXED); /* munmap */
        for (volatile int spin = 0; spin < 200; spin++) {
        }
        __atomic_store_n(&m->ring, RING_ALIVE, __ATOMIC_RELAXED); /* reconnect: map */
        __atomic_store_n(&m->connected, 1, __ATOMIC_RELEASE);
        m->teardowns++;
    }
    __atomic_store_n(&m->stop, 1, __ATOMIC_RELEASE);
    pthread_join(thread, NULL);
}

static void
register_guard(struct ubc_port_guard *guard)
{
    assert_int_equal(ubc_port_guard_register(guard), 0);
}

static void
test_grace_period_protects_reads(void **state)
{
    (void)state;
    static struct model m;
    memset(&m, 0, sizeof(m));
    m.synchronize = true;
    ubc_port_guard_init(&m.guard);
    register_guard(&m.guard);
    run_model(&m, 20000);
    ubc_port_guard_release(&m.guard);
    assert_int_equal(m.bad_reads, 0);
    assert_true(m.bursts > 0);
    assert_true(m.guard.stats.grace_periods >= 20000);
}

static void
test_without_grace_period_reads_go_bad(void **state)
{
    (void)state;
    static struct model m;
    memset(&m, 0, sizeof(m));
    m.synchronize = false;
    run_model(&m, 200000);
    /* The negative control: the race the guard closes is real. On a 2-core
     * machine under load it may be rare; at least the model ran. */
    print_message("without the guard: %llu bad reads in %llu bursts\n",
                  (unsigned long long)m.bad_reads, (unsigned long long)m.bursts);
    assert_true(m.bursts > 0);
}

static void
test_idle_pollers_cost_nothing(void **state)
{
    (void)state;
    static struct ubc_port_guard guard;
    ubc_port_guard_init(&guard);
    register_guard(&guard);
    struct ubc_port_guard_poller *poller = ubc_port_guard_poller_add(&guard);
    ubc_port_guard_enter(poller);
    ubc_port_guard_leave(poller);
    ubc_port_guard_synchronize();
    assert_int_equal(guard.stats.grace_periods, 1);
    assert_int_equal(guard.stats.grace_waits, 0);
    ubc_port_guard_release(&guard);
    ubc_port_guard_synchronize(); /* released: no longer counted */
    assert_int_equal(guard.stats.grace_periods, 1);
}

static void
test_slots_and_missing_library(void **state)
{
    (void)state;
    static struct ubc_port_guard guard;
    ubc_port_guard_init(&guard);
    for (int i = 0; i < UBC_PORT_GUARD_POLLERS_MAX; i++)
        assert_non_null(ubc_port_guard_poller_add(&guard));
    assert_null(ubc_port_guard_poller_add(&guard));
    assert_int_equal(ubc_port_guard_hook(&guard, "librte_no_such_driver"), -ENOENT);
    assert_false(guard.hooked);
    ubc_port_guard_enter(NULL); /* an instance without a slot: no-op */
    ubc_port_guard_leave(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slots_and_missing_library),
        cmocka_unit_test(test_idle_pollers_cost_nothing),
        cmocka_unit_test(test_grace_period_protects_reads),
        cmocka_unit_test(test_without_grace_period_reads_go_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
