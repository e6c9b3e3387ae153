#include "task.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

#include "clock.h"
#include "constraint.h"
#include "container.h"
#include "error.h"
#include "health.h"
#include "restart.h"

void
orch_id_new(char id[ORCH_ID_LEN])
{
	uuid_t u;

	uuid_generate_random(u);
	uuid_unparse_lower(u, id);
}

bool
orch_id_valid(const char *s)
{
	for (int i = 0; i < 36; i++) {
		char c = s[i];

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return false;
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		               (c >= 'A' && c <= 'F'))) {
			return false;
		}
	}
	return s[36] == '\0';
}

static const char *const status_names[] = {
    [ORCH__TASK_STATUS__TASK_STATUS_PENDING] = "Pending",
    [ORCH__TASK_STATUS__TASK_STATUS_SCHEDULED] = "Scheduled",
    [ORCH__TASK_STATUS__TASK_STATUS_RUNNING] = "Running",
    [ORCH__TASK_STATUS__TASK_STATUS_COMPLETED] = "Completed",
    [ORCH__TASK_STATUS__TASK_STATUS_FAILED] = "Failed",
    [ORCH__TASK_STATUS__TASK_STATUS_STOPPED] = "Stopped",
};
#define N_STATUS ((int)(sizeof(status_names) / sizeof(status_names[0])))

const char *
orch_task_status_name(int status)
{
	if (status <= 0 || status >= N_STATUS)
		return NULL;
	return status_names[status];
}

int
orch_task_status_parse(const char *s, int *status)
{
	for (int i = 1; i < N_STATUS; i++) {
		if (strcmp(s, status_names[i]) == 0) {
			*status = i;
			return ORCH_OK;
		}
	}
	/* The original project's code spelled it so. */
	if (strcmp(s, "Complete") == 0) {
		*status = ORCH__TASK_STATUS__TASK_STATUS_COMPLETED;
		return ORCH_OK;
	}
	return ORCH_EINVAL;
}

bool
orch_task_status_terminal(int status)
{
	return status == ORCH__TASK_STATUS__TASK_STATUS_COMPLETED ||
	    status == ORCH__TASK_STATUS__TASK_STATUS_FAILED ||
	    status == ORCH__TASK_STATUS__TASK_STATUS_STOPPED;
}

bool
orch_text_printable(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	}
	return true;
}

size_t
orch_utf8_seq_len(const unsigned char *s)
{
	uint32_t cp;
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] < 0xc2)
		return 0;
	if (s[0] < 0xe0) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] < 0xf0) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] < 0xf5) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	/* A NUL terminator fails this test, so no read passes the end. */
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

void
orch_text_utf8_repair(char *s)
{
	size_t n;

	for (; *s != '\0'; s += n) {
		if ((n = orch_utf8_seq_len((const unsigned char *)s)) == 0) {
			*s = '?';
			n = 1;
		}
	}
}

