/*
 * e2e_notices.c: orch-agent as a process, told to beat by notices, with a
 * fake manager written here: its REP socket answers RegisterNode and
 * Heartbeat (counting the beats, and never asking for them more often),
 * its PUB socket sends the notices.
 *
 * The agent runs with --heartbeat 3600: after the beat that follows its
 * registration, a beat within the test's deadline is a notice's doing.
 * Garbage under "nodes " and a NodeNotices for other nodes come first,
 * then a NodeNotices of the manager's largest size (1024 ids, about
 * 39 KB) that lists the node last: the agent beats, once, and its log
 * shows that only the last message woke it (the notice thread reads in
 * order and logs each wake before it).  Its own notice on "node/<id> "
 * still wakes it too.  Then it stops cleanly.
 */
#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/reqrep0/rep.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "orch.pb-c.h"

#define NODE_ID "0a1b2c3d-1111-4222-8333-444455556666"
#define WAIT_MS (h_valgrind() ? 120000 : 15000)

static struct {
	nng_socket rep, pub;
	pthread_t thread;
	atomic_int beats; /* Heartbeats answered */
	atomic_int pipes; /* SUB sockets attached to pub */
	atomic_bool stop;
} F;

static char *dir, log_path[600];
static pid_t agent;

static void
at_exit(void)
{
	if (agent > 0) {
		h_tail_file("agent log", log_path, 40);
		h_kill(agent, SIGKILL);
	}
	if (dir != NULL)
		h_rm_rf(dir);
}

/* ---- the fake manager ---- */

/* Packs m into the body of a Reply, into an NNG message. */
static nng_msg *
reply_make(const ProtobufCMessage *m, Orch__ErrorCode code)
{
	Orch__Reply r = ORCH__REPLY__INIT;
	uint8_t body[512];
	nng_msg *msg;

	r.has_code = true;
	r.code = code;
	if (m != NULL) {
		ASSERT(protobuf_c_message_get_packed_size(m) <= sizeof(body));
		r.has_body = true;
		r.body.len = protobuf_c_message_pack(m, body);
		r.body.data = body;
	} else {
		r.error = "not in this fake manager";
	}
	ASSERT(nng_msg_alloc(&msg, orch__reply__get_packed_size(&r)) == 0);
	orch__reply__pack(&r, nng_msg_body(msg));
	return msg;
}

static void *
rep_main(void *arg)
{
	(void)arg;
	while (!atomic_load(&F.stop)) {
		Orch__Request *req;
		nng_msg *msg;
		int rv = nng_recvmsg(F.rep, &msg, 0);

		if (rv == NNG_ETIMEDOUT)
			continue;
		if (rv != 0)
			break;
		req = orch__request__unpack(
		    NULL, nng_msg_len(msg), nng_msg_body(msg));
		nng_msg_free(msg);
		ASSERT(req != NULL && req->method != NULL);
		if (strcmp(req->method, "orch.Manager/RegisterNode") == 0) {
			Orch__Node n = ORCH__NODE__INIT;

			n.id = NODE_ID;
			n.name = "e2e-notices";
			msg = reply_make(&n.base, ORCH__ERROR_CODE__OK);
		} else if (strcmp(req->method, "orch.Manager/Heartbeat") == 0) {
			Orch__Assignments a = ORCH__ASSIGNMENTS__INIT;

			a.node_id = NODE_ID;
			atomic_fetch_add(&F.beats, 1);
			msg = reply_make(&a.base, ORCH__ERROR_CODE__OK);
		} else {
			msg = reply_make(NULL, ORCH__ERROR_CODE__UNIMPLEMENTED);
		}
		orch__request__free_unpacked(req, NULL);
		if (nng_sendmsg(F.rep, msg, 0) != 0)
			nng_msg_free(msg);
	}
	return NULL;
}

static void
pipe_added(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	(void)p;
	(void)ev;
	(void)arg;
	atomic_fetch_add(&F.pipes, 1);
}

/* Publishes topic + the packed m (NULL: the raw bytes raw, n). */
static void
publish(const char *topic, const ProtobufCMessage *m, const void *raw, size_t n)
{
	size_t tl = strlen(topic);
	size_t len = m != NULL ? protobuf_c_message_get_packed_size(m) : n;
	nng_msg *msg;

	ASSERT(nng_msg_alloc(&msg, tl + len) == 0);
	memcpy(nng_msg_body(msg), topic, tl);
	if (m != NULL)
		protobuf_c_message_pack(m, (uint8_t *)nng_msg_body(msg) + tl);
	else
		memcpy((uint8_t *)nng_msg_body(msg) + tl, raw, n);
	ASSERT(nng_sendmsg(F.pub, msg, 0) == 0);
}

/* ---- conditions ---- */

static bool
beats_at_least(void *arg)
{
	return atomic_load(&F.beats) >= *(int *)arg;
}

static bool
joined(void *arg)
{
	(void)arg;
	return atomic_load(&F.beats) >= 1 && atomic_load(&F.pipes) >= 1;
}

