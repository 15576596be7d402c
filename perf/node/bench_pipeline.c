/* bench_pipeline.c: packets per second through the node's whole pipeline on
 * one lcore (rx burst, classify, decode, net>sched ring, the scheduler, the
 * sched>net ring, encode, tx burst), against an io-forward loop (testpmd's
 * `io` forwarding: rx burst straight to tx burst) on the same port and the
 * same lcore, measured alternately in the same run.
 *
 * Two ports, one after the other. First a DPDK ring port (rte_eth_from_rings):
 * no kernel, no NIC, no copy: rx and tx cost almost nothing, so io-forward is
 * the cheapest loop there is. Then a net_memif pair in this process (the
 * node's port is the memif server, the generator drives the client): every
 * packet is copied into and out of shared memory on each side, as a virtual
 * NIC costs, which is the fairer "virtual port". A generator on the same
 * lcore keeps the node's rx fed with job-status queries from 1024 clients
 * for 4096 known jobs (copying a prebuilt frame into a fresh mbuf) and
 * drains what it sends; it does exactly the same for the baseline, so the
 * ratio compares the per-packet work of the two loops.
 * Writes JSON Lines (common/ubc_bench.h). UBC_BENCH_QUICK=1 for a smoke run.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "common/ubc_assert.h"
#include "common/ubc_bench.h"
#include "dataplane/ubc_net.h"
#include "dataplane/wire/ubc_pkt.h"
#include "dataplane/wire/ubc_wire.h"
#include "node/ubc_node.h"
#include "node/ubc_role_sched.h"

#define BENCH_JOBS 4096u
#define BENCH_CLIENTS 1024u
#define BENCH_TEMPLATES 4096u
#define BENCH_INFLIGHT 512u
#define BENCH_BURST 32u

struct bench_frame {
    uint8_t bytes[128];
    uint16_t length;
};

static struct ubc_node node;
static struct ubc_role_sched sched_role;
static struct bench_frame templates[BENCH_TEMPLATES];
static uint8_t templates_mac[6]; /* the node's MAC the templates were built for */
static struct rte_ring *rx_ring, *tx_ring;
static int disk_ok;

static void
bench_links(void)
{
    for (int i = 0; i < UBC_LINK_COUNT; i++) {
        char name[16];
        snprintf(name, sizeof(name), "bench%d", i);
        UBC_ASSERT(ubc_link_create(&node.links[i], name, 0, 1, 4096, 0, 0) == 0);
    }
    for (uint32_t role = 0; role < UBC_ROLE_COUNT; role++) {
        node.roles[role].role = role;
        node.roles[role].node = &node;
        node.roles[role].control.reply = rte_zmalloc("reply", UBC_CONTROL_REPLY_MAX, 64);
    }
}

/* Jobs the queries ask about, submitted straight into the scheduler. */
static void
bench_jobs(void)
{
    UBC_ASSERT(ubc_role_sched_init(&node, &sched_role) == 0);
    sched_role.disk_read_only = &disk_ok;
    for (uint32_t j = 1; j <= BENCH_JOBS; j++) {
        struct ubc_msg msg;
        memset(&msg, 0, sizeof(msg));
        msg.hdr.type = UBC_MSG_JOB_SUBMIT;
        msg.hdr.peer = UBC_PEER_NONE;
        msg.u.job_submit = (struct ubc_job_submit){ .job_id = j,
                                                    .task_count = 1,
                                                    .redundancy = 1,
                                                    .qos_class = 3,
                                                    .bid_per_task = 100,
                                                    .demand = { .cpu_millis = 100 } };
        memset(msg.u.job_submit.owner, 0xab, UBC_KEY_BYTES);
        sched_role.out.count = 0;
        UBC_ASSERT(ubc_sched_handle(sched_role.sched, &msg, 0, &sched_role.out) == UBC_OK);
        sched_role.out.count = 0;
    }
}

