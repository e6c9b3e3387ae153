/*
 * e2e_dockerfault.c: the Docker daemon stopped and started again under a
 * running agent, with the real orch-manager, orch-agent and dockerd.
 *
 * The machine's shared dockerd is never touched: the test starts a second,
 * private dockerd of its own (its own socket, data root, exec root and so
 * containerd, pid file, no bridge and no iptables rules; containers use
 * network "none") in a network namespace of its own, imports the test
 * image into it (docker save | docker load: nothing is pulled), and points
 * one agent at it.  The namespace is not optional: a dockerd started with
 * --bridge=none deletes the host's docker0, the shared daemon's bridge, in
 * the namespace it runs in.  Then, twice:
 *
 *  1. without live-restore, dockerd is stopped with SIGTERM (it stops its
 *     containers): the node reports its docker driver unhealthy (GET
 *     /nodes, and a 0 in GET /metrics), a new docker task waits saying
 *     why, an exec task still runs there, the agent does not spin, and
 *     the running task is not lost.  dockerd
 *     comes back (with live-restore from then on): the driver is healthy
 *     again, the waiting task runs, and the task whose container dockerd
 *     stopped is reported Failed with its exit code and replaced by its
 *     restart policy;
 *  2. with live-restore, dockerd is stopped again (its containers keep
 *     running): the same while it is away; once back, the tasks are still
 *     Running in the very same containers, one each.
 * The task with the restart policy has an exec health check, which cannot
 * run while dockerd is away: it stays healthy through both outages (an
 * outage is not its failure), and once dockerd is back its checks count
 * again (one made to fail turns it unhealthy).
 *
 * Needs root, dockerd and the docker CLI, and orch-test/busybox:latest in
 * the shared daemon (scripts/docker-up.sh); skipped (exit 77) when a second
 * dockerd cannot be started here.  Every wait is a poll with a deadline.
 * The private dockerd is stopped by its pid, its containers removed, its
 * mounts undone and its directory removed, also when the test fails; what
 * an earlier run killed mid-way left behind (its directory names its pid)
 * is cleaned up first.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "docker_client.h"
#include "docker_util.h"
#include "exec_util.h"
#include "harness.h"
#include "http_json.h"
#include "manager_proc.h"
#include "prom_text.h"

#define SKIP 77
#define IMAGE "orch-test/busybox:latest"
#define DIR_PREFIX "orch-dockerfault-"
#define WAIT_MS 60000
/* A spinning thread takes a whole core; an idle agent a few percent. */
#define CPU_SHARE_MAX 0.5
/* Beats the CPU use is measured over (the agent beats every 200 ms). */
#define CPU_BEATS 10

static const char *dockerd_bin;
static char *dir; /* the private daemon's */
static char sock[256], sock_url[300], dlog[300];
static pid_t dockerd_pid;
static bool dockerd_ran; /* it started once: it may have containers */
static struct orch_docker_client *peek; /* the private daemon */
static struct mgr m;
static char pub_url[64], policy[300], state_dir[300];
static char node[64], agent_log[300];
static pid_t agent_pid;
static bool finished;
static bool had_docker0; /* the host's, the shared daemon's bridge */

/* ---- the private dockerd ---- */

/* Starts dockerd on the files of directory d (live_restore: with
 * --live-restore) in a new network namespace, its output appended to
 * d/dockerd.log.  Returns its pid (it exits 126 when the namespace cannot
 * be made).  It gets SIGTERM if this test dies, and stops cleanly then. */
