/*
 * reconcile.c: the agent's decisions, as a pure function of what the
 * manager wants, what the driver runs and what the agent is busy with.
 *
 * The manager's view is the agent's memory: a report is repeated only
 * while the manager's task still disagrees with the instance, so nothing
 * here remembers what was sent.  The busy keys close the one gap in that
 * (a report that landed after the heartbeat was answered).
 */
#include "reconcile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

static bool
status_is(const orch_task *t, Orch__TaskStatus s)
{
	return t->has_status && t->status == s;
}

/* True for a task the node should be running now. */
static bool
task_active(const orch_task *t)
{
	return status_is(t, ORCH__TASK_STATUS__TASK_STATUS_SCHEDULED) ||
	    status_is(t, ORCH__TASK_STATUS__TASK_STATUS_RUNNING);
}

/* True for a task whose instance, if any, must be kept: one the manager
 * lists and that is not final.  A Pending task is kept too (it should not
 * be listed at all, and removing its instance would be a guess). */
static bool
task_wanted(const orch_task *t)
{
	return !(t->has_status && orch_task_status_terminal(t->status));
}

static bool
key_busy(const struct orch_reconcile_input *in, const char *key)
{
	for (size_t i = 0; i < in->n_busy; i++) {
		if (in->busy[i] != NULL && strcmp(in->busy[i], key) == 0)
			return true;
	}
	return false;
}

/* The first desired task with id, or NULL.  A task listed twice (a
 * duplicated assignment) is the first listing. */
static const orch_task *
task_find(const struct orch_reconcile_input *in, const char *id)
{
	for (size_t i = 0; i < in->n_tasks; i++) {
		const orch_task *t = in->tasks[i];

		if (t != NULL && t->id != NULL && strcmp(t->id, id) == 0)
			return t;
	}
	return NULL;
}

/* The instance of task id: a running one first, then an exited one, then
 * any.  There is one per task (the driver names it after the task); the
 * order only makes a surprise harmless. */
static const struct orch_instance *
instance_find(const struct orch_reconcile_input *in, const char *id)
{
	const struct orch_instance *exited = NULL, *other = NULL;

	for (size_t i = 0; i < in->n_instances; i++) {
		const struct orch_instance *x = &in->instances[i];

		if (strcmp(x->task_id, id) != 0)
			continue;
		if (x->running)
			return x;
		if (x->exited && exited == NULL)
			exited = x;
		if (other == NULL)
			other = x;
	}
	return exited != NULL ? exited : other;
}

const char *
orch_reconcile_key(const struct orch_instance *inst)
{
	return inst->task_id[0] != '\0' ? inst->task_id : inst->handle;
}

const char *
orch_action_kind_name(enum orch_action_kind kind)
{
	switch (kind) {
	case ORCH_ACTION_START: return "start";
	case ORCH_ACTION_REPORT: return "report";
	case ORCH_ACTION_STOP: return "stop";
	case ORCH_ACTION_REMOVE: return "remove";
	}
	return "?";
}

static void
report_init(struct orch_report *r, const char *task_id, int status)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->task_id, sizeof(r->task_id), "%s", task_id);
	r->status = status;
}

bool
orch_reconcile_report(const orch_task *t, const struct orch_instance *inst,
    struct orch_report *out)
{
	if (inst->running) {
		if (status_is(t, ORCH__TASK_STATUS__TASK_STATUS_RUNNING) &&
		    t->container_id != NULL &&
		    strcmp(t->container_id, inst->handle) == 0)
			return false;
		report_init(out, t->id, ORCH__TASK_STATUS__TASK_STATUS_RUNNING);
		snprintf(out->container_id, sizeof(out->container_id), "%s",
		    inst->handle);
		out->started_at_ms = inst->started_at_ms;
		return true;
	}
	if (!inst->exited)
		return false;
	if (inst->exit_unknown) {
		report_init(out, t->id, ORCH__TASK_STATUS__TASK_STATUS_FAILED);
		snprintf(out->container_id, sizeof(out->container_id), "%s",
		    inst->handle);
		snprintf(out->error, sizeof(out->error), "%s",
		    inst->error[0] != '\0' ? inst->error
		                           : "it ended; exit code unknown");
		out->started_at_ms = inst->started_at_ms;
		out->finished_at_ms = inst->finished_at_ms;
		return true;
	}
	report_init(out, t->id,
	    inst->exit_code == 0 ? ORCH__TASK_STATUS__TASK_STATUS_COMPLETED
	                         : ORCH__TASK_STATUS__TASK_STATUS_FAILED);
	snprintf(
	    out->container_id, sizeof(out->container_id), "%s", inst->handle);
	out->has_exit_code = true;
	out->exit_code = inst->exit_code;
	if (inst->exit_code != 0) {
		/* The runtime's own words, when it has some (a start that
		 * failed inside the container), follow the exit code. */
		if (inst->error[0] != '\0')
			snprintf(out->error, sizeof(out->error),
			    "exited with code %d: %s", inst->exit_code,
			    inst->error);
		else
			snprintf(out->error, sizeof(out->error),
			    "exited with code %d", inst->exit_code);
	}
	out->started_at_ms = inst->started_at_ms;
	out->finished_at_ms = inst->finished_at_ms;
	return true;
}

