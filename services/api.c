#include "api.h"

#include <ctype.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "clock.h"
#include "error.h"
#include "events.h"
#include "log.h"
#include "logs.h"
#include "manager_metrics.h"
#include "metrics.h"
#include "node_json.h"
#include "policy.h"
#include "service_json.h"
#include "task_cache.h"
#include "task_json.h"
#include "task_list.h"

#define ERR_LEN 512
#define CACHE_ENTRIES 10000

struct orch_api {
	struct orch_store *store;
	struct orch_nodes *nodes;
	struct orch_notify *notify;
	struct orch_store_reader *reader;
	struct orch_task_cache *cache;
	const struct orch_tokens *tokens; /* NULL: no token needed */
	const struct orch_policy *policy; /* NULL: the default policy */
	struct orch_events *events;       /* NULL: no GET /events */
	struct orch_mm *mm;               /* NULL: no GET /metrics */
	struct orch_logs *logs;           /* NULL: no GET /tasks/{id}/logs */
	struct orch_task_list *list;      /* GET /tasks */
};

/* A write in flight: from the handler, through the store's writer thread,
 * back to the loop thread. */
struct pending {
	struct orch_gw_work work; /* first: the post hands this back */
	struct orch_gw *gw;
	struct orch_gw_req *req;
	struct orch_api *api;
	int ok_status; /* 200 or 201 */
	int rc;
	orch_task *task;   /* a task write's result */
	orch_service *svc; /* a service write's result */
	orch_node *node;   /* a node write's result */
	bool svc_tasks;    /* answer the service with its tasks */
	char err[ERR_LEN];
	struct orch_task_update update;
	json_t *update_root;        /* owns the update's strings */
	uint32_t replicas;          /* a scale */
	struct orch_notify *notify; /* a stop or a deletion: tell nodes */
	/* A create's Idempotency-Key, and what the store made of it. */
	struct orch_store_idem idem;
	char idem_key[ORCH_IDEM_KEY_MAX + 1];
};

/* The header of an answer to a retry, as Stripe's API names it. */
#define REPLAYED_HEADER "Idempotent-Replayed: true\r\n"

int
orch_api_status(int rc)
{
	switch (rc) {
	case ORCH_OK: return 200;
	case ORCH_EINVAL: return 400;
	case ORCH_EPERM: return 403;
	case ORCH_ENOENT: return 404;
	case ORCH_EEXIST:
	case ORCH_ECONFLICT: return 409;
	case ORCH_ETOOBIG: return 413;
	case ORCH_ENOSPC:
	case ORCH_EAGAIN:
	case ORCH_EUNAVAIL:
	case ORCH_ENOMEM:
	case ORCH_ETIMEDOUT: return 503;
	}
	return 500;
}

static void
respond_json(struct orch_gw_req *req, int status, json_t *j, const char *extra)
{
	size_t n;
	/* A final newline, for people reading it with curl. */
	char *s = orch_json_line(j, &n);

	if (s == NULL) {
		static const char oom[] = "{\"error\":\"out of memory\"}\n";
		orch_gw_respond(
		    req, 503, "application/json", oom, sizeof(oom) - 1, NULL);
		return;
	}
	orch_gw_respond(req, status, "application/json", s, n, extra);
	free(s);
}

static void
respond_error(
    struct orch_gw_req *req, int status, const char *msg, const char *extra)
{
	json_t *j = json_object();

	/* A message may quote a client's bytes (a path segment) that are not
	 * UTF-8: orch_json_text() repairs what json_pack() would refuse. */
	if (j != NULL &&
	    json_object_set_new(j, "error", orch_json_text(msg)) != 0) {
		json_decref(j);
		j = NULL;
	}

	respond_json(req, status, j, extra);
	json_decref(j);
}

static void
respond_task(
    struct orch_gw_req *req, int status, const orch_task *t, const char *extra)
{
	json_t *j = orch_task_to_json(t);

	respond_json(req, status, j, extra);
	json_decref(j);
}

/* Answers a service with its live fields, read now (a deleted one, with
 * the tasks deleted with it, has nothing running). */
static void
respond_service(struct orch_api *api, struct orch_gw_req *req, int status,
    orch_service *svc, bool with_tasks, bool deleted, const char *extra)
{
	orch_task **tasks = NULL;
	size_t n = 0;
	json_t *j;
	int err;

	if (!deleted &&
	    (err = orch_store_task_list_service(
	         api->reader, svc->id, &tasks, &n)) != ORCH_OK) {
		orch_warn("api", "reading the tasks of service %s: %s",
		    svc->name, orch_strerror(err));
		respond_error(req, orch_api_status(err),
		    "cannot read the "
		    "service's tasks from the store",
		    NULL);
		return;
	}
	if (tasks != NULL) {
		svc->tasks = tasks;
		svc->n_tasks = n;
	}
	orch_service_running_count(svc, svc->tasks, deleted ? 0 : svc->n_tasks);
	j = orch_service_to_json(svc, with_tasks);
	respond_json(req, status, j, extra);
	json_decref(j);
}

