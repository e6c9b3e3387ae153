/*
 * e2e_cluster.c: cluster scheduling with the real orch-manager and fake
 * agents written here over NNG: constraints and their refusals, spread
 * and binpack, services (create, scale up and down, delete, the HTTP and
 * RPC forms, orchctl's verbs), failed replicas replaced with restarts
 * counted, on-failure:N stopping at N, a node that stops beating losing
 * its tasks to another node in one pass (and finding them gone from its
 * assignments when it comes back), drain and undrain, and a manager
 * restart that keeps the services and gives nodes their grace.
 *
 * The manager runs with --heartbeat-ttl 1.  A beater thread plays the
 * agents: for each node it beats, it reports Running every task it is
 * assigned and Stopped every one it is asked to stop, as orch-agent
 * would; a node "dies" when it leaves the beater.  Every wait is a poll
 * with a deadline; no timing is asserted.
 */
#include <jansson.h>
#include <nng/nng.h>
#include <poll.h>
#include <signal.h>

#include "clock.h"
#include "error.h"
#include "fake_agent.h"
#include "harness.h"
#include "http_json.h"
#include "manager_proc.h"
#include "orch.pb-c.h"
#include "rpc_client.h"
#include "task.h"

#define ST_SCHEDULED ORCH__TASK_STATUS__TASK_STATUS_SCHEDULED
#define ST_RUNNING ORCH__TASK_STATUS__TASK_STATUS_RUNNING
#define ST_FAILED ORCH__TASK_STATUS__TASK_STATUS_FAILED
#define ST_STOPPED ORCH__TASK_STATUS__TASK_STATUS_STOPPED
#define WAIT_MS 20000

static struct mgr m;
static nng_socket rpc; /* the test's own REQ socket */
static char node_a[ORCH_ID_LEN], node_b[ORCH_ID_LEN];

/* ---- HTTP ---- */

/* The manager's HTTP API (http_json.h), on this test's manager. */
static json_t *
call(const char *method, const char *path, const char *body, int want)
{
	return hj_call(m.http_port, method, path, body, want);
}

/* Submits a task from its JSON body; returns its id (malloc'd). */
static char *
submit(const char *body)
{
	return hj_submit(m.http_port, body);
}

/* The node a task is on (a copy, "" when none). */
static void
task_node(const char *id, char out[ORCH_ID_LEN])
{
	json_t *t = hj_task(m.http_port, id);
	const char *n = hj_str(t, "node_id");

	snprintf(out, ORCH_ID_LEN, "%s", n != NULL ? n : "");
	json_decref(t);
}

/* A task's status, and part of its error. */
struct task_want {
	const char *id;
	const char *status;
	const char *error; /* NULL: any */
};

static bool
task_is(void *arg)
{
	struct task_want *w = arg;
	json_t *t = hj_task(m.http_port, w->id);
	const char *err = hj_str(t, "error");
	bool ok = strcmp(hj_str(t, "status"), w->status) == 0 &&
	    (w->error == NULL ||
	        (err != NULL && strstr(err, w->error) != NULL));

	json_decref(t);
	return ok;
}

static void
wait_task(const char *id, const char *status, const char *error)
{
	struct task_want w = {id, status, error};

	if (!h_wait_until(task_is, &w, WAIT_MS)) {
		json_t *t = hj_task(m.http_port, id);
		char *s = json_dumps(t, JSON_COMPACT);

		h_fail(__FILE__, __LINE__, "task %s never became %s (%s): %s",
		    id, status, error != NULL ? error : "any error", s);
	}
}

/* ---- RPC ---- */

/* Registers a node with labels (k=v strings, NULL-terminated). */
static void
reg_node(const char *name, double cpu, int64_t mem, const char *const *labels,
    char id[ORCH_ID_LEN])
{
	Orch__NodeRegistration r = ORCH__NODE_REGISTRATION__INIT;
	Orch__NodeRegistration__LabelsEntry e[4], *ep[4];
	char kv[4][64];
	Orch__Node *n = NULL;
	char err[512];
	int rc;

	for (r.n_labels = 0; labels != NULL && labels[r.n_labels] != NULL;
	     r.n_labels++) {
		size_t i = r.n_labels;
		char *eq;

		ASSERT(i < 4);
		snprintf(kv[i], sizeof(kv[i]), "%s", labels[i]);
		eq = strchr(kv[i], '=');
		ASSERT(eq != NULL);
		*eq = '\0';
		orch__node_registration__labels_entry__init(&e[i]);
		e[i].key = kv[i];
		e[i].value = eq + 1;
		ep[i] = &e[i];
	}
	r.labels = ep;
	r.name = (char *)name;
	r.has_cpu = true;
	r.cpu = cpu;
	r.has_memory_mb = true;
	r.memory_mb = mem;
	rc = fa_node_register(rpc, &r, &n, err, sizeof(err));
	if (rc != ORCH_OK)
		h_fail(__FILE__, __LINE__, "RegisterNode %s: %d %s", name, rc,
		    err);
	memcpy(id, n->id, ORCH_ID_LEN);
	orch__node__free_unpacked(n, NULL);
}

/* A status report as the fake agents send it: a container for Running,
 * an exit code and its error for Failed. */
static int
report_on(nng_socket s, const char *task, const char *node, int status,
    int exit_code, char *err, size_t errlen)
{
	struct fa_report r = {.task = task, .node = node, .status = status};

	if (status == ST_RUNNING)
		r.container_id = "c0ffee";
	if (status == ST_FAILED) {
		r.has_exit_code = true;
		r.exit_code = exit_code;
		r.error = "exited with code 1";
	}
	return fa_task_report(s, &r, err, errlen);
}

static void
report_ok(const char *task, int status)
{
	char node[ORCH_ID_LEN], err[512];
	int rc;

	task_node(task, node);
	rc = report_on(rpc, task, node, status, 1, err, sizeof(err));
	if (rc != ORCH_OK)
		h_fail(
		    __FILE__, __LINE__, "report on %s: %d %s", task, rc, err);
}

/* Whether task id is in node's assignments (with stop_requested in
 * *stop when stop is not NULL). */
static bool
assigned(const char *node, const char *id, bool *stop)
{
	Orch__Assignments *a = NULL;
	char err[512];
	bool found = false;

	ASSERT_INT_EQ(fa_heartbeat(rpc, node, &a, err, sizeof(err)), ORCH_OK);
	for (size_t i = 0; i < a->n_tasks; i++) {
		if (strcmp(a->tasks[i]->id, id) == 0) {
			found = true;
			if (stop != NULL)
				*stop = a->tasks[i]->stop_requested;
		}
	}
	orch__assignments__free_unpacked(a, NULL);
	return found;
}

/* ---- the beater: the agents ---- */

