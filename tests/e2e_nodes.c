/*
 * e2e_nodes.c: the real orch-manager with a fake agent written here over
 * NNG: registration, heartbeats and assignments, placement and notices,
 * status reports from a node, nodes that go Down, a restart, GET /nodes
 * and orchctl nodes.
 *
 * The manager runs with --heartbeat-ttl 1; a beater thread plays the
 * agents' heartbeat loops (on its own REQ socket) for the nodes that
 * should stay Ready, and a node "dies" when it leaves the beater's list.
 */
#include <jansson.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <poll.h>

#include "clock.h"
#include "error.h"
#include "fake_agent.h"
#include "harness.h"
#include "http_json.h"
#include "manager_proc.h"
#include "orch.pb-c.h"
#include "rpc_client.h"
#include "task.h"

#define ST_PENDING ORCH__TASK_STATUS__TASK_STATUS_PENDING
#define ST_SCHEDULED ORCH__TASK_STATUS__TASK_STATUS_SCHEDULED
#define ST_RUNNING ORCH__TASK_STATUS__TASK_STATUS_RUNNING
#define ST_COMPLETED ORCH__TASK_STATUS__TASK_STATUS_COMPLETED
#define ST_FAILED ORCH__TASK_STATUS__TASK_STATUS_FAILED
#define ST_STOPPED ORCH__TASK_STATUS__TASK_STATUS_STOPPED

static struct mgr m;
static nng_socket rpc; /* the test's own REQ socket */
static char node_a[ORCH_ID_LEN], node_big[ORCH_ID_LEN];

/* ---- HTTP ---- */

/* The manager's HTTP API (http_json.h), on this test's manager. */
static json_t *
call(const char *method, const char *path, const char *body, int want)
{
	return hj_call(m.http_port, method, path, body, want);
}

static char *
submit(const char *name, double cpu, int mem)
{
	char body[256];
	json_t *j;
	char *id;

	snprintf(body, sizeof(body),
	    "{\"name\":\"%s\",\"image\":\"busybox:1\","
	    "\"cpu\":%g,\"memory\":%d}",
	    name, cpu, mem);
	j = call("POST", "/tasks", body, 201);
	id = strdup(hj_str(j, "id"));
	json_decref(j);
	return id;
}

/* A task's status (and, when node is not NULL, its node) as GET shows. */
struct task_want {
	const char *id;
	const char *status;
	const char *node;
	const char *error; /* a part of the error wanted; NULL: null */
};

static bool
task_is(void *arg)
{
	struct task_want *w = arg;
	json_t *t = hj_task(m.http_port, w->id);
	const char *err = hj_str(t, "error");
	bool ok = strcmp(hj_str(t, "status"), w->status) == 0 &&
	    (w->node == NULL ||
	        (hj_str(t, "node_id") != NULL &&
	            strcmp(hj_str(t, "node_id"), w->node) == 0)) &&
	    (w->error == NULL ? err == NULL
	                      : err != NULL && strstr(err, w->error) != NULL);

	json_decref(t);
	return ok;
}

static void
wait_task(
    const char *id, const char *status, const char *node, const char *error)
{
	struct task_want w = {id, status, node, error};

	if (!h_wait_until(task_is, &w, 15000)) {
		json_t *t = hj_task(m.http_port, id);
		char *s = json_dumps(t, JSON_COMPACT);

		h_fail(__FILE__, __LINE__,
		    "task %s never became %s on %s with "
		    "error %s: %s",
		    id, status, node != NULL ? node : "any node",
		    error != NULL ? error : "null", s);
	}
}

static json_t *
node_json(const char *key)
{
	char path[256];

	snprintf(path, sizeof(path), "/nodes/%s", key);
	return call("GET", path, NULL, 200);
}

/* ---- RPC ---- */

/* Registers a node of cpu cores and mem MB; copies its id into id. */
static void
reg_node(const char *name, double cpu, int64_t mem, char id[ORCH_ID_LEN])
{
	Orch__NodeRegistration r = ORCH__NODE_REGISTRATION__INIT;
	Orch__Node *n = NULL;
	char err[512];
	int rc;

	r.name = (char *)name;
	r.address = "127.0.0.1";
	r.has_cpu = true;
	r.cpu = cpu;
	r.has_memory_mb = true;
	r.memory_mb = mem;
	if ((rc = fa_node_register(rpc, &r, &n, err, sizeof(err))) != ORCH_OK)
		h_fail(__FILE__, __LINE__, "RegisterNode %s: %d %s", name, rc,
		    err);
	ASSERT(orch_id_valid(n->id));
	memcpy(id, n->id, ORCH_ID_LEN);
	orch__node__free_unpacked(n, NULL);
}

/* The assignment of task id in a, or NULL. */
static const Orch__Task *
assigned(const Orch__Assignments *a, const char *id)
{
	for (size_t i = 0; i < a->n_tasks; i++) {
		if (strcmp(a->tasks[i]->id, id) == 0)
			return a->tasks[i];
	}
	return NULL;
}

static void
report_ok(const struct fa_report *r)
{
	char err[512];
	int rc = fa_task_report(rpc, r, err, sizeof(err));

	if (rc != ORCH_OK)
		h_fail(__FILE__, __LINE__, "report on %s: %d %s", r->task, rc,
		    err);
}

/* ---- notices ---- */

/* Dialed at the start, long before any notice: PUB drops what it sends
 * before the subscriber's connection is attached on its side. */
static nng_socket sub;

static void
sub_open(void)
{
	char url[64];

	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", m.pub_port);
	ASSERT(nng_sub0_open(&sub) == 0);
	nng_socket_set_ms(sub, NNG_OPT_RECVTIMEO, 15000);
	ASSERT(nng_dial(sub, url, NULL, 0) == 0);
}

