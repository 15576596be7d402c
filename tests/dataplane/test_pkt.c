/* test_pkt.c: frame classification, every drop reason, checksum vectors,
 * byte-exact ARP and ICMP replies, UDP build/reply round trips.
 * The expected frames were computed independently (Python, struct.pack). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "common/ubc_assert.h"
#include "dataplane/wire/ubc_pkt.h"
#include "dataplane/wire/ubc_bad.h"

#define MAC_US 0x02, 0x00, 0x00, 0x00, 0x00, 0x01
#define MAC_PEER 0x02, 0x00, 0x00, 0x00, 0x00, 0x02
#define IP_US 0x0a, 0x00, 0x00, 0x01
#define IP_PEER 0x0a, 0x00, 0x00, 0x02

static struct ubc_pkt_self self_us;
static bool drop_seen[UBC_PKT_DROP_COUNT]; /* which reasons the tests produced */
static struct ubc_pkt_peer peer_them;

static int
setup(void **state)
{
    (void)state;
    static const uint8_t mac_us[6] = { MAC_US }, mac_peer[6] = { MAC_PEER };
    memcpy(self_us.mac, mac_us, 6);
    self_us.ipv4_be = htonl(0x0a000001);
    self_us.udp_port_be = htons(7400);
    memcpy(peer_them.mac, mac_peer, 6);
    peer_them.ipv4_be = htonl(0x0a000002);
    peer_them.udp_port_be = htons(40000);
    return 0;
}

