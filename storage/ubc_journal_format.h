/* ubc_journal_format.h: the journal's on-disk format (docs/storage-format.md).
 *
 * Contract: pure functions that encode and verify segment headers, records,
 * batch commit records and snapshot headers, and advance the BLAKE3 chain.
 * They touch only the memory the caller passes; any thread may call them; they
 * never allocate. The journal (ubc_journal.c), its recovery scan and the
 * ubc-journal tool share them, so there is one definition of the format.
 * All integers are little endian (the only byte order this node builds for;
 * a static assertion in the .c checks it).
 *
 * A segment file is segment_bytes long, preallocated and zero-filled:
 *   block 0            segment header (fields below, rest zero)
 *   block 1 ..         batches: records packed at 8-byte alignment, closed by
 *                      one commit record whose payload runs to the next block
 *                      boundary, so every batch starts on a block boundary
 *   after the last     zeros
 * The chain links every record: for batch b, chain(b) = BLAKE3 keyed_hash
 * with key chain(b-1) of the bytes of its records, from the batch's first
 * byte to its commit record; chain before the first batch ever = 32 zero
 * bytes. Commit
 * records carry chain(b); segment headers carry the chain before their first
 * batch; snapshots carry the chain at the batch end they cover.
 */
#ifndef UBC_JOURNAL_FORMAT_H
#define UBC_JOURNAL_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#define UBC_JOURNAL_BLOCK_BYTES 4096u
#define UBC_JOURNAL_CHAIN_BYTES 32u
/* 3: a record's checksum comes first and covers the 24 header bytes after
 * it and the payload as one run (one XXH3 call, not two). 2: the chain is
 * BLAKE3 keyed by the previous link (1 was BLAKE2b over previous link ||
 * batch). Directories of earlier versions are refused as unsupported. */
#define UBC_JOURNAL_VERSION 3u

#define UBC_JOURNAL_SEGMENT_MAGIC 0x53434255u  /* "UBCS" */
#define UBC_JOURNAL_RECORD_MAGIC 0x52434255u   /* "UBCR" */
#define UBC_JOURNAL_SNAPSHOT_MAGIC 0x50434255u /* "UBCP" */

#define UBC_JOURNAL_RECORD_HEADER_BYTES 32u
#define UBC_JOURNAL_RECORD_ALIGN 8u
/* Types at or above this are the journal's own; callers use 1 .. 0xEFFF. */
#define UBC_JOURNAL_TYPE_INTERNAL 0xF000u
#define UBC_JOURNAL_TYPE_COMMIT 0xF001u
/* Commit payload before its padding: chain, first sequence, record count. */
#define UBC_JOURNAL_COMMIT_PAYLOAD_BYTES 48u
#define UBC_JOURNAL_COMMIT_BYTES \
    (UBC_JOURNAL_RECORD_HEADER_BYTES + UBC_JOURNAL_COMMIT_PAYLOAD_BYTES)
#define UBC_JOURNAL_SEGMENT_HEADER_BYTES 80u
#define UBC_JOURNAL_SNAPSHOT_HEADER_BYTES 80u

/* Segment header, at offset 0 of a segment file (byte offsets in the doc). */
struct ubc_journal_segment_header {
    uint32_t magic;
    uint16_t version;
    uint16_t reserved;
    uint32_t block_bytes;
    uint32_t window_bytes; /* bytes that may be in flight: the torn-tail bound */
    uint64_t segment_index;
    uint64_t first_sequence; /* sequence of the first record in this segment */
    uint64_t segment_bytes;
    uint8_t prev_chain[UBC_JOURNAL_CHAIN_BYTES];
    uint64_t checksum; /* XXH3-64 of the 72 bytes before it */
};

/* Record header; the payload follows it directly. */
struct ubc_journal_record_header {
    uint64_t checksum; /* XXH3-64 of header bytes 8..31 and the payload, one run */
    uint32_t magic;
    uint16_t version;
    uint16_t type;
    uint32_t length; /* payload bytes */
    uint32_t reserved;
    uint64_t sequence;
};

/* Payload of a commit record (followed by zero padding to the block end). */
struct ubc_journal_commit {
    uint8_t chain[UBC_JOURNAL_CHAIN_BYTES]; /* after the batch's last record */
    uint64_t first_sequence;
    uint32_t record_count;
    uint32_t reserved;
};

