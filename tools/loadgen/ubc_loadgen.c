/* ubc-loadgen: plays thousands of clients and provider agents against a
 * running ubcd over a DPDK port (docs/loadgen.md).
 *
 *   ubc-loadgen [EAL args --] --port DEVARGS [--rate N --duration S | --find-capacity]
 *               [--clients C] [--providers P] [--json] ...
 *
 * One lcore, one rx/tx queue. The loop: receive a burst and answer or match
 * each frame; send the submissions that the schedule says are due (open
 * loop: send times come from the schedule, never from replies, and latency
 * is measured from the scheduled time so a stalled node cannot hide its
 * stall); finish the provider tasks whose simulated work is done; send the
 * heartbeats that are due; flush tx. Everything is sized at start-up
 * (ubc_loadgen.h); the loop makes no system call except an idle nanosleep
 * when nothing is due for a while (--busy disables it).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <sodium.h>

#include "common/ubc_assert.h"
#include "common/ubc_bench.h"
#include "common/ubc_time.h"
#include "dataplane/wire/ubc_sim_result.h"
#include "tools/loadgen/ubc_loadgen.h"

#define RX_DESC 1024u
#define TX_DESC 1024u
#define MBUF_COUNT 8191u
#define MBUF_CACHE 256u
#define FRAME_ROOM 256u
#define ICMP_ID 0x5542u
#define LATE_NS 1000000ull
#define IDLE_SLEEP_MIN_NS 20000ull
#define IDLE_POLL_NS 50000ull /* an idle loadgen still looks for replies this often */
#define TABLE_MAX (1u << 22)
/* Closed loop: tables sized for this rate (twice the best this 2-core machine
 * reached); beyond it the tables wrap, and the overwrites are counted. */
#define CLOSED_LOOP_RATE_MAX 250000.0

enum exit_code { EXIT_OK = 0, EXIT_LOST = 1, EXIT_USAGE = 2, EXIT_SYSTEM = 4 };

struct loadgen {
    struct ubc_loadgen_options o;
    uint16_t port_id;
    bool port_started;
    struct rte_mempool *pool;
    struct ubc_pkt_self self; /* udp_port_be: base; each identity sends from its own */
    struct ubc_pkt_peer node;
    uint64_t hz;
    uint64_t session_id;
    uint32_t identities; /* clients + providers */
    struct ubc_loadgen_request *requests;
    uint32_t request_mask;
    uint64_t next_sequence;
    uint64_t oldest_sequence; /* every older request was answered or declared lost */
    uint64_t timeout_tsc;
    struct ubc_loadgen_job *jobs;
    uint32_t job_mask;
    uint64_t jobs_submitted; /* job ids first_job .. first_job + jobs_submitted - 1 */
    struct ubc_loadgen_task *tasks;
    uint32_t task_mask;
    uint32_t task_head;
    uint32_t task_tail;
    uint8_t *registered; /* per provider: 0 no, 1 acked, 2 refused */
    uint32_t registered_count;
    uint64_t heartbeat_next_tsc;
    uint64_t heartbeat_step_tsc;
    uint32_t heartbeat_index;
    uint32_t in_flight; /* submissions without an answer (closed loop window) */
    uint32_t pings_in_flight;
    uint16_t ping_sequence;
    struct rte_mbuf *tx[UBC_LOADGEN_BURST_MAX];
    uint32_t tx_count;
    struct ubc_loadgen_counters c;
    struct ubc_histogram *ack_ns;
    struct ubc_histogram *assign_ns;
    struct ubc_histogram *ping_ns;
    struct ubc_histogram *complete_ns;
    uint64_t run_start_tsc;
    uint64_t record_from_tsc; /* latencies of jobs scheduled before this are not recorded */
    uint64_t run_end_tsc;     /* last submission; the drain follows */
    uint64_t port_packets_start;
    uint64_t port_packets_run;
};

static volatile sig_atomic_t stop_requested;

static void
on_signal(int signal_number)
{
    (void)signal_number;
    stop_requested = 1;
}

static uint64_t
tsc_from_ns(const struct loadgen *g, uint64_t ns)
{
    return (uint64_t)((double)ns * (double)g->hz / 1e9);
}

static uint64_t
ns_from_tsc(const struct loadgen *g, uint64_t tsc)
{
    return ubc_time_cycles_to_ns(tsc, g->hz);
}

/* ---- transmit ---- */

static void
tx_flush(struct loadgen *g)
{
    uint32_t sent = 0;
    /* A full tx ring means the node is not polling right now: retry a bounded
     * number of times (it shares our cores), then drop and count. */
    for (int attempt = 0; attempt < 64 && sent < g->tx_count; attempt++)
        sent += rte_eth_tx_burst(g->port_id, 0, g->tx + sent, (uint16_t)(g->tx_count - sent));
    g->c.tx_frames += sent;
    if (sent < g->tx_count) {
        g->c.tx_dropped += g->tx_count - sent;
        rte_pktmbuf_free_bulk(g->tx + sent, g->tx_count - sent);
    }
    g->tx_count = 0;
}

static void
tx_queue(struct loadgen *g, struct rte_mbuf *m)
{
    g->tx[g->tx_count++] = m;
    if (g->tx_count >= g->o.burst)
        tx_flush(g);
}

static struct rte_mbuf *
mbuf_get(struct loadgen *g)
{
    struct rte_mbuf *m = rte_pktmbuf_alloc(g->pool);
    if (m == NULL)
        g->c.mbuf_failed++;
    return m;
}

/* Encodes msg from identity (its UDP port index) toward the node and queues
 * the frame. Returns false when no mbuf was free. */
static bool
send_message(struct loadgen *g, const struct ubc_msg *msg, uint32_t identity, uint64_t sender_id)
{
    struct rte_mbuf *m = mbuf_get(g);
    if (m == NULL)
        return false;
    uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
    size_t offset = ubc_pkt_udp_payload_offset(false);
    struct ubc_wire_origin origin = { .sender_id = sender_id, .session_id = g->session_id };
    size_t payload_len = 0;
    enum ubc_wire_result r =
        ubc_wire_encode(msg, &origin, frame + offset, FRAME_ROOM - offset, &payload_len);
    UBC_ASSERT(r == UBC_WIRE_OK); /* our own messages are valid by construction */
    struct ubc_pkt_self source = g->self;
    source.udp_port_be = rte_cpu_to_be_16((uint16_t)(g->o.base_port + identity));
    size_t len = ubc_pkt_udp_build(frame, FRAME_ROOM, &source, &g->node, false, 0, payload_len, 0);
    UBC_ASSERT(len > 0);
    m->data_len = (uint16_t)len;
    m->pkt_len = (uint32_t)len;
    tx_queue(g, m);
    return true;
}

/* Registers a request in the sequence-indexed table; returns its sequence. */
static uint64_t
request_add(struct loadgen *g, uint16_t type, uint64_t id, uint64_t send_tsc)
{
    uint64_t sequence = g->next_sequence++;
    struct ubc_loadgen_request *e = &g->requests[sequence & g->request_mask];
    if (e->in_use) {
        /* The table holds every request younger than the timeout; wrapping
         * over one means it is older than the table: count it lost. */
        g->c.requests_overwritten++;
        g->c.lost[e->type]++;
        g->c.lost_total++;
        if (e->type == UBC_MSG_JOB_SUBMIT && g->in_flight > 0)
            g->in_flight--;
    }
    *e = (struct ubc_loadgen_request){
        .sequence = sequence, .send_tsc = send_tsc, .id = id, .type = type, .in_use = 1
    };
    return sequence;
}

static void
request_send(struct loadgen *g, struct ubc_msg *msg, uint64_t id, uint32_t identity,
             uint64_t sender_id, uint64_t send_tsc)
{
    msg->hdr.seq = request_add(g, msg->hdr.type, id, send_tsc);
    if (!send_message(g, msg, identity, sender_id)) {
        struct ubc_loadgen_request *e = &g->requests[msg->hdr.seq & g->request_mask];
        e->in_use = 0;
        g->c.lost[msg->hdr.type]++;
        g->c.lost_total++;
        if (msg->hdr.type == UBC_MSG_JOB_SUBMIT && g->in_flight > 0)
            g->in_flight--; /* never left: keep the closed-loop window whole */
    }
}

/* ---- clients ---- */

static struct ubc_loadgen_job *
job_slot(struct loadgen *g, uint64_t job_id)
{
    return &g->jobs[(job_id - g->o.first_job) & g->job_mask];
}

