/*
 * scheduler.c: placing Pending tasks on nodes (see scheduler.h).
 *
 * The decision (orch_sched_node_pick) is a pure function over an array,
 * so that it is tested without a store; the thread around it reads the
 * store, queues the pass's writes at once so that they share one commit,
 * waits for them, and sends notices for the nodes that got tasks.
 *
 * Lock order: the store's lock, then the scheduler's (the commit listener
 * runs under the first and takes the second).  The scheduler's thread
 * never holds its lock while calling into the store.
 */
#include "scheduler.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "constraint.h"
#include "error.h"
#include "log.h"
#include "reconciler.h"

#define SCHED_COMPONENT "scheduler"
/* The safety net: a pass at least this often, whatever happens. */
#define SCHED_TICK_MS 1000
/* Most writes one pass queues; a longer backlog takes several passes.
 * A pass costs a read of every open task, and the next waits as long as
 * it took, so this bounds placements per second under a burst
 * (bench/simcluster.sh: 1024 held 100,000 submissions to ~1,000/s). */
#define SCHED_MAX_OPS 8192
/* Sums of fractional cores are not exact: 0.1 + 0.2 must fit in 0.3. */
#define CPU_EPSILON 1e-9
#define SCHED_ERR_LEN 384

#define ST_PENDING ORCH__TASK_STATUS__TASK_STATUS_PENDING
#define ST_SCHEDULED ORCH__TASK_STATUS__TASK_STATUS_SCHEDULED

/* ---- the decision ---- */

int
orch_placement_parse(const char *s, enum orch_placement *out)
{
	if (s == NULL || s[0] == '\0' || strcmp(s, "spread") == 0) {
		*out = ORCH_PLACEMENT_SPREAD;
		return ORCH_OK;
	}
	if (strcmp(s, "binpack") == 0) {
		*out = ORCH_PLACEMENT_BINPACK;
		return ORCH_OK;
	}
	return ORCH_EINVAL;
}

/* The smaller name, then id, so that ties are broken the same way
 * whatever the order of the array. */
static bool
node_first(const struct orch_sched_node *a, const struct orch_sched_node *b)
{
	int c;

	if ((c = strcmp(a->name != NULL ? a->name : "",
	         b->name != NULL ? b->name : "")) != 0)
		return c < 0;
	return strcmp(a->id != NULL ? a->id : "", b->id != NULL ? b->id : "") <
	    0;
}

/* 1 when a has more free than b (more free memory, then more free cpu),
 * -1 when b has, 0 when they are equal. */
static int
node_freer(const struct orch_sched_node *a, const struct orch_sched_node *b)
{
	if (a->memory_free_mb != b->memory_free_mb)
		return a->memory_free_mb > b->memory_free_mb ? 1 : -1;
	if (fabs(a->cpu_free - b->cpu_free) > CPU_EPSILON)
		return a->cpu_free > b->cpu_free ? 1 : -1;
	return 0;
}

/* True when a should be preferred to b for want: fewer replicas of the
 * same service (ia, ib index want->same_service), then the placement
 * policy, then the smaller name and id. */
static bool
node_better(const struct orch_sched_node *a, size_t ia,
    const struct orch_sched_node *b, size_t ib,
    const struct orch_sched_want *want)
{
	int c;

	if (want != NULL && want->same_service != NULL &&
	    want->same_service[ia] != want->same_service[ib])
		return want->same_service[ia] < want->same_service[ib];
	c = node_freer(a, b);
	if (want != NULL && want->placement == ORCH_PLACEMENT_BINPACK)
		c = -c;
	if (c != 0)
		return c > 0;
	return node_first(a, b);
}

/* Whether node c may take a task with want's constraints (resources
 * aside). */
static bool
node_allowed(const struct orch_sched_node *c, const struct orch_sched_want *w)
{
	struct orch_constraint_node cn = {
	    .name = c->name,
	    .id = c->id,
	    .labels = c->labels,
	    .n_labels = c->n_labels,
	};

	return orch_constraints_match(w->constraints, w->n_constraints, &cn);
}

