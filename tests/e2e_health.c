/*
 * e2e_health.c: health checks end to end: the real orch-manager, a real
 * orch-agent, the real Docker daemon and real processes.
 *
 * A busybox httpd listening on a loopback port of the host (network
 * "host", which the manager's policy allows for the test image) passes
 * its http check and shows healthy in the API and in orchctl; a task
 * whose exec check runs `false` becomes unhealthy, is stopped, and is
 * restarted as its restart policy allows, restarts counted, until the
 * policy gives up; a tcp check of a container port that is not
 * published fails saying so (no traffic ever goes to the container's
 * own address); a service's unhealthy replica is replaced; an exec task's
 * exec check runs on the host.
 *
 * Needs dockerd and orch-test/busybox:latest (scripts/docker-up.sh).
 * Checks run every second.  Every wait is a poll with a deadline; the
 * containers and processes of the agent are removed at exit.
 */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "docker_client.h"
#include "docker_util.h"
#include "error.h"
#include "exec_util.h"
#include "harness.h"
#include "http_json.h"
#include "manager_proc.h"

#define SOCK "/var/run/docker.sock"
#define IMAGE "orch-test/busybox:latest"
#define NODE_PREFIX "e2e-health-"
#define WAIT_MS (h_valgrind() ? 240000 : 60000)

static struct mgr m;
static char *dir;
static char state_dir[512], policy[512], pub_url[64], node[64], agent_log[600];
static pid_t agent_pid;
static bool finished;
static struct orch_docker_client *peek;

static void
at_exit(void)
{
	if (!finished) {
		char *s = h_read_file(agent_log);

		if (s != NULL)
			fprintf(stderr, "---- agent log (%s), last part:\n%s\n",
			    agent_log,
			    strlen(s) > 8000 ? s + strlen(s) - 8000 : s);
		free(s);
	}
	/* The harness has killed the agent: what it ran goes now. */
	if (dir != NULL)
		eu_cleanup(state_dir, node);
	du_cleanup(peek, NODE_PREFIX);
	orch_docker_client_free(peek);
	mgr_destroy(&m);
	if (dir != NULL)
		h_rm_rf(dir);
	free(dir);
	dir = NULL;
}

/* Waits until task id's health is health; returns the task. */
static json_t *
wait_health(const char *id, const char *health)
{
	return eu_wait_field(m.http_port, id, "health", health, WAIT_MS);
}

static bool
no_container(void *arg)
{
	return du_task_count(peek, arg, node) == 0;
}

/* The id of the task that replaced task id (malloc'd), once there is
 * one. */
static bool
replaced(void *arg)
{
	json_t *t = hj_task(m.http_port, arg);
	bool ok = hj_str(t, "replaced_by") != NULL;

	json_decref(t);
	return ok;
}

static char *
wait_replaced(const char *id)
{
	json_t *t;
	char *next;

	ASSERT(h_wait_until(replaced, (void *)id, WAIT_MS));
	t = hj_task(m.http_port, id);
	next = strdup(hj_str(t, "replaced_by"));
	ASSERT(next != NULL);
	json_decref(t);
	return next;
}

/* An unhealthy end: Failed, health unhealthy, the check's words. */
static void
assert_unhealthy(json_t *t, const char *why)
{
	ASSERT_STR_EQ(hj_str(t, "status"), "Failed");
	ASSERT_STR_EQ(hj_str(t, "health"), "unhealthy");
	ASSERT_STR_CONTAINS(hj_str(t, "error"), why);
	ASSERT(json_is_null(json_object_get(t, "exit_code")));
}

/* ---- tests ---- */

/* httpd on a loopback port of the host passes its http check: healthy
 * in the API, in orchctl list and in orchctl get. */
