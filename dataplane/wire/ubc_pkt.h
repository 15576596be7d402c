/* ubc_pkt.h: Ethernet/ARP/IPv4/ICMP/UDP parsing and building over byte buffers.
 *
 * Contract: pure functions over caller-owned frames (an mbuf's data, a test
 * array, a fuzz input); no DPDK, no allocation, no locks, no system calls, no
 * global state: any thread may call them on distinct frames. The classifier
 * never reads outside [frame, frame + len) and trusts no length it has not
 * checked; every rejection has a precise enum ubc_pkt_drop reason so the net
 * role can count drops. Builders write only inside [frame, frame + cap).
 *
 * Addresses: ipv4_be and udp_port_be hold the value as it lies in memory in
 * network byte order (like DPDK's rte_be32_t): compare them with the packet's
 * bytes, never with host-order numbers.
 *
 * Scope: Ethernet II with at most one 802.1Q tag; ARP requests for our
 * address; ICMP echo requests to us; IPv4 (options skipped, fragments
 * rejected) carrying UDP to our port. Anything else is a drop with a reason.
 *
 * ubc_pkt_classify() is inline: a fast path takes the common frame (no tag,
 * no IP options, UDP to us) and gives the answer the full classifier
 * (ubc_pkt_classify_full) gives; every other frame goes to the full one.
 */
#ifndef UBC_PKT_H
#define UBC_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>

#include "common/ubc_assert.h"

#define UBC_PKT_ETHER_BYTES 14u
#define UBC_PKT_VLAN_BYTES 4u
#define UBC_PKT_ARP_BYTES 28u
#define UBC_PKT_IPV4_BYTES 20u /* without options */
#define UBC_PKT_ICMP_BYTES 8u
#define UBC_PKT_UDP_BYTES 8u
#define UBC_PKT_TTL_DEFAULT 64u
#define UBC_PKT_FRAME_MAX 65535u

#define UBC_PKT_ETHERTYPE_IPV4 0x0800u
#define UBC_PKT_ETHERTYPE_ARP 0x0806u
#define UBC_PKT_ETHERTYPE_VLAN 0x8100u
#define UBC_PKT_ETHERTYPE_QINQ 0x88a8u

/* The node's own addresses. */
struct ubc_pkt_self {
    uint8_t mac[6];
    uint32_t ipv4_be;
    uint16_t udp_port_be;
};

/* A remote end: where a frame came from, or where a built frame goes. */
struct ubc_pkt_peer {
    uint8_t mac[6];
    uint32_t ipv4_be;
    uint16_t udp_port_be;
};

enum ubc_pkt_kind {
    UBC_PKT_DROP = 0,
    UBC_PKT_ARP_REQUEST = 1, /* who-has our IPv4: answer with ubc_pkt_arp_reply() */
    UBC_PKT_ICMP_ECHO = 2,   /* ping to us: answer with ubc_pkt_icmp_echo_reply() */
    UBC_PKT_UBC = 3,         /* UDP to our port: payload_offset/payload_len */
};

