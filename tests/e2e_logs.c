/*
 * e2e_logs.c: GET /tasks/{id}/logs and orchctl logs end to end: the real
 * orch-manager, an orch-agent with the docker driver against the real
 * daemon, and one with the exec driver, each output travelling from the
 * node's runtime through the agent's PushLogs and the manager to an HTTP
 * client on loopback.
 *
 * Both streams of a container, the last lines, one stream, a followed
 * stream that gets a line printed later and ends when the task exits, an
 * ended task's output gone (410); orchctl logs and logs -f, its Ctrl-C,
 * after which the agent is told to stop; an exec task's files, followed;
 * a task that never started (409) and bad queries; a node that stops
 * answering mid-stream (the error trailer, orchctl saying it) and before
 * its first chunk (504).
 *
 * Needs dockerd and orch-test/busybox:latest (scripts/docker-up.sh).  A
 * task that prints something later waits for a file the test creates (in
 * a host directory mounted in its container, or its exec work
 * directory): every wait is a poll with a deadline.
 */
#include <errno.h>
#include <jansson.h>
#include <poll.h>
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
#include "exec_util.h"
#include "harness.h"
#include "http_json.h"
#include "manager_proc.h"
#include "prom_text.h"

#define SOCK "/var/run/docker.sock"
#define IMAGE "orch-test/busybox:latest"
#define NODE_PREFIX "e2e-logs-"
#define WAIT_MS 30000

static struct mgr m;
static char *dir;
static char trig[512], state_dir[512], policy[512], pub_url[64];
static char node_d[64], node_x[64];
static char log_d[600], log_x[600];
static pid_t pid_d, pid_x;
static bool finished;
static struct orch_docker_client *peek;

static void
tail_file(const char *what, const char *path)
{
	char *s = h_read_file(path);

	if (s != NULL)
		fprintf(stderr, "---- %s (%s):\n%s\n", what, path,
		    strlen(s) > 6000 ? s + strlen(s) - 6000 : s);
	free(s);
}

static void
at_exit(void)
{
	if (!finished) {
		tail_file("docker agent log", log_d);
		tail_file("exec agent log", log_x);
		tail_file("manager log", m.log);
	}
	if (dir != NULL)
		eu_cleanup(state_dir, node_x);
	du_cleanup(peek, NODE_PREFIX);
	orch_docker_client_free(peek);
	mgr_destroy(&m);
	if (dir != NULL)
		h_rm_rf(dir);
	free(dir);
	dir = NULL;
}

static pid_t
agent_spawn(const char *name, const char *log, const char *drivers)
{
	char *bin = h_bin("orch-agent");
	char *argv[] = {bin, "--manager", m.rpc_url, "--events", pub_url,
	    "--name", (char *)name, "--heartbeat", "0.2", "--stop-timeout", "1",
	    "--cpu", "8", "--memory", "8192", "--state-dir", state_dir,
	    "--cgroup", "none", "--drivers", (char *)drivers, "--log-level",
	    "debug", NULL};
	pid_t pid = h_spawn(argv, log);

	free(bin);
	return pid;
}

static char *
submit(const char *body)
{
	return hj_submit(m.http_port, body);
}

static void
task_stop(const char *id)
{
	char path[128];

	snprintf(path, sizeof(path), "/tasks/%s", id);
	json_decref(hj_call(m.http_port, "DELETE", path, NULL, 200));
}

/* ---- a streamed answer over a raw socket ---- */

struct resp {
	char raw[65536];
	size_t len;
	bool eof;
};

/* An answer taken apart: the status, the head, the body (chunks joined)
 * and the trailer fields; complete when the last chunk came. */
struct parsed {
	int status;
	char head[2048];
	char body[32768];
	char trailers[1024];
	bool complete;
};

static int
get_open(const char *path)
{
	char req[512];
	int fd = h_connect(m.http_port);

	ASSERT(fd >= 0);
	snprintf(req, sizeof(req),
	    "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
	    path);
	ASSERT(h_send_all(fd, req, strlen(req)) == 0);
	return fd;
}

