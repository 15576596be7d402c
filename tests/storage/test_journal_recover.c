/* test_journal_recover.c: recovery on crafted damage. A torn tail is
 * truncated and reported; damage anywhere else is refused with a message
 * naming the file and offset; the repair flag truncates there instead.
 * Recycled segment files (stale batches past each end) recover clean. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "journal_test_util.h"

#define RECORDS 3000u

static struct ubc_journal_scan_work work;

static void
build_journal(const char *dir, const struct ubc_journal_params *p, uint64_t count)
{
    struct test_journal t = { 0 };
    struct test_seen replay = { 0 };
    assert_int_equal(test_journal_open(&t, dir, p, 0, &replay), 0);
    struct test_seen durable = { 0 };
    for (uint64_t i = 1; i <= count; i++) {
        assert_true(test_append(&t, &durable) > 0);
        if (i % 13 == 0) /* many small batches, like ticks */
            ubc_journal_poll(t.journal, ubc_time_monotonic_ns(), test_seen_durable, &durable);
    }
    assert_int_equal(ubc_journal_flush(t.journal, test_seen_durable, &durable), 0);
    assert_int_equal(durable.count, count);
    test_journal_destroy(&t);
}

/* A read-only scan: how many segments, and where the last one's data ends. */
static struct ubc_journal_scan_result
scan_only(const char *dir)
{
    struct ubc_journal_scan_params params = { .dir = dir, .window_bytes_default = 1u << 20 };
    struct ubc_journal_scan_result r;
    ubc_journal_scan(&params, &work, &r);
    return r;
}

static void
segment_path(char *out, size_t bytes, const char *dir, uint64_t index)
{
    char name[UBC_JOURNAL_NAME_BYTES];
    ubc_journal_segment_name(name, index);
    snprintf(out, bytes, "%s/%s", dir, name);
}

static void
file_poke(const char *path, uint64_t offset, const void *bytes, size_t count)
{
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, bytes, count, (off_t)offset), (ssize_t)count);
    close(fd);
}

static void
file_flip(const char *path, uint64_t offset)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t byte = 0;
    assert_int_equal(pread(fd, &byte, 1, (off_t)offset), 1);
    byte ^= 0x10;
    assert_int_equal(pwrite(fd, &byte, 1, (off_t)offset), 1);
    close(fd);
}

/* Opens and expects corruption whose message contains want. */
static void
expect_refused(const char *dir, const struct ubc_journal_params *p, const char *want)
{
    struct test_journal t = { 0 };
    struct test_seen replay = { 0 };
    assert_int_equal(test_journal_open(&t, dir, p, 0, &replay), -EUCLEAN);
    if (strstr(t.report.message, want) == NULL)
        fail_msg("message '%s' lacks '%s'", t.report.message, want);
    assert_int_equal(replay.count, 0); /* nothing replayed from a refused journal */
    test_journal_destroy(&t);
}

static void
expect_repaired(const char *dir, const struct ubc_journal_params *p, uint64_t want_max)
{
    struct test_journal t = { 0 };
    struct test_seen replay = { 0 };
    assert_int_equal(test_journal_open(&t, dir, p, UBC_JOURNAL_OPEN_REPAIR, &replay), 0);
    assert_non_null(strstr(t.report.notes, "repair"));
    assert_true(replay.count < want_max);
    assert_int_equal(replay.payload_errors, 0);
    assert_int_equal(replay.out_of_order, 0);
    /* The repaired journal takes appends and verifies clean afterwards. */
    struct test_seen durable = { 0 };
    durable.last_sequence = replay.count;
    assert_int_equal(test_append(&t, &durable), (int64_t)replay.count + 1);
    assert_int_equal(ubc_journal_flush(t.journal, test_seen_durable, &durable), 0);
    ubc_journal_close(t.journal);
    memset(&replay, 0, sizeof(replay));
    assert_int_equal(test_journal_open(&t, dir, p, 0, &replay), 0);
    assert_int_equal(replay.payload_errors, 0);
    test_journal_destroy(&t);
}

