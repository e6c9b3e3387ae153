/*
 * test_nodes.c: the registry of node liveness: Ready, Down after the TTL,
 * NotReady for nodes known from the store until a grace period ends, the
 * watcher and the transition listener, the heartbeat interval, the live
 * fields of a node, and the health of its drivers.
 */
#include "clock.h"
#include "error.h"
#include "fake_agent.h"
#include "harness.h"
#include "nodes.h"
#include "store.h"

#define READY ORCH__NODE_STATUS__NODE_STATUS_READY
#define NOT_READY ORCH__NODE_STATUS__NODE_STATUS_NOT_READY
#define DOWN ORCH__NODE_STATUS__NODE_STATUS_DOWN

static const char ID_A[] = "aaaaaaaa-0000-4000-8000-000000000001";
static const char ID_B[] = "bbbbbbbb-0000-4000-8000-000000000002";

struct node_st {
	struct orch_nodes *ns;
	const char *id;
	int status;
};

static bool
node_is(void *arg)
{
	struct node_st *n = arg;

	return orch_nodes_status(n->ns, n->id, NULL) == n->status;
}

static int changes;

static void
count_change(void *arg)
{
	(void)arg;
	changes++;
}

static void
test_ready_then_down(void)
{
	struct orch_nodes *ns;
	struct node_st want;
	int64_t last, before = orch_now_ms();

	ASSERT_INT_EQ(orch_nodes_new(100, &ns), ORCH_OK);
	orch_nodes_watch(ns, count_change, NULL);
	changes = 0;
	/* Unknown: NotReady, never heard from; a beat is refused. */
	ASSERT_INT_EQ(orch_nodes_status(ns, ID_A, &last), NOT_READY);
	ASSERT_INT_EQ(last, -1);
	ASSERT_INT_EQ(orch_nodes_beat(ns, ID_A, NULL, 0), ORCH_ENOENT);

	/* Registered: Ready at once, and the watcher heard of it. */
	ASSERT_INT_EQ(orch_nodes_seen(ns, ID_A, "a", NULL, 0), ORCH_OK);
	ASSERT_INT_EQ(orch_nodes_status(ns, ID_A, &last), READY);
	ASSERT(last >= before && last <= orch_now_ms());
	ASSERT_INT_EQ(changes, 1);
	/* Beats of a Ready node are not news. */
	ASSERT_INT_EQ(orch_nodes_beat(ns, ID_A, NULL, 0), ORCH_OK);
	ASSERT_INT_EQ(changes, 1);

	/* Silent past the TTL: Down; the sweep tells the watcher. */
	want = (struct node_st){ns, ID_A, DOWN};
	ASSERT(h_wait_until(node_is, &want, 10000));
	orch_nodes_sweep(ns);
	ASSERT_INT_EQ(changes, 2);
	orch_nodes_sweep(ns);
	ASSERT_INT_EQ(changes, 2);
	/* The time of the last beat stays for display. */
	orch_nodes_status(ns, ID_A, &last);
	ASSERT(last >= before);

	/* A beat brings it back. */
	ASSERT_INT_EQ(orch_nodes_beat(ns, ID_A, NULL, 0), ORCH_OK);
	ASSERT_INT_EQ(orch_nodes_status(ns, ID_A, NULL), READY);
	ASSERT_INT_EQ(changes, 3);

	/* Down and back between two sweeps still counts as news. */
	want = (struct node_st){ns, ID_A, DOWN};
	ASSERT(h_wait_until(node_is, &want, 10000));
	ASSERT_INT_EQ(orch_nodes_beat(ns, ID_A, NULL, 0), ORCH_OK);
	ASSERT_INT_EQ(changes, 4);

	/* Cleared, the watcher is not called. */
	orch_nodes_watch(ns, NULL, NULL);
	ASSERT_INT_EQ(orch_nodes_seen(ns, ID_B, "b", NULL, 0), ORCH_OK);
	ASSERT_INT_EQ(changes, 4);
	orch_nodes_free(ns);
}

