/* ubc_net.c: the net role's datapath (see ubc_net.h). */
#include "dataplane/ubc_net.h"

#include <errno.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include "common/ubc_assert.h"

static const char *const drop_names[UBC_NET_DROP_COUNT] = {
    [UBC_NET_DROP_MULTI_SEGMENT] = "multi-segment",
    [UBC_NET_DROP_NO_ROUTE] = "no-route",
    [UBC_NET_DROP_OVERLOADED] = "overloaded",
    [UBC_NET_DROP_NO_MSG] = "no-message-buffer",
    [UBC_NET_DROP_STALE_PEER] = "stale-peer",
    [UBC_NET_DROP_NO_MBUF] = "no-mbuf",
    [UBC_NET_DROP_ENCODE] = "encode",
};

const char *
ubc_net_drop_name(enum ubc_net_drop drop)
{
    return (unsigned)drop < UBC_NET_DROP_COUNT ? drop_names[drop] : "unknown";
}

static void
net_tx_error_callback(struct rte_mbuf **unsent, uint16_t count, void *userdata)
{
    struct ubc_net_queue_stats *stats = userdata;
    stats->tx_dropped += count;
    rte_pktmbuf_free_bulk(unsent, count);
}

static int
net_init_queues(struct ubc_net *net, const struct ubc_net_config *config,
                const struct ubc_net_port *port)
{
    if (net->config.queue_count == 0) {
        net->config.queue_count = port->queues;
        for (uint16_t q = 0; q < port->queues; q++)
            net->config.queues[q] = q;
    }
    for (uint16_t i = 0; i < net->config.queue_count; i++) {
        uint16_t q = net->config.queues[i];
        if (q >= port->queues)
            return -EINVAL;
        net->tx_buffer[q] = rte_zmalloc_socket(
            "tx_buffer", RTE_ETH_TX_BUFFER_SIZE(config->burst_size), 64, port->socket_id);
        if (net->tx_buffer[q] == NULL)
            return -ENOMEM;
        rte_eth_tx_buffer_init(net->tx_buffer[q], config->burst_size);
        rte_eth_tx_buffer_set_err_callback(net->tx_buffer[q], net_tx_error_callback,
                                           &net->stats[q]);
    }
    return 0;
}

int
ubc_net_init(struct ubc_net *net, const struct ubc_net_config *config, struct ubc_net_port *port,
             struct rte_mempool *msg_pool, struct ubc_link *to_sched, struct ubc_link *from_sched)
{
    UBC_ASSERT(net != NULL && config != NULL && port != NULL && msg_pool != NULL);
    UBC_ASSERT(port->queues <= UBC_NET_QUEUES_MAX && config->burst_size <= UBC_NET_BURST_MAX);
    UBC_ASSERT(config->instance < UBC_NET_INSTANCES_MAX);
    UBC_ASSERT(config->queue_count <= UBC_NET_QUEUES_MAX);
    memset(net, 0, sizeof(*net));
    net->config = *config;
    net->port = port;
    net->msg_pool = msg_pool;
    net->to_sched = to_sched;
    net->from_sched = from_sched;
    net->inputs[net->input_count++] = from_sched;
    size_t footprint = ubc_peer_table_footprint(config->peers_max);
    if (footprint == 0)
        return -EINVAL;
    void *memory = rte_zmalloc_socket("peers", footprint, ubc_peer_table_align(), port->socket_id);
    net->peers = ubc_peer_table_new(memory, config->peers_max);
    if (net->peers == NULL)
        return -ENOMEM;
    UBC_ASSERT(net->peers->slot_count - 1 <= UBC_NET_PEER_SLOT_MASK);
    /* Only a port whose driver tears links down under us pays the two
     * stores per poll (ubc_port_guard.h); others keep a NULL slot. */
    net->guard_poller = port->guard.hooked ? ubc_port_guard_poller_add(&port->guard) : NULL;
    int rc = net_init_queues(net, config, port);
    if (rc != 0)
        return rc;
    memcpy(net->self.mac, port->mac.addr_bytes, sizeof(net->self.mac));
    net->self.ipv4_be = config->ipv4_be;
    net->self.udp_port_be = rte_cpu_to_be_16(config->udp_port);
    net->origin.sender_id = config->node_id;
    net->tx_drain_tsc = config->tsc_hz * config->tx_drain_us / 1000000;
    /* A request frame of any pool carries a reply if its buffer is as big
     * as the port's own (a ring port's frames come from the sender's pool). */
    net->recycle_buf_len_min = rte_pktmbuf_data_room_size(port->mbuf_pool);
    net->rx_checksum_offload = port->rx_checksum_offload;
    net->peer_instance_bits = config->instance << UBC_NET_PEER_INSTANCE_SHIFT;
    return 0;
}

