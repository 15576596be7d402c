/* test_wire.c: the wire codec: round trips of every type, golden bytes,
 * every decode result, truncation at every length, versioning rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dataplane/wire/ubc_wire.h"
#include "dataplane/wire/ubc_bad.h"
#include "tests/dataplane/wire_samples.h"

static const struct ubc_wire_policy policy_open = { .require_tag = false };
static const struct ubc_wire_origin origin_plain = { .sender_id = 0x1111222233334444ull,
                                                     .session_id = 0x5555666677778888ull };

static size_t
encode_sample(uint16_t type, uint8_t *out, size_t cap, uint16_t flags)
{
    struct ubc_msg msg;
    ubc_wire_sample(&msg, type, 1);
    struct ubc_wire_origin origin = origin_plain;
    origin.flags = flags;
    size_t len = 0;
    assert_int_equal(ubc_wire_encode(&msg, &origin, out, cap, &len), UBC_WIRE_OK);
    return len;
}

static void
test_round_trip_every_type(void **state)
{
    (void)state;
    for (size_t i = 0; i < UBC_ARRAY_SIZE(ubc_wire_sample_types); i++) {
        uint16_t type = ubc_wire_sample_types[i];
        for (uint16_t flags = 0; flags <= UBC_WIRE_FLAG_TAG; flags++) {
            struct ubc_msg in, out;
            ubc_wire_sample(&in, type, i);
            uint8_t buf[UBC_WIRE_DATAGRAM_MAX];
            size_t len = 0;
            struct ubc_wire_origin origin = origin_plain;
            origin.flags = flags;
            assert_int_equal(ubc_wire_encode(&in, &origin, buf, sizeof(buf), &len), UBC_WIRE_OK);
            size_t tag = flags ? UBC_WIRE_TAG_BYTES : 0;
            assert_int_equal(len, UBC_WIRE_HEADER_BYTES + ubc_wire_payload_bytes(type) + tag);
            memset(&out, 0x5a, sizeof(out));
            struct ubc_wire_header header;
            assert_int_equal(ubc_wire_decode(buf, len, &policy_open, &header, &out), UBC_WIRE_OK);
            assert_int_equal(header.type, type);
            assert_int_equal(header.flags, flags);
            assert_int_equal(header.datagram_len, len);
            assert_true(header.sender_id == origin_plain.sender_id);
            assert_true(header.session_id == origin_plain.session_id);
            assert_true(header.sequence == in.hdr.seq);
            assert_true(out.hdr.seq == in.hdr.seq);
            assert_int_equal(out.hdr.type, type);
            assert_int_equal(out.hdr.peer, UBC_PEER_NONE);
            assert_memory_equal(out.u.bytes, in.u.bytes, out.hdr.len);
        }
    }
}

/* The explicit layout: a heartbeat byte for byte (docs/wire-protocol.md). */
static void
test_golden_heartbeat(void **state)
{
    (void)state;
    struct ubc_msg msg;
    memset(&msg, 0, sizeof(msg));
    msg.hdr.type = UBC_MSG_PROVIDER_HEARTBEAT;
    msg.hdr.seq = 0x0807060504030201ull;
    msg.u.heartbeat = (struct ubc_provider_heartbeat){ .provider_id = 0x1122334455667788ull,
                                                       .running_tasks = 0x0a0b0c0d,
                                                       .flags = 1 };
    struct ubc_wire_origin origin = { .sender_id = 0x99, .session_id = 0x0100, .flags = 0x0100 };
    uint8_t buf[64];
    size_t len = 0;
    assert_int_equal(ubc_wire_encode(&msg, &origin, buf, sizeof(buf), &len), UBC_WIRE_OK);
    static const uint8_t expected[56] = {
        'U',  'B',  'C',  'W',  1,    0,    17,   0,    0x00, 0x01, 16,   0,    0,    0,
        0,    0,    0x99, 0,    0,    0,    0,    0,    0,    0,    0x00, 0x01, 0,    0,
        0,    0,    0,    0,    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x88, 0x77,
        0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0x0d, 0x0c, 0x0b, 0x0a, 1,    0,    0,    0,
    };
    assert_int_equal(len, sizeof(expected));
    assert_memory_equal(buf, expected, sizeof(expected));
}

static enum ubc_wire_result
decode(const uint8_t *buf, size_t len)
{
    struct ubc_wire_header header;
    struct ubc_msg msg;
    return ubc_wire_decode(buf, len, &policy_open, &header, &msg);
}

