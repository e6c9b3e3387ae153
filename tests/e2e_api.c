/*
 * e2e_api.c: the real orch-manager, driven over raw sockets, with orchctl
 * and over NNG RPC.
 */
#include <jansson.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"
#include "harness.h"
#include "http_json.h"
#include "manager_proc.h"
#include "orch.pb-c.h"
#include "prom_text.h"
#include "rpc_client.h"

static struct mgr m;

/* The manager's HTTP API (http_json.h), on this test's manager. */
static json_t *
call(const char *method, const char *path, const char *body, int want)
{
	return hj_call(m.http_port, method, path, body, want);
}

/* Asserts an error answer whose message contains needle. */
static void
expect_error(const char *method, const char *path, const char *body, int want,
    const char *needle)
{
	json_t *j = call(method, path, body, want);

	ASSERT(json_is_string(json_object_get(j, "error")));
	ASSERT_STR_CONTAINS(hj_str(j, "error"), needle);
	json_decref(j);
}

static char *
submit(const char *name)
{
	char body[256];
	json_t *j;
	char *id;

	snprintf(body, sizeof(body),
	    "{\"name\":\"%s\",\"image\":\"busybox:1\"}", name);
	j = call("POST", "/tasks", body, 201);
	id = strdup(hj_str(j, "id"));
	json_decref(j);
	return id;
}

static void
test_submit_and_read(void)
{
	json_t *t, *g, *list;
	char path[128];
	const char *id;

	t = call("POST", "/tasks",
	    "{\"name\":\"web\",\"image\":\"nginx:latest\","
	    "\"memory\":512,\"cpu\":1.5,\"env\":{\"A\":\"1\",\"B\":\"two\"},"
	    "\"command\":[\"sh\",\"-c\",\"echo hi\"]}",
	    201);
	id = hj_str(t, "id");
	ASSERT(id != NULL && strlen(id) == 36);
	ASSERT_STR_EQ(hj_str(t, "name"), "web");
	ASSERT_STR_EQ(hj_str(t, "image"), "nginx:latest");
	ASSERT_INT_EQ(json_integer_value(json_object_get(t, "memory")), 512);
	ASSERT(json_real_value(json_object_get(t, "cpu")) == 1.5);
	ASSERT_STR_EQ(hj_str(json_object_get(t, "env"), "B"), "two");
	ASSERT_INT_EQ(json_array_size(json_object_get(t, "command")), 3);
	ASSERT_STR_EQ(hj_str(t, "status"), "Pending");
	ASSERT(json_is_null(json_object_get(t, "node_id")));
	ASSERT(json_is_null(json_object_get(t, "container_id")));
	ASSERT(json_is_null(json_object_get(t, "exit_code")));
	ASSERT(json_is_null(json_object_get(t, "started_at")));
	ASSERT(json_is_string(json_object_get(t, "created_at")));

	snprintf(path, sizeof(path), "/tasks/%s", id);
	g = call("GET", path, NULL, 200);
	/* Meanwhile the scheduler may have said why it waits (no node). */
	if (!json_is_null(json_object_get(g, "error"))) {
		ASSERT_STR_CONTAINS(hj_str(g, "error"), "no Ready node");
		json_object_set_new(g, "error", json_null());
	}
	ASSERT(json_equal(t, g));

	/* Defaults of the original API. */
	json_decref(g);
	g = call(
	    "POST", "/tasks", "{\"name\":\"d\",\"image\":\"busybox\"}", 201);
	ASSERT_INT_EQ(json_integer_value(json_object_get(g, "memory")), 256);
	ASSERT(json_real_value(json_object_get(g, "cpu")) == 0.5);
	ASSERT_INT_EQ(json_object_size(json_object_get(g, "env")), 0);

	list = call("GET", "/tasks", NULL, 200);
	ASSERT(json_array_size(list) >= 2);
	{
		bool found = false;
		size_t i;
		json_t *v;

		json_array_foreach(list, i, v)
		{
			if (strcmp(hj_str(v, "id"), id) == 0)
				found = true;
		}
		ASSERT(found);
	}
	json_decref(list);
	json_decref(g);
	json_decref(t);
}

static void
test_errors(void)
{
	expect_error("POST", "/tasks", "{\"image\":\"x\"}", 400, "\"name\"");
	expect_error("POST", "/tasks", "{\"name\":\"x\"}", 400, "\"image\"");
	expect_error(
	    "POST", "/tasks", "{\"name\":5,\"image\":\"x\"}", 400, "\"name\"");
	expect_error("POST", "/tasks",
	    "{\"name\":\"a\",\"image\":\"x\",\"memory\":\"big\"}", 400,
	    "\"memory\"");
	expect_error("POST", "/tasks", "{\"name\":", 400, "JSON");
	expect_error("POST", "/tasks", "[1,2]", 400, "object");
	expect_error("POST", "/tasks", "", 400, "");
	expect_error("POST", "/tasks",
	    "{\"name\":\"a\",\"image\":\"x\",\"memroy\":1}", 400, "memroy");
	expect_error("GET", "/nope", NULL, 404, "/nope");
	expect_error("GET", "/tasks/not-a-uuid", NULL, 404, "not-a-uuid");
	expect_error("GET", "/tasks/3f2c1d4e-0000-4000-8000-000000000000", NULL,
	    404, "3f2c1d4e");
	expect_error("PATCH", "/tasks", NULL, 405, "GET, POST");
	expect_error("GET", "/tasks?status=Sleeping", NULL, 400, "status");
	expect_error("PUT",
	    "/tasks/3f2c1d4e-0000-4000-8000-000000000000/status",
	    "{\"status\":\"Running\",\"container_id\":null}", 404, "3f2c1d4e");
	expect_error(
	    "PUT", "/tasks/zzz/status", "{\"status\":\"Running\"}", 404, "zzz");

	/* Nothing half-written: the refused submissions left no task. */
	{
		json_t *list = call("GET", "/tasks", NULL, 200);
		size_t i;
		json_t *v;

		json_array_foreach(list, i, v)
		{
			ASSERT(strcmp(hj_str(v, "name"), "x") != 0);
			ASSERT(strcmp(hj_str(v, "name"), "a") != 0);
		}
		json_decref(list);
	}
}

