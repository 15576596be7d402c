/* ubc_admin.c: the admin socket's life cycle and the control thread's epoll
 * loop. See ubc_admin.h for the contract and docs/admin-protocol.md for the
 * protocol.
 *
 * Why the loop cannot be stalled by a client: every socket is non-blocking;
 * a client's next request is parsed only once its previous reply is fully in
 * the kernel (so a client that does not read stalls only itself, and holds
 * at most one request buffer and one reply); at most a fixed budget of
 * requests per client is served per loop turn (round robin); a client that
 * makes no progress for idle_timeout_ms is closed. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/ubc_assert.h"
#include "common/ubc_time.h"
#include "control/ubc_admin_private.h"

#define ADMIN_EVENTS_MAX 64
#define ADMIN_ACCEPT_BUDGET 16      /* connections accepted per loop turn */
#define ADMIN_REQUEST_BUDGET 8      /* requests served per client per turn */
#define ADMIN_WAIT_MS_MAX 1000      /* the loop wakes at least this often */
#define ADMIN_ACCEPT_PAUSE_MS 100   /* after EMFILE: let descriptors free up */
#define ADMIN_OUT_KEEP_BYTES 65536u /* larger reply buffers are freed once sent */
#define ADMIN_TAG_LISTEN 0
#define ADMIN_TAG_STOP 1
#define ADMIN_TAG_CLIENT 2 /* + client index */

static void
admin_config_defaults(struct ubc_admin_config *config)
{
    if (config->socket_mode == 0)
        config->socket_mode = UBC_ADMIN_SOCKET_MODE_DEFAULT;
    if (config->clients_max == 0)
        config->clients_max = UBC_ADMIN_CLIENTS_MAX_DEFAULT;
    if (config->request_bytes_max == 0)
        config->request_bytes_max = UBC_ADMIN_REQUEST_BYTES_MAX_DEFAULT;
    if (config->reply_bytes_max == 0)
        config->reply_bytes_max = UBC_ADMIN_REPLY_BYTES_MAX_DEFAULT;
    if (config->idle_timeout_ms == 0)
        config->idle_timeout_ms = UBC_ADMIN_IDLE_TIMEOUT_MS_DEFAULT;
    if (config->commands_max == 0)
        config->commands_max = UBC_ADMIN_COMMANDS_MAX_DEFAULT;
}