/* How many times the agent's log holds s. */
static int
log_count(const char *s)
{
	char *log = h_read_file(log_path), *p = log;
	int n = 0;

	while (p != NULL && (p = strstr(p, s)) != NULL) {
		n++;
		p += strlen(s);
	}
	free(log);
	return n;
}

static bool
log_has(void *arg)
{
	return log_count(arg) > 0;
}

/* ---- the test ---- */

static void
test_nodes_notice_wakes_the_named_node(void)
{
	static char ids[1024][40];
	static char *idp[1024];
	Orch__NodeNotices many = ORCH__NODE_NOTICES__INIT;
	Orch__NodeNotice own = ORCH__NODE_NOTICE__INIT;
	char *others[] = {"99999999-1111-4222-8333-444455556666",
	    "0a1b2c3d-1111-4222-8333-44445555666"};
	int want;

	/* Registered, beaten once, listening. */
	ASSERT(h_wait_until(joined, NULL, WAIT_MS));
	want = atomic_load(&F.beats) + 1;

	/* What must not wake it. */
	publish("nodes ", NULL, "\xff\xff\xff\xff", 4);
	many.n_node_ids = 2;
	many.node_ids = others;
	many.has_time_ms = true;
	many.time_ms = 1700000000000;
	publish("nodes ", &many.base, NULL, 0);
	publish(
	    "node/99999999-1111-4222-8333-444455556666 ", &own.base, NULL, 0);
	/* What must: the largest message the manager sends, the node last. */
	for (int i = 0; i < 1024; i++) {
		snprintf(ids[i], sizeof(ids[i]), "%08x-1111-4222-8333-%012x",
		    (unsigned)i + 1, (unsigned)i);
		idp[i] = ids[i];
	}
	snprintf(ids[1023], sizeof(ids[1023]), "%s", NODE_ID);
	many.n_node_ids = 1024;
	many.node_ids = idp;
	ASSERT(protobuf_c_message_get_packed_size(&many.base) > 36 * 1024);
	publish("nodes ", &many.base, NULL, 0);

	/* It beats now rather than in an hour. */
	ASSERT(h_wait_until(beats_at_least, &want, WAIT_MS));
	ASSERT(h_wait_until(log_has, "beating now", WAIT_MS));
	/* Read in order: by the wake's line, the garbage was judged too,
	 * and nothing before the last message woke it. */
	ASSERT_INT_EQ(log_count("beating now"), 1);
	ASSERT_INT_EQ(log_count("no orch.NodeNotices (10 bytes): ignored"), 1);

	/* Its own notice still wakes it. */
	want = atomic_load(&F.beats) + 1;
	own.node_id = NODE_ID;
	publish("node/" NODE_ID " ", &own.base, NULL, 0);
	ASSERT(h_wait_until(beats_at_least, &want, WAIT_MS));
	ASSERT_INT_EQ(log_count("beating now"), 2);
}

int
main(void)
{
	char rep_url[64], pub_url[64], state[700], *bin = h_bin("orch-agent");
	int st;

	signal(SIGPIPE, SIG_IGN);
	atexit(at_exit);
	dir = h_tmpdir("e2e-notices");
	snprintf(state, sizeof(state), "%s/state", dir);
	snprintf(log_path, sizeof(log_path), "%s/agent.log", dir);
	snprintf(rep_url, sizeof(rep_url), "tcp://127.0.0.1:%d", h_free_port());
	snprintf(pub_url, sizeof(pub_url), "tcp://127.0.0.1:%d", h_free_port());
	ASSERT(nng_rep0_open(&F.rep) == 0);
	ASSERT(nng_socket_set_ms(F.rep, NNG_OPT_RECVTIMEO, 100) == 0);
	ASSERT(nng_listen(F.rep, rep_url, NULL, 0) == 0);
	ASSERT(nng_pub0_open(&F.pub) == 0);
	ASSERT(nng_pipe_notify(F.pub, NNG_PIPE_EV_ADD_POST, pipe_added, NULL) ==
	    0);
	ASSERT(nng_listen(F.pub, pub_url, NULL, 0) == 0);
	ASSERT(pthread_create(&F.thread, NULL, rep_main, NULL) == 0);
	{
		char *argv[] = {bin, "--manager", rep_url, "--events", pub_url,
		    "--name", "e2e-notices", "--heartbeat", "3600", "--drivers",
		    "exec", "--cgroup", "none", "--state-dir", state, "--cpu",
		    "1", "--memory", "256", "--log-level", "debug", NULL};

		agent = h_spawn(argv, log_path);
	}
	free(bin);

	RUN(test_nodes_notice_wakes_the_named_node);

	st = h_kill(agent, SIGTERM);
	agent = 0;
	ASSERT(st != -1 && WIFEXITED(st));
	ASSERT_INT_EQ(WEXITSTATUS(st), 0);
	atomic_store(&F.stop, true);
	pthread_join(F.thread, NULL);
	nng_close(F.rep);
	nng_close(F.pub);
	return 0;
}
