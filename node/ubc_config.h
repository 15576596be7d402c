/* ubc_config.h: the node's configuration: an INI file read with inih.
 *
 * Contract: every key is declared once in a table (ubc_config.c) with its
 * type, unit (in its name), range, default and help; the same table parses,
 * validates, prints the effective config and generates the reference in
 * docs/operations.md (`ubcd --config-reference`). Errors name the source,
 * the line, the key and the reason. Called from main() before EAL init, on
 * one thread; the config is read-only afterwards.
 */
#ifndef UBC_CONFIG_H
#define UBC_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/ubc_msg.h"

#define UBC_CONFIG_PATH_MAX 512
#define UBC_CONFIG_TEXT_MAX 256
#define UBC_CONFIG_EAL_MAX 1024
#define UBC_CONFIG_ERROR_MAX 512
#define UBC_LCORE_NONE UINT32_MAX

struct ubc_config {
    char eal_args[UBC_CONFIG_EAL_MAX];

    char node_name[64];
    uint32_t node_id;
    char data_dir[UBC_CONFIG_PATH_MAX];
    char admin_socket[UBC_CONFIG_PATH_MAX]; /* empty: <data_dir>/ubcd.sock */
    uint32_t admin_socket_mode;
    char admin_socket_group[64];
    char admin_allowed_uids[UBC_CONFIG_TEXT_MAX];
    char admin_allowed_gids[UBC_CONFIG_TEXT_MAX];
    uint32_t shutdown_drain_ms;
    char log_level[16];

    uint32_t role_lcore[UBC_ROLE_COUNT];

    bool poll_busy;
    uint32_t poll_idle_spins;
    uint32_t poll_sleep_us_min;
    uint32_t poll_sleep_us_max;
    uint32_t poll_housekeeping_us;

    char net_port[UBC_CONFIG_TEXT_MAX];
    uint32_t net_rx_queues;
    uint32_t net_rx_desc;
    uint32_t net_tx_desc;
    uint32_t net_burst_size;
    uint32_t net_mbuf_count; /* 0: computed from descriptors, bursts, caches */
    uint32_t net_mbuf_cache;
    char net_ipv4[16];
    uint32_t net_ipv4_be; /* parsed from net_ipv4, network byte order */
    uint32_t net_udp_port;
    uint32_t net_tx_drain_us;
    bool net_promiscuous;
    uint32_t net_peers_max;
    uint32_t net_instances;         /* net role instances (lcores), 1..8 */
    char role_net_lcores[64];       /* "1,2": lcore of each instance; empty: all on roles.net */
    uint32_t net_instance_lcore[8]; /* parsed from role_net_lcores (or roles.net) */

    uint32_t sched_max_jobs;
    uint32_t sched_max_providers;
    uint32_t sched_max_tasks;
    uint32_t sched_queue_capacity;
    uint32_t sched_quota_jobs_per_owner;
    uint32_t sched_heartbeat_suspect_ms;
    uint32_t sched_heartbeat_down_ms;
    uint32_t sched_aging_ms;
    uint32_t sched_place_budget;

    uint32_t disk_segment_mib;
    uint32_t disk_batch_kib;
    uint32_t disk_batches_inflight;
    uint32_t disk_commit_interval_us;
    bool disk_sync_dsync;
    bool disk_chain_offload;
    bool disk_recycle_segments;
    bool disk_repair;
    uint32_t disk_snapshot_records;

    uint32_t ledger_accounts_max;
    uint32_t ledger_chain_id;
    uint32_t ledger_burn_rate_bps;
    uint32_t ledger_verify_burst;
    uint32_t ledger_batch_ops;
    uint32_t ledger_checkpoint_batches;
    char ledger_genesis_account[72];
    uint64_t ledger_genesis_balance;
    char ledger_guardian_key[72];
    char ledger_authority_key[72];

    uint32_t ring_link_size;
    uint32_t ring_msg_pool_size;
    uint32_t ring_msg_pool_cache;
};

/* Fills every key with its default. */
void ubc_config_defaults(struct ubc_config *config);

/* The embedded default: a virtual port, no hugepages, data under ./var. */
extern const char ubc_config_embedded[];

/* Parses INI text or a file on top of what config holds. `source` names the
 * input in errors. Returns 0, or -1 with a one-line message in error. */
int ubc_config_load_string(struct ubc_config *config, const char *text, const char *source,
                           char *error, size_t error_cap);
int ubc_config_load_file(struct ubc_config *config, const char *path, char *error,
                         size_t error_cap);

/* Applies one "section.key=value" override (command line --set). */
int ubc_config_set(struct ubc_config *config, const char *assignment, char *error,
                   size_t error_cap);

/* Cross-key checks (role map, ranges that depend on each other) and derived
 * values. Returns 0, or -1 with a message. */
int ubc_config_finish(struct ubc_config *config, char *error, size_t error_cap);

/* Writes the effective config as INI, or the reference as Markdown. */
void ubc_config_print(const struct ubc_config *config, FILE *out);
void ubc_config_print_reference(FILE *out);

const char *ubc_role_name(uint32_t role);

#endif /* UBC_CONFIG_H */
