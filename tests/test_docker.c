/*
 * test_docker.c: the Docker driver against a fake Docker API.
 *
 * The fake is an HTTP server on a unix socket in a thread of this test:
 * it answers canned responses chosen by method and path prefix, records
 * every request, and can misbehave on purpose (not JSON, a body past the
 * driver's cap, a cut answer, a closed connection, an event stream that
 * drops).  No Docker daemon is needed.
 */
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"
#include "docker_parse.h"
#include "driver.h"
#include "error.h"
#include "harness.h"
#include "log.h"
#include "task.h"
#include "task_fixture.h"

/* ---- the fake daemon ---- */

enum fake_kind {
	FK_JSON,        /* status and body with Content-Length */
	FK_CLOSE,       /* close without answering */
	FK_TRUNCATE,    /* a Content-Length longer than what is sent */
	FK_HUGE,        /* a 9 MiB body, announced by Content-Length */
	FK_HUGE_NOLEN,  /* a 9 MiB body ended by closing, not announced */
	FK_STREAM,      /* 200, the body, then close (no Content-Length) */
	FK_STREAM_HOLD, /* 200, the body, then hold until the client goes */
};

struct fake_route {
	const char *method;
	const char *prefix; /* matched against the request target */
	int status;
	const char *body;
	enum fake_kind kind;
	int max_uses; /* 0: unlimited */
	int uses;
	size_t len; /* of body, when it holds NULs (0: strlen) */
};

struct fake_req {
	char method[16];
	char target[4096];
	char *body;
};

#define FAKE_ROUTES 32
#define FAKE_REQS 256
#define FAKE_CONNS 256

struct fake {
	char *dir;
	char sock[108];
	int lfd;
	int stop_pipe[2];
	pthread_t acceptor;
	pthread_mutex_t mu;
	struct fake_route routes[FAKE_ROUTES];
	size_t nroutes;
	struct fake_req reqs[FAKE_REQS];
	size_t nreqs;
	pthread_t conns[FAKE_CONNS];
	size_t nconns;
};

struct fake_conn {
	struct fake *f;
	int fd;
};

static void
fake_route(struct fake *f, const char *method, const char *prefix, int status,
    const char *body, enum fake_kind kind, int max_uses)
{
	pthread_mutex_lock(&f->mu);
	ASSERT(f->nroutes < FAKE_ROUTES);
	f->routes[f->nroutes++] = (struct fake_route){
	    .method = method,
	    .prefix = prefix,
	    .status = status,
	    .body = body,
	    .kind = kind,
	    .max_uses = max_uses,
	};
	pthread_mutex_unlock(&f->mu);
}

/* A route whose body is len bytes, NULs allowed. */
static void
fake_route_bin(struct fake *f, const char *method, const char *prefix,
    const char *body, size_t len, enum fake_kind kind)
{
	fake_route(f, method, prefix, 200, body, kind, 0);
	pthread_mutex_lock(&f->mu);
	f->routes[f->nroutes - 1].len = len;
	pthread_mutex_unlock(&f->mu);
}

/* Waits until fd is readable (1), or the fake stops or 10 s pass (0). */
static int
fake_wait(struct fake *f, int fd)
{
	struct pollfd p[2] = {
	    {.fd = fd, .events = POLLIN},
	    {.fd = f->stop_pipe[0], .events = POLLIN},
	};

	if (poll(p, 2, 10000) <= 0 || (p[1].revents & POLLIN) != 0)
		return 0;
	return 1;
}

static void
fake_send(int fd, const void *buf, size_t len)
{
	(void)h_send_all(fd, buf, len); /* the client went away: fine */
}

/* Reads one request into rq.  Returns 0, or -1 when the client went. */
static int
fake_read_request(struct fake *f, int fd, struct fake_req *rq)
{
	static const size_t cap = 65536;
	char *buf = malloc(cap + 1), *end, *sp, *cl;
	size_t len = 0, head, blen = 0, have;
	long clen = 0;
	ssize_t n;
	int rc = -1;

	ASSERT(buf != NULL);
	memset(rq, 0, sizeof(*rq));
	for (;;) {
		buf[len] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) != NULL)
			break;
		if (len == cap || !fake_wait(f, fd))
			goto out;
		if ((n = read(fd, buf + len, cap - len)) <= 0)
			goto out;
		len += (size_t)n;
	}
	head = (size_t)(end - buf) + 4;
	if ((sp = strchr(buf, ' ')) == NULL || (size_t)(sp - buf) >= 16)
		goto out;
	memcpy(rq->method, buf, (size_t)(sp - buf));
	end = strchr(sp + 1, ' ');
	if (end == NULL || (size_t)(end - sp - 1) >= sizeof(rq->target))
		goto out;
	memcpy(rq->target, sp + 1, (size_t)(end - sp - 1));
	if ((cl = strcasestr(buf, "\r\ncontent-length:")) != NULL &&
	    cl < buf + head)
		clen = strtol(cl + 17, NULL, 10);
	ASSERT(clen >= 0 && clen < 64L * 1024 * 1024);
	rq->body = malloc((size_t)clen + 1);
	ASSERT(rq->body != NULL);
	have = len - head;
	if (have > (size_t)clen)
		have = (size_t)clen;
	memcpy(rq->body, buf + head, have);
	blen = have;
	while (blen < (size_t)clen) {
		if (!fake_wait(f, fd))
			goto out;
		if ((n = read(fd, rq->body + blen, (size_t)clen - blen)) <= 0)
			goto out;
		blen += (size_t)n;
	}
	rq->body[blen] = '\0';
	rc = 0;
out:
	free(buf);
	return rc;
}

static void
fake_respond(struct fake *f, int fd, const struct fake_route *r)
{
	char head[512];
	char chunk[65536];
	const char *body = r->body != NULL ? r->body : "";
	size_t blen = r->len > 0 ? r->len : strlen(body), sent;
	int n;

	switch (r->kind) {
	case FK_CLOSE: return;
	case FK_JSON:
		n = snprintf(head, sizeof(head),
		    "HTTP/1.1 %d Fake\r\n"
		    "Content-Type: application/json\r\nContent-Length: %zu\r\n"
		    "Connection: close\r\n\r\n",
		    r->status, blen);
		fake_send(fd, head, (size_t)n);
		fake_send(fd, body, blen);
		return;
	case FK_TRUNCATE:
		n = snprintf(head, sizeof(head),
		    "HTTP/1.1 %d Fake\r\n"
		    "Content-Type: application/json\r\nContent-Length: %zu\r\n"
		    "Connection: close\r\n\r\n",
		    r->status, blen + 1000);
		fake_send(fd, head, (size_t)n);
		fake_send(fd, body, blen);
		return;
	case FK_HUGE:
	case FK_HUGE_NOLEN:
		if (r->kind == FK_HUGE)
			n = snprintf(head, sizeof(head),
			    "HTTP/1.1 %d Fake\r\n"
			    "Content-Type: application/json\r\n"
			    "Content-Length: %ld\r\nConnection: close\r\n\r\n",
			    r->status, 9L * 1024 * 1024);
		else
			n = snprintf(head, sizeof(head),
			    "HTTP/1.1 %d Fake\r\n"
			    "Content-Type: application/json\r\n"
			    "Connection: close\r\n\r\n",
			    r->status);
		fake_send(fd, head, (size_t)n);
		memset(chunk, ' ', sizeof(chunk));
		for (sent = 0; sent < 9UL * 1024 * 1024; sent += sizeof(chunk))
			fake_send(fd, chunk, sizeof(chunk));
		return;
	case FK_STREAM:
	case FK_STREAM_HOLD:
		n = snprintf(head, sizeof(head),
		    "HTTP/1.1 %d Fake\r\n"
		    "Content-Type: application/json\r\nConnection: "
		    "close\r\n\r\n",
		    r->status);
		fake_send(fd, head, (size_t)n);
		fake_send(fd, body, blen);
		if (r->kind == FK_STREAM_HOLD) {
			/* Until the client hangs up or the fake stops. */
			while (fake_wait(f, fd) &&
			    read(fd, chunk, sizeof(chunk)) > 0)
				;
		}
		return;
	}
}

static void *
fake_conn_main(void *arg)
{
	struct fake_conn *c = arg;
	struct fake *f = c->f;
	struct fake_req rq;
	struct fake_route match = {.status = 404,
	    .kind = FK_JSON,
	    .body = "{\"message\":\"fake: no route\"}"};

	if (fake_read_request(f, c->fd, &rq) != 0) {
		free(rq.body);
		goto out;
	}
	pthread_mutex_lock(&f->mu);
	for (size_t i = 0; i < f->nroutes; i++) {
		struct fake_route *r = &f->routes[i];

		if (strcmp(r->method, rq.method) != 0 ||
		    strncmp(rq.target, r->prefix, strlen(r->prefix)) != 0 ||
		    (r->max_uses > 0 && r->uses >= r->max_uses))
			continue;
		r->uses++;
		match = *r;
		break;
	}
	if (f->nreqs < FAKE_REQS)
		f->reqs[f->nreqs++] = rq;
	else
		free(rq.body);
	pthread_mutex_unlock(&f->mu);
	fake_respond(f, c->fd, &match);
out:
	close(c->fd);
	free(c);
	return NULL;
}

static void *
fake_accept_main(void *arg)
{
	struct fake *f = arg;

	for (;;) {
		struct fake_conn *c;
		int fd;

		if (!fake_wait(f, f->lfd)) {
			/* Idle for 10 s is fine; a stop is not. */
			struct pollfd p = {
			    .fd = f->stop_pipe[0], .events = POLLIN};

			if (poll(&p, 1, 0) > 0)
				break;
			continue;
		}
		if ((fd = accept(f->lfd, NULL, NULL)) < 0)
			continue;
		c = malloc(sizeof(*c));
		ASSERT(c != NULL);
		c->f = f;
		c->fd = fd;
		pthread_mutex_lock(&f->mu);
		ASSERT(f->nconns < FAKE_CONNS);
		ASSERT(pthread_create(
		           &f->conns[f->nconns], NULL, fake_conn_main, c) == 0);
		f->nconns++;
		pthread_mutex_unlock(&f->mu);
	}
	return NULL;
}

