/*
 * nodes.c: the manager's live view of its nodes (see nodes.h).
 *
 * A sorted array of entries, searched by id: nodes register rarely and
 * beat often, so lookups are what must be cheap.
 */
#include "nodes.h"

#include <math.h>
#include <pthread.h>
#include <uuid/uuid.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "error.h"
#include "log.h"

#define NODES_COMPONENT "nodes"
#define ST_READY ORCH__NODE_STATUS__NODE_STATUS_READY
#define ST_NOT_READY ORCH__NODE_STATUS__NODE_STATUS_NOT_READY
#define ST_DOWN ORCH__NODE_STATUS__NODE_STATUS_DOWN

struct entry {
	char id[ORCH_ID_LEN];
	char *name;
	bool seen;               /* heard from since this manager started */
	int64_t mono_ms;         /* when, on the monotonic clock */
	int64_t wall_ms;         /* and on the wall clock, for people */
	int status;              /* as last logged */
	uint64_t assign_version; /* the counter when its tasks last changed */
	/* Its unhealthy drivers, as last reported (NULL when none). */
	struct orch_driver_health *sick;
	size_t n_sick;
	/* Its last changes, for deltas (orch_nodes_assign_delta): a ring,
	 * allocated at the first; changes at or below floor are forgotten. */
	struct assign_log *log;
	uint64_t floor;
};

struct assign_log {
	uint64_t version[ORCH_NODES_DELTA_MAX];
	char id[ORCH_NODES_DELTA_MAX][ORCH_ID_LEN];
	size_t head, n; /* the oldest, and how many */
};

/* A turn (struct orch_nodes_turn), waiting to be told outside the lock;
 * a driver turn holds a copy of the unhealthy drivers (malloc'd). */
struct transition {
	char id[ORCH_ID_LEN];
	int status;
	struct orch_driver_health *sick;
	size_t n_sick;
};

struct orch_nodes {
	int64_t ttl_ms;
	int64_t started_ms; /* monotonic: when the registry was made */

	pthread_mutex_t mu; /* guards everything below */
	struct entry *v;    /* sorted by id */
	size_t n, cap;
	orch_nodes_change_fn watch;
	void *watch_arg;
	/* Versions of what each node is assigned (orch_nodes_assign_*). */
	uint64_t epoch;       /* random, this registry's */
	uint64_t counter;     /* bumped by every change */
	uint64_t all_version; /* the counter when every node's changed */
	/* Transitions for the listener, in order; flush_mu serializes the
	 * telling, so that two threads never tell them out of order. */
	orch_nodes_transition_fn trans;
	void *trans_arg;
	struct transition *pend;
	size_t n_pend, cap_pend;
	pthread_mutex_t flush_mu;
};

int
orch_nodes_new(int64_t ttl_ms, struct orch_nodes **out)
{
	struct orch_nodes *ns = calloc(1, sizeof(*ns));

	*out = NULL;
	if (ns == NULL)
		return ORCH_ENOMEM;
	if (pthread_mutex_init(&ns->mu, NULL) != 0) {
		free(ns);
		return ORCH_ENOMEM;
	}
	if (pthread_mutex_init(&ns->flush_mu, NULL) != 0) {
		pthread_mutex_destroy(&ns->mu);
		free(ns);
		return ORCH_ENOMEM;
	}
	ns->ttl_ms = ttl_ms > 0 ? ttl_ms : 1;
	ns->started_ms = orch_mono_ms();
	/* Never 0, which an agent that has no assignments yet sends. */
	do {
		uuid_t u;

		uuid_generate_random(u);
		memcpy(&ns->epoch, u, sizeof(ns->epoch));
	} while (ns->epoch == 0);
	*out = ns;
	return ORCH_OK;
}

void
orch_nodes_free(struct orch_nodes *ns)
{
	if (ns == NULL)
		return;
	for (size_t i = 0; i < ns->n; i++) {
		free(ns->v[i].name);
		free(ns->v[i].sick);
		free(ns->v[i].log);
	}
	free(ns->v);
	for (size_t i = 0; i < ns->n_pend; i++)
		free(ns->pend[i].sick);
	free(ns->pend);
	pthread_mutex_destroy(&ns->flush_mu);
	pthread_mutex_destroy(&ns->mu);
	free(ns);
}

