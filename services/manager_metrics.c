/*
 * manager_metrics.c: the manager's metrics (see manager_metrics.h).
 */
#include "manager_metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "log.h"
#include "metrics.h"
#include "node.h"
#include "orch.pb-c.h"
#include "service.h"
#include "task.h"

/* Seconds: from a fraction of a millisecond (a GET, a commit on a fast
 * disk) to ten seconds. */
static const double latency_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01,
    0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
/* Placement waits on a pass, a free node or capacity: up to minutes. */
static const double sched_bounds[] = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};

#define N_BOUNDS(a) (sizeof(a) / sizeof((a)[0]))

struct orch_mm {
	struct orch_metrics *reg;
	struct orch_metric_family *tasks, *nodes, *drained, *driver_ok,
	    *svc_desired, *svc_running, *sched, *http_total, *http_seconds,
	    *rpc, *commit, *writes, *write_failures, *commits, *ev_index,
	    *ev_streams, *ev_dropped, *refused, *writable, *http_timeouts,
	    *log_streams;
	struct orch_store *st;
	struct orch_gw *gw;
	struct orch_nodes *ns;
	struct orch_events *ev;
	struct orch_logs *lg;
};

/* The process's metrics, for orch_mm_rpc(). */
static _Atomic(struct orch_mm *) the_mm;

/* The families, in the order of the page. */
struct fam_def {
	size_t off; /* of the family pointer in struct orch_mm */
	enum orch_metric_type type;
	const char *name, *help;
	const char *const *labels;
	const double *bounds;
	size_t n_bounds;
};

static const char *const l_status[] = {"status", NULL};
static const char *const l_service[] = {"service", NULL};
static const char *const l_http[] = {"method", "route", "code", NULL};
static const char *const l_http_t[] = {"method", "route", NULL};
static const char *const l_method[] = {"method", NULL};
static const char *const l_driver[] = {"node", "driver", NULL};
static const char *const l_kind[] = {"kind", NULL};

#define FAM(field) offsetof(struct orch_mm, field)