int
ubc_net_add_input(struct ubc_net *net, struct ubc_link *link)
{
    UBC_ASSERT(link != NULL);
    if (net->input_count >= UBC_NET_INPUTS_MAX)
        return -ENOSPC;
    net->inputs[net->input_count++] = link;
    return 0;
}

static void net_recycled_release(struct ubc_net *net);

void
ubc_net_fini(struct ubc_net *net)
{
    /* A closed port's pool is gone, and the stash with it. */
    if (net->port != NULL && net->port->mbuf_pool != NULL)
        net_recycled_release(net);
    net->recycled_count = 0;
    for (uint16_t q = 0; q < UBC_NET_QUEUES_MAX; q++) {
        rte_free(net->tx_buffer[q]);
        net->tx_buffer[q] = NULL;
    }
    rte_free(net->peers);
    net->peers = NULL;
}

/* With a port that fills checksums: asks for them in the mbuf and tells the
 * frame builder to leave the IPv4 checksum and the UDP sum to the device. */
static uint32_t
net_tx_checksum_flags(const struct ubc_net *net, struct rte_mbuf *frame, bool has_vlan)
{
    if (!net->port->tx_checksum_offload) {
        frame->ol_flags = 0;
        return 0;
    }
    frame->l2_len = UBC_PKT_ETHER_BYTES + (has_vlan ? UBC_PKT_VLAN_BYTES : 0);
    frame->l3_len = UBC_PKT_IPV4_BYTES;
    frame->ol_flags = RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_UDP_CKSUM;
    return UBC_PKT_TX_CHECKSUM_OFFLOAD;
}

/* A single-segment frame's length, both fields. */
static inline void
net_frame_length_set(struct rte_mbuf *frame, size_t length)
{
    UBC_ASSERT(length > 0 && length <= UINT16_MAX);
    frame->data_len = (uint16_t)length;
    frame->pkt_len = (uint32_t)length;
}

static void
net_tx_frame(struct ubc_net *net, uint16_t queue, struct rte_mbuf *frame, size_t length)
{
    net_frame_length_set(frame, length);
    net->stats[queue].tx_packets +=
        rte_eth_tx_buffer(net->port->port_id, queue, net->tx_buffer[queue], frame);
}

/* Answers a UBC request in place, reusing its mbuf: the request was
 * decoded first, so overwriting its bytes is safe. */
static void
net_refuse_in_place(struct ubc_net *net, uint16_t queue, struct rte_mbuf *frame,
                    const struct ubc_pkt_info *info, const struct ubc_wire_header *header,
                    enum ubc_err error, uint32_t detail)
{
    struct ubc_msg reply;
    ubc_wire_reply_init(&reply, UBC_MSG_REFUSAL, header->sequence, 0, error, 0, detail);
    uint8_t *data = rte_pktmbuf_mtod(frame, uint8_t *);
    size_t cap = rte_pktmbuf_data_len(frame) + rte_pktmbuf_tailroom(frame);
    size_t offset = ubc_pkt_udp_payload_offset(info->has_vlan);
    size_t payload_len = 0;
    if (offset < cap && ubc_wire_encode(&reply, &net->origin, data + offset, cap - offset,
                                        &payload_len) == UBC_WIRE_OK) {
        size_t length = ubc_pkt_udp_reply(data, cap, info, &net->self, payload_len,
                                          net_tx_checksum_flags(net, frame, info->has_vlan));
        if (length > 0) {
            net->stats[queue].refusals_sent++;
            net->stats[queue].tx_by_type[UBC_MSG_REFUSAL]++;
            net_tx_frame(net, queue, frame, length);
            return;
        }
    }
    net->stats[queue].drops[UBC_NET_DROP_ENCODE]++;
    rte_pktmbuf_free(frame);
}

