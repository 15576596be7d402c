/* ubc_journal_format.c: encoders and verifiers of the on-disk format. */
#include "storage/ubc_journal_format.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
/* Inlined: a record's checksum is a short hash the append path computes per
 * record; a call into the shared library cost more than the hashing. */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "common/ubc_assert.h"
#include "storage/ubc_blake3.h"

UBC_STATIC_ASSERT(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the format is little endian");
UBC_STATIC_ASSERT(sizeof(struct ubc_journal_record_header) == UBC_JOURNAL_RECORD_HEADER_BYTES,
                  "record header layout");
UBC_STATIC_ASSERT(sizeof(struct ubc_journal_commit) == UBC_JOURNAL_COMMIT_PAYLOAD_BYTES,
                  "commit layout");
UBC_STATIC_ASSERT(sizeof(struct ubc_journal_segment_header) == UBC_JOURNAL_SEGMENT_HEADER_BYTES,
                  "segment header layout");
UBC_STATIC_ASSERT(sizeof(struct ubc_journal_snapshot_header) == UBC_JOURNAL_SNAPSHOT_HEADER_BYTES,
                  "snapshot header layout");
UBC_STATIC_ASSERT(UBC_BLAKE3_OUT_BYTES == UBC_JOURNAL_CHAIN_BYTES, "BLAKE3-256");

/* Where a record's checksummed run starts: every header byte after the
 * checksum, then the payload. */
#define RECORD_CHECKED_FROM 8u
UBC_STATIC_ASSERT(offsetof(struct ubc_journal_record_header, magic) == RECORD_CHECKED_FROM,
                  "the checksum is the record's first field");

const char *
ubc_journal_verdict_text(enum ubc_journal_verdict verdict)
{
    switch (verdict) {
    case UBC_JOURNAL_OK: return "ok";
    case UBC_JOURNAL_ZERO: return "zero (no data)";
    case UBC_JOURNAL_BAD_MAGIC: return "wrong magic";
    case UBC_JOURNAL_BAD_VERSION: return "unsupported version";
    case UBC_JOURNAL_BAD_LENGTH: return "length out of bounds";
    case UBC_JOURNAL_BAD_CHECKSUM: return "checksum mismatch";
    case UBC_JOURNAL_BAD_FIELD: return "field out of range";
    }
    return "unknown verdict";
}

uint64_t
ubc_journal_hash64(const void *data, size_t bytes)
{
    return XXH3_64bits(data, bytes);
}

int
ubc_journal_is_zero(const void *src, size_t bytes)
{
    const uint8_t *p = src;
    size_t i = 0;
    for (; i + 8 <= bytes; i += 8) {
        uint64_t word;
        memcpy(&word, p + i, 8);
        if (word != 0)
            return 0;
    }
    for (; i < bytes; i++)
        if (p[i] != 0)
            return 0;
    return 1;
}

/* The checksum of an encoded record: header bytes 8..31 and the payload
 * lie in one run behind the checksum field. */
static uint64_t
record_checksum(const uint8_t *record, uint32_t length)
{
    return XXH3_64bits(record + RECORD_CHECKED_FROM,
                       UBC_JOURNAL_RECORD_HEADER_BYTES - RECORD_CHECKED_FROM + (size_t)length);
}

/* Stores a record header's fields as three 8-byte words, the checksum's
 * place zero. Why words: a header assembled from 2- and 4-byte stores and
 * read back by wider loads (a struct copy, the checksum's) cannot be
 * store-forwarded; that stall was most of an append's encode time. */
static void
record_header_store(uint8_t *out, uint16_t type, uint32_t length, uint64_t sequence)
{
    UBC_STATIC_ASSERT(offsetof(struct ubc_journal_record_header, version) == 12 &&
                          offsetof(struct ubc_journal_record_header, type) == 14 &&
                          offsetof(struct ubc_journal_record_header, length) == 16 &&
                          offsetof(struct ubc_journal_record_header, sequence) == 24,
                      "record header words");
    uint64_t checksum = 0;
    uint64_t kind =
        UBC_JOURNAL_RECORD_MAGIC | (uint64_t)UBC_JOURNAL_VERSION << 32 | (uint64_t)type << 48;
    uint64_t size = length; /* reserved: zero */
    memcpy(out, &checksum, 8);
    memcpy(out + 8, &kind, 8);
    memcpy(out + 16, &size, 8);
    memcpy(out + 24, &sequence, 8);
}

uint32_t
ubc_journal_record_encode(void *dst, uint16_t type, uint64_t sequence, const void *payload,
                          uint32_t length)
{
    uint8_t *out = dst;
    uint32_t total = ubc_journal_record_footprint(length);
    record_header_store(out, type, length, sequence);
    if (length > 0)
        memcpy(out + UBC_JOURNAL_RECORD_HEADER_BYTES, payload, length);
    uint64_t checksum = record_checksum(out, length);
    memcpy(out, &checksum, sizeof(checksum));
    uint32_t raw = UBC_JOURNAL_RECORD_HEADER_BYTES + length;
    if (total > raw)
        memset(out + raw, 0, total - raw);
    return total;
}

enum ubc_journal_verdict
ubc_journal_record_verify(const void *src, uint64_t available,
                          struct ubc_journal_record_header *header)
{
    if (available < UBC_JOURNAL_RECORD_HEADER_BYTES)
        return UBC_JOURNAL_BAD_LENGTH;
    memcpy(header, src, sizeof(*header));
    if (ubc_journal_is_zero(header, sizeof(*header)))
        return UBC_JOURNAL_ZERO;
    if (header->magic != UBC_JOURNAL_RECORD_MAGIC)
        return UBC_JOURNAL_BAD_MAGIC;
    if (header->version != UBC_JOURNAL_VERSION)
        return UBC_JOURNAL_BAD_VERSION;
    if ((uint64_t)header->length + UBC_JOURNAL_RECORD_HEADER_BYTES > available)
        return UBC_JOURNAL_BAD_LENGTH;
    if (header->reserved != 0 || header->type == 0)
        return UBC_JOURNAL_BAD_FIELD;
    if (record_checksum(src, header->length) != header->checksum)
        return UBC_JOURNAL_BAD_CHECKSUM;
    return UBC_JOURNAL_OK;
}

void
ubc_journal_commit_encode(void *dst, uint32_t total_bytes, uint64_t last_sequence,
                          const struct ubc_journal_commit *commit)
{
    UBC_ASSERT(total_bytes >= UBC_JOURNAL_COMMIT_BYTES);
    UBC_ASSERT(total_bytes % UBC_JOURNAL_RECORD_ALIGN == 0);
    uint8_t *out = dst;
    uint32_t length = total_bytes - UBC_JOURNAL_RECORD_HEADER_BYTES;
    /* The padding is part of the payload so the checksum covers it. */
    memset(out + UBC_JOURNAL_RECORD_HEADER_BYTES, 0, length);
    memcpy(out + UBC_JOURNAL_RECORD_HEADER_BYTES, commit, sizeof(*commit));
    record_header_store(out, UBC_JOURNAL_TYPE_COMMIT, length, last_sequence);
    uint64_t checksum = record_checksum(out, length);
    memcpy(out, &checksum, sizeof(checksum));
}

void
ubc_journal_commit_decode(const void *record, struct ubc_journal_commit *commit)
{
    memcpy(commit, (const uint8_t *)record + UBC_JOURNAL_RECORD_HEADER_BYTES, sizeof(*commit));
}

void
ubc_journal_segment_header_encode(void *dst, const struct ubc_journal_segment_header *h)
{
    struct ubc_journal_segment_header copy = *h;
    copy.checksum = XXH3_64bits(&copy, offsetof(struct ubc_journal_segment_header, checksum));
    memcpy(dst, &copy, sizeof(copy));
}

enum ubc_journal_verdict
ubc_journal_segment_header_verify(const void *src, struct ubc_journal_segment_header *h)
{
    memcpy(h, src, sizeof(*h));
    if (ubc_journal_is_zero(src, UBC_JOURNAL_BLOCK_BYTES))
        return UBC_JOURNAL_ZERO;
    if (h->magic != UBC_JOURNAL_SEGMENT_MAGIC)
        return UBC_JOURNAL_BAD_MAGIC;
    if (h->version != UBC_JOURNAL_VERSION)
        return UBC_JOURNAL_BAD_VERSION;
    if (XXH3_64bits(h, offsetof(struct ubc_journal_segment_header, checksum)) != h->checksum)
        return UBC_JOURNAL_BAD_CHECKSUM;
    if (h->block_bytes != UBC_JOURNAL_BLOCK_BYTES || h->segment_bytes % h->block_bytes != 0 ||
        h->segment_bytes < 2ull * h->block_bytes || h->first_sequence == 0)
        return UBC_JOURNAL_BAD_FIELD;
    return UBC_JOURNAL_OK;
}

void
ubc_journal_snapshot_header_encode(void *dst, const struct ubc_journal_snapshot_header *h)
{
    struct ubc_journal_snapshot_header copy = *h;
    copy.checksum = XXH3_64bits(&copy, offsetof(struct ubc_journal_snapshot_header, checksum));
    memcpy(dst, &copy, sizeof(copy));
}

enum ubc_journal_verdict
ubc_journal_snapshot_header_verify(const void *src, struct ubc_journal_snapshot_header *h)
{
    memcpy(h, src, sizeof(*h));
    if (h->magic != UBC_JOURNAL_SNAPSHOT_MAGIC)
        return UBC_JOURNAL_BAD_MAGIC;
    if (h->version != UBC_JOURNAL_VERSION)
        return UBC_JOURNAL_BAD_VERSION;
    if (XXH3_64bits(h, offsetof(struct ubc_journal_snapshot_header, checksum)) != h->checksum)
        return UBC_JOURNAL_BAD_CHECKSUM;
    if (h->header_bytes != UBC_JOURNAL_BLOCK_BYTES)
        return UBC_JOURNAL_BAD_FIELD;
    return UBC_JOURNAL_OK;
}

void
ubc_journal_chain_advance(uint8_t chain[UBC_JOURNAL_CHAIN_BYTES], const void *record,
                          uint32_t record_bytes)
{
    uint8_t next[UBC_JOURNAL_CHAIN_BYTES];
    ubc_blake3_keyed(chain, record, record_bytes, next);
    memcpy(chain, next, sizeof(next));
}

static int
name_parse(const char *name, const char *prefix, const char *suffix, uint64_t *value)
{
    size_t prefix_bytes = strlen(prefix);
    size_t suffix_bytes = strlen(suffix);
    if (strlen(name) != prefix_bytes + 16 + suffix_bytes)
        return -1;
    if (memcmp(name, prefix, prefix_bytes) != 0 || strcmp(name + prefix_bytes + 16, suffix) != 0)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < 16; i++) {
        char c = name[prefix_bytes + i];
        uint64_t digit;
        if (c >= '0' && c <= '9')
            digit = (uint64_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            digit = (uint64_t)(c - 'a' + 10);
        else
            return -1;
        v = (v << 4) | digit;
    }
    *value = v;
    return 0;
}

int
ubc_journal_segment_name_parse(const char *name, uint64_t *segment_index)
{
    return name_parse(name, "seg-", ".ubcj", segment_index);
}

int
ubc_journal_snapshot_name_parse(const char *name, uint64_t *sequence)
{
    return name_parse(name, "snap-", ".ubcs", sequence);
}

void
ubc_journal_segment_name(char out[UBC_JOURNAL_NAME_BYTES], uint64_t segment_index)
{
    snprintf(out, UBC_JOURNAL_NAME_BYTES, "seg-%016" PRIx64 ".ubcj", segment_index);
}

void
ubc_journal_snapshot_name(char out[UBC_JOURNAL_NAME_BYTES], uint64_t sequence)
{
    snprintf(out, UBC_JOURNAL_NAME_BYTES, "snap-%016" PRIx64 ".ubcs", sequence);
}