static bool
node_fits(const struct orch_sched_node *c, const struct orch_sched_want *w)
{
	return w->memory_mb <= c->memory_free_mb &&
	    w->cpu <= c->cpu_free + CPU_EPSILON;
}

int
orch_sched_node_pick(const struct orch_sched_node *nodes, size_t n,
    const struct orch_sched_want *want)
{
	int best = -1;

	for (size_t i = 0; i < n; i++) {
		const struct orch_sched_node *c = &nodes[i];

		if (!c->ready || c->drain || !node_fits(c, want) ||
		    !node_allowed(c, want))
			continue;
		if (best < 0 ||
		    node_better(c, i, &nodes[best], (size_t)best, want))
			best = (int)i;
	}
	return best;
}

/* Cores for a person: at most 3 decimals, never negative ("1.5", "2"). */
static const char *
cpu_text(double cpu, char *buf, size_t len)
{
	double v = round(cpu * 1000.0) / 1000.0;

	snprintf(buf, len, "%g", v > 0.0 ? v : 0.0);
	return buf;
}

/* The constraints of want, joined by ", ", into buf (cut when long). */
static const char *
constraints_text(const struct orch_sched_want *w, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < w->n_constraints && o + 1 < len; i++) {
		int k = snprintf(buf + o, len - o, "%s%s", i > 0 ? ", " : "",
		    w->constraints[i]);

		if (k < 0)
			break;
		o += (size_t)k;
	}
	return buf;
}

void
orch_sched_explain(const struct orch_sched_node *nodes, size_t n,
    const struct orch_sched_want *want, char *buf, size_t len)
{
	const struct orch_sched_node *best = NULL;
	size_t ready = 0, allowed = 0, open = 0, drained = 0;
	char need[32], have[32], cons[256];

	for (size_t i = 0; i < n; i++) {
		const struct orch_sched_node *c = &nodes[i];

		if (!c->ready)
			continue;
		ready++;
		if (!node_allowed(c, want))
			continue;
		allowed++;
		if (c->drain) {
			drained++;
			continue;
		}
		open++;
		/* "most free": the spread order, whatever the policy. */
		if (best == NULL || node_freer(c, best) > 0 ||
		    (node_freer(c, best) == 0 && node_first(c, best)))
			best = c;
	}
	if (n == 0) {
		snprintf(
		    buf, len, "no Ready node: no node has joined the cluster");
		return;
	}
	if (ready == 0) {
		snprintf(buf, len,
		    "no Ready node: %zu node%s known, none Ready", n,
		    n == 1 ? "" : "s");
		return;
	}
	if (allowed == 0) {
		snprintf(buf, len, "no Ready node satisfies the constraints %s",
		    constraints_text(want, cons, sizeof(cons)));
		return;
	}
	if (open == 0 && want->n_constraints > 0) {
		snprintf(buf, len,
		    "no Ready node satisfying the constraints "
		    "takes new tasks: %zu drained",
		    drained);
		return;
	}
	if (open == 0) {
		snprintf(buf, len,
		    "no Ready node takes new tasks: %zu Ready, "
		    "all drained",
		    ready);
		return;
	}
	snprintf(buf, len,
	    "no Ready node %shas %lld MB and %s cpu free; most "
	    "free: %.128s with %lld MB and %s cpu",
	    want->n_constraints > 0 ? "matching the constraints " : "",
	    (long long)want->memory_mb, cpu_text(want->cpu, need, sizeof(need)),
	    best->name != NULL ? best->name : best->id,
	    (long long)(best->memory_free_mb > 0 ? best->memory_free_mb : 0),
	    cpu_text(best->cpu_free, have, sizeof(have)));
}

/* ---- the thread ---- */

struct orch_sched {
	struct orch_store *store;
	struct orch_nodes *nodes;
	struct orch_notify *notify;
	struct orch_store_reader *reader; /* the thread's alone */
	pthread_t thread;
	bool started;
	bool listening;
	bool sync_init;

