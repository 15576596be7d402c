/* gen_corpus.c: writes the seed corpus of the fuzz harnesses:
 *   gen_corpus DIR  ->  DIR/wire/<name> (datagrams), DIR/pkt/<name> (frames)
 * Valid messages of every type, with and without a tag, and one sample of
 * each class of malformation; frames carry them over Ethernet/IPv4/UDP with
 * and without VLAN, plus ARP and ICMP. Deterministic: rerunning it rewrites
 * identical files (tests/fuzz/corpus is its committed output). */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "common/ubc_assert.h"
#include "dataplane/wire/ubc_pkt.h"
#include "dataplane/wire/ubc_wire.h"
#include "tests/dataplane/wire_samples.h"

static const char *corpus_root;

static void
write_file(const char *target, const char *name, const uint8_t *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s/%s", corpus_root, target, name);
    FILE *file = fopen(path, "wb");
    if (file == NULL || fwrite(data, 1, len, file) != len) {
        fprintf(stderr, "gen_corpus: cannot write %s\n", path);
        UBC_ASSERT(0);
    }
    fclose(file);
}

static size_t
encode(uint16_t type, uint16_t flags, uint8_t *out, size_t cap)
{
    struct ubc_msg msg;
    ubc_wire_sample(&msg, type, type);
    const struct ubc_wire_origin origin = { .sender_id = 1000 + type,
                                            .session_id = 9,
                                            .flags = flags };
    size_t len = 0;
    UBC_ASSERT(ubc_wire_encode(&msg, &origin, out, cap, &len) == UBC_WIRE_OK);
    return len;
}

/* One datagram with a byte patched: name, offset, value, length delta. */
struct patch {
    const char *name;
    size_t offset;
    uint8_t value;
    int len_delta;
};

static const struct patch wire_patches[] = {
    { "bad-magic", 0, 'X', 0 },      { "bad-version", 4, 2, 0 },       { "bad-flags", 8, 0x80, 0 },
    { "advisory-flag", 9, 0x40, 0 }, { "reserved", 14, 1, 0 },         { "too-large", 11, 0x7f, 0 },
    { "truncated", 0, 'U', -1 },     { "length-mismatch", 0, 'U', 3 }, { "unknown-type", 6, 50, 0 },
    { "consensus-type", 6, 90, 0 },  { "payload-size", 10, 39, -1 },   { "field-range", 40, 0, 0 },
    { "short-header", 0, 'U', -60 }, { "newer-minor", 5, 1, 0 },
};

/* A LEDGER_OP group as large as a datagram holds, and a revocation. */
static void
write_wire_ledger_group_and_revocation(uint8_t *buf, size_t cap)
{
    struct ubc_wire_ledger_op ops[UBC_WIRE_LEDGER_GROUP_FIT];
    ubc_wire_sample_ledger_op(&ops[0], 1);
    ops[0].cosign_count = UBC_WIRE_LEDGER_GROUP_FIT - 1;
    for (uint32_t i = 1; i < UBC_WIRE_LEDGER_GROUP_FIT; i++)
        ubc_wire_sample_cosign(&ops[i], i);
    const struct ubc_wire_origin origin = { .sender_id = 7, .session_id = 9 };
    size_t len = 0;
    UBC_ASSERT(ubc_wire_ledger_group_encode(ops, UBC_WIRE_LEDGER_GROUP_FIT, 3, &origin, buf, cap,
                                            &len) == UBC_WIRE_OK);
    write_file("wire", "ledger-group", buf, len);
    struct ubc_msg msg;
    ubc_wire_sample(&msg, UBC_MSG_ASSIGNMENT, 2);
    msg.hdr.flags = UBC_MSG_FLAG_REVOKE;
    UBC_ASSERT(ubc_wire_encode(&msg, &origin, buf, cap, &len) == UBC_WIRE_OK);
    write_file("wire", "revoke-assignment", buf, len);
}

static void
write_wire_corpus(void)
{
    uint8_t buf[UBC_WIRE_DATAGRAM_MAX + 8];
    char name[128];
    for (size_t i = 0; i < UBC_ARRAY_SIZE(ubc_wire_sample_types); i++) {
        uint16_t type = ubc_wire_sample_types[i];
        for (uint16_t flags = 0; flags <= UBC_WIRE_FLAG_TAG; flags++) {
            size_t len = encode(type, flags, buf, sizeof(buf));
            snprintf(name, sizeof(name), "%s-%s", flags ? "tag" : "plain", ubc_msg_type_name(type));
            write_file("wire", name, buf, len);
        }
    }
    write_wire_ledger_group_and_revocation(buf, sizeof(buf));
    for (size_t i = 0; i < UBC_ARRAY_SIZE(wire_patches); i++) {
        const struct patch *p = &wire_patches[i];
        size_t len = encode(UBC_MSG_JOB_CANCEL, 0, buf, sizeof(buf));
        buf[p->offset] = p->value;
        memset(buf + len, 0, 8);
        len = (size_t)((long)len + p->len_delta);
        write_file("wire", p->name, buf, len);
    }
}