/* SUB filters on its side: a subscription applies at once. */
static void
sub_subscribe(const char *node)
{
	char topic[64];

	snprintf(topic, sizeof(topic), "node/%s ", node);
	ASSERT(nng_socket_set(
	           sub, NNG_OPT_SUB_SUBSCRIBE, topic, strlen(topic)) == 0);
}

/* Waits for one notice for node on s and checks its framing. */
static void
notice_wait(nng_socket s, const char *node)
{
	char topic[64];
	nng_msg *msg = NULL;
	Orch__NodeNotice *n;
	size_t tlen = (size_t)snprintf(topic, sizeof(topic), "node/%s ", node);
	int rv = nng_recvmsg(s, &msg, 0);

	if (rv != 0)
		h_fail(__FILE__, __LINE__, "no notice for node %s: %s", node,
		    nng_strerror(rv));
	ASSERT(nng_msg_len(msg) > tlen);
	ASSERT(memcmp(nng_msg_body(msg), topic, tlen) == 0);
	n = orch__node_notice__unpack(NULL, nng_msg_len(msg) - tlen,
	    (const uint8_t *)nng_msg_body(msg) + tlen);
	ASSERT(n != NULL);
	ASSERT_STR_EQ(n->node_id, node);
	ASSERT(n->has_time_ms && n->time_ms > 0);
	orch__node_notice__free_unpacked(n, NULL);
	nng_msg_free(msg);
}

/* ---- the beater: the agents' heartbeat loops ---- */

static struct fa_beater beater;

/* ---- orchctl ---- */

static int
ctl(char **out, char **err, const char *a1, const char *a2, const char *a3,
    const char *a4)
{
	const char *const args[] = {a1, a2, a3, a4, NULL};

	return h_orchctl(m.addr, out, err, args);
}

/* ---- tests ---- */

static void
test_no_nodes(void)
{
	json_t *j = call("GET", "/nodes", NULL, 200);
	char *out = NULL, *err = NULL;

	ASSERT(json_is_array(j));
	ASSERT_INT_EQ(json_array_size(j), 0);
	json_decref(j);
	ASSERT_INT_EQ(ctl(&out, &err, "nodes", NULL, NULL, NULL), 0);
	ASSERT_STR_CONTAINS(out, "No nodes have joined the cluster.");
	free(out);
	free(err);
}

