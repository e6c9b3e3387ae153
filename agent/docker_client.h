/*
 * docker_client.h: a small HTTP client for the Docker Engine API, spoken
 * over the daemon's unix socket with libcurl (CURLOPT_UNIX_SOCKET_PATH).
 *
 * Only docker.c uses it.  It knows HTTP and the socket, not Docker's
 * objects: it sends one request and hands back the status and the body,
 * or, for streaming answers (events, image pulls), each line as it comes.
 * Every answer is capped while it is received, so a daemon (or anything
 * else listening on the socket) cannot make the agent allocate without
 * bound.  Errors are orch_err codes with a message that names the call:
 *
 *   docker GET /v1.41/info: cannot reach the Docker daemon at
 *   /var/run/docker.sock: No such file or directory
 *
 * Threading: a client is immutable once its API version is set, so any
 * number of threads may call through it at once; each call uses its own
 * curl handle.
 */
#ifndef ORCH_DOCKER_CLIENT_H
#define ORCH_DOCKER_CLIENT_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* The largest answer body of an ordinary call (a long container list is
 * a few hundred KiB; 8 MiB leaves room without trusting the peer). */
#define ORCH_DOCKER_BODY_MAX (8L * 1024 * 1024)

/* The longest line of a streaming answer; a longer one is dropped. */
#define ORCH_DOCKER_LINE_MAX (64 * 1024)

/* Seconds to wait for the socket to accept a connection. */
#define ORCH_DOCKER_CONNECT_TIMEOUT 5

struct orch_docker_client;

/* An answer: its HTTP status and body. */
struct orch_docker_answer {
	long status;
	char *body; /* malloc'd and NUL-terminated; NULL when empty */
	size_t len;
};

/*
 * Lets one thread stop another's streaming call at once: the stream runs
 * on a curl multi handle that orch_docker_cancel_fire() wakes up, instead
 * of waiting for curl's next progress tick.  It also gives the caller a
 * sleep that the same fire interrupts (for reconnect backoff).
 */
struct orch_docker_cancel {
	pthread_mutex_t mu;
	pthread_cond_t cond; /* on CLOCK_MONOTONIC */
	bool stopped;
	CURLM *multi; /* the stream in progress, if any */
};

/* Called with each line of a streaming answer (without its line end,
 * NUL-terminated, never empty).  Returning non-zero ends the stream
 * early, which is not an error. */
typedef int (*orch_docker_line_fn)(void *arg, char *line, size_t len);

/* Creates a client of the daemon listening on socket_path.  Sends nothing
 * yet.  Returns ORCH_OK or ORCH_ENOMEM. */
int orch_docker_client_new(
    const char *socket_path, struct orch_docker_client **out /* OUT */);

/* Frees a client.  NULL is a no-op. */
void orch_docker_client_free(struct orch_docker_client *c);

/* The socket path the client was made with. */
const char *orch_docker_client_socket(const struct orch_docker_client *c);

/* Writes the name of a call for messages, "docker GET /v1.41/info", into
 * buf: the method and the path without its query (which may be long and
 * says little to a person). */
void orch_docker_client_call_name(const struct orch_docker_client *c,
    const char *method, const char *path, char *buf, size_t len);

/* Prefixes every later path with "/v<version>" ("1.41").  Before it is
 * set, paths go out as given (for /_ping and /version).  Call it before
 * the client is shared between threads.  Returns ORCH_OK or ORCH_EINVAL. */
int orch_docker_client_version_set(
    struct orch_docker_client *c, const char *version);

/*
 * Sends method (GET, POST or DELETE) to path (with its query, already
 * URL-encoded) and collects the answer into *ans, whatever its status.
 * body, when not NULL, is sent as application/json.  timeout_s bounds the
 * whole call (0: none).  Returns ORCH_OK when an HTTP answer arrived
 * whole (the caller judges its status); otherwise an error code with err
 * naming the call: ORCH_EUNAVAIL (socket unreachable), ORCH_ETIMEDOUT,
 * ORCH_EPROTO (not HTTP, cut short, or larger than ORCH_DOCKER_BODY_MAX),
 * ORCH_ENOMEM, ORCH_EIO.  On error *ans is empty.  Free *ans with
 * orch_docker_answer_free() in either case.
 */
