/* ubc_config.c: the key table, INI parsing through inih, validation. */
#include "node/ubc_config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ini.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/ubc_assert.h"

enum config_type { TYPE_U32, TYPE_U64, TYPE_BOOL, TYPE_TEXT, TYPE_LCORE, TYPE_MODE };

struct config_key {
    const char *section;
    const char *name;
    enum config_type type;
    size_t offset;
    size_t size; /* text capacity */
    uint64_t min;
    uint64_t max;
    const char *fallback; /* default, as text */
    const char *help;
};

#define OFF(field) offsetof(struct ubc_config, field), sizeof(((struct ubc_config *)0)->field)
#define ROLE_OFF(role) \
    offsetof(struct ubc_config, role_lcore) + (role) * sizeof(uint32_t), sizeof(uint32_t)

static const struct config_key config_keys[] = {
    { "eal", "args", TYPE_TEXT, OFF(eal_args), 0, 0,
      "--no-huge -m 512 --no-pci --no-shconf -l 0-1 --log-level=lib.*:warning "
      "--log-level=pmd.net.tap:crit --vdev=net_tap0,iface=ubc0,mac=fixed",
      "EAL arguments used when none precede `--` on the command line" },
    { "node", "name", TYPE_TEXT, OFF(node_name), 0, 0, "ubc-node", "name shown by status" },
    { "node", "id", TYPE_U32, OFF(node_id), 1, UINT32_MAX, "1",
      "the node's id: the sender id of every datagram it sends" },
    { "node", "data_dir", TYPE_TEXT, OFF(data_dir), 0, 0, "var",
      "directory for the journal, snapshots and the admin socket" },
    { "node", "admin_socket", TYPE_TEXT, OFF(admin_socket), 0, 0, "",
      "admin socket path; empty means <data_dir>/ubcd.sock" },
    { "node", "admin_socket_mode", TYPE_MODE, OFF(admin_socket_mode), 0, 0777, "0660",
      "file mode of the admin socket (octal)" },
    { "node", "admin_socket_group", TYPE_TEXT, OFF(admin_socket_group), 0, 0, "",
      "group (name or gid) that owns the admin socket, so its members can connect; empty: "
      "the node's own group" },
    { "node", "admin_allowed_uids", TYPE_TEXT, OFF(admin_allowed_uids), 0, 0, "",
      "users allowed on the admin socket besides root and the node's own (comma list of uids or "
      "names)" },
    { "node", "admin_allowed_gids", TYPE_TEXT, OFF(admin_allowed_gids), 0, 0, "",
      "groups allowed on the admin socket (comma list of gids or names)" },
    { "node", "shutdown_drain_ms", TYPE_U32, OFF(shutdown_drain_ms), 0, 60000, "2000",
      "how long roles may drain their rings at shutdown" },
    { "log", "level", TYPE_TEXT, OFF(log_level), 0, 0, "info",
      "emerg, alert, crit, err, warning, notice, info or debug" },
    { "roles", "net", TYPE_LCORE, ROLE_OFF(UBC_ROLE_NET), 0, 1023, "1",
      "lcore that runs the net role (its first instance when roles.net_lcores is empty)" },
    { "roles", "net_lcores", TYPE_TEXT, OFF(role_net_lcores), 0, 0, "",
      "comma list of lcores, one per net instance (net.instances entries, an lcore may repeat); "
      "empty: every instance on roles.net" },
    { "roles", "sched", TYPE_LCORE, ROLE_OFF(UBC_ROLE_SCHED), 0, 1023, "1",
      "lcore that runs the sched role" },
    { "roles", "ledger", TYPE_LCORE, ROLE_OFF(UBC_ROLE_LEDGER), 0, 1023, "0",
      "lcore that runs the ledger role" },
    { "roles", "consensus", TYPE_LCORE, ROLE_OFF(UBC_ROLE_CONSENSUS), 0, 1023, "0",
      "lcore that runs the consensus role" },
    { "roles", "disk", TYPE_LCORE, ROLE_OFF(UBC_ROLE_DISK), 0, 1023, "0",
      "lcore that runs the disk role" },
    { "roles", "verify", TYPE_LCORE, ROLE_OFF(UBC_ROLE_VERIFY), 0, 1023, "0",
      "lcore that runs the verify role (Ed25519 checks of client ledger ops)" },
    { "roles", "chain", TYPE_LCORE, ROLE_OFF(UBC_ROLE_CHAIN), 0, 1023, "0",
      "lcore that runs the chain role (the journals' BLAKE3 chain when disk.chain_offload)" },
    { "poll", "busy", TYPE_BOOL, OFF(poll_busy), 0, 1, "false",
      "never sleep when idle (dedicated production cores)" },
    { "poll", "idle_spins", TYPE_U32, OFF(poll_idle_spins), 0, 10000000, "2000",
      "idle iterations (with pause) before the first sleep" },
    { "poll", "sleep_us_min", TYPE_U32, OFF(poll_sleep_us_min), 1, 100000, "20",
      "first idle sleep" },
    { "poll", "sleep_us_max", TYPE_U32, OFF(poll_sleep_us_max), 1, 100000, "1000",
      "idle sleeps double up to this bound" },
    { "poll", "housekeeping_us", TYPE_U32, OFF(poll_housekeeping_us), 100, 1000000, "1000",
      "period of each role's housekeeping (timers, counters)" },
    { "net", "port", TYPE_TEXT, OFF(net_port), 0, 0, "net_tap0",
      "port name as EAL knows it (PCI address or vdev name); a vdev not given to EAL is "
      "probed with these devargs" },
    { "net", "rx_queues", TYPE_U32, OFF(net_rx_queues), 1, 16, "1", "rx (and tx) queues" },
    { "net", "rx_desc", TYPE_U32, OFF(net_rx_desc), 64, 32768, "1024", "rx ring descriptors" },
    { "net", "tx_desc", TYPE_U32, OFF(net_tx_desc), 64, 32768, "1024", "tx ring descriptors" },
    { "net", "burst_size", TYPE_U32, OFF(net_burst_size), 1, 256, "32", "packets per burst" },
    { "net", "mbuf_count", TYPE_U32, OFF(net_mbuf_count), 0, 16777216, "0",
      "mbufs in the pool; 0 computes it from descriptors, bursts and caches" },
    { "net", "mbuf_cache", TYPE_U32, OFF(net_mbuf_cache), 0, 512, "256", "per-lcore mbuf cache" },
    { "net", "ipv4", TYPE_TEXT, OFF(net_ipv4), 0, 0, "198.18.0.2", "the node's IPv4 address" },
    { "net", "udp_port", TYPE_U32, OFF(net_udp_port), 1, 65535, "7400", "UBC UDP port" },
    { "net", "tx_drain_us", TYPE_U32, OFF(net_tx_drain_us), 1, 100000, "100",
      "longest time a partial tx burst waits" },
    { "net", "promiscuous", TYPE_BOOL, OFF(net_promiscuous), 0, 1, "true",
      "accept frames for any MAC (virtual ports)" },
    { "net", "peers_max", TYPE_U32, OFF(net_peers_max), 16, 16777216, "65536",
      "clients and providers the node can answer at once (per net instance)" },
    { "net", "instances", TYPE_U32, OFF(net_instances), 1, 8, "1",
      "net role instances; instance i polls the rx/tx queues q with q mod instances = i, so "
      "rx_queues must be at least this (RSS spreads peers over the queues)" },
    { "sched", "max_jobs", TYPE_U32, OFF(sched_max_jobs), 16, 16777216, "65536",
      "jobs the scheduler tracks (live and recently finished)" },
    { "sched", "max_providers", TYPE_U32, OFF(sched_max_providers), 16, 16777216, "65536",
      "providers in the resource pool" },
    { "sched", "max_tasks", TYPE_U32, OFF(sched_max_tasks), 16, 67108864, "262144",
      "task replicas of live jobs" },
    { "sched", "queue_capacity", TYPE_U32, OFF(sched_queue_capacity), 16, 16777216, "32768",
      "jobs waiting for placement; beyond it submissions are refused (queue-full)" },
    { "sched", "quota_jobs_per_owner", TYPE_U32, OFF(sched_quota_jobs_per_owner), 1, 16777216,
      "4096", "live jobs one owner may have; beyond it submissions are refused (quota)" },
    { "sched", "heartbeat_suspect_ms", TYPE_U32, OFF(sched_heartbeat_suspect_ms), 10, 3600000,
      "300", "heartbeat silence after which a provider gets no new work" },
    { "sched", "heartbeat_down_ms", TYPE_U32, OFF(sched_heartbeat_down_ms), 10, 3600000, "800",
      "heartbeat silence after which a provider is down and its tasks are re-placed" },
    { "sched", "aging_ms", TYPE_U32, OFF(sched_aging_ms), 1, 3600000, "100",
      "waiting time that promotes a job by one priority band (no starvation)" },
    { "sched", "place_budget", TYPE_U32, OFF(sched_place_budget), 1, 1000000, "512",
      "jobs taken from the queue per housekeeping tick" },
    { "disk", "segment_mib", TYPE_U32, OFF(disk_segment_mib), 1, 65536, "64",
      "size of each preallocated journal segment file" },
    { "disk", "batch_kib", TYPE_U32, OFF(disk_batch_kib), 4, 65536, "256",
      "largest group-commit write (a multiple of 4)" },
    { "disk", "batches_inflight", TYPE_U32, OFF(disk_batches_inflight), 1, 15, "4",
      "group-commit writes in flight at once" },
    { "disk", "commit_interval_us", TYPE_U32, OFF(disk_commit_interval_us), 0, 1000000, "100",
      "longest a record waits for its group commit to start" },
    { "disk", "sync_dsync", TYPE_BOOL, OFF(disk_sync_dsync), 0, 1, "false",
      "O_DSYNC writes instead of a write followed by a linked fdatasync" },
    { "disk", "chain_offload", TYPE_BOOL, OFF(disk_chain_offload), 0, 1, "false",
      "hash the journals' chain on roles.chain's lcore, not the disk role's (a spare core)" },
    { "disk", "recycle_segments", TYPE_BOOL, OFF(disk_recycle_segments), 0, 1, "true",
      "reuse segments a snapshot retired instead of zero-filling new ones (jobs journal only)" },
    { "disk", "snapshot_records", TYPE_U32, OFF(disk_snapshot_records), 0, 16777216, "100000",
      "journal records between two snapshots of the unfinished jobs (bounds recovery; 0: never)" },
    { "disk", "repair", TYPE_BOOL, OFF(disk_repair), 0, 1, "false",
      "at start, truncate the journal at a corruption instead of refusing (loses what follows)" },
    { "ledger", "accounts_max", TYPE_U32, OFF(ledger_accounts_max), 16, 16777216, "65536",
      "accounts the ledger holds" },
    { "ledger", "chain_id", TYPE_U32, OFF(ledger_chain_id), 1, UINT32_MAX, "1",
      "network id: separates signatures and hashes of different networks" },
    { "ledger", "verify_burst", TYPE_U32, OFF(ledger_verify_burst), 1, 64, "8",
      "client signatures the verify role checks per poll (about 50 us each)" },
    { "ledger", "checkpoint_batches", TYPE_U32, OFF(ledger_checkpoint_batches), 0, UINT32_MAX,
      "10000",
      "batches between two checkpoints of the ledger (its memory image, as the ledger journal's "
      "snapshot; segments before it move to <data>/ledger-archive); 0: never" },
    { "ledger", "batch_ops", TYPE_U32, OFF(ledger_batch_ops), 64, 4096, "512",
      "most operations the ledger applies and journals as one batch (at least 64: an operator's "
      "group and a client's group of 17 records fit together)" },
    { "ledger", "burn_rate_bps", TYPE_U32, OFF(ledger_burn_rate_bps), 0, 10000, "500",
      "genesis value of the share of each escrow release that is burned (governance changes it)" },
    { "ledger", "genesis_account", TYPE_TEXT, OFF(ledger_genesis_account), 0, 0, "",
      "account (64 hex digits) credited at genesis; empty for none" },
    { "ledger", "genesis_balance", TYPE_U64, OFF(ledger_genesis_balance), 0, UINT64_MAX, "0",
      "base units minted to genesis_account" },
    { "ledger", "guardian_key", TYPE_TEXT, OFF(ledger_guardian_key), 0, 0,
      "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd",
      "public key (64 hex digits) of the guardian that may pause and resume the ledger" },
    { "ledger", "authority_key", TYPE_TEXT, OFF(ledger_authority_key), 0, 0, "",
      "public key (64 hex digits) whose signature other replicas' escrow and settlement "
      "operations carry; empty: only this node's own, unsigned, settlements" },
    { "rings", "link_size", TYPE_U32, OFF(ring_link_size), 64, 1048576, "4096",
      "slots per role-to-role ring (power of two)" },
    { "rings", "msg_pool_size", TYPE_U32, OFF(ring_msg_pool_size), 1024, 16777216, "65535",
      "messages in the pool shared by all rings" },
    { "rings", "msg_pool_cache", TYPE_U32, OFF(ring_msg_pool_cache), 0, 512, "256",
      "per-lcore message cache" },
};