static bool
admin_config_valid(const struct ubc_admin_config *config)
{
    if (config->socket_path == NULL || config->socket_path[0] == '\0')
        return false;
    if (strlen(config->socket_path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
        return false;
    if ((config->socket_mode & ~07777u) != 0 || config->clients_max > 65536)
        return false;
    if (config->request_bytes_max > (1u << 30) || config->reply_bytes_max > (1u << 30))
        return false;
    if (config->reply_bytes_max < 256 || config->commands_max < 2)
        return false;
    if (config->allowed_uid_count > UBC_ADMIN_IDS_MAX ||
        config->allowed_gid_count > UBC_ADMIN_IDS_MAX)
        return false;
    return config->version == NULL || strlen(config->version) < UBC_ADMIN_VERSION_BYTES_MAX;
}

struct ubc_admin *
ubc_admin_create(const struct ubc_admin_config *config)
{
    struct ubc_admin_config effective = *config;
    admin_config_defaults(&effective);
    if (!admin_config_valid(&effective)) {
        errno = EINVAL;
        return NULL;
    }
    struct ubc_admin *admin = calloc(1, sizeof(*admin));
    if (admin == NULL)
        return NULL;
    admin->commands = calloc(effective.commands_max, sizeof(*admin->commands));
    admin->clients = calloc(effective.clients_max, sizeof(*admin->clients));
    if (admin->commands == NULL || admin->clients == NULL) {
        free(admin->commands);
        free(admin->clients);
        free(admin);
        errno = ENOMEM;
        return NULL;
    }
    snprintf(admin->socket_path, sizeof(admin->socket_path), "%s", effective.socket_path);
    snprintf(admin->version, sizeof(admin->version), "%s",
             effective.version != NULL ? effective.version : "unknown");
    effective.socket_path = admin->socket_path;
    effective.version = admin->version;
    admin->config = effective;
    admin->euid = geteuid();
    for (uint32_t i = 0; i < effective.clients_max; i++)
        admin->clients[i].fd = -1;
    admin->listen_fd = admin->epoll_fd = admin->stop_fd = -1;
    pthread_mutex_init(&admin->commands_lock, NULL);
    admin->magic = UBC_ADMIN_MAGIC;
    int status = ubc_admin_register_builtins(admin);
    UBC_ASSERT(status == 0);
    return admin;
}

static bool
admin_name_valid(const char *name)
{
    size_t length = strlen(name);
    if (length == 0 || length >= UBC_ADMIN_NAME_BYTES_MAX)
        return false;
    for (size_t i = 0; i < length; i++) {
        char c = name[i];
        bool ok =
            (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
        if (!ok)
            return false;
    }
    return true;
}

int
ubc_admin_register(struct ubc_admin *admin, const char *name, const char *usage, const char *help,
                   ubc_admin_fn fn, void *ctx)
{
    UBC_ASSERT(admin != NULL && admin->magic == UBC_ADMIN_MAGIC);
    if (name == NULL || fn == NULL || !admin_name_valid(name))
        return -EINVAL;
    int status = 0;
    pthread_mutex_lock(&admin->commands_lock);
    uint32_t count = admin->command_count;
    for (uint32_t i = 0; i < count && status == 0; i++) {
        if (strcmp(admin->commands[i].name, name) == 0)
            status = -EEXIST;
    }
    if (status == 0 && count == admin->config.commands_max)
        status = -ENOSPC;
    if (status == 0) {
        struct ubc_admin_command *command = &admin->commands[count];
        command->usage = strdup(usage != NULL ? usage : "");
        command->help = strdup(help != NULL ? help : "");
        UBC_ASSERT(command->usage != NULL && command->help != NULL);
        snprintf(command->name, sizeof(command->name), "%s", name);
        command->fn = fn;
        command->ctx = ctx;
        /* Publish the entry only once it is complete. */
        __atomic_store_n(&admin->command_count, count + 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&admin->commands_lock);
    return status;
}

/* ---- clients ---- */

static void
admin_client_interest(struct ubc_admin *admin, uint32_t index)
{
    struct ubc_admin_client *client = &admin->clients[index];
    UBC_ASSERT(client->fd >= 0);
    bool sending = client->out_sent < client->out_used;
    bool reading = !client->eof && !client->closing && !sending &&
                   client->in_used <= admin->config.request_bytes_max;
    uint32_t events = (reading ? EPOLLIN : 0u) | (sending ? EPOLLOUT : 0u);
    if (events == client->events)
        return;
    struct epoll_event event = { .events = events, .data.u64 = ADMIN_TAG_CLIENT + index };
    int status = epoll_ctl(admin->epoll_fd, EPOLL_CTL_MOD, client->fd, &event);
    UBC_ASSERT(status == 0);
    client->events = events;
}

static void
admin_client_close(struct ubc_admin *admin, uint32_t index)
{
    struct ubc_admin_client *client = &admin->clients[index];
    UBC_ASSERT(client->fd >= 0);
    /* close() removes the descriptor from the epoll set. */
    close(client->fd);
    free(client->in);
    free(client->out);
    memset(client, 0, sizeof(*client));
    client->fd = -1;
    __atomic_fetch_sub(&admin->clients_count, 1, __ATOMIC_RELAXED);
}

/* Sends what the kernel takes. Returns false if the client was closed. */
static bool
admin_client_flush(struct ubc_admin *admin, uint32_t index, uint64_t now_ns)
{
    struct ubc_admin_client *client = &admin->clients[index];
    while (client->out_sent < client->out_used) {
        ssize_t sent = send(client->fd, client->out + client->out_sent,
                            client->out_used - client->out_sent, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent < 0 && errno == EINTR)
            continue;
        if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (sent <= 0) {
            admin_client_close(admin, index);
            return false;
        }
        client->out_sent += (size_t)sent;
        client->activity_ns = now_ns;
    }
    if (client->out_sent == client->out_used) {
        client->out_sent = client->out_used = 0;
        if (client->out_cap > ADMIN_OUT_KEEP_BYTES) {
            free(client->out);
            client->out = NULL;
            client->out_cap = 0;
        }
        if (client->closing) {
            admin_client_close(admin, index);
            return false;
        }
    }
    admin_client_interest(admin, index);
    return true;
}

static void
admin_client_queue(struct ubc_admin_client *client, const char *text, size_t length)
{
    UBC_ASSERT(client->out_used == 0 && client->out_sent == 0);
    if (client->out_cap < length + 1) {
        free(client->out);
        client->out = malloc(length + 1);
        UBC_ASSERT(client->out != NULL);
        client->out_cap = length + 1;
    }
    memcpy(client->out, text, length);
    client->out[length] = '\n';
    client->out_used = length + 1;
}

static void
admin_audit(const struct ubc_admin *admin, const struct ucred *peer, const char *command, int code,
            uint64_t handler_ns)
{
    if (admin->config.audit_fn == NULL)
        return;
    struct ubc_admin_audit event = {
        .uid = peer->uid,
        .gid = peer->gid,
        .pid = peer->pid,
        .command = command != NULL && command[0] != '\0' ? command : NULL,
        .code = code,
        .handler_ns = handler_ns,
    };
    admin->config.audit_fn(admin->config.audit_ctx, &event);
}

static void
admin_client_answer(struct ubc_admin *admin, uint32_t index, const char *line, size_t length)
{
    struct ubc_admin_client *client = &admin->clients[index];
    struct ubc_admin_request_info info;
    json_t *reply = ubc_admin_request_handle(admin, line, length, &info);
    struct ucred peer = { .pid = client->pid, .uid = client->uid, .gid = client->gid };
    admin_audit(admin, &peer, info.command, info.code, info.handler_ns);
    size_t text_length = 0;
    char *text = ubc_admin_reply_encode(admin, reply, &text_length);
    json_decref(reply);
    admin_client_queue(client, text, text_length);
    free(text);
}

static void
admin_client_too_large(struct ubc_admin *admin, uint32_t index)
{
    struct ubc_admin_client *client = &admin->clients[index];
    char line[256];
    char message[128];
    snprintf(message, sizeof(message), "request longer than %u bytes",
             admin->config.request_bytes_max);
    int length = ubc_admin_error_line(line, sizeof(line), UBC_ADMIN_ERR_TOO_LARGE, message);
    UBC_ADMIN_COUNT(admin, errors[UBC_ADMIN_ERR_TOO_LARGE]);
    UBC_ADMIN_COUNT(admin, connections_closed_limit);
    struct ucred peer = { .pid = client->pid, .uid = client->uid, .gid = client->gid };
    admin_audit(admin, &peer, NULL, UBC_ADMIN_ERR_TOO_LARGE, 0);
    admin_client_queue(client, line, (size_t)length - 1);
    client->closing = true;
    client->in_used = 0;
}

/* Takes the next request out of the input buffer, if one is complete.
 * Returns its length (without '\n' or '\r'), or -1 if none. The line stays
 * at the start of the buffer; the caller drops *consumed bytes once served. */
static ssize_t
admin_client_next_line(struct ubc_admin_client *client, size_t *consumed)
{
    char *newline = memchr(client->in, '\n', client->in_used);
    size_t length;
    if (newline != NULL) {
        length = (size_t)(newline - client->in);
        *consumed = length + 1;
    } else if (client->eof && client->in_used > 0) {
        length = client->in_used; /* a last line without '\n' */
        *consumed = length;
    } else {
        return -1;
    }
    if (length > 0 && client->in[length - 1] == '\r')
        length--;
    return (ssize_t)length;
}

/* Serves up to a budget of buffered requests, each reply handed to the
 * kernel before the next request is parsed. Returns false if closed. */
static bool
admin_client_serve(struct ubc_admin *admin, uint32_t index, uint64_t now_ns)
{
    struct ubc_admin_client *client = &admin->clients[index];
    client->has_work = false;
    for (uint32_t served = 0; client->out_used == 0 && !client->closing; served++) {
        size_t consumed = 0;
        ssize_t length = admin_client_next_line(client, &consumed);
        if (length < 0) {
            if (client->in_used > admin->config.request_bytes_max)
                admin_client_too_large(admin, index);
            break;
        }
        if (served == ADMIN_REQUEST_BUDGET) {
            client->has_work = true;
            break;
        }
        if ((size_t)length > admin->config.request_bytes_max) {
            admin_client_too_large(admin, index);
            break;
        }
        if (length > 0) { /* blank lines are ignored (interactive use) */
            admin_client_answer(admin, index, client->in, (size_t)length);
            client->activity_ns = now_ns;
        }
        memmove(client->in, client->in + consumed, client->in_used - consumed);
        client->in_used -= (uint32_t)consumed;
        if (!admin_client_flush(admin, index, now_ns))
            return false;
    }
    if (client->eof && client->in_used == 0 && client->out_used == 0 && !client->has_work) {
        admin_client_close(admin, index);
        return false;
    }
    return admin_client_flush(admin, index, now_ns);
}

static void
admin_client_readable(struct ubc_admin *admin, uint32_t index, uint64_t now_ns)
{
    struct ubc_admin_client *client = &admin->clients[index];
    uint32_t capacity = admin->config.request_bytes_max + 1;
    while (client->in_used < capacity && !client->eof) {
        ssize_t got = recv(client->fd, client->in + client->in_used, capacity - client->in_used,
                           MSG_DONTWAIT);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (got < 0) {
            admin_client_close(admin, index);
            return;
        }
        if (got == 0)
            client->eof = true;
        const char *fresh = client->in + client->in_used;
        client->in_used += (uint32_t)got;
        /* One read per turn is enough once a line is complete. */
        if (got > 0 && memchr(fresh, '\n', (size_t)got) != NULL)
            break;
    }
    admin_client_serve(admin, index, now_ns);
}

static void
admin_client_event(struct ubc_admin *admin, uint32_t index, uint32_t events, uint64_t now_ns)
{
    UBC_ASSERT(index < admin->config.clients_max);
    struct ubc_admin_client *client = &admin->clients[index];
    if (client->fd < 0)
        return; /* closed earlier in this turn */
    if ((events & EPOLLERR) != 0) {
        admin_client_close(admin, index);
        return;
    }
    if ((events & EPOLLOUT) != 0) {
        if (!admin_client_flush(admin, index, now_ns))
            return;
        if (client->out_used == 0)
            client->has_work = true; /* buffered requests may wait */
    }
    if ((events & (EPOLLIN | EPOLLHUP)) != 0 && client->fd >= 0)
        admin_client_readable(admin, index, now_ns);
}

/* ---- accepting ---- */

static bool
admin_peer_allowed(const struct ubc_admin *admin, int fd, const struct ucred *credentials)
{
    const struct ubc_admin_config *config = &admin->config;
    if (credentials->uid == 0 || credentials->uid == admin->euid)
        return true;
    for (uint32_t i = 0; i < config->allowed_uid_count; i++) {
        if (config->allowed_uids[i] == credentials->uid)
            return true;
    }
    if (config->allowed_gid_count == 0)
        return false;
    gid_t groups[256];
    groups[0] = credentials->gid;
    size_t group_count = 1;
    socklen_t length = (socklen_t)(sizeof(groups) - sizeof(groups[0]));
    /* SO_PEERGROUPS (Linux 4.13) adds the supplementary groups; a peer in
     * more than 255 groups is checked on its primary group only. */
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, &groups[1], &length) == 0)
        group_count += length / sizeof(gid_t);
    for (size_t g = 0; g < group_count; g++) {
        for (uint32_t i = 0; i < config->allowed_gid_count; i++) {
            if (config->allowed_gids[i] == groups[g])
                return true;
        }
    }
    return false;
}

static void
admin_refuse(struct ubc_admin *admin, int fd, const struct ucred *peer, int code,
             const char *message)
{
    admin_audit(admin, peer, NULL, code, 0);
    char line[256];
    int length = ubc_admin_error_line(line, sizeof(line), code, message);
    UBC_ADMIN_COUNT(admin, errors[code]);
    /* Best effort: a fresh socket's buffer always takes one short line. */
    ssize_t sent = send(fd, line, (size_t)length, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)sent;
    close(fd);
}

static int
admin_slot_find(const struct ubc_admin *admin)
{
    for (uint32_t i = 0; i < admin->config.clients_max; i++) {
        if (admin->clients[i].fd < 0)
            return (int)i;
    }
    return -1;
}

static void
admin_client_add(struct ubc_admin *admin, int fd, const struct ucred *credentials, uint64_t now_ns)
{
    int slot = admin_slot_find(admin);
    if (slot < 0) {
        char message[96];
        snprintf(message, sizeof(message), "too many clients (%u connected)",
                 admin->config.clients_max);
        UBC_ADMIN_COUNT(admin, connections_refused);
        admin_refuse(admin, fd, credentials, UBC_ADMIN_ERR_BUSY, message);
        return;
    }
    struct ubc_admin_client *client = &admin->clients[slot];
    UBC_ASSERT(client->fd < 0 && client->in == NULL);
    client->in = malloc(admin->config.request_bytes_max + 1);
    UBC_ASSERT(client->in != NULL);
    client->fd = fd;
    client->uid = credentials->uid;
    client->gid = credentials->gid;
    client->pid = credentials->pid;
    client->activity_ns = now_ns;
    client->events = EPOLLIN;
    struct epoll_event event = { .events = EPOLLIN, .data.u64 = ADMIN_TAG_CLIENT + (uint32_t)slot };
    int status = epoll_ctl(admin->epoll_fd, EPOLL_CTL_ADD, fd, &event);
    UBC_ASSERT(status == 0);
    __atomic_fetch_add(&admin->clients_count, 1, __ATOMIC_RELAXED);
    UBC_ADMIN_COUNT(admin, connections_accepted);
}

static void
admin_accept_pause(struct ubc_admin *admin, bool pause, uint64_t now_ns)
{
    struct epoll_event event = { .events = pause ? 0u : EPOLLIN, .data.u64 = ADMIN_TAG_LISTEN };
    int status = epoll_ctl(admin->epoll_fd, EPOLL_CTL_MOD, admin->listen_fd, &event);
    UBC_ASSERT(status == 0);
    admin->accept_paused = pause;
    admin->accept_resume_ns = now_ns + ADMIN_ACCEPT_PAUSE_MS * 1000000ull;
}

static void
admin_accept(struct ubc_admin *admin, uint64_t now_ns)
{
    for (uint32_t i = 0; i < ADMIN_ACCEPT_BUDGET; i++) {
        int fd = accept4(admin->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                admin_accept_pause(admin, true, now_ns);
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
                continue;
            return;
        }
        /* Unknown credentials read as "nobody", which only a list can allow. */
        struct ucred credentials = { .pid = 0, .uid = UINT32_MAX, .gid = UINT32_MAX };
        socklen_t length = sizeof(credentials);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0 ||
            length != sizeof(credentials) || !admin_peer_allowed(admin, fd, &credentials)) {
            UBC_ADMIN_COUNT(admin, connections_denied);
            admin_refuse(admin, fd, &credentials, UBC_ADMIN_ERR_DENIED,
                         "peer credentials not allowed");
            continue;
        }
        admin_client_add(admin, fd, &credentials, now_ns);
    }
}

/* ---- the loop ---- */

/* Closes idle clients and returns how long the loop may sleep. */
static int
admin_housekeeping(struct ubc_admin *admin, uint64_t now_ns)
{
    uint64_t idle_ns = (uint64_t)admin->config.idle_timeout_ms * 1000000ull;
    uint64_t wait_ns = ADMIN_WAIT_MS_MAX * 1000000ull;
    for (uint32_t i = 0; i < admin->config.clients_max; i++) {
        struct ubc_admin_client *client = &admin->clients[i];
        if (client->fd < 0)
            continue;
        if (client->has_work)
            admin_client_serve(admin, i, now_ns);
        if (client->fd < 0)
            continue;
        if (client->has_work) {
            wait_ns = 0;
            continue;
        }
        uint64_t deadline_ns = client->activity_ns + idle_ns;
        if (deadline_ns <= now_ns) {
            UBC_ADMIN_COUNT(admin, connections_closed_idle);
            admin_client_close(admin, i);
        } else if (deadline_ns - now_ns < wait_ns) {
            wait_ns = deadline_ns - now_ns;
        }
    }
    if (admin->accept_paused && now_ns >= admin->accept_resume_ns)
        admin_accept_pause(admin, false, now_ns);
    /* Round up so a deadline is past when the loop wakes. */
    return (int)((wait_ns + 999999ull) / 1000000ull);
}

static void *
admin_thread_main(void *argument)
{
    struct ubc_admin *admin = argument;
    UBC_ASSERT(admin->magic == UBC_ADMIN_MAGIC);
    struct epoll_event events[ADMIN_EVENTS_MAX];
    int wait_ms = 0;
    for (;;) {
        int count = epoll_wait(admin->epoll_fd, events, ADMIN_EVENTS_MAX, wait_ms);
        UBC_ASSERT(count >= 0 || errno == EINTR);
        uint64_t now_ns = ubc_time_monotonic_ns();
        for (int i = 0; i < count; i++) {
            uint64_t tag = events[i].data.u64;
            if (tag == ADMIN_TAG_STOP)
                return NULL;
            if (tag == ADMIN_TAG_LISTEN)
                admin_accept(admin, now_ns);
            else
                admin_client_event(admin, (uint32_t)(tag - ADMIN_TAG_CLIENT), events[i].events,
                                   now_ns);
        }
        wait_ms = admin_housekeeping(admin, now_ns);
    }
}

/* ---- start and stop ---- */

static int
admin_socket_address(const struct ubc_admin *admin, struct sockaddr_un *address)
{
    memset(address, 0, sizeof(*address));
    address->sun_family = AF_UNIX;
    size_t length = strlen(admin->socket_path);
    if (length >= sizeof(address->sun_path))
        return -ENAMETOOLONG;
    memcpy(address->sun_path, admin->socket_path, length + 1);
    return 0;
}

/* A socket file left by a dead node is removed; one a live node listens on
 * is not; a path that is not a socket is never touched. */
static int
admin_socket_reclaim(const struct ubc_admin *admin, const struct sockaddr_un *address)
{
    struct stat info;
    if (lstat(admin->socket_path, &info) != 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISSOCK(info.st_mode))
        return -EEXIST;
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe < 0)
        return -errno;
    int status = connect(probe, (const struct sockaddr *)address, sizeof(*address));
    int connect_errno = errno;
    close(probe);
    if (status == 0 || connect_errno == EAGAIN)
        return -EADDRINUSE; /* EAGAIN: alive, its backlog is full */
    if (connect_errno == ENOENT)
        return 0;
    if (connect_errno != ECONNREFUSED)
        return -connect_errno;
    if (unlink(admin->socket_path) != 0 && errno != ENOENT)
        return -errno;
    return 0;
}

