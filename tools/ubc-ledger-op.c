/* ubc-ledger-op: makes keys and signed ledger operations for operators.
 *
 *   ubc-ledger-op keygen
 *       prints a fresh Ed25519 key pair: "public HEX64" and "secret HEX128"
 *   ubc-ledger-op sign --kind KIND --account HEX64 --nonce N --secret HEX128
 *                      [--chain-id N] [--to HEX64] [--amount N]
 *       prints the signed operation as 448 hex digits, for `ubcctl ledger submit op=...`
 *       KIND: pause, resume, transfer, burn, stake, unstake, create-account
 *
 * The guardian pauses the ledger with `--kind pause --account <guardian id>`; the node's
 * guardian id is dd..dd and its key is ledger.guardian_key (docs/operations.md). Exit: 0 ok,
 * 2 usage. One-shot tool: it allocates and prints freely.
 */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/ubc_ledger.h"

static void
usage(const char *why)
{
    fprintf(stderr,
            "ubc-ledger-op: %s\n"
            "usage: ubc-ledger-op keygen\n"
            "       ubc-ledger-op sign --kind KIND --account HEX64 --nonce N --secret HEX128\n"
            "                          [--chain-id N] [--to HEX64] [--amount N]\n"
            "KIND: pause, resume, transfer, burn, stake, unstake, create-account\n",
            why);
    exit(2);
}

static void
print_hex(const uint8_t *bytes, size_t length)
{
    for (size_t i = 0; i < length; i++)
        printf("%02x", bytes[i]);
    printf("\n");
}

static void
parse_hex(const char *text, uint8_t *out, size_t length, const char *what)
{
    if (text == NULL || strlen(text) != 2 * length ||
        sodium_hex2bin(out, length, text, 2 * length, NULL, NULL, NULL) != 0)
        usage(what);
}

static uint64_t
parse_u64(const char *text, const char *what)
{
    char *end = NULL;
    unsigned long long value = strtoull(text, &end, 10);
    if (text[0] == '\0' || text[0] == '-' || *end != '\0')
        usage(what);
    return value;
}

static uint8_t
parse_kind(const char *name)
{
    static const struct {
        const char *name;
        uint8_t kind;
    } kinds[] = {
        { "pause", UBC_LEDGER_OP_PAUSE },
        { "resume", UBC_LEDGER_OP_RESUME },
        { "transfer", UBC_LEDGER_OP_TRANSFER },
        { "burn", UBC_LEDGER_OP_BURN },
        { "stake", UBC_LEDGER_OP_STAKE },
        { "unstake", UBC_LEDGER_OP_UNSTAKE },
        { "create-account", UBC_LEDGER_OP_CREATE_ACCOUNT },
    };
    for (size_t i = 0; name != NULL && i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (strcmp(name, kinds[i].name) == 0)
            return kinds[i].kind;
    }
    usage("--kind: unknown or missing");
    return 0;
}

static int
sign_command(int argc, char **argv)
{
    static const struct option options[] = {
        { "kind", required_argument, NULL, 'k' },     { "account", required_argument, NULL, 'a' },
        { "nonce", required_argument, NULL, 'n' },    { "secret", required_argument, NULL, 's' },
        { "chain-id", required_argument, NULL, 'c' }, { "to", required_argument, NULL, 't' },
        { "amount", required_argument, NULL, 'm' },   { NULL, 0, NULL, 0 },
    };
    struct ubc_ledger_op op;
    memset(&op, 0, sizeof(op));
    const char *kind = NULL, *account = NULL, *secret_hex = NULL, *to = NULL;
    uint64_t chain_id = 1, amount = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (c) {
        case 'k': kind = optarg; break;
        case 'a': account = optarg; break;
        case 'n': op.nonce = parse_u64(optarg, "--nonce: expected a number"); break;
        case 's': secret_hex = optarg; break;
        case 'c': chain_id = parse_u64(optarg, "--chain-id: expected a number"); break;
        case 't': to = optarg; break;
        case 'm': amount = parse_u64(optarg, "--amount: expected a number"); break;
        default: usage("unknown option");
        }
    }
    op.kind = parse_kind(kind);
    parse_hex(account, op.account, UBC_LEDGER_KEY_BYTES, "--account: expected 64 hex digits");
    uint8_t secret[crypto_sign_SECRETKEYBYTES];
    parse_hex(secret_hex, secret, sizeof(secret), "--secret: expected 128 hex digits");
    if (op.kind == UBC_LEDGER_OP_TRANSFER) {
        parse_hex(to, op.args.u.transfer.target, UBC_LEDGER_KEY_BYTES, "--to: expected 64 hex");
        op.args.u.transfer.amount = amount;
    } else if (op.kind == UBC_LEDGER_OP_BURN || op.kind == UBC_LEDGER_OP_STAKE ||
               op.kind == UBC_LEDGER_OP_UNSTAKE) {
        op.args.u.amount.amount = amount;
    }
    ubc_ledger_op_sign(chain_id, &op, secret);
    sodium_memzero(secret, sizeof(secret));
    print_hex((const uint8_t *)&op, sizeof(op));
    return 0;
}

int
main(int argc, char **argv)
{
    if (sodium_init() < 0) {
        fprintf(stderr, "ubc-ledger-op: libsodium failed to initialise\n");
        return 4;
    }
    if (argc < 2)
        usage("missing command");
    if (strcmp(argv[1], "keygen") == 0) {
        uint8_t public_key[crypto_sign_PUBLICKEYBYTES], secret[crypto_sign_SECRETKEYBYTES];
        crypto_sign_keypair(public_key, secret);
        printf("public ");
        print_hex(public_key, sizeof(public_key));
        printf("secret ");
        print_hex(secret, sizeof(secret));
        return 0;
    }
    if (strcmp(argv[1], "sign") == 0)
        return sign_command(argc - 1, argv + 1);
    usage("unknown command");
    return 2;
}
