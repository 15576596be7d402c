/* ubc_admin_render.h: the generic human renderer ubcctl uses for results.
 *
 * Rules: an object prints as aligned "key  value" lines, a nested object as
 * its key then its lines indented by two; an array of objects prints as a
 * table (one column per key, in order of first appearance; numbers right
 * aligned), unless the table would be wider than width_max or a row holds
 * nested objects: then each row prints as a block headed by its first key
 * ("name net_tap0") with the rest indented; an array of scalars prints as
 * "a, b, c"; integers with thousands separators; booleans as yes/no; null
 * and empty containers as "-". Control characters in strings print as '?'
 * so a reply cannot drive the terminal.
 *
 * Threads: none shared. Memory: nothing retained; the caller owns value.
 */
#ifndef UBC_ADMIN_RENDER_H
#define UBC_ADMIN_RENDER_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

/* Writes value to out, tables at most width_max columns wide. Returns 0, or
 * -EIO if writing failed. */
int ubc_admin_render(FILE *out, const json_t *value, size_t width_max);

/* Formats one scalar the way the renderer does ("12,345", "0.75", "yes").
 * Containers become compact JSON. Always NUL-terminates; truncates. */
void ubc_admin_render_scalar(char *buffer, size_t cap, const json_t *value);

#endif /* UBC_ADMIN_RENDER_H */
