/* ubc_admin_render.c: see ubc_admin_render.h. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/ubc_assert.h"
#include "control/ubc_admin_render.h"

#define RENDER_CELL_BYTES_MAX 256
#define RENDER_COLUMNS_MAX 32
#define RENDER_DEPTH_MAX 16 /* deeper values print as compact JSON */

/* Inserts a ',' every three digits of the integer part in digits. */
static void
render_group_digits(char *buffer, size_t cap, const char *digits)
{
    size_t out = 0;
    if (*digits == '-' && out + 1 < cap)
        buffer[out++] = *digits++;
    size_t integer = strspn(digits, "0123456789");
    for (size_t i = 0; i < integer && out + 1 < cap; i++) {
        if (i > 0 && (integer - i) % 3 == 0 && out + 2 < cap)
            buffer[out++] = ',';
        buffer[out++] = digits[i];
    }
    for (const char *rest = digits + integer; *rest != '\0' && out + 1 < cap; rest++)
        buffer[out++] = *rest;
    buffer[out] = '\0';
}

static void
render_real(char *buffer, size_t cap, double value)
{
    char digits[64];
    if (!isfinite(value) || fabs(value) >= 1e15 || (value != 0.0 && fabs(value) < 1e-3)) {
        snprintf(buffer, cap, "%.6g", value);
        return;
    }
    snprintf(digits, sizeof(digits), "%.3f", value);
    /* Trailing zeros say nothing: "12.500" -> "12.5", "3.000" -> "3". */
    size_t length = strlen(digits);
    while (length > 0 && digits[length - 1] == '0')
        digits[--length] = '\0';
    if (length > 0 && digits[length - 1] == '.')
        digits[--length] = '\0';
    render_group_digits(buffer, cap, digits);
}

static void
render_clean(char *buffer, size_t cap, const char *text)
{
    size_t out = 0;
    for (; text[out] != '\0' && out + 1 < cap; out++) {
        unsigned char byte = (unsigned char)text[out];
        buffer[out] = (byte < 0x20 || byte == 0x7f) ? '?' : (char)byte;
    }
    buffer[out] = '\0';
}

void
ubc_admin_render_scalar(char *buffer, size_t cap, const json_t *value)
{
    UBC_ASSERT(cap > 0);
    char digits[32];
    switch (json_typeof(value)) {
    case JSON_INTEGER:
        snprintf(digits, sizeof(digits), "%" JSON_INTEGER_FORMAT, json_integer_value(value));
        render_group_digits(buffer, cap, digits);
        break;
    case JSON_REAL: render_real(buffer, cap, json_real_value(value)); break;
    case JSON_STRING: render_clean(buffer, cap, json_string_value(value)); break;
    case JSON_TRUE: snprintf(buffer, cap, "yes"); break;
    case JSON_FALSE: snprintf(buffer, cap, "no"); break;
    case JSON_NULL: snprintf(buffer, cap, "-"); break;
    default: {
        if (json_is_array(value) ? json_array_size(value) == 0 : json_object_size(value) == 0) {
            snprintf(buffer, cap, "-");
            break;
        }
        char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
        render_clean(buffer, cap, text != NULL ? text : "?");
        free(text);
    }
    }
}

static bool
render_is_table(const json_t *value)
{
    if (!json_is_array(value) || json_array_size(value) == 0)
        return false;
    size_t index;
    json_t *element;
    json_array_foreach(value, index, element)
    {
        if (!json_is_object(element))
            return false;
    }
    return true;
}

static bool
render_is_block(const json_t *value, int depth)
{
    if (depth >= RENDER_DEPTH_MAX)
        return false;
    return (json_is_object(value) && json_object_size(value) > 0) || render_is_table(value);
}

/* Scalars and arrays of scalars print on the key's line. */
static void
render_inline(char *buffer, size_t cap, const json_t *value)
{
    if (!json_is_array(value) || json_array_size(value) == 0) {
        ubc_admin_render_scalar(buffer, cap, value);
        return;
    }
    size_t used = 0, index;
    json_t *element;
    buffer[0] = '\0';
    json_array_foreach(value, index, element)
    {
        char cell[RENDER_CELL_BYTES_MAX];
        ubc_admin_render_scalar(cell, sizeof(cell), element);
        int written = snprintf(buffer + used, cap - used, "%s%s", index > 0 ? ", " : "", cell);
        if (written < 0 || (size_t)written >= cap - used)
            break;
        used += (size_t)written;
    }
}

struct render_table {
    const char *keys[RENDER_COLUMNS_MAX];
    size_t widths[RENDER_COLUMNS_MAX];
    bool numeric[RENDER_COLUMNS_MAX];
    size_t count;
    bool records; /* too wide, too many keys, or nested blocks: one block per row */
};

static void render_object(FILE *out, const json_t *object, int indent, int depth, size_t width_max,
                          const char *skip_key);

static size_t
render_table_column(struct render_table *table, const char *key)
{
    size_t column = 0;
    while (column < table->count && strcmp(table->keys[column], key) != 0)
        column++;
    if (column == table->count) {
        if (table->count == RENDER_COLUMNS_MAX) {
            table->records = true;
            return RENDER_COLUMNS_MAX;
        }
        table->keys[table->count] = key;
        table->widths[table->count] = strlen(key);
        table->numeric[table->count++] = true;
    }
    return column;
}

