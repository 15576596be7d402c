/* ubc_journal_fault.c: a fault-injecting I/O layer for tests.
 *
 * It wraps another layer (normally io_uring) and fails the nth write, fsync
 * or allocation, once or from then on. Short and torn writes are done here
 * with a synchronous pwrite of the first half, so the file really holds the
 * partial data a crash or a failing disk would leave.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "common/ubc_assert.h"
#include "storage/ubc_journal_io.h"

static int
fault_fire(struct ubc_journal_fault *f, enum ubc_journal_fault_op op)
{
    f->counts[op]++;
    const struct ubc_journal_fault_rule *rule = &f->rules[op];
    if (rule->kind == UBC_JOURNAL_FAULT_NONE || rule->nth == 0)
        return 0;
    int fire = f->counts[op] == rule->nth || (rule->persistent && f->counts[op] > rule->nth);
    if (fire)
        f->injected[op]++;
    return fire;
}

static void
fault_complete(struct ubc_journal_fault *f, uint64_t user_data, int32_t result)
{
    UBC_ASSERT(f->pending_count < UBC_JOURNAL_FAULT_PENDING_MAX);
    struct ubc_journal_io_completion *c = &f->pending[f->pending_count++];
    c->user_data = user_data;
    c->result = result;
    c->reserved = 0;
}

static int
fault_buffers_register(void *ctx, void *base, uint64_t bytes)
{
    struct ubc_journal_fault *f = ctx;
    return f->inner.ops->buffers_register(f->inner.ctx, base, bytes);
}

static int
fault_file_register(void *ctx, uint32_t slot, int fd)
{
    struct ubc_journal_fault *f = ctx;
    UBC_ASSERT(slot < UBC_JOURNAL_IO_FILE_SLOTS);
    f->fds[slot] = fd;
    return f->inner.ops->file_register(f->inner.ctx, slot, fd);
}

/* Half of a write, rounded down to 512 bytes so O_DIRECT accepts it. */
static uint32_t
fault_half(uint32_t bytes)
{
    return (bytes / 2u) & ~511u;
}

static int
fault_write_queue(void *ctx, uint32_t slot, const void *buf, uint32_t bytes, uint64_t offset,
                  uint64_t user_data, uint32_t flags)
{
    struct ubc_journal_fault *f = ctx;
    if (f->pending_count + 2 > UBC_JOURNAL_FAULT_PENDING_MAX)
        return -EBUSY;
    /* A short write needs something to leave out: tiny writes pass. */
    int too_small =
        f->rules[UBC_JOURNAL_FAULT_WRITE].kind == UBC_JOURNAL_FAULT_SHORT && fault_half(bytes) == 0;
    if (too_small || !fault_fire(f, UBC_JOURNAL_FAULT_WRITE)) {
        f->cancel_next = 0;
        return f->inner.ops->write_queue(f->inner.ctx, slot, buf, bytes, offset, user_data, flags);
    }
    const struct ubc_journal_fault_rule *rule = &f->rules[UBC_JOURNAL_FAULT_WRITE];
    int32_t result = -rule->errno_value;
    if (rule->kind == UBC_JOURNAL_FAULT_SHORT || rule->kind == UBC_JOURNAL_FAULT_TORN) {
        uint32_t half = fault_half(bytes);
        ssize_t done = half == 0 ? 0 : pwrite(f->fds[slot], buf, half, (off_t)offset);
        if (rule->kind == UBC_JOURNAL_FAULT_SHORT)
            result = done < 0 ? -errno : (int32_t)done;
    }
    fault_complete(f, user_data, result);
    /* io_uring cancels the operation linked after a failed or short write. */
    f->cancel_next = (flags & UBC_JOURNAL_IO_LINK) != 0 && result != (int32_t)bytes;
    return 0;
}

