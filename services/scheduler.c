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
#include "error.h"
#include "log.h"

#define SCHED_COMPONENT "scheduler"
/* The safety net: a pass at least this often, whatever happens. */
#define SCHED_TICK_MS 1000
/* Most writes one pass queues; a longer backlog takes several passes. */
#define SCHED_MAX_OPS 1024
/* Sums of fractional cores are not exact: 0.1 + 0.2 must fit in 0.3. */
#define CPU_EPSILON 1e-9
#define SCHED_ERR_LEN 384

#define ST_PENDING ORCH__TASK_STATUS__TASK_STATUS_PENDING
#define ST_SCHEDULED ORCH__TASK_STATUS__TASK_STATUS_SCHEDULED

/* ---- the decision ---- */

/* True when a should be preferred to b: more free memory, then more free
 * cpu, then the smaller name and id, so that ties are broken the same way
 * whatever the order of the array. */
static bool
node_better(const struct orch_sched_node *a, const struct orch_sched_node *b)
{
	int c;

	if (a->memory_free_mb != b->memory_free_mb)
		return a->memory_free_mb > b->memory_free_mb;
	if (fabs(a->cpu_free - b->cpu_free) > CPU_EPSILON)
		return a->cpu_free > b->cpu_free;
	if ((c = strcmp(a->name != NULL ? a->name : "",
	         b->name != NULL ? b->name : "")) != 0)
		return c < 0;
	return strcmp(a->id != NULL ? a->id : "", b->id != NULL ? b->id : "") <
	    0;
}

