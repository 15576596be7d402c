/* ubc_net.h: the net role: rx bursts from the port's queues, parse, hand
 * messages to the roles' rings; replies and assignments back out in tx
 * bursts.
 *
 * Contract: ubc_net_init() runs on the main thread at start-up (it allocates
 * the peer table and tx buffers on the port's NUMA socket); afterwards only
 * the lcore that runs the net role calls ubc_net_poll() and
 * ubc_net_housekeep(). No allocation, lock or system call on that path:
 * rx/tx bursts and ring bursts only. The counters are written by that lcore
 * and read by the control thread (each an aligned 64-bit word).
 */
#ifndef UBC_NET_H
#define UBC_NET_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ethdev.h>
#include <rte_mempool.h>

#include "common/ubc_msg.h"
#include "dataplane/ubc_net_port.h"
#include "dataplane/ubc_peer.h"
#include "dataplane/wire/ubc_pkt.h"
#include "dataplane/wire/ubc_wire.h"
#include "common/ubc_link.h"

#define UBC_NET_QUEUES_MAX 16
#define UBC_NET_BURST_MAX 256

/* Why a frame or a message went no further, beyond the frame's own faults
 * (enum ubc_pkt_drop) and the datagram's (enum ubc_wire_result). */
enum ubc_net_drop {
    UBC_NET_DROP_MULTI_SEGMENT = 0, /* a frame in several mbufs (jumbo): not parsed */
    UBC_NET_DROP_NO_ROUTE,          /* a valid message type no role consumes here */
    UBC_NET_DROP_OVERLOADED,        /* the ring toward the role was full (refused) */
    UBC_NET_DROP_NO_MSG,            /* the message pool was empty (refused) */
    UBC_NET_DROP_STALE_PEER,        /* a reply for a peer evicted since its request */
    UBC_NET_DROP_NO_MBUF,           /* no mbuf for an outgoing message */
    UBC_NET_DROP_ENCODE,            /* a role produced a message the codec refused */
    UBC_NET_DROP_REVOCATION,        /* a withdrawn assignment: no wire form yet */
    UBC_NET_DROP_COUNT
};

struct ubc_net_queue_stats {
    uint64_t rx_packets;
    uint64_t rx_bytes;
    uint64_t rx_bursts;
    uint64_t tx_packets;
    uint64_t tx_dropped; /* the port refused them */
    uint64_t arp_replies;
    uint64_t icmp_replies;
    uint64_t refusals_sent;
    uint64_t frame_drops[UBC_PKT_DROP_COUNT];
    uint64_t wire_drops[UBC_WIRE_RESULT_COUNT];
    uint64_t drops[UBC_NET_DROP_COUNT];
    uint64_t rx_by_type[UBC_MSG_TYPE_MAX + 1];
    uint64_t tx_by_type[UBC_MSG_TYPE_MAX + 1];
} __attribute__((aligned(64)));

struct ubc_net_config {
    uint64_t node_id; /* sender id of everything the node sends */
    uint32_t ipv4_be;
    uint16_t udp_port;
    uint16_t burst_size;
    uint32_t tx_drain_us;
    uint64_t tsc_hz;
    uint32_t peers_max;
    const int *stopping; /* non-zero: stop taking new packets */
};

struct ubc_net {
    struct ubc_net_config config;
    struct ubc_net_port *port;
    struct rte_mempool *msg_pool;
    /* Links out of the net role (to sched, ledger, consensus) and in. */
    struct ubc_link *to_sched;
    struct ubc_link *from_sched;
    struct ubc_peer_table *peers;
    struct ubc_pkt_self self;
    struct ubc_wire_policy policy;
    struct ubc_wire_origin origin;
    struct rte_eth_dev_tx_buffer *tx_buffer[UBC_NET_QUEUES_MAX];
    uint64_t tx_drain_tsc;
    uint64_t next_drain_tsc;
    uint32_t inflight_replies;
    struct ubc_net_queue_stats stats[UBC_NET_QUEUES_MAX];
};

/* Returns 0 or a negative errno. */
int ubc_net_init(struct ubc_net *net, const struct ubc_net_config *config,
                 struct ubc_net_port *port, struct rte_mempool *msg_pool, struct ubc_link *to_sched,
                 struct ubc_link *from_sched);
void ubc_net_fini(struct ubc_net *net);

/* Run-loop callbacks (common/ubc_loop.h). */
uint32_t ubc_net_poll(void *net, uint64_t now_tsc);
void ubc_net_housekeep(void *net, uint64_t now_tsc);
bool ubc_net_drained(void *net);

const char *ubc_net_drop_name(enum ubc_net_drop drop);

#endif /* UBC_NET_H */