static int
admin_socket_open(struct ubc_admin *admin)
{
    struct sockaddr_un address;
    int status = admin_socket_address(admin, &address);
    if (status == 0)
        status = admin_socket_reclaim(admin, &address);
    if (status != 0)
        return status;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct stat info;
    /* Bound but not yet listening, the socket refuses connections, so the
     * mode is in place before anyone can connect. */
    if (bind(fd, (const struct sockaddr *)&address, sizeof(address)) != 0) {
        status = -errno;
        close(fd);
        return status == -EADDRINUSE ? -EADDRINUSE : status;
    }
    if (chmod(admin->socket_path, admin->config.socket_mode) != 0 ||
        stat(admin->socket_path, &info) != 0 || listen(fd, SOMAXCONN) != 0) {
        status = -errno;
        close(fd);
        unlink(admin->socket_path);
        return status;
    }
    admin->socket_dev = info.st_dev;
    admin->socket_ino = info.st_ino;
    admin->listen_fd = fd;
    return 0;
}

static int
admin_epoll_open(struct ubc_admin *admin)
{
    admin->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (admin->epoll_fd < 0)
        return -errno;
    admin->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (admin->stop_fd < 0)
        return -errno;
    struct epoll_event listen_event = { .events = EPOLLIN, .data.u64 = ADMIN_TAG_LISTEN };
    struct epoll_event stop_event = { .events = EPOLLIN, .data.u64 = ADMIN_TAG_STOP };
    if (epoll_ctl(admin->epoll_fd, EPOLL_CTL_ADD, admin->listen_fd, &listen_event) != 0 ||
        epoll_ctl(admin->epoll_fd, EPOLL_CTL_ADD, admin->stop_fd, &stop_event) != 0)
        return -errno;
    return 0;
}

