/* test_net_instances.c: the configuration of several net instances
 * (net.instances, roles.net_lcores) and the reply routing contract
 * (peer handles carry the instance; ubc_node_link_to_net finds the link). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "node/ubc_config.h"
#include "node/ubc_node.h"

static int
config_with(struct ubc_config *config, const char *instances, const char *queues,
            const char *lcores, char *error, size_t error_cap)
{
    ubc_config_defaults(config);
    char assignment[128];
    snprintf(assignment, sizeof(assignment), "net.instances=%s", instances);
    assert_int_equal(ubc_config_set(config, assignment, error, error_cap), 0);
    snprintf(assignment, sizeof(assignment), "net.rx_queues=%s", queues);
    assert_int_equal(ubc_config_set(config, assignment, error, error_cap), 0);
    snprintf(assignment, sizeof(assignment), "roles.net_lcores=%s", lcores);
    assert_int_equal(ubc_config_set(config, assignment, error, error_cap), 0);
    return ubc_config_finish(config, error, error_cap);
}

static void
test_instances_config(void **state)
{
    (void)state;
    static struct ubc_config config;
    char error[256];
    assert_int_equal(config_with(&config, "2", "4", "1,0", error, sizeof(error)), 0);
    assert_int_equal(config.net_instances, 2);
    assert_int_equal(config.net_instance_lcore[0], 1);
    assert_int_equal(config.net_instance_lcore[1], 0);
    /* Empty list: every instance on roles.net. */
    assert_int_equal(config_with(&config, "3", "3", "", error, sizeof(error)), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(config.net_instance_lcore[i], config.role_lcore[UBC_ROLE_NET]);
    /* Each failure names its key. */
    assert_int_not_equal(config_with(&config, "2", "1", "", error, sizeof(error)), 0);
    assert_non_null(strstr(error, "net.instances"));
    assert_int_not_equal(config_with(&config, "2", "2", "1", error, sizeof(error)), 0);
    assert_non_null(strstr(error, "roles.net_lcores"));
    assert_int_not_equal(config_with(&config, "2", "2", "1,x", error, sizeof(error)), 0);
    assert_non_null(strstr(error, "roles.net_lcores"));
    assert_int_not_equal(config_with(&config, "1", "1", "2000", error, sizeof(error)), 0);
    assert_non_null(strstr(error, "roles.net_lcores"));
    ubc_config_defaults(&config);
    assert_int_not_equal(ubc_config_set(&config, "net.instances=9", error, sizeof(error)), 0);
}

/* A reply finds the instance that owns its peer; anything else finds none. */
static void
test_link_to_net(void **state)
{
    (void)state;
    static struct ubc_node node;
    static struct ubc_link links[UBC_ROLE_COUNT][2];
    memset(&node, 0, sizeof(node));
    node.net_count = 2;
    for (uint32_t role = 1; role < UBC_ROLE_COUNT; role++)
        for (uint32_t i = 0; i < 2; i++)
            node.links_to_net[role][i] = &links[role][i];
    uint32_t slot = 12345;
    uint32_t peer0 = (0u << UBC_NET_PEER_INSTANCE_SHIFT) | slot;
    uint32_t peer1 = (1u << UBC_NET_PEER_INSTANCE_SHIFT) | slot;
    uint32_t peer2 = (2u << UBC_NET_PEER_INSTANCE_SHIFT) | slot;
    assert_int_equal(ubc_net_peer_instance(peer1), 1);
    assert_int_equal(peer1 & UBC_NET_PEER_SLOT_MASK, slot);
    assert_ptr_equal(ubc_node_link_to_net(&node, UBC_ROLE_SCHED, peer0), &links[UBC_ROLE_SCHED][0]);
    assert_ptr_equal(ubc_node_link_to_net(&node, UBC_ROLE_LEDGER, peer1),
                     &links[UBC_ROLE_LEDGER][1]);
    assert_null(ubc_node_link_to_net(&node, UBC_ROLE_SCHED, peer2)); /* no such instance */
    assert_null(ubc_node_link_to_net(&node, UBC_ROLE_SCHED, UBC_PEER_NONE));
    assert_null(ubc_node_link_to_net(&node, UBC_ROLE_NET, peer0)); /* net answers no one */
    assert_null(ubc_node_link_to_net(&node, (enum ubc_role_id)UBC_ROLE_COUNT, peer0));
    UBC_STATIC_ASSERT(UBC_NET_INSTANCES_MAX <= (1u << (32 - UBC_NET_PEER_INSTANCE_SHIFT)) - 1,
                      "UBC_PEER_NONE is never an instance");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_instances_config),
        cmocka_unit_test(test_link_to_net),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
