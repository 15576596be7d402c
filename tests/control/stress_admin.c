/* stress_admin.c: hostile clients against the admin socket for
 * UBC_STRESS_SECONDS (default 20) while well-behaved clients keep calling.
 * Hostile behaviours, chosen from a seeded RNG: half a line then close,
 * garbage until too-large, pipelined big replies never read, connect and
 * hold (slowloris), connect/close churn. Passes when every good call got a
 * valid reply, the node counted what it saw consistently, and every client
 * slot is free at the end. Prints the good clients' worst latency (never
 * asserted: the machine is shared). Exit 0 pass, 1 fail. Suite 'stress'. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/ubc_time.h"
#include "control/ubc_admin.h"
#include "control/ubc_admin_client.h"

#define HOSTILE_THREADS 4
#define GOOD_THREADS 2
#define HOLD_MAX 8 /* slowloris connections per hostile thread */

static const char *stress_path;
static uint64_t stress_end_ns;
static atomic_uint_fast64_t good_calls, good_failures, good_latency_ns_max;

static int
stress_big(void *ctx, const json_t *args, json_t **result, char *error, size_t error_cap)
{
    (void)ctx;
    (void)args;
    (void)error;
    (void)error_cap;
    static char text[200001];
    memset(text, 'y', sizeof(text) - 1);
    *result = json_pack("{s:s}", "text", text);
    return 0;
}

static uint64_t
rng_next(uint64_t *state)
{
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * 0x2545f4914f6cdd1dull;
}

static uint64_t
deadline(void)
{
    return ubc_time_monotonic_ns() + 5000000000ull;
}

static void
hostile_once(uint64_t *rng, int *held, int *held_count)
{
    int fd = ubc_admin_client_connect(stress_path, deadline());
    if (fd < 0)
        return;
    char garbage[4096];
    switch (rng_next(rng) % 5) {
    case 0: send(fd, "{\"cmd\":\"ver", 11, MSG_NOSIGNAL); break;
    case 1:
        for (size_t i = 0; i < sizeof(garbage); i++) { /* no '\n': a line too long */
            char byte = (char)(rng_next(rng) % 255 + 1);
            garbage[i] = byte == '\n' ? 'x' : byte;
        }
        for (int i = 0; i < 32; i++)
            if (send(fd, garbage, sizeof(garbage), MSG_NOSIGNAL | MSG_DONTWAIT) <= 0)
                break;
        break;
    case 2:
        for (int i = 0; i < 16; i++)
            send(fd, "{\"cmd\":\"big\"}\n", 14, MSG_NOSIGNAL | MSG_DONTWAIT);
        usleep(200000);
        break;
    case 3:
        if (*held_count < HOLD_MAX) {
            held[(*held_count)++] = fd; /* keep it open, say nothing */
            return;
        }
        break;
    default: break; /* connect and close */
    }
    close(fd);
}

static void *
hostile_main(void *argument)
{
    uint64_t rng = 0x9e3779b97f4a7c15ull * (uintptr_t)argument + 1;
    int held[HOLD_MAX], held_count = 0;
    while (ubc_time_monotonic_ns() < stress_end_ns) {
        hostile_once(&rng, held, &held_count);
        if (held_count == HOLD_MAX && rng_next(&rng) % 16 == 0)
            while (held_count > 0)
                close(held[--held_count]);
    }
    while (held_count > 0)
        close(held[--held_count]);
    return NULL;
}

static void *
good_main(void *argument)
{
    (void)argument;
    while (ubc_time_monotonic_ns() < stress_end_ns) {
        uint64_t start_ns = ubc_time_monotonic_ns();
        char *line = NULL;
        long length =
            ubc_admin_client_call(stress_path, "{\"cmd\":\"version\",\"id\":1}", &line, deadline());
        uint64_t latency_ns = ubc_time_monotonic_ns() - start_ns;
        bool ok = length > 0 && strstr(line, "\"ok\":true") != NULL;
        free(line);
        atomic_fetch_add(&good_calls, 1);
        if (!ok)
            atomic_fetch_add(&good_failures, 1);
        uint64_t seen = atomic_load(&good_latency_ns_max);
        while (latency_ns > seen &&
               !atomic_compare_exchange_weak(&good_latency_ns_max, &seen, latency_ns)) {
        }
        usleep(1000);
    }
    return NULL;
}

static int
stress_check(struct ubc_admin *admin)
{
    for (int i = 0; i < 200 && ubc_admin_clients_count(admin) > 0; i++)
        usleep(10000);
    struct ubc_admin_counters counters;
    ubc_admin_counters_read(admin, &counters);
    uint64_t errors = 0;
    for (int code = 1; code < UBC_ADMIN_ERR_COUNT; code++)
        errors += counters.errors[code];
    printf("stress: %llu good calls, %llu failed, worst latency %.1f ms; node: %llu accepted, "
           "%llu refused, %llu requests, %llu errors, %llu closed for a limit\n",
           (unsigned long long)good_calls, (unsigned long long)good_failures,
           (double)good_latency_ns_max / 1e6, (unsigned long long)counters.connections_accepted,
           (unsigned long long)counters.connections_refused, (unsigned long long)counters.requests,
           (unsigned long long)errors, (unsigned long long)counters.connections_closed_limit);
    bool pass = good_failures == 0 && good_calls > 0 && ubc_admin_clients_count(admin) == 0 &&
                counters.requests + counters.connections_refused + counters.connections_denied +
                        counters.connections_closed_limit ==
                    counters.replies_ok + errors;
    printf("stress: %s\n", pass ? "pass" : "FAIL");
    return pass ? 0 : 1;
}

int
main(void)
{
    const char *seconds = getenv("UBC_STRESS_SECONDS");
    uint64_t duration_ns = (seconds != NULL ? strtoull(seconds, NULL, 10) : 20) * 1000000000ull;
    char dir[] = "/tmp/ubc-admin-stress-XXXXXX";
    if (mkdtemp(dir) == NULL)
        return 1;
    char path[64];
    snprintf(path, sizeof(path), "%s/admin.sock", dir);
    stress_path = path;
    struct ubc_admin_config config = { .socket_path = path,
                                       .idle_timeout_ms = 1000,
                                       .request_bytes_max = 4096 };
    struct ubc_admin *admin = ubc_admin_create(&config);
    if (admin == NULL || ubc_admin_register(admin, "big", "", "", stress_big, NULL) != 0 ||
        ubc_admin_start(admin) != 0)
        return 1;
    stress_end_ns = ubc_time_monotonic_ns() + duration_ns;
    pthread_t threads[HOSTILE_THREADS + GOOD_THREADS];
    for (uintptr_t i = 0; i < HOSTILE_THREADS + GOOD_THREADS; i++)
        pthread_create(&threads[i], NULL, i < HOSTILE_THREADS ? hostile_main : good_main,
                       (void *)i);
    for (int i = 0; i < HOSTILE_THREADS + GOOD_THREADS; i++)
        pthread_join(threads[i], NULL);
    int result = stress_check(admin);
    ubc_admin_destroy(admin);
    rmdir(dir);
    return result;
}
