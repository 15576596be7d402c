/* ubc-client: submit, cancel and query jobs, or run a provider agent, against
 * a UBC node over ordinary kernel UDP sockets (docs/wire-protocol.md).
 *
 *   ubc-client [--node ADDR:PORT] [--json] [--timeout-ms N] [--retries N]
 *              submit|cancel|status --job ID [--count N] [--rate PER_S] [...]
 *   ubc-client [...] provider --id ID [--heartbeat-ms N] [--duration-s S]
 *              [--tasks-max N] [...]
 *   ubc-client [...] ledger-op HEX [COSIGN_HEX...]
 *              (records as `ubc-ledger-op sign` prints them; prints the ledger's result)
 *
 * Requests are pipelined: up to PENDING_MAX wait for their reply at once,
 * each retransmitted (same sequence, RETRY flag) after --timeout-ms, and
 * after a backoff when the node answers "overloaded". Exit codes: 0 all
 * requests answered positively, 1 some refused, 2 usage, 3 some timed out,
 * 4 system error. One line per result on stdout (JSON with --json); errors
 * as one line on stderr. Single-threaded; signals only set a flag.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "common/ubc_bench.h"
#include "common/ubc_msg.h"
#include "common/ubc_time.h"
#include "dataplane/wire/ubc_bad.h"
#include "dataplane/wire/ubc_wire.h"
#include "dataplane/wire/ubc_sim_result.h"
#include "scheduler/ubc_sched.h" /* enum ubc_job_state: the numbers job-status carries */

enum {
    EXIT_REFUSED = 1,
    EXIT_USAGE = 2,
    EXIT_TIMEOUT = 3,
    EXIT_SYSTEM = 4,
};

#define PENDING_MAX 256u
#define RUNNING_MAX 1024u
#define NS_PER_MS 1000000ull
#define BACKOFF_MAX_NS (2000ull * NS_PER_MS)

struct options {
    const char *node;
    const char *command;
    bool json;
    uint32_t timeout_ms;
    uint32_t retries;
    uint32_t backoff_ms;
    uint64_t sender_id;
    uint8_t owner[UBC_KEY_BYTES];
    uint64_t count;
    double rate;
    struct ubc_job_submit job;          /* submit, cancel, status */
    struct ubc_provider_register agent; /* provider */
    uint32_t heartbeat_ms;
    double duration_s;
    uint64_t tasks_max;
    int64_t work_ms_override; /* -1: the assignment's work_ms */
    bool dishonest;           /* report a hash the other replicas will not */
    bool summary;             /* one summary line at the end */
    bool quiet;               /* no line per request */
    const char *ledger_hex[UBC_WIRE_LEDGER_GROUP_FIT]; /* ledger-op: main op, then cosigns */
    uint32_t ledger_count;
};

struct pending {
    bool used;
    uint64_t sequence;
    uint32_t attempts;
    uint64_t first_sent_ns;
    uint64_t resend_at_ns;
    struct ubc_msg request;
};

struct running_task {
    uint64_t finish_ns;
    struct ubc_assignment assignment;
};

struct client {
    const struct options *options;
    int fd;
    uint64_t session_id;
    uint64_t sequence_next;
    uint32_t pending_count;
    struct pending pending[PENDING_MAX];
    uint32_t running_count;
    struct running_task running[RUNNING_MAX];
    /* Outcomes. */
    uint64_t answered;
    uint64_t refused;
    uint64_t timed_out;
    uint64_t overloaded_retries;
    uint64_t assignments;
    uint64_t revocations; /* running tasks stopped by a revocation */
    uint64_t results_acked;
    uint64_t refused_by_code[UBC_ERR_COUNT];
    double *latencies_us; /* answered requests, for the summary */
    uint64_t latency_count;
    uint64_t latency_cap;
    bool registered;
    bool register_failed;
};

static volatile sig_atomic_t stop_requested;

static void
on_signal(int signal_number)
{
    (void)signal_number;
    stop_requested = 1;
}

static void
die_usage(const char *message)
{
    fprintf(stderr, "ubc-client: %s (try --help)\n", message);
    exit(EXIT_USAGE);
}

static const char usage_text[] =
    "usage: ubc-client [--node ADDR:PORT] [--json] [--timeout-ms N] [--retries N]\n"
    "                  [--backoff-ms N] [--sender ID] [--owner HEX64] [--summary] [--quiet]\n"
    "                  COMMAND [options]\n"
    "commands:\n"
    "  submit   --job ID [--count N] [--rate PER_S] [--tasks N] [--cpu MILLI] [--mem MIB]\n"
    "           [--gpus N] [--gpu-class C] [--qos Q] [--priority P] [--redundancy R]\n"
    "           [--max-retries N] [--policy default|spread|binpack|price|reputation]\n"
    "           [--bid UNITS] [--deadline-ms MS] [--labels MASK] [--work-ms MS]\n"
    "  cancel   --job ID [--count N] [--rate PER_S]\n"
    "  status   --job ID [--count N] [--rate PER_S]\n"
    "  provider --id ID [--operator ID] [--cpu MILLI] [--mem MIB] [--gpus N] [--gpu-class C]\n"
    "           [--region R] [--labels MASK] [--price UNITS] [--stake UNITS]\n"
    "           [--heartbeat-ms N] [--duration-s S] [--tasks-max N] [--work-ms MS]\n"
    "           [--dishonest]\n"
    "  malformed  send one datagram per decode-failure reason; check each refusal\n"
    "  ledger-op HEX [COSIGN_HEX...]  send a signed ledger operation (448 hex digits each,\n"
    "           as `ubc-ledger-op sign` prints them; at most 5 cosigns) and print its result\n"
    "--count N sends N requests for jobs ID, ID+1, ... at --rate per second (0: at once).\n"
    "exit: 0 ok, 1 refused, 2 usage, 3 timeout, 4 system error\n";

static uint64_t
parse_u64(const char *text, const char *what)
{
    char *end = NULL;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 0);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-') {
        fprintf(stderr, "ubc-client: %s: not an unsigned number: '%s'\n", what, text);
        exit(EXIT_USAGE);
    }
    return value;
}

static uint64_t
parse_bounded(const char *text, const char *what, uint64_t max)
{
    uint64_t value = parse_u64(text, what);
    if (value > max) {
        fprintf(stderr, "ubc-client: %s: %" PRIu64 " is above %" PRIu64 "\n", what, value, max);
        exit(EXIT_USAGE);
    }
    return value;
}

static double
parse_double(const char *text, const char *what)
{
    char *end = NULL;
    double value = strtod(text, &end);
    if (end == text || *end != '\0' || !(value >= 0)) {
        fprintf(stderr, "ubc-client: %s: not a non-negative number: '%s'\n", what, text);
        exit(EXIT_USAGE);
    }
    return value;
}

static uint8_t
parse_policy(const char *text)
{
    static const char *const names[] = { "default", "spread", "binpack", "price", "reputation" };
    for (uint8_t i = 0; i < UBC_ARRAY_SIZE(names); i++)
        if (strcmp(text, names[i]) == 0)
            return i;
    die_usage("--policy: expected default, spread, binpack, price or reputation");
    return 0;
}

