/*
 * test_task_list.c: GET /tasks read page by page and streamed
 * (services/task_list.c, orch_store_task_page() in store.c), with a real
 * store in a temporary directory, the real API and gateway on loopback,
 * and raw sockets for clients.
 *
 * The pages of the store cover the list once, in order, within their
 * limits.  A list of many pages streams the very bytes the whole list
 * rendered at once makes (what GET /tasks answered before it streamed),
 * with or without ?status=, over HTTP/1.1 and 1.0; a short one is one
 * answer that keeps the connection.  A client that reads slowly gets
 * every task once while the list never holds more than a page; one that
 * leaves, or takes nothing for the write timeout, ends its list; past
 * the bound of lists at once, 503.  A record that does not decode cuts
 * a streamed list with the X-Orch-List-Error trailer (and orchctl says
 * so), or, on the first page, is a JSON error.
 */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api.h"
#include "clock.h"
#include "error.h"
#include "gateway.h"
#include "harness.h"
#include "http_json.h"
#include "nodes.h"
#include "store.h"
#include "task_fixture.h"
#include "task_json.h"
#include "task_list.h"

#define ST_PENDING ORCH__TASK_STATUS__TASK_STATUS_PENDING
#define ST_RUNNING ORCH__TASK_STATUS__TASK_STATUS_RUNNING
#define ST_COMPLETED ORCH__TASK_STATUS__TASK_STATUS_COMPLETED
#define WAIT_MS 30000

static struct {
	char *dir;
	struct orch_store *st;
	struct orch_nodes *nodes;
	struct orch_api *api;
	struct orch_gw *gw;
	pthread_t loop;
	int port;
	atomic_int inserted;
} S;

static void *
loop_main(void *arg)
{
	(void)arg;
	ASSERT_INT_EQ(orch_gw_run(S.gw), ORCH_OK);
	return NULL;
}

/* The store alone. */
static void
store_setup(const char *tag)
{
	struct orch_store_opts o;

	memset(&S, 0, sizeof(S));
	S.dir = h_tmpdir(tag);
	orch_store_opts_default(&o);
	o.sync_full = false;
	ASSERT_INT_EQ(orch_store_open(S.dir, &o, &S.st), ORCH_OK);
}

/* The store, the API and a gateway with write_timeout_ms (0: the
 * default) and a stream cap of cap bytes (0: the default). */
static void
setup(const char *tag, int write_timeout_ms, size_t cap)
{
	struct orch_gw_opts o;
	char err[256];

	store_setup(tag);
	ASSERT_INT_EQ(orch_nodes_new(60000, &S.nodes), ORCH_OK);
	ASSERT_INT_EQ(
	    orch_api_new(S.st, S.nodes, NULL, NULL, NULL, &S.api), ORCH_OK);
	orch_gw_opts_default(&o);
	o.listen = "127.0.0.1:0";
	if (write_timeout_ms > 0)
		o.write_timeout_ms = write_timeout_ms;
	if (cap > 0)
		o.stream_buf_max = cap;
	ASSERT_INT_EQ(
	    orch_gw_new(&o, orch_api_handle, S.api, &S.gw, err, sizeof(err)),
	    ORCH_OK);
	S.port = orch_gw_port(S.gw);
	ASSERT(pthread_create(&S.loop, NULL, loop_main, NULL) == 0);
}

static void
store_teardown(void)
{
	orch_store_close(S.st);
	h_rm_rf(S.dir);
	free(S.dir);
}

static void
teardown(void)
{
	orch_gw_stop(S.gw);
	pthread_join(S.loop, NULL);
	orch_api_free(S.api);
	orch_gw_free(S.gw);
	orch_nodes_free(S.nodes);
	store_teardown();
}

static void
inserted(void *arg, int rc, orch_task *task, const char *err)
{
	(void)arg;
	if (rc != ORCH_OK)
		h_fail(__FILE__, __LINE__, "insert: %s", err);
	orch_task_free(task);
	atomic_fetch_add(&S.inserted, 1);
}

static bool
all_inserted(void *arg)
{
	return atomic_load(&S.inserted) >= *(int *)arg;
}