static void
test_status_reports(void)
{
	char *id = submit("reporter");
	char path[128];
	json_t *t;

	snprintf(path, sizeof(path), "/tasks/%s/status", id);
	t = call("PUT", path,
	    "{\"status\":\"Running\",\"container_id\":\"abc123\"}", 200);
	ASSERT_STR_EQ(hj_str(t, "status"), "Running");
	ASSERT_STR_EQ(hj_str(t, "container_id"), "abc123");
	ASSERT(json_is_string(json_object_get(t, "started_at")));
	json_decref(t);

	/* A null container_id keeps the stored one; Complete means Completed.
	 */
	t = call("PUT", path,
	    "{\"status\":\"Complete\",\"container_id\":null,"
	    "\"exit_code\":0}",
	    200);
	ASSERT_STR_EQ(hj_str(t, "status"), "Completed");
	ASSERT_STR_EQ(hj_str(t, "container_id"), "abc123");
	ASSERT_INT_EQ(json_integer_value(json_object_get(t, "exit_code")), 0);
	ASSERT(json_is_string(json_object_get(t, "finished_at")));
	json_decref(t);

	/* Repeating the final report is harmless; going back is refused. */
	t = call("PUT", path,
	    "{\"status\":\"Completed\",\"container_id\":null}", 200);
	json_decref(t);
	expect_error("PUT", path,
	    "{\"status\":\"Running\",\"container_id\":null}", 409, "Completed");
	expect_error("PUT", path,
	    "{\"status\":\"Bogus\",\"container_id\":null}", 400, "status");

	/* The filter sees it. */
	t = call("GET", "/tasks?status=Completed", NULL, 200);
	ASSERT(json_array_size(t) >= 1);
	for (size_t i = 0; i < json_array_size(t); i++)
		ASSERT_STR_EQ(
		    hj_str(json_array_get(t, i), "status"), "Completed");
	json_decref(t);
	free(id);
}

static void
test_stop(void)
{
	char *id = submit("to-stop");
	char path[128];
	json_t *t;

	snprintf(path, sizeof(path), "/tasks/%s", id);
	t = call("DELETE", path, NULL, 200);
	ASSERT_STR_EQ(hj_str(t, "status"), "Stopped");
	ASSERT(json_is_string(json_object_get(t, "finished_at")));
	json_decref(t);
	t = call("GET", path, NULL, 200);
	ASSERT_STR_EQ(hj_str(t, "status"), "Stopped");
	json_decref(t);
	/* Stopping again changes nothing. */
	t = call("DELETE", path, NULL, 200);
	ASSERT_STR_EQ(hj_str(t, "status"), "Stopped");
	json_decref(t);
	free(id);
}

/* ---- the wire: raw sockets ---- */

static void
test_split_and_pipelined(void)
{
	const char *split_body = "{\"name\":\"split\",\"image\":\"busybox:1\"}";
	const char *piped_body = "{\"name\":\"piped\",\"image\":\"busybox:1\"}";
	char req[512], three[1024];
	char *body = NULL;
	int fd = h_connect(m.http_port);

	ASSERT(fd >= 0);
	snprintf(req, sizeof(req),
	    "POST /tasks HTTP/1.1\r\nHost: x\r\n"
	    "Content-Length: %zu\r\n\r\n%s",
	    strlen(split_body), split_body);
	/* One byte per TCP segment. */
	for (const char *p = req; *p != '\0'; p++) {
		int one = 1;

		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		ASSERT(h_send_all(fd, p, 1) == 0);
		if ((p - req) % 7 == 0)
			poll(NULL, 0, 1);
	}
	ASSERT_INT_EQ(h_read_response(fd, &body, NULL, 5000), 201);
	ASSERT_STR_CONTAINS(body, "\"split\"");
	free(body);

	/* Three pipelined requests in one write, answered in order, on the
	 * same kept-alive connection. */
	snprintf(three, sizeof(three),
	    "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
	    "GET /tasks/00000000-0000-4000-8000-000000000000 HTTP/1.1\r\nHost: "
	    "x\r\n\r\n"
	    "POST /tasks HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n%s",
	    strlen(piped_body), piped_body);
	ASSERT(h_send_all(fd, three, strlen(three)) == 0);
	ASSERT_INT_EQ(h_read_response(fd, &body, NULL, 5000), 200);
	ASSERT_STR_CONTAINS(body, "ok");
	free(body);
	ASSERT_INT_EQ(h_read_response(fd, &body, NULL, 5000), 404);
	free(body);
	ASSERT_INT_EQ(h_read_response(fd, &body, NULL, 5000), 201);
	ASSERT_STR_CONTAINS(body, "\"piped\"");
	free(body);
	close(fd);
}

/* Sends raw bytes on a new connection; returns the status answered. */
static int
raw_status(const char *bytes, size_t len, char **body)
{
	int fd = h_connect(m.http_port), st;

	ASSERT(fd >= 0);
	h_send_all(fd, bytes, len);
	st = h_read_response(fd, body, NULL, 5000);
	close(fd);
	return st;
}

