#include "trail.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "color.h"
#include "print.h"
#include "table.h"

#define ARROW " -> "
#define ELLIPSIS "..."

bool
orch_trail_add(struct orch_trail *t, const char *text)
{
	char *esc = orch_table_text_escape(text);
	const char *s = esc != NULL ? esc : "?";
	char step[ORCH_TRAIL_STEP_MAX];

	orch_print_cut(s, (ORCH_TRAIL_STEP_MAX - 1) / 4, step, sizeof(step));
	free(esc);
	if (t->n > 0 && strcmp(t->steps[t->n - 1], step) == 0)
		return false;
	if (t->n == ORCH_TRAIL_STEPS) {
		memmove(t->steps[0], t->steps[1],
		    (ORCH_TRAIL_STEPS - 1) * sizeof(t->steps[0]));
		t->n--;
		t->dropped++;
	}
	snprintf(t->steps[t->n++], sizeof(t->steps[0]), "%s", step);
	return true;
}

const char *
orch_trail_last(const struct orch_trail *t)
{
	return t->n > 0 ? t->steps[t->n - 1] : "";
}

const char *
orch_trail_elapsed(int64_t ms, char *buf, size_t len)
{
	if (ms < 0)
		ms = 0;
	if (ms < 60000)
		snprintf(buf, len, "%lld.%llds", (long long)(ms / 1000),
		    (long long)(ms % 1000 / 100));
	else
		snprintf(buf, len, "%lldm%02llds", (long long)(ms / 60000),
		    (long long)(ms % 60000 / 1000));
	return buf;
}

/* A growing line in buf; what passes its end is dropped. */
struct line {
	char *p;
	size_t len, n;
};

static void
add(struct line *l, const char *s)
{
	size_t k = strlen(s);

	if (l->len == 0)
		return;
	if (k > l->len - 1 - l->n)
		k = l->len - 1 - l->n;
	memcpy(l->p + l->n, s, k);
	l->n += k;
	l->p[l->n] = '\0';
}

size_t
orch_trail_render(const struct orch_trail *t, const char *name,
    int64_t elapsed_ms, bool color, size_t width, char *buf, size_t len)
{
	struct line l = {.p = buf, .len = len};
	char el[32], nm[4 * 40 + 1], *esc = orch_table_text_escape(name);
	size_t first = 0, cols, ncols, stepcols;

	orch_trail_elapsed(elapsed_ms, el, sizeof(el));
	/* A name longer than 40 columns is cut: the steps matter more. */
	orch_print_cut(esc != NULL ? esc : "?", 40, nm, sizeof(nm));
	free(esc);
	ncols = orch_table_text_width(nm);
	/* Drop the oldest steps until the line fits. */
	for (;;) {
		stepcols = 0;
		for (size_t i = first; i < t->n; i++)
			stepcols += orch_table_text_width(t->steps[i]) +
			    (i > first ? strlen(ARROW) : 0);
		if (first > 0 || t->dropped > 0)
			stepcols += strlen(ELLIPSIS ARROW);
		cols = ncols + 2 + stepcols + 2 + strlen(el);
		if (width == 0 || cols <= width || first + 1 >= t->n)
			break;
		first++;
	}
	if (len > 0)
		buf[0] = '\0';
	add(&l, nm);
	add(&l, "  ");
	if (first > 0 || t->dropped > 0)
		add(&l, ELLIPSIS ARROW);
	for (size_t i = first; i < t->n; i++) {
		const char *sgr = color ? orch_color_status(t->steps[i]) : NULL;

		if (i > first)
			add(&l, ARROW);
		if (sgr != NULL)
			add(&l, sgr);
		add(&l, t->steps[i]);
		if (sgr != NULL)
			add(&l, ORCH_COLOR_RESET);
	}
	add(&l, "  ");
	add(&l, el);
	return cols;
}
