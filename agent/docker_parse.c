/*
 * docker_parse.c: reading the Docker Engine API's answers (see
 * docker_parse.h).  jansson parses; everything taken from the JSON is
 * checked for type and copied into bounded buffers.
 */
#include "docker_parse.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "docker_client.h"
#include "error.h"

bool
orch_docker_handle_valid(const char *h)
{
	size_t n = 0;

	if (h == NULL || h[0] == '\0')
		return false;
	for (; h[n] != '\0'; n++) {
		char c = h[n];

		if (n >= ORCH_HANDLE_LEN - 1)
			return false;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		        (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		        c == '_'))
			return false;
	}
	return true;
}

bool
orch_docker_str_copy(char *buf, size_t len, const char *s)
{
	size_t n = strlen(s);

	if (n >= len) {
		buf[0] = '\0';
		return false;
	}
	memcpy(buf, s, n + 1);
	return true;
}

/* Sets what and returns ORCH_EPROTO. */
static int
bad(char *what, size_t whatlen, const char *msg)
{
	snprintf(what, whatlen, "%s", msg);
	return ORCH_EPROTO;
}

/* A string member of o, or NULL when missing or not a string (or when it
 * holds a NUL, which no field of Docker's may). */
static const char *
json_str(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_string(v) ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return NULL;
	return json_string_value(v);
}

/* The exit code of an integer ExitCode.  One outside int is no exit code
 * a process can have: reported as 255 rather than wrapped into a
 * misleading value. */
static int
exit_code_of(const json_t *code)
{
	return json_integer_value(code) >= INT32_MIN &&
	        json_integer_value(code) <= INT32_MAX
	    ? (int)json_integer_value(code)
	    : 255;
}

/* Parses body as a JSON object (want_array: array).  On ORCH_OK *out is a
 * new reference. */
static int
body_json(const char *body, size_t len, bool want_array, json_t **out /* OUT */,
    char *what, size_t whatlen)
{
	json_error_t jerr;
	json_t *j;

	*out = NULL;
	if (body == NULL || len == 0)
		return bad(what, whatlen, "an empty body");
	if ((j = json_loadb(body, len, 0, &jerr)) == NULL) {
		snprintf(what, whatlen, "not JSON (%s)", jerr.text);
		return ORCH_EPROTO;
	}
	if (want_array ? !json_is_array(j) : !json_is_object(j)) {
		json_decref(j);
		return bad(what, whatlen,
		    want_array ? "not a JSON array" : "not a JSON object");
	}
	*out = j;
	return ORCH_OK;
}

/* Parses "1.41" into its minor number.  Only major version 1 exists. */
static bool
api_version_parse(const char *s, int *minor)
{
	char *end;
	long major, m;

	/* Digits only: strtol alone would take "+1.41", " 1.41", "1.-0";
	 * and "1." itself: strtol would take "01.41" (found by
	 * fuzz_docker_parse). */
	if (s[0] != '1' || s[1] != '.')
		return false;
	errno = 0;
	major = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '.' || major != 1)
		return false;
	s = end + 1;
	if (!isdigit((unsigned char)s[0]))
		return false;
	m = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || m < 0 || m > 1000)
		return false;
	*minor = (int)m;
	return true;
}

/*
 * Docker's times are RFC 3339 with up to nanoseconds
 * ("2026-11-26T21:01:57.543603306Z").  Returns milliseconds since the
 * epoch, or 0 for Docker's zero time ("0001-01-01T00:00:00Z", never
 * started or not finished), for any other time before the epoch, and for
 * anything it cannot read: a time is information, not a reason to fail
 * the whole call.
 */
static int64_t
time_parse_ms(const char *s)
{
	int64_t ms;

	if (s == NULL || orch_rfc3339_parse(s, &ms) != ORCH_OK || ms < 0)
		return 0;
	return ms;
}