/* Answers a request the node cannot take. A message of a reply type (ack,
 * refusal, status, assignment) is never answered: two nodes cannot bounce
 * refusals at each other, and a spoofed source cannot make the node a
 * reflector. */
static void
net_refuse_request(struct ubc_net *net, uint16_t queue, struct rte_mbuf *frame,
                   const struct ubc_pkt_info *info, const struct ubc_wire_header *header,
                   enum ubc_err error)
{
    if (ubc_wire_type_is_reply(header->type)) {
        rte_pktmbuf_free(frame);
        return;
    }
    net_refuse_in_place(net, queue, frame, info, header, error, 0);
}

/* Which link a decoded message goes to; NULL when no role here takes it. */
static struct ubc_link *
net_route(struct ubc_net *net, uint16_t type)
{
    switch (type) {
    case UBC_MSG_JOB_SUBMIT:
    case UBC_MSG_JOB_CANCEL:
    case UBC_MSG_JOB_QUERY:
    case UBC_MSG_PROVIDER_REGISTER:
    case UBC_MSG_PROVIDER_HEARTBEAT:
    case UBC_MSG_PROVIDER_DEREGISTER:
    case UBC_MSG_TASK_RESULT: return net->to_sched;
    case UBC_MSG_LEDGER_OP: return net->to_verify;
    default: return NULL;
    }
}

/* A message for a datagram of this burst: from the burst's bulk take
 * (ubc_net_poll), else from the pool; NULL when the pool is empty. */
static inline struct ubc_msg *
net_msg_take(struct ubc_net *net)
{
    if (net->spare_count > 0)
        return net->spare[--net->spare_count];
    struct ubc_msg *msg = NULL;
    return rte_mempool_get(net->msg_pool, (void **)&msg) == 0 ? msg : NULL;
}

/* Marks a message from a peer: who sent it (the peer handle) and when. */
static void
net_stamp(struct ubc_net *net, struct ubc_msg *msg, const struct ubc_pkt_info *info,
          uint64_t now_tsc)
{
    msg->hdr.src_role = UBC_ROLE_NET;
    msg->hdr.tsc = now_tsc;
    uint32_t slot = ubc_peer_upsert(net->peers, info->source.ipv4_be, info->source.udp_port_be,
                                    info->source.mac, now_tsc, &msg->hdr.peer_gen);
    msg->hdr.peer = net->peer_instance_bits | slot;
}

/* All or nothing: a ledger op group is never split by a full ring (the
 * verify role needs whole groups). ubc_link_send_burst is best effort, so
 * this is the bulk form with the same counters. */
static bool
net_link_send_all(struct ubc_link *link, struct ubc_msg *const *msgs, uint32_t n)
{
    UBC_LINK_RELEASE(link->ring);
    if (rte_ring_enqueue_bulk(link->ring, (void *const *)msgs, n, NULL) == n) {
        __atomic_fetch_add(&link->stats.enqueued, n, __ATOMIC_RELAXED);
        return true;
    }
    __atomic_fetch_add(&link->stats.full, n, __ATOMIC_RELAXED);
    __atomic_fetch_add(&link->stats.full_events, 1, __ATOMIC_RELAXED);
    return false;
}

/* A LEDGER_OP datagram becomes one message per record of its group (the
 * main op first, then its cosigns; hdr.flags = index in the group), sent in
 * one burst to the verify role; the request's frame is freed, or, when the
 * pool or the ring lacks room, turned into an "overloaded" refusal. main is
 * the decoded main op, already stamped with the peer. */