static void
test_header_errors(void **state)
{
    (void)state;
    uint8_t buf[UBC_WIRE_DATAGRAM_MAX + 64];
    size_t len = encode_sample(UBC_MSG_JOB_QUERY, buf, sizeof(buf), 0);
    assert_int_equal(decode(buf, len), UBC_WIRE_OK);
    assert_int_equal(decode(NULL, 0), UBC_WIRE_ERR_SHORT_HEADER);
    assert_int_equal(decode(buf, UBC_WIRE_HEADER_BYTES - 1), UBC_WIRE_ERR_SHORT_HEADER);
    buf[3] ^= 1;
    assert_int_equal(decode(buf, len), UBC_WIRE_ERR_BAD_MAGIC);
    buf[3] ^= 1;
    buf[4] = 2;
    assert_int_equal(decode(buf, len), UBC_WIRE_ERR_BAD_VERSION);
    buf[4] = 0;
    assert_int_equal(decode(buf, len), UBC_WIRE_ERR_BAD_VERSION);
    buf[4] = 1;
    buf[8] = 0x02; /* unknown critical flag */
    assert_int_equal(decode(buf, len), UBC_WIRE_ERR_BAD_FLAGS);
    buf[8] = 0;
    buf[9] = 0x80; /* unknown advisory flag: ignored */
    assert_int_equal(decode(buf, len), UBC_WIRE_OK);
    buf[9] = 0;
    buf[13] = 1;
    assert_int_equal(decode(buf, len), UBC_WIRE_ERR_RESERVED);
    buf[13] = 0;
    buf[10] = 0xff, buf[11] = 0xff;
    assert_int_equal(decode(buf, len), UBC_WIRE_ERR_TOO_LARGE);
    buf[10] = UBC_WIRE_JOB_REF_BYTES, buf[11] = 0;
    assert_int_equal(decode(buf, len - 1), UBC_WIRE_ERR_TRUNCATED);
    assert_int_equal(decode(buf, len + 1), UBC_WIRE_ERR_LENGTH_MISMATCH);
    buf[8] = UBC_WIRE_FLAG_TAG; /* claims a tag the datagram does not hold */
    assert_int_equal(decode(buf, len), UBC_WIRE_ERR_TRUNCATED);
    buf[8] = 0;
    buf[10] = UBC_WIRE_JOB_REF_BYTES - 1;
    assert_int_equal(decode(buf, len - 1), UBC_WIRE_ERR_PAYLOAD_SIZE);
    buf[10] = UBC_WIRE_JOB_REF_BYTES;
    assert_int_equal(decode(buf, len), UBC_WIRE_OK);
}

static void
test_type_errors(void **state)
{
    (void)state;
    uint8_t buf[UBC_WIRE_DATAGRAM_MAX];
    size_t len = encode_sample(UBC_MSG_ACK, buf, sizeof(buf), 0);
    const uint16_t unknown[] = {
        0, 4, 15, 20, 31, 36, 50, UBC_MSG_JOURNAL_APPEND, UBC_MSG_CONTROL, 127, 0xffff
    };
    for (size_t i = 0; i < UBC_ARRAY_SIZE(unknown); i++) {
        buf[6] = (uint8_t)unknown[i], buf[7] = (uint8_t)(unknown[i] >> 8);
        assert_int_equal(decode(buf, len), UBC_WIRE_ERR_UNKNOWN_TYPE);
    }
    for (uint16_t type = UBC_MSG_CONSENSUS_FIRST; type <= UBC_MSG_CONSENSUS_LAST; type++) {
        buf[6] = (uint8_t)type, buf[7] = 0;
        struct ubc_wire_header header;
        assert_int_equal(ubc_wire_header_decode(buf, len, &policy_open, &header), UBC_WIRE_OK);
        assert_int_equal(decode(buf, len), UBC_WIRE_ERR_RESERVED_TYPE);
    }
    struct ubc_msg msg;
    ubc_wire_sample(&msg, UBC_MSG_ACK, 0);
    msg.hdr.type = UBC_MSG_CONSENSUS_FIRST;
    size_t out_len;
    assert_int_equal(ubc_wire_encode(&msg, &origin_plain, buf, sizeof(buf), &out_len),
                     UBC_WIRE_ERR_RESERVED_TYPE);
    msg.hdr.type = UBC_MSG_JOURNAL_APPEND;
    assert_int_equal(ubc_wire_encode(&msg, &origin_plain, buf, sizeof(buf), &out_len),
                     UBC_WIRE_ERR_UNKNOWN_TYPE);
}

static void
test_tag_policy(void **state)
{
    (void)state;
    const struct ubc_wire_policy policy_tag = { .require_tag = true };
    uint8_t buf[UBC_WIRE_DATAGRAM_MAX];
    struct ubc_wire_header header;
    struct ubc_msg msg;
    size_t len = encode_sample(UBC_MSG_JOB_SUBMIT, buf, sizeof(buf), 0);
    assert_int_equal(ubc_wire_decode(buf, len, &policy_tag, &header, &msg),
                     UBC_WIRE_ERR_TAG_REQUIRED);
    assert_int_equal(ubc_wire_result_to_err(UBC_WIRE_ERR_TAG_REQUIRED), UBC_ERR_AUTH);
    len = encode_sample(UBC_MSG_JOB_SUBMIT, buf, sizeof(buf), UBC_WIRE_FLAG_TAG);
    assert_int_equal(ubc_wire_decode(buf, len, &policy_tag, &header, &msg), UBC_WIRE_OK);
    for (size_t i = len - UBC_WIRE_TAG_BYTES; i < len; i++)
        assert_int_equal(buf[i], 0);
}

