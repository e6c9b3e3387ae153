/*
 * e2e_agent.c: orch-agent as a process, with the real orch-manager and the
 * real Docker daemon.
 *
 * Needs dockerd on /var/run/docker.sock and the image
 * orch-test/busybox:latest (scripts/docker-up.sh makes both).  Nothing is
 * pulled.  Every agent this test starts is named e2e-agent-<pid>-<tag>, so
 * that its containers (labelled orch.node=<name>) are told apart from any
 * other run's; an atexit handler removes them, also when an assertion
 * fails, together with those of earlier runs whose process is gone.  Every
 * wait is a poll with a deadline.
 */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "docker_client.h"
#include "docker_util.h"
#include "error.h"
#include "harness.h"
#include "http_json.h"
#include "manager_proc.h"
#include "task.h"

#define SOCK "/var/run/docker.sock"
#define IMAGE "orch-test/busybox:latest"
#define NODE_PREFIX "e2e-agent-"
/* Under valgrind (ORCH_VALGRIND=1, harness.h) the daemons are many times
 * slower: every deadline and the TTL below grow with it. */
#define WAIT_MS (h_valgrind() ? 240000 : 30000)

static struct mgr m;
static char pub_url[64];
/* A TTL well above how long an agent restart takes here, so that a node
 * whose agent a test restarts is never Down meanwhile (its tasks would be
 * lost); test_service_node_loss waits for it on purpose. */
/* The container policies: the manager's lets orch-test images mount host
 * paths and add any capability; the agents' own (--policy) only
 * NET_ADMIN.  Written into pol_dir, with the directory mounted read-only
 * by test_container_settings. */
static char *pol_dir;
static char mgr_policy[512], agent_policy[512], agent_state[512];
static const char *const mgr_flags_plain[] = {
    "--heartbeat-ttl", "10", "--policy", mgr_policy, NULL};
static const char *const mgr_flags_valgrind[] = {
    "--heartbeat-ttl", "60", "--policy", mgr_policy, NULL};
#define mgr_flags (h_valgrind() ? mgr_flags_valgrind : mgr_flags_plain)

/* The agent under test. */
static char node[64];
static pid_t agent_pid;
static char agent_log[256];
/* A second agent on the same daemon. */
static char node_b[64];
static pid_t b_pid;
static char b_log[256];
static bool finished;

/* The test's own view of the daemon. */
static struct orch_docker_client *peek;

/* ---- the daemon, seen directly ---- */

static void
at_exit(void)
{
	/* The harness's own handler, registered later, has run already and
	 * killed the manager and the agent: their containers can go. */
	if (!finished) {
		h_tail_file("agent log", agent_log, 80);
		h_tail_file("second agent log", b_log, 40);
		h_tail_file("manager log", m.log, 40);
	}
	du_cleanup(peek, NODE_PREFIX);
	orch_docker_client_free(peek);
	peek = NULL;
	mgr_destroy(&m);
	if (pol_dir != NULL)
		h_rm_rf(pol_dir);
	free(pol_dir);
	pol_dir = NULL;
	if (finished) {
		unlink(agent_log);
		unlink(b_log);
	}
}

/* ---- the manager's HTTP API ---- */

/* The manager's HTTP API (http_json.h), on this test's manager. */
static json_t *
call(const char *method, const char *path, const char *body, int want)
{
	return hj_call(m.http_port, method, path, body, want);
}

/* Submits a task; returns its id (malloc'd). */
static char *
submit(const char *name, const char *cmd_json, const char *extra)
{
	char body[2048];
	json_t *t;
	char *id;

	snprintf(body, sizeof(body),
	    "{\"name\":\"%s\",\"image\":\"%s\","
	    "\"command\":%s%s}",
	    name, IMAGE, cmd_json, extra != NULL ? extra : "");
	t = call("POST", "/tasks", body, 201);
	id = strdup(hj_str(t, "id"));
	ASSERT(id != NULL);
	json_decref(t);
	return id;
}

struct status_want {
	const char *id;
	const char *status;
};

static bool
status_is(void *arg)
{
	struct status_want *w = arg;
	json_t *t = hj_task(m.http_port, w->id);
	const char *s = hj_str(t, "status");
	bool ok = s != NULL && strcmp(s, w->status) == 0;

	json_decref(t);
	return ok;
}

/* Waits until task id has status; returns the task.  A final status
 * other than the one wanted fails at once. */
static json_t *
wait_status(const char *id, const char *status, int timeout_ms)
{
	struct status_want w = {id, status};
	json_t *t;
	char *dump;

	if (!h_wait_until(status_is, &w, timeout_ms)) {
		t = hj_task(m.http_port, id);
		dump = json_dumps(t, JSON_COMPACT);
		h_fail(__FILE__, __LINE__,
		    "task %s did not become %s in %d ms: "
		    "%s",
		    id, status, timeout_ms, dump);
	}
	return hj_task(m.http_port, id);
}

static void
task_stop(const char *id)
{
	char path[128];

	snprintf(path, sizeof(path), "/tasks/%s", id);
	json_decref(call("DELETE", path, NULL, 200));
}

/* ---- the agent as a process ---- */

static pid_t
agent_spawn(char *name, const char *log)
{
	char *bin = h_bin("orch-agent");
	char *argv[] = {bin, "--manager", m.rpc_url, "--events", pub_url,
	    "--name", name, "--heartbeat", "0.2", "--stop-timeout", "1",
	    "--workers", "12", "--cpu", "64", "--memory", "65536", "--label",
	    "zone=e2e", "--label", "disk=ssd", "--log-level", "debug",
	    "--policy", agent_policy, "--state-dir", agent_state, NULL};
	pid_t pid = h_spawn(argv, log);

	free(bin);
	return pid;
}

static void
agent_start(void)
{
	agent_pid = agent_spawn(node, agent_log);
}

static void
agent_stop(int sig)
{
	h_kill(agent_pid, sig);
	agent_pid = 0;
}

