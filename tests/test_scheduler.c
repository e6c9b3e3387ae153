/*
 * test_scheduler.c: the placement decision (fits or not, spreading, ties,
 * nodes that are not Ready, drivers and their health), the explanation of
 * a task that fits nowhere, and the scheduler's thread over a real store,
 * with the notices of a pass that places on several nodes on a real PUB
 * socket.
 */
#include <math.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <pthread.h>

#include "error.h"
#include "fake_agent.h"
#include "harness.h"
#include "nodes.h"
#include "notify.h"
#include "scheduler.h"
#include "store.h"

#define ST_PENDING ORCH__TASK_STATUS__TASK_STATUS_PENDING
#define ST_SCHEDULED ORCH__TASK_STATUS__TASK_STATUS_SCHEDULED
#define ST_RUNNING ORCH__TASK_STATUS__TASK_STATUS_RUNNING
#define ST_COMPLETED ORCH__TASK_STATUS__TASK_STATUS_COMPLETED

/* ---- the decision ---- */

/* The decision for a plain task with no constraints, spread. */
static int
pick(const struct orch_sched_node *nodes, size_t n, double cpu, int64_t mem)
{
	struct orch_sched_want w = {.cpu = cpu, .memory_mb = mem};

	return orch_sched_node_pick(nodes, n, &w);
}

static void
explain(const struct orch_sched_node *nodes, size_t n, double cpu, int64_t mem,
    char *buf, size_t len)
{
	struct orch_sched_want w = {.cpu = cpu, .memory_mb = mem};

	orch_sched_explain(nodes, n, &w, buf, len);
}

#define N(id_, name_, ready_, cpu_, mem_)                                      \
	{                                                                      \
		.id = (id_), .name = (name_), .ready = (ready_),               \
		.cpu_free = (cpu_), .memory_free_mb = (mem_)                   \
	}

static void
test_pick_fits(void)
{
	struct orch_sched_node one[] = {N("1", "a", true, 2.0, 1024)};

	/* Exactly full fits; a byte or a fraction of a core more does not. */
	ASSERT_INT_EQ(pick(one, 1, 2.0, 1024), 0);
	ASSERT_INT_EQ(pick(one, 1, 0.5, 256), 0);
	ASSERT_INT_EQ(pick(one, 1, 2.0, 1025), -1);
	ASSERT_INT_EQ(pick(one, 1, 2.001, 1024), -1);
	/* Both must fit: memory alone or cpu alone is not enough. */
	ASSERT_INT_EQ(pick(one, 1, 4.0, 10), -1);
	ASSERT_INT_EQ(pick(one, 1, 0.1, 4096), -1);
	/* Nothing to pick from. */
	ASSERT_INT_EQ(pick(NULL, 0, 0.1, 6), -1);
	/* Sums of fractions are not exact, and must not refuse a fit. */
	{
		struct orch_sched_node n = N("1", "a", true, 1.0, 1024);

		n.cpu_free -= 0.1;
		n.cpu_free -= 0.2;
		n.cpu_free -= 0.4;
		ASSERT_INT_EQ(pick(&n, 1, 0.3, 6), 0);
	}
	/* Overcommitted (capacity lowered on registering again). */
	{
		struct orch_sched_node n = N("1", "a", true, -1.0, -512);

		ASSERT_INT_EQ(pick(&n, 1, 0.1, 6), -1);
	}
}

static void
test_pick_spreads(void)
{
	struct orch_sched_node v[] = {
	    N("1", "a", true, 8.0, 1024),
	    N("2", "b", true, 1.0, 4096),
	    N("3", "c", true, 4.0, 2048),
	};
	int k;

	/* The most free memory wins, even with less cpu. */
	ASSERT_INT_EQ(pick(v, 3, 0.5, 256), 1);
	/* ... as long as the task's cpu fits there. */
	ASSERT_INT_EQ(pick(v, 3, 2.0, 256), 2);
	ASSERT_INT_EQ(pick(v, 3, 6.0, 256), 0);

	/* Placing one after another, as a pass does, spreads them. */
	{
		struct orch_sched_node w[] = {
		    N("1", "a", true, 4.0, 1000),
		    N("2", "b", true, 4.0, 1000),
		    N("3", "c", true, 4.0, 1000),
		};
		int count[3] = {0, 0, 0};

		for (int i = 0; i < 9; i++) {
			k = pick(w, 3, 0.25, 100);
			ASSERT(k >= 0);
			count[k]++;
			w[k].cpu_free -= 0.25;
			w[k].memory_free_mb -= 100;
		}
		ASSERT_INT_EQ(count[0], 3);
		ASSERT_INT_EQ(count[1], 3);
		ASSERT_INT_EQ(count[2], 3);
	}
}

static void
test_pick_ties(void)
{
	/* Equal memory: more free cpu wins. */
	struct orch_sched_node a[] = {
	    N("1", "a", true, 1.0, 1024),
	    N("2", "b", true, 3.0, 1024),
	};
	/* Equal memory and cpu: the smaller name wins, in any order. */
	struct orch_sched_node b[] = {
	    N("1", "zeta", true, 2.0, 1024),
	    N("2", "alpha", true, 2.0, 1024),
	    N("3", "mid", true, 2.0, 1024),
	};
	struct orch_sched_node c[] = {
	    N("2", "alpha", true, 2.0, 1024),
	    N("3", "mid", true, 2.0, 1024),
	    N("1", "zeta", true, 2.0, 1024),
	};
	/* Equal everything, even the name: the smaller id. */
	struct orch_sched_node d[] = {
	    N("b", "same", true, 2.0, 1024),
	    N("a", "same", true, 2.0, 1024),
	};

	ASSERT_INT_EQ(pick(a, 2, 0.5, 256), 1);
	ASSERT_INT_EQ(pick(b, 3, 0.5, 256), 1);
	ASSERT_INT_EQ(pick(c, 3, 0.5, 256), 0);
	ASSERT_INT_EQ(pick(d, 2, 0.5, 256), 1);
	/* cpu that differs only by rounding is a tie. */
	{
		struct orch_sched_node e[] = {
		    N("1", "b", true, 0.3, 1024),
		    N("2", "a", true, 0.1 + 0.2, 1024),
		};

		ASSERT_INT_EQ(pick(e, 2, 0.1, 6), 1);
	}
}

static void
test_pick_skips_not_ready(void)
{
	struct orch_sched_node v[] = {
	    N("1", "down", false, 64.0, 65536),
	    N("2", "notready", false, 64.0, 65536),
	    N("3", "small", true, 1.0, 512),
	};

	/* The big nodes are not Ready: the small one, though it has less. */
	ASSERT_INT_EQ(pick(v, 3, 0.5, 256), 2);
	/* What only a node that is not Ready could take waits. */
	ASSERT_INT_EQ(pick(v, 3, 2.0, 256), -1);
	v[2].ready = false;
	ASSERT_INT_EQ(pick(v, 3, 0.5, 256), -1);
}

static void
test_explain(void)
{
	char buf[512];
	struct orch_sched_node v[] = {
	    N("1", "node-a", true, 0.5, 512),
	    N("2", "node-b", true, 1.5, 1024),
	    N("3", "node-c", false, 64.0, 65536),
	};

	explain(v, 3, 2.0, 4096, buf, sizeof(buf));
	ASSERT_STR_EQ(buf,
	    "no Ready node has 4096 MB and 2 cpu free; most "
	    "free: node-b with 1024 MB and 1.5 cpu");

	explain(NULL, 0, 0.5, 256, buf, sizeof(buf));
	ASSERT_STR_EQ(buf, "no Ready node: no node has joined the cluster");

	explain(&v[2], 1, 0.5, 256, buf, sizeof(buf));
	ASSERT_STR_EQ(buf, "no Ready node: 1 node known, none Ready");
	v[0].ready = v[1].ready = false;
	explain(v, 3, 0.5, 256, buf, sizeof(buf));
	ASSERT_STR_EQ(buf, "no Ready node: 3 nodes known, none Ready");

	/* Rounded cores, and nothing negative on an overcommitted node. */
	{
		struct orch_sched_node w[] = {
		    N("1", "full", true, 1.0 - 0.1 - 0.2 - 0.4, -10),
		};

		explain(w, 1, 0.75, 100, buf, sizeof(buf));
		ASSERT_STR_EQ(buf,
		    "no Ready node has 100 MB and 0.75 cpu free; "
		    "most free: full with 0 MB and 0.3 cpu");
	}
	/* Cut short, still a string. */
	explain(v, 3, 0.5, 256, buf, 10);
	ASSERT_INT_EQ(strlen(buf), 9);
}

