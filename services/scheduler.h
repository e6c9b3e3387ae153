/*
 * scheduler.h: reconciling, then placing Pending tasks on nodes.
 *
 * One thread.  It keeps the open tasks and what each node's placed tasks
 * hold in memory (sched_state.h), loaded from the store at start and kept
 * current by the store's commit listener, so that a pass costs what
 * changed and what waits, not the size of the cluster.  Each pass first
 * applies what was committed, then reconciles (reconciler.h: tasks of
 * Down nodes are lost, restarts and replicas are created, extra replicas
 * stopped, replicas of drained nodes moved) the services that something
 * changed, plain tasks that ended and tasks of nodes that went Down, so
 * that what it creates is placed in the same pass.  Then it places each
 * Pending task that has no stop request and whose restart backoff is
 * over (not_before) on a node that:
 *
 *   - is Ready and not drained,
 *   - has the task's driver (a node that lists none has "docker"), and
 *     its agent does not report that driver unhealthy (nodes.h),
 *   - satisfies every constraint of the task (constraint.h),
 *   - has both the task's cpu and its memory free (free = capacity -
 *     what its Scheduled and Running tasks hold).
 *
 * Among those, a replica goes first where its service has the fewest
 * replicas (spreading a service over nodes), then by the task's
 * placement: "spread" (the default) takes the least allocated node (the
 * most free memory, then the most free cpu), "binpack" the most
 * allocated one where it fits (the least free memory, then cpu); ties go
 * to the smallest name, then id.  A placement is a read-modify-write that
 * checks the task is still Pending without a stop request, and sets it
 * Scheduled on the node; the nodes that got tasks are then told, in one
 * message when there are several (orch_notify_nodes).  A task that
 * fits nowhere stays Pending with error saying why, written only when
 * that text changes, and cleared when the task is placed.
 *
 * A pass runs when a task, node or service is committed (the listener
 * copies a committed task's few fields and raises a flag), when a node
 * turns Ready or Down, when a restart's backoff ends, and every second
 * as a safety net; every 30 s it reconciles every service whatever
 * changed.  Only
 * the scheduler places tasks, and a pass's writes are queued together,
 * so that they share a commit.
 */
#ifndef ORCH_SCHEDULER_H
#define ORCH_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nodes.h"
#include "notify.h"
#include "store.h"

/* A node as the placement decision sees it. */
struct orch_sched_node {
	const char *id;
	const char *name;
	bool ready;
	bool drain;             /* takes no new task */
	double cpu_free;        /* cores; capacity - allocated */
	int64_t memory_free_mb; /* MB; capacity - allocated */
	Orch__Node__LabelsEntry *const *labels; /* for constraints */
	size_t n_labels;
	char *const *drivers; /* as registered; none: "docker" */
	size_t n_drivers;
	/* Those of its drivers its agent reports unhealthy: none of their
	 * tasks goes there. */
	const struct orch_driver_health *unhealthy;
	size_t n_unhealthy;
	/* The node's place in the order of (name, id) among the array's,
	 * from 1, so that ties are broken without comparing names; 0 when
	 * not computed (names are compared then). */
	uint32_t rank;
	/* Its drivers as bits (ORCH_SCHED_DRIVER_*), so that a pick does not
	 * compare names; 0 when not computed (names are compared then). */
	uint8_t driver_mask;
};

#define ORCH_SCHED_DRIVER_DOCKER 0x01
#define ORCH_SCHED_DRIVER_EXEC 0x02
#define ORCH_SCHED_DRIVER_OTHER 0x80 /* one not named above */

enum orch_placement {
	ORCH_PLACEMENT_SPREAD,  /* the least allocated node first */
	ORCH_PLACEMENT_BINPACK, /* the most allocated node that fits */
};

/* Parses a task's placement: NULL or "spread", or "binpack".  Returns
 * ORCH_OK or ORCH_EINVAL. */
int orch_placement_parse(const char *s, enum orch_placement *out /* OUT */);

/* What a task asks of the node that takes it. */
struct orch_sched_want {
	double cpu;
	int64_t memory_mb;
	const char *const *constraints; /* as stored (validated) */
	size_t n_constraints;
	enum orch_placement placement;
	const char *driver; /* the node must have it; NULL: "docker" */
	uint8_t driver_bit; /* driver's ORCH_SCHED_DRIVER_ bit; 0: not known */
	/* For a replica: how many replicas of its service each node of the
	 * array already has (same indexes); NULL for a plain task. */
	const uint32_t *same_service;
};

