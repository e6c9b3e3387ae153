/*
 * e2e_exec.c: the exec driver end to end: the real orch-manager and a real
 * orch-agent running tasks as plain processes.
 *
 * An agent with the exec driver only runs exec tasks to their exit codes,
 * stops them, and keeps them across its own restart (one that ended while
 * it was down is reported with its code); a docker task waits, saying no
 * node has the docker driver; the container policy admits only the
 * programs it names.  Then an agent whose Docker socket is missing starts
 * with exec alone and advertises docker as soon as the socket answers
 * (needs dockerd and orch-test/busybox:latest: scripts/docker-up.sh).
 * Every wait is a poll with a deadline; processes the agents leave are
 * removed with the driver itself at exit.
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

#include "docker_client.h"
#include "docker_util.h"
#include "exec_util.h"
#include "harness.h"
#include "http_json.h"
#include "manager_proc.h"

#define SOCK "/var/run/docker.sock"
#define IMAGE "orch-test/busybox:latest"
#define NODE_PREFIX "e2e-exec-"
#define WAIT_MS 30000

static struct mgr m;
static char *dir;           /* the test's files */
static char state_dir[512]; /* the agents' --state-dir */
static char policy[512], pub_url[64];
static char node[64], node_d[64];   /* the exec-only agent, the other */
static char log_a[600], log_d[600]; /* their logs */
static pid_t agent_pid;
static bool finished;
static struct orch_docker_client *peek;

static void
at_exit(void)
{
	if (!finished) {
		h_tail_file("agent log", log_a, 80);
		h_tail_file("second agent log", log_d, 80);
		h_tail_file("manager log", m.log, 80);
	}
	/* The harness has killed the agents: what they ran goes now. */
	if (dir != NULL) {
		eu_cleanup(state_dir, node);
		eu_cleanup(state_dir, node_d);
	}
	du_cleanup(peek, NODE_PREFIX);
	orch_docker_client_free(peek);
	mgr_destroy(&m);
	if (dir != NULL)
		h_rm_rf(dir);
	free(dir);
	dir = NULL;
}

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

static pid_t
agent_spawn(
    const char *name, const char *log, const char *drivers, const char *docker)
{
	char *bin = h_bin("orch-agent");
	char *argv[] = {bin, "--manager", m.rpc_url, "--events", pub_url,
	    "--name", (char *)name, "--heartbeat", "0.2", "--stop-timeout", "1",
	    "--cpu", "8", "--memory", "8192", "--state-dir", state_dir,
	    "--drivers", (char *)drivers, "--docker", (char *)docker,
	    "--log-level", "debug", NULL};
	pid_t pid = h_spawn(argv, log);

	free(bin);
	return pid;
}

/* The node's drivers, joined by ",", into buf. */
static void
node_drivers(const char *name, char *buf, size_t len)
{
	char path[128];
	json_t *n, *d;
	size_t i, o = 0;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/nodes/%s", name);
	if (h_http(m.http_port, "GET", path, NULL, NULL) != 200)
		return;
	n = call("GET", path, NULL, 200);
	if (strcmp(hj_str(n, "status") != NULL ? hj_str(n, "status") : "",
	        "Ready") != 0) {
		json_decref(n);
		return;
	}
	json_array_foreach(json_object_get(n, "drivers"), i, d)
	{
		o += (size_t)snprintf(buf + o, len - o, "%s%s",
		    o > 0 ? "," : "", json_string_value(d));
	}
	json_decref(n);
}

struct drivers_want {
	const char *node;
	const char *drivers;
};

static bool
drivers_are(void *arg)
{
	struct drivers_want *w = arg;
	char have[128];

	node_drivers(w->node, have, sizeof(have));
	return strcmp(have, w->drivers) == 0;
}

