/* ubc_net_port.c: port discovery, mempool sizing, queue setup (see .h). */
#include "dataplane/ubc_net_port.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_bus_vdev.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "common/ubc_assert.h"

uint32_t
ubc_net_port_mbuf_count(const struct ubc_net_port_config *config)
{
    uint64_t per_queue = (uint64_t)config->rx_desc + config->tx_desc + 2u * config->burst_size;
    uint64_t count = per_queue * config->queues +
                     (uint64_t)config->lcore_count * config->mbuf_cache * 3 / 2 + 1024;
    uint64_t rounded = 1;
    while (rounded - 1 < count)
        rounded <<= 1;
    return (uint32_t)(rounded - 1);
}

/* "net_tap0,iface=ubc0" names the port "net_tap0". */
static void
port_name_from_devargs(const char *devargs, char *name, size_t cap)
{
    size_t length = strcspn(devargs, ",");
    if (length >= cap)
        length = cap - 1;
    memcpy(name, devargs, length);
    name[length] = '\0';
}

static int
port_find(struct ubc_net_port *port, const char *devargs, char *error, size_t error_cap)
{
    port_name_from_devargs(devargs, port->name, sizeof(port->name));
    if (rte_eth_dev_get_port_by_name(port->name, &port->port_id) == 0)
        return 0;
    /* Not probed by EAL: hot-plug it (virtual devices; a PCI device must be
     * bound to vfio-pci and is probed by EAL itself). */
    int rc = rte_dev_probe(devargs);
    if (rc != 0) {
        snprintf(error, error_cap,
                 "net.port '%s': no such port and probing it failed (%s); "
                 "see docs/operations.md, binding a NIC",
                 devargs, rte_strerror(-rc));
        return rc < 0 ? rc : -ENODEV;
    }
    if (rte_eth_dev_get_port_by_name(port->name, &port->port_id) != 0) {
        snprintf(error, error_cap, "net.port '%s': probed but no ethdev named '%s'", devargs,
                 port->name);
        return -ENODEV;
    }
    return 0;
}

static int
port_configure(struct ubc_net_port *port, const struct ubc_net_port_config *config,
               const struct rte_eth_dev_info *info, char *error, size_t error_cap)
{
    struct rte_eth_conf conf;
    memset(&conf, 0, sizeof(conf));
    port->queues_asked = config->queues;
    if (port->queues > 1) {
        port->rss_hf = (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP) & info->flow_type_rss_offloads;
        if (port->rss_hf == 0)
            port->queues = 1; /* no way to spread flows: one queue, the caller logs it */
    }
    if (port->queues > 1) {
        conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
        conf.rx_adv_conf.rss_conf.rss_hf = port->rss_hf;
    }
    if (info->tx_offload_capa & RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE)
        conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE;
    /* Checksums in the device when it offers both halves; else in software. */
    const uint64_t rx_checksums = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
    const uint64_t tx_checksums = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
    port->rx_checksum_offload = (info->rx_offload_capa & rx_checksums) == rx_checksums;
    port->tx_checksum_offload = (info->tx_offload_capa & tx_checksums) == tx_checksums;
    if (port->rx_checksum_offload)
        conf.rxmode.offloads |= rx_checksums;
    if (port->tx_checksum_offload)
        conf.txmode.offloads |= tx_checksums;
    if (port->queues > info->max_rx_queues || port->queues > info->max_tx_queues) {
        snprintf(error, error_cap, "net.rx_queues = %u: port %s supports %u rx / %u tx queues",
                 config->queues, port->name, info->max_rx_queues, info->max_tx_queues);
        return -EINVAL;
    }
    int rc = rte_eth_dev_configure(port->port_id, port->queues, port->queues, &conf);
    if (rc != 0) {
        snprintf(error, error_cap, "port %s: configure failed: %s", port->name, rte_strerror(-rc));
        return rc;
    }
    port->rx_desc = config->rx_desc;
    port->tx_desc = config->tx_desc;
    rc = rte_eth_dev_adjust_nb_rx_tx_desc(port->port_id, &port->rx_desc, &port->tx_desc);
    if (rc != 0) {
        snprintf(error, error_cap, "port %s: descriptor counts refused: %s", port->name,
                 rte_strerror(-rc));
        return rc;
    }
    return 0;
}

