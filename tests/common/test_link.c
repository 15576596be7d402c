/* test_link.c: role-to-role links move every message exactly once, count
 * what a full ring refused, and hold up with two producers (RTS). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_mempool.h>

#include "common/ubc_link.h"
#include "common/ubc_msg.h"

static struct rte_mempool *pool;

static int
setup_eal(void **state)
{
    (void)state;
    char *argv[] = { "test_link", "--no-huge", "-m",
                     "256",       "--no-pci",  "--no-shconf",
                     "-l",        "0",         "--log-level=lib.*:error",
                     NULL };
    if (rte_eal_init((int)(sizeof(argv) / sizeof(argv[0])) - 1, argv) < 0)
        return -1;
    pool = rte_mempool_create("msgs", 8191, UBC_MSG_SIZE, 0, 0, NULL, NULL, NULL, NULL,
                              SOCKET_ID_ANY, 0);
    return pool ? 0 : -1;
}

static int
teardown_eal(void **state)
{
    (void)state;
    rte_mempool_free(pool);
    rte_eal_cleanup();
    return 0;
}

static void
test_burst_in_order_and_full_counted(void **state)
{
    (void)state;
    struct ubc_link link;
    assert_int_equal(ubc_link_create(&link, "t1", UBC_ROLE_NET, UBC_ROLE_SCHED, 64, 0, 0), 0);
    struct ubc_msg *out[100], *in[100];
    assert_int_equal(rte_mempool_get_bulk(pool, (void **)out, 100), 0);
    for (int i = 0; i < 100; i++)
        out[i]->hdr.seq = (uint64_t)i;
    /* 64 slots hold 63 messages: the rest stay with the sender, counted. */
    assert_int_equal(ubc_link_send_burst(&link, out, 100), 63);
    assert_int_equal(ubc_link_count(&link), 63);
    assert_int_equal(ubc_link_recv_burst(&link, in, 100), 63);
    for (int i = 0; i < 63; i++)
        assert_int_equal(in[i]->hdr.seq, i);
    struct ubc_link_stats stats;
    ubc_link_stats_read(&link, &stats);
    assert_int_equal(stats.enqueued, 63);
    assert_int_equal(stats.dequeued, 63);
    assert_int_equal(stats.full, 37);
    assert_int_equal(stats.full_events, 1);
    rte_mempool_put_bulk(pool, (void **)out, 100);
    ubc_link_destroy(&link);
}

static void
test_bad_size_refused(void **state)
{
    (void)state;
    struct ubc_link link;
    assert_int_equal(ubc_link_create(&link, "t2", 0, 1, 100, 0, 0), -EINVAL);
    assert_int_equal(ubc_link_create(&link, "t3", 0, 1, 1, 0, 0), -EINVAL);
}

struct producer {
    struct ubc_link *link;
    uint64_t base;
    uint64_t count;
    struct ubc_msg **msgs;
};

static void *
producer_main(void *arg)
{
    struct producer *p = arg;
    for (uint64_t i = 0; i < p->count;) {
        p->msgs[i]->hdr.seq = p->base + i;
        i += ubc_link_send_burst(p->link, &p->msgs[i], 1);
    }
    return NULL;
}

/* Two producer threads on an RTS link, one consumer: every message arrives
 * exactly once and each producer's messages arrive in its order. */
static void
test_two_producers_exactly_once(void **state)
{
    (void)state;
    enum { PER_PRODUCER = 3000 };
    struct ubc_link link;
    assert_int_equal(ubc_link_create(&link, "t4", UBC_ROLE_COUNT, UBC_ROLE_DISK, 256, 0, 1), 0);
    static struct ubc_msg *msgs[2][PER_PRODUCER];
    assert_int_equal(rte_mempool_get_bulk(pool, (void **)msgs[0], PER_PRODUCER), 0);
    assert_int_equal(rte_mempool_get_bulk(pool, (void **)msgs[1], PER_PRODUCER), 0);
    struct producer producers[2] = {
        { &link, 0, PER_PRODUCER, msgs[0] },
        { &link, 1000000, PER_PRODUCER, msgs[1] },
    };
    pthread_t threads[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, producer_main, &producers[i]), 0);
    uint64_t next[2] = { 0, 1000000 }, received = 0;
    while (received < 2 * PER_PRODUCER) {
        struct ubc_msg *in[32];
        uint32_t n = ubc_link_recv_burst(&link, in, 32);
        for (uint32_t i = 0; i < n; i++) {
            int who = in[i]->hdr.seq >= 1000000;
            assert_int_equal(in[i]->hdr.seq, next[who]);
            next[who]++;
        }
        received += n;
    }
    for (int i = 0; i < 2; i++)
        pthread_join(threads[i], NULL);
    assert_int_equal(next[0], PER_PRODUCER);
    assert_int_equal(next[1], 1000000 + PER_PRODUCER);
    rte_mempool_put_bulk(pool, (void **)msgs[0], PER_PRODUCER);
    rte_mempool_put_bulk(pool, (void **)msgs[1], PER_PRODUCER);
    ubc_link_destroy(&link);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_in_order_and_full_counted),
        cmocka_unit_test(test_bad_size_refused),
        cmocka_unit_test(test_two_producers_exactly_once),
    };
    return cmocka_run_group_tests(tests, setup_eal, teardown_eal);
}
