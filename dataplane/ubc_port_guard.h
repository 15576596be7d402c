/* ubc_port_guard.h: keeps a driver from tearing down a link under a net lcore
 * that is inside an rx/tx burst on it (a peer leaving a memif link).
 *
 * Why: DPDK 22.11's net_memif tears a link down from the EAL interrupt
 * thread when the peer leaves (memif_disconnect): it clears its CONNECTED
 * flag with a plain store and, with no barrier and no wait, closes the
 * queues' event fds and munmaps the peer's regions (memif_free_regions),
 * frees the region structs and NULLs their pointers. A burst already past
 * its CONNECTED test then reads or writes unmapped rings: SIGSEGV. The
 * driver raises no link-state event (RTE_ETH_EVENT_INTR_LSC) at all, so a
 * callback cannot help; docs/operations.md, "A peer leaving a memif link".
 *
 * What: a quiescent-state handshake. Each thread that polls the port is a
 * poller with an epoch, odd while it is inside its port section (every
 * rx/tx burst of one ubc_net_poll), even outside. The driver's own calls
 * to close, munmap and mmap (its GOT entries, patched by ubc_port_guard_hook
 * in the driver's shared object only; nothing else in the process is
 * touched) go through the guard first: before the driver closes or unmaps
 * anything, the guard waits until every poller that was inside its section
 * has left it (a grace period). A burst that starts after that sees the
 * CONNECTED flag cleared (the flag store precedes the hook, a fence follows
 * it; the poller's entry store is sequentially consistent) and returns 0.
 *
 * Threads: ubc_port_guard_init and ubc_port_guard_hook on the main thread
 * at start-up, before any poller runs; enter/leave on the poller's own
 * lcore (no system call, no lock: two stores); the hooks run on whatever
 * thread the driver calls them from (the interrupt thread; the main thread
 * at port close, when the pollers have stopped); stats are read by the
 * control thread (aligned 64-bit words). The guard is caller-owned memory
 * that must outlive the port (it lives in struct ubc_net_port).
 */
#ifndef UBC_PORT_GUARD_H
#define UBC_PORT_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UBC_PORT_GUARD_POLLERS_MAX 16
#define UBC_PORT_GUARDS_MAX 8 /* ports guarded in one process */

struct ubc_port_guard_poller {
    uint64_t epoch; /* odd: inside the port section */
} __attribute__((aligned(64)));

struct ubc_port_guard_stats {
    uint64_t link_downs;    /* teardowns of a link the driver had mapped */
    uint64_t grace_periods; /* driver close/munmap calls that checked the pollers */
    uint64_t grace_waits;   /* ... of which found a poller inside and waited */
    uint64_t grace_wait_ns_max;
    uint64_t grace_wait_ns_total;
};

struct ubc_port_guard {
    uint32_t poller_count;
    bool hooked;       /* the driver's close/munmap/mmap go through the guard */
    uint32_t armed;    /* the driver mapped a link since the last link down */
    char library[128]; /* the shared object that was patched */
    struct ubc_port_guard_stats stats;
    struct ubc_port_guard_poller pollers[UBC_PORT_GUARD_POLLERS_MAX];
};

void ubc_port_guard_init(struct ubc_port_guard *guard);

/* Start-up: a poller slot for one lcore; NULL when all are taken. */
struct ubc_port_guard_poller *ubc_port_guard_poller_add(struct ubc_port_guard *guard);

/* Adds the guard to those the hooks wait for (ubc_port_guard_hook does it;
 * tests call it directly). Returns 0 or -ENOSPC. */
int ubc_port_guard_register(struct ubc_port_guard *guard);

/* Registers the guard and patches close/munmap/mmap in the loaded shared object whose path contains
 * library_part (e.g. "librte_net_memif") so that they go through every
 * registered guard. Returns 0, -ENOENT (no such object loaded: a driver
 * linked statically, nothing patched), -ENOSPC (too many guards) or
 * another negative errno. Idempotent per object. */
int ubc_port_guard_hook(struct ubc_port_guard *guard, const char *library_part);

/* The poller enters its port section: sequentially consistent, so that the
 * teardown side either sees it inside or it sees the teardown's flag. */
static inline void
ubc_port_guard_enter(struct ubc_port_guard_poller *poller)
{
    if (poller != NULL)
        __atomic_store_n(&poller->epoch, poller->epoch + 1, __ATOMIC_SEQ_CST);
}

static inline void
ubc_port_guard_leave(struct ubc_port_guard_poller *poller)
{
    if (poller != NULL)
        __atomic_store_n(&poller->epoch, poller->epoch + 1, __ATOMIC_RELEASE);
}

/* Port close (main thread, after the driver was closed): the hooks stop
 * looking at this guard; they stay in the driver (harmless without guards). */
void ubc_port_guard_release(struct ubc_port_guard *guard);

/* Waits until every poller of every registered guard that is inside its
 * section has left it. What the hooks call; callable directly (tests). Must
 * not be called by a poller from inside its section. */
void ubc_port_guard_synchronize(void);

#endif /* UBC_PORT_GUARD_H */
