/*
 * nodes.h: the manager's live view of its nodes.
 *
 * The store keeps what each node registered; this registry keeps, in
 * memory, when each was last heard from (a registration or a heartbeat),
 * and so its status:
 *
 *   Ready     heard from within the TTL (--heartbeat-ttl)
 *   Down      silent for longer than the TTL: its tasks are then lost and
 *             replaced elsewhere (reconciler.h)
 *   NotReady  known from the store but not heard from since this manager
 *             started, for a grace period of two TTLs; Down after it
 *
 * It also keeps the health of each node's drivers, as its agent reports
 * it in every registration and heartbeat (DriverHealth): only the drivers
 * that are not healthy are kept, each with its error and the time the
 * manager first heard of it.  The scheduler places no task on a node
 * whose driver for it is unhealthy; the node stays Ready, and its tasks
 * stay as they are (its agent judges them again once the driver is back).
 *
 * A listener (orch_nodes_on_transition) hears of each turn to Ready or
 * Down and of each driver turning unhealthy or healthy again: the events
 * node.ready, node.down and node.driver (docs/events.md).
 *
 * Heartbeats touch memory only: a beat is never a SQLite write.  Decisions
 * use the monotonic clock; the wall-clock time of the last beat is kept
 * for display.  Every function is thread-safe (one mutex).
 */
#ifndef ORCH_NODES_H
#define ORCH_NODES_H

#include <stddef.h>
#include <stdint.h>

#include "node.h"
#include "store.h"

struct orch_nodes;

/* Called when a node turns Ready or Down, or the health of one of its
 * drivers changes (to wake the scheduler).  Runs
 * with the registry's lock held: it must be quick and must not call back
 * into the registry. */
typedef void (*orch_nodes_change_fn)(void *arg);

/* Creates an empty registry with a TTL in milliseconds (> 0).  Returns
 * ORCH_OK or ORCH_ENOMEM. */
int orch_nodes_new(int64_t ttl_ms, struct orch_nodes **out /* OUT */);

/* NULL is a no-op. */
void orch_nodes_free(struct orch_nodes *ns);

/* Learns every node of the store (as NotReady until it checks in).
 * Returns ORCH_OK or the store's error. */
int orch_nodes_load(struct orch_nodes *ns, struct orch_store_reader *r);

/* Sets (fn non-NULL) or clears the one change watcher.  Once clearing
 * returns, the old watcher is not running and will not run again. */
void orch_nodes_watch(
    struct orch_nodes *ns, orch_nodes_change_fn fn, void *arg);

/*
 * A turn the transition listener hears of: node id turned Ready or Down
 * (status, an ORCH__NODE_STATUS__ value), or, with status
 * ORCH_NODES_TURN_DRIVER, one of its drivers turned unhealthy or healthy
 * again, unhealthy[n_unhealthy] being those unhealthy now (none: all
 * healthy).  A new error of a driver that stays unhealthy is no turn.
 * Everything in it is valid during the call only.
 */
#define ORCH_NODES_TURN_DRIVER (-1)

struct orch_nodes_turn {
	const char *id;
	int status;
	const struct orch_driver_health *unhealthy;
	size_t n_unhealthy;
};

/*
 * Called for each turn (above), in the order they happened, outside the
 * registry's lock: it may write to the store (an event of the change).
 * Must not call back into the registry's seen, beat or sweep.
 */
typedef void (*orch_nodes_transition_fn)(
    void *arg, const struct orch_nodes_turn *turn);

/* Sets (fn non-NULL) or clears the one transition listener.  Once
 * clearing returns, the old one is not running and will not run again. */
void orch_nodes_on_transition(
    struct orch_nodes *ns, orch_nodes_transition_fn fn, void *arg);

/* How many nodes have each status now (counts[s] for an
 * ORCH__NODE_STATUS__ value s, 0 to 3). */
void orch_nodes_count(struct orch_nodes *ns, size_t counts[4] /* OUT */);

/* A node registered (its registration is committed): it is known, and
 * alive now, with the driver health health[n_health] (validated by
 * orch_node_health_validate(); drivers not listed are healthy).  Returns
 * ORCH_OK or ORCH_ENOMEM. */
int orch_nodes_seen(struct orch_nodes *ns, const char *id, const char *name,
    Orch__DriverHealth *const *health, size_t n_health);

/* A heartbeat from node id, with its driver health as orch_nodes_seen's.
 * Returns ORCH_OK, or ORCH_ENOENT when no node with this id has
 * registered (the health is then dropped). */
