/*
 * test_sched_state.c: the scheduler's memory of open tasks: records heard
 * from commits applied in order, per-node sums, the Pending queue in
 * submission order, services marked dirty only by changes the reconciler
 * cares about, tasks heard of without a record read again, a load from a
 * real store, and the shallow views handed to the reconciler.
 */
#include "error.h"
#include "harness.h"
#include "sched_state.h"
#include "store.h"
#include "task_fixture.h"

#define ST_PENDING ORCH__TASK_STATUS__TASK_STATUS_PENDING
#define ST_SCHEDULED ORCH__TASK_STATUS__TASK_STATUS_SCHEDULED
#define ST_RUNNING ORCH__TASK_STATUS__TASK_STATUS_RUNNING
#define ST_FAILED ORCH__TASK_STATUS__TASK_STATUS_FAILED
#define ST_COMPLETED ORCH__TASK_STATUS__TASK_STATUS_COMPLETED

#define NODE_A "aaaaaaaa-0000-4000-8000-000000000001"
#define NODE_B "bbbbbbbb-0000-4000-8000-000000000002"
#define SVC "cccccccc-0000-4000-8000-000000000003"

struct env {
	char *dir;
	struct orch_store *st;
	struct orch_store_reader *r;
	struct orch_sstate *ss;
};

static void
env_open(struct env *e)
{
	e->dir = h_tmpdir("sstate");
	ASSERT_INT_EQ(orch_store_open(e->dir, NULL, &e->st), ORCH_OK);
	ASSERT_INT_EQ(orch_store_reader_new(e->st, &e->r), ORCH_OK);
	ASSERT_INT_EQ(orch_sstate_new(&e->ss), ORCH_OK);
}

static void
env_close(struct env *e)
{
	orch_sstate_free(e->ss);
	orch_store_reader_free(e->r);
	orch_store_close(e->st);
	h_rm_rf(e->dir);
	free(e->dir);
}

/* A task of cpu and memory, Pending. */
static orch_task *
mk(const char *name, double cpu, int64_t mem)
{
	return tf_task_make(name, "busybox:1", NULL, NULL, mem, cpu);
}

static void
set(orch_task *t, int status, const char *node)
{
	t->has_status = true;
	t->status = (Orch__TaskStatus)status;
	ASSERT_INT_EQ(orch_str_set(&t->node_id, node), ORCH_OK);
}

static void
heard(struct env *e, const orch_task *t)
{
	orch_sstate_heard(e->ss, t->id, t);
}

static void
apply(struct env *e)
{
	ASSERT_INT_EQ(orch_sstate_apply(e->ss, e->r), ORCH_OK);
}

static const struct orch_snode *
node(struct env *e, const char *id)
{
	size_t n;
	struct orch_snode *v = orch_sstate_nodes(e->ss, &n);
	int i = orch_sstate_node_find(e->ss, id);

	ASSERT(i >= 0 && (size_t)i < n);
	return &v[i];
}

/* A plain task's life: Pending, placed, running, ended; the sums follow
 * it and it is forgotten once it needs nothing more. */
