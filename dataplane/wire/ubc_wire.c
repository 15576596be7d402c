/* ubc_wire.c: the UBC wire codec. See ubc_wire.h and docs/wire-protocol.md.
 *
 * Every field goes through a bounds-asserted cursor: the lengths are checked
 * against the datagram before any payload byte is read, so the cursor's
 * assertions state an invariant, they never fire on input.
 */
#include "dataplane/wire/ubc_wire.h"

#include <endian.h>
#include <stddef.h>
#include <string.h>

/* Header byte offsets (docs/wire-protocol.md, "Header"). */
enum {
    OFFSET_MAGIC = 0,
    OFFSET_VERSION_MAJOR = 4,
    OFFSET_VERSION_MINOR = 5,
    OFFSET_TYPE = 6,
    OFFSET_FLAGS = 8,
    OFFSET_PAYLOAD_LEN = 10,
    OFFSET_RESERVED = 12,
    OFFSET_SENDER_ID = 16,
    OFFSET_SESSION_ID = 24,
    OFFSET_SEQUENCE = 32,
};

struct cursor {
    uint8_t *at; /* const for readers: never written through by a reader */
    const uint8_t *end;
};

static inline void
cursor_need(const struct cursor *c, size_t bytes)
{
    UBC_ASSERT(c->at <= c->end && (size_t)(c->end - c->at) >= bytes);
}

static inline uint8_t
get_u8(struct cursor *c)
{
    cursor_need(c, 1);
    return *c->at++;
}

/* One unaligned load and a byte-order conversion per field: explicit little
 * endian, and a single instruction on little-endian hosts. */
static inline uint16_t
get_u16(struct cursor *c)
{
    cursor_need(c, 2);
    uint16_t v;
    memcpy(&v, c->at, 2);
    c->at += 2;
    return le16toh(v);
}

static inline uint32_t
get_u32(struct cursor *c)
{
    cursor_need(c, 4);
    uint32_t v;
    memcpy(&v, c->at, 4);
    c->at += 4;
    return le32toh(v);
}

static inline uint64_t
get_u64(struct cursor *c)
{
    cursor_need(c, 8);
    uint64_t v;
    memcpy(&v, c->at, 8);
    c->at += 8;
    return le64toh(v);
}

static inline void
get_bytes(struct cursor *c, uint8_t *out, size_t bytes)
{
    cursor_need(c, bytes);
    memcpy(out, c->at, bytes);
    c->at += bytes;
}

static inline void
put_u8(struct cursor *c, uint8_t v)
{
    cursor_need(c, 1);
    *c->at++ = v;
}

static inline void
put_u16(struct cursor *c, uint16_t v)
{
    cursor_need(c, 2);
    uint16_t le = htole16(v);
    memcpy(c->at, &le, 2);
    c->at += 2;
}

static inline void
put_u32(struct cursor *c, uint32_t v)
{
    cursor_need(c, 4);
    uint32_t le = htole32(v);
    memcpy(c->at, &le, 4);
    c->at += 4;
}

static inline void
put_u64(struct cursor *c, uint64_t v)
{
    cursor_need(c, 8);
    uint64_t le = htole64(v);
    memcpy(c->at, &le, 8);
    c->at += 8;
}

static inline void
put_bytes(struct cursor *c, const uint8_t *in, size_t bytes)
{
    cursor_need(c, bytes);
    memcpy(c->at, in, bytes);
    c->at += bytes;
}

static struct cursor
cursor_read(const uint8_t *buf, size_t len)
{
    /* The reader never writes through at; the cast only shares the struct. */
    return (struct cursor){ .at = (uint8_t *)(uintptr_t)buf, .end = buf + len };
}

uint16_t
ubc_wire_payload_bytes(uint16_t type)
{
    switch (type) {
    case UBC_MSG_JOB_SUBMIT: return UBC_WIRE_JOB_SUBMIT_BYTES;
    case UBC_MSG_JOB_CANCEL:
    case UBC_MSG_JOB_QUERY: return UBC_WIRE_JOB_REF_BYTES;
    case UBC_MSG_PROVIDER_REGISTER: return UBC_WIRE_PROVIDER_REGISTER_BYTES;
    case UBC_MSG_PROVIDER_HEARTBEAT: return UBC_WIRE_HEARTBEAT_BYTES;
    case UBC_MSG_PROVIDER_DEREGISTER: return UBC_WIRE_DEREGISTER_BYTES;
    case UBC_MSG_TASK_RESULT: return UBC_WIRE_TASK_RESULT_BYTES;
    case UBC_MSG_ASSIGNMENT: return UBC_WIRE_ASSIGNMENT_BYTES;
    case UBC_MSG_ACK:
    case UBC_MSG_REFUSAL:
    case UBC_MSG_JOB_STATUS: return UBC_WIRE_REPLY_BYTES;
    default: return 0;
    }
}