static void
test_register(void)
{
	Orch__NodeRegistration r = ORCH__NODE_REGISTRATION__INIT;
	Orch__NodeRegistration__LabelsEntry zone =
	    ORCH__NODE_REGISTRATION__LABELS_ENTRY__INIT;
	Orch__NodeRegistration__LabelsEntry *labels[] = {&zone};
	char *drivers[] = {"docker"};
	Orch__Node *n1 = NULL, *n2 = NULL;
	char err[512];
	json_t *j, *k;

	zone.key = "zone";
	zone.value = "a";
	r.name = "node-a";
	r.address = "10.1.2.3";
	r.n_labels = 1;
	r.labels = labels;
	r.has_cpu = true;
	r.cpu = 2;
	r.has_memory_mb = true;
	r.memory_mb = 2048;
	r.n_drivers = 1;
	r.drivers = drivers;
	r.agent_version = "0.1.0-test";
	ASSERT_INT_EQ(
	    fa_node_register(rpc, &r, &n1, err, sizeof(err)), ORCH_OK);
	ASSERT(orch_id_valid(n1->id));
	ASSERT_STR_EQ(n1->name, "node-a");
	ASSERT_INT_EQ(n1->status, ORCH__NODE_STATUS__NODE_STATUS_READY);
	ASSERT(n1->has_last_heartbeat_ms);
	ASSERT(n1->has_task_count && n1->task_count == 0);
	/* Again (a restarted agent, or NNG resending): the same node. */
	ASSERT_INT_EQ(
	    fa_node_register(rpc, &r, &n2, err, sizeof(err)), ORCH_OK);
	ASSERT_STR_EQ(n2->id, n1->id);
	ASSERT_INT_EQ(n2->registered_at_ms, n1->registered_at_ms);
	memcpy(node_a, n1->id, ORCH_ID_LEN);
	orch__node__free_unpacked(n1, NULL);
	orch__node__free_unpacked(n2, NULL);
	fa_beater_add(&beater, node_a);

	/* GET /nodes and /nodes/{id or name}. */
	j = call("GET", "/nodes", NULL, 200);
	ASSERT_INT_EQ(json_array_size(j), 1);
	k = json_array_get(j, 0);
	ASSERT_STR_EQ(hj_str(k, "id"), node_a);
	ASSERT_STR_EQ(hj_str(k, "name"), "node-a");
	ASSERT_STR_EQ(hj_str(k, "address"), "10.1.2.3");
	ASSERT_STR_EQ(hj_str(k, "status"), "Ready");
	ASSERT_STR_EQ(hj_str(json_object_get(k, "labels"), "zone"), "a");
	ASSERT(json_real_value(json_object_get(k, "cpu")) == 2.0);
	ASSERT_INT_EQ(json_integer_value(json_object_get(k, "memory")), 2048);
	ASSERT(json_real_value(json_object_get(k, "allocated_cpu")) == 0.0);
	ASSERT_INT_EQ(
	    json_integer_value(json_object_get(k, "allocated_memory")), 0);
	ASSERT_INT_EQ(json_integer_value(json_object_get(k, "task_count")), 0);
	ASSERT(json_is_string(json_object_get(k, "last_heartbeat")));
	ASSERT_STR_EQ(
	    json_string_value(json_array_get(json_object_get(k, "drivers"), 0)),
	    "docker");
	ASSERT_STR_EQ(hj_str(k, "version"), "0.1.0-test");
	ASSERT(json_is_string(json_object_get(k, "registered_at")));
	json_decref(j);
	j = node_json("node-a");
	ASSERT_STR_EQ(hj_str(j, "id"), node_a);
	json_decref(j);
	j = node_json(node_a);
	ASSERT_STR_EQ(hj_str(j, "name"), "node-a");
	json_decref(j);
	j = call("GET", "/nodes/no-such-node", NULL, 404);
	ASSERT_STR_CONTAINS(hj_str(j, "error"), "no-such-node");
	json_decref(j);
	/* Bytes that are not UTF-8, raw or escaped: still a JSON answer. */
	j = call("GET", "/nodes/\xff\xfe", NULL, 404);
	ASSERT_STR_CONTAINS(hj_str(j, "error"), "no node with id or name");
	json_decref(j);
	j = call("GET", "/nodes/%FF%00", NULL, 404);
	ASSERT_STR_CONTAINS(hj_str(j, "error"), "no node with id or name");
	json_decref(j);
	/* A name is found through its escaped form. */
	j = call("GET", "/nodes/node%2da", NULL, 200);
	ASSERT_STR_EQ(hj_str(j, "id"), node_a);
	json_decref(j);
	j = call("DELETE", "/nodes", NULL, 405);
	json_decref(j);

	/* ListNodes and GetNode over RPC. */
	{
		Orch__ListNodesRequest lr = ORCH__LIST_NODES_REQUEST__INIT;
		Orch__GetNodeRequest gr = ORCH__GET_NODE_REQUEST__INIT;
		Orch__NodeList *l = NULL;
		Orch__Node *g = NULL;

		ASSERT_INT_EQ(orch_rpc_call(rpc, "orch.Manager/ListNodes",
		                  &lr.base, &orch__node_list__descriptor,
		                  (ProtobufCMessage **)&l, err, sizeof(err)),
		    ORCH_OK);
		ASSERT_INT_EQ(l->n_nodes, 1);
		ASSERT_STR_EQ(l->nodes[0]->id, node_a);
		ASSERT_INT_EQ(
		    l->nodes[0]->status, ORCH__NODE_STATUS__NODE_STATUS_READY);
		orch__node_list__free_unpacked(l, NULL);
		gr.id = "node-a";
		ASSERT_INT_EQ(orch_rpc_call(rpc, "orch.Manager/GetNode",
		                  &gr.base, &orch__node__descriptor,
		                  (ProtobufCMessage **)&g, err, sizeof(err)),
		    ORCH_OK);
		ASSERT_STR_EQ(g->id, node_a);
		ASSERT_INT_EQ(g->memory_mb, 2048);
		orch__node__free_unpacked(g, NULL);
		gr.id = "ghost";
		ASSERT_INT_EQ(orch_rpc_call(rpc, "orch.Manager/GetNode",
		                  &gr.base, &orch__node__descriptor,
		                  (ProtobufCMessage **)&g, err, sizeof(err)),
		    ORCH_ENOENT);
		ASSERT_STR_CONTAINS(err, "ghost");
		gr.id = NULL;
		ASSERT_INT_EQ(orch_rpc_call(rpc, "orch.Manager/GetNode",
		                  &gr.base, &orch__node__descriptor,
		                  (ProtobufCMessage **)&g, err, sizeof(err)),
		    ORCH_EINVAL);
	}

	/* Refused registrations name the field. */
	{
		Orch__NodeRegistration bad;
		Orch__NodeRegistration__LabelsEntry empty =
		    ORCH__NODE_REGISTRATION__LABELS_ENTRY__INIT;
		Orch__NodeRegistration__LabelsEntry *el[] = {&empty};
		char longname[200];

		bad = r;
		bad.name = "";
		ASSERT_INT_EQ(
		    fa_node_register(rpc, &bad, &n1, err, sizeof(err)),
		    ORCH_EINVAL);
		ASSERT_STR_CONTAINS(err, "name");
		bad = r;
		bad.name = "tab\there";
		ASSERT_INT_EQ(
		    fa_node_register(rpc, &bad, &n1, err, sizeof(err)),
		    ORCH_EINVAL);
		ASSERT_STR_CONTAINS(err, "name");
		memset(longname, 'n', sizeof(longname) - 1);
		longname[sizeof(longname) - 1] = '\0';
		bad = r;
		bad.name = longname;
		ASSERT_INT_EQ(
		    fa_node_register(rpc, &bad, &n1, err, sizeof(err)),
		    ORCH_EINVAL);
		ASSERT_STR_CONTAINS(err, "128");
		bad = r;
		bad.cpu = 0;
		ASSERT_INT_EQ(
		    fa_node_register(rpc, &bad, &n1, err, sizeof(err)),
		    ORCH_EINVAL);
		ASSERT_STR_CONTAINS(err, "cpu");
		bad = r;
		bad.has_memory_mb = false;
		ASSERT_INT_EQ(
		    fa_node_register(rpc, &bad, &n1, err, sizeof(err)),
		    ORCH_EINVAL);
		ASSERT_STR_CONTAINS(err, "memory_mb");
		bad = r;
		bad.memory_mb = -5;
		ASSERT_INT_EQ(
		    fa_node_register(rpc, &bad, &n1, err, sizeof(err)),
		    ORCH_EINVAL);
		empty.key = "";
		empty.value = "x";
		bad = r;
		bad.labels = el;
		ASSERT_INT_EQ(
		    fa_node_register(rpc, &bad, &n1, err, sizeof(err)),
		    ORCH_EINVAL);
		ASSERT_STR_CONTAINS(err, "label");
	}
	/* None of them left a node behind. */
	j = call("GET", "/nodes", NULL, 200);
	ASSERT_INT_EQ(json_array_size(j), 1);
	json_decref(j);
}

