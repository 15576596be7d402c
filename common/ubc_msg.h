/* ubc_msg.h: the fixed-size messages roles exchange through rings.
 *
 * Contract: every message between roles inside ubcd is one struct ubc_msg of
 * exactly UBC_MSG_SIZE bytes, taken from a mempool by its producer and
 * returned to the pool by its final consumer. Rings carry pointers. The
 * payload structs below are the in-process form; the wire protocol
 * (dataplane/, docs/wire-protocol.md) encodes them explicitly in little
 * endian, and the journal (storage/) stores them. Nothing here needs DPDK, so
 * the scheduler, the ledger and the tools share these definitions.
 */
#ifndef UBC_MSG_H
#define UBC_MSG_H

#include <stdint.h>

#include "common/ubc_assert.h"

#define UBC_MSG_SIZE 256u
#define UBC_KEY_BYTES 32u  /* Ed25519 public key: account and node identity */
#define UBC_HASH_BYTES 32u /* BLAKE2b-256 result and chain hashes */

/* Message types. Ranges leave room per direction; the wire protocol reuses
 * these numbers as its message types. */
enum ubc_msg_type {
    UBC_MSG_NONE = 0,
    /* client -> node (sched) */
    UBC_MSG_JOB_SUBMIT = 1,
    UBC_MSG_JOB_CANCEL = 2,
    UBC_MSG_JOB_QUERY = 3,
    /* provider -> node (sched) */
    UBC_MSG_PROVIDER_REGISTER = 16,
    UBC_MSG_PROVIDER_HEARTBEAT = 17,
    UBC_MSG_PROVIDER_DEREGISTER = 18,
    UBC_MSG_TASK_RESULT = 19,
    /* node -> clients and providers (through net) */
    UBC_MSG_ACK = 32,
    UBC_MSG_REFUSAL = 33,
    UBC_MSG_JOB_STATUS = 34,
    UBC_MSG_ASSIGNMENT = 35,
    /* sched, clients -> ledger, and back */
    UBC_MSG_LEDGER_OP = 48,
    UBC_MSG_LEDGER_RESULT = 49,
    /* any role -> disk, and back */
    UBC_MSG_JOURNAL_APPEND = 64,
    UBC_MSG_JOURNAL_DURABLE = 65,
    /* consensus among validators: 80..111 reserved */
    UBC_MSG_CONSENSUS_FIRST = 80,
    UBC_MSG_CONSENSUS_LAST = 111,
    /* control thread -> roles */
    UBC_MSG_CONTROL = 112,
    UBC_MSG_TYPE_MAX = 127,
};

/* Error codes carried by refusals, replies and admin answers. Stable numbers:
 * they appear on the wire and in docs/wire-protocol.md. */
enum ubc_err {
    UBC_OK = 0,
    UBC_ERR_MALFORMED = 1,    /* a field out of range or inconsistent */
    UBC_ERR_VERSION = 2,      /* unsupported protocol version */
    UBC_ERR_UNKNOWN_TYPE = 3, /* message type not known to this node */
    UBC_ERR_AUTH = 4,         /* missing or bad authentication */
    UBC_ERR_OVERLOADED = 5,   /* a queue toward a role is full: retry later */
    UBC_ERR_QUEUE_FULL = 6,   /* the scheduler's pending queue is full */
    UBC_ERR_QUOTA = 7,        /* the owner is over its quota */
    UBC_ERR_FUNDS = 8,        /* available balance does not cover the bid */
    UBC_ERR_INFEASIBLE = 9,   /* no provider could ever satisfy the demand */
    UBC_ERR_DUPLICATE = 10,   /* the id is already known */
    UBC_ERR_UNKNOWN_JOB = 11,
    UBC_ERR_UNKNOWN_PROVIDER = 12,
    UBC_ERR_DEADLINE = 13,  /* the deadline passed */
    UBC_ERR_PAUSED = 14,    /* the ledger is under emergency stop */
    UBC_ERR_DRAINING = 15,  /* the node or provider no longer takes work */
    UBC_ERR_READ_ONLY = 16, /* the journal cannot write (disk full, EIO) */
    UBC_ERR_CANCELLED = 17,
    UBC_ERR_RETRIES = 18, /* the job used up its retries */
    UBC_ERR_INTERNAL = 19,
    UBC_ERR_MISMATCH = 20, /* the replicas of a task reported different results */
    UBC_ERR_COUNT
};

/* A resource vector: a provider's capacity or one task's demand. */
struct ubc_resources {
    uint32_t cpu_millis;
    uint32_t mem_mib;
    uint16_t gpu_count;
    uint16_t gpu_class; /* 0 = any class for a demand */
};

enum ubc_qos {
    UBC_QOS_CLASSES = 8, /* 0 is the highest class */
};

enum ubc_policy {
    UBC_POLICY_DEFAULT = 0, /* the class's configured policy */
    UBC_POLICY_SPREAD = 1,
    UBC_POLICY_BINPACK = 2,
    UBC_POLICY_PRICE = 3,
    UBC_POLICY_REPUTATION = 4,
};

/* A swarm job: a gang of task_count identical tasks, each placed on
 * redundancy distinct providers of distinct operators. */
