/*
 * agent.c: the agent's core: joining the manager, the heartbeat loop, the
 * instance cache and the worker pool that carries out reconcile's actions.
 *
 * What the node runs is known from two sources that change under the
 * agent: the manager (Assignments, on each beat) and the driver (list,
 * refreshed every few beats and after every exit).  Both are snapshots,
 * and the workers change things while they are taken.  One counter keeps
 * them honest: every finished operation takes the next sequence number,
 * and a beat notes the number before it lists and asks the manager.  A
 * key (task) whose operation is in flight, or finished after that note,
 * is "busy" for the beat: its entries in the snapshots may predate the
 * operation, so reconcile leaves it alone and the cache keeps what the
 * operation itself recorded.  This is what prevents a second start of a
 * task whose start the manager has not seen yet, a duplicate report, or
 * a "container disappeared" for a container a worker just made.
 *
 * A driver whose runtime stops answering (the Docker daemon stopped) is
 * unhealthy: the agent reports it in every beat, and, until the driver
 * answers again and has been listed anew, leaves its tasks and instances
 * alone (held, like busy keys): nothing is started or stopped with it,
 * and none of its tasks is reported lost for lack of a list, nor
 * unhealthy for checks that cannot reach it (checker.h).  The other
 * drivers go on being listed and reconciled.  Once it is back, a fresh
 * list of its instances decides: still running stays Running, exited is
 * reported with its exit code, gone is reported Failed ("container
 * disappeared") for the manager to replace.
 */
#include "agent.h"

#include <errno.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "checker.h"
#include "clock.h"
#include "error.h"
#include "health.h"
#include "log.h"
#include "log_push.h"
#include "node.h"
#include "notice.h"
#include "orch.pb-c.h"
#include "reconcile.h"
#include "rpc_client.h"
#include "tls.h"

/* The most an exiting agent waits for NNG to close a socket. */
#define AGENT_CLOSE_MS 2000
#define AGENT_WORKERS_DEFAULT 8
#define AGENT_WORKERS_MAX 64
/* An Assignments of thousands of tasks is well under this; the cap only
 * stops a peer that is not a manager from making us allocate at will. */
#define AGENT_RPC_RECV_MAX (16 * 1024 * 1024)
#define AGENT_RPC_TIMEOUT_MS 5000
/* Shorter than the receive timeout, so that a request lost on a live
 * connection gets a second chance within one call; every method the
 * agent calls is idempotent. */
#define AGENT_RPC_RESEND_MS 2000
#define AGENT_SUB_POLL_MS 1000
#define AGENT_RECONN_MIN_MS 100
#define AGENT_RECONN_MAX_MS 2000
#define AGENT_JOIN_BACKOFF_MIN_MS 100
#define AGENT_JOIN_BACKOFF_MAX_MS 5000
/* Beats between two lists of the driver's instances, the safety net for
 * exits the driver's monitor missed. */
#define AGENT_LIST_EVERY 5
#define AGENT_HEARTBEAT_MIN_MS 50
/* The least time between two beats, however many wake-ups come (a burst
 * of notices or exits): each beat may list the driver's instances. */
#define AGENT_BEAT_GAP_MS 50
#define AGENT_NODE_ID_MAX 128
#define AGENT_ERR_LEN 1024
/* How often a driver that is off (Docker not running) is probed again,
 * and how long one probe may take: it runs on the beat thread, and must
 * stay well inside the manager's heartbeat TTL. */
#define AGENT_PROBE_MS 5000
#define AGENT_PROBE_TIMEOUT_S 2

/* One action handed to the workers. */
struct op {
	struct op *next;
	enum orch_action_kind kind;
	char key[ORCH_HANDLE_LEN];
	char task_id[ORCH_ID_LEN];
	orch_task *task; /* START: a copy of the desired task */
	char handle[ORCH_HANDLE_LEN];
	const struct orch_driver_ops *drv; /* STOP, REMOVE: the handle's */
	struct orch_report report;
};

/* A driver the agent offers. */
struct drv_slot {
	const struct orch_driver_ops *ops;
	/* Under mu: set once when it starts, then kept until the agent is
	 * freed; NULL while it is off, and why says why. */
	void *state;
	char why[AGENT_ERR_LEN];
	/* Under mu, set by the beat thread: its runtime does not answer (the
	 * driver's healthy operation), and sick_why says why; fresh: the
	 * cache holds a list of its instances taken since it last came on
	 * or back. */
	bool sick;
	char sick_why[AGENT_ERR_LEN];
	bool fresh;
};

/* What the agent is doing or has just done with one key. */
struct opstate {
	char key[ORCH_HANDLE_LEN];
	bool in_flight;
	uint64_t done_seq; /* seq when the last op ended */
};

struct orch_agent {
	/* The configuration, copied. */
	char *manager_url;
	char *events_url;
	char *name;
	char *address;
	Orch__NodeRegistration__LabelsEntry *label_entries;
	Orch__NodeRegistration__LabelsEntry **labels;
	size_t n_labels;
	double cpu;
	int64_t memory_mb;
	int heartbeat_ms;
	int n_workers;
	const struct orch_policy *policy;

	struct drv_slot drv[ORCH_AGENT_DRIVERS_MAX];
	size_t n_drv;
	struct orch_driver_config dc; /* for probing again; strings owned */
	int64_t next_probe_ms;        /* beat thread */

	nng_socket req;
	nng_socket sub;
	bool req_open;
	bool sub_open;
	pthread_mutex_t rpc_mu; /* one request at a time on req */
	/* The log sessions (log_push.h): on contexts of req, apart from rpc_mu.
	 */
	struct orch_agent_logs *logs;

	/* Beat thread only. */
	int interval_ms; /* the beat interval in force */
	char sub_topic[AGENT_NODE_ID_MAX + 8];
	char mgr_err[AGENT_ERR_LEN]; /* last manager failure logged */
	char mgr_ok_msg[300];        /* "the manager at URL answers" */
	char drv_err[AGENT_ERR_LEN]; /* last list failure logged */
	int beats_since_list;
	/* The last assignments received in full, and the node they were
	 * for: a beat answered "unchanged" reconciles against them. */
	Orch__Assignments *last_as;
	char last_as_node[AGENT_NODE_ID_MAX + 1];

	/* Everything below is under mu. */
	pthread_mutex_t mu;
	pthread_cond_t beat_cv; /* CLOCK_MONOTONIC */
	pthread_cond_t work_cv;
	pthread_cond_t done_cv;
	bool stopping;
	bool wake;       /* beat now */
	bool list_dirty; /* list before the next reconcile */
	bool reregister; /* a driver came on: advertise it */
	char node_id[AGENT_NODE_ID_MAX + 1];
	struct orch_instance *inst;
	size_t n_inst;
	bool inst_valid;
	struct opstate *ops;
	size_t n_ops, cap_ops;
	uint64_t seq;
	struct op *q_head, *q_tail;
	int workers_alive;

	/* The health checks of the node's running tasks (its own threads). */
	struct orch_checker *checker;
	bool checker_started;

	pthread_t beat_thread, notice_thread;
	pthread_t *workers;
	int n_started; /* workers started */
	bool beat_started, notice_started;
	bool sync_ok; /* mutexes and conds made */
};

/* ---- small helpers ---- */

/* Copies s into buf, cut to fit at a character boundary: error texts go
 * to the manager, which keeps them as JSON (UTF-8) text. */
static void
copy_str(char *buf, size_t len, const char *s)
{
	size_t n = s != NULL ? strnlen(s, len - 1) : 0;

	if (s != NULL && s[n] != '\0') {
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	if (n > 0)
		memcpy(buf, s, n);
	buf[n] = '\0';
}

/* A node id goes into a topic ("node/<id> "): printable, no space. */
static bool
node_id_valid(const char *id)
{
	size_t n;

	if (id == NULL || (n = strlen(id)) == 0 || n > AGENT_NODE_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)id[i];

		if (c <= 0x20 || c >= 0x7f)
			return false;
	}
	return true;
}

static const char *
status_name(int status)
{
	const char *s = orch_task_status_name(status);

	return s != NULL ? s : "?";
}

/* The first 12 digits of a container id, as docker ps shows it. */
static const char *
short_id(const char *handle, char buf[16])
{
	if (handle == NULL || handle[0] == '\0')
		return "(none)";
	snprintf(buf, 16, "%.12s", handle);
	return buf;
}

static bool
agent_stopping(struct orch_agent *a)
{
	bool s;

	pthread_mutex_lock(&a->mu);
	s = a->stopping;
	pthread_mutex_unlock(&a->mu);
	return s;
}

static void
agent_node_id(struct orch_agent *a, char buf[AGENT_NODE_ID_MAX + 1])
{
	pthread_mutex_lock(&a->mu);
	memcpy(buf, a->node_id, sizeof(a->node_id));
	pthread_mutex_unlock(&a->mu);
}

/* Wakes the beat thread for a beat now (a notice, an exit). */
static void
agent_wake(struct orch_agent *a, bool relist)
{
	pthread_mutex_lock(&a->mu);
	a->wake = true;
	if (relist)
		a->list_dirty = true;
	pthread_cond_signal(&a->beat_cv);
	pthread_mutex_unlock(&a->mu);
}

static void
agent_relist(struct orch_agent *a)
{
	pthread_mutex_lock(&a->mu);
	a->list_dirty = true;
	pthread_mutex_unlock(&a->mu);
}

/* The state of driver ops while it is on, else NULL. */
static void *
drv_state(struct orch_agent *a, const struct orch_driver_ops *ops)
{
	void *st = NULL;

	pthread_mutex_lock(&a->mu);
	for (size_t i = 0; ops != NULL && i < a->n_drv; i++) {
		if (a->drv[i].ops == ops)
			st = a->drv[i].state;
	}
	pthread_mutex_unlock(&a->mu);
	return st;
}

/* The driver named name: *ops (OUT) NULL when the agent has none; *st
 * (OUT) NULL while it is off or unhealthy, and why (OUT) then says which
 * and why ("off: ...", "unhealthy: ..."). */
