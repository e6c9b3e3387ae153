/*
 * simcluster.c: N simulated nodes in one process, for measuring the
 * scheduler without containers (bench/simcluster.sh runs it).
 *
 * Each node speaks the agent protocol of proto/README.md: RegisterNode,
 * then Heartbeat about once a second; every task its Assignments list as
 * Scheduled "starts" at once (UpdateTaskStatus Running with node_id).
 * Meanwhile T tasks are submitted over HTTP (POST /tasks, the manager's
 * asynchronous, group-committed path) by several keep-alive connections;
 * or, with --services K, K services of T/K replicas each are created
 * (POST /services), and the manager makes and places their tasks itself,
 * as Nomad's C1M test registered jobs of many tasks.  The numbers go to
 * stdout as "key value" lines.
 *
 *   orch-simcluster --rpc URL --http HOST:PORT [--nodes N] [--tasks T]
 *       [--services K] [--beaters B] [--submitters S] [--node-cpu C]
 *       [--node-memory MB] [--manager-pid PID] [--timeout SEC]
 */
#include <errno.h>
#include <netdb.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "error.h"
#include "orch.pb-c.h"
#include "rpc_client.h"
#include "task.h"

#define M_REGISTER "orch.Manager/RegisterNode"
#define M_HEARTBEAT "orch.Manager/Heartbeat"
#define M_UPDATE "orch.Manager/UpdateTaskStatus"
#define ERR_LEN 256
#define HTTP_BUF 65536

struct opts {
	long reporters;
	long depth;
	const char *rpc;
	const char *http;
	long nodes;
	long tasks;
	long services; /* 0: submit tasks one by one */
	long beaters;
	long submitters;
	double node_cpu;
	long node_memory_mb;
	long manager_pid;
	long timeout_s;
};

struct sim_node {
	char name[32];
	char *id;
	int64_t next_beat_ms; /* monotonic */
	/* The assignments it last saw in full, as an agent keeps them. */
	uint64_t epoch, version;
};

/* Shared by every thread. */
struct sim {
	struct opts o;
	struct sim_node *nodes;
	atomic_long next_task;    /* submissions handed out */
	atomic_long next_service; /* --services: services handed out */
	atomic_long submitted;    /* answered 201 */
	atomic_long submit_errors;
	atomic_long seen;    /* distinct tasks seen Scheduled by a node */
	atomic_long running; /* Running reports accepted */
	atomic_long report_errors;
	atomic_long beats;
	atomic_long beat_errors;
	atomic_llong last_submit_ms; /* wall, ms */
	atomic_llong last_seen_ms;
	atomic_llong last_running_ms;
	atomic_long submitters_done;
	atomic_bool stop;

	/* Tasks seen Scheduled, waiting for a reporter; and every task
	 * ever queued (an open-addressing set of ids), so that a task
	 * listed again before its report is done is not queued twice. */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct report *queue; /* ring of qcap */
	size_t qcap, qhead, qlen;
	char (*set)[ORCH_ID_LEN];
	size_t setcap;
};

struct report {
	long node;
	char id[ORCH_ID_LEN];
};

static long
arg_long(const char *flag, const char *v)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < 0) {
		fprintf(stderr,
		    "orch-simcluster: %s wants a number, not \"%s\"\n", flag,
		    v);
		exit(2);
	}
	return n;
}

