/* fuzz_replay.c: a main() for the fuzz harnesses in ordinary builds: runs
 * every file of the corpus directories given as arguments through
 * LLVMFuzzerTestOneInput, so the committed corpus is exercised by gcc builds
 * and under ASan/UBSan in suite 'fast'. Exit 0 when every input ran (a
 * violated property aborts), 1 when a directory is unreadable or empty. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define INPUT_MAX (1u << 20)

static int
replay_file(const char *path, uint8_t *buffer)
{
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        fprintf(stderr, "fuzz_replay: cannot open %s\n", path);
        return -1;
    }
    size_t size = fread(buffer, 1, INPUT_MAX, file);
    fclose(file);
    /* An exact-size copy so ASan catches a read one past the input. */
    uint8_t *input = malloc(size ? size : 1);
    if (input == NULL)
        return -1;
    memcpy(input, buffer, size);
    LLVMFuzzerTestOneInput(input, size);
    free(input);
    return 0;
}

static long
replay_directory(const char *directory, uint8_t *buffer)
{
    DIR *dir = opendir(directory);
    if (dir == NULL) {
        fprintf(stderr, "fuzz_replay: cannot open directory %s\n", directory);
        return -1;
    }
    long count = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (entry->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", directory, entry->d_name);
        if (replay_file(path, buffer) != 0) {
            count = -1;
            break;
        }
        count++;
    }
    closedir(dir);
    return count;
}

int
main(int argc, char **argv)
{
    uint8_t *buffer = malloc(INPUT_MAX);
    if (buffer == NULL || argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR...\n", argv[0]);
        return 1;
    }
    long total = 0;
    for (int i = 1; i < argc; i++) {
        long count = replay_directory(argv[i], buffer);
        if (count <= 0) {
            free(buffer);
            return 1;
        }
        total += count;
    }
    free(buffer);
    printf("fuzz_replay: %ld inputs replayed\n", total);
    return 0;
}
