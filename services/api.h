/*
 * api.h: the JSON API of the manager, served by the gateway.
 *
 *   GET    /healthz              200 {"status":"ok"} while the store answers
 *   GET    /tasks[?status=S]     200 [task, ...] in submission order,
 *                                streamed when long (task_list.h)
 *   POST   /tasks                201 task
 *   GET    /tasks/{id}           200 task
 *   DELETE /tasks/{id}           200 task (a stop request)
 *   PUT    /tasks/{id}/status    200 task (a worker's status report)
 *   GET    /nodes                200 [node, ...] by name
 *   GET    /nodes/{id or name}   200 node
 *   PUT    /nodes/{id or name}/drain   200 node; {"drain": true|false}
 *   GET    /services             200 [service, ...] by name, no tasks
 *   POST   /services             201 service
 *   GET    /services/{name}      200 service with its tasks
 *   PUT    /services/{name}      200 service; {"replicas": N} scales
 *   DELETE /services/{name}      200 service, with the tasks deleted with
 *                                it (their nodes remove them)
 *   GET    /tasks/{id}/logs[?follow=1&tail=N&stream=S]
 *                                200, the task's output, streamed from its
 *                                node (logs.h)
 *   GET    /events[?since=N]     200, a stream of JSON lines (events.h)
 *   GET    /metrics              200, Prometheus text (manager_metrics.h)
 *
 * Every error is {"error": "<what was wrong>"} with its status code.  A
 * write is answered only after its commit.
 *
 * With tokens, every request but GET /healthz needs "Authorization: Bearer
 * <token>" (auth.h): without one, or with a wrong or malformed one, it is
 * answered 401 with WWW-Authenticate, before its route is looked up.  A
 * task or service whose container settings the policy refuses is answered
 * 403 (policy.h).
 */
#ifndef ORCH_API_H
#define ORCH_API_H

#include "auth.h"
#include "gateway.h"
#include "nodes.h"
#include "notify.h"
#include "policy.h"
#include "store.h"

struct orch_api;

/* Creates the API over store, with the nodes' live view from nodes and
 * stop requests announced through notify (may be NULL); it opens its own
 * reader, used only on the gateway's loop thread.  notify must stay open
 * until the store has closed (a stop's completion uses it).  tokens (NULL:
 * none needed) and policy (NULL: the default) are borrowed and must
 * outlive the API.  Returns ORCH_OK or the store's error. */
int orch_api_new(struct orch_store *st, struct orch_nodes *nodes,
    struct orch_notify *notify, const struct orch_tokens *tokens,
    const struct orch_policy *policy, struct orch_api **out /* OUT */);

struct orch_events;
struct orch_mm;
struct orch_logs;

/* Serves GET /events from events, GET /metrics from mm and GET
 * /tasks/{id}/logs through logs (any may be NULL: 503), and counts
 * answers into mm.  Before the gateway runs. */
void orch_api_attach(struct orch_api *api, struct orch_events *events,
    struct orch_mm *mm, struct orch_logs *logs);

struct orch_task_list;

/* The API's GET /tasks lists (task_list.h), for their counters. */
struct orch_task_list *orch_api_task_list(struct orch_api *api);

/* The gateway's observer (orch_gw_opts.observe, with the api as arg):
 * counts each answer by method, route pattern and code. */
void orch_api_observe(void *api, const struct orch_gw_answer *answer);

/* Frees the API.  No request may be in flight.  NULL is a no-op. */
void orch_api_free(struct orch_api *api);

/* The gateway handler: pass it to orch_gw_new() with the api as arg. */
void orch_api_handle(struct orch_gw_req *req, void *api);

/* The HTTP status for an orch error code of a failed operation. */
int orch_api_status(int rc);

#endif