static void
test_torn_tail(void **state)
{
    (void)state;
    char dir[256], path[512];
    test_dir_make(dir, sizeof(dir), "torn");
    struct ubc_journal_params p = test_params_small();
    build_journal(dir, &p, RECORDS);
    struct ubc_journal_scan_result r = scan_only(dir);
    assert_int_equal(r.status, 0);
    const struct ubc_journal_scan_segment *last = &work.segments[r.segment_count - 1];
    segment_path(path, sizeof(path), dir, last->segment_index);
    /* Tear the last batch: damage its last block, as a half-done write
     * would. (Zeroing that block is no tear when the batch is one block
     * long, which group-commit timing sometimes makes it: a flipped byte
     * always is.) */
    uint8_t byte = 0;
    int fd = open(path, O_RDONLY);
    assert_int_equal(pread(fd, &byte, 1, (off_t)last->end_offset - 8), 1);
    close(fd);
    byte ^= 0x40;
    file_poke(path, last->end_offset - 8, &byte, 1);
    struct test_journal t = { 0 };
    struct test_seen replay = { 0 };
    assert_int_equal(test_journal_open(&t, dir, &p, 0, &replay), 0);
    assert_non_null(strstr(t.report.notes, "torn tail"));
    assert_true(t.report.torn_bytes > 0);
    assert_true(replay.count < RECORDS && replay.count >= RECORDS - 512); /* one batch */
    assert_int_equal(replay.payload_errors, 0);
    assert_int_equal(ubc_journal_next_sequence(t.journal), replay.count + 1);
    ubc_journal_close(t.journal);
    /* The truncation was written: the next open is clean. */
    uint64_t kept = replay.count;
    memset(&replay, 0, sizeof(replay));
    assert_int_equal(test_journal_open(&t, dir, &p, 0, &replay), 0);
    assert_int_equal(t.report.torn_bytes, 0);
    assert_int_equal(replay.count, kept);
    test_journal_destroy(&t);
    test_dir_remove(dir);
}

/* The last segment's header block lost (zeros): torn if its data fits in the
 * window (its first batch was never durable), refused otherwise. */
static void
test_zero_header_last_segment(void **state)
{
    (void)state;
    char dir[256], path[512];
    test_dir_make(dir, sizeof(dir), "zerohdr");
    struct ubc_journal_params p = test_params_small();
    build_journal(dir, &p, RECORDS);
    struct ubc_journal_scan_result r = scan_only(dir);
    assert_int_equal(r.status, 0);
    assert_true(r.segment_count >= 2);
    const struct ubc_journal_scan_segment *last = &work.segments[r.segment_count - 1];
    uint64_t last_first = last->first_sequence;
    /* Torn when every record starts inside the window (measured from offset
     * 0); refused when one surely starts past it; in between, either. */
    int fits = last->end_offset <= r.window_bytes;
    int beyond = last->end_offset > (uint64_t)r.window_bytes + p.batch_bytes_max + 4096;
    segment_path(path, sizeof(path), dir, last->segment_index);
    uint8_t zeros[UBC_JOURNAL_BLOCK_BYTES] = { 0 };
    file_poke(path, 0, zeros, sizeof(zeros));
    if (beyond) {
        expect_refused(dir, &p, "corruption, not a torn tail");
    } else if (fits) {
        struct test_journal t = { 0 };
        struct test_seen replay = { 0 };
        assert_int_equal(test_journal_open(&t, dir, &p, 0, &replay), 0);
        assert_non_null(strstr(t.report.notes, "torn tail"));
        assert_int_equal(replay.count, last_first - 1);
        test_journal_destroy(&t);
    } else {
        struct test_journal t = { 0 };
        struct test_seen replay = { 0 };
        int rc = test_journal_open(&t, dir, &p, 0, &replay);
        assert_true(rc == 0 || rc == -EUCLEAN);
        test_journal_destroy(&t);
    }
    test_dir_remove(dir);
}

static void
test_bit_flip_middle(void **state)
{
    (void)state;
    char dir[256], path[512];
    test_dir_make(dir, sizeof(dir), "flip");
    struct ubc_journal_params p = test_params_small();
    build_journal(dir, &p, RECORDS);
    segment_path(path, sizeof(path), dir, 1);
    file_flip(path, UBC_JOURNAL_BLOCK_BYTES + 200);
    expect_refused(dir, &p, "seg-0000000000000001.ubcj offset 4096");
    expect_repaired(dir, &p, RECORDS);
    test_dir_remove(dir);
}

