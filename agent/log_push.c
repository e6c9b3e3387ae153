#include "log_push.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "error.h"
#include "log.h"
#include "rpc_client.h"
#include "task.h"

#define LOGS_COMPONENT "logs"
/* Request ids remembered after their session, so that the manager's
 * repeats of a request served already start nothing. */
#define LOGS_SEEN 64
#define LOGS_ID_MAX 64
#define LOGS_NODE_MAX 128
/* One push's send and receive; the manager answers at once. */
#define LOGS_RPC_TIMEOUT_MS 5000
/* A lost push is sent again after this (the seq makes it harmless). */
#define LOGS_RESEND_MS 2000
/* Bounds on the wait a "not taken" ack asks for. */
#define LOGS_RETRY_MIN_MS 10
#define LOGS_RETRY_MAX_MS 1000

struct orch_agent_logs {
	nng_socket req;
	orch_agent_logs_find_fn find;
	void *arg;

	pthread_mutex_t mu;
	pthread_cond_t cv; /* a session ended */
	bool stopping;
	unsigned running;
	unsigned long started;
	/* Under way, and served lately: request ids. */
	char active[ORCH_AGENT_LOG_SESSIONS][LOGS_ID_MAX];
	char seen[LOGS_SEEN][LOGS_ID_MAX];
	size_t seen_next;
};

/* One request being served. */
struct session {
	struct orch_agent_logs *l;
	int slot; /* in l->active */
	char request_id[LOGS_ID_MAX];
	char task_id[ORCH_ID_LEN];
	char node_id[LOGS_NODE_MAX + 1];
	struct orch_log_opts o;

	nng_ctx ctx;
	bool ctx_open;
	nng_aio *aio;
	uint64_t seq;
	int64_t last_push_ms;
	bool pushed; /* the manager has heard from it */

	/* Output not pushed yet: one stream's. */
	char *buf;
	size_t len;
	int stream;
	uint64_t bytes; /* pushed, for the log */

	bool stop; /* no more pushes: why says why */
	char why[256];
};

static bool
logs_stopping(struct orch_agent_logs *l)
{
	bool s;

	pthread_mutex_lock(&l->mu);
	s = l->stopping;
	pthread_mutex_unlock(&l->mu);
	return s;
}

/* Sleeps ms, less when the keeper stops. */
static void
logs_sleep(struct orch_agent_logs *l, int ms)
{
	struct timespec until;

	orch_mono_deadline(ms, &until);
	pthread_mutex_lock(&l->mu);
	while (!l->stopping &&
	    pthread_cond_timedwait(&l->cv, &l->mu, &until) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&l->mu);
}

/* The wire code for an orch error of the node's. */
static Orch__ErrorCode
logs_code(int rc)
{
	switch (rc) {
	case ORCH_OK: return ORCH__ERROR_CODE__OK;
	case ORCH_ENOENT: return ORCH__ERROR_CODE__NOT_FOUND;
	case ORCH_EINVAL: return ORCH__ERROR_CODE__INVALID_ARGUMENT;
	case ORCH_EUNAVAIL:
	case ORCH_ETIMEDOUT:
	case ORCH_ENOMEM: return ORCH__ERROR_CODE__UNAVAILABLE;
	}
	return ORCH__ERROR_CODE__INTERNAL;
}

/*
 * Sends one chunk and waits for its ack, sending it again for as long as
 * the manager answers "not taken".  Sets s->stop (with why) when the
 * manager says stop or cannot be reached.  rc and error: an eof's.
 */
