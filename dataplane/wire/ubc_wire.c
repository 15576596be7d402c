/* ubc_wire.c: the UBC wire codec. See ubc_wire.h and docs/wire-protocol.md.
 *
 * Every record (the header, a payload, a ledger op) is read and written
 * through a cursor whose room is asserted once, for the whole record, before
 * its fields: the lengths are checked against the datagram before any
 * payload byte is read, so that assertion states an invariant, it never
 * fires on input. The fields then go without a check each (~28 instructions
 * per job query and reply, measured).
 */
#include "dataplane/wire/ubc_wire.h"

#include <endian.h>
#include <stddef.h>
#include <string.h>

UBC_STATIC_ASSERT(sizeof(struct ubc_wire_ledger_op) == UBC_WIRE_LEDGER_OP_BYTES,
                  "a wire ledger op record is 224 bytes");
UBC_STATIC_ASSERT(UBC_WIRE_LEDGER_OP_BYTES <= UBC_MSG_PAYLOAD_SIZE, "one op fits a message");

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

/* Opens a record (the header, a payload, a ledger op) of bytes: the one
 * bounds assertion of its fields, which follow unchecked. Returns where the
 * record ends, for cursor_close. */
static inline __attribute__((always_inline)) const uint8_t *
cursor_open(const struct cursor *c, size_t bytes)
{
    /* Signed: a cursor past its end fails too. One comparison, since the
     * distance folds to the length the cursor was opened with. */
    UBC_ASSERT(c->end - c->at >= (ptrdiff_t)bytes);
    return c->at + bytes;
}

/* Closes a record: its fields took exactly its bytes (a fixed sequence of
 * fields, so the compiler folds this check). */
static inline __attribute__((always_inline)) void
cursor_close(const struct cursor *c, const uint8_t *end)
{
    UBC_ASSERT(c->at == end);
}

static inline uint8_t
get_u8(struct cursor *c)
{
    return *c->at++;
}

/* One unaligned load and a byte-order conversion per field: explicit little
 * endian, and a single instruction on little-endian hosts. */
static inline uint16_t
get_u16(struct cursor *c)
{
    uint16_t v;
    memcpy(&v, c->at, 2);
    c->at += 2;
    return le16toh(v);
}

static inline uint32_t
get_u32(struct cursor *c)
{
    uint32_t v;
    memcpy(&v, c->at, 4);
    c->at += 4;
    return le32toh(v);
}

static inline uint64_t
get_u64(struct cursor *c)
{
    uint64_t v;
    memcpy(&v, c->at, 8);
    c->at += 8;
    return le64toh(v);
}

static inline void
get_bytes(struct cursor *c, uint8_t *out, size_t bytes)
{
    memcpy(out, c->at, bytes);
    c->at += bytes;
}

/* One 8-byte store of a value held in a register. */
static inline void
store_u64_raw(uint8_t *at, uint64_t v)
{
    __builtin_memcpy(at, &v, 8);
}

static inline void
put_u8(struct cursor *c, uint8_t v)
{
    *c->at++ = v;
}

static inline void
put_u16(struct cursor *c, uint16_t v)
{
    uint16_t le = htole16(v);
    memcpy(c->at, &le, 2);
    c->at += 2;
}

static inline void
put_u32(struct cursor *c, uint32_t v)
{
    uint32_t le = htole32(v);
    memcpy(c->at, &le, 4);
    c->at += 4;
}

static inline void
put_u64(struct cursor *c, uint64_t v)
{
    uint64_t le = htole64(v);
    memcpy(c->at, &le, 8);
    c->at += 8;
}

static inline void
put_bytes(struct cursor *c, const uint8_t *in, size_t bytes)
{
    memcpy(c->at, in, bytes);
    c->at += bytes;
}

static struct cursor
cursor_read(const uint8_t *buf, size_t len)
{
    /* The reader never writes through at; the cast only shares the struct. */
    return (struct cursor){ .at = (uint8_t *)(uintptr_t)buf, .end = buf + len };
}

/* Per type: its payload bytes on the wire in this version (0: the type does
 * not travel on the wire) and the in-process bytes of the struct it decodes
 * into. One table for both, so a decode's second look-up is one load. */
struct wire_type {
    uint8_t wire_bytes;
    uint8_t struct_bytes;
};

static const struct wire_type wire_types[UBC_MSG_LEDGER_RESULT + 1] = {
    [UBC_MSG_JOB_SUBMIT] = { UBC_WIRE_JOB_SUBMIT_BYTES, sizeof(struct ubc_job_submit) },
    [UBC_MSG_JOB_CANCEL] = { UBC_WIRE_JOB_REF_BYTES, sizeof(struct ubc_job_ref) },
    [UBC_MSG_JOB_QUERY] = { UBC_WIRE_JOB_REF_BYTES, sizeof(struct ubc_job_ref) },
    [UBC_MSG_PROVIDER_REGISTER] = { UBC_WIRE_PROVIDER_REGISTER_BYTES,
                                    sizeof(struct ubc_provider_register) },
    [UBC_MSG_PROVIDER_HEARTBEAT] = { UBC_WIRE_HEARTBEAT_BYTES,
                                     sizeof(struct ubc_provider_heartbeat) },
    [UBC_MSG_PROVIDER_DEREGISTER] = { UBC_WIRE_DEREGISTER_BYTES,
                                      sizeof(struct ubc_provider_heartbeat) },
    [UBC_MSG_TASK_RESULT] = { UBC_WIRE_TASK_RESULT_BYTES, sizeof(struct ubc_task_result) },
    [UBC_MSG_ACK] = { UBC_WIRE_REPLY_BYTES, sizeof(struct ubc_reply) },
    [UBC_MSG_REFUSAL] = { UBC_WIRE_REPLY_BYTES, sizeof(struct ubc_reply) },
    [UBC_MSG_JOB_STATUS] = { UBC_WIRE_REPLY_BYTES, sizeof(struct ubc_reply) },
    [UBC_MSG_ASSIGNMENT] = { UBC_WIRE_ASSIGNMENT_BYTES, sizeof(struct ubc_assignment) },
    /* per record: 1..6 records; decoded into a struct ubc_wire_ledger_op */
    [UBC_MSG_LEDGER_OP] = { UBC_WIRE_LEDGER_OP_BYTES, sizeof(struct ubc_wire_ledger_op) },
    [UBC_MSG_LEDGER_RESULT] = { UBC_WIRE_REPLY_BYTES, sizeof(struct ubc_reply) },
};
/* The table's structs are the message's payload union members (so they fit
 * it) and the ledger op (checked at the top): a decoded struct fits. */