static bool
type_is_consensus(uint16_t type)
{
    return type >= UBC_MSG_CONSENSUS_FIRST && type <= UBC_MSG_CONSENSUS_LAST;
}

bool
ubc_wire_type_is_reply(uint16_t type)
{
    return type == UBC_MSG_ACK || type == UBC_MSG_REFUSAL || type == UBC_MSG_JOB_STATUS ||
           type == UBC_MSG_ASSIGNMENT;
}

/* A sender of a newer minor version may append payload fields and use
 * reserved bits; we ignore what we do not know. Same or older: exact. */
static bool
header_is_strict(const struct ubc_wire_header *header)
{
    return header->version_minor <= UBC_WIRE_VERSION_MINOR;
}

static enum ubc_wire_result
header_check_type(const struct ubc_wire_header *header)
{
    if (type_is_consensus(header->type))
        return UBC_WIRE_OK; /* framing is checked; the payload is not ours */
    uint16_t expected = ubc_wire_payload_bytes(header->type);
    if (expected == 0)
        return UBC_WIRE_ERR_UNKNOWN_TYPE;
    if (header->payload_len == expected)
        return UBC_WIRE_OK;
    if (!header_is_strict(header) && header->payload_len > expected)
        return UBC_WIRE_OK;
    return UBC_WIRE_ERR_PAYLOAD_SIZE;
}

static void
header_read(const uint8_t *buf, struct ubc_wire_header *header, uint32_t *reserved)
{
    struct cursor c = cursor_read(buf + OFFSET_VERSION_MAJOR, UBC_WIRE_HEADER_BYTES - 4);
    header->version_major = get_u8(&c);
    header->version_minor = get_u8(&c);
    header->type = get_u16(&c);
    header->flags = get_u16(&c);
    header->payload_len = get_u16(&c);
    *reserved = get_u32(&c);
    header->sender_id = get_u64(&c);
    header->session_id = get_u64(&c);
    header->sequence = get_u64(&c);
    UBC_ASSERT(c.at == c.end);
}

enum ubc_wire_result
ubc_wire_header_decode(const uint8_t *buf, size_t len, const struct ubc_wire_policy *policy,
                       struct ubc_wire_header *header)
{
    UBC_ASSERT(header != NULL && policy != NULL);
    memset(header, 0, sizeof(*header));
    if (buf == NULL || len < UBC_WIRE_HEADER_BYTES)
        return UBC_WIRE_ERR_SHORT_HEADER;
    struct cursor c = cursor_read(buf, len);
    if (get_u32(&c) != UBC_WIRE_MAGIC)
        return UBC_WIRE_ERR_BAD_MAGIC;
    uint32_t reserved;
    header_read(buf, header, &reserved);
    if (header->version_major != UBC_WIRE_VERSION_MAJOR)
        return UBC_WIRE_ERR_BAD_VERSION;
    uint16_t critical = header->flags & UBC_WIRE_FLAGS_CRITICAL;
    if ((critical & ~UBC_WIRE_FLAGS_CRITICAL_KNOWN) != 0)
        return UBC_WIRE_ERR_BAD_FLAGS;
    if (reserved != 0 && header_is_strict(header))
        return UBC_WIRE_ERR_RESERVED;
    if (header->payload_len > UBC_WIRE_PAYLOAD_MAX)
        return UBC_WIRE_ERR_TOO_LARGE;
    size_t tag = (header->flags & UBC_WIRE_FLAG_TAG) ? UBC_WIRE_TAG_BYTES : 0;
    size_t total = UBC_WIRE_HEADER_BYTES + header->payload_len + tag;
    UBC_ASSERT(total <= UBC_WIRE_DATAGRAM_MAX);
    if (len < total)
        return UBC_WIRE_ERR_TRUNCATED;
    if (len > total)
        return UBC_WIRE_ERR_LENGTH_MISMATCH;
    header->datagram_len = (uint16_t)total;
    if (policy->require_tag && tag == 0)
        return UBC_WIRE_ERR_TAG_REQUIRED;
    return header_check_type(header);
}

