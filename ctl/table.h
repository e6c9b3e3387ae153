/*
 * table.h: borderless text tables, as orchctl list prints them.
 *
 *   NAME  ID        IMAGE         STATUS
 *   web   3f2a9c1e  nginx:latest  Running
 *
 * Each column is as wide as its widest cell, columns are two spaces apart,
 * and no line ends in a space.  Text from the manager is escaped on the way
 * in, so that a task name cannot move the cursor or break a row.
 */
#ifndef ORCH_CTL_TABLE_H
#define ORCH_CTL_TABLE_H

#include <stddef.h>
#include <stdio.h>

struct orch_table;

/* Creates a table of ncols columns (at least 1) with no rows.
 * Returns ORCH_OK, ORCH_EINVAL or ORCH_ENOMEM. */
int orch_table_new(size_t ncols, struct orch_table **out /* OUT */);

/* Frees a table and its cells.  NULL is a no-op. */
void orch_table_free(struct orch_table *t);

/* Appends a row of ncols cells; a NULL cell prints as "-".  The table keeps
 * escaped copies.  Returns ORCH_OK or ORCH_ENOMEM (the table is unchanged). */
int orch_table_row_add(struct orch_table *t, const char *const *cells);

/* The SGR sequence to colour a cell with (color.h), or NULL: none. */
typedef const char *orch_table_style_fn(const char *cell);

/* Colours the cells of column col, but the first row's (the head), as fn
 * says; the colour does not count in the column's width.  fn NULL: no
 * colour (the default). */
void orch_table_style_set(
    struct orch_table *t, size_t col, orch_table_style_fn *fn);

/* Writes every row to fp.  Returns ORCH_OK or ORCH_EIO. */
int orch_table_print(const struct orch_table *t, FILE *fp);

/*
 * Returns a malloc'd copy of s that is safe to print on a terminal: control
 * characters (C0, DEL and C1) become \n, \t, \r or \xNN / \u00NN escapes.
 * NULL when out of memory.
 */
char *orch_table_text_escape(const char *s);

/* The number of columns s takes on a terminal: its UTF-8 code points.
 * Wide (East Asian) characters count as one. */
size_t orch_table_text_width(const char *s);

#endif