static void
drv_lookup(struct orch_agent *a, const char *name,
    const struct orch_driver_ops **ops, void **st, char *why, size_t whylen)
{
	*ops = NULL;
	*st = NULL;
	pthread_mutex_lock(&a->mu);
	for (size_t i = 0; i < a->n_drv; i++) {
		if (strcmp(a->drv[i].ops->name, name) != 0)
			continue;
		*ops = a->drv[i].ops;
		if (a->drv[i].state == NULL)
			snprintf(why, whylen, "off: %s", a->drv[i].why);
		else if (a->drv[i].sick)
			snprintf(
			    why, whylen, "unhealthy: %s", a->drv[i].sick_why);
		else
			*st = a->drv[i].state;
	}
	pthread_mutex_unlock(&a->mu);
}

/* Whether the tasks and instances of driver slot d must be left alone
 * now: it is off, unhealthy, or not listed since it came back.  Under
 * mu. */
static bool
drv_held(const struct drv_slot *d)
{
	return d->state == NULL || d->sick || !d->fresh;
}

/* The slot of driver ops, or NULL.  Under mu or on the beat thread. */
static struct drv_slot *
drv_slot_of(struct orch_agent *a, const struct orch_driver_ops *ops)
{
	for (size_t i = 0; ops != NULL && i < a->n_drv; i++) {
		if (a->drv[i].ops == ops)
			return &a->drv[i];
	}
	return NULL;
}

/* The slot of the driver named name, or NULL.  Under mu. */
static struct drv_slot *
drv_slot_named(struct orch_agent *a, const char *name)
{
	for (size_t i = 0; i < a->n_drv; i++) {
		if (strcmp(a->drv[i].ops->name, name) == 0)
			return &a->drv[i];
	}
	return NULL;
}

/* What task t runs, for logs: 'image "x:1"' or 'command "/bin/sh"'. */
static const char *
task_what(const orch_task *t, char *buf, size_t len)
{
	const orch_task_spec *sp = t->spec;

	if (sp != NULL &&
	    strcmp(orch_task_spec_driver(sp), ORCH_DRIVER_EXEC) == 0)
		snprintf(buf, len, "command \"%.200s\"",
		    sp->n_command > 0 && sp->command[0] != NULL ? sp->command[0]
		                                                : "");
	else
		snprintf(buf, len, "image \"%.200s\"",
		    sp != NULL && sp->image != NULL ? sp->image : "");
	return buf;
}

/* Sleeps until deadline (monotonic ms), a stop, or (when honor_wake) a
 * wake-up. */
static void
agent_wait(struct orch_agent *a, int64_t deadline, bool honor_wake)
{
	struct timespec ts;

	pthread_mutex_lock(&a->mu);
	while (!a->stopping && !(honor_wake && a->wake) &&
	    orch_mono_ms() < deadline) {
		ts.tv_sec = (time_t)(deadline / 1000);
		ts.tv_nsec = (long)(deadline % 1000) * 1000000L;
		pthread_cond_timedwait(&a->beat_cv, &a->mu, &ts);
	}
	pthread_mutex_unlock(&a->mu);
}

/* Logs a failure of the manager (or the driver, with buf drv_err) once
 * for as long as it repeats the same message. */
static void
agent_note_failure(char *last, const char *what, const char *err)
{
	if (strcmp(last, err) == 0) {
		orch_debug("agent", "%s: %s", what, err);
		return;
	}
	orch_warn("agent", "%s: %s (retrying)", what, err);
	copy_str(last, AGENT_ERR_LEN, err);
}

static void
agent_note_ok(char *last, const char *what)
{
	if (last[0] == '\0')
		return;
	orch_info("agent", "%s again", what);
	last[0] = '\0';
}

/* Calls the manager.  The REQ socket has one request in flight at a time:
 * concurrent callers would cancel each other's, so they queue here. */
static int
agent_rpc(struct orch_agent *a, const char *method, const ProtobufCMessage *in,
    const ProtobufCMessageDescriptor *out_desc, ProtobufCMessage **out,
    char *err, size_t errlen)
{
	int rc;

	pthread_mutex_lock(&a->rpc_mu);
	rc = orch_rpc_call(a->req, method, in, out_desc, out, err, errlen);
	pthread_mutex_unlock(&a->rpc_mu);
	return rc;
}

/* ---- operation bookkeeping (under mu) ---- */

static struct opstate *
opstate_find(struct orch_agent *a, const char *key)
{
	for (size_t i = 0; i < a->n_ops; i++) {
		if (strcmp(a->ops[i].key, key) == 0)
			return &a->ops[i];
	}
	return NULL;
}

/* True when key must be left alone by a beat that started at seq0. */
static bool
opstate_busy(struct orch_agent *a, const char *key, uint64_t seq0)
{
	struct opstate *s = opstate_find(a, key);

	return s != NULL && (s->in_flight || s->done_seq > seq0);
}

static int
opstate_begin(struct orch_agent *a, const char *key)
{
	struct opstate *s = opstate_find(a, key), *grown;

	if (s == NULL) {
		if (a->n_ops == a->cap_ops) {
			size_t cap = a->cap_ops > 0 ? a->cap_ops * 2 : 32;

			if ((grown = realloc(a->ops, cap * sizeof(*grown))) ==
			    NULL)
				return ORCH_ENOMEM;
			a->ops = grown;
			a->cap_ops = cap;
		}
		s = &a->ops[a->n_ops++];
		memset(s, 0, sizeof(*s));
		copy_str(s->key, sizeof(s->key), key);
	}
	s->in_flight = true;
	return ORCH_OK;
}

static void
opstate_end(struct orch_agent *a, const char *key)
{
	struct opstate *s = opstate_find(a, key);

	if (s == NULL)
		return;
	s->in_flight = false;
	s->done_seq = ++a->seq;
}

/* Forgets keys that no beat from seq0 on considers busy. */
static void
opstate_prune(struct orch_agent *a, uint64_t seq0)
{
	for (size_t i = 0; i < a->n_ops;) {
		if (!a->ops[i].in_flight && a->ops[i].done_seq <= seq0)
			a->ops[i] = a->ops[--a->n_ops];
		else
			i++;
	}
}

/* ---- the instance cache (under mu) ---- */

/* Replaces the cache with a fresh list taken by a beat that started at
 * seq0, keeping what operations recorded for keys busy since then, and
 * the instances of the drivers that were not listed (listed[i] false for
 * slot i: unhealthy, or their list failed).  Takes list (freed here).
 * Returns whether the cache took the list. */
