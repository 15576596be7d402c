/* ubc_pkt.c: frame classification and reply building. See ubc_pkt.h.
 *
 * Each layer checks that its header lies inside the bytes the layer below
 * vouched for (frame length, then IPv4 total length, then UDP length) before
 * reading it, so a lie in any length field becomes a drop reason.
 */
#include "dataplane/wire/ubc_pkt.h"

#include <string.h>

#include <arpa/inet.h>

#include "common/ubc_assert.h"

enum {
    ARP_OPERATION_REQUEST = 1,
    ARP_OPERATION_REPLY = 2,
    IP_PROTOCOL_ICMP = 1,
    IP_PROTOCOL_UDP = 17,
    ICMP_ECHO_REPLY = 0,
    ICMP_ECHO_REQUEST = 8,
    IP_FLAG_MORE_FRAGMENTS = 0x2000,
    IP_FRAGMENT_OFFSET_MASK = 0x1fff,
};

static const uint8_t mac_broadcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static inline void
store_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* The Internet checksum (RFC 1071) in host order: 64-bit words summed
 * with end-around carry in two accumulators, folded to 16 bits, and
 * swapped to the big-endian value once. Since 2^64, 2^32 and 2^16 are all
 * 1 modulo 0xffff, summing 64-bit words is the same as summing 16-bit
 * words; folding keeps a non-zero sum non-zero, so the result is the one
 * the 16-bit definition gives. Bytes past the last whole word go into a
 * zero-padded word at the same offsets. Measured on this machine (four
 * sums of 20, 8, 96 and 64 bytes): 53 ns with 32-bit loads and a folding
 * loop, 24 ns with 64-bit loads split into 32-bit halves; the carry form
 * takes fewer instructions again (docs/wire-protocol.md §12.1). */
/* The last 1..7 bytes as the zero-padded native word. Fixed-size loads
 * assembled with shifts: a variable-length memcpy into the word costs a
 * call and a store-forwarding stall (measured: a third of the checksum). */