/* Reads more of r within the deadline; false once it is over. */
static bool
read_more(int fd, struct resp *r, int64_t deadline)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int64_t left = deadline - orch_mono_ms();
	ssize_t n;

	if (r->eof || left <= 0)
		return false;
	if (poll(&p, 1, (int)left) <= 0)
		return false;
	ASSERT(r->len < sizeof(r->raw) - 1);
	n = read(fd, r->raw + r->len, sizeof(r->raw) - 1 - r->len);
	if (n <= 0) {
		r->eof = true;
		return false;
	}
	r->len += (size_t)n;
	r->raw[r->len] = '\0';
	return true;
}

static void
parse(const struct resp *r, struct parsed *p)
{
	const char *hend = strstr(r->raw, "\r\n\r\n"), *c;
	size_t o = 0;

	memset(p, 0, sizeof(*p));
	ASSERT(hend != NULL);
	ASSERT(sscanf(r->raw, "HTTP/1.1 %d", &p->status) == 1);
	ASSERT((size_t)(hend - r->raw) < sizeof(p->head));
	memcpy(p->head, r->raw, (size_t)(hend - r->raw));
	c = hend + 4;
	if (strstr(p->head, "Transfer-Encoding: chunked") == NULL) {
		snprintf(p->body, sizeof(p->body), "%s", c);
		p->complete = r->eof;
		return;
	}
	for (;;) {
		char *end;
		unsigned long n = strtoul(c, &end, 16);
		const char *line_end = strstr(c, "\r\n");

		if (line_end == NULL || end == c)
			return; /* not there yet */
		c = line_end + 2;
		if (n == 0) {
			const char *tend = strstr(c, "\r\n");

			/* Trailer fields up to the empty line. */
			while (tend != NULL && tend != c) {
				ASSERT((size_t)(tend + 2 - c) <
				    sizeof(p->trailers) - strlen(p->trailers));
				strncat(p->trailers, c, (size_t)(tend + 2 - c));
				c = tend + 2;
				tend = strstr(c, "\r\n");
			}
			p->complete = tend != NULL;
			return;
		}
		if (strlen(c) < n + 2)
			return;
		ASSERT(o + n < sizeof(p->body));
		memcpy(p->body + o, c, n);
		o += n;
		p->body[o] = '\0';
		c += n + 2;
	}
}

/* Reads until every needle is in the body, or fails. */
static void
read_until(int fd, struct resp *r, const char *const *needles)
{
	int64_t deadline = orch_mono_ms() + WAIT_MS;
	struct parsed p;

	for (;;) {
		bool all = strstr(r->raw, "\r\n\r\n") != NULL;

		if (all) {
			parse(r, &p);
			for (size_t i = 0; all && needles[i] != NULL; i++)
				all = strstr(p.body, needles[i]) != NULL;
		}
		if (all)
			return;
		if (!read_more(fd, r, deadline))
			h_fail(__FILE__, __LINE__,
			    "the stream ended or stalled before \"%s\": %s",
			    needles[0], r->raw);
	}
}

/* Reads to the end (the manager closes after a stream), or fails. */
static void
read_end(int fd, struct resp *r, int timeout_ms)
{
	int64_t deadline = orch_mono_ms() + timeout_ms;

	while (!r->eof) {
		if (!read_more(fd, r, deadline) && !r->eof)
			h_fail(__FILE__, __LINE__, "the stream did not end: %s",
			    r->raw);
	}
}

/* One whole GET of path, parsed. */
static void
get(const char *path, struct parsed *p)
{
	struct resp *r = calloc(1, sizeof(*r));
	int fd = get_open(path);

	ASSERT(r != NULL);
	read_end(fd, r, WAIT_MS);
	close(fd);
	parse(r, p);
	free(r);
}

static void
logs_path(char *buf, size_t len, const char *id, const char *query)
{
	snprintf(buf, len, "/tasks/%s/logs%s%s", id, query != NULL ? "?" : "",
	    query != NULL ? query : "");
}

