/* ubc_start.h: building and tearing down the node (main thread only).
 *
 * ubc_node_start(): message pool, links, port, net role, other roles, and
 * the per-lcore loops from the role map. ubc_node_launch(): runs the loops
 * (the main lcore's loop, if any, on the calling thread) and returns when all
 * have stopped. ubc_node_stop(): ports, pools, rings.
 */
#ifndef UBC_START_H
#define UBC_START_H

#include <stddef.h>

#include "node/ubc_node.h"

int ubc_node_start(struct ubc_node *node, char *error, size_t error_cap);
int ubc_node_launch(struct ubc_node *node);
void ubc_node_stop(struct ubc_node *node);

const char *ubc_link_name(enum ubc_link_id link);

#endif /* UBC_START_H */