static void
test_life(void)
{
	struct env e;
	orch_task *t = mk("web", 0.5, 100), *u = mk("db", 1.0, 300);
	const struct orch_stask *const *p;
	size_t n;

	env_open(&e);
	heard(&e, t);
	heard(&e, u);
	apply(&e);
	ASSERT_INT_EQ((int)orch_sstate_count(e.ss), 2);
	ASSERT_INT_EQ(orch_sstate_pending(e.ss, &p, &n), ORCH_OK);
	ASSERT_INT_EQ((int)n, 2);
	/* Oldest first. */
	ASSERT_STR_EQ(p[0]->id, t->id);
	ASSERT_STR_EQ(p[1]->id, u->id);
	ASSERT_STR_EQ(p[0]->name, "web");
	ASSERT(p[0]->cpu == 0.5 && p[0]->memory_mb == 100);

	set(t, ST_SCHEDULED, NODE_A);
	set(u, ST_SCHEDULED, NODE_A);
	heard(&e, t);
	heard(&e, u);
	apply(&e);
	ASSERT_INT_EQ(orch_sstate_pending(e.ss, &p, &n), ORCH_OK);
	ASSERT_INT_EQ((int)n, 0);
	ASSERT(node(&e, NODE_A)->cpu_used == 1.5);
	ASSERT_INT_EQ((int)node(&e, NODE_A)->memory_mb_used, 400);
	ASSERT_INT_EQ((int)node(&e, NODE_A)->tasks, 2);

	/* Running holds the same; ending gives it back and forgets it. */
	set(t, ST_RUNNING, NODE_A);
	heard(&e, t);
	apply(&e);
	ASSERT_INT_EQ((int)node(&e, NODE_A)->memory_mb_used, 400);
	set(t, ST_COMPLETED, NODE_A);
	heard(&e, t);
	apply(&e);
	ASSERT_INT_EQ((int)node(&e, NODE_A)->memory_mb_used, 300);
	ASSERT_INT_EQ((int)node(&e, NODE_A)->tasks, 1);
	ASSERT(orch_sstate_task(e.ss, t->id) == NULL);
	ASSERT_INT_EQ((int)orch_sstate_count(e.ss), 1);
	ASSERT_INT_EQ((int)orch_sstate_plain_ended(e.ss), 0);

	/* A stop request takes it out of the queue, not off its node. */
	u->has_stop_requested = true;
	u->stop_requested = true;
	heard(&e, u);
	apply(&e);
	ASSERT_INT_EQ((int)node(&e, NODE_A)->tasks, 1);
	orch_task_free(t);
	orch_task_free(u);
	env_close(&e);
}

/* A failed plain task whose policy restarts it stays open, counted as
 * ended, until it is replaced. */
static void
test_plain_ended(void)
{
	struct env e;
	orch_task *t = mk("job", 0.1, 10);
	orch_task v;
	orch_task_spec spec;

	env_open(&e);
	ASSERT_INT_EQ(orch_str_set(&t->spec->restart, "on-failure:2"), ORCH_OK);
	set(t, ST_FAILED, NODE_B);
	t->has_started_at_ms = true;
	t->started_at_ms = 1000;
	heard(&e, t);
	apply(&e);
	ASSERT_INT_EQ((int)orch_sstate_plain_ended(e.ss), 1);
	/* It no longer holds its node. */
	ASSERT_INT_EQ((int)node(&e, NODE_B)->tasks, 0);
	orch_stask_view(orch_sstate_task(e.ss, t->id), &v, &spec);
	ASSERT_STR_EQ(v.id, t->id);
	ASSERT_INT_EQ((int)v.status, ST_FAILED);
	ASSERT_STR_EQ(v.node_id, NODE_B);
	ASSERT(v.spec == &spec && spec.restart != NULL);
	ASSERT_STR_EQ(spec.restart, "on-failure:2");
	ASSERT(v.has_started_at_ms && v.started_at_ms == 1000);
	ASSERT(!v.has_finished_at_ms);
	ASSERT(v.replaced_by == NULL);

	ASSERT_INT_EQ(orch_str_set(&t->replaced_by, "x"), ORCH_OK);
	heard(&e, t);
	apply(&e);
	ASSERT_INT_EQ((int)orch_sstate_plain_ended(e.ss), 0);
	ASSERT(orch_sstate_task(e.ss, t->id) == NULL);
	orch_task_free(t);
	env_close(&e);
}

/* A service is dirty when a replica is new, ends, is asked to stop or is
 * replaced; not when it is placed or starts. */
