/*
 * e2e_rpc.c: the manager's RPC server with many peers writing at once.
 *
 * The RPC workers do not wait for a write's commit: the write is answered
 * from its completion, so the writes of many peers share one commit.
 * PEERS REQ sockets, each on its own thread, submit tasks and then report
 * them Running, all at once; every answer is checked, and the store's own
 * count (the manager's last log line) shows commits holding the writes of
 * more than 4 callers, which 4 workers each waiting for its commit could
 * never give.  Then the manager is stopped with writes in flight from
 * every peer: it exits cleanly (under ASan: no leak, no use after free)
 * and every write it acknowledged is found after a restart.
 */
#include <nng/nng.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "clock.h"
#include "error.h"
#include "fake_agent.h"
#include "harness.h"
#include "manager_proc.h"
#include "orch.pb-c.h"
#include "rpc_client.h"
#include "task.h"

#define PEERS 48
#define PER_PEER 8
#define TASKS (PEERS * PER_PEER)
/* Acknowledged submissions a peer keeps while the manager stops. */
#define MAX_ACKED 2048

#define ST_PENDING ORCH__TASK_STATUS__TASK_STATUS_PENDING
#define ST_SCHEDULED ORCH__TASK_STATUS__TASK_STATUS_SCHEDULED
#define ST_RUNNING ORCH__TASK_STATUS__TASK_STATUS_RUNNING

/* A long TTL: the node stays Ready across the restarts without a beater,
 * and nothing but the test's own requests writes. */
static const char *const mgr_flags[] = {"--heartbeat-ttl", "60", NULL};

static struct mgr m;
static char node_id[ORCH_ID_LEN];

struct peer {
	pthread_t thread;
	int idx;
	nng_socket s;
	char ids[PER_PEER][ORCH_ID_LEN];
	/* Stopping under load: what the manager acknowledged. */
	char (*acked)[ORCH_ID_LEN];
	atomic_int n_acked;
	atomic_bool stop;
};

static struct peer peers[PEERS];

/* Submits a task named name on s.  Returns the error code; on ORCH_OK
 * the task's id is copied into id after its answer is checked. */
static int
submit(nng_socket s, const char *name, char id[ORCH_ID_LEN], char *err,
    size_t errlen)
{
	Orch__TaskSpec spec = ORCH__TASK_SPEC__INIT;
	Orch__SubmitTaskRequest req = ORCH__SUBMIT_TASK_REQUEST__INIT;
	Orch__Task *t = NULL;
	int rc;

	spec.name = (char *)name;
	spec.image = "busybox:1";
	spec.has_cpu = true;
	spec.cpu = 0.01;
	spec.has_memory_mb = true;
	spec.memory_mb = 6;
	req.spec = &spec;
	rc = orch_rpc_call(s, "orch.Manager/SubmitTask", &req.base,
	    &orch__task__descriptor, (ProtobufCMessage **)&t, err, errlen);
	if (rc != ORCH_OK)
		return rc;
	ASSERT(orch_id_valid(t->id));
	ASSERT_STR_EQ(t->spec->name, name);
	ASSERT_INT_EQ(t->status, ST_PENDING);
	memcpy(id, t->id, ORCH_ID_LEN);
	orch__task__free_unpacked(t, NULL);
	return ORCH_OK;
}

/* Sends raw bytes as a request on s and returns the decoded reply. */
static Orch__Reply *
raw_call(nng_socket s, const void *buf, size_t len)
{
	nng_msg *msg = NULL;
	Orch__Reply *rep;

	ASSERT(nng_send(s, (void *)buf, len, 0) == 0);
	ASSERT(nng_recvmsg(s, &msg, 0) == 0);
	rep = orch__reply__unpack(NULL, nng_msg_len(msg), nng_msg_body(msg));
	ASSERT(rep != NULL);
	nng_msg_free(msg);
	return rep;
}

