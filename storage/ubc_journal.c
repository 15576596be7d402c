/* ubc_journal.c: appends, group commit, segment rolls, snapshots.
 *
 * Batches live in a ring of 2 * (batches_inflight_max + 1) descriptors and
 * borrow one of batches_inflight_max + 1 buffers while they fill and are
 * written. Appends fill the open batch; a poll seals it (commit record,
 * padding to a block) and submits one write plus, in LINKED mode, an
 * fdatasync linked to that write only (linking writes to each other would
 * serialise them). A batch gives its buffer back when its write is complete,
 * not when its fdatasync is: the next batch's write need not wait for a
 * flush, so writes stay batches_inflight_max deep while flushes overlap them
 * (measured here: 0.8x of fio's bandwidth when buffers waited for the flush,
 * 1.0x when they do not). Batches become durable, and are reported, strictly
 * in order: a batch whose fdatasync finished is durable only once every
 * earlier batch is. A batch that starts a
 * new segment waits until every earlier batch is durable, so damage after a
 * crash can only sit at the end of the last segment (the scan relies on it).
 * The next segment and snapshots are small state machines (spare_*,
 * snapshot_*) that issue one file request at a time from poll, so the
 * disk lcore never waits for the file system.
 */
#include "storage/ubc_journal.h"

#include <errno.h>
#include <fcntl.h>
#include <immintrin.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t in the journal's own memory */
#include <xxhash.h>

#include "common/ubc_assert.h"

#define ZERO_CHUNK_BYTES (1024u * 1024u)
#define HISTORY_MAX 64u
#define COMPLETIONS_PER_REAP 64u
#define OP_WRITE 1u
#define OP_FSYNC 2u
#define OP_SPARE_WRITE 3u
#define OP_SPARE_FSYNC 4u
#define OP_SPARE_OPEN 5u
#define OP_SPARE_ALLOCATE 6u
#define OP_SPARE_DIRSYNC 7u
#define OP_CLOSE 8u    /* a finished segment's fd; the result is ignored */
#define OP_SNAPSHOT 9u /* the snapshot's current step */
#define OP_SPARE_RENAME 10u
#define POOL_MAX 2u /* retired segments kept for reuse */
#define LOCAL_COMPLETIONS_MAX 8u
#define DESCRIPTORS_MAX (2u * UBC_JOURNAL_BATCHES_MAX)
/* A snapshot write's size: bounds the work one poll does for it (XXH3 of the
 * chunk, and io_uring copies a buffered write into the page cache inline,
 * during the submit): about 0.1 ms here. */
#define SNAPSHOT_WRITE_BYTES (1u << 20)

enum batch_state { BATCH_FREE = 0, BATCH_FILLING, BATCH_SEALED, BATCH_SUBMITTED };
/* The next segment: open, fallocate, zero-fill, fdatasync, fsync of the
 * directory; each step one request through the ring (nothing blocks). */
enum spare_state {
    SPARE_NONE = 0,   /* to open */
    SPARE_OPENING,    /* openat in flight */
    SPARE_ALLOCATING, /* fallocate to queue or in flight */
    SPARE_FILLING,    /* zero writes */
    SPARE_SYNCING,    /* fdatasync in flight */
    SPARE_RENAMING,   /* a recycled file takes the segment's name */
    SPARE_DIRSYNC,    /* fsync of the directory to queue or in flight */
    SPARE_READY,
    SPARE_FAILED,
};
/* An asynchronous snapshot's steps, in order. */
enum snapshot_step {
    SNAP_IDLE = 0,
    SNAP_WAIT_DURABLE,   /* its sequence was sealed as a batch end, not yet durable */
    SNAP_OPEN,           /* openat of snap-X.ubcs.tmp */
    SNAP_BLOB,           /* the caller's blob, SNAPSHOT_WRITE_BYTES per write, hashed as it goes */
    SNAP_HEADER,         /* the header block, once the blob's checksum is known */
    SNAP_FSYNC,          /* fsync of the temp file */
    SNAP_CLOSE,          /* its fd */
    SNAP_RENAME,         /* .tmp -> final name */
    SNAP_DIRSYNC,        /* the rename is durable: the snapshot counts from here */
    SNAP_RETIRE,         /* unlink segments it covers, one at a time */
    SNAP_RETIRE_DIRSYNC, /* make the unlinks durable */
    SNAP_PRUNE,          /* unlink snapshot files older than the previous one, one at a time */
};

struct snapshot_job {
    uint32_t step;
    int pending;
    int fd;
    int retired_any;
    uint64_t sequence;
    const uint8_t *blob;
    uint64_t blob_bytes;
    uint64_t written; /* of the current step's bytes */
    uint64_t hashed;  /* blob bytes fed to blob_hash */
    uint8_t chain[UBC_JOURNAL_CHAIN_BYTES];
    int result; /* of the last snapshot: 0, -errno, -ENOENT before any */
    uint64_t result_sequence;
    char name[UBC_JOURNAL_NAME_BYTES];
    char temp[UBC_JOURNAL_NAME_BYTES + 8];
    char retire_name[UBC_JOURNAL_NAME_BYTES];
    char retire_new_name[UBC_JOURNAL_NAME_BYTES];
    int retire_keep; /* the retired segment goes to the pool (rename, not unlink) */
    /* Renamed to free-*, reusable once the directory fsync made the renames
     * durable: reused before, a power cut could bring back seg-X (its old
     * name) with the zero header of its next life, before the snapshot. */
    uint32_t kept_count;
    uint64_t kept[POOL_MAX];
    /* Older snapshot files to remove (SNAP_PRUNE): an unlink of a large file
     * takes milliseconds of the kernel's time, so each is an io_uring request. */
    uint32_t prune_count;
    uint32_t prune_next;
    uint64_t prune[UBC_JOURNAL_SNAPSHOTS_MAX];
    char prune_name[UBC_JOURNAL_NAME_BYTES];
    _Alignas(64) uint8_t header_block[UBC_JOURNAL_BLOCK_BYTES];
    XXH3_state_t blob_hash;
};

struct batch {
    uint8_t *buffer; /* one block for a segment header, then the records; NULL once written */
    uint64_t *cookies;
    uint32_t state;
    uint32_t bytes;         /* records, then commit and padding once sealed */
    uint32_t records_bytes; /* the records alone: what the chain covers */
    uint32_t record_count;
    uint32_t write_bytes;
    uint32_t written;
    uint8_t write_pending;
    uint8_t sync_pending;
    uint8_t synced;
    uint8_t starts_segment;
    uint64_t first_sequence;
    uint64_t segment_index;
    uint64_t file_offset;
    uint64_t submitted_ns; /* the poll's now when its write was first submitted */
    uint8_t chain_start[UBC_JOURNAL_CHAIN_BYTES];
    uint8_t chain_end[UBC_JOURNAL_CHAIN_BYTES];
};

struct live_segment {
    uint64_t segment_index;
    uint64_t first_sequence;
};

struct history_entry {
    uint64_t sequence;
    uint8_t chain[UBC_JOURNAL_CHAIN_BYTES];
};

struct ubc_journal {
    uint64_t magic;
    struct ubc_journal_params params;
    uint32_t batch_count;  /* descriptors */
    uint32_t buffer_count; /* batches_inflight_max + 1 */
    uint32_t records_per_batch_max;
    uint32_t window_bytes;
    uint32_t opened;
    uint8_t *zero_chunk;
    struct batch batches[DESCRIPTORS_MAX];
    uint8_t *buffers_base; /* buffer_count buffers, then zero_chunk: the registered arena */
    uint32_t buffers_free_count;
    uint8_t *buffers_free[UBC_JOURNAL_BATCHES_MAX]; /* a stack */
    uint64_t batch_filling; /* number of the open batch; ring slot = number % batch_count */
    struct batch *filling;  /* batch_at(batch_filling): no division per append */
    uint64_t batch_oldest;  /* oldest batch not yet reported */
    uint64_t next_sequence;
    uint64_t durable_sequence;
    /* The chain stage (see ubc_journal_chain_poll): batches below
     * chain_sealed are sealed, those below chain_done are chained. The
     * appender writes chain_sealed, the chainer chain_done; chain, and the
     * sealed batches' buffers between the two, belong to whoever holds
     * chain_claim. Each on its own line: two threads write them. */
    _Alignas(64) uint64_t chain_sealed;
    _Alignas(64) uint64_t chain_done;
    _Alignas(64) uint32_t chain_claim;
    int chain_help;     /* the appender chains too (blocking calls) */
    int chain_takeover; /* ... and always, until closed */
    uint8_t chain[UBC_JOURNAL_CHAIN_BYTES];
    _Alignas(64) uint64_t chain_batches_offloaded; /* chained by another thread */
    uint64_t filling_since_ns;
    uint64_t now_ns_last; /* the latest now_ns a poll was given */
    int force_seal;
    /* where sealing places the next batch */
    uint64_t plan_segment_index;
    uint64_t plan_offset;
    int plan_open;
    /* the segment writes go to */
    int dir_fd;
    int segment_fd;
    uint64_t segment_index;
    int segment_open;
    /* the next segment, prepared ahead */
    uint32_t spare_state;
    int spare_fd;
    uint64_t spare_index;
    uint64_t spare_next_index; /* the index the next spare gets */
    uint64_t spare_offset;
    int spare_pending;
    int spare_errno;
    int spare_recycled; /* the spare is a retired segment's file, named pool_name */
    char spare_name[UBC_JOURNAL_NAME_BYTES];
    char spare_pool_name[UBC_JOURNAL_NAME_BYTES];
    /* retired segment files kept for reuse (free-<index>.ubcj) */
    uint32_t pool_count;
    uint64_t pool[POOL_MAX];
    struct snapshot_job snapshot;
    /* completions of requests run synchronously (an io without file_op_queue) */
    uint32_t local_count;
    struct ubc_journal_io_completion local[LOCAL_COMPLETIONS_MAX];
    int read_only_errno;
    char read_only_reason[192];
    uint32_t open_flags;
    int direct;
    uint32_t ops_in_flight;
    struct ubc_journal_io io;
    uint32_t live_count;
    struct live_segment live[UBC_JOURNAL_SEGMENTS_MAX];
    uint32_t history_next;
    struct history_entry history[HISTORY_MAX];
    struct ubc_journal_stats stats;
    struct ubc_journal_scan_work scan_work;
};

