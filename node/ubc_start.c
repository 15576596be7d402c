/* ubc_start.c: node assembly (see ubc_start.h). */
#include "node/ubc_start.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>

#include "common/ubc_assert.h"
#include "common/ubc_time.h"
#include "node/ubc_log.h"
#include "node/ubc_roles.h"
#include "ledger/ubc_ledger.h"

/* The net role carries a client's ledger op in the wire codec's record,
 * which may not include the ledger: the two layouts must be one. */
#define SAME_FIELD(field)                                                    \
    UBC_STATIC_ASSERT(offsetof(struct ubc_wire_ledger_op, field) ==          \
                              offsetof(struct ubc_ledger_op, field) &&       \
                          sizeof(((struct ubc_wire_ledger_op *)0)->field) == \
                              sizeof(((struct ubc_ledger_op *)0)->field),    \
                      "wire ledger op field " #field " matches struct ubc_ledger_op")
SAME_FIELD(kind);
SAME_FIELD(flags);
SAME_FIELD(cosign_count);
SAME_FIELD(verify);
SAME_FIELD(reserved);
SAME_FIELD(nonce);
SAME_FIELD(account);
SAME_FIELD(signer);
SAME_FIELD(signature);
SAME_FIELD(args);
UBC_STATIC_ASSERT(sizeof(struct ubc_wire_ledger_op) == sizeof(struct ubc_ledger_op), "one size");
UBC_STATIC_ASSERT(UBC_WIRE_LEDGER_KIND_COSIGN == UBC_LEDGER_OP_COSIGN, "cosign kind");
UBC_STATIC_ASSERT(UBC_WIRE_LEDGER_KIND_MAX + 1 == UBC_LEDGER_OP_KIND_COUNT, "kinds");
UBC_STATIC_ASSERT(UBC_WIRE_LEDGER_COSIGN_MAX == UBC_LEDGER_MULTISIG_KEYS_LIMIT, "cosigns");

struct link_spec {
    const char *name;
    uint16_t from_role;
    uint16_t to_role;
    int multi_producer;
};

static const struct link_spec link_specs[UBC_LINK_COUNT] = {
    [UBC_LINK_NET_TO_SCHED] = { "net>sched", UBC_ROLE_NET, UBC_ROLE_SCHED, 0 },
    [UBC_LINK_SCHED_TO_NET] = { "sched>net", UBC_ROLE_SCHED, UBC_ROLE_NET, 0 },
    [UBC_LINK_SCHED_TO_LEDGER] = { "sched>ledger", UBC_ROLE_SCHED, UBC_ROLE_LEDGER, 0 },
    [UBC_LINK_LEDGER_TO_SCHED] = { "ledger>sched", UBC_ROLE_LEDGER, UBC_ROLE_SCHED, 0 },
    [UBC_LINK_NET_TO_CONSENSUS] = { "net>consensus", UBC_ROLE_NET, UBC_ROLE_CONSENSUS, 0 },
    [UBC_LINK_CONSENSUS_TO_NET] = { "consensus>net", UBC_ROLE_CONSENSUS, UBC_ROLE_NET, 0 },
    [UBC_LINK_CONSENSUS_TO_LEDGER] = { "consensus>ledger", UBC_ROLE_CONSENSUS, UBC_ROLE_LEDGER, 0 },
    /* Every role journals: several producers, possibly on several lcores. */
    [UBC_LINK_TO_DISK] = { "any>disk", UBC_ROLE_COUNT, UBC_ROLE_DISK, 1 },
    [UBC_LINK_DISK_TO_SCHED] = { "disk>sched", UBC_ROLE_DISK, UBC_ROLE_SCHED, 0 },
    [UBC_LINK_DISK_TO_LEDGER] = { "disk>ledger", UBC_ROLE_DISK, UBC_ROLE_LEDGER, 0 },
    /* Every net lcore may produce ledger ops. */
    [UBC_LINK_NET_TO_VERIFY] = { "net>verify", UBC_ROLE_NET, UBC_ROLE_VERIFY, 1 },
    [UBC_LINK_VERIFY_TO_LEDGER] = { "verify>ledger", UBC_ROLE_VERIFY, UBC_ROLE_LEDGER, 0 },
};

const char *
ubc_link_name(enum ubc_link_id link)
{
    return (unsigned)link < UBC_LINK_COUNT ? link_specs[link].name : "?";
}

static int
start_msg_pool(struct ubc_node *node, char *error, size_t error_cap)
{
    const struct ubc_config *config = &node->config;
    struct rte_mempool *pool =
        rte_mempool_create_empty("ubc_msg", config->ring_msg_pool_size, UBC_MSG_SIZE,
                                 config->ring_msg_pool_cache, 0, (int)rte_socket_id(), 0);
    if (pool == NULL) {
        snprintf(error, error_cap, "message pool of %u: %s", config->ring_msg_pool_size,
                 rte_strerror(rte_errno));
        return -rte_errno;
    }
    /* RTS ring under the pool: the default MP/MC ring collapses when the
     * threads that share it are preempted on a shared core. */
    int rc = rte_mempool_set_ops_byname(pool, "ring_mt_rts", NULL);
    if (rc == 0 && rte_mempool_populate_default(pool) < 0)
        rc = -ENOMEM;
    if (rc != 0) {
        snprintf(error, error_cap, "message pool: %s", rte_strerror(-rc));
        rte_mempool_free(pool);
        return rc;
    }
    node->msg_pool = pool;
    return 0;
}

static int
start_links(struct ubc_node *node, char *error, size_t error_cap)
{
    for (int i = 0; i < UBC_LINK_COUNT; i++) {
        const struct link_spec *spec = &link_specs[i];
        /* Several net instances produce on the links out of net. */
        int multi_producer = spec->multi_producer ||
                             (spec->from_role == UBC_ROLE_NET && node->config.net_instances > 1);
        int rc = ubc_link_create(&node->links[i], spec->name, spec->from_role, spec->to_role,
                                 node->config.ring_link_size, (int)rte_socket_id(), multi_producer);
        if (rc != 0) {
            snprintf(error, error_cap, "ring %s: %s", spec->name, rte_strerror(-rc));
            return rc;
        }
    }
    return 0;
}

/* The roles that answer peers, each with one SP/SC link per net instance
 * (sched>net and consensus>net of instance 0 are in the link table). */
static const enum ubc_role_id net_answering_roles[] = { UBC_ROLE_SCHED, UBC_ROLE_LEDGER,
                                                        UBC_ROLE_CONSENSUS, UBC_ROLE_VERIFY };

static int
start_links_to_net(struct ubc_node *node, char *error, size_t error_cap)
{
    for (uint32_t r = 0; r < UBC_ARRAY_SIZE(net_answering_roles); r++) {
        enum ubc_role_id role = net_answering_roles[r];
        for (uint32_t i = 0; i < node->net_count; i++) {
            struct ubc_link *link = &node->net_reply_links[role][i];
            if (i == 0 && role == UBC_ROLE_SCHED)
                link = &node->links[UBC_LINK_SCHED_TO_NET];
            else if (i == 0 && role == UBC_ROLE_CONSENSUS)
                link = &node->links[UBC_LINK_CONSENSUS_TO_NET];
            else {
                char name[UBC_LINK_NAME_MAX];
                snprintf(name, sizeof(name), "%s>net%u", ubc_role_name(role), i);
                int rc = ubc_link_create(link, name, role, UBC_ROLE_NET,
                                         node->config.ring_link_size, (int)rte_socket_id(), 0);
                if (rc != 0) {
                    snprintf(error, error_cap, "ring %s: %s", name, rte_strerror(-rc));
                    return rc;
                }
            }
            node->links_to_net[role][i] = link;
        }
    }
    return 0;
}

/* Instance i polls the queues q with q mod count = i. */
static int
start_net_instance(struct ubc_node *node, uint32_t instance)
{
    const struct ubc_config *config = &node->config;
    struct ubc_net_config net_config = {
        .node_id = config->node_id,
        .ipv4_be = config->net_ipv4_be,
        .udp_port = (uint16_t)config->net_udp_port,
        .burst_size = (uint16_t)config->net_burst_size,
        .tx_drain_us = config->net_tx_drain_us,
        .tsc_hz = node->tsc_hz,
        .peers_max = config->net_peers_max,
        .stopping = &node->stop,
        .instance = instance,
    };
    for (uint16_t q = (uint16_t)instance; q < node->port.queues; q += (uint16_t)node->net_count)
        net_config.queues[net_config.queue_count++] = q;
    struct ubc_net *net = &node->net[instance];
    int rc = ubc_net_init(net, &net_config, &node->port, node->msg_pool,
                          &node->links[UBC_LINK_NET_TO_SCHED],
                          node->links_to_net[UBC_ROLE_SCHED][instance]);
    net->to_verify = &node->links[UBC_LINK_NET_TO_VERIFY];
    for (uint32_t r = 1; rc == 0 && r < UBC_ARRAY_SIZE(net_answering_roles); r++)
        rc = ubc_net_add_input(net, node->links_to_net[net_answering_roles[r]][instance]);
    return rc;
}

static int
start_port_and_net(struct ubc_node *node, char *error, size_t error_cap)
{
    const struct ubc_config *config = &node->config;
    struct ubc_net_port_config port_config = {
        .name = config->net_port,
        .queues = (uint16_t)config->net_rx_queues,
        .rx_desc = (uint16_t)config->net_rx_desc,
        .tx_desc = (uint16_t)config->net_tx_desc,
        .burst_size = (uint16_t)config->net_burst_size,
        .mbuf_count = config->net_mbuf_count,
        .mbuf_cache = config->net_mbuf_cache,
        .lcore_count = rte_lcore_count(),
        .promiscuous = config->net_promiscuous,
    };
    int rc = ubc_net_port_open(&node->port, &port_config, error, error_cap);
    if (rc != 0)
        return rc;
    node->net_count =
        config->net_instances < node->port.queues ? config->net_instances : node->port.queues;
    if (node->port.queues < node->port.queues_asked)
        UBC_LOG(WARNING, UBC_LOG_NET,
                "port %s (%s) offers no RSS on IP/UDP: 1 queue instead of net.rx_queues = %u, "
                "%u net instance(s) instead of %u",
                node->port.name, node->port.driver, node->port.queues_asked, node->net_count,
                config->net_instances);
    else if (node->port.queues > 1)
        UBC_LOG(INFO, UBC_LOG_NET, "port %s: %u queues, RSS hash 0x%llx, %u net instance(s)",
                node->port.name, node->port.queues, (unsigned long long)node->port.rss_hf,
                node->net_count);
    rc = start_links_to_net(node, error, error_cap);
    for (uint32_t i = 0; rc == 0 && i < node->net_count; i++) {
        rc = start_net_instance(node, i);
        if (rc != 0)
            snprintf(error, error_cap, "net role instance %u: %s", i, strerror(-rc));
    }
    return rc;
}

/* Net instances after the first: the net datapath alone (the net role's
 * control mailbox is served by instance 0). */
static void
start_net_instance_ops(struct ubc_node *node, uint32_t instance, struct ubc_role_ops *ops)
{
    static const char *const names[UBC_NET_INSTANCES_MAX] = { "net",  "net1", "net2", "net3",
                                                              "net4", "net5", "net6", "net7" };
    UBC_ASSERT(instance > 0 && instance < node->net_count);
    memset(ops, 0, sizeof(*ops));
    ops->name = names[instance];
    ops->ctx = &node->net[instance];
    ops->poll = ubc_net_poll;
    ops->housekeep = ubc_net_housekeep;
    ops->drained = ubc_net_drained;
}

static int
start_loops(struct ubc_node *node, char *error, size_t error_cap)
{
    const struct ubc_config *config = &node->config;
    struct ubc_loop_config loop_config = {
        .busy_poll = config->poll_busy,
        .idle_spins = config->poll_idle_spins,
        .sleep_us_min = config->poll_sleep_us_min,
        .sleep_us_max = config->poll_sleep_us_max,
        .housekeeping_us = config->poll_housekeeping_us,
        .drain_ms = config->shutdown_drain_ms,
        .tsc_hz = node->tsc_hz,
    };
    /* Every role, then net instances 1.. (instance 0 is the net role). */
    for (uint32_t slot = 0; slot < UBC_ROLE_COUNT + node->net_count - 1; slot++) {
        uint32_t role = slot < UBC_ROLE_COUNT ? slot : UBC_ROLE_NET;
        uint32_t instance = slot < UBC_ROLE_COUNT ? 0 : slot - UBC_ROLE_COUNT + 1;
        uint32_t lcore =
            role == UBC_ROLE_NET ? config->net_instance_lcore[instance] : config->role_lcore[role];
        if (lcore >= RTE_MAX_LCORE || !rte_lcore_is_enabled(lcore)) {
            snprintf(error, error_cap,
                     "config: roles.%s = %u: lcore not enabled in EAL "
                     "arguments (-l)",
                     role == UBC_ROLE_NET ? "net_lcores" : ubc_role_name(role), lcore);
            return -EINVAL;
        }
        if (!node->lcore_used[lcore]) {
            ubc_loop_init(&node->loops[lcore], &loop_config, lcore, &node->stop);
            node->lcore_used[lcore] = true;
        }
        struct ubc_role_ops ops;
        if (instance == 0)
            ubc_roles_ops(node, role, &ops);
        else
            start_net_instance_ops(node, instance, &ops);
        int rc = ubc_loop_add_role(&node->loops[lcore], &ops);
        if (rc < 0) {
            snprintf(error, error_cap, "lcore %u: more than %u roles and net instances", lcore,
                     UBC_LOOP_ROLES_MAX);
            return -EINVAL;
        }
    }
    return 0;
}

int
ubc_node_start(struct ubc_node *node, char *error, size_t error_cap)
{
    node->state = "starting";
    node->tsc_hz = rte_get_tsc_hz();
    node->start_tsc = rte_rdtsc();
    node->start_realtime_ns = ubc_time_realtime_ns();
    int rc = start_msg_pool(node, error, error_cap);
    if (rc == 0)
        rc = start_links(node, error, error_cap);
    if (rc == 0)
        rc = start_port_and_net(node, error, error_cap);
    if (rc == 0) {
        rc = ubc_roles_init(node, error, error_cap);
    }
    if (rc == 0)
        rc = start_loops(node, error, error_cap);
    return rc;
}

static int
launch_lcore_main(void *arg)
{
    struct ubc_loop *loop = arg;
    /* The default 50 us timer slack would add to every idle sleep's wake-up
     * cost; ask for the tightest the kernel gives. */
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    int rc = ubc_loop_run(loop);
    if (rc != 0)
        UBC_LOG(WARNING, UBC_LOG_NODE, "lcore %u: drain did not finish in time", loop->lcore_id);
    return rc;
}

int
ubc_node_launch(struct ubc_node *node)
{
    unsigned main_lcore = rte_get_main_lcore();
    unsigned lcore;
    node->state = "running";
    RTE_LCORE_FOREACH_WORKER(lcore)
    {
        if (node->lcore_used[lcore])
            rte_eal_remote_launch(launch_lcore_main, &node->loops[lcore], lcore);
    }
    int rc = 0;
    if (node->lcore_used[main_lcore]) {
        rc = launch_lcore_main(&node->loops[main_lcore]);
    } else {
        struct timespec pause = { .tv_sec = 0, .tv_nsec = 10000000 };
        while (!__atomic_load_n(&node->stop, __ATOMIC_ACQUIRE))
            nanosleep(&pause, NULL);
    }
    node->state = "stopping";
    RTE_LCORE_FOREACH_WORKER(lcore)
    {
        if (node->lcore_used[lcore] && rte_eal_wait_lcore(lcore) != 0)
            rc = -ETIMEDOUT;
    }
    return rc;
}

void
ubc_node_stop(struct ubc_node *node)
{
    ubc_net_port_close(&node->port);
    for (uint32_t i = 0; i < node->net_count; i++)
        ubc_net_fini(&node->net[i]);
    ubc_roles_fini(node);
    for (int i = 0; i < UBC_LINK_COUNT; i++)
        ubc_link_destroy(&node->links[i]);
    for (uint32_t role = 0; role < UBC_ROLE_COUNT; role++) {
        for (uint32_t i = 0; i < UBC_NET_INSTANCES_MAX; i++)
            ubc_link_destroy(&node->net_reply_links[role][i]);
    }
    if (node->msg_pool != NULL)
        rte_mempool_free(node->msg_pool);
    node->msg_pool = NULL;
}
struct ubc_node *ubc_node_current;