/* A task goes only to a node with its driver; a node that lists none has
 * Docker's (it registered before agents advertised drivers). */
static void
test_pick_driver(void)
{
	char *docker[] = {"docker"}, *exec[] = {"exec"},
	     *both[] = {"docker", "exec"};
	struct orch_sched_node v[] = {
	    N("1", "old", true, 8.0, 8192),
	    N("2", "exec-only", true, 1.0, 1024),
	    N("3", "docker-only", true, 4.0, 4096),
	};
	struct orch_sched_want w = {.cpu = 0.5, .memory_mb = 256};
	char buf[512];

	v[1].drivers = exec;
	v[1].n_drivers = 1;
	v[2].drivers = docker;
	v[2].n_drivers = 1;
	/* Docker, named or not: the freest node with it. */
	ASSERT_INT_EQ(orch_sched_node_pick(v, 3, &w), 0);
	w.driver = "docker";
	ASSERT_INT_EQ(orch_sched_node_pick(v, 3, &w), 0);
	/* Exec: only the node that has it, though it has the least room. */
	w.driver = "exec";
	ASSERT_INT_EQ(orch_sched_node_pick(v, 3, &w), 1);
	w.memory_mb = 2048;
	ASSERT_INT_EQ(orch_sched_node_pick(v, 3, &w), -1);
	orch_sched_explain(v, 3, &w, buf, sizeof(buf));
	ASSERT_STR_EQ(buf,
	    "no Ready node has 2048 MB and 0.5 cpu free; most free: "
	    "exec-only with 1024 MB and 1 cpu");
	/* No Ready node with it: said so, with what the Ready ones have. */
	v[1].ready = false;
	w.memory_mb = 256;
	ASSERT_INT_EQ(orch_sched_node_pick(v, 3, &w), -1);
	orch_sched_explain(v, 3, &w, buf, sizeof(buf));
	ASSERT_STR_EQ(
	    buf, "no Ready node has the exec driver (2 Ready, with docker)");
	/* A node with both takes either. */
	v[2].drivers = both;
	v[2].n_drivers = 2;
	ASSERT_INT_EQ(orch_sched_node_pick(v, 3, &w), 2);
	w.driver = NULL;
	ASSERT_INT_EQ(orch_sched_node_pick(v, 3, &w), 0);
	/* Docker on exec-only nodes: explained the same way. */
	v[0].ready = false;
	v[1].ready = true;
	v[2].ready = false;
	orch_sched_explain(v, 3, &w, buf, sizeof(buf));
	ASSERT_STR_EQ(
	    buf, "no Ready node has the docker driver (1 Ready, with exec)");
}

/* A node whose agent reports a driver unhealthy (its Docker daemon went
 * away) gets no task of that driver; its other drivers still take tasks,
 * and a task that fits nowhere says which node's driver is unhealthy and
 * why.  The same whether the nodes' drivers are given as bits too
 * (masked: as the scheduler's view has them) or as names only. */
static void
pick_unhealthy(bool masked)
{
	char *both[] = {"docker", "exec"};
	struct orch_driver_health sick = {
	    .name = "docker",
	    .error = "docker GET /_ping: cannot reach the Docker daemon at "
	             "/run/d.sock: Connection refused",
	};
	struct orch_sched_node v[] = {
	    N("1", "a", true, 8.0, 8192),
	    N("2", "b", true, 1.0, 1024),
	};
	struct orch_sched_want w = {.cpu = 0.5, .memory_mb = 256};
	const char *cons[] = {"node.name==a"};
	char buf[512];

	for (int i = 0; i < 2; i++) {
		v[i].drivers = both;
		v[i].n_drivers = 2;
		v[i].driver_mask = masked
		    ? ORCH_SCHED_DRIVER_DOCKER | ORCH_SCHED_DRIVER_EXEC
		    : 0;
	}
	/* Healthy: the freest node. */
	ASSERT_INT_EQ(orch_sched_node_pick(v, 2, &w), 0);
	/* Its docker unhealthy: the other node, though it has less room. */
	v[0].unhealthy = &sick;
	v[0].n_unhealthy = 1;
	ASSERT_INT_EQ(orch_sched_node_pick(v, 2, &w), 1);
	w.driver = "docker";
	ASSERT_INT_EQ(orch_sched_node_pick(v, 2, &w), 1);
	/* An exec task still goes to the freest node. */
	w.driver = "exec";
	ASSERT_INT_EQ(orch_sched_node_pick(v, 2, &w), 0);
	/* Both unhealthy: no docker task anywhere, said so with a reason. */
	v[1].unhealthy = &sick;
	v[1].n_unhealthy = 1;
	ASSERT_INT_EQ(orch_sched_node_pick(v, 2, &w), 0);
	w.driver = NULL;
	ASSERT_INT_EQ(orch_sched_node_pick(v, 2, &w), -1);
	orch_sched_explain(v, 2, &w, buf, sizeof(buf));
	ASSERT_STR_EQ(buf,
	    "no Ready node has a healthy docker driver (2 have it, "
	    "unhealthy: a: docker GET /_ping: cannot reach the Docker daemon "
	    "at /run/d.sock: Connection refused)");
	/* Only the constrained node counts, and it is the unhealthy one,
	 * though another node has a healthy Docker. */
	v[1].unhealthy = NULL;
	v[1].n_unhealthy = 0;
	w.constraints = cons;
	w.n_constraints = 1;
	ASSERT_INT_EQ(orch_sched_node_pick(v, 2, &w), -1);
	orch_sched_explain(v, 2, &w, buf, sizeof(buf));
	ASSERT_STR_CONTAINS(buf,
	    "no Ready node satisfying the constraints has a healthy docker "
	    "driver (1 has it, unhealthy: a: docker GET /_ping");
	/* Back to healthy: placed there again. */
	v[0].unhealthy = NULL;
	v[0].n_unhealthy = 0;
	ASSERT_INT_EQ(orch_sched_node_pick(v, 2, &w), 0);
}

static void
test_pick_unhealthy(void)
{
	pick_unhealthy(false);
	pick_unhealthy(true);
}

/* With the nodes' drivers as bits (as the scheduler's view has them), the
 * same picks; a driver with no bit of its own is found by name. */
static void
test_pick_driver_mask(void)
{
	char *exec[] = {"exec"}, *gpu[] = {"gpu", "docker"};
	struct orch_sched_node v[] = {
	    N("1", "old", true, 8.0, 8192),
	    N("2", "exec-only", true, 1.0, 1024),
	    N("3", "gpu", true, 4.0, 4096),
	};
	struct orch_sched_want w = {.cpu = 0.5, .memory_mb = 256};

	v[0].driver_mask = ORCH_SCHED_DRIVER_DOCKER;
	v[1].drivers = exec;
	v[1].n_drivers = 1;
	v[1].driver_mask = ORCH_SCHED_DRIVER_EXEC;
	v[2].drivers = gpu;
	v[2].n_drivers = 2;
	v[2].driver_mask = ORCH_SCHED_DRIVER_DOCKER | ORCH_SCHED_DRIVER_OTHER;
	ASSERT_INT_EQ(orch_sched_node_pick(v, 3, &w), 0);
	w.driver = "exec";
	ASSERT_INT_EQ(orch_sched_node_pick(v, 3, &w), 1);
	w.driver = "gpu";
	ASSERT_INT_EQ(orch_sched_node_pick(v, 3, &w), 2);
	w.driver = "tpu";
	ASSERT_INT_EQ(orch_sched_node_pick(v, 3, &w), -1);
	v[0].ready = false;
	w.driver = "docker";
	ASSERT_INT_EQ(orch_sched_node_pick(v, 3, &w), 2);
}