static void
sleep_ms(int64_t ms)
{
	struct timespec ts = {
	    .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int
req_open(const char *url, nng_socket *s)
{
	int rv;

	if ((rv = nng_req0_open(s)) != 0)
		return rv;
	/* A slow manager is what is measured: never resend. */
	nng_socket_set_ms(*s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	nng_socket_set_ms(*s, NNG_OPT_RECVTIMEO, 60000);
	if ((rv = nng_dial(*s, url, NULL, 0)) != 0)
		nng_close(*s);
	return rv;
}

static void
atomic_max(atomic_llong *a, long long v)
{
	long long cur = atomic_load(a);

	while (v > cur && !atomic_compare_exchange_weak(a, &cur, v))
		;
}

/* ---- nodes ---- */

struct beater {
	struct sim *sim;
	long first; /* nodes first, first + step, ... */
	long step;
	nng_socket sock;
};

static int
node_register(struct sim *sim, nng_socket s, struct sim_node *n)
{
	Orch__NodeRegistration reg = ORCH__NODE_REGISTRATION__INIT;
	Orch__Node *out = NULL;
	/* The driver of the tasks it is given (image: docker), so that the
	 * scheduler places them here; they "start" at once. */
	char *drivers[] = {"docker"};
	char err[ERR_LEN];
	int rc;

	reg.name = n->name;
	reg.address = "simcluster";
	reg.has_cpu = true;
	reg.cpu = sim->o.node_cpu;
	reg.has_memory_mb = true;
	reg.memory_mb = sim->o.node_memory_mb;
	reg.n_drivers = 1;
	reg.drivers = drivers;
	reg.agent_version = "simcluster";
	rc = orch_rpc_call(s, M_REGISTER, &reg.base, &orch__node__descriptor,
	    (ProtobufCMessage **)&out, err, sizeof(err));
	if (rc != ORCH_OK) {
		fprintf(stderr, "orch-simcluster: registering %s: %s\n",
		    n->name, err);
		return rc;
	}
	n->id = strdup(out->id);
	protobuf_c_message_free_unpacked(&out->base, NULL);
	return n->id != NULL ? ORCH_OK : ORCH_ENOMEM;
}

static void *
register_main(void *arg)
{
	struct beater *b = arg;
	struct sim *sim = b->sim;

	for (long i = b->first; i < sim->o.nodes; i += b->step) {
		if (node_register(sim, b->sock, &sim->nodes[i]) != ORCH_OK) {
			atomic_store(&sim->stop, true);
			break;
		}
	}
	return NULL;
}

/* Reports task t of node n Running, as an agent does once the container
 * runs. */
static void
task_start(struct sim *sim, nng_socket s, struct sim_node *n, const char *id)
{
	Orch__TaskStatusUpdate up = ORCH__TASK_STATUS_UPDATE__INIT;
	Orch__Task *out = NULL;
	char err[ERR_LEN], cid[48];
	int rc;

	snprintf(cid, sizeof(cid), "sim-%.36s", id);
	up.id = (char *)id;
	up.has_status = true;
	up.status = ORCH__TASK_STATUS__TASK_STATUS_RUNNING;
	up.container_id = cid;
	up.node_id = n->id;
	up.has_started_at_ms = true;
	up.started_at_ms = orch_now_ms();
	rc = orch_rpc_call(s, M_UPDATE, &up.base, &orch__task__descriptor,
	    (ProtobufCMessage **)&out, err, sizeof(err));
	if (rc != ORCH_OK) {
		if (atomic_fetch_add(&sim->report_errors, 1) < 5)
			fprintf(stderr,
			    "orch-simcluster: reporting %s Running: %s\n", id,
			    err);
		return;
	}
	protobuf_c_message_free_unpacked(&out->base, NULL);
	atomic_fetch_add(&sim->running, 1);
	atomic_max(&sim->last_running_ms, orch_now_ms());
}

static uint64_t
id_hash(const char *id)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *id != '\0'; id++)
		h = (h ^ (unsigned char)*id) * 1099511628211ULL;
	return h;
}

/* Queues task id of node for a Running report unless it was queued
 * before.  Returns true when it is new. */
static bool
report_queue(struct sim *sim, long node, const char *id)
{
	size_t i;
	bool fresh = false;

	if (strlen(id) != ORCH_ID_LEN - 1)
		return false;
	pthread_mutex_lock(&sim->mu);
	for (i = id_hash(id) & (sim->setcap - 1); sim->set[i][0] != '\0';
	     i = (i + 1) & (sim->setcap - 1)) {
		if (strcmp(sim->set[i], id) == 0)
			goto out;
	}
	if (sim->qlen == sim->qcap)
		goto out; /* full: seen again at the next beat */
	memcpy(sim->set[i], id, ORCH_ID_LEN);
	sim->queue[(sim->qhead + sim->qlen) % sim->qcap] =
	    (struct report){.node = node};
	memcpy(sim->queue[(sim->qhead + sim->qlen) % sim->qcap].id, id,
	    ORCH_ID_LEN);
	sim->qlen++;
	fresh = true;
	pthread_cond_signal(&sim->cv);
out:
	pthread_mutex_unlock(&sim->mu);
	return fresh;
}

struct reporter {
	struct sim *sim;
	nng_socket sock;
};

/* Reports queued tasks Running, as an agent's workers do once a
 * container runs: apart from the heartbeats, so that a slow report never
 * delays a beat. */
static void *
report_main(void *arg)
{
	struct reporter *r = arg;
	struct sim *sim = r->sim;
	struct report rep;
	struct timespec ts;

	for (;;) {
		pthread_mutex_lock(&sim->mu);
		while (sim->qlen == 0 && !atomic_load(&sim->stop)) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 100000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&sim->cv, &sim->mu, &ts);
		}
		if (sim->qlen == 0) {
			pthread_mutex_unlock(&sim->mu);
			break;
		}
		rep = sim->queue[sim->qhead];
		sim->qhead = (sim->qhead + 1) % sim->qcap;
		sim->qlen--;
		pthread_mutex_unlock(&sim->mu);
		task_start(sim, r->sock, &sim->nodes[rep.node], rep.id);
	}
	return NULL;
}

