/*
 * service.c: the service model (see service.h).
 */
#include "service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "error.h"

static bool
name_char(char c, bool first)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return !first && (c == '-' || c == '_' || c == '.');
}

int
orch_service_name_validate(const char *name, char *err, size_t errlen)
{
	size_t n;

	if (name == NULL || name[0] == '\0') {
		snprintf(err, errlen,
		    "field \"name\" is required: the "
		    "service's name");
		return ORCH_EINVAL;
	}
	n = strlen(name);
	for (size_t i = 0; i < n; i++) {
		if (n > ORCH_SERVICE_NAME_MAX || !name_char(name[i], i == 0)) {
			snprintf(err, errlen,
			    "field \"name\": a service name "
			    "is 1 to %d letters, digits, '-', '_' or '.', "
			    "starting with a letter or a digit",
			    ORCH_SERVICE_NAME_MAX);
			return ORCH_EINVAL;
		}
	}
	return ORCH_OK;
}

int
orch_service_replicas_validate(uint32_t replicas, char *err, size_t errlen)
{
	if (replicas > ORCH_SERVICE_REPLICAS_MAX) {
		snprintf(err, errlen,
		    "field \"replicas\" must be an integer "
		    "from 0 to %d",
		    ORCH_SERVICE_REPLICAS_MAX);
		return ORCH_EINVAL;
	}
	return ORCH_OK;
}

orch_task_spec *
orch_task_spec_copy(const orch_task_spec *spec)
{
	return orch_msg_copy(&spec->base);
}

int
orch_service_new(const char *name, orch_task_spec *spec, uint32_t replicas,
    orch_service **out)
{
	orch_service *svc = malloc(sizeof(*svc));
	char *id = malloc(ORCH_ID_LEN);
	int rc = ORCH_ENOMEM;

	*out = NULL;
	if (svc == NULL || id == NULL)
		goto out;
	orch__service__init(svc);
	orch_id_new(id);
	if (orch_str_set(&spec->name, name) != ORCH_OK ||
	    orch_str_set(&spec->service, name) != ORCH_OK ||
	    (spec->placement == NULL &&
	        orch_str_set(&spec->placement, "spread") != ORCH_OK) ||
	    (spec->restart == NULL &&
	        orch_str_set(&spec->restart, "always") != ORCH_OK) ||
	    (svc->name = strdup(name)) == NULL)
		goto out;
	/* Defaults are stored, not implied, as for a task. */
	if (!spec->has_memory_mb) {
		spec->has_memory_mb = true;
		spec->memory_mb = 256;
	}
	if (!spec->has_cpu) {
		spec->has_cpu = true;
		spec->cpu = 0.5;
	}
	svc->id = id;
	id = NULL;
	svc->spec = spec;
	svc->has_replicas = true;
	svc->replicas = replicas;
	svc->has_created_at_ms = true;
	svc->created_at_ms = orch_now_ms();
	svc->has_updated_at_ms = true;
	svc->updated_at_ms = svc->created_at_ms;
	*out = svc;
	svc = NULL;
	rc = ORCH_OK;
out:
	if (svc != NULL) {
		free(svc->name);
		free(svc);
	}
	free(id);
	return rc;
}

int
orch_service_task_new(
    const orch_service *svc, uint32_t slot, uint32_t restarts, orch_task **out)
{
	orch_task_spec *spec = orch_task_spec_copy(svc->spec);
	char name[ORCH_SERVICE_NAME_MAX + 16];
	orch_task *t = NULL;

	*out = NULL;
	snprintf(name, sizeof(name), "%s.%u", svc->name, (unsigned)slot);
	if (spec == NULL || orch_str_set(&spec->name, name) != ORCH_OK ||
	    orch_str_set(&spec->service, svc->name) != ORCH_OK ||
	    orch_task_new(spec, &t) != ORCH_OK) {
		orch_task_spec_free(spec);
		return ORCH_ENOMEM;
	}
	if (orch_str_set(&t->service_id, svc->id) != ORCH_OK) {
		orch_task_free(t);
		return ORCH_ENOMEM;
	}
	t->has_slot = true;
	t->slot = slot;
	t->has_restarts = true;
	t->restarts = restarts;
	*out = t;
	return ORCH_OK;
}

void
orch_service_running_count(orch_service *svc, orch_task *const *tasks, size_t n)
{
	svc->has_running = true;
	svc->running = 0;
	for (size_t i = 0; i < n; i++) {
		const orch_task *t = tasks[i];

		if (t->service_id != NULL &&
		    strcmp(t->service_id, svc->id) == 0 &&
		    t->status == ORCH__TASK_STATUS__TASK_STATUS_RUNNING &&
		    !t->stop_requested)
			svc->running++;
	}
}

void
orch_service_free(orch_service *svc)
{
	if (svc != NULL)
		orch__service__free_unpacked(svc, NULL);
}
