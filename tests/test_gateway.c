/*
 * test_gateway.c: the gateway's streamed answers (gateway.h), on a real
 * gateway in this process and real loopback sockets: chunk framing read
 * back strictly, chunks written from another thread through
 * orch_gw_post(), HTTP/1.0, a stream as the last answer on its
 * connection, a client that leaves, a client that does not read (capped
 * and disconnected), a producer paced by writable(), and a gateway freed
 * with a stream open.  Over HTTPS, with an mbed TLS client: a paced
 * stream read back whole, a client's close notification noticed as its
 * leaving, and a client that does not read capped as over plain HTTP.
 * The drain after orch_gw_stop(): its deadline ends the loop though no
 * timer is armed, a second stop ends it at once (idle connections and
 * streams closed at the first), and a stream asked for during it is
 * refused with 503.
 */
#include <errno.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "certs.h"
#include "clock.h"
#include "error.h"
#include "gateway.h"
#include "harness.h"
#include "tls.h"

#define CAP (64 * 1024)

/* What the handler and the tests share.  The loop thread writes it; the
 * test reads the atomics. */
struct srv {
	struct orch_gw *gw;
	pthread_t thread;
	int port;
	atomic_int closed;         /* closed() calls */
	atomic_int capped;         /* writes refused past the cap */
	atomic_size_t max_pending; /* the most unsent bytes seen */
	atomic_int answers;        /* observed answers */
	atomic_int last_status;
	atomic_int tagged;
	char why[128]; /* closed()'s reason; read once closed is set */
	struct orch_gw_stream *hold; /* /hold's stream, loop thread only */
	size_t paced_left;           /* /paced: bytes still to write */
	size_t paced_total;          /* /paced: its length; 0: 900,000 */
	unsigned paced_seq;
	struct orch_gw_req *never; /* /never's request, left unanswered */
	atomic_int nevers;         /* /never requests held */
	atomic_bool returned;      /* orch_gw_run() returned */
};

static const char route_tag[] = "test-route";

static void
note_pending(struct srv *sv, struct orch_gw_stream *s)
{
	size_t p = orch_gw_stream_pending(s);

	if (p > atomic_load(&sv->max_pending))
		atomic_store(&sv->max_pending, p);
}

static void
on_closed(struct orch_gw_stream *s, void *arg, const char *why)
{
	struct srv *sv = arg;

	snprintf(sv->why, sizeof(sv->why), "%s", why);
	if (s == sv->hold)
		sv->hold = NULL;
	orch_gw_stream_end(s);
	atomic_fetch_add(&sv->closed, 1);
}

static const struct orch_gw_stream_ops plain_ops = {.closed = on_closed};

/* ---- /stream?n=N: N lines written from another thread ---- */

struct chunk_work {
	struct orch_gw_work w; /* first */
	struct orch_gw_stream *s;
	atomic_int *gone; /* the stream closed early: set by closed() */
	int i, n;
};

struct producer {
	struct orch_gw *gw;
	struct orch_gw_stream *s;
	int n;
};

static void
chunk_run(struct orch_gw_work *w)
{
	struct chunk_work *cw = (struct chunk_work *)w;
	char line[64];
	int len = snprintf(line, sizeof(line), "line %d\n", cw->i);

	if (orch_gw_stream_open(cw->s))
		orch_gw_stream_write(cw->s, line, (size_t)len);
	if (cw->i == cw->n - 1)
		orch_gw_stream_end(cw->s);
	free(cw);
}

static void *
producer_main(void *arg)
{
	struct producer *pr = arg;

	for (int i = 1; i < pr->n; i++) {
		struct chunk_work *cw = calloc(1, sizeof(*cw));

		ASSERT(cw != NULL);
		cw->w.fn = chunk_run;
		cw->s = pr->s;
		cw->i = i;
		cw->n = pr->n;
		orch_gw_post(pr->gw, &cw->w);
	}
	free(pr);
	return NULL;
}

/* The closed() of a stream whose producer ends it itself (the last
 * chunk's work does): nothing to do but count. */
static void
on_closed_count(struct orch_gw_stream *s, void *arg, const char *why)
{
	struct srv *sv = arg;

	(void)s;
	snprintf(sv->why, sizeof(sv->why), "%s", why);
	atomic_fetch_add(&sv->closed, 1);
}

static const struct orch_gw_stream_ops count_ops = {.closed = on_closed_count};

/* ---- /flood: writes until the cap refuses ---- */

struct flood_work {
	struct orch_gw_work w;
	struct srv *sv;
	struct orch_gw_stream *s;
};

static void
flood_run(struct orch_gw_work *w)
{
	struct flood_work *fw = (struct flood_work *)w;
	static char block[4096];
	int rc = ORCH_OK;

	memset(block, 'x', sizeof(block));
	/* A burst per turn, then again: the loop gets to send meanwhile. */
	for (int i = 0; i < 8 && rc == ORCH_OK; i++) {
		rc = orch_gw_stream_write(fw->s, block, sizeof(block));
		if (rc == ORCH_OK)
			note_pending(fw->sv, fw->s);
	}
	if (rc == ORCH_OK) {
		orch_gw_post(fw->sv->gw, &fw->w);
		return;
	}
	if (rc == ORCH_ETOOBIG)
		atomic_fetch_add(&fw->sv->capped, 1);
	orch_gw_stream_end(fw->s);
	free(fw);
}

