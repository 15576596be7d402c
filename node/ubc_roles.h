/* ubc_roles.h: the run-loop callbacks of each role, and the control
 * mailbox. ubc_roles_init() runs on the main thread at start-up after the
 * links, the port and the net role exist; ubc_roles_ops() hands the run loop
 * the callbacks of one role.
 */
#ifndef UBC_ROLES_H
#define UBC_ROLES_H

#include <stddef.h>

#include "common/ubc_loop.h"
#include "node/ubc_node.h"

int ubc_roles_init(struct ubc_node *node, char *error, size_t error_cap);
void ubc_roles_fini(struct ubc_node *node);
void ubc_roles_ops(struct ubc_node *node, uint32_t role, struct ubc_role_ops *ops);

/* Frees a burst of messages back to the pool and counts them as handled. */
void ubc_roles_consume(struct ubc_role_state *state, struct ubc_msg **msgs, uint32_t n);

#endif /* UBC_ROLES_H */
