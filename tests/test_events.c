/*
 * test_events.c: events as the store writes them (store.h) and as the
 * event module publishes, counts and renders them (events.h,
 * event_json.h), on a real store in a temporary directory and a real
 * NNG PUB socket over inproc.
 */
#include <jansson.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <pthread.h>
#include <string.h>

#include "error.h"
#include "event_json.h"
#include "events.h"
#include "fake_agent.h"
#include "harness.h"
#include "notify.h"
#include "orch.pb-c.h"
#include "service_json.h"
#include "store.h"
#include "task_fixture.h"

#define ST_PENDING ORCH__TASK_STATUS__TASK_STATUS_PENDING
#define ST_SCHEDULED ORCH__TASK_STATUS__TASK_STATUS_SCHEDULED
#define ST_RUNNING ORCH__TASK_STATUS__TASK_STATUS_RUNNING

/* What the event listener heard, in order. */
struct heard {
	pthread_mutex_t mu;
	uint64_t index[256];
	char type[256][32];
	int n;
};

static void
on_event(void *arg, const struct orch_store_event *e)
{
	struct heard *h = arg;

	pthread_mutex_lock(&h->mu);
	if (h->n < 256) {
		h->index[h->n] = e->index;
		snprintf(h->type[h->n], sizeof(h->type[0]), "%s", e->type);
		h->n++;
	}
	pthread_mutex_unlock(&h->mu);
}

static struct orch_store *
store_open(const char *dir, uint64_t keep)
{
	struct orch_store_opts o;
	struct orch_store *st = NULL;

	orch_store_opts_default(&o);
	o.sync_full = false;
	o.events_keep = keep;
	ASSERT_INT_EQ(orch_store_open(dir, &o, &st), ORCH_OK);
	return st;
}

static orch_task *
task_new(const char *name)
{
	return tf_task_make(name, "busybox:1", NULL, NULL, 64, 0.1);
}

static char *
insert(struct orch_store *st, const char *name)
{
	orch_task *t = task_new(name);
	char err[256], *id = strdup(t->id);

	ASSERT(id != NULL);
	if (orch_store_task_insert_sync(st, t, NULL, err, sizeof(err)) !=
	    ORCH_OK)
		h_fail(__FILE__, __LINE__, "insert: %s", err);
	return id;
}

static int
set_status(orch_task *t, void *marg, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	t->has_status = true;
	t->status = *(int *)marg;
	return ORCH_OK;
}

static int
nothing(orch_task *t, void *marg, char *err, size_t errlen)
{
	(void)t;
	(void)marg;
	(void)err;
	(void)errlen;
	return ORCH_OK;
}

static int
refuse(orch_task *t, void *marg, char *err, size_t errlen)
{
	(void)t;
	(void)marg;
	snprintf(err, errlen, "refused");
	return ORCH_ECONFLICT;
}

static int
ask_stop(orch_task *t, void *marg, char *err, size_t errlen)
{
	(void)marg;
	(void)err;
	(void)errlen;
	t->has_stop_requested = true;
	t->stop_requested = true;
	return ORCH_OK;
}

static int
modify(
    struct orch_store *st, const char *id, orch_store_modify_fn fn, void *marg)
{
	char err[256];

	return orch_store_task_modify_sync(
	    st, id, fn, marg, NULL, err, sizeof(err));
}

/* The events kept after index after, decoded. */
struct read_ctx {
	Orch__Event *ev[256];
	int n;
};

static int
read_one(void *arg, uint64_t index, const uint8_t *data, size_t len)
{
	struct read_ctx *rc = arg;
	Orch__Event *e = orch__event__unpack(NULL, len, data);

	ASSERT(e != NULL);
	ASSERT(e->has_index && e->index == index);
	ASSERT(rc->n < 256);
	rc->ev[rc->n++] = e;
	return ORCH_OK;
}

static void
read_events(struct orch_store *st, uint64_t after, struct read_ctx *rc)
{
	struct orch_store_reader *r;

	rc->n = 0;
	ASSERT_INT_EQ(orch_store_reader_new(st, &r), ORCH_OK);
	ASSERT_INT_EQ(
	    orch_store_events_read(r, after, 1000, read_one, rc), ORCH_OK);
	orch_store_reader_free(r);
}

static void
read_free(struct read_ctx *rc)
{
	for (int i = 0; i < rc->n; i++)
		orch__event__free_unpacked(rc->ev[i], NULL);
	rc->n = 0;
}