int
orch_text_quote_len(const char *s, size_t max)
{
	size_t n = strnlen(s, max);

	if (s[n] != '\0') {
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	return (int)n;
}

/* The scheduling fields: constraints, placement, restart. */
static int
spec_policy_validate(const orch_task_spec *spec, char *err, size_t errlen)
{
	struct orch_restart_policy rp;
	struct orch_constraint c;
	char why[256];

	if (spec->n_constraints > ORCH_CONSTRAINTS_MAX) {
		snprintf(err, errlen,
		    "field \"constraints\" has more than %d "
		    "entries",
		    ORCH_CONSTRAINTS_MAX);
		return ORCH_EINVAL;
	}
	for (size_t i = 0; i < spec->n_constraints; i++) {
		if (orch_constraint_parse(spec->constraints[i], &c, why,
		        sizeof(why)) != ORCH_OK) {
			snprintf(err, errlen, "field \"constraints\": %s", why);
			return ORCH_EINVAL;
		}
	}
	if (spec->placement != NULL && strcmp(spec->placement, "spread") != 0 &&
	    strcmp(spec->placement, "binpack") != 0) {
		snprintf(err, errlen,
		    "field \"placement\" must be spread or "
		    "binpack, not \"%.*s\"",
		    orch_text_quote_len(spec->placement, 40), spec->placement);
		return ORCH_EINVAL;
	}
	return orch_restart_policy_parse(spec->restart, &rp, err, errlen);
}

const char *
orch_task_spec_driver(const orch_task_spec *spec)
{
	return spec != NULL && spec->driver != NULL ? spec->driver
	                                            : ORCH_DRIVER_DOCKER;
}

/* The image of a docker task: required, one reference without spaces. */
static int
spec_image_validate(const orch_task_spec *spec, char *err, size_t errlen)
{
	if (spec->image == NULL || spec->image[0] == '\0') {
		snprintf(err, errlen,
		    "field \"image\" is required: a non-empty string");
		return ORCH_EINVAL;
	}
	if (strlen(spec->image) > ORCH_IMAGE_MAX ||
	    !orch_text_printable(spec->image) ||
	    strchr(spec->image, ' ') != NULL) {
		snprintf(err, errlen,
		    "field \"image\" must be an image reference of "
		    "at most %d characters without spaces",
		    ORCH_IMAGE_MAX);
		return ORCH_EINVAL;
	}
	return ORCH_OK;
}

/* An exec task runs its command on the host: it has no image, and the
 * container settings would silently mean nothing, so they are refused. */
static int
spec_exec_validate(const orch_task_spec *spec, char *err, size_t errlen)
{
	const char *container = spec->has_privileged && spec->privileged
	    ? "privileged"
	    : spec->n_volumes > 0   ? "volumes"
	    : spec->network != NULL ? "network"
	    : spec->n_cap_add > 0   ? "cap_add"
	                            : NULL;

	if (spec->image != NULL) {
		snprintf(err, errlen,
		    "field \"image\" is for the docker driver: an exec task "
		    "runs its command on the node's host, without an image");
		return ORCH_EINVAL;
	}
	if (spec->n_command == 0 || spec->command[0] == NULL ||
	    spec->command[0][0] == '\0') {
		snprintf(err, errlen,
		    "field \"command\" is required with driver \"exec\": "
		    "the program and its arguments, such as "
		    "[\"/bin/sh\", \"-c\", \"echo hi\"]");
		return ORCH_EINVAL;
	}
	if (container != NULL) {
		snprintf(err, errlen,
		    "field \"%s\" is a container setting: it applies to the "
		    "docker driver only, not to driver \"exec\"",
		    container);
		return ORCH_EINVAL;
	}
	return ORCH_OK;
}

int
orch_task_spec_validate(const orch_task_spec *spec, char *err, size_t errlen)
{
	const char *driver = orch_task_spec_driver(spec);
	bool exec;
	size_t len;
	int rc;

	if (spec->name == NULL || spec->name[0] == '\0') {
		snprintf(err, errlen,
		    "field \"name\" is required: a non-empty string");
		return ORCH_EINVAL;
	}
	if ((len = strlen(spec->name)) > ORCH_NAME_MAX ||
	    !orch_text_printable(spec->name)) {
		snprintf(err, errlen,
		    "field \"name\" must be at most %d printable "
		    "characters",
		    ORCH_NAME_MAX);
		return ORCH_EINVAL;
	}
	exec = strcmp(driver, ORCH_DRIVER_EXEC) == 0;
	if (!exec && strcmp(driver, ORCH_DRIVER_DOCKER) != 0) {
		snprintf(err, errlen,
		    "field \"driver\" must be \"docker\" or \"exec\", not "
		    "\"%.*s\"",
		    orch_text_quote_len(driver, 40), driver);
		return ORCH_EINVAL;
	}
	if ((rc = exec ? spec_exec_validate(spec, err, errlen)
	               : spec_image_validate(spec, err, errlen)) != ORCH_OK)
		return rc;
	if (spec->has_memory_mb &&
	    (spec->memory_mb < ORCH_MEMORY_MIN_MB ||
	        spec->memory_mb > ORCH_MEMORY_MAX_MB)) {
		snprintf(err, errlen,
		    "field \"memory\" must be between %d and %lld MB",
		    ORCH_MEMORY_MIN_MB, (long long)ORCH_MEMORY_MAX_MB);
		return ORCH_EINVAL;
	}
	/* The negated test also refuses NaN. */
	if (spec->has_cpu && !(spec->cpu > 0.0 && spec->cpu <= ORCH_CPU_MAX)) {
		snprintf(err, errlen,
		    "field \"cpu\" must be more than 0 and at most "
		    "%g cores",
		    ORCH_CPU_MAX);
		return ORCH_EINVAL;
	}
	if (spec->n_env > ORCH_ENV_MAX) {
		snprintf(err, errlen, "field \"env\" has more than %d entries",
		    ORCH_ENV_MAX);
		return ORCH_EINVAL;
	}
	for (size_t i = 0; i < spec->n_env; i++) {
		const char *k = spec->env[i]->key, *v = spec->env[i]->value;

		if (k == NULL || k[0] == '\0' || strchr(k, '=') != NULL ||
		    strlen(k) > 1024 || !orch_text_printable(k)) {
			snprintf(err, errlen,
			    "field \"env\": a variable name must be "
			    "non-empty printable text without '='");
			return ORCH_EINVAL;
		}
		if (v == NULL || strlen(v) > ORCH_STRING_MAX) {
			snprintf(err, errlen,
			    "field \"env\": the value of \"%.*s\" "
			    "must be a string of at most %d bytes",
			    orch_text_quote_len(k, 64), k, ORCH_STRING_MAX);
			return ORCH_EINVAL;
		}
	}
	if (spec->n_command > ORCH_COMMAND_MAX) {
		snprintf(err, errlen,
		    "field \"command\" has more than %d arguments",
		    ORCH_COMMAND_MAX);
		return ORCH_EINVAL;
	}
	for (size_t i = 0; i < spec->n_command; i++) {
		if (spec->command[i] == NULL ||
		    strlen(spec->command[i]) > ORCH_STRING_MAX) {
			snprintf(err, errlen,
			    "field \"command\": argument %zu must be "
			    "a string of at most %d bytes",
			    i, ORCH_STRING_MAX);
			return ORCH_EINVAL;
		}
	}
	if ((rc = spec_policy_validate(spec, err, errlen)) != ORCH_OK ||
	    (rc = orch_container_spec_validate(spec, err, errlen)) != ORCH_OK)
		return rc;
	return spec->health != NULL
	    ? orch_health_check_validate(spec->health, err, errlen)
	    : ORCH_OK;
}

int
orch_task_new(orch_task_spec *spec, orch_task **out)
{
	orch_task *t = malloc(sizeof(*t));

	if (t == NULL)
		return ORCH_ENOMEM;
	orch__task__init(t);
	t->id = malloc(ORCH_ID_LEN);
	if (t->id == NULL) {
		free(t);
		return ORCH_ENOMEM;
	}
	orch_id_new(t->id);
	/* Defaults are stored, not implied, so that every reader agrees. */
	if (!spec->has_memory_mb) {
		spec->has_memory_mb = true;
		spec->memory_mb = 256;
	}
	if (!spec->has_cpu) {
		spec->has_cpu = true;
		spec->cpu = 0.5;
	}
	if ((spec->placement == NULL &&
	        orch_str_set(&spec->placement, "spread") != ORCH_OK) ||
	    (spec->driver == NULL &&
	        orch_str_set(&spec->driver, ORCH_DRIVER_DOCKER) != ORCH_OK) ||
	    (spec->restart == NULL &&
	        orch_str_set(&spec->restart, "never") != ORCH_OK) ||
	    (spec->health != NULL &&
	        orch_health_check_defaults(spec->health) != ORCH_OK)) {
		free(t->id);
		free(t);
		return ORCH_ENOMEM;
	}
	t->spec = spec;
	t->has_restarts = true;
	t->restarts = 0;
	t->has_status = true;
	t->status = ORCH__TASK_STATUS__TASK_STATUS_PENDING;
	t->has_created_at_ms = true;
	t->created_at_ms = orch_now_ms();
	*out = t;
	return ORCH_OK;
}

void *
orch_msg_copy(const ProtobufCMessage *m)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(n > 0 ? n : 1);
	ProtobufCMessage *c;

	if (buf == NULL)
		return NULL;
	protobuf_c_message_pack(m, buf);
	c = protobuf_c_message_unpack(m->descriptor, NULL, n, buf);
	free(buf);
	return c;
}