static int
fault_fsync_queue(void *ctx, uint32_t slot, uint64_t user_data, uint32_t flags)
{
    struct ubc_journal_fault *f = ctx;
    if (f->pending_count + 2 > UBC_JOURNAL_FAULT_PENDING_MAX)
        return -EBUSY;
    if (f->cancel_next) {
        f->cancel_next = 0;
        fault_complete(f, user_data, -ECANCELED);
        return 0;
    }
    if (fault_fire(f, UBC_JOURNAL_FAULT_FSYNC)) {
        fault_complete(f, user_data, -f->rules[UBC_JOURNAL_FAULT_FSYNC].errno_value);
        return 0;
    }
    return f->inner.ops->fsync_queue(f->inner.ctx, slot, user_data, flags);
}

static int
fault_submit(void *ctx)
{
    struct ubc_journal_fault *f = ctx;
    return f->inner.ops->submit(f->inner.ctx);
}

static uint32_t
fault_reap(void *ctx, struct ubc_journal_io_completion *out, uint32_t max)
{
    struct ubc_journal_fault *f = ctx;
    uint32_t count = 0;
    while (count < max && count < f->pending_count) {
        out[count] = f->pending[count];
        count++;
    }
    if (count > 0) {
        memmove(f->pending, f->pending + count, (f->pending_count - count) * sizeof(f->pending[0]));
        f->pending_count -= count;
    }
    return count + f->inner.ops->reap(f->inner.ctx, out + count, max - count);
}

static int
fault_wait(void *ctx)
{
    struct ubc_journal_fault *f = ctx;
    if (f->pending_count > 0)
        return 0;
    return f->inner.ops->wait(f->inner.ctx);
}

static int
fault_allocate(void *ctx, int fd, uint64_t bytes)
{
    struct ubc_journal_fault *f = ctx;
    if (fault_fire(f, UBC_JOURNAL_FAULT_ALLOCATE))
        return -f->rules[UBC_JOURNAL_FAULT_ALLOCATE].errno_value;
    return f->inner.ops->allocate(f->inner.ctx, fd, bytes);
}

/* FALLOCATE counts as an allocation; OPENAT, FSYNC, WRITE, RENAMEAT and
 * UNLINKAT as file operations (snapshots, segment creation); CLOSE never fails. */
static int
fault_file_op_queue(void *ctx, const struct ubc_journal_io_file_request *r, uint64_t user_data)
{
    struct ubc_journal_fault *f = ctx;
    if (f->pending_count + 1 > UBC_JOURNAL_FAULT_PENDING_MAX)
        return -EBUSY;
    enum ubc_journal_fault_op kind =
        r->op == UBC_JOURNAL_IO_FALLOCATE ? UBC_JOURNAL_FAULT_ALLOCATE : UBC_JOURNAL_FAULT_FILE;
    if (r->op != UBC_JOURNAL_IO_CLOSE && fault_fire(f, kind)) {
        fault_complete(f, user_data, -f->rules[kind].errno_value);
        return 0;
    }
    if (f->inner.ops->file_op_queue != NULL)
        return f->inner.ops->file_op_queue(f->inner.ctx, r, user_data);
    fault_complete(f, user_data, ubc_journal_io_file_run(r));
    return 0;
}

static const struct ubc_journal_io_ops fault_ops = {
    .buffers_register = fault_buffers_register,
    .file_register = fault_file_register,
    .write_queue = fault_write_queue,
    .fsync_queue = fault_fsync_queue,
    .submit = fault_submit,
    .reap = fault_reap,
    .wait = fault_wait,
    .allocate = fault_allocate,
    .file_op_queue = fault_file_op_queue,
};

void
ubc_journal_fault_init(struct ubc_journal_fault *f, struct ubc_journal_io inner)
{
    memset(f, 0, sizeof(*f));
    f->inner = inner;
    for (uint32_t i = 0; i < UBC_JOURNAL_IO_FILE_SLOTS; i++)
        f->fds[i] = -1;
}

void
ubc_journal_fault_set(struct ubc_journal_fault *f, enum ubc_journal_fault_op op,
                      struct ubc_journal_fault_rule rule)
{
    UBC_ASSERT(op < UBC_JOURNAL_FAULT_OPS);
    f->rules[op] = rule;
    f->counts[op] = 0;
}

struct ubc_journal_io
ubc_journal_fault_io(struct ubc_journal_fault *f)
{
    struct ubc_journal_io io = { .ops = &fault_ops, .ctx = f };
    return io;
}
