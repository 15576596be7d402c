/* ubc_bad.h: one frame for every classifier drop reason and one datagram
 * for every decode reason, for the unit tests, `ubc-client malformed` and
 * the node's malformed-packet integration test (send each, check each
 * counter, check that the node keeps serving). Never used by ubcd itself.
 *
 * Contract: header-only static functions; the caller owns the buffers. The
 * frames go from `client` to `node`; each is a valid frame with exactly one
 * defect, so it must be dropped with exactly that reason. Deterministic.
 */
#ifndef UBC_BAD_FRAMES_H
#define UBC_BAD_FRAMES_H

#include <string.h>

#include "common/ubc_assert.h"
#include "dataplane/wire/ubc_pkt.h"
#include "dataplane/wire/ubc_wire.h"

#define UBC_BAD_FRAME_CAP 256u /* enough for every reason but OVERSIZE */

/* Offsets in an untagged IPv4 frame without options. */
enum {
    UBC_BAD_L3 = 14,
    UBC_BAD_L4 = 34,
};

static inline void
ubc_bad_ip_checksum_fix(uint8_t *frame, size_t l3)
{
    size_t header_len = (size_t)(frame[l3] & 0x0f) * 4;
    frame[l3 + 10] = frame[l3 + 11] = 0;
    uint16_t c = ubc_pkt_checksum_fold(ubc_pkt_checksum_add(0, frame + l3, header_len));
    frame[l3 + 10] = (uint8_t)(c >> 8);
    frame[l3 + 11] = (uint8_t)c;
}

/* A valid job query in a UDP frame from client to node. */
static inline size_t
ubc_bad_frame_valid_udp(uint8_t *frame, size_t cap, const struct ubc_pkt_self *node,
                        const struct ubc_pkt_self *client, bool vlan)
{
    struct ubc_msg msg;
    memset(&msg, 0, sizeof(msg));
    msg.hdr.type = UBC_MSG_JOB_QUERY;
    msg.hdr.seq = 77;
    msg.u.job_ref.job_id = 77;
    const struct ubc_wire_origin origin = { .sender_id = 5, .session_id = 6 };
    size_t offset = ubc_pkt_udp_payload_offset(vlan), payload_len = 0;
    UBC_ASSERT(cap >= offset);
    UBC_ASSERT(ubc_wire_encode(&msg, &origin, frame + offset, cap - offset, &payload_len) ==
               UBC_WIRE_OK);
    struct ubc_pkt_peer to = { .ipv4_be = node->ipv4_be, .udp_port_be = node->udp_port_be };
    memcpy(to.mac, node->mac, 6);
    size_t len = ubc_pkt_udp_build(frame, cap, client, &to, vlan, 7, payload_len, 0);
    UBC_ASSERT(len != 0);
    return len;
}

/* A valid ARP request from client for node's address (60 bytes, padded). */
static inline size_t
ubc_bad_frame_valid_arp(uint8_t *frame, const struct ubc_pkt_self *node,
                        const struct ubc_pkt_self *client)
{
    static const uint8_t head[8] = { 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01 };
    memset(frame, 0, 60);
    memset(frame, 0xff, 6);
    memcpy(frame + 6, client->mac, 6);
    frame[12] = 0x08, frame[13] = 0x06;
    memcpy(frame + 14, head, 8);
    memcpy(frame + 22, client->mac, 6);
    memcpy(frame + 28, &client->ipv4_be, 4);
    memcpy(frame + 38, &node->ipv4_be, 4);
    return 60;
}

/* A valid ICMP echo request from client to node with 8 bytes of data. */
static inline size_t
ubc_bad_frame_valid_icmp(uint8_t *frame, const struct ubc_pkt_self *node,
                         const struct ubc_pkt_self *client)
{
    memset(frame, 0, 50);
    memcpy(frame, node->mac, 6);
    memcpy(frame + 6, client->mac, 6);
    frame[12] = 0x08;
    uint8_t *ip = frame + UBC_BAD_L3;
    ip[0] = 0x45, ip[3] = 36, ip[8] = 64, ip[9] = 1;
    memcpy(ip + 12, &client->ipv4_be, 4);
    memcpy(ip + 16, &node->ipv4_be, 4);
    ubc_bad_ip_checksum_fix(frame, UBC_BAD_L3);
    uint8_t *icmp = frame + UBC_BAD_L4;
    icmp[0] = 8;
    memcpy(icmp + 8, "ubc-ping", 8);
    uint16_t c = ubc_pkt_checksum_fold(ubc_pkt_checksum_add(0, icmp, 16));
    icmp[2] = (uint8_t)(c >> 8), icmp[3] = (uint8_t)c;
    return 50;
}