/* A field patched on the wire to an out-of-range value. */
struct field_patch {
    uint16_t type;
    uint16_t offset; /* within the payload */
    uint8_t width;   /* bytes, little endian */
    uint64_t value;
    enum ubc_wire_result expected;
};

static const struct field_patch field_patches[] = {
    { UBC_MSG_JOB_SUBMIT, 0, 8, 0, UBC_WIRE_ERR_FIELD_RANGE },  /* job_id 0 */
    { UBC_MSG_JOB_SUBMIT, 52, 2, 0, UBC_WIRE_ERR_FIELD_RANGE }, /* task_count 0 */
    { UBC_MSG_JOB_SUBMIT, 54, 1, UBC_QOS_CLASSES, UBC_WIRE_ERR_FIELD_RANGE },
    { UBC_MSG_JOB_SUBMIT, 55, 1, 0, UBC_WIRE_ERR_FIELD_RANGE }, /* redundancy 0 */
    { UBC_MSG_JOB_SUBMIT, 57, 1, 5, UBC_WIRE_ERR_FIELD_RANGE }, /* policy */
    { UBC_MSG_JOB_CANCEL, 0, 8, 0, UBC_WIRE_ERR_FIELD_RANGE },
    { UBC_MSG_JOB_QUERY, 0, 8, 0, UBC_WIRE_ERR_FIELD_RANGE },
    { UBC_MSG_PROVIDER_REGISTER, 0, 8, 0, UBC_WIRE_ERR_FIELD_RANGE },
    { UBC_MSG_PROVIDER_HEARTBEAT, 0, 8, 0, UBC_WIRE_ERR_FIELD_RANGE },
    { UBC_MSG_PROVIDER_HEARTBEAT, 12, 4, 2, UBC_WIRE_ERR_RESERVED }, /* unknown flag bit */
    { UBC_MSG_PROVIDER_DEREGISTER, 0, 8, 0, UBC_WIRE_ERR_FIELD_RANGE },
    { UBC_MSG_TASK_RESULT, 0, 8, 0, UBC_WIRE_ERR_FIELD_RANGE },
    { UBC_MSG_TASK_RESULT, 8, 8, 0, UBC_WIRE_ERR_FIELD_RANGE },
    { UBC_MSG_TASK_RESULT, 19, 1, 2, UBC_WIRE_ERR_FIELD_RANGE }, /* status */
    { UBC_MSG_ASSIGNMENT, 0, 8, 0, UBC_WIRE_ERR_FIELD_RANGE },
    { UBC_MSG_ASSIGNMENT, 8, 8, 0, UBC_WIRE_ERR_FIELD_RANGE },
    { UBC_MSG_ASSIGNMENT, 19, 1, UBC_QOS_CLASSES, UBC_WIRE_ERR_FIELD_RANGE },
    { UBC_MSG_ACK, 8, 2, UBC_ERR_FUNDS, UBC_WIRE_ERR_FIELD_RANGE },     /* an ack with an error */
    { UBC_MSG_REFUSAL, 8, 2, UBC_OK, UBC_WIRE_ERR_FIELD_RANGE },        /* a refusal without */
    { UBC_MSG_REFUSAL, 8, 2, UBC_ERR_COUNT, UBC_WIRE_ERR_FIELD_RANGE }, /* unknown code */
    { UBC_MSG_JOB_STATUS, 8, 2, 0xffff, UBC_WIRE_ERR_FIELD_RANGE },
};

static void
test_field_range(void **state)
{
    (void)state;
    for (size_t i = 0; i < UBC_ARRAY_SIZE(field_patches); i++) {
        const struct field_patch *p = &field_patches[i];
        uint8_t buf[UBC_WIRE_DATAGRAM_MAX];
        size_t len = encode_sample(p->type, buf, sizeof(buf), 0);
        assert_true(p->offset + p->width <= ubc_wire_payload_bytes(p->type));
        for (uint8_t b = 0; b < p->width; b++)
            buf[UBC_WIRE_HEADER_BYTES + p->offset + b] = (uint8_t)(p->value >> (8 * b));
        struct ubc_wire_header header;
        struct ubc_msg msg;
        assert_int_equal(ubc_wire_decode(buf, len, &policy_open, &header, &msg), p->expected);
        /* The encoder refuses to produce the same message. */
        assert_int_equal(ubc_wire_header_decode(buf, len, &policy_open, &header), UBC_WIRE_OK);
        msg.hdr.type = p->type;
        size_t out_len = 1;
        enum ubc_wire_result encoded =
            ubc_wire_encode(&msg, &origin_plain, buf, sizeof(buf), &out_len);
        assert_int_equal(encoded, p->expected);
        assert_int_equal(out_len, 0);
        /* Without room too, the payload's fault is the one told; and a
         * refused message leaves no byte in out. */
        uint8_t small[UBC_WIRE_HEADER_BYTES], before[sizeof(small)];
        memset(small, 0x5c, sizeof(small));
        memcpy(before, small, sizeof(small));
        assert_int_equal(ubc_wire_encode(&msg, &origin_plain, small, sizeof(small), &out_len),
                         p->expected);
        assert_int_equal(ubc_wire_encode(&msg, &origin_plain, NULL, 0, &out_len), p->expected);
        assert_int_equal(ubc_wire_encode(&msg, &origin_plain, buf, sizeof(buf), &out_len),
                         p->expected);
        assert_memory_equal(small, before, sizeof(small));
    }
}