static void
net_handle_ledger_group(struct ubc_net *net, uint16_t queue, struct rte_mbuf *frame,
                        const struct ubc_pkt_info *info, const struct ubc_wire_header *header,
                        struct ubc_msg *main)
{
    struct ubc_net_queue_stats *stats = &net->stats[queue];
    struct ubc_wire_ledger_op ops[UBC_WIRE_LEDGER_GROUP_FIT];
    /* Room beyond the group: the ring's unrolled copy makes gcc see reads
     * past a 6-slot array (-Warray-bounds), though count <= 6. */
    struct ubc_msg *msgs[32];
    uint32_t count = 0;
    const uint8_t *payload = rte_pktmbuf_mtod_offset(frame, const uint8_t *,
                                                     info->payload_offset + UBC_WIRE_HEADER_BYTES);
    enum ubc_wire_result result =
        ubc_wire_ledger_group_decode(header, payload, ops, UBC_WIRE_LEDGER_GROUP_FIT, &count);
    UBC_ASSERT(result == UBC_WIRE_OK && count >= 1); /* ubc_wire_decode checked the group */
    UBC_ASSERT(count <= UBC_WIRE_LEDGER_GROUP_FIT);
    msgs[0] = main;
    if (count > 1 && rte_mempool_get_bulk(net->msg_pool, (void **)&msgs[1], count - 1) != 0) {
        stats->drops[UBC_NET_DROP_NO_MSG]++;
        rte_mempool_put(net->msg_pool, main);
        net_refuse_in_place(net, queue, frame, info, header, UBC_ERR_OVERLOADED, 0);
        return;
    }
    for (uint32_t i = 1; i < count; i++) {
        msgs[i]->hdr = main->hdr;
        msgs[i]->hdr.flags = (uint16_t)i;
        memcpy(msgs[i]->u.bytes, &ops[i], sizeof(ops[i]));
    }
    main->hdr.flags = 0;
    if (!net_link_send_all(net->to_verify, msgs, count)) {
        stats->drops[UBC_NET_DROP_OVERLOADED]++;
        rte_mempool_put_bulk(net->msg_pool, (void **)msgs, count);
        net_refuse_in_place(net, queue, frame, info, header, UBC_ERR_OVERLOADED, 0);
        return;
    }
    stats->ledger_ops += count;
    rte_pktmbuf_free(frame);
}

struct net_pending {
    struct ubc_msg *msg;
    struct rte_mbuf *frame;
    struct ubc_pkt_info info;
    struct ubc_wire_header header;
};

/* Decodes a UBC datagram into a message; on success it joins the pending
 * batch toward sched (sent after the rx burst), else it is refused in place
 * or dropped. */
static void
net_handle_datagram(struct ubc_net *net, uint16_t queue, struct rte_mbuf *frame,
                    const struct ubc_pkt_info *info, uint64_t now_tsc, struct net_pending *pending,
                    uint32_t *pending_count)
{
    struct ubc_net_queue_stats *stats = &net->stats[queue];
    const uint8_t *payload = rte_pktmbuf_mtod_offset(frame, const uint8_t *, info->payload_offset);
    struct net_pending *entry = &pending[*pending_count];
    struct ubc_msg *msg = net_msg_take(net);
    if (msg == NULL) {
        stats->drops[UBC_NET_DROP_NO_MSG]++;
        memset(&entry->header, 0, sizeof(entry->header));
        if (ubc_wire_header_decode(payload, info->payload_len, &net->policy, &entry->header) ==
            UBC_WIRE_OK)
            net_refuse_request(net, queue, frame, info, &entry->header, UBC_ERR_OVERLOADED);
        else
            rte_pktmbuf_free(frame);
        return;
    }
    enum ubc_wire_result result =
        ubc_wire_decode(payload, info->payload_len, &net->policy, &entry->header, msg);
    bool routed = result == UBC_WIRE_OK && net_route(net, msg->hdr.type) != NULL;
    if (result == UBC_WIRE_OK && !routed)
        stats->drops[UBC_NET_DROP_NO_ROUTE]++;
    if (!routed) {
        if (result != UBC_WIRE_OK)
            stats->wire_drops[result]++;
        rte_mempool_put(net->msg_pool, msg);
        if (result != UBC_WIRE_OK && ubc_wire_should_refuse(result, &entry->header))
            net_refuse_in_place(net, queue, frame, info, &entry->header,
                                ubc_wire_result_to_err(result), (uint32_t)result);
        else if (result == UBC_WIRE_OK)
            net_refuse_request(net, queue, frame, info, &entry->header, UBC_ERR_UNKNOWN_TYPE);
        else
            rte_pktmbuf_free(frame);
        return;
    }
    stats->rx_by_type[msg->hdr.type & UBC_MSG_TYPE_MAX]++;
    net_stamp(net, msg, info, now_tsc);
    if (msg->hdr.type == UBC_MSG_LEDGER_OP) {
        net_handle_ledger_group(net, queue, frame, info, &entry->header, msg);
        return;
    }
    UBC_ASSERT(info == &entry->info); /* classified in place (net_handle_frame) */
    entry->msg = msg;
    entry->frame = frame;
    (*pending_count)++;
}

