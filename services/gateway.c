/*
 * gateway.c: the HTTP/1.1 server (see gateway.h).
 *
 * A connection moves between three states:
 *   READING   bytes are buffered and parsed until a whole request is in;
 *   HANDLING  the handler has the request (perhaps waiting on a commit);
 *   WRITING   the answer is being flushed; then the request's bytes are
 *             dropped from the buffer and the next (pipelined) one is read;
 *   STREAMING a streamed answer (orch_gw_stream_start) owns the
 *             connection until it ends: what the client sends is read
 *             only to notice that it left, then dropped.
 * Everything runs on the loop thread; other threads reach it only through
 * orch_gw_post(), which queues a function and wakes the loop via eventfd.
 * epoll is level-triggered; interest in EPOLLIN/EPOLLOUT follows the state.
 *
 * With HTTPS (gw_tls.h) a connection first completes its TLS handshake,
 * within the header timeout, watching whichever direction the handshake
 * waits for; then every read and write goes through TLS and the states
 * above are the same.  Bytes that TLS has received but the connection has
 * not read yet raise no epoll event: they are read whenever the
 * connection is ready for a request again (a stream drains them with
 * whatever the socket brings next: it reads only to see the client leave).
 *
 * Timeouts: a connection is on at most one timer, whose kind follows its
 * state (handshake, idle, reading a head, reading a body, writing).  Each
 * kind has one duration, so a list per kind kept in the order connections
 * joined it is also in deadline order: arming is an append (or a short
 * walk back from the tail when the start lies in the past), disarming an
 * unlink, and the loop looks only at the head of each list, however many
 * connections are open.  epoll_wait sleeps until the earliest deadline.
 * A stream is on the write timer only while bytes wait for its client: a
 * follow stream with nothing to send is on none, however long it lasts.
 */
#include "gateway.h"

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "error.h"
#include "gw_tls.h"
#include "log.h"

#define IN_BUF_MIN 4096
/* The most one request may occupy: line, headers, body, slack for CRLFs. */
#define IN_BUF_MAX                                                             \
	(ORCH_HTTP_MAX_REQUEST_LINE + ORCH_HTTP_MAX_HEADERS_SIZE +             \
	    ORCH_HTTP_MAX_BODY + 1024)
#define STREAM_BUF_MAX_DEFAULT (1024 * 1024)
/* A stream's client that sends this much more is not an HTTP client. */
#define STREAM_IN_MAX (64 * 1024)

enum conn_state { C_READING, C_HANDLING, C_WRITING, C_STREAMING };

/* The timer a connection is on (see the top of the file). */
enum timer_kind {
	T_HANDSHAKE, /* the TLS handshake: header timeout from accept */
	T_IDLE,      /* no request begun: idle timeout from the last I/O */
	T_HEADER,    /* a head begun: header timeout from its first byte */
	T_BODY,      /* a head read, its body not yet: body timeout */
	T_WRITE,     /* an answer to send: write timeout from progress */
	T_KINDS,
	T_NONE = T_KINDS /* a handler holds the request: no timer */
};

struct timer_list {
	struct conn *head, *tail;
};

struct buf {
	char *p;
	size_t len;
	size_t cap;
	size_t off; /* out: bytes already written */
};

struct orch_gw_req {
	struct conn *conn;
	struct orch_http_request http;
	const char *body;
	size_t body_len;
	size_t total_len; /* head and body: what to drop once answered */
	const void *tag;  /* orch_gw_req_tag()'s */
	int64_t t0_ns;    /* dispatched to the handler */
	bool parsed;      /* http holds a parsed request */
};

struct orch_gw_stream {
	struct conn *conn; /* NULL once the connection is gone */
	struct orch_gw_stream_ops ops;
	void *arg;
	bool chunked;       /* HTTP/1.1; HTTP/1.0 streams end with the close */
	bool ended;         /* the producer called orch_gw_stream_end() */
	bool want_writable; /* a write left more than low_water unsent */
	size_t max, low_water;
	char peer[64];
};

struct conn {
	struct orch_gw *gw;
	int fd;
	struct orch_gw_tls_conn *tls; /* NULL: plain HTTP */
	bool handshaking;             /* TLS handshake under way */
	bool hs_want_write;           /* it waits to write */
	enum conn_state state;
	struct buf in;
	struct buf out;
	bool close_after; /* close once the answer is flushed */
	bool eof;         /* the peer shut down its sending side */
	bool dead;        /* the peer is gone while a handler holds req */
	bool in_handler;  /* the handler is on the stack */
	bool in_stream;   /* a stream's writable() is on the stack */
	bool continue_sent;
	struct orch_gw_stream *stream; /* C_STREAMING: its stream */
	const char *close_why; /* for a stream's closed(): why it ended */
	size_t stream_in;      /* bytes read and dropped while streaming */
	uint32_t events;       /* current epoll interest */
	int64_t born_ms;       /* accepted */
	int64_t last_ms;       /* last I/O, or an answer queued */
	int64_t req_start_ms;  /* first byte of the request being read */
	int64_t head_ms;       /* its head complete; 0: not yet */
	struct orch_gw_req req;
	struct conn *prev, *next;
	/* The timer: its kind, deadline and neighbours on its list. */
	enum timer_kind tkind;
	int64_t deadline;
	struct conn *tprev, *tnext;
};

struct orch_gw {
	struct orch_gw_opts opts;
	orch_gw_handler_fn handler;
	void *arg;
	int lfd;
	struct orch_gw_tls *tls; /* NULL: plain HTTP */
	int wfd;                 /* eventfd: posts and stop */
	int epfd;
	int port;
	bool listen_paused; /* out of file descriptors */
	int64_t listen_resume_ms;
	volatile sig_atomic_t stopping; /* orch_gw_stop() calls */
	bool draining;                  /* stopping: in-flight answers go */
	int64_t drain_deadline_ms;
	struct conn *conns;     /* every open connection */
	struct conn *graveyard; /* closed this loop turn; freed at its end */
	int n_conns;
	struct timer_list timers[T_KINDS];
	int timeout_ms[T_KINDS]; /* each kind's duration */
	/* Expiries of each kind: written by the loop, read by any thread. */
	_Atomic uint64_t expired[T_KINDS];
	pthread_mutex_t mtx; /* protects the post queue */
	struct orch_gw_work *posts, *posts_tail;
	time_t date_secs;
	char date[64];             /* "Date: ...\r\n", cached per second */
	char listen_tag, wake_tag; /* epoll_data.ptr for the two fds */
};