static void
node_beat(struct sim *sim, nng_socket s, long node)
{
	Orch__HeartbeatRequest hb = ORCH__HEARTBEAT_REQUEST__INIT;
	Orch__Assignments *a = NULL;
	struct sim_node *n = &sim->nodes[node];
	char err[ERR_LEN];
	long fresh = 0;
	int rc;

	hb.node_id = n->id;
	if (n->epoch != 0) {
		hb.has_known_epoch = hb.has_known_version = true;
		hb.known_epoch = n->epoch;
		hb.known_version = n->version;
		/* It only looks for new tasks: a delta has them. */
		hb.has_accepts_delta = hb.accepts_delta = true;
	}
	rc = orch_rpc_call(s, M_HEARTBEAT, &hb.base,
	    &orch__assignments__descriptor, (ProtobufCMessage **)&a, err,
	    sizeof(err));
	n->next_beat_ms = orch_mono_ms() + 1000;
	if (rc != ORCH_OK) {
		if (atomic_fetch_add(&sim->beat_errors, 1) < 5)
			fprintf(stderr,
			    "orch-simcluster: heartbeat of %s: %s\n", n->name,
			    err);
		return;
	}
	atomic_fetch_add(&sim->beats, 1);
	if (a->has_heartbeat_ms && a->heartbeat_ms > 0)
		n->next_beat_ms = orch_mono_ms() + a->heartbeat_ms;
	/* Nothing new: every task it holds was seen already. */
	if (a->has_unchanged && a->unchanged) {
		protobuf_c_message_free_unpacked(&a->base, NULL);
		return;
	}
	n->epoch = a->has_epoch ? a->epoch : 0;
	n->version = a->has_version ? a->version : 0;
	/* Tasks start at once: a Scheduled task not queued before is new to
	 * this node. */
	for (size_t i = 0; i < a->n_tasks; i++) {
		Orch__Task *t = a->tasks[i];

		if (t->status != ORCH__TASK_STATUS__TASK_STATUS_SCHEDULED ||
		    t->stop_requested || t->id == NULL)
			continue;
		if (report_queue(sim, node, t->id))
			fresh++;
	}
	if (fresh > 0) {
		atomic_fetch_add(&sim->seen, fresh);
		atomic_max(&sim->last_seen_ms, orch_now_ms());
	}
	protobuf_c_message_free_unpacked(&a->base, NULL);
}

static void *
beat_main(void *arg)
{
	struct beater *b = arg;
	struct sim *sim = b->sim;
	int64_t now, next;

	while (!atomic_load(&sim->stop)) {
		now = orch_mono_ms();
		next = now + 1000;
		for (long i = b->first; i < sim->o.nodes; i += b->step) {
			struct sim_node *n = &sim->nodes[i];

			if (n->next_beat_ms <= now) {
				node_beat(sim, b->sock, i);
				now = orch_mono_ms();
			}
			if (n->next_beat_ms < next)
				next = n->next_beat_ms;
			if (atomic_load(&sim->stop))
				break;
		}
		if (next > now)
			sleep_ms(next - now < 50 ? next - now : 50);
	}
	return NULL;
}