	pthread_mutex_t mu;     /* guards everything below */
	pthread_cond_t cv;      /* the thread waits for work */
	pthread_cond_t done_cv; /* it waits for its writes */
	bool wake;
	bool stop;
	size_t inflight; /* writes of this pass not done */
	struct orch_sched_stats stats;
};

enum sched_op_kind {
	SOP_PLACE,   /* set Scheduled on node */
	SOP_EXPLAIN, /* set error to msg */
};

/* One write of a pass: its argument to the modify fn and its outcome. */
struct sched_op {
	struct orch_sched *s;
	enum sched_op_kind kind;
	const orch_task *task;   /* as read by the pass */
	size_t node;             /* SOP_PLACE: index of the node */
	const char *node_id;     /* SOP_PLACE */
	char msg[SCHED_ERR_LEN]; /* SOP_EXPLAIN */
	int rc;
	char err[128];
};

void
orch_sched_stats(struct orch_sched *s, struct orch_sched_stats *out)
{
	pthread_mutex_lock(&s->mu);
	*out = s->stats;
	pthread_mutex_unlock(&s->mu);
}

void
orch_sched_wake(struct orch_sched *s)
{
	pthread_mutex_lock(&s->mu);
	s->wake = true;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/* Commit listener: any task, node or service written may change a
 * placement.  On the writer thread, with the store's lock: a flag,
 * nothing more. */
static void
sched_on_commit(void *arg, int kind, const char *id)
{
	(void)kind;
	(void)id;
	orch_sched_wake(arg);
}

static void
sched_on_node_change(void *arg)
{
	orch_sched_wake(arg);
}

/* Inside the write transaction: the pass read the task a moment ago, and
 * anything may have happened to it since. */
static int
modify_place(orch_task *t, void *marg, char *err, size_t errlen)
{
	struct sched_op *op = marg;

	if (t->status != ST_PENDING || t->stop_requested) {
		snprintf(err, errlen, "task %s is no longer Pending", t->id);
		return ORCH_ECONFLICT;
	}
	if (orch_str_set(&t->node_id, op->node_id) != ORCH_OK)
		return ORCH_ENOMEM;
	/* The reason it waited is no longer true. */
	free(t->error);
	t->error = NULL;
	t->has_status = true;
	t->status = ST_SCHEDULED;
	return ORCH_OK;
}

static int
modify_explain(orch_task *t, void *marg, char *err, size_t errlen)
{
	struct sched_op *op = marg;

	if (t->status != ST_PENDING || t->stop_requested) {
		snprintf(err, errlen, "task %s is no longer Pending", t->id);
		return ORCH_ECONFLICT;
	}
	/* Refusing the unchanged text spares the write. */
	if (t->error != NULL && strcmp(t->error, op->msg) == 0) {
		snprintf(err, errlen, "unchanged");
		return ORCH_EEXIST;
	}
	return orch_str_set(&t->error, op->msg);
}

/* The completion of one write of the pass, on the writer thread. */
static void
sched_op_done(void *arg, int rc, orch_task *task, const char *err)
{
	struct sched_op *op = arg;
	struct orch_sched *s = op->s;

	orch_task_free(task);
	op->rc = rc;
	if (rc != ORCH_OK)
		snprintf(op->err, sizeof(op->err), "%s", err);
	pthread_mutex_lock(&s->mu);
	if (--s->inflight == 0)
		pthread_cond_signal(&s->done_cv);
	pthread_mutex_unlock(&s->mu);
}

/* A node of a view, for finding it by id. */
struct node_ref {
	const char *id;
	size_t i; /* in view.sn */
};

/* What one pass reads.  The arrays of nodes point into the records. */
struct view {
	orch_task **tasks; /* the open tasks, oldest first */
	size_t nt;
	orch_node **nodes;
	size_t nn;
	struct orch_sched_node *sn; /* one per node, free = capacity - held */
	struct node_ref *by_id;     /* sn by id */
	orch_service **svcs;
	size_t ns;
};

static void
view_tasks_free(struct view *v)
{
	orch_store_task_list_free(v->tasks, v->nt);
	v->tasks = NULL;
	v->nt = 0;
}

static void
view_free(struct view *v)
{
	view_tasks_free(v);
	free(v->by_id);
	free(v->sn);
	orch_store_node_list_free(v->nodes, v->nn);
	orch_store_service_list_free(v->svcs, v->ns);
	memset(v, 0, sizeof(*v));
}

static int
node_ref_cmp(const void *a, const void *b)
{
	return strcmp(
	    ((const struct node_ref *)a)->id, ((const struct node_ref *)b)->id);
}

/* The index in v->sn of the node with this id, or -1. */
static int
view_node(const struct view *v, const char *id)
{
	struct node_ref key = {.id = id}, *hit;

	if (id == NULL)
		return -1;
	hit = bsearch(&key, v->by_id, v->nn, sizeof(*v->by_id), node_ref_cmp);
	return hit != NULL ? (int)hit->i : -1;
}

/* Reads the nodes with what they hold into v->sn (again: the usage of a
 * pass that reconciled changes). */
static int
sched_nodes_read(struct orch_sched *s, struct view *v)
{
	struct orch_node_usage *usage = NULL;
	size_t nu = 0;
	int rc;

	if (v->nodes == NULL &&
	    (rc = orch_store_node_list(s->reader, &v->nodes, &v->nn)) !=
	        ORCH_OK)
		return rc;
	if ((rc = orch_store_node_usage(s->reader, &usage, &nu)) != ORCH_OK)
		return rc;
	if (v->sn == NULL &&
	    ((v->sn = calloc(v->nn + 1, sizeof(*v->sn))) == NULL ||
	        (v->by_id = calloc(v->nn + 1, sizeof(*v->by_id))) == NULL)) {
		free(usage);
		return ORCH_ENOMEM;
	}
	for (size_t i = 0; i < v->nn; i++) {
		const orch_node *nd = v->nodes[i];
		struct orch_sched_node *c = &v->sn[i];

		c->id = nd->id;
		c->name = nd->name;
		c->ready = orch_nodes_status(s->nodes, nd->id, NULL) ==
		    ORCH__NODE_STATUS__NODE_STATUS_READY;
		c->drain = nd->has_drain && nd->drain;
		c->labels = nd->labels;
		c->n_labels = nd->n_labels;
		c->cpu_free = nd->cpu;
		c->memory_free_mb = nd->memory_mb;
		for (size_t k = 0; k < nu; k++) {
			if (strcmp(usage[k].node_id, nd->id) == 0) {
				c->cpu_free -= usage[k].cpu;
				c->memory_free_mb -= usage[k].memory_mb;
				break;
			}
		}
		v->by_id[i] = (struct node_ref){.id = nd->id, .i = i};
	}
	qsort(v->by_id, v->nn, sizeof(*v->by_id), node_ref_cmp);
	free(usage);
	return ORCH_OK;
}

/* Queues ops[0..n) and waits until every one has completed. */
static void
sched_ops_run(struct orch_sched *s, struct sched_op *ops, size_t n)
{
	pthread_mutex_lock(&s->mu);
	s->inflight = n;
	pthread_mutex_unlock(&s->mu);
	for (size_t i = 0; i < n; i++) {
		struct sched_op *op = &ops[i];

		orch_store_task_modify(s->store, op->task->id,
		    op->kind == SOP_PLACE ? modify_place : modify_explain, op,
		    sched_op_done, op);
	}
	pthread_mutex_lock(&s->mu);
	while (s->inflight > 0)
		pthread_cond_wait(&s->done_cv, &s->mu);
	pthread_mutex_unlock(&s->mu);
}

/*
 * The reconciling half of a pass over v.  Returns ORCH_OK (*wrote true
 * when it changed the store, so that the placing half reads again), or
 * an error.
 */
static int
sched_reconcile(struct orch_sched *s, struct view *v, bool *wrote)
{
	struct orch_recon_node *rn = NULL;
	struct orch_recon_action *acts = NULL;
	struct orch_recon_result res = {0};
	size_t na = 0;
	int rc;

	*wrote = false;
	if ((rn = calloc(v->nn + 1, sizeof(*rn))) == NULL)
		return ORCH_ENOMEM;
	for (size_t i = 0; i < v->nn; i++) {
		rn[i].id = v->nodes[i]->id;
		rn[i].name = v->nodes[i]->name;
		rn[i].status = orch_nodes_status(s->nodes, rn[i].id, NULL);
		rn[i].drain = v->sn[i].drain;
	}
	rc = orch_recon_plan(
	    &(struct orch_recon_input){
	        .services = v->svcs,
	        .n_services = v->ns,
	        .tasks = v->tasks,
	        .n_tasks = v->nt,
	        .nodes = rn,
	        .n_nodes = v->nn,
	    },
	    &acts, &na);
	if (rc == ORCH_OK && na > 0)
		rc = orch_recon_apply(
		    s->store, s->nodes, s->notify, acts, na, &res);
	*wrote = res.lost + res.created + res.replaced + res.stopped > 0;
	pthread_mutex_lock(&s->mu);
	s->stats.lost += res.lost;
	s->stats.created += res.created;
	s->stats.replaced += res.replaced;
	s->stats.stopped += res.stopped;
	pthread_mutex_unlock(&s->mu);
	free(acts);
	free(rn);
	return rc;
}

/* How many replicas of one service each node has, for spreading it. */
struct spread {
	const char *service_id;
	uint32_t *count; /* per node of the view */
};

static int
spread_cmp(const void *a, const void *b)
{
	return strcmp(((const struct spread *)a)->service_id,
	    ((const struct spread *)b)->service_id);
}

static struct spread *
spread_find(struct spread *v, size_t n, const char *service_id)
{
	struct spread key = {.service_id = service_id};

	if (service_id == NULL || service_id[0] == '\0')
		return NULL;
	return bsearch(&key, v, n, sizeof(*v), spread_cmp);
}

static void
spreads_free(struct spread *v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++)
		free(v[i].count);
	free(v);
}