static struct fa_beater beater;

/* What an agent does with its assignments: runs what it is given, stops
 * what it is asked to stop.  Refusals (a task replaced meanwhile) are
 * what a real agent meets too, and ignored. */
static void
agent_act(nng_socket s, const char *node, const Orch__Assignments *a)
{
	char err[256];

	for (size_t i = 0; i < a->n_tasks; i++) {
		const Orch__Task *t = a->tasks[i];

		if (t->stop_requested)
			report_on(
			    s, t->id, node, ST_STOPPED, 0, err, sizeof(err));
		else if (t->status == ST_SCHEDULED)
			report_on(
			    s, t->id, node, ST_RUNNING, 0, err, sizeof(err));
	}
}

/* ---- orchctl ---- */

static int
ctl(char **out, char **err, const char *const *args)
{
	return h_orchctl(m.addr, out, err, args);
}

#define CTL(out, err, ...)                                                     \
	ctl((out), (err), (const char *const[]){__VA_ARGS__, NULL})

/* ---- waiting on services ---- */

/* The tasks of service name that are live: Scheduled or Running with no
 * stop requested; on_a counts those on node-a. */
struct svc_count {
	size_t all, live, running, on_a, on_b;
};

static struct svc_count
svc_count(const char *name)
{
	json_t *s = hj_service(m.http_port, name), *t;
	struct svc_count c = {0};
	size_t i;

	json_array_foreach(json_object_get(s, "tasks"), i, t)
	{
		const char *st = hj_str(t, "status"), *n = hj_str(t, "node_id");

		c.all++;
		if (json_is_true(json_object_get(t, "stop_requested")))
			continue;
		if (strcmp(st, "Scheduled") != 0 && strcmp(st, "Running") != 0)
			continue;
		c.live++;
		c.running += strcmp(st, "Running") == 0;
		c.on_a += n != NULL && strcmp(n, node_a) == 0;
		c.on_b += n != NULL && strcmp(n, node_b) == 0;
	}
	json_decref(s);
	return c;
}

struct svc_want {
	const char *name;
	size_t running; /* Running, no stop requested, as the API counts */
};

static bool
svc_running(void *arg)
{
	struct svc_want *w = arg;
	json_t *s = hj_service(m.http_port, w->name);
	bool ok = (size_t)hj_int(s, "running") == w->running &&
	    svc_count(w->name).live == w->running;

	json_decref(s);
	return ok;
}

static void
wait_running(const char *name, size_t n)
{
	struct svc_want w = {name, n};

	if (!h_wait_until(svc_running, &w, WAIT_MS)) {
		json_t *s = hj_service(m.http_port, name);
		char *d = json_dumps(s, JSON_COMPACT);

		h_fail(__FILE__, __LINE__,
		    "service %s never had %zu running: %s", name, n, d);
	}
}

/* A scheduling pass has run since now: a task submitted now is placed.
 * What the pass was to decide about earlier writes is decided by then. */
static void
pass_done(void)
{
	char *id = submit("{\"name\":\"probe\",\"image\":\"busybox:1\","
	                  "\"cpu\":0.01,\"memory\":6}");
	char path[128];

	wait_task(id, "Running", NULL);
	snprintf(path, sizeof(path), "/tasks/%s", id);
	json_decref(call("DELETE", path, NULL, 200));
	wait_task(id, "Stopped", NULL);
	free(id);
}

/* ---- tests ---- */

static void
test_nodes_join(void)
{
	const char *la[] = {"zone=a", "disk=ssd", NULL};
	const char *lb[] = {"zone=b", "disk=hdd", NULL};
	json_t *j;

	reg_node("node-a", 8, 8192, la, node_a);
	reg_node("node-b", 8, 8192, lb, node_b);
	fa_beater_add(&beater, node_a);
	fa_beater_add(&beater, node_b);
	j = call("GET", "/nodes/node-b", NULL, 200);
	ASSERT(json_is_false(json_object_get(j, "drain")));
	ASSERT_STR_EQ(hj_str(json_object_get(j, "labels"), "disk"), "hdd");
	json_decref(j);
}

static void
test_constraints(void)
{
	char node[ORCH_ID_LEN], *t, *out = NULL, *err = NULL, path[128];
	json_t *j;

	t = submit("{\"name\":\"in-b\",\"image\":\"busybox:1\","
	           "\"constraints\":[\"zone==b\"]}");
	wait_task(t, "Running", NULL);
	task_node(t, node);
	ASSERT_STR_EQ(node, node_b);
	j = hj_task(m.http_port, t);
	ASSERT_STR_EQ(json_string_value(
	                  json_array_get(json_object_get(j, "constraints"), 0)),
	    "zone==b");
	ASSERT_STR_EQ(hj_str(j, "placement"), "spread");
	ASSERT_STR_EQ(hj_str(j, "restart"), "never");
	ASSERT_INT_EQ(hj_int(j, "restarts"), 0);
	ASSERT(json_is_null(json_object_get(j, "service")));
	json_decref(j);
	free(t);
	t = submit("{\"name\":\"ssd\",\"image\":\"busybox:1\","
	           "\"constraints\":[\"disk!=hdd\"]}");
	wait_task(t, "Running", NULL);
	task_node(t, node);
	ASSERT_STR_EQ(node, node_a);
	free(t);
	t = submit("{\"name\":\"pinned\",\"image\":\"busybox:1\","
	           "\"constraints\":[\"node.name==node-b\", \"zone != a\"]}");
	wait_task(t, "Running", NULL);
	task_node(t, node);
	ASSERT_STR_EQ(node, node_b);
	free(t);

	/* Malformed: 400, naming it; nothing is stored. */
	j = call("POST", "/tasks",
	    "{\"name\":\"x\",\"image\":\"busybox:1\","
	    "\"constraints\":[\"zone==a\",\"zone=b\"]}",
	    400);
	ASSERT_STR_CONTAINS(hj_str(j, "error"), "field \"constraints\"");
	ASSERT_STR_CONTAINS(
	    hj_str(j, "error"), "malformed constraint \"zone=b\"");
	json_decref(j);
	j = call("POST", "/tasks",
	    "{\"name\":\"x\",\"image\":\"busybox:1\","
	    "\"constraints\":\"zone==a\"}",
	    400);
	ASSERT_STR_CONTAINS(hj_str(j, "error"), "constraints");
	json_decref(j);
	j = call("POST", "/tasks",
	    "{\"name\":\"x\",\"image\":\"busybox:1\","
	    "\"placement\":\"tight\"}",
	    400);
	ASSERT_STR_CONTAINS(hj_str(j, "error"), "field \"placement\"");
	json_decref(j);
	j = call("POST", "/tasks",
	    "{\"name\":\"x\",\"image\":\"busybox:1\","
	    "\"restart\":\"on-failure:0\"}",
	    400);
	ASSERT_STR_CONTAINS(hj_str(j, "error"), "field \"restart\"");
	json_decref(j);
	/* A replica's service is the manager's to set. */
	j = call("POST", "/tasks",
	    "{\"name\":\"x\",\"image\":\"busybox:1\","
	    "\"service\":\"web\"}",
	    400);
	ASSERT_STR_CONTAINS(hj_str(j, "error"), "\"service\"");
	json_decref(j);
	j = call("GET", "/tasks?status=Pending", NULL, 200);
	ASSERT_INT_EQ(json_array_size(j), 0);
	json_decref(j);

	/* Satisfied nowhere: Pending, saying so, until a node matches. */
	t = submit("{\"name\":\"in-c\",\"image\":\"busybox:1\","
	           "\"constraints\":[\"zone==c\"]}");
	wait_task(
	    t, "Pending", "no Ready node satisfies the constraints zone==c");
	snprintf(path, sizeof(path), "/tasks/%s", t);
	json_decref(call("DELETE", path, NULL, 200));
	free(t);

	/* orchctl passes them through, and shows the refusal. */
	ASSERT_INT_EQ(CTL(&out, &err, "run", "bad", "busybox:1", "--constraint",
	                  "zone=b"),
	    1);
	ASSERT_STR_CONTAINS(err, "malformed constraint \"zone=b\"");
	free(out);
	free(err);
	ASSERT_INT_EQ(
	    CTL(&out, &err, "run", "ctl-in-a", "busybox:1", "--constraint",
	        "zone==a", "--constraint", "disk==ssd", "--restart",
	        "on-failure:3", "--placement", "binpack"),
	    0);
	free(out);
	free(err);
	ASSERT_INT_EQ(CTL(&out, &err, "get", "ctl-in-a", "-o", "json"), 0);
	j = hj_parse(out);
	ASSERT_STR_EQ(hj_str(j, "restart"), "on-failure:3");
	ASSERT_STR_EQ(hj_str(j, "placement"), "binpack");
	ASSERT_INT_EQ(json_array_size(json_object_get(j, "constraints")), 2);
	t = strdup(hj_str(j, "id"));
	json_decref(j);
	free(out);
	free(err);
	wait_task(t, "Running", NULL);
	task_node(t, node);
	ASSERT_STR_EQ(node, node_a);
	free(t);
}

