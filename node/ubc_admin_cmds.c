/* ubc_admin_cmds.c: node commands on the admin socket (see .h). */
#include "node/ubc_admin_cmds.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>

#include "common/ubc_assert.h"
#include "control/ubc_admin.h"
#include "node/ubc_log.h"
#include "node/ubc_role_disk.h"
#include "node/ubc_role_sched.h"
#include "node/ubc_start.h"

static struct ubc_admin *admin_current;

static double
cmds_uptime_s(const struct ubc_node *node)
{
    return (double)(rte_rdtsc() - node->start_tsc) / (double)node->tsc_hz;
}

static json_t *
cmds_roles_json(const struct ubc_node *node)
{
    json_t *roles = json_array();
    for (uint32_t role = 0; role < UBC_ROLE_COUNT; role++)
        json_array_append_new(roles, json_pack("{s:s,s:i}", "role", ubc_role_name(role), "lcore",
                                               (json_int_t)node->config.role_lcore[role]));
    return roles;
}

static json_t *
cmds_alarms_json(const struct ubc_node *node)
{
    json_t *alarms = json_array();
    struct ubc_net_port_link link;
    ubc_net_port_link(&node->port, &link);
    if (!link.up)
        json_array_append_new(alarms, json_string("port link down"));
    if (node->disk != NULL && __atomic_load_n(&node->disk->read_only, __ATOMIC_ACQUIRE) != 0) {
        char text[224];
        snprintf(text, sizeof(text), "journal read-only (new jobs refused): %s",
                 node->disk->read_only_reason);
        json_array_append_new(alarms, json_string(text));
    }
    for (int i = 0; i < UBC_LINK_COUNT; i++) {
        if (node->links[i].stats.full > 0) {
            char text[96];
            snprintf(text, sizeof(text), "ring %s has refused messages (full)",
                     node->links[i].name);
            json_array_append_new(alarms, json_string(text));
        }
    }
    return alarms;
}

static json_t *
cmds_port_summary_json(const struct ubc_node *node)
{
    struct ubc_net_port_link link;
    ubc_net_port_link(&node->port, &link);
    struct rte_eth_stats eth;
    memset(&eth, 0, sizeof(eth));
    rte_eth_stats_get(node->port.port_id, &eth);
    return json_pack("{s:s,s:s,s:b,s:i,s:I,s:I,s:I,s:I}", "name", node->port.name, "driver",
                     node->port.driver, "link_up", link.up, "speed_mbps",
                     (json_int_t)link.speed_mbps, "rx_packets", (json_int_t)eth.ipackets,
                     "tx_packets", (json_int_t)eth.opackets, "rx_missed", (json_int_t)eth.imissed,
                     "rx_no_mbuf", (json_int_t)eth.rx_nombuf);
}

static int
cmd_status(void *ctx, const json_t *args, json_t **result, char *error, size_t error_cap)
{
    (void)args, (void)error, (void)error_cap;
    struct ubc_node *node = ctx;
    *result =
        json_pack("{s:s,s:s,s:s,s:f,s:i,s:s,s:s,s:o,s:o,s:o}", "node", node->config.node_name,
                  "version", UBC_VERSION, "state", node->state, "uptime_s", cmds_uptime_s(node),
                  "pid", (json_int_t)getpid(), "data_dir", node->config.data_dir, "admin_socket",
                  node->config.admin_socket, "roles", cmds_roles_json(node), "port",
                  cmds_port_summary_json(node), "alarms", cmds_alarms_json(node));
    return *result ? 0 : -ENOMEM;
}

/* The loop and index that run a role. */
static const struct ubc_role_stats *
cmds_role_stats(const struct ubc_node *node, uint32_t role)
{
    const struct ubc_loop *loop = &node->loops[node->config.role_lcore[role]];
    for (uint32_t i = 0; i < loop->role_count; i++) {
        if (strcmp(loop->roles[i].name, ubc_role_name(role)) == 0)
            return &loop->role_stats[i];
    }
    return NULL;
}