static void
test_limits(void)
{
	size_t big = 2 * 1024 * 1024;
	char *buf = malloc(big), *body = NULL;
	int n;

	ASSERT(buf != NULL);
	/* Request line over 8 KiB: 414, before the line even ends. */
	n = snprintf(buf, big, "GET /");
	memset(buf + n, 'a', 9000);
	ASSERT_INT_EQ(raw_status(buf, (size_t)n + 9000, &body), 414);
	free(body);

	/* Headers over 32 KiB: 431. */
	n = snprintf(buf, big, "GET /healthz HTTP/1.1\r\nHost: x\r\n");
	for (int i = 0; i < 40; i++) {
		n += snprintf(buf + n, big - (size_t)n, "X-Pad-%d: ", i);
		memset(buf + n, 'p', 1000);
		n += 1000;
		n += snprintf(buf + n, big - (size_t)n, "\r\n");
	}
	n += snprintf(buf + n, big - (size_t)n, "\r\n");
	ASSERT_INT_EQ(raw_status(buf, (size_t)n, &body), 431);
	free(body);

	/* A body over 1 MiB: 413 from the header alone. */
	n = snprintf(buf, big,
	    "POST /tasks HTTP/1.1\r\nHost: x\r\n"
	    "Content-Length: 1048577\r\n\r\n");
	ASSERT_INT_EQ(raw_status(buf, (size_t)n, &body), 413);
	ASSERT_STR_CONTAINS(body, "error");
	free(body);

	/* Chunked bodies are refused with a reason. */
	n = snprintf(buf, big,
	    "POST /tasks HTTP/1.1\r\nHost: x\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
	ASSERT_INT_EQ(raw_status(buf, (size_t)n, &body), 411);
	ASSERT_STR_CONTAINS(body, "Content-Length");
	free(body);

	/* Garbage. */
	ASSERT_INT_EQ(raw_status("\x01\x02garbage\r\n\r\n", 13, &body), 400);
	free(body);
	ASSERT_INT_EQ(
	    raw_status("GET / HTTP/9.9\r\nHost: x\r\n\r\n", 27, &body), 505);
	free(body);

	/* A body of exactly 1 MiB is read in full (and refused as JSON). */
	n = snprintf(buf, big,
	    "POST /tasks HTTP/1.1\r\nHost: x\r\n"
	    "Content-Length: 1048576\r\n\r\n");
	memset(buf + n, ' ', 1048576);
	ASSERT_INT_EQ(raw_status(buf, (size_t)n + 1048576, &body), 400);
	ASSERT_STR_CONTAINS(body, "JSON");
	free(body);
	free(buf);

	/* Expect: 100-continue gets its interim answer, then the real one. */
	{
		int fd = h_connect(m.http_port);
		char *head = NULL;
		const char *b = "{\"name\":\"expect\",\"image\":\"busybox\"}";
		char h[256];

		snprintf(h, sizeof(h),
		    "POST /tasks HTTP/1.1\r\nHost: x\r\n"
		    "Expect: 100-continue\r\nContent-Length: %zu\r\n\r\n",
		    strlen(b));
		ASSERT(h_send_all(fd, h, strlen(h)) == 0);
		ASSERT_INT_EQ(h_read_response(fd, NULL, &head, 5000), 100);
		free(head);
		ASSERT(h_send_all(fd, b, strlen(b)) == 0);
		ASSERT_INT_EQ(h_read_response(fd, &body, NULL, 5000), 201);
		free(body);
		close(fd);
	}
}

static void
test_http10_and_close(void)
{
	char *body = NULL, *head = NULL;
	int fd = h_connect(m.http_port);
	char c;

	ASSERT(fd >= 0);
	h_send_all(fd, "GET /healthz HTTP/1.0\r\n\r\n", 25);
	ASSERT_INT_EQ(h_read_response(fd, &body, &head, 5000), 200);
	ASSERT_STR_CONTAINS(head, "Connection: close");
	/* HTTP/1.0 without keep-alive: the server closes. */
	ASSERT_INT_EQ(recv(fd, &c, 1, 0), 0);
	free(body);
	free(head);
	close(fd);
}

/* A client that stalls mid-request gets 408 (manager runs with
 * --request-timeout 1). */
static void
test_stalled_client(void)
{
	char *body = NULL;
	int fd = h_connect(m.http_port);

	ASSERT(fd >= 0);
	h_send_all(fd,
	    "POST /tasks HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n"
	    "\r\n{\"name\"",
	    60);
	ASSERT_INT_EQ(h_read_response(fd, &body, NULL, 10000), 408);
	free(body);
	close(fd);
}

static bool
healthz_ok(void *arg)
{
	(void)arg;
	return h_http(m.http_port, "GET", "/healthz", NULL, NULL) == 200;
}

/* Past --max-conns (64 here) a connection is answered 503; the others
 * keep working. */
static void
test_connection_cap(void)
{
	int fds[64];
	char *body = NULL;
	int st;

	for (int i = 0; i < 64; i++) {
		fds[i] = h_connect(m.http_port);
		ASSERT(fds[i] >= 0);
	}
	/* Let the manager accept them all: one answered request proves the
	 * backlog is drained up to it. */
	{
		const char *get = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
		h_send_all(fds[63], get, strlen(get));
	}
	ASSERT_INT_EQ(h_read_response(fds[63], NULL, NULL, 5000), 200);
	st = h_http(m.http_port, "GET", "/healthz", NULL, &body);
	ASSERT_INT_EQ(st, 503);
	ASSERT_STR_CONTAINS(body, "too many connections");
	free(body);
	for (int i = 0; i < 64; i++)
		close(fds[i]);
	/* The manager frees the slots as it reads the closes, which may take
	 * it a moment on a busy machine. */
	ASSERT(h_wait_until(healthz_ok, NULL, 10000));
}

/* ---- orchctl ---- */

static int
ctl(char **out, char **err, const char *a1, const char *a2, const char *a3,
    const char *a4, const char *a5)
{
	const char *const args[] = {a1, a2, a3, a4, a5, NULL};

	return h_orchctl(m.addr, out, err, args);
}

static void
test_orchctl(void)
{
	char *out = NULL, *err = NULL, *id;
	json_t *j;

	ASSERT_INT_EQ(
	    ctl(&out, &err, "run", "ctl-task", "busybox:1", "-e", "K=V"), 0);
	ASSERT_STR_CONTAINS(out, "Task 'ctl-task' successfully submitted.");
	free(out);
	free(err);

	ASSERT_INT_EQ(ctl(&out, &err, "list", NULL, NULL, NULL, NULL), 0);
	ASSERT_STR_CONTAINS(out, "NAME");
	ASSERT_STR_CONTAINS(out, "AGE");
	ASSERT_STR_CONTAINS(out, "ctl-task");
	free(out);
	free(err);

	ASSERT_INT_EQ(
	    ctl(&out, &err, "get", "ctl-task", "-o", "json", NULL), 0);
	j = hj_parse(out);
	ASSERT_STR_EQ(hj_str(j, "name"), "ctl-task");
	ASSERT_STR_EQ(hj_str(json_object_get(j, "env"), "K"), "V");
	id = strdup(hj_str(j, "id"));
	json_decref(j);
	free(out);
	free(err);

	ASSERT_INT_EQ(ctl(&out, &err, "stop", id, NULL, NULL, NULL), 0);
	ASSERT_STR_CONTAINS(out, "Stopped");
	free(out);
	free(err);

	/* Exit codes: 1 refused, 2 usage, 3 unreachable. */
	ASSERT_INT_EQ(
	    ctl(&out, &err, "get", "no-such-task", NULL, NULL, NULL), 1);
	ASSERT_STR_CONTAINS(err, "no-such-task");
	free(out);
	free(err);
	ASSERT_INT_EQ(
	    ctl(&out, &err, "run", "x", "busybox", "--memory", "lots"), 2);
	free(out);
	free(err);
	ASSERT_INT_EQ(ctl(&out, &err, "frobnicate", NULL, NULL, NULL, NULL), 2);
	free(out);
	free(err);
	{
		char addr[64];

		snprintf(
		    addr, sizeof(addr), "http://127.0.0.1:%d", h_free_port());
		ASSERT_INT_EQ(h_orchctl(addr, &out, &err,
		                  (const char *const[]){"list", NULL}),
		    3);
		ASSERT_STR_CONTAINS(err, addr);
		free(out);
		free(err);
	}
	free(id);
}

/* ---- a long list ---- */

/* Fewer under valgrind, whose manager makes replicas many times slower:
 * still several pages. */
#define LONG_N (h_valgrind() ? 800 : 3000)

static const char *const pending_label[] = {"status", "Pending", NULL};

static bool
pending_reach(void *arg)
{
	return prom_scrape_value(m.http_port, "orch_tasks", pending_label) >=
	    *(double *)arg;
}

static int
id_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* GET path: streamed (a list of many pages), whole, a JSON array. */
static json_t *
long_get(const char *path)
{
	char *body = NULL, *head = NULL;
	json_t *j;

	ASSERT_INT_EQ(
	    h_http_ex(m.http_port, "GET", path, NULL, NULL, &body, &head), 200);
	ASSERT_STR_CONTAINS(head, "Transfer-Encoding: chunked\r\n");
	ASSERT_STR_CONTAINS(head, "Trailer: X-Orch-List-Error\r\n");
	/* Whole: no such trailer after the head. */
	ASSERT(strstr(strstr(head, "\r\n\r\n"), "X-Orch-List-Error") == NULL);
	j = hj_parse(body);
	ASSERT(json_is_array(j));
	free(body);
	free(head);
	return j;
}

/* A service of LONG_N replicas, no node to run them: GET /tasks streams
 * them all, each once, in the order ListTasks (one message) gives, and
 * orchctl lists them. */
static void
test_long_list(void)
{
	double want =
	    prom_scrape_value(m.http_port, "orch_tasks", pending_label) +
	    LONG_N;
	const char **ids;
	char body[160], *out = NULL, *err = NULL, msg[512];
	Orch__ListTasksRequest lst = ORCH__LIST_TASKS_REQUEST__INIT;
	Orch__TaskList *l = NULL;
	size_t n, n_svc = 0, lines = 0;
	json_t *list, *t;
	nng_socket s;

	snprintf(body, sizeof(body),
	    "{\"name\":\"long\",\"image\":\"busybox:1\",\"replicas\":%d}",
	    LONG_N);
	json_decref(call("POST", "/services", body, 201));
	ASSERT(
	    h_wait_until(pending_reach, &want, h_valgrind() ? 300000 : 60000));

	list = long_get("/tasks");
	n = json_array_size(list);
	ASSERT(n >= LONG_N);
	ASSERT((ids = calloc(n, sizeof(*ids))) != NULL);
	json_array_foreach(list, lines, t)
	{
		ASSERT((ids[lines] = hj_str(t, "id")) != NULL);
		n_svc += hj_str(t, "service") != NULL &&
		    strcmp(hj_str(t, "service"), "long") == 0;
	}
	ASSERT_INT_EQ(n_svc, LONG_N);
	/* In submission order: as ListTasks reads the store in one go. */
	ASSERT(nng_req0_open(&s) == 0);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 10000);
	nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, 64u * 1024 * 1024);
	ASSERT(nng_dial(s, m.rpc_url, NULL, 0) == 0);
	ASSERT_INT_EQ(orch_rpc_call(s, "orch.Manager/ListTasks", &lst.base,
	                  &orch__task_list__descriptor, (ProtobufCMessage **)&l,
	                  msg, sizeof(msg)),
	    ORCH_OK);
	fprintf(stderr, "  ListTasks of %zu tasks: %zu bytes\n", l->n_tasks,
	    orch__task_list__get_packed_size(l));
	ASSERT_INT_EQ(l->n_tasks, n);
	for (size_t i = 0; i < n; i++)
		ASSERT_STR_EQ(ids[i], l->tasks[i]->id);
	orch__task_list__free_unpacked(l, NULL);
	nng_close(s);
	/* Each once. */
	qsort(ids, n, sizeof(*ids), id_cmp);
	for (size_t i = 1; i < n; i++)
		ASSERT(strcmp(ids[i - 1], ids[i]) != 0);
	free(ids);
	json_decref(list);

	list = long_get("/tasks?status=Pending");
	ASSERT(json_array_size(list) >= LONG_N);
	json_decref(list);

	/* orchctl: a header line and a line a task. */
	ASSERT_INT_EQ(ctl(&out, &err, "list", NULL, NULL, NULL, NULL), 0);
	lines = 0;
	for (const char *p = out; (p = strchr(p, '\n')) != NULL; p++)
		lines++;
	ASSERT_INT_EQ(lines, n + 1);
	free(out);
	free(err);
	ASSERT_INT_EQ(
	    ctl(&out, &err, "list", "--status", "Pending", NULL, NULL), 0);
	ASSERT_STR_CONTAINS(out, "long");
	free(out);
	free(err);

	json_decref(call("DELETE", "/services/long", NULL, 200));
}