struct ubc_job_submit {
    uint64_t job_id; /* chosen by the client; unique per node */
    uint8_t owner[UBC_KEY_BYTES];
    struct ubc_resources demand; /* per task */
    uint16_t task_count;         /* gang size, >= 1 */
    uint8_t qos_class;           /* < UBC_QOS_CLASSES */
    uint8_t redundancy;          /* >= 1 */
    uint8_t max_retries;
    uint8_t policy;        /* enum ubc_policy */
    uint16_t priority;     /* within the class, higher first */
    uint64_t bid_per_task; /* base units the owner pays at most per task */
    uint64_t deadline_ns;  /* relative to submission; 0 = none */
    uint64_t labels;       /* labels a provider must have (bitmask) */
    uint64_t work_ms;      /* expected run time, a hint for the provider */
};

struct ubc_job_ref {
    uint64_t job_id;
    uint8_t owner[UBC_KEY_BYTES];
};

struct ubc_provider_register {
    uint64_t provider_id;
    uint64_t operator_id;           /* replicas of a task go to distinct operators */
    uint8_t account[UBC_KEY_BYTES]; /* paid on settlement */
    struct ubc_resources capacity;
    uint16_t region;
    uint16_t reserved;
    uint32_t reserved2;
    uint64_t labels;
    uint64_t price_per_task; /* ask, base units */
    uint64_t stake;
};

struct ubc_provider_heartbeat {
    uint64_t provider_id;
    uint32_t running_tasks; /* as the provider sees it */
    uint32_t flags;         /* bit 0: provider asks to drain */
};

enum ubc_task_status {
    UBC_TASK_OK = 0,
    UBC_TASK_FAILED = 1,
};

struct ubc_task_result {
    uint64_t job_id;
    uint64_t provider_id;
    uint16_t task_index;
    uint8_t replica;
    uint8_t status; /* enum ubc_task_status */
    uint32_t run_ms;
    uint8_t result_hash[UBC_HASH_BYTES];
};

struct ubc_assignment {
    uint64_t job_id;
    uint64_t provider_id;
    uint16_t task_index;
    uint8_t replica;
    uint8_t qos_class;
    uint32_t reserved;
    uint64_t price; /* agreed price for this task */
    uint64_t work_ms;
    uint64_t deadline_ns;
};

struct ubc_reply {
    uint64_t id;     /* job or provider id the reply is about */
    uint16_t error;  /* enum ubc_err; UBC_OK for an ack */
    uint16_t state;  /* job state for status replies */
    uint32_t detail; /* e.g. tasks done */
};

/* Header of every in-process message: 32 bytes. */
struct ubc_msg_hdr {
    uint16_t type; /* enum ubc_msg_type */
    uint16_t flags;
    uint16_t len;      /* payload bytes in use */
    uint16_t src_role; /* enum ubc_role_id of the producer */
    uint32_t peer;     /* net role's peer slot for replies; UINT32_MAX none */
    uint32_t peer_gen; /* generation of that slot: a reply to a reused slot is dropped */
    uint64_t seq;      /* request sequence, echoed in replies */
    uint64_t tsc;      /* time of entry into the node (rx), for latency */
};

#define UBC_MSG_PAYLOAD_SIZE (UBC_MSG_SIZE - sizeof(struct ubc_msg_hdr))

/* hdr.flags of an ASSIGNMENT: the task is withdrawn (preemption, failover,
 * cancel). The net role sends it as an ASSIGNMENT with the critical REVOKE
 * wire flag (docs/wire-protocol.md); a result the provider sends anyway is
 * refused as stale. */
#define UBC_MSG_FLAG_REVOKE 1u
#define UBC_PEER_NONE UINT32_MAX

struct ubc_msg {
    struct ubc_msg_hdr hdr;
    union {
        uint8_t bytes[UBC_MSG_PAYLOAD_SIZE];
        struct ubc_job_submit job_submit;
        struct ubc_job_ref job_ref;
        struct ubc_provider_register provider_register;
        struct ubc_provider_heartbeat heartbeat;
        struct ubc_task_result task_result;
        struct ubc_assignment assignment;
        struct ubc_reply reply;
    } u;
} __attribute__((aligned(64)));

UBC_STATIC_ASSERT(sizeof(struct ubc_msg_hdr) == 32, "message header is 32 bytes");
UBC_STATIC_ASSERT(sizeof(struct ubc_msg) == UBC_MSG_SIZE, "message is fixed-size");
UBC_STATIC_ASSERT(sizeof(struct ubc_job_submit) <= UBC_MSG_PAYLOAD_SIZE, "fits");
UBC_STATIC_ASSERT(sizeof(struct ubc_provider_register) <= UBC_MSG_PAYLOAD_SIZE, "fits");

/* Roles, in the order of docs/architecture.md. */
enum ubc_role_id {
    UBC_ROLE_NET = 0,
    UBC_ROLE_SCHED = 1,
    UBC_ROLE_LEDGER = 2,
    UBC_ROLE_CONSENSUS = 3,
    UBC_ROLE_DISK = 4,
    UBC_ROLE_VERIFY = 5, /* signature checks of client ledger ops, off the ledger's path */
    UBC_ROLE_CHAIN = 6,  /* the journals' BLAKE3 chain, off the disk role's lcore (optional) */
    UBC_ROLE_COUNT = 7,
    UBC_ROLE_CONTROL = 8, /* the control thread: a producer, not an lcore role */
};

const char *ubc_err_name(enum ubc_err err);

/* Payload bytes a message of this type uses (what a copy must carry); the
 * whole payload for types whose content varies. */
uint32_t ubc_msg_payload_bytes(uint16_t type);
const char *ubc_msg_type_name(uint16_t type);

#endif /* UBC_MSG_H */
