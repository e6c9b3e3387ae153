/*
 * e2e_multihost.c: the manager and three agents on four "hosts": network
 * namespaces made here, each with its own address, joined by veth pairs
 * to a bridge in a fifth namespace.  The agents dial the manager across
 * that network; all of them share the one Docker daemon through its unix
 * socket (a path, which network namespaces do not change), each touching
 * only the containers labelled with its own node.
 *
 * A service of three replicas spreads one per node.  Then one agent is
 * cut off (its veth's bridge side goes down) and another is killed with
 * SIGKILL: both nodes turn Down, their replicas are replaced on the node
 * that is left, the killed agent restarted in its namespace and the cut
 * one (its link up again) come back Ready, and once the network has
 * healed the running containers of the service are exactly those of its
 * three live replicas: no replica runs twice.
 *
 * How the test reaches the manager: after making the namespaces, the test
 * process moves itself into the manager's namespace (setns), so the
 * manager is started there by the usual helper, with its HTTP API on that
 * namespace's loopback and its RPC and PUB sockets on the namespace's
 * address.  Agents are started with `ip netns exec` (which execs, so the
 * pid is the agent's).  Since those sockets are reachable beyond
 * loopback, they speak mutual TLS, as in production: the cluster's
 * certificates (made with the certs module, the manager's for its
 * namespace address) live in the data directory, each agent with its own.
 *
 * Names carry the test's pid: namespaces orchmh-<pid>-*, nodes
 * e2e-mh-<pid>-N.  Cleanup (atexit, and on SIGINT/SIGTERM/SIGHUP by
 * re-executing this program in a cleanup mode, which is all a signal
 * handler may safely do) kills every process this test started (its
 * children, by pid), removes the containers of its nodes and every
 * namespace it made, and those of earlier runs whose process is gone.
 *
 * Needs root, iproute2 and dockerd with orch-test/busybox:latest.  Not
 * root: skipped (exit 77).  Root but no namespaces: a failure.  Every
 * wait is a poll with a deadline; no timing is asserted.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "certs.h"
#include "docker_client.h"
#include "error.h"
#include "harness.h"
#include "manager_proc.h"

#define SOCK "/var/run/docker.sock"
#define IMAGE "orch-test/busybox:latest"
#define NS_PREFIX "orchmh-"
#define NODE_PREFIX "e2e-mh-"
#define NAGENTS 3
#define WAIT_MS 60000

extern char **environ;

static const char *ip_bin;
static char ns_br[64], ns_mgr[64], ns_ag[NAGENTS][64];
static char subnet[32]; /* "10.231.N" */
static char mgr_ip[48];
static char rpc_url[96], pub_url[96];
static char certs_dir[600];
static char agent_tls[NAGENTS][1024]; /* each agent's certificate folder */
static char svc[64];
static struct mgr m;
static char node[NAGENTS][64];
static char node_id[NAGENTS][64];
static pid_t agent_pid[NAGENTS];
static char agent_log[NAGENTS][700];
static bool finished;

/* What the signal handler execs: prepared before it is installed. */
static char self_pid[32];
static char data_dir[512];
static char *cleanup_argv[] = {
    "e2e_multihost", "--cleanup", self_pid, data_dir, NULL};

/* ---- commands ---- */

/* Runs ip with the words of fmt (split on spaces).  Returns its exit
 * code; *errout (optional, malloc'd) its stderr. */