static const struct fam_def fams[] = {
    {FAM(tasks), ORCH_METRIC_GAUGE, "orch_tasks", "Tasks by status.", l_status,
        NULL, 0},
    {FAM(nodes), ORCH_METRIC_GAUGE, "orch_nodes", "Nodes by status.", l_status,
        NULL, 0},
    {FAM(drained), ORCH_METRIC_GAUGE, "orch_nodes_drained",
        "Nodes drained: no new task is placed on them.", NULL, NULL, 0},
    {FAM(driver_ok), ORCH_METRIC_GAUGE, "orch_node_driver_healthy",
        "1 when the node's agent last reported the driver healthy, 0 when "
        "not: none of its tasks is placed there then.",
        l_driver, NULL, 0},
    {FAM(svc_desired), ORCH_METRIC_GAUGE, "orch_service_replicas_desired",
        "Replicas each service asks for.", l_service, NULL, 0},
    {FAM(svc_running), ORCH_METRIC_GAUGE, "orch_service_replicas_running",
        "Replicas of each service in status Running.", l_service, NULL, 0},
    {FAM(sched), ORCH_METRIC_HISTOGRAM, "orch_scheduling_latency_seconds",
        "Time from a task's creation, or the end of its restart backoff, "
        "to its placement on a node.",
        NULL, sched_bounds, N_BOUNDS(sched_bounds)},
    {FAM(http_total), ORCH_METRIC_COUNTER, "orch_http_requests_total",
        "HTTP requests answered, by method, route pattern and status "
        "code.",
        l_http, NULL, 0},
    {FAM(http_seconds), ORCH_METRIC_HISTOGRAM,
        "orch_http_request_duration_seconds",
        "Time from a request's arrival to its answer (a write: after its "
        "commit; a stream: to its head).",
        l_http_t, latency_bounds, N_BOUNDS(latency_bounds)},
    {FAM(http_timeouts), ORCH_METRIC_COUNTER, "orch_http_timeouts_total",
        "HTTP connections closed because a timeout ran out, by timeout: "
        "handshake, header, body (408), idle, write (a client that took no "
        "byte of its answer or stream).",
        l_kind, NULL, 0},
    {FAM(rpc), ORCH_METRIC_COUNTER, "orch_rpc_messages_total",
        "RPC requests received, by method.", l_method, NULL, 0},
    {FAM(commit), ORCH_METRIC_HISTOGRAM, "orch_store_commit_duration_seconds",
        "Time from BEGIN to the end of COMMIT of each group commit of the "
        "store.",
        NULL, latency_bounds, N_BOUNDS(latency_bounds)},
    {FAM(writes), ORCH_METRIC_COUNTER, "orch_store_writes_total",
        "Writes the store ran, durable or failed.", NULL, NULL, 0},
    {FAM(write_failures), ORCH_METRIC_COUNTER,
        "orch_store_write_failures_total", "Writes the store ran that failed.",
        NULL, NULL, 0},
    {FAM(commits), ORCH_METRIC_COUNTER, "orch_store_commits_total",
        "Transactions the store committed.", NULL, NULL, 0},
    {FAM(refused), ORCH_METRIC_COUNTER, "orch_store_writes_refused_total",
        "Writes refused because the disk took none: full, read-only or "
        "failing (503 and UNAVAILABLE).",
        NULL, NULL, 0},
    {FAM(writable), ORCH_METRIC_GAUGE, "orch_store_writable",
        "1 when the disk takes the store's writes, 0 while it refuses them "
        "(GET /healthz says degraded).",
        NULL, NULL, 0},
    {FAM(ev_index), ORCH_METRIC_GAUGE, "orch_events_last_index",
        "The index of the newest event.", NULL, NULL, 0},
    {FAM(ev_streams), ORCH_METRIC_GAUGE, "orch_event_streams",
        "Open GET /events streams.", NULL, NULL, 0},
    {FAM(ev_dropped), ORCH_METRIC_COUNTER, "orch_event_streams_dropped_total",
        "Event streams closed because their client did not keep up.", NULL,
        NULL, 0},
    {FAM(log_streams), ORCH_METRIC_GAUGE, "orch_log_streams",
        "GET /tasks/{id}/logs streams, and requests waiting for their "
        "node.",
        NULL, NULL, 0},
};

int
orch_mm_new(struct orch_mm **out)
{
	struct orch_mm *mm = calloc(1, sizeof(*mm));
	struct orch_mm *none = NULL;
	int rc;

	*out = NULL;
	if (mm == NULL)
		return ORCH_ENOMEM;
	if ((rc = orch_metrics_new(&mm->reg)) != ORCH_OK)
		goto fail;
	for (size_t i = 0; i < sizeof(fams) / sizeof(fams[0]); i++) {
		const struct fam_def *d = &fams[i];
		struct orch_metric_family **slot =
		    (struct orch_metric_family **)((char *)mm + d->off);

		if ((rc = orch_metrics_family_add(mm->reg, d->type, d->name,
		         d->help, d->labels, d->bounds, d->n_bounds, slot)) !=
		    ORCH_OK) {
			orch_error("metrics", "cannot register %s: %s", d->name,
			    orch_strerror(rc));
			goto fail;
		}
	}
	atomic_compare_exchange_strong(&the_mm, &none, mm);
	*out = mm;
	return ORCH_OK;
fail:
	orch_metrics_free(mm->reg);
	free(mm);
	return rc;
}

void
orch_mm_free(struct orch_mm *mm)
{
	struct orch_mm *self = mm;

	if (mm == NULL)
		return;
	atomic_compare_exchange_strong(&the_mm, &self, NULL);
	orch_metrics_free(mm->reg);
	free(mm);
}

void
orch_mm_sources(struct orch_mm *mm, struct orch_store *st,
    struct orch_nodes *ns, struct orch_events *ev)
{
	mm->st = st;
	mm->ns = ns;
	mm->ev = ev;
}

void
orch_mm_logs_source(struct orch_mm *mm, struct orch_logs *lg)
{
	mm->lg = lg;
}

void
orch_mm_gateway(struct orch_mm *mm, struct orch_gw *gw)
{
	mm->gw = gw;
}

