/*
 * test_reconciler.c: the reconciler's decisions on made-up inputs: a
 * service's slots filled, scaled up and down, failed replicas restarted
 * by policy and backoff, tasks of a Down node lost and replaced in the
 * same plan, replicas moved off drained nodes, replicas stopped on
 * request replaced, and plain tasks restarted by their own policy.
 */
#include "error.h"
#include "harness.h"
#include "reconciler.h"

#define PENDING ORCH__TASK_STATUS__TASK_STATUS_PENDING
#define SCHEDULED ORCH__TASK_STATUS__TASK_STATUS_SCHEDULED
#define RUNNING ORCH__TASK_STATUS__TASK_STATUS_RUNNING
#define COMPLETED ORCH__TASK_STATUS__TASK_STATUS_COMPLETED
#define FAILED ORCH__TASK_STATUS__TASK_STATUS_FAILED
#define STOPPED ORCH__TASK_STATUS__TASK_STATUS_STOPPED
#define N_READY ORCH__NODE_STATUS__NODE_STATUS_READY
#define N_NOT_READY ORCH__NODE_STATUS__NODE_STATUS_NOT_READY
#define N_DOWN ORCH__NODE_STATUS__NODE_STATUS_DOWN

/* ---- building inputs ---- */

#define MAX_T 32

struct world {
	orch_service svc;
	orch_task_spec svc_spec;
	orch_service *svcs[1];
	size_t n_svcs;
	orch_task t[MAX_T];
	orch_task_spec spec[MAX_T];
	char id[MAX_T][ORCH_ID_LEN];
	orch_task *tasks[MAX_T];
	size_t nt;
	struct orch_recon_node nodes[4];
	size_t nn;
	size_t max_actions;
	struct orch_recon_action *acts;
	size_t na;
};

static void
world_init(struct world *w, uint32_t replicas, const char *restart)
{
	memset(w, 0, sizeof(*w));
	orch__service__init(&w->svc);
	orch__task_spec__init(&w->svc_spec);
	w->svc_spec.name = "web";
	w->svc_spec.image = "img";
	w->svc_spec.restart = (char *)restart;
	w->svc.id = "5e5e5e5e-0000-4000-8000-000000000000";
	w->svc.name = "web";
	w->svc.spec = &w->svc_spec;
	w->svc.has_replicas = true;
	w->svc.replicas = replicas;
	w->svcs[0] = &w->svc;
	w->n_svcs = 1;
	w->nodes[0] = (struct orch_recon_node){"n-a", "a", N_READY, false};
	w->nodes[1] = (struct orch_recon_node){"n-b", "b", N_READY, false};
	w->nn = 2;
}

/* Adds a task (a replica of slot, or plain when slot is 0) with status
 * on node (NULL: none).  Returns it for more settings. */
static orch_task *
add(struct world *w, uint32_t slot, int status, const char *node)
{
	size_t i = w->nt++;
	orch_task *t = &w->t[i];

	ASSERT(i < MAX_T);
	orch__task__init(t);
	orch__task_spec__init(&w->spec[i]);
	snprintf(w->id[i], ORCH_ID_LEN, "0000000%zx-0000-4000-8000-%012zx",
	    i % 16, i);
	t->id = w->id[i];
	t->spec = &w->spec[i];
	w->spec[i].name = "t";
	w->spec[i].image = "img";
	t->has_status = true;
	t->status = status;
	t->node_id = (char *)node;
	if (slot > 0) {
		t->service_id = w->svc.id;
		t->has_slot = true;
		t->slot = slot;
		w->spec[i].service = "web";
	}
	w->tasks[i] = t;
	return t;
}

static void
plan(struct world *w)
{
	struct orch_recon_input in = {
	    .services = w->svcs,
	    .n_services = w->n_svcs,
	    .tasks = w->tasks,
	    .n_tasks = w->nt,
	    .nodes = w->nodes,
	    .n_nodes = w->nn,
	    .max_actions = w->max_actions,
	};

	free(w->acts);
	w->acts = NULL;
	ASSERT_INT_EQ(orch_recon_plan(&in, &w->acts, &w->na), ORCH_OK);
}

