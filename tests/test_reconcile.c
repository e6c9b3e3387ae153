/*
 * test_reconcile.c: the agent's decisions (agent/reconcile.c) on made-up
 * inputs: every rule, adoption after a restart, busy keys, and that inputs
 * which agree (or a repeated heartbeat) produce nothing twice.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "harness.h"
#include "reconcile.h"
#include "task.h"

#define ID_A "aaaaaaaa-0000-4000-8000-000000000001"
#define ID_B "bbbbbbbb-0000-4000-8000-000000000002"
#define ID_C "cccccccc-0000-4000-8000-000000000003"
#define ID_D "dddddddd-0000-4000-8000-000000000004"
#define CID_1 "1111111111111111111111111111111111111111111111111111111111111111"
#define CID_2 "2222222222222222222222222222222222222222222222222222222222222222"
#define CID_3 "3333333333333333333333333333333333333333333333333333333333333333"

enum {
	SCHEDULED = ORCH__TASK_STATUS__TASK_STATUS_SCHEDULED,
	RUNNING = ORCH__TASK_STATUS__TASK_STATUS_RUNNING,
	COMPLETED = ORCH__TASK_STATUS__TASK_STATUS_COMPLETED,
	FAILED = ORCH__TASK_STATUS__TASK_STATUS_FAILED,
	STOPPED = ORCH__TASK_STATUS__TASK_STATUS_STOPPED,
	PENDING = ORCH__TASK_STATUS__TASK_STATUS_PENDING,
};

static orch_task_spec spec = ORCH__TASK_SPEC__INIT;

/* A task as the manager sends it.  Strings point at literals: these tasks
 * are never freed. */
static orch_task
task(const char *id, int status, const char *cid, bool stop)
{
	orch_task t = ORCH__TASK__INIT;

	spec.name = (char *)"t";
	spec.image = (char *)"orch-test/busybox:latest";
	t.id = (char *)id;
	t.spec = &spec;
	t.has_status = true;
	t.status = (Orch__TaskStatus)status;
	t.node_id = (char *)"node-1";
	t.container_id = (char *)cid;
	if (stop) {
		t.has_stop_requested = true;
		t.stop_requested = true;
	}
	return t;
}

static struct orch_instance
running(const char *task_id, const char *cid, int64_t started)
{
	struct orch_instance x;

	memset(&x, 0, sizeof(x));
	snprintf(x.task_id, sizeof(x.task_id), "%s", task_id);
	snprintf(x.handle, sizeof(x.handle), "%s", cid);
	x.running = true;
	x.started_at_ms = started;
	return x;
}

static struct orch_instance
exited(const char *task_id, const char *cid, int code, int64_t started,
    int64_t finished)
{
	struct orch_instance x = running(task_id, cid, started);

	x.running = false;
	x.exited = true;
	x.exit_code = code;
	x.finished_at_ms = finished;
	return x;
}

static struct orch_instance
created(const char *task_id, const char *cid)
{
	struct orch_instance x = running(task_id, cid, 0);

	x.running = false;
	return x;
}

/* One reconcile; the actions stay in acts (freed by the next call). */
static struct orch_action *acts;
static size_t nacts;

static void
run(const orch_task *const *tasks, size_t nt, const struct orch_instance *inst,
    size_t ni, const char *const *busy, size_t nb)
{
	struct orch_reconcile_input in = {
	    .tasks = tasks,
	    .n_tasks = nt,
	    .instances = inst,
	    .n_instances = ni,
	    .busy = busy,
	    .n_busy = nb,
	};

	free(acts);
	acts = NULL;
	ASSERT_INT_EQ(orch_reconcile(&in, &acts, &nacts), ORCH_OK);
	ASSERT((nacts == 0) == (acts == NULL));
}

/* The action on key, or NULL. */
static const struct orch_action *
act(const char *key)
{
	const struct orch_action *found = NULL;

	for (size_t i = 0; i < nacts; i++) {
		if (strcmp(acts[i].key, key) == 0) {
			/* Never two actions on one key. */
			ASSERT(found == NULL);
			found = &acts[i];
		}
	}
	return found;
}