/* ---- RPC ---- */

static void
test_rpc(void)
{
	nng_socket s;
	Orch__TaskSpec spec = ORCH__TASK_SPEC__INIT;
	Orch__SubmitTaskRequest sub = ORCH__SUBMIT_TASK_REQUEST__INIT;
	Orch__GetTaskRequest get = ORCH__GET_TASK_REQUEST__INIT;
	Orch__ListTasksRequest lst = ORCH__LIST_TASKS_REQUEST__INIT;
	Orch__Task *t = NULL, *g = NULL;
	Orch__TaskList *l = NULL;
	char err[512], *id;
	int rc;

	ASSERT(nng_req0_open(&s) == 0);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 10000);
	ASSERT(nng_dial(s, m.rpc_url, NULL, 0) == 0);

	spec.name = "rpc-task";
	spec.image = "busybox:1";
	sub.spec = &spec;
	rc = orch_rpc_call(s, "orch.Manager/SubmitTask", &sub.base,
	    &orch__task__descriptor, (ProtobufCMessage **)&t, err, sizeof(err));
	ASSERT_INT_EQ(rc, ORCH_OK);
	ASSERT_STR_EQ(t->spec->name, "rpc-task");
	ASSERT_INT_EQ(t->spec->memory_mb, 256);
	ASSERT_INT_EQ(t->status, ORCH__TASK_STATUS__TASK_STATUS_PENDING);
	id = strdup(t->id);

	get.id = id;
	rc = orch_rpc_call(s, "orch.Manager/GetTask", &get.base,
	    &orch__task__descriptor, (ProtobufCMessage **)&g, err, sizeof(err));
	ASSERT_INT_EQ(rc, ORCH_OK);
	ASSERT_STR_EQ(g->id, id);
	orch__task__free_unpacked(g, NULL);

	/* The HTTP API sees the RPC's task. */
	{
		char path[128];
		json_t *j;

		snprintf(path, sizeof(path), "/tasks/%s", id);
		j = call("GET", path, NULL, 200);
		ASSERT_STR_EQ(hj_str(j, "name"), "rpc-task");
		json_decref(j);
	}

	lst.has_status = 1;
	lst.status = ORCH__TASK_STATUS__TASK_STATUS_PENDING;
	rc = orch_rpc_call(s, "orch.Manager/ListTasks", &lst.base,
	    &orch__task_list__descriptor, (ProtobufCMessage **)&l, err,
	    sizeof(err));
	ASSERT_INT_EQ(rc, ORCH_OK);
	ASSERT(l->n_tasks >= 1);
	for (size_t i = 0; i < l->n_tasks; i++)
		ASSERT_INT_EQ(l->tasks[i]->status,
		    ORCH__TASK_STATUS__TASK_STATUS_PENDING);
	orch__task_list__free_unpacked(l, NULL);

	/* Errors come back as codes with messages. */
	get.id = "3f2c1d4e-0000-4000-8000-000000000000";
	rc = orch_rpc_call(s, "orch.Manager/GetTask", &get.base,
	    &orch__task__descriptor, (ProtobufCMessage **)&g, err, sizeof(err));
	ASSERT_INT_EQ(rc, ORCH_ENOENT);
	ASSERT_STR_CONTAINS(err, "3f2c1d4e");
	spec.name = "";
	rc = orch_rpc_call(s, "orch.Manager/SubmitTask", &sub.base,
	    &orch__task__descriptor, (ProtobufCMessage **)&g, err, sizeof(err));
	ASSERT_INT_EQ(rc, ORCH_EINVAL);
	ASSERT_STR_CONTAINS(err, "name");
	rc = orch_rpc_call(s, "orch.Manager/Frobnicate", &get.base,
	    &orch__task__descriptor, (ProtobufCMessage **)&g, err, sizeof(err));
	ASSERT_INT_EQ(rc, ORCH_EINTERNAL);
	ASSERT_STR_CONTAINS(err, "Frobnicate");

	/* Garbage in an NNG message: an error reply, and the manager lives. */
	{
		nng_msg *msg;
		Orch__Reply *rep;
		const char junk[] = "\xff\xff\xff\xff\x0f garbage";

		ASSERT(nng_send(s, (void *)junk, sizeof(junk), 0) == 0);
		ASSERT(nng_recvmsg(s, &msg, 0) == 0);
		rep = orch__reply__unpack(
		    NULL, nng_msg_len(msg), nng_msg_body(msg));
		ASSERT(rep != NULL);
		ASSERT_INT_EQ(rep->code, ORCH__ERROR_CODE__INVALID_ARGUMENT);
		ASSERT_STR_CONTAINS(rep->error, "malformed");
		orch__reply__free_unpacked(rep, NULL);
		nng_msg_free(msg);
	}
	nng_close(s);

	/* Raw garbage on the TCP port (not even SP framing). */
	{
		int fd = h_connect(m.rpc_port);
		char junk[4096];

		ASSERT(fd >= 0);
		memset(junk, 0xa5, sizeof(junk));
		h_send_all(fd, junk, sizeof(junk));
		close(fd);
	}
	ASSERT_INT_EQ(h_http(m.http_port, "GET", "/healthz", NULL, NULL), 200);
	orch__task__free_unpacked(t, NULL);
	free(id);
}