static void
run_peers(void *(*fn)(void *))
{
	for (int i = 0; i < PEERS; i++) {
		peers[i].idx = i;
		ASSERT(
		    pthread_create(&peers[i].thread, NULL, fn, &peers[i]) == 0);
	}
}

static void
join_peers(void)
{
	for (int i = 0; i < PEERS; i++)
		ASSERT(pthread_join(peers[i].thread, NULL) == 0);
}

/* ---- submitting from every peer at once ---- */

static void *
submit_main(void *arg)
{
	struct peer *p = arg;
	static const char junk[] = "\xff\xff\xff\xff\x0f not a request";
	nng_socket s = fa_req_open(m.rpc_url);
	Orch__StopTaskRequest stop = ORCH__STOP_TASK_REQUEST__INIT;
	Orch__Task *t = NULL;
	Orch__Reply *rep;
	char name[64], err[512];

	for (int k = 0; k < PER_PEER; k++) {
		snprintf(name, sizeof(name), "peer%d-task%d", p->idx, k);
		if (submit(s, name, p->ids[k], err, sizeof(err)) != ORCH_OK)
			h_fail(
			    __FILE__, __LINE__, "SubmitTask %s: %s", name, err);
		if (k == PER_PEER / 2) {
			/* Errors between the writes: malformed input, and a
			 * write the store refuses. */
			rep = raw_call(s, junk, sizeof(junk));
			ASSERT_INT_EQ(
			    rep->code, ORCH__ERROR_CODE__INVALID_ARGUMENT);
			ASSERT_STR_CONTAINS(rep->error, "malformed");
			orch__reply__free_unpacked(rep, NULL);
			stop.id = "3f2c1d4e-0000-4000-8000-000000000000";
			ASSERT_INT_EQ(
			    orch_rpc_call(s, "orch.Manager/StopTask",
			        &stop.base, &orch__task__descriptor,
			        (ProtobufCMessage **)&t, err, sizeof(err)),
			    ORCH_ENOENT);
			ASSERT_STR_CONTAINS(err, "3f2c1d4e");
		}
	}
	nng_close(s);
	return NULL;
}

/* The node's assignments hold every submitted task, Scheduled. */
static bool
all_scheduled(void *arg)
{
	nng_socket s = *(nng_socket *)arg;
	Orch__Assignments *a = NULL;
	char err[512];
	size_t n = 0;

	ASSERT_INT_EQ(fa_heartbeat(s, node_id, &a, err, sizeof(err)), ORCH_OK);
	for (size_t i = 0; i < a->n_tasks; i++)
		n += a->tasks[i]->status == ST_SCHEDULED;
	orch__assignments__free_unpacked(a, NULL);
	return n == TASKS;
}

static void
test_submit_concurrently(void)
{
	Orch__NodeRegistration r = ORCH__NODE_REGISTRATION__INIT;
	Orch__Node *n = NULL;
	nng_socket s = fa_req_open(m.rpc_url);
	char err[512];

	r.name = "load-node";
	r.address = "127.0.0.1";
	r.has_cpu = true;
	r.cpu = 64;
	r.has_memory_mb = true;
	r.memory_mb = 65536;
	ASSERT_INT_EQ(fa_node_register(s, &r, &n, err, sizeof(err)), ORCH_OK);
	ASSERT_STR_EQ(n->name, "load-node");
	memcpy(node_id, n->id, ORCH_ID_LEN);
	orch__node__free_unpacked(n, NULL);

	run_peers(submit_main);
	join_peers();
	/* Every answer named a task that exists: the scheduler places them
	 * all on the one node. */
	if (!h_wait_until(all_scheduled, &s, 30000))
		h_fail(__FILE__, __LINE__,
		    "the %d submitted tasks were never all Scheduled", TASKS);
	nng_close(s);
}

/* ---- reporting from every peer at once ---- */