int orch_nodes_beat(struct orch_nodes *ns, const char *id,
    Orch__DriverHealth *const *health, size_t n_health);

/* Copies the unhealthy drivers of node id (none for an unknown id), at
 * most max of them, into out (OUT).  Returns how many were copied. */
size_t orch_nodes_unhealthy(struct orch_nodes *ns, const char *id,
    struct orch_driver_health *out /* OUT */, size_t max);

/* The name node id registered under, copied to out (len bytes).  Returns
 * ORCH_OK, ORCH_ENOENT for an unknown id, or ORCH_ETOOBIG when it does not
 * fit. */
int orch_nodes_name(
    struct orch_nodes *ns, const char *id, char *out /* OUT */, size_t len);

/* The status of node id now (an ORCH__NODE_STATUS__ value; NotReady for
 * an unknown id) and, when last_ms is not NULL, the wall-clock time it was
 * last heard from (OUT, -1 when not since this manager started). */
int orch_nodes_status(
    struct orch_nodes *ns, const char *id, int64_t *last_ms /* OUT */);

/* Brings every node's status up to date with the clock, logging changes;
 * calls the watcher when one turned Ready or Down. */
void orch_nodes_sweep(struct orch_nodes *ns);

/* The heartbeat interval to ask of agents: a third of the TTL, so that
 * one late beat does not make a node Down, between 100 and 1000 ms. */
int32_t orch_nodes_heartbeat_ms(const struct orch_nodes *ns);

/* Fills the live fields of n: status, last_heartbeat_ms, driver_health
 * (one entry per driver of n->drivers, in order, malloc'd: freed with n by
 * orch_node_free()), and, from usage (the store's sums, n_usage entries),
 * allocated_cpu, allocated_memory_mb and task_count.  Returns ORCH_OK, or
 * ORCH_ENOMEM (n then has no driver_health). */
int orch_nodes_fill(struct orch_nodes *ns, orch_node *n,
    const struct orch_node_usage *usage, size_t n_usage);

/* Reads every node from the store with its live fields filled.  Same
 * ownership as orch_store_node_list(). */
int orch_nodes_read(struct orch_nodes *ns, struct orch_store_reader *r,
    orch_node ***out /* OUT */, size_t *n /* OUT */);

/* Reads one node (by id or name) with its live fields filled.  Same
 * ownership and codes as orch_store_node_get(). */
int orch_nodes_read_one(struct orch_nodes *ns, struct orch_store_reader *r,
    const char *key, orch_node **out /* OUT */);

/*
 * Versions of what each node is assigned, so that a heartbeat whose node
 * already holds the current list is answered without it (the tasks of a
 * node are read, encoded and decoded on every beat otherwise: a thousand
 * nodes beating each second with a hundred tasks each is 100,000 tasks a
 * second).  orch_nodes_assign_changed() is called after a commit that
 * may change node id's assignments (NULL: any node's); the version of a
 * node is then higher than any it had.  The epoch is random per registry,
 * so that versions of an earlier manager never match.  Read the version
 * before reading the tasks it stands for: a change in between makes the
 * next beat read them again, never the reverse.
 */
void orch_nodes_assign_changed(
    struct orch_nodes *ns, const char *id, const char *task_id);

/* How many task changes each node remembers for deltas. */
#define ORCH_NODES_DELTA_MAX 64

/*
 * The ids of node id's tasks that changed after version since (each once,
 * at most max), with the current epoch and version read with them, into
 * ids[*n].  Returns ORCH_OK, or ORCH_ENOENT when they are not all known:
 * the node is unknown, more than max changed, the changes of since are
 * forgotten (a node remembers its last ORCH_NODES_DELTA_MAX), or every
 * node's list changed (id NULL to orch_nodes_assign_changed()) after it.
 * The caller then answers the full list.  task_id (may be NULL: unknown,
 * no delta across it) names the task a change of id was about.
 */
int orch_nodes_assign_delta(struct orch_nodes *ns, const char *id,
    uint64_t since, char (*ids)[ORCH_ID_LEN], size_t max, size_t *n /* OUT */,
    uint64_t *epoch /* OUT */, uint64_t *version /* OUT */);
void orch_nodes_assign_version(struct orch_nodes *ns, const char *id,
    uint64_t *epoch /* OUT */, uint64_t *version /* OUT */);

#endif