static uint64_t
round_up(uint64_t value, uint64_t align)
{
    return (value + align - 1) / align * align;
}

uint64_t
ubc_journal_align(void)
{
    return UBC_JOURNAL_BLOCK_BYTES;
}

static uint64_t
batch_buffer_bytes(const struct ubc_journal_params *p)
{
    return UBC_JOURNAL_BLOCK_BYTES + (uint64_t)p->batch_bytes_max;
}

static uint32_t
records_per_batch(const struct ubc_journal_params *p)
{
    return p->batch_bytes_max / UBC_JOURNAL_RECORD_HEADER_BYTES;
}

/* Batches between the durable point and the open one: each holds its
 * records' cookies until its fdatasync finished. */
static uint32_t
descriptor_count(const struct ubc_journal_params *p)
{
    return 2u * (p->batches_inflight_max + 1u);
}

/* What may be written but not durable past the durable point (a segment
 * header's window): every descriptor's batch, at most a full buffer each. */
static uint64_t
window_bytes_of(const struct ubc_journal_params *p)
{
    return descriptor_count(p) * batch_buffer_bytes(p);
}

uint64_t
ubc_journal_footprint(const struct ubc_journal_params *p)
{
    uint64_t block = UBC_JOURNAL_BLOCK_BYTES;
    if (p == NULL || p->batch_bytes_max < block || p->batch_bytes_max % block != 0 ||
        p->batch_bytes_max > (1u << 30))
        return 0;
    if (p->batches_inflight_max < 1 || p->batches_inflight_max >= UBC_JOURNAL_BATCHES_MAX)
        return 0;
    if (p->segment_bytes % block != 0 || p->segment_bytes < 2 * block + p->batch_bytes_max ||
        p->segment_bytes > (1ull << 40))
        return 0;
    if (p->payload_bytes_max == 0 ||
        ubc_journal_record_footprint(p->payload_bytes_max) + UBC_JOURNAL_COMMIT_BYTES >
            p->batch_bytes_max)
        return 0;
    if (p->sync_mode > UBC_JOURNAL_SYNC_DSYNC || window_bytes_of(p) > UINT32_MAX)
        return 0;
    uint64_t bytes = round_up(sizeof(struct ubc_journal), block);
    bytes += (p->batches_inflight_max + 1u) * batch_buffer_bytes(p);
    bytes += ZERO_CHUNK_BYTES;
    bytes += descriptor_count(p) * records_per_batch(p) * sizeof(uint64_t);
    return round_up(bytes, block);
}

void *
ubc_journal_new(void *mem, const struct ubc_journal_params *params)
{
    uint64_t footprint = ubc_journal_footprint(params);
    if (mem == NULL || footprint == 0 || (uintptr_t)mem % ubc_journal_align() != 0)
        return NULL;
    memset(mem, 0, footprint);
    struct ubc_journal *j = mem;
    j->params = *params;
    j->batch_count = descriptor_count(params);
    j->buffer_count = params->batches_inflight_max + 1u;
    UBC_ASSERT(j->batch_count <= DESCRIPTORS_MAX && j->buffer_count <= UBC_JOURNAL_BATCHES_MAX);
    j->records_per_batch_max = records_per_batch(params);
    j->window_bytes = (uint32_t)window_bytes_of(params);
    uint8_t *cursor = (uint8_t *)mem + round_up(sizeof(*j), UBC_JOURNAL_BLOCK_BYTES);
    j->buffers_base = cursor;
    cursor += j->buffer_count * batch_buffer_bytes(params);
    j->zero_chunk = cursor;
    cursor += ZERO_CHUNK_BYTES;
    for (uint32_t i = 0; i < j->batch_count; i++) {
        j->batches[i].cookies = (uint64_t *)cursor;
        cursor += j->records_per_batch_max * sizeof(uint64_t);
    }
    UBC_ASSERT(cursor <= (uint8_t *)mem + footprint);
    j->dir_fd = -1;
    j->segment_fd = -1;
    j->spare_fd = -1;
    j->snapshot.fd = -1;
    j->snapshot.result = -ENOENT;
    __atomic_store_n(&j->magic, UBC_JOURNAL_MAGIC, __ATOMIC_RELEASE);
    return mem;
}

struct ubc_journal *
ubc_journal_join(void *mem)
{
    if (mem == NULL || (uintptr_t)mem % ubc_journal_align() != 0)
        return NULL;
    struct ubc_journal *j = mem;
    if (__atomic_load_n(&j->magic, __ATOMIC_ACQUIRE) != UBC_JOURNAL_MAGIC)
        return NULL;
    return j;
}

void *
ubc_journal_leave(struct ubc_journal *journal)
{
    return journal;
}

void *
ubc_journal_delete(void *mem)
{
    struct ubc_journal *j = ubc_journal_join(mem);
    if (j == NULL)
        return NULL;
    UBC_ASSERT(!j->opened);
    __atomic_store_n(&j->magic, 0, __ATOMIC_RELEASE);
    return mem;
}

uint64_t
ubc_journal_durable_sequence(const struct ubc_journal *journal)
{
    return journal->durable_sequence;
}

uint64_t
ubc_journal_next_sequence(const struct ubc_journal *journal)
{
    return journal->next_sequence;
}

int
ubc_journal_read_only(const struct ubc_journal *journal)
{
    return journal->read_only_errno;
}

const char *
ubc_journal_read_only_reason(const struct ubc_journal *journal)
{
    return journal->read_only_reason;
}

void
ubc_journal_stats_get(const struct ubc_journal *journal, struct ubc_journal_stats *stats)
{
    *stats = journal->stats;
    stats->chain_batches_offloaded =
        __atomic_load_n(&journal->chain_batches_offloaded, __ATOMIC_RELAXED);
    stats->spare_ready = journal->spare_state == SPARE_READY;
}

static struct batch *
batch_at(struct ubc_journal *j, uint64_t number)
{
    return &j->batches[number % j->batch_count];
}

static void
journal_fail(struct ubc_journal *j, int error, const char *what)
{
    if (j->read_only_errno != 0)
        return;
    j->read_only_errno = error > 0 ? error : EIO;
    snprintf(j->read_only_reason, sizeof(j->read_only_reason),
             "journal read-only: %s: %s (durable up to sequence %" PRIu64 ")", what,
             strerror(j->read_only_errno), j->durable_sequence);
}

/* Opens a segment file for appends: O_DIRECT when the file system takes it,
 * O_DSYNC in DSYNC mode. */
static int
segment_file_open(struct ubc_journal *j, uint64_t segment_index, int create)
{
    char name[UBC_JOURNAL_NAME_BYTES];
    ubc_journal_segment_name(name, segment_index);
    int flags = O_WRONLY | O_CLOEXEC | (create ? O_CREAT | O_TRUNC : 0);
    if (j->params.sync_mode == UBC_JOURNAL_SYNC_DSYNC)
        flags |= O_DSYNC;
    int fd = -1;
    if (j->direct) {
        fd = openat(j->dir_fd, name, flags | O_DIRECT, 0644);
        if (fd < 0 && errno == EINVAL) {
            j->direct = 0;  /* tmpfs and friends: buffered I/O plus fdatasync */
            fprintf(stderr, /* lint:allow once per process, at start-up or first roll */
                    "ubc journal: O_DIRECT not supported in %s, using buffered writes\n", name);
        }
    }
    if (fd < 0)
        fd = openat(j->dir_fd, name, flags, 0644);
    if (fd < 0)
        return -errno;
    j->stats.direct_io = (uint32_t)j->direct;
    return fd;
}