/* Answers a node with its live fields, read now. */
static void
respond_node(struct orch_api *api, struct orch_gw_req *req, orch_node *n)
{
	struct orch_node_usage *usage = NULL;
	size_t nu = 0;
	json_t *j;
	int err;

	if ((err = orch_store_node_usage(api->reader, &usage, &nu)) !=
	    ORCH_OK) {
		respond_error(req, orch_api_status(err),
		    "cannot read the node "
		    "from the store",
		    NULL);
		return;
	}
	err = orch_nodes_fill(api->nodes, n, usage, nu);
	free(usage);
	if (err != ORCH_OK) {
		respond_error(req, orch_api_status(err),
		    "cannot fill in the node's live fields", NULL);
		return;
	}
	j = orch_node_to_json(n);
	respond_json(req, 200, j, NULL);
	json_decref(j);
}

/* ---- writes: finish on the loop thread ---- */

static void
pending_finish(struct orch_gw_work *w)
{
	struct pending *p = (struct pending *)w;
	const char *extra = p->idem.replayed ? REPLAYED_HEADER : NULL;

	if (p->rc == ORCH_OK && p->task != NULL) {
		respond_task(p->req, p->ok_status, p->task, extra);
	} else if (p->rc == ORCH_OK && p->svc != NULL) {
		respond_service(p->api, p->req, p->ok_status, p->svc,
		    p->svc_tasks, p->notify != NULL, extra);
	} else if (p->rc == ORCH_OK && p->node != NULL) {
		respond_node(p->api, p->req, p->node);
	} else {
		/* A key reused for another request: 422, as the IETF's
		 * Idempotency-Key draft asks. */
		int status = p->idem.mismatch ? 422 : orch_api_status(p->rc);

		/* A refusing disk is the store's to log, once. */
		if (status >= 500 && p->rc != ORCH_ENOSPC)
			orch_warn("api", "write failed: %s", p->err);
		respond_error(p->req, status, p->err, NULL);
	}
	orch_task_free(p->task);
	orch_service_free(p->svc);
	orch_node_free(p->node);
	json_decref(p->update_root);
	free(p);
}

/* Called on the store's writer thread: hand the result to the loop. */
static void
pending_done(void *arg, int rc, orch_task *task, const char *err)
{
	struct pending *p = arg;

	p->rc = rc;
	p->task = task;
	/* Here rather than on the loop: the notifier outlives the gateway's
	 * loop, and the node hears of the stop as soon as it is durable. */
	if (rc == ORCH_OK && p->notify != NULL)
		orch_notify_task_stop(p->notify, task);
	if (rc != ORCH_OK)
		snprintf(p->err, sizeof(p->err), "%s",
		    err != NULL ? err : orch_strerror(rc));
	orch_gw_post(p->gw, &p->work);
}

/* A service write's completion, on the store's writer thread. */
static void
pending_service_done(void *arg, int rc, orch_service *svc, const char *err)
{
	struct pending *p = arg;

	p->rc = rc;
	p->svc = svc;
	/* A deletion: the nodes of its replicas remove them now. */
	if (rc == ORCH_OK && p->notify != NULL) {
		for (size_t i = 0; i < svc->n_tasks; i++) {
			const orch_task *t = svc->tasks[i];

			if (!orch_task_status_terminal(t->status) &&
			    t->node_id != NULL && t->node_id[0] != '\0')
				orch_notify_node(p->notify, t->node_id);
		}
	}
	if (rc != ORCH_OK)
		snprintf(p->err, sizeof(p->err), "%s",
		    err != NULL ? err : orch_strerror(rc));
	orch_gw_post(p->gw, &p->work);
}

/* A node write's completion, on the store's writer thread. */
static void
pending_node_done(void *arg, int rc, orch_node *node, const char *err)
{
	struct pending *p = arg;

	p->rc = rc;
	p->node = node;
	if (rc != ORCH_OK)
		snprintf(p->err, sizeof(p->err), "%s",
		    err != NULL ? err : orch_strerror(rc));
	orch_gw_post(p->gw, &p->work);
}

static struct pending *
pending_new(struct orch_gw_req *req, int ok_status)
{
	struct pending *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->work.fn = pending_finish;
	p->gw = orch_gw_req_gw(req);
	p->req = req;
	p->ok_status = ok_status;
	return p;
}

/* ---- handlers ---- */

struct route_ctx {
	struct orch_api *api;
	struct orch_gw_req *req;
	const struct orch_http_request *http;
	char id[ORCH_ID_LEN];       /* the {id} of the path, when any */
	struct orch_http_slice seg; /* the {id or name} of a node path */
};

/*
 * 200 {"status":"ok"} when the store reads and writes; 503 when it cannot
 * even be read.  When it reads but the disk refuses writes (full,
 * read-only): 200 {"status":"degraded", ...} with why.  200, because the
 * process is fine and serves reads: a liveness probe must not restart it
 * (a restart frees no space, and the store takes writes again by itself
 * when the disk does), nor a load balancer take the only manager out of
 * service; monitoring looks at "status".
 */