/* ---- placement policies, constraints, drain, service spread ---- */

#define NL(id_, name_, cpu_, mem_, labels_, nl_)                               \
	{                                                                      \
		.id = (id_), .name = (name_), .ready = true,                   \
		.cpu_free = (cpu_), .memory_free_mb = (mem_),                  \
		.labels = (labels_), .n_labels = (nl_)                         \
	}

static void
test_pick_binpack(void)
{
	struct orch_sched_node v[] = {
	    N("1", "a", true, 8.0, 1024),
	    N("2", "b", true, 8.0, 4096),
	    N("3", "c", true, 8.0, 512),
	};
	struct orch_sched_want w = {.cpu = 0.5, .memory_mb = 600};
	int counts[3] = {0, 0, 0}, k;

	/* spread: the most free; binpack: the least free that fits. */
	ASSERT_INT_EQ(orch_sched_node_pick(v, 3, &w), 1);
	w.placement = ORCH_PLACEMENT_BINPACK;
	ASSERT_INT_EQ(orch_sched_node_pick(v, 3, &w), 0);
	w.memory_mb = 100;
	ASSERT_INT_EQ(orch_sched_node_pick(v, 3, &w), 2);
	/* Placing one after another, binpack fills one node first. */
	for (int i = 0; i < 6; i++) {
		k = orch_sched_node_pick(v, 3, &w);
		ASSERT(k >= 0);
		counts[k]++;
		v[k].cpu_free -= w.cpu;
		v[k].memory_free_mb -= w.memory_mb;
	}
	ASSERT_INT_EQ(counts[2], 5);
	ASSERT_INT_EQ(counts[0], 1);
	ASSERT_INT_EQ(counts[1], 0);
	/* Equal memory: less free cpu first; then the name. */
	{
		struct orch_sched_node e[] = {
		    N("1", "x", true, 1.0, 1024),
		    N("2", "y", true, 3.0, 1024),
		    N("3", "a", true, 1.0, 1024),
		};

		ASSERT_INT_EQ(orch_sched_node_pick(e, 3, &w), 2);
	}
	{
		enum orch_placement p;

		ASSERT_INT_EQ(orch_placement_parse(NULL, &p), ORCH_OK);
		ASSERT_INT_EQ(p, ORCH_PLACEMENT_SPREAD);
		ASSERT_INT_EQ(orch_placement_parse("binpack", &p), ORCH_OK);
		ASSERT_INT_EQ(p, ORCH_PLACEMENT_BINPACK);
		ASSERT_INT_EQ(orch_placement_parse("pack", &p), ORCH_EINVAL);
	}
}

static void
test_pick_constraints_and_drain(void)
{
	Orch__Node__LabelsEntry za = ORCH__NODE__LABELS_ENTRY__INIT,
	                        zb = ORCH__NODE__LABELS_ENTRY__INIT,
	                        hdd = ORCH__NODE__LABELS_ENTRY__INIT;
	Orch__Node__LabelsEntry *la[] = {&za}, *lb[] = {&zb, &hdd};
	struct orch_sched_node v[] = {
	    NL("1", "a", 4.0, 4096, la, 1),
	    NL("2", "b", 4.0, 1024, lb, 2),
	    NL("3", "c", 4.0, 8192, NULL, 0),
	};
	const char *in_b[] = {"zone==b"}, *not_hdd[] = {"disk!=hdd"};
	const char *zoned_ssd[] = {"zone!=x", "disk!=hdd", "zone==a"};
	const char *nowhere[] = {"zone==z"};
	struct orch_sched_want w = {.cpu = 0.5, .memory_mb = 256};
	char buf[512];

	za.key = "zone";
	za.value = "a";
	zb.key = "zone";
	zb.value = "b";
	hdd.key = "disk";
	hdd.value = "hdd";
	ASSERT_INT_EQ(orch_sched_node_pick(v, 3, &w), 2);
	/* Only where it is allowed, however little room is left there. */
	w.constraints = in_b;
	w.n_constraints = 1;
	ASSERT_INT_EQ(orch_sched_node_pick(v, 3, &w), 1);
	w.constraints = not_hdd;
	ASSERT_INT_EQ(orch_sched_node_pick(v, 3, &w), 2);
	w.constraints = zoned_ssd;
	w.n_constraints = 3;
	ASSERT_INT_EQ(orch_sched_node_pick(v, 3, &w), 0);
	w.constraints = nowhere;
	w.n_constraints = 1;
	ASSERT_INT_EQ(orch_sched_node_pick(v, 3, &w), -1);
	orch_sched_explain(v, 3, &w, buf, sizeof(buf));
	ASSERT_STR_EQ(buf, "no Ready node satisfies the constraints zone==z");
	/* Allowed but full: said with the constraints. */
	w.constraints = in_b;
	w.memory_mb = 2048;
	ASSERT_INT_EQ(orch_sched_node_pick(v, 3, &w), -1);
	orch_sched_explain(v, 3, &w, buf, sizeof(buf));
	ASSERT_STR_EQ(buf,
	    "no Ready node matching the constraints has 2048 "
	    "MB and 0.5 cpu free; most free: b with 1024 MB "
	    "and 4 cpu");
	/* A drained node takes nothing new. */
	w.constraints = NULL;
	w.n_constraints = 0;
	w.memory_mb = 256;
	v[2].drain = true;
	ASSERT_INT_EQ(orch_sched_node_pick(v, 3, &w), 0);
	v[0].drain = v[1].drain = true;
	ASSERT_INT_EQ(orch_sched_node_pick(v, 3, &w), -1);
	orch_sched_explain(v, 3, &w, buf, sizeof(buf));
	ASSERT_STR_EQ(buf,
	    "no Ready node takes new tasks: 3 Ready, all "
	    "drained");
}

static void
test_pick_service_spread(void)
{
	struct orch_sched_node v[] = {
	    N("1", "a", true, 8.0, 8192),
	    N("2", "b", true, 8.0, 1024),
	    N("3", "c", true, 8.0, 2048),
	};
	uint32_t same[3] = {1, 0, 0};
	struct orch_sched_want w = {
	    .cpu = 0.5, .memory_mb = 256, .same_service = same};
	int k;

	/* Fewer replicas of its service first, then the policy. */
	ASSERT_INT_EQ(orch_sched_node_pick(v, 3, &w), 2);
	w.placement = ORCH_PLACEMENT_BINPACK;
	ASSERT_INT_EQ(orch_sched_node_pick(v, 3, &w), 1);
	/* Six replicas on three nodes: two each, even with binpack. */
	same[0] = 0;
	for (int i = 0; i < 6; i++) {
		k = orch_sched_node_pick(v, 3, &w);
		ASSERT(k >= 0);
		same[k]++;
		v[k].memory_free_mb -= 256;
	}
	ASSERT_INT_EQ(same[0], 2);
	ASSERT_INT_EQ(same[1], 2);
	ASSERT_INT_EQ(same[2], 2);
	/* A node that cannot take it is skipped, however few it has. */
	same[1] = 0;
	v[1].memory_free_mb = 100;
	ASSERT(orch_sched_node_pick(v, 3, &w) != 1);
}