/* Inserts n tasks, queued at once: task i is Running when i % 3 is 1,
 * Completed when 2, else Pending, each with an env value of env_bytes
 * (0: no env). */
static void
insert_many(int n, size_t env_bytes)
{
	char *big = malloc(env_bytes + 1);
	int want = atomic_load(&S.inserted) + n;

	ASSERT(big != NULL);
	memset(big, 'x', env_bytes);
	big[env_bytes] = '\0';
	for (int i = 0; i < n; i++) {
		const char *env[] = {"BIG", big, NULL};
		char name[32];
		orch_task *t;

		snprintf(name, sizeof(name), "t%d", i);
		t = tf_task_make(name, "busybox:1", env_bytes > 0 ? env : NULL,
		    NULL, 64, 0.1);
		t->has_status = true;
		t->status = i % 3 == 1 ? ST_RUNNING
		    : i % 3 == 2       ? ST_COMPLETED
		                       : ST_PENDING;
		orch_store_task_insert(S.st, t, inserted, NULL);
	}
	free(big);
	ASSERT(h_wait_until(all_inserted, &want, WAIT_MS));
}

/* What GET /tasks answered when it read the whole list at once: the
 * tasks of status (0: all) as one JSON array, rendered in one piece. */
static char *
whole_list(int status, size_t *len)
{
	struct orch_store_reader *r;
	orch_task **tasks;
	size_t n;
	json_t *arr = json_array();
	char *s;

	ASSERT(arr != NULL);
	ASSERT_INT_EQ(orch_store_reader_new(S.st, &r), ORCH_OK);
	ASSERT_INT_EQ(orch_store_task_list(r, status, &tasks, &n), ORCH_OK);
	for (size_t i = 0; i < n; i++)
		ASSERT(json_array_append_new(
		           arr, orch_task_to_json(tasks[i])) == 0);
	orch_store_task_list_free(tasks, n);
	orch_store_reader_free(r);
	ASSERT((s = orch_json_line(arr, len)) != NULL);
	json_decref(arr);
	return s;
}

/* ---- a client over a raw socket ---- */

struct answer {
	int status;
	char *head;
	char *body; /* chunks joined */
	size_t blen;
	char trailers[1024];
	bool whole; /* chunked: the last chunk came */
	bool chunked;
};

static void
answer_free(struct answer *a)
{
	free(a->head);
	free(a->body);
}

/* Connects with a receive buffer of rcvbuf bytes (0: the system's). */
static int
connect_small(int rcvbuf)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
	    .sin_port = htons((uint16_t)S.port),
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ASSERT(fd >= 0);
	/* Before connect(), so that the window is small from the start. */
	if (rcvbuf > 0)
		ASSERT(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
		           sizeof(rcvbuf)) == 0);
	ASSERT(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	return fd;
}

static void
send_get(int fd, const char *path, int minor)
{
	char req[512];

	snprintf(req, sizeof(req), "GET %s HTTP/1.%d\r\nHost: x\r\n\r\n", path,
	    minor);
	ASSERT(h_send_all(fd, req, strlen(req)) == 0);
}

/* Reads fd to its close, step bytes at most per read, and takes the
 * answer apart. */
static void
read_answer(int fd, size_t step, struct answer *a)
{
	int64_t deadline = orch_mono_ms() + WAIT_MS;
	size_t len = 0, cap = 1 << 20;
	char *raw = malloc(cap + 1), *hend;

	ASSERT(raw != NULL);
	memset(a, 0, sizeof(*a));
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (orch_mono_ms() >= deadline)
			h_fail(__FILE__, __LINE__,
			    "the answer did not end (%zu bytes so far)", len);
		if (len + step > cap) {
			cap *= 2;
			ASSERT((raw = realloc(raw, cap + 1)) != NULL);
		}
		if (poll(&p, 1, 100) <= 0)
			continue;
		n = recv(fd, raw + len, step, 0);
		ASSERT(n >= 0);
		if (n == 0)
			break;
		len += (size_t)n;
	}
	raw[len] = '\0';
	ASSERT((hend = strstr(raw, "\r\n\r\n")) != NULL);
	ASSERT(sscanf(raw, "HTTP/1.1 %d", &a->status) == 1);
	a->head = strndup(raw, (size_t)(hend + 4 - raw));
	ASSERT(a->head != NULL);
	a->chunked = strstr(a->head, "Transfer-Encoding: chunked\r\n") != NULL;
	if (a->chunked) {
		a->whole = h_dechunk(hend + 4, len - (size_t)(hend + 4 - raw),
		    &a->body, &a->blen, a->trailers, sizeof(a->trailers));
	} else {
		a->blen = len - (size_t)(hend + 4 - raw);
		ASSERT((a->body = malloc(a->blen + 1)) != NULL);
		memcpy(a->body, hend + 4, a->blen + 1);
	}
	free(raw);
}