static void
parse_owner(const char *text, uint8_t owner[UBC_KEY_BYTES])
{
    if (strlen(text) != 2 * UBC_KEY_BYTES)
        die_usage("--owner: expected 64 hex digits");
    for (size_t i = 0; i < UBC_KEY_BYTES; i++) {
        char pair[3] = { text[2 * i], text[2 * i + 1], 0 };
        char *end = NULL;
        owner[i] = (uint8_t)strtoul(pair, &end, 16);
        if (*end != '\0')
            die_usage("--owner: expected 64 hex digits");
    }
}

enum option_id {
    OPTION_NODE = 256,
    OPTION_JSON,
    OPTION_TIMEOUT,
    OPTION_RETRIES,
    OPTION_BACKOFF,
    OPTION_SENDER,
    OPTION_OWNER,
    OPTION_JOB,
    OPTION_ID,
    OPTION_COUNT,
    OPTION_RATE,
    OPTION_TASKS,
    OPTION_CPU,
    OPTION_MEM,
    OPTION_GPUS,
    OPTION_GPU_CLASS,
    OPTION_QOS,
    OPTION_PRIORITY,
    OPTION_REDUNDANCY,
    OPTION_MAX_RETRIES,
    OPTION_POLICY,
    OPTION_BID,
    OPTION_DEADLINE,
    OPTION_LABELS,
    OPTION_WORK,
    OPTION_OPERATOR,
    OPTION_REGION,
    OPTION_PRICE,
    OPTION_STAKE,
    OPTION_HEARTBEAT,
    OPTION_DURATION,
    OPTION_TASKS_MAX,
    OPTION_DISHONEST,
    OPTION_SUMMARY,
    OPTION_QUIET,
    OPTION_HELP,
};

static const struct option long_options[] = {
    { "node", required_argument, NULL, OPTION_NODE },
    { "json", no_argument, NULL, OPTION_JSON },
    { "timeout-ms", required_argument, NULL, OPTION_TIMEOUT },
    { "retries", required_argument, NULL, OPTION_RETRIES },
    { "backoff-ms", required_argument, NULL, OPTION_BACKOFF },
    { "sender", required_argument, NULL, OPTION_SENDER },
    { "owner", required_argument, NULL, OPTION_OWNER },
    { "job", required_argument, NULL, OPTION_JOB },
    { "id", required_argument, NULL, OPTION_ID },
    { "count", required_argument, NULL, OPTION_COUNT },
    { "rate", required_argument, NULL, OPTION_RATE },
    { "tasks", required_argument, NULL, OPTION_TASKS },
    { "cpu", required_argument, NULL, OPTION_CPU },
    { "mem", required_argument, NULL, OPTION_MEM },
    { "gpus", required_argument, NULL, OPTION_GPUS },
    { "gpu-class", required_argument, NULL, OPTION_GPU_CLASS },
    { "qos", required_argument, NULL, OPTION_QOS },
    { "priority", required_argument, NULL, OPTION_PRIORITY },
    { "redundancy", required_argument, NULL, OPTION_REDUNDANCY },
    { "max-retries", required_argument, NULL, OPTION_MAX_RETRIES },
    { "policy", required_argument, NULL, OPTION_POLICY },
    { "bid", required_argument, NULL, OPTION_BID },
    { "deadline-ms", required_argument, NULL, OPTION_DEADLINE },
    { "labels", required_argument, NULL, OPTION_LABELS },
    { "work-ms", required_argument, NULL, OPTION_WORK },
    { "operator", required_argument, NULL, OPTION_OPERATOR },
    { "region", required_argument, NULL, OPTION_REGION },
    { "price", required_argument, NULL, OPTION_PRICE },
    { "stake", required_argument, NULL, OPTION_STAKE },
    { "heartbeat-ms", required_argument, NULL, OPTION_HEARTBEAT },
    { "duration-s", required_argument, NULL, OPTION_DURATION },
    { "tasks-max", required_argument, NULL, OPTION_TASKS_MAX },
    { "dishonest", no_argument, NULL, OPTION_DISHONEST },
    { "summary", no_argument, NULL, OPTION_SUMMARY },
    { "quiet", no_argument, NULL, OPTION_QUIET },
    { "help", no_argument, NULL, OPTION_HELP },
    { NULL, 0, NULL, 0 },
};

static void
options_defaults(struct options *o)
{
    memset(o, 0, sizeof(*o));
    o->node = "127.0.0.1:7400";
    o->timeout_ms = 500;
    o->retries = 4;
    o->backoff_ms = 20;
    o->sender_id = 0x7562630000000000ull | (uint64_t)getuid(); /* "ubc" + uid: stable */
    o->count = 1;
    o->job = (struct ubc_job_submit){ .demand = { .cpu_millis = 1000, .mem_mib = 1024 },
                                      .task_count = 1,
                                      .qos_class = 3,
                                      .redundancy = 1,
                                      .max_retries = 2,
                                      .bid_per_task = 100,
                                      .work_ms = 100 };
    o->agent = (struct ubc_provider_register){
        .operator_id = 1,
        .capacity = { .cpu_millis = 8000, .mem_mib = 16384 },
        .price_per_task = 10,
    };
    o->heartbeat_ms = 1000;
    o->work_ms_override = -1;
}

/* Resources go to both the job's demand and the provider's capacity: only
 * the command's own one is sent. */
static bool
options_apply_resources(struct options *o, int id, const char *arg)
{
    struct ubc_resources *job = &o->job.demand, *agent = &o->agent.capacity;
    switch (id) {
    case OPTION_CPU:
        job->cpu_millis = agent->cpu_millis = (uint32_t)parse_bounded(arg, "--cpu", UINT32_MAX);
        break;
    case OPTION_MEM:
        job->mem_mib = agent->mem_mib = (uint32_t)parse_bounded(arg, "--mem", UINT32_MAX);
        break;
    case OPTION_GPUS:
        job->gpu_count = agent->gpu_count = (uint16_t)parse_bounded(arg, "--gpus", UINT16_MAX);
        break;
    case OPTION_GPU_CLASS:
        job->gpu_class = agent->gpu_class = (uint16_t)parse_bounded(arg, "--gpu-class", UINT16_MAX);
        break;
    case OPTION_LABELS: o->job.labels = o->agent.labels = parse_u64(arg, "--labels"); break;
    default: return false;
    }
    return true;
}

static bool
options_apply_job(struct options *o, int id, const char *arg)
{
    struct ubc_job_submit *j = &o->job;
    switch (id) {
    case OPTION_JOB: j->job_id = parse_u64(arg, "--job"); break;
    case OPTION_TASKS: j->task_count = (uint16_t)parse_bounded(arg, "--tasks", UINT16_MAX); break;
    case OPTION_QOS:
        j->qos_class = (uint8_t)parse_bounded(arg, "--qos", UBC_QOS_CLASSES - 1);
        break;
    case OPTION_PRIORITY:
        j->priority = (uint16_t)parse_bounded(arg, "--priority", UINT16_MAX);
        break;
    case OPTION_REDUNDANCY:
        j->redundancy = (uint8_t)parse_bounded(arg, "--redundancy", UINT8_MAX);
        break;
    case OPTION_MAX_RETRIES:
        j->max_retries = (uint8_t)parse_bounded(arg, "--max-retries", UINT8_MAX);
        break;
    case OPTION_POLICY: j->policy = parse_policy(arg); break;
    case OPTION_BID: j->bid_per_task = parse_u64(arg, "--bid"); break;
    case OPTION_DEADLINE:
        j->deadline_ns = parse_bounded(arg, "--deadline-ms", UINT64_MAX / NS_PER_MS) * NS_PER_MS;
        break;
    case OPTION_WORK:
        j->work_ms = parse_u64(arg, "--work-ms");
        o->work_ms_override = (int64_t)parse_bounded(arg, "--work-ms", INT64_MAX);
        break;
    default: return false;
    }
    return true;
}