/* The key defaults above are the embedded default: one node on a net_tap
 * port, no hugepages, no NIC, data under ./var. */
const char ubc_config_embedded[] = "# The embedded default: every key at its default value\n"
                                   "# (docs/operations.md, `ubcd --config-reference`).\n";

static const char *const role_names[UBC_ROLE_COUNT] = {
    [UBC_ROLE_NET] = "net",       [UBC_ROLE_SCHED] = "sched",
    [UBC_ROLE_LEDGER] = "ledger", [UBC_ROLE_CONSENSUS] = "consensus",
    [UBC_ROLE_DISK] = "disk",     [UBC_ROLE_VERIFY] = "verify",
    [UBC_ROLE_CHAIN] = "chain",
};

const char *
ubc_role_name(uint32_t role)
{
    return role < UBC_ROLE_COUNT ? role_names[role] : "control";
}

static const struct config_key *
config_find(const char *section, const char *name)
{
    for (size_t i = 0; i < UBC_ARRAY_SIZE(config_keys); i++) {
        if (strcmp(config_keys[i].section, section) == 0 && strcmp(config_keys[i].name, name) == 0)
            return &config_keys[i];
    }
    return NULL;
}

static int
config_parse_u64(const char *value, int base, uint64_t *out)
{
    if (value[0] == '\0' || value[0] == '-')
        return -1;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(value, &end, base);
    if (errno != 0 || end == value || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

static int
config_parse_bool(const char *value, bool *out)
{
    static const char *const yes[] = { "true", "yes", "on", "1" };
    static const char *const no[] = { "false", "no", "off", "0" };
    for (size_t i = 0; i < UBC_ARRAY_SIZE(yes); i++) {
        if (strcmp(value, yes[i]) == 0)
            return *out = true, 0;
        if (strcmp(value, no[i]) == 0)
            return *out = false, 0;
    }
    return -1;
}

/* Stores one value; returns NULL or a static reason. */
static const char *
config_store(struct ubc_config *config, const struct config_key *key, const char *value)
{
    uint8_t *field = (uint8_t *)config + key->offset;
    uint64_t number = 0;
    switch (key->type) {
    case TYPE_TEXT:
        if (strlen(value) >= key->size)
            return "value too long";
        memcpy(field, value, strlen(value) + 1);
        return NULL;
    case TYPE_BOOL:
        return config_parse_bool(value, (bool *)field) == 0 ? NULL : "expected true or false";
    case TYPE_MODE:
        if (config_parse_u64(value, 8, &number) != 0)
            return "expected an octal file mode such as 0660";
        break;
    case TYPE_U32:
    case TYPE_U64:
    case TYPE_LCORE:
        if (config_parse_u64(value, 10, &number) != 0)
            return "expected a non-negative integer";
        break;
    }
    if (key->type == TYPE_U64) {
        if (number < key->min || number > key->max)
            return "out of range";
        *(uint64_t *)field = number;
        return NULL;
    }
    if (number < key->min || number > key->max)
        return "out of range";
    *(uint32_t *)field = (uint32_t)number;
    return NULL;
}

struct config_parse {
    struct ubc_config *config;
    const char *source;
    const char *text; /* string input: the rest to read */
    FILE *file;       /* file input */
    int line;
    char *error;
    size_t error_cap;
    int failed;
};

static int
config_handler(void *user, const char *section, const char *name, const char *value)
{
    struct config_parse *parse = user;
    if (parse->failed)
        return 0;
    const struct config_key *key = config_find(section, name);
    if (key == NULL) {
        snprintf(parse->error, parse->error_cap, "%s:%d: unknown key %s.%s", parse->source,
                 parse->line, section, name);
        parse->failed = 1;
        return 0;
    }
    const char *reason = config_store(parse->config, key, value);
    if (reason != NULL) {
        if (key->type == TYPE_U32 || key->type == TYPE_U64 || key->type == TYPE_LCORE ||
            key->type == TYPE_MODE)
            snprintf(parse->error, parse->error_cap,
                     "%s:%d: %s.%s = '%s': %s (allowed %" PRIu64 "..%" PRIu64 ")", parse->source,
                     parse->line, section, name, value, reason, key->min, key->max);
        else
            snprintf(parse->error, parse->error_cap, "%s:%d: %s.%s = '%s': %s", parse->source,
                     parse->line, section, name, value, reason);
        parse->failed = 1;
        return 0;
    }
    return 1;
}

/* inih reads line by line through this reader, which lets us count lines
 * for error messages whatever inih's build options are. */
/* A line longer than inih's buffer would be split into two lines: refuse
 * it by name instead. */
static char *
config_line_too_long(struct config_parse *parse, int size)
{
    snprintf(parse->error, parse->error_cap, "%s:%d: line longer than %d bytes", parse->source,
             parse->line, size - 2);
    parse->failed = 1;
    return NULL;
}

/* inih reads line by line through this reader, which lets us count lines
 * for error messages whatever inih's build options are. */
static char *
config_reader(char *buffer, int size, void *stream)
{
    struct config_parse *parse = stream;
    UBC_ASSERT(size > 2);
    if (parse->failed)
        return NULL;
    if (parse->file != NULL) {
        char *line = fgets(buffer, size, parse->file);
        if (line == NULL)
            return NULL;
        parse->line++;
        size_t length = strlen(line);
        if (length == (size_t)size - 1 && line[length - 1] != '\n' && !feof(parse->file))
            return config_line_too_long(parse, size);
        return line;
    }
    if (parse->text == NULL || *parse->text == '\0')
        return NULL;
    parse->line++;
    const char *end = strchr(parse->text, '\n');
    size_t length = end ? (size_t)(end - parse->text) + 1 : strlen(parse->text);
    if (length > (size_t)size - 1)
        return config_line_too_long(parse, size);
    memcpy(buffer, parse->text, length);
    buffer[length] = '\0';
    parse->text += length;
    return buffer;
}

static int
config_parse_run(struct config_parse *parse)
{
    int rc = ini_parse_stream(config_reader, parse, config_handler, parse);
    if (parse->failed)
        return -1;
    if (rc != 0) {
        snprintf(parse->error, parse->error_cap,
                 "%s:%d: syntax error (expected [section] "
                 "or key = value)",
                 parse->source, rc > 0 ? rc : parse->line);
        return -1;
    }
    return 0;
}

int
ubc_config_load_string(struct ubc_config *config, const char *text, const char *source, char *error,
                       size_t error_cap)
{
    struct config_parse parse = {
        .config = config, .source = source, .text = text, .error = error, .error_cap = error_cap
    };
    return config_parse_run(&parse);
}

int
ubc_config_load_file(struct ubc_config *config, const char *path, char *error, size_t error_cap)
{
    FILE *file = fopen(path, "r");
    if (file == NULL) {
        snprintf(error, error_cap, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    struct config_parse parse = {
        .config = config, .source = path, .file = file, .error = error, .error_cap = error_cap
    };
    int rc = config_parse_run(&parse);
    fclose(file);
    return rc;
}

int
ubc_config_set(struct ubc_config *config, const char *assignment, char *error, size_t error_cap)
{
    char section[64], name[64];
    const char *dot = strchr(assignment, '.');
    const char *equal = strchr(assignment, '=');
    if (dot == NULL || equal == NULL || dot > equal ||
        (size_t)(dot - assignment) >= sizeof(section) ||
        (size_t)(equal - dot - 1) >= sizeof(name)) {
        snprintf(error, error_cap, "--set '%s': expected section.key=value", assignment);
        return -1;
    }
    memcpy(section, assignment, (size_t)(dot - assignment));
    section[dot - assignment] = '\0';
    memcpy(name, dot + 1, (size_t)(equal - dot - 1));
    name[equal - dot - 1] = '\0';
    struct config_parse parse = { .config = config,
                                  .source = "command line",
                                  .error = error,
                                  .error_cap = error_cap,
                                  .line = 0 };
    config_handler(&parse, section, name, equal + 1);
    return parse.failed ? -1 : 0;
}

void
ubc_config_defaults(struct ubc_config *config)
{
    memset(config, 0, sizeof(*config));
    for (size_t i = 0; i < UBC_ARRAY_SIZE(config_keys); i++) {
        const char *reason = config_store(config, &config_keys[i], config_keys[i].fallback);
        UBC_ASSERT(reason == NULL); /* the table's own defaults are valid */
    }
}

static int
config_fail(char *error, size_t error_cap, const char *key, const char *reason)
{
    snprintf(error, error_cap, "config: %s: %s", key, reason);
    return -1;
}

/* A public key in a config value: 64 hex digits (or empty where allowed). */
static bool
config_key_hex_valid(const char *text, bool may_be_empty)
{
    size_t length = strlen(text);
    if (length == 0)
        return may_be_empty;
    return length == 64 && strspn(text, "0123456789abcdefABCDEF") == 64;
}

static bool
config_log_level_valid(const char *level)
{
    static const char *const levels[] = { "emerg",   "alert",  "crit", "err",
                                          "warning", "notice", "info", "debug" };
    for (size_t i = 0; i < UBC_ARRAY_SIZE(levels); i++) {
        if (strcmp(level, levels[i]) == 0)
            return true;
    }
    return false;
}

/* roles.net_lcores and net.instances: one lcore per instance, enough queues. */
static int
config_net_lcores(struct ubc_config *config, char *error, size_t error_cap)
{
    if (config->net_instances > config->net_rx_queues)
        return config_fail(error, error_cap, "net.instances", "more than net.rx_queues");
    const char *at = config->role_net_lcores;
    uint32_t count = 0;
    while (*at != '\0') {
        char *end = NULL;
        unsigned long lcore = strtoul(at, &end, 10);
        if (end == at || lcore > 1023 || (*end != ',' && *end != '\0') ||
            count >= UBC_ARRAY_SIZE(config->net_instance_lcore))
            return config_fail(error, error_cap, "roles.net_lcores",
                               "expected a comma list of at most 8 lcore ids");
        config->net_instance_lcore[count++] = (uint32_t)lcore;
        at = *end == ',' ? end + 1 : end;
    }
    if (count != 0 && count != config->net_instances)
        return config_fail(error, error_cap, "roles.net_lcores",
                           "needs one lcore per net instance (net.instances)");
    for (uint32_t i = count; i < config->net_instances; i++)
        config->net_instance_lcore[i] = config->role_lcore[UBC_ROLE_NET];
    return 0;
}

int
ubc_config_finish(struct ubc_config *config, char *error, size_t error_cap)
{
    struct in_addr address;
    if (config->poll_sleep_us_min > config->poll_sleep_us_max)
        return config_fail(error, error_cap, "poll.sleep_us_min", "greater than sleep_us_max");
    if (config->sched_heartbeat_suspect_ms >= config->sched_heartbeat_down_ms)
        return config_fail(error, error_cap, "sched.heartbeat_suspect_ms",
                           "must be shorter than heartbeat_down_ms");
    if ((config->ring_link_size & (config->ring_link_size - 1)) != 0)
        return config_fail(error, error_cap, "rings.link_size", "not a power of two");
    if (config->ring_msg_pool_cache * 3 / 2 > config->ring_msg_pool_size)
        return config_fail(error, error_cap, "rings.msg_pool_cache",
                           "more than msg_pool_size / 1.5");
    if (inet_pton(AF_INET, config->net_ipv4, &address) != 1)
        return config_fail(error, error_cap, "net.ipv4", "not a dotted IPv4 address");
    config->net_ipv4_be = address.s_addr;
    const struct {
        const char *key;
        const char *value;
        bool may_be_empty;
    } keys[] = {
        { "ledger.genesis_account", config->ledger_genesis_account, true },
        { "ledger.guardian_key", config->ledger_guardian_key, false },
        { "ledger.authority_key", config->ledger_authority_key, true },
    };
    for (size_t i = 0; i < UBC_ARRAY_SIZE(keys); i++) {
        if (!config_key_hex_valid(keys[i].value, keys[i].may_be_empty))
            return config_fail(error, error_cap, keys[i].key, "expected 64 hex digits");
    }
    if (!config_log_level_valid(config->log_level))
        return config_fail(error, error_cap, "log.level",
                           "expected emerg, alert, crit, err, "
                           "warning, notice, info or debug");
    if (config->data_dir[0] == '\0')
        return config_fail(error, error_cap, "node.data_dir", "must not be empty");
    if (config->net_port[0] == '\0')
        return config_fail(error, error_cap, "net.port", "must not be empty");
    if (config->admin_socket[0] == '\0') {
        int n = snprintf(config->admin_socket, sizeof(config->admin_socket), "%s/ubcd.sock",
                         config->data_dir);
        if (n < 0 || (size_t)n >= sizeof(config->admin_socket))
            return config_fail(error, error_cap, "node.data_dir", "too long");
    }
    if (strlen(config->admin_socket) >= 108) /* sizeof(sockaddr_un.sun_path) */
        return config_fail(error, error_cap, "node.admin_socket", "longer than 107 bytes");
    int rc = config_net_lcores(config, error, error_cap);
    if (rc != 0)
        return rc;
    uint32_t floor = config->net_rx_queues * (config->net_rx_desc + config->net_tx_desc);
    if (config->net_mbuf_count != 0 && config->net_mbuf_count < floor)
        return config_fail(error, error_cap, "net.mbuf_count",
                           "smaller than rx_queues * (rx_desc + tx_desc)");
    return 0;
}

static void
config_print_value(const struct ubc_config *config, const struct config_key *key, FILE *out)
{
    const uint8_t *field = (const uint8_t *)config + key->offset;
    switch (key->type) {
    case TYPE_TEXT: fprintf(out, "%s", (const char *)field); break;
    case TYPE_BOOL: fprintf(out, "%s", *(const bool *)field ? "true" : "false"); break;
    case TYPE_MODE: fprintf(out, "0%o", *(const uint32_t *)field); break;
    case TYPE_U32:
    case TYPE_LCORE: fprintf(out, "%u", *(const uint32_t *)field); break;
    case TYPE_U64: fprintf(out, "%" PRIu64, *(const uint64_t *)field); break;
    }
}

void
ubc_config_print(const struct ubc_config *config, FILE *out)
{
    const char *section = "";
    for (size_t i = 0; i < UBC_ARRAY_SIZE(config_keys); i++) {
        const struct config_key *key = &config_keys[i];
        if (strcmp(section, key->section) != 0) {
            fprintf(out, "%s[%s]\n", i ? "\n" : "", key->section);
            section = key->section;
        }
        fprintf(out, "%s = ", key->name);
        config_print_value(config, key, out);
        fputc('\n', out);
    }
}

void
ubc_config_print_reference(FILE *out)
{
    static const char *const type_names[] = {
        [TYPE_U32] = "integer", [TYPE_U64] = "integer",    [TYPE_BOOL] = "boolean",
        [TYPE_TEXT] = "text",   [TYPE_LCORE] = "lcore id", [TYPE_MODE] = "octal mode",
    };
    fprintf(out, "| key | type | range | default | meaning |\n|---|---|---|---|---|\n");
    for (size_t i = 0; i < UBC_ARRAY_SIZE(config_keys); i++) {
        const struct config_key *key = &config_keys[i];
        fprintf(out, "| `%s.%s` | %s | ", key->section, key->name, type_names[key->type]);
        if (key->type == TYPE_U32 || key->type == TYPE_U64 || key->type == TYPE_LCORE)
            fprintf(out, "%" PRIu64 "..%" PRIu64, key->min, key->max);
        fprintf(out, " | `%s` | %s |\n", key->fallback, key->help);
    }
}
