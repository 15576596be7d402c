/* test_admin.c: the admin protocol on a real Unix socket in a temp dir.
 * The admin's own control thread serves; the test thread (and, in the
 * many-clients test, several client threads) connect as clients. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/ubc_time.h"
#include "control/ubc_admin.h"
#include "control/ubc_admin_client.h"
#include "control/ubc_admin_render.h"

#define TEST_TIMEOUT_NS (5ull * 1000000000ull)

#define AUDIT_EVENTS_MAX 64

struct fixture {
    char dir[64];
    char path[100];
    struct ubc_admin *admin;
    int calls;
    pthread_mutex_t audit_lock; /* the control thread writes, the test reads */
    struct ubc_admin_audit audit[AUDIT_EVENTS_MAX];
    char audit_commands[AUDIT_EVENTS_MAX][UBC_ADMIN_NAME_BYTES_MAX];
    uint32_t audit_count;
};

static void
fixture_audit(void *ctx, const struct ubc_admin_audit *event)
{
    struct fixture *fixture = ctx;
    pthread_mutex_lock(&fixture->audit_lock);
    if (fixture->audit_count < AUDIT_EVENTS_MAX) {
        uint32_t slot = fixture->audit_count++;
        fixture->audit[slot] = *event;
        snprintf(fixture->audit_commands[slot], UBC_ADMIN_NAME_BYTES_MAX, "%s",
                 event->command != NULL ? event->command : "(none)");
        fixture->audit[slot].command = NULL; /* the event's string dies with the call */
    }
    pthread_mutex_unlock(&fixture->audit_lock);
}

static int
handler_echo(void *ctx, const json_t *args, json_t **result, char *error, size_t error_cap)
{
    (void)error;
    (void)error_cap;
    struct fixture *fixture = ctx;
    fixture->calls++; /* handlers run one at a time on the control thread */
    *result = json_deep_copy(args);
    return 0;
}

/* Fails with the status given in args: {"status": -2, "message": "..."} */
static int
handler_fail(void *ctx, const json_t *args, json_t **result, char *error, size_t error_cap)
{
    (void)ctx;
    *result = json_object(); /* must be released by the admin on error */
    const char *message = json_string_value(json_object_get(args, "message"));
    if (message != NULL)
        snprintf(error, error_cap, "%s", message);
    return (int)json_integer_value(json_object_get(args, "status"));
}

/* A reply of args.bytes bytes, to fill a client's socket buffer. */
static int
handler_big(void *ctx, const json_t *args, json_t **result, char *error, size_t error_cap)
{
    (void)ctx;
    json_int_t bytes = json_integer_value(json_object_get(args, "bytes"));
    if (bytes <= 0 || bytes > (1 << 24)) {
        snprintf(error, error_cap, "bytes must be 1..16M");
        return -EINVAL;
    }
    char *text = malloc((size_t)bytes + 1);
    memset(text, 'x', (size_t)bytes);
    text[bytes] = '\0';
    *result = json_pack("{s:s}", "text", text);
    free(text);
    return 0;
}

static void
fixture_paths(struct fixture *fixture)
{
    snprintf(fixture->dir, sizeof(fixture->dir), "/tmp/ubc-admin-test-XXXXXX");
    assert_non_null(mkdtemp(fixture->dir));
    snprintf(fixture->path, sizeof(fixture->path), "%s/admin.sock", fixture->dir);
}

static struct ubc_admin *
fixture_admin(struct fixture *fixture, struct ubc_admin_config *config)
{
    config->socket_path = fixture->path;
    config->version = "9.9.9";
    config->audit_fn = fixture_audit;
    config->audit_ctx = fixture;
    pthread_mutex_init(&fixture->audit_lock, NULL);
    struct ubc_admin *admin = ubc_admin_create(config);
    assert_non_null(admin);
    assert_int_equal(
        ubc_admin_register(admin, "echo", "[k=V ...]", "echo args", handler_echo, fixture), 0);
    assert_int_equal(ubc_admin_register(admin, "fail", "status=N", "fails", handler_fail, NULL), 0);
    assert_int_equal(ubc_admin_register(admin, "big", "bytes=N", "big reply", handler_big, NULL),
                     0);
    return admin;
}