static void conn_drive(struct conn *c);
static void conn_read(struct conn *c);
static void stream_drive(struct conn *c);
static void stream_read(struct conn *c);

void
orch_gw_opts_default(struct orch_gw_opts *opts)
{
	opts->listen = "127.0.0.1:3000";
	opts->max_conns = ORCH_GW_MAX_CONNS;
	opts->header_timeout_ms = ORCH_GW_HEADER_TIMEOUT_MS;
	opts->body_timeout_ms = ORCH_GW_BODY_TIMEOUT_MS;
	opts->idle_timeout_ms = ORCH_GW_IDLE_TIMEOUT_MS;
	opts->write_timeout_ms = ORCH_GW_WRITE_TIMEOUT_MS;
	opts->stream_buf_max = STREAM_BUF_MAX_DEFAULT;
	opts->observe = NULL;
	opts->observe_arg = NULL;
	opts->tls_cert = NULL;
	opts->tls_key = NULL;
	opts->drain_timeout_ms = 10000;
}

/* Splits "HOST:PORT" or "[V6]:PORT" into host and port buffers. */
static int
split_hostport(const char *s, char *host, size_t hlen, char *port, size_t plen)
{
	const char *colon, *h = s;
	size_t n;

	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		if (end == NULL || end[1] != ':')
			return ORCH_EINVAL;
		h = s + 1;
		n = (size_t)(end - h);
		colon = end + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return ORCH_EINVAL;
		n = (size_t)(colon - s);
	}
	if (n == 0 || n >= hlen || strlen(colon + 1) == 0 ||
	    strlen(colon + 1) >= plen)
		return ORCH_EINVAL;
	memcpy(host, h, n);
	host[n] = '\0';
	snprintf(port, plen, "%s", colon + 1);
	for (const char *p = port; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return ORCH_EINVAL;
	}
	return ORCH_OK;
}

static int
listen_open(struct orch_gw *gw, char *err, size_t errlen)
{
	struct addrinfo hints = {0}, *res = NULL, *ai;
	char host[256], port[16];
	int rc, fd = -1, saved = 0, one = 1;

	if (split_hostport(gw->opts.listen, host, sizeof(host), port,
	        sizeof(port)) != ORCH_OK) {
		snprintf(err, errlen,
		    "malformed listen address \"%s\": want "
		    "HOST:PORT",
		    gw->opts.listen);
		return ORCH_EINVAL;
	}
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "cannot listen on %s: %s",
		    gw->opts.listen, gai_strerror(rc));
		return ORCH_EINVAL;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family,
		    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, SOMAXCONN) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s",
		    gw->opts.listen, strerror(saved));
		return orch_err_from_errno(saved);
	}
	{
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);

		getsockname(fd, (struct sockaddr *)&ss, &sl);
		gw->port = ss.ss_family == AF_INET6
		    ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
		    : ntohs(((struct sockaddr_in *)&ss)->sin_port);
	}
	gw->lfd = fd;
	return ORCH_OK;
}

int
orch_gw_new(const struct orch_gw_opts *opts, orch_gw_handler_fn handler,
    void *arg, struct orch_gw **out, char *err, size_t errlen)
{
	struct orch_gw *gw;
	struct epoll_event ev = {0};
	int rc;

	if ((gw = calloc(1, sizeof(*gw))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return ORCH_ENOMEM;
	}
	gw->opts = *opts;
	if (gw->opts.stream_buf_max < 4096)
		gw->opts.stream_buf_max = STREAM_BUF_MAX_DEFAULT;
	gw->timeout_ms[T_HANDSHAKE] = opts->header_timeout_ms;
	gw->timeout_ms[T_IDLE] = opts->idle_timeout_ms;
	gw->timeout_ms[T_HEADER] = opts->header_timeout_ms;
	gw->timeout_ms[T_BODY] = opts->body_timeout_ms;
	gw->timeout_ms[T_WRITE] = opts->write_timeout_ms;
	gw->handler = handler;
	gw->arg = arg;
	gw->lfd = gw->wfd = gw->epfd = -1;
	pthread_mutex_init(&gw->mtx, NULL);
	if ((rc = listen_open(gw, err, errlen)) != ORCH_OK)
		goto out;
	if (opts->tls_cert != NULL &&
	    (rc = orch_gw_tls_new(opts->tls_cert, opts->tls_key, &gw->tls, err,
	         errlen)) != ORCH_OK)
		goto out;
	gw->wfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	gw->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (gw->wfd < 0 || gw->epfd < 0) {
		rc = orch_err_from_errno(errno);
		snprintf(err, errlen, "gateway: %s", strerror(errno));
		goto out;
	}
	ev.events = EPOLLIN;
	ev.data.ptr = &gw->listen_tag;
	epoll_ctl(gw->epfd, EPOLL_CTL_ADD, gw->lfd, &ev);
	ev.data.ptr = &gw->wake_tag;
	epoll_ctl(gw->epfd, EPOLL_CTL_ADD, gw->wfd, &ev);
	*out = gw;
	return ORCH_OK;
out:
	orch_gw_free(gw);
	return rc;
}

int
orch_gw_port(const struct orch_gw *gw)
{
	return gw->port;
}

void
orch_gw_stop(struct orch_gw *gw)
{
	uint64_t one = 1;

	/* A count, not a flag: a second stop ends the drain. */
	gw->stopping = gw->stopping + 1;
	(void)!write(gw->wfd, &one, sizeof(one));
}

void
orch_gw_post(struct orch_gw *gw, struct orch_gw_work *w)
{
	uint64_t one = 1;

	bool wake;

	w->next = NULL;
	pthread_mutex_lock(&gw->mtx);
	/* One wake-up per drain: a commit of 16 writes posts 16 answers, and
	 * the loop takes them all at once. */
	wake = gw->posts == NULL;
	if (gw->posts_tail != NULL)
		gw->posts_tail->next = w;
	else
		gw->posts = w;
	gw->posts_tail = w;
	pthread_mutex_unlock(&gw->mtx);
	if (wake)
		(void)!write(gw->wfd, &one, sizeof(one));
}

static void
run_posts(struct orch_gw *gw)
{
	struct orch_gw_work *p, *next;
	uint64_t n;

	(void)!read(gw->wfd, &n, sizeof(n));
	pthread_mutex_lock(&gw->mtx);
	p = gw->posts;
	gw->posts = gw->posts_tail = NULL;
	pthread_mutex_unlock(&gw->mtx);
	for (; p != NULL; p = next) {
		next = p->next;
		p->fn(p);
	}
}

/* ---- connections ---- */

/* The peer of socket fd as "ADDR:PORT" ("[ADDR]:PORT" for IPv6), for
 * the log. */
static void
peer_addr(int fd, char *out, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN], port[8];

	if (getpeername(fd, (struct sockaddr *)&ss, &sl) != 0 ||
	    getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), port,
	        sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(out, len, "a client");
		return;
	}
	snprintf(out, len, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host,
	    port);
}

