/*
 * notice.c: reading a message of the manager's notice socket (notice.h).
 */
#include "notice.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* Whether msg (len bytes) starts with the len_p bytes of p. */
static bool
starts_with(const char *msg, size_t len, const char *p, size_t len_p)
{
	return len >= len_p && memcmp(msg, p, len_p) == 0;
}

/* A NodeNotices (payload, len bytes): whether it lists node_id. */
static enum orch_notice_act
read_nodes(const uint8_t *payload, size_t len, const char *node_id)
{
	Orch__NodeNotices *nn = orch__node_notices__unpack(NULL, len, payload);
	enum orch_notice_act act = ORCH_NOTICE_IGNORE;

	if (nn == NULL)
		return ORCH_NOTICE_MALFORMED;
	for (size_t i = 0; i < nn->n_node_ids && act == ORCH_NOTICE_IGNORE;
	     i++) {
		if (nn->node_ids[i] != NULL &&
		    strcmp(nn->node_ids[i], node_id) == 0)
			act = ORCH_NOTICE_BEAT;
	}
	orch__node_notices__free_unpacked(nn, NULL);
	return act;
}

/* A NodeNotice on the node's own topic (payload, len bytes). */
static enum orch_notice_act
read_node(const uint8_t *payload, size_t len, const char *node_id,
    Orch__NodeNotice **logs)
{
	Orch__NodeNotice *nn = orch__node_notice__unpack(NULL, len, payload);
	bool mine;

	/* The topic matched; the id inside is checked again so that a
	 * notice addressed to another node under a matching topic is
	 * refused. */
	if (nn == NULL)
		return ORCH_NOTICE_BEAT;
	mine = nn->node_id == NULL || strcmp(nn->node_id, node_id) == 0;
	if (mine && nn->log_request != NULL && nn->node_id != NULL) {
		*logs = nn;
		return ORCH_NOTICE_LOGS;
	}
	orch__node_notice__free_unpacked(nn, NULL);
	return mine ? ORCH_NOTICE_BEAT : ORCH_NOTICE_IGNORE;
}

enum orch_notice_act
orch_notice_read(
    const void *msg, size_t len, const char *node_id, Orch__NodeNotice **logs)
{
	static const char nodes[] = ORCH_NOTICE_NODES_TOPIC;
	static const char node[] = ORCH_NOTICE_NODE_TOPIC;
	const char *m = msg;
	size_t id_len = strlen(node_id), tlen;

	*logs = NULL;
	if (id_len == 0)
		return ORCH_NOTICE_IGNORE;
	if (starts_with(m, len, nodes, sizeof(nodes) - 1))
		return read_nodes((const uint8_t *)m + sizeof(nodes) - 1,
		    len - (sizeof(nodes) - 1), node_id);
	/* "node/" + id + " ": the SUB socket filters by prefix already;
	 * checked again so that a notice for an old id of this node, or for
	 * an id this one is a prefix of, is ignored. */
	tlen = sizeof(node) - 1 + id_len + 1;
	if (!starts_with(m, len, node, sizeof(node) - 1) || len < tlen ||
	    memcmp(m + sizeof(node) - 1, node_id, id_len) != 0 ||
	    m[tlen - 1] != ' ')
		return ORCH_NOTICE_IGNORE;
	return read_node((const uint8_t *)m + tlen, len - tlen, node_id, logs);
}