/* Counts, for each service with a replica to place, its live replicas
 * on each node.  On ORCH_OK *out has *n entries, sorted. */
static int
spreads_count(const struct view *v, struct spread **out, size_t *n)
{
	struct spread *sp = NULL, *e;
	size_t len = 0, k = 0;

	*out = NULL;
	*n = 0;
	if ((sp = calloc(v->nt + 1, sizeof(*sp))) == NULL)
		return ORCH_ENOMEM;
	for (size_t i = 0; i < v->nt; i++) {
		const orch_task *t = v->tasks[i];

		if (t->status != ST_PENDING || t->service_id == NULL ||
		    t->service_id[0] == '\0')
			continue;
		sp[len].service_id = t->service_id;
		len++;
	}
	qsort(sp, len, sizeof(*sp), spread_cmp);
	/* One entry per service. */
	for (size_t i = 0; i < len; i++) {
		if (k > 0 &&
		    strcmp(sp[k - 1].service_id, sp[i].service_id) == 0)
			continue;
		sp[k++] = sp[i];
	}
	len = k;
	for (size_t i = 0; i < len; i++) {
		if ((sp[i].count = calloc(v->nn + 1, sizeof(uint32_t))) ==
		    NULL) {
			spreads_free(sp, len);
			return ORCH_ENOMEM;
		}
	}
	for (size_t i = 0; i < v->nt; i++) {
		const orch_task *t = v->tasks[i];
		int node;

		if ((t->status != ST_SCHEDULED &&
		        t->status != ORCH__TASK_STATUS__TASK_STATUS_RUNNING) ||
		    t->stop_requested ||
		    (e = spread_find(sp, len, t->service_id)) == NULL ||
		    (node = view_node(v, t->node_id)) < 0)
			continue;
		e->count[node]++;
	}
	*out = sp;
	*n = len;
	return ORCH_OK;
}

