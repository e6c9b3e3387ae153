/*
 * sched_state.h: the scheduler's memory of the open tasks and the nodes.
 *
 * A scheduling pass used to read and decode every open task from SQLite;
 * with 100,000 tasks that cost a large part of a second and hundreds of MB
 * per pass.  Instead the scheduler keeps, for each open task, the few
 * fields that placement and the reconciler look at (struct orch_stask,
 * some 300 bytes), and for each node what its Scheduled and Running tasks
 * hold.  It is built once from the store (orch_sstate_load) and then kept
 * current by the store's commit listener: each committed task is copied
 * into a compact record on the writer thread (orch_sstate_heard) and
 * queued; the scheduler's thread applies the queue at the start of each
 * pass (orch_sstate_apply).  Because listeners run before any write is
 * acknowledged and a pass waits for its own writes, a pass always sees at
 * least everything it, or anyone who was answered, wrote.
 *
 * SQLite stays the record of truth: nothing here is written back, and a
 * manager that restarts rebuilds the same state.  When a record cannot be
 * queued (out of memory) the state asks to be rebuilt from the store.
 *
 * Threads: orch_sstate_heard() from any thread (it takes the queue's
 * lock); everything else from the scheduler's thread alone.
 */
#ifndef ORCH_SCHED_STATE_H
#define ORCH_SCHED_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "task.h"

/* The longest restart policy text ("on-failure:4294967295"). */
#define ORCH_STASK_RESTART_LEN 24

/* The error_hash of an error text (never 0): the scheduler recognises an
 * explanation already stored without keeping its text. */
uint64_t orch_stask_error_hash(const char *text);

/* The service_hash of a service id (0 for "", a plain task's): the
 * reconciler, walking every open task for one service's replicas,
 * compares strings only where it matches. */
uint64_t orch_stask_service_hash(const char *service_id);

/* An open task as the scheduler remembers it. */
struct orch_stask {
	struct orch_stask *next; /* hash chain, or queue link */
	uint64_t seq;            /* the order the state first saw it */
	char id[ORCH_ID_LEN];
	char node_id[ORCH_ID_LEN];    /* "" when none */
	char service_id[ORCH_ID_LEN]; /* "" for a plain task */
	uint64_t service_hash;        /* orch_stask_service_hash(service_id) */
	char restart[ORCH_STASK_RESTART_LEN]; /* its own policy, or "" */
	char driver[ORCH_DRIVER_LEN];         /* orch_task_spec_driver() */
	int32_t node; /* index in the state's nodes, -1 when none */
	int status;   /* an ORCH__TASK_STATUS__ value */
	bool open;    /* orch_task_open(); false: to be forgotten */
	bool gone;    /* heard of without a record: read it again */
	bool stop_requested;
	bool lost;
	bool replaced; /* replaced_by is set */
	uint32_t slot;
	uint32_t restarts;
	double cpu;
	int64_t memory_mb;
	int64_t created_at_ms; /* 0 when unset, as the times below */
	int64_t started_at_ms;
	int64_t finished_at_ms;
	int64_t not_before_ms;
	uint64_t error_hash; /* of its error text, 0 when none */
	char *name;          /* for logs */
	char *placement;     /* NULL for the default */
	char **constraints;
	size_t n_constraints;
};

/* A node as the scheduler remembers it.  Nodes are never forgotten: an
 * index stays valid for the life of the state. */
struct orch_snode {
	char id[ORCH_ID_LEN];
	const orch_node *rec; /* as registered; NULL when only tasks name it */
	double cpu_used;      /* what its Scheduled and Running tasks hold */
	int64_t memory_mb_used;
	uint32_t tasks;
	int status; /* an ORCH__NODE_STATUS__ value, as last seen */
	bool drain; /* as last seen */
	/* Its drivers its agent reports unhealthy, as last seen (malloc'd,
	 * freed with the state; NULL when none). */
	struct orch_driver_health *unhealthy;
	size_t n_unhealthy;
};

struct orch_sstate;