/*
 * The picker (a heap over the nodes) picks exactly the node the linear
 * pick would, pick after pick, as runs of tasks asking the same come and
 * go: random nodes (some not Ready, drained, without the driver, with it
 * unhealthy, in another zone), runs of replicas of two services and of
 * plain tasks, spread and binpack, some of them too big for most nodes.
 */
static void
test_picker_matches_pick(void)
{
	enum { NN = 48, PICKS = 4000 };
	static char names[NN][8], ids[NN][8];
	char *docker[] = {"docker"}, *exec[] = {"exec"};
	struct orch_driver_health sick = {.name = "docker", .error = "down"};
	Orch__Node__LabelsEntry za = ORCH__NODE__LABELS_ENTRY__INIT,
	                        zb = ORCH__NODE__LABELS_ENTRY__INIT;
	Orch__Node__LabelsEntry *la[] = {&za}, *lb[] = {&zb};
	const char *in_a[] = {"zone==a"};
	struct orch_sched_node a[NN], b[NN];
	uint32_t same_a[2][NN], same_b[2][NN];
	struct orch_sched_picker picker = {0};
	unsigned seed = 7;
	int picked = 0, none = 0;

	za.key = zb.key = "zone";
	za.value = "a";
	zb.value = "b";
	memset(a, 0, sizeof(a));
	memset(same_a, 0, sizeof(same_a));
	for (int i = 0; i < NN; i++) {
		int r = rand_r(&seed) % 20;

		snprintf(names[i], sizeof(names[i]), "n%02d", (i * 7) % NN);
		snprintf(ids[i], sizeof(ids[i]), "%02d", i);
		a[i].id = ids[i];
		a[i].name = names[i];
		a[i].ready = r != 0;
		a[i].drain = r == 1;
		a[i].cpu_free = (double)(rand_r(&seed) % 33) / 4.0;
		a[i].memory_free_mb = (int64_t)(rand_r(&seed) % 65) * 64;
		a[i].drivers = r == 2 ? exec : docker;
		a[i].n_drivers = 1;
		a[i].unhealthy = r == 3 ? &sick : NULL;
		a[i].n_unhealthy = r == 3 ? 1 : 0;
		a[i].labels = i % 3 == 0 ? la : lb;
		a[i].n_labels = 1;
		/* Ranks on some runs, names on the others. */
		a[i].rank = 0;
	}
	memcpy(b, a, sizeof(a));
	memcpy(same_b, same_a, sizeof(same_a));
	for (int p = 0; p < PICKS;) {
		struct orch_sched_want w = {0};
		int kind = rand_r(&seed) % 6, run = 1 + rand_r(&seed) % 40;
		uint32_t *sa = NULL, *sb = NULL;

		w.cpu = kind == 5 ? 2.0 : 0.25;
		w.memory_mb = kind == 5 ? 2048 : 64 + 64 * (kind % 2);
		w.placement = kind % 3 == 1 ? ORCH_PLACEMENT_BINPACK
		                            : ORCH_PLACEMENT_SPREAD;
		if (kind == 2) {
			w.constraints = in_a;
			w.n_constraints = 1;
		}
		if (kind == 4)
			w.driver = "exec";
		if (kind < 2) {
			sa = same_a[kind];
			sb = same_b[kind];
		}
		for (int i = 0; i < run && p < PICKS; i++, p++) {
			struct orch_sched_want wb = w;
			int ka, kb;

			ka = orch_sched_picker_take(&picker, a, NN, sa, &w);
			wb.same_service = sb;
			kb = orch_sched_node_pick(b, NN, &wb);
			ASSERT_INT_EQ(ka, kb);
			if (kb < 0) {
				none++;
				continue;
			}
			picked++;
			b[kb].cpu_free -= w.cpu;
			b[kb].memory_free_mb -= w.memory_mb;
			if (sb != NULL)
				sb[kb]++;
			ASSERT(a[ka].cpu_free == b[kb].cpu_free);
			ASSERT_INT_EQ(
			    a[ka].memory_free_mb, b[kb].memory_free_mb);
		}
	}
	ASSERT_INT_EQ(memcmp(same_a, same_b, sizeof(same_a)), 0);
	/* Both ways were exercised: picks, and tasks that fit nowhere. */
	ASSERT(picked > 100);
	ASSERT(none > 10);
	orch_sched_picker_fini(&picker);
}

/* ---- the thread over a real store ---- */

struct env {
	char *dir;
	struct orch_store *st;
	struct orch_store_reader *r;
	struct orch_nodes *ns;
	struct orch_sched *sched;
};

/* The store and the nodes, without the scheduler's thread. */
static void
env_open_idle(struct env *e, int64_t ttl_ms)
{
	memset(e, 0, sizeof(*e));
	e->dir = h_tmpdir("sched");
	ASSERT_INT_EQ(orch_store_open(e->dir, NULL, &e->st), ORCH_OK);
	ASSERT_INT_EQ(orch_store_reader_new(e->st, &e->r), ORCH_OK);
	ASSERT_INT_EQ(orch_nodes_new(ttl_ms, &e->ns), ORCH_OK);
}

static void
env_open(struct env *e, int64_t ttl_ms)
{
	env_open_idle(e, ttl_ms);
	ASSERT_INT_EQ(orch_sched_start(e->st, e->ns, NULL, &e->sched), ORCH_OK);
}

static void
env_close(struct env *e)
{
	orch_sched_stop(e->sched);
	orch_store_reader_free(e->r);
	orch_store_close(e->st);
	orch_nodes_free(e->ns);
	h_rm_rf(e->dir);
	free(e->dir);
}

/* Registers a node with drivers[n_drivers] and marks it alive.  Returns
 * its id (malloc'd). */
static char *
node_add_drivers(struct env *e, const char *name, double cpu, int64_t mem,
    char **drivers, size_t n_drivers)
{
	Orch__NodeRegistration reg = ORCH__NODE_REGISTRATION__INIT;
	orch_node *n = NULL;
	char err[256], *id;

	reg.drivers = drivers;
	reg.n_drivers = n_drivers;
	reg.name = (char *)name;
	reg.has_cpu = true;
	reg.cpu = cpu;
	reg.has_memory_mb = true;
	reg.memory_mb = mem;
	ASSERT_INT_EQ(
	    orch_store_node_register_sync(e->st, &reg, &n, err, sizeof(err)),
	    ORCH_OK);
	ASSERT_INT_EQ(orch_nodes_seen(e->ns, n->id, n->name, NULL, 0), ORCH_OK);
	id = strdup(n->id);
	orch_node_free(n);
	return id;
}

/* Registers a node that lists no driver (Docker's). */
static char *
node_add(struct env *e, const char *name, double cpu, int64_t mem)
{
	return node_add_drivers(e, name, cpu, mem, NULL, 0);
}

/* Submits a task of driver (NULL: the default); returns its id
 * (malloc'd). */
static char *
task_add_driver(struct env *e, const char *name, double cpu, int64_t mem,
    const char *driver)
{
	orch_task_spec *sp = malloc(sizeof(*sp));
	orch_task *t;
	char err[256], *id;

	ASSERT(sp != NULL);
	orch__task_spec__init(sp);
	sp->name = strdup(name);
	if (driver != NULL)
		sp->driver = strdup(driver);
	if (driver != NULL && strcmp(driver, "exec") == 0) {
		sp->n_command = 1;
		sp->command = calloc(1, sizeof(char *));
		ASSERT(sp->command != NULL);
		sp->command[0] = strdup("/bin/true");
	} else {
		sp->image = strdup("busybox:1");
	}
	sp->has_cpu = true;
	sp->cpu = cpu;
	sp->has_memory_mb = true;
	sp->memory_mb = mem;
	ASSERT_INT_EQ(orch_task_new(sp, &t), ORCH_OK);
	id = strdup(t->id);
	ASSERT_INT_EQ(
	    orch_store_task_insert_sync(e->st, t, NULL, err, sizeof(err)),
	    ORCH_OK);
	return id;
}