/*
 * Runs one pass.  Returns ORCH_OK when it read everything it needed
 * (whatever it then wrote), else the error.  *due_ms (OUT) is the wall
 * time when the first restart backoff of a waiting task ends, 0 if none.
 */
static int
sched_pass(struct orch_sched *s, int64_t *due_ms)
{
	struct view v = {0};
	struct spread *spreads = NULL;
	struct sched_op *ops = NULL;
	bool *told = NULL, wrote = false;
	size_t nops = 0, nspreads = 0, i;
	uint64_t placed = 0, explained = 0;
	int64_t now = orch_now_ms();
	const char *why = NULL;
	int rc;

	*due_ms = 0;
	if ((rc = orch_store_task_list_open(s->reader, &v.tasks, &v.nt)) !=
	        ORCH_OK ||
	    (rc = orch_store_service_list(s->reader, &v.svcs, &v.ns)) !=
	        ORCH_OK) {
		orch_warn(SCHED_COMPONENT,
		    "cannot read the open tasks and "
		    "services: %s",
		    orch_strerror(rc));
		goto out;
	}
	if (v.nt == 0 && v.ns == 0)
		goto out;
	if ((rc = sched_nodes_read(s, &v)) != ORCH_OK) {
		orch_warn(SCHED_COMPONENT, "cannot read the nodes: %s",
		    orch_strerror(rc));
		goto out;
	}
	if ((rc = sched_reconcile(s, &v, &wrote)) != ORCH_OK)
		orch_warn(
		    SCHED_COMPONENT, "reconciling: %s", orch_strerror(rc));
	/* What it created is placed now, with the room it freed. */
	if (wrote) {
		view_tasks_free(&v);
		if ((rc = orch_store_task_list_open(
		         s->reader, &v.tasks, &v.nt)) != ORCH_OK ||
		    (rc = sched_nodes_read(s, &v)) != ORCH_OK) {
			orch_warn(SCHED_COMPONENT,
			    "cannot read the tasks "
			    "again: %s",
			    orch_strerror(rc));
			goto out;
		}
	}
	if ((rc = spreads_count(&v, &spreads, &nspreads)) != ORCH_OK ||
	    (ops = calloc(v.nt < SCHED_MAX_OPS ? v.nt + 1 : SCHED_MAX_OPS,
	         sizeof(*ops))) == NULL ||
	    (told = calloc(v.nn + 1, sizeof(*told))) == NULL) {
		orch_warn(SCHED_COMPONENT, "out of memory");
		rc = ORCH_ENOMEM;
		goto out;
	}
	/* Oldest first: the free space a placement takes is gone for the
	 * tasks after it in this pass. */
	for (i = 0; i < v.nt && nops < SCHED_MAX_OPS; i++) {
		const orch_task *t = v.tasks[i];
		struct sched_op *op = &ops[nops];
		struct spread *sp;
		struct orch_sched_want want;
		int k;

		if (t->status != ST_PENDING || t->stop_requested ||
		    t->spec == NULL)
			continue;
		if (t->has_not_before_ms && t->not_before_ms > now) {
			if (*due_ms == 0 || t->not_before_ms < *due_ms)
				*due_ms = t->not_before_ms;
			continue;
		}
		sp = spread_find(spreads, nspreads, t->service_id);
		want = (struct orch_sched_want){
		    .cpu = t->spec->cpu,
		    .memory_mb = t->spec->memory_mb,
		    .constraints = (const char *const *)t->spec->constraints,
		    .n_constraints = t->spec->n_constraints,
		    .same_service = sp != NULL ? sp->count : NULL,
		};
		if (orch_placement_parse(t->spec->placement, &want.placement) !=
		    ORCH_OK)
			want.placement = ORCH_PLACEMENT_SPREAD;
		op->s = s;
		op->task = t;
		k = orch_sched_node_pick(v.sn, v.nn, &want);
		if (k >= 0) {
			op->kind = SOP_PLACE;
			op->node = (size_t)k;
			op->node_id = v.sn[k].id;
			v.sn[k].cpu_free -= t->spec->cpu;
			v.sn[k].memory_free_mb -= t->spec->memory_mb;
			if (sp != NULL)
				sp->count[k]++;
		} else {
			orch_sched_explain(
			    v.sn, v.nn, &want, op->msg, sizeof(op->msg));
			if (t->error != NULL && strcmp(t->error, op->msg) == 0)
				continue;
			op->kind = SOP_EXPLAIN;
		}
		nops++;
	}
	if (i < v.nt)
		orch_sched_wake(s); /* the rest in the next pass */
	if (nops == 0)
		goto out;
	sched_ops_run(s, ops, nops);
	for (i = 0; i < nops; i++) {
		const struct sched_op *op = &ops[i];

		if (op->kind == SOP_PLACE && op->rc == ORCH_OK) {
			told[op->node] = true;
			placed++;
			orch_info(SCHED_COMPONENT,
			    "task %s (%s) placed on node "
			    "%s (%s)",
			    op->task->id, op->task->spec->name,
			    v.sn[op->node].name, v.sn[op->node].id);
		} else if (op->kind == SOP_EXPLAIN && op->rc == ORCH_OK) {
			explained++;
			why = op->msg;
			orch_debug(SCHED_COMPONENT,
			    "task %s (%s) stays Pending: %s", op->task->id,
			    op->task->spec->name, op->msg);
		} else if (op->rc != ORCH_ECONFLICT && op->rc != ORCH_EEXIST &&
		    op->rc != ORCH_ENOENT) {
			/* Not a race with another writer: try again next tick.
			 */
			orch_warn(SCHED_COMPONENT, "%s", op->err);
			rc = op->rc;
		}
	}
	/* One line for a burst of submissions that all wait. */
	if (explained > 0)
		orch_info(SCHED_COMPONENT, "%llu task%s stay%s Pending: %s%s",
		    (unsigned long long)explained, explained == 1 ? "" : "s",
		    explained == 1 ? "s" : "", why,
		    explained == 1 ? "" : " (the last of them)");
	for (i = 0; i < v.nn; i++) {
		if (told[i])
			orch_notify_node(s->notify, v.sn[i].id);
	}
out:
	pthread_mutex_lock(&s->mu);
	s->stats.passes++;
	s->stats.placed += placed;
	s->stats.explained += explained;
	pthread_mutex_unlock(&s->mu);
	free(told);
	free(ops);
	spreads_free(spreads, nspreads);
	view_free(&v);
	return rc;
}