static void
h_healthz(struct route_ctx *rc)
{
	struct orch_store_health h;
	int err = orch_store_ping(rc->api->reader);

	if (err != ORCH_OK) {
		respond_error(rc->req, 503, "store not usable", NULL);
		return;
	}
	orch_store_health(rc->api->store, &h);
	if (!h.writable) {
		char since[ORCH_RFC3339_LEN];
		json_t *j = json_pack("{s:s, s:b, s:s, s:s, s:I}", "status",
		    "degraded", "writable", 0, "error", h.why, "since",
		    orch_rfc3339(h.since_ms, since, sizeof(since)),
		    "refused_writes", (json_int_t)h.refused);

		respond_json(rc->req, 200, j, NULL);
		json_decref(j);
		return;
	}
	{
		static const char ok[] = "{\"status\":\"ok\"}\n";
		orch_gw_respond(
		    rc->req, 200, "application/json", ok, sizeof(ok) - 1, NULL);
	}
}

static void
h_tasks_list(struct route_ctx *rc)
{
	int status = 0, err, q;
	char sval[64], msg[256];

	q = orch_http_query_get(rc->http->query, "status", sval, sizeof(sval));
	if (q < 0 ||
	    (q == 1 && orch_task_status_parse(sval, &status) != ORCH_OK)) {
		respond_error(rc->req, 400,
		    "query parameter \"status\" must be one of Pending, "
		    "Scheduled, Running, Completed, Failed, Stopped",
		    NULL);
		return;
	}
	/* Page by page, streamed when longer than one (task_list.h). */
	if ((err = orch_task_list_serve(
	         rc->api->list, rc->req, status, msg, sizeof(msg))) != ORCH_OK)
		respond_error(rc->req, orch_api_status(err), msg, NULL);
}

/*
 * Reads the request's Idempotency-Key into p (p->idem.key stays NULL
 * without one).  The value may be given bare (abc) or as the IETF draft's
 * structured-field string ("abc"), which is the same key.  Answers 400
 * and returns false when it is empty, too long, not printable ASCII or
 * given twice.
 */
static bool
idem_key_read(struct route_ctx *rc, struct pending *p)
{
	const struct orch_http_request *h = rc->http;
	const struct orch_http_slice *v = NULL;
	char err[160], msg[256];
	const char *k;
	size_t n;

	for (size_t i = 0; i < h->n_headers; i++) {
		const struct orch_http_header *f = &h->headers[i];

		if (f->name.len != strlen("Idempotency-Key") ||
		    strncasecmp(f->name.p, "Idempotency-Key", f->name.len) != 0)
			continue;
		if (v != NULL) {
			respond_error(rc->req, 400,
			    "header Idempotency-Key is given more than once",
			    NULL);
			return false;
		}
		v = &f->value;
	}
	if (v == NULL)
		return true;
	k = v->p;
	n = v->len;
	if (n >= 2 && k[0] == '"' && k[n - 1] == '"') {
		k++;
		n -= 2;
	}
	if (orch_idem_key_check(k, n, err, sizeof(err)) != ORCH_OK) {
		snprintf(msg, sizeof(msg), "header Idempotency-Key: %s", err);
		respond_error(rc->req, 400, msg, NULL);
		return false;
	}
	memcpy(p->idem_key, k, n);
	p->idem_key[n] = '\0';
	p->idem.key = p->idem_key;
	return true;
}

/* The pending write of a POST that creates (201), with the request's
 * Idempotency-Key read into it.  NULL when the request has been answered
 * already: out of memory, or a bad key. */
static struct pending *
pending_create(struct route_ctx *rc)
{
	struct pending *p = pending_new(rc->req, 201);

	if (p == NULL) {
		respond_error(rc->req, 503, "out of memory", NULL);
		return NULL;
	}
	if (!idem_key_read(rc, p)) {
		free(p);
		return NULL;
	}
	return p;
}

static void
h_tasks_create(struct route_ctx *rc)
{
	char err[ERR_LEN];
	orch_task_spec *spec = NULL;
	orch_task *task = NULL;
	struct pending *p;
	const char *body;
	size_t len;
	int e;

	if ((p = pending_create(rc)) == NULL)
		return;
	body = orch_gw_req_body(rc->req, &len);
	if ((e = orch_task_spec_from_json(
	         body, len, &spec, err, sizeof(err))) != ORCH_OK ||
	    (e = orch_policy_check(rc->api->policy, spec, err, sizeof(err))) !=
	        ORCH_OK) {
		orch_task_spec_free(spec);
		respond_error(rc->req, orch_api_status(e), err, NULL);
		free(p);
		return;
	}
	if (orch_task_new(spec, &task) != ORCH_OK) {
		orch_task_spec_free(spec);
		respond_error(rc->req, 503, "out of memory", NULL);
		free(p);
		return;
	}
	orch_store_task_insert_idem(rc->api->store, task,
	    p->idem.key != NULL ? &p->idem : NULL, pending_done, p);
}

/* Reads the task of the path into *t (OUT); answers 404 or the store's
 * error and returns false when it cannot. */