/* ---- submitting over HTTP ---- */

struct submitter {
	struct sim *sim;
	int fd;
	size_t have;
	char buf[HTTP_BUF];
};

static int
http_connect(const char *hostport)
{
	char host[256];
	const char *colon = strrchr(hostport, ':');
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
	int fd = -1;

	if (colon == NULL || (size_t)(colon - hostport) >= sizeof(host))
		return -1;
	memcpy(host, hostport, (size_t)(colon - hostport));
	host[colon - hostport] = '\0';
	if (host[0] == '[') { /* [::1] */
		memmove(host, host + 1, strlen(host));
		host[strcspn(host, "]")] = '\0';
	}
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0)
		return -1;
	fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
	if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, p, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Sends POST /tasks for tasks i .. i+n-1 at once (pipelined, as HTTP/1.1
 * allows).  Returns 0, or -1 when the connection failed. */
static int
http_post_tasks(struct submitter *sub, long i, long n)
{
	char body[256], req[512];
	int blen, rlen;

	for (long k = 0; k < n; k++) {
		blen = snprintf(body, sizeof(body),
		    "{\"name\":\"sim-%ld\",\"image\":\"sim/none:latest\","
		    "\"cpu\":0.01,\"memory\":6}",
		    i + k);
		rlen = snprintf(req, sizeof(req),
		    "POST /tasks HTTP/1.1\r\nHost: orch\r\nContent-Type: "
		    "application/json\r\nContent-Length: %d\r\n\r\n%s",
		    blen, body);
		if (write_all(sub->fd, req, (size_t)rlen) != 0)
			return -1;
	}
	return 0;
}

/* Reads one answer from the connection; returns its HTTP status, or -1
 * when the connection failed.  What follows it stays in sub->buf. */
static int
http_answer_read(struct submitter *sub)
{
	size_t need = 0;
	int status = -1;
	char *eoh, *cl;
	ssize_t k;

	for (;;) {
		if (need == 0 && (eoh = strstr(sub->buf, "\r\n\r\n")) != NULL) {
			if (sscanf(sub->buf, "HTTP/1.%*d %d", &status) != 1)
				return -1;
			cl = strcasestr(sub->buf, "\r\ncontent-length:");
			need = (size_t)(eoh + 4 - sub->buf) +
			    (cl != NULL && cl < eoh
			            ? (size_t)strtol(cl + 17, NULL, 10)
			            : 0);
		}
		if (need > 0 && sub->have >= need) {
			memmove(sub->buf, sub->buf + need, sub->have - need);
			sub->have -= need;
			sub->buf[sub->have] = '\0';
			return status;
		}
		if (sub->have >= sizeof(sub->buf) - 1)
			return -1;
		k = read(sub->fd, sub->buf + sub->have,
		    sizeof(sub->buf) - 1 - sub->have);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		sub->have += (size_t)k;
		sub->buf[sub->have] = '\0';
	}
}

/* Creates service k of --services, with its share of the tasks, and
 * counts them submitted.  Returns 0, or -1 when the connection failed. */
static int
http_post_service(struct submitter *sub, long k)
{
	struct sim *sim = sub->sim;
	long per = sim->o.tasks / sim->o.services;
	long n = k == sim->o.services - 1 ? sim->o.tasks - per * k : per;
	char body[256], req[512];
	int blen, rlen, st;

	blen = snprintf(body, sizeof(body),
	    "{\"name\":\"sim-svc-%ld\",\"image\":\"sim/none:latest\","
	    "\"replicas\":%ld,\"cpu\":0.01,\"memory\":6}",
	    k, n);
	rlen = snprintf(req, sizeof(req),
	    "POST /services HTTP/1.1\r\nHost: orch\r\nContent-Type: "
	    "application/json\r\nContent-Length: %d\r\n\r\n%s",
	    blen, body);
	if (write_all(sub->fd, req, (size_t)rlen) != 0 ||
	    (st = http_answer_read(sub)) < 0)
		return -1;
	if (st == 201) {
		atomic_fetch_add(&sim->submitted, n);
		atomic_max(&sim->last_submit_ms, orch_now_ms());
	} else {
		atomic_fetch_add(&sim->submit_errors, 1);
		fprintf(
		    stderr, "orch-simcluster: POST /services: status %d\n", st);
	}
	return 0;
}