/* Stops every live task (the beater reports them Stopped). */
static bool
none_live(void *arg)
{
	json_t *l = call("GET", "/tasks", NULL, 200), *t;
	size_t i;
	bool none = true;

	(void)arg;
	json_array_foreach(l, i, t)
	{
		const char *st = hj_str(t, "status");

		if (strcmp(st, "Running") == 0 ||
		    strcmp(st, "Scheduled") == 0 || strcmp(st, "Pending") == 0)
			none = false;
	}
	json_decref(l);
	return none;
}

static void
stop_all(void)
{
	json_t *l = call("GET", "/tasks", NULL, 200), *t;
	size_t i;
	char path[128];

	json_array_foreach(l, i, t)
	{
		const char *st = hj_str(t, "status");

		if (hj_str(t, "service") != NULL)
			continue;
		if (strcmp(st, "Running") == 0 ||
		    strcmp(st, "Scheduled") == 0 ||
		    strcmp(st, "Pending") == 0) {
			snprintf(
			    path, sizeof(path), "/tasks/%s", hj_str(t, "id"));
			json_decref(call("DELETE", path, NULL, 200));
		}
	}
	json_decref(l);
	ASSERT(h_wait_until(none_live, NULL, WAIT_MS));
}

static void
test_spread_and_binpack(void)
{
	char *t[4], n[4][ORCH_ID_LEN];

	stop_all();
	/* spread: one on each node (equal, so a first by name). */
	for (int i = 0; i < 2; i++) {
		t[i] = submit("{\"name\":\"s\",\"image\":\"busybox:1\","
		              "\"cpu\":1,\"memory\":1024}");
		wait_task(t[i], "Running", NULL);
		task_node(t[i], n[i]);
	}
	ASSERT_STR_EQ(n[0], node_a);
	ASSERT_STR_EQ(n[1], node_b);
	/* binpack: both on the fuller node... which is a tie again; then
	 * the first one's node is fuller, and takes the second. */
	for (int i = 2; i < 4; i++) {
		t[i] = submit("{\"name\":\"p\",\"image\":\"busybox:1\","
		              "\"cpu\":1,\"memory\":1024,"
		              "\"placement\":\"binpack\"}");
		wait_task(t[i], "Running", NULL);
		task_node(t[i], n[i]);
	}
	ASSERT_STR_EQ(n[2], n[3]);
	for (int i = 0; i < 4; i++)
		free(t[i]);
	stop_all();
}