static bool
options_apply_provider(struct options *o, int id, const char *arg)
{
    struct ubc_provider_register *p = &o->agent;
    switch (id) {
    case OPTION_ID: p->provider_id = parse_u64(arg, "--id"); break;
    case OPTION_OPERATOR: p->operator_id = parse_u64(arg, "--operator"); break;
    case OPTION_REGION: p->region = (uint16_t)parse_bounded(arg, "--region", UINT16_MAX); break;
    case OPTION_PRICE: p->price_per_task = parse_u64(arg, "--price"); break;
    case OPTION_STAKE: p->stake = parse_u64(arg, "--stake"); break;
    case OPTION_HEARTBEAT:
        o->heartbeat_ms = (uint32_t)parse_bounded(arg, "--heartbeat-ms", 3600000);
        break;
    case OPTION_DURATION: o->duration_s = parse_double(arg, "--duration-s"); break;
    case OPTION_TASKS_MAX: o->tasks_max = parse_u64(arg, "--tasks-max"); break;
    case OPTION_DISHONEST: o->dishonest = true; break;
    default: return false;
    }
    return true;
}

static bool
options_apply_global(struct options *o, int id, const char *arg)
{
    switch (id) {
    case OPTION_NODE: o->node = arg; break;
    case OPTION_JSON: o->json = true; break;
    case OPTION_TIMEOUT:
        o->timeout_ms = (uint32_t)parse_bounded(arg, "--timeout-ms", 600000);
        break;
    case OPTION_RETRIES: o->retries = (uint32_t)parse_bounded(arg, "--retries", 1000); break;
    case OPTION_BACKOFF: o->backoff_ms = (uint32_t)parse_bounded(arg, "--backoff-ms", 60000); break;
    case OPTION_SENDER: o->sender_id = parse_u64(arg, "--sender"); break;
    case OPTION_OWNER: parse_owner(arg, o->owner); break;
    case OPTION_COUNT: o->count = parse_bounded(arg, "--count", UINT32_MAX); break;
    case OPTION_RATE: o->rate = parse_double(arg, "--rate"); break;
    case OPTION_SUMMARY: o->summary = true; break;
    case OPTION_QUIET: o->quiet = true; break;
    case OPTION_HELP: fputs(usage_text, stdout); exit(0);
    default: return false;
    }
    return true;
}

static void
options_validate(struct options *o)
{
    static const char *const commands[] = { "submit",   "cancel",    "status",
                                            "provider", "malformed", "ledger-op" };
    bool known = false;
    for (size_t i = 0; i < UBC_ARRAY_SIZE(commands); i++)
        known = known || (o->command != NULL && strcmp(o->command, commands[i]) == 0);
    if (!known)
        die_usage(o->command ? "unknown command" : "missing command");
    bool provider = strcmp(o->command, "provider") == 0;
    if (strcmp(o->command, "malformed") == 0 || strcmp(o->command, "ledger-op") == 0)
        o->job.job_id = o->job.job_id ? o->job.job_id : 1; /* needs no job */
    if (strcmp(o->command, "ledger-op") == 0 && o->ledger_count == 0)
        die_usage("ledger-op: expected the operation's hex record");
    if (provider && o->agent.provider_id == 0)
        die_usage("provider: --id must be given and non-zero");
    if (provider) { /* the account paid for its work: "prov" and its id, unique per provider */
        memcpy(o->agent.account, "prov", 4);
        for (int i = 0; i < 8; i++)
            o->agent.account[4 + i] = (uint8_t)(o->agent.provider_id >> (8 * i));
    }
    if (!provider && o->job.job_id == 0)
        die_usage("--job must be given and non-zero");
    if (!provider && (o->job.task_count == 0 || o->job.redundancy == 0))
        die_usage("--tasks and --redundancy must be at least 1");
    if (o->count == 0)
        die_usage("--count must be at least 1");
    if (o->timeout_ms == 0)
        die_usage("--timeout-ms must be at least 1");
    bool owner_given = false;
    for (size_t i = 0; i < UBC_KEY_BYTES; i++)
        owner_given = owner_given || o->owner[i] != 0;
    if (!owner_given) /* derived from the sender, so cancel and status match submit */
        for (size_t i = 0; i < 8; i++)
            o->owner[i] = (uint8_t)(o->sender_id >> (8 * i));
}

static void
options_parse(struct options *o, int argc, char **argv)
{
    options_defaults(o);
    opterr = 0;
    int id;
    while ((id = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
        if (id == '?' || id == ':') {
            fprintf(stderr, "ubc-client: bad or incomplete option '%s' (try --help)\n",
                    argv[optind - 1]);
            exit(EXIT_USAGE);
        }
        if (!options_apply_global(o, id, optarg) && !options_apply_resources(o, id, optarg) &&
            !options_apply_job(o, id, optarg) && !options_apply_provider(o, id, optarg))
            die_usage("unhandled option");
    }
    if (optind < argc)
        o->command = argv[optind];
    bool ledger = o->command != NULL && strcmp(o->command, "ledger-op") == 0;
    for (int i = optind + 1; ledger && i < argc; i++) {
        if (o->ledger_count == UBC_WIRE_LEDGER_GROUP_FIT)
            die_usage("ledger-op: at most 5 cosign records fit a datagram");
        o->ledger_hex[o->ledger_count++] = argv[i];
    }
    if (!ledger && optind + 1 < argc)
        die_usage("unexpected extra argument");
    options_validate(o);
}

static int
socket_open(const char *node)
{
    char host[256];
    const char *colon = strrchr(node, ':');
    if (colon == NULL || colon == node || (size_t)(colon - node) >= sizeof(host) || !colon[1])
        die_usage("--node: expected ADDR:PORT");
    memcpy(host, node, (size_t)(colon - node));
    host[colon - node] = '\0';
    parse_bounded(colon + 1, "--node port", UINT16_MAX);
    struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_DGRAM };
    struct addrinfo *found = NULL;
    int rc = getaddrinfo(host, colon + 1, &hints, &found);
    if (rc != 0) {
        fprintf(stderr, "ubc-client: --node %s: %s\n", node, gai_strerror(rc));
        exit(EXIT_USAGE);
    }
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    /* connect(): the kernel delivers only the node's datagrams to us. */
    if (fd < 0 || connect(fd, found->ai_addr, found->ai_addrlen) != 0) {
        fprintf(stderr, "ubc-client: cannot reach %s: %s\n", node, strerror(errno));
        exit(EXIT_SYSTEM);
    }
    freeaddrinfo(found);
    return fd;
}