static void
push(struct session *s, int stream, const char *data, size_t len, bool eof,
    int rc, const char *error)
{
	Orch__LogChunk c = ORCH__LOG_CHUNK__INIT;
	ProtobufCMessage *out = NULL;
	Orch__LogAck *ack;
	char err[512];
	int crc;

	c.request_id = s->request_id;
	c.node_id = s->node_id;
	c.has_seq = true;
	c.seq = ++s->seq;
	if (len > 0) {
		c.has_stream = true;
		c.stream = stream == ORCH_LOG_STDERR
		    ? ORCH__LOG_STREAM__LOG_STREAM_STDERR
		    : ORCH__LOG_STREAM__LOG_STREAM_STDOUT;
		c.has_data = true;
		c.data.data = (uint8_t *)data;
		c.data.len = len;
	}
	if (eof) {
		c.has_eof = true;
		c.eof = true;
		if (rc != ORCH_OK) {
			c.has_code = true;
			c.code = logs_code(rc);
			c.error = (char *)error;
		}
	}
	for (;;) {
		if (logs_stopping(s->l)) {
			s->stop = true;
			snprintf(
			    s->why, sizeof(s->why), "the agent is stopping");
			return;
		}
		crc = orch_rpc_call_ctx(s->ctx, s->aio, LOGS_RPC_TIMEOUT_MS,
		    "orch.Manager/PushLogs", &c.base,
		    &orch__log_ack__descriptor, &out, err, sizeof(err));
		if (crc != ORCH_OK) {
			s->stop = true;
			snprintf(s->why, sizeof(s->why),
			    "cannot push to the manager: %.200s", err);
			return;
		}
		ack = (Orch__LogAck *)out;
		s->pushed = true;
		s->last_push_ms = orch_mono_ms();
		if (ack->stop) {
			s->stop = true;
			snprintf(s->why, sizeof(s->why),
			    "the manager asked to stop (its client left)");
		} else if (!ack->accepted) {
			int ms = ack->has_retry_ms ? (int)ack->retry_ms : 100;

			orch__log_ack__free_unpacked(ack, NULL);
			out = NULL;
			/* Its client reads slowly: the same chunk later. */
			logs_sleep(s->l,
			    ms < LOGS_RETRY_MIN_MS       ? LOGS_RETRY_MIN_MS
			        : ms > LOGS_RETRY_MAX_MS ? LOGS_RETRY_MAX_MS
			                                 : ms);
			continue;
		}
		orch__log_ack__free_unpacked(ack, NULL);
		s->bytes += len;
		return;
	}
}

/* Pushes what s holds. */
static void
flush(struct session *s)
{
	if (s->len == 0 || s->stop)
		return;
	push(s, s->stream, s->buf, s->len, false, ORCH_OK, NULL);
	s->len = 0;
}

/* The driver's function: gathers output into chunks of one stream, and
 * on a tick pushes them, or an empty chunk when the manager has not
 * heard from the session for a while (or at all: the first tick says the
 * output is open). */
static int
on_output(void *arg, int stream, const char *data, size_t len)
{
	struct session *s = arg;

	if (logs_stopping(s->l)) {
		s->stop = true;
		snprintf(s->why, sizeof(s->why), "the agent is stopping");
		return 1;
	}
	if (len == 0) {
		if (s->len > 0)
			flush(s);
		else if (!s->pushed ||
		    orch_mono_ms() - s->last_push_ms >=
		        ORCH_AGENT_LOG_KEEPALIVE_MS)
			push(s, stream, NULL, 0, false, ORCH_OK, NULL);
		return s->stop ? 1 : 0;
	}
	while (len > 0 && !s->stop) {
		size_t take;

		if (s->len > 0 && s->stream != stream)
			flush(s);
		s->stream = stream;
		take = ORCH_AGENT_LOG_CHUNK - s->len;
		if (take > len)
			take = len;
		memcpy(s->buf + s->len, data, take);
		s->len += take;
		data += take;
		len -= take;
		if (s->len == ORCH_AGENT_LOG_CHUNK)
			flush(s);
	}
	return s->stop ? 1 : 0;
}

static void
session_free(struct session *s)
{
	if (s->ctx_open)
		nng_ctx_close(s->ctx);
	if (s->aio != NULL)
		nng_aio_free(s->aio);
	free(s->buf);
	free(s);
}