/* One GET of path over HTTP/1.minor, read step bytes at a time. */
static void
get(const char *path, int minor, int rcvbuf, size_t step, struct answer *a)
{
	int fd = connect_small(rcvbuf);

	send_get(fd, path, minor);
	read_answer(fd, step, a);
	close(fd);
}

static void
assert_body(const struct answer *a, const char *want, size_t wlen)
{
	if (a->blen != wlen || memcmp(a->body, want, wlen) != 0)
		h_fail(__FILE__, __LINE__,
		    "the list differs from the whole one: %zu bytes, want "
		    "%zu; got \"%.120s\"...",
		    a->blen, wlen, a->body);
}

static struct orch_task_list_stats
stats(void)
{
	struct orch_task_list_stats s;

	orch_task_list_stats(orch_api_task_list(S.api), &s);
	return s;
}

static bool
no_stream(void *arg)
{
	(void)arg;
	return stats().streams == 0;
}

/* At least *arg lists have streamed (begun, at least). */
static bool
streamed(void *arg)
{
	return stats().streamed >= *(uint64_t *)arg;
}

/* ---- the store's pages ---- */

/* Walks the list by pages of max_tasks and max_bytes, checking each
 * against the limits, and compares the whole with the list read at
 * once. */
static void
walk(
    struct orch_store_reader *r, int status, size_t max_tasks, size_t max_bytes)
{
	orch_task **all;
	size_t n_all, seen = 0;
	uint64_t after = 0;
	int pages = 0;

	ASSERT_INT_EQ(orch_store_task_list(r, status, &all, &n_all), ORCH_OK);
	for (;;) {
		struct orch_store_task_page pg;

		ASSERT_INT_EQ(orch_store_task_page(
		                  r, status, after, max_tasks, max_bytes, &pg),
		    ORCH_OK);
		ASSERT(pg.n <= max_tasks);
		ASSERT(pg.n > 0 || pg.end);
		for (size_t i = 0; i < pg.n; i++) {
			ASSERT(seen < n_all);
			ASSERT_STR_EQ(pg.tasks[i]->id, all[seen]->id);
			if (status != 0)
				ASSERT_INT_EQ(pg.tasks[i]->status, status);
			seen++;
		}
		ASSERT(pg.n == 0 || pg.last > after);
		/* With room for every record, only the last page is short. */
		if (max_bytes >= 1 << 20 && !pg.end)
			ASSERT_INT_EQ(pg.n, max_tasks);
		after = pg.last;
		pages++;
		orch_store_task_list_free(pg.tasks, pg.n);
		if (pg.end)
			break;
		ASSERT(pages <= (int)n_all + 1);
	}
	ASSERT_INT_EQ(seen, n_all);
	orch_store_task_list_free(all, n_all);
}

