/* ubc_loadgen.h: the state of ubc-loadgen, a DPDK load generator that plays
 * many clients and provider agents against a running ubcd.
 *
 * Contract: one lcore (the main thread) owns everything here; there are no
 * other threads. Every table is allocated and touched once at start-up
 * (ubc_loadgen_tables_new) and sized from the options, so the run loop never
 * allocates: a full table overwrites its oldest entry and counts it. Mbufs
 * come from one mempool created at start-up. Times are TSC cycles.
 *
 * Identities: client c (0 <= c < clients) sends from UDP port base_port + c
 * with sender id UBC_LOADGEN_CLIENT_SENDER + c; provider p sends from
 * base_port + clients + p with sender and provider id provider_base + p. The
 * node's peer table is keyed by (address, port), so each identity is a
 * distinct peer for it, as thousands of real clients would be.
 */
#ifndef UBC_LOADGEN_H
#define UBC_LOADGEN_H

#include <stdbool.h>
#include <stdint.h>

#include "common/ubc_msg.h"
#include "dataplane/wire/ubc_pkt.h"
#include "dataplane/wire/ubc_wire.h"
#include "tools/loadgen/ubc_histogram.h"

#define UBC_LOADGEN_CLIENT_SENDER 0x4c4700000000ull /* "LG" << 32 */
#define UBC_LOADGEN_BURST_MAX 256u

/* Job states a final job-status carries (enum ubc_job_state, docs/wire-protocol.md 5.8). */
#define UBC_LOADGEN_JOB_COMPLETED 3u
#define UBC_LOADGEN_JOB_VALIDATED 4u

struct ubc_loadgen_options {
    const char *port;   /* devargs of the port to attach (hot-plugged when not probed) */
    uint32_t ipv4_be;   /* our address */
    uint16_t base_port; /* first UDP port of our identities */
    uint32_t node_ipv4_be;
    uint16_t node_port;
    uint8_t node_mac[6];
    bool node_mac_set; /* else resolved by ARP */
    uint32_t clients;
    uint32_t providers;
    uint64_t provider_base;
    double rate_per_s; /* open loop: submissions per second */
    double duration_s;
    double drain_s;  /* after the last submission, wait this long for answers */
    double warmup_s; /* latencies of jobs scheduled in the first warmup_s are not recorded */
    bool find_capacity;
    uint32_t window; /* closed loop: submissions in flight */
    uint32_t ping_count;
    uint32_t ping_window; /* > 0: closed-loop ICMP echo flood for the duration */
    uint32_t burst;
    uint32_t timeout_ms; /* a request unanswered this long is lost */
    uint32_t heartbeat_ms;
    uint32_t work_ms;
    uint16_t tasks;
    uint8_t redundancy;
    uint32_t cpu_millis; /* per task */
    uint32_t mem_mib;    /* per task */
    uint64_t bid_per_task;
    uint64_t first_job;
    uint8_t owner[UBC_KEY_BYTES];
    bool json;
    bool busy; /* never sleep when idle */
    const char *label;
};

/* One request waiting for its reply, in a table indexed by sequence. */
struct ubc_loadgen_request {
    uint64_t sequence;
    uint64_t send_tsc; /* for a submission: its scheduled time (open loop) */
    uint64_t id;       /* job or provider id */
    uint16_t type;     /* enum ubc_msg_type */
    uint16_t in_use;
    uint32_t reserved;
};

/* One submitted job, in a table indexed by job id. */
struct ubc_loadgen_job {
    uint64_t job_id;
    uint64_t submit_tsc;
    uint64_t assigned_mask; /* bit task_index * redundancy + replica */
    uint32_t assignments;
    uint32_t results_acked;
    uint8_t acked;
    uint8_t refused;
    uint8_t ended; /* the node's final job-status came */
    uint8_t reserved[5];
};

/* A task a provider is "running": it finishes at finish_tsc. */
struct ubc_loadgen_task {
    uint64_t finish_tsc;
    struct ubc_assignment assignment;
};

struct ubc_loadgen_counters {
    uint64_t submitted;
    uint64_t acked;
    uint64_t refused;
    uint64_t refusals[UBC_ERR_COUNT + 1]; /* by enum ubc_err; last: out of range */
    uint64_t assignments;
    uint64_t assignments_duplicate;
    uint64_t assignments_unknown; /* not a job of this run, or not our provider */
    uint64_t results_sent;
    uint64_t results_acked;
    uint64_t results_refused;
    uint64_t jobs_completed; /* final job-status: completed or validated */
    uint64_t jobs_failed;    /* final job-status: failed or cancelled (reason in refusals) */
    uint64_t heartbeats_sent;
    uint64_t heartbeats_acked;
    uint64_t other_refused; /* refusals of heartbeats, registrations, deregistrations */
    uint64_t lost[UBC_MSG_TYPE_MAX + 1]; /* unanswered within the timeout, by request type */
    uint64_t lost_total;
    uint64_t replies_unmatched; /* a reply to no request we wait for (late or duplicate) */
    uint64_t jobs_unassigned;   /* acked jobs that never got all assignments */
    uint64_t jobs_overwritten;  /* job table wrapped over an unfinished job */
    uint64_t requests_overwritten;
    uint64_t tasks_overflow; /* the running-task queue was full */
    uint64_t late_sends;     /* submissions sent more than 1 ms after their schedule */
    uint64_t rx_frames;
    uint64_t rx_drops[UBC_PKT_DROP_COUNT];
    uint64_t rx_wire_errors[UBC_WIRE_RESULT_COUNT];
    uint64_t tx_frames;
    uint64_t tx_dropped;  /* the port's tx queue stayed full */
    uint64_t mbuf_failed; /* the mempool was empty */
    uint64_t arp_answered;
    uint64_t icmp_answered;
    uint64_t pings_sent;
    uint64_t pings_received;
    uint64_t idle_sleeps;
};

#endif /* UBC_LOADGEN_H */
