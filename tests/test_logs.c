/*
 * test_logs.c: the manager's routing of a task's output to HTTP
 * (services/logs.c), with a real gateway on loopback and a real PUB
 * socket (inproc), the test playing the node: it receives each
 * LogRequest on a SUB socket, as an agent does, and pushes chunks with
 * orch_logs_push, as the RPC server does.
 *
 * A client that does not read makes pushes "not taken" before the
 * bytes held for it pass a bound, and then gets every byte in order; the
 * node's first chunk as an error is a JSON answer, a later one the
 * trailer; a chunk sent twice is taken once, a gap or another node's
 * chunk refused; a client that leaves makes the next push answer stop.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "error.h"
#include "gateway.h"
#include "harness.h"
#include "logs.h"
#include "nodes.h"
#include "notify.h"
#include "task_fixture.h"

#define URL "inproc://test-logs"
#define NODE_ID "11111111-2222-4333-8444-555555555555"
#define TASK "2b9e0a70-3c1f-4d6e-9a51-8f0c6b1d2e34"
#define WAIT_MS 15000
#define CHUNK ORCH_LOGS_CHUNK_MAX

static struct {
	struct orch_gw *gw;
	pthread_t loop;
	struct orch_logs *lg;
	struct orch_notify *notify;
	struct orch_nodes *nodes;
	nng_socket sub;
	char seen[32][ORCH_ID_LEN]; /* request ids received */
	int n_seen;
} S;

/* Every request is for one Running task on node n1. */
static void
handle(struct orch_gw_req *req, void *arg)
{
	orch_task *t = tf_task_make("t", "img:1", NULL, NULL, 64, 0.5);

	(void)arg;
	free(t->id);
	t->id = strdup(TASK);
	t->has_status = true;
	t->status = ORCH__TASK_STATUS__TASK_STATUS_RUNNING;
	t->node_id = strdup(NODE_ID);
	t->container_id = strdup("c1");
	ASSERT(t->id != NULL && t->node_id != NULL && t->container_id != NULL);
	orch_logs_serve(S.lg, req, t, orch_gw_req_http(req)->query);
	orch_task_free(t);
}

static void *
loop_main(void *arg)
{
	(void)arg;
	orch_gw_run(S.gw);
	return NULL;
}

