/* test_pkt_fast.c: ubc_pkt_classify()'s fast path for the common frame
 * against the full classifier (ubc_pkt_classify_full), differentially; and
 * ubc_pkt_udp_build()'s contract over stale buffers and random room.
 *
 * Valid UBC frames of random addresses, ports, header fields and payload
 * lengths (odd ones too), each also with every accepted field mutated (with
 * and without checksums fixed after), random byte mutations, truncations,
 * a VLAN tag, a broadcast destination and IP options, each under every
 * rx_flags combination: both give the same kind, drop reason and info,
 * field by field (the two info structs start filled with different bytes,
 * so a field the fast path leaves unwritten differs). The fast path must
 * also take every valid untagged unicast frame, or the test would pass with
 * a fast path that takes nothing. Each frame lies at the end of a buffer:
 * under ASan a read past it fails. Deterministic (seeded).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "common/ubc_assert.h"
#include "common/ubc_splitmix.h"
#include "dataplane/wire/ubc_pkt.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
int
main(void)
{
    return 77; /* no fast path: ubc_pkt_classify() is the full classifier */
}
#else

enum {
    L3 = 14,
    L4 = 34,
    FRAME_CAP = 512,
    PAYLOAD_MAX = 300,
    BASE_FRAMES = 1500,
    RANDOM_MUTATIONS = 24,
    TRUNCATIONS = 6,
};

static struct ubc_pkt_self self_us;
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint8_t tail_buffer[FRAME_CAP]; /* frames are tested at its end */

/* What the frames exercised: the test fails if a kind of case never occurs. */
static struct {
    uint64_t compared, fast_taken, ubc_by_full_only, drops;
    bool drop_seen[UBC_PKT_DROP_COUNT];
} seen;

static uint64_t
rng_next(void)
{
    return ubc_splitmix64(&rng_state);
}

static uint32_t
rng_below(uint32_t n)
{
    return (uint32_t)(rng_next() % n);
}

static uint8_t
rng_byte(void)
{
    return (uint8_t)rng_next();
}

/* A byte other than old. */
static uint8_t
rng_other(uint8_t old)
{
    return (uint8_t)(old + 1 + rng_below(255));
}

static int
setup(void **state)
{
    (void)state;
    static const uint8_t mac_us[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
    memcpy(self_us.mac, mac_us, 6);
    self_us.ipv4_be = htonl(0x0a000001);
    self_us.udp_port_be = htons(7400);
    return 0;
}

static void
store16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v;
}

static uint16_t
load16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* Recomputes the IPv4 header checksum and, when the UDP header announces
 * a length inside the frame and a checksum, the UDP checksum; a frame whose
 * structure does not allow it keeps its bytes. l3 is the IPv4 offset. */
static void
checksums_fix(uint8_t *frame, size_t len, size_t l3)
{
    if (len < l3 + 20)
        return;
    uint8_t *ip = frame + l3;
    size_t header_len = (size_t)(ip[0] & 0x0f) * 4;
    if (header_len < 20 || l3 + header_len > len)
        return;
    store16(ip + 10, 0);
    store16(ip + 10, ubc_pkt_checksum_fold(ubc_pkt_checksum_add(0, ip, header_len)));
    uint8_t *udp = ip + header_len;
    if (ip[9] != 17 || (size_t)(udp - frame) + 8 > len)
        return;
    size_t udp_len = load16(udp + 4);
    if (udp_len < 8 || (size_t)(udp - frame) + udp_len > len || load16(udp + 6) == 0)
        return;
    uint8_t pseudo[12] = {
        0, 0, 0, 0, 0, 0, 0, 0, 0, 17, (uint8_t)(udp_len >> 8), (uint8_t)udp_len
    };
    memcpy(pseudo, ip + 12, 8);
    store16(udp + 6, 0);
    uint16_t sum = ubc_pkt_checksum_fold(
        ubc_pkt_checksum_add(ubc_pkt_checksum_add(0, pseudo, sizeof(pseudo)), udp, udp_len));
    store16(udp + 6, sum == 0 ? 0xffff : sum);
}

/* A valid UBC frame to us, untagged, IPv4 without options. Returns its
 * length (Ethernet padding included). */
