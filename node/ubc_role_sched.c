/* ubc_role_sched.c: the sched role (see ubc_role_sched.h). */
#include "node/ubc_role_sched.h"

#include <errno.h>
#include <string.h>

#include <rte_malloc.h>
#include <rte_prefetch.h>

#include "common/ubc_assert.h"
#include "common/ubc_time.h"
#include "node/ubc_role_disk.h"
#include "node/ubc_roles.h"

#define SCHED_BURST 32u

UBC_STATIC_ASSERT(UBC_SCHED_FLAG_REVOKE == UBC_MSG_FLAG_REVOKE, "one revocation flag");

static uint64_t
sched_now_ns(const struct ubc_role_sched *role, uint64_t now_tsc)
{
    return ubc_time_cycles_to_ns(now_tsc - role->start_tsc, role->tsc_hz);
}

/* The link an output goes on: replies and assignments toward the net
 * instance that owns the peer, ledger ops toward the ledger. */
static struct ubc_link *
sched_output_link(struct ubc_role_sched *role, const struct ubc_msg *msg, bool *to_net)
{
    struct ubc_node *node = role->state->node;
    *to_net = false;
    switch (msg->hdr.type) {
    case UBC_MSG_ACK:
    case UBC_MSG_REFUSAL:
    case UBC_MSG_JOB_STATUS:
    case UBC_MSG_ASSIGNMENT:
        *to_net = true;
        return ubc_node_link_to_net(node, UBC_ROLE_SCHED, msg->hdr.peer);
    case UBC_MSG_LEDGER_OP: return &node->links[UBC_LINK_SCHED_TO_LEDGER];
    default: return NULL;
    }
}

#define SCHED_FLUSH_RUN 32u

static inline bool
sched_type_is_reply(uint16_t type)
{
    return type == UBC_MSG_ACK || type == UBC_MSG_REFUSAL || type == UBC_MSG_JOB_STATUS;
}

enum { PARKED_WAITING = 0, PARKED_RELEASE = 1, PARKED_DROP = 2 };

/* An input the role is done with: counted, and kept for an output of this
 * poll (ubc_role_sched.h) or put back to the pool when the stash is full.
 * Inlined: called for every input. */
static inline __attribute__((always_inline)) void
sched_consume(struct ubc_role_sched *role, struct ubc_msg *msg)
{
    UBC_ASSERT(msg != NULL);
    role->state->handled_by_type[msg->hdr.type & UBC_MSG_TYPE_MAX]++;
    if (role->spent_count < UBC_ARRAY_SIZE(role->spent))
        role->spent[role->spent_count++] = msg;
    else
        rte_mempool_put(role->state->node->msg_pool, msg);
}

/* n messages for outputs: spent inputs first, the pool for the rest.
 * Returns false, with nothing taken, when the pool is short. */
static bool
sched_msgs_take(struct ubc_role_sched *role, struct ubc_msg **msgs, uint32_t n)
{
    uint32_t reused = n < role->spent_count ? n : role->spent_count;
    for (uint32_t i = 0; i < reused; i++)
        msgs[i] = role->spent[--role->spent_count];
    if (reused == n || rte_mempool_get_bulk(role->state->node->msg_pool, (void **)(msgs + reused),
                                            n - reused) == 0)
        return true;
    for (uint32_t i = 0; i < reused; i++)
        role->spent[role->spent_count++] = msgs[i];
    return false;
}

static void
sched_spent_release(struct ubc_role_sched *role)
{
    if (role->spent_count > 0)
        rte_mempool_put_bulk(role->state->node->msg_pool, (void **)role->spent, role->spent_count);
    role->spent_count = 0;
}

/* The admission entry an output must wait on: an assignment (or its
 * revocation) of a job admitted and not yet locked by the ledger (a refused
 * one waits for its journal record to be withdrawn, and is dropped). NULL:
 * the output goes now. */
static struct ubc_admission *
sched_park_entry(struct ubc_role_sched *role, const struct ubc_msg *staged)
{
    if (staged->hdr.type != UBC_MSG_ASSIGNMENT || role->admission->used == 0)
        return NULL;
    struct ubc_admission *entry = ubc_admission_find(role->admission, staged->u.assignment.job_id);
    return entry != NULL && entry->escrow != UBC_ESCROW_LOCKED ? entry : NULL;
}