static int
scale(orch_service *svc, void *marg, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	svc->replicas = *(uint32_t *)marg;
	return ORCH_OK;
}

/* Every kind of change writes its event, in order, with indexes 1, 2,
 * 3...; a change that changes nothing writes none. */
static void
test_written(void)
{
	char *dir = h_tmpdir("events-written");
	struct orch_store *st = store_open(dir, 0);
	struct heard h = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct read_ctx rc;
	Orch__NodeRegistration reg = ORCH__NODE_REGISTRATION__INIT;
	orch_service *svc = NULL;
	orch_node *node = NULL;
	orch_task *rep;
	char err[256], *a;
	int sched = ST_SCHEDULED, running = ST_RUNNING;
	uint32_t three = 3;
	static const char *const want[] = {"task.created", "task.status",
	    "task.updated", "task.status", "node.registered", "node.drain",
	    "node.drain", "service.created", "task.created", "service.scaled",
	    "task.deleted", "service.deleted"};
	const char *body = "{\"name\":\"web\",\"image\":\"busybox:1\","
	                   "\"replicas\":1}";

	ASSERT_INT_EQ(orch_store_events_listen(st, on_event, &h), ORCH_OK);
	a = insert(st, "a");
	ASSERT_INT_EQ(modify(st, a, set_status, &sched), ORCH_OK);
	ASSERT_INT_EQ(modify(st, a, nothing, NULL), ORCH_OK); /* no event */
	ASSERT_INT_EQ(modify(st, a, refuse, NULL), ORCH_ECONFLICT);
	ASSERT_INT_EQ(modify(st, a, ask_stop, NULL), ORCH_OK);
	ASSERT_INT_EQ(modify(st, a, set_status, &running), ORCH_OK);
	reg.name = "n1";
	reg.has_cpu = true;
	reg.cpu = 2;
	reg.has_memory_mb = true;
	reg.memory_mb = 1024;
	ASSERT_INT_EQ(
	    orch_store_node_register_sync(st, &reg, &node, err, sizeof(err)),
	    ORCH_OK);
	ASSERT_INT_EQ(
	    orch_store_node_drain_sync(st, "n1", true, NULL, err, sizeof(err)),
	    ORCH_OK);
	/* Set again: nothing changes, no event. */
	ASSERT_INT_EQ(
	    orch_store_node_drain_sync(st, "n1", true, NULL, err, sizeof(err)),
	    ORCH_OK);
	ASSERT_INT_EQ(
	    orch_store_node_drain_sync(st, "n1", false, NULL, err, sizeof(err)),
	    ORCH_OK);
	ASSERT_INT_EQ(
	    orch_service_from_json(body, strlen(body), &svc, err, sizeof(err)),
	    ORCH_OK);
	rep = task_new("web.1");
	rep->service_id = strdup(svc->id);
	rep->has_slot = true;
	rep->slot = 1;
	ASSERT_INT_EQ(
	    orch_store_service_create_sync(st, svc, NULL, err, sizeof(err)),
	    ORCH_OK);
	ASSERT_INT_EQ(
	    orch_store_task_insert_sync(st, rep, NULL, err, sizeof(err)),
	    ORCH_OK);
	ASSERT_INT_EQ(orch_store_service_modify_sync(
	                  st, "web", scale, &three, NULL, err, sizeof(err)),
	    ORCH_OK);
	ASSERT_INT_EQ(
	    orch_store_service_delete_sync(st, "web", NULL, err, sizeof(err)),
	    ORCH_OK);

	read_events(st, 0, &rc);
	ASSERT_INT_EQ(rc.n, (int)(sizeof(want) / sizeof(want[0])));
	ASSERT_INT_EQ(h.n, rc.n);
	for (int i = 0; i < rc.n; i++) {
		const Orch__Event *e = rc.ev[i];

		ASSERT_INT_EQ(e->index, i + 1);
		ASSERT_STR_EQ(e->type, want[i]);
		/* The listener heard the same, in the same order. */
		ASSERT_INT_EQ(h.index[i], e->index);
		ASSERT_STR_EQ(h.type[i], e->type);
		ASSERT(e->has_time_ms && e->time_ms > 0);
	}
	/* The objects: the task as changed, the previous status. */
	ASSERT_STR_EQ(rc.ev[0]->object_id, a);
	ASSERT(rc.ev[0]->task != NULL && rc.ev[0]->task->status == ST_PENDING);
	ASSERT(rc.ev[1]->has_previous_status &&
	    rc.ev[1]->previous_status == ST_PENDING);
	ASSERT(rc.ev[1]->task->status == ST_SCHEDULED);
	ASSERT(rc.ev[2]->task->stop_requested);
	ASSERT(!rc.ev[2]->has_previous_status);
	ASSERT(
	    rc.ev[4]->node != NULL && strcmp(rc.ev[4]->node->name, "n1") == 0);
	ASSERT_STR_EQ(rc.ev[4]->object_id, node->id);
	ASSERT(rc.ev[5]->node->drain && !rc.ev[6]->node->drain);
	ASSERT(rc.ev[7]->service != NULL && rc.ev[7]->service->replicas == 1);
	ASSERT(rc.ev[9]->service->replicas == 3);
	/* A deleted service's event does not carry its tasks. */
	ASSERT_INT_EQ(rc.ev[11]->service->n_tasks, 0);
	ASSERT_STR_EQ(rc.ev[10]->task->spec->name, "web.1");
	read_free(&rc);
	orch_node_free(node);
	free(a);
	orch_store_close(st);
	h_rm_rf(dir);
	free(dir);
}

