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

#define UBC_PEER_PROBE_MAX 16u

struct ubc_peer {
    uint32_t ipv4_be;
    uint16_t udp_port_be;
    uint8_t mac[6];
    uint32_t generation; /* 0 = never used */
    uint32_t in_use;
    uint64_t last_seen;
};

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

/* Finds or adds the peer; refreshes its MAC and last_seen. Returns the slot,
 * and its generation through *generation. Never fails: a full window evicts. */
uint32_t ubc_peer_upsert(struct ubc_peer_table *table, uint32_t ipv4_be, uint16_t udp_port_be,
                         const uint8_t mac[6], uint64_t now, uint32_t *generation);

/* The peer in slot with that generation, or NULL when it was evicted. */
const struct ubc_peer *ubc_peer_get(const struct ubc_peer_table *table, uint32_t slot,
                                    uint32_t generation);

#endif /* UBC_PEER_H */
