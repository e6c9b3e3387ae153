/*
 * sched_state.c: the scheduler's memory of the open tasks and the nodes
 * (see sched_state.h).
 *
 * Tasks live in a chained hash table keyed by id.  A record heard from
 * the writer thread is a whole new struct orch_stask; applying it moves
 * its fields into the record already in the table (so that pointers to
 * a task stay valid while it is open) and keeps the per-node sums and
 * the count of ended plain tasks right by taking the old contribution
 * out before putting the new one in.
 */
#include "sched_state.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "log.h"
#include "restart.h"

#define SS_COMPONENT "scheduler"
#define SS_MIN_BUCKETS 1024

#define ST_PENDING ORCH__TASK_STATUS__TASK_STATUS_PENDING
#define ST_SCHEDULED ORCH__TASK_STATUS__TASK_STATUS_SCHEDULED
#define ST_RUNNING ORCH__TASK_STATUS__TASK_STATUS_RUNNING

/* A node's id and its index, sorted by id for lookups. */
struct node_key {
	char id[ORCH_ID_LEN];
	int i;
};

struct orch_sstate {
	/* The queue, fed by orch_sstate_heard() on any thread. */
	pthread_mutex_t mu;
	struct orch_stask *qhead, *qtail;
	bool qlost; /* a record could not be queued: reload */

	/* Everything below: the scheduler's thread alone. */
	struct orch_stask **buckets;
	size_t nbuckets; /* a power of two */
	size_t count;
	uint64_t next_seq;

	struct orch_snode *nodes;
	size_t n_nodes, cap_nodes;
	struct node_key *keys; /* n_nodes, sorted by id */

	/* The Pending tasks without a stop request, by seq.  Kept as tasks
	 * come and go rather than rebuilt each pass (a walk of every task
	 * and a sort, with tens of thousands waiting): a new task has the
	 * largest seq and goes at the end; one that stops waiting is dropped
	 * by the next read (pending_gone); only one that starts waiting
	 * again, or is freed while listed, has the list rebuilt
	 * (pending_stale). */
	const struct orch_stask **pending;
	size_t n_pending, cap_pending;
	bool pending_stale;
	bool pending_gone;

	char (*dirty)[ORCH_ID_LEN]; /* service ids, unsorted, unique */
	size_t n_dirty, cap_dirty;
	bool dirty_all;

	size_t plain_ended;
};

/* ---- records ---- */

