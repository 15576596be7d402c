/* test_journal_full.c: a real full disk (a 3 MiB tmpfs mounted for the test).
 *
 * The journal must turn ENOSPC into its read-only state with a reason,
 * refuse appends, lose nothing it reported durable, and reopen on the still
 * full disk. On kernels before 6.6 tmpfs has no O_DIRECT, so this also runs
 * the logged buffered fallback. Needs root (mount); exits 77 (skip) when the mount fails.
 */
#include <inttypes.h>
#include <sys/mount.h>

#include "journal_test_util.h"

static int
check(int condition, const char *what)
{
    if (!condition)
        fprintf(stderr, "FAIL: %s\n", what);
    return condition ? 0 : 1;
}

static int
fill_until_read_only(const char *dir, const struct ubc_journal_params *p, uint64_t *durable_count)
{
    struct test_journal t = { 0 };
    struct test_seen replay = { 0 };
    if (test_journal_open(&t, dir, p, 0, &replay) != 0)
        return check(0, "open on tmpfs");
    struct test_seen durable = { 0 };
    int64_t rc = 0;
    for (uint64_t i = 0; i < 10000000 && rc >= 0; i++) {
        rc = test_append(&t, &durable);
        if (i % 17 == 0)
            ubc_journal_poll(t.journal, ubc_time_monotonic_ns(), test_seen_durable, &durable);
    }
    int failures = check(rc == -UBC_ERR_READ_ONLY, "appends end with READ_ONLY");
    ubc_journal_flush(t.journal, test_seen_durable, &durable);
    failures += check(ubc_journal_read_only(t.journal) == ENOSPC, "read-only because of ENOSPC");
    const char *reason = ubc_journal_read_only_reason(t.journal);
    failures += check(strstr(reason, "No space left") != NULL, "reason names the cause");
    struct ubc_journal_stats stats;
    ubc_journal_stats_get(t.journal, &stats);
    /* tmpfs takes O_DIRECT since Linux 6.6; older kernels run the fallback. */
    printf("O_DIRECT on tmpfs: %s\n", stats.direct_io ? "yes" : "no (buffered fallback)");
    failures += check(durable.count > 1000 && durable.out_of_order == 0, "durable before full");
    printf("full disk: %" PRIu64 " durable, %" PRIu64 " refused; %s\n", durable.count,
           durable.failed, reason);
    *durable_count = durable.count;
    test_journal_destroy(&t);
    return failures;
}

int
main(void)
{
    char dir[256];
    test_dir_make(dir, sizeof(dir), "full");
    if (mount("tmpfs", dir, "tmpfs", 0, "size=3m") != 0) {
        perror("mount tmpfs (skipping)");
        rmdir(dir);
        return 77;
    }
    struct ubc_journal_params p = test_params_small();
    p.segment_bytes = 512u * 1024;
    uint64_t durable_count = 0;
    int failures = fill_until_read_only(dir, &p, &durable_count);
    /* Reopen on the still full disk: everything durable is there. */
    struct test_journal t = { 0 };
    struct test_seen replay = { 0 };
    int rc = test_journal_open(&t, dir, &p, 0, &replay);
    failures += check(rc == 0, "reopen on the full disk");
    failures += check(replay.count >= durable_count, "every durable record replayed");
    failures += check(replay.payload_errors == 0 && replay.out_of_order == 0, "records intact");
    printf("reopen: %" PRIu64 " records replayed (%s)\n", replay.count,
           rc == 0 ? "ok" : t.report.message);
    test_journal_destroy(&t);
    umount2(dir, MNT_DETACH);
    rmdir(dir);
    printf("%s\n", failures == 0 ? "PASS" : "FAIL");
    return failures == 0 ? 0 : 1;
}
