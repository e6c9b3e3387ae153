/*
 * node.h: the node model.
 *
 * A node is the generated protobuf struct Orch__Node (proto/orch.proto): a
 * machine running orch-agent.  The store keeps what the agent registered
 * (name, address, labels, capacity, drivers, version) plus the id and the
 * time of its first registration; status, last heartbeat and allocation
 * are the manager's live view, filled in when a node is answered.
 */
#ifndef ORCH_NODE_H
#define ORCH_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orch.pb-c.h"

typedef Orch__Node orch_node;

/* Hard limits on a registration, checked by the manager. */
#define ORCH_NODE_NAME_MAX 128
#define ORCH_NODE_ADDRESS_MAX 256
#define ORCH_NODE_LABELS_MAX 64 /* entries */
#define ORCH_NODE_LABEL_KEY_MAX 256
#define ORCH_NODE_LABEL_VALUE_MAX 1024
#define ORCH_NODE_DRIVERS_MAX 16 /* entries */
#define ORCH_NODE_DRIVER_MAX 64
#define ORCH_NODE_DRIVER_ERROR_MAX 512 /* DriverHealth.error */
#define ORCH_NODE_VERSION_MAX 128
#define ORCH_NODE_CPU_MAX 65536.0
#define ORCH_NODE_MEMORY_MAX_MB (1LL << 40)

/* Whether c may appear in a node name as orch-agent gives it: a letter, a
 * digit, '.', '_' or '-'. */
bool orch_node_name_char(char c);

/* Whether s is a node name as orch-agent gives it: 1 to ORCH_NODE_NAME_MAX
 * characters for which orch_node_name_char() holds.  Node names become
 * Docker label values and filters, file names (certificates), log text
 * and API fields: a conservative alphabet keeps them safe in all of them.
 * (The manager accepts any printable name from other agents.) */
bool orch_node_name_valid(const char *s);

/* The API name of a node status ("Ready", "NotReady", "Down"), or NULL for
 * an unknown value. */
const char *orch_node_status_name(int status);

/*
 * Checks a registration: name non-empty, printable and at most
 * ORCH_NODE_NAME_MAX bytes; cpu and memory_mb given and positive; label
 * keys non-empty; every string within the limits above.  On failure
 * writes a message for a person, naming the field, into err.
 * Returns ORCH_OK or ORCH_EINVAL.
 */
int orch_node_registration_validate(
    const Orch__NodeRegistration *reg, char *err, size_t errlen);

/*
 * Checks the driver health an agent reports (NodeRegistration and
 * HeartbeatRequest driver_health, h[n]): at most ORCH_NODE_DRIVERS_MAX
 * entries, each with a name of 1 to ORCH_NODE_DRIVER_MAX printable
 * characters, and an error of at most ORCH_NODE_DRIVER_ERROR_MAX
 * printable characters.  On failure writes a message naming the field
 * into err.  Returns ORCH_OK or ORCH_EINVAL.
 */
int orch_node_health_validate(
    Orch__DriverHealth *const *h, size_t n, char *err, size_t errlen);

/* One driver that a node's agent reports unhealthy, as the manager keeps
 * it (nodes.h) and the scheduler reads it. */
struct orch_driver_health {
	char name[ORCH_NODE_DRIVER_MAX + 1];
	char error[ORCH_NODE_DRIVER_ERROR_MAX + 1];
	int64_t since_ms; /* wall clock: when the manager first heard it */
};

/*
 * Sets n->driver_health: one entry per driver of n->drivers, in order,
 * healthy unless sick[n_sick] (the unhealthy ones, as the manager keeps
 * them) names it, then with its error and since_ms.  Whatever n held
 * there is not freed: it must hold none.  The entries are malloc'd and
 * freed with n by orch_node_free().  Returns ORCH_OK, or ORCH_ENOMEM (n
 * then has none).
 */
int orch_node_health_fill(
    orch_node *n, const struct orch_driver_health *sick, size_t n_sick);

/* Frees a node and everything it holds.  NULL is a no-op. */
void orch_node_free(orch_node *n);

#endif
