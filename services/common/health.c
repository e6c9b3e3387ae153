/*
 * health.c: health checks, the model (see health.h).
 */
#include "health.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "task.h"

#define ST_STARTING ORCH__HEALTH_STATUS__HEALTH_STATUS_STARTING
#define ST_HEALTHY ORCH__HEALTH_STATUS__HEALTH_STATUS_HEALTHY
#define ST_UNHEALTHY ORCH__HEALTH_STATUS__HEALTH_STATUS_UNHEALTHY

static const char *const status_names[] = {
    [ST_STARTING] = "starting",
    [ST_HEALTHY] = "healthy",
    [ST_UNHEALTHY] = "unhealthy",
};
#define N_STATUS ((int)(sizeof(status_names) / sizeof(status_names[0])))

/* The numeric fields of a check and their limits. */
static const struct {
	const char *name;
	long long min, max;
	const char *unit;
} fields[] = {
    {"port", 1, 65535, "a port number"},
    {"interval_s", 1, ORCH_HEALTH_INTERVAL_MAX_S, "seconds"},
    {"timeout_s", 1, ORCH_HEALTH_TIMEOUT_MAX_S, "seconds"},
    {"retries", 1, ORCH_HEALTH_RETRIES_MAX, "failures in a row"},
    {"start_period_s", 0, ORCH_HEALTH_START_PERIOD_MAX_S, "seconds"},
};

const char *
orch_health_status_name(int status)
{
	if (status <= 0 || status >= N_STATUS)
		return NULL;
	return status_names[status];
}

int
orch_health_status_parse(const char *s, int *status)
{
	for (int i = 1; i < N_STATUS; i++) {
		if (strcmp(s, status_names[i]) == 0) {
			*status = i;
			return ORCH_OK;
		}
	}
	return ORCH_EINVAL;
}

int
orch_health_field_check(
    const char *field, long long v, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (strcmp(fields[i].name, field) != 0)
			continue;
		if (v >= fields[i].min && v <= fields[i].max)
			return ORCH_OK;
		snprintf(err, errlen,
		    "field \"health.%s\" must be an integer from %lld to "
		    "%lld (%s)",
		    field, fields[i].min, fields[i].max, fields[i].unit);
		return ORCH_EINVAL;
	}
	snprintf(err, errlen, "unknown field \"health.%.40s\"", field);
	return ORCH_EINVAL;
}

/* The command of an exec check: required, within the limits of a
 * task's own command. */
static int
command_validate(const orch_health_check *h, char *err, size_t errlen)
{
	if (h->n_command == 0 || h->command[0] == NULL ||
	    h->command[0][0] == '\0') {
		snprintf(err, errlen,
		    "field \"health.command\" is required with type \"exec\": "
		    "the program and its arguments, such as "
		    "[\"pg_isready\", \"-q\"]");
		return ORCH_EINVAL;
	}
	if (h->n_command > ORCH_COMMAND_MAX) {
		snprintf(err, errlen,
		    "field \"health.command\" has more than %d arguments",
		    ORCH_COMMAND_MAX);
		return ORCH_EINVAL;
	}
	for (size_t i = 0; i < h->n_command; i++) {
		if (h->command[i] == NULL ||
		    strlen(h->command[i]) > ORCH_STRING_MAX) {
			snprintf(err, errlen,
			    "field \"health.command\": argument %zu must be "
			    "a string of at most %d bytes",
			    i, ORCH_STRING_MAX);
			return ORCH_EINVAL;
		}
	}
	return ORCH_OK;
}

/* The path of an http check: it goes into a URL as it is, so only the
 * bytes a URL's path and query may hold unescaped. */
static int
path_validate(const char *path, char *err, size_t errlen)
{
	size_t n = strlen(path);

	if (path[0] != '/' || n > ORCH_HEALTH_PATH_MAX) {
		snprintf(err, errlen,
		    "field \"health.path\" must start with '/' and be at "
		    "most %d bytes, such as \"/healthz\"",
		    ORCH_HEALTH_PATH_MAX);
		return ORCH_EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)path[i];

		if (c <= 0x20 || c >= 0x7f) {
			snprintf(err, errlen,
			    "field \"health.path\" must be printable ASCII "
			    "without spaces (percent-encode the others, "
			    "%%20 for a space)");
			return ORCH_EINVAL;
		}
	}
	return ORCH_OK;
}

/* The fields of one type that another type has no use for are refused
 * rather than ignored: a check that is not what its writer meant would
 * fail, or pass, for the wrong reason. */