int
orch_docker_version_parse(const char *body, size_t len,
    struct orch_docker_version *out, char *what, size_t whatlen)
{
	const char *ver, *minver, *engine;
	json_t *j = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	out->min_api_minor = 12;
	if ((rc = body_json(body, len, false, &j, what, whatlen)) != ORCH_OK)
		return rc;
	ver = json_str(j, "ApiVersion");
	minver = json_str(j, "MinAPIVersion");
	engine = json_str(j, "Version");
	if (ver == NULL || !api_version_parse(ver, &out->api_minor) ||
	    (minver != NULL &&
	        !api_version_parse(minver, &out->min_api_minor))) {
		rc = bad(what, whatlen,
		    "no readable \"ApiVersion\" or \"MinAPIVersion\"");
		goto out;
	}
	/* Both parsed as 1.N with N <= 1000, but "1.0041" is as readable:
	 * long ones are refused rather than cut. */
	if (!orch_docker_str_copy(out->api, sizeof(out->api), ver) ||
	    (minver != NULL &&
	        !orch_docker_str_copy(
	            out->min_api, sizeof(out->min_api), minver))) {
		rc = bad(what, whatlen,
		    "\"ApiVersion\" or \"MinAPIVersion\" too long");
		goto out;
	}
	out->has_min = minver != NULL;
	/* Only for messages: a daemon's odd version string is cut to fit
	 * and made printable by orch_docker_errf(). */
	orch_docker_errf(out->engine, sizeof(out->engine), "%s",
	    engine != NULL && engine[0] != '\0' ? engine : "?");
	rc = ORCH_OK;
out:
	json_decref(j);
	return rc;
}

int
orch_docker_info_parse(const char *body, size_t len, double *cpu,
    int64_t *memory_mb, char *what, size_t whatlen)
{
	json_t *j = NULL, *ncpu, *mem;
	int rc;

	if ((rc = body_json(body, len, false, &j, what, whatlen)) != ORCH_OK)
		return rc;
	ncpu = json_object_get(j, "NCPU");
	mem = json_object_get(j, "MemTotal");
	if (!json_is_integer(ncpu) || json_integer_value(ncpu) <= 0 ||
	    !json_is_integer(mem) || json_integer_value(mem) <= 0) {
		rc = bad(what, whatlen,
		    "\"NCPU\" or \"MemTotal\" missing or not a positive "
		    "integer");
		goto out;
	}
	*cpu = (double)json_integer_value(ncpu);
	*memory_mb = json_integer_value(mem) / (1024 * 1024);
out:
	json_decref(j);
	return rc;
}

int
orch_docker_inspect_parse(const char *body, size_t len,
    struct orch_instance *out, struct orch_docker_inspect_extra *extra,
    char *what, size_t whatlen)
{
	json_t *j = NULL, *state, *running, *code, *labels;
	const char *id, *status, *s;
	int rc;

	memset(out, 0, sizeof(*out));
	if (extra != NULL)
		memset(extra, 0, sizeof(*extra));
	if ((rc = body_json(body, len, false, &j, what, whatlen)) != ORCH_OK)
		return rc;
	id = json_str(j, "Id");
	state = json_object_get(j, "State");
	running = json_object_get(state, "Running");
	code = json_object_get(state, "ExitCode");
	status = json_str(state, "Status");
	if (id == NULL || !orch_docker_handle_valid(id) ||
	    !json_is_boolean(running) || !json_is_integer(code) ||
	    status == NULL) {
		rc = bad(what, whatlen,
		    "\"Id\", \"State.Running\", \"State.Status\" or "
		    "\"State.ExitCode\" missing or of the wrong type");
		goto out;
	}
	labels = json_object_get(json_object_get(j, "Config"), "Labels");
	if (labels != NULL && !json_is_object(labels) &&
	    !json_is_null(labels)) {
		rc = bad(what, whatlen, "\"Config.Labels\" is not an object");
		goto out;
	}
	orch_docker_str_copy(out->handle, sizeof(out->handle), id);
	out->running = json_is_true(running);
	out->exited = !out->running &&
	    (strcmp(status, "exited") == 0 || strcmp(status, "dead") == 0);
	if (out->exited)
		out->exit_code = exit_code_of(code);
	out->started_at_ms = time_parse_ms(json_str(state, "StartedAt"));
	if (!out->running)
		out->finished_at_ms =
		    time_parse_ms(json_str(state, "FinishedAt"));
	/* Docker stamps StartedAt when its start call returns, which for a
	 * process that ends at once is after FinishedAt (the exit time from
	 * containerd): report no negative run time. */
	if (out->finished_at_ms > 0 && out->started_at_ms > out->finished_at_ms)
		out->started_at_ms = out->finished_at_ms;
	if ((s = json_str(state, "Error")) != NULL)
		orch_docker_errf(out->error, sizeof(out->error), "%s", s);
	if ((s = json_str(labels, "orch.task")) != NULL)
		orch_docker_str_copy(out->task_id, sizeof(out->task_id), s);
	if (extra != NULL) {
		orch_docker_str_copy(
		    extra->status, sizeof(extra->status), status);
		if ((s = json_str(labels, "orch.node")) != NULL)
			orch_docker_str_copy(
			    extra->node, sizeof(extra->node), s);
	}
	rc = ORCH_OK;
out:
	json_decref(j);
	return rc;
}

