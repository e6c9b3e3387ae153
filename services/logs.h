/*
 * logs.h: GET /tasks/{id}/logs, a task's output, read on its node.
 *
 * The manager cannot reach an agent (agents dial it), so a request for a
 * task's output travels as a LogRequest in a NodeNotice on the node's
 * topic (notify.h), published again every second until the node answers,
 * and the node's agent sends the output with PushLogs RPCs, chunk by
 * chunk (the agent's log_push.h; proto/README.md, "Logs").  This module
 * routes each chunk, by its request id, to the HTTP stream waiting for
 * it, on the gateway's loop thread.
 *
 * The answer's head waits for the node's first chunk, at most
 * ORCH_LOGS_FIRST_WAIT_MS: a node that cannot read the output (the
 * container is gone) is answered as a JSON error with a status, one that
 * does not answer is a 504.  Then the output streams as text/plain,
 * chunked, stdout and stderr interleaved as the node sends them, until
 * the node's last chunk; an error after the head is the trailer
 * X-Orch-Logs-Error.
 *
 * Backpressure: a stream holds at most ORCH_LOGS_QUEUE_MAX bytes the
 * gateway has not taken yet (and the gateway at most a quarter of its
 * stream cap unsent); past that a push is answered "not taken, again
 * later", and the node waits, reading no more from its runtime.  When the
 * client leaves, the node's next push (a keep-alive comes every 5 s) is
 * answered "stop".  A node silent for ORCH_LOGS_SILENCE_MS ends its
 * stream with an error.  Every count is bounded: streams per manager and
 * per node, the bytes of a chunk, the life of a stream.
 *
 * Threads: pushes come on RPC worker threads; they queue and post to the
 * gateway's loop, which owns the HTTP side and every request's life.  A
 * small thread ticks the loop every 250 ms for the deadlines.
 */
#ifndef ORCH_LOGS_H
#define ORCH_LOGS_H

#include <stddef.h>
#include <stdint.h>

#include "gateway.h"
#include "nodes.h"
#include "notify.h"
#include "orch.pb-c.h"
#include "task.h"

/* Streams (and requests waiting for their node) at once: per manager,
 * and per node (the agent's own bound is the same). */
#define ORCH_LOGS_STREAMS_MAX 64
#define ORCH_LOGS_NODE_STREAMS_MAX 16
/* The most bytes of one chunk. */
#define ORCH_LOGS_CHUNK_MAX (64 * 1024)
/* Bytes of a stream the gateway has not taken yet. */
#define ORCH_LOGS_QUEUE_MAX (256 * 1024)
/* For the node's first chunk. */
#define ORCH_LOGS_FIRST_WAIT_MS 5000
/* Without a chunk from the node (it sends one every 5 s). */
#define ORCH_LOGS_SILENCE_MS 15000
/* The longest a stream lasts, followed or not. */
#define ORCH_LOGS_LIFETIME_MS (24LL * 3600 * 1000)
/* The largest ?tail=. */
#define ORCH_LOGS_TAIL_MAX 1000000

struct orch_logs;

/* Creates the router: nodes for their status and names, notify to ask
 * them.  Returns ORCH_OK or ORCH_ENOMEM. */
int orch_logs_new(struct orch_nodes *nodes, struct orch_notify *notify,
    struct orch_logs **out /* OUT */);

/* Streams are served on gw's loop; starts the ticking thread.  Before
 * the gateway runs and before any push.  Returns ORCH_OK or an error. */
int orch_logs_attach(struct orch_logs *lg, struct orch_gw *gw);

/*
 * Serves GET /tasks/{id}/logs of task t (read by the caller, who keeps
 * it) with query (follow=0|1, tail=N, stream=stdout|stderr), on the
 * loop thread: 400 for a bad query, 409 for a task that has not started
 * (its status and why), 502 when its node is Down, 503 past the bounds,
 * else the request goes to the node and is answered as above.
 */
void orch_logs_serve(struct orch_logs *lg, struct orch_gw_req *req,
    const orch_task *t, struct orch_http_slice query);

/*
 * A PushLogs from a node (any thread): takes chunk c and fills ack (an
 * ORCH__LOG_ACK__INIT the caller made).  A chunk whose node_id is not
 * the node its request went to is refused (the RPC server checks that
 * node_id is the caller's, with TLS on).  Returns ORCH_OK, or
 * ORCH_EINVAL, ORCH_EPERM, ORCH_ENOMEM with err saying why.
 */
int orch_logs_push(struct orch_logs *lg, const Orch__LogChunk *c,
    Orch__LogAck *ack /* OUT */, char *err, size_t errlen);

/* Requests waiting for their node or streaming now (not those over,
 * kept until their node hears it).  On the loop thread. */
uint64_t orch_logs_streams(struct orch_logs *lg);

/* Ends every stream (with an error trailer) and answers every waiting
 * request 503, and stops the ticking thread: after the RPC server has
 * stopped and the gateway's loop has returned, before the gateway is
 * freed. */
void orch_logs_close(struct orch_logs *lg);

/* Frees it after the gateway has been freed.  NULL is a no-op. */
void orch_logs_free(struct orch_logs *lg);

#endif