bool
orch_reconcile_health(const orch_task *t, const struct orch_instance *inst,
    int health, const char *why, struct orch_report *out)
{
	if (!status_is(t, ORCH__TASK_STATUS__TASK_STATUS_RUNNING) ||
	    !inst->running || t->container_id == NULL ||
	    strcmp(t->container_id, inst->handle) != 0 ||
	    (t->has_stop_requested && t->stop_requested) || health == 0 ||
	    health == ORCH__HEALTH_STATUS__HEALTH_STATUS_STARTING)
		return false;
	if (health == ORCH__HEALTH_STATUS__HEALTH_STATUS_UNHEALTHY) {
		report_init(out, t->id, ORCH__TASK_STATUS__TASK_STATUS_FAILED);
		snprintf(out->error, sizeof(out->error), "%s",
		    why != NULL && why[0] != '\0' ? why
		                                  : "health check failed");
	} else if (t->has_health && (int)t->health == health) {
		return false;
	} else {
		report_init(out, t->id, ORCH__TASK_STATUS__TASK_STATUS_RUNNING);
		out->started_at_ms = inst->started_at_ms;
	}
	snprintf(
	    out->container_id, sizeof(out->container_id), "%s", inst->handle);
	out->health = health;
	return true;
}

/* Appends a new action for key to the array (sized for the worst case
 * by the caller) and returns it. */
static struct orch_action *
action_add(struct orch_action *arr, size_t *n, enum orch_action_kind kind,
    const char *key)
{
	struct orch_action *a = &arr[(*n)++];

	memset(a, 0, sizeof(*a));
	a->kind = kind;
	snprintf(a->key, sizeof(a->key), "%s", key);
	return a;
}

static bool
key_acted(const struct orch_action *arr, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(arr[i].key, key) == 0)
			return true;
	}
	return false;
}

/* The desired task's action, if it needs one. */
static void
reconcile_task(const struct orch_reconcile_input *in, const orch_task *t,
    struct orch_action *arr, size_t *n)
{
	const struct orch_instance *inst = instance_find(in, t->id);
	struct orch_action *a;
	struct orch_report r;

	if (t->has_stop_requested && t->stop_requested && task_wanted(t)) {
		a = action_add(arr, n, ORCH_ACTION_STOP, t->id);
		a->task = t;
		if (inst != NULL) {
			snprintf(
			    a->handle, sizeof(a->handle), "%s", inst->handle);
			a->driver = inst->driver;
		}
		report_init(
		    &a->report, t->id, ORCH__TASK_STATUS__TASK_STATUS_STOPPED);
		return;
	}
	if (!task_active(t))
		return;
	if (inst == NULL) {
		if (status_is(t, ORCH__TASK_STATUS__TASK_STATUS_RUNNING)) {
			a = action_add(arr, n, ORCH_ACTION_REPORT, t->id);
			a->task = t;
			report_init(&a->report, t->id,
			    ORCH__TASK_STATUS__TASK_STATUS_FAILED);
			snprintf(a->report.error, sizeof(a->report.error), "%s",
			    ORCH_ERR_DISAPPEARED);
			return;
		}
		a = action_add(arr, n, ORCH_ACTION_START, t->id);
		a->task = t;
		return;
	}
	if (!inst->running && !inst->exited) {
		a = action_add(arr, n, ORCH_ACTION_START, t->id);
		a->task = t;
		return;
	}
	if (orch_reconcile_report(t, inst, &r)) {
		a = action_add(arr, n, ORCH_ACTION_REPORT, t->id);
		a->task = t;
		a->report = r;
	}
}

int
orch_reconcile(
    const struct orch_reconcile_input *in, struct orch_action **out, size_t *n)
{
	struct orch_action *arr = NULL;
	size_t cnt = 0, max = in->n_tasks + in->n_instances;

	*out = NULL;
	*n = 0;
	if (max == 0)
		return ORCH_OK;
	if ((arr = calloc(max, sizeof(*arr))) == NULL)
		return ORCH_ENOMEM;

	for (size_t i = 0; i < in->n_tasks; i++) {
		const orch_task *t = in->tasks[i];

		/* Only well-formed tasks, each once, none being worked on. */
		if (t == NULL || t->id == NULL || !orch_id_valid(t->id) ||
		    task_find(in, t->id) != t || key_busy(in, t->id))
			continue;
		reconcile_task(in, t, arr, &cnt);
	}
	for (size_t i = 0; i < in->n_instances; i++) {
		const struct orch_instance *x = &in->instances[i];
		const char *key = orch_reconcile_key(x);
		const orch_task *t;
		struct orch_action *a;

		if (key[0] == '\0')
			continue;
		t = x->task_id[0] != '\0' ? task_find(in, x->task_id) : NULL;
		if ((t != NULL && task_wanted(t)) || key_busy(in, key) ||
		    key_acted(arr, cnt, key))
			continue;
		a = action_add(arr, &cnt, ORCH_ACTION_REMOVE, key);
		snprintf(a->handle, sizeof(a->handle), "%s", x->handle);
		a->driver = x->driver;
	}
	if (cnt == 0) {
		free(arr);
		arr = NULL;
	}
	*out = arr;
	*n = cnt;
	return ORCH_OK;
}