static void
client_transmit(struct client *c, const struct ubc_msg *msg, uint16_t flags)
{
    const struct ubc_wire_origin origin = { .sender_id = c->options->sender_id,
                                            .session_id = c->session_id,
                                            .flags = flags };
    uint8_t datagram[UBC_WIRE_DATAGRAM_MAX];
    size_t len = 0;
    enum ubc_wire_result result = ubc_wire_encode(msg, &origin, datagram, sizeof(datagram), &len);
    if (result != UBC_WIRE_OK) {
        fprintf(stderr, "ubc-client: cannot encode %s: %s\n", ubc_msg_type_name(msg->hdr.type),
                ubc_wire_result_name(result));
        exit(EXIT_USAGE);
    }
    /* A refused connection (no node yet) shows up on a later recv; the retry
     * timer covers it, like a lost datagram. */
    if (send(c->fd, datagram, len, 0) < 0 && errno != ECONNREFUSED && errno != EAGAIN &&
        errno != ENOBUFS) {
        fprintf(stderr, "ubc-client: send: %s\n", strerror(errno));
        exit(EXIT_SYSTEM);
    }
}

/* Sends msg as a new request; its reply or timeout reaches the handler. */
static void
client_request(struct client *c, struct ubc_msg *msg, uint64_t now_ns)
{
    UBC_ASSERT(c->pending_count < PENDING_MAX);
    struct pending *p = NULL;
    for (uint32_t i = 0; i < PENDING_MAX && p == NULL; i++)
        if (!c->pending[i].used)
            p = &c->pending[i];
    UBC_ASSERT(p != NULL);
    msg->hdr.seq = c->sequence_next++;
    *p = (struct pending){ .used = true,
                           .sequence = msg->hdr.seq,
                           .attempts = 1,
                           .first_sent_ns = now_ns,
                           .resend_at_ns = now_ns + c->options->timeout_ms * NS_PER_MS,
                           .request = *msg };
    c->pending_count++;
    client_transmit(c, msg, 0);
}

static const char *const job_state_names[UBC_JOB_STATE_COUNT] = {
    [UBC_JOB_PENDING] = "pending",     [UBC_JOB_ASSIGNED] = "assigned",
    [UBC_JOB_RUNNING] = "running",     [UBC_JOB_COMPLETED] = "completed",
    [UBC_JOB_VALIDATED] = "validated", [UBC_JOB_FAILED] = "failed",
    [UBC_JOB_CANCELLED] = "cancelled",
};
UBC_STATIC_ASSERT(UBC_JOB_STATE_COUNT == 7, "name the new job states in job_state_names");

static const char *
job_state_name(uint16_t state)
{
    return state < UBC_JOB_STATE_COUNT ? job_state_names[state] : "unknown";
}

static void
hex_write(char *out, const uint8_t *bytes, size_t len)
{
    for (size_t i = 0; i < len; i++)
        snprintf(out + 2 * i, 3, "%02x", bytes[i]);
}

/* Prints one request's outcome; reply NULL means it timed out. */
static void
report_outcome(const struct client *c, const struct pending *p, const struct ubc_msg *reply,
               uint64_t now_ns)
{
    const struct ubc_msg *req = &p->request;
    uint64_t id = req->hdr.type == UBC_MSG_JOB_SUBMIT ? req->u.job_submit.job_id
                  : req->hdr.type == UBC_MSG_PROVIDER_REGISTER
                      ? req->u.provider_register.provider_id
                  : req->hdr.type == UBC_MSG_TASK_RESULT         ? req->u.task_result.job_id
                  : req->hdr.type == UBC_MSG_PROVIDER_DEREGISTER ? req->u.heartbeat.provider_id
                                                                 : req->u.job_ref.job_id;
    const char *result = reply == NULL                           ? "timeout"
                         : reply->hdr.type == UBC_MSG_ACK        ? "ack"
                         : reply->hdr.type == UBC_MSG_REFUSAL    ? "refused"
                         : reply->hdr.type == UBC_MSG_JOB_STATUS ? "status"
                                                                 : "unexpected";
    const char *error = reply ? ubc_err_name((enum ubc_err)reply->u.reply.error) : "timeout";
    uint64_t latency_us = (now_ns - p->first_sent_ns) / 1000;
    if (c->options->json) {
        printf("{\"request\":\"%s\",\"id\":%" PRIu64 ",\"result\":\"%s\",\"error\":\"%s\","
               "\"state\":%u,\"state_name\":\"%s\",\"detail\":%u,\"attempts\":%u,"
               "\"latency_us\":%" PRIu64 "}\n",
               ubc_msg_type_name(req->hdr.type), id, result, error,
               reply ? reply->u.reply.state : 0,
               reply && reply->hdr.type == UBC_MSG_JOB_STATUS ? job_state_name(reply->u.reply.state)
                                                              : "",
               reply ? reply->u.reply.detail : 0, p->attempts, latency_us);
    } else if (reply != NULL && reply->hdr.type == UBC_MSG_JOB_STATUS) {
        printf("%s %" PRIu64 ": state %s (%u), detail %u, error %s (%" PRIu64 " us)\n",
               ubc_msg_type_name(req->hdr.type), id, job_state_name(reply->u.reply.state),
               reply->u.reply.state, reply->u.reply.detail, error, latency_us);
    } else {
        printf("%s %" PRIu64 ": %s%s%s after %u attempt%s (%" PRIu64 " us)\n",
               ubc_msg_type_name(req->hdr.type), id, result,
               reply && reply->hdr.type == UBC_MSG_REFUSAL ? ": " : "",
               reply && reply->hdr.type == UBC_MSG_REFUSAL ? error : "", p->attempts,
               p->attempts == 1 ? "" : "s", latency_us);
    }
    fflush(stdout);
}

static void
pending_complete(struct client *c, struct pending *p, const struct ubc_msg *reply, uint64_t now_ns)
{
    uint16_t type = p->request.hdr.type;
    bool quiet = type == UBC_MSG_PROVIDER_HEARTBEAT || c->options->quiet;
    if (!quiet)
        report_outcome(c, p, reply, now_ns);
    if (reply == NULL) {
        c->timed_out++;
    } else if (reply->hdr.type == UBC_MSG_REFUSAL) {
        c->refused++;
        c->refused_by_code[reply->u.reply.error < UBC_ERR_COUNT ? reply->u.reply.error
                                                                : UBC_ERR_INTERNAL]++;
    } else {
        c->answered++;
    }
    if (reply != NULL && c->latency_count < c->latency_cap)
        c->latencies_us[c->latency_count++] = (double)(now_ns - p->first_sent_ns) / 1000.0;
    bool ok = reply != NULL && reply->hdr.type != UBC_MSG_REFUSAL;
    if (type == UBC_MSG_PROVIDER_REGISTER) {
        c->registered = ok;
        c->register_failed = !ok;
    }
    if (type == UBC_MSG_TASK_RESULT && ok)
        c->results_acked++;
    p->used = false;
    c->pending_count--;
}

static uint64_t
backoff_ns(const struct client *c, uint32_t attempts)
{
    uint64_t delay = (uint64_t)c->options->backoff_ms * NS_PER_MS;
    for (uint32_t i = 1; i < attempts && delay < BACKOFF_MAX_NS; i++)
        delay *= 2;
    if (delay > BACKOFF_MAX_NS)
        delay = BACKOFF_MAX_NS;
    /* Jitter spreads the retries of many clients refused at the same moment. */
    return delay + (delay ? randombytes_uniform((uint32_t)(delay / 2 / 1000 + 1)) * 1000ull : 0);
}

