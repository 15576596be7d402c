/* test_blake3.c: ubc_blake3_keyed against the official BLAKE3 keyed_hash test
 * vectors (input byte i = i % 251, key "whats the Elvish word for friend"),
 * on the SIMD and the portable path, and the two paths against each other on
 * random lengths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "storage/ubc_blake3.h"

struct vector {
    size_t bytes;
    const char *hex; /* first 32 bytes of the keyed_hash output */
};

static const struct vector VECTORS[] = {
    { 0, "92b2b75604ed3c761f9d6f62392c8a9227ad0ea3f09573e783f1498a4ed60d26" },
    { 1, "6d7878dfff2f485635d39013278ae14f1454b8c0a3a2d34bc1ab38228a80c95b" },
    { 1023, "c951ecdf03288d0fcc96ee3413563d8a6d3589547f2c2fb36d9786470f1b9d6e" },
    { 1024, "75c46f6f3d9eb4f55ecaaee480db732e6c2105546f1e675003687c31719c7ba4" },
    { 1025, "357dc55de0c7e382c900fd6e320acc04146be01db6a8ce7210b7189bd664ea69" },
    { 2048, "879cf1fa2ea0e79126cb1063617a05b6ad9d0b696d0d757cf053439f60a99dd1" },
    { 2049, "9f29700902f7c86e514ddc4df1e3049f258b2472b6dd5267f61bf13983b78dd5" },
    { 3072, "044a0e7b172a312dc02a4c9a818c036ffa2776368d7f528268d2e6b5df191770" },
    { 3073, "68dede9bef00ba89e43f31a6825f4cf433389fedae75c04ee9f0cf16a427c95a" },
    { 4096, "befc660aea2f1718884cd8deb9902811d332f4fc4a38cf7c7300d597a081bfc0" },
    { 4097, "00df940cd36bb9fa7cbbc3556744e0dbc8191401afe70520ba292ee3ca80abbc" },
    { 5120, "2c493e48e9b9bf31e0553a22b23503c0a3388f035cece68eb438d22fa1943e20" },
    { 5121, "6ccf1c34753e7a044db80798ecd0782a8f76f33563accaddbfbb2e0ea4b2d024" },
    { 6144, "3d6b6d21281d0ade5b2b016ae4034c5dec10ca7e475f90f76eac7138e9bc8f1d" },
    { 6145, "9ac301e9e39e45e3250a7e3b3df701aa0fb6889fbd80eeecf28dbc6300fbc539" },
    { 7168, "b42835e40e9d4a7f42ad8cc04f85a963a76e18198377ed84adddeaecacc6f3fc" },
    { 7169, "ed9b1a922c046fdb3d423ae34e143b05ca1bf28b710432857bf738bcedbfa511" },
    { 8192, "dc9637c8845a770b4cbf76b8daec0eebf7dc2eac11498517f08d44c8fc00d58a" },
    { 8193, "954a2a75420c8d6547e3ba5b98d963e6fa6491addc8c023189cc519821b4a1f5" },
    { 16384, "9e9fc4eb7cf081ea7c47d1807790ed211bfec56aa25bb7037784c13c4b707b0d" },
    { 31744, "efa53b389ab67c593dba624d898d0f7353ab99e4ac9d42302ee64cbf9939a419" },
    { 102400, "1c35d1a5811083fd7119f5d5d1ba027b4d01c0c6c49fb6ff2cf75393ea5db4a7" },
};

static const uint8_t KEY[32] = "whats the Elvish word for friend";
static uint8_t input[102400];

static void
hex(const uint8_t *bytes, char out[65])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", bytes[i]);
}

static void
check_vectors(void)
{
    for (size_t i = 0; i < sizeof(input); i++)
        input[i] = (uint8_t)(i % 251);
    for (size_t v = 0; v < sizeof(VECTORS) / sizeof(VECTORS[0]); v++) {
        uint8_t out[32];
        char text[65];
        ubc_blake3_keyed(KEY, input, VECTORS[v].bytes, out);
        hex(out, text);
        if (strcmp(text, VECTORS[v].hex) != 0)
            fail_msg("length %zu: %s, expected %s", VECTORS[v].bytes, text, VECTORS[v].hex);
    }
}

static void
test_vectors_simd(void **state)
{
    (void)state;
    ubc_blake3_portable_only(0);
    check_vectors();
}

static void
test_vectors_portable(void **state)
{
    (void)state;
    ubc_blake3_portable_only(1);
    assert_int_equal(ubc_blake3_simd(), 0);
    check_vectors();
    ubc_blake3_portable_only(0);
}

/* Lengths around 16-lane groups and subtree edges, plus random ones; the
 * input is not at an aligned address (journal batches are, tools' may not be). */
static void
test_paths_agree(void **state)
{
    (void)state;
    static uint8_t data[300 * 1024 + 3];
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < sizeof(data); i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        data[i] = (uint8_t)x;
    }
    size_t lengths[64] = { 16 * 1024, 16 * 1024 + 1,  32 * 1024,  64 * 1024, 64 * 1024 + 64,
                           65 * 1024, 128 * 1024 - 8, 256 * 1024, 300 * 1024 };
    for (int i = 9; i < 64; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        lengths[i] = (size_t)(x % (300 * 1024));
    }
    for (int i = 0; i < 64; i++) {
        uint8_t a[32], b[32];
        ubc_blake3_portable_only(0);
        ubc_blake3_keyed(KEY, data + 3, lengths[i], a);
        ubc_blake3_portable_only(1);
        ubc_blake3_keyed(KEY, data + 3, lengths[i], b);
        ubc_blake3_portable_only(0);
        if (memcmp(a, b, 32) != 0)
            fail_msg("length %zu: SIMD and portable differ", lengths[i]);
    }
    /* One flipped bit anywhere changes the hash. */
    uint8_t before[32], after[32];
    ubc_blake3_keyed(KEY, data, 200000, before);
    data[123456] ^= 4;
    ubc_blake3_keyed(KEY, data, 200000, after);
    assert_memory_not_equal(before, after, 32);
}

int
main(void)
{
    if (!ubc_blake3_simd())
        printf("note: no AVX-512 here, both runs use the portable path\n");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors_simd),
        cmocka_unit_test(test_vectors_portable),
        cmocka_unit_test(test_paths_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