static void
test_http_healthy(void)
{
	int port = h_free_port();
	char body[1024], *id, *out = NULL, *err = NULL;
	json_t *t, *hc;

	snprintf(body, sizeof(body),
	    "{\"name\":\"web\",\"image\":\"" IMAGE "\",\"network\":\"host\","
	    "\"command\":[\"sh\",\"-c\",\"mkdir -p /tmp/www && echo up > "
	    "/tmp/www/ready && exec httpd -f -p 127.0.0.1:%d -h /tmp/www\"],"
	    "\"health\":{\"type\":\"http\",\"port\":%d,\"path\":\"/ready\","
	    "\"interval_s\":1,\"timeout_s\":2,\"retries\":3}}",
	    port, port);
	id = hj_submit(m.http_port, body);
	t = wait_health(id, "healthy");
	ASSERT_STR_EQ(hj_str(t, "status"), "Running");
	hc = json_object_get(t, "healthcheck");
	ASSERT_STR_EQ(hj_str(hc, "type"), "http");
	ASSERT_INT_EQ(hj_int(hc, "port"), port);
	ASSERT_STR_EQ(hj_str(hc, "path"), "/ready");
	ASSERT_INT_EQ(hj_int(hc, "interval_s"), 1);
	/* The default where none was given. */
	ASSERT_INT_EQ(hj_int(hc, "start_period_s"), 0);
	json_decref(t);

	{
		const char *args[] = {"list", NULL};

		ASSERT_INT_EQ(h_orchctl(m.addr, &out, &err, args), 0);
		ASSERT_STR_CONTAINS(out, "Running (healthy)");
		free(out);
		free(err);
	}
	{
		const char *args[] = {"get", id, NULL};

		ASSERT_INT_EQ(h_orchctl(m.addr, &out, &err, args), 0);
		ASSERT_STR_CONTAINS(out, "health: healthy\n");
		ASSERT_STR_CONTAINS(out, "healthcheck: type=http");
		free(out);
		free(err);
	}
	{
		char path[128];

		snprintf(path, sizeof(path), "/tasks/%s", id);
		json_decref(hj_call(m.http_port, "DELETE", path, NULL, 200));
		json_decref(
		    eu_wait_status(m.http_port, id, "Stopped", WAIT_MS));
	}
	ASSERT(h_wait_until(no_container, id, WAIT_MS));
	free(id);
}

/* An exec check that fails: unhealthy, the container stopped and
 * removed, a new attempt with restarts counted, until on-failure:1 gives
 * up. */
static void
test_exec_unhealthy_restarts(void)
{
	char *first, *second;
	json_t *t;

	first = hj_submit(m.http_port,
	    "{\"name\":\"sick\",\"image\":\"" IMAGE "\","
	    "\"network\":\"none\","
	    "\"command\":[\"sleep\",\"1000\"],\"restart\":"
	    "\"on-failure:1\",\"health\":{\"type\":\"exec\","
	    "\"command\":[\"false\"],\"interval_s\":1,"
	    "\"retries\":2}}");
	t = eu_wait_status(m.http_port, first, "Failed", WAIT_MS);
	assert_unhealthy(
	    t, "health check failed 2 times: exec \"false\" -> exit code 1");
	ASSERT_INT_EQ(hj_int(t, "restarts"), 0);
	json_decref(t);
	/* The agent stopped and removed its container. */
	ASSERT(h_wait_until(no_container, first, WAIT_MS));

	second = wait_replaced(first);
	t = hj_task(m.http_port, second);
	ASSERT_INT_EQ(hj_int(t, "restarts"), 1);
	ASSERT_STR_EQ(hj_str(t, "replaces"), first);
	json_decref(t);
	t = eu_wait_status(m.http_port, second, "Failed", WAIT_MS);
	assert_unhealthy(t, "health check failed 2 times");
	json_decref(t);
	ASSERT(h_wait_until(no_container, second, WAIT_MS));
	/* on-failure:1: that was the last attempt. */
	t = hj_task(m.http_port, second);
	ASSERT(json_is_null(json_object_get(t, "replaced_by")));
	json_decref(t);
	free(first);
	free(second);
}

/* A tcp check of a port the container does not publish fails saying
 * so: the checker does not go to the container's own address. */