static void
test_known_from_store(void)
{
	char *dir = h_tmpdir("nodes");
	struct orch_store *st = NULL;
	struct orch_store_reader *r = NULL;
	struct orch_nodes *ns;
	Orch__NodeRegistration reg = ORCH__NODE_REGISTRATION__INIT;
	orch_node *n = NULL, **list = NULL;
	struct node_st want;
	char err[256], *id;
	size_t nl = 0;

	ASSERT_INT_EQ(orch_store_open(dir, NULL, &st), ORCH_OK);
	reg.name = "a";
	reg.has_cpu = true;
	reg.cpu = 2;
	reg.has_memory_mb = true;
	reg.memory_mb = 1024;
	ASSERT_INT_EQ(
	    orch_store_node_register_sync(st, &reg, &n, err, sizeof(err)),
	    ORCH_OK);
	id = strdup(n->id);
	orch_node_free(n);
	ASSERT_INT_EQ(orch_store_reader_new(st, &r), ORCH_OK);

	/* As after a restart: known, not heard from. */
	ASSERT_INT_EQ(orch_nodes_new(200, &ns), ORCH_OK);
	ASSERT_INT_EQ(orch_nodes_load(ns, r), ORCH_OK);
	ASSERT_INT_EQ(orch_nodes_status(ns, id, NULL), NOT_READY);
	/* Its heartbeat is accepted: the agent need not register again. */
	ASSERT_INT_EQ(orch_nodes_beat(ns, id, NULL, 0), ORCH_OK);
	ASSERT_INT_EQ(orch_nodes_status(ns, id, NULL), READY);
	orch_nodes_free(ns);

	/* One that never checks in is Down after the grace period. */
	ASSERT_INT_EQ(orch_nodes_new(100, &ns), ORCH_OK);
	ASSERT_INT_EQ(orch_nodes_load(ns, r), ORCH_OK);
	want = (struct node_st){ns, id, DOWN};
	ASSERT(h_wait_until(node_is, &want, 10000));

	/* The live fields, read through the registry. */
	ASSERT_INT_EQ(orch_nodes_read(ns, r, &list, &nl), ORCH_OK);
	ASSERT_INT_EQ(nl, 1);
	ASSERT_STR_EQ(list[0]->name, "a");
	ASSERT(list[0]->has_status);
	ASSERT_INT_EQ(list[0]->status, DOWN);
	ASSERT(!list[0]->has_last_heartbeat_ms);
	ASSERT(list[0]->has_task_count && list[0]->task_count == 0);
	ASSERT(list[0]->has_allocated_cpu && list[0]->allocated_cpu == 0.0);
	orch_store_node_list_free(list, nl);
	ASSERT_INT_EQ(orch_nodes_beat(ns, id, NULL, 0), ORCH_OK);
	ASSERT_INT_EQ(orch_nodes_read_one(ns, r, "a", &n), ORCH_OK);
	ASSERT_INT_EQ(n->status, READY);
	ASSERT(n->has_last_heartbeat_ms && n->last_heartbeat_ms > 0);
	orch_node_free(n);
	ASSERT_INT_EQ(orch_nodes_read_one(ns, r, "nope", &n), ORCH_ENOENT);
	orch_nodes_free(ns);

	orch_store_reader_free(r);
	orch_store_close(st);
	free(id);
	h_rm_rf(dir);
	free(dir);
}

static void
test_heartbeat_interval(void)
{
	struct orch_nodes *ns;

	ASSERT_INT_EQ(orch_nodes_new(5000, &ns), ORCH_OK);
	ASSERT_INT_EQ(orch_nodes_heartbeat_ms(ns), 1000);
	orch_nodes_free(ns);
	ASSERT_INT_EQ(orch_nodes_new(1000, &ns), ORCH_OK);
	ASSERT_INT_EQ(orch_nodes_heartbeat_ms(ns), 333);
	orch_nodes_free(ns);
	ASSERT_INT_EQ(orch_nodes_new(100, &ns), ORCH_OK);
	ASSERT_INT_EQ(orch_nodes_heartbeat_ms(ns), 100);
	orch_nodes_free(ns);
}