struct body_want {
	const char *id;
	const char *query;
	const char *const *needles;
	struct parsed p;
};

static bool
body_has(void *arg)
{
	struct body_want *w = arg;
	char path[256];

	logs_path(path, sizeof(path), w->id, w->query);
	get(path, &w->p);
	if (w->p.status != 200)
		return false;
	for (size_t i = 0; w->needles[i] != NULL; i++) {
		if (strstr(w->p.body, w->needles[i]) == NULL)
			return false;
	}
	return true;
}

/* Polls GET /tasks/id/logs?query until its body holds every needle (a
 * task prints once it runs, a moment after it is Running). */
static void
wait_body(const char *id, const char *query, const char *const *needles,
    struct parsed *out)
{
	struct body_want w = {.id = id, .query = query, .needles = needles};

	if (!h_wait_until(body_has, &w, WAIT_MS))
		h_fail(__FILE__, __LINE__,
		    "logs of %s never held \"%s\": %d %s", id, needles[0],
		    w.p.status, w.p.body);
	*out = w.p;
}

static void
wait_status(const char *id, const char *status)
{
	json_decref(eu_wait_status(m.http_port, id, status, WAIT_MS));
}

static void
touch(const char *path)
{
	FILE *f = fopen(path, "w");

	ASSERT(f != NULL);
	fclose(f);
}

static size_t
count_in_file(const char *path, const char *needle)
{
	char *s = h_read_file(path);
	size_t n = 0;

	for (const char *p = s; p != NULL && (p = strstr(p, needle)) != NULL;
	     p++)
		n++;
	free(s);
	return n;
}

struct file_want {
	const char *path;
	const char *needle;
	size_t more_than;
};

static bool
file_has(void *arg)
{
	struct file_want *w = arg;

	return count_in_file(w->path, w->needle) > w->more_than;
}

/* Waits for pid (a process this test started) to exit with code. */
static void
wait_exit(pid_t pid, int code)
{
	int st = h_wait_pid(pid, WAIT_MS);

	ASSERT(st != -1);
	ASSERT(WIFEXITED(st));
	ASSERT_INT_EQ(WEXITSTATUS(st), code);
}

static pid_t
orchctl_spawn(const char *out, const char *const *args)
{
	char *bin = h_bin("orchctl");
	char *argv[16] = {bin, "--addr", m.addr};
	size_t n = 3;
	pid_t pid;

	for (size_t i = 0; args[i] != NULL && n < 15; i++)
		argv[n++] = (char *)args[i];
	argv[n] = NULL;
	pid = h_spawn(argv, out);
	free(bin);
	return pid;
}

static bool
node_ready(void *arg)
{
	char path[128];
	json_t *n;
	bool ok;

	snprintf(path, sizeof(path), "/nodes/%s", (const char *)arg);
	if (h_http(m.http_port, "GET", path, NULL, NULL) != 200)
		return false;
	n = hj_call(m.http_port, "GET", path, NULL, 200);
	ok = hj_str(n, "status") != NULL &&
	    strcmp(hj_str(n, "status"), "Ready") == 0;
	json_decref(n);
	return ok;
}

struct error_want {
	const char *path;
	const char *needle;
};

static bool
error_has(void *arg)
{
	struct error_want *w = arg;
	char *body = NULL;
	bool ok = h_http(m.http_port, "GET", w->path, NULL, &body) == 409 &&
	    body != NULL && strstr(body, w->needle) != NULL;

	free(body);
	return ok;
}

/* The gauge orch_log_streams of GET /metrics. */
static double
streams_now(void)
{
	char *body = NULL, perr[256];
	struct prom_page pg;
	double v = -1;

	ASSERT_INT_EQ(h_http(m.http_port, "GET", "/metrics", NULL, &body), 200);
	if (prom_parse(body, &pg, perr, sizeof(perr)) != 0)
		h_fail(__FILE__, __LINE__, "GET /metrics: %s", perr);
	ASSERT(prom_get(&pg, "orch_log_streams", NULL, &v) == 0);
	prom_free(&pg);
	free(body);
	return v;
}

