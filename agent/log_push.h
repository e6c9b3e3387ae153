/*
 * log_push.h: the agent's side of GET /tasks/{id}/logs.
 *
 * The manager cannot reach an agent: it asks for a task's output in a
 * NodeNotice on the node's topic (a LogRequest, repeated every second
 * until the node answers), and the agent answers by sending the output
 * with PushLogs, chunk by chunk, on its own connection to the manager
 * (proto/README.md, "Logs").  Each request is served by a session, a
 * thread of its own that runs the driver's logs (driver.h) and pushes
 * what it hands over: one chunk of at most ORCH_AGENT_LOG_CHUNK bytes of
 * one stream at a time, each on a context of the agent's REQ socket (so
 * that sessions and the heartbeat never wait for one another), waiting
 * for its LogAck before the next.  That wait is the backpressure: a
 * client that reads slowly slows the manager's acks (it answers "not
 * taken, try again" while its buffer for the client is full), which stop
 * the session, which stops reading from the runtime.  A session ends
 * when the output does (a followed task ended), when an ack says stop
 * (the client left, or the manager forgot the request), when the manager
 * cannot be reached, or when the agent stops.  While it waits for output
 * it sends an empty chunk every ORCH_AGENT_LOG_KEEPALIVE_MS, so that the
 * manager knows it lives and it learns when the client has gone.
 */
#ifndef ORCH_LOG_PUSH_H
#define ORCH_LOG_PUSH_H

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdbool.h>

#include "driver.h"
#include "orch.pb-c.h"

/* The most bytes of one chunk. */
#define ORCH_AGENT_LOG_CHUNK (64 * 1024)
/* The most sessions at once; a request beyond is dropped (logged), and
 * the manager, which keeps the same bound per node, says so first. */
#define ORCH_AGENT_LOG_SESSIONS 16
/* An empty chunk after this long without one. */
#define ORCH_AGENT_LOG_KEEPALIVE_MS 5000

/*
 * Finds the instance of task task_id on this node: its driver *ops
 * (OUT), the driver's state *st (OUT) and its handle (OUT).  Returns
 * ORCH_OK; ORCH_ENOENT when the node has none; another error (the driver
 * is off) with err saying why.
 */
typedef int (*orch_agent_logs_find_fn)(void *arg, const char *task_id,
    const struct orch_driver_ops **ops, void **st, char handle[ORCH_HANDLE_LEN],
    char *err, size_t errlen);

struct orch_agent_logs;

/* Creates the sessions' keeper: pushes go on contexts of req, instances
 * are found with find(arg, ...).  Returns ORCH_OK or ORCH_ENOMEM. */
int orch_agent_logs_new(nng_socket req, orch_agent_logs_find_fn find, void *arg,
    struct orch_agent_logs **out /* OUT */);

/*
 * A request for node node_id arrived (on the notice thread): starts its
 * session, unless one for the same request_id runs or ran already (the
 * manager repeats a request until it is answered).  Never blocks.
 */
void orch_agent_logs_request(
    struct orch_agent_logs *l, const char *node_id, const Orch__LogRequest *r);

/* Sessions started since the keeper was made, and those running now. */
void orch_agent_logs_counts(struct orch_agent_logs *l,
    unsigned long *started /* OUT */, unsigned long *running /* OUT */);

/*
 * Ends every session: each stops at its driver's next tick (within a
 * second) or when its push fails (close the REQ socket first to end
 * those at once).  Waits up to wait_ms.  Returns whether all ended; if
 * not, orch_agent_logs_free must not be called.
 */
bool orch_agent_logs_stop(struct orch_agent_logs *l, int wait_ms);

/* Frees it (stopped first).  NULL is a no-op. */
void orch_agent_logs_free(struct orch_agent_logs *l);

#endif