/* The index of id, or where it would go (*found false).  Called with mu. */
static size_t
entry_find(const struct orch_nodes *ns, const char *id, bool *found)
{
	size_t lo = 0, hi = ns->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(ns->v[mid].id, id);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

/* Finds or adds the entry of id, naming it name.  Called with mu.
 * Returns NULL when out of memory. */
static struct entry *
entry_get(struct orch_nodes *ns, const char *id, const char *name)
{
	bool found;
	size_t i = entry_find(ns, id, &found);
	struct entry *e;
	char *copy;

	if (found) {
		e = &ns->v[i];
		if (name != NULL && strcmp(e->name, name) != 0 &&
		    (copy = strdup(name)) != NULL) {
			free(e->name);
			e->name = copy;
		}
		return e;
	}
	if (strlen(id) != ORCH_ID_LEN - 1 ||
	    (copy = strdup(name != NULL ? name : id)) == NULL)
		return NULL;
	if (ns->n == ns->cap) {
		size_t cap = ns->cap > 0 ? ns->cap * 2 : 16;
		struct entry *v = realloc(ns->v, cap * sizeof(*v));

		if (v == NULL) {
			free(copy);
			return NULL;
		}
		ns->v = v;
		ns->cap = cap;
	}
	memmove(&ns->v[i + 1], &ns->v[i], (ns->n - i) * sizeof(*ns->v));
	ns->n++;
	e = &ns->v[i];
	memset(e, 0, sizeof(*e));
	memcpy(e->id, id, ORCH_ID_LEN);
	e->name = copy;
	e->status = ST_NOT_READY;
	/* Changes of its tasks before now were not recorded: no delta from
	 * a version before it. */
	e->floor = ns->counter;
	return e;
}

/* The status of e at monotonic time now.  Called with mu. */
static int
entry_status(const struct orch_nodes *ns, const struct entry *e, int64_t now)
{
	if (e->seen)
		return now - e->mono_ms <= ns->ttl_ms ? ST_READY : ST_DOWN;
	/* Known from the store: its agent may be starting again with us. */
	return now - ns->started_ms < 2 * ns->ttl_ms ? ST_NOT_READY : ST_DOWN;
}

/* Queues a turn of e for the transition listener: to status, or, for
 * ORCH_NODES_TURN_DRIVER, of its drivers (as they are now).  Called with
 * mu. */
static void
transition_queue(struct orch_nodes *ns, const struct entry *e, int status)
{
	struct orch_driver_health *sick = NULL;

	if (ns->trans == NULL)
		return;
	if (status == ORCH_NODES_TURN_DRIVER && e->n_sick > 0) {
		if ((sick = malloc(e->n_sick * sizeof(*sick))) == NULL) {
			orch_warn(NODES_COMPONENT,
			    "out of memory: the turn of node %s's drivers "
			    "has no event",
			    e->id);
			return;
		}
		memcpy(sick, e->sick, e->n_sick * sizeof(*sick));
	}
	if (ns->n_pend == ns->cap_pend) {
		size_t cap = ns->cap_pend > 0 ? ns->cap_pend * 2 : 8;
		struct transition *v = realloc(ns->pend, cap * sizeof(*v));

		if (v == NULL) {
			orch_warn(NODES_COMPONENT,
			    "out of memory: the turn of node %s to %s "
			    "has no event",
			    e->id,
			    status == ORCH_NODES_TURN_DRIVER
			        ? "new driver health"
			        : orch_node_status_name(status));
			free(sick);
			return;
		}
		ns->pend = v;
		ns->cap_pend = cap;
	}
	memcpy(ns->pend[ns->n_pend].id, e->id, ORCH_ID_LEN);
	ns->pend[ns->n_pend].status = status;
	ns->pend[ns->n_pend].sick = sick;
	ns->pend[ns->n_pend].n_sick = sick != NULL ? e->n_sick : 0;
	ns->n_pend++;
}

/* Tells the listener of the queued turns, outside mu.  Called without
 * mu, when a turn may have been queued. */
static void
transitions_flush(struct orch_nodes *ns)
{
	struct transition *v;
	orch_nodes_transition_fn fn;
	void *arg;
	size_t n;

	pthread_mutex_lock(&ns->flush_mu);
	pthread_mutex_lock(&ns->mu);
	v = ns->pend;
	n = ns->n_pend;
	fn = ns->trans;
	arg = ns->trans_arg;
	ns->pend = NULL;
	ns->n_pend = ns->cap_pend = 0;
	pthread_mutex_unlock(&ns->mu);
	for (size_t i = 0; fn != NULL && i < n; i++) {
		struct orch_nodes_turn t = {.id = v[i].id,
		    .status = v[i].status,
		    .unhealthy = v[i].sick,
		    .n_unhealthy = v[i].n_sick};

		fn(arg, &t);
	}
	pthread_mutex_unlock(&ns->flush_mu);
	for (size_t i = 0; i < n; i++)
		free(v[i].sick);
	free(v);
}

/* Records that e's status is now status, logging the change.  Returns
 * whether the watcher should hear of it.  Called with mu. */
static bool
entry_transition(
    struct orch_nodes *ns, struct entry *e, int status, int64_t now)
{
	if (status == e->status)
		return false;
	if (status == ST_DOWN)
		orch_warn(NODES_COMPONENT,
		    "node %s (%s) is Down: not heard from "
		    "for %lld ms (TTL %lld ms)",
		    e->name, e->id,
		    (long long)(now - (e->seen ? e->mono_ms : ns->started_ms)),
		    (long long)ns->ttl_ms);
	else
		orch_log_kv(ORCH_LOG_INFO, NODES_COMPONENT,
		    ORCH_LOG_FIELDS({"node", e->name},
		        {"status", orch_node_status_name(status)}),
		    "node %s (%s) is %s", e->name, e->id,
		    orch_node_status_name(status));
	e->status = status;
	if (status == ST_READY || status == ST_DOWN)
		transition_queue(ns, e, status);
	return status == ST_READY || status == ST_DOWN;
}

/* The unhealthy entry of driver name in e, or NULL.  Called with mu. */
static const struct orch_driver_health *
sick_find(const struct entry *e, const char *name)
{
	for (size_t i = 0; i < e->n_sick; i++) {
		if (strcmp(e->sick[i].name, name) == 0)
			return &e->sick[i];
	}
	return NULL;
}

/* Whether h[i] is the first entry of its driver in h and says it is
 * unhealthy (a later entry of the same name is ignored). */
static bool
report_sick(Orch__DriverHealth *const *h, size_t i)
{
	for (size_t j = 0; j < i; j++) {
		if (strcmp(h[j]->name, h[i]->name) == 0)
			return false;
	}
	return h[i]->has_healthy && !h[i]->healthy;
}

/*
 * Replaces e's driver health with the report h[n], logging each change;
 * a driver still unhealthy keeps the time it turned so.  Returns whether
 * anything changed; *turned (OUT) says whether a driver turned unhealthy
 * or healthy again (not just a new error).  Called with mu.  Out of
 * memory, the old health is kept (the next beat tries again).
 */
static bool
entry_health_set(
    struct entry *e, Orch__DriverHealth *const *h, size_t n, bool *turned)
{
	struct orch_driver_health *v = NULL;
	const struct orch_driver_health *old;
	size_t k = 0;
	bool changed;

	*turned = false;
	if (n > 0 && (v = calloc(n, sizeof(*v))) == NULL) {
		orch_warn(NODES_COMPONENT,
		    "node %s: out of memory keeping its driver health",
		    e->name);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (!report_sick(h, i))
			continue;
		snprintf(v[k].name, sizeof(v[k].name), "%s", h[i]->name);
		snprintf(v[k].error, sizeof(v[k].error), "%s",
		    h[i]->error != NULL ? h[i]->error : "");
		old = sick_find(e, v[k].name);
		v[k].since_ms = old != NULL ? old->since_ms : orch_now_ms();
		*turned |= old == NULL;
		if (old == NULL)
			orch_warn(NODES_COMPONENT,
			    "node %s (%s): the %s driver is unhealthy: %s; no "
			    "task of it is placed there until it is back",
			    e->name, e->id, v[k].name, v[k].error);
		else if (strcmp(old->error, v[k].error) != 0)
			orch_info(NODES_COMPONENT,
			    "node %s (%s): the %s driver is still unhealthy: "
			    "%s",
			    e->name, e->id, v[k].name, v[k].error);
		k++;
	}
	changed = k != e->n_sick;
	for (size_t i = 0; i < e->n_sick; i++) {
		bool still = false;

		for (size_t j = 0; j < k; j++) {
			if (strcmp(v[j].name, e->sick[i].name) != 0)
				continue;
			still = true;
			if (strcmp(v[j].error, e->sick[i].error) != 0)
				changed = true;
		}
		if (!still) {
			changed = *turned = true;
			orch_info(NODES_COMPONENT,
			    "node %s (%s): the %s driver is healthy again",
			    e->name, e->id, e->sick[i].name);
		}
	}
	if (!changed) {
		free(v);
		return false;
	}
	free(e->sick);
	e->sick = k > 0 ? v : NULL;
	e->n_sick = k;
	if (k == 0)
		free(v);
	return true;
}

/* Records contact with e now, and its driver health h[n].  Called with
 * mu. */
static void
entry_touch(struct orch_nodes *ns, struct entry *e,
    Orch__DriverHealth *const *h, size_t n)
{
	int64_t now = orch_mono_ms();
	int was = entry_status(ns, e, now);
	bool turned, changed = entry_health_set(e, h, n, &turned);

	/* A node that went Down since the last sweep comes back: the
	 * scheduler has to hear of it as much as of a first beat. */
	if (e->seen && was != e->status && entry_transition(ns, e, was, now))
		changed = true;
	e->seen = true;
	e->mono_ms = now;
	e->wall_ms = orch_now_ms();
	if (entry_transition(ns, e, ST_READY, now))
		changed = true;
	/* After the node's own turn: a node.ready before its node.driver. */
	if (turned)
		transition_queue(ns, e, ORCH_NODES_TURN_DRIVER);
	if (changed && ns->watch != NULL)
		ns->watch(ns->watch_arg);
}

int
orch_nodes_load(struct orch_nodes *ns, struct orch_store_reader *r)
{
	orch_node **nodes = NULL;
	size_t n = 0;
	int rc;

	if ((rc = orch_store_node_list(r, &nodes, &n)) != ORCH_OK)
		return rc;
	pthread_mutex_lock(&ns->mu);
	for (size_t i = 0; i < n && rc == ORCH_OK; i++) {
		if (entry_get(ns, nodes[i]->id, nodes[i]->name) == NULL)
			rc = ORCH_ENOMEM;
	}
	pthread_mutex_unlock(&ns->mu);
	if (rc == ORCH_OK && n > 0)
		orch_info(NODES_COMPONENT,
		    "%zu nodes known; NotReady until "
		    "they check in",
		    n);
	orch_store_node_list_free(nodes, n);
	return rc;
}

void
orch_nodes_watch(struct orch_nodes *ns, orch_nodes_change_fn fn, void *arg)
{
	pthread_mutex_lock(&ns->mu);
	ns->watch = fn;
	ns->watch_arg = arg;
	pthread_mutex_unlock(&ns->mu);
}

int
orch_nodes_seen(struct orch_nodes *ns, const char *id, const char *name,
    Orch__DriverHealth *const *health, size_t n_health)
{
	struct entry *e;
	int rc = ORCH_OK;
	bool told;

	pthread_mutex_lock(&ns->mu);
	if ((e = entry_get(ns, id, name)) == NULL)
		rc = ORCH_ENOMEM;
	else
		entry_touch(ns, e, health, n_health);
	told = ns->n_pend > 0;
	pthread_mutex_unlock(&ns->mu);
	if (told)
		transitions_flush(ns);
	return rc;
}

int
orch_nodes_beat(struct orch_nodes *ns, const char *id,
    Orch__DriverHealth *const *health, size_t n_health)
{
	bool found;
	size_t i;
	int rc = ORCH_OK;

	bool told;

	pthread_mutex_lock(&ns->mu);
	i = entry_find(ns, id, &found);
	if (found)
		entry_touch(ns, &ns->v[i], health, n_health);
	else
		rc = ORCH_ENOENT;
	told = ns->n_pend > 0;
	pthread_mutex_unlock(&ns->mu);
	if (told)
		transitions_flush(ns);
	return rc;
}

size_t
orch_nodes_unhealthy(struct orch_nodes *ns, const char *id,
    struct orch_driver_health *out, size_t max)
{
	bool found;
	size_t i, n = 0;

	pthread_mutex_lock(&ns->mu);
	i = entry_find(ns, id, &found);
	if (found) {
		n = ns->v[i].n_sick < max ? ns->v[i].n_sick : max;
		if (n > 0)
			memcpy(out, ns->v[i].sick, n * sizeof(*out));
	}
	pthread_mutex_unlock(&ns->mu);
	return n;
}

int
orch_nodes_name(struct orch_nodes *ns, const char *id, char *out, size_t len)
{
	bool found;
	size_t i;
	int rc = ORCH_ENOENT;

	out[0] = '\0';
	pthread_mutex_lock(&ns->mu);
	i = entry_find(ns, id, &found);
	if (found)
		rc = (size_t)snprintf(out, len, "%s", ns->v[i].name) < len
		    ? ORCH_OK
		    : ORCH_ETOOBIG;
	pthread_mutex_unlock(&ns->mu);
	return rc;
}

int
orch_nodes_status(struct orch_nodes *ns, const char *id, int64_t *last_ms)
{
	bool found;
	size_t i;
	int status = ST_NOT_READY;

	if (last_ms != NULL)
		*last_ms = -1;
	pthread_mutex_lock(&ns->mu);
	i = entry_find(ns, id, &found);
	if (found) {
		status = entry_status(ns, &ns->v[i], orch_mono_ms());
		if (last_ms != NULL && ns->v[i].seen)
			*last_ms = ns->v[i].wall_ms;
	}
	pthread_mutex_unlock(&ns->mu);
	return status;
}

void
orch_nodes_sweep(struct orch_nodes *ns)
{
	int64_t now = orch_mono_ms();
	bool changed = false;

	pthread_mutex_lock(&ns->mu);
	for (size_t i = 0; i < ns->n; i++) {
		struct entry *e = &ns->v[i];

		if (entry_transition(ns, e, entry_status(ns, e, now), now))
			changed = true;
	}
	if (changed && ns->watch != NULL)
		ns->watch(ns->watch_arg);
	changed = ns->n_pend > 0;
	pthread_mutex_unlock(&ns->mu);
	if (changed)
		transitions_flush(ns);
}

void
orch_nodes_on_transition(
    struct orch_nodes *ns, orch_nodes_transition_fn fn, void *arg)
{
	pthread_mutex_lock(&ns->flush_mu);
	pthread_mutex_lock(&ns->mu);
	ns->trans = fn;
	ns->trans_arg = arg;
	pthread_mutex_unlock(&ns->mu);
	pthread_mutex_unlock(&ns->flush_mu);
}

void
orch_nodes_count(struct orch_nodes *ns, size_t counts[4])
{
	int64_t now = orch_mono_ms();

	memset(counts, 0, 4 * sizeof(*counts));
	pthread_mutex_lock(&ns->mu);
	for (size_t i = 0; i < ns->n; i++) {
		int st = entry_status(ns, &ns->v[i], now);

		if (st >= 0 && st < 4)
			counts[st]++;
	}
	pthread_mutex_unlock(&ns->mu);
}

int32_t
orch_nodes_heartbeat_ms(const struct orch_nodes *ns)
{
	int64_t ms = ns->ttl_ms / 3;

	return (int32_t)(ms < 100 ? 100 : ms > 1000 ? 1000 : ms);
}

/* Fills n->driver_health from what its agent last said.  Returns
 * ORCH_OK or ORCH_ENOMEM (none then). */
static int
health_fill(struct orch_nodes *ns, orch_node *n)
{
	struct orch_driver_health sick[ORCH_NODE_DRIVERS_MAX];
	size_t nsick = n->n_drivers > 0
	    ? orch_nodes_unhealthy(ns, n->id, sick, ORCH_NODE_DRIVERS_MAX)
	    : 0;

	return orch_node_health_fill(n, sick, nsick);
}

int
orch_nodes_fill(struct orch_nodes *ns, orch_node *n,
    const struct orch_node_usage *usage, size_t n_usage)
{
	int64_t last;

	n->has_status = true;
	n->status = orch_nodes_status(ns, n->id, &last);
	n->has_last_heartbeat_ms = last >= 0;
	n->last_heartbeat_ms = last >= 0 ? last : 0;
	n->has_allocated_cpu = true;
	n->allocated_cpu = 0.0;
	n->has_allocated_memory_mb = true;
	n->allocated_memory_mb = 0;
	n->has_task_count = true;
	n->task_count = 0;
	for (size_t i = 0; i < n_usage; i++) {
		if (strcmp(usage[i].node_id, n->id) != 0)
			continue;
		/* Sums of 0.1s are not exact: 0.3, not 0.30000000000000004. */
		n->allocated_cpu = round(usage[i].cpu * 1e6) / 1e6;
		n->allocated_memory_mb = usage[i].memory_mb;
		n->task_count = usage[i].tasks;
		break;
	}
	return health_fill(ns, n);
}

int
orch_nodes_read(struct orch_nodes *ns, struct orch_store_reader *r,
    orch_node ***out, size_t *n)
{
	struct orch_node_usage *usage = NULL;
	size_t n_usage = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = orch_store_node_list(r, out, n)) != ORCH_OK)
		return rc;
	if ((rc = orch_store_node_usage(r, &usage, &n_usage)) != ORCH_OK) {
		orch_store_node_list_free(*out, *n);
		*out = NULL;
		*n = 0;
		return rc;
	}
	for (size_t i = 0; i < *n && rc == ORCH_OK; i++)
		rc = orch_nodes_fill(ns, (*out)[i], usage, n_usage);
	free(usage);
	if (rc != ORCH_OK) {
		orch_store_node_list_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

int
orch_nodes_read_one(struct orch_nodes *ns, struct orch_store_reader *r,
    const char *key, orch_node **out)
{
	struct orch_node_usage *usage = NULL;
	size_t n_usage = 0;
	int rc;

	if ((rc = orch_store_node_get(r, key, out)) != ORCH_OK)
		return rc;
	if ((rc = orch_store_node_usage(r, &usage, &n_usage)) != ORCH_OK) {
		orch_node_free(*out);
		*out = NULL;
		return rc;
	}
	rc = orch_nodes_fill(ns, *out, usage, n_usage);
	free(usage);
	if (rc != ORCH_OK) {
		orch_node_free(*out);
		*out = NULL;
	}
	return rc;
}

void
orch_nodes_assign_changed(
    struct orch_nodes *ns, const char *id, const char *task_id)
{
	struct entry *e;
	struct assign_log *l;
	bool found;
	size_t i, k;

	pthread_mutex_lock(&ns->mu);
	ns->counter++;
	if (id == NULL) {
		ns->all_version = ns->counter;
		goto out;
	}
	i = entry_find(ns, id, &found);
	if (!found)
		goto out;
	e = &ns->v[i];
	e->assign_version = ns->counter;
	if (task_id == NULL || strlen(task_id) >= ORCH_ID_LEN) {
		e->floor = ns->counter;
		goto out;
	}
	if (e->log == NULL && (e->log = calloc(1, sizeof(*e->log))) == NULL) {
		e->floor = ns->counter;
		goto out;
	}
	l = e->log;
	if (l->n == ORCH_NODES_DELTA_MAX) {
		/* The oldest is forgotten: deltas from before it are off. */
		if (l->version[l->head] > e->floor)
			e->floor = l->version[l->head];
		l->head = (l->head + 1) % ORCH_NODES_DELTA_MAX;
		l->n--;
	}
	k = (l->head + l->n) % ORCH_NODES_DELTA_MAX;
	l->version[k] = ns->counter;
	memcpy(l->id[k], task_id, strlen(task_id) + 1);
	l->n++;
out:
	pthread_mutex_unlock(&ns->mu);
}

int
orch_nodes_assign_delta(struct orch_nodes *ns, const char *id, uint64_t since,
    char (*ids)[ORCH_ID_LEN], size_t max, size_t *n, uint64_t *epoch,
    uint64_t *version)
{
	const struct entry *e;
	bool found;
	size_t i;
	int rc = ORCH_ENOENT;

	*n = 0;
	pthread_mutex_lock(&ns->mu);
	*epoch = ns->epoch;
	*version = ns->all_version;
	i = entry_find(ns, id, &found);
	if (!found)
		goto out;
	e = &ns->v[i];
	if (e->assign_version > *version)
		*version = e->assign_version;
	if (since < ns->all_version || since < e->floor || since > *version)
		goto out;
	for (size_t j = 0; e->log != NULL && j < e->log->n; j++) {
		size_t k = (e->log->head + j) % ORCH_NODES_DELTA_MAX;
		bool dup = false;

		if (e->log->version[k] <= since)
			continue;
		for (size_t m = 0; m < *n && !dup; m++)
			dup = strcmp(ids[m], e->log->id[k]) == 0;
		if (dup)
			continue;
		if (*n == max)
			goto out;
		memcpy(ids[(*n)++], e->log->id[k], ORCH_ID_LEN);
	}
	rc = ORCH_OK;
out:
	if (rc != ORCH_OK)
		*n = 0;
	pthread_mutex_unlock(&ns->mu);
	return rc;
}

void
orch_nodes_assign_version(
    struct orch_nodes *ns, const char *id, uint64_t *epoch, uint64_t *version)
{
	bool found;
	size_t i;

	pthread_mutex_lock(&ns->mu);
	*epoch = ns->epoch;
	*version = ns->all_version;
	i = entry_find(ns, id, &found);
	if (found && ns->v[i].assign_version > *version)
		*version = ns->v[i].assign_version;
	pthread_mutex_unlock(&ns->mu);
}
