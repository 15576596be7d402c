/* ubc_net.h: the net role: rx bursts from the port's queues, parse, hand
 * messages to the roles' rings; replies and assignments back out in tx
 * bursts.
 *
 * Contract: a node runs 1..UBC_NET_INSTANCES_MAX instances of the net role,
 * each a struct ubc_net that owns a disjoint set of the port's rx/tx queues
 * (RSS spreads flows over the queues, so a peer always arrives on the same
 * queue and therefore at the same instance), its own peer table and its own
 * input links. ubc_net_init() runs on the main thread at start-up (it
 * allocates the peer table and tx buffers on the port's NUMA socket);
 * afterwards only the lcore that runs the instance calls ubc_net_poll() and
 * ubc_net_housekeep(). No allocation, lock or system call on that path:
 * rx/tx bursts and ring bursts only. The counters are written by that lcore
 * and read by the control thread (each an aligned 64-bit word).
 *
 * Peer handles: hdr.peer of a message from an instance carries the instance
 * in its top 4 bits (ubc_net_peer_instance) and the slot of the instance's
 * peer table below, so a role answering later finds the instance to send the
 * reply through (ubc_node_link_to_net in node/ubc_node.h). Roles treat the
 * handle as opaque.
 *
 * Ledger operations: a LEDGER_OP datagram (a main op and its cosigns) goes
 * to to_verify as one message per record (hdr.flags = index in the group),
 * in one all-or-nothing bulk enqueue, else it is refused "overloaded".
 * Outbound, an ASSIGNMENT with UBC_MSG_FLAG_REVOKE is sent with the wire's
 * REVOKE flag; LEDGER_RESULT and the other replies are encoded as they come.
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
#define UBC_NET_INSTANCES_MAX 8
#define UBC_NET_INPUTS_MAX 8 /* links other roles answer this instance on */
#define UBC_NET_PEER_INSTANCE_SHIFT 28u
#define UBC_NET_PEER_SLOT_MASK ((1u << UBC_NET_PEER_INSTANCE_SHIFT) - 1u)

/* The net instance a peer handle belongs to; UBC_PEER_NONE gives 15, which
 * is never an instance. */
static inline uint32_t
ubc_net_peer_instance(uint32_t peer)
{
    return peer >> UBC_NET_PEER_INSTANCE_SHIFT;
}

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
    uint64_t ledger_ops;       /* op records (main and cosigns) sent to the verify role */
    uint64_t revocations_sent; /* ASSIGNMENTs with the REVOKE flag (also in tx_by_type) */
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
    uint32_t instance;   /* 0..UBC_NET_INSTANCES_MAX-1: goes into peer handles */
    /* The port queues this instance polls and sends on; replies leave by
     * queues[0]. queue_count 0: every queue of the port. */
    uint16_t queue_count;
    uint16_t queues[UBC_NET_QUEUES_MAX];
};

struct ubc_net {
    struct ubc_net_config config;
    struct ubc_net_port *port;
    struct rte_mempool *msg_pool;
    /* Links out of the net role (to sched, verify) and in (replies from
     * every role that answers peers: inputs[0] is from_sched). */
    struct ubc_link *to_sched;
    struct ubc_link *from_sched;
    struct ubc_link *to_verify; /* NULL: ledger operations are refused no-route */
    struct ubc_link *inputs[UBC_NET_INPUTS_MAX];
    uint32_t input_count;
    struct ubc_peer_table *peers;
    struct ubc_pkt_self self;
    struct ubc_wire_policy policy;
    struct ubc_wire_origin origin;
    struct rte_eth_dev_tx_buffer *tx_buffer[UBC_NET_QUEUES_MAX];
    uint64_t tx_drain_tsc;
    uint64_t next_drain_tsc;
    uint32_t inflight_replies;
    /* Request frames already decoded, kept for the replies of the next
     * polls instead of a free now and an alloc then (their lines are
     * still in the cache); at most a burst, given back when drained. */
    uint32_t recycled_count;
    uint16_t recycle_buf_len_min; /* the port pool's data room */
    bool rx_checksum_offload;     /* the port's, read per frame */
    uint32_t peer_instance_bits;  /* config.instance in a peer handle's top bits */
    struct rte_mbuf *recycled[UBC_NET_BURST_MAX];
    uint32_t spare_count; /* messages taken for the current rx burst */
    struct ubc_msg *spare[UBC_NET_BURST_MAX];
    /* This instance's slot in the port's teardown guard: odd while the
     * lcore is in its rx/tx bursts (NULL: the port needs no guard). */
    struct ubc_port_guard_poller *guard_poller;
    struct ubc_net_queue_stats stats[UBC_NET_QUEUES_MAX];
};

/* Returns 0 or a negative errno. from_sched becomes the first input. */
int ubc_net_init(struct ubc_net *net, const struct ubc_net_config *config,
                 struct ubc_net_port *port, struct rte_mempool *msg_pool, struct ubc_link *to_sched,
                 struct ubc_link *from_sched);
void ubc_net_fini(struct ubc_net *net);

/* Start-up only: another link whose messages (replies for peers) this
 * instance encodes and sends. Returns 0 or -ENOSPC. */
int ubc_net_add_input(struct ubc_net *net, struct ubc_link *link);

/* Run-loop callbacks (common/ubc_loop.h). */
uint32_t ubc_net_poll(void *net, uint64_t now_tsc);
void ubc_net_housekeep(void *net, uint64_t now_tsc);
bool ubc_net_drained(void *net);

const char *ubc_net_drop_name(enum ubc_net_drop drop);

#endif /* UBC_NET_H */