enum park_result { PARK_DONE, PARK_FULL, PARK_NO_MSG };

/* Parks a copy of the staged head. A full FIFO lets it go unparked
 * (counted); an empty pool makes it wait for the next poll. */
static enum park_result
sched_park(struct ubc_role_sched *role, const struct ubc_msg *staged, struct ubc_admission *entry)
{
    if (role->parked_tail - role->parked_head == UBC_ROLE_SCHED_PARKED_MAX) {
        role->parked_full++;
        entry->sent_unparked = 1;
        return PARK_FULL;
    }
    struct ubc_msg *msg;
    if (rte_mempool_get(role->state->node->msg_pool, (void **)&msg) != 0)
        return PARK_NO_MSG;
    memcpy(msg, staged, sizeof(msg->hdr) + sizeof(struct ubc_assignment));
    msg->hdr.src_role = UBC_ROLE_SCHED;
    bool refused = entry->escrow == UBC_ESCROW_REFUSED;
    role->parked[role->parked_tail++ % UBC_ROLE_SCHED_PARKED_MAX] =
        (struct ubc_parked){ msg, entry->job_id, refused ? PARKED_DROP : PARKED_WAITING };
    entry->parked += !refused;
    role->assignments_parked++;
    return PARK_DONE;
}

/* The ledger answered the entry's escrow (or the job is withdrawn): its
 * waiting outputs go, or are dropped. They are the newest parked for it, so
 * the walk goes back from the tail only as far as it must. */
static void
sched_park_resolve(struct ubc_role_sched *role, struct ubc_admission *entry, bool locked)
{
    for (uint32_t i = role->parked_tail; entry->parked > 0 && i != role->parked_head; i--) {
        struct ubc_parked *p = &role->parked[(i - 1) % UBC_ROLE_SCHED_PARKED_MAX];
        if (p->job_id == entry->job_id && p->state == PARKED_WAITING) {
            p->state = locked ? PARKED_RELEASE : PARKED_DROP;
            entry->parked--;
        }
    }
    UBC_ASSERT(entry->parked == 0);
}

/* Sends released parked outputs from the head, in order; a waiting one stops it. */
static uint32_t
sched_flush_parked(struct ubc_role_sched *role)
{
    uint32_t moved = 0;
    while (role->parked_head != role->parked_tail) {
        struct ubc_parked *p = &role->parked[role->parked_head % UBC_ROLE_SCHED_PARKED_MAX];
        if (p->state == PARKED_WAITING)
            break;
        if (p->state == PARKED_DROP) {
            rte_mempool_put(role->state->node->msg_pool, p->msg);
            role->assignments_dropped++;
        } else {
            struct ubc_link *link =
                ubc_node_link_to_net(role->state->node, UBC_ROLE_SCHED, p->msg->hdr.peer);
            if (link != NULL && ubc_link_send_burst(link, &p->msg, 1) != 1)
                break;
            if (link == NULL) {
                rte_mempool_put(role->state->node->msg_pool, p->msg);
                role->replies_unaddressed++;
            } else {
                role->routed_net++;
            }
        }
        role->parked_head++;
        moved++;
    }
    return moved;
}

/* Skips staged outputs at the head that go nowhere (an ACK waiting for the
 * journal, an output without a link), counting them, and parks assignments
 * that must wait for their escrow. Returns false when the head must wait
 * (no message in the pool to park it in). */
static bool
sched_flush_skip(struct ubc_role_sched *role)
{
    while (role->out_sent < role->out.count) {
        const struct ubc_msg *staged = &role->out.msgs[role->out_sent];
        struct ubc_admission *entry = sched_park_entry(role, staged);
        if (entry != NULL) {
            enum park_result parked = sched_park(role, staged, entry);
            if (parked == PARK_NO_MSG)
                return false;
            if (parked == PARK_FULL)
                return true; /* sent as it is */
            role->out_sent++;
            continue;
        }
        bool to_net = false;
        if (staged->hdr.type != UBC_MSG_NONE && sched_output_link(role, staged, &to_net) != NULL)
            return true;
        if (staged->hdr.type != UBC_MSG_NONE && to_net)
            role->replies_unaddressed++;
        else if (staged->hdr.type != UBC_MSG_NONE)
            role->unrouted++;
        role->out_sent++;
    }
    return true;
}

