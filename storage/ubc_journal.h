/* ubc_journal.h: the node's write-ahead journal over io_uring, with group commit.
 *
 * Contract: a journal is a directory of preallocated segment files (format in
 * storage/ubc_journal_format.h and docs/storage-format.md). The disk role
 * drives it from one lcore and nothing else touches it, except the chain
 * stage (ubc_journal_chain_poll), which may run on another:
 *   ubc_journal_append()  copies a record into the open batch (checksum,
 *                         chain) and returns its sequence number, or a
 *                         negative enum ubc_err: -UBC_ERR_OVERLOADED when every
 *                         batch buffer is busy (backpressure: retry after a
 *                         poll), -UBC_ERR_READ_ONLY after a disk error,
 *                         -UBC_ERR_MALFORMED for a bad type or length. Never
 *                         blocks, never allocates.
 *   ubc_journal_poll()    reaps completions, seals the open batch into one
 *                         aligned write, submits writes and fdatasyncs, and
 *                         reports each record, in sequence order, exactly once
 *                         to the callback: status 0 when it is durable, or
 *                         -UBC_ERR_READ_ONLY when it never will be. Never blocks.
 *   ubc_journal_snapshot_begin() / _status()  write a snapshot through the
 *                         ring while appends go on (poll moves it on).
 * Nothing on the data path blocks: the next segment (openat, fallocate,
 * zero-fill, fsyncs) and snapshots (writes, fsync, rename, unlinks) are
 * io_uring requests too, issued from poll.
 * A write error (EIO, ENOSPC, anything but EAGAIN/EINTR, which are requeued,
 * and short writes, which are completed) puts the journal in a read-only
 * state: appends fail, ubc_journal_read_only() returns the errno and
 * ubc_journal_read_only_reason() a line for `ubcctl status`. Files are never
 * left in a state recovery would call corrupt.
 * Life cycle (Firedancer style): align / footprint(params) (0 = invalid) /
 * new(mem) formats caller-owned memory and writes the magic last / join /
 * leave / delete. ubc_journal_open() then recovers the directory (blocking,
 * start-up only) and replays it through callbacks; ubc_journal_close() waits
 * for what is in flight. The journal owns the files it opens; the caller owns
 * the memory, the io object and the callbacks' contexts.
 */
#ifndef UBC_JOURNAL_H
#define UBC_JOURNAL_H

#include <stdint.h>

#include "common/ubc_msg.h"
#include "storage/ubc_journal_format.h"
#include "storage/ubc_journal_io.h"
#include "storage/ubc_journal_scan.h"

#define UBC_JOURNAL_MAGIC 0x55424a4f55524e4cull /* "UBJOURNL" */

enum ubc_journal_sync_mode {
    UBC_JOURNAL_SYNC_LINKED = 0, /* write, then an fdatasync linked to it */
    UBC_JOURNAL_SYNC_DSYNC = 1,  /* files opened O_DSYNC: a finished write is durable */
};

#define UBC_JOURNAL_BATCHES_MAX 16u
#define UBC_JOURNAL_OPEN_REPAIR 1u   /* truncate at corruption instead of refusing */
#define UBC_JOURNAL_OPEN_BUFFERED 2u /* do not try O_DIRECT */

struct ubc_journal_params {
    uint64_t segment_bytes;        /* file size; multiple of 4096 */
    uint32_t batch_bytes_max;      /* largest group-commit write; multiple of 4096 */
    uint32_t batches_inflight_max; /* writes in flight at once, 1 .. BATCHES_MAX - 1 */
    uint32_t payload_bytes_max;    /* largest record payload */
    uint32_t sync_mode;            /* enum ubc_journal_sync_mode */
    uint64_t commit_interval_ns;   /* seal an open batch at most this late; 0: at once */
    uint32_t chain_offload;        /* 1: another thread chains (ubc_journal_chain_poll) */
    /* 1: segments a snapshot retires are kept (up to 2, as free-*.ubcj) and
     * reused as the next segments: only their header block is rewritten,
     * instead of creating and zero-filling a file. Not for a journal whose
     * retired segments are hard-linked elsewhere (the ledger's archive). */
    uint32_t recycle_segments;
};

/* Status 0: durable. -UBC_ERR_READ_ONLY: lost to a disk error, never durable. */
typedef void (*ubc_journal_durable_fn)(void *ctx, uint64_t cookie, uint64_t sequence, int status);

struct ubc_journal_open_params {
    const char *dir;
    struct ubc_journal_io io;
    uint32_t flags;                            /* UBC_JOURNAL_OPEN_* */
    ubc_journal_snapshot_fn snapshot_callback; /* replay; may be NULL */
    ubc_journal_record_fn record_callback;     /* replay; may be NULL */
    void *replay_ctx;
};

struct ubc_journal_stats {
    uint64_t appends;
    uint64_t backpressure; /* appends refused with OVERLOADED */
    uint64_t batches;
    uint64_t bytes_written;
    uint64_t fsyncs;
    uint64_t requeues;     /* EAGAIN / EINTR / cancelled links resubmitted */
    uint64_t short_writes; /* completed by writing the rest: batches and zero-fills */
    uint64_t segments_created;
    uint64_t segments_retired;
    uint64_t segments_recycled; /* spares made from retired segments */
    uint64_t snapshots;
    uint64_t chain_batches_offloaded; /* chained by ubc_journal_chain_poll */
    /* Submit to durable, per batch, in the caller's now_ns units. */
    uint64_t durable_latency_ns_total; /* divide by batches for the mean */
    uint64_t durable_latency_ns_max;
    uint32_t direct_io; /* 1 when O_DIRECT is in use */
    uint32_t buffers_registered;
    uint32_t spare_ready; /* the next segment is prepared */
    uint32_t reserved;
};