static size_t
frame_random(uint8_t *frame)
{
    size_t payload_len = rng_below(PAYLOAD_MAX + 1);
    size_t padding = rng_below(4) == 0 ? rng_below(24) : 0;
    size_t total_len = 20 + 8 + payload_len;
    memcpy(frame, self_us.mac, 6);
    for (int i = 6; i < 12; i++)
        frame[i] = rng_byte();
    frame[6] &= 0xfe; /* unicast source */
    frame[12] = 0x08, frame[13] = 0x00;
    uint8_t *ip = frame + L3;
    ip[0] = 0x45;
    ip[1] = rng_byte();
    store16(ip + 2, (uint16_t)total_len);
    store16(ip + 4, (uint16_t)rng_next());
    store16(ip + 6, rng_below(2) ? 0x4000 : 0); /* DF or not */
    ip[8] = (uint8_t)(1 + rng_below(255));
    ip[9] = 17;
    do {
        uint32_t source = (uint32_t)rng_next();
        memcpy(ip + 12, &source, 4);
        ip[12] = (uint8_t)(1 + rng_below(223));
    } while (ip[12] == 127 || memcmp(ip + 12, &self_us.ipv4_be, 4) == 0);
    memcpy(ip + 16, &self_us.ipv4_be, 4);
    uint8_t *udp = frame + L4;
    store16(udp, (uint16_t)(1 + rng_below(65535)));
    memcpy(udp + 2, &self_us.udp_port_be, 2);
    store16(udp + 4, (uint16_t)(8 + payload_len));
    store16(udp + 6, rng_below(8) == 0 ? 0 : 1); /* 0: no checksum */
    for (size_t i = 0; i < payload_len + padding; i++)
        udp[8 + i] = rng_byte();
    size_t len = L3 + total_len + padding;
    checksums_fix(frame, len, L3);
    return len;
}

static void
info_equal(const struct ubc_pkt_info *fast, const struct ubc_pkt_info *full)
{
    assert_int_equal(fast->kind, full->kind);
    assert_int_equal(fast->drop, full->drop);
    assert_int_equal(fast->has_vlan, full->has_vlan);
    assert_int_equal(fast->vlan_tci, full->vlan_tci);
    assert_int_equal(fast->l3_offset, full->l3_offset);
    assert_int_equal(fast->l4_offset, full->l4_offset);
    assert_int_equal(fast->l3_end, full->l3_end);
    assert_int_equal(fast->payload_offset, full->payload_offset);
    assert_int_equal(fast->payload_len, full->payload_len);
    assert_memory_equal(fast->source.mac, full->source.mac, 6);
    assert_int_equal(fast->source.ipv4_be, full->source.ipv4_be);
    assert_int_equal(fast->source.udp_port_be, full->source.udp_port_be);
}

/* Both classifiers on the frame under every rx_flags combination. */
static void
classify_both(const uint8_t *frame, size_t len)
{
    assert_true(len <= FRAME_CAP);
    uint8_t *at = tail_buffer + FRAME_CAP - len;
    memmove(at, frame, len);
    for (uint32_t rx_flags = 0; rx_flags < 4; rx_flags++) {
        struct ubc_pkt_info fast, full;
        memset(&fast, 0xa5, sizeof(fast));
        memset(&full, 0x5a, sizeof(full));
        enum ubc_pkt_kind kind_fast = ubc_pkt_classify(at, len, &self_us, rx_flags, &fast);
        enum ubc_pkt_kind kind_full = ubc_pkt_classify_full(at, len, &self_us, rx_flags, &full);
        assert_int_equal(kind_fast, kind_full);
        assert_int_equal(kind_fast, fast.kind);
        info_equal(&fast, &full);
        size_t udp_len = ubc_pkt_plain_udp_len(at, len, &self_us);
        bool taken = udp_len != 0 && ubc_pkt_plain_checksums_valid(at, udp_len, rx_flags);
        seen.compared++;
        seen.fast_taken += taken;
        seen.ubc_by_full_only += !taken && kind_full == UBC_PKT_UBC;
        seen.drops += kind_full == UBC_PKT_DROP;
        seen.drop_seen[full.drop] = true;
    }
}

/* The frame with one byte set, as is and with its checksums fixed after. */
static void
mutate_byte(const uint8_t *base, size_t len, size_t offset, uint8_t value)
{
    uint8_t frame[FRAME_CAP];
    memcpy(frame, base, len);
    frame[offset] = value;
    classify_both(frame, len);
    checksums_fix(frame, len, L3);
    classify_both(frame, len);
}