/* The action of kind on task t (NULL: a CREATE of slot), or NULL. */
static const struct orch_recon_action *
find(const struct world *w, enum orch_recon_kind kind, const orch_task *t,
    uint32_t slot)
{
	for (size_t i = 0; i < w->na; i++) {
		const struct orch_recon_action *a = &w->acts[i];

		if (a->kind != kind)
			continue;
		if (t != NULL ? a->task == t : a->slot == slot)
			return a;
	}
	return NULL;
}

static void
world_fini(struct world *w)
{
	free(w->acts);
}

/* ---- services ---- */

static void
test_fill_and_scale(void)
{
	struct world w;
	orch_task *t1, *t2, *t3;

	/* A new service: one replica per slot. */
	world_init(&w, 3, "always");
	plan(&w);
	ASSERT_INT_EQ(w.na, 3);
	for (uint32_t s = 1; s <= 3; s++) {
		const struct orch_recon_action *a =
		    find(&w, ORCH_RECON_CREATE, NULL, s);

		ASSERT(a != NULL);
		ASSERT(a->service == &w.svc);
		ASSERT_INT_EQ(a->restarts, 0);
	}
	/* Running, waiting or being placed: each slot is filled. */
	t1 = add(&w, 1, RUNNING, "n-a");
	t2 = add(&w, 2, PENDING, NULL);
	t3 = add(&w, 3, SCHEDULED, "n-b");
	plan(&w);
	ASSERT_INT_EQ(w.na, 0);
	/* Up to 5: two more, slots 4 and 5. */
	w.svc.replicas = 5;
	plan(&w);
	ASSERT_INT_EQ(w.na, 2);
	ASSERT(find(&w, ORCH_RECON_CREATE, NULL, 4) != NULL);
	ASSERT(find(&w, ORCH_RECON_CREATE, NULL, 5) != NULL);
	/* Down to 1: the highest slots stop. */
	w.svc.replicas = 1;
	plan(&w);
	ASSERT_INT_EQ(w.na, 2);
	ASSERT(find(&w, ORCH_RECON_STOP, t2, 0) != NULL);
	ASSERT(find(&w, ORCH_RECON_STOP, t3, 0) != NULL);
	ASSERT(find(&w, ORCH_RECON_STOP, t1, 0) == NULL);
	/* Once asked to stop they are left alone; 0 stops the last. */
	t2->stop_requested = true;
	t3->stop_requested = true;
	plan(&w);
	ASSERT_INT_EQ(w.na, 0);
	w.svc.replicas = 0;
	plan(&w);
	ASSERT_INT_EQ(w.na, 1);
	ASSERT(find(&w, ORCH_RECON_STOP, t1, 0) != NULL);
	/* Tasks of a service that is gone are left to its deletion. */
	w.n_svcs = 0;
	plan(&w);
	ASSERT_INT_EQ(w.na, 0);
	world_fini(&w);
}

static void
test_duplicate_in_slot(void)
{
	struct world w;
	orch_task *old, *dup;

	world_init(&w, 1, "always");
	old = add(&w, 1, RUNNING, "n-a");
	dup = add(&w, 1, RUNNING, "n-b");
	plan(&w);
	ASSERT_INT_EQ(w.na, 1);
	/* The newer goes; the older keeps running. */
	ASSERT(find(&w, ORCH_RECON_STOP, dup, 0) != NULL);
	(void)old;
	world_fini(&w);
}