static bool
task_read(struct route_ctx *rc, orch_task **t)
{
	char msg[96];
	int err;

	if ((err = orch_store_task_get(rc->api->reader, rc->id, t)) ==
	    ORCH_ENOENT) {
		snprintf(msg, sizeof(msg), "no task with id \"%s\"", rc->id);
		respond_error(rc->req, 404, msg, NULL);
		return false;
	}
	if (err != ORCH_OK) {
		orch_warn(
		    "api", "reading task %s: %s", rc->id, orch_strerror(err));
		respond_error(rc->req, orch_api_status(err),
		    "cannot read the task from the store", NULL);
		return false;
	}
	return true;
}

static void
h_task_get(struct route_ctx *rc)
{
	struct orch_api *api = rc->api;
	orch_task *t = NULL;
	const char *cached;
	json_t *j;
	char *text;
	size_t len;

	if ((cached = orch_task_cache_get(api->cache, rc->id, &len)) != NULL) {
		orch_gw_respond(
		    rc->req, 200, "application/json", cached, len, NULL);
		return;
	}
	if (!task_read(rc, &t))
		return;
	j = orch_task_to_json(t);
	orch_task_free(t);
	if ((text = orch_json_line(j, &len)) == NULL) {
		respond_error(rc->req, 503, "out of memory", NULL);
	} else {
		orch_task_cache_put(api->cache, rc->id, text, len);
		orch_gw_respond(
		    rc->req, 200, "application/json", text, len, NULL);
	}
	free(text);
	json_decref(j);
}

/* GET /tasks/{id}/logs: the task is read here, its output on its node
 * (logs.h). */
static void
h_task_logs(struct route_ctx *rc)
{
	orch_task *t = NULL;

	if (rc->api->logs == NULL) {
		respond_error(rc->req, 503, "no task output here", NULL);
		return;
	}
	if (!task_read(rc, &t))
		return;
	orch_logs_serve(rc->api->logs, rc->req, t, rc->http->query);
	orch_task_free(t);
}

static int
modify_stop(orch_task *t, void *marg, char *err, size_t errlen)
{
	(void)marg;
	(void)err;
	(void)errlen;
	return orch_task_stop(t, orch_now_ms());
}

static void
h_task_stop(struct route_ctx *rc)
{
	struct pending *p = pending_new(rc->req, 200);

	if (p == NULL) {
		respond_error(rc->req, 503, "out of memory", NULL);
		return;
	}
	p->notify = rc->api->notify;
	orch_store_task_modify(
	    rc->api->store, rc->id, modify_stop, NULL, pending_done, p);
}

static int
modify_status(orch_task *t, void *marg, char *err, size_t errlen)
{
	const struct orch_task_update *u = marg;

	return orch_task_apply_update(t, u, orch_now_ms(), err, errlen);
}

static void
h_task_status(struct route_ctx *rc)
{
	char err[ERR_LEN];
	struct pending *p = pending_new(rc->req, 200);
	const char *body;
	size_t len;
	int e;

	if (p == NULL) {
		respond_error(rc->req, 503, "out of memory", NULL);
		return;
	}
	body = orch_gw_req_body(rc->req, &len);
	if ((e = orch_task_update_from_json(body, len, &p->update,
	         &p->update_root, err, sizeof(err))) != ORCH_OK) {
		respond_error(rc->req, orch_api_status(e), err, NULL);
		json_decref(p->update_root);
		free(p);
		return;
	}
	orch_store_task_modify(
	    rc->api->store, rc->id, modify_status, &p->update, pending_done, p);
}

