/* ubc_admin_client.c: see ubc_admin_client.h. */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/ubc_assert.h"
#include "common/ubc_time.h"
#include "control/ubc_admin_client.h"

#define CLIENT_CONNECT_RETRY_NS 10000000ull /* a full backlog: retry every 10 ms */

/* Waits until fd is ready for events or the deadline passes. */
static int
client_wait(int fd, short events, uint64_t deadline_ns)
{
    for (;;) {
        uint64_t now_ns = ubc_time_monotonic_ns();
        if (now_ns >= deadline_ns)
            return -ETIMEDOUT;
        uint64_t wait_ms = (deadline_ns - now_ns + 999999ull) / 1000000ull;
        struct pollfd entry = { .fd = fd, .events = events };
        int ready = poll(&entry, 1, wait_ms > 60000 ? 60000 : (int)wait_ms);
        if (ready < 0) /* EINTR too: a tool's Ctrl-C must be prompt */
            return -errno;
        if (ready > 0)
            return 0;
    }
}

int
ubc_admin_client_connect(const char *path, uint64_t deadline_ns)
{
    struct sockaddr_un address = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(address.sun_path))
        return -ENAMETOOLONG;
    memcpy(address.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    for (;;) {
        if (connect(fd, (const struct sockaddr *)&address, sizeof(address)) == 0)
            return fd;
        int status = -errno;
        if (status == -EINTR)
            continue;
        /* A Unix socket whose listener's backlog is full answers EAGAIN. */
        if (status != -EAGAIN || ubc_time_monotonic_ns() >= deadline_ns) {
            close(fd);
            return status == -EAGAIN ? -ETIMEDOUT : status;
        }
        struct timespec pause = { .tv_nsec = (long)CLIENT_CONNECT_RETRY_NS };
        nanosleep(&pause, NULL);
    }
}

int
ubc_admin_client_send_line(int fd, const char *line, size_t length, uint64_t deadline_ns)
{
    char *buffer = malloc(length + 1);
    if (buffer == NULL)
        return -ENOMEM;
    memcpy(buffer, line, length);
    buffer[length] = '\n';
    size_t sent = 0;
    int status = 0;
    while (sent < length + 1 && status == 0) {
        ssize_t done = send(fd, buffer + sent, length + 1 - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (done > 0)
            sent += (size_t)done;
        else if (done < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            status = client_wait(fd, POLLOUT, deadline_ns);
        else if (done < 0 && errno != EINTR)
            status = -errno;
    }
    free(buffer);
    return status;
}

/* Receives at most up to the next '\n' (peeking first), so bytes of the next
 * reply stay in the socket for the next call: pipelining needs no state. */
static ssize_t
client_receive_line_part(int fd, char *buffer, size_t cap, bool *complete)
{
    ssize_t peeked = recv(fd, buffer, cap, MSG_DONTWAIT | MSG_PEEK);
    if (peeked <= 0)
        return peeked;
    char *newline = memchr(buffer, '\n', (size_t)peeked);
    size_t take = newline != NULL ? (size_t)(newline - buffer) + 1 : (size_t)peeked;
    *complete = newline != NULL;
    ssize_t got = recv(fd, buffer, take, MSG_DONTWAIT);
    UBC_ASSERT(got == (ssize_t)take); /* we are the only reader of fd */
    return got;
}

long
ubc_admin_client_read_line(int fd, char **line, size_t bytes_max, uint64_t deadline_ns)
{
    size_t cap = 4096, used = 0;
    char *buffer = malloc(cap);
    *line = NULL;
    if (buffer == NULL)
        return -ENOMEM;
    bool complete = false;
    while (!complete) {
        if (used > bytes_max) {
            free(buffer);
            return -EMSGSIZE;
        }
        if (cap - used < 4096) {
            char *grown = realloc(buffer, cap * 2);
            if (grown == NULL) {
                free(buffer);
                return -ENOMEM;
            }
            buffer = grown;
            cap *= 2;
        }
        ssize_t got = client_receive_line_part(fd, buffer + used, cap - used - 1, &complete);
        int status = 0;
        if (got == 0)
            status = -ECONNRESET;
        else if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            status = client_wait(fd, POLLIN, deadline_ns);
        else if (got < 0 && errno != EINTR)
            status = -errno;
        if (status != 0) {
            free(buffer);
            return status;
        }
        if (got > 0)
            used += (size_t)got;
    }
    UBC_ASSERT(used > 0 && buffer[used - 1] == '\n');
    buffer[used - 1] = '\0';
    *line = buffer;
    return (long)(used - 1);
}

long
ubc_admin_client_call(const char *path, const char *request, char **reply, uint64_t deadline_ns)
{
    *reply = NULL;
    int fd = ubc_admin_client_connect(path, deadline_ns);
    if (fd < 0)
        return fd;
    int sent = ubc_admin_client_send_line(fd, request, strlen(request), deadline_ns);
    long length = -ECONNRESET;
    /* A refused peer is told why before the node closes: read that line even
     * if our request did not go through. */
    if (sent == 0 || sent == -EPIPE || sent == -ECONNRESET)
        length =
            ubc_admin_client_read_line(fd, reply, UBC_ADMIN_CLIENT_REPLY_BYTES_MAX, deadline_ns);
    else
        length = sent;
    close(fd);
    UBC_ASSERT(length < 0 || *reply != NULL);
    return length;
}
