#include "event_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "node.h"
#include "node_json.h"
#include "service_json.h"
#include "task.h"
#include "task_json.h"

const char *
orch_event_kind(const Orch__Event *ev)
{
	if (ev->task != NULL)
		return "task";
	if (ev->node != NULL)
		return "node";
	if (ev->service != NULL)
		return "service";
	return NULL;
}

/* The object of ev as the API renders it, without what the store does
 * not keep (see event_json.h). */
static json_t *
object_json(const Orch__Event *ev)
{
	json_t *o = NULL;

	if (ev->task != NULL)
		return orch_task_to_json(ev->task);
	if (ev->node != NULL) {
		static const char *const live[] = {"allocated_cpu",
		    "allocated_memory", "task_count", "last_heartbeat"};

		if ((o = orch_node_to_json(ev->node)) != NULL) {
			for (size_t i = 0; i < sizeof(live) / sizeof(live[0]);
			     i++)
				json_object_del(o, live[i]);
			/* Live as well, but what a node.driver is about. */
			if (ev->type == NULL ||
			    strcmp(ev->type, "node.driver") != 0)
				json_object_del(o, "driver_health");
		}
		return o;
	}
	if (ev->service != NULL) {
		if ((o = orch_service_to_json(ev->service, false)) != NULL)
			json_object_del(o, "running");
		return o;
	}
	return json_null();
}

json_t *
orch_event_to_json(const Orch__Event *ev)
{
	const char *kind = orch_event_kind(ev);
	json_t *o = json_object();
	int bad = 0;

	if (o == NULL)
		return NULL;
	bad |= json_object_set_new(
	    o, "index", json_integer((json_int_t)ev->index));
	bad |= json_object_set_new(
	    o, "time", orch_json_time(ev->has_time_ms, ev->time_ms));
	bad |= json_object_set_new(
	    o, "type", orch_json_text(ev->type != NULL ? ev->type : ""));
	bad |= json_object_set_new(
	    o, "kind", kind != NULL ? json_string(kind) : json_null());
	bad |= json_object_set_new(o, "id",
	    ev->object_id != NULL ? orch_json_text(ev->object_id)
	                          : json_null());
	if (ev->has_previous_status) {
		const char *prev = orch_task_status_name(ev->previous_status);

		bad |= json_object_set_new(o, "previous_status",
		    prev != NULL ? json_string(prev) : json_null());
	}
	bad |= json_object_set_new(o, "object", object_json(ev));
	if (bad != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Dumps j as a line into a new string. */
static int
line_dump(const json_t *j, char **out, size_t *len)
{
	return (*out = orch_json_line(j, len)) != NULL ? ORCH_OK : ORCH_ENOMEM;
}

int
orch_event_line(const uint8_t *data, size_t n, char **out, size_t *len)
{
	Orch__Event *ev = orch__event__unpack(NULL, n, data);
	json_t *j;
	int rc;

	*out = NULL;
	*len = 0;
	if (ev == NULL)
		return ORCH_EIO;
	j = orch_event_to_json(ev);
	rc = line_dump(j, out, len);
	json_decref(j);
	orch__event__free_unpacked(ev, NULL);
	return rc;
}

int
orch_event_missed_line(uint64_t since, uint64_t oldest, char **out, size_t *len)
{
	char msg[256];
	json_t *j;
	int rc;

	*out = NULL;
	*len = 0;
	snprintf(msg, sizeof(msg),
	    "events %llu to %llu are no longer kept (the oldest kept is "
	    "%llu); the stream goes on from %llu: read the current state "
	    "again to make up for them",
	    (unsigned long long)since + 1, (unsigned long long)oldest - 1,
	    (unsigned long long)oldest, (unsigned long long)oldest);
	j = json_pack("{s:s, s:I, s:I, s:I, s:s}", "type", "events.missed",
	    "since", (json_int_t)since, "oldest", (json_int_t)oldest, "missed",
	    (json_int_t)(oldest - since - 1), "message", msg);
	rc = line_dump(j, out, len);
	json_decref(j);
	return rc;
}
