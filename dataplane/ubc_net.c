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
    [UBC_NET_DROP_NOT_IP] = "not-ip",
    [UBC_NET_DROP_NOT_FOR_US] = "not-for-us",
    [UBC_NET_DROP_BAD_IP] = "bad-ip",
    [UBC_NET_DROP_FRAGMENT] = "fragment",
    [UBC_NET_DROP_NOT_UDP] = "not-udp",
    [UBC_NET_DROP_WRONG_PORT] = "wrong-port",
    [UBC_NET_DROP_BAD_UDP] = "bad-udp",
    [UBC_NET_DROP_BAD_MESSAGE] = "bad-message",
    [UBC_NET_DROP_NO_ROUTE] = "no-route",
    [UBC_NET_DROP_OVERLOADED] = "overloaded",
    [UBC_NET_DROP_NO_MSG] = "no-message-buffer",
    [UBC_NET_DROP_PEERS_FULL] = "peers-full",
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

int
ubc_net_init(struct ubc_net *net, const struct ubc_net_config *config, struct ubc_net_port *port,
             struct rte_mempool *msg_pool, struct ubc_link *to_sched, struct ubc_link *from_sched)
{
    UBC_ASSERT(net != NULL && config != NULL && port != NULL && msg_pool != NULL);
    UBC_ASSERT(port->queues <= UBC_NET_QUEUES_MAX && config->burst_size <= UBC_NET_BURST_MAX);
    memset(net, 0, sizeof(*net));
    net->config = *config;
    net->port = port;
    net->msg_pool = msg_pool;
    net->to_sched = to_sched;
    net->from_sched = from_sched;
    size_t footprint = ubc_peer_table_footprint(config->peers_max);
    if (footprint == 0)
        return -EINVAL;
    void *memory = rte_zmalloc_socket("peers", footprint, ubc_peer_table_align(), port->socket_id);
    net->peers = ubc_peer_table_new(memory, config->peers_max);
    if (net->peers == NULL)
        return -ENOMEM;
    for (uint16_t q = 0; q < port->queues; q++) {
        net->tx_buffer[q] = rte_zmalloc_socket(
            "tx_buffer", RTE_ETH_TX_BUFFER_SIZE(config->burst_size), 64, port->socket_id);
        if (net->tx_buffer[q] == NULL)
            return -ENOMEM;
        rte_eth_tx_buffer_init(net->tx_buffer[q], config->burst_size);
        rte_eth_tx_buffer_set_err_callback(net->tx_buffer[q], net_tx_error_callback,
                                           &net->stats[q]);
    }
    net->tx_drain_tsc = config->tsc_hz * config->tx_drain_us / 1000000;
    return 0;
}

void
ubc_net_fini(struct ubc_net *net)
{
    for (uint16_t q = 0; q < UBC_NET_QUEUES_MAX; q++) {
        rte_free(net->tx_buffer[q]);
        net->tx_buffer[q] = NULL;
    }
    rte_free(net->peers);
    net->peers = NULL;
}

/* Interim until the wire codec lands: frames are counted and dropped. */
static void
net_handle_frame(struct ubc_net *net, uint16_t queue, struct rte_mbuf *frame, uint64_t now_tsc)
{
    (void)now_tsc;
    net->stats[queue].drops[UBC_NET_DROP_NOT_IP]++;
    rte_pktmbuf_free(frame);
}

static void
net_send_message(struct ubc_net *net, uint16_t queue, const struct ubc_msg *msg, uint64_t now_tsc)
{
    (void)now_tsc, (void)msg;
    net->stats[queue].tx_dropped++;
}

/* Sends the replies other roles queued for peers (acks, refusals,
 * assignments) in one burst. */
static uint32_t
net_tx_replies(struct ubc_net *net, uint64_t now_tsc)
{
    struct ubc_msg *msgs[UBC_NET_BURST_MAX];
    uint32_t n = ubc_link_recv_burst(net->from_sched, msgs, net->config.burst_size);
    for (uint32_t i = 0; i < n; i++)
        net_send_message(net, 0, msgs[i], now_tsc);
    if (n > 0)
        rte_mempool_put_bulk(net->msg_pool, (void **)msgs, n);
    return n;
}

static uint32_t
net_rx_queue(struct ubc_net *net, uint16_t queue, uint64_t now_tsc)
{
    struct rte_mbuf *frames[UBC_NET_BURST_MAX];
    uint16_t n = rte_eth_rx_burst(net->port->port_id, queue, frames, net->config.burst_size);
    if (n == 0)
        return 0;
    struct ubc_net_queue_stats *stats = &net->stats[queue];
    stats->rx_bursts++;
    stats->rx_packets += n;
    for (uint16_t i = 0; i < n; i++) {
        if (i + 1 < n)
            rte_prefetch0(rte_pktmbuf_mtod(frames[i + 1], void *));
        stats->rx_bytes += rte_pktmbuf_pkt_len(frames[i]);
        net_handle_frame(net, queue, frames[i], now_tsc);
    }
    return n;
}

static void
net_drain_tx(struct ubc_net *net)
{
    for (uint16_t q = 0; q < net->port->queues; q++) {
        uint16_t sent = rte_eth_tx_buffer_flush(net->port->port_id, q, net->tx_buffer[q]);
        net->stats[q].tx_packets += sent;
    }
}

uint32_t
ubc_net_poll(void *ctx, uint64_t now_tsc)
{
    struct ubc_net *net = ctx;
    uint32_t work = net_tx_replies(net, now_tsc);
    if (!*net->config.stopping) { /* stopping: no new work in, replies still out */
        for (uint16_t q = 0; q < net->port->queues; q++)
            work += net_rx_queue(net, q, now_tsc);
    }
    if (now_tsc >= net->next_drain_tsc) {
        net_drain_tx(net);
        net->next_drain_tsc = now_tsc + net->tx_drain_tsc;
    }
    return work;
}

void
ubc_net_housekeep(void *ctx, uint64_t now_tsc)
{
    struct ubc_net *net = ctx;
    net_drain_tx(net);
    net->next_drain_tsc = now_tsc + net->tx_drain_tsc;
}

bool
ubc_net_drained(void *ctx)
{
    struct ubc_net *net = ctx;
    net_drain_tx(net);
    return ubc_link_count(net->from_sched) == 0;
}