static void
admin_close_all(struct ubc_admin *admin)
{
    for (uint32_t i = 0; i < admin->config.clients_max; i++) {
        if (admin->clients[i].fd >= 0)
            admin_client_close(admin, i);
    }
    int *fds[] = { &admin->listen_fd, &admin->epoll_fd, &admin->stop_fd };
    for (size_t i = 0; i < UBC_ARRAY_SIZE(fds); i++) {
        if (*fds[i] >= 0)
            close(*fds[i]);
        *fds[i] = -1;
    }
    struct stat info;
    /* Unlink only our own socket: another node may have replaced it. */
    if (admin->socket_ino != 0 && stat(admin->socket_path, &info) == 0 &&
        info.st_ino == admin->socket_ino && info.st_dev == admin->socket_dev)
        unlink(admin->socket_path);
    admin->socket_ino = 0;
    admin->socket_dev = 0;
}

int
ubc_admin_start(struct ubc_admin *admin)
{
    UBC_ASSERT(admin != NULL && admin->magic == UBC_ADMIN_MAGIC);
    if (admin->running)
        return -EALREADY;
    admin->accept_paused = false;
    int status = admin_socket_open(admin);
    if (status == 0)
        status = admin_epoll_open(admin);
    if (status != 0) {
        admin_close_all(admin);
        return status;
    }
    /* The control thread takes no signals: they belong to the main thread. */
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    status = -pthread_create(&admin->thread, NULL, admin_thread_main, admin);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    if (status != 0) {
        admin_close_all(admin);
        return status;
    }
    pthread_setname_np(admin->thread, "ubc-control");
    admin->running = true;
    return 0;
}

