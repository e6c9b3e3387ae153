#include "buf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The first allocation: most answers (a task, a short list) fit. */
#define BUF_FIRST 4096

void
orch_buf_init(struct orch_buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max < SIZE_MAX ? max : SIZE_MAX - 1;
}

void
orch_buf_fini(struct orch_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
}

size_t
orch_buf_append(struct orch_buf *b, const void *data, size_t n)
{
	size_t need, cap;
	char *p;

	/* Checked before allocating, so a huge answer never costs memory. */
	if (n > b->max - b->len) {
		b->too_big = true;
		return 0;
	}
	need = b->len + n + 1;
	if (need > b->cap) {
		cap = b->cap > 0 ? b->cap : BUF_FIRST;
		/* Doubling stops at the cap (plus the NUL), never wrapping. */
		while (cap < need)
			cap = cap > b->max / 2 ? b->max + 1 : cap * 2;
		if (cap > b->max + 1)
			cap = b->max + 1;
		if ((p = realloc(b->p, cap)) == NULL) {
			b->nomem = true;
			return 0;
		}
		b->p = p;
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return n;
}

char *
orch_buf_take(struct orch_buf *b)
{
	char *p = b->p;

	b->p = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}
