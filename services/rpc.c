#include "rpc.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "error.h"
#include "log.h"
#include "manager_metrics.h"
#include "orch.pb-c.h"
#include "policy.h"
#include "rpc_client.h"
#include "tls.h"
#include "tls_engine.h"

#define N_WORKERS 4
#define ERR_LEN 512

struct worker {
	struct orch_rpc *rpc;
	pthread_t thread;
	nng_ctx ctx;
	nng_aio *aio;
	struct orch_store_reader *reader;
	bool started;
};

struct orch_rpc {
	struct orch_store *store;
	struct orch_nodes *nodes;
	struct orch_notify *notify;
	const struct orch_policy *policy; /* NULL: the default policy */
	nng_socket sock;
	bool tls; /* callers have certificates: nodes act under their own */
	struct worker workers[N_WORKERS];
};

/* One call being served: the handler's result reaches the reply here. */
struct call {
	struct worker *w;
	nng_pipe pipe; /* the caller's connection */
	Orch__ErrorCode code;
	char err[ERR_LEN];
	uint8_t *out;
	size_t out_len;
	bool answered;
};

static Orch__ErrorCode
code_from_err(int rc)
{
	switch (rc) {
	case ORCH_OK: return ORCH__ERROR_CODE__OK;
	case ORCH_EINVAL:
	case ORCH_ETOOBIG: return ORCH__ERROR_CODE__INVALID_ARGUMENT;
	case ORCH_ENOENT: return ORCH__ERROR_CODE__NOT_FOUND;
	case ORCH_EEXIST:
	case ORCH_ECONFLICT: return ORCH__ERROR_CODE__CONFLICT;
	case ORCH_ENOSPC:
	case ORCH_EAGAIN:
	case ORCH_EUNAVAIL:
	case ORCH_ENOMEM:
	case ORCH_ETIMEDOUT: return ORCH__ERROR_CODE__UNAVAILABLE;
	case ORCH_EPERM: return ORCH__ERROR_CODE__PERMISSION_DENIED;
	}
	return ORCH__ERROR_CODE__INTERNAL;
}

/* The closure every handler calls once: a message, or NULL after
 * call_fail(). */
static void
call_closure(const ProtobufCMessage *msg, void *data)
{
	struct call *c = data;

	c->answered = true;
	if (msg == NULL)
		return;
	c->out_len = protobuf_c_message_get_packed_size(msg);
	if ((c->out = malloc(c->out_len > 0 ? c->out_len : 1)) == NULL) {
		c->code = ORCH__ERROR_CODE__UNAVAILABLE;
		snprintf(c->err, sizeof(c->err), "out of memory");
		return;
	}
	protobuf_c_message_pack(msg, c->out);
}