/* ---- idempotency keys ---- */

/* One POST with extra header lines (each ending in CRLF) on a new
 * connection.  Returns the status; *body and *head (OUT, malloc'd) the
 * answer. */
static int
post_with(const char *path, const char *body, const char *headers, char **resp,
    char **head)
{
	return h_http_ex(m.http_port, "POST", path, headers, body, resp, head);
}

/* POSTs body to path with Idempotency-Key: key; asserts want.  Returns the
 * body (malloc'd); *replayed says whether the answer was marked a
 * replay. */
static char *
post_keyed(const char *path, const char *body, const char *key, int want,
    bool *replayed)
{
	char hdr[512], *resp = NULL, *head = NULL;
	int st;

	snprintf(hdr, sizeof(hdr), "Idempotency-Key: %s\r\n", key);
	st = post_with(path, body, hdr, &resp, &head);
	if (st != want)
		h_fail(__FILE__, __LINE__,
		    "POST %s with key %s: %d, want %d: %s", path, key, st, want,
		    resp != NULL ? resp : "");
	if (replayed != NULL)
		*replayed =
		    strstr(head, "\r\nIdempotent-Replayed: true\r\n") != NULL;
	free(head);
	return resp;
}

/* The tasks named name. */
static int
count_named(const char *name)
{
	json_t *list = call("GET", "/tasks", NULL, 200), *v;
	size_t i;
	int n = 0;

	json_array_foreach(list, i, v)
	{
		if (strcmp(hj_str(v, "name"), name) == 0)
			n++;
	}
	json_decref(list);
	return n;
}