/* A fake daemon speaking API api ("1.41"), with /_ping and /version. */
static struct fake *
fake_new(const char *api, const char *min_api)
{
	static char version[512];
	struct fake *f = calloc(1, sizeof(*f));
	struct sockaddr_un a = {.sun_family = AF_UNIX};

	ASSERT(f != NULL);
	f->dir = h_tmpdir("docker");
	snprintf(f->sock, sizeof(f->sock), "%s/d.sock", f->dir);
	ASSERT(pthread_mutex_init(&f->mu, NULL) == 0);
	ASSERT(pipe(f->stop_pipe) == 0);
	f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT(f->lfd >= 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", f->sock);
	ASSERT(bind(f->lfd, (struct sockaddr *)&a, sizeof(a)) == 0);
	ASSERT(listen(f->lfd, 64) == 0);
	/* Only the tests that refuse a version use it more than once at a
	 * time, and then only sequentially. */
	snprintf(version, sizeof(version),
	    "{\"Version\":\"99.0-fake\","
	    "\"ApiVersion\":\"%s\",\"MinAPIVersion\":\"%s\",\"Os\":\"linux\"}",
	    api, min_api);
	fake_route(f, "GET", "/_ping", 200, "OK", FK_JSON, 0);
	fake_route(f, "GET", "/version", 200, version, FK_JSON, 0);
	ASSERT(pthread_create(&f->acceptor, NULL, fake_accept_main, f) == 0);
	return f;
}

static void
fake_free(struct fake *f)
{
	size_t n;

	ASSERT(write(f->stop_pipe[1], "x", 1) == 1);
	pthread_join(f->acceptor, NULL);
	close(f->lfd);
	pthread_mutex_lock(&f->mu);
	n = f->nconns;
	pthread_mutex_unlock(&f->mu);
	for (size_t i = 0; i < n; i++)
		pthread_join(f->conns[i], NULL);
	for (size_t i = 0; i < f->nreqs; i++)
		free(f->reqs[i].body);
	close(f->stop_pipe[0]);
	close(f->stop_pipe[1]);
	pthread_mutex_destroy(&f->mu);
	unlink(f->sock);
	h_rm_rf(f->dir);
	free(f->dir);
	free(f);
}

/* The last request whose method matches and whose target starts with
 * prefix, or NULL. */
static const struct fake_req *
fake_find(struct fake *f, const char *method, const char *prefix)
{
	const struct fake_req *found = NULL;

	pthread_mutex_lock(&f->mu);
	for (size_t i = 0; i < f->nreqs; i++) {
		if (strcmp(f->reqs[i].method, method) == 0 &&
		    strncmp(f->reqs[i].target, prefix, strlen(prefix)) == 0)
			found = &f->reqs[i];
	}
	pthread_mutex_unlock(&f->mu);
	return found;
}

static int
fake_count(struct fake *f, const char *method, const char *prefix)
{
	int n = 0;

	pthread_mutex_lock(&f->mu);
	for (size_t i = 0; i < f->nreqs; i++) {
		if (strcmp(f->reqs[i].method, method) == 0 &&
		    strncmp(f->reqs[i].target, prefix, strlen(prefix)) == 0)
			n++;
	}
	pthread_mutex_unlock(&f->mu);
	return n;
}

/* ---- helpers ---- */

#define NODE "node-a"
#define CID "4f1d2c3b4a5968778695a4b3c2d1e0f0112233445566778899aabbccddeeff00"

static char err[1024];

static void *
drv_new_full(struct fake *f, orch_driver_exit_fn fn, void *arg)
{
	struct orch_driver_config cfg = {
	    .node_name = NODE,
	    .docker_socket = f->sock,
	    .on_exit = fn,
	    .on_exit_arg = arg,
	    .stop_timeout_s = 7,
	};
	void *st = NULL;
	int rc;

	err[0] = '\0';
	rc = orch_docker_driver.init(&cfg, &st, err, sizeof(err));
	if (rc != ORCH_OK)
		h_fail(
		    __FILE__, __LINE__, "init: %s: %s", orch_strerror(rc), err);
	return st;
}

static void *
drv_new(struct fake *f)
{
	return drv_new_full(f, NULL, NULL);
}

static json_t *
json_parse(const char *s)
{
	json_error_t je;
	json_t *j = json_loads(s, 0, &je);

	if (j == NULL)
		h_fail(__FILE__, __LINE__, "not JSON: %s: %s", je.text, s);
	return j;
}

/* ---- version negotiation ---- */

static void
test_negotiate_newer_daemon(void)
{
	struct fake *f = fake_new("1.45", "1.24");
	double cpu = 0;
	int64_t mem = 0;
	void *st;

	fake_route(f, "GET", "/v1.41/info", 200,
	    "{\"NCPU\":8,\"MemTotal\":17179869184,\"Name\":\"h\"}", FK_JSON, 0);
	st = drv_new(f);
	ASSERT_INT_EQ(
	    orch_docker_driver.capacity(st, &cpu, &mem, err, sizeof(err)),
	    ORCH_OK);
	ASSERT(cpu == 8.0);
	ASSERT_INT_EQ(mem, 16384);
	ASSERT(fake_find(f, "GET", "/v1.41/info") != NULL);
	orch_docker_driver.fini(st);
	fake_free(f);
}

static void
test_negotiate_older_daemon(void)
{
	struct fake *f = fake_new("1.40", "1.12");
	double cpu = 0;
	int64_t mem = 0;
	void *st;

	fake_route(f, "GET", "/v1.40/info", 200,
	    "{\"NCPU\":2,\"MemTotal\":1073741824}", FK_JSON, 0);
	st = drv_new(f);
	ASSERT_INT_EQ(
	    orch_docker_driver.capacity(st, &cpu, &mem, err, sizeof(err)),
	    ORCH_OK);
	ASSERT_INT_EQ(mem, 1024);
	ASSERT(fake_find(f, "GET", "/v1.41/") == NULL);
	orch_docker_driver.fini(st);
	fake_free(f);
}

static void
test_negotiate_refuses(void)
{
	struct orch_driver_config cfg = {.node_name = NODE};
	struct fake *f;
	void *st = (void *)&cfg;

	/* Too old for us. */
	f = fake_new("1.30", "1.12");
	cfg.docker_socket = f->sock;
	ASSERT_INT_EQ(
	    orch_docker_driver.init(&cfg, &st, err, sizeof(err)), ORCH_EPROTO);
	ASSERT_STR_CONTAINS(err, "1.30");
	ASSERT_STR_CONTAINS(err, "1.40");
	ASSERT(st == (void *)&cfg); /* untouched on error */
	fake_free(f);

	/* Too new: it no longer speaks our version. */
	f = fake_new("1.50", "1.44");
	cfg.docker_socket = f->sock;
	ASSERT_INT_EQ(
	    orch_docker_driver.init(&cfg, &st, err, sizeof(err)), ORCH_EPROTO);
	ASSERT_STR_CONTAINS(err, "1.44");
	fake_free(f);

	/* Nonsense versions. */
	f = fake_new("one.forty", "1.12");
	cfg.docker_socket = f->sock;
	ASSERT_INT_EQ(
	    orch_docker_driver.init(&cfg, &st, err, sizeof(err)), ORCH_EPROTO);
	ASSERT_STR_CONTAINS(err, "GET /version");
	fake_free(f);
}

static void
test_version_malformed(void)
{
	struct orch_driver_config cfg = {.node_name = NODE};
	struct fake *f = fake_new("1.41", "1.12");
	void *st = NULL;

	/* The first matching route wins: put bad ones in front. */
	pthread_mutex_lock(&f->mu);
	f->routes[1] = (struct fake_route){.method = "GET",
	    .prefix = "/version",
	    .status = 200,
	    .body = "<html>hello</html>",
	    .kind = FK_JSON,
	    .max_uses = 1};
	f->routes[f->nroutes++] = (struct fake_route){.method = "GET",
	    .prefix = "/version",
	    .status = 200,
	    .body = "{\"ApiVersion\":141}",
	    .kind = FK_JSON};
	pthread_mutex_unlock(&f->mu);
	cfg.docker_socket = f->sock;
	ASSERT_INT_EQ(
	    orch_docker_driver.init(&cfg, &st, err, sizeof(err)), ORCH_EPROTO);
	ASSERT_STR_CONTAINS(err,
	    "docker GET /version: unexpected answer: not "
	    "JSON");
	ASSERT_INT_EQ(
	    orch_docker_driver.init(&cfg, &st, err, sizeof(err)), ORCH_EPROTO);
	ASSERT_STR_CONTAINS(err, "ApiVersion");
	ASSERT(st == NULL);
	fake_free(f);
}

static void
test_unreachable(void)
{
	struct orch_driver_config cfg = {.node_name = NODE,
	    .docker_socket = "/nonexistent/orch-test/docker.sock"};
	void *st = NULL;

	ASSERT_INT_EQ(orch_docker_driver.init(&cfg, &st, err, sizeof(err)),
	    ORCH_EUNAVAIL);
	ASSERT_STR_CONTAINS(err,
	    "cannot reach the Docker daemon at "
	    "/nonexistent/orch-test/docker.sock");
	ASSERT(st == NULL);

	cfg.node_name = "";
	ASSERT_INT_EQ(
	    orch_docker_driver.init(&cfg, &st, err, sizeof(err)), ORCH_EINVAL);
	orch_docker_driver.fini(NULL);
}

/* ---- start ---- */

static void
test_create_body(void)
{
	static const char *const env[] = {
	    "A", "1", "GREETING", "hello world", NULL};
	static const char *const cmd[] = {"sleep", "300", NULL};
	struct fake *f = fake_new("1.41", "1.12");
	const struct fake_req *rq;
	char handle[ORCH_HANDLE_LEN], want[128];
	json_t *b, *v;
	orch_task *t =
	    tf_task_make("t", "orch-test/busybox:latest", env, cmd, 64, 0.25);
	orch_task *t2 =
	    tf_task_make("t", "orch-test/busybox", NULL, NULL, 256, 1.5);
	void *st;

	t2->spec->has_privileged = true;
	t2->spec->privileged = true;
	t2->spec->n_volumes = 2;
	t2->spec->volumes = calloc(2, sizeof(char *));
	ASSERT(t2->spec->volumes != NULL);
	t2->spec->volumes[0] = strdup("/srv/$(reboot); x:/data:ro");
	t2->spec->volumes[1] = strdup("cache:/cache");
	t2->spec->network = strdup("none");
	t2->spec->n_cap_add = 1;
	t2->spec->cap_add = calloc(1, sizeof(char *));
	ASSERT(t2->spec->cap_add != NULL);
	t2->spec->cap_add[0] = strdup("NET_ADMIN");

	fake_route(f, "POST", "/v1.41/containers/create", 201,
	    "{\"Id\":\"" CID "\",\"Warnings\":[]}", FK_JSON, 0);
	fake_route(
	    f, "POST", "/v1.41/containers/" CID "/start", 204, "", FK_JSON, 0);
	st = drv_new(f);
	ASSERT_INT_EQ(
	    orch_docker_driver.start(st, t, handle, err, sizeof(err)), ORCH_OK);
	ASSERT_STR_EQ(handle, CID);

	rq = fake_find(f, "POST", "/v1.41/containers/create");
	ASSERT(rq != NULL);
	snprintf(
	    want, sizeof(want), "/v1.41/containers/create?name=orch-%s", t->id);
	ASSERT_STR_EQ(rq->target, want);
	b = json_parse(rq->body);
	ASSERT_STR_EQ(json_string_value(json_object_get(b, "Image")),
	    "orch-test/busybox:latest");
	v = json_object_get(b, "Env");
	ASSERT_INT_EQ(json_array_size(v), 2);
	ASSERT_STR_EQ(json_string_value(json_array_get(v, 0)), "A=1");
	ASSERT_STR_EQ(
	    json_string_value(json_array_get(v, 1)), "GREETING=hello world");
	v = json_object_get(b, "Cmd");
	ASSERT_INT_EQ(json_array_size(v), 2);
	ASSERT_STR_EQ(json_string_value(json_array_get(v, 0)), "sleep");
	ASSERT_STR_EQ(json_string_value(json_array_get(v, 1)), "300");
	v = json_object_get(b, "Labels");
	ASSERT_STR_EQ(
	    json_string_value(json_object_get(v, "orch.task")), t->id);
	ASSERT_STR_EQ(json_string_value(json_object_get(v, "orch.node")), NODE);
	v = json_object_get(b, "HostConfig");
	ASSERT_INT_EQ(json_integer_value(json_object_get(v, "Memory")),
	    64LL * 1024 * 1024);
	ASSERT_INT_EQ(
	    json_integer_value(json_object_get(v, "NanoCpus")), 250000000LL);
	ASSERT(json_object_get(b, "Entrypoint") == NULL);
	/* Nothing asked: Docker's own isolation. */
	ASSERT(json_object_get(v, "Privileged") == NULL);
	ASSERT(json_object_get(v, "Binds") == NULL);
	ASSERT(json_object_get(v, "NetworkMode") == NULL);
	ASSERT(json_object_get(v, "CapAdd") == NULL);
	json_decref(b);
	ASSERT(fake_find(f, "POST", "/v1.41/containers/" CID "/start") != NULL);
	ASSERT(fake_find(f, "POST", "/v1.41/images/create") == NULL);

	/* No command: no Cmd at all, so that the image's default runs. */
	ASSERT_INT_EQ(
	    orch_docker_driver.start(st, t2, handle, err, sizeof(err)),
	    ORCH_OK);
	b = json_parse(fake_find(f, "POST", "/v1.41/containers/create")->body);
	ASSERT(json_object_get(b, "Cmd") == NULL);
	/* The container settings, as data: a path full of shell syntax
	 * reaches Docker byte for byte. */
	v = json_object_get(b, "HostConfig");
	ASSERT(json_is_true(json_object_get(v, "Privileged")));
	ASSERT_INT_EQ(json_array_size(json_object_get(v, "Binds")), 2);
	ASSERT_STR_EQ(
	    json_string_value(json_array_get(json_object_get(v, "Binds"), 0)),
	    "/srv/$(reboot); x:/data:ro");
	ASSERT_STR_EQ(
	    json_string_value(json_array_get(json_object_get(v, "Binds"), 1)),
	    "cache:/cache");
	ASSERT_STR_EQ(
	    json_string_value(json_object_get(v, "NetworkMode")), "none");
	ASSERT_INT_EQ(json_array_size(json_object_get(v, "CapAdd")), 1);
	ASSERT_STR_EQ(
	    json_string_value(json_array_get(json_object_get(v, "CapAdd"), 0)),
	    "NET_ADMIN");
	ASSERT_INT_EQ(json_array_size(json_object_get(b, "Env")), 0);
	ASSERT_INT_EQ(json_integer_value(json_object_get(
	                  json_object_get(b, "HostConfig"), "NanoCpus")),
	    1500000000LL);
	json_decref(b);

	orch_docker_driver.fini(st);
	orch_task_free(t);
	orch_task_free(t2);
	fake_free(f);
}

static void
test_pull_on_404(void)
{
	struct fake *f = fake_new("1.41", "1.12");
	const struct fake_req *rq;
	char handle[ORCH_HANDLE_LEN];
	orch_task *t = tf_task_make(
	    "t", "registry.local:5000/team/app:1.2", NULL, NULL, 64, 0.5);
	void *st;

	fake_route(f, "POST", "/v1.41/containers/create", 404,
	    "{\"message\":\"No such image: registry.local:5000/team/app:1.2\"}",
	    FK_JSON, 1);
	fake_route(f, "POST", "/v1.41/images/create", 200,
	    "{\"status\":\"Pulling from team/app\",\"id\":\"1.2\"}\r\n"
	    "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":1}}"
	    "\r\n"
	    "{\"status\":\"Status: Downloaded newer image\"}\r\n",
	    FK_STREAM, 0);
	fake_route(f, "POST", "/v1.41/containers/create", 201,
	    "{\"Id\":\"" CID "\"}", FK_JSON, 0);
	fake_route(
	    f, "POST", "/v1.41/containers/" CID "/start", 204, "", FK_JSON, 0);
	st = drv_new(f);
	ASSERT_INT_EQ(
	    orch_docker_driver.start(st, t, handle, err, sizeof(err)), ORCH_OK);
	ASSERT_STR_EQ(handle, CID);
	rq = fake_find(f, "POST", "/v1.41/images/create");
	ASSERT(rq != NULL);
	ASSERT_STR_EQ(rq->target,
	    "/v1.41/images/create?fromImage="
	    "registry.local%3A5000%2Fteam%2Fapp&tag=1.2");
	ASSERT_INT_EQ(fake_count(f, "POST", "/v1.41/containers/create"), 2);
	orch_docker_driver.fini(st);
	orch_task_free(t);
	fake_free(f);
}

