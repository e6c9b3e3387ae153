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
};

/* A turn to Ready or Down, waiting to be told outside the lock. */
struct transition {
	char id[ORCH_ID_LEN];
	int status;
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
	for (size_t i = 0; i < ns->n; i++)
		free(ns->v[i].name);
	free(ns->v);
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

/* Queues a turn of e for the transition listener.  Called with mu. */
static void
transition_queue(struct orch_nodes *ns, const struct entry *e, int status)
{
	if (ns->trans == NULL)
		return;
	if (ns->n_pend == ns->cap_pend) {
		size_t cap = ns->cap_pend > 0 ? ns->cap_pend * 2 : 8;
		struct transition *v = realloc(ns->pend, cap * sizeof(*v));

		if (v == NULL) {
			orch_warn(NODES_COMPONENT,
			    "out of memory: the turn of node %s to %s "
			    "has no event",
			    e->id, orch_node_status_name(status));
			return;
		}
		ns->pend = v;
		ns->cap_pend = cap;
	}
	memcpy(ns->pend[ns->n_pend].id, e->id, ORCH_ID_LEN);
	ns->pend[ns->n_pend].status = status;
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
	for (size_t i = 0; fn != NULL && i < n; i++)
		fn(arg, v[i].id, v[i].status);
	pthread_mutex_unlock(&ns->flush_mu);
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

/* Records contact with e now.  Called with mu. */
static void
entry_touch(struct orch_nodes *ns, struct entry *e)
{
	int64_t now = orch_mono_ms();
	int was = entry_status(ns, e, now);
	bool changed = false;

	/* A node that went Down since the last sweep comes back: the
	 * scheduler has to hear of it as much as of a first beat. */
	if (e->seen && was != e->status)
		changed = entry_transition(ns, e, was, now);
	e->seen = true;
	e->mono_ms = now;
	e->wall_ms = orch_now_ms();
	if (entry_transition(ns, e, ST_READY, now))
		changed = true;
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
orch_nodes_seen(struct orch_nodes *ns, const char *id, const char *name)
{
	struct entry *e;
	int rc = ORCH_OK;
	bool told;

	pthread_mutex_lock(&ns->mu);
	if ((e = entry_get(ns, id, name)) == NULL)
		rc = ORCH_ENOMEM;
	else
		entry_touch(ns, e);
	told = ns->n_pend > 0;
	pthread_mutex_unlock(&ns->mu);
	if (told)
		transitions_flush(ns);
	return rc;
}

int
orch_nodes_beat(struct orch_nodes *ns, const char *id)
{
	bool found;
	size_t i;
	int rc = ORCH_OK;

	bool told;

	pthread_mutex_lock(&ns->mu);
	i = entry_find(ns, id, &found);
	if (found)
		entry_touch(ns, &ns->v[i]);
	else
		rc = ORCH_ENOENT;
	told = ns->n_pend > 0;
	pthread_mutex_unlock(&ns->mu);
	if (told)
		transitions_flush(ns);
	return rc;
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

void
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
	for (size_t i = 0; i < *n; i++)
		orch_nodes_fill(ns, (*out)[i], usage, n_usage);
	free(usage);
	return ORCH_OK;
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
	orch_nodes_fill(ns, *out, usage, n_usage);
	free(usage);
	return ORCH_OK;
}

void
orch_nodes_assign_changed(struct orch_nodes *ns, const char *id)
{
	bool found;
	size_t i;

	pthread_mutex_lock(&ns->mu);
	ns->counter++;
	if (id == NULL) {
		ns->all_version = ns->counter;
	} else {
		i = entry_find(ns, id, &found);
		if (found)
			ns->v[i].assign_version = ns->counter;
	}
	pthread_mutex_unlock(&ns->mu);
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