/* A new, empty state.  Returns ORCH_OK or ORCH_ENOMEM. */
int orch_sstate_new(struct orch_sstate **out /* OUT */);

/* Frees the state and everything queued.  NULL is a no-op. */
void orch_sstate_free(struct orch_sstate *ss);

/*
 * Queues what a commit wrote to task id: t as committed, or NULL when it
 * was deleted (it is read again, and forgotten when absent).  Quick: a
 * copy of a few fields and a lock.  Any thread.
 */
void orch_sstate_heard(
    struct orch_sstate *ss, const char *id, const orch_task *t);

/*
 * Forgets every task and reads the open ones from the store, one at a
 * time.  The listener must already be queueing, so that a commit racing
 * with the read is applied after it.  Marks every service dirty.
 * Returns ORCH_OK, ORCH_ENOMEM or the read's error.
 */
int orch_sstate_load(struct orch_sstate *ss, struct orch_store_reader *r);

/*
 * Applies what was queued, in order, then reads again the tasks heard of
 * without a record.  Records the services whose replicas changed in a
 * way the reconciler cares about (a new replica, one that ended, was
 * asked to stop or was replaced) as dirty.  When a record was lost (out
 * of memory on the writer thread), reloads from the store instead.
 * Returns ORCH_OK, or an error after which the state should be reloaded.
 */
int orch_sstate_apply(struct orch_sstate *ss, struct orch_store_reader *r);

/* Replaces the node records (nodes[n], which must stay valid until the
 * next call) and returns ORCH_OK or ORCH_ENOMEM.  Nodes known only from
 * tasks keep their index. */
int orch_sstate_nodes_set(
    struct orch_sstate *ss, orch_node *const *nodes, size_t n);

/* The nodes: *n entries, valid until the next call that may add one. */
struct orch_snode *orch_sstate_nodes(
    struct orch_sstate *ss, size_t *n /* OUT */);

/* The index of the node with this id, or -1. */
int orch_sstate_node_find(const struct orch_sstate *ss, const char *id);

/* The task with this id, or NULL. */
const struct orch_stask *orch_sstate_task(
    const struct orch_sstate *ss, const char *id);

/* Calls fn with every open task, in no particular order. */
void orch_sstate_each(const struct orch_sstate *ss,
    void (*fn)(void *arg, const struct orch_stask *t), void *arg);

/* How many open tasks are remembered. */
size_t orch_sstate_count(const struct orch_sstate *ss);

/*
 * The Pending tasks without a stop request, oldest first: *n entries,
 * valid until the next orch_sstate_apply() or load.  Returns ORCH_OK or
 * ORCH_ENOMEM.
 */
int orch_sstate_pending(struct orch_sstate *ss,
    const struct orch_stask *const **out /* OUT */, size_t *n /* OUT */);

/* Marks service id dirty (the reconciler should look at it). */
int orch_sstate_dirty_add(struct orch_sstate *ss, const char *service_id);

/* Marks every service dirty, as after a load. */
void orch_sstate_dirty_all(struct orch_sstate *ss);

/* Whether service id, or every service, is dirty. */
bool orch_sstate_dirty(const struct orch_sstate *ss, const char *service_id);

/* Whether anything is dirty. */
bool orch_sstate_any_dirty(const struct orch_sstate *ss);

/* Forgets what is dirty (after a reconcile that succeeded). */
void orch_sstate_dirty_clear(struct orch_sstate *ss);

/* How many plain tasks have ended but are still open (their restart is
 * to be decided). */
size_t orch_sstate_plain_ended(const struct orch_sstate *ss);

/*
 * A shallow orch_task with what the reconciler reads, pointing into t
 * and *spec (OUT, which must outlive it): id, status, node_id,
 * service_id, slot, restarts, stop_requested, lost, replaced_by (a
 * marker, not the id), times, and for a plain task spec with name and
 * restart.  Never free it.
 */
void orch_stask_view(const struct orch_stask *t, orch_task *out /* OUT */,
    orch_task_spec *spec /* OUT */);

#endif