static bool
no_streams(void *arg)
{
	(void)arg;
	return streams_now() == 0;
}

/* ---- tests ---- */

/* A container's two streams, one of them, followed to its exit. */
static void
test_docker_streams(void)
{
	static const char *const four[] = {
	    "out1\n", "out2\n", "err1\n", "err2\n", NULL};
	static const char *const err_only[] = {"err1\n", "err2\n", NULL};
	char body[1024], path[256], go[600];
	struct parsed p;
	struct resp *r = calloc(1, sizeof(*r));
	char *id;
	int fd;

	ASSERT(r != NULL);
	snprintf(body, sizeof(body),
	    "{\"name\":\"talker\",\"image\":\"" IMAGE "\","
	    "\"volumes\":[\"%s:/trig\"],\"command\":[\"sh\",\"-c\","
	    "\"echo out1; echo err1 >&2; echo out2; echo err2 >&2; "
	    "while [ ! -e /trig/go ]; do sleep 0.05; done; echo later\"]}",
	    trig);
	id = submit(body);
	wait_status(id, "Running");
	wait_body(id, NULL, four, &p);
	ASSERT_STR_CONTAINS(p.head, "Content-Type: text/plain");
	ASSERT_STR_CONTAINS(p.head, "Transfer-Encoding: chunked");
	ASSERT_STR_CONTAINS(p.head, "X-Orch-Node: ");
	ASSERT(p.complete);
	ASSERT_STR_EQ(p.trailers, "");
	/* Nothing but what it printed (each stream in its own order). */
	ASSERT_INT_EQ(strlen(p.body), 20);
	ASSERT(strstr(p.body, "out1\n") < strstr(p.body, "out2\n"));
	ASSERT(strstr(p.body, "err1\n") < strstr(p.body, "err2\n"));

	wait_body(id, "stream=stderr", err_only, &p);
	ASSERT_STR_EQ(p.body, "err1\nerr2\n");

	/* Followed: what was printed, then a line printed later, then the
	 * end when the task exits. */
	logs_path(path, sizeof(path), id, "follow=1");
	fd = get_open(path);
	read_until(fd, r, four);
	parse(r, &p);
	ASSERT(!p.complete);
	ASSERT(streams_now() == 1);
	snprintf(go, sizeof(go), "%s/go", trig);
	touch(go);
	read_end(fd, r, WAIT_MS);
	close(fd);
	parse(r, &p);
	ASSERT(p.complete);
	ASSERT_STR_EQ(p.trailers, "");
	ASSERT_STR_CONTAINS(p.body, "later\n");
	ASSERT_INT_EQ(strlen(p.body), 26);
	wait_status(id, "Completed");
	unlink(go);

	/* Once its node has removed the container, there is nothing. */
	{
		int64_t deadline = orch_mono_ms() + WAIT_MS;

		logs_path(path, sizeof(path), id, NULL);
		for (;;) {
			get(path, &p);
			if (p.status == 410)
				break;
			ASSERT_INT_EQ(p.status, 200);
			ASSERT(orch_mono_ms() < deadline);
			poll(NULL, 0, 50);
		}
		ASSERT_STR_CONTAINS(
		    p.body, "has ended (Completed) and node " NODE_PREFIX);
		ASSERT_STR_CONTAINS(p.body, "removed its container");
	}
	free(id);
	free(r);
}

/* ?tail=N: the last N lines; orchctl logs, with and without --tail. */
static char *counter;