static void
test_encode_no_room(void **state)
{
    (void)state;
    struct ubc_msg msg;
    ubc_wire_sample(&msg, UBC_MSG_JOB_SUBMIT, 0);
    uint8_t buf[UBC_WIRE_HEADER_BYTES + UBC_WIRE_JOB_SUBMIT_BYTES + UBC_WIRE_TAG_BYTES];
    size_t len;
    struct ubc_wire_origin origin = origin_plain;
    origin.flags = UBC_WIRE_FLAG_TAG;
    assert_int_equal(ubc_wire_encode(&msg, &origin, buf, sizeof(buf) - 1, &len),
                     UBC_WIRE_ERR_NO_ROOM);
    assert_int_equal(ubc_wire_encode(&msg, &origin, buf, sizeof(buf), &len), UBC_WIRE_OK);
    assert_int_equal(len, sizeof(buf));
    origin.flags = 0x0004; /* an unknown critical flag */
    assert_int_equal(ubc_wire_encode(&msg, &origin, buf, sizeof(buf), &len),
                     UBC_WIRE_ERR_BAD_FLAGS);
}

/* Every prefix of every valid datagram is rejected without reading past it. */
static void
test_every_truncation(void **state)
{
    (void)state;
    for (size_t i = 0; i < UBC_ARRAY_SIZE(ubc_wire_sample_types); i++) {
        uint8_t full[UBC_WIRE_DATAGRAM_MAX];
        size_t len = encode_sample(ubc_wire_sample_types[i], full, sizeof(full), (uint16_t)(i & 1));
        for (size_t cut = 0; cut < len; cut++) {
            uint8_t exact[UBC_WIRE_DATAGRAM_MAX]; /* only cut bytes are defined */
            memcpy(exact, full, cut);
            enum ubc_wire_result r = decode(cut ? exact : NULL, cut);
            assert_true(r == (cut < UBC_WIRE_HEADER_BYTES ? UBC_WIRE_ERR_SHORT_HEADER
                                                          : UBC_WIRE_ERR_TRUNCATED));
        }
    }
}

/* A newer minor version may append payload bytes and use reserved fields. */
static void
test_newer_minor_version(void **state)
{
    (void)state;
    struct ubc_msg in, out;
    ubc_wire_sample(&in, UBC_MSG_PROVIDER_HEARTBEAT, 3);
    uint8_t buf[UBC_WIRE_DATAGRAM_MAX];
    size_t len = 0;
    assert_int_equal(ubc_wire_encode(&in, &origin_plain, buf, sizeof(buf), &len), UBC_WIRE_OK);
    for (size_t i = 0; i < 8; i++)
        buf[len + i] = 0xee; /* an extension field of version 1.1 */
    len += 8;
    buf[10] = UBC_WIRE_HEARTBEAT_BYTES + 8;
    buf[5] = UBC_WIRE_VERSION_MINOR + 1;
    buf[12] = 0x33;                          /* reserved header field used by 1.1 */
    buf[UBC_WIRE_HEADER_BYTES + 13] |= 0x80; /* heartbeat flag bit unknown to 1.0 */
    struct ubc_wire_header header;
    assert_int_equal(ubc_wire_decode(buf, len, &policy_open, &header, &out), UBC_WIRE_OK);
    assert_int_equal(header.version_minor, UBC_WIRE_VERSION_MINOR + 1);
    assert_true(out.u.heartbeat.provider_id == in.u.heartbeat.provider_id);
    assert_int_equal(out.u.heartbeat.flags, UBC_WIRE_HEARTBEAT_FLAG_DRAIN);
    buf[5] = UBC_WIRE_VERSION_MINOR; /* the same bytes claimed as 1.0 are rejected */
    assert_int_equal(ubc_wire_decode(buf, len, &policy_open, &header, &out), UBC_WIRE_ERR_RESERVED);
    buf[12] = 0;
    assert_int_equal(ubc_wire_decode(buf, len, &policy_open, &header, &out),
                     UBC_WIRE_ERR_PAYLOAD_SIZE);
}