static json_t *
cmds_by_type_json(const uint64_t *counts)
{
    json_t *object = json_object();
    for (uint32_t type = 0; type <= UBC_MSG_TYPE_MAX; type++) {
        if (counts[type] != 0)
            json_object_set_new(object, ubc_msg_type_name((uint16_t)type),
                                json_integer((json_int_t)counts[type]));
    }
    return object;
}

static json_t *
cmds_role_stats_json(const struct ubc_node *node)
{
    json_t *roles = json_object();
    for (uint32_t role = 0; role < UBC_ROLE_COUNT; role++) {
        const struct ubc_role_stats *stats = cmds_role_stats(node, role);
        if (stats == NULL)
            continue;
        json_object_set_new(
            roles, ubc_role_name(role),
            json_pack("{s:i,s:i,s:i,s:i,s:i,s:o}", "lcore",
                      (json_int_t)node->config.role_lcore[role], "polls", (json_int_t)stats->polls,
                      "busy_polls", (json_int_t)stats->busy_polls, "items",
                      (json_int_t)stats->items, "control_requests",
                      (json_int_t)node->roles[role].control_requests, "handled_by_type",
                      cmds_by_type_json(node->roles[role].handled_by_type)));
    }
    return roles;
}

static json_t *
cmds_ring_json(const struct ubc_link *link)
{
    struct ubc_link_stats stats;
    ubc_link_stats_read(link, &stats);
    return json_pack("{s:s,s:i,s:i,s:i,s:i,s:i,s:i}", "ring", link->name, "depth",
                     (json_int_t)ubc_link_count(link), "capacity",
                     (json_int_t)rte_ring_get_capacity(link->ring), "enqueued",
                     (json_int_t)stats.enqueued, "dequeued", (json_int_t)stats.dequeued, "full",
                     (json_int_t)stats.full, "full_events", (json_int_t)stats.full_events);
}

static json_t *
cmds_rings_json(const struct ubc_node *node)
{
    json_t *rings = json_array();
    for (int i = 0; i < UBC_LINK_COUNT; i++)
        json_array_append_new(rings, cmds_ring_json(&node->links[i]));
    /* The links toward net instances beyond those in the table. */
    for (uint32_t role = 0; role < UBC_ROLE_COUNT; role++) {
        for (uint32_t i = 0; i < UBC_NET_INSTANCES_MAX; i++) {
            if (node->net_reply_links[role][i].ring != NULL)
                json_array_append_new(rings, cmds_ring_json(&node->net_reply_links[role][i]));
        }
    }
    return rings;
}

static json_t *
cmds_queue_json(const struct ubc_net_queue_stats *q, uint16_t queue)
{
    /* Drops by layer: the frame (Ethernet..UDP), the datagram (UBC header
     * and payload), and the node (routing, rings, pools). */
    json_t *frame = json_object(), *wire = json_object(), *node = json_object();
    for (int reason = 1; reason < UBC_PKT_DROP_COUNT; reason++)
        json_object_set_new(frame, ubc_pkt_drop_name(reason),
                            json_integer((json_int_t)q->frame_drops[reason]));
    for (int reason = 1; reason < UBC_WIRE_RESULT_COUNT; reason++)
        json_object_set_new(wire, ubc_wire_result_name(reason),
                            json_integer((json_int_t)q->wire_drops[reason]));
    for (int reason = 0; reason < UBC_NET_DROP_COUNT; reason++)
        json_object_set_new(node, ubc_net_drop_name(reason),
                            json_integer((json_int_t)q->drops[reason]));
    json_t *drops = json_pack("{s:o,s:o,s:o}", "frame", frame, "wire", wire, "node", node);
    return json_pack("{s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:o,s:o,s:o}", "queue",
                     (json_int_t)queue, "rx_packets", (json_int_t)q->rx_packets, "rx_bytes",
                     (json_int_t)q->rx_bytes, "rx_bursts", (json_int_t)q->rx_bursts, "tx_packets",
                     (json_int_t)q->tx_packets, "tx_dropped", (json_int_t)q->tx_dropped,
                     "arp_replies", (json_int_t)q->arp_replies, "icmp_replies",
                     (json_int_t)q->icmp_replies, "refusals_sent", (json_int_t)q->refusals_sent,
                     "drops", drops, "rx_by_type", cmds_by_type_json(q->rx_by_type), "tx_by_type",
                     cmds_by_type_json(q->tx_by_type));
}