static void *
session_main(void *arg)
{
	struct session *s = arg;
	struct orch_agent_logs *l = s->l;
	const struct orch_driver_ops *ops = NULL;
	char handle[ORCH_HANDLE_LEN], err[512];
	void *st = NULL;
	int rc;

	err[0] = '\0';
	rc = l->find(l->arg, s->task_id, &ops, &st, handle, err, sizeof(err));
	if (rc == ORCH_OK && ops->logs == NULL) {
		snprintf(err, sizeof(err),
		    "the %s driver cannot read a task's output", ops->name);
		rc = ORCH_EINVAL;
	}
	if (rc == ORCH_OK)
		rc = ops->logs(
		    st, handle, &s->o, on_output, s, err, sizeof(err));
	if (rc == ORCH_ECLOSED && !s->stop) {
		s->stop = true;
		snprintf(s->why, sizeof(s->why), "%s", "its reader stopped");
	}
	if (!s->stop) {
		flush(s);
		/* The end, or why there is none. */
		push(s, ORCH_LOG_STDOUT, NULL, 0, true, rc, err);
		if (rc != ORCH_OK)
			orch_warn(LOGS_COMPONENT,
			    "task %s: request %s: cannot read its output: %s",
			    s->task_id, s->request_id, err);
	}
	orch_info(LOGS_COMPONENT,
	    "task %s: request %s ended after %llu bytes%s%s", s->task_id,
	    s->request_id, (unsigned long long)s->bytes,
	    s->stop ? ": stopped: " : "", s->stop ? s->why : "");
	pthread_mutex_lock(&l->mu);
	l->active[s->slot][0] = '\0';
	snprintf(l->seen[l->seen_next], LOGS_ID_MAX, "%s", s->request_id);
	l->seen_next = (l->seen_next + 1) % LOGS_SEEN;
	l->running--;
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
	session_free(s);
	return NULL;
}

/* Whether request id runs or ran lately.  Under mu. */
static bool
known(struct orch_agent_logs *l, const char *id)
{
	for (size_t i = 0; i < ORCH_AGENT_LOG_SESSIONS; i++) {
		if (strcmp(l->active[i], id) == 0)
			return true;
	}
	for (size_t i = 0; i < LOGS_SEEN; i++) {
		if (strcmp(l->seen[i], id) == 0)
			return true;
	}
	return false;
}

/* A session for r, with its own context; NULL when out of resources. */
static struct session *
session_new(
    struct orch_agent_logs *l, const char *node_id, const Orch__LogRequest *r)
{
	struct session *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->l = l;
	snprintf(s->request_id, sizeof(s->request_id), "%s", r->request_id);
	snprintf(s->task_id, sizeof(s->task_id), "%s", r->task_id);
	snprintf(s->node_id, sizeof(s->node_id), "%s", node_id);
	s->o.follow = r->has_follow && r->follow;
	s->o.tail = r->has_tail && r->tail >= 0 ? r->tail : -1;
	s->o.out = !r->has_stdout || r->stdout;
	s->o.err = !r->has_stderr || r->stderr;
	if ((s->buf = malloc(ORCH_AGENT_LOG_CHUNK)) == NULL ||
	    nng_aio_alloc(&s->aio, NULL, NULL) != 0 ||
	    nng_ctx_open(&s->ctx, l->req) != 0) {
		session_free(s);
		return NULL;
	}
	s->ctx_open = true;
	nng_ctx_set_ms(s->ctx, NNG_OPT_REQ_RESENDTIME, LOGS_RESEND_MS);
	return s;
}

void
orch_agent_logs_request(
    struct orch_agent_logs *l, const char *node_id, const Orch__LogRequest *r)
{
	struct session *s = NULL;
	pthread_attr_t ta;
	pthread_t t;
	int slot = -1;

