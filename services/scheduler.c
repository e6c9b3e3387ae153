/*
 * scheduler.c: placing Pending tasks on nodes (see scheduler.h).
 *
 * The decision (orch_sched_node_pick) is a pure function over an array,
 * so that it is tested without a store; the thread around it reads the
 * store, queues the pass's writes at once so that they share one commit,
 * waits for them, and tells the nodes that got tasks (one message).
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
#include "sched_state.h"

#define SCHED_COMPONENT "scheduler"
/* The safety net: a pass at least this often, whatever happens. */
#define SCHED_TICK_MS 1000
/* Most writes one pass queues; a longer backlog takes several passes.
 * They share a commit or two, and the pass waits for them, so this bounds
 * how long the state goes without news (bench/simcluster.sh). */
#define SCHED_MAX_OPS 8192
/* The safety net of the reconciler: every service looked at this often
 * even when no commit seemed to concern it. */
#define SCHED_FULL_MS 30000
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

	if (a->rank != 0 && b->rank != 0)
		return a->rank < b->rank;
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

/* The ORCH_SCHED_DRIVER_ bit of driver d, or ORCH_SCHED_DRIVER_OTHER. */
static uint8_t
driver_bit(const char *d)
{
	if (strcmp(d, ORCH_DRIVER_DOCKER) == 0)
		return ORCH_SCHED_DRIVER_DOCKER;
	if (strcmp(d, ORCH_DRIVER_EXEC) == 0)
		return ORCH_SCHED_DRIVER_EXEC;
	return ORCH_SCHED_DRIVER_OTHER;
}

/* The driver_mask of a node with drivers[n] (none: Docker's). */
static uint8_t
driver_mask(char *const *drivers, size_t n)
{
	uint8_t m = n == 0 ? ORCH_SCHED_DRIVER_DOCKER : 0;

	for (size_t i = 0; i < n; i++)
		m |= drivers[i] != NULL ? driver_bit(drivers[i]) : 0;
	return m;
}

/* Whether node c has the driver w asks for.  A node that lists no driver
 * registered before agents advertised them: it has Docker's. */
static bool
node_has_driver(
    const struct orch_sched_node *c, const struct orch_sched_want *w)
{
	const char *d = w->driver != NULL ? w->driver : ORCH_DRIVER_DOCKER;
	uint8_t bit;

	/* A known driver against a node's bits: no name compared. */
	if (c->driver_mask != 0 &&
	    (bit = w->driver_bit != 0 ? w->driver_bit : driver_bit(d)) !=
	        ORCH_SCHED_DRIVER_OTHER)
		return (c->driver_mask & bit) != 0;

	if (c->n_drivers == 0)
		return strcmp(d, ORCH_DRIVER_DOCKER) == 0;
	for (size_t i = 0; i < c->n_drivers; i++) {
		if (c->drivers[i] != NULL && strcmp(c->drivers[i], d) == 0)
			return true;
	}
	return false;
}

/* The unhealthy entry of the driver w asks for on node c, or NULL when
 * its agent reports that driver healthy. */
static const struct orch_driver_health *
node_driver_sick(
    const struct orch_sched_node *c, const struct orch_sched_want *w)
{
	const char *d = w->driver != NULL ? w->driver : ORCH_DRIVER_DOCKER;

	for (size_t i = 0; i < c->n_unhealthy; i++) {
		if (strcmp(c->unhealthy[i].name, d) == 0)
			return &c->unhealthy[i];
	}
	return NULL;
}

static bool
node_fits(const struct orch_sched_node *c, const struct orch_sched_want *w)
{
	return w->memory_mb <= c->memory_free_mb &&
	    w->cpu <= c->cpu_free + CPU_EPSILON;
}

/* Takes w's room from nodes[k], and counts the replica in same (may be
 * NULL). */
static void
node_take(struct orch_sched_node *nodes, int k, const struct orch_sched_want *w,
    uint32_t *same)
{
	nodes[k].cpu_free -= w->cpu;
	nodes[k].memory_free_mb -= w->memory_mb;
	if (same != NULL)
		same[k]++;
}

/* Whether node c may take a task asking w now.  The cheap tests first:
 * this runs nodes x tasks times. */
static bool
node_eligible(const struct orch_sched_node *c, const struct orch_sched_want *w)
{
	return c->ready && !c->drain && node_fits(c, w) &&
	    node_has_driver(c, w) && node_driver_sick(c, w) == NULL &&
	    node_allowed(c, w);
}