static int ip(char **errout, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
ip(char **errout, const char *fmt, ...)
{
	char line[512], *argv[32], *p, *out = NULL, *err = NULL;
	va_list ap;
	int n = 0, code;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	argv[n++] = (char *)ip_bin;
	/* Words are single-spaced: the formats here are ours. */
	for (p = line; *p != '\0' && n < 31;) {
		argv[n++] = p;
		if ((p = strchr(p, ' ')) == NULL)
			break;
		*p++ = '\0';
	}
	argv[n] = NULL;
	code = h_run(argv, &out, &err, 15000);
	free(out);
	if (errout != NULL)
		*errout = err;
	else
		free(err);
	return code;
}

/* Like ip(), failing the test when the command fails. */
#define IP(...)                                                                \
	do {                                                                   \
		char *e_ = NULL;                                               \
		if (ip(&e_, __VA_ARGS__) != 0)                                 \
			h_fail(__FILE__, __LINE__, "ip %s failed: %s",         \
			    #__VA_ARGS__, e_ != NULL ? e_ : "");               \
		free(e_);                                                      \
	} while (0)

/* ---- cleanup, shared by atexit and the signal path ---- */

static bool
pid_gone(long pid)
{
	return pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* The pid in "<prefix><pid>-...", or -1. */
static long
name_pid(const char *name, const char *prefix)
{
	char *end;
	long pid;

	if (strncmp(name, prefix, strlen(prefix)) != 0)
		return -1;
	pid = strtol(name + strlen(prefix), &end, 10);
	if (end == name + strlen(prefix) || *end != '-')
		return -1;
	return pid;
}

/* Kills every child of this process (all started by this test), by pid. */
static void
kill_children(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	pid_t me = getpid();

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		char path[300], buf[512], *p;
		long pid, ppid;
		FILE *f;

		pid = strtol(e->d_name, &p, 10);
		if (*p != '\0' || pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		p = fgets(buf, sizeof(buf), f);
		fclose(f);
		/* pid (comm) state ppid: comm may hold spaces. */
		if (p == NULL || (p = strrchr(buf, ')')) == NULL ||
		    sscanf(p + 1, " %*c %ld", &ppid) != 1 || ppid != me)
			continue;
		kill((pid_t)pid, SIGKILL);
		waitpid((pid_t)pid, NULL, 0);
	}
	closedir(d);
}

/* Removes the containers of this run's nodes (this pid), and of earlier
 * runs whose process is gone. */
static void
cleanup_containers(long self)
{
	struct orch_docker_client *c = NULL;
	struct orch_docker_answer ans = {0};
	char e[512];
	json_t *all = NULL, *ct;
	size_t i;

	if (orch_docker_client_new(SOCK, &c) != ORCH_OK)
		return;
	/* {"label":["orch.node"]}, URL-encoded. */
	if (orch_docker_client_call(c, "GET",
	        "/containers/json?all=true&"
	        "filters=%7B%22label%22%3A%5B%22orch.node%22%5D%7D",
	        NULL, 60, &ans, e, sizeof(e)) == ORCH_OK &&
	    ans.status == 200)
		all = json_loadb(ans.body, ans.len, 0, NULL);
	orch_docker_answer_free(&ans);
	json_array_foreach(all, i, ct)
	{
		const char *n = json_string_value(json_object_get(
		    json_object_get(ct, "Labels"), "orch.node"));
		const char *id = json_string_value(json_object_get(ct, "Id"));
		char path[256];
		long pid;

		if (n == NULL || id == NULL ||
		    (pid = name_pid(n, NODE_PREFIX)) < 0 ||
		    (pid != self && !pid_gone(pid)))
			continue;
		snprintf(
		    path, sizeof(path), "/containers/%s?force=true&v=true", id);
		if (orch_docker_client_call(c, "DELETE", path, NULL, 60, &ans,
		        e, sizeof(e)) != ORCH_OK)
			fprintf(stderr, "cleanup: %s\n", e);
		orch_docker_answer_free(&ans);
	}
	json_decref(all);
	orch_docker_client_free(c);
}

/* Deletes the namespaces of this run, and of earlier runs whose process
 * is gone (deleting one deletes the veth ends in it, and so the pairs). */
static void
cleanup_namespaces(long self)
{
	DIR *d;
	struct dirent *e;

	if (ip_bin == NULL || (d = opendir("/run/netns")) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		long pid = name_pid(e->d_name, NS_PREFIX);
		char *err = NULL;

		if (pid < 0 || (pid != self && !pid_gone(pid)))
			continue;
		if (ip(&err, "netns del %s", e->d_name) != 0)
			fprintf(stderr, "cleanup: ip netns del %s: %s\n",
			    e->d_name, err != NULL ? err : "");
		free(err);
	}
	closedir(d);
}

/* The log of agent i (0-based) of run self, next to the data directory. */
static void
agent_log_path(char *buf, size_t len, const char *data, long self, int i)
{
	snprintf(buf, len, "%s-" NODE_PREFIX "%ld-%d.log", data, self, i + 1);
}

/* Kills what this run started, removes its containers and namespaces
 * (and those of dead earlier runs), and its files: the logs stay when
 * the run failed, after their tails are shown. */
static void
cleanup_all(long self, const char *data, bool failed)
{
	kill_children();
	cleanup_containers(self);
	cleanup_namespaces(self);
	if (data == NULL || data[0] == '\0')
		return;
	h_rm_rf(data);
	for (int i = 0; i <= NAGENTS; i++) {
		char log[700];

		if (i < NAGENTS)
			agent_log_path(log, sizeof(log), data, self, i);
		else
			snprintf(log, sizeof(log), "%s.log", data);
		if (failed)
			h_tail_file(
			    i < NAGENTS ? "agent log" : "manager log", log, 40);
		else
			unlink(log);
	}
}

static void
at_exit(void)
{
	/* The harness's handler, registered later, ran first and killed
	 * what it spawned. */
	cleanup_all((long)getpid(), m.data, !finished);
	free(m.data);
	m.data = NULL;
}

/* Only execve here: the new image cleans up with ordinary code.  The
 * pid stays ours, so what this test started stays our children. */
static void
on_signal(int sig)
{
	(void)sig;
	execve("/proc/self/exe", cleanup_argv, environ);
	_exit(1);
}

/* The cluster's certificates, in the data directory (made now, so that
 * cleanup removes them with it): the manager's for its address, one per
 * node. */
static void
certs_make(void)
{
	const char *hosts[] = {mgr_ip};
	struct orch_certs_opts o = {.hosts = hosts, .n_hosts = 1};
	char err[1024];

	m.data = h_tmpdir("mgr");
	snprintf(certs_dir, sizeof(certs_dir), "%s/certs", m.data);
	if (orch_certs_init(certs_dir, &o, err, sizeof(err)) != ORCH_OK)
		h_fail(__FILE__, __LINE__, "certs init: %s", err);
	o.n_hosts = 0;
	for (int i = 0; i < NAGENTS; i++) {
		if (orch_certs_issue(
		        certs_dir, node[i], &o, err, sizeof(err)) != ORCH_OK)
			h_fail(__FILE__, __LINE__, "certs issue: %s", err);
		snprintf(agent_tls[i], sizeof(agent_tls[i]), "%s/nodes/%s",
		    certs_dir, node[i]);
	}
}

/* ---- the manager's API ---- */

static json_t *
call(const char *method, const char *path, const char *body, int want)
{
	char *resp = NULL;
	int st = h_http(m.http_port, method, path, body, &resp);
	json_t *j;

	if (st != want)
		h_fail(__FILE__, __LINE__, "%s %s: %d, want %d: %s", method,
		    path, st, want, resp != NULL ? resp : "");
	j = json_loads(resp != NULL ? resp : "", 0, NULL);
	free(resp);
	ASSERT(j != NULL);
	return j;
}

static const char *
jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static bool
node_status_is(int i, const char *status)
{
	char path[256], *resp = NULL;
	json_t *n;
	bool ok = false;

	snprintf(path, sizeof(path), "/nodes/%s", node[i]);
	if (h_http(m.http_port, "GET", path, NULL, &resp) == 200 &&
	    (n = json_loads(resp, 0, NULL)) != NULL) {
		ok = jstr(n, "status") != NULL &&
		    strcmp(jstr(n, "status"), status) == 0;
		if (ok && node_id[i][0] == '\0' && jstr(n, "id") != NULL)
			snprintf(node_id[i], sizeof(node_id[i]), "%s",
			    jstr(n, "id"));
		json_decref(n);
	}
	free(resp);
	return ok;
}

struct node_want {
	int i;
	const char *status;
};

static bool
node_is(void *arg)
{
	struct node_want *w = arg;

	return node_status_is(w->i, w->status);
}

static void
wait_node(int i, const char *status)
{
	struct node_want w = {i, status};

	if (!h_wait_until(node_is, &w, WAIT_MS))
		h_fail(__FILE__, __LINE__, "node %s never became %s", node[i],
		    status);
}

/* The service's live replicas (Scheduled or Running, no stop asked). */
struct replicas {
	int n, running;
	char id[8][64];
	int on[8]; /* node index, -1 when not one of ours */
	int api_running;
};

static struct replicas
replicas_get(void)
{
	char path[128];
	struct replicas r = {0};
	json_t *s, *t;
	size_t i;

	snprintf(path, sizeof(path), "/services/%s", svc);
	s = call("GET", path, NULL, 200);
	r.api_running = (int)json_integer_value(json_object_get(s, "running"));
	json_array_foreach(json_object_get(s, "tasks"), i, t)
	{
		const char *st = jstr(t, "status"), *n = jstr(t, "node_id");

		if (json_is_true(json_object_get(t, "stop_requested")) ||
		    st == NULL ||
		    (strcmp(st, "Scheduled") != 0 &&
		        strcmp(st, "Running") != 0))
			continue;
		if (r.n == 8)
			break;
		snprintf(r.id[r.n], sizeof(r.id[r.n]), "%s", jstr(t, "id"));
		r.on[r.n] = -1;
		for (int k = 0; k < NAGENTS; k++) {
			if (n != NULL && strcmp(n, node_id[k]) == 0)
				r.on[r.n] = k;
		}
		r.running += strcmp(st, "Running") == 0;
		r.n++;
	}
	json_decref(s);
	return r;
}

/* Three live replicas, all Running, none on a node in mask `avoid`. */
static bool
three_running(void *arg)
{
	int avoid = *(int *)arg;
	struct replicas r = replicas_get();

	if (r.n != 3 || r.running != 3 || r.api_running != 3)
		return false;
	for (int i = 0; i < r.n; i++) {
		if (r.on[i] < 0 || (avoid & (1 << r.on[i])) != 0)
			return false;
	}
	return true;
}

static void
wait_three(int avoid)
{
	if (!h_wait_until(three_running, &avoid, WAIT_MS)) {
		char path[128];
		json_t *s;

		snprintf(path, sizeof(path), "/services/%s", svc);
		s = call("GET", path, NULL, 200);
		h_fail(__FILE__, __LINE__,
		    "service %s never had 3 running "
		    "replicas off nodes mask %d: %s",
		    svc, avoid, json_dumps(s, JSON_COMPACT));
	}
}

/* ---- the daemon ---- */

static struct orch_docker_client *peek;

/* The running containers labelled orch.service=<svc>: their orch.task
 * labels into tasks (up to max), and how many there are. */
static int
running_containers(char tasks[][64], int max)
{
	struct orch_docker_answer ans = {0};
	char path[512], e[512];
	json_t *all = NULL, *c;
	size_t i;
	int n = 0;

	/* {"label":["orch.service=<svc>"]}, URL-encoded. */
	snprintf(path, sizeof(path),
	    "/containers/json?filters=%%7B%%22label"
	    "%%22%%3A%%5B%%22orch.service%%3D%s%%22%%5D%%7D",
	    svc);
	if (orch_docker_client_call(
	        peek, "GET", path, NULL, 60, &ans, e, sizeof(e)) != ORCH_OK ||
	    ans.status != 200)
		h_fail(__FILE__, __LINE__, "listing containers: %s", e);
	all = json_loadb(ans.body, ans.len, 0, NULL);
	orch_docker_answer_free(&ans);
	ASSERT(json_is_array(all));
	json_array_foreach(all, i, c)
	{
		const char *t = json_string_value(
		    json_object_get(json_object_get(c, "Labels"), "orch.task"));

		if (n < max)
			snprintf(tasks[n], 64, "%s", t != NULL ? t : "");
		n++;
	}
	json_decref(all);
	return n;
}

/* How many running containers of the service are labelled with node i's
 * name. */
static int
running_on(int i)
{
	struct orch_docker_answer ans = {0};
	char path[512], e[512];
	json_t *all;
	int n;

	/* {"label":["orch.service=<svc>","orch.node=<node>"]}, URL-encoded. */
	snprintf(path, sizeof(path),
	    "/containers/json?filters=%%7B%%22label"
	    "%%22%%3A%%5B%%22orch.service%%3D%s%%22%%2C%%22orch.node%%3D%s"
	    "%%22%%5D%%7D",
	    svc, node[i]);
	if (orch_docker_client_call(
	        peek, "GET", path, NULL, 60, &ans, e, sizeof(e)) != ORCH_OK ||
	    ans.status != 200)
		h_fail(__FILE__, __LINE__, "listing containers: %s", e);
	all = json_loadb(ans.body, ans.len, 0, NULL);
	orch_docker_answer_free(&ans);
	ASSERT(json_is_array(all));
	n = (int)json_array_size(all);
	json_decref(all);
	return n;
}

/* The running containers of the service are exactly one per live
 * replica: no replica runs twice, none is missing. */
static bool
containers_match(void *arg)
{
	struct replicas r = replicas_get();
	char tasks[8][64];
	int n = running_containers(tasks, 8);

	(void)arg;
	if (r.n != 3 || r.running != 3 || n != 3)
		return false;
	for (int i = 0; i < n; i++) {
		bool found = false;

		for (int k = 0; k < r.n; k++)
			found |= strcmp(tasks[i], r.id[k]) == 0;
		for (int k = 0; k < i; k++)
			found &= strcmp(tasks[i], tasks[k]) != 0;
		if (!found)
			return false;
	}
	return true;
}

static void
wait_containers_match(void)
{
	if (!h_wait_until(containers_match, NULL, WAIT_MS)) {
		char tasks[8][64];
		int n = running_containers(tasks, 8);
		struct replicas r = replicas_get();

		fprintf(stderr, "running containers of %s:", svc);
		for (int i = 0; i < n && i < 8; i++)
			fprintf(stderr, " %s", tasks[i]);
		fprintf(stderr, "\nlive replicas:");
		for (int i = 0; i < r.n; i++)
			fprintf(stderr, " %s", r.id[i]);
		fputc('\n', stderr);
		h_fail(__FILE__, __LINE__,
		    "the running containers never "
		    "matched the live replicas (%d running)",
		    n);
	}
}

/* ---- the hosts ---- */

/* A 10.231.N.0/24 with no address or route of the namespace the test
 * started in.  Traffic never leaves the test's own namespaces, so a clash
 * would be harmless; this only keeps the test clear of a network someone
 * uses, and its addresses unambiguous in logs. */
static void
subnet_pick(void)
{
	char *argv[] = {(char *)ip_bin, "-4", "addr", NULL};
	char *argv2[] = {(char *)ip_bin, "-4", "route", NULL};
	char *a = NULL, *r = NULL;

	ASSERT(h_run(argv, &a, NULL, 15000) == 0);
	ASSERT(h_run(argv2, &r, NULL, 15000) == 0);
	for (int n = 77; n < 255; n++) {
		char pfx[32];

		snprintf(pfx, sizeof(pfx), "10.231.%d.", n);
		if (strstr(a, pfx) == NULL && strstr(r, pfx) == NULL) {
			snprintf(subnet, sizeof(subnet), "10.231.%d", n);
			break;
		}
	}
	free(a);
	free(r);
	if (subnet[0] == '\0')
		h_fail(__FILE__, __LINE__, "no free 10.231.N.0/24 here");
}

/* A namespace with eth0 = addr/24, its peer v-<tag> on the bridge. */
static void
host_add(const char *ns, const char *tag, const char *addr)
{
	IP("netns add %s", ns);
	IP("-n %s link set lo up", ns);
	IP("-n %s link add v-%s type veth peer name eth0 netns %s", ns_br, tag,
	    ns);
	IP("-n %s link set v-%s master br0", ns_br, tag);
	IP("-n %s link set v-%s up", ns_br, tag);
	IP("-n %s addr add %s/24 dev eth0", ns, addr);
	IP("-n %s link set eth0 up", ns);
}

static void
hosts_make(void)
{
	char *err = NULL;
	char addr[64];

	/* Root without namespaces is a broken machine, not a skip. */
	if (ip(&err, "netns add %s", ns_br) != 0)
		h_fail(__FILE__, __LINE__,
		    "cannot create a network namespace "
		    "(ip netns add %s): %s",
		    ns_br, err != NULL ? err : "");
	free(err);
	IP("-n %s link set lo up", ns_br);
	IP("-n %s link add br0 type bridge", ns_br);
	IP("-n %s link set br0 up", ns_br);
	snprintf(mgr_ip, sizeof(mgr_ip), "%s.1", subnet);
	host_add(ns_mgr, "m", mgr_ip);
	for (int i = 0; i < NAGENTS; i++) {
		char tag[8];

		snprintf(tag, sizeof(tag), "%d", i + 1);
		snprintf(addr, sizeof(addr), "%s.%d", subnet, i + 11);
		host_add(ns_ag[i], tag, addr);
	}
}

/* Moves this process into the manager's namespace: the manager started
 * from here listens there, and the test reaches its HTTP API on that
 * namespace's loopback. */
static void
enter_mgr_ns(void)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "/run/netns/%s", ns_mgr);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET) != 0)
		h_fail(
		    __FILE__, __LINE__, "setns %s: %s", path, strerror(errno));
	close(fd);
}