/* ---- timers ---- */

static void
timer_unlink(struct conn *c)
{
	struct timer_list *l;

	if (c->tkind == T_NONE)
		return;
	l = &c->gw->timers[c->tkind];
	if (c->tprev != NULL)
		c->tprev->tnext = c->tnext;
	else
		l->head = c->tnext;
	if (c->tnext != NULL)
		c->tnext->tprev = c->tprev;
	else
		l->tail = c->tprev;
	c->tprev = c->tnext = NULL;
	c->tkind = T_NONE;
}

/* Puts c on the timer of kind whose period began at start_ms (kind
 * T_NONE: on none).  Nothing moves when c is there already. */
static void
timer_set(struct conn *c, enum timer_kind kind, int64_t start_ms)
{
	struct timer_list *l;
	struct conn *p;
	int64_t deadline;

	if (kind == T_NONE) {
		timer_unlink(c);
		return;
	}
	deadline = start_ms + c->gw->timeout_ms[kind];
	if (c->tkind == kind && c->deadline == deadline)
		return;
	timer_unlink(c);
	l = &c->gw->timers[kind];
	/* Starts are "now" or close to it: the walk is short. */
	for (p = l->tail; p != NULL && p->deadline > deadline; p = p->tprev)
		;
	c->tkind = kind;
	c->deadline = deadline;
	c->tprev = p;
	c->tnext = p != NULL ? p->tnext : l->head;
	if (c->tprev != NULL)
		c->tprev->tnext = c;
	else
		l->head = c;
	if (c->tnext != NULL)
		c->tnext->tprev = c;
	else
		l->tail = c;
}

/* Arms the timer c's state calls for. */
static void
conn_timer_update(struct conn *c)
{
	if (c->fd < 0)
		return;
	if (c->handshaking)
		timer_set(c, T_HANDSHAKE, c->born_ms);
	else if (c->state == C_HANDLING)
		timer_set(c, T_NONE, 0);
	else if (c->state == C_WRITING)
		timer_set(c, T_WRITE, c->last_ms);
	else if (c->state == C_STREAMING)
		/* Only a client that leaves bytes waiting can stall: a stream
		 * with nothing to send may stay open as long as it likes. */
		timer_set(
		    c, c->out.off < c->out.len ? T_WRITE : T_NONE, c->last_ms);
	else if (c->in.len == 0)
		timer_set(c, T_IDLE, c->last_ms);
	else if (c->head_ms == 0)
		timer_set(c, T_HEADER, c->req_start_ms);
	else
		timer_set(c, T_BODY, c->head_ms);
}

static void
conn_set_events(struct conn *c)
{
	uint32_t ev = 0;
	struct epoll_event e = {0};

	/* A handshake waits for one direction only, whatever the state. */
	if (c->handshaking) {
		ev = c->hs_want_write ? EPOLLOUT : EPOLLIN;
	} else {
		/* While a handler holds the request its slices point into
		 * c->in, so the buffer may fill but must not move (see
		 * conn_read).  A stream reads only to notice the client
		 * leave. */
		if (!c->eof &&
		    (c->state == C_STREAMING ||
		        (c->state == C_READING ? c->in.len < IN_BUF_MAX
		                               : c->in.len < c->in.cap)))
			ev |= EPOLLIN;
		/* An answer or a stream's bytes, or a 100 Continue queued
		 * while reading. */
		if (c->out.off < c->out.len)
			ev |= EPOLLOUT;
		/* A stream's producer waits for writable(): the loop calls it
		 * once the socket takes more, even when a send already
		 * emptied the buffer. */
		if (c->state == C_STREAMING && c->stream != NULL &&
		    c->stream->want_writable && !c->stream->ended)
			ev |= EPOLLOUT;
	}
	if (ev == c->events)
		return;
	e.events = ev;
	e.data.ptr = c;
	epoll_ctl(c->gw->epfd, EPOLL_CTL_MOD, c->fd, &e);
	c->events = ev;
}

static void
conn_free(struct conn *c)
{
	free(c->in.p);
	free(c->out.p);
	free(c);
}

/* Frees it at the end of the loop turn: an event for it may still be
 * pending in the batch epoll_wait returned. */
static void
conn_bury(struct conn *c)
{
	c->next = c->gw->graveyard;
	c->gw->graveyard = c;
}

/* Parts the stream from c, whose socket is closing: a stream the
 * producer ended is freed; else the producer hears why (unless it is the
 * one closing) and frees it with orch_gw_stream_end(). */
static void
stream_detach(struct conn *c)
{
	struct orch_gw_stream *s = c->stream;

	c->stream = NULL;
	s->conn = NULL;
	if (s->ended) {
		free(s);
		return;
	}
	if (c->close_why != NULL && s->ops.closed != NULL)
		s->ops.closed(s, s->arg, c->close_why);
}

/* Closes the socket.  If a handler still holds the request the memory
 * stays until it answers (orch_gw_respond buries it then). */
