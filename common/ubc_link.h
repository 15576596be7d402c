/* ubc_link.h: a one-way link between two roles: an rte_ring of pointers to
 * struct ubc_msg, plus counters.
 *
 * Contract: the producer side calls ubc_link_send_burst() from its lcore(s);
 * the consumer side calls ubc_link_recv_burst() from the one lcore that runs
 * the consuming role. A link with a single producer lcore is SP/SC; a link
 * with several producers uses RTS enqueue, because the default MP mode
 * collapses when producers share a core or are preempted (BRIEF.md §6).
 * Messages that do not fit are NOT freed by the link: the sender decides
 * (refuse with "overloaded", retry next poll, or drop and count). Counters
 * are updated once per burst with relaxed atomics; the control thread reads
 * them. The ring memory comes from rte_ring_create at start-up.
 */
#ifndef UBC_LINK_H
#define UBC_LINK_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ring.h>

#include "common/ubc_msg.h"

#define UBC_LINK_NAME_MAX 32

/* DPDK's rings synchronise with barriers ThreadSanitizer cannot see (DPDK is
 * not instrumented): under TSan, tell it that an enqueue releases what the
 * producer wrote and a dequeue acquires it. */
#if defined(__SANITIZE_THREAD__)
void __tsan_acquire(void *address);
void __tsan_release(void *address);
#define UBC_LINK_RELEASE(ring) __tsan_release(ring)
#define UBC_LINK_ACQUIRE(ring) __tsan_acquire(ring)
#else
#define UBC_LINK_RELEASE(ring) ((void)(ring))
#define UBC_LINK_ACQUIRE(ring) ((void)(ring))
#endif

struct ubc_link_stats {
    uint64_t enqueued;
    uint64_t dequeued;
    uint64_t full;        /* messages refused because the ring was full */
    uint64_t full_events; /* bursts that met a full ring */
};

struct ubc_link {
    char name[UBC_LINK_NAME_MAX];
    struct rte_ring *ring;
    uint16_t from_role;
    uint16_t to_role;
    bool multi_producer;
    struct ubc_link_stats stats __attribute__((aligned(64)));
};

/* Creates the ring of `size` slots (power of two) on `socket_id`.
 * multi_producer selects RTS enqueue. Returns 0 or a negative errno. */
int ubc_link_create(struct ubc_link *link, const char *name, uint16_t from_role, uint16_t to_role,
                    uint32_t size, int socket_id, int multi_producer);

void ubc_link_destroy(struct ubc_link *link);

/* Adds to a counter only one thread writes: a relaxed load and store (the
 * control thread reads it atomically), not a locked add, which costs a
 * pipeline drain per burst on x86. */
static inline void
ubc_link_count_own(uint64_t *counter, uint64_t n)
{
    __atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

/* Enqueues up to n messages; returns how many went in (the rest are the
 * caller's). */
static inline uint32_t
ubc_link_send_burst(struct ubc_link *link, struct ubc_msg *const *msgs, uint32_t n)
{
    UBC_LINK_RELEASE(link->ring);
    uint32_t sent = rte_ring_enqueue_burst(link->ring, (void *const *)msgs, n, NULL);
    if (sent > 0 && !link->multi_producer)
        ubc_link_count_own(&link->stats.enqueued, sent);
    else if (sent > 0)
        __atomic_fetch_add(&link->stats.enqueued, sent, __ATOMIC_RELAXED);
    if (sent < n) {
        __atomic_fetch_add(&link->stats.full, n - sent, __ATOMIC_RELAXED);
        __atomic_fetch_add(&link->stats.full_events, 1, __ATOMIC_RELAXED);
    }
    return sent;
}

/* Dequeues up to n messages; returns the count. Single consumer. */
static inline uint32_t
ubc_link_recv_burst(struct ubc_link *link, struct ubc_msg **msgs, uint32_t n)
{
    uint32_t got = rte_ring_dequeue_burst(link->ring, (void **)msgs, n, NULL);
    UBC_LINK_ACQUIRE(link->ring);
    if (got > 0)
        ubc_link_count_own(&link->stats.dequeued, got); /* one consumer */
    return got;
}

static inline uint32_t
ubc_link_count(const struct ubc_link *link)
{
    return rte_ring_count(link->ring);
}

void ubc_link_stats_read(const struct ubc_link *link, struct ubc_link_stats *out);

#endif /* UBC_LINK_H */
