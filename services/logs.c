/*
 * logs.c: routing a node's output to the HTTP stream that asked for it
 * (see logs.h).
 *
 * Each request lives on the gateway's loop thread: only the loop links
 * and unlinks it in the list (under mu, since pushes look requests up
 * there) and frees it.  A push, on an RPC worker, changes a request's
 * queue and flags under mu and posts the request's work to the loop,
 * once until the loop takes it; a request unlinked while its work is
 * posted is freed by that work.  The ticking thread only posts the
 * module's own work, which runs the deadlines on the loop.
 */
#include "logs.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "error.h"
#include "log.h"
#include "task_json.h"

#define LOGS_COMPONENT "logs"
#define TICK_MS 250
/* A request is asked of its node again this often until it answers. */
#define REPUBLISH_MS 1000
/* A request whose client left stays until its node was told to stop (at
 * its next push, within its 5 s keep-alive), or this long. */
#define LINGER_MS 30000
/* How long a node whose chunk was not taken waits to send it again. */
#define RETRY_MS 100
#define ERR_MAX 400

_Static_assert(ORCH_LOGS_TAIL_MAX == 1000000, "update the tail message");

/* Bytes a node sent, waiting for the gateway. */
struct chunk {
	struct chunk *next;
	size_t len;
	char data[];
};

enum lstate {
	L_WAITING,   /* for the node's first chunk; req holds the request */
	L_STREAMING, /* s is the answer */
	L_DONE,      /* answered; kept until the node hears it is over */
};

struct lreq {
	struct orch_logs *lg;
	struct lreq *prev, *next;
	char id[ORCH_ID_LEN];
	char task_id[ORCH_ID_LEN];
	char task_name[160];
	char node_id[ORCH_ID_LEN];
	char node_name[ORCH_NODE_NAME_MAX + 1];
	char container_id[160];
	bool follow, out, err;
	int64_t tail;
	char ended[16]; /* the task's final status, "" while it runs */

	/* The loop's. */
	enum lstate st;
	struct orch_gw_req *req;
	struct orch_gw_stream *s;
	int64_t t0_ms, next_publish_ms, done_ms;

	/* Under mu. */
	uint64_t seq; /* the last chunk taken */
	bool heard;   /* a chunk came */
	bool eof;     /* the node's last chunk came */
	int eof_code; /* ORCH__ERROR_CODE__... of the last chunk */
	char error[ERR_MAX];
	bool cancelled; /* answer the node's next push "stop" */
	bool told;      /* the node heard it is over */
	int64_t last_push_ms;
	struct chunk *q_head, *q_tail;
	size_t q_bytes;
	bool posted; /* work is in the loop's queue */
	bool zombie; /* unlinked while posted: the work frees it */
	struct orch_gw_work work;
};

struct orch_logs {
	struct orch_nodes *nodes;
	struct orch_notify *notify;
	struct orch_gw *gw;

	pthread_mutex_t mu;
	pthread_cond_t cv; /* the ticker's sleep */
	struct lreq *reqs;
	size_t n_reqs;
	bool closed;
	bool tick_posted;
	bool ticker_stop;
	struct orch_gw_work tick_work;
	pthread_t ticker;
	bool ticker_started;
};

/* ---- answers ---- */

static void
respond_error(struct orch_gw_req *req, int status, const char *msg)
{
	json_t *j = json_object();
	char *s = NULL;
	size_t n = 0;

	if (j != NULL &&
	    json_object_set_new(j, "error", orch_json_text(msg)) == 0)
		s = orch_json_line(j, &n);
	if (s == NULL) {
		static const char oom[] = "{\"error\":\"out of memory\"}\n";
		orch_gw_respond(
		    req, 503, "application/json", oom, sizeof(oom) - 1, NULL);
	} else {
		orch_gw_respond(req, status, "application/json", s, n, NULL);
	}
	free(s);
	json_decref(j);
}