static void
conn_close(struct conn *c)
{
	struct orch_gw *gw = c->gw;

	epoll_ctl(gw->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	timer_unlink(c);
	orch_gw_tls_conn_free(c->tls);
	c->tls = NULL;
	close(c->fd);
	c->fd = -1;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		gw->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	gw->n_conns--;
	c->prev = c->next = NULL;
	if (c->stream != NULL)
		stream_detach(c);
	if (c->state == C_HANDLING)
		c->dead = true;
	else
		conn_bury(c);
}

static void
graveyard_empty(struct orch_gw *gw)
{
	while (gw->graveyard != NULL) {
		struct conn *c = gw->graveyard;

		gw->graveyard = c->next;
		conn_free(c);
	}
}

static int
buf_reserve(struct buf *b, size_t need)
{
	size_t cap = b->cap > 0 ? b->cap : IN_BUF_MIN;
	char *p;

	if (need <= b->cap)
		return ORCH_OK;
	while (cap < need)
		cap *= 2;
	if ((p = realloc(b->p, cap)) == NULL)
		return ORCH_ENOMEM;
	b->p = p;
	b->cap = cap;
	return ORCH_OK;
}

static void
refresh_date(struct orch_gw *gw)
{
	time_t now = time(NULL);
	struct tm tm;

	if (now == gw->date_secs)
		return;
	gw->date_secs = now;
	gmtime_r(&now, &tm);
	strftime(gw->date, sizeof(gw->date),
	    "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
}

/* Tells the observer of the answer to c's request (of the gateway's own
 * answer when no request was parsed). */
static void
conn_observe(struct conn *c, int status)
{
	struct orch_gw *gw = c->gw;
	struct orch_gw_answer a = {.status = status};

	if (gw->opts.observe == NULL)
		return;
	a.tag = c->req.tag;
	if (c->req.parsed) {
		a.method = c->req.http.method.p;
		a.method_len = c->req.http.method.len;
		a.elapsed_ns = orch_mono_ns() - c->req.t0_ns;
	}
	gw->opts.observe(gw->opts.observe_arg, &a);
}

/* Appends a whole response to c->out; the state becomes WRITING. */
static int
conn_put_response(struct conn *c, int status, const char *ctype,
    const char *body, size_t len, const char *extra)
{
	char head[1024];
	const char *conn_hdr = "";
	int n;

	if (c->close_after || c->eof)
		conn_hdr = "Connection: close\r\n";
	else if (c->req.http.minor_version == 0)
		conn_hdr = "Connection: keep-alive\r\n";
	refresh_date(c->gw);
	n = snprintf(head, sizeof(head),
	    "HTTP/1.1 %d %s\r\nServer: orch/" ORCH_VERSION "\r\n%s"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n%s%s\r\n",
	    status, orch_http_reason(status), c->gw->date, ctype, len, conn_hdr,
	    extra != NULL ? extra : "");
	if (n < 0 || (size_t)n >= sizeof(head))
		return ORCH_EINTERNAL;
	conn_observe(c, status);
	if (buf_reserve(&c->out, c->out.len + (size_t)n + len) != ORCH_OK)
		return ORCH_ENOMEM;
	memcpy(c->out.p + c->out.len, head, (size_t)n);
	c->out.len += (size_t)n;
	if (len > 0)
		memcpy(c->out.p + c->out.len, body, len);
	c->out.len += len;
	c->state = C_WRITING;
	/* The write timeout runs from here, however long the handler took. */
	c->last_ms = orch_mono_ms();
	return ORCH_OK;
}

/* A JSON error body from a static message (no quotes or backslashes are
 * expected in it, but they are escaped anyway). */
static void
conn_put_error(struct conn *c, int status, const char *why)
{
	char body[512];
	size_t n = 0;

	n += (size_t)snprintf(body, sizeof(body), "{\"error\":\"");
	for (const char *p = why; *p != '\0' && n < sizeof(body) - 8; p++) {
		if (*p == '"' || *p == '\\')
			body[n++] = '\\';
		body[n++] = ((unsigned char)*p < 0x20) ? ' ' : *p;
	}
	n += (size_t)snprintf(body + n, sizeof(body) - n, "\"}\n");
	if (conn_put_response(c, status, "application/json", body, n, NULL) !=
	    ORCH_OK)
		c->state = C_WRITING; /* nothing to say: just close */
}

/* recv(2) and send(2) on the connection, through TLS with HTTPS. */
static ssize_t
conn_recv(struct conn *c, void *buf, size_t len)
{
	if (c->tls != NULL)
		return orch_gw_tls_recv(c->tls, buf, len);
	return recv(c->fd, buf, len, 0);
}

static ssize_t
conn_send(struct conn *c, const void *buf, size_t len)
{
	if (c->tls != NULL)
		return orch_gw_tls_send(c->tls, buf, len);
	return send(c->fd, buf, len, MSG_NOSIGNAL);
}

/* Writes what it can.  Returns ORCH_OK when all is out, ORCH_EAGAIN when
 * the socket is full, ORCH_ECLOSED when the peer is gone. */
static int
conn_flush(struct conn *c)
{
	while (c->out.off < c->out.len) {
		ssize_t n = conn_send(
		    c, c->out.p + c->out.off, c->out.len - c->out.off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return ORCH_EAGAIN;
			return ORCH_ECLOSED;
		}
		c->out.off += (size_t)n;
		c->last_ms = orch_mono_ms();
	}
	c->out.off = c->out.len = 0;
	if (c->out.cap > 65536) {
		free(c->out.p);
		c->out.p = NULL;
		c->out.cap = 0;
	}
	return ORCH_OK;
}

/* Drops the answered request's bytes and gets ready for the next one. */
static void
conn_next_request(struct conn *c)
{
	size_t used = c->req.total_len;

	if (used > c->in.len)
		used = c->in.len;
	memmove(c->in.p, c->in.p + used, c->in.len - used);
	c->in.len -= used;
	c->req.total_len = 0;
	c->req.parsed = false;
	c->req.tag = NULL;
	c->continue_sent = false;
	c->state = C_READING;
	c->req_start_ms = c->in.len > 0 ? orch_mono_ms() : 0;
	c->head_ms = 0;
	if (c->in.cap > 65536 && c->in.len < IN_BUF_MIN) {
		char *p = realloc(c->in.p, IN_BUF_MIN);
		if (p != NULL) {
			c->in.p = p;
			c->in.cap = IN_BUF_MIN;
		}
	}
}

/* Queues "100 Continue" in c->out, which is empty while a request is
 * read: it leaves before the answer, which is appended after it. */
static void
conn_put_continue(struct conn *c)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

	if (buf_reserve(&c->out, c->out.len + sizeof(cont) - 1) != ORCH_OK)
		return; /* the client sends its body after a while anyway */
	memcpy(c->out.p + c->out.len, cont, sizeof(cont) - 1);
	c->out.len += sizeof(cont) - 1;
}

/* Parses and dispatches until the connection must wait for something.
 * Never re-entered: handlers that answer at once only queue the answer. */
static void
conn_drive(struct conn *c)
{
	for (;;) {
		if (c->fd < 0)
			return; /* a stream's write closed it in the handler */
		if (c->state == C_STREAMING) {
			stream_drive(c);
			return;
		}
		if (c->state != C_WRITING && c->out.off < c->out.len &&
		    conn_flush(c) == ORCH_ECLOSED) {
			conn_close(c);
			return;
		}
		if (c->state == C_WRITING) {
			int rc = conn_flush(c);

			if (rc == ORCH_EAGAIN)
				break;
			if (rc != ORCH_OK || c->close_after) {
				conn_close(c);
				return;
			}
			conn_next_request(c);
		}
		if (c->state == C_HANDLING)
			break;

		/* C_READING */
		if (c->tls != NULL && orch_gw_tls_pending(c->tls))
			conn_read(c);
		if (c->in.len == 0) {
			if (c->eof) {
				conn_close(c);
				return;
			}
			break;
		}
		{
			struct orch_http_request *h = &c->req.http;
			const char *why = NULL;
			int status = 400;
			int rc = orch_http_request_parse(
			    c->in.p, c->in.len, h, &status, &why);
			size_t total;

			if (rc == ORCH_EAGAIN) {
				if (c->eof) {
					conn_close(c);
					return;
				}
				break;
			}
			if (rc != ORCH_OK) {
				c->close_after = true;
				c->req.parsed = false;
				c->req.http.minor_version = 1;
				conn_put_error(c, status,
				    why != NULL ? why : "malformed request");
				continue;
			}
			total = h->head_len + (size_t)h->content_length;
			if (c->in.len < total) {
				/* The body timeout runs from here. */
				if (c->head_ms == 0)
					c->head_ms = orch_mono_ms();
				if (c->eof) {
					conn_close(c);
					return;
				}
				if (h->expect_continue && !c->continue_sent) {
					conn_put_continue(c);
					c->continue_sent = true;
					continue;
				}
				if (buf_reserve(&c->in, total) != ORCH_OK) {
					c->close_after = true;
					conn_put_error(c, 503, "out of memory");
					continue;
				}
				break;
			}
			if (!h->keep_alive)
				c->close_after = true;
			c->req.conn = c;
			c->req.body = c->in.p + h->head_len;
			c->req.body_len = (size_t)h->content_length;
			c->req.total_len = total;
			c->req.tag = NULL;
			c->req.t0_ns = orch_mono_ns();
			c->req.parsed = true;
			c->state = C_HANDLING;
			c->in_handler = true;
			c->gw->handler(&c->req, c->gw->arg);
			c->in_handler = false;
		}
	}
	conn_set_events(c);
	conn_timer_update(c);
}

static void
conn_read(struct conn *c)
{
	if (c->state == C_STREAMING) {
		stream_read(c);
		return;
	}
	for (;;) {
		ssize_t n;

		if (c->state == C_READING && c->in.cap - c->in.len < 1024 &&
		    c->in.cap < IN_BUF_MAX) {
			size_t want =
			    c->in.cap > 0 ? c->in.cap * 2 : IN_BUF_MIN;
			if (want > IN_BUF_MAX)
				want = IN_BUF_MAX;
			if (buf_reserve(&c->in, want) != ORCH_OK)
				break;
		}
		if (c->in.len >= c->in.cap)
			break; /* full: the parser will refuse or wait */
		n = conn_recv(c, c->in.p + c->in.len, c->in.cap - c->in.len);
		if (n > 0) {
			if (c->in.len == 0 && c->state == C_READING)
				c->req_start_ms = orch_mono_ms();
			c->in.len += (size_t)n;
			c->last_ms = orch_mono_ms();
			/* Most likely drained; epoll says if not, but not
			 * of what TLS holds. */
			if ((size_t)n < 1024 &&
			    (c->tls == NULL || !orch_gw_tls_pending(c->tls)))
				break;
			continue;
		}
		if (n == 0) {
			c->eof = true;
			break;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			/* Reset: nobody to answer. */
			c->eof = true;
			c->close_after = true;
			c->in.len = c->state == C_READING ? 0 : c->in.len;
		}
		break;
	}
}

/* Advances c's TLS handshake; once it is over, reads what follows. */
static void
conn_handshake(struct conn *c)
{
	char why[160], addr[INET6_ADDRSTRLEN + 8];
	int rc =
	    orch_gw_tls_handshake(c->tls, &c->hs_want_write, why, sizeof(why));

	if (rc == ORCH_EAGAIN) {
		conn_set_events(c);
		return;
	}
	if (rc != ORCH_OK) {
		/* A client that does not trust the certificate ends here:
		 * its business, and not worth more than a debug line. */
		peer_addr(c->fd, addr, sizeof(addr));
		orch_debug(
		    "gateway", "TLS handshake with %s failed: %s", addr, why);
		conn_close(c);
		return;
	}
	c->handshaking = false;
	c->last_ms = orch_mono_ms();
	conn_read(c);
	conn_drive(c);
}

static void
accept_all(struct orch_gw *gw)
{
	for (;;) {
		int fd =
		    accept4(gw->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct epoll_event e = {0};
		struct conn *c;
		int one = 1;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE) {
				/* Level-triggered: pause, or the loop spins. */
				orch_warn("gateway",
				    "out of file descriptors: "
				    "pausing accept for 100 ms");
				epoll_ctl(
				    gw->epfd, EPOLL_CTL_DEL, gw->lfd, NULL);
				gw->listen_paused = true;
				gw->listen_resume_ms = orch_mono_ms() + 100;
			}
			return;
		}
		if (gw->n_conns >= gw->opts.max_conns && gw->tls != NULL) {
			/* No HTTP answer can go before a handshake. */
			close(fd);
			continue;
		}
		if (gw->n_conns >= gw->opts.max_conns) {
			static const char body[] =
			    "{\"error\":\"too many connections; try again "
			    "later\"}\n";
			char busy[256];
			int n = snprintf(busy, sizeof(busy),
			    "HTTP/1.1 503 Service Unavailable\r\n"
			    "Content-Type: application/json\r\n"
			    "Content-Length: %zu\r\nConnection: "
			    "close\r\n\r\n%s",
			    sizeof(body) - 1, body);

			(void)!send(fd, busy, (size_t)n, MSG_NOSIGNAL);
			close(fd);
			continue;
		}
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			close(fd);
			continue;
		}
		if (gw->tls != NULL &&
		    (c->tls = orch_gw_tls_conn_new(gw->tls, fd)) == NULL) {
			close(fd);
			free(c);
			continue;
		}
		c->handshaking = c->tls != NULL;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->gw = gw;
		c->fd = fd;
		c->state = C_READING;
		c->tkind = T_NONE;
		c->born_ms = c->last_ms = orch_mono_ms();
		c->events = EPOLLIN;
		e.events = EPOLLIN;
		e.data.ptr = c;
		if (epoll_ctl(gw->epfd, EPOLL_CTL_ADD, fd, &e) != 0) {
			orch_gw_tls_conn_free(c->tls);
			close(fd);
			free(c);
			continue;
		}
		c->next = gw->conns;
		if (gw->conns != NULL)
			gw->conns->prev = c;
		gw->conns = c;
		gw->n_conns++;
		conn_timer_update(c);
	}
}