static bool
agent_alive(void)
{
	return agent_pid > 0 && waitpid(agent_pid, NULL, WNOHANG) == 0;
}

/* Whether the node named arg (NULL: the first agent's) is Ready. */
static bool
node_ready(void *arg)
{
	char path[128], *resp = NULL;
	json_t *n;
	bool ok = false;

	snprintf(path, sizeof(path), "/nodes/%s",
	    arg != NULL ? (const char *)arg : node);
	if (h_http(m.http_port, "GET", path, NULL, &resp) == 200 &&
	    (n = json_loads(resp, 0, NULL)) != NULL) {
		ok = hj_str(n, "status") != NULL &&
		    strcmp(hj_str(n, "status"), "Ready") == 0;
		json_decref(n);
	}
	free(resp);
	return ok;
}

/* Lines of the agent's log containing s. */
static int
log_count(const char *s)
{
	char *log = h_read_file(agent_log), *p;
	int n = 0;

	ASSERT(log != NULL);
	for (p = log; (p = strstr(p, s)) != NULL; p += strlen(s))
		n++;
	free(log);
	return n;
}

struct count_want {
	const char *id;
	size_t n;
};

static bool
count_is(void *arg)
{
	struct count_want *w = arg;

	return du_task_count(peek, w->id, node) == w->n;
}

static void
wait_count(const char *id, size_t n)
{
	struct count_want w = {id, n};

	if (!h_wait_until(count_is, &w, WAIT_MS))
		h_fail(__FILE__, __LINE__,
		    "task %s has %zu containers, want %zu", id,
		    du_task_count(peek, id, node), n);
}

/* The one container of task id (which must have exactly one). */
static json_t *
the_container(const char *id)
{
	json_t *list = du_task_containers(peek, id, node), *c;
	const char *cid;

	ASSERT_INT_EQ(json_array_size(list), 1);
	cid = hj_str(json_array_get(list, 0), "Id");
	ASSERT(cid != NULL);
	c = du_inspect(peek, cid);
	json_decref(list);
	return c;
}

/* ---- tests ---- */

static void
test_flags(void)
{
	char *bin = h_bin("orch-agent"), *out = NULL, *err = NULL;

	{
		char *argv[] = {bin, "--help", NULL};
		static const char *const flags[] = {"--manager", "--events",
		    "--name", "--label", "--cpu", "--memory", "--docker",
		    "--drivers", "--state-dir", "--cgroup", "--heartbeat",
		    "--stop-timeout", "--workers", "--policy", "--log-level",
		    "--help", "--version"};

		ASSERT_INT_EQ(h_run(argv, &out, &err, 5000), 0);
		for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
			ASSERT_STR_CONTAINS(out, flags[i]);
		free(out);
		free(err);
	}
	{
		char *argv[] = {bin, "--version", NULL};

		ASSERT_INT_EQ(h_run(argv, &out, &err, 5000), 0);
		ASSERT_STR_CONTAINS(out, "orch-agent ");
		free(out);
		free(err);
	}
	{
		static const char *const bad[][3] = {
		    {"--bogus", NULL, "--bogus"},
		    {"--label", "novalue", "K=V"},
		    {"--label", "=v", "key"},
		    {"--label", "k=\x01", "printable"},
		    {"--heartbeat", "0", "--heartbeat"},
		    {"--heartbeat", "abc", "--heartbeat"},
		    {"--cpu", "-1", "--cpu"},
		    {"--memory", "1", "--memory"},
		    {"--stop-timeout", "0", "--stop-timeout"},
		    {"--workers", "0", "--workers"},
		    {"--workers", "65", "from 1 to 64"},
		    {"--workers", "many", "--workers"},
		    {"--name", "has space", "--name"},
		    {"--manager", "nope", "--manager"},
		    {"--log-level", "loud", "--log-level"},
		    {"--cpu", NULL, "needs a value"},
		    {"--policy", "/nonexistent/p.json", "/nonexistent/p.json"},
		    {"--drivers", "docker,lxc", "\"lxc\" is not a driver"},
		    {"--drivers", "exec,exec", "exec given twice"},
		    {"--cgroup", "relative", "--cgroup wants the absolute"},
		    {"--state-dir", "", "--state-dir"},
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			char *argv[] = {
			    bin, (char *)bad[i][0], (char *)bad[i][1], NULL};

			ASSERT_INT_EQ(h_run(argv, &out, &err, 5000), 2);
			ASSERT_STR_CONTAINS(err, bad[i][2]);
			free(out);
			free(err);
		}
	}
	{
		char *argv[] = {bin, "--label", "a=1", "--label", "a=2", NULL};

		ASSERT_INT_EQ(h_run(argv, &out, &err, 5000), 2);
		ASSERT_STR_CONTAINS(err, "twice");
		free(out);
		free(err);
	}
	{
		/* Docker alone, and not there: exit 1, naming the socket. */
		char *argv[] = {bin, "--drivers", "docker", "--docker",
		    "/nonexistent/docker.sock", "--name", "x", NULL};

		ASSERT_INT_EQ(h_run(argv, &out, &err, 10000), 1);
		ASSERT_STR_CONTAINS(err, "/nonexistent/docker.sock");
		free(out);
		free(err);
	}
	free(bin);
}