/* Moves the next run of staged outputs bound for one link: one bulk take
 * from the pool and one ring burst instead of one of each per message.
 * Returns how many went; fewer than the run when the ring or the pool is
 * full (the rest waits, in order). */
static uint32_t
sched_flush_run(struct ubc_role_sched *role, bool *blocked)
{
    struct ubc_node *node = role->state->node;
    const struct ubc_msg *head = &role->out.msgs[role->out_sent];
    bool to_net;
    struct ubc_link *link = sched_output_link(role, head, &to_net);
    UBC_ASSERT(link != NULL);
    uint32_t n = 1, end = role->out.count - role->out_sent;
    end = end < SCHED_FLUSH_RUN ? end : SCHED_FLUSH_RUN;
    while (n < end) {
        const struct ubc_msg *next = &role->out.msgs[role->out_sent + n];
        bool next_to_net;
        /* The same type to the same net instance takes the same link. */
        bool same = next->hdr.type == head->hdr.type &&
                    ubc_net_peer_instance(next->hdr.peer) == ubc_net_peer_instance(head->hdr.peer);
        if (!same &&
            (next->hdr.type == UBC_MSG_NONE || sched_output_link(role, next, &next_to_net) != link))
            break;
        if (sched_park_entry(role, next) != NULL)
            break;
        n++;
    }
    struct ubc_msg *msgs[SCHED_FLUSH_RUN];
    if (!sched_msgs_take(role, msgs, n)) {
        *blocked = true;
        return 0;
    }
    for (uint32_t i = 0; i < n; i++) {
        const struct ubc_msg *staged = &role->out.msgs[role->out_sent + i];
        /* The header and the payload the type uses: a reply is 48 bytes, not
         * 256, copied with a fixed size (a variable one is a libc call). */
        if (sched_type_is_reply(staged->hdr.type))
            memcpy(msgs[i], staged, sizeof(msgs[i]->hdr) + sizeof(struct ubc_reply));
        else
            memcpy(msgs[i], staged, sizeof(msgs[i]->hdr) + ubc_msg_payload_bytes(staged->hdr.type));
        msgs[i]->hdr.src_role = UBC_ROLE_SCHED;
    }
    uint32_t sent = ubc_link_send_burst(link, msgs, n);
    if (sent < n) {
        rte_mempool_put_bulk(node->msg_pool, (void **)(msgs + sent), n - sent);
        *blocked = true;
    }
    if (to_net)
        role->routed_net += sent;
    else
        role->routed_ledger += sent;
    role->out_sent += sent;
    return sent;
}

/* Moves staged outputs onto their rings, in order; stops at the first one a
 * full ring (or an empty pool) refuses, so order is kept and nothing lost. */
static uint32_t
sched_flush(struct ubc_role_sched *role)
{
    uint32_t moved = sched_flush_parked(role);
    bool blocked = !sched_flush_skip(role);
    while (!blocked && role->out_sent < role->out.count) {
        moved += sched_flush_run(role, &blocked);
        blocked = blocked || !sched_flush_skip(role);
    }
    if (role->out_sent == role->out.count)
        role->out.count = role->out_sent = 0;
    return moved;
}

static uint32_t
sched_room(const struct ubc_role_sched *role)
{
    return role->out.capacity - role->out.count;
}

/* Queues a journal append toward the disk role, keeping order. */
static bool
sched_to_disk(struct ubc_role_sched *role, struct ubc_msg *msg)
{
    if (role->to_disk_count >= UBC_ARRAY_SIZE(role->to_disk))
        return false;
    role->to_disk[role->to_disk_count++] = msg;
    return true;
}

static uint32_t
sched_flush_disk(struct ubc_role_sched *role)
{
    if (role->to_disk_count == 0)
        return 0;
    struct ubc_link *link = &role->state->node->links[UBC_LINK_TO_DISK];
    uint32_t sent = ubc_link_send_burst(link, role->to_disk, role->to_disk_count);
    memmove(role->to_disk, role->to_disk + sent,
            (role->to_disk_count - sent) * sizeof(role->to_disk[0]));
    role->to_disk_count -= sent;
    return sent;
}