static void *
report_main(void *arg)
{
	struct peer *p = arg;
	nng_socket s = fa_req_open(m.rpc_url);
	char cid[64], err[512];

	for (int k = 0; k < PER_PEER; k++) {
		Orch__TaskStatusUpdate u = ORCH__TASK_STATUS_UPDATE__INIT;
		Orch__Task *t = NULL;
		int rc;

		snprintf(cid, sizeof(cid), "c-%d-%d", p->idx, k);
		u.id = p->ids[k];
		u.node_id = node_id;
		u.has_status = true;
		u.status = ST_RUNNING;
		u.container_id = cid;
		u.has_started_at_ms = true;
		u.started_at_ms = orch_now_ms();
		rc = orch_rpc_call(s, "orch.Manager/UpdateTaskStatus", &u.base,
		    &orch__task__descriptor, (ProtobufCMessage **)&t, err,
		    sizeof(err));
		if (rc != ORCH_OK)
			h_fail(__FILE__, __LINE__, "reporting %s Running: %s",
			    p->ids[k], err);
		/* The answer is this task as committed. */
		ASSERT_STR_EQ(t->id, p->ids[k]);
		ASSERT_INT_EQ(t->status, ST_RUNNING);
		ASSERT_STR_EQ(t->container_id, cid);
		ASSERT_STR_EQ(t->node_id, node_id);
		orch__task__free_unpacked(t, NULL);
	}
	nng_close(s);
	return NULL;
}

/* The counts of the manager's last "closed after W writes (F failed) in
 * C commits" log line. */
static void
store_counts(long *writes, long *failed, long *commits)
{
	char *log = h_read_file(m.log), *p, *last = NULL;

	ASSERT(log != NULL);
	for (p = log; (p = strstr(p, "closed after ")) != NULL; p++)
		last = p;
	ASSERT(last != NULL);
	ASSERT_INT_EQ(sscanf(last,
	                  "closed after %ld writes (%ld failed) in "
	                  "%ld commits",
	                  writes, failed, commits),
	    3);
	free(log);
}