static void
test_heartbeat(void)
{
	Orch__Assignments *a = NULL;
	char err[512];

	ASSERT_INT_EQ(fa_heartbeat(rpc, node_a, &a, err, sizeof(err)), ORCH_OK);
	ASSERT_STR_EQ(a->node_id, node_a);
	ASSERT_INT_EQ(a->n_tasks, 0);
	/* A third of the 1 s TTL. */
	ASSERT(a->has_heartbeat_ms);
	ASSERT_INT_EQ(a->heartbeat_ms, 333);
	orch__assignments__free_unpacked(a, NULL);

	ASSERT_INT_EQ(fa_heartbeat(rpc, "0a0a0a0a-0000-4000-8000-000000000000",
	                  &a, err, sizeof(err)),
	    ORCH_ENOENT);
	ASSERT_STR_CONTAINS(err, "register again");
	ASSERT_INT_EQ(
	    fa_heartbeat(rpc, NULL, &a, err, sizeof(err)), ORCH_EINVAL);
	ASSERT_STR_CONTAINS(err, "node_id");
}

static void
test_task_life(void)
{
	sub_subscribe(node_a);
	Orch__Assignments *a = NULL;
	const Orch__Task *at;
	char err[512], when[ORCH_RFC3339_LEN];
	char *t1, *t2, *t3;
	int64_t started = orch_now_ms() - 5000, finished = orch_now_ms() - 1000;
	json_t *j, *again;

	/* Placed on the one node, which hears of it. */
	t1 = submit("life", 0.5, 256);
	wait_task(t1, "Scheduled", node_a, NULL);
	notice_wait(sub, node_a);
	ASSERT_INT_EQ(fa_heartbeat(rpc, node_a, &a, err, sizeof(err)), ORCH_OK);
	ASSERT((at = assigned(a, t1)) != NULL);
	ASSERT_INT_EQ(at->status, ST_SCHEDULED);
	ASSERT(!at->stop_requested);
	ASSERT_STR_EQ(at->spec->image, "busybox:1");
	orch__assignments__free_unpacked(a, NULL);
	j = node_json("node-a");
	ASSERT(json_real_value(json_object_get(j, "allocated_cpu")) == 0.5);
	ASSERT_INT_EQ(
	    json_integer_value(json_object_get(j, "allocated_memory")), 256);
	ASSERT_INT_EQ(json_integer_value(json_object_get(j, "task_count")), 1);
	json_decref(j);

	/* Running, with the node's times; a repeated report changes
	 * nothing. */
	report_ok(&(struct fa_report){.task = t1,
	    .node = node_a,
	    .status = ST_RUNNING,
	    .container_id = "c0ffee01",
	    .started_at_ms = started});
	j = hj_task(m.http_port, t1);
	ASSERT_STR_EQ(hj_str(j, "status"), "Running");
	ASSERT_STR_EQ(hj_str(j, "container_id"), "c0ffee01");
	ASSERT_STR_EQ(
	    hj_str(j, "started_at"), orch_rfc3339(started, when, sizeof(when)));
	report_ok(&(struct fa_report){.task = t1,
	    .node = node_a,
	    .status = ST_RUNNING,
	    .container_id = "c0ffee01",
	    .started_at_ms = started});
	again = hj_task(m.http_port, t1);
	ASSERT(json_equal(j, again));
	json_decref(again);
	json_decref(j);

	/* A report from another node is refused. */
	ASSERT_INT_EQ(fa_task_report(rpc,
	                  &(struct fa_report){.task = t1,
	                      .node = "0b0b0b0b-0000-4000-8000-000000000000",
	                      .status = ST_FAILED},
	                  err, sizeof(err)),
	    ORCH_ECONFLICT);
	ASSERT_STR_CONTAINS(err, node_a);

	/* Completed with exit 0: off the node's assignments. */
	report_ok(&(struct fa_report){.task = t1,
	    .node = node_a,
	    .status = ST_COMPLETED,
	    .has_exit_code = true,
	    .exit_code = 0,
	    .finished_at_ms = finished});
	j = hj_task(m.http_port, t1);
	ASSERT_STR_EQ(hj_str(j, "status"), "Completed");
	ASSERT_INT_EQ(json_integer_value(json_object_get(j, "exit_code")), 0);
	ASSERT_STR_EQ(hj_str(j, "finished_at"),
	    orch_rfc3339(finished, when, sizeof(when)));
	json_decref(j);
	report_ok(&(struct fa_report){.task = t1,
	    .node = node_a,
	    .status = ST_COMPLETED,
	    .has_exit_code = true,
	    .exit_code = 0});
	ASSERT_INT_EQ(fa_heartbeat(rpc, node_a, &a, err, sizeof(err)), ORCH_OK);
	ASSERT(assigned(a, t1) == NULL);
	orch__assignments__free_unpacked(a, NULL);

	/* Failed with exit 3. */
	t2 = submit("fails", 0.5, 256);
	wait_task(t2, "Scheduled", node_a, NULL);
	notice_wait(sub, node_a);
	report_ok(&(struct fa_report){.task = t2,
	    .node = node_a,
	    .status = ST_RUNNING,
	    .container_id = "c0ffee02"});
	report_ok(&(struct fa_report){.task = t2,
	    .node = node_a,
	    .status = ST_FAILED,
	    .has_exit_code = true,
	    .exit_code = 3,
	    .error = "exited with code 3"});
	j = hj_task(m.http_port, t2);
	ASSERT_STR_EQ(hj_str(j, "status"), "Failed");
	ASSERT_INT_EQ(json_integer_value(json_object_get(j, "exit_code")), 3);
	ASSERT_STR_EQ(hj_str(j, "error"), "exited with code 3");
	ASSERT(json_is_string(json_object_get(j, "started_at")));
	ASSERT(json_is_string(json_object_get(j, "finished_at")));
	json_decref(j);

	/* Stopped: DELETE of a Running task tells the node at once, the
	 * heartbeat lists it with stop_requested, the node reports Stopped. */
	t3 = submit("stopped", 0.5, 256);
	wait_task(t3, "Scheduled", node_a, NULL);
	notice_wait(sub, node_a);
	report_ok(&(struct fa_report){.task = t3,
	    .node = node_a,
	    .status = ST_RUNNING,
	    .container_id = "c0ffee03"});
	{
		char path[128];

		snprintf(path, sizeof(path), "/tasks/%s", t3);
		j = call("DELETE", path, NULL, 200);
		ASSERT_STR_EQ(hj_str(j, "status"), "Running");
		json_decref(j);
	}
	notice_wait(sub, node_a);
	ASSERT_INT_EQ(fa_heartbeat(rpc, node_a, &a, err, sizeof(err)), ORCH_OK);
	ASSERT((at = assigned(a, t3)) != NULL);
	ASSERT(at->stop_requested);
	ASSERT_INT_EQ(at->status, ST_RUNNING);
	orch__assignments__free_unpacked(a, NULL);
	report_ok(&(struct fa_report){
	    .task = t3, .node = node_a, .status = ST_STOPPED});
	j = hj_task(m.http_port, t3);
	ASSERT_STR_EQ(hj_str(j, "status"), "Stopped");
	json_decref(j);
	ASSERT_INT_EQ(fa_heartbeat(rpc, node_a, &a, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(a->n_tasks, 0);
	orch__assignments__free_unpacked(a, NULL);

	/* A task on no node cannot be reported on by a node. */
	{
		char *t4 = submit("unplaceable", 64, 256);

		wait_task(t4, "Pending", NULL, "no Ready node");
		ASSERT_INT_EQ(
		    fa_task_report(rpc,
		        &(struct fa_report){
		            .task = t4, .node = node_a, .status = ST_RUNNING},
		        err, sizeof(err)),
		    ORCH_ECONFLICT);
		ASSERT_STR_CONTAINS(err, "not placed");
		{
			char path[128];

			snprintf(path, sizeof(path), "/tasks/%s", t4);
			j = call("DELETE", path, NULL, 200);
			ASSERT_STR_EQ(hj_str(j, "status"), "Stopped");
			json_decref(j);
		}
		free(t4);
	}
	/* Through StopTask too, for a task the node holds. */
	{
		Orch__StopTaskRequest sr = ORCH__STOP_TASK_REQUEST__INIT;
		Orch__Task *t = NULL;
		char *t5 = submit("rpc-stop", 0.5, 256);

		wait_task(t5, "Scheduled", node_a, NULL);
		notice_wait(sub, node_a);
		sr.id = t5;
		ASSERT_INT_EQ(orch_rpc_call(rpc, "orch.Manager/StopTask",
		                  &sr.base, &orch__task__descriptor,
		                  (ProtobufCMessage **)&t, err, sizeof(err)),
		    ORCH_OK);
		ASSERT(t->stop_requested);
		ASSERT_INT_EQ(t->status, ST_SCHEDULED);
		orch__task__free_unpacked(t, NULL);
		notice_wait(sub, node_a);
		report_ok(&(struct fa_report){
		    .task = t5, .node = node_a, .status = ST_STOPPED});
		free(t5);
	}
	free(t1);
	free(t2);
	free(t3);
}

/* ---- assignment versions ---- */

/* The epoch and the last version this manager answered node_a, for
 * test_restart. */
static uint64_t epoch_a, version_a;
/* beat_known() says the node accepts deltas. */
static bool beat_delta;

/* Heartbeat of node, saying it holds the list of epoch and version when
 * known.  Every answer carries a version. */
static Orch__Assignments *
beat_known(const char *node, bool known, uint64_t epoch, uint64_t version)
{
	Orch__HeartbeatRequest hb = ORCH__HEARTBEAT_REQUEST__INIT;
	Orch__Assignments *a = NULL;
	char err[512];
	int rc;

	hb.node_id = (char *)node;
	hb.has_known_epoch = hb.has_known_version = known;
	hb.known_epoch = epoch;
	hb.known_version = version;
	hb.has_accepts_delta = hb.accepts_delta = beat_delta;
	rc = orch_rpc_call(rpc, "orch.Manager/Heartbeat", &hb.base,
	    &orch__assignments__descriptor, (ProtobufCMessage **)&a, err,
	    sizeof(err));
	if (rc != ORCH_OK)
		h_fail(__FILE__, __LINE__, "Heartbeat of %s: %d %s", node, rc,
		    err);
	ASSERT_STR_EQ(a->node_id, node);
	ASSERT(a->has_epoch && a->epoch != 0);
	ASSERT(a->has_version);
	ASSERT(a->has_heartbeat_ms && a->heartbeat_ms == 333);
	return a;
}

static bool
is_unchanged(const Orch__Assignments *a)
{
	return a->has_unchanged && a->unchanged;
}

/*
 * Beats node as an agent holding *held (a full list) until the answer
 * is "unchanged", each full answer replacing *held: a commit visible to
 * the list just before its version moved makes one more full answer.
 */
static void
beat_until_unchanged(const char *node, Orch__Assignments **held)
{
	int64_t deadline = orch_mono_ms() + 15000;

	for (;;) {
		Orch__Assignments *a =
		    beat_known(node, true, (*held)->epoch, (*held)->version);

		if (is_unchanged(a)) {
			/* Nothing sent, the same version. */
			ASSERT_INT_EQ(a->n_tasks, 0);
			ASSERT(a->epoch == (*held)->epoch);
			ASSERT(a->version == (*held)->version);
			orch__assignments__free_unpacked(a, NULL);
			return;
		}
		ASSERT(a->epoch == (*held)->epoch);
		ASSERT(a->version > (*held)->version);
		orch__assignments__free_unpacked(*held, NULL);
		*held = a;
		if (orch_mono_ms() >= deadline)
			h_fail(__FILE__, __LINE__,
			    "node %s never got \"unchanged\"", node);
	}
}

/* Beats node holding *held until the answer is a full list, which
 * replaces *held; "unchanged" answers before it are those of a change
 * visible a moment before its version moved. */
static void
beat_until_changed(const char *node, Orch__Assignments **held)
{
	int64_t deadline = orch_mono_ms() + 15000;

	for (;;) {
		Orch__Assignments *a =
		    beat_known(node, true, (*held)->epoch, (*held)->version);

		if (!is_unchanged(a)) {
			ASSERT(a->epoch == (*held)->epoch);
			ASSERT(a->version > (*held)->version);
			orch__assignments__free_unpacked(*held, NULL);
			*held = a;
			return;
		}
		orch__assignments__free_unpacked(a, NULL);
		if (orch_mono_ms() >= deadline)
			h_fail(__FILE__, __LINE__,
			    "node %s never got its new list", node);
		poll(NULL, 0, 10);
	}
}

/* The task t on node_a stopped as its agent would: DELETE, then the
 * report. */
static void
stop_on_a(const char *t)
{
	char path[128];
	json_t *j;

	snprintf(path, sizeof(path), "/tasks/%s", t);
	j = call("DELETE", path, NULL, 200);
	json_decref(j);
	report_ok(&(struct fa_report){
	    .task = t, .node = node_a, .status = ST_STOPPED});
}

/* A node that says which list it holds gets "unchanged" and no tasks
 * while that list is current, and the full list once anything about its
 * tasks changed, or when it names another epoch. */
static void
test_assign_versions(void)
{
	Orch__Assignments *held, *a;
	char *t1, *t2, path[128];
	json_t *j;

	t1 = submit("versioned", 0.5, 256);
	wait_task(t1, "Scheduled", node_a, NULL);
	/* Holding nothing: the full list, with its version. */
	held = beat_known(node_a, false, 0, 0);
	ASSERT(!is_unchanged(held));
	ASSERT(assigned(held, t1) != NULL);
	/* Holding it: "unchanged", with no tasks. */
	beat_until_unchanged(node_a, &held);
	ASSERT(assigned(held, t1) != NULL);

	/* A stop request: the full list again, at a higher version.  The
	 * DELETE is answered after its commit, so the version moved. */
	snprintf(path, sizeof(path), "/tasks/%s", t1);
	j = call("DELETE", path, NULL, 200);
	json_decref(j);
	a = beat_known(node_a, true, held->epoch, held->version);
	ASSERT(!is_unchanged(a));
	ASSERT(a->epoch == held->epoch && a->version > held->version);
	ASSERT(assigned(a, t1) != NULL && assigned(a, t1)->stop_requested);
	orch__assignments__free_unpacked(held, NULL);
	held = a;
	beat_until_unchanged(node_a, &held);

	/* The node's own report that it stopped: off the list. */
	report_ok(&(struct fa_report){
	    .task = t1, .node = node_a, .status = ST_STOPPED});
	a = beat_known(node_a, true, held->epoch, held->version);
	ASSERT(!is_unchanged(a));
	ASSERT(a->version > held->version);
	ASSERT_INT_EQ(a->n_tasks, 0);
	orch__assignments__free_unpacked(held, NULL);
	held = a;
	beat_until_unchanged(node_a, &held);

	/* A task placed on the node: the list with it, at a higher version.
	 * The placement is visible a moment before its version moves, so
	 * the old version may still be answered "unchanged" then. */
	t2 = submit("versioned-2", 0.5, 256);
	wait_task(t2, "Scheduled", node_a, NULL);
	beat_until_changed(node_a, &held);
	ASSERT(assigned(held, t2) != NULL);
	beat_until_unchanged(node_a, &held);
	ASSERT(assigned(held, t2) != NULL);

	/* Another epoch (an earlier manager's): the full list. */
	a = beat_known(node_a, true, held->epoch + 1, held->version);
	ASSERT(!is_unchanged(a));
	ASSERT(a->epoch == held->epoch);
	ASSERT(assigned(a, t2) != NULL);
	orch__assignments__free_unpacked(a, NULL);

	/* node-a empty again, for the tests after. */
	stop_on_a(t2);
	a = beat_known(node_a, true, held->epoch, held->version);
	ASSERT(!is_unchanged(a));
	ASSERT_INT_EQ(a->n_tasks, 0);
	epoch_a = a->epoch;
	version_a = a->version;
	orch__assignments__free_unpacked(a, NULL);
	orch__assignments__free_unpacked(held, NULL);
	free(t1);
	free(t2);
}

static bool
is_delta(const Orch__Assignments *a)
{
	return a->has_delta && a->delta;
}

static bool
removes(const Orch__Assignments *a, const char *id)
{
	for (size_t i = 0; i < a->n_removed; i++) {
		if (strcmp(a->removed[i], id) == 0)
			return true;
	}
	return false;
}

/* Beats node (accepting deltas) holding version *version until the answer
 * moves past it; returns it. */
static Orch__Assignments *
beat_until_moved(const char *node, uint64_t epoch, uint64_t *version)
{
	int64_t deadline = orch_mono_ms() + 15000;

	for (;;) {
		Orch__Assignments *a = beat_known(node, true, epoch, *version);

		if (!is_unchanged(a)) {
			ASSERT(a->version > *version);
			*version = a->version;
			return a;
		}
		orch__assignments__free_unpacked(a, NULL);
		if (orch_mono_ms() >= deadline)
			h_fail(__FILE__, __LINE__, "node %s: no change", node);
		poll(NULL, 0, 10);
	}
}

/* A node that accepts deltas and holds a current list gets only what
 * changed since: a task placed, then asked to stop, then gone (removed);
 * one that does not, or names another epoch, the full list. */
static void
test_assign_delta(void)
{
	Orch__Assignments *a;
	uint64_t epoch, version;
	char *keep, *t;

	keep = submit("delta-keep", 0.25, 128);
	wait_task(keep, "Scheduled", node_a, NULL);
	beat_delta = true;
	a = beat_known(node_a, false, 0, 0);
	ASSERT(!is_delta(a) && assigned(a, keep) != NULL);
	epoch = a->epoch;
	version = a->version;
	orch__assignments__free_unpacked(a, NULL);

	/* Placed: the new task alone, not the one the node holds. */
	t = submit("delta-new", 0.25, 128);
	wait_task(t, "Scheduled", node_a, NULL);
	a = beat_until_moved(node_a, epoch, &version);
	ASSERT(is_delta(a));
	ASSERT_INT_EQ(a->n_tasks, 1);
	ASSERT(assigned(a, t) != NULL);
	ASSERT_INT_EQ(a->n_removed, 0);
	orch__assignments__free_unpacked(a, NULL);

	/* Asked to stop: it again, with the request. */
	stop_on_a(t);
	a = beat_until_moved(node_a, epoch, &version);
	ASSERT(is_delta(a));
	/* Stopped by its report: off the list. */
	if (a->n_tasks > 0) {
		ASSERT(assigned(a, t) != NULL);
		orch__assignments__free_unpacked(a, NULL);
		a = beat_until_moved(node_a, epoch, &version);
		ASSERT(is_delta(a));
	}
	ASSERT_INT_EQ(a->n_tasks, 0);
	ASSERT(removes(a, t));
	orch__assignments__free_unpacked(a, NULL);

	/* Without accepts_delta, or from another epoch: the full list. */
	beat_delta = false;
	stop_on_a(keep);
	a = beat_known(node_a, true, epoch, version);
	ASSERT(!is_delta(a) && !is_unchanged(a));
	ASSERT_INT_EQ(a->n_tasks, 0);
	version = a->version;
	orch__assignments__free_unpacked(a, NULL);
	beat_delta = true;
	a = beat_known(node_a, true, epoch + 1, version);
	ASSERT(!is_delta(a) && !is_unchanged(a));
	orch__assignments__free_unpacked(a, NULL);
	beat_delta = false;
	free(keep);
	free(t);
}

static void
test_too_big_then_placed(void)
{
	char *t = submit("big", 1, 4096);
	char msg[256];
	json_t *n;

	/* node-a is empty again: all of it is free. */
	snprintf(msg, sizeof(msg),
	    "no Ready node has 4096 MB and 1 cpu free; "
	    "most free: node-a with 2048 MB and 2 cpu");
	wait_task(t, "Pending", NULL, msg);
	reg_node("node-big", 4, 8192, node_big);
	fa_beater_add(&beater, node_big);
	wait_task(t, "Scheduled", node_big, NULL);
	n = node_json("node-big");
	ASSERT_INT_EQ(
	    json_integer_value(json_object_get(n, "allocated_memory")), 4096);
	json_decref(n);
	free(t);
}

struct node_want {
	const char *key;
	const char *status;
};

static bool
node_is(void *arg)
{
	struct node_want *w = arg;
	json_t *n = node_json(w->key);
	bool ok = strcmp(hj_str(n, "status"), w->status) == 0;

	json_decref(n);
	return ok;
}

/* Whether a task of node-big is Failed, lost with it. */
static bool
big_task_lost(void *arg)
{
	json_t *list = call("GET", "/tasks?status=Failed", NULL, 200), *v;
	size_t i;
	bool lost = false;

	(void)arg;
	json_array_foreach(list, i, v)
	{
		if (hj_str(v, "node_id") != NULL &&
		    strcmp(hj_str(v, "node_id"), node_big) == 0 &&
		    hj_str(v, "error") != NULL &&
		    strcmp(hj_str(v, "error"), "node node-big lost") == 0)
			lost = true;
	}
	json_decref(list);
	return lost;
}

/* A node that stops beating is Down after the TTL; its tasks end, lost
 * (a plain task restarts only when its policy says so, never here), and
 * nothing new goes there. */
static void
test_down(void)
{
	struct node_want w = {"node-big", "Down"};
	json_t *list, *v;
	char *t;
	size_t i;

	fa_beater_remove(&beater, node_big);
	ASSERT(h_wait_until(node_is, &w, 15000));
	ASSERT(h_wait_until(big_task_lost, NULL, 15000));
	list = call("GET", "/tasks?status=Scheduled", NULL, 200);
	json_array_foreach(list, i, v)
	{
		ASSERT(hj_str(v, "node_id") == NULL ||
		    strcmp(hj_str(v, "node_id"), node_big) != 0);
	}
	json_decref(list);
	/* A task only node-big could take waits. */
	t = submit("only-big", 1, 3000);
	wait_task(t, "Pending", NULL, "most free: node-a");
	w = (struct node_want){"node-a", "Ready"};
	ASSERT(node_is(&w));
	ASSERT_INT_EQ(h_http(m.http_port, "GET", "/healthz", NULL, NULL), 200);
	free(t);
}

static void
test_orchctl(void)
{
	char *out = NULL, *err = NULL;
	json_t *j;

	ASSERT_INT_EQ(ctl(&out, &err, "nodes", NULL, NULL, NULL), 0);
	ASSERT_STR_CONTAINS(out, "NAME");
	ASSERT_STR_CONTAINS(out, "LAST SEEN");
	ASSERT_STR_CONTAINS(out, "node-a");
	ASSERT_STR_CONTAINS(out, "node-big");
	ASSERT_STR_CONTAINS(out, "Ready");
	ASSERT_STR_CONTAINS(out, "Down");
	ASSERT_STR_CONTAINS(out, "/2048 MB");
	free(out);
	free(err);
	/* orchctl list names the node of each task. */
	ASSERT_INT_EQ(ctl(&out, &err, "list", "--status", "Failed", NULL), 0);
	ASSERT_STR_CONTAINS(out, "node-big");
	free(out);
	free(err);
	ASSERT_INT_EQ(ctl(&out, &err, "nodes", "-o", "json", NULL), 0);
	j = hj_parse(out);
	ASSERT_INT_EQ(json_array_size(j), 2);
	json_decref(j);
	free(out);
	free(err);
	ASSERT_INT_EQ(ctl(&out, &err, "node", "get", "node-a", NULL), 0);
	ASSERT_STR_CONTAINS(out, "name: node-a");
	ASSERT_STR_CONTAINS(out, "labels: zone=a");
	free(out);
	free(err);
	ASSERT_INT_EQ(ctl(&out, &err, "node", "get", node_a, "-o"), 2);
	free(out);
	free(err);
	ASSERT_INT_EQ(ctl(&out, &err, "node", "get", "no such node", NULL), 1);
	ASSERT_STR_CONTAINS(err, "no such node");
	free(out);
	free(err);
	ASSERT_INT_EQ(ctl(&out, &err, "node", "list", NULL, NULL), 2);
	free(out);
	free(err);
}

/* Garbage bodies for the node methods: INVALID_ARGUMENT, and the manager
 * goes on. */
static void
test_garbage(void)
{
	static const char *const methods[] = {
	    "RegisterNode", "Heartbeat", "ListNodes", "GetNode"};
	static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 'x'};

	for (size_t i = 0; i < 4; i++) {
		Orch__Request req = ORCH__REQUEST__INIT;
		Orch__Reply *rep;
		char method[64];
		uint8_t buf[128];
		size_t len;
		nng_msg *msg;

		snprintf(method, sizeof(method), "orch.Manager/%s", methods[i]);
		req.method = method;
		req.has_body = true;
		req.body.data = (uint8_t *)junk;
		req.body.len = sizeof(junk);
		len = orch__request__pack(&req, buf);
		ASSERT(nng_send(rpc, buf, len, 0) == 0);
		ASSERT(nng_recvmsg(rpc, &msg, 0) == 0);
		rep = orch__reply__unpack(
		    NULL, nng_msg_len(msg), nng_msg_body(msg));
		ASSERT(rep != NULL);
		ASSERT_INT_EQ(rep->code, ORCH__ERROR_CODE__INVALID_ARGUMENT);
		ASSERT_STR_CONTAINS(rep->error, "malformed");
		orch__reply__free_unpacked(rep, NULL);
		nng_msg_free(msg);
	}
	ASSERT_INT_EQ(h_http(m.http_port, "GET", "/healthz", NULL, NULL), 200);
}

/* Nodes survive a restart: NotReady until they beat again, and their
 * heartbeat is accepted without registering again. */
static void
test_restart(void)
{
	Orch__Assignments *a = NULL;
	struct node_want w = {"node-a", "Ready"};
	char err[512], id[ORCH_ID_LEN];
	json_t *n;

	fa_beater_stop(&beater);
	mgr_stop_clean(&m);
	/* The default TTL: NotReady lasts long enough to be seen. */
	mgr_restart(&m, NULL);
	n = node_json("node-a");
	ASSERT_STR_EQ(hj_str(n, "status"), "NotReady");
	ASSERT(json_is_null(json_object_get(n, "last_heartbeat")));
	ASSERT_STR_EQ(hj_str(n, "id"), node_a);
	json_decref(n);
	n = call("GET", "/nodes", NULL, 200);
	ASSERT_INT_EQ(json_array_size(n), 2);
	json_decref(n);

	/* The versions of the manager before mean nothing now: a new
	 * epoch, and the full list. */
	{
		Orch__HeartbeatRequest hb = ORCH__HEARTBEAT_REQUEST__INIT;

		hb.node_id = node_a;
		hb.has_known_epoch = hb.has_known_version = true;
		hb.known_epoch = epoch_a;
		hb.known_version = version_a;
		hb.has_accepts_delta = hb.accepts_delta = true;
		ASSERT_INT_EQ(orch_rpc_call(rpc, "orch.Manager/Heartbeat",
		                  &hb.base, &orch__assignments__descriptor,
		                  (ProtobufCMessage **)&a, err, sizeof(err)),
		    ORCH_OK);
	}
	ASSERT_INT_EQ(a->heartbeat_ms, 1000);
	ASSERT(a->has_epoch && a->epoch != 0 && a->epoch != epoch_a);
	ASSERT(!(a->has_unchanged && a->unchanged));
	ASSERT(!is_delta(a));
	orch__assignments__free_unpacked(a, NULL);
	ASSERT(node_is(&w));
	/* Registering again is still the same node. */
	reg_node("node-a", 2, 2048, id);
	ASSERT_STR_EQ(id, node_a);
}

int
main(void)
{
	mgr_start(&m, (const char *const[]){"--heartbeat-ttl", "1", NULL});
	rpc = fa_req_open(m.rpc_url);
	sub_open();
	fa_beater_start(&beater, m.rpc_url, NULL);
	RUN(test_no_nodes);
	RUN(test_register);
	RUN(test_heartbeat);
	RUN(test_task_life);
	RUN(test_assign_versions);
	RUN(test_assign_delta);
	RUN(test_too_big_then_placed);
	RUN(test_down);
	RUN(test_orchctl);
	RUN(test_garbage);
	RUN(test_restart);
	nng_close(sub);
	nng_close(rpc);
	/* A clean stop exits 0; under ASan that also means no leak. */
	mgr_stop_clean(&m);
	mgr_destroy(&m);
	return 0;
}