/* A refusal in place of the request, to the same peer and sequence. */
static void
sched_reply_in_place(struct ubc_msg *msg, uint16_t type, uint64_t id, enum ubc_err error)
{
    msg->hdr.type = type;
    msg->hdr.flags = 0;
    msg->hdr.len = sizeof(struct ubc_reply);
    memset(&msg->u, 0, sizeof(msg->u));
    msg->u.reply.id = id;
    msg->u.reply.error = (uint16_t)error;
}

/* Notes that a submitted job waits for its escrow, if the scheduler asked
 * the ledger for one. A full table leaves the job to the journal alone. */
static void
sched_admission_open(struct ubc_role_sched *role, uint64_t job_id, uint32_t first_output)
{
    bool escrow = false;
    for (uint32_t i = first_output; i < role->out.count && !escrow; i++) {
        const struct ubc_msg *out = &role->out.msgs[i];
        const struct ubc_settlement *settle = (const void *)out->u.bytes;
        escrow = out->hdr.type == UBC_MSG_LEDGER_OP && settle->job_id == job_id &&
                 settle->kind == UBC_SETTLE_ESCROW_LOCK;
    }
    if (!escrow)
        return;
    struct ubc_admission *entry = ubc_admission_upsert(role->admission, job_id);
    if (entry == NULL) {
        role->admission_full++;
        return;
    }
    entry->escrow = UBC_ESCROW_UNKNOWN;
    entry->durable = NULL;
    entry->sent_unparked = 0;
    entry->parked = 0;
}

/* An accepted job's ACK waits until its record is durable: the ACK among
 * the new outputs is withheld and the request itself goes to the journal;
 * it comes back as JOURNAL_DURABLE and becomes the ACK then. */
static void
sched_defer_ack(struct ubc_role_sched *role, struct ubc_msg *msg, uint32_t first_output)
{
    for (uint32_t i = first_output; i < role->out.count; i++) {
        struct ubc_msg *out = &role->out.msgs[i];
        if (out->hdr.type == UBC_MSG_ACK && out->hdr.seq == msg->hdr.seq &&
            out->hdr.peer == msg->hdr.peer && out->u.reply.id == msg->u.job_submit.job_id) {
            out->hdr.type = UBC_MSG_NONE;
            role->acks_deferred++;
            sched_admission_open(role, msg->u.job_submit.job_id, first_output);
            msg->hdr.type = UBC_MSG_JOURNAL_APPEND;
            msg->hdr.flags = UBC_RECORD_JOB_SUBMIT;
            msg->hdr.len = sizeof(struct ubc_job_submit);
            msg->hdr.src_role = UBC_ROLE_SCHED;
            return;
        }
    }
}

/* No provider heard of a refused job (its assignments were parked, then
 * dropped): the revocations its cancel produced would only be noise. */
static void
sched_withhold_revocations(struct ubc_role_sched *role, uint64_t job_id, uint32_t first_output)
{
    for (uint32_t i = first_output; i < role->out.count; i++) {
        struct ubc_msg *out = &role->out.msgs[i];
        if (out->hdr.type == UBC_MSG_ASSIGNMENT && out->u.assignment.job_id == job_id &&
            (out->hdr.flags & UBC_MSG_FLAG_REVOKE)) {
            out->hdr.type = UBC_MSG_NONE;
            role->revocations_withheld++;
        }
    }
}

/* Answers a submission whose fate is known: ACK, or a refusal after which
 * the job is withdrawn (its escrow refunded, its cancel answered to no one).
 * msg is the request back from the journal; it becomes the answer.
 * withheld: none of the job's assignments reached a provider. */