/* ---- START ---- */

static void
test_empty(void)
{
	run(NULL, 0, NULL, 0, NULL, 0);
	ASSERT_INT_EQ(nacts, 0);
}

static void
test_start_scheduled(void)
{
	orch_task a = task(ID_A, SCHEDULED, NULL, false);
	const orch_task *ts[] = {&a};
	const struct orch_action *x;

	run(ts, 1, NULL, 0, NULL, 0);
	ASSERT_INT_EQ(nacts, 1);
	x = act(ID_A);
	ASSERT(x != NULL);
	ASSERT_INT_EQ(x->kind, ORCH_ACTION_START);
	ASSERT(x->task == &a);
	ASSERT_STR_EQ(orch_action_kind_name(x->kind), "start");
}

static void
test_start_created_instance(void)
{
	/* A container made but never started (an agent killed mid-start):
	 * START, which the driver turns into an adoption. */
	orch_task a = task(ID_A, SCHEDULED, NULL, false);
	const orch_task *ts[] = {&a};
	struct orch_instance in[] = {created(ID_A, CID_1)};

	run(ts, 1, in, 1, NULL, 0);
	ASSERT_INT_EQ(nacts, 1);
	ASSERT_INT_EQ(act(ID_A)->kind, ORCH_ACTION_START);
}

static void
test_duplicate_assignment(void)
{
	/* The same task listed twice is one task. */
	orch_task a = task(ID_A, SCHEDULED, NULL, false);
	orch_task a2 = task(ID_A, SCHEDULED, NULL, false);
	const orch_task *ts[] = {&a, &a2};

	run(ts, 2, NULL, 0, NULL, 0);
	ASSERT_INT_EQ(nacts, 1);
	ASSERT_INT_EQ(act(ID_A)->kind, ORCH_ACTION_START);
}

static void
test_malformed_tasks_ignored(void)
{
	orch_task bad = task("not-a-uuid", SCHEDULED, NULL, false);
	orch_task noid = task(NULL, SCHEDULED, NULL, false);
	const orch_task *ts[] = {NULL, &bad, &noid};

	run(ts, 3, NULL, 0, NULL, 0);
	ASSERT_INT_EQ(nacts, 0);
}

static void
test_pending_left_alone(void)
{
	/* Not the node's to run yet, and its instance (should one exist)
	 * is not removed on a guess. */
	orch_task a = task(ID_A, PENDING, NULL, false);
	const orch_task *ts[] = {&a};
	struct orch_instance in[] = {running(ID_A, CID_1, 5)};

	run(ts, 1, in, 1, NULL, 0);
	ASSERT_INT_EQ(nacts, 0);
}

/* ---- REPORT ---- */

static void
test_report_running(void)
{
	orch_task a = task(ID_A, SCHEDULED, NULL, false);
	const orch_task *ts[] = {&a};
	struct orch_instance in[] = {running(ID_A, CID_1, 1000)};
	const struct orch_action *x;

	run(ts, 1, in, 1, NULL, 0);
	ASSERT_INT_EQ(nacts, 1);
	x = act(ID_A);
	ASSERT_INT_EQ(x->kind, ORCH_ACTION_REPORT);
	ASSERT_STR_EQ(x->report.task_id, ID_A);
	ASSERT_INT_EQ(x->report.status, RUNNING);
	ASSERT_STR_EQ(x->report.container_id, CID_1);
	ASSERT(!x->report.has_exit_code);
	ASSERT_STR_EQ(x->report.error, "");
	ASSERT_INT_EQ(x->report.started_at_ms, 1000);
	ASSERT_INT_EQ(x->report.finished_at_ms, 0);
}

static void
test_running_known_no_report(void)
{
	/* The manager already says Running with this container: nothing,
	 * however many times the heartbeat repeats it. */
	orch_task a = task(ID_A, RUNNING, CID_1, false);
	const orch_task *ts[] = {&a};
	struct orch_instance in[] = {running(ID_A, CID_1, 1000)};

	for (int i = 0; i < 3; i++) {
		run(ts, 1, in, 1, NULL, 0);
		ASSERT_INT_EQ(nacts, 0);
	}
}

