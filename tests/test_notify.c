/*
 * test_notify.c: the manager's notices (services/notify.c) on a real PUB
 * socket (inproc), received on a real SUB socket capped as an agent's is
 * (ORCH_NOTICE_RECV_MAX) and read with the agent's own reading
 * (agent/notice.c).
 *
 * Nodes told together are one NodeNotices on the topic "nodes ", split
 * past 1024 ids, each id in exactly one message; a single node gets its
 * own NodeNotice on "node/<id> " instead; none is nothing.  A marker
 * notice sent after each case bounds what the case sent: the socket keeps
 * its order.
 */
#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>

#include "error.h"
#include "harness.h"
#include "notice.h"
#include "notify.h"
#include "task.h"

#define URL "inproc://test-notify"
#define MARK "00000000-0000-4000-8000-00000000ffff"
#define MANY 2500

static struct orch_notify *pub;
static nng_socket sub;
/* Node ids as the manager makes them: 36 characters. */
static char ids[MANY][ORCH_ID_LEN];
static const char *idp[MANY];

/* What one case sent, up to the marker. */
struct got {
	Orch__NodeNotices *many[8]; /* "nodes " messages */
	size_t n_many;
	size_t sizes[8];           /* their sizes on the wire */
	char node[8][ORCH_ID_LEN]; /* "node/<id> " notices' ids */
	size_t n_node;
	/* The agent's reading of each "nodes " message for ids[0] and for
	 * an id in none of them. */
	enum orch_notice_act first[8], stranger[8];
};

static void
got_free(struct got *g)
{
	for (size_t i = 0; i < g->n_many; i++)
		orch__node_notices__free_unpacked(g->many[i], NULL);
}

/* Receives what the case sent, up to and excluding the marker. */
static void
collect(struct got *g)
{
	static const char nodes[] = ORCH_NOTIFY_NODES_TOPIC;
	const size_t nl = sizeof(nodes) - 1;

	memset(g, 0, sizeof(*g));
	orch_notify_node(pub, MARK);
	for (;;) {
		Orch__NodeNotice *logs = NULL, *nn;
		nng_msg *msg;
		const char *b;
		size_t len;

		ASSERT(nng_recvmsg(sub, &msg, 0) == 0);
		b = nng_msg_body(msg);
		len = nng_msg_len(msg);
		if (len >= nl && memcmp(b, nodes, nl) == 0) {
			ASSERT(g->n_many < 8);
			g->sizes[g->n_many] = len;
			g->first[g->n_many] =
			    orch_notice_read(b, len, ids[0], &logs);
			g->stranger[g->n_many] = orch_notice_read(b, len,
			    "99999999-0000-4000-8000-000000000000", &logs);
			ASSERT(logs == NULL);
			g->many[g->n_many] = orch__node_notices__unpack(
			    NULL, len - nl, (const uint8_t *)b + nl);
			ASSERT(g->many[g->n_many] != NULL);
			g->n_many++;
			nng_msg_free(msg);
			continue;
		}
		ASSERT(len > 5 + 36 + 1 && memcmp(b, "node/", 5) == 0 &&
		    b[5 + 36] == ' ');
		nn = orch__node_notice__unpack(
		    NULL, len - 42, (const uint8_t *)b + 42);
		ASSERT(nn != NULL && nn->node_id != NULL);
		/* The topic and the id inside agree. */
		ASSERT(memcmp(b + 5, nn->node_id, 36) == 0);
		ASSERT(nn->has_time_ms && nn->time_ms > 0);
		nng_msg_free(msg);
		if (strcmp(nn->node_id, MARK) == 0) {
			orch__node_notice__free_unpacked(nn, NULL);
			return;
		}
		ASSERT(g->n_node < 8);
		memcpy(g->node[g->n_node++], nn->node_id, ORCH_ID_LEN);
		orch__node_notice__free_unpacked(nn, NULL);
	}
}

