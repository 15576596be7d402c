/* ubc_journal_scan.c: recovery (see ubc_journal_scan.h for the rules).
 *
 * Why a torn tail is told apart from corruption by a window: the journal
 * never has more than window_bytes of not-yet-durable data past its durable
 * point (in-flight batches), and it never writes into a new segment before
 * the previous one is durable. So after a crash, invalid or missing data can
 * only sit at the end of the last segment, and valid records can follow it
 * only within window_bytes (batches written out of order, none of them
 * acknowledged). Anything else was damaged after it was acknowledged.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/ubc_assert.h"
#include "storage/ubc_journal_scan.h"

enum batch_status { BATCH_OK, BATCH_END, BATCH_BAD };

struct scan {
    const struct ubc_journal_scan_params *params;
    struct ubc_journal_scan_work *work;
    struct ubc_journal_scan_result *result;
    int dir_fd;
    uint32_t segment_files;  /* segment files found in the directory */
    uint32_t snapshot_files; /* snapshot files found */
    uint64_t expected_sequence;
    uint8_t chain[UBC_JOURNAL_CHAIN_BYTES];
    int snapshot_chain_checked;
    int corrupt; /* stop: result->status and message are set */
    /* Where the previous segment's data ended on something other than zeros
     * (a recycled file's earlier life, or damage): the next segment must
     * continue exactly from there, or that spot is named as corruption. */
    uint64_t end_offset;
    char end_why[UBC_JOURNAL_MESSAGE_BYTES / 2];
};

static const uint8_t zero_buffer[64 * 1024];

