/* journal_test_util.h: helpers shared by the storage tests (not a library).
 *
 * Each test binary includes it once. Temporary journals live under
 * $UBC_TEST_DIR or /var/tmp (a real file system, so O_DIRECT is exercised),
 * are created with mkdtemp and removed by test_dir_remove. The helpers
 * allocate with aligned_alloc: tests are outside the no-allocation rule.
 */
#ifndef JOURNAL_TEST_UTIL_H
#define JOURNAL_TEST_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/ubc_time.h"
#include "storage/ubc_journal.h"

struct test_journal {
    void *mem;
    struct ubc_journal *journal;
    struct ubc_journal_uring uring;
    struct ubc_journal_fault fault;
    struct ubc_journal_scan_result report;
    int use_fault;
    int chainer_thread; /* another thread chains: appends do not */
};

/* What a replay or a durability callback saw. */
struct test_seen {
    uint64_t count;
    uint64_t failed;
    uint64_t last_sequence;
    uint64_t out_of_order;
    uint64_t payload_errors;
    uint64_t snapshot_sequence;
    uint64_t snapshot_bytes;
};

static inline void
test_dir_make(char *out, size_t bytes, const char *tag)
{
    const char *base = getenv("UBC_TEST_DIR");
    snprintf(out, bytes, "%s/ubc-storage-test-%s-XXXXXX", base != NULL ? base : "/var/tmp", tag);
    if (mkdtemp(out) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
}

static inline void
test_dir_remove(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    char path[512];
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

/* xorshift64: the tests' seeded, reproducible randomness (state never 0). */
static inline uint64_t
test_rng_next(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

static inline struct ubc_journal_params
test_params_small(void)
{
    struct ubc_journal_params p = {
        .segment_bytes = 256 * 1024,
        .batch_bytes_max = 16 * 1024,
        .batches_inflight_max = 3,
        .payload_bytes_max = 1024,
        .sync_mode = UBC_JOURNAL_SYNC_LINKED,
        .commit_interval_ns = 0,
    };
    return p;
}

/* The payload of record sequence: derived from it, so replay can check. */
static inline uint32_t
test_payload(uint64_t sequence, uint8_t *out, uint32_t max)
{
    uint32_t length = (uint32_t)(sequence * 7919u % max);
    for (uint32_t i = 0; i < length; i++)
        out[i] = (uint8_t)(sequence * 31u + i);
    return length;
}

static inline int
test_payload_check(uint64_t sequence, const void *payload, uint32_t length, uint32_t max)
{
    uint8_t expect[4096];
    uint32_t expect_length = test_payload(sequence, expect, max);
    return expect_length == length && memcmp(expect, payload, length) == 0;
}

static inline void
test_seen_record(void *ctx, uint64_t sequence, uint16_t type, const void *payload, uint32_t length)
{
    struct test_seen *seen = ctx;
    if (seen->last_sequence != 0 && sequence != seen->last_sequence + 1)
        seen->out_of_order++;
    if (type != 1 + sequence % 7 || !test_payload_check(sequence, payload, length, 1024))
        seen->payload_errors++;
    seen->last_sequence = sequence;
    seen->count++;
}

static inline void
test_seen_snapshot(void *ctx, uint64_t sequence, const void *blob, uint64_t bytes)
{
    struct test_seen *seen = ctx;
    (void)blob;
    seen->snapshot_sequence = sequence;
    seen->snapshot_bytes = bytes;
    seen->last_sequence = sequence;
}

static inline void
test_seen_durable(void *ctx, uint64_t cookie, uint64_t sequence, int status)
{
    struct test_seen *seen = ctx;
    if (cookie != sequence * 3 || (seen->last_sequence != 0 && sequence != seen->last_sequence + 1))
        seen->out_of_order++;
    seen->last_sequence = sequence;
    if (status == 0)
        seen->count++;
    else
        seen->failed++;
}

/* Creates the journal memory and io, opens dir. Returns open's result. */
static inline int
test_journal_open(struct test_journal *t, const char *dir, const struct ubc_journal_params *p,
                  uint32_t flags, struct test_seen *replay)
{
    if (t->mem == NULL) {
        uint64_t footprint = ubc_journal_footprint(p);
        if (footprint == 0)
            return -EINVAL;
        t->mem = aligned_alloc(ubc_journal_align(), footprint);
        t->journal = ubc_journal_join(ubc_journal_new(t->mem, p));
        if (t->journal == NULL || ubc_journal_uring_init(&t->uring, 64) != 0)
            return -EINVAL;
        ubc_journal_fault_init(&t->fault, ubc_journal_uring_io(&t->uring));
    }
    struct ubc_journal_open_params op = {
        .dir = dir,
        .io = t->use_fault ? ubc_journal_fault_io(&t->fault) : ubc_journal_uring_io(&t->uring),
        .flags = flags,
        .snapshot_callback = test_seen_snapshot,
        .record_callback = test_seen_record,
        .replay_ctx = replay,
    };
    return ubc_journal_open(t->journal, &op, &t->report);
}

static inline void
test_journal_destroy(struct test_journal *t)
{
    if (t->mem == NULL)
        return;
    ubc_journal_close(t->journal);
    ubc_journal_delete(ubc_journal_leave(t->journal));
    ubc_journal_uring_fini(&t->uring);
    free(t->mem);
    memset(t, 0, sizeof(*t));
}

/* Appends record sequence (type and payload derived from it), polling on
 * backpressure. Returns the sequence or a negative enum ubc_err. */
static inline int64_t
test_append(struct test_journal *t, struct test_seen *durable)
{
    uint8_t payload[1024];
    uint64_t sequence = ubc_journal_next_sequence(t->journal);
    uint32_t length = test_payload(sequence, payload, 1024);
    /* Backpressure: poll, and wait for I/O rather than spin (other engineers'
     * builds share the 2 cores; a busy disk may take a while). */
    uint64_t deadline = ubc_time_monotonic_ns() + 60ull * 1000000000ull;
    for (;;) {
        int64_t rc = ubc_journal_append(t->journal, (uint16_t)(1 + sequence % 7), payload, length,
                                        sequence * 3);
        if (rc != -UBC_ERR_OVERLOADED || ubc_time_monotonic_ns() > deadline)
            return rc;
        if (!t->chainer_thread)
            ubc_journal_chain_poll(t->journal); /* the chain stage, when offloaded */
        ubc_journal_poll(t->journal, ubc_time_monotonic_ns(), test_seen_durable, durable);
        ubc_journal_wait(t->journal);
        ubc_journal_poll(t->journal, ubc_time_monotonic_ns(), test_seen_durable, durable);
    }
}

#endif /* JOURNAL_TEST_UTIL_H */
