#include "color.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"

#define GREEN "\033[32m"
#define YELLOW "\033[33m"
#define RED "\033[31m"
#define DIM "\033[2m"

int
orch_color_mode_parse(const char *s, enum orch_color_mode *mode)
{
	if (strcmp(s, "auto") == 0)
		*mode = ORCH_COLOR_AUTO;
	else if (strcmp(s, "always") == 0)
		*mode = ORCH_COLOR_ALWAYS;
	else if (strcmp(s, "never") == 0)
		*mode = ORCH_COLOR_NEVER;
	else
		return ORCH_EINVAL;
	return ORCH_OK;
}

bool
orch_color_use(enum orch_color_mode mode, int fd)
{
	const char *no = getenv("NO_COLOR"), *term = getenv("TERM");

	if (mode != ORCH_COLOR_AUTO)
		return mode == ORCH_COLOR_ALWAYS;
	if ((no != NULL && no[0] != '\0') ||
	    (term != NULL && strcmp(term, "dumb") == 0))
		return false;
	return isatty(fd) == 1;
}

const char *
orch_color_status(const char *s)
{
	static const struct {
		const char *word;
		const char *sgr;
	} table[] = {
	    {"Running", GREEN},
	    {"Completed", GREEN},
	    {"Ready", GREEN},
	    {"healthy", GREEN},
	    {"Pending", YELLOW},
	    {"Scheduled", YELLOW},
	    {"NotReady", YELLOW},
	    {"starting", YELLOW},
	    {"Failed", RED},
	    {"Down", RED},
	    {"unhealthy", RED},
	    {"Stopped", DIM},
	};
	size_t n;

	if (s == NULL)
		return NULL;
	n = strcspn(s, " ");
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (strlen(table[i].word) == n &&
		    strncmp(table[i].word, s, n) == 0)
			return table[i].sgr;
	}
	return NULL;
}