static char *
task_add(struct env *e, const char *name, double cpu, int64_t mem)
{
	return task_add_driver(e, name, cpu, mem, NULL);
}

struct want {
	struct env *e;
	const char *id;
	int status;
	const char *error; /* a part of the error wanted; NULL: none */
};

static bool
task_is(void *arg)
{
	struct want *w = arg;
	orch_task *t = NULL;
	bool ok;

	ASSERT_INT_EQ(orch_store_task_get(w->e->r, w->id, &t), ORCH_OK);
	ok = (int)t->status == w->status &&
	    (w->error == NULL
	            ? t->error == NULL
	            : t->error != NULL && strstr(t->error, w->error) != NULL);
	orch_task_free(t);
	return ok;
}

static orch_task *
task_get(struct env *e, const char *id)
{
	orch_task *t = NULL;

	ASSERT_INT_EQ(orch_store_task_get(e->r, id, &t), ORCH_OK);
	return t;
}

static int
mod_status(orch_task *t, void *marg, char *err, size_t errlen)
{
	struct orch_task_update u = {.status = *(int *)marg};

	return orch_task_apply_update(t, &u, 1, err, errlen);
}

struct passes {
	struct orch_sched *sched;
	uint64_t until;
};

static bool
passes_reached(void *arg)
{
	struct passes *p = arg;
	struct orch_sched_stats ss;

	orch_sched_stats(p->sched, &ss);
	return ss.passes >= p->until;
}

/* The scheduler's counts at least these.  A pass adds to them after the
 * writes it counts commit, so a test that saw the writes polls. */
struct stats_min {
	struct orch_sched *sched;
	uint64_t placed, lost, created, replaced;
};

static bool
stats_reached(void *arg)
{
	const struct stats_min *m = arg;
	struct orch_sched_stats ss;

	orch_sched_stats(m->sched, &ss);
	return ss.placed >= m->placed && ss.lost >= m->lost &&
	    ss.created >= m->created && ss.replaced >= m->replaced;
}

static uint64_t
durable_writes(struct env *e)
{
	struct orch_store_stats s;

	orch_store_stats(e->st, &s);
	return s.writes - s.failed;
}

static void
test_thread_places(void)
{
	struct env e;
	char *a, *b, *c, *t1, *t2, *big;
	struct want w;
	orch_task *t;
	char err[256];
	int st;

	env_open(&e, 60000);
	/* No node: it waits, saying why. */
	t1 = task_add(&e, "t1", 1.0, 512);
	w = (struct want){&e, t1, ST_PENDING, "no node has joined"};
	ASSERT(h_wait_until(task_is, &w, 10000));

	/* A node joins: the task is placed and the reason cleared. */
	a = node_add(&e, "a", 2.0, 1024);
	w = (struct want){&e, t1, ST_SCHEDULED, NULL};
	ASSERT(h_wait_until(task_is, &w, 10000));
	t = task_get(&e, t1);
	ASSERT_STR_EQ(t->node_id, a);
	orch_task_free(t);

	/* A second, bigger node takes the next (most free memory). */
	b = node_add(&e, "b", 2.0, 4096);
	t2 = task_add(&e, "t2", 1.0, 512);
	w = (struct want){&e, t2, ST_SCHEDULED, NULL};
	ASSERT(h_wait_until(task_is, &w, 10000));
	t = task_get(&e, t2);
	ASSERT_STR_EQ(t->node_id, b);
	orch_task_free(t);

	/* Too big for either: Pending, naming the node with the most free. */
	big = task_add(&e, "big", 1.0, 8192);
	w = (struct want){&e, big, ST_PENDING,
	    "no Ready node has 8192 MB and 1 cpu free; most free: b with "
	    "3584 MB and 1 cpu"};
	ASSERT(h_wait_until(task_is, &w, 10000));

	/* The explanation is written once, not on every pass. */
	{
		struct orch_sched_stats s0;
		struct passes p = {e.sched, 0};
		uint64_t w0 = durable_writes(&e);

		orch_sched_stats(e.sched, &s0);
		for (int i = 1; i <= 3; i++) {
			p.until = s0.passes + (uint64_t)i;
			orch_sched_wake(e.sched);
			ASSERT(h_wait_until(passes_reached, &p, 10000));
		}
		ASSERT_INT_EQ(durable_writes(&e), w0);
	}

	/* Ending a task frees its room: the explanation follows. */
	st = ST_COMPLETED;
	ASSERT_INT_EQ(orch_store_task_modify_sync(
	                  e.st, t2, mod_status, &st, NULL, err, sizeof(err)),
	    ORCH_OK);
	w = (struct want){&e, big, ST_PENDING,
	    "most free: b with 4096 MB and "
	    "2 cpu"};
	ASSERT(h_wait_until(task_is, &w, 10000));

	/* A node big enough joins: placed there, the reason cleared. */
	c = node_add(&e, "c", 4.0, 16384);
	w = (struct want){&e, big, ST_SCHEDULED, NULL};
	ASSERT(h_wait_until(task_is, &w, 10000));
	t = task_get(&e, big);
	ASSERT_STR_EQ(t->node_id, c);
	orch_task_free(t);

	free(a);
	free(b);
	free(c);
	free(t1);
	free(t2);
	free(big);
	env_close(&e);
}

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

static const char *beating;

static bool
beat_and_check(void *arg)
{
	struct want *w = arg;

	ASSERT_INT_EQ(orch_nodes_beat(w->e->ns, beating, NULL, 0), ORCH_OK);
	return task_is(w);
}

/* A node that stops beating gets nothing new, and gets it again once it
 * beats. */
static void
test_thread_down_node(void)
{
	struct env e;
	struct node_st ns;
	struct want w;
	char *a, *t1;
	orch_task *t;

	env_open(&e, 200);
	a = node_add(&e, "a", 2.0, 1024);
	beating = a;
	ns = (struct node_st){e.ns, a, ORCH__NODE_STATUS__NODE_STATUS_DOWN};
	ASSERT(h_wait_until(node_is, &ns, 10000));
	t1 = task_add(&e, "t1", 0.5, 256);
	w = (struct want){&e, t1, ST_PENDING, "1 node known, none Ready"};
	ASSERT(h_wait_until(task_is, &w, 10000));
	/* A beat makes it Ready, which wakes the scheduler; beating on as
	 * an agent would, so that it stays Ready however slow the pass. */
	ASSERT_INT_EQ(orch_nodes_beat(e.ns, a, NULL, 0), ORCH_OK);
	w = (struct want){&e, t1, ST_SCHEDULED, NULL};
	ASSERT(h_wait_until(beat_and_check, &w, 10000));
	t = task_get(&e, t1);
	ASSERT_STR_EQ(t->node_id, a);
	orch_task_free(t);
	free(a);
	free(t1);
	env_close(&e);
}

/* The thread places by driver, and learns a node's drivers again when it
 * registers again (an agent that found Docker after it started). */