int
orch_docker_create_parse(const char *body, size_t len,
    char handle[ORCH_HANDLE_LEN], char *what, size_t whatlen)
{
	json_t *j = NULL;
	const char *id;
	int rc;

	handle[0] = '\0';
	if ((rc = body_json(body, len, false, &j, what, whatlen)) != ORCH_OK)
		return rc;
	if ((id = json_str(j, "Id")) == NULL || !orch_docker_handle_valid(id))
		rc = bad(what, whatlen, "no valid \"Id\"");
	else
		orch_docker_str_copy(handle, ORCH_HANDLE_LEN, id);
	json_decref(j);
	return rc;
}

/* Whether container c of a list is labelled orch.node=node. */
static bool
listed_ours(json_t *c, const char *node)
{
	const char *n = json_str(json_object_get(c, "Labels"), "orch.node");

	return n != NULL && strcmp(n, node) == 0;
}

int
orch_docker_list_parse(const char *body, size_t len, const char *node,
    struct orch_docker_listed **out, size_t *n, char *what, size_t whatlen)
{
	struct orch_docker_listed *arr = NULL;
	json_t *j = NULL, *c, *labels;
	const char *id, *st, *task;
	size_t i, cnt = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = body_json(body, len, true, &j, what, whatlen)) != ORCH_OK)
		return rc;
	/* Checked and counted before allocating: an array of "{}" would
	 * otherwise cost a whole struct per three bytes of answer. */
	json_array_foreach(j, i, c)
	{
		labels = json_object_get(c, "Labels");
		id = json_str(c, "Id");
		if (id == NULL || !orch_docker_handle_valid(id) ||
		    json_str(c, "State") == NULL ||
		    (labels != NULL && !json_is_object(labels) &&
		        !json_is_null(labels))) {
			rc = bad(what, whatlen,
			    "a container without a valid \"Id\", "
			    "\"State\" or \"Labels\"");
			goto out;
		}
		if (listed_ours(c, node))
			cnt++;
	}
	if (cnt > 0 && (arr = calloc(cnt, sizeof(*arr))) == NULL) {
		snprintf(what, whatlen, "out of memory");
		rc = ORCH_ENOMEM;
		goto out;
	}
	cnt = 0;
	json_array_foreach(j, i, c)
	{
		struct orch_docker_listed *l;

		if (!listed_ours(c, node))
			continue;
		l = &arr[cnt++];
		st = json_str(c, "State");
		orch_docker_str_copy(
		    l->handle, sizeof(l->handle), json_str(c, "Id"));
		/* The list's "Exited (3) 2 minutes ago" is text for a
		 * person; inspect has the exit code and times. */
		l->ended = strcmp(st, "exited") == 0 || strcmp(st, "dead") == 0;
		l->running = strcmp(st, "running") == 0 ||
		    strcmp(st, "paused") == 0 || strcmp(st, "restarting") == 0;
		task = json_str(json_object_get(c, "Labels"), "orch.task");
		if (task != NULL)
			orch_docker_str_copy(
			    l->task_id, sizeof(l->task_id), task);
	}
	*out = arr;
	*n = cnt;
	arr = NULL;
	rc = ORCH_OK;
out:
	free(arr);
	json_decref(j);
	return rc;
}

int
orch_docker_event_parse(const char *line, size_t len, const char *node,
    struct orch_docker_event *out, char *what, size_t whatlen)
{
	json_t *j, *actor, *attrs, *tn;
	const char *type, *action, *id, *task, *lnode, *code_s;
	char *end;
	long code;
	int rc = ORCH_ENOENT;