static uint64_t
cmds_net_peers(const struct ubc_node *node)
{
    uint64_t peers = 0;
    for (uint32_t i = 0; i < node->net_count; i++)
        peers += node->net[i].peers->used;
    return peers;
}

/* One entry per net instance: its lcore, its queues, its peers, and its
 * counters summed over its queues. */
static json_t *
cmds_net_instances_json(const struct ubc_node *node)
{
    json_t *instances = json_array();
    for (uint32_t i = 0; i < node->net_count; i++) {
        const struct ubc_net *net = &node->net[i];
        json_t *queues = json_array();
        uint64_t rx = 0, tx = 0, refusals = 0;
        for (uint16_t k = 0; k < net->config.queue_count; k++) {
            const struct ubc_net_queue_stats *q = &net->stats[net->config.queues[k]];
            json_array_append_new(queues, json_integer(net->config.queues[k]));
            rx += q->rx_packets, tx += q->tx_packets, refusals += q->refusals_sent;
        }
        json_array_append_new(
            instances,
            json_pack("{s:i,s:i,s:o,s:i,s:i,s:i,s:i,s:i}", "instance", (json_int_t)i, "lcore",
                      (json_int_t)node->config.net_instance_lcore[i], "queues", queues, "peers",
                      (json_int_t)net->peers->used, "peer_evictions",
                      (json_int_t)net->peers->evictions, "rx_packets", (json_int_t)rx, "tx_packets",
                      (json_int_t)tx, "refusals_sent", (json_int_t)refusals));
    }
    return instances;
}

static json_t *
cmds_ports_json(const struct ubc_node *node)
{
    const struct ubc_net_port *port = &node->port;
    struct rte_eth_stats eth;
    memset(&eth, 0, sizeof(eth));
    rte_eth_stats_get(port->port_id, &eth);
    struct ubc_net_port_link link;
    ubc_net_port_link(port, &link);
    char mac[RTE_ETHER_ADDR_FMT_SIZE];
    rte_ether_format_addr(mac, sizeof(mac), &port->mac);
    json_t *queues = json_array();
    for (uint16_t q = 0; q < port->queues && node->net_count > 0; q++) {
        /* Queue q belongs to instance q mod net_count (ubc_start.c). */
        uint32_t instance = q % node->net_count;
        json_t *queue = cmds_queue_json(&node->net[instance].stats[q], q);
        json_object_set_new(queue, "instance", json_integer((json_int_t)instance));
        json_object_set_new(queue, "ledger_ops",
                            json_integer((json_int_t)node->net[instance].stats[q].ledger_ops));
        json_object_set_new(
            queue, "revocations_sent",
            json_integer((json_int_t)node->net[instance].stats[q].revocations_sent));
        json_array_append_new(queues, queue);
    }
    json_t *one =
        json_pack("{s:s,s:i,s:s,s:s,s:b,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:o}", "name",
                  port->name, "port_id", (json_int_t)port->port_id, "driver", port->driver, "mac",
                  mac, "link_up", link.up, "speed_mbps", (json_int_t)link.speed_mbps, "socket",
                  (json_int_t)port->socket_id, "mbufs", (json_int_t)port->mbuf_count,
                  "mbufs_in_use", (json_int_t)rte_mempool_in_use_count(port->mbuf_pool),
                  "rx_packets", (json_int_t)eth.ipackets, "tx_packets", (json_int_t)eth.opackets,
                  "rx_bytes", (json_int_t)eth.ibytes, "tx_bytes", (json_int_t)eth.obytes,
                  "rx_missed", (json_int_t)eth.imissed, "rx_errors", (json_int_t)eth.ierrors,
                  "rx_no_mbuf", (json_int_t)eth.rx_nombuf, "queues", queues);
    json_object_set_new(one, "tx_errors", json_integer((json_int_t)eth.oerrors));
    json_object_set_new(one, "peers", json_integer((json_int_t)cmds_net_peers(node)));
    json_object_set_new(one, "rss_hash", json_integer((json_int_t)port->rss_hf));
    json_object_set_new(one, "queues_asked", json_integer((json_int_t)port->queues_asked));
    json_object_set_new(one, "rx_checksum_offload", json_boolean(port->rx_checksum_offload));
    json_object_set_new(one, "tx_checksum_offload", json_boolean(port->tx_checksum_offload));
    json_object_set_new(one, "net_instances", cmds_net_instances_json(node));
    /* A peer leaving the link (memif): dataplane/ubc_port_guard.h. */
    const struct ubc_port_guard_stats *guard = &port->guard.stats;
    json_object_set_new(one, "link_downs", json_integer((json_int_t)guard->link_downs));
    json_object_set_new(one, "peer_guard",
                        json_pack("{s:b,s:i,s:I,s:I,s:f}", "hooked", port->guard.hooked,
                                  "hook_result", (json_int_t)port->guard_rc, "grace_periods",
                                  (json_int_t)guard->grace_periods, "grace_waits",
                                  (json_int_t)guard->grace_waits, "grace_wait_us_max",
                                  (double)guard->grace_wait_ns_max / 1000.0));
    json_t *ports = json_array();
    json_array_append_new(ports, one);
    return ports;
}