static bool
cache_merge(struct orch_agent *a, struct orch_instance *list, size_t n,
    uint64_t seq0, const bool *listed)
{
	struct orch_instance *m;
	struct drv_slot *d;
	size_t cnt = 0;
	bool skipped = false;

	if ((m = calloc(a->n_inst + n + 1, sizeof(*m))) == NULL) {
		/* Keep the old view and try again on the next beat. */
		a->list_dirty = true;
		free(list);
		return false;
	}
	for (size_t i = 0; i < a->n_inst; i++) {
		d = drv_slot_of(a, a->inst[i].driver);
		if (d != NULL && !listed[d - a->drv]) {
			m[cnt++] = a->inst[i];
			continue;
		}
		if (opstate_busy(a, orch_reconcile_key(&a->inst[i]), seq0)) {
			m[cnt++] = a->inst[i];
			skipped = true;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (opstate_busy(a, orch_reconcile_key(&list[i]), seq0)) {
			skipped = true;
			continue;
		}
		m[cnt++] = list[i];
	}
	free(a->inst);
	free(list);
	a->inst = m;
	a->n_inst = cnt;
	a->inst_valid = true;
	/* An exit that raced with a busy key's operation may be hidden by
	 * what the operation recorded: look again next beat. */
	if (skipped)
		a->list_dirty = true;
	return true;
}

static void
cache_drop(struct orch_agent *a, const char *key)
{
	for (size_t i = 0; i < a->n_inst;) {
		if (strcmp(orch_reconcile_key(&a->inst[i]), key) == 0)
			a->inst[i] = a->inst[--a->n_inst];
		else
			i++;
	}
}

static void
cache_put(struct orch_agent *a, const struct orch_instance *x)
{
	struct orch_instance *grown;

	cache_drop(a, orch_reconcile_key(x));
	if ((grown = realloc(a->inst, (a->n_inst + 1) * sizeof(*grown))) ==
	    NULL) {
		a->list_dirty = true;
		return;
	}
	a->inst = grown;
	a->inst[a->n_inst++] = *x;
}

/* ---- reports ---- */

/* Sends r to the manager.  A report that fails is not queued anywhere:
 * the manager's task still disagrees with the instance, so the next
 * reconcile sends it again. */
static int
agent_report(struct orch_agent *a, const struct orch_report *r)
{
	Orch__TaskStatusUpdate u = ORCH__TASK_STATUS_UPDATE__INIT;
	Orch__Task *out = NULL;
	char node_id[AGENT_NODE_ID_MAX + 1], err[AGENT_ERR_LEN], cid[16];
	char code[64] = "";
	int rc;

	agent_node_id(a, node_id);
	if (node_id[0] == '\0') {
		orch_debug("agent",
		    "task %s: report %s held until the node is "
		    "registered",
		    r->task_id, status_name(r->status));
		return ORCH_EAGAIN;
	}
	u.id = (char *)r->task_id;
	u.has_status = true;
	u.status = (Orch__TaskStatus)r->status;
	if (r->container_id[0] != '\0')
		u.container_id = (char *)r->container_id;
	u.has_exit_code = r->has_exit_code;
	u.exit_code = r->exit_code;
	if (r->error[0] != '\0')
		u.error = (char *)r->error;
	u.node_id = node_id;
	if (r->started_at_ms > 0) {
		u.has_started_at_ms = true;
		u.started_at_ms = r->started_at_ms;
	}
	if (r->finished_at_ms > 0) {
		u.has_finished_at_ms = true;
		u.finished_at_ms = r->finished_at_ms;
	}
	if (r->health != 0) {
		u.has_health = true;
		u.health = (Orch__HealthStatus)r->health;
		snprintf(code + strlen(code), sizeof(code) - strlen(code),
		    ", %s", orch_health_status_name(r->health));
	}
	rc = agent_rpc(a, "orch.Manager/UpdateTaskStatus", &u.base,
	    &orch__task__descriptor, (ProtobufCMessage **)&out, err,
	    sizeof(err));
	if (r->has_exit_code)
		snprintf(code + strlen(code), sizeof(code) - strlen(code),
		    ", exit code %d", r->exit_code);
	if (rc != ORCH_OK) {
		if (agent_stopping(a))
			return rc;
		orch_warn("agent",
		    "task %s: reporting %s (container %s%s) "
		    "failed: %s; retried on a later beat",
		    r->task_id, status_name(r->status),
		    short_id(r->container_id, cid), code, err);
		return rc;
	}
	orch_log_kv(ORCH_LOG_INFO, "agent",
	    ORCH_LOG_FIELDS(
	        {"task", r->task_id}, {"status", status_name(r->status)}),
	    "task %s: reported %s (container %s%s%s%s)", r->task_id,
	    status_name(r->status), short_id(r->container_id, cid), code,
	    r->error[0] != '\0' ? ": " : "", r->error);
	orch__task__free_unpacked(out, NULL);
	return ORCH_OK;
}

/* ---- operations (worker threads) ---- */

static void
op_start(struct orch_agent *a, struct op *op)
{
	struct orch_instance inst;
	struct orch_report r;
	char handle[ORCH_HANDLE_LEN] = "", err[AGENT_ERR_LEN], ierr[256];
	char cid[16], pol[512], what[256], why[AGENT_ERR_LEN];
	const char *dname = orch_task_spec_driver(op->task->spec);
	const struct orch_driver_ops *drv;
	void *st;
	int64_t t0 = orch_mono_ms();
	int rc;

	task_what(op->task, what, sizeof(what));
	drv_lookup(a, dname, &drv, &st, why, sizeof(why));

	/* Defense in depth: the manager checked the task against its own
	 * policy; a node with one of its own holds to it too. */
	if (a->policy != NULL && op->task->spec != NULL &&
	    orch_policy_check(a->policy, op->task->spec, pol, sizeof(pol)) !=
	        ORCH_OK) {
		snprintf(err, sizeof(err), "refused by node %s's --policy: %s",
		    a->name, pol);
		rc = ORCH_EPERM;
	} else if (drv == NULL) {
		/* Placed here by a manager that does not know the node's
		 * drivers: the task cannot run here, now or later. */
		snprintf(err, sizeof(err), "node %s has no %.32s driver",
		    a->name, dname);
		rc = ORCH_EINVAL;
	} else if (st == NULL) {
		snprintf(
		    err, sizeof(err), "the %.32s driver is %.900s", dname, why);
		rc = ORCH_EUNAVAIL;
	} else {
		rc = drv->start(st, op->task, handle, err, sizeof(err));
	}
	if (rc == ORCH_EUNAVAIL || rc == ORCH_ECONFLICT) {
		/* Not the task's fault: the runtime is away, or its container
		 * is being removed or still held by the node that had the task
		 * before (agents sharing a daemon).  Neither lasts. */
		orch_error("agent",
		    "task %s: cannot start (%s): %s; "
		    "retried on a later beat",
		    op->task_id, what, err);
		agent_relist(a);
		return;
	}
	if (rc != ORCH_OK) {
		orch_error("agent", "task %s: start failed (%s): %s",
		    op->task_id, what, err);
		memset(&r, 0, sizeof(r));
		copy_str(r.task_id, sizeof(r.task_id), op->task_id);
		r.status = ORCH__TASK_STATUS__TASK_STATUS_FAILED;
		copy_str(r.error, sizeof(r.error), err);
		agent_report(a, &r);
		agent_relist(a);
		return;
	}
	/* The start may have adopted a container that ran and ended while
	 * no agent watched: report what it is, not what was asked. */
	if (drv->inspect(st, handle, &inst, ierr, sizeof(ierr)) != ORCH_OK) {
		orch_warn("agent",
		    "task %s: container %s started but cannot be "
		    "inspected: %s",
		    op->task_id, short_id(handle, cid), ierr);
		memset(&inst, 0, sizeof(inst));
		copy_str(inst.handle, sizeof(inst.handle), handle);
		inst.running = true;
		inst.started_at_ms = orch_now_ms();
	}
	copy_str(inst.task_id, sizeof(inst.task_id), op->task_id);
	inst.driver = drv;
	pthread_mutex_lock(&a->mu);
	cache_put(a, &inst);
	pthread_mutex_unlock(&a->mu);
	orch_log_kv(ORCH_LOG_INFO, "agent",
	    ORCH_LOG_FIELDS({"task", op->task_id}, {"container", handle}),
	    "task %s: container %s %s (%s, %lld ms)", op->task_id,
	    short_id(handle, cid),
	    inst.running      ? "running"
	        : inst.exited ? "already exited"
	                      : "created",
	    what, (long long)(orch_mono_ms() - t0));
	if (orch_reconcile_report(op->task, &inst, &r))
		agent_report(a, &r);
}

static void
op_stop(struct orch_agent *a, struct op *op)
{
	struct orch_instance inst;
	struct orch_report r = op->report;
	char err[AGENT_ERR_LEN], cid[16];
	void *st = drv_state(a, op->drv);
	int rc;

	if (op->handle[0] != '\0') {
		if (st == NULL) {
			snprintf(err, sizeof(err), "its driver %s is off",
			    op->drv != NULL ? op->drv->name : "(none)");
			rc = ORCH_EUNAVAIL;
		} else {
			rc = op->drv->stop(st, op->handle, err, sizeof(err));
		}
		if (rc != ORCH_OK) {
			orch_error("agent",
			    "task %s: cannot stop container %s: "
			    "%s; retried on a later beat",
			    op->task_id, short_id(op->handle, cid), err);
			agent_relist(a);
			return;
		}
		orch_info("agent",
		    "task %s: stopped container %s (stop "
		    "requested)",
		    op->task_id, short_id(op->handle, cid));
		copy_str(r.container_id, sizeof(r.container_id), op->handle);
		if (op->drv->inspect(st, op->handle, &inst, err, sizeof(err)) ==
		        ORCH_OK &&
		    inst.exited && !inst.exit_unknown) {
			r.has_exit_code = true;
			r.exit_code = inst.exit_code;
			r.started_at_ms = inst.started_at_ms;
			r.finished_at_ms = inst.finished_at_ms;
		}
	}
	if (r.finished_at_ms == 0)
		r.finished_at_ms = orch_now_ms();
	/* The container stays until the manager knows, so that a retried
	 * report still has its exit code. */
	if (agent_report(a, &r) != ORCH_OK || op->handle[0] == '\0')
		return;
	if ((rc = op->drv->remove(st, op->handle, err, sizeof(err))) !=
	    ORCH_OK) {
		orch_error("agent", "task %s: cannot remove container %s: %s",
		    op->task_id, short_id(op->handle, cid), err);
		agent_relist(a);
		return;
	}
	pthread_mutex_lock(&a->mu);
	cache_drop(a, op->key);
	pthread_mutex_unlock(&a->mu);
	orch_info("agent", "task %s: removed container %s", op->task_id,
	    short_id(op->handle, cid));
}

static void
op_remove(struct orch_agent *a, struct op *op)
{
	char err[AGENT_ERR_LEN], cid[16];
	const char *task = op->task_id[0] != '\0' ? op->task_id : "(none)";
	void *st = drv_state(a, op->drv);

	if (st == NULL) {
		/* Listed by a driver that is on, which it stays: only a
		 * bug gets here. */
		orch_error("agent", "task %s: container %s has no driver", task,
		    short_id(op->handle, cid));
		return;
	}
	if (op->drv->stop(st, op->handle, err, sizeof(err)) != ORCH_OK) {
		orch_error("agent",
		    "task %s: cannot stop unassigned container "
		    "%s: %s; retried on a later beat",
		    task, short_id(op->handle, cid), err);
		agent_relist(a);
		return;
	}
	if (op->drv->remove(st, op->handle, err, sizeof(err)) != ORCH_OK) {
		orch_error("agent",
		    "task %s: cannot remove unassigned container "
		    "%s: %s; retried on a later beat",
		    task, short_id(op->handle, cid), err);
		agent_relist(a);
		return;
	}
	pthread_mutex_lock(&a->mu);
	cache_drop(a, op->key);
	pthread_mutex_unlock(&a->mu);
	orch_info("agent",
	    "task %s: removed container %s (the manager no "
	    "longer assigns it here)",
	    task, short_id(op->handle, cid));
}

static void
op_run(struct orch_agent *a, struct op *op)
{
	switch (op->kind) {
	case ORCH_ACTION_START: op_start(a, op); break;
	case ORCH_ACTION_REPORT: agent_report(a, &op->report); break;
	case ORCH_ACTION_STOP: op_stop(a, op); break;
	case ORCH_ACTION_REMOVE: op_remove(a, op); break;
	}
}

static void
op_free(struct op *op)
{
	if (op == NULL)
		return;
	orch_task_free(op->task);
	free(op);
}

static void *
agent_worker_main(void *arg)
{
	struct orch_agent *a = arg;
	struct op *op;

	for (;;) {
		pthread_mutex_lock(&a->mu);
		while (!a->stopping && a->q_head == NULL)
			pthread_cond_wait(&a->work_cv, &a->mu);
		if (a->stopping) {
			pthread_mutex_unlock(&a->mu);
			break;
		}
		op = a->q_head;
		a->q_head = op->next;
		if (a->q_head == NULL)
			a->q_tail = NULL;
		pthread_mutex_unlock(&a->mu);

		op_run(a, op);

		pthread_mutex_lock(&a->mu);
		opstate_end(a, op->key);
		pthread_mutex_unlock(&a->mu);
		/* An unhealthy task is stopped once the manager knows: beat
		 * now for the answer that no longer lists it. */
		if (op->kind == ORCH_ACTION_REPORT &&
		    op->report.health ==
		        ORCH__HEALTH_STATUS__HEALTH_STATUS_UNHEALTHY)
			agent_wake(a, false);
		op_free(op);
	}
	pthread_mutex_lock(&a->mu);
	a->workers_alive--;
	pthread_cond_broadcast(&a->done_cv);
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

/* ---- the beat thread ---- */

static void
agent_subscribe(struct orch_agent *a, const char *node_id)
{
	char topic[sizeof(a->sub_topic)];
	int rv;

	snprintf(topic, sizeof(topic), ORCH_NOTICE_NODE_TOPIC "%s ", node_id);
	if (strcmp(topic, a->sub_topic) == 0)
		return;
	if (a->sub_topic[0] != '\0')
		(void)nng_socket_set(a->sub, NNG_OPT_SUB_UNSUBSCRIBE,
		    a->sub_topic, strlen(a->sub_topic));
	if ((rv = nng_socket_set(
	         a->sub, NNG_OPT_SUB_SUBSCRIBE, topic, strlen(topic))) != 0) {
		/* Only the fast path is lost: beats still come. */
		orch_warn("agent", "cannot subscribe to notices \"%s\": %s",
		    topic, nng_strerror(rv));
		a->sub_topic[0] = '\0';
		return;
	}
	copy_str(a->sub_topic, sizeof(a->sub_topic), topic);
}

/* The health of the drivers that are on, for a registration or a beat:
 * entries in e[] (ORCH_AGENT_DRIVERS_MAX of them, their errors in errs),
 * pointed to by p[]; returns how many. */
static size_t
agent_health_report(struct orch_agent *a, Orch__DriverHealth *e,
    Orch__DriverHealth **p, char (*errs)[ORCH_NODE_DRIVER_ERROR_MAX + 1])
{
	size_t n = 0;

	pthread_mutex_lock(&a->mu);
	for (size_t i = 0; i < a->n_drv; i++) {
		const struct drv_slot *d = &a->drv[i];

		if (d->state == NULL)
			continue;
		orch__driver_health__init(&e[n]);
		e[n].name = (char *)d->ops->name;
		e[n].has_healthy = true;
		e[n].healthy = !d->sick;
		if (d->sick) {
			/* The manager refuses a beat whose error is not one
			 * printable line, and cuts nothing itself. */
			copy_str(errs[n], sizeof(errs[n]), d->sick_why);
			for (char *c = errs[n]; *c != '\0'; c++) {
				if ((unsigned char)*c < 0x20 || *c == 0x7f)
					*c = ' ';
			}
			e[n].error = errs[n];
		}
		p[n] = &e[n];
		n++;
	}
	pthread_mutex_unlock(&a->mu);
	return n;
}

static int
agent_register(struct orch_agent *a)
{
	Orch__NodeRegistration reg = ORCH__NODE_REGISTRATION__INIT;
	Orch__Node *node = NULL;
	Orch__DriverHealth health[ORCH_AGENT_DRIVERS_MAX];
	Orch__DriverHealth *health_p[ORCH_AGENT_DRIVERS_MAX];
	char health_err[ORCH_AGENT_DRIVERS_MAX][ORCH_NODE_DRIVER_ERROR_MAX + 1];
	char *drivers[ORCH_AGENT_DRIVERS_MAX];
	char err[AGENT_ERR_LEN], what[300], names[128];
	size_t nd = 0;
	int rc;

	pthread_mutex_lock(&a->mu);
	a->reregister = false;
	for (size_t i = 0; i < a->n_drv; i++) {
		if (a->drv[i].state != NULL)
			drivers[nd++] = (char *)a->drv[i].ops->name;
	}
	pthread_mutex_unlock(&a->mu);

	reg.name = a->name;
	reg.address = a->address;
	reg.n_labels = a->n_labels;
	reg.labels = a->labels;
	reg.has_cpu = true;
	reg.cpu = a->cpu;
	reg.has_memory_mb = true;
	reg.memory_mb = a->memory_mb;
	reg.n_drivers = nd;
	reg.drivers = drivers;
	reg.n_driver_health =
	    agent_health_report(a, health, health_p, health_err);
	reg.driver_health = health_p;
	reg.agent_version = (char *)ORCH_VERSION;
	snprintf(what, sizeof(what), "registering with the manager at %s",
	    a->manager_url);
	rc = agent_rpc(a, "orch.Manager/RegisterNode", &reg.base,
	    &orch__node__descriptor, (ProtobufCMessage **)&node, err,
	    sizeof(err));
	if (rc != ORCH_OK) {
		if (!agent_stopping(a))
			agent_note_failure(a->mgr_err, what, err);
		pthread_mutex_lock(&a->mu);
		a->reregister = nd > 0;
		pthread_mutex_unlock(&a->mu);
		goto out;
	}
	if (!node_id_valid(node->id)) {
		agent_note_failure(a->mgr_err, what,
		    "the manager answered "
		    "without a valid node id");
		rc = ORCH_EPROTO;
		goto out;
	}
	agent_note_ok(a->mgr_err, a->mgr_ok_msg);
	pthread_mutex_lock(&a->mu);
	copy_str(a->node_id, sizeof(a->node_id), node->id);
	pthread_mutex_unlock(&a->mu);
	agent_subscribe(a, node->id);
	orch_agent_drivers(a, names, sizeof(names));
	orch_info("agent",
	    "registered with the manager at %s as node %s "
	    "(name \"%s\", %.2f CPUs, %lld MB, drivers %s)",
	    a->manager_url, node->id, a->name, a->cpu, (long long)a->memory_mb,
	    names);
out:
	if (node != NULL)
		orch__node__free_unpacked(node, NULL);
	return rc;
}

/* Queues action x for the workers (under mu).  Returns whether it was
 * queued: a failure is retried by a later beat, which sees the same
 * gap. */
static bool
op_queue(struct orch_agent *a, const struct orch_action *x)
{
	struct op *op = calloc(1, sizeof(*op));

	if (op == NULL ||
	    (x->kind == ORCH_ACTION_START &&
	        (op->task = orch_task_copy(x->task)) == NULL) ||
	    opstate_begin(a, x->key) != ORCH_OK) {
		orch_error("agent", "task %s: %s: out of memory", x->key,
		    orch_action_kind_name(x->kind));
		op_free(op);
		return false;
	}
	op->kind = x->kind;
	copy_str(op->key, sizeof(op->key), x->key);
	if (x->task != NULL)
		copy_str(op->task_id, sizeof(op->task_id), x->task->id);
	else if (x->kind == ORCH_ACTION_REMOVE &&
	    strcmp(x->key, x->handle) != 0)
		copy_str(op->task_id, sizeof(op->task_id), x->key);
	copy_str(op->handle, sizeof(op->handle), x->handle);
	op->drv = x->driver;
	op->report = x->report;
	orch_debug("agent", "task %s: %s queued", x->key,
	    orch_action_kind_name(x->kind));
	if (a->q_tail != NULL)
		a->q_tail->next = op;
	else
		a->q_head = op;
	a->q_tail = op;
	return true;
}

/* The state of driver ops while it is on (under mu). */
static void *
drv_state_locked(struct orch_agent *a, const struct orch_driver_ops *ops)
{
	for (size_t i = 0; ops != NULL && i < a->n_drv; i++) {
		if (a->drv[i].ops == ops)
			return a->drv[i].state;
	}
	return NULL;
}

/* The running instance of task id in the cache (under mu), or NULL. */
static const struct orch_instance *
cache_running(struct orch_agent *a, const char *id)
{
	for (size_t i = 0; i < a->n_inst; i++) {
		if (a->inst[i].running && strcmp(a->inst[i].task_id, id) == 0)
			return &a->inst[i];
	}
	return NULL;
}

/* Whether key is among the n keys of keys. */
static bool
key_in(const char *key, const char *const *keys, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(keys[i], key) == 0)
			return true;
	}
	return false;
}