/* ---- /paced: writes while not full, resumes on writable() ---- */

static void
paced_fill(struct orch_gw_stream *s, void *arg)
{
	struct srv *sv = arg;
	char line[64];

	while (sv->paced_left > 0 && !orch_gw_stream_full(s)) {
		int n = snprintf(line, sizeof(line), "%08u\n", sv->paced_seq++);

		ASSERT_INT_EQ(
		    orch_gw_stream_write(s, line, (size_t)n), ORCH_OK);
		note_pending(sv, s);
		sv->paced_left -= (size_t)n;
	}
	if (sv->paced_left == 0)
		orch_gw_stream_end(s);
}

/* closed() comes only before the producer ended it (its client left or
 * stalled): the producer is done with it too. */
static void
on_closed_paced(struct orch_gw_stream *s, void *arg, const char *why)
{
	on_closed_count(s, arg, why);
	orch_gw_stream_end(s);
}

static const struct orch_gw_stream_ops paced_ops = {
    .writable = paced_fill, .closed = on_closed_paced};

/* ---- a line written to /hold's stream, on the loop thread ---- */

struct more_work {
	struct orch_gw_work w; /* first */
	struct srv *sv;
};

static void
more_run(struct orch_gw_work *w)
{
	struct more_work *mw = (struct more_work *)w;

	ASSERT(mw->sv->hold != NULL);
	ASSERT_INT_EQ(orch_gw_stream_write(mw->sv->hold, "more\n", 5), ORCH_OK);
	free(mw);
}

/* ---- the handler ---- */

static bool
path_is(const struct orch_http_request *h, const char *p)
{
	return orch_http_slice_eq(h->path, p);
}

static void
handle(struct orch_gw_req *req, void *arg)
{
	struct srv *sv = arg;
	const struct orch_http_request *h = orch_gw_req_http(req);
	struct orch_gw_stream *s;

	orch_gw_req_tag(req, route_tag);
	if (path_is(h, "/plain")) {
		orch_gw_respond(req, 200, "text/plain", "plain\n", 6, NULL);
		return;
	}
	if (path_is(h, "/stream")) {
		struct producer *pr = calloc(1, sizeof(*pr));
		pthread_t t;
		int n = 50;

		if (h->query.len > 2 && h->query.p[0] == 'n' &&
		    h->query.p[1] == '=')
			n = atoi(h->query.p + 2); /* the test's own input */
		ASSERT_INT_EQ(orch_gw_stream_start(req, 200, "text/plain",
		                  "X-Test: 1\r\n", &count_ops, sv, &s),
		    ORCH_OK);
		ASSERT_INT_EQ(orch_gw_stream_write(s, "line 0\n", 7), ORCH_OK);
		if (n == 1) {
			orch_gw_stream_end(s);
			free(pr);
			return;
		}
		pr->gw = sv->gw;
		pr->s = s;
		pr->n = n;
		ASSERT(pthread_create(&t, NULL, producer_main, pr) == 0);
		pthread_detach(t);
		return;
	}
	if (path_is(h, "/never")) {
		/* Held by the handler: on no timer until answered. */
		sv->never = req;
		atomic_fetch_add(&sv->nevers, 1);
		return;
	}
	if (path_is(h, "/hold")) {
		int rc = orch_gw_stream_start(
		    req, 200, "text/plain", NULL, &plain_ops, sv, &s);

		if (rc == ORCH_ECLOSED)
			return; /* the drain refused it: test_drain_* */
		ASSERT_INT_EQ(rc, ORCH_OK);
		ASSERT_INT_EQ(orch_gw_stream_write(s, "held\n", 5), ORCH_OK);
		sv->hold = s;
		return;
	}
	if (path_is(h, "/flood")) {
		struct flood_work *fw = calloc(1, sizeof(*fw));

		ASSERT_INT_EQ(orch_gw_stream_start(req, 200, "text/plain", NULL,
		                  &count_ops, sv, &s),
		    ORCH_OK);
		fw->w.fn = flood_run;
		fw->sv = sv;
		fw->s = s;
		orch_gw_post(sv->gw, &fw->w);
		return;
	}
	if (path_is(h, "/paced")) {
		ASSERT_INT_EQ(orch_gw_stream_start(req, 200, "text/plain", NULL,
		                  &paced_ops, sv, &s),
		    ORCH_OK);
		/* 100,000 lines of 9 bytes, unless the test asks more. */
		sv->paced_left =
		    sv->paced_total > 0 ? sv->paced_total : 9 * 100000;
		sv->paced_seq = 0;
		paced_fill(s, sv);
		return;
	}
	orch_gw_respond(req, 404, "text/plain", "no\n", 3, NULL);
}