static void
agent_start(int i)
{
	char *bin = h_bin("orch-agent");
	char *argv[] = {(char *)ip_bin, "netns", "exec", ns_ag[i], bin,
	    "--manager", rpc_url, "--events", pub_url, "--name", node[i],
	    "--tls-dir", agent_tls[i], "--cpu", "4", "--memory", "4096",
	    "--stop-timeout", "1", "--docker", SOCK, "--drivers", "docker",
	    NULL};

	agent_pid[i] = h_spawn(argv, agent_log[i]);
	free(bin);
}

struct log_want {
	const char *path;
	const char *text;
	size_t from; /* only what was logged past this many bytes */
};

static size_t
log_len(const char *path)
{
	char *s = h_read_file(path);
	size_t n = s != NULL ? strlen(s) : 0;

	free(s);
	return n;
}

static bool
log_has(void *arg)
{
	struct log_want *w = arg;
	char *s = h_read_file(w->path);
	bool ok = s != NULL && strlen(s) > w->from &&
	    strstr(s + w->from, w->text) != NULL;

	free(s);
	return ok;
}

/* ---- the scenario ---- */

static int cut = 1, killed = 2, kept = 0;

static void
test_spread(void)
{
	char body[512], tasks[8][64];
	struct replicas r;
	int seen = 0;

	for (int i = 0; i < NAGENTS; i++)
		agent_start(i);
	for (int i = 0; i < NAGENTS; i++)
		wait_node(i, "Ready");
	snprintf(body, sizeof(body),
	    "{\"name\":\"%s\",\"image\":\"%s\","
	    "\"replicas\":3,\"cpu\":0.1,\"memory\":32,"
	    "\"command\":[\"sleep\",\"600\"]}",
	    svc, IMAGE);
	json_decref(call("POST", "/services", body, 201));
	wait_three(0);
	/* One per node. */
	r = replicas_get();
	for (int i = 0; i < r.n; i++)
		seen |= 1 << r.on[i];
	ASSERT_INT_EQ(seen, 7);
	wait_containers_match();
	ASSERT_INT_EQ(running_containers(tasks, 8), 3);
}