/* Every byte of the headers the fast path reads, once to a random other
 * value and once to a value chosen to pass or fail one check; a payload and
 * a padding byte. */
static void
mutate_fields(const uint8_t *base, size_t len)
{
    for (size_t offset = 0; offset < L4 + 8; offset++)
        mutate_byte(base, len, offset, rng_other(base[offset]));
    static const struct {
        size_t offset;
        uint8_t value;
    } chosen[] = {
        { 0, 0xff },       { 6, 0x01 },       { 12, 0x81 },      { 12, 0x86 },
        { 13, 0x06 },      { L3, 0x46 },      { L3, 0x44 },      { L3, 0x55 },
        { L3 + 6, 0x80 },  { L3 + 6, 0x40 },  { L3 + 6, 0x20 },  { L3 + 6, 0x01 },
        { L3 + 7, 0x01 },  { L3 + 8, 0x00 },  { L3 + 8, 0xff },  { L3 + 9, 0x01 },
        { L3 + 9, 0x06 },  { L3 + 9, 0x11 },  { L3 + 12, 0x00 }, { L3 + 12, 0x7f },
        { L3 + 12, 0xe0 }, { L3 + 12, 0xdf }, { L3 + 12, 0xff }, { L3 + 12, 0x01 },
        { L4, 0x00 },      { L4 + 1, 0x00 },  { L4 + 6, 0x00 },  { L4 + 7, 0x00 },
    };
    for (size_t i = 0; i < UBC_ARRAY_SIZE(chosen); i++)
        mutate_byte(base, len, chosen[i].offset, chosen[i].value);
    /* Source port 0, source address ours, broadcast destination. */
    uint8_t frame[FRAME_CAP];
    memcpy(frame, base, len);
    frame[L4] = frame[L4 + 1] = 0;
    classify_both(frame, len);
    checksums_fix(frame, len, L3);
    classify_both(frame, len);
    memcpy(frame, base, len);
    memcpy(frame + L3 + 12, &self_us.ipv4_be, 4);
    checksums_fix(frame, len, L3);
    classify_both(frame, len);
    memcpy(frame, base, len);
    memset(frame, 0xff, 6);
    classify_both(frame, len);
    size_t udp_end = L4 + load16(base + L4 + 4);
    if (udp_end > L4 + 8)
        mutate_byte(base, len, L4 + 8 + rng_below((uint32_t)(udp_end - L4 - 8)), rng_byte());
    if (len > udp_end)
        mutate_byte(base, len, udp_end + rng_below((uint32_t)(len - udp_end)), rng_byte());
}

/* The IPv4 and UDP lengths changed together or apart. */
static void
mutate_lengths(const uint8_t *base, size_t len)
{
    static const int deltas[] = { -9, -8, -1, 1, 2 };
    for (size_t i = 0; i < UBC_ARRAY_SIZE(deltas); i++)
        for (int which = 1; which <= 3; which++) {
            uint8_t frame[FRAME_CAP];
            memcpy(frame, base, len);
            if (which & 1)
                store16(frame + L3 + 2, (uint16_t)(load16(frame + L3 + 2) + deltas[i]));
            if (which & 2)
                store16(frame + L4 + 4, (uint16_t)(load16(frame + L4 + 4) + deltas[i]));
            classify_both(frame, len);
            checksums_fix(frame, len, L3);
            classify_both(frame, len);
        }
}

/* One to three random bytes anywhere, as is and fixed; truncations. */
static void
mutate_random(const uint8_t *base, size_t len)
{
    for (int i = 0; i < RANDOM_MUTATIONS; i++) {
        uint8_t frame[FRAME_CAP];
        memcpy(frame, base, len);
        for (uint32_t n = 1 + rng_below(3); n > 0; n--) {
            size_t offset = rng_below(4) == 0 ? rng_below((uint32_t)len) : rng_below(L4 + 8);
            frame[offset] = rng_byte();
        }
        classify_both(frame, len);
        checksums_fix(frame, len, L3);
        classify_both(frame, len);
    }
    for (int i = 0; i < TRUNCATIONS; i++)
        classify_both(base, rng_below((uint32_t)len));
    classify_both(base, L4 + 7);
    classify_both(base, L4 + 8);
    classify_both(base, L3 + load16(base + L3 + 2) - 1);
}