static void
scrape_timeouts(struct orch_mm *mm)
{
	struct orch_gw_stats gs;
	const struct {
		const char *kind;
		const uint64_t *n;
	} k[] = {
	    {"handshake", &gs.timeouts_handshake},
	    {"header", &gs.timeouts_header},
	    {"body", &gs.timeouts_body},
	    {"idle", &gs.timeouts_idle},
	    {"write", &gs.timeouts_write},
	};

	orch_gw_stats(mm->gw, &gs);
	for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
		const char *v[] = {k[i].kind, NULL};

		orch_metric_set(
		    orch_metric_get(mm->http_timeouts, v), (double)*k[i].n);
	}
}

/* The method as a label: the API's methods, or "other" (a client's bytes
 * never become a series of their own). */
static const char *
method_label(const char *m, size_t n)
{
	static const char *const known[] = {
	    "GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS"};

	for (size_t i = 0; m != NULL && i < sizeof(known) / sizeof(known[0]);
	     i++) {
		if (strlen(known[i]) == n && memcmp(known[i], m, n) == 0)
			return known[i];
	}
	return "other";
}

void
orch_mm_http(struct orch_mm *mm, const char *method, size_t method_len,
    const char *route, int status, int64_t elapsed_ns)
{
	char code[8];
	const char *m = method_label(method, method_len);
	const char *r = route != NULL ? route : "other";
	const char *v[] = {m, r, code, NULL};
	const char *vt[] = {m, r, NULL};

	if (mm == NULL)
		return;
	snprintf(code, sizeof(code), "%d", status);
	orch_metric_add(orch_metric_get(mm->http_total, v), 1);
	orch_metric_observe(
	    orch_metric_get(mm->http_seconds, vt), (double)elapsed_ns / 1e9);
}

void
orch_mm_commit(void *arg, int64_t ns, size_t writes)
{
	struct orch_mm *mm = arg;

	(void)writes;
	orch_metric_observe(orch_metric_only(mm->commit), (double)ns / 1e9);
}

void
orch_mm_placed(void *arg, double seconds)
{
	struct orch_mm *mm = arg;

	orch_metric_observe(orch_metric_only(mm->sched), seconds);
}

void
orch_mm_rpc(const char *method)
{
	struct orch_mm *mm = atomic_load(&the_mm);
	const char *v[] = {method != NULL ? method : "other", NULL};

	if (mm != NULL)
		orch_metric_add(orch_metric_get(mm->rpc, v), 1);
}

/* The task statuses, each always shown (0 when none). */
static void
scrape_tasks(struct orch_mm *mm)
{
	uint64_t counts[ORCH_STORE_STATUS_SLOTS];

	orch_events_task_counts(mm->ev, counts);
	for (int s = ORCH__TASK_STATUS__TASK_STATUS_PENDING;
	     s <= ORCH__TASK_STATUS__TASK_STATUS_STOPPED; s++) {
		const char *v[] = {orch_task_status_name(s), NULL};

		orch_metric_set(
		    orch_metric_get(mm->tasks, v), (double)counts[s]);
	}
}

/* One series per driver of n (none listed: docker, as the scheduler
 * reads it), 0 while its agent reports it unhealthy. */
static void
scrape_drivers(struct orch_mm *mm, const orch_node *n)
{
	static char *const docker[] = {"docker"};
	struct orch_driver_health sick[ORCH_NODE_DRIVERS_MAX];
	size_t nsick =
	    orch_nodes_unhealthy(mm->ns, n->id, sick, ORCH_NODE_DRIVERS_MAX);
	char *const *d = n->n_drivers > 0 ? n->drivers : docker;
	size_t nd = n->n_drivers > 0 ? n->n_drivers : 1;

	for (size_t k = 0; k < nd; k++) {
		const char *v[] = {n->name, d[k], NULL};
		bool ok = true;

		for (size_t j = 0; j < nsick && ok; j++)
			ok = strcmp(sick[j].name, d[k]) != 0;
		orch_metric_set(orch_metric_get(mm->driver_ok, v), ok ? 1 : 0);
	}
}