static int file_op_start(struct ubc_journal *j, const struct ubc_journal_io_file_request *request,
                         uint64_t user_data);

static uint32_t
slot_of(uint64_t segment_index)
{
    return (uint32_t)(segment_index % 2u);
}

/* Every buffer free again, no batch holding one (open, reopen). */
static void
buffers_reset(struct ubc_journal *j)
{
    for (uint32_t i = 0; i < j->batch_count; i++)
        j->batches[i].buffer = NULL;
    j->buffers_free_count = j->buffer_count;
    for (uint32_t i = 0; i < j->buffer_count; i++)
        j->buffers_free[i] = j->buffers_base + (uint64_t)i * batch_buffer_bytes(&j->params);
}

/* Batch b's write is complete (or abandoned): the buffer serves the next. */
static void
buffer_release(struct ubc_journal *j, struct batch *b)
{
    UBC_ASSERT(b->buffer != NULL && j->buffers_free_count < j->buffer_count);
    j->buffers_free[j->buffers_free_count++] = b->buffer;
    b->buffer = NULL;
}

/* Opens batch number as the filling batch if its descriptor and a buffer are
 * free. */
static int
batch_open(struct ubc_journal *j, uint64_t number)
{
    struct batch *b = batch_at(j, number);
    if (b->state != BATCH_FREE || j->buffers_free_count == 0)
        return -1;
    UBC_ASSERT(b->buffer == NULL);
    b->buffer = j->buffers_free[--j->buffers_free_count];
    b->state = BATCH_FILLING;
    b->bytes = 0;
    b->record_count = 0;
    b->written = 0;
    b->write_bytes = 0;
    b->write_pending = 0;
    b->sync_pending = 0;
    b->synced = 0;
    b->starts_segment = 0;
    b->first_sequence = j->next_sequence;
    j->batch_filling = number;
    j->filling = b;
    return 0;
}

/* Links batch b into the chain: hashes its records, writes its commit
 * record and, when it starts a segment, the segment header (both carry a
 * chain value). Runs under chain_claim, on the appending thread or on the
 * chainer's. */
static void
batch_chain(struct ubc_journal *j, struct batch *b)
{
    uint8_t *records = b->buffer + UBC_JOURNAL_BLOCK_BYTES;
    UBC_ASSERT(b->record_count > 0 && b->records_bytes < b->bytes);
    memcpy(b->chain_start, j->chain, UBC_JOURNAL_CHAIN_BYTES);
    /* One BLAKE3 over the batch's records: a call per batch, not per record,
     * and 16 chunks hashed at once (AVX-512). */
    ubc_journal_chain_advance(j->chain, records, b->records_bytes);
    memcpy(b->chain_end, j->chain, UBC_JOURNAL_CHAIN_BYTES);
    struct ubc_journal_commit commit = { .first_sequence = b->first_sequence,
                                         .record_count = b->record_count };
    memcpy(commit.chain, j->chain, UBC_JOURNAL_CHAIN_BYTES);
    ubc_journal_commit_encode(records + b->records_bytes, b->bytes - b->records_bytes,
                              b->first_sequence + b->record_count - 1, &commit);
    if (!b->starts_segment)
        return;
    struct ubc_journal_segment_header h = {
        .magic = UBC_JOURNAL_SEGMENT_MAGIC,
        .version = UBC_JOURNAL_VERSION,
        .block_bytes = UBC_JOURNAL_BLOCK_BYTES,
        .window_bytes = j->window_bytes,
        .segment_index = b->segment_index,
        .first_sequence = b->first_sequence,
        .segment_bytes = j->params.segment_bytes,
    };
    memcpy(h.prev_chain, b->chain_start, UBC_JOURNAL_CHAIN_BYTES);
    memset(b->buffer, 0, UBC_JOURNAL_BLOCK_BYTES);
    ubc_journal_segment_header_encode(b->buffer, &h);
}

/* Chains every sealed batch not chained yet, in order, if no other thread
 * is doing it right now. Returns the number of batches it chained. */
static uint32_t
chain_run(struct ubc_journal *j)
{
    /* Nothing sealed and unchained: two loads, not a locked exchange (the
     * chain role polls this in every loop iteration). */
    if (__atomic_load_n(&j->chain_done, __ATOMIC_RELAXED) ==
        __atomic_load_n(&j->chain_sealed, __ATOMIC_RELAXED))
        return 0;
    if (__atomic_exchange_n(&j->chain_claim, 1u, __ATOMIC_ACQUIRE) != 0)
        return 0;
    uint64_t done = __atomic_load_n(&j->chain_done, __ATOMIC_RELAXED);
    uint64_t sealed = __atomic_load_n(&j->chain_sealed, __ATOMIC_ACQUIRE);
    uint32_t count = 0;
    for (; done < sealed; done++, count++) {
        batch_chain(j, batch_at(j, done));
        __atomic_store_n(&j->chain_done, done + 1, __ATOMIC_RELEASE);
    }
    __atomic_store_n(&j->chain_claim, 0u, __ATOMIC_RELEASE);
    return count;
}

uint32_t
ubc_journal_chain_poll(struct ubc_journal *journal)
{
    uint32_t count = chain_run(journal);
    if (count > 0)
        __atomic_fetch_add(&journal->chain_batches_offloaded, count, __ATOMIC_RELAXED);
    return count;
}

void
ubc_journal_chain_takeover(struct ubc_journal *journal)
{
    journal->chain_takeover = 1;
}

/* Waits until no other thread is inside chain_run (close and reopen reset
 * the stage): a spin, bounded by one batch's hashing. */
static void
chain_quiesce(struct ubc_journal *j)
{
    while (__atomic_exchange_n(&j->chain_claim, 1u, __ATOMIC_ACQUIRE) != 0)
        _mm_pause();
}

/* Closes the filling batch with a commit record and places it in a segment;
 * the chain stage fills in the chain values (batch_chain). */
static void
batch_seal(struct ubc_journal *j, struct batch *b)
{
    UBC_ASSERT(b->state == BATCH_FILLING && b->record_count > 0);
    UBC_ASSERT(b->first_sequence + b->record_count == j->next_sequence);
    uint32_t total =
        (uint32_t)round_up(b->bytes + UBC_JOURNAL_COMMIT_BYTES, UBC_JOURNAL_BLOCK_BYTES);
    UBC_ASSERT(total <= j->params.batch_bytes_max);
    b->records_bytes = b->bytes;
    b->bytes = total;
    if (!j->plan_open || j->plan_offset + total > j->params.segment_bytes) {
        j->plan_segment_index = j->plan_open ? j->plan_segment_index + 1 : j->plan_segment_index;
        j->plan_open = 1;
        j->plan_offset = UBC_JOURNAL_BLOCK_BYTES;
        b->starts_segment = 1;
    }
    b->segment_index = j->plan_segment_index;
    b->file_offset = b->starts_segment ? 0 : j->plan_offset;
    b->write_bytes = total + (b->starts_segment ? UBC_JOURNAL_BLOCK_BYTES : 0);
    j->plan_offset += total;
    b->state = BATCH_SEALED;
    j->stats.batches++;
    UBC_ASSERT(b == batch_at(j, j->batch_filling));
    UBC_ASSERT(__atomic_load_n(&j->chain_sealed, __ATOMIC_RELAXED) == j->batch_filling);
    __atomic_store_n(&j->chain_sealed, j->batch_filling + 1, __ATOMIC_RELEASE);
    if (!j->params.chain_offload)
        chain_run(j);
}

/* Seals the filling batch and opens the next, if a buffer is free. */
static int
batch_rotate(struct ubc_journal *j)
{
    struct batch *b = batch_at(j, j->batch_filling);
    if (b->state == BATCH_FILLING && b->record_count > 0)
        batch_seal(j, b);
    if (b->state == BATCH_FILLING)
        return 0;
    return batch_open(j, j->batch_filling + 1);
}