static void
test_fill(void)
{
	struct orch_nodes *ns;
	Orch__Node n = ORCH__NODE__INIT;
	struct orch_node_usage u[2];

	memset(u, 0, sizeof(u));
	memcpy(u[0].node_id, ID_B, ORCH_ID_LEN);
	u[0].cpu = 9;
	memcpy(u[1].node_id, ID_A, ORCH_ID_LEN);
	u[1].cpu = 0.1 + 0.2;
	u[1].memory_mb = 768;
	u[1].tasks = 2;
	ASSERT_INT_EQ(orch_nodes_new(1000, &ns), ORCH_OK);
	n.id = (char *)ID_A;
	orch_nodes_fill(ns, &n, u, 2);
	ASSERT(n.allocated_cpu == 0.3);
	ASSERT_INT_EQ(n.allocated_memory_mb, 768);
	ASSERT_INT_EQ(n.task_count, 2);
	ASSERT_INT_EQ(n.status, NOT_READY);
	orch_nodes_free(ns);
}

/* Versions of assignments: a change to one node's moves its version
 * alone; a change to any moves every node's; the epoch stays. */
static void
test_assign_versions(void)
{
	struct orch_nodes *ns, *other;
	uint64_t e0, a0, b0, e1, a1, b1, e2, a2, b2, eo, vo;

	ASSERT_INT_EQ(orch_nodes_new(1000, &ns), ORCH_OK);
	ASSERT_INT_EQ(orch_nodes_seen(ns, ID_A, "a", NULL, 0), ORCH_OK);
	ASSERT_INT_EQ(orch_nodes_seen(ns, ID_B, "b", NULL, 0), ORCH_OK);
	orch_nodes_assign_version(ns, ID_A, &e0, &a0);
	orch_nodes_assign_version(ns, ID_B, &e0, &b0);
	ASSERT(e0 != 0);
	orch_nodes_assign_changed(ns, ID_A, NULL);
	orch_nodes_assign_version(ns, ID_A, &e1, &a1);
	orch_nodes_assign_version(ns, ID_B, &e1, &b1);
	ASSERT(e1 == e0 && a1 > a0 && b1 == b0);
	orch_nodes_assign_changed(ns, NULL, NULL);
	orch_nodes_assign_version(ns, ID_A, &e2, &a2);
	orch_nodes_assign_version(ns, ID_B, &e2, &b2);
	ASSERT(a2 > a1 && b2 > b1);
	/* Another registry (a restarted manager) has another epoch. */
	ASSERT_INT_EQ(orch_nodes_new(1000, &other), ORCH_OK);
	orch_nodes_assign_version(other, ID_A, &eo, &vo);
	ASSERT(eo != e0);
	orch_nodes_free(other);
	orch_nodes_free(ns);
}

#define TASK_X "11111111-0000-4000-8000-00000000000x"

/* Deltas: the tasks of a node that changed after a version, each once;
 * none when they are not all remembered. */