static void
scrape_nodes(struct orch_mm *mm, struct orch_store_reader *r)
{
	size_t counts[4];
	orch_node **nodes = NULL;
	size_t n = 0, drained = 0;

	orch_nodes_count(mm->ns, counts);
	for (int s = ORCH__NODE_STATUS__NODE_STATUS_READY;
	     s <= ORCH__NODE_STATUS__NODE_STATUS_DOWN; s++) {
		const char *v[] = {orch_node_status_name(s), NULL};

		orch_metric_set(
		    orch_metric_get(mm->nodes, v), (double)counts[s]);
	}
	/* Nodes are few: their records tell which are drained, and which
	 * drivers each has. */
	if (orch_store_node_list(r, &nodes, &n) == ORCH_OK) {
		for (size_t i = 0; i < n; i++)
			drained += nodes[i]->has_drain && nodes[i]->drain;
		orch_metric_set(orch_metric_only(mm->drained), (double)drained);
		orch_metrics_family_clear(mm->driver_ok);
		for (size_t i = 0; i < n; i++)
			scrape_drivers(mm, nodes[i]);
	}
	orch_store_node_list_free(nodes, n);
}

static int
scrape_services(struct orch_mm *mm, struct orch_store_reader *r)
{
	orch_service **svcs = NULL;
	struct orch_service_running *run = NULL;
	size_t n = 0, nr = 0;
	int rc;

	if ((rc = orch_store_service_list(r, &svcs, &n)) != ORCH_OK ||
	    (rc = orch_store_service_running(r, &run, &nr)) != ORCH_OK)
		goto out;
	/* Afresh: a deleted service's series go. */
	orch_metrics_family_clear(mm->svc_desired);
	orch_metrics_family_clear(mm->svc_running);
	for (size_t i = 0; i < n; i++) {
		const char *v[] = {svcs[i]->name, NULL};
		uint64_t running = 0;

		for (size_t k = 0; k < nr; k++) {
			if (strcmp(run[k].service_id, svcs[i]->id) == 0)
				running = run[k].running;
		}
		orch_metric_set(orch_metric_get(mm->svc_desired, v),
		    (double)svcs[i]->replicas);
		orch_metric_set(
		    orch_metric_get(mm->svc_running, v), (double)running);
	}
out:
	free(run);
	orch_store_service_list_free(svcs, n);
	return rc;
}

int
orch_mm_scrape(
    struct orch_mm *mm, struct orch_store_reader *r, struct orch_buf *out)
{
	int rc = ORCH_OK;

	if (mm->ev != NULL) {
		struct orch_events_stats es;

		scrape_tasks(mm);
		orch_events_stats(mm->ev, &es);
		orch_metric_set(
		    orch_metric_only(mm->ev_index), (double)es.newest);
		orch_metric_set(
		    orch_metric_only(mm->ev_streams), (double)es.streams);
		orch_metric_set(
		    orch_metric_only(mm->ev_dropped), (double)es.dropped);
	}
	if (mm->lg != NULL)
		orch_metric_set(orch_metric_only(mm->log_streams),
		    (double)orch_logs_streams(mm->lg));
	if (mm->ns != NULL && r != NULL)
		scrape_nodes(mm, r);
	if (r != NULL && (rc = scrape_services(mm, r)) != ORCH_OK)
		return rc;
	if (mm->st != NULL) {
		struct orch_store_stats ss;
		struct orch_store_health h;

		orch_store_stats(mm->st, &ss);
		orch_metric_set(
		    orch_metric_only(mm->writes), (double)ss.writes);
		orch_metric_set(
		    orch_metric_only(mm->write_failures), (double)ss.failed);
		orch_metric_set(
		    orch_metric_only(mm->commits), (double)ss.commits);
		orch_metric_set(
		    orch_metric_only(mm->refused), (double)ss.refused);
		orch_store_health(mm->st, &h);
		orch_metric_set(
		    orch_metric_only(mm->writable), h.writable ? 1 : 0);
	}
	if (mm->gw != NULL)
		scrape_timeouts(mm);
	return orch_metrics_format(mm->reg, out);
}
