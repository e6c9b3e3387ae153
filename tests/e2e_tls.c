/*
 * e2e_tls.c: mutual TLS between the real orch-manager and real orch-agent
 * processes (with the real Docker daemon), on loopback.
 *
 * A node with a certificate from the cluster's CA joins and runs a task;
 * a plaintext agent, one with a certificate from another CA, one with an
 * expired certificate and one registering under another name than its
 * certificate's never join, and the manager logs why.  The test's own
 * NNG clients check the per-method rules and read the events on
 * --events-pub over TLS; the manager refuses to listen beyond loopback
 * without TLS.  Needs dockerd and orch-test/busybox:latest
 * (scripts/docker-up.sh).  Every wait is a poll with a deadline.
 */
#include <jansson.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/req.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "certs.h"
#include "clock.h"
#include "docker_client.h"
#include "docker_util.h"
#include "error.h"
#include "fake_agent.h"
#include "harness.h"
#include "http_json.h"
#include "manager_proc.h"
#include "orch.pb-c.h"
#include "rpc_client.h"
#include "tls.h"

#define SOCK "/var/run/docker.sock"
#define IMAGE "orch-test/busybox:latest"
#define NODE_PREFIX "e2e-tls-"
#define WAIT_MS 30000

static struct mgr m;
static char *certs;       /* the cluster's certificate directory */
static char *other_certs; /* another cluster's */
static char rpc_url[64], pub_url[64];
static char events_tcp[64]; /* --events-pub as given: tcp:// */
static struct orch_docker_client *peek;
static bool finished;

#define AGENTS_MAX 8
static struct {
	pid_t pid;
	char log[512];
} agents[AGENTS_MAX];
static int n_agents;

static void
at_exit(void)
{
	if (!finished) {
		char *log = h_read_file(m.log);

		fprintf(stderr, "---- manager log:\n%s\n", log ? log : "");
		free(log);
		for (int i = 0; i < n_agents; i++) {
			log = h_read_file(agents[i].log);
			fprintf(stderr, "---- %s:\n%s\n", agents[i].log,
			    log ? log : "");
			free(log);
		}
	}
	for (int i = 0; i < n_agents; i++) {
		if (agents[i].pid > 0)
			h_kill(agents[i].pid, SIGKILL);
		if (finished)
			unlink(agents[i].log);
	}
	du_cleanup(peek, NODE_PREFIX);
	orch_docker_client_free(peek);
	mgr_destroy(&m);
	if (certs != NULL)
		h_rm_rf(certs);
	if (other_certs != NULL)
		h_rm_rf(other_certs);
}

/* ---- helpers ---- */

/* A node name of this run: e2e-tls-<pid>-<tag>. */
static const char *
node_name(const char *tag)
{
	static char names[16][64];
	static int n;
	char *s = names[n++ % 16];

	snprintf(s, 64, NODE_PREFIX "%d-%s", (int)getpid(), tag);
	return s;
}

static void
issue(const char *dir, const char *name, const struct orch_certs_opts *o)
{
	struct orch_certs_opts dflt = {0};
	char err[1024];

	if (orch_certs_issue(
	        dir, name, o != NULL ? o : &dflt, err, sizeof(err)) != ORCH_OK)
		h_fail(__FILE__, __LINE__, "certs issue %s: %s", name, err);
}

/* Starts orch-agent --name name with extra flags (NULL-terminated, at
 * most 6).  Returns its index in agents[]. */
static int
agent_spawn(const char *name, const char *const *extra)
{
	char *bin = h_bin("orch-agent");
	const char *argv[24];
	int n = 0, i = n_agents++;

	ASSERT(i < AGENTS_MAX);
	snprintf(
	    agents[i].log, sizeof(agents[i].log), "%s-agent-%d.log", m.data, i);
	argv[n++] = bin;
	argv[n++] = "--manager";
	argv[n++] = rpc_url;
	argv[n++] = "--events";
	argv[n++] = pub_url;
	argv[n++] = "--name";
	argv[n++] = name;
	argv[n++] = "--heartbeat";
	argv[n++] = "0.2";
	argv[n++] = "--cpu";
	argv[n++] = "8";
	argv[n++] = "--memory";
	argv[n++] = "8192";
	/* Containers only: no exec state written outside the test. */
	argv[n++] = "--drivers";
	argv[n++] = "docker";
	for (int k = 0; extra != NULL && extra[k] != NULL && n < 23; k++)
		argv[n++] = extra[k];
	argv[n] = NULL;
	agents[i].pid = h_spawn((char *const *)argv, agents[i].log);
	free(bin);
	return i;
}

