/* ubc_wire.h: the UBC wire codec: one UDP datagram <-> one struct ubc_msg.
 *
 * Contract: pure functions over caller-owned byte buffers; no allocation, no
 * locks, no system calls, no global state, so any thread may call them
 * concurrently on distinct buffers (ubcd's net lcores, every tool, the fuzz
 * harnesses). Every multi-byte field is encoded explicitly in little endian,
 * field by field; no struct is ever copied onto the wire. The decoder never
 * reads outside [buf, buf + len) and never trusts a length it has not
 * checked against len; every rejection returns a precise enum ubc_wire_result
 * so the node can count drops by reason. docs/wire-protocol.md is the
 * normative description of the bytes; this header mirrors it.
 *
 * Datagram = header (40 bytes) | payload (payload_len bytes) | tag (16 bytes,
 * present iff UBC_WIRE_FLAG_TAG). The decoder checks the tag's room and
 * presence only; verifying it is the job of the authentication layer, which
 * runs between ubc_wire_header_decode() and ubc_wire_payload_decode().
 */
#ifndef UBC_WIRE_H
#define UBC_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ubc_msg.h"

#define UBC_WIRE_PORT_DEFAULT 7400u
#define UBC_WIRE_MAGIC 0x57434255u /* bytes 'U' 'B' 'C' 'W' in little endian */
#define UBC_WIRE_VERSION_MAJOR 1u
#define UBC_WIRE_VERSION_MINOR 0u
#define UBC_WIRE_HEADER_BYTES 40u
#define UBC_WIRE_TAG_BYTES 16u
/* 1500-byte Ethernet MTU minus IPv4 (20) and UDP (8) headers: never fragmented. */
#define UBC_WIRE_DATAGRAM_MAX 1472u
#define UBC_WIRE_PAYLOAD_MAX (UBC_WIRE_DATAGRAM_MAX - UBC_WIRE_HEADER_BYTES - UBC_WIRE_TAG_BYTES)

/* Flags. Bits 0..7 are critical: a receiver that does not know a set critical
 * bit must reject the datagram. Bits 8..15 are advisory: unknown ones are
 * ignored. */
#define UBC_WIRE_FLAG_TAG 0x0001u /* a 16-byte AEAD tag follows the payload */
/* ASSIGNMENT only: the task is withdrawn (preemption, failover); the
 * provider stops it. Critical, so a provider that predates it rejects the
 * datagram instead of starting the task. In-process: UBC_MSG_FLAG_REVOKE. */
#define UBC_WIRE_FLAG_REVOKE 0x0002u
#define UBC_WIRE_FLAG_RETRY 0x0100u /* a retransmission of an earlier sequence */
#define UBC_WIRE_FLAGS_CRITICAL 0x00ffu
#define UBC_WIRE_FLAGS_CRITICAL_KNOWN (UBC_WIRE_FLAG_TAG | UBC_WIRE_FLAG_REVOKE)
#define UBC_WIRE_FLAGS_ADVISORY_KNOWN UBC_WIRE_FLAG_RETRY

/* Payload sizes in version 1.0 (bytes on the wire). */
#define UBC_WIRE_JOB_SUBMIT_BYTES 92u
#define UBC_WIRE_JOB_REF_BYTES 40u
#define UBC_WIRE_PROVIDER_REGISTER_BYTES 86u
#define UBC_WIRE_HEARTBEAT_BYTES 16u
#define UBC_WIRE_DEREGISTER_BYTES 8u
#define UBC_WIRE_TASK_RESULT_BYTES 56u
#define UBC_WIRE_ASSIGNMENT_BYTES 44u
#define UBC_WIRE_REPLY_BYTES 16u /* ACK, REFUSAL, JOB_STATUS, LEDGER_RESULT */

/* LEDGER_OP: a client-signed ledger operation group, the main op then its
 * cosign_count COSIGN records, each UBC_WIRE_LEDGER_OP_BYTES. The format
 * allows 16 cosigns; a datagram holds at most UBC_WIRE_LEDGER_GROUP_FIT
 * records (the main op and 5 cosigns). */
#define UBC_WIRE_LEDGER_OP_BYTES 224u
#define UBC_WIRE_LEDGER_ARGS_BYTES 80u
#define UBC_WIRE_LEDGER_COSIGN_MAX 16u
#define UBC_WIRE_LEDGER_GROUP_MAX (1u + UBC_WIRE_LEDGER_COSIGN_MAX)
#define UBC_WIRE_LEDGER_GROUP_FIT (UBC_WIRE_PAYLOAD_MAX / UBC_WIRE_LEDGER_OP_BYTES)
#define UBC_WIRE_LEDGER_KIND_MAX 20u    /* enum ubc_ledger_op_kind: 1..20 */
#define UBC_WIRE_LEDGER_KIND_COSIGN 20u /* UBC_LEDGER_OP_COSIGN */

