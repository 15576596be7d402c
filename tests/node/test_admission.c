/* test_admission.c: the sched role's admission table (open addressing with
 * backward-shift deletion) agrees with a plain reference set through random
 * inserts and removals, and refuses entries beyond its capacity. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "node/ubc_admission.h"

enum { CAPACITY = 512, KEYS = 2048, STEPS = 200000 };

static uint64_t
next_random(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

static void
test_against_reference(void **unused)
{
    (void)unused;
    void *memory = malloc(ubc_admission_footprint(CAPACITY));
    struct ubc_admission_table *table = ubc_admission_new(memory, CAPACITY);
    assert_non_null(table);
    static uint8_t present[KEYS + 1];
    memset(present, 0, sizeof(present));
    uint32_t count = 0;
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (uint32_t step = 0; step < STEPS; step++) {
        /* Clustered keys (multiples of 64 collide often) stress the shifts. */
        uint64_t key = 1 + next_random(&seed) % KEYS;
        struct ubc_admission *entry = ubc_admission_find(table, key);
        assert_int_equal(entry != NULL, present[key]);
        if (entry != NULL) {
            assert_int_equal(entry->escrow, (uint8_t)(key & 1));
            ubc_admission_remove(table, entry);
            present[key] = 0;
            count--;
        } else {
            entry = ubc_admission_upsert(table, key);
            if (count >= CAPACITY) {
                assert_null(entry);
                continue;
            }
            assert_non_null(entry);
            entry->escrow = (uint8_t)(key & 1);
            present[key] = 1;
            count++;
        }
        assert_int_equal(table->used, count);
    }
    for (uint64_t key = 1; key <= KEYS; key++)
        assert_int_equal(ubc_admission_find(table, key) != NULL, present[key]);
    free(memory);
}

static void
test_footprint_limits(void **unused)
{
    (void)unused;
    assert_int_equal(ubc_admission_footprint(0), 0);
    assert_null(ubc_admission_new(NULL, 16));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_reference),
        cmocka_unit_test(test_footprint_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