/*
 * Hands the checker the running instances of the tasks of as that have
 * a health check, and queues the reports their health calls for, for the
 * tasks no action of this beat (skip, nskip keys) is about (under mu).
 * Returns how many reports it queued.
 */
static size_t
agent_health_sync(struct orch_agent *a, const Orch__Assignments *as,
    const char *const *skip, size_t nskip)
{
	struct orch_checker_task *list;
	const struct orch_instance **insts;
	struct orch_action x;
	char why[ORCH_REPORT_ERROR_LEN];
	size_t n = 0, queued = 0;
	int health;

	if (as->n_tasks == 0) {
		orch_checker_sync(a->checker, NULL, 0);
		return 0;
	}
	list = calloc(as->n_tasks, sizeof(*list));
	insts = calloc(as->n_tasks, sizeof(*insts));
	if (list == NULL || insts == NULL)
		goto out; /* the next beat tries again */
	for (size_t i = 0; i < as->n_tasks; i++) {
		const orch_task *t = as->tasks[i];
		const struct orch_instance *inst;

		if (t == NULL || t->id == NULL || t->spec == NULL ||
		    t->spec->health == NULL ||
		    orch_task_status_terminal(t->status) ||
		    (t->has_stop_requested && t->stop_requested) ||
		    (inst = cache_running(a, t->id)) == NULL ||
		    drv_state_locked(a, inst->driver) == NULL)
			continue;
		insts[n] = inst;
		list[n++] = (struct orch_checker_task){
		    .task = t,
		    .handle = inst->handle,
		    .drv = inst->driver,
		    .drv_state = drv_state_locked(a, inst->driver),
		    .started_at_ms = inst->started_at_ms,
		};
	}
	if (orch_checker_sync(a->checker, list, n) != ORCH_OK)
		orch_warn("agent",
		    "health checks: out of memory; some "
		    "wait for a later beat");
	for (size_t i = 0; i < n; i++) {
		const orch_task *t = list[i].task;

		memset(&x, 0, sizeof(x));
		if (key_in(t->id, skip, nskip) ||
		    !orch_checker_health(a->checker, t->id, insts[i]->handle,
		        &health, why, sizeof(why)) ||
		    !orch_reconcile_health(t, insts[i], health, why, &x.report))
			continue;
		x.kind = ORCH_ACTION_REPORT;
		x.task = t;
		copy_str(x.key, sizeof(x.key), t->id);
		queued += op_queue(a, &x);
	}
out:
	free(insts);
	free(list);
	return queued;
}

/* Reconciles one heartbeat's answer and queues the actions. */
static void
agent_reconcile(
    struct orch_agent *a, const Orch__Assignments *as, uint64_t seq0)
{
	struct orch_reconcile_input in = {0};
	struct orch_action *acts = NULL;
	const char **busy = NULL;
	size_t n = 0, nbusy = 0, queued = 0;
	int rc;