static void
sched_answer(struct ubc_role_sched *role, struct ubc_msg *msg, enum ubc_err error, bool withheld,
             uint64_t now_ns)
{
    uint64_t job_id = msg->u.job_submit.job_id;
    if (error == UBC_OK) {
        sched_reply_in_place(msg, UBC_MSG_ACK, job_id, UBC_OK);
        role->out.msgs[role->out.count++] = *msg;
        role->acks_sent++;
    } else {
        struct ubc_msg cancel = { .hdr = { .type = UBC_MSG_JOB_CANCEL, .peer = UBC_PEER_NONE } };
        cancel.u.job_ref.job_id = job_id;
        memcpy(cancel.u.job_ref.owner, msg->u.job_submit.owner, UBC_KEY_BYTES);
        sched_reply_in_place(msg, UBC_MSG_REFUSAL, job_id, error);
        role->out.msgs[role->out.count++] = *msg;
        uint32_t first_output = role->out.count;
        int rc = ubc_sched_handle(role->sched, &cancel, now_ns, &role->out);
        UBC_ASSERT(rc == UBC_OK); /* the caller checked the room */
        if (withheld)
            sched_withhold_revocations(role, job_id, first_output);
        if (error == UBC_ERR_READ_ONLY)
            role->refused_read_only++;
        else
            role->refused_escrow++;
    }
    sched_consume(role, msg);
}

static bool
sched_answer_room(const struct ubc_role_sched *role)
{
    return role->out.count + 1 + role->room_min <= role->out.capacity;
}

/* The journal answered. The ACK also waits for the escrow: if the ledger
 * has not answered yet, the request waits in the admission table. */
static bool
sched_on_durable(struct ubc_role_sched *role, struct ubc_msg *msg, uint64_t now_ns)
{
    uint16_t record = msg->hdr.flags & UBC_DISK_RECORD_MASK;
    if (record != UBC_RECORD_JOB_SUBMIT) {
        sched_consume(role, msg);
        return true;
    }
    if (!sched_answer_room(role))
        return false;
    struct ubc_admission *entry = ubc_admission_find(role->admission, msg->u.job_submit.job_id);
    enum ubc_err error = (msg->hdr.flags & UBC_DISK_FAILED) ? UBC_ERR_READ_ONLY : UBC_OK;
    if (entry != NULL && error == UBC_OK && entry->escrow == UBC_ESCROW_UNKNOWN) {
        entry->durable = msg;
        return true;
    }
    bool withheld = false;
    if (entry != NULL) {
        if (error == UBC_OK && entry->escrow == UBC_ESCROW_REFUSED)
            error = (enum ubc_err)entry->escrow_error;
        withheld = entry->escrow != UBC_ESCROW_LOCKED && !entry->sent_unparked;
        /* The entry goes now: what of the job is parked goes or is dropped with it. */
        sched_park_resolve(role, entry, error == UBC_OK && entry->escrow == UBC_ESCROW_LOCKED);
        ubc_admission_remove(role->admission, entry);
    }
    sched_answer(role, msg, error, withheld, now_ns);
    return true;
}

/* The ledger answered an escrow lock. */
static bool
sched_on_ledger_result(struct ubc_role_sched *role, struct ubc_msg *msg, uint64_t now_ns)
{
    if (!sched_answer_room(role))
        return false;
    const struct ubc_reply *reply = &msg->u.reply;
    struct ubc_admission *entry =
        reply->id != 0 ? ubc_admission_find(role->admission, reply->id) : NULL;
    if (entry != NULL && entry->escrow == UBC_ESCROW_UNKNOWN) {
        entry->escrow = reply->error == UBC_OK ? UBC_ESCROW_LOCKED : UBC_ESCROW_REFUSED;
        entry->escrow_error = reply->error;
        sched_park_resolve(role, entry, entry->escrow == UBC_ESCROW_LOCKED);
        if (entry->durable != NULL) {
            struct ubc_msg *request = entry->durable;
            enum ubc_err error = (enum ubc_err)entry->escrow_error;
            bool withheld = entry->escrow != UBC_ESCROW_LOCKED && !entry->sent_unparked;
            ubc_admission_remove(role->admission, entry);
            sched_answer(role, request, error, withheld, now_ns);
        }
    }
    sched_consume(role, msg);
    return true;
}

/* A client that did not hear its ACK sends the same submission again; the
 * scheduler calls it a duplicate. For the same owner the answer is the one
 * the first copy gets: an ACK if it was already given, nothing yet if it is
 * still waiting for its journal record or escrow (that answer will come). */
