/* ubc_peer.c: the peer table (see ubc_peer.h). */
#include "dataplane/ubc_peer.h"

#include <string.h>

#include "common/ubc_assert.h"

size_t
ubc_peer_table_align(void)
{
    return 64;
}

static uint32_t
peer_slot_count(uint32_t peers_max)
{
    return ubc_table_slots(peers_max, 16);
}

size_t
ubc_peer_table_footprint(uint32_t peers_max)
{
    if (peers_max == 0 || peers_max > (1u << 26))
        return 0;
    size_t bytes = sizeof(struct ubc_peer_table) +
                   (size_t)peer_slot_count(peers_max) * sizeof(struct ubc_peer);
    return (bytes + ubc_peer_table_align() - 1) & ~(ubc_peer_table_align() - 1);
}

struct ubc_peer_table *
ubc_peer_table_new(void *memory, uint32_t peers_max)
{
    if (memory == NULL || ubc_peer_table_footprint(peers_max) == 0)
        return NULL;
    UBC_ASSERT(((uintptr_t)memory & (ubc_peer_table_align() - 1)) == 0);
    struct ubc_peer_table *table = memory;
    memset(table, 0, ubc_peer_table_footprint(peers_max));
    table->slot_count = peer_slot_count(peers_max);
    __atomic_store_n(&table->magic, UBC_PEER_TABLE_MAGIC, __ATOMIC_RELEASE);
    return table;
}

static void
peer_fill(struct ubc_peer *peer, uint32_t ipv4_be, uint16_t udp_port_be)
{
    peer->address.ipv4_be = ipv4_be;
    peer->address.udp_port_be = udp_port_be;
    peer->in_use = 1;
    peer->generation++;
    if (peer->generation == 0) /* 0 means never used */
        peer->generation = 1;
}

uint32_t
ubc_peer_upsert_probe(struct ubc_peer_table *table, uint32_t ipv4_be, uint16_t udp_port_be,
                      const uint8_t mac[6], uint64_t now, uint32_t *generation)
{
    UBC_ASSERT(table->magic == UBC_PEER_TABLE_MAGIC);
    uint32_t mask = table->slot_count - 1;
    uint32_t home = ubc_peer_home(table, ipv4_be, udp_port_be);
    uint32_t chosen = UINT32_MAX, oldest = home;
    for (uint32_t i = 0; i < UBC_PEER_PROBE_MAX; i++) {
        uint32_t slot = (home + i) & mask;
        struct ubc_peer *peer = &table->slots[slot];
        if (peer->in_use && peer->address.ipv4_be == ipv4_be &&
            peer->address.udp_port_be == udp_port_be) {
            chosen = slot;
            break;
        }
        if (!peer->in_use) {
            if (chosen == UINT32_MAX)
                chosen = slot;
            continue; /* keep looking: the peer may sit further along */
        }
        if (peer->last_seen < table->slots[oldest].last_seen || !table->slots[oldest].in_use)
            oldest = slot;
    }
    struct ubc_peer *peer;
    if (chosen == UINT32_MAX) {
        chosen = oldest;
        table->evictions++;
        peer_fill(&table->slots[chosen], ipv4_be, udp_port_be);
    } else if (!table->slots[chosen].in_use) {
        table->used++;
        peer_fill(&table->slots[chosen], ipv4_be, udp_port_be);
    }
    peer = &table->slots[chosen];
    memcpy(peer->address.mac, mac, 6);
    peer->last_seen = now;
    *generation = peer->generation;
    UBC_ASSERT(peer->in_use && peer->address.ipv4_be == ipv4_be);
    return chosen;
}