UBC_STATIC_ASSERT(sizeof(((struct ubc_msg *)0)->u) == UBC_MSG_PAYLOAD_SIZE,
                  "the payload union is the payload's room");
UBC_STATIC_ASSERT(UBC_WIRE_LEDGER_OP_BYTES <= UINT8_MAX &&
                      sizeof(struct ubc_job_submit) <= UINT8_MAX &&
                      sizeof(struct ubc_provider_register) <= UINT8_MAX,
                  "every size fits the table's bytes");

static inline __attribute__((always_inline)) struct wire_type
wire_type_of(uint16_t type)
{
    if (type >= UBC_ARRAY_SIZE(wire_types))
        return (struct wire_type){ 0, 0 };
    return wire_types[type];
}

static inline __attribute__((always_inline)) uint16_t
wire_payload_bytes(uint16_t type)
{
    return wire_type_of(type).wire_bytes;
}

uint16_t
ubc_wire_payload_bytes(uint16_t type)
{
    return wire_payload_bytes(type);
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
           type == UBC_MSG_ASSIGNMENT || type == UBC_MSG_LEDGER_RESULT;
}

/* A sender of a newer minor version may append payload fields and use
 * reserved bits; we ignore what we do not know. Same or older: exact. */
static bool
header_is_strict(const struct ubc_wire_header *header)
{
    return header->version_minor <= UBC_WIRE_VERSION_MINOR;
}

static inline __attribute__((always_inline)) enum ubc_wire_result
header_check_type(const struct ubc_wire_header *header)
{
    if (type_is_consensus(header->type))
        return UBC_WIRE_OK; /* framing is checked; the payload is not ours */
    uint16_t expected = wire_payload_bytes(header->type);
    if (expected == 0)
        return UBC_WIRE_ERR_UNKNOWN_TYPE;
    if (header->type == UBC_MSG_LEDGER_OP) /* whole records, in any version */
        return header->payload_len != 0 && header->payload_len % expected == 0
                   ? UBC_WIRE_OK
                   : UBC_WIRE_ERR_PAYLOAD_SIZE;
    if (header->payload_len == expected)
        return UBC_WIRE_OK;
    if (!header_is_strict(header) && header->payload_len > expected)
        return UBC_WIRE_OK;
    return UBC_WIRE_ERR_PAYLOAD_SIZE;
}

static inline uint64_t
load_le64(const uint8_t *at)
{
    uint64_t v;
    memcpy(&v, at, 8);
    return le64toh(v);
}

/* A header field of a given offset and type, out of the header read as
 * five little-endian words: no field spans two words (checked below). */
#define HEADER_FIELD(words, offset, type) ((type)((words)[(offset) / 8] >> ((offset) % 8 * 8)))
#define HEADER_FIELD_FITS(offset, type) ((offset) % 8 + sizeof(type) <= 8)
UBC_STATIC_ASSERT(HEADER_FIELD_FITS(OFFSET_MAGIC, uint32_t) &&
                      HEADER_FIELD_FITS(OFFSET_TYPE, uint16_t) &&
                      HEADER_FIELD_FITS(OFFSET_FLAGS, uint16_t) &&
                      HEADER_FIELD_FITS(OFFSET_PAYLOAD_LEN, uint16_t) &&
                      HEADER_FIELD_FITS(OFFSET_RESERVED, uint32_t) && OFFSET_SENDER_ID % 8 == 0 &&
                      OFFSET_SESSION_ID % 8 == 0 && OFFSET_SEQUENCE + 8 == UBC_WIRE_HEADER_BYTES,
                  "header fields lie within its five words");

/* The fixed header as five word loads and shifts instead of ten field reads
 * through a cursor (the encoder writes it as five words too); the caller
 * checked that the buffer holds the header. */
static inline __attribute__((always_inline)) void
header_read(const uint64_t words[UBC_WIRE_HEADER_BYTES / 8], struct ubc_wire_header *header,
            uint32_t *reserved)
{
    /* Zeroed first for its padding: the compiler keeps only that part. */
    memset(header, 0, sizeof(*header));
    *header = (struct ubc_wire_header){
        .sender_id = HEADER_FIELD(words, OFFSET_SENDER_ID, uint64_t),
        .session_id = HEADER_FIELD(words, OFFSET_SESSION_ID, uint64_t),
        .sequence = HEADER_FIELD(words, OFFSET_SEQUENCE, uint64_t),
        .type = HEADER_FIELD(words, OFFSET_TYPE, uint16_t),
        .payload_len = HEADER_FIELD(words, OFFSET_PAYLOAD_LEN, uint16_t),
        .flags = HEADER_FIELD(words, OFFSET_FLAGS, uint16_t),
        .version_major = HEADER_FIELD(words, OFFSET_VERSION_MAJOR, uint8_t),
        .version_minor = HEADER_FIELD(words, OFFSET_VERSION_MINOR, uint8_t),
    };
    *reserved = HEADER_FIELD(words, OFFSET_RESERVED, uint32_t);
}

