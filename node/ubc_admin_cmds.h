/* ubc_admin_cmds.h: the node's admin commands (status, stats, lcores,
 * ports, rings, log-level, shutdown, ...) registered on the admin socket of
 * control/. Handlers run on the control thread: they read counters
 * directly and reach a role's state only through its control mailbox.
 */
#ifndef UBC_ADMIN_CMDS_H
#define UBC_ADMIN_CMDS_H

#include <stddef.h>

#include "control/ubc_admin.h"
#include "node/ubc_node.h"

/* One admin command of the node: registered on the socket at start. */
struct ubc_admin_command {
    const char *name;
    const char *usage;
    const char *help;
    ubc_admin_fn fn;
};

/* The sched role's commands (ubc_admin_sched.c). */
const struct ubc_admin_command *ubc_admin_sched_commands(uint32_t *count);
/* The ledger role's commands (ubc_admin_ledger.c). */
const struct ubc_admin_command *ubc_admin_ledger_commands(uint32_t *count);

/* Creates the admin socket, registers the commands, starts the thread. */
int ubc_admin_cmds_start(struct ubc_node *node, char *error, size_t error_cap);
void ubc_admin_cmds_stop(struct ubc_node *node);

#endif /* UBC_ADMIN_CMDS_H */
