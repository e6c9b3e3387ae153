/*
 * restart.c: restart policies and their backoff (see restart.h).
 */
#include "restart.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

#define ON_FAILURE "on-failure"

int
orch_restart_policy_parse(
    const char *s, struct orch_restart_policy *out, char *err, size_t errlen)
{
	size_t n = strlen(ON_FAILURE);
	char *end;
	long v;

	out->mode = ORCH_RESTART_NEVER;
	out->max = 0;
	if (s == NULL || s[0] == '\0' || strcmp(s, "never") == 0)
		return ORCH_OK;
	if (strcmp(s, "always") == 0) {
		out->mode = ORCH_RESTART_ALWAYS;
		return ORCH_OK;
	}
	if (strncmp(s, ON_FAILURE, n) == 0 && s[n] == '\0') {
		out->mode = ORCH_RESTART_ON_FAILURE;
		return ORCH_OK;
	}
	if (strncmp(s, ON_FAILURE, n) == 0 && s[n] == ':' && s[n + 1] >= '0' &&
	    s[n + 1] <= '9') {
		errno = 0;
		v = strtol(s + n + 1, &end, 10);
		if (errno == 0 && *end == '\0' && v >= 1 &&
		    v <= ORCH_RESTART_MAX_N) {
			out->mode = ORCH_RESTART_ON_FAILURE;
			out->max = (uint32_t)v;
			return ORCH_OK;
		}
	}
	/* Quoted whole characters only: a cut one would not be UTF-8, and
	 * the JSON error that carries the message must be. */
	snprintf(err, errlen,
	    "field \"restart\" must be never, on-failure, "
	    "on-failure:N (N from 1 to %d) or always, not \"%.*s%s\"",
	    ORCH_RESTART_MAX_N, orch_text_quote_len(s, 40), s,
	    strlen(s) > 40 ? "..." : "");
	return ORCH_EINVAL;
}

const char *
orch_restart_policy_text(
    const struct orch_restart_policy *p, char *buf, size_t len)
{
	switch (p->mode) {
	case ORCH_RESTART_NEVER: snprintf(buf, len, "never"); break;
	case ORCH_RESTART_ALWAYS: snprintf(buf, len, "always"); break;
	case ORCH_RESTART_ON_FAILURE:
		if (p->max > 0)
			snprintf(buf, len, ON_FAILURE ":%u", (unsigned)p->max);
		else
			snprintf(buf, len, ON_FAILURE);
		break;
	}
	return buf;
}

bool
orch_restart_wanted(const struct orch_restart_policy *p, const orch_task *t)
{
	if (!orch_task_status_terminal(t->status) || t->stop_requested)
		return false;
	switch (p->mode) {
	case ORCH_RESTART_NEVER: return false;
	case ORCH_RESTART_ALWAYS: return true;
	case ORCH_RESTART_ON_FAILURE:
		return t->status == ORCH__TASK_STATUS__TASK_STATUS_FAILED &&
		    (p->max == 0 || t->restarts < p->max);
	}
	return false;
}

int64_t
orch_restart_backoff_ms(const orch_task *prev)
{
	int64_t waited;

	if (prev->lost)
		return 0;
	if (prev->has_started_at_ms && prev->has_finished_at_ms &&
	    prev->finished_at_ms - prev->started_at_ms >= ORCH_RESTART_RESET_MS)
		return ORCH_RESTART_BACKOFF_MIN_MS;
	waited = prev->has_not_before_ms && prev->has_created_at_ms
	    ? prev->not_before_ms - prev->created_at_ms
	    : 0;
	if (waited < ORCH_RESTART_BACKOFF_MIN_MS)
		return ORCH_RESTART_BACKOFF_MIN_MS;
	if (waited >= ORCH_RESTART_BACKOFF_MAX_MS / 2)
		return ORCH_RESTART_BACKOFF_MAX_MS;
	return waited * 2;
}

bool
orch_task_open(const orch_task *t)
{
	struct orch_restart_policy p;
	char err[8];

	if (!orch_task_status_terminal(t->status))
		return true;
	if (t->replaced_by != NULL && t->replaced_by[0] != '\0')
		return false;
	if (t->service_id != NULL && t->service_id[0] != '\0')
		return true;
	if (t->spec == NULL ||
	    orch_restart_policy_parse(t->spec->restart, &p, err, sizeof(err)) !=
	        ORCH_OK)
		return false;
	return orch_restart_wanted(&p, t);
}