int64_t
ubc_journal_append(struct ubc_journal *journal, uint16_t type, const void *payload, uint32_t length,
                   uint64_t cookie)
{
    struct ubc_journal *j = journal;
    UBC_ASSERT(j->opened);
    if (j->read_only_errno != 0)
        return -UBC_ERR_READ_ONLY;
    if (type == 0 || type >= UBC_JOURNAL_TYPE_INTERNAL || length > j->params.payload_bytes_max ||
        (payload == NULL && length > 0))
        return -UBC_ERR_MALFORMED;
    uint32_t footprint = ubc_journal_record_footprint(length);
    struct batch *b = j->filling;
    if (b->state == BATCH_FILLING &&
        (b->bytes + footprint + UBC_JOURNAL_COMMIT_BYTES > j->params.batch_bytes_max ||
         b->record_count == j->records_per_batch_max)) {
        batch_rotate(j);
        b = j->filling;
    }
    if (b->state != BATCH_FILLING && batch_open(j, j->batch_filling + 1) == 0)
        b = j->filling;
    if (b->state != BATCH_FILLING) {
        j->stats.backpressure++;
        return -UBC_ERR_OVERLOADED;
    }
    uint8_t *at = b->buffer + UBC_JOURNAL_BLOCK_BYTES + b->bytes;
    uint64_t sequence = j->next_sequence;
    ubc_journal_record_encode(at, type, sequence, payload, length);
    b->cookies[b->record_count++] = cookie;
    b->bytes += footprint;
    j->next_sequence = sequence + 1;
    j->stats.appends++;
    UBC_ASSERT(b->bytes + UBC_JOURNAL_COMMIT_BYTES <= j->params.batch_bytes_max);
    return (int64_t)sequence;
}

static uint64_t
user_data_of(uint64_t number, uint32_t op)
{
    return (number << 4) | op;
}

/* Queues what batch b still needs: (the rest of) its write, then its sync.
 * Returns 0, or -EBUSY when the queue is full (retried next poll). */
static int
batch_queue(struct ubc_journal *j, uint64_t number, struct batch *b)
{
    const struct ubc_journal_io_ops *ops = j->io.ops;
    int linked = j->params.sync_mode == UBC_JOURNAL_SYNC_LINKED;
    uint32_t slot = slot_of(b->segment_index);
    if (b->written < b->write_bytes) {
        uint32_t rest = b->write_bytes - b->written;
        const uint8_t *from = b->buffer + (b->starts_segment ? 0 : UBC_JOURNAL_BLOCK_BYTES);
        int rc =
            ops->write_queue(j->io.ctx, slot, from + b->written, rest, b->file_offset + b->written,
                             user_data_of(number, OP_WRITE), linked ? UBC_JOURNAL_IO_LINK : 0);
        if (rc != 0)
            return rc;
        b->write_pending = 1;
        j->ops_in_flight++;
        j->stats.bytes_written += rest;
        if (!linked)
            return 0;
    }
    int rc = ops->fsync_queue(j->io.ctx, slot, user_data_of(number, OP_FSYNC), 0);
    if (rc != 0)
        return rc; /* the write, if queued, ends its link alone; the sync follows later */
    b->sync_pending = 1;
    j->ops_in_flight++;
    j->stats.fsyncs++;
    return 0;
}

/* The batch starts a new segment: every earlier batch must be durable and
 * the spare ready; then the spare becomes the segment writes go to. */
static int
segment_roll_ready(struct ubc_journal *j, uint64_t number, struct batch *b)
{
    if (number != j->batch_oldest)
        return 0;
    if (j->spare_state == SPARE_FAILED) {
        journal_fail(j, j->spare_errno, "cannot prepare the next segment");
        return 0;
    }
    if (j->spare_state != SPARE_READY || j->spare_index != b->segment_index)
        return 0;
    if (j->live_count == UBC_JOURNAL_SEGMENTS_MAX) {
        journal_fail(j, E2BIG, "segment limit reached (a snapshot retires segments)");
        return 0;
    }
    if (j->segment_fd >= 0) {
        j->io.ops->file_register(j->io.ctx, slot_of(j->segment_index), -1);
        struct ubc_journal_io_file_request r = { .op = UBC_JOURNAL_IO_CLOSE, .fd = j->segment_fd };
        if (file_op_start(j, &r, user_data_of(0, OP_CLOSE)) != 0)
            close(j->segment_fd); /* lint:allow queue full, once per segment roll at worst */
    }
    j->segment_fd = j->spare_fd;
    j->segment_index = j->spare_index;
    j->segment_open = 1;
    j->spare_fd = -1;
    j->spare_state = SPARE_NONE;
    UBC_ASSERT(j->live_count < UBC_JOURNAL_SEGMENTS_MAX);
    j->live[j->live_count].segment_index = b->segment_index;
    j->live[j->live_count].first_sequence = b->first_sequence;
    j->live_count++;
    return 1;
}

/* Whether batch number is chained; the appender chains it itself when no
 * other thread is meant to, while it blocks anyway (flush, close), and when
 * the disk would otherwise idle: nothing in flight and this batch the next
 * to go (the chainer is late, e.g. descheduled on a shared core). */
static int
batch_chained(struct ubc_journal *j, uint64_t number)
{
    if (number < __atomic_load_n(&j->chain_done, __ATOMIC_ACQUIRE))
        return 1;
    if (!j->params.chain_offload || j->chain_help || j->chain_takeover ||
        (j->ops_in_flight == 0 && number == j->batch_oldest))
        chain_run(j);
    return number < __atomic_load_n(&j->chain_done, __ATOMIC_ACQUIRE);
}

/* Submits sealed batches and completes interrupted ones, oldest first. */
static void
batches_submit(struct ubc_journal *j, uint64_t now_ns)
{
    for (uint64_t n = j->batch_oldest; n <= j->batch_filling && j->read_only_errno == 0; n++) {
        struct batch *b = batch_at(j, n);
        if (b->state == BATCH_SEALED) {
            if (!batch_chained(j, n))
                return; /* the chain stage has not linked it yet; order is kept */
            if (b->starts_segment && !(j->segment_open && j->segment_index == b->segment_index) &&
                !segment_roll_ready(j, n, b))
                return; /* later batches wait behind it */
            b->state = BATCH_SUBMITTED;
            b->submitted_ns = now_ns;
        }
        if (b->state != BATCH_SUBMITTED || b->write_pending || b->sync_pending || b->synced)
            continue;
        if (b->written == b->write_bytes && j->params.sync_mode == UBC_JOURNAL_SYNC_DSYNC) {
            b->synced = 1;
            continue;
        }
        if (batch_queue(j, n, b) != 0)
            return;
    }
}

static int
error_is_transient(int32_t result)
{
    return result == -EAGAIN || result == -EINTR || result == -ECANCELED;
}

static void
batch_complete(struct ubc_journal *j, uint64_t number, uint32_t op, int32_t result)
{
    struct batch *b = batch_at(j, number);
    UBC_ASSERT(b->state == BATCH_SUBMITTED);
    if (op == OP_WRITE) {
        UBC_ASSERT(b->write_pending);
        b->write_pending = 0;
        if (error_is_transient(result)) {
            j->stats.requeues++;
        } else if (result <= 0) {
            journal_fail(j, result == 0 ? EIO : -result, "segment write");
        } else {
            UBC_ASSERT((uint32_t)result <= b->write_bytes - b->written);
            b->written += (uint32_t)result;
            j->stats.short_writes += b->written < b->write_bytes;
            if (b->written == b->write_bytes) {
                buffer_release(j, b);
                b->synced = j->params.sync_mode == UBC_JOURNAL_SYNC_DSYNC;
            }
        }
        return;
    }
    UBC_ASSERT(b->sync_pending);
    b->sync_pending = 0;
    if (error_is_transient(result)) {
        j->stats.requeues += result != -ECANCELED;
    } else if (result < 0) {
        /* Never retry a failed fdatasync: the kernel may have dropped the
         * dirty data it could not write. */
        journal_fail(j, -result, "fdatasync");
    } else if (b->written == b->write_bytes) {
        b->synced = 1;
    }
}

/* Starts a file-system request; it completes through completions_reap like
 * any other. Without file_op_queue in the io, it runs here and now (tests'
 * wrappers) and its completion waits in j->local. 0 or -EBUSY. */
static int
file_op_start(struct ubc_journal *j, const struct ubc_journal_io_file_request *request,
              uint64_t user_data)
{
    if (j->io.ops->file_op_queue != NULL) {
        int rc = j->io.ops->file_op_queue(j->io.ctx, request, user_data);
        if (rc != 0)
            return rc;
    } else {
        if (j->local_count == LOCAL_COMPLETIONS_MAX)
            return -EBUSY;
        struct ubc_journal_io_completion *c = &j->local[j->local_count++];
        c->user_data = user_data;
        c->result = ubc_journal_io_file_run(request); /* lint:allow io without file_op_queue */
        c->reserved = 0;
    }
    j->ops_in_flight++;
    return 0;
}

/* Waits for a completion unless one is already waiting in j->local. */
static void
io_wait(struct ubc_journal *j)
{
    if (j->local_count == 0 && j->ops_in_flight > 0)
        j->io.ops->wait(j->io.ctx);
}

/* The journal's directory, listed from its start. Its own stream on a dup
 * of dir_fd: the dup shares dir_fd's file offset, which an earlier listing
 * left at the end, hence the rewind. NULL on error. Start-up, or once per
 * snapshot (a small directory). */
static DIR *
journal_dir_list(const struct ubc_journal *j)
{
    int fd = dup(j->dir_fd);
    DIR *dir = fd < 0 ? NULL : fdopendir(fd); /* lint:allow once per snapshot or open */
    if (dir == NULL) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    rewinddir(dir);
    return dir;
}