static void
render_table_columns(struct render_table *table, const json_t *rows, int indent, int depth,
                     size_t width_max)
{
    size_t index;
    json_t *row;
    memset(table, 0, sizeof(*table));
    json_array_foreach(rows, index, row)
    {
        const char *key;
        json_t *cell;
        json_object_foreach((json_t *)row, key, cell)
        {
            size_t column = render_table_column(table, key);
            if (render_is_block(cell, depth + 1))
                table->records = true;
            if (column == RENDER_COLUMNS_MAX)
                continue;
            char text[RENDER_CELL_BYTES_MAX];
            render_inline(text, sizeof(text), cell);
            if (strlen(text) > table->widths[column])
                table->widths[column] = strlen(text);
            if (!json_is_number(cell) && !json_is_null(cell))
                table->numeric[column] = false;
        }
    }
    size_t width = (size_t)indent;
    for (size_t c = 0; c < table->count; c++)
        width += table->widths[c] + 2;
    if (width > width_max)
        table->records = true;
}

static void
render_table_row(FILE *out, const struct render_table *table, const json_t *row, int indent)
{
    fprintf(out, "%*s", indent, "");
    for (size_t c = 0; c < table->count; c++) {
        char text[RENDER_CELL_BYTES_MAX];
        json_t *cell = row != NULL ? json_object_get(row, table->keys[c]) : NULL;
        if (row == NULL)
            snprintf(text, sizeof(text), "%s", table->keys[c]); /* the header */
        else
            render_inline(text, sizeof(text), cell != NULL ? cell : json_null());
        bool last = c + 1 == table->count;
        /* No padding after a left-aligned last column: no trailing blanks. */
        int width = last && !table->numeric[c] ? 0 : (int)table->widths[c];
        fprintf(out, table->numeric[c] ? "%*s%s" : "%-*s%s", width, text, last ? "\n" : "  ");
    }
}

/* Rows as blocks: a heading (the first key's value) and the rest indented. */
static void
render_records(FILE *out, const json_t *rows, int indent, int depth, size_t width_max)
{
    size_t index;
    json_t *row;
    json_array_foreach(rows, index, row)
    {
        const char *first = json_object_iter_key(json_object_iter((json_t *)row));
        json_t *head = first != NULL ? json_object_get(row, first) : NULL;
        char heading[RENDER_CELL_BYTES_MAX];
        bool named = head != NULL && (json_is_string(head) || json_is_integer(head));
        if (named)
            ubc_admin_render_scalar(heading, sizeof(heading), head);
        else
            snprintf(heading, sizeof(heading), "[%zu]", index);
        fprintf(out, "%*s%s%s%s\n", indent, "", named ? first : "", named ? " " : "", heading);
        render_object(out, row, indent + 2, depth + 1, width_max, named ? first : NULL);
    }
}

static void
render_table(FILE *out, const json_t *rows, int indent, int depth, size_t width_max)
{
    struct render_table table;
    render_table_columns(&table, rows, indent, depth, width_max);
    if (table.records) {
        render_records(out, rows, indent, depth, width_max);
        return;
    }
    render_table_row(out, &table, NULL, indent);
    size_t index;
    json_t *row;
    json_array_foreach(rows, index, row)
    {
        render_table_row(out, &table, row, indent);
    }
}

static void
render_block(FILE *out, const json_t *value, int indent, int depth, size_t width_max)
{
    if (render_is_table(value))
        render_table(out, value, indent, depth, width_max);
    else
        render_object(out, value, indent, depth, width_max, NULL);
}

static void
render_object(FILE *out, const json_t *object, int indent, int depth, size_t width_max,
              const char *skip_key)
{
    size_t width = 0;
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)object, key, value)
    {
        bool skipped = skip_key != NULL && strcmp(key, skip_key) == 0;
        if (!skipped && !render_is_block(value, depth + 1) && strlen(key) > width)
            width = strlen(key);
    }
    json_object_foreach((json_t *)object, key, value)
    {
        if (skip_key != NULL && strcmp(key, skip_key) == 0)
            continue;
        char clean_key[RENDER_CELL_BYTES_MAX];
        render_clean(clean_key, sizeof(clean_key), key);
        if (render_is_block(value, depth + 1)) {
            fprintf(out, "%*s%s\n", indent, "", clean_key);
            render_block(out, value, indent + 2, depth + 1, width_max);
            continue;
        }
        char text[4096];
        render_inline(text, sizeof(text), value);
        fprintf(out, "%*s%-*s  %s\n", indent, "", (int)width, clean_key, text);
    }
}

int
ubc_admin_render(FILE *out, const json_t *value, size_t width_max)
{
    UBC_ASSERT(out != NULL && value != NULL);
    if (render_is_block(value, 0)) {
        render_block(out, value, 0, 0, width_max);
    } else {
        char text[4096];
        render_inline(text, sizeof(text), value);
        fprintf(out, "%s\n", text);
    }
    return ferror(out) ? -EIO : 0;
}