	pthread_mutex_lock(&a->mu);
	if (a->stopping || !a->inst_valid)
		goto out;
	/* Room for the busy keys and then those of this beat's actions. */
	if ((busy = calloc(a->n_ops + as->n_tasks + a->n_inst + 1,
	         sizeof(*busy))) == NULL)
		goto out;
	for (size_t i = 0; i < a->n_ops; i++) {
		if (a->ops[i].in_flight || a->ops[i].done_seq > seq0)
			busy[nbusy++] = a->ops[i].key;
	}
	/* The tasks and instances of a driver that is held are left as they
	 * are: without a fresh list of its instances, a task would look
	 * gone. */
	for (size_t i = 0; i < as->n_tasks; i++) {
		const orch_task *t = as->tasks[i];
		const struct drv_slot *d = t != NULL && t->id != NULL
		    ? drv_slot_named(a, orch_task_spec_driver(t->spec))
		    : NULL;

		if (d != NULL && drv_held(d))
			busy[nbusy++] = t->id;
	}
	for (size_t i = 0; i < a->n_inst; i++) {
		const struct drv_slot *d = drv_slot_of(a, a->inst[i].driver);

		if (d != NULL && drv_held(d))
			busy[nbusy++] = orch_reconcile_key(&a->inst[i]);
	}
	in.tasks = (const orch_task *const *)as->tasks;
	in.n_tasks = as->n_tasks;
	in.instances = a->inst;
	in.n_instances = a->n_inst;
	in.busy = busy;
	in.n_busy = nbusy;
	if ((rc = orch_reconcile(&in, &acts, &n)) != ORCH_OK) {
		orch_error("agent", "reconcile: %s", orch_strerror(rc));
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		queued += op_queue(a, &acts[i]);
		/* No health report about a key with an action of its own. */
		busy[nbusy++] = acts[i].key;
	}
	queued += agent_health_sync(a, as, busy, nbusy);
	if (queued > 0)
		pthread_cond_broadcast(&a->work_cv);
out:
	pthread_mutex_unlock(&a->mu);
	free(acts);
	free(busy);
}

/* Whether the delta d names task id (changed or removed). */
static bool
delta_names(const Orch__Assignments *d, const char *id)
{
	for (size_t i = 0; i < d->n_tasks; i++) {
		if (d->tasks[i]->id != NULL && strcmp(d->tasks[i]->id, id) == 0)
			return true;
	}
	for (size_t i = 0; i < d->n_removed; i++) {
		if (d->removed[i] != NULL && strcmp(d->removed[i], id) == 0)
			return true;
	}
	return false;
}

/*
 * The list a delta answer d stands for: held's tasks but those d names,
 * then d's tasks, with d's epoch and version.  Returns a new message
 * (orch__assignments__free_unpacked), or NULL out of memory.  Made by
 * packing and unpacking, so that it owns all it points to.
 */
static Orch__Assignments *
agent_delta_merge(const Orch__Assignments *held, const Orch__Assignments *d)
{
	Orch__Assignments m = *d, *out = NULL;
	Orch__Task **v;
	uint8_t *buf = NULL;
	size_t n = 0, len;

	if ((v = calloc(held->n_tasks + d->n_tasks + 1, sizeof(*v))) == NULL)
		return NULL;
	for (size_t i = 0; i < held->n_tasks; i++) {
		if (held->tasks[i]->id != NULL &&
		    !delta_names(d, held->tasks[i]->id))
			v[n++] = held->tasks[i];
	}
	for (size_t i = 0; i < d->n_tasks; i++)
		v[n++] = d->tasks[i];
	m.tasks = v;
	m.n_tasks = n;
	m.has_delta = false;
	m.delta = false;
	m.removed = NULL;
	m.n_removed = 0;
	len = orch__assignments__get_packed_size(&m);
	if ((buf = malloc(len > 0 ? len : 1)) != NULL) {
		orch__assignments__pack(&m, buf);
		out = orch__assignments__unpack(NULL, len, buf);
	}
	free(buf);
	free(v);
	return out;
}

/* Drops the assignments kept from the last full answer.  Beat thread. */
static void
agent_last_as_forget(struct orch_agent *a)
{
	if (a->last_as != NULL)
		orch__assignments__free_unpacked(a->last_as, NULL);
	a->last_as = NULL;
	a->last_as_node[0] = '\0';
}

/* Appends the instances of driver slot i (on) to *all (*nall of them),
 * each tagged with its driver.  On error err says what failed and *all is
 * unchanged. */
static int
agent_list_one(struct orch_agent *a, size_t i, struct orch_instance **all,
    size_t *nall, char *err, size_t errlen)
{
	const struct orch_driver_ops *ops = a->drv[i].ops;
	struct orch_instance *part = NULL, *grown;
	void *st = drv_state(a, ops);
	char derr[AGENT_ERR_LEN];
	size_t npart = 0;
	int rc;

	if (st == NULL)
		return ORCH_OK;
	if ((rc = ops->list(st, &part, &npart, derr, sizeof(derr))) !=
	    ORCH_OK) {
		snprintf(err, errlen, "%s driver: %s", ops->name, derr);
		return rc;
	}
	if (npart > 0 &&
	    (grown = realloc(*all, (*nall + npart) * sizeof(**all))) == NULL) {
		snprintf(err, errlen, "%s driver: out of memory", ops->name);
		free(part);
		return ORCH_ENOMEM;
	}
	if (npart > 0) {
		*all = grown;
		memcpy(*all + *nall, part, npart * sizeof(*part));
		for (size_t j = 0; j < npart; j++)
			(*all)[*nall + j].driver = ops;
		*nall += npart;
	}
	free(part);
	return ORCH_OK;
}

/* Lists the instances of every driver that is on, each tagged with its
 * driver.  One failure fails the whole: a partial list would make the
 * missing driver's instances look gone. */
static int
agent_list(struct orch_agent *a, struct orch_instance **out, size_t *n,
    char *err, size_t errlen)
{
	int rc;

	*out = NULL;
	*n = 0;
	for (size_t i = 0; i < a->n_drv; i++) {
		if ((rc = agent_list_one(a, i, out, n, err, errlen)) !=
		    ORCH_OK) {
			free(*out);
			*out = NULL;
			*n = 0;
			return rc;
		}
	}
	return ORCH_OK;
}

/* Refreshes the cache from the drivers that are on and healthy, for a
 * beat that started at seq0.  A driver whose list fails keeps its
 * instances as they were, and stays held until a list of it succeeds.
 * Beat thread. */
static void
agent_list_refresh(struct orch_agent *a, uint64_t seq0)
{
	struct orch_instance *list = NULL;
	bool listed[ORCH_AGENT_DRIVERS_MAX] = {false}, failed = false;
	bool all = true;
	char err[AGENT_ERR_LEN];
	size_t nlist = 0;

	for (size_t i = 0; i < a->n_drv; i++) {
		bool skip;

		pthread_mutex_lock(&a->mu);
		skip = a->drv[i].state == NULL || a->drv[i].sick;
		if (a->drv[i].state != NULL && a->drv[i].sick)
			all = false;
		pthread_mutex_unlock(&a->mu);
		if (skip)
			continue;
		if (agent_list_one(a, i, &list, &nlist, err, sizeof(err)) !=
		    ORCH_OK) {
			agent_note_failure(a->drv_err,
			    "listing this node's containers and processes",
			    err);
			failed = true;
			continue;
		}
		listed[i] = true;
	}
	pthread_mutex_lock(&a->mu);
	if (cache_merge(a, list, nlist, seq0, listed)) {
		for (size_t i = 0; i < a->n_drv; i++) {
			if (listed[i])
				a->drv[i].fresh = true;
			else if (a->drv[i].state != NULL && !a->drv[i].sick)
				a->drv[i].fresh = false; /* its list failed */
		}
	}
	if (failed)
		a->list_dirty = true;
	pthread_mutex_unlock(&a->mu);
	if (failed)
		return;
	/* Not "listed again" while a driver is skipped as unhealthy. */
	if (all)
		agent_note_ok(a->drv_err,
		    "this node's containers and processes can be listed");
	a->beats_since_list = 0;
}

/* Reads each driver's health, as the driver last saw it.  One that turns
 * unhealthy is held (its tasks left alone); one that comes back is listed
 * anew before its tasks are judged.  Beat thread. */
static void
agent_health_poll(struct orch_agent *a)
{
	char why[AGENT_ERR_LEN];

	for (size_t i = 0; i < a->n_drv; i++) {
		struct drv_slot *d = &a->drv[i];
		void *st = drv_state(a, d->ops);
		bool ok, was;

		if (st == NULL || d->ops->healthy == NULL)
			continue;
		why[0] = '\0';
		ok = d->ops->healthy(st, why, sizeof(why));
		pthread_mutex_lock(&a->mu);
		was = !d->sick;
		d->sick = !ok;
		copy_str(d->sick_why, sizeof(d->sick_why), ok ? "" : why);
		if (!ok)
			d->fresh = false;
		if (ok && !was)
			a->list_dirty = true;
		pthread_mutex_unlock(&a->mu);
		if (was && !ok)
			orch_warn("agent",
			    "the %s driver is unhealthy: %s; its tasks are "
			    "left as they are (none started, stopped or "
			    "reported) until it answers again",
			    d->ops->name, why);
		else if (!was && ok)
			orch_info("agent",
			    "the %s driver is healthy again; listing its "
			    "instances to report what became of its tasks",
			    d->ops->name);
	}
}

/* Tries again to start the drivers that are off (Docker was not running
 * when the agent started).  One that comes on is advertised by
 * registering again: the manager then places its tasks here.  Beat
 * thread. */
static void
agent_drivers_probe(struct orch_agent *a)
{
	struct orch_driver_config dc = a->dc;
	char err[AGENT_ERR_LEN];
	int64_t now = orch_mono_ms();

	if (now < a->next_probe_ms)
		return;
	a->next_probe_ms = now + AGENT_PROBE_MS;
	dc.init_timeout_s = AGENT_PROBE_TIMEOUT_S;
	for (size_t i = 0; i < a->n_drv; i++) {
		struct drv_slot *d = &a->drv[i];
		void *st = NULL;

		if (drv_state(a, d->ops) != NULL)
			continue;
		if (d->ops->init(&dc, &st, err, sizeof(err)) != ORCH_OK) {
			orch_debug("agent", "the %s driver is still off: %s",
			    d->ops->name, err);
			continue;
		}
		orch_info("agent",
		    "the %s driver is on now; registering again to "
		    "advertise it",
		    d->ops->name);
		pthread_mutex_lock(&a->mu);
		d->state = st;
		d->why[0] = '\0';
		a->reregister = true;
		a->list_dirty = true;
		pthread_mutex_unlock(&a->mu);
	}
}