static int
setup_custom(void **state, struct ubc_admin_config config)
{
    struct fixture *fixture = calloc(1, sizeof(*fixture));
    fixture_paths(fixture);
    fixture->admin = fixture_admin(fixture, &config);
    assert_int_equal(ubc_admin_start(fixture->admin), 0);
    *state = fixture;
    return 0;
}

static int
setup(void **state)
{
    struct ubc_admin_config config = { .request_bytes_max = 1024, .clients_max = 8 };
    return setup_custom(state, config);
}

static int
setup_idle(void **state)
{
    struct ubc_admin_config config = { .idle_timeout_ms = 200 };
    return setup_custom(state, config);
}

static int
setup_default(void **state)
{
    struct ubc_admin_config config = { 0 };
    return setup_custom(state, config);
}

static int
setup_small_reply(void **state)
{
    struct ubc_admin_config config = { .reply_bytes_max = 4096 };
    return setup_custom(state, config);
}

static int
teardown(void **state)
{
    struct fixture *fixture = *state;
    ubc_admin_destroy(fixture->admin);
    struct stat info;
    /* stop removes its own socket file */
    assert_int_equal(stat(fixture->path, &info), -1);
    rmdir(fixture->dir);
    free(fixture);
    return 0;
}

static uint64_t
deadline(void)
{
    return ubc_time_monotonic_ns() + TEST_TIMEOUT_NS;
}

/* Sends one request line, returns the parsed reply. */
static json_t *
call(const char *path, const char *request)
{
    char *line = NULL;
    long length = ubc_admin_client_call(path, request, &line, deadline());
    assert_true(length >= 0);
    assert_null(strchr(line, '\n'));
    json_t *reply = json_loads(line, 0, NULL);
    assert_non_null(reply);
    free(line);
    return reply;
}

static const char *
error_code(const json_t *reply)
{
    assert_true(json_is_false(json_object_get(reply, "ok")));
    return json_string_value(json_object_get(json_object_get(reply, "error"), "code"));
}

static void
assert_error(const char *path, const char *request, const char *code)
{
    json_t *reply = call(path, request);
    assert_string_equal(error_code(reply), code);
    assert_non_null(json_string_value(json_object_get(json_object_get(reply, "error"), "message")));
    json_decref(reply);
}

static int
connect_client(const char *path)
{
    int fd = ubc_admin_client_connect(path, deadline());
    assert_true(fd >= 0);
    return fd;
}

static json_t *
read_reply(int fd)
{
    char *line = NULL;
    long length = ubc_admin_client_read_line(fd, &line, 1 << 26, deadline());
    if (length < 0)
        fprintf(stderr, "read_reply: %s\n", strerror((int)-length));
    assert_true(length >= 0);
    json_t *reply = json_loads(line, 0, NULL);
    assert_non_null(reply);
    free(line);
    return reply;
}

static void
assert_closed(int fd)
{
    char *line = NULL;
    assert_int_equal(ubc_admin_client_read_line(fd, &line, 1 << 20, deadline()), -ECONNRESET);
}

static void
test_call_registered(void **state)
{
    struct fixture *fixture = *state;
    json_t *reply =
        call(fixture->path, "{\"cmd\":\"echo\",\"args\":{\"a\":1,\"b\":\"x\"},\"id\":7}");
    assert_true(json_is_true(json_object_get(reply, "ok")));
    assert_int_equal(json_integer_value(json_object_get(reply, "id")), 7);
    json_t *expected = json_pack("{s:i,s:s}", "a", 1, "b", "x");
    assert_true(json_equal(json_object_get(reply, "result"), expected));
    json_decref(expected);
    json_decref(reply);
    /* A string id is echoed; no id and no args are fine. */
    reply = call(fixture->path, "{\"id\":\"abc\",\"cmd\":\"echo\"}");
    assert_string_equal(json_string_value(json_object_get(reply, "id")), "abc");
    assert_int_equal(json_object_size(json_object_get(reply, "result")), 0);
    json_decref(reply);
    reply = call(fixture->path, "{\"cmd\":\"version\"}");
    assert_true(json_is_null(json_object_get(reply, "id")));
    json_t *result = json_object_get(reply, "result");
    assert_string_equal(json_string_value(json_object_get(result, "version")), "9.9.9");
    assert_int_equal(json_integer_value(json_object_get(result, "protocol")),
                     UBC_ADMIN_PROTOCOL_VERSION);
    json_decref(reply);
    assert_int_equal(fixture->calls, 2);
}