static void scan_fail(struct scan *s, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static void
scan_fail(struct scan *s, const char *format, ...)
{
    if (s->corrupt)
        return;
    va_list args;
    va_start(args, format);
    vsnprintf(s->result->message, sizeof(s->result->message), format, args);
    va_end(args);
    s->result->status = -EUCLEAN;
    s->corrupt = 1;
}

static void scan_note(struct scan *s, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static void
scan_note(struct scan *s, const char *format, ...)
{
    char *notes = s->result->notes;
    size_t used = strlen(notes);
    if (used + 2 >= sizeof(s->result->notes))
        return;
    if (used > 0)
        notes[used++] = ' ';
    va_list args;
    va_start(args, format);
    vsnprintf(notes + used, sizeof(s->result->notes) - used, format, args);
    va_end(args);
}

static int
compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Lists segment and snapshot files, sorted; removes stray temporaries. */
static int
scan_list(struct scan *s)
{
    int fd = dup(s->dir_fd);
    DIR *dir = fd < 0 ? NULL : fdopendir(fd);
    if (dir == NULL)
        return -errno;
    struct dirent *entry;
    uint64_t value;
    int rc = 0;
    while ((entry = readdir(dir)) != NULL) {
        const char *name = entry->d_name;
        size_t name_bytes = strlen(name);
        if (ubc_journal_segment_name_parse(name, &value) == 0) {
            if (s->segment_files == UBC_JOURNAL_SEGMENTS_MAX) {
                rc = -E2BIG;
                break;
            }
            s->work->segments[s->segment_files++].segment_index = value;
        } else if (ubc_journal_snapshot_name_parse(name, &value) == 0) {
            if (s->snapshot_files < UBC_JOURNAL_SNAPSHOTS_MAX)
                s->work->snapshot_sequences[s->snapshot_files++] = value;
        } else if (name_bytes > 4 && strcmp(name + name_bytes - 4, ".tmp") == 0 &&
                   (s->params->flags & UBC_JOURNAL_SCAN_WRITE)) {
            unlinkat(s->dir_fd, name, 0); /* an unfinished snapshot */
        }
    }
    closedir(dir);
    qsort(s->work->segments, s->segment_files, sizeof(s->work->segments[0]), compare_u64);
    qsort(s->work->snapshot_sequences, s->snapshot_files, sizeof(uint64_t), compare_u64);
    return rc;
}

struct mapping {
    const uint8_t *bytes;
    uint64_t size;
};

static int
map_file(int dir_fd, const char *name, struct mapping *m)
{
    m->bytes = NULL;
    m->size = 0;
    int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    int rc = fstat(fd, &st) == 0 ? 0 : -errno;
    if (rc == 0 && st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
            rc = -errno;
        } else {
            m->bytes = p;
            m->size = (uint64_t)st.st_size;
            madvise(p, m->size, MADV_SEQUENTIAL);
        }
    }
    close(fd);
    return rc;
}

static void
unmap_file(struct mapping *m)
{
    if (m->bytes != NULL)
        munmap((void *)m->bytes, m->size);
    m->bytes = NULL;
}

/* Writes zeros over [offset, size) of a file and makes them durable. */
static int
zero_range(int dir_fd, const char *name, uint64_t offset, uint64_t size)
{
    int fd = openat(dir_fd, name, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = 0;
    while (offset < size && rc == 0) {
        uint64_t chunk = size - offset;
        if (chunk > sizeof(zero_buffer))
            chunk = sizeof(zero_buffer);
        ssize_t done = pwrite(fd, zero_buffer, chunk, (off_t)offset);
        if (done < 0 && errno != EINTR)
            rc = -errno;
        else if (done > 0)
            offset += (uint64_t)done;
    }
    if (rc == 0 && fdatasync(fd) != 0)
        rc = -errno;
    close(fd);
    return rc;
}

static int
remove_file(int dir_fd, const char *name)
{
    if (unlinkat(dir_fd, name, 0) != 0)
        return -errno;
    return fsync(dir_fd) == 0 ? 0 : -errno;
}

static int
snapshot_check(struct scan *s, uint64_t sequence, struct ubc_journal_snapshot_header *h)
{
    char name[UBC_JOURNAL_NAME_BYTES];
    ubc_journal_snapshot_name(name, sequence);
    struct mapping m;
    if (map_file(s->dir_fd, name, &m) != 0)
        return -1;
    int ok =
        m.size >= UBC_JOURNAL_BLOCK_BYTES &&
        ubc_journal_snapshot_header_verify(m.bytes, h) == UBC_JOURNAL_OK &&
        h->sequence == sequence && h->blob_bytes == m.size - UBC_JOURNAL_BLOCK_BYTES &&
        ubc_journal_hash64(m.bytes + UBC_JOURNAL_BLOCK_BYTES, h->blob_bytes) == h->blob_checksum;
    unmap_file(&m);
    return ok ? 0 : -1;
}

/* The newest snapshot whose header and blob verify. */
static void
scan_pick_snapshot(struct scan *s)
{
    struct ubc_journal_scan_result *r = s->result;
    for (uint32_t i = s->snapshot_files; i > 0; i--) {
        uint64_t sequence = s->work->snapshot_sequences[i - 1];
        struct ubc_journal_snapshot_header h;
        if (snapshot_check(s, sequence, &h) == 0) {
            r->snapshot_found = 1;
            r->snapshot_sequence = sequence;
            memcpy(r->snapshot_chain, h.chain, UBC_JOURNAL_CHAIN_BYTES);
            return;
        }
        r->snapshots_invalid++;
        scan_note(s, "snapshot snap-%016" PRIx64 ".ubcs is invalid, skipped;", sequence);
    }
}

static void
snapshot_chain_compare(struct scan *s, uint64_t sequence, const uint8_t *chain)
{
    struct ubc_journal_scan_result *r = s->result;
    if (!r->snapshot_found || s->snapshot_chain_checked || sequence != r->snapshot_sequence)
        return;
    s->snapshot_chain_checked = 1;
    if (memcmp(chain, r->snapshot_chain, UBC_JOURNAL_CHAIN_BYTES) != 0)
        scan_fail(s,
                  "snap-%016" PRIx64 ".ubcs: its chain hash does not match the journal's "
                  "at sequence %" PRIu64,
                  sequence, sequence);
}

/* Verifies one batch at offset; on BATCH_OK advances the scan's sequence and
 * chain and sets *next_offset. why gets the reason of BATCH_BAD. */
static enum batch_status
batch_commit_check(struct scan *s, const struct mapping *m, uint64_t offset, uint64_t position,
                   const struct ubc_journal_record_header *h, uint64_t sequence, uint32_t count,
                   char *why, size_t why_bytes)
{
    uint64_t end = position + ubc_journal_record_footprint(h->length);
    if (h->length < UBC_JOURNAL_COMMIT_PAYLOAD_BYTES) { /* before reading the payload */
        snprintf(why, why_bytes, "commit at offset %" PRIu64 " too short", position);
        return BATCH_BAD;
    }
    struct ubc_journal_commit c;
    ubc_journal_commit_decode(m->bytes + position, &c);
    if (count == 0 || h->sequence != sequence - 1 || c.record_count != count ||
        c.first_sequence != s->expected_sequence || end % UBC_JOURNAL_BLOCK_BYTES != 0) {
        snprintf(why, why_bytes, "commit at offset %" PRIu64 " does not match its batch", position);
        return BATCH_BAD;
    }
    uint8_t chain[UBC_JOURNAL_CHAIN_BYTES];
    memcpy(chain, s->chain, sizeof(chain));
    ubc_journal_chain_advance(chain, m->bytes + offset, (uint32_t)(position - offset));
    if (memcmp(c.chain, chain, sizeof(chain)) != 0) {
        snprintf(why, why_bytes, "chain hash mismatch at commit offset %" PRIu64, position);
        return BATCH_BAD;
    }
    s->result->records += count;
    s->result->batches++;
    s->result->bytes += end - offset;
    s->expected_sequence = sequence;
    memcpy(s->chain, chain, sizeof(chain));
    snapshot_chain_compare(s, sequence - 1, chain);
    return BATCH_OK;
}

/* Verifies one batch at offset; on BATCH_OK advances the scan's sequence and
 * chain and sets *next_offset. why gets the reason of BATCH_BAD. */
static enum batch_status
batch_verify(struct scan *s, const struct mapping *m, uint64_t offset, uint64_t *next_offset,
             char *why, size_t why_bytes)
{
    uint64_t sequence = s->expected_sequence;
    uint64_t position = offset;
    uint32_t count = 0;
    while (position < m->size) {
        struct ubc_journal_record_header h;
        enum ubc_journal_verdict v =
            ubc_journal_record_verify(m->bytes + position, m->size - position, &h);
        if (v == UBC_JOURNAL_ZERO && position == offset)
            return BATCH_END;
        if (v != UBC_JOURNAL_OK) {
            snprintf(why, why_bytes, "record at offset %" PRIu64 ": %s", position,
                     ubc_journal_verdict_text(v));
            return BATCH_BAD;
        }
        if (h.type == UBC_JOURNAL_TYPE_COMMIT) {
            enum batch_status b =
                batch_commit_check(s, m, offset, position, &h, sequence, count, why, why_bytes);
            if (b == BATCH_OK)
                *next_offset = position + ubc_journal_record_footprint(h.length);
            return b;
        }
        if (h.sequence != sequence || h.type >= UBC_JOURNAL_TYPE_INTERNAL) {
            snprintf(why, why_bytes,
                     "record at offset %" PRIu64 ": sequence %" PRIu64 " type %u, expected "
                     "sequence %" PRIu64,
                     position, h.sequence, h.type, sequence);
            return BATCH_BAD;
        }
        position += ubc_journal_record_footprint(h.length);
        sequence++;
        count++;
    }
    snprintf(why, why_bytes, "batch at offset %" PRIu64 " runs past the end of the file", offset);
    return BATCH_BAD;
}

/* A record that verifies, of this life of the file: a recycled segment keeps
 * its earlier batches past the new tail, and those hold sequences below any
 * live segment's (they were retired behind a snapshot), so a record below
 * min_sequence is stale, not evidence. */
static int
record_current(const struct mapping *m, uint64_t position, uint64_t min_sequence,
               struct ubc_journal_record_header *h, uint64_t *stale)
{
    if (ubc_journal_record_verify(m->bytes + position, m->size - position, h) != UBC_JOURNAL_OK)
        return 0;
    *stale += h->sequence < min_sequence;
    return h->sequence >= min_sequence;
}

/* Looks past a torn point for valid records at or past min_sequence. Returns
 * the offset of the first one at or beyond from + window (evidence of
 * corruption), or 0; counts those found within the window. */
static uint64_t
tail_scan(const struct mapping *m, uint64_t from, uint64_t window, uint64_t min_sequence,
          uint64_t *records_within, uint64_t *stale)
{
    *records_within = 0;
    *stale = 0;
    uint64_t block = UBC_JOURNAL_BLOCK_BYTES;
    uint64_t position = (from / block + 1) * block;
    while (position + UBC_JOURNAL_RECORD_HEADER_BYTES <= m->size) {
        struct ubc_journal_record_header h;
        if (!record_current(m, position, min_sequence, &h, stale)) {
            position += block;
            continue;
        }
        if (position >= from + window)
            return position;
        /* Walk the valid run so its records are counted once. */
        while (position + UBC_JOURNAL_RECORD_HEADER_BYTES <= m->size &&
               record_current(m, position, min_sequence, &h, stale)) {
            if (position >= from + window)
                return position;
            if (h.type != UBC_JOURNAL_TYPE_COMMIT)
                (*records_within)++;
            position += ubc_journal_record_footprint(h.length);
        }
        position = (position + block - 1) / block * block;
    }
    return 0;
}

/* Drops everything from (segment i, offset) on: zeroes the rest of that
 * segment (or removes it when offset is 0) and removes later segments. */
static int
scan_cut(struct scan *s, uint32_t i, uint64_t offset, uint64_t size)
{
    char name[UBC_JOURNAL_NAME_BYTES];
    int rc = 0;
    for (uint32_t k = s->segment_files; k > i + 1; k--) {
        ubc_journal_segment_name(name, s->work->segments[k - 1].segment_index);
        rc = rc != 0 ? rc : remove_file(s->dir_fd, name);
        s->result->repaired_segments_dropped++;
    }
    s->segment_files = i + 1;
    ubc_journal_segment_name(name, s->work->segments[i].segment_index);
    if (offset == 0) {
        rc = rc != 0 ? rc : remove_file(s->dir_fd, name);
        s->segment_files = i;
        if (i > 0) {
            /* The previous segment is the last now: whatever follows its
             * data must be zeros, as at any end of the journal. */
            const struct ubc_journal_scan_segment *previous = &s->work->segments[i - 1];
            ubc_journal_segment_name(name, previous->segment_index);
            if (previous->end_offset > 0 && previous->segment_bytes > previous->end_offset)
                rc = rc != 0 ? rc
                             : zero_range(s->dir_fd, name, previous->end_offset,
                                          previous->segment_bytes);
        }
    } else {
        rc = rc != 0 ? rc : zero_range(s->dir_fd, name, offset, size);
    }
    return rc;
}

/* A clean end of the last segment: zeros to the end of the file, or a
 * recycled file's earlier life starting right here (a valid record of an
 * older sequence), with no record of this life after it. Anything else is
 * cut (zeroed): the tail scan looks for records only where a batch may
 * start, so an unacknowledged record in the middle of torn bytes could be
 * missed and must not outlive the next batches written here. */
static int
scan_end_is_clean(const struct scan *s, const struct mapping *m, uint64_t offset, const char *why,
                  uint64_t records_within, enum ubc_journal_verdict at,
                  const struct ubc_journal_record_header *h)
{
    if (records_within != 0)
        return 0;
    if (why == NULL && ubc_journal_is_zero(m->bytes + offset, m->size - offset))
        return 1;
    return at == UBC_JOURNAL_OK && h->sequence < s->expected_sequence;
}

/* The end of the journal is cut at offset: say why. */
static void
scan_note_end(struct scan *s, const char *name, uint64_t offset, uint64_t bytes, const char *why,
              uint64_t records_within, int earlier_life)
{
    if (earlier_life) {
        scan_note(s,
                  "end of the journal: %s offset %" PRIu64 "; the bytes after it (a reused "
                  "segment's earlier contents, or an unacknowledged torn write) cleared;",
                  name, offset);
        return;
    }
    if (why == NULL && records_within == 0)
        why = "bytes of a torn write, no valid record";
    s->result->torn_bytes += bytes;
    s->result->torn_records += records_within;
    scan_note(s,
              "torn tail: %s offset %" PRIu64 " (%s), %" PRIu64 " unacknowledged "
              "record(s) after it dropped;",
              name, offset, why != NULL ? why : "missing batch", records_within);
}

/* Invalid or missing data at (i, offset): a torn tail or corruption. */
static void
scan_damage(struct scan *s, uint32_t i, const struct mapping *m, uint64_t offset, uint64_t window,
            const char *why)
{
    const struct ubc_journal_scan_params *p = s->params;
    char name[UBC_JOURNAL_NAME_BYTES];
    ubc_journal_segment_name(name, s->work->segments[i].segment_index);
    uint64_t records_within = 0, stale = 0;
    int last = i + 1 == s->segment_files;
    uint64_t evidence =
        last ? tail_scan(m, offset, window, s->expected_sequence, &records_within, &stale) : 0;
    if (last && evidence == 0) {
        struct ubc_journal_record_header h;
        enum ubc_journal_verdict at =
            ubc_journal_record_verify(m->bytes + offset, m->size - offset, &h);
        if (scan_end_is_clean(s, m, offset, why, records_within, at, &h))
            return;
        /* Nothing of this life follows, and what is there is most likely a
         * reused file's earlier life: records of older sequences in the
         * window, or bytes that are not a record header where this life's
         * next batch would start (the inside of an earlier, differently
         * sized batch; or that batch's header sector never reached the
         * disk). An end, not a tear. */
        int earlier_life = records_within == 0 && (stale > 0 || at == UBC_JOURNAL_BAD_MAGIC);
        scan_note_end(s, name, offset, m->size - offset, why, records_within, earlier_life);
    } else if (p->flags & UBC_JOURNAL_SCAN_REPAIR) {
        scan_note(s,
                  "repair: %s offset %" PRIu64 ": %s; everything after it dropped "
                  "(journal now ends at sequence %" PRIu64 ");",
                  name, offset, why != NULL ? why : "valid records after a gap",
                  s->expected_sequence - 1);
    } else {
        if (evidence != 0)
            scan_fail(s,
                      "%s offset %" PRIu64 ": %s, but a valid record follows at offset "
                      "%" PRIu64 " (corruption, not a torn tail)",
                      name, offset, why != NULL ? why : "zeros", evidence);
        else
            scan_fail(s, "%s offset %" PRIu64 ": %s (not the last segment)", name, offset,
                      why != NULL ? why : "zeros");
        return;
    }
    s->work->segments[i].end_offset = offset;
    if (p->flags & (UBC_JOURNAL_SCAN_WRITE | UBC_JOURNAL_SCAN_REPAIR)) {
        int rc = scan_cut(s, i, offset, m->size);
        if (rc != 0)
            scan_fail(s, "%s: cannot truncate at offset %" PRIu64 ": %s", name, offset,
                      strerror(-rc));
    } else {
        s->segment_files = offset == 0 ? i : i + 1;
    }
}

/* Checks a segment header against its file and its predecessor. */
static int
segment_header_check(struct scan *s, uint32_t i, const struct mapping *m,
                     const struct ubc_journal_segment_header *h, const char *name)
{
    struct ubc_journal_scan_result *r = s->result;
    if (h->segment_index != s->work->segments[i].segment_index) {
        scan_fail(s, "%s offset 0: header names segment %" PRIu64, name, h->segment_index);
        return -1;
    }
    if (m->size != h->segment_bytes) {
        scan_fail(s,
                  "%s offset %" PRIu64 ": truncated segment (file has %" PRIu64
                  " bytes, header says %" PRIu64 ")",
                  name, m->size, m->size, h->segment_bytes);
        return -1;
    }
    if (i == 0) {
        s->expected_sequence = h->first_sequence;
        memcpy(s->chain, h->prev_chain, UBC_JOURNAL_CHAIN_BYTES);
        if (h->first_sequence > 1 &&
            (!r->snapshot_found || r->snapshot_sequence + 1 < h->first_sequence)) {
            scan_fail(s,
                      "%s offset 0: records before sequence %" PRIu64 " are missing and no "
                      "snapshot covers them (missing segment?)",
                      name, h->first_sequence);
            return -1;
        }
        snapshot_chain_compare(s, h->first_sequence - 1, h->prev_chain);
        return s->corrupt ? -1 : 0;
    }
    if ((h->first_sequence != s->expected_sequence ||
         memcmp(h->prev_chain, s->chain, UBC_JOURNAL_CHAIN_BYTES) != 0) &&
        s->end_why[0] != '\0') {
        char previous[UBC_JOURNAL_NAME_BYTES];
        ubc_journal_segment_name(previous, s->work->segments[i - 1].segment_index);
        scan_fail(s,
                  "%s offset %" PRIu64 ": %s, and %s does not continue from there (first "
                  "sequence %" PRIu64 ", expected %" PRIu64 "): corruption, not a torn tail",
                  previous, s->end_offset, s->end_why, name, h->first_sequence,
                  s->expected_sequence);
        return -1;
    }
    if (h->first_sequence != s->expected_sequence ||
        memcmp(h->prev_chain, s->chain, UBC_JOURNAL_CHAIN_BYTES) != 0) {
        scan_fail(s,
                  "%s offset 0: does not continue the previous segment (first sequence %" PRIu64
                  ", expected %" PRIu64 ", or chain mismatch): previous segment "
                  "truncated or replaced",
                  name, h->first_sequence, s->expected_sequence);
        return -1;
    }
    return 0;
}

/* Verifies segment i. Returns 0 to go on with the next, 1 when the journal
 * ends in this segment (or before it), -1 on a failure already recorded. */
static int
segment_scan(struct scan *s, uint32_t i, const struct mapping *m)
{
    struct ubc_journal_scan_segment *seg = &s->work->segments[i];
    char name[UBC_JOURNAL_NAME_BYTES];
    ubc_journal_segment_name(name, seg->segment_index);
    int last = i + 1 == s->segment_files;
    /* The window the previous segment was written with, if there is one. */
    uint64_t window =
        s->result->window_bytes != 0 ? s->result->window_bytes : s->params->window_bytes_default;
    struct ubc_journal_segment_header h;
    enum ubc_journal_verdict v = m->size < UBC_JOURNAL_BLOCK_BYTES
                                     ? UBC_JOURNAL_BAD_LENGTH
                                     : ubc_journal_segment_header_verify(m->bytes, &h);
    /* An unused spare was dropped before (scan_drop_spare): a zero header
     * here has records after it, torn (within the window) or damaged. */
    if (v != UBC_JOURNAL_OK) {
        char why[96];
        snprintf(why, sizeof(why), "segment header: %s", ubc_journal_verdict_text(v));
        scan_damage(s, i, m, 0, window, why);
        return s->corrupt ? -1 : 1;
    }
    if (segment_header_check(s, i, m, &h, name) != 0) {
        if (s->params->flags & UBC_JOURNAL_SCAN_REPAIR) {
            s->corrupt = 0;
            s->result->status = 0;
            scan_damage(s, i, m, 0, window, s->result->message);
            return s->corrupt ? -1 : 1;
        }
        return -1;
    }
    s->end_why[0] = '\0'; /* the previous segment's end is accounted for */
    s->result->window_bytes = h.window_bytes;
    seg->first_sequence = h.first_sequence;
    seg->segment_bytes = h.segment_bytes;
    uint64_t offset = UBC_JOURNAL_BLOCK_BYTES;
    for (;;) {
        char why[UBC_JOURNAL_MESSAGE_BYTES / 2];
        uint64_t next = 0;
        enum batch_status b = offset + UBC_JOURNAL_BLOCK_BYTES > m->size
                                  ? BATCH_END
                                  : batch_verify(s, m, offset, &next, why, sizeof(why));
        if (s->corrupt)
            return -1;
        seg->end_offset = offset;
        if (b == BATCH_OK) {
            offset = next;
            continue;
        }
        uint64_t records_within = 0, stale = 0;
        if (!last && tail_scan(m, offset, 0, s->expected_sequence, &records_within, &stale) == 0) {
            /* The segment ends here: zeros follow, or a recycled file's
             * earlier life, or damage to its last batch, which the next
             * segment's header then fails to continue (named there). */
            s->end_offset = offset;
            snprintf(s->end_why, sizeof(s->end_why), "%s", b == BATCH_END ? "" : why);
            return 0;
        }
        if (b == BATCH_END && !last)
            snprintf(why, sizeof(why), "zeros where a batch should start, valid records after");
        scan_damage(s, i, m, offset, h.window_bytes, (b == BATCH_BAD || !last) ? why : NULL);
        return s->corrupt ? -1 : 1;
    }
}

/* A gap in segment numbers: a missing segment file. */
static int
segment_gap(struct scan *s, uint32_t i)
{
    uint64_t previous = s->work->segments[i - 1].segment_index;
    if (s->work->segments[i].segment_index == previous + 1)
        return 0;
    char name[UBC_JOURNAL_NAME_BYTES];
    ubc_journal_segment_name(name, previous + 1);
    if (!(s->params->flags & UBC_JOURNAL_SCAN_REPAIR)) {
        scan_fail(s, "%s offset 0: missing segment (the journal jumps to segment %" PRIu64 ")",
                  name, s->work->segments[i].segment_index);
        return -1;
    }
    scan_note(s, "repair: %s is missing; later segments dropped;", name);
    int rc = scan_cut(s, i, 0, 0);
    if (rc != 0)
        scan_fail(s, "%s: cannot drop later segments: %s", name, strerror(-rc));
    return 1;
}

/* The lowest sequence a record of this journal's present can have in a
 * spare: a recycled file's earlier records are all below the first live
 * segment's first sequence (read from its header), or below what the
 * snapshot covers. Without either, every valid record counts. */
static uint64_t
spare_min_sequence(const struct scan *s)
{
    uint64_t min = s->result->snapshot_found ? s->result->snapshot_sequence + 1 : 1;
    if (s->segment_files < 2)
        return min;
    char name[UBC_JOURNAL_NAME_BYTES];
    ubc_journal_segment_name(name, s->work->segments[0].segment_index);
    struct mapping m;
    struct ubc_journal_segment_header h;
    if (map_file(s->dir_fd, name, &m) != 0)
        return min;
    if (m.size >= UBC_JOURNAL_BLOCK_BYTES &&
        ubc_journal_segment_header_verify(m.bytes, &h) == UBC_JOURNAL_OK && h.first_sequence < min)
        min = h.first_sequence;
    unmap_file(&m);
    return min;
}

/* A spare segment prepared ahead and never written: its header block is zero
 * (or the file is shorter than a block) and no valid record of this life
 * (see spare_min_sequence) is in it. It is
 * not part of the journal; it is removed when the scan may write. */
static void
scan_drop_spare(struct scan *s)
{
    if (s->segment_files == 0)
        return;
    char name[UBC_JOURNAL_NAME_BYTES];
    ubc_journal_segment_name(name, s->work->segments[s->segment_files - 1].segment_index);
    struct mapping m;
    if (map_file(s->dir_fd, name, &m) != 0)
        return;
    uint64_t records_within = 0, stale = 0;
    int spare = m.size < UBC_JOURNAL_BLOCK_BYTES ||
                (ubc_journal_is_zero(m.bytes, UBC_JOURNAL_BLOCK_BYTES) &&
                 tail_scan(&m, 0, 0, spare_min_sequence(s), &records_within, &stale) == 0);
    unmap_file(&m);
    if (!spare)
        return;
    if (s->params->flags & UBC_JOURNAL_SCAN_WRITE)
        remove_file(s->dir_fd, name);
    s->segment_files--;
}

static int
scan_verify(struct scan *s)
{
    scan_drop_spare(s);
    for (uint32_t i = 0; i < s->segment_files && !s->corrupt; i++) {
        if (i > 0 && segment_gap(s, i) != 0)
            break;
        char name[UBC_JOURNAL_NAME_BYTES];
        ubc_journal_segment_name(name, s->work->segments[i].segment_index);
        struct mapping m;
        int rc = map_file(s->dir_fd, name, &m);
        if (rc != 0) {
            scan_fail(s, "%s: cannot read: %s", name, strerror(-rc));
            break;
        }
        int verdict = segment_scan(s, i, &m);
        unmap_file(&m);
        if (verdict != 0)
            break;
    }
    struct ubc_journal_scan_result *r = s->result;
    if (!s->corrupt && r->snapshot_found && s->segment_files > 0 &&
        r->snapshot_sequence < s->expected_sequence && !s->snapshot_chain_checked)
        scan_fail(s,
                  "snap-%016" PRIx64 ".ubcs: sequence %" PRIu64 " is not a batch end of "
                  "the journal",
                  r->snapshot_sequence, r->snapshot_sequence);
    if (!s->corrupt && r->snapshot_found && s->segment_files > 0 &&
        r->snapshot_sequence >= s->expected_sequence &&
        (s->params->flags & UBC_JOURNAL_SCAN_REPAIR)) {
        /* A repair cut the journal before the snapshot: the snapshot is the
         * better state; the journal restarts right after it. */
        scan_note(s,
                  "repair: snapshot %" PRIu64 " is past the cut; all segments dropped, "
                  "the journal restarts after the snapshot;",
                  r->snapshot_sequence);
        int rc = scan_cut(s, 0, 0, 0);
        if (rc != 0)
            scan_fail(s, "cannot drop segments: %s", strerror(-rc));
        s->expected_sequence = r->snapshot_sequence + 1;
    }
    if (!s->corrupt && r->snapshot_found && s->segment_files > 0 &&
        r->snapshot_sequence >= s->expected_sequence)
        scan_fail(s,
                  "snap-%016" PRIx64 ".ubcs covers sequence %" PRIu64 " but the journal "
                  "ends at %" PRIu64 " (durable records lost)",
                  r->snapshot_sequence, r->snapshot_sequence, s->expected_sequence - 1);
    return s->corrupt ? -1 : 0;
}

/* Replays one verified segment. Records are checked again (XXH3 only) in
 * case the file changed since the verification pass: -EIO then. */
static int
replay_segment(struct scan *s, const struct ubc_journal_scan_segment *seg, const struct mapping *m)
{
    const struct ubc_journal_scan_params *p = s->params;
    uint64_t position = UBC_JOURNAL_BLOCK_BYTES;
    uint64_t end = seg->end_offset < m->size ? seg->end_offset : m->size;
    if (end < seg->end_offset)
        return -EIO;
    while (position < end) {
        struct ubc_journal_record_header h;
        if (ubc_journal_record_verify(m->bytes + position, end - position, &h) != UBC_JOURNAL_OK)
            return -EIO;
        if (h.type != UBC_JOURNAL_TYPE_COMMIT &&
            (!s->result->snapshot_found || h.sequence > s->result->snapshot_sequence)) {
            p->record_callback(p->ctx, h.sequence, h.type,
                               m->bytes + position + UBC_JOURNAL_RECORD_HEADER_BYTES, h.length);
            s->result->replayed_records++;
        }
        position += ubc_journal_record_footprint(h.length);
    }
    return 0;
}

static int
scan_replay(struct scan *s)
{
    const struct ubc_journal_scan_params *p = s->params;
    struct ubc_journal_scan_result *r = s->result;
    char name[UBC_JOURNAL_NAME_BYTES];
    struct mapping m;
    if (r->snapshot_found && p->snapshot_callback != NULL) {
        ubc_journal_snapshot_name(name, r->snapshot_sequence);
        int rc = map_file(s->dir_fd, name, &m);
        if (rc != 0)
            return rc;
        p->snapshot_callback(p->ctx, r->snapshot_sequence, m.bytes + UBC_JOURNAL_BLOCK_BYTES,
                             m.size - UBC_JOURNAL_BLOCK_BYTES);
        unmap_file(&m);
    }
    for (uint32_t i = 0; i < s->segment_files && p->record_callback != NULL; i++) {
        const struct ubc_journal_scan_segment *seg = &s->work->segments[i];
        ubc_journal_segment_name(name, seg->segment_index);
        int rc = map_file(s->dir_fd, name, &m);
        if (rc != 0)
            return rc;
        rc = replay_segment(s, seg, &m);
        unmap_file(&m);
        if (rc != 0)
            return rc; /* the file changed under the scan */
    }
    return 0;
}

int
ubc_journal_scan(const struct ubc_journal_scan_params *params, struct ubc_journal_scan_work *work,
                 struct ubc_journal_scan_result *result)
{
    memset(result, 0, sizeof(*result));
    memset(work, 0, sizeof(*work));
    struct scan s = { .params = params, .work = work, .result = result, .expected_sequence = 1 };
    s.dir_fd = open(params->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s.dir_fd < 0) {
        result->status = -errno;
        snprintf(result->message, sizeof(result->message), "%s: %s", params->dir, strerror(errno));
        return result->status;
    }
    int rc = scan_list(&s);
    if (rc != 0) {
        result->status = rc;
        snprintf(result->message, sizeof(result->message), "%s: cannot list: %s", params->dir,
                 strerror(-rc));
    } else {
        scan_pick_snapshot(&s);
        if (result->snapshot_found)
            s.expected_sequence = result->snapshot_sequence + 1;
        if (scan_verify(&s) == 0) {
            result->segment_count = s.segment_files;
            result->next_sequence = s.expected_sequence;
            memcpy(result->chain, s.chain, UBC_JOURNAL_CHAIN_BYTES);
            if (s.segment_files == 0 && result->snapshot_found)
                memcpy(result->chain, result->snapshot_chain, UBC_JOURNAL_CHAIN_BYTES);
            rc = scan_replay(&s);
            if (rc != 0) {
                result->status = rc;
                snprintf(result->message, sizeof(result->message), "replay: %s", strerror(-rc));
            }
        }
    }
    close(s.dir_fd);
    return result->status;
}