static void
test_refusal_rules(void **state)
{
    (void)state;
    struct ubc_wire_header header = { .type = UBC_MSG_JOB_SUBMIT };
    assert_false(ubc_wire_should_refuse(UBC_WIRE_OK, &header));
    assert_false(ubc_wire_should_refuse(UBC_WIRE_ERR_SHORT_HEADER, &header));
    assert_false(ubc_wire_should_refuse(UBC_WIRE_ERR_BAD_MAGIC, &header));
    assert_true(ubc_wire_should_refuse(UBC_WIRE_ERR_FIELD_RANGE, &header));
    assert_true(ubc_wire_should_refuse(UBC_WIRE_ERR_BAD_VERSION, &header));
    header.type = UBC_MSG_REFUSAL; /* never answer a reply: no refusal ping-pong */
    assert_false(ubc_wire_should_refuse(UBC_WIRE_ERR_FIELD_RANGE, &header));
    header.type = UBC_MSG_ASSIGNMENT;
    assert_false(ubc_wire_should_refuse(UBC_WIRE_ERR_TRUNCATED, &header));
    assert_int_equal(ubc_wire_result_to_err(UBC_WIRE_ERR_BAD_VERSION), UBC_ERR_VERSION);
    assert_int_equal(ubc_wire_result_to_err(UBC_WIRE_ERR_UNKNOWN_TYPE), UBC_ERR_UNKNOWN_TYPE);
    assert_int_equal(ubc_wire_result_to_err(UBC_WIRE_ERR_TRUNCATED), UBC_ERR_MALFORMED);
    for (int r = 0; r < UBC_WIRE_RESULT_COUNT; r++) {
        const char *name = ubc_wire_result_name((enum ubc_wire_result)r);
        assert_non_null(name);
        for (int other = 0; other < r; other++)
            assert_string_not_equal(name, ubc_wire_result_name((enum ubc_wire_result)other));
    }
    assert_string_equal(ubc_wire_result_name(UBC_WIRE_RESULT_COUNT), "unknown-result");
}

/* A refusal built for a bad request decodes at the sender with the reason. */
static void
test_refusal_round_trip(void **state)
{
    (void)state;
    uint8_t buf[UBC_WIRE_DATAGRAM_MAX];
    size_t len = encode_sample(UBC_MSG_JOB_SUBMIT, buf, sizeof(buf), 0);
    buf[4] = 9; /* major version 9 */
    struct ubc_wire_header header;
    struct ubc_msg msg;
    enum ubc_wire_result result = ubc_wire_decode(buf, len, &policy_open, &header, &msg);
    assert_int_equal(result, UBC_WIRE_ERR_BAD_VERSION);
    assert_true(ubc_wire_should_refuse(result, &header));
    struct ubc_msg refusal;
    ubc_wire_refusal_init(&refusal, result, &header);
    assert_int_equal(ubc_wire_encode(&refusal, &origin_plain, buf, sizeof(buf), &len), UBC_WIRE_OK);
    assert_int_equal(ubc_wire_decode(buf, len, &policy_open, &header, &msg), UBC_WIRE_OK);
    assert_int_equal(msg.hdr.type, UBC_MSG_REFUSAL);
    assert_true(msg.hdr.seq == 0x0badc0ffee000001ull); /* the sample's sequence, echoed */
    assert_int_equal(msg.u.reply.error, UBC_ERR_VERSION);
    assert_int_equal(msg.u.reply.detail, UBC_WIRE_ERR_BAD_VERSION);
}

/* The shared generator of bad datagrams yields each reason exactly, and a
 * node answers exactly the ones it should. */
static void
test_bad_datagram_generator(void **state)
{
    (void)state;
    const struct ubc_wire_policy policy_tag = { .require_tag = true };
    for (int r = 1; r < UBC_WIRE_RESULT_COUNT; r++) {
        uint8_t buf[UBC_WIRE_DATAGRAM_MAX + 1];
        size_t len = ubc_bad_datagram((enum ubc_wire_result)r, buf, UBC_WIRE_DATAGRAM_MAX);
        if (r == UBC_WIRE_ERR_NO_ROOM) {
            assert_int_equal(len, 0);
            continue;
        }
        assert_int_not_equal(len, 0);
        struct ubc_wire_header header;
        struct ubc_msg msg;
        enum ubc_wire_result got = ubc_wire_decode(
            buf, len, r == UBC_WIRE_ERR_TAG_REQUIRED ? &policy_tag : &policy_open, &header, &msg);
        if (got != (enum ubc_wire_result)r)
            fail_msg("bad datagram for %s decoded as %s",
                     ubc_wire_result_name((enum ubc_wire_result)r), ubc_wire_result_name(got));
        bool noise = r == UBC_WIRE_ERR_SHORT_HEADER || r == UBC_WIRE_ERR_BAD_MAGIC;
        assert_int_equal(ubc_wire_should_refuse(got, &header), !noise);
    }
}

/* A group of a main op and five cosigns (the most a datagram holds) goes
 * through whole, field for field; the bytes sit where the document says. */