static void
test_bit_flip_last_segment_far_from_end(void **state)
{
    (void)state;
    char dir[256], path[512];
    test_dir_make(dir, sizeof(dir), "flip-last");
    struct ubc_journal_params p = test_params_small();
    p.segment_bytes = 8u << 20; /* one segment holds everything */
    build_journal(dir, &p, RECORDS);
    segment_path(path, sizeof(path), dir, 0);
    file_flip(path, UBC_JOURNAL_BLOCK_BYTES + 40); /* far more than the window before the end */
    expect_refused(dir, &p, "corruption, not a torn tail");
    test_dir_remove(dir);
}

static void
test_truncated_segment(void **state)
{
    (void)state;
    char dir[256], path[512];
    test_dir_make(dir, sizeof(dir), "trunc");
    struct ubc_journal_params p = test_params_small();
    build_journal(dir, &p, RECORDS);
    segment_path(path, sizeof(path), dir, 1);
    assert_int_equal(truncate(path, 100 * 1024), 0);
    expect_refused(dir, &p, "truncated segment");
    expect_repaired(dir, &p, RECORDS);
    test_dir_remove(dir);
}

static void
test_missing_segment(void **state)
{
    (void)state;
    char dir[256], path[512];
    test_dir_make(dir, sizeof(dir), "missing");
    struct ubc_journal_params p = test_params_small();
    build_journal(dir, &p, RECORDS);
    segment_path(path, sizeof(path), dir, 2);
    assert_int_equal(unlink(path), 0);
    expect_refused(dir, &p, "seg-0000000000000002.ubcj offset 0: missing segment");
    expect_repaired(dir, &p, RECORDS);
    test_dir_remove(dir);
}

static void
test_missing_first_segment(void **state)
{
    (void)state;
    char dir[256], path[512];
    test_dir_make(dir, sizeof(dir), "missing0");
    struct ubc_journal_params p = test_params_small();
    build_journal(dir, &p, RECORDS);
    segment_path(path, sizeof(path), dir, 0);
    assert_int_equal(unlink(path), 0);
    expect_refused(dir, &p, "missing and no snapshot covers them");
    test_dir_remove(dir);
}

static void
test_wrong_magic(void **state)
{
    (void)state;
    char dir[256], path[512];
    test_dir_make(dir, sizeof(dir), "magic");
    struct ubc_journal_params p = test_params_small();
    build_journal(dir, &p, RECORDS);
    segment_path(path, sizeof(path), dir, 0);
    uint32_t magic = 0x12345678;
    file_poke(path, 0, &magic, sizeof(magic));
    expect_refused(dir, &p, "seg-0000000000000000.ubcj offset 0: segment header: wrong magic");
    test_dir_remove(dir);
}

static void
test_wrong_version(void **state)
{
    (void)state;
    char dir[256], path[512];
    test_dir_make(dir, sizeof(dir), "version");
    struct ubc_journal_params p = test_params_small();
    build_journal(dir, &p, RECORDS);
    segment_path(path, sizeof(path), dir, 1);
    uint16_t version = UBC_JOURNAL_VERSION + 1;
    file_poke(path, 4, &version, sizeof(version)); /* segment header version */
    expect_refused(dir, &p, "unsupported version");
    segment_path(path, sizeof(path), dir, 1);
    version = UBC_JOURNAL_VERSION;
    file_poke(path, 4, &version, sizeof(version));
    file_poke(path, UBC_JOURNAL_BLOCK_BYTES + offsetof(struct ubc_journal_record_header, version),
              &(uint16_t){ 7 }, 2); /* first record */
    expect_refused(dir, &p,
                   "seg-0000000000000001.ubcj offset 4096: record at offset 4096: "
                   "unsupported version");
    test_dir_remove(dir);
}

/* A forger rewrites a record with a valid checksum: only the chain sees it. */
static void
test_forged_record_breaks_chain(void **state)
{
    (void)state;
    char dir[256], path[512];
    test_dir_make(dir, sizeof(dir), "forge");
    struct ubc_journal_params p = test_params_small();
    build_journal(dir, &p, RECORDS);
    segment_path(path, sizeof(path), dir, 1);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t record[2048];
    assert_int_equal(pread(fd, record, sizeof(record), UBC_JOURNAL_BLOCK_BYTES),
                     (ssize_t)sizeof(record));
    struct ubc_journal_record_header h;
    assert_int_equal(ubc_journal_record_verify(record, sizeof(record), &h), UBC_JOURNAL_OK);
    assert_true(h.length > 0);
    uint8_t payload[1024];
    memcpy(payload, record + UBC_JOURNAL_RECORD_HEADER_BYTES, h.length);
    payload[0] ^= 0xff;
    uint32_t bytes = ubc_journal_record_encode(record, h.type, h.sequence, payload, h.length);
    assert_int_equal(pwrite(fd, record, bytes, UBC_JOURNAL_BLOCK_BYTES), (ssize_t)bytes);
    close(fd);
    expect_refused(dir, &p, "chain hash mismatch");
    test_dir_remove(dir);
}