/* Why a frame was dropped. Stable numbers (counters are indexed by them). */
enum ubc_pkt_drop {
    UBC_PKT_DROP_NONE = 0,
    UBC_PKT_DROP_TRUNCATED = 1,        /* shorter than a header it announces */
    UBC_PKT_DROP_OVERSIZE = 2,         /* longer than UBC_PKT_FRAME_MAX */
    UBC_PKT_DROP_MAC_NOT_US = 3,       /* destination neither our MAC nor broadcast */
    UBC_PKT_DROP_MAC_SOURCE = 4,       /* source MAC multicast/broadcast: cannot answer */
    UBC_PKT_DROP_VLAN_NESTED = 5,      /* QinQ or more than one tag */
    UBC_PKT_DROP_ETHERTYPE = 6,        /* neither IPv4 nor ARP (IPv6, LLDP...) */
    UBC_PKT_DROP_ARP_FORMAT = 7,       /* not Ethernet/IPv4 ARP */
    UBC_PKT_DROP_ARP_NOT_REQUEST = 8,  /* replies and other operations */
    UBC_PKT_DROP_ARP_NOT_US = 9,       /* asks for another address */
    UBC_PKT_DROP_IP_VERSION = 10,      /* not version 4 */
    UBC_PKT_DROP_IP_HEADER_LEN = 11,   /* IHL below 5 or beyond the total length */
    UBC_PKT_DROP_IP_TOTAL_LEN = 12,    /* total length beyond the frame */
    UBC_PKT_DROP_IP_CHECKSUM = 13,     /* header checksum wrong */
    UBC_PKT_DROP_IP_FRAGMENT = 14,     /* MF set or offset non-zero: no reassembly */
    UBC_PKT_DROP_IP_TTL = 15,          /* TTL 0 */
    UBC_PKT_DROP_IP_NOT_US = 16,       /* destination is not our address */
    UBC_PKT_DROP_IP_SOURCE = 17,       /* source 0, broadcast, multicast, loopback, ours */
    UBC_PKT_DROP_IP_PROTOCOL = 18,     /* neither UDP nor ICMP */
    UBC_PKT_DROP_ICMP_NOT_ECHO = 19,   /* ICMP other than echo request */
    UBC_PKT_DROP_ICMP_CHECKSUM = 20,   /* ICMP checksum wrong */
    UBC_PKT_DROP_UDP_LENGTH = 21,      /* UDP length differs from the IP payload */
    UBC_PKT_DROP_UDP_CHECKSUM = 22,    /* non-zero UDP checksum wrong */
    UBC_PKT_DROP_UDP_PORT = 23,        /* to another UDP port */
    UBC_PKT_DROP_UDP_SOURCE_PORT = 24, /* from port 0: cannot answer */
    UBC_PKT_DROP_COUNT
};

/* Hardware already verified these checksums (from the mbuf's ol_flags). */
#define UBC_PKT_RX_IP_CHECKSUM_GOOD 0x1u
#define UBC_PKT_RX_L4_CHECKSUM_GOOD 0x2u

/* Build options: leave checksums for the NIC (IPv4 checksum 0, UDP checksum
 * holds the pseudo-header sum, as DPDK's tx offload expects). */
#define UBC_PKT_TX_CHECKSUM_OFFLOAD 0x1u

/* What ubc_pkt_classify() found. Offsets are from the frame's start. */
struct ubc_pkt_info {
    enum ubc_pkt_kind kind;
    enum ubc_pkt_drop drop;
    bool has_vlan;
    uint16_t vlan_tci;
    uint16_t l3_offset;      /* ARP or IPv4 header */
    uint16_t l4_offset;      /* ICMP or UDP header (IPv4 options skipped) */
    uint16_t l3_end;         /* end of the IPv4 packet (Ethernet padding follows) */
    uint16_t payload_offset; /* UDP payload (the UBC datagram) */
    uint16_t payload_len;
    struct ubc_pkt_peer source; /* MAC, IPv4 and UDP port of the sender */
};

/* Addresses stay in memory order (network order) end to end. */
static inline uint32_t
ubc_pkt_load_raw32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static inline uint16_t
ubc_pkt_load_raw16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