static void
test_assign_delta(void)
{
	struct orch_nodes *ns;
	char ids[ORCH_NODES_DELTA_MAX][ORCH_ID_LEN], tid[ORCH_ID_LEN];
	uint64_t e, v0, v1, v2, ve, vv;
	size_t n;

	ASSERT_INT_EQ(orch_nodes_new(1000, &ns), ORCH_OK);
	/* An unknown node: no delta. */
	ASSERT_INT_EQ(orch_nodes_assign_delta(
	                  ns, ID_A, 0, ids, ORCH_NODES_DELTA_MAX, &n, &e, &v0),
	    ORCH_ENOENT);
	ASSERT_INT_EQ(orch_nodes_seen(ns, ID_A, "a", NULL, 0), ORCH_OK);
	ASSERT_INT_EQ(orch_nodes_seen(ns, ID_B, "b", NULL, 0), ORCH_OK);
	orch_nodes_assign_version(ns, ID_A, &e, &v0);
	/* Nothing since v0: an empty delta at v0. */
	ASSERT_INT_EQ(orch_nodes_assign_delta(ns, ID_A, v0, ids,
	                  ORCH_NODES_DELTA_MAX, &n, &ve, &vv),
	    ORCH_OK);
	ASSERT(n == 0 && ve == e && vv == v0);
	orch_nodes_assign_changed(ns, ID_A, "t-1");
	orch_nodes_assign_changed(ns, ID_B, "t-b");
	orch_nodes_assign_changed(ns, ID_A, "t-2");
	orch_nodes_assign_changed(ns, ID_A, "t-1");
	orch_nodes_assign_version(ns, ID_A, &e, &v1);
	ASSERT_INT_EQ(orch_nodes_assign_delta(ns, ID_A, v0, ids,
	                  ORCH_NODES_DELTA_MAX, &n, &ve, &vv),
	    ORCH_OK);
	ASSERT_INT_EQ(n, 2);
	ASSERT_STR_EQ(ids[0], "t-1");
	ASSERT_STR_EQ(ids[1], "t-2");
	ASSERT(vv == v1);
	/* More than max: none. */
	ASSERT_INT_EQ(
	    orch_nodes_assign_delta(ns, ID_A, v0, ids, 1, &n, &ve, &vv),
	    ORCH_ENOENT);
	/* A version from the future (another registry's): none. */
	ASSERT_INT_EQ(orch_nodes_assign_delta(ns, ID_A, v1 + 100, ids,
	                  ORCH_NODES_DELTA_MAX, &n, &ve, &vv),
	    ORCH_ENOENT);
	/* The ring forgets the oldest: deltas from before them are off,
	 * from after them still on. */
	for (int i = 0; i < ORCH_NODES_DELTA_MAX; i++) {
		snprintf(tid, sizeof(tid), "t-%d", 100 + i);
		orch_nodes_assign_changed(ns, ID_A, tid);
	}
	orch_nodes_assign_version(ns, ID_A, &e, &v2);
	ASSERT_INT_EQ(orch_nodes_assign_delta(ns, ID_A, v0, ids,
	                  ORCH_NODES_DELTA_MAX, &n, &ve, &vv),
	    ORCH_ENOENT);
	ASSERT_INT_EQ(orch_nodes_assign_delta(ns, ID_A, v1, ids,
	                  ORCH_NODES_DELTA_MAX, &n, &ve, &vv),
	    ORCH_OK);
	ASSERT_INT_EQ(n, ORCH_NODES_DELTA_MAX);
	/* A change without a task id, or to every node: none across it. */
	orch_nodes_assign_changed(ns, ID_A, NULL);
	ASSERT_INT_EQ(orch_nodes_assign_delta(ns, ID_A, v2, ids,
	                  ORCH_NODES_DELTA_MAX, &n, &ve, &vv),
	    ORCH_ENOENT);
	orch_nodes_assign_version(ns, ID_B, &e, &v1);
	orch_nodes_assign_changed(ns, NULL, NULL);
	ASSERT_INT_EQ(orch_nodes_assign_delta(ns, ID_B, v1, ids,
	                  ORCH_NODES_DELTA_MAX, &n, &ve, &vv),
	    ORCH_ENOENT);
	orch_nodes_assign_version(ns, ID_B, &e, &v2);
	orch_nodes_assign_changed(ns, ID_B, TASK_X);
	ASSERT_INT_EQ(orch_nodes_assign_delta(ns, ID_B, v2, ids,
	                  ORCH_NODES_DELTA_MAX, &n, &ve, &vv),
	    ORCH_OK);
	ASSERT_INT_EQ(n, 1);
	ASSERT_STR_EQ(ids[0], TASK_X);
	orch_nodes_free(ns);
}

/* Driver health: kept from each report (unhealthy drivers only, the
 * first entry of a name counting), with the time it turned unhealthy
 * kept while it stays so; a change wakes the watcher, a repeat does not;
 * filled into a node per driver it lists; a report that lists nothing
 * means healthy. */
