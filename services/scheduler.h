/*
 * scheduler.h: placing Pending tasks on nodes.
 *
 * One thread.  Each pass reads the Pending tasks (oldest first), the nodes
 * and what their placed tasks hold, and places each task that has no stop
 * request on a Ready node where both its cpu and its memory fit (free =
 * capacity - what its Scheduled and Running tasks hold).  Among those it
 * spreads: the node with the most free memory, then the most free cpu,
 * then the smallest name.  A placement is a read-modify-write that checks
 * the task is still Pending without a stop request, and sets it Scheduled
 * on the node; the node is then sent a notice.  A task that fits nowhere
 * stays Pending with error saying why, written only when that text
 * changes, and cleared when the task is placed.
 *
 * A pass runs when a task or node is committed (a commit listener that
 * only raises a flag), when a node turns Ready or Down, and every second
 * as a safety net.  Only the scheduler places tasks, and a pass's writes
 * are queued together, so that they share a commit.
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
	double cpu_free;        /* cores; capacity - allocated */
	int64_t memory_free_mb; /* MB; capacity - allocated */
};

/*
 * The placement decision: the index in nodes[n] of the Ready node that
 * should take a task of cpu cores and memory_mb MB, or -1 when none has
 * both free.  Pure: reads only its arguments.
 */
int orch_sched_node_pick(const struct orch_sched_node *nodes, size_t n,
    double cpu, int64_t memory_mb);

/*
 * Why a task of cpu cores and memory_mb MB fits on none of nodes[n], for
 * a person, into buf:
 *   no Ready node: no node has joined the cluster
 *   no Ready node: 2 nodes known, none Ready
 *   no Ready node has 4096 MB and 2 cpu free; most free: node-b with
 *   1024 MB and 1.5 cpu
 * Pure.
 */
void orch_sched_explain(const struct orch_sched_node *nodes, size_t n,
    double cpu, int64_t memory_mb, char *buf, size_t len);

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
