/* ubc_node.h: the assembled node: config, message pool, links between
 * roles, the port, the roles' contexts and the per-lcore run loops.
 *
 * Contract: main() (ubcd.c) builds one struct ubc_node on the main thread,
 * launches the loops, and tears it down after they return. Every lcore
 * reads the node but writes only its own roles' state; the control thread
 * reads counters and talks to roles only through their control requests
 * (ubc_node_control_call), never by touching their state.
 */
#ifndef UBC_NODE_H
#define UBC_NODE_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mempool.h>

#include "dataplane/ubc_net.h"
#include "dataplane/ubc_net_port.h"
#include "node/ubc_config.h"
#include "common/ubc_link.h"
#include "common/ubc_loop.h"

/* The role-to-role links, created at start-up whatever the role map. */
enum ubc_link_id {
    UBC_LINK_NET_TO_SCHED = 0,
    UBC_LINK_SCHED_TO_NET,
    UBC_LINK_SCHED_TO_LEDGER,
    UBC_LINK_LEDGER_TO_SCHED,
    UBC_LINK_NET_TO_CONSENSUS,
    UBC_LINK_CONSENSUS_TO_NET,
    UBC_LINK_CONSENSUS_TO_LEDGER,
    UBC_LINK_TO_DISK,
    UBC_LINK_DISK_TO_SCHED,
    UBC_LINK_DISK_TO_LEDGER,
    UBC_LINK_NET_TO_VERIFY,    /* client ledger ops, whole groups per burst */
    UBC_LINK_VERIFY_TO_LEDGER, /* the same messages, signatures checked */
    UBC_LINK_COUNT
};

/* The control mailbox of one role: a single-slot ring from the control
 * thread. The control thread fills the request and posts it (release); the
 * role answers in its housekeeping, between two bursts, so it never races
 * with its own state, and writes the reply into a buffer the role owns, so a
 * control thread that gave up waiting leaves nothing dangling. */
enum ubc_control_state { UBC_CONTROL_IDLE = 0, UBC_CONTROL_POSTED = 1, UBC_CONTROL_DONE = 2 };

#define UBC_CONTROL_REPLY_MAX (256u * 1024u)

struct ubc_control_request {
    uint32_t command; /* per-role command number */
    uint32_t argument;
    uint64_t argument_wide;
    char text[128];     /* a textual argument (filters, names) */
    uint32_t reply_len; /* written by the role */
    int32_t result;     /* written by the role: 0 or a negative errno */
    uint32_t state;     /* enum ubc_control_state, atomics only */
    uint8_t *reply;     /* UBC_CONTROL_REPLY_MAX bytes, allocated at start-up */
};

/* Role-side handler of control requests; runs on the role's lcore. */
typedef void (*ubc_control_fn)(void *role_ctx, struct ubc_control_request *req);

/* Generic role-side state: counters of messages by type, the control slot. */
struct ubc_role_state {
    uint32_t role;
    struct ubc_node *node;
    uint64_t handled_by_type[UBC_MSG_TYPE_MAX + 1];
    uint64_t control_requests;
    int control_deferred; /* the posted request is being answered later */
    struct ubc_control_request control;
    ubc_control_fn control_fn;
    void *control_ctx;
};

struct ubc_role_disk;
struct ubc_role_ledger;
struct ubc_role_sched;

struct ubc_node {
    struct ubc_config config;
    int stop; /* set by signals and the control thread, read by lcores (atomics) */
    struct ubc_role_disk *disk;
    struct ubc_role_ledger *ledger;
    struct ubc_role_sched *sched;
    uint64_t start_tsc;
    uint64_t tsc_hz;
    uint64_t start_realtime_ns;
    struct rte_mempool *msg_pool;
    struct ubc_link links[UBC_LINK_COUNT];
    struct ubc_net_port port;
    /* Net role instances (net.instances), each on its own queues; replies
     * reach the instance that owns a peer through links_to_net. */
    uint32_t net_count;
    struct ubc_net net[UBC_NET_INSTANCES_MAX];
    struct ubc_link *links_to_net[UBC_ROLE_COUNT][UBC_NET_INSTANCES_MAX];   /* NULL: none */
    struct ubc_link net_reply_links[UBC_ROLE_COUNT][UBC_NET_INSTANCES_MAX]; /* storage */
    struct ubc_role_state roles[UBC_ROLE_COUNT];
    struct ubc_loop loops[RTE_MAX_LCORE];
    bool lcore_used[RTE_MAX_LCORE];
    const char *state; /* "starting", "running", "stopping" */
};

extern struct ubc_node *ubc_node_current;

/* The link a role sends a message for a peer on (a reply, an assignment, a
 * ledger result): the one toward the net instance that owns the peer handle
 * (hdr.peer), from that role. NULL when the handle is none/invalid or the
 * role has no link to net (only sched, ledger, consensus and verify do).
 * Each link has one producer role, so it is SP/SC. Any lcore may call it. */
static inline struct ubc_link *
ubc_node_link_to_net(struct ubc_node *node, enum ubc_role_id from, uint32_t peer)
{
    uint32_t instance = ubc_net_peer_instance(peer);
    if ((uint32_t)from >= UBC_ROLE_COUNT || instance >= node->net_count ||
        instance >= UBC_NET_INSTANCES_MAX)
        return NULL;
    return node->links_to_net[from][instance];
}

/* Posts a request to a role and waits for its answer up to timeout_ms.
 * Called by the control thread only. Returns 0, -ETIMEDOUT or -EBUSY. */
/* payload (may be NULL) is copied into the request's buffer (reply, with
 * reply_len = payload_len) for the role to read before it answers there. */
int ubc_node_control_call(struct ubc_node *node, uint32_t role, uint32_t command, uint64_t argument,
                          const char *text, const void *payload, uint32_t payload_len,
                          uint32_t timeout_ms, struct ubc_control_request **answer);

/* Role side: answers a posted request, if any. Called from housekeeping.
 * A handler that can answer only later (after a journal write) sets
 * req->result to UBC_CONTROL_DEFERRED and calls ubc_node_control_complete
 * once it wrote the answer; the request stays posted until then. */
#define UBC_CONTROL_DEFERRED 1
void ubc_node_control_serve(struct ubc_role_state *state);
void ubc_node_control_complete(struct ubc_role_state *state);

#endif /* UBC_NODE_H */