static void
pool_name(char out[UBC_JOURNAL_NAME_BYTES], uint64_t segment_index)
{
    snprintf(out, UBC_JOURNAL_NAME_BYTES, "free-%016" PRIx64 ".ubcj", segment_index);
}

/* At open: the retired files kept by an earlier run, if they fit (same
 * segment size, recycling on); the others are removed. Start-up only. */
static void
pool_load(struct ubc_journal *j)
{
    j->pool_count = 0;
    DIR *dir = journal_dir_list(j);
    if (dir == NULL)
        return;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        uint64_t index;
        char expect[UBC_JOURNAL_NAME_BYTES];
        if (sscanf(entry->d_name, "free-%16" SCNx64 ".ubcj", &index) != 1)
            continue;
        pool_name(expect, index);
        struct stat st;
        if (strcmp(expect, entry->d_name) != 0 || fstatat(j->dir_fd, entry->d_name, &st, 0) != 0)
            continue;
        if (j->params.recycle_segments && j->pool_count < POOL_MAX &&
            (uint64_t)st.st_size == j->params.segment_bytes)
            j->pool[j->pool_count++] = index;
        else
            unlinkat(j->dir_fd, entry->d_name, 0); /* not journal data */
    }
    closedir(dir);
}

static void
spare_fail(struct ubc_journal *j, int error)
{
    j->spare_state = SPARE_FAILED;
    j->spare_errno = error > 0 ? error : EIO;
}

/* Drops a spare that failed half-made (error path: synchronous is fine). */
static void
spare_discard(struct ubc_journal *j, int error)
{
    if (j->spare_fd >= 0) {
        j->io.ops->file_register(j->io.ctx, slot_of(j->spare_index), -1);
        close(j->spare_fd); /* lint:allow error path */
        /* lint:allow error path: no half-made segment */
        unlinkat(j->dir_fd, j->spare_recycled ? j->spare_pool_name : j->spare_name, 0);
        j->spare_fd = -1;
    }
    spare_fail(j, error);
}

static int
segment_open_flags(const struct ubc_journal *j, int create)
{
    int flags = O_WRONLY | O_CLOEXEC | (create ? O_CREAT | O_TRUNC : 0);
    if (j->params.sync_mode == UBC_JOURNAL_SYNC_DSYNC)
        flags |= O_DSYNC;
    return flags | (j->direct ? O_DIRECT : 0);
}

/* Queues the zero-fill of the spare, chunk by chunk, then its fdatasync: the
 * whole file, or only the header block of a recycled one (recovery tells its
 * earlier records by their sequences). */
static uint32_t
spare_write_bytes(const struct ubc_journal *j)
{
    uint64_t end = j->spare_recycled ? UBC_JOURNAL_BLOCK_BYTES : j->params.segment_bytes;
    uint64_t rest = end - j->spare_offset;
    return rest < ZERO_CHUNK_BYTES ? (uint32_t)rest : ZERO_CHUNK_BYTES;
}

static void
spare_fill(struct ubc_journal *j)
{
    const struct ubc_journal_io_ops *ops = j->io.ops;
    uint32_t slot = slot_of(j->spare_index);
    uint32_t bytes = spare_write_bytes(j);
    int rc;
    if (bytes > 0) {
        rc = ops->write_queue(j->io.ctx, slot, j->zero_chunk, bytes, j->spare_offset,
                              user_data_of(0, OP_SPARE_WRITE), 0);
    } else {
        rc = ops->fsync_queue(j->io.ctx, slot, user_data_of(0, OP_SPARE_FSYNC), 0);
        j->spare_state = rc == 0 ? SPARE_SYNCING : SPARE_FILLING;
    }
    if (rc == 0) {
        j->spare_pending = 1;
        j->ops_in_flight++;
    }
}

/* Moves the next segment's preparation one step on; segments are made
 * strictly in order (sealing may plan batches several segments ahead). */
static void
spare_advance(struct ubc_journal *j)
{
    if (j->read_only_errno != 0 || j->spare_pending)
        return;
    struct ubc_journal_io_file_request r = { .fd = j->dir_fd };
    uint32_t op;
    switch (j->spare_state) {
    case SPARE_NONE:
        j->spare_index = j->spare_next_index;
        ubc_journal_segment_name(j->spare_name, j->spare_index);
        if (!j->spare_recycled && j->pool_count > 0) { /* else a retry keeps its file */
            j->spare_recycled = 1;
            pool_name(j->spare_pool_name, j->pool[--j->pool_count]);
        }
        r.op = UBC_JOURNAL_IO_OPENAT;
        r.name = j->spare_recycled ? j->spare_pool_name : j->spare_name;
        r.open_flags = segment_open_flags(j, !j->spare_recycled);
        r.mode = 0644;
        op = OP_SPARE_OPEN;
        break;
    case SPARE_RENAMING:
        r.op = UBC_JOURNAL_IO_RENAMEAT;
        r.name = j->spare_pool_name;
        r.new_name = j->spare_name;
        op = OP_SPARE_RENAME;
        break;
    case SPARE_ALLOCATING:
        r.op = UBC_JOURNAL_IO_FALLOCATE;
        r.fd = j->spare_fd;
        r.bytes = j->params.segment_bytes;
        op = OP_SPARE_ALLOCATE;
        break;
    case SPARE_FILLING: spare_fill(j); return;
    case SPARE_DIRSYNC:
        r.op = UBC_JOURNAL_IO_FSYNC; /* the new name is durable */
        op = OP_SPARE_DIRSYNC;
        break;
    default: return;
    }
    if (file_op_start(j, &r, user_data_of(0, op)) != 0)
        return; /* queue full: next poll */
    j->spare_pending = 1;
    if (j->spare_state == SPARE_NONE)
        j->spare_state = SPARE_OPENING;
}

static void
spare_opened(struct ubc_journal *j, int32_t result)
{
    if (result == -EINVAL && j->direct) {
        j->direct = 0;  /* tmpfs and friends: buffered I/O plus fdatasync */
        fprintf(stderr, /* lint:allow once per process */
                "ubc journal: O_DIRECT not supported in %s, using buffered writes\n",
                j->spare_name);
        j->spare_state = SPARE_NONE;
        return;
    }
    if (result < 0 && j->spare_recycled) {
        j->spare_recycled = 0; /* gone or unusable: make a new file instead */
        j->spare_state = SPARE_NONE;
        return;
    }
    if (result < 0) {
        spare_fail(j, -result);
        return;
    }
    j->spare_fd = result;
    j->stats.direct_io = (uint32_t)j->direct;
    int rc = j->io.ops->file_register(j->io.ctx, slot_of(j->spare_index), result);
    if (rc != 0) {
        spare_discard(j, -rc);
        return;
    }
    if (j->spare_recycled) {
        j->spare_offset = 0;
        j->spare_state = SPARE_FILLING;
        j->spare_next_index = j->spare_index + 1;
        return;
    }
    j->spare_state = SPARE_ALLOCATING;
}

static void
spare_complete(struct ubc_journal *j, uint32_t op, int32_t result)
{
    UBC_ASSERT(j->spare_pending);
    j->spare_pending = 0;
    if (error_is_transient(result)) {
        j->stats.requeues++;
        if (op == OP_SPARE_FSYNC)
            j->spare_state = SPARE_FILLING;
        if (op == OP_SPARE_OPEN)
            j->spare_state = SPARE_NONE;
        if (op == OP_SPARE_RENAME)
            j->spare_state = SPARE_RENAMING;
        return;
    }
    switch (op) {
    case OP_SPARE_OPEN: spare_opened(j, result); return;
    case OP_SPARE_ALLOCATE:
        if (result < 0) {
            spare_discard(j, -result);
            return;
        }
        j->spare_offset = 0;
        j->spare_state = SPARE_FILLING;
        j->spare_next_index = j->spare_index + 1;
        j->stats.segments_created++;
        return;
    case OP_SPARE_WRITE:
        if (result <= 0) {
            spare_fail(j, result == 0 ? EIO : -result);
        } else { /* a short one: spare_fill writes the rest next */
            j->stats.short_writes += (uint32_t)result < spare_write_bytes(j);
            j->spare_offset += (uint64_t)result;
        }
        return;
    case OP_SPARE_FSYNC:
        if (result < 0)
            spare_fail(j, -result);
        else /* a recycled file's header is zero on disk: now it may take the name */
            j->spare_state = j->spare_recycled ? SPARE_RENAMING : SPARE_DIRSYNC;
        return;
    case OP_SPARE_RENAME:
        if (result < 0) {
            spare_discard(j, -result);
            return;
        }
        j->spare_recycled = 0;
        j->stats.segments_recycled++;
        j->spare_state = SPARE_DIRSYNC;
        return;
    default:
        if (result < 0)
            spare_fail(j, -result);
        else
            j->spare_state = SPARE_READY;
        return;
    }
}

