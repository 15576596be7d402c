/* test_journal_scan_fuzz.c: recovery never crashes on damaged files.
 *
 * usage: test_journal_scan_fuzz [iterations] [seed]
 * Builds a small journal once, then, per iteration, copies it, damages the
 * copy at random (byte flips, zeroed ranges, truncation, garbage headers,
 * deleted or duplicated files) and scans it read-only, then with repair.
 * The scan must return 0 or -EUCLEAN (never crash: run it under ASan), a
 * refusal must name a file, and a repaired journal must scan clean.
 * Exit 0 pass, 1 fail.
 */
#include <inttypes.h>

#include "journal_test_util.h"

static struct ubc_journal_scan_work work;

static void
copy_dir(const char *from, const char *to)
{
    DIR *d = opendir(from);
    struct dirent *e;
    static uint8_t buffer[1u << 20];
    char source[512], target[512];
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(source, sizeof(source), "%s/%s", from, e->d_name);
        snprintf(target, sizeof(target), "%s/%s", to, e->d_name);
        int in = open(source, O_RDONLY);
        int out = open(target, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ssize_t got;
        while (in >= 0 && out >= 0 && (got = read(in, buffer, sizeof(buffer))) > 0)
            if (write(out, buffer, (size_t)got) != got)
                break;
        close(in);
        close(out);
    }
    if (d != NULL)
        closedir(d);
}

/* One random kind of damage to one random segment of dir. */
static void
damage(const char *dir, uint32_t segments, uint64_t *rng)
{
    char name[UBC_JOURNAL_NAME_BYTES], path[512];
    ubc_journal_segment_name(name, test_rng_next(rng) % segments);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_RDWR);
    if (fd < 0)
        return;
    struct stat st;
    fstat(fd, &st);
    uint64_t size = (uint64_t)st.st_size;
    if (size == 0) {
        close(fd);
        return;
    }
    uint64_t kind = test_rng_next(rng) % 6;
    uint64_t hot = test_rng_next(rng) % 2 ? 100000 : size; /* mostly where data is */
    uint64_t offset = test_rng_next(rng) % (hot < size ? hot : size);
    uint8_t bytes[4096];
    for (size_t i = 0; i < sizeof(bytes); i++)
        bytes[i] = (uint8_t)test_rng_next(rng);
    if (kind == 0) { /* a flipped byte */
        uint8_t b;
        if (pread(fd, &b, 1, (off_t)offset) == 1) {
            b ^= (uint8_t)(1u << (test_rng_next(rng) % 8));
            (void)!pwrite(fd, &b, 1, (off_t)offset);
        }
    } else if (kind == 1) { /* a zeroed range */
        memset(bytes, 0, sizeof(bytes));
        (void)!pwrite(fd, bytes, 1 + test_rng_next(rng) % sizeof(bytes), (off_t)offset);
    } else if (kind == 2) { /* garbage */
        (void)!pwrite(fd, bytes, 1 + test_rng_next(rng) % 64, (off_t)offset);
    } else if (kind == 3) { /* truncated */
        (void)!ftruncate(fd, (off_t)offset);
    } else if (kind == 4) { /* a wild length in a record-aligned spot */
        uint32_t length = (uint32_t)test_rng_next(rng);
        (void)!pwrite(fd, &length, 4, (off_t)((offset & ~7ull) + 8));
    } else { /* the file is gone */
        unlink(path);
    }
    close(fd);
}

static int
scan(const char *dir, uint32_t flags, struct ubc_journal_scan_result *r)
{
    struct ubc_journal_scan_params params = { .dir = dir,
                                              .flags = flags,
                                              .window_bytes_default = 1u << 20 };
    return ubc_journal_scan(&params, &work, r);
}

static int
fuzz_one(const char *pristine, const char *scratch, uint32_t segments, uint64_t *rng)
{
    test_dir_remove(scratch);
    mkdir(scratch, 0755);
    copy_dir(pristine, scratch);
    uint32_t hits = 1 + (uint32_t)(test_rng_next(rng) % 3);
    for (uint32_t i = 0; i < hits; i++)
        damage(scratch, segments, rng);
    struct ubc_journal_scan_result r;
    int rc = scan(scratch, 0, &r);
    if (rc != 0 && rc != -EUCLEAN) {
        fprintf(stderr, "read-only scan returned %d: %s\n", rc, r.message);
        return 1;
    }
    if (rc == -EUCLEAN && strstr(r.message, ".ubc") == NULL) {
        fprintf(stderr, "refusal names no file: %s\n", r.message);
        return 1;
    }
    rc = scan(scratch, UBC_JOURNAL_SCAN_WRITE | UBC_JOURNAL_SCAN_REPAIR, &r);
    if (rc != 0) {
        fprintf(stderr, "repair failed: %d %s\n", rc, r.message);
        return 1;
    }
    rc = scan(scratch, 0, &r);
    if (rc != 0 || r.torn_bytes != 0) {
        fprintf(stderr, "repaired journal not clean: %d %s %s\n", rc, r.message, r.notes);
        return 1;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    uint32_t iterations = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 200;
    uint64_t rng = argc > 2 ? strtoull(argv[2], NULL, 10) : 0xfa11;
    printf("scan fuzz: %u iterations, seed %" PRIu64 "\n", iterations, rng);
    rng |= 1;
    char pristine[256], scratch[256];
    test_dir_make(pristine, sizeof(pristine), "fuzz");
    test_dir_make(scratch, sizeof(scratch), "fuzz-scratch");
    struct ubc_journal_params p = test_params_small();
    p.segment_bytes = 64u * 1024;
    struct test_journal t = { 0 };
    struct test_seen replay = { 0 }, durable = { 0 };
    if (test_journal_open(&t, pristine, &p, 0, &replay) != 0)
        return 1;
    for (int i = 0; i < 400; i++)
        if (test_append(&t, &durable) < 0)
            return 1;
    ubc_journal_flush(t.journal, NULL, NULL);
    test_journal_destroy(&t);
    struct ubc_journal_scan_result r;
    if (scan(pristine, UBC_JOURNAL_SCAN_WRITE, &r) != 0 || r.segment_count < 3)
        return 1;
    uint32_t segments = r.segment_count;
    int failed = 0;
    for (uint32_t i = 0; i < iterations && !failed; i++)
        failed = fuzz_one(pristine, scratch, segments, &rng);
    test_dir_remove(scratch);
    test_dir_remove(pristine);
    printf("%s\n", failed ? "FAIL" : "PASS");
    return failed;
}