/* Writes that fail leave no hole in the indexes, in the same batch as
 * writes that succeed. */
static void
test_contiguous(void)
{
	char *dir = h_tmpdir("events-contig");
	struct orch_store *st = store_open(dir, 0);
	struct read_ctx rc;
	orch_task *dup;
	char err[256], *a, *ids[20];

	a = insert(st, "a");
	/* Queued together: a group commit holds successes and failures. */
	for (int i = 0; i < 20; i++) {
		orch_task *t = task_new("x");

		if (i % 3 == 1) {
			/* The same id as a: refused. */
			free(t->id);
			t->id = strdup(a);
		}
		ids[i] = strdup(t->id);
		orch_store_task_insert(st, t, NULL, NULL);
		orch_store_task_modify(st, ids[i], refuse, NULL, NULL, NULL);
	}
	dup = task_new("last");
	ASSERT_INT_EQ(
	    orch_store_task_insert_sync(st, dup, NULL, err, sizeof(err)),
	    ORCH_OK);
	read_events(st, 0, &rc);
	/* a, the 13 inserted of 20, and the last. */
	ASSERT_INT_EQ(rc.n, 15);
	for (int i = 0; i < rc.n; i++)
		ASSERT_INT_EQ(rc.ev[i]->index, i + 1);
	read_free(&rc);
	for (int i = 0; i < 20; i++)
		free(ids[i]);
	free(a);
	orch_store_close(st);
	h_rm_rf(dir);
	free(dir);
}

/* Only the last events_keep are kept; an index is never given twice,
 * across a restart and a smaller bound. */
static void
test_prune(void)
{
	char *dir = h_tmpdir("events-prune");
	struct orch_store *st = store_open(dir, 5);
	struct orch_store_reader *r;
	struct read_ctx rc;
	uint64_t oldest, newest;
	char *ids[12];

	for (int i = 0; i < 12; i++)
		ids[i] = insert(st, "p");
	ASSERT_INT_EQ(orch_store_reader_new(st, &r), ORCH_OK);
	ASSERT_INT_EQ(orch_store_events_bounds(r, &oldest, &newest), ORCH_OK);
	ASSERT_INT_EQ(oldest, 8);
	ASSERT_INT_EQ(newest, 12);
	orch_store_reader_free(r);
	read_events(st, 0, &rc);
	ASSERT_INT_EQ(rc.n, 5);
	ASSERT_INT_EQ(rc.ev[0]->index, 8);
	ASSERT_STR_EQ(rc.ev[4]->object_id, ids[11]);
	read_free(&rc);
	orch_store_close(st);

	/* Again, keeping 2: the next write prunes to 2, after 12. */
	st = store_open(dir, 2);
	free(insert(st, "q"));
	read_events(st, 0, &rc);
	ASSERT_INT_EQ(rc.n, 2);
	ASSERT_INT_EQ(rc.ev[0]->index, 12);
	ASSERT_INT_EQ(rc.ev[1]->index, 13);
	read_free(&rc);
	orch_store_close(st);
	for (int i = 0; i < 12; i++)
		free(ids[i]);
	h_rm_rf(dir);
	free(dir);
}

/* A task insertion or a service creation with an idempotency key writes
 * its created event once: a replay, in the same batch or later, and a
 * key reused for another request (refused) write none. */