static struct ubc_pkt_self self_node;
static struct ubc_pkt_self self_client;

static void
addresses_init(void)
{
    const uint8_t node_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
    const uint8_t client_mac[6] = { 0x02, 0, 0, 0, 0, 0x02 };
    memcpy(self_node.mac, node_mac, 6);
    self_node.ipv4_be = htonl(0x0a000001);
    self_node.udp_port_be = htons(UBC_WIRE_PORT_DEFAULT);
    memcpy(self_client.mac, client_mac, 6);
    self_client.ipv4_be = htonl(0x0a000002);
    self_client.udp_port_be = htons(40000);
}

/* A frame from the client to the node carrying payload; byte 0 = rx flags. */
static size_t
frame_to_node(uint8_t *out, size_t cap, bool vlan, const uint8_t *payload, size_t payload_len)
{
    struct ubc_pkt_peer to = { .ipv4_be = self_node.ipv4_be, .udp_port_be = self_node.udp_port_be };
    memcpy(to.mac, self_node.mac, 6);
    out[0] = 0;
    memcpy(out + 1 + ubc_pkt_udp_payload_offset(vlan), payload, payload_len);
    size_t len = ubc_pkt_udp_build(out + 1, cap - 1, &self_client, &to, vlan, 5, payload_len, 0);
    UBC_ASSERT(len != 0);
    return len + 1;
}

static void
write_pkt_frames(void)
{
    uint8_t datagram[UBC_WIRE_DATAGRAM_MAX];
    uint8_t frame[2048];
    char name[128];
    for (size_t i = 0; i < UBC_ARRAY_SIZE(ubc_wire_sample_types); i++) {
        uint16_t type = ubc_wire_sample_types[i];
        size_t len = encode(type, (uint16_t)(i & 1), datagram, sizeof(datagram));
        size_t frame_len = frame_to_node(frame, sizeof(frame), i % 3 == 0, datagram, len);
        snprintf(name, sizeof(name), "udp-%s", ubc_msg_type_name(type));
        write_file("pkt", name, frame, frame_len);
    }
    size_t len = encode(UBC_MSG_JOB_SUBMIT, 0, datagram, sizeof(datagram));
    size_t frame_len = frame_to_node(frame, sizeof(frame), false, datagram, len);
    frame[1 + 34 + 6] = frame[1 + 34 + 7] = 0; /* UDP checksum "none" */
    write_file("pkt", "udp-no-checksum", frame, frame_len);
    frame[1 + 14 + 6] = 0x20; /* more fragments, with a valid header checksum */
    frame[1 + 14 + 10] = frame[1 + 14 + 11] = 0;
    uint16_t checksum = ubc_pkt_checksum_fold(ubc_pkt_checksum_add(0, frame + 1 + 14, 20));
    frame[1 + 14 + 10] = (uint8_t)(checksum >> 8), frame[1 + 14 + 11] = (uint8_t)checksum;
    write_file("pkt", "ip-fragment", frame, frame_len);
    frame_len = frame_to_node(frame, sizeof(frame), false, (const uint8_t *)"noise", 5);
    write_file("pkt", "udp-noise", frame, frame_len);
    frame[1 + 12] = 0x86, frame[1 + 13] = 0xdd;
    write_file("pkt", "ethertype-ipv6", frame, frame_len);
    frame_len = frame_to_node(frame, sizeof(frame), false, datagram, len);
    frame[0] = UBC_PKT_RX_IP_CHECKSUM_GOOD | UBC_PKT_RX_L4_CHECKSUM_GOOD;
    frame[1 + 14 + 10] ^= 0xff;
    write_file("pkt", "offload-vouched", frame, frame_len);
}

static void
write_pkt_arp_icmp(void)
{
    static const uint8_t arp[61] = {
        0,    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0,    0,    0, 0, 0x02, 0x08, 0x06,
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0,    0, 0, 0,    0x02, 0x0a,
        0,    0,    0x02, 0,    0,    0,    0,    0,    0,    0x0a, 0, 0, 0x01,
    };
    write_file("pkt", "arp-request", arp, sizeof(arp));
    static const uint8_t icmp[51] = {
        0,    0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
        0x08, 0x00, 0x45, 0x00, 0x00, 0x24, 0xab, 0xcd, 0x40, 0x00, 0x3f, 0x01, 0x7c,
        0x09, 0x0a, 0x00, 0x00, 0x02, 0x0a, 0x00, 0x00, 0x01, 0x08, 0x00, 0x2e, 0x37,
        0x12, 0x34, 0x00, 0x01, 0x70, 0x69, 0x6e, 0x67, 0x64, 0x61, 0x74, 0x61,
    };
    write_file("pkt", "icmp-echo", icmp, sizeof(icmp));
    write_file("pkt", "runt", icmp, 12);
}

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR (with wire/ and pkt/ inside)\n", argv[0]);
        return 2;
    }
    corpus_root = argv[1];
    addresses_init();
    write_wire_corpus();
    write_pkt_frames();
    write_pkt_arp_icmp();
    return 0;
}