struct ubc_journal;

uint64_t ubc_journal_align(void);
uint64_t ubc_journal_footprint(const struct ubc_journal_params *params);
void *ubc_journal_new(void *mem, const struct ubc_journal_params *params);
struct ubc_journal *ubc_journal_join(void *mem);
void *ubc_journal_leave(struct ubc_journal *journal);
void *ubc_journal_delete(void *mem);

/* Recovers dir (see ubc_journal_scan.h), replays it, prepares appends.
 * 0, -EUCLEAN on corruption (report->message names file and offset), or
 * another -errno. report may not be NULL. */
int ubc_journal_open(struct ubc_journal *journal, const struct ubc_journal_open_params *params,
                     struct ubc_journal_scan_result *report);

int64_t ubc_journal_append(struct ubc_journal *journal, uint16_t type, const void *payload,
                           uint32_t length, uint64_t cookie);

/* Returns the number of records reported to callback during this call. */
uint32_t ubc_journal_poll(struct ubc_journal *journal, uint64_t now_ns,
                          ubc_journal_durable_fn callback, void *ctx);

/* The chain stage, for a journal made with params.chain_offload = 1: links
 * sealed batches into the BLAKE3 chain (most of the journal's CPU per byte),
 * so that the appending thread only builds records and submits. Called in a
 * loop from ONE other thread (a chain role on another lcore, or the same
 * run loop as the disk role), concurrently with every other call on the
 * journal, between ubc_journal_open() and ubc_journal_close(); a sealed
 * batch is submitted only once chained, so a journal whose chainer stops
 * stalls, except that flush and close chain what is left themselves.
 * Non-blocking; returns the number of batches it chained. Without
 * chain_offload the appending thread chains each batch as it seals it and
 * this call finds nothing to do. */
uint32_t ubc_journal_chain_poll(struct ubc_journal *journal);

/* From now until the journal is closed, the appending thread chains too,
 * as without chain_offload (a node stopping: its chain lcore may stop
 * first). Appending thread only. */
void ubc_journal_chain_takeover(struct ubc_journal *journal);

/* Blocks until some I/O completes, when any is in flight (a disk role that
 * shares its core, a tool, a harness: waiting frees the CPU the kernel's
 * completion and fdatasync work needs). Returns at once otherwise. */
void ubc_journal_wait(struct ubc_journal *journal);

/* Polls until everything appended is durable or failed (blocking; tests,
 * shutdown and quiescing for a snapshot). 0 or -UBC_ERR_READ_ONLY. */
int ubc_journal_flush(struct ubc_journal *journal, ubc_journal_durable_fn callback, void *ctx);

/* Writes blob as the state after record sequence, atomically (temp file,
 * fsync, rename, fsync dir), then retires segments wholly before it.
 * sequence must be a durable batch end among the recent ones, normally
 * ubc_journal_durable_sequence() after a flush. Blocking (tools, tests): it
 * is ubc_journal_snapshot_begin() plus waiting; records made durable
 * meanwhile are reported by the next poll. 0 or -errno (-EINVAL: sequence
 * not known, -EBUSY: an asynchronous snapshot is in progress). */
int ubc_journal_snapshot_write(struct ubc_journal *journal, uint64_t sequence, const void *blob,
                               uint64_t blob_bytes);

/* The same without blocking: starts writing blob as the state after record
 * sequence and returns at once. sequence is a recent durable batch end (as
 * above) or the last record appended, ubc_journal_next_sequence() - 1: its
 * batch is sealed now and the snapshot starts once it is durable (no flush
 * needed: the disk role snapshots the state it has folded so far); ubc_journal_poll() moves it on
 * (open, write, fsync, rename, fsync of the directory, then retirement of
 * the segments it covers, each one io_uring request) while appends go on.
 * blob is the caller's and must stay unchanged until the snapshot finished.
 * One at a time: 0, -EBUSY (one is in progress), -EINVAL. */
int ubc_journal_snapshot_begin(struct ubc_journal *journal, uint64_t sequence, const void *blob,
                               uint64_t blob_bytes);

/* -EINPROGRESS while a snapshot runs; then the last one's result: 0 (it is
 * durable and recovery will start from it), or -errno (it was removed; the
 * previous snapshot stays in force); -ENOENT before the first. *sequence
 * (may be NULL) gets that snapshot's sequence. */
int ubc_journal_snapshot_status(const struct ubc_journal *journal, uint64_t *sequence);

/* Waits for in-flight I/O, closes files. The journal may be opened again. */
void ubc_journal_close(struct ubc_journal *journal);

uint64_t ubc_journal_durable_sequence(const struct ubc_journal *journal);
uint64_t ubc_journal_next_sequence(const struct ubc_journal *journal);
int ubc_journal_read_only(const struct ubc_journal *journal); /* 0 or the errno */
const char *ubc_journal_read_only_reason(const struct ubc_journal *journal);
void ubc_journal_stats_get(const struct ubc_journal *journal, struct ubc_journal_stats *stats);

#endif /* UBC_JOURNAL_H */