static json_t *
cmds_lcores_json(const struct ubc_node *node)
{
    json_t *lcores = json_array();
    for (unsigned lcore = 0; lcore < RTE_MAX_LCORE; lcore++) {
        if (!node->lcore_used[lcore])
            continue;
        const struct ubc_loop *loop = &node->loops[lcore];
        json_t *roles = json_array();
        for (uint32_t i = 0; i < loop->role_count; i++)
            json_array_append_new(roles, json_string(loop->roles[i].name));
        const struct ubc_loop_stats *s = &loop->stats;
        double late_avg_us = s->sleeps > s->sleeps_interrupted
                                 ? (double)s->wake_late_ns_total /
                                       (double)(s->sleeps - s->sleeps_interrupted) / 1000.0
                                 : 0.0;
        json_array_append_new(
            lcores, json_pack("{s:i,s:b,s:o,s:b,s:i,s:i,s:i,s:f,s:f}", "lcore", (json_int_t)lcore,
                              "main", lcore == rte_get_main_lcore(), "roles", roles, "busy_poll",
                              loop->config.busy_poll, "iterations", (json_int_t)s->iterations,
                              "idle_iterations", (json_int_t)s->idle_iterations, "sleeps",
                              (json_int_t)s->sleeps, "wake_late_us_avg", late_avg_us,
                              "wake_late_us_max", (double)s->wake_late_ns_max / 1000.0));
    }
    return lcores;
}