static void
test_service_api(void)
{
	struct svc_count c;
	json_t *s, *l, *t;
	char *first, path[128];
	size_t i;

	s = call("POST", "/services",
	    "{\"name\":\"web\",\"image\":\"busybox:1\","
	    "\"replicas\":3,\"cpu\":0.5,\"memory\":128,"
	    "\"env\":{\"K\":\"v\"},"
	    "\"command\":[\"sleep\",\"9\"]}",
	    201);
	ASSERT_STR_EQ(hj_str(s, "name"), "web");
	ASSERT(orch_id_valid(hj_str(s, "id")));
	ASSERT_INT_EQ(hj_int(s, "replicas"), 3);
	ASSERT_STR_EQ(hj_str(s, "restart"), "always");
	ASSERT_STR_EQ(hj_str(s, "placement"), "spread");
	ASSERT_INT_EQ(hj_int(s, "memory"), 128);
	json_decref(s);
	/* Three replicas, spread over the two nodes, all run. */
	wait_running("web", 3);
	c = svc_count("web");
	ASSERT(c.on_a >= 1 && c.on_b >= 1);
	s = hj_service(m.http_port, "web");
	t = json_array_get(json_object_get(s, "tasks"), 0);
	ASSERT_STR_EQ(hj_str(t, "service"), "web");
	ASSERT_STR_EQ(hj_str(t, "name"), "web.1");
	ASSERT_STR_EQ(hj_str(t, "restart"), "always");
	ASSERT_STR_EQ(hj_str(json_object_get(t, "env"), "K"), "v");
	first = strdup(hj_str(t, "id"));
	json_decref(s);
	l = call("GET", "/services", NULL, 200);
	ASSERT_INT_EQ(json_array_size(l), 1);
	ASSERT_INT_EQ(hj_int(json_array_get(l, 0), "running"), 3);
	ASSERT(json_object_get(json_array_get(l, 0), "tasks") == NULL);
	json_decref(l);

	/* Up to 5, then down to 2: the extra ones are asked to stop and
	 * their nodes stop them; the first ones keep running. */
	s = call("PUT", "/services/web", "{\"replicas\":5}", 200);
	ASSERT_INT_EQ(hj_int(s, "replicas"), 5);
	json_decref(s);
	wait_running("web", 5);
	s = call("PUT", "/services/web", "{\"replicas\":2}", 200);
	json_decref(s);
	wait_running("web", 2);
	s = hj_service(m.http_port, "web");
	json_array_foreach(json_object_get(s, "tasks"), i, t)
	{
		const char *name = hj_str(t, "name");

		if (strcmp(name, "web.1") == 0 || strcmp(name, "web.2") == 0)
			ASSERT_STR_EQ(hj_str(t, "status"), "Running");
		else
			ASSERT_STR_EQ(hj_str(t, "status"), "Stopped");
	}
	json_decref(s);
	s = hj_task(m.http_port, first);
	ASSERT_STR_EQ(hj_str(s, "status"), "Running");
	json_decref(s);

	/* Refusals name what is wrong. */
	s = call("POST", "/services", "{\"image\":\"busybox:1\"}", 400);
	ASSERT_STR_CONTAINS(hj_str(s, "error"), "field \"name\"");
	json_decref(s);
	s = call(
	    "POST", "/services", "{\"name\":\"we b\",\"image\":\"x\"}", 400);
	ASSERT_STR_CONTAINS(hj_str(s, "error"), "field \"name\"");
	json_decref(s);
	s = call("POST", "/services",
	    "{\"name\":\"w\",\"image\":\"x\","
	    "\"replicas\":-1}",
	    400);
	ASSERT_STR_CONTAINS(hj_str(s, "error"), "field \"replicas\"");
	json_decref(s);
	s = call("POST", "/services",
	    "{\"name\":\"w\",\"image\":\"x\","
	    "\"constraints\":[\"a=b\"]}",
	    400);
	ASSERT_STR_CONTAINS(hj_str(s, "error"), "malformed constraint \"a=b\"");
	json_decref(s);
	s = call("POST", "/services",
	    "{\"name\":\"w\",\"image\":\"x\","
	    "\"colour\":1}",
	    400);
	ASSERT_STR_CONTAINS(hj_str(s, "error"), "unknown field \"colour\"");
	json_decref(s);
	s = call(
	    "POST", "/services", "{\"name\":\"web\",\"image\":\"x\"}", 409);
	json_decref(s);
	s = call("PUT", "/services/web", "{\"replicas\":\"2\"}", 400);
	json_decref(s);
	s = call("PUT", "/services/web", "{}", 400);
	json_decref(s);
	s = call("PUT", "/services/nope", "{\"replicas\":1}", 404);
	json_decref(s);
	s = call("GET", "/services/nope", NULL, 404);
	json_decref(s);
	s = call("PATCH", "/services/web", NULL, 405);
	json_decref(s);

	/* Deleted: its tasks go, and their nodes no longer have them. */
	s = call("DELETE", "/services/web", NULL, 200);
	ASSERT_INT_EQ(hj_int(s, "running"), 0);
	ASSERT_INT_EQ(json_array_size(json_object_get(s, "tasks")), 5);
	json_decref(s);
	json_decref(call("GET", "/services/web", NULL, 404));
	snprintf(path, sizeof(path), "/tasks/%s", first);
	json_decref(call("GET", path, NULL, 404));
	ASSERT(!assigned(node_a, first, NULL));
	ASSERT(!assigned(node_b, first, NULL));
	json_decref(call("DELETE", "/services/web", NULL, 404));
	free(first);
}

/* The task of service name in slot whose replaces is prev ("" for the
 * first), or NULL; a new reference. */
static json_t *
attempt_of(const char *name, const char *prev)
{
	json_t *s = hj_service(m.http_port, name), *t, *found = NULL;
	size_t i;

	json_array_foreach(json_object_get(s, "tasks"), i, t)
	{
		const char *r = hj_str(t, "replaces");

		if ((prev[0] == '\0' && r == NULL) ||
		    (r != NULL && strcmp(r, prev) == 0))
			found = json_incref(t);
	}
	json_decref(s);
	return found;
}

struct attempt_want {
	const char *name;
	const char *prev;
	const char *status;
};

static bool
attempt_is(void *arg)
{
	struct attempt_want *w = arg;
	json_t *t = attempt_of(w->name, w->prev);
	bool ok = t != NULL && strcmp(hj_str(t, "status"), w->status) == 0;

	json_decref(t);
	return ok;
}

/* Waits for the attempt replacing prev to have status; returns its id. */
static char *
wait_attempt(const char *name, const char *prev, const char *status)
{
	struct attempt_want w = {name, prev, status};
	json_t *t;
	char *id;

	if (!h_wait_until(attempt_is, &w, WAIT_MS)) {
		json_t *s = hj_service(m.http_port, name);

		h_fail(__FILE__, __LINE__, "no %s attempt of %s after %s: %s",
		    status, name, prev, json_dumps(s, JSON_COMPACT));
	}
	t = attempt_of(name, prev);
	id = strdup(hj_str(t, "id"));
	json_decref(t);
	return id;
}

/* A replica that fails is replaced by a new task, restarts counted, the
 * two linked; the backoff doubles (not timed here). */
static void
test_replica_restarts(void)
{
	char *t0, *t1, *t2;
	json_t *j;

	json_decref(call("POST", "/services",
	    "{\"name\":\"flaky\",\"image\":\"busybox:1\",\"replicas\":1}",
	    201));
	t0 = wait_attempt("flaky", "", "Running");
	report_ok(t0, ST_FAILED);
	t1 = wait_attempt("flaky", t0, "Running");
	j = hj_task(m.http_port, t1);
	ASSERT_INT_EQ(hj_int(j, "restarts"), 1);
	ASSERT_STR_EQ(hj_str(j, "replaces"), t0);
	ASSERT_STR_EQ(hj_str(j, "name"), "flaky.1");
	ASSERT(json_is_string(json_object_get(j, "not_before")));
	json_decref(j);
	j = hj_task(m.http_port, t0);
	ASSERT_STR_EQ(hj_str(j, "status"), "Failed");
	ASSERT_STR_EQ(hj_str(j, "replaced_by"), t1);
	json_decref(j);
	/* A report about the replaced attempt changes nothing. */
	{
		char err[512], node[ORCH_ID_LEN];

		task_node(t0, node);
		ASSERT_INT_EQ(
		    report_on(rpc, t0, node, ST_RUNNING, 0, err, sizeof(err)),
		    ORCH_ECONFLICT);
	}
	/* Completed counts too, under always. */
	report_ok(t1, ORCH__TASK_STATUS__TASK_STATUS_COMPLETED);
	t2 = wait_attempt("flaky", t1, "Running");
	j = hj_task(m.http_port, t2);
	ASSERT_INT_EQ(hj_int(j, "restarts"), 2);
	json_decref(j);
	wait_running("flaky", 1);
	json_decref(call("DELETE", "/services/flaky", NULL, 200));
	free(t0);
	free(t1);
	free(t2);
}

