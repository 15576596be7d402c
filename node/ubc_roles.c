/* ubc_roles.c: the roles' run-loop callbacks and the control mailbox.
 *
 * The sched, ledger, consensus and disk roles consume their input links in
 * bursts; each role's library (scheduler/, ledger/, consensus/, storage/)
 * plugs in here as it is wired.
 */
#include "node/ubc_roles.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <rte_malloc.h>

#include "common/ubc_assert.h"
#include "node/ubc_log.h"
#include "node/ubc_role_disk.h"
#include "node/ubc_role_ledger.h"
#include "node/ubc_role_sched.h"
#include "node/ubc_role_verify.h"

#define ROLE_BURST 32u

static struct ubc_role_sched sched_role;
static struct ubc_role_disk disk_role;
static struct ubc_role_ledger ledger_role;
static struct ubc_role_verify verify_role;

void
ubc_roles_consume(struct ubc_role_state *state, struct ubc_msg **msgs, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        UBC_ASSERT(msgs[i] != NULL);
        state->handled_by_type[msgs[i]->hdr.type & UBC_MSG_TYPE_MAX]++;
    }
    rte_mempool_put_bulk(state->node->msg_pool, (void **)msgs, n);
}

/* Drains up to one burst from each input link of a role. */
static uint32_t
role_drain_links(struct ubc_role_state *state, const enum ubc_link_id *inputs, uint32_t count)
{
    struct ubc_msg *msgs[ROLE_BURST];
    uint32_t total = 0;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t n = ubc_link_recv_burst(&state->node->links[inputs[i]], msgs, ROLE_BURST);
        if (n > 0)
            ubc_roles_consume(state, msgs, n);
        total += n;
    }
    return total;
}

static const enum ubc_link_id consensus_inputs[] = { UBC_LINK_NET_TO_CONSENSUS };

static uint32_t
consensus_poll(void *ctx, uint64_t now_tsc)
{
    (void)now_tsc;
    return role_drain_links(ctx, consensus_inputs, UBC_ARRAY_SIZE(consensus_inputs));
}

static void
role_housekeep(void *ctx, uint64_t now_tsc)
{
    (void)now_tsc;
    ubc_node_control_serve(ctx);
}

static bool
role_inputs_empty(const struct ubc_role_state *state, const enum ubc_link_id *inputs,
                  uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        if (ubc_link_count(&state->node->links[inputs[i]]) != 0)
            return false;
    }
    return true;
}

static bool
consensus_drained(void *ctx)
{
    return role_inputs_empty(ctx, consensus_inputs, UBC_ARRAY_SIZE(consensus_inputs));
}

static void
net_housekeep(void *ctx, uint64_t now_tsc)
{
    struct ubc_role_state *state = ctx;
    ubc_net_housekeep(&state->node->net[0], now_tsc);
    ubc_node_control_serve(state);
}

static uint32_t
net_poll(void *ctx, uint64_t now_tsc)
{
    struct ubc_role_state *state = ctx;
    return ubc_net_poll(&state->node->net[0], now_tsc);
}

static bool
net_drained(void *ctx)
{
    struct ubc_role_state *state = ctx;
    return ubc_net_drained(&state->node->net[0]);
}

static uint32_t
chain_poll(void *ctx, uint64_t now_tsc)
{
    struct ubc_role_state *state = ctx;
    return ubc_role_chain_poll(state->node->disk, now_tsc);
}

void
ubc_roles_ops(struct ubc_node *node, uint32_t role, struct ubc_role_ops *ops)
{
    UBC_ASSERT(role < UBC_ROLE_COUNT);
    memset(ops, 0, sizeof(*ops));
    ops->name = ubc_role_name(role);
    ops->ctx = &node->roles[role];
    ops->housekeep = role_housekeep;
    switch (role) {
    case UBC_ROLE_NET:
        ops->poll = net_poll, ops->housekeep = net_housekeep, ops->drained = net_drained;
        break;
    case UBC_ROLE_SCHED:
        ops->ctx = &sched_role;
        ops->poll = ubc_role_sched_poll;
        ops->housekeep = ubc_role_sched_housekeep;
        ops->drained = ubc_role_sched_drained;
        break;
    case UBC_ROLE_LEDGER:
        ops->ctx = &ledger_role;
        ops->poll = ubc_role_ledger_poll;
        ops->housekeep = ubc_role_ledger_housekeep;
        ops->drained = ubc_role_ledger_drained;
        break;
    case UBC_ROLE_CONSENSUS: ops->poll = consensus_poll, ops->drained = consensus_drained; break;
    case UBC_ROLE_DISK:
        ops->ctx = &disk_role;
        ops->poll = ubc_role_disk_poll;
        ops->housekeep = ubc_role_disk_housekeep;
        ops->drained = ubc_role_disk_drained;
        break;
    case UBC_ROLE_CHAIN: ops->poll = chain_poll; break;
    case UBC_ROLE_VERIFY:
        ops->ctx = &verify_role;
        ops->poll = ubc_role_verify_poll;
        ops->housekeep = ubc_role_verify_housekeep;
        ops->drained = ubc_role_verify_drained;
        break;
    }
}

