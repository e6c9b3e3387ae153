/*
 * service_json.h: the service in the API's JSON, both ways.
 *
 *   {"id": ..., "name": "web", "image": ..., "memory": 256, "cpu": 0.5,
 *    "env": {}, "command": [], "constraints": [], "placement": "spread",
 *    "restart": "always", "replicas": 3, "running": 2,
 *    "created_at": ..., "updated_at": ..., "tasks": [task, ...]}
 *
 * replicas is the desired count, running the replicas Running with no
 * stop requested; tasks (every task of the service, oldest first) only
 * where asked for.
 */
#ifndef ORCH_SERVICE_JSON_H
#define ORCH_SERVICE_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "service.h"

/*
 * Decodes the body of POST /services: "name" (a service name,
 * service.h), "replicas" (an integer from 0 to ORCH_SERVICE_REPLICAS_MAX,
 * default 1) and any field of a task's body (task_json.h) but "name",
 * which is the service's.  The replicas' restart policy defaults to
 * "always".  On ORCH_OK *out is a new service (new id, created now) owned
 * by the caller; otherwise err names the field.  Returns ORCH_OK,
 * ORCH_EINVAL or ORCH_ENOMEM.
 */
int orch_service_from_json(const char *buf, size_t len,
    orch_service **out /* OUT */, char *err, size_t errlen);

/* Decodes the body of PUT /services/{name}: {"replicas": N}.  Returns
 * ORCH_OK or ORCH_EINVAL with err naming the field. */
int orch_service_scale_from_json(const char *buf, size_t len,
    uint32_t *replicas /* OUT */, char *err, size_t errlen);

/* Encodes svc as the API's JSON object, with "tasks" when with_tasks.
 * Returns a new reference, or NULL when out of memory. */
json_t *orch_service_to_json(const orch_service *svc, bool with_tasks);

/* Decodes the body of PUT /nodes/{id or name}/drain: {"drain": bool}.
 * Returns ORCH_OK or ORCH_EINVAL with err naming the field. */
int orch_drain_from_json(const char *buf, size_t len, bool *drain /* OUT */,
    char *err, size_t errlen);

#endif
