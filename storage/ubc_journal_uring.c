/* ubc_journal_uring.c: the production I/O layer (liburing 2.3).
 *
 * Registered buffers and files are an optimisation, not a requirement: when
 * registration fails (RLIMIT_MEMLOCK, old kernels) the layer falls back to
 * plain fds and buffers, and the journal logs that once.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "common/ubc_assert.h"
#include "storage/ubc_journal_io.h"

static int
uring_buffers_register(void *ctx, void *base, uint64_t bytes)
{
    struct ubc_journal_uring *u = ctx;
    if (u->buffers_registered)
        io_uring_unregister_buffers(&u->ring); /* a journal opened again */
    u->arena_base = base;
    u->arena_bytes = bytes;
    struct iovec iov = { .iov_base = base, .iov_len = bytes };
    int rc = io_uring_register_buffers(&u->ring, &iov, 1);
    u->buffers_registered = rc == 0;
    return rc;
}

static int
uring_file_register(void *ctx, uint32_t slot, int fd)
{
    struct ubc_journal_uring *u = ctx;
    UBC_ASSERT(slot < UBC_JOURNAL_IO_FILE_SLOTS);
    u->fds[slot] = fd;
    if (!u->files_registered)
        return 0;
    int rc = io_uring_register_files_update(&u->ring, slot, &fd, 1);
    return rc == 1 ? 0 : (rc < 0 ? rc : -EIO);
}

/* A full submission queue is not flushed here: flushing between a write and
 * the fsync linked to it would cut the link and let the fsync run before the
 * write. The caller gets -EBUSY and retries after its next submit; the journal
 * then syncs a batch only once its write has completed. */
static struct io_uring_sqe *
uring_sqe_get(struct ubc_journal_uring *u)
{
    return io_uring_get_sqe(&u->ring);
}

static void
uring_sqe_finish(struct ubc_journal_uring *u, struct io_uring_sqe *sqe, uint32_t slot,
                 uint64_t user_data, uint32_t flags)
{
    uint8_t sqe_flags = 0;
    if (u->files_registered) {
        sqe->fd = (int)slot;
        sqe_flags |= IOSQE_FIXED_FILE;
    }
    if (flags & UBC_JOURNAL_IO_LINK)
        sqe_flags |= IOSQE_IO_LINK;
    io_uring_sqe_set_flags(sqe, sqe_flags);
    io_uring_sqe_set_data64(sqe, user_data);
    u->queued++;
}

static int
uring_write_queue(void *ctx, uint32_t slot, const void *buf, uint32_t bytes, uint64_t offset,
                  uint64_t user_data, uint32_t flags)
{
    struct ubc_journal_uring *u = ctx;
    UBC_ASSERT(slot < UBC_JOURNAL_IO_FILE_SLOTS);
    UBC_ASSERT(u->fds[slot] >= 0);
    struct io_uring_sqe *sqe = uring_sqe_get(u);
    if (sqe == NULL)
        return -EBUSY;
    const uint8_t *p = buf;
    const uint8_t *base = u->arena_base;
    if (u->buffers_registered && p >= base && p + bytes <= base + u->arena_bytes)
        io_uring_prep_write_fixed(sqe, u->fds[slot], buf, bytes, offset, 0);
    else
        io_uring_prep_write(sqe, u->fds[slot], buf, bytes, offset);
    uring_sqe_finish(u, sqe, slot, user_data, flags);
    return 0;
}

static int
uring_fsync_queue(void *ctx, uint32_t slot, uint64_t user_data, uint32_t flags)
{
    struct ubc_journal_uring *u = ctx;
    UBC_ASSERT(slot < UBC_JOURNAL_IO_FILE_SLOTS);
    UBC_ASSERT(u->fds[slot] >= 0);
    struct io_uring_sqe *sqe = uring_sqe_get(u);
    if (sqe == NULL)
        return -EBUSY;
    io_uring_prep_fsync(sqe, u->fds[slot], IORING_FSYNC_DATASYNC);
    uring_sqe_finish(u, sqe, slot, user_data, flags);
    return 0;
}

static int
uring_submit(void *ctx)
{
    struct ubc_journal_uring *u = ctx;
    if (u->queued == 0)
        return 0;
    int rc;
    do {
        rc = io_uring_submit(&u->ring);
    } while (rc == -EINTR);
    if (rc >= 0)
        u->queued = 0;
    /* -EAGAIN / -EBUSY: the kernel is short of resources or the completion
     * queue is full; the entries stay queued and the next submit retries. */
    if (rc == -EAGAIN || rc == -EBUSY)
        return 0;
    return rc;
}

static uint32_t
uring_reap(void *ctx, struct ubc_journal_io_completion *out, uint32_t max)
{
    struct ubc_journal_uring *u = ctx;
    uint32_t count = 0;
    while (count < max) {
        struct io_uring_cqe *cqe;
        if (io_uring_peek_cqe(&u->ring, &cqe) != 0)
            break;
        out[count].user_data = io_uring_cqe_get_data64(cqe);
        out[count].result = cqe->res;
        out[count].reserved = 0;
        io_uring_cqe_seen(&u->ring, cqe);
        count++;
    }
    return count;
}

static int
uring_wait(void *ctx)
{
    struct ubc_journal_uring *u = ctx;
    struct io_uring_cqe *cqe;
    if (io_uring_peek_cqe(&u->ring, &cqe) == 0)
        return 0;
    /* Submits what is still queued, so the wait cannot be for nothing. */
    int rc;
    do {
        rc = io_uring_submit_and_wait(&u->ring, 1);
    } while (rc == -EINTR);
    if (rc >= 0)
        u->queued = 0;
    return rc < 0 ? rc : 0;
}