static json_t *
cmds_disk_json(struct ubc_node *node)
{
    const struct ubc_role_disk_stats *d = &node->disk->stats;
    json_t *disk =
        json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:i}", "appended", (json_int_t)d->appended, "durable",
                  (json_int_t)d->durable, "failed", (json_int_t)d->failed, "backpressure",
                  (json_int_t)d->backpressure, "replayed_records", (json_int_t)d->replayed_records,
                  "replayed_jobs", (json_int_t)d->replayed_jobs, "read_only_errno",
                  __atomic_load_n(&node->disk->read_only, __ATOMIC_ACQUIRE));
    json_object_set_new(disk, "snapshots", json_integer((json_int_t)d->snapshots));
    json_object_set_new(disk, "snapshot_sequence", json_integer((json_int_t)d->snapshot_sequence));
    json_object_set_new(disk, "snapshot_failures", json_integer((json_int_t)d->snapshot_failures));
    json_object_set_new(disk, "job_set_overflows", json_integer((json_int_t)d->job_set_overflows));
    json_object_set_new(
        disk, "ledger",
        json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "appended", (json_int_t)d->ledger_appended,
                  "replayed_batches", (json_int_t)d->ledger_replayed_batches, "replayed_ops",
                  (json_int_t)d->ledger_replayed_ops, "recovered_without_escrow",
                  (json_int_t)d->recovered_without_escrow, "orphan_refunds",
                  (json_int_t)d->orphan_refunds, "checkpoints", (json_int_t)d->ledger_checkpoints,
                  "checkpoint_height", (json_int_t)d->ledger_checkpoint_height));
    struct ubc_control_request *answer;
    if (ubc_node_control_call(node, UBC_ROLE_DISK, 0, 0, NULL, NULL, 0, 1000, &answer) == 0 &&
        answer->result == 0) {
        const struct ubc_role_disk_report *r = (const void *)answer->reply;
        json_object_set_new(
            disk, "journal",
            json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:b}", "batches",
                      (json_int_t)r->journal.batches, "bytes_written",
                      (json_int_t)r->journal.bytes_written, "fsyncs", (json_int_t)r->journal.fsyncs,
                      "requeues", (json_int_t)r->journal.requeues, "short_writes",
                      (json_int_t)r->journal.short_writes, "segments_created",
                      (json_int_t)r->journal.segments_created, "durable_sequence",
                      (json_int_t)r->durable_sequence, "next_sequence",
                      (json_int_t)r->next_sequence, "direct_io", r->journal.direct_io));
        /* Batches the chain role linked (disk.chain_offload); the rest the disk role did. */
        json_object_set_new(json_object_get(disk, "journal"), "chain_batches_offloaded",
                            json_integer((json_int_t)r->journal.chain_batches_offloaded));
        json_object_set_new(json_object_get(disk, "journal"), "segments_retired",
                            json_integer((json_int_t)r->journal.segments_retired));
        json_object_set_new(json_object_get(disk, "journal"), "segments_recycled",
                            json_integer((json_int_t)r->journal.segments_recycled));
        json_object_set_new(disk, "ledger_chain_batches_offloaded",
                            json_integer((json_int_t)r->ledger_journal.chain_batches_offloaded));
    }
    return disk;
}

/* The sched role's bookkeeping of acknowledgements (single-writer counters). */
static json_t *
cmds_admission_json(const struct ubc_node *node)
{
    const struct ubc_role_sched *r = node->sched;
    json_t *out = json_pack(
        "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "acks_deferred", (json_int_t)r->acks_deferred,
        "acks_sent", (json_int_t)r->acks_sent, "refused_escrow", (json_int_t)r->refused_escrow,
        "refused_read_only", (json_int_t)r->refused_read_only, "waiting",
        (json_int_t)r->admission->used, "table_full", (json_int_t)r->admission_full,
        "submits_repeated", (json_int_t)r->submits_repeated, "replies_unaddressed",
        (json_int_t)r->replies_unaddressed);
    /* Assignments wait for their job's escrow: none is sent for a job that cannot pay. */
    json_object_set_new(out, "assignments_parked", json_integer((json_int_t)r->assignments_parked));
    json_object_set_new(out, "assignments_dropped",
                        json_integer((json_int_t)r->assignments_dropped));
    json_object_set_new(out, "parked_full", json_integer((json_int_t)r->parked_full));
    json_object_set_new(out, "revocations_withheld",
                        json_integer((json_int_t)r->revocations_withheld));
    return out;
}

static int
cmd_stats(void *ctx, const json_t *args, json_t **result, char *error, size_t error_cap)
{
    (void)args, (void)error, (void)error_cap;
    struct ubc_node *node = ctx;
    json_t *admin = ubc_admin_counters_json(admin_current);
    json_t *disk = node->disk ? cmds_disk_json(node) : json_null();
    *result = json_pack("{s:f,s:o,s:o,s:o,s:o,s:{s:i,s:i},s:o}", "uptime_s", cmds_uptime_s(node),
                        "roles", cmds_role_stats_json(node), "lcores", cmds_lcores_json(node),
                        "ports", cmds_ports_json(node), "rings", cmds_rings_json(node), "messages",
                        "pool_size", (json_int_t)node->msg_pool->size, "in_use",
                        (json_int_t)rte_mempool_in_use_count(node->msg_pool), "admin",
                        admin ? admin : json_null());
    json_object_set_new(*result, "disk", disk);
    json_object_set_new(*result, "admission", cmds_admission_json(node));
    return *result ? 0 : -ENOMEM;
}