static void
bench_templates(void)
{
    struct ubc_pkt_self self = { .ipv4_be = node.config.net_ipv4_be,
                                 .udp_port_be = rte_cpu_to_be_16(7400) };
    memcpy(self.mac, node.port.mac.addr_bytes, 6);
    memcpy(templates_mac, self.mac, 6);
    for (uint32_t i = 0; i < BENCH_TEMPLATES; i++) {
        struct ubc_msg msg;
        memset(&msg, 0, sizeof(msg));
        msg.hdr.type = UBC_MSG_JOB_QUERY;
        msg.hdr.seq = i;
        msg.u.job_ref.job_id = 1 + i % BENCH_JOBS;
        memset(msg.u.job_ref.owner, 0xab, UBC_KEY_BYTES);
        uint32_t client = i % BENCH_CLIENTS;
        struct ubc_pkt_peer peer = { .mac = { 0x02, 0, 0, 0, (uint8_t)(client >> 8),
                                              (uint8_t)client },
                                     .ipv4_be = rte_cpu_to_be_32(0xc6120100u + (client & 0xff)),
                                     .udp_port_be = rte_cpu_to_be_16((uint16_t)(20000 + client)) };
        struct ubc_wire_origin origin = { .sender_id = 1000 + client };
        uint8_t *frame = templates[i].bytes;
        size_t offset = ubc_pkt_udp_payload_offset(false), payload_len = 0;
        UBC_ASSERT(ubc_wire_encode(&msg, &origin, frame + offset,
                                   sizeof(templates[i].bytes) - offset,
                                   &payload_len) == UBC_WIRE_OK);
        /* Built as the client would send it: from the client, to the node. */
        struct ubc_pkt_self client_self = { .ipv4_be = peer.ipv4_be,
                                            .udp_port_be = peer.udp_port_be };
        memcpy(client_self.mac, peer.mac, 6);
        struct ubc_pkt_peer node_peer = { .ipv4_be = self.ipv4_be,
                                          .udp_port_be = self.udp_port_be };
        memcpy(node_peer.mac, self.mac, 6);
        size_t length = ubc_pkt_udp_build(frame, sizeof(templates[i].bytes), &client_self,
                                          &node_peer, false, 0, payload_len, 0);
        UBC_ASSERT(length > 0);
        templates[i].length = (uint16_t)length;
    }
}

static struct rte_mempool *generator_pool;
static uint32_t next_template;
static int memif_mode; /* the generator drives a memif client port */
static char memif_socket_path[64];
static uint16_t memif_client; /* its port id */
static uint32_t memif_inflight;

/* The next request frames (the templates in turn) into fresh mbufs. */
static void
bench_fill(struct rte_mbuf **frames, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        const struct bench_frame *t = &templates[next_template++ % BENCH_TEMPLATES];
        memcpy(rte_pktmbuf_mtod(frames[i], void *), t->bytes, t->length);
        frames[i]->data_len = t->length;
        frames[i]->pkt_len = t->length;
    }
}

/* The generator on the memif client: what came back, then a top-up. */
static uint32_t
bench_generate_memif(void)
{
    struct rte_mbuf *frames[2 * BENCH_BURST];
    uint32_t done = rte_eth_rx_burst(memif_client, 0, frames, 2 * BENCH_BURST);
    if (done > 0)
        rte_pktmbuf_free_bulk(frames, done);
    memif_inflight -= done < memif_inflight ? done : memif_inflight;
    uint32_t want = memif_inflight < BENCH_INFLIGHT ? BENCH_INFLIGHT - memif_inflight : 0;
    want = want < BENCH_BURST ? want : BENCH_BURST;
    if (want > 0 && rte_pktmbuf_alloc_bulk(generator_pool, frames, want) == 0) {
        bench_fill(frames, want);
        uint32_t in = rte_eth_tx_burst(memif_client, 0, frames, (uint16_t)want);
        if (in < want)
            rte_pktmbuf_free_bulk(frames + in, want - in);
        memif_inflight += in;
    }
    return done;
}

/* Drains what the loop under test sent and tops the rx ring up. Returns the
 * frames that came out (the work completed). */
static uint32_t
bench_generate(void)
{
    if (memif_mode)
        return bench_generate_memif();
    struct rte_mbuf *frames[2 * BENCH_BURST];
    uint32_t done = rte_ring_dequeue_burst(tx_ring, (void **)frames, 2 * BENCH_BURST, NULL);
    if (done > 0)
        rte_pktmbuf_free_bulk(frames, done);
    uint32_t have = rte_ring_count(rx_ring);
    uint32_t want = have < BENCH_INFLIGHT ? BENCH_INFLIGHT - have : 0;
    want = want < BENCH_BURST ? want : BENCH_BURST;
    if (want > 0 && rte_pktmbuf_alloc_bulk(generator_pool, frames, want) == 0) {
        bench_fill(frames, want);
        uint32_t in = rte_ring_enqueue_burst(rx_ring, (void **)frames, want, NULL);
        if (in < want)
            rte_pktmbuf_free_bulk(frames + in, want - in);
    }
    return done;
}

/* UBC_BENCH_PIPELINE_ONLY runs also split the subject's TSC cycles between
 * the net role, the sched role and the generator. */
static bool stages_timed;
/* UBC_BENCH_PIPELINE_PACKETS=N: each loop runs until N frames came out,
 * whatever the time (for instruction counts under callgrind, which the
 * clock would make depend on the host's speed). */