void
ubc_admin_stop(struct ubc_admin *admin)
{
    UBC_ASSERT(admin != NULL && admin->magic == UBC_ADMIN_MAGIC);
    if (!admin->running)
        return;
    /* From a handler this would join itself: handlers set a flag instead. */
    UBC_ASSERT(!pthread_equal(pthread_self(), admin->thread));
    uint64_t one = 1;
    ssize_t written = write(admin->stop_fd, &one, sizeof(one));
    UBC_ASSERT(written == (ssize_t)sizeof(one));
    int status = pthread_join(admin->thread, NULL);
    UBC_ASSERT(status == 0);
    admin->running = false;
    /* Replies handed over in the last turn (a `shutdown` answer) get one more
     * non-blocking chance to leave. */
    uint64_t now_ns = ubc_time_monotonic_ns();
    for (uint32_t i = 0; i < admin->config.clients_max; i++) {
        if (admin->clients[i].fd >= 0)
            admin_client_flush(admin, i, now_ns);
    }
    admin_close_all(admin);
}

void
ubc_admin_destroy(struct ubc_admin *admin)
{
    if (admin == NULL)
        return;
    UBC_ASSERT(admin->magic == UBC_ADMIN_MAGIC);
    ubc_admin_stop(admin);
    for (uint32_t i = 0; i < admin->command_count; i++) {
        free(admin->commands[i].usage);
        free(admin->commands[i].help);
    }
    pthread_mutex_destroy(&admin->commands_lock);
    free(admin->commands);
    free(admin->clients);
    admin->magic = 0;
    free(admin);
}

