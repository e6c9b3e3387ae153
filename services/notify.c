#include "notify.h"

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "error.h"
#include "log.h"
#include "rpc_client.h"
#include "tls.h"

#define NOTIFY_COMPONENT "notify"

struct orch_notify {
	nng_socket sock;
	const char *what; /* "pub", "events-pub": for logs */
};

int
orch_notify_open(
    struct orch_notify **out, const char *what, char *err, size_t errlen)
{
	struct orch_notify *n = calloc(1, sizeof(*n));
	int rv;

	*out = NULL;
	if (n == NULL)
		return ORCH_ENOMEM;
	if ((rv = nng_pub0_open(&n->sock)) != 0) {
		snprintf(err, errlen, "%s: cannot open a PUB socket: %s", what,
		    nng_strerror(rv));
		free(n);
		return orch_err_from_nng(rv);
	}
	n->what = what;
	*out = n;
	return ORCH_OK;
}

int
orch_notify_listen(struct orch_notify *n, const char *url, nng_tls_config *tls,
    char *err, size_t errlen)
{
	return orch_tls_listen(n->sock, url, tls, n->what, err, errlen);
}

void
orch_notify_close(struct orch_notify *n)
{
	if (n == NULL)
		return;
	/* Bounded: after a close that NNG 1.5.2 hangs (rpc_client.h), NNG's
	 * reaper is held up, and this close waits on it too. */
	orch_nng_close_within(n->sock, ORCH_NNG_CLOSE_WAIT_MS, n->what);
	free(n);
}

/* Publishes notice, filled in with node_id and the time, on node_id's
 * topic; what is logs it for people ("a notice", "a log request"). */
static void
notify_send(struct orch_notify *n, const char *node_id,
    Orch__NodeNotice *notice, const char *what)
{
	char topic[sizeof(ORCH_NOTIFY_NODE_TOPIC) + ORCH_ID_LEN + 1];
	nng_msg *msg = NULL;
	size_t tlen, plen;
	int rv;

	if (n == NULL || node_id == NULL)
		return;
	tlen = (size_t)snprintf(
	    topic, sizeof(topic), ORCH_NOTIFY_NODE_TOPIC "%.36s ", node_id);
	notice->node_id = (char *)node_id;
	notice->has_time_ms = true;
	notice->time_ms = orch_now_ms();
	plen = orch__node_notice__get_packed_size(notice);
	if ((rv = nng_msg_alloc(&msg, tlen + plen)) != 0)
		goto out;
	memcpy(nng_msg_body(msg), topic, tlen);
	orch__node_notice__pack(notice, (uint8_t *)nng_msg_body(msg) + tlen);
	/* PUB never waits for subscribers; on success NNG owns msg. */
	if ((rv = nng_sendmsg(n->sock, msg, NNG_FLAG_NONBLOCK)) == 0)
		msg = NULL;
out:
	if (rv != 0)
		orch_warn(NOTIFY_COMPONENT, "cannot publish %s for node %s: %s",
		    what, node_id, nng_strerror(rv));
	else
		orch_debug(NOTIFY_COMPONENT, "%s for node %s", what, node_id);
	if (msg != NULL)
		nng_msg_free(msg);
}

void
orch_notify_node(struct orch_notify *n, const char *node_id)
{
	Orch__NodeNotice notice = ORCH__NODE_NOTICE__INIT;

	notify_send(n, node_id, &notice, "a notice");
}

/* Publishes one NodeNotices listing ids[0..n_ids) on the "nodes " topic. */
static void
notify_nodes_send(struct orch_notify *n, const char *const *ids, size_t n_ids)
{
	static const char topic[] = ORCH_NOTIFY_NODES_TOPIC;
	const size_t tlen = sizeof(topic) - 1;
	Orch__NodeNotices notices = ORCH__NODE_NOTICES__INIT;
	nng_msg *msg = NULL;
	size_t plen;
	int rv;

	/* protobuf-c's repeated strings are char **; packing only reads. */
	notices.n_node_ids = n_ids;
	notices.node_ids = (char **)ids;
	notices.has_time_ms = true;
	notices.time_ms = orch_now_ms();
	plen = orch__node_notices__get_packed_size(&notices);
	if ((rv = nng_msg_alloc(&msg, tlen + plen)) != 0)
		goto out;
	memcpy(nng_msg_body(msg), topic, tlen);
	orch__node_notices__pack(&notices, (uint8_t *)nng_msg_body(msg) + tlen);
	if ((rv = nng_sendmsg(n->sock, msg, NNG_FLAG_NONBLOCK)) == 0)
		msg = NULL;
out:
	if (rv != 0)
		orch_warn(NOTIFY_COMPONENT,
		    "cannot publish a notice for %zu nodes: %s", n_ids,
		    nng_strerror(rv));
	else
		orch_debug(NOTIFY_COMPONENT, "a notice for %zu nodes", n_ids);
	if (msg != NULL)
		nng_msg_free(msg);
}

void
orch_notify_nodes(
    struct orch_notify *n, const char *const *node_ids, size_t n_ids)
{
	size_t k;

	if (n == NULL)
		return;
	if (n_ids == 1) {
		orch_notify_node(n, node_ids[0]);
		return;
	}
	for (size_t i = 0; i < n_ids; i += k) {
		k = n_ids - i < ORCH_NOTIFY_NODES_MAX ? n_ids - i
		                                      : ORCH_NOTIFY_NODES_MAX;
		notify_nodes_send(n, node_ids + i, k);
	}
}

void
orch_notify_logs(
    struct orch_notify *n, const char *node_id, const Orch__LogRequest *r)
{
	Orch__NodeNotice notice = ORCH__NODE_NOTICE__INIT;

	notice.log_request = (Orch__LogRequest *)r;
	notify_send(n, node_id, &notice, "a log request");
}

void
orch_notify_event(struct orch_notify *n, const char *kind, const char *id,
    const uint8_t *data, size_t len)
{
	char topic[sizeof(ORCH_NOTIFY_EVENT_TOPIC) + 16 + ORCH_ID_LEN + 1];
	nng_msg *msg = NULL;
	int tlen, rv;

	if (n == NULL || kind == NULL || id == NULL)
		return;
	tlen = snprintf(topic, sizeof(topic),
	    ORCH_NOTIFY_EVENT_TOPIC "%.15s/%.36s ", kind, id);
	if (tlen < 0 || (size_t)tlen >= sizeof(topic))
		return;
	if ((rv = nng_msg_alloc(&msg, (size_t)tlen + len)) != 0)
		goto out;
	memcpy(nng_msg_body(msg), topic, (size_t)tlen);
	if (len > 0)
		memcpy((uint8_t *)nng_msg_body(msg) + tlen, data, len);
	/* As for notices: PUB drops what a slow subscriber cannot take. */
	if ((rv = nng_sendmsg(n->sock, msg, NNG_FLAG_NONBLOCK)) == 0)
		msg = NULL;
out:
	if (rv != 0)
		orch_warn(NOTIFY_COMPONENT,
		    "cannot publish an event of %s %s: %s", kind, id,
		    nng_strerror(rv));
	if (msg != NULL)
		nng_msg_free(msg);
}

void
orch_notify_task_stop(struct orch_notify *n, const orch_task *t)
{
	if (t == NULL || !t->stop_requested || t->node_id == NULL ||
	    t->node_id[0] == '\0' || orch_task_status_terminal(t->status))
		return;
	orch_notify_node(n, t->node_id);
}
