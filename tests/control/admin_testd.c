/* admin_testd: a test server for ubcctl's integration test. It serves the
 * admin socket at argv[1] (file mode argv[2], octal, optional) with commands whose results exercise the renderer
 * (nested objects, tables, big numbers) and every error path, prints
 * "ready" on stdout once listening, and exits 0 on SIGTERM/SIGINT or when
 * stdin closes. Not part of ubcd. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "control/ubc_admin.h"

static volatile sig_atomic_t testd_stop;

static void
testd_on_signal(int signal_number)
{
    (void)signal_number;
    testd_stop = 1;
}

static int
testd_status(void *ctx, const json_t *args, json_t **result, char *error, size_t error_cap)
{
    (void)ctx;
    (void)args;
    (void)error;
    (void)error_cap;
    *result =
        json_pack("{s:s, s:f, s:[{s:s, s:i, s:I}, {s:s, s:i, s:I}], s:{s:I, s:{s:i}}}", "state",
                  "running", "uptime_s", 12.5, "roles", "role", "net", "lcore", 0, "rx_packets",
                  (json_int_t)1234567, "role", "sched", "lcore", 1, "rx_packets", (json_int_t)42,
                  "ports", "rx_bytes", (json_int_t)9876543210, "queue0", "dropped", 0);
    return *result != NULL ? 0 : -ENOMEM;
}

static int
testd_echo(void *ctx, const json_t *args, json_t **result, char *error, size_t error_cap)
{
    (void)ctx;
    (void)error;
    (void)error_cap;
    *result = json_deep_copy(args);
    return 0;
}

static int
testd_fail(void *ctx, const json_t *args, json_t **result, char *error, size_t error_cap)
{
    (void)ctx;
    (void)args;
    (void)result;
    snprintf(error, error_cap, "fail always fails");
    return UBC_ADMIN_ERR_BAD_ARGS;
}

static int
testd_sleep(void *ctx, const json_t *args, json_t **result, char *error, size_t error_cap)
{
    (void)ctx;
    json_int_t ms = json_integer_value(json_object_get(args, "ms"));
    if (ms < 0 || ms > 10000) {
        snprintf(error, error_cap, "ms must be 0..10000");
        return -EINVAL;
    }
    struct timespec pause = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
    nanosleep(&pause, NULL);
    *result = json_pack("{s:I}", "slept_ms", ms);
    return 0;
}

static int
testd_stats(void *ctx, const json_t *args, json_t **result, char *error, size_t error_cap)
{
    (void)args;
    (void)error;
    (void)error_cap;
    *result = json_pack("{s:o}", "admin", ubc_admin_counters_json(ctx));
    return *result != NULL ? 0 : -ENOMEM;
}

int
main(int argc, char **argv)
{
    if (argc != 2 && argc != 3) {
        fprintf(stderr, "usage: admin_testd SOCKET [MODE]\n");
        return 2;
    }
    struct ubc_admin_config config = { .socket_path = argv[1], .version = "test-1.2.3" };
    if (argc == 3)
        config.socket_mode = (uint32_t)strtoul(argv[2], NULL, 8);
    struct ubc_admin *admin = ubc_admin_create(&config);
    if (admin == NULL)
        return 1;
    ubc_admin_register(admin, "status", "", "test status", testd_status, NULL);
    ubc_admin_register(admin, "echo", "[any=VALUE ...]", "returns its args", testd_echo, NULL);
    ubc_admin_register(admin, "fail", "", "always bad-args", testd_fail, NULL);
    ubc_admin_register(admin, "sleep", "ms=N", "blocks the control thread", testd_sleep, NULL);
    ubc_admin_register(admin, "stats", "", "admin counters", testd_stats, admin);
    int status = ubc_admin_start(admin);
    if (status != 0) {
        fprintf(stderr, "admin_testd: start: %s\n", strerror(-status));
        ubc_admin_destroy(admin);
        return 1;
    }
    struct sigaction action = { .sa_handler = testd_on_signal };
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    printf("ready\n");
    fflush(stdout);
    while (!testd_stop) {
        struct pollfd input = { .fd = 0, .events = POLLIN };
        char byte;
        if (poll(&input, 1, 100) > 0 && read(0, &byte, 1) <= 0)
            break;
    }
    ubc_admin_destroy(admin);
    return 0;
}