static void
test_checksum_vectors(void **state)
{
    (void)state;
    /* RFC 1071 section 3: the sum of these words is 0xddf2. */
    static const uint8_t rfc1071[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
    assert_int_equal(ubc_pkt_checksum_fold(ubc_pkt_checksum_add(0, rfc1071, 8)), 0x220d);
    /* A classic IPv4 header (192.168.0.1 -> 192.168.0.199): checksum 0xb861. */
    uint8_t ip[] = { 0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                     0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7 };
    assert_int_equal(ubc_pkt_checksum_fold(ubc_pkt_checksum_add(0, ip, 20)), 0xb861);
    ip[10] = 0xb8, ip[11] = 0x61;
    assert_int_equal(ubc_pkt_checksum_fold(ubc_pkt_checksum_add(0, ip, 20)), 0);
    /* Odd length: the last byte is the high half of a zero-padded word. */
    static const uint8_t odd[] = { 0x12, 0x34, 0x56 };
    assert_int_equal(ubc_pkt_checksum_fold(ubc_pkt_checksum_add(0, odd, 3)),
                     (uint16_t) ~(0x1234 + 0x5600));
    assert_int_equal(ubc_pkt_checksum_fold(0), 0xffff);
    assert_int_equal(ubc_pkt_checksum_fold(0x1fffe), 0); /* carries fold twice */
}

/* The obvious big-endian word sum, to check the word-at-a-time version. */
static uint16_t
checksum_reference(uint32_t initial, const uint8_t *data, size_t len)
{
    uint64_t sum = initial;
    for (size_t i = 0; i < len; i++)
        sum += (i & 1) ? data[i] : (uint64_t)data[i] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static void
test_checksum_differential(void **state)
{
    (void)state;
    uint8_t data[300];
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (int round = 0; round < 2000; round++) {
        size_t len = (size_t)(seed >> 40) % sizeof(data);
        for (size_t i = 0; i < len; i++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            /* Runs of 0xff stress the carries. */
            data[i] = (round & 1) ? 0xff : (uint8_t)(seed >> 56);
        }
        uint32_t initial = (uint32_t)(seed >> 8) & 0x3ffff;
        size_t offset = (size_t)round % 4; /* unaligned starts too */
        if (offset > len)
            offset = 0;
        assert_int_equal(
            ubc_pkt_checksum_fold(ubc_pkt_checksum_add(initial, data + offset, len - offset)),
            checksum_reference(initial, data + offset, len - offset));
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    }
}

/* The UDP checksum of a built frame by the big-endian reference: the
 * pseudo-header (addresses, protocol, length) as bytes, then the segment. */
static uint16_t
udp_checksum_reference(const uint8_t *ip, const uint8_t *udp, size_t udp_len)
{
    uint8_t pseudo[12] = { 0 };
    memcpy(pseudo, ip + 12, 8);
    pseudo[9] = 17;
    pseudo[10] = (uint8_t)(udp_len >> 8), pseudo[11] = (uint8_t)udp_len;
    uint16_t pseudo_sum = (uint16_t)~checksum_reference(0, pseudo, sizeof(pseudo));
    return checksum_reference(pseudo_sum, udp, udp_len);
}

/* Frames built with random addresses, ports and payload lengths (odd ones
 * too) carry the checksums the reference computes; the classifier takes
 * them, and drops them by the right reason once a byte is flipped. The
 * builder sums headers from values in the host's byte order: this checks
 * that against the byte-level definition. */
static void
test_udp_build_checksums_differential(void **state)
{
    (void)state;
    uint8_t frame[400];
    uint64_t seed = 0x243f6a8885a308d3ull;
    for (int round = 0; round < 3000; round++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        size_t payload_len = (size_t)(seed >> 33) % 300;
        struct ubc_pkt_peer peer = peer_them;
        peer.ipv4_be = htonl(0x0a000000u | ((uint32_t)(seed >> 8) & 0xffffffu));
        peer.udp_port_be = htons((uint16_t)(1 + (seed >> 20) % 65535));
        for (size_t i = 0; i < payload_len; i++)
            frame[42 + i] = (round & 3) == 0 ? 0xff : (uint8_t)(seed >> (8 * (i % 8)));
        size_t length =
            ubc_pkt_udp_build(frame, sizeof(frame), &self_us, &peer, false, 0, payload_len, 0);
        assert_int_equal(length, 42 + payload_len);
        const uint8_t *ip = frame + 14, *udp = frame + 34;
        assert_int_equal(checksum_reference(0, ip, 20), 0);
        uint16_t stored = (uint16_t)(udp[6] << 8 | udp[7]);
        uint8_t segment[308];
        memcpy(segment, udp, 8 + payload_len);
        segment[6] = segment[7] = 0;
        uint16_t expected = udp_checksum_reference(ip, segment, 8 + payload_len);
        assert_int_equal(stored, expected == 0 ? 0xffff : expected);
        /* From the peer's side: its address is ours, ours is its. */
        struct ubc_pkt_self them = { .ipv4_be = peer.ipv4_be, .udp_port_be = peer.udp_port_be };
        memcpy(them.mac, peer.mac, 6);
        struct ubc_pkt_info info;
        assert_int_equal(ubc_pkt_classify(frame, length, &them, 0, &info), UBC_PKT_UBC);
        assert_int_equal(info.payload_len, payload_len);
        if (payload_len > 0) {
            frame[42 + (seed >> 12) % payload_len] ^= 0x10;
            assert_int_equal(ubc_pkt_classify(frame, length, &them, 0, &info), UBC_PKT_DROP);
            assert_int_equal(info.drop, UBC_PKT_DROP_UDP_CHECKSUM);
        }
        frame[14 + 8] ^= 0x01; /* the TTL: covered by the IPv4 checksum alone */
        assert_int_equal(ubc_pkt_classify(frame, length, &them, 0, &info), UBC_PKT_DROP);
        assert_int_equal(info.drop, UBC_PKT_DROP_IP_CHECKSUM);
    }
}

/* With tx offload the UDP field holds the folded pseudo-header sum (not
 * inverted) and the IPv4 checksum is left 0, as DPDK's offload expects. */
static void
test_udp_build_offload_fields(void **state)
{
    (void)state;
    uint8_t frame[128] = { 0 };
    size_t length = ubc_pkt_udp_build(frame, sizeof(frame), &self_us, &peer_them, false, 0, 21,
                                      UBC_PKT_TX_CHECKSUM_OFFLOAD);
    assert_int_equal(length, 42 + 21);
    assert_int_equal(frame[24], 0);
    assert_int_equal(frame[25], 0);
    uint8_t pseudo[12] = { IP_US, IP_PEER, 0, 17, 0, 29 };
    uint16_t folded = (uint16_t)~checksum_reference(0, pseudo, sizeof(pseudo));
    assert_int_equal(frame[40] << 8 | frame[41], folded);
}

static const uint8_t arp_request[60] = {
    0xff, 0xff, 0xff, 0xff, 0xff,     0xff,    MAC_PEER, 0x08, 0x06, 0x00, 0x01, 0x08, 0x00,
    0x06, 0x04, 0x00, 0x01, MAC_PEER, IP_PEER, 0x00,     0x00, 0x00, 0x00, 0x00, 0x00, IP_US,
};
static const uint8_t arp_reply_expected[60] = {
    MAC_PEER, MAC_US, 0x08, 0x06, 0x00,   0x01,  0x08,     0x00,
    0x06,     0x04,   0x00, 0x02, MAC_US, IP_US, MAC_PEER, IP_PEER,
};

static void
test_arp_reply_exact(void **state)
{
    (void)state;
    uint8_t frame[60];
    memcpy(frame, arp_request, sizeof(frame));
    struct ubc_pkt_info info;
    assert_int_equal(ubc_pkt_classify(frame, sizeof(frame), &self_us, 0, &info),
                     UBC_PKT_ARP_REQUEST);
    assert_memory_equal(info.source.mac, peer_them.mac, 6);
    assert_int_equal(info.source.ipv4_be, peer_them.ipv4_be);
    assert_int_equal(ubc_pkt_arp_reply(frame, sizeof(frame), &info, &self_us), sizeof(frame));
    assert_memory_equal(frame, arp_reply_expected, sizeof(frame));
    /* Our own reply is not a request for us. */
    assert_int_equal(ubc_pkt_classify(frame, sizeof(frame), &self_us, 0, &info), UBC_PKT_DROP);
    assert_int_equal(info.drop, UBC_PKT_DROP_MAC_NOT_US);
}

static const uint8_t icmp_request[50] = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x08,
    0x00, 0x45, 0x00, 0x00, 0x24, 0xab, 0xcd, 0x40, 0x00, 0x3f, 0x01, 0x7c, 0x09,
    0x0a, 0x00, 0x00, 0x02, 0x0a, 0x00, 0x00, 0x01, 0x08, 0x00, 0x2e, 0x37, 0x12,
    0x34, 0x00, 0x01, 0x70, 0x69, 0x6e, 0x67, 0x64, 0x61, 0x74, 0x61,
};
static const uint8_t icmp_reply_expected[50] = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08,
    0x00, 0x45, 0x00, 0x00, 0x24, 0xab, 0xcd, 0x40, 0x00, 0x40, 0x01, 0x7b, 0x09,
    0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02, 0x00, 0x00, 0x36, 0x37, 0x12,
    0x34, 0x00, 0x01, 0x70, 0x69, 0x6e, 0x67, 0x64, 0x61, 0x74, 0x61,
};