static void
observe(void *arg, const struct orch_gw_answer *a)
{
	struct srv *sv = arg;

	atomic_fetch_add(&sv->answers, 1);
	atomic_store(&sv->last_status, a->status);
	if (a->tag == route_tag && a->method_len == 3 &&
	    memcmp(a->method, "GET", 3) == 0 && a->elapsed_ns >= 0)
		atomic_fetch_add(&sv->tagged, 1);
}

static void *
loop_main(void *arg)
{
	struct srv *sv = arg;

	ASSERT_INT_EQ(orch_gw_run(sv->gw), ORCH_OK);
	atomic_store(&sv->returned, true);
	return NULL;
}

/* Certificates for HTTPS (made once); the CA's file, for the client. */
static char *cert_dir;
static char ca_path[600], crt_path[600], key_path[600];

/* Starts a gateway; HTTPS when tls; idle_ms, write_ms and drain_ms its
 * idle and write timeouts and its drain's (0: the defaults). */
static struct srv *
srv_start_with(bool tls, int idle_ms, int write_ms, int drain_ms)
{
	struct srv *sv = calloc(1, sizeof(*sv));
	struct orch_gw_opts o;
	char err[256];

	orch_gw_opts_default(&o);
	if (write_ms > 0)
		o.write_timeout_ms = write_ms;
	if (drain_ms > 0)
		o.drain_timeout_ms = drain_ms;
	if (tls) {
		o.tls_cert = crt_path;
		o.tls_key = key_path;
	}
	o.listen = "127.0.0.1:0";
	o.stream_buf_max = CAP;
	o.idle_timeout_ms = idle_ms > 0 ? idle_ms : 60000;
	o.observe = observe;
	o.observe_arg = sv;
	ASSERT_INT_EQ(
	    orch_gw_new(&o, handle, sv, &sv->gw, err, sizeof(err)), ORCH_OK);
	sv->port = orch_gw_port(sv->gw);
	ASSERT(pthread_create(&sv->thread, NULL, loop_main, sv) == 0);
	return sv;
}

static struct srv *
srv_start_timeouts(bool tls, int idle_ms, int write_ms)
{
	return srv_start_with(tls, idle_ms, write_ms, 0);
}

static struct srv *
srv_start_as(bool tls)
{
	return srv_start_timeouts(tls, 0, 0);
}

static struct srv *
srv_start(void)
{
	return srv_start_as(false);
}

static void
srv_stop(struct srv *sv)
{
	orch_gw_stop(sv->gw);
	pthread_join(sv->thread, NULL);
	orch_gw_free(sv->gw);
	free(sv);
}

/* ---- the client ---- */

/* Reads until EOF (or timeout); returns the bytes (malloc'd) and their
 * count. */
static char *
read_all(int fd, size_t *len, int timeout_ms)
{
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap + 1);
	int64_t end = orch_mono_ms() + timeout_ms;

	ASSERT(buf != NULL);
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t r;
		int left = (int)(end - orch_mono_ms());

		if (left <= 0 || poll(&p, 1, left) <= 0)
			h_fail(__FILE__, __LINE__,
			    "no EOF in time (%zu bytes read)", n);
		if (n == cap) {
			cap *= 2;
			ASSERT((buf = realloc(buf, cap + 1)) != NULL);
		}
		r = recv(fd, buf + n, cap - n, 0);
		if (r == 0 || (r < 0 && errno == ECONNRESET))
			break;
		ASSERT(r > 0);
		n += (size_t)r;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* The head's end, or fails. */
static const char *
body_of(const char *resp)
{
	const char *b = strstr(resp, "\r\n\r\n");

	ASSERT(b != NULL);
	return b + 4;
}

/*
 * Decodes a chunked body strictly: hex size, CRLF, data, CRLF, ..., and
 * the last chunk "0\r\n\r\n" with nothing after it.  Returns the data
 * (malloc'd); *complete says whether the last chunk came.
 */
static char *
dechunk(const char *b, size_t len, size_t *out_len, bool *complete)
{
	const char *end = b + len;
	char *out = malloc(len + 1);
	size_t o = 0;

	ASSERT(out != NULL);
	*complete = false;
	while (b < end) {
		const char *crlf = memmem(b, (size_t)(end - b), "\r\n", 2);
		char *e;
		unsigned long n;

		if (crlf == NULL)
			break; /* cut in the middle of a size line */
		ASSERT(crlf > b);
		for (const char *p = b; p < crlf; p++)
			ASSERT(strchr("0123456789abcdef", *p) != NULL);
		n = strtoul(b, &e, 16);
		ASSERT(e == crlf);
		b = crlf + 2;
		if (n == 0) {
			ASSERT(end - b == 2 && memcmp(b, "\r\n", 2) == 0);
			*complete = true;
			break;
		}
		if ((size_t)(end - b) < n + 2)
			break; /* cut in the middle of a chunk */
		memcpy(out + o, b, n);
		o += n;
		b += n;
		ASSERT(memcmp(b, "\r\n", 2) == 0);
		b += 2;
	}
	out[o] = '\0';
	*out_len = o;
	return out;
}