static void
agent_beat(struct orch_agent *a)
{
	Orch__HeartbeatRequest hb = ORCH__HEARTBEAT_REQUEST__INIT;
	Orch__Assignments *as = NULL;
	Orch__DriverHealth health[ORCH_AGENT_DRIVERS_MAX];
	Orch__DriverHealth *health_p[ORCH_AGENT_DRIVERS_MAX];
	char health_err[ORCH_AGENT_DRIVERS_MAX][ORCH_NODE_DRIVER_ERROR_MAX + 1];
	char node_id[AGENT_NODE_ID_MAX + 1], err[AGENT_ERR_LEN];
	uint64_t seq0;
	bool need_list, woken;
	int rc;

	agent_health_poll(a);
	pthread_mutex_lock(&a->mu);
	woken = a->wake;
	a->wake = false;
	seq0 = a->seq;
	opstate_prune(a, seq0);
	/* The periodic list is a safety net for missed exit events: it waits
	 * for a timed beat, so that a beat woken by a notice (new work) goes
	 * straight to the manager instead of first listing every container;
	 * under a steady stream of notices it still runs, later. */
	need_list = !a->inst_valid || a->list_dirty ||
	    (a->beats_since_list >= AGENT_LIST_EVERY &&
	        (!woken || a->beats_since_list >= 4 * AGENT_LIST_EVERY));
	a->list_dirty = false;
	memcpy(node_id, a->node_id, sizeof(node_id));
	pthread_mutex_unlock(&a->mu);
	a->beats_since_list++;

	if (need_list)
		agent_list_refresh(a, seq0);

	hb.node_id = node_id;
	hb.n_driver_health =
	    agent_health_report(a, health, health_p, health_err);
	hb.driver_health = health_p;
	if (a->last_as != NULL && strcmp(a->last_as_node, node_id) == 0 &&
	    a->last_as->has_epoch && a->last_as->has_version) {
		hb.has_known_epoch = hb.has_known_version = true;
		hb.known_epoch = a->last_as->epoch;
		hb.known_version = a->last_as->version;
		/* It keeps that list: what changed since is enough. */
		hb.has_accepts_delta = hb.accepts_delta = true;
	}
	rc = agent_rpc(a, "orch.Manager/Heartbeat", &hb.base,
	    &orch__assignments__descriptor, (ProtobufCMessage **)&as, err,
	    sizeof(err));
	if (rc == ORCH_ENOENT) {
		orch_warn("agent", "heartbeat: %s; registering again", err);
		pthread_mutex_lock(&a->mu);
		if (strcmp(a->node_id, node_id) == 0)
			a->node_id[0] = '\0';
		pthread_mutex_unlock(&a->mu);
		goto out;
	}
	if (rc != ORCH_OK) {
		char what[300];

		if (agent_stopping(a))
			goto out;
		snprintf(what, sizeof(what), "heartbeat to the manager at %s",
		    a->manager_url);
		agent_note_failure(a->mgr_err, what, err);
		goto out;
	}
	agent_note_ok(a->mgr_err, a->mgr_ok_msg);
	if (as->node_id != NULL && as->node_id[0] != '\0' &&
	    strcmp(as->node_id, node_id) != 0) {
		orch_warn("agent",
		    "heartbeat: assignments for node \"%s\", not "
		    "%s: ignored",
		    as->node_id, node_id);
		goto out;
	}
	/* The manager may want beats more often than configured (it judges
	 * a node's health by them), never less. */
	a->interval_ms = a->heartbeat_ms;
	if (as->has_heartbeat_ms &&
	    as->heartbeat_ms >= AGENT_HEARTBEAT_MIN_MS &&
	    as->heartbeat_ms < a->interval_ms)
		a->interval_ms = as->heartbeat_ms;
	if (as->has_unchanged && as->unchanged) {
		/* Only ever an answer to what this beat said it holds. */
		if (hb.has_known_epoch && as->epoch == hb.known_epoch) {
			agent_reconcile(a, a->last_as, seq0);
		} else {
			orch_warn("agent",
			    "heartbeat: \"unchanged\" for a list "
			    "this node does not hold: ignored");
			agent_last_as_forget(a);
		}
		goto out;
	}
	if (as->has_delta && as->delta) {
		Orch__Assignments *full;

		/* Only ever an answer to what this beat said it holds. */
		if (!hb.has_accepts_delta || as->epoch != hb.known_epoch) {
			orch_warn("agent",
			    "heartbeat: a delta for a list this node does "
			    "not hold: ignored");
			agent_last_as_forget(a);
			goto out;
		}
		if ((full = agent_delta_merge(a->last_as, as)) == NULL) {
			/* The next beat asks for the whole list. */
			orch_warn("agent", "heartbeat: out of memory");
			agent_last_as_forget(a);
			goto out;
		}
		orch__assignments__free_unpacked(as, NULL);
		as = full;
	}
	agent_reconcile(a, as, seq0);
	agent_last_as_forget(a);
	a->last_as = as;
	as = NULL;
	copy_str(a->last_as_node, sizeof(a->last_as_node), node_id);
out:
	if (as != NULL)
		orch__assignments__free_unpacked(as, NULL);
}

static void *
agent_beat_main(void *arg)
{
	struct orch_agent *a = arg;
	int backoff = AGENT_JOIN_BACKOFF_MIN_MS;
	char node_id[AGENT_NODE_ID_MAX + 1];
	bool rereg;
	int64_t t0;

	while (!agent_stopping(a)) {
		agent_drivers_probe(a);
		agent_node_id(a, node_id);
		pthread_mutex_lock(&a->mu);
		rereg = a->reregister;
		pthread_mutex_unlock(&a->mu);
		if (node_id[0] == '\0' || rereg) {
			/* A node already registered beats on while it tries
			 * to advertise a new driver. */
			if (agent_register(a) != ORCH_OK &&
			    node_id[0] == '\0') {
				agent_wait(a, orch_mono_ms() + backoff, false);
				backoff *= 2;
				if (backoff > AGENT_JOIN_BACKOFF_MAX_MS)
					backoff = AGENT_JOIN_BACKOFF_MAX_MS;
				continue;
			}
			backoff = AGENT_JOIN_BACKOFF_MIN_MS;
		}
		t0 = orch_mono_ms();
		agent_beat(a);
		agent_wait(a, t0 + AGENT_BEAT_GAP_MS, false);
		agent_wait(a, t0 + a->interval_ms, true);
	}
	return NULL;
}

/* ---- log requests ---- */

/* Finds the instance of task_id for a log session (log_push.h): in the cache,
 * else in a fresh list of the drivers (a task started a moment ago). */
static int
agent_logs_find(void *arg, const char *task_id,
    const struct orch_driver_ops **ops, void **st, char handle[ORCH_HANDLE_LEN],
    char *err, size_t errlen)
{
	struct orch_agent *a = arg;
	struct orch_instance *list = NULL;
	size_t n = 0;
	bool found = false;
	int rc;

	*ops = NULL;
	pthread_mutex_lock(&a->mu);
	for (size_t i = 0; i < a->n_inst && !found; i++) {
		if (strcmp(a->inst[i].task_id, task_id) == 0 &&
		    a->inst[i].driver != NULL) {
			*ops = a->inst[i].driver;
			copy_str(handle, ORCH_HANDLE_LEN, a->inst[i].handle);
			found = true;
		}
	}
	pthread_mutex_unlock(&a->mu);
	if (!found) {
		if ((rc = agent_list(a, &list, &n, err, errlen)) != ORCH_OK)
			return rc;
		for (size_t i = 0; i < n && !found; i++) {
			if (strcmp(list[i].task_id, task_id) == 0) {
				*ops = list[i].driver;
				copy_str(
				    handle, ORCH_HANDLE_LEN, list[i].handle);
				found = true;
			}
		}
		free(list);
	}
	if (!found) {
		snprintf(err, errlen,
		    "node %s has no container or process of task %s (it "
		    "ended and was removed, or never started there)",
		    a->name, task_id);
		return ORCH_ENOENT;
	}
	if ((*st = drv_state(a, *ops)) == NULL) {
		snprintf(err, errlen, "the %s driver of node %s is off",
		    (*ops)->name, a->name);
		return ORCH_EUNAVAIL;
	}
	return ORCH_OK;
}

/* ---- the notice thread ---- */

static void *
agent_notice_main(void *arg)
{
	struct orch_agent *a = arg;
	char node_id[AGENT_NODE_ID_MAX + 1];
	Orch__NodeNotice *logs;
	nng_msg *msg;
	int rv;

	for (;;) {
		rv = nng_recvmsg(a->sub, &msg, 0);
		if (agent_stopping(a)) {
			if (rv == 0)
				nng_msg_free(msg);
			break;
		}
		if (rv == NNG_ETIMEDOUT)
			continue;
		if (rv == NNG_ECLOSED)
			break;
		if (rv != 0) {
			orch_debug("agent", "notices: %s", nng_strerror(rv));
			continue;
		}
		agent_node_id(a, node_id);
		switch (orch_notice_read(
		    nng_msg_body(msg), nng_msg_len(msg), node_id, &logs)) {
		case ORCH_NOTICE_LOGS:
			/* A request for a task's output, not a change. */
			orch_agent_logs_request(
			    a->logs, node_id, logs->log_request);
			orch__node_notice__free_unpacked(logs, NULL);
			break;
		case ORCH_NOTICE_BEAT:
			orch_debug("agent", "notice for node %s: beating now",
			    node_id);
			agent_wake(a, false);
			break;
		case ORCH_NOTICE_MALFORMED:
			orch_debug("agent",
			    "a notice for several nodes that is no "
			    "orch.NodeNotices (%zu bytes): ignored",
			    nng_msg_len(msg));
			break;
		case ORCH_NOTICE_IGNORE: break;
		}
		nng_msg_free(msg);
	}
	return NULL;
}

/* The driver's exit callback: a container ended; list and beat now. */
static void
agent_on_exit(void *arg, const char *task_id, const char *handle, int exit_code)
{
	struct orch_agent *a = arg;
	char cid[16];

	orch_debug("agent", "task %s: container %s exited with code %d",
	    task_id, short_id(handle, cid), exit_code);
	agent_wake(a, true);
}

/* The driver's health callback: its runtime stopped or started
 * answering; beat now to tell the manager. */
static void
agent_on_driver_health(void *arg)
{
	agent_wake(arg, false);
}