static void
wait_drivers(const char *name, const char *drivers)
{
	struct drivers_want w = {name, drivers};
	char have[128];

	if (!h_wait_until(drivers_are, &w, WAIT_MS)) {
		node_drivers(name, have, sizeof(have));
		h_fail(__FILE__, __LINE__,
		    "node %s: drivers \"%s\", wanted \"%s\"", name, have,
		    drivers);
	}
}

struct error_want {
	const char *id;
	const char *error;
};

static bool
error_is(void *arg)
{
	struct error_want *w = arg;
	json_t *t = hj_task(m.http_port, w->id);
	const char *e = hj_str(t, "error");
	bool ok = e != NULL && strstr(e, w->error) != NULL &&
	    strcmp(hj_str(t, "status"), "Pending") == 0;

	json_decref(t);
	return ok;
}

static bool
pid_gone(void *arg)
{
	return !eu_pid_alive(*(pid_t *)arg);
}

/* ---- tests ---- */

static bool
task_files_gone(void *arg)
{
	char *s = eu_task_file(state_dir, node, arg, "state");

	free(s);
	return s == NULL;
}

static void
test_exec_only_agent(void)
{
	char *ok, *fails, *docker;
	json_t *t;
	struct error_want ew;

	agent_pid = agent_spawn(node, log_a, "exec", SOCK);
	wait_drivers(node, "exec");

	ok = submit("{\"name\":\"ok\",\"driver\":\"exec\",\"command\":"
	            "[\"/bin/sh\",\"-c\",\"echo hello $WHO\"],"
	            "\"env\":{\"WHO\":\"e2e\"}}");
	fails = submit("{\"name\":\"fails\",\"driver\":\"exec\",\"command\":"
	               "[\"/bin/sh\",\"-c\",\"exit 3\"]}");
	docker = submit("{\"name\":\"container\",\"image\":\"" IMAGE "\"}");

	t = eu_wait_status(m.http_port, ok, "Completed", WAIT_MS);
	ASSERT_INT_EQ(hj_int(t, "exit_code"), 0);
	ASSERT(json_is_null(json_object_get(t, "error")));
	ASSERT_STR_EQ(hj_str(t, "driver"), "exec");
	ASSERT(strncmp(hj_str(t, "container_id"), "exec-", 5) == 0);
	json_decref(t);
	t = eu_wait_status(m.http_port, fails, "Failed", WAIT_MS);
	ASSERT_INT_EQ(hj_int(t, "exit_code"), 3);
	ASSERT_STR_EQ(hj_str(t, "error"), "exited with code 3");
	json_decref(t);

	/* The docker task waits, saying why. */
	ew = (struct error_want){
	    docker, "no Ready node has the docker driver (1 Ready, with exec)"};
	if (!h_wait_until(error_is, &ew, WAIT_MS)) {
		t = hj_task(m.http_port, docker);
		h_fail(__FILE__, __LINE__, "task not explained: %s",
		    json_dumps(t, JSON_COMPACT));
	}
	{
		char path[128];

		snprintf(path, sizeof(path), "/tasks/%s", docker);
		json_decref(call("DELETE", path, NULL, 200));
	}
	/* A finished task's files go once the manager knows its end. */
	ASSERT(h_wait_until(task_files_gone, ok, WAIT_MS));
	free(ok);
	free(fails);
	free(docker);
}

/* What a task prints is in its stdout file while it runs. */
static bool
stdout_has(void *arg)
{
	const char *const *x = arg; /* id, needle */
	char *s = eu_task_file(state_dir, node, x[0], "stdout");
	bool ok = s != NULL && strstr(s, x[1]) != NULL;

	free(s);
	return ok;
}