static void
test_driver_health(void)
{
	Orch__DriverHealth d1 = fa_driver_health("docker", false, "refused"),
	                   d2 = fa_driver_health("docker", false, "gone"),
	                   dup = fa_driver_health("docker", true, NULL),
	                   ex = fa_driver_health("exec", true, NULL);
	Orch__DriverHealth *r1[] = {&ex, &d1, &dup}, *r2[] = {&d2};
	struct orch_driver_health out[4];
	char *drivers[] = {"docker", "exec"};
	Orch__Node n = ORCH__NODE__INIT;
	struct orch_nodes *ns;
	int64_t since, before = orch_now_ms();
	char err[256];

	ASSERT_INT_EQ(orch_nodes_new(60000, &ns), ORCH_OK);
	orch_nodes_watch(ns, count_change, NULL);
	ASSERT_INT_EQ(orch_nodes_seen(ns, ID_A, "a", NULL, 0), ORCH_OK);
	ASSERT_INT_EQ(orch_nodes_unhealthy(ns, ID_A, out, 4), 0);
	changes = 0;
	ASSERT_INT_EQ(orch_nodes_beat(ns, ID_A, r1, 3), ORCH_OK);
	ASSERT_INT_EQ(changes, 1);
	ASSERT_INT_EQ(orch_nodes_unhealthy(ns, ID_A, out, 4), 1);
	ASSERT_STR_EQ(out[0].name, "docker");
	ASSERT_STR_EQ(out[0].error, "refused");
	ASSERT(out[0].since_ms >= before && out[0].since_ms <= orch_now_ms());
	since = out[0].since_ms;
	/* The same report: nothing to tell the scheduler. */
	ASSERT_INT_EQ(orch_nodes_beat(ns, ID_A, r1, 3), ORCH_OK);
	ASSERT_INT_EQ(changes, 1);
	/* Another reason: the same time it turned unhealthy. */
	ASSERT_INT_EQ(orch_nodes_beat(ns, ID_A, r2, 1), ORCH_OK);
	ASSERT_INT_EQ(changes, 2);
	ASSERT_INT_EQ(orch_nodes_unhealthy(ns, ID_A, out, 4), 1);
	ASSERT_STR_EQ(out[0].error, "gone");
	ASSERT_INT_EQ(out[0].since_ms, since);
	/* Filled in per driver of the node, in its order. */
	n.id = (char *)ID_A;
	n.drivers = drivers;
	n.n_drivers = 2;
	ASSERT_INT_EQ(orch_nodes_fill(ns, &n, NULL, 0), ORCH_OK);
	ASSERT_INT_EQ(n.n_driver_health, 2);
	ASSERT_STR_EQ(n.driver_health[0]->name, "docker");
	ASSERT(n.driver_health[0]->has_healthy && !n.driver_health[0]->healthy);
	ASSERT_STR_EQ(n.driver_health[0]->error, "gone");
	ASSERT_INT_EQ(n.driver_health[0]->since_ms, since);
	ASSERT_STR_EQ(n.driver_health[1]->name, "exec");
	ASSERT(
	    n.driver_health[1]->healthy && n.driver_health[1]->error == NULL);
	for (size_t i = 0; i < n.n_driver_health; i++)
		orch__driver_health__free_unpacked(n.driver_health[i], NULL);
	free(n.driver_health);
	/* Nothing listed: healthy again; the unknown node has nothing. */
	ASSERT_INT_EQ(orch_nodes_beat(ns, ID_A, NULL, 0), ORCH_OK);
	ASSERT_INT_EQ(changes, 3);
	ASSERT_INT_EQ(orch_nodes_unhealthy(ns, ID_A, out, 4), 0);
	ASSERT_INT_EQ(orch_nodes_unhealthy(ns, ID_B, out, 4), 0);
	/* A registration carries it as well; a beat of an unknown node is
	 * refused with its report. */
	ASSERT_INT_EQ(orch_nodes_seen(ns, ID_B, "b", r2, 1), ORCH_OK);
	ASSERT_INT_EQ(orch_nodes_unhealthy(ns, ID_B, out, 4), 1);
	ASSERT_INT_EQ(
	    orch_nodes_beat(ns, "cccccccc-0000-4000-8000-000000000003", r2, 1),
	    ORCH_ENOENT);
	orch_nodes_watch(ns, NULL, NULL);
	orch_nodes_free(ns);

	/* What the manager accepts from an agent. */
	ASSERT_INT_EQ(
	    orch_node_health_validate(r1, 3, err, sizeof(err)), ORCH_OK);
	{
		Orch__DriverHealth noname = fa_driver_health(NULL, false, "x"),
		                   ctl = fa_driver_health(
		                       "docker", false, "a\nb");
		Orch__DriverHealth *bad1[] = {&noname}, *bad2[] = {&ctl};
		Orch__DriverHealth *many[ORCH_NODE_DRIVERS_MAX + 1];
		char big[ORCH_NODE_DRIVER_ERROR_MAX + 2];
		Orch__DriverHealth longe;

		ASSERT_INT_EQ(
		    orch_node_health_validate(bad1, 1, err, sizeof(err)),
		    ORCH_EINVAL);
		ASSERT_STR_CONTAINS(err, "driver_health");
		ASSERT_INT_EQ(
		    orch_node_health_validate(bad2, 1, err, sizeof(err)),
		    ORCH_EINVAL);
		ASSERT_STR_CONTAINS(err, "driver_health.error");
		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		longe = fa_driver_health("docker", false, big);
		bad2[0] = &longe;
		ASSERT_INT_EQ(
		    orch_node_health_validate(bad2, 1, err, sizeof(err)),
		    ORCH_EINVAL);
		big[sizeof(big) - 2] = '\0';
		ASSERT_INT_EQ(
		    orch_node_health_validate(bad2, 1, err, sizeof(err)),
		    ORCH_OK);
		for (size_t i = 0; i < ORCH_NODE_DRIVERS_MAX + 1; i++)
			many[i] = &ex;
		ASSERT_INT_EQ(orch_node_health_validate(many,
		                  ORCH_NODE_DRIVERS_MAX + 1, err, sizeof(err)),
		    ORCH_EINVAL);
		ASSERT_STR_CONTAINS(err, "more than 16 entries");
	}
}