static int
send_req(int port, const char *req)
{
	int fd = h_connect(port);

	ASSERT(fd >= 0);
	ASSERT(h_send_all(fd, req, strlen(req)) == 0);
	return fd;
}

static bool
closed_once(void *arg)
{
	return atomic_load(&((struct srv *)arg)->closed) >= 1;
}

/* ---- an HTTPS client (mbed TLS, blocking, every read within 20 s) ---- */

struct tcl {
	int fd;
	mbedtls_ssl_context ssl;
	mbedtls_ssl_config conf;
	mbedtls_x509_crt ca;
};

static int
tcl_bio_send(void *arg, const unsigned char *buf, size_t len)
{
	ssize_t n = send(((struct tcl *)arg)->fd, buf, len, MSG_NOSIGNAL);

	return n >= 0 ? (int)n : MBEDTLS_ERR_SSL_INTERNAL_ERROR;
}

static int
tcl_bio_recv(void *arg, unsigned char *buf, size_t len)
{
	ssize_t n = recv(((struct tcl *)arg)->fd, buf, len, 0);

	if (n >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		h_fail(__FILE__, __LINE__, "TLS client: nothing for 20 s");
	return MBEDTLS_ERR_SSL_INTERNAL_ERROR; /* a reset */
}

/* Connects to port over TLS, verifying the gateway with the test's CA,
 * and sends req. */
static void
tcl_open(struct tcl *t, int port, const char *req)
{
	struct timeval tv = {.tv_sec = 20};
	size_t off = 0, len = strlen(req);
	int ret;

	memset(t, 0, sizeof(*t));
	t->fd = h_connect(port);
	ASSERT(t->fd >= 0);
	setsockopt(t->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	mbedtls_ssl_init(&t->ssl);
	mbedtls_ssl_config_init(&t->conf);
	mbedtls_x509_crt_init(&t->ca);
	ASSERT(mbedtls_x509_crt_parse_file(&t->ca, ca_path) == 0);
	ASSERT(
	    mbedtls_ssl_config_defaults(&t->conf, MBEDTLS_SSL_IS_CLIENT,
	        MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT) == 0);
	mbedtls_ssl_conf_authmode(&t->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&t->conf, &t->ca, NULL);
	mbedtls_ssl_conf_rng(&t->conf, orch_tls_random, NULL);
	ASSERT(mbedtls_ssl_setup(&t->ssl, &t->conf) == 0);
	ASSERT(mbedtls_ssl_set_hostname(&t->ssl, "localhost") == 0);
	mbedtls_ssl_set_bio(&t->ssl, t, tcl_bio_send, tcl_bio_recv, NULL);
	if ((ret = mbedtls_ssl_handshake(&t->ssl)) != 0)
		h_fail(__FILE__, __LINE__, "TLS handshake: -0x%04x", -ret);
	while (off < len) {
		ret = mbedtls_ssl_write(
		    &t->ssl, (const unsigned char *)req + off, len - off);
		ASSERT(ret > 0);
		off += (size_t)ret;
	}
}

/* Reads until the gateway closes (a close notification or the TCP
 * close).  Returns the bytes (malloc'd) and their count. */
static char *
tcl_read_all(struct tcl *t, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap + 1);

	ASSERT(buf != NULL);
	for (;;) {
		int r;

		if (n == cap) {
			cap *= 2;
			ASSERT((buf = realloc(buf, cap + 1)) != NULL);
		}
		r = mbedtls_ssl_read(
		    &t->ssl, (unsigned char *)buf + n, cap - n);
		if (r <= 0)
			break; /* 0, close notify, EOF or reset: done */
		n += (size_t)r;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

static void
tcl_close(struct tcl *t)
{
	mbedtls_ssl_free(&t->ssl);
	mbedtls_ssl_config_free(&t->conf);
	mbedtls_x509_crt_free(&t->ca);
	close(t->fd);
}

/* ---- tests ---- */

static void
test_chunk_head(void)
{
	char buf[32];

	ASSERT_INT_EQ(orch_gw_chunk_head(0, buf, sizeof(buf)), 3);
	ASSERT_STR_EQ(buf, "0\r\n");
	ASSERT_INT_EQ(orch_gw_chunk_head(26, buf, sizeof(buf)), 4);
	ASSERT_STR_EQ(buf, "1a\r\n");
	ASSERT_INT_EQ(orch_gw_chunk_head(4096, buf, sizeof(buf)), 6);
	ASSERT_STR_EQ(buf, "1000\r\n");
	ASSERT_INT_EQ(orch_gw_chunk_head(SIZE_MAX, buf, 19), 18);
	ASSERT_STR_EQ(buf, "ffffffffffffffff\r\n");
	/* Too small a buffer: nothing. */
	ASSERT_INT_EQ(orch_gw_chunk_head(SIZE_MAX, buf, 18), 0);
}

/* Fifty chunks, forty-nine of them written from another thread. */
static void
test_stream_cross_thread(void)
{
	struct srv *sv = srv_start();
	int fd =
	    send_req(sv->port, "GET /stream?n=50 HTTP/1.1\r\nHost: x\r\n\r\n");
	size_t len, dlen;
	char *resp = read_all(fd, &len, 10000), *data, want[64];
	bool complete;
	const char *p;

	ASSERT(strncmp(resp, "HTTP/1.1 200 OK\r\n", 17) == 0);
	ASSERT_STR_CONTAINS(resp, "Transfer-Encoding: chunked\r\n");
	ASSERT_STR_CONTAINS(resp, "Connection: close\r\n");
	ASSERT_STR_CONTAINS(resp, "X-Test: 1\r\n");
	ASSERT(strstr(resp, "Content-Length") == NULL);
	data = dechunk(body_of(resp), len - (size_t)(body_of(resp) - resp),
	    &dlen, &complete);
	ASSERT(complete);
	p = data;
	for (int i = 0; i < 50; i++) {
		int n = snprintf(want, sizeof(want), "line %d\n", i);

		ASSERT(strncmp(p, want, (size_t)n) == 0);
		p += n;
	}
	ASSERT(*p == '\0');
	/* The head was observed once, with the handler's tag. */
	ASSERT_INT_EQ(atomic_load(&sv->tagged), 1);
	ASSERT_INT_EQ(atomic_load(&sv->last_status), 200);
	/* Ended by its producer: closed() is not called. */
	ASSERT_INT_EQ(atomic_load(&sv->closed), 0);
	free(data);
	free(resp);
	close(fd);
	srv_stop(sv);
}

/* HTTP/1.0 knows no chunks: the body is the bytes, ended by the close. */
static void
test_stream_http10(void)
{
	struct srv *sv = srv_start();
	int fd = send_req(sv->port, "GET /stream?n=3 HTTP/1.0\r\n\r\n");
	size_t len;
	char *resp = read_all(fd, &len, 10000);

	ASSERT(strstr(resp, "Transfer-Encoding") == NULL);
	ASSERT_STR_EQ(body_of(resp), "line 0\nline 1\nline 2\n");
	free(resp);
	close(fd);
	srv_stop(sv);
}

/* A request pipelined behind a stream gets no answer: the stream is the
 * last one on its connection. */
static void
test_stream_last_on_conn(void)
{
	struct srv *sv = srv_start();
	int fd = send_req(sv->port,
	    "GET /plain HTTP/1.1\r\nHost: x\r\n\r\n"
	    "GET /stream?n=2 HTTP/1.1\r\nHost: x\r\n\r\n"
	    "GET /plain HTTP/1.1\r\nHost: x\r\n\r\n");
	size_t len, dlen;
	char *resp = read_all(fd, &len, 10000), *data;
	const char *second;
	bool complete;

	/* The first answer, then the stream, then nothing. */
	ASSERT(strncmp(resp, "HTTP/1.1 200 OK\r\n", 17) == 0);
	second = strstr(resp + 17, "HTTP/1.1 200 OK\r\n");
	ASSERT(second != NULL);
	ASSERT(strstr(second + 17, "HTTP/1.1") == NULL);
	data = dechunk(body_of(second), len - (size_t)(body_of(second) - resp),
	    &dlen, &complete);
	ASSERT(complete);
	ASSERT_STR_EQ(data, "line 0\nline 1\n");
	free(data);
	free(resp);
	close(fd);
	srv_stop(sv);
}

/* A client that leaves is noticed and its stream freed. */
static void
test_client_leaves(void)
{
	struct srv *sv = srv_start();
	int fd = send_req(sv->port, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
	char buf[512];
	ssize_t n;

	/* The head and the first chunk, then the client goes. */
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	ASSERT(n > 0);
	buf[n] = '\0';
	ASSERT_STR_CONTAINS(buf, "held\n");
	close(fd);
	ASSERT(h_wait_until(closed_once, sv, 10000));
	ASSERT_STR_EQ(sv->why, "the client closed the connection");
	/* The gateway goes on serving. */
	ASSERT_INT_EQ(h_http(sv->port, "GET", "/plain", NULL, NULL), 200);
	srv_stop(sv);
}

static bool
capped_once(void *arg)
{
	return atomic_load(&((struct srv *)arg)->capped) >= 1;
}

/* Waits until /flood's producer is refused past the cap, which it
 * reached. */
static void
wait_capped(struct srv *sv)
{
	/* The socket buffers of both kernels fill first, then the
	 * gateway's. */
	ASSERT(h_wait_until(capped_once, sv, 20000));
	/* Never more than the cap (plus one write of 4 KiB) unsent. */
	ASSERT(atomic_load(&sv->max_pending) <= CAP + 4096 + 16);
	ASSERT(atomic_load(&sv->max_pending) > CAP / 2);
	/* Cut by the producer's own write: closed() is not called. */
	ASSERT_INT_EQ(atomic_load(&sv->closed), 0);
}

/* A client that reads nothing: the gateway holds at most the cap for it,
 * then closes the connection. */
static void
test_slow_client_capped(void)
{
	struct srv *sv = srv_start();
	int fd = send_req(sv->port, "GET /flood HTTP/1.1\r\nHost: x\r\n\r\n");
	size_t len;
	char *resp;

	wait_capped(sv);
	/* The client finds the connection closed, without the last chunk. */
	resp = read_all(fd, &len, 10000);
	ASSERT(strstr(resp, "\r\n0\r\n\r\n") == NULL);
	free(resp);
	close(fd);
	ASSERT_INT_EQ(h_http(sv->port, "GET", "/plain", NULL, NULL), 200);
	srv_stop(sv);
}

static bool
is_closed_by_peer(void *arg)
{
	int fd = *(int *)arg;
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);

	return n == 0 || (n < 0 && errno == ECONNRESET);
}

/* A stream with nothing to send is on no timer: it outlives the idle
 * and write timeouts (an idle connection opened after it shows that
 * they ran), and its producer writes to it afterwards. */
static void
test_stream_quiet_outlives_timeouts(void)
{
	struct srv *sv = srv_start_timeouts(false, 100, 100);
	int fd = send_req(sv->port, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
	struct more_work *mw = calloc(1, sizeof(*mw));
	struct orch_gw_stats gs;
	char buf[512] = "";
	size_t got = 0;
	int idle;

	/* The head and the first chunk: nothing left to send. */
	while (strstr(buf, "held\n") == NULL) {
		ssize_t n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);

		ASSERT(n > 0);
		got += (size_t)n;
		buf[got] = '\0';
	}
	/* Twice in a row, an idle connection made after the stream is
	 * closed for its idle timeout. */
	for (int i = 0; i < 2; i++) {
		idle = h_connect(sv->port);
		ASSERT(idle >= 0);
		ASSERT(h_wait_until(is_closed_by_peer, &idle, 10000));
		close(idle);
	}
	orch_gw_stats(sv->gw, &gs);
	ASSERT_INT_EQ(gs.timeouts_idle, 2);
	ASSERT_INT_EQ(gs.timeouts_write, 0);
	ASSERT_INT_EQ(atomic_load(&sv->closed), 0);
	/* Still open: a line written now arrives. */
	ASSERT(mw != NULL);
	mw->w.fn = more_run;
	mw->sv = sv;
	orch_gw_post(sv->gw, &mw->w);
	got = 0;
	buf[0] = '\0';
	while (strstr(buf, "more\n") == NULL) {
		ssize_t n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);

		ASSERT(n > 0);
		got += (size_t)n;
		buf[got] = '\0';
	}
	close(fd);
	ASSERT(h_wait_until(closed_once, sv, 10000));
	srv_stop(sv);
}

/* A stream whose client stops reading while bytes wait for it is closed
 * once the write timeout passes with no byte taken; its producer hears
 * why.  The client's receive buffer is small, so that the kernels hold
 * little and the gateway's own buffer fills. */
static void
test_stream_stalled_dropped(void)
{
	struct srv *sv = srv_start_timeouts(false, 0, 200);
	struct sockaddr_in a = {.sin_family = AF_INET};
	static const char req[] = "GET /paced HTTP/1.1\r\nHost: x\r\n\r\n";
	struct orch_gw_stats gs;
	int fd = socket(AF_INET, SOCK_STREAM, 0), small = 4096;

	ASSERT(fd >= 0);
	ASSERT(
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)) == 0);
	a.sin_port = htons((uint16_t)sv->port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ASSERT(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	/* Far more than the kernels and the cap hold: it stalls. */
	sv->paced_total = (size_t)9 * 4000000;
	ASSERT(h_send_all(fd, req, sizeof(req) - 1) == 0);
	ASSERT(h_wait_until(closed_once, sv, 20000));
	ASSERT_STR_EQ(sv->why, "the client stopped reading");
	orch_gw_stats(sv->gw, &gs);
	ASSERT_INT_EQ(gs.timeouts_write, 1);
	/* Not cut by the cap: the producer waited for writable(). */
	ASSERT_INT_EQ(atomic_load(&sv->capped), 0);
	close(fd);
	ASSERT_INT_EQ(h_http(sv->port, "GET", "/plain", NULL, NULL), 200);
	srv_stop(sv);
}

/* Checks /paced's whole answer resp (len bytes, freed here): every
 * line, in order, and no more than a quarter of the cap and a line held
 * unsent. */
static void
check_paced(struct srv *sv, char *resp, size_t len)
{
	size_t dlen;
	char *data, want[16];
	bool complete;

	ASSERT_STR_CONTAINS(resp, "Transfer-Encoding: chunked\r\n");
	data = dechunk(body_of(resp), len - (size_t)(body_of(resp) - resp),
	    &dlen, &complete);
	ASSERT(complete);
	ASSERT_INT_EQ(dlen, 900000);
	for (unsigned i = 0; i < 100000; i += 9973) {
		snprintf(want, sizeof(want), "%08u\n", i);
		ASSERT(memcmp(data + (size_t)i * 9, want, 9) == 0);
	}
	if (atomic_load(&sv->max_pending) > CAP / 4 + 14)
		h_fail(__FILE__, __LINE__, "%zu bytes unsent at most",
		    atomic_load(&sv->max_pending));
	free(data);
	free(resp);
}

/* A producer that waits for writable() delivers everything. */
static void
test_paced(void)
{
	struct srv *sv = srv_start();
	int fd = send_req(sv->port, "GET /paced HTTP/1.1\r\nHost: x\r\n\r\n");
	size_t len;
	char *resp = read_all(fd, &len, 30000);

	check_paced(sv, resp, len);
	close(fd);
	srv_stop(sv);
}

/* Freeing the gateway with a stream open tells its producer. */
static void
test_free_with_stream(void)
{
	struct srv *sv = srv_start();
	int fd = send_req(sv->port, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
	char buf[512];

	ASSERT(recv(fd, buf, sizeof(buf), 0) > 0);
	orch_gw_stop(sv->gw);
	pthread_join(sv->thread, NULL);
	orch_gw_free(sv->gw);
	ASSERT_INT_EQ(atomic_load(&sv->closed), 1);
	ASSERT_STR_EQ(sv->why, "the manager is shutting down");
	free(sv);
	close(fd);
}

/* ---- the drain after orch_gw_stop() ---- */

/* Answers /never's request: run by orch_gw_free(), which runs the posts
 * waiting before it frees anything. */
static void
never_answer(struct orch_gw_work *w)
{
	struct more_work *mw = (struct more_work *)w;

	orch_gw_respond(mw->sv->never, 200, "text/plain", "late\n", 5, NULL);
	free(mw);
}

static bool
has_returned(void *arg)
{
	struct srv *sv = arg;

	return atomic_load(&sv->returned);
}

static bool
never_held(void *arg)
{
	struct srv *sv = arg;

	return atomic_load(&sv->nevers) == 1;
}

/* The listening socket is closed: a connection is refused. */
static bool
refused(void *arg)
{
	int fd = h_connect(*(int *)arg);

	if (fd < 0)
		return true;
	close(fd);
	return false;
}

/* Ends a gateway whose loop returned while /never's request is held. */
static void
srv_free_never(struct srv *sv)
{
	struct more_work *mw = calloc(1, sizeof(*mw));

	ASSERT(mw != NULL);
	pthread_join(sv->thread, NULL);
	mw->w.fn = never_answer;
	mw->sv = sv;
	orch_gw_post(sv->gw, &mw->w);
	orch_gw_free(sv->gw);
	free(sv);
}

/* A request its handler holds is on no timer, so nothing else would wake
 * the loop: the drain's deadline ends it all the same. */
static void
test_drain_deadline_wakes(void)
{
	struct srv *sv = srv_start_with(false, 0, 0, 200);
	int fd = send_req(sv->port, "GET /never HTTP/1.1\r\nHost: x\r\n\r\n");

	ASSERT(h_wait_until(never_held, sv, 10000));
	orch_gw_stop(sv->gw);
	/* Slept with no timeout at all, it would never return. */
	ASSERT(h_wait_until(has_returned, sv, 30000));
	srv_free_never(sv);
	close(fd);
}

/* The first stop closes idle connections and streams at once and the
 * listening socket; the loop waits for the held request (a drain of an
 * hour) until a second stop, which ends it at once. */
static void
test_drain_second_stop(void)
{
	struct srv *sv = srv_start_with(false, 0, 0, 3600 * 1000);
	int busy = send_req(sv->port, "GET /never HTTP/1.1\r\nHost: x\r\n\r\n");
	int stream =
	    send_req(sv->port, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
	int idle = h_connect(sv->port);
	char buf[512] = "";
	size_t got = 0;

	ASSERT(idle >= 0);
	ASSERT_INT_EQ(h_http(sv->port, "GET", "/plain", NULL, NULL), 200);
	while (strstr(buf, "held\n") == NULL) {
		ssize_t n = recv(stream, buf + got, sizeof(buf) - 1 - got, 0);

		ASSERT(n > 0);
		got += (size_t)n;
		buf[got] = '\0';
	}
	ASSERT(h_wait_until(never_held, sv, 10000));
	orch_gw_stop(sv->gw);
	ASSERT(h_wait_until(closed_once, sv, 10000));
	ASSERT_STR_EQ(sv->why, "the manager is shutting down");
	ASSERT(h_wait_until(is_closed_by_peer, &idle, 10000));
	ASSERT(h_wait_until(refused, &sv->port, 10000));
	/* An hour's drain, and a request still held: not over. */
	ASSERT(!atomic_load(&sv->returned));
	orch_gw_stop(sv->gw);
	ASSERT(h_wait_until(has_returned, sv, 10000));
	srv_free_never(sv);
	close(busy);
	close(stream);
	close(idle);
}

/* A request in flight when the drain starts is answered; one for a
 * stream is refused (a stream would outlive the drain), with 503 on a
 * connection that then closes, and the loop ends with it. */
static void
test_drain_refuses_stream(void)
{
	struct srv *sv = srv_start_with(false, 0, 0, 3600 * 1000);
	int fd = send_req(sv->port,
	    "GET /hold HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
	    "Content-Length: 1\r\n\r\n");
	char *resp;
	size_t len;

	/* The interim answer says the head is in. */
	ASSERT_INT_EQ(h_read_response(fd, NULL, NULL, 10000), 100);
	orch_gw_stop(sv->gw);
	ASSERT(h_wait_until(refused, &sv->port, 10000));
	ASSERT(h_send_all(fd, "x", 1) == 0);
	resp = read_all(fd, &len, 10000);
	ASSERT_STR_CONTAINS(resp, "HTTP/1.1 503 ");
	ASSERT_STR_CONTAINS(resp, "Connection: close\r\n");
	ASSERT_STR_CONTAINS(resp, "the manager is shutting down");
	ASSERT_INT_EQ(atomic_load(&sv->closed), 0);
	ASSERT(h_wait_until(has_returned, sv, 10000));
	free(resp);
	close(fd);
	pthread_join(sv->thread, NULL);
	orch_gw_free(sv->gw);
	free(sv);
}

/* ---- over HTTPS ---- */

/* A paced stream over TLS arrives whole: writes that TLS could not finish
 * (the socket full) are resumed with the same bytes. */
static void
test_https_paced(void)
{
	struct srv *sv = srv_start_as(true);
	struct tcl t;
	size_t len;
	char *resp;

	tcl_open(&t, sv->port, "GET /paced HTTP/1.1\r\nHost: x\r\n\r\n");
	resp = tcl_read_all(&t, &len);
	check_paced(sv, resp, len);
	tcl_close(&t);
	srv_stop(sv);
}

/* A client's TLS close notification, its TCP connection still open, is
 * its leaving: the stream reads through TLS, not past it. */
static void
test_https_close_notify(void)
{
	struct srv *sv = srv_start_as(true);
	struct tcl t;
	unsigned char buf[512];
	size_t n = 0;

	tcl_open(&t, sv->port, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
	while (n < sizeof(buf) - 1) {
		int r = mbedtls_ssl_read(&t.ssl, buf + n, sizeof(buf) - 1 - n);

		ASSERT(r > 0);
		n += (size_t)r;
		buf[n] = '\0';
		if (strstr((char *)buf, "held\n") != NULL)
			break;
	}
	ASSERT_STR_CONTAINS((char *)buf, "held\n");
	ASSERT_INT_EQ(mbedtls_ssl_close_notify(&t.ssl), 0);
	ASSERT(h_wait_until(closed_once, sv, 10000));
	ASSERT_STR_EQ(sv->why, "the client closed the connection");
	tcl_close(&t);
	srv_stop(sv);
}

/* A client over TLS that reads nothing: capped as over plain HTTP.  The
 * record TLS holds unsent is made of bytes still counted as pending. */
static void
test_https_slow_client_capped(void)
{
	struct srv *sv = srv_start_as(true);
	struct tcl t;
	size_t len;
	char *resp;

	tcl_open(&t, sv->port, "GET /flood HTTP/1.1\r\nHost: x\r\n\r\n");
	wait_capped(sv);
	/* What was sent decrypts, and ends without the last chunk. */
	resp = tcl_read_all(&t, &len);
	ASSERT_STR_CONTAINS(resp, "HTTP/1.1 200 OK\r\n");
	ASSERT(strstr(resp, "\r\n0\r\n\r\n") == NULL);
	free(resp);
	tcl_close(&t);
	srv_stop(sv);
}

static void
certs_remove(void)
{
	if (cert_dir != NULL)
		h_rm_rf(cert_dir);
}

int
main(void)
{
	struct orch_certs_opts co = {0};
	char err[512];

	cert_dir = h_tmpdir("gateway-tls");
	atexit(certs_remove);
	if (orch_certs_init(cert_dir, &co, err, sizeof(err)) != ORCH_OK)
		h_fail(__FILE__, __LINE__, "certs init: %s", err);
	snprintf(ca_path, sizeof(ca_path), "%s/ca.crt", cert_dir);
	snprintf(crt_path, sizeof(crt_path), "%s/manager.crt", cert_dir);
	snprintf(key_path, sizeof(key_path), "%s/manager.key", cert_dir);
	RUN(test_chunk_head);
	RUN(test_stream_cross_thread);
	RUN(test_stream_http10);
	RUN(test_stream_last_on_conn);
	RUN(test_client_leaves);
	RUN(test_slow_client_capped);
	RUN(test_paced);
	RUN(test_stream_quiet_outlives_timeouts);
	RUN(test_stream_stalled_dropped);
	RUN(test_free_with_stream);
	RUN(test_drain_deadline_wakes);
	RUN(test_drain_second_stop);
	RUN(test_drain_refuses_stream);
	RUN(test_https_paced);
	RUN(test_https_close_notify);
	RUN(test_https_slow_client_capped);
	return 0;
}
