/* ubc_role_verify.c: the verify role (see ubc_role_verify.h). */
#include "node/ubc_role_verify.h"

#include <string.h>

#include "common/ubc_assert.h"
#include "ledger/ubc_ledger.h"
#include "ledger/ubc_ledger_msg.h"

void
ubc_role_verify_init(struct ubc_node *node, struct ubc_role_verify *role)
{
    memset(role, 0, sizeof(*role));
    role->state = &node->roles[UBC_ROLE_VERIFY];
    role->chain_id = node->config.ledger_chain_id;
    role->burst = node->config.ledger_verify_burst;
    UBC_ASSERT(role->burst >= 1 && role->burst <= 64);
}

/* The size of the group a message starts: a main op brings its cosigns; a
 * stray cosign or anything else travels alone (the ledger refuses it). */
static uint32_t
verify_group_size(const struct ubc_msg *msg)
{
    if (msg->hdr.type != UBC_MSG_LEDGER_OP || msg->hdr.len != sizeof(struct ubc_ledger_op))
        return 1;
    const struct ubc_ledger_op *op = (const void *)msg->u.bytes;
    if (op->kind == UBC_LEDGER_OP_COSIGN || op->cosign_count >= UBC_VERIFY_GROUP_MAX)
        return 1;
    return 1u + op->cosign_count;
}

uint32_t
ubc_role_verify_complete_prefix(struct ubc_msg *const *msgs, uint32_t count, uint32_t *groups)
{
    uint32_t end = 0;
    *groups = 0;
    while (end < count) {
        uint32_t size = verify_group_size(msgs[end]);
        if (end + size > count)
            break;
        end += size;
        (*groups)++;
    }
    return end;
}

static uint32_t
verify_flush(struct ubc_role_verify *role)
{
    if (role->out_count == 0)
        return 0;
    struct ubc_link *link = &role->state->node->links[UBC_LINK_VERIFY_TO_LEDGER];
    uint32_t sent = ubc_link_send_burst(link, role->out, role->out_count);
    memmove(role->out, role->out + sent, (role->out_count - sent) * sizeof(role->out[0]));
    role->out_count -= sent;
    return sent;
}

uint32_t
ubc_role_verify_poll(void *ctx, uint64_t now_tsc)
{
    (void)now_tsc;
    struct ubc_role_verify *role = ctx;
    uint32_t work = verify_flush(role);
    if (role->out_count != 0)
        return work; /* the ledger is behind: hold input where it is */
    uint32_t room = UBC_VERIFY_HELD_MAX - role->held_count;
    uint32_t want = role->burst + UBC_VERIFY_GROUP_MAX - 1; /* a burst may end in a group */
    uint32_t n = ubc_link_recv_burst(&role->state->node->links[UBC_LINK_NET_TO_VERIFY],
                                     role->held + role->held_count, want < room ? want : room);
    role->held_count += n;
    uint32_t groups;
    uint32_t ready = ubc_role_verify_complete_prefix(role->held, role->held_count, &groups);
    /* The burst bound is in groups' ops: never split a group, never exceed by more than one. */
    uint32_t take = 0, taken_groups = 0;
    while (take < ready && take < role->burst) {
        take += verify_group_size(role->held[take]);
        taken_groups++;
    }
    if (take == 0)
        return work + n;
    role->bad += ubc_ledger_verify_msgs(role->chain_id, role->held, take);
    role->verified += take;
    role->groups += taken_groups;
    memcpy(role->out, role->held, take * sizeof(role->held[0]));
    role->out_count = take;
    memmove(role->held, role->held + take, (role->held_count - take) * sizeof(role->held[0]));
    role->held_count -= take;
    for (uint32_t i = 0; i < take; i++)
        role->state->handled_by_type[role->out[i]->hdr.type & UBC_MSG_TYPE_MAX]++;
    return work + n + take + verify_flush(role);
}

void
ubc_role_verify_housekeep(void *ctx, uint64_t now_tsc)
{
    (void)now_tsc;
    struct ubc_role_verify *role = ctx;
    ubc_node_control_serve(role->state);
}

bool
ubc_role_verify_drained(void *ctx)
{
    struct ubc_role_verify *role = ctx;
    return role->held_count == 0 && role->out_count == 0 &&
           ubc_link_count(&role->state->node->links[UBC_LINK_NET_TO_VERIFY]) == 0;
}