int orch_docker_client_call(struct orch_docker_client *c, const char *method,
    const char *path, const char *body, long timeout_s,
    struct orch_docker_answer *ans /* OUT */, char *err, size_t errlen);

/*
 * Like orch_docker_client_call, for answers that are streams of lines:
 * when the status is 2xx, each line goes to fn as it arrives and ans->body
 * stays empty; otherwise the body (capped like an ordinary answer) is
 * collected into ans->body.  A line longer than ORCH_DOCKER_LINE_MAX is
 * dropped (logged), the stream goes on.  When cancel is not NULL and is
 * fired (before or during the call), the call returns ORCH_ECLOSED
 * promptly.  A stream that ends because the peer closed it after a
 * complete answer is ORCH_OK; one cut short is ORCH_EPROTO or ORCH_EIO.
 */
int orch_docker_client_stream(struct orch_docker_client *c, const char *method,
    const char *path, long timeout_s, struct orch_docker_cancel *cancel,
    orch_docker_line_fn fn, void *arg, struct orch_docker_answer *ans /* OUT */,
    char *err, size_t errlen);

/* Called with each piece of a raw streaming answer as it arrives (not
 * NUL-terminated; len > 0), and, for orch_docker_client_stream_ticks
 * only, with data NULL and len 0 as a tick: once when the answer's
 * status says the stream is open, before any byte of it, then after
 * every read and every quiet second.  Returning non-zero ends the stream
 * early, which is not an error. */
typedef int (*orch_docker_chunk_fn)(void *arg, const char *data, size_t len);

/*
 * Like orch_docker_client_stream, for streaming answers that are not
 * lines (the output of an exec, which holds binary frame headers): when
 * the status is 2xx the body goes to chunk as it arrives, otherwise it
 * is collected into ans->body.  body, when not NULL, is sent as JSON.
 */
int orch_docker_client_stream_raw(struct orch_docker_client *c,
    const char *method, const char *path, const char *body, long timeout_s,
    struct orch_docker_cancel *cancel, orch_docker_chunk_fn chunk, void *arg,
    struct orch_docker_answer *ans /* OUT */, char *err, size_t errlen);

/*
 * Like orch_docker_client_stream_raw without a body or a cancel, for an
 * answer that may stay silent for long (a container's followed logs):
 * fn also gets ticks, so that it can end the stream while no byte comes.
 * *stopped (OUT) says whether fn ended it.  Returns as
 * orch_docker_client_stream; ORCH_OK also when fn ended it.
 */
int orch_docker_client_stream_ticks(struct orch_docker_client *c,
    const char *method, const char *path, long timeout_s,
    orch_docker_chunk_fn fn, void *arg, struct orch_docker_answer *ans,
    int *stopped /* OUT */, char *err, size_t errlen);

/* Frees the body of an answer and empties it.  Safe on an empty answer. */
void orch_docker_answer_free(struct orch_docker_answer *ans);

/*
 * The daemon's own words about a failed call: the "message" of its JSON
 * error body ({"message": "No such container: x"}), or a description of
 * what came instead.  Writes into buf (always NUL-terminated).
 */
void orch_docker_answer_message(
    const struct orch_docker_answer *ans, char *buf, size_t len);

/* Returns ORCH_OK or ORCH_ENOMEM (or another errno translation). */
int orch_docker_cancel_init(struct orch_docker_cancel *cc);
void orch_docker_cancel_fini(struct orch_docker_cancel *cc);

/* Marks cc stopped, wakes the stream in progress and any sleeper. */
void orch_docker_cancel_fire(struct orch_docker_cancel *cc);

bool orch_docker_cancel_stopped(struct orch_docker_cancel *cc);

/* Sleeps ms milliseconds unless cc fires first.  Returns whether it has
 * fired. */
bool orch_docker_cancel_sleep(struct orch_docker_cancel *cc, int ms);

/*
 * snprintf for messages that reach a person: control characters become
 * spaces, and a multi-byte UTF-8 character cut by truncation is dropped,
 * so that the text stays valid UTF-8 for the JSON that will carry it.
 */
void orch_docker_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