static void
test_icmp_reply_exact(void **state)
{
    (void)state;
    uint8_t frame[50];
    memcpy(frame, icmp_request, sizeof(frame));
    struct ubc_pkt_info info;
    assert_int_equal(ubc_pkt_classify(frame, sizeof(frame), &self_us, 0, &info), UBC_PKT_ICMP_ECHO);
    assert_int_equal(info.payload_len, 16);
    assert_int_equal(ubc_pkt_icmp_echo_reply(frame, sizeof(frame), &info, &self_us), sizeof(frame));
    assert_memory_equal(frame, icmp_reply_expected, sizeof(frame));
}

/* Our builder from us to the peer, checked against an independent frame. */
static const uint8_t udp_expected[53] = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00,
    0x45, 0x00, 0x00, 0x27, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x26, 0xc4, 0x0a, 0x00,
    0x00, 0x01, 0x0a, 0x00, 0x00, 0x02, 0x1c, 0xe8, 0x9c, 0x40, 0x00, 0x13, 0x4a, 0xc6,
    0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x2c, 0x20, 0x75, 0x62, 0x63, 0x21,
};

static void
test_udp_build_exact(void **state)
{
    (void)state;
    uint8_t frame[128];
    memset(frame, 0xcc, sizeof(frame));
    size_t offset = ubc_pkt_udp_payload_offset(false);
    assert_int_equal(offset, 42);
    memcpy(frame + offset, "hello, ubc!", 11);
    assert_int_equal(ubc_pkt_udp_build(frame, sizeof(frame), &self_us, &peer_them, false, 0, 11, 0),
                     53);
    assert_memory_equal(frame, udp_expected, 53);
    assert_int_equal(ubc_pkt_udp_build(frame, 52, &self_us, &peer_them, false, 0, 11, 0), 0);
    assert_int_equal(ubc_pkt_udp_build(frame, 53, &self_us, &peer_them, false, 0, 11, 0), 53);
    /* Offload: IPv4 checksum left 0, UDP field holds the pseudo-header sum. */
    assert_int_equal(ubc_pkt_udp_build(frame, 53, &self_us, &peer_them, false, 0, 11,
                                       UBC_PKT_TX_CHECKSUM_OFFLOAD),
                     53);
    assert_int_equal(frame[24] | frame[25], 0);
    /* 0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 17 + 19 = 0x1427 */
    assert_int_equal(frame[40] << 8 | frame[41], 0x1427);
}

