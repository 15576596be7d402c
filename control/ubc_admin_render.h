/* ubc_admin_render.h: the generic human renderer ubcctl uses for results.
 *
 * Rules: an object prints as aligned "key  value" lines, a nested object as
 * its key then its lines indented by two; an array of objects prints as a
 * table (one column per key, in order of first appearance; numbers right
 * aligned); an array of scalars as "a, b, c"; integers with thousands
 * separators; null and empty containers as "-". Control characters in
 * strings print as '?' so a reply cannot drive the terminal.
 *
 * Threads: none shared. Memory: nothing retained; the caller owns value.
 */
#ifndef UBC_ADMIN_RENDER_H
#define UBC_ADMIN_RENDER_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

/* Writes value to out. Returns 0, or -EIO if writing failed. */
int ubc_admin_render(FILE *out, const json_t *value);

/* Formats one scalar the way the renderer does ("12,345", "0.75", "yes").
 * Containers become compact JSON. Always NUL-terminates; truncates. */
void ubc_admin_render_scalar(char *buffer, size_t cap, const json_t *value);

#endif /* UBC_ADMIN_RENDER_H */
