/* bench_admin.c: what a request on the admin socket costs, against a bare
 * Unix-socket line echo that does no JSON and no epoll (the baseline), both
 * driven by the same client code in the same run:
 *   round_trip_ns  one persistent connection, request -> reply, sequential;
 *   call_ns        a fresh connection per request (what ubcctl does).
 * Medians of >= 5 repetitions; UBC_BENCH_QUICK=1 shrinks it to a smoke test.
 * Control-plane numbers: they show the admin never needs to be a concern,
 * not a hot path to tune. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/ubc_assert.h"
#include "common/ubc_bench.h"
#include "common/ubc_time.h"
#include "control/ubc_admin.h"
#include "control/ubc_admin_client.h"

#define BENCH_REPEATS 5
#define BENCH_REQUEST "{\"cmd\":\"version\",\"id\":1}"

struct echo_server {
    int listen_fd;
    char reply[256]; /* same bytes as the admin's reply, with '\n' */
    size_t reply_length;
    pthread_t thread;
};

/* Baseline: serves one connection at a time, answers every '\n' with the
 * canned reply. Blocking I/O, no parsing: the floor of a socket round trip. */
static void *
echo_server_main(void *argument)
{
    struct echo_server *server = argument;
    for (;;) {
        int fd = accept(server->listen_fd, NULL, NULL);
        if (fd < 0)
            return NULL; /* listen_fd shut down: end of run */
        char buffer[4096];
        ssize_t got;
        while ((got = recv(fd, buffer, sizeof(buffer), 0)) > 0) {
            for (ssize_t i = 0; i < got; i++) {
                if (buffer[i] == '\n' &&
                    send(fd, server->reply, server->reply_length, MSG_NOSIGNAL) < 0)
                    break;
            }
        }
        close(fd);
    }
}

static void
echo_server_start(struct echo_server *server, const char *path, const char *reply)
{
    struct sockaddr_un address = { .sun_family = AF_UNIX };
    snprintf(address.sun_path, sizeof(address.sun_path), "%s", path);
    server->listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
    UBC_ASSERT(server->listen_fd >= 0);
    UBC_ASSERT(bind(server->listen_fd, (struct sockaddr *)&address, sizeof(address)) == 0);
    UBC_ASSERT(listen(server->listen_fd, 64) == 0);
    server->reply_length = (size_t)snprintf(server->reply, sizeof(server->reply), "%s\n", reply);
    UBC_ASSERT(pthread_create(&server->thread, NULL, echo_server_main, server) == 0);
}

static void
echo_server_stop(struct echo_server *server, const char *path)
{
    shutdown(server->listen_fd, SHUT_RDWR);
    pthread_join(server->thread, NULL);
    close(server->listen_fd);
    unlink(path);
}

static uint64_t
deadline(void)
{
    return ubc_time_monotonic_ns() + 10000000000ull;
}

/* Mean ns per round trip over count requests on one connection; fills the
 * per-request latencies when latencies is not NULL. */
static double
measure_round_trip(const char *path, uint32_t count, double *latencies)
{
    int fd = ubc_admin_client_connect(path, deadline());
    UBC_ASSERT(fd >= 0);
    uint64_t start_ns = ubc_time_monotonic_ns();
    for (uint32_t i = 0; i < count; i++) {
        uint64_t begin_ns = ubc_time_monotonic_ns();
        char *line = NULL;
        UBC_ASSERT(
            ubc_admin_client_send_line(fd, BENCH_REQUEST, strlen(BENCH_REQUEST), deadline()) == 0);
        UBC_ASSERT(ubc_admin_client_read_line(fd, &line, 1 << 16, deadline()) > 0);
        free(line);
        if (latencies != NULL)
            latencies[i] = (double)(ubc_time_monotonic_ns() - begin_ns);
    }
    double mean_ns = (double)(ubc_time_monotonic_ns() - start_ns) / count;
    close(fd);
    return mean_ns;
}

static double
measure_call(const char *path, uint32_t count)
{
    uint64_t start_ns = ubc_time_monotonic_ns();
    for (uint32_t i = 0; i < count; i++) {
        char *line = NULL;
        UBC_ASSERT(ubc_admin_client_call(path, BENCH_REQUEST, &line, deadline()) > 0);
        free(line);
    }
    return (double)(ubc_time_monotonic_ns() - start_ns) / count;
}

static void
emit(const char *metric, double subject_ns, double baseline_ns, uint32_t count, uint32_t samples)
{
    struct ubc_bench_result result = {
        .harness = "admin",
        .metric = metric,
        .value = subject_ns,
        .unit = "ns",
        .lower_is_better = 1,
        .baseline = "unix_socket_line_echo",
        .baseline_value = baseline_ns,
        .samples = samples,
    };
    ubc_bench_param_num(&result, "requests", count);
    ubc_bench_emit(&result);
}

int
main(void)
{
    bool quick = ubc_bench_quick() != 0;
    uint32_t round_trips = quick ? 200 : 20000, calls = quick ? 50 : 2000;
    char dir[] = "/tmp/ubc-admin-bench-XXXXXX";
    UBC_ASSERT(mkdtemp(dir) != NULL);
    char admin_path[64], echo_path[64];
    snprintf(admin_path, sizeof(admin_path), "%s/admin.sock", dir);
    snprintf(echo_path, sizeof(echo_path), "%s/echo.sock", dir);
    struct ubc_admin_config config = { .socket_path = admin_path, .version = UBC_VERSION };
    struct ubc_admin *admin = ubc_admin_create(&config);
    UBC_ASSERT(admin != NULL && ubc_admin_start(admin) == 0);
    char *reply = NULL;
    UBC_ASSERT(ubc_admin_client_call(admin_path, BENCH_REQUEST, &reply, deadline()) > 0);
    struct echo_server echo;
    echo_server_start(&echo, echo_path, reply);
    free(reply);
    double subject[BENCH_REPEATS], baseline[BENCH_REPEATS];
    double *latencies = calloc(round_trips, sizeof(double));
    UBC_ASSERT(latencies != NULL);
    for (int r = 0; r < BENCH_REPEATS; r++) { /* interleaved: noise hits both */
        subject[r] = measure_round_trip(admin_path, round_trips, r == 0 ? latencies : NULL);
        baseline[r] = measure_round_trip(echo_path, round_trips, NULL);
    }
    emit("round_trip_ns", ubc_bench_median(subject, BENCH_REPEATS),
         ubc_bench_median(baseline, BENCH_REPEATS), round_trips, BENCH_REPEATS);
    fprintf(stderr, "admin round trip p99 %.0f ns (first repetition)\n",
            ubc_bench_percentile(latencies, round_trips, 99));
    for (int r = 0; r < BENCH_REPEATS; r++) {
        subject[r] = measure_call(admin_path, calls);
        baseline[r] = measure_call(echo_path, calls);
    }
    emit("call_ns", ubc_bench_median(subject, BENCH_REPEATS),
         ubc_bench_median(baseline, BENCH_REPEATS), calls, BENCH_REPEATS);
    free(latencies);
    echo_server_stop(&echo, echo_path);
    ubc_admin_destroy(admin);
    rmdir(dir);
    return 0;
}