static struct pending *
pending_find(struct client *c, uint64_t sequence)
{
    for (uint32_t i = 0; i < PENDING_MAX; i++)
        if (c->pending[i].used && c->pending[i].sequence == sequence)
            return &c->pending[i];
    return NULL;
}

static void provider_assignment(struct client *c, const struct ubc_assignment *a, uint64_t now_ns);
static void provider_revoke(struct client *c, const struct ubc_assignment *a);

static void
client_on_reply(struct client *c, const struct ubc_msg *reply, uint64_t now_ns)
{
    if (reply->hdr.type == UBC_MSG_ASSIGNMENT && (reply->hdr.flags & UBC_MSG_FLAG_REVOKE)) {
        provider_revoke(c, &reply->u.assignment);
        return;
    }
    if (reply->hdr.type == UBC_MSG_ASSIGNMENT) {
        provider_assignment(c, &reply->u.assignment, now_ns);
        return;
    }
    struct pending *p = pending_find(c, reply->hdr.seq);
    if (p == NULL)
        return; /* a late duplicate of an answered request */
    bool overloaded =
        reply->hdr.type == UBC_MSG_REFUSAL && reply->u.reply.error == UBC_ERR_OVERLOADED;
    if (overloaded && p->attempts <= c->options->retries) {
        c->overloaded_retries++;
        p->resend_at_ns = now_ns + backoff_ns(c, p->attempts);
        return;
    }
    pending_complete(c, p, reply, now_ns);
}

static void
client_receive(struct client *c)
{
    uint8_t datagram[UBC_WIRE_DATAGRAM_MAX + 1];
    for (int i = 0; i < 64; i++) {
        ssize_t len = recv(c->fd, datagram, sizeof(datagram), MSG_DONTWAIT);
        if (len < 0)
            return; /* EAGAIN, or ECONNREFUSED: nobody listens yet; timers retry */
        const struct ubc_wire_policy policy = { .require_tag = false };
        struct ubc_wire_header header;
        struct ubc_msg msg;
        enum ubc_wire_result result =
            ubc_wire_decode(datagram, (size_t)len, &policy, &header, &msg);
        if (result != UBC_WIRE_OK) {
            fprintf(stderr, "ubc-client: dropped a reply: %s\n", ubc_wire_result_name(result));
            continue;
        }
        client_on_reply(c, &msg, ubc_time_monotonic_ns());
    }
}

/* Retransmits what is due; completes what ran out of attempts. */
static void
client_timers(struct client *c, uint64_t now_ns)
{
    for (uint32_t i = 0; i < PENDING_MAX; i++) {
        struct pending *p = &c->pending[i];
        if (!p->used || p->resend_at_ns > now_ns)
            continue;
        if (p->attempts > c->options->retries) {
            pending_complete(c, p, NULL, now_ns);
            continue;
        }
        p->attempts++;
        p->resend_at_ns = now_ns + backoff_ns(c, p->attempts) + c->options->timeout_ms * NS_PER_MS;
        client_transmit(c, &p->request, UBC_WIRE_FLAG_RETRY);
    }
}

static uint64_t
client_next_timer(const struct client *c, uint64_t until_ns)
{
    for (uint32_t i = 0; i < PENDING_MAX; i++)
        if (c->pending[i].used && c->pending[i].resend_at_ns < until_ns)
            until_ns = c->pending[i].resend_at_ns;
    return until_ns;
}

/* Waits for replies until deadline_ns (or a signal), running the timers. */
static void
client_poll(struct client *c, uint64_t deadline_ns)
{
    uint64_t now_ns = ubc_time_monotonic_ns();
    uint64_t wake_ns = client_next_timer(c, deadline_ns);
    int timeout_ms = wake_ns > now_ns ? (int)((wake_ns - now_ns + NS_PER_MS - 1) / NS_PER_MS) : 0;
    struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
    int ready = poll(&pfd, 1, timeout_ms);
    if (ready < 0 && errno != EINTR) {
        fprintf(stderr, "ubc-client: poll: %s\n", strerror(errno));
        exit(EXIT_SYSTEM);
    }
    if (ready > 0)
        client_receive(c);
    client_timers(c, ubc_time_monotonic_ns());
}

static void
request_build(const struct options *o, uint64_t job_id, struct ubc_msg *msg)
{
    memset(msg, 0, sizeof(*msg));
    if (strcmp(o->command, "submit") == 0) {
        msg->hdr.type = UBC_MSG_JOB_SUBMIT;
        msg->u.job_submit = o->job;
        msg->u.job_submit.job_id = job_id;
        memcpy(msg->u.job_submit.owner, o->owner, UBC_KEY_BYTES);
        return;
    }
    msg->hdr.type = strcmp(o->command, "cancel") == 0 ? UBC_MSG_JOB_CANCEL : UBC_MSG_JOB_QUERY;
    msg->u.job_ref.job_id = job_id;
    memcpy(msg->u.job_ref.owner, o->owner, UBC_KEY_BYTES);
}

/* One line: counts, achieved rate, latency percentiles, refusals by code. */
static void
print_summary(struct client *c, uint64_t elapsed_ns)
{
    double seconds = (double)elapsed_ns / 1e9;
    uint64_t sent = c->answered + c->refused + c->timed_out;
    double rate = seconds > 0 ? (double)sent / seconds : 0;
    double p50 = 0, p99 = 0, max = 0;
    if (c->latency_count > 0) {
        p50 = ubc_bench_percentile(c->latencies_us, c->latency_count, 50);
        p99 = ubc_bench_percentile(c->latencies_us, c->latency_count, 99);
        max = ubc_bench_percentile(c->latencies_us, c->latency_count, 100);
    }
    char refusals[512] = "";
    size_t used = 0;
    for (int e = 1; e < UBC_ERR_COUNT && used < sizeof(refusals) - 64; e++)
        if (c->refused_by_code[e] > 0)
            used += (size_t)snprintf(refusals + used, sizeof(refusals) - used,
                                     c->options->json ? "%s\"%s\":%" PRIu64 : "%s%s=%" PRIu64,
                                     used ? "," : "", ubc_err_name((enum ubc_err)e),
                                     c->refused_by_code[e]);
    if (c->options->json)
        printf("{\"event\":\"summary\",\"requests\":%" PRIu64 ",\"answered\":%" PRIu64
               ",\"refused\":%" PRIu64 ",\"timeouts\":%" PRIu64 ",\"overload_retries\":%" PRIu64
               ",\"seconds\":%.3f,\"per_second\":%.1f,\"latency_us_p50\":%.1f,"
               "\"latency_us_p99\":%.1f,\"latency_us_max\":%.1f,\"refusals\":{%s}}\n",
               sent, c->answered, c->refused, c->timed_out, c->overloaded_retries, seconds, rate,
               p50, p99, max, refusals);
    else
        printf("summary: %" PRIu64 " requests, %" PRIu64 " answered, %" PRIu64 " refused, %" PRIu64
               " timed out in %.3f s (%.1f/s); latency p50 %.0f us, p99 %.0f us, max %.0f us;"
               " %" PRIu64 " overload retries%s%s\n",
               sent, c->answered, c->refused, c->timed_out, seconds, rate, p50, p99, max,
               c->overloaded_retries, used ? "; refusals: " : "", refusals);
    fflush(stdout);
}

