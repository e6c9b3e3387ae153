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
#include "task_json.h"
#include "tls.h"
#include "tls_engine.h"

#define N_WORKERS 4
#define ERR_LEN 512
/*
 * The most calls in flight: received and not yet answered, most of them
 * writes waiting for their commit.  Each holds an NNG context, its
 * decoded request and about 1 kB; at the bound a worker waits for a
 * reply to go out before it receives again, so memory and the store's
 * queue stay bounded however many peers send.  1024 lets every node of
 * a 1,000-node cluster (issue 4's scale) have a report in flight at once,
 * and is two of the store's largest batches (512), so the next batch
 * fills while one commits.
 */
#define MAX_CALLS 1024
/* How long a reply may wait for its peer to take it (a peer that stopped
 * reading): bounded so that such peers cannot hold every call, and so
 * that orch_rpc_stop's wait for replies in flight ends. */
#define SEND_TIMEOUT_MS 10000

/* A node's report: the update, and the node it must come from. */
struct node_update {
	struct orch_task_update u;
	const char *node_id; /* NULL: any (the HTTP API's reports) */
};

/*
 * One call, from its request to the reply's send: a worker receives on
 * its context, the method runs, and whoever has the answer (the worker
 * for a read, the store's writer thread for a write, the finisher for a
 * write answered with what it reads back) sends the reply on the same
 * context.  The send's completion returns the call to the free list.
 * Once the reply is sent, nothing but that completion touches the call.
 */
struct call {
	struct orch_rpc *rpc;
	nng_ctx ctx;
	nng_pipe pipe;     /* the caller's connection, for its certificate */
	nng_aio *aio;      /* the reply's send; its callback is call_sent */
	struct call *next; /* in the free list or the finisher's queue */
	/* The reader of the thread running the call now. */
	struct orch_store_reader *reader;
	/* The decoded request; a write's arguments point into it, so it
	 * lives until the reply is sent. */
	Orch__Request *req;
	ProtobufCMessage *in;
	/* The method's name for the RPC count; NULL: none ("other"). */
	const char *method;
	Orch__ErrorCode code;
	char err[ERR_LEN];
	/* What the store holds until the write's completion. */
	struct node_update nu;
	uint32_t replicas;
	/* A write that reads back before its answer: the finisher runs
	 * finish with the result in node or svc (owned by the call). */
	void (*finish)(struct call *c);
	orch_node *node;
	orch_service *svc;
	/* A submit's or create's idempotency key (pointing into req) and
	 * what the store made of it: read by the writer until the
	 * completion. */
	struct orch_store_idem idem;
};

struct worker {
	struct orch_rpc *rpc;
	pthread_t thread;
	nng_aio *aio; /* receives, synchronously */
	struct orch_store_reader *reader;
	bool started;
};

struct orch_rpc {
	struct orch_store *store;
	struct orch_nodes *nodes;
	struct orch_notify *notify;
	struct orch_logs *logs;           /* NULL: no log streams */
	const struct orch_policy *policy; /* NULL: the default policy */
	nng_socket sock;
	bool sock_open;
	bool tls; /* callers have certificates: nodes act under their own */
	bool listening; /* assign_on_commit is a commit listener of store */

	pthread_mutex_t mu;
	pthread_cond_t cv; /* a call came back, or stopping */
	bool stopping;
	struct call *free_calls;
	size_t n_busy; /* calls out of the free list */
	struct call calls[MAX_CALLS];

	/* The finisher: a thread with its own reader that answers the
	 * writes whose reply needs a read (a node's usage, a service's
	 * running count), which the writer thread must not do. */
	pthread_t fin_thread;
	bool fin_started;
	pthread_cond_t fin_cv;
	bool fin_stop;
	struct call *fin_head, *fin_tail;
	struct orch_store_reader *fin_reader;

