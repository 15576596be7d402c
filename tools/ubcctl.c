/* ubcctl: the command-line client of ubcd's admin socket.
 *
 *   ubcctl [--socket PATH] [--json] [--watch SECONDS] [--timeout MS] CMD [key=value ...]
 *   ubcctl [--socket PATH] [--timeout MS] raw '<json line>'
 *
 * The socket is --socket, else $UBC_ADMIN_SOCKET, else ./var/ubcd.sock (the
 * embedded default of ubcd). Arguments become the request's args object;
 * a value that parses as JSON (numbers, true, false, null, "quoted", [..],
 * {..}) is sent as that value, anything else as a string. Every failure is
 * one line on stderr and a documented exit code (docs/admin-protocol.md);
 * every wait is bounded by --timeout. Single-threaded; a tool, not ubcd.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/ubc_time.h"
#include "control/ubc_admin_client.h"
#include "control/ubc_admin_render.h"

enum ubcctl_exit {
    UBCCTL_EXIT_OK = 0,
    UBCCTL_EXIT_ERROR_REPLY = 1, /* the node answered with an error */
    UBCCTL_EXIT_USAGE = 2,       /* bad ubcctl arguments */
    UBCCTL_EXIT_NO_NODE = 3,     /* nothing listens at the socket path */
    UBCCTL_EXIT_DENIED = 4,      /* the socket's mode or the node refused us */
    UBCCTL_EXIT_TIMEOUT = 5,     /* no reply within --timeout */
    UBCCTL_EXIT_PROTOCOL = 6,    /* the reply was not a valid reply line */
};

#ifndef UBC_VERSION
#define UBC_VERSION "unknown"
#endif
#define UBCCTL_SOCKET_DEFAULT "./var/ubcd.sock"
#define UBCCTL_TIMEOUT_MS_DEFAULT 5000u
#define UBCCTL_REQUEST_ID 1
#define UBCCTL_COLUMNS_NOT_TTY 160
#define UBCCTL_INTERRUPTED (-1) /* internal: a watch was interrupted mid-call */

struct ubcctl_options {
    const char *socket_path;
    bool json;
    double watch_seconds; /* 0: once */
    uint64_t timeout_ms;
    const char *command;
    char **args;
    int arg_count;
};

static volatile sig_atomic_t ubcctl_interrupted;

static void
ubcctl_on_signal(int signal_number)
{
    (void)signal_number;
    ubcctl_interrupted = 1;
}

static void
ubcctl_usage(FILE *out)
{
    fprintf(out, "usage: ubcctl [--socket PATH] [--json] [--watch SECONDS] [--timeout MS] CMD "
                 "[key=value ...]\n"
                 "       ubcctl [--socket PATH] [--timeout MS] raw '<json request line>'\n"
                 "socket: --socket, else $UBC_ADMIN_SOCKET, else " UBCCTL_SOCKET_DEFAULT "\n"
                 "`ubcctl help` lists the node's commands; `ubcctl help CMD` shows one.\n"
                 "exit: 0 ok, 1 error reply, 2 usage, 3 no node, 4 denied, 5 timeout, "
                 "6 bad reply\n");
}

/* Prints the one-line error and returns the exit code. */
__attribute__((format(printf, 2, 3))) static int
ubcctl_fail(int code, const char *format, ...)
{
    va_list list;
    va_start(list, format);
    fputs("ubcctl: ", stderr);
    vfprintf(stderr, format, list);
    fputc('\n', stderr);
    va_end(list);
    return code;
}

static int
ubcctl_parse_number(const char *text, double minimum, double *value)
{
    char *end;
    errno = 0;
    *value = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !isfinite(*value) || *value < minimum)
        return -EINVAL;
    return 0;
}

