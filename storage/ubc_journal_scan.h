/* ubc_journal_scan.h: recovery: verify a journal directory and replay it.
 *
 * Contract: ubc_journal_scan() reads every segment of a journal directory,
 * verifies each record's checksum, the sequence numbers and the BLAKE3 chain
 * end to end, picks the newest valid snapshot, and classifies what it finds:
 *   - a torn tail (an invalid or missing batch at the end of the last
 *     segment, with no valid record more than window_bytes past it) is
 *     truncated when UBC_JOURNAL_SCAN_WRITE is set, and reported;
 *   - anything else invalid is corruption: status -EUCLEAN and a message
 *     naming the file and the offset. With UBC_JOURNAL_SCAN_REPAIR the scan
 *     truncates there instead (zeroing the rest of that segment, deleting
 *     later ones) and reports what was dropped.
 * Only after the whole journal verified does it replay: the snapshot first
 * (if any), then every record after the snapshot's sequence, in order.
 * The journal calls it from ubc_journal_open; the ubc-journal tool calls it
 * read-only. It blocks (file I/O) and maps files while it runs; it keeps no
 * state after it returns except what it writes into *result and *work.
 */
#ifndef UBC_JOURNAL_SCAN_H
#define UBC_JOURNAL_SCAN_H

#include <stdint.h>

#include "storage/ubc_journal_format.h"

#define UBC_JOURNAL_SEGMENTS_MAX 16384u /* 1 TiB of 64 MiB segments */
#define UBC_JOURNAL_SNAPSHOTS_MAX 64u
#define UBC_JOURNAL_MESSAGE_BYTES 384u

#define UBC_JOURNAL_SCAN_WRITE 1u  /* may truncate a torn tail, remove stray files */
#define UBC_JOURNAL_SCAN_REPAIR 2u /* may truncate at corruption (implies WRITE) */

/* Replay callbacks. The pointers are valid only during the call. */
typedef void (*ubc_journal_snapshot_fn)(void *ctx, uint64_t sequence, const void *blob,
                                        uint64_t blob_bytes);
typedef void (*ubc_journal_record_fn)(void *ctx, uint64_t sequence, uint16_t type,
                                      const void *payload, uint32_t length);

struct ubc_journal_scan_params {
    const char *dir;
    uint32_t flags;
    uint32_t window_bytes_default; /* torn-tail bound when no header says it */
    ubc_journal_snapshot_fn snapshot_callback;
    ubc_journal_record_fn record_callback;
    void *ctx;
};

struct ubc_journal_scan_segment {
    uint64_t segment_index;
    uint64_t first_sequence;
    uint64_t end_offset; /* verified data ends here (block aligned) */
    uint64_t segment_bytes;
};

/* Working memory of a scan, owned by the caller (the journal embeds one). */
struct ubc_journal_scan_work {
    struct ubc_journal_scan_segment segments[UBC_JOURNAL_SEGMENTS_MAX];
    uint64_t snapshot_sequences[UBC_JOURNAL_SNAPSHOTS_MAX];
};

struct ubc_journal_scan_result {
    int status;                              /* 0, -EUCLEAN (corruption), or another -errno */
    char message[UBC_JOURNAL_MESSAGE_BYTES]; /* why, naming file and offset */
    char notes[UBC_JOURNAL_MESSAGE_BYTES];   /* torn tail, repair, skipped files */
    uint32_t segment_count;                  /* live segments, in work->segments */
    uint32_t window_bytes;                   /* from the last segment header */
    uint64_t next_sequence;                  /* the next record's sequence */
    uint8_t chain[UBC_JOURNAL_CHAIN_BYTES];  /* after the last record */
    uint64_t records;                        /* user records verified */
    uint64_t batches;
    uint64_t bytes;        /* record bytes verified, commits included */
    uint64_t torn_bytes;   /* zeroed (or to zero) at the tail */
    uint64_t torn_records; /* valid records found past the torn point */
    uint64_t repaired_segments_dropped;
    int snapshot_found;
    uint64_t snapshot_sequence;
    uint8_t snapshot_chain[UBC_JOURNAL_CHAIN_BYTES];
    uint32_t snapshots_invalid;
    uint64_t replayed_records;
};

int ubc_journal_scan(const struct ubc_journal_scan_params *params,
                     struct ubc_journal_scan_work *work, struct ubc_journal_scan_result *result);

#endif /* UBC_JOURNAL_SCAN_H */