static void
test_loss_and_return(void)
{
	struct replicas before = replicas_get(), after;
	size_t cut_log = log_len(agent_log[cut]);
	char *err = NULL;
	int st;

	/* (a) cut off: the bridge side of its veth goes down. */
	IP("-n %s link set v-%d down", ns_br, cut + 1);
	/* (b) killed outright. */
	st = h_kill(agent_pid[killed], SIGKILL);
	ASSERT(st != -1 && WIFSIGNALED(st));
	agent_pid[killed] = 0;

	wait_node(cut, "Down");
	wait_node(killed, "Down");
	ASSERT(node_status_is(kept, "Ready"));
	/* Their replicas are replaced on the node that is left. */
	wait_three((1 << cut) | (1 << killed));
	after = replicas_get();
	for (int i = 0; i < before.n; i++) {
		char path[128];
		json_t *t;

		if (before.on[i] == kept)
			continue;
		snprintf(path, sizeof(path), "/tasks/%s", before.id[i]);
		t = call("GET", path, NULL, 200);
		ASSERT_STR_EQ(jstr(t, "status"), "Failed");
		ASSERT_STR_CONTAINS(jstr(t, "error"), "lost");
		ASSERT(jstr(t, "replaced_by") != NULL);
		json_decref(t);
	}
	ASSERT_INT_EQ(after.n, 3);
	/* Both lost replicas still run where they were: neither agent could
	 * be told (so the check after healing means something). */
	ASSERT_INT_EQ(running_on(cut), 1);
	ASSERT_INT_EQ(running_on(killed), 1);

	/* The killed agent, restarted in its namespace, reconnects. */
	agent_start(killed);
	wait_node(killed, "Ready");
	/* The cut one has met its failure too (a beat that timed out), so
	 * that healing is a real reconnection, not a pause. */
	{
		struct log_want w = {
		    agent_log[cut], "heartbeat to the manager at", cut_log};

		if (!h_wait_until(log_has, &w, WAIT_MS))
			h_fail(__FILE__, __LINE__,
			    "the cut agent %s never "
			    "logged a failed heartbeat",
			    node[cut]);
	}
	/* The cut one reconnects when its link is back. */
	if (ip(&err, "-n %s link set v-%d up", ns_br, cut + 1) != 0)
		h_fail(__FILE__, __LINE__, "link up: %s", err);
	free(err);
	wait_node(cut, "Ready");

	/* Healed: each live replica runs once, and nothing else does (the
	 * stale containers of the lost replicas are removed by their
	 * agents after they reconnect). */
	wait_containers_match();
	ASSERT_INT_EQ(running_on(cut), 0);
	ASSERT_INT_EQ(running_on(killed), 0);
	after = replicas_get();
	ASSERT_INT_EQ(after.n, 3);
	for (int i = 0; i < after.n; i++)
		ASSERT_INT_EQ(after.on[i], kept);
}