static void
job_submit(struct loadgen *g, uint64_t scheduled_tsc, uint64_t now_tsc)
{
    const struct ubc_loadgen_options *o = &g->o;
    uint64_t index = g->jobs_submitted++;
    uint64_t job_id = o->first_job + index;
    struct ubc_loadgen_job *job = job_slot(g, job_id);
    if (job->job_id != 0 && job->acked && job->assignments < (uint32_t)o->tasks * o->redundancy)
        g->c.jobs_overwritten++;
    *job = (struct ubc_loadgen_job){ .job_id = job_id, .submit_tsc = scheduled_tsc };
    struct ubc_msg msg;
    memset(&msg, 0, sizeof(msg));
    msg.hdr.type = UBC_MSG_JOB_SUBMIT;
    struct ubc_job_submit *s = &msg.u.job_submit;
    s->job_id = job_id;
    memcpy(s->owner, o->owner, UBC_KEY_BYTES);
    s->demand = (struct ubc_resources){ .cpu_millis = o->cpu_millis, .mem_mib = o->mem_mib };
    s->task_count = o->tasks;
    s->redundancy = o->redundancy;
    s->bid_per_task = o->bid_per_task;
    s->work_ms = o->work_ms;
    uint32_t client = (uint32_t)(index % o->clients);
    if (now_tsc - scheduled_tsc > tsc_from_ns(g, LATE_NS) && now_tsc > scheduled_tsc)
        g->c.late_sends++;
    g->c.submitted++;
    g->in_flight++;
    request_send(g, &msg, job_id, client, UBC_LOADGEN_CLIENT_SENDER + client, scheduled_tsc);
}

/* Open loop: job k is due at run_start + k / rate, whatever the replies. */
static uint64_t
clients_open_loop_next_due(const struct loadgen *g)
{
    double period_tsc = (double)g->hz / g->o.rate_per_s;
    return g->run_start_tsc + (uint64_t)((double)g->jobs_submitted * period_tsc);
}

/* At most one burst per call so that rx keeps up when we fall behind. */
static void
clients_open_loop(struct loadgen *g, uint64_t now_tsc)
{
    for (uint32_t n = 0; n < g->o.burst; n++) {
        uint64_t due = clients_open_loop_next_due(g);
        if (due > now_tsc || due >= g->run_end_tsc)
            return;
        job_submit(g, due, now_tsc);
    }
}

/* An open loop still owes jobs that were due before the end of the run. */
static bool
clients_open_loop_owed(const struct loadgen *g)
{
    return !g->o.find_capacity && clients_open_loop_next_due(g) < g->run_end_tsc;
}

/* Closed loop (--find-capacity): keep the window full; latency from the send. */
static void
clients_closed_loop(struct loadgen *g, uint64_t now_tsc)
{
    for (uint32_t n = 0; n < g->o.burst && now_tsc < g->run_end_tsc; n++) {
        if (g->in_flight >= g->o.window)
            return;
        job_submit(g, now_tsc, now_tsc);
    }
}

/* ---- providers ---- */

static uint32_t
provider_identity(const struct loadgen *g, uint32_t provider)
{
    return g->o.clients + provider;
}

static void
provider_register(struct loadgen *g, uint32_t provider, uint64_t now_tsc)
{
    struct ubc_msg msg;
    memset(&msg, 0, sizeof(msg));
    msg.hdr.type = UBC_MSG_PROVIDER_REGISTER;
    struct ubc_provider_register *r = &msg.u.provider_register;
    r->provider_id = g->o.provider_base + provider;
    r->operator_id = r->provider_id; /* distinct operators: replicas may share none */
    memset(r->account, 0xa5, UBC_KEY_BYTES);
    r->capacity = (struct ubc_resources){ .cpu_millis = 1000000000u, .mem_mib = 1000000000u };
    r->price_per_task = 1;
    r->stake = 1000;
    request_send(g, &msg, r->provider_id, provider_identity(g, provider), r->provider_id, now_tsc);
}

static void
provider_send_simple(struct loadgen *g, uint16_t type, uint32_t provider, uint64_t now_tsc)
{
    struct ubc_msg msg;
    memset(&msg, 0, sizeof(msg));
    msg.hdr.type = type;
    msg.u.heartbeat.provider_id = g->o.provider_base + provider;
    if (type == UBC_MSG_PROVIDER_HEARTBEAT) {
        uint32_t running = g->task_tail - g->task_head;
        msg.u.heartbeat.running_tasks = running / (g->o.providers ? g->o.providers : 1);
        g->c.heartbeats_sent++;
    }
    request_send(g, &msg, msg.u.heartbeat.provider_id, provider_identity(g, provider),
                 msg.u.heartbeat.provider_id, now_tsc);
}

/* Heartbeats are spread evenly: one every heartbeat period / providers. */
static void
providers_heartbeat(struct loadgen *g, uint64_t now_tsc)
{
    for (uint32_t n = 0; n < g->o.burst && now_tsc >= g->heartbeat_next_tsc; n++) {
        uint32_t provider = g->heartbeat_index++ % g->o.providers;
        if (g->registered[provider] == 1)
            provider_send_simple(g, UBC_MSG_PROVIDER_HEARTBEAT, provider, now_tsc);
        g->heartbeat_next_tsc += g->heartbeat_step_tsc;
    }
    if (now_tsc > g->heartbeat_next_tsc + 100 * g->heartbeat_step_tsc)
        g->heartbeat_next_tsc = now_tsc; /* we were descheduled: do not burst to catch up */
}

static void
task_finish(struct loadgen *g, const struct ubc_loadgen_task *t, uint64_t now_tsc)
{
    struct ubc_msg msg;
    memset(&msg, 0, sizeof(msg));
    msg.hdr.type = UBC_MSG_TASK_RESULT;
    struct ubc_task_result *r = &msg.u.task_result;
    r->job_id = t->assignment.job_id;
    r->provider_id = t->assignment.provider_id;
    r->task_index = t->assignment.task_index;
    r->replica = t->assignment.replica;
    r->status = UBC_TASK_OK;
    r->run_ms = (uint32_t)t->assignment.work_ms;
    ubc_sim_result_hash(t->assignment.job_id, t->assignment.task_index, 0, r->result_hash);
    uint32_t provider = (uint32_t)(r->provider_id - g->o.provider_base);
    g->c.results_sent++;
    request_send(g, &msg, r->job_id, provider_identity(g, provider), r->provider_id, now_tsc);
}

/* Tasks are queued in arrival order; with one work time for every job (ours
 * all carry --work-ms) that is also their finishing order. */
static void
providers_finish_tasks(struct loadgen *g, uint64_t now_tsc)
{
    for (uint32_t n = 0; n < g->o.burst && g->task_head != g->task_tail; n++) {
        const struct ubc_loadgen_task *t = &g->tasks[g->task_head & g->task_mask];
        if (t->finish_tsc > now_tsc)
            return;
        task_finish(g, t, now_tsc);
        g->task_head++;
    }
}

static void
on_assignment(struct loadgen *g, const struct ubc_assignment *a, uint64_t now_tsc)
{
    uint64_t provider = a->provider_id - g->o.provider_base;
    struct ubc_loadgen_job *job = job_slot(g, a->job_id);
    if (a->provider_id < g->o.provider_base || provider >= g->o.providers ||
        job->job_id != a->job_id) {
        g->c.assignments_unknown++;
        return;
    }
    uint32_t bit = (uint32_t)a->task_index * g->o.redundancy + a->replica;
    uint64_t mask = bit < 64 ? 1ull << bit : 0;
    if (mask != 0 && (job->assigned_mask & mask)) {
        g->c.assignments_duplicate++; /* a retransmission: runs once */
        return;
    }
    job->assigned_mask |= mask;
    job->assignments++;
    g->c.assignments++;
    if (job->submit_tsc >= g->record_from_tsc)
        ubc_histogram_record(g->assign_ns, ns_from_tsc(g, now_tsc - job->submit_tsc));
    if (g->task_tail - g->task_head > g->task_mask) {
        g->c.tasks_overflow++;
        return;
    }
    struct ubc_loadgen_task *t = &g->tasks[g->task_tail++ & g->task_mask];
    t->assignment = *a;
    t->finish_tsc = now_tsc + tsc_from_ns(g, a->work_ms * 1000000ull);
}

/* ---- replies ---- */

static void
on_refusal_code(struct loadgen *g, uint16_t error)
{
    g->c.refusals[error < UBC_ERR_COUNT ? error : UBC_ERR_COUNT]++;
}

static void
on_reply_to_submit(struct loadgen *g, const struct ubc_loadgen_request *e,
                   const struct ubc_msg *msg, uint64_t now_tsc)
{
    struct ubc_loadgen_job *job = job_slot(g, e->id);
    bool ack = msg->hdr.type == UBC_MSG_ACK;
    if (g->in_flight > 0)
        g->in_flight--;
    if (ack) {
        g->c.acked++;
        if (e->send_tsc >= g->record_from_tsc)
            ubc_histogram_record(g->ack_ns, ns_from_tsc(g, now_tsc - e->send_tsc));
    } else {
        g->c.refused++;
        on_refusal_code(g, msg->u.reply.error);
    }
    if (job->job_id == e->id) {
        job->acked = ack;
        job->refused = !ack;
    }
}

static void
on_reply_to_provider(struct loadgen *g, const struct ubc_loadgen_request *e,
                     const struct ubc_msg *msg)
{
    bool ack = msg->hdr.type == UBC_MSG_ACK;
    uint64_t provider = e->id - g->o.provider_base;
    switch (e->type) {
    case UBC_MSG_TASK_RESULT:
        if (ack) {
            g->c.results_acked++;
            struct ubc_loadgen_job *job = job_slot(g, e->id);
            if (job->job_id == e->id)
                job->results_acked++;
        } else {
            g->c.results_refused++;
            on_refusal_code(g, msg->u.reply.error);
        }
        return;
    case UBC_MSG_PROVIDER_REGISTER:
        if (provider < g->o.providers && g->registered[provider] == 0) {
            g->registered[provider] = ack ? 1 : 2;
            g->registered_count++;
        }
        break;
    case UBC_MSG_PROVIDER_HEARTBEAT: g->c.heartbeats_acked += ack; break;
    default: break;
    }
    if (!ack) {
        g->c.other_refused++;
        on_refusal_code(g, msg->u.reply.error);
    }
}