/* The same datagram behind a VLAN tag, and with 4 bytes of IP options. */
static void
reshape(const uint8_t *base, size_t len)
{
    uint8_t frame[FRAME_CAP];
    memcpy(frame, base, 12);
    frame[12] = 0x81, frame[13] = 0x00;
    store16(frame + 14, (uint16_t)rng_next());
    memcpy(frame + 16, base + 12, len - 12);
    classify_both(frame, len + 4);
    memcpy(frame, base, L4);
    frame[L3] = 0x46;
    store16(frame + L3 + 2, (uint16_t)(load16(base + L3 + 2) + 4));
    memset(frame + L4, rng_below(2) ? 0x01 : 0x00, 4); /* NOP or end of options */
    memcpy(frame + L4 + 4, base + L4, len - L4);
    checksums_fix(frame, len + 4, L3);
    classify_both(frame, len + 4);
}

static void
test_fast_path_matches_full(void **state)
{
    (void)state;
    for (int i = 0; i < BASE_FRAMES; i++) {
        uint8_t base[FRAME_CAP];
        size_t len = frame_random(base);
        uint64_t taken_before = seen.fast_taken;
        classify_both(base, len);
        if (seen.fast_taken != taken_before + 4)
            fail_msg("frame %d: the fast path did not take a valid frame", i);
        mutate_fields(base, len);
        mutate_lengths(base, len);
        mutate_random(base, len);
        reshape(base, len);
    }
    struct ubc_pkt_info info;
    assert_int_equal(ubc_pkt_classify(NULL, 0, &self_us, 0, &info), UBC_PKT_DROP);
    assert_int_equal(info.drop, UBC_PKT_DROP_TRUNCATED);
    assert_int_equal(ubc_pkt_classify(NULL, 64, &self_us, 0, &info), UBC_PKT_DROP);
    assert_int_equal(info.drop, UBC_PKT_DROP_TRUNCATED);
    static uint8_t big[UBC_PKT_FRAME_MAX + 1];
    assert_int_equal(ubc_pkt_classify(big, sizeof(big), &self_us, 0, &info), UBC_PKT_DROP);
    assert_int_equal(info.drop, UBC_PKT_DROP_OVERSIZE);
    /* Both sides of the comparison occurred, and every reason the
     * mutations aim at. */
    assert_true(seen.fast_taken > seen.compared / 8);
    assert_true(seen.ubc_by_full_only > 0 && seen.drops > seen.compared / 4);
    static const enum ubc_pkt_drop aimed[] = {
        UBC_PKT_DROP_TRUNCATED,    UBC_PKT_DROP_MAC_NOT_US,    UBC_PKT_DROP_MAC_SOURCE,
        UBC_PKT_DROP_ETHERTYPE,    UBC_PKT_DROP_IP_VERSION,    UBC_PKT_DROP_IP_HEADER_LEN,
        UBC_PKT_DROP_IP_TOTAL_LEN, UBC_PKT_DROP_IP_CHECKSUM,   UBC_PKT_DROP_IP_FRAGMENT,
        UBC_PKT_DROP_IP_TTL,       UBC_PKT_DROP_IP_NOT_US,     UBC_PKT_DROP_IP_SOURCE,
        UBC_PKT_DROP_IP_PROTOCOL,  UBC_PKT_DROP_ICMP_NOT_ECHO, UBC_PKT_DROP_UDP_LENGTH,
        UBC_PKT_DROP_UDP_CHECKSUM, UBC_PKT_DROP_UDP_PORT,      UBC_PKT_DROP_UDP_SOURCE_PORT,
    };
    for (size_t i = 0; i < UBC_ARRAY_SIZE(aimed); i++)
        if (!seen.drop_seen[aimed[i]])
            fail_msg("no frame was dropped for %s", ubc_pkt_drop_name(aimed[i]));
}

/* One build over stale bytes: the frame's length exactly when it fits,
 * nothing written when it does not, the payload and the bytes past the
 * frame untouched, and the peer takes it. (The bytes and checksums against
 * their byte-level definitions: test_pkt.) */
