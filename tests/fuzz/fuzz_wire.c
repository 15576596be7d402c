/* fuzz_wire.c: libFuzzer harness for the wire codec (also linked with
 * fuzz_replay.c into a plain program that replays the seed corpus).
 *
 * Properties checked on every input, beyond "never crash, never read out of
 * bounds" (ASan/UBSan):
 *  - the split decode (header, then payload) agrees with ubc_wire_decode;
 *  - a datagram the decoder accepts re-encodes: for our own minor version the
 *    bytes come back identical (one canonical encoding, tag room zeroed);
 *    for a newer minor version the re-encoded message decodes to the same
 *    message.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/ubc_assert.h"
#include "dataplane/wire/ubc_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A LEDGER_OP datagram carries a group: it re-encodes through the group API. */
static void
check_reencode_ledger(const uint8_t *data, size_t size, const struct ubc_wire_header *header)
{
    struct ubc_wire_ledger_op ops[UBC_WIRE_LEDGER_GROUP_FIT], again[UBC_WIRE_LEDGER_GROUP_FIT];
    uint32_t count = 0, count_again = 0;
    UBC_ASSERT(ubc_wire_ledger_group_decode(header, data + UBC_WIRE_HEADER_BYTES, ops,
                                            UBC_WIRE_LEDGER_GROUP_FIT, &count) == UBC_WIRE_OK);
    const struct ubc_wire_origin origin = { .sender_id = header->sender_id,
                                            .session_id = header->session_id,
                                            .flags = header->flags };
    uint8_t out[UBC_WIRE_DATAGRAM_MAX];
    size_t out_len = 0;
    UBC_ASSERT(ubc_wire_ledger_group_encode(ops, count, header->sequence, &origin, out, sizeof(out),
                                            &out_len) == UBC_WIRE_OK);
    size_t tag = (header->flags & UBC_WIRE_FLAG_TAG) ? UBC_WIRE_TAG_BYTES : 0;
    UBC_ASSERT(out_len == size);
    if (header->version_minor == UBC_WIRE_VERSION_MINOR) {
        UBC_ASSERT(memcmp(out, data, size - tag) == 0);
        return;
    }
    const struct ubc_wire_policy policy = { .require_tag = false };
    struct ubc_wire_header again_header;
    UBC_ASSERT(ubc_wire_header_decode(out, out_len, &policy, &again_header) == UBC_WIRE_OK);
    UBC_ASSERT(ubc_wire_ledger_group_decode(&again_header, out + UBC_WIRE_HEADER_BYTES, again,
                                            UBC_WIRE_LEDGER_GROUP_FIT,
                                            &count_again) == UBC_WIRE_OK);
    UBC_ASSERT(count_again == count && memcmp(again, ops, count * sizeof(ops[0])) == 0);
}

static void
check_reencode(const uint8_t *data, size_t size, const struct ubc_wire_header *header,
               const struct ubc_msg *msg)
{
    if (header->type == UBC_MSG_LEDGER_OP) {
        check_reencode_ledger(data, size, header);
        return;
    }
    const struct ubc_wire_origin origin = { .sender_id = header->sender_id,
                                            .session_id = header->session_id,
                                            .flags = header->flags };
    uint8_t out[UBC_WIRE_DATAGRAM_MAX];
    size_t out_len = 0;
    UBC_ASSERT(ubc_wire_encode(msg, &origin, out, sizeof(out), &out_len) == UBC_WIRE_OK);
    size_t tag = (header->flags & UBC_WIRE_FLAG_TAG) ? UBC_WIRE_TAG_BYTES : 0;
    if (header->version_minor == UBC_WIRE_VERSION_MINOR) {
        UBC_ASSERT(out_len == size);
        UBC_ASSERT(memcmp(out, data, size - tag) == 0);
        return;
    }
    const struct ubc_wire_policy policy = { .require_tag = false };
    struct ubc_wire_header again_header;
    struct ubc_msg again;
    UBC_ASSERT(ubc_wire_decode(out, out_len, &policy, &again_header, &again) == UBC_WIRE_OK);
    UBC_ASSERT(again.hdr.type == msg->hdr.type && again.hdr.seq == msg->hdr.seq);
    UBC_ASSERT(memcmp(again.u.bytes, msg->u.bytes, msg->hdr.len) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int require_tag = 0; require_tag <= 1; require_tag++) {
        const struct ubc_wire_policy policy = { .require_tag = require_tag };
        struct ubc_wire_header header;
        struct ubc_msg msg;
        enum ubc_wire_result result = ubc_wire_decode(data, size, &policy, &header, &msg);
        UBC_ASSERT(result < UBC_WIRE_RESULT_COUNT && result != UBC_WIRE_ERR_NO_ROOM);
        UBC_ASSERT(ubc_wire_result_name(result) != NULL);
        enum ubc_err err = ubc_wire_result_to_err(result);
        UBC_ASSERT((unsigned)err < UBC_ERR_COUNT);
        (void)ubc_wire_should_refuse(result, &header);
        struct ubc_wire_header split;
        enum ubc_wire_result first = ubc_wire_header_decode(data, size, &policy, &split);
        UBC_ASSERT(first == result || first == UBC_WIRE_OK);
        if (result != UBC_WIRE_OK)
            continue;
        UBC_ASSERT(header.datagram_len == size && msg.hdr.len <= UBC_MSG_PAYLOAD_SIZE);
        UBC_ASSERT(!require_tag || (header.flags & UBC_WIRE_FLAG_TAG));
        check_reencode(data, size, &header, &msg);
    }
    return 0;
}