/* submit, cancel, status: --count requests at --rate, pipelined. */
static int
run_requests(struct client *c)
{
    const struct options *o = c->options;
    uint64_t start_ns = ubc_time_monotonic_ns();
    uint64_t interval_ns = o->rate > 0 ? (uint64_t)(1e9 / o->rate) : 0;
    for (uint64_t i = 0; i < o->count && !stop_requested; i++) {
        uint64_t due_ns = start_ns + i * interval_ns;
        while (!stop_requested &&
               (c->pending_count == PENDING_MAX || ubc_time_monotonic_ns() < due_ns))
            client_poll(c, c->pending_count == PENDING_MAX ? UINT64_MAX : due_ns);
        if (stop_requested)
            break;
        struct ubc_msg msg;
        request_build(o, o->job.job_id + i, &msg);
        client_request(c, &msg, ubc_time_monotonic_ns());
    }
    while (c->pending_count > 0 && !stop_requested)
        client_poll(c, UINT64_MAX);
    if (o->summary)
        print_summary(c, ubc_time_monotonic_ns() - start_ns);
    if (stop_requested) {
        fprintf(stderr, "ubc-client: interrupted with %u request(s) unanswered\n",
                c->pending_count);
        return EXIT_TIMEOUT;
    }
    if (c->timed_out > 0) {
        fprintf(stderr, "ubc-client: %" PRIu64 " request(s) got no reply from %s\n", c->timed_out,
                o->node);
        return EXIT_TIMEOUT;
    }
    return c->refused > 0 ? EXIT_REFUSED : 0;
}

static void
provider_assignment(struct client *c, const struct ubc_assignment *a, uint64_t now_ns)
{
    const struct options *o = c->options;
    for (uint32_t i = 0; i < c->running_count; i++) {
        const struct ubc_assignment *r = &c->running[i].assignment;
        if (r->job_id == a->job_id && r->task_index == a->task_index && r->replica == a->replica)
            return; /* a retransmitted assignment: already running */
    }
    c->assignments++;
    if (c->running_count == RUNNING_MAX || a->provider_id != o->agent.provider_id) {
        fprintf(stderr, "ubc-client: ignored assignment for job %" PRIu64 " (%s)\n", a->job_id,
                c->running_count == RUNNING_MAX ? "too many running" : "another provider");
        return;
    }
    uint64_t work_ms = o->work_ms_override >= 0 ? (uint64_t)o->work_ms_override : a->work_ms;
    c->running[c->running_count++] =
        (struct running_task){ .finish_ns = now_ns + work_ms * NS_PER_MS, .assignment = *a };
    if (o->json)
        printf("{\"event\":\"assignment\",\"job\":%" PRIu64 ",\"task\":%u,\"replica\":%u,"
               "\"work_ms\":%" PRIu64 "}\n",
               a->job_id, a->task_index, a->replica, work_ms);
    else
        printf("assignment: job %" PRIu64 " task %u replica %u, %" PRIu64 " ms of work\n",
               a->job_id, a->task_index, a->replica, work_ms);
    fflush(stdout);
}

/* A revocation (preemption, failover): the task stops and reports nothing;
 * one for a task not running (already done, or a duplicate) is ignored. */
static void
provider_revoke(struct client *c, const struct ubc_assignment *a)
{
    bool found = false;
    for (uint32_t i = 0; i < c->running_count && !found; i++) {
        const struct ubc_assignment *r = &c->running[i].assignment;
        found =
            r->job_id == a->job_id && r->task_index == a->task_index && r->replica == a->replica;
        if (found)
            c->running[i] = c->running[--c->running_count];
    }
    c->revocations += found;
    if (c->options->json)
        printf("{\"event\":\"revoked\",\"job\":%" PRIu64 ",\"task\":%u,\"replica\":%u,"
               "\"was_running\":%s}\n",
               a->job_id, a->task_index, a->replica, found ? "true" : "false");
    else
        printf("revoked: job %" PRIu64 " task %u replica %u%s\n", a->job_id, a->task_index,
               a->replica, found ? ", stopped" : " (not running)");
    fflush(stdout);
}

static void
provider_print_result(const struct options *o, const struct ubc_task_result *r)
{
    char hash[2 * UBC_HASH_BYTES + 1];
    hex_write(hash, r->result_hash, UBC_HASH_BYTES);
    if (o->json)
        printf("{\"event\":\"result\",\"job\":%" PRIu64 ",\"task\":%u,\"replica\":%u,"
               "\"run_ms\":%u,\"hash\":\"%s\"}\n",
               r->job_id, r->task_index, r->replica, r->run_ms, hash);
    else
        printf("result: job %" PRIu64 " task %u replica %u after %u ms, hash %s\n", r->job_id,
               r->task_index, r->replica, r->run_ms, hash);
    fflush(stdout);
}

/* Reports every task whose simulated work is done. */
static void
provider_finish_tasks(struct client *c, uint64_t now_ns)
{
    for (uint32_t i = 0; i < c->running_count;) {
        struct running_task *t = &c->running[i];
        if (t->finish_ns > now_ns || c->pending_count == PENDING_MAX) {
            i++;
            continue;
        }
        struct ubc_msg msg;
        memset(&msg, 0, sizeof(msg));
        msg.hdr.type = UBC_MSG_TASK_RESULT;
        struct ubc_task_result *r = &msg.u.task_result;
        r->job_id = t->assignment.job_id;
        r->provider_id = t->assignment.provider_id;
        r->task_index = t->assignment.task_index;
        r->replica = t->assignment.replica;
        r->status = UBC_TASK_OK;
        uint64_t run_ms = (now_ns - t->finish_ns) / NS_PER_MS + t->assignment.work_ms;
        r->run_ms = run_ms > UINT32_MAX ? UINT32_MAX : (uint32_t)run_ms;
        ubc_sim_result_hash(t->assignment.job_id, t->assignment.task_index,
                            c->options->dishonest ? t->assignment.provider_id : 0, r->result_hash);
        client_request(c, &msg, now_ns);
        provider_print_result(c->options, r);
        c->running[i] = c->running[--c->running_count];
    }
}

static void
provider_heartbeat(struct client *c, uint64_t now_ns)
{
    if (c->pending_count == PENDING_MAX)
        return;
    struct ubc_msg msg;
    memset(&msg, 0, sizeof(msg));
    msg.hdr.type = UBC_MSG_PROVIDER_HEARTBEAT;
    msg.u.heartbeat.provider_id = c->options->agent.provider_id;
    msg.u.heartbeat.running_tasks = c->running_count;
    msg.u.heartbeat.flags = stop_requested ? UBC_WIRE_HEARTBEAT_FLAG_DRAIN : 0;
    client_request(c, &msg, now_ns);
}

static uint64_t
provider_next_finish(const struct client *c, uint64_t until_ns)
{
    for (uint32_t i = 0; i < c->running_count; i++)
        if (c->running[i].finish_ns < until_ns)
            until_ns = c->running[i].finish_ns;
    return until_ns;
}

static bool
provider_done(const struct client *c, uint64_t now_ns, uint64_t end_ns)
{
    const struct options *o = c->options;
    if (stop_requested || now_ns >= end_ns)
        return true;
    return o->tasks_max > 0 && c->results_acked >= o->tasks_max;
}

