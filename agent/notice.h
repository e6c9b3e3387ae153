/*
 * notice.h: what a message on the manager's notice socket asks of this
 * node.
 *
 * The agent's SUB socket (agent.h) subscribes to two topics of the
 * manager's --pub (proto/README.md, "Notices"): its node's own
 * "node/<id> ", followed by an orch.NodeNotice (beat now, or a request
 * for a task's output), and "nodes ", followed by an orch.NodeNotices
 * (beat now, for each node it lists: one message when a pass tells many
 * nodes).  This module reads one such message; the notice thread acts on
 * the answer.  Anything may arrive there, so nothing is trusted: what
 * does not decode is ignored, except that a malformed notice on the
 * node's own topic still means "beat now" (a beat costs little, and the
 * topic alone says the manager meant this node).
 */
#ifndef ORCH_NOTICE_H
#define ORCH_NOTICE_H

#include <stddef.h>

#include "orch.pb-c.h"

/* The topics, as the manager publishes them (services/notify.h). */
#define ORCH_NOTICE_NODE_TOPIC "node/"
#define ORCH_NOTICE_NODES_TOPIC "nodes "

/*
 * The cap on a message on the notice socket (the SUB socket's
 * NNG_OPT_RECVMAXSZ): a NodeNotices of the manager's largest, 1024 ids of
 * 36 characters, is about 39 KB.
 */
#define ORCH_NOTICE_RECV_MAX (64 * 1024)

/* What a message asks of this node. */
enum orch_notice_act {
	ORCH_NOTICE_IGNORE,    /* for other nodes, or this node has no id yet */
	ORCH_NOTICE_MALFORMED, /* a NodeNotices that does not decode: ignored */
	ORCH_NOTICE_BEAT,      /* beat now: its assignments changed */
	ORCH_NOTICE_LOGS,      /* a request for a task's output */
};

/*
 * Reads msg (len bytes: topic and payload) for the node node_id (""
 * before it registered).  Returns what it asks; for ORCH_NOTICE_LOGS
 * *logs (OUT) is the notice, whose log_request is the request, owned by
 * the caller (orch__node_notice__free_unpacked); NULL otherwise.
 */
enum orch_notice_act orch_notice_read(const void *msg, size_t len,
    const char *node_id, Orch__NodeNotice **logs /* OUT */);

#endif
