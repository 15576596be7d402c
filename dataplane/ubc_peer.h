/* ubc_peer.h: the net role's table of addressable peers (clients and
 * providers), so that a reply produced later by another role can be sent
 * back: a message carries the peer's slot and the slot's generation.
 *
 * Contract: open addressing keyed by (IPv4, UDP port), capacity fixed at
 * creation (footprint/new/join on caller-owned memory). Only the net role's
 * lcore touches a table. When the probe window is full, the least recently
 * seen peer in it is evicted and its slot's generation bumped, so a late
 * reply to the evicted peer is dropped rather than sent to a stranger.
 */
#ifndef UBC_PEER_H
#define UBC_PEER_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/ubc_assert.h"
#include "dataplane/wire/ubc_pkt.h"

#define UBC_PEER_PROBE_MAX 16u
#define UBC_PEER_TABLE_MAGIC 0x5542435045455231ull /* "UBCPEER1" */

struct ubc_peer {
    /* Where replies go, in the form the frame builder takes
     * (ubc_pkt_udp_build): the net role passes it without a copy. */
    struct ubc_pkt_peer address;
    uint32_t generation; /* 0 = never used */
    uint32_t in_use;
    uint64_t last_seen;
};
UBC_STATIC_ASSERT(sizeof(struct ubc_peer) == 32, "two peers a cache line");

struct ubc_peer_table {
    uint64_t magic;
    uint32_t slot_count; /* power of two */
    uint32_t used;
    uint64_t evictions;
    struct ubc_peer slots[];
};

size_t ubc_peer_table_align(void);
/* 0 when peers_max is 0 or too large. */
size_t ubc_peer_table_footprint(uint32_t peers_max);
struct ubc_peer_table *ubc_peer_table_new(void *memory, uint32_t peers_max);

/* The home slot: Fibonacci hashing, which takes the product's top bits
 * (as many as the table has slots). Bits 32 and up, masked, left out the
 * key's top bits and clustered clients whose address and port both count
 * up: 1.76 probes per lookup for the bench's 1024 clients, 1.0 now. */
static inline uint32_t
ubc_peer_home(const struct ubc_peer_table *table, uint32_t ipv4_be, uint16_t udp_port_be)
{
    uint64_t key = ((uint64_t)ipv4_be << 16) | udp_port_be;
    key *= 0x9e3779b97f4a7c15ull;
    return (uint32_t)(key >> (64 - __builtin_ctz(table->slot_count)));
}

/* ubc_peer_upsert past the home slot: probes, adds, evicts. */
uint32_t ubc_peer_upsert_probe(struct ubc_peer_table *table, uint32_t ipv4_be, uint16_t udp_port_be,
                               const uint8_t mac[6], uint64_t now, uint32_t *generation);

/* Finds or adds the peer; refreshes its MAC and last_seen. Returns the slot,
 * and its generation through *generation. Never fails: a full window evicts.
 * A known peer in its home slot (the common case) is handled inline: the
 * net role calls this per datagram. */
static inline uint32_t
ubc_peer_upsert(struct ubc_peer_table *table, uint32_t ipv4_be, uint16_t udp_port_be,
                const uint8_t mac[6], uint64_t now, uint32_t *generation)
{
    UBC_ASSERT(table->magic == UBC_PEER_TABLE_MAGIC);
    uint32_t home = ubc_peer_home(table, ipv4_be, udp_port_be);
    struct ubc_peer *peer = &table->slots[home];
    if (!peer->in_use || peer->address.ipv4_be != ipv4_be ||
        peer->address.udp_port_be != udp_port_be)
        return ubc_peer_upsert_probe(table, ipv4_be, udp_port_be, mac, now, generation);
    memcpy(peer->address.mac, mac, 6);
    peer->last_seen = now;
    *generation = peer->generation;
    return home;
}

/* The peer in slot with that generation, or NULL when it was evicted. */
static inline const struct ubc_peer *
ubc_peer_get(const struct ubc_peer_table *table, uint32_t slot, uint32_t generation)
{
    UBC_ASSERT(table->magic == UBC_PEER_TABLE_MAGIC);
    if (slot >= table->slot_count)
        return NULL;
    const struct ubc_peer *peer = &table->slots[slot];
    if (!peer->in_use || peer->generation != generation)
        return NULL;
    return peer;
}

#endif /* UBC_PEER_H */
