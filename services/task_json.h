/*
 * task_json.h: the task in the original project's JSON, both ways.
 *
 * Field names are the API contract (shared/ORIGINAL-API.md): id, name,
 * image, memory, cpu, env, command, status, created_at, started_at,
 * finished_at, node_id, container_id, exit_code, error; then the
 * scheduling fields added since: constraints, placement, restart,
 * restarts, service, replaces, replaced_by, not_before; then the
 * container settings: privileged, volumes, network, cap_add; then the
 * health state, health ("starting", "healthy", "unhealthy"), and the
 * check, healthcheck.  A spec gives its check as "health" (the state has
 * no place in a spec): output names it "healthcheck" so that it and the
 * state do not collide.  Absent optional values are written as null.
 */
#ifndef ORCH_TASK_JSON_H
#define ORCH_TASK_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "task.h"

/*
 * Decodes the body of POST /tasks: a JSON object with "name" and "image"
 * (non-empty strings) and optional "memory" (integer MB; 256.0 is refused),
 * "cpu" (number), "env" (object of strings), "command" (array of
 * strings), "constraints" (array of strings, constraint.h), "placement"
 * ("spread" or "binpack"), "restart" (restart.h), "privileged" (boolean),
 * "volumes" and "cap_add" (arrays of strings) and "network" (string;
 * container.h), "health" (an object: health.h, its keys those of
 * HealthCheck); null counts as absent.  Unknown fields, duplicate keys,
 * trailing data, strings holding NUL, wrong types and values outside the
 * limits of task.h are refused.
 * On ORCH_OK *out is a new spec owned by the caller, with has_ set only
 * for the fields given: orch_task_new() stores the defaults.  Otherwise
 * *out is NULL and err holds a message for a person naming the field
 * ('field "memory" must be an integer number of MB').
 * Returns ORCH_OK, ORCH_EINVAL or ORCH_ENOMEM.
 */
int orch_task_spec_from_json(const char *buf, size_t len,
    orch_task_spec **out /* OUT */, char *err, size_t errlen);

/*
 * Decodes the body of PUT /tasks/{id}/status: {"status": <status>,
 * "container_id": string or null} plus optional "exit_code" (integer in
 * int32 range, or null), "error" (string or null) and "health"
 * ("starting", "healthy" or "unhealthy", or null).  "status" is
 * required ("Complete" is read as Completed); unknown fields are refused.
 * On ORCH_OK the strings in *out point into *root (OUT), which the caller
 * releases with json_decref() after use.  Otherwise *root is NULL and err
 * holds a message naming the field.
 * Returns ORCH_OK or ORCH_EINVAL (jansson running out of memory is
 * reported as malformed input).
 */
int orch_task_update_from_json(const char *buf, size_t len,
    struct orch_task_update *out /* OUT */, json_t **root /* OUT */, char *err,
    size_t errlen);

/* The decoding of the task fields of the object root (those listed
 * above) into a new spec, without refusing other fields and without
 * orch_task_spec_validate(): for bodies that carry a spec among other
 * fields (a service's).  Same codes as orch_task_spec_from_json(). */
int orch_task_spec_from_object(
    json_t *root, orch_task_spec **out /* OUT */, char *err, size_t errlen);

/* Shared with the other codecs (node_json.c, service_json.c): */

/* Parses buf as one JSON object (the strict rules above) into *root (OUT,
 * a new reference).  Returns ORCH_OK or ORCH_EINVAL with err set. */
int orch_json_object_parse(
    const char *buf, size_t len, json_t **root, char *err, size_t errlen);

/* Refuses a key of obj that is not in known (NULL-terminated), naming it.
 * Returns ORCH_OK or ORCH_EINVAL. */
int orch_json_fields_check(
    json_t *obj, const char *const *known, char *err, size_t errlen);

/* Adds the spec's name, image, memory, cpu, env and command to o, in that
 * order; then (the second) its constraints, placement and restart.
 * Returns ORCH_OK or ORCH_ENOMEM. */
int orch_spec_json_add_base(json_t *o, const orch_task_spec *sp);
int orch_spec_json_add_policy(json_t *o, const orch_task_spec *sp);

/* Adds the spec's container settings to o: privileged, volumes, network
 * ("bridge" when absent) and cap_add.  Returns ORCH_OK or ORCH_ENOMEM. */
int orch_spec_json_add_container(json_t *o, const orch_task_spec *sp);

/* Adds the spec's health check to o as "healthcheck": an object with
 * type, command (exec) or port and path (http), interval_s, timeout_s,
 * retries and start_period_s; null without one.  Returns ORCH_OK or
 * ORCH_ENOMEM. */
int orch_spec_json_add_health(json_t *o, const orch_task_spec *sp);

/* A JSON string for s, with bytes that are not UTF-8 written as U+FFFD
 * (json_string() refuses them).  NULL when out of memory. */
json_t *orch_json_text(const char *s);

/* ms as an RFC 3339 string, or null when has is false. */
json_t *orch_json_time(bool has, int64_t ms);

/* j encoded compactly with a final newline (an answer, a line of a
 * stream): a new malloc'd string of *len (OUT) bytes, not NUL-terminated,
 * or NULL when j is NULL or memory runs out. */
char *orch_json_line(const json_t *j, size_t *len /* OUT */);

/* Encodes t as the API's JSON object, keys in the order listed above.
 * Bytes in t's strings that are not UTF-8 are written as U+FFFD.  Returns
 * a new reference, or NULL when out of memory. */
json_t *orch_task_to_json(const orch_task *t);

#endif