static void
test_audit(void **state)
{
    struct fixture *fixture = *state;
    json_decref(call(fixture->path, "{\"cmd\":\"echo\"}"));
    json_decref(call(fixture->path, "{\"cmd\":\"nope\"}"));
    json_decref(call(fixture->path, "{bad"));
    json_decref(call(fixture->path, "{\"cmd\":\"fail\",\"args\":{\"status\":-2}}"));
    pthread_mutex_lock(&fixture->audit_lock);
    assert_int_equal(fixture->audit_count, 4);
    const char *commands[] = { "echo", "nope", "(none)", "fail" };
    const int codes[] = { UBC_ADMIN_OK, UBC_ADMIN_ERR_UNKNOWN_COMMAND, UBC_ADMIN_ERR_BAD_JSON,
                          UBC_ADMIN_ERR_NOT_FOUND };
    for (uint32_t i = 0; i < 4; i++) {
        assert_string_equal(fixture->audit_commands[i], commands[i]);
        assert_int_equal(fixture->audit[i].code, codes[i]);
        assert_int_equal(fixture->audit[i].uid, geteuid());
        assert_int_equal(fixture->audit[i].pid, getpid());
    }
    pthread_mutex_unlock(&fixture->audit_lock);
    struct ubc_admin_counters counters;
    ubc_admin_counters_read(fixture->admin, &counters);
    assert_true(counters.handler_ns_max > 0);
}

static void
test_help(void **state)
{
    struct fixture *fixture = *state;
    json_t *reply = call(fixture->path, "{\"cmd\":\"help\"}");
    json_t *commands = json_object_get(json_object_get(reply, "result"), "commands");
    assert_int_equal(json_array_size(commands), 5); /* big echo fail help version */
    const char *expected[] = { "big", "echo", "fail", "help", "version" };
    for (size_t i = 0; i < 5; i++) {
        json_t *entry = json_array_get(commands, i);
        assert_string_equal(json_string_value(json_object_get(entry, "command")), expected[i]);
        assert_non_null(json_string_value(json_object_get(entry, "help")));
    }
    json_decref(reply);
    reply = call(fixture->path, "{\"cmd\":\"help\",\"args\":{\"command\":\"echo\"}}");
    json_t *result = json_object_get(reply, "result");
    assert_string_equal(json_string_value(json_object_get(result, "usage")), "[k=V ...]");
    assert_string_equal(json_string_value(json_object_get(result, "help")), "echo args");
    json_decref(reply);
    assert_error(fixture->path, "{\"cmd\":\"help\",\"args\":{\"command\":\"nope\"}}",
                 "unknown-command");
    assert_error(fixture->path, "{\"cmd\":\"help\",\"args\":{\"bogus\":1}}", "bad-args");
    assert_error(fixture->path, "{\"cmd\":\"version\",\"args\":{\"x\":1}}", "bad-args");
}

static void
test_unknown_command(void **state)
{
    struct fixture *fixture = *state;
    json_t *reply = call(fixture->path, "{\"cmd\":\"no-such\",\"id\":3}");
    assert_string_equal(error_code(reply), "unknown-command");
    assert_int_equal(json_integer_value(json_object_get(reply, "id")), 3);
    json_decref(reply);
}

static void
test_bad_requests(void **state)
{
    struct fixture *fixture = *state;
    const char *path = fixture->path;
    assert_error(path, "{not json", "bad-json");
    assert_error(path, "{\"cmd\":\"echo\",\"cmd\":\"echo\"}", "bad-json"); /* duplicate key */
    assert_error(path, "{\"cmd\":\"echo\",\"args\":{\"n\":99999999999999999999}}", "bad-json");
    assert_error(path, "[1,2]", "bad-request");
    assert_error(path, "\"help\"", "bad-json"); /* not an object or array */
    assert_error(path, "{\"cmd\":5}", "bad-request");
    assert_error(path, "{\"args\":{}}", "bad-request");
    assert_error(path, "{\"cmd\":\"\"}", "bad-request");
    assert_error(path, "{\"cmd\":\"echo\",\"args\":[]}", "bad-request");
    assert_error(path, "{\"cmd\":\"echo\",\"extra\":1}", "bad-request");
    assert_error(path, "{\"cmd\":\"echo\",\"id\":1.5}", "bad-request");
    assert_error(path, "{\"cmd\":\"echo\",\"id\":{}}", "bad-request");
    /* An invalid UTF-8 byte and a raw NUL inside the line. */
    assert_error(path, "{\"cmd\":\"\xff\"}", "bad-json");
    int fd = connect_client(path);
    assert_int_equal(ubc_admin_client_send_line(fd, "{\"cmd\":\0\"x\"}", 12, deadline()), 0);
    json_t *reply = read_reply(fd);
    assert_string_equal(error_code(reply), "bad-json");
    json_decref(reply);
    close(fd);
    /* A bad request does not harm the connection or the node. */
    reply = call(path, "{\"cmd\":\"echo\"}");
    assert_true(json_is_true(json_object_get(reply, "ok")));
    json_decref(reply);
}

