/* test_journal_tool.c: ubc-journal's exit codes and messages.
 * usage: test_journal_tool PATH_TO_UBC_JOURNAL. Exit 0 pass, 1 fail. */
#include <sys/wait.h>

#include "journal_test_util.h"

static int failures;

/* Runs the tool; returns its exit status and its output (stdout + stderr). */
static int
run_tool(const char *tool, const char *command, const char *dir, char *output, size_t bytes)
{
    char line[1024];
    const char *extra = strcmp(command, "dump") == 0 ? "--from 2998 --limit 3" : "";
    snprintf(line, sizeof(line), "'%s' %s '%s' %s 2>&1", tool, command, dir, extra);
    FILE *pipe = popen(line, "r");
    if (pipe == NULL)
        return -1;
    size_t used = fread(output, 1, bytes - 1, pipe);
    output[used] = '\0';
    int status = pclose(pipe);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void
expect(const char *tool, const char *command, const char *dir, int status, const char *text)
{
    char output[8192];
    int got = run_tool(tool, command, dir, output, sizeof(output));
    if (got != status || strstr(output, text) == NULL) {
        fprintf(stderr, "FAIL: ubc-journal %s: status %d (want %d), output lacks '%s':\n%s\n",
                command, got, status, text, output);
        failures++;
    }
}

static void
build_journal(const char *dir)
{
    struct ubc_journal_params p = test_params_small();
    struct test_journal t = { 0 };
    struct test_seen replay = { 0 }, durable = { 0 };
    if (test_journal_open(&t, dir, &p, 0, &replay) != 0)
        exit(1);
    for (int i = 0; i < 2000; i++)
        if (test_append(&t, &durable) < 0)
            exit(1);
    ubc_journal_flush(t.journal, NULL, NULL);
    uint64_t covered = ubc_journal_durable_sequence(t.journal);
    if (ubc_journal_snapshot_write(t.journal, covered, "state", 5) != 0)
        exit(1);
    for (int i = 0; i < 1000; i++) /* far more than the torn-tail window */
        if (test_append(&t, &durable) < 0)
            exit(1);
    ubc_journal_flush(t.journal, NULL, NULL);
    test_journal_destroy(&t);
}

int
main(int argc, char **argv)
{
    if (argc < 2)
        return 1;
    const char *tool = argv[1];
    char dir[256];
    test_dir_make(dir, sizeof(dir), "tool");
    build_journal(dir);
    expect(tool, "verify", dir, 0, "next_sequence 3001");
    expect(tool, "stats", dir, 0, "type 1 records");
    expect(tool, "dump", dir, 0, "seq 3000 type");
    expect(tool, "check-snapshot", dir, 0, "chain matches the journal");
    expect(tool, "nonsense", dir, 2, "usage");
    expect(tool, "verify", "/nonexistent-ubc-dir", 2, "error");
    /* A flipped byte in the first segment: corruption, named, exit 1. */
    struct ubc_journal_scan_work *work = calloc(1, sizeof(*work));
    struct ubc_journal_scan_params params = { .dir = dir, .window_bytes_default = 1u << 20 };
    struct ubc_journal_scan_result r;
    ubc_journal_scan(&params, work, &r);
    char path[512], name[UBC_JOURNAL_NAME_BYTES];
    ubc_journal_segment_name(name, work->segments[0].segment_index);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    free(work);
    int fd = open(path, O_RDWR);
    uint8_t byte = 0xA5;
    if (fd < 0 || pwrite(fd, &byte, 1, UBC_JOURNAL_BLOCK_BYTES + 40) != 1)
        return 1;
    close(fd);
    expect(tool, "verify", dir, 1, "CORRUPT: seg-");
    expect(tool, "repair", dir, 0, "repair:");
    expect(tool, "verify", dir, 0, "segments");
    test_dir_remove(dir);
    printf("%s\n", failures == 0 ? "PASS" : "FAIL");
    return failures == 0 ? 0 : 1;
}
