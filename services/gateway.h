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
 * no byte of its answer (or of a stream, while bytes wait for it) for the
 * write timeout is closed.  Timers cost O(1) per change and per expiry,
 * not a scan of every connection.
 *
 * Streams: instead of one answer, a handler may start a streamed one
 * (orch_gw_stream_start) and write it piece by piece for as long as it
 * likes, chunked (HTTP/1.1) or delimited by the close (HTTP/1.0).  A
 * stream is the last answer on its connection: requests pipelined behind
 * it are dropped, and a client that closes (or shuts down its sending
 * side) has left.  A stream with nothing waiting for its client is on no
 * timer (neither idle nor write), so a quiet follow stream lasts; one
 * whose client takes no byte of what waits for the write timeout is
 * closed, logged.  Its unsent bytes are capped (stream_buf_max): a write
 * that would pass the cap closes the connection, logged, so that a client
 * that does not keep up costs no more memory than that (and the kernel's
 * send buffer of its socket is set to the cap as well).  Over HTTPS the
 * same: what the client sends is read through TLS (its close
 * notification is its leaving), and the bytes of a TLS record the socket
 * has not taken yet still count as unsent, so the cap covers them; TLS's
 * own buffers are a fixed size per connection.
 */
#ifndef ORCH_GATEWAY_H
#define ORCH_GATEWAY_H

#include <stddef.h>

#include "http_parser.h"

struct orch_gw;
struct orch_gw_req;
struct orch_gw_stream;

/* What the observer is told of each answer (for metrics). */
struct orch_gw_answer {
	const void *tag;    /* orch_gw_req_tag()'s, NULL when none was set
	                     * (the gateway answered itself, or no route) */
	const char *method; /* the request's method, not NUL-terminated */
	size_t method_len;  /* 0 when the request was not parsed */
	int status;
	int64_t elapsed_ns; /* from the request's dispatch to its answer
	                     * (a stream: to its head) */
};

/* Called on the loop thread for every answer given, the gateway's own
 * errors included.  Must be quick. */
typedef void (*orch_gw_observe_fn)(
    void *arg, const struct orch_gw_answer *answer);

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
	int body_timeout_ms;   /* 408 when the body is not in this long after
	                        * the head */
	int idle_timeout_ms;   /* an idle keep-alive connection is closed */
	int write_timeout_ms;  /* closed when no byte of an answer, or of a
	                        * stream's waiting bytes, could be sent for
	                        * this long */
	size_t stream_buf_max; /* a stream's unsent bytes; default 1 MiB */
	orch_gw_observe_fn observe; /* NULL: none */
	void *observe_arg;
	/* HTTPS: the certificate (PEM chain) and its key; both NULL (the
	 * default): plain HTTP. */
	const char *tls_cert;
	const char *tls_key;
	/* After orch_gw_stop(): the most orch_gw_run() waits for the
	 * answers of requests in flight; default 10000. */
	int drain_timeout_ms;
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

/* Connections closed because a timeout ran out, by timeout, since the
 * gateway was made.  A stream whose client stopped reading counts as a
 * write timeout. */
struct orch_gw_stats {
	uint64_t timeouts_handshake; /* the TLS handshake (header timeout) */
	uint64_t timeouts_header;    /* 408: a request head too slow */
	uint64_t timeouts_body;      /* 408: a request body too slow */
	uint64_t timeouts_idle;      /* an idle keep-alive connection */
	uint64_t timeouts_write;     /* a client that took no byte */
};

/* Fills out with the counts.  Callable from any thread. */
void orch_gw_stats(struct orch_gw *gw, struct orch_gw_stats *out /* OUT */);

/*
 * Runs the event loop on the calling thread until orch_gw_stop() and the
 * drain that follows: new connections are refused at once, idle ones and
 * streams closed, and the requests in flight (being read or being
 * answered) are answered, each on a connection that then closes, for at
 * most drain_timeout_ms (the timeouts still hold meanwhile: a request too
 * slow to arrive gets its 408).  Returns ORCH_OK or an error from epoll.
 */
int orch_gw_run(struct orch_gw *gw);

/* Asks the loop to drain and return; a second call ends the drain at
 * once.  Async-signal-safe; callable from any thread. */
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

/* Tags req for the observer (the route that serves it, say).  tag must
 * outlive the gateway. */
void orch_gw_req_tag(struct orch_gw_req *req, const void *tag);