static void
test_registers(void)
{
	char path[128];
	json_t *n, *labels, *drivers;

	if (!h_wait_until(node_ready, NULL, WAIT_MS))
		h_fail(__FILE__, __LINE__, "node %s never became Ready", node);
	snprintf(path, sizeof(path), "/nodes/%s", node);
	n = call("GET", path, NULL, 200);
	ASSERT_STR_EQ(hj_str(n, "name"), node);
	ASSERT(hj_str(n, "id") != NULL);
	/* --workers 12: the pool it started with. */
	{
		char *log = h_read_file(agent_log);

		ASSERT(log != NULL);
		ASSERT_STR_CONTAINS(log, ", 12 workers,");
		free(log);
	}
	ASSERT(hj_str(n, "address") != NULL);
	ASSERT(json_number_value(json_object_get(n, "cpu")) == 64.0);
	ASSERT_INT_EQ(json_integer_value(json_object_get(n, "memory")), 65536);
	labels = json_object_get(n, "labels");
	ASSERT_STR_EQ(hj_str(labels, "zone"), "e2e");
	ASSERT_STR_EQ(hj_str(labels, "disk"), "ssd");
	drivers = json_object_get(n, "drivers");
	ASSERT_INT_EQ(json_array_size(drivers), 2);
	ASSERT_STR_EQ(json_string_value(json_array_get(drivers, 0)), "docker");
	ASSERT_STR_EQ(json_string_value(json_array_get(drivers, 1)), "exec");
	ASSERT_STR_CONTAINS(hj_str(n, "version"), ".");
	json_decref(n);
}

/* Counts the distinct last_heartbeat times the manager shows for the
 * first agent's node: true once it has seen several beats go by. */
struct beats_seen {
	char last[64];
	int n;
};

static bool
beats_counted(void *arg)
{
	struct beats_seen *b = arg;
	char path[128], *resp = NULL;
	const char *hb;
	json_t *n;

	snprintf(path, sizeof(path), "/nodes/%s", node);
	if (h_http(m.http_port, "GET", path, NULL, &resp) == 200 &&
	    (n = json_loads(resp, 0, NULL)) != NULL) {
		hb = hj_str(n, "last_heartbeat");
		if (hb != NULL && strcmp(hb, b->last) != 0) {
			snprintf(b->last, sizeof(b->last), "%s", hb);
			b->n++;
		}
		json_decref(n);
	}
	free(resp);
	return b->n >= 6;
}

/* The long-running task of the tests below. */
static char *sleeper;
static char sleeper_cid[80];

static void
test_sleep_runs(void)
{
	json_t *t, *c, *labels, *env, *hc;

	sleeper = submit("sleeper", "[\"sleep\",\"300\"]",
	    ",\"env\":{\"GREETING\":\"hello world\",\"A\":\"1\"},"
	    "\"memory\":64,\"cpu\":0.25");
	t = wait_status(sleeper, "Running", WAIT_MS);
	ASSERT(hj_str(t, "node_id") != NULL);
	ASSERT(hj_str(t, "container_id") != NULL);
	ASSERT(hj_str(t, "started_at") != NULL);
	snprintf(
	    sleeper_cid, sizeof(sleeper_cid), "%s", hj_str(t, "container_id"));

	/* Exactly one container, the one reported, with the task's labels,
	 * env and limits. */
	c = the_container(sleeper);
	ASSERT_STR_EQ(hj_str(c, "Id"), sleeper_cid);
	ASSERT(json_is_true(
	    json_object_get(json_object_get(c, "State"), "Running")));
	labels = json_object_get(json_object_get(c, "Config"), "Labels");
	ASSERT_STR_EQ(hj_str(labels, "orch.task"), sleeper);
	ASSERT_STR_EQ(hj_str(labels, "orch.node"), node);
	env = json_object_get(json_object_get(c, "Config"), "Env");
	ASSERT(du_env_has(env, "GREETING=hello world"));
	ASSERT(du_env_has(env, "A=1"));
	hc = json_object_get(c, "HostConfig");
	ASSERT_INT_EQ(json_integer_value(json_object_get(hc, "Memory")),
	    64LL * 1024 * 1024);
	ASSERT_INT_EQ(
	    json_integer_value(json_object_get(hc, "NanoCpus")), 250000000LL);
	json_decref(c);
	json_decref(t);

	/* Heartbeats go on; nothing is started or reported twice. */
	{
		struct beats_seen b = {"", 0};
		char needle[128];

		if (!h_wait_until(beats_counted, &b, WAIT_MS))
			h_fail(__FILE__, __LINE__, "node %s stopped beating",
			    node);
		snprintf(
		    needle, sizeof(needle), "task %s: container ", sleeper);
		ASSERT_INT_EQ(log_count(needle), 1);
		snprintf(needle, sizeof(needle), "task %s: reported Running",
		    sleeper);
		ASSERT_INT_EQ(log_count(needle), 1);
		ASSERT_INT_EQ(du_task_count(peek, sleeper, node), 1);
	}
}

static void
test_exit_codes(void)
{
	char *f = submit("three", "[\"sh\",\"-c\",\"exit 3\"]", NULL);
	char *ok = submit("hi", "[\"echo\",\"hi\"]", NULL);
	json_t *t;

	t = wait_status(f, "Failed", WAIT_MS);
	ASSERT_INT_EQ(json_integer_value(json_object_get(t, "exit_code")), 3);
	ASSERT_STR_CONTAINS(hj_str(t, "error"), "exited with code 3");
	ASSERT(hj_str(t, "finished_at") != NULL);
	json_decref(t);

	t = wait_status(ok, "Completed", WAIT_MS);
	ASSERT(json_is_integer(json_object_get(t, "exit_code")));
	ASSERT_INT_EQ(json_integer_value(json_object_get(t, "exit_code")), 0);
	ASSERT(json_is_null(json_object_get(t, "error")));
	ASSERT(hj_str(t, "finished_at") != NULL);
	json_decref(t);

	/* Once the manager knows, the finished containers go. */
	wait_count(f, 0);
	wait_count(ok, 0);
	free(f);
	free(ok);
}

static void
test_missing_image(void)
{
	char body[256];
	json_t *t;
	char *id;

	snprintf(body, sizeof(body),
	    "{\"name\":\"nope\",\"image\":"
	    "\"orch-test/nope:1\"}");
	t = call("POST", "/tasks", body, 201);
	id = strdup(hj_str(t, "id"));
	json_decref(t);
	t = wait_status(id, "Failed", 60000);
	ASSERT_STR_CONTAINS(hj_str(t, "error"), "orch-test/nope:1");
	ASSERT(json_is_null(json_object_get(t, "exit_code")));
	json_decref(t);
	ASSERT_INT_EQ(du_task_count(peek, id, NULL), 0);
	free(id);
}