/* What the transition listener heard. */
struct turns {
	struct orch_nodes *ns;
	int status[16];
	size_t counts_ready[16]; /* Ready nodes, counted from inside */
	size_t n_sick[16];       /* driver turns: unhealthy drivers, */
	char sick[16][ORCH_NODE_DRIVER_MAX + 1]; /* the first one's name */
	char error[16][ORCH_NODE_DRIVER_ERROR_MAX + 1]; /* and error */
	int n;
};

static void
on_turn(void *arg, const struct orch_nodes_turn *turn)
{
	struct turns *t = arg;
	size_t counts[4];

	ASSERT_STR_EQ(turn->id, ID_A);
	/* Outside the registry's lock: reading it here does not wait. */
	orch_nodes_count(t->ns, counts);
	if (t->n < 16) {
		t->counts_ready[t->n] = counts[READY];
		t->n_sick[t->n] = turn->n_unhealthy;
		snprintf(t->sick[t->n], sizeof(t->sick[t->n]), "%s",
		    turn->n_unhealthy > 0 ? turn->unhealthy[0].name : "");
		snprintf(t->error[t->n], sizeof(t->error[t->n]), "%s",
		    turn->n_unhealthy > 0 ? turn->unhealthy[0].error : "");
		t->status[t->n++] = turn->status;
	}
}

/* Each turn to Ready or Down is told once, in order, outside the lock;
 * counts follow the statuses. */
static void
test_transitions(void)
{
	struct turns t = {0};
	struct node_st want;
	size_t counts[4];

	ASSERT_INT_EQ(orch_nodes_new(100, &t.ns), ORCH_OK);
	orch_nodes_on_transition(t.ns, on_turn, &t);
	ASSERT_INT_EQ(orch_nodes_seen(t.ns, ID_A, "a", NULL, 0), ORCH_OK);
	ASSERT_INT_EQ(
	    orch_nodes_beat(t.ns, ID_A, NULL, 0), ORCH_OK); /* no turn */
	ASSERT_INT_EQ(t.n, 1);
	ASSERT_INT_EQ(t.status[0], READY);
	ASSERT_INT_EQ(t.counts_ready[0], 1);
	want = (struct node_st){t.ns, ID_A, DOWN};
	ASSERT(h_wait_until(node_is, &want, 10000));
	orch_nodes_count(t.ns, counts);
	ASSERT_INT_EQ(counts[DOWN], 1);
	ASSERT_INT_EQ(counts[READY], 0);
	orch_nodes_sweep(t.ns);
	orch_nodes_sweep(t.ns);
	ASSERT_INT_EQ(t.n, 2);
	ASSERT_INT_EQ(t.status[1], DOWN);
	/* Down and back between two sweeps: both turns, in order. */
	ASSERT_INT_EQ(orch_nodes_beat(t.ns, ID_A, NULL, 0), ORCH_OK);
	want = (struct node_st){t.ns, ID_A, DOWN};
	ASSERT(h_wait_until(node_is, &want, 10000));
	ASSERT_INT_EQ(orch_nodes_beat(t.ns, ID_A, NULL, 0), ORCH_OK);
	ASSERT_INT_EQ(t.n, 5);
	ASSERT_INT_EQ(t.status[2], READY);
	ASSERT_INT_EQ(t.status[3], DOWN);
	ASSERT_INT_EQ(t.status[4], READY);
	/* Cleared: no more. */
	orch_nodes_on_transition(t.ns, NULL, NULL);
	want = (struct node_st){t.ns, ID_A, DOWN};
	ASSERT(h_wait_until(node_is, &want, 10000));
	orch_nodes_sweep(t.ns);
	ASSERT_INT_EQ(t.n, 5);
	orch_nodes_free(t.ns);
}