static bool
replaced(void *arg)
{
	json_t *j = hj_task(m.http_port, arg);
	bool ok = hj_str(j, "replaced_by") != NULL;

	json_decref(j);
	return ok;
}

/* A plain task with on-failure:2 restarts twice, and the third attempt
 * stays Failed with restarts 2. */
static void
test_on_failure_2(void)
{
	char *t[3], *out = NULL, *err = NULL;
	json_t *j, *l, *v;
	size_t i, n = 0;

	t[0] = submit("{\"name\":\"twice\",\"image\":\"busybox:1\","
	              "\"restart\":\"on-failure:2\"}");
	for (int k = 0; k < 3; k++) {
		wait_task(t[k], "Running", NULL);
		report_ok(t[k], ST_FAILED);
		if (k == 2)
			break;
		/* Its replacement: the task it points to. */
		ASSERT(h_wait_until(replaced, t[k], WAIT_MS));
		j = hj_task(m.http_port, t[k]);
		t[k + 1] = strdup(hj_str(j, "replaced_by"));
		json_decref(j);
		j = hj_task(m.http_port, t[k + 1]);
		ASSERT_INT_EQ(hj_int(j, "restarts"), k + 1);
		ASSERT_STR_EQ(hj_str(j, "replaces"), t[k]);
		ASSERT_STR_EQ(hj_str(j, "restart"), "on-failure:2");
		json_decref(j);
	}
	/* After a pass that saw the last failure: no fourth attempt. */
	pass_done();
	j = hj_task(m.http_port, t[2]);
	ASSERT_STR_EQ(hj_str(j, "status"), "Failed");
	ASSERT_INT_EQ(hj_int(j, "restarts"), 2);
	ASSERT(json_is_null(json_object_get(j, "replaced_by")));
	json_decref(j);
	l = call("GET", "/tasks", NULL, 200);
	json_array_foreach(l, i, v)
	{
		n += strcmp(hj_str(v, "name"), "twice") == 0;
	}
	ASSERT_INT_EQ(n, 3);
	json_decref(l);
	/* orchctl get by name shows the last attempt. */
	ASSERT_INT_EQ(CTL(&out, &err, "get", "twice", "-o", "json"), 0);
	j = hj_parse(out);
	ASSERT_STR_EQ(hj_str(j, "id"), t[2]);
	json_decref(j);
	free(out);
	free(err);
	for (int k = 0; k < 3; k++)
		free(t[k]);
}

struct lost_want {
	const char *id;
	bool replaced;     /* wait for its replacement too */
	char *replacement; /* OUT: its replaced_by */
};

static bool
is_lost(void *arg)
{
	struct lost_want *w = arg;
	json_t *t = hj_task(m.http_port, w->id);
	const char *err = hj_str(t, "error"), *by = hj_str(t, "replaced_by");
	bool ok = strcmp(hj_str(t, "status"), "Failed") == 0 && err != NULL &&
	    strcmp(err, "node node-b lost") == 0 &&
	    (!w->replaced || by != NULL);

	if (ok && by != NULL && w->replacement == NULL)
		w->replacement = strdup(by);
	json_decref(t);
	return ok;
}

/* A node that stops beating is Down after the TTL: its tasks are lost
 * and, where asked, placed again on the other node in the same pass;
 * when it beats again its assignments no longer have them, and its
 * reports about them are refused. */
static void
test_node_lost(void)
{
	char *plain_never, *plain_restart, on_b[ORCH_ID_LEN] = "",
	                                   node[ORCH_ID_LEN];
	struct lost_want lr = {NULL, true, NULL}, ln = {NULL, false, NULL};
	struct lost_want lp = {NULL, true, NULL};
	struct svc_count c;
	json_t *s, *t;
	size_t i;
	char err[512];

	json_decref(call("POST", "/services",
	    "{\"name\":\"ha\",\"image\":\"busybox:1\",\"replicas\":2}", 201));
	wait_running("ha", 2);
	c = svc_count("ha");
	ASSERT_INT_EQ(c.on_a, 1);
	ASSERT_INT_EQ(c.on_b, 1);
	s = hj_service(m.http_port, "ha");
	json_array_foreach(json_object_get(s, "tasks"), i, t)
	{
		if (hj_str(t, "node_id") != NULL &&
		    strcmp(hj_str(t, "node_id"), node_b) == 0)
			snprintf(on_b, sizeof(on_b), "%s", hj_str(t, "id"));
	}
	json_decref(s);
	ASSERT(on_b[0] != '\0');
	plain_never = submit("{\"name\":\"stays\",\"image\":\"busybox:1\","
	                     "\"constraints\":[\"zone==b\"]}");
	plain_restart = submit("{\"name\":\"moves\",\"image\":\"busybox:1\","
	                       "\"constraints\":[\"disk!=nvme\"],"
	                       "\"restart\":\"on-failure\","
	                       "\"placement\":\"binpack\"}");
	wait_task(plain_never, "Running", NULL);
	wait_task(plain_restart, "Running", NULL);
	task_node(plain_restart, node);
	if (strcmp(node, node_b) != 0) {
		/* binpack chose node-a: it does not test the move. */
		h_fail(__FILE__, __LINE__, "moves is on node-a");
	}

	/* node-b dies. */
	fa_beater_remove(&beater, node_b);
	lr.id = on_b;
	ASSERT(h_wait_until(is_lost, &lr, WAIT_MS));
	ln.id = plain_never;
	ASSERT(h_wait_until(is_lost, &ln, WAIT_MS));
	lp.id = plain_restart;
	ASSERT(h_wait_until(is_lost, &lp, WAIT_MS));
	ASSERT(lr.replacement != NULL && lp.replacement != NULL);
	/* The replacements run on node-a, at once (no backoff when lost). */
	wait_task(lr.replacement, "Running", NULL);
	task_node(lr.replacement, node);
	ASSERT_STR_EQ(node, node_a);
	wait_task(lp.replacement, "Running", NULL);
	task_node(lp.replacement, node);
	ASSERT_STR_EQ(node, node_a);
	t = hj_task(m.http_port, lp.replacement);
	ASSERT_INT_EQ(hj_int(t, "restarts"), 1);
	json_decref(t);
	wait_running("ha", 2);
	c = svc_count("ha");
	ASSERT_INT_EQ(c.on_a, 2);
	/* The plain task that never restarts stays Failed. */
	pass_done();
	t = hj_task(m.http_port, plain_never);
	ASSERT(json_is_null(json_object_get(t, "replaced_by")));
	json_decref(t);

	/* node-b comes back: what was replaced is not in its assignments,
	 * so its agent removes it now; its reports about them are refused. */
	ASSERT(!assigned(node_b, on_b, NULL));
	ASSERT(!assigned(node_b, plain_restart, NULL));
	ASSERT(!assigned(node_b, plain_never, NULL));
	ASSERT_INT_EQ(
	    report_on(rpc, on_b, node_b, ST_RUNNING, 0, err, sizeof(err)),
	    ORCH_ECONFLICT);
	ASSERT_INT_EQ(report_on(rpc, lr.replacement, node_b, ST_RUNNING, 0, err,
	                  sizeof(err)),
	    ORCH_ECONFLICT);
	ASSERT_STR_CONTAINS(err, node_a);
	fa_beater_add(&beater, node_b);
	{
		json_t *n = call("GET", "/nodes/node-b", NULL, 200);

		ASSERT_STR_EQ(hj_str(n, "status"), "Ready");
		json_decref(n);
	}
	/* The service stays as it is: two running, both on node-a. */
	pass_done();
	c = svc_count("ha");
	ASSERT_INT_EQ(c.live, 2);
	json_decref(call("DELETE", "/services/ha", NULL, 200));
	free(lr.replacement);
	free(lp.replacement);
	free(plain_never);
	free(plain_restart);
}