static pid_t
dockerd_spawn(const char *d, bool live_restore)
{
	char host[300], root[300], exec_root[300], pidf[300], conf[300];
	char logf[300];
	char *argv[16];
	int k = 0, fd;
	pid_t pid;
	FILE *f;

	snprintf(host, sizeof(host), "unix://%s/docker.sock", d);
	snprintf(root, sizeof(root), "%s/root", d);
	snprintf(exec_root, sizeof(exec_root), "%s/exec", d);
	snprintf(pidf, sizeof(pidf), "%s/docker.pid", d);
	snprintf(conf, sizeof(conf), "%s/daemon.json", d);
	snprintf(logf, sizeof(logf), "%s/dockerd.log", d);
	/* Not the machine's /etc/docker/daemon.json. */
	if ((f = fopen(conf, "w")) == NULL)
		return -1;
	fputs("{}\n", f);
	fclose(f);
	argv[k++] = (char *)dockerd_bin;
	argv[k++] = "--host";
	argv[k++] = host;
	argv[k++] = "--data-root";
	argv[k++] = root;
	argv[k++] = "--exec-root";
	argv[k++] = exec_root;
	argv[k++] = "--pidfile";
	argv[k++] = pidf;
	argv[k++] = "--config-file";
	argv[k++] = conf;
	argv[k++] = "--bridge=none";
	argv[k++] = "--iptables=false";
	argv[k++] = "--ip6tables=false";
	if (live_restore)
		argv[k++] = "--live-restore";
	argv[k] = NULL;
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		/* Its own network namespace, or no dockerd at all: see the
		 * top of this file. */
		if (unshare(CLONE_NEWNET) != 0)
			_exit(126);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		fd =
		    open(logf, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

struct ping {
	const char *sock;
	pid_t pid; /* 0: not our child */
	bool died;
};

/* Whether the daemon answers GET /_ping (or, for our child, died). */
static bool
ping_ok(void *arg)
{
	struct ping *p = arg;
	struct orch_docker_client *c = NULL;
	struct orch_docker_answer ans = {0};
	char err[512];
	bool ok;

	if (p->pid > 0 && waitpid(p->pid, NULL, WNOHANG) == p->pid) {
		p->died = true;
		return true;
	}
	if (orch_docker_client_new(p->sock, &c) != 0)
		return false;
	ok = orch_docker_client_call(
	         c, "GET", "/_ping", NULL, 2, &ans, err, sizeof(err)) == 0 &&
	    ans.status == 200;
	orch_docker_answer_free(&ans);
	orch_docker_client_free(c);
	return ok;
}

/* Starts the test's dockerd and waits until it answers.  Returns false
 * when it dies or does not answer within WAIT_MS. */
static bool
dockerd_start(bool live_restore)
{
	struct ping p = {sock, 0, false};

	if ((dockerd_pid = dockerd_spawn(dir, live_restore)) < 0)
		return false;
	p.pid = dockerd_pid;
	if (!h_wait_until(ping_ok, &p, WAIT_MS) || p.died) {
		if (!p.died) {
			kill(dockerd_pid, SIGKILL);
			waitpid(dockerd_pid, NULL, 0);
		}
		dockerd_pid = 0;
		return false;
	}
	dockerd_ran = true;
	return true;
}

/* Stops the test's dockerd with SIGTERM and waits for it (SIGKILL after
 * WAIT_MS).  Returns its wait status. */
static int
dockerd_stop(void)
{
	int st;

	if (dockerd_pid <= 0)
		return -1;
	kill(dockerd_pid, SIGTERM);
	if ((st = h_wait_pid(dockerd_pid, WAIT_MS)) == -1) {
		kill(dockerd_pid, SIGKILL);
		waitpid(dockerd_pid, NULL, 0);
	}
	dockerd_pid = 0;
	return st;
}

/* Removes every container of the daemon on socket s, best effort. */
static void
containers_remove_all(const char *s)
{
	struct orch_docker_client *c = NULL;
	struct orch_docker_answer ans = {0};
	json_t *list = NULL, *x;
	char err[512], path[128];
	size_t i;

	if (orch_docker_client_new(s, &c) != 0)
		return;
	if (orch_docker_client_call(c, "GET", "/containers/json?all=true", NULL,
	        30, &ans, err, sizeof(err)) == 0 &&
	    ans.status == 200)
		list = json_loadb(ans.body, ans.len, 0, NULL);
	orch_docker_answer_free(&ans);
	json_array_foreach(list, i, x)
	{
		const char *id = json_string_value(json_object_get(x, "Id"));

		if (id == NULL || strlen(id) > 64)
			continue;
		snprintf(path, sizeof(path), "/containers/%s?force=true", id);
		if (orch_docker_client_call(c, "DELETE", path, NULL, 30, &ans,
		        err, sizeof(err)) != 0)
			fprintf(stderr, "cleanup: %s\n", err);
		orch_docker_answer_free(&ans);
	}
	json_decref(list);
	orch_docker_client_free(c);
}

/* Undoes the mounts dockerd left under d (its data root is mounted on
 * itself), deepest first. */
static void
mounts_undo(const char *d)
{
	char line[4096], *paths[256], mp[1024];
	size_t n = 0, dl = strlen(d);
	FILE *f = fopen("/proc/self/mounts", "r");

	if (f == NULL)
		return;
	while (n < 256 && fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%*s %1023s", mp) == 1 &&
		    strncmp(mp, d, dl) == 0 && (mp[dl] == '/' || mp[dl] == 0))
			paths[n++] = strdup(mp);
	}
	fclose(f);
	while (n > 0) {
		if (paths[--n] != NULL && umount2(paths[n], MNT_DETACH) != 0)
			fprintf(stderr, "cleanup: umount %s: %s\n", paths[n],
			    strerror(errno));
		free(paths[n]);
	}
}

/*
 * Leaves nothing of the private daemon of directory d: when its dockerd
 * (pid, 0: none) is gone and may have left containers (ran), one is
 * started again (without live-restore, which stops what still runs) so
 * that they can be removed; then it is stopped (ours: our child), its
 * mounts undone and d removed.
 */
static void
private_daemon_remove(const char *d, pid_t pid, bool ours, bool ran)
{
	char s[300];
	struct ping p = {s, 0, false};

	snprintf(s, sizeof(s), "%s/docker.sock", d);
	if (pid <= 0 && ran) {
		pid = dockerd_spawn(d, false);
		ours = true;
		p.pid = pid;
		if (pid > 0 && !h_wait_until(ping_ok, &p, WAIT_MS))
			fprintf(
			    stderr, "cleanup: dockerd of %s: no answer\n", d);
	}
	if (pid > 0 && !p.died) {
		containers_remove_all(s);
		kill(pid, SIGTERM);
		if (ours && h_wait_pid(pid, WAIT_MS) == -1) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
		for (int i = 0; !ours && i < 600 && kill(pid, 0) == 0; i++)
			poll(NULL, 0, 100);
	}
	mounts_undo(d);
	h_rm_rf(d);
}

/* Whether pid is a dockerd whose command line names directory d. */
static bool
is_dockerd_of(pid_t pid, const char *d)
{
	char path[64], buf[8192];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	for (size_t i = 0; i < n; i++) {
		if (buf[i] == '\0')
			buf[i] = ' ';
	}
	buf[n] = '\0';
	return strstr(buf, "dockerd") != NULL && strstr(buf, d) != NULL;
}

/* Cleans up what earlier runs left: /tmp/orch-dockerfault-PID-* whose
 * test process PID is gone (killed before its own cleanup). */
static void
stale_remove(void)
{
	DIR *td = opendir("/tmp");
	struct dirent *e;

	if (td == NULL)
		return;
	while ((e = readdir(td)) != NULL) {
		char d[300], pidf[400], *end, *s;
		long tpid, dpid = 0;

		if (strncmp(e->d_name, DIR_PREFIX, strlen(DIR_PREFIX)) != 0)
			continue;
		tpid = strtol(e->d_name + strlen(DIR_PREFIX), &end, 10);
		if (end == e->d_name + strlen(DIR_PREFIX) || *end != '-' ||
		    tpid <= 0 || tpid == (long)getpid() ||
		    kill((pid_t)tpid, 0) == 0 || errno != ESRCH)
			continue;
		snprintf(d, sizeof(d), "/tmp/%s", e->d_name);
		snprintf(pidf, sizeof(pidf), "%s/docker.pid", d);
		if ((s = h_read_file(pidf)) != NULL)
			dpid = strtol(s, NULL, 10);
		free(s);
		if (dpid > 0 && !is_dockerd_of((pid_t)dpid, d))
			dpid = 0;
		fprintf(stderr, "cleaning up %s, left by run %ld\n", d, tpid);
		private_daemon_remove(d, (pid_t)dpid, false, true);
	}
	closedir(td);
}

static void
at_exit(void)
{
	/* The harness's handler, registered later, has run already and
	 * killed the manager and the agent. */
	if (!finished) {
		h_tail_file("agent log", agent_log, 120);
		h_tail_file("manager log", m.log, 60);
		if (dir != NULL)
			h_tail_file("private dockerd log", dlog, 40);
	}
	orch_docker_client_free(peek);
	peek = NULL;
	if (dir != NULL) {
		eu_cleanup(state_dir, node);
		private_daemon_remove(dir, dockerd_pid, true, dockerd_ran);
		dockerd_pid = 0;
	}
	free(dir);
	dir = NULL;
	mgr_destroy(&m);
}

/* ---- the manager ---- */

/* Submits a task from its JSON body; returns its id (malloc'd). */
static char *
submit(const char *body)
{
	return hj_submit(m.http_port, body);
}

/* A docker task on this node: sleeps until SIGTERM, then exits 143 (once
 * it has said "ready": container_ready()).  With checked, it has an exec
 * health check (every second, 2 retries) that passes while its
 * /tmp/state says "up", as it does from the start (health_break()). */
static char *
submit_sleeper(const char *name, const char *restart, bool checked)
{
	char body[1024];

	snprintf(body, sizeof(body),
	    "{\"name\":\"%s\",\"image\":\"" IMAGE "\",\"network\":\"none\","
	    "\"command\":[\"sh\",\"-c\",\"trap 'exit 143' TERM; "
	    "echo up > /tmp/state; echo ready; sleep 3600 & "
	    "wait\"],\"constraints\":[\"node.name==%s\"],"
	    "\"restart\":\"%s\",\"memory\":64,\"cpu\":0.1%s}",
	    name, node, restart,
	    checked ? ",\"health\":{\"type\":\"exec\",\"command\":[\"sh\","
	              "\"-c\",\"test \\\"$(cat /tmp/state)\\\" = up\"],"
	              "\"interval_s\":1,\"retries\":2}"
	            : "");
	return submit(body);
}

/* Makes the health check of container cid fail from now on. */
static void
health_break(const char *cid)
{
	char cmd[512], *out = NULL, *err = NULL;
	char *argv[] = {"/bin/sh", "-c", cmd, NULL};

	snprintf(cmd, sizeof(cmd),
	    "docker -H %s exec %.64s sh -c 'echo down > /tmp/state'", sock_url,
	    cid);
	if (h_run(argv, &out, &err, WAIT_MS) != 0)
		h_fail(__FILE__, __LINE__, "%s: %s %s", cmd,
		    out != NULL ? out : "", err != NULL ? err : "");
	free(out);
	free(err);
}

/* Whether container cid (of the private daemon) has printed "ready": its
 * shell has set its trap, and SIGTERM makes it exit 143, not ignored as
 * by a process 1 without a handler (dockerd would kill it: 137). */
static bool
container_ready(void *arg)
{
	struct orch_docker_answer ans = {0};
	char path[160], err[512];
	bool ok;

	snprintf(path, sizeof(path), "/containers/%.64s/logs?stdout=1",
	    (const char *)arg);
	ok = orch_docker_client_call(
	         peek, "GET", path, NULL, 10, &ans, err, sizeof(err)) == 0 &&
	    ans.status == 200 && ans.body != NULL &&
	    memmem(ans.body, ans.len, "ready", 5) != NULL;
	orch_docker_answer_free(&ans);
	return ok;
}

/* GET /nodes/<node> (the caller owns it), or NULL before it joins. */
static json_t *
node_get(void)
{
	char path[128], *body = NULL;
	json_t *n = NULL;
	int st;

	snprintf(path, sizeof(path), "/nodes/%s", node);
	st = h_http(m.http_port, "GET", path, NULL, &body);
	if (st == 200)
		n = hj_parse(body);
	else if (st != 404)
		h_fail(__FILE__, __LINE__, "GET %s: %d %s", path, st,
		    body != NULL ? body : "");
	free(body);
	return n;
}

/* What the node says of its docker driver: 1 healthy, 0 not, -1 no
 * word; its error into err. */
static int
docker_health(char *err, size_t len)
{
	json_t *n = node_get(), *h;
	int rc = -1;

	err[0] = '\0';
	h = json_object_get(json_object_get(n, "driver_health"), "docker");
	if (json_is_object(h) && hj_str(n, "status") != NULL &&
	    strcmp(hj_str(n, "status"), "Ready") == 0) {
		rc = json_is_true(json_object_get(h, "healthy")) ? 1 : 0;
		if (hj_str(h, "error") != NULL)
			snprintf(err, len, "%s", hj_str(h, "error"));
	}
	json_decref(n);
	return rc;
}

struct docker_want {
	int healthy;
	const char *error; /* a part of the error wanted; NULL: any */
};

static bool
docker_is(void *arg)
{
	struct docker_want *w = arg;
	char err[1024];

	return docker_health(err, sizeof(err)) == w->healthy &&
	    (w->error == NULL || strstr(err, w->error) != NULL);
}

/* The node's orch_node_driver_healthy{driver="docker"} in GET /metrics,
 * parsed strictly; -1 when the sample is missing. */
static double
docker_metric(void)
{
	const char *const labels[] = {"node", node, "driver", "docker", NULL};
	struct prom_page p;
	char *body = NULL, err[512];
	double v;

	ASSERT_INT_EQ(h_http(m.http_port, "GET", "/metrics", NULL, &body), 200);
	if (prom_parse(body, &p, err, sizeof(err)) != 0)
		h_fail(
		    __FILE__, __LINE__, "GET /metrics: %s in:\n%s", err, body);
	free(body);
	if (prom_get(&p, "orch_node_driver_healthy", labels, &v) != 0)
		v = -1;
	prom_free(&p);
	return v;
}

/* Waits until the node reports its docker driver healthy (1) or not (0),
 * with error containing error (NULL: any); GET /metrics then says the
 * same. */
static void
wait_docker(int healthy, const char *error)
{
	struct docker_want w = {healthy, error};
	char err[1024];

	if (!h_wait_until(docker_is, &w, WAIT_MS)) {
		int now = docker_health(err, sizeof(err));

		h_fail(__FILE__, __LINE__,
		    "node %s: docker healthy %d (%s), wanted %d (%s)", node,
		    now, err, healthy, error != NULL ? error : "");
	}
	ASSERT(docker_metric() == (double)healthy);
}

struct pending_want {
	const char *id;
	const char *error;
};

static bool
pending_with(void *arg)
{
	struct pending_want *w = arg;
	json_t *t = hj_task(m.http_port, w->id);
	const char *e = hj_str(t, "error");
	bool ok = strcmp(hj_str(t, "status"), "Pending") == 0 && e != NULL &&
	    strstr(e, w->error) != NULL;

	json_decref(t);
	return ok;
}

/* Asserts that task id runs in container cid, as it did, with no restart,
 * healthy if it has a health check, and that the daemon has exactly one
 * container of it. */
static void
assert_still_running(const char *id, const char *cid, bool daemon_up)
{
	json_t *t = hj_task(m.http_port, id);

	ASSERT_STR_EQ(hj_str(t, "status"), "Running");
	ASSERT_STR_EQ(hj_str(t, "container_id"), cid);
	ASSERT(hj_str(t, "error") == NULL);
	ASSERT(hj_str(t, "replaced_by") == NULL);
	if (hj_str(t, "health") != NULL)
		ASSERT_STR_EQ(hj_str(t, "health"), "healthy");
	json_decref(t);
	if (daemon_up)
		ASSERT_INT_EQ(du_task_count(peek, id, node), 1);
}

/* The agent's cpu time so far, in seconds, from /proc. */
static double
agent_cpu_s(void)
{
	char path[64], *s, *p;
	unsigned long ut = 0, st = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)agent_pid);
	s = h_read_file(path);
	ASSERT(s != NULL);
	/* After the ")" that ends the command: state is field 3, utime 14
	 * and stime 15. */
	p = strrchr(s, ')');
	ASSERT(p != NULL);
	ASSERT(
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	        &ut, &st) == 2);
	free(s);
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