#define KEY_RACERS 8

struct key_racer {
	pthread_t thread;
	char *resp;
	int status;
};

static void *
key_racer_main(void *arg)
{
	struct key_racer *r = arg;
	char *head = NULL;

	r->status =
	    post_with("/tasks", "{\"name\":\"raced\",\"image\":\"b:1\"}",
	        "Idempotency-Key: race-1\r\n", &r->resp, &head);
	free(head);
	return NULL;
}

/* An RPC SubmitTask of spec name/image with key; returns the code and
 * *id (malloc'd on ORCH_OK). */
static int
rpc_submit_keyed(
    const char *name, const char *key, char **id, char *err, size_t errlen)
{
	Orch__TaskSpec spec = ORCH__TASK_SPEC__INIT;
	Orch__SubmitTaskRequest sub = ORCH__SUBMIT_TASK_REQUEST__INIT;
	Orch__Task *t = NULL;
	nng_socket s;
	int rc;

	ASSERT(nng_req0_open(&s) == 0);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 10000);
	ASSERT(nng_dial(s, m.rpc_url, NULL, 0) == 0);
	spec.name = (char *)name;
	spec.image = "busybox:1";
	sub.spec = &spec;
	sub.idempotency_key = (char *)key;
	rc = orch_rpc_call(s, "orch.Manager/SubmitTask", &sub.base,
	    &orch__task__descriptor, (ProtobufCMessage **)&t, err, errlen);
	if (id != NULL)
		*id = rc == ORCH_OK ? strdup(t->id) : NULL;
	if (t != NULL)
		orch__task__free_unpacked(t, NULL);
	nng_close(s);
	return rc;
}