static void
test_dirty(void)
{
	struct env e;
	orch_task *t = mk("svc.1", 0.1, 10);
	orch_task v;
	orch_task_spec spec;

	env_open(&e);
	ASSERT(!orch_sstate_any_dirty(e.ss));
	ASSERT_INT_EQ(orch_str_set(&t->service_id, SVC), ORCH_OK);
	t->has_slot = true;
	t->slot = 1;
	heard(&e, t);
	apply(&e);
	ASSERT(orch_sstate_dirty(e.ss, SVC));
	ASSERT(!orch_sstate_dirty(e.ss, NODE_A));
	orch_sstate_dirty_clear(e.ss);

	set(t, ST_SCHEDULED, NODE_A);
	heard(&e, t);
	apply(&e);
	set(t, ST_RUNNING, NODE_A);
	heard(&e, t);
	apply(&e);
	ASSERT(!orch_sstate_any_dirty(e.ss));

	t->has_stop_requested = true;
	t->stop_requested = true;
	heard(&e, t);
	apply(&e);
	ASSERT(orch_sstate_dirty(e.ss, SVC));
	orch_sstate_dirty_clear(e.ss);

	/* A replica's view has no spec: its service's policy rules. */
	orch_stask_view(orch_sstate_task(e.ss, t->id), &v, &spec);
	ASSERT(v.spec == NULL);
	ASSERT_STR_EQ(v.service_id, SVC);
	ASSERT_INT_EQ((int)v.slot, 1);
	ASSERT(v.stop_requested);
	/* Its service's hash, which the reconciler's walks compare first:
	 * the same for the same id, another for another, 0 for none. */
	ASSERT(orch_sstate_task(e.ss, t->id)->service_hash ==
	    orch_stask_service_hash(SVC));
	ASSERT(orch_stask_service_hash(SVC) != orch_stask_service_hash(NODE_A));
	ASSERT(orch_stask_service_hash(SVC) != 0);
	ASSERT(orch_stask_service_hash("") == 0);

	orch_sstate_dirty_all(e.ss);
	ASSERT(orch_sstate_dirty(e.ss, "anything"));
	orch_task_free(t);
	env_close(&e);
}

/* Loaded from a real store; a task heard of without a record is read
 * again (and forgotten when absent); records queued before a load are
 * read again rather than applied over it. */
static void
test_load_and_gone(void)
{
	struct env e;
	orch_task *a = mk("a", 0.25, 64), *b = mk("b", 0.25, 64), *stale;
	char err[256], aid[ORCH_ID_LEN], bid[ORCH_ID_LEN];
	const struct orch_stask *const *p;
	size_t n;

	env_open(&e);
	snprintf(aid, sizeof(aid), "%s", a->id);
	snprintf(bid, sizeof(bid), "%s", b->id);
	/* A record of a as it will no longer be: Scheduled on A. */
	stale = mk("a", 0.25, 64);
	ASSERT_INT_EQ(orch_str_set(&stale->id, aid), ORCH_OK);
	set(stale, ST_SCHEDULED, NODE_A);
	heard(&e, stale);
	ASSERT_INT_EQ(
	    orch_store_task_insert_sync(e.st, a, NULL, err, sizeof(err)),
	    ORCH_OK);
	ASSERT_INT_EQ(
	    orch_store_task_insert_sync(e.st, b, NULL, err, sizeof(err)),
	    ORCH_OK);
	ASSERT_INT_EQ(orch_sstate_load(e.ss, e.r), ORCH_OK);
	ASSERT_INT_EQ((int)orch_sstate_count(e.ss), 2);
	ASSERT(orch_sstate_dirty(e.ss, SVC)); /* all, after a load */
	apply(&e);
	/* The store's word wins: a is Pending, on no node. */
	ASSERT_INT_EQ(orch_sstate_task(e.ss, aid)->status, ST_PENDING);
	ASSERT_INT_EQ(orch_sstate_task(e.ss, aid)->node, -1);
	ASSERT_INT_EQ(orch_sstate_pending(e.ss, &p, &n), ORCH_OK);
	ASSERT_INT_EQ((int)n, 2);
	ASSERT_STR_EQ(p[0]->id, aid);

	/* Gone from the store (as with a deleted service's tasks). */
	orch_sstate_heard(e.ss, "00000000-0000-4000-8000-000000000000", NULL);
	orch_sstate_heard(e.ss, bid, NULL);
	apply(&e);
	ASSERT_INT_EQ((int)orch_sstate_count(e.ss), 2);
	ASSERT(orch_sstate_task(e.ss, bid) != NULL);
	orch_task_free(stale);
	env_close(&e);
}

