/* ubc_records.h: the journal record types the node writes, and their payloads. Plain
 * definitions without DPDK, shared by the disk role and the tools that read journals
 * (ubc-journal audit); docs/storage-format.md lists them.
 */
#ifndef UBC_RECORDS_H
#define UBC_RECORDS_H

#include <stdint.h>

#include "common/ubc_msg.h"

/* Journal record types written by the node. */
enum ubc_record_type {
    UBC_RECORD_JOB_SUBMIT = UBC_MSG_JOB_SUBMIT, /* struct ubc_job_submit, before its ACK */
    UBC_RECORD_JOB_DONE = 0x0101,               /* struct ubc_record_job_done */
    UBC_RECORD_LEDGER_GENESIS = 0x0201, /* ledger journal, first record: the genesis config */
    UBC_RECORD_LEDGER_BATCH = 0x0202,   /* ledger journal: one applied batch, ops and results */
    /* Not a record: the ledger role asks the disk role to write a checkpoint (struct
     * ubc_ledger_checkpoint_header, the genesis record, the ledger's memory image) as the
     * ledger journal's snapshot after its last batch record. */
    UBC_RECORD_LEDGER_CHECKPOINT = 0x0203,
};

#define UBC_LEDGER_CHECKPOINT_MAGIC 0x31504b43474c4255ull /* "UBLGCKP1" */

/* A ledger checkpoint: this header, genesis_bytes of genesis record, then image_bytes of the
 * ledger's memory (position independent: it joins at any address, ledger/ubc_ledger.h). */
struct ubc_ledger_checkpoint_header {
    uint64_t magic;
    uint32_t version;
    uint32_t genesis_bytes;
    uint64_t image_bytes;
    uint64_t height;
};

#define UBC_RECORD_LEDGER_FIRST 0x0200u
#define UBC_RECORD_LEDGER_LAST 0x02ffu

/* Payload of an append whose record lives in the producer's buffer (too
 * large for a message): the producer leaves the buffer alone until the
 * message comes back durable. */
struct ubc_record_external {
    const void *data;
    uint64_t bytes;
};

struct ubc_record_job_done {
    uint64_t job_id;
};

#endif /* UBC_RECORDS_H */