static void
test_restart_policies(void)
{
	struct world w;
	const struct orch_recon_action *a;
	orch_task *t;

	/* always: a failed replica is replaced, restarts + 1, after the
	 * first backoff. */
	world_init(&w, 1, "always");
	t = add(&w, 1, FAILED, "n-a");
	plan(&w);
	ASSERT_INT_EQ(w.na, 1);
	a = find(&w, ORCH_RECON_REPLACE, t, 0);
	ASSERT(a != NULL);
	ASSERT_INT_EQ(a->restarts, 1);
	ASSERT_INT_EQ(a->delay_ms, 1000);
	ASSERT(!a->stop_old);
	ASSERT(a->service == &w.svc);
	/* ... and one that completed too. */
	t->status = COMPLETED;
	plan(&w);
	ASSERT(find(&w, ORCH_RECON_REPLACE, t, 0) != NULL);
	/* Once replaced, the slot's history is done with it. */
	t->replaced_by = "11111111-0000-4000-8000-000000000000";
	plan(&w);
	ASSERT_INT_EQ(w.na, 1);
	ASSERT(find(&w, ORCH_RECON_CREATE, NULL, 1) != NULL);
	world_fini(&w);

	/* on-failure:2: restarts 0 and 1 are replaced, 2 is the last. */
	world_init(&w, 1, "on-failure:2");
	t = add(&w, 1, FAILED, "n-a");
	t->restarts = 1;
	t->has_created_at_ms = true;
	t->created_at_ms = 5000;
	t->has_not_before_ms = true;
	t->not_before_ms = 6000; /* it waited 1 s */
	plan(&w);
	a = find(&w, ORCH_RECON_REPLACE, t, 0);
	ASSERT(a != NULL);
	ASSERT_INT_EQ(a->restarts, 2);
	ASSERT_INT_EQ(a->delay_ms, 2000);
	t->restarts = 2;
	plan(&w);
	ASSERT_INT_EQ(w.na, 0);
	/* A completed one is not a failure. */
	t->restarts = 0;
	t->status = COMPLETED;
	plan(&w);
	ASSERT_INT_EQ(w.na, 0);
	world_fini(&w);

	/* never: the slot stays empty. */
	world_init(&w, 1, "never");
	add(&w, 1, FAILED, "n-a");
	plan(&w);
	ASSERT_INT_EQ(w.na, 0);
	world_fini(&w);
}

static void
test_stopped_on_request(void)
{
	struct world w;
	const struct orch_recon_action *a;
	orch_task *t;

	/* A person stopped a replica (still stopping): a new one at once,
	 * restarts unchanged, even under never. */
	world_init(&w, 1, "never");
	t = add(&w, 1, RUNNING, "n-a");
	t->stop_requested = true;
	t->restarts = 3;
	plan(&w);
	ASSERT_INT_EQ(w.na, 1);
	a = find(&w, ORCH_RECON_REPLACE, t, 0);
	ASSERT(a != NULL);
	ASSERT_INT_EQ(a->restarts, 3);
	ASSERT_INT_EQ(a->delay_ms, 0);
	ASSERT(!a->stop_old);
	/* And once it is Stopped. */
	t->status = STOPPED;
	plan(&w);
	ASSERT(find(&w, ORCH_RECON_REPLACE, t, 0) != NULL);
	world_fini(&w);
}

static void
test_lost(void)
{
	struct world w;
	const struct orch_recon_action *a;
	orch_task *on_b, *on_a, *plain, *plain_never, *stopping;

	world_init(&w, 2, "on-failure:1");
	on_a = add(&w, 1, RUNNING, "n-a");
	on_b = add(&w, 2, RUNNING, "n-b");
	plain = add(&w, 0, SCHEDULED, "n-b");
	w.spec[2].restart = "on-failure";
	plain_never = add(&w, 0, RUNNING, "n-b");
	stopping = add(&w, 0, RUNNING, "n-b");
	stopping->stop_requested = true;
	w.spec[4].restart = "always";
	/* NotReady (a manager that just started): nothing yet. */
	w.nodes[1].status = N_NOT_READY;
	plan(&w);
	ASSERT_INT_EQ(w.na, 0);
	/* Down: every task there is lost... */
	w.nodes[1].status = N_DOWN;
	plan(&w);
	for (size_t i = 1; i < 5; i++) {
		a = find(&w, ORCH_RECON_LOST, w.tasks[i], 0);
		ASSERT(a != NULL);
		ASSERT_STR_EQ(a->node_name, "b");
		ASSERT_STR_EQ(a->why, "node b lost");
	}
	/* ... LOST first, so that they are written before what follows ... */
	for (size_t i = 0; i < 4; i++)
		ASSERT_INT_EQ(w.acts[i].kind, ORCH_RECON_LOST);
	/* ... and replaced in the same plan, at once, where asked. */
	a = find(&w, ORCH_RECON_REPLACE, on_b, 0);
	ASSERT(a != NULL);
	ASSERT_INT_EQ(a->delay_ms, 0);
	ASSERT_INT_EQ(a->restarts, 1);
	a = find(&w, ORCH_RECON_REPLACE, plain, 0);
	ASSERT(a != NULL);
	ASSERT(a->service == NULL);
	ASSERT_INT_EQ(a->delay_ms, 0);
	ASSERT(find(&w, ORCH_RECON_REPLACE, plain_never, 0) == NULL);
	/* A task asked to stop is not restarted. */
	ASSERT(find(&w, ORCH_RECON_REPLACE, stopping, 0) == NULL);
	ASSERT(find(&w, ORCH_RECON_LOST, on_a, 0) == NULL);
	ASSERT_INT_EQ(w.na, 6);
	world_fini(&w);
}