/*
 * The placement decision: the index in nodes[n] of the node that should
 * take a task asking want, or -1 when none can (none Ready, undrained,
 * with the driver healthy, satisfying the constraints, with both the cpu
 * and the memory free).
 * Pure: reads only its arguments.
 */
int orch_sched_node_pick(const struct orch_sched_node *nodes, size_t n,
    const struct orch_sched_want *want);

/*
 * What a run of picks asking the same remembers: the nodes that may take
 * such a task, in a binary heap ordered as orch_sched_node_pick()
 * prefers them, so that each pick costs log(nodes), not nodes.  A pick
 * changes only the node it takes (less room, one more replica), which
 * then sinks or leaves the heap.  Zero it before the first use.
 */
struct orch_sched_picker {
	int *h; /* indexes into nodes */
	size_t n;
	bool valid;
	const struct orch_sched_node *nodes;
	size_t n_nodes;
	/* What it was built for, with copies of its strings: the task
	 * that asked may be gone by the next pick. */
	struct orch_sched_want want;
	char **constraints;
	char driver[ORCH_DRIVER_LEN];
};

/*
 * Picks the node orch_sched_node_pick(nodes, n, want with same_service)
 * would, and takes want's cpu and memory from it and counts the replica
 * in same_service (may be NULL).  Returns its index, or -1 when none
 * fits.  Between calls on the same nodes, every change to them must be
 * made by this function (or the picker finished and zeroed): it trusts
 * its heap while the nodes, same_service and what want asks stay the
 * same, and builds it again otherwise.
 */
int orch_sched_picker_take(struct orch_sched_picker *p,
    struct orch_sched_node *nodes, size_t n, uint32_t *same_service,
    const struct orch_sched_want *want);

/* Releases what the picker holds; it is zeroed, ready for use again. */
void orch_sched_picker_fini(struct orch_sched_picker *p);

/*
 * Why a task asking want fits on none of nodes[n], for a person, into
 * buf, naming the first reason that leaves no node:
 *   no Ready node: no node has joined the cluster
 *   no Ready node: 2 nodes known, none Ready
 *   no Ready node has the exec driver (2 Ready: docker)
 *   no Ready node satisfies the constraints zone==x, disk!=hdd
 *   no Ready node has a healthy docker driver (1 has it, unhealthy:
 *   node-a: docker GET /_ping: cannot reach the Docker daemon at ...)
 *   (or "no Ready node satisfying the constraints has a healthy ...")
 *   no Ready node takes new tasks: 2 Ready, all drained
 *   no Ready node satisfying the constraints takes new tasks: 1 drained
 *   no Ready node has 4096 MB and 2 cpu free; most free: node-b with
 *   1024 MB and 1.5 cpu
 * (the last with "matching the constraints" when the task has any).
 * Pure.
 */
void orch_sched_explain(const struct orch_sched_node *nodes, size_t n,
    const struct orch_sched_want *want, char *buf, size_t len);

struct orch_sched;

/*
 * Starts the scheduler over st, placing on the nodes of ns and sending
 * notices through notify (may be NULL).  It listens to the store's
 * commits and watches ns.  Returns ORCH_OK, ORCH_ENOMEM, or the store's
 * error opening a reader.
 */
int orch_sched_start(struct orch_store *st, struct orch_nodes *ns,
    struct orch_notify *notify, struct orch_sched **out /* OUT */);

/* Counters since start, for logs and tests. */
struct orch_sched_stats {
	uint64_t passes;    /* passes run */
	uint64_t placed;    /* tasks placed */
	uint64_t explained; /* explanations written (a text that changed) */
	uint64_t lost;      /* tasks ended because their node was Down */
	uint64_t created;   /* replicas created for empty slots */
	uint64_t replaced;  /* restarts and moves */
	uint64_t stopped;   /* stop requests (scale-down, duplicates) */
};

/* Fills out with a consistent snapshot of the counters. */
void orch_sched_stats(
    struct orch_sched *s, struct orch_sched_stats *out /* OUT */);

/* Asks for a pass soon.  Any thread; never blocks for long. */
void orch_sched_wake(struct orch_sched *s);

/* Stops and joins the thread, after its writes have completed.  Must be
 * called before the store closes.  NULL is a no-op. */
void orch_sched_stop(struct orch_sched *s);

#endif