/* What the device vouched for; nothing (no reads of ol_flags) on a port
 * without checksum offload, as the virtual ones are. */
static inline uint32_t
net_rx_flags(const struct ubc_net *net, const struct rte_mbuf *frame)
{
    if (!net->rx_checksum_offload)
        return 0;
    uint32_t flags = 0;
    if ((frame->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_GOOD)
        flags |= UBC_PKT_RX_IP_CHECKSUM_GOOD;
    if ((frame->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_GOOD)
        flags |= UBC_PKT_RX_L4_CHECKSUM_GOOD;
    return flags;
}

static void
net_handle_frame(struct ubc_net *net, uint16_t queue, struct rte_mbuf *frame, uint64_t now_tsc,
                 struct net_pending *pending, uint32_t *pending_count)
{
    struct ubc_net_queue_stats *stats = &net->stats[queue];
    if (frame->nb_segs != 1) {
        stats->drops[UBC_NET_DROP_MULTI_SEGMENT]++;
        rte_pktmbuf_free(frame);
        return;
    }
    uint8_t *data = rte_pktmbuf_mtod(frame, uint8_t *);
    size_t length = rte_pktmbuf_data_len(frame);
    /* Classified into the next pending entry: a datagram that joins the
     * batch keeps it there, with no copy; any other frame leaves the entry
     * free for the next. */
    struct ubc_pkt_info *info = &pending[*pending_count].info;
    switch (ubc_pkt_classify(data, length, &net->self, net_rx_flags(net, frame), info)) {
    case UBC_PKT_ARP_REQUEST:
        stats->arp_replies++;
        net_tx_frame(net, queue, frame, ubc_pkt_arp_reply(data, length, info, &net->self));
        return;
    case UBC_PKT_ICMP_ECHO:
        stats->icmp_replies++;
        net_tx_frame(net, queue, frame, ubc_pkt_icmp_echo_reply(data, length, info, &net->self));
        return;
    case UBC_PKT_UBC:
        net_handle_datagram(net, queue, frame, info, now_tsc, pending, pending_count);
        return;
    case UBC_PKT_DROP: break;
    }
    UBC_ASSERT(info->drop < UBC_PKT_DROP_COUNT);
    stats->frame_drops[info->drop]++;
    rte_pktmbuf_free(frame);
}

/* Keeps decoded request frames for the next replies (ubc_net.h), as far
 * as the stash has room; a frame that is not a plain mbuf as big as the
 * port's (indirect, shared, chained, small) is freed. */
static void
net_recycle(struct ubc_net *net, struct rte_mbuf **frames, uint32_t n)
{
    struct rte_mbuf *rest[UBC_NET_BURST_MAX];
    uint32_t rest_count = 0;
    UBC_ASSERT(n <= UBC_NET_BURST_MAX);
    for (uint32_t i = 0; i < n; i++) {
        struct rte_mbuf *frame = frames[i];
        if (net->recycled_count < net->config.burst_size &&
            frame->buf_len >= net->recycle_buf_len_min && RTE_MBUF_DIRECT(frame) &&
            rte_mbuf_refcnt_read(frame) == 1 && frame->nb_segs == 1 && frame->next == NULL) {
            /* Reset now, while its header lines are in the cache: by the
             * time a reply takes it they are not, and the reset's
             * read-modify-write of ol_flags waited for them. */
            rte_pktmbuf_reset(frame);
            net->recycled[net->recycled_count++] = frame;
        } else
            rest[rest_count++] = frame;
    }
    if (rest_count > 0)
        rte_pktmbuf_free_bulk(rest, rest_count);
}

/* n fresh frames for replies: recycled requests first, the pool for the
 * rest. Returns 0, or -ENOBUFS with nothing taken. */
static int
net_frames_take(struct ubc_net *net, struct rte_mbuf **frames, uint32_t n)
{
    uint32_t reused = n < net->recycled_count ? n : net->recycled_count;
    for (uint32_t i = 0; i < reused; i++)
        frames[i] = net->recycled[--net->recycled_count]; /* reset when stashed */
    if (reused == n ||
        rte_pktmbuf_alloc_bulk(net->port->mbuf_pool, frames + reused, n - reused) == 0)
        return 0;
    for (uint32_t i = 0; i < reused; i++)
        net->recycled[net->recycled_count++] = frames[i];
    return -ENOBUFS;
}

/* Gives the stash back to the pool (stopping, or before the port closes). */
static void
net_recycled_release(struct ubc_net *net)
{
    if (net->recycled_count > 0)
        rte_pktmbuf_free_bulk(net->recycled, net->recycled_count);
    net->recycled_count = 0;
}

/* Hands the burst's messages to sched in one ring burst; those that did not
 * fit are refused "overloaded" in place: the client retries with back-off,
 * rx never blocks and nothing grows. */
static void
net_flush_pending(struct ubc_net *net, uint16_t queue, struct net_pending *pending, uint32_t count)
{
    struct ubc_msg *msgs[UBC_NET_BURST_MAX];
    for (uint32_t i = 0; i < count; i++)
        msgs[i] = pending[i].msg;
    uint32_t sent = count ? ubc_link_send_burst(net->to_sched, msgs, count) : 0;
    struct rte_mbuf *frames[UBC_NET_BURST_MAX];
    for (uint32_t i = 0; i < sent; i++)
        frames[i] = pending[i].frame;
    net_recycle(net, frames, sent); /* the requests, decoded: their frames carry replies */
    for (uint32_t i = sent; i < count; i++) {
        net->stats[queue].drops[UBC_NET_DROP_OVERLOADED]++;
        rte_mempool_put(net->msg_pool, pending[i].msg);
        net_refuse_in_place(net, queue, pending[i].frame, &pending[i].info, &pending[i].header,
                            UBC_ERR_OVERLOADED, 0);
    }
}

/* A reply encoded into its frame, waiting for its headers. */
struct net_outgoing {
    struct rte_mbuf *frame;
    const struct ubc_peer *peer;
    size_t payload_len;
    uint16_t type;
    bool revocation;
};

/* Encodes a message from a role into a fresh frame, at the payload offset;
 * returns false (frame freed, drop counted) when it goes nowhere. */
static bool
net_encode_message(struct ubc_net *net, uint16_t queue, const struct ubc_msg *msg,
                   struct net_outgoing *out)
{
    struct ubc_net_queue_stats *stats = &net->stats[queue];
    const struct ubc_peer *peer = NULL;
    if (ubc_net_peer_instance(msg->hdr.peer) == net->config.instance)
        peer = ubc_peer_get(net->peers, msg->hdr.peer & UBC_NET_PEER_SLOT_MASK, msg->hdr.peer_gen);
    if (peer == NULL) {
        stats->drops[UBC_NET_DROP_STALE_PEER]++;
        rte_pktmbuf_free(out->frame);
        return false;
    }
    uint8_t *data = rte_pktmbuf_mtod(out->frame, uint8_t *);
    size_t cap = rte_pktmbuf_tailroom(out->frame);
    size_t offset = ubc_pkt_udp_payload_offset(false);
    if (ubc_wire_encode(msg, &net->origin, data + offset, cap - offset, &out->payload_len) !=
        UBC_WIRE_OK) {
        stats->drops[UBC_NET_DROP_ENCODE]++;
        rte_pktmbuf_free(out->frame);
        return false;
    }
    out->peer = peer;
    out->type = msg->hdr.type;
    /* A revocation goes out as an ASSIGNMENT with the REVOKE flag (the codec). */
    out->revocation =
        msg->hdr.type == UBC_MSG_ASSIGNMENT && (msg->hdr.flags & UBC_MSG_FLAG_REVOKE) != 0;
    return true;
}

/* Frames an encoded reply (Ethernet, IPv4, UDP and their checksums);
 * false (frame freed, drop counted) when it does not fit. */
static bool
net_frame_encoded(struct ubc_net *net, uint16_t queue, const struct net_outgoing *out)
{
    struct ubc_net_queue_stats *stats = &net->stats[queue];
    uint8_t *data = rte_pktmbuf_mtod(out->frame, uint8_t *);
    size_t length = ubc_pkt_udp_build(data, rte_pktmbuf_tailroom(out->frame), &net->self,
                                      &out->peer->address, false, 0, out->payload_len,
                                      net_tx_checksum_flags(net, out->frame, false));
    if (length == 0) {
        stats->drops[UBC_NET_DROP_ENCODE]++;
        rte_pktmbuf_free(out->frame);
        return false;
    }
    net_frame_length_set(out->frame, length);
    stats->tx_by_type[out->type & UBC_MSG_TYPE_MAX]++;
    stats->revocations_sent += out->revocation;
    return true;
}

/* A burst of framed replies in one tx burst, not one tx-buffer append
 * each; what the buffer already holds goes first (order kept). What the
 * queue refuses goes to the buffer's callback: dropped and counted. */
static void
net_tx_burst(struct ubc_net *net, uint16_t queue, struct rte_mbuf **frames, uint16_t n)
{
    struct ubc_net_queue_stats *stats = &net->stats[queue];
    if (net->tx_buffer[queue]->length > 0)
        stats->tx_packets +=
            rte_eth_tx_buffer_flush(net->port->port_id, queue, net->tx_buffer[queue]);
    uint16_t sent = n > 0 ? rte_eth_tx_burst(net->port->port_id, queue, frames, n) : 0;
    stats->tx_packets += sent;
    if (sent < n)
        net_tx_error_callback(frames + sent, (uint16_t)(n - sent), stats);
}

/* Sends the replies one role queued for peers (acks, refusals, assignments,
 * ledger results) in one burst, on the instance's first queue. The whole
 * burst is encoded before any frame gets its headers: the UDP checksum
 * reads the payload back, and reading bytes just stored one field at a
 * time stalls on store forwarding; a burst later they are in the cache. */
static uint32_t
net_tx_replies_from(struct ubc_net *net, struct ubc_link *link)
{
    struct ubc_msg *msgs[UBC_NET_BURST_MAX];
    struct rte_mbuf *frames[UBC_NET_BURST_MAX];
    struct net_outgoing outgoing[UBC_NET_BURST_MAX];
    uint32_t n = ubc_link_recv_burst(link, msgs, net->config.burst_size);
    if (n == 0)
        return 0;
    uint16_t queue = net->config.queues[0];
    if (net_frames_take(net, frames, n) != 0) {
        net->stats[queue].drops[UBC_NET_DROP_NO_MBUF] += n;
    } else {
        uint32_t encoded = 0;
        for (uint32_t i = 0; i < n; i++) {
            outgoing[encoded].frame = frames[i];
            encoded += net_encode_message(net, queue, msgs[i], &outgoing[encoded]);
        }
        uint16_t framed = 0;
        for (uint32_t i = 0; i < encoded; i++) {
            if (net_frame_encoded(net, queue, &outgoing[i]))
                frames[framed++] = outgoing[i].frame;
        }
        net_tx_burst(net, queue, frames, framed);
    }
    rte_mempool_put_bulk(net->msg_pool, (void **)msgs, n);
    return n;
}

static uint32_t
net_tx_replies(struct ubc_net *net)
{
    uint32_t work = 0;
    for (uint32_t i = 0; i < net->input_count; i++)
        work += net_tx_replies_from(net, net->inputs[i]);
    return work;
}

static uint32_t
net_rx_queue(struct ubc_net *net, uint16_t queue, uint64_t now_tsc)
{
    struct rte_mbuf *frames[UBC_NET_BURST_MAX];
    uint16_t n = rte_eth_rx_burst(net->port->port_id, queue, frames, net->config.burst_size);
    if (n == 0)
        return 0;
    struct ubc_net_queue_stats *stats = &net->stats[queue];
    struct net_pending pending[UBC_NET_BURST_MAX];
    uint32_t pending_count = 0;
    stats->rx_bursts++;
    stats->rx_packets += n;
    /* One bulk take of messages for the burst instead of one get per
     * datagram; what the burst did not use goes back in one put. */
    UBC_ASSERT(net->spare_count == 0);
    if (rte_mempool_get_bulk(net->msg_pool, (void **)net->spare, n) == 0)
        net->spare_count = n;
    for (uint16_t i = 0; i < n; i++) {
        if (i + 1 < n)
            rte_prefetch0(rte_pktmbuf_mtod(frames[i + 1], void *));
        stats->rx_bytes += rte_pktmbuf_pkt_len(frames[i]);
        net_handle_frame(net, queue, frames[i], now_tsc, pending, &pending_count);
    }
    if (net->spare_count > 0)
        rte_mempool_put_bulk(net->msg_pool, (void **)net->spare, net->spare_count);
    net->spare_count = 0;
    net_flush_pending(net, queue, pending, pending_count);
    return n;
}

static void
net_drain_tx(struct ubc_net *net)
{
    for (uint16_t i = 0; i < net->config.queue_count; i++) {
        uint16_t q = net->config.queues[i];
        uint16_t sent = rte_eth_tx_buffer_flush(net->port->port_id, q, net->tx_buffer[q]);
        net->stats[q].tx_packets += sent;
    }
}

uint32_t
ubc_net_poll(void *ctx, uint64_t now_tsc)
{
    struct ubc_net *net = ctx;
    /* Every burst of this call is inside the guard: the driver tears the
     * link down only after we left (ubc_port_guard.h). */
    ubc_port_guard_enter(net->guard_poller);
    uint32_t work = net_tx_replies(net);
    /* Stopping: no new work comes in, replies still go out. */
    if (!__atomic_load_n(net->config.stopping, __ATOMIC_ACQUIRE)) {
        for (uint16_t i = 0; i < net->config.queue_count; i++)
            work += net_rx_queue(net, net->config.queues[i], now_tsc);
    }
    if (now_tsc >= net->next_drain_tsc) {
        net_drain_tx(net);
        net->next_drain_tsc = now_tsc + net->tx_drain_tsc;
    }
    ubc_port_guard_leave(net->guard_poller);
    return work;
}

void
ubc_net_housekeep(void *ctx, uint64_t now_tsc)
{
    struct ubc_net *net = ctx;
    ubc_port_guard_enter(net->guard_poller);
    net_drain_tx(net);
    ubc_port_guard_leave(net->guard_poller);
    net->next_drain_tsc = now_tsc + net->tx_drain_tsc;
}

bool
ubc_net_drained(void *ctx)
{
    struct ubc_net *net = ctx;
    ubc_port_guard_enter(net->guard_poller);
    net_drain_tx(net);
    ubc_port_guard_leave(net->guard_poller);
    net_recycled_release(net);
    for (uint32_t i = 0; i < net->input_count; i++) {
        if (ubc_link_count(net->inputs[i]) != 0)
            return false;
    }
    return true;
}