/* Range checks shared by the encoder and the decoder: one definition of
 * "valid" for both directions. */
static bool
valid_qos(uint8_t qos_class)
{
    return qos_class < UBC_QOS_CLASSES;
}

static bool
valid_job_submit(const struct ubc_job_submit *s)
{
    return s->job_id != 0 && s->task_count >= 1 && s->redundancy >= 1 && valid_qos(s->qos_class) &&
           s->policy <= UBC_POLICY_REPUTATION;
}

static bool
valid_task_result(const struct ubc_task_result *r)
{
    return r->job_id != 0 && r->provider_id != 0 && r->status <= UBC_TASK_FAILED;
}

static bool
valid_assignment(const struct ubc_assignment *a)
{
    return a->job_id != 0 && a->provider_id != 0 && valid_qos(a->qos_class);
}

static bool
valid_reply(uint16_t type, const struct ubc_reply *r)
{
    if (r->error >= UBC_ERR_COUNT)
        return false;
    if (type == UBC_MSG_ACK)
        return r->error == UBC_OK;
    if (type == UBC_MSG_REFUSAL)
        return r->error != UBC_OK;
    return true;
}

static void
get_resources(struct cursor *c, struct ubc_resources *r)
{
    r->cpu_millis = get_u32(c);
    r->mem_mib = get_u32(c);
    r->gpu_count = get_u16(c);
    r->gpu_class = get_u16(c);
}

static void
put_resources(struct cursor *c, const struct ubc_resources *r)
{
    put_u32(c, r->cpu_millis);
    put_u32(c, r->mem_mib);
    put_u16(c, r->gpu_count);
    put_u16(c, r->gpu_class);
}

/* Zeroes the bytes from field first up to field next: padding and
 * in-process-only fields between wire fields. The two large structs are
 * zeroed this way, not whole: a 96-byte memset compiles to `rep stos`,
 * which cost a third of a job-submit decode. The size checks make a new
 * field fail the build until it is zeroed here too. */
#define ZERO_BETWEEN(pointer, type, first, next)            \
    memset((uint8_t *)(pointer) + offsetof(type, first), 0, \
           offsetof(type, next) - offsetof(type, first))

UBC_STATIC_ASSERT(sizeof(struct ubc_job_submit) == 96, "zero new fields in job_submit_read");
UBC_STATIC_ASSERT(sizeof(struct ubc_provider_register) == 96, "zero new fields in its read");

static void
job_submit_read(struct cursor *c, struct ubc_job_submit *s)
{
    ZERO_BETWEEN(s, struct ubc_job_submit, priority, bid_per_task); /* priority + padding */
    s->job_id = get_u64(c);
    get_bytes(c, s->owner, UBC_KEY_BYTES);
    get_resources(c, &s->demand);
    s->task_count = get_u16(c);
    s->qos_class = get_u8(c);
    s->redundancy = get_u8(c);
    s->max_retries = get_u8(c);
    s->policy = get_u8(c);
    s->priority = get_u16(c);
    s->bid_per_task = get_u64(c);
    s->deadline_ns = get_u64(c);
    s->labels = get_u64(c);
    s->work_ms = get_u64(c);
}

static void
job_submit_write(struct cursor *c, const struct ubc_job_submit *s)
{
    put_u64(c, s->job_id);
    put_bytes(c, s->owner, UBC_KEY_BYTES);
    put_resources(c, &s->demand);
    put_u16(c, s->task_count);
    put_u8(c, s->qos_class);
    put_u8(c, s->redundancy);
    put_u8(c, s->max_retries);
    put_u8(c, s->policy);
    put_u16(c, s->priority);
    put_u64(c, s->bid_per_task);
    put_u64(c, s->deadline_ns);
    put_u64(c, s->labels);
    put_u64(c, s->work_ms);
}