static void
setup(void)
{
	struct orch_gw_opts o;
	char err[256], topic[64];

	ASSERT_INT_EQ(orch_nodes_new(60000, &S.nodes), ORCH_OK);
	ASSERT_INT_EQ(
	    orch_nodes_seen(S.nodes, NODE_ID, "n1", NULL, 0), ORCH_OK);
	ASSERT_INT_EQ(
	    orch_notify_open(&S.notify, "pub", err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(
	    orch_notify_listen(S.notify, URL, NULL, err, sizeof(err)), ORCH_OK);
	ASSERT(nng_sub0_open(&S.sub) == 0);
	snprintf(topic, sizeof(topic), "node/%s ", NODE_ID);
	ASSERT(nng_socket_set(
	           S.sub, NNG_OPT_SUB_SUBSCRIBE, topic, strlen(topic)) == 0);
	ASSERT(nng_socket_set_ms(S.sub, NNG_OPT_RECVTIMEO, WAIT_MS) == 0);
	ASSERT(nng_dial(S.sub, URL, NULL, 0) == 0);
	orch_gw_opts_default(&o);
	o.listen = "127.0.0.1:0";
	ASSERT_INT_EQ(
	    orch_gw_new(&o, handle, NULL, &S.gw, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(orch_logs_new(S.nodes, S.notify, &S.lg), ORCH_OK);
	ASSERT_INT_EQ(orch_logs_attach(S.lg, S.gw), ORCH_OK);
	ASSERT(pthread_create(&S.loop, NULL, loop_main, NULL) == 0);
}

static void
teardown(void)
{
	orch_gw_stop(S.gw);
	pthread_join(S.loop, NULL);
	orch_logs_close(S.lg);
	orch_gw_free(S.gw);
	orch_logs_free(S.lg);
	nng_close(S.sub);
	orch_notify_close(S.notify);
	orch_nodes_free(S.nodes);
}

/* Receives the next request not seen yet (the manager repeats one until
 * its node answers) into id. */
static Orch__LogRequest *
recv_request(char id[ORCH_ID_LEN])
{
	size_t tlen = strlen("node/" NODE_ID " ");

	for (;;) {
		Orch__NodeNotice *nn;
		Orch__LogRequest *r;
		nng_msg *msg;
		bool old = false;

		ASSERT(nng_recvmsg(S.sub, &msg, 0) == 0);
		ASSERT(nng_msg_len(msg) > tlen);
		nn = orch__node_notice__unpack(NULL, nng_msg_len(msg) - tlen,
		    (const uint8_t *)nng_msg_body(msg) + tlen);
		nng_msg_free(msg);
		ASSERT(nn != NULL && nn->log_request != NULL);
		ASSERT_STR_EQ(nn->node_id, NODE_ID);
		r = nn->log_request;
		nn->log_request = NULL;
		orch__node_notice__free_unpacked(nn, NULL);
		ASSERT_STR_EQ(r->task_id, TASK);
		ASSERT_STR_EQ(r->container_id, "c1");
		for (int i = 0; i < S.n_seen; i++)
			old |= strcmp(S.seen[i], r->request_id) == 0;
		if (!old) {
			ASSERT(S.n_seen < 32);
			snprintf(S.seen[S.n_seen++], ORCH_ID_LEN, "%s",
			    r->request_id);
			snprintf(id, ORCH_ID_LEN, "%s", r->request_id);
			return r;
		}
		orch__log_request__free_unpacked(r, NULL);
	}
}

/* One chunk as the node sends it; *ack (OUT). */
static int
push(const char *rid, const char *node, uint64_t seq, const char *data,
    size_t len, int eof_code, const char *error, Orch__LogAck *ack)
{
	Orch__LogChunk c = ORCH__LOG_CHUNK__INIT;
	Orch__LogAck init = ORCH__LOG_ACK__INIT;
	char err[512];

	*ack = init;
	c.request_id = (char *)rid;
	c.node_id = (char *)node;
	c.has_seq = true;
	c.seq = seq;
	if (len > 0) {
		c.has_stream = true;
		c.stream = ORCH__LOG_STREAM__LOG_STREAM_STDOUT;
		c.has_data = true;
		c.data.data = (uint8_t *)data;
		c.data.len = len;
	}
	if (eof_code >= 0) {
		c.has_eof = c.eof = true;
		c.has_code = true;
		c.code = eof_code;
		c.error = (char *)error;
	}
	return orch_logs_push(S.lg, &c, ack, err, sizeof(err));
}

static bool
taken(const Orch__LogAck *a)
{
	return !a->stop && (!a->has_accepted || a->accepted);
}

/* GET /logs?query on a new connection (the gateway's handler ignores the
 * path); rcvbuf > 0 makes the client's receive buffer that small. */
static int
client(const char *query, int rcvbuf)
{
	char req[256];
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
	    .sin_port = htons((uint16_t)orch_gw_port(S.gw)),
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

	ASSERT(fd >= 0);
	if (rcvbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	ASSERT(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	snprintf(req, sizeof(req),
	    "GET /logs?%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	    query);
	ASSERT(h_send_all(fd, req, strlen(req)) == 0);
	return fd;
}

/* What a client read: all of it, to the close. */
struct got {
	char *raw;
	size_t len, cap;
	int fd;
};

static void
read_all(struct got *g)
{
	int64_t deadline = orch_mono_ms() + WAIT_MS;

	for (;;) {
		struct pollfd p = {.fd = g->fd, .events = POLLIN};
		ssize_t n;

		ASSERT(orch_mono_ms() < deadline);
		if (g->len + 65536 > g->cap) {
			g->cap = g->cap * 2 + 65536;
			g->raw = realloc(g->raw, g->cap + 1);
			ASSERT(g->raw != NULL);
		}
		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(g->fd, g->raw + g->len, g->cap - g->len);
		ASSERT(n >= 0);
		if (n == 0)
			break;
		g->len += (size_t)n;
	}
	g->raw[g->len] = '\0';
}

static void *
read_main(void *arg)
{
	read_all(arg);
	return NULL;
}

/* Joins the chunks of g's chunked body into *body (OUT, malloc'd, *len
 * bytes); the trailer fields into trailers.  Fails unless it is whole. */
static void
dechunk(const struct got *g, int want_status, char **body, size_t *len,
    char *trailers, size_t tlen)
{
	const char *c = strstr(g->raw, "\r\n\r\n");
	int status = 0;

	ASSERT(sscanf(g->raw, "HTTP/1.1 %d", &status) == 1);
	ASSERT_INT_EQ(status, want_status);
	ASSERT(c != NULL);
	c += 4;
	*body = malloc(g->len + 1);
	ASSERT(*body != NULL);
	*len = 0;
	trailers[0] = '\0';
	for (;;) {
		char *end;
		size_t n = strtoul(c, &end, 16);

		ASSERT(end != c && strncmp(end, "\r\n", 2) == 0);
		c = end + 2;
		if (n == 0)
			break;
		ASSERT((size_t)(g->raw + g->len - c) >= n + 2);
		memcpy(*body + *len, c, n);
		*len += n;
		c += n;
		ASSERT(strncmp(c, "\r\n", 2) == 0);
		c += 2;
	}
	/* Trailer fields, then the empty line that ends the answer. */
	ASSERT(strlen(c) >= 2);
	ASSERT(strcmp(c + strlen(c) - 2, "\r\n") == 0);
	snprintf(trailers, tlen, "%.*s", (int)(strlen(c) - 2), c);
}

/* Byte i of the long stream. */
static char
pattern(size_t i)
{
	return (char)('a' + (i * 7 + i / 65536) % 26);
}

static void
test_backpressure(void)
{
	char rid[ORCH_ID_LEN], *data = malloc(CHUNK), *body, tr[256];
	struct got g = {.fd = client("follow=1", 4096)};
	Orch__LogRequest *r = recv_request(rid);
	Orch__LogAck a;
	uint64_t seq = 1;
	size_t sent = 0, blen, total;
	bool refused = false;
	pthread_t t;

	ASSERT(data != NULL);
	ASSERT(r->follow);
	ASSERT(!r->has_tail);
	orch__log_request__free_unpacked(r, NULL);
	/* The node's first word: the answer's head goes. */
	ASSERT_INT_EQ(
	    push(rid, NODE_ID, seq++, NULL, 0, -1, NULL, &a), ORCH_OK);
	ASSERT(taken(&a));
	/* The client reads nothing: before long a chunk is not taken, and
	 * what was taken is bounded (queue, the gateway's cap, the sockets'
	 * buffers), never all that the node would send. */
	while (!refused) {
		for (size_t i = 0; i < CHUNK; i++)
			data[i] = pattern(sent + i);
		ASSERT_INT_EQ(
		    push(rid, NODE_ID, seq, data, CHUNK, -1, NULL, &a),
		    ORCH_OK);
		ASSERT(!a.stop);
		if (taken(&a)) {
			sent += CHUNK;
			seq++;
			ASSERT(sent < 16u * 1024 * 1024);
			continue;
		}
		ASSERT(a.has_retry_ms && a.retry_ms > 0);
		refused = true;
		printf(
		    "taken before the first refusal: %zu KiB\n", sent / 1024);
	}
	/* Now the client reads, and the node sends as it is let. */
	total = sent + 4 * 1024 * 1024;
	ASSERT(pthread_create(&t, NULL, read_main, &g) == 0);
	while (sent < total) {
		for (size_t i = 0; i < CHUNK; i++)
			data[i] = pattern(sent + i);
		ASSERT_INT_EQ(
		    push(rid, NODE_ID, seq, data, CHUNK, -1, NULL, &a),
		    ORCH_OK);
		ASSERT(!a.stop);
		if (!taken(&a)) {
			/* As an agent does: the same chunk, a little later. */
			poll(NULL, 0, (int)a.retry_ms);
			continue;
		}
		sent += CHUNK;
		seq++;
	}
	ASSERT_INT_EQ(push(rid, NODE_ID, seq++, NULL, 0, 0, NULL, &a), ORCH_OK);
	pthread_join(t, NULL);
	close(g.fd);
	dechunk(&g, 200, &body, &blen, tr, sizeof(tr));
	ASSERT_INT_EQ(blen, total);
	for (size_t i = 0; i < blen; i++) {
		if (body[i] != pattern(i))
			h_fail(__FILE__, __LINE__, "byte %zu differs", i);
	}
	ASSERT_STR_EQ(tr, "");
	free(body);
	free(g.raw);
	free(data);
}

/* The node cannot read the output: before any byte, a JSON error with
 * a status; after some, the trailer. */
static void
test_errors(void)
{
	char rid[ORCH_ID_LEN], *body, tr[256];
	struct got g = {.fd = client("tail=3", 0)};
	Orch__LogRequest *r = recv_request(rid);
	Orch__LogAck a;
	size_t blen;

	ASSERT(!r->follow && r->has_tail && r->tail == 3);
	orch__log_request__free_unpacked(r, NULL);
	ASSERT_INT_EQ(push(rid, NODE_ID, 1, NULL, 0,
	                  ORCH__ERROR_CODE__NOT_FOUND, "no such container", &a),
	    ORCH_OK);
	read_all(&g);
	close(g.fd);
	ASSERT_STR_CONTAINS(g.raw, "HTTP/1.1 410 Gone");
	ASSERT_STR_CONTAINS(
	    g.raw, "{\"error\":\"node n1: no such container\"}");
	free(g.raw);

	memset(&g, 0, sizeof(g));
	g.fd = client("stream=stderr", 0);
	r = recv_request(rid);
	ASSERT(r->stderr && !r->stdout);
	orch__log_request__free_unpacked(r, NULL);
	ASSERT_INT_EQ(
	    push(rid, NODE_ID, 1, "partial", 7, -1, NULL, &a), ORCH_OK);
	ASSERT_INT_EQ(
	    push(rid, NODE_ID, 2, NULL, 0, ORCH__ERROR_CODE__UNAVAILABLE,
	        "daemon gone\r\nX: y", &a),
	    ORCH_OK);
	read_all(&g);
	close(g.fd);
	dechunk(&g, 200, &body, &blen, tr, sizeof(tr));
	ASSERT_INT_EQ(blen, 7);
	ASSERT(memcmp(body, "partial", 7) == 0);
	/* One line, whatever the node's text held. */
	ASSERT_STR_EQ(tr, "X-Orch-Logs-Error: node n1: daemon gone  X: y\r\n");
	free(body);
	free(g.raw);
}

/* A chunk received twice is taken once; a gap, another node's chunk or
 * an unknown request are refused or stopped. */
static void
test_seq_and_node(void)
{
	char rid[ORCH_ID_LEN], *body, tr[64];
	struct got g = {.fd = client("follow=0", 0)};
	Orch__LogRequest *r = recv_request(rid);
	Orch__LogAck a;
	size_t blen;

	orch__log_request__free_unpacked(r, NULL);
	ASSERT_INT_EQ(push(rid, NODE_ID, 1, "a", 1, -1, NULL, &a), ORCH_OK);
	ASSERT(taken(&a));
	ASSERT_INT_EQ(push(rid, NODE_ID, 1, "a", 1, -1, NULL, &a), ORCH_OK);
	ASSERT(taken(&a));
	ASSERT_INT_EQ(push(rid, NODE_ID, 3, "c", 1, -1, NULL, &a), ORCH_EINVAL);
	ASSERT_INT_EQ(push(rid, "99999999-2222-4333-8444-555555555555", 2, "x",
	                  1, -1, NULL, &a),
	    ORCH_EPERM);
	ASSERT_INT_EQ(push(rid, NODE_ID, 0, "x", 1, -1, NULL, &a), ORCH_EINVAL);
	ASSERT_INT_EQ(push(rid, NODE_ID, 2, "b", 1, 0, NULL, &a), ORCH_OK);
	read_all(&g);
	close(g.fd);
	dechunk(&g, 200, &body, &blen, tr, sizeof(tr));
	ASSERT_INT_EQ(blen, 2);
	ASSERT(memcmp(body, "ab", 2) == 0);
	free(body);
	free(g.raw);
	/* After the end, and for a request never made: stop. */
	ASSERT_INT_EQ(push(rid, NODE_ID, 3, "z", 1, -1, NULL, &a), ORCH_OK);
	ASSERT(a.stop);
	ASSERT_INT_EQ(
	    push("no-such-request", NODE_ID, 1, NULL, 0, -1, NULL, &a),
	    ORCH_OK);
	ASSERT(a.stop);
}

struct stop_want {
	const char *rid;
	uint64_t seq;
};

static bool
told_to_stop(void *arg)
{
	struct stop_want *w = arg;
	Orch__LogAck a;

	/* A keep-alive, as the node sends them. */
	ASSERT_INT_EQ(
	    push(w->rid, NODE_ID, w->seq++, NULL, 0, -1, NULL, &a), ORCH_OK);
	return a.stop;
}

/* A client that leaves: the node's next push is told to stop. */
static void
test_client_leaves(void)
{
	char rid[ORCH_ID_LEN];
	struct got g = {.fd = client("follow=1", 0)};
	Orch__LogRequest *r = recv_request(rid);
	struct stop_want w = {rid, 2};
	Orch__LogAck a;
	int64_t deadline = orch_mono_ms() + WAIT_MS;

	orch__log_request__free_unpacked(r, NULL);
	ASSERT_INT_EQ(
	    push(rid, NODE_ID, 1, "hello\n", 6, -1, NULL, &a), ORCH_OK);
	ASSERT(taken(&a));
	/* The client sees it, then goes. */
	g.cap = 4096;
	g.raw = malloc(g.cap + 1);
	ASSERT(g.raw != NULL);
	while (g.len == 0 || strstr(g.raw, "hello\n") == NULL) {
		ssize_t n = read(g.fd, g.raw + g.len, g.cap - g.len);

		ASSERT(n > 0 && orch_mono_ms() < deadline);
		g.len += (size_t)n;
		g.raw[g.len] = '\0';
	}
	close(g.fd);
	free(g.raw);
	ASSERT(h_wait_until(told_to_stop, &w, WAIT_MS));
}

int
main(void)
{
	setup();
	RUN(test_backpressure);
	RUN(test_errors);
	RUN(test_seq_and_node);
	RUN(test_client_leaves);
	teardown();
	return 0;
}