/* Frame-level defects of the UDP frame: offset, new value, fix the IPv4
 * checksum after. Returns false when reason is not of this kind. */
static inline bool
ubc_bad_frame_udp_patch(enum ubc_pkt_drop reason, uint8_t *frame, size_t len)
{
    uint8_t *ip = frame + UBC_BAD_L3, *udp = frame + UBC_BAD_L4;
    switch (reason) {
    case UBC_PKT_DROP_MAC_NOT_US: frame[5] ^= 0x10; return true;
    case UBC_PKT_DROP_MAC_SOURCE: frame[6] |= 0x01; return true;
    case UBC_PKT_DROP_ETHERTYPE: frame[12] = 0x86, frame[13] = 0xdd; return true;
    case UBC_PKT_DROP_IP_VERSION: ip[0] = 0x65; break;
    case UBC_PKT_DROP_IP_HEADER_LEN: ip[0] = 0x44; return true;
    case UBC_PKT_DROP_IP_TOTAL_LEN:
        ip[2] = (uint8_t)((len + 64) >> 8), ip[3] = (uint8_t)(len + 64);
        break;
    case UBC_PKT_DROP_IP_CHECKSUM: ip[11] ^= 0x5a; return true;
    case UBC_PKT_DROP_IP_FRAGMENT: ip[6] |= 0x20; break;
    case UBC_PKT_DROP_IP_TTL: ip[8] = 0; break;
    case UBC_PKT_DROP_IP_NOT_US: ip[19] ^= 0x40; break;
    case UBC_PKT_DROP_IP_SOURCE: ip[12] = 127; break;
    case UBC_PKT_DROP_IP_PROTOCOL: ip[9] = 6; break;
    case UBC_PKT_DROP_UDP_LENGTH: udp[5] = (uint8_t)(udp[5] + 1); return true;
    case UBC_PKT_DROP_UDP_CHECKSUM: frame[len - 1] ^= 0x01; return true;
    case UBC_PKT_DROP_UDP_PORT: udp[3] ^= 0x01; return true;
    case UBC_PKT_DROP_UDP_SOURCE_PORT: udp[0] = udp[1] = 0; return true;
    default: return false;
    }
    ubc_bad_ip_checksum_fix(frame, UBC_BAD_L3);
    return true;
}

/* ARP and ICMP defects, and the structural ones. */
static inline size_t
ubc_bad_frame_other(enum ubc_pkt_drop reason, uint8_t *frame, size_t cap,
                    const struct ubc_pkt_self *node, const struct ubc_pkt_self *client)
{
    size_t len = ubc_bad_frame_valid_arp(frame, node, client);
    switch (reason) {
    case UBC_PKT_DROP_ARP_FORMAT: frame[18] = 5; return len;
    case UBC_PKT_DROP_ARP_NOT_REQUEST: frame[21] = 2; return len;
    case UBC_PKT_DROP_ARP_NOT_US: frame[41] ^= 0x01; return len;
    case UBC_PKT_DROP_TRUNCATED: return 10;
    default: break;
    }
    len = ubc_bad_frame_valid_icmp(frame, node, client);
    if (reason == UBC_PKT_DROP_ICMP_NOT_ECHO) {
        uint8_t *icmp = frame + UBC_BAD_L4;
        icmp[0] = 13; /* a timestamp request, with a correct checksum */
        icmp[2] = icmp[3] = 0;
        uint16_t c = ubc_pkt_checksum_fold(ubc_pkt_checksum_add(0, icmp, 16));
        icmp[2] = (uint8_t)(c >> 8), icmp[3] = (uint8_t)c;
        return len;
    }
    if (reason == UBC_PKT_DROP_ICMP_CHECKSUM) {
        frame[UBC_BAD_L4 + 2] ^= 0x01;
        return len;
    }
    if (reason == UBC_PKT_DROP_VLAN_NESTED) {
        len = ubc_bad_frame_valid_udp(frame, cap, node, client, true);
        frame[16] = 0x81, frame[17] = 0x00;
        return len;
    }
    if (reason == UBC_PKT_DROP_OVERSIZE && cap > UBC_PKT_FRAME_MAX) {
        len = ubc_bad_frame_valid_udp(frame, cap, node, client, false);
        memset(frame + len, 0, UBC_PKT_FRAME_MAX + 1 - len);
        return UBC_PKT_FRAME_MAX + 1;
    }
    return 0;
}