static void
deadline_from_mono(int64_t mono_ms, struct timespec *ts)
{
	ts->tv_sec = (time_t)(mono_ms / 1000);
	ts->tv_nsec = (long)(mono_ms % 1000) * 1000000L;
}

static void *
sched_main(void *arg)
{
	struct orch_sched *s = arg;
	int64_t now = orch_mono_ms(), next_tick = now + SCHED_TICK_MS;
	int64_t not_before = now, took, due_wall = 0, due = 0, until_ms;
	struct orch_store_stats ss;
	struct timespec until;
	uint64_t commits;
	bool woke;
	int rc;

	/* Whatever waits from before this manager started. */
	orch_store_stats(s->store, &ss);
	commits = ss.commits;
	rc = sched_pass(s, &due_wall);
	for (;;) {
		/* A backoff ends on the wall clock; wait for it on the
		 * monotonic one. */
		due = due_wall > 0 ? orch_mono_ms() + (due_wall - orch_now_ms())
		                   : 0;
		pthread_mutex_lock(&s->mu);
		for (;;) {
			now = orch_mono_ms();
			if (s->stop || now >= next_tick ||
			    (s->wake && now >= not_before) ||
			    (due > 0 && now >= due))
				break;
			until_ms = s->wake && not_before < next_tick
			    ? not_before
			    : next_tick;
			if (due > 0 && due < until_ms)
				until_ms = due;
			deadline_from_mono(until_ms, &until);
			pthread_cond_timedwait(&s->cv, &s->mu, &until);
		}
		if (s->stop) {
			pthread_mutex_unlock(&s->mu);
			break;
		}
		woke = s->wake || (due > 0 && now >= due);
		s->wake = false;
		pthread_mutex_unlock(&s->mu);
		if (now >= next_tick) {
			/* May wake us again: a node turned Ready or Down. */
			orch_nodes_sweep(s->nodes);
			next_tick = now + SCHED_TICK_MS;
		}
		/* A pass decides from the store, the nodes' status and the
		 * clock of backoffs alone, so with no commit since the last
		 * good one, no node turned Ready or Down (which wakes us) and
		 * no backoff ended, the tick's would change nothing: skip
		 * reading a backlog of open tasks again. */
		orch_store_stats(s->store, &ss);
		if (!woke && rc == ORCH_OK && ss.commits == commits)
			continue;
		commits = ss.commits;
		rc = sched_pass(s, &due_wall);
		/* A pass reads every open task.  Under a stream of commits
		 * (a burst of submissions) the next one waits as long as this
		 * one took, so that a long backlog costs at most half a core;
		 * a small one is placed at once. */
		took = orch_mono_ms() - now;
		not_before = orch_mono_ms() +
		    (took < SCHED_TICK_MS ? took : SCHED_TICK_MS);
	}
	return NULL;
}