static void
test_running_other_container(void)
{
	/* The manager knows another container id (the task was started
	 * again): it learns the new one. */
	orch_task a = task(ID_A, RUNNING, CID_2, false);
	const orch_task *ts[] = {&a};
	struct orch_instance in[] = {running(ID_A, CID_1, 1000)};

	run(ts, 1, in, 1, NULL, 0);
	ASSERT_INT_EQ(nacts, 1);
	ASSERT_INT_EQ(act(ID_A)->kind, ORCH_ACTION_REPORT);
	ASSERT_INT_EQ(act(ID_A)->report.status, RUNNING);
	ASSERT_STR_EQ(act(ID_A)->report.container_id, CID_1);

	/* Running without a container id on record: reported too. */
	a = task(ID_A, RUNNING, NULL, false);
	run(ts, 1, in, 1, NULL, 0);
	ASSERT_INT_EQ(nacts, 1);
	ASSERT_INT_EQ(act(ID_A)->report.status, RUNNING);
}

static void
test_report_completed(void)
{
	orch_task a = task(ID_A, RUNNING, CID_1, false);
	const orch_task *ts[] = {&a};
	struct orch_instance in[] = {exited(ID_A, CID_1, 0, 1000, 2000)};
	const struct orch_action *x;

	run(ts, 1, in, 1, NULL, 0);
	ASSERT_INT_EQ(nacts, 1);
	x = act(ID_A);
	ASSERT_INT_EQ(x->kind, ORCH_ACTION_REPORT);
	ASSERT_INT_EQ(x->report.status, COMPLETED);
	ASSERT(x->report.has_exit_code);
	ASSERT_INT_EQ(x->report.exit_code, 0);
	ASSERT_STR_EQ(x->report.error, "");
	ASSERT_STR_EQ(x->report.container_id, CID_1);
	ASSERT_INT_EQ(x->report.started_at_ms, 1000);
	ASSERT_INT_EQ(x->report.finished_at_ms, 2000);
}

static void
test_report_failed(void)
{
	orch_task a = task(ID_A, RUNNING, CID_1, false);
	const orch_task *ts[] = {&a};
	struct orch_instance in[] = {exited(ID_A, CID_1, 3, 1000, 2000)};
	const struct orch_action *x;

	run(ts, 1, in, 1, NULL, 0);
	ASSERT_INT_EQ(nacts, 1);
	x = act(ID_A);
	ASSERT_INT_EQ(x->kind, ORCH_ACTION_REPORT);
	ASSERT_INT_EQ(x->report.status, FAILED);
	ASSERT(x->report.has_exit_code);
	ASSERT_INT_EQ(x->report.exit_code, 3);
	ASSERT_STR_EQ(x->report.error, "exited with code 3");
	ASSERT_INT_EQ(x->report.finished_at_ms, 2000);

	/* Negative codes and the runtime's own words. */
	in[0] = exited(ID_A, CID_1, 137, 1000, 2000);
	snprintf(in[0].error, sizeof(in[0].error), "OCI runtime said no");
	run(ts, 1, in, 1, NULL, 0);
	ASSERT_STR_EQ(act(ID_A)->report.error,
	    "exited with code 137: OCI runtime said no");
}

static void
test_exited_before_running_reported(void)
{
	/* The container ran and ended before the manager heard it was
	 * Running (a quick task, or an agent down meanwhile): the final
	 * status goes straight from Scheduled. */
	orch_task a = task(ID_A, SCHEDULED, NULL, false);
	const orch_task *ts[] = {&a};
	struct orch_instance in[] = {exited(ID_A, CID_1, 0, 1000, 1001)};

	run(ts, 1, in, 1, NULL, 0);
	ASSERT_INT_EQ(nacts, 1);
	ASSERT_INT_EQ(act(ID_A)->kind, ORCH_ACTION_REPORT);
	ASSERT_INT_EQ(act(ID_A)->report.status, COMPLETED);
}