/* The node tells a client when its job ends (completed, validated, failed,
 * cancelled) with a job-status carrying the submission's sequence. */
static void
on_job_status(struct loadgen *g, const struct ubc_reply *reply, uint64_t now_tsc)
{
    struct ubc_loadgen_job *job = job_slot(g, reply->id);
    if (job->job_id != reply->id || reply->id == 0 || job->ended) {
        g->c.replies_unmatched++;
        return;
    }
    job->ended = 1;
    if (reply->state == UBC_LOADGEN_JOB_COMPLETED || reply->state == UBC_LOADGEN_JOB_VALIDATED) {
        g->c.jobs_completed++;
        if (job->submit_tsc >= g->record_from_tsc)
            ubc_histogram_record(g->complete_ns, ns_from_tsc(g, now_tsc - job->submit_tsc));
    } else {
        g->c.jobs_failed++;
        on_refusal_code(g, reply->error);
    }
}

static void
on_reply(struct loadgen *g, const struct ubc_msg *msg, uint64_t now_tsc)
{
    if (msg->hdr.type == UBC_MSG_JOB_STATUS) {
        on_job_status(g, &msg->u.reply, now_tsc);
        return;
    }
    struct ubc_loadgen_request *e = &g->requests[msg->hdr.seq & g->request_mask];
    if (!e->in_use || e->sequence != msg->hdr.seq ||
        (msg->u.reply.id != 0 && msg->u.reply.id != e->id)) {
        g->c.replies_unmatched++;
        return;
    }
    e->in_use = 0;
    if (e->type == UBC_MSG_JOB_SUBMIT)
        on_reply_to_submit(g, e, msg, now_tsc);
    else
        on_reply_to_provider(g, e, msg);
}

/* Declares lost every request older than the timeout. Sequences are issued
 * in time order, so the oldest unanswered one is found by a cursor that only
 * moves forward: amortised O(1) per request. */
static void
requests_expire(struct loadgen *g, uint64_t now_tsc, bool all)
{
    while (g->oldest_sequence < g->next_sequence) {
        struct ubc_loadgen_request *e = &g->requests[g->oldest_sequence & g->request_mask];
        if (e->in_use && e->sequence == g->oldest_sequence) {
            if (!all && now_tsc - e->send_tsc < g->timeout_tsc && now_tsc >= e->send_tsc)
                return;
            e->in_use = 0;
            g->c.lost[e->type]++;
            g->c.lost_total++;
            if (e->type == UBC_MSG_JOB_SUBMIT && g->in_flight > 0)
                g->in_flight--;
        }
        g->oldest_sequence++;
    }
}

/* ---- frames ---- */

static uint16_t
read_be16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

/* The UDP destination port of an untagged IPv4/UDP frame, or 0: it says
 * which of our identities a frame is for before the classifier checks it. */
static uint16_t
frame_udp_destination(const uint8_t *frame, size_t len)
{
    if (len < UBC_PKT_ETHER_BYTES + UBC_PKT_IPV4_BYTES + UBC_PKT_UDP_BYTES ||
        read_be16(frame + 12) != UBC_PKT_ETHERTYPE_IPV4 || frame[14 + 9] != 17)
        return 0;
    size_t l4 = UBC_PKT_ETHER_BYTES + (size_t)(frame[14] & 0x0f) * 4u;
    if (l4 + UBC_PKT_UDP_BYTES > len)
        return 0;
    return read_be16(frame + l4 + 2);
}

/* ARP replies from the node tell us its MAC; echo replies end a ping. The
 * classifier drops both (it serves the node's side), so they are read here. */
static bool
frame_for_us_other(struct loadgen *g, const uint8_t *frame, size_t len, uint64_t now_tsc)
{
    if (len >= 42 && read_be16(frame + 12) == UBC_PKT_ETHERTYPE_ARP && read_be16(frame + 20) == 2 &&
        memcmp(frame + 28, &g->node.ipv4_be, 4) == 0) {
        if (!g->o.node_mac_set) {
            memcpy(g->node.mac, frame + 22, 6);
            g->o.node_mac_set = true;
        }
        return true;
    }
    if (len >= 14 + 20 + 8 + 8 && read_be16(frame + 12) == UBC_PKT_ETHERTYPE_IPV4 &&
        frame[14] == 0x45 && frame[14 + 9] == 1 && frame[34] == 0 &&
        memcmp(frame + 26, &g->node.ipv4_be, 4) == 0 && read_be16(frame + 38) == ICMP_ID) {
        uint64_t sent_tsc;
        memcpy(&sent_tsc, frame + 42, sizeof(sent_tsc));
        if (now_tsc >= sent_tsc)
            ubc_histogram_record(g->ping_ns, ns_from_tsc(g, now_tsc - sent_tsc));
        g->c.pings_received++;
        if (g->pings_in_flight > 0)
            g->pings_in_flight--;
        return true;
    }
    return false;
}

static void
frame_ubc(struct loadgen *g, const uint8_t *frame, const struct ubc_pkt_info *info,
          uint64_t now_tsc)
{
    static const struct ubc_wire_policy policy = { .require_tag = false };
    struct ubc_wire_header header;
    struct ubc_msg msg;
    enum ubc_wire_result r =
        ubc_wire_decode(frame + info->payload_offset, info->payload_len, &policy, &header, &msg);
    if (r != UBC_WIRE_OK) {
        g->c.rx_wire_errors[r]++;
        return;
    }
    switch (msg.hdr.type) {
    case UBC_MSG_ASSIGNMENT: on_assignment(g, &msg.u.assignment, now_tsc); break;
    case UBC_MSG_ACK:
    case UBC_MSG_REFUSAL:
    case UBC_MSG_JOB_STATUS: on_reply(g, &msg, now_tsc); break;
    default: g->c.rx_wire_errors[UBC_WIRE_ERR_UNKNOWN_TYPE]++; break;
    }
}

/* Handles one received frame; returns true when the mbuf was reused for tx. */
static bool
frame_receive(struct loadgen *g, struct rte_mbuf *m, uint64_t now_tsc)
{
    uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
    size_t len = rte_pktmbuf_data_len(m);
    g->c.rx_frames++;
    if (frame_for_us_other(g, frame, len, now_tsc))
        return false;
    struct ubc_pkt_self self = g->self;
    uint16_t port = frame_udp_destination(frame, len);
    if (port >= g->o.base_port && (uint32_t)(port - g->o.base_port) < g->identities)
        self.udp_port_be = rte_cpu_to_be_16(port);
    struct ubc_pkt_info info;
    switch (ubc_pkt_classify(frame, len, &self, 0, &info)) {
    case UBC_PKT_DROP: g->c.rx_drops[info.drop]++; return false;
    case UBC_PKT_ARP_REQUEST:
        ubc_pkt_arp_reply(frame, len, &info, &self);
        g->c.arp_answered++;
        tx_queue(g, m);
        return true;
    case UBC_PKT_ICMP_ECHO:
        ubc_pkt_icmp_echo_reply(frame, len, &info, &self);
        g->c.icmp_answered++;
        tx_queue(g, m);
        return true;
    case UBC_PKT_UBC: frame_ubc(g, frame, &info, now_tsc); return false;
    }
    return false;
}

static uint32_t
rx_poll(struct loadgen *g)
{
    struct rte_mbuf *rx[UBC_LOADGEN_BURST_MAX];
    uint16_t n = rte_eth_rx_burst(g->port_id, 0, rx, (uint16_t)g->o.burst);
    if (n == 0)
        return 0;
    uint64_t now_tsc = rte_rdtsc();
    for (uint16_t i = 0; i < n; i++) {
        if (i + 1 < n)
            rte_prefetch0(rte_pktmbuf_mtod(rx[i + 1], void *));
        if (!frame_receive(g, rx[i], now_tsc))
            rte_pktmbuf_free(rx[i]);
    }
    return n;
}

/* ---- ARP and ICMP toward the node ---- */

static void
send_arp_request(struct loadgen *g)
{
    struct rte_mbuf *m = mbuf_get(g);
    if (m == NULL)
        return;
    uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
    memset(f, 0, 60);
    memset(f, 0xff, 6);
    memcpy(f + 6, g->self.mac, 6);
    static const uint8_t arp_head[10] = { 0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1 };
    memcpy(f + 12, arp_head, sizeof(arp_head));
    memcpy(f + 22, g->self.mac, 6);
    memcpy(f + 28, &g->self.ipv4_be, 4);
    memcpy(f + 38, &g->node.ipv4_be, 4);
    m->data_len = 60;
    m->pkt_len = 60;
    tx_queue(g, m);
}