/* Releases what orch_sched_start acquired, once the thread is gone. */
static void
sched_free(struct orch_sched *s)
{
	if (s->listening)
		orch_store_unlisten(s->store, sched_on_commit, s);
	orch_nodes_watch(s->nodes, NULL, NULL);
	orch_store_reader_free(s->reader);
	if (s->sync_init) {
		pthread_cond_destroy(&s->done_cv);
		pthread_cond_destroy(&s->cv);
		pthread_mutex_destroy(&s->mu);
	}
	free(s);
}

int
orch_sched_start(struct orch_store *st, struct orch_nodes *ns,
    struct orch_notify *notify, struct orch_sched **out)
{
	struct orch_sched *s = calloc(1, sizeof(*s));
	pthread_condattr_t ca;
	int rc = ORCH_OK;

	*out = NULL;
	if (s == NULL)
		return ORCH_ENOMEM;
	s->store = st;
	s->nodes = ns;
	s->notify = notify;
	if (pthread_condattr_init(&ca) != 0)
		goto nomem;
	/* Deadlines on the monotonic clock: a clock step neither stalls nor
	 * races the tick. */
	if (pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
	    pthread_mutex_init(&s->mu, NULL) != 0) {
		pthread_condattr_destroy(&ca);
		goto nomem;
	}
	if (pthread_cond_init(&s->cv, &ca) != 0) {
		pthread_mutex_destroy(&s->mu);
		pthread_condattr_destroy(&ca);
		goto nomem;
	}
	pthread_condattr_destroy(&ca);
	if (pthread_cond_init(&s->done_cv, NULL) != 0) {
		pthread_cond_destroy(&s->cv);
		pthread_mutex_destroy(&s->mu);
		goto nomem;
	}
	s->sync_init = true;
	if ((rc = orch_store_reader_new(st, &s->reader)) != ORCH_OK ||
	    (rc = orch_store_listen(st, sched_on_commit, s)) != ORCH_OK)
		goto out;
	s->listening = true;
	orch_nodes_watch(ns, sched_on_node_change, s);
	if (pthread_create(&s->thread, NULL, sched_main, s) != 0) {
		rc = ORCH_ENOMEM;
		goto out;
	}
	s->started = true;
	*out = s;
	return ORCH_OK;
nomem:
	rc = ORCH_ENOMEM;
out:
	sched_free(s);
	return rc;
}

void
orch_sched_stop(struct orch_sched *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = true;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	/* A pass in progress finishes first: its writes complete before the
	 * store closes. */
	if (s->started)
		pthread_join(s->thread, NULL);
	sched_free(s);
}