static void snapshot_complete(struct ubc_journal *j, int32_t result);
static void snapshot_advance(struct ubc_journal *j);
static void snapshot_finish(struct ubc_journal *j, int result);

static void
completion_dispatch(struct ubc_journal *j, const struct ubc_journal_io_completion *done)
{
    uint32_t op = (uint32_t)(done->user_data & 15u);
    uint64_t number = done->user_data >> 4;
    UBC_ASSERT(j->ops_in_flight > 0);
    j->ops_in_flight--;
    if (op == OP_WRITE || op == OP_FSYNC)
        batch_complete(j, number, op, done->result);
    else if (op == OP_SNAPSHOT)
        snapshot_complete(j, done->result);
    else if (op != OP_CLOSE)
        spare_complete(j, op, done->result);
}

static void
completions_reap(struct ubc_journal *j)
{
    struct ubc_journal_io_completion done[COMPLETIONS_PER_REAP];
    uint32_t local = j->local_count;
    memcpy(done, j->local, local * sizeof(done[0]));
    j->local_count = 0;
    for (uint32_t i = 0; i < local; i++)
        completion_dispatch(j, &done[i]);
    for (uint32_t round = 0; round < 64; round++) {
        uint32_t count = j->io.ops->reap(j->io.ctx, done, COMPLETIONS_PER_REAP);
        for (uint32_t i = 0; i < count; i++)
            completion_dispatch(j, &done[i]);
        if (count < COMPLETIONS_PER_REAP)
            return;
    }
}

static void
history_push(struct ubc_journal *j, uint64_t sequence, const uint8_t *chain)
{
    struct history_entry *e = &j->history[j->history_next++ % HISTORY_MAX];
    e->sequence = sequence;
    memcpy(e->chain, chain, UBC_JOURNAL_CHAIN_BYTES);
}

/* Reports batches in order: durable ones, or all of them once read-only. */
static uint32_t
batches_retire(struct ubc_journal *j, uint64_t now_ns, ubc_journal_durable_fn callback, void *ctx)
{
    uint32_t reported = 0;
    int opened = 0;
    while (j->batch_oldest <= j->batch_filling) {
        struct batch *b = batch_at(j, j->batch_oldest);
        int failed = j->read_only_errno != 0;
        if (b->state == BATCH_FREE || (b->state == BATCH_FILLING && !failed))
            break;
        if (!failed && !b->synced)
            break;
        if (failed && (b->write_pending || b->sync_pending))
            break;                               /* its buffer is still the kernel's */
        UBC_ASSERT(failed || b->buffer == NULL); /* synced: written, buffer given back */
        if (b->buffer != NULL)
            buffer_release(j, b); /* failed before its write was complete */
        int status = failed ? -UBC_ERR_READ_ONLY : 0;
        for (uint32_t i = 0; i < b->record_count; i++)
            if (callback != NULL)
                callback(ctx, b->cookies[i], b->first_sequence + i, status);
        reported += b->record_count;
        if (!failed) {
            j->durable_sequence = b->first_sequence + b->record_count - 1;
            uint64_t latency_ns = now_ns > b->submitted_ns ? now_ns - b->submitted_ns : 0;
            j->stats.durable_latency_ns_total += latency_ns;
            if (latency_ns > j->stats.durable_latency_ns_max)
                j->stats.durable_latency_ns_max = latency_ns;
            history_push(j, j->durable_sequence, b->chain_end);
        }
        b->state = BATCH_FREE;
        j->batch_oldest++;
        if (j->batch_oldest > j->batch_filling) {
            /* Everything retired: keep a batch open for appends. */
            if (failed) {
                j->batch_filling = j->batch_oldest;
                j->filling = batch_at(j, j->batch_filling);
            } else {
                opened = batch_open(j, j->batch_oldest);
            }
            UBC_ASSERT(opened == 0);
            break;
        }
    }
    return reported;
}

/* Group commit: the open batch goes out before it is full at the end of a
 * tick when the commit interval (if any) passed and the disk is nearly idle:
 * fewer than a quarter of batches_inflight_max writes in flight (none, for
 * the default 4), and a buffer and a descriptor free for the next batch.
 * While writes are in flight the batch keeps filling, as a classic group
 * commit waits for the previous flush: under load writes grow to
 * batch_bytes_max instead of multiplying (sealed every 100 us whenever a
 * buffer was free, 256 KiB batches went out at 160-180 KiB, 11-12 k
 * fdatasyncs/s against fio's 9.5-10.6 k). A lightly loaded journal seals at
 * the interval; a record waits at most the interval plus one write. */
static void
group_commit(struct ubc_journal *j, uint64_t now_ns)
{
    struct batch *b = j->filling;
    if (j->read_only_errno != 0 || b->state != BATCH_FILLING || b->record_count == 0)
        return;
    if (j->filling_since_ns == 0)
        j->filling_since_ns = now_ns;
    uint32_t writing = j->buffer_count - j->buffers_free_count - 1; /* the filling one holds one */
    int room = writing * 4 < j->params.batches_inflight_max && j->buffers_free_count > 0 &&
               j->batch_filling + 1 - j->batch_oldest < j->batch_count;
    int due = j->params.commit_interval_ns == 0 ||
              now_ns - j->filling_since_ns >= j->params.commit_interval_ns;
    if (j->force_seal || (due && room)) {
        batch_rotate(j);
        j->filling_since_ns = 0;
    }
}

uint32_t
ubc_journal_poll(struct ubc_journal *journal, uint64_t now_ns, ubc_journal_durable_fn callback,
                 void *ctx)
{
    struct ubc_journal *j = journal;
    UBC_ASSERT(j->opened);
    if (now_ns > j->now_ns_last)
        j->now_ns_last = now_ns;
    completions_reap(j);
    uint32_t reported = batches_retire(j, now_ns, callback, ctx);
    group_commit(j, now_ns);
    batches_submit(j, now_ns);
    spare_advance(j);
    snapshot_advance(j);
    int rc = j->io.ops->submit(j->io.ctx);
    if (rc < 0)
        journal_fail(j, -rc, "io_uring submit");
    if (j->read_only_errno != 0)
        reported += batches_retire(j, now_ns, callback, ctx);
    return reported;
}

void
ubc_journal_wait(struct ubc_journal *journal)
{
    io_wait(journal);
}

static int
journal_idle(const struct ubc_journal *j)
{
    const struct batch *b = &j->batches[j->batch_filling % j->batch_count];
    return j->batch_oldest == j->batch_filling &&
           (b->state == BATCH_FREE || (b->state == BATCH_FILLING && b->record_count == 0));
}

int
ubc_journal_flush(struct ubc_journal *journal, ubc_journal_durable_fn callback, void *ctx)
{
    struct ubc_journal *j = journal;
    j->force_seal = 1;
    j->chain_help = 1;
    for (uint64_t round = 0; round < (1ull << 32); round++) {
        /* The caller's clock is not ours to read: time stands still here. */
        ubc_journal_poll(j, j->now_ns_last, callback, ctx);
        if (journal_idle(j))
            break;
        io_wait(j);
    }
    j->force_seal = 0;
    j->chain_help = 0;
    UBC_ASSERT(journal_idle(j));
    return j->read_only_errno != 0 ? -UBC_ERR_READ_ONLY : 0;
}

static void
journal_state_from_scan(struct ubc_journal *j, const struct ubc_journal_scan_result *report)
{
    j->next_sequence = report->next_sequence;
    j->durable_sequence = report->next_sequence - 1;
    chain_quiesce(j);
    memcpy(j->chain, report->chain, UBC_JOURNAL_CHAIN_BYTES);
    j->chain_sealed = 0;
    j->chain_done = 0;
    __atomic_store_n(&j->chain_claim, 0u, __ATOMIC_RELEASE);
    j->live_count = report->segment_count;
    for (uint32_t i = 0; i < report->segment_count; i++) {
        j->live[i].segment_index = j->scan_work.segments[i].segment_index;
        j->live[i].first_sequence = j->scan_work.segments[i].first_sequence;
    }
    j->history_next = 0;
    history_push(j, j->durable_sequence, j->chain);
    j->batch_oldest = 0;
    j->batch_filling = 0;
    for (uint32_t i = 0; i < j->batch_count; i++)
        j->batches[i].state = BATCH_FREE;
    buffers_reset(j);
    int rc = batch_open(j, 0);
    UBC_ASSERT(rc == 0);
    j->read_only_errno = 0;
    j->read_only_reason[0] = '\0';
    j->spare_state = SPARE_NONE;
    j->spare_recycled = 0;
    j->spare_pending = 0;
    j->ops_in_flight = 0;
    j->plan_open = 0;
    j->plan_segment_index = 0;
    j->segment_open = 0;
    j->spare_next_index = 0;
}