static void
provider_deregister(struct client *c)
{
    struct ubc_msg msg;
    memset(&msg, 0, sizeof(msg));
    msg.hdr.type = UBC_MSG_PROVIDER_DEREGISTER;
    msg.u.heartbeat.provider_id = c->options->agent.provider_id;
    stop_requested = 0; /* a second signal still ends the wait below */
    while (c->pending_count == PENDING_MAX)
        client_poll(c, UINT64_MAX);
    client_request(c, &msg, ubc_time_monotonic_ns());
    while (c->pending_count > 0 && !stop_requested)
        client_poll(c, UINT64_MAX);
}

/* provider: register, then heartbeats, assignments and results until
 * --duration-s, --tasks-max or a signal; then deregister. */
static int
run_provider(struct client *c)
{
    const struct options *o = c->options;
    struct ubc_msg msg;
    memset(&msg, 0, sizeof(msg));
    msg.hdr.type = UBC_MSG_PROVIDER_REGISTER;
    msg.u.provider_register = o->agent;
    client_request(c, &msg, ubc_time_monotonic_ns());
    while (!c->registered && !c->register_failed && !stop_requested)
        client_poll(c, UINT64_MAX);
    if (!c->registered)
        return c->timed_out ? EXIT_TIMEOUT : EXIT_REFUSED;
    uint64_t now_ns = ubc_time_monotonic_ns();
    uint64_t end_ns = o->duration_s > 0 ? now_ns + (uint64_t)(o->duration_s * 1e9) : UINT64_MAX;
    uint64_t heartbeat_ns = (uint64_t)o->heartbeat_ms * NS_PER_MS;
    uint64_t next_heartbeat_ns = now_ns + heartbeat_ns;
    while (!provider_done(c, now_ns, end_ns)) {
        uint64_t wake_ns =
            provider_next_finish(c, next_heartbeat_ns < end_ns ? next_heartbeat_ns : end_ns);
        client_poll(c, wake_ns);
        now_ns = ubc_time_monotonic_ns();
        provider_finish_tasks(c, now_ns);
        if (now_ns >= next_heartbeat_ns) {
            provider_heartbeat(c, now_ns);
            next_heartbeat_ns = now_ns + heartbeat_ns;
        }
    }
    provider_deregister(c);
    if (o->json)
        printf("{\"event\":\"summary\",\"assignments\":%" PRIu64 ",\"results_acked\":%" PRIu64
               ",\"revoked\":%" PRIu64 ",\"refused\":%" PRIu64 ",\"timeouts\":%" PRIu64 "}\n",
               c->assignments, c->results_acked, c->revocations, c->refused, c->timed_out);
    else
        printf("summary: %" PRIu64 " assignments, %" PRIu64 " results acked, %" PRIu64
               " refused, %" PRIu64 " timed out\n",
               c->assignments, c->results_acked, c->refused, c->timed_out);
    return 0;
}

/* Waits up to the timeout for a refusal echoing sequence; returns its
 * code, or -1 when none came. Other datagrams are ignored. */
static int
malformed_await_refusal(struct client *c, uint64_t sequence)
{
    uint64_t deadline_ns = ubc_time_monotonic_ns() + c->options->timeout_ms * NS_PER_MS;
    for (uint64_t now_ns = ubc_time_monotonic_ns(); now_ns < deadline_ns;
         now_ns = ubc_time_monotonic_ns()) {
        struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
        int wait_ms = (int)((deadline_ns - now_ns + NS_PER_MS - 1) / NS_PER_MS);
        if (poll(&pfd, 1, wait_ms) <= 0)
            continue;
        uint8_t datagram[UBC_WIRE_DATAGRAM_MAX + 1];
        ssize_t len = recv(c->fd, datagram, sizeof(datagram), MSG_DONTWAIT);
        const struct ubc_wire_policy policy = { .require_tag = false };
        struct ubc_wire_header header;
        struct ubc_msg msg;
        if (len > 0 &&
            ubc_wire_decode(datagram, (size_t)len, &policy, &header, &msg) == UBC_WIRE_OK &&
            msg.hdr.type == UBC_MSG_REFUSAL && msg.hdr.seq == sequence)
            return msg.u.reply.error;
    }
    return -1;
}

/* malformed: one datagram per decode reason (ubc_bad.h). A datagram the
 * node must answer has to come back as a refusal with the right code; noise
 * (short header, bad magic) must get no answer. Exit 0 when all behave. */
static int
run_malformed(struct client *c)
{
    uint32_t wrong = 0;
    for (int r = 1; r < UBC_WIRE_RESULT_COUNT && !stop_requested; r++) {
        enum ubc_wire_result reason = (enum ubc_wire_result)r;
        if (reason == UBC_WIRE_ERR_TAG_REQUIRED || reason == UBC_WIRE_ERR_NO_ROOM)
            continue; /* not a malformation, or the encoder's own */
        uint8_t datagram[UBC_WIRE_DATAGRAM_MAX + 1];
        size_t len = ubc_bad_datagram(reason, datagram, UBC_WIRE_DATAGRAM_MAX + 1);
        UBC_ASSERT(len != 0);
        bool noise = reason == UBC_WIRE_ERR_SHORT_HEADER || reason == UBC_WIRE_ERR_BAD_MAGIC;
        int expected = noise ? -1 : (int)ubc_wire_result_to_err(reason);
        if (send(c->fd, datagram, len, 0) < 0 && errno != ECONNREFUSED) {
            fprintf(stderr, "ubc-client: send: %s\n", strerror(errno));
            return EXIT_SYSTEM;
        }
        int got = malformed_await_refusal(c, 1000 + (uint64_t)reason);
        const char *got_name = got < 0 ? "none" : ubc_err_name((enum ubc_err)got);
        const char *expected_name = expected < 0 ? "none" : ubc_err_name((enum ubc_err)expected);
        wrong += got != expected;
        if (c->options->json)
            printf("{\"malformed\":\"%s\",\"expected\":\"%s\",\"got\":\"%s\",\"ok\":%s}\n",
                   ubc_wire_result_name(reason), expected_name, got_name,
                   got == expected ? "true" : "false");
        else
            printf("malformed %-16s expected refusal %-12s got %-12s %s\n",
                   ubc_wire_result_name(reason), expected_name, got_name,
                   got == expected ? "ok" : "WRONG");
        fflush(stdout);
    }
    return wrong ? EXIT_REFUSED : 0;
}

/* The records given on the command line, checked by the codec's own group
 * rules: the hex is each record's bytes, which are its wire encoding. */
static uint32_t
ledger_parse(const struct options *o, struct ubc_wire_ledger_op *ops)
{
    uint8_t payload[UBC_WIRE_LEDGER_GROUP_FIT * UBC_WIRE_LEDGER_OP_BYTES];
    for (uint32_t i = 0; i < o->ledger_count; i++) {
        if (strlen(o->ledger_hex[i]) != 2 * UBC_WIRE_LEDGER_OP_BYTES ||
            sodium_hex2bin(payload + i * UBC_WIRE_LEDGER_OP_BYTES, UBC_WIRE_LEDGER_OP_BYTES,
                           o->ledger_hex[i], 2 * UBC_WIRE_LEDGER_OP_BYTES, NULL, NULL, NULL) != 0)
            die_usage("ledger-op: each record is 448 hex digits");
    }
    struct ubc_wire_header header = { .type = UBC_MSG_LEDGER_OP,
                                      .payload_len =
                                          (uint16_t)(o->ledger_count * UBC_WIRE_LEDGER_OP_BYTES) };
    uint32_t count = 0;
    enum ubc_wire_result result =
        ubc_wire_ledger_group_decode(&header, payload, ops, UBC_WIRE_LEDGER_GROUP_FIT, &count);
    if (result != UBC_WIRE_OK) {
        fprintf(stderr,
                "ubc-client: ledger-op: %s (the main op announces its cosigns, which "
                "follow it)\n",
                ubc_wire_result_name(result));
        exit(EXIT_USAGE);
    }
    return count;
}