static int
cmd_lcores(void *ctx, const json_t *args, json_t **result, char *error, size_t error_cap)
{
    (void)args, (void)error, (void)error_cap;
    *result = cmds_lcores_json(ctx);
    return *result ? 0 : -ENOMEM;
}

static int
cmd_ports(void *ctx, const json_t *args, json_t **result, char *error, size_t error_cap)
{
    (void)args, (void)error, (void)error_cap;
    *result = cmds_ports_json(ctx);
    return *result ? 0 : -ENOMEM;
}

static int
cmd_rings(void *ctx, const json_t *args, json_t **result, char *error, size_t error_cap)
{
    (void)args, (void)error, (void)error_cap;
    *result = cmds_rings_json(ctx);
    return *result ? 0 : -ENOMEM;
}

static json_t *
cmds_log_levels_json(void)
{
    json_t *levels = json_object();
    for (int m = 0; m < UBC_LOG_MODULE_COUNT; m++)
        json_object_set_new(levels, ubc_log_module_name(m),
                            json_string(ubc_log_level_name(
                                (uint32_t)rte_log_get_level((uint32_t)ubc_log_types[m]))));
    return levels;
}

static int
cmd_log_level(void *ctx, const json_t *args, json_t **result, char *error, size_t error_cap)
{
    (void)ctx;
    const char *module = json_string_value(json_object_get(args, "module"));
    const char *level_name = json_string_value(json_object_get(args, "level"));
    if (level_name != NULL) {
        uint32_t level = ubc_log_level_parse(level_name);
        if (level == 0) {
            snprintf(error, error_cap, "level '%s': expected emerg..debug", level_name);
            return -EINVAL;
        }
        int matched = 0;
        for (int m = 0; m < UBC_LOG_MODULE_COUNT; m++) {
            if (module == NULL || strcmp(module, "all") == 0 ||
                strcmp(module, ubc_log_module_name(m)) == 0) {
                rte_log_set_level((uint32_t)ubc_log_types[m], level);
                matched++;
            }
        }
        if (matched == 0) {
            snprintf(error, error_cap,
                     "module '%s': expected all, net, sched, ledger, "
                     "consensus, disk, node or control",
                     module);
            return -EINVAL;
        }
    }
    *result = cmds_log_levels_json();
    return 0;
}

static int
cmd_shutdown(void *ctx, const json_t *args, json_t **result, char *error, size_t error_cap)
{
    (void)args, (void)error, (void)error_cap;
    struct ubc_node *node = ctx;
    __atomic_store_n(&node->stop, 1, __ATOMIC_RELEASE);
    *result = json_pack("{s:b}", "stopping", 1);
    return 0;
}

static const struct ubc_admin_command cmds_table[] = {
    { "status", "", "node state, uptime, roles and their lcores, port, alarms", cmd_status },
    { "stats", "", "counters per role, lcore, port, queue and ring", cmd_stats },
    { "lcores", "", "run loops: roles per lcore, idle back-off and wake-up cost", cmd_lcores },
    { "ports", "", "ports: link, ethdev counters, per-queue counters and drops", cmd_ports },
    { "rings", "", "role-to-role rings: depth, enqueued, dequeued, full", cmd_rings },
    { "log-level", "[module=all|net|sched|ledger|consensus|disk|node|control] [level=LEVEL]",
      "shows or sets log levels (emerg..debug)", cmd_log_level },
    { "shutdown", "", "stops the node gracefully (drains rings, stops the port)", cmd_shutdown },
};

/* Logs who changed the node's state and who was refused; reads are quiet
 * (debug) so that a `--watch` does not flood the log. */