static void
setup(void)
{
	char err[256];
	struct got g;

	for (int i = 0; i < MANY; i++) {
		snprintf(ids[i], sizeof(ids[i]), "%08x-1111-4222-8333-%012x",
		    (unsigned)i * 2654435761u, (unsigned)i);
		idp[i] = ids[i];
	}
	ASSERT_INT_EQ(orch_notify_open(&pub, "pub", err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(
	    orch_notify_listen(pub, URL, NULL, err, sizeof(err)), ORCH_OK);
	ASSERT(nng_sub0_open(&sub) == 0);
	/* As an agent's: what it would not take, this test does not get. */
	ASSERT(nng_socket_set_size(
	           sub, NNG_OPT_RECVMAXSZ, ORCH_NOTICE_RECV_MAX) == 0);
	ASSERT(nng_socket_set_ms(sub, NNG_OPT_RECVTIMEO, 100) == 0);
	ASSERT(nng_socket_set(sub, NNG_OPT_SUB_SUBSCRIBE, "", 0) == 0);
	ASSERT(nng_dial(sub, URL, NULL, 0) == 0);
	/* Attached once a marker gets through (PUB drops what it sends
	 * before); what came before it is dropped. */
	for (int i = 0;; i++) {
		nng_msg *msg;

		ASSERT(i < 100);
		orch_notify_node(pub, MARK);
		if (nng_recvmsg(sub, &msg, 0) == 0) {
			nng_msg_free(msg);
			break;
		}
	}
	while (true) {
		nng_msg *msg;

		if (nng_recvmsg(sub, &msg, 0) != 0)
			break;
		nng_msg_free(msg);
	}
	ASSERT(nng_socket_set_ms(sub, NNG_OPT_RECVTIMEO, 15000) == 0);
	/* The socket is quiet: a case gets exactly what it sends. */
	collect(&g);
	ASSERT_INT_EQ(g.n_many + g.n_node, 0);
}

/* Three nodes: one message listing the three. */
static void
test_three_nodes_one_message(void)
{
	struct got g;

	orch_notify_nodes(pub, idp, 3);
	collect(&g);
	ASSERT_INT_EQ(g.n_node, 0);
	ASSERT_INT_EQ(g.n_many, 1);
	ASSERT_INT_EQ(g.many[0]->n_node_ids, 3);
	for (int i = 0; i < 3; i++)
		ASSERT_STR_EQ(g.many[0]->node_ids[i], ids[i]);
	ASSERT(g.many[0]->has_time_ms && g.many[0]->time_ms > 0);
	/* An agent of a listed node beats; another one does not. */
	ASSERT_INT_EQ(g.first[0], ORCH_NOTICE_BEAT);
	ASSERT_INT_EQ(g.stranger[0], ORCH_NOTICE_IGNORE);
	got_free(&g);
}

/* One node: its own notice, as before; none: nothing. */
static void
test_one_node_its_own_notice(void)
{
	struct got g;

	orch_notify_nodes(pub, idp + 7, 1);
	collect(&g);
	ASSERT_INT_EQ(g.n_many, 0);
	ASSERT_INT_EQ(g.n_node, 1);
	ASSERT_STR_EQ(g.node[0], ids[7]);
	orch_notify_nodes(pub, idp, 0);
	orch_notify_nodes(NULL, idp, 3);
	collect(&g);
	ASSERT_INT_EQ(g.n_many + g.n_node, 0);
}

/* 2,500 nodes: three messages (1024, 1024, 452), each within what an
 * agent takes, every id in exactly one of them. */
static void
test_many_nodes_split(void)
{
	static unsigned char seen[MANY];
	struct got g;
	size_t total = 0;

	orch_notify_nodes(pub, idp, MANY);
	collect(&g);
	ASSERT_INT_EQ(g.n_node, 0);
	ASSERT_INT_EQ(g.n_many, 3);
	memset(seen, 0, sizeof(seen));
	for (size_t m = 0; m < g.n_many; m++) {
		ASSERT(g.many[m]->n_node_ids <= ORCH_NOTIFY_NODES_MAX);
		ASSERT(g.sizes[m] <= ORCH_NOTICE_RECV_MAX);
		for (size_t i = 0; i < g.many[m]->n_node_ids; i++) {
			const char *id = g.many[m]->node_ids[i];
			unsigned idx;

			/* The index is in the id's last 12 hex digits. */
			ASSERT(strlen(id) == 36);
			idx = (unsigned)strtoul(id + 24, NULL, 16);
			ASSERT(idx < MANY);
			ASSERT_STR_EQ(id, ids[idx]);
			ASSERT_INT_EQ(seen[idx], 0);
			seen[idx] = 1;
			total++;
		}
		ASSERT_INT_EQ(
		    g.first[m], m == 0 ? ORCH_NOTICE_BEAT : ORCH_NOTICE_IGNORE);
		ASSERT_INT_EQ(g.stranger[m], ORCH_NOTICE_IGNORE);
	}
	ASSERT_INT_EQ(total, MANY);
	ASSERT_INT_EQ(g.many[0]->n_node_ids, ORCH_NOTIFY_NODES_MAX);
	/* The largest message is the manager's largest: about 39 KB. */
	ASSERT(g.sizes[0] > 36 * ORCH_NOTIFY_NODES_MAX);
	got_free(&g);
}

int
main(void)
{
	setup();
	RUN(test_three_nodes_one_message);
	RUN(test_one_node_its_own_notice);
	RUN(test_many_nodes_split);
	nng_close(sub);
	orch_notify_close(pub);
	return 0;
}