static void
sched_idempotent_submit(struct ubc_role_sched *role, const struct ubc_msg *msg,
                        uint32_t first_output)
{
    const struct ubc_job_submit *job = &msg->u.job_submit;
    for (uint32_t i = first_output; i < role->out.count; i++) {
        struct ubc_msg *out = &role->out.msgs[i];
        if (out->hdr.type != UBC_MSG_REFUSAL || out->u.reply.error != UBC_ERR_DUPLICATE ||
            out->u.reply.id != job->job_id)
            continue;
        struct ubc_sched_job_summary known;
        if (ubc_sched_job_get(role->sched, job->job_id, &known) != UBC_OK ||
            memcmp(known.owner, job->owner, UBC_KEY_BYTES) != 0 ||
            known.state == UBC_JOB_CANCELLED || known.state == UBC_JOB_FAILED)
            return; /* another owner's job, or one refused and withdrawn: a duplicate */
        if (ubc_admission_find(role->admission, job->job_id) != NULL) {
            out->hdr.type = UBC_MSG_NONE; /* the first copy's answer is on its way */
        } else {
            out->hdr.type = UBC_MSG_ACK;
            out->u.reply.error = UBC_OK;
        }
        role->submits_repeated++;
        return;
    }
}

/* Hands one input to the scheduler; returns false when it must wait.
 * Inlined into its one caller: a call per input saved and restored six
 * registers, 18 of the ~180 instructions of a status query. */
static inline __attribute__((always_inline)) bool
sched_take(struct ubc_role_sched *role, struct ubc_msg *msg, uint64_t now_ns)
{
    if (msg->hdr.type == UBC_MSG_JOURNAL_DURABLE)
        return sched_on_durable(role, msg, now_ns);
    if (msg->hdr.type == UBC_MSG_LEDGER_RESULT)
        return sched_on_ledger_result(role, msg, now_ns);
    if (sched_room(role) < role->room_min ||
        role->to_disk_count + 2 > UBC_ARRAY_SIZE(role->to_disk))
        return false;
    role->placement_due |= msg->hdr.type != UBC_MSG_JOB_QUERY;
    uint32_t first_output = role->out.count;
    if (msg->hdr.type == UBC_MSG_JOB_SUBMIT &&
        __atomic_load_n(role->disk_read_only, __ATOMIC_ACQUIRE) != 0) {
        sched_reply_in_place(msg, UBC_MSG_REFUSAL, msg->u.job_submit.job_id, UBC_ERR_READ_ONLY);
        role->refused_read_only++;
        role->out.msgs[role->out.count++] = *msg;
        sched_consume(role, msg);
        return true;
    }
    int rc = ubc_sched_handle(role->sched, msg, now_ns, &role->out);
    if (rc == UBC_ERR_OVERLOADED)
        return false;
    UBC_ASSERT(rc == UBC_OK);
    if (msg->hdr.type == UBC_MSG_JOB_SUBMIT) {
        sched_idempotent_submit(role, msg, first_output);
        sched_defer_ack(role, msg, first_output);
    }
    if (msg->hdr.type == UBC_MSG_JOURNAL_APPEND) {
        role->state->handled_by_type[UBC_MSG_JOB_SUBMIT]++;
        sched_to_disk(role, msg);
    } else {
        sched_consume(role, msg);
    }
    return true;
}

/* Offers the held inputs, in order, then returns whether all were taken. */
static bool
sched_take_held(struct ubc_role_sched *role, uint64_t now_ns, uint32_t *work)
{
    while (role->held_next < role->held_count) {
        if (!sched_take(role, role->held[role->held_next], now_ns))
            return false;
        role->held_next++;
        (*work)++;
    }
    role->held_count = role->held_next = 0;
    return true;
}

static const enum ubc_link_id sched_inputs[] = { UBC_LINK_NET_TO_SCHED, UBC_LINK_LEDGER_TO_SCHED,
                                                 UBC_LINK_DISK_TO_SCHED };

/* Timers, failover and placement. Placement needs more room in the staging
 * array than one input does; without it the tick waits for the next call. */
static void
sched_tick(struct ubc_role_sched *role, uint64_t now_ns)
{
    if (sched_room(role) < ubc_sched_out_room_tick(role->sched))
        return;
    ubc_sched_tick(role->sched, now_ns, &role->out);
    role->placement_due = false;
}

