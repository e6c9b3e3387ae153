/*
 * e2e_dev.c: orch-manager --dev, the whole cluster in one process, driven
 * with orchctl as the README's quick start does.
 *
 * Without --data: an exec task (and a container, when Docker answers) runs
 * to its exit code, and SIGTERM ends the process cleanly, killing what
 * still runs and removing its temporary directory.  With --data: tasks
 * keep running across a restart and are found again.  Refusals: listeners
 * that dev mode does not have, and --http beyond loopback.  Every wait is
 * a poll with a deadline.
 */
#include <dirent.h>
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

#define WAIT_MS 30000
#define SOCK "/var/run/docker.sock"
#define IMAGE "orch-test/busybox:latest"

/* The manager under test and what it is known by. */
static pid_t pid;
static int port;
static char addr[64], log_path[600], node[64], state_dir[1100];
static char *tmp, *data;
static bool finished;

static void
at_exit(void)
{
	if (!finished) {
		char *s = h_read_file(log_path);

		if (s != NULL)
			fprintf(stderr, "---- orch-manager --dev log:\n%s\n",
			    strlen(s) > 8000 ? s + strlen(s) - 8000 : s);
		free(s);
	}
	if (pid > 0)
		h_kill(pid, SIGKILL);
	if (node[0] != '\0' && state_dir[0] != '\0')
		eu_cleanup(state_dir, node);
	if (tmp != NULL)
		h_rm_rf(tmp);
	if (data != NULL)
		h_rm_rf(data);
	unlink(log_path);
}

static bool
healthy(void *arg)
{
	(void)arg;
	return h_http(port, "GET", "/healthz", NULL, NULL) == 200;
}

/* The one node, when Ready: its name into node. */
static bool
node_ready(void *arg)
{
	(void)arg;
	return hj_one_node_ready(port, node, sizeof(node));
}

/* Starts orch-manager --dev with extra flags (NULL-terminated, at most 4)
 * and waits for its node. */
static void
dev_start(const char *const *extra)
{
	char *bin = h_bin("orch-manager"), port_arg[32];
	char *argv[12] = {bin, "--dev", "--http", port_arg, NULL};
	int n = 4;

	snprintf(port_arg, sizeof(port_arg), "127.0.0.1:%d", port);
	for (int i = 0; extra != NULL && extra[i] != NULL && n < 10; i++)
		argv[n++] = (char *)extra[i];
	argv[n] = NULL;
	pid = h_spawn(argv, log_path);
	free(bin);
	ASSERT(h_wait_until(healthy, NULL, WAIT_MS));
	ASSERT(h_wait_until(node_ready, NULL, WAIT_MS));
}

/* SIGTERM; asserts a clean exit. */
static void
dev_stop(void)
{
	int st;

	ASSERT_INT_EQ(kill(pid, SIGTERM), 0);
	st = h_wait_pid(pid, WAIT_MS);
	pid = 0;
	ASSERT(st != -1);
	ASSERT(WIFEXITED(st));
	ASSERT_INT_EQ(WEXITSTATUS(st), 0);
}

/* orchctl ARGS against the manager; asserts it succeeds and returns the
 * new task's id (malloc'd) from its "ID: " line. */
static char *
ctl_run(const char *const *args)
{
	char *out = NULL, *err = NULL, *p, *id;

	if (h_orchctl(addr, &out, &err, args) != 0)
		h_fail(__FILE__, __LINE__, "orchctl %s: %s%s", args[0],
		    out != NULL ? out : "", err != NULL ? err : "");
	p = strstr(out, "ID: ");
	ASSERT(p != NULL);
	id = strndup(p + 4, 36);
	free(out);
	free(err);
	return id;
}

static bool
pid_gone(void *arg)
{
	return !eu_pid_alive(*(pid_t *)arg);
}