/* One ledger operation record: the layout, field for field and byte for
 * byte, of struct ubc_ledger_op (ledger/ubc_ledger.h; the node asserts they
 * match, this layer may not include the ledger). verify is never carried:
 * it must be 0 on the wire and the decoder leaves it 0 (the verify role
 * sets it), so a client cannot claim its op was checked. The integers in
 * args are those of the kind (docs/wire-protocol.md, LEDGER_OP); the other
 * bytes of args are copied as they are, since the signature covers them. */
struct ubc_wire_ledger_op {
    uint8_t kind;
    uint8_t flags;
    uint8_t cosign_count;
    uint8_t verify;
    uint32_t reserved;
    uint64_t nonce;
    uint8_t account[32];
    uint8_t signer[32];
    uint8_t signature[64];
    uint8_t args[UBC_WIRE_LEDGER_ARGS_BYTES];
};

#define UBC_WIRE_HEARTBEAT_FLAG_DRAIN 0x1u
#define UBC_WIRE_HEARTBEAT_FLAGS_KNOWN UBC_WIRE_HEARTBEAT_FLAG_DRAIN

/* Why a datagram was rejected (or why an encode failed). Stable numbers: a
 * malformed-message refusal carries one in its detail field. */
enum ubc_wire_result {
    UBC_WIRE_OK = 0,
    UBC_WIRE_ERR_SHORT_HEADER = 1,    /* fewer bytes than the 40-byte header */
    UBC_WIRE_ERR_BAD_MAGIC = 2,       /* not a UBC datagram */
    UBC_WIRE_ERR_BAD_VERSION = 3,     /* major version is not ours */
    UBC_WIRE_ERR_BAD_FLAGS = 4,       /* an unknown critical flag is set */
    UBC_WIRE_ERR_RESERVED = 5,        /* a reserved field or bit is non-zero */
    UBC_WIRE_ERR_TOO_LARGE = 6,       /* payload_len above UBC_WIRE_PAYLOAD_MAX */
    UBC_WIRE_ERR_TRUNCATED = 7,       /* fewer bytes than header + payload + tag */
    UBC_WIRE_ERR_LENGTH_MISMATCH = 8, /* more bytes than header + payload + tag */
    UBC_WIRE_ERR_TAG_REQUIRED = 9,    /* policy requires a tag, none present */
    UBC_WIRE_ERR_UNKNOWN_TYPE = 10,   /* not a type that travels on the wire */
    UBC_WIRE_ERR_RESERVED_TYPE = 11,  /* consensus range: not decoded by this codec */
    UBC_WIRE_ERR_PAYLOAD_SIZE = 12,   /* payload_len wrong for the type */
    UBC_WIRE_ERR_FIELD_RANGE = 13,    /* a field value out of its range */
    UBC_WIRE_ERR_NO_ROOM = 14,        /* encode: the output buffer is too small */
    UBC_WIRE_RESULT_COUNT
};

/* The decoded header. sender_id and session_id have no place in struct
 * ubc_msg_hdr, so the caller keeps them (the net role maps them to a peer).
 * Field order matters for speed: type and flags are not adjacent, so the
 * compiler cannot merge their two loads into one that spans two narrow
 * stores (a store-forwarding stall that cost a quarter of decode time). */
struct ubc_wire_header {
    uint64_t sender_id;
    uint64_t session_id;
    uint64_t sequence;
    uint16_t type; /* enum ubc_msg_type */
    uint16_t payload_len;
    uint16_t flags;
    uint16_t datagram_len; /* header + payload + tag: the bytes the datagram held */
    uint8_t version_major;
    uint8_t version_minor;
};

/* What a receiver demands beyond well-formedness. */
struct ubc_wire_policy {
    bool require_tag; /* reject datagrams without UBC_WIRE_FLAG_TAG */
};

/* Who sends an encoded datagram, and how. flags may hold UBC_WIRE_FLAG_TAG
 * (the encoder writes 16 zero bytes of room for the tag) and advisory flags. */
struct ubc_wire_origin {
    uint64_t sender_id;
    uint64_t session_id;
    uint16_t flags;
};

/* Payload bytes of a wire type in this version, or 0 when the type does not
 * travel on the wire (or is the reserved consensus range). */
uint16_t ubc_wire_payload_bytes(uint16_t type);

