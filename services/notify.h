/*
 * notify.h: the manager's notices on its NNG PUB socket.
 *
 * A notice tells one node that its assignments changed, so that it beats
 * now instead of at its next heartbeat.  Each is one NNG message: the topic
 * "node/<node id> " (with the trailing space, so that no id is a prefix of
 * another's topic) followed by a serialized orch.NodeNotice.  PUB drops
 * messages for slow or absent subscribers: a notice is a hint, and agents
 * still reconcile on every heartbeat (proto/README.md).
 *
 * PUB sends every message to every subscriber, which filters by topic on
 * its own side: what one node needs still crosses every node's
 * connection.  So a pass that tells many nodes at once publishes one
 * message on the topic "nodes " (which no "node/" subscription matches)
 * carrying an orch.NodeNotices that lists them all, rather than a notice
 * per node to each of N nodes (N squared sends).
 *
 * Events (events.h) go out for integrators on a second instance, the
 * manager's --events-pub socket, never on the agents' one: each under the
 * topic "event/<kind>/<object id> " (kind task, node or service)
 * followed by a serialized orch.Event.
 */
#ifndef ORCH_NOTIFY_H
#define ORCH_NOTIFY_H

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>
#include <stddef.h>
#include <stdint.h>

#include "task.h"

/* The topic prefix; a node's topic is "node/" + id + " ". */
#define ORCH_NOTIFY_NODE_TOPIC "node/"

/* The topic of a NodeNotices, for several nodes at once. */
#define ORCH_NOTIFY_NODES_TOPIC "nodes "

/* The most node ids in one NodeNotices: about 39 KB of 36-character ids,
 * within what an agent accepts (agent/notice.h, ORCH_NOTICE_RECV_MAX,
 * 64 KiB; test_notify checks it).  More are split. */
#define ORCH_NOTIFY_NODES_MAX 1024

/* The prefix of events' topics: "event/<kind>/<object id> ". */
#define ORCH_NOTIFY_EVENT_TOPIC "event/"

struct orch_notify;

/* Opens a PUB socket (the manager opens two: notices on --pub, events
 * on --events-pub); what is sent before it listens is dropped.  what (a
 * string that outlives the socket: "pub", "events-pub") names it in
 * logs.  Returns ORCH_OK or an error with err saying why. */
int orch_notify_open(struct orch_notify **out /* OUT */, const char *what,
    char *err, size_t errlen);

/* Listens on url (an NNG URL), with the TLS server configuration tls when
 * not NULL (the caller keeps its reference; url is then tls+tcp://).
 * Returns ORCH_OK, or an error with err saying "cannot listen on URL:
 * <reason>". */
int orch_notify_listen(struct orch_notify *n, const char *url,
    nng_tls_config *tls, char *err, size_t errlen);

/* Closes the socket, waiting at most ORCH_NNG_CLOSE_WAIT_MS for NNG
 * (orch_nng_close_within).  NULL is a no-op. */
void orch_notify_close(struct orch_notify *n);

/* Publishes a NodeNotice for node_id.  Never blocks; a failure is logged
 * and otherwise ignored (the node's next heartbeat makes up for it).
 * n NULL is a no-op. */
void orch_notify_node(struct orch_notify *n, const char *node_id);

/*
 * Tells each of the n_ids nodes node_ids that its assignments changed: a
 * NodeNotice on its own topic when n_ids is 1, else one NodeNotices on
 * ORCH_NOTIFY_NODES_TOPIC per ORCH_NOTIFY_NODES_MAX ids (the caller
 * lists each node once, none NULL).  Never blocks; a failure is logged.
 * n NULL is a no-op; the caller keeps node_ids.
 */
void orch_notify_nodes(
    struct orch_notify *n, const char *const *node_ids, size_t n_ids);

/* Publishes a serialized orch.Event (data, len) about the object id of
 * kind ("task", "node", "service").  Never blocks; a failure is logged.
 * n NULL is a no-op. */
void orch_notify_event(struct orch_notify *n, const char *kind, const char *id,
    const uint8_t *data, size_t len);

/* Publishes a NodeNotice carrying r, a request for a task's output, for
 * node_id: the node answers with PushLogs (the manager's logs.h).  As
 * every notice it may be lost; the caller sends it again until the node
 * answers.  n NULL is a no-op. */
void orch_notify_logs(
    struct orch_notify *n, const char *node_id, const Orch__LogRequest *r);

/* Publishes for t's node when t is placed on one and waits there for a
 * stop: after a stop request, so that the node stops it at once. */
void orch_notify_task_stop(struct orch_notify *n, const orch_task *t);

#endif
