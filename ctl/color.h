/*
 * color.h: when orchctl colours its output, and with what.
 *
 * Statuses are coloured in list, get, nodes, service get and the --wait
 * line, only where a person reads them: --color=auto (the default)
 * colours output to a terminal, unless NO_COLOR is set to anything but
 * the empty string (no-color.org) or TERM is "dumb"; --color=always and
 * --color=never decide alone (a flag given on one command line beats the
 * environment, as no-color.org asks).
 */
#ifndef ORCH_CTL_COLOR_H
#define ORCH_CTL_COLOR_H

#include <stdbool.h>

enum orch_color_mode {
	ORCH_COLOR_AUTO,
	ORCH_COLOR_ALWAYS,
	ORCH_COLOR_NEVER,
};

/* The SGR sequence that ends a coloured word. */
#define ORCH_COLOR_RESET "\033[0m"

/* Parses "auto", "always" or "never".  Returns ORCH_OK or ORCH_EINVAL. */
int orch_color_mode_parse(const char *s, enum orch_color_mode *mode /* OUT */);

/* Whether output to the file descriptor fd is coloured in mode. */
bool orch_color_use(enum orch_color_mode mode, int fd);

/*
 * The SGR sequence that starts the colour of a status or health word,
 * read up to its first blank ("Running (healthy)" is Running's): green
 * for Running, Completed, Ready and healthy; yellow for Pending,
 * Scheduled, NotReady and starting; red for Failed, Down and unhealthy;
 * dim for Stopped.  NULL for any other word.
 */
const char *orch_color_status(const char *s);

#endif