static void
test_pull_fails(void)
{
	struct fake *f = fake_new("1.41", "1.12");
	char handle[ORCH_HANDLE_LEN];
	orch_task *t =
	    tf_task_make("t", "orch-test/nope:1", NULL, NULL, 64, 0.5);
	orch_task *t2 =
	    tf_task_make("t", "orch-test/gone", NULL, NULL, 64, 0.5);
	void *st;
	int rc;

	fake_route(f, "POST", "/v1.41/containers/create", 404,
	    "{\"message\":\"No such image: whatever\"}", FK_JSON, 0);
	/* A failure after the 200: an error line in the progress stream. */
	fake_route(f, "POST", "/v1.41/images/create?fromImage=orch-test%2Fnope",
	    200,
	    "{\"status\":\"Pulling\"}\n{\"errorDetail\":{\"message\":"
	    "\"manifest unknown\"},\"error\":\"manifest unknown\"}\n",
	    FK_STREAM, 0);
	/* A failure before it: an ordinary error answer. */
	fake_route(f, "POST", "/v1.41/images/create?fromImage=orch-test%2Fgone",
	    500,
	    "{\"message\":\"Get \\\"https://registry-1.docker.io/v2/\\\": "
	    "dial tcp: no such host\"}",
	    FK_JSON, 0);
	st = drv_new(f);
	rc = orch_docker_driver.start(st, t, handle, err, sizeof(err));
	ASSERT_INT_EQ(rc, ORCH_ENOENT);
	ASSERT_STR_EQ(err,
	    "image \"orch-test/nope:1\" not found locally and "
	    "pull failed: manifest unknown");
	ASSERT_INT_EQ(fake_count(f, "POST", "/v1.41/containers/"), 1);

	rc = orch_docker_driver.start(st, t2, handle, err, sizeof(err));
	ASSERT_INT_EQ(rc, ORCH_ENOENT);
	ASSERT_STR_EQ(err,
	    "image \"orch-test/gone\" not found locally and pull "
	    "failed: Get \"https://registry-1.docker.io/v2/\": dial tcp: no "
	    "such host");
	ASSERT_STR_CONTAINS(
	    fake_find(f, "POST", "/v1.41/images/")->target, "&tag=latest");
	orch_docker_driver.fini(st);
	orch_task_free(t);
	orch_task_free(t2);
	fake_free(f);
}

static void
test_create_404_not_image(void)
{
	struct fake *f = fake_new("1.41", "1.12");
	char handle[ORCH_HANDLE_LEN];
	orch_task *t =
	    tf_task_make("t", "orch-test/busybox", NULL, NULL, 64, 0.5);
	void *st;

	fake_route(f, "POST", "/v1.41/containers/create", 404,
	    "{\"message\":\"network foo not found\"}", FK_JSON, 0);
	st = drv_new(f);
	ASSERT_INT_EQ(orch_docker_driver.start(st, t, handle, err, sizeof(err)),
	    ORCH_ENOENT);
	ASSERT_STR_CONTAINS(err,
	    "docker POST /v1.41/containers/create: the "
	    "daemon answered 404: network foo not found");
	ASSERT(fake_find(f, "POST", "/v1.41/images/create") == NULL);
	orch_docker_driver.fini(st);
	orch_task_free(t);
	fake_free(f);
}

/* An inspect answer for a container of task id on node in status. */
static void
inspect_body(char *buf, size_t len, const char *id, const char *task,
    const char *node, const char *status, bool running, int code)
{
	snprintf(buf, len,
	    "{\"Id\":\"%s\",\"Name\":\"/orch-%s\",\"State\":{"
	    "\"Status\":\"%s\",\"Running\":%s,\"Paused\":false,\"ExitCode\":%d,"
	    "\"Error\":\"\",\"StartedAt\":\"2026-11-26T21:01:57.543603306Z\","
	    "\"FinishedAt\":\"%s\"},\"Config\":{\"Image\":\"x\",\"Labels\":{"
	    "\"orch.task\":\"%s\",\"orch.node\":\"%s\"}}}",
	    id, task, status, running ? "true" : "false", code,
	    running ? "0001-01-01T00:00:00Z" : "2026-11-26T21:01:59.1Z", task,
	    node);
}