static void
test_disappeared(void)
{
	orch_task a = task(ID_A, RUNNING, CID_1, false);
	const orch_task *ts[] = {&a};
	const struct orch_action *x;

	run(ts, 1, NULL, 0, NULL, 0);
	ASSERT_INT_EQ(nacts, 1);
	x = act(ID_A);
	ASSERT_INT_EQ(x->kind, ORCH_ACTION_REPORT);
	ASSERT_INT_EQ(x->report.status, FAILED);
	ASSERT_STR_EQ(x->report.error, ORCH_ERR_DISAPPEARED);
	ASSERT_STR_EQ(x->report.error, "container disappeared");
	ASSERT(!x->report.has_exit_code);
	/* Absent: the manager keeps the container id it has. */
	ASSERT_STR_EQ(x->report.container_id, "");
}

static void
test_prefers_running_instance(void)
{
	/* Two instances of one task (not made by the driver, which names
	 * containers after tasks): the running one counts, the other is
	 * left alone rather than acted on twice. */
	orch_task a = task(ID_A, RUNNING, CID_2, false);
	const orch_task *ts[] = {&a};
	struct orch_instance in[] = {
	    exited(ID_A, CID_1, 1, 1, 2), running(ID_A, CID_2, 3)};

	run(ts, 1, in, 2, NULL, 0);
	ASSERT_INT_EQ(nacts, 0);
}

static void
test_report_helper(void)
{
	orch_task a = task(ID_A, RUNNING, CID_1, false);
	struct orch_instance r1 = running(ID_A, CID_1, 1);
	struct orch_instance c1 = created(ID_A, CID_1);
	struct orch_instance e1 = exited(ID_A, CID_1, 0, 1, 2);
	struct orch_report r;

	ASSERT(!orch_reconcile_report(&a, &r1, &r));
	ASSERT(!orch_reconcile_report(&a, &c1, &r));
	ASSERT(orch_reconcile_report(&a, &e1, &r));
	ASSERT_INT_EQ(r.status, COMPLETED);
	ASSERT_STR_EQ(orch_reconcile_key(&r1), ID_A);
	c1.task_id[0] = '\0';
	ASSERT_STR_EQ(orch_reconcile_key(&c1), CID_1);
}

/* ---- STOP ---- */

static void
test_stop_running(void)
{
	orch_task a = task(ID_A, RUNNING, CID_1, true);
	const orch_task *ts[] = {&a};
	struct orch_instance in[] = {running(ID_A, CID_1, 1)};
	const struct orch_action *x;

	run(ts, 1, in, 1, NULL, 0);
	ASSERT_INT_EQ(nacts, 1);
	x = act(ID_A);
	ASSERT_INT_EQ(x->kind, ORCH_ACTION_STOP);
	ASSERT_STR_EQ(x->handle, CID_1);
	ASSERT(x->task == &a);
	ASSERT_STR_EQ(x->report.task_id, ID_A);
	ASSERT_INT_EQ(x->report.status, STOPPED);
}

static void
test_stop_without_instance(void)
{
	/* Scheduled here but never started (or already removed): still
	 * reported Stopped, with nothing to stop. */
	orch_task a = task(ID_A, SCHEDULED, NULL, true);
	const orch_task *ts[] = {&a};

	run(ts, 1, NULL, 0, NULL, 0);
	ASSERT_INT_EQ(nacts, 1);
	ASSERT_INT_EQ(act(ID_A)->kind, ORCH_ACTION_STOP);
	ASSERT_STR_EQ(act(ID_A)->handle, "");
	ASSERT_INT_EQ(act(ID_A)->report.status, STOPPED);
}