int
ubc_roles_init(struct ubc_node *node, char *error, size_t error_cap)
{
    for (uint32_t role = 0; role < UBC_ROLE_COUNT; role++) {
        struct ubc_role_state *state = &node->roles[role];
        memset(state, 0, sizeof(*state));
        state->role = role;
        state->node = node;
        state->control.reply = rte_zmalloc("control_reply", UBC_CONTROL_REPLY_MAX, 64);
        if (state->control.reply == NULL)
            return -ENOMEM;
    }
    node->sched = &sched_role;
    int rc = ubc_role_sched_init(node, &sched_role);
    if (rc != 0) {
        snprintf(error, error_cap, "sched role: config: sched.*: %s", strerror(-rc));
        return rc;
    }
    rc = ubc_role_ledger_init(node, &ledger_role, error, error_cap);
    if (rc != 0)
        return rc;
    node->ledger = &ledger_role;
    ubc_role_verify_init(node, &verify_role);
    rc = ubc_role_disk_init(node, &disk_role, &sched_role, error, error_cap);
    sched_role.disk_read_only = &disk_role.read_only;
    node->disk = &disk_role;
    return rc;
}

void
ubc_roles_fini(struct ubc_node *node)
{
    ubc_role_disk_fini(&disk_role);
    ubc_role_ledger_fini(&ledger_role);
    ubc_role_sched_fini(&sched_role);
    for (uint32_t role = 0; role < UBC_ROLE_COUNT; role++) {
        rte_free(node->roles[role].control.reply);
        node->roles[role].control.reply = NULL;
    }
}

void
ubc_node_control_serve(struct ubc_role_state *state)
{
    struct ubc_control_request *req = &state->control;
    if (state->control_deferred ||
        __atomic_load_n(&req->state, __ATOMIC_ACQUIRE) != UBC_CONTROL_POSTED)
        return;
    state->control_requests++;
    req->result = -EOPNOTSUPP; /* reply_len holds the payload's length until fn answers */
    if (state->control_fn != NULL)
        state->control_fn(state->control_ctx, req);
    if (req->result == UBC_CONTROL_DEFERRED) {
        state->control_deferred = 1; /* not served again until completed */
        return;
    }
    ubc_node_control_complete(state);
}

void
ubc_node_control_complete(struct ubc_role_state *state)
{
    struct ubc_control_request *req = &state->control;
    UBC_ASSERT(req->reply_len <= UBC_CONTROL_REPLY_MAX && req->result != UBC_CONTROL_DEFERRED);
    state->control_deferred = 0;
    __atomic_store_n(&req->state, UBC_CONTROL_DONE, __ATOMIC_RELEASE);
}

int
ubc_node_control_call(struct ubc_node *node, uint32_t role, uint32_t command, uint64_t argument,
                      const char *text, const void *payload, uint32_t payload_len,
                      uint32_t timeout_ms, struct ubc_control_request **answer)
{
    UBC_ASSERT(role < UBC_ROLE_COUNT);
    struct ubc_control_request *req = &node->roles[role].control;
    uint32_t state = __atomic_load_n(&req->state, __ATOMIC_ACQUIRE);
    if (state == UBC_CONTROL_POSTED)
        return -EBUSY; /* a request that timed out earlier is still pending */
    UBC_ASSERT(payload_len <= UBC_CONTROL_REPLY_MAX);
    req->command = command;
    req->argument_wide = argument;
    snprintf(req->text, sizeof(req->text), "%s", text ? text : "");
    /* The role is not writing the buffer: no request of ours is posted. */
    if (payload_len > 0)
        memcpy(req->reply, payload, payload_len);
    req->reply_len = payload_len;
    __atomic_store_n(&req->state, UBC_CONTROL_POSTED, __ATOMIC_RELEASE);
    struct timespec pause = { .tv_sec = 0, .tv_nsec = 200000 };
    for (uint32_t waited_us = 0; waited_us < timeout_ms * 1000u; waited_us += 200) {
        if (__atomic_load_n(&req->state, __ATOMIC_ACQUIRE) == UBC_CONTROL_DONE) {
            *answer = req;
            return 0;
        }
        nanosleep(&pause, NULL);
    }
    return -ETIMEDOUT;
}
