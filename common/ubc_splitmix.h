/* ubc_splitmix.h: splitmix64 (Steele, Lea, Flood 2014), the deterministic
 * generator of the tests, fuzz drivers and benchmarks: a given seed gives the
 * same sequence on every machine, so a failing seed replays.
 *
 * Contract: pure; the caller owns the 64-bit state (any value is a valid
 * seed). Not for anything that must be unpredictable.
 */
#ifndef UBC_SPLITMIX_H
#define UBC_SPLITMIX_H

#include <stdint.h>

static inline uint64_t
ubc_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

#endif /* UBC_SPLITMIX_H */
