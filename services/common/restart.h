/*
 * restart.h: restart policies and their backoff.
 *
 * A task's "restart" field says whether the manager starts it again once
 * it has ended:
 *
 *   never          not restarted (the default of a plain task)
 *   on-failure     restarted when it ends Failed (a non-zero exit, a start
 *                  that failed, a lost node), without limit
 *   on-failure:N   the same, at most N times (1 <= N <= 10000): after N
 *                  restarts the last attempt stays Failed with restarts N
 *   always         restarted whenever it ends, Completed included (the
 *                  default of a service's replicas)
 *
 * A task a person stopped is never restarted.  Each restart is a new task
 * (a new id, so a new container) with restarts one more than the attempt
 * it replaces, linked both ways (replaces, replaced_by): a node that comes
 * back after its task was replaced finds it gone from its assignments and
 * removes the old container, and reports about the old attempt cannot
 * touch the new one.
 *
 * Backoff: the new attempt is not placed before a delay has passed.  The
 * first restart waits ORCH_RESTART_BACKOFF_MIN_MS; each restart after an
 * attempt that failed quickly waits twice as long as the one before, up
 * to ORCH_RESTART_BACKOFF_MAX_MS; an attempt that ran for at least
 * ORCH_RESTART_RESET_MS resets the delay to the minimum.  A task lost
 * with its node is placed again at once: the node failed, not the task.
 */
#ifndef ORCH_RESTART_H
#define ORCH_RESTART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "task.h"

#define ORCH_RESTART_BACKOFF_MIN_MS 1000
#define ORCH_RESTART_BACKOFF_MAX_MS 60000
#define ORCH_RESTART_RESET_MS 10000
#define ORCH_RESTART_MAX_N 10000

enum orch_restart_mode {
	ORCH_RESTART_NEVER,
	ORCH_RESTART_ON_FAILURE,
	ORCH_RESTART_ALWAYS,
};

struct orch_restart_policy {
	enum orch_restart_mode mode;
	uint32_t max; /* on-failure:N: N; 0 for no limit */
};

/*
 * Parses a policy.  NULL or "" is never (what tasks stored before
 * policies existed mean).  Returns ORCH_OK, or ORCH_EINVAL with err saying
 * what is accepted.
 */
int orch_restart_policy_parse(const char *s,
    struct orch_restart_policy *out /* OUT */, char *err, size_t errlen);

/* The canonical text of p ("on-failure:3") into buf.  Returns buf. */
const char *orch_restart_policy_text(
    const struct orch_restart_policy *p, char *buf, size_t len);

/*
 * Whether policy p asks for another attempt after t, which has ended
 * (false for a task not in a final status, and for one stopped on
 * request).  Pure.
 */
bool orch_restart_wanted(
    const struct orch_restart_policy *p, const orch_task *t);

/*
 * The backoff before the attempt that replaces prev (which ended): 0 when
 * prev was lost with its node; the minimum when prev was the first
 * attempt or ran for ORCH_RESTART_RESET_MS or more; else twice the delay
 * prev itself waited (not_before_ms - created_at_ms), between the minimum
 * and the maximum.  Pure.
 */
int64_t orch_restart_backoff_ms(const orch_task *prev);

/*
 * Whether the reconciler still has to look at t, which decides whether it
 * is kept in the store's index of open tasks: every task not in a final
 * status; a replica (service task) that nothing replaced yet, as its slot
 * may need another; a plain task whose own policy asks for a restart that
 * has not been made.  Pure.
 */
bool orch_task_open(const orch_task *t);

#endif