static void *
submit_main(void *arg)
{
	struct submitter *sub = arg;
	struct sim *sim = sub->sim;
	long i, n, depth = sim->o.depth;
	int st;

	if ((sub->fd = http_connect(sim->o.http)) < 0) {
		fprintf(stderr, "orch-simcluster: cannot connect to %s\n",
		    sim->o.http);
		goto out;
	}
	while (sim->o.services > 0 && !atomic_load(&sim->stop) &&
	    (i = atomic_fetch_add(&sim->next_service, 1)) < sim->o.services) {
		if (http_post_service(sub, i) != 0)
			break;
	}
	while (sim->o.services == 0 && !atomic_load(&sim->stop) &&
	    (i = atomic_fetch_add(&sim->next_task, depth)) < sim->o.tasks) {
		n = i + depth <= sim->o.tasks ? depth : sim->o.tasks - i;
		st = http_post_tasks(sub, i, n);
		for (long k = 0; k < n; k++) {
			if (st == 0)
				st = http_answer_read(sub);
			if (st == 201 || st == 200) {
				atomic_fetch_add(&sim->submitted, 1);
				atomic_max(&sim->last_submit_ms, orch_now_ms());
				st = 0;
				continue;
			}
			if (atomic_fetch_add(&sim->submit_errors, 1) < 5)
				fprintf(stderr,
				    "orch-simcluster: POST /tasks: %s %d\n",
				    st < 0 ? "connection failed" : "status",
				    st);
			if (st > 0)
				st = 0;
		}
		if (st < 0)
			break;
	}
	if (sub->fd >= 0)
		close(sub->fd);
out:
	atomic_fetch_add(&sim->submitters_done, 1);
	return NULL;
}

/* ---- the run ---- */

/* VmRSS and VmHWM of pid in kB (0 when unknown). */
static void
proc_mem(long pid, long *rss_kb, long *hwm_kb)
{
	char path[64], line[256];
	FILE *f;

	*rss_kb = *hwm_kb = 0;
	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "VmRSS:", 6) == 0)
			*rss_kb = strtol(line + 6, NULL, 10);
		else if (strncmp(line, "VmHWM:", 6) == 0)
			*hwm_kb = strtol(line + 6, NULL, 10);
	}
	fclose(f);
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: orch-simcluster --rpc URL --http HOST:PORT [--nodes N] "
	    "[--tasks T]\n"
	    "       [--services K] [--beaters B] [--submitters S] "
	    "[--node-cpu C] [--node-memory MB]\n"
	    "       [--depth D] [--reporters R]\n"
	    "       [--manager-pid PID] [--timeout SEC]\n");
	exit(2);
}

static void
opts_parse(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){.nodes = 1000,
	    .tasks = 100000,
	    .beaters = 4,
	    .submitters = 32,
	    .depth = 8,
	    .reporters = 8,
	    .node_cpu = 64.0,
	    .node_memory_mb = 262144,
	    .timeout_s = 600};
	for (int i = 1; i < argc; i++) {
		const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (v == NULL)
			usage();
		i++;
		if (strcmp(f, "--rpc") == 0)
			o->rpc = v;
		else if (strcmp(f, "--http") == 0)
			o->http = v;
		else if (strcmp(f, "--nodes") == 0)
			o->nodes = arg_long(f, v);
		else if (strcmp(f, "--tasks") == 0)
			o->tasks = arg_long(f, v);
		else if (strcmp(f, "--services") == 0)
			o->services = arg_long(f, v);
		else if (strcmp(f, "--beaters") == 0)
			o->beaters = arg_long(f, v);
		else if (strcmp(f, "--submitters") == 0)
			o->submitters = arg_long(f, v);
		else if (strcmp(f, "--depth") == 0)
			o->depth = arg_long(f, v);
		else if (strcmp(f, "--reporters") == 0)
			o->reporters = arg_long(f, v);
		else if (strcmp(f, "--node-cpu") == 0)
			o->node_cpu = (double)arg_long(f, v);
		else if (strcmp(f, "--node-memory") == 0)
			o->node_memory_mb = arg_long(f, v);
		else if (strcmp(f, "--manager-pid") == 0)
			o->manager_pid = arg_long(f, v);
		else if (strcmp(f, "--timeout") == 0)
			o->timeout_s = arg_long(f, v);
		else
			usage();
	}
	if (o->rpc == NULL || o->http == NULL || o->nodes < 1 ||
	    o->services < 0 || o->services > o->tasks || o->beaters < 1 ||
	    o->submitters < 1 || o->depth < 1 || o->reporters < 1)
		usage();
}