struct beats {
	char last[64];
	int seen;
};

/* Counts the node's heartbeats as the manager records them. */
static bool
beats_counted(void *arg)
{
	struct beats *b = arg;
	json_t *n = node_get();
	const char *lb = hj_str(n, "last_heartbeat");

	if (lb != NULL && strcmp(lb, b->last) != 0) {
		snprintf(b->last, sizeof(b->last), "%s", lb);
		b->seen++;
	}
	json_decref(n);
	return b->seen > CPU_BEATS;
}

/*
 * The daemon is away: the driver is reported unhealthy with the reason,
 * nothing of docker is placed on the node (a task waits, saying why),
 * exec tasks still run there, the agent does not spin, and the task that
 * ran is neither lost nor reported.  Returns the waiting task's id.
 */
static char *
while_away(const char *running_id, const char *running_cid)
{
	struct pending_want pw;
	struct beats b = {"", 0};
	char err[1024], body[512], *waiting, *ex, *out = NULL, *cerr = NULL;
	double cpu0, cpu1;
	int64_t t0, t1;
	json_t *t;
	const char *const args[] = {"nodes", NULL};

	/* The first word may be of a call cut by the daemon's stopping;
	 * once its socket is gone, that it cannot be reached. */
	wait_docker(0, "cannot reach the Docker daemon at");
	ASSERT_INT_EQ(docker_health(err, sizeof(err)), 0);
	ASSERT_STR_CONTAINS(err, sock);
	ASSERT_INT_EQ(h_orchctl(m.addr, &out, &cerr, args), 0);
	ASSERT_STR_CONTAINS(out, "docker (unhealthy), exec");
	free(out);
	free(cerr);

	waiting = submit_sleeper("waits", "never", false);
	pw = (struct pending_want){waiting, "has a healthy docker driver"};
	ASSERT(h_wait_until(pending_with, &pw, WAIT_MS));
	t = hj_task(m.http_port, waiting);
	ASSERT_STR_CONTAINS(hj_str(t, "error"), node);
	ASSERT_STR_CONTAINS(hj_str(t, "error"), "cannot reach the Docker");
	json_decref(t);

	snprintf(body, sizeof(body),
	    "{\"name\":\"exec-meanwhile\",\"driver\":\"exec\","
	    "\"command\":[\"/bin/sh\",\"-c\",\"exit 0\"],"
	    "\"constraints\":[\"node.name==%s\"]}",
	    node);
	ex = submit(body);
	json_decref(eu_wait_status(m.http_port, ex, "Completed", WAIT_MS));
	free(ex);

	/* Not spinning: its cpu time over a dozen beats.  Under valgrind
	 * everything costs many times more, and this says nothing. */
	cpu0 = agent_cpu_s();
	t0 = orch_mono_ms();
	ASSERT(h_wait_until(beats_counted, &b, WAIT_MS));
	cpu1 = agent_cpu_s();
	t1 = orch_mono_ms();
	fprintf(stderr, "agent cpu while docker is away: %.2f s in %.2f s\n",
	    cpu1 - cpu0, (double)(t1 - t0) / 1000.0);
	if (!h_valgrind())
		ASSERT(
		    cpu1 - cpu0 < CPU_SHARE_MAX * (double)(t1 - t0) / 1000.0);

	/* After all that, the running task is as it was. */
	assert_still_running(running_id, running_cid, false);
	ASSERT(pending_with(&pw));
	return waiting;
}