static void
test_thread_driver(void)
{
	char *exec[] = {"exec"}, *both[] = {"docker", "exec"};
	struct env e;
	struct want w;
	char *a, *a2, *td, *te;
	orch_task *t;

	env_open(&e, 60000);
	a = node_add_drivers(&e, "a", 2.0, 1024, exec, 1);
	td = task_add(&e, "docker-task", 0.5, 256);
	te = task_add_driver(&e, "exec-task", 0.5, 256, "exec");
	w = (struct want){&e, te, ST_SCHEDULED, NULL};
	ASSERT(h_wait_until(task_is, &w, 10000));
	t = task_get(&e, te);
	ASSERT_STR_EQ(t->node_id, a);
	ASSERT_STR_EQ(t->spec->driver, "exec");
	orch_task_free(t);
	w = (struct want){&e, td, ST_PENDING,
	    "no Ready node has the docker driver (1 Ready, with exec)"};
	ASSERT(h_wait_until(task_is, &w, 10000));
	/* Registered again with Docker: same node, the task placed. */
	a2 = node_add_drivers(&e, "a", 2.0, 1024, both, 2);
	ASSERT_STR_EQ(a2, a);
	w = (struct want){&e, td, ST_SCHEDULED, NULL};
	ASSERT(h_wait_until(task_is, &w, 10000));
	free(a);
	free(a2);
	free(td);
	free(te);
	env_close(&e);
}

/* The thread learns of a node's driver health from its beats: while the
 * node's Docker is unhealthy a docker task waits, saying why, and an exec
 * task is placed there; once a beat says healthy the docker task is
 * placed, without anything else committed. */
static void
test_thread_driver_health(void)
{
	char *both[] = {"docker", "exec"};
	Orch__DriverHealth dh = fa_driver_health("docker", false,
	                       "docker GET /_ping: cannot reach the Docker "
	                       "daemon at /run/d.sock: No such file or "
	                       "directory"),
	                   eh = fa_driver_health("exec", true, NULL);
	Orch__DriverHealth *sick[] = {&dh, &eh};
	struct env e;
	struct want w;
	char *a, *td, *te;
	orch_task *t;

	env_open(&e, 60000);
	a = node_add_drivers(&e, "a", 2.0, 1024, both, 2);
	ASSERT_INT_EQ(orch_nodes_beat(e.ns, a, sick, 2), ORCH_OK);
	td = task_add(&e, "docker-task", 0.5, 256);
	te = task_add_driver(&e, "exec-task", 0.5, 256, "exec");
	w = (struct want){&e, te, ST_SCHEDULED, NULL};
	ASSERT(h_wait_until(task_is, &w, 10000));
	t = task_get(&e, te);
	ASSERT_STR_EQ(t->node_id, a);
	orch_task_free(t);
	w = (struct want){&e, td, ST_PENDING,
	    "no Ready node has a healthy docker driver (1 has it, unhealthy: "
	    "a: docker GET /_ping: cannot reach the Docker daemon at "
	    "/run/d.sock: No such file or directory)"};
	ASSERT(h_wait_until(task_is, &w, 10000));
	/* The same report again changes nothing: still waiting. */
	ASSERT_INT_EQ(orch_nodes_beat(e.ns, a, sick, 2), ORCH_OK);
	ASSERT(task_is(&w));
	/* Healthy again (a beat that lists nothing means healthy). */
	ASSERT_INT_EQ(orch_nodes_beat(e.ns, a, NULL, 0), ORCH_OK);
	w = (struct want){&e, td, ST_SCHEDULED, NULL};
	ASSERT(h_wait_until(task_is, &w, 10000));
	t = task_get(&e, td);
	ASSERT_STR_EQ(t->node_id, a);
	orch_task_free(t);
	free(a);
	free(td);
	free(te);
	env_close(&e);
}

/* Tasks placed in one pass share the room they take: a node of 1 cpu
 * gets two tasks of 0.5 and no third. */
static void
test_thread_no_overcommit(void)
{
	struct env e;
	struct want w;
	char *a, *ids[3];

	env_open(&e, 60000);
	for (int i = 0; i < 3; i++) {
		char name[8];

		snprintf(name, sizeof(name), "t%d", i);
		ids[i] = task_add(&e, name, 0.5, 100);
	}
	a = node_add(&e, "a", 1.0, 1024);
	for (int i = 0; i < 2; i++) {
		w = (struct want){&e, ids[i], ST_SCHEDULED, NULL};
		ASSERT(h_wait_until(task_is, &w, 10000));
	}
	w = (struct want){&e, ids[2], ST_PENDING,
	    "most free: a with 824 MB "
	    "and 0 cpu"};
	ASSERT(h_wait_until(task_is, &w, 10000));
	for (int i = 0; i < 3; i++)
		free(ids[i]);
	free(a);
	env_close(&e);
}

struct node_tasks {
	struct env *e;
	const char *node;
	size_t n; /* that many tasks Scheduled or Running on node */
	bool beat;
};

static bool
node_has_tasks(void *arg)
{
	struct node_tasks *w = arg;
	orch_task **v = NULL;
	size_t n = 0;

	if (w->beat)
		ASSERT_INT_EQ(
		    orch_nodes_beat(w->e->ns, w->node, NULL, 0), ORCH_OK);
	ASSERT_INT_EQ(
	    orch_store_task_list_node(w->e->r, w->node, &v, &n), ORCH_OK);
	orch_store_task_list_free(v, n);
	return n == w->n;
}

/* More plain tasks than the reconciler's first allocation (64) lost with
 * their node at once: each is Failed and lost (under ASan this also
 * checks that the views shown to the reconciler stay valid as their
 * array grows). */
static void
test_thread_many_lost(void)
{
	enum { N = 150 };
	struct env e;
	struct node_tasks nt;
	char *a, *ids[N];

	/* The node joins once the tasks are in: it beats only from the
	 * wait below. */
	env_open(&e, 2000);
	for (int i = 0; i < N; i++) {
		char name[16];

		snprintf(name, sizeof(name), "t%d", i);
		ids[i] = task_add(&e, name, 0.1, 64);
	}
	a = node_add(&e, "a", 64.0, 65536);
	nt = (struct node_tasks){&e, a, N, true};
	ASSERT(h_wait_until(node_has_tasks, &nt, 30000));
	/* a falls silent. */
	nt = (struct node_tasks){&e, a, 0, false};
	ASSERT(h_wait_until(node_has_tasks, &nt, 30000));
	for (int i = 0; i < N; i++) {
		orch_task *t = task_get(&e, ids[i]);

		ASSERT_INT_EQ(t->status, ORCH__TASK_STATUS__TASK_STATUS_FAILED);
		ASSERT(t->lost);
		ASSERT_STR_EQ(t->error, "node a lost");
		orch_task_free(t);
		free(ids[i]);
	}
	free(a);
	env_close(&e);
}

/* Beats every node of beat_ids (a NULL-terminated list), then checks. */
static const char *beat_ids[4];

static void
beat_all(struct env *e)
{
	for (int i = 0; beat_ids[i] != NULL; i++)
		ASSERT_INT_EQ(
		    orch_nodes_beat(e->ns, beat_ids[i], NULL, 0), ORCH_OK);
}

struct svc_want {
	struct env *e;
	const char *service_id;
	size_t live;        /* Scheduled or Running, no stop asked */
	const char *node_a; /* that many of them on node_a ... */
	size_t on_a;
	size_t lost; /* ... and that many lost */
};

static bool
svc_is(void *arg)
{
	struct svc_want *w = arg;
	orch_task **v = NULL;
	size_t n = 0, live = 0, on_a = 0, lost = 0;

	beat_all(w->e);
	ASSERT_INT_EQ(
	    orch_store_task_list_service(w->e->r, w->service_id, &v, &n),
	    ORCH_OK);
	for (size_t i = 0; i < n; i++) {
		if ((v[i]->status == ST_SCHEDULED ||
		        v[i]->status == ST_RUNNING) &&
		    !v[i]->stop_requested) {
			live++;
			on_a += strcmp(v[i]->node_id, w->node_a) == 0;
		}
		/* A lost task and its replacement are two writes, which
		 * may commit apart: counted once it is replaced. */
		if (v[i]->lost) {
			ASSERT_STR_EQ(v[i]->error, "node b lost");
			if (v[i]->replaced_by != NULL)
				lost++;
		}
	}
	orch_store_task_list_free(v, n);
	return live == w->live && on_a == w->on_a && lost == w->lost;
}

