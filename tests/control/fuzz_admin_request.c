/* fuzz_admin_request.c: libFuzzer harness for the admin request parser
 * (meson -Dfuzz=true with CC=clang). One input is one request line; the
 * reply must encode to one line of valid JSON. Seed corpus: corpus/admin/. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/ubc_assert.h"
#include "control/ubc_admin_private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
fuzz_echo(void *ctx, const json_t *args, json_t **result, char *error, size_t error_cap)
{
    (void)ctx;
    (void)error;
    (void)error_cap;
    *result = json_deep_copy(args);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ubc_admin *admin;
    if (admin == NULL) {
        struct ubc_admin_config config = { .socket_path = "/tmp/unused-fuzz.sock" };
        admin = ubc_admin_create(&config);
        UBC_ASSERT(admin != NULL);
        UBC_ASSERT(ubc_admin_register(admin, "echo", "", "", fuzz_echo, NULL) == 0);
    }
    if (size > admin->config.request_bytes_max)
        return 0;
    json_t *reply = ubc_admin_request_handle(admin, (const char *)data, size, NULL);
    size_t length = 0;
    char *text = ubc_admin_reply_encode(admin, reply, &length);
    json_decref(reply);
    UBC_ASSERT(memchr(text, '\n', length) == NULL);
    json_t *parsed = json_loads(text, 0, NULL);
    UBC_ASSERT(json_is_boolean(json_object_get(parsed, "ok")));
    json_decref(parsed);
    free(text);
    return 0;
}
