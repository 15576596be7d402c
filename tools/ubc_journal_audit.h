/* ubc_journal_audit.h: `ubc-journal audit DIR`: replays a node's ledger
 * journal (<data>/ledger) from its genesis record, applying every batch
 * again with the ledger's own code and comparing each batch's results and
 * state hash with what the node journaled; prints a checkpoint (height,
 * state hash, BLAKE2b digest of the whole state) every `every` batches and
 * stops at the first divergence, naming the batch. An audit anyone with the
 * journal can run: it needs neither the node nor its config. Segments a
 * ledger checkpoint retired live on in the archive directory: the audit
 * reads the union of both (symbolic links in a temporary directory) and
 * ignores the checkpoints themselves, so it always starts from genesis.
 * Single-threaded command-line code; it allocates freely.
 * Returns 0 (every batch matches, supply conserved), 1 (a divergence, a
 * malformed record or corruption), 2 (usage or I/O).
 */
#ifndef UBC_JOURNAL_AUDIT_H
#define UBC_JOURNAL_AUDIT_H

#include <stdbool.h>
#include <stdint.h>

struct ubc_journal_audit_options {
    uint64_t every; /* checkpoint every this many batches; 0: only the final one */
    bool json;
    /* Table sizes at least this large (a node whose ledger.accounts_max or sched.max_jobs grew
     * since the journal began); 0: the genesis record's. */
    uint32_t accounts_max;
    uint32_t escrows_max;
    /* Where the node keeps segments its checkpoints retired (<data>/ledger-archive); NULL:
     * the sibling of DIR named ledger-archive, when it exists. */
    const char *archive;
};

int ubc_journal_audit(const char *dir, const struct ubc_journal_audit_options *options);

#endif /* UBC_JOURNAL_AUDIT_H */
