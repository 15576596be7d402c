/* ubc_journal_audit.c: replay a ledger journal from genesis (see ubc_journal_audit.h). */
#include "tools/ubc_journal_audit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ledger/ubc_ledger.h"
#include "node/ubc_records.h"
#include "storage/ubc_journal_scan.h"

struct audit {
    uint64_t every;
    bool json;
    uint32_t accounts_max;
    uint32_t escrows_max;
    struct ubc_ledger *ledger;
    void *ledger_memory;
    uint8_t *record; /* 8-byte aligned copy of the record being replayed */
    size_t record_cap;
    uint16_t results[UBC_LEDGER_BATCH_MAX];
    uint64_t batches;
    uint64_t ops;
    uint64_t sequence;
    struct ubc_ledger_audit last;
    char failure[256]; /* the first divergence or malformed record */
};

static void
audit_hex(char *out, const uint8_t *bytes, size_t count)
{
    for (size_t i = 0; i < count; i++)
        sprintf(out + 2 * i, "%02x", bytes[i]);
}

static void
audit_fail(struct audit *a, uint64_t sequence, const char *what)
{
    if (a->failure[0] == '\0')
        snprintf(a->failure, sizeof(a->failure), "record %" PRIu64 " (batch %" PRIu64 "): %s",
                 sequence, a->batches, what);
}

static void
audit_genesis(struct audit *a, uint64_t sequence, const void *payload, uint32_t length)
{
    static struct ubc_ledger_genesis_storage storage;
    struct ubc_ledger_config config;
    if (a->ledger != NULL || ubc_ledger_genesis_record_parse(payload, length, &config, &storage)) {
        audit_fail(a, sequence, "a second or malformed genesis record");
        return;
    }
    if (a->accounts_max > config.accounts_max)
        config.accounts_max = config.unbonding_max = a->accounts_max;
    if (a->escrows_max > config.escrows_max)
        config.escrows_max = a->escrows_max;
    size_t footprint = ubc_ledger_footprint(&config);
    a->ledger_memory =
        footprint ? aligned_alloc(ubc_ledger_align(), (footprint + ubc_ledger_align() - 1) /
                                                          ubc_ledger_align() * ubc_ledger_align())
                  : NULL;
    if (a->ledger_memory != NULL)
        a->ledger = ubc_ledger_join(ubc_ledger_new(a->ledger_memory, &config));
    if (a->ledger == NULL)
        audit_fail(a, sequence, "the genesis config does not make a ledger");
}

static void
audit_checkpoint(const struct audit *a, const char *what)
{
    uint8_t digest[UBC_LEDGER_CHECKPOINT_BYTES];
    ubc_ledger_checkpoint_digest(a->ledger, digest);
    char state[2 * UBC_LEDGER_HASH_BYTES + 1], whole[2 * UBC_LEDGER_CHECKPOINT_BYTES + 1];
    audit_hex(state, a->last.state_hash, UBC_LEDGER_HASH_BYTES);
    audit_hex(whole, digest, UBC_LEDGER_CHECKPOINT_BYTES);
    if (a->json)
        printf("{\"%s\":true,\"batch\":%" PRIu64 ",\"height\":%" PRIu64 ",\"ops\":%" PRIu64
               ",\"state_hash\":\"%s\",\"checkpoint_digest\":\"%s\"}\n",
               what, a->batches, ubc_ledger_height(a->ledger), a->ops, state, whole);
    else
        printf("%s batch %" PRIu64 " height %" PRIu64 " ops %" PRIu64 " state_hash %s digest %s\n",
               what, a->batches, ubc_ledger_height(a->ledger), a->ops, state, whole);
}

static void
audit_record(void *ctx, uint64_t sequence, uint16_t type, const void *payload, uint32_t length)
{
    struct audit *a = ctx;
    if (a->failure[0] != '\0')
        return;
    a->sequence = sequence;
    if (type == UBC_RECORD_LEDGER_GENESIS) {
        audit_genesis(a, sequence, payload, length);
        return;
    }
    if (type != UBC_RECORD_LEDGER_BATCH || a->ledger == NULL) {
        audit_fail(a, sequence, "not a ledger batch after a genesis record");
        return;
    }
    if (length > a->record_cap) {
        free(a->record);
        a->record_cap = length;
        a->record = aligned_alloc(64, (length + 63) & ~(size_t)63);
    }
    memcpy(a->record, payload, length);
    struct ubc_ledger_audit journaled;
    int rc = ubc_ledger_replay(a->ledger, a->record, length, a->results, &journaled);
    if (rc != 0) {
        audit_fail(a, sequence,
                   rc == 1 ? "DIVERGES: replaying it gives other results or "
                             "another state hash than the node journaled"
                           : "a malformed batch record");
        return;
    }
    a->last = journaled;
    a->batches++;
    a->ops += journaled.op_count;
    if (a->every != 0 && a->batches % a->every == 0)
        audit_checkpoint(a, "checkpoint");
}