	if (r->request_id == NULL || r->request_id[0] == '\0' ||
	    strlen(r->request_id) >= LOGS_ID_MAX || r->task_id == NULL ||
	    !orch_id_valid(r->task_id)) {
		orch_warn(LOGS_COMPONENT,
		    "ignored a log request without a valid request or task "
		    "id");
		return;
	}
	pthread_mutex_lock(&l->mu);
	if (l->stopping || known(l, r->request_id)) {
		pthread_mutex_unlock(&l->mu);
		return;
	}
	for (int i = 0; i < ORCH_AGENT_LOG_SESSIONS && slot < 0; i++) {
		if (l->active[i][0] == '\0')
			slot = i;
	}
	if (slot < 0) {
		pthread_mutex_unlock(&l->mu);
		orch_warn(LOGS_COMPONENT,
		    "task %s: request %s dropped: %d log streams run already",
		    r->task_id, r->request_id, ORCH_AGENT_LOG_SESSIONS);
		return;
	}
	snprintf(l->active[slot], LOGS_ID_MAX, "%s", r->request_id);
	l->running++;
	pthread_mutex_unlock(&l->mu);

	if ((s = session_new(l, node_id, r)) != NULL) {
		s->slot = slot;
		if (pthread_attr_init(&ta) == 0) {
			pthread_attr_setdetachstate(
			    &ta, PTHREAD_CREATE_DETACHED);
			if (pthread_create(&t, &ta, session_main, s) == 0) {
				pthread_attr_destroy(&ta);
				orch_info(LOGS_COMPONENT,
				    "task %s: request %s: sending its output%s",
				    s->task_id, s->request_id,
				    s->o.follow ? " as it comes" : "");
				pthread_mutex_lock(&l->mu);
				l->started++;
				pthread_mutex_unlock(&l->mu);
				return;
			}
			pthread_attr_destroy(&ta);
		}
		session_free(s);
	}
	orch_warn(LOGS_COMPONENT,
	    "task %s: request %s dropped: out of resources", r->task_id,
	    r->request_id);
	pthread_mutex_lock(&l->mu);
	l->active[slot][0] = '\0';
	l->running--;
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
}

int
orch_agent_logs_new(nng_socket req, orch_agent_logs_find_fn find, void *arg,
    struct orch_agent_logs **out)
{
	struct orch_agent_logs *l = calloc(1, sizeof(*l));
	pthread_condattr_t ca;

	*out = NULL;
	if (l == NULL)
		return ORCH_ENOMEM;
	l->req = req;
	l->find = find;
	l->arg = arg;
	if (pthread_mutex_init(&l->mu, NULL) != 0) {
		free(l);
		return ORCH_ENOMEM;
	}
	/* Monotonic: logs_sleep's deadlines. */
	if (pthread_condattr_init(&ca) != 0 ||
	    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&l->cv, &ca) != 0) {
		pthread_mutex_destroy(&l->mu);
		free(l);
		return ORCH_ENOMEM;
	}
	pthread_condattr_destroy(&ca);
	*out = l;
	return ORCH_OK;
}

void
orch_agent_logs_counts(
    struct orch_agent_logs *l, unsigned long *started, unsigned long *running)
{
	pthread_mutex_lock(&l->mu);
	*started = l->started;
	*running = l->running;
	pthread_mutex_unlock(&l->mu);
}

bool
orch_agent_logs_stop(struct orch_agent_logs *l, int wait_ms)
{
	struct timespec until;
	bool all;

	orch_mono_deadline(wait_ms, &until);
	pthread_mutex_lock(&l->mu);
	l->stopping = true;
	pthread_cond_broadcast(&l->cv);
	while (l->running > 0 &&
	    pthread_cond_timedwait(&l->cv, &l->mu, &until) != ETIMEDOUT)
		;
	all = l->running == 0;
	pthread_mutex_unlock(&l->mu);
	if (!all)
		orch_warn(LOGS_COMPONENT,
		    "%u log streams still running after %d ms", l->running,
		    wait_ms);
	return all;
}

void
orch_agent_logs_free(struct orch_agent_logs *l)
{
	if (l == NULL)
		return;
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mu);
	free(l);
}