static void
h_nodes_list(struct route_ctx *rc)
{
	orch_node **nodes = NULL;
	size_t n = 0;
	json_t *arr;
	int err;

	if ((err = orch_nodes_read(
	         rc->api->nodes, rc->api->reader, &nodes, &n)) != ORCH_OK) {
		orch_warn("api", "listing nodes: %s", orch_strerror(err));
		respond_error(rc->req, orch_api_status(err),
		    "cannot read nodes "
		    "from the store",
		    NULL);
		return;
	}
	arr = json_array();
	for (size_t i = 0; arr != NULL && i < n; i++) {
		if (json_array_append_new(arr, orch_node_to_json(nodes[i])) !=
		    0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	orch_store_node_list_free(nodes, n);
	respond_json(rc->req, 200, arr, NULL);
	json_decref(arr);
}

/* Percent-decodes a path segment into out (a '+' stays a '+').  Returns
 * false when it is malformed, holds a NUL or does not fit. */
static bool
path_decode(struct orch_http_slice seg, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < seg.len; i++) {
		char c = seg.p[i];

		if (c == '%') {
			char hex[3] = {0};
			char *end;

			if (seg.len - i < 3 ||
			    !isxdigit((unsigned char)seg.p[i + 1]) ||
			    !isxdigit((unsigned char)seg.p[i + 2]))
				return false;
			hex[0] = seg.p[i + 1];
			hex[1] = seg.p[i + 2];
			c = (char)strtol(hex, &end, 16);
			if (end != hex + 2)
				return false;
			i += 2;
		}
		if (c == '\0' || o + 1 >= outlen)
			return false;
		out[o++] = c;
	}
	out[o] = '\0';
	return true;
}

static void
h_node_get(struct route_ctx *rc)
{
	char key[ORCH_NODE_NAME_MAX + 1], msg[ORCH_NODE_NAME_MAX + 64];
	orch_node *n = NULL;
	json_t *j;
	int err;

	if (!path_decode(rc->seg, key, sizeof(key))) {
		snprintf(msg, sizeof(msg), "no node with id or name \"%.*s\"",
		    (int)(rc->seg.len > 64 ? 64 : rc->seg.len), rc->seg.p);
		respond_error(rc->req, 404, msg, NULL);
		return;
	}
	err = orch_nodes_read_one(rc->api->nodes, rc->api->reader, key, &n);
	if (err == ORCH_ENOENT || err == ORCH_EINVAL) {
		snprintf(
		    msg, sizeof(msg), "no node with id or name \"%s\"", key);
		respond_error(rc->req, 404, msg, NULL);
		return;
	}
	if (err != ORCH_OK) {
		orch_warn(
		    "api", "reading node %s: %s", key, orch_strerror(err));
		respond_error(rc->req, orch_api_status(err),
		    "cannot read the node "
		    "from the store",
		    NULL);
		return;
	}
	j = orch_node_to_json(n);
	orch_node_free(n);
	respond_json(rc->req, 200, j, NULL);
	json_decref(j);
}

/* ---- services ---- */

static void
h_services_list(struct route_ctx *rc)
{
	orch_service **svcs = NULL;
	orch_task **tasks = NULL;
	size_t n = 0, nt = 0;
	json_t *arr = NULL;
	int err;

	if ((err = orch_store_service_list(rc->api->reader, &svcs, &n)) !=
	        ORCH_OK ||
	    (err = orch_store_task_list_open(rc->api->reader, &tasks, &nt)) !=
	        ORCH_OK) {
		orch_warn("api", "listing services: %s", orch_strerror(err));
		respond_error(rc->req, orch_api_status(err),
		    "cannot read "
		    "services from the store",
		    NULL);
		goto out;
	}
	arr = json_array();
	for (size_t i = 0; arr != NULL && i < n; i++) {
		orch_service_running_count(svcs[i], tasks, nt);
		if (json_array_append_new(
		        arr, orch_service_to_json(svcs[i], false)) != 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	respond_json(rc->req, 200, arr, NULL);
out:
	json_decref(arr);
	orch_store_task_list_free(tasks, nt);
	orch_store_service_list_free(svcs, n);
}

static void
h_services_create(struct route_ctx *rc)
{
	char err[ERR_LEN];
	orch_service *svc = NULL;
	struct pending *p;
	const char *body;
	size_t len;
	int e;

	if ((p = pending_create(rc)) == NULL)
		return;
	body = orch_gw_req_body(rc->req, &len);
	if ((e = orch_service_from_json(body, len, &svc, err, sizeof(err))) !=
	        ORCH_OK ||
	    (e = orch_policy_check(
	         rc->api->policy, svc->spec, err, sizeof(err))) != ORCH_OK) {
		orch_service_free(svc);
		respond_error(rc->req, orch_api_status(e), err, NULL);
		free(p);
		return;
	}
	p->api = rc->api;
	p->svc_tasks = true;
	orch_store_service_create_idem(rc->api->store, svc,
	    p->idem.key != NULL ? &p->idem : NULL, pending_service_done, p);
}

/* The {name} of a service path, decoded into key; answers 404 and
 * returns false when it cannot be one. */
static bool
service_key(struct route_ctx *rc, char *key, size_t len)
{
	char msg[128];

	if (path_decode(rc->seg, key, len))
		return true;
	snprintf(msg, sizeof(msg), "no service with name or id \"%.*s\"",
	    (int)(rc->seg.len > 64 ? 64 : rc->seg.len), rc->seg.p);
	respond_error(rc->req, 404, msg, NULL);
	return false;
}

static void
h_service_get(struct route_ctx *rc)
{
	char key[ORCH_NODE_NAME_MAX + 1], msg[ORCH_NODE_NAME_MAX + 64];
	orch_service *svc = NULL;
	int err;

	if (!service_key(rc, key, sizeof(key)))
		return;
	err = orch_store_service_get(rc->api->reader, key, &svc);
	if (err == ORCH_ENOENT || err == ORCH_EINVAL) {
		snprintf(
		    msg, sizeof(msg), "no service with name or id \"%s\"", key);
		respond_error(rc->req, 404, msg, NULL);
		return;
	}
	if (err != ORCH_OK) {
		orch_warn(
		    "api", "reading service %s: %s", key, orch_strerror(err));
		respond_error(rc->req, orch_api_status(err),
		    "cannot read the "
		    "service from the store",
		    NULL);
		return;
	}
	respond_service(rc->api, rc->req, 200, svc, true, false, NULL);
	orch_service_free(svc);
}

static int
modify_scale(orch_service *svc, void *marg, char *err, size_t errlen)
{
	const struct pending *p = marg;

	(void)err;
	(void)errlen;
	svc->has_replicas = true;
	svc->replicas = p->replicas;
	svc->has_updated_at_ms = true;
	svc->updated_at_ms = orch_now_ms();
	return ORCH_OK;
}

static void
h_service_scale(struct route_ctx *rc)
{
	char key[ORCH_NODE_NAME_MAX + 1], err[ERR_LEN];
	struct pending *p;
	const char *body;
	uint32_t replicas;
	size_t len;
	int e;

	if (!service_key(rc, key, sizeof(key)))
		return;
	body = orch_gw_req_body(rc->req, &len);
	if ((e = orch_service_scale_from_json(
	         body, len, &replicas, err, sizeof(err))) != ORCH_OK) {
		respond_error(rc->req, orch_api_status(e), err, NULL);
		return;
	}
	if ((p = pending_new(rc->req, 200)) == NULL) {
		respond_error(rc->req, 503, "out of memory", NULL);
		return;
	}
	p->api = rc->api;
	p->replicas = replicas;
	p->svc_tasks = true;
	orch_store_service_modify(
	    rc->api->store, key, modify_scale, p, pending_service_done, p);
}

static void
h_service_delete(struct route_ctx *rc)
{
	char key[ORCH_NODE_NAME_MAX + 1];
	struct pending *p;

	if (!service_key(rc, key, sizeof(key)))
		return;
	if ((p = pending_new(rc->req, 200)) == NULL) {
		respond_error(rc->req, 503, "out of memory", NULL);
		return;
	}
	p->api = rc->api;
	p->notify = rc->api->notify;
	p->svc_tasks = true;
	orch_store_service_delete(rc->api->store, key, pending_service_done, p);
}

static void
h_node_drain(struct route_ctx *rc)
{
	char key[ORCH_NODE_NAME_MAX + 1], msg[ORCH_NODE_NAME_MAX + 64];
	char err[ERR_LEN];
	struct pending *p;
	const char *body;
	bool drain;
	size_t len;
	int e;

	if (!path_decode(rc->seg, key, sizeof(key))) {
		snprintf(msg, sizeof(msg), "no node with id or name \"%.*s\"",
		    (int)(rc->seg.len > 64 ? 64 : rc->seg.len), rc->seg.p);
		respond_error(rc->req, 404, msg, NULL);
		return;
	}
	body = orch_gw_req_body(rc->req, &len);
	if ((e = orch_drain_from_json(body, len, &drain, err, sizeof(err))) !=
	    ORCH_OK) {
		respond_error(rc->req, orch_api_status(e), err, NULL);
		return;
	}
	if ((p = pending_new(rc->req, 200)) == NULL) {
		respond_error(rc->req, 503, "out of memory", NULL);
		return;
	}
	p->api = rc->api;
	orch_store_node_drain(rc->api->store, key, drain, pending_node_done, p);
}

static void
h_events(struct route_ctx *rc)
{
	if (rc->api->events == NULL) {
		respond_error(rc->req, 503, "no event stream here", NULL);
		return;
	}
	orch_events_serve(rc->api->events, rc->req, rc->http->query);
}

/* The page is rebuilt at each scrape; this caps it. */
#define METRICS_PAGE_MAX (16u * 1024 * 1024)

static void
h_metrics(struct route_ctx *rc)
{
	struct orch_buf b;
	int err;

	if (rc->api->mm == NULL) {
		respond_error(rc->req, 503, "no metrics here", NULL);
		return;
	}
	orch_buf_init(&b, METRICS_PAGE_MAX);
	if ((err = orch_mm_scrape(rc->api->mm, rc->api->reader, &b)) !=
	    ORCH_OK) {
		orch_warn("api", "metrics: %s", orch_strerror(err));
		respond_error(rc->req, orch_api_status(err),
		    "cannot gather the metrics", NULL);
	} else {
		orch_gw_respond(rc->req, 200, ORCH_METRICS_CONTENT_TYPE,
		    b.p != NULL ? b.p : "", b.len, NULL);
	}
	orch_buf_fini(&b);
}

/* ---- routing ---- */

enum { SEG_MAX = 4 };

struct route {
	const char *method;
	const char *pattern; /* '*' stands for a task id, '+' for a node's
	                      * id or name */
	void (*fn)(struct route_ctx *rc);
};

static const struct route routes[] = {
    {.method = "GET", .pattern = "/healthz", .fn = h_healthz},
    {.method = "GET", .pattern = "/tasks", .fn = h_tasks_list},
    {.method = "POST", .pattern = "/tasks", .fn = h_tasks_create},
    {.method = "GET", .pattern = "/tasks/*", .fn = h_task_get},
    {.method = "DELETE", .pattern = "/tasks/*", .fn = h_task_stop},
    {.method = "PUT", .pattern = "/tasks/*/status", .fn = h_task_status},
    {.method = "GET", .pattern = "/tasks/*/logs", .fn = h_task_logs},
    {.method = "GET", .pattern = "/nodes", .fn = h_nodes_list},
    {.method = "GET", .pattern = "/nodes/+", .fn = h_node_get},
    {.method = "PUT", .pattern = "/nodes/+/drain", .fn = h_node_drain},
    {.method = "GET", .pattern = "/services", .fn = h_services_list},
    {.method = "POST", .pattern = "/services", .fn = h_services_create},
    {.method = "GET", .pattern = "/services/+", .fn = h_service_get},
    {.method = "PUT", .pattern = "/services/+", .fn = h_service_scale},
    {.method = "DELETE", .pattern = "/services/+", .fn = h_service_delete},
    {.method = "GET", .pattern = "/events", .fn = h_events},
    {.method = "GET", .pattern = "/metrics", .fn = h_metrics},
};

#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

/* Each route's pattern as a metrics label: "/tasks/{id}", "/nodes/{name}";
 * made once. */
static char route_labels[N_ROUTES][64];
static pthread_once_t route_labels_once = PTHREAD_ONCE_INIT;

static void
route_labels_make(void)
{
	for (size_t i = 0; i < N_ROUTES; i++) {
		char *o = route_labels[i];
		size_t n = 0, cap = sizeof(route_labels[i]);

		for (const char *p = routes[i].pattern; *p != '\0'; p++) {
			const char *put = *p == '*' ? "{id}"
			    : *p == '+'             ? "{name}"
			                            : NULL;
			size_t k = put != NULL ? strlen(put) : 1;

			if (n + k >= cap)
				break;
			memcpy(o + n, put != NULL ? put : p, k);
			n += k;
		}
		o[n] = '\0';
	}
}

/*
 * Matches path against pattern.  Returns 1 on a match, storing the '*'
 * segment in id_out (empty when the segment is not a valid id, so that
 * the handler answers 404) and the '+' segment, still escaped, in seg;
 * 0 otherwise.
 */
static int
route_match(const char *pattern, struct orch_http_slice path, char *id_out,
    struct orch_http_slice *seg, bool *bad_id)
{
	const char *p = pattern, *s = path.p, *end = path.p + path.len;

	*bad_id = false;
	/* A trailing slash is the same resource. */
	if (end - s > 1 && end[-1] == '/')
		end--;
	while (*p != '\0' && s < end) {
		if (*p == '*') {
			const char *seg_end = memchr(s, '/', (size_t)(end - s));
			size_t n;

			if (seg_end == NULL)
				seg_end = end;
			n = (size_t)(seg_end - s);
			if (n == ORCH_ID_LEN - 1) {
				memcpy(id_out, s, n);
				id_out[n] = '\0';
				if (!orch_id_valid(id_out))
					*bad_id = true;
			} else {
				*bad_id = true;
			}
			if (*bad_id) {
				n = n < 64 ? n : 64;
				/* Keep the text for the 404 message. */
				snprintf(
				    id_out, ORCH_ID_LEN, "%.*s", (int)n, s);
			}
			if (n == 0)
				return 0;
			s = seg_end;
			p++;
			continue;
		}
		if (*p == '+') {
			const char *seg_end = memchr(s, '/', (size_t)(end - s));

			if (seg_end == NULL)
				seg_end = end;
			if (seg_end == s)
				return 0;
			seg->p = s;
			seg->len = (size_t)(seg_end - s);
			s = seg_end;
			p++;
			continue;
		}
		if (*p != *s)
			return 0;
		p++;
		s++;
	}
	return *p == '\0' && s == end;
}

/*
 * Answers 401 and returns false unless the request carries one of the
 * API's tokens.  GET /healthz stays open, for probes.  The header's value
 * is never logged: only what was wrong with it.
 */
static bool
api_authorized(struct orch_api *api, struct orch_gw_req *req,
    const struct orch_http_request *http)
{
	const struct orch_http_slice *h;
	struct orch_http_slice none = {0};
	const char *msg = "invalid token", *hdr = "";
	char id[ORCH_ID_LEN];
	bool bad_id;
	size_t n = 0;

	if (api->tokens == NULL ||
	    (orch_http_slice_eq(http->method, "GET") &&
	        route_match("/healthz", http->path, id, &none, &bad_id)))
		return true;
	/* Two Authorization fields cannot both be believed. */
	for (size_t i = 0; i < http->n_headers; i++) {
		if (http->headers[i].name.len == 13 &&
		    strncasecmp(http->headers[i].name.p, "Authorization", 13) ==
		        0)
			n++;
	}
	h = orch_http_header_get(http, "Authorization");
	switch (n > 1 ? ORCH_AUTH_MALFORMED
	              : orch_tokens_check(api->tokens, h != NULL ? h->p : NULL,
	                    h != NULL ? h->len : 0)) {
	case ORCH_AUTH_OK: return true;
	case ORCH_AUTH_MISSING:
		msg = "this API needs a token: send \"Authorization: Bearer "
		      "TOKEN\" (orchctl: --token or ORCH_TOKEN)";
		hdr = "WWW-Authenticate: Bearer realm=\"orch\"\r\n";
		break;
	case ORCH_AUTH_MALFORMED:
		msg = "malformed Authorization header: want \"Bearer TOKEN\"";
		hdr = "WWW-Authenticate: Bearer realm=\"orch\", "
		      "error=\"invalid_request\"\r\n";
		break;
	case ORCH_AUTH_INVALID:
		msg = "invalid token";
		hdr = "WWW-Authenticate: Bearer realm=\"orch\", "
		      "error=\"invalid_token\"\r\n";
		break;
	}
	orch_debug("api", "401 for %.*s %.*s: %s", (int)http->method.len,
	    http->method.p, (int)(http->path.len > 100 ? 100 : http->path.len),
	    http->path.p, msg);
	respond_error(req, 401, msg, hdr);
	return false;
}

void
orch_api_handle(struct orch_gw_req *req, void *arg)
{
	struct route_ctx rc = {.api = arg, .req = req};
	char allow[128] = "";
	size_t alen = 0;
	bool path_known = false;

	rc.http = orch_gw_req_http(req);
	if (!api_authorized(rc.api, req, rc.http))
		return;
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		bool bad_id;

		if (!route_match(routes[i].pattern, rc.http->path, rc.id,
		        &rc.seg, &bad_id))
			continue;
		path_known = true;
		if (!orch_http_slice_eq(rc.http->method, routes[i].method)) {
			alen +=
			    (size_t)snprintf(allow + alen, sizeof(allow) - alen,
			        "%s%s", alen > 0 ? ", " : "", routes[i].method);
			continue;
		}
		if (bad_id) {
			char msg[128];

			snprintf(msg, sizeof(msg),
			    "no task with id \"%s\": task ids "
			    "are UUIDs",
			    rc.id);
			respond_error(req, 404, msg, NULL);
			return;
		}
		orch_gw_req_tag(req, &routes[i]);
		routes[i].fn(&rc);
		return;
	}
	if (path_known) {
		char msg[256], hdr[160];

		snprintf(msg, sizeof(msg),
		    "method %.*s is not allowed on %.*s; "
		    "allowed: %s",
		    (int)rc.http->method.len, rc.http->method.p,
		    (int)(rc.http->path.len > 100 ? 100 : rc.http->path.len),
		    rc.http->path.p, allow);
		snprintf(hdr, sizeof(hdr), "Allow: %s\r\n", allow);
		respond_error(req, 405, msg, hdr);
		return;
	}
	{
		char msg[256];

		snprintf(msg, sizeof(msg), "no such endpoint: %.*s %.*s",
		    (int)rc.http->method.len, rc.http->method.p,
		    (int)(rc.http->path.len > 100 ? 100 : rc.http->path.len),
		    rc.http->path.p);
		respond_error(req, 404, msg, NULL);
	}
}

static void
on_commit(void *arg, int kind, const char *id, const void *obj)
{
	struct orch_api *api = arg;

	(void)obj;
	if (kind == ORCH_STORE_TASK)
		orch_task_cache_invalidate(api->cache, id);
}

void
orch_api_attach(struct orch_api *api, struct orch_events *events,
    struct orch_mm *mm, struct orch_logs *logs)
{
	api->events = events;
	api->mm = mm;
	api->logs = logs;
}

struct orch_task_list *
orch_api_task_list(struct orch_api *api)
{
	return api->list;
}

void
orch_api_observe(void *arg, const struct orch_gw_answer *a)
{
	struct orch_api *api = arg;
	const struct route *r = a->tag;
	const char *label = NULL;

	if (api->mm == NULL)
		return;
	if (r != NULL && r >= routes && r < routes + N_ROUTES)
		label = route_labels[r - routes];
	orch_mm_http(
	    api->mm, a->method, a->method_len, label, a->status, a->elapsed_ns);
}

int
orch_api_new(struct orch_store *st, struct orch_nodes *nodes,
    struct orch_notify *notify, const struct orch_tokens *tokens,
    const struct orch_policy *policy, struct orch_api **out)
{
	struct orch_api *api = calloc(1, sizeof(*api));
	int rc;

	if (api == NULL)
		return ORCH_ENOMEM;
	api->store = st;
	api->nodes = nodes;
	api->notify = notify;
	api->tokens = tokens;
	api->policy = policy;
	pthread_once(&route_labels_once, route_labels_make);
	if ((rc = orch_task_cache_new(CACHE_ENTRIES, &api->cache)) != ORCH_OK ||
	    (rc = orch_store_reader_new(st, &api->reader)) != ORCH_OK ||
	    (rc = orch_task_list_new(api->reader, &api->list)) != ORCH_OK ||
	    (rc = orch_store_listen(st, on_commit, api)) != ORCH_OK) {
		orch_api_free(api);
		return rc;
	}
	*out = api;
	return ORCH_OK;
}

void
orch_api_free(struct orch_api *api)
{
	if (api == NULL)
		return;
	orch_store_unlisten(api->store, on_commit, api);
	orch_task_list_free(api->list);
	orch_store_reader_free(api->reader);
	orch_task_cache_free(api->cache);
	free(api);
}