static void
test_tcp_unpublished(void)
{
	char *id = hj_submit(m.http_port,
	    "{\"name\":\"hidden\",\"image\":\"" IMAGE "\","
	    "\"command\":[\"nc\",\"-l\",\"-p\",\"80\"],"
	    "\"health\":{\"type\":\"tcp\",\"port\":80,"
	    "\"interval_s\":1,\"retries\":1}}");
	json_t *t = eu_wait_status(m.http_port, id, "Failed", WAIT_MS);

	assert_unhealthy(t,
	    "health check failed once: tcp :80 -> port 80/tcp of the "
	    "container is not published on the host");
	ASSERT_STR_CONTAINS(
	    hj_str(t, "error"), "never at the container's own address");
	json_decref(t);
	ASSERT(h_wait_until(no_container, id, WAIT_MS));
	free(id);
}

/* A tcp check of a loopback port where nothing listens fails; one where
 * a server listens passes. */
static void
test_tcp_closed_and_open(void)
{
	int port = h_free_port();
	char body[1024], *closed, *open;
	json_t *t;

	snprintf(body, sizeof(body),
	    "{\"name\":\"closed\",\"image\":\"" IMAGE "\",\"network\":\"host\","
	    "\"command\":[\"sleep\",\"1000\"],\"health\":{\"type\":\"tcp\","
	    "\"port\":%d,\"interval_s\":1,\"retries\":1}}",
	    port);
	closed = hj_submit(m.http_port, body);
	t = eu_wait_status(m.http_port, closed, "Failed", WAIT_MS);
	assert_unhealthy(t, "cannot connect to 127.0.0.1:");
	ASSERT_STR_CONTAINS(hj_str(t, "error"), "Connection refused");
	json_decref(t);

	snprintf(body, sizeof(body),
	    "{\"name\":\"open\",\"image\":\"" IMAGE "\",\"network\":\"host\","
	    "\"command\":[\"httpd\",\"-f\",\"-p\",\"127.0.0.1:%d\",\"-h\","
	    "\"/tmp\"],\"health\":{\"type\":\"tcp\",\"port\":%d,"
	    "\"interval_s\":1}}",
	    port, port);
	open = hj_submit(m.http_port, body);
	json_decref(wait_health(open, "healthy"));
	{
		char path[128];

		snprintf(path, sizeof(path), "/tasks/%s", open);
		json_decref(hj_call(m.http_port, "DELETE", path, NULL, 200));
		json_decref(
		    eu_wait_status(m.http_port, open, "Stopped", WAIT_MS));
	}
	free(closed);
	free(open);
}

static bool
service_has_task(void *arg)
{
	json_t *s = hj_service(m.http_port, arg);
	bool ok = json_array_size(json_object_get(s, "tasks")) > 0;

	json_decref(s);
	return ok;
}

/* A service's unhealthy replica is replaced by the reconciler. */
static void
test_service_replaced(void)
{
	json_t *s, *tasks, *t;
	char *first = NULL, *next;

	json_decref(hj_call(m.http_port, "POST", "/services",
	    "{\"name\":\"flaky\",\"image\":\"" IMAGE "\",\"replicas\":1,"
	    "\"network\":\"none\","
	    "\"command\":[\"sleep\",\"1000\"],\"health\":{\"type\":\"exec\","
	    "\"command\":[\"false\"],\"interval_s\":1,\"retries\":1}}",
	    201));
	/* Its replica is made by the next scheduling pass. */
	ASSERT(h_wait_until(service_has_task, "flaky", WAIT_MS));
	s = hj_call(m.http_port, "GET", "/services/flaky", NULL, 200);
	tasks = json_object_get(s, "tasks");
	first = strdup(hj_str(json_array_get(tasks, 0), "id"));
	ASSERT(first != NULL);
	json_decref(s);

	t = eu_wait_status(m.http_port, first, "Failed", WAIT_MS);
	assert_unhealthy(t, "health check failed once: exec \"false\"");
	json_decref(t);
	next = wait_replaced(first);
	t = hj_task(m.http_port, next);
	ASSERT_INT_EQ(hj_int(t, "restarts"), 1);
	ASSERT_STR_EQ(hj_str(t, "service"), "flaky");
	json_decref(t);
	json_decref(
	    hj_call(m.http_port, "DELETE", "/services/flaky", NULL, 200));
	ASSERT(h_wait_until(no_container, next, WAIT_MS));
	free(first);
	free(next);
}