struct stop_want {
	const char *node;
	const char *id;
};

static bool
gone_from(void *arg)
{
	struct stop_want *w = arg;

	return !assigned(w->node, w->id, NULL);
}

static void
test_drain(void)
{
	char on_b[ORCH_ID_LEN] = "", node[ORCH_ID_LEN], *plain, *fresh;
	char *out = NULL, *err = NULL;
	struct stop_want sw;
	struct svc_count c;
	json_t *s, *t, *l, *v;
	size_t i;
	bool stop = true, seen = false;

	stop_all();
	json_decref(call("POST", "/services",
	    "{\"name\":\"dr\",\"image\":\"busybox:1\",\"replicas\":2}", 201));
	wait_running("dr", 2);
	s = hj_service(m.http_port, "dr");
	json_array_foreach(json_object_get(s, "tasks"), i, t)
	{
		if (strcmp(hj_str(t, "node_id"), node_b) == 0)
			snprintf(on_b, sizeof(on_b), "%s", hj_str(t, "id"));
	}
	json_decref(s);
	ASSERT(on_b[0] != '\0');
	plain = submit("{\"name\":\"keep\",\"image\":\"busybox:1\","
	               "\"constraints\":[\"node.name==node-b\"]}");
	wait_task(plain, "Running", NULL);

	/* Drained: shown, and the replica moves to node-a. */
	t = call("PUT", "/nodes/node-b/drain", "{\"drain\":true}", 200);
	ASSERT(json_is_true(json_object_get(t, "drain")));
	ASSERT_STR_EQ(hj_str(t, "name"), "node-b");
	json_decref(t);
	l = call("GET", "/nodes", NULL, 200);
	json_array_foreach(l, i, v)
	{
		if (strcmp(hj_str(v, "name"), "node-b") == 0) {
			ASSERT(json_is_true(json_object_get(v, "drain")));
			seen = true;
		} else {
			ASSERT(json_is_false(json_object_get(v, "drain")));
		}
	}
	ASSERT(seen);
	json_decref(l);
	sw = (struct stop_want){node_b, on_b};
	ASSERT(h_wait_until(gone_from, &sw, WAIT_MS));
	wait_task(on_b, "Stopped", NULL);
	wait_running("dr", 2);
	c = svc_count("dr");
	ASSERT_INT_EQ(c.on_a, 2);
	t = hj_task(m.http_port, on_b);
	ASSERT(hj_str(t, "replaced_by") != NULL);
	json_decref(t);
	/* The plain task keeps running there, not asked to stop. */
	ASSERT(assigned(node_b, plain, &stop));
	ASSERT(!stop);
	wait_task(plain, "Running", NULL);
	/* Nothing new goes there, even what only it could take. */
	fresh = submit("{\"name\":\"only-b\",\"image\":\"busybox:1\","
	               "\"constraints\":[\"zone==b\"]}");
	wait_task(fresh, "Pending",
	    "no Ready node satisfying the constraints "
	    "takes new tasks: 1 drained");
	/* orchctl shows it, and undrains: the waiting task goes there. */
	ASSERT_INT_EQ(CTL(&out, &err, "nodes"), 0);
	ASSERT_STR_CONTAINS(out, "AVAILABILITY");
	ASSERT_STR_CONTAINS(out, "drain");
	free(out);
	free(err);
	ASSERT_INT_EQ(CTL(&out, &err, "node", "undrain", "node-b"), 0);
	ASSERT_STR_CONTAINS(out, "undrained");
	free(out);
	free(err);
	wait_task(fresh, "Running", NULL);
	task_node(fresh, node);
	ASSERT_STR_EQ(node, node_b);
	t = call("GET", "/nodes/node-b", NULL, 200);
	ASSERT(json_is_false(json_object_get(t, "drain")));
	json_decref(t);
	/* Drained through orchctl too, by id; errors. */
	ASSERT_INT_EQ(CTL(&out, &err, "node", "drain", node_b), 0);
	ASSERT_STR_CONTAINS(out, "drained");
	free(out);
	free(err);
	t = call("GET", "/nodes/node-b", NULL, 200);
	ASSERT(json_is_true(json_object_get(t, "drain")));
	json_decref(t);
	ASSERT_INT_EQ(CTL(&out, &err, "node", "undrain", "node-b"), 0);
	free(out);
	free(err);
	ASSERT_INT_EQ(CTL(&out, &err, "node", "drain", "ghost"), 1);
	ASSERT_STR_CONTAINS(err, "ghost");
	free(out);
	free(err);
	json_decref(call("PUT", "/nodes/ghost/drain", "{\"drain\":true}", 404));
	json_decref(call("PUT", "/nodes/node-b/drain", "{\"drain\":1}", 400));
	json_decref(call("PUT", "/nodes/node-b/drain", "{}", 400));
	json_decref(call("DELETE", "/services/dr", NULL, 200));
	free(plain);
	free(fresh);
	stop_all();
}