static void
test_idempotency(void)
{
	static const char body[] =
	    "{\"name\":\"keyed\",\"image\":\"busybox:1\"}";
	char *first, *again, *id, *rid, err[512], long_key[300];
	struct key_racer racers[KEY_RACERS];
	bool replayed;
	json_t *j;

	/* The first POST creates; a retry is answered the same status and
	 * the same body, marked as a replay, and creates nothing. */
	first = post_keyed("/tasks", body, "key-a", 201, &replayed);
	ASSERT(!replayed);
	again = post_keyed("/tasks", body, "key-a", 201, &replayed);
	ASSERT(replayed);
	ASSERT_STR_EQ(again, first);
	free(again);
	/* The IETF draft's quoted form is the same key; so is the same
	 * request written differently. */
	again = post_keyed("/tasks",
	    "{ \"image\": \"busybox:1\", \"name\": \"keyed\", \"memory\": 256 "
	    "}",
	    "\"key-a\"", 201, &replayed);
	ASSERT(replayed);
	ASSERT_STR_EQ(again, first);
	free(again);
	ASSERT_INT_EQ(count_named("keyed"), 1);

	/* Another request under the same key: 422, saying why. */
	again = post_keyed("/tasks",
	    "{\"name\":\"other\",\"image\":\"busybox:1\"}", "key-a", 422, NULL);
	ASSERT_STR_CONTAINS(again, "idempotency key \\\"key-a\\\"");
	free(again);
	ASSERT_INT_EQ(count_named("other"), 0);

	/* Malformed keys: 400, and nothing created. */
	memset(long_key, 'k', 256);
	long_key[256] = '\0';
	again = post_keyed("/tasks", body, long_key, 400, NULL);
	ASSERT_STR_CONTAINS(again, "Idempotency-Key");
	free(again);
	again = post_keyed("/tasks", body, "\"\"", 400, NULL);
	free(again);
	{
		char *resp = NULL, *head = NULL;

		ASSERT_INT_EQ(
		    post_with("/tasks", body,
		        "Idempotency-Key: a\r\nidempotency-key: b\r\n", &resp,
		        &head),
		    400);
		ASSERT_STR_CONTAINS(resp, "more than once");
		free(resp);
		free(head);
	}
	ASSERT_INT_EQ(count_named("keyed"), 1);

	/* Concurrent retries, each on its own connection: one task. */
	for (int i = 0; i < KEY_RACERS; i++)
		ASSERT(pthread_create(&racers[i].thread, NULL, key_racer_main,
		           &racers[i]) == 0);
	for (int i = 0; i < KEY_RACERS; i++) {
		ASSERT(pthread_join(racers[i].thread, NULL) == 0);
		ASSERT_INT_EQ(racers[i].status, 201);
		ASSERT_STR_EQ(racers[i].resp, racers[0].resp);
	}
	for (int i = 0; i < KEY_RACERS; i++)
		free(racers[i].resp);
	ASSERT_INT_EQ(count_named("raced"), 1);

	/* Services: the same. */
	{
		static const char sbody[] =
		    "{\"name\":\"keyed-svc\",\"image\":\"busybox:1\","
		    "\"replicas\":0}";
		json_t *a, *b;

		again = post_keyed("/services", sbody, "svc-a", 201, &replayed);
		ASSERT(!replayed);
		a = hj_parse(again);
		free(again);
		again = post_keyed("/services", sbody, "svc-a", 201, &replayed);
		ASSERT(replayed);
		b = hj_parse(again);
		free(again);
		ASSERT_STR_EQ(hj_str(b, "id"), hj_str(a, "id"));
		json_decref(a);
		json_decref(b);
		/* Without the key the name is taken. */
		expect_error("POST", "/services", sbody, 409, "keyed-svc");
		again = post_keyed("/services",
		    "{\"name\":\"keyed-svc\",\"image\":\"busybox:1\","
		    "\"replicas\":2}",
		    "svc-a", 422, NULL);
		free(again);
	}

	/* Over RPC, the HTTP key is the same key; a different spec is a
	 * CONFLICT, a malformed key INVALID_ARGUMENT naming the field. */
	j = hj_parse(first);
	id = strdup(hj_str(j, "id"));
	json_decref(j);
	ASSERT_INT_EQ(
	    rpc_submit_keyed("keyed", "key-a", &rid, err, sizeof(err)),
	    ORCH_OK);
	ASSERT_STR_EQ(rid, id);
	free(rid);
	ASSERT_INT_EQ(rpc_submit_keyed("nope", "key-a", NULL, err, sizeof(err)),
	    ORCH_ECONFLICT);
	ASSERT_STR_CONTAINS(err, "key-a");
	ASSERT_INT_EQ(
	    rpc_submit_keyed("nope", "bad\x01key", NULL, err, sizeof(err)),
	    ORCH_EINVAL);
	ASSERT_STR_CONTAINS(err, "idempotency_key");
	ASSERT_INT_EQ(
	    rpc_submit_keyed("rpc-keyed", "key-r", &rid, err, sizeof(err)),
	    ORCH_OK);

	/* A crash loses no key: after SIGKILL and a restart, retries over
	 * HTTP and RPC are answered the tasks created before. */
	mgr_stop(&m, SIGKILL);
	mgr_restart(&m,
	    (const char *const[]){
	        "--request-timeout", "1", "--max-conns", "64", NULL});
	again = post_keyed("/tasks", body, "key-a", 201, &replayed);
	ASSERT(replayed);
	ASSERT_STR_EQ(again, first);
	free(again);
	{
		char *rid2 = NULL;

		ASSERT_INT_EQ(rpc_submit_keyed("rpc-keyed", "key-r", &rid2, err,
		                  sizeof(err)),
		    ORCH_OK);
		ASSERT_STR_EQ(rid2, rid);
		free(rid2);
	}
	ASSERT_INT_EQ(count_named("keyed"), 1);
	ASSERT_INT_EQ(count_named("rpc-keyed"), 1);

	/* orchctl sends a key of its own, or the one given. */
	{
		char *out = NULL, *cerr = NULL, *out2 = NULL;

		ASSERT_INT_EQ(ctl(&out, &cerr, "run", "ctl-keyed", "busybox:1",
		                  "--idempotency-key", "ctl-k"),
		    0);
		free(cerr);
		ASSERT_INT_EQ(ctl(&out2, &cerr, "run", "ctl-keyed", "busybox:1",
		                  "--idempotency-key", "ctl-k"),
		    0);
		ASSERT_STR_CONTAINS(out2, "ID: ");
		ASSERT_STR_EQ(strstr(out2, "ID: "), strstr(out, "ID: "));
		free(cerr);
		free(out2);
		free(out);
		ASSERT_INT_EQ(count_named("ctl-keyed"), 1);
		ASSERT_INT_EQ(ctl(&out, &cerr, "run", "ctl-keyed", "busybox:1",
		                  NULL, NULL),
		    0);
		free(out);
		free(cerr);
		ASSERT_INT_EQ(count_named("ctl-keyed"), 2);
		ASSERT_INT_EQ(ctl(&out, &cerr, "run", "ctl-keyed", "busybox:1",
		                  "--idempotency-key", ""),
		    2);
		ASSERT_STR_CONTAINS(cerr, "--idempotency-key");
		free(out);
		free(cerr);
	}
	free(rid);
	free(id);
	free(first);
}

/* ---- the process ---- */

static void
test_restart_keeps_tasks(void)
{
	char *id = submit("survivor");
	char path[128];
	json_t *t;

	/* A clean stop exits 0; under ASan that also means no leak. */
	mgr_stop_clean(&m);
	mgr_restart(&m,
	    (const char *const[]){
	        "--request-timeout", "1", "--max-conns", "64", NULL});
	snprintf(path, sizeof(path), "/tasks/%s", id);
	t = call("GET", path, NULL, 200);
	ASSERT_STR_EQ(hj_str(t, "name"), "survivor");
	json_decref(t);
	free(id);
}

/* Whether the manager's log holds the string arg. */
static bool
log_has(void *arg)
{
	char *s = h_read_file(m.log);
	bool ok = s != NULL && strstr(s, arg) != NULL;

	free(s);
	return ok;
}

/*
 * SIGTERM drains the gateway: a request being received is still answered
 * (then its connection closes), an idle keep-alive connection is closed,
 * a new connection is refused, and the manager exits 0 with the write
 * committed.
 */