/* A valid UBC datagram from the peer to us: built by swapping roles. */
static size_t
frame_to_us(uint8_t *frame, size_t cap, bool vlan, size_t payload_len)
{
    struct ubc_pkt_self as_peer = { .ipv4_be = peer_them.ipv4_be,
                                    .udp_port_be = peer_them.udp_port_be };
    memcpy(as_peer.mac, peer_them.mac, 6);
    struct ubc_pkt_peer to_us = { .ipv4_be = self_us.ipv4_be, .udp_port_be = self_us.udp_port_be };
    memcpy(to_us.mac, self_us.mac, 6);
    size_t offset = ubc_pkt_udp_payload_offset(vlan);
    for (size_t i = 0; i < payload_len; i++)
        frame[offset + i] = (uint8_t)(i * 7 + 1);
    size_t len = ubc_pkt_udp_build(frame, cap, &as_peer, &to_us, vlan, 0x2064, payload_len, 0);
    assert_int_not_equal(len, 0);
    return len;
}

static void
test_udp_round_trip_and_reply(void **state)
{
    (void)state;
    for (int vlan = 0; vlan <= 1; vlan++) {
        uint8_t frame[256];
        size_t len = frame_to_us(frame, sizeof(frame), vlan, 100);
        struct ubc_pkt_info info;
        assert_int_equal(ubc_pkt_classify(frame, len, &self_us, 0, &info), UBC_PKT_UBC);
        assert_int_equal(info.has_vlan, vlan);
        assert_int_equal(info.vlan_tci, vlan ? 0x2064 : 0);
        assert_int_equal(info.payload_offset, ubc_pkt_udp_payload_offset(vlan));
        assert_int_equal(info.payload_len, 100);
        assert_int_equal(info.source.udp_port_be, peer_them.udp_port_be);
        assert_int_equal(info.source.ipv4_be, peer_them.ipv4_be);
        assert_memory_equal(info.source.mac, peer_them.mac, 6);
        /* The reply goes back to the peer: classify it from the peer's side. */
        size_t reply_len = ubc_pkt_udp_reply(frame, sizeof(frame), &info, &self_us, 30, 0);
        assert_int_equal(reply_len, ubc_pkt_udp_payload_offset(vlan) + 30);
        struct ubc_pkt_self peer_self = { .ipv4_be = peer_them.ipv4_be,
                                          .udp_port_be = peer_them.udp_port_be };
        memcpy(peer_self.mac, peer_them.mac, 6);
        struct ubc_pkt_info back;
        assert_int_equal(ubc_pkt_classify(frame, reply_len, &peer_self, 0, &back), UBC_PKT_UBC);
        assert_int_equal(back.source.udp_port_be, self_us.udp_port_be);
        assert_int_equal(back.vlan_tci, info.vlan_tci);
        assert_int_equal(back.payload_len, 30);
    }
}

static void
fix_ip_checksum(uint8_t *frame, size_t l3)
{
    size_t header_len = (size_t)(frame[l3] & 0x0f) * 4;
    frame[l3 + 10] = frame[l3 + 11] = 0;
    uint16_t c = ubc_pkt_checksum_fold(ubc_pkt_checksum_add(0, frame + l3, header_len));
    frame[l3 + 10] = (uint8_t)(c >> 8), frame[l3 + 11] = (uint8_t)c;
}

enum { L3 = 14, L4 = 34, BASE_LEN = 42 + 16 };

/* A mutation of the valid base frame and the drop it must cause. */
struct drop_case {
    const char *what;
    size_t offset;
    uint8_t value;
    bool fix_ip; /* recompute the IPv4 checksum after the mutation */
    size_t len;  /* 0: the base length */
    enum ubc_pkt_drop expected;
};