static inline uint16_t
ubc_pkt_load_be16(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline bool
ubc_pkt_mac_is_group(const uint8_t *mac)
{
    return (mac[0] & 1) != 0; /* multicast bit; broadcast has it too */
}

/* Sources we cannot or must not answer: this network, broadcast, multicast
 * and class E, loopback, and our own address (a reflected or spoofed frame). */
static inline bool
ubc_pkt_ipv4_source_bad(const uint8_t *source, uint32_t self_ipv4_be)
{
    return source[0] == 0 || source[0] == 127 || source[0] >= 224 ||
           ubc_pkt_load_raw32(source) == self_ipv4_be;
}

/* The full classifier, every frame and every drop reason. ubc_pkt_classify()
 * calls it for any frame its fast path does not take; the tests call it to
 * hold the two equal. */
enum ubc_pkt_kind ubc_pkt_classify_full(const uint8_t *frame, size_t len,
                                        const struct ubc_pkt_self *self, uint32_t rx_flags,
                                        struct ubc_pkt_info *info);

/* For ubc_pkt_classify()'s fast path: the IPv4 header and UDP checksums
 * of a frame whose headers it checked (no tag, no IP options, UDP of
 * udp_len bytes inside the frame). True when both are right, absent (UDP
 * checksum 0) or vouched for by rx_flags. */
bool ubc_pkt_plain_checksums_valid(const uint8_t *frame, size_t udp_len, uint32_t rx_flags);

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* The common frame's fixed fields as little-endian loads of their bytes:
 * Ethernet II IPv4 (08 00) with version 4 and IHL 5 (45), the type of
 * service masked; the IPv4 fragment word's MF bit and offset (big-endian
 * 0x3fff); TTL 1 and protocol UDP (17) as one 16-bit word. */
#define UBC_PKT_PLAIN_ETHERTYPE_VERSION 0x00450008u
#define UBC_PKT_PLAIN_ETHERTYPE_VERSION_MASK 0x00ffffffu
#define UBC_PKT_PLAIN_FRAGMENT_MASK 0xff3fu
#define UBC_PKT_PLAIN_TTL1_UDP 0x1101u
#define UBC_PKT_PLAIN_UDP_OFFSET (UBC_PKT_ETHER_BYTES + UBC_PKT_IPV4_BYTES)
#define UBC_PKT_PLAIN_HEADERS (UBC_PKT_PLAIN_UDP_OFFSET + UBC_PKT_UDP_BYTES)

/* The headers of the common frame (Ethernet II to our MAC, no tag, IPv4
 * without options to our address, UDP to our port), checked as the full
 * classifier checks them, with wide loads and combined comparisons.
 * Returns the UDP length, or 0 for any other frame. */
static inline size_t
ubc_pkt_plain_udp_len(const uint8_t *frame, size_t len, const struct ubc_pkt_self *self)
{
    const size_t headers = UBC_PKT_PLAIN_HEADERS, udp = UBC_PKT_PLAIN_UDP_OFFSET;
    if (frame == NULL || len - headers > UBC_PKT_FRAME_MAX - headers)
        return 0;
    if (ubc_pkt_load_raw32(frame) != ubc_pkt_load_raw32(self->mac) ||
        ubc_pkt_load_raw16(frame + 4) != ubc_pkt_load_raw16(self->mac + 4) ||
        ubc_pkt_mac_is_group(frame + 6))
        return 0;
    if ((ubc_pkt_load_raw32(frame + 12) & UBC_PKT_PLAIN_ETHERTYPE_VERSION_MASK) !=
        UBC_PKT_PLAIN_ETHERTYPE_VERSION)
        return 0;
    /* The IPv4 total length is the UDP length and the header: both lie
     * inside the frame when the UDP datagram does. */
    size_t udp_len = ubc_pkt_load_be16(frame + udp + 4);
    if (ubc_pkt_load_be16(frame + 16) != udp_len + UBC_PKT_IPV4_BYTES ||
        udp_len - UBC_PKT_UDP_BYTES > len - headers)
        return 0;
    if ((ubc_pkt_load_raw16(frame + 20) & UBC_PKT_PLAIN_FRAGMENT_MASK) != 0 ||
        (uint16_t)(ubc_pkt_load_raw16(frame + 22) - UBC_PKT_PLAIN_TTL1_UDP) > 0xfe)
        return 0;
    if (ubc_pkt_load_raw32(frame + 30) != self->ipv4_be ||
        ubc_pkt_ipv4_source_bad(frame + 26, self->ipv4_be))
        return 0;
    if (ubc_pkt_load_raw16(frame + udp + 2) != self->udp_port_be ||
        ubc_pkt_load_raw16(frame + udp) == 0)
        return 0;
    return udp_len;
}

