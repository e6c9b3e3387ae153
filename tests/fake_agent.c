#include "fake_agent.h"

#include <nng/protocol/reqrep0/req.h>
#include <poll.h>
#include <string.h>

#include "error.h"
#include "harness.h"
#include "rpc_client.h"

nng_socket
fa_req_open(const char *url)
{
	nng_socket s;

	ASSERT(nng_req0_open(&s) == 0);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 15000);
	ASSERT(nng_dial(s, url, NULL, 0) == 0);
	return s;
}

int
fa_node_register(nng_socket s, const Orch__NodeRegistration *r,
    Orch__Node **out, char *err, size_t errlen)
{
	return orch_rpc_call(s, "orch.Manager/RegisterNode", &r->base,
	    &orch__node__descriptor, (ProtobufCMessage **)out, err, errlen);
}

int
fa_heartbeat(nng_socket s, const char *node, Orch__Assignments **out, char *err,
    size_t errlen)
{
	return fa_heartbeat_health(s, node, NULL, 0, out, err, errlen);
}

Orch__DriverHealth
fa_driver_health(const char *name, bool healthy, const char *error)
{
	Orch__DriverHealth h = ORCH__DRIVER_HEALTH__INIT;

	h.name = (char *)name;
	h.has_healthy = true;
	h.healthy = healthy;
	h.error = (char *)error;
	return h;
}

int
fa_heartbeat_health(nng_socket s, const char *node, Orch__DriverHealth **health,
    size_t n_health, Orch__Assignments **out, char *err, size_t errlen)
{
	Orch__HeartbeatRequest hb = ORCH__HEARTBEAT_REQUEST__INIT;

	hb.node_id = (char *)node;
	hb.driver_health = health;
	hb.n_driver_health = n_health;
	return orch_rpc_call(s, "orch.Manager/Heartbeat", &hb.base,
	    &orch__assignments__descriptor, (ProtobufCMessage **)out, err,
	    errlen);
}

int
fa_task_report(
    nng_socket s, const struct fa_report *r, char *err, size_t errlen)
{
	Orch__TaskStatusUpdate u = ORCH__TASK_STATUS_UPDATE__INIT;
	Orch__Task *t = NULL;
	int rc;

	u.id = (char *)r->task;
	u.node_id = (char *)r->node;
	u.has_status = true;
	u.status = r->status;
	u.container_id = (char *)r->container_id;
	u.has_exit_code = r->has_exit_code;
	u.exit_code = r->exit_code;
	u.error = (char *)r->error;
	u.has_started_at_ms = r->started_at_ms != 0;
	u.started_at_ms = r->started_at_ms;
	u.has_finished_at_ms = r->finished_at_ms != 0;
	u.finished_at_ms = r->finished_at_ms;
	rc = orch_rpc_call(s, "orch.Manager/UpdateTaskStatus", &u.base,
	    &orch__task__descriptor, (ProtobufCMessage **)&t, err, errlen);
	if (t != NULL)
		orch__task__free_unpacked(t, NULL);
	return rc;
}

static void *
beater_main(void *arg)
{
	struct fa_beater *b = arg;
	nng_socket s = fa_req_open(b->url);

	for (;;) {
		char ids[FA_BEATER_MAX][ORCH_ID_LEN];
		int n;

		pthread_mutex_lock(&b->mu);
		if (b->stop) {
			pthread_mutex_unlock(&b->mu);
			break;
		}
		n = b->n;
		memcpy(ids, b->ids, sizeof(ids));
		pthread_mutex_unlock(&b->mu);
		for (int i = 0; i < n; i++) {
			Orch__Assignments *a = NULL;
			char err[256];

			if (fa_heartbeat(s, ids[i], &a, err, sizeof(err)) !=
			    ORCH_OK)
				continue;
			if (b->act != NULL)
				b->act(s, ids[i], a);
			orch__assignments__free_unpacked(a, NULL);
		}
		/* An agent's interval, well inside the 1 s TTL. */
		poll(NULL, 0, 100);
	}
	nng_close(s);
	return NULL;
}

void
fa_beater_start(struct fa_beater *b, const char *url, fa_act_fn act)
{
	memset(b, 0, sizeof(*b));
	ASSERT(pthread_mutex_init(&b->mu, NULL) == 0);
	snprintf(b->url, sizeof(b->url), "%s", url);
	b->act = act;
	ASSERT(pthread_create(&b->thread, NULL, beater_main, b) == 0);
}

void
fa_beater_stop(struct fa_beater *b)
{
	pthread_mutex_lock(&b->mu);
	b->stop = true;
	pthread_mutex_unlock(&b->mu);
	pthread_join(b->thread, NULL);
	pthread_mutex_destroy(&b->mu);
}

void
fa_beater_add(struct fa_beater *b, const char *id)
{
	pthread_mutex_lock(&b->mu);
	ASSERT(b->n < FA_BEATER_MAX);
	memcpy(b->ids[b->n++], id, ORCH_ID_LEN);
	pthread_mutex_unlock(&b->mu);
}

void
fa_beater_remove(struct fa_beater *b, const char *id)
{
	pthread_mutex_lock(&b->mu);
	for (int i = 0; i < b->n; i++) {
		if (strcmp(b->ids[i], id) == 0) {
			memmove(b->ids[i], b->ids[i + 1],
			    (size_t)(b->n - i - 1) * ORCH_ID_LEN);
			b->n--;
			break;
		}
	}
	pthread_mutex_unlock(&b->mu);
}