/* Snapshot file header; the blob follows it. */
struct ubc_journal_snapshot_header {
    uint32_t magic;
    uint16_t version;
    uint16_t reserved;
    uint32_t header_bytes;
    uint32_t reserved2;
    uint64_t sequence; /* the state covers every record up to and including it */
    uint64_t blob_bytes;
    uint64_t blob_checksum;                 /* XXH3-64 of the blob */
    uint8_t chain[UBC_JOURNAL_CHAIN_BYTES]; /* the chain after record `sequence` */
    uint64_t checksum;                      /* XXH3-64 of the 72 bytes before it */
};

/* Verification results; tools print ubc_journal_verdict_text(). */
enum ubc_journal_verdict {
    UBC_JOURNAL_OK = 0,
    UBC_JOURNAL_ZERO = 1,        /* all-zero header: no data here */
    UBC_JOURNAL_BAD_MAGIC = 2,   /* not a header of the expected kind */
    UBC_JOURNAL_BAD_VERSION = 3, /* a format version this build does not read */
    UBC_JOURNAL_BAD_LENGTH = 4,  /* the length runs past the bound */
    UBC_JOURNAL_BAD_CHECKSUM = 5,
    UBC_JOURNAL_BAD_FIELD = 6, /* a reserved field not zero, or a field out of range */
};

const char *ubc_journal_verdict_text(enum ubc_journal_verdict verdict);

/* Bytes one record of payload_bytes takes in a batch, with alignment. */
static inline uint32_t
ubc_journal_record_footprint(uint32_t payload_bytes)
{
    uint32_t raw = UBC_JOURNAL_RECORD_HEADER_BYTES + payload_bytes;
    return (raw + UBC_JOURNAL_RECORD_ALIGN - 1u) & ~(UBC_JOURNAL_RECORD_ALIGN - 1u);
}

/* Writes a record (header, payload, zero alignment padding) at dst, which has
 * room for ubc_journal_record_footprint(length) bytes. Returns that size. */
uint32_t ubc_journal_record_encode(void *dst, uint16_t type, uint64_t sequence, const void *payload,
                                   uint32_t length);

/* Verifies the record at src, of which available bytes are readable. On OK
 * fills *header (copied, so src need not be aligned). */
enum ubc_journal_verdict ubc_journal_record_verify(const void *src, uint64_t available,
                                                   struct ubc_journal_record_header *header);

/* Writes a commit record at dst, padded with zeros so that it ends at
 * total_bytes (>= UBC_JOURNAL_COMMIT_BYTES, a multiple of 8). */
void ubc_journal_commit_encode(void *dst, uint32_t total_bytes, uint64_t last_sequence,
                               const struct ubc_journal_commit *commit);

/* Decodes the commit payload of a verified commit record. */
void ubc_journal_commit_decode(const void *record, struct ubc_journal_commit *commit);

/* Segment header: encode into a zeroed block, verify from a block. */
void ubc_journal_segment_header_encode(void *dst, const struct ubc_journal_segment_header *h);
enum ubc_journal_verdict ubc_journal_segment_header_verify(const void *src,
                                                           struct ubc_journal_segment_header *h);

/* Snapshot header: encode (checksum filled in), verify (header only). */
void ubc_journal_snapshot_header_encode(void *dst, const struct ubc_journal_snapshot_header *h);
enum ubc_journal_verdict ubc_journal_snapshot_header_verify(const void *src,
                                                            struct ubc_journal_snapshot_header *h);

/* chain = BLAKE3 keyed_hash(key = chain, bytes): one batch's records. */
void ubc_journal_chain_advance(uint8_t chain[UBC_JOURNAL_CHAIN_BYTES], const void *record,
                               uint32_t record_bytes);

/* XXH3-64, exposed so tools and tests hash blobs the same way. */
uint64_t ubc_journal_hash64(const void *data, size_t bytes);

/* True when bytes [src, src+bytes) are all zero. */
int ubc_journal_is_zero(const void *src, size_t bytes);

/* File names: seg-<16 hex digits of index>.ubcj and snap-<16 hex of seq>.ubcs.
 * Return 0, or -1 when the name is not of that form. */
int ubc_journal_segment_name_parse(const char *name, uint64_t *segment_index);
int ubc_journal_snapshot_name_parse(const char *name, uint64_t *sequence);
#define UBC_JOURNAL_NAME_BYTES 32u
void ubc_journal_segment_name(char out[UBC_JOURNAL_NAME_BYTES], uint64_t segment_index);
void ubc_journal_snapshot_name(char out[UBC_JOURNAL_NAME_BYTES], uint64_t sequence);

#endif /* UBC_JOURNAL_FORMAT_H */