static void
test_garbage_rpc(void)
{
	/* Raw bytes that are not SP at all, then a valid SP REQ handshake
	 * followed by a message that is not an orch.Request, then one whose
	 * length is absurd. */
	static const char junk[] = "GET / HTTP/1.1\r\n\r\n\xff\xfe garbage";
	static const unsigned char sp_req[8] = {0, 'S', 'P', 0, 0, 0x30, 0, 0};
	unsigned char msg[8 + 4 + 5] = {0, 0, 0, 0, 0, 0, 0, 9, 0x80, 0, 0, 1,
	    0xff, 0xfe, 0x01, 0x02, 0x03};
	unsigned char huge[8] = {
	    0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	char *id;
	int fd;

	fd = h_connect(m.rpc_port);
	ASSERT(fd >= 0);
	h_send_all(fd, junk, sizeof(junk) - 1);
	close(fd);
	fd = h_connect(m.rpc_port);
	ASSERT(fd >= 0);
	h_send_all(fd, sp_req, sizeof(sp_req));
	h_send_all(fd, msg, sizeof(msg));
	close(fd);
	fd = h_connect(m.rpc_port);
	ASSERT(fd >= 0);
	h_send_all(fd, sp_req, sizeof(sp_req));
	h_send_all(fd, huge, sizeof(huge));
	close(fd);

	/* The manager and the agent go on. */
	id = submit("after-garbage", "[\"echo\",\"ok\"]", NULL);
	json_decref(wait_status(id, "Completed", WAIT_MS));
	ASSERT(agent_alive());
	free(id);
}

static bool
container_ended(void *arg)
{
	json_t *c = the_container(arg);
	bool ended = !json_is_true(
	    json_object_get(json_object_get(c, "State"), "Running"));

	json_decref(c);
	return ended;
}

static void
test_agent_restart(void)
{
	char *quick =
	    submit("quick", "[\"sh\",\"-c\",\"sleep 2; exit 7\"]", NULL);
	char *doomed = submit("doomed", "[\"sleep\",\"300\"]", NULL);
	json_t *t, *c, *before;
	char needle[128];
	const char *started;

	json_decref(wait_status(quick, "Running", WAIT_MS));
	json_decref(wait_status(doomed, "Running", WAIT_MS));
	before = the_container(sleeper);

	/* The agent dies; its containers do not. */
	agent_stop(SIGKILL);
	ASSERT_INT_EQ(du_task_count(peek, sleeper, node), 1);
	/* A stop requested meanwhile waits for the next agent. */
	task_stop(doomed);
	ASSERT_INT_EQ(du_task_count(peek, doomed, node), 1);

	/* quick ends while no agent watches. */
	if (!h_wait_until(container_ended, quick, WAIT_MS))
		h_fail(__FILE__, __LINE__, "the container of %s did not end",
		    quick);

	agent_start();
	t = wait_status(quick, "Failed", WAIT_MS);
	ASSERT_INT_EQ(json_integer_value(json_object_get(t, "exit_code")), 7);
	ASSERT_STR_CONTAINS(hj_str(t, "error"), "exited with code 7");
	json_decref(t);
	wait_count(quick, 0);
	json_decref(wait_status(doomed, "Stopped", WAIT_MS));
	wait_count(doomed, 0);

	/* The sleeper was adopted, not started again. */
	t = hj_task(m.http_port, sleeper);
	ASSERT_STR_EQ(hj_str(t, "status"), "Running");
	ASSERT_STR_EQ(hj_str(t, "container_id"), sleeper_cid);
	json_decref(t);
	c = the_container(sleeper);
	ASSERT_STR_EQ(hj_str(c, "Id"), sleeper_cid);
	started = hj_str(json_object_get(c, "State"), "StartedAt");
	ASSERT_STR_EQ(
	    started, hj_str(json_object_get(before, "State"), "StartedAt"));
	ASSERT_INT_EQ(
	    json_integer_value(json_object_get(c, "RestartCount")), 0);
	json_decref(c);
	json_decref(before);
	snprintf(needle, sizeof(needle), "task %s: container ", sleeper);
	ASSERT_INT_EQ(log_count(needle), 1);
	free(quick);
	free(doomed);
}

static void
test_manager_restart(void)
{
	json_t *t, *c, *before = the_container(sleeper);
	char needle[128];
	char *id;

	mgr_stop(&m, SIGKILL);
	/* The work goes on without a manager. */
	ASSERT(agent_alive());
	c = the_container(sleeper);
	ASSERT(json_is_true(
	    json_object_get(json_object_get(c, "State"), "Running")));
	json_decref(c);

	mgr_restart(&m, mgr_flags);
	if (!h_wait_until(node_ready, NULL, WAIT_MS))
		h_fail(__FILE__, __LINE__, "node %s did not come back", node);
	ASSERT(agent_alive());

	/* New work reaches the same agent. */
	id = submit("after-restart", "[\"echo\",\"back\"]", NULL);
	json_decref(wait_status(id, "Completed", WAIT_MS));
	free(id);

	/* Nothing was started twice. */
	t = hj_task(m.http_port, sleeper);
	ASSERT_STR_EQ(hj_str(t, "status"), "Running");
	ASSERT_STR_EQ(hj_str(t, "container_id"), sleeper_cid);
	json_decref(t);
	c = the_container(sleeper);
	ASSERT_STR_EQ(hj_str(c, "Id"), sleeper_cid);
	ASSERT_STR_EQ(hj_str(json_object_get(c, "State"), "StartedAt"),
	    hj_str(json_object_get(before, "State"), "StartedAt"));
	json_decref(c);
	json_decref(before);
	snprintf(needle, sizeof(needle), "task %s: container ", sleeper);
	ASSERT_INT_EQ(log_count(needle), 1);
	ASSERT(agent_alive());
}

static void
test_delete_stops(void)
{
	json_t *t;

	task_stop(sleeper);
	t = wait_status(sleeper, "Stopped", WAIT_MS);
	ASSERT(hj_str(t, "finished_at") != NULL);
	json_decref(t);
	wait_count(sleeper, 0);
	ASSERT_INT_EQ(du_task_count(peek, sleeper, NULL), 0);
}

/* Tasks whose status is s, among ids. */
struct all_want {
	char **ids;
	size_t n;
	const char *status;
};

static bool
all_are(void *arg)
{
	struct all_want *w = arg;

	for (size_t i = 0; i < w->n; i++) {
		struct status_want one = {w->ids[i], w->status};

		if (!status_is(&one))
			return false;
	}
	return true;
}

static void
test_thirty(void)
{
	enum { N = 30 };
	char *ids[N], name[32];
	struct all_want w = {ids, N, "Running"};
	char label[128];
	json_t *list;
	int64_t t0 = orch_mono_ms();

	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "many-%d", i);
		ids[i] = submit(name, "[\"sleep\",\"300\"]",
		    ",\"memory\":16,"
		    "\"cpu\":0.1");
	}
	if (!h_wait_until(all_are, &w, 90000))
		h_fail(__FILE__, __LINE__, "30 tasks not all Running");
	fprintf(stderr, "   30 tasks Running in %lld ms\n",
	    (long long)(orch_mono_ms() - t0));
	snprintf(label, sizeof(label), "orch.node=%s", node);
	list = du_list_by_labels(peek, label, NULL);
	ASSERT_INT_EQ(json_array_size(list), N);
	json_decref(list);
	for (int i = 0; i < N; i++)
		ASSERT_INT_EQ(du_task_count(peek, ids[i], node), 1);

	for (int i = 0; i < N; i++)
		task_stop(ids[i]);
	w.status = "Stopped";
	if (!h_wait_until(all_are, &w, 90000))
		h_fail(__FILE__, __LINE__, "30 tasks not all Stopped");
	for (int i = 0; i < N; i++) {
		wait_count(ids[i], 0);
		free(ids[i]);
	}
}