/* A service's replicas are created and spread by the scheduler's own
 * pass; those of a node that goes Down are lost and placed again on the
 * other node, in one pass. */
static void
test_thread_service_and_lost(void)
{
	struct env e;
	orch_service *svc;
	struct orch_sched_stats ss;
	struct stats_min sm;
	struct svc_want w;
	char err[256], *a, *b;
	orch_task_spec *sp = malloc(sizeof(*sp));

	env_open(&e, 300);
	a = node_add(&e, "a", 4.0, 4096);
	b = node_add(&e, "b", 4.0, 4096);
	beat_ids[0] = a;
	beat_ids[1] = b;
	beat_ids[2] = NULL;
	ASSERT(sp != NULL);
	orch__task_spec__init(sp);
	sp->image = strdup("busybox:1");
	ASSERT_INT_EQ(orch_service_new("web", sp, 4, &svc), ORCH_OK);
	ASSERT_INT_EQ(
	    orch_store_service_create_sync(e.st, svc, &svc, err, sizeof(err)),
	    ORCH_OK);
	/* Four replicas, two on each node. */
	w = (struct svc_want){&e, svc->id, 4, a, 2, 0};
	ASSERT(h_wait_until(svc_is, &w, 10000));
	/* b falls silent: its two are lost and both run on a. */
	beat_ids[1] = NULL;
	w = (struct svc_want){&e, svc->id, 4, a, 4, 2};
	ASSERT(h_wait_until(svc_is, &w, 10000));
	sm = (struct stats_min){
	    .sched = e.sched, .lost = 2, .created = 4, .replaced = 2};
	ASSERT(h_wait_until(stats_reached, &sm, 10000));
	orch_sched_stats(e.sched, &ss);
	ASSERT_INT_EQ(ss.lost, 2);
	ASSERT_INT_EQ(ss.created, 4);
	orch_service_free(svc);
	free(a);
	free(b);
	env_close(&e);
}

/* The status each task had in the first commit that wrote it. */
struct first_seen {
	pthread_mutex_t mu;
	char id[16][ORCH_ID_LEN];
	int status[16];
	bool on_node[16];
	char node[16][ORCH_ID_LEN]; /* "" when on none */
	size_t n;
};

static void
first_seen_fn(void *arg, int kind, const char *id, const void *obj)
{
	struct first_seen *f = arg;
	const orch_task *t = obj;

	if (kind != ORCH_STORE_TASK || t == NULL || t->service_id == NULL)
		return;
	pthread_mutex_lock(&f->mu);
	for (size_t i = 0; i < f->n; i++) {
		if (strcmp(f->id[i], id) == 0) {
			pthread_mutex_unlock(&f->mu);
			return;
		}
	}
	if (f->n < 16) {
		snprintf(f->id[f->n], ORCH_ID_LEN, "%s", id);
		f->status[f->n] = (int)t->status;
		f->on_node[f->n] = t->node_id != NULL && t->node_id[0] != '\0';
		snprintf(f->node[f->n], ORCH_ID_LEN, "%s",
		    f->on_node[f->n] ? t->node_id : "");
		f->n++;
	}
	pthread_mutex_unlock(&f->mu);
}

static orch_service *
service_add(struct env *e, const char *name, uint32_t replicas)
{
	orch_task_spec *sp = malloc(sizeof(*sp));
	orch_service *svc;
	char err[256];

	ASSERT(sp != NULL);
	orch__task_spec__init(sp);
	sp->image = strdup("busybox:1");
	sp->has_memory_mb = true;
	sp->memory_mb = 256;
	ASSERT_INT_EQ(orch_service_new(name, sp, replicas, &svc), ORCH_OK);
	ASSERT_INT_EQ(
	    orch_store_service_create_sync(e->st, svc, &svc, err, sizeof(err)),
	    ORCH_OK);
	return svc;
}

/* Replicas are written Scheduled by the write that creates them (one
 * write each, not two), spread; but while an older task waits for room
 * they are created Pending and placed after it, in order. */
static void
test_thread_replicas_placed_at_once(void)
{
	struct env e;
	struct first_seen f = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct orch_sched_stats ss;
	struct stats_min sm;
	struct svc_want w;
	orch_service *svc;
	char *a, *b, *big;
	struct want tw;

	env_open(&e, 60000);
	ASSERT_INT_EQ(orch_store_listen(e.st, first_seen_fn, &f), ORCH_OK);
	a = node_add(&e, "a", 4.0, 4096);
	b = node_add(&e, "b", 4.0, 4096);
	beat_ids[0] = a;
	beat_ids[1] = b;
	beat_ids[2] = NULL;
	svc = service_add(&e, "web", 4);
	w = (struct svc_want){&e, svc->id, 4, a, 2, 0};
	ASSERT(h_wait_until(svc_is, &w, 10000));
	pthread_mutex_lock(&f.mu);
	ASSERT_INT_EQ(f.n, 4);
	for (size_t i = 0; i < f.n; i++) {
		ASSERT_INT_EQ(f.status[i], ST_SCHEDULED);
		ASSERT(f.on_node[i]);
	}
	f.n = 0;
	pthread_mutex_unlock(&f.mu);
	sm = (struct stats_min){.sched = e.sched, .placed = 4};
	ASSERT(h_wait_until(stats_reached, &sm, 10000));
	orch_sched_stats(e.sched, &ss);
	ASSERT_INT_EQ(ss.placed, 4);
	orch_service_free(svc);

	/* A task that fits nowhere waits: the next service's replicas
	 * queue behind it, and are placed by the placing half. */
	big = task_add(&e, "big", 1.0, 8192);
	tw = (struct want){&e, big, ST_PENDING, "8192 MB"};
	ASSERT(h_wait_until(task_is, &tw, 10000));
	svc = service_add(&e, "api", 2);
	w = (struct svc_want){&e, svc->id, 2, a, 1, 0};
	ASSERT(h_wait_until(svc_is, &w, 10000));
	pthread_mutex_lock(&f.mu);
	ASSERT_INT_EQ(f.n, 2);
	for (size_t i = 0; i < f.n; i++)
		ASSERT_INT_EQ(f.status[i], ST_PENDING);
	pthread_mutex_unlock(&f.mu);
	ASSERT(task_is(&tw));
	orch_store_unlisten(e.st, first_seen_fn, &f);
	orch_service_free(svc);
	free(big);
	free(a);
	free(b);
	env_close(&e);
}

/* The reconciler's placer, which writes a replica Scheduled as it creates
 * it, skips a node whose agent reports the docker driver unhealthy: all
 * of a service's replicas go to the healthy node, though spreading
 * would have put some on the other.  Once healthy, that node takes
 * replicas again the same way. */