static uint64_t packets_max;
static uint64_t stage_net_cycles, stage_sched_cycles, stage_generator_cycles;

static void
bench_subject_step(uint64_t now, uint64_t iteration)
{
    if (stages_timed) {
        uint64_t start = rte_rdtsc();
        ubc_net_poll(&node.net[0], now);
        uint64_t middle = rte_rdtsc();
        ubc_role_sched_poll(&sched_role, now);
        stage_sched_cycles += rte_rdtsc() - middle;
        stage_net_cycles += middle - start;
    } else {
        ubc_net_poll(&node.net[0], now);
        ubc_role_sched_poll(&sched_role, now);
    }
    if ((iteration & 1023) == 0) {
        ubc_net_housekeep(&node.net[0], now);
        ubc_role_sched_housekeep(&sched_role, now);
    }
}

static void
bench_forward_step(void)
{
    struct rte_mbuf *frames[BENCH_BURST];
    uint16_t n = rte_eth_rx_burst(node.port.port_id, 0, frames, BENCH_BURST);
    uint16_t sent = rte_eth_tx_burst(node.port.port_id, 0, frames, n);
    if (sent < n)
        rte_pktmbuf_free_bulk(frames + sent, n - sent);
}

static double
bench_thread_cpu_s(void)
{
    struct timespec now;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

/* Runs one loop for `seconds`; returns frames out per second of this
 * thread's CPU time: on a machine shared with other builds the thread is
 * preempted, and wall time would charge that to whichever loop ran then.
 * On an idle machine the two clocks agree. */
static double
bench_run(int subject, double seconds)
{
    double cpu_start = bench_thread_cpu_s();
    uint64_t hz = rte_get_tsc_hz(), start = rte_rdtsc();
    uint64_t end = start + (uint64_t)(seconds * (double)hz), out = 0, iteration = 0;
    uint64_t now = start;
    memif_inflight = 0; /* a frame a loop dropped must not hold the window shut */
    while (packets_max > 0 ? out < packets_max : now < end) {
        uint64_t generator_start = stages_timed && subject ? rte_rdtsc() : 0;
        out += bench_generate();
        if (stages_timed && subject)
            stage_generator_cycles += rte_rdtsc() - generator_start;
        if (subject)
            bench_subject_step(now, iteration);
        else
            bench_forward_step();
        iteration++;
        now = rte_rdtsc();
    }
    double cpu_s = bench_thread_cpu_s() - cpu_start;
    double wall_s = (double)(now - start) / (double)hz;
    return (double)out / (cpu_s > 0 ? cpu_s : wall_s);
}

/* The node's port as the bench opens it: one queue, one lcore. */
static struct ubc_net_port_config
bench_port_config(const char *name)
{
    return (struct ubc_net_port_config){ .name = name,
                                         .queues = 1,
                                         .rx_desc = 1024,
                                         .tx_desc = 1024,
                                         .burst_size = BENCH_BURST,
                                         .mbuf_cache = 256,
                                         .lcore_count = 1 };
}

static void
bench_setup(void)
{
    char error[256];
    ubc_config_defaults(&node.config);
    UBC_ASSERT(ubc_config_finish(&node.config, error, sizeof(error)) == 0);
    node.tsc_hz = rte_get_tsc_hz();
    node.start_tsc = rte_rdtsc();
    node.msg_pool = rte_mempool_create("bench_msgs", 16383, UBC_MSG_SIZE, 256, 0, NULL, NULL, NULL,
                                       NULL, SOCKET_ID_ANY, 0);
    generator_pool = rte_pktmbuf_pool_create("bench_gen", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                             SOCKET_ID_ANY);
    rx_ring = rte_ring_create("bench_rx", 1024, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
    tx_ring = rte_ring_create("bench_tx", 1024, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
    UBC_ASSERT(node.msg_pool && generator_pool && rx_ring && tx_ring);
    int port_id = rte_eth_from_rings("net_ring_bench", &rx_ring, 1, &tx_ring, 1, 0);
    UBC_ASSERT(port_id >= 0);
    char port_name[RTE_ETH_NAME_MAX_LEN];
    UBC_ASSERT(rte_eth_dev_get_name_by_port((uint16_t)port_id, port_name) == 0);
    struct ubc_net_port_config port_config = bench_port_config(port_name);
    UBC_ASSERT(ubc_net_port_open(&node.port, &port_config, error, sizeof(error)) == 0);
    bench_links();
    struct ubc_net_config net_config = { .node_id = 1,
                                         .ipv4_be = node.config.net_ipv4_be,
                                         .udp_port = 7400,
                                         .burst_size = BENCH_BURST,
                                         .tx_drain_us = 100,
                                         .tsc_hz = node.tsc_hz,
                                         .peers_max = 4096,
                                         .stopping = &node.stop };
    UBC_ASSERT(ubc_net_init(&node.net[0], &net_config, &node.port, node.msg_pool,
                            &node.links[UBC_LINK_NET_TO_SCHED],
                            &node.links[UBC_LINK_SCHED_TO_NET]) == 0);
    node.net_count = 1;
    node.links_to_net[UBC_ROLE_SCHED][0] = &node.links[UBC_LINK_SCHED_TO_NET];
    bench_jobs();
    bench_templates();
}

/* Measures both loops on the current port; returns 0 or the emit's error.
 * UBC_BENCH_PIPELINE_ONLY=subject|baseline runs one loop alone, to profile
 * it (perf record); its figures are then printed, not written. */
static int
bench_measure(const char *port_kind)
{
    int quick = ubc_bench_quick();
    uint32_t samples = quick ? 1 : 5;
    double seconds = quick ? 0.2 : 1.0;
    double subject[5], baseline[5];
    const char *only = getenv("UBC_BENCH_PIPELINE_ONLY");
    stages_timed = only != NULL && strcmp(only, "subject") == 0;
    const char *packets_env = getenv("UBC_BENCH_PIPELINE_PACKETS");
    packets_max = packets_env != NULL ? strtoull(packets_env, NULL, 10) : 0;
    stage_net_cycles = stage_sched_cycles = stage_generator_cycles = 0;
    bench_run(1, seconds / 4); /* warm the caches, the peer table and the pools */
    for (uint32_t i = 0; i < samples; i++) {
        baseline[i] = only == NULL || strcmp(only, "baseline") == 0 ? bench_run(0, seconds) : 0;
        subject[i] = only == NULL || strcmp(only, "subject") == 0 ? bench_run(1, seconds) : 0;
    }
    struct ubc_net_queue_stats *q = &node.net[0].stats[0];
    if (only != NULL) {
        double *values = strcmp(only, "subject") == 0 ? subject : baseline, best = 0;
        for (uint32_t i = 0; i < samples; i++)
            best = values[i] > best ? values[i] : best;
        double packets = q->rx_packets > 0 ? (double)q->rx_packets : 1;
        fprintf(stderr,
                "pipeline   %s: TSC cycles per packet: net %.0f, sched %.0f, generator %.0f; "
                "%.1f packets per rx burst\n",
                port_kind, (double)stage_net_cycles / packets, (double)stage_sched_cycles / packets,
                (double)stage_generator_cycles / packets,
                packets / (double)(q->rx_bursts > 0 ? q->rx_bursts : 1));
        fprintf(stderr, "pipeline   %s, %s only: %.3g packets/s (median), best %.3g, rx %lu\n",
                port_kind, only, ubc_bench_median(values, samples), best,
                (unsigned long)q->rx_packets);
        return 0;
    }
    struct ubc_bench_result r = { .harness = "pipeline",
                                  .metric = "packets_per_s",
                                  .unit = "packets/s",
                                  .baseline = "io_forward",
                                  .samples = samples };
    r.value = ubc_bench_median(subject, samples);
    r.baseline_value = ubc_bench_median(baseline, samples);
    ubc_bench_param_num(&r, "lcores", 1);
    ubc_bench_param_num(&r, "burst", BENCH_BURST);
    ubc_bench_param_num(&r, "clients", BENCH_CLIENTS);
    ubc_bench_param_text(&r, "message", "job-query -> job-status");
    ubc_bench_param_text(&r, "port", port_kind);
    ubc_bench_param_text(&r, "clock", "thread_cpu");
    int rc = ubc_bench_emit(&r);
    fprintf(stderr, "pipeline   %s: rx %lu, replies %lu, overloaded %lu, no-msg %lu\n", port_kind,
            (unsigned long)q->rx_packets, (unsigned long)q->tx_by_type[UBC_MSG_JOB_STATUS],
            (unsigned long)q->drops[UBC_NET_DROP_OVERLOADED],
            (unsigned long)q->drops[UBC_NET_DROP_NO_MSG]);
    return rc;
}

static bool
bench_link_up(uint16_t port_id)
{
    struct rte_eth_link link;
    return rte_eth_link_get_nowait(port_id, &link) == 0 && link.link_status == RTE_ETH_LINK_UP;
}

/* The memif client the generator drives: configured, started, and
 * connected to the node's server port (the connection is made by EAL's
 * interrupt thread once both are started). */
static int
bench_memif_client(const char *socket_path)
{
    char devargs[160];
    snprintf(devargs, sizeof(devargs), "net_memif1,role=client,id=0,socket=%s", socket_path);
    if (rte_dev_probe(devargs) != 0 || rte_eth_dev_get_port_by_name("net_memif1", &memif_client))
        return -1;
    struct rte_eth_conf conf;
    memset(&conf, 0, sizeof(conf));
    if (rte_eth_dev_configure(memif_client, 1, 1, &conf) != 0 ||
        rte_eth_rx_queue_setup(memif_client, 0, 1024, SOCKET_ID_ANY, NULL, generator_pool) != 0 ||
        rte_eth_tx_queue_setup(memif_client, 0, 1024, SOCKET_ID_ANY, NULL) != 0 ||
        rte_eth_dev_start(memif_client) != 0)
        return -1;
    for (int waited_ms = 0; waited_ms < 5000; waited_ms += 10) {
        if (bench_link_up(memif_client) && bench_link_up(node.port.port_id))
            return 0;
        rte_delay_ms(10);
    }
    return -1;
}

/* Moves the node from the ring port to a memif server port. */
static int
bench_setup_memif(void)
{
    char error[256];
    const char *socket_path = memif_socket_path;
    snprintf(memif_socket_path, sizeof(memif_socket_path), "/tmp/ubc-bench-memif-%d.sock",
             (int)getpid());
    char devargs[160];
    snprintf(devargs, sizeof(devargs), "net_memif0,role=server,id=0,socket=%s", socket_path);
    struct ubc_net_config net_config = node.net[0].config;
    ubc_net_fini(&node.net[0]);
    ubc_net_port_close(&node.port);
    struct ubc_net_port_config port_config = bench_port_config(devargs);
    if (ubc_net_port_open(&node.port, &port_config, error, sizeof(error)) != 0) {
        fprintf(stderr, "bench_pipeline: memif: %s\n", error);
        return -1;
    }
    net_config.queue_count = 0;
    UBC_ASSERT(ubc_net_init(&node.net[0], &net_config, &node.port, node.msg_pool,
                            &node.links[UBC_LINK_NET_TO_SCHED],
                            &node.links[UBC_LINK_SCHED_TO_NET]) == 0);
    memcpy(node.net[0].self.mac, templates_mac, 6); /* the templates address the ring port's MAC */
    if (bench_memif_client(socket_path) != 0) {
        fprintf(stderr, "bench_pipeline: memif: the client did not connect\n");
        return -1;
    }
    memif_mode = 1;
    return 0;
}

int
main(int argc, char **argv)
{
    (void)argc;
    char *eal[] = { argv[0], "--no-huge",           "-m", "1024", "--no-pci", "--no-shconf", "-l",
                    "0",     "--log-level=*:error", NULL };
    /* UBC_BENCH_PIPELINE_HUGEPAGES=1: EAL memory on reserved 2 MiB pages
     * (vm.nr_hugepages >= 512) instead of 4 KiB ones, as a production
     * node runs; both loops then run on it. */
    const char *huge = getenv("UBC_BENCH_PIPELINE_HUGEPAGES");
    if (huge != NULL && strcmp(huge, "1") == 0)
        eal[1] = "--in-memory";
    if (rte_eal_init((int)UBC_ARRAY_SIZE(eal) - 1, eal) < 0) {
        fprintf(stderr, "bench_pipeline: EAL init failed\n");
        return 1;
    }
    bench_setup();
    const char *port = getenv("UBC_BENCH_PIPELINE_PORT"); /* ring, memif; default both */
    int rc = 0;
    if (port == NULL || strcmp(port, "ring") == 0)
        rc |= bench_measure("net_ring");
    if (port == NULL || strcmp(port, "memif") == 0) {
        if (bench_setup_memif() == 0)
            rc |= bench_measure("net_memif");
        else
            rc = 1;
    }
    if (memif_mode) {
        /* Both memif sides live in this process, and DPDK 22.11's memif
         * PMD, taking down the second side, frees memory the first one
         * already freed ("EAL: Error: Invalid memory", whichever side goes
         * second, on stop as on close): now and then the exit crashed
         * (SIGSEGV, once in three CI runs). So neither side is taken down:
         * the process ends and the kernel takes back the memory and the
         * connection; only the socket file is ours to remove. A node's memif
         * port has its peer in another process and closes normally. */
        unlink(memif_socket_path);
        return rc == 0 ? 0 : 1;
    }
    ubc_net_port_close(&node.port);
    rte_eal_cleanup();
    return rc == 0 ? 0 : 1;
}