static void
test_handler_errors(void **state)
{
    struct fixture *fixture = *state;
    const char *path = fixture->path;
    assert_error(path, "{\"cmd\":\"fail\",\"args\":{\"status\":-22}}", "bad-args");
    assert_error(path, "{\"cmd\":\"fail\",\"args\":{\"status\":-2}}", "not-found");
    assert_error(path, "{\"cmd\":\"fail\",\"args\":{\"status\":-11}}", "busy");
    assert_error(path, "{\"cmd\":\"fail\",\"args\":{\"status\":-5}}", "internal");
    assert_error(path, "{\"cmd\":\"fail\",\"args\":{\"status\":10}}", "unavailable");
    assert_error(path, "{\"cmd\":\"fail\",\"args\":{\"status\":1000}}", "internal");
    json_t *reply = call(
        path, "{\"cmd\":\"fail\",\"args\":{\"status\":-22,\"message\":\"two\\nlines\\u001b\"}}");
    const char *message =
        json_string_value(json_object_get(json_object_get(reply, "error"), "message"));
    assert_string_equal(message, "two?lines?"); /* one line, no terminal escapes */
    json_decref(reply);
    reply = call(path, "{\"cmd\":\"fail\",\"args\":{\"status\":-5}}");
    message = json_string_value(json_object_get(json_object_get(reply, "error"), "message"));
    assert_string_equal(message, "fail failed (internal)");
    json_decref(reply);
}

static void
test_oversized_request(void **state)
{
    struct fixture *fixture = *state;
    /* A line of exactly request_bytes_max (1024) is served. */
    char line[4096];
    memset(line, ' ', sizeof(line));
    memcpy(line, "{\"cmd\":\"echo\"}", 14);
    int fd = connect_client(fixture->path);
    assert_int_equal(ubc_admin_client_send_line(fd, line, 1024, deadline()), 0);
    json_t *reply = read_reply(fd);
    assert_true(json_is_true(json_object_get(reply, "ok")));
    json_decref(reply);
    /* One byte more: too-large, then the node closes the connection. */
    assert_int_equal(ubc_admin_client_send_line(fd, line, 1025, deadline()), 0);
    reply = read_reply(fd);
    assert_string_equal(error_code(reply), "too-large");
    json_decref(reply);
    assert_closed(fd);
    close(fd);
    /* Far over the limit and never a newline: same answer, no hang. */
    fd = connect_client(fixture->path);
    int sent = ubc_admin_client_send_line(fd, line, sizeof(line), deadline());
    assert_true(sent == 0 || sent == -EPIPE || sent == -ECONNRESET);
    reply = read_reply(fd);
    assert_string_equal(error_code(reply), "too-large");
    json_decref(reply);
    close(fd);
    struct ubc_admin_counters counters;
    ubc_admin_counters_read(fixture->admin, &counters);
    assert_int_equal(counters.connections_closed_limit, 2);
    assert_int_equal(counters.errors[UBC_ADMIN_ERR_TOO_LARGE], 2);
}