/*
 * Answers req with status, a Content-Type and body (copied).  extra_headers,
 * when not NULL, is inserted verbatim and must end in CRLF ("Allow: GET\r\n").
 * Must run on the loop thread; req is invalid afterwards.  When the client
 * has gone away meanwhile the answer is dropped.
 */
void orch_gw_respond(struct orch_gw_req *req, int status,
    const char *content_type, const char *body, size_t len,
    const char *extra_headers);

/* ---- streamed answers ---- */

/* What a stream's producer is told, on the loop thread. */
struct orch_gw_stream_ops {
	/* The unsent bytes fell to a quarter of the cap after a write left
	 * more than that: the producer may write more.  May be NULL. */
	void (*writable)(struct orch_gw_stream *s, void *arg);
	/* The stream ended before the producer ended it: the client left
	 * or failed, stopped reading, or the gateway is closing; why says
	 * which.  Writes now fail; the producer must still call
	 * orch_gw_stream_end() (here or later), which frees s.  Not called
	 * from inside the producer's own orch_gw_stream_write(). */
	void (*closed)(struct orch_gw_stream *s, void *arg, const char *why);
};

/*
 * Answers req with the head of a stream: status, content_type,
 * extra_headers (as orch_gw_respond()), "Transfer-Encoding: chunked" for
 * HTTP/1.1 and "Connection: close".  Must run on the loop thread; req is
 * invalid afterwards.  ops is copied; arg is handed to its functions.
 * Returns ORCH_OK with *out (OUT), which the producer ends with
 * orch_gw_stream_end(); ORCH_ECLOSED when the client went away meanwhile
 * or the gateway is draining after orch_gw_stop() (answered 503 then):
 * the request is then done with, nothing to end; ORCH_ENOMEM (the
 * connection is closed).
 */
int orch_gw_stream_start(struct orch_gw_req *req, int status,
    const char *content_type, const char *extra_headers,
    const struct orch_gw_stream_ops *ops, void *arg,
    struct orch_gw_stream **out /* OUT */);

/*
 * Queues len bytes of s (one chunk; len 0 writes nothing) and starts
 * sending them.  On the loop thread only: other threads hand their data
 * over with orch_gw_post().  Returns ORCH_OK; ORCH_ECLOSED when the
 * stream has closed; ORCH_ETOOBIG when the unsent bytes would pass the
 * cap (a write into an empty buffer is taken whatever its size): the
 * connection is then closed, with the client's address and the reason
 * logged, and closed() is not called.
 */
int orch_gw_stream_write(
    struct orch_gw_stream *s, const void *data, size_t len);

/* The bytes of s not yet sent (0 once closed). */
size_t orch_gw_stream_pending(const struct orch_gw_stream *s);

/* The most bytes one orch_gw_stream_write() of s may carry now without
 * passing the cap, its chunk's framing counted (0 once closed): a
 * producer that cuts what it writes into pieces of at most this never
 * has its stream closed for a write too large. */
size_t orch_gw_stream_room(const struct orch_gw_stream *s);

/* Whether more than a quarter of the cap waits unsent: a producer that
 * writes at its own pace stops here, and writable() says when to go on. */
int orch_gw_stream_full(const struct orch_gw_stream *s);

/* Whether the client still reads s (closed() may be pending). */
int orch_gw_stream_open(const struct orch_gw_stream *s);

/* The client's address, "ADDR:PORT", for log lines. */
const char *orch_gw_stream_peer(const struct orch_gw_stream *s);

/*
 * The producer is done with s: what is queued is sent, then the last
 * chunk, then the connection closes.  On the loop thread; s is invalid
 * afterwards.  NULL is a no-op.
 */
void orch_gw_stream_end(struct orch_gw_stream *s);

/* orch_gw_stream_end() with trailer fields after the last chunk:
 * trailers (NULL: none) is inserted verbatim and each of its lines ends
 * in CRLF ("X-Orch-Logs-Error: ...\r\n").  An HTTP/1.0 stream, which has
 * no chunks, has no trailers either: it just ends. */
void orch_gw_stream_end_trailers(
    struct orch_gw_stream *s, const char *trailers);

/* orch_gw_stream_end_trailers() with the one trailer field "name: msg",
 * msg made one line of printable text (a control character becomes a
 * space) and cut to a few hundred bytes: how a stream says why it ends
 * short. */
void orch_gw_stream_end_error(
    struct orch_gw_stream *s, const char *name, const char *msg);

/* Writes the head of a chunk of len bytes ("1a\r\n", hexadecimal) into
 * buf (at least 19 bytes).  Returns its length. */
size_t orch_gw_chunk_head(size_t len, char *buf, size_t buflen);

#endif