static void
test_pages(void)
{
	struct orch_store_reader *r;
	struct orch_store_task_page pg;

	store_setup("tl-pages");
	ASSERT_INT_EQ(orch_store_reader_new(S.st, &r), ORCH_OK);
	/* Empty: one page, the end. */
	ASSERT_INT_EQ(orch_store_task_page(r, 0, 0, 10, 1 << 20, &pg), ORCH_OK);
	ASSERT(pg.n == 0 && pg.end && pg.last == 0 && pg.tasks == NULL);
	ASSERT_INT_EQ(
	    orch_store_task_page(r, 0, 0, 0, 1 << 20, &pg), ORCH_EINVAL);
	insert_many(700, 0);
	walk(r, 0, 100, 1 << 20);
	walk(r, 0, 700, 1 << 20); /* exactly one full page, then the end */
	walk(r, 0, 1000, 1 << 20);
	walk(r, ST_RUNNING, 64, 1 << 20);
	walk(r, ST_PENDING, 1, 1 << 20);
	/* A byte limit below one record: one task a page, never none. */
	walk(r, 0, 100, 1);
	/* The byte limit counts stored bytes: a page stops once past it. */
	ASSERT_INT_EQ(orch_store_task_page(r, 0, 0, 100, 2000, &pg), ORCH_OK);
	ASSERT(pg.n > 1 && pg.n < 100 && !pg.end);
	orch_store_task_list_free(pg.tasks, pg.n);
	/* Past the last: empty, the end, the cursor kept. */
	ASSERT_INT_EQ(
	    orch_store_task_page(r, 0, 100000, 10, 1 << 20, &pg), ORCH_OK);
	ASSERT(pg.n == 0 && pg.end && pg.last == 100000);
	orch_store_reader_free(r);
	store_teardown();
}

/* ---- GET /tasks ---- */

static void
test_streams_same_bytes(void)
{
	static const struct {
		const char *path;
		int status;
	} cases[] = {{"/tasks", 0}, {"/tasks?status=Running", ST_RUNNING},
	    {"/tasks?status=Pending", ST_PENDING},
	    {"/tasks?status=Completed", ST_COMPLETED}};
	struct orch_task_list_stats s0, s1;
	struct answer a;
	json_t *j;
	size_t wlen;
	char *want;

	setup("tl-same", 0, 0);
	insert_many(1300, 0);
	s0 = stats();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		want = whole_list(cases[i].status, &wlen);
		get(cases[i].path, 1, 0, 65536, &a);
		ASSERT_INT_EQ(a.status, 200);
		/* 1300 tasks are several pages: it streams. */
		ASSERT(a.chunked && a.whole);
		ASSERT_STR_CONTAINS(
		    a.head, "Content-Type: application/json\r\n");
		ASSERT_STR_CONTAINS(a.head, "Trailer: X-Orch-List-Error\r\n");
		ASSERT_STR_CONTAINS(a.head, "Connection: close\r\n");
		ASSERT_STR_EQ(a.trailers, "");
		assert_body(&a, want, wlen);
		ASSERT((j = json_loadb(a.body, a.blen, 0, NULL)) != NULL);
		ASSERT(json_is_array(j));
		ASSERT(json_array_size(j) >= 433);
		json_decref(j);
		answer_free(&a);
		free(want);
	}
	/* HTTP/1.0: no chunks, the close ends it; the same bytes. */
	want = whole_list(0, &wlen);
	get("/tasks", 0, 0, 65536, &a);
	ASSERT_INT_EQ(a.status, 200);
	ASSERT(!a.chunked);
	assert_body(&a, want, wlen);
	answer_free(&a);
	free(want);
	ASSERT(h_wait_until(no_stream, NULL, WAIT_MS));
	s1 = stats();
	ASSERT_INT_EQ(s1.streamed - s0.streamed, 5);
	ASSERT_INT_EQ(s1.cut, 0);
	/* However long the list, a page at most was held at once. */
	ASSERT(s1.held_max > 0 && s1.held_max <= ORCH_TASK_LIST_PAGE);
	teardown();
}

/* A list of one page is one answer, and the connection serves the next
 * request; an empty list is []. */