static void
test_stop_exited_instance(void)
{
	/* The stop wins over the exit that raced it: one action, STOP. */
	orch_task a = task(ID_A, RUNNING, CID_1, true);
	const orch_task *ts[] = {&a};
	struct orch_instance in[] = {exited(ID_A, CID_1, 0, 1, 2)};

	run(ts, 1, in, 1, NULL, 0);
	ASSERT_INT_EQ(nacts, 1);
	ASSERT_INT_EQ(act(ID_A)->kind, ORCH_ACTION_STOP);
	ASSERT_STR_EQ(act(ID_A)->handle, CID_1);
}

/* ---- REMOVE ---- */

static void
test_remove_unwanted(void)
{
	/* Not assigned at all: finished and dropped by the manager, or given
	 * to another node.  A container without a task label is ours (the
	 * node label says so) and unwanted too, keyed by its handle. */
	struct orch_instance in[] = {running(ID_B, CID_1, 1),
	    exited(ID_C, CID_2, 0, 1, 2), created("", CID_3)};
	const struct orch_action *x;

	run(NULL, 0, in, 3, NULL, 0);
	ASSERT_INT_EQ(nacts, 3);
	x = act(ID_B);
	ASSERT_INT_EQ(x->kind, ORCH_ACTION_REMOVE);
	ASSERT_STR_EQ(x->handle, CID_1);
	ASSERT(x->task == NULL);
	ASSERT_INT_EQ(act(ID_C)->kind, ORCH_ACTION_REMOVE);
	ASSERT_STR_EQ(act(ID_C)->handle, CID_2);
	ASSERT_INT_EQ(act(CID_3)->kind, ORCH_ACTION_REMOVE);
	ASSERT_STR_EQ(act(CID_3)->handle, CID_3);
}

static void
test_remove_final_task(void)
{
	/* A final task listed anyway is not wanted: its container goes,
	 * and nothing is reported (it cannot change any more). */
	orch_task b = task(ID_B, COMPLETED, CID_1, false);
	orch_task c = task(ID_C, STOPPED, CID_2, true);
	const orch_task *ts[] = {&b, &c};
	struct orch_instance in[] = {
	    exited(ID_B, CID_1, 0, 1, 2), exited(ID_C, CID_2, 137, 1, 2)};

	run(ts, 2, in, 2, NULL, 0);
	ASSERT_INT_EQ(nacts, 2);
	ASSERT_INT_EQ(act(ID_B)->kind, ORCH_ACTION_REMOVE);
	ASSERT_INT_EQ(act(ID_C)->kind, ORCH_ACTION_REMOVE);
}

/* Stop and remove go to the driver that listed the instance: each
 * action carries it. */
static void
test_actions_carry_driver(void)
{
	static const struct orch_driver_ops exec_ops = {.name = "exec"},
	                                    docker_ops = {.name = "docker"};
	orch_task a = task(ID_A, RUNNING, "exec-" ID_A, true);
	const orch_task *ts[] = {&a};
	struct orch_instance in[] = {
	    running(ID_A, "exec-" ID_A, 1), running(ID_B, CID_1, 1)};

	in[0].driver = &exec_ops;
	in[1].driver = &docker_ops;
	run(ts, 1, in, 2, NULL, 0);
	ASSERT_INT_EQ(nacts, 2);
	ASSERT_INT_EQ(act(ID_A)->kind, ORCH_ACTION_STOP);
	ASSERT(act(ID_A)->driver == &exec_ops);
	ASSERT_INT_EQ(act(ID_B)->kind, ORCH_ACTION_REMOVE);
	ASSERT(act(ID_B)->driver == &docker_ops);
}

/* An instance that ended without a record of how (an exec task whose
 * supervisor was killed): Failed with its reason, and no exit code. */