/* The id of the task that replaced task id (once there is one). */
static bool
replaced(void *arg)
{
	json_t *t = hj_task(m.http_port, arg);
	bool ok = hj_str(t, "replaced_by") != NULL;

	json_decref(t);
	return ok;
}

/* ---- the test ---- */

static void
test_fault_and_recovery(void)
{
	char *a, *b, *c, *a2, *acid, *bcid, *a2cid;
	char *log;
	json_t *t;
	int st;

	/* A task with a restart policy and a health check, running. */
	a = submit_sleeper("survivor", "on-failure", true);
	t = eu_wait_status(m.http_port, a, "Running", WAIT_MS);
	acid = strdup(hj_str(t, "container_id"));
	json_decref(t);
	ASSERT(h_wait_until(container_ready, acid, WAIT_MS));
	json_decref(
	    eu_wait_field(m.http_port, a, "health", "healthy", WAIT_MS));
	wait_docker(1, NULL);

	/* 1. dockerd stops, stopping its containers (no live-restore). */
	st = dockerd_stop();
	ASSERT(st != -1);
	b = while_away(a, acid);
	ASSERT(dockerd_start(true));
	wait_docker(1, NULL);
	t = eu_wait_status(m.http_port, b, "Running", WAIT_MS);
	bcid = strdup(hj_str(t, "container_id"));
	json_decref(t);
	ASSERT_INT_EQ(du_task_count(peek, b, node), 1);
	/* a's container was stopped with dockerd: reported with its exit
	 * code, and replaced as its policy says. */
	t = eu_wait_status(m.http_port, a, "Failed", WAIT_MS);
	ASSERT_INT_EQ(hj_int(t, "exit_code"), 143);
	ASSERT_STR_EQ(hj_str(t, "error"), "exited with code 143");
	json_decref(t);
	ASSERT(h_wait_until(replaced, a, WAIT_MS));
	t = hj_task(m.http_port, a);
	a2 = strdup(hj_str(t, "replaced_by"));
	json_decref(t);
	t = eu_wait_status(m.http_port, a2, "Running", WAIT_MS);
	a2cid = strdup(hj_str(t, "container_id"));
	ASSERT_INT_EQ(hj_int(t, "restarts"), 1);
	json_decref(t);
	ASSERT_INT_EQ(du_task_count(peek, a2, node), 1);
	json_decref(
	    eu_wait_field(m.http_port, a2, "health", "healthy", WAIT_MS));

	/* 2. dockerd stops, its containers live on (live-restore).  a2's
	 * health checks cannot reach it meanwhile, which is not a2's failure:
	 * it stays healthy, and is neither stopped nor replaced. */
	st = dockerd_stop();
	ASSERT(st != -1);
	c = while_away(a2, a2cid);
	assert_still_running(b, bcid, false);
	ASSERT(dockerd_start(true));
	wait_docker(1, NULL);
	/* Listed again: the task that waited runs, and the others are where
	 * they were, once each. */
	json_decref(eu_wait_status(m.http_port, c, "Running", WAIT_MS));
	ASSERT_INT_EQ(du_task_count(peek, c, node), 1);
	assert_still_running(a2, a2cid, true);
	assert_still_running(b, bcid, true);
	/* Its checks run again: one that fails now counts. */
	health_break(a2cid);
	t = eu_wait_status(m.http_port, a2, "Failed", WAIT_MS);
	ASSERT_STR_EQ(hj_str(t, "health"), "unhealthy");
	ASSERT_STR_CONTAINS(hj_str(t, "error"), "health check failed 2 times");
	json_decref(t);

	log = h_read_file(agent_log);
	ASSERT_STR_CONTAINS(log, "the docker driver is unhealthy");
	ASSERT_STR_CONTAINS(log, "the docker driver is healthy again");
	ASSERT(strstr(log, "container disappeared") == NULL);
	free(log);
	free(a);
	free(b);
	free(c);
	free(a2);
	free(acid);
	free(bcid);
	free(a2cid);
}