static void
test_corrupt_snapshot_with_retired_segments(void **state)
{
    (void)state;
    char dir[256], path[512];
    test_dir_make(dir, sizeof(dir), "snapbad");
    struct ubc_journal_params p = test_params_small();
    struct test_journal t = { 0 };
    struct test_seen replay = { 0 };
    assert_int_equal(test_journal_open(&t, dir, &p, 0, &replay), 0);
    struct test_seen durable = { 0 };
    for (uint64_t i = 1; i <= RECORDS; i++)
        assert_true(test_append(&t, &durable) > 0);
    assert_int_equal(ubc_journal_flush(t.journal, test_seen_durable, &durable), 0);
    uint64_t covered = ubc_journal_durable_sequence(t.journal);
    assert_int_equal(ubc_journal_snapshot_write(t.journal, covered, "state", 5), 0);
    test_journal_destroy(&t);
    char name[UBC_JOURNAL_NAME_BYTES];
    ubc_journal_snapshot_name(name, covered);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    file_flip(path, UBC_JOURNAL_BLOCK_BYTES + 1); /* the blob */
    expect_refused(dir, &p, "no snapshot covers them");
    test_dir_remove(dir);
}

/* A journal whose live segments are recycled files: appends with a
 * snapshot of everything every 200 records (but the last live_tail) retire
 * segments into the pool, and later segments reuse them. Returns the last
 * sequence written. */
static uint64_t
build_recycled_journal(const char *dir, const struct ubc_journal_params *p, uint64_t live_tail)
{
    struct test_journal t = { 0 };
    struct test_seen replay = { 0 };
    assert_int_equal(test_journal_open(&t, dir, p, 0, &replay), 0);
    struct test_seen durable = { 0 };
    for (uint64_t i = 1; i <= RECORDS; i++) {
        assert_true(test_append(&t, &durable) > 0);
        if (i % 13 == 0)
            ubc_journal_poll(t.journal, ubc_time_monotonic_ns(), test_seen_durable, &durable);
        if (i % 200 == 0 && i + live_tail < RECORDS) { /* live_tail records stay live */
            assert_int_equal(ubc_journal_flush(t.journal, test_seen_durable, &durable), 0);
            uint64_t covered = ubc_journal_durable_sequence(t.journal);
            assert_int_equal(ubc_journal_snapshot_write(t.journal, covered, "s", 1), 0);
        }
    }
    assert_int_equal(ubc_journal_flush(t.journal, test_seen_durable, &durable), 0);
    struct ubc_journal_stats stats;
    ubc_journal_stats_get(t.journal, &stats);
    assert_true(stats.segments_recycled >= 2);
    test_journal_destroy(&t);
    return RECORDS;
}

/* Whether a live segment has non-zero bytes after its data: stale batches of
 * the file's earlier life (the case the recovery rules must accept). */
static int
live_segment_with_stale_tail(const char *dir, const struct ubc_journal_scan_result *r,
                             uint32_t *which)
{
    for (uint32_t i = 0; i < r->segment_count; i++) {
        char path[512];
        segment_path(path, sizeof(path), dir, work.segments[i].segment_index);
        int fd = open(path, O_RDONLY);
        uint8_t block[UBC_JOURNAL_BLOCK_BYTES];
        ssize_t got;
        for (uint64_t at = work.segments[i].end_offset;
             (got = pread(fd, block, sizeof(block), (off_t)at)) > 0; at += (uint64_t)got)
            if (!ubc_journal_is_zero(block, (size_t)got)) {
                close(fd);
                *which = i;
                return 1;
            }
        close(fd);
    }
    return 0;
}

/* Recycled files: a clean end followed by the file's earlier batches is an
 * end, not a torn tail: every record comes back, nothing is counted torn. */