static int
uring_allocate(void *ctx, int fd, uint64_t bytes)
{
    (void)ctx;
    int rc = fallocate(fd, 0, 0, (off_t)bytes); /* lint:allow segment creation, not per record */
    return rc == 0 ? 0 : -errno;
}

int32_t
ubc_journal_io_file_run(const struct ubc_journal_io_file_request *r)
{
    int rc = -1;
    switch (r->op) {
    case UBC_JOURNAL_IO_OPENAT: rc = openat(r->fd, r->name, r->open_flags, r->mode); break;
    case UBC_JOURNAL_IO_FALLOCATE:
        rc = fallocate(r->fd, 0, (off_t)r->offset, (off_t)r->bytes);
        break;
    case UBC_JOURNAL_IO_FSYNC: rc = fsync(r->fd); break; /* lint:allow synchronous fallback */
    case UBC_JOURNAL_IO_WRITE: {
        size_t bytes = r->bytes > (1u << 30) ? (1u << 30) : (size_t)r->bytes;
        ssize_t done = pwrite(r->fd, r->buf, bytes, (off_t)r->offset); /* lint:allow fallback */
        return done < 0 ? -errno : (int32_t)done;
    }
    case UBC_JOURNAL_IO_RENAMEAT: rc = renameat(r->fd, r->name, r->fd, r->new_name); break;
    case UBC_JOURNAL_IO_UNLINKAT: rc = unlinkat(r->fd, r->name, 0); break;
    case UBC_JOURNAL_IO_CLOSE: rc = close(r->fd); break;
    default: return -EINVAL;
    }
    return rc < 0 ? -errno : rc;
}

static int
uring_file_op_queue(void *ctx, const struct ubc_journal_io_file_request *r, uint64_t user_data)
{
    struct ubc_journal_uring *u = ctx;
    struct io_uring_sqe *sqe = uring_sqe_get(u);
    if (sqe == NULL)
        return -EBUSY;
    switch (r->op) {
    case UBC_JOURNAL_IO_OPENAT:
        io_uring_prep_openat(sqe, r->fd, r->name, r->open_flags, r->mode);
        break;
    case UBC_JOURNAL_IO_FALLOCATE:
        io_uring_prep_fallocate(sqe, r->fd, 0, r->offset, r->bytes);
        break;
    case UBC_JOURNAL_IO_FSYNC: io_uring_prep_fsync(sqe, r->fd, 0); break;
    case UBC_JOURNAL_IO_WRITE: {
        uint32_t bytes = r->bytes > (1u << 30) ? (1u << 30) : (uint32_t)r->bytes;
        io_uring_prep_write(sqe, r->fd, r->buf, bytes, r->offset);
        break;
    }
    case UBC_JOURNAL_IO_RENAMEAT:
        io_uring_prep_renameat(sqe, r->fd, r->name, r->fd, r->new_name, 0);
        break;
    case UBC_JOURNAL_IO_UNLINKAT: io_uring_prep_unlinkat(sqe, r->fd, r->name, 0); break;
    case UBC_JOURNAL_IO_CLOSE: io_uring_prep_close(sqe, r->fd); break;
    default: UBC_ASSERT(0 && "unknown file op");
    }
    io_uring_sqe_set_flags(sqe, 0); /* a plain fd, never linked */
    io_uring_sqe_set_data64(sqe, user_data);
    u->queued++;
    return 0;
}

static const struct ubc_journal_io_ops uring_ops = {
    .buffers_register = uring_buffers_register,
    .file_register = uring_file_register,
    .write_queue = uring_write_queue,
    .fsync_queue = uring_fsync_queue,
    .submit = uring_submit,
    .reap = uring_reap,
    .wait = uring_wait,
    .allocate = uring_allocate,
    .file_op_queue = uring_file_op_queue,
};

int
ubc_journal_uring_init(struct ubc_journal_uring *u, uint32_t depth)
{
    if (depth < 8 || (depth & (depth - 1)) != 0)
        return -EINVAL;
    memset(u, 0, sizeof(*u));
    u->depth = depth;
    for (uint32_t i = 0; i < UBC_JOURNAL_IO_FILE_SLOTS; i++)
        u->fds[i] = -1;
    /* Completions wait for the disk lcore's next io_uring call instead of
     * interrupting it (an IPI and a task_work run per write otherwise); the
     * flag tells a peek that a call is due. Kernels before 5.19 refuse the
     * flags: plain setup then. */
    int rc =
        io_uring_queue_init(depth, &u->ring, IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG);
    if (rc == -EINVAL)
        rc = io_uring_queue_init(depth, &u->ring, 0);
    if (rc < 0)
        return rc;
    int sparse[UBC_JOURNAL_IO_FILE_SLOTS];
    for (uint32_t i = 0; i < UBC_JOURNAL_IO_FILE_SLOTS; i++)
        sparse[i] = -1;
    u->files_registered = io_uring_register_files(&u->ring, sparse, UBC_JOURNAL_IO_FILE_SLOTS) == 0;
    return 0;
}

void
ubc_journal_uring_fini(struct ubc_journal_uring *u)
{
    io_uring_queue_exit(&u->ring);
    memset(u, 0, sizeof(*u));
}

struct ubc_journal_io
ubc_journal_uring_io(struct ubc_journal_uring *u)
{
    struct ubc_journal_io io = { .ops = &uring_ops, .ctx = u };
    return io;
}
