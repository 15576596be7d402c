/* fuzz_pkt.c: libFuzzer harness for the frame classifier and the reply
 * builders (also replayed over the seed corpus by a plain program).
 *
 * Input: byte 0 selects the rx checksum-offload flags, the rest is a frame.
 * Properties: ubc_pkt_classify (its fast path for the common frame) and
 * ubc_pkt_classify_full give the same answer, field by field; offsets the
 * classifier reports lie inside the frame; each reply
 * builder writes inside its buffer and produces a frame that verifies (the
 * peer classifies our UDP reply as a UBC datagram, ICMP checksums fold to
 * zero); a UBC payload goes through the wire decoder, and an answer to it is
 * built in place as the net role would.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>

#include "common/ubc_assert.h"
#include "dataplane/wire/ubc_pkt.h"
#include "dataplane/wire/ubc_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FRAME_CAP 2048u

static struct ubc_pkt_self
fuzz_self(void)
{
    struct ubc_pkt_self self = { .mac = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 } };
    self.ipv4_be = htonl(0x0a000001);
    self.udp_port_be = htons(UBC_WIRE_PORT_DEFAULT);
    return self;
}

static void
check_icmp_reply(uint8_t *frame, size_t len, const struct ubc_pkt_info *info,
                 const struct ubc_pkt_self *self)
{
    UBC_ASSERT(ubc_pkt_icmp_echo_reply(frame, len, info, self) == len);
    const uint8_t *ip = frame + info->l3_offset;
    size_t header_len = (size_t)info->l4_offset - info->l3_offset;
    UBC_ASSERT(ubc_pkt_checksum_fold(ubc_pkt_checksum_add(0, ip, header_len)) == 0);
    size_t icmp_len = (size_t)info->l3_end - info->l4_offset;
    UBC_ASSERT(ubc_pkt_checksum_fold(ubc_pkt_checksum_add(0, ip + header_len, icmp_len)) == 0);
    UBC_ASSERT(memcmp(ip + 12, &self->ipv4_be, 4) == 0);
}

/* Answers the datagram as the net role does: decode, then an ACK or a
 * refusal written at the reply offset, then the headers. */
static void
check_udp_reply(uint8_t *frame, const struct ubc_pkt_info *info, const struct ubc_pkt_self *self)
{
    const struct ubc_wire_policy policy = { .require_tag = false };
    struct ubc_wire_header header;
    struct ubc_msg msg;
    enum ubc_wire_result result =
        ubc_wire_decode(frame + info->payload_offset, info->payload_len, &policy, &header, &msg);
    struct ubc_msg reply;
    if (result == UBC_WIRE_OK)
        ubc_wire_reply_init(&reply, UBC_MSG_ACK, header.sequence, 1, UBC_OK, 0, 0);
    else
        ubc_wire_reply_init(&reply, UBC_MSG_REFUSAL, header.sequence, 0,
                            ubc_wire_result_to_err(result), 0, (uint32_t)result);
    const struct ubc_wire_origin origin = { .sender_id = 7 };
    size_t offset = ubc_pkt_udp_payload_offset(info->has_vlan);
    size_t payload_len = 0;
    UBC_ASSERT(ubc_wire_encode(&reply, &origin, frame + offset, FRAME_CAP - offset, &payload_len) ==
               UBC_WIRE_OK);
    size_t len = ubc_pkt_udp_reply(frame, FRAME_CAP, info, self, payload_len, 0);
    UBC_ASSERT(len == offset + payload_len);
    struct ubc_pkt_self peer = { .ipv4_be = info->source.ipv4_be,
                                 .udp_port_be = info->source.udp_port_be };
    memcpy(peer.mac, info->source.mac, 6);
    struct ubc_pkt_info back;
    UBC_ASSERT(ubc_pkt_classify(frame, len, &peer, 0, &back) == UBC_PKT_UBC);
    UBC_ASSERT(back.payload_len == payload_len);
}

/* The fast path's answer is the full classifier's. */
static void
check_same_as_full(const uint8_t *frame, size_t len, const struct ubc_pkt_self *self,
                   uint32_t rx_flags, const struct ubc_pkt_info *info)
{
    struct ubc_pkt_info full;
    UBC_ASSERT(ubc_pkt_classify_full(frame, len, self, rx_flags, &full) == info->kind);
    UBC_ASSERT(full.kind == info->kind && full.drop == info->drop);
    UBC_ASSERT(full.has_vlan == info->has_vlan && full.vlan_tci == info->vlan_tci);
    UBC_ASSERT(full.l3_offset == info->l3_offset && full.l4_offset == info->l4_offset);
    UBC_ASSERT(full.l3_end == info->l3_end && full.payload_offset == info->payload_offset);
    UBC_ASSERT(full.payload_len == info->payload_len);
    UBC_ASSERT(memcmp(full.source.mac, info->source.mac, 6) == 0);
    UBC_ASSERT(full.source.ipv4_be == info->source.ipv4_be);
    UBC_ASSERT(full.source.udp_port_be == info->source.udp_port_be);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > FRAME_CAP)
        return 0;
    const struct ubc_pkt_self self = fuzz_self();
    uint32_t rx_flags = data[0] & (UBC_PKT_RX_IP_CHECKSUM_GOOD | UBC_PKT_RX_L4_CHECKSUM_GOOD);
    size_t len = size - 1;
    static uint8_t frame[FRAME_CAP];
    memcpy(frame, data + 1, len);
    struct ubc_pkt_info info;
    enum ubc_pkt_kind kind = ubc_pkt_classify(frame, len, &self, rx_flags, &info);
    UBC_ASSERT(kind == info.kind && ubc_pkt_drop_name(info.drop) != NULL);
    UBC_ASSERT((kind == UBC_PKT_DROP) == (info.drop != UBC_PKT_DROP_NONE));
    check_same_as_full(frame, len, &self, rx_flags, &info);
    if (kind == UBC_PKT_DROP)
        return 0;
    UBC_ASSERT(info.l3_offset <= info.l3_end && info.l3_end <= len);
    if (kind == UBC_PKT_ARP_REQUEST) {
        UBC_ASSERT(ubc_pkt_arp_reply(frame, len, &info, &self) == len);
        UBC_ASSERT(memcmp(frame, info.source.mac, 6) == 0);
    } else if (kind == UBC_PKT_ICMP_ECHO) {
        check_icmp_reply(frame, len, &info, &self);
    } else {
        UBC_ASSERT((size_t)info.payload_offset + info.payload_len == info.l3_end);
        check_udp_reply(frame, &info, &self);
    }
    return 0;
}
