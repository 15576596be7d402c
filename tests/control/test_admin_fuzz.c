/* test_admin_fuzz.c: seeded random and mutated input against the admin
 * protocol. Part 1 drives the request parser directly (no socket); part 2
 * pours random byte streams in random chunks through a real socket. Every
 * line must get a valid one-line reply and the node must keep serving.
 * Deterministic: the seed is fixed (override with UBC_TEST_SEED). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/ubc_assert.h"
#include "common/ubc_time.h"
#include "control/ubc_admin.h"
#include "control/ubc_admin_client.h"
#include "control/ubc_admin_private.h"

#define FUZZ_LINE_BYTES_MAX 512u

static uint64_t fuzz_state;

static uint64_t
fuzz_next(void)
{
    /* xorshift64*: enough for input generation, reproducible. */
    fuzz_state ^= fuzz_state >> 12;
    fuzz_state ^= fuzz_state << 25;
    fuzz_state ^= fuzz_state >> 27;
    return fuzz_state * 0x2545f4914f6cdd1dull;
}

static uint32_t
fuzz_below(uint32_t bound)
{
    return (uint32_t)(fuzz_next() % bound);
}

static const char *const fuzz_seeds[] = {
    "{\"cmd\":\"echo\",\"args\":{\"a\":1,\"b\":[1,2,{\"c\":null}]},\"id\":7}",
    "{\"cmd\":\"help\",\"args\":{\"command\":\"echo\"}}",
    "{\"cmd\":\"version\",\"id\":\"x\"}",
    "{\"id\":null,\"cmd\":\"help\"}",
    "{\"cmd\":\"echo\",\"args\":{\"s\":\"\\u00e9\\n\\\"\",\"f\":-1.5e300}}",
};

static int
fuzz_echo(void *ctx, const json_t *args, json_t **result, char *error, size_t error_cap)
{
    (void)ctx;
    (void)error;
    (void)error_cap;
    *result = json_deep_copy(args);
    return 0;
}

/* A seed with a few random edits, or pure random bytes. */
static size_t
fuzz_line(char *line, size_t cap)
{
    if (fuzz_below(8) == 0) {
        size_t length = fuzz_below((uint32_t)cap);
        for (size_t i = 0; i < length; i++)
            line[i] = (char)fuzz_below(256);
        return length;
    }
    const char *seed = fuzz_seeds[fuzz_below(UBC_ARRAY_SIZE(fuzz_seeds))];
    size_t length = strlen(seed);
    memcpy(line, seed, length);
    uint32_t edits = 1 + fuzz_below(4);
    for (uint32_t e = 0; e < edits && length > 0; e++) {
        size_t at = fuzz_below((uint32_t)length);
        switch (fuzz_below(4)) {
        case 0: line[at] = (char)fuzz_below(256); break; /* flip */
        case 1: length = at; break;                      /* truncate */
        case 2:                                          /* delete */
            memmove(line + at, line + at + 1, length - at - 1);
            length--;
            break;
        default:
            if (length + 1 < cap) { /* insert a structural character */
                memmove(line + at + 1, line + at, length - at);
                line[at] = "{}[]\":,\\0-e"[fuzz_below(11)];
                length++;
            }
        }
    }
    return length;
}

static void
assert_reply_valid(const char *text, size_t length)
{
    assert_int_equal(strlen(text), length);
    assert_null(strchr(text, '\n'));
    json_t *reply = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    assert_non_null(reply);
    json_t *ok = json_object_get(reply, "ok");
    assert_true(json_is_boolean(ok));
    assert_non_null(json_object_get(reply, "id"));
    if (json_is_false(ok)) {
        json_t *error = json_object_get(reply, "error");
        assert_true(json_is_string(json_object_get(error, "code")));
        assert_true(json_is_string(json_object_get(error, "message")));
    } else {
        assert_non_null(json_object_get(reply, "result"));
    }
    json_decref(reply);
}