/* FNV-1a: ids are random UUIDs, so anything spreads them. */
static uint64_t
hash_text(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

static void
stask_strings_free(struct orch_stask *t)
{
	free(t->name);
	free(t->placement);
	for (size_t i = 0; i < t->n_constraints; i++)
		free(t->constraints[i]);
	free(t->constraints);
}

static void
stask_free(struct orch_stask *t)
{
	if (t == NULL)
		return;
	stask_strings_free(t);
	free(t);
}

static bool
has_text(const char *s)
{
	return s != NULL && s[0] != '\0';
}

/* A copy of s, or NULL for NULL or "".  *nomem is set when it fails. */
static char *
dup_text(const char *s, bool *nomem)
{
	char *d;

	if (!has_text(s))
		return NULL;
	if ((d = strdup(s)) == NULL)
		*nomem = true;
	return d;
}

/* The record of t as committed, or NULL when out of memory. */
static struct orch_stask *
stask_from(const char *id, const orch_task *t)
{
	struct orch_stask *m = calloc(1, sizeof(*m));
	const orch_task_spec *sp;
	bool nomem = false;

	if (m == NULL)
		return NULL;
	m->node = -1;
	snprintf(m->id, sizeof(m->id), "%s", id);
	if (t == NULL) {
		m->gone = true;
		return m;
	}
	sp = t->spec;
	m->open = orch_task_open(t);
	m->status = (int)t->status;
	m->stop_requested = t->stop_requested;
	m->lost = t->lost;
	m->replaced = has_text(t->replaced_by);
	m->slot = t->slot;
	m->restarts = t->restarts;
	snprintf(m->node_id, sizeof(m->node_id), "%s",
	    t->node_id != NULL ? t->node_id : "");
	snprintf(m->service_id, sizeof(m->service_id), "%s",
	    t->service_id != NULL ? t->service_id : "");
	m->service_hash = orch_stask_service_hash(m->service_id);
	m->created_at_ms = t->has_created_at_ms ? t->created_at_ms : 0;
	m->started_at_ms = t->has_started_at_ms ? t->started_at_ms : 0;
	m->finished_at_ms = t->has_finished_at_ms ? t->finished_at_ms : 0;
	m->not_before_ms = t->has_not_before_ms ? t->not_before_ms : 0;
	m->error_hash =
	    has_text(t->error) ? orch_stask_error_hash(t->error) : 0;
	snprintf(m->driver, sizeof(m->driver), "%s", orch_task_spec_driver(sp));
	if (sp != NULL) {
		m->cpu = sp->cpu;
		m->memory_mb = sp->memory_mb;
		snprintf(m->restart, sizeof(m->restart), "%s",
		    sp->restart != NULL ? sp->restart : "");
		m->name = dup_text(sp->name, &nomem);
		m->placement = dup_text(sp->placement, &nomem);
		if (sp->n_constraints > 0 &&
		    (m->constraints = calloc(
		         sp->n_constraints, sizeof(*m->constraints))) == NULL)
			nomem = true;
		for (size_t i = 0; !nomem && i < sp->n_constraints; i++) {
			if ((m->constraints[i] = strdup(sp->constraints[i])) ==
			    NULL)
				nomem = true;
			else
				m->n_constraints++;
		}
	}
	if (nomem) {
		stask_free(m);
		return NULL;
	}
	return m;
}

uint64_t
orch_stask_service_hash(const char *service_id)
{
	return service_id[0] != '\0' ? hash_text(service_id) : 0;
}

uint64_t
orch_stask_error_hash(const char *text)
{
	return hash_text(text) | 1;
}

/* ---- the state ---- */

int
orch_sstate_new(struct orch_sstate **out)
{
	struct orch_sstate *ss = calloc(1, sizeof(*ss));

	*out = NULL;
	if (ss == NULL)
		return ORCH_ENOMEM;
	if ((ss->buckets = calloc(SS_MIN_BUCKETS, sizeof(*ss->buckets))) ==
	        NULL ||
	    pthread_mutex_init(&ss->mu, NULL) != 0) {
		free(ss->buckets);
		free(ss);
		return ORCH_ENOMEM;
	}
	ss->nbuckets = SS_MIN_BUCKETS;
	ss->pending_stale = true;
	*out = ss;
	return ORCH_OK;
}

static void
queue_free(struct orch_stask *q)
{
	while (q != NULL) {
		struct orch_stask *next = q->next;

		stask_free(q);
		q = next;
	}
}

static void
tasks_free(struct orch_sstate *ss)
{
	for (size_t b = 0; b < ss->nbuckets; b++) {
		queue_free(ss->buckets[b]);
		ss->buckets[b] = NULL;
	}
	ss->count = 0;
	ss->plain_ended = 0;
	ss->pending_stale = true;
	for (size_t i = 0; i < ss->n_nodes; i++) {
		ss->nodes[i].cpu_used = 0.0;
		ss->nodes[i].memory_mb_used = 0;
		ss->nodes[i].tasks = 0;
	}
}

void
orch_sstate_free(struct orch_sstate *ss)
{
	if (ss == NULL)
		return;
	tasks_free(ss);
	queue_free(ss->qhead);
	pthread_mutex_destroy(&ss->mu);
	free(ss->buckets);
	for (size_t i = 0; i < ss->n_nodes; i++)
		free(ss->nodes[i].unhealthy);
	free(ss->nodes);
	free(ss->keys);
	free(ss->pending);
	free(ss->dirty);
	free(ss);
}

void
orch_sstate_heard(struct orch_sstate *ss, const char *id, const orch_task *t)
{
	struct orch_stask *m = stask_from(id, t);

	pthread_mutex_lock(&ss->mu);
	if (m == NULL) {
		ss->qlost = true;
	} else {
		if (ss->qtail != NULL)
			ss->qtail->next = m;
		else
			ss->qhead = m;
		ss->qtail = m;
	}
	pthread_mutex_unlock(&ss->mu);
}

/* ---- nodes ---- */

static int
node_key_cmp(const void *a, const void *b)
{
	return strcmp(
	    ((const struct node_key *)a)->id, ((const struct node_key *)b)->id);
}

int
orch_sstate_node_find(const struct orch_sstate *ss, const char *id)
{
	struct node_key key, *hit;

	if (!has_text(id) || ss->n_nodes == 0)
		return -1;
	snprintf(key.id, sizeof(key.id), "%s", id);
	hit = bsearch(
	    &key, ss->keys, ss->n_nodes, sizeof(*ss->keys), node_key_cmp);
	return hit != NULL ? hit->i : -1;
}

/* The index of node id, added when new.  Returns -1 when out of memory. */
static int
node_index(struct orch_sstate *ss, const char *id)
{
	int i = orch_sstate_node_find(ss, id);
	struct orch_snode *nv;
	struct node_key *kv;

	if (i >= 0)
		return i;
	if (ss->n_nodes == ss->cap_nodes) {
		size_t cap = ss->cap_nodes > 0 ? ss->cap_nodes * 2 : 64;

		if ((nv = realloc(ss->nodes, cap * sizeof(*nv))) == NULL)
			return -1;
		ss->nodes = nv;
		if ((kv = realloc(ss->keys, cap * sizeof(*kv))) == NULL)
			return -1;
		ss->keys = kv;
		ss->cap_nodes = cap;
	}
	i = (int)ss->n_nodes;
	memset(&ss->nodes[i], 0, sizeof(ss->nodes[i]));
	snprintf(ss->nodes[i].id, sizeof(ss->nodes[i].id), "%s", id);
	ss->keys[i].i = i;
	memcpy(ss->keys[i].id, ss->nodes[i].id, ORCH_ID_LEN);
	ss->n_nodes++;
	qsort(ss->keys, ss->n_nodes, sizeof(*ss->keys), node_key_cmp);
	return i;
}

int
orch_sstate_nodes_set(struct orch_sstate *ss, orch_node *const *nodes, size_t n)
{
	int i;

	for (size_t k = 0; k < ss->n_nodes; k++)
		ss->nodes[k].rec = NULL;
	for (size_t k = 0; k < n; k++) {
		if (nodes[k] == NULL || !has_text(nodes[k]->id))
			continue;
		if ((i = node_index(ss, nodes[k]->id)) < 0)
			return ORCH_ENOMEM;
		ss->nodes[i].rec = nodes[k];
	}
	return ORCH_OK;
}

struct orch_snode *
orch_sstate_nodes(struct orch_sstate *ss, size_t *n)
{
	*n = ss->n_nodes;
	return ss->nodes;
}

/* ---- dirty services ---- */

bool
orch_sstate_dirty(const struct orch_sstate *ss, const char *service_id)
{
	if (ss->dirty_all)
		return true;
	for (size_t i = 0; i < ss->n_dirty; i++) {
		if (strcmp(ss->dirty[i], service_id) == 0)
			return true;
	}
	return false;
}

int
orch_sstate_dirty_add(struct orch_sstate *ss, const char *service_id)
{
	if (!has_text(service_id) || orch_sstate_dirty(ss, service_id))
		return ORCH_OK;
	if (ss->n_dirty == ss->cap_dirty) {
		size_t cap = ss->cap_dirty > 0 ? ss->cap_dirty * 2 : 16;
		char(*v)[ORCH_ID_LEN] = realloc(ss->dirty, cap * sizeof(*v));

		if (v == NULL) {
			ss->dirty_all = true;
			return ORCH_OK;
		}
		ss->dirty = v;
		ss->cap_dirty = cap;
	}
	snprintf(ss->dirty[ss->n_dirty++], ORCH_ID_LEN, "%s", service_id);
	return ORCH_OK;
}

void
orch_sstate_dirty_all(struct orch_sstate *ss)
{
	ss->dirty_all = true;
}

bool
orch_sstate_any_dirty(const struct orch_sstate *ss)
{
	return ss->dirty_all || ss->n_dirty > 0;
}

void
orch_sstate_dirty_clear(struct orch_sstate *ss)
{
	ss->dirty_all = false;
	ss->n_dirty = 0;
}

/* ---- tasks ---- */

static struct orch_stask **
slot_of(const struct orch_sstate *ss, const char *id)
{
	struct orch_stask **p =
	    &ss->buckets[hash_text(id) & (ss->nbuckets - 1)];

	while (*p != NULL && strcmp((*p)->id, id) != 0)
		p = &(*p)->next;
	return p;
}

const struct orch_stask *
orch_sstate_task(const struct orch_sstate *ss, const char *id)
{
	return *slot_of(ss, id);
}

/* Doubles the buckets when the table is as full as it is wide.  A failed
 * growth only makes chains longer. */
static void
table_grow(struct orch_sstate *ss)
{
	size_t nb = ss->nbuckets * 2;
	struct orch_stask **v, *t, *next;

	if (ss->count < ss->nbuckets || (v = calloc(nb, sizeof(*v))) == NULL)
		return;
	for (size_t b = 0; b < ss->nbuckets; b++) {
		for (t = ss->buckets[b]; t != NULL; t = next) {
			size_t k = hash_text(t->id) & (nb - 1);

			next = t->next;
			t->next = v[k];
			v[k] = t;
		}
	}
	free(ss->buckets);
	ss->buckets = v;
	ss->nbuckets = nb;
}

/* What t adds to the sums: sign +1 to put in, -1 to take out. */
static void
account(struct orch_sstate *ss, const struct orch_stask *t, int sign)
{
	if (t->node >= 0 &&
	    (t->status == ST_SCHEDULED || t->status == ST_RUNNING)) {
		struct orch_snode *n = &ss->nodes[t->node];

		n->cpu_used += sign * t->cpu;
		n->memory_mb_used += sign * t->memory_mb;
		n->tasks = (uint32_t)((int64_t)n->tasks + sign);
	}
	if (!has_text(t->service_id) && t->open && !t->replaced &&
	    orch_task_status_terminal(t->status))
		ss->plain_ended = (size_t)((int64_t)ss->plain_ended + sign);
}

/* Whether going from old (NULL: new) to t matters to the reconciler:
 * placing and starting do not, ending, stopping and replacing do. */
static bool
replica_changed(const struct orch_stask *old, const struct orch_stask *t)
{
	return old == NULL || !t->open ||
	    orch_task_status_terminal(old->status) !=
	    orch_task_status_terminal(t->status) ||
	    old->stop_requested != t->stop_requested ||
	    old->replaced != t->replaced || old->lost != t->lost;
}

/* Whether t belongs on the list of orch_sstate_pending(). */
static bool
pending_member(const struct orch_stask *t)
{
	return t != NULL && t->open && t->status == ST_PENDING &&
	    !t->stop_requested;
}

/* Puts t, newer than every task listed, at the end of the list (unless
 * it is to be rebuilt anyway). */
static void
pending_append(struct orch_sstate *ss, const struct orch_stask *t)
{
	if (ss->pending_stale)
		return;
	if (ss->n_pending == ss->cap_pending) {
		size_t cap = ss->cap_pending > 0 ? ss->cap_pending * 2 : 256;
		const struct orch_stask **v =
		    realloc(ss->pending, cap * sizeof(*v));

		if (v == NULL) {
			ss->pending_stale = true;
			return;
		}
		ss->pending = v;
		ss->cap_pending = cap;
	}
	ss->pending[ss->n_pending++] = t;
}

/* Applies record m (taken in every case).  Returns ORCH_OK or
 * ORCH_ENOMEM. */
static int
apply_one(struct orch_sstate *ss, struct orch_stask *m)
{
	struct orch_stask **p = slot_of(ss, m->id), *old = *p;
	bool was = pending_member(old), is = pending_member(m);
	int rc = ORCH_OK;

	m->next = NULL;
	if (has_text(m->service_id) && replica_changed(old, m))
		rc = orch_sstate_dirty_add(ss, m->service_id);
	if (old != NULL)
		account(ss, old, -1);
	/* The list holds old's address, which m's record takes over in
	 * place below: unchanged while it stays listed.  One that leaves
	 * is dropped at the next read, unless it is freed (below); one
	 * that joins is older than some listed: the list is rebuilt. */
	if (was && !is)
		ss->pending_gone = true;
	else if (!was && is && old != NULL)
		ss->pending_stale = true;
	if (!m->open) {
		if (was)
			ss->pending_stale = true;
		if (old != NULL) {
			*p = old->next;
			stask_free(old);
			ss->count--;
		}
		stask_free(m);
		return rc;
	}
	if (has_text(m->node_id) && (m->node = node_index(ss, m->node_id)) < 0)
		rc = ORCH_ENOMEM;
	if (old != NULL) {
		/* Same place in the table, same seq: pointers stay good. */
		m->next = old->next;
		m->seq = old->seq;
		stask_strings_free(old);
		*old = *m;
		free(m);
		m = old;
	} else {
		m->seq = ss->next_seq++;
		*p = m;
		ss->count++;
		table_grow(ss);
		if (is)
			pending_append(ss, m);
	}
	account(ss, m, +1);
	return rc;
}

/* Forgets task id (read again and found absent). */
static void
forget(struct orch_sstate *ss, const char *id)
{
	struct orch_stask **p = slot_of(ss, id), *old = *p;

	if (old == NULL)
		return;
	account(ss, old, -1);
	if (has_text(old->service_id))
		orch_sstate_dirty_add(ss, old->service_id);
	if (old->status == ST_PENDING)
		ss->pending_stale = true;
	*p = old->next;
	stask_free(old);
	ss->count--;
}

static int
load_one(void *arg, orch_task *t)
{
	struct orch_sstate *ss = arg;
	struct orch_stask *m = stask_from(t->id, t);

	orch_task_free(t);
	return m != NULL ? apply_one(ss, m) : ORCH_ENOMEM;
}

int
orch_sstate_load(struct orch_sstate *ss, struct orch_store_reader *r)
{
	int rc;

	pthread_mutex_lock(&ss->mu);
	ss->qlost = false;
	pthread_mutex_unlock(&ss->mu);
	tasks_free(ss);
	orch_sstate_dirty_all(ss);
	if ((rc = orch_store_task_scan_open(r, load_one, ss)) != ORCH_OK) {
		orch_warn(SS_COMPONENT, "cannot read the open tasks: %s",
		    orch_strerror(rc));
		return rc;
	}
	/* What is queued now was committed before the read, or during it:
	 * older or newer than what was read, no one knows which.  Each is
	 * read again by the next apply, so the last word is the store's. */
	pthread_mutex_lock(&ss->mu);
	for (struct orch_stask *m = ss->qhead; m != NULL; m = m->next)
		m->gone = true;
	pthread_mutex_unlock(&ss->mu);
	return ORCH_OK;
}

/* Reads task id again from the store and applies what it finds. */
static int
reread(struct orch_sstate *ss, struct orch_store_reader *r, const char *id)
{
	orch_task *t = NULL;
	struct orch_stask *m;
	int rc = orch_store_task_get(r, id, &t);

	if (rc == ORCH_ENOENT) {
		forget(ss, id);
		return ORCH_OK;
	}
	if (rc != ORCH_OK)
		return rc;
	m = stask_from(id, t);
	orch_task_free(t);
	return m != NULL ? apply_one(ss, m) : ORCH_ENOMEM;
}

int
orch_sstate_apply(struct orch_sstate *ss, struct orch_store_reader *r)
{
	struct orch_stask *q, *next, *gone = NULL;
	bool lost;
	int rc = ORCH_OK, e;

	pthread_mutex_lock(&ss->mu);
	lost = ss->qlost;
	pthread_mutex_unlock(&ss->mu);
	if (lost) {
		orch_warn(SS_COMPONENT,
		    "a commit could not be recorded (out of "
		    "memory): reading every open task again");
		if ((rc = orch_sstate_load(ss, r)) != ORCH_OK)
			return rc;
	}
	pthread_mutex_lock(&ss->mu);
	q = ss->qhead;
	ss->qhead = ss->qtail = NULL;
	pthread_mutex_unlock(&ss->mu);
	/* In commit order; those without a record are read again after, so
	 * that what is read is newer than everything applied. */
	for (; q != NULL; q = next) {
		next = q->next;
		if (q->gone) {
			q->next = gone;
			gone = q;
			continue;
		}
		if ((e = apply_one(ss, q)) != ORCH_OK && rc == ORCH_OK)
			rc = e;
	}
	for (; gone != NULL; gone = next) {
		next = gone->next;
		if ((e = reread(ss, r, gone->id)) != ORCH_OK && rc == ORCH_OK)
			rc = e;
		stask_free(gone);
	}
	return rc;
}

void
orch_sstate_each(const struct orch_sstate *ss,
    void (*fn)(void *arg, const struct orch_stask *t), void *arg)
{
	for (size_t b = 0; b < ss->nbuckets; b++) {
		for (const struct orch_stask *t = ss->buckets[b]; t != NULL;
		     t = t->next)
			fn(arg, t);
	}
}

size_t
orch_sstate_count(const struct orch_sstate *ss)
{
	return ss->count;
}

size_t
orch_sstate_plain_ended(const struct orch_sstate *ss)
{
	return ss->plain_ended;
}

static int
seq_cmp(const void *a, const void *b)
{
	uint64_t x = (*(const struct orch_stask *const *)a)->seq;
	uint64_t y = (*(const struct orch_stask *const *)b)->seq;

	return x < y ? -1 : x > y;
}

int
orch_sstate_pending(
    struct orch_sstate *ss, const struct orch_stask *const **out, size_t *n)
{
	if (!ss->pending_stale && ss->pending_gone) {
		size_t k = 0;

		for (size_t i = 0; i < ss->n_pending; i++) {
			if (pending_member(ss->pending[i]))
				ss->pending[k++] = ss->pending[i];
		}
		ss->n_pending = k;
	}
	ss->pending_gone = false;
	if (ss->pending_stale) {
		ss->n_pending = 0;
		for (size_t b = 0; b < ss->nbuckets; b++) {
			for (const struct orch_stask *t = ss->buckets[b];
			     t != NULL; t = t->next) {
				if (t->status != ST_PENDING ||
				    t->stop_requested)
					continue;
				if (ss->n_pending == ss->cap_pending) {
					size_t cap = ss->cap_pending > 0
					    ? ss->cap_pending * 2
					    : 256;
					const struct orch_stask **v = realloc(
					    ss->pending, cap * sizeof(*v));

					if (v == NULL)
						return ORCH_ENOMEM;
					ss->pending = v;
					ss->cap_pending = cap;
				}
				ss->pending[ss->n_pending++] = t;
			}
		}
		if (ss->n_pending > 1)
			qsort(ss->pending, ss->n_pending, sizeof(*ss->pending),
			    seq_cmp);
		ss->pending_stale = false;
	}
	*out = ss->pending;
	*n = ss->n_pending;
	return ORCH_OK;
}

/* replaced_by is only tested for being set: the id is not kept. */
static char replaced_marker[] = "(replaced)";

void
orch_stask_view(
    const struct orch_stask *t, orch_task *out, orch_task_spec *spec)
{
	orch__task__init(out);
	orch__task_spec__init(spec);
	out->id = (char *)t->id;
	out->has_status = true;
	out->status = (Orch__TaskStatus)t->status;
	out->node_id = has_text(t->node_id) ? (char *)t->node_id : NULL;
	out->service_id =
	    has_text(t->service_id) ? (char *)t->service_id : NULL;
	out->has_slot = t->slot > 0;
	out->slot = t->slot;
	out->has_restarts = true;
	out->restarts = t->restarts;
	out->has_stop_requested = true;
	out->stop_requested = t->stop_requested;
	out->has_lost = true;
	out->lost = t->lost;
	out->replaced_by = t->replaced ? replaced_marker : NULL;
	out->has_created_at_ms = t->created_at_ms != 0;
	out->created_at_ms = t->created_at_ms;
	out->has_started_at_ms = t->started_at_ms != 0;
	out->started_at_ms = t->started_at_ms;
	out->has_finished_at_ms = t->finished_at_ms != 0;
	out->finished_at_ms = t->finished_at_ms;
	out->has_not_before_ms = t->not_before_ms != 0;
	out->not_before_ms = t->not_before_ms;
	spec->name = t->name;
	spec->restart = t->restart[0] != '\0' ? (char *)t->restart : NULL;
	spec->has_cpu = true;
	spec->cpu = t->cpu;
	spec->has_memory_mb = true;
	spec->memory_mb = t->memory_mb;
	/* A replica's restart is its service's: a plain task's own. */
	out->spec = has_text(t->service_id) ? NULL : spec;
}
