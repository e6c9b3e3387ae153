/*
 * service_json.c: the service in the API's JSON, both ways (see
 * service_json.h).  Decoding is as strict as a task's, and shares its
 * field decoders (task_json.h).
 */
#include "service_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "task_json.h"

/* Reads "replicas" of root into *out (default when absent or null). */
static int
replicas_decode(json_t *root, bool required, uint32_t dflt, uint32_t *out,
    char *err, size_t errlen)
{
	json_t *v = json_object_get(root, "replicas");

	*out = dflt;
	if (v == NULL || json_is_null(v)) {
		if (!required)
			return ORCH_OK;
		snprintf(err, errlen,
		    "field \"replicas\" is required: the "
		    "number of replicas wanted");
		return ORCH_EINVAL;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > ORCH_SERVICE_REPLICAS_MAX) {
		snprintf(err, errlen,
		    "field \"replicas\" must be an integer "
		    "from 0 to %d",
		    ORCH_SERVICE_REPLICAS_MAX);
		return ORCH_EINVAL;
	}
	*out = (uint32_t)json_integer_value(v);
	return ORCH_OK;
}

int
orch_service_from_json(
    const char *buf, size_t len, orch_service **out, char *err, size_t errlen)
{
	static const char *const fields[] = {"name", "image", "replicas",
	    "memory", "cpu", "env", "command", "constraints", "placement",
	    "restart", "privileged", "volumes", "network", "cap_add", "driver",
	    "health", NULL};
	orch_task_spec *spec = NULL;
	json_t *root = NULL, *v;
	const char *name;
	uint32_t replicas;
	int rc;

	*out = NULL;
	if ((rc = orch_json_object_parse(buf, len, &root, err, errlen)) !=
	        ORCH_OK ||
	    (rc = orch_json_fields_check(root, fields, err, errlen)) != ORCH_OK)
		goto out;
	v = json_object_get(root, "name");
	if (v != NULL && !json_is_null(v) &&
	    (!json_is_string(v) ||
	        json_string_length(v) != strlen(json_string_value(v)))) {
		snprintf(err, errlen, "field \"name\" must be a string");
		rc = ORCH_EINVAL;
		goto out;
	}
	name = json_string_value(v);
	if ((rc = orch_service_name_validate(name, err, errlen)) != ORCH_OK ||
	    (rc = replicas_decode(root, false, 1, &replicas, err, errlen)) !=
	        ORCH_OK ||
	    (rc = orch_task_spec_from_object(root, &spec, err, errlen)) !=
	        ORCH_OK ||
	    (rc = orch_task_spec_validate(spec, err, errlen)) != ORCH_OK)
		goto out;
	if ((rc = orch_service_new(name, spec, replicas, out)) != ORCH_OK) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	spec = NULL;
out:
	orch_task_spec_free(spec);
	json_decref(root);
	return rc;
}

int
orch_service_scale_from_json(
    const char *buf, size_t len, uint32_t *replicas, char *err, size_t errlen)
{
	static const char *const fields[] = {"replicas", NULL};
	json_t *root = NULL;
	int rc;

	if ((rc = orch_json_object_parse(buf, len, &root, err, errlen)) ==
	        ORCH_OK &&
	    (rc = orch_json_fields_check(root, fields, err, errlen)) == ORCH_OK)
		rc = replicas_decode(root, true, 0, replicas, err, errlen);
	json_decref(root);
	return rc;
}

int
orch_drain_from_json(
    const char *buf, size_t len, bool *drain, char *err, size_t errlen)
{
	static const char *const fields[] = {"drain", NULL};
	json_t *root = NULL, *v;
	int rc;

	if ((rc = orch_json_object_parse(buf, len, &root, err, errlen)) !=
	        ORCH_OK ||
	    (rc = orch_json_fields_check(root, fields, err, errlen)) != ORCH_OK)
		goto out;
	v = json_object_get(root, "drain");
	if (!json_is_boolean(v)) {
		snprintf(err, errlen,
		    "field \"drain\" is required: true to "
		    "drain the node, false to undrain it");
		rc = ORCH_EINVAL;
		goto out;
	}
	*drain = json_is_true(v);
out:
	json_decref(root);
	return rc;
}

json_t *
orch_service_to_json(const orch_service *svc, bool with_tasks)
{
	json_t *o = json_object(), *tasks = NULL;
	int bad = 0;

	if (o == NULL)
		return NULL;
	/* As in orch_task_to_json(): failures are collected, the object
	 * dropped once; insertion order is the output order. */
	bad |= json_object_set_new(
	    o, "id", orch_json_text(svc->id != NULL ? svc->id : ""));
	bad |= orch_spec_json_add_base(o, svc->spec) != ORCH_OK;
	/* The name is the service's, whatever the template says. */
	bad |= json_object_set_new(
	    o, "name", orch_json_text(svc->name != NULL ? svc->name : ""));
	bad |= orch_spec_json_add_policy(o, svc->spec) != ORCH_OK;
	bad |= orch_spec_json_add_container(o, svc->spec) != ORCH_OK;
	bad |= orch_spec_json_add_health(o, svc->spec) != ORCH_OK;
	bad |= json_object_set_new(o, "replicas", json_integer(svc->replicas));
	bad |= json_object_set_new(o, "running", json_integer(svc->running));
	bad |= json_object_set_new(o, "created_at",
	    orch_json_time(svc->has_created_at_ms, svc->created_at_ms));
	bad |= json_object_set_new(o, "updated_at",
	    orch_json_time(svc->has_updated_at_ms, svc->updated_at_ms));
	if (with_tasks) {
		tasks = json_array();
		for (size_t i = 0; tasks != NULL && i < svc->n_tasks; i++) {
			if (json_array_append_new(
			        tasks, orch_task_to_json(svc->tasks[i])) != 0) {
				json_decref(tasks);
				tasks = NULL;
			}
		}
		bad |= json_object_set_new(o, "tasks", tasks);
	}
	if (bad != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}
