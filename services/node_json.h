/*
 * node_json.h: the node in the API's JSON.
 *
 *   {"id": "...", "name": "node-a", "address": "10.0.0.5", "status":
 *    "Ready", "labels": {"zone": "a"}, "cpu": 4.0, "memory": 8192,
 *    "allocated_cpu": 1.5, "allocated_memory": 768, "task_count": 3,
 *    "last_heartbeat": "2026-11-26T20:38:21.123Z", "drivers": ["docker"],
 *    "driver_health": {"docker": {"healthy": false, "error": "...",
 *    "since": "2026-11-26T20:38:20.001Z"}},
 *    "version": "0.1.0", "registered_at": "2026-11-26T20:00:00.000Z"}
 *
 * memory and allocated_memory are MB; last_heartbeat is null when the node
 * has not been heard from since the manager started; address and version
 * are null when the agent gave none.  driver_health has a member per
 * driver: {"healthy": true}, or healthy false with error and since.
 */
#ifndef ORCH_NODE_JSON_H
#define ORCH_NODE_JSON_H

#include <jansson.h>

#include "node.h"

/* Encodes n, keys in the order above.  Returns a new reference, or NULL
 * when out of memory. */
json_t *orch_node_to_json(const orch_node *n);

#endif