static bool
count_any_is_zero(void *arg)
{
	return du_task_count(peek, arg, NULL) == 0;
}

static void
test_two_agents(void)
{
	/* A second agent on the same daemon: the scheduler spreads tasks
	 * over both, each runs only its own, and neither touches the
	 * other's containers, even while the other is dead. */
	enum { N = 6 };
	char *ids[N], name[32], label[128];
	struct all_want w = {ids, N, "Running"};
	struct beats_seen beats = {"", 0};
	int on_a = 0, on_b = 0;
	json_t *list;

	snprintf(b_log, sizeof(b_log), "%s-agent-b.log", m.data);
	b_pid = agent_spawn(node_b, b_log);
	if (!h_wait_until(node_ready, node_b, WAIT_MS))
		h_fail(
		    __FILE__, __LINE__, "node %s never became Ready", node_b);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "pair-%d", i);
		ids[i] = submit(name, "[\"sleep\",\"300\"]", NULL);
	}
	if (!h_wait_until(all_are, &w, WAIT_MS))
		h_fail(
		    __FILE__, __LINE__, "tasks on two nodes not all Running");
	for (int i = 0; i < N; i++) {
		json_t *t = hj_task(m.http_port, ids[i]), *n;
		char path[128], l1[128], l2[128], nn[64];

		snprintf(path, sizeof(path), "/nodes/%s", hj_str(t, "node_id"));
		n = call("GET", path, NULL, 200);
		snprintf(nn, sizeof(nn), "%s", hj_str(n, "name"));
		on_a += strcmp(nn, node) == 0;
		on_b += strcmp(nn, node_b) == 0;
		/* One container, on the node the manager placed it on. */
		snprintf(l1, sizeof(l1), "orch.task=%s", ids[i]);
		snprintf(l2, sizeof(l2), "orch.node=%s", nn);
		list = du_list_by_labels(peek, l1, l2);
		ASSERT_INT_EQ(json_array_size(list), 1);
		ASSERT_STR_EQ(hj_str(json_array_get(list, 0), "Id"),
		    hj_str(t, "container_id"));
		json_decref(list);
		ASSERT_INT_EQ(du_task_count(peek, ids[i], NULL), 1);
		json_decref(n);
		json_decref(t);
	}
	ASSERT_INT_EQ(on_a + on_b, N);
	ASSERT(on_a > 0 && on_b > 0);

	/* B dies; A beats on and leaves B's containers alone. */
	h_kill(b_pid, SIGKILL);
	b_pid = 0;
	if (!h_wait_until(beats_counted, &beats, WAIT_MS))
		h_fail(__FILE__, __LINE__, "node %s stopped beating", node);
	snprintf(label, sizeof(label), "orch.node=%s", node_b);
	list = du_list_by_labels(peek, label, NULL);
	ASSERT_INT_EQ(json_array_size(list), on_b);
	json_decref(list);

	/* B comes back, adopts its own, and both stop theirs. */
	b_pid = agent_spawn(node_b, b_log);
	for (int i = 0; i < N; i++)
		task_stop(ids[i]);
	w.status = "Stopped";
	if (!h_wait_until(all_are, &w, WAIT_MS))
		h_fail(
		    __FILE__, __LINE__, "tasks on two nodes not all Stopped");
	for (int i = 0; i < N; i++) {
		ASSERT(h_wait_until(count_any_is_zero, ids[i], WAIT_MS));
		free(ids[i]);
	}
	{
		int st = h_kill(b_pid, SIGTERM);

		b_pid = 0;
		ASSERT(st != -1 && WIFEXITED(st));
		ASSERT_INT_EQ(WEXITSTATUS(st), 0);
	}
}

/* Writes text into path. */
static void
file_put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ASSERT(f != NULL);
	ASSERT(fputs(text, f) >= 0);
	ASSERT(fclose(f) == 0);
}

/* Submits a task of IMAGE running the shell script sh, with the volume
 * vol (may be NULL) and the capability cap; returns its id. */