/* An exec task's exec check runs on the host, with the task's env. */
static void
test_exec_driver(void)
{
	char *id = hj_submit(m.http_port,
	    "{\"name\":\"plain\",\"driver\":\"exec\",\"command\":"
	    "[\"/bin/sleep\",\"1000\"],\"env\":{\"WANT\":\"yes\"},"
	    "\"health\":{\"type\":\"exec\",\"command\":[\"/bin/sh\",\"-c\","
	    "\"test \\\"$WANT\\\" = yes\"],\"interval_s\":1}}");
	char path[128];

	json_decref(wait_health(id, "healthy"));
	snprintf(path, sizeof(path), "/tasks/%s", id);
	json_decref(hj_call(m.http_port, "DELETE", path, NULL, 200));
	json_decref(eu_wait_status(m.http_port, id, "Stopped", WAIT_MS));
	free(id);
}

int
main(void)
{
	const char *flags[] = {"--policy", policy, NULL};
	FILE *f;

	setvbuf(stderr, NULL, _IONBF, 0);
	snprintf(node, sizeof(node), NODE_PREFIX "%d", (int)getpid());
	if (orch_docker_client_new(SOCK, &peek) != ORCH_OK)
		h_fail(__FILE__, __LINE__, "docker client");
	/* Before the harness's own handler (at the first spawn), so that it
	 * runs after the processes are killed. */
	atexit(at_exit);
	du_cleanup(peek, NODE_PREFIX);

	dir = h_tmpdir("e2e-health");
	snprintf(state_dir, sizeof(state_dir), "%s/state", dir);
	snprintf(policy, sizeof(policy), "%s/policy.json", dir);
	ASSERT((f = fopen(policy, "w")) != NULL);
	fputs("{\"rules\": [{\"image\": \"orch-test/*\", \"allow\": "
	      "[\"network_host\"]}, {\"command\": \"/bin/*\", \"allow\": "
	      "[\"exec\"]}]}\n",
	    f);
	ASSERT(fclose(f) == 0);

	mgr_start(&m, flags);
	snprintf(pub_url, sizeof(pub_url), "tcp://127.0.0.1:%d", m.pub_port);
	snprintf(agent_log, sizeof(agent_log), "%s/agent.log", dir);
	{
		char *bin = h_bin("orch-agent");
		char *argv[] = {bin, "--manager", m.rpc_url, "--events",
		    pub_url, "--name", node, "--heartbeat", "0.2",
		    "--stop-timeout", "1", "--cpu", "16", "--memory", "16384",
		    "--state-dir", state_dir, "--cgroup", "none", "--log-level",
		    "debug", NULL};

		agent_pid = h_spawn(argv, agent_log);
		free(bin);
	}

	RUN(test_http_healthy);
	RUN(test_exec_unhealthy_restarts);
	RUN(test_tcp_unpublished);
	RUN(test_tcp_closed_and_open);
	RUN(test_service_replaced);
	RUN(test_exec_driver);

	/* Both stop cleanly: exit 0, which under ASan or valgrind also
	 * means no memory error and no leak (the checker's threads and its
	 * checks included). */
	{
		int st = h_kill(agent_pid, SIGTERM);

		agent_pid = 0;
		ASSERT(st != -1 && WIFEXITED(st));
		ASSERT_INT_EQ(WEXITSTATUS(st), 0);
	}
	mgr_stop_clean(&m);
	finished = true;
	return 0;
}