orch_task *
orch_task_copy(const orch_task *t)
{
	return orch_msg_copy(&t->base);
}

void
orch_task_free(orch_task *t)
{
	if (t != NULL)
		orch__task__free_unpacked(t, NULL);
}

void
orch_task_spec_free(orch_task_spec *spec)
{
	if (spec != NULL)
		orch__task_spec__free_unpacked(spec, NULL);
}

int
orch_str_set(char **field, const char *s)
{
	char *copy = NULL;

	if (s != NULL && (copy = strdup(s)) == NULL)
		return ORCH_ENOMEM;
	/* protobuf-c's free_unpacked frees every non-NULL string field. */
	free(*field);
	*field = copy;
	return ORCH_OK;
}

/* Position of a status in the life cycle; terminal statuses share the last. */
static int
status_rank(int status)
{
	switch (status) {
	case ORCH__TASK_STATUS__TASK_STATUS_PENDING: return 0;
	case ORCH__TASK_STATUS__TASK_STATUS_SCHEDULED: return 1;
	case ORCH__TASK_STATUS__TASK_STATUS_RUNNING: return 2;
	default: return 3;
	}
}

int
orch_task_apply_update(orch_task *t, const struct orch_task_update *u,
    int64_t now_ms, char *err, size_t errlen)
{
	const char *cur = orch_task_status_name(t->status);
	const char *want = orch_task_status_name(u->status);
	char *cid = NULL, *msg = NULL;

	if (want == NULL) {
		snprintf(err, errlen, "unknown status %d", u->status);
		return ORCH_EINVAL;
	}
	if (cur == NULL)
		cur = "Unknown";
	if (u->health != 0 && orch_health_status_name(u->health) == NULL) {
		snprintf(err, errlen, "unknown health %d", u->health);
		return ORCH_EINVAL;
	}
	if (u->health != 0 && (t->spec == NULL || t->spec->health == NULL)) {
		snprintf(err, errlen,
		    "task %s has no health check, so it has no health to "
		    "report",
		    t->id);
		return ORCH_EINVAL;
	}
	if (orch_task_status_terminal(t->status) &&
	    u->status != (int)t->status) {
		snprintf(err, errlen,
		    "task %s is already %s and cannot become %s", t->id, cur,
		    want);
		return ORCH_ECONFLICT;
	}
	if (status_rank(u->status) < status_rank(t->status)) {
		snprintf(err, errlen, "task %s is %s and cannot go back to %s",
		    t->id, cur, want);
		return ORCH_ECONFLICT;
	}
	/* Allocate first so that failure leaves t unchanged. */
	if ((u->container_id != NULL &&
	        (cid = strdup(u->container_id)) == NULL) ||
	    (u->error != NULL && (msg = strdup(u->error)) == NULL)) {
		free(cid);
		snprintf(err, errlen, "out of memory");
		return ORCH_ENOMEM;
	}
	if (orch_task_status_terminal(t->status)) {
		/* A repeated final report: idempotent, keep what was recorded.
		 */
		free(cid);
		free(msg);
		return ORCH_OK;
	}
	if (cid != NULL) {
		free(t->container_id);
		t->container_id = cid;
	}
	if (msg != NULL) {
		free(t->error);
		t->error = msg;
	} else if (t->status == ORCH__TASK_STATUS__TASK_STATUS_PENDING &&
	    u->status != ORCH__TASK_STATUS__TASK_STATUS_PENDING) {
		/* While Pending, error says why the scheduler could not place
		 * the task: no longer true once it has left Pending. */
		free(t->error);
		t->error = NULL;
	}
	if (u->has_exit_code) {
		t->has_exit_code = true;
		t->exit_code = u->exit_code;
	}
	if (!t->has_started_at_ms &&
	    (u->status == ORCH__TASK_STATUS__TASK_STATUS_RUNNING ||
	        (u->has_started_at_ms &&
	            orch_task_status_terminal(u->status)))) {
		t->has_started_at_ms = true;
		t->started_at_ms =
		    u->has_started_at_ms ? u->started_at_ms : now_ms;
	}
	if (orch_task_status_terminal(u->status) && !t->has_finished_at_ms) {
		t->has_finished_at_ms = true;
		t->finished_at_ms =
		    u->has_finished_at_ms ? u->finished_at_ms : now_ms;
	}
	if (u->health != 0) {
		t->has_health = true;
		t->health = (Orch__HealthStatus)u->health;
	} else if (u->status == ORCH__TASK_STATUS__TASK_STATUS_RUNNING &&
	    !t->has_health && t->spec != NULL && t->spec->health != NULL) {
		/* Its node checks it from now on. */
		t->has_health = true;
		t->health = ORCH__HEALTH_STATUS__HEALTH_STATUS_STARTING;
	}
	t->has_status = true;
	t->status = u->status;
	return ORCH_OK;
}

int
orch_task_stop(orch_task *t, int64_t now_ms)
{
	if (orch_task_status_terminal(t->status))
		return ORCH_OK;
	t->has_stop_requested = true;
	t->stop_requested = true;
	/* Nothing runs until a node has the task: stop it here and now. */
	if (t->status == ORCH__TASK_STATUS__TASK_STATUS_PENDING ||
	    (t->status == ORCH__TASK_STATUS__TASK_STATUS_SCHEDULED &&
	        (t->node_id == NULL || t->node_id[0] == '\0'))) {
		t->status = ORCH__TASK_STATUS__TASK_STATUS_STOPPED;
		t->has_finished_at_ms = true;
		t->finished_at_ms = now_ms;
	}
	return ORCH_OK;
}