static void
agent_kill(int i)
{
	h_kill(agents[i].pid, SIGTERM);
	agents[i].pid = 0;
}

struct log_want {
	const char *path;
	const char *s1, *s2; /* both on one line; s2 may be NULL */
};

static bool
log_has(void *arg)
{
	const struct log_want *w = arg;
	char *log = h_read_file(w->path), *line, *save = NULL;
	bool found = false;

	if (log == NULL)
		return false;
	for (line = strtok_r(log, "\n", &save); line != NULL && !found;
	     line = strtok_r(NULL, "\n", &save))
		found = strstr(line, w->s1) != NULL &&
		    (w->s2 == NULL || strstr(line, w->s2) != NULL);
	free(log);
	return found;
}

/* Waits until one line of the log at path holds s1 and s2. */
static void
wait_log(const char *path, const char *s1, const char *s2)
{
	struct log_want w = {path, s1, s2};

	if (!h_wait_until(log_has, &w, WAIT_MS))
		h_fail(__FILE__, __LINE__, "%s: no line with \"%s\" and \"%s\"",
		    path, s1, s2 != NULL ? s2 : "");
}

/* The HTTP status of GET /nodes/<name>. */
static int
node_status_code(const char *name, char **body)
{
	char path[128];

	snprintf(path, sizeof(path), "/nodes/%s", name);
	return h_http(m.http_port, "GET", path, NULL, body);
}

static bool
node_ready(void *arg)
{
	char *body = NULL;
	json_t *n;
	bool ok = false;

	if (node_status_code(arg, &body) == 200 &&
	    (n = json_loads(body, 0, NULL)) != NULL) {
		ok = hj_str(n, "status") != NULL &&
		    strcmp(hj_str(n, "status"), "Ready") == 0;
		json_decref(n);
	}
	free(body);
	return ok;
}

/* The node is unknown to the manager: it never registered. */
static void
assert_never_joined(const char *name)
{
	ASSERT_INT_EQ(node_status_code(name, NULL), 404);
}

struct status_want {
	const char *id;
	const char *status;
};

static bool
task_is(void *arg)
{
	struct status_want *w = arg;
	json_t *t = hj_task(m.http_port, w->id);
	bool ok = hj_str(t, "status") != NULL &&
	    strcmp(hj_str(t, "status"), w->status) == 0;

	json_decref(t);
	return ok;
}

/* A REQ socket dialed to the manager over TLS as name, with the
 * certificate folder dir/nodes/<name>; waits until it is connected. */
static nng_socket
tls_req(const char *dir, const char *name)
{
	char folder[1024], err[1024];
	nng_tls_config *cfg = NULL;
	nng_socket s;
	nng_dialer d;

	snprintf(folder, sizeof(folder), "%s/nodes/%s", dir, name);
	ASSERT_INT_EQ(orch_tls_client_config(
	                  folder, name, rpc_url, &cfg, err, sizeof(err)),
	    ORCH_OK);
	ASSERT(nng_req0_open(&s) == 0);
	ASSERT(nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 15000) == 0);
	ASSERT(nng_dialer_create(&d, s, rpc_url) == 0);
	ASSERT(nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg) == 0);
	nng_tls_config_free(cfg);
	/* Synchronous: a refused handshake fails here, not later. */
	ASSERT_INT_EQ(nng_dialer_start(d, 0), 0);
	return s;
}

static char *
register_node(nng_socket s, const char *name, int want)
{
	Orch__NodeRegistration r = ORCH__NODE_REGISTRATION__INIT;
	Orch__Node *n = NULL;
	char err[512], *id = NULL;
	int rc;

	r.name = (char *)name;
	r.has_cpu = true;
	r.cpu = 1;
	r.has_memory_mb = true;
	r.memory_mb = 256;
	rc = fa_node_register(s, &r, &n, err, sizeof(err));
	if (rc != want)
		h_fail(__FILE__, __LINE__, "RegisterNode %s: %d (%s), want %d",
		    name, rc, rc != ORCH_OK ? err : "", want);
	if (n != NULL) {
		id = strdup(n->id);
		orch__node__free_unpacked(n, NULL);
	}
	if (rc == ORCH_EPERM) {
		ASSERT_STR_CONTAINS(err, "may not act as node");
		ASSERT_STR_CONTAINS(err, name);
	}
	return id;
}

