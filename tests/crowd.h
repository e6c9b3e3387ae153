/*
 * crowd.h: many slow HTTP clients on loopback, for the slow-clients test
 * (e2e_slowclients) and benchmark (bench/slowclients.sh).
 *
 * A crowd holds two kinds of connections to one port: idle ones, which
 * connect and send nothing, and trickling ones (slowloris), which send a
 * request head one byte per tick and never finish it.  A thread of its
 * own ticks and reads what the server sends back: an answer's status
 * line and the close, per connection.  Nothing here asserts: callers
 * read the counts.
 *
 * Also a plain keep-alive client (crowd_call) for the normal requests
 * measured beside the crowd: one request, one buffered read of its
 * answer, no per-byte system calls to skew a latency.
 */
#ifndef ORCH_CROWD_H
#define ORCH_CROWD_H

#include <stddef.h>

struct crowd;

/* What became of the crowd's connections so far. */
struct crowd_counts {
	int idle_open;     /* idle, not closed by the server */
	int idle_closed;   /* idle, closed with no answer (idle timeout) */
	int trickle_open;  /* trickling, not closed */
	int trickle_408;   /* trickling, answered 408 and closed */
	int answered;      /* any other answer (not expected) */
	int other_closed;  /* closed with something else than the above */
	int connect_fails; /* connections that could not be opened */
	long long trickle_bytes; /* bytes the trickling ones have sent */
};

/*
 * Opens n_idle idle and n_trickle trickling connections to
 * 127.0.0.1:port, in that order, and starts the thread that sends the
 * trickling ones a byte every tick_ms.  Raises the soft limit on open
 * files to the hard one first.  Returns 0, or -1 (errno set) when the
 * limit is too low or memory short; connections that fail are counted
 * in connect_fails.
 */
int crowd_start(int port, int n_idle, int n_trickle, int tick_ms,
    struct crowd **out /* OUT */);

/* Fills out with a consistent snapshot of the counts. */
void crowd_counts(struct crowd *c, struct crowd_counts *out /* OUT */);

/* Stops the thread and closes every connection.  NULL is a no-op. */
void crowd_stop(struct crowd *c);

/* A blocking connection to 127.0.0.1:port with TCP_NODELAY, or -1. */
int crowd_connect(int port);

/*
 * Sends req (a whole request, len bytes) on fd and reads one answer with
 * a Content-Length into buf (cap bytes; NUL-terminated, the rest of a
 * longer answer read and dropped) within timeout_ms.  Returns the status,
 * or -1 on a timeout, a close or a malformed answer.
 */
int crowd_call(
    int fd, const char *req, size_t len, char *buf, size_t cap, int timeout_ms);

#endif