static void
job_ref_read(struct cursor *c, struct ubc_job_ref *r)
{
    memset(r, 0, sizeof(*r)); /* padding and in-process-only fields defined */
    r->job_id = get_u64(c);
    get_bytes(c, r->owner, UBC_KEY_BYTES);
}

static void
job_ref_write(struct cursor *c, const struct ubc_job_ref *r)
{
    put_u64(c, r->job_id);
    put_bytes(c, r->owner, UBC_KEY_BYTES);
}

static void
provider_register_read(struct cursor *c, struct ubc_provider_register *p)
{
    ZERO_BETWEEN(p, struct ubc_provider_register, region, labels); /* reserved + padding */
    p->provider_id = get_u64(c);
    p->operator_id = get_u64(c);
    get_bytes(c, p->account, UBC_KEY_BYTES);
    get_resources(c, &p->capacity);
    p->region = get_u16(c);
    p->labels = get_u64(c);
    p->price_per_task = get_u64(c);
    p->stake = get_u64(c);
}

static void
provider_register_write(struct cursor *c, const struct ubc_provider_register *p)
{
    put_u64(c, p->provider_id);
    put_u64(c, p->operator_id);
    put_bytes(c, p->account, UBC_KEY_BYTES);
    put_resources(c, &p->capacity);
    put_u16(c, p->region);
    put_u64(c, p->labels);
    put_u64(c, p->price_per_task);
    put_u64(c, p->stake);
}

static void
heartbeat_read(struct cursor *c, struct ubc_provider_heartbeat *h)
{
    memset(h, 0, sizeof(*h)); /* padding and in-process-only fields defined */
    h->provider_id = get_u64(c);
    h->running_tasks = get_u32(c);
    h->flags = get_u32(c);
}

static void
heartbeat_write(struct cursor *c, const struct ubc_provider_heartbeat *h)
{
    put_u64(c, h->provider_id);
    put_u32(c, h->running_tasks);
    put_u32(c, h->flags);
}

static void
task_result_read(struct cursor *c, struct ubc_task_result *r)
{
    memset(r, 0, sizeof(*r)); /* padding and in-process-only fields defined */
    r->job_id = get_u64(c);
    r->provider_id = get_u64(c);
    r->task_index = get_u16(c);
    r->replica = get_u8(c);
    r->status = get_u8(c);
    r->run_ms = get_u32(c);
    get_bytes(c, r->result_hash, UBC_HASH_BYTES);
}

static void
task_result_write(struct cursor *c, const struct ubc_task_result *r)
{
    put_u64(c, r->job_id);
    put_u64(c, r->provider_id);
    put_u16(c, r->task_index);
    put_u8(c, r->replica);
    put_u8(c, r->status);
    put_u32(c, r->run_ms);
    put_bytes(c, r->result_hash, UBC_HASH_BYTES);
}

static void
assignment_read(struct cursor *c, struct ubc_assignment *a)
{
    memset(a, 0, sizeof(*a)); /* padding and in-process-only fields defined */
    a->job_id = get_u64(c);
    a->provider_id = get_u64(c);
    a->task_index = get_u16(c);
    a->replica = get_u8(c);
    a->qos_class = get_u8(c);
    a->price = get_u64(c);
    a->work_ms = get_u64(c);
    a->deadline_ns = get_u64(c);
}

static void
assignment_write(struct cursor *c, const struct ubc_assignment *a)
{
    put_u64(c, a->job_id);
    put_u64(c, a->provider_id);
    put_u16(c, a->task_index);
    put_u8(c, a->replica);
    put_u8(c, a->qos_class);
    put_u64(c, a->price);
    put_u64(c, a->work_ms);
    put_u64(c, a->deadline_ns);
}

static void
reply_read(struct cursor *c, struct ubc_reply *r)
{
    memset(r, 0, sizeof(*r)); /* padding and in-process-only fields defined */
    r->id = get_u64(c);
    r->error = get_u16(c);
    r->state = get_u16(c);
    r->detail = get_u32(c);
}

static void
reply_write(struct cursor *c, const struct ubc_reply *r)
{
    put_u64(c, r->id);
    put_u16(c, r->error);
    put_u16(c, r->state);
    put_u32(c, r->detail);
}