int
orch_sched_node_pick(const struct orch_sched_node *nodes, size_t n, double cpu,
    int64_t memory_mb)
{
	int best = -1;

	for (size_t i = 0; i < n; i++) {
		const struct orch_sched_node *c = &nodes[i];

		if (!c->ready || memory_mb > c->memory_free_mb ||
		    cpu > c->cpu_free + CPU_EPSILON)
			continue;
		if (best < 0 || node_better(c, &nodes[best]))
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

void
orch_sched_explain(const struct orch_sched_node *nodes, size_t n, double cpu,
    int64_t memory_mb, char *buf, size_t len)
{
	const struct orch_sched_node *best = NULL;
	char want[32], have[32];

	for (size_t i = 0; i < n; i++) {
		if (!nodes[i].ready)
			continue;
		if (best == NULL || node_better(&nodes[i], best))
			best = &nodes[i];
	}
	if (n == 0) {
		snprintf(
		    buf, len, "no Ready node: no node has joined the cluster");
		return;
	}
	if (best == NULL) {
		snprintf(buf, len,
		    "no Ready node: %zu node%s known, none Ready", n,
		    n == 1 ? "" : "s");
		return;
	}
	snprintf(buf, len,
	    "no Ready node has %lld MB and %s cpu free; most "
	    "free: %.128s with %lld MB and %s cpu",
	    (long long)memory_mb, cpu_text(cpu, want, sizeof(want)),
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

/* Commit listener: any task or node written may change a placement.  On
 * the writer thread, with the store's lock: a flag, nothing more. */
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

/* Reads the nodes with what they hold into a new array (and *nodes_out,
 * which the array points into). */
static int
sched_nodes_read(struct orch_sched *s, orch_node ***nodes_out, size_t *nn,
    struct orch_sched_node **out)
{
	struct orch_node_usage *usage = NULL;
	struct orch_sched_node *sn = NULL;
	orch_node **nodes = NULL;
	size_t n = 0, nu = 0;
	int rc;

	*out = NULL;
	if ((rc = orch_store_node_list(s->reader, &nodes, &n)) != ORCH_OK ||
	    (rc = orch_store_node_usage(s->reader, &usage, &nu)) != ORCH_OK)
		goto out;
	if ((sn = calloc(n > 0 ? n : 1, sizeof(*sn))) == NULL) {
		rc = ORCH_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const orch_node *nd = nodes[i];

		sn[i].id = nd->id;
		sn[i].name = nd->name;
		sn[i].ready = orch_nodes_status(s->nodes, nd->id, NULL) ==
		    ORCH__NODE_STATUS__NODE_STATUS_READY;
		sn[i].cpu_free = nd->cpu;
		sn[i].memory_free_mb = nd->memory_mb;
		for (size_t k = 0; k < nu; k++) {
			if (strcmp(usage[k].node_id, nd->id) == 0) {
				sn[i].cpu_free -= usage[k].cpu;
				sn[i].memory_free_mb -= usage[k].memory_mb;
				break;
			}
		}
	}
	*out = sn;
	sn = NULL;
out:
	free(sn);
	free(usage);
	if (rc != ORCH_OK) {
		orch_store_node_list_free(nodes, n);
		nodes = NULL;
		n = 0;
	}
	*nodes_out = nodes;
	*nn = n;
	return rc;
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

/* Runs one pass.  Returns ORCH_OK when it read everything it needed
 * (whatever it then wrote), else the error. */
static int
sched_pass(struct orch_sched *s)
{
	orch_task **tasks = NULL;
	orch_node **nodes = NULL;
	struct orch_sched_node *sn = NULL;
	struct sched_op *ops = NULL;
	bool *told = NULL;
	size_t nt = 0, nn = 0, nops = 0, i;
	uint64_t placed = 0, explained = 0;
	const char *why = NULL;
	int rc;

	if ((rc = orch_store_task_list(s->reader, ST_PENDING, &tasks, &nt)) !=
	    ORCH_OK) {
		orch_warn(SCHED_COMPONENT, "cannot read the Pending tasks: %s",
		    orch_strerror(rc));
		goto out;
	}
	if (nt == 0)
		goto out;
	if ((rc = sched_nodes_read(s, &nodes, &nn, &sn)) != ORCH_OK) {
		orch_warn(SCHED_COMPONENT, "cannot read the nodes: %s",
		    orch_strerror(rc));
		goto out;
	}
	if ((ops = calloc(nt < SCHED_MAX_OPS ? nt : SCHED_MAX_OPS,
	         sizeof(*ops))) == NULL ||
	    (told = calloc(nn > 0 ? nn : 1, sizeof(*told))) == NULL) {
		orch_warn(SCHED_COMPONENT, "out of memory");
		rc = ORCH_ENOMEM;
		goto out;
	}
	/* Oldest first: the free space a placement takes is gone for the
	 * tasks after it in this pass. */
	for (i = 0; i < nt && nops < SCHED_MAX_OPS; i++) {
		const orch_task *t = tasks[i];
		struct sched_op *op = &ops[nops];
		int k;

		if (t->stop_requested || t->spec == NULL)
			continue;
		op->s = s;
		op->task = t;
		k = orch_sched_node_pick(
		    sn, nn, t->spec->cpu, t->spec->memory_mb);
		if (k >= 0) {
			op->kind = SOP_PLACE;
			op->node = (size_t)k;
			op->node_id = sn[k].id;
			sn[k].cpu_free -= t->spec->cpu;
			sn[k].memory_free_mb -= t->spec->memory_mb;
		} else {
			orch_sched_explain(sn, nn, t->spec->cpu,
			    t->spec->memory_mb, op->msg, sizeof(op->msg));
			if (t->error != NULL && strcmp(t->error, op->msg) == 0)
				continue;
			op->kind = SOP_EXPLAIN;
		}
		nops++;
	}
	if (i < nt)
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
			    sn[op->node].name, sn[op->node].id);
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
	for (i = 0; i < nn; i++) {
		if (told[i])
			orch_notify_node(s->notify, sn[i].id);
	}
out:
	pthread_mutex_lock(&s->mu);
	s->stats.passes++;
	s->stats.placed += placed;
	s->stats.explained += explained;
	pthread_mutex_unlock(&s->mu);
	free(told);
	free(ops);
	free(sn);
	orch_store_node_list_free(nodes, nn);
	orch_store_task_list_free(tasks, nt);
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
	int64_t not_before = now, took;
	struct orch_store_stats ss;
	struct timespec until;
	uint64_t commits;
	bool woke;
	int rc;

	/* Whatever waits from before this manager started. */
	orch_store_stats(s->store, &ss);
	commits = ss.commits;
	rc = sched_pass(s);
	for (;;) {
		pthread_mutex_lock(&s->mu);
		for (;;) {
			now = orch_mono_ms();
			if (s->stop || now >= next_tick ||
			    (s->wake && now >= not_before))
				break;
			deadline_from_mono(s->wake && not_before < next_tick
			        ? not_before
			        : next_tick,
			    &until);
			pthread_cond_timedwait(&s->cv, &s->mu, &until);
		}
		if (s->stop) {
			pthread_mutex_unlock(&s->mu);
			break;
		}
		woke = s->wake;
		s->wake = false;
		pthread_mutex_unlock(&s->mu);
		if (now >= next_tick) {
			/* May wake us again: a node turned Ready or Down. */
			orch_nodes_sweep(s->nodes);
			next_tick = now + SCHED_TICK_MS;
		}
		/* A pass decides from the store and the Ready nodes alone, so
		 * with no commit since the last good one and no node turned
		 * Ready or Down (which wakes us), the tick's would change
		 * nothing: skip reading a backlog of Pending tasks again. */
		orch_store_stats(s->store, &ss);
		if (!woke && rc == ORCH_OK && ss.commits == commits)
			continue;
		commits = ss.commits;
		rc = sched_pass(s);
		/* A pass reads every Pending task.  Under a stream of commits
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