static bool
none_running(void *arg)
{
	char tasks[8][64];

	(void)arg;
	return running_containers(tasks, 8) == 0;
}

static void
test_teardown(void)
{
	char path[128], tasks[8][64];
	int st;

	snprintf(path, sizeof(path), "/services/%s", svc);
	json_decref(call("DELETE", path, NULL, 200));
	if (!h_wait_until(none_running, NULL, WAIT_MS))
		h_fail(__FILE__, __LINE__,
		    "%d containers of %s still run "
		    "after its deletion",
		    running_containers(tasks, 8), svc);
	for (int i = 0; i < NAGENTS; i++) {
		st = h_kill(agent_pid[i], SIGTERM);
		ASSERT(st != -1 && WIFEXITED(st));
		ASSERT_INT_EQ(WEXITSTATUS(st), 0);
		agent_pid[i] = 0;
	}
	st = mgr_stop(&m, SIGTERM);
	ASSERT(st != -1 && WIFEXITED(st));
	ASSERT_INT_EQ(WEXITSTATUS(st), 0);
}

static void
ip_find(void)
{
	static const char *const cands[] = {
	    "/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"};

	for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++) {
		if (access(cands[i], X_OK) == 0) {
			ip_bin = cands[i];
			return;
		}
	}
}

int
main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_signal};
	long pid = (long)getpid();

	setvbuf(stderr, NULL, _IONBF, 0);
	ip_find();
	if (argc == 4 && strcmp(argv[1], "--cleanup") == 0) {
		/* Re-executed by on_signal: same pid, same children. */
		fprintf(stderr, "e2e_multihost: interrupted, cleaning up\n");
		cleanup_all(strtol(argv[2], NULL, 10), argv[3], true);
		return 1;
	}
	if (geteuid() != 0) {
		fprintf(stderr,
		    "SKIP: e2e_multihost makes network namespaces "
		    "and needs root\n");
		return 77;
	}
	if (ip_bin == NULL)
		h_fail(__FILE__, __LINE__,
		    "running as root but iproute2's ip "
		    "is not installed: cannot make network namespaces");

	snprintf(self_pid, sizeof(self_pid), "%ld", pid);
	snprintf(ns_br, sizeof(ns_br), NS_PREFIX "%ld-br", pid);
	snprintf(ns_mgr, sizeof(ns_mgr), NS_PREFIX "%ld-m", pid);
	snprintf(svc, sizeof(svc), "mh-%ld", pid);
	for (int i = 0; i < NAGENTS; i++) {
		snprintf(
		    ns_ag[i], sizeof(ns_ag[i]), NS_PREFIX "%ld-%d", pid, i + 1);
		snprintf(
		    node[i], sizeof(node[i]), NODE_PREFIX "%ld-%d", pid, i + 1);
	}
	if (orch_docker_client_new(SOCK, &peek) != ORCH_OK)
		h_fail(__FILE__, __LINE__, "docker client");
	{
		struct orch_docker_answer ans = {0};
		char err[512];

		if (orch_docker_client_call(peek, "GET", "/_ping", NULL, 10,
		        &ans, err, sizeof(err)) != ORCH_OK ||
		    ans.status != 200)
			h_fail(__FILE__, __LINE__,
			    "Docker does not answer on "
			    "%s: %s",
			    SOCK, err);
		orch_docker_answer_free(&ans);
	}
	/* Before any spawn: the harness's handler, registered at the first,
	 * runs before this one. */
	atexit(at_exit);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* Leftovers of earlier runs that died. */
	cleanup_containers(pid);
	cleanup_namespaces(pid);

	subnet_pick();
	hosts_make();
	enter_mgr_ns();
	snprintf(
	    rpc_url, sizeof(rpc_url), "tcp://%s:%d", mgr_ip, h_free_port());
	snprintf(
	    pub_url, sizeof(pub_url), "tcp://%s:%d", mgr_ip, h_free_port());
	certs_make();
	mgr_start(&m,
	    (const char *const[]){"--rpc", rpc_url, "--pub", pub_url,
	        "--tls-dir", certs_dir, "--heartbeat-ttl", "3", NULL});
	snprintf(data_dir, sizeof(data_dir), "%s", m.data);
	for (int i = 0; i < NAGENTS; i++)
		agent_log_path(
		    agent_log[i], sizeof(agent_log[i]), m.data, pid, i);

	RUN(test_spread);
	RUN(test_loss_and_return);
	RUN(test_teardown);
	finished = true;
	orch_docker_client_free(peek);
	peek = NULL;
	return 0;
}