/* Driver turns are told in order with the node's own: once a driver
 * turns unhealthy (after the node.ready of the registration that says
 * so) and once it is healthy again; a repeat or a new error of a driver
 * still unhealthy is no turn, though the new error is kept. */
static void
test_driver_turns(void)
{
	Orch__DriverHealth d1 = fa_driver_health("docker", false, "refused"),
	                   d2 = fa_driver_health("docker", false, "gone"),
	                   ex = fa_driver_health("exec", false, "no cgroup");
	Orch__DriverHealth *r1[] = {&d1}, *r2[] = {&d2}, *both[] = {&d2, &ex};
	struct orch_driver_health out[4];
	struct turns t = {0};

	ASSERT_INT_EQ(orch_nodes_new(60000, &t.ns), ORCH_OK);
	orch_nodes_on_transition(t.ns, on_turn, &t);
	ASSERT_INT_EQ(orch_nodes_seen(t.ns, ID_A, "a", r1, 1), ORCH_OK);
	ASSERT_INT_EQ(t.n, 2);
	ASSERT_INT_EQ(t.status[0], READY);
	ASSERT_INT_EQ(t.status[1], ORCH_NODES_TURN_DRIVER);
	ASSERT_INT_EQ(t.n_sick[1], 1);
	ASSERT_STR_EQ(t.sick[1], "docker");
	ASSERT_STR_EQ(t.error[1], "refused");
	ASSERT_INT_EQ(orch_nodes_beat(t.ns, ID_A, r1, 1), ORCH_OK);
	ASSERT_INT_EQ(orch_nodes_beat(t.ns, ID_A, r2, 1), ORCH_OK);
	ASSERT_INT_EQ(t.n, 2);
	ASSERT_INT_EQ(orch_nodes_unhealthy(t.ns, ID_A, out, 4), 1);
	ASSERT_STR_EQ(out[0].error, "gone");
	/* Another driver turns: told with both. */
	ASSERT_INT_EQ(orch_nodes_beat(t.ns, ID_A, both, 2), ORCH_OK);
	ASSERT_INT_EQ(t.n, 3);
	ASSERT_INT_EQ(t.status[2], ORCH_NODES_TURN_DRIVER);
	ASSERT_INT_EQ(t.n_sick[2], 2);
	ASSERT_STR_EQ(t.error[2], "gone");
	/* All healthy again: one turn, with none unhealthy. */
	ASSERT_INT_EQ(orch_nodes_beat(t.ns, ID_A, NULL, 0), ORCH_OK);
	ASSERT_INT_EQ(orch_nodes_beat(t.ns, ID_A, NULL, 0), ORCH_OK);
	ASSERT_INT_EQ(t.n, 4);
	ASSERT_INT_EQ(t.status[3], ORCH_NODES_TURN_DRIVER);
	ASSERT_INT_EQ(t.n_sick[3], 0);
	orch_nodes_on_transition(t.ns, NULL, NULL);
	orch_nodes_free(t.ns);
}

int
main(void)
{
	RUN(test_ready_then_down);
	RUN(test_known_from_store);
	RUN(test_heartbeat_interval);
	RUN(test_fill);
	RUN(test_assign_versions);
	RUN(test_assign_delta);
	RUN(test_driver_health);
	RUN(test_transitions);
	RUN(test_driver_turns);
	return 0;
}