static void
test_exit_unknown(void)
{
	orch_task a = task(ID_A, RUNNING, "exec-" ID_A, false);
	const orch_task *ts[] = {&a};
	struct orch_instance in[] = {exited(ID_A, "exec-" ID_A, 0, 1, 0)};
	const struct orch_action *x;

	in[0].exit_unknown = true;
	snprintf(in[0].error, sizeof(in[0].error),
	    "the host restarted while it ran; exit code unknown");
	run(ts, 1, in, 1, NULL, 0);
	ASSERT_INT_EQ(nacts, 1);
	x = act(ID_A);
	ASSERT_INT_EQ(x->kind, ORCH_ACTION_REPORT);
	ASSERT_INT_EQ(x->report.status, FAILED);
	ASSERT(!x->report.has_exit_code);
	ASSERT_STR_EQ(x->report.error,
	    "the host restarted while it ran; exit code unknown");
	ASSERT_STR_EQ(x->report.container_id, "exec-" ID_A);
	/* Reported, it is final: nothing more but its removal. */
	a = task(ID_A, FAILED, "exec-" ID_A, false);
	run(ts, 1, in, 1, NULL, 0);
	ASSERT_INT_EQ(nacts, 1);
	ASSERT_INT_EQ(act(ID_A)->kind, ORCH_ACTION_REMOVE);
}

/* ---- busy keys ---- */

static void
test_busy_excluded(void)
{
	orch_task a = task(ID_A, SCHEDULED, NULL, false);
	orch_task b = task(ID_B, RUNNING, CID_1, false);
	orch_task c = task(ID_C, RUNNING, CID_2, true);
	orch_task d = task(ID_D, RUNNING, NULL, false);
	const orch_task *ts[] = {&a, &b, &c, &d};
	struct orch_instance in[] = {exited(ID_B, CID_1, 0, 1, 2),
	    running(ID_C, CID_2, 1), running("", CID_3, 1)};
	const char *busy[] = {ID_A, ID_B, ID_C, ID_D, CID_3};

	/* Without busy keys: START a, REPORT b, STOP c, REPORT d (gone),
	 * REMOVE the unlabelled one. */
	run(ts, 4, in, 3, NULL, 0);
	ASSERT_INT_EQ(nacts, 5);
	ASSERT_INT_EQ(act(ID_A)->kind, ORCH_ACTION_START);
	ASSERT_INT_EQ(act(ID_B)->kind, ORCH_ACTION_REPORT);
	ASSERT_INT_EQ(act(ID_C)->kind, ORCH_ACTION_STOP);
	ASSERT_INT_EQ(act(ID_D)->kind, ORCH_ACTION_REPORT);
	ASSERT_INT_EQ(act(CID_3)->kind, ORCH_ACTION_REMOVE);

	/* All busy: nothing. */
	run(ts, 4, in, 3, busy, 5);
	ASSERT_INT_EQ(nacts, 0);

	/* One busy: only it is left alone. */
	run(ts, 4, in, 3, busy + 1, 1);
	ASSERT_INT_EQ(nacts, 4);
	ASSERT(act(ID_B) == NULL);
	ASSERT(act(ID_A) != NULL);
}

static void
test_busy_start_not_disappeared(void)
{
	/* The start's report reached the manager (Running, container 1)
	 * before the list saw the container: while the key is busy the
	 * missing instance is not taken for a disappearance. */
	orch_task a = task(ID_A, RUNNING, CID_1, false);
	const orch_task *ts[] = {&a};
	const char *busy[] = {ID_A};

	run(ts, 1, NULL, 0, busy, 1);
	ASSERT_INT_EQ(nacts, 0);
}

static void
test_busy_unwanted_instance(void)
{
	/* A task being started that the manager has since dropped (stopped
	 * before it ran, say): its container is removed once the start is
	 * over, not during it. */
	struct orch_instance in[] = {running(ID_A, CID_1, 1)};
	const char *busy[] = {ID_A};

	run(NULL, 0, in, 1, busy, 1);
	ASSERT_INT_EQ(nacts, 0);
	run(NULL, 0, in, 1, NULL, 0);
	ASSERT_INT_EQ(nacts, 1);
	ASSERT_INT_EQ(act(ID_A)->kind, ORCH_ACTION_REMOVE);
}

/* ---- whole scenarios ---- */