/* Ends s with the trailer saying why the output stops short. */
static void
stream_end_error(struct orch_gw_stream *s, const char *msg)
{
	orch_gw_stream_end_error(s, "X-Orch-Logs-Error", msg);
}

/* The HTTP status of a node's error before any output. */
static int
status_of_code(int code)
{
	switch (code) {
	case ORCH__ERROR_CODE__NOT_FOUND: return 410;
	case ORCH__ERROR_CODE__UNAVAILABLE: return 503;
	}
	return 502;
}

/* ---- requests (loop thread) ---- */

static void
chunks_free(struct lreq *lr)
{
	struct chunk *c, *next;

	for (c = lr->q_head; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	lr->q_head = lr->q_tail = NULL;
	lr->q_bytes = 0;
}

/* Unlinks lr and frees it, or leaves that to its posted work. */
static void
lreq_remove(struct lreq *lr)
{
	struct orch_logs *lg = lr->lg;
	bool free_now;

	pthread_mutex_lock(&lg->mu);
	if (lr->prev != NULL)
		lr->prev->next = lr->next;
	else
		lg->reqs = lr->next;
	if (lr->next != NULL)
		lr->next->prev = lr->prev;
	lg->n_reqs--;
	chunks_free(lr);
	free_now = !lr->posted;
	lr->zombie = !free_now;
	pthread_mutex_unlock(&lg->mu);
	if (free_now)
		free(lr);
}

/* The answer is over (or never came): the node is told at its next push;
 * lr goes once it was, or after LINGER_MS. */
static void
lreq_done(struct lreq *lr)
{
	pthread_mutex_lock(&lr->lg->mu);
	lr->cancelled = true;
	chunks_free(lr);
	pthread_mutex_unlock(&lr->lg->mu);
	lr->st = L_DONE;
	lr->req = NULL;
	lr->s = NULL;
	lr->done_ms = orch_mono_ms();
}

static void lreq_pump(struct lreq *lr);

/* What the node's error says, for the client: it names the node, and
 * for a task that has ended and whose instance is gone, says why there
 * is nothing to read.  Under mu. */
static void
node_error(const struct lreq *lr, char *buf, size_t len)
{
	if (lr->eof_code == ORCH__ERROR_CODE__NOT_FOUND && lr->ended[0] != '\0')
		snprintf(buf, len,
		    "task %s has ended (%s) and node %s has removed its "
		    "container or process, and with it its output (orch "
		    "removes a task's instance once the manager knows how it "
		    "ended)",
		    lr->task_name, lr->ended, lr->node_name);
	else if (strstr(lr->error, lr->node_name) != NULL)
		snprintf(buf, len, "%s", lr->error);
	else
		snprintf(buf, len, "node %s: %s", lr->node_name, lr->error);
}

static void
on_writable(struct orch_gw_stream *s, void *arg)
{
	(void)s;
	lreq_pump(arg);
}

static void
on_closed(struct orch_gw_stream *s, void *arg, const char *why)
{
	struct lreq *lr = arg;

	orch_info(LOGS_COMPONENT,
	    "task %s: the output stream to %s ended: %s; node %s is told "
	    "to stop",
	    lr->task_id, orch_gw_stream_peer(s), why, lr->node_name);
	orch_gw_stream_end(s);
	lreq_done(lr);
}

static const struct orch_gw_stream_ops stream_ops = {
    .writable = on_writable,
    .closed = on_closed,
};

/* Answers a waiting request now that its node has spoken: a JSON error
 * when its first chunk is one, else the stream's head. */
static void
lreq_answer(struct lreq *lr)
{
	char hdr[400], msg[ERR_MAX + 200];
	bool failed;
	int code;

	pthread_mutex_lock(&lr->lg->mu);
	failed = lr->eof && lr->q_head == NULL &&
	    lr->eof_code != ORCH__ERROR_CODE__OK;
	code = lr->eof_code;
	node_error(lr, msg, sizeof(msg));
	pthread_mutex_unlock(&lr->lg->mu);
	if (failed) {
		orch_info(LOGS_COMPONENT,
		    "task %s: its output cannot be read: %s", lr->task_id, msg);
		respond_error(lr->req, status_of_code(code), msg);
		lreq_done(lr);
		return;
	}
	snprintf(hdr, sizeof(hdr),
	    "X-Orch-Task: %s\r\nX-Orch-Node: %s\r\n"
	    "Trailer: X-Orch-Logs-Error\r\n",
	    lr->task_id, lr->node_name);
	if (orch_gw_stream_start(lr->req, 200, "text/plain; charset=utf-8", hdr,
	        &stream_ops, lr, &lr->s) != ORCH_OK) {
		/* The client left while it waited. */
		lreq_done(lr);
		return;
	}
	lr->req = NULL;
	lr->st = L_STREAMING;
}

/* Writes what lr's node sent while the client keeps up, and ends the
 * stream after the node's last chunk. */
static void
lreq_pump(struct lreq *lr)
{
	struct orch_logs *lg = lr->lg;
	struct chunk *c;
	bool eof;
	int code;
	char err[ERR_MAX + 200];

	if (lr->st == L_WAITING) {
		pthread_mutex_lock(&lg->mu);
		eof = lr->heard;
		pthread_mutex_unlock(&lg->mu);
		if (!eof)
			return;
		lreq_answer(lr);
	}
	while (lr->st == L_STREAMING && !orch_gw_stream_full(lr->s)) {
		pthread_mutex_lock(&lg->mu);
		if ((c = lr->q_head) != NULL) {
			if ((lr->q_head = c->next) == NULL)
				lr->q_tail = NULL;
			lr->q_bytes -= c->len;
		}
		eof = lr->eof;
		code = lr->eof_code;
		node_error(lr, err, sizeof(err));
		pthread_mutex_unlock(&lg->mu);
		if (c == NULL) {
			if (!eof)
				return;
			if (code != ORCH__ERROR_CODE__OK)
				stream_end_error(lr->s, err);
			else
				orch_gw_stream_end(lr->s);
			lreq_done(lr);
			return;
		}
		if (orch_gw_stream_write(lr->s, c->data, c->len) != ORCH_OK) {
			/* Closed: the gateway said why in the log. */
			free(c);
			orch_gw_stream_end(lr->s);
			lreq_done(lr);
			return;
		}
		free(c);
	}
}

/* A push's posted work. */
static void
lreq_work(struct orch_gw_work *w)
{
	struct lreq *lr =
	    (struct lreq *)((char *)w - offsetof(struct lreq, work));
	bool zombie;

	pthread_mutex_lock(&lr->lg->mu);
	lr->posted = false;
	zombie = lr->zombie;
	pthread_mutex_unlock(&lr->lg->mu);
	if (zombie) {
		free(lr);
		return;
	}
	lreq_pump(lr);
}

/* Asks lr's node for the output, again. */
static void
lreq_publish(struct lreq *lr)
{
	Orch__LogRequest r = ORCH__LOG_REQUEST__INIT;

	r.request_id = lr->id;
	r.task_id = lr->task_id;
	r.container_id = lr->container_id[0] != '\0' ? lr->container_id : NULL;
	r.has_follow = true;
	r.follow = lr->follow;
	if (lr->tail >= 0) {
		r.has_tail = true;
		r.tail = lr->tail;
	}
	r.has_stdout = r.has_stderr = true;
	r.stdout = lr->out;
	r.stderr = lr->err;
	orch_notify_logs(lr->lg->notify, lr->node_id, &r);
	lr->next_publish_ms = orch_mono_ms() + REPUBLISH_MS;
}

/* The deadlines of every request, on the loop. */
static void
logs_tick(struct orch_gw_work *w)
{
	struct orch_logs *lg = (struct orch_logs *)((char *)w -
	    offsetof(struct orch_logs, tick_work));
	int64_t now = orch_mono_ms();
	struct lreq *lr, *next;
	char msg[ERR_MAX + 200];

	pthread_mutex_lock(&lg->mu);
	lg->tick_posted = false;
	pthread_mutex_unlock(&lg->mu);
	if (lg->closed)
		return;
	/* Only the loop links and unlinks: it may walk the list alone. */
	for (lr = lg->reqs; lr != NULL; lr = next) {
		bool heard, told;
		int64_t last;

		next = lr->next;
		pthread_mutex_lock(&lg->mu);
		heard = lr->heard;
		told = lr->told;
		last = lr->last_push_ms;
		pthread_mutex_unlock(&lg->mu);
		switch (lr->st) {
		case L_WAITING:
			if (heard)
				break; /* its work is posted */
			if (now - lr->t0_ms >= ORCH_LOGS_FIRST_WAIT_MS) {
				snprintf(msg, sizeof(msg),
				    "node %s did not answer the request for "
				    "the output of task %s within %d s (is "
				    "its agent running and connected?)",
				    lr->node_name, lr->task_name,
				    ORCH_LOGS_FIRST_WAIT_MS / 1000);
				orch_warn(LOGS_COMPONENT, "%s", msg);
				respond_error(lr->req, 504, msg);
				lreq_done(lr);
			} else if (now >= lr->next_publish_ms) {
				lreq_publish(lr);
			}
			break;
		case L_STREAMING:
			if (now - last >= ORCH_LOGS_SILENCE_MS) {
				snprintf(msg, sizeof(msg),
				    "node %s stopped sending the output of "
				    "task %s (nothing for %d s)",
				    lr->node_name, lr->task_name,
				    ORCH_LOGS_SILENCE_MS / 1000);
				orch_warn(LOGS_COMPONENT, "%s", msg);
				stream_end_error(lr->s, msg);
				lreq_done(lr);
			} else if (now - lr->t0_ms >= ORCH_LOGS_LIFETIME_MS) {
				snprintf(msg, sizeof(msg),
				    "the stream reached its limit of %lld h: "
				    "ask again to go on",
				    ORCH_LOGS_LIFETIME_MS / 3600000);
				stream_end_error(lr->s, msg);
				lreq_done(lr);
			}
			break;
		case L_DONE:
			if (told || now - lr->done_ms >= LINGER_MS)
				lreq_remove(lr);
			break;
		}
	}
}

static void *
ticker_main(void *arg)
{
	struct orch_logs *lg = arg;
	struct timespec until;
	bool post;

	pthread_mutex_lock(&lg->mu);
	while (!lg->ticker_stop) {
		orch_mono_deadline(TICK_MS, &until);
		pthread_cond_timedwait(&lg->cv, &lg->mu, &until);
		/* Only while there is something to watch. */
		post = !lg->ticker_stop && !lg->tick_posted && lg->n_reqs > 0;
		if (post) {
			lg->tick_posted = true;
			orch_gw_post(lg->gw, &lg->tick_work);
		}
	}
	pthread_mutex_unlock(&lg->mu);
	return NULL;
}

/* ---- serving ---- */

/* Reads the query into lr.  Answers 400 and returns false when bad. */
static bool
query_read(struct orch_gw_req *req, struct orch_http_slice q, struct lreq *lr)
{
	char v[32], *end;
	long long n;
	int r;

	lr->out = lr->err = true;
	lr->tail = -1;
	if ((r = orch_http_query_get(q, "follow", v, sizeof(v))) != 0) {
		if (r < 0 ||
		    (strcmp(v, "1") != 0 && strcmp(v, "0") != 0 &&
		        strcmp(v, "true") != 0 && strcmp(v, "false") != 0)) {
			respond_error(req, 400,
			    "query parameter \"follow\" must be 1 or 0 (true "
			    "or false)");
			return false;
		}
		lr->follow = v[0] == '1' || v[0] == 't';
	}
	if ((r = orch_http_query_get(q, "tail", v, sizeof(v))) != 0) {
		errno = 0;
		n = r > 0 ? strtoll(v, &end, 10) : -1;
		if (r < 0 || end == v || *end != '\0' || errno != 0 || n < 0 ||
		    n > ORCH_LOGS_TAIL_MAX || v[0] == '-' || v[0] == '+') {
			respond_error(req, 400,
			    "query parameter \"tail\" must be a number of "
			    "lines, 0 to 1000000");
			return false;
		}
		lr->tail = n;
	}
	if ((r = orch_http_query_get(q, "stream", v, sizeof(v))) != 0) {
		if (r > 0 && strcmp(v, "stdout") == 0) {
			lr->err = false;
		} else if (r > 0 && strcmp(v, "stderr") == 0) {
			lr->out = false;
		} else {
			respond_error(req, 400,
			    "query parameter \"stream\" must be stdout or "
			    "stderr (absent: both)");
			return false;
		}
	}
	return true;
}

/* Answers 409 and returns false when t has no output to read yet. */
static bool
task_started(struct orch_gw_req *req, const orch_task *t, const char *name)
{
	const char *status = orch_task_status_name(t->status), *verb;
	char msg[ERR_MAX + 300];
	bool placed = t->node_id != NULL && t->node_id[0] != '\0';
	bool ran = t->container_id != NULL && t->container_id[0] != '\0';
	bool why = t->error != NULL && t->error[0] != '\0';

	if (t->status == ORCH__TASK_STATUS__TASK_STATUS_PENDING ||
	    t->status == ORCH__TASK_STATUS__TASK_STATUS_SCHEDULED)
		verb = "has not started";
	else if (!placed || !ran)
		verb = "never started";
	else
		return true;
	snprintf(msg, sizeof(msg), "task %s %s: it is %s%s%.*s%s", name, verb,
	    status != NULL ? status : "?", why ? " (" : "", ERR_MAX,
	    why ? t->error : "", why ? ")" : "");
	respond_error(req, 409, msg);
	return false;
}

void
orch_logs_serve(struct orch_logs *lg, struct orch_gw_req *req,
    const orch_task *t, struct orch_http_slice query)
{
	struct lreq *lr;
	const char *name =
	    t->spec != NULL && t->spec->name != NULL ? t->spec->name : t->id;
	char msg[ERR_MAX + 300];
	size_t on_node = 0;

	if (lg->closed) {
		respond_error(req, 503, "the manager is shutting down");
		return;
	}
	if ((lr = calloc(1, sizeof(*lr))) == NULL) {
		respond_error(req, 503, "out of memory");
		return;
	}
	if (!query_read(req, query, lr) || !task_started(req, t, name))
		goto drop;
	lr->lg = lg;
	orch_id_new(lr->id);
	snprintf(lr->task_id, sizeof(lr->task_id), "%s", t->id);
	snprintf(lr->task_name, sizeof(lr->task_name), "%s", name);
	snprintf(lr->node_id, sizeof(lr->node_id), "%s", t->node_id);
	snprintf(
	    lr->container_id, sizeof(lr->container_id), "%s", t->container_id);
	if (orch_task_status_terminal(t->status))
		snprintf(lr->ended, sizeof(lr->ended), "%s",
		    orch_task_status_name(t->status));
	if (orch_nodes_name(lg->nodes, t->node_id, lr->node_name,
	        sizeof(lr->node_name)) != ORCH_OK)
		snprintf(
		    lr->node_name, sizeof(lr->node_name), "%s", t->node_id);
	if (orch_nodes_status(lg->nodes, t->node_id, NULL) ==
	    ORCH__NODE_STATUS__NODE_STATUS_DOWN) {
		snprintf(msg, sizeof(msg),
		    "node %s, where task %s ran, is Down (not heard from "
		    "within the heartbeat TTL): its output cannot be read",
		    lr->node_name, name);
		respond_error(req, 502, msg);
		goto drop;
	}
	for (struct lreq *o = lg->reqs; o != NULL; o = o->next) {
		if (strcmp(o->node_id, lr->node_id) == 0)
			on_node++;
	}
	if (lg->n_reqs >= ORCH_LOGS_STREAMS_MAX ||
	    on_node >= ORCH_LOGS_NODE_STREAMS_MAX) {
		snprintf(msg, sizeof(msg),
		    "%s serves %d log streams already: try again later",
		    on_node >= ORCH_LOGS_NODE_STREAMS_MAX ? "the node"
		                                          : "the manager",
		    on_node >= ORCH_LOGS_NODE_STREAMS_MAX
		        ? ORCH_LOGS_NODE_STREAMS_MAX
		        : ORCH_LOGS_STREAMS_MAX);
		respond_error(req, 503, msg);
		goto drop;
	}
	lr->st = L_WAITING;
	lr->req = req;
	lr->t0_ms = orch_mono_ms();
	lr->work.fn = lreq_work;
	pthread_mutex_lock(&lg->mu);
	lr->next = lg->reqs;
	if (lg->reqs != NULL)
		lg->reqs->prev = lr;
	lg->reqs = lr;
	lg->n_reqs++;
	pthread_cond_signal(&lg->cv);
	pthread_mutex_unlock(&lg->mu);
	orch_info(LOGS_COMPONENT,
	    "task %s: asking node %s for its output (request %s%s)", t->id,
	    lr->node_name, lr->id, lr->follow ? ", follow" : "");
	lreq_publish(lr);
	return;
drop:
	free(lr);
}

/* ---- pushes (RPC workers) ---- */

int
orch_logs_push(struct orch_logs *lg, const Orch__LogChunk *c, Orch__LogAck *ack,
    char *err, size_t errlen)
{
	struct lreq *lr;
	struct chunk *ch = NULL;
	size_t len = c->has_data ? c->data.len : 0;
	int rc = ORCH_OK;

	if (c->request_id == NULL || c->node_id == NULL || !c->has_seq ||
	    c->seq == 0) {
		snprintf(err, errlen,
		    "fields \"request_id\", \"node_id\" and \"seq\" (from 1) "
		    "are required");
		return ORCH_EINVAL;
	}
	if (len > ORCH_LOGS_CHUNK_MAX) {
		snprintf(err, errlen,
		    "field \"data\": %zu bytes, more than a chunk's %d", len,
		    ORCH_LOGS_CHUNK_MAX);
		return ORCH_EINVAL;
	}
	if (len > 0 && (ch = malloc(sizeof(*ch) + len)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return ORCH_ENOMEM;
	}
	pthread_mutex_lock(&lg->mu);
	for (lr = lg->reqs; lr != NULL; lr = lr->next) {
		if (strcmp(lr->id, c->request_id) == 0)
			break;
	}
	if (lr == NULL || lr->cancelled || lg->closed) {
		/* Over, or not this manager's (it restarted): stop. */
		ack->has_stop = true;
		ack->stop = true;
		if (lr != NULL)
			lr->told = true;
		goto out;
	}
	if (strcmp(lr->node_id, c->node_id) != 0) {
		snprintf(err, errlen,
		    "request %.40s is for node %s, not for node %.40s",
		    c->request_id, lr->node_id, c->node_id);
		rc = ORCH_EPERM;
		goto out;
	}
	if (c->seq <= lr->seq)
		goto out; /* a resend of one taken */
	if (c->seq != lr->seq + 1) {
		snprintf(err, errlen,
		    "request %.40s: chunk %llu after chunk %llu: one is "
		    "missing",
		    c->request_id, (unsigned long long)c->seq,
		    (unsigned long long)lr->seq);
		rc = ORCH_EINVAL;
		goto out;
	}
	if (lr->eof) {
		ack->has_stop = true;
		ack->stop = true;
		goto out;
	}
	if (len > 0 && lr->q_bytes > 0 &&
	    lr->q_bytes + len > ORCH_LOGS_QUEUE_MAX) {
		/* Its client is slow: the node sends it again later. */
		ack->has_accepted = true;
		ack->accepted = false;
		ack->has_retry_ms = true;
		ack->retry_ms = RETRY_MS;
		goto out;
	}
	lr->seq = c->seq;
	lr->heard = true;
	lr->last_push_ms = orch_mono_ms();
	if (ch != NULL) {
		ch->next = NULL;
		ch->len = len;
		memcpy(ch->data, c->data.data, len);
		if (lr->q_tail != NULL)
			lr->q_tail->next = ch;
		else
			lr->q_head = ch;
		lr->q_tail = ch;
		lr->q_bytes += len;
		ch = NULL;
	}
	if (c->has_eof && c->eof) {
		lr->eof = true;
		lr->eof_code =
		    c->has_code ? (int)c->code : ORCH__ERROR_CODE__OK;
		snprintf(lr->error, sizeof(lr->error), "%s",
		    c->error != NULL ? c->error
		        : lr->eof_code != ORCH__ERROR_CODE__OK
		        ? "its output cannot be read"
		        : "");
		/* Nothing more will come: no stop to tell it. */
		lr->told = true;
	}
	if (!lr->posted) {
		lr->posted = true;
		orch_gw_post(lg->gw, &lr->work);
	}
out:
	pthread_mutex_unlock(&lg->mu);
	free(ch);
	return rc;
}

/* ---- life ---- */

int
orch_logs_new(struct orch_nodes *nodes, struct orch_notify *notify,
    struct orch_logs **out)
{
	struct orch_logs *lg = calloc(1, sizeof(*lg));
	pthread_condattr_t ca;

	*out = NULL;
	if (lg == NULL)
		return ORCH_ENOMEM;
	lg->nodes = nodes;
	lg->notify = notify;
	lg->tick_work.fn = logs_tick;
	if (pthread_mutex_init(&lg->mu, NULL) != 0) {
		free(lg);
		return ORCH_ENOMEM;
	}
	if (pthread_condattr_init(&ca) != 0 ||
	    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&lg->cv, &ca) != 0) {
		pthread_mutex_destroy(&lg->mu);
		free(lg);
		return ORCH_ENOMEM;
	}
	pthread_condattr_destroy(&ca);
	*out = lg;
	return ORCH_OK;
}

int
orch_logs_attach(struct orch_logs *lg, struct orch_gw *gw)
{
	int rc;

	lg->gw = gw;
	if ((rc = pthread_create(&lg->ticker, NULL, ticker_main, lg)) != 0)
		return orch_err_from_errno(rc);
	lg->ticker_started = true;
	return ORCH_OK;
}

uint64_t
orch_logs_streams(struct orch_logs *lg)
{
	uint64_t n = 0;

	/* The loop's list, read on the loop: no lock needed. */
	for (const struct lreq *lr = lg->reqs; lr != NULL; lr = lr->next)
		n += lr->st != L_DONE;
	return n;
}

void
orch_logs_close(struct orch_logs *lg)
{
	if (lg == NULL || lg->closed)
		return;
	pthread_mutex_lock(&lg->mu);
	lg->ticker_stop = true;
	lg->closed = true;
	pthread_cond_signal(&lg->cv);
	pthread_mutex_unlock(&lg->mu);
	if (lg->ticker_started)
		pthread_join(lg->ticker, NULL);
	lg->ticker_started = false;
	while (lg->reqs != NULL) {
		struct lreq *lr = lg->reqs;

		if (lr->st == L_WAITING)
			respond_error(
			    lr->req, 503, "the manager is shutting down");
		else if (lr->st == L_STREAMING)
			stream_end_error(lr->s, "the manager is shutting down");
		lreq_remove(lr);
	}
}

void
orch_logs_free(struct orch_logs *lg)
{
	if (lg == NULL)
		return;
	orch_logs_close(lg);
	pthread_cond_destroy(&lg->cv);
	pthread_mutex_destroy(&lg->mu);
	free(lg);
}