/* What c's expired timer of kind calls for. */
static void
conn_expire(struct conn *c, enum timer_kind kind)
{
	char addr[INET6_ADDRSTRLEN + 8];

	atomic_fetch_add_explicit(
	    &c->gw->expired[kind], 1, memory_order_relaxed);
	if (c->state == C_STREAMING) {
		/* A stream's producer hears why, and the operator too: its
		 * client is not simply done. */
		orch_warn("gateway",
		    "closing the stream to %s: its client read nothing for "
		    "%d ms (%zu bytes waiting)",
		    c->stream != NULL ? c->stream->peer : "a client",
		    c->gw->timeout_ms[kind], c->out.len - c->out.off);
		c->close_why = "the client stopped reading";
		conn_close(c);
		return;
	}
	/* An idle close is routine; the others say something of the client. */
	if (kind != T_IDLE) {
		static const char *const why[T_KINDS] = {
		    [T_HANDSHAKE] = "did not finish its TLS handshake",
		    [T_HEADER] = "did not send a request head",
		    [T_BODY] = "did not send a request body",
		    [T_WRITE] = "took no byte of its answer",
		};

		peer_addr(c->fd, addr, sizeof(addr));
		orch_debug("gateway",
		    "closing the connection of %s: it %s in %d ms", addr,
		    why[kind], c->gw->timeout_ms[kind]);
	}
	switch (kind) {
	case T_HEADER:
	case T_BODY:
		c->close_after = true;
		conn_put_error(c, 408,
		    kind == T_HEADER ? "request head not received in time"
		                     : "request body not received in time");
		conn_drive(c);
		break;
	default:
		/* A handshake (nothing can be answered before it), an idle
		 * connection, or a client that stopped reading its answer. */
		conn_close(c);
		break;
	}
}