static void
test_ledger_group_round_trip(void **state)
{
    (void)state;
    struct ubc_wire_ledger_op in[UBC_WIRE_LEDGER_GROUP_FIT], out[UBC_WIRE_LEDGER_GROUP_FIT];
    assert_int_equal(UBC_WIRE_LEDGER_GROUP_FIT, 6);
    ubc_wire_sample_ledger_op(&in[0], 1);
    in[0].cosign_count = UBC_WIRE_LEDGER_GROUP_FIT - 1;
    in[0].verify = 1; /* in-process only: never on the wire */
    for (uint32_t i = 1; i < UBC_WIRE_LEDGER_GROUP_FIT; i++)
        ubc_wire_sample_cosign(&in[i], i);
    uint8_t buf[UBC_WIRE_DATAGRAM_MAX];
    size_t len = 0;
    assert_int_equal(ubc_wire_ledger_group_encode(in, UBC_WIRE_LEDGER_GROUP_FIT, 77, &origin_plain,
                                                  buf, sizeof(buf), &len),
                     UBC_WIRE_OK);
    assert_int_equal(len, UBC_WIRE_HEADER_BYTES + 6 * UBC_WIRE_LEDGER_OP_BYTES);
    const uint8_t *op = buf + UBC_WIRE_HEADER_BYTES;
    assert_int_equal(op[0], 2);
    assert_int_equal(op[2], 5);
    assert_int_equal(op[3], 0);
    assert_int_equal(op[8], 0x09); /* nonce, little endian */
    assert_int_equal(op[15], 0x01);
    assert_int_equal(op[144 + 32], 0x89); /* args: TRANSFER amount after the target */
    assert_int_equal(op[144 + 39], 0x11);
    struct ubc_wire_header header;
    assert_int_equal(ubc_wire_header_decode(buf, len, &policy_open, &header), UBC_WIRE_OK);
    uint32_t count = 0;
    assert_int_equal(ubc_wire_ledger_group_decode(&header, buf + UBC_WIRE_HEADER_BYTES, out,
                                                  UBC_WIRE_LEDGER_GROUP_FIT, &count),
                     UBC_WIRE_OK);
    assert_int_equal(count, 6);
    in[0].verify = 0;
    assert_memory_equal(in, out, sizeof(in));
    struct ubc_msg msg;
    assert_int_equal(ubc_wire_decode(buf, len, &policy_open, &header, &msg), UBC_WIRE_OK);
    assert_int_equal(msg.hdr.len, UBC_WIRE_LEDGER_OP_BYTES);
    assert_memory_equal(msg.u.bytes, &in[0], UBC_WIRE_LEDGER_OP_BYTES);
}

static enum ubc_wire_result
ledger_decode_raw(uint8_t *buf, size_t records)
{
    size_t len = UBC_WIRE_HEADER_BYTES + records * UBC_WIRE_LEDGER_OP_BYTES;
    uint16_t payload = (uint16_t)(records * UBC_WIRE_LEDGER_OP_BYTES);
    buf[10] = (uint8_t)payload, buf[11] = (uint8_t)(payload >> 8);
    struct ubc_wire_header header;
    struct ubc_msg msg;
    return ubc_wire_decode(buf, len, &policy_open, &header, &msg);
}

/* Every group rule, decoded and encoded. */
static void
test_ledger_group_rules(void **state)
{
    (void)state;
    struct ubc_wire_ledger_op ops[UBC_WIRE_LEDGER_GROUP_MAX];
    ubc_wire_sample_ledger_op(&ops[0], 2);
    ops[0].cosign_count = 1;
    ubc_wire_sample_cosign(&ops[1], 1);
    uint8_t buf[UBC_WIRE_DATAGRAM_MAX + UBC_WIRE_LEDGER_OP_BYTES];
    size_t len = 0;
    assert_int_equal(ubc_wire_ledger_group_encode(ops, 2, 1, &origin_plain, buf, sizeof(buf), &len),
                     UBC_WIRE_OK);
    uint8_t *second = buf + UBC_WIRE_HEADER_BYTES + UBC_WIRE_LEDGER_OP_BYTES;
    assert_int_equal(ledger_decode_raw(buf, 2), UBC_WIRE_OK);
    assert_int_equal(ledger_decode_raw(buf, 1), UBC_WIRE_ERR_FIELD_RANGE); /* a cosign missing */
    buf[UBC_WIRE_HEADER_BYTES + 3] = 1;                                    /* verify mark sent */
    assert_int_equal(ledger_decode_raw(buf, 2), UBC_WIRE_ERR_RESERVED);
    buf[UBC_WIRE_HEADER_BYTES + 3] = 0;
    second[4] = 1; /* reserved */
    assert_int_equal(ledger_decode_raw(buf, 2), UBC_WIRE_ERR_RESERVED);
    second[4] = 0;
    second[0] = 2; /* a second main op where a cosign belongs */
    assert_int_equal(ledger_decode_raw(buf, 2), UBC_WIRE_ERR_FIELD_RANGE);
    second[0] = UBC_WIRE_LEDGER_KIND_COSIGN;
    buf[UBC_WIRE_HEADER_BYTES] = UBC_WIRE_LEDGER_KIND_COSIGN; /* a stray cosign first */
    assert_int_equal(ledger_decode_raw(buf, 2), UBC_WIRE_ERR_FIELD_RANGE);
    buf[UBC_WIRE_HEADER_BYTES] = 0; /* no kind */
    assert_int_equal(ledger_decode_raw(buf, 2), UBC_WIRE_ERR_FIELD_RANGE);
    buf[UBC_WIRE_HEADER_BYTES] = 2;
    buf[10] = 100, buf[11] = 0; /* not a whole record */
    struct ubc_wire_header header;
    assert_int_equal(
        ubc_wire_header_decode(buf, UBC_WIRE_HEADER_BYTES + 100, &policy_open, &header),
        UBC_WIRE_ERR_PAYLOAD_SIZE);
    /* Seven records do not fit a datagram: the encoder says so. */
    ops[0].cosign_count = 6;
    for (uint32_t i = 1; i < 7; i++)
        ubc_wire_sample_cosign(&ops[i], i);
    assert_int_equal(ubc_wire_ledger_group_encode(ops, 7, 1, &origin_plain, buf, sizeof(buf), &len),
                     UBC_WIRE_ERR_PAYLOAD_SIZE);
    ops[0].cosign_count = 0;
    assert_int_equal(ubc_wire_ledger_group_encode(ops, 1, 1, &origin_plain, buf, 100, &len),
                     UBC_WIRE_ERR_NO_ROOM);
}