static void
ledger_transmit(struct client *c, const struct ubc_wire_ledger_op *ops, uint32_t count,
                uint16_t flags)
{
    const struct ubc_wire_origin origin = { .sender_id = c->options->sender_id,
                                            .session_id = c->session_id,
                                            .flags = flags };
    uint8_t datagram[UBC_WIRE_DATAGRAM_MAX];
    size_t len = 0;
    UBC_ASSERT(ubc_wire_ledger_group_encode(ops, count, 1, &origin, datagram, sizeof(datagram),
                                            &len) == UBC_WIRE_OK);
    if (send(c->fd, datagram, len, 0) < 0 && errno != ECONNREFUSED && errno != EAGAIN) {
        fprintf(stderr, "ubc-client: send: %s\n", strerror(errno));
        exit(EXIT_SYSTEM);
    }
}

/* Waits until deadline_ns for the answer to sequence 1: a LEDGER_RESULT
 * or a REFUSAL. Returns true with *reply filled. */
static bool
ledger_await(struct client *c, uint64_t deadline_ns, struct ubc_msg *reply)
{
    for (uint64_t now_ns = ubc_time_monotonic_ns(); now_ns < deadline_ns && !stop_requested;
         now_ns = ubc_time_monotonic_ns()) {
        struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
        if (poll(&pfd, 1, (int)((deadline_ns - now_ns + NS_PER_MS - 1) / NS_PER_MS)) <= 0)
            continue;
        uint8_t datagram[UBC_WIRE_DATAGRAM_MAX + 1];
        ssize_t len = recv(c->fd, datagram, sizeof(datagram), MSG_DONTWAIT);
        const struct ubc_wire_policy policy = { .require_tag = false };
        struct ubc_wire_header header;
        if (len > 0 &&
            ubc_wire_decode(datagram, (size_t)len, &policy, &header, reply) == UBC_WIRE_OK &&
            reply->hdr.seq == 1 &&
            (reply->hdr.type == UBC_MSG_LEDGER_RESULT || reply->hdr.type == UBC_MSG_REFUSAL))
            return true;
    }
    return false;
}

static void
ledger_report(const struct client *c, const struct ubc_wire_ledger_op *main_op,
              const struct ubc_msg *reply, uint32_t attempts, uint64_t latency_us)
{
    const char *result = reply == NULL                        ? "timeout"
                         : reply->hdr.type == UBC_MSG_REFUSAL ? "refused"
                         : reply->u.reply.error == UBC_OK     ? "applied"
                                                              : "rejected";
    const char *error = reply ? ubc_err_name((enum ubc_err)reply->u.reply.error) : "timeout";
    uint32_t code = reply && reply->hdr.type == UBC_MSG_LEDGER_RESULT ? reply->u.reply.state : 0;
    uint32_t height = reply && reply->hdr.type == UBC_MSG_LEDGER_RESULT ? reply->u.reply.detail : 0;
    if (c->options->json)
        printf("{\"request\":\"ledger-op\",\"kind\":%u,\"nonce\":%" PRIu64 ",\"result\":\"%s\","
               "\"error\":\"%s\",\"ledger_result\":%u,\"height\":%u,\"attempts\":%u,"
               "\"latency_us\":%" PRIu64 "}\n",
               main_op->kind, main_op->nonce, result, error, code, height, attempts, latency_us);
    else
        printf("ledger-op kind %u nonce %" PRIu64 ": %s (%s, ledger result %u, height %u) after "
               "%u attempt%s (%" PRIu64 " us)\n",
               main_op->kind, main_op->nonce, result, error, code, height, attempts,
               attempts == 1 ? "" : "s", latency_us);
    fflush(stdout);
}

/* ledger-op: one group, retransmitted (RETRY flag) after --timeout-ms and
 * after a backoff when refused "overloaded". Exit 0 when applied, 1 when
 * refused or rejected by the ledger, 3 on timeout. */
static int
run_ledger_op(struct client *c)
{
    struct ubc_wire_ledger_op ops[UBC_WIRE_LEDGER_GROUP_FIT];
    uint32_t count = ledger_parse(c->options, ops);
    uint64_t start_ns = ubc_time_monotonic_ns();
    struct ubc_msg reply;
    bool answered = false;
    uint32_t attempts = 0;
    uint64_t wait_ns = c->options->timeout_ms * NS_PER_MS;
    while (!answered && attempts <= c->options->retries && !stop_requested) {
        ledger_transmit(c, ops, count, attempts ? UBC_WIRE_FLAG_RETRY : 0);
        attempts++;
        answered = ledger_await(c, ubc_time_monotonic_ns() + wait_ns, &reply);
        if (answered && reply.hdr.type == UBC_MSG_REFUSAL &&
            reply.u.reply.error == UBC_ERR_OVERLOADED && attempts <= c->options->retries) {
            answered = false; /* back off, then send again */
            struct ubc_msg ignored;
            (void)ledger_await(c, ubc_time_monotonic_ns() + backoff_ns(c, attempts), &ignored);
        }
    }
    ledger_report(c, &ops[0], answered ? &reply : NULL, attempts,
                  (ubc_time_monotonic_ns() - start_ns) / 1000);
    if (!answered)
        return EXIT_TIMEOUT;
    return reply.hdr.type == UBC_MSG_LEDGER_RESULT && reply.u.reply.error == UBC_OK ? 0
                                                                                    : EXIT_REFUSED;
}

int
main(int argc, char **argv)
{
    static struct options options;
    static struct client client; /* large tables: not on the stack */
    options_parse(&options, argc, argv);
    if (sodium_init() < 0) {
        fprintf(stderr, "ubc-client: libsodium failed to initialise\n");
        return EXIT_SYSTEM;
    }
    client.options = &options;
    client.fd = socket_open(options.node);
    client.sequence_next = 1;
    if (options.summary) {
        client.latency_cap = options.count < 10000000 ? options.count : 10000000;
        client.latencies_us = calloc(client.latency_cap, sizeof(double));
        if (client.latencies_us == NULL) {
            fprintf(stderr, "ubc-client: out of memory for %" PRIu64 " latencies\n",
                    client.latency_cap);
            return EXIT_SYSTEM;
        }
    }
    while (client.session_id == 0)
        randombytes_buf(&client.session_id, sizeof(client.session_id));
    struct sigaction action = { .sa_handler = on_signal };
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    int status = strcmp(options.command, "provider") == 0    ? run_provider(&client)
                 : strcmp(options.command, "malformed") == 0 ? run_malformed(&client)
                 : strcmp(options.command, "ledger-op") == 0 ? run_ledger_op(&client)
                                                             : run_requests(&client);
    close(client.fd);
    free(client.latencies_us);
    return status;
}