static void
cmds_audit(void *ctx, const struct ubc_admin_audit *event)
{
    (void)ctx;
    const char *command = event->command ? event->command : "-";
    bool changes = event->command != NULL &&
                   (strcmp(command, "shutdown") == 0 || strcmp(command, "drain") == 0 ||
                    strcmp(command, "undrain") == 0 || strcmp(command, "log-level") == 0);
    if (event->code == UBC_ADMIN_ERR_DENIED || event->code == UBC_ADMIN_ERR_BUSY)
        UBC_LOG(WARNING, UBC_LOG_CONTROL, "refused uid %u pid %d: %s", event->uid, event->pid,
                ubc_admin_error_name(event->code));
    else if (changes)
        UBC_LOG(NOTICE, UBC_LOG_CONTROL, "uid %u pid %d ran %s: %s", event->uid, event->pid,
                command, ubc_admin_error_name(event->code));
    else
        UBC_LOG(DEBUG, UBC_LOG_CONTROL, "uid %u pid %d ran %s: %s (%lu ns)", event->uid, event->pid,
                command, ubc_admin_error_name(event->code), (unsigned long)event->handler_ns);
}

static void
cmds_register(struct ubc_node *node, const struct ubc_admin_command *table, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        int rc = ubc_admin_register(admin_current, table[i].name, table[i].usage, table[i].help,
                                    table[i].fn, node);
        UBC_ASSERT(rc == 0); /* our own tables: names are valid and unique */
    }
}

/* The file mode lets the socket's group in; the group is chosen here. */
static int
cmds_socket_group(struct ubc_node *node, char *error, size_t error_cap)
{
    const char *group = node->config.admin_socket_group;
    uint32_t gid, count = 0;
    if (group[0] == '\0')
        return 0;
    if (ubc_admin_parse_gids(group, &gid, 1, &count) != 0 || count != 1) {
        snprintf(error, error_cap, "config: node.admin_socket_group = '%s': no such group", group);
        return -EINVAL;
    }
    if (chown(node->config.admin_socket, (uid_t)-1, (gid_t)gid) != 0) {
        snprintf(error, error_cap, "%s: cannot give it to group %s: %s", node->config.admin_socket,
                 group, strerror(errno));
        return -errno;
    }
    return 0;
}

int
ubc_admin_cmds_start(struct ubc_node *node, char *error, size_t error_cap)
{
    struct ubc_admin_config config = {
        .socket_path = node->config.admin_socket,
        .socket_mode = node->config.admin_socket_mode,
        .version = UBC_VERSION,
        .audit_fn = cmds_audit,
    };
    if (ubc_admin_parse_uids(node->config.admin_allowed_uids, config.allowed_uids,
                             UBC_ADMIN_IDS_MAX, &config.allowed_uid_count) != 0 ||
        ubc_admin_parse_gids(node->config.admin_allowed_gids, config.allowed_gids,
                             UBC_ADMIN_IDS_MAX, &config.allowed_gid_count) != 0) {
        snprintf(error, error_cap, "node.admin_allowed_uids/gids: unknown user or group");
        return -EINVAL;
    }
    admin_current = ubc_admin_create(&config);
    if (admin_current == NULL) {
        snprintf(error, error_cap, "cannot create: %s", strerror(errno));
        return -errno;
    }
    cmds_register(node, cmds_table, UBC_ARRAY_SIZE(cmds_table));
    uint32_t count;
    const struct ubc_admin_command *sched = ubc_admin_sched_commands(&count);
    cmds_register(node, sched, count);
    const struct ubc_admin_command *ledger = ubc_admin_ledger_commands(&count);
    cmds_register(node, ledger, count);
    int rc = ubc_admin_start(admin_current);
    if (rc != 0) {
        snprintf(error, error_cap, "%s: %s", node->config.admin_socket,
                 rc == -EADDRINUSE ? "another node is listening there" : strerror(-rc));
    } else {
        rc = cmds_socket_group(node, error, error_cap);
    }
    if (rc != 0) {
        ubc_admin_destroy(admin_current);
        admin_current = NULL;
    }
    return rc;
}

void
ubc_admin_cmds_stop(struct ubc_node *node)
{
    (void)node;
    ubc_admin_destroy(admin_current);
    admin_current = NULL;
}