static int
port_setup_queues(struct ubc_net_port *port, const struct rte_eth_dev_info *info, char *error,
                  size_t error_cap)
{
    struct rte_eth_txconf txconf = info->default_txconf;
    txconf.offloads = 0;
    if (info->tx_offload_capa & RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE)
        txconf.offloads |= RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE;
    if (port->tx_checksum_offload)
        txconf.offloads |= RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
    for (uint16_t q = 0; q < port->queues; q++) {
        int rc = rte_eth_rx_queue_setup(port->port_id, q, port->rx_desc, (unsigned)port->socket_id,
                                        NULL, port->mbuf_pool);
        if (rc == 0)
            rc = rte_eth_tx_queue_setup(port->port_id, q, port->tx_desc, (unsigned)port->socket_id,
                                        &txconf);
        if (rc != 0) {
            snprintf(error, error_cap, "port %s: queue %u setup failed: %s", port->name, q,
                     rte_strerror(-rc));
            return rc;
        }
    }
    return 0;
}

static int
port_create_pool(struct ubc_net_port *port, const struct ubc_net_port_config *config, char *error,
                 size_t error_cap)
{
    char pool_name[RTE_MEMPOOL_NAMESIZE];
    snprintf(pool_name, sizeof(pool_name), "mbuf_p%u", port->port_id);
    port->mbuf_count = config->mbuf_count ? config->mbuf_count : ubc_net_port_mbuf_count(config);
    port->mbuf_pool = rte_pktmbuf_pool_create(pool_name, port->mbuf_count, config->mbuf_cache, 0,
                                              RTE_MBUF_DEFAULT_BUF_SIZE, port->socket_id);
    if (port->mbuf_pool == NULL) {
        snprintf(error, error_cap,
                 "port %s: cannot create %u mbufs on socket %d: %s (raise "
                 "EAL -m or reserve hugepages)",
                 port->name, port->mbuf_count, port->socket_id, rte_strerror(rte_errno));
        return -rte_errno;
    }
    return 0;
}

int
ubc_net_port_open(struct ubc_net_port *port, const struct ubc_net_port_config *config, char *error,
                  size_t error_cap)
{
    UBC_ASSERT(port != NULL && config != NULL && config->queues > 0);
    memset(port, 0, sizeof(*port));
    int rc = port_find(port, config->name, error, error_cap);
    if (rc != 0)
        return rc;
    struct rte_eth_dev_info info;
    rc = rte_eth_dev_info_get(port->port_id, &info);
    if (rc != 0) {
        snprintf(error, error_cap, "port %s: no device info: %s", port->name, rte_strerror(-rc));
        return rc;
    }
    snprintf(port->driver, sizeof(port->driver), "%s", info.driver_name);
    ubc_port_guard_init(&port->guard);
    port->guard_rc = 1;
    /* A peer leaving a memif link must not crash the node (ubc_port_guard.h).
     * Hooking fails only for a statically linked driver: the port still
     * works, unguarded, and guard_rc says so in `ubcctl ports`. */
    if (strcmp(info.driver_name, "net_memif") == 0)
        port->guard_rc = ubc_port_guard_hook(&port->guard, "librte_net_memif");
    port->socket_id = rte_eth_dev_socket_id(port->port_id);
    if (port->socket_id < 0)
        port->socket_id = (int)rte_socket_id(); /* virtual ports have no NUMA node */
    port->queues = config->queues;
    rc = port_configure(port, config, &info, error, error_cap);
    if (rc == 0)
        rc = port_create_pool(port, config, error, error_cap);
    if (rc == 0)
        rc = port_setup_queues(port, &info, error, error_cap);
    if (rc != 0)
        return rc;
    rte_eth_macaddr_get(port->port_id, &port->mac);
    rc = rte_eth_dev_start(port->port_id);
    if (rc != 0) {
        snprintf(error, error_cap, "port %s: start failed: %s", port->name, rte_strerror(-rc));
        return rc;
    }
    port->started = true;
    if (config->promiscuous)
        rte_eth_promiscuous_enable(port->port_id); /* best effort: some PMDs lack it */
    return 0;
}

void
ubc_net_port_close(struct ubc_net_port *port)
{
    if (port->started) {
        rte_eth_dev_stop(port->port_id);
        rte_eth_dev_close(port->port_id);
        port->started = false;
    }
    ubc_port_guard_release(&port->guard);
    if (port->mbuf_pool != NULL) {
        rte_mempool_free(port->mbuf_pool);
        port->mbuf_pool = NULL;
    }
}

void
ubc_net_port_link(const struct ubc_net_port *port, struct ubc_net_port_link *link)
{
    struct rte_eth_link eth_link;
    memset(link, 0, sizeof(*link));
    if (rte_eth_link_get_nowait(port->port_id, &eth_link) != 0)
        return;
    link->up = eth_link.link_status == RTE_ETH_LINK_UP;
    link->full_duplex = eth_link.link_duplex == RTE_ETH_LINK_FULL_DUPLEX;
    link->speed_mbps = eth_link.link_speed;
}