static const struct drop_case drop_cases[] = {
    { "runt", 0, 0x02, false, 10, UBC_PKT_DROP_TRUNCATED },
    { "ip cut", 0, 0x02, false, L3 + 10, UBC_PKT_DROP_TRUNCATED },
    { "dst mac", 5, 0x09, false, 0, UBC_PKT_DROP_MAC_NOT_US },
    { "src mac group", 6, 0x01, false, 0, UBC_PKT_DROP_MAC_SOURCE },
    { "qinq", 12, 0x88, false, 0, UBC_PKT_DROP_ETHERTYPE }, /* 0x8800: unknown */
    { "ipv6", 13, 0xdd, false, 0, UBC_PKT_DROP_ETHERTYPE },
    { "version", L3, 0x65, true, 0, UBC_PKT_DROP_IP_VERSION },
    { "ihl 4", L3, 0x44, false, 0, UBC_PKT_DROP_IP_HEADER_LEN },
    { "ihl 15", L3, 0x4f, false, 0, UBC_PKT_DROP_IP_HEADER_LEN },
    { "total len", L3 + 2, 0x05, true, 0, UBC_PKT_DROP_IP_TOTAL_LEN },
    { "checksum", L3 + 11, 0x00, false, 0, UBC_PKT_DROP_IP_CHECKSUM },
    { "more fragments", L3 + 6, 0x20, true, 0, UBC_PKT_DROP_IP_FRAGMENT },
    { "fragment offset", L3 + 7, 0x01, true, 0, UBC_PKT_DROP_IP_FRAGMENT },
    { "ttl 0", L3 + 8, 0x00, true, 0, UBC_PKT_DROP_IP_TTL },
    { "tcp", L3 + 9, 6, true, 0, UBC_PKT_DROP_IP_PROTOCOL },
    { "src 0.x", L3 + 12, 0, true, 0, UBC_PKT_DROP_IP_SOURCE },
    { "src loopback", L3 + 12, 127, true, 0, UBC_PKT_DROP_IP_SOURCE },
    { "src multicast", L3 + 12, 224, true, 0, UBC_PKT_DROP_IP_SOURCE },
    { "src ours", L3 + 15, 1, true, 0, UBC_PKT_DROP_IP_SOURCE },
    { "dst other", L3 + 19, 9, true, 0, UBC_PKT_DROP_IP_NOT_US },
    { "udp length", L4 + 5, 25, false, 0, UBC_PKT_DROP_UDP_LENGTH },
    { "udp checksum", L4 + 8, 0x77, false, 0, UBC_PKT_DROP_UDP_CHECKSUM },
    { "udp port", L4 + 3, 0xe9, false, 0, UBC_PKT_DROP_UDP_PORT },
};

static void
test_drop_reasons(void **state)
{
    (void)state;
    for (size_t i = 0; i < UBC_ARRAY_SIZE(drop_cases); i++) {
        const struct drop_case *c = &drop_cases[i];
        uint8_t frame[128];
        size_t len = frame_to_us(frame, sizeof(frame), false, 16);
        assert_int_equal(len, BASE_LEN);
        frame[c->offset] = c->value;
        if (c->fix_ip)
            fix_ip_checksum(frame, L3);
        struct ubc_pkt_info info;
        enum ubc_pkt_kind kind = ubc_pkt_classify(frame, c->len ? c->len : len, &self_us, 0, &info);
        drop_seen[info.drop] = true;
        if (info.drop != c->expected)
            fail_msg("%s: got %s, want %s", c->what, ubc_pkt_drop_name(info.drop),
                     ubc_pkt_drop_name(c->expected));
        assert_int_equal(kind, UBC_PKT_DROP);
    }
}

static enum ubc_pkt_drop
classify_drop(const uint8_t *frame, size_t len, uint32_t rx_flags)
{
    struct ubc_pkt_info info;
    enum ubc_pkt_kind kind = ubc_pkt_classify(frame, len, &self_us, rx_flags, &info);
    assert_true((kind == UBC_PKT_DROP) == (info.drop != UBC_PKT_DROP_NONE));
    drop_seen[info.drop] = true;
    return info.drop;
}