static void
test_idem_once(void)
{
	char *dir = h_tmpdir("events-idem");
	struct orch_store *st = store_open(dir, 0);
	struct orch_store_idem idem[4];
	struct read_ctx rc;
	orch_service *svc = NULL;
	orch_task *t, *got = NULL;
	char err[256], *first;
	const char *body = "{\"name\":\"web\",\"image\":\"busybox:1\","
	                   "\"replicas\":1}";

	/* Two with one key queued together, then a retry after them. */
	t = task_new("job");
	first = strdup(t->id);
	idem[0] = (struct orch_store_idem){.key = "k-task"};
	orch_store_task_insert_idem(st, t, &idem[0], NULL, NULL);
	idem[1] = (struct orch_store_idem){.key = "k-task"};
	ASSERT_INT_EQ(orch_store_task_insert_idem_sync(st, task_new("job"),
	                  &idem[1], &got, err, sizeof(err)),
	    ORCH_OK);
	ASSERT(idem[1].replayed);
	ASSERT_STR_EQ(got->id, first);
	orch_task_free(got);
	idem[2] = (struct orch_store_idem){.key = "k-task"};
	ASSERT_INT_EQ(orch_store_task_insert_idem_sync(st, task_new("job"),
	                  &idem[2], NULL, err, sizeof(err)),
	    ORCH_OK);
	ASSERT(idem[2].replayed);
	/* The same key, another request: refused, no event. */
	idem[3] = (struct orch_store_idem){.key = "k-task"};
	ASSERT_INT_EQ(orch_store_task_insert_idem_sync(st, task_new("other"),
	                  &idem[3], NULL, err, sizeof(err)),
	    ORCH_ECONFLICT);
	ASSERT(idem[3].mismatch);

	for (int i = 0; i < 2; i++) {
		idem[i] = (struct orch_store_idem){.key = "k-svc"};
		ASSERT_INT_EQ(orch_service_from_json(
		                  body, strlen(body), &svc, err, sizeof(err)),
		    ORCH_OK);
		ASSERT_INT_EQ(orch_store_service_create_idem_sync(
		                  st, svc, &idem[i], NULL, err, sizeof(err)),
		    ORCH_OK);
		ASSERT(idem[i].replayed == (i == 1));
	}

	read_events(st, 0, &rc);
	ASSERT_INT_EQ(rc.n, 2);
	ASSERT_STR_EQ(rc.ev[0]->type, "task.created");
	ASSERT_STR_EQ(rc.ev[0]->object_id, first);
	ASSERT_STR_EQ(rc.ev[1]->type, "service.created");
	ASSERT_INT_EQ(rc.ev[1]->index, 2);
	read_free(&rc);
	free(first);
	orch_store_close(st);
	h_rm_rf(dir);
	free(dir);
}

/* An event alone: a node's turn, with its record and new status; a turn
 * of its drivers, with its record and their health. */