static void
test_conflict_adopts(void)
{
	static char created[2048], exited[2048], running[2048], foreign[2048];
	struct fake *f = fake_new("1.41", "1.12");
	char handle[ORCH_HANDLE_LEN], prefix[128];
	orch_task *t =
	    tf_task_make("t", "orch-test/busybox", NULL, NULL, 64, 0.5);
	void *st;

	snprintf(
	    prefix, sizeof(prefix), "/v1.41/containers/orch-%s/json", t->id);
	inspect_body(
	    created, sizeof(created), CID, t->id, NODE, "created", false, 0);
	inspect_body(
	    exited, sizeof(exited), CID, t->id, NODE, "exited", false, 3);
	inspect_body(
	    running, sizeof(running), CID, t->id, NODE, "running", true, 0);
	inspect_body(
	    foreign, sizeof(foreign), CID, t->id, "node-b", "running", true, 0);
	fake_route(f, "POST", "/v1.41/containers/create", 409,
	    "{\"message\":\"Conflict. The container name is already in use\"}",
	    FK_JSON, 0);
	fake_route(f, "GET", prefix, 200, created, FK_JSON, 1);
	fake_route(f, "GET", prefix, 200, exited, FK_JSON, 1);
	fake_route(f, "GET", prefix, 200, running, FK_JSON, 1);
	fake_route(f, "GET", prefix, 200, foreign, FK_JSON, 1);
	fake_route(
	    f, "POST", "/v1.41/containers/" CID "/start", 204, "", FK_JSON, 0);
	st = drv_new(f);

	/* Created but not started: started now. */
	ASSERT_INT_EQ(
	    orch_docker_driver.start(st, t, handle, err, sizeof(err)), ORCH_OK);
	ASSERT_STR_EQ(handle, CID);
	ASSERT_INT_EQ(
	    fake_count(f, "POST", "/v1.41/containers/" CID "/start"), 1);
	/* Exited: returned as it is, not run a second time. */
	handle[0] = '\0';
	ASSERT_INT_EQ(
	    orch_docker_driver.start(st, t, handle, err, sizeof(err)), ORCH_OK);
	ASSERT_STR_EQ(handle, CID);
	ASSERT_INT_EQ(
	    fake_count(f, "POST", "/v1.41/containers/" CID "/start"), 1);
	/* Running: returned. */
	ASSERT_INT_EQ(
	    orch_docker_driver.start(st, t, handle, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(
	    fake_count(f, "POST", "/v1.41/containers/" CID "/start"), 1);
	/* Another node's: never adopted. */
	ASSERT_INT_EQ(orch_docker_driver.start(st, t, handle, err, sizeof(err)),
	    ORCH_ECONFLICT);
	ASSERT_STR_CONTAINS(err, "node-b");
	orch_docker_driver.fini(st);
	orch_task_free(t);
	fake_free(f);
}

static void
test_start_refused_discards(void)
{
	struct fake *f = fake_new("1.41", "1.12");
	char handle[ORCH_HANDLE_LEN];
	static const char *const cmd[] = {"nope", NULL};
	orch_task *t =
	    tf_task_make("t", "orch-test/busybox", NULL, cmd, 64, 0.5);
	void *st;

	fake_route(f, "POST", "/v1.41/containers/create", 201,
	    "{\"Id\":\"" CID "\"}", FK_JSON, 0);
	fake_route(f, "POST", "/v1.41/containers/" CID "/start", 400,
	    "{\"message\":\"exec: \\\"nope\\\": executable file not found in "
	    "$PATH\"}",
	    FK_JSON, 0);
	fake_route(f, "DELETE", "/v1.41/containers/" CID, 204, "", FK_JSON, 0);
	st = drv_new(f);
	ASSERT_INT_EQ(orch_docker_driver.start(st, t, handle, err, sizeof(err)),
	    ORCH_EIO);
	ASSERT_STR_CONTAINS(err, "executable file not found");
	ASSERT_STR_CONTAINS(err, "/start");
	ASSERT_STR_EQ(fake_find(f, "DELETE", "/v1.41/containers/")->target,
	    "/v1.41/containers/" CID "?force=true&v=true");
	orch_docker_driver.fini(st);
	orch_task_free(t);
	fake_free(f);
}

/* ---- inspect, stop, remove, list ---- */

static void
test_inspect(void)
{
	static char running[2048], exited[2048];
	struct fake *f = fake_new("1.41", "1.12");
	struct orch_instance in;
	const char *task = "2b9e0a70-3c1f-4d6e-9a51-8f0c6b1d2e34";
	void *st;

	inspect_body(
	    running, sizeof(running), CID, task, NODE, "running", true, 0);
	inspect_body(
	    exited, sizeof(exited), CID, task, NODE, "exited", false, 3);
	fake_route(
	    f, "GET", "/v1.41/containers/run/json", 200, running, FK_JSON, 0);
	fake_route(
	    f, "GET", "/v1.41/containers/ex/json", 200, exited, FK_JSON, 0);
	fake_route(f, "GET", "/v1.41/containers/gone/json", 404,
	    "{\"message\":\"No such container: gone\"}", FK_JSON, 0);
	st = drv_new(f);

	ASSERT_INT_EQ(
	    orch_docker_driver.inspect(st, "run", &in, err, sizeof(err)),
	    ORCH_OK);
	ASSERT_STR_EQ(in.handle, CID);
	ASSERT_STR_EQ(in.task_id, task);
	ASSERT(in.running && !in.exited);
	ASSERT_INT_EQ(in.started_at_ms, 1795726917543LL);
	ASSERT_INT_EQ(in.finished_at_ms, 0);

	ASSERT_INT_EQ(
	    orch_docker_driver.inspect(st, "ex", &in, err, sizeof(err)),
	    ORCH_OK);
	ASSERT(!in.running && in.exited);
	ASSERT_INT_EQ(in.exit_code, 3);
	ASSERT_INT_EQ(in.finished_at_ms, 1795726919100LL);

	ASSERT_INT_EQ(
	    orch_docker_driver.inspect(st, "gone", &in, err, sizeof(err)),
	    ORCH_ENOENT);
	ASSERT_STR_CONTAINS(err, "No such container: gone");
	/* Nothing that could change the path is sent. */
	ASSERT_INT_EQ(
	    orch_docker_driver.inspect(st, "../../info", &in, err, sizeof(err)),
	    ORCH_EINVAL);
	orch_docker_driver.fini(st);
	fake_free(f);
}

static void
test_stop_remove(void)
{
	struct fake *f = fake_new("1.41", "1.12");
	void *st;

	fake_route(f, "POST", "/v1.41/containers/a/stop", 204, "", FK_JSON, 0);
	fake_route(f, "POST", "/v1.41/containers/b/stop", 304, "", FK_JSON, 0);
	fake_route(f, "POST", "/v1.41/containers/c/stop", 404,
	    "{\"message\":\"No such container: c\"}", FK_JSON, 0);
	fake_route(f, "POST", "/v1.41/containers/d/stop", 500,
	    "{\"message\":\"cannot kill: permission denied\"}", FK_JSON, 0);
	fake_route(f, "DELETE", "/v1.41/containers/a?", 204, "", FK_JSON, 0);
	fake_route(f, "DELETE", "/v1.41/containers/c?", 404,
	    "{\"message\":\"No such container: c\"}", FK_JSON, 0);
	fake_route(f, "DELETE", "/v1.41/containers/e?", 409,
	    "{\"message\":\"removal of container e is already in progress\"}",
	    FK_JSON, 0);
	fake_route(f, "DELETE", "/v1.41/containers/d?", 500,
	    "<html><body>Bad Gateway</body></html>", FK_JSON, 0);
	st = drv_new(f);

	ASSERT_INT_EQ(
	    orch_docker_driver.stop(st, "a", err, sizeof(err)), ORCH_OK);
	ASSERT_STR_EQ(fake_find(f, "POST", "/v1.41/containers/a/stop")->target,
	    "/v1.41/containers/a/stop?t=7");
	ASSERT_INT_EQ(
	    orch_docker_driver.stop(st, "b", err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(
	    orch_docker_driver.stop(st, "c", err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(
	    orch_docker_driver.stop(st, "d", err, sizeof(err)), ORCH_EIO);
	ASSERT_STR_CONTAINS(err,
	    "docker POST /v1.41/containers/d/stop: the "
	    "daemon answered 500: cannot kill: permission denied");

	ASSERT_INT_EQ(
	    orch_docker_driver.remove(st, "a", err, sizeof(err)), ORCH_OK);
	ASSERT_STR_EQ(fake_find(f, "DELETE", "/v1.41/containers/a")->target,
	    "/v1.41/containers/a?force=true&v=true");
	ASSERT_INT_EQ(
	    orch_docker_driver.remove(st, "c", err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(
	    orch_docker_driver.remove(st, "e", err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(
	    orch_docker_driver.remove(st, "d", err, sizeof(err)), ORCH_EIO);
	ASSERT_STR_CONTAINS(
	    err, "a non-JSON answer of 37 bytes: \"<html><body>Bad Gateway");
	ASSERT_INT_EQ(orch_docker_driver.stop(st, "a/../b", err, sizeof(err)),
	    ORCH_EINVAL);
	orch_docker_driver.fini(st);
	fake_free(f);
}

static void
test_list(void)
{
	static char list[4096], exited[2048];
	const char *t1 = "11111111-1111-4111-8111-111111111111";
	const char *t2 = "22222222-2222-4222-8222-222222222222";
	const char *t3 = "33333333-3333-4333-8333-333333333333";
	struct fake *f = fake_new("1.41", "1.12");
	struct orch_instance *arr = NULL;
	size_t n = 99;
	void *st;

	snprintf(list, sizeof(list),
	    "["
	    "{\"Id\":\"run1\",\"Names\":[\"/orch-%s\"],\"State\":\"running\","
	    "\"Status\":\"Up 2 minutes\",\"Labels\":{\"orch.task\":\"%s\","
	    "\"orch.node\":\"" NODE "\"}},"
	    "{\"Id\":\"ex2\",\"State\":\"exited\",\"Status\":\"Exited (0) 1 "
	    "second "
	    "ago\",\"Labels\":{\"orch.task\":\"%s\",\"orch.node\":\"" NODE
	    "\"}},"
	    "{\"Id\":\"other3\",\"State\":\"running\",\"Labels\":{\"orch."
	    "task\":"
	    "\"%s\",\"orch.node\":\"node-b\"}}]",
	    t1, t1, t2, t3);
	inspect_body(
	    exited, sizeof(exited), "ex2", t2, NODE, "exited", false, 3);
	fake_route(f, "GET", "/v1.41/containers/json", 200, list, FK_JSON, 1);
	fake_route(f, "GET", "/v1.41/containers/json", 200, "[]", FK_JSON, 1);
	fake_route(f, "GET", "/v1.41/containers/json", 200,
	    "[{\"Id\":\"x\","
	    "\"State\":\"running\",\"Labels\":{\"orch.node\":\"node-b\"}}]",
	    FK_JSON, 1);
	fake_route(
	    f, "GET", "/v1.41/containers/json", 200, "{\"a\":1}", FK_JSON, 1);
	fake_route(f, "GET", "/v1.41/containers/json", 200,
	    "[{\"State\":\"running\"}]", FK_JSON, 1);
	fake_route(
	    f, "GET", "/v1.41/containers/ex2/json", 200, exited, FK_JSON, 0);
	st = drv_new(f);

	ASSERT_INT_EQ(
	    orch_docker_driver.list(st, &arr, &n, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(n, 2);
	ASSERT_STR_EQ(arr[0].handle, "run1");
	ASSERT_STR_EQ(arr[0].task_id, t1);
	ASSERT(arr[0].running && !arr[0].exited);
	ASSERT_STR_EQ(arr[1].handle, "ex2");
	ASSERT_STR_EQ(arr[1].task_id, t2);
	ASSERT(!arr[1].running && arr[1].exited);
	ASSERT_INT_EQ(arr[1].exit_code, 3); /* from inspect, not Status */
	free(arr);
	/* The node filter, URL-encoded. */
	ASSERT_STR_EQ(fake_find(f, "GET", "/v1.41/containers/json")->target,
	    "/v1.41/containers/json?all=true&filters=%7B%22label%22%3A%5B%22"
	    "orch.node%3D" NODE "%22%5D%7D");

	arr = (void *)&n;
	ASSERT_INT_EQ(
	    orch_docker_driver.list(st, &arr, &n, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(n, 0);
	free(arr);
	/* Only another node's: nothing. */
	ASSERT_INT_EQ(
	    orch_docker_driver.list(st, &arr, &n, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(n, 0);
	free(arr);

	ASSERT_INT_EQ(orch_docker_driver.list(st, &arr, &n, err, sizeof(err)),
	    ORCH_EPROTO);
	ASSERT_STR_CONTAINS(err,
	    "docker GET /v1.41/containers/json: "
	    "unexpected answer: not a JSON array");
	ASSERT_INT_EQ(orch_docker_driver.list(st, &arr, &n, err, sizeof(err)),
	    ORCH_EPROTO);
	ASSERT_STR_CONTAINS(err, "Id");
	orch_docker_driver.fini(st);
	fake_free(f);
}

/* ---- malformed answers ---- */

static void
test_malformed(void)
{
	struct fake *f = fake_new("1.41", "1.12");
	struct orch_instance in;
	double cpu;
	int64_t mem;
	void *st;
	int64_t t0;

	fake_route(f, "GET", "/v1.41/containers/html/json", 200,
	    "<html><body>hello</body></html>", FK_JSON, 0);
	fake_route(f, "GET", "/v1.41/containers/types/json", 200,
	    "{\"Id\":\"types\",\"State\":{\"Running\":\"yes\",\"Status\":"
	    "\"running\",\"ExitCode\":0}}",
	    FK_JSON, 0);
	fake_route(f, "GET", "/v1.41/containers/nostate/json", 200,
	    "{\"Id\":\"nostate\"}", FK_JSON, 0);
	fake_route(f, "GET", "/v1.41/containers/array/json", 200, "[1,2,3]",
	    FK_JSON, 0);
	fake_route(f, "GET", "/v1.41/containers/labels/json", 200,
	    "{\"Id\":\"labels\",\"State\":{\"Running\":false,\"Status\":"
	    "\"exited\",\"ExitCode\":1},\"Config\":{\"Labels\":[1]}}",
	    FK_JSON, 0);
	fake_route(
	    f, "GET", "/v1.41/containers/empty/json", 200, "", FK_JSON, 0);
	fake_route(
	    f, "GET", "/v1.41/containers/huge/json", 200, NULL, FK_HUGE, 0);
	fake_route(f, "GET", "/v1.41/containers/hugenolen/json", 200, NULL,
	    FK_HUGE_NOLEN, 0);
	fake_route(f, "GET", "/v1.41/containers/hugeerr/json", 500, NULL,
	    FK_HUGE_NOLEN, 0);
	fake_route(f, "GET", "/v1.41/containers/cut/json", 200,
	    "{\"Id\":\"cut\",\"State\":{", FK_TRUNCATE, 0);
	fake_route(
	    f, "GET", "/v1.41/containers/closed/json", 200, NULL, FK_CLOSE, 0);
	fake_route(f, "GET", "/v1.41/info", 200,
	    "{\"NCPU\":\"8\","
	    "\"MemTotal\":1}",
	    FK_JSON, 1);
	fake_route(f, "GET", "/v1.41/info", 200, "null", FK_JSON, 1);
	st = drv_new(f);

	ASSERT_INT_EQ(
	    orch_docker_driver.inspect(st, "html", &in, err, sizeof(err)),
	    ORCH_EPROTO);
	ASSERT_STR_CONTAINS(err,
	    "docker GET /v1.41/containers/html/json: "
	    "unexpected answer: not JSON");
	ASSERT_INT_EQ(
	    orch_docker_driver.inspect(st, "types", &in, err, sizeof(err)),
	    ORCH_EPROTO);
	ASSERT_STR_CONTAINS(err, "State.Running");
	ASSERT_INT_EQ(
	    orch_docker_driver.inspect(st, "nostate", &in, err, sizeof(err)),
	    ORCH_EPROTO);
	ASSERT_INT_EQ(
	    orch_docker_driver.inspect(st, "array", &in, err, sizeof(err)),
	    ORCH_EPROTO);
	ASSERT_STR_CONTAINS(err, "not a JSON object");
	ASSERT_INT_EQ(
	    orch_docker_driver.inspect(st, "labels", &in, err, sizeof(err)),
	    ORCH_EPROTO);
	ASSERT_INT_EQ(
	    orch_docker_driver.inspect(st, "empty", &in, err, sizeof(err)),
	    ORCH_EPROTO);
	t0 = orch_mono_ms();
	ASSERT_INT_EQ(
	    orch_docker_driver.inspect(st, "huge", &in, err, sizeof(err)),
	    ORCH_EPROTO);
	ASSERT_STR_CONTAINS(err, "larger than 8 MiB");
	ASSERT(orch_mono_ms() - t0 < 10000);
	/* Not announced: refused while receiving, at the cap. */
	ASSERT_INT_EQ(
	    orch_docker_driver.inspect(st, "hugenolen", &in, err, sizeof(err)),
	    ORCH_EPROTO);
	ASSERT_STR_CONTAINS(err, "larger than 8 MiB");
	ASSERT_INT_EQ(
	    orch_docker_driver.inspect(st, "hugeerr", &in, err, sizeof(err)),
	    ORCH_EPROTO);
	ASSERT(orch_mono_ms() - t0 < 10000);
	ASSERT_INT_EQ(
	    orch_docker_driver.inspect(st, "cut", &in, err, sizeof(err)),
	    ORCH_EPROTO);
	ASSERT_STR_CONTAINS(err, "cut short");
	ASSERT_INT_EQ(
	    orch_docker_driver.inspect(st, "closed", &in, err, sizeof(err)),
	    ORCH_EIO);
	ASSERT_STR_CONTAINS(err, "docker GET /v1.41/containers/closed/json");
	ASSERT_INT_EQ(
	    orch_docker_driver.capacity(st, &cpu, &mem, err, sizeof(err)),
	    ORCH_EPROTO);
	ASSERT_STR_CONTAINS(err, "NCPU");
	ASSERT_INT_EQ(
	    orch_docker_driver.capacity(st, &cpu, &mem, err, sizeof(err)),
	    ORCH_EPROTO);
	orch_docker_driver.fini(st);
	fake_free(f);
}

/* ---- the exit monitor ---- */

struct exits {
	pthread_mutex_t mu;
	int n;
	char task[8][ORCH_ID_LEN];
	char handle[8][ORCH_HANDLE_LEN];
	int code[8];
};

static void
on_exit_record(
    void *arg, const char *task_id, const char *handle, int exit_code)
{
	struct exits *e = arg;

	pthread_mutex_lock(&e->mu);
	if (e->n < 8) {
		snprintf(e->task[e->n], ORCH_ID_LEN, "%s", task_id);
		snprintf(e->handle[e->n], ORCH_HANDLE_LEN, "%s", handle);
		e->code[e->n] = exit_code;
	}
	e->n++;
	pthread_mutex_unlock(&e->mu);
}

struct exits_wait {
	struct exits *e;
	int n;
};

static bool
exits_reached(void *arg)
{
	struct exits_wait *w = arg;
	bool ok;

	pthread_mutex_lock(&w->e->mu);
	ok = w->e->n >= w->n;
	pthread_mutex_unlock(&w->e->mu);
	return ok;
}

/* A die event line as the daemon sends it. */
static void
event_line(char *buf, size_t len, const char *id, const char *task,
    const char *node, int code, long long ns)
{
	snprintf(buf, len,
	    "{\"status\":\"die\",\"id\":\"%s\",\"from\":\"img\","
	    "\"Type\":\"container\",\"Action\":\"die\",\"Actor\":{\"ID\":\"%"
	    "s\","
	    "\"Attributes\":{\"exitCode\":\"%d\",\"image\":\"img\",\"name\":"
	    "\"orch-%s\",\"orch.node\":\"%s\",\"orch.task\":\"%s\"}},\"scope\":"
	    "\"local\",\"time\":%lld,\"timeNano\":%lld}\n",
	    id, id, code, task, node, task, ns / 1000000000, ns);
}

static void
test_events_reconnect(void)
{
	static char first[1024], second[4096], a[1024], b[1024], other[1024];
	const char *t1 = "11111111-1111-4111-8111-111111111111";
	const char *t2 = "22222222-2222-4222-8222-222222222222";
	struct exits e = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct exits_wait w = {&e, 2};
	struct fake *f = fake_new("1.41", "1.12");
	const struct fake_req *rq;
	int64_t t0;
	void *st;

	event_line(a, sizeof(a), "aaaa", t1, NODE, 3, 1795726917000000001LL);
	event_line(b, sizeof(b), "bbbb", t2, NODE, 0, 1795726918000000002LL);
	event_line(other, sizeof(other), "cccc", t2, "node-b", 9,
	    1795726918000000003LL);
	snprintf(first, sizeof(first), "%s", a);
	/* After the reconnect, since= replays a: it must not count twice.
	 * Junk and a foreign node's event are skipped. */
	snprintf(second, sizeof(second), "%snot json at all\n[1,2]\n%s%s", a,
	    other, b);
	fake_route(f, "GET", "/v1.41/events?", 200, first, FK_STREAM, 1);
	fake_route(f, "GET", "/v1.41/events?", 200, second, FK_STREAM_HOLD, 0);
	st = drv_new_full(f, on_exit_record, &e);

	ASSERT(h_wait_until(exits_reached, &w, 10000));
	usleep(200 * 1000);
	pthread_mutex_lock(&e.mu);
	ASSERT_INT_EQ(e.n, 2);
	ASSERT_STR_EQ(e.task[0], t1);
	ASSERT_STR_EQ(e.handle[0], "aaaa");
	ASSERT_INT_EQ(e.code[0], 3);
	ASSERT_STR_EQ(e.task[1], t2);
	ASSERT_STR_EQ(e.handle[1], "bbbb");
	ASSERT_INT_EQ(e.code[1], 0);
	pthread_mutex_unlock(&e.mu);

	ASSERT_INT_EQ(fake_count(f, "GET", "/v1.41/events?"), 2);
	rq = fake_find(f, "GET", "/v1.41/events?");
	ASSERT_STR_CONTAINS(rq->target, "&since=1795726917.000000001");
	/* The filter: die events of this node's containers. */
	ASSERT_STR_CONTAINS(rq->target,
	    "filters=%7B%22type%22%3A%5B%22"
	    "container%22%5D%2C%22event%22%3A%5B%22die%22%5D%2C%22label%22%3A%"
	    "5B"
	    "%22orch.node%3D" NODE "%22%5D%7D");

	/* The stream is held open: fini must not wait for it. */
	t0 = orch_mono_ms();
	orch_docker_driver.fini(st);
	ASSERT(orch_mono_ms() - t0 < 1000);
	fake_free(f);
}

static void
test_events_long_line(void)
{
	const char *t1 = "11111111-1111-4111-8111-111111111111";
	struct exits e = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct exits_wait w = {&e, 1};
	struct fake *f = fake_new("1.41", "1.12");
	size_t big = 200 * 1024;
	char *body = malloc(big + 2048);
	char ev[1024];
	void *st;

	ASSERT(body != NULL);
	memset(body, 'x', big);
	body[big] = '\n';
	event_line(ev, sizeof(ev), "aaaa", t1, NODE, 137, 5);
	memcpy(body + big + 1, ev, strlen(ev) + 1);
	fake_route(f, "GET", "/v1.41/events?", 200, body, FK_STREAM_HOLD, 0);
	st = drv_new_full(f, on_exit_record, &e);
	ASSERT(h_wait_until(exits_reached, &w, 10000));
	pthread_mutex_lock(&e.mu);
	ASSERT_INT_EQ(e.code[0], 137);
	pthread_mutex_unlock(&e.mu);
	orch_docker_driver.fini(st);
	fake_free(f);
	free(body);
}

/* What the exit callback saw of the fake when it was called. */
struct settle {
	struct exits e;
	struct fake *f;
	int inspected; /* inspects of the container before the callback */
};

static void
on_exit_settled(
    void *arg, const char *task_id, const char *handle, int exit_code)
{
	struct settle *s = arg;
	int n = fake_count(s->f, "GET", "/v1.41/containers/aaaa/json");

	pthread_mutex_lock(&s->e.mu);
	s->inspected = n;
	pthread_mutex_unlock(&s->e.mu);
	on_exit_record(&s->e, task_id, handle, exit_code);
}

/* The daemon sends a die event before its container list says "exited";
 * an inspect waits until it does, so the driver inspects the container
 * before it tells the agent (which lists next) of the exit. */
static void
test_events_settle(void)
{
	const char *t1 = "11111111-1111-4111-8111-111111111111";
	struct settle s = {
	    .e = {.mu = PTHREAD_MUTEX_INITIALIZER}, .inspected = -1};
	struct exits_wait w = {&s.e, 1};
	char ev[1024];
	void *st;

	s.f = fake_new("1.41", "1.12");
	event_line(ev, sizeof(ev), "aaaa", t1, NODE, 137, 5);
	fake_route(
	    s.f, "GET", "/v1.41/containers/aaaa/json", 200, "{}", FK_JSON, 0);
	fake_route(s.f, "GET", "/v1.41/events?", 200, ev, FK_STREAM_HOLD, 0);
	st = drv_new_full(s.f, on_exit_settled, &s);
	ASSERT(h_wait_until(exits_reached, &w, 10000));
	pthread_mutex_lock(&s.e.mu);
	ASSERT_INT_EQ(s.inspected, 1);
	ASSERT_INT_EQ(s.e.code[0], 137);
	pthread_mutex_unlock(&s.e.mu);
	orch_docker_driver.fini(st);
	fake_free(s.f);
}

static bool
events_tried(void *arg)
{
	return fake_count(arg, "GET", "/v1.41/events?") >= 2;
}

static bool
events_tried_once(void *arg)
{
	return fake_count(arg, "GET", "/v1.41/events?") >= 1;
}

static void
test_fini_prompt(void)
{
	struct exits e = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct fake *f = fake_new("1.41", "1.12");
	int64_t t0;
	void *st;

	/* The daemon refuses the stream: the monitor backs off and retries. */
	fake_route(f, "GET", "/v1.41/events?", 500,
	    "{\"message\":\"events are broken\"}", FK_JSON, 0);
	st = drv_new_full(f, on_exit_record, &e);
	ASSERT(h_wait_until(events_tried, f, 5000));
	t0 = orch_mono_ms();
	orch_docker_driver.fini(st);
	ASSERT(orch_mono_ms() - t0 < 1000);

	/* The daemon goes away entirely while the monitor runs. */
	fake_route(f, "GET", "/v1.41/events?", 200, "", FK_STREAM_HOLD, 0);
	st = drv_new_full(f, on_exit_record, &e);
	usleep(300 * 1000);
	fake_free(f);
	usleep(300 * 1000);
	t0 = orch_mono_ms();
	orch_docker_driver.fini(st);
	ASSERT(orch_mono_ms() - t0 < 1000);
	ASSERT_INT_EQ(e.n, 0);
}

/* ---- logs ---- */

struct dl_got {
	char out[256], err[256];
	size_t nout, nerr;
	int ticks;
	bool stop_on_tick;
};

static int
dl_fn(void *arg, int stream, const char *data, size_t len)
{
	struct dl_got *g = arg;

	if (len == 0) {
		g->ticks++;
		return g->stop_on_tick ? 1 : 0;
	}
	if (stream == ORCH_LOG_STDOUT) {
		ASSERT(g->nout + len < sizeof(g->out));
		memcpy(g->out + g->nout, data, len);
		g->out[g->nout += len] = '\0';
	} else {
		ASSERT_INT_EQ(stream, ORCH_LOG_STDERR);
		ASSERT(g->nerr + len < sizeof(g->err));
		memcpy(g->err + g->nerr, data, len);
		g->err[g->nerr += len] = '\0';
	}
	return 0;
}

/* GET /containers/{id}/logs: Docker's frames to the agent's streams;
 * the daemon's refusal, a bad frame and a cut one are errors naming the
 * call; a reader that stops ends a stream that says nothing. */
static void
test_logs(void)
{
	/* o1 (stdout), e1 (stderr), o2 (stdout), an empty frame. */
	static const char frames[] = "\x01\0\0\0\0\0\0\x03o1\n"
	                             "\x02\0\0\0\0\0\0\x03"
	                             "e1\n"
	                             "\x01\0\0\0\0\0\0\x03o2\n"
	                             "\x02\0\0\0\0\0\0\0";
	static const char bad[] = "\x01\0\0\0\0\0\0\x03o1\n"
	                          "\x07\0\0\0\0\0\0\x03xx\n";
	static const char cut[] = "\x01\0\0\0\0\0\0\x09o1\n";
	struct fake *f = fake_new("1.41", "1.12");
	struct orch_log_opts o = {.tail = 2, .out = true, .err = true};
	const struct fake_req *rq;
	struct dl_got g = {0};
	void *st;

	fake_route_bin(f, "GET", "/v1.41/containers/c1/logs", frames,
	    sizeof(frames) - 1, FK_STREAM);
	fake_route(f, "GET", "/v1.41/containers/c2/logs", 404,
	    "{\"message\":\"No such container: c2\"}", FK_JSON, 0);
	fake_route_bin(f, "GET", "/v1.41/containers/c3/logs", bad,
	    sizeof(bad) - 1, FK_STREAM);
	fake_route_bin(f, "GET", "/v1.41/containers/c4/logs", cut,
	    sizeof(cut) - 1, FK_STREAM);
	fake_route(
	    f, "GET", "/v1.41/containers/c5/logs", 200, "", FK_STREAM_HOLD, 0);
	st = drv_new(f);

	ASSERT_INT_EQ(
	    orch_docker_driver.logs(st, "c1", &o, dl_fn, &g, err, sizeof(err)),
	    ORCH_OK);
	ASSERT_STR_EQ(g.out, "o1\no2\n");
	ASSERT_STR_EQ(g.err, "e1\n");
	ASSERT(g.ticks >= 1);
	rq = fake_find(f, "GET", "/v1.41/containers/c1/logs");
	ASSERT(rq != NULL);
	ASSERT_STR_EQ(rq->target,
	    "/v1.41/containers/c1/logs?stdout=1&stderr=1&follow=0&tail=2");
	o.tail = -1;
	o.follow = true;
	o.err = false;
	memset(&g, 0, sizeof(g));
	ASSERT_INT_EQ(
	    orch_docker_driver.logs(st, "c1", &o, dl_fn, &g, err, sizeof(err)),
	    ORCH_OK);
	rq = fake_find(f, "GET", "/v1.41/containers/c1/logs");
	ASSERT_STR_EQ(rq->target,
	    "/v1.41/containers/c1/logs?stdout=1&stderr=0&follow=1&tail=all");

	memset(&g, 0, sizeof(g));
	ASSERT_INT_EQ(
	    orch_docker_driver.logs(st, "c2", &o, dl_fn, &g, err, sizeof(err)),
	    ORCH_ENOENT);
	ASSERT_STR_CONTAINS(err, "No such container: c2");
	ASSERT_INT_EQ(g.nout + g.nerr, 0);

	memset(&g, 0, sizeof(g));
	ASSERT_INT_EQ(
	    orch_docker_driver.logs(st, "c3", &o, dl_fn, &g, err, sizeof(err)),
	    ORCH_EPROTO);
	ASSERT_STR_CONTAINS(err, "docker GET /v1.41/containers/c3/logs");
	ASSERT_STR_CONTAINS(err, "not a log frame header");
	ASSERT_STR_EQ(g.out, "o1\n");

	memset(&g, 0, sizeof(g));
	ASSERT_INT_EQ(
	    orch_docker_driver.logs(st, "c4", &o, dl_fn, &g, err, sizeof(err)),
	    ORCH_EPROTO);
	ASSERT_STR_CONTAINS(err, "in the middle of a frame");

	/* Silent, held open: the first tick's "stop" ends it. */
	memset(&g, 0, sizeof(g));
	g.stop_on_tick = true;
	ASSERT_INT_EQ(
	    orch_docker_driver.logs(st, "c5", &o, dl_fn, &g, err, sizeof(err)),
	    ORCH_ECLOSED);
	ASSERT_INT_EQ(g.ticks, 1);

	ASSERT_INT_EQ(orch_docker_driver.logs(
	                  st, "../info", &o, dl_fn, &g, err, sizeof(err)),
	    ORCH_EINVAL);
	orch_docker_driver.fini(st);
	fake_free(f);
}

/* ---- the daemon's health ---- */

/* What the driver said of its health at each on_health call.  The
 * prober alone changes the health and calls on_health right after, so
 * what healthy() answers in the call is the change it tells of. */
struct health_seen {
	pthread_mutex_t mu;
	void *st; /* set once init has returned */
	int changes;
	char why[16][512]; /* "" for healthy */
};

static void
on_health_record(void *arg)
{
	struct health_seen *h = arg;
	char why[512];

	pthread_mutex_lock(&h->mu);
	ASSERT(h->st != NULL);
	if (!orch_docker_driver.healthy(h->st, why, sizeof(why)))
		ASSERT(why[0] != '\0');
	else
		ASSERT_STR_EQ(why, "");
	if (h->changes < 16)
		snprintf(h->why[h->changes], sizeof(h->why[0]), "%s", why);
	h->changes++;
	pthread_mutex_unlock(&h->mu);
}

struct told_want {
	struct health_seen *hs;
	const char *why; /* a part of the last reason told; "": healthy */
};

/* Whether the last change the driver told of is the one wanted. */
static bool
told(void *arg)
{
	struct told_want *w = arg;
	const char *last;
	bool ok = false;

	pthread_mutex_lock(&w->hs->mu);
	if (w->hs->changes > 0 && w->hs->changes <= 16) {
		last = w->hs->why[w->hs->changes - 1];
		ok = w->why[0] == '\0' ? last[0] == '\0'
		                       : strstr(last, w->why) != NULL;
	}
	pthread_mutex_unlock(&w->hs->mu);
	return ok;
}

static bool
pinged_and_streaming(void *arg)
{
	return fake_count(arg, "GET", "/v1.41/_ping") >= 2 &&
	    fake_count(arg, "GET", "/v1.41/events?") >= 1;
}

/* The daemon goes away under the driver: its event stream breaks, a ping
 * fails, and the driver turns unhealthy saying why, telling the agent.
 * A daemon answers on the socket again (after refusing a first ping with
 * 500): the driver is healthy again, by itself, and its event stream is
 * back. */
static void
test_daemon_health(void)
{
	struct exits e = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct health_seen hs = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct fake *f1 = fake_new("1.41", "1.12"), *f2;
	struct orch_driver_config cfg = {
	    .node_name = NODE,
	    .on_exit = on_exit_record,
	    .on_exit_arg = &e,
	    .on_health = on_health_record,
	    .on_health_arg = &hs,
	};
	struct told_want tw;
	char *dir = h_tmpdir("docker-health"), link[600], why[512];
	int changes;
	void *st = NULL;

	snprintf(link, sizeof(link), "%s/docker.sock", dir);
	ASSERT(symlink(f1->sock, link) == 0);
	cfg.docker_socket = link;
	fake_route(f1, "GET", "/v1.41/_ping", 200, "OK", FK_JSON, 0);
	fake_route(f1, "GET", "/v1.41/events?", 200, "", FK_STREAM_HOLD, 0);
	ASSERT_INT_EQ(
	    orch_docker_driver.init(&cfg, &st, err, sizeof(err)), ORCH_OK);
	pthread_mutex_lock(&hs.mu);
	hs.st = st;
	pthread_mutex_unlock(&hs.mu);
	ASSERT(orch_docker_driver.healthy(st, why, sizeof(why)));
	ASSERT_STR_EQ(why, "");
	ASSERT(h_wait_until(events_tried_once, f1, 10000));

	/* Gone: the stream breaks, the socket is missing (a ping under way
	 * as it went may say the connection was reset, the next ones that
	 * there is nothing to reach). */
	fake_free(f1);
	ASSERT_INT_EQ(unlink(link), 0);
	tw = (struct told_want){&hs, "cannot reach the Docker daemon at "};
	ASSERT(h_wait_until(told, &tw, 10000));
	ASSERT(!orch_docker_driver.healthy(st, why, sizeof(why)));
	ASSERT_STR_CONTAINS(why, "cannot reach the Docker daemon at ");
	ASSERT_STR_CONTAINS(why, link);
	pthread_mutex_lock(&hs.mu);
	changes = hs.changes;
	pthread_mutex_unlock(&hs.mu);

	/* Back, refusing the first ping. */
	f2 = fake_new("1.41", "1.12");
	fake_route(f2, "GET", "/v1.41/_ping", 500, "{\"message\":\"starting\"}",
	    FK_JSON, 1);
	fake_route(f2, "GET", "/v1.41/_ping", 200, "OK", FK_JSON, 0);
	fake_route(f2, "GET", "/v1.41/events?", 200, "", FK_STREAM_HOLD, 0);
	ASSERT(symlink(f2->sock, link) == 0);
	tw = (struct told_want){&hs, ""};
	ASSERT(h_wait_until(told, &tw, 10000));
	ASSERT(h_wait_until(pinged_and_streaming, f2, 10000));
	pthread_mutex_lock(&hs.mu);
	/* Unhealthy for the 500, then healthy: the last change. */
	ASSERT(hs.changes >= changes + 2 && hs.changes <= 16);
	ASSERT_STR_CONTAINS(hs.why[hs.changes - 2],
	    "docker GET /v1.41/_ping: the daemon answered 500: starting");
	ASSERT_STR_EQ(hs.why[hs.changes - 1], "");
	pthread_mutex_unlock(&hs.mu);
	ASSERT(orch_docker_driver.healthy(st, why, sizeof(why)));
	ASSERT_STR_EQ(why, "");
	orch_docker_driver.fini(st);
	fake_free(f2);
	h_rm_rf(dir);
	free(dir);
	ASSERT_INT_EQ(e.n, 0);
}

/* ---- health checks ---- */

#define EXEC_ID                                                                \
	"e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1"

/* An exec check: the command goes in an attached exec, its exit code is
 * read back, and the first line of its output is kept. */
static void
test_check_exec(void)
{
	struct fake *f = fake_new("1.41", "1.12");
	char *argv[] = {"pg_isready", "-q"}, out[128];
	const struct fake_req *rq;
	json_t *b;
	int code = -1;
	void *st;

	fake_route(f, "POST", "/v1.41/containers/c1/exec", 201,
	    "{\"Id\":\"" EXEC_ID "\"}", FK_JSON, 0);
	fake_route(f, "POST", "/v1.41/exec/" EXEC_ID "/start", 200,
	    "\n  \nno response from server\nsecond line\n", FK_STREAM, 0);
	fake_route(f, "GET", "/v1.41/exec/" EXEC_ID "/json", 200,
	    "{\"ID\":\"" EXEC_ID "\",\"Running\":false,\"ExitCode\":2,"
	    "\"Pid\":77}",
	    FK_JSON, 0);
	fake_route(f, "POST", "/v1.41/containers/gone/exec", 409,
	    "{\"message\":\"Container gone is not running\"}", FK_JSON, 0);
	st = drv_new(f);

	ASSERT_INT_EQ(orch_docker_driver.check_exec(st, "c1", NULL, argv, 2, 5,
	                  &code, out, sizeof(out), err, sizeof(err)),
	    ORCH_OK);
	ASSERT_INT_EQ(code, 2);
	ASSERT_STR_EQ(out, "no response from server");
	rq = fake_find(f, "POST", "/v1.41/containers/c1/exec");
	b = json_parse(rq->body);
	ASSERT(json_is_true(json_object_get(b, "AttachStdout")));
	ASSERT(json_is_true(json_object_get(b, "AttachStderr")));
	ASSERT(json_is_false(json_object_get(b, "Tty")));
	ASSERT_INT_EQ(json_array_size(json_object_get(b, "Cmd")), 2);
	ASSERT_STR_EQ(
	    json_string_value(json_array_get(json_object_get(b, "Cmd"), 0)),
	    "pg_isready");
	json_decref(b);
	/* Started attached: the answer is its output, until it ends. */
	rq = fake_find(f, "POST", "/v1.41/exec/" EXEC_ID "/start");
	b = json_parse(rq->body);
	ASSERT(json_is_false(json_object_get(b, "Detach")));
	json_decref(b);

	/* A container that stopped meanwhile: the daemon's words. */
	ASSERT_INT_EQ(orch_docker_driver.check_exec(st, "gone", NULL, argv, 2,
	                  5, &code, out, sizeof(out), err, sizeof(err)),
	    ORCH_ECONFLICT);
	ASSERT_STR_CONTAINS(err, "Container gone is not running");
	ASSERT_INT_EQ(orch_docker_driver.check_exec(st, "../x", NULL, argv, 2,
	                  5, &code, out, sizeof(out), err, sizeof(err)),
	    ORCH_EINVAL);
	orch_docker_driver.fini(st);
	fake_free(f);
}

/* A check the daemon does not answer (it closes the connection, or is
 * not there at all) is not the task's failure: ORCH_EUNAVAIL, which the
 * checker does not count.  An error the daemon answers is the check's. */
static void
test_check_unanswered(void)
{
	struct fake *f = fake_new("1.41", "1.12");
	char *argv[] = {"true"}, out[128], host[ORCH_CHECK_HOST_LEN];
	unsigned hp;
	int code;
	void *st;

	fake_route(f, "POST", "/v1.41/containers/cut/exec", 201,
	    "{\"Id\":\"" EXEC_ID "\"}", FK_JSON, 0);
	fake_route(
	    f, "POST", "/v1.41/exec/" EXEC_ID "/start", 200, NULL, FK_CLOSE, 0);
	fake_route(
	    f, "GET", "/v1.41/containers/cut/json", 200, NULL, FK_CLOSE, 0);
	fake_route(f, "POST", "/v1.41/containers/c500/exec", 500,
	    "{\"message\":\"OCI runtime exec failed: no true\"}", FK_JSON, 0);
	st = drv_new(f);

	ASSERT_INT_EQ(orch_docker_driver.check_exec(st, "cut", NULL, argv, 1, 5,
	                  &code, out, sizeof(out), err, sizeof(err)),
	    ORCH_EUNAVAIL);
	ASSERT_INT_EQ(orch_docker_driver.check_addr(
	                  st, "cut", NULL, 80, host, &hp, err, sizeof(err)),
	    ORCH_EUNAVAIL);
	ASSERT_INT_EQ(orch_docker_driver.check_exec(st, "c500", NULL, argv, 1,
	                  5, &code, out, sizeof(out), err, sizeof(err)),
	    ORCH_EIO);
	ASSERT_STR_CONTAINS(err, "OCI runtime exec failed");

	/* The daemon gone. */
	fake_free(f);
	ASSERT_INT_EQ(orch_docker_driver.check_exec(st, "cut", NULL, argv, 1, 5,
	                  &code, out, sizeof(out), err, sizeof(err)),
	    ORCH_EUNAVAIL);
	ASSERT_STR_CONTAINS(err, "cannot reach the Docker daemon");
	ASSERT_INT_EQ(orch_docker_driver.check_addr(
	                  st, "cut", NULL, 80, host, &hp, err, sizeof(err)),
	    ORCH_EUNAVAIL);
	ASSERT_STR_CONTAINS(err, "cannot reach the Docker daemon");
	orch_docker_driver.fini(st);
}

struct cancel_arg {
	struct fake *f;
	void *st;
};

static bool
exec_started(void *arg)
{
	struct cancel_arg *c = arg;

	return fake_count(c->f, "POST", "/v1.41/exec/") > 0;
}

/* Cancels the driver's checks once the exec has started. */
static void *
cancel_main(void *arg)
{
	struct cancel_arg *c = arg;

	ASSERT(h_wait_until(exec_started, c, 10000));
	orch_docker_driver.check_cancel(c->st);
	return NULL;
}

/* A command that never ends: bounded by its timeout, and ended at once
 * by check_cancel (the agent stopping), after which none starts. */
static void
test_check_exec_timeout_cancel(void)
{
	struct fake *f = fake_new("1.41", "1.12");
	char *argv[] = {"sleep", "1000"}, out[128];
	struct cancel_arg ca = {.f = f};
	pthread_t th;
	int64_t t0;
	int code;

	fake_route(f, "POST", "/v1.41/containers/c1/exec", 201,
	    "{\"Id\":\"" EXEC_ID "\"}", FK_JSON, 0);
	fake_route(f, "POST", "/v1.41/exec/" EXEC_ID "/start", 200, "",
	    FK_STREAM_HOLD, 0);
	ca.st = drv_new(f);

	ASSERT_INT_EQ(orch_docker_driver.check_exec(ca.st, "c1", NULL, argv, 2,
	                  1, &code, out, sizeof(out), err, sizeof(err)),
	    ORCH_ETIMEDOUT);
	ASSERT_STR_CONTAINS(err, "timed out after 1 s");

	/* A timeout of 300 s, cut short by the cancel. */
	ASSERT(pthread_create(&th, NULL, cancel_main, &ca) == 0);
	t0 = orch_mono_ms();
	ASSERT_INT_EQ(orch_docker_driver.check_exec(ca.st, "c1", NULL, argv, 2,
	                  300, &code, out, sizeof(out), err, sizeof(err)),
	    ORCH_ECLOSED);
	ASSERT(orch_mono_ms() - t0 < 300000);
	pthread_join(th, NULL);
	ASSERT_INT_EQ(orch_docker_driver.check_exec(ca.st, "c1", NULL, argv, 2,
	                  300, &code, out, sizeof(out), err, sizeof(err)),
	    ORCH_ECLOSED);
	orch_docker_driver.fini(ca.st);
	fake_free(f);
}

/* The inspect body of a container with network mode mode and the port
 * bindings ports (a JSON object, or null). */
static const char *
ports_body(const char *mode, const char *ports)
{
	static char buf[1024];

	snprintf(buf, sizeof(buf),
	    "{\"Id\":\"" CID "\",\"HostConfig\":{\"NetworkMode\":\"%s\"},"
	    "\"NetworkSettings\":{\"IPAddress\":\"172.17.0.2\",\"Ports\":%s}}",
	    mode, ports);
	return buf;
}

static int
port_of(const char *body, unsigned port, char host[ORCH_DOCKER_HOST_LEN],
    unsigned *hp)
{
	err[0] = '\0';
	return orch_docker_port_parse(
	    body, strlen(body), port, host, hp, err, sizeof(err));
}

/* Where a check reaches a container's port: published on loopback or
 * all addresses, or the host's network; never the container's own
 * address, and what is not reachable says why. */
static void
test_check_ports(void)
{
	struct fake *f = fake_new("1.41", "1.12");
	char host[ORCH_DOCKER_HOST_LEN];
	unsigned hp = 0;
	void *st;

	ASSERT_INT_EQ(port_of(ports_body("bridge",
	                          "{\"80/tcp\":[{\"HostIp\":\"0.0.0.0\","
	                          "\"HostPort\":\"32768\"},{\"HostIp\":\"::\","
	                          "\"HostPort\":\"32768\"}]}"),
	                  80, host, &hp),
	    ORCH_OK);
	ASSERT_STR_EQ(host, "127.0.0.1");
	ASSERT_INT_EQ(hp, 32768);
	/* IPv4 first, whatever the order. */
	ASSERT_INT_EQ(port_of(ports_body("bridge",
	                          "{\"80/tcp\":[{\"HostIp\":\"::1\","
	                          "\"HostPort\":\"9001\"},{\"HostIp\":"
	                          "\"127.0.0.1\",\"HostPort\":\"9000\"}]}"),
	                  80, host, &hp),
	    ORCH_OK);
	ASSERT_STR_EQ(host, "127.0.0.1");
	ASSERT_INT_EQ(hp, 9000);
	ASSERT_INT_EQ(port_of(ports_body("bridge",
	                          "{\"80/tcp\":[{\"HostIp\":\"::\","
	                          "\"HostPort\":\"9001\"}]}"),
	                  80, host, &hp),
	    ORCH_OK);
	ASSERT_STR_EQ(host, "::1");
	ASSERT_INT_EQ(port_of(ports_body("default",
	                          "{\"80/tcp\":[{\"HostIp\":\"\","
	                          "\"HostPort\":\"8080\"}]}"),
	                  80, host, &hp),
	    ORCH_OK);
	ASSERT_INT_EQ(hp, 8080);
	/* The host's network: the port itself. */
	ASSERT_INT_EQ(
	    port_of(ports_body("host", "{}"), 8080, host, &hp), ORCH_OK);
	ASSERT_STR_EQ(host, "127.0.0.1");
	ASSERT_INT_EQ(hp, 8080);

	/* Exposed but not published, another port, no ports at all. */
	ASSERT_INT_EQ(
	    port_of(ports_body("bridge", "{\"80/tcp\":null}"), 80, host, &hp),
	    ORCH_ENOENT);
	ASSERT_STR_CONTAINS(err,
	    "port 80/tcp of the container is not "
	    "published on the host");
	ASSERT_STR_CONTAINS(err, "never at the container's own address");
	ASSERT(strstr(err, "172.17") == NULL);
	ASSERT_INT_EQ(port_of(ports_body("bridge",
	                          "{\"81/tcp\":[{\"HostIp\":\"0.0.0.0\","
	                          "\"HostPort\":\"81\"}]}"),
	                  80, host, &hp),
	    ORCH_ENOENT);
	ASSERT_INT_EQ(
	    port_of(ports_body("bridge", "null"), 80, host, &hp), ORCH_ENOENT);
	ASSERT_INT_EQ(port_of(ports_body("bridge",
	                          "{\"80/tcp\":[{\"HostIp\":\"10.1.2.3\","
	                          "\"HostPort\":\"8080\"}]}"),
	                  80, host, &hp),
	    ORCH_ENOENT);
	ASSERT_STR_CONTAINS(err, "published only on 10.1.2.3:8080");
	ASSERT_INT_EQ(
	    port_of(ports_body("none", "{}"), 80, host, &hp), ORCH_ENOENT);
	ASSERT_STR_CONTAINS(err, "network \"none\"");
	/* A port that is not a port is no binding. */
	ASSERT_INT_EQ(port_of(ports_body("bridge",
	                          "{\"80/tcp\":[{\"HostIp\":\"0.0.0.0\","
	                          "\"HostPort\":\"99999\"}]}"),
	                  80, host, &hp),
	    ORCH_ENOENT);
	/* Malformed answers. */
	ASSERT_INT_EQ(port_of("[]", 80, host, &hp), ORCH_EPROTO);
	ASSERT_INT_EQ(
	    port_of(ports_body("bridge", "[]"), 80, host, &hp), ORCH_EPROTO);
	ASSERT_INT_EQ(
	    port_of(ports_body("bridge", "{\"80/tcp\":\"x\"}"), 80, host, &hp),
	    ORCH_EPROTO);

	/* Through the driver: the container's inspect. */
	fake_route(f, "GET", "/v1.41/containers/c1/json", 200,
	    "{\"Id\":\"" CID "\",\"HostConfig\":{\"NetworkMode\":\"bridge\"},"
	    "\"NetworkSettings\":{\"Ports\":{\"80/tcp\":[{\"HostIp\":"
	    "\"127.0.0.1\",\"HostPort\":\"40000\"}]}}}",
	    FK_JSON, 0);
	fake_route(f, "GET", "/v1.41/containers/c2/json", 200,
	    "{\"Id\":\"" CID "\",\"NetworkSettings\":{\"Ports\":{}}}", FK_JSON,
	    0);
	st = drv_new(f);
	ASSERT_INT_EQ(orch_docker_driver.check_addr(
	                  st, "c1", NULL, 80, host, &hp, err, sizeof(err)),
	    ORCH_OK);
	ASSERT_STR_EQ(host, "127.0.0.1");
	ASSERT_INT_EQ(hp, 40000);
	ASSERT_INT_EQ(orch_docker_driver.check_addr(
	                  st, "c2", NULL, 80, host, &hp, err, sizeof(err)),
	    ORCH_ENOENT);
	ASSERT_STR_CONTAINS(err, "not published");
	orch_docker_driver.fini(st);
	fake_free(f);
}

/* The pieces of an exec's answers. */
/* orch_docker_exec_inspect_parse() of a NUL-terminated body. */
static int
exec_json(const char *body, bool *running, int *code)
{
	return orch_docker_exec_inspect_parse(
	    body, strlen(body), running, code, err, sizeof(err));
}

static void
test_check_exec_parse(void)
{
	/* Two frames (stderr, then stdout), the second cut short. */
	static const char framed[] = "\x02\x00\x00\x00\x00\x00\x00\x0a"
	                             "\n err: no\n"
	                             "\x01\x00\x00\x00\x00\x00\x00\x40"
	                             "more";
	char buf[64];
	bool running;
	int code;

	orch_docker_exec_output(framed, sizeof(framed) - 1, buf, sizeof(buf));
	ASSERT_STR_EQ(buf, " err: no");
	orch_docker_exec_output("plain\r\nx", 8, buf, sizeof(buf));
	ASSERT_STR_EQ(buf, "plain");
	orch_docker_exec_output("", 0, buf, sizeof(buf));
	ASSERT_STR_EQ(buf, "");
	orch_docker_exec_output("\x01\x00\x00\x00\x00\x00\x00\x03\x07\x1b"
	                        "a",
	    11, buf, sizeof(buf));
	ASSERT_STR_EQ(buf, "  a");
	/* Cut at the buffer, never in a character. */
	orch_docker_exec_output("\xc3\xa9\xc3\xa9\xc3\xa9", 6, buf, 4);
	ASSERT_STR_EQ(buf, "\xc3\xa9");

	ASSERT_INT_EQ(
	    exec_json("{\"Running\":false,\"ExitCode\":0}", &running, &code),
	    ORCH_OK);
	ASSERT(!running);
	ASSERT_INT_EQ(code, 0);
	ASSERT_INT_EQ(
	    exec_json("{\"Running\":true,\"ExitCode\":null}", &running, &code),
	    ORCH_OK);
	ASSERT(running);
	ASSERT_INT_EQ(
	    exec_json("{\"Running\":false,\"ExitCode\":null}", &running, &code),
	    ORCH_EPROTO);
	ASSERT_INT_EQ(
	    exec_json("{\"ExitCode\":1}", &running, &code), ORCH_EPROTO);
	ASSERT_INT_EQ(exec_json("{\"Running\":false,\"ExitCode\":99999999999}",
	                  &running, &code),
	    ORCH_OK);
	ASSERT_INT_EQ(code, 255);
}

int
main(void)
{
	/* The driver's warnings about bad lines are expected here. */
	orch_log_level_set(ORCH_LOG_ERROR);
	RUN(test_negotiate_newer_daemon);
	RUN(test_negotiate_older_daemon);
	RUN(test_negotiate_refuses);
	RUN(test_version_malformed);
	RUN(test_unreachable);
	RUN(test_create_body);
	RUN(test_pull_on_404);
	RUN(test_pull_fails);
	RUN(test_create_404_not_image);
	RUN(test_conflict_adopts);
	RUN(test_start_refused_discards);
	RUN(test_inspect);
	RUN(test_stop_remove);
	RUN(test_list);
	RUN(test_malformed);
	RUN(test_events_reconnect);
	RUN(test_events_long_line);
	RUN(test_events_settle);
	RUN(test_fini_prompt);
	RUN(test_logs);
	RUN(test_daemon_health);
	RUN(test_check_exec);
	RUN(test_check_exec_timeout_cancel);
	RUN(test_check_unanswered);
	RUN(test_check_ports);
	RUN(test_check_exec_parse);
	return 0;
}