/* The header and payload decoders are always inlined into ubc_wire_decode:
 * the net role calls it per datagram, and two calls (with their register
 * saves and a header passed through memory) cost about 20 instructions of
 * the ~200 a job query's decode takes. */
static inline __attribute__((always_inline)) enum ubc_wire_result
wire_header_decode(const uint8_t *buf, size_t len, const struct ubc_wire_policy *policy,
                   struct ubc_wire_header *header)
{
    UBC_ASSERT(header != NULL && policy != NULL);
    if (buf == NULL || len < UBC_WIRE_HEADER_BYTES) {
        memset(header, 0, sizeof(*header));
        return UBC_WIRE_ERR_SHORT_HEADER;
    }
    /* The one bound of the header's reads: len >= UBC_WIRE_HEADER_BYTES. */
    const uint64_t words[UBC_WIRE_HEADER_BYTES / 8] = { load_le64(buf), load_le64(buf + 8),
                                                        load_le64(buf + 16), load_le64(buf + 24),
                                                        load_le64(buf + 32) };
    if (HEADER_FIELD(words, OFFSET_MAGIC, uint32_t) != UBC_WIRE_MAGIC) {
        memset(header, 0, sizeof(*header));
        return UBC_WIRE_ERR_BAD_MAGIC;
    }
    uint32_t reserved;
    header_read(words, header, &reserved);
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

enum ubc_wire_result
ubc_wire_header_decode(const uint8_t *buf, size_t len, const struct ubc_wire_policy *policy,
                       struct ubc_wire_header *header)
{
    return wire_header_decode(buf, len, policy, header);
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

/* The ranges of the smaller records: an id that names something. */
static bool
valid_job_ref(const struct ubc_job_ref *r)
{
    return r->job_id != 0;
}

static bool
valid_provider_register(const struct ubc_provider_register *r)
{
    return r->provider_id != 0;
}

static bool
valid_deregister(const struct ubc_provider_heartbeat *h)
{
    return h->provider_id != 0;
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

/* strict: reserved bits must be zero (a sender of our version or older). */
static enum ubc_wire_result
heartbeat_check(const struct ubc_provider_heartbeat *h, bool strict)
{
    if (strict && (h->flags & ~UBC_WIRE_HEARTBEAT_FLAGS_KNOWN) != 0)
        return UBC_WIRE_ERR_RESERVED;
    return valid_deregister(h) ? UBC_WIRE_OK : UBC_WIRE_ERR_FIELD_RANGE; /* the same id rule */
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
job_submit_read(struct cursor record, struct ubc_job_submit *s)
{
    struct cursor *c = &record;
    const uint8_t *end = cursor_open(c, UBC_WIRE_JOB_SUBMIT_BYTES);
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
    cursor_close(c, end);
}

static void
job_submit_write(struct cursor record, const struct ubc_job_submit *s)
{
    struct cursor *c = &record;
    const uint8_t *end = cursor_open(c, UBC_WIRE_JOB_SUBMIT_BYTES);
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
    cursor_close(c, end);
}

/* Every byte of these structs is a wire field, so their readers write them
 * whole without zeroing them first (the memset cost 6 instructions a job
 * query). Payload readers and writers take their cursor by value: the
 * address of a shared cursor, passed to the out-of-line ones, kept it in
 * memory on the inlined hot path too. */
UBC_STATIC_ASSERT(sizeof(struct ubc_job_ref) == UBC_WIRE_JOB_REF_BYTES, "no padding in a job ref");
UBC_STATIC_ASSERT(sizeof(struct ubc_reply) == UBC_WIRE_REPLY_BYTES, "no padding in a reply");

static inline __attribute__((always_inline)) void
job_ref_read(struct cursor record, struct ubc_job_ref *r)
{
    struct cursor *c = &record;
    const uint8_t *end = cursor_open(c, UBC_WIRE_JOB_REF_BYTES);
    r->job_id = get_u64(c);
    get_bytes(c, r->owner, UBC_KEY_BYTES);
    cursor_close(c, end);
}

static void
job_ref_write(struct cursor record, const struct ubc_job_ref *r)
{
    struct cursor *c = &record;
    const uint8_t *end = cursor_open(c, UBC_WIRE_JOB_REF_BYTES);
    put_u64(c, r->job_id);
    put_bytes(c, r->owner, UBC_KEY_BYTES);
    cursor_close(c, end);
}

static void
provider_register_read(struct cursor record, struct ubc_provider_register *p)
{
    struct cursor *c = &record;
    const uint8_t *end = cursor_open(c, UBC_WIRE_PROVIDER_REGISTER_BYTES);
    ZERO_BETWEEN(p, struct ubc_provider_register, region, labels); /* reserved + padding */
    p->provider_id = get_u64(c);
    p->operator_id = get_u64(c);
    get_bytes(c, p->account, UBC_KEY_BYTES);
    get_resources(c, &p->capacity);
    p->region = get_u16(c);
    p->labels = get_u64(c);
    p->price_per_task = get_u64(c);
    p->stake = get_u64(c);
    cursor_close(c, end);
}

static void
provider_register_write(struct cursor record, const struct ubc_provider_register *p)
{
    struct cursor *c = &record;
    const uint8_t *end = cursor_open(c, UBC_WIRE_PROVIDER_REGISTER_BYTES);
    put_u64(c, p->provider_id);
    put_u64(c, p->operator_id);
    put_bytes(c, p->account, UBC_KEY_BYTES);
    put_resources(c, &p->capacity);
    put_u16(c, p->region);
    put_u64(c, p->labels);
    put_u64(c, p->price_per_task);
    put_u64(c, p->stake);
    cursor_close(c, end);
}

static void
heartbeat_read(struct cursor record, struct ubc_provider_heartbeat *h)
{
    struct cursor *c = &record;
    const uint8_t *end = cursor_open(c, UBC_WIRE_HEARTBEAT_BYTES);
    memset(h, 0, sizeof(*h)); /* padding and in-process-only fields defined */
    h->provider_id = get_u64(c);
    h->running_tasks = get_u32(c);
    h->flags = get_u32(c);
    cursor_close(c, end);
}

static void
heartbeat_write(struct cursor record, const struct ubc_provider_heartbeat *h)
{
    struct cursor *c = &record;
    const uint8_t *end = cursor_open(c, UBC_WIRE_HEARTBEAT_BYTES);
    put_u64(c, h->provider_id);
    put_u32(c, h->running_tasks);
    put_u32(c, h->flags);
    cursor_close(c, end);
}

/* DEREGISTER: a heartbeat's provider id alone. */
static void
deregister_read(struct cursor record, struct ubc_provider_heartbeat *h)
{
    struct cursor *c = &record;
    const uint8_t *end = cursor_open(c, UBC_WIRE_DEREGISTER_BYTES);
    memset(h, 0, sizeof(*h)); /* the fields a deregister does not carry */
    h->provider_id = get_u64(c);
    cursor_close(c, end);
}

static void
deregister_write(struct cursor record, const struct ubc_provider_heartbeat *h)
{
    struct cursor *c = &record;
    const uint8_t *end = cursor_open(c, UBC_WIRE_DEREGISTER_BYTES);
    put_u64(c, h->provider_id);
    cursor_close(c, end);
}

static void
task_result_read(struct cursor record, struct ubc_task_result *r)
{
    struct cursor *c = &record;
    const uint8_t *end = cursor_open(c, UBC_WIRE_TASK_RESULT_BYTES);
    memset(r, 0, sizeof(*r)); /* padding and in-process-only fields defined */
    r->job_id = get_u64(c);
    r->provider_id = get_u64(c);
    r->task_index = get_u16(c);
    r->replica = get_u8(c);
    r->status = get_u8(c);
    r->run_ms = get_u32(c);
    get_bytes(c, r->result_hash, UBC_HASH_BYTES);
    cursor_close(c, end);
}

static void
task_result_write(struct cursor record, const struct ubc_task_result *r)
{
    struct cursor *c = &record;
    const uint8_t *end = cursor_open(c, UBC_WIRE_TASK_RESULT_BYTES);
    put_u64(c, r->job_id);
    put_u64(c, r->provider_id);
    put_u16(c, r->task_index);
    put_u8(c, r->replica);
    put_u8(c, r->status);
    put_u32(c, r->run_ms);
    put_bytes(c, r->result_hash, UBC_HASH_BYTES);
    cursor_close(c, end);
}

static void
assignment_read(struct cursor record, struct ubc_assignment *a)
{
    struct cursor *c = &record;
    const uint8_t *end = cursor_open(c, UBC_WIRE_ASSIGNMENT_BYTES);
    memset(a, 0, sizeof(*a)); /* padding and in-process-only fields defined */
    a->job_id = get_u64(c);
    a->provider_id = get_u64(c);
    a->task_index = get_u16(c);
    a->replica = get_u8(c);
    a->qos_class = get_u8(c);
    a->price = get_u64(c);
    a->work_ms = get_u64(c);
    a->deadline_ns = get_u64(c);
    cursor_close(c, end);
}

static void
assignment_write(struct cursor record, const struct ubc_assignment *a)
{
    struct cursor *c = &record;
    const uint8_t *end = cursor_open(c, UBC_WIRE_ASSIGNMENT_BYTES);
    put_u64(c, a->job_id);
    put_u64(c, a->provider_id);
    put_u16(c, a->task_index);
    put_u8(c, a->replica);
    put_u8(c, a->qos_class);
    put_u64(c, a->price);
    put_u64(c, a->work_ms);
    put_u64(c, a->deadline_ns);
    cursor_close(c, end);
}

static inline __attribute__((always_inline)) void
reply_read(struct cursor record, struct ubc_reply *r)
{
    struct cursor *c = &record;
    const uint8_t *end = cursor_open(c, UBC_WIRE_REPLY_BYTES);
    r->id = get_u64(c);
    r->error = get_u16(c);
    r->state = get_u16(c);
    r->detail = get_u32(c);
    cursor_close(c, end);
}

static void
reply_write(struct cursor record, const struct ubc_reply *r)
{
    struct cursor *c = &record;
    const uint8_t *end = cursor_open(c, UBC_WIRE_REPLY_BYTES);
    /* id, then error, state and detail as one little-endian word: two
     * stores, each of the width the UDP checksum reads back. */
    put_u64(c, r->id);
    put_u64(c, (uint64_t)r->error | (uint64_t)r->state << 16 | (uint64_t)r->detail << 32);
    cursor_close(c, end);
}

/* Reads the payload of a wire type and checks its ranges, in one dispatch
 * on the type (a read, then a validation, took two). */
static inline __attribute__((always_inline)) enum ubc_wire_result
payload_read_check(struct cursor c, struct ubc_msg *msg, bool strict)
{
    bool valid = true;
    switch (msg->hdr.type) {
    case UBC_MSG_JOB_SUBMIT:
        job_submit_read(c, &msg->u.job_submit);
        valid = valid_job_submit(&msg->u.job_submit);
        break;
    case UBC_MSG_JOB_CANCEL:
    case UBC_MSG_JOB_QUERY:
        job_ref_read(c, &msg->u.job_ref);
        valid = valid_job_ref(&msg->u.job_ref);
        break;
    case UBC_MSG_PROVIDER_REGISTER:
        provider_register_read(c, &msg->u.provider_register);
        valid = valid_provider_register(&msg->u.provider_register);
        break;
    case UBC_MSG_PROVIDER_HEARTBEAT:
        heartbeat_read(c, &msg->u.heartbeat);
        if (!strict) /* a newer sender's bits we do not know are ignored */
            msg->u.heartbeat.flags &= UBC_WIRE_HEARTBEAT_FLAGS_KNOWN;
        return heartbeat_check(&msg->u.heartbeat, strict);
    case UBC_MSG_PROVIDER_DEREGISTER:
        deregister_read(c, &msg->u.heartbeat);
        valid = valid_deregister(&msg->u.heartbeat);
        break;
    case UBC_MSG_TASK_RESULT:
        task_result_read(c, &msg->u.task_result);
        valid = valid_task_result(&msg->u.task_result);
        break;
    case UBC_MSG_ASSIGNMENT:
        assignment_read(c, &msg->u.assignment);
        valid = valid_assignment(&msg->u.assignment);
        break;
    default:
        reply_read(c, &msg->u.reply);
        valid = valid_reply(msg->hdr.type, &msg->u.reply);
        break;
    }
    return valid ? UBC_WIRE_OK : UBC_WIRE_ERR_FIELD_RANGE;
}

/* Checks msg's payload as the decoder would (strict: a sender of our
 * version) and, when valid and out is given, writes it there: one dispatch
 * on the type for both. Nothing is written when it is not valid. */
static inline __attribute__((always_inline)) enum ubc_wire_result
payload_check_write(const struct ubc_msg *msg, uint16_t type, const struct cursor *out)
{
    bool valid = true;
    switch (type) {
    case UBC_MSG_JOB_SUBMIT:
        valid = valid_job_submit(&msg->u.job_submit);
        if (valid && out != NULL)
            job_submit_write(*out, &msg->u.job_submit);
        break;
    case UBC_MSG_JOB_CANCEL:
    case UBC_MSG_JOB_QUERY:
        valid = valid_job_ref(&msg->u.job_ref);
        if (valid && out != NULL)
            job_ref_write(*out, &msg->u.job_ref);
        break;
    case UBC_MSG_PROVIDER_REGISTER:
        valid = valid_provider_register(&msg->u.provider_register);
        if (valid && out != NULL)
            provider_register_write(*out, &msg->u.provider_register);
        break;
    case UBC_MSG_PROVIDER_HEARTBEAT: {
        enum ubc_wire_result result = heartbeat_check(&msg->u.heartbeat, true);
        if (result == UBC_WIRE_OK && out != NULL)
            heartbeat_write(*out, &msg->u.heartbeat);
        return result;
    }
    case UBC_MSG_PROVIDER_DEREGISTER:
        valid = valid_deregister(&msg->u.heartbeat);
        if (valid && out != NULL)
            deregister_write(*out, &msg->u.heartbeat);
        break;
    case UBC_MSG_TASK_RESULT:
        valid = valid_task_result(&msg->u.task_result);
        if (valid && out != NULL)
            task_result_write(*out, &msg->u.task_result);
        break;
    case UBC_MSG_ASSIGNMENT:
        valid = valid_assignment(&msg->u.assignment);
        if (valid && out != NULL)
            assignment_write(*out, &msg->u.assignment);
        break;
    default:
        valid = valid_reply(type, &msg->u.reply);
        if (valid && out != NULL)
            reply_write(*out, &msg->u.reply);
        break;
    }
    return valid ? UBC_WIRE_OK : UBC_WIRE_ERR_FIELD_RANGE;
}

static inline __attribute__((always_inline)) void
header_write(struct cursor *c, uint16_t type, uint64_t sequence,
             const struct ubc_wire_origin *origin, uint16_t flags, uint16_t payload_len);

/* LEDGER_OP records. The integer fields of each kind's arguments, as
 * (offset, width) pairs in the 80-byte args (the layout of struct
 * ubc_ledger_args); every other args byte is a byte array or zero and is
 * copied as it is. */
struct ledger_int_field {
    uint8_t offset;
    uint8_t width;
};

struct ledger_args_layout {
    uint8_t count;
    struct ledger_int_field fields[4];
};

static const struct ledger_args_layout ledger_layouts[UBC_WIRE_LEDGER_KIND_MAX + 1] = {
    [2] = { 1, { { 32, 8 } } },                                /* TRANSFER: target, amount */
    [3] = { 1, { { 0, 8 } } },                                 /* STAKE: amount */
    [4] = { 1, { { 0, 8 } } },                                 /* UNSTAKE */
    [5] = { 1, { { 0, 8 } } },                                 /* BURN */
    [6] = { 2, { { 0, 8 }, { 8, 8 } } },                       /* ESCROW_LOCK: job, amount */
    [7] = { 2, { { 0, 8 }, { 8, 8 } } },                       /* ESCROW_RELEASE */
    [8] = { 2, { { 0, 8 }, { 8, 8 } } },                       /* ESCROW_REFUND */
    [9] = { 2, { { 0, 8 }, { 8, 8 } } },                       /* REWARD_EPOCH: epoch, units */
    [10] = { 2, { { 0, 8 }, { 8, 8 } } },                      /* REWARD_WORK */
    [11] = { 2, { { 0, 8 }, { 8, 8 } } },                      /* SLASH: amount, sequence */
    [12] = { 4, { { 0, 4 }, { 4, 4 }, { 8, 8 }, { 16, 8 } } }, /* PROPOSE */
    [13] = { 1, { { 0, 8 } } },                                /* VOTE: proposal id */
    [14] = { 1, { { 0, 8 } } },                                /* EXECUTE */
    [16] = { 1, { { 0, 4 } } },                                /* MULTISIG_SET_THRESHOLD */
    [19] = { 1, { { 32, 8 } } },                               /* FREEZE: as TRANSFER */
};

/* Converts the kind's integers in args between host and little-endian
 * order in place (the same operation both ways). */
static void
ledger_args_swap(uint8_t kind, uint8_t args[UBC_WIRE_LEDGER_ARGS_BYTES])
{
    if (kind > UBC_WIRE_LEDGER_KIND_MAX)
        return;
    const struct ledger_args_layout *layout = &ledger_layouts[kind];
    for (uint8_t i = 0; i < layout->count; i++) {
        uint8_t *at = args + layout->fields[i].offset;
        UBC_ASSERT(layout->fields[i].offset + layout->fields[i].width <=
                   UBC_WIRE_LEDGER_ARGS_BYTES);
        if (layout->fields[i].width == 8) {
            uint64_t v;
            memcpy(&v, at, 8);
            v = htole64(v);
            memcpy(at, &v, 8);
        } else {
            uint32_t v;
            memcpy(&v, at, 4);
            v = htole32(v);
            memcpy(at, &v, 4);
        }
    }
}

static void
ledger_op_read(struct cursor *c, struct ubc_wire_ledger_op *op, uint8_t *verify_on_wire)
{
    const uint8_t *end = cursor_open(c, UBC_WIRE_LEDGER_OP_BYTES);
    op->kind = get_u8(c);
    op->flags = get_u8(c);
    op->cosign_count = get_u8(c);
    *verify_on_wire = get_u8(c);
    op->verify = 0; /* the verify role's mark, never the client's */
    op->reserved = get_u32(c);
    op->nonce = get_u64(c);
    get_bytes(c, op->account, sizeof(op->account));
    get_bytes(c, op->signer, sizeof(op->signer));
    get_bytes(c, op->signature, sizeof(op->signature));
    get_bytes(c, op->args, sizeof(op->args));
    ledger_args_swap(op->kind, op->args);
    cursor_close(c, end);
}

static void
ledger_op_write(struct cursor *c, const struct ubc_wire_ledger_op *op)
{
    const uint8_t *end = cursor_open(c, UBC_WIRE_LEDGER_OP_BYTES);
    put_u8(c, op->kind);
    put_u8(c, op->flags);
    put_u8(c, op->cosign_count);
    put_u8(c, 0); /* verify: not carried */
    put_u32(c, op->reserved);
    put_u64(c, op->nonce);
    put_bytes(c, op->account, sizeof(op->account));
    put_bytes(c, op->signer, sizeof(op->signer));
    put_bytes(c, op->signature, sizeof(op->signature));
    uint8_t args[UBC_WIRE_LEDGER_ARGS_BYTES];
    memcpy(args, op->args, sizeof(args));
    ledger_args_swap(op->kind, args);
    put_bytes(c, args, sizeof(args));
    cursor_close(c, end);
}

/* The group rules, shared by the encoder and the decoder. */
static enum ubc_wire_result
ledger_group_validate(const struct ubc_wire_ledger_op *ops, uint32_t count)
{
    if (count == 0 || count > UBC_WIRE_LEDGER_GROUP_FIT)
        return UBC_WIRE_ERR_PAYLOAD_SIZE;
    if (ops[0].kind == UBC_WIRE_LEDGER_KIND_COSIGN || ops[0].cosign_count != count - 1)
        return UBC_WIRE_ERR_FIELD_RANGE;
    for (uint32_t i = 0; i < count; i++) {
        if (ops[i].kind == 0 || ops[i].kind > UBC_WIRE_LEDGER_KIND_MAX)
            return UBC_WIRE_ERR_FIELD_RANGE;
        if (i > 0 && (ops[i].kind != UBC_WIRE_LEDGER_KIND_COSIGN || ops[i].cosign_count != 0))
            return UBC_WIRE_ERR_FIELD_RANGE;
        if (ops[i].reserved != 0)
            return UBC_WIRE_ERR_RESERVED;
    }
    return UBC_WIRE_OK;
}

enum ubc_wire_result
ubc_wire_ledger_group_decode(const struct ubc_wire_header *header, const uint8_t *payload,
                             struct ubc_wire_ledger_op *ops, uint32_t cap, uint32_t *count)
{
    UBC_ASSERT(header != NULL && ops != NULL && count != NULL);
    UBC_ASSERT(cap >= UBC_WIRE_LEDGER_GROUP_FIT);
    *count = 0;
    if (header->type != UBC_MSG_LEDGER_OP)
        return UBC_WIRE_ERR_UNKNOWN_TYPE;
    if (header->payload_len == 0 || header->payload_len % UBC_WIRE_LEDGER_OP_BYTES != 0)
        return UBC_WIRE_ERR_PAYLOAD_SIZE;
    uint32_t n = header->payload_len / UBC_WIRE_LEDGER_OP_BYTES;
    UBC_ASSERT(n <= UBC_WIRE_LEDGER_GROUP_FIT); /* payload_len <= UBC_WIRE_PAYLOAD_MAX */
    UBC_ASSERT(payload != NULL);
    struct cursor c = cursor_read(payload, header->payload_len);
    bool verify_set = false;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t verify_on_wire;
        ledger_op_read(&c, &ops[i], &verify_on_wire);
        verify_set |= verify_on_wire != 0;
    }
    UBC_ASSERT(c.at == c.end);
    enum ubc_wire_result result = ledger_group_validate(ops, n);
    if (result == UBC_WIRE_OK && verify_set)
        result = UBC_WIRE_ERR_RESERVED;
    if (result == UBC_WIRE_OK)
        *count = n;
    return result;
}

enum ubc_wire_result
ubc_wire_ledger_group_encode(const struct ubc_wire_ledger_op *ops, uint32_t count,
                             uint64_t sequence, const struct ubc_wire_origin *origin, uint8_t *out,
                             size_t out_cap, size_t *out_len)
{
    UBC_ASSERT(ops != NULL && origin != NULL && out_len != NULL);
    *out_len = 0;
    if ((origin->flags & UBC_WIRE_FLAGS_CRITICAL & ~UBC_WIRE_FLAG_TAG) != 0)
        return UBC_WIRE_ERR_BAD_FLAGS;
    enum ubc_wire_result result = ledger_group_validate(ops, count);
    if (result != UBC_WIRE_OK)
        return result;
    size_t payload_len = (size_t)count * UBC_WIRE_LEDGER_OP_BYTES;
    size_t tag = (origin->flags & UBC_WIRE_FLAG_TAG) ? UBC_WIRE_TAG_BYTES : 0;
    size_t total = UBC_WIRE_HEADER_BYTES + payload_len + tag;
    UBC_ASSERT(total <= UBC_WIRE_DATAGRAM_MAX);
    if (out == NULL || out_cap < total)
        return UBC_WIRE_ERR_NO_ROOM;
    struct cursor c = { .at = out, .end = out + total };
    header_write(&c, UBC_MSG_LEDGER_OP, sequence, origin, origin->flags, (uint16_t)payload_len);
    for (uint32_t i = 0; i < count; i++)
        ledger_op_write(&c, &ops[i]);
    UBC_ASSERT((size_t)(c.at - out) == UBC_WIRE_HEADER_BYTES + payload_len);
    memset(c.at, 0, tag);
    *out_len = total;
    return UBC_WIRE_OK;
}

/* The one-message form of a LEDGER_OP datagram: the group is checked whole,
 * its main op lands in msg. */
static enum ubc_wire_result
ledger_main_decode(const struct ubc_wire_header *header, const uint8_t *payload,
                   struct ubc_msg *msg)
{
    struct ubc_wire_ledger_op ops[UBC_WIRE_LEDGER_GROUP_FIT];
    uint32_t count = 0;
    enum ubc_wire_result result =
        ubc_wire_ledger_group_decode(header, payload, ops, UBC_WIRE_LEDGER_GROUP_FIT, &count);
    msg->hdr = (struct ubc_msg_hdr){
        .type = UBC_MSG_LEDGER_OP,
        .len = UBC_WIRE_LEDGER_OP_BYTES,
        .src_role = UBC_ROLE_NET,
        .peer = UBC_PEER_NONE,
        .seq = header->sequence,
    };
    memcpy(msg->u.bytes, &ops[0], sizeof(ops[0]));
    return result;
}

static inline __attribute__((always_inline)) enum ubc_wire_result
wire_payload_decode(const struct ubc_wire_header *header, const uint8_t *payload,
                    struct ubc_msg *msg)
{
    UBC_ASSERT(header != NULL && msg != NULL);
    /* A copy: msg might alias *header for all the compiler knows, so every
     * store into msg made it read the header's fields again. */
    const struct ubc_wire_header h = *header;
    if (type_is_consensus(h.type))
        return UBC_WIRE_ERR_RESERVED_TYPE;
    uint16_t wire_bytes = wire_payload_bytes(h.type);
    if (wire_bytes == 0)
        return UBC_WIRE_ERR_UNKNOWN_TYPE;
    if ((h.flags & UBC_WIRE_FLAG_REVOKE) && h.type != UBC_MSG_ASSIGNMENT)
        return UBC_WIRE_ERR_BAD_FLAGS;
    if (h.type == UBC_MSG_LEDGER_OP)
        return ledger_main_decode(header, payload, msg);
    if (h.payload_len < wire_bytes)
        return UBC_WIRE_ERR_PAYLOAD_SIZE;
    UBC_ASSERT(payload != NULL);
    uint16_t bytes = wire_type_of(h.type).struct_bytes; /* fits: see the table */
    uint16_t flags = h.flags;
    if (h.type == UBC_MSG_ASSIGNMENT)
        flags = (h.flags & UBC_WIRE_FLAG_REVOKE) ? UBC_MSG_FLAG_REVOKE : 0;
    msg->hdr = (struct ubc_msg_hdr){
        .type = h.type,
        .flags = flags,
        .len = bytes,
        .src_role = UBC_ROLE_NET,
        .peer = UBC_PEER_NONE,
        .seq = h.sequence,
    };
    /* The reader asserts the room of its record, payload_len >= wire_bytes
     * (checked above); a newer minor version's extra bytes are not read. */
    return payload_read_check(cursor_read(payload, h.payload_len), msg, header_is_strict(&h));
}

enum ubc_wire_result
ubc_wire_payload_decode(const struct ubc_wire_header *header, const uint8_t *payload,
                        struct ubc_msg *msg)
{
    return wire_payload_decode(header, payload, msg);
}

enum ubc_wire_result
ubc_wire_decode(const uint8_t *buf, size_t len, const struct ubc_wire_policy *policy,
                struct ubc_wire_header *header, struct ubc_msg *msg)
{
    enum ubc_wire_result result = wire_header_decode(buf, len, policy, header);
    if (result != UBC_WIRE_OK)
        return result;
    return wire_payload_decode(header, buf + UBC_WIRE_HEADER_BYTES, msg);
}

static inline __attribute__((always_inline)) void
header_write(struct cursor *c, uint16_t type, uint64_t sequence,
             const struct ubc_wire_origin *origin, uint16_t flags, uint16_t payload_len)
{
    /* The same fields as five little-endian words composed in registers:
     * one bounds check and five stores instead of ten of each (every reply
     * is encoded here). Bytes 0-7: magic, versions, type; 8-15: flags,
     * payload length, reserved (0). */
    uint64_t first = (uint64_t)UBC_WIRE_MAGIC | (uint64_t)UBC_WIRE_VERSION_MAJOR << 32 |
                     (uint64_t)UBC_WIRE_VERSION_MINOR << 40 | (uint64_t)type << 48;
    uint64_t second = (uint64_t)flags | (uint64_t)payload_len << 16;
    const uint8_t *end = cursor_open(c, UBC_WIRE_HEADER_BYTES);
    /* The two composed words are stored apart (the empty asm keeps gcc
     * from pairing them): paired, they went through the stack into one
     * 16-byte store, and the 16-byte load of two 8-byte stores stalled on
     * store forwarding (most of encode's time, measured). */
    store_u64_raw(c->at, htole64(first));
    __asm__ volatile("" ::: "memory");
    store_u64_raw(c->at + 8, htole64(second));
    store_u64_raw(c->at + 16, htole64(origin->sender_id));
    store_u64_raw(c->at + 24, htole64(origin->session_id));
    store_u64_raw(c->at + 32, htole64(sequence));
    c->at += UBC_WIRE_HEADER_BYTES;
    cursor_close(c, end);
}

/* The one-message form of a LEDGER_OP datagram: msg's op as a group of
 * one. Out of line: its copy of the op is no cost of the other types. */
static __attribute__((noinline)) enum ubc_wire_result
ledger_main_encode(const struct ubc_msg *msg, const struct ubc_wire_origin *origin, uint8_t *out,
                   size_t out_cap, size_t *out_len)
{
    struct ubc_wire_ledger_op op;
    memcpy(&op, msg->u.bytes, sizeof(op));
    return ubc_wire_ledger_group_encode(&op, 1, msg->hdr.seq, origin, out, out_cap, out_len);
}

enum ubc_wire_result
ubc_wire_encode(const struct ubc_msg *msg, const struct ubc_wire_origin *origin, uint8_t *out,
                size_t out_cap, size_t *out_len)
{
    UBC_ASSERT(msg != NULL && origin != NULL && out_len != NULL);
    *out_len = 0;
    /* Read once: the stores into out might alias msg for the compiler. */
    const uint16_t type = msg->hdr.type;
    if (type == UBC_MSG_LEDGER_OP)
        return ledger_main_encode(msg, origin, out, out_cap, out_len);
    uint16_t payload_len = wire_payload_bytes(type);
    if (payload_len == 0)
        return type_is_consensus(type) ? UBC_WIRE_ERR_RESERVED_TYPE : UBC_WIRE_ERR_UNKNOWN_TYPE;
    uint16_t critical = origin->flags & UBC_WIRE_FLAGS_CRITICAL;
    if ((critical & ~UBC_WIRE_FLAGS_CRITICAL_KNOWN) != 0)
        return UBC_WIRE_ERR_BAD_FLAGS;
    size_t tag = (origin->flags & UBC_WIRE_FLAG_TAG) ? UBC_WIRE_TAG_BYTES : 0;
    size_t total = UBC_WIRE_HEADER_BYTES + payload_len + tag;
    if (out == NULL || out_cap < total) { /* an invalid payload is told first */
        enum ubc_wire_result result = payload_check_write(msg, type, NULL);
        return result != UBC_WIRE_OK ? result : UBC_WIRE_ERR_NO_ROOM;
    }
    /* The payload first: the writer asserts the room of its record and
     * writes exactly it, and only when the payload is valid. */
    const struct cursor payload = { .at = out + UBC_WIRE_HEADER_BYTES, .end = out + total };
    enum ubc_wire_result result = payload_check_write(msg, type, &payload);
    if (result != UBC_WIRE_OK)
        return result;
    /* REVOKE comes from the message, never from the origin. */
    uint16_t flags = origin->flags & (uint16_t)~UBC_WIRE_FLAG_REVOKE;
    if (type == UBC_MSG_ASSIGNMENT && (msg->hdr.flags & UBC_MSG_FLAG_REVOKE))
        flags |= UBC_WIRE_FLAG_REVOKE;
    struct cursor c = { .at = out, .end = out + total };
    header_write(&c, type, msg->hdr.seq, origin, flags, payload_len);
    if (tag > 0) /* room for the authentication layer to fill */
        memset(out + UBC_WIRE_HEADER_BYTES + payload_len, 0, tag);
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
    UBC_ASSERT(msg != NULL && wire_payload_bytes(type) == UBC_WIRE_REPLY_BYTES);
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
