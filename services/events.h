/*
 * events.h: the manager's event stream.
 *
 * Every change of a task, node or service is an event (the store writes
 * it in the same transaction as the change: store.h), with a strictly
 * increasing index, a time, a type, the object's id and its new state.
 * The types:
 *
 *   task.created     a task was stored: submitted, a service's replica, or
 *                    the replacement of a restarted or moved task
 *   task.status      its status changed (previous_status says from what)
 *   task.updated     it changed otherwise: a stop was requested, the reason
 *                    it waits, its container, the task that replaced it
 *   task.deleted     deleted with its service
 *   node.registered  a node registered, for the first time or again
 *   node.ready       a node was heard from after being NotReady or Down
 *   node.down        a node was not heard from within --heartbeat-ttl
 *   node.drain       a node's drain was set or cleared
 *   node.driver      one of its drivers turned unhealthy, or healthy
 *                    again, as its agent reports it (driver_health)
 *   service.created, service.scaled (replicas changed), service.updated
 *   (another change), service.deleted
 *
 * node.ready, node.down and node.driver happen in memory (nodes.h): the
 * registry tells this module, which queues an event-only write to the
 * store (the node's record with its new status, or with the health of
 * its drivers), so that they are kept and ordered with the rest.
 *
 * This module hears of each committed event (on the store's writer
 * thread), publishes it on the events' PUB socket (--events-pub, when
 * given: notify.h), keeps the count of
 * tasks by status up to date from them, and serves GET /events: a stream
 * of JSON lines (event_json.h), first the kept events after ?since=N,
 * then new ones as they are committed, until the client leaves.  A stream
 * reads what is kept at the client's pace; once caught up it is sent each
 * new event as it comes, and a client that lets more than the gateway's
 * stream cap pile up unread is disconnected (logged): it reconnects with
 * the last index it saw and misses nothing still kept.
 */
#ifndef ORCH_EVENTS_H
#define ORCH_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "gateway.h"
#include "nodes.h"
#include "notify.h"
#include "store.h"

struct orch_events;

/* Called on the writer thread with the time from a task's creation (or
 * the end of its restart backoff) to its placement, in seconds. */
typedef void (*orch_events_placed_fn)(void *arg, double seconds);

/*
 * Starts listening to st's events, publishing them through notify (the
 * --events-pub socket; NULL: not published), and reads the count of tasks
 * by status.  Returns ORCH_OK with
 * *out (OUT), or the store's error.
 */
int orch_events_new(struct orch_store *st, struct orch_notify *notify,
    struct orch_events **out /* OUT */);

/* Streams are served on gw's loop thread (before orch_gw_run()). */
void orch_events_attach(struct orch_events *ev, struct orch_gw *gw);

/* Makes ns's turns to Ready and Down events.  Before any node beats. */
void orch_events_watch_nodes(struct orch_events *ev, struct orch_nodes *ns);

/* Sets the placement latency hook (before any write). */
void orch_events_on_placed(
    struct orch_events *ev, orch_events_placed_fn fn, void *arg);

/*
 * Serves GET /events?since=N on the loop thread: 400 for a malformed
 * since or one past the newest event, 503 when the store cannot be read,
 * else a stream (application/x-ndjson) whose first line is an
 * events.missed line when events after N are no longer kept.
 */
void orch_events_serve(struct orch_events *ev, struct orch_gw_req *req,
    struct orch_http_slice query);

/* The number of tasks of each status now (counts[s], s 0 to 7). */
void orch_events_task_counts(
    struct orch_events *ev, uint64_t counts[ORCH_STORE_STATUS_SLOTS]);

/* Counters for metrics. */
struct orch_events_stats {
	uint64_t newest;  /* the newest event index committed */
	uint64_t streams; /* open streams */
	uint64_t dropped; /* streams closed because their client lagged */
};
void orch_events_stats(
    struct orch_events *ev, struct orch_events_stats *out /* OUT */);

/* Ends every stream, stops the node hook and closes its reader: before
 * the store closes, once the gateway's loop has returned.  Events are
 * still published until the store has closed. */
void orch_events_close(struct orch_events *ev);

/* Frees it after the store has closed and the gateway has been freed.
 * NULL is a no-op. */
void orch_events_free(struct orch_events *ev);

#endif