uint32_t
ubc_role_sched_poll(void *ctx, uint64_t now_tsc)
{
    struct ubc_role_sched *role = ctx;
    struct ubc_node *node = role->state->node;
    uint32_t work = sched_flush(role) + sched_flush_disk(role);
    uint64_t now_ns = sched_now_ns(role, now_tsc);
    for (uint32_t i = 0; i < UBC_ARRAY_SIZE(sched_inputs); i++) {
        if (!sched_take_held(role, now_ns, &work))
            break; /* outputs must drain before more input */
        role->held_count = ubc_link_recv_burst(&node->links[sched_inputs[i]], role->held,
                                               UBC_ARRAY_SIZE(role->held));
        /* The scheduler's table lines of the whole burst load while it handles the first. */
        ubc_sched_prefetch(role->sched, role->held, role->held_count);
        sched_take_held(role, now_ns, &work);
        work += sched_flush(role) + sched_flush_disk(role);
    }
    /* New jobs and freed capacity are placed at once, not at the next
     * housekeeping tick: submit-to-assign stays in microseconds. Status
     * queries change nothing: a poll of queries only does not tick. */
    if (work > 0 && role->placement_due) {
        sched_tick(role, now_ns);
        work += sched_flush(role);
    }
    sched_spent_release(role);
    return work;
}

void
ubc_role_sched_housekeep(void *ctx, uint64_t now_tsc)
{
    struct ubc_role_sched *role = ctx;
    sched_tick(role, sched_now_ns(role, now_tsc));
    sched_flush(role);
    sched_flush_disk(role);
    sched_spent_release(role);
    ubc_node_control_serve(role->state);
}

bool
ubc_role_sched_drained(void *ctx)
{
    struct ubc_role_sched *role = ctx;
    struct ubc_node *node = role->state->node;
    if (role->held_count != 0 || role->out.count != 0 || role->to_disk_count != 0 ||
        role->admission->used != 0 || role->parked_head != role->parked_tail)
        return false;
    for (uint32_t i = 0; i < UBC_ARRAY_SIZE(sched_inputs); i++) {
        if (ubc_link_count(&node->links[sched_inputs[i]]) != 0)
            return false;
    }
    return true;
}

/* One page of a listing: argument_wide holds the filter mask (low 32 bits)
 * and the cursor to start from (high 32); the next cursor goes back in
 * req->argument (UINT32_MAX when the listing is complete). */
static void
sched_control_list(struct ubc_role_sched *role, struct ubc_control_request *req)
{
    uint32_t mask = (uint32_t)req->argument_wide;
    uint32_t cursor = (uint32_t)(req->argument_wide >> 32);
    if (req->command == UBC_SCHED_COMMAND_JOBS) {
        struct ubc_sched_job_filter filter = { .state_mask = mask, .qos_class = -1 };
        uint32_t max = UBC_CONTROL_REPLY_MAX / sizeof(struct ubc_sched_job_summary);
        uint32_t n = ubc_sched_jobs_list(role->sched, &filter, &cursor,
                                         (struct ubc_sched_job_summary *)req->reply, max);
        req->reply_len = n * (uint32_t)sizeof(struct ubc_sched_job_summary);
    } else {
        struct ubc_sched_provider_filter filter = { .health_mask = mask, .region = -1 };
        uint32_t max = UBC_CONTROL_REPLY_MAX / sizeof(struct ubc_sched_provider_summary);
        uint32_t n = ubc_sched_providers_list(role->sched, &filter, &cursor,
                                              (struct ubc_sched_provider_summary *)req->reply, max);
        req->reply_len = n * (uint32_t)sizeof(struct ubc_sched_provider_summary);
    }
    req->argument = cursor;
    req->result = 0;
}

