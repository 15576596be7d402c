/* ubc_journal_io.h: the I/O layer under the journal, as a table of operations.
 *
 * Contract: the journal does all its data-path I/O (writes, fsyncs, their
 * completions) and its space allocation through a struct ubc_journal_io, so
 * tests can wrap the production io_uring layer with a fault-injecting one
 * (ubc_journal_fault_*, in the spirit of SQLite's test VFS). Operations are
 * queued, pushed to the kernel by submit(), and reported by reap() as
 * (user_data, result) pairs; result is the byte count or 0, or a negative
 * errno. A write queued with UBC_JOURNAL_IO_LINK makes the next queued
 * operation wait for it and fail with -ECANCELED when it fails or is short
 * (io_uring link semantics; the fault layer imitates them).
 *
 * File-system operations off the data path (creating the next segment,
 * writing a snapshot, removing retired files) go through file_op_queue
 * when the layer has it, so the disk lcore never blocks on them; a layer
 * without it (NULL) makes the journal run them synchronously.
 *
 * Threading: one thread (the disk role's lcore) owns an io object and calls
 * every operation. Memory: the caller owns the struct ubc_journal_uring or
 * struct ubc_journal_fault; nothing here allocates after *_init except the
 * kernel's ring memory, mapped once by ubc_journal_uring_init.
 */
#ifndef UBC_JOURNAL_IO_H
#define UBC_JOURNAL_IO_H

#include <liburing.h>
#include <stdint.h>
#include <sys/uio.h>

#define UBC_JOURNAL_IO_LINK 1u       /* the next queued operation waits for this one */
#define UBC_JOURNAL_IO_FILE_SLOTS 4u /* registered file table size */

struct ubc_journal_io_completion {
    uint64_t user_data;
    int32_t result;
    uint32_t reserved;
};

enum ubc_journal_io_file_op {
    UBC_JOURNAL_IO_OPENAT = 1,    /* fd = dir; name, open_flags, mode -> result = new fd */
    UBC_JOURNAL_IO_FALLOCATE = 2, /* fd; bytes from offset 0, mode 0 */
    UBC_JOURNAL_IO_FSYNC = 3,     /* fd; full fsync (files' metadata, directories) */
    UBC_JOURNAL_IO_WRITE = 4,     /* fd; buf, bytes, offset (any memory) -> bytes written */
    UBC_JOURNAL_IO_RENAMEAT = 5,  /* fd = dir; name -> new_name in the same dir */
    UBC_JOURNAL_IO_UNLINKAT = 6,  /* fd = dir; name */
    UBC_JOURNAL_IO_CLOSE = 7,     /* fd */
};

/* A file-system request; name, new_name and buf must stay valid until it
 * completes (the journal keeps them in its own memory or the caller's blob). */
struct ubc_journal_io_file_request {
    uint32_t op; /* enum ubc_journal_io_file_op */
    int fd;
    const char *name;
    const char *new_name;
    int open_flags;
    uint32_t mode;
    const void *buf;
    uint64_t bytes;
    uint64_t offset;
};

/* Runs a request synchronously: the fallback, and what fault layers use for
 * the requests they do not fail. Returns what the completion would. */
int32_t ubc_journal_io_file_run(const struct ubc_journal_io_file_request *request);

struct ubc_journal_io_ops {
    /* Registers the one buffer arena writes come from. 0 or -errno; on
     * failure writes still work, from unregistered memory. */
    int (*buffers_register)(void *ctx, void *base, uint64_t bytes);
    /* Puts fd into a registered file slot (fd -1 clears it). 0 or -errno. */
    int (*file_register)(void *ctx, uint32_t slot, int fd);
    /* Queues a write of bytes at offset of the file in slot; buf lies in the
     * registered arena. 0, or -EBUSY when the queue is full. */
    int (*write_queue)(void *ctx, uint32_t slot, const void *buf, uint32_t bytes, uint64_t offset,
                       uint64_t user_data, uint32_t flags);
    /* Queues an fdatasync of the file in slot. 0 or -EBUSY. */
    int (*fsync_queue)(void *ctx, uint32_t slot, uint64_t user_data, uint32_t flags);
    /* Hands queued operations to the kernel. Count submitted, or -errno. */
    int (*submit)(void *ctx);
    /* Copies up to max finished operations to out without blocking. */
    uint32_t (*reap)(void *ctx, struct ubc_journal_io_completion *out, uint32_t max);
    /* Blocks until at least one operation finished (close and tests only). */
    int (*wait)(void *ctx);
    /* Reserves bytes for fd (fallocate, mode 0), synchronously. 0 or -errno. */
    int (*allocate)(void *ctx, int fd, uint64_t bytes);
    /* Queues a file-system request, completed through reap like a write.
     * 0 or -EBUSY. May be NULL (the journal then calls
     * ubc_journal_io_file_run itself). */
    int (*file_op_queue)(void *ctx, const struct ubc_journal_io_file_request *request,
                         uint64_t user_data);
};