/* Runs the expired timers and resumes a paused accept.  Returns how long
 * epoll_wait may sleep: until the earliest deadline, or -1. */
static int
timers_run(struct orch_gw *gw, int64_t now)
{
	int64_t next = -1;

	if (gw->listen_paused && gw->lfd >= 0 && now >= gw->listen_resume_ms) {
		struct epoll_event e = {.events = EPOLLIN};

		e.data.ptr = &gw->listen_tag;
		epoll_ctl(gw->epfd, EPOLL_CTL_ADD, gw->lfd, &e);
		gw->listen_paused = false;
	}
	if (gw->listen_paused)
		next = gw->listen_resume_ms;
	for (int k = 0; k < T_KINDS; k++) {
		struct conn *c;

		/* An expiry moves c to another kind or closes it. */
		while ((c = gw->timers[k].head) != NULL && c->deadline <= now) {
			timer_unlink(c);
			conn_expire(c, (enum timer_kind)k);
		}
	}
	for (int k = 0; k < T_KINDS; k++) {
		struct conn *c = gw->timers[k].head;

		if (c != NULL && (next < 0 || c->deadline < next))
			next = c->deadline;
	}
	if (next < 0)
		return -1;
	/* Rounded up: waking a millisecond early would only spin. */
	return next - now > INT32_MAX ? INT32_MAX : (int)(next - now) + 1;
}

void
orch_gw_stats(struct orch_gw *gw, struct orch_gw_stats *out)
{
	_Atomic uint64_t *e = gw->expired;

	out->timeouts_handshake =
	    atomic_load_explicit(&e[T_HANDSHAKE], memory_order_relaxed);
	out->timeouts_header =
	    atomic_load_explicit(&e[T_HEADER], memory_order_relaxed);
	out->timeouts_body =
	    atomic_load_explicit(&e[T_BODY], memory_order_relaxed);
	out->timeouts_idle =
	    atomic_load_explicit(&e[T_IDLE], memory_order_relaxed);
	out->timeouts_write =
	    atomic_load_explicit(&e[T_WRITE], memory_order_relaxed);
}

/*
 * The first stop: no new connection is taken (the listening socket
 * closes, so clients are refused rather than left waiting), idle
 * connections and streams close, and every other connection closes once
 * the request it is reading or being answered is answered.
 */
static void
drain_start(struct orch_gw *gw, int64_t now)
{
	struct conn *c, *next;
	int busy = 0;

	gw->draining = true;
	gw->drain_deadline_ms = now + gw->opts.drain_timeout_ms;
	if (gw->lfd >= 0) {
		epoll_ctl(gw->epfd, EPOLL_CTL_DEL, gw->lfd, NULL);
		close(gw->lfd);
		gw->lfd = -1;
	}
	for (c = gw->conns; c != NULL; c = next) {
		next = c->next;
		c->close_after = true;
		if (c->handshaking || c->state == C_STREAMING ||
		    (c->state == C_READING && c->in.len == 0)) {
			c->close_why = "the manager is shutting down";
			conn_close(c);
		} else {
			busy++;
		}
	}
	if (busy > 0)
		orch_info("gateway",
		    "stopping: answering the %d request%s in flight (at most "
		    "%d ms)",
		    busy, busy == 1 ? "" : "s", gw->opts.drain_timeout_ms);
}

/*
 * Called each loop turn once stopping: starts the drain at the first
 * stop and says whether the loop goes on, which it does not once no
 * connection remains, the deadline has passed or a second stop came.
 * *wait_ms, the timers' sleep (-1: none due), is cut to the deadline so
 * that the loop wakes for it even with no timer armed.
 */
static bool
drain_goes_on(struct orch_gw *gw, int *wait_ms)
{
	int64_t now = orch_mono_ms(), left;

	if (!gw->draining)
		drain_start(gw, now);
	if (gw->conns == NULL)
		return false;
	if (gw->stopping > 1 || now >= gw->drain_deadline_ms) {
		orch_warn("gateway",
		    "stopping: %d connection%s still unanswered, closed",
		    gw->n_conns, gw->n_conns == 1 ? "" : "s");
		return false;
	}
	/* At most drain_timeout_ms, an int. */
	left = gw->drain_deadline_ms - now;
	if (*wait_ms < 0 || left < *wait_ms)
		*wait_ms = (int)left;
	return true;
}