/* The common frame accepted: info as the full classifier fills it, field
 * by field from registers (a struct built on the stack and copied would
 * be read back before its stores retire). */
static inline void
ubc_pkt_plain_info(const uint8_t *frame, size_t udp_len, struct ubc_pkt_info *info)
{
    info->kind = UBC_PKT_UBC;
    info->drop = UBC_PKT_DROP_NONE;
    info->has_vlan = false;
    info->vlan_tci = 0;
    info->l3_offset = UBC_PKT_ETHER_BYTES;
    info->l4_offset = UBC_PKT_PLAIN_UDP_OFFSET;
    info->l3_end = (uint16_t)(UBC_PKT_PLAIN_UDP_OFFSET + udp_len);
    info->payload_offset = UBC_PKT_PLAIN_HEADERS;
    info->payload_len = (uint16_t)(udp_len - UBC_PKT_UDP_BYTES);
    memcpy(info->source.mac, frame + 6, 6);
    info->source.ipv4_be = ubc_pkt_load_raw32(frame + 26);
    info->source.udp_port_be = ubc_pkt_load_raw16(frame + UBC_PKT_PLAIN_UDP_OFFSET);
}
#endif

/* Classifies a received frame. rx_flags: UBC_PKT_RX_*. Returns info->kind;
 * info->drop says why when the kind is UBC_PKT_DROP. Inline: the net role
 * calls it per frame, and the common frame's path needs no saved
 * registers of its own here (out of line it paid 15 instructions for
 * them). */
static inline enum ubc_pkt_kind
ubc_pkt_classify(const uint8_t *frame, size_t len, const struct ubc_pkt_self *self,
                 uint32_t rx_flags, struct ubc_pkt_info *info)
{
    UBC_ASSERT(self != NULL && info != NULL);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    size_t udp_len = ubc_pkt_plain_udp_len(frame, len, self);
    if (UBC_LIKELY(udp_len != 0) && ubc_pkt_plain_checksums_valid(frame, udp_len, rx_flags)) {
        ubc_pkt_plain_info(frame, udp_len, info);
        return UBC_PKT_UBC;
    }
#endif
    return ubc_pkt_classify_full(frame, len, self, rx_flags, info);
}

/* Turns a classified ARP request into our reply, in place. Returns the frame
 * length (unchanged). */
size_t ubc_pkt_arp_reply(uint8_t *frame, size_t len, const struct ubc_pkt_info *info,
                         const struct ubc_pkt_self *self);

/* Turns a classified ICMP echo request into the echo reply, in place (same
 * data, TTL reset, checksums recomputed). Returns the frame length. */
size_t ubc_pkt_icmp_echo_reply(uint8_t *frame, size_t len, const struct ubc_pkt_info *info,
                               const struct ubc_pkt_self *self);

/* Where the UDP payload of a frame built by ubc_pkt_udp_build() starts: the
 * caller encodes the payload there first, then builds the headers. */
static inline size_t
ubc_pkt_udp_payload_offset(bool has_vlan)
{
    return UBC_PKT_ETHER_BYTES + (has_vlan ? UBC_PKT_VLAN_BYTES : 0) + UBC_PKT_IPV4_BYTES +
           UBC_PKT_UDP_BYTES;
}

/* A constant written little-endian, as the word whose stores lay down
 * those bytes on this host. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define UBC_PKT_MEMORY64(x) ((uint64_t)(x))
#define UBC_PKT_MEMORY32(x) ((uint32_t)(x))
#else
#define UBC_PKT_MEMORY64(x) __builtin_bswap64((uint64_t)(x))
#define UBC_PKT_MEMORY32(x) __builtin_bswap32((uint32_t)(x))
#endif

/* Two bytes as the native 16-bit word they make in memory (a constant
 * where the bytes are). */
static inline uint16_t
ubc_pkt_bytes16(uint8_t first, uint8_t second)
{
    const uint8_t bytes[2] = { first, second };
    uint16_t word;
    memcpy(&word, bytes, 2);
    return word;
}