int
orch_sched_node_pick(const struct orch_sched_node *nodes, size_t n,
    const struct orch_sched_want *want)
{
	struct orch_sched_want w = *want;
	int best = -1;

	/* Once, not once a node. */
	w.driver_bit =
	    driver_bit(w.driver != NULL ? w.driver : ORCH_DRIVER_DOCKER);
	want = &w;
	for (size_t i = 0; i < n; i++) {
		const struct orch_sched_node *c = &nodes[i];

		if (!node_eligible(c, want))
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

/* Adds name to the ", "-separated list in buf unless it is there. */
static void
names_add(char *buf, size_t len, const char *name)
{
	size_t o = strlen(buf), n = strlen(name);

	for (const char *p = buf; (p = strstr(p, name)) != NULL; p += n) {
		if ((p == buf || p[-1] == ' ') && (p[n] == ',' || p[n] == '\0'))
			return;
	}
	snprintf(buf + o, len - o, "%s%s", o > 0 ? ", " : "", name);
}

/* The drivers of the Ready nodes, for a person: "docker, exec". */
static const char *
ready_drivers_text(
    const struct orch_sched_node *nodes, size_t n, char *buf, size_t len)
{
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (!nodes[i].ready)
			continue;
		if (nodes[i].n_drivers == 0)
			names_add(buf, len, ORCH_DRIVER_DOCKER);
		for (size_t j = 0; j < nodes[i].n_drivers; j++) {
			if (nodes[i].drivers[j] != NULL)
				names_add(buf, len, nodes[i].drivers[j]);
		}
	}
	return buf;
}

void
orch_sched_explain(const struct orch_sched_node *nodes, size_t n,
    const struct orch_sched_want *want, char *buf, size_t len)
{
	const struct orch_sched_node *best = NULL, *sick_node = NULL;
	const struct orch_driver_health *sick = NULL, *h;
	size_t ready = 0, capable = 0, allowed = 0, healthy = 0, open = 0;
	size_t drained = 0;
	char need[32], have[32], cons[256];

	for (size_t i = 0; i < n; i++) {
		const struct orch_sched_node *c = &nodes[i];

		if (!c->ready)
			continue;
		ready++;
		if (!node_has_driver(c, want))
			continue;
		capable++;
		if (!node_allowed(c, want))
			continue;
		allowed++;
		if ((h = node_driver_sick(c, want)) != NULL) {
			if (sick == NULL) {
				sick = h;
				sick_node = c;
			}
			continue;
		}
		healthy++;
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
	if (capable == 0) {
		snprintf(buf, len,
		    "no Ready node has the %.32s driver (%zu Ready, with %s)",
		    want->driver != NULL ? want->driver : ORCH_DRIVER_DOCKER,
		    ready, ready_drivers_text(nodes, n, cons, sizeof(cons)));
		return;
	}
	if (allowed == 0) {
		snprintf(buf, len, "no Ready node satisfies the constraints %s",
		    constraints_text(want, cons, sizeof(cons)));
		return;
	}
	if (healthy == 0) {
		snprintf(buf, len,
		    "no Ready node %shas a healthy %.32s driver (%zu ha%s it, "
		    "unhealthy: %.128s: %s)",
		    want->n_constraints > 0 ? "satisfying the constraints "
		                            : "",
		    sick->name, allowed, allowed == 1 ? "s" : "ve",
		    sick_node->name != NULL ? sick_node->name : sick_node->id,
		    sick->error);
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
	struct orch_sstate *state;        /* the thread's, but for heard() */
	pthread_t thread;
	bool started;
	bool listening;
	bool sync_init;

	/* The thread's alone: the records the state points into. */
	orch_node **node_recs;
	size_t n_node_recs;
	orch_service **svcs;
	size_t n_svcs;
	bool loaded;          /* the state holds the open tasks */
	int64_t next_full_ms; /* monotonic: the next whole reconcile */

	pthread_mutex_t mu;     /* guards everything below */
	pthread_cond_t cv;      /* the thread waits for work */
	pthread_cond_t done_cv; /* it waits for its writes */
	bool wake;
	bool stop;
	bool nodes_stale; /* a node was committed: read them again */
	bool svcs_stale;  /* a service was committed */
	size_t inflight;  /* writes of this pass not done */
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
	char id[ORCH_ID_LEN];      /* the task's */
	const char *name;          /* the task's, for logs (in the state) */
	size_t node;               /* SOP_PLACE: index of the node */
	char node_id[ORCH_ID_LEN]; /* SOP_PLACE */
	char msg[SCHED_ERR_LEN];   /* SOP_EXPLAIN */
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

/* Commit listener, on the writer thread with the store's lock: a task is
 * copied into the state's queue, a node or service raises a flag. */
static void
sched_on_commit(void *arg, int kind, const char *id, const void *obj)
{
	struct orch_sched *s = arg;

	if (kind == ORCH_STORE_TASK)
		orch_sstate_heard(s->state, id, obj);
	pthread_mutex_lock(&s->mu);
	if (kind == ORCH_STORE_NODE)
		s->nodes_stale = true;
	else if (kind == ORCH_STORE_SERVICE)
		s->svcs_stale = true;
	s->wake = true;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

static void
sched_on_node_change(void *arg)
{
	orch_sched_wake(arg);
}

/* Inside the write transaction: the pass saw the task a moment ago, and
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

/* Queues ops[0..n) and waits until every one has completed. */
static void
sched_ops_run(struct orch_sched *s, struct sched_op *ops, size_t n)
{
	pthread_mutex_lock(&s->mu);
	s->inflight = n;
	pthread_mutex_unlock(&s->mu);
	for (size_t i = 0; i < n; i++) {
		struct sched_op *op = &ops[i];

		orch_store_task_modify(s->store, op->id,
		    op->kind == SOP_PLACE ? modify_place : modify_explain, op,
		    sched_op_done, op);
	}
	pthread_mutex_lock(&s->mu);
	while (s->inflight > 0)
		pthread_cond_wait(&s->done_cv, &s->mu);
	pthread_mutex_unlock(&s->mu);
}

/* ---- bringing the state up to date ---- */

/* For sched_nodes_refresh(): the nodes whose status or drain changed. */
struct node_changes {
	struct orch_sstate *ss;
	const bool *changed;
};

static void
mark_on_changed(void *arg, const struct orch_stask *t)
{
	const struct node_changes *c = arg;

	if (t->node >= 0 && c->changed[t->node] && t->service_id[0] != '\0')
		orch_sstate_dirty_add(c->ss, t->service_id);
}

/* Takes the unhealthy drivers node n's agent reports now, copying them
 * only when they changed.  Returns ORCH_OK or ORCH_ENOMEM. */
static int
sched_node_health(struct orch_sched *s, struct orch_snode *n)
{
	struct orch_driver_health now[ORCH_NODE_DRIVERS_MAX], *v = NULL;
	size_t k =
	    orch_nodes_unhealthy(s->nodes, n->id, now, ORCH_NODE_DRIVERS_MAX);

	if (k == n->n_unhealthy &&
	    (k == 0 || memcmp(now, n->unhealthy, k * sizeof(*now)) == 0))
		return ORCH_OK;
	if (k > 0 && (v = malloc(k * sizeof(*v))) == NULL)
		return ORCH_ENOMEM;
	if (k > 0)
		memcpy(v, now, k * sizeof(*v));
	free(n->unhealthy);
	n->unhealthy = v;
	n->n_unhealthy = k;
	return ORCH_OK;
}

/* Reads the nodes again when one was committed, and takes each node's
 * live status, drain and driver health.  Services with replicas on a node whose
 * status or drain changed become dirty, so that the reconciler looks at them.
 */
static int
sched_nodes_refresh(struct orch_sched *s, bool stale)
{
	orch_node **recs = NULL;
	struct orch_snode *sn;
	size_t nrecs = 0, n;
	bool *changed = NULL, any = false;
	int rc;

	if (stale || s->node_recs == NULL) {
		if ((rc = orch_store_node_list(s->reader, &recs, &nrecs)) !=
		    ORCH_OK)
			return rc;
		if ((rc = orch_sstate_nodes_set(s->state, recs, nrecs)) !=
		    ORCH_OK) {
			/* Some nodes may point into recs: keep them. */
			orch_sstate_nodes_set(
			    s->state, s->node_recs, s->n_node_recs);
			orch_store_node_list_free(recs, nrecs);
			return rc;
		}
		orch_store_node_list_free(s->node_recs, s->n_node_recs);
		s->node_recs = recs;
		s->n_node_recs = nrecs;
	}
	sn = orch_sstate_nodes(s->state, &n);
	if ((changed = calloc(n + 1, sizeof(*changed))) == NULL)
		return ORCH_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int st = orch_nodes_status(s->nodes, sn[i].id, NULL);
		bool drain = sn[i].rec != NULL && sn[i].rec->has_drain &&
		    sn[i].rec->drain;

		if (st != sn[i].status || drain != sn[i].drain) {
			changed[i] = any = true;
			sn[i].status = st;
			sn[i].drain = drain;
		}
		if ((rc = sched_node_health(s, &sn[i])) != ORCH_OK) {
			free(changed);
			return rc;
		}
	}
	/* A walk over every open task, but only when a node changed. */
	if (any)
		orch_sstate_each(s->state, mark_on_changed,
		    &(struct node_changes){s->state, changed});
	free(changed);
	return ORCH_OK;
}

/* Reads the services again when one was committed: any may have been
 * created, scaled or deleted, so the reconciler looks at them all. */
static int
sched_services_refresh(struct orch_sched *s)
{
	orch_service **v = NULL;
	size_t n = 0;
	int rc;

	if ((rc = orch_store_service_list(s->reader, &v, &n)) != ORCH_OK)
		return rc;
	orch_store_service_list_free(s->svcs, s->n_svcs);
	s->svcs = v;
	s->n_svcs = n;
	orch_sstate_dirty_all(s->state);
	return ORCH_OK;
}

/* ---- placing ---- */

/* How many replicas of one service each node has, for spreading it. */
struct spread {
	const char *service_id;
	uint32_t *count; /* per node of the state */
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

	if (service_id == NULL || service_id[0] == '\0' || n == 0)
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

struct spread_count {
	struct spread *sp;
	size_t n;
};

static void
spread_count_one(void *arg, const struct orch_stask *t)
{
	struct spread_count *c = arg;
	struct spread *e;

	if ((t->status != ST_SCHEDULED &&
	        t->status != ORCH__TASK_STATUS__TASK_STATUS_RUNNING) ||
	    t->stop_requested || t->node < 0 ||
	    (e = spread_find(c->sp, c->n, t->service_id)) == NULL)
		return;
	e->count[t->node]++;
}

/* Counts, for each service of ids[0..nids) ("" and NULL skipped, repeats
 * allowed), its live replicas on each node.  On ORCH_OK *out has *n
 * entries, sorted. */
static int
spreads_count(struct orch_sched *s, const char *const *ids, size_t nids,
    size_t nnodes, struct spread **out, size_t *n)
{
	struct spread *sp = NULL;
	size_t len = 0, k = 0;

	*out = NULL;
	*n = 0;
	for (size_t i = 0; i < nids; i++) {
		if (ids[i] != NULL && ids[i][0] != '\0')
			len++;
	}
	if (len == 0)
		return ORCH_OK;
	if ((sp = calloc(len, sizeof(*sp))) == NULL)
		return ORCH_ENOMEM;
	len = 0;
	for (size_t i = 0; i < nids; i++) {
		if (ids[i] != NULL && ids[i][0] != '\0')
			sp[len++].service_id = ids[i];
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
		if ((sp[i].count = calloc(nnodes + 1, sizeof(uint32_t))) ==
		    NULL) {
			spreads_free(sp, len);
			return ORCH_ENOMEM;
		}
	}
	orch_sstate_each(
	    s->state, spread_count_one, &(struct spread_count){sp, len});
	*out = sp;
	*n = len;
	return ORCH_OK;
}

static int
node_order_cmp(const void *a, const void *b)
{
	const struct orch_sched_node *x =
	    *(const struct orch_sched_node *const *)a;
	const struct orch_sched_node *y =
	    *(const struct orch_sched_node *const *)b;

	return node_first(x, y) ? -1 : node_first(y, x) ? 1 : 0;
}

/* Sets the rank of each of v[0..n), whose ranks are 0 (names compared). */
static void
rank_nodes(struct orch_sched_node *v, size_t n)
{
	struct orch_sched_node **by = malloc((n + 1) * sizeof(*by));

	for (size_t i = 0; i < n; i++)
		v[i].rank = 0;
	/* Without memory, ties compare names, as the ranks would. */
	if (by == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		by[i] = &v[i];
	qsort(by, n, sizeof(*by), node_order_cmp);
	for (size_t i = 0; i < n; i++)
		by[i]->rank = (uint32_t)i + 1;
	free(by);
}

/* The nodes as the decision sees them, one per node of the state (same
 * indexes); a node known only from tasks is not Ready. */
static struct orch_sched_node *
sched_nodes_view(struct orch_sched *s, size_t *n)
{
	struct orch_snode *sn = orch_sstate_nodes(s->state, n);
	struct orch_sched_node *v = calloc(*n + 1, sizeof(*v));

	if (v == NULL)
		return NULL;
	for (size_t i = 0; i < *n; i++) {
		const orch_node *rec = sn[i].rec;

		v[i].id = sn[i].id;
		v[i].name = rec != NULL ? rec->name : sn[i].id;
		v[i].ready = rec != NULL &&
		    sn[i].status == ORCH__NODE_STATUS__NODE_STATUS_READY;
		v[i].drain = sn[i].drain;
		v[i].cpu_free = rec != NULL ? rec->cpu - sn[i].cpu_used : 0;
		v[i].memory_free_mb =
		    rec != NULL ? rec->memory_mb - sn[i].memory_mb_used : 0;
		if (rec != NULL) {
			v[i].labels = rec->labels;
			v[i].n_labels = rec->n_labels;
			v[i].drivers = rec->drivers;
			v[i].n_drivers = rec->n_drivers;
			v[i].driver_mask =
			    driver_mask(rec->drivers, rec->n_drivers);
		}
		v[i].unhealthy = sn[i].unhealthy;
		v[i].n_unhealthy = sn[i].n_unhealthy;
	}
	rank_nodes(v, *n);
	return v;
}

/* Picks the node for want among sn[0..nn), and takes the room from it
 * (and counts the replica in sp, may be NULL).  Returns its index, or -1
 * when none fits. */
static int
place_pick(struct orch_sched_node *sn, size_t nn, struct spread *sp,
    struct orch_sched_want *want)
{
	int k;

	want->same_service = sp != NULL ? sp->count : NULL;
	if ((k = orch_sched_node_pick(sn, nn, want)) >= 0)
		node_take(sn, k, want, sp != NULL ? sp->count : NULL);
	return k;
}

/*
 * The placer's picks for a run of tasks asking the same (a service's
 * new replicas): the nodes that may take one, in a binary heap ordered
 * by node_better(), so that each pick costs log(nodes), not nodes.  The
 * heap's best is the node orch_sched_node_pick() would pick: the order
 * is total (names and ids break ties).  A pick changes only the node it
 * takes (less room, one more replica), which then sinks or leaves the
 * heap; so the heap holds as long as every change to the nodes goes
 * through it, and is built again for a task asking something else.
 */
static void
heap_strings_free(struct orch_sched_picker *ph)
{
	for (size_t i = 0;
	     ph->constraints != NULL && i < ph->want.n_constraints; i++)
		free(ph->constraints[i]);
	free(ph->constraints);
	ph->constraints = NULL;
	ph->want.constraints = NULL;
	ph->want.n_constraints = 0;
}

static bool
heap_above(const struct orch_sched_node *sn, const struct orch_sched_picker *ph,
    size_t a, size_t b)
{
	return node_better(&sn[ph->h[a]], (size_t)ph->h[a], &sn[ph->h[b]],
	    (size_t)ph->h[b], &ph->want);
}

static void
heap_sink(
    const struct orch_sched_node *sn, struct orch_sched_picker *ph, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, top = i;
		int t;

		if (l < ph->n && heap_above(sn, ph, l, top))
			top = l;
		if (r < ph->n && heap_above(sn, ph, r, top))
			top = r;
		if (top == i)
			return;
		t = ph->h[i];
		ph->h[i] = ph->h[top];
		ph->h[top] = t;
		i = top;
	}
}

/* Whether a and b ask the same of a node (the same constraints, as
 * strings: a service's replicas share its template's). */
static bool
want_same(const struct orch_sched_want *a, const struct orch_sched_want *b)
{
	if (a->cpu != b->cpu || a->memory_mb != b->memory_mb ||
	    a->placement != b->placement ||
	    a->n_constraints != b->n_constraints ||
	    strcmp(a->driver != NULL ? a->driver : ORCH_DRIVER_DOCKER,
	        b->driver != NULL ? b->driver : ORCH_DRIVER_DOCKER) != 0)
		return false;
	for (size_t i = 0; i < a->n_constraints; i++) {
		if (strcmp(a->constraints[i], b->constraints[i]) != 0)
			return false;
	}
	return true;
}

/* Builds ph over sn[0..nn) for want.  Returns ORCH_OK or ORCH_ENOMEM. */
static int
heap_build(struct orch_sched_picker *ph, const struct orch_sched_node *sn,
    size_t nn, const struct orch_sched_want *want)
{
	ph->valid = false;
	heap_strings_free(ph);
	free(ph->h);
	if ((ph->h = calloc(nn + 1, sizeof(*ph->h))) == NULL)
		return ORCH_ENOMEM;
	if (want->n_constraints > 0 &&
	    (ph->constraints = calloc(
	         want->n_constraints, sizeof(*ph->constraints))) == NULL)
		return ORCH_ENOMEM;
	for (size_t i = 0; i < want->n_constraints; i++) {
		if ((ph->constraints[i] = strdup(want->constraints[i])) ==
		    NULL) {
			for (size_t k = 0; k < i; k++)
				free(ph->constraints[k]);
			free(ph->constraints);
			ph->constraints = NULL;
			return ORCH_ENOMEM;
		}
	}
	ph->want = *want;
	ph->want.constraints = (const char *const *)ph->constraints;
	snprintf(ph->driver, sizeof(ph->driver), "%s",
	    want->driver != NULL ? want->driver : ORCH_DRIVER_DOCKER);
	ph->want.driver = ph->driver;
	ph->want.driver_bit = driver_bit(ph->driver);
	ph->n = 0;
	for (size_t i = 0; i < nn; i++) {
		if (node_eligible(&sn[i], &ph->want))
			ph->h[ph->n++] = (int)i;
	}
	for (size_t i = ph->n / 2; i-- > 0;)
		heap_sink(sn, ph, i);
	ph->valid = true;
	return ORCH_OK;
}

int
orch_sched_picker_take(struct orch_sched_picker *ph,
    struct orch_sched_node *nodes, size_t n, uint32_t *same_service,
    const struct orch_sched_want *want)
{
	struct orch_sched_want w = *want;
	int k;

	w.same_service = same_service;
	if ((!ph->valid || ph->nodes != nodes || ph->n_nodes != n ||
	        ph->want.same_service != same_service ||
	        !want_same(&ph->want, &w)) &&
	    heap_build(ph, nodes, n, &w) != ORCH_OK) {
		/* Out of memory: one node at a time, as without a heap. */
		ph->valid = false;
		if ((k = orch_sched_node_pick(nodes, n, &w)) >= 0)
			node_take(nodes, k, &w, same_service);
		return k;
	}
	ph->nodes = nodes;
	ph->n_nodes = n;
	if (ph->n == 0)
		return -1;
	k = ph->h[0];
	node_take(nodes, k, &w, same_service);
	/* It has less room and one more replica: it sinks, or leaves the
	 * heap when the next such task no longer fits there. */
	if (!node_fits(&nodes[k], &ph->want))
		ph->h[0] = ph->h[--ph->n];
	heap_sink(nodes, ph, 0);
	return k;
}

void
orch_sched_picker_fini(struct orch_sched_picker *ph)
{
	free(ph->h);
	heap_strings_free(ph);
	memset(ph, 0, sizeof(*ph));
}

/* The placer of the reconciler's new tasks (orch_recon_placer), over the
 * nodes as the pass began; what it takes is in the state once the
 * writes commit. */
struct placer {
	struct orch_sched_node *sn;
	size_t nn;
	struct spread *sp;
	size_t nsp;
	struct orch_sched_picker picker;
};

static void
placer_fini(struct placer *pl)
{
	spreads_free(pl->sp, pl->nsp);
	free(pl->sn);
	orch_sched_picker_fini(&pl->picker);
	memset(pl, 0, sizeof(*pl));
}

static int
placer_init(struct placer *pl, struct orch_sched *s)
{
	const char **ids;
	size_t n = 0;
	int rc;

	memset(pl, 0, sizeof(*pl));
	if ((ids = calloc(s->n_svcs + 1, sizeof(*ids))) == NULL)
		return ORCH_ENOMEM;
	for (size_t i = 0; i < s->n_svcs; i++) {
		if (orch_sstate_dirty(s->state, s->svcs[i]->id))
			ids[n++] = s->svcs[i]->id;
	}
	if ((pl->sn = sched_nodes_view(s, &pl->nn)) == NULL)
		rc = ORCH_ENOMEM;
	else
		rc = spreads_count(s, ids, n, pl->nn, &pl->sp, &pl->nsp);
	free(ids);
	if (rc != ORCH_OK)
		placer_fini(pl);
	return rc;
}

static bool
placer_fn(void *arg, const orch_task *t, char node_id[ORCH_ID_LEN])
{
	struct placer *pl = arg;
	const orch_task_spec *spec = t->spec;
	struct orch_sched_want want = {0};
	struct spread *sp;
	int k;

	if (pl->sn == NULL || spec == NULL)
		return false;
	/* As the state takes them (sched_state.c). */
	want.cpu = spec->cpu;
	want.memory_mb = spec->memory_mb;
	want.constraints = (const char *const *)spec->constraints;
	want.n_constraints = spec->n_constraints;
	want.driver = orch_task_spec_driver(spec);
	if (orch_placement_parse(spec->placement, &want.placement) != ORCH_OK)
		want.placement = ORCH_PLACEMENT_SPREAD;
	sp = spread_find(pl->sp, pl->nsp, t->service_id);
	k = orch_sched_picker_take(
	    &pl->picker, pl->sn, pl->nn, sp != NULL ? sp->count : NULL, &want);
	if (k < 0)
		return false;
	memcpy(node_id, pl->sn[k].id, ORCH_ID_LEN);
	return true;
}

/* ---- reconciling ---- */

/* A shallow task for the reconciler (orch_stask_view).  A replica's
 * view has no spec (its service's is used); a plain task's points at
 * one of specs, kept apart so that 100,000 replicas cost half as much. */
struct view {
	orch_task t;
	uint64_t seq;
};

/* What the reconciler is shown: the tasks it may act on.  Both arrays
 * are sized by a first walk (recon_count) and never grow. */
struct recon_pick {
	const struct orch_sstate *ss;
	const orch_service *group; /* its replicas; NULL: plain tasks */
	uint64_t group_hash;       /* orch_stask_service_hash(group->id) */
	const struct orch_snode *nodes;
	size_t nnodes;
	struct view *v;
	size_t n, cap;
	orch_task_spec *specs;
	size_t nspecs, capspecs;
};

/*
 * Whether t is one the reconciler must see in p's group: every replica of
 * the (dirty) service, or it would fill slots that are not empty; a plain
 * task whose restart is to be decided, or that is on a Down node.
 */
static bool
recon_wanted(const struct recon_pick *p, const struct orch_stask *t)
{
	/* This runs for every open task once a dirty service: the hash
	 * turns the other services' replicas away without a strcmp. */
	if (p->group != NULL)
		return t->service_hash == p->group_hash &&
		    strcmp(t->service_id, p->group->id) == 0;
	if (t->service_id[0] != '\0')
		return false;
	if (orch_task_status_terminal(t->status))
		return !t->replaced;
	return t->node >= 0 && (size_t)t->node < p->nnodes &&
	    p->nodes[t->node].status == ORCH__NODE_STATUS__NODE_STATUS_DOWN;
}

static void
recon_collect(void *arg, const struct orch_stask *t)
{
	struct recon_pick *p = arg;
	orch_task_spec scratch, *spec = &scratch;

	if (!recon_wanted(p, t))
		return;
	/* The counts were taken under the same state: a mismatch is a
	 * bug, never an overflow. */
	if (p->n == p->cap)
		return;
	if (t->service_id[0] == '\0') {
		if (p->nspecs == p->capspecs)
			return;
		spec = &p->specs[p->nspecs++];
	}
	orch_stask_view(t, &p->v[p->n].t, spec);
	p->v[p->n].seq = t->seq;
	p->n++;
}

static void
recon_count(void *arg, const struct orch_stask *t)
{
	struct recon_pick *p = arg;

	if (!recon_wanted(p, t))
		return;
	p->cap++;
	if (t->service_id[0] == '\0')
		p->capspecs++;
}

static int
view_seq_cmp(const void *a, const void *b)
{
	uint64_t x = (*(const struct view *const *)a)->seq;
	uint64_t y = (*(const struct view *const *)b)->seq;

	return x < y ? -1 : x > y;
}

/* Whether a reconcile could decide anything: a dirty service, a plain
 * task that ended, or a task on a Down node. */
static bool
recon_needed(struct orch_sched *s)
{
	struct orch_snode *sn;
	size_t n;

	if (orch_sstate_any_dirty(s->state) ||
	    orch_sstate_plain_ended(s->state) > 0)
		return true;
	sn = orch_sstate_nodes(s->state, &n);
	for (size_t i = 0; i < n; i++) {
		if (sn[i].status == ORCH__NODE_STATUS__NODE_STATUS_DOWN &&
		    sn[i].tasks > 0)
			return true;
	}
	return false;
}

/*
 * Plans and writes the decisions for one group of tasks: the plain ones
 * (svc NULL) or the replicas of svc, at most *budget actions (taken from
 * it), new tasks placed by placer (may be NULL), counted into res.
 * One group's views at a time: the 100,000 replicas of 10 services cost
 * a tenth of what they would all at once.
 */
static int
recon_group(struct orch_sched *s, orch_service *svc,
    const struct orch_recon_node *rn, size_t nn,
    const struct orch_recon_placer *placer, size_t *budget,
    struct orch_recon_result *res)
{
	struct recon_pick p = {.ss = s->state,
	    .group = svc,
	    .group_hash = svc != NULL && svc->id != NULL
	        ? orch_stask_service_hash(svc->id)
	        : 0};
	struct orch_recon_action *acts = NULL;
	struct orch_recon_result r = {0};
	orch_task **tasks = NULL, **full = NULL;
	size_t na = 0;
	int64_t t0 = orch_mono_ms(), t1;
	int rc = ORCH_ENOMEM;

	p.nodes = orch_sstate_nodes(s->state, &p.nnodes);
	/* Counted first: growing the array by doubling would hold two
	 * copies at once. */
	orch_sstate_each(s->state, recon_count, &p);
	if ((p.v = malloc((p.cap + 1) * sizeof(*p.v))) == NULL ||
	    (p.specs = malloc((p.capspecs + 1) * sizeof(*p.specs))) == NULL)
		goto out;
	orch_sstate_each(s->state, recon_collect, &p);
	if ((tasks = calloc(p.n + 1, sizeof(*tasks))) == NULL)
		goto out;
	/* Oldest first, as the reconciler expects. */
	for (size_t i = 0; i < p.n; i++)
		tasks[i] = &p.v[i].t;
	qsort(tasks, p.n, sizeof(*tasks), view_seq_cmp);
	rc = orch_recon_plan(
	    &(struct orch_recon_input){
	        .services = svc != NULL ? &svc : NULL,
	        .n_services = svc != NULL ? 1 : 0,
	        .tasks = tasks,
	        .n_tasks = p.n,
	        .nodes = rn,
	        .n_nodes = nn,
	        .max_actions = *budget,
	    },
	    &acts, &na);
	if (rc != ORCH_OK)
		goto out;
	*budget -= na < *budget ? na : *budget;
	/* A plain task's new attempt copies its whole spec, which the state
	 * does not keep: read those few in full. */
	if (na > 0 && (full = calloc(na, sizeof(*full))) == NULL) {
		rc = ORCH_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < na; i++) {
		if (acts[i].kind != ORCH_RECON_REPLACE ||
		    acts[i].service != NULL)
			continue;
		if ((rc = orch_store_task_get(
		         s->reader, acts[i].task->id, &full[i])) != ORCH_OK)
			goto out;
		acts[i].task = full[i];
	}
	t1 = orch_mono_ms();
	if (na > 0)
		rc = orch_recon_apply(
		    s->store, s->nodes, s->notify, placer, acts, na, &r);
	orch_debug(SCHED_COMPONENT,
	    "reconciled %s%s: %zu tasks in %lld ms, %zu writes (%llu "
	    "placed) in %lld ms",
	    svc != NULL ? "service " : "plain tasks",
	    svc != NULL ? svc->name : "", p.n, (long long)(t1 - t0), na,
	    (unsigned long long)r.placed, (long long)(orch_mono_ms() - t1));
	res->placed += r.placed;
	res->lost += r.lost;
	res->created += r.created;
	res->replaced += r.replaced;
	res->stopped += r.stopped;
out:
	for (size_t i = 0; full != NULL && i < na; i++)
		orch_task_free(full[i]);
	free(full);
	free(acts);
	free(tasks);
	free(p.specs);
	free(p.v);
	return rc;
}

/*
 * The reconciling half of a pass: the plain tasks, then each dirty
 * service alone (recon_group), within one budget of SCHED_MAX_OPS
 * writes.  waiting: a Pending task waits for room, so new tasks are not
 * placed ahead of it; otherwise one placer, over the nodes as the pass
 * began, places every group's new tasks.  Returns ORCH_OK (*wrote true
 * when it changed the store), or an error (what is dirty stays dirty).
 */
static int
sched_reconcile(struct orch_sched *s, bool waiting, bool *wrote)
{
	struct placer pl = {0};
	const struct orch_recon_placer pfn = {placer_fn, &pl}, *placer = NULL;
	const struct orch_snode *sn;
	struct orch_recon_node *rn;
	struct orch_recon_result res = {0};
	size_t nn, budget = SCHED_MAX_OPS, nleft = 0;
	const char **left;
	bool truncated = false;
	int rc = ORCH_OK, e;

	*wrote = false;
	if (!recon_needed(s))
		return ORCH_OK;
	sn = orch_sstate_nodes(s->state, &nn);
	if ((rn = calloc(nn + 1, sizeof(*rn))) == NULL)
		return ORCH_ENOMEM;
	if ((left = calloc(s->n_svcs + 1, sizeof(*left))) == NULL) {
		free(rn);
		return ORCH_ENOMEM;
	}
	for (size_t i = 0; i < nn; i++) {
		rn[i].id = sn[i].id;
		rn[i].name = sn[i].rec != NULL ? sn[i].rec->name : NULL;
		rn[i].status = sn[i].status;
		rn[i].drain = sn[i].drain;
	}
	if (!waiting && placer_init(&pl, s) == ORCH_OK)
		placer = &pfn;
	for (size_t g = 0; g <= s->n_svcs; g++) {
		orch_service *svc = g == 0 ? NULL : s->svcs[g - 1];
		size_t before = budget;

		if (svc != NULL && !orch_sstate_dirty(s->state, svc->id))
			continue;
		/* Past the budget, or on an error: the next pass. */
		if (budget == 0 || rc == ORCH_ENOMEM) {
			truncated = true;
			if (svc != NULL)
				left[nleft++] = svc->id;
			continue;
		}
		e = recon_group(s, svc, rn, nn, placer, &budget, &res);
		if (e != ORCH_OK && rc == ORCH_OK)
			rc = e;
		/* A plan that took what was left of the budget may have had
		 * more to say. */
		if (e != ORCH_OK || (before > 0 && budget == 0)) {
			truncated = true;
			if (svc != NULL)
				left[nleft++] = svc->id;
		}
	}
	placer_fini(&pl);
	free(rn);
	*wrote = res.lost + res.created + res.replaced + res.stopped > 0;
	pthread_mutex_lock(&s->mu);
	s->stats.placed += res.placed;
	s->stats.lost += res.lost;
	s->stats.created += res.created;
	s->stats.replaced += res.replaced;
	s->stats.stopped += res.stopped;
	pthread_mutex_unlock(&s->mu);
	/* Only the services left undecided stay dirty: the others are not
	 * looked at again until a commit concerns them (refused writes
	 * raced with such a commit, whose record, applied after this, makes
	 * its service dirty again). */
	if (rc == ORCH_OK) {
		orch_sstate_dirty_clear(s->state);
		for (size_t i = 0; i < nleft; i++)
			orch_sstate_dirty_add(s->state, left[i]);
	}
	if (truncated)
		orch_sched_wake(s);
	free(left);
	return rc;
}

/* The service ids of pending[0..np), into ids; returns ids. */
static const char *const *
ids_of(const struct orch_stask *const *pending, size_t np, const char **ids)
{
	for (size_t i = 0; i < np; i++)
		ids[i] = pending[i]->service_id;
	return ids;
}

/* Whether a Pending task could be placed now (its backoff, if any, is
 * over): the reconciler's new tasks then wait their turn. */
static bool
pending_ready(struct orch_sched *s, int64_t now)
{
	const struct orch_stask *const *pending;
	size_t np;

	if (orch_sstate_pending(s->state, &pending, &np) != ORCH_OK)
		return true;
	for (size_t i = 0; i < np; i++) {
		if (pending[i]->not_before_ms <= now)
			return true;
	}
	return false;
}

/*
 * Runs one pass.  Returns ORCH_OK when it read everything it needed
 * (whatever it then wrote), else the error.  *due_ms (OUT) is the wall
 * time when the first restart backoff of a waiting task ends, 0 if none.
 */
static int
sched_pass(struct orch_sched *s, int64_t *due_ms)
{
	const struct orch_stask *const *pending = NULL;
	struct orch_sched_node *sn = NULL;
	struct spread *spreads = NULL;
	struct sched_op *ops = NULL;
	const char **ids = NULL, **told_ids = NULL;
	bool *told = NULL, wrote = false, nodes_stale, svcs_stale;
	size_t nops = 0, nspreads = 0, np = 0, nn = 0, ntold = 0, i;
	uint64_t placed = 0, explained = 0, failed = 0, failed_place = 0;
	const char *first_err = "";
	int64_t now = orch_now_ms(), mono = orch_mono_ms();
	const char *why = NULL;
	int rc;

	*due_ms = 0;
	pthread_mutex_lock(&s->mu);
	nodes_stale = s->nodes_stale;
	svcs_stale = s->svcs_stale;
	s->nodes_stale = s->svcs_stale = false;
	pthread_mutex_unlock(&s->mu);
	if (!s->loaded) {
		if ((rc = orch_sstate_load(s->state, s->reader)) != ORCH_OK)
			goto out;
		s->loaded = true;
		svcs_stale = nodes_stale = true;
	}
	if ((rc = orch_sstate_apply(s->state, s->reader)) != ORCH_OK) {
		/* Start again from the store next time. */
		s->loaded = false;
		orch_warn(SCHED_COMPONENT,
		    "cannot bring the tasks up to "
		    "date: %s",
		    orch_strerror(rc));
		goto out;
	}
	if ((svcs_stale && (rc = sched_services_refresh(s)) != ORCH_OK) ||
	    (rc = sched_nodes_refresh(s, nodes_stale)) != ORCH_OK) {
		pthread_mutex_lock(&s->mu);
		s->svcs_stale |= svcs_stale;
		s->nodes_stale |= nodes_stale;
		pthread_mutex_unlock(&s->mu);
		orch_warn(SCHED_COMPONENT,
		    "cannot read the nodes and "
		    "services: %s",
		    orch_strerror(rc));
		goto out;
	}
	/* The safety net: now and then every service is looked at, even
	 * if nothing seemed to change it. */
	if (mono >= s->next_full_ms) {
		orch_sstate_dirty_all(s->state);
		s->next_full_ms = mono + SCHED_FULL_MS;
	}
	if ((rc = sched_reconcile(s, pending_ready(s, now), &wrote)) != ORCH_OK)
		orch_warn(
		    SCHED_COMPONENT, "reconciling: %s", orch_strerror(rc));
	/* What it created is placed now, with the room it freed: its
	 * commits are queued already (listeners run before completions). */
	if (wrote && (rc = orch_sstate_apply(s->state, s->reader)) != ORCH_OK) {
		s->loaded = false;
		goto out;
	}
	if ((rc = orch_sstate_pending(s->state, &pending, &np)) != ORCH_OK ||
	    np == 0)
		goto out;
	if ((sn = sched_nodes_view(s, &nn)) == NULL ||
	    (ids = calloc(np, sizeof(*ids))) == NULL ||
	    (rc = spreads_count(s, ids_of(pending, np, ids), np, nn, &spreads,
	         &nspreads)) != ORCH_OK ||
	    (ops = calloc(np < SCHED_MAX_OPS ? np : SCHED_MAX_OPS,
	         sizeof(*ops))) == NULL ||
	    (told = calloc(nn + 1, sizeof(*told))) == NULL ||
	    (told_ids = calloc(nn + 1, sizeof(*told_ids))) == NULL) {
		orch_warn(SCHED_COMPONENT, "out of memory");
		rc = ORCH_ENOMEM;
		goto out;
	}
	/* Oldest first: the free space a placement takes is gone for the
	 * tasks after it in this pass. */
	for (i = 0; i < np && nops < SCHED_MAX_OPS; i++) {
		const struct orch_stask *t = pending[i];
		struct sched_op *op = &ops[nops];
		struct orch_sched_want want;
		int k;

		if (t->not_before_ms > now) {
			if (*due_ms == 0 || t->not_before_ms < *due_ms)
				*due_ms = t->not_before_ms;
			continue;
		}
		want = (struct orch_sched_want){
		    .cpu = t->cpu,
		    .memory_mb = t->memory_mb,
		    .constraints = (const char *const *)t->constraints,
		    .n_constraints = t->n_constraints,
		    .driver = t->driver,
		};
		if (orch_placement_parse(t->placement, &want.placement) !=
		    ORCH_OK)
			want.placement = ORCH_PLACEMENT_SPREAD;
		op->s = s;
		memcpy(op->id, t->id, ORCH_ID_LEN);
		op->name = t->name != NULL ? t->name : "";
		k = place_pick(sn, nn,
		    spread_find(spreads, nspreads, t->service_id), &want);
		if (k >= 0) {
			op->kind = SOP_PLACE;
			op->node = (size_t)k;
			memcpy(op->node_id, sn[k].id, ORCH_ID_LEN);
		} else {
			orch_sched_explain(
			    sn, nn, &want, op->msg, sizeof(op->msg));
			if (t->error_hash == orch_stask_error_hash(op->msg))
				continue;
			op->kind = SOP_EXPLAIN;
		}
		nops++;
	}
	if (i < np)
		orch_sched_wake(s); /* the rest in the next pass */
	if (nops == 0)
		goto out;
	sched_ops_run(s, ops, nops);
	for (i = 0; i < nops; i++) {
		const struct sched_op *op = &ops[i];

		if (op->kind == SOP_PLACE && op->rc == ORCH_OK) {
			told[op->node] = true;
			placed++;
			orch_log_kv(ORCH_LOG_INFO, SCHED_COMPONENT,
			    ORCH_LOG_FIELDS(
			        {"task", op->id}, {"node", sn[op->node].name}),
			    "task %s (%s) placed on node %s (%s)", op->id,
			    op->name, sn[op->node].name, sn[op->node].id);
		} else if (op->kind == SOP_EXPLAIN && op->rc == ORCH_OK) {
			explained++;
			why = op->msg;
			orch_debug(SCHED_COMPONENT,
			    "task %s (%s) stays Pending: %s", op->id, op->name,
			    op->msg);
		} else if (op->rc != ORCH_ECONFLICT && op->rc != ORCH_EEXIST &&
		    op->rc != ORCH_ENOENT) {
			/* Not a race with another writer: the task stays
			 * Pending in the state (no commit told it otherwise)
			 * and the next tick tries again. */
			if (failed++ == 0)
				first_err = op->err;
			if (op->kind == SOP_PLACE)
				failed_place++;
			rc = op->rc;
		}
	}
	/* One line a pass, however many failed; none when the disk refuses
	 * writes, which the store logs when it starts and ends. */
	if (failed > 0)
		orch_log(rc == ORCH_ENOSPC ? ORCH_LOG_DEBUG : ORCH_LOG_WARN,
		    SCHED_COMPONENT,
		    "%llu write%s of this pass failed (%llu placing a task), "
		    "tried again in a second: %s%s",
		    (unsigned long long)failed, failed == 1 ? "" : "s",
		    (unsigned long long)failed_place, first_err,
		    failed == 1 ? "" : " (the first)");
	/* One line for a burst of submissions that all wait. */
	if (explained > 0)
		orch_info(SCHED_COMPONENT, "%llu task%s stay%s Pending: %s%s",
		    (unsigned long long)explained, explained == 1 ? "" : "s",
		    explained == 1 ? "s" : "", why,
		    explained == 1 ? "" : " (the last of them)");
	/* One message for all the nodes told (notify.h): each is sent to
	 * every agent. */
	for (i = 0; i < nn; i++) {
		if (told[i])
			told_ids[ntold++] = sn[i].id;
	}
	orch_notify_nodes(s->notify, told_ids, ntold);
out:
	pthread_mutex_lock(&s->mu);
	s->stats.passes++;
	s->stats.placed += placed;
	s->stats.explained += explained;
	pthread_mutex_unlock(&s->mu);
	free(told_ids);
	free(told);
	free(ops);
	free(ids);
	spreads_free(spreads, nspreads);
	free(sn);
	return rc;
}

static void
deadline_from_mono(int64_t mono_ms, struct timespec *ts)
{
	ts->tv_sec = (time_t)(mono_ms / 1000);
	ts->tv_nsec = (long)(mono_ms % 1000) * 1000000L;
}

/* The CPU time of the calling thread, in ms. */
static int64_t
thread_cpu_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *
sched_main(void *arg)
{
	struct orch_sched *s = arg;
	int64_t now = orch_mono_ms(), next_tick = now + SCHED_TICK_MS;
	int64_t not_before = now, took, due_wall = 0, due = 0, until_ms;
	int64_t cpu0;
	struct orch_store_stats ss;
	struct timespec until;
	uint64_t commits;
	bool woke;
	int rc;

	/* Named for top -H and perf. */
	pthread_setname_np(pthread_self(), "orch-sched");

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
		 * no backoff ended, the tick's would change nothing. */
		orch_store_stats(s->store, &ss);
		if (!woke && rc == ORCH_OK && ss.commits == commits)
			continue;
		commits = ss.commits;
		cpu0 = thread_cpu_ms();
		rc = sched_pass(s, &due_wall);
		/* Under a stream of commits (a burst of submissions) the
		 * next pass waits as long as this one computed (its own CPU
		 * time, not the wait for its commits), so that the scheduler
		 * takes at most half a core and each pass finds a batch of
		 * work; a lone submission is placed at once. */
		took = thread_cpu_ms() - cpu0;
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
	orch_sstate_free(s->state);
	orch_store_node_list_free(s->node_recs, s->n_node_recs);
	orch_store_service_list_free(s->svcs, s->n_svcs);
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
	/* Listening before the first pass reads the tasks: nothing
	 * committed meanwhile is missed. */
	if ((rc = orch_sstate_new(&s->state)) != ORCH_OK ||
	    (rc = orch_store_reader_new(st, &s->reader)) != ORCH_OK ||
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