static void
send_ping(struct loadgen *g)
{
    struct rte_mbuf *m = mbuf_get(g);
    if (m == NULL)
        return;
    uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
    memset(f, 0, 60);
    memcpy(f, g->node.mac, 6);
    memcpy(f + 6, g->self.mac, 6);
    f[12] = 0x08;
    uint8_t *ip = f + 14;
    static const uint8_t ip_head[10] = { 0x45, 0, 0, 36, 0, 0, 0x40, 0, 64, 1 };
    memcpy(ip, ip_head, sizeof(ip_head));
    memcpy(ip + 12, &g->self.ipv4_be, 4);
    memcpy(ip + 16, &g->node.ipv4_be, 4);
    uint16_t sum = ubc_pkt_checksum_fold(ubc_pkt_checksum_add(0, ip, 20));
    ip[10] = (uint8_t)(sum >> 8);
    ip[11] = (uint8_t)sum;
    uint8_t *icmp = ip + 20;
    icmp[0] = 8;
    icmp[4] = ICMP_ID >> 8;
    icmp[5] = ICMP_ID & 0xff;
    icmp[6] = (uint8_t)(g->ping_sequence >> 8);
    icmp[7] = (uint8_t)g->ping_sequence++;
    uint64_t now_tsc = rte_rdtsc();
    memcpy(icmp + 8, &now_tsc, sizeof(now_tsc));
    sum = ubc_pkt_checksum_fold(ubc_pkt_checksum_add(0, icmp, 16));
    icmp[2] = (uint8_t)(sum >> 8);
    icmp[3] = (uint8_t)sum;
    m->data_len = 60;
    m->pkt_len = 60;
    g->c.pings_sent++;
    g->pings_in_flight++;
    tx_queue(g, m);
}

/* ---- phases ---- */

/* Sleeps when the loop found nothing to do and nothing is due soon: the
 * node shares our two cores, and a loadgen that spins on them steals its
 * time. A sleep of at most half the gap keeps the schedule's precision. */
static void
idle_wait(struct loadgen *g, uint64_t now_tsc, uint64_t next_due_tsc)
{
    if (g->o.busy || next_due_tsc <= now_tsc)
        return;
    uint64_t gap_ns = ns_from_tsc(g, next_due_tsc - now_tsc);
    if (gap_ns < IDLE_SLEEP_MIN_NS)
        return;
    uint64_t sleep_ns = gap_ns / 2;
    struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)sleep_ns };
    nanosleep(&ts, NULL);
    g->c.idle_sleeps++;
}

static uint64_t
next_due(const struct loadgen *g, bool submitting, uint64_t now_tsc)
{
    uint64_t due = g->heartbeat_next_tsc;
    if (g->task_head != g->task_tail) {
        uint64_t finish = g->tasks[g->task_head & g->task_mask].finish_tsc;
        due = finish < due ? finish : due;
    }
    if (submitting && !g->o.find_capacity) {
        uint64_t next = clients_open_loop_next_due(g);
        due = next < due ? next : due;
    }
    /* Replies come when they come: poll at least every 100 us for them. */
    uint64_t poll = now_tsc + tsc_from_ns(g, IDLE_POLL_NS);
    return poll < due ? poll : due;
}

/* One iteration of the main loop; returns the number of frames received. */
static uint32_t
loop_once(struct loadgen *g, bool submitting, bool heartbeats)
{
    uint32_t received = rx_poll(g);
    uint64_t now_tsc = rte_rdtsc();
    if (submitting) {
        if (g->o.find_capacity)
            clients_closed_loop(g, now_tsc);
        else
            clients_open_loop(g, now_tsc);
    }
    providers_finish_tasks(g, now_tsc);
    if (heartbeats)
        providers_heartbeat(g, now_tsc);
    requests_expire(g, now_tsc, false);
    if (g->tx_count > 0)
        tx_flush(g);
    if (received == 0)
        idle_wait(g, now_tsc, next_due(g, submitting, now_tsc));
    return received;
}

static int
resolve_node(struct loadgen *g)
{
    uint64_t deadline = rte_rdtsc() + 5 * g->hz;
    uint64_t next_request = 0;
    while (!g->o.node_mac_set && !stop_requested) {
        uint64_t now_tsc = rte_rdtsc();
        if (now_tsc >= deadline) {
            fprintf(stderr, "ubc-loadgen: no ARP reply from the node in 5 s\n");
            return -ETIMEDOUT;
        }
        if (now_tsc >= next_request) {
            send_arp_request(g);
            tx_flush(g);
            next_request = now_tsc + g->hz / 10;
        }
        rx_poll(g);
    }
    return g->o.node_mac_set ? 0 : -EINTR;
}

/* Round trips one at a time through the node's ICMP responder: the link's
 * own latency, the baseline of every latency figure. */
static void
ping_sequential(struct loadgen *g)
{
    for (uint32_t i = 0; i < g->o.ping_count && !stop_requested; i++) {
        send_ping(g);
        tx_flush(g);
        uint64_t deadline = rte_rdtsc() + g->hz / 10;
        while (g->pings_in_flight > 0 && rte_rdtsc() < deadline && !stop_requested)
            rx_poll(g);
        g->pings_in_flight = 0;
    }
}

/* Closed-loop echo flood: the packets per second the link and the node's
 * net role turn around without the scheduler (the baseline of capacity). */
static void
ping_flood(struct loadgen *g)
{
    uint64_t end = rte_rdtsc() + tsc_from_ns(g, (uint64_t)(g->o.duration_s * 1e9));
    uint64_t last_rx = rte_rdtsc();
    g->run_start_tsc = last_rx;
    while (rte_rdtsc() < end && !stop_requested) {
        for (uint32_t n = 0; n < g->o.burst && g->pings_in_flight < g->o.ping_window; n++)
            send_ping(g);
        tx_flush(g);
        uint64_t now_tsc = rte_rdtsc();
        if (rx_poll(g) > 0)
            last_rx = now_tsc;
        else if (now_tsc - last_rx > g->hz / 10) {
            g->pings_in_flight = 0; /* 100 ms of silence: the echoes were lost, refill */
            last_rx = now_tsc;
        }
    }
    g->run_end_tsc = rte_rdtsc();
}

static int
providers_register(struct loadgen *g)
{
    uint64_t deadline = rte_rdtsc() + 10 * g->hz;
    for (uint32_t attempt = 0; g->registered_count < g->o.providers; attempt++) {
        for (uint32_t p = 0; p < g->o.providers; p++) {
            if (g->registered[p] == 0)
                provider_register(g, p, rte_rdtsc());
            if ((p + 1) % g->o.burst == 0)
                rx_poll(g); /* take the acks before the rx ring overflows */
        }
        tx_flush(g);
        uint64_t retry = rte_rdtsc() + g->hz / 5;
        while (g->registered_count < g->o.providers && rte_rdtsc() < retry && !stop_requested)
            loop_once(g, false, false);
        if (stop_requested || rte_rdtsc() > deadline)
            break;
    }
    uint32_t refused = 0;
    for (uint32_t p = 0; p < g->o.providers; p++)
        refused += g->registered[p] != 1;
    if (refused > 0)
        fprintf(stderr, "ubc-loadgen: %u of %u providers not registered\n", refused,
                g->o.providers);
    return refused == g->o.providers && g->o.providers > 0 ? -EIO : 0;
}

/* Everything we wait for has come: every submission answered, every acked
 * job fully assigned, every result answered. */
static bool
all_answered(const struct loadgen *g)
{
    uint64_t expected = g->c.acked * (uint64_t)g->o.tasks * g->o.redundancy;
    return g->in_flight == 0 && g->task_head == g->task_tail &&
           g->c.assignments + g->c.tasks_overflow >= expected &&
           g->c.results_acked + g->c.results_refused + g->c.lost[UBC_MSG_TASK_RESULT] >=
               g->c.results_sent &&
           g->c.jobs_completed + g->c.jobs_failed >= g->c.acked;
}

static uint64_t
port_packets(const struct loadgen *g)
{
    struct rte_eth_stats stats;
    if (rte_eth_stats_get(g->port_id, &stats) != 0)
        return 0;
    return stats.ipackets + stats.opackets;
}

static void
run_load(struct loadgen *g)
{
    g->heartbeat_next_tsc = rte_rdtsc();
    g->port_packets_start = port_packets(g);
    g->run_start_tsc = rte_rdtsc();
    g->record_from_tsc = g->run_start_tsc + tsc_from_ns(g, (uint64_t)(g->o.warmup_s * 1e9));
    g->run_end_tsc = g->run_start_tsc + tsc_from_ns(g, (uint64_t)(g->o.duration_s * 1e9));
    while (rte_rdtsc() < g->run_end_tsc && !stop_requested)
        loop_once(g, true, true);
    /* Jobs due before the end still go when the loop fell behind at the very
     * end (preempted, a slow burst): late, and counted late, but an open loop
     * offers exactly rate x duration (2 of 6000 were once left unsent). */
    while (clients_open_loop_owed(g) && !stop_requested)
        loop_once(g, true, true);
    g->run_end_tsc = rte_rdtsc();
    g->port_packets_run = port_packets(g) - g->port_packets_start;
    uint64_t drain_end = g->run_end_tsc + tsc_from_ns(g, (uint64_t)(g->o.drain_s * 1e9));
    while (rte_rdtsc() < drain_end && !stop_requested && !all_answered(g))
        loop_once(g, false, true);
}