static void
test_reply_too_large(void **state)
{
    struct fixture *fixture = *state;
    int fd = connect_client(fixture->path);
    const char *big = "{\"cmd\":\"big\",\"args\":{\"bytes\":5000},\"id\":4}";
    assert_int_equal(ubc_admin_client_send_line(fd, big, strlen(big), deadline()), 0);
    json_t *reply = read_reply(fd);
    assert_string_equal(error_code(reply), "too-large");
    assert_int_equal(json_integer_value(json_object_get(reply, "id")), 4);
    json_decref(reply);
    /* The connection stays usable: the request was fine, its answer was not. */
    const char *small = "{\"cmd\":\"big\",\"args\":{\"bytes\":3000}}";
    assert_int_equal(ubc_admin_client_send_line(fd, small, strlen(small), deadline()), 0);
    reply = read_reply(fd);
    assert_true(json_is_true(json_object_get(reply, "ok")));
    json_decref(reply);
    close(fd);
}

static void
test_pipelined_and_eof(void **state)
{
    struct fixture *fixture = *state;
    int fd = connect_client(fixture->path);
    char batch[2048];
    size_t used = 0;
    for (int i = 0; i < 20; i++)
        used += (size_t)snprintf(batch + used, sizeof(batch) - used,
                                 "{\"cmd\":\"echo\",\"id\":%d}\r\n\n", i);
    /* The last request has no '\n': the node serves it at end of input. */
    used += (size_t)snprintf(batch + used, sizeof(batch) - used, "{\"cmd\":\"echo\",\"id\":20}");
    assert_int_equal(send(fd, batch, used, MSG_NOSIGNAL), (ssize_t)used);
    assert_int_equal(shutdown(fd, SHUT_WR), 0);
    for (int i = 0; i <= 20; i++) {
        json_t *reply = read_reply(fd);
        assert_int_equal(json_integer_value(json_object_get(reply, "id")), i);
        json_decref(reply);
    }
    assert_closed(fd);
    close(fd);
}

static void
test_too_many_clients(void **state)
{
    struct fixture *fixture = *state;
    int fds[8];
    for (int i = 0; i < 8; i++) {
        fds[i] = connect_client(fixture->path);
        /* A round trip makes sure the node has accepted this one. */
        assert_int_equal(ubc_admin_client_send_line(fds[i], "{\"cmd\":\"echo\"}", 14, deadline()),
                         0);
        json_decref(read_reply(fds[i]));
    }
    assert_int_equal(ubc_admin_clients_count(fixture->admin), 8);
    json_t *reply = call(fixture->path, "{\"cmd\":\"echo\"}");
    assert_string_equal(error_code(reply), "busy");
    json_decref(reply);
    close(fds[0]);
    /* The slot frees once the node sees the close. */
    for (int tries = 0; tries < 500 && ubc_admin_clients_count(fixture->admin) == 8; tries++)
        usleep(2000);
    reply = call(fixture->path, "{\"cmd\":\"echo\"}");
    assert_true(json_is_true(json_object_get(reply, "ok")));
    json_decref(reply);
    for (int i = 1; i < 8; i++)
        close(fds[i]);
    struct ubc_admin_counters counters;
    ubc_admin_counters_read(fixture->admin, &counters);
    assert_int_equal(counters.connections_refused, 1);
}

/* A client that stops mid-line, and one that never reads its replies, do not
 * delay anyone else. */
static void
test_hostile_clients(void **state)
{
    struct fixture *fixture = *state;
    int partial = connect_client(fixture->path);
    assert_int_equal(send(partial, "{\"cmd\":", 7, MSG_NOSIGNAL), 7);
    int hog = connect_client(fixture->path);
    const char *request = "{\"cmd\":\"big\",\"args\":{\"bytes\":1000000}}\n";
    for (int i = 0; i < 4; i++) /* ~4 MB of replies it never reads */
        assert_int_equal(send(hog, request, strlen(request), MSG_NOSIGNAL | MSG_DONTWAIT),
                         (ssize_t)strlen(request));
    uint64_t start_ns = ubc_time_monotonic_ns();
    for (int i = 0; i < 20; i++) {
        json_t *reply = call(fixture->path, "{\"cmd\":\"echo\"}");
        assert_true(json_is_true(json_object_get(reply, "ok")));
        json_decref(reply);
    }
    assert_true(ubc_time_monotonic_ns() - start_ns < TEST_TIMEOUT_NS);
    /* The hog still gets every reply once it reads. */
    for (int i = 0; i < 4; i++) {
        json_t *reply = read_reply(hog);
        json_t *text = json_object_get(json_object_get(reply, "result"), "text");
        assert_int_equal(json_string_length(text), 1000000);
        json_decref(reply);
    }
    close(hog);
    close(partial);
}