static int
audit_finish(struct audit *a, const struct ubc_journal_scan_result *scan)
{
    if (scan->notes[0] != '\0')
        printf("journal: %s\n", scan->notes); /* a torn tail is not replayed */
    if (scan->status != 0) {
        printf("journal: %s\n", scan->message);
        return 1;
    }
    if (a->failure[0] != '\0') {
        printf("audit FAILED at %s\n", a->failure);
        return 1;
    }
    if (a->ledger == NULL) {
        printf("audit: no genesis record in this journal (is it <data>/ledger?)\n");
        return 1;
    }
    struct ubc_ledger_supply supply;
    ubc_ledger_supply_get(a->ledger, &supply);
    audit_checkpoint(a, "final");
    printf("audit %s: %" PRIu64 " batches, %" PRIu64 " ops replayed from genesis, every result "
           "and state hash matching; supply minted %" PRIu64 " %s\n",
           supply.conserved && supply.scan_matches ? "OK" : "FAILED", a->batches, a->ops,
           supply.minted, supply.conserved && supply.scan_matches ? "conserved" : "NOT conserved");
    return supply.conserved && supply.scan_matches ? 0 : 1;
}

/* Links every segment of src into the directory dst_fd (a later source wins). */
static int
audit_link_segments(const char *src, int dst_fd)
{
    DIR *dir = opendir(src);
    if (dir == NULL)
        return -errno;
    int rc = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL && rc == 0) {
        uint64_t index;
        char path[PATH_MAX], target[PATH_MAX + 300];
        if (ubc_journal_segment_name_parse(entry->d_name, &index) != 0)
            continue;
        if (realpath(src, path) == NULL) {
            rc = -errno;
            break;
        }
        snprintf(target, sizeof(target), "%s/%s", path, entry->d_name);
        unlinkat(dst_fd, entry->d_name, 0);
        if (symlinkat(target, dst_fd, entry->d_name) != 0)
            rc = -errno;
    }
    closedir(dir);
    return rc;
}

/* A temporary directory holding the archive's segments and the live ones. */
static int
audit_union(const char *dir, const char *archive, char *out, size_t cap)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(out, cap, "%s/ubc-audit-XXXXXX", tmp != NULL ? tmp : "/tmp");
    if (mkdtemp(out) == NULL)
        return -errno;
    int fd = open(out, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return -errno;
    int rc = audit_link_segments(archive, fd);
    if (rc == 0)
        rc = audit_link_segments(dir, fd);
    close(fd);
    return rc;
}

static void
audit_union_remove(const char *path)
{
    DIR *dir = opendir(path);
    if (dir == NULL)
        return;
    int fd = dirfd(dir);
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0)
            unlinkat(fd, entry->d_name, 0);
    }
    closedir(dir);
    rmdir(path);
}

/* The archive to read: the one named, or DIR's sibling ledger-archive if present. */
static const char *
audit_archive(const char *dir, const char *named, char *buf, size_t cap)
{
    if (named != NULL)
        return named;
    snprintf(buf, cap, "%s/../ledger-archive", dir);
    struct stat st;
    return stat(buf, &st) == 0 && S_ISDIR(st.st_mode) ? buf : NULL;
}

int
ubc_journal_audit(const char *dir, const struct ubc_journal_audit_options *options)
{
    static struct ubc_journal_scan_work work;
    static struct audit a;
    memset(&a, 0, sizeof(a));
    a.every = options->every;
    a.json = options->json;
    a.accounts_max = options->accounts_max;
    a.escrows_max = options->escrows_max;
    char archive_buf[PATH_MAX], union_dir[PATH_MAX];
    const char *archive = audit_archive(dir, options->archive, archive_buf, sizeof(archive_buf));
    const char *scan_dir = dir;
    union_dir[0] = '\0';
    if (archive != NULL) {
        int rc = audit_union(dir, archive, union_dir, sizeof(union_dir));
        if (rc != 0) {
            fprintf(stderr, "ubc-journal audit: %s + %s: %s\n", archive, dir, strerror(-rc));
            audit_union_remove(union_dir);
            return 2;
        }
        scan_dir = union_dir;
        if (!options->json)
            printf("reading the archive %s and %s\n", archive, dir);
    }
    struct ubc_journal_scan_params params = {
        .dir = scan_dir, .flags = 0, .record_callback = audit_record, .ctx = &a
    };
    struct ubc_journal_scan_result scan;
    int rc = ubc_journal_scan(&params, &work, &scan);
    if (union_dir[0] != '\0')
        audit_union_remove(union_dir);
    if (rc != 0 && rc != -EUCLEAN) {
        fprintf(stderr, "ubc-journal audit: %s: %s\n", dir, strerror(-rc));
        return 2;
    }
    int status = audit_finish(&a, &scan);
    free(a.record);
    free(a.ledger_memory);
    return status;
}