int
main(void)
{
	const char *flags[] = {
	    "--heartbeat-ttl", "10", "--policy", policy, NULL};
	char tmpl[128], *out = NULL, *err = NULL, cmd[1024];
	char *agent = NULL;
	FILE *f;

	signal(SIGPIPE, SIG_IGN);
	setvbuf(stderr, NULL, _IONBF, 0);
	if (geteuid() != 0) {
		fprintf(stderr,
		    "SKIP: e2e_dockerfault starts a dockerd of its "
		    "own and needs root\n");
		return SKIP;
	}
	dockerd_bin = access("/usr/sbin/dockerd", X_OK) == 0
	    ? "/usr/sbin/dockerd"
	    : access("/usr/bin/dockerd", X_OK) == 0 ? "/usr/bin/dockerd"
	                                            : NULL;
	if (dockerd_bin == NULL) {
		fprintf(
		    stderr, "SKIP: no dockerd (apt-get install docker.io)\n");
		return SKIP;
	}
	atexit(at_exit);
	stale_remove();
	snprintf(
	    tmpl, sizeof(tmpl), "/tmp/" DIR_PREFIX "%d-XXXXXX", (int)getpid());
	ASSERT(mkdtemp(tmpl) != NULL);
	dir = strdup(tmpl);
	ASSERT(dir != NULL);
	snprintf(sock, sizeof(sock), "%s/docker.sock", dir);
	snprintf(sock_url, sizeof(sock_url), "unix://%s", sock);
	snprintf(dlog, sizeof(dlog), "%s/dockerd.log", dir);
	had_docker0 = access("/sys/class/net/docker0", F_OK) == 0;
	if (!dockerd_start(false)) {
		fprintf(stderr,
		    "SKIP: a second dockerd cannot be started on this machine; "
		    "its log:\n");
		h_tail_file("private dockerd log", dlog, 40);
		finished = true;
		return SKIP;
	}
	/* The test image, from the shared daemon: nothing is pulled. */
	snprintf(cmd, sizeof(cmd), "docker save " IMAGE " | docker -H %s load",
	    sock_url);
	{
		char *argv[] = {"/bin/sh", "-c", cmd, NULL};

		if (h_run(argv, &out, &err, WAIT_MS) != 0)
			h_fail(__FILE__, __LINE__,
			    "%s: %s %s (scripts/docker-up.sh makes the image)",
			    cmd, out != NULL ? out : "",
			    err != NULL ? err : "");
		free(out);
		free(err);
	}
	ASSERT(orch_docker_client_new(sock, &peek) == 0);

	snprintf(policy, sizeof(policy), "%s/policy.json", dir);
	snprintf(state_dir, sizeof(state_dir), "%s/state", dir);
	snprintf(agent_log, sizeof(agent_log), "%s/agent.log", dir);
	snprintf(node, sizeof(node), "e2e-dockerfault-%d", (int)getpid());
	ASSERT((f = fopen(policy, "w")) != NULL);
	fputs(
	    "{\"rules\": [{\"command\": \"/bin/*\", \"allow\": [\"exec\"]}]}\n",
	    f);
	fclose(f);
	mgr_start(&m, flags);
	snprintf(pub_url, sizeof(pub_url), "tcp://127.0.0.1:%d", m.pub_port);
	agent = h_bin("orch-agent");
	{
		char *argv[] = {agent, "--manager", m.rpc_url, "--events",
		    pub_url, "--name", node, "--heartbeat", "0.2",
		    "--stop-timeout", "2", "--cpu", "4", "--memory", "4096",
		    "--docker", sock, "--drivers", "docker,exec", "--state-dir",
		    state_dir, "--log-level", "debug", NULL};

		agent_pid = h_spawn(argv, agent_log);
	}
	free(agent);
	wait_docker(1, NULL);

	RUN(test_fault_and_recovery);
	/* The shared daemon's bridge is still there (see the top). */
	if (had_docker0)
		ASSERT(access("/sys/class/net/docker0", F_OK) == 0);

	ASSERT(h_kill(agent_pid, SIGTERM) != -1);
	agent_pid = 0;
	finished = true;
	return 0;
}