static inline uint64_t
checksum_tail_word(const uint8_t *tail, size_t rest)
{
    UBC_ASSERT(rest > 0 && rest < 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t word = 0;
    unsigned shift = 0;
    if (rest >= 4) {
        uint32_t four;
        memcpy(&four, tail, 4);
        word = four, tail += 4, rest -= 4, shift = 32;
    }
    if (rest >= 2) {
        uint16_t two;
        memcpy(&two, tail, 2);
        word |= (uint64_t)two << shift, tail += 2, rest -= 2, shift += 16;
    }
    if (rest == 1)
        word |= (uint64_t)tail[0] << shift;
    return word;
#else
    uint64_t word = 0;
    memcpy(&word, tail, rest);
    return word;
#endif
}

static inline uint64_t
checksum_load64(const uint8_t *at)
{
    uint64_t word;
    memcpy(&word, at, 8);
    return word;
}

static inline uint64_t
checksum_halves(uint64_t word)
{
    return (word & 0xffffffffu) + (word >> 32);
}

/* The end-around-carry sum of len bytes as native 64-bit words: congruent
 * modulo 0xffff to their 16-bit sum (2^64 = 1 modulo 0xffff), 0 only for
 * all-zero data. One accumulator whose carries are counted apart, four
 * words a turn: 14 instructions per 32 bytes where two accumulators, two
 * words a turn, took 18 (gcc pairs each two carries with a setc). */
static inline uint64_t
checksum_words(const uint8_t *data, size_t len)
{
    uint64_t sum = 0, carries = 0;
    const uint8_t *end = data + (len & ~(size_t)31);
#if defined(__x86_64__)
    /* x86-64: the carry chain in the flags, as the Linux kernel's
     * csum_partial: add, three add-with-carry reading memory, and the last
     * carry folded in; 5 instructions per 32 bytes where C's counted
     * carries take 12-14 (gcc cannot keep a carry in the flags). The last
     * `adc $0` cannot carry out: along a chain that starts with a plain
     * add, a carry out leaves at most 2^64 - 2 (a + b + 1 < 2^65 - 1 when
     * a carry in means a <= 2^64 - 2). */
    for (; data != end; data += 32)
        __asm__("addq 0(%[p]), %[s]\n\t"
                "adcq 8(%[p]), %[s]\n\t"
                "adcq 16(%[p]), %[s]\n\t"
                "adcq 24(%[p]), %[s]\n\t"
                "adcq $0, %[s]"
                : [s] "+r"(sum)
                : [p] "r"(data), "m"(*(const uint8_t(*)[32])data)
                : "cc");
#else
    for (; data != end; data += 32) {
        carries += __builtin_add_overflow(sum, checksum_load64(data), &sum);
        carries += __builtin_add_overflow(sum, checksum_load64(data + 8), &sum);
        carries += __builtin_add_overflow(sum, checksum_load64(data + 16), &sum);
        carries += __builtin_add_overflow(sum, checksum_load64(data + 24), &sum);
    }
#endif
    if (len & 16) {
        carries += __builtin_add_overflow(sum, checksum_load64(data), &sum);
        carries += __builtin_add_overflow(sum, checksum_load64(data + 8), &sum);
        data += 16;
    }
    if (len & 8) {
        carries += __builtin_add_overflow(sum, checksum_load64(data), &sum);
        data += 8;
    }
    if (len & 7)
        carries += __builtin_add_overflow(sum, checksum_tail_word(data, len & 7), &sum);
    uint64_t wrapped = __builtin_add_overflow(sum, carries, &sum); /* then sum < carries */
    return sum + wrapped;
}

/* checksum_words() as the sum of its halves, below 2^33: callers add more
 * terms. */
static inline uint64_t
checksum_native(const uint8_t *data, size_t len)
{
    return checksum_halves(checksum_words(data, len));
}

/* sum + word with the end-around carry: add and add-with-carry. */
static inline uint64_t
checksum_add_carry(uint64_t sum, uint64_t word)
{
    uint64_t carry = __builtin_add_overflow(sum, word, &sum);
    return sum + carry; /* a carry left sum < word: no second one */
}

/* A non-zero end-around-carry sum of a region holding its own correct
 * checksum is a multiple of 0xffff: one multiplication and a compare
 * (divisibility by an odd constant), where folding to 16 bits takes nine
 * instructions. The caller vouches for non-zero (a fixed non-zero byte or
 * term in the sum). */
static inline bool
checksum_sum_valid(uint64_t sum)
{
    return sum % 0xffff == 0;
}

/* The 32-to-16-bit step of checksum_fold16(), alone for a sum known to
 * be below 2^32. */
static inline uint64_t
checksum_fold32(uint32_t folded)
{
    uint32_t rotated = folded >> 16 | folded << 16;
    return (uint16_t)((folded + rotated) >> 16);
}

static inline uint64_t
checksum_fold16(uint64_t sum)
{
    /* 64 to 32 bits with the carry added back, then 32 to 16 bits the
     * Linux way: in s + ror(s, 16) the top half is high + low plus the
     * carry out of the bottom half, the end-around-carry sum. Both keep the
     * value modulo 0xffff and keep a non-zero value non-zero; seven
     * instructions where four shift-and-add steps took sixteen. */
    uint32_t low = (uint32_t)sum, high = (uint32_t)(sum >> 32), folded;
    folded = low + high;
    folded += folded < low;
    return checksum_fold32(folded);
}

uint64_t
ubc_pkt_checksum_add(uint64_t sum, const uint8_t *data, size_t len)
{
    UBC_ASSERT(data != NULL || len == 0);
    UBC_ASSERT(len < (1u << 30));
    if (len == 0)
        return sum;
    uint16_t native = (uint16_t)checksum_fold16(checksum_native(data, len));
    return sum + ntohs(native);
}

uint16_t
ubc_pkt_checksum_fold(uint64_t sum)
{
    return (uint16_t)~checksum_fold16(sum);
}

/* The hot paths stay in the native domain from the first byte to the
 * stored checksum: the one's-complement sum of a region read as
 * little-endian words is the byte swap of its sum as big-endian words
 * (RFC 1071, "byte order independence"), and the byte swap of a checksum
 * is the checksum stored the other way round. So a native sum is folded
 * once, compared with 0xffff (which a swap leaves alone) to verify, or
 * complemented and stored with a native store to fill: no ntohs, no
 * second fold. Protocol and length words of the pseudo-header are added
 * as they would lie in memory (htons). */

/* The native sum of an IPv4 header without options: three loads. */
static inline uint64_t
checksum_ipv4_header20(const uint8_t *ip)
{
    uint32_t last;
    memcpy(&last, ip + 16, 4);
    return checksum_halves(checksum_load64(ip)) + checksum_halves(checksum_load64(ip + 8)) + last;
}

/* The native sum of the UDP pseudo-header (RFC 768): the addresses
 * (adjacent in the IPv4 header: one load), the protocol and the length. */
static inline uint64_t
checksum_udp_pseudo(const uint8_t *ip, uint16_t udp_len)
{
    return checksum_halves(checksum_load64(ip + 12)) + htons(IP_PROTOCOL_UDP) + htons(udp_len);
}

/* A region holding its own correct checksum sums to 0xffff in either
 * byte order. */
static inline bool
checksum_native_valid(uint64_t native)
{
    return checksum_fold16(native) == 0xffff;
}

static enum ubc_pkt_kind
drop(struct ubc_pkt_info *info, enum ubc_pkt_drop reason)
{
    UBC_ASSERT(reason != UBC_PKT_DROP_NONE && reason < UBC_PKT_DROP_COUNT);
    info->kind = UBC_PKT_DROP;
    info->drop = reason;
    return UBC_PKT_DROP;
}

/* Ethernet and VLAN. Returns the ethertype, or 0 with info->drop set. */
static uint16_t
classify_ethernet(const uint8_t *frame, size_t len, const struct ubc_pkt_self *self,
                  struct ubc_pkt_info *info)
{
    if (len < UBC_PKT_ETHER_BYTES)
        return drop(info, UBC_PKT_DROP_TRUNCATED), 0;
    if (memcmp(frame, self->mac, 6) != 0 && memcmp(frame, mac_broadcast, 6) != 0)
        return drop(info, UBC_PKT_DROP_MAC_NOT_US), 0;
    if (ubc_pkt_mac_is_group(frame + 6))
        return drop(info, UBC_PKT_DROP_MAC_SOURCE), 0;
    memcpy(info->source.mac, frame + 6, 6);
    uint16_t ethertype = ubc_pkt_load_be16(frame + 12);
    size_t offset = UBC_PKT_ETHER_BYTES;
    if (ethertype == UBC_PKT_ETHERTYPE_QINQ)
        return drop(info, UBC_PKT_DROP_VLAN_NESTED), 0;
    if (ethertype == UBC_PKT_ETHERTYPE_VLAN) {
        if (len < UBC_PKT_ETHER_BYTES + UBC_PKT_VLAN_BYTES)
            return drop(info, UBC_PKT_DROP_TRUNCATED), 0;
        info->has_vlan = true;
        info->vlan_tci = ubc_pkt_load_be16(frame + 14);
        ethertype = ubc_pkt_load_be16(frame + 16);
        offset += UBC_PKT_VLAN_BYTES;
        if (ethertype == UBC_PKT_ETHERTYPE_VLAN || ethertype == UBC_PKT_ETHERTYPE_QINQ)
            return drop(info, UBC_PKT_DROP_VLAN_NESTED), 0;
    }
    if (ethertype != UBC_PKT_ETHERTYPE_IPV4 && ethertype != UBC_PKT_ETHERTYPE_ARP)
        return drop(info, UBC_PKT_DROP_ETHERTYPE), 0;
    info->l3_offset = (uint16_t)offset;
    return ethertype;
}

static enum ubc_pkt_kind
classify_arp(const uint8_t *frame, size_t len, const struct ubc_pkt_self *self,
             struct ubc_pkt_info *info)
{
    const uint8_t *arp = frame + info->l3_offset;
    if (len - info->l3_offset < UBC_PKT_ARP_BYTES)
        return drop(info, UBC_PKT_DROP_TRUNCATED);
    /* Ethernet hardware (1), IPv4 protocol, 6-byte and 4-byte addresses. */
    if (ubc_pkt_load_be16(arp) != 1 || ubc_pkt_load_be16(arp + 2) != UBC_PKT_ETHERTYPE_IPV4 ||
        arp[4] != 6 || arp[5] != 4)
        return drop(info, UBC_PKT_DROP_ARP_FORMAT);
    if (ubc_pkt_load_be16(arp + 6) != ARP_OPERATION_REQUEST)
        return drop(info, UBC_PKT_DROP_ARP_NOT_REQUEST);
    if (ubc_pkt_load_raw32(arp + 24) != self->ipv4_be)
        return drop(info, UBC_PKT_DROP_ARP_NOT_US);
    if (ubc_pkt_mac_is_group(arp + 8))
        return drop(info, UBC_PKT_DROP_MAC_SOURCE);
    memcpy(info->source.mac, arp + 8, 6); /* the sender hardware address answers */
    info->source.ipv4_be = ubc_pkt_load_raw32(arp + 14);
    info->l3_end = (uint16_t)(info->l3_offset + UBC_PKT_ARP_BYTES);
    info->kind = UBC_PKT_ARP_REQUEST;
    return UBC_PKT_ARP_REQUEST;
}

/* Checks the IPv4 header; sets l4_offset and l3_end. Returns the protocol,
 * or -1 with the drop recorded. */
static int
classify_ipv4_header(const uint8_t *frame, size_t len, const struct ubc_pkt_self *self,
                     uint32_t rx_flags, struct ubc_pkt_info *info)
{
    const uint8_t *ip = frame + info->l3_offset;
    size_t available = len - info->l3_offset;
    if (available < UBC_PKT_IPV4_BYTES)
        return drop(info, UBC_PKT_DROP_TRUNCATED), -1;
    if ((ip[0] >> 4) != 4)
        return drop(info, UBC_PKT_DROP_IP_VERSION), -1;
    size_t header_len = (size_t)(ip[0] & 0x0f) * 4;
    size_t total_len = ubc_pkt_load_be16(ip + 2);
    if (total_len > available)
        return drop(info, UBC_PKT_DROP_IP_TOTAL_LEN), -1;
    if (header_len < UBC_PKT_IPV4_BYTES || header_len > total_len)
        return drop(info, UBC_PKT_DROP_IP_HEADER_LEN), -1;
    if ((rx_flags & UBC_PKT_RX_IP_CHECKSUM_GOOD) == 0 &&
        !checksum_native_valid(header_len == UBC_PKT_IPV4_BYTES ? checksum_ipv4_header20(ip)
                                                                : checksum_native(ip, header_len)))
        return drop(info, UBC_PKT_DROP_IP_CHECKSUM), -1;
    uint16_t fragment = ubc_pkt_load_be16(ip + 6);
    if ((fragment & (IP_FLAG_MORE_FRAGMENTS | IP_FRAGMENT_OFFSET_MASK)) != 0)
        return drop(info, UBC_PKT_DROP_IP_FRAGMENT), -1;
    if (ip[8] == 0)
        return drop(info, UBC_PKT_DROP_IP_TTL), -1;
    if (ubc_pkt_load_raw32(ip + 16) != self->ipv4_be)
        return drop(info, UBC_PKT_DROP_IP_NOT_US), -1;
    if (ubc_pkt_ipv4_source_bad(ip + 12, self->ipv4_be))
        return drop(info, UBC_PKT_DROP_IP_SOURCE), -1;
    info->source.ipv4_be = ubc_pkt_load_raw32(ip + 12);
    info->l4_offset = (uint16_t)(info->l3_offset + header_len);
    info->l3_end = (uint16_t)(info->l3_offset + total_len);
    return ip[9];
}

static enum ubc_pkt_kind
classify_icmp(const uint8_t *frame, struct ubc_pkt_info *info)
{
    const uint8_t *icmp = frame + info->l4_offset;
    size_t icmp_len = (size_t)info->l3_end - info->l4_offset;
    if (icmp_len < UBC_PKT_ICMP_BYTES)
        return drop(info, UBC_PKT_DROP_TRUNCATED);
    if (icmp[0] != ICMP_ECHO_REQUEST || icmp[1] != 0)
        return drop(info, UBC_PKT_DROP_ICMP_NOT_ECHO);
    if (ubc_pkt_checksum_fold(ubc_pkt_checksum_add(0, icmp, icmp_len)) != 0)
        return drop(info, UBC_PKT_DROP_ICMP_CHECKSUM);
    info->payload_offset = info->l4_offset;
    info->payload_len = (uint16_t)icmp_len;
    info->kind = UBC_PKT_ICMP_ECHO;
    return UBC_PKT_ICMP_ECHO;
}

static enum ubc_pkt_kind
classify_udp(const uint8_t *frame, const struct ubc_pkt_self *self, uint32_t rx_flags,
             struct ubc_pkt_info *info)
{
    const uint8_t *udp = frame + info->l4_offset;
    size_t ip_payload_len = (size_t)info->l3_end - info->l4_offset;
    if (ip_payload_len < UBC_PKT_UDP_BYTES)
        return drop(info, UBC_PKT_DROP_TRUNCATED);
    uint16_t udp_len = ubc_pkt_load_be16(udp + 4);
    if (udp_len != ip_payload_len)
        return drop(info, UBC_PKT_DROP_UDP_LENGTH);
    if (ubc_pkt_load_raw16(udp + 2) != self->udp_port_be)
        return drop(info, UBC_PKT_DROP_UDP_PORT);
    if (ubc_pkt_load_be16(udp) == 0)
        return drop(info, UBC_PKT_DROP_UDP_SOURCE_PORT);
    if ((rx_flags & UBC_PKT_RX_L4_CHECKSUM_GOOD) == 0 && ubc_pkt_load_be16(udp + 6) != 0) {
        const uint8_t *ip = frame + info->l3_offset;
        if (!checksum_native_valid(checksum_udp_pseudo(ip, udp_len) +
                                   checksum_native(udp, udp_len)))
            return drop(info, UBC_PKT_DROP_UDP_CHECKSUM);
    }
    info->source.udp_port_be = ubc_pkt_load_raw16(udp);
    info->payload_offset = (uint16_t)(info->l4_offset + UBC_PKT_UDP_BYTES);
    info->payload_len = (uint16_t)(udp_len - UBC_PKT_UDP_BYTES);
    info->kind = UBC_PKT_UBC;
    return UBC_PKT_UBC;
}

enum ubc_pkt_kind
ubc_pkt_classify_full(const uint8_t *frame, size_t len, const struct ubc_pkt_self *self,
                      uint32_t rx_flags, struct ubc_pkt_info *info)
{
    UBC_ASSERT(self != NULL && info != NULL);
    memset(info, 0, sizeof(*info));
    if (frame == NULL)
        return drop(info, UBC_PKT_DROP_TRUNCATED);
    if (len > UBC_PKT_FRAME_MAX)
        return drop(info, UBC_PKT_DROP_OVERSIZE);
    uint16_t ethertype = classify_ethernet(frame, len, self, info);
    if (ethertype == 0)
        return UBC_PKT_DROP;
    UBC_ASSERT(info->l3_offset <= len);
    if (ethertype == UBC_PKT_ETHERTYPE_ARP)
        return classify_arp(frame, len, self, info);
    int protocol = classify_ipv4_header(frame, len, self, rx_flags, info);
    if (protocol < 0)
        return UBC_PKT_DROP;
    UBC_ASSERT(info->l4_offset <= info->l3_end && info->l3_end <= len);
    if (protocol == IP_PROTOCOL_UDP)
        return classify_udp(frame, self, rx_flags, info);
    if (protocol == IP_PROTOCOL_ICMP)
        return classify_icmp(frame, info);
    return drop(info, UBC_PKT_DROP_IP_PROTOCOL);
}

/* The checksums of the common frame: the IPv4 header, and the UDP
 * datagram with its pseudo-header, whose addresses lie just before the UDP
 * header (one region from the source address on, one loop). Out of line,
 * so that the checksum code stays in this file: the call costs about five
 * instructions in the inline caller. */
bool
ubc_pkt_plain_checksums_valid(const uint8_t *frame, size_t udp_len, uint32_t rx_flags)
{
    const uint8_t *ip = frame + UBC_PKT_ETHER_BYTES;
    uint32_t last;
    memcpy(&last, ip + 16, 4);
    /* Non-zero: the header starts with 0x45. */
    if ((rx_flags & UBC_PKT_RX_IP_CHECKSUM_GOOD) == 0 &&
        !checksum_sum_valid(checksum_add_carry(
            checksum_add_carry(checksum_load64(ip), checksum_load64(ip + 8)), last)))
        return false;
    if ((rx_flags & UBC_PKT_RX_L4_CHECKSUM_GOOD) != 0 ||
        ubc_pkt_load_raw16(ip + UBC_PKT_IPV4_BYTES + 6) == 0)
        return true;
    /* Non-zero: the protocol's term. */
    uint64_t pseudo = htons(IP_PROTOCOL_UDP) + htons((uint16_t)udp_len);
    return checksum_sum_valid(checksum_add_carry(checksum_words(ip + 12, 8 + udp_len), pseudo));
}

size_t
ubc_pkt_arp_reply(uint8_t *frame, size_t len, const struct ubc_pkt_info *info,
                  const struct ubc_pkt_self *self)
{
    UBC_ASSERT(info->kind == UBC_PKT_ARP_REQUEST);
    UBC_ASSERT((size_t)info->l3_offset + UBC_PKT_ARP_BYTES <= len);
    uint8_t *arp = frame + info->l3_offset;
    uint8_t requester_mac[6];
    uint8_t requester_ipv4[4];
    memcpy(requester_mac, arp + 8, 6);
    memcpy(requester_ipv4, arp + 14, 4);
    ubc_pkt_ethernet_addresses_write(frame, requester_mac, self);
    store_be16(arp + 6, ARP_OPERATION_REPLY);
    memcpy(arp + 8, self->mac, 6);
    memcpy(arp + 14, &self->ipv4_be, 4);
    memcpy(arp + 18, requester_mac, 6);
    memcpy(arp + 24, requester_ipv4, 4);
    return len;
}

static void
ipv4_checksum_set(uint8_t *ip, size_t header_len)
{
    store_be16(ip + 10, 0);
    store_be16(ip + 10, ubc_pkt_checksum_fold(ubc_pkt_checksum_add(0, ip, header_len)));
}

size_t
ubc_pkt_icmp_echo_reply(uint8_t *frame, size_t len, const struct ubc_pkt_info *info,
                        const struct ubc_pkt_self *self)
{
    UBC_ASSERT(info->kind == UBC_PKT_ICMP_ECHO);
    UBC_ASSERT(info->l3_end <= len && info->l4_offset + UBC_PKT_ICMP_BYTES <= info->l3_end);
    uint8_t *ip = frame + info->l3_offset;
    uint8_t *icmp = frame + info->l4_offset;
    ubc_pkt_ethernet_addresses_write(frame, info->source.mac, self);
    memcpy(ip + 16, ip + 12, 4);
    memcpy(ip + 12, &self->ipv4_be, 4);
    ip[8] = UBC_PKT_TTL_DEFAULT;
    ipv4_checksum_set(ip, (size_t)info->l4_offset - info->l3_offset);
    icmp[0] = ICMP_ECHO_REPLY;
    store_be16(icmp + 2, 0);
    size_t icmp_len = (size_t)info->l3_end - info->l4_offset;
    store_be16(icmp + 2, ubc_pkt_checksum_fold(ubc_pkt_checksum_add(0, icmp, icmp_len)));
    return len;
}

void
ubc_pkt_checksums_store(uint8_t *ip, size_t payload_len, uint32_t ip_sum, uint64_t udp_sum)
{
    uint16_t ip_checksum = (uint16_t)~checksum_fold32(ip_sum);
    memcpy(ip + 10, &ip_checksum, 2);
    uint8_t *udp = ip + UBC_PKT_IPV4_BYTES;
    uint64_t sum =
        checksum_add_carry(checksum_words(udp + UBC_PKT_UDP_BYTES, payload_len), udp_sum);
    uint16_t checksum = (uint16_t)~checksum_fold16(sum);
    checksum = checksum == 0 ? 0xffff : checksum; /* 0 means "none"; a swap keeps both */
    memcpy(udp + 6, &checksum, 2);
}

void
ubc_pkt_checksums_offload(uint8_t *ip, uint64_t pseudo_sum)
{
    store_be16(ip + 10, 0);
    uint16_t folded = (uint16_t)checksum_fold16(pseudo_sum); /* folded, not inverted */
    memcpy(ip + UBC_PKT_IPV4_BYTES + 6, &folded, 2);
}

size_t
ubc_pkt_udp_reply(uint8_t *frame, size_t cap, const struct ubc_pkt_info *info,
                  const struct ubc_pkt_self *self, size_t payload_len, uint32_t tx_flags)
{
    UBC_ASSERT(info->kind == UBC_PKT_UBC);
    struct ubc_pkt_peer peer = info->source; /* copied: the frame is rewritten */
    return ubc_pkt_udp_build(frame, cap, self, &peer, info->has_vlan, info->vlan_tci, payload_len,
                             tx_flags);
}

static const char *const drop_names[UBC_PKT_DROP_COUNT] = {
    [UBC_PKT_DROP_NONE] = "none",
    [UBC_PKT_DROP_TRUNCATED] = "truncated",
    [UBC_PKT_DROP_OVERSIZE] = "oversize",
    [UBC_PKT_DROP_MAC_NOT_US] = "mac-not-us",
    [UBC_PKT_DROP_MAC_SOURCE] = "mac-source",
    [UBC_PKT_DROP_VLAN_NESTED] = "vlan-nested",
    [UBC_PKT_DROP_ETHERTYPE] = "ethertype",
    [UBC_PKT_DROP_ARP_FORMAT] = "arp-format",
    [UBC_PKT_DROP_ARP_NOT_REQUEST] = "arp-not-request",
    [UBC_PKT_DROP_ARP_NOT_US] = "arp-not-us",
    [UBC_PKT_DROP_IP_VERSION] = "ip-version",
    [UBC_PKT_DROP_IP_HEADER_LEN] = "ip-header-len",
    [UBC_PKT_DROP_IP_TOTAL_LEN] = "ip-total-len",
    [UBC_PKT_DROP_IP_CHECKSUM] = "ip-checksum",
    [UBC_PKT_DROP_IP_FRAGMENT] = "ip-fragment",
    [UBC_PKT_DROP_IP_TTL] = "ip-ttl",
    [UBC_PKT_DROP_IP_NOT_US] = "ip-not-us",
    [UBC_PKT_DROP_IP_SOURCE] = "ip-source",
    [UBC_PKT_DROP_IP_PROTOCOL] = "ip-protocol",
    [UBC_PKT_DROP_ICMP_NOT_ECHO] = "icmp-not-echo",
    [UBC_PKT_DROP_ICMP_CHECKSUM] = "icmp-checksum",
    [UBC_PKT_DROP_UDP_LENGTH] = "udp-length",
    [UBC_PKT_DROP_UDP_CHECKSUM] = "udp-checksum",
    [UBC_PKT_DROP_UDP_PORT] = "udp-port",
    [UBC_PKT_DROP_UDP_SOURCE_PORT] = "udp-source-port",
};

const char *
ubc_pkt_drop_name(enum ubc_pkt_drop reason)
{
    if ((unsigned)reason >= UBC_PKT_DROP_COUNT)
        return "unknown-drop";
    return drop_names[reason];
}