/* The checker's callback: a task's health changed; beat now, and the
 * reconcile reports it. */
static void
agent_on_task_health(void *arg, const char *task_id, int health)
{
	struct orch_agent *a = arg;

	orch_debug("agent", "task %s: %s; beating now", task_id,
	    orch_health_status_name(health));
	agent_wake(a, false);
}

/* ---- lifecycle ---- */

/* Dials url with s, over TLS with the identity of cfg when it has a
 * tls_dir (tls.h): the server's name is url's host, so each URL gets a
 * configuration of its own. */
static int
agent_dial(nng_socket s, const char *url, const struct orch_agent_config *cfg,
    char *err, size_t errlen)
{
	nng_tls_config *tls = NULL;
	int rc;

	if (cfg->tls_dir != NULL &&
	    (rc = orch_tls_client_config(cfg->tls_dir,
	         cfg->tls_name != NULL ? cfg->tls_name : cfg->name, url, &tls,
	         err, errlen)) != ORCH_OK)
		return rc;
	rc = orch_tls_dial(s, url, tls, err, errlen);
	/* The dialer holds its own reference. */
	if (tls != NULL)
		nng_tls_config_free(tls);
	return rc;
}

static int
agent_sockets_open(struct orch_agent *a, const struct orch_agent_config *cfg,
    char *err, size_t errlen)
{
	int rv, rc;

	if ((rv = nng_req0_open(&a->req)) != 0) {
		snprintf(err, errlen, "cannot open an NNG REQ socket: %s",
		    nng_strerror(rv));
		return orch_err_from_nng(rv);
	}
	a->req_open = true;
	if ((rv = nng_socket_set_size(
	         a->req, NNG_OPT_RECVMAXSZ, AGENT_RPC_RECV_MAX)) != 0 ||
	    (rv = nng_socket_set_ms(
	         a->req, NNG_OPT_RECVTIMEO, AGENT_RPC_TIMEOUT_MS)) != 0 ||
	    (rv = nng_socket_set_ms(
	         a->req, NNG_OPT_SENDTIMEO, AGENT_RPC_TIMEOUT_MS)) != 0 ||
	    (rv = nng_socket_set_ms(
	         a->req, NNG_OPT_REQ_RESENDTIME, AGENT_RPC_RESEND_MS)) != 0 ||
	    (rv = nng_socket_set_ms(
	         a->req, NNG_OPT_RECONNMINT, AGENT_RECONN_MIN_MS)) != 0 ||
	    (rv = nng_socket_set_ms(
	         a->req, NNG_OPT_RECONNMAXT, AGENT_RECONN_MAX_MS)) != 0) {
		snprintf(err, errlen, "cannot set up the REQ socket: %s",
		    nng_strerror(rv));
		return orch_err_from_nng(rv);
	}
	if ((rc = agent_dial(a->req, a->manager_url, cfg, err, errlen)) !=
	    ORCH_OK)
		return rc;

	if ((rv = nng_sub0_open(&a->sub)) != 0) {
		snprintf(err, errlen, "cannot open an NNG SUB socket: %s",
		    nng_strerror(rv));
		return orch_err_from_nng(rv);
	}
	a->sub_open = true;
	if ((rv = nng_socket_set_size(
	         a->sub, NNG_OPT_RECVMAXSZ, ORCH_NOTICE_RECV_MAX)) != 0 ||
	    (rv = nng_socket_set_ms(
	         a->sub, NNG_OPT_RECVTIMEO, AGENT_SUB_POLL_MS)) != 0 ||
	    (rv = nng_socket_set_ms(
	         a->sub, NNG_OPT_RECONNMINT, AGENT_RECONN_MIN_MS)) != 0 ||
	    (rv = nng_socket_set_ms(
	         a->sub, NNG_OPT_RECONNMAXT, AGENT_RECONN_MAX_MS)) != 0 ||
	    /* The notices for many nodes at once (notice.h); the node's own
	     * topic is subscribed to once it has an id. */
	    (rv = nng_socket_set(a->sub, NNG_OPT_SUB_SUBSCRIBE,
	         ORCH_NOTICE_NODES_TOPIC, strlen(ORCH_NOTICE_NODES_TOPIC))) !=
	        0) {
		snprintf(err, errlen, "cannot set up the SUB socket: %s",
		    nng_strerror(rv));
		return orch_err_from_nng(rv);
	}
	return agent_dial(a->sub, a->events_url, cfg, err, errlen);
}

static int
agent_config_copy(struct orch_agent *a, const struct orch_agent_config *cfg)
{
	if ((a->manager_url = strdup(cfg->manager_url)) == NULL ||
	    (a->events_url = strdup(cfg->events_url)) == NULL ||
	    (a->name = strdup(cfg->name)) == NULL ||
	    (a->address = strdup(cfg->address != NULL ? cfg->address : "")) ==
	        NULL)
		return ORCH_ENOMEM;
	if (cfg->n_labels > 0) {
		a->label_entries =
		    calloc(cfg->n_labels, sizeof(*a->label_entries));
		a->labels = calloc(cfg->n_labels, sizeof(*a->labels));
		if (a->label_entries == NULL || a->labels == NULL)
			return ORCH_ENOMEM;
	}
	for (size_t i = 0; i < cfg->n_labels; i++) {
		Orch__NodeRegistration__LabelsEntry init =
		    ORCH__NODE_REGISTRATION__LABELS_ENTRY__INIT;

		a->label_entries[i] = init;
		a->labels[i] = &a->label_entries[i];
		a->n_labels = i + 1;
		if ((a->label_entries[i].key = strdup(cfg->labels[i].key)) ==
		        NULL ||
		    (a->label_entries[i].value =
		            strdup(cfg->labels[i].value)) == NULL)
			return ORCH_ENOMEM;
	}
	a->cpu = cfg->cpu;
	a->memory_mb = cfg->memory_mb;
	a->heartbeat_ms = cfg->heartbeat_ms > 0 ? cfg->heartbeat_ms : 1000;
	a->policy = cfg->policy;
	a->interval_ms = a->heartbeat_ms;
	a->n_workers = cfg->workers > 0 ? cfg->workers : AGENT_WORKERS_DEFAULT;
	if (a->n_workers > AGENT_WORKERS_MAX)
		a->n_workers = AGENT_WORKERS_MAX;
	if (cfg->n_drivers > ORCH_AGENT_DRIVERS_MAX)
		return ORCH_EINVAL;
	for (size_t i = 0; i < cfg->n_drivers; i++)
		a->drv[a->n_drv++].ops = cfg->drivers[i];
	/* Kept for the drivers that start later (probed again). */
	a->dc.node_name = a->name;
	a->dc.on_exit = agent_on_exit;
	a->dc.on_exit_arg = a;
	a->dc.on_health = agent_on_driver_health;
	a->dc.on_health_arg = a;
	a->dc.stop_timeout_s = cfg->stop_timeout_s;
	if ((cfg->docker_socket != NULL &&
	        (a->dc.docker_socket = strdup(cfg->docker_socket)) == NULL) ||
	    (cfg->state_dir != NULL &&
	        (a->dc.state_dir = strdup(cfg->state_dir)) == NULL) ||
	    (cfg->cgroup_dir != NULL &&
	        (a->dc.cgroup_dir = strdup(cfg->cgroup_dir)) == NULL))
		return ORCH_ENOMEM;
	snprintf(a->mgr_ok_msg, sizeof(a->mgr_ok_msg),
	    "the manager at %.200s "
	    "answers",
	    a->manager_url);
	return ORCH_OK;
}

static int
agent_sync_init(struct orch_agent *a)
{
	pthread_condattr_t ca;
	int rv;

	if ((rv = pthread_condattr_init(&ca)) != 0)
		return orch_err_from_errno(rv);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	rv = pthread_cond_init(&a->beat_cv, &ca);
	pthread_condattr_destroy(&ca);
	if (rv != 0)
		return orch_err_from_errno(rv);
	if ((rv = pthread_mutex_init(&a->mu, NULL)) != 0) {
		pthread_cond_destroy(&a->beat_cv);
		return orch_err_from_errno(rv);
	}
	if ((rv = pthread_mutex_init(&a->rpc_mu, NULL)) != 0) {
		pthread_mutex_destroy(&a->mu);
		pthread_cond_destroy(&a->beat_cv);
		return orch_err_from_errno(rv);
	}
	/* Plain conds and default mutexes cannot fail on Linux past this
	 * point (no allocation), so no further unwinding. */
	pthread_cond_init(&a->work_cv, NULL);
	pthread_cond_init(&a->done_cv, NULL);
	a->sync_ok = true;
	return ORCH_OK;
}

/* Starts the drivers of a's configuration.  One that fails is off, with a
 * warning, and probed again later; ORCH_EUNAVAIL, with every reason in
 * err, when none starts. */
static int
agent_drivers_start(struct orch_agent *a, char *err, size_t errlen)
{
	char derr[AGENT_ERR_LEN];
	size_t on = 0, o = 0;

	err[0] = '\0';
	for (size_t i = 0; i < a->n_drv; i++) {
		struct drv_slot *d = &a->drv[i];

		if (d->ops->init(&a->dc, &d->state, derr, sizeof(derr)) ==
		    ORCH_OK) {
			on++;
			continue;
		}
		d->state = NULL;
		copy_str(d->why, sizeof(d->why), derr);
		if (o < errlen)
			o += (size_t)snprintf(err + o, errlen - o,
			    "%sthe %s driver: %s", o > 0 ? "; " : "",
			    d->ops->name, derr);
	}
	if (on == 0)
		return ORCH_EUNAVAIL;
	for (size_t i = 0; i < a->n_drv; i++) {
		if (a->drv[i].state == NULL)
			orch_warn("agent",
			    "the %s driver is off: %s; its tasks are not "
			    "placed here until it answers (tried again every "
			    "%d s)",
			    a->drv[i].ops->name, a->drv[i].why,
			    AGENT_PROBE_MS / 1000);
	}
	a->next_probe_ms = orch_mono_ms() + AGENT_PROBE_MS;
	return ORCH_OK;
}