static void
build_checked(const struct ubc_pkt_self *self, const struct ubc_pkt_peer *peer, size_t payload_len,
              size_t cap)
{
    static uint8_t frame[FRAME_CAP], before[FRAME_CAP];
    for (size_t i = 0; i < FRAME_CAP; i++)
        frame[i] = rng_byte();
    memcpy(before, frame, FRAME_CAP);
    size_t length = ubc_pkt_udp_build(frame, cap, self, peer, false, 0, payload_len, 0);
    bool fits = payload_len <= 0xffff - 28 && 42 + payload_len <= cap;
    assert_int_equal(length, fits ? 42 + payload_len : 0);
    if (!fits) {
        assert_memory_equal(frame, before, FRAME_CAP);
        return;
    }
    assert_memory_equal(frame + 42, before + 42, FRAME_CAP - 42);
    struct ubc_pkt_self as_peer = { .ipv4_be = peer->ipv4_be, .udp_port_be = peer->udp_port_be };
    memcpy(as_peer.mac, peer->mac, 6);
    struct ubc_pkt_info info;
    assert_int_equal(ubc_pkt_classify_full(frame, length, &as_peer, 0, &info), UBC_PKT_UBC);
    assert_int_equal(info.payload_len, payload_len);
    assert_int_equal(info.source.ipv4_be, self->ipv4_be);
    assert_int_equal(info.source.udp_port_be, self->udp_port_be);
}

static void
test_udp_build_contract(void **state)
{
    (void)state;
    for (int i = 0; i < BASE_FRAMES; i++) {
        struct ubc_pkt_peer peer;
        for (int b = 0; b < 6; b++)
            peer.mac[b] = rng_byte();
        peer.mac[0] &= 0xfe;
        do {
            peer.ipv4_be = (uint32_t)rng_next();
            ((uint8_t *)&peer.ipv4_be)[0] = (uint8_t)(1 + rng_below(223));
        } while (((uint8_t *)&peer.ipv4_be)[0] == 127 || peer.ipv4_be == self_us.ipv4_be);
        peer.udp_port_be = (uint16_t)(1 + rng_below(65535));
        size_t payload_len = rng_below(FRAME_CAP - 42 + 1);
        size_t fits = 42 + payload_len;
        build_checked(&self_us, &peer, payload_len, fits);
        build_checked(&self_us, &peer, payload_len, fits - 1);
        build_checked(&self_us, &peer, payload_len, rng_below((uint32_t)fits));
        build_checked(&self_us, &peer, payload_len,
                      fits + rng_below((uint32_t)(FRAME_CAP - fits + 1)));
    }
    /* A payload whose checksum comes out 0: sent as 0xffff (0 means none).
     * Its last word set to the checksum it had as 0 makes the sum 0xffff. */
    struct ubc_pkt_peer zero_peer = { .ipv4_be = htonl(0x0a000003), .udp_port_be = htons(5) };
    uint8_t frame[64] = { 0 };
    for (size_t i = 42; i < 62; i++)
        frame[i] = rng_byte();
    frame[60] = frame[61] = 0;
    assert_int_equal(ubc_pkt_udp_build(frame, 64, &self_us, &zero_peer, false, 0, 20, 0), 62);
    memcpy(&frame[60], &frame[40], 2);
    assert_int_equal(ubc_pkt_udp_build(frame, 64, &self_us, &zero_peer, false, 0, 20, 0), 62);
    assert_int_equal(load16(&frame[40]), 0xffff);
    struct ubc_pkt_self as_zero_peer = { .ipv4_be = zero_peer.ipv4_be,
                                         .udp_port_be = zero_peer.udp_port_be };
    struct ubc_pkt_info info;
    assert_int_equal(ubc_pkt_classify_full(frame, 62, &as_zero_peer, 0, &info), UBC_PKT_UBC);
    /* Beyond the IPv4 limit, with room claimed: refused before any store. */
    struct ubc_pkt_peer peer = { .ipv4_be = htonl(0x0a000002), .udp_port_be = htons(9) };
    build_checked(&self_us, &peer, 0xffff - 27, SIZE_MAX);
    build_checked(&self_us, &peer, SIZE_MAX, SIZE_MAX);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fast_path_matches_full),
        cmocka_unit_test(test_udp_build_contract),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
#endif