/* A 32-bit value in memory order as the sum of its two native words. */
static inline uint64_t
ubc_pkt_halves16(uint32_t raw)
{
    return (raw & 0xffffu) + (raw >> 16);
}

/* Ethernet destination = the peer, source = us (the ethertype is the
 * caller's). The peer's MAC is loaded before any store: it may lie in this
 * frame (a reply built over its request). */
static inline void
ubc_pkt_ethernet_addresses_write(uint8_t *frame, const uint8_t peer_mac[6],
                                 const struct ubc_pkt_self *self)
{
    uint32_t peer_low = ubc_pkt_load_raw32(peer_mac);
    uint16_t peer_high = ubc_pkt_load_raw16(peer_mac + 4);
    memcpy(frame, &peer_low, 4);
    memcpy(frame + 4, &peer_high, 2);
    memcpy(frame + 6, self->mac, 6);
}

/* What a built frame's checksums come from, as native sums of 16-bit words
 * (ubc_pkt.c explains the domain): the IPv4 header, the UDP pseudo-header,
 * and the UDP header (ports and length). */
struct ubc_pkt_udp_sums {
    uint32_t ip;
    uint64_t pseudo;
    uint64_t udp_header;
};

/* The IPv4 ethertype just before ip, then IPv4 (no options, DF, TTL 64)
 * and UDP headers for payload_len bytes; both checksum fields are left for
 * ubc_pkt_checksums_store() or the device. The sums come from the values,
 * never read back: 64-bit loads of bytes just stored one by one stall on
 * store forwarding (measured: most of the builder's time). */
static inline struct ubc_pkt_udp_sums
ubc_pkt_ipv4_udp_write(uint8_t *ip, const struct ubc_pkt_self *self,
                       const struct ubc_pkt_peer *peer, size_t payload_len)
{
    uint32_t self_ipv4 = self->ipv4_be, peer_ipv4 = peer->ipv4_be;
    uint16_t self_port = self->udp_port_be, peer_port = peer->udp_port_be;
    uint16_t udp_len = (uint16_t)(UBC_PKT_UDP_BYTES + payload_len);
    uint16_t total_len = (uint16_t)(UBC_PKT_IPV4_BYTES + udp_len);
    uint16_t udp_len_be = htons(udp_len), total_len_be = htons(total_len);
    /* Ethertype 08 00, version and IHL 45, TOS 0, the length (stored over
     * after), id 0 | DF 40 00, TTL, protocol UDP (17): two stores of
     * immediates (byte stores merged by the compiler loaded their
     * constants from memory: four instructions more a frame). */
    const uint64_t ethertype_to_id = UBC_PKT_MEMORY64(0x450008u);
    const uint32_t df_ttl_udp = UBC_PKT_MEMORY32(0x11000040u | UBC_PKT_TTL_DEFAULT << 16);
    memcpy(ip - 2, &ethertype_to_id, 8);
    memcpy(ip + 6, &df_ttl_udp, 4);
    memcpy(ip + 2, &total_len_be, 2);
    memcpy(ip + 12, &self_ipv4, 4);
    memcpy(ip + 16, &peer_ipv4, 4);
    uint8_t *udp = ip + UBC_PKT_IPV4_BYTES;
    memcpy(udp, &self_port, 2);
    memcpy(udp + 2, &peer_port, 2);
    memcpy(udp + 4, &udp_len_be, 2);
    uint64_t addresses = ubc_pkt_halves16(self_ipv4) + ubc_pkt_halves16(peer_ipv4);
    return (struct ubc_pkt_udp_sums){
        .ip = (uint32_t)(ubc_pkt_bytes16(0x45, 0) + total_len_be + ubc_pkt_bytes16(0x40, 0) +
                         ubc_pkt_bytes16(UBC_PKT_TTL_DEFAULT, 17) + addresses),
        .pseudo = addresses + ubc_pkt_bytes16(0, 17) + udp_len_be,
        .udp_header = (uint64_t)self_port + peer_port + udp_len_be,
    };
}