static void
test_docker_tail_and_orchctl(void)
{
	static const char *const five[] = {"line5\n", NULL};
	const char *all_args[] = {"logs", "counter", NULL};
	const char *tail_args[] = {"logs", "counter", "--tail", "1", NULL};
	struct parsed p;
	char *out = NULL, *errs = NULL;

	counter = submit("{\"name\":\"counter\",\"image\":\"" IMAGE "\","
	                 "\"command\":[\"sh\",\"-c\",\"for i in 1 2 3 4 5; do "
	                 "echo line$i; done; exec sleep 300\"]}");
	wait_status(counter, "Running");
	wait_body(counter, NULL, five, &p);
	ASSERT_STR_EQ(p.body, "line1\nline2\nline3\nline4\nline5\n");
	wait_body(counter, "tail=2", five, &p);
	ASSERT_STR_EQ(p.body, "line4\nline5\n");
	{
		char path[256];

		logs_path(path, sizeof(path), counter, "tail=0");
		get(path, &p);
		ASSERT_INT_EQ(p.status, 200);
		ASSERT_STR_EQ(p.body, "");
		ASSERT(p.complete);
	}

	ASSERT_INT_EQ(h_orchctl(m.addr, &out, &errs, all_args), 0);
	ASSERT_STR_EQ(out, "line1\nline2\nline3\nline4\nline5\n");
	free(out);
	free(errs);
	ASSERT_INT_EQ(h_orchctl(m.addr, &out, &errs, tail_args), 0);
	ASSERT_STR_EQ(out, "line5\n");
	free(out);
	free(errs);
}

/* orchctl logs -f: a line printed later, exit 0 when the task ends; and
 * Ctrl-C, after which the agent is told to stop. */
static void
test_orchctl_follow(void)
{
	const char *f_args[] = {"logs", "-f", "waiter", NULL};
	const char *c_args[] = {"logs", "--follow", "counter", NULL};
	char body[1024], out[600], out2[600], go[600];
	struct file_want fw;
	char *id, *s;
	pid_t pid;
	size_t stops;

	snprintf(body, sizeof(body),
	    "{\"name\":\"waiter\",\"image\":\"" IMAGE "\","
	    "\"volumes\":[\"%s:/trig\"],\"command\":[\"sh\",\"-c\","
	    "\"echo first; while [ ! -e /trig/go2 ]; do sleep 0.05; done; "
	    "echo second\"]}",
	    trig);
	id = submit(body);
	wait_status(id, "Running");
	snprintf(out, sizeof(out), "%s/orchctl-f.out", dir);
	pid = orchctl_spawn(out, f_args);
	fw = (struct file_want){out, "first\n", 0};
	ASSERT(h_wait_until(file_has, &fw, WAIT_MS));
	snprintf(go, sizeof(go), "%s/go2", trig);
	touch(go);
	wait_exit(pid, 0);
	s = h_read_file(out);
	ASSERT_STR_EQ(s, "first\nsecond\n");
	free(s);
	free(id);

	/* Ctrl-C ends it cleanly; the manager tells the agent to stop at
	 * its next push (a keep-alive comes within 5 s). */
	stops = count_in_file(log_d, "the manager asked to stop");
	snprintf(out2, sizeof(out2), "%s/orchctl-c.out", dir);
	pid = orchctl_spawn(out2, c_args);
	fw = (struct file_want){out2, "line5\n", 0};
	ASSERT(h_wait_until(file_has, &fw, WAIT_MS));
	ASSERT(kill(pid, SIGINT) == 0);
	wait_exit(pid, 0);
	fw = (struct file_want){
	    log_d, "the manager asked to stop (its client left)", stops};
	ASSERT(h_wait_until(file_has, &fw, WAIT_MS));
	task_stop(counter);
	wait_status(counter, "Stopped");
	free(counter);
}