static int
type_fields_validate(
    const orch_health_check *h, bool exec, bool http, char *err, size_t errlen)
{
	if (exec && h->has_port) {
		snprintf(err, errlen,
		    "field \"health.port\" is for types \"http\" and "
		    "\"tcp\", not \"exec\"");
		return ORCH_EINVAL;
	}
	if (!exec && h->n_command > 0) {
		snprintf(err, errlen,
		    "field \"health.command\" is for type \"exec\" only");
		return ORCH_EINVAL;
	}
	if (!http && h->path != NULL) {
		snprintf(err, errlen,
		    "field \"health.path\" is for type \"http\" only");
		return ORCH_EINVAL;
	}
	if (!exec && !h->has_port) {
		snprintf(err, errlen,
		    "field \"health.port\" is required with type \"%s\": "
		    "the port the task listens on, from 1 to 65535",
		    http ? ORCH_HEALTH_HTTP : ORCH_HEALTH_TCP);
		return ORCH_EINVAL;
	}
	return ORCH_OK;
}

int
orch_health_check_validate(const orch_health_check *h, char *err, size_t errlen)
{
	const struct {
		const char *name;
		bool has;
		uint32_t v;
	} nums[] = {
	    {"port", h->has_port, h->port},
	    {"interval_s", h->has_interval_s, h->interval_s},
	    {"timeout_s", h->has_timeout_s, h->timeout_s},
	    {"retries", h->has_retries, h->retries},
	    {"start_period_s", h->has_start_period_s, h->start_period_s},
	};
	bool exec, http;
	int rc;

	if (h->type == NULL || h->type[0] == '\0') {
		snprintf(err, errlen,
		    "field \"health.type\" is required: \"exec\", \"http\" "
		    "or \"tcp\"");
		return ORCH_EINVAL;
	}
	exec = strcmp(h->type, ORCH_HEALTH_EXEC) == 0;
	http = strcmp(h->type, ORCH_HEALTH_HTTP) == 0;
	if (!exec && !http && strcmp(h->type, ORCH_HEALTH_TCP) != 0) {
		snprintf(err, errlen,
		    "field \"health.type\" must be \"exec\", \"http\" or "
		    "\"tcp\", not \"%.*s\"",
		    orch_text_quote_len(h->type, 40), h->type);
		return ORCH_EINVAL;
	}
	if ((rc = type_fields_validate(h, exec, http, err, errlen)) !=
	        ORCH_OK ||
	    (exec && (rc = command_validate(h, err, errlen)) != ORCH_OK) ||
	    (h->path != NULL &&
	        (rc = path_validate(h->path, err, errlen)) != ORCH_OK))
		return rc;
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		if (nums[i].has &&
		    (rc = orch_health_field_check(
		         nums[i].name, nums[i].v, err, errlen)) != ORCH_OK)
			return rc;
	}
	return ORCH_OK;
}

int
orch_health_check_defaults(orch_health_check *h)
{
	/* Unset fields already read as the schema's defaults. */
	h->has_interval_s = true;
	h->has_timeout_s = true;
	h->has_retries = true;
	h->has_start_period_s = true;
	if (h->type != NULL && strcmp(h->type, ORCH_HEALTH_HTTP) == 0 &&
	    h->path == NULL && (h->path = strdup("/")) == NULL)
		return ORCH_ENOMEM;
	return ORCH_OK;
}

const char *
orch_health_check_path(const orch_health_check *h)
{
	return h->path != NULL && h->path[0] != '\0' ? h->path : "/";
}

const char *
orch_health_check_text(const orch_health_check *h, char *buf, size_t len)
{
	const char *type = h->type != NULL ? h->type : "";

	if (strcmp(type, ORCH_HEALTH_HTTP) == 0)
		snprintf(buf, len, "http GET :%u%.200s", (unsigned)h->port,
		    orch_health_check_path(h));
	else if (strcmp(type, ORCH_HEALTH_TCP) == 0)
		snprintf(buf, len, "tcp :%u", (unsigned)h->port);
	else if (h->n_command > 1)
		snprintf(buf, len, "exec \"%.*s\" (%zu arguments)",
		    orch_text_quote_len(h->command[0], 100), h->command[0],
		    h->n_command - 1);
	else
		snprintf(buf, len, "exec \"%.*s\"",
		    h->n_command > 0 ? orch_text_quote_len(h->command[0], 100)
		                     : 0,
		    h->n_command > 0 ? h->command[0] : "");
	return buf;
}

void
orch_health_state_init(struct orch_health_state *s)
{
	s->status = ST_STARTING;
	s->failures = 0;
}

bool
orch_health_step(struct orch_health_state *s, const orch_health_check *h,
    bool passed, int64_t now_ms, int64_t started_ms)
{
	int before = s->status;
	uint32_t retries = h->retries > 0 ? h->retries : 1;

	if (passed) {
		s->failures = 0;
		s->status = ST_HEALTHY;
		return s->status != before;
	}
	/* Unhealthy stays so, with the count that made it (the message
	 * says "failed N times"), until a pass. */
	if (s->status == ST_UNHEALTHY)
		return false;
	/* A slow starter's failures do not count until its start period is
	 * over, or until it has once been healthy. */
	if (s->status == ST_STARTING &&
	    now_ms - started_ms < (int64_t)h->start_period_s * 1000)
		return false;
	if (s->failures < UINT32_MAX)
		s->failures++;
	if (s->failures >= retries)
		s->status = ST_UNHEALTHY;
	return s->status != before;
}