static void
providers_deregister(struct loadgen *g)
{
    for (uint32_t p = 0; p < g->o.providers; p++)
        if (g->registered[p] == 1)
            provider_send_simple(g, UBC_MSG_PROVIDER_DEREGISTER, p, rte_rdtsc());
    tx_flush(g);
    uint64_t end = rte_rdtsc() + g->hz / 2;
    while (rte_rdtsc() < end && g->oldest_sequence < g->next_sequence) {
        rx_poll(g);
        requests_expire(g, rte_rdtsc(), false);
    }
}

/* After the run: requests still open are lost; acked jobs missing an
 * assignment are counted. */
static void
run_account(struct loadgen *g)
{
    requests_expire(g, rte_rdtsc(), true);
    uint32_t per_job = (uint32_t)g->o.tasks * g->o.redundancy;
    uint64_t live = g->jobs_submitted < (uint64_t)g->job_mask + 1 ? g->jobs_submitted
                                                                  : (uint64_t)g->job_mask + 1;
    for (uint64_t i = 0; i < live; i++) {
        const struct ubc_loadgen_job *job = &g->jobs[i];
        if (job->job_id != 0 && job->acked && job->assignments < per_job)
            g->c.jobs_unassigned++;
    }
}

/* ---- report ---- */

static double
run_seconds(const struct loadgen *g)
{
    double s = (double)ns_from_tsc(g, g->run_end_tsc - g->run_start_tsc) / 1e9;
    return s > 0 ? s : 1e-9;
}

static void
emit(const struct loadgen *g, const char *metric, double value, const char *unit, int lower,
     const char *baseline, double baseline_value)
{
    struct ubc_bench_result r = { .harness = "loadgen",
                                  .metric = metric,
                                  .value = value,
                                  .unit = unit,
                                  .lower_is_better = lower,
                                  .baseline = baseline,
                                  .baseline_value = baseline_value,
                                  .samples = 1 };
    const char *mode = g->o.ping_window     ? "ping-flood"
                       : g->o.find_capacity ? "find-capacity"
                                            : "open-loop";
    ubc_bench_param_text(&r, "mode", mode);
    ubc_bench_param_num(&r, "rate", g->o.find_capacity ? 0 : g->o.rate_per_s);
    ubc_bench_param_num(&r, "clients", g->o.clients);
    ubc_bench_param_num(&r, "providers", g->o.providers);
    ubc_bench_param_num(&r, "duration_s", g->o.duration_s);
    if (g->o.find_capacity)
        ubc_bench_param_num(&r, "window", g->o.window);
    if (g->o.label != NULL)
        ubc_bench_param_text(&r, "link", g->o.label);
    ubc_bench_emit(&r);
}

static void
emit_latency(const struct loadgen *g, const char *name, const struct ubc_histogram *h)
{
    static const struct {
        const char *suffix;
        double p;
    } points[] = { { "p50", 50 }, { "p99", 99 }, { "p999", 99.9 } };
    double ping_us = g->ping_ns->count ? ubc_histogram_percentile(g->ping_ns, 50) / 1e3 : 0;
    char metric[64];
    for (size_t i = 0; i < sizeof(points) / sizeof(points[0]) && h->count > 0; i++) {
        snprintf(metric, sizeof(metric), "%s_%s", name, points[i].suffix);
        emit(g, metric, ubc_histogram_percentile(h, points[i].p) / 1e3, "us", 1,
             ping_us > 0 ? "ping_rtt_p50" : NULL, ping_us);
    }
}

static void
emit_all(const struct loadgen *g)
{
    const struct ubc_loadgen_counters *c = &g->c;
    double seconds = run_seconds(g);
    if (g->ping_ns->count > 0) {
        emit(g, "ping_rtt_p50", ubc_histogram_percentile(g->ping_ns, 50) / 1e3, "us", 1, NULL, 0);
        emit(g, "ping_rtt_p99", ubc_histogram_percentile(g->ping_ns, 99) / 1e3, "us", 1, NULL, 0);
    }
    if (g->o.ping_window > 0) {
        emit(g, "echo_packets_per_s", 2.0 * (double)c->pings_received / seconds, "packets/s", 0,
             NULL, 0);
        return;
    }
    emit(g, "offered_per_s", (double)c->submitted / seconds, "jobs/s", 0, NULL, 0);
    emit(g, "acked_per_s", (double)c->acked / seconds, "jobs/s", 0, NULL, 0);
    emit(g, "port_packets_per_s", (double)g->port_packets_run / seconds, "packets/s", 0, NULL, 0);
    emit_latency(g, "submit_to_ack", g->ack_ns);
    emit_latency(g, "submit_to_assignment", g->assign_ns);
    emit_latency(g, "submit_to_completion", g->complete_ns);
    emit(g, "jobs_submitted", (double)c->submitted, "count", 0, NULL, 0);
    emit(g, "jobs_acked", (double)c->acked, "count", 0, NULL, 0);
    emit(g, "jobs_refused", (double)c->refused, "count", 1, NULL, 0);
    emit(g, "assignments", (double)c->assignments, "count", 0, NULL, 0);
    emit(g, "results_acked", (double)c->results_acked, "count", 0, NULL, 0);
    emit(g, "results_refused", (double)c->results_refused, "count", 1, NULL, 0);
    emit(g, "jobs_completed", (double)c->jobs_completed, "count", 0, NULL, 0);
    emit(g, "jobs_failed", (double)c->jobs_failed, "count", 1, NULL, 0);
    emit(g, "lost", (double)c->lost_total, "count", 1, NULL, 0);
    emit(g, "jobs_unassigned", (double)c->jobs_unassigned, "count", 1, NULL, 0);
    emit(g, "late_sends", (double)c->late_sends, "count", 1, NULL, 0);
    emit(g, "tx_frames", (double)c->tx_frames, "count", 0, NULL, 0);
    emit(g, "tx_dropped", (double)c->tx_dropped, "count", 1, NULL, 0);
    emit(g, "rx_frames", (double)c->rx_frames, "count", 0, NULL, 0);
    char metric[64];
    for (uint32_t e = 1; e <= UBC_ERR_COUNT; e++) {
        if (c->refusals[e] == 0)
            continue;
        snprintf(metric, sizeof(metric), "refused_%s",
                 e < UBC_ERR_COUNT ? ubc_err_name((enum ubc_err)e) : "unknown");
        emit(g, metric, (double)c->refusals[e], "count", 1, NULL, 0);
    }
}

static void
print_latency(FILE *out, const char *name, const struct ubc_histogram *h)
{
    if (h->count == 0) {
        fprintf(out, "  %-22s none\n", name);
        return;
    }
    fprintf(out,
            "  %-22s p50 %8.1f us  p99 %8.1f us  p99.9 %8.1f us  max %8.1f us  (%" PRIu64 ")\n",
            name, ubc_histogram_percentile(h, 50) / 1e3, ubc_histogram_percentile(h, 99) / 1e3,
            ubc_histogram_percentile(h, 99.9) / 1e3, (double)h->max / 1e3, h->count);
}

static void
print_summary(const struct loadgen *g, FILE *out)
{
    const struct ubc_loadgen_counters *c = &g->c;
    double seconds = run_seconds(g);
    fprintf(out, "ubc-loadgen: %.2f s, %u clients, %u providers, %s\n", seconds, g->o.clients,
            g->o.providers, g->o.find_capacity ? "closed loop" : "open loop");
    fprintf(out,
            "  jobs: %" PRIu64 " submitted (%.0f/s), %" PRIu64 " acked (%.0f/s), %" PRIu64
            " refused, %" PRIu64 " late sends\n",
            c->submitted, (double)c->submitted / seconds, c->acked, (double)c->acked / seconds,
            c->refused, c->late_sends);
    fprintf(out,
            "  tasks: %" PRIu64 " assignments (%" PRIu64 " duplicate, %" PRIu64
            " unknown), %" PRIu64 " results sent, %" PRIu64 " acked, %" PRIu64 " refused\n",
            c->assignments, c->assignments_duplicate, c->assignments_unknown, c->results_sent,
            c->results_acked, c->results_refused);
    fprintf(out, "  ends: %" PRIu64 " jobs completed, %" PRIu64 " failed\n", c->jobs_completed,
            c->jobs_failed);
    fprintf(out,
            "  lost: %" PRIu64 " (submit %" PRIu64 ", result %" PRIu64 ", heartbeat %" PRIu64
            "), %" PRIu64 " acked jobs unassigned, %" PRIu64 " unmatched replies\n",
            c->lost_total, c->lost[UBC_MSG_JOB_SUBMIT], c->lost[UBC_MSG_TASK_RESULT],
            c->lost[UBC_MSG_PROVIDER_HEARTBEAT], c->jobs_unassigned, c->replies_unmatched);
    fprintf(out,
            "  port: %.0f packets/s; tx %" PRIu64 " frames, %" PRIu64 " dropped; rx %" PRIu64
            " frames; %" PRIu64 " heartbeats (%" PRIu64 " acked); %" PRIu64 " idle sleeps\n",
            (double)g->port_packets_run / seconds, c->tx_frames, c->tx_dropped, c->rx_frames,
            c->heartbeats_sent, c->heartbeats_acked, c->idle_sleeps);
    print_latency(out, "submit-to-ack", g->ack_ns);
    print_latency(out, "submit-to-assignment", g->assign_ns);
    print_latency(out, "submit-to-completion", g->complete_ns);
    print_latency(out, "ping round trip", g->ping_ns);
    fprintf(out, "  refusals:");
    for (uint32_t e = 1; e <= UBC_ERR_COUNT; e++)
        if (c->refusals[e] > 0)
            fprintf(out, " %s=%" PRIu64, e < UBC_ERR_COUNT ? ubc_err_name((enum ubc_err)e) : "?",
                    c->refusals[e]);
    fprintf(out, "\n");
}