void
ubc_admin_counters_read(const struct ubc_admin *admin, struct ubc_admin_counters *out)
{
    UBC_ASSERT(admin != NULL && admin->magic == UBC_ADMIN_MAGIC);
    const uint64_t *source = (const uint64_t *)&admin->counters;
    uint64_t *target = (uint64_t *)out;
    UBC_STATIC_ASSERT(sizeof(struct ubc_admin_counters) % sizeof(uint64_t) == 0,
                      "counters are an array of uint64_t");
    for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
        target[i] = __atomic_load_n(&source[i], __ATOMIC_RELAXED);
}

uint32_t
ubc_admin_clients_count(const struct ubc_admin *admin)
{
    UBC_ASSERT(admin != NULL && admin->magic == UBC_ADMIN_MAGIC);
    return __atomic_load_n(&admin->clients_count, __ATOMIC_RELAXED);
}

json_t *
ubc_admin_counters_json(const struct ubc_admin *admin)
{
    struct ubc_admin_counters counters;
    ubc_admin_counters_read(admin, &counters);
    json_t *errors = json_object();
    json_t *object = json_object();
    if (errors == NULL || object == NULL) {
        json_decref(errors);
        json_decref(object);
        return NULL;
    }
    json_object_set_new(object, "clients", json_integer(ubc_admin_clients_count(admin)));
    json_object_set_new(object, "connections_accepted",
                        json_integer((json_int_t)counters.connections_accepted));
    json_object_set_new(object, "connections_refused",
                        json_integer((json_int_t)counters.connections_refused));
    json_object_set_new(object, "connections_denied",
                        json_integer((json_int_t)counters.connections_denied));
    json_object_set_new(object, "connections_closed_idle",
                        json_integer((json_int_t)counters.connections_closed_idle));
    json_object_set_new(object, "connections_closed_limit",
                        json_integer((json_int_t)counters.connections_closed_limit));
    json_object_set_new(object, "requests", json_integer((json_int_t)counters.requests));
    json_object_set_new(object, "replies_ok", json_integer((json_int_t)counters.replies_ok));
    json_object_set_new(object, "handler_ns_max",
                        json_integer((json_int_t)counters.handler_ns_max));
    for (int code = 1; code < UBC_ADMIN_ERR_COUNT; code++)
        json_object_set_new(errors, ubc_admin_error_name(code),
                            json_integer((json_int_t)counters.errors[code]));
    json_object_set_new(object, "errors", errors);
    return object;
}