struct ubc_journal_io {
    const struct ubc_journal_io_ops *ops;
    void *ctx;
};

/* The production layer: one io_uring. */
struct ubc_journal_uring {
    struct io_uring ring;
    uint32_t depth;
    uint32_t queued; /* prepared, not yet submitted */
    int buffers_registered;
    int files_registered;
    int fds[UBC_JOURNAL_IO_FILE_SLOTS]; /* for the unregistered fallback */
    void *arena_base;
    uint64_t arena_bytes;
};

/* depth: submission queue entries (power of two, >= 8); a journal needs at
 * least 2 * (batches_inflight_max + 1) + 2 (a write and an fsync per batch,
 * one segment-preparation write). 0 or -errno (e.g. -ENOSYS or -EPERM where
 * io_uring is unavailable). */
int ubc_journal_uring_init(struct ubc_journal_uring *u, uint32_t depth);
void ubc_journal_uring_fini(struct ubc_journal_uring *u);
struct ubc_journal_io ubc_journal_uring_io(struct ubc_journal_uring *u);

/* The fault-injecting layer: wraps another io and fails chosen operations. */
enum ubc_journal_fault_op {
    UBC_JOURNAL_FAULT_WRITE = 0,
    UBC_JOURNAL_FAULT_FSYNC = 1,
    UBC_JOURNAL_FAULT_ALLOCATE = 2, /* the synchronous allocate and FALLOCATE requests */
    UBC_JOURNAL_FAULT_FILE = 3, /* other file requests: OPENAT, FSYNC, WRITE, RENAMEAT, UNLINKAT */
    UBC_JOURNAL_FAULT_OPS = 4,
};

enum ubc_journal_fault_kind {
    UBC_JOURNAL_FAULT_NONE = 0,
    UBC_JOURNAL_FAULT_ERROR = 1, /* the operation fails with errno_value, nothing written */
    UBC_JOURNAL_FAULT_SHORT = 2, /* a write does only its first half, reports that */
    UBC_JOURNAL_FAULT_TORN = 3,  /* a write puts its first half on disk, reports errno_value */
};

struct ubc_journal_fault_rule {
    enum ubc_journal_fault_kind kind;
    int errno_value;     /* EIO, ENOSPC, EAGAIN, EINTR ... */
    uint64_t nth;        /* 1-based: the nth operation of its kind fails */
    uint32_t persistent; /* 1: every later operation of its kind fails too */
    uint32_t reserved;
};

#define UBC_JOURNAL_FAULT_PENDING_MAX 256u

struct ubc_journal_fault {
    struct ubc_journal_io inner;
    struct ubc_journal_fault_rule rules[UBC_JOURNAL_FAULT_OPS];
    uint64_t counts[UBC_JOURNAL_FAULT_OPS];   /* operations seen, per kind */
    uint64_t injected[UBC_JOURNAL_FAULT_OPS]; /* faults injected, per kind */
    /* Completions made up by the fault layer, delivered by the next reap. */
    struct ubc_journal_io_completion pending[UBC_JOURNAL_FAULT_PENDING_MAX];
    uint32_t pending_count;
    uint32_t cancel_next; /* the previous write was linked and failed */
    uint32_t reserved;
    int fds[UBC_JOURNAL_IO_FILE_SLOTS]; /* for the synchronous half writes */
};

void ubc_journal_fault_init(struct ubc_journal_fault *f, struct ubc_journal_io inner);
void ubc_journal_fault_set(struct ubc_journal_fault *f, enum ubc_journal_fault_op op,
                           struct ubc_journal_fault_rule rule);
struct ubc_journal_io ubc_journal_fault_io(struct ubc_journal_fault *f);

#endif /* UBC_JOURNAL_IO_H */