static void
print_drops(const struct loadgen *g, FILE *out)
{
    const struct ubc_loadgen_counters *c = &g->c;
    if (c->jobs_overwritten + c->requests_overwritten + c->tasks_overflow > 0)
        fprintf(out,
                "  tables full: %" PRIu64 " unfinished jobs and %" PRIu64
                " open requests overwritten, %" PRIu64 " tasks dropped\n",
                c->jobs_overwritten, c->requests_overwritten, c->tasks_overflow);
    bool any = false;
    for (uint32_t d = 1; d < UBC_PKT_DROP_COUNT; d++)
        if (g->c.rx_drops[d] > 0) {
            fprintf(out, "%s %s=%" PRIu64,
                    any ? "" : "  rx drops:", ubc_pkt_drop_name((enum ubc_pkt_drop)d),
                    g->c.rx_drops[d]);
            any = true;
        }
    for (uint32_t r = 1; r < UBC_WIRE_RESULT_COUNT; r++)
        if (g->c.rx_wire_errors[r] > 0) {
            fprintf(out, "%s %s=%" PRIu64,
                    any ? "" : "  rx drops:", ubc_wire_result_name((enum ubc_wire_result)r),
                    g->c.rx_wire_errors[r]);
            any = true;
        }
    if (any)
        fprintf(out, "\n");
}

/* ---- options ---- */

static void
usage(FILE *out)
{
    fprintf(out, "usage: ubc-loadgen [EAL args --] --port DEVARGS [options]\n"
                 "  --port DEVARGS        port to attach, e.g. net_memif0,role=client,socket=PATH\n"
                 "  --ip A.B.C.D          our address (198.18.0.1)\n"
                 "  --base-port N         first UDP port of our identities (20000)\n"
                 "  --node A.B.C.D:PORT   the node (198.18.0.2:7400)\n"
                 "  --node-mac XX:..:XX   the node's MAC (else resolved by ARP)\n"
                 "  --clients C           client identities (1000)\n"
                 "  --providers P         provider agents (16)\n"
                 "  --provider-base ID    first provider id (1000000)\n"
                 "  --rate N              open loop: jobs per second (1000)\n"
                 "  --duration S          seconds of load (5)\n"
                 "  --drain S             seconds to wait for answers afterwards (2)\n"
                 "  --warmup S            latencies of the first S seconds are not recorded (0)\n"
                 "  --find-capacity       closed loop: keep --window submissions in flight\n"
                 "  --window N            closed-loop window (256)\n"
                 "  --ping N              N sequential pings of the node first (link baseline)\n"
                 "  --ping-flood W        only an echo flood with W in flight for --duration\n"
                 "  --burst N             packets per burst (32)\n"
                 "  --timeout-ms N        a request unanswered this long is lost (1000)\n"
                 "  --heartbeat-ms N      provider heartbeat period (100)\n"
                 "  --work-ms N           simulated work per task (1)\n"
                 "  --tasks N --redundancy R --cpu MILLI --mem MIB --bid UNITS  job shape\n"
                 "  --first-job ID        first job id (1)\n"
                 "  --owner HEX64         the owner account (c1c1..c1)\n"
                 "  --label TEXT          link name in --json params\n"
                 "  --json                ubc_bench JSON lines on stdout, summary on stderr\n"
                 "  --busy                never sleep when idle\n");
}

static int
parse_ipv4(const char *text, uint32_t *ipv4_be, uint16_t *port)
{
    unsigned a, b, c, d, p = 0;
    char tail;
    int n = sscanf(text, "%u.%u.%u.%u:%u%c", &a, &b, &c, &d, &p, &tail);
    if ((n != 4 && n != 5) || a > 255 || b > 255 || c > 255 || d > 255 || p > 65535 ||
        (n == 5 && p == 0) || (n == 4 && port != NULL && strchr(text, ':') != NULL))
        return -EINVAL;
    uint8_t bytes[4] = { (uint8_t)a, (uint8_t)b, (uint8_t)c, (uint8_t)d };
    memcpy(ipv4_be, bytes, 4);
    if (port != NULL && n == 5)
        *port = (uint16_t)p;
    return 0;
}

static int
parse_mac(const char *text, uint8_t mac[6])
{
    unsigned b[6];
    char tail;
    if (sscanf(text, "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &tail) != 6)
        return -EINVAL;
    for (int i = 0; i < 6; i++) {
        if (b[i] > 255)
            return -EINVAL;
        mac[i] = (uint8_t)b[i];
    }
    return 0;
}

static int
parse_hex_key(const char *text, uint8_t key[UBC_KEY_BYTES])
{
    if (strlen(text) != 2 * UBC_KEY_BYTES)
        return -EINVAL;
    for (uint32_t i = 0; i < UBC_KEY_BYTES; i++) {
        unsigned byte;
        if (sscanf(text + 2 * i, "%2x", &byte) != 1)
            return -EINVAL;
        key[i] = (uint8_t)byte;
    }
    return 0;
}

/* A number in [min, max]; false on garbage. */
static bool
parse_number(const char *text, double min, double max, double *value)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !(v >= min && v <= max))
        return false;
    *value = v;
    return true;
}

static void
options_default(struct ubc_loadgen_options *o)
{
    memset(o, 0, sizeof(*o));
    parse_ipv4("198.18.0.1", &o->ipv4_be, NULL);
    parse_ipv4("198.18.0.2", &o->node_ipv4_be, NULL);
    o->node_port = 7400;
    o->base_port = 20000;
    o->clients = 1000;
    o->providers = 16;
    o->provider_base = 1000000;
    o->rate_per_s = 1000;
    o->duration_s = 5;
    o->drain_s = 2;
    o->window = 256;
    o->burst = 32;
    o->timeout_ms = 1000;
    o->heartbeat_ms = 100;
    o->work_ms = 1;
    o->tasks = 1;
    o->redundancy = 1;
    o->cpu_millis = 100;
    o->mem_mib = 64;
    o->bid_per_task = 10;
    o->first_job = 1;
    memset(o->owner, 0xc1, UBC_KEY_BYTES);
}

enum option_id {
    OPT_PORT = 256,
    OPT_IP,
    OPT_BASE_PORT,
    OPT_NODE,
    OPT_NODE_MAC,
    OPT_CLIENTS,
    OPT_PROVIDERS,
    OPT_PROVIDER_BASE,
    OPT_RATE,
    OPT_DURATION,
    OPT_DRAIN,
    OPT_WARMUP,
    OPT_FIND_CAPACITY,
    OPT_WINDOW,
    OPT_PING,
    OPT_PING_FLOOD,
    OPT_BURST,
    OPT_TIMEOUT_MS,
    OPT_HEARTBEAT_MS,
    OPT_WORK_MS,
    OPT_TASKS,
    OPT_REDUNDANCY,
    OPT_CPU,
    OPT_MEM,
    OPT_BID,
    OPT_FIRST_JOB,
    OPT_OWNER,
    OPT_LABEL,
    OPT_JSON,
    OPT_BUSY,
    OPT_HELP,
};

static const struct option long_options[] = {
    { "port", required_argument, NULL, OPT_PORT },
    { "ip", required_argument, NULL, OPT_IP },
    { "base-port", required_argument, NULL, OPT_BASE_PORT },
    { "node", required_argument, NULL, OPT_NODE },
    { "node-mac", required_argument, NULL, OPT_NODE_MAC },
    { "clients", required_argument, NULL, OPT_CLIENTS },
    { "providers", required_argument, NULL, OPT_PROVIDERS },
    { "provider-base", required_argument, NULL, OPT_PROVIDER_BASE },
    { "rate", required_argument, NULL, OPT_RATE },
    { "duration", required_argument, NULL, OPT_DURATION },
    { "drain", required_argument, NULL, OPT_DRAIN },
    { "warmup", required_argument, NULL, OPT_WARMUP },
    { "find-capacity", no_argument, NULL, OPT_FIND_CAPACITY },
    { "window", required_argument, NULL, OPT_WINDOW },
    { "ping", required_argument, NULL, OPT_PING },
    { "ping-flood", required_argument, NULL, OPT_PING_FLOOD },
    { "burst", required_argument, NULL, OPT_BURST },
    { "timeout-ms", required_argument, NULL, OPT_TIMEOUT_MS },
    { "heartbeat-ms", required_argument, NULL, OPT_HEARTBEAT_MS },
    { "work-ms", required_argument, NULL, OPT_WORK_MS },
    { "tasks", required_argument, NULL, OPT_TASKS },
    { "redundancy", required_argument, NULL, OPT_REDUNDANCY },
    { "cpu", required_argument, NULL, OPT_CPU },
    { "mem", required_argument, NULL, OPT_MEM },
    { "bid", required_argument, NULL, OPT_BID },
    { "first-job", required_argument, NULL, OPT_FIRST_JOB },
    { "owner", required_argument, NULL, OPT_OWNER },
    { "label", required_argument, NULL, OPT_LABEL },
    { "json", no_argument, NULL, OPT_JSON },
    { "busy", no_argument, NULL, OPT_BUSY },
    { "help", no_argument, NULL, OPT_HELP },
    { NULL, 0, NULL, 0 },
};
UBC_STATIC_ASSERT(sizeof(long_options) / sizeof(long_options[0]) == OPT_HELP - OPT_PORT + 2,
                  "long_options is indexed by option_id - OPT_PORT");