static void
test_output_and_stop(void)
{
	char *id, path[128];
	const char *x[2];
	json_t *t;
	pid_t pid;

	id = submit("{\"name\":\"talker\",\"driver\":\"exec\",\"command\":"
	            "[\"/bin/sh\",\"-c\",\"echo up; echo warn >&2; "
	            "exec sleep 300\"]}");
	t = eu_wait_status(m.http_port, id, "Running", WAIT_MS);
	json_decref(t);
	x[0] = id;
	x[1] = "up\n";
	ASSERT(h_wait_until(stdout_has, x, WAIT_MS));
	{
		char *err = eu_task_file(state_dir, node, id, "stderr");

		ASSERT_STR_EQ(err, "warn\n");
		free(err);
	}
	pid = eu_task_pid(state_dir, node, id);
	ASSERT(eu_pid_alive(pid));
	snprintf(path, sizeof(path), "/tasks/%s", id);
	json_decref(call("DELETE", path, NULL, 200));
	t = eu_wait_status(m.http_port, id, "Stopped", WAIT_MS);
	ASSERT_INT_EQ(hj_int(t, "exit_code"), 128 + SIGTERM);
	json_decref(t);
	ASSERT(h_wait_until(pid_gone, &pid, WAIT_MS));
	free(id);
}

/* The agent goes away and comes back: what runs is adopted (the same
 * process, the same container id), what ended meanwhile is reported with
 * its exit code, and nothing starts twice. */
static void
test_agent_restart(void)
{
	char *runs, *ends, *cid, go[1024];
	json_t *t;
	pid_t pid, pid_e;
	FILE *f;

	runs = submit("{\"name\":\"runs\",\"driver\":\"exec\",\"command\":"
	              "[\"/bin/sleep\",\"300\"]}");
	ends = submit("{\"name\":\"ends\",\"driver\":\"exec\",\"command\":"
	              "[\"/bin/sh\",\"-c\",\"while [ ! -e go ]; do sleep 0.05; "
	              "done; exit 5\"]}");
	t = eu_wait_status(m.http_port, runs, "Running", WAIT_MS);
	cid = strdup(hj_str(t, "container_id"));
	json_decref(t);
	json_decref(eu_wait_status(m.http_port, ends, "Running", WAIT_MS));
	pid = eu_task_pid(state_dir, node, runs);
	pid_e = eu_task_pid(state_dir, node, ends);

	ASSERT(h_kill(agent_pid, SIGKILL) != -1);
	agent_pid = 0;
	/* While no agent runs, one ends. */
	snprintf(
	    go, sizeof(go), "%s/exec/%s/%s/work/go", state_dir, node, ends);
	f = fopen(go, "w");
	ASSERT(f != NULL);
	fclose(f);
	ASSERT(h_wait_until(pid_gone, &pid_e, WAIT_MS));
	ASSERT(eu_pid_alive(pid));

	agent_pid = agent_spawn(node, log_a, "exec", SOCK);
	t = eu_wait_status(m.http_port, ends, "Failed", WAIT_MS);
	ASSERT_INT_EQ(hj_int(t, "exit_code"), 5);
	ASSERT_STR_EQ(hj_str(t, "error"), "exited with code 5");
	json_decref(t);
	t = hj_task(m.http_port, runs);
	ASSERT_STR_EQ(hj_str(t, "status"), "Running");
	ASSERT_STR_EQ(hj_str(t, "container_id"), cid);
	json_decref(t);
	ASSERT_INT_EQ(eu_task_pid(state_dir, node, runs), pid);
	ASSERT(eu_pid_alive(pid));
	{
		char path[128];

		snprintf(path, sizeof(path), "/tasks/%s", runs);
		json_decref(call("DELETE", path, NULL, 200));
	}
	json_decref(eu_wait_status(m.http_port, runs, "Stopped", WAIT_MS));
	ASSERT(h_wait_until(pid_gone, &pid, WAIT_MS));
	free(cid);
	free(runs);
	free(ends);
}

