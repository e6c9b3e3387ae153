/*
 * gateway.h: the manager's HTTP/1.1 server on raw TCP sockets.
 *
 * One thread runs an epoll loop over every connection; no thread per
 * connection.  Each connection handles one request at a time: pipelined
 * requests wait in its buffer, so answers leave in request order.  A handler
 * answers at once with orch_gw_respond(), or later: work done on another
 * thread comes back to the loop through orch_gw_post(), and the answer is
 * given there.
 *
 * Limits: the parser's (http_parser.h) on request line, headers and body;
 * a cap on open connections (503 past it; over HTTPS, closed at once); and
 * four timeouts, so that slow or idle clients cannot hold connections
 * forever: a request's head must arrive within the header timeout of its
 * first byte (a client trickling a byte at a time included) and its body
 * within the body timeout of its head, else 408 and close; a TLS
 * handshake within the header timeout, else close; a keep-alive
 * connection idle for the idle timeout is closed; a client that takes
 * no byte of its answer for the write timeout is closed.  Timers cost
 * O(1) per change and per expiry, not a scan of every connection.
 */
#ifndef ORCH_GATEWAY_H
#define ORCH_GATEWAY_H

#include <stddef.h>

#include "http_parser.h"

struct orch_gw;
struct orch_gw_req;

/* The defaults of struct orch_gw_opts. */
#define ORCH_GW_MAX_CONNS 4096
#define ORCH_GW_HEADER_TIMEOUT_MS 10000
#define ORCH_GW_BODY_TIMEOUT_MS 10000
#define ORCH_GW_IDLE_TIMEOUT_MS 60000
#define ORCH_GW_WRITE_TIMEOUT_MS 30000

struct orch_gw_opts {
	const char *listen; /* "HOST:PORT"; "[::1]:PORT" for IPv6 */
	int max_conns;      /* 503 beyond */
	/* 408 when a request's head is not in this long after its first
	 * byte; also the time a TLS handshake may take. */
	int header_timeout_ms;
	int body_timeout_ms;  /* 408 when the body is not in this long after
	                       * the head */
	int idle_timeout_ms;  /* an idle keep-alive connection is closed */
	int write_timeout_ms; /* closed when no byte of an answer could be
	                       * sent for this long */
	/* HTTPS: the certificate (PEM chain) and its key; both NULL (the
	 * default): plain HTTP. */
	const char *tls_cert;
	const char *tls_key;
};

/* Called on the loop thread for each complete request.  The handler must
 * eventually call orch_gw_respond() exactly once for req, on the loop
 * thread, now or from a function run by orch_gw_post(). */
typedef void (*orch_gw_handler_fn)(struct orch_gw_req *req, void *arg);

/* Fills opts with the defaults above. */
void orch_gw_opts_default(struct orch_gw_opts *opts /* OUT */);

/*
 * Creates the gateway and binds its listening socket.  Returns ORCH_OK,
 * ORCH_EINVAL for a malformed listen address or an unusable certificate
 * or key (err says why), or the bind or file error translated (err says
 * "cannot listen on HOST:PORT: <reason>", or which file).
 */
int orch_gw_new(const struct orch_gw_opts *opts, orch_gw_handler_fn handler,
    void *arg, struct orch_gw **out /* OUT */, char *err, size_t errlen);

/* The port actually bound (useful when the address asked for port 0). */
int orch_gw_port(const struct orch_gw *gw);

/* Runs the event loop on the calling thread until orch_gw_stop().
 * Returns ORCH_OK or an error from epoll. */
int orch_gw_run(struct orch_gw *gw);

/* Asks the loop to return.  Async-signal-safe; callable from any thread. */
void orch_gw_stop(struct orch_gw *gw);

/* Frees the gateway after orch_gw_run() has returned (or was never run),
 * closing every connection.  NULL is a no-op. */
void orch_gw_free(struct orch_gw *gw);

/*
 * A unit of work handed back to the loop thread.  The caller embeds it in
 * its own struct (so posting cannot fail for want of memory) and finds
 * that struct again from it in fn.
 */
struct orch_gw_work {
	void (*fn)(struct orch_gw_work *w);
	struct orch_gw_work *next; /* the gateway's */
};

/* Runs w->fn(w) on the loop thread soon.  Callable from any thread; this
 * is how work finished elsewhere (a store commit) answers its request. */
void orch_gw_post(struct orch_gw *gw, struct orch_gw_work *w);

/* The parsed request head; valid until the answer is given. */
const struct orch_http_request *orch_gw_req_http(const struct orch_gw_req *req);

/* The request body (not NUL-terminated) and its length. */
const char *orch_gw_req_body(
    const struct orch_gw_req *req, size_t *len /* OUT */);

/* The gateway the request arrived on. */
struct orch_gw *orch_gw_req_gw(const struct orch_gw_req *req);

/*
 * Answers req with status, a Content-Type and body (copied).  extra_headers,
 * when not NULL, is inserted verbatim and must end in CRLF ("Allow: GET\r\n").
 * Must run on the loop thread; req is invalid afterwards.  When the client
 * has gone away meanwhile the answer is dropped.
 */
void orch_gw_respond(struct orch_gw_req *req, int status,
    const char *content_type, const char *body, size_t len,
    const char *extra_headers);

#endif