static void
test_orchctl_services(void)
{
	char *out = NULL, *err = NULL;
	json_t *s;

	ASSERT_INT_EQ(CTL(&out, &err, "service", "ls"), 0);
	ASSERT_STR_CONTAINS(out, "No services.");
	free(out);
	free(err);
	ASSERT_INT_EQ(CTL(&out, &err, "service", "create", "web2", "busybox:1",
	                  "--replicas", "2", "--memory", "64", "-e", "A=1",
	                  "--", "sleep", "60"),
	    0);
	ASSERT_STR_CONTAINS(out, "Service 'web2' created.");
	free(out);
	free(err);
	wait_running("web2", 2);
	ASSERT_INT_EQ(CTL(&out, &err, "service", "ls"), 0);
	ASSERT_STR_CONTAINS(out, "REPLICAS");
	ASSERT_STR_CONTAINS(out, "web2");
	ASSERT_STR_CONTAINS(out, "2/2");
	ASSERT_STR_CONTAINS(out, "always");
	free(out);
	free(err);
	ASSERT_INT_EQ(CTL(&out, &err, "scale", "web2", "3"), 0);
	ASSERT_STR_CONTAINS(out, "scaled to 3 replicas");
	free(out);
	free(err);
	wait_running("web2", 3);
	ASSERT_INT_EQ(CTL(&out, &err, "service", "get", "web2"), 0);
	ASSERT_STR_CONTAINS(out, "replicas: 3");
	ASSERT_STR_CONTAINS(out, "web2.3");
	free(out);
	free(err);
	/* run --replicas makes a service too. */
	ASSERT_INT_EQ(CTL(&out, &err, "run", "r1", "busybox:1", "--replicas",
	                  "1", "--restart", "on-failure:5"),
	    0);
	free(out);
	free(err);
	s = hj_service(m.http_port, "r1");
	ASSERT_INT_EQ(hj_int(s, "replicas"), 1);
	ASSERT_STR_EQ(hj_str(s, "restart"), "on-failure:5");
	json_decref(s);
	ASSERT_INT_EQ(CTL(&out, &err, "service", "rm", "r1"), 0);
	free(out);
	free(err);
	ASSERT_INT_EQ(CTL(&out, &err, "service", "rm", "web2"), 0);
	ASSERT_STR_CONTAINS(out, "removed");
	free(out);
	free(err);
	json_decref(call("GET", "/services/web2", NULL, 404));
	/* Refusals and usage errors. */
	ASSERT_INT_EQ(CTL(&out, &err, "scale", "web2", "3"), 1);
	ASSERT_STR_CONTAINS(err, "web2");
	free(out);
	free(err);
	ASSERT_INT_EQ(CTL(&out, &err, "scale", "web2", "-3"), 2);
	free(out);
	free(err);
	ASSERT_INT_EQ(CTL(&out, &err, "service", "create", "bad name", "x"), 1);
	ASSERT_STR_CONTAINS(err, "name");
	free(out);
	free(err);
	ASSERT_INT_EQ(CTL(&out, &err, "service", "frob"), 2);
	free(out);
	free(err);
	ASSERT_INT_EQ(
	    CTL(&out, &err, "run", "x", "y", "--replicas", "many"), 2);
	free(out);
	free(err);
	ASSERT_INT_EQ(CTL(&out, &err, "help", "service"), 0);
	ASSERT_STR_CONTAINS(out, "service create NAME IMAGE");
	free(out);
	free(err);
	ASSERT_INT_EQ(CTL(&out, &err, "--help"), 0);
	ASSERT_STR_CONTAINS(out, "scale NAME N");
	ASSERT_STR_CONTAINS(out, "node drain|undrain");
	free(out);
	free(err);
}

static int
rpc_service(const char *method, const ProtobufCMessage *in, Orch__Service **out,
    char *err, size_t errlen)
{
	char name[64];

	snprintf(name, sizeof(name), "orch.Manager/%s", method);
	return orch_rpc_call(rpc, name, in, &orch__service__descriptor,
	    (ProtobufCMessage **)out, err, errlen);
}

