/* ubc_ledger_verify.c: the signed bytes of an operation and the verify stage.
 *
 * The verify stage is pure: it reads only the ops it is given and writes only their `verify`
 * byte, so disjoint ranges of a batch can be verified on different threads at once. libsodium
 * must have been initialised (sodium_init) once at start-up; ubc_ledger_new does it too.
 */
#include <string.h>

#include <sodium.h>

#include "ledger/ubc_ledger.h"

static const uint8_t signing_domain[16] = "UBC-LEDGER-OP-V1";

void
ubc_ledger_op_signed_bytes(uint64_t chain_id, const struct ubc_ledger_op *op,
                           uint8_t out[UBC_LEDGER_SIGNED_BYTES])
{
    uint8_t *cursor = out;
    memcpy(cursor, signing_domain, sizeof(signing_domain));
    cursor += sizeof(signing_domain);
    memcpy(cursor, &chain_id, sizeof(chain_id)); /* little endian host, asserted */
    cursor += sizeof(chain_id);
    cursor[0] = op->kind;
    cursor[1] = op->flags;
    cursor[2] = op->cosign_count;
    cursor[3] = 0; /* the verify mark is an output of verification, never signed */
    memcpy(cursor + 4, &op->reserved, sizeof(op->reserved));
    cursor += 8;
    memcpy(cursor, &op->nonce, sizeof(op->nonce));
    cursor += sizeof(op->nonce);
    memcpy(cursor, op->account, UBC_LEDGER_KEY_BYTES);
    cursor += UBC_LEDGER_KEY_BYTES;
    memcpy(cursor, op->args.u.bytes, sizeof(op->args.u.bytes));
    cursor += sizeof(op->args.u.bytes);
    UBC_ASSERT(cursor == out + UBC_LEDGER_SIGNED_BYTES);
}

void
ubc_ledger_op_sign(uint64_t chain_id, struct ubc_ledger_op *op, const uint8_t *secret_key)
{
    uint8_t message[UBC_LEDGER_SIGNED_BYTES];
    ubc_ledger_op_signed_bytes(chain_id, op, message);
    crypto_sign_detached(op->signature, NULL, message, sizeof(message), secret_key);
    memcpy(op->signer, secret_key + crypto_sign_SEEDBYTES, UBC_LEDGER_KEY_BYTES);
}

void
ubc_ledger_op_cosign(uint64_t chain_id, const struct ubc_ledger_op *main,
                     struct ubc_ledger_op *cosign, const uint8_t *secret_key)
{
    uint8_t message[UBC_LEDGER_SIGNED_BYTES];
    memset(cosign, 0, sizeof(*cosign));
    cosign->kind = UBC_LEDGER_OP_COSIGN;
    ubc_ledger_op_signed_bytes(chain_id, main, message);
    crypto_sign_detached(cosign->signature, NULL, message, sizeof(message), secret_key);
    memcpy(cosign->signer, secret_key + crypto_sign_SEEDBYTES, UBC_LEDGER_KEY_BYTES);
}

uint32_t
ubc_ledger_verify_batch(uint64_t chain_id, struct ubc_ledger_op *ops, uint32_t n)
{
    uint8_t message[UBC_LEDGER_SIGNED_BYTES];
    uint32_t cosigns_left = 0;
    int have_main = 0;
    uint32_t bad = 0;
    for (uint32_t i = 0; i < n; i++) {
        struct ubc_ledger_op *op = &ops[i];
        if (op->kind == UBC_LEDGER_OP_COSIGN) {
            if (!have_main || cosigns_left == 0) {
                op->verify = UBC_LEDGER_VERIFY_BAD; /* no op for this signature to cover */
                bad++;
                continue;
            }
            cosigns_left--;
        } else {
            ubc_ledger_op_signed_bytes(chain_id, op, message);
            have_main = 1;
            cosigns_left = op->cosign_count;
        }
        int rc = crypto_sign_verify_detached(op->signature, message, sizeof(message), op->signer);
        op->verify = rc == 0 ? UBC_LEDGER_VERIFY_OK : UBC_LEDGER_VERIFY_BAD;
        bad += rc != 0;
    }
    return bad;
}

void
ubc_ledger_mark_internal(struct ubc_ledger_op *ops, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        ops[i].verify = UBC_LEDGER_VERIFY_INTERNAL;
}