static void
test_reports_share_commits(void)
{
	Orch__ListTasksRequest lst = ORCH__LIST_TASKS_REQUEST__INIT;
	Orch__TaskList *l = NULL;
	Orch__Assignments *a = NULL;
	nng_socket s;
	long writes, failed, commits;
	char err[512];

	/* A fresh manager: its count at exit covers the reports alone. */
	mgr_stop_clean(&m);
	mgr_restart(&m, mgr_flags);
	s = fa_req_open(m.rpc_url);
	ASSERT_INT_EQ(fa_heartbeat(s, node_id, &a, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(a->n_tasks, TASKS);
	orch__assignments__free_unpacked(a, NULL);

	run_peers(report_main);
	join_peers();
	lst.has_status = true;
	lst.status = ST_RUNNING;
	ASSERT_INT_EQ(orch_rpc_call(s, "orch.Manager/ListTasks", &lst.base,
	                  &orch__task_list__descriptor, (ProtobufCMessage **)&l,
	                  err, sizeof(err)),
	    ORCH_OK);
	ASSERT_INT_EQ(l->n_tasks, TASKS);
	orch__task_list__free_unpacked(l, NULL);
	nng_close(s);

	mgr_stop_clean(&m);
	store_counts(&writes, &failed, &commits);
	fprintf(stderr,
	    "   %d reports from %d peers: %ld writes in %ld "
	    "commits\n",
	    TASKS, PEERS, writes, commits);
	ASSERT_INT_EQ(failed, 0);
	ASSERT(writes >= TASKS);
	/* Were each commit to hold at most 4 reports, as when each of the
	 * 4 workers waited for its own, TASKS reports would take at least
	 * TASKS / 4 commits. */
	ASSERT(commits * 4 < TASKS);
}

/* ---- stopping while every peer writes ---- */

static void *
flood_main(void *arg)
{
	struct peer *p = arg;
	char name[64], err[512];

	for (int k = 0; !atomic_load(&p->stop); k++) {
		int n = atomic_load(&p->n_acked), rc;

		if (n == MAX_ACKED)
			break;
		snprintf(name, sizeof(name), "flood%d-%d", p->idx, k);
		rc = submit(p->s, name, p->acked[n], err, sizeof(err));
		if (rc == ORCH_OK) {
			atomic_store(&p->n_acked, n + 1);
			continue;
		}
		/* Refused as the manager stops, or cut off by the test once
		 * it has: nothing else. */
		if (rc == ORCH_EUNAVAIL)
			continue;
		if (rc == ORCH_ECLOSED || atomic_load(&p->stop))
			break;
		h_fail(__FILE__, __LINE__,
		    "SubmitTask %s while stopping: %d %s", name, rc, err);
	}
	return NULL;
}

static bool
all_acked_twice(void *arg)
{
	(void)arg;
	for (int i = 0; i < PEERS; i++) {
		if (atomic_load(&peers[i].n_acked) < 2)
			return false;
	}
	return true;
}

static void
test_stop_under_load(void)
{
	Orch__GetTaskRequest get = ORCH__GET_TASK_REQUEST__INIT;
	nng_socket s;
	char err[512];
	long total = 0;

	mgr_restart(&m, mgr_flags);
	for (int i = 0; i < PEERS; i++) {
		peers[i].acked = calloc(MAX_ACKED, ORCH_ID_LEN);
		ASSERT(peers[i].acked != NULL);
		atomic_store(&peers[i].n_acked, 0);
		atomic_store(&peers[i].stop, false);
		peers[i].s = fa_req_open(m.rpc_url);
	}
	run_peers(flood_main);
	ASSERT(h_wait_until(all_acked_twice, NULL, 30000));
	/* No peer sends again once the manager is told to stop, so that what
	 * is in flight is the requests sent before.  Sending through the
	 * stop provokes NNG 1.5.2's (Debian's) hang closing a TCP pipe that
	 * a message reaches as it closes (nanomsg/nng#1636, fixed in 1.6.0)
	 * about one run in ten: the manager then exits without waiting for
	 * that close (orch_nng_close_within, tested in test_nng_close), but
	 * NNG leaks the request in flight on the peer's side, which fails
	 * this test under LeakSanitizer. */
	for (int i = 0; i < PEERS; i++)
		atomic_store(&peers[i].stop, true);
	/* SIGTERM with writes in flight: exit 0 within 10 s (under ASan
	 * that also means no leak). */
	mgr_stop_clean(&m);
	/* A request the manager never took waits for a reply: closing the
	 * socket ends the wait. */
	for (int i = 0; i < PEERS; i++)
		nng_close(peers[i].s);
	join_peers();

	/* Every acknowledged write was committed. */
	mgr_restart(&m, mgr_flags);
	s = fa_req_open(m.rpc_url);
	for (int i = 0; i < PEERS; i++) {
		int n = atomic_load(&peers[i].n_acked);

		for (int k = 0; k < n; k++) {
			Orch__Task *t = NULL;

			get.id = peers[i].acked[k];
			if (orch_rpc_call(s, "orch.Manager/GetTask", &get.base,
			        &orch__task__descriptor,
			        (ProtobufCMessage **)&t, err,
			        sizeof(err)) != ORCH_OK)
				h_fail(__FILE__, __LINE__,
				    "task %s was acknowledged but is not "
				    "stored: %s",
				    peers[i].acked[k], err);
			orch__task__free_unpacked(t, NULL);
		}
		total += n;
		free(peers[i].acked);
	}
	fprintf(stderr, "   %ld acknowledged submissions found\n", total);
	nng_close(s);
}

int
main(void)
{
	mgr_start(&m, mgr_flags);
	RUN(test_submit_concurrently);
	RUN(test_reports_share_commits);
	RUN(test_stop_under_load);
	mgr_stop_clean(&m);
	mgr_destroy(&m);
	return 0;
}