/* A plan holds at most max_actions, LOST first; the next plan, over
 * what the writes left, decides the rest. */
static void
test_max_actions(void)
{
	struct world w;
	orch_task *lost1, *lost2;

	world_init(&w, 10, "always");
	lost1 = add(&w, 0, RUNNING, "n-b");
	lost2 = add(&w, 0, RUNNING, "n-b");
	w.nodes[1].status = N_DOWN;
	w.max_actions = 3;
	plan(&w);
	ASSERT_INT_EQ(w.na, 3);
	ASSERT(find(&w, ORCH_RECON_LOST, lost1, 0) != NULL);
	ASSERT(find(&w, ORCH_RECON_LOST, lost2, 0) != NULL);
	ASSERT(find(&w, ORCH_RECON_CREATE, NULL, 1) != NULL);
	/* Written: the two are Failed, slot 1 runs.  Slots 2 to 4 next. */
	lost1->status = FAILED;
	lost2->status = FAILED;
	add(&w, 1, PENDING, NULL);
	plan(&w);
	ASSERT_INT_EQ(w.na, 3);
	for (uint32_t s = 2; s <= 4; s++)
		ASSERT(find(&w, ORCH_RECON_CREATE, NULL, s) != NULL);
	/* Without a cap, all nine at once. */
	w.max_actions = 0;
	plan(&w);
	ASSERT_INT_EQ(w.na, 9);
	world_fini(&w);
}

static void
test_drain(void)
{
	struct world w;
	const struct orch_recon_action *a;
	orch_task *r1, *r2, *plain;

	world_init(&w, 2, "always");
	r1 = add(&w, 1, RUNNING, "n-a");
	r2 = add(&w, 2, RUNNING, "n-b");
	plain = add(&w, 0, RUNNING, "n-b");
	w.nodes[1].drain = true;
	plan(&w);
	/* The replica moves: a new one elsewhere, a stop for the old;
	 * the plain task stays. */
	ASSERT_INT_EQ(w.na, 1);
	a = find(&w, ORCH_RECON_REPLACE, r2, 0);
	ASSERT(a != NULL);
	ASSERT(a->stop_old);
	ASSERT_INT_EQ(a->delay_ms, 0);
	ASSERT_STR_EQ(a->why, "node b is drained");
	(void)r1;
	(void)plain;
	/* Once the move is written, nothing more. */
	r2->stop_requested = true;
	r2->replaced_by = "11111111-0000-4000-8000-000000000000";
	add(&w, 2, PENDING, NULL);
	plan(&w);
	ASSERT_INT_EQ(w.na, 0);
	world_fini(&w);
}

static void
test_plain_tasks(void)
{
	struct world w;
	const struct orch_recon_action *a;
	orch_task *t;

	world_init(&w, 0, "always");
	w.n_svcs = 0;
	t = add(&w, 0, FAILED, "n-a");
	plan(&w);
	ASSERT_INT_EQ(w.na, 0); /* no policy: never */
	w.spec[0].restart = "on-failure:2";
	plan(&w);
	a = find(&w, ORCH_RECON_REPLACE, t, 0);
	ASSERT(a != NULL);
	ASSERT(a->service == NULL);
	ASSERT_INT_EQ(a->restarts, 1);
	ASSERT_INT_EQ(a->delay_ms, 1000);
	t->restarts = 2;
	plan(&w);
	ASSERT_INT_EQ(w.na, 0);
	t->restarts = 0;
	t->replaced_by = "x";
	plan(&w);
	ASSERT_INT_EQ(w.na, 0);
	t->replaced_by = NULL;
	t->stop_requested = true;
	t->status = STOPPED;
	plan(&w);
	ASSERT_INT_EQ(w.na, 0);
	world_fini(&w);
}

int
main(void)
{
	RUN(test_fill_and_scale);
	RUN(test_duplicate_in_slot);
	RUN(test_restart_policies);
	RUN(test_stopped_on_request);
	RUN(test_lost);
	RUN(test_max_actions);
	RUN(test_drain);
	RUN(test_plain_tasks);
	return 0;
}