/* Numeric options: where the value goes and its range. */
static bool
option_numeric(struct ubc_loadgen_options *o, int id, const char *arg)
{
    double v;
    switch (id) {
    case OPT_BASE_PORT: return parse_number(arg, 1, 65535, &v) && (o->base_port = (uint16_t)v);
    case OPT_CLIENTS: return parse_number(arg, 1, 60000, &v) && (o->clients = (uint32_t)v);
    case OPT_PROVIDERS: return parse_number(arg, 0, 60000, &v) && ((o->providers = (uint32_t)v), 1);
    case OPT_PROVIDER_BASE:
        return parse_number(arg, 1, 1e15, &v) && (o->provider_base = (uint64_t)v);
    case OPT_RATE: return parse_number(arg, 1, 1e8, &v) && (o->rate_per_s = v) > 0;
    case OPT_DURATION: return parse_number(arg, 0.01, 86400, &v) && (o->duration_s = v) > 0;
    case OPT_DRAIN: return parse_number(arg, 0, 3600, &v) && ((o->drain_s = v), 1);
    case OPT_WARMUP: return parse_number(arg, 0, 3600, &v) && ((o->warmup_s = v), 1);
    case OPT_WINDOW: return parse_number(arg, 1, 1 << 20, &v) && (o->window = (uint32_t)v);
    case OPT_PING: return parse_number(arg, 0, 1e6, &v) && ((o->ping_count = (uint32_t)v), 1);
    case OPT_PING_FLOOD: return parse_number(arg, 1, 4096, &v) && (o->ping_window = (uint32_t)v);
    case OPT_BURST:
        return parse_number(arg, 1, UBC_LOADGEN_BURST_MAX, &v) && (o->burst = (uint32_t)v);
    case OPT_TIMEOUT_MS: return parse_number(arg, 1, 60000, &v) && (o->timeout_ms = (uint32_t)v);
    case OPT_HEARTBEAT_MS:
        return parse_number(arg, 1, 60000, &v) && (o->heartbeat_ms = (uint32_t)v);
    case OPT_WORK_MS: return parse_number(arg, 0, 3600000, &v) && ((o->work_ms = (uint32_t)v), 1);
    case OPT_TASKS: return parse_number(arg, 1, 64, &v) && (o->tasks = (uint16_t)v);
    case OPT_REDUNDANCY: return parse_number(arg, 1, 8, &v) && (o->redundancy = (uint8_t)v);
    case OPT_CPU: return parse_number(arg, 0, 1e9, &v) && ((o->cpu_millis = (uint32_t)v), 1);
    case OPT_MEM: return parse_number(arg, 0, 1e9, &v) && ((o->mem_mib = (uint32_t)v), 1);
    case OPT_BID: return parse_number(arg, 0, 1e15, &v) && ((o->bid_per_task = (uint64_t)v), 1);
    case OPT_FIRST_JOB: return parse_number(arg, 1, 1e15, &v) && (o->first_job = (uint64_t)v);
    default: return false;
    }
}

static bool
option_other(struct ubc_loadgen_options *o, int id, const char *arg)
{
    switch (id) {
    case OPT_PORT: o->port = arg; return true;
    case OPT_IP: return parse_ipv4(arg, &o->ipv4_be, NULL) == 0;
    case OPT_NODE: return parse_ipv4(arg, &o->node_ipv4_be, &o->node_port) == 0;
    case OPT_NODE_MAC: return (o->node_mac_set = parse_mac(arg, o->node_mac) == 0);
    case OPT_FIND_CAPACITY: o->find_capacity = true; return true;
    case OPT_OWNER: return parse_hex_key(arg, o->owner) == 0;
    case OPT_LABEL: o->label = arg; return true;
    case OPT_JSON: o->json = true; return true;
    case OPT_BUSY: o->busy = true; return true;
    default: return option_numeric(o, id, arg);
    }
}

