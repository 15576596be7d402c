/* ubc-journal: inspect a UBC journal directory (docs/storage-format.md).
 *
 *   ubc-journal verify DIR          checksums, sequences and the chain, end to end
 *   ubc-journal dump DIR [--from S] [--limit N]   one line per record
 *   ubc-journal stats DIR           counts per type, sizes, segments, snapshot
 *   ubc-journal check-snapshot DIR  every snapshot file, and the newest against the chain
 *   ubc-journal repair DIR          truncate at the first corruption (says what it drops)
 *   ubc-journal audit DIR [--every N] [--json] [--accounts-max N] [--escrows-max N]
 *                         [--archive DIR]
 *                                   replay a ledger journal (<data>/ledger) from genesis,
 *                                   checking every batch's results and state hash
 *
 * Exit status: 0 valid (a torn tail is reported but is not corruption),
 * 1 corruption found, 2 usage or I/O error. Read-only except `repair`.
 * A single-threaded command-line tool; it maps files and may allocate.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/ubc_journal_format.h"
#include "storage/ubc_journal_scan.h"
#include "tools/ubc_journal_audit.h"

#define TYPES_TRACKED 256u

struct tool {
    uint64_t from;
    uint64_t limit;
    uint64_t printed;
    uint64_t type_counts[TYPES_TRACKED];
    uint64_t type_other;
    uint64_t payload_bytes;
    uint64_t payload_bytes_max;
};

static struct ubc_journal_scan_work scan_work;

static void
dump_record(void *ctx, uint64_t sequence, uint16_t type, const void *payload, uint32_t length)
{
    struct tool *t = ctx;
    if (sequence < t->from || t->printed >= t->limit)
        return;
    t->printed++;
    printf("seq %" PRIu64 " type %u length %u payload ", sequence, type, length);
    const uint8_t *p = payload;
    for (uint32_t i = 0; i < length && i < 16; i++)
        printf("%02x", p[i]);
    printf("%s\n", length > 16 ? "..." : "");
}

static void
stats_record(void *ctx, uint64_t sequence, uint16_t type, const void *payload, uint32_t length)
{
    struct tool *t = ctx;
    (void)sequence;
    (void)payload;
    if (type < TYPES_TRACKED)
        t->type_counts[type]++;
    else
        t->type_other++;
    t->payload_bytes += length;
    if (length > t->payload_bytes_max)
        t->payload_bytes_max = length;
}

static void
print_hex(const char *label, const uint8_t *bytes, size_t count)
{
    printf("%s", label);
    for (size_t i = 0; i < count; i++)
        printf("%02x", bytes[i]);
    printf("\n");
}

static int
run_scan(const char *dir, uint32_t flags, ubc_journal_record_fn record, struct tool *t,
         struct ubc_journal_scan_result *r)
{
    struct ubc_journal_scan_params params = {
        .dir = dir,
        .flags = flags,
        .window_bytes_default = 64u << 20,
        .record_callback = record,
        .ctx = t,
    };
    int rc = ubc_journal_scan(&params, &scan_work, r);
    if (r->notes[0] != '\0')
        fprintf(stderr, "ubc-journal: note: %s\n", r->notes);
    if (rc == -EUCLEAN) {
        fprintf(stderr, "ubc-journal: CORRUPT: %s\n", r->message);
        return 1;
    }
    if (rc != 0) {
        fprintf(stderr, "ubc-journal: error: %s\n", r->message);
        return 2;
    }
    return 0;
}

static void
print_summary(const struct ubc_journal_scan_result *r)
{
    printf("segments %u records %" PRIu64 " batches %" PRIu64 " bytes %" PRIu64
           " next_sequence %" PRIu64 "\n",
           r->segment_count, r->records, r->batches, r->bytes, r->next_sequence);
    if (r->snapshot_found)
        printf("snapshot sequence %" PRIu64 " (chain verified against the journal)\n",
               r->snapshot_sequence);
    if (r->torn_bytes > 0)
        printf("torn tail: %" PRIu64 " bytes, %" PRIu64 " unacknowledged records past it\n",
               r->torn_bytes, r->torn_records);
    print_hex("chain ", r->chain, UBC_JOURNAL_CHAIN_BYTES);
}

static int
check_snapshot_file(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        fprintf(stderr, "ubc-journal: %s: %s\n", path, strerror(errno));
        return 2;
    }
    uint64_t size = (uint64_t)st.st_size;
    void *map = size > 0 ? mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
    close(fd);
    if (map == MAP_FAILED || size < UBC_JOURNAL_BLOCK_BYTES) {
        fprintf(stderr, "ubc-journal: CORRUPT: %s offset 0: too short for a snapshot\n", path);
        if (map != MAP_FAILED)
            munmap(map, size);
        return 1;
    }
    struct ubc_journal_snapshot_header h;
    enum ubc_journal_verdict v = ubc_journal_snapshot_header_verify(map, &h);
    int status = 0;
    if (v != UBC_JOURNAL_OK) {
        fprintf(stderr, "ubc-journal: CORRUPT: %s offset 0: header %s\n", path,
                ubc_journal_verdict_text(v));
        status = 1;
    } else if (h.blob_bytes != size - UBC_JOURNAL_BLOCK_BYTES ||
               ubc_journal_hash64((uint8_t *)map + UBC_JOURNAL_BLOCK_BYTES, h.blob_bytes) !=
                   h.blob_checksum) {
        fprintf(stderr, "ubc-journal: CORRUPT: %s offset %u: blob size or checksum mismatch\n",
                path, UBC_JOURNAL_BLOCK_BYTES);
        status = 1;
    } else {
        printf("%s: sequence %" PRIu64 " blob %" PRIu64 " bytes, checksum ok\n", name, h.sequence,
               h.blob_bytes);
    }
    munmap(map, size);
    return status;
}

static int
check_snapshots(const char *dir, struct tool *t)
{
    struct ubc_journal_scan_result r;
    int status = run_scan(dir, 0, NULL, t, &r);
    if (status == 2)
        return 2;
    int files = 0;
    for (uint32_t i = 0; i < UBC_JOURNAL_SNAPSHOTS_MAX; i++) {
        uint64_t sequence = scan_work.snapshot_sequences[i];
        if (sequence == 0)
            break;
        char name[UBC_JOURNAL_NAME_BYTES];
        ubc_journal_snapshot_name(name, sequence);
        int file_status = check_snapshot_file(dir, name);
        status = file_status > status ? file_status : status;
        files++;
    }
    if (files == 0)
        printf("no snapshot\n");
    else if (r.snapshot_found && status == 0)
        printf("newest valid snapshot %" PRIu64 ": chain matches the journal\n",
               r.snapshot_sequence);
    return status;
}

static int
usage(void)
{
    fprintf(stderr, "usage: ubc-journal verify|dump|stats|check-snapshot|repair DIR "
                    "[--from SEQ] [--limit N]\n"
                    "       ubc-journal audit DIR [--every N] [--json] [--accounts-max N] "
                    "[--escrows-max N] [--archive DIR]\n");
    return 2;
}

static int
audit_main(const char *dir, int argc, char **argv)
{
    struct ubc_journal_audit_options options = { .every = 1000 };
    for (int i = 0; i < argc; i++) {
        bool has_value = i + 1 < argc;
        if (strcmp(argv[i], "--json") == 0)
            options.json = true;
        else if (strcmp(argv[i], "--every") == 0 && has_value)
            options.every = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--accounts-max") == 0 && has_value)
            options.accounts_max = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--escrows-max") == 0 && has_value)
            options.escrows_max = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--archive") == 0 && has_value)
            options.archive = argv[++i];
        else
            return usage();
    }
    return ubc_journal_audit(dir, &options);
}

int
main(int argc, char **argv)
{
    if (argc < 3)
        return usage();
    const char *command = argv[1];
    const char *dir = argv[2];
    if (strcmp(command, "audit") == 0)
        return audit_main(dir, argc - 3, argv + 3);
    static struct tool t;
    t.limit = UINT64_MAX;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--from") == 0)
            t.from = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--limit") == 0)
            t.limit = strtoull(argv[i + 1], NULL, 10);
        else
            return usage();
    }
    struct ubc_journal_scan_result r;
    int status;
    if (strcmp(command, "verify") == 0) {
        status = run_scan(dir, 0, NULL, &t, &r);
        if (status == 0)
            print_summary(&r);
    } else if (strcmp(command, "dump") == 0) {
        status = run_scan(dir, 0, dump_record, &t, &r);
    } else if (strcmp(command, "stats") == 0) {
        status = run_scan(dir, 0, stats_record, &t, &r);
        if (status == 0) {
            print_summary(&r);
            printf("replayed %" PRIu64 " payload_bytes %" PRIu64 " payload_bytes_max %" PRIu64
                   " records_per_batch %.1f\n",
                   r.replayed_records, t.payload_bytes, t.payload_bytes_max,
                   r.batches ? (double)r.records / (double)r.batches : 0.0);
            for (uint32_t type = 0; type < TYPES_TRACKED; type++)
                if (t.type_counts[type] > 0)
                    printf("type %u records %" PRIu64 "\n", type, t.type_counts[type]);
            if (t.type_other > 0)
                printf("type >=%u records %" PRIu64 "\n", TYPES_TRACKED, t.type_other);
        }
    } else if (strcmp(command, "check-snapshot") == 0) {
        status = check_snapshots(dir, &t);
    } else if (strcmp(command, "repair") == 0) {
        status = run_scan(dir, UBC_JOURNAL_SCAN_WRITE | UBC_JOURNAL_SCAN_REPAIR, NULL, &t, &r);
        if (status == 0)
            print_summary(&r);
    } else {
        return usage();
    }
    return status;
}