static void
test_sigterm_drains(void)
{
	const char *b = "{\"name\":\"in-flight\",\"image\":\"busybox\"}";
	char h[256], c, *head = NULL, *body = NULL, path[128];
	int idle, busy, st;
	json_t *t;

	/* Room for the request to arrive, under ASan or valgrind too. */
	mgr_stop_clean(&m);
	mgr_restart(&m, (const char *const[]){"--request-timeout", "60", NULL});
	idle = h_connect(m.http_port);
	busy = h_connect(m.http_port);
	ASSERT(idle >= 0 && busy >= 0);
	snprintf(h, sizeof(h), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
	ASSERT(h_send_all(idle, h, strlen(h)) == 0);
	ASSERT_INT_EQ(h_read_response(idle, NULL, NULL, 5000), 200);
	/* The interim answer says the head is in: the request is in
	 * flight when the signal comes. */
	snprintf(h, sizeof(h),
	    "POST /tasks HTTP/1.1\r\nHost: x\r\n"
	    "Expect: 100-continue\r\nContent-Length: %zu\r\n\r\n",
	    strlen(b));
	ASSERT(h_send_all(busy, h, strlen(h)) == 0);
	ASSERT_INT_EQ(h_read_response(busy, NULL, NULL, 5000), 100);

	ASSERT_INT_EQ(kill(m.pid, SIGTERM), 0);
	ASSERT(h_wait_until(log_has,
	    "gateway: stopping: answering the 1 request in flight", 10000));
	ASSERT_INT_EQ(recv(idle, &c, 1, 0), 0);
	ASSERT_INT_EQ(h_connect(m.http_port), -1);
	ASSERT(h_send_all(busy, b, strlen(b)) == 0);
	ASSERT_INT_EQ(h_read_response(busy, &body, &head, 10000), 201);
	ASSERT_STR_CONTAINS(head, "Connection: close");
	ASSERT_INT_EQ(recv(busy, &c, 1, 0), 0);
	st = h_wait_pid(m.pid, 10000);
	ASSERT(st != -1 && WIFEXITED(st));
	ASSERT_INT_EQ(WEXITSTATUS(st), 0);
	m.pid = 0;
	close(idle);
	close(busy);

	t = hj_parse(body);
	snprintf(path, sizeof(path), "/tasks/%s", hj_str(t, "id"));
	json_decref(t);
	mgr_restart(&m,
	    (const char *const[]){
	        "--request-timeout", "1", "--max-conns", "64", NULL});
	t = call("GET", path, NULL, 200);
	ASSERT_STR_EQ(hj_str(t, "name"), "in-flight");
	json_decref(t);
	free(head);
	free(body);
}

/* Reads one datagram from fd within 10 s into buf (NUL-terminated). */
static void
dgram_read(int fd, char *buf, size_t len)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	ssize_t n;

	ASSERT_INT_EQ(poll(&p, 1, 10000), 1);
	n = recv(fd, buf, len - 1, 0);
	ASSERT(n > 0);
	buf[n] = '\0';
}

/* Under systemd (Type=notify), $NOTIFY_SOCKET hears READY=1 once the
 * manager serves, and STOPPING=1 when it stops. */
static void
test_sd_notify(void)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	char buf[256];
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);

	ASSERT(fd >= 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s-notify", m.data);
	ASSERT(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	mgr_stop_clean(&m);
	ASSERT_INT_EQ(setenv("NOTIFY_SOCKET", a.sun_path, 1), 0);
	mgr_restart(&m,
	    (const char *const[]){
	        "--request-timeout", "1", "--max-conns", "64", NULL});
	unsetenv("NOTIFY_SOCKET");
	dgram_read(fd, buf, sizeof(buf));
	ASSERT_STR_EQ(buf, "READY=1\nSTATUS=serving");
	/* Ready means serving. */
	ASSERT_INT_EQ(h_http(m.http_port, "GET", "/healthz", NULL, NULL), 200);
	mgr_stop_clean(&m);
	dgram_read(fd, buf, sizeof(buf));
	ASSERT_STR_EQ(buf, "STOPPING=1\nSTATUS=shutting down");
	close(fd);
	unlink(a.sun_path);
	mgr_restart(&m,
	    (const char *const[]){
	        "--request-timeout", "1", "--max-conns", "64", NULL});
}

static void
test_flags(void)
{
	char *bin = h_bin("orch-manager"), *out = NULL, *err = NULL;
	char http[64];

	{
		char *argv[] = {bin, "--help", NULL};
		ASSERT_INT_EQ(h_run(argv, &out, &err, 5000), 0);
		ASSERT_STR_CONTAINS(out, "--http");
		ASSERT_STR_CONTAINS(out, "--rpc");
		ASSERT_STR_CONTAINS(out, "--pub");
		ASSERT_STR_CONTAINS(out, "--data");
		free(out);
		free(err);
	}
	{
		char *argv[] = {bin, "--bogus", NULL};
		ASSERT_INT_EQ(h_run(argv, &out, &err, 5000), 2);
		ASSERT_STR_CONTAINS(err, "--bogus");
		free(out);
		free(err);
	}
	{
		/* The HTTP port is taken by the running manager. */
		char *dir = h_tmpdir("flags");
		char *argv[] = {bin, "--http", http, "--data", dir, NULL};

		snprintf(http, sizeof(http), "127.0.0.1:%d", m.http_port);
		ASSERT_INT_EQ(h_run(argv, &out, &err, 10000), 1);
		ASSERT_STR_CONTAINS(err, http);
		free(out);
		free(err);
		h_rm_rf(dir);
		free(dir);
	}
	{
		/* The data directory is locked by the running manager. */
		char *argv[] = {
		    bin, "--http", "127.0.0.1:0", "--data", m.data, NULL};

		ASSERT_INT_EQ(h_run(argv, &out, &err, 10000), 1);
		ASSERT_STR_CONTAINS(err, "in use");
		free(out);
		free(err);
	}
	free(bin);
}

int
main(void)
{
	mgr_start(&m,
	    (const char *const[]){
	        "--request-timeout", "1", "--max-conns", "64", NULL});
	RUN(test_submit_and_read);
	RUN(test_errors);
	RUN(test_status_reports);
	RUN(test_stop);
	RUN(test_split_and_pipelined);
	RUN(test_limits);
	RUN(test_http10_and_close);
	RUN(test_stalled_client);
	RUN(test_connection_cap);
	RUN(test_orchctl);
	RUN(test_long_list);
	RUN(test_rpc);
	RUN(test_idempotency);
	RUN(test_flags);
	RUN(test_restart_keeps_tasks);
	RUN(test_sigterm_drains);
	RUN(test_sd_notify);
	mgr_stop_clean(&m);
	mgr_destroy(&m);
	return 0;
}
