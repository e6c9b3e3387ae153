/*
 * test_notice.c: the agent's reading of a message on the manager's
 * notice socket (agent/notice.c), on messages made here.
 *
 * Its own notice makes the node beat, a log request is handed over, a
 * notice for another node (or an old id, or an id its own is a prefix
 * of) is ignored; a NodeNotices makes it beat when it lists the node and
 * only then; what does not decode under "nodes " is reported malformed
 * and never makes it beat; nothing counts before the node has an id.
 * Then garbage: random bytes under each topic and every cut of a good
 * message, which must never crash or be read as a log request.
 */
#include <stdint.h>

#include "harness.h"
#include "notice.h"

#define ME "0a1b2c3d-1111-4222-8333-444455556666"
#define OTHER "99999999-1111-4222-8333-444455556666"

/* "topic" + the packed message m, into buf; returns its length. */
static size_t
frame(uint8_t *buf, size_t cap, const char *topic, const ProtobufCMessage *m)
{
	size_t tl = strlen(topic);

	ASSERT(tl + protobuf_c_message_get_packed_size(m) <= cap);
	memcpy(buf, topic, tl);
	return tl + protobuf_c_message_pack(m, buf + tl);
}

static enum orch_notice_act
read_as(const uint8_t *buf, size_t len, const char *node_id)
{
	Orch__NodeNotice *logs = NULL;
	enum orch_notice_act act = orch_notice_read(buf, len, node_id, &logs);

	ASSERT((act == ORCH_NOTICE_LOGS) == (logs != NULL));
	if (logs != NULL)
		orch__node_notice__free_unpacked(logs, NULL);
	return act;
}

/* A NodeNotices listing the n ids, framed, into buf. */
static size_t
nodes_msg(uint8_t *buf, size_t cap, const char *const *ids, size_t n)
{
	Orch__NodeNotices nn = ORCH__NODE_NOTICES__INIT;

	nn.n_node_ids = n;
	nn.node_ids = (char **)ids;
	nn.has_time_ms = true;
	nn.time_ms = 1700000000000;
	return frame(buf, cap, "nodes ", &nn.base);
}

static void
test_own_notice(void)
{
	Orch__NodeNotice n = ORCH__NODE_NOTICE__INIT;
	Orch__LogRequest r = ORCH__LOG_REQUEST__INIT;
	Orch__NodeNotice *logs = NULL;
	uint8_t buf[512];
	size_t len;

	n.node_id = ME;
	len = frame(buf, sizeof(buf), "node/" ME " ", &n.base);
	ASSERT_INT_EQ(read_as(buf, len, ME), ORCH_NOTICE_BEAT);
	/* Not before the node has an id; not for another node. */
	ASSERT_INT_EQ(read_as(buf, len, ""), ORCH_NOTICE_IGNORE);
	ASSERT_INT_EQ(read_as(buf, len, OTHER), ORCH_NOTICE_IGNORE);
	/* An id the topic's is longer than, or shorter. */
	ASSERT_INT_EQ(read_as(buf, len, "0a1b2c3d"), ORCH_NOTICE_IGNORE);
	len = frame(buf, sizeof(buf), "node/" ME "x ", &n.base);
	ASSERT_INT_EQ(read_as(buf, len, ME), ORCH_NOTICE_IGNORE);
	/* The topic matches, the id inside does not. */
	n.node_id = OTHER;
	len = frame(buf, sizeof(buf), "node/" ME " ", &n.base);
	ASSERT_INT_EQ(read_as(buf, len, ME), ORCH_NOTICE_IGNORE);
	/* A malformed notice under its own topic (a tag that never ends):
	 * a beat costs little. */
	len = strlen("node/" ME " ");
	memcpy(buf + len, "\xff\xff\xff", 3);
	ASSERT_INT_EQ(read_as(buf, len + 3, ME), ORCH_NOTICE_BEAT);
	/* A log request, handed over whole. */
	n.node_id = ME;
	r.task_id = "t1";
	n.log_request = &r;
	len = frame(buf, sizeof(buf), "node/" ME " ", &n.base);
	ASSERT_INT_EQ(orch_notice_read(buf, len, ME, &logs), ORCH_NOTICE_LOGS);
	ASSERT(logs != NULL && logs->log_request != NULL);
	ASSERT_STR_EQ(logs->log_request->task_id, "t1");
	orch__node_notice__free_unpacked(logs, NULL);
}