	struct worker workers[N_WORKERS];
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

/* ---- the life of a call ---- */

/* Frees what one request held and returns c to the free list. */
static void
call_put(struct call *c)
{
	struct orch_rpc *rpc = c->rpc;

	if (c->in != NULL)
		protobuf_c_message_free_unpacked(c->in, NULL);
	if (c->req != NULL)
		orch__request__free_unpacked(c->req, NULL);
	orch_node_free(c->node);
	orch_service_free(c->svc);
	c->in = NULL;
	c->req = NULL;
	c->node = NULL;
	c->svc = NULL;
	c->finish = NULL;
	c->reader = NULL;
	c->code = ORCH__ERROR_CODE__OK;
	c->err[0] = '\0';
	memset(&c->nu, 0, sizeof(c->nu));
	memset(&c->idem, 0, sizeof(c->idem));
	pthread_mutex_lock(&rpc->mu);
	c->next = rpc->free_calls;
	rpc->free_calls = c;
	rpc->n_busy--;
	/* A worker waits for a call at the bound; orch_rpc_stop for the
	 * last one. */
	pthread_cond_broadcast(&rpc->cv);
	pthread_mutex_unlock(&rpc->mu);
}

/* The reply's send completed (or failed: the peer then resends). */
static void
call_sent(void *arg)
{
	struct call *c = arg;
	int rv = nng_aio_result(c->aio);

	if (rv != 0) {
		nng_msg_free(nng_aio_get_msg(c->aio));
		nng_aio_set_msg(c->aio, NULL);
		orch_debug(
		    "rpc", "a reply was not delivered: %s", nng_strerror(rv));
	}
	call_put(c);
}

/* Packs the orch.Reply of c into a message: when c->code is OK, its body
 * is body packed, or raw[0..rawlen) when raw is not NULL (packed
 * already). */
static int
reply_msg(struct call *c, const ProtobufCMessage *body, const uint8_t *raw,
    size_t rawlen, nng_msg **out)
{
	Orch__Reply rep = ORCH__REPLY__INIT;
	json_t *err = NULL;
	uint8_t *buf = NULL;
	size_t len;
	int rc = ORCH_OK;

	if (c->code == ORCH__ERROR_CODE__OK && body == NULL && raw == NULL) {
		c->code = ORCH__ERROR_CODE__INTERNAL;
		snprintf(c->err, sizeof(c->err), "the method gave no answer");
	}
	if (c->code == ORCH__ERROR_CODE__OK && raw != NULL) {
		rep.has_body = 1;
		rep.body.data = (uint8_t *)raw;
		rep.body.len = rawlen;
	} else if (c->code == ORCH__ERROR_CODE__OK) {
		len = protobuf_c_message_get_packed_size(body);
		if ((buf = malloc(len > 0 ? len : 1)) == NULL) {
			call_fail(c, ORCH_ENOMEM, "out of memory");
		} else {
			protobuf_c_message_pack(body, buf);
			rep.has_body = 1;
			rep.body.data = buf;
			rep.body.len = len;
		}
	}
	if (c->code != ORCH__ERROR_CODE__OK) {
		rep.has_code = 1;
		rep.code = c->code;
		/* The message may quote a client's bytes (a method name, an
		 * id) that are not UTF-8, or be cut inside a character: it is
		 * repaired as the HTTP API's are, for the protobuf libraries
		 * that check string fields. */
		err = orch_json_text(c->err);
		rep.error =
		    err != NULL ? (char *)json_string_value(err) : c->err;
	}
	len = orch__reply__get_packed_size(&rep);
	if (nng_msg_alloc(out, len) != 0) {
		rc = ORCH_ENOMEM;
		goto out;
	}
	orch__reply__pack(&rep, nng_msg_body(*out));
out:
	json_decref(err);
	free(buf);
	return rc;
}

/*
 * Answers c: with body (a message of the method's output type) or, when
 * raw is not NULL, with raw[0..n) (such a message packed already) when
 * c->code is OK, else with c's error.  The send is asynchronous; once
 * this is called the caller must not touch c again, which may already be
 * serving another request.  body and raw belong to the caller.
 */
static void
call_answer_raw(
    struct call *c, const ProtobufCMessage *body, const uint8_t *raw, size_t n)
{
	nng_msg *msg = NULL;