/* ---- tests ---- */

static void
test_good_agent_joins_and_runs_a_task(void)
{
	const char *name = node_name("good");
	char folder[1024], body[512];
	const char *extra[] = {"--tls-dir", folder, NULL};
	struct status_want w;
	json_t *t;
	int a;

	snprintf(folder, sizeof(folder), "%s/nodes/%s", certs, name);
	a = agent_spawn(name, extra);
	if (!h_wait_until(node_ready, (void *)name, WAIT_MS))
		h_fail(__FILE__, __LINE__, "node %s is not Ready", name);
	wait_log(m.log, "rpc: 127.0.0.1:", "connected with the certificate");
	wait_log(m.log, "pub: 127.0.0.1:", name);
	wait_log(
	    agents[a].log, "registered with the manager at tls+tcp://", name);

	/* Placement, heartbeats, notices and reports all go over TLS. */
	snprintf(body, sizeof(body),
	    "{\"name\":\"tls-echo\",\"image\":\"" IMAGE "\","
	    "\"command\":[\"true\"],\"constraints\":[\"node.name==%s\"]}",
	    name);
	t = hj_call(m.http_port, "POST", "/tasks", body, 201);
	w.id = hj_str(t, "id");
	w.status = "Completed";
	if (!h_wait_until(task_is, &w, WAIT_MS))
		h_fail(__FILE__, __LINE__, "task %s did not complete", w.id);
	json_decref(t);
}

static void
test_plaintext_agent_never_joins(void)
{
	const char *name = node_name("plain");
	char tcp_rpc[64], tcp_pub[64];
	const char *extra[] = {NULL};
	char *bin = h_bin("orch-agent");
	const char *argv[] = {bin, "--manager", tcp_rpc, "--events", tcp_pub,
	    "--name", name, "--cpu", "1", "--memory", "512", "--drivers",
	    "docker", NULL};
	int i = n_agents++;

	(void)extra;
	snprintf(tcp_rpc, sizeof(tcp_rpc), "tcp://127.0.0.1:%d", m.rpc_port);
	snprintf(tcp_pub, sizeof(tcp_pub), "tcp://127.0.0.1:%d", m.pub_port);
	snprintf(
	    agents[i].log, sizeof(agents[i].log), "%s-agent-%d.log", m.data, i);
	agents[i].pid = h_spawn((char *const *)argv, agents[i].log);
	free(bin);
	wait_log(
	    m.log, "TLS handshake with a client failed", "does not speak TLS");
	assert_never_joined(name);
	agent_kill(i);
	assert_never_joined(name);
}

static void
test_foreign_agent_never_joins(void)
{
	const char *name = node_name("foreign");
	char folder[1024], src[1100], dst[1100], *pem;
	const char *extra[] = {"--tls-dir", folder, NULL};
	FILE *f;
	int a;

	/* Its certificate is another cluster's, though it trusts ours. */
	issue(other_certs, name, NULL);
	snprintf(folder, sizeof(folder), "%s/nodes/%s", other_certs, name);
	snprintf(src, sizeof(src), "%s/ca.crt", certs);
	snprintf(dst, sizeof(dst), "%s/ca.crt", folder);
	ASSERT((pem = h_read_file(src)) != NULL);
	ASSERT((f = fopen(dst, "w")) != NULL);
	ASSERT(fputs(pem, f) >= 0 && fclose(f) == 0);
	free(pem);

	a = agent_spawn(name, extra);
	/* The agent itself says it cannot work (checked against the CA it
	 * trusts) ... */
	wait_log(agents[a].log, "not signed by this cluster's CA",
	    "the manager will refuse it");
	/* ... and the manager says why it refused it. */
	wait_log(m.log, name, "not signed by this cluster's CA");
	assert_never_joined(name);
	agent_kill(a);
}

static void
test_expired_agent_never_joins(void)
{
	const char *name = node_name("expired");
	struct orch_certs_opts old = {0};
	char folder[1024];
	const char *extra[] = {"--tls-dir", folder, NULL};
	time_t now = time(NULL);
	int a;

	old.not_before = now - 30 * 86400;
	old.not_after = now - 86400;
	issue(certs, name, &old);
	snprintf(folder, sizeof(folder), "%s/nodes/%s", certs, name);
	a = agent_spawn(name, extra);
	wait_log(m.log, name, "of a client: it expired");
	assert_never_joined(name);
	agent_kill(a);
}