static void
test_adoption_after_restart(void)
{
	/* A new agent lists what the old one left and hears the manager:
	 *   a: Running, its container still runs       -> nothing
	 *   b: Running, its container exited with 7    -> Failed, code 7
	 *   c: no longer assigned, container running   -> REMOVE
	 *   d: Scheduled, never started                -> START */
	orch_task a = task(ID_A, RUNNING, CID_1, false);
	orch_task b = task(ID_B, RUNNING, CID_2, false);
	orch_task d = task(ID_D, SCHEDULED, NULL, false);
	const orch_task *ts[] = {&a, &b, &d};
	struct orch_instance in[] = {running(ID_A, CID_1, 10),
	    exited(ID_B, CID_2, 7, 10, 20), running(ID_C, CID_3, 10)};

	run(ts, 3, in, 3, NULL, 0);
	ASSERT_INT_EQ(nacts, 3);
	ASSERT(act(ID_A) == NULL);
	ASSERT_INT_EQ(act(ID_B)->kind, ORCH_ACTION_REPORT);
	ASSERT_INT_EQ(act(ID_B)->report.status, FAILED);
	ASSERT_INT_EQ(act(ID_B)->report.exit_code, 7);
	ASSERT_INT_EQ(act(ID_B)->report.started_at_ms, 10);
	ASSERT_INT_EQ(act(ID_B)->report.finished_at_ms, 20);
	ASSERT_INT_EQ(act(ID_C)->kind, ORCH_ACTION_REMOVE);
	ASSERT_STR_EQ(act(ID_C)->handle, CID_3);
	ASSERT_INT_EQ(act(ID_D)->kind, ORCH_ACTION_START);
}

static void
test_converges_without_repeats(void)
{
	/* Play the loop: apply each action's effect to the manager's view
	 * and the instances, reconcile again, until nothing is left.  Every
	 * report is sent once. */
	orch_task a = task(ID_A, SCHEDULED, NULL, false);
	orch_task b = task(ID_B, RUNNING, CID_2, false);
	const orch_task *ts[] = {&a, &b};
	struct orch_instance in[4];
	size_t ni = 0;
	int reports_a = 0, reports_b = 0, rounds = 0;

	in[ni++] = exited(ID_B, CID_2, 0, 1, 2);
	for (;;) {
		run(ts, 2, in, ni, NULL, 0);
		if (nacts == 0)
			break;
		ASSERT(++rounds < 10);
		for (size_t i = 0; i < nacts; i++) {
			struct orch_action *x = &acts[i];

			if (x->kind == ORCH_ACTION_START) {
				in[ni++] = running(ID_A, CID_1, 5);
			} else if (x->kind == ORCH_ACTION_REPORT) {
				orch_task *t =
				    strcmp(x->key, ID_A) == 0 ? &a : &b;

				if (t == &a)
					reports_a++;
				else
					reports_b++;
				t->status = (Orch__TaskStatus)x->report.status;
				t->container_id =
				    (char *)(strcmp(x->key, ID_A) == 0 ? CID_1
				                                       : CID_2);
			} else if (x->kind == ORCH_ACTION_REMOVE) {
				for (size_t j = 0; j < ni; j++) {
					if (strcmp(in[j].handle, x->handle) ==
					    0) {
						in[j] = in[--ni];
						break;
					}
				}
			}
		}
	}
	ASSERT_INT_EQ(reports_a, 1);
	ASSERT_INT_EQ(reports_b, 1);
	ASSERT_INT_EQ(a.status, RUNNING);
	ASSERT_INT_EQ(b.status, COMPLETED);
	/* b is final now but still listed: its container was removed. */
	ASSERT_INT_EQ(ni, 1);
	ASSERT_STR_EQ(in[0].task_id, ID_A);
}

/* What a task's health calls for: Running with it when the manager's
 * differs, Failed with the checks' words when unhealthy, nothing for a
 * task the manager does not believe Running in that instance. */
