/* test_journal_crash.c: kill -9 under load, then check nothing durable is lost.
 *
 * usage: test_journal_crash [iterations] [seed]
 * A child opens the journal, appends under load and writes every advance of
 * its durable watermark to a pipe. The parent kills it with SIGKILL after a
 * random delay, reopens the journal itself and checks that every record up
 * to the highest watermark the child reported is replayed, in order and
 * intact. Every fifth child also writes a snapshot first, so recovery
 * through snapshots and retired segments is crashed too.
 * Exit: 0 pass, 1 fail, 77 skip (no io_uring).
 */
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include "journal_test_util.h"

/* Every other run recycles retired segments: kills then land in a reused
 * file's preparation (header zeroed, renamed) and in its stale tail. */
static struct ubc_journal_params
crash_params(uint32_t iteration)
{
    struct ubc_journal_params p = test_params_small();
    p.segment_bytes = 2u << 20;
    p.batch_bytes_max = 64u * 1024;
    p.batches_inflight_max = 4;
    p.recycle_segments = iteration % 2;
    return p;
}

static void
child_durable(void *ctx, uint64_t cookie, uint64_t sequence, int status)
{
    (void)ctx;
    (void)cookie;
    (void)sequence;
    if (status != 0)
        _exit(3); /* no disk errors are expected here */
}

__attribute__((noreturn)) static void
child_run(const char *dir, int fd, uint32_t iteration)
{
    struct ubc_journal_params p = crash_params(iteration);
    struct test_journal t = { 0 };
    struct test_seen replay = { 0 };
    if (test_journal_open(&t, dir, &p, 0, &replay) != 0)
        _exit(2);
    if (iteration % 5 == 4 && ubc_journal_durable_sequence(t.journal) > 0) {
        uint64_t covered = ubc_journal_durable_sequence(t.journal);
        if (ubc_journal_snapshot_write(t.journal, covered, &covered, sizeof(covered)) != 0)
            _exit(4);
    }
    uint64_t reported = 0;
    struct test_seen unused = { 0 };
    /* Ready: the parent starts its random delay now, under load. */
    uint64_t recovered = ubc_journal_durable_sequence(t.journal);
    if (write(fd, &recovered, sizeof(recovered)) != (ssize_t)sizeof(recovered))
        _exit(6);
    for (;;) {
        for (int i = 0; i < 64; i++)
            if (test_append(&t, &unused) < 0)
                _exit(5);
        ubc_journal_poll(t.journal, ubc_time_monotonic_ns(), child_durable, NULL);
        uint64_t durable = ubc_journal_durable_sequence(t.journal);
        if (durable > reported) {
            if (write(fd, &durable, sizeof(durable)) != (ssize_t)sizeof(durable))
                _exit(6);
            reported = durable;
        }
        usleep(200); /* a tick of the disk role, so the journal stays small */
    }
}

/* Reads watermarks until the deadline; returns the highest seen. */
static uint64_t
pipe_drain(int fd, uint64_t highest, int timeout_ms)
{
    uint64_t deadline = ubc_time_monotonic_ns() + (uint64_t)timeout_ms * 1000000u;
    for (;;) {
        uint64_t now = ubc_time_monotonic_ns();
        int wait_ms = now >= deadline ? 0 : (int)((deadline - now) / 1000000u);
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        if (poll(&pfd, 1, wait_ms) <= 0)
            return highest;
        uint64_t value;
        ssize_t got = read(fd, &value, sizeof(value));
        if (got != (ssize_t)sizeof(value))
            return highest;
        highest = value > highest ? value : highest;
    }
}

/* Waits for the child's first message (it finished recovery). */
static uint64_t
pipe_drain_first(int fd, uint64_t highest, int timeout_ms)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    uint64_t value;
    if (poll(&pfd, 1, timeout_ms) == 1 && read(fd, &value, sizeof(value)) == sizeof(value))
        highest = value > highest ? value : highest;
    return highest;
}

static int
verify_after_crash(const char *dir, uint64_t durable_reported, uint32_t iteration)
{
    struct ubc_journal_params p = crash_params(iteration + 1);
    struct test_journal t = { 0 };
    struct test_seen replay = { 0 };
    int rc = test_journal_open(&t, dir, &p, 0, &replay);
    int failed = 0;
    if (rc != 0) {
        fprintf(stderr, "iteration %u: reopen failed: %s\n", iteration, t.report.message);
        failed = 1;
    } else if (replay.last_sequence < durable_reported || replay.payload_errors != 0 ||
               replay.out_of_order != 0) {
        fprintf(stderr,
                "iteration %u: durable %" PRIu64 " reported, replay reached %" PRIu64
                " (payload errors %" PRIu64 ", out of order %" PRIu64 ")\n",
                iteration, durable_reported, replay.last_sequence, replay.payload_errors,
                replay.out_of_order);
        failed = 1;
    } else {
        printf("iteration %u: durable %" PRIu64 " reported, %" PRIu64 " recovered%s%s\n", iteration,
               durable_reported, replay.last_sequence,
               t.report.torn_bytes > 0 ? " (torn tail truncated)" : "",
               t.report.snapshot_found ? " (from a snapshot)" : "");
    }
    test_journal_destroy(&t);
    return failed;
}

int
main(int argc, char **argv)
{
    uint32_t iterations = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 20;
    uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 10) : 0x5eed;
    printf("crash test: %u iterations, seed %" PRIu64 "\n", iterations, seed);
    struct ubc_journal_uring probe;
    if (ubc_journal_uring_init(&probe, 8) != 0)
        return 77;
    ubc_journal_uring_fini(&probe);
    char dir[256];
    test_dir_make(dir, sizeof(dir), "crash");
    uint64_t rng = seed | 1;
    uint64_t durable_max = 0;
    int failed = 0;
    for (uint32_t i = 0; i < iterations && !failed; i++) {
        int fds[2];
        if (pipe(fds) != 0)
            return 1;
        pid_t pid = fork();
        if (pid == 0) {
            close(fds[0]);
            child_run(dir, fds[1], i);
        }
        close(fds[1]);
        /* Four kills in five hit a child under load; the fifth may hit it
         * while it recovers or writes its snapshot. */
        if (test_rng_next(&rng) % 5 != 0)
            durable_max = pipe_drain_first(fds[0], durable_max, 20000);
        int delay_ms = 5 + (int)(test_rng_next(&rng) % 100);
        durable_max = pipe_drain(fds[0], durable_max, delay_ms);
        kill(pid, SIGKILL);
        int status = 0;
        waitpid(pid, &status, 0);
        durable_max = pipe_drain(fds[0], durable_max, 0);
        close(fds[0]);
        if (!WIFSIGNALED(status)) {
            fprintf(stderr, "iteration %u: child exited on its own (status %d)\n", i, status);
            failed = 1;
            break;
        }
        failed = verify_after_crash(dir, durable_max, i);
    }
    if (!failed)
        test_dir_remove(dir);
    else
        fprintf(stderr, "journal kept in %s\n", dir);
    printf("%s\n", failed ? "FAIL" : "PASS");
    return failed;
}