static void
test_agent_under_another_name_is_refused(void)
{
	const char *cert = node_name("good");
	const char *name = node_name("impostor");
	char folder[1024], want[256];
	const char *extra[] = {"--tls-dir", folder, "--tls-name", cert, NULL};
	int a;

	snprintf(folder, sizeof(folder), "%s/nodes/%s", certs, cert);
	a = agent_spawn(name, extra);
	wait_log(agents[a].log, "may not act as node", name);
	snprintf(want, sizeof(want),
	    "refused the certificate of \"%s\" acting as node \"%s\"", cert,
	    name);
	wait_log(m.log, want, NULL);
	assert_never_joined(name);
	agent_kill(a);
}

static void
test_methods_check_the_callers_name(void)
{
	const char *a_name = node_name("rpc-a"), *b_name = node_name("rpc-b");
	nng_socket a, b, ci;
	Orch__Assignments *as = NULL;
	struct fa_report r = {0};
	char err[512], *a_id, *b_id;
	json_t *t;

	issue(certs, a_name, NULL);
	issue(certs, b_name, NULL);
	issue(certs, node_name("ci"), NULL);
	a = tls_req(certs, a_name);
	b = tls_req(certs, b_name);

	a_id = register_node(a, a_name, ORCH_OK);
	b_id = register_node(b, b_name, ORCH_OK);
	/* b may not register, beat or report as a. */
	free(register_node(b, a_name, ORCH_EPERM));
	ASSERT_INT_EQ(fa_heartbeat(b, a_id, &as, err, sizeof(err)), ORCH_EPERM);
	ASSERT_STR_CONTAINS(err, b_name);
	ASSERT_INT_EQ(fa_heartbeat(a, a_id, &as, err, sizeof(err)), ORCH_OK);
	orch__assignments__free_unpacked(as, NULL);
	as = NULL;
	ASSERT_INT_EQ(fa_heartbeat(b, b_id, &as, err, sizeof(err)), ORCH_OK);
	orch__assignments__free_unpacked(as, NULL);

	t = hj_call(m.http_port, "POST", "/tasks",
	    "{\"name\":\"tls-pending\",\"image\":\"" IMAGE "\","
	    "\"constraints\":[\"zone==nowhere\"]}",
	    201);
	r.task = hj_str(t, "id");
	r.node = a_id;
	r.status = ORCH__TASK_STATUS__TASK_STATUS_RUNNING;
	ASSERT_INT_EQ(fa_task_report(b, &r, err, sizeof(err)), ORCH_EPERM);
	ASSERT_STR_CONTAINS(err, a_name);
	/* a's own report gets to the task, which is not a's: CONFLICT, not
	 * PERMISSION_DENIED. */
	ASSERT_INT_EQ(fa_task_report(a, &r, err, sizeof(err)), ORCH_ECONFLICT);

	/* An integrator's certificate reads and submits like anyone. */
	ci = tls_req(certs, node_name("ci"));
	{
		Orch__ListTasksRequest in = ORCH__LIST_TASKS_REQUEST__INIT;
		Orch__TaskList *list = NULL;

		ASSERT_INT_EQ(orch_rpc_call(ci, "orch.Manager/ListTasks",
		                  &in.base, &orch__task_list__descriptor,
		                  (ProtobufCMessage **)&list, err, sizeof(err)),
		    ORCH_OK);
		ASSERT(list->n_tasks >= 1);
		orch__task_list__free_unpacked(list, NULL);
	}
	json_decref(t);
	nng_close(a);
	nng_close(b);
	nng_close(ci);
	free(a_id);
	free(b_id);
}