static void
payload_read(struct cursor *c, struct ubc_msg *msg)
{
    switch (msg->hdr.type) {
    case UBC_MSG_JOB_SUBMIT: job_submit_read(c, &msg->u.job_submit); break;
    case UBC_MSG_JOB_CANCEL:
    case UBC_MSG_JOB_QUERY: job_ref_read(c, &msg->u.job_ref); break;
    case UBC_MSG_PROVIDER_REGISTER: provider_register_read(c, &msg->u.provider_register); break;
    case UBC_MSG_PROVIDER_HEARTBEAT: heartbeat_read(c, &msg->u.heartbeat); break;
    case UBC_MSG_PROVIDER_DEREGISTER:
        memset(&msg->u.heartbeat, 0, sizeof(msg->u.heartbeat));
        msg->u.heartbeat.provider_id = get_u64(c);
        break;
    case UBC_MSG_TASK_RESULT: task_result_read(c, &msg->u.task_result); break;
    case UBC_MSG_ASSIGNMENT: assignment_read(c, &msg->u.assignment); break;
    default: reply_read(c, &msg->u.reply); break;
    }
}

static void
payload_write(struct cursor *c, const struct ubc_msg *msg)
{
    switch (msg->hdr.type) {
    case UBC_MSG_JOB_SUBMIT: job_submit_write(c, &msg->u.job_submit); break;
    case UBC_MSG_JOB_CANCEL:
    case UBC_MSG_JOB_QUERY: job_ref_write(c, &msg->u.job_ref); break;
    case UBC_MSG_PROVIDER_REGISTER: provider_register_write(c, &msg->u.provider_register); break;
    case UBC_MSG_PROVIDER_HEARTBEAT: heartbeat_write(c, &msg->u.heartbeat); break;
    case UBC_MSG_PROVIDER_DEREGISTER: put_u64(c, msg->u.heartbeat.provider_id); break;
    case UBC_MSG_TASK_RESULT: task_result_write(c, &msg->u.task_result); break;
    case UBC_MSG_ASSIGNMENT: assignment_write(c, &msg->u.assignment); break;
    default: reply_write(c, &msg->u.reply); break;
    }
}

/* In-process bytes of the payload struct a wire type decodes into. */
static uint16_t
struct_bytes(uint16_t type)
{
    switch (type) {
    case UBC_MSG_JOB_SUBMIT: return sizeof(struct ubc_job_submit);
    case UBC_MSG_JOB_CANCEL:
    case UBC_MSG_JOB_QUERY: return sizeof(struct ubc_job_ref);
    case UBC_MSG_PROVIDER_REGISTER: return sizeof(struct ubc_provider_register);
    case UBC_MSG_PROVIDER_HEARTBEAT:
    case UBC_MSG_PROVIDER_DEREGISTER: return sizeof(struct ubc_provider_heartbeat);
    case UBC_MSG_TASK_RESULT: return sizeof(struct ubc_task_result);
    case UBC_MSG_ASSIGNMENT: return sizeof(struct ubc_assignment);
    default: return sizeof(struct ubc_reply);
    }
}

/* Range checks of a message of a known wire type. strict: reserved bits
 * must be zero (a sender of our version or older). */
static enum ubc_wire_result
payload_validate(const struct ubc_msg *msg, bool strict)
{
    bool valid = true;
    switch (msg->hdr.type) {
    case UBC_MSG_JOB_SUBMIT: valid = valid_job_submit(&msg->u.job_submit); break;
    case UBC_MSG_JOB_CANCEL:
    case UBC_MSG_JOB_QUERY: valid = msg->u.job_ref.job_id != 0; break;
    case UBC_MSG_PROVIDER_REGISTER: valid = msg->u.provider_register.provider_id != 0; break;
    case UBC_MSG_PROVIDER_HEARTBEAT:
        if (strict && (msg->u.heartbeat.flags & ~UBC_WIRE_HEARTBEAT_FLAGS_KNOWN) != 0)
            return UBC_WIRE_ERR_RESERVED;
        valid = msg->u.heartbeat.provider_id != 0;
        break;
    case UBC_MSG_PROVIDER_DEREGISTER: valid = msg->u.heartbeat.provider_id != 0; break;
    case UBC_MSG_TASK_RESULT: valid = valid_task_result(&msg->u.task_result); break;
    case UBC_MSG_ASSIGNMENT: valid = valid_assignment(&msg->u.assignment); break;
    default: valid = valid_reply(msg->hdr.type, &msg->u.reply); break;
    }
    return valid ? UBC_WIRE_OK : UBC_WIRE_ERR_FIELD_RANGE;
}