static void
test_recycled_clean_end(void **state)
{
    (void)state;
    char dir[256];
    test_dir_make(dir, sizeof(dir), "recycled");
    struct ubc_journal_params p = test_params_small();
    p.recycle_segments = 1;
    /* Batch sizes follow the disk's timing (group commit), so whether the
     * last file's earlier life reaches past this life's end varies: build
     * until it does (almost always at once). */
    struct ubc_journal_scan_result r;
    uint32_t stale = 0;
    for (int attempt = 0;; attempt++) {
        assert_true(attempt < 20);
        test_dir_remove(dir);
        test_dir_make(dir, sizeof(dir), "recycled");
        build_recycled_journal(dir, &p, 100); /* the pool stays full: the last file is reused */
        r = scan_only(dir);
        assert_int_equal(r.status, 0);
        if (live_segment_with_stale_tail(dir, &r, &stale))
            break;
    }
    struct test_journal t = { 0 };
    struct test_seen replay = { 0 };
    assert_int_equal(test_journal_open(&t, dir, &p, 0, &replay), 0);
    if (t.report.torn_bytes != 0)
        fail_msg("a torn tail reported: %s", t.report.notes);
    assert_int_equal(t.report.torn_records, 0);
    assert_null(strstr(t.report.notes, "torn tail"));
    assert_int_equal(replay.last_sequence, RECORDS);
    assert_int_equal(replay.payload_errors, 0);
    ubc_journal_close(t.journal);
    /* Whatever followed the end was cleared or was the file's earlier life
     * right there: the next open has nothing to say. */
    memset(&replay, 0, sizeof(replay));
    assert_int_equal(test_journal_open(&t, dir, &p, 0, &replay), 0);
    assert_int_equal(t.report.notes[0], '\0');
    assert_int_equal(replay.last_sequence, RECORDS);
    test_journal_destroy(&t);
    test_dir_remove(dir);
}

/* Damage to the last batch of a recycled segment that is not the last: the
 * bytes there read like any stale tail, but the next segment does not
 * continue from the shortened end: refused, naming the damaged segment. */
static void
test_recycled_damage_before_roll(void **state)
{
    (void)state;
    char dir[256], path[512], want[96];
    test_dir_make(dir, sizeof(dir), "recycled-flip");
    struct ubc_journal_params p = test_params_small();
    p.recycle_segments = 1;
    build_recycled_journal(dir, &p, 1200);
    struct ubc_journal_scan_result r = scan_only(dir);
    assert_int_equal(r.status, 0);
    assert_true(r.segment_count >= 2);
    /* The first live segment's last batch: its first record's header. */
    const struct ubc_journal_scan_segment *seg = &work.segments[0];
    segment_path(path, sizeof(path), dir, seg->segment_index);
    uint64_t at = UBC_JOURNAL_BLOCK_BYTES, last_batch = at;
    int fd = open(path, O_RDONLY);
    while (at < seg->end_offset) { /* walk the batches: each ends with a commit record */
        struct ubc_journal_record_header h;
        assert_int_equal(pread(fd, &h, sizeof(h), (off_t)at), (ssize_t)sizeof(h));
        uint64_t next = at + ubc_journal_record_footprint(h.length);
        if (h.type == UBC_JOURNAL_TYPE_COMMIT && next < seg->end_offset)
            last_batch = next;
        at = next;
    }
    close(fd);
    file_flip(path, last_batch + 2); /* the record magic */
    ubc_journal_segment_name(want, seg->segment_index);
    snprintf(want + strlen(want), sizeof(want) - strlen(want), " offset %" PRIu64, last_batch);
    expect_refused(dir, &p, want);
    expect_refused(dir, &p, "does not continue from there");
    test_dir_remove(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_torn_tail),
        cmocka_unit_test(test_zero_header_last_segment),
        cmocka_unit_test(test_bit_flip_middle),
        cmocka_unit_test(test_bit_flip_last_segment_far_from_end),
        cmocka_unit_test(test_truncated_segment),
        cmocka_unit_test(test_missing_segment),
        cmocka_unit_test(test_missing_first_segment),
        cmocka_unit_test(test_wrong_magic),
        cmocka_unit_test(test_wrong_version),
        cmocka_unit_test(test_forged_record_breaks_chain),
        cmocka_unit_test(test_corrupt_snapshot_with_retired_segments),
        cmocka_unit_test(test_recycled_clean_end),
        cmocka_unit_test(test_recycled_damage_before_roll),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
