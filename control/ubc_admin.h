/* ubc_admin.h: the admin socket served by the control thread.
 *
 * Contract: the node creates one struct ubc_admin from a config, registers
 * its commands (name, usage, help, handler, context), then starts it. Start
 * binds a Unix stream socket (refusing to steal one another process listens
 * on), sets its file mode, and spawns the control thread: one pthread, not an
 * lcore, running an epoll loop over non-blocking sockets. Requests are
 * newline-delimited JSON objects {"cmd":..., "args":{...}, "id":...}; each
 * gets exactly one reply line, in order (docs/admin-protocol.md).
 *
 * Threads: create, start, stop and destroy are called by one thread (main).
 * ubc_admin_register may be called from any thread, before or after start.
 * Handlers run on the control thread, one at a time, never concurrently
 * with each other; they must return quickly (every other client waits) and
 * must not block on a role: they read counters or post to a control ring.
 * ubc_admin_counters_read may be called from any thread.
 *
 * Memory: the admin owns the socket, every client buffer and the command
 * table (allocated at create and on accept; this is the control plane, not a
 * hot path). A handler's *result becomes the admin's (it is decref'd after
 * the reply is written); args belong to the admin and are valid only during
 * the call. Strings passed to register are copied.
 *
 * Safety: a client can send anything. Every limit (clients, request bytes,
 * queued reply bytes, idle time) is enforced per client; a client that
 * breaks one gets an error line (where it can be answered) and is closed,
 * and no client can stall the loop or the node.
 */
#ifndef UBC_ADMIN_H
#define UBC_ADMIN_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define UBC_ADMIN_PROTOCOL_VERSION 1
#define UBC_ADMIN_IDS_MAX 16
#define UBC_ADMIN_NAME_BYTES_MAX 48   /* command name, with the NUL */
#define UBC_ADMIN_ERROR_BYTES_MAX 256 /* handler's error message buffer */

#define UBC_ADMIN_SOCKET_MODE_DEFAULT 0660u
#define UBC_ADMIN_CLIENTS_MAX_DEFAULT 64u
#define UBC_ADMIN_REQUEST_BYTES_MAX_DEFAULT (64u * 1024u)
#define UBC_ADMIN_REPLY_BYTES_MAX_DEFAULT (16u * 1024u * 1024u)
#define UBC_ADMIN_IDLE_TIMEOUT_MS_DEFAULT 60000u
#define UBC_ADMIN_COMMANDS_MAX_DEFAULT 128u

/* Error codes of the protocol. Their names (ubc_admin_error_name) are what
 * goes on the wire; the numbers are only for counters and handlers. */
enum ubc_admin_error {
    UBC_ADMIN_OK = 0,
    UBC_ADMIN_ERR_BAD_JSON = 1,        /* the line is not JSON */
    UBC_ADMIN_ERR_BAD_REQUEST = 2,     /* JSON, but not a valid request object */
    UBC_ADMIN_ERR_UNKNOWN_COMMAND = 3, /* no command of that name */
    UBC_ADMIN_ERR_BAD_ARGS = 4,        /* the handler refused the arguments */
    UBC_ADMIN_ERR_TOO_LARGE = 5,       /* request or reply over its limit */
    UBC_ADMIN_ERR_DENIED = 6,          /* peer credentials not allowed */
    UBC_ADMIN_ERR_BUSY = 7,            /* too many clients, or the node is busy */
    UBC_ADMIN_ERR_INTERNAL = 8,        /* a bug or a resource failure in the node */
    UBC_ADMIN_ERR_NOT_FOUND = 9,       /* the object named in args does not exist */
    UBC_ADMIN_ERR_UNAVAILABLE = 10,    /* the command cannot run in this state */
    UBC_ADMIN_ERR_COUNT
};

/* One audit event: a request answered, or a connection refused before any
 * request (command NULL, code BUSY or DENIED). */
struct ubc_admin_audit {
    uint32_t uid; /* the peer, from SO_PEERCRED */
    uint32_t gid;
    int32_t pid;
    const char *command; /* NULL when none was named (bad-json, refused) */
    int code;            /* UBC_ADMIN_OK or an enum ubc_admin_error */
    uint64_t handler_ns; /* time inside the handler; 0 when none ran */
};

/* Called on the control thread after each request and refusal, e.g. to log
 * who ran `shutdown` or who was denied. Must be quick and must not call back
 * into the admin. */
typedef void (*ubc_admin_audit_fn)(void *ctx, const struct ubc_admin_audit *event);

