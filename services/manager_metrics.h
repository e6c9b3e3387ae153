/*
 * manager_metrics.h: what GET /metrics shows of the manager (Prometheus
 * text format 0.0.4, metrics.h), and the hooks that count it.
 *
 *   orch_tasks{status}                         gauge: tasks by status
 *   orch_nodes{status}                         gauge: nodes by status
 *   orch_nodes_drained                         gauge
 *   orch_node_driver_healthy{node,driver}      gauge: 1, or 0 while the
 *        node's agent reports the driver unhealthy
 *   orch_service_replicas_desired{service}     gauge
 *   orch_service_replicas_running{service}     gauge
 *   orch_scheduling_latency_seconds            histogram: from a task's
 *        creation (or the end of its restart backoff) to its placement
 *   orch_http_requests_total{method,route,code}     counter
 *   orch_http_request_duration_seconds{method,route} histogram
 *   orch_rpc_messages_total{method}            counter: RPC requests
 *   orch_store_commit_duration_seconds         histogram: BEGIN to the
 *        end of COMMIT, per group commit
 *   orch_store_writes_total, orch_store_write_failures_total,
 *   orch_store_commits_total                   counters
 *   orch_store_writes_refused_total            counter: refused by a
 *        disk that takes no write (full, read-only, failing)
 *   orch_store_writable                        gauge: 0 while it does
 *   orch_http_timeouts_total{kind}             counter: connections
 *        closed by a gateway timeout (handshake, header, body, idle,
 *        write)
 *   orch_events_last_index                     gauge
 *   orch_event_streams                         gauge: open GET /events
 *   orch_event_streams_dropped_total           counter: closed because
 *        their client did not keep up
 *   orch_log_streams                           gauge: GET /tasks/{id}/logs
 *        streams and requests waiting for their node
 *
 * route is the route's pattern ("/tasks/{id}"), never the raw path, and
 * "other" for what matched no route; method is GET, POST, PUT, DELETE or
 * "other".  Counting is lock-free (atomics); a scrape costs one read of
 * the services and of the running replicas (through the status index),
 * the task counts being kept from the events.
 */
#ifndef ORCH_MANAGER_METRICS_H
#define ORCH_MANAGER_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "events.h"
#include "gateway.h"
#include "logs.h"
#include "nodes.h"
#include "store.h"

struct orch_mm;

/* Creates the manager's metrics; the first one made is also the one
 * orch_mm_rpc() counts into.  Returns ORCH_OK or ORCH_ENOMEM. */
int orch_mm_new(struct orch_mm **out /* OUT */);

/* Frees it; no hook may run any more.  NULL is a no-op. */
void orch_mm_free(struct orch_mm *mm);

/* Where a scrape reads the gauges from (any may be NULL). */
void orch_mm_sources(struct orch_mm *mm, struct orch_store *st,
    struct orch_nodes *ns, struct orch_events *ev);

/* Where a scrape reads the log streams from (NULL: none); scrapes then
 * run on the gateway's loop thread (as GET /metrics does). */
void orch_mm_logs_source(struct orch_mm *mm, struct orch_logs *lg);

/* The gateway whose timeouts a scrape reads (may stay unset). */
void orch_mm_gateway(struct orch_mm *mm, struct orch_gw *gw);

/* One HTTP answer (route NULL: "other"). */
void orch_mm_http(struct orch_mm *mm, const char *method, size_t method_len,
    const char *route, int status, int64_t elapsed_ns);

/* A store commit (the store's on_commit hook; arg is the orch_mm). */
void orch_mm_commit(void *mm, int64_t ns, size_t writes);

/* A placement's latency (the events' hook; arg is the orch_mm). */
void orch_mm_placed(void *mm, double seconds);

/* One RPC request for method ("SubmitTask"; NULL or unknown: "other"),
 * counted into the process's metrics when there are any. */
void orch_mm_rpc(const char *method);

/* Sets the gauges from their sources, reading the store with r (on the
 * caller's thread), and appends the page to out.  Returns ORCH_OK, the
 * store's error, or ORCH_ENOMEM. */
int orch_mm_scrape(
    struct orch_mm *mm, struct orch_store_reader *r, struct orch_buf *out);

#endif
