/*
 * trail.h: the status line of orchctl's --wait.
 *
 *   web  Pending -> Scheduled (node-a) -> Running  3.2s
 *
 * A trail is the steps a task (or a service's replica count) went
 * through, each shown once, oldest first.  On a terminal orchctl redraws
 * it in place as it grows and as time passes; elsewhere it prints each
 * new step on a line of its own.
 */
#ifndef ORCH_CTL_TRAIL_H
#define ORCH_CTL_TRAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ORCH_TRAIL_STEPS 32
#define ORCH_TRAIL_STEP_MAX 260

struct orch_trail {
	char steps[ORCH_TRAIL_STEPS][ORCH_TRAIL_STEP_MAX];
	size_t n;       /* steps held */
	size_t dropped; /* older steps no longer held */
};

/*
 * Appends the step text (a status, "Scheduled (node-a)", "2/3 running"),
 * escaped for a terminal and cut to fit, unless it repeats the last step.
 * Returns whether it was added.  When the trail is full the oldest step
 * makes room.
 */
bool orch_trail_add(struct orch_trail *t, const char *text);

/* The last step, or "" when there is none. */
const char *orch_trail_last(const struct orch_trail *t);

/*
 * Renders "NAME  STEP -> STEP ...  ELAPSED" into buf (len bytes,
 * NUL-terminated) in at most width columns (0: no limit): the oldest
 * steps give way to "..." first.  With color, each step is coloured as
 * its status word (color.h).  ELAPSED is elapsed_ms as "3.2s" ("1m05s"
 * past a minute).  Returns the columns it takes.
 */
size_t orch_trail_render(const struct orch_trail *t, const char *name,
    int64_t elapsed_ms, bool color, size_t width, char *buf, size_t len);

/* elapsed_ms as "3.2s", or "1m05s" from a minute on, into buf. */
const char *orch_trail_elapsed(int64_t elapsed_ms, char *buf, size_t len);

#endif