static void
test_short_and_empty(void)
{
	int fd;
	char *body, *head;
	size_t wlen;
	char *want;

	setup("tl-short", 0, 0);
	fd = h_connect(S.port);
	ASSERT(fd >= 0);
	for (int round = 0; round < 2; round++) {
		send_get(fd, "/tasks", 1);
		ASSERT_INT_EQ(h_read_response(fd, &body, &head, WAIT_MS), 200);
		ASSERT_STR_EQ(body, "[]\n");
		ASSERT_STR_CONTAINS(head, "Content-Length: 3\r\n");
		ASSERT(strstr(head, "chunked") == NULL);
		free(body);
		free(head);
	}
	/* One page, yet many times the pieces a stream is written in. */
	insert_many(ORCH_TASK_LIST_PAGE - 1, 0);
	for (int round = 0; round < 4; round++) {
		int st = round % 2 == 0 ? 0 : ST_RUNNING;

		want = whole_list(st, &wlen);
		ASSERT(st != 0 || wlen > 64 * 1024);
		send_get(fd, st == 0 ? "/tasks" : "/tasks?status=Running", 1);
		ASSERT_INT_EQ(h_read_response(fd, &body, &head, WAIT_MS), 200);
		ASSERT(strstr(head, "chunked") == NULL);
		ASSERT_INT_EQ(strlen(body), wlen);
		ASSERT(memcmp(body, want, wlen) == 0);
		free(body);
		free(head);
		free(want);
	}
	close(fd);
	ASSERT_INT_EQ(stats().streamed, 0);
	teardown();
}

/* A client with a small window that takes a few KB at a time: the list
 * waits for it, holding no more than a page, and it gets every task once
 * in order. */
static void
test_slow_client(void)
{
	struct orch_task_list_stats s;
	struct answer a;
	size_t wlen;
	char *want;

	setup("tl-slow", 0, 0);
	/* About 6 MB of JSON: more than the socket buffers hold. */
	insert_many(1500, 3000);
	want = whole_list(0, &wlen);
	ASSERT(wlen > 4u * 1024 * 1024);
	get("/tasks", 1, 4096, 2048, &a);
	ASSERT_INT_EQ(a.status, 200);
	ASSERT(a.chunked && a.whole);
	assert_body(&a, want, wlen);
	answer_free(&a);
	free(want);
	ASSERT(h_wait_until(no_stream, NULL, WAIT_MS));
	s = stats();
	ASSERT(s.waits > 0);
	ASSERT(s.held_max > 0 && s.held_max <= ORCH_TASK_LIST_PAGE);
	ASSERT_INT_EQ(s.cut, 0);
	teardown();
}

/* A client that leaves in the middle ends its list (nothing leaks: the
 * sanitized build checks); one that takes nothing is closed by the write
 * timeout.  The manager lists on as before. */
static void
test_client_leaves(void)
{
	struct orch_gw_stats gs;
	struct answer a;
	uint64_t two = 2;
	char buf[8192];
	size_t wlen;
	char *want;
	int fd;

	setup("tl-leave", 300, 0);
	insert_many(1500, 3000);
	fd = connect_small(4096);
	send_get(fd, "/tasks", 1);
	ASSERT(recv(fd, buf, sizeof(buf), MSG_WAITALL) > 0);
	ASSERT_INT_EQ(stats().streamed, 1);
	close(fd);
	ASSERT(h_wait_until(no_stream, NULL, WAIT_MS));
	/* Takes nothing at all: the write timeout. */
	fd = connect_small(4096);
	send_get(fd, "/tasks", 1);
	ASSERT(h_wait_until(streamed, &two, WAIT_MS));
	ASSERT(h_wait_until(no_stream, NULL, WAIT_MS));
	orch_gw_stats(S.gw, &gs);
	ASSERT(gs.timeouts_write >= 1);
	close(fd);
	want = whole_list(0, &wlen);
	get("/tasks", 1, 0, 65536, &a);
	assert_body(&a, want, wlen);
	answer_free(&a);
	free(want);
	ASSERT_INT_EQ(stats().cut, 0);
	teardown();
}

/* Past ORCH_TASK_LIST_STREAMS_MAX lists at once, 503; once they end, a
 * list again. */
