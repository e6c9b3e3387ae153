/*
 * service.h: the service model.
 *
 * A service is the generated struct Orch__Service (proto/orch.proto): a
 * task spec (the template of its replicas) that the manager keeps running
 * as `replicas` tasks.  Replica k (its slot, 1 to replicas) is a task
 * named "<service>.<k>" whose spec is the template's, with the service's
 * name in spec.service and the service's id and the slot on the task.
 */
#ifndef ORCH_SERVICE_H
#define ORCH_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include "orch.pb-c.h"
#include "task.h"

typedef Orch__Service orch_service;

/* A service name: 1 to 63 characters of [A-Za-z0-9_.-], starting with a
 * letter or a digit, so that it is a safe Docker label value, URL path
 * segment and prefix of its replicas' names. */
#define ORCH_SERVICE_NAME_MAX 63
/* The most replicas a service may ask for. */
#define ORCH_SERVICE_REPLICAS_MAX 10000

/* Checks a service name; on failure writes a message naming the field
 * into err.  Returns ORCH_OK or ORCH_EINVAL. */
int orch_service_name_validate(const char *name, char *err, size_t errlen);

/* Checks a replica count (0 to ORCH_SERVICE_REPLICAS_MAX) as above. */
int orch_service_replicas_validate(uint32_t replicas, char *err, size_t errlen);

/*
 * Creates a service named name from spec (validated by the caller: it
 * passed orch_task_spec_validate()) with a new id and created_at = now.
 * The spec's defaults are stored: memory 256, cpu 0.5, placement spread,
 * restart always; spec->name and spec->service become the service's name.
 * On success the service owns spec; on error the caller keeps it.
 * Returns ORCH_OK or ORCH_ENOMEM.
 */
int orch_service_new(const char *name, orch_task_spec *spec, uint32_t replicas,
    orch_service **out /* OUT */);

/*
 * Creates the Pending task of replica slot of svc: a copy of the
 * template named "<service>.<slot>", with spec.service, service_id and
 * slot set, restarts as given.  On ORCH_OK *out is the caller's.
 * Returns ORCH_OK or ORCH_ENOMEM.
 */
int orch_service_task_new(const orch_service *svc, uint32_t slot,
    uint32_t restarts, orch_task **out /* OUT */);

/* Sets the live field running of svc from tasks[n], any tasks (those of
 * other services are skipped): its replicas Running with no stop
 * requested. */
void orch_service_running_count(
    orch_service *svc, orch_task *const *tasks, size_t n);

/* A deep copy of spec (protobuf's pack and unpack).  NULL when out of
 * memory. */
orch_task_spec *orch_task_spec_copy(const orch_task_spec *spec);

/* Frees a service and everything it holds.  NULL is a no-op. */
void orch_service_free(orch_service *svc);

#endif