/* Continues appending in the last recovered segment. */
static int
journal_resume_segment(struct ubc_journal *j)
{
    const struct ubc_journal_scan_segment *last = &j->scan_work.segments[j->live_count - 1];
    int fd = segment_file_open(j, last->segment_index, 0);
    if (fd < 0)
        return fd;
    int rc = j->io.ops->file_register(j->io.ctx, slot_of(last->segment_index), fd);
    if (rc != 0) {
        close(fd);
        return rc;
    }
    j->segment_fd = fd;
    j->segment_index = last->segment_index;
    j->segment_open = 1;
    j->plan_open = 1;
    j->plan_segment_index = last->segment_index;
    j->plan_offset = last->end_offset;
    j->spare_next_index = last->segment_index + 1;
    return 0;
}

int
ubc_journal_open(struct ubc_journal *journal, const struct ubc_journal_open_params *params,
                 struct ubc_journal_scan_result *report)
{
    struct ubc_journal *j = journal;
    UBC_ASSERT(!j->opened);
    struct ubc_journal_scan_params scan = {
        .dir = params->dir,
        .flags = UBC_JOURNAL_SCAN_WRITE |
                 ((params->flags & UBC_JOURNAL_OPEN_REPAIR) ? UBC_JOURNAL_SCAN_REPAIR : 0),
        .window_bytes_default = j->window_bytes,
        .snapshot_callback = params->snapshot_callback,
        .record_callback = params->record_callback,
        .ctx = params->replay_ctx,
    };
    int rc = ubc_journal_scan(&scan, &j->scan_work, report);
    if (rc != 0)
        return rc;
    j->dir_fd = open(params->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (j->dir_fd < 0)
        return -errno;
    j->io = params->io;
    j->open_flags = params->flags;
    j->direct = !(params->flags & UBC_JOURNAL_OPEN_BUFFERED);
    uint8_t *arena = j->buffers_base;
    uint64_t arena_bytes = (uint64_t)(j->zero_chunk + ZERO_CHUNK_BYTES - arena);
    j->stats.buffers_registered = j->io.ops->buffers_register(j->io.ctx, arena, arena_bytes) == 0;
    journal_state_from_scan(j, report);
    pool_load(j);
    if (j->live_count > 0) {
        rc = journal_resume_segment(j);
        if (rc != 0) {
            close(j->dir_fd);
            j->dir_fd = -1;
            return rc;
        }
    }
    j->opened = 1;
    return 0;
}

void
ubc_journal_close(struct ubc_journal *journal)
{
    struct ubc_journal *j = journal;
    if (!j->opened)
        return;
    /* A snapshot in progress is finished (or fails) before the files close;
     * one still waiting for its records to be durable is dropped. */
    if (j->snapshot.step == SNAP_WAIT_DURABLE)
        snapshot_finish(j, -ECANCELED);
    for (uint64_t round = 0;
         (j->ops_in_flight > 0 || j->snapshot.step != SNAP_IDLE) && round < (1ull << 32); round++) {
        completions_reap(j);
        snapshot_advance(j);
        j->io.ops->submit(j->io.ctx);
        io_wait(j);
    }
    batches_retire(j, 0, NULL, NULL);
    /* A chainer may still be hashing a batch that will never be written. */
    chain_quiesce(j);
    j->chain_sealed = j->chain_done = j->batch_filling;
    j->chain_takeover = 0;
    __atomic_store_n(&j->chain_claim, 0u, __ATOMIC_RELEASE);
    for (uint32_t slot = 0; slot < 2; slot++)
        j->io.ops->file_register(j->io.ctx, slot, -1);
    if (j->segment_fd >= 0)
        close(j->segment_fd);
    if (j->spare_fd >= 0)
        close(j->spare_fd);
    close(j->dir_fd);
    j->segment_fd = -1;
    j->spare_fd = -1;
    j->dir_fd = -1;
    j->opened = 0;
}

/* The oldest live segment, when every record in it is at or before
 * sequence and it is not the one being written: the next to retire. */
static int
segment_retirable(const struct ubc_journal *j, uint64_t sequence)
{
    return j->live_count > 1 && j->live[1].first_sequence <= sequence + 1 &&
           j->live[0].segment_index != j->segment_index;
}

/* Lists the snapshot files older than the one before `sequence`'s, to be
 * removed by the SNAP_PRUNE steps. A listing of a small directory, once per
 * snapshot (the unlinks themselves go through the ring). */
static void
snapshot_prune_begin(struct ubc_journal *j)
{
    struct snapshot_job *s = &j->snapshot;
    uint64_t *found = s->prune;
    uint32_t count = 0;
    s->step = SNAP_PRUNE;
    s->prune_count = s->prune_next = 0;
    DIR *dir = journal_dir_list(j);
    if (dir == NULL)
        return;
    struct dirent *entry;
    uint64_t value;
    while ((entry = readdir(dir)) != NULL && count < UBC_JOURNAL_SNAPSHOTS_MAX)
        if (ubc_journal_snapshot_name_parse(entry->d_name, &value) == 0 && value < s->sequence)
            found[count++] = value;
    closedir(dir);
    uint64_t keep = 0;
    for (uint32_t i = 0; i < count; i++)
        keep = found[i] > keep ? found[i] : keep;
    for (uint32_t i = 0; i < count; i++)
        if (found[i] != keep)
            found[s->prune_count++] = found[i];
}

static void
snapshot_finish(struct ubc_journal *j, int result)
{
    struct snapshot_job *s = &j->snapshot;
    if (result != 0) {
        /* Error path, synchronous: no half-written snapshot stays behind. */
        if (s->fd >= 0)
            close(s->fd); /* lint:allow error path */
        if (s->step <= SNAP_RENAME)
            unlinkat(j->dir_fd, s->temp, 0); /* lint:allow error path */
    }
    s->fd = -1;
    s->step = SNAP_IDLE;
    s->result = result;
    s->result_sequence = s->sequence;
    s->blob = NULL;
}

static void
snapshot_header_encode(struct snapshot_job *s)
{
    memset(s->header_block, 0, sizeof(s->header_block));
    struct ubc_journal_snapshot_header h = {
        .magic = UBC_JOURNAL_SNAPSHOT_MAGIC,
        .version = UBC_JOURNAL_VERSION,
        .header_bytes = UBC_JOURNAL_BLOCK_BYTES,
        .sequence = s->sequence,
        .blob_bytes = s->blob_bytes,
        .blob_checksum = XXH3_64bits_digest(&s->blob_hash),
    };
    memcpy(h.chain, s->chain, UBC_JOURNAL_CHAIN_BYTES);
    ubc_journal_snapshot_header_encode(s->header_block, &h);
}

/* Builds the request of the current step. 0, or 1 when the step has nothing
 * to do (the job moved on; call again). */
/* The chain at batch end sequence, from the recent durable batch ends. */
static int
snapshot_chain_find(const struct ubc_journal *j, uint64_t sequence, uint8_t *chain)
{
    for (uint32_t i = 0; i < HISTORY_MAX && i < j->history_next; i++)
        if (j->history[i].sequence == sequence) {
            memcpy(chain, j->history[i].chain, UBC_JOURNAL_CHAIN_BYTES);
            return 0;
        }
    return -ENOENT;
}

/* SNAP_WAIT_DURABLE: 2 while its batch is not durable, then 1 (next step). */
static int
snapshot_wait_durable(struct ubc_journal *j)
{
    struct snapshot_job *s = &j->snapshot;
    if (j->read_only_errno != 0) {
        snapshot_finish(j, -j->read_only_errno); /* the state it covers is not durable */
        return 1;
    }
    if (j->durable_sequence < s->sequence)
        return 2; /* a later poll */
    if (snapshot_chain_find(j, s->sequence, s->chain) != 0) {
        snapshot_finish(j, -EINVAL); /* not a batch end: cannot happen, see begin */
        return 1;
    }
    s->step = SNAP_OPEN;
    return 1;
}

/* SNAP_RETIRE: the next segment the snapshot covers goes, into the pool of
 * reusable files while it has room (the spare in preparation may hold one
 * more), else unlinked; 1 when none is left. */
static int
snapshot_retire_request(struct ubc_journal *j, struct ubc_journal_io_file_request *r)
{
    struct snapshot_job *s = &j->snapshot;
    if (!segment_retirable(j, s->sequence)) {
        s->step = SNAP_RETIRE_DIRSYNC;
        if (!s->retired_any)
            snapshot_prune_begin(j);
        return 1;
    }
    ubc_journal_segment_name(s->retire_name, j->live[0].segment_index);
    r->name = s->retire_name;
    s->retire_keep = j->params.recycle_segments && j->pool_count + s->kept_count < POOL_MAX;
    if (s->retire_keep) {
        pool_name(s->retire_new_name, j->live[0].segment_index);
        r->op = UBC_JOURNAL_IO_RENAMEAT;
        r->new_name = s->retire_new_name;
        return 0;
    }
    r->op = UBC_JOURNAL_IO_UNLINKAT;
    return 0;
}

static int
snapshot_request(struct ubc_journal *j, struct ubc_journal_io_file_request *r)
{
    struct snapshot_job *s = &j->snapshot;
    *r = (struct ubc_journal_io_file_request){ .fd = j->dir_fd };
    switch (s->step) {
    case SNAP_WAIT_DURABLE: return snapshot_wait_durable(j);
    case SNAP_OPEN:
        r->op = UBC_JOURNAL_IO_OPENAT;
        r->name = s->temp;
        r->open_flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC;
        r->mode = 0644;
        return 0;
    case SNAP_HEADER:
    case SNAP_BLOB: {
        int header = s->step == SNAP_HEADER;
        uint64_t total = header ? UBC_JOURNAL_BLOCK_BYTES : s->blob_bytes;
        if (s->written == total) {
            if (!header)
                snapshot_header_encode(s);
            s->step = header ? SNAP_FSYNC : SNAP_HEADER;
            s->written = 0;
            return 1;
        }
        uint64_t bytes = total - s->written;
        bytes = bytes > SNAPSHOT_WRITE_BYTES ? SNAPSHOT_WRITE_BYTES : bytes;
        if (!header && s->written + bytes > s->hashed) {
            XXH3_64bits_update(&s->blob_hash, s->blob + s->hashed, s->written + bytes - s->hashed);
            s->hashed = s->written + bytes;
        }
        r->op = UBC_JOURNAL_IO_WRITE;
        r->fd = s->fd;
        r->buf = (header ? s->header_block : s->blob) + s->written;
        r->bytes = bytes;
        r->offset = (header ? 0 : UBC_JOURNAL_BLOCK_BYTES) + s->written;
        return 0;
    }
    case SNAP_FSYNC: r->op = UBC_JOURNAL_IO_FSYNC, r->fd = s->fd; return 0;
    case SNAP_CLOSE: r->op = UBC_JOURNAL_IO_CLOSE, r->fd = s->fd; return 0;
    case SNAP_RENAME:
        r->op = UBC_JOURNAL_IO_RENAMEAT;
        r->name = s->temp;
        r->new_name = s->name;
        return 0;
    case SNAP_DIRSYNC:
    case SNAP_RETIRE_DIRSYNC: r->op = UBC_JOURNAL_IO_FSYNC; return 0;
    case SNAP_RETIRE: return snapshot_retire_request(j, r);
    case SNAP_PRUNE:
        if (s->prune_next == s->prune_count) {
            snapshot_finish(j, 0);
            return 1;
        }
        ubc_journal_snapshot_name(s->prune_name, s->prune[s->prune_next]);
        r->op = UBC_JOURNAL_IO_UNLINKAT;
        r->name = s->prune_name;
        return 0;
    default: UBC_ASSERT(0 && "snapshot step"); return 1;
    }
}

/* Queues the snapshot's next request, if one is due. Never blocks. */
static void
snapshot_advance(struct ubc_journal *j)
{
    struct snapshot_job *s = &j->snapshot;
    struct ubc_journal_io_file_request r;
    while (s->step != SNAP_IDLE && !s->pending) {
        int rc = snapshot_request(j, &r);
        if (rc == 2)
            return;
        if (rc != 0)
            continue;
        if (file_op_start(j, &r, user_data_of(0, OP_SNAPSHOT)) != 0)
            return; /* queue full: next poll */
        s->pending = 1;
    }
}

static void
snapshot_complete(struct ubc_journal *j, int32_t result)
{
    struct snapshot_job *s = &j->snapshot;
    UBC_ASSERT(s->pending && s->step != SNAP_IDLE);
    s->pending = 0;
    if (result == -EAGAIN || result == -EINTR) {
        j->stats.requeues++;
        return; /* the same step again */
    }
    if (s->step == SNAP_PRUNE) {
        s->prune_next++; /* a file that would not go is left to a later snapshot */
        return;
    }
    if (s->step == SNAP_RETIRE) {
        if (result < 0) { /* keep the segment; a later snapshot retires it */
            s->step = SNAP_RETIRE_DIRSYNC;
            return;
        }
        if (s->retire_keep)
            s->kept[s->kept_count++] = j->live[0].segment_index;
        memmove(j->live, j->live + 1, (j->live_count - 1) * sizeof(j->live[0]));
        j->live_count--;
        j->stats.segments_retired++;
        s->retired_any = 1;
        return;
    }
    if (s->step == SNAP_RETIRE_DIRSYNC || s->step == SNAP_CLOSE) {
        s->fd = -1;
        if (s->step == SNAP_RETIRE_DIRSYNC) {
            for (uint32_t i = 0; i < s->kept_count && result >= 0; i++)
                if (j->pool_count < POOL_MAX) /* else left on disk: the next open sorts it */
                    j->pool[j->pool_count++] = s->kept[i];
            s->kept_count = 0;
            snapshot_prune_begin(j);
            return;
        }
        s->step = SNAP_RENAME;
        return;
    }
    int failed = result < 0 || (result == 0 && (s->step == SNAP_HEADER || s->step == SNAP_BLOB));
    if (failed) {
        snapshot_finish(j, result < 0 ? result : -EIO);
        return;
    }
    switch (s->step) {
    case SNAP_OPEN: s->fd = result, s->step = SNAP_BLOB, s->written = 0; return;
    case SNAP_HEADER:
    case SNAP_BLOB: s->written += (uint64_t)result; return;
    case SNAP_FSYNC: s->step = SNAP_CLOSE; return;
    case SNAP_RENAME: s->step = SNAP_DIRSYNC; return;
    case SNAP_DIRSYNC:
        j->stats.snapshots++; /* durable under its name: recovery may use it now */
        s->step = SNAP_RETIRE;
        s->retired_any = 0;
        s->kept_count = 0;
        return;
    default: UBC_ASSERT(0 && "snapshot step");
    }
}

int
ubc_journal_snapshot_begin(struct ubc_journal *journal, uint64_t sequence, const void *blob,
                           uint64_t blob_bytes)
{
    struct ubc_journal *j = journal;
    UBC_ASSERT(j->opened);
    struct snapshot_job *s = &j->snapshot;
    if (s->step != SNAP_IDLE)
        return -EBUSY;
    if (sequence == 0 || (blob == NULL && blob_bytes > 0))
        return -EINVAL;
    s->step = SNAP_OPEN;
    if (sequence <= j->durable_sequence && snapshot_chain_find(j, sequence, s->chain) == 0) {
        /* a recent durable batch end: its chain is known */
    } else if (sequence + 1 == j->next_sequence && j->read_only_errno == 0) {
        /* The last record appended: seal its batch now so that sequence is a
         * batch end, and start writing once it is durable (its chain is
         * taken then: the chain stage may not have linked it yet). */
        batch_rotate(j);
        s->step = SNAP_WAIT_DURABLE;
    } else {
        s->step = SNAP_IDLE;
        return -EINVAL;
    }
    /* The blob's checksum is computed as it is written (a large blob would
     * stall this call otherwise); the header goes last, before the fsync. */
    XXH3_64bits_reset(&s->blob_hash);
    s->hashed = 0;
    ubc_journal_snapshot_name(s->name, sequence);
    snprintf(s->temp, sizeof(s->temp), "%s.tmp", s->name);
    s->sequence = sequence;
    s->blob = blob;
    s->blob_bytes = blob_bytes;
    s->written = 0;
    s->fd = -1;
    s->result = -EINPROGRESS;
    snapshot_advance(j);
    return 0;
}

int
ubc_journal_snapshot_status(const struct ubc_journal *journal, uint64_t *sequence)
{
    const struct snapshot_job *s = &journal->snapshot;
    if (sequence != NULL)
        *sequence = s->step != SNAP_IDLE ? s->sequence : s->result_sequence;
    return s->step != SNAP_IDLE ? -EINPROGRESS : s->result;
}

int
ubc_journal_snapshot_write(struct ubc_journal *journal, uint64_t sequence, const void *blob,
                           uint64_t blob_bytes)
{
    struct ubc_journal *j = journal;
    if (sequence > j->durable_sequence)
        return -EINVAL; /* waiting here would need polls that report durability */
    int rc = ubc_journal_snapshot_begin(j, sequence, blob, blob_bytes);
    if (rc != 0)
        return rc;
    /* Drives only completions and the snapshot: durable reports wait for the
     * caller's next poll, so none is lost. */
    while (j->snapshot.step != SNAP_IDLE) {
        completions_reap(j);
        snapshot_advance(j);
        rc = j->io.ops->submit(j->io.ctx);
        if (rc < 0)
            journal_fail(j, -rc, "io_uring submit");
        if (j->snapshot.step != SNAP_IDLE && j->snapshot.pending)
            io_wait(j);
    }
    return j->snapshot.result;
}