int
orch_gw_run(struct orch_gw *gw)
{
	struct epoll_event evs[128];
	int wait_ms = -1;

	for (;;) {
		int n;

		if (gw->stopping > 0 && !drain_goes_on(gw, &wait_ms))
			break;
		n = epoll_wait(gw->epfd, evs, 128, wait_ms);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			orch_error(
			    "gateway", "epoll_wait: %s", strerror(errno));
			return orch_err_from_errno(errno);
		}
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;
			struct conn *c;

			if (p == &gw->listen_tag) {
				accept_all(gw);
				continue;
			}
			if (p == &gw->wake_tag) {
				run_posts(gw);
				continue;
			}
			c = p;
			if (c->fd < 0)
				continue; /* closed earlier in this turn */
			if (c->handshaking) {
				conn_handshake(c);
				continue;
			}
			if ((evs[i].events & (EPOLLERR | EPOLLHUP)) &&
			    c->state == C_HANDLING) {
				/* Both directions are gone: no one to answer.
				 */
				conn_close(c);
				continue;
			}
			if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
				conn_read(c);
			conn_drive(c);
		}
		wait_ms = timers_run(gw, orch_mono_ms());
		graveyard_empty(gw);
	}
	return ORCH_OK;
}

void
orch_gw_free(struct orch_gw *gw)
{
	if (gw == NULL)
		return;
	/* Handlers still waiting may post their answers: run them first. */
	if (gw->wfd >= 0)
		run_posts(gw);
	while (gw->conns != NULL) {
		gw->conns->close_why = "the manager is shutting down";
		conn_close(gw->conns);
	}
	graveyard_empty(gw);
	if (gw->epfd >= 0)
		close(gw->epfd);
	if (gw->wfd >= 0)
		close(gw->wfd);
	if (gw->lfd >= 0)
		close(gw->lfd);
	orch_gw_tls_free(gw->tls);
	pthread_mutex_destroy(&gw->mtx);
	free(gw);
}

const struct orch_http_request *
orch_gw_req_http(const struct orch_gw_req *req)
{
	return &req->http;
}

const char *
orch_gw_req_body(const struct orch_gw_req *req, size_t *len)
{
	*len = req->body_len;
	return req->body;
}

struct orch_gw *
orch_gw_req_gw(const struct orch_gw_req *req)
{
	return req->conn->gw;
}

void
orch_gw_respond(struct orch_gw_req *req, int status, const char *content_type,
    const char *body, size_t len, const char *extra_headers)
{
	struct conn *c = req->conn;

	if (c->dead) {
		conn_bury(c);
		return;
	}
	if (conn_put_response(
	        c, status, content_type, body, len, extra_headers) != ORCH_OK) {
		c->close_after = true;
		c->state = C_WRITING;
	}
	/* From inside the handler conn_drive() is on the stack and goes on. */
	if (!c->in_handler)
		conn_drive(c);
}

void
orch_gw_req_tag(struct orch_gw_req *req, const void *tag)
{
	req->tag = tag;
}

/* ---- streams ---- */

size_t
orch_gw_chunk_head(size_t len, char *buf, size_t buflen)
{
	int n = snprintf(buf, buflen, "%zx\r\n", len);

	return n > 0 && (size_t)n < buflen ? (size_t)n : 0;
}

/* Reads what a stream's client sends, to learn when it leaves; the bytes
 * themselves mean nothing (a stream is the last answer).  Over HTTPS they
 * go through TLS like any read: the socket carries records, and a close
 * notification is the client leaving.  Reading until EAGAIN also drains
 * what TLS had decrypted already, which no epoll event would announce. */