static void
test_drop_reasons_structural(void **state)
{
    (void)state;
    static uint8_t big[UBC_PKT_FRAME_MAX + 1];
    assert_int_equal(classify_drop(big, sizeof(big), 0), UBC_PKT_DROP_OVERSIZE);
    assert_int_equal(classify_drop(NULL, 0, 0), UBC_PKT_DROP_TRUNCATED);
    uint8_t frame[128];
    size_t len = frame_to_us(frame, sizeof(frame), true, 16);
    assert_int_equal(classify_drop(frame, 17, 0), UBC_PKT_DROP_TRUNCATED); /* cut in the tag */
    frame[16] = 0x81, frame[17] = 0x00;
    assert_int_equal(classify_drop(frame, len, 0), UBC_PKT_DROP_VLAN_NESTED);
    frame[12] = 0x88, frame[13] = 0xa8;
    assert_int_equal(classify_drop(frame, len, 0), UBC_PKT_DROP_VLAN_NESTED);
    /* UDP checksum 0 means "none"; a wrong one passes when hardware vouched. */
    len = frame_to_us(frame, sizeof(frame), false, 16);
    frame[L4 + 8] ^= 0xff;
    assert_int_equal(classify_drop(frame, len, 0), UBC_PKT_DROP_UDP_CHECKSUM);
    assert_int_equal(classify_drop(frame, len, UBC_PKT_RX_L4_CHECKSUM_GOOD), UBC_PKT_DROP_NONE);
    frame[L4 + 6] = frame[L4 + 7] = 0;
    assert_int_equal(classify_drop(frame, len, 0), UBC_PKT_DROP_NONE);
    frame[L3 + 11] ^= 1;
    assert_int_equal(classify_drop(frame, len, UBC_PKT_RX_IP_CHECKSUM_GOOD), UBC_PKT_DROP_NONE);
    frame[L3 + 11] ^= 1;
    frame[L4] = frame[L4 + 1] = 0; /* source port 0 */
    assert_int_equal(classify_drop(frame, len, 0), UBC_PKT_DROP_UDP_SOURCE_PORT);
    /* An IPv4 packet with room for no UDP header. */
    len = frame_to_us(frame, sizeof(frame), false, 16);
    frame[L3 + 3] = 24;
    fix_ip_checksum(frame, L3);
    assert_int_equal(classify_drop(frame, len, 0), UBC_PKT_DROP_TRUNCATED);
}

static void
test_drop_reasons_arp_icmp(void **state)
{
    (void)state;
    uint8_t frame[60];
    memcpy(frame, arp_request, 60);
    assert_int_equal(classify_drop(frame, 41, 0), UBC_PKT_DROP_TRUNCATED);
    frame[18] = 5;
    assert_int_equal(classify_drop(frame, 60, 0), UBC_PKT_DROP_ARP_FORMAT);
    frame[18] = 6, frame[21] = 2;
    assert_int_equal(classify_drop(frame, 60, 0), UBC_PKT_DROP_ARP_NOT_REQUEST);
    frame[21] = 1, frame[41] = 9;
    assert_int_equal(classify_drop(frame, 60, 0), UBC_PKT_DROP_ARP_NOT_US);
    frame[41] = 1, frame[22] = 0x01; /* sender hardware address multicast */
    assert_int_equal(classify_drop(frame, 60, 0), UBC_PKT_DROP_MAC_SOURCE);
    uint8_t ping[50];
    memcpy(ping, icmp_request, 50);
    ping[L4 + 8] ^= 1;
    assert_int_equal(classify_drop(ping, 50, 0), UBC_PKT_DROP_ICMP_CHECKSUM);
    ping[L4 + 8] ^= 1, ping[L4] = 13; /* timestamp request */
    assert_int_equal(classify_drop(ping, 50, 0), UBC_PKT_DROP_ICMP_NOT_ECHO);
    memcpy(ping, icmp_request, 50);
    ping[L3 + 3] = 20 + 4; /* an ICMP message of 4 bytes */
    fix_ip_checksum(ping, L3);
    assert_int_equal(classify_drop(ping, 50, 0), UBC_PKT_DROP_TRUNCATED);
    for (int r = 0; r < UBC_PKT_DROP_COUNT; r++)
        for (int other = 0; other < r; other++)
            assert_string_not_equal(ubc_pkt_drop_name((enum ubc_pkt_drop)r),
                                    ubc_pkt_drop_name((enum ubc_pkt_drop)other));
}

