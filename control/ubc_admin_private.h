/* ubc_admin_private.h: the admin's state, shared by ubc_admin.c (sockets,
 * the epoll loop, life cycle) and ubc_admin_request.c (request parsing,
 * dispatch, built-in commands). Not for callers outside control/.
 *
 * Threads: commands[] entries are written once under commands_lock and
 * published by a release store of command_count; the control thread reads
 * command_count with an acquire load and never takes the lock. Counters are
 * updated with relaxed atomics by the control thread only.
 */
#ifndef UBC_ADMIN_PRIVATE_H
#define UBC_ADMIN_PRIVATE_H

#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>
#include <sys/un.h>

#include "control/ubc_admin.h"

#define UBC_ADMIN_MAGIC 0x55424341444d494eull /* "UBCADMIN" */
#define UBC_ADMIN_VERSION_BYTES_MAX 64

struct ubc_admin_command {
    char name[UBC_ADMIN_NAME_BYTES_MAX];
    char *usage;
    char *help;
    ubc_admin_fn fn;
    void *ctx;
};

struct ubc_admin_client {
    int fd;          /* -1: slot free */
    uint32_t events; /* epoll interest now registered */
    uid_t uid;
    gid_t gid;
    pid_t pid;
    bool eof;      /* the peer shut down its writing side */
    bool closing;  /* close once the queued reply is sent */
    bool has_work; /* complete lines wait in the buffer (budget ran out) */
    char *in;      /* request_bytes_max + 1 bytes */
    uint32_t in_used;
    char *out; /* the reply being sent */
    size_t out_used;
    size_t out_sent;
    size_t out_cap;
    uint64_t activity_ns; /* last accept, complete request or send progress */
};

struct ubc_admin {
    uint64_t magic;
    char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    char version[UBC_ADMIN_VERSION_BYTES_MAX];
    struct ubc_admin_config config; /* defaults applied; socket_path, version: ours */
    uid_t euid;

    pthread_mutex_t commands_lock;
    struct ubc_admin_command *commands;
    uint32_t command_count; /* atomic: release on register, acquire on lookup */

    struct ubc_admin_client *clients;
    uint32_t clients_count; /* atomic */

    int listen_fd;
    int epoll_fd;
    int stop_fd;
    bool running;
    bool accept_paused;
    uint64_t accept_resume_ns;
    pthread_t thread;
    dev_t socket_dev;
    ino_t socket_ino;

    struct ubc_admin_counters counters; /* atomic fields, relaxed */
};

#define UBC_ADMIN_COUNT(admin, field) \
    __atomic_fetch_add(&(admin)->counters.field, 1, __ATOMIC_RELAXED)

/* What a request turned out to be, for the audit callback. */
struct ubc_admin_request_info {
    char command[UBC_ADMIN_NAME_BYTES_MAX]; /* "" when the request named none */
    int code;
    uint64_t handler_ns;
};

/* Handles one request line; returns the reply object (new reference, never
 * NULL: allocation failures abort, as the control plane cannot answer) and
 * counts it. info may be NULL. */
json_t *ubc_admin_request_handle(struct ubc_admin *admin, const char *line, size_t length,
                                 struct ubc_admin_request_info *info);

/* Serialises a reply into one line without its '\n'. Replies larger than
 * reply_bytes_max become a too-large error. Returns a malloc'd string. */
char *ubc_admin_reply_encode(struct ubc_admin *admin, json_t *reply, size_t *length);

/* Formats an error reply line for a client that is refused before any
 * request (busy, denied) or that sent a too-large line. */
int ubc_admin_error_line(char *buffer, size_t cap, int code, const char *message);

/* Registers help and version. */
int ubc_admin_register_builtins(struct ubc_admin *admin);

#endif /* UBC_ADMIN_PRIVATE_H */