enum ubc_wire_result
ubc_wire_payload_decode(const struct ubc_wire_header *header, const uint8_t *payload,
                        struct ubc_msg *msg)
{
    UBC_ASSERT(header != NULL && msg != NULL);
    if (type_is_consensus(header->type))
        return UBC_WIRE_ERR_RESERVED_TYPE;
    uint16_t wire_bytes = ubc_wire_payload_bytes(header->type);
    if (wire_bytes == 0)
        return UBC_WIRE_ERR_UNKNOWN_TYPE;
    if (header->payload_len < wire_bytes)
        return UBC_WIRE_ERR_PAYLOAD_SIZE;
    UBC_ASSERT(payload != NULL);
    uint16_t bytes = struct_bytes(header->type);
    UBC_ASSERT(bytes <= UBC_MSG_PAYLOAD_SIZE);
    msg->hdr = (struct ubc_msg_hdr){
        .type = header->type,
        .flags = header->flags,
        .len = bytes,
        .src_role = UBC_ROLE_NET,
        .peer = UBC_PEER_NONE,
        .seq = header->sequence,
    };
    struct cursor c = cursor_read(payload, wire_bytes);
    payload_read(&c, msg);
    UBC_ASSERT(c.at == c.end);
    bool strict = header_is_strict(header);
    if (!strict && header->type == UBC_MSG_PROVIDER_HEARTBEAT)
        msg->u.heartbeat.flags &= UBC_WIRE_HEARTBEAT_FLAGS_KNOWN;
    return payload_validate(msg, strict);
}

enum ubc_wire_result
ubc_wire_decode(const uint8_t *buf, size_t len, const struct ubc_wire_policy *policy,
                struct ubc_wire_header *header, struct ubc_msg *msg)
{
    enum ubc_wire_result result = ubc_wire_header_decode(buf, len, policy, header);
    if (result != UBC_WIRE_OK)
        return result;
    return ubc_wire_payload_decode(header, buf + UBC_WIRE_HEADER_BYTES, msg);
}

static void
header_write(struct cursor *c, const struct ubc_msg *msg, const struct ubc_wire_origin *origin,
             uint16_t payload_len)
{
    put_u32(c, UBC_WIRE_MAGIC);
    put_u8(c, UBC_WIRE_VERSION_MAJOR);
    put_u8(c, UBC_WIRE_VERSION_MINOR);
    put_u16(c, msg->hdr.type);
    put_u16(c, origin->flags);
    put_u16(c, payload_len);
    put_u32(c, 0); /* reserved */
    put_u64(c, origin->sender_id);
    put_u64(c, origin->session_id);
    put_u64(c, msg->hdr.seq);
}

enum ubc_wire_result
ubc_wire_encode(const struct ubc_msg *msg, const struct ubc_wire_origin *origin, uint8_t *out,
                size_t out_cap, size_t *out_len)
{
    UBC_ASSERT(msg != NULL && origin != NULL && out_len != NULL);
    *out_len = 0;
    uint16_t payload_len = ubc_wire_payload_bytes(msg->hdr.type);
    if (payload_len == 0)
        return type_is_consensus(msg->hdr.type) ? UBC_WIRE_ERR_RESERVED_TYPE
                                                : UBC_WIRE_ERR_UNKNOWN_TYPE;
    uint16_t critical = origin->flags & UBC_WIRE_FLAGS_CRITICAL;
    if ((critical & ~UBC_WIRE_FLAGS_CRITICAL_KNOWN) != 0)
        return UBC_WIRE_ERR_BAD_FLAGS;
    enum ubc_wire_result result = payload_validate(msg, true);
    if (result != UBC_WIRE_OK)
        return result;
    size_t tag = (origin->flags & UBC_WIRE_FLAG_TAG) ? UBC_WIRE_TAG_BYTES : 0;
    size_t total = UBC_WIRE_HEADER_BYTES + payload_len + tag;
    if (out == NULL || out_cap < total)
        return UBC_WIRE_ERR_NO_ROOM;
    struct cursor c = { .at = out, .end = out + total };
    header_write(&c, msg, origin, payload_len);
    payload_write(&c, msg);
    UBC_ASSERT((size_t)(c.at - out) == UBC_WIRE_HEADER_BYTES + payload_len);
    memset(c.at, 0, tag); /* room for the authentication layer to fill */
    *out_len = total;
    return UBC_WIRE_OK;
}