static void
test_nodes_notice(void)
{
	const char *const with[] = {OTHER, ME, "x"};
	const char *const without[] = {OTHER, "0a1b2c3d", ME "x", ""};
	uint8_t buf[512];
	size_t len;

	len = nodes_msg(buf, sizeof(buf), with, 3);
	ASSERT_INT_EQ(read_as(buf, len, ME), ORCH_NOTICE_BEAT);
	ASSERT_INT_EQ(read_as(buf, len, OTHER), ORCH_NOTICE_BEAT);
	ASSERT_INT_EQ(read_as(buf, len, ""), ORCH_NOTICE_IGNORE);
	len = nodes_msg(buf, sizeof(buf), without, 4);
	ASSERT_INT_EQ(read_as(buf, len, ME), ORCH_NOTICE_IGNORE);
	len = nodes_msg(buf, sizeof(buf), NULL, 0);
	ASSERT_INT_EQ(read_as(buf, len, ME), ORCH_NOTICE_IGNORE);
	/* Not its topic: "nodes" without the space, or another word. */
	len = nodes_msg(buf, sizeof(buf), with, 3);
	buf[5] = 'x';
	ASSERT_INT_EQ(read_as(buf, len, ME), ORCH_NOTICE_IGNORE);
	ASSERT_INT_EQ(read_as(buf, 5, ME), ORCH_NOTICE_IGNORE);
	ASSERT_INT_EQ(read_as(buf, 0, ME), ORCH_NOTICE_IGNORE);
	/* Under the topic, what is no NodeNotices. */
	memcpy(buf, "nodes \xff\xff\xff\xff", 10);
	ASSERT_INT_EQ(read_as(buf, 10, ME), ORCH_NOTICE_MALFORMED);
	/* A NodeNotice under this topic: its field 1 reads as one id. */
	{
		Orch__NodeNotice n = ORCH__NODE_NOTICE__INIT;

		n.node_id = ME;
		len = frame(buf, sizeof(buf), "nodes ", &n.base);
		ASSERT_INT_EQ(read_as(buf, len, ME), ORCH_NOTICE_BEAT);
	}
}

/* xorshift: the same garbage on every run. */
static uint32_t
rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void
test_garbage(void)
{
	static const char *const topics[] = {
	    "nodes ", "node/" ME " ", "node/", "", "nodes"};
	const char *const with[] = {OTHER, ME};
	uint8_t buf[1024], good[512];
	uint32_t seed = 0x9e3779b9;
	size_t len, tl;
	int beats = 0;

	for (int i = 0; i < 20000; i++) {
		const char *t = topics[i % 5];
		enum orch_notice_act act;

		tl = strlen(t);
		memcpy(buf, t, tl);
		len = tl + rnd(&seed) % (sizeof(buf) - tl);
		for (size_t k = tl; k < len; k++)
			buf[k] = (uint8_t)rnd(&seed);
		/* An exact copy: a read past its end is caught by ASan. */
		{
			uint8_t *copy = malloc(len > 0 ? len : 1);

			ASSERT(copy != NULL);
			memcpy(copy, buf, len);
			act = read_as(copy, len, ME);
			free(copy);
		}
		/* Only its own topic may beat (a malformed notice there
		 * does); random bytes never list this node. */
		if (i % 5 != 1)
			beats +=
			    act == ORCH_NOTICE_BEAT || act == ORCH_NOTICE_LOGS;
	}
	ASSERT_INT_EQ(beats, 0);
	/* Every cut of a good NodeNotices: no crash; a beat only once the
	 * node's id is whole. */
	len = nodes_msg(good, sizeof(good), with, 2);
	for (size_t cut = 0; cut <= len; cut++) {
		uint8_t *copy = malloc(cut > 0 ? cut : 1);
		enum orch_notice_act act;

		ASSERT(copy != NULL);
		memcpy(copy, good, cut);
		act = read_as(copy, cut, ME);
		free(copy);
		ASSERT(act != ORCH_NOTICE_LOGS);
		if (act == ORCH_NOTICE_BEAT)
			ASSERT(cut >= 6 + 2 + 36 + 2 + 36);
	}
}

int
main(void)
{
	RUN(test_own_notice);
	RUN(test_nodes_notice);
	RUN(test_garbage);
	return 0;
}
