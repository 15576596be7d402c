/* ubcd.c: the UBC node. `ubcd [EAL args] -- [options]`, or just `ubcd
 * [options]` with the EAL arguments taken from the config ([eal] args).
 *
 * The shape is DPDK's examples/l3fwd: arguments, EAL init, ports and pools,
 * launch the lcores, wait, stop, clean up. Start-up runs on the main thread
 * and may allocate; after launch nothing on an lcore allocates.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_launch.h>
#include <rte_lcore.h>

#include "common/ubc_assert.h"
#include "node/ubc_admin_cmds.h"
#include "node/ubc_log.h"
#include "node/ubc_node.h"
#include "node/ubc_roles.h"
#include "node/ubc_start.h"

#define EAL_ARGS_MAX 64

struct ubcd_options {
    const char *config_path;
    const char *data_dir;
    const char *sets[32];
    int set_count;
    int print_config;
    int check_config;
    int reference;
};

static struct ubc_node node_storage;

static void
ubcd_usage(FILE *out)
{
    fprintf(out, "usage: ubcd [EAL arguments --] [options]\n"
                 "  -c, --config FILE       INI config (default: the embedded default)\n"
                 "  -d, --data-dir DIR      overrides node.data_dir\n"
                 "  -s, --set SEC.KEY=VAL   overrides one key (repeatable)\n"
                 "      --print-config      prints the effective config and exits\n"
                 "      --check-config      validates the config and exits\n"
                 "      --config-reference  prints the key reference (Markdown) and exits\n"
                 "  -h, --help              this text\n"
                 "Without EAL arguments before `--`, [eal] args from the config are used.\n"
                 "Docs: docs/operations.md\n");
}

static int
ubcd_parse_options(int argc, char **argv, struct ubcd_options *options)
{
    static const struct option long_options[] = {
        { "config", required_argument, NULL, 'c' }, { "data-dir", required_argument, NULL, 'd' },
        { "set", required_argument, NULL, 's' },    { "print-config", no_argument, NULL, 'P' },
        { "check-config", no_argument, NULL, 'C' }, { "config-reference", no_argument, NULL, 'R' },
        { "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 },
    };
    memset(options, 0, sizeof(*options));
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "c:d:s:h", long_options, NULL)) != -1) {
        switch (c) {
        case 'c': options->config_path = optarg; break;
        case 'd': options->data_dir = optarg; break;
        case 's':
            if (options->set_count >= (int)UBC_ARRAY_SIZE(options->sets)) {
                fprintf(stderr, "ubcd: too many --set options (32 at most)\n");
                return -1;
            }
            options->sets[options->set_count++] = optarg;
            break;
        case 'P': options->print_config = 1; break;
        case 'C': options->check_config = 1; break;
        case 'R': options->reference = 1; break;
        case 'h': ubcd_usage(stdout); exit(0);
        default: ubcd_usage(stderr); return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ubcd: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    return 0;
}

static int
ubcd_load_config(const struct ubcd_options *options, struct ubc_config *config)
{
    char error[UBC_CONFIG_ERROR_MAX];
    ubc_config_defaults(config);
    int rc = options->config_path
                 ? ubc_config_load_file(config, options->config_path, error, sizeof(error))
                 : ubc_config_load_string(config, ubc_config_embedded, "(embedded default)", error,
                                          sizeof(error));
    for (int i = 0; rc == 0 && i < options->set_count; i++)
        rc = ubc_config_set(config, options->sets[i], error, sizeof(error));
    if (rc == 0 && options->data_dir != NULL) {
        if (strlen(options->data_dir) >= sizeof(config->data_dir)) {
            snprintf(error, sizeof(error), "--data-dir: path too long");
            rc = -1;
        } else {
            snprintf(config->data_dir, sizeof(config->data_dir), "%s", options->data_dir);
        }
    }
    if (rc == 0)
        rc = ubc_config_finish(config, error, sizeof(error));
    if (rc != 0)
        fprintf(stderr, "ubcd: config error: %s\n", error);
    return rc;
}

/* Splits [eal] args on blanks into argv form (no quoting: EAL arguments
 * have no spaces in practice; documented in docs/operations.md). */
static int
ubcd_split_eal_args(char *text, char **eal_argv, int eal_argv_max)
{
    int count = 1; /* eal_argv[0] is the program name */
    for (char *save = NULL, *token = strtok_r(text, " \t", &save); token != NULL;
         token = strtok_r(NULL, " \t", &save)) {
        if (count >= eal_argv_max - 1)
            return -1;
        eal_argv[count++] = token;
    }
    eal_argv[count] = NULL;
    return count;
}

static void
ubcd_signal(int signum)
{
    (void)signum;
    __atomic_store_n(&node_storage.stop, 1, __ATOMIC_RELEASE); /* lock-free: signal-safe */
}

static int
ubcd_find_dashdash(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return i;
    }
    return -1;
}