	memset(out, 0, sizeof(*out));
	j = line != NULL && len > 0 ? json_loadb(line, len, 0, NULL) : NULL;
	if (!json_is_object(j)) {
		snprintf(what, whatlen,
		    "a line that is not a JSON object (%zu "
		    "bytes)",
		    len);
		rc = ORCH_EPROTO;
		goto out;
	}
	type = json_str(j, "Type");
	action = json_str(j, "Action");
	if (action == NULL)
		action = json_str(j, "status");
	if ((type != NULL && strcmp(type, "container") != 0) ||
	    action == NULL || strcmp(action, "die") != 0)
		goto out;
	actor = json_object_get(j, "Actor");
	attrs = json_object_get(actor, "Attributes");
	id = json_str(actor, "ID");
	if (!json_is_object(attrs) || id == NULL ||
	    !orch_docker_handle_valid(id)) {
		rc = bad(what, whatlen, "a die event without a readable Actor");
		goto out;
	}
	task = json_str(attrs, "orch.task");
	lnode = json_str(attrs, "orch.node");
	code_s = json_str(attrs, "exitCode");
	/* The daemon filters by node already; checked again because a
	 * foreign container must never be reported as ours. */
	if (lnode == NULL || strcmp(lnode, node) != 0)
		goto out;
	if (task == NULL || !orch_id_valid(task) || code_s == NULL) {
		snprintf(what, whatlen,
		    "container %.12s died without a valid orch.task label "
		    "or exitCode",
		    id);
		rc = ORCH_EPROTO;
		goto out;
	}
	errno = 0;
	code = strtol(code_s, &end, 10);
	if (errno != 0 || end == code_s || *end != '\0' || code < INT32_MIN ||
	    code > INT32_MAX) {
		snprintf(
		    what, whatlen, "container %.12s: unreadable exitCode", id);
		rc = ORCH_EPROTO;
		goto out;
	}
	orch_docker_str_copy(out->handle, sizeof(out->handle), id);
	orch_docker_str_copy(out->task_id, sizeof(out->task_id), task);
	out->exit_code = (int)code;
	tn = json_object_get(j, "timeNano");
	if (json_is_integer(tn) && json_integer_value(tn) > 0)
		out->time_ns = json_integer_value(tn);
	rc = ORCH_OK;
out:
	json_decref(j);
	return rc;
}

bool
orch_docker_pull_error(const char *line, size_t len, char *buf, size_t buflen)
{
	json_t *j =
	    line != NULL && len > 0 ? json_loadb(line, len, 0, NULL) : NULL;
	const char *e = json_is_object(j) ? json_str(j, "error") : NULL;

	if (e != NULL)
		orch_docker_errf(
		    buf, buflen, "%s", e[0] != '\0' ? e : "(empty error)");
	json_decref(j);
	return e != NULL;
}

int
orch_docker_exec_inspect_parse(const char *body, size_t len, bool *running,
    int *exit_code, char *what, size_t whatlen)
{
	json_t *j = NULL, *r, *code;
	int rc;

	*running = false;
	*exit_code = 0;
	if ((rc = body_json(body, len, false, &j, what, whatlen)) != ORCH_OK)
		return rc;
	r = json_object_get(j, "Running");
	code = json_object_get(j, "ExitCode");
	if (!json_is_boolean(r) ||
	    (!json_is_true(r) && !json_is_integer(code))) {
		rc = bad(what, whatlen,
		    "\"Running\" or, once it ended, \"ExitCode\" missing or "
		    "of the wrong type");
		goto out;
	}
	*running = json_is_true(r);
	if (!*running)
		*exit_code = exit_code_of(code);
out:
	json_decref(j);
	return rc;
}

/* The big-endian 32-bit length of a frame header at p. */
static size_t
frame_len(const unsigned char *p)
{
	return ((size_t)p[4] << 24) | ((size_t)p[5] << 16) |
	    ((size_t)p[6] << 8) | (size_t)p[7];
}

void
orch_docker_exec_output(const char *raw, size_t len, char *buf, size_t buflen)
{
	const unsigned char *p = (const unsigned char *)raw;
	char *text;
	size_t n = 0, i = 0, start, end;

	buf[0] = '\0';
	if (raw == NULL || len == 0 || (text = malloc(len + 1)) == NULL)
		return;
	if (len >= 8 && p[0] <= 2 && p[1] == 0 && p[2] == 0 && p[3] == 0) {
		/* Frames: a header, then its payload (the last may be cut
		 * short: it gives what it has). */
		while (i + 8 <= len) {
			size_t f = frame_len(p + i);

			i += 8;
			if (f > len - i)
				f = len - i;
			memcpy(text + n, raw + i, f);
			n += f;
			i += f;
		}
	} else {
		/* Not framed (a TTY's stream): the bytes themselves. */
		memcpy(text, raw, len);
		n = len;
	}
	text[n] = '\0';
	/* The first line that says something. */
	for (start = 0; start < n; start = end + 1) {
		bool blank = true;

		for (end = start; end < n && text[end] != '\n'; end++) {
			if (text[end] != ' ' && text[end] != '\t' &&
			    text[end] != '\r' && text[end] != '\0')
				blank = false;
		}
		if (!blank) {
			text[end] = '\0';
			while (end > start &&
			    (text[end - 1] == '\r' || text[end - 1] == ' '))
				text[--end] = '\0';
			/* NULs inside become spaces, as other controls do;
			 * bytes that are not UTF-8, '?'. */
			for (size_t k = start; k < end; k++) {
				if (text[k] == '\0')
					text[k] = ' ';
			}
			orch_text_utf8_repair(text + start);
			orch_docker_errf(buf, buflen, "%s", text + start);
			break;
		}
	}
	free(text);
}