struct ubc_admin_config {
    const char *socket_path;                  /* required; at most 107 bytes (sun_path) */
    uint32_t socket_mode;                     /* file mode of the socket; 0 = 0660 */
    uint32_t allowed_uids[UBC_ADMIN_IDS_MAX]; /* root and the node's euid always */
    uint32_t allowed_uid_count;
    uint32_t allowed_gids[UBC_ADMIN_IDS_MAX]; /* primary or supplementary group */
    uint32_t allowed_gid_count;
    uint32_t clients_max;        /* 0 = 64 */
    uint32_t request_bytes_max;  /* one request line, without '\n'; 0 = 64 KiB */
    uint32_t reply_bytes_max;    /* one reply line, without '\n'; 0 = 16 MiB */
    uint32_t idle_timeout_ms;    /* a client without progress is closed; 0 = 60 s */
    uint32_t commands_max;       /* 0 = 128 (built-ins included) */
    const char *version;         /* reported by `version`; NULL = "unknown" */
    ubc_admin_audit_fn audit_fn; /* optional */
    void *audit_ctx;
};

/* Counters, monotonic since create. Read with ubc_admin_counters_read. */
struct ubc_admin_counters {
    uint64_t connections_accepted; /* passed the credential check */
    uint64_t connections_refused;  /* over clients_max */
    uint64_t connections_denied;   /* credentials not allowed */
    uint64_t connections_closed_idle;
    uint64_t connections_closed_limit; /* too-large request */
    uint64_t requests;                 /* complete request lines */
    uint64_t replies_ok;
    uint64_t handler_ns_max;              /* the slowest handler call: it delayed every client */
    uint64_t errors[UBC_ADMIN_ERR_COUNT]; /* replies and refusals by code */
};

/* A command handler. Returns 0 and sets *result (any JSON value; NULL means
 * an empty object), or returns an error: a positive enum ubc_admin_error
 * (BAD_ARGS, NOT_FOUND, BUSY, UNAVAILABLE, INTERNAL) or a negative errno
 * (-EINVAL -> bad-args, -ENOENT -> not-found, -EBUSY/-EAGAIN -> busy, any
 * other -> internal), with a one-line message in error (may be left empty).
 * On error *result is ignored (and released if set). */
typedef int (*ubc_admin_fn)(void *ctx, const json_t *args, json_t **result, char *error,
                            size_t error_cap);

struct ubc_admin;

/* Validates config and allocates. Returns NULL with errno = EINVAL (bad
 * config) or ENOMEM. The socket is not touched until start. Registers the
 * built-ins `help` and `version`. */
struct ubc_admin *ubc_admin_create(const struct ubc_admin_config *config);

/* Registers a command. name: [a-z0-9_.-], 1..47 bytes. usage: one line of
 * argument syntax ("job=ID [verbose=BOOL]", "" for none). help: one line.
 * Returns 0, -EINVAL (bad name, NULL fn), -EEXIST (taken), -ENOSPC (full). */
int ubc_admin_register(struct ubc_admin *admin, const char *name, const char *usage,
                       const char *help, ubc_admin_fn fn, void *ctx);

/* Binds and listens (see the contract), then spawns the control thread.
 * Returns 0, -EADDRINUSE (a live listener owns the path), -EEXIST (the path
 * is not a socket: never removed), -ENAMETOOLONG, -EALREADY, or another
 * negative errno from socket/bind/chmod/listen/pthread_create. */
int ubc_admin_start(struct ubc_admin *admin);

/* Stops the control thread (joins it; never call it from a handler), flushes what replies it can without
 * blocking, closes every client and the socket, and unlinks the socket file
 * if it is still the one this admin bound. Idempotent. */
void ubc_admin_stop(struct ubc_admin *admin);

/* Stops if needed and frees everything. NULL is a no-op. */
void ubc_admin_destroy(struct ubc_admin *admin);

/* Copies the counters (relaxed atomic loads; any thread). */
void ubc_admin_counters_read(const struct ubc_admin *admin, struct ubc_admin_counters *out);

/* The counters as a JSON object, for the node's `stats` command: {"clients":
 * N, "connections_accepted": ..., "errors": {"bad-json": N, ...}}. Returns a
 * new reference, or NULL on allocation failure. */
json_t *ubc_admin_counters_json(const struct ubc_admin *admin);

/* Number of clients connected now (any thread). */
uint32_t ubc_admin_clients_count(const struct ubc_admin *admin);

/* The wire name of a code ("bad-json"), or "internal" when out of range. */
const char *ubc_admin_error_name(int code);

/* Parses a comma-separated list of numeric ids or user (group) names, as
 * the config keys admin.allowed_uids/gids hold: "0, 1000, ubc". Returns 0
 * and the count, or -EINVAL (unknown name, bad number), -ENOSPC (> cap). */
int ubc_admin_parse_uids(const char *text, uint32_t *ids, uint32_t cap, uint32_t *count);
int ubc_admin_parse_gids(const char *text, uint32_t *ids, uint32_t cap, uint32_t *count);

#endif /* UBC_ADMIN_H */
