/* ubc_admission.h: the sched role's table of jobs waiting for their ACK.
 *
 * A submitted job is acknowledged only when two things hold: its journal
 * record is durable (disk role) and its escrow is locked (ledger role). The
 * two answers come back in either order; this table joins them by job id.
 * Open addressing with linear probing and backward-shift deletion, fixed
 * capacity chosen at start-up; used by the sched lcore only.
 */
#ifndef UBC_ADMISSION_H
#define UBC_ADMISSION_H

#include <stddef.h>
#include <stdint.h>

#include "common/ubc_msg.h"

enum ubc_escrow_state {
    UBC_ESCROW_UNKNOWN = 0, /* the ledger has not answered */
    UBC_ESCROW_LOCKED = 1,  /* locked, or no escrow was needed */
    UBC_ESCROW_REFUSED = 2, /* the ledger refused the lock (funds, paused...) */
};

struct ubc_admission {
    uint64_t job_id;         /* 0: empty slot */
    struct ubc_msg *durable; /* the request back from the disk role, once durable */
    uint16_t escrow_error;   /* enum ubc_err of a refused lock */
    uint8_t escrow;          /* enum ubc_escrow_state */
    uint8_t sent_unparked;   /* an assignment left before the escrow was locked (FIFO full) */
    uint8_t reserved;
    uint16_t parked; /* the job's outputs waiting in the sched role's parked FIFO */
    uint16_t reserved2;
};

struct ubc_admission_table {
    uint32_t mask;
    uint32_t used;
    uint32_t used_max;
    uint32_t reserved;
    struct ubc_admission slots[];
};

size_t ubc_admission_footprint(uint32_t capacity);
struct ubc_admission_table *ubc_admission_new(void *memory, uint32_t capacity);

/* The entry of job_id, added if absent; NULL when the table is full. */
struct ubc_admission *ubc_admission_upsert(struct ubc_admission_table *table, uint64_t job_id);
/* The entry of job_id, or NULL. */
struct ubc_admission *ubc_admission_find(struct ubc_admission_table *table, uint64_t job_id);
/* Removes an entry returned by upsert/find. */
void ubc_admission_remove(struct ubc_admission_table *table, struct ubc_admission *entry);

#endif /* UBC_ADMISSION_H */
