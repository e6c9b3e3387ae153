#include "node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "task.h"

static const char *const status_names[] = {
    [ORCH__NODE_STATUS__NODE_STATUS_READY] = "Ready",
    [ORCH__NODE_STATUS__NODE_STATUS_NOT_READY] = "NotReady",
    [ORCH__NODE_STATUS__NODE_STATUS_DOWN] = "Down",
};
#define N_STATUS ((int)(sizeof(status_names) / sizeof(status_names[0])))

bool
orch_node_name_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

bool
orch_node_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > ORCH_NODE_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!orch_node_name_char(s[i]))
			return false;
	}
	return true;
}

const char *
orch_node_status_name(int status)
{
	if (status <= 0 || status >= N_STATUS)
		return NULL;
	return status_names[status];
}

/* Checks an optional string field against a length limit. */
static int
text_check(
    const char *field, const char *s, size_t max, char *err, size_t errlen)
{
	if (s == NULL)
		return ORCH_OK;
	if (strlen(s) > max || !orch_text_printable(s)) {
		snprintf(err, errlen,
		    "field \"%s\" must be at most %zu printable "
		    "characters",
		    field, max);
		return ORCH_EINVAL;
	}
	return ORCH_OK;
}

int
orch_node_registration_validate(
    const Orch__NodeRegistration *reg, char *err, size_t errlen)
{
	int rc;

	if (reg->name == NULL || reg->name[0] == '\0') {
		snprintf(err, errlen,
		    "field \"name\" is required: a non-empty "
		    "string naming the node");
		return ORCH_EINVAL;
	}
	if ((rc = text_check("name", reg->name, ORCH_NODE_NAME_MAX, err,
	         errlen)) != ORCH_OK ||
	    (rc = text_check("address", reg->address, ORCH_NODE_ADDRESS_MAX,
	         err, errlen)) != ORCH_OK ||
	    (rc = text_check("agent_version", reg->agent_version,
	         ORCH_NODE_VERSION_MAX, err, errlen)) != ORCH_OK)
		return rc;
	/* The negated test also refuses NaN. */
	if (!reg->has_cpu ||
	    !(reg->cpu > 0.0 && reg->cpu <= ORCH_NODE_CPU_MAX)) {
		snprintf(err, errlen,
		    "field \"cpu\" is required: the node's "
		    "capacity in cores, more than 0 and at most %g",
		    ORCH_NODE_CPU_MAX);
		return ORCH_EINVAL;
	}
	if (!reg->has_memory_mb || reg->memory_mb <= 0 ||
	    reg->memory_mb > ORCH_NODE_MEMORY_MAX_MB) {
		snprintf(err, errlen,
		    "field \"memory_mb\" is required: the node's "
		    "capacity in MB, more than 0 and at most %lld",
		    (long long)ORCH_NODE_MEMORY_MAX_MB);
		return ORCH_EINVAL;
	}
	if (reg->n_labels > ORCH_NODE_LABELS_MAX) {
		snprintf(err, errlen,
		    "field \"labels\" has more than %d entries",
		    ORCH_NODE_LABELS_MAX);
		return ORCH_EINVAL;
	}
	for (size_t i = 0; i < reg->n_labels; i++) {
		const char *k = reg->labels[i]->key, *v = reg->labels[i]->value;

		if (k == NULL || k[0] == '\0') {
			snprintf(err, errlen,
			    "field \"labels\": a label key must "
			    "not be empty");
			return ORCH_EINVAL;
		}
		if ((rc = text_check("labels", k, ORCH_NODE_LABEL_KEY_MAX, err,
		         errlen)) != ORCH_OK)
			return rc;
		if (v != NULL && strlen(v) > ORCH_NODE_LABEL_VALUE_MAX) {
			snprintf(err, errlen,
			    "field \"labels\": a label value must "
			    "be at most %d bytes",
			    ORCH_NODE_LABEL_VALUE_MAX);
			return ORCH_EINVAL;
		}
	}
	if (reg->n_drivers > ORCH_NODE_DRIVERS_MAX) {
		snprintf(err, errlen,
		    "field \"drivers\" has more than %d entries",
		    ORCH_NODE_DRIVERS_MAX);
		return ORCH_EINVAL;
	}
	for (size_t i = 0; i < reg->n_drivers; i++) {
		if (reg->drivers[i] == NULL || reg->drivers[i][0] == '\0') {
			snprintf(err, errlen,
			    "field \"drivers\": a driver name "
			    "must not be empty");
			return ORCH_EINVAL;
		}
		if ((rc = text_check("drivers", reg->drivers[i],
		         ORCH_NODE_DRIVER_MAX, err, errlen)) != ORCH_OK)
			return rc;
	}
	return orch_node_health_validate(
	    reg->driver_health, reg->n_driver_health, err, errlen);
}

int
orch_node_health_validate(
    Orch__DriverHealth *const *h, size_t n, char *err, size_t errlen)
{
	int rc;

	if (n > ORCH_NODE_DRIVERS_MAX) {
		snprintf(err, errlen,
		    "field \"driver_health\" has more than %d entries",
		    ORCH_NODE_DRIVERS_MAX);
		return ORCH_EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (h[i] == NULL || h[i]->name == NULL ||
		    h[i]->name[0] == '\0') {
			snprintf(err, errlen,
			    "field \"driver_health\": an entry "
			    "needs the driver's name");
			return ORCH_EINVAL;
		}
		if ((rc = text_check("driver_health.name", h[i]->name,
		         ORCH_NODE_DRIVER_MAX, err, errlen)) != ORCH_OK ||
		    (rc = text_check("driver_health.error", h[i]->error,
		         ORCH_NODE_DRIVER_ERROR_MAX, err, errlen)) != ORCH_OK)
			return rc;
	}
	return ORCH_OK;
}

int
orch_node_health_fill(
    orch_node *n, const struct orch_driver_health *sick, size_t n_sick)
{
	Orch__DriverHealth **v;

	n->driver_health = NULL;
	n->n_driver_health = 0;
	if (n->n_drivers == 0)
		return ORCH_OK;
	if ((v = calloc(n->n_drivers, sizeof(*v))) == NULL)
		return ORCH_ENOMEM;
	n->driver_health = v;
	for (size_t k = 0; k < n->n_drivers; k++) {
		const char *name = n->drivers[k] != NULL ? n->drivers[k] : "";
		const struct orch_driver_health *s = NULL;

		for (size_t j = 0; j < n_sick && s == NULL; j++) {
			if (strcmp(sick[j].name, name) == 0)
				s = &sick[j];
		}
		if ((v[k] = malloc(sizeof(*v[k]))) == NULL)
			goto nomem;
		orch__driver_health__init(v[k]);
		n->n_driver_health = k + 1;
		if ((v[k]->name = strdup(name)) == NULL)
			goto nomem;
		v[k]->has_healthy = true;
		v[k]->healthy = s == NULL;
		if (s == NULL)
			continue;
		if ((v[k]->error = strdup(s->error)) == NULL)
			goto nomem;
		v[k]->has_since_ms = true;
		v[k]->since_ms = s->since_ms;
	}
	return ORCH_OK;
nomem:
	for (size_t j = 0; j < n->n_driver_health; j++)
		orch__driver_health__free_unpacked(v[j], NULL);
	free(v);
	n->driver_health = NULL;
	n->n_driver_health = 0;
	return ORCH_ENOMEM;
}

void
orch_node_free(orch_node *n)
{
	if (n != NULL)
		orch__node__free_unpacked(n, NULL);
}
