/*
 * checker.h: the agent's health checker: runs the health checks
 * (health.h) of the tasks its node runs, each on its own timer, on a
 * few threads of its own.
 *
 * The agent tells it, on every beat, which running instances have a
 * check (orch_checker_sync); the checker runs each check interval_s
 * after the last one ended (the first interval_s after the instance
 * joined), feeds the result to the state machine (orch_health_step),
 * and calls the agent back when a task's health changes.  The agent
 * then reports it (orch_reconcile_health): an unhealthy task is
 * reported Failed, and stopped and removed like any other task the
 * manager no longer wants.
 *
 * What runs where:
 *  - "exec": the driver's check_exec (inside the container; for the exec
 *    driver on the host with the task's env and work directory); it
 *    passes when the command exits 0 within timeout_s;
 *  - "http": GET http://HOST:PORT/path, where the driver's check_addr
 *    says HOST:PORT (a loopback address: the port the container
 *    publishes there, or the port itself for the exec driver and network
 *    "host"); 2xx and 3xx pass (redirects are not followed); no proxy;
 *  - "tcp": a connection to the same address is accepted.
 * A container port that is not published on 127.0.0.1 or 0.0.0.0 fails
 * its check saying so: the checker never connects to a container's own
 * address.
 *
 * A check needs the driver's runtime (the Docker daemon) to reach the
 * container: while the driver reports it away (its healthy operation),
 * or when a check fails because it did not answer, the check counts for
 * nothing, and the task's health stays as it was: the daemon's outage is
 * not the task's failure.  The checks count again once it is back.
 *
 * Threads: ORCH_CHECKER_THREADS of them share the due checks, so that a
 * slow check (up to its timeout) delays the others only when that many
 * are slow at once.  A check whose task goes away while it runs is
 * finished and its result dropped.
 */
#ifndef ORCH_CHECKER_H
#define ORCH_CHECKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "driver.h"
#include "task.h"

#define ORCH_CHECKER_THREADS 4

struct orch_checker;

/* Called when the health of task task_id changes to health (an
 * ORCH__HEALTH_STATUS__ value), from a checker thread holding no lock of
 * the checker.  It must be quick. */
typedef void (*orch_checker_change_fn)(
    void *arg, const char *task_id, int health);

/* One running instance whose task has a check. */
struct orch_checker_task {
	const orch_task *task; /* with spec->health; copied when new */
	const char *handle;
	const struct orch_driver_ops *drv;
	void *drv_state;       /* the driver's, on for as long as the agent */
	int64_t started_at_ms; /* when the instance started (0: unknown) */
};

/* Creates a checker that calls fn(arg, ...) on changes.  No thread runs
 * yet.  Returns ORCH_OK or ORCH_ENOMEM. */
int orch_checker_new(
    orch_checker_change_fn fn, void *arg, struct orch_checker **out /* OUT */);

/* Starts the threads.  Returns ORCH_OK, or an error with none started. */
int orch_checker_start(struct orch_checker *c);

/* Stops the threads, waiting for the checks in progress (the drivers'
 * check_cancel ends theirs at once; the agent calls it first).  Safe
 * when never started. */
void orch_checker_stop(struct orch_checker *c);

/* Frees a stopped checker.  NULL is a no-op. */
void orch_checker_free(struct orch_checker *c);

/*
 * Makes the checked tasks those of list (n of them): a new one starts
 * "starting" with its first check interval_s from now; one whose handle
 * changed (a new instance) starts over; one not listed is dropped.
 * Returns ORCH_OK, or ORCH_ENOMEM with the tasks it could not take
 * left out (the next sync tries again).
 */
int orch_checker_sync(
    struct orch_checker *c, const struct orch_checker_task *list, size_t n);

/*
 * The health of task task_id, checked on instance handle: *health (OUT)
 * and, when unhealthy, why (OUT: "health check failed 3 times: http GET
 * :8080/ -> 503").  Returns false when the checker does not check that
 * instance.
 */
bool orch_checker_health(struct orch_checker *c, const char *task_id,
    const char *handle, int *health, char *why, size_t whylen);

#endif
