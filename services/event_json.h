/*
 * event_json.h: an event in the API's JSON, one line of GET /events.
 *
 *   {"index": 42, "time": "2026-11-26T20:38:21.123Z", "type": "task.status",
 *    "kind": "task", "id": "<the object's id>", "previous_status": "Pending",
 *    "object": {...}}
 *
 * kind is "task", "node" or "service"; previous_status is present in
 * task.status events only.  object is the object after the change (for a
 * deletion, as it was), as the API renders it, without the live fields the
 * store does not keep: a task in full (GET /tasks/{id}); a node without
 * allocated_cpu, allocated_memory, task_count and last_heartbeat, its
 * status set in node.ready and node.down and null otherwise, and
 * driver_health only in node.driver; a service without running and
 * tasks.
 */
#ifndef ORCH_EVENT_JSON_H
#define ORCH_EVENT_JSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "orch.pb-c.h"

/* The kind of ev's object: "task", "node", "service", or NULL when it
 * carries none. */
const char *orch_event_kind(const Orch__Event *ev);

/* Encodes ev as above.  Returns a new reference, or NULL when out of
 * memory. */
json_t *orch_event_to_json(const Orch__Event *ev);

/*
 * Decodes a serialized orch.Event and writes its JSON line (compact, with
 * a final newline) into a new malloc'd string (*out, *len).  Returns
 * ORCH_OK, ORCH_EIO when data is not an Event (a corrupt store), or
 * ORCH_ENOMEM.
 */
int orch_event_line(
    const uint8_t *data, size_t n, char **out /* OUT */, size_t *len /* OUT */);

/* The first line of a stream that starts after events that are no longer
 * kept: {"type": "events.missed", "since": since, "oldest": oldest,
 * "missed": oldest - since - 1, "message": "..."}.  Same codes and
 * ownership as orch_event_line(). */
int orch_event_missed_line(uint64_t since, uint64_t oldest,
    char **out /* OUT */, size_t *len /* OUT */);

#endif