static int
ubcctl_parse_options(int argc, char **argv, struct ubcctl_options *options)
{
    static const struct option long_options[] = {
        { "socket", required_argument, NULL, 's' },
        { "json", no_argument, NULL, 'j' },
        { "watch", required_argument, NULL, 'w' },
        { "timeout", required_argument, NULL, 't' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    const char *environment = getenv("UBC_ADMIN_SOCKET");
    options->socket_path =
        environment != NULL && environment[0] != '\0' ? environment : UBCCTL_SOCKET_DEFAULT;
    options->timeout_ms = UBCCTL_TIMEOUT_MS_DEFAULT;
    double number;
    int option;
    opterr = 0;
    /* Options may follow the command too (`ubcctl status --json`): getopt
     * moves them ahead; arguments (key=value, words) never start with '-'. */
    while ((option = getopt_long(argc, argv, "s:jw:t:hV", long_options, NULL)) != -1) {
        switch (option) {
        case 's': options->socket_path = optarg; break;
        case 'j': options->json = true; break;
        case 'w':
            if (ubcctl_parse_number(optarg, 0.1, &options->watch_seconds) != 0)
                return ubcctl_fail(UBCCTL_EXIT_USAGE, "--watch wants seconds >= 0.1, not '%s'",
                                   optarg);
            break;
        case 't':
            if (ubcctl_parse_number(optarg, 1, &number) != 0 || number > 3600000)
                return ubcctl_fail(UBCCTL_EXIT_USAGE, "--timeout wants 1..3600000 ms, not '%s'",
                                   optarg);
            options->timeout_ms = (uint64_t)number;
            break;
        case 'h': ubcctl_usage(stdout); exit(UBCCTL_EXIT_OK);
        case 'V': printf("ubcctl %s (admin protocol 1)\n", UBC_VERSION); exit(UBCCTL_EXIT_OK);
        default:
            return ubcctl_fail(UBCCTL_EXIT_USAGE, "unknown or incomplete option '%s' (see --help)",
                               argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return ubcctl_fail(UBCCTL_EXIT_USAGE, "no command (try 'ubcctl help' or --help)");
    options->command = argv[optind];
    options->args = &argv[optind + 1];
    options->arg_count = argc - optind - 1;
    return UBCCTL_EXIT_OK;
}

/* key=value -> args[key]; `help CMD` is short for `help command=CMD`; any other
 * command's leading bare word WORD is short for what=WORD. */
static int
ubcctl_build_args(const struct ubcctl_options *options, json_t *args)
{
    if (strcmp(options->command, "help") == 0 && options->arg_count == 1 &&
        strchr(options->args[0], '=') == NULL) {
        json_object_set_new(args, "command", json_string(options->args[0]));
        return UBCCTL_EXIT_OK;
    }
    int first = 0;
    if (options->arg_count > 0 && strchr(options->args[0], '=') == NULL) {
        /* `ubcctl ledger supply`: a leading bare word names what to show. */
        json_object_set_new(args, "what", json_string(options->args[0]));
        first = 1;
    }
    for (int i = first; i < options->arg_count; i++) {
        const char *argument = options->args[i];
        const char *equals = strchr(argument, '=');
        if (equals == NULL || equals == argument)
            return ubcctl_fail(UBCCTL_EXIT_USAGE, "argument '%s' is not key=value", argument);
        char key[128];
        size_t key_length = (size_t)(equals - argument);
        if (key_length >= sizeof(key))
            return ubcctl_fail(UBCCTL_EXIT_USAGE, "argument key too long in '%s'", argument);
        memcpy(key, argument, key_length);
        key[key_length] = '\0';
        if (json_object_get(args, key) != NULL)
            return ubcctl_fail(UBCCTL_EXIT_USAGE, "argument '%s' given twice", key);
        json_t *value = json_loads(equals + 1, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
        if (value == NULL)
            value = json_string(equals + 1);
        if (value == NULL || json_object_set_new(args, key, value) != 0)
            return ubcctl_fail(UBCCTL_EXIT_USAGE, "argument '%s' is not valid UTF-8", key);
    }
    return UBCCTL_EXIT_OK;
}

static int
ubcctl_transport_error(const struct ubcctl_options *options, long status)
{
    switch (status) {
    case -ENOENT:
    case -ECONNREFUSED:
    case -ENOTSOCK:
    case -ENOTDIR:
        return ubcctl_fail(UBCCTL_EXIT_NO_NODE, "no node at %s (is ubcd running?)",
                           options->socket_path);
    case -EACCES:
    case -EPERM:
        return ubcctl_fail(UBCCTL_EXIT_DENIED, "denied: no permission to connect to %s",
                           options->socket_path);
    case -ETIMEDOUT:
        return ubcctl_fail(UBCCTL_EXIT_TIMEOUT, "timeout: no reply from %s within %llu ms",
                           options->socket_path, (unsigned long long)options->timeout_ms);
    case -ECONNRESET:
    case -EPIPE:
        return ubcctl_fail(UBCCTL_EXIT_PROTOCOL, "the node at %s closed the connection",
                           options->socket_path);
    case -ENAMETOOLONG:
        return ubcctl_fail(UBCCTL_EXIT_USAGE, "socket path too long: %s", options->socket_path);
    case -EMSGSIZE:
        return ubcctl_fail(UBCCTL_EXIT_PROTOCOL, "reply from %s larger than %u bytes",
                           options->socket_path, UBC_ADMIN_CLIENT_REPLY_BYTES_MAX);
    default:
        return ubcctl_fail(UBCCTL_EXIT_PROTOCOL, "%s: %s", options->socket_path,
                           strerror((int)-status));
    }
}

/* Checks a reply's shape; on an error reply prints it. Sets *result (borrowed
 * from *reply, which the caller releases) on success. */
static int
ubcctl_reply_check(const char *line, bool expect_id, json_t **reply, json_t **result)
{
    *reply = json_loads(line, JSON_REJECT_DUPLICATES, NULL);
    json_t *ok = json_object_get(*reply, "ok");
    if (!json_is_boolean(ok))
        return ubcctl_fail(UBCCTL_EXIT_PROTOCOL, "the node sent an invalid reply line");
    json_t *id = json_object_get(*reply, "id");
    if (expect_id && !json_is_null(id) && json_integer_value(id) != UBCCTL_REQUEST_ID)
        return ubcctl_fail(UBCCTL_EXIT_PROTOCOL, "the node answered another request's id");
    if (json_is_true(ok)) {
        *result = json_object_get(*reply, "result");
        if (*result == NULL)
            return ubcctl_fail(UBCCTL_EXIT_PROTOCOL, "the node sent a reply without result");
        return UBCCTL_EXIT_OK;
    }
    json_t *error = json_object_get(*reply, "error");
    const char *code = json_string_value(json_object_get(error, "code"));
    const char *message = json_string_value(json_object_get(error, "message"));
    char clean[512];
    snprintf(clean, sizeof(clean), "%s", message != NULL ? message : "");
    for (char *c = clean; *c != '\0'; c++)
        *c = (*c > 0 && *c < 0x20) ? ' ' : *c; /* keep the error on one line */
    code = code != NULL ? code : "error";
    int exit_code = strcmp(code, "denied") == 0 ? UBCCTL_EXIT_DENIED : UBCCTL_EXIT_ERROR_REPLY;
    return ubcctl_fail(exit_code, "%s: %s", code, clean);
}

static int
ubcctl_call(const struct ubcctl_options *options, const char *request, char **line)
{
    uint64_t deadline_ns = ubc_time_monotonic_ns() + options->timeout_ms * 1000000ull;
    long length = ubc_admin_client_call(options->socket_path, request, line, deadline_ns);
    if (length == -EINTR && ubcctl_interrupted)
        return UBCCTL_INTERRUPTED;
    if (length < 0)
        return ubcctl_transport_error(options, length);
    return UBCCTL_EXIT_OK;
}

static int
ubcctl_raw(const struct ubcctl_options *options)
{
    if (options->arg_count != 1)
        return ubcctl_fail(UBCCTL_EXIT_USAGE, "raw takes exactly one argument: a request line");
    if (strchr(options->args[0], '\n') != NULL)
        return ubcctl_fail(UBCCTL_EXIT_USAGE, "raw: the request must be one line");
    char *line = NULL;
    int status = ubcctl_call(options, options->args[0], &line);
    if (status != UBCCTL_EXIT_OK)
        return status == UBCCTL_INTERRUPTED ? UBCCTL_EXIT_OK : status;
    printf("%s\n", line);
    fflush(stdout);
    json_t *reply = NULL, *result = NULL;
    status = ubcctl_reply_check(line, false, &reply, &result);
    json_decref(reply);
    free(line);
    return status;
}

/* Tables fit the terminal; into a pipe or file they may be wider. */
static size_t
ubcctl_columns(void)
{
    struct winsize size;
    if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0)
        return size.ws_col;
    return UBCCTL_COLUMNS_NOT_TTY;
}

static int
ubcctl_print(const struct ubcctl_options *options, const json_t *result)
{
    if (options->json) {
        char *text = json_dumps(result, JSON_INDENT(2) | JSON_ENCODE_ANY);
        if (text == NULL)
            return ubcctl_fail(UBCCTL_EXIT_PROTOCOL, "cannot encode the result");
        printf("%s\n", text);
        free(text);
    } else {
        ubc_admin_render(stdout, result, ubcctl_columns());
    }
    return fflush(stdout) == 0 ? UBCCTL_EXIT_OK
                               : ubcctl_fail(UBCCTL_EXIT_PROTOCOL, "cannot write stdout");
}

static int
ubcctl_once(const struct ubcctl_options *options, const char *request)
{
    char *line = NULL;
    int status = ubcctl_call(options, request, &line);
    if (status == UBCCTL_INTERRUPTED)
        return UBCCTL_EXIT_OK; /* Ctrl-C during a watch's call */
    if (status != UBCCTL_EXIT_OK)
        return status;
    json_t *reply = NULL, *result = NULL;
    status = ubcctl_reply_check(line, true, &reply, &result);
    free(line);
    if (status == UBCCTL_EXIT_OK && options->watch_seconds > 0) {
        char stamp[32];
        time_t now = time(NULL);
        strftime(stamp, sizeof(stamp), "%H:%M:%S", localtime(&now));
        /* Clear the screen and home the cursor, like watch(1). */
        printf("\033[H\033[2J%s  every %gs  ubcctl %s  (Ctrl-C to stop)\n\n", stamp,
               options->watch_seconds, options->command);
    }
    if (status == UBCCTL_EXIT_OK)
        status = ubcctl_print(options, result);
    json_decref(reply);
    return status;
}

static void
ubcctl_sleep(double seconds)
{
    uint64_t deadline_ns = ubc_time_monotonic_ns() + (uint64_t)(seconds * 1e9);
    while (!ubcctl_interrupted) {
        uint64_t now_ns = ubc_time_monotonic_ns();
        if (now_ns >= deadline_ns)
            return;
        uint64_t step_ns =
            deadline_ns - now_ns < 100000000ull ? deadline_ns - now_ns : 100000000ull;
        struct timespec pause = { .tv_sec = 0, .tv_nsec = (long)step_ns };
        nanosleep(&pause, NULL);
    }
}

static int
ubcctl_run(const struct ubcctl_options *options)
{
    json_t *args = json_object();
    json_t *request = json_object();
    if (args == NULL || request == NULL)
        return ubcctl_fail(UBCCTL_EXIT_PROTOCOL, "out of memory");
    int status = ubcctl_build_args(options, args);
    json_object_set_new(request, "cmd", json_string(options->command));
    json_object_set_new(request, "args", args);
    json_object_set_new(request, "id", json_integer(UBCCTL_REQUEST_ID));
    char *text = json_dumps(request, JSON_COMPACT);
    json_decref(request);
    if (status != UBCCTL_EXIT_OK || text == NULL) {
        free(text);
        return status != UBCCTL_EXIT_OK ? status : ubcctl_fail(UBCCTL_EXIT_USAGE, "bad command");
    }
    do {
        status = ubcctl_once(options, text);
        if (status != UBCCTL_EXIT_OK || options->watch_seconds <= 0)
            break;
        ubcctl_sleep(options->watch_seconds);
    } while (!ubcctl_interrupted);
    free(text);
    return status;
}

int
main(int argc, char **argv)
{
    struct ubcctl_options options = { 0 };
    int status = ubcctl_parse_options(argc, argv, &options);
    if (status != UBCCTL_EXIT_OK)
        return status;
    if (options.watch_seconds > 0) {
        /* Ctrl-C ends a watch cleanly (exit 0); otherwise it kills as usual. */
        struct sigaction action = { .sa_handler = ubcctl_on_signal };
        sigaction(SIGINT, &action, NULL);
        sigaction(SIGTERM, &action, NULL);
    }
    signal(SIGPIPE, SIG_IGN);
    if (strcmp(options.command, "raw") == 0)
        return ubcctl_raw(&options);
    return ubcctl_run(&options);
}
