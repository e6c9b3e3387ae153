/*
 * reconciler.h: keeping what runs equal to what was asked for.
 *
 * Each scheduling pass starts here (scheduler.c).  From the store's open
 * tasks (store.h), the services and the nodes' live status, a pure
 * function decides what to write:
 *
 *  - LOST: a task Scheduled or Running on a node that is Down ends:
 *    Failed (Stopped when a stop had been requested) with error
 *    "node <name> lost".  The decisions below see it ended at once, so
 *    that its replacement is made, and placed, in the same pass.
 *  - REPLACE of a plain task that ended, when its own restart policy
 *    asks (restart.h): a new attempt, restarts + 1, after the backoff.
 *  - For each service, slot by slot (1 to replicas):
 *      a slot whose replica runs (or waits, or is being placed) is left
 *      alone; one whose replica runs on a drained node gets a
 *      replacement elsewhere and the old one a stop request (REPLACE
 *      with stop_old);
 *      an empty slot gets a replica (CREATE), restarts 0;
 *      a slot whose replica was stopped on request (by a person, or an
 *      earlier scale-down) gets a new one at once, restarts unchanged;
 *      a slot whose replica ended by itself, or was lost, gets a new one
 *      when the service's restart policy asks (restarts + 1, after the
 *      backoff; at once when lost) and stays empty otherwise;
 *    and a replica in a slot above replicas (a scale-down: the newest
 *    slots go first) or a second one in a slot gets a stop request
 *    (STOP).
 *
 * It keeps nothing from one pass to the next: the scheduler hands it
 * what it remembers of the store (sched_state.h), and a manager that
 * restarts reads the same store and decides the same.  Every write
 * checks, inside its transaction, that the task is still as the pass saw
 * it (a replaced task is never replaced twice; a replica is inserted only
 * while its service wants the slot), so that a pass racing with reports,
 * scaling or deletion writes nothing wrong, and the next pass catches up.
 */
#ifndef ORCH_RECONCILER_H
#define ORCH_RECONCILER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nodes.h"
#include "notify.h"
#include "service.h"
#include "store.h"
#include "task.h"

/* A node as the reconciler sees it. */
struct orch_recon_node {
	const char *id;
	const char *name;
	int status; /* an ORCH__NODE_STATUS__ value */
	bool drain;
};

struct orch_recon_input {
	orch_service *const *services; /* every service */
	size_t n_services;
	orch_task *const *tasks; /* the open tasks, oldest first */
	size_t n_tasks;
	const struct orch_recon_node *nodes; /* every node */
	size_t n_nodes;
	/* At most this many actions (0: no limit).  What is left over is
	 * decided again by the next plan, from what the writes left. */
	size_t max_actions;
};

enum orch_recon_kind {
	ORCH_RECON_LOST,    /* task's node is Down: end it */
	ORCH_RECON_CREATE,  /* a replica of service for an empty slot */
	ORCH_RECON_REPLACE, /* a new attempt in place of task */
	ORCH_RECON_STOP,    /* a stop request for task */
};

struct orch_recon_action {
	enum orch_recon_kind kind;
	const orch_task *task;       /* LOST, REPLACE, STOP */
	const orch_service *service; /* CREATE; REPLACE of a replica */
	uint32_t slot;               /* CREATE */
	uint32_t restarts;           /* CREATE, REPLACE: the new task's */
	int64_t delay_ms;            /* REPLACE: backoff before placing */
	bool stop_old;               /* REPLACE: task still runs: stop it */
	const char *node_name;       /* LOST: the node's name */
	char why[160];               /* for the log */
};

/*
 * Decides the actions described above; LOST ones come first.  On ORCH_OK
 * *out (OUT, malloc'd, free with free(); NULL when *n is 0) holds *n
 * actions, which point into in.  Pure: no I/O, no clock.
 * Returns ORCH_OK or ORCH_ENOMEM.
 */
int orch_recon_plan(const struct orch_recon_input *in,
    struct orch_recon_action **out /* OUT */, size_t *n /* OUT */);

/* What orch_recon_apply() wrote. */
struct orch_recon_result {
	uint64_t lost, created, replaced, stopped;
	uint64_t placed;  /* created or replaced tasks written Scheduled */
	uint64_t refused; /* writes that found the task or service changed */
	uint64_t failed;  /* writes that failed otherwise (logged) */
};

/*
 * Chooses a node for a new task (of a CREATE, or a REPLACE without
 * backoff) as it is built, so that it is written Scheduled there by the
 * write that creates it: half the writes of a burst of replicas.  fn
 * writes the node's id into node_id and returns true, or returns false
 * to leave the task Pending for the scheduler's placement.  Called on
 * the caller's thread, in the order of the actions.
 */
struct orch_recon_placer {
	bool (*fn)(void *arg, const orch_task *t, char node_id[ORCH_ID_LEN]);
	void *arg;
};

/*
 * Writes the actions acts[n] (in order, queued together so that they
 * share commits), waits for every one, and tells the nodes: its own
 * notice to each that got a stop request, and the nodes that got new
 * tasks all at once (orch_notify_nodes).  placer may be NULL: every new
 * task is then written Pending.  ns (may be NULL) is checked again before a
 * task is marked lost, so that a node that came back meanwhile keeps its
 * work.  Must be called on a thread of its own (not a store completion).
 * Returns ORCH_OK, or the first unexpected write error (also logged).
 */
int orch_recon_apply(struct orch_store *st, struct orch_nodes *ns,
    struct orch_notify *notify, const struct orch_recon_placer *placer,
    const struct orch_recon_action *acts, size_t n,
    struct orch_recon_result *res /* OUT */);

#endif