static void
stream_read(struct conn *c)
{
	char scratch[4096];

	for (;;) {
		ssize_t n = conn_recv(c, scratch, sizeof(scratch));

		if (n > 0) {
			c->stream_in += (size_t)n;
			if (c->stream_in > STREAM_IN_MAX) {
				c->eof = true;
				c->close_why = "the client sent data while "
				               "streaming";
				return;
			}
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		c->eof = true;
		c->close_why = n == 0 ? "the client closed the connection"
		                      : "the connection failed";
		return;
	}
}

/*
 * Sends what a stream has queued, closes the connection when the client
 * left or the producer ended and all is out, and asks the producer for
 * more when it waits for room.
 */
static void
stream_drive(struct conn *c)
{
	struct orch_gw_stream *s = c->stream;

	if (c->fd < 0 || s == NULL)
		return;
	for (int round = 0; round < 8; round++) {
		int rc = conn_flush(c);

		if (rc == ORCH_ECLOSED || c->eof) {
			if (c->close_why == NULL)
				c->close_why = "the connection failed";
			conn_close(c);
			return;
		}
		if (rc == ORCH_OK && s->ended) {
			conn_close(c);
			return;
		}
		/* An ended stream's producer is gone: never call it. */
		if (s->ended || !s->want_writable ||
		    c->out.len - c->out.off > s->low_water ||
		    s->ops.writable == NULL)
			break;
		s->want_writable = false;
		c->in_stream = true;
		s->ops.writable(s, s->arg);
		c->in_stream = false;
		/* A write past the cap closed it. */
		if (c->fd < 0)
			return;
	}
	conn_set_events(c);
	conn_timer_update(c);
}

/* Appends data to c->out, moving what is unsent to the front first when
 * that makes room. */
static int
out_append(struct conn *c, const void *data, size_t len)
{
	if (c->out.off > 0 && c->out.len + len > c->out.cap) {
		memmove(
		    c->out.p, c->out.p + c->out.off, c->out.len - c->out.off);
		c->out.len -= c->out.off;
		c->out.off = 0;
	}
	if (buf_reserve(&c->out, c->out.len + len) != ORCH_OK)
		return ORCH_ENOMEM;
	if (len > 0)
		memcpy(c->out.p + c->out.len, data, len);
	c->out.len += len;
	return ORCH_OK;
}

/*
 * Sends what it can now, from a producer's call, unless the loop is
 * already on it (it sends when the producer returns).  Never calls the
 * producer back: writable() comes from the loop alone, so a producer is
 * never re-entered from its own write.  A failed send is left for the
 * loop, which sees the socket's error.
 */
static void
stream_kick(struct conn *c)
{
	if (c->in_handler || c->in_stream)
		return;
	if (conn_flush(c) == ORCH_OK && c->stream->ended) {
		conn_close(c);
		return;
	}
	conn_set_events(c);
	conn_timer_update(c);
}

int
orch_gw_stream_start(struct orch_gw_req *req, int status,
    const char *content_type, const char *extra_headers,
    const struct orch_gw_stream_ops *ops, void *arg,
    struct orch_gw_stream **out)
{
	struct conn *c = req->conn;
	struct orch_gw_stream *s;
	char head[1024];
	int n, one = 1, sndbuf;

	*out = NULL;
	if (c->dead) {
		conn_bury(c);
		return ORCH_ECLOSED;
	}
	if (c->gw->draining) {
		/* A request that arrived during the drain: a stream would
		 * outlive it, when the drain closes streams at once. */
		c->close_after = true;
		conn_put_error(c, 503, "the manager is shutting down");
		if (!c->in_handler)
			conn_drive(c);
		return ORCH_ECLOSED;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		c->close_after = true;
		conn_put_error(c, 503, "out of memory");
		if (!c->in_handler)
			conn_drive(c);
		return ORCH_ENOMEM;
	}
	s->conn = c;
	s->ops = *ops;
	s->arg = arg;
	s->chunked = c->req.http.minor_version >= 1;
	s->max = c->gw->opts.stream_buf_max;
	s->low_water = s->max / 4;
	peer_addr(c->fd, s->peer, sizeof(s->peer));
	refresh_date(c->gw);
	n = snprintf(head, sizeof(head),
	    "HTTP/1.1 %d %s\r\nServer: orch/" ORCH_VERSION "\r\n%s"
	    "Content-Type: %s\r\n%sCache-Control: no-cache\r\n"
	    "Connection: close\r\n%s\r\n",
	    status, orch_http_reason(status), c->gw->date, content_type,
	    s->chunked ? "Transfer-Encoding: chunked\r\n" : "",
	    extra_headers != NULL ? extra_headers : "");
	conn_observe(c, status);
	/* The request's bytes, and any pipelined behind it, are done with:
	 * nothing follows a stream on its connection. */
	c->in.len = 0;
	c->close_after = true;
	c->stream = s;
	c->state = C_STREAMING;
	c->last_ms = orch_mono_ms();
	/* Notices a client that vanished without a word (no FIN, no RST)
	 * while no event is written to it. */
	setsockopt(c->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	/* The kernel's buffer for it is capped too (autotuning would let it
	 * grow to megabytes for a client that reads nothing). */
	sndbuf = s->max > INT_MAX ? INT_MAX : (int)s->max;
	setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	if (n < 0 || (size_t)n >= sizeof(head) ||
	    out_append(c, head, (size_t)n) != ORCH_OK) {
		c->close_why = NULL;
		s->ended = true; /* freed with the connection, no closed() */
		conn_close(c);
		return ORCH_ENOMEM;
	}
	stream_kick(c);
	*out = s;
	return ORCH_OK;
}

int
orch_gw_stream_write(struct orch_gw_stream *s, const void *data, size_t len)
{
	struct conn *c = s->conn;
	char frame[32];
	size_t fl = 0, pending;

	if (c == NULL || s->ended || c->fd < 0)
		return ORCH_ECLOSED;
	if (len == 0)
		return ORCH_OK;
	if (s->chunked)
		fl = orch_gw_chunk_head(len, frame, sizeof(frame));
	/* Over HTTPS this counts the record TLS could not send yet as well:
	 * its bytes leave c->out only once the socket took all of it (see
	 * orch_gw_tls_send). */
	pending = c->out.len - c->out.off;
	if (pending > 0 && pending + fl + len + 2 > s->max) {
		orch_warn("gateway",
		    "closing the stream to %s: its client does not keep up "
		    "(%zu bytes unsent, at most %zu)",
		    s->peer, pending, s->max);
		/* The producer learns it from the return code. */
		c->close_why = NULL;
		conn_close(c);
		return ORCH_ETOOBIG;
	}
	if (pending == 0)
		c->last_ms = orch_mono_ms(); /* the stall clock starts now */
	if (out_append(c, frame, fl) != ORCH_OK ||
	    out_append(c, data, len) != ORCH_OK ||
	    (s->chunked && out_append(c, "\r\n", 2) != ORCH_OK)) {
		orch_warn("gateway", "closing the stream to %s: out of memory",
		    s->peer);
		c->close_why = NULL;
		conn_close(c);
		return ORCH_ENOMEM;
	}
	if (c->out.len - c->out.off > s->low_water)
		s->want_writable = true;
	stream_kick(c);
	return ORCH_OK;
}

size_t
orch_gw_stream_pending(const struct orch_gw_stream *s)
{
	if (s->conn == NULL)
		return 0;
	return s->conn->out.len - s->conn->out.off;
}

size_t
orch_gw_stream_room(const struct orch_gw_stream *s)
{
	/* A chunk's head ("%zx\r\n", at most 18 bytes) and its CRLF. */
	const size_t framing = 20;
	size_t pending = orch_gw_stream_pending(s);

	if (s->conn == NULL || s->ended || s->conn->fd < 0)
		return 0;
	if (pending + framing >= s->max)
		return 0;
	return s->max - pending - framing;
}

int
orch_gw_stream_full(const struct orch_gw_stream *s)
{
	return orch_gw_stream_pending(s) > s->low_water;
}

int
orch_gw_stream_open(const struct orch_gw_stream *s)
{
	return s->conn != NULL && s->conn->fd >= 0 && !s->conn->eof;
}

const char *
orch_gw_stream_peer(const struct orch_gw_stream *s)
{
	return s->peer;
}

void
orch_gw_stream_end(struct orch_gw_stream *s)
{
	orch_gw_stream_end_trailers(s, NULL);
}

void
orch_gw_stream_end_trailers(struct orch_gw_stream *s, const char *trailers)
{
	struct conn *c;

	if (s == NULL)
		return;
	if ((c = s->conn) == NULL) {
		free(s);
		return;
	}
	s->ended = true;
	if (s->chunked) {
		(void)out_append(c, "0\r\n", 3);
		if (trailers != NULL)
			(void)out_append(c, trailers, strlen(trailers));
		(void)out_append(c, "\r\n", 2);
	}
	stream_kick(c);
}

void
orch_gw_stream_end_error(
    struct orch_gw_stream *s, const char *name, const char *msg)
{
	char tr[512];
	int n = snprintf(tr, sizeof(tr) - 3, "%s: ", name);
	size_t o = n > 0 && (size_t)n < sizeof(tr) - 3 ? (size_t)n : 0;

	for (const char *p = msg; *p != '\0' && o + 3 < sizeof(tr); p++)
		tr[o++] = (unsigned char)*p < 0x20 || *p == 0x7f ? ' ' : *p;
	tr[o++] = '\r';
	tr[o++] = '\n';
	tr[o] = '\0';
	orch_gw_stream_end_trailers(s, tr);
}