static void
test_idle_timeout(void **state)
{
    struct fixture *fixture = *state;
    int fd = connect_client(fixture->path);
    assert_int_equal(send(fd, "{\"cmd\"", 6, MSG_NOSIGNAL), 6);
    assert_closed(fd); /* the node gives up after 200 ms without a request */
    close(fd);
    struct ubc_admin_counters counters;
    ubc_admin_counters_read(fixture->admin, &counters);
    assert_int_equal(counters.connections_closed_idle, 1);
}

struct client_thread {
    const char *path;
    int index;
    int ok;
};

static void *
client_thread_main(void *argument)
{
    struct client_thread *thread = argument;
    int fd = ubc_admin_client_connect(thread->path, deadline());
    if (fd < 0)
        return NULL;
    for (int i = 0; i < 50; i++) {
        char request[128];
        int length = snprintf(request, sizeof(request),
                              "{\"cmd\":\"echo\",\"args\":{\"t\":%d,\"i\":%d},\"id\":%d}",
                              thread->index, i, i);
        char *line = NULL;
        if (ubc_admin_client_send_line(fd, request, (size_t)length, deadline()) != 0 ||
            ubc_admin_client_read_line(fd, &line, 1 << 20, deadline()) < 0)
            break;
        json_t *reply = json_loads(line, 0, NULL);
        json_t *result = json_object_get(reply, "result");
        if (json_integer_value(json_object_get(reply, "id")) == i &&
            json_integer_value(json_object_get(result, "t")) == thread->index)
            thread->ok++;
        json_decref(reply);
        free(line);
    }
    close(fd);
    return NULL;
}

static void
test_many_clients(void **state)
{
    struct fixture *fixture = *state;
    enum { THREADS = 32 };
    pthread_t threads[THREADS];
    struct client_thread clients[THREADS];
    for (int i = 0; i < THREADS; i++) {
        clients[i] = (struct client_thread){ .path = fixture->path, .index = i };
        assert_int_equal(pthread_create(&threads[i], NULL, client_thread_main, &clients[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
        assert_int_equal(clients[i].ok, 50);
    }
    struct ubc_admin_counters counters;
    ubc_admin_counters_read(fixture->admin, &counters);
    assert_int_equal(counters.connections_accepted, THREADS);
    assert_int_equal(counters.replies_ok, THREADS * 50);
    json_t *stats = ubc_admin_counters_json(fixture->admin);
    assert_int_equal(json_integer_value(json_object_get(stats, "requests")), THREADS * 50);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(stats, "errors"), "bad-json")), 0);
    json_decref(stats);
}

static void
test_stale_socket(void **state)
{
    (void)state;
    struct fixture fixture = { 0 };
    fixture_paths(&fixture);
    /* A socket file nobody listens on: a node that died. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un address = { .sun_family = AF_UNIX };
    snprintf(address.sun_path, sizeof(address.sun_path), "%s", fixture.path);
    assert_int_equal(bind(fd, (struct sockaddr *)&address, sizeof(address)), 0);
    close(fd);
    struct ubc_admin_config config = { 0 };
    struct ubc_admin *first = fixture_admin(&fixture, &config);
    assert_int_equal(ubc_admin_start(first), 0);
    assert_int_equal(ubc_admin_start(first), -EALREADY);
    struct stat info;
    assert_int_equal(stat(fixture.path, &info), 0);
    assert_int_equal(info.st_mode & 07777, 0660);
    /* A live node owns the path: a second one refuses to start. */
    struct ubc_admin *second = fixture_admin(&fixture, &config);
    assert_int_equal(ubc_admin_start(second), -EADDRINUSE);
    json_t *reply = call(fixture.path, "{\"cmd\":\"version\"}");
    assert_true(json_is_true(json_object_get(reply, "ok")));
    json_decref(reply);
    ubc_admin_destroy(first);
    assert_int_equal(stat(fixture.path, &info), -1);
    /* Something that is not a socket is never removed. */
    FILE *file = fopen(fixture.path, "w");
    assert_non_null(file);
    fclose(file);
    assert_int_equal(ubc_admin_start(second), -EEXIST);
    assert_int_equal(stat(fixture.path, &info), 0);
    unlink(fixture.path);
    assert_int_equal(ubc_admin_start(second), 0);
    ubc_admin_destroy(second);
    rmdir(fixture.dir);
}