/* An exec task's output: its files, stdout first, followed. */
static void
test_exec(void)
{
	static const char *const three[] = {"o2\n", "e1\n", NULL};
	char path[256], go[1024];
	struct parsed p;
	struct resp *r = calloc(1, sizeof(*r));
	char *id;
	int fd;

	ASSERT(r != NULL);
	id = submit("{\"name\":\"ex\",\"driver\":\"exec\",\"command\":"
	            "[\"/bin/sh\",\"-c\",\"echo o1; echo e1 >&2; echo o2; "
	            "while [ ! -e go ]; do sleep 0.05; done; echo o3\"]}");
	wait_status(id, "Running");
	wait_body(id, NULL, three, &p);
	ASSERT_STR_EQ(p.body, "o1\no2\ne1\n");
	wait_body(id, "tail=1", three, &p);
	ASSERT_STR_EQ(p.body, "o2\ne1\n");

	logs_path(path, sizeof(path), id, "follow=true");
	fd = get_open(path);
	read_until(fd, r, three);
	snprintf(
	    go, sizeof(go), "%s/exec/%s/%s/work/go", state_dir, node_x, id);
	touch(go);
	read_end(fd, r, WAIT_MS);
	close(fd);
	parse(r, &p);
	ASSERT(p.complete);
	ASSERT_STR_EQ(p.body, "o1\no2\ne1\no3\n");
	wait_status(id, "Completed");
	free(id);
	free(r);
}

/* Not started: 409 saying why; unknown tasks and bad queries. */
static void
test_refusals(void)
{
	const char *args[] = {"logs", "big", NULL};
	char path[256], *id, *out = NULL, *errs = NULL;
	json_t *e;

	id = submit("{\"name\":\"big\",\"image\":\"" IMAGE "\","
	            "\"memory\":999999}");
	logs_path(path, sizeof(path), id, NULL);
	/* Why it waits, once the scheduler has said it. */
	{
		struct error_want w = {path,
		    "task big has not started: it is Pending (no Ready node "
		    "has 999999 MB"};

		ASSERT(h_wait_until(error_has, &w, WAIT_MS));
	}
	ASSERT_INT_EQ(h_orchctl(m.addr, &out, &errs, args), 1);
	ASSERT_STR_CONTAINS(errs, "task big has not started");
	ASSERT_STR_EQ(out, "");
	free(out);
	free(errs);
	task_stop(id);
	/* Stopped before it was placed: it never ran. */
	e = hj_call(m.http_port, "GET", path, NULL, 409);
	ASSERT_STR_CONTAINS(
	    hj_str(e, "error"), "task big never started: it is Stopped");
	json_decref(e);

	e = hj_call(m.http_port, "GET",
	    "/tasks/2b9e0a70-3c1f-4d6e-9a51-8f0c6b1d2e34/logs", NULL, 404);
	ASSERT_STR_CONTAINS(hj_str(e, "error"), "no task with id");
	json_decref(e);
	e = hj_call(m.http_port, "GET", "/tasks/nope/logs", NULL, 404);
	json_decref(e);
	{
		static const char *const bad[] = {"tail=-1", "tail=x",
		    "tail=1000001", "follow=yes", "stream=both", NULL};

		for (size_t i = 0; bad[i] != NULL; i++) {
			logs_path(path, sizeof(path), id, bad[i]);
			e = hj_call(m.http_port, "GET", path, NULL, 400);
			ASSERT_STR_CONTAINS(
			    hj_str(e, "error"), "query parameter");
			json_decref(e);
		}
	}
	free(id);
}

/* A node that stops answering: mid-stream, the stream ends with the
 * error trailer (orchctl says it, exit 1); before its first chunk, 504. */
