/* ubc_link.c: ring creation for role-to-role links (see ubc_link.h). */
#include "common/ubc_link.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_errno.h>

#include "common/ubc_assert.h"

int
ubc_link_create(struct ubc_link *link, const char *name, uint16_t from_role, uint16_t to_role,
                uint32_t size, int socket_id, int multi_producer)
{
    UBC_ASSERT(link != NULL && name != NULL);
    if (size < 2 || (size & (size - 1)) != 0)
        return -EINVAL;
    memset(link, 0, sizeof(*link));
    snprintf(link->name, sizeof(link->name), "%s", name);
    link->from_role = from_role;
    link->to_role = to_role;
    link->multi_producer = multi_producer != 0;
    unsigned flags = RING_F_SC_DEQ;
    flags |= multi_producer ? RING_F_MP_RTS_ENQ : RING_F_SP_ENQ;
    /* RING_F_EXACT_SZ is not used: `size` is a power of two, usable size-1. */
    link->ring = rte_ring_create(link->name, size, socket_id, flags);
    if (link->ring == NULL)
        return -rte_errno;
    return 0;
}

void
ubc_link_destroy(struct ubc_link *link)
{
    if (link->ring != NULL)
        rte_ring_free(link->ring);
    link->ring = NULL;
}

void
ubc_link_stats_read(const struct ubc_link *link, struct ubc_link_stats *out)
{
    out->enqueued = __atomic_load_n(&link->stats.enqueued, __ATOMIC_RELAXED);
    out->dequeued = __atomic_load_n(&link->stats.dequeued, __ATOMIC_RELAXED);
    out->full = __atomic_load_n(&link->stats.full, __ATOMIC_RELAXED);
    out->full_events = __atomic_load_n(&link->stats.full_events, __ATOMIC_RELAXED);
}