int
orch_agent_new(const struct orch_agent_config *cfg, struct orch_agent **out,
    char *err, size_t errlen)
{
	struct orch_agent *a;
	char derr[AGENT_ERR_LEN];
	int rc;

	*out = NULL;
	if (cfg->n_drivers == 0 || cfg->manager_url == NULL ||
	    cfg->events_url == NULL || cfg->name == NULL) {
		snprintf(err, errlen, "agent: incomplete configuration");
		return ORCH_EINVAL;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		snprintf(err, errlen, "agent: out of memory");
		return ORCH_ENOMEM;
	}
	if ((rc = agent_config_copy(a, cfg)) != ORCH_OK ||
	    (rc = agent_sync_init(a)) != ORCH_OK ||
	    (rc = orch_checker_new(agent_on_task_health, a, &a->checker)) !=
	        ORCH_OK) {
		snprintf(err, errlen, "agent: %s", orch_strerror(rc));
		goto out;
	}

	if ((rc = agent_drivers_start(a, err, errlen)) != ORCH_OK)
		goto out;
	if (a->cpu <= 0 || a->memory_mb <= 0) {
		double cpu = 0;
		int64_t mem = 0;

		/* The first driver on that knows (Docker's view, when it
		 * runs: the same host). */
		rc = ORCH_EUNAVAIL;
		for (size_t i = 0; i < a->n_drv && rc != ORCH_OK; i++) {
			if (a->drv[i].state != NULL)
				rc = a->drv[i].ops->capacity(a->drv[i].state,
				    &cpu, &mem, derr, sizeof(derr));
		}
		if (rc != ORCH_OK) {
			snprintf(err, errlen,
			    "cannot read the host's capacity "
			    "(give --cpu and --memory): %s",
			    derr);
			goto out;
		}
		if (a->cpu <= 0)
			a->cpu = cpu;
		if (a->memory_mb <= 0)
			a->memory_mb = mem;
	}
	if ((rc = agent_sockets_open(a, cfg, err, errlen)) != ORCH_OK)
		goto out;
	if ((rc = orch_agent_logs_new(a->req, agent_logs_find, a, &a->logs)) !=
	    ORCH_OK) {
		snprintf(err, errlen, "agent: %s", orch_strerror(rc));
		goto out;
	}
	*out = a;
	a = NULL;
out:
	orch_agent_free(a);
	return rc;
}

void
orch_agent_capacity(const struct orch_agent *a, double *cpu, int64_t *memory_mb)
{
	*cpu = a->cpu;
	*memory_mb = a->memory_mb;
}

int
orch_agent_start(struct orch_agent *a, char *err, size_t errlen)
{
	char names[128];
	int rv;

	if ((a->workers = calloc((size_t)a->n_workers, sizeof(*a->workers))) ==
	    NULL) {
		snprintf(err, errlen, "agent: out of memory");
		return ORCH_ENOMEM;
	}
	for (int i = 0; i < a->n_workers; i++) {
		if ((rv = pthread_create(
		         &a->workers[i], NULL, agent_worker_main, a)) != 0)
			goto fail;
		pthread_mutex_lock(&a->mu);
		a->workers_alive++;
		pthread_mutex_unlock(&a->mu);
		a->n_started++;
	}
	if ((rv = pthread_create(
	         &a->notice_thread, NULL, agent_notice_main, a)) != 0)
		goto fail;
	if ((rv = orch_checker_start(a->checker)) != ORCH_OK) {
		snprintf(err, errlen,
		    "agent: cannot start the health checks: %s",
		    orch_strerror(rv));
		orch_agent_stop(a, 5000);
		return rv;
	}
	a->checker_started = true;
	a->notice_started = true;
	if ((rv = pthread_create(&a->beat_thread, NULL, agent_beat_main, a)) !=
	    0)
		goto fail;
	a->beat_started = true;
	orch_agent_drivers(a, names, sizeof(names));
	orch_info("agent",
	    "node \"%s\": manager %s, notices %s, drivers %s, "
	    "%d workers, heartbeat %d ms",
	    a->name, a->manager_url, a->events_url, names, a->n_workers,
	    a->heartbeat_ms);
	return ORCH_OK;
fail:
	snprintf(err, errlen, "agent: cannot start a thread: %s", strerror(rv));
	orch_agent_stop(a, 5000);
	return orch_err_from_errno(rv);
}

bool
orch_agent_stop(struct orch_agent *a, int grace_ms)
{
	struct timespec ts;
	struct op *op;
	int64_t deadline;
	bool all = true;

	pthread_mutex_lock(&a->mu);
	a->stopping = true;
	/* Queued work is dropped: whoever runs next sees the same gap. */
	while ((op = a->q_head) != NULL) {
		a->q_head = op->next;
		opstate_end(a, op->key);
		op_free(op);
	}
	a->q_tail = NULL;
	pthread_cond_broadcast(&a->beat_cv);
	pthread_cond_broadcast(&a->work_cv);
	pthread_mutex_unlock(&a->mu);

	/* Checks in progress end at once: their results no longer matter. */
	if (a->checker_started) {
		for (size_t i = 0; i < a->n_drv; i++) {
			void *st = drv_state(a, a->drv[i].ops);

			if (st != NULL && a->drv[i].ops->check_cancel != NULL)
				a->drv[i].ops->check_cancel(st);
		}
		orch_checker_stop(a->checker);
		a->checker_started = false;
	}

	/* Closing the sockets ends calls in progress at once (ECLOSED):
	 * nothing the manager is told from here on matters.  Bounded: NNG
	 * 1.5.2 can hang closing a pipe a message reaches meanwhile (see
	 * orch_nng_close_within), and an agent asked to stop must stop. */
	if (a->sub_open) {
		orch_nng_close_within(a->sub, AGENT_CLOSE_MS, "agent");
		a->sub_open = false;
	}
	if (a->req_open) {
		orch_nng_close_within(a->req, AGENT_CLOSE_MS, "agent");
		a->req_open = false;
	}
	if (a->beat_started) {
		pthread_join(a->beat_thread, NULL);
		a->beat_started = false;
	}
	if (a->notice_started) {
		pthread_join(a->notice_thread, NULL);
		a->notice_started = false;
	}
	/* With the socket closed, their pushes fail at once; a driver call
	 * ends at its next tick. */
	if (a->logs != NULL && !orch_agent_logs_stop(a->logs, grace_ms))
		all = false;

	/* A worker may be in a long driver call (a stop waits out its
	 * grace period, a pull can take minutes). */
	deadline = orch_now_ms() + (grace_ms > 0 ? grace_ms : 0);
	ts.tv_sec = (time_t)(deadline / 1000);
	ts.tv_nsec = (long)(deadline % 1000) * 1000000L;
	pthread_mutex_lock(&a->mu);
	while (a->workers_alive > 0) {
		if (pthread_cond_timedwait(&a->done_cv, &a->mu, &ts) ==
		    ETIMEDOUT)
			break;
	}
	if (a->workers_alive > 0 || !all) {
		if (a->workers_alive > 0)
			orch_warn("agent",
			    "%d operations still running after %d ms; "
			    "leaving them unfinished",
			    a->workers_alive, grace_ms);
		all = false;
	}
	pthread_mutex_unlock(&a->mu);
	if (!all)
		return false;
	for (int i = 0; i < a->n_started; i++)
		pthread_join(a->workers[i], NULL);
	a->n_started = 0;
	return true;
}

void
orch_agent_free(struct orch_agent *a)
{
	struct op *op;

	if (a == NULL)
		return;
	if (a->sub_open)
		orch_nng_close_within(a->sub, AGENT_CLOSE_MS, "agent");
	if (a->req_open)
		orch_nng_close_within(a->req, AGENT_CLOSE_MS, "agent");
	/* Stopped (orch_agent_stop), or never started: no session runs. */
	orch_agent_logs_free(a->logs);
	/* Its checks use the drivers: it goes first. */
	orch_checker_free(a->checker);
	/* A driver's monitor calls agent_on_exit until fini returns. */
	for (size_t i = 0; i < a->n_drv; i++) {
		if (a->drv[i].state != NULL)
			a->drv[i].ops->fini(a->drv[i].state);
	}
	while ((op = a->q_head) != NULL) {
		a->q_head = op->next;
		op_free(op);
	}
	if (a->sync_ok) {
		pthread_cond_destroy(&a->done_cv);
		pthread_cond_destroy(&a->work_cv);
		pthread_cond_destroy(&a->beat_cv);
		pthread_mutex_destroy(&a->rpc_mu);
		pthread_mutex_destroy(&a->mu);
	}
	for (size_t i = 0; i < a->n_labels; i++) {
		free(a->label_entries[i].key);
		free(a->label_entries[i].value);
	}
	free(a->label_entries);
	free(a->labels);
	agent_last_as_forget(a);
	free(a->workers);
	free(a->ops);
	free(a->inst);
	free(a->address);
	free(a->name);
	free(a->events_url);
	free(a->manager_url);
	free((char *)a->dc.docker_socket);
	free((char *)a->dc.state_dir);
	free((char *)a->dc.cgroup_dir);
	free(a);
}

void
orch_agent_drivers(const struct orch_agent *a, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	pthread_mutex_lock((pthread_mutex_t *)&a->mu);
	for (size_t i = 0; i < a->n_drv && o < len; i++) {
		if (a->drv[i].state != NULL)
			o += (size_t)snprintf(buf + o, len - o, "%s%s",
			    o > 0 ? ", " : "", a->drv[i].ops->name);
	}
	pthread_mutex_unlock((pthread_mutex_t *)&a->mu);
}

int
orch_agent_remove_all(struct orch_agent *a, char *err, size_t errlen)
{
	struct orch_instance *list = NULL;
	char derr[AGENT_ERR_LEN], cid[16];
	size_t n = 0;
	int rc, first = ORCH_OK;

	if ((rc = agent_list(a, &list, &n, err, errlen)) != ORCH_OK)
		return rc;
	for (size_t i = 0; i < n; i++) {
		const struct orch_instance *x = &list[i];
		void *st = drv_state(a, x->driver);

		if (st == NULL)
			continue;
		/* Removing kills what still runs (docker rm --force): no
		 * grace, since everything the task could leave goes too. */
		if ((rc = x->driver->remove(
		         st, x->handle, derr, sizeof(derr))) == ORCH_OK) {
			orch_info("agent", "task %s: removed container %s",
			    x->task_id, short_id(x->handle, cid));
			continue;
		}
		if (first == ORCH_OK) {
			first = rc;
			snprintf(err, errlen, "task %s: %s", x->task_id, derr);
		}
	}
	free(list);
	return first;
}