/* The manager's policy names the programs exec tasks may run. */
static void
test_policy(void)
{
	json_t *e = call("POST", "/tasks",
	    "{\"name\":\"nope\",\"driver\":\"exec\",\"command\":"
	    "[\"/usr/bin/env\"]}",
	    403);

	ASSERT_STR_CONTAINS(hj_str(e, "error"),
	    "\"exec\" runs a process on the node's host and is not allowed "
	    "by the container policy for command \"/usr/bin/env\"");
	json_decref(e);
	e = call("POST", "/tasks",
	    "{\"name\":\"bad\",\"driver\":\"exec\",\"image\":\"x\","
	    "\"command\":[\"/bin/true\"]}",
	    400);
	ASSERT_STR_CONTAINS(
	    hj_str(e, "error"), "field \"image\" is for the docker driver");
	json_decref(e);
	e = call(
	    "POST", "/tasks", "{\"name\":\"bad\",\"driver\":\"exec\"}", 400);
	ASSERT_STR_CONTAINS(
	    hj_str(e, "error"), "field \"command\" is required with driver");
	json_decref(e);
}

/* Docker not answering at start: exec alone; once its socket answers the
 * agent advertises docker (registering again) and the waiting container
 * task runs. */
static void
test_docker_appears(void)
{
	char sock[600], *id;
	json_t *t;
	pid_t pid;
	struct error_want ew;

	snprintf(sock, sizeof(sock), "%s/docker.sock", dir);
	pid = agent_spawn(node_d, log_d, "docker,exec", sock);
	wait_drivers(node_d, "exec");
	/* Only node_d may take it, and it cannot yet. */
	{
		char body[512];

		snprintf(body, sizeof(body),
		    "{\"name\":\"late\",\"image\":\"" IMAGE "\","
		    "\"command\":[\"sh\",\"-c\",\"exit 0\"],"
		    "\"constraints\":[\"node.name==%s\"]}",
		    node_d);
		id = submit(body);
	}
	ew = (struct error_want){id, "no Ready node has the docker driver"};
	ASSERT(h_wait_until(error_is, &ew, WAIT_MS));
	ASSERT(symlink(SOCK, sock) == 0);
	wait_drivers(node_d, "docker,exec");
	t = eu_wait_status(m.http_port, id, "Completed", 60000);
	ASSERT_INT_EQ(hj_int(t, "exit_code"), 0);
	json_decref(t);
	{
		char *log = h_read_file(log_d);

		ASSERT_STR_CONTAINS(log, "the docker driver is off");
		ASSERT_STR_CONTAINS(log, "the docker driver is on now");
		free(log);
	}
	ASSERT(h_kill(pid, SIGTERM) != -1);
	free(id);
}

int
main(void)
{
	const char *flags[] = {
	    "--heartbeat-ttl", "10", "--policy", policy, NULL};
	FILE *f;

	signal(SIGPIPE, SIG_IGN);
	atexit(at_exit);
	dir = h_tmpdir("e2e-exec");
	snprintf(state_dir, sizeof(state_dir), "%s/state", dir);
	snprintf(policy, sizeof(policy), "%s/policy.json", dir);
	snprintf(node, sizeof(node), NODE_PREFIX "%d-exec", (int)getpid());
	snprintf(
	    node_d, sizeof(node_d), NODE_PREFIX "%d-docker", (int)getpid());
	snprintf(log_a, sizeof(log_a), "%s/agent.log", dir);
	snprintf(log_d, sizeof(log_d), "%s/agent-docker.log", dir);
	f = fopen(policy, "w");
	ASSERT(f != NULL);
	fputs(
	    "{\"rules\": [{\"command\": \"/bin/*\", \"allow\": [\"exec\"]}]}\n",
	    f);
	fclose(f);
	ASSERT(orch_docker_client_new(SOCK, &peek) == 0);
	mgr_start(&m, flags);
	snprintf(pub_url, sizeof(pub_url), "tcp://127.0.0.1:%d", m.pub_port);

	RUN(test_exec_only_agent);
	RUN(test_output_and_stop);
	RUN(test_agent_restart);
	RUN(test_policy);
	RUN(test_docker_appears);
	finished = true;
	return 0;
}