/* Stores the IPv4 header checksum of ip_sum and the UDP checksum of udp_sum
 * (the pseudo-header's and the UDP header's) and the payload_len bytes
 * after the UDP header (the
 * only bytes read back: the caller encoded them a while ago). A leaf out
 * of line: the checksum code stays in ubc_pkt.c. */
void ubc_pkt_checksums_store(uint8_t *ip, size_t payload_len, uint32_t ip_sum, uint64_t udp_sum);

/* Leaves the checksums to the device (tx offload): the IPv4 field 0, the
 * UDP field the folded pseudo-header sum, not inverted, as DPDK expects. */
void ubc_pkt_checksums_offload(uint8_t *ip, uint64_t pseudo_sum);

/* Writes Ethernet (+ VLAN tag when has_vlan), IPv4 (no options, DF, TTL 64)
 * and UDP headers in front of the payload_len bytes already at
 * ubc_pkt_udp_payload_offset(has_vlan). Returns the frame length, or 0 when
 * it would not fit in cap or exceed the IPv4 limit (nothing written then).
 * tx_flags: UBC_PKT_TX_*. Inline: the net role frames every reply here. */
static inline size_t
ubc_pkt_udp_build(uint8_t *frame, size_t cap, const struct ubc_pkt_self *self,
                  const struct ubc_pkt_peer *peer, bool has_vlan, uint16_t vlan_tci,
                  size_t payload_len, uint32_t tx_flags)
{
    UBC_ASSERT(frame != NULL && self != NULL && peer != NULL);
    size_t payload_offset = ubc_pkt_udp_payload_offset(has_vlan);
    /* The first bound keeps the sum in the second from overflowing. */
    if (payload_len > 0xffff - UBC_PKT_IPV4_BYTES - UBC_PKT_UDP_BYTES ||
        payload_offset + payload_len > cap)
        return 0;
    ubc_pkt_ethernet_addresses_write(frame, peer->mac, self);
    uint8_t *ip = frame + UBC_PKT_ETHER_BYTES;
    if (has_vlan) {
        frame[12] = UBC_PKT_ETHERTYPE_VLAN >> 8, frame[13] = UBC_PKT_ETHERTYPE_VLAN & 0xff;
        frame[14] = (uint8_t)(vlan_tci >> 8), frame[15] = (uint8_t)vlan_tci;
        ip += UBC_PKT_VLAN_BYTES;
    }
    struct ubc_pkt_udp_sums sums = ubc_pkt_ipv4_udp_write(ip, self, peer, payload_len);
    if (tx_flags & UBC_PKT_TX_CHECKSUM_OFFLOAD)
        ubc_pkt_checksums_offload(ip, sums.pseudo);
    else
        ubc_pkt_checksums_store(ip, payload_len, sums.ip, sums.pseudo + sums.udp_header);
    return payload_offset + payload_len;
}

/* A reply to a classified UBC frame, in place: the same VLAN, addresses and
 * ports swapped, no IP options. The reply payload must already be at
 * ubc_pkt_udp_payload_offset(info->has_vlan) (decode the request first: that
 * area may overlap it). Returns the frame length, or 0 as above. */
size_t ubc_pkt_udp_reply(uint8_t *frame, size_t cap, const struct ubc_pkt_info *info,
                         const struct ubc_pkt_self *self, size_t payload_len, uint32_t tx_flags);

/* One's-complement sum of len bytes as big-endian 16-bit words, added to sum
 * (RFC 1071); fold with ubc_pkt_checksum_fold(). */
uint64_t ubc_pkt_checksum_add(uint64_t sum, const uint8_t *data, size_t len);

/* Folds a sum to 16 bits and complements it: the checksum to store (host
 * order; store big-endian). A region that holds its own correct checksum
 * folds to 0. */
uint16_t ubc_pkt_checksum_fold(uint64_t sum);

/* Short stable name of a drop reason, for counters and logs. */
const char *ubc_pkt_drop_name(enum ubc_pkt_drop drop);

#endif /* UBC_PKT_H */
