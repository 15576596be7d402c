/* ubc_sim_result.h: the result hash of simulated work (docs/wire-protocol.md
 * §5.6), the one definition every simulated provider uses (ubc-client
 * provider, ubc-loadgen's provider agents), so honest replicas agree:
 * BLAKE2b-256("ubc-task" || job_id LE64 || task_index LE16 || salt LE64),
 * salt 0 for an honest provider (a dishonest one salts with its id).
 * Pure function; any thread; needs libsodium (the tools link it). */
#ifndef UBC_SIM_RESULT_H
#define UBC_SIM_RESULT_H

#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "common/ubc_msg.h"

static inline void
ubc_sim_result_hash(uint64_t job_id, uint16_t task_index, uint64_t salt,
                    uint8_t hash[UBC_HASH_BYTES])
{
    uint8_t input[8 + 8 + 2 + 8];
    memcpy(input, "ubc-task", 8);
    for (int i = 0; i < 8; i++)
        input[8 + i] = (uint8_t)(job_id >> (8 * i));
    input[16] = (uint8_t)task_index;
    input[17] = (uint8_t)(task_index >> 8);
    for (int i = 0; i < 8; i++)
        input[18 + i] = (uint8_t)(salt >> (8 * i));
    crypto_generichash(hash, UBC_HASH_BYTES, input, sizeof(input), NULL, 0);
}

#endif /* UBC_SIM_RESULT_H */