/* In a child process (it lowers its descriptor limit): with no descriptor
 * left for accept(), the node pauses accepting instead of spinning, and
 * serves the waiting client once a descriptor frees up. Exit 0 = pass. */
static int
exhaustion_child(const char *path)
{
    struct ubc_admin_config config = { .socket_path = path };
    struct ubc_admin *admin = ubc_admin_create(&config);
    if (admin == NULL || ubc_admin_start(admin) != 0)
        return 1;
    struct rlimit limit = { .rlim_cur = 64, .rlim_max = 64 };
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0)
        return 2;
    int spare[64], spare_count = 0;
    while (spare_count < 64 && (spare[spare_count] = dup(0)) >= 0)
        spare_count++;
    if (spare_count < 2)
        return 3;
    close(spare[--spare_count]); /* one for the client; none for accept */
    int fd = ubc_admin_client_connect(path, deadline());
    if (fd < 0)
        return 4;
    usleep(300000); /* the node hits EMFILE and pauses accepting */
    close(spare[--spare_count]);
    char *line = NULL;
    int result = 0;
    if (ubc_admin_client_send_line(fd, "{\"cmd\":\"version\"}", 17, deadline()) != 0 ||
        ubc_admin_client_read_line(fd, &line, 1 << 20, deadline()) <= 0 ||
        strstr(line, "\"ok\":true") == NULL)
        result = 5;
    free(line);
    close(fd);
    while (spare_count > 0)
        close(spare[--spare_count]);
    ubc_admin_destroy(admin);
    return result;
}

static void
test_descriptor_exhaustion(void **state)
{
    (void)state;
    struct fixture fixture = { 0 };
    fixture_paths(&fixture);
    fflush(NULL);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0)
        _exit(exhaustion_child(fixture.path));
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    rmdir(fixture.dir);
}

static void
test_restart(void **state)
{
    struct fixture *fixture = *state;
    ubc_admin_stop(fixture->admin);
    ubc_admin_stop(fixture->admin); /* idempotent */
    struct stat info;
    assert_int_equal(stat(fixture->path, &info), -1);
    char *line = NULL;
    assert_int_equal(ubc_admin_client_call(fixture->path, "{}", &line, deadline()), -ENOENT);
    assert_int_equal(ubc_admin_start(fixture->admin), 0);
    json_t *reply = call(fixture->path, "{\"cmd\":\"version\"}");
    assert_true(json_is_true(json_object_get(reply, "ok")));
    json_decref(reply);
}

static void
test_register_and_config(void **state)
{
    (void)state;
    struct ubc_admin_config config = { .socket_path = "/tmp/unused.sock", .commands_max = 4 };
    struct ubc_admin *admin = ubc_admin_create(&config);
    assert_non_null(admin);
    assert_int_equal(ubc_admin_register(admin, "Bad", "", "", handler_echo, NULL), -EINVAL);
    assert_int_equal(ubc_admin_register(admin, "", "", "", handler_echo, NULL), -EINVAL);
    assert_int_equal(ubc_admin_register(admin, "a b", "", "", handler_echo, NULL), -EINVAL);
    assert_int_equal(ubc_admin_register(admin, "ok", "", "", NULL, NULL), -EINVAL);
    assert_int_equal(ubc_admin_register(admin, "help", "", "", handler_echo, NULL), -EEXIST);
    assert_int_equal(ubc_admin_register(admin, "one", NULL, NULL, handler_echo, NULL), 0);
    assert_int_equal(ubc_admin_register(admin, "two", "", "", handler_echo, NULL), 0);
    assert_int_equal(ubc_admin_register(admin, "three", "", "", handler_echo, NULL), -ENOSPC);
    ubc_admin_destroy(admin);
    struct ubc_admin_config bad = { .socket_path = NULL };
    assert_null(ubc_admin_create(&bad));
    char long_path[200];
    memset(long_path, 'a', sizeof(long_path) - 1);
    long_path[sizeof(long_path) - 1] = '\0';
    bad.socket_path = long_path;
    assert_null(ubc_admin_create(&bad));
    assert_int_equal(errno, EINVAL);
    bad.socket_path = "/tmp/x.sock";
    bad.socket_mode = 010000;
    assert_null(ubc_admin_create(&bad));
}