static void
test_node_event(void)
{
	char *dir = h_tmpdir("events-node");
	struct orch_store *st = store_open(dir, 0);
	Orch__NodeRegistration reg = ORCH__NODE_REGISTRATION__INIT;
	struct orch_driver_health sick = {
	    .name = "docker", .error = "refused", .since_ms = 1795737600123};
	char *drivers[] = {"docker", "exec"};
	const Orch__Node *dn;
	struct read_ctx rc;
	orch_node *n = NULL;
	char err[256];

	reg.name = "n1";
	reg.address = "10.0.0.1";
	reg.drivers = drivers;
	reg.n_drivers = 2;
	ASSERT_INT_EQ(
	    orch_store_node_register_sync(st, &reg, &n, err, sizeof(err)),
	    ORCH_OK);
	orch_store_node_event(st, n->id, ORCH__NODE_STATUS__NODE_STATUS_READY);
	/* An unknown node: nothing, and no harm. */
	orch_store_node_event(st, "00000000-0000-4000-8000-000000000000",
	    ORCH__NODE_STATUS__NODE_STATUS_DOWN);
	orch_store_node_event(st, n->id, ORCH__NODE_STATUS__NODE_STATUS_DOWN);
	orch_store_node_driver_event(st, n->id, &sick, 1);
	orch_store_node_driver_event(
	    st, "00000000-0000-4000-8000-000000000000", &sick, 1);
	orch_store_node_driver_event(st, n->id, NULL, 0);
	/* A write behind them: they are done once it is. */
	free(insert(st, "after"));
	read_events(st, 0, &rc);
	ASSERT_INT_EQ(rc.n, 6);
	ASSERT_STR_EQ(rc.ev[1]->type, "node.ready");
	ASSERT(rc.ev[1]->node->has_status &&
	    rc.ev[1]->node->status == ORCH__NODE_STATUS__NODE_STATUS_READY);
	ASSERT_STR_EQ(rc.ev[1]->node->address, "10.0.0.1");
	ASSERT_STR_EQ(rc.ev[2]->type, "node.down");
	ASSERT_INT_EQ(rc.ev[2]->index, 3);
	ASSERT_INT_EQ(rc.ev[2]->node->n_driver_health, 0);
	/* Each driver the node registered, in order; no status. */
	ASSERT_STR_EQ(rc.ev[3]->type, "node.driver");
	ASSERT_STR_EQ(rc.ev[3]->object_id, n->id);
	dn = rc.ev[3]->node;
	ASSERT(!dn->has_status);
	ASSERT_INT_EQ(dn->n_driver_health, 2);
	ASSERT_STR_EQ(dn->driver_health[0]->name, "docker");
	ASSERT(!dn->driver_health[0]->healthy);
	ASSERT_STR_EQ(dn->driver_health[0]->error, "refused");
	ASSERT_INT_EQ(dn->driver_health[0]->since_ms, 1795737600123);
	ASSERT_STR_EQ(dn->driver_health[1]->name, "exec");
	ASSERT(dn->driver_health[1]->healthy);
	ASSERT_STR_EQ(rc.ev[4]->type, "node.driver");
	dn = rc.ev[4]->node;
	ASSERT_INT_EQ(dn->n_driver_health, 2);
	ASSERT(dn->driver_health[0]->healthy &&
	    dn->driver_health[0]->error == NULL);
	ASSERT_STR_EQ(rc.ev[5]->type, "task.created");
	read_free(&rc);
	orch_node_free(n);
	orch_store_close(st);
	h_rm_rf(dir);
	free(dir);
}

/* The JSON line of an event, and of missed events. */
static void
test_json(void)
{
	Orch__Event ev = ORCH__EVENT__INIT;
	Orch__Node node = ORCH__NODE__INIT;
	uint8_t buf[4096];
	size_t n, len;
	char *line;
	json_t *j, *o;

	node.id = "9c0e0000-0000-4000-8000-000000000001";
	node.name = "n1";
	node.has_status = true;
	node.status = ORCH__NODE_STATUS__NODE_STATUS_DOWN;
	ev.has_index = true;
	ev.index = 42;
	ev.has_time_ms = true;
	ev.time_ms = 1795737600123;
	ev.type = "node.down";
	ev.object_id = node.id;
	ev.node = &node;
	n = orch__event__pack(&ev, buf);
	ASSERT_INT_EQ(orch_event_line(buf, n, &line, &len), ORCH_OK);
	ASSERT(len > 0 && line[len - 1] == '\n');
	ASSERT(memchr(line, '\n', len - 1) == NULL); /* one line */
	j = json_loadb(line, len, 0, NULL);
	ASSERT(j != NULL);
	ASSERT_INT_EQ(json_integer_value(json_object_get(j, "index")), 42);
	ASSERT_STR_EQ(json_string_value(json_object_get(j, "kind")), "node");
	ASSERT_STR_EQ(json_string_value(json_object_get(j, "time")),
	    "2026-11-27T00:00:00.123Z");
	o = json_object_get(j, "object");
	ASSERT_STR_EQ(json_string_value(json_object_get(o, "status")), "Down");
	/* Live fields the store does not keep are left out. */
	ASSERT(json_object_get(o, "allocated_cpu") == NULL);
	ASSERT(json_object_get(o, "task_count") == NULL);
	ASSERT(json_object_get(o, "driver_health") == NULL);
	ASSERT(json_object_get(j, "previous_status") == NULL);
	json_decref(j);
	free(line);
	/* The health of its drivers: only in node.driver. */
	{
		Orch__DriverHealth dh =
		    fa_driver_health("docker", false, "refused");
		Orch__DriverHealth *hv[] = {&dh};
		json_t *d;

		dh.has_since_ms = true;
		dh.since_ms = 1795737600123;
		node.has_status = false;
		node.driver_health = hv;
		node.n_driver_health = 1;
		ev.type = "node.driver";
		n = orch__event__pack(&ev, buf);
		ASSERT_INT_EQ(orch_event_line(buf, n, &line, &len), ORCH_OK);
		j = json_loadb(line, len, 0, NULL);
		ASSERT(j != NULL);
		o = json_object_get(j, "object");
		ASSERT(json_is_null(json_object_get(o, "status")));
		d = json_object_get(
		    json_object_get(o, "driver_health"), "docker");
		ASSERT(json_is_false(json_object_get(d, "healthy")));
		ASSERT_STR_EQ(
		    json_string_value(json_object_get(d, "error")), "refused");
		ASSERT_STR_EQ(json_string_value(json_object_get(d, "since")),
		    "2026-11-27T00:00:00.123Z");
		json_decref(j);
		free(line);
		node.driver_health = NULL;
		node.n_driver_health = 0;
	}
	/* Not an event: refused. */
	ASSERT_INT_EQ(
	    orch_event_line((const uint8_t *)"\xff\xff", 2, &line, &len),
	    ORCH_EIO);

	ASSERT_INT_EQ(orch_event_missed_line(5, 120, &line, &len), ORCH_OK);
	j = json_loadb(line, len, 0, NULL);
	ASSERT_STR_EQ(
	    json_string_value(json_object_get(j, "type")), "events.missed");
	ASSERT_INT_EQ(json_integer_value(json_object_get(j, "missed")), 114);
	ASSERT_INT_EQ(json_integer_value(json_object_get(j, "oldest")), 120);
	ASSERT_STR_CONTAINS(json_string_value(json_object_get(j, "message")),
	    "events 6 to 119 are no longer kept");
	json_decref(j);
	free(line);
}