/* A binding's host address, for a check from this host: the loopback
 * address that reaches it, or NULL when it is bound elsewhere only. */
static const char *
binding_loopback(const char *ip)
{
	if (ip == NULL || ip[0] == '\0' || strcmp(ip, "0.0.0.0") == 0 ||
	    strcmp(ip, "127.0.0.1") == 0)
		return "127.0.0.1";
	if (strcmp(ip, "::") == 0 || strcmp(ip, "::1") == 0)
		return "::1";
	return NULL;
}

/* Reads a binding's HostPort ("8080"): 1 to 65535. */
static bool
host_port_parse(const char *s, unsigned *out)
{
	char *end;
	long v;

	if (s == NULL || !isdigit((unsigned char)s[0]))
		return false;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > 65535)
		return false;
	*out = (unsigned)v;
	return true;
}

int
orch_docker_port_parse(const char *body, size_t len, unsigned port,
    char host[ORCH_DOCKER_HOST_LEN], unsigned *host_port, char *what,
    size_t whatlen)
{
	json_t *j = NULL, *ports, *binds, *b;
	const char *mode, *lo, *other = NULL, *other_port = NULL;
	char key[32];
	size_t i;
	int rc;

	host[0] = '\0';
	*host_port = 0;
	if ((rc = body_json(body, len, false, &j, what, whatlen)) != ORCH_OK)
		return rc;
	mode = json_str(json_object_get(j, "HostConfig"), "NetworkMode");
	ports = json_object_get(json_object_get(j, "NetworkSettings"), "Ports");
	if (ports != NULL && !json_is_object(ports) && !json_is_null(ports)) {
		rc = bad(what, whatlen,
		    "\"NetworkSettings.Ports\" is not an object");
		goto out;
	}
	if (mode != NULL && strcmp(mode, "host") == 0) {
		/* The host's own network: the port is the host's. */
		snprintf(host, ORCH_DOCKER_HOST_LEN, "127.0.0.1");
		*host_port = port;
		goto out;
	}
	rc = ORCH_ENOENT;
	if (mode != NULL && strcmp(mode, "none") == 0) {
		snprintf(what, whatlen,
		    "the container has no network (network \"none\"): "
		    "port %u cannot be reached from the host",
		    port);
		goto out;
	}
	snprintf(key, sizeof(key), "%u/tcp", port);
	binds = json_object_get(ports, key);
	if (binds != NULL && !json_is_array(binds) && !json_is_null(binds)) {
		rc = bad(what, whatlen,
		    "a port's bindings in \"NetworkSettings.Ports\" are not "
		    "an array");
		goto out;
	}
	json_array_foreach(binds, i, b)
	{
		const char *ip = json_str(b, "HostIp");
		unsigned hp;

		if (!host_port_parse(json_str(b, "HostPort"), &hp))
			continue;
		if ((lo = binding_loopback(ip)) == NULL) {
			other = ip;
			other_port = json_str(b, "HostPort");
			continue;
		}
		/* IPv4 first: a check of "::" then "0.0.0.0" takes the
		 * latter. */
		if (host[0] == '\0' || strcmp(lo, "127.0.0.1") == 0) {
			snprintf(host, ORCH_DOCKER_HOST_LEN, "%s", lo);
			*host_port = hp;
		}
	}
	if (host[0] != '\0') {
		rc = ORCH_OK;
		goto out;
	}
	if (other != NULL)
		orch_docker_errf(what, whatlen,
		    "port %u/tcp is published only on %.64s:%.8s, not on "
		    "127.0.0.1 or 0.0.0.0; orch checks a container's port "
		    "through the host's loopback only",
		    port, other, other_port);
	else
		snprintf(what, whatlen,
		    "port %u/tcp of the container is not published on the "
		    "host; orch checks a container's port only where it is "
		    "published on 127.0.0.1 or 0.0.0.0 (or with network "
		    "\"host\"), never at the container's own address",
		    port);
out:
	json_decref(j);
	return rc;
}