static void
test_parse_ids(void **state)
{
    (void)state;
    uint32_t ids[4];
    uint32_t count = 99;
    assert_int_equal(ubc_admin_parse_uids("0, 1000,root", ids, 4, &count), 0);
    assert_int_equal(count, 3);
    assert_int_equal(ids[0], 0);
    assert_int_equal(ids[1], 1000);
    assert_int_equal(ids[2], 0);
    assert_int_equal(ubc_admin_parse_uids("", ids, 4, &count), 0);
    assert_int_equal(count, 0);
    assert_int_equal(ubc_admin_parse_uids("12x", ids, 4, &count), -EINVAL);
    assert_int_equal(ubc_admin_parse_uids("4294967295", ids, 4, &count), -EINVAL);
    assert_int_equal(ubc_admin_parse_uids("no-such-user-ubc", ids, 4, &count), -EINVAL);
    assert_int_equal(ubc_admin_parse_uids("1,2,3,4,5", ids, 4, &count), -ENOSPC);
    assert_int_equal(ubc_admin_parse_gids("root", ids, 4, &count), 0);
    assert_int_equal(ids[0], 0);
}

static char *
render_text(const char *json)
{
    json_t *value = json_loads(json, JSON_DECODE_ANY, NULL);
    assert_non_null(value);
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    assert_int_equal(ubc_admin_render(out, value, 80), 0);
    fclose(out);
    json_decref(value);
    return text;
}

static void
test_render(void **state)
{
    (void)state;
    char *text = render_text("{\"state\":\"running\",\"uptime_s\":12.5,\"rx\":1234567,"
                             "\"ok\":true,\"ports\":{\"p0\":{\"rx\":-1000}},\"tags\":[1,\"a\"],"
                             "\"none\":null}");
    assert_string_equal(text, "state     running\n"
                              "uptime_s  12.5\n"
                              "rx        1,234,567\n"
                              "ok        yes\n"
                              "ports\n"
                              "  p0\n"
                              "    rx  -1,000\n"
                              "tags      1, a\n"
                              "none      -\n");
    free(text);
    text = render_text("[{\"role\":\"net\",\"packets\":1000},{\"role\":\"sched\",\"packets\":5,"
                       "\"extra\":\"\\u001b[2J\"}]");
    assert_string_equal(text, "role   packets  extra\n"
                              "net      1,000  -\n"
                              "sched        5  ?[2J\n");
    free(text);
    /* Rows with nested objects become blocks headed by their first key. */
    text = render_text("[{\"name\":\"p0\",\"rx\":5,\"q\":{\"d\":1}},{\"x\":[1]}]");
    assert_string_equal(text, "name p0\n"
                              "  rx  5\n"
                              "  q\n"
                              "    d  1\n"
                              "[1]\n"
                              "  x  1\n");
    free(text);
    /* Wider than width_max (80): blocks too. */
    text = render_text("[{\"a\":\"0123456789012345678901234567890123456789\","
                       "\"b\":\"0123456789012345678901234567890123456789\"}]");
    assert_string_equal(text, "a 0123456789012345678901234567890123456789\n"
                              "  b  0123456789012345678901234567890123456789\n");
    free(text);
    text = render_text("42");
    assert_string_equal(text, "42\n");
    free(text);
    char cell[32];
    json_t *value = json_real(1234567.25);
    ubc_admin_render_scalar(cell, sizeof(cell), value);
    assert_string_equal(cell, "1,234,567.25");
    json_decref(value);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_call_registered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_help, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_command, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handler_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversized_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reply_too_large, setup_small_reply, teardown),
        cmocka_unit_test_setup_teardown(test_pipelined_and_eof, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_many_clients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_clients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_timeout, setup_idle, teardown),
        cmocka_unit_test_setup_teardown(test_many_clients, setup_default, teardown),
        cmocka_unit_test(test_stale_socket),
        cmocka_unit_test(test_descriptor_exhaustion),
        cmocka_unit_test_setup_teardown(test_restart, setup, teardown),
        cmocka_unit_test(test_register_and_config),
        cmocka_unit_test(test_parse_ids),
        cmocka_unit_test(test_render),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