/* Published under event/<kind>/<id> on PUB, and counted by status. */
static void
test_publish_and_count(void)
{
	char *dir = h_tmpdir("events-pub");
	struct orch_store *st = store_open(dir, 0);
	struct orch_notify *nt;
	struct orch_events *ev;
	uint64_t counts[ORCH_STORE_STATUS_SLOTS];
	char err[256], topic[128], *pre, *a, *b;
	int sched = ST_SCHEDULED;
	nng_socket sub;
	nng_msg *msg;
	Orch__Event *e;

	/* One task before the module starts: counted from the store. */
	pre = insert(st, "before");
	ASSERT_INT_EQ(
	    orch_notify_open(&nt, "events-pub", err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(orch_notify_listen(
	                  nt, "inproc://events-test", NULL, err, sizeof(err)),
	    ORCH_OK);
	ASSERT(nng_sub0_open(&sub) == 0);
	nng_socket_set_ms(sub, NNG_OPT_RECVTIMEO, 10000);
	ASSERT(
	    nng_socket_set(sub, NNG_OPT_SUB_SUBSCRIBE, "event/task/", 11) == 0);
	ASSERT(nng_dial(sub, "inproc://events-test", NULL, 0) == 0);
	ASSERT_INT_EQ(orch_events_new(st, nt, &ev), ORCH_OK);

	a = insert(st, "a");
	b = insert(st, "b");
	ASSERT_INT_EQ(modify(st, b, set_status, &sched), ORCH_OK);
	orch_events_task_counts(ev, counts);
	ASSERT_INT_EQ(counts[ST_PENDING], 2);
	ASSERT_INT_EQ(counts[ST_SCHEDULED], 1);

	/* The three, in order, each under its task's topic. */
	for (int i = 0; i < 3; i++) {
		const char *id = i == 0 ? a : b;
		size_t tl = (size_t)snprintf(
		    topic, sizeof(topic), "event/task/%s ", id);

		ASSERT(nng_recvmsg(sub, &msg, 0) == 0);
		ASSERT(nng_msg_len(msg) > tl);
		ASSERT(memcmp(nng_msg_body(msg), topic, tl) == 0);
		e = orch__event__unpack(NULL, nng_msg_len(msg) - tl,
		    (const uint8_t *)nng_msg_body(msg) + tl);
		ASSERT(e != NULL);
		ASSERT_INT_EQ(e->index, (uint64_t)i + 2);
		ASSERT_STR_EQ(e->object_id, id);
		ASSERT_STR_EQ(e->type, i < 2 ? "task.created" : "task.status");
		orch__event__free_unpacked(e, NULL);
		nng_msg_free(msg);
	}
	orch_events_close(ev);
	orch_store_close(st);
	orch_events_free(ev);
	orch_notify_close(nt);
	nng_close(sub);
	free(pre);
	free(a);
	free(b);
	h_rm_rf(dir);
	free(dir);
}

int
main(void)
{
	RUN(test_written);
	RUN(test_contiguous);
	RUN(test_prune);
	RUN(test_idem_once);
	RUN(test_node_event);
	RUN(test_json);
	RUN(test_publish_and_count);
	return 0;
}