/* Handles the options that print and exit. Returns 1 when done. */
static int
ubcd_informational(const struct ubcd_options *options, const struct ubc_config *config)
{
    if (options->reference) {
        ubc_config_print_reference(stdout);
        return 1;
    }
    if (options->print_config) {
        ubc_config_print(config, stdout);
        return 1;
    }
    if (options->check_config) {
        printf("ubcd: config ok\n");
        return 1;
    }
    return 0;
}

static int
ubcd_eal_init(char **argv, int dashdash, struct ubc_config *config)
{
    static char *eal_argv[EAL_ARGS_MAX];
    int eal_argc;
    if (dashdash > 0) {
        eal_argc = dashdash;
        for (int i = 0; i < eal_argc && i < EAL_ARGS_MAX - 1; i++)
            eal_argv[i] = argv[i];
    } else {
        eal_argv[0] = argv[0];
        eal_argc = ubcd_split_eal_args(config->eal_args, eal_argv, EAL_ARGS_MAX);
        if (eal_argc < 0) {
            fprintf(stderr, "ubcd: config error: eal.args: more than %d arguments\n",
                    EAL_ARGS_MAX - 2);
            return -1;
        }
    }
    if (rte_eal_init(eal_argc, eal_argv) < 0) {
        fprintf(stderr, "ubcd: EAL init failed: %s (EAL arguments: see docs/operations.md)\n",
                rte_strerror(rte_errno));
        return -1;
    }
    return 0;
}

/* Creates the data directory and takes its lock for the life of the
 * process: two nodes on one journal would corrupt it (the second would
 * "repair" the tail the first is writing). The lock file names the holder. */
static int
ubcd_take_data_dir(const char *path)
{
    if (mkdir(path, 0750) != 0 && errno != EEXIST) {
        fprintf(stderr, "ubcd: data dir %s: %s\n", path, strerror(errno));
        return -1;
    }
    char lock_path[UBC_CONFIG_PATH_MAX + 16];
    int written = snprintf(lock_path, sizeof(lock_path), "%s/ubcd.lock", path);
    if (written < 0 || (size_t)written >= sizeof(lock_path)) {
        fprintf(stderr, "ubcd: data dir %s: path too long\n", path);
        return -1;
    }
    int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        fprintf(stderr, "ubcd: %s: %s\n", lock_path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char holder[32] = "";
        ssize_t n = pread(fd, holder, sizeof(holder) - 1, 0);
        holder[n > 0 ? n : 0] = '\0';
        holder[strcspn(holder, "\n")] = '\0';
        fprintf(stderr, "ubcd: data dir %s is in use by another node (pid %s)\n", path,
                holder[0] ? holder : "unknown");
        close(fd);
        return -1;
    }
    char pid[32];
    int length = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)length, 0) != length)
        fprintf(stderr, "ubcd: warning: cannot write %s\n", lock_path);
    return 0; /* fd stays open: the lock lasts as long as the process */
}

static int
ubcd_run(struct ubc_node *node)
{
    char error[UBC_CONFIG_ERROR_MAX];
    if (ubc_node_start(node, error, sizeof(error)) != 0) {
        fprintf(stderr, "ubcd: %s\n", error);
        return 1;
    }
    if (ubc_admin_cmds_start(node, error, sizeof(error)) != 0) {
        fprintf(stderr, "ubcd: admin socket: %s\n", error);
        return 1;
    }
    UBC_LOG(NOTICE, UBC_LOG_NODE, "running: port %s (%s), admin socket %s", node->port.name,
            node->port.driver, node->config.admin_socket);
    int rc = ubc_node_launch(node);
    UBC_LOG(NOTICE, UBC_LOG_NODE, "stopping%s", rc ? " (a role did not drain in time)" : "");
    ubc_admin_cmds_stop(node);
    ubc_node_stop(node);
    return 0;
}

int
main(int argc, char **argv)
{
    struct ubc_node *node = &node_storage;
    int dashdash = ubcd_find_dashdash(argc, argv);
    char **app_argv = dashdash > 0 ? argv + dashdash : argv;
    int app_argc = dashdash > 0 ? argc - dashdash : argc;
    if (dashdash > 0)
        app_argv[0] = argv[0];
    struct ubcd_options options;
    if (ubcd_parse_options(app_argc, app_argv, &options) != 0)
        return 2;
    if (ubcd_load_config(&options, &node->config) != 0)
        return 2;
    if (ubcd_informational(&options, &node->config))
        return 0;
    if (ubcd_take_data_dir(node->config.data_dir) != 0)
        return 1;
    if (ubcd_eal_init(argv, dashdash, &node->config) != 0)
        return 1;
    ubc_log_init(ubc_log_level_parse(node->config.log_level));
    ubc_node_current = node;
    signal(SIGINT, ubcd_signal);
    signal(SIGTERM, ubcd_signal);
    signal(SIGPIPE, SIG_IGN);
    int rc = ubcd_run(node);
    rte_eal_cleanup();
    if (rc == 0)
        printf("ubcd: stopped cleanly\n");
    return rc;
}