static void call_fail(struct call *c, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
call_fail(struct call *c, int rc, const char *fmt, ...)
{
	va_list ap;

	c->code = code_from_err(rc);
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
}

/*
 * With TLS on, a node registers, beats and reports only under the name in
 * its certificate: the CN of the caller's verified certificate must be
 * name, or, for name NULL, the name node id registered under (an unknown
 * id passes: the method answers NOT_FOUND).  Otherwise answers
 * PERMISSION_DENIED, logs it, and returns false.
 */
static bool
caller_is_node(struct call *c, const char *name, const char *id)
{
	char cn[ORCH_TLS_NAME_MAX + 1], reg[256];

	if (!c->w->rpc->tls)
		return true;
	if (name == NULL) {
		if (orch_nodes_name(c->w->rpc->nodes, id, reg, sizeof(reg)) !=
		    ORCH_OK)
			return true;
		name = reg;
	}
	if (orch_tls_engine_peer(c->pipe, cn, sizeof(cn)) != ORCH_OK) {
		call_fail(c, ORCH_EPERM,
		    "the caller has no verified certificate, so it may not "
		    "act as node \"%.128s\"",
		    name);
		return false;
	}
	if (strcmp(cn, name) == 0)
		return true;
	call_fail(c, ORCH_EPERM,
	    "the certificate of \"%s\" may not act as node \"%.128s\": a "
	    "node registers, beats and reports only under the name in its "
	    "certificate",
	    cn, name);
	orch_tls_log_refusal("rpc: refused the certificate of \"%s\" acting "
	                     "as node \"%.128s\"",
	    cn, name);
	return false;
}

/* ---- the methods ---- */

static void
rpc_submit_task(Orch__Manager_Service *svc, const Orch__SubmitTaskRequest *in,
    Orch__Task_Closure closure, void *data)
{
	struct call *c = data;
	orch_task_spec *spec = NULL;
	orch_task *task = NULL, *stored = NULL;
	uint8_t *buf = NULL;
	size_t len;
	int rc;

	(void)svc;
	if (in->spec == NULL) {
		call_fail(c, ORCH_EINVAL, "field \"spec\" is required");
		goto out;
	}
	if ((rc = orch_task_spec_validate(in->spec, c->err, sizeof(c->err))) !=
	        ORCH_OK ||
	    (rc = orch_policy_check(c->w->rpc->policy, in->spec, c->err,
	         sizeof(c->err))) != ORCH_OK) {
		c->code = code_from_err(rc);
		goto out;
	}
	if (in->spec->service != NULL) {
		call_fail(c, ORCH_EINVAL,
		    "field \"service\" is set by the "
		    "manager on a service's replicas: create a service with "
		    "CreateService");
		goto out;
	}
	/* The request owns in->spec; a packed copy gives the task its own. */
	len = orch__task_spec__get_packed_size(in->spec);
	if ((buf = malloc(len > 0 ? len : 1)) == NULL) {
		call_fail(c, ORCH_ENOMEM, "out of memory");
		goto out;
	}
	orch__task_spec__pack(in->spec, buf);
	if ((spec = orch__task_spec__unpack(NULL, len, buf)) == NULL ||
	    orch_task_new(spec, &task) != ORCH_OK) {
		orch_task_spec_free(spec);
		call_fail(c, ORCH_ENOMEM, "out of memory");
		goto out;
	}
	rc = orch_store_task_insert_sync(
	    c->w->rpc->store, task, &stored, c->err, sizeof(c->err));
	if (rc != ORCH_OK) {
		c->code = code_from_err(rc);
		goto out;
	}
	closure(stored, data);
out:
	if (!c->answered)
		closure(NULL, data);
	orch_task_free(stored);
	free(buf);
}

static void
rpc_list_tasks(Orch__Manager_Service *svc, const Orch__ListTasksRequest *in,
    Orch__TaskList_Closure closure, void *data)
{
	struct call *c = data;
	Orch__TaskList list = ORCH__TASK_LIST__INIT;
	orch_task **tasks = NULL;
	size_t n = 0;
	int status = in->has_status ? (int)in->status : 0, rc;

	(void)svc;
	if (status != 0 && orch_task_status_name(status) == NULL) {
		call_fail(c, ORCH_EINVAL, "unknown status %d", status);
		closure(NULL, data);
		return;
	}
	if ((rc = orch_store_task_list(c->w->reader, status, &tasks, &n)) !=
	    ORCH_OK) {
		call_fail(c, rc, "cannot read tasks from the store: %s",
		    orch_strerror(rc));
		closure(NULL, data);
		return;
	}
	list.n_tasks = n;
	list.tasks = tasks;
	closure(&list, data);
	orch_store_task_list_free(tasks, n);
}

/* Checks an id argument; answers the call and returns false when bad. */
static bool
id_ok(struct call *c, const char *id)
{
	if (id == NULL || !orch_id_valid(id)) {
		call_fail(c, ORCH_ENOENT,
		    "no task with id \"%.40s\": task ids are "
		    "UUIDs",
		    id != NULL ? id : "");
		return false;
	}
	return true;
}

static void
rpc_get_task(Orch__Manager_Service *svc, const Orch__GetTaskRequest *in,
    Orch__Task_Closure closure, void *data)
{
	struct call *c = data;
	orch_task *t = NULL;
	int rc;

	(void)svc;
	if (!id_ok(c, in->id)) {
		closure(NULL, data);
		return;
	}
	if ((rc = orch_store_task_get(c->w->reader, in->id, &t)) != ORCH_OK) {
		if (rc == ORCH_ENOENT)
			call_fail(c, rc, "no task with id \"%s\"", in->id);
		else
			call_fail(c, rc, "cannot read task %s: %s", in->id,
			    orch_strerror(rc));
		closure(NULL, data);
		return;
	}
	closure(t, data);
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

/* Runs a read-modify-write and answers with the stored task. */
static void
modify_and_reply(struct call *c, const char *id, orch_store_modify_fn fn,
    void *marg, Orch__Task_Closure closure)
{
	orch_task *t = NULL;
	int rc;

	rc = orch_store_task_modify_sync(
	    c->w->rpc->store, id, fn, marg, &t, c->err, sizeof(c->err));
	if (rc != ORCH_OK) {
		c->code = code_from_err(rc);
		closure(NULL, c);
		return;
	}
	closure(t, c);
	orch_task_free(t);
}

static void
rpc_stop_task(Orch__Manager_Service *svc, const Orch__StopTaskRequest *in,
    Orch__Task_Closure closure, void *data)
{
	struct call *c = data;
	orch_task *t = NULL;
	int rc;

	(void)svc;
	if (!id_ok(c, in->id)) {
		closure(NULL, data);
		return;
	}
	rc = orch_store_task_modify_sync(c->w->rpc->store, in->id, modify_stop,
	    NULL, &t, c->err, sizeof(c->err));
	if (rc != ORCH_OK) {
		c->code = code_from_err(rc);
		closure(NULL, c);
		return;
	}
	/* A task its node runs: tell the node now rather than at its next
	 * heartbeat.  Repeated for a repeated request, which is harmless. */
	orch_notify_task_stop(c->w->rpc->notify, t);
	closure(t, c);
	orch_task_free(t);
}

/* A node's report: the update, and the node it must come from. */
struct node_update {
	struct orch_task_update u;
	const char *node_id; /* NULL: any (the HTTP API's reports) */
};

static int
modify_node_update(orch_task *t, void *marg, char *err, size_t errlen)
{
	const struct node_update *nu = marg;

	if (nu->node_id != NULL &&
	    (t->node_id == NULL || strcmp(t->node_id, nu->node_id) != 0)) {
		if (t->node_id == NULL || t->node_id[0] == '\0')
			snprintf(err, errlen,
			    "task %s is not placed on any node, "
			    "so node %.40s cannot report on it",
			    t->id, nu->node_id);
		else
			snprintf(err, errlen,
			    "task %s is placed on node %.40s, not "
			    "on node %.40s that reported on it",
			    t->id, t->node_id, nu->node_id);
		return ORCH_ECONFLICT;
	}
	return orch_task_apply_update(t, &nu->u, orch_now_ms(), err, errlen);
}

static void
rpc_update_task_status(Orch__Manager_Service *svc,
    const Orch__TaskStatusUpdate *in, Orch__Task_Closure closure, void *data)
{
	struct call *c = data;
	struct node_update nu = {
	    .u =
	        {
	            .status = in->has_status ? (int)in->status : 0,
	            .container_id = in->container_id,
	            .has_exit_code = in->has_exit_code,
	            .exit_code = in->exit_code,
	            .error = in->error,
	            .has_started_at_ms = in->has_started_at_ms,
	            .started_at_ms = in->started_at_ms,
	            .has_finished_at_ms = in->has_finished_at_ms,
	            .finished_at_ms = in->finished_at_ms,
	        },
	    .node_id = in->node_id != NULL && in->node_id[0] != '\0'
	        ? in->node_id
	        : NULL,
	};

	(void)svc;
	if (!id_ok(c, in->id)) {
		closure(NULL, data);
		return;
	}
	if ((in->has_started_at_ms && in->started_at_ms <= 0) ||
	    (in->has_finished_at_ms && in->finished_at_ms <= 0)) {
		call_fail(c, ORCH_EINVAL,
		    "fields \"started_at_ms\" and "
		    "\"finished_at_ms\" are milliseconds since the epoch, "
		    "more than 0");
		closure(NULL, data);
		return;
	}
	if (nu.node_id != NULL && !caller_is_node(c, NULL, nu.node_id)) {
		closure(NULL, data);
		return;
	}
	modify_and_reply(c, in->id, modify_node_update, &nu, closure);
}

/* ---- nodes ---- */

/* Fills the live fields of one node read with the worker's reader. */
static int
node_fill(struct call *c, orch_node *n)
{
	struct orch_node_usage *usage = NULL;
	size_t nu = 0;
	int rc;

	if ((rc = orch_store_node_usage(c->w->reader, &usage, &nu)) != ORCH_OK)
		return rc;
	orch_nodes_fill(c->w->rpc->nodes, n, usage, nu);
	free(usage);
	return ORCH_OK;
}

static void
rpc_register_node(Orch__Manager_Service *svc, const Orch__NodeRegistration *in,
    Orch__Node_Closure closure, void *data)
{
	struct call *c = data;
	orch_node *n = NULL;
	int rc;

	(void)svc;
	if ((rc = orch_node_registration_validate(
	         in, c->err, sizeof(c->err))) != ORCH_OK) {
		c->code = code_from_err(rc);
		goto out;
	}
	if (!caller_is_node(c, in->name, NULL))
		goto out;
	if ((rc = orch_store_node_register_sync(c->w->rpc->store, in, &n,
	         c->err, sizeof(c->err))) != ORCH_OK) {
		c->code = code_from_err(rc);
		goto out;
	}
	/* Only once it is durable: a node the registry knows is in the
	 * store.  Registering is also a sign of life. */
	if ((rc = orch_nodes_seen(c->w->rpc->nodes, n->id, n->name)) !=
	        ORCH_OK ||
	    (rc = node_fill(c, n)) != ORCH_OK) {
		call_fail(c, rc,
		    "node %s (%s) is registered but cannot be read "
		    "back: %s",
		    n->name, n->id, orch_strerror(rc));
		goto out;
	}
	closure(n, data);
out:
	if (!c->answered)
		closure(NULL, data);
	orch_node_free(n);
}

static void
rpc_heartbeat(Orch__Manager_Service *svc, const Orch__HeartbeatRequest *in,
    Orch__Assignments_Closure closure, void *data)
{
	struct call *c = data;
	Orch__Assignments a = ORCH__ASSIGNMENTS__INIT;
	orch_task **tasks = NULL;
	size_t n = 0;
	int rc;

	(void)svc;
	if (in->node_id == NULL || in->node_id[0] == '\0') {
		call_fail(c, ORCH_EINVAL,
		    "field \"node_id\" is required: the id "
		    "RegisterNode answered");
		goto out;
	}
	if (!caller_is_node(c, NULL, in->node_id))
		goto out;
	if (orch_nodes_beat(c->w->rpc->nodes, in->node_id) == ORCH_ENOENT) {
		call_fail(c, ORCH_ENOENT,
		    "node %.40s is not registered with this "
		    "manager: register again (RegisterNode)",
		    in->node_id);
		goto out;
	}
	if ((rc = orch_store_task_list_node(
	         c->w->reader, in->node_id, &tasks, &n)) != ORCH_OK) {
		call_fail(c, rc, "cannot read the tasks of node %.40s: %s",
		    in->node_id, orch_strerror(rc));
		goto out;
	}
	a.node_id = in->node_id;
	a.n_tasks = n;
	a.tasks = tasks;
	a.has_heartbeat_ms = true;
	a.heartbeat_ms = orch_nodes_heartbeat_ms(c->w->rpc->nodes);
	closure(&a, data);
out:
	if (!c->answered)
		closure(NULL, data);
	orch_store_task_list_free(tasks, n);
}

static void
rpc_list_nodes(Orch__Manager_Service *svc, const Orch__ListNodesRequest *in,
    Orch__NodeList_Closure closure, void *data)
{
	struct call *c = data;
	Orch__NodeList list = ORCH__NODE_LIST__INIT;
	orch_node **nodes = NULL;
	size_t n = 0;
	int rc;

	(void)svc;
	(void)in;
	if ((rc = orch_nodes_read(
	         c->w->rpc->nodes, c->w->reader, &nodes, &n)) != ORCH_OK) {
		call_fail(c, rc, "cannot read nodes from the store: %s",
		    orch_strerror(rc));
		closure(NULL, data);
		return;
	}
	list.n_nodes = n;
	list.nodes = nodes;
	closure(&list, data);
	orch_store_node_list_free(nodes, n);
}

static void
rpc_get_node(Orch__Manager_Service *svc, const Orch__GetNodeRequest *in,
    Orch__Node_Closure closure, void *data)
{
	struct call *c = data;
	orch_node *n = NULL;
	int rc;

	(void)svc;
	if (in->id == NULL || in->id[0] == '\0') {
		call_fail(c, ORCH_EINVAL,
		    "field \"id\" is required: a node's id "
		    "or name");
		closure(NULL, data);
		return;
	}
	if ((rc = orch_nodes_read_one(
	         c->w->rpc->nodes, c->w->reader, in->id, &n)) != ORCH_OK) {
		if (rc == ORCH_ENOENT)
			call_fail(c, rc, "no node with id or name \"%.128s\"",
			    in->id);
		else
			call_fail(c, rc, "cannot read node %.128s: %s", in->id,
			    orch_strerror(rc));
		closure(NULL, data);
		return;
	}
	closure(n, data);
	orch_node_free(n);
}

/* ---- services and draining ---- */

/* Fills the live fields of svc: running, and when with_tasks its tasks
 * (taken into svc). */
static int
service_fill(struct call *c, orch_service *svc, bool with_tasks)
{
	orch_task **tasks = NULL;
	size_t n = 0;
	int rc;

	if ((rc = orch_store_task_list_service(
	         c->w->reader, svc->id, &tasks, &n)) != ORCH_OK)
		return rc;
	orch_service_running_count(svc, tasks, n);
	if (with_tasks) {
		svc->n_tasks = n;
		svc->tasks = tasks;
	} else {
		orch_store_task_list_free(tasks, n);
	}
	return ORCH_OK;
}

/* Answers with svc (its live fields filled) or with why not. */
static void
service_reply(struct call *c, orch_service *svc, bool with_tasks,
    Orch__Service_Closure closure)
{
	int rc = service_fill(c, svc, with_tasks);

	if (rc != ORCH_OK) {
		call_fail(c, rc,
		    "service %s is stored but cannot be read back: "
		    "%s",
		    svc->name, orch_strerror(rc));
		closure(NULL, c);
		return;
	}
	closure(svc, c);
}

static void
rpc_create_service(Orch__Manager_Service *svc_,
    const Orch__CreateServiceRequest *in, Orch__Service_Closure closure,
    void *data)
{
	struct call *c = data;
	orch_task_spec *spec = NULL;
	orch_service *svc = NULL, *stored = NULL;
	int rc;

	(void)svc_;
	if ((rc = orch_service_name_validate(
	         in->name, c->err, sizeof(c->err))) != ORCH_OK ||
	    (rc = orch_service_replicas_validate(
	         in->replicas, c->err, sizeof(c->err))) != ORCH_OK) {
		c->code = code_from_err(rc);
		goto out;
	}
	if (in->spec == NULL) {
		call_fail(c, ORCH_EINVAL,
		    "field \"spec\" is required: the "
		    "replicas' image and resources");
		goto out;
	}
	if ((spec = orch_task_spec_copy(in->spec)) == NULL ||
	    orch_str_set(&spec->name, in->name) != ORCH_OK) {
		call_fail(c, ORCH_ENOMEM, "out of memory");
		goto out;
	}
	/* The manager names the service of each replica, not the client. */
	free(spec->service);
	spec->service = NULL;
	if ((rc = orch_task_spec_validate(spec, c->err, sizeof(c->err))) !=
	        ORCH_OK ||
	    (rc = orch_policy_check(
	         c->w->rpc->policy, spec, c->err, sizeof(c->err))) != ORCH_OK) {
		c->code = code_from_err(rc);
		goto out;
	}
	if (orch_service_new(in->name, spec, in->replicas, &svc) != ORCH_OK) {
		call_fail(c, ORCH_ENOMEM, "out of memory");
		goto out;
	}
	spec = NULL;
	rc = orch_store_service_create_sync(
	    c->w->rpc->store, svc, &stored, c->err, sizeof(c->err));
	if (rc != ORCH_OK) {
		c->code = code_from_err(rc);
		goto out;
	}
	service_reply(c, stored, false, closure);
out:
	if (!c->answered)
		closure(NULL, data);
	orch_service_free(stored);
	orch_task_spec_free(spec);
}

static void
rpc_list_services(Orch__Manager_Service *svc_,
    const Orch__ListServicesRequest *in, Orch__ServiceList_Closure closure,
    void *data)
{
	struct call *c = data;
	Orch__ServiceList list = ORCH__SERVICE_LIST__INIT;
	orch_service **svcs = NULL;
	orch_task **tasks = NULL;
	size_t n = 0, nt = 0;
	int rc;

	(void)svc_;
	(void)in;
	if ((rc = orch_store_service_list(c->w->reader, &svcs, &n)) !=
	        ORCH_OK ||
	    (rc = orch_store_task_list_open(c->w->reader, &tasks, &nt)) !=
	        ORCH_OK) {
		call_fail(c, rc, "cannot read services from the store: %s",
		    orch_strerror(rc));
		closure(NULL, data);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		orch_service_running_count(svcs[i], tasks, nt);
	list.n_services = n;
	list.services = svcs;
	closure(&list, data);
out:
	orch_store_task_list_free(tasks, nt);
	orch_store_service_list_free(svcs, n);
}

/* Checks a service name-or-id argument; answers and returns false when
 * it is missing. */
static bool
service_key_ok(struct call *c, const char *key)
{
	if (key == NULL || key[0] == '\0') {
		call_fail(c, ORCH_EINVAL,
		    "field \"name\" is required: a "
		    "service's name or id");
		return false;
	}
	return true;
}

static void
rpc_get_service(Orch__Manager_Service *svc_, const Orch__GetServiceRequest *in,
    Orch__Service_Closure closure, void *data)
{
	struct call *c = data;
	orch_service *svc = NULL;
	int rc;

	(void)svc_;
	if (!service_key_ok(c, in->name)) {
		closure(NULL, data);
		return;
	}
	if ((rc = orch_store_service_get(c->w->reader, in->name, &svc)) !=
	    ORCH_OK) {
		if (rc == ORCH_ENOENT)
			call_fail(c, rc,
			    "no service with name or id \"%.128s\"", in->name);
		else
			call_fail(c, rc, "cannot read service %.128s: %s",
			    in->name, orch_strerror(rc));
		closure(NULL, data);
		return;
	}
	service_reply(c, svc, true, closure);
	orch_service_free(svc);
}

static int
modify_scale(orch_service *svc, void *marg, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	svc->has_replicas = true;
	svc->replicas = *(const uint32_t *)marg;
	svc->has_updated_at_ms = true;
	svc->updated_at_ms = orch_now_ms();
	return ORCH_OK;
}

static void
rpc_scale_service(Orch__Manager_Service *svc_,
    const Orch__ScaleServiceRequest *in, Orch__Service_Closure closure,
    void *data)
{
	struct call *c = data;
	orch_service *svc = NULL;
	uint32_t replicas = in->replicas;
	int rc;

	(void)svc_;
	if (!service_key_ok(c, in->name))
		goto out;
	if (!in->has_replicas) {
		call_fail(c, ORCH_EINVAL, "field \"replicas\" is required");
		goto out;
	}
	if ((rc = orch_service_replicas_validate(
	         replicas, c->err, sizeof(c->err))) != ORCH_OK) {
		c->code = code_from_err(rc);
		goto out;
	}
	if ((rc = orch_store_service_modify_sync(c->w->rpc->store, in->name,
	         modify_scale, &replicas, &svc, c->err, sizeof(c->err))) !=
	    ORCH_OK) {
		c->code = code_from_err(rc);
		goto out;
	}
	service_reply(c, svc, false, closure);
out:
	if (!c->answered)
		closure(NULL, data);
	orch_service_free(svc);
}

static void
rpc_delete_service(Orch__Manager_Service *svc_,
    const Orch__DeleteServiceRequest *in, Orch__Service_Closure closure,
    void *data)
{
	struct call *c = data;
	orch_service *svc = NULL;
	int rc;

	(void)svc_;
	if (!service_key_ok(c, in->name))
		goto out;
	if ((rc = orch_store_service_delete_sync(c->w->rpc->store, in->name,
	         &svc, c->err, sizeof(c->err))) != ORCH_OK) {
		c->code = code_from_err(rc);
		goto out;
	}
	/* Their nodes remove the containers now, not at the next beat. */
	for (size_t i = 0; i < svc->n_tasks; i++) {
		const orch_task *t = svc->tasks[i];

		if (!orch_task_status_terminal(t->status) &&
		    t->node_id != NULL && t->node_id[0] != '\0')
			orch_notify_node(c->w->rpc->notify, t->node_id);
	}
	orch_service_running_count(svc, NULL, 0);
	closure(svc, data);
out:
	if (!c->answered)
		closure(NULL, data);
	orch_service_free(svc);
}

static void
rpc_drain_node(Orch__Manager_Service *svc_, const Orch__DrainNodeRequest *in,
    Orch__Node_Closure closure, void *data)
{
	struct call *c = data;
	orch_node *n = NULL;
	int rc;

	(void)svc_;
	if (in->id == NULL || in->id[0] == '\0') {
		call_fail(c, ORCH_EINVAL,
		    "field \"id\" is required: a node's id "
		    "or name");
		goto out;
	}
	if ((rc = orch_store_node_drain_sync(c->w->rpc->store, in->id,
	         in->drain, &n, c->err, sizeof(c->err))) != ORCH_OK) {
		c->code = code_from_err(rc);
		goto out;
	}
	if ((rc = node_fill(c, n)) != ORCH_OK) {
		call_fail(c, rc,
		    "node %s is stored but cannot be read back: %s", n->name,
		    orch_strerror(rc));
		goto out;
	}
	closure(n, data);
out:
	if (!c->answered)
		closure(NULL, data);
	orch_node_free(n);
}

static Orch__Manager_Service manager_service = ORCH__MANAGER__INIT(rpc_);

/* ---- dispatch ---- */

/*
 * Serves one request: bytes in, a packed orch.Reply out (malloc'd).
 * Never fails for bad input: that is an error reply.
 */
static int
dispatch(struct worker *w, nng_pipe pipe, const uint8_t *data, size_t len,
    uint8_t **reply, size_t *reply_len)
{
	const ProtobufCServiceDescriptor *sd = &orch__manager__descriptor;
	struct call c = {.w = w, .pipe = pipe, .code = ORCH__ERROR_CODE__OK};
	Orch__Reply rep = ORCH__REPLY__INIT;
	Orch__Request *req;
	ProtobufCMessage *in = NULL;
	const ProtobufCMethodDescriptor *md = NULL;
	size_t plen = strlen(sd->name);

	req = orch__request__unpack(NULL, len, data);
	if (req == NULL) {
		call_fail(&c, ORCH_EINVAL,
		    "malformed request: not an orch.Request "
		    "message");
		goto reply;
	}
	if (req->method == NULL || strncmp(req->method, sd->name, plen) != 0 ||
	    req->method[plen] != '/' ||
	    (md = protobuf_c_service_descriptor_get_method_by_name(
	         sd, req->method + plen + 1)) == NULL) {
		c.code = ORCH__ERROR_CODE__UNIMPLEMENTED;
		snprintf(c.err, sizeof(c.err),
		    "no method \"%.100s\"; methods are "
		    "named \"%s/<Method>\"",
		    req->method != NULL ? req->method : "", sd->name);
		goto reply;
	}
	in = protobuf_c_message_unpack(md->input, NULL,
	    req->has_body ? req->body.len : 0,
	    req->has_body ? req->body.data : NULL);
	if (in == NULL) {
		call_fail(&c, ORCH_EINVAL,
		    "malformed body for %s: not a %s message", req->method,
		    md->input->name);
		goto reply;
	}
	manager_service.base.invoke(&manager_service.base,
	    (unsigned)(md - sd->methods), in, call_closure, &c);
reply:
	orch_mm_rpc(md != NULL ? md->name : NULL); /* NULL: "other" */
	if (c.code != ORCH__ERROR_CODE__OK) {
		rep.has_code = 1;
		rep.code = c.code;
		rep.error = c.err;
	} else {
		rep.has_body = 1;
		rep.body.data = c.out;
		rep.body.len = c.out_len;
	}
	*reply_len = orch__reply__get_packed_size(&rep);
	*reply = malloc(*reply_len > 0 ? *reply_len : 1);
	if (*reply != NULL)
		orch__reply__pack(&rep, *reply);
	if (in != NULL)
		protobuf_c_message_free_unpacked(in, NULL);
	if (req != NULL)
		orch__request__free_unpacked(req, NULL);
	free(c.out);
	return *reply != NULL ? ORCH_OK : ORCH_ENOMEM;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;

	for (;;) {
		nng_msg *msg;
		uint8_t *reply = NULL;
		size_t rlen = 0;
		int rv;

		nng_ctx_recv(w->ctx, w->aio);
		nng_aio_wait(w->aio);
		if ((rv = nng_aio_result(w->aio)) != 0) {
			if (rv == NNG_ECLOSED)
				break;
			continue;
		}
		msg = nng_aio_get_msg(w->aio);
		if (dispatch(w, nng_msg_get_pipe(msg), nng_msg_body(msg),
		        nng_msg_len(msg), &reply, &rlen) != ORCH_OK) {
			nng_msg_free(msg);
			continue; /* out of memory: the client retries */
		}
		nng_msg_clear(msg);
		if (nng_msg_append(msg, reply, rlen) != 0) {
			free(reply);
			nng_msg_free(msg);
			continue;
		}
		free(reply);
		nng_aio_set_msg(w->aio, msg);
		nng_ctx_send(w->ctx, w->aio);
		nng_aio_wait(w->aio);
		if ((rv = nng_aio_result(w->aio)) != 0) {
			nng_msg_free(nng_aio_get_msg(w->aio));
			if (rv == NNG_ECLOSED)
				break;
		}
	}
	return NULL;
}

int
orch_rpc_start(struct orch_store *st, struct orch_nodes *nodes,
    struct orch_notify *notify, const struct orch_policy *policy,
    const char *url, nng_tls_config *tls, struct orch_rpc **out, char *err,
    size_t errlen)
{
	struct orch_rpc *rpc = calloc(1, sizeof(*rpc));
	int rv, rc = ORCH_OK;

	if (rpc == NULL)
		return ORCH_ENOMEM;
	rpc->store = st;
	rpc->nodes = nodes;
	rpc->notify = notify;
	rpc->policy = policy;
	rpc->tls = tls != NULL;
	if ((rv = nng_rep0_open(&rpc->sock)) != 0) {
		snprintf(err, errlen, "RPC socket: %s", nng_strerror(rv));
		free(rpc);
		return orch_err_from_nng(rv);
	}
	nng_socket_set_size(rpc->sock, NNG_OPT_RECVMAXSZ, ORCH_RPC_MAX_MSG);
	if ((rc = orch_tls_listen(rpc->sock, url, tls, "rpc", err, errlen)) !=
	    ORCH_OK)
		goto out;
	for (int i = 0; i < N_WORKERS; i++) {
		struct worker *w = &rpc->workers[i];

		w->rpc = rpc;
		if ((rv = nng_ctx_open(&w->ctx, rpc->sock)) != 0 ||
		    (rv = nng_aio_alloc(&w->aio, NULL, NULL)) != 0) {
			snprintf(err, errlen, "RPC: %s", nng_strerror(rv));
			rc = orch_err_from_nng(rv);
			goto out;
		}
		if ((rc = orch_store_reader_new(st, &w->reader)) != ORCH_OK) {
			snprintf(err, errlen,
			    "RPC: cannot open a store reader: %s",
			    orch_strerror(rc));
			goto out;
		}
		if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
			snprintf(
			    err, errlen, "RPC: cannot start a worker thread");
			rc = ORCH_ENOMEM;
			goto out;
		}
		w->started = true;
	}
	*out = rpc;
	return ORCH_OK;
out:
	orch_rpc_stop(rpc);
	return rc;
}

void
orch_rpc_stop(struct orch_rpc *rpc)
{
	if (rpc == NULL)
		return;
	/* Closing the socket fails every pending aio with NNG_ECLOSED. */
	nng_close(rpc->sock);
	for (int i = 0; i < N_WORKERS; i++) {
		struct worker *w = &rpc->workers[i];

		if (w->started)
			pthread_join(w->thread, NULL);
		if (w->aio != NULL)
			nng_aio_free(w->aio);
		orch_store_reader_free(w->reader);
	}
	free(rpc);
}