static void
test_health_reports(void)
{
	enum {
		STARTING = ORCH__HEALTH_STATUS__HEALTH_STATUS_STARTING,
		HEALTHY = ORCH__HEALTH_STATUS__HEALTH_STATUS_HEALTHY,
		UNHEALTHY = ORCH__HEALTH_STATUS__HEALTH_STATUS_UNHEALTHY,
	};
	const char *why = "health check failed 3 times: tcp :80 -> refused";
	orch_task t = task(ID_A, RUNNING, CID_1, false);
	struct orch_instance x = running(ID_A, CID_1, 1000);
	struct orch_report r;

	t.has_health = true;
	t.health = (Orch__HealthStatus)STARTING;
	ASSERT(orch_reconcile_health(&t, &x, HEALTHY, "", &r));
	ASSERT_INT_EQ(r.status, RUNNING);
	ASSERT_INT_EQ(r.health, HEALTHY);
	ASSERT_STR_EQ(r.task_id, ID_A);
	ASSERT_STR_EQ(r.container_id, CID_1);
	ASSERT_INT_EQ(r.started_at_ms, 1000);
	ASSERT_STR_EQ(r.error, "");
	/* Once the manager knows, nothing more. */
	t.health = (Orch__HealthStatus)HEALTHY;
	ASSERT(!orch_reconcile_health(&t, &x, HEALTHY, "", &r));

	ASSERT(orch_reconcile_health(&t, &x, UNHEALTHY, why, &r));
	ASSERT_INT_EQ(r.status, FAILED);
	ASSERT_INT_EQ(r.health, UNHEALTHY);
	ASSERT_STR_EQ(r.error, why);
	ASSERT_STR_EQ(r.container_id, CID_1);
	ASSERT(!r.has_exit_code);

	/* Not Running on the manager, another container, stopping, or an
	 * instance that no longer runs: the reconcile's business. */
	t = task(ID_A, SCHEDULED, CID_1, false);
	ASSERT(!orch_reconcile_health(&t, &x, UNHEALTHY, why, &r));
	t = task(ID_A, RUNNING, CID_2, false);
	ASSERT(!orch_reconcile_health(&t, &x, UNHEALTHY, why, &r));
	t = task(ID_A, RUNNING, CID_1, true);
	ASSERT(!orch_reconcile_health(&t, &x, UNHEALTHY, why, &r));
	t = task(ID_A, RUNNING, CID_1, false);
	x = exited(ID_A, CID_1, 1, 1000, 2000);
	ASSERT(!orch_reconcile_health(&t, &x, UNHEALTHY, why, &r));
	x = running(ID_A, CID_1, 1000);
	ASSERT(!orch_reconcile_health(&t, &x, 0, "", &r));
	/* Starting is never reported: the manager sets it itself, and an
	 * agent that restarted (its checks starting over) must not take a
	 * healthy task back to it. */
	ASSERT(!orch_reconcile_health(&t, &x, STARTING, "", &r));
	t.has_health = true;
	t.health = (Orch__HealthStatus)HEALTHY;
	ASSERT(!orch_reconcile_health(&t, &x, STARTING, "", &r));
}

int
main(void)
{
	RUN(test_empty);
	RUN(test_start_scheduled);
	RUN(test_start_created_instance);
	RUN(test_duplicate_assignment);
	RUN(test_malformed_tasks_ignored);
	RUN(test_pending_left_alone);
	RUN(test_report_running);
	RUN(test_running_known_no_report);
	RUN(test_running_other_container);
	RUN(test_report_completed);
	RUN(test_report_failed);
	RUN(test_exited_before_running_reported);
	RUN(test_disappeared);
	RUN(test_prefers_running_instance);
	RUN(test_report_helper);
	RUN(test_stop_running);
	RUN(test_stop_without_instance);
	RUN(test_stop_exited_instance);
	RUN(test_remove_unwanted);
	RUN(test_remove_final_task);
	RUN(test_actions_carry_driver);
	RUN(test_exit_unknown);
	RUN(test_busy_excluded);
	RUN(test_busy_start_not_disappeared);
	RUN(test_busy_unwanted_instance);
	RUN(test_adoption_after_restart);
	RUN(test_converges_without_repeats);
	RUN(test_health_reports);
	free(acts);
	return 0;
}