static void
test_parser_fuzz(void **state)
{
    (void)state;
    struct ubc_admin_config config = { .socket_path = "/tmp/unused-fuzz.sock",
                                       .request_bytes_max = FUZZ_LINE_BYTES_MAX };
    struct ubc_admin *admin = ubc_admin_create(&config);
    assert_non_null(admin);
    assert_int_equal(ubc_admin_register(admin, "echo", "", "", fuzz_echo, NULL), 0);
    char line[FUZZ_LINE_BYTES_MAX];
    for (int i = 0; i < 100000; i++) {
        size_t length = fuzz_line(line, sizeof(line));
        json_t *reply = ubc_admin_request_handle(admin, line, length, NULL);
        size_t text_length = 0;
        char *text = ubc_admin_reply_encode(admin, reply, &text_length);
        json_decref(reply);
        assert_reply_valid(text, text_length);
        free(text);
    }
    struct ubc_admin_counters counters;
    ubc_admin_counters_read(admin, &counters);
    assert_int_equal(counters.requests, 100000);
    assert_true(counters.replies_ok > 0 && counters.errors[UBC_ADMIN_ERR_BAD_JSON] > 0);
    ubc_admin_destroy(admin);
}

/* One connection: random lines (some over the limit) sent in random chunks,
 * then end of input; every reply read back must be valid. */
static void
fuzz_stream_round(const char *path)
{
    uint64_t deadline_ns = ubc_time_monotonic_ns() + 5000000000ull;
    int fd = ubc_admin_client_connect(path, deadline_ns);
    assert_true(fd >= 0);
    char stream[8192];
    size_t used = 0;
    uint32_t lines = 1 + fuzz_below(40);
    for (uint32_t l = 0; l < lines && used + 2 * FUZZ_LINE_BYTES_MAX < sizeof(stream); l++) {
        used += fuzz_line(stream + used, FUZZ_LINE_BYTES_MAX + 64);
        stream[used++] = '\n';
    }
    for (size_t sent = 0; sent < used;) {
        size_t chunk = 1 + fuzz_below(600);
        chunk = chunk > used - sent ? used - sent : chunk;
        ssize_t done = send(fd, stream + sent, chunk, MSG_NOSIGNAL);
        if (done <= 0)
            break; /* closed after a too-large line: expected */
        sent += (size_t)done;
    }
    shutdown(fd, SHUT_WR);
    uint32_t newlines = 0; /* random bytes may hold more '\n' than we appended */
    for (size_t i = 0; i < used; i++)
        newlines += stream[i] == '\n';
    for (uint32_t replies = 0;; replies++) {
        char *line = NULL;
        long length = ubc_admin_client_read_line(fd, &line, 1 << 20, deadline_ns);
        if (length < 0) {
            assert_int_equal(length, -ECONNRESET); /* closed, never a hang */
            assert_true(replies <= newlines + 1);
            break;
        }
        assert_reply_valid(line, (size_t)length);
        free(line);
    }
    close(fd);
}

static void
test_stream_fuzz(void **state)
{
    (void)state;
    char dir[] = "/tmp/ubc-admin-fuzz-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof(path), "%s/admin.sock", dir);
    struct ubc_admin_config config = { .socket_path = path,
                                       .request_bytes_max = FUZZ_LINE_BYTES_MAX };
    struct ubc_admin *admin = ubc_admin_create(&config);
    assert_non_null(admin);
    assert_int_equal(ubc_admin_register(admin, "echo", "", "", fuzz_echo, NULL), 0);
    assert_int_equal(ubc_admin_start(admin), 0);
    for (int round = 0; round < 500; round++)
        fuzz_stream_round(path);
    char *line = NULL;
    long length = ubc_admin_client_call(path, "{\"cmd\":\"version\"}", &line,
                                        ubc_time_monotonic_ns() + 5000000000ull);
    assert_true(length > 0 && strstr(line, "\"ok\":true") != NULL);
    free(line);
    assert_int_equal(ubc_admin_clients_count(admin) <= 1, 1);
    ubc_admin_destroy(admin);
    rmdir(dir);
}

int
main(void)
{
    const char *seed = getenv("UBC_TEST_SEED");
    fuzz_state = seed != NULL ? strtoull(seed, NULL, 0) : 0x5eed0ad3111ull;
    if (fuzz_state == 0)
        fuzz_state = 1;
    printf("seed %#llx\n", (unsigned long long)fuzz_state);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parser_fuzz),
        cmocka_unit_test(test_stream_fuzz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