static char *
submit_sh(const char *name, const char *sh, const char *vol, const char *cap)
{
	json_t *cmd = json_pack("[sss]", "sh", "-c", sh);
	char *c = json_dumps(cmd, JSON_COMPACT), extra[1024], *id;

	ASSERT(c != NULL);
	snprintf(extra, sizeof(extra), ",\"cap_add\":[\"%s\"]%s%s%s", cap,
	    vol != NULL ? ",\"volumes\":[\"" : "", vol != NULL ? vol : "",
	    vol != NULL ? "\"]" : "");
	id = submit(name, c, extra);
	free(c);
	json_decref(cmd);
	return id;
}

/*
 * The container settings a policy allows reach the container: a host
 * directory mounted read-only, an added capability, as Docker's inspect
 * shows them and as a process inside sees them.  A capability the agent's
 * own policy refuses fails the task before any container exists.
 */
static void
test_container_settings(void)
{
	char vol[600], path[600], why[256];
	char *run, *check, *refused;
	json_t *t, *c, *hc, *mounts, *mnt = NULL;
	size_t i;

	snprintf(path, sizeof(path), "%s/ro/hello", pol_dir);
	file_put(path, "hi\n");
	snprintf(vol, sizeof(vol), "%s/ro:/ro:ro", pol_dir);
	run = submit_sh("settings-run", "exec sleep 300", vol, "NET_ADMIN");
	/* The file is there, cannot be written, and NET_ADMIN (bit 12) is
	 * in the effective set: else exit 3, 4 or 5. */
	check = submit_sh("settings-check",
	    "test $(cat /ro/hello) = hi || exit 3; "
	    "if touch /ro/x 2>/dev/null; then exit 4; fi; "
	    "c=$(awk '/^CapEff/ {print $2}' /proc/self/status); "
	    "[ $((0x$c & 0x1000)) -ne 0 ] || exit 5",
	    vol, "cap_net_admin");
	refused = submit_sh("settings-refused", "true", NULL, "SYS_TIME");

	json_decref(wait_status(run, "Running", WAIT_MS));
	c = the_container(run);
	hc = json_object_get(c, "HostConfig");
	ASSERT_INT_EQ(json_array_size(json_object_get(hc, "CapAdd")), 1);
	ASSERT_STR_EQ(
	    json_string_value(json_array_get(json_object_get(hc, "CapAdd"), 0)),
	    "NET_ADMIN");
	ASSERT(!json_is_true(json_object_get(hc, "Privileged")));
	mounts = json_object_get(c, "Mounts");
	json_array_foreach(mounts, i, mnt)
	{
		if (strcmp(hj_str(mnt, "Destination"), "/ro") == 0)
			break;
	}
	ASSERT(i < json_array_size(mounts));
	ASSERT_STR_EQ(hj_str(mnt, "Type"), "bind");
	snprintf(path, sizeof(path), "%s/ro", pol_dir);
	ASSERT_STR_EQ(hj_str(mnt, "Source"), path);
	ASSERT(json_is_false(json_object_get(mnt, "RW")));
	json_decref(c);

	t = wait_status(check, "Completed", WAIT_MS);
	ASSERT_INT_EQ(json_integer_value(json_object_get(t, "exit_code")), 0);
	json_decref(t);

	t = wait_status(refused, "Failed", WAIT_MS);
	snprintf(why, sizeof(why), "refused by node %s's --policy", node);
	ASSERT_STR_CONTAINS(hj_str(t, "error"), why);
	ASSERT_STR_CONTAINS(hj_str(t, "error"), "capability \"SYS_TIME\"");
	ASSERT(json_is_null(json_object_get(t, "container_id")));
	ASSERT_INT_EQ(du_task_count(peek, refused, NULL), 0);
	json_decref(t);

	task_stop(run);
	json_decref(wait_status(run, "Stopped", WAIT_MS));
	wait_count(run, 0);
	free(run);
	free(check);
	free(refused);
}

static void
test_sigterm_leaves_work(void)
{
	char *id = submit("survivor", "[\"sleep\",\"300\"]", NULL);
	json_t *t, *c;
	int st;

	json_decref(wait_status(id, "Running", WAIT_MS));
	st = h_kill(agent_pid, SIGTERM);
	agent_pid = 0;
	ASSERT(st != -1 && WIFEXITED(st));
	ASSERT_INT_EQ(WEXITSTATUS(st), 0);
	c = the_container(id);
	ASSERT(json_is_true(
	    json_object_get(json_object_get(c, "State"), "Running")));
	json_decref(c);

	/* And the next agent stops it when asked. */
	agent_start();
	task_stop(id);
	t = wait_status(id, "Stopped", WAIT_MS);
	json_decref(t);
	wait_count(id, 0);
	free(id);
}

static void
test_manager_forgets(void)
{
	/* A manager that lost its data (a new one on the same address)
	 * answers the old node id with NOT_FOUND: the agent registers again,
	 * and removes the container of a task the new manager never heard
	 * of. */
	char *id = submit("orphan", "[\"sleep\",\"300\"]", NULL);

	json_decref(wait_status(id, "Running", WAIT_MS));
	mgr_stop(&m, SIGKILL);
	h_rm_rf(m.data);
	mgr_restart(&m, mgr_flags);
	if (!h_wait_until(node_ready, NULL, WAIT_MS))
		h_fail(
		    __FILE__, __LINE__, "node %s did not register again", node);
	wait_count(id, 0);
	ASSERT(log_count("registering again") >= 1);
	ASSERT(agent_alive());
	free(id);
}

/* ---- services ---- */

struct svc_want {
	const char *name;
	json_int_t running;
};

static bool
svc_running(void *arg)
{
	struct svc_want *w = arg;
	json_t *s = hj_service(m.http_port, w->name);
	bool ok =
	    json_integer_value(json_object_get(s, "running")) == w->running;

	json_decref(s);
	return ok;
}

