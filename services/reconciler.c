/*
 * reconciler.c: keeping what runs equal to what was asked for (see
 * reconciler.h).
 *
 * The plan is a pure function over arrays, tested without a store
 * (tests/test_reconciler.c).  Lookups go through sorted copies of the
 * node and task indexes, so that a pass over many tasks and nodes stays
 * O(n log n).  The apply half turns actions into store writes whose
 * modify functions re-check, inside the transaction, what the plan
 * assumed.
 */
#include "reconciler.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "error.h"
#include "log.h"
#include "restart.h"

#define RECON_COMPONENT "reconciler"

#define ST_FAILED ORCH__TASK_STATUS__TASK_STATUS_FAILED
#define ST_STOPPED ORCH__TASK_STATUS__TASK_STATUS_STOPPED
#define ST_SCHEDULED ORCH__TASK_STATUS__TASK_STATUS_SCHEDULED
#define NODE_DOWN ORCH__NODE_STATUS__NODE_STATUS_DOWN

/* ---- the plan ---- */

/* What the plan believes of a task once the LOST actions are applied. */
struct eff {
	int status;
	bool lost;
};

/* A replica, for sorting: by service, then slot, then age. */
struct replica {
	const char *service_id;
	uint32_t slot;
	size_t i; /* its index in the input */
};

struct plan {
	const struct orch_recon_input *in;
	const struct orch_recon_node **nodes; /* sorted by id */
	struct replica *svc_tasks;            /* sorted */
	size_t n_svc_tasks;
	struct eff *eff;
	struct orch_recon_action *v;
	size_t n, cap;
	/* Past in->max_actions, actions are decided into this one and
	 * dropped: the next plan decides them again. */
	struct orch_recon_action scratch;
};

static bool
has_text(const char *s)
{
	return s != NULL && s[0] != '\0';
}

static int
node_cmp(const void *a, const void *b)
{
	const struct orch_recon_node *x =
	    *(const struct orch_recon_node *const *)a;
	const struct orch_recon_node *y =
	    *(const struct orch_recon_node *const *)b;

	return strcmp(x->id, y->id);
}

static const struct orch_recon_node *
node_of(const struct plan *p, const char *id)
{
	struct orch_recon_node key = {.id = id};
	const struct orch_recon_node *kp = &key, *const * hit;

	if (!has_text(id))
		return NULL;
	hit =
	    bsearch(&kp, p->nodes, p->in->n_nodes, sizeof(*p->nodes), node_cmp);
	return hit != NULL ? *hit : NULL;
}