/* IPv4 options are skipped on receive and not echoed in the reply; Ethernet
 * padding after the IPv4 packet is ignored. */
static void
test_ip_options_and_padding(void **state)
{
    (void)state;
    uint8_t frame[128];
    size_t len = frame_to_us(frame, sizeof(frame), false, 6);
    /* Insert 4 option bytes (NOPs) after the 20-byte header. */
    memmove(frame + L4 + 4, frame + L4, len - L4);
    memset(frame + L4, 1, 4);
    len += 4;
    frame[L3] = 0x46;
    frame[L3 + 3] = (uint8_t)(frame[L3 + 3] + 4);
    fix_ip_checksum(frame, L3);
    memset(frame + len, 0, 64 - len); /* pad the 56-byte frame to 64 */
    struct ubc_pkt_info info;
    assert_int_equal(ubc_pkt_classify(frame, 64, &self_us, 0, &info), UBC_PKT_UBC);
    assert_int_equal(info.l4_offset, L4 + 4);
    assert_int_equal(info.payload_offset, L4 + 4 + 8);
    assert_int_equal(info.payload_len, 6);
    assert_int_equal(info.l3_end, len);
    size_t reply_len = ubc_pkt_udp_reply(frame, sizeof(frame), &info, &self_us, 6, 0);
    assert_int_equal(reply_len, 42 + 6);
    assert_int_equal(frame[L3], 0x45);
}

/* The shared generator of bad frames (used by the node's malformed-packet
 * test) yields each reason exactly. */
static void
test_bad_frame_generator(void **state)
{
    (void)state;
    static uint8_t frame[UBC_PKT_FRAME_MAX + 1];
    struct ubc_pkt_self client = { .ipv4_be = peer_them.ipv4_be,
                                   .udp_port_be = peer_them.udp_port_be };
    memcpy(client.mac, peer_them.mac, 6);
    for (int r = 1; r < UBC_PKT_DROP_COUNT; r++) {
        size_t len = ubc_bad_frame((enum ubc_pkt_drop)r, frame, sizeof(frame), &self_us, &client);
        assert_int_not_equal(len, 0);
        enum ubc_pkt_drop got = classify_drop(frame, len, 0);
        if (got != (enum ubc_pkt_drop)r)
            fail_msg("bad frame for %s classified as %s", ubc_pkt_drop_name((enum ubc_pkt_drop)r),
                     ubc_pkt_drop_name(got));
    }
    /* The valid frames it starts from are accepted. */
    size_t len = ubc_bad_frame_valid_udp(frame, UBC_BAD_FRAME_CAP, &self_us, &client, true);
    assert_int_equal(classify_drop(frame, len, 0), UBC_PKT_DROP_NONE);
    len = ubc_bad_frame_valid_arp(frame, &self_us, &client);
    assert_int_equal(classify_drop(frame, len, 0), UBC_PKT_DROP_NONE);
    len = ubc_bad_frame_valid_icmp(frame, &self_us, &client);
    assert_int_equal(classify_drop(frame, len, 0), UBC_PKT_DROP_NONE);
}

/* Runs last: every drop reason was produced by some test above. */
static void
test_every_drop_reason_covered(void **state)
{
    (void)state;
    for (int r = 1; r < UBC_PKT_DROP_COUNT; r++)
        if (!drop_seen[r])
            fail_msg("no test produces drop reason %s", ubc_pkt_drop_name((enum ubc_pkt_drop)r));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checksum_vectors),
        cmocka_unit_test(test_checksum_differential),
        cmocka_unit_test(test_arp_reply_exact),
        cmocka_unit_test(test_icmp_reply_exact),
        cmocka_unit_test(test_udp_build_exact),
        cmocka_unit_test(test_udp_round_trip_and_reply),
        cmocka_unit_test(test_udp_build_checksums_differential),
        cmocka_unit_test(test_udp_build_offload_fields),
        cmocka_unit_test(test_drop_reasons),
        cmocka_unit_test(test_drop_reasons_structural),
        cmocka_unit_test(test_drop_reasons_arp_icmp),
        cmocka_unit_test(test_ip_options_and_padding),
        cmocka_unit_test(test_bad_frame_generator),
        cmocka_unit_test(test_every_drop_reason_covered),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
