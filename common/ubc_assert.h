/* ubc_assert.h: invariant checks that stay on in production builds.
 *
 * Contract: UBC_ASSERT(cond) aborts the process with file, line and the failed
 * expression when cond is false. It is for invariants the program itself
 * guarantees; input from outside (packets, files, config, admin requests)
 * is never asserted on, it is rejected with an error code and counted.
 * Any thread may use it. It costs one predictable branch.
 */
#ifndef UBC_ASSERT_H
#define UBC_ASSERT_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define UBC_LIKELY(x) __builtin_expect(!!(x), 1)
#define UBC_UNLIKELY(x) __builtin_expect(!!(x), 0)

__attribute__((noreturn, cold)) static inline void
ubc_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "ubc: assertion failed: %s (%s:%d)\n", expr, file, line);
    fflush(stderr);
    abort();
}

#define UBC_ASSERT(cond)                                \
    do {                                                \
        if (UBC_UNLIKELY(!(cond)))                      \
            ubc_assert_fail(#cond, __FILE__, __LINE__); \
    } while (0)

/* Compile-time checks of layout promises (sizes of wire and disk records). */
#define UBC_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)

#define UBC_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Slots of an open-addressing table for `capacity` entries at a load factor
 * of at most 1/2: the power of two >= 2 * capacity, and >= minimum.
 * capacity must be below 2^30. */
static inline uint32_t
ubc_table_slots(uint32_t capacity, uint32_t minimum)
{
    uint32_t slots = minimum;
    while (slots < 2u * capacity)
        slots <<= 1;
    return slots;
}

#endif /* UBC_ASSERT_H */
