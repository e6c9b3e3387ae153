/*
 * reconcile.h: what the agent must do to bring its node to the desired
 * state, decided by a pure function.
 *
 * The manager's heartbeat reply (Assignments) says which tasks it wants
 * on this node and what it believes about them; the driver's list says
 * which instances exist and how they are doing; the agent knows which
 * tasks it is busy with.  orch_reconcile() compares the three and returns
 * the actions that close the gap.  It does no I/O and reads no clock, so
 * that every rule is tested with made-up inputs (tests/test_reconcile.c),
 * and it is idempotent: the same inputs give the same actions, and inputs
 * that agree give none, which is what makes a repeated heartbeat, a
 * duplicated assignment or a restarted agent harmless.
 */
#ifndef ORCH_RECONCILE_H
#define ORCH_RECONCILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "driver.h"
#include "task.h"

/* The longest error text of a report, NUL included. */
#define ORCH_REPORT_ERROR_LEN 512

/* The error of a task the manager believes Running whose instance is gone. */
#define ORCH_ERR_DISAPPEARED "container disappeared"

enum orch_action_kind {
	/* Start the task's instance (the driver adopts one that exists),
	 * then report what it became. */
	ORCH_ACTION_START,
	/* Send the report to the manager. */
	ORCH_ACTION_REPORT,
	/* A stop request: stop the instance (handle, when there is one),
	 * report the task Stopped, remove the instance. */
	ORCH_ACTION_STOP,
	/* An instance the manager does not want (finished, stopped, given to
	 * another node, or unknown): stop and remove it, report nothing. */
	ORCH_ACTION_REMOVE,
};

/* A status report for the manager (UpdateTaskStatus). */
struct orch_report {
	char task_id[ORCH_ID_LEN];
	int status;                         /* ORCH__TASK_STATUS__... */
	char container_id[ORCH_HANDLE_LEN]; /* "": keep the stored one */
	bool has_exit_code;
	int32_t exit_code;
	char error[ORCH_REPORT_ERROR_LEN]; /* "": none */
	int64_t started_at_ms;             /* 0: unknown */
	int64_t finished_at_ms;            /* 0: unknown */
	int health; /* ORCH__HEALTH_STATUS__...; 0: none to report */
};

struct orch_action {
	enum orch_action_kind kind;
	/* What the action works on, the unit of "one operation at a time":
	 * the task id, or for an instance without one its handle. */
	char key[ORCH_HANDLE_LEN];
	/* START, STOP, REPORT: the desired task (points into the input). */
	const orch_task *task;
	/* STOP, REMOVE: the instance ("" for a STOP with none), and the
	 * driver that has it (the instance's). */
	char handle[ORCH_HANDLE_LEN];
	const struct orch_driver_ops *driver;
	/* REPORT: what to send; STOP: the report sent once stopped. */
	struct orch_report report;
};

struct orch_reconcile_input {
	/* Assignments.tasks: what the manager wants and believes. */
	const orch_task *const *tasks;
	size_t n_tasks;
	/* The driver's instances of this node. */
	const struct orch_instance *instances;
	size_t n_instances;
	/* Keys the agent must not touch now: an operation is in flight, or
	 * finished after the tasks above were read (they may not show it). */
	const char *const *busy;
	size_t n_busy;
};

/*
 * Decides the actions that take the node from in's instances to in's
 * desired tasks, at most one per key, none for a busy key:
 *
 *  - a task Scheduled or Running, not stop_requested:
 *      no instance:       Running on the manager -> REPORT Failed
 *                         "container disappeared"; else START;
 *      running instance:  REPORT Running, unless the manager already says
 *                         Running with that container id;
 *      exited instance:   REPORT Completed (exit 0) or Failed ("exited
 *                         with code N"), with the instance's times; one
 *                         whose exit code is unknown: Failed with the
 *                         instance's error and no exit code;
 *      created, never run: START (the driver adopts and starts it);
 *  - a task with stop_requested (not yet final): STOP;
 *  - an instance whose task is not wanted (absent, or final): REMOVE.
 *
 * On ORCH_OK *out (OUT, malloc'd, free with free(); NULL when *n is 0)
 * holds *n actions, whose task pointers point into in.  Returns ORCH_OK
 * or ORCH_ENOMEM.
 */
int orch_reconcile(const struct orch_reconcile_input *in,
    struct orch_action **out /* OUT */, size_t *n /* OUT */);

/*
 * The report that instance inst of task t calls for, as orch_reconcile
 * decides it for a running or exited instance.  Returns whether one is
 * needed (false for an instance that is neither running nor exited, and
 * for a running one the manager already knows).  Also used by the agent
 * right after a start, to report without waiting for the next beat.
 */
bool orch_reconcile_report(const orch_task *t, const struct orch_instance *inst,
    struct orch_report *out /* OUT */);

/*
 * The report the node's health checks (checker.h) call for: health is
 * what they make of task t running in inst, why their words when it is
 * unhealthy.  Unhealthy: Failed with why as its error (the manager then
 * lists the task no more, and orch_reconcile stops and removes its
 * instance).  Healthy: Running with it, when the manager's health
 * differs.  Never starting: the manager sets it at the first Running,
 * and a restarted agent, whose checks start over, must not take a
 * healthy task back to starting.  Nothing unless the manager believes t
 * Running in inst, which runs.  Returns whether a report is needed.
 */
bool orch_reconcile_health(const orch_task *t, const struct orch_instance *inst,
    int health, const char *why, struct orch_report *out /* OUT */);

/* The key of an instance: its task id, or its handle when it has none. */
const char *orch_reconcile_key(const struct orch_instance *inst);

/* The name of an action kind ("start", ...), for logs. */
const char *orch_action_kind_name(enum orch_action_kind kind);

#endif