static void
wait_running(const char *name, json_int_t n)
{
	struct svc_want w = {name, n};

	if (!h_wait_until(svc_running, &w, WAIT_MS)) {
		json_t *s = hj_service(m.http_port, name);

		h_fail(__FILE__, __LINE__,
		    "service %s never had %lld running: "
		    "%s",
		    name, (long long)n, json_dumps(s, JSON_COMPACT));
	}
}

/* The ids of the service's live replicas (Running, no stop asked). */
static size_t
svc_live(const char *name, char ids[][ORCH_ID_LEN], size_t max)
{
	json_t *s = hj_service(m.http_port, name), *t;
	size_t i, n = 0;

	json_array_foreach(json_object_get(s, "tasks"), i, t)
	{
		if (strcmp(hj_str(t, "status"), "Running") != 0 ||
		    json_is_true(json_object_get(t, "stop_requested")) ||
		    n == max)
			continue;
		snprintf(ids[n++], ORCH_ID_LEN, "%s", hj_str(t, "id"));
	}
	json_decref(s);
	return n;
}

/* Running containers labelled orch.service=name, on either node of this
 * run (another run on the same daemon may have a service of that name). */
static size_t
svc_containers_running(const char *name)
{
	char l1[128];
	json_t *j, *c;
	size_t i, n = 0;

	snprintf(l1, sizeof(l1), "orch.service=%s", name);
	j = du_list_by_labels(peek, l1, NULL);
	json_array_foreach(j, i, c)
	{
		const char *on =
		    hj_str(json_object_get(c, "Labels"), "orch.node");

		n += strcmp(hj_str(c, "State"), "running") == 0 && on != NULL &&
		    (strcmp(on, node) == 0 || strcmp(on, node_b) == 0);
	}
	json_decref(j);
	return n;
}

struct replaced_want {
	const char *id;
	char by[ORCH_ID_LEN]; /* OUT */
};

static bool
is_replaced(void *arg)
{
	struct replaced_want *w = arg;
	json_t *t = hj_task(m.http_port, w->id);
	const char *by = hj_str(t, "replaced_by");

	if (by != NULL)
		snprintf(w->by, sizeof(w->by), "%s", by);
	json_decref(t);
	return by != NULL;
}

/* A service's containers carry orch.service=<name>; a container killed
 * behind the agent's back is a failed replica, replaced by a new task
 * (restarts 1) with a new container; deleting the service removes them
 * all. */
static void
test_service_replicas(void)
{
	char ids[4][ORCH_ID_LEN], path[256], e[512], web[32], body[256];
	char replica1[40];
	struct replaced_want rw;
	struct orch_docker_answer ans;
	json_t *c, *t, *s;
	const char *cid;

	/* Unique per run: containers on a shared daemon are counted by their
	 * orch.service label, whatever node runs them. */
	snprintf(web, sizeof(web), "web-%d", (int)getpid());
	snprintf(replica1, sizeof(replica1), "%s.1", web);
	snprintf(body, sizeof(body),
	    "{\"name\":\"%s\",\"image\":\"" IMAGE
	    "\",\"replicas\":2,\"command\":[\"sleep\",\"300\"],"
	    "\"memory\":16,\"cpu\":0.1}",
	    web);
	s = call("POST", "/services", body, 201);
	json_decref(s);
	wait_running(web, 2);
	ASSERT_INT_EQ(svc_live(web, ids, 4), 2);
	for (int i = 0; i < 2; i++) {
		c = the_container(ids[i]);
		ASSERT_STR_EQ(
		    hj_str(
		        json_object_get(json_object_get(c, "Config"), "Labels"),
		        "orch.service"),
		    web);
		json_decref(c);
	}
	ASSERT_INT_EQ(svc_containers_running(web), 2);

	/* One dies (SIGKILL, as the OOM killer would). */
	c = the_container(ids[0]);
	cid = hj_str(c, "Id");
	snprintf(path, sizeof(path), "/containers/%s/kill", cid);
	ASSERT_INT_EQ(orch_docker_client_call(
	                  peek, "POST", path, NULL, 30, &ans, e, sizeof(e)),
	    ORCH_OK);
	ASSERT_INT_EQ(ans.status, 204);
	orch_docker_answer_free(&ans);
	json_decref(c);
	json_decref(wait_status(ids[0], "Failed", WAIT_MS));
	rw.id = ids[0];
	rw.by[0] = '\0';
	if (!h_wait_until(is_replaced, &rw, WAIT_MS))
		h_fail(__FILE__, __LINE__, "replica %s never replaced", ids[0]);
	t = wait_status(rw.by, "Running", WAIT_MS);
	ASSERT_INT_EQ(json_integer_value(json_object_get(t, "restarts")), 1);
	ASSERT_STR_EQ(hj_str(t, "replaces"), ids[0]);
	ASSERT_STR_EQ(hj_str(t, "name"), replica1);
	json_decref(t);
	c = the_container(rw.by);
	ASSERT_STR_EQ(
	    hj_str(json_object_get(json_object_get(c, "Config"), "Labels"),
	        "orch.service"),
	    web);
	json_decref(c);
	/* The dead one's container is removed, the count is back. */
	wait_count(ids[0], 0);
	wait_running(web, 2);
	ASSERT_INT_EQ(svc_containers_running(web), 2);

	/* Deleted: every container of it goes. */
	snprintf(path, sizeof(path), "/services/%s", web);
	json_decref(call("DELETE", path, NULL, 200));
	wait_count(ids[1], 0);
	wait_count(rw.by, 0);
}

struct loss_want {
	const char *id;
};

static bool
lost_and_replaced(void *arg)
{
	json_t *t = hj_task(m.http_port, arg);
	const char *err = hj_str(t, "error");
	bool ok = strcmp(hj_str(t, "status"), "Failed") == 0 && err != NULL &&
	    strstr(err, " lost") != NULL && hj_str(t, "replaced_by") != NULL;

	json_decref(t);
	return ok;
}

static bool
svc_back_to(void *arg)
{
	return svc_containers_running(arg) == 2;
}