static void
test_silent_node(void)
{
	static const char *const hi[] = {"hi\n", NULL};
	const char *args[] = {"logs", "-f", "quiet", NULL};
	char path[256], out[600];
	struct parsed p;
	struct resp *r = calloc(1, sizeof(*r));
	struct file_want fw;
	char *id, *s;
	pid_t pid;
	int fd;

	ASSERT(r != NULL);
	id = submit("{\"name\":\"quiet\",\"driver\":\"exec\",\"command\":"
	            "[\"/bin/sh\",\"-c\",\"echo hi; exec sleep 300\"]}");
	wait_status(id, "Running");
	wait_body(id, NULL, hi, &p);
	logs_path(path, sizeof(path), id, "follow=1");
	fd = get_open(path);
	read_until(fd, r, hi);
	snprintf(out, sizeof(out), "%s/orchctl-q.out", dir);
	pid = orchctl_spawn(out, args);
	fw = (struct file_want){out, "hi\n", 0};
	ASSERT(h_wait_until(file_has, &fw, WAIT_MS));

	ASSERT(kill(pid_x, SIGSTOP) == 0);
	read_end(fd, r, 60000);
	close(fd);
	parse(r, &p);
	ASSERT(p.complete);
	ASSERT_STR_EQ(p.body, "hi\n");
	ASSERT_STR_CONTAINS(p.trailers, "X-Orch-Logs-Error: node " NODE_PREFIX);
	ASSERT_STR_CONTAINS(p.trailers,
	    "stopped sending the output of task "
	    "quiet (nothing for 15 s)");
	wait_exit(pid, 1);
	s = h_read_file(out);
	ASSERT_STR_CONTAINS(s, "hi\norchctl: the output ended early: node ");
	ASSERT_STR_CONTAINS(s, "stopped sending the output of task quiet");
	free(s);

	/* Asked while it is silent: no answer within 5 s. */
	logs_path(path, sizeof(path), id, NULL);
	get(path, &p);
	ASSERT_INT_EQ(p.status, 504);
	ASSERT_STR_CONTAINS(p.body,
	    "did not answer the request for the "
	    "output of task quiet within 5 s");

	ASSERT(kill(pid_x, SIGCONT) == 0);
	wait_body(id, NULL, hi, &p);
	task_stop(id);
	wait_status(id, "Stopped");
	free(id);
	free(r);
}

int
main(void)
{
	/* A TTL beyond test_silent_node's pause, so that the node stays
	 * Ready (its tasks are not lost) while its agent is stopped. */
	const char *flags[] = {
	    "--heartbeat-ttl", "120", "--policy", policy, NULL};
	FILE *f;

	signal(SIGPIPE, SIG_IGN);
	atexit(at_exit);
	dir = h_tmpdir("e2e-logs");
	snprintf(trig, sizeof(trig), "%s/trig", dir);
	ASSERT(mkdir(trig, 0755) == 0);
	snprintf(state_dir, sizeof(state_dir), "%s/state", dir);
	snprintf(policy, sizeof(policy), "%s/policy.json", dir);
	snprintf(
	    node_d, sizeof(node_d), NODE_PREFIX "%d-docker", (int)getpid());
	snprintf(node_x, sizeof(node_x), NODE_PREFIX "%d-exec", (int)getpid());
	snprintf(log_d, sizeof(log_d), "%s/agent-docker.log", dir);
	snprintf(log_x, sizeof(log_x), "%s/agent-exec.log", dir);
	f = fopen(policy, "w");
	ASSERT(f != NULL);
	fputs("{\"rules\": [{\"command\": \"/bin/*\", \"allow\": [\"exec\"]},"
	      " {\"image\": \"orch-test/*\", \"allow\": [\"host_mounts\"]}]}\n",
	    f);
	fclose(f);
	ASSERT(orch_docker_client_new(SOCK, &peek) == 0);
	du_cleanup(peek, NODE_PREFIX);
	mgr_start(&m, flags);
	snprintf(pub_url, sizeof(pub_url), "tcp://127.0.0.1:%d", m.pub_port);
	pid_d = agent_spawn(node_d, log_d, "docker");
	pid_x = agent_spawn(node_x, log_x, "exec");
	ASSERT(h_wait_until(node_ready, node_d, WAIT_MS));
	ASSERT(h_wait_until(node_ready, node_x, WAIT_MS));

	RUN(test_refusals);
	RUN(test_docker_streams);
	RUN(test_docker_tail_and_orchctl);
	RUN(test_orchctl_follow);
	RUN(test_exec);
	RUN(test_silent_node);
	/* Every stream is over. */
	ASSERT(h_wait_until(no_streams, NULL, WAIT_MS));
	/* The agents and the manager stop cleanly (under ASan: without a
	 * leak of a session, a request or a chunk). */
	{
		int st = h_kill(pid_d, SIGTERM);

		ASSERT(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
		st = h_kill(pid_x, SIGTERM);
		ASSERT(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	mgr_stop_clean(&m);
	finished = true;
	return 0;
}