	/* Every call is answered here once: one count per request. */
	orch_mm_rpc(c->method);
	if (reply_msg(c, body, raw, n, &msg) != ORCH_OK) {
		/* Out of memory: no answer, so the peer resends. */
		call_put(c);
		return;
	}
	nng_aio_set_msg(c->aio, msg);
	nng_aio_set_timeout(c->aio, SEND_TIMEOUT_MS);
	nng_ctx_send(c->ctx, c->aio);
}

/* call_answer_raw() with a message. */
static void
call_answer(struct call *c, const ProtobufCMessage *body)
{
	call_answer_raw(c, body, NULL, 0);
}

/* The closure every handler calls once: a message, or NULL after
 * call_fail().  It answers at once. */
static void
call_closure(const ProtobufCMessage *msg, void *data)
{
	call_answer(data, msg);
}

/* Answers c with the error a write's completion brought. */
static void
call_answer_err(struct call *c, int rc, const char *err)
{
	call_fail(c, rc, "%s", err != NULL ? err : orch_strerror(rc));
	call_answer(c, NULL);
}

/* Hands c to the finisher thread, which runs c->finish. */
static void
finisher_post(struct call *c)
{
	struct orch_rpc *rpc = c->rpc;

	pthread_mutex_lock(&rpc->mu);
	c->next = NULL;
	if (rpc->fin_tail != NULL)
		rpc->fin_tail->next = c;
	else
		rpc->fin_head = c;
	rpc->fin_tail = c;
	pthread_cond_signal(&rpc->fin_cv);
	pthread_mutex_unlock(&rpc->mu);
}

/* ---- write completions, on the store's writer thread: they answer
 * without blocking, or hand the call to the finisher ---- */

/* A task write's completion: answers the task as stored. */
static void
task_done(void *arg, int rc, orch_task *task, const char *err)
{
	struct call *c = arg;

	if (rc != ORCH_OK) {
		call_answer_err(c, rc, err);
		return;
	}
	call_answer(c, &task->base);
	orch_task_free(task);
}

/* A stop's completion: a task its node runs is announced now rather
 * than at the node's next heartbeat.  Repeated for a repeated request,
 * which is harmless. */
static void
stop_done(void *arg, int rc, orch_task *task, const char *err)
{
	struct call *c = arg;

	if (rc == ORCH_OK)
		orch_notify_task_stop(c->rpc->notify, task);
	task_done(arg, rc, task, err);
}

/* A node write's completion: the finisher reads its live fields. */
static void
node_done(void *arg, int rc, orch_node *node, const char *err)
{
	struct call *c = arg;

	if (rc != ORCH_OK) {
		call_answer_err(c, rc, err);
		return;
	}
	c->node = node;
	finisher_post(c);
}

/* A service create or scale's completion: the finisher counts its
 * running replicas. */
static void
service_done(void *arg, int rc, orch_service *svc, const char *err)
{
	struct call *c = arg;

	if (rc != ORCH_OK) {
		call_answer_err(c, rc, err);
		return;
	}
	c->svc = svc;
	finisher_post(c);
}

/* A service deletion's completion: the nodes of its replicas remove them
 * now, not at their next beat; nothing of it runs any more. */
static void
service_deleted(void *arg, int rc, orch_service *svc, const char *err)
{
	struct call *c = arg;

	if (rc != ORCH_OK) {
		call_answer_err(c, rc, err);
		return;
	}
	for (size_t i = 0; i < svc->n_tasks; i++) {
		const orch_task *t = svc->tasks[i];

		if (!orch_task_status_terminal(t->status) &&
		    t->node_id != NULL && t->node_id[0] != '\0')
			orch_notify_node(c->rpc->notify, t->node_id);
	}
	orch_service_running_count(svc, NULL, 0);
	call_answer(c, &svc->base);
	orch_service_free(svc);
}

/*
 * With TLS on, a node registers, beats and reports only under the name in
 * its certificate: the CN of the caller's verified certificate must be
 * name, or, for name NULL, the name node id registered under (an unknown
 * id passes: the method answers NOT_FOUND).  Otherwise sets c's error to
 * PERMISSION_DENIED, logs it, and returns false.  Runs before a write is
 * queued, on the worker that received the request.
 */
static bool
caller_is_node(struct call *c, const char *name, const char *id)
{
	char cn[ORCH_TLS_NAME_MAX + 1], reg[256];

	if (!c->rpc->tls)
		return true;
	if (name == NULL) {
		if (orch_nodes_name(c->rpc->nodes, id, reg, sizeof(reg)) !=
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

/* Checks the idempotency_key of a request (absent is fine) and keeps it
 * in c for the store; sets c's error and returns false when bad. */
static bool
idem_key_ok(struct call *c, const char *key)
{
	char err[200];

	if (key != NULL &&
	    orch_idem_key_check(key, strlen(key), err, sizeof(err)) !=
	        ORCH_OK) {
		call_fail(c, ORCH_EINVAL, "field \"idempotency_key\": %s", err);
		return false;
	}
	c->idem.key = key;
	return true;
}

/* ---- the methods ---- */

static void
rpc_submit_task(Orch__Manager_Service *svc, const Orch__SubmitTaskRequest *in,
    Orch__Task_Closure closure, void *data)
{
	struct call *c = data;
	orch_task_spec *spec = NULL;
	orch_task *task = NULL;
	uint8_t *buf = NULL;
	size_t len;
	int rc;

	(void)svc;
	if (in->spec == NULL) {
		call_fail(c, ORCH_EINVAL, "field \"spec\" is required");
		goto fail;
	}
	if (!idem_key_ok(c, in->idempotency_key))
		goto fail;
	if ((rc = orch_task_spec_validate(in->spec, c->err, sizeof(c->err))) !=
	        ORCH_OK ||
	    (rc = orch_policy_check(c->rpc->policy, in->spec, c->err,
	         sizeof(c->err))) != ORCH_OK) {
		c->code = code_from_err(rc);
		goto fail;
	}
	if (in->spec->service != NULL) {
		call_fail(c, ORCH_EINVAL,
		    "field \"service\" is set by the "
		    "manager on a service's replicas: create a service with "
		    "CreateService");
		goto fail;
	}
	/* The request owns in->spec; a packed copy gives the task its own. */
	len = orch__task_spec__get_packed_size(in->spec);
	if ((buf = malloc(len > 0 ? len : 1)) == NULL) {
		call_fail(c, ORCH_ENOMEM, "out of memory");
		goto fail;
	}
	orch__task_spec__pack(in->spec, buf);
	if ((spec = orch__task_spec__unpack(NULL, len, buf)) == NULL ||
	    orch_task_new(spec, &task) != ORCH_OK) {
		orch_task_spec_free(spec);
		call_fail(c, ORCH_ENOMEM, "out of memory");
		goto fail;
	}
	free(buf);
	/* The store takes the task; c is answered from the completion: with
	 * the task the first call created for the same key and spec. */
	orch_store_task_insert_idem(c->rpc->store, task,
	    c->idem.key != NULL ? &c->idem : NULL, task_done, c);
	return;
fail:
	free(buf);
	closure(NULL, data);
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
	if ((rc = orch_store_task_list(c->reader, status, &tasks, &n)) !=
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

/* Checks an id argument; sets c's error and returns false when bad. */
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
	if ((rc = orch_store_task_get(c->reader, in->id, &t)) != ORCH_OK) {
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

static void
rpc_stop_task(Orch__Manager_Service *svc, const Orch__StopTaskRequest *in,
    Orch__Task_Closure closure, void *data)
{
	struct call *c = data;

	(void)svc;
	if (!id_ok(c, in->id)) {
		closure(NULL, data);
		return;
	}
	orch_store_task_modify(
	    c->rpc->store, in->id, modify_stop, NULL, stop_done, c);
}

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
	/* In the call: the store reads it until the completion, and its
	 * strings point into the request, which lives as long. */
	c->nu = (struct node_update){
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
	            .health = in->has_health ? (int)in->health : 0,
	        },
	    .node_id = in->node_id != NULL && in->node_id[0] != '\0'
	        ? in->node_id
	        : NULL,
	};
	if (c->nu.node_id != NULL && !caller_is_node(c, NULL, c->nu.node_id)) {
		closure(NULL, data);
		return;
	}
	orch_store_task_modify(
	    c->rpc->store, in->id, modify_node_update, &c->nu, task_done, c);
}

/* ---- nodes ---- */

/* Fills the live fields of one node read with c's reader. */
static int
node_fill(struct call *c, orch_node *n)
{
	struct orch_node_usage *usage = NULL;
	size_t nu = 0;
	int rc;

	if ((rc = orch_store_node_usage(c->reader, &usage, &nu)) != ORCH_OK)
		return rc;
	rc = orch_nodes_fill(c->rpc->nodes, n, usage, nu);
	free(usage);
	return rc;
}

/* Answers a registration, on the finisher.  Only once it is durable: a
 * node the registry knows is in the store.  Registering is also a sign
 * of life. */
static void
finish_register(struct call *c)
{
	const Orch__NodeRegistration *reg =
	    (const Orch__NodeRegistration *)c->in;
	orch_node *n = c->node;
	int rc;

	if ((rc = orch_nodes_seen(c->rpc->nodes, n->id, n->name,
	         reg->driver_health, reg->n_driver_health)) != ORCH_OK ||
	    (rc = node_fill(c, n)) != ORCH_OK) {
		call_fail(c, rc,
		    "node %s (%s) is registered but cannot be read "
		    "back: %s",
		    n->name, n->id, orch_strerror(rc));
		call_answer(c, NULL);
		return;
	}
	call_answer(c, &n->base);
}

static void
rpc_register_node(Orch__Manager_Service *svc, const Orch__NodeRegistration *in,
    Orch__Node_Closure closure, void *data)
{
	struct call *c = data;
	int rc;

	(void)svc;
	if ((rc = orch_node_registration_validate(
	         in, c->err, sizeof(c->err))) != ORCH_OK) {
		c->code = code_from_err(rc);
		closure(NULL, data);
		return;
	}
	if (!caller_is_node(c, in->name, NULL)) {
		closure(NULL, data);
		return;
	}
	/* in is the call's request, valid until its reply. */
	c->finish = finish_register;
	orch_store_node_register(c->rpc->store, in, node_done, c);
}

/*
 * Commit listener, on the writer thread with the store's lock: what a
 * heartbeat answers changes with every committed task that has a node
 * (placed there, a stop requested, a report, an end), so that node's
 * assignments get a new version.  A task's node is set once, when it is
 * placed, and never changes, so the node it has now is the only one whose
 * list it was or is on.  A task deleted with its service (obj NULL) was
 * on a node not known here: every node's version moves.
 */
static void
assign_on_commit(void *arg, int kind, const char *id, const void *obj)
{
	struct orch_rpc *rpc = arg;
	const orch_task *t = obj;

	(void)id;
	if (kind != ORCH_STORE_TASK)
		return;
	if (t == NULL)
		orch_nodes_assign_changed(rpc->nodes, NULL, NULL);
	else if (t->node_id != NULL && t->node_id[0] != '\0')
		orch_nodes_assign_changed(rpc->nodes, t->node_id, t->id);
}

/* A growing buffer of packed bytes. */
struct raw_buf {
	uint8_t *b;
	size_t len, cap;
	uint32_t tag; /* of the field raw_task_add() appends */
};

/* Makes room for more bytes after rb->len.  Returns ORCH_OK or
 * ORCH_ENOMEM. */
static int
raw_reserve(struct raw_buf *rb, size_t more)
{
	size_t cap = rb->cap > 0 ? rb->cap : 4096;
	uint8_t *nb;

	if (more > SIZE_MAX / 2 - rb->len)
		return ORCH_ENOMEM;
	while (cap < rb->len + more)
		cap *= 2;
	if (cap == rb->cap)
		return ORCH_OK;
	if ((nb = realloc(rb->b, cap)) == NULL)
		return ORCH_ENOMEM;
	rb->b = nb;
	rb->cap = cap;
	return ORCH_OK;
}

/* For orch_store_task_blobs_node(): appends a stored task as field 2
 * (tasks) of an Assignments: its tag, its length, its bytes. */
static int
raw_task_add(void *arg, const uint8_t *b, size_t n)
{
	struct raw_buf *rb = arg;
	uint64_t v = n;

	if (raw_reserve(rb, n + 11) != ORCH_OK)
		return ORCH_ENOMEM;
	if (rb->tag == 0) {
		const ProtobufCFieldDescriptor *f =
		    protobuf_c_message_descriptor_get_field_by_name(
		        &orch__assignments__descriptor, "tasks");

		/* Length-delimited; the number as the schema says. */
		rb->tag = f != NULL ? (f->id << 3) | 2 : 0;
		if (rb->tag == 0 || rb->tag > 0x7f)
			return ORCH_EINTERNAL;
	}
	rb->b[rb->len++] = (uint8_t)rb->tag;
	do {
		uint8_t byte = v & 0x7f;

		v >>= 7;
		rb->b[rb->len++] = byte | (v != 0 ? 0x80 : 0);
	} while (v != 0);
	memcpy(rb->b + rb->len, b, n);
	rb->len += n;
	return ORCH_OK;
}

/* For orch_store_task_blobs_assigned(): each task of a delta appended
 * as stored, or its id among those removed from the node's list. */
struct delta_read {
	struct raw_buf tasks;
	char (*ids)[ORCH_ID_LEN];
	char **removed;
	size_t n_removed;
};

static int
delta_add(void *arg, size_t i, const uint8_t *b, size_t n)
{
	struct delta_read *d = arg;

	if (b == NULL) {
		d->removed[d->n_removed++] = d->ids[i];
		return ORCH_OK;
	}
	return raw_task_add(&d->tasks, b, n);
}

/*
 * Answers a heartbeat from a node that holds version since of its list
 * with what changed after it (Assignments.delta), when the registry
 * knows all of that: a handful of tasks read by id, rather than the
 * node's hundred.  Returns false, having answered nothing, when it does
 * not (the full list then).
 */
static bool
heartbeat_delta(struct call *c, Orch__Assignments *a, const char *node,
    uint64_t since, Orch__Assignments_Closure closure, void *data)
{
	char ids[ORCH_NODES_DELTA_MAX][ORCH_ID_LEN];
	char *removed[ORCH_NODES_DELTA_MAX];
	struct delta_read d = {.tasks = {NULL, 0, 0, 0},
	    .ids = ids,
	    .removed = removed,
	    .n_removed = 0};
	uint64_t epoch, version;
	size_t n, head;

	/* The ids with the version they stand for, read together; the
	 * tasks after, as new as or newer than that version. */
	if (orch_nodes_assign_delta(c->rpc->nodes, node, since, ids,
	        ORCH_NODES_DELTA_MAX, &n, &epoch, &version) != ORCH_OK ||
	    epoch != a->epoch)
		return false;
	/* A failed read: the full list, which says why if it fails too. */
	if (orch_store_task_blobs_assigned(
	        c->reader, node, ids, n, delta_add, &d) != ORCH_OK) {
		free(d.tasks.b);
		return false;
	}
	a->version = version;
	a->has_delta = true;
	a->delta = true;
	a->n_removed = d.n_removed;
	a->removed = removed;
	/* The tasks as stored, then the other fields after them: a
	 * message's fields may come in any order (see rpc_heartbeat()). */
	head = orch__assignments__get_packed_size(a);
	if (raw_reserve(&d.tasks, head) != ORCH_OK) {
		call_fail(c, ORCH_ENOMEM, "out of memory");
		closure(NULL, data);
	} else {
		d.tasks.len +=
		    orch__assignments__pack(a, d.tasks.b + d.tasks.len);
		call_answer_raw(c, NULL, d.tasks.b, d.tasks.len);
	}
	free(d.tasks.b);
	return true;
}

static void
rpc_heartbeat(Orch__Manager_Service *svc, const Orch__HeartbeatRequest *in,
    Orch__Assignments_Closure closure, void *data)
{
	struct call *c = data;
	Orch__Assignments a = ORCH__ASSIGNMENTS__INIT;
	struct raw_buf rb = {NULL, 0, 0, 0};
	uint64_t epoch, version;
	size_t head;
	int rc;

	(void)svc;
	if (in->node_id == NULL || in->node_id[0] == '\0') {
		call_fail(c, ORCH_EINVAL,
		    "field \"node_id\" is required: the id "
		    "RegisterNode answered");
		closure(NULL, data);
		return;
	}
	if (!caller_is_node(c, NULL, in->node_id)) {
		closure(NULL, data);
		return;
	}
	if ((rc = orch_node_health_validate(in->driver_health,
	         in->n_driver_health, c->err, sizeof(c->err))) != ORCH_OK) {
		c->code = code_from_err(rc);
		closure(NULL, data);
		return;
	}
	if (orch_nodes_beat(c->rpc->nodes, in->node_id, in->driver_health,
	        in->n_driver_health) == ORCH_ENOENT) {
		call_fail(c, ORCH_ENOENT,
		    "node %.40s is not registered with this "
		    "manager: register again (RegisterNode)",
		    in->node_id);
		closure(NULL, data);
		return;
	}
	/* The version before the tasks: a commit in between gives the node a
	 * newer version than the one answered with them, so its next beat
	 * reads them again.  The other order could answer a version with a
	 * list older than it, and the node would keep that list. */
	orch_nodes_assign_version(c->rpc->nodes, in->node_id, &epoch, &version);
	a.node_id = in->node_id;
	a.has_heartbeat_ms = true;
	a.heartbeat_ms = orch_nodes_heartbeat_ms(c->rpc->nodes);
	a.has_epoch = a.has_version = true;
	a.epoch = epoch;
	a.version = version;
	if (in->has_known_epoch && in->has_known_version &&
	    in->known_epoch == epoch && in->known_version == version) {
		/* The node holds this list: neither read nor sent again. */
		a.has_unchanged = true;
		a.unchanged = true;
		closure(&a, data);
		return;
	}
	if (in->has_accepts_delta && in->accepts_delta && in->has_known_epoch &&
	    in->known_epoch == epoch && in->has_known_version &&
	    heartbeat_delta(
	        c, &a, in->node_id, in->known_version, closure, data))
		return;
	/* The fields above, then each task as stored (field 2 may come in
	 * any order): protobuf's encoding of a repeated message is its
	 * records one after another. */
	head = orch__assignments__get_packed_size(&a);
	if (raw_reserve(&rb, head) != ORCH_OK) {
		call_fail(c, ORCH_ENOMEM, "out of memory");
		closure(NULL, data);
		return;
	}
	rb.len = orch__assignments__pack(&a, rb.b);
	if ((rc = orch_store_task_blobs_node(
	         c->reader, in->node_id, raw_task_add, &rb)) != ORCH_OK) {
		call_fail(c, rc, "cannot read the tasks of node %.40s: %s",
		    in->node_id, orch_strerror(rc));
		closure(NULL, data);
		free(rb.b);
		return;
	}
	call_answer_raw(c, NULL, rb.b, rb.len);
	free(rb.b);
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
	if ((rc = orch_nodes_read(c->rpc->nodes, c->reader, &nodes, &n)) !=
	    ORCH_OK) {
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
	if ((rc = orch_nodes_read_one(c->rpc->nodes, c->reader, in->id, &n)) !=
	    ORCH_OK) {
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
	         c->reader, svc->id, &tasks, &n)) != ORCH_OK)
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
service_reply(struct call *c, orch_service *svc, bool with_tasks)
{
	int rc = service_fill(c, svc, with_tasks);

	if (rc != ORCH_OK) {
		call_fail(c, rc,
		    "service %s is stored but cannot be read back: "
		    "%s",
		    svc->name, orch_strerror(rc));
		call_answer(c, NULL);
		return;
	}
	call_answer(c, &svc->base);
}

/* Answers a service create or scale, on the finisher. */
static void
finish_service(struct call *c)
{
	service_reply(c, c->svc, false);
}

static void
rpc_create_service(Orch__Manager_Service *svc_,
    const Orch__CreateServiceRequest *in, Orch__Service_Closure closure,
    void *data)
{
	struct call *c = data;
	orch_task_spec *spec = NULL;
	orch_service *svc = NULL;
	int rc;

	(void)svc_;
	if (!idem_key_ok(c, in->idempotency_key))
		goto fail;
	if ((rc = orch_service_name_validate(
	         in->name, c->err, sizeof(c->err))) != ORCH_OK ||
	    (rc = orch_service_replicas_validate(
	         in->replicas, c->err, sizeof(c->err))) != ORCH_OK) {
		c->code = code_from_err(rc);
		goto fail;
	}
	if (in->spec == NULL) {
		call_fail(c, ORCH_EINVAL,
		    "field \"spec\" is required: the "
		    "replicas' image and resources");
		goto fail;
	}
	if ((spec = orch_task_spec_copy(in->spec)) == NULL ||
	    orch_str_set(&spec->name, in->name) != ORCH_OK) {
		call_fail(c, ORCH_ENOMEM, "out of memory");
		goto fail;
	}
	/* The manager names the service of each replica, not the client. */
	free(spec->service);
	spec->service = NULL;
	if ((rc = orch_task_spec_validate(spec, c->err, sizeof(c->err))) !=
	        ORCH_OK ||
	    (rc = orch_policy_check(
	         c->rpc->policy, spec, c->err, sizeof(c->err))) != ORCH_OK) {
		c->code = code_from_err(rc);
		goto fail;
	}
	if (orch_service_new(in->name, spec, in->replicas, &svc) != ORCH_OK) {
		call_fail(c, ORCH_ENOMEM, "out of memory");
		goto fail;
	}
	/* The store takes svc (and with it spec). */
	c->finish = finish_service;
	orch_store_service_create_idem(c->rpc->store, svc,
	    c->idem.key != NULL ? &c->idem : NULL, service_done, c);
	return;
fail:
	orch_task_spec_free(spec);
	closure(NULL, data);
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
	if ((rc = orch_store_service_list(c->reader, &svcs, &n)) != ORCH_OK ||
	    (rc = orch_store_task_list_open(c->reader, &tasks, &nt)) !=
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

/* Checks a service name-or-id argument; sets c's error and returns false
 * when it is missing. */
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
	if ((rc = orch_store_service_get(c->reader, in->name, &svc)) !=
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
	service_reply(c, svc, true);
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
	int rc;

	(void)svc_;
	if (!service_key_ok(c, in->name))
		goto fail;
	if (!in->has_replicas) {
		call_fail(c, ORCH_EINVAL, "field \"replicas\" is required");
		goto fail;
	}
	if ((rc = orch_service_replicas_validate(
	         in->replicas, c->err, sizeof(c->err))) != ORCH_OK) {
		c->code = code_from_err(rc);
		goto fail;
	}
	/* In the call: the store reads it until the completion. */
	c->replicas = in->replicas;
	c->finish = finish_service;
	orch_store_service_modify(c->rpc->store, in->name, modify_scale,
	    &c->replicas, service_done, c);
	return;
fail:
	closure(NULL, data);
}

static void
rpc_delete_service(Orch__Manager_Service *svc_,
    const Orch__DeleteServiceRequest *in, Orch__Service_Closure closure,
    void *data)
{
	struct call *c = data;

	(void)svc_;
	if (!service_key_ok(c, in->name)) {
		closure(NULL, data);
		return;
	}
	orch_store_service_delete(c->rpc->store, in->name, service_deleted, c);
}

/* Answers a drain, on the finisher. */
static void
finish_drain(struct call *c)
{
	orch_node *n = c->node;
	int rc;

	if ((rc = node_fill(c, n)) != ORCH_OK) {
		call_fail(c, rc,
		    "node %s is stored but cannot be read back: %s", n->name,
		    orch_strerror(rc));
		call_answer(c, NULL);
		return;
	}
	call_answer(c, &n->base);
}

static void
rpc_drain_node(Orch__Manager_Service *svc_, const Orch__DrainNodeRequest *in,
    Orch__Node_Closure closure, void *data)
{
	struct call *c = data;

	(void)svc_;
	if (in->id == NULL || in->id[0] == '\0') {
		call_fail(c, ORCH_EINVAL,
		    "field \"id\" is required: a node's id "
		    "or name");
		closure(NULL, data);
		return;
	}
	c->finish = finish_drain;
	orch_store_node_drain(c->rpc->store, in->id, in->drain, node_done, c);
}

/* ---- logs ---- */

/* A node's chunk of a task's output (logs.h): answered at once, "not
 * taken" while the client's stream is full. */
static void
rpc_push_logs(Orch__Manager_Service *svc_, const Orch__LogChunk *in,
    Orch__LogAck_Closure closure, void *data)
{
	struct call *c = data;
	Orch__LogAck ack = ORCH__LOG_ACK__INIT;
	int rc;

	(void)svc_;
	if (c->rpc->logs == NULL) {
		call_fail(
		    c, ORCH_EUNAVAIL, "this manager serves no task output");
		closure(NULL, data);
		return;
	}
	if (in->node_id != NULL && in->node_id[0] != '\0' &&
	    !caller_is_node(c, NULL, in->node_id)) {
		closure(NULL, data);
		return;
	}
	if ((rc = orch_logs_push(
	         c->rpc->logs, in, &ack, c->err, sizeof(c->err))) != ORCH_OK) {
		c->code = code_from_err(rc);
		closure(NULL, data);
		return;
	}
	closure(&ack, data);
}

static Orch__Manager_Service manager_service = ORCH__MANAGER__INIT(rpc_);

/* ---- dispatch ---- */

/*
 * Serves one request (msg, which this frees) on c.  Never fails for bad
 * input: that is an error reply.  The method answers c, at once or from
 * its write's completion, so c is not touched once it is invoked.
 */
static void
call_serve(struct call *c, nng_msg *msg)
{
	const ProtobufCServiceDescriptor *sd = &orch__manager__descriptor;
	const ProtobufCMethodDescriptor *md = NULL;
	size_t plen = strlen(sd->name);
	Orch__Request *req;

	c->method = NULL;
	/* The connection it came on, whose certificate names the caller. */
	c->pipe = nng_msg_get_pipe(msg);
	/* protobuf-c copies strings and bytes out of the buffer. */
	c->req = req =
	    orch__request__unpack(NULL, nng_msg_len(msg), nng_msg_body(msg));
	nng_msg_free(msg);
	if (req == NULL) {
		call_fail(c, ORCH_EINVAL,
		    "malformed request: not an orch.Request "
		    "message");
		call_answer(c, NULL);
		return;
	}
	if (req->method == NULL || strncmp(req->method, sd->name, plen) != 0 ||
	    req->method[plen] != '/' ||
	    (md = protobuf_c_service_descriptor_get_method_by_name(
	         sd, req->method + plen + 1)) == NULL) {
		c->code = ORCH__ERROR_CODE__UNIMPLEMENTED;
		snprintf(c->err, sizeof(c->err),
		    "no method \"%.100s\"; methods are "
		    "named \"%s/<Method>\"",
		    req->method != NULL ? req->method : "", sd->name);
		call_answer(c, NULL);
		return;
	}
	c->method = md->name;
	c->in = protobuf_c_message_unpack(md->input, NULL,
	    req->has_body ? req->body.len : 0,
	    req->has_body ? req->body.data : NULL);
	if (c->in == NULL) {
		call_fail(c, ORCH_EINVAL,
		    "malformed body for %s: not a %s message", req->method,
		    md->input->name);
		call_answer(c, NULL);
		return;
	}
	manager_service.base.invoke(&manager_service.base,
	    (unsigned)(md - sd->methods), c->in, call_closure, c);
}

/*
 * Takes a free call and begins receiving on its context with w's aio;
 * waits while every call is in flight.  Returns NULL once stopping.
 */
static struct call *
call_recv(struct worker *w)
{
	struct orch_rpc *rpc = w->rpc;
	struct call *c = NULL;

	pthread_mutex_lock(&rpc->mu);
	while (!rpc->stopping && rpc->free_calls == NULL)
		pthread_cond_wait(&rpc->cv, &rpc->mu);
	if (!rpc->stopping) {
		c = rpc->free_calls;
		rpc->free_calls = c->next;
		c->next = NULL;
		rpc->n_busy++;
		/* Begun under the lock that orch_rpc_stop sets stopping
		 * under, so that its cancel cannot miss this receive.  The
		 * aio has no callback, so nothing here takes the lock. */
		nng_ctx_recv(c->ctx, w->aio);
	}
	pthread_mutex_unlock(&rpc->mu);
	return c;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct call *c;

	while ((c = call_recv(w)) != NULL) {
		nng_aio_wait(w->aio);
		if (nng_aio_result(w->aio) != 0) {
			/* Cancelled by orch_rpc_stop, or a failed receive
			 * that the next one retries. */
			call_put(c);
			continue;
		}
		c->reader = w->reader;
		call_serve(c, nng_aio_get_msg(w->aio));
	}
	return NULL;
}

/* Runs the finish of each call the completions post, until told to stop
 * with an empty queue. */
static void *
finisher_main(void *arg)
{
	struct orch_rpc *rpc = arg;
	struct call *c;

	for (;;) {
		pthread_mutex_lock(&rpc->mu);
		while (rpc->fin_head == NULL && !rpc->fin_stop)
			pthread_cond_wait(&rpc->fin_cv, &rpc->mu);
		if ((c = rpc->fin_head) == NULL) {
			pthread_mutex_unlock(&rpc->mu);
			break;
		}
		if ((rpc->fin_head = c->next) == NULL)
			rpc->fin_tail = NULL;
		c->next = NULL;
		pthread_mutex_unlock(&rpc->mu);
		c->reader = rpc->fin_reader;
		c->finish(c);
	}
	return NULL;
}

/* Opens the contexts of the calls and threads them on the free list. */
static int
calls_open(struct orch_rpc *rpc, char *err, size_t errlen)
{
	int rv;

	for (size_t i = 0; i < MAX_CALLS; i++) {
		struct call *c = &rpc->calls[i];

		c->rpc = rpc;
		if ((rv = nng_ctx_open(&c->ctx, rpc->sock)) != 0 ||
		    (rv = nng_aio_alloc(&c->aio, call_sent, c)) != 0) {
			snprintf(err, errlen, "RPC: %s", nng_strerror(rv));
			return orch_err_from_nng(rv);
		}
		c->next = rpc->free_calls;
		rpc->free_calls = c;
	}
	return ORCH_OK;
}

int
orch_rpc_start(struct orch_store *st, struct orch_nodes *nodes,
    struct orch_notify *notify, struct orch_logs *logs,
    const struct orch_policy *policy, const char *url, nng_tls_config *tls,
    struct orch_rpc **out, char *err, size_t errlen)
{
	struct orch_rpc *rpc = calloc(1, sizeof(*rpc));
	int rv, rc = ORCH_OK;

	if (rpc == NULL)
		return ORCH_ENOMEM;
	rpc->store = st;
	rpc->nodes = nodes;
	rpc->notify = notify;
	rpc->logs = logs;
	rpc->policy = policy;
	rpc->tls = tls != NULL;
	if (pthread_mutex_init(&rpc->mu, NULL) != 0)
		goto fail_mu;
	if (pthread_cond_init(&rpc->cv, NULL) != 0)
		goto fail_cv;
	if (pthread_cond_init(&rpc->fin_cv, NULL) != 0)
		goto fail_fin_cv;
	if ((rv = nng_rep0_open(&rpc->sock)) != 0) {
		snprintf(err, errlen, "RPC socket: %s", nng_strerror(rv));
		rc = orch_err_from_nng(rv);
		goto out;
	}
	rpc->sock_open = true;
	nng_socket_set_size(rpc->sock, NNG_OPT_RECVMAXSZ, ORCH_RPC_MAX_MSG);
	if ((rc = calls_open(rpc, err, errlen)) != ORCH_OK)
		goto out;
	if ((rc = orch_store_reader_new(st, &rpc->fin_reader)) != ORCH_OK) {
		snprintf(err, errlen, "RPC: cannot open a store reader: %s",
		    orch_strerror(rc));
		goto out;
	}
	if (pthread_create(&rpc->fin_thread, NULL, finisher_main, rpc) != 0) {
		snprintf(err, errlen, "RPC: cannot start a thread");
		rc = ORCH_ENOMEM;
		goto out;
	}
	rpc->fin_started = true;
	/* Before the first beat is answered: a version answered must move
	 * with every later change. */
	if ((rc = orch_store_listen(st, assign_on_commit, rpc)) != ORCH_OK) {
		snprintf(err, errlen,
		    "RPC: cannot listen to the store's commits: %s",
		    orch_strerror(rc));
		goto out;
	}
	rpc->listening = true;
	if ((rc = orch_tls_listen(rpc->sock, url, tls, "rpc", err, errlen)) !=
	    ORCH_OK)
		goto out;
	for (int i = 0; i < N_WORKERS; i++) {
		struct worker *w = &rpc->workers[i];

		w->rpc = rpc;
		if ((rv = nng_aio_alloc(&w->aio, NULL, NULL)) != 0) {
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
fail_fin_cv:
	pthread_cond_destroy(&rpc->cv);
fail_cv:
	pthread_mutex_destroy(&rpc->mu);
fail_mu:
	free(rpc);
	return ORCH_ENOMEM;
}

void
orch_rpc_stop(struct orch_rpc *rpc)
{
	if (rpc == NULL)
		return;
	/* No new request is taken: a worker waiting for a call or in a
	 * receive stops (the receive is cancelled); one serving a request
	 * finishes it first. */
	pthread_mutex_lock(&rpc->mu);
	rpc->stopping = true;
	pthread_cond_broadcast(&rpc->cv);
	pthread_mutex_unlock(&rpc->mu);
	for (int i = 0; i < N_WORKERS; i++) {
		if (rpc->workers[i].aio != NULL)
			nng_aio_cancel(rpc->workers[i].aio);
	}
	for (int i = 0; i < N_WORKERS; i++) {
		if (rpc->workers[i].started)
			pthread_join(rpc->workers[i].thread, NULL);
	}
	/* The calls in flight complete: the store is still open, so each
	 * write commits (or fails) and its reply is sent, which a send
	 * timeout bounds; the finisher answers those handed to it. */
	pthread_mutex_lock(&rpc->mu);
	while (rpc->n_busy > 0)
		pthread_cond_wait(&rpc->cv, &rpc->mu);
	rpc->fin_stop = true;
	pthread_cond_signal(&rpc->fin_cv);
	pthread_mutex_unlock(&rpc->mu);
	if (rpc->fin_started)
		pthread_join(rpc->fin_thread, NULL);
	/* No beat is answered any more. */
	if (rpc->listening)
		orch_store_unlisten(rpc->store, assign_on_commit, rpc);
	/* Nothing of ours is busy on the socket any more, so a close that
	 * NNG 1.5.2 hangs (rpc_client.h) is left behind, not waited for. */
	if (rpc->sock_open)
		orch_nng_close_within(rpc->sock, ORCH_NNG_CLOSE_WAIT_MS, "rpc");
	for (size_t i = 0; i < MAX_CALLS; i++) {
		/* Idle: no send is in flight, so no callback can run. */
		if (rpc->calls[i].aio != NULL)
			nng_aio_free(rpc->calls[i].aio);
	}
	for (int i = 0; i < N_WORKERS; i++) {
		if (rpc->workers[i].aio != NULL)
			nng_aio_free(rpc->workers[i].aio);
		orch_store_reader_free(rpc->workers[i].reader);
	}
	orch_store_reader_free(rpc->fin_reader);
	pthread_cond_destroy(&rpc->fin_cv);
	pthread_cond_destroy(&rpc->cv);
	pthread_mutex_destroy(&rpc->mu);
	free(rpc);
}