static void
test_thread_replicas_skip_sick_driver(void)
{
	Orch__DriverHealth dh = fa_driver_health(
	    "docker", false, "docker GET /_ping: Connection refused");
	Orch__DriverHealth *sick[] = {&dh};
	struct first_seen f = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct stats_min sm;
	struct svc_want w;
	orch_service *svc;
	struct env e;
	char *a, *b;
	size_t on_a = 0;

	env_open(&e, 60000);
	/* No beats from svc_is: one without health would heal a. */
	beat_ids[0] = NULL;
	ASSERT_INT_EQ(orch_store_listen(e.st, first_seen_fn, &f), ORCH_OK);
	a = node_add(&e, "a", 4.0, 4096);
	b = node_add(&e, "b", 4.0, 4096);
	ASSERT_INT_EQ(orch_nodes_beat(e.ns, a, sick, 1), ORCH_OK);
	svc = service_add(&e, "web", 3);
	w = (struct svc_want){&e, svc->id, 3, a, 0, 0};
	ASSERT(h_wait_until(svc_is, &w, 10000));
	sm = (struct stats_min){.sched = e.sched, .placed = 3};
	ASSERT(h_wait_until(stats_reached, &sm, 10000));
	pthread_mutex_lock(&f.mu);
	ASSERT_INT_EQ(f.n, 3);
	for (size_t i = 0; i < f.n; i++) {
		ASSERT_INT_EQ(f.status[i], ST_SCHEDULED);
		ASSERT_STR_EQ(f.node[i], b);
	}
	f.n = 0;
	pthread_mutex_unlock(&f.mu);
	orch_service_free(svc);

	/* Healthy again: the next service's replicas are written Scheduled
	 * on a as well (the one with the most room). */
	ASSERT_INT_EQ(orch_nodes_beat(e.ns, a, NULL, 0), ORCH_OK);
	svc = service_add(&e, "api", 2);
	w = (struct svc_want){&e, svc->id, 2, b, 0, 0};
	w.node_a = a;
	w.on_a = 1;
	ASSERT(h_wait_until(svc_is, &w, 10000));
	pthread_mutex_lock(&f.mu);
	ASSERT_INT_EQ(f.n, 2);
	for (size_t i = 0; i < f.n; i++) {
		ASSERT_INT_EQ(f.status[i], ST_SCHEDULED);
		on_a += strcmp(f.node[i], a) == 0;
	}
	pthread_mutex_unlock(&f.mu);
	ASSERT_INT_EQ(on_a, 1);
	orch_store_unlisten(e.st, first_seen_fn, &f);
	orch_service_free(svc);
	free(a);
	free(b);
	env_close(&e);
}

/* ---- notices ---- */

#define NOTIFY_URL "inproc://test-scheduler-notify"
#define MARK "00000000-0000-4000-8000-00000000ffff"

static int
id_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The next message on s, as text: "nodes " and its ids sorted, joined by
 * ",", or "node/<id>" for a node's own notice. */
static void
told_recv(nng_socket s, char *out, size_t len)
{
	nng_msg *msg;
	const char *b;
	size_t n, o;

	ASSERT(nng_recvmsg(s, &msg, 0) == 0);
	b = nng_msg_body(msg);
	n = nng_msg_len(msg);
	if (n >= 6 && memcmp(b, "nodes ", 6) == 0) {
		Orch__NodeNotices *nn = orch__node_notices__unpack(
		    NULL, n - 6, (const uint8_t *)b + 6);

		ASSERT(nn != NULL);
		qsort(nn->node_ids, nn->n_node_ids, sizeof(char *), id_cmp);
		o = (size_t)snprintf(out, len, "nodes ");
		for (size_t i = 0; i < nn->n_node_ids && o < len; i++)
			o += (size_t)snprintf(out + o, len - o, "%s%s",
			    i > 0 ? "," : "", nn->node_ids[i]);
		orch__node_notices__free_unpacked(nn, NULL);
	} else {
		const char *sp = memchr(b, ' ', n);

		ASSERT(sp != NULL);
		snprintf(out, len, "%.*s", (int)(sp - b), b);
	}
	nng_msg_free(msg);
}

/* Nothing was published since the last message received: the next is
 * the marker sent now. */
static void
told_nothing_more(struct orch_notify *nt, nng_socket s)
{
	char got[256];

	orch_notify_node(nt, MARK);
	told_recv(s, got, sizeof(got));
	ASSERT_STR_EQ(got, "node/" MARK);
}

/* A pass that places on three nodes tells them in one message, "nodes "
 * listing the three, and so does one that creates a service's replicas
 * on them (the reconciler's placing): PUB sends each message to every
 * agent, so one per node would be nodes squared sends. */
static void
test_thread_tells_nodes_at_once(void)
{
	struct env e;
	struct orch_notify *nt;
	struct svc_want w;
	orch_service *svc;
	nng_socket sub;
	char err[256], want[256], got[256], *ids[3], *t[3];
	struct want tw;

	ASSERT_INT_EQ(orch_notify_open(&nt, "pub", err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(
	    orch_notify_listen(nt, NOTIFY_URL, NULL, err, sizeof(err)),
	    ORCH_OK);
	ASSERT(nng_sub0_open(&sub) == 0);
	ASSERT(nng_socket_set(sub, NNG_OPT_SUB_SUBSCRIBE, "", 0) == 0);
	ASSERT(nng_socket_set_ms(sub, NNG_OPT_RECVTIMEO, 100) == 0);
	ASSERT(nng_dial(sub, NOTIFY_URL, NULL, 0) == 0);
	/* Attached once a marker gets through (PUB drops what it sends
	 * before). */
	for (int i = 0; i < 100; i++) {
		nng_msg *msg;

		orch_notify_node(nt, MARK);
		if (nng_recvmsg(sub, &msg, 0) == 0) {
			nng_msg_free(msg);
			break;
		}
	}
	ASSERT(nng_socket_set_ms(sub, NNG_OPT_RECVTIMEO, 10000) == 0);
	told_nothing_more(nt, sub);

	/* Three tasks wait for three nodes: the first pass places all of
	 * them, spread, one on each. */
	env_open_idle(&e, 60000);
	ids[0] = node_add(&e, "a", 2.0, 1024);
	ids[1] = node_add(&e, "b", 2.0, 1024);
	ids[2] = node_add(&e, "c", 2.0, 1024);
	for (int i = 0; i < 3; i++)
		t[i] = task_add(&e, "one", 1.0, 256);
	ASSERT_INT_EQ(orch_sched_start(e.st, e.ns, nt, &e.sched), ORCH_OK);
	for (int i = 0; i < 3; i++) {
		tw = (struct want){&e, t[i], ST_SCHEDULED, NULL};
		ASSERT(h_wait_until(task_is, &tw, 10000));
	}
	{
		char *sorted[3] = {ids[0], ids[1], ids[2]};

		qsort(sorted, 3, sizeof(char *), id_cmp);
		snprintf(want, sizeof(want), "nodes %s,%s,%s", sorted[0],
		    sorted[1], sorted[2]);
	}
	told_recv(sub, got, sizeof(got));
	ASSERT_STR_EQ(got, want);
	told_nothing_more(nt, sub);

	/* Three replicas, one on each (spread): one message again. */
	beat_ids[0] = ids[0];
	beat_ids[1] = ids[1];
	beat_ids[2] = ids[2];
	beat_ids[3] = NULL;
	svc = service_add(&e, "web", 3);
	w = (struct svc_want){&e, svc->id, 3, ids[0], 1, 0};
	ASSERT(h_wait_until(svc_is, &w, 10000));
	told_recv(sub, got, sizeof(got));
	ASSERT_STR_EQ(got, want);
	told_nothing_more(nt, sub);

	orch_service_free(svc);
	env_close(&e);
	nng_close(sub);
	orch_notify_close(nt);
	for (int i = 0; i < 3; i++) {
		free(ids[i]);
		free(t[i]);
	}
}

int
main(void)
{
	RUN(test_pick_fits);
	RUN(test_pick_spreads);
	RUN(test_pick_ties);
	RUN(test_pick_skips_not_ready);
	RUN(test_explain);
	RUN(test_pick_binpack);
	RUN(test_pick_constraints_and_drain);
	RUN(test_pick_service_spread);
	RUN(test_picker_matches_pick);
	RUN(test_pick_driver);
	RUN(test_pick_unhealthy);
	RUN(test_pick_driver_mask);
	RUN(test_thread_places);
	RUN(test_thread_down_node);
	RUN(test_thread_no_overcommit);
	RUN(test_thread_many_lost);
	RUN(test_thread_service_and_lost);
	RUN(test_thread_replicas_placed_at_once);
	RUN(test_thread_replicas_skip_sick_driver);
	RUN(test_thread_driver);
	RUN(test_thread_driver_health);
	RUN(test_thread_tells_nodes_at_once);
	return 0;
}