/* Builds a frame from client to node that the classifier drops with
 * exactly reason. Returns its length, or 0 for UBC_PKT_DROP_NONE (and for
 * OVERSIZE when cap cannot hold 65536 bytes). cap >= UBC_BAD_FRAME_CAP. */
static inline size_t
ubc_bad_frame(enum ubc_pkt_drop reason, uint8_t *frame, size_t cap, const struct ubc_pkt_self *node,
              const struct ubc_pkt_self *client)
{
    UBC_ASSERT(cap >= UBC_BAD_FRAME_CAP && reason < UBC_PKT_DROP_COUNT);
    if (reason == UBC_PKT_DROP_NONE)
        return 0;
    size_t len = ubc_bad_frame_valid_udp(frame, cap, node, client, false);
    if (ubc_bad_frame_udp_patch(reason, frame, len))
        return len;
    return ubc_bad_frame_other(reason, frame, cap, node, client);
}

/* Builds a datagram the codec rejects with exactly reason (TAG_REQUIRED:
 * only under a policy that requires a tag). Returns its length, or 0 for
 * UBC_WIRE_OK and UBC_WIRE_ERR_NO_ROOM. cap >= UBC_WIRE_DATAGRAM_MAX. */
static inline size_t
ubc_bad_datagram(enum ubc_wire_result reason, uint8_t *buf, size_t cap)
{
    UBC_ASSERT(cap >= UBC_WIRE_DATAGRAM_MAX);
    struct ubc_msg msg;
    memset(&msg, 0, sizeof(msg));
    msg.hdr.type = UBC_MSG_PROVIDER_HEARTBEAT;
    msg.hdr.seq = 1000 + (uint64_t)reason;
    msg.u.heartbeat.provider_id = 9;
    const struct ubc_wire_origin origin = { .sender_id = 5, .session_id = 6 };
    size_t len = 0;
    UBC_ASSERT(ubc_wire_encode(&msg, &origin, buf, cap, &len) == UBC_WIRE_OK);
    switch (reason) {
    case UBC_WIRE_ERR_SHORT_HEADER: return UBC_WIRE_HEADER_BYTES - 1;
    case UBC_WIRE_ERR_BAD_MAGIC: buf[0] = 'X'; return len;
    case UBC_WIRE_ERR_BAD_VERSION: buf[4] = 2; return len;
    case UBC_WIRE_ERR_BAD_FLAGS: buf[8] = 0x40; return len;
    case UBC_WIRE_ERR_RESERVED: buf[12] = 1; return len;
    case UBC_WIRE_ERR_TOO_LARGE: buf[11] = 0x10; return len;
    case UBC_WIRE_ERR_TRUNCATED: return len - 1;
    case UBC_WIRE_ERR_LENGTH_MISMATCH: buf[len] = 0; return len + 1;
    case UBC_WIRE_ERR_TAG_REQUIRED: return len;
    case UBC_WIRE_ERR_UNKNOWN_TYPE: buf[6] = 50; return len;
    case UBC_WIRE_ERR_RESERVED_TYPE: buf[6] = UBC_MSG_CONSENSUS_FIRST; return len;
    case UBC_WIRE_ERR_PAYLOAD_SIZE: buf[10] = UBC_WIRE_HEARTBEAT_BYTES - 1; return len - 1;
    case UBC_WIRE_ERR_FIELD_RANGE: memset(buf + UBC_WIRE_HEADER_BYTES, 0, 8); return len;
    default: return 0;
    }
}

#endif /* UBC_BAD_FRAMES_H */