static void
test_agent_without_its_certificate(void)
{
	char *bin = h_bin("orch-agent"), *out = NULL, *err = NULL;
	char missing[1024];
	char *argv[] = {bin, "--manager", rpc_url, "--events", pub_url,
	    "--name", "nobody", "--tls-dir", missing, "--cpu", "1", "--memory",
	    "512", "--drivers", "docker", NULL};
	char *no_dir[] = {bin, "--tls-name", "x", NULL};

	snprintf(missing, sizeof(missing), "%s/nodes/nobody", certs);
	ASSERT_INT_EQ(h_run(argv, &out, &err, 30000), 1);
	ASSERT_STR_CONTAINS(err, "nodes/nobody/ca.crt");
	ASSERT_STR_CONTAINS(err, "certs issue --dir DIR --name nobody");
	free(out);
	free(err);
	ASSERT_INT_EQ(h_run(no_dir, &out, &err, 30000), 2);
	ASSERT_STR_CONTAINS(err, "--tls-name needs --tls-dir");
	free(out);
	free(err);
	free(bin);
}

/* Runs orch-manager with args (after the binary, NULL-terminated) and
 * checks its exit status and that stderr holds want. */
static void
manager_run(const char *const *args, int status, const char *want)
{
	char *bin = h_bin("orch-manager"), *out = NULL, *err = NULL;
	const char *argv[20];
	int n = 0;

	argv[n++] = bin;
	for (int i = 0; args[i] != NULL && n < 19; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	ASSERT_INT_EQ(h_run((char *const *)argv, &out, &err, 30000), status);
	ASSERT_STR_CONTAINS(err, want);
	free(out);
	free(err);
	free(bin);
}

/* --events-pub is served over mutual TLS like --pub: its tcp:// URL turns
 * tls+tcp://, and a client with a certificate from the CA reads the
 * events there. */
static void
test_events_pub_over_tls(void)
{
	const char *name = node_name("events");
	char folder[1024], err[1024], url[80], topic[128], *id = NULL;
	nng_tls_config *cfg = NULL;
	Orch__Event *e = NULL;
	int64_t end = orch_mono_ms() + WAIT_MS;
	nng_dialer d;
	nng_socket sub;
	nng_msg *msg;

	snprintf(url, sizeof(url), "tls+%s", events_tcp);
	wait_log(m.log, "events-pub", url);
	issue(certs, name, NULL);
	snprintf(folder, sizeof(folder), "%s/nodes/%s", certs, name);
	ASSERT_INT_EQ(
	    orch_tls_client_config(folder, name, url, &cfg, err, sizeof(err)),
	    ORCH_OK);
	ASSERT(nng_sub0_open(&sub) == 0);
	ASSERT(nng_socket_set_ms(sub, NNG_OPT_RECVTIMEO, 200) == 0);
	ASSERT(
	    nng_socket_set(sub, NNG_OPT_SUB_SUBSCRIBE, "event/task/", 11) == 0);
	ASSERT(nng_dialer_create(&d, sub, url) == 0);
	ASSERT(nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg) == 0);
	nng_tls_config_free(cfg);
	ASSERT_INT_EQ(nng_dialer_start(d, 0), 0);
	wait_log(m.log, "events-pub: 127.0.0.1:", name);
	/* PUB drops what it sends before the subscriber is attached on its
	 * side: submit until the created event of one arrives. */
	while (e == NULL && orch_mono_ms() < end) {
		json_t *t = hj_call(m.http_port, "POST", "/tasks",
		    "{\"name\":\"tls-events\",\"image\":\"" IMAGE "\","
		    "\"constraints\":[\"zone==none\"]}",
		    201);
		size_t tl;

		free(id);
		id = strdup(hj_str(t, "id"));
		json_decref(t);
		tl = (size_t)snprintf(
		    topic, sizeof(topic), "event/task/%s ", id);
		while (e == NULL && nng_recvmsg(sub, &msg, 0) == 0) {
			if (nng_msg_len(msg) > tl &&
			    memcmp(nng_msg_body(msg), topic, tl) == 0)
				e = orch__event__unpack(NULL,
				    nng_msg_len(msg) - tl,
				    (const uint8_t *)nng_msg_body(msg) + tl);
			nng_msg_free(msg);
		}
	}
	ASSERT(e != NULL);
	ASSERT_STR_EQ(e->object_id, id);
	ASSERT_STR_EQ(e->type, "task.created");
	orch__event__free_unpacked(e, NULL);
	nng_close(sub);
	free(id);
}

