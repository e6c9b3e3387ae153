/*
 * rpc.h: the manager's protobuf RPC server on an NNG REP socket.
 *
 * Each NNG message is one serialized orch.Request naming a method of
 * service orch.Manager ("orch.Manager/SubmitTask"); the answer is one
 * orch.Reply (proto/README.md).  Methods are found through the service
 * descriptor protoc-c generates and invoked through the generated service
 * table.
 *
 * Worker threads, each with its own store reader, receive requests on NNG
 * contexts from a bounded pool and answer reads at once.  A write is
 * queued with the store and answered from its completion, after its
 * commit, on the context it came in on, so the worker receives again at
 * once: the writes of many peers share one group commit.  A write whose
 * answer needs a read (a node's usage, a service's running count) is
 * answered by one more thread with its own reader, since the store's
 * writer thread must not read.
 */
#ifndef ORCH_RPC_H
#define ORCH_RPC_H

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>
#include <stddef.h>

#include "logs.h"
#include "nodes.h"
#include "notify.h"
#include "policy.h"
#include "store.h"

/* The largest request accepted; NNG's default is unlimited. */
#define ORCH_RPC_MAX_MSG (4 * 1024 * 1024)

struct orch_rpc;

/*
 * Listens on url (an NNG URL: tcp://HOST:PORT, ipc://PATH, inproc://NAME)
 * and starts the workers, which serve the tasks of st, register and hear
 * the heartbeats of the nodes of nodes, announce stop requests through
 * notify (may be NULL), hand the nodes' PushLogs to logs (NULL: they are
 * refused, UNAVAILABLE), and refuse (PERMISSION_DENIED) the tasks and
 * services that policy (borrowed; NULL: the default policy) refuses.
 * With tls (a server configuration, tls.h; the caller keeps its reference)
 * url is tls+tcp:// and RegisterNode, Heartbeat and a node's
 * UpdateTaskStatus are refused (PERMISSION_DENIED) unless the caller's
 * certificate names that node.  It listens to st's commits (one of its
 * listeners, until orch_rpc_stop) to version each node's assignments
 * (orch_nodes_assign_changed), and answers a heartbeat whose known epoch
 * and version are current with "unchanged" instead of the tasks.
 * Returns ORCH_OK, or an error with err saying "cannot listen on URL:
 * <reason>".
 */
int orch_rpc_start(struct orch_store *st, struct orch_nodes *nodes,
    struct orch_notify *notify, struct orch_logs *logs,
    const struct orch_policy *policy, const char *url, nng_tls_config *tls,
    struct orch_rpc **out /* OUT */, char *err, size_t errlen);

/*
 * Stops taking requests, waits for every call in flight to be answered
 * (the store must still be open: its writes complete and their replies
 * are sent), then closes the socket, waiting at most
 * ORCH_NNG_CLOSE_WAIT_MS for NNG (orch_nng_close_within), and joins the
 * threads.  NULL is a no-op.
 */
void orch_rpc_stop(struct orch_rpc *rpc);

#endif