enum ubc_err
ubc_wire_result_to_err(enum ubc_wire_result result)
{
    switch (result) {
    case UBC_WIRE_OK: return UBC_OK;
    case UBC_WIRE_ERR_BAD_VERSION: return UBC_ERR_VERSION;
    case UBC_WIRE_ERR_UNKNOWN_TYPE:
    case UBC_WIRE_ERR_RESERVED_TYPE: return UBC_ERR_UNKNOWN_TYPE;
    case UBC_WIRE_ERR_TAG_REQUIRED: return UBC_ERR_AUTH;
    default: return UBC_ERR_MALFORMED;
    }
}

bool
ubc_wire_should_refuse(enum ubc_wire_result result, const struct ubc_wire_header *header)
{
    UBC_ASSERT(header != NULL);
    if (result == UBC_WIRE_OK || result == UBC_WIRE_ERR_SHORT_HEADER ||
        result == UBC_WIRE_ERR_BAD_MAGIC || result >= UBC_WIRE_RESULT_COUNT)
        return false;
    return !ubc_wire_type_is_reply(header->type);
}

static const char *const result_names[UBC_WIRE_RESULT_COUNT] = {
    [UBC_WIRE_OK] = "ok",
    [UBC_WIRE_ERR_SHORT_HEADER] = "short-header",
    [UBC_WIRE_ERR_BAD_MAGIC] = "bad-magic",
    [UBC_WIRE_ERR_BAD_VERSION] = "bad-version",
    [UBC_WIRE_ERR_BAD_FLAGS] = "bad-flags",
    [UBC_WIRE_ERR_RESERVED] = "reserved-nonzero",
    [UBC_WIRE_ERR_TOO_LARGE] = "too-large",
    [UBC_WIRE_ERR_TRUNCATED] = "truncated",
    [UBC_WIRE_ERR_LENGTH_MISMATCH] = "length-mismatch",
    [UBC_WIRE_ERR_TAG_REQUIRED] = "tag-required",
    [UBC_WIRE_ERR_UNKNOWN_TYPE] = "unknown-type",
    [UBC_WIRE_ERR_RESERVED_TYPE] = "reserved-type",
    [UBC_WIRE_ERR_PAYLOAD_SIZE] = "payload-size",
    [UBC_WIRE_ERR_FIELD_RANGE] = "field-range",
    [UBC_WIRE_ERR_NO_ROOM] = "no-room",
};

const char *
ubc_wire_result_name(enum ubc_wire_result result)
{
    if ((unsigned)result >= UBC_WIRE_RESULT_COUNT)
        return "unknown-result";
    return result_names[result];
}

void
ubc_wire_reply_init(struct ubc_msg *msg, uint16_t type, uint64_t sequence, uint64_t id,
                    enum ubc_err error, uint16_t state, uint32_t detail)
{
    UBC_ASSERT(msg != NULL && ubc_wire_payload_bytes(type) == UBC_WIRE_REPLY_BYTES);
    UBC_ASSERT((unsigned)error < UBC_ERR_COUNT);
    msg->hdr = (struct ubc_msg_hdr){
        .type = type,
        .len = sizeof(struct ubc_reply),
        .src_role = UBC_ROLE_NET,
        .peer = UBC_PEER_NONE,
        .seq = sequence,
    };
    memset(msg->u.bytes, 0, sizeof(struct ubc_reply));
    msg->u.reply =
        (struct ubc_reply){ .id = id, .error = (uint16_t)error, .state = state, .detail = detail };
}

void
ubc_wire_refusal_init(struct ubc_msg *msg, enum ubc_wire_result result,
                      const struct ubc_wire_header *header)
{
    UBC_ASSERT(result != UBC_WIRE_OK && result < UBC_WIRE_RESULT_COUNT && header != NULL);
    ubc_wire_reply_init(msg, UBC_MSG_REFUSAL, header->sequence, 0, ubc_wire_result_to_err(result),
                        0, (uint32_t)result);
}