/* Answers the control thread on the sched lcore (from housekeeping). */
static void
sched_control(void *ctx, struct ubc_control_request *req)
{
    struct ubc_role_sched *role = ctx;
    switch (req->command) {
    case UBC_SCHED_COMMAND_STATS:
        ubc_sched_stats_read(role->sched, (struct ubc_sched_stats *)req->reply);
        req->reply_len = sizeof(struct ubc_sched_stats);
        req->result = 0;
        break;
    case UBC_SCHED_COMMAND_JOBS:
    case UBC_SCHED_COMMAND_PROVIDERS: sched_control_list(role, req); break;
    case UBC_SCHED_COMMAND_JOB:
        req->result = ubc_sched_job_get(role->sched, req->argument_wide,
                                        (struct ubc_sched_job_summary *)req->reply) == UBC_OK
                          ? 0
                          : -ENOENT;
        req->reply_len = sizeof(struct ubc_sched_job_summary);
        break;
    case UBC_SCHED_COMMAND_PROVIDER:
        req->result =
            ubc_sched_provider_get(role->sched, req->argument_wide,
                                   (struct ubc_sched_provider_summary *)req->reply) == UBC_OK
                ? 0
                : -ENOENT;
        req->reply_len = sizeof(struct ubc_sched_provider_summary);
        break;
    case UBC_SCHED_COMMAND_DRAIN:
    case UBC_SCHED_COMMAND_UNDRAIN:
        req->result = ubc_sched_drain(role->sched, req->argument_wide,
                                      req->command == UBC_SCHED_COMMAND_DRAIN) == UBC_OK
                          ? 0
                          : -ENOENT;
        break;
    default: req->result = -EOPNOTSUPP; break;
    }
}

static void
sched_config_from_node(const struct ubc_config *config, struct ubc_sched_config *out)
{
    ubc_sched_config_default(out);
    out->max_jobs = config->sched_max_jobs;
    out->max_providers = config->sched_max_providers;
    out->max_tasks = config->sched_max_tasks;
    out->queue_capacity = config->sched_queue_capacity;
    out->quota_jobs_per_owner = config->sched_quota_jobs_per_owner;
    out->heartbeat_suspect_ns = (uint64_t)config->sched_heartbeat_suspect_ms * 1000000ull;
    out->heartbeat_down_ns = (uint64_t)config->sched_heartbeat_down_ms * 1000000ull;
    out->aging_ns = (uint64_t)config->sched_aging_ms * 1000000ull;
    out->place_budget = config->sched_place_budget;
}

int
ubc_role_sched_init(struct ubc_node *node, struct ubc_role_sched *role)
{
    memset(role, 0, sizeof(*role));
    role->state = &node->roles[UBC_ROLE_SCHED];
    role->tsc_hz = node->tsc_hz;
    role->start_tsc = node->start_tsc;
    struct ubc_sched_config config;
    sched_config_from_node(&node->config, &config);
    size_t footprint = ubc_sched_footprint(&config);
    if (footprint == 0)
        return -EINVAL;
    void *memory = rte_zmalloc_socket("sched", footprint, ubc_sched_align(), (int)rte_socket_id());
    role->out.capacity = UBC_ROLE_SCHED_STAGE_MAX;
    role->out.msgs = rte_zmalloc_socket("sched_out", role->out.capacity * sizeof(struct ubc_msg),
                                        64, (int)rte_socket_id());
    if (memory == NULL || role->out.msgs == NULL)
        return -ENOMEM;
    uint32_t waiting = node->config.ring_msg_pool_size;
    role->admission = ubc_admission_new(
        rte_zmalloc_socket("admission", ubc_admission_footprint(waiting), 64, (int)rte_socket_id()),
        waiting);
    if (role->admission == NULL)
        return -ENOMEM;
    role->sched = ubc_sched_join(ubc_sched_new(memory, &config));
    if (role->sched == NULL)
        return -EINVAL;
    UBC_ASSERT(ubc_sched_out_room_tick(role->sched) <= role->out.capacity / 2);
    role->room_min = ubc_sched_out_room_min(role->sched);
    role->state->control_fn = sched_control;
    role->state->control_ctx = role;
    return 0;
}

void
ubc_role_sched_fini(struct ubc_role_sched *role)
{
    if (role->sched != NULL)
        rte_free(ubc_sched_delete(ubc_sched_leave(role->sched)));
    rte_free(role->out.msgs);
    rte_free(role->admission);
    role->admission = NULL;
    role->sched = NULL;
    role->out.msgs = NULL;
}