/* Checks the header and every length against len. On UBC_WIRE_OK, *header
 * is filled, the payload is at buf + UBC_WIRE_HEADER_BYTES and the tag (if
 * any) at buf + UBC_WIRE_HEADER_BYTES + payload_len. On a failure after the
 * magic matched, *header holds what was read (for a refusal's sequence). */
enum ubc_wire_result ubc_wire_header_decode(const uint8_t *buf, size_t len,
                                            const struct ubc_wire_policy *policy,
                                            struct ubc_wire_header *header);

/* Decodes the payload of a datagram whose header passed; payload holds
 * header->payload_len bytes. Writes msg->hdr (type, flags, len, seq; peer
 * fields set to none, tsc 0) and the payload struct. */
enum ubc_wire_result ubc_wire_payload_decode(const struct ubc_wire_header *header,
                                             const uint8_t *payload, struct ubc_msg *msg);

/* Both steps. */
enum ubc_wire_result ubc_wire_decode(const uint8_t *buf, size_t len,
                                     const struct ubc_wire_policy *policy,
                                     struct ubc_wire_header *header, struct ubc_msg *msg);

/* Encodes msg (its hdr.type and hdr.seq, and the payload struct of that type)
 * into out. Validates the fields as the decoder would, so ubcd and the tools
 * never emit what a peer must reject. On UBC_WIRE_OK, *out_len is the
 * datagram length. */
enum ubc_wire_result ubc_wire_encode(const struct ubc_msg *msg,
                                     const struct ubc_wire_origin *origin, uint8_t *out,
                                     size_t out_cap, size_t *out_len);

/* The refusal code to send for a decode failure: UBC_ERR_VERSION,
 * UBC_ERR_UNKNOWN_TYPE, UBC_ERR_AUTH or UBC_ERR_MALFORMED. */
enum ubc_err ubc_wire_result_to_err(enum ubc_wire_result result);

/* Whether a datagram that failed with result deserves a refusal: only when
 * its magic matched (it is a UBC sender, not noise) and it is not itself a
 * node -> peer message (replies are never answered, so two nodes cannot
 * bounce refusals forever). header is what ubc_wire_header_decode left. */
bool ubc_wire_should_refuse(enum ubc_wire_result result, const struct ubc_wire_header *header);

/* Whether type is a node -> client/provider message (ack, refusal, status,
 * assignment, ledger result). */
bool ubc_wire_type_is_reply(uint16_t type);

/* LEDGER_OP groups. The one-message API above handles a LEDGER_OP datagram
 * too: decode checks the whole group and yields its main op in msg->u.bytes
 * (hdr.len 224); encode sends msg->u.bytes as a group of one. */

/* Decodes the group of a LEDGER_OP datagram whose header passed: writes
 * *count (1..UBC_WIRE_LEDGER_GROUP_FIT) records into ops (cap of at least
 * UBC_WIRE_LEDGER_GROUP_FIT). Rules: the payload is a whole number of
 * records; ops[0] is not a COSIGN and announces count - 1 cosigns; the
 * others are COSIGNs with no cosigns; kinds in 1..20; verify and reserved
 * are zero (reserved-nonzero). */
enum ubc_wire_result ubc_wire_ledger_group_decode(const struct ubc_wire_header *header,
                                                  const uint8_t *payload,
                                                  struct ubc_wire_ledger_op *ops, uint32_t cap,
                                                  uint32_t *count);

/* Encodes ops[0..count) as one LEDGER_OP datagram with that sequence,
 * checked by the decoder's rules (verify is written as 0 whatever it holds). */
enum ubc_wire_result ubc_wire_ledger_group_encode(const struct ubc_wire_ledger_op *ops,
                                                  uint32_t count, uint64_t sequence,
                                                  const struct ubc_wire_origin *origin,
                                                  uint8_t *out, size_t out_cap, size_t *out_len);

/* Short stable name of a result, for counters and logs ("truncated"...). */
const char *ubc_wire_result_name(enum ubc_wire_result result);

/* Fills msg as a reply (ACK, REFUSAL or JOB_STATUS) to a request sequence. */
void ubc_wire_reply_init(struct ubc_msg *msg, uint16_t type, uint64_t sequence, uint64_t id,
                         enum ubc_err error, uint16_t state, uint32_t detail);

/* Fills msg as the refusal of a datagram that failed to decode with result
 * (call only when ubc_wire_should_refuse() said so): code from
 * ubc_wire_result_to_err(), detail = result, id 0, the request's sequence. */
void ubc_wire_refusal_init(struct ubc_msg *msg, enum ubc_wire_result result,
                           const struct ubc_wire_header *header);

#endif /* UBC_WIRE_H */