/* A revocation is an ASSIGNMENT with the critical REVOKE flag; on anything
 * else the flag is refused. */
static void
test_revoke_flag(void **state)
{
    (void)state;
    struct ubc_msg msg, out;
    ubc_wire_sample(&msg, UBC_MSG_ASSIGNMENT, 3);
    msg.hdr.flags = UBC_MSG_FLAG_REVOKE;
    uint8_t buf[UBC_WIRE_DATAGRAM_MAX];
    size_t len = 0;
    assert_int_equal(ubc_wire_encode(&msg, &origin_plain, buf, sizeof(buf), &len), UBC_WIRE_OK);
    assert_int_equal(buf[8], UBC_WIRE_FLAG_REVOKE);
    struct ubc_wire_header header;
    assert_int_equal(ubc_wire_decode(buf, len, &policy_open, &header, &out), UBC_WIRE_OK);
    assert_int_equal(out.hdr.flags, UBC_MSG_FLAG_REVOKE);
    assert_memory_equal(&out.u.assignment, &msg.u.assignment, sizeof(msg.u.assignment));
    msg.hdr.flags = 0;
    assert_int_equal(ubc_wire_encode(&msg, &origin_plain, buf, sizeof(buf), &len), UBC_WIRE_OK);
    assert_int_equal(ubc_wire_decode(buf, len, &policy_open, &header, &out), UBC_WIRE_OK);
    assert_int_equal(out.hdr.flags, 0);
    len = encode_sample(UBC_MSG_ACK, buf, sizeof(buf), 0);
    buf[8] = UBC_WIRE_FLAG_REVOKE;
    assert_int_equal(ubc_wire_decode(buf, len, &policy_open, &header, &out),
                     UBC_WIRE_ERR_BAD_FLAGS);
}

/* The header decoder against a byte-by-byte reference of the rules in
 * docs/wire-protocol.md ("Header"), over valid headers of every type
 * mutated at random (bytes, lengths, versions, flags, types) and random
 * bytes: the same result and the same fields, whatever the decoder's
 * strategy for reading them (it reads the header as five words). */
static uint64_t
reference_le(const uint8_t *at, size_t bytes)
{
    uint64_t v = 0;
    for (size_t i = bytes; i-- > 0;)
        v = v << 8 | at[i];
    return v;
}

static enum ubc_wire_result
reference_header_decode(const uint8_t *buf, size_t len, bool require_tag, struct ubc_wire_header *h)
{
    memset(h, 0, sizeof(*h));
    if (buf == NULL || len < UBC_WIRE_HEADER_BYTES)
        return UBC_WIRE_ERR_SHORT_HEADER;
    if (buf[0] != 'U' || buf[1] != 'B' || buf[2] != 'C' || buf[3] != 'W')
        return UBC_WIRE_ERR_BAD_MAGIC;
    h->version_major = buf[4];
    h->version_minor = buf[5];
    h->type = (uint16_t)reference_le(buf + 6, 2);
    h->flags = (uint16_t)reference_le(buf + 8, 2);
    h->payload_len = (uint16_t)reference_le(buf + 10, 2);
    h->sender_id = reference_le(buf + 16, 8);
    h->session_id = reference_le(buf + 24, 8);
    h->sequence = reference_le(buf + 32, 8);
    bool strict = h->version_minor <= UBC_WIRE_VERSION_MINOR;
    if (h->version_major != UBC_WIRE_VERSION_MAJOR)
        return UBC_WIRE_ERR_BAD_VERSION;
    if ((h->flags & 0xff & ~(UBC_WIRE_FLAG_TAG | UBC_WIRE_FLAG_REVOKE)) != 0)
        return UBC_WIRE_ERR_BAD_FLAGS;
    if (reference_le(buf + 12, 4) != 0 && strict)
        return UBC_WIRE_ERR_RESERVED;
    if (h->payload_len > UBC_WIRE_PAYLOAD_MAX)
        return UBC_WIRE_ERR_TOO_LARGE;
    size_t total = UBC_WIRE_HEADER_BYTES + h->payload_len +
                   ((h->flags & UBC_WIRE_FLAG_TAG) ? UBC_WIRE_TAG_BYTES : 0);
    if (len != total)
        return len < total ? UBC_WIRE_ERR_TRUNCATED : UBC_WIRE_ERR_LENGTH_MISMATCH;
    h->datagram_len = (uint16_t)total;
    if (require_tag && !(h->flags & UBC_WIRE_FLAG_TAG))
        return UBC_WIRE_ERR_TAG_REQUIRED;
    if (h->type >= UBC_MSG_CONSENSUS_FIRST && h->type <= UBC_MSG_CONSENSUS_LAST)
        return UBC_WIRE_OK;
    uint16_t expected = ubc_wire_payload_bytes(h->type);
    if (expected == 0)
        return UBC_WIRE_ERR_UNKNOWN_TYPE;
    if (h->type == UBC_MSG_LEDGER_OP)
        return h->payload_len != 0 && h->payload_len % expected == 0 ? UBC_WIRE_OK
                                                                     : UBC_WIRE_ERR_PAYLOAD_SIZE;
    bool fits = h->payload_len == expected || (!strict && h->payload_len > expected);
    return fits ? UBC_WIRE_OK : UBC_WIRE_ERR_PAYLOAD_SIZE;
}

