/* ubc_net_port.h: one DPDK ethernet port configured for the net role.
 *
 * Contract: ubc_net_port_open() runs once on the main thread after EAL init:
 * it finds the port by name (a PCI device bound to vfio-pci that EAL probed,
 * or a virtual device; a vdev EAL was not given is hot-plugged from the
 * devargs), creates its mbuf pool on the port's NUMA socket with a size
 * computed from descriptors, bursts and caches, sets up rx_queues rx and tx
 * queues (RSS on IP and UDP across them when more than one), and starts it.
 * A port whose device offers no RSS on IP/UDP (dev_info's
 * flow_type_rss_offloads) gets one queue: queues < queues_asked tells the
 * caller to say so. The net role
 * then owns the queues; the control thread may read link and stats at any
 * time (ethdev stats reads are safe next to the datapath). close() runs
 * after every lcore has returned.
 */
#ifndef UBC_NET_PORT_H
#define UBC_NET_PORT_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_mempool.h>

#include "dataplane/ubc_port_guard.h"

struct ubc_net_port_config {
    const char *name; /* devargs: "net_tap0,iface=ubc0" or "0000:03:00.0" */
    uint16_t queues;
    uint16_t rx_desc;
    uint16_t tx_desc;
    uint16_t burst_size;
    uint32_t mbuf_count; /* 0: computed */
    uint32_t mbuf_cache;
    uint32_t lcore_count; /* lcores that may hold mbufs in their cache */
    bool promiscuous;
};

struct ubc_net_port {
    uint16_t port_id;
    int socket_id;
    uint16_t queues;
    uint16_t rx_desc;
    uint16_t tx_desc;
    uint32_t mbuf_count;
    struct rte_mempool *mbuf_pool;
    struct rte_ether_addr mac;
    char name[64];
    char driver[32];
    bool started;
    uint16_t queues_asked;    /* what the config asked; queues is what the port got */
    uint64_t rss_hf;          /* the RSS hash functions in use; 0: no RSS (one queue) */
    bool rx_checksum_offload; /* the device checks IPv4 and UDP checksums (mbuf ol_flags) */
    bool tx_checksum_offload; /* the device fills IPv4 and UDP checksums */
    /* net_memif: the driver's link teardown waits for the net lcores
     * (ubc_port_guard.h); guard_rc is ubc_port_guard_hook's answer (0:
     * hooked; 1: not a driver that needs it). */
    int guard_rc;
    struct ubc_port_guard guard;
};

/* The mbuf count formula: every descriptor can hold an mbuf, every queue
 * can have a burst in flight on rx and in its tx buffer, and every lcore
 * cache can hold up to 1.5 caches. Rounded up to 2^n - 1 (the mempool's
 * best size). */
uint32_t ubc_net_port_mbuf_count(const struct ubc_net_port_config *config);

/* Returns 0, or a negative errno with a one-line reason in error. */
int ubc_net_port_open(struct ubc_net_port *port, const struct ubc_net_port_config *config,
                      char *error, size_t error_cap);

void ubc_net_port_close(struct ubc_net_port *port);

struct ubc_net_port_link {
    bool up;
    bool full_duplex;
    uint32_t speed_mbps;
};

void ubc_net_port_link(const struct ubc_net_port *port, struct ubc_net_port_link *link);

#endif /* UBC_NET_PORT_H */
