#include "node_json.h"

#include <math.h>

#include "task_json.h"

/* A string, or null when s is NULL or empty (protobuf-c cannot tell an
 * unset string from an empty one). */
static json_t *
text_or_none(const char *s)
{
	return s == NULL || s[0] == '\0' ? json_null() : orch_json_text(s);
}

static json_t *
number_or_null(bool has, double v)
{
	return has && isfinite(v) ? json_real(v) : json_null();
}

static json_t *
labels_encode(const orch_node *n)
{
	json_t *o = json_object();

	for (size_t i = 0; o != NULL && i < n->n_labels; i++) {
		const char *k = n->labels[i]->key, *v = n->labels[i]->value;
		json_t *jk = orch_json_text(k != NULL ? k : "");

		/* The key may need repairing as much as the value. */
		if (jk == NULL ||
		    json_object_set_new(o, json_string_value(jk),
		        orch_json_text(v != NULL ? v : "")) != 0) {
			json_decref(jk);
			json_decref(o);
			return NULL;
		}
		json_decref(jk);
	}
	return o;
}

static json_t *
drivers_encode(const orch_node *n)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < n->n_drivers; i++) {
		if (json_array_append_new(a,
		        orch_json_text(
		            n->drivers[i] != NULL ? n->drivers[i] : "")) != 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* {"docker": {"healthy": false, "error": "...", "since": "..."}, "exec":
 * {"healthy": true}}: one member per driver. */
static json_t *
health_encode(const orch_node *n)
{
	json_t *o = json_object();

	for (size_t i = 0; o != NULL && i < n->n_driver_health; i++) {
		const Orch__DriverHealth *d = n->driver_health[i];
		bool ok = !d->has_healthy || d->healthy;
		json_t *jk = orch_json_text(d->name != NULL ? d->name : "");
		json_t *h = json_object();
		int bad = jk == NULL || h == NULL;

		bad |= json_object_set_new(h, "healthy", json_boolean(ok));
		if (!ok) {
			bad |= json_object_set_new(
			    h, "error", text_or_none(d->error));
			bad |= json_object_set_new(h, "since",
			    orch_json_time(d->has_since_ms, d->since_ms));
		}
		/* set_new takes h whether it succeeds or not. */
		if (bad)
			json_decref(h);
		else
			bad = json_object_set_new(o, json_string_value(jk), h);
		json_decref(jk);
		if (bad) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

json_t *
orch_node_to_json(const orch_node *n)
{
	const char *status = orch_node_status_name(n->status);
	json_t *o = json_object();
	int bad = 0;

	if (o == NULL)
		return NULL;
	/* As in orch_task_to_json(): failures are collected, the object
	 * dropped once; insertion order is the output order. */
	bad |= json_object_set_new(o, "id", text_or_none(n->id));
	bad |= json_object_set_new(o, "name", text_or_none(n->name));
	bad |= json_object_set_new(o, "address", text_or_none(n->address));
	bad |= json_object_set_new(o, "status",
	    n->has_status && status != NULL ? json_string(status)
	                                    : json_null());
	bad |= json_object_set_new(o, "drain", json_boolean(n->drain));
	bad |= json_object_set_new(o, "labels", labels_encode(n));
	bad |=
	    json_object_set_new(o, "cpu", number_or_null(n->has_cpu, n->cpu));
	bad |= json_object_set_new(o, "memory",
	    n->has_memory_mb ? json_integer(n->memory_mb) : json_null());
	bad |= json_object_set_new(o, "allocated_cpu",
	    json_real(n->has_allocated_cpu && isfinite(n->allocated_cpu)
	            ? n->allocated_cpu
	            : 0.0));
	bad |= json_object_set_new(o, "allocated_memory",
	    json_integer(
	        n->has_allocated_memory_mb ? n->allocated_memory_mb : 0));
	bad |= json_object_set_new(o, "task_count",
	    json_integer(n->has_task_count ? n->task_count : 0));
	bad |= json_object_set_new(o, "last_heartbeat",
	    orch_json_time(n->has_last_heartbeat_ms, n->last_heartbeat_ms));
	bad |= json_object_set_new(o, "drivers", drivers_encode(n));
	bad |= json_object_set_new(o, "driver_health", health_encode(n));
	bad |=
	    json_object_set_new(o, "version", text_or_none(n->agent_version));
	bad |= json_object_set_new(o, "registered_at",
	    orch_json_time(n->has_registered_at_ms, n->registered_at_ms));
	if (bad != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}