static void
test_streams_bounded(void)
{
	int fds[ORCH_TASK_LIST_STREAMS_MAX];
	char *body = NULL;
	json_t *j;

	/* A small stream cap: each client that reads nothing holds little
	 * of the socket buffers, and its list stays open. */
	setup("tl-bound", 0, 64 * 1024);
	insert_many(1500, 3000);
	for (int i = 0; i < ORCH_TASK_LIST_STREAMS_MAX; i++) {
		char head[16];

		fds[i] = connect_small(4096);
		send_get(fds[i], "/tasks", 1);
		/* Its head came: it streams. */
		ASSERT(recv(fds[i], head, sizeof(head), MSG_WAITALL) ==
		    (ssize_t)sizeof(head));
	}
	ASSERT_INT_EQ(stats().streams, ORCH_TASK_LIST_STREAMS_MAX);
	ASSERT_INT_EQ(h_http(S.port, "GET", "/tasks", NULL, &body), 503);
	ASSERT_STR_CONTAINS(body, "task lists already");
	free(body);
	/* A short list is no stream: still answered. */
	ASSERT_INT_EQ(
	    h_http(S.port, "GET", "/tasks?status=Stopped", NULL, &body), 200);
	ASSERT_STR_EQ(body, "[]\n");
	free(body);
	for (int i = 0; i < ORCH_TASK_LIST_STREAMS_MAX; i++)
		close(fds[i]);
	ASSERT(h_wait_until(no_stream, NULL, WAIT_MS));
	ASSERT_INT_EQ(h_http(S.port, "GET", "/tasks", NULL, &body), 200);
	j = hj_parse(body);
	ASSERT_INT_EQ(json_array_size(j), 1500);
	json_decref(j);
	free(body);
	teardown();
}

/* Overwrites the record of task seq with bytes that do not decode. */
static void
corrupt(int64_t seq)
{
	char path[512], sql[128];
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/orch.db", S.dir);
	snprintf(sql, sizeof(sql),
	    "UPDATE tasks SET task = x'ffffffff' WHERE seq = %lld",
	    (long long)seq);
	ASSERT(sqlite3_open(path, &db) == SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	ASSERT(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
	ASSERT_INT_EQ(sqlite3_changes(db), 1);
	sqlite3_close(db);
}

static void
test_cut_short(void)
{
	struct answer a;
	char addr[64], *out = NULL, *err = NULL, *body = NULL;
	const char *args[] = {"list", NULL};
	json_t *j;

	setup("tl-cut", 0, 0);
	insert_many(1000, 0);
	/* On a later page: the stream has begun; it ends without its "]"
	 * and with the trailer. */
	corrupt(700);
	get("/tasks", 1, 0, 65536, &a);
	ASSERT_INT_EQ(a.status, 200);
	ASSERT(a.chunked && a.whole);
	ASSERT_STR_CONTAINS(
	    a.trailers, "X-Orch-List-Error: cannot read tasks from the store");
	ASSERT_STR_CONTAINS(a.trailers, "the list is incomplete\r\n");
	ASSERT(a.blen > 1 && a.body[0] == '[');
	/* It stops after the last whole task before the bad one. */
	ASSERT(a.body[a.blen - 1] == '}');
	ASSERT((j = json_loadb(a.body, a.blen, 0, NULL)) == NULL);
	answer_free(&a);
	ASSERT_INT_EQ(stats().cut, 1);
	/* orchctl says the list is cut, and prints none of it. */
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", S.port);
	ASSERT_INT_EQ(h_orchctl(addr, &out, &err, args), 1);
	ASSERT_STR_CONTAINS(err, "cut its answer to GET /tasks short");
	ASSERT_STR_CONTAINS(err, "the list is incomplete");
	ASSERT_STR_EQ(out, "");
	free(out);
	free(err);
	/* On the first page: nothing sent yet, a JSON error. */
	corrupt(3);
	ASSERT_INT_EQ(h_http(S.port, "GET", "/tasks", NULL, &body), 500);
	ASSERT_STR_CONTAINS(body, "cannot read tasks from the store");
	j = hj_parse(body);
	json_decref(j);
	free(body);
	teardown();
}

int
main(void)
{
	RUN(test_pages);
	RUN(test_streams_same_bytes);
	RUN(test_short_and_empty);
	RUN(test_slow_client);
	RUN(test_client_leaves);
	RUN(test_streams_bounded);
	RUN(test_cut_short);
	return 0;
}
