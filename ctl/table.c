#include "table.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

/* Spaces between two columns. */
#define TABLE_GAP 2

struct orch_table {
	size_t ncols;
	size_t nrows;
	size_t cap;                   /* rows allocated */
	char **cells;                 /* nrows * ncols, row by row */
	orch_table_style_fn **styles; /* ncols, NULL for none */
};

int
orch_table_new(size_t ncols, struct orch_table **out)
{
	struct orch_table *t;

	if (ncols == 0)
		return ORCH_EINVAL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return ORCH_ENOMEM;
	if ((t->styles = calloc(ncols, sizeof(*t->styles))) == NULL) {
		free(t);
		return ORCH_ENOMEM;
	}
	t->ncols = ncols;
	*out = t;
	return ORCH_OK;
}

void
orch_table_free(struct orch_table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->styles);
	free(t);
}

int
orch_table_row_add(struct orch_table *t, const char *const *cells)
{
	char **row, **p;
	size_t cap, i;
	int rc = ORCH_ENOMEM;

	if (t->nrows == t->cap) {
		cap = t->cap > 0 ? t->cap * 2 : 16;
		if (cap > SIZE_MAX / sizeof(*p) / t->ncols)
			goto out;
		if ((p = realloc(t->cells, cap * t->ncols * sizeof(*p))) ==
		    NULL)
			goto out;
		t->cells = p;
		t->cap = cap;
	}
	row = t->cells + t->nrows * t->ncols;
	for (i = 0; i < t->ncols; i++) {
		row[i] =
		    orch_table_text_escape(cells[i] != NULL ? cells[i] : "-");
		if (row[i] == NULL) {
			while (i > 0)
				free(row[--i]);
			goto out;
		}
	}
	t->nrows++;
	rc = ORCH_OK;
out:
	return rc;
}

void
orch_table_style_set(struct orch_table *t, size_t col, orch_table_style_fn *fn)
{
	if (col < t->ncols)
		t->styles[col] = fn;
}

int
orch_table_print(const struct orch_table *t, FILE *fp)
{
	size_t *width = NULL, w, last;
	char **row;
	int rc = ORCH_ENOMEM;

	if ((width = calloc(t->ncols, sizeof(*width))) == NULL)
		goto out;
	for (size_t r = 0; r < t->nrows; r++) {
		row = t->cells + r * t->ncols;
		for (size_t c = 0; c < t->ncols; c++) {
			if ((w = orch_table_text_width(row[c])) > width[c])
				width[c] = w;
		}
	}
	for (size_t r = 0; r < t->nrows; r++) {
		row = t->cells + r * t->ncols;
		/* Padding stops at the last non-empty cell: no trailing spaces.
		 */
		last = t->ncols - 1;
		while (last > 0 && row[last][0] == '\0')
			last--;
		for (size_t c = 0; c <= last; c++) {
			const char *sgr = r > 0 && t->styles[c] != NULL
			    ? t->styles[c](row[c])
			    : NULL;

			if (sgr != NULL)
				fputs(sgr, fp);
			fputs(row[c], fp);
			if (sgr != NULL)
				fputs("\033[0m", fp);
			if (c < last) {
				for (w = orch_table_text_width(row[c]);
				     w < width[c] + TABLE_GAP; w++)
					putc(' ', fp);
			}
		}
		putc('\n', fp);
	}
	rc = ferror(fp) ? ORCH_EIO : ORCH_OK;
out:
	free(width);
	return rc;
}

char *
orch_table_text_escape(const char *s)
{
	size_t len = strlen(s), o = 0;
	const unsigned char *p = (const unsigned char *)s;
	char *buf;

	/* The longest escape, \xNN, is four bytes for one. */
	if (len > (SIZE_MAX - 1) / 4 || (buf = malloc(len * 4 + 1)) == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = p[i];

		if (ch == '\n' || ch == '\t' || ch == '\r') {
			buf[o++] = '\\';
			buf[o++] = ch == '\n' ? 'n' : ch == '\t' ? 't' : 'r';
		} else if (ch < 0x20 || ch == 0x7f) {
			o += (size_t)snprintf(buf + o, 5, "\\x%02x", ch);
		} else if (ch == 0xc2 && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f) {
			/* U+0080..U+009F: C1 controls, which some terminals
			 * obey. */
			o += (size_t)snprintf(buf + o, 7, "\\u%04x", p[i + 1]);
			i++;
		} else {
			buf[o++] = (char)ch;
		}
	}
	buf[o] = '\0';
	return buf;
}

size_t
orch_table_text_width(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++) {
		/* Continuation bytes (10xxxxxx) do not start a character. */
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	}
	return n;
}