static int
replica_cmp(const void *a, const void *b)
{
	const struct replica *x = a, *y = b;
	int c = strcmp(x->service_id, y->service_id);

	if (c != 0)
		return c;
	if (x->slot != y->slot)
		return x->slot < y->slot ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

static struct orch_recon_action *
push(struct plan *p, enum orch_recon_kind kind, const orch_task *t)
{
	struct orch_recon_action *a;

	if (p->in->max_actions > 0 && p->n >= p->in->max_actions) {
		a = &p->scratch;
		goto fill;
	}
	if (p->n == p->cap) {
		size_t cap = p->cap > 0 ? p->cap * 2 : 16;
		struct orch_recon_action *v = realloc(p->v, cap * sizeof(*v));

		if (v == NULL)
			return NULL;
		p->v = v;
		p->cap = cap;
	}
	a = &p->v[p->n++];
fill:
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	a->task = t;
	return a;
}

/* The task as the plan sees it: a shallow copy with the effective status,
 * for the pure functions of restart.h.  Never freed. */
static orch_task
eff_view(const struct plan *p, size_t i)
{
	orch_task v = *p->in->tasks[i];

	v.status = p->eff[i].status;
	v.has_status = true;
	v.lost = p->eff[i].lost;
	return v;
}

/* A replacement of task i for the restart policy pol: returns whether
 * one was pushed (-1 when out of memory). */
static int
plan_restart(struct plan *p, size_t i, const struct orch_restart_policy *pol,
    const orch_service *svc)
{
	const orch_task *t = p->in->tasks[i];
	orch_task v = eff_view(p, i);
	struct orch_recon_action *a;
	char ptext[32];

	if (!orch_restart_wanted(pol, &v))
		return 0;
	if ((a = push(p, ORCH_RECON_REPLACE, t)) == NULL)
		return -1;
	a->service = svc;
	a->restarts = t->restarts + 1;
	a->delay_ms = orch_restart_backoff_ms(&v);
	snprintf(a->why, sizeof(a->why), "%s%s: restart %u (%s) in %lld ms",
	    orch_task_status_name(v.status), v.lost ? " (node lost)" : "",
	    (unsigned)a->restarts,
	    orch_restart_policy_text(pol, ptext, sizeof(ptext)),
	    (long long)a->delay_ms);
	return 1;
}

/* Marks the tasks of Down nodes lost. */
static int
plan_lost(struct plan *p)
{
	const struct orch_recon_input *in = p->in;

	for (size_t i = 0; i < in->n_tasks; i++) {
		const orch_task *t = in->tasks[i];
		const struct orch_recon_node *nd;
		struct orch_recon_action *a;

		p->eff[i].status = (int)t->status;
		p->eff[i].lost = t->lost;
		if (orch_task_status_terminal(t->status) ||
		    (nd = node_of(p, t->node_id)) == NULL ||
		    nd->status != NODE_DOWN)
			continue;
		if ((a = push(p, ORCH_RECON_LOST, t)) == NULL)
			return ORCH_ENOMEM;
		a->node_name = nd->name != NULL ? nd->name : nd->id;
		snprintf(
		    a->why, sizeof(a->why), "node %.100s lost", a->node_name);
		p->eff[i].status = t->stop_requested ? ST_STOPPED : ST_FAILED;
		p->eff[i].lost = true;
	}
	return ORCH_OK;
}

/* Restarts of plain tasks, by their own policies. */
static int
plan_plain(struct plan *p)
{
	const struct orch_recon_input *in = p->in;
	struct orch_restart_policy pol;
	char err[8];

	for (size_t i = 0; i < in->n_tasks; i++) {
		const orch_task *t = in->tasks[i];

		if (has_text(t->service_id) || has_text(t->replaced_by) ||
		    t->spec == NULL ||
		    orch_restart_policy_parse(
		        t->spec->restart, &pol, err, sizeof(err)) != ORCH_OK)
			continue;
		if (plan_restart(p, i, &pol, NULL) < 0)
			return ORCH_ENOMEM;
	}
	return ORCH_OK;
}

/* Whether task i is a live replica: not ended, no stop requested. */
static bool
live(const struct plan *p, size_t i)
{
	return !orch_task_status_terminal(p->eff[i].status) &&
	    !p->in->tasks[i]->stop_requested;
}

/* Whether task i runs, or is placed, on a drained node. */
static const struct orch_recon_node *
on_drained(const struct plan *p, size_t i)
{
	const struct orch_recon_node *nd = node_of(p, p->in->tasks[i]->node_id);

	return nd != NULL && nd->drain ? nd : NULL;
}

static int
plan_stop(struct plan *p, size_t i, const char *why)
{
	struct orch_recon_action *a = push(p, ORCH_RECON_STOP, p->in->tasks[i]);

	if (a == NULL)
		return ORCH_ENOMEM;
	snprintf(a->why, sizeof(a->why), "%s", why);
	return ORCH_OK;
}

/* One slot of svc, whose replicas are r[0..n) (oldest first). */
static int
plan_slot(struct plan *p, const orch_service *svc, uint32_t slot,
    const struct replica *r, size_t n, const struct orch_restart_policy *pol)
{
	orch_task *const *tasks = p->in->tasks;
	struct orch_recon_action *a;
	const struct orch_recon_node *nd;
	size_t keep = SIZE_MAX, moving = SIZE_MAX, head = SIZE_MAX;
	char why[64];

	for (size_t k = 0; k < n; k++) {
		size_t i = r[k].i;

		if (!has_text(tasks[i]->replaced_by))
			head = i; /* the newest that nothing replaced */
		if (!live(p, i))
			continue;
		if (on_drained(p, i) == NULL && keep == SIZE_MAX) {
			keep = i;
		} else if (on_drained(p, i) != NULL && moving == SIZE_MAX &&
		    keep == SIZE_MAX) {
			moving = i;
		}
	}
	/* Any other live replica of the slot is one too many. */
	snprintf(
	    why, sizeof(why), "a second replica in slot %u", (unsigned)slot);
	for (size_t k = 0; k < n; k++) {
		size_t i = r[k].i;

		if (!live(p, i) || i == keep ||
		    (i == moving && keep == SIZE_MAX))
			continue;
		if (plan_stop(p, i, why) != ORCH_OK)
			return ORCH_ENOMEM;
	}
	if (keep != SIZE_MAX)
		return ORCH_OK;
	if (moving != SIZE_MAX) {
		nd = on_drained(p, moving);
		if ((a = push(p, ORCH_RECON_REPLACE, tasks[moving])) == NULL)
			return ORCH_ENOMEM;
		a->service = svc;
		a->restarts = tasks[moving]->restarts;
		a->stop_old = true;
		snprintf(a->why, sizeof(a->why), "node %.100s is drained",
		    nd->name != NULL ? nd->name : nd->id);
		return ORCH_OK;
	}
	if (head == SIZE_MAX) {
		if ((a = push(p, ORCH_RECON_CREATE, NULL)) == NULL)
			return ORCH_ENOMEM;
		a->service = svc;
		a->slot = slot;
		snprintf(a->why, sizeof(a->why), "slot %u of %u is empty",
		    (unsigned)slot, (unsigned)svc->replicas);
		return ORCH_OK;
	}
	/* Stopped on request, not by a failure: a new one at once. */
	if (tasks[head]->stop_requested && !p->eff[head].lost) {
		if ((a = push(p, ORCH_RECON_REPLACE, tasks[head])) == NULL)
			return ORCH_ENOMEM;
		a->service = svc;
		a->restarts = tasks[head]->restarts;
		snprintf(a->why, sizeof(a->why),
		    "its replica was stopped on "
		    "request");
		return ORCH_OK;
	}
	return plan_restart(p, head, pol, svc) < 0 ? ORCH_ENOMEM : ORCH_OK;
}

/* The replicas of svc are p->svc_tasks[lo..hi). */
static int
plan_service(struct plan *p, const orch_service *svc, size_t lo, size_t hi)
{
	struct orch_restart_policy pol;
	const struct replica *r = p->svc_tasks;
	char err[8], why[128];
	size_t k = lo;
	int rc;

	if (svc->spec == NULL ||
	    orch_restart_policy_parse(
	        svc->spec->restart, &pol, err, sizeof(err)) != ORCH_OK) {
		pol.mode = ORCH_RESTART_ALWAYS;
		pol.max = 0;
	}
	snprintf(why, sizeof(why), "service %.64s scaled down to %u", svc->name,
	    (unsigned)svc->replicas);
	/* Replicas in no slot (0) or above replicas: a scale-down. */
	for (; k < hi && r[k].slot == 0; k++) {
		if (live(p, r[k].i) && plan_stop(p, r[k].i, why) != ORCH_OK)
			return ORCH_ENOMEM;
	}
	for (uint32_t slot = 1; slot <= svc->replicas; slot++) {
		size_t start = k;

		while (k < hi && r[k].slot == slot)
			k++;
		if ((rc = plan_slot(
		         p, svc, slot, &r[start], k - start, &pol)) != ORCH_OK)
			return rc;
	}
	for (; k < hi; k++) {
		if (live(p, r[k].i) && plan_stop(p, r[k].i, why) != ORCH_OK)
			return ORCH_ENOMEM;
	}
	return ORCH_OK;
}

static int
plan_services(struct plan *p)
{
	const struct orch_recon_input *in = p->in;
	int rc;

	for (size_t s = 0; s < in->n_services; s++) {
		const orch_service *svc = in->services[s];
		size_t lo = 0, hi = p->n_svc_tasks, mid;

		if (svc == NULL || svc->id == NULL || svc->name == NULL)
			continue;
		/* The first replica of svc, then past its last. */
		while (lo < hi) {
			mid = lo + (hi - lo) / 2;
			if (strcmp(p->svc_tasks[mid].service_id, svc->id) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		hi = lo;
		while (hi < p->n_svc_tasks &&
		    strcmp(p->svc_tasks[hi].service_id, svc->id) == 0)
			hi++;
		if ((rc = plan_service(p, svc, lo, hi)) != ORCH_OK)
			return rc;
	}
	return ORCH_OK;
}

int
orch_recon_plan(const struct orch_recon_input *in,
    struct orch_recon_action **out, size_t *n)
{
	struct plan p = {.in = in};
	int rc = ORCH_ENOMEM;

	*out = NULL;
	*n = 0;
	if ((p.nodes = calloc(in->n_nodes + 1, sizeof(*p.nodes))) == NULL ||
	    (p.eff = calloc(in->n_tasks + 1, sizeof(*p.eff))) == NULL ||
	    (p.svc_tasks = calloc(in->n_tasks + 1, sizeof(*p.svc_tasks))) ==
	        NULL)
		goto out;
	for (size_t i = 0; i < in->n_nodes; i++)
		p.nodes[i] = &in->nodes[i];
	qsort(p.nodes, in->n_nodes, sizeof(*p.nodes), node_cmp);
	for (size_t i = 0; i < in->n_tasks; i++) {
		const orch_task *t = in->tasks[i];

		if (has_text(t->service_id))
			p.svc_tasks[p.n_svc_tasks++] =
			    (struct replica){.service_id = t->service_id,
			        .slot = t->slot,
			        .i = i};
	}
	qsort(p.svc_tasks, p.n_svc_tasks, sizeof(*p.svc_tasks), replica_cmp);
	if ((rc = plan_lost(&p)) != ORCH_OK ||
	    (rc = plan_plain(&p)) != ORCH_OK ||
	    (rc = plan_services(&p)) != ORCH_OK)
		goto out;
	*out = p.v;
	*n = p.n;
	p.v = NULL;
out:
	free(p.v);
	free(p.svc_tasks);
	free(p.eff);
	free(p.nodes);
	return rc;
}

/* ---- applying it ---- */

/* The writes of one apply, waited for together. */
struct batch {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t inflight;
};

/* One write: its action, its arguments and its outcome. */
struct write {
	struct batch *b;
	const struct orch_recon_action *a;
	struct orch_nodes *ns;
	const struct orch_recon_placer *placer;
	char new_id[ORCH_ID_LEN];  /* CREATE, REPLACE */
	char node_id[ORCH_ID_LEN]; /* where the new task went, or "" */
	int64_t now_ms;
	int rc;
	char err[256];
};

static int
modify_lost(orch_task *t, void *marg, char *err, size_t errlen)
{
	struct write *w = marg;
	const orch_task *seen = w->a->task;
	char msg[160];

	if (orch_task_status_terminal(t->status) || t->node_id == NULL ||
	    seen->node_id == NULL || strcmp(t->node_id, seen->node_id) != 0) {
		snprintf(err, errlen, "task %s is no longer on node %.40s",
		    t->id, seen->node_id != NULL ? seen->node_id : "");
		return ORCH_ECONFLICT;
	}
	/* It beat between the pass's read and this write: keep its work. */
	if (w->ns != NULL &&
	    orch_nodes_status(w->ns, t->node_id, NULL) != NODE_DOWN) {
		snprintf(err, errlen, "node %.40s is back", t->node_id);
		return ORCH_ECONFLICT;
	}
	snprintf(msg, sizeof(msg), "node %.100s lost", w->a->node_name);
	if (orch_str_set(&t->error, msg) != ORCH_OK)
		return ORCH_ENOMEM;
	t->has_status = true;
	t->status = t->stop_requested ? ST_STOPPED : ST_FAILED;
	t->has_lost = true;
	t->lost = true;
	if (!t->has_finished_at_ms) {
		t->has_finished_at_ms = true;
		t->finished_at_ms = w->now_ms;
	}
	return ORCH_OK;
}

static int
modify_replaced(orch_task *t, void *marg, char *err, size_t errlen)
{
	struct write *w = marg;
	int rc;

	if (has_text(t->replaced_by)) {
		snprintf(err, errlen, "task %s is already replaced by %.40s",
		    t->id, t->replaced_by);
		return ORCH_ECONFLICT;
	}
	if (w->a->stop_old) {
		/* A move: only while it is still live where it is. */
		if (orch_task_status_terminal(t->status) || t->stop_requested) {
			snprintf(
			    err, errlen, "task %s is no longer running", t->id);
			return ORCH_ECONFLICT;
		}
		if ((rc = orch_task_stop(t, w->now_ms)) != ORCH_OK)
			return rc;
	} else if (!orch_task_status_terminal(t->status) &&
	    !t->stop_requested) {
		/* A restart: it must have ended (or be stopping) as the pass
		 * saw; a LOST refused just before leaves it running. */
		snprintf(err, errlen, "task %s is still %s", t->id,
		    orch_task_status_name(t->status));
		return ORCH_ECONFLICT;
	}
	return orch_str_set(&t->replaced_by, w->new_id);
}

static int
modify_stop(orch_task *t, void *marg, char *err, size_t errlen)
{
	struct write *w = marg;

	if (orch_task_status_terminal(t->status) || t->stop_requested) {
		snprintf(err, errlen, "task %s is already ending", t->id);
		return ORCH_ECONFLICT;
	}
	return orch_task_stop(t, w->now_ms);
}

static void
write_done(void *arg, int rc, orch_task *task, const char *err)
{
	struct write *w = arg;
	struct batch *b = w->b;

	orch_task_free(task);
	w->rc = rc;
	if (rc != ORCH_OK)
		snprintf(w->err, sizeof(w->err), "%s", err);
	pthread_mutex_lock(&b->mu);
	if (--b->inflight == 0)
		pthread_cond_signal(&b->cv);
	pthread_mutex_unlock(&b->mu);
}

/* The new task of a CREATE or REPLACE.  Returns ORCH_OK or ORCH_ENOMEM. */
static int
new_task(const struct orch_recon_action *a, int64_t now_ms,
    orch_task **out /* OUT */)
{
	const orch_task *old = a->task;
	orch_task_spec *spec;
	orch_task *t = NULL;
	char when[ORCH_RFC3339_LEN], msg[160];

	*out = NULL;
	if (a->service != NULL) {
		if (orch_service_task_new(a->service,
		        old != NULL ? old->slot : a->slot, a->restarts,
		        &t) != ORCH_OK)
			return ORCH_ENOMEM;
	} else {
		if ((spec = orch_task_spec_copy(old->spec)) == NULL)
			return ORCH_ENOMEM;
		if (orch_task_new(spec, &t) != ORCH_OK) {
			orch_task_spec_free(spec);
			return ORCH_ENOMEM;
		}
		t->has_restarts = true;
		t->restarts = a->restarts;
	}
	t->created_at_ms = now_ms;
	if (old != NULL && orch_str_set(&t->replaces, old->id) != ORCH_OK)
		goto nomem;
	if (a->delay_ms > 0) {
		t->has_not_before_ms = true;
		t->not_before_ms = now_ms + a->delay_ms;
		snprintf(msg, sizeof(msg),
		    "restart backoff: not placed before "
		    "%s (%lld ms)",
		    orch_rfc3339(t->not_before_ms, when, sizeof(when)),
		    (long long)a->delay_ms);
		if (orch_str_set(&t->error, msg) != ORCH_OK)
			goto nomem;
	}
	*out = t;
	return ORCH_OK;
nomem:
	orch_task_free(t);
	return ORCH_ENOMEM;
}

/* Queues the write of w's action.  Returns false when it could not be
 * built (out of memory; w->rc says so and nothing was queued). */
static bool
write_queue(struct orch_store *st, struct write *w)
{
	const struct orch_recon_action *a = w->a;
	orch_task *t = NULL;

	switch (a->kind) {
	case ORCH_RECON_LOST:
		orch_store_task_modify(
		    st, a->task->id, modify_lost, w, write_done, w);
		return true;
	case ORCH_RECON_STOP:
		orch_store_task_modify(
		    st, a->task->id, modify_stop, w, write_done, w);
		return true;
	case ORCH_RECON_CREATE:
	case ORCH_RECON_REPLACE:
		if (new_task(a, w->now_ms, &t) != ORCH_OK) {
			w->rc = ORCH_ENOMEM;
			snprintf(w->err, sizeof(w->err), "out of memory");
			return false;
		}
		memcpy(w->new_id, t->id, ORCH_ID_LEN);
		if (a->delay_ms <= 0 && w->placer != NULL &&
		    w->placer->fn(w->placer->arg, t, w->node_id)) {
			if (orch_str_set(&t->node_id, w->node_id) != ORCH_OK) {
				w->node_id[0] = '\0';
			} else {
				t->has_status = true;
				t->status = ST_SCHEDULED;
			}
		}
		orch_store_task_replace(st,
		    a->task != NULL ? a->task->id : NULL, modify_replaced, w, t,
		    write_done, w);
		return true;
	}
	return false;
}

static const char *
kind_name(enum orch_recon_kind k)
{
	switch (k) {
	case ORCH_RECON_LOST: return "lost";
	case ORCH_RECON_CREATE: return "create";
	case ORCH_RECON_REPLACE: return "replace";
	case ORCH_RECON_STOP: return "stop";
	}
	return "?";
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Whether w's new task was written Scheduled on the action's node. */
static bool
placed_on(const struct write *w)
{
	return w->node_id[0] != '\0';
}

/* Logs what w did (or why not) and counts it into res. */
static int
write_account(const struct write *w, struct orch_recon_result *res)
{
	const struct orch_recon_action *a = w->a;
	const orch_task *t = a->task;
	const char *name = t != NULL && t->spec != NULL && t->spec->name != NULL
	    ? t->spec->name
	    : a->service != NULL ? a->service->name
	                         : "?";

	if (w->rc == ORCH_ECONFLICT || w->rc == ORCH_ENOENT) {
		/* The world moved since the read: the next pass decides
		 * again from what is stored. */
		orch_debug(RECON_COMPONENT, "%s of %s skipped: %s",
		    kind_name(a->kind), name, w->err);
		res->refused++;
		return ORCH_OK;
	}
	if (w->rc != ORCH_OK) {
		/* A refusing disk is the store's to log, once: not each
		 * write of each pass until it takes them again. */
		orch_log(w->rc == ORCH_ENOSPC ? ORCH_LOG_DEBUG : ORCH_LOG_WARN,
		    RECON_COMPONENT, "%s of %s failed: %s", kind_name(a->kind),
		    name, w->err);
		res->failed++;
		return w->rc;
	}
	if (placed_on(w))
		res->placed++;
	switch (a->kind) {
	case ORCH_RECON_LOST:
		res->lost++;
		orch_log_kv(ORCH_LOG_WARN, RECON_COMPONENT,
		    ORCH_LOG_FIELDS({"task", t->id}), "task %s (%s) lost: %s",
		    t->id, name, a->why);
		break;
	case ORCH_RECON_CREATE:
		res->created++;
		orch_log_kv(ORCH_LOG_INFO, RECON_COMPONENT,
		    ORCH_LOG_FIELDS(
		        {"service", a->service->name}, {"task", w->new_id}),
		    "service %s: replica %s.%u created "
		    "as task %s%s%s (%s)",
		    a->service->name, a->service->name, (unsigned)a->slot,
		    w->new_id, placed_on(w) ? ", placed on node " : "",
		    placed_on(w) ? w->node_id : "", a->why);
		break;
	case ORCH_RECON_REPLACE:
		res->replaced++;
		orch_log_kv(ORCH_LOG_INFO, RECON_COMPONENT,
		    ORCH_LOG_FIELDS({"task", t->id}, {"new_task", w->new_id}),
		    "task %s (%s) replaced by task %s%s%s: "
		    "%s",
		    t->id, name, w->new_id,
		    placed_on(w) ? ", placed on node " : "",
		    placed_on(w) ? w->node_id : "", a->why);
		break;
	case ORCH_RECON_STOP:
		res->stopped++;
		orch_log_kv(ORCH_LOG_INFO, RECON_COMPONENT,
		    ORCH_LOG_FIELDS({"task", t->id}),
		    "task %s (%s) asked to stop: %s", t->id, name, a->why);
		break;
	}
	return ORCH_OK;
}

int
orch_recon_apply(struct orch_store *st, struct orch_nodes *ns,
    struct orch_notify *notify, const struct orch_recon_placer *placer,
    const struct orch_recon_action *acts, size_t n,
    struct orch_recon_result *res)
{
	struct batch b;
	struct write *w;
	const char **told;
	size_t ntold = 0, nuniq = 0;
	int64_t now = orch_now_ms();
	int rc = ORCH_OK, e;

	memset(res, 0, sizeof(*res));
	if (n == 0)
		return ORCH_OK;
	if ((w = calloc(n, sizeof(*w))) == NULL)
		return ORCH_ENOMEM;
	if ((told = calloc(n, sizeof(*told))) == NULL) {
		free(w);
		return ORCH_ENOMEM;
	}
	pthread_mutex_init(&b.mu, NULL);
	pthread_cond_init(&b.cv, NULL);
	/* Counted before queueing: a completion may run at once. */
	b.inflight = n;
	for (size_t i = 0; i < n; i++) {
		w[i].b = &b;
		w[i].a = &acts[i];
		w[i].ns = ns;
		w[i].placer = placer;
		w[i].now_ms = now;
	}
	for (size_t i = 0; i < n; i++) {
		if (write_queue(st, &w[i]))
			continue;
		pthread_mutex_lock(&b.mu);
		b.inflight--;
		pthread_mutex_unlock(&b.mu);
	}
	pthread_mutex_lock(&b.mu);
	while (b.inflight > 0)
		pthread_cond_wait(&b.cv, &b.mu);
	pthread_mutex_unlock(&b.mu);
	for (size_t i = 0; i < n; i++) {
		const struct orch_recon_action *a = &acts[i];

		if ((e = write_account(&w[i], res)) != ORCH_OK && rc == ORCH_OK)
			rc = e;
		if (w[i].rc != ORCH_OK)
			continue;
		/* The node stops it now rather than at its next beat. */
		if ((a->kind == ORCH_RECON_STOP ||
		        (a->kind == ORCH_RECON_REPLACE && a->stop_old)) &&
		    has_text(a->task->node_id))
			orch_notify_node(notify, a->task->node_id);
		if (placed_on(&w[i]))
			told[ntold++] = w[i].node_id;
	}
	/* And starts its new tasks now: each node listed once, in one
	 * message for them all (notify.h). */
	qsort(told, ntold, sizeof(*told), str_cmp);
	for (size_t i = 0; i < ntold; i++) {
		if (nuniq == 0 || strcmp(told[i], told[nuniq - 1]) != 0)
			told[nuniq++] = told[i];
	}
	orch_notify_nodes(notify, told, nuniq);
	pthread_cond_destroy(&b.cv);
	pthread_mutex_destroy(&b.mu);
	free(told);
	free(w);
	return rc;
}