static void
test_rpc(void)
{
	Orch__CreateServiceRequest cr = ORCH__CREATE_SERVICE_REQUEST__INIT;
	Orch__GetServiceRequest gr = ORCH__GET_SERVICE_REQUEST__INIT;
	Orch__ScaleServiceRequest sr = ORCH__SCALE_SERVICE_REQUEST__INIT;
	Orch__DeleteServiceRequest dr = ORCH__DELETE_SERVICE_REQUEST__INIT;
	Orch__ListServicesRequest lr = ORCH__LIST_SERVICES_REQUEST__INIT;
	Orch__DrainNodeRequest nr = ORCH__DRAIN_NODE_REQUEST__INIT;
	Orch__TaskSpec spec = ORCH__TASK_SPEC__INIT;
	Orch__Service *s = NULL;
	Orch__ServiceList *l = NULL;
	Orch__Node *n = NULL;
	char *cons[] = {"zone==a"};
	char err[512];

	spec.image = "busybox:1";
	spec.n_constraints = 1;
	spec.constraints = cons;
	cr.name = "grpc";
	cr.spec = &spec;
	cr.has_replicas = true;
	cr.replicas = 2;
	ASSERT_INT_EQ(
	    rpc_service("CreateService", &cr.base, &s, err, sizeof(err)),
	    ORCH_OK);
	ASSERT_STR_EQ(s->name, "grpc");
	ASSERT_INT_EQ(s->replicas, 2);
	ASSERT_STR_EQ(s->spec->restart, "always");
	orch__service__free_unpacked(s, NULL);
	wait_running("grpc", 2);
	/* Constrained to node-a: both there. */
	ASSERT_INT_EQ(svc_count("grpc").on_a, 2);
	gr.name = "grpc";
	ASSERT_INT_EQ(
	    rpc_service("GetService", &gr.base, &s, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(s->running, 2);
	ASSERT_INT_EQ(s->n_tasks, 2);
	orch__service__free_unpacked(s, NULL);
	sr.name = "grpc";
	sr.has_replicas = true;
	sr.replicas = 1;
	ASSERT_INT_EQ(
	    rpc_service("ScaleService", &sr.base, &s, err, sizeof(err)),
	    ORCH_OK);
	ASSERT_INT_EQ(s->replicas, 1);
	orch__service__free_unpacked(s, NULL);
	wait_running("grpc", 1);
	ASSERT_INT_EQ(orch_rpc_call(rpc, "orch.Manager/ListServices", &lr.base,
	                  &orch__service_list__descriptor,
	                  (ProtobufCMessage **)&l, err, sizeof(err)),
	    ORCH_OK);
	ASSERT_INT_EQ(l->n_services, 1);
	ASSERT_INT_EQ(l->services[0]->running, 1);
	orch__service_list__free_unpacked(l, NULL);
	/* Refusals. */
	cr.name = "grpc";
	ASSERT_INT_EQ(
	    rpc_service("CreateService", &cr.base, &s, err, sizeof(err)),
	    ORCH_ECONFLICT);
	cr.name = "x y";
	ASSERT_INT_EQ(
	    rpc_service("CreateService", &cr.base, &s, err, sizeof(err)),
	    ORCH_EINVAL);
	ASSERT_STR_CONTAINS(err, "name");
	cr.name = "other";
	cons[0] = "zone";
	ASSERT_INT_EQ(
	    rpc_service("CreateService", &cr.base, &s, err, sizeof(err)),
	    ORCH_EINVAL);
	ASSERT_STR_CONTAINS(err, "malformed constraint \"zone\"");
	sr.has_replicas = false;
	ASSERT_INT_EQ(
	    rpc_service("ScaleService", &sr.base, &s, err, sizeof(err)),
	    ORCH_EINVAL);
	gr.name = "ghost";
	ASSERT_INT_EQ(rpc_service("GetService", &gr.base, &s, err, sizeof(err)),
	    ORCH_ENOENT);
	dr.name = "grpc";
	ASSERT_INT_EQ(
	    rpc_service("DeleteService", &dr.base, &s, err, sizeof(err)),
	    ORCH_OK);
	ASSERT_INT_EQ(s->n_tasks, 2);
	orch__service__free_unpacked(s, NULL);
	ASSERT_INT_EQ(
	    rpc_service("DeleteService", &dr.base, &s, err, sizeof(err)),
	    ORCH_ENOENT);
	/* SubmitTask refuses a service name from a client. */
	{
		Orch__SubmitTaskRequest st = ORCH__SUBMIT_TASK_REQUEST__INIT;
		Orch__TaskSpec ts = ORCH__TASK_SPEC__INIT;
		Orch__Task *t = NULL;

		ts.name = "x";
		ts.image = "busybox:1";
		ts.service = "grpc";
		st.spec = &ts;
		ASSERT_INT_EQ(orch_rpc_call(rpc, "orch.Manager/SubmitTask",
		                  &st.base, &orch__task__descriptor,
		                  (ProtobufCMessage **)&t, err, sizeof(err)),
		    ORCH_EINVAL);
		ASSERT_STR_CONTAINS(err, "\"service\"");
	}
	/* DrainNode, and back. */
	nr.id = "node-a";
	ASSERT_INT_EQ(orch_rpc_call(rpc, "orch.Manager/DrainNode", &nr.base,
	                  &orch__node__descriptor, (ProtobufCMessage **)&n, err,
	                  sizeof(err)),
	    ORCH_OK);
	ASSERT(n->drain);
	ASSERT_INT_EQ(n->status, ORCH__NODE_STATUS__NODE_STATUS_READY);
	orch__node__free_unpacked(n, NULL);
	nr.has_drain = true;
	nr.drain = false;
	ASSERT_INT_EQ(orch_rpc_call(rpc, "orch.Manager/DrainNode", &nr.base,
	                  &orch__node__descriptor, (ProtobufCMessage **)&n, err,
	                  sizeof(err)),
	    ORCH_OK);
	ASSERT(!n->drain);
	orch__node__free_unpacked(n, NULL);
	nr.id = "ghost";
	ASSERT_INT_EQ(orch_rpc_call(rpc, "orch.Manager/DrainNode", &nr.base,
	                  &orch__node__descriptor, (ProtobufCMessage **)&n, err,
	                  sizeof(err)),
	    ORCH_ENOENT);
}

/* After a restart the services are as they were; nodes are NotReady and
 * keep their tasks while they check in within the grace; one that never
 * does is Down after it, and its replicas move. */
static void
test_restart(void)
{
	struct svc_count c;
	json_t *n, *s;
	int st;

	json_decref(call("POST", "/services",
	    "{\"name\":\"keep\",\"image\":\"busybox:1\",\"replicas\":4}", 201));
	wait_running("keep", 4);
	fa_beater_stop(&beater);
	st = mgr_stop(&m, SIGKILL);
	ASSERT(st != -1);
	/* A longer TTL: the grace (two of them) lasts long enough to be
	 * seen. */
	mgr_restart(&m, (const char *const[]){"--heartbeat-ttl", "3", NULL});
	s = hj_service(m.http_port, "keep");
	ASSERT_INT_EQ(hj_int(s, "replicas"), 4);
	json_decref(s);
	n = call("GET", "/nodes/node-a", NULL, 200);
	ASSERT_STR_EQ(hj_str(n, "status"), "NotReady");
	json_decref(n);
	/* node-a checks in again; node-b does not. */
	fa_beater_start(&beater, m.rpc_url, agent_act);
	fa_beater_add(&beater, node_a);
	c = svc_count("keep");
	ASSERT_INT_EQ(c.live, 4);
	/* node-b's replicas move to node-a once its grace is over. */
	{
		struct svc_want w = {"keep", 4};
		int64_t t0 = orch_mono_ms();

		for (;;) {
			c = svc_count("keep");
			if (c.on_a == 4 && svc_running(&w))
				break;
			if (orch_mono_ms() - t0 > WAIT_MS)
				h_fail(__FILE__, __LINE__,
				    "node-b's replicas "
				    "never moved: %zu on a",
				    c.on_a);
			poll(NULL, 0, 20);
		}
	}
	n = call("GET", "/nodes/node-b", NULL, 200);
	ASSERT_STR_EQ(hj_str(n, "status"), "Down");
	json_decref(n);
	/* node-a's own were never lost: only node-b's were replaced. */
	s = hj_service(m.http_port, "keep");
	{
		json_t *t;
		size_t i, lost = 0;

		json_array_foreach(json_object_get(s, "tasks"), i, t)
		{
			if (hj_str(t, "error") != NULL &&
			    strstr(hj_str(t, "error"), "lost") != NULL) {
				ASSERT_STR_EQ(hj_str(t, "node_id"), node_b);
				lost++;
			}
		}
		ASSERT_INT_EQ(lost, 2);
	}
	json_decref(s);
}

int
main(void)
{
	mgr_start(&m, (const char *const[]){"--heartbeat-ttl", "1", NULL});
	rpc = fa_req_open(m.rpc_url);
	fa_beater_start(&beater, m.rpc_url, agent_act);
	RUN(test_nodes_join);
	RUN(test_constraints);
	RUN(test_spread_and_binpack);
	RUN(test_service_api);
	RUN(test_replica_restarts);
	RUN(test_on_failure_2);
	RUN(test_drain);
	RUN(test_orchctl_services);
	RUN(test_rpc);
	RUN(test_node_lost);
	RUN(test_restart);
	fa_beater_stop(&beater);
	nng_close(rpc);
	/* A clean stop exits 0; under ASan that also means no leak. */
	mgr_stop_clean(&m);
	mgr_destroy(&m);
	return 0;
}