static void
test_manager_refuses_to_listen_beyond_loopback(void)
{
	char *data = h_tmpdir("tls-refuse"), file[600], below[700];
	char http[64], rpc[64], pub[64], any_rpc[64], any_pub[64];
	FILE *f;

	/* Nothing here binds beyond loopback: the refusals come before any
	 * socket is opened, and the --insecure run fails on its data
	 * directory right after the warning. */
	snprintf(http, sizeof(http), "127.0.0.1:%d", h_free_port());
	snprintf(rpc, sizeof(rpc), "tcp://127.0.0.1:%d", h_free_port());
	snprintf(pub, sizeof(pub), "tcp://127.0.0.1:%d", h_free_port());
	snprintf(any_rpc, sizeof(any_rpc), "tcp://0.0.0.0:%d", h_free_port());
	snprintf(any_pub, sizeof(any_pub), "tcp://[::]:%d", h_free_port());
	snprintf(file, sizeof(file), "%s/file", data);
	snprintf(below, sizeof(below), "%s/data", file);
	ASSERT((f = fopen(file, "w")) != NULL && fclose(f) == 0);
	{
		const char *a[] = {"--http", http, "--rpc", any_rpc, "--pub",
		    pub, "--data", data, NULL};

		manager_run(a, 2, "refusing to start: --rpc tcp://0.0.0.0:");
		manager_run(a, 2, "--tls-dir DIR");
		manager_run(a, 2, "--insecure");
	}
	{
		const char *a[] = {"--http", http, "--rpc", rpc, "--pub",
		    any_pub, "--data", data, NULL};

		manager_run(a, 2, "refusing to start: --pub tcp://[::]:");
	}
	{
		const char *a[] = {"--http", http, "--rpc", any_rpc, "--pub",
		    pub, "--data", below, "--insecure", NULL};

		manager_run(
		    a, 1, "INSECURE (--insecure): --rpc tcp://0.0.0.0:");
	}
	{
		const char *a[] = {"--http", http, "--rpc", "tls+tcp://x:1",
		    "--data", data, NULL};

		manager_run(a, 2, "needs --tls-dir");
	}
	{
		const char *a[] = {"--http", http, "--rpc", "ipc:///tmp/x.sock",
		    "--tls-dir", certs, "--data", data, NULL};

		manager_run(a, 2, "tcp:// or tls+tcp://");
	}
	{
		const char *a[] = {"--http", http, "--rpc", rpc, "--pub", pub,
		    "--tls-dir", data, "--data", below, NULL};

		manager_run(a, 1, "certs init --dir");
	}
	h_rm_rf(data);
	free(data);
}

int
main(void)
{
	const char *flags[] = {"--tls-dir", NULL, "--heartbeat-ttl", "10",
	    "--events-pub", events_tcp, NULL};
	struct orch_certs_opts o = {0};
	char err[1024];

	setvbuf(stderr, NULL, _IONBF, 0);
	if (orch_docker_client_new(SOCK, &peek) != ORCH_OK)
		h_fail(__FILE__, __LINE__, "docker client");
	atexit(at_exit);
	du_cleanup(peek, NODE_PREFIX);

	certs = h_tmpdir("tls-certs");
	other_certs = h_tmpdir("tls-other");
	if (orch_certs_init(certs, &o, err, sizeof(err)) != ORCH_OK ||
	    orch_certs_init(other_certs, &o, err, sizeof(err)) != ORCH_OK)
		h_fail(__FILE__, __LINE__, "certs init: %s", err);
	issue(certs, node_name("good"), NULL);

	flags[1] = certs;
	snprintf(events_tcp, sizeof(events_tcp), "tcp://127.0.0.1:%d",
	    h_free_port());
	mgr_start(&m, flags);
	snprintf(
	    rpc_url, sizeof(rpc_url), "tls+tcp://127.0.0.1:%d", m.rpc_port);
	snprintf(
	    pub_url, sizeof(pub_url), "tls+tcp://127.0.0.1:%d", m.pub_port);

	RUN(test_good_agent_joins_and_runs_a_task);
	RUN(test_plaintext_agent_never_joins);
	RUN(test_foreign_agent_never_joins);
	RUN(test_expired_agent_never_joins);
	RUN(test_agent_under_another_name_is_refused);
	RUN(test_methods_check_the_callers_name);
	RUN(test_agent_without_its_certificate);
	RUN(test_events_pub_over_tls);
	RUN(test_manager_refuses_to_listen_beyond_loopback);

	/* Under ASan a clean exit also means no leak on the TLS paths. */
	mgr_stop_clean(&m);
	finished = true;
	return 0;
}
