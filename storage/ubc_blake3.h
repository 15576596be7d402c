/* ubc_blake3.h: BLAKE3 in keyed mode, one shot, for the journal's hash chain.
 *
 * Contract: ubc_blake3_keyed(key, data, bytes, out) writes the 32-byte BLAKE3
 * keyed_hash of data (the BLAKE3 specification's keyed_hash mode, checked
 * against the official test vectors in tests/storage/test_blake3.c). It is a
 * pure function: any thread, no allocation, stack use under 3 KiB. On a CPU
 * with AVX-512F it hashes 16 chunks (or 16 parent nodes) at once; elsewhere it
 * runs the portable compression function, with identical results.
 * Written for this project from the BLAKE3 specification; only keyed mode and
 * 32-byte outputs, the two things the journal needs.
 */
#ifndef UBC_BLAKE3_H
#define UBC_BLAKE3_H

#include <stddef.h>
#include <stdint.h>

#define UBC_BLAKE3_KEY_BYTES 32u
#define UBC_BLAKE3_OUT_BYTES 32u

void ubc_blake3_keyed(const uint8_t key[UBC_BLAKE3_KEY_BYTES], const void *data, size_t bytes,
                      uint8_t out[UBC_BLAKE3_OUT_BYTES]);

/* The same with the SIMD path disabled (1) or back to automatic (0): tests
 * compare both paths. Not for the data path (a process-wide switch). */
void ubc_blake3_portable_only(int on);

/* 1 when the AVX-512 path is in use. */
int ubc_blake3_simd(void);

#endif /* UBC_BLAKE3_H */
