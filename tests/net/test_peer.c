/* test_peer.c: the net role's peer table finds, adds, evicts and refuses
 * replies to evicted peers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dataplane/ubc_peer.h"

static struct ubc_peer_table *
table_create(uint32_t peers_max, void **memory)
{
    size_t footprint = ubc_peer_table_footprint(peers_max);
    assert_true(footprint > 0);
    *memory = aligned_alloc(ubc_peer_table_align(), footprint);
    assert_non_null(*memory);
    return ubc_peer_table_new(*memory, peers_max);
}

static void
test_footprint_limits(void **state)
{
    (void)state;
    assert_int_equal(ubc_peer_table_footprint(0), 0);
    assert_int_equal(ubc_peer_table_footprint(1u << 27), 0);
    assert_null(ubc_peer_table_new(NULL, 16));
}

static void
test_upsert_finds_same_slot(void **state)
{
    (void)state;
    void *memory;
    struct ubc_peer_table *table = table_create(64, &memory);
    const uint8_t mac[6] = { 2, 0, 0, 0, 0, 1 }, mac2[6] = { 2, 0, 0, 0, 0, 2 };
    uint32_t gen1, gen2;
    uint32_t slot1 = ubc_peer_upsert(table, 0x0100000a, 0x1234, mac, 1, &gen1);
    uint32_t slot2 = ubc_peer_upsert(table, 0x0100000a, 0x1234, mac2, 2, &gen2);
    assert_int_equal(slot1, slot2);
    assert_int_equal(gen1, gen2);
    assert_int_equal(table->used, 1);
    const struct ubc_peer *peer = ubc_peer_get(table, slot1, gen1);
    assert_non_null(peer);
    assert_memory_equal(peer->address.mac, mac2, 6); /* the MAC follows the latest frame */
    assert_null(ubc_peer_get(table, slot1, gen1 + 1));
    assert_null(ubc_peer_get(table, table->slot_count, gen1));
    uint32_t other = ubc_peer_upsert(table, 0x0100000a, 0x1235, mac, 3, &gen2);
    assert_int_not_equal(other, slot1);
    assert_int_equal(table->used, 2);
    free(memory);
}

/* Far more peers than slots: every upsert succeeds, evictions are counted,
 * and a stale (slot, generation) never resolves to the new occupant. */
static void
test_eviction_invalidates_old_generation(void **state)
{
    (void)state;
    void *memory;
    struct ubc_peer_table *table = table_create(16, &memory);
    const uint8_t mac[6] = { 2, 0, 0, 0, 0, 1 };
    enum { PEERS = 2000 };
    static uint32_t slots[PEERS], gens[PEERS];
    for (uint32_t i = 0; i < PEERS; i++)
        slots[i] = ubc_peer_upsert(table, 0x0a000000 + i, 7400, mac, i + 1, &gens[i]);
    assert_true(table->evictions >= PEERS - table->slot_count);
    uint32_t alive = 0;
    for (uint32_t i = 0; i < PEERS; i++) {
        const struct ubc_peer *peer = ubc_peer_get(table, slots[i], gens[i]);
        if (peer != NULL) {
            assert_int_equal(peer->address.ipv4_be, 0x0a000000 + i);
            alive++;
        }
    }
    assert_true(alive <= table->slot_count);
    assert_true(alive > 0);
    free(memory);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_footprint_limits),
        cmocka_unit_test(test_upsert_finds_same_slot),
        cmocka_unit_test(test_eviction_invalidates_old_generation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
