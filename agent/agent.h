/*
 * agent.h: the agent's core.  It joins the manager, beats, and makes the
 * node run what the manager assigns, through a driver.
 *
 * Threads (all started by orch_agent_start):
 *  - the beat thread registers the node (again whenever the manager has
 *    forgotten it, or a driver became available), sends a Heartbeat
 *    every interval, refreshes the drivers' lists of instances now and
 *    then, and reconciles on every answer (reconcile.h), handing the
 *    actions to the workers; it also probes again, every few seconds, the
 *    drivers whose runtime did not answer (Docker not running yet);
 *  - the notice thread receives notices on the SUB socket, its node's
 *    own and those for many nodes at once (notice.h), and wakes the beat
 *    thread for those that name the node (so does the driver's exit
 *    callback);
 *  - a pool of workers runs the actions (driver calls, reports), so that
 *    many containers start at once.  The manager's REQ socket takes one
 *    request at a time: every RPC goes through one mutex.
 *
 * The agent never stops an instance because it lost the manager or
 * because it is itself stopping: work goes on without either.
 *
 * Drivers: the agent offers each driver of its configuration whose init
 * succeeds, and advertises their names when it registers.  A task runs
 * with the driver its spec names (orch_task_spec_driver()); an instance
 * is stopped and removed by the driver that listed it.  It reports each
 * driver's health (its healthy operation: Docker answers or not) when it
 * registers and in every beat, and leaves the tasks and instances of a
 * driver that is off, unhealthy, or not listed since it came back alone
 * (see agent.c).
 */
#ifndef ORCH_AGENT_H
#define ORCH_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "driver.h"
#include "policy.h"

/* The most labels a node may carry. */
#define ORCH_AGENT_LABELS_MAX 64
/* The most drivers an agent offers. */
#define ORCH_AGENT_DRIVERS_MAX 8

struct orch_agent_label {
	const char *key;
	const char *value;
};

struct orch_agent_config {
	const char *manager_url; /* NNG REQ to the manager's --rpc */
	const char *events_url;  /* NNG SUB to the manager's --pub */
	const char *name;        /* node name, also the orch.node label */
	const char *address;     /* for people; no traffic goes there */
	const struct orch_agent_label *labels;
	size_t n_labels;
	double cpu;        /* capacity; <= 0: ask the driver */
	int64_t memory_mb; /* capacity; <= 0: ask the driver */
	int heartbeat_ms;  /* beat interval */
	/* The drivers to offer, the first ones first asked for the
	 * capacity.  One whose init fails is off, with a warning, and
	 * probed again every few seconds; at least one must start. */
	const struct orch_driver_ops *const *drivers;
	size_t n_drivers;
	const char *docker_socket; /* driver config */
	int stop_timeout_s;        /* driver config */
	const char *state_dir;     /* driver config (exec) */
	const char *cgroup_dir;    /* driver config (exec) */
	int workers;               /* action threads (0: 8) */
	/* Mutual TLS (tls.h): the folder of the node's certificate, and the
	 * name of the certificate in it (NULL: name).  NULL: plain TCP. */
	const char *tls_dir;
	const char *tls_name;
	/* The node's own container policy (policy.h), borrowed: a task it
	 * refuses is reported Failed and never started.  NULL trusts the
	 * manager's. */
	const struct orch_policy *policy;
};

struct orch_agent;

/*
 * Creates an agent: copies cfg, starts the drivers (a driver whose runtime
 * does not answer is off, with a warning; ORCH_EUNAVAIL when none
 * starts, err giving each one's reason), reads the capacity the config
 * leaves open, and dials the manager (in the background: the manager need
 * not be up).  Starts no thread of its own yet.  On error err says what
 * failed.
 */
int orch_agent_new(const struct orch_agent_config *cfg,
    struct orch_agent **out /* OUT */, char *err, size_t errlen);

/* The capacity the agent will register with (after orch_agent_new). */
void orch_agent_capacity(const struct orch_agent *a, double *cpu /* OUT */,
    int64_t *memory_mb /* OUT */);

/* Starts the threads.  Returns ORCH_OK or an error (nothing started). */
int orch_agent_start(struct orch_agent *a, char *err, size_t errlen);

/*
 * Stops the threads: queued actions are dropped (the next agent redoes
 * them), actions under way are given grace_ms to finish.  Returns true
 * when every thread ended; false when some action is still running, in
 * which case orch_agent_free must not be called (the process is about to
 * exit and the driver is still in use).
 */
bool orch_agent_stop(struct orch_agent *a, int grace_ms);

/*
 * Removes every instance of every driver that is on, killing what still
 * runs (no grace period): for an agent whose whole cluster goes away with
 * it (orch-manager --dev with a temporary directory).  Call after
 * orch_agent_stop().  Returns ORCH_OK, or the first error with err saying what
 * it failed on (the others are still tried).
 */
int orch_agent_remove_all(struct orch_agent *a, char *err, size_t errlen);

/* The names of the drivers that are on, ", "-separated, into buf. */
void orch_agent_drivers(const struct orch_agent *a, char *buf, size_t len);

/* Frees the agent (stopped first, or never started).  NULL is a no-op. */
void orch_agent_free(struct orch_agent *a);

#endif