static uint64_t
test_random(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

/* One mutation of a header: a byte, a field set to a value near its
 * bounds, or the datagram's length. */
static void
mutate_header(uint8_t *buf, size_t *len, size_t cap, uint64_t *rng)
{
    static const uint8_t field_offsets[] = { 4, 5, 6, 8, 9, 10, 12, 15 };
    uint64_t r = test_random(rng);
    switch (r % 5) {
    case 0: buf[(r >> 8) % UBC_WIRE_HEADER_BYTES] = (uint8_t)(r >> 16); break;
    case 1: buf[field_offsets[(r >> 8) % sizeof(field_offsets)]] = (uint8_t)(r >> 16) % 4; break;
    case 2: buf[6] = (uint8_t)(r >> 8), buf[7] = (r >> 16) % 8 == 0 ? (uint8_t)(r >> 24) : 0; break;
    case 3: buf[8] = (uint8_t)(r >> 8) & 0x03, buf[10] = (uint8_t)(r >> 16); break;
    default: *len = (size_t)((*len + (r >> 8) % 33 + cap - 16) % cap); break;
    }
}

static void
test_header_decode_reference(void **state)
{
    (void)state;
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    enum { ROUNDS = 20000, MUTATIONS = 4 };
    uint8_t buf[UBC_WIRE_DATAGRAM_MAX + 64];
    for (uint32_t round = 0; round < ROUNDS; round++) {
        size_t len;
        if (round % 8 == 7) { /* random bytes, the magic often right */
            len = (size_t)(test_random(&rng) % 160);
            for (size_t i = 0; i < len; i++)
                buf[i] = (uint8_t)test_random(&rng);
            if (round % 16 == 7 && len >= 4)
                memcpy(buf, "UBCW", 4);
        } else {
            uint16_t type = ubc_wire_sample_types[round % UBC_ARRAY_SIZE(ubc_wire_sample_types)];
            len = encode_sample(type, buf, sizeof(buf), (uint16_t)(round & UBC_WIRE_FLAG_TAG));
        }
        for (uint32_t m = 0; m <= MUTATIONS; m++) {
            for (int require_tag = 0; require_tag <= 1; require_tag++) {
                const struct ubc_wire_policy policy = { .require_tag = require_tag };
                struct ubc_wire_header got, want;
                memset(&got, 0xa5, sizeof(got));
                enum ubc_wire_result result = ubc_wire_header_decode(buf, len, &policy, &got);
                enum ubc_wire_result expected =
                    reference_header_decode(buf, len, require_tag, &want);
                if (result != expected)
                    fail_msg("round %u mutation %u: %s, the reference says %s", round, m,
                             ubc_wire_result_name(result), ubc_wire_result_name(expected));
                assert_true(got.sender_id == want.sender_id && got.session_id == want.session_id);
                assert_true(got.sequence == want.sequence);
                assert_int_equal(got.type, want.type);
                assert_int_equal(got.payload_len, want.payload_len);
                assert_int_equal(got.flags, want.flags);
                assert_int_equal(got.datagram_len, want.datagram_len);
                assert_int_equal(got.version_major, want.version_major);
                assert_int_equal(got.version_minor, want.version_minor);
            }
            mutate_header(buf, &len, sizeof(buf), &rng);
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_type),
        cmocka_unit_test(test_golden_heartbeat),
        cmocka_unit_test(test_header_errors),
        cmocka_unit_test(test_type_errors),
        cmocka_unit_test(test_tag_policy),
        cmocka_unit_test(test_field_range),
        cmocka_unit_test(test_encode_no_room),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_newer_minor_version),
        cmocka_unit_test(test_refusal_rules),
        cmocka_unit_test(test_refusal_round_trip),
        cmocka_unit_test(test_bad_datagram_generator),
        cmocka_unit_test(test_ledger_group_round_trip),
        cmocka_unit_test(test_ledger_group_rules),
        cmocka_unit_test(test_revoke_flag),
        cmocka_unit_test(test_header_decode_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