/* A node that stops beating (its agent frozen) loses its replica to the
 * other node; when it beats again its agent learns at once that the
 * replica was replaced, and stops and removes that container: two
 * copies do not stay. */
static void
test_service_node_loss(void)
{
	char ids[4][ORCH_ID_LEN], on_b[ORCH_ID_LEN] = "", path[128], nn[64];
	json_t *t, *n;
	size_t live;

	b_pid = agent_spawn(node_b, b_log);
	if (!h_wait_until(node_ready, node_b, WAIT_MS))
		h_fail(
		    __FILE__, __LINE__, "node %s never became Ready", node_b);
	json_decref(call("POST", "/services",
	    "{\"name\":\"ha\",\"image\":\"" IMAGE
	    "\",\"replicas\":2,\"command\":[\"sleep\",\"300\"],"
	    "\"memory\":16,\"cpu\":0.1}",
	    201));
	wait_running("ha", 2);
	live = svc_live("ha", ids, 4);
	ASSERT_INT_EQ(live, 2);
	/* Spread: one on each node. */
	for (size_t i = 0; i < live; i++) {
		t = hj_task(m.http_port, ids[i]);
		snprintf(path, sizeof(path), "/nodes/%s", hj_str(t, "node_id"));
		n = call("GET", path, NULL, 200);
		snprintf(nn, sizeof(nn), "%s", hj_str(n, "name"));
		if (strcmp(nn, node_b) == 0)
			snprintf(on_b, sizeof(on_b), "%.36s", ids[i]);
		json_decref(n);
		json_decref(t);
	}
	ASSERT(on_b[0] != '\0');
	ASSERT_INT_EQ(svc_containers_running("ha"), 2);

	/* B's agent freezes: B goes Down, its replica is lost and runs
	 * again on A, while B's container still runs. */
	ASSERT(kill(b_pid, SIGSTOP) == 0);
	if (!h_wait_until(lost_and_replaced, on_b, 2 * WAIT_MS))
		h_fail(__FILE__, __LINE__, "replica %s on %s never lost", on_b,
		    node_b);
	wait_running("ha", 2);
	ASSERT_INT_EQ(svc_containers_running("ha"), 3);

	/* B thaws: it stops and removes the replaced container itself. */
	ASSERT(kill(b_pid, SIGCONT) == 0);
	if (!h_wait_until(count_any_is_zero, on_b, WAIT_MS))
		h_fail(__FILE__, __LINE__,
		    "the container of %s was not "
		    "removed",
		    on_b);
	ASSERT(h_wait_until(svc_back_to, "ha", WAIT_MS));
	wait_running("ha", 2);
	json_decref(call("DELETE", "/services/ha", NULL, 200));
	for (size_t i = 0; i < live; i++)
		ASSERT(h_wait_until(count_any_is_zero, ids[i], WAIT_MS));
	{
		int st = h_kill(b_pid, SIGTERM);

		b_pid = 0;
		ASSERT(st != -1 && WIFEXITED(st));
	}
}

int
main(void)
{
	setvbuf(stderr, NULL, _IONBF, 0);
	snprintf(node, sizeof(node), NODE_PREFIX "%d-a", (int)getpid());
	snprintf(node_b, sizeof(node_b), NODE_PREFIX "%d-b", (int)getpid());
	if (orch_docker_client_new(SOCK, &peek) != ORCH_OK)
		h_fail(__FILE__, __LINE__, "docker client");
	/* Registered before the harness's own handler (at the first spawn),
	 * so that it runs after the processes are killed. */
	atexit(at_exit);
	du_cleanup(peek, NODE_PREFIX);

	pol_dir = h_tmpdir("agent-policy");
	snprintf(mgr_policy, sizeof(mgr_policy), "%s/manager.json", pol_dir);
	file_put(mgr_policy,
	    "{\"rules\": [{\"image\": \"orch-test/*\", "
	    "\"allow\": [\"host_mounts\", \"cap_add\"]}]}\n");
	snprintf(agent_policy, sizeof(agent_policy), "%s/agent.json", pol_dir);
	snprintf(agent_state, sizeof(agent_state), "%s/state", pol_dir);
	file_put(agent_policy,
	    "{\"rules\": [{\"image\": \"orch-test/*\", "
	    "\"allow\": [\"host_mounts\", \"cap_add\"], "
	    "\"caps\": [\"NET_ADMIN\"]}]}\n");
	{
		char ro[600];

		snprintf(ro, sizeof(ro), "%s/ro", pol_dir);
		ASSERT(mkdir(ro, 0755) == 0);
	}

	mgr_start(&m, mgr_flags);
	snprintf(pub_url, sizeof(pub_url), "tcp://127.0.0.1:%d", m.pub_port);
	snprintf(agent_log, sizeof(agent_log), "%s-agent.log", m.data);

	RUN(test_flags);
	agent_start();
	RUN(test_registers);
	RUN(test_sleep_runs);
	RUN(test_exit_codes);
	RUN(test_missing_image);
	RUN(test_garbage_rpc);
	RUN(test_agent_restart);
	RUN(test_manager_restart);
	RUN(test_delete_stops);
	RUN(test_container_settings);
	RUN(test_service_replicas);
	RUN(test_thirty);
	RUN(test_sigterm_leaves_work);
	RUN(test_manager_forgets);
	/* Last: the second agent's node stays known (and briefly Ready)
	 * after it stops, and would take later tasks. */
	RUN(test_two_agents);
	RUN(test_service_node_loss);

	/* Both stop cleanly: exit 0, which under ASan or valgrind
	 * (ORCH_VALGRIND=1) also means no memory error and no leak. */
	{
		int st = h_kill(agent_pid, SIGTERM);

		agent_pid = 0;
		ASSERT(st != -1 && WIFEXITED(st));
		ASSERT_INT_EQ(WEXITSTATUS(st), 0);
	}
	mgr_stop_clean(&m);
	finished = true;
	free(sleeper);
	return 0;
}