/* The name of the only entry of d (the data directory mkdtemp made). */
static void
only_entry(const char *d, char *buf, size_t len)
{
	DIR *dd = opendir(d);
	struct dirent *de;
	int n = 0;

	ASSERT(dd != NULL);
	while ((de = readdir(dd)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(buf, len, "%s/%s", d, de->d_name);
		n++;
	}
	closedir(dd);
	ASSERT_INT_EQ(n, 1);
}

static bool
is_empty(const char *d)
{
	DIR *dd = opendir(d);
	struct dirent *de;
	bool empty = true;

	ASSERT(dd != NULL);
	while ((de = readdir(dd)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			empty = false;
	}
	closedir(dd);
	return empty;
}

static void
test_flags(void)
{
	char *bin = h_bin("orch-manager"), *out = NULL, *err = NULL;

	{
		char *argv[] = {bin, "--help", NULL};

		ASSERT_INT_EQ(h_run(argv, &out, &err, 5000), 0);
		ASSERT_STR_CONTAINS(out, "--dev");
		free(out);
		free(err);
	}
	{
		char *argv[] = {
		    bin, "--dev", "--rpc", "tcp://127.0.0.1:1", NULL};

		ASSERT_INT_EQ(h_run(argv, &out, &err, 5000), 2);
		ASSERT_STR_CONTAINS(
		    err, "--rpc, --pub and --tls-dir do not apply");
		free(out);
		free(err);
	}
	{
		char *argv[] = {bin, "--dev", "--http", "0.0.0.0:1", NULL};

		ASSERT_INT_EQ(h_run(argv, &out, &err, 5000), 2);
		ASSERT_STR_CONTAINS(err, "--dev listens on loopback only");
		free(out);
		free(err);
	}
	free(bin);
}

static bool
logs_say_still_here(void *arg)
{
	const char *args[] = {"logs", "longer", NULL};
	char *out = NULL, *err = NULL;
	bool ok;

	(void)arg;
	ok = h_orchctl(addr, &out, &err, args) == 0 && out != NULL &&
	    strcmp(out, "still here\n") == 0;
	free(out);
	free(err);
	return ok;
}

static void
test_temporary(void)
{
	const char *hello[] = {"run", "hello", "--driver", "exec", "--",
	    "/bin/sh", "-c", "echo hello from orch", NULL};
	const char *longer[] = {"run", "longer", "--driver", "exec", "--",
	    "/bin/sh", "-c", "echo still here; exec sleep 300", NULL};
	char dd[1024], *id, *lid, *log, *cid_docker = NULL;
	json_t *t, *n;
	pid_t task_pid;
	bool docker;

	tmp = h_tmpdir("dev-tmp");
	ASSERT_INT_EQ(setenv("TMPDIR", tmp, 1), 0);
	dev_start(NULL);
	only_entry(tmp, dd, sizeof(dd));
	snprintf(state_dir, sizeof(state_dir), "%s/agent", dd);
	ASSERT(strncmp(node, "dev-", 4) == 0);
	log = h_read_file(log_path);
	ASSERT_STR_CONTAINS(log, "orch dev mode");
	{
		char want[128];

		snprintf(want, sizeof(want), "export ORCH_ADDR=%s", addr);
		ASSERT_STR_CONTAINS(log, want);
	}
	free(log);

	id = ctl_run(hello);
	t = eu_wait_status(port, id, "Completed", WAIT_MS);
	ASSERT_INT_EQ(hj_int(t, "exit_code"), 0);
	json_decref(t);

	/* A container too when Docker answers (CI starts it). */
	n = hj_call(port, "GET", "/nodes", NULL, 200);
	docker = false;
	{
		json_t *d;
		size_t i;

		json_array_foreach(
		    json_object_get(json_array_get(n, 0), "drivers"), i, d)
		{
			docker |= strcmp(json_string_value(d), "docker") == 0;
		}
	}
	json_decref(n);
	if (docker) {
		const char *web[] = {
		    "run", "web", IMAGE, "--", "sh", "-c", "exit 0", NULL};
		const char *stay[] = {
		    "run", "stay", IMAGE, "--", "sleep", "300", NULL};
		char *wid = ctl_run(web), *sid = ctl_run(stay);

		t = eu_wait_status(port, wid, "Completed", 60000);
		ASSERT_INT_EQ(hj_int(t, "exit_code"), 0);
		json_decref(t);
		t = eu_wait_status(port, sid, "Running", 60000);
		cid_docker = strdup(hj_str(t, "container_id"));
		json_decref(t);
		free(wid);
		free(sid);
	} else {
		printf("Docker does not answer: exec tasks only\n");
	}

	lid = ctl_run(longer);
	json_decref(eu_wait_status(port, lid, "Running", WAIT_MS));
	task_pid = eu_task_pid(state_dir, node, lid);
	ASSERT(eu_pid_alive(task_pid));
	/* Its output, from the agent in the process, over inproc. */
	ASSERT(h_wait_until(logs_say_still_here, NULL, WAIT_MS));

	dev_stop();
	/* Everything it ran, and its directory, went with it. */
	ASSERT(h_wait_until(pid_gone, &task_pid, WAIT_MS));
	ASSERT(is_empty(tmp));
	if (cid_docker != NULL) {
		struct orch_docker_client *c = NULL;
		char label[96];
		json_t *left;

		ASSERT(orch_docker_client_new(SOCK, &c) == 0);
		snprintf(label, sizeof(label), "orch.node=%s", node);
		left = du_list_by_labels(c, label, NULL);
		ASSERT_INT_EQ(json_array_size(left), 0);
		json_decref(left);
		orch_docker_client_free(c);
	}
	free(cid_docker);
	free(id);
	free(lid);
	unsetenv("TMPDIR");
	state_dir[0] = '\0';
}

static void
test_persistent(void)
{
	const char *runs[] = {
	    "run", "runs", "--driver", "exec", "--", "sleep", "300", NULL};
	const char *flags[] = {"--data", NULL, NULL};
	char *id, *cid, *name;
	json_t *t;
	pid_t task_pid;
	struct stat st;

	data = h_tmpdir("dev-data");
	flags[1] = data;
	snprintf(state_dir, sizeof(state_dir), "%s/agent", data);
	dev_start(flags);
	name = strdup(node);
	id = ctl_run(runs);
	t = eu_wait_status(port, id, "Running", WAIT_MS);
	cid = strdup(hj_str(t, "container_id"));
	json_decref(t);
	task_pid = eu_task_pid(state_dir, node, id);

	dev_stop();
	ASSERT(stat(data, &st) == 0);
	ASSERT(eu_pid_alive(task_pid));

	/* The same directory: the same node, which finds its task. */
	dev_start(flags);
	ASSERT_STR_EQ(node, name);
	t = hj_task(port, id);
	ASSERT_STR_EQ(hj_str(t, "status"), "Running");
	ASSERT_STR_EQ(hj_str(t, "container_id"), cid);
	json_decref(t);
	ASSERT_INT_EQ(eu_task_pid(state_dir, node, id), task_pid);
	{
		const char *stop[] = {"stop", "runs", NULL};
		char *out = NULL, *err = NULL;

		ASSERT_INT_EQ(h_orchctl(addr, &out, &err, stop), 0);
		free(out);
		free(err);
	}
	json_decref(eu_wait_status(port, id, "Stopped", WAIT_MS));
	ASSERT(h_wait_until(pid_gone, &task_pid, WAIT_MS));
	dev_stop();
	free(name);
	free(cid);
	free(id);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	atexit(at_exit);
	port = h_free_port();
	snprintf(addr, sizeof(addr), "http://127.0.0.1:%d", port);
	snprintf(log_path, sizeof(log_path), "/tmp/orch-e2e-dev-%d.log",
	    (int)getpid());
	RUN(test_flags);
	RUN(test_temporary);
	RUN(test_persistent);
	finished = true;
	return 0;
}