/* Returns 0, 1 for --help, or -EINVAL with the reason on stderr. */
static int
options_parse(struct ubc_loadgen_options *o, int argc, char **argv)
{
    options_default(o);
    optind = 1;
    int id;
    while ((id = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
        if (id == OPT_HELP) {
            usage(stdout);
            return 1;
        }
        if (id == '?' || !option_other(o, id, optarg)) {
            if (id != '?')
                fprintf(stderr, "ubc-loadgen: bad value for --%s: '%s'\n",
                        long_options[id - OPT_PORT].name, optarg ? optarg : "");
            usage(stderr);
            return -EINVAL;
        }
    }
    if (optind < argc || o->port == NULL) {
        fprintf(stderr, "ubc-loadgen: %s\n",
                o->port == NULL ? "--port is required" : "unexpected argument");
        return -EINVAL;
    }
    if ((uint32_t)o->base_port + o->clients + o->providers > 65536) {
        fprintf(stderr, "ubc-loadgen: --base-port + clients + providers exceeds 65535\n");
        return -EINVAL;
    }
    if (o->providers == 0 && !o->ping_window) {
        fprintf(stderr, "ubc-loadgen: at least one provider is needed to run jobs\n");
        return -EINVAL;
    }
    return 0;
}

/* ---- start-up ---- */

static uint32_t
power_of_two_at_least(uint64_t n, uint32_t min, uint32_t max)
{
    uint64_t size = min;
    while (size < n && size < max)
        size <<= 1;
    return (uint32_t)size;
}

/* calloc, then every page written so that the run loop takes no page fault. */
static void *
table_new(size_t count, size_t size)
{
    void *memory = calloc(count, size);
    if (memory != NULL)
        memset(memory, 0, count * size);
    return memory;
}

static int
tables_new(struct loadgen *g)
{
    const struct ubc_loadgen_options *o = &g->o;
    double rate = o->find_capacity ? CLOSED_LOOP_RATE_MAX : o->rate_per_s;
    double live_s = o->timeout_ms / 1e3 + o->work_ms / 1e3 + 1.0;
    uint32_t per_job = (uint32_t)o->tasks * o->redundancy;
    /* Requests: submissions and results younger than the timeout, plus the
     * providers' heartbeats and registrations. */
    uint64_t requests = (uint64_t)(rate * (1 + per_job) * (o->timeout_ms / 1e3 + 0.5)) +
                        4ull * o->providers + o->window;
    g->request_mask = power_of_two_at_least(2 * requests, 4096, TABLE_MAX) - 1;
    g->job_mask = power_of_two_at_least((uint64_t)(rate * live_s), 4096, TABLE_MAX) - 1;
    g->task_mask = power_of_two_at_least((uint64_t)(rate * per_job * live_s), 1024, TABLE_MAX) - 1;
    g->requests = table_new((size_t)g->request_mask + 1, sizeof(*g->requests));
    g->jobs = table_new((size_t)g->job_mask + 1, sizeof(*g->jobs));
    g->tasks = table_new((size_t)g->task_mask + 1, sizeof(*g->tasks));
    g->registered = table_new(o->providers + 1, 1);
    g->ack_ns = table_new(1, sizeof(struct ubc_histogram));
    g->assign_ns = table_new(1, sizeof(struct ubc_histogram));
    g->ping_ns = table_new(1, sizeof(struct ubc_histogram));
    g->complete_ns = table_new(1, sizeof(struct ubc_histogram));
    if (!g->requests || !g->jobs || !g->tasks || !g->registered || !g->ack_ns || !g->assign_ns ||
        !g->ping_ns)
        return -ENOMEM;
    ubc_histogram_init(g->ack_ns);
    ubc_histogram_init(g->assign_ns);
    ubc_histogram_init(g->ping_ns);
    ubc_histogram_init(g->complete_ns);
    g->timeout_tsc = tsc_from_ns(g, o->timeout_ms * 1000000ull);
    uint32_t providers = o->providers ? o->providers : 1;
    g->heartbeat_step_tsc = tsc_from_ns(g, o->heartbeat_ms * 1000000ull / providers);
    if (g->heartbeat_step_tsc == 0)
        g->heartbeat_step_tsc = 1;
    return 0;
}

static void
tables_delete(struct loadgen *g)
{
    free(g->requests);
    free(g->jobs);
    free(g->tasks);
    free(g->registered);
    free(g->ack_ns);
    free(g->assign_ns);
    free(g->ping_ns);
    free(g->complete_ns);
}

static int
port_find(const char *devargs, uint16_t *port_id)
{
    char name[64];
    size_t length = strcspn(devargs, ",");
    if (length >= sizeof(name))
        return -ENAMETOOLONG;
    memcpy(name, devargs, length);
    name[length] = '\0';
    if (rte_eth_dev_get_port_by_name(name, port_id) == 0)
        return 0;
    int rc = rte_dev_probe(devargs);
    if (rc != 0)
        return rc < 0 ? rc : -ENODEV;
    return rte_eth_dev_get_port_by_name(name, port_id) == 0 ? 0 : -ENODEV;
}

static int
port_open_once(struct loadgen *g)
{
    int rc = port_find(g->o.port, &g->port_id);
    if (rc != 0) {
        fprintf(stderr, "ubc-loadgen: port '%s': %s\n", g->o.port, rte_strerror(-rc));
        return rc;
    }
    int socket = rte_eth_dev_socket_id(g->port_id);
    if (g->pool == NULL)
        g->pool = rte_pktmbuf_pool_create("loadgen_mbufs", MBUF_COUNT, MBUF_CACHE, 0,
                                          RTE_MBUF_DEFAULT_BUF_SIZE, socket < 0 ? 0 : socket);
    if (g->pool == NULL) {
        fprintf(stderr, "ubc-loadgen: mbuf pool: %s\n", rte_strerror(rte_errno));
        return -ENOMEM;
    }
    struct rte_eth_conf conf;
    memset(&conf, 0, sizeof(conf));
    uint16_t rx_desc = RX_DESC, tx_desc = TX_DESC;
    if ((rc = rte_eth_dev_configure(g->port_id, 1, 1, &conf)) != 0 ||
        (rc = rte_eth_dev_adjust_nb_rx_tx_desc(g->port_id, &rx_desc, &tx_desc)) != 0 ||
        (rc = rte_eth_rx_queue_setup(g->port_id, 0, rx_desc, socket < 0 ? 0 : (unsigned)socket,
                                     NULL, g->pool)) != 0 ||
        (rc = rte_eth_tx_queue_setup(g->port_id, 0, tx_desc, socket < 0 ? 0 : (unsigned)socket,
                                     NULL)) != 0 ||
        (rc = rte_eth_dev_start(g->port_id)) != 0) {
        fprintf(stderr, "ubc-loadgen: port '%s' setup: %s\n", g->o.port, rte_strerror(-rc));
        return rc < 0 ? rc : -EIO;
    }
    rte_eth_promiscuous_enable(g->port_id); /* best effort: some ports refuse */
    struct rte_ether_addr mac;
    rte_eth_macaddr_get(g->port_id, &mac);
    memcpy(g->self.mac, mac.addr_bytes, 6);
    return 0;
}

/* A memif client's start fails while the server still serves the previous
 * client (it notices the disconnection a little later), and the failed port
 * does not try again: remove the device and probe it anew, for 10 s. */
static int
port_open(struct loadgen *g)
{
    int rc = -EIO;
    for (int attempt = 0; attempt < 40 && !stop_requested; attempt++) {
        if ((rc = port_open_once(g)) == 0) {
            g->port_started = true;
            return 0;
        }
        if (strncmp(g->o.port, "net_memif", 9) != 0)
            return rc;
        struct rte_eth_dev_info info;
        if (rte_eth_dev_info_get(g->port_id, &info) == 0 && info.device != NULL)
            rte_dev_remove(info.device);
        rte_delay_ms(250);
    }
    return rc;
}

/* Before leaving: 200 ms without sending (answering what still arrives), so
 * that the node's net role has gone back to its idle sleeps when the link
 * drops. DPDK 22.11's memif server unmaps a departed client's rings from its
 * interrupt thread while the datapath may be polling them: a node busy on the
 * link when a client leaves can crash (seen; docs/loadgen.md). */
static void
port_quiesce(struct loadgen *g)
{
    uint64_t end = rte_rdtsc() + g->hz / 5;
    while (rte_rdtsc() < end) {
        rx_poll(g);
        if (g->tx_count > 0)
            tx_flush(g);
        rte_delay_us_sleep(1000);
    }
}

/* A memif client connects after start: wait for the link. */
static int
port_wait_link(struct loadgen *g)
{
    uint64_t deadline = rte_rdtsc() + 10 * g->hz;
    struct rte_eth_link link;
    do {
        memset(&link, 0, sizeof(link));
        rte_eth_link_get_nowait(g->port_id, &link);
        if (link.link_status == RTE_ETH_LINK_UP)
            return 0;
        rte_delay_ms(10);
    } while (rte_rdtsc() < deadline && !stop_requested);
    fprintf(stderr, "ubc-loadgen: port '%s': link down after 10 s\n", g->o.port);
    return -ENOLINK;
}

#define EAL_ARGS_MAX 32

/* EAL arguments: before "--" on the command line as in every DPDK program,
 * or these defaults (no hugepages, one lcore, a private file prefix so that
 * it runs next to ubcd). Returns the count of arguments left to us, with
 * argv[0] the program name, or a negative errno. */
static int
eal_start(int argc, char **argv, char ***app_argv)
{
    bool separated = false;
    for (int i = 1; i < argc; i++)
        separated |= strcmp(argv[i], "--") == 0;
    if (separated) {
        int used = rte_eal_init(argc, argv);
        if (used < 0)
            return -EINVAL;
        *app_argv = argv + used;
        return argc - used;
    }
    static char prefix[64];
    snprintf(prefix, sizeof(prefix), "--file-prefix=ubc-loadgen-%d", (int)getpid());
    static char *eal_argv[EAL_ARGS_MAX];
    int n = 0;
    static char *defaults[] = { "--no-huge",
                                "-m",
                                "256",
                                "--no-pci",
                                "--no-shconf",
                                "-l",
                                "0",
                                "--log-level=lib.*:warning",
                                "--log-level=pmd.*:warning",
                                "--no-telemetry" };
    eal_argv[n++] = argv[0];
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
        eal_argv[n++] = defaults[i];
    eal_argv[n++] = prefix;
    if (rte_eal_init(n, eal_argv) < 0)
        return -EINVAL;
    *app_argv = argv;
    return argc;
}

static int
loadgen_start(struct loadgen *g)
{
    g->hz = rte_get_tsc_hz();
    g->identities = g->o.clients + g->o.providers;
    g->self.ipv4_be = g->o.ipv4_be;
    g->self.udp_port_be = rte_cpu_to_be_16(g->o.base_port);
    g->node.ipv4_be = g->o.node_ipv4_be;
    g->node.udp_port_be = rte_cpu_to_be_16(g->o.node_port);
    memcpy(g->node.mac, g->o.node_mac, 6);
    g->next_sequence = 1;
    g->oldest_sequence = 1;
    if (getrandom(&g->session_id, sizeof(g->session_id), 0) != sizeof(g->session_id))
        g->session_id = (uint64_t)getpid() << 20 ^ rte_rdtsc();
    g->session_id |= 1;
    int rc = tables_new(g);
    if (rc != 0) {
        fprintf(stderr, "ubc-loadgen: tables: %s\n", strerror(-rc));
        return rc;
    }
    if ((rc = port_open(g)) != 0 || (rc = port_wait_link(g)) != 0 || (rc = resolve_node(g)) != 0)
        return rc;
    return 0;
}

static int
loadgen_run(struct loadgen *g)
{
    ping_sequential(g);
    if (g->o.ping_window > 0) {
        ping_flood(g);
        return 0;
    }
    int rc = providers_register(g);
    if (rc != 0)
        return rc;
    run_load(g);
    providers_deregister(g);
    run_account(g);
    return 0;
}

static void
loadgen_report(const struct loadgen *g)
{
    FILE *human = g->o.json ? stderr : stdout;
    if (g->o.json)
        emit_all(g);
    if (g->o.ping_window > 0)
        fprintf(human,
                "ubc-loadgen: echo flood %.0f packets/s (%" PRIu64 " sent, %" PRIu64
                " answered in %.2f s)\n",
                2.0 * (double)g->c.pings_received / run_seconds(g), g->c.pings_sent,
                g->c.pings_received, run_seconds(g));
    else
        print_summary(g, human);
    if (g->o.ping_window > 0)
        print_latency(human, "ping round trip", g->ping_ns);
    print_drops(g, human);
}

int
main(int argc, char **argv)
{
    if (sodium_init() < 0)
        return EXIT_SYSTEM;
    char **app_argv = NULL;
    int app_argc = eal_start(argc, argv, &app_argv);
    if (app_argc < 0) {
        fprintf(stderr, "ubc-loadgen: EAL initialisation failed\n");
        return EXIT_USAGE;
    }
    static struct loadgen g;
    int rc = options_parse(&g.o, app_argc, app_argv);
    if (rc != 0) {
        rte_eal_cleanup();
        return rc > 0 ? EXIT_OK : EXIT_USAGE;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    prctl(PR_SET_TIMERSLACK, 1UL); /* idle sleeps as short as asked */
    rc = loadgen_start(&g);
    if (rc == 0)
        rc = loadgen_run(&g);
    if (rc == 0)
        loadgen_report(&g);
    if (g.port_started) {
        port_quiesce(&g);
        rte_eth_dev_stop(g.port_id);
        rte_eth_dev_close(g.port_id);
    }
    tables_delete(&g);
    rte_eal_cleanup();
    if (rc != 0)
        return EXIT_SYSTEM;
    return g.c.lost_total > 0 ? EXIT_LOST : EXIT_OK;
}