/* Many tasks: the table grows and finds every one. */
static void
test_many(void)
{
	struct env e;
	char ids[3000][ORCH_ID_LEN];
	const struct orch_stask *const *p;
	size_t n;

	env_open(&e);
	for (int i = 0; i < 3000; i++) {
		orch_task *t = mk("t", 0.0, 1);

		snprintf(ids[i], sizeof(ids[i]), "%s", t->id);
		heard(&e, t);
		orch_task_free(t);
	}
	apply(&e);
	ASSERT_INT_EQ((int)orch_sstate_count(e.ss), 3000);
	for (int i = 0; i < 3000; i++)
		ASSERT(orch_sstate_task(e.ss, ids[i]) != NULL);
	ASSERT_INT_EQ(orch_sstate_pending(e.ss, &p, &n), ORCH_OK);
	ASSERT_INT_EQ((int)n, 3000);
	for (size_t i = 0; i < n; i++)
		ASSERT_STR_EQ(p[i]->id, ids[i]);
	env_close(&e);
}

/* For test_pending_follows(): every open task, to list the Pending
 * ones the slow way. */
struct all_open {
	const struct orch_stask *v[256];
	size_t n;
};

static void
collect_open(void *arg, const struct orch_stask *t)
{
	struct all_open *a = arg;

	ASSERT(a->n < 256);
	a->v[a->n++] = t;
}

static int
by_seq(const void *x, const void *y)
{
	uint64_t a = (*(const struct orch_stask *const *)x)->seq;
	uint64_t b = (*(const struct orch_stask *const *)y)->seq;

	return a < b ? -1 : a > b;
}

/*
 * The Pending list, kept as tasks come and go, is always what a walk of
 * every task finds (Pending, no stop request, by seq): over random
 * changes, several applied at a time, of tasks that are created,
 * explained (still Pending), placed, put back to Pending, asked to stop,
 * ended and forgotten, or restarted Pending.
 */
static void
test_pending_follows(void)
{
	enum { NT = 40, STEPS = 3000 };
	struct env e;
	orch_task *t[NT] = {0};
	unsigned seed = 11;

	env_open(&e);
	for (int step = 0; step < STEPS; step++) {
		int i = rand_r(&seed) % NT, what = rand_r(&seed) % 7;
		const struct orch_stask *const *p;
		struct all_open all = {.n = 0};
		size_t n, k = 0;

		if (t[i] == NULL) {
			t[i] = mk("p", 0.1, 8);
		} else if (what == 0) {
			set(t[i], ST_SCHEDULED, NODE_A);
		} else if (what == 1) {
			set(t[i], ST_PENDING, NULL);
		} else if (what == 2) {
			ASSERT_INT_EQ(
			    orch_str_set(&t[i]->error, "no room"), ORCH_OK);
		} else if (what == 3) {
			t[i]->has_stop_requested = true;
			t[i]->stop_requested = !t[i]->stop_requested;
		} else if (what == 4) {
			set(t[i], ST_RUNNING, NODE_B);
		} else {
			/* Ended, no restart: forgotten; its slot gets a new
			 * task next time. */
			set(t[i], ST_COMPLETED, NODE_A);
		}
		heard(&e, t[i]);
		if (t[i]->status == ST_COMPLETED) {
			orch_task_free(t[i]);
			t[i] = NULL;
		}
		/* Several records at a time, as a pass finds them. */
		if (rand_r(&seed) % 3 != 0)
			continue;
		apply(&e);
		ASSERT_INT_EQ(orch_sstate_pending(e.ss, &p, &n), ORCH_OK);
		orch_sstate_each(e.ss, collect_open, &all);
		qsort(all.v, all.n, sizeof(all.v[0]), by_seq);
		for (size_t j = 0; j < all.n; j++) {
			if (all.v[j]->status != ST_PENDING ||
			    all.v[j]->stop_requested)
				continue;
			ASSERT(k < n);
			ASSERT(p[k] == all.v[j]);
			k++;
		}
		ASSERT_INT_EQ((int)k, (int)n);
	}
	for (int i = 0; i < NT; i++)
		orch_task_free(t[i]);
	env_close(&e);
}

int
main(void)
{
	RUN(test_life);
	RUN(test_plain_ended);
	RUN(test_dirty);
	RUN(test_load_and_gone);
	RUN(test_many);
	RUN(test_pending_follows);
	return 0;
}
