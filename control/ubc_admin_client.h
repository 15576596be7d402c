/* ubc_admin_client.h: the client side of the admin protocol, shared by
 * ubcctl and the tests: connect with a deadline, send one request line, read
 * one reply line. Every call is bounded by an absolute CLOCK_MONOTONIC
 * deadline (ubc_time_monotonic_ns() + timeout), so a client never hangs on a
 * stuck or hostile node.
 *
 * A signal caught while a call waits ends the call with -EINTR.
 *
 * Threads: no shared state; any thread may use its own descriptor.
 * Memory: ubc_admin_client_read_line returns a malloc'd line the caller frees;
 * it consumes exactly one line from the socket, so pipelined replies are
 * read one call at a time.
 */
#ifndef UBC_ADMIN_CLIENT_H
#define UBC_ADMIN_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#define UBC_ADMIN_CLIENT_REPLY_BYTES_MAX (64u * 1024u * 1024u)

/* Connects to the node's socket. Returns a descriptor (non-blocking,
 * close-on-exec) or a negative errno: -ENOENT / -ECONNREFUSED (no node),
 * -EACCES / -EPERM (the socket's mode refuses us), -ETIMEDOUT (a live node
 * whose backlog stayed full), -ENAMETOOLONG. */
int ubc_admin_client_connect(const char *path, uint64_t deadline_ns);

/* Sends length bytes and a '\n'. Returns 0 or a negative errno (-ETIMEDOUT,
 * -EPIPE when the node closed the connection). */
int ubc_admin_client_send_line(int fd, const char *line, size_t length, uint64_t deadline_ns);

/* Reads one line (without its '\n') into a malloc'd, NUL-terminated string.
 * Returns its length, or -ETIMEDOUT, -ECONNRESET (closed before a full
 * line), -EMSGSIZE (longer than bytes_max), -ENOMEM. */
long ubc_admin_client_read_line(int fd, char **line, size_t bytes_max, uint64_t deadline_ns);

/* One request, one reply, on a fresh connection. If the node closes the
 * connection while we send (a refused or denied peer), the line it sent
 * first is still read and returned. Returns the reply's length or a negative
 * errno as above. */
long ubc_admin_client_call(const char *path, const char *request, char **reply,
                           uint64_t deadline_ns);

#endif /* UBC_ADMIN_CLIENT_H */