int
main(int argc, char **argv)
{
	static struct sim sim;
	struct beater *bs;
	struct submitter *subs;
	struct reporter *rs;
	pthread_t *bt, *st, *rt;
	int64_t t0, t_reg, t_sub0, deadline;
	long rss, hwm, nb, ns, nr;
	int rc = 0, rv;

	opts_parse(argc, argv, &sim.o);
	nb = sim.o.beaters < sim.o.nodes ? sim.o.beaters : sim.o.nodes;
	ns = sim.o.submitters;
	nr = sim.o.reporters;
	sim.qcap = (size_t)sim.o.tasks + 1;
	for (sim.setcap = 1024; sim.setcap < 2 * sim.qcap; sim.setcap *= 2)
		;
	pthread_mutex_init(&sim.mu, NULL);
	pthread_cond_init(&sim.cv, NULL);
	if ((sim.nodes = calloc((size_t)sim.o.nodes, sizeof(*sim.nodes))) ==
	        NULL ||
	    (bs = calloc((size_t)nb, sizeof(*bs))) == NULL ||
	    (bt = calloc((size_t)nb, sizeof(*bt))) == NULL ||
	    (subs = calloc((size_t)ns, sizeof(*subs))) == NULL ||
	    (st = calloc((size_t)ns, sizeof(*st))) == NULL ||
	    (rs = calloc((size_t)nr, sizeof(*rs))) == NULL ||
	    (rt = calloc((size_t)nr, sizeof(*rt))) == NULL ||
	    (sim.queue = calloc(sim.qcap, sizeof(*sim.queue))) == NULL ||
	    (sim.set = calloc(sim.setcap, sizeof(*sim.set))) == NULL) {
		fprintf(stderr, "orch-simcluster: out of memory\n");
		return 1;
	}
	for (long i = 0; i < sim.o.nodes; i++)
		snprintf(sim.nodes[i].name, sizeof(sim.nodes[i].name),
		    "sim-%05ld", i);
	for (long i = 0; i < nb; i++) {
		bs[i] = (struct beater){.sim = &sim, .first = i, .step = nb};
		if ((rv = req_open(sim.o.rpc, &bs[i].sock)) != 0) {
			fprintf(stderr, "orch-simcluster: dialing %s: %s\n",
			    sim.o.rpc, nng_strerror(rv));
			return 1;
		}
	}

	for (long i = 0; i < nr; i++) {
		rs[i] = (struct reporter){.sim = &sim};
		if ((rv = req_open(sim.o.rpc, &rs[i].sock)) != 0) {
			fprintf(stderr, "orch-simcluster: dialing %s: %s\n",
			    sim.o.rpc, nng_strerror(rv));
			return 1;
		}
	}

	/* Register every node, then beat them, spread over the second. */
	t0 = orch_mono_ms();
	for (long i = 0; i < nb; i++)
		pthread_create(&bt[i], NULL, register_main, &bs[i]);
	for (long i = 0; i < nb; i++)
		pthread_join(bt[i], NULL);
	t_reg = orch_mono_ms();
	if (atomic_load(&sim.stop))
		return 1;
	for (long i = 0; i < sim.o.nodes; i++)
		sim.nodes[i].next_beat_ms = t_reg + i * 1000 / sim.o.nodes;
	for (long i = 0; i < nb; i++)
		pthread_create(&bt[i], NULL, beat_main, &bs[i]);
	for (long i = 0; i < nr; i++)
		pthread_create(&rt[i], NULL, report_main, &rs[i]);
	/* One beat of each first, so that every node is Ready. */
	while (atomic_load(&sim.beats) < sim.o.nodes &&
	    orch_mono_ms() - t_reg < 30000)
		sleep_ms(10);

	t_sub0 = orch_now_ms();
	for (long i = 0; i < ns; i++) {
		subs[i] = (struct submitter){.sim = &sim, .fd = -1};
		pthread_create(&st[i], NULL, submit_main, &subs[i]);
	}
	deadline = orch_mono_ms() + sim.o.timeout_s * 1000;
	for (long last = -1, tick = 0;; tick++) {
		long run = atomic_load(&sim.running);

		if (run >= sim.o.tasks || orch_mono_ms() >= deadline)
			break;
		/* Some submissions failed: wait for the others only. */
		if (atomic_load(&sim.submitters_done) == ns &&
		    run >= atomic_load(&sim.submitted))
			break;
		if (tick % 20 == 0 && run != last) {
			fprintf(stderr,
			    "orch-simcluster: %.1f s: submitted %ld, seen %ld, "
			    "Running %ld\n",
			    (double)(orch_now_ms() - t_sub0) / 1000.0,
			    atomic_load(&sim.submitted), atomic_load(&sim.seen),
			    run);
			last = run;
		}
		sleep_ms(50);
	}
	proc_mem(sim.o.manager_pid, &rss, &hwm);
	atomic_store(&sim.stop, true);
	for (long i = 0; i < ns; i++)
		pthread_join(st[i], NULL);
	for (long i = 0; i < nb; i++)
		pthread_join(bt[i], NULL);
	for (long i = 0; i < nr; i++)
		pthread_join(rt[i], NULL);
	if (atomic_load(&sim.running) < sim.o.tasks) {
		fprintf(stderr,
		    "orch-simcluster: timed out after %ld s with "
		    "%ld of %ld tasks Running\n",
		    sim.o.timeout_s, atomic_load(&sim.running), sim.o.tasks);
		rc = 1;
	}

	printf("nodes %ld\ntasks %ld\nservices %ld\nbeaters %ld\n"
	       "submitters %ld\ndepth %ld\nreporters %ld\n",
	    sim.o.nodes, sim.o.tasks, sim.o.services, nb, ns, sim.o.depth, nr);
	printf("register_ms %lld\n", (long long)(t_reg - t0));
	printf("submit_start_ms %lld\n", (long long)t_sub0);
	printf("submit_end_ms %lld\n",
	    (long long)atomic_load(&sim.last_submit_ms));
	printf(
	    "last_seen_ms %lld\n", (long long)atomic_load(&sim.last_seen_ms));
	printf("last_running_ms %lld\n",
	    (long long)atomic_load(&sim.last_running_ms));
	printf("submitted %ld\nsubmit_errors %ld\n",
	    atomic_load(&sim.submitted), atomic_load(&sim.submit_errors));
	printf("seen %ld\nrunning %ld\nreport_errors %ld\n",
	    atomic_load(&sim.seen), atomic_load(&sim.running),
	    atomic_load(&sim.report_errors));
	printf("beats %ld\nbeat_errors %ld\n", atomic_load(&sim.beats),
	    atomic_load(&sim.beat_errors));
	printf("manager_rss_kb %ld\nmanager_hwm_kb %ld\n", rss, hwm);
	for (long i = 0; i < nb; i++)
		nng_close(bs[i].sock);
	for (long i = 0; i < nr; i++)
		nng_close(rs[i].sock);
	free(rs);
	free(rt);
	free(sim.queue);
	free(sim.set);
	pthread_cond_destroy(&sim.cv);
	pthread_mutex_destroy(&sim.mu);
	for (long i = 0; i < sim.o.nodes; i++)
		free(sim.nodes[i].id);
	free(sim.nodes);
	free(bs);
	free(bt);
	free(subs);
	free(st);
	return rc;
}
