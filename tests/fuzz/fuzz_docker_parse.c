/*
 * fuzz_docker_parse.c: the agent's reading of Docker Engine API answers
 * (agent/docker_parse.c), and of its error bodies
 * (orch_docker_answer_message in agent/docker_client.c).
 *
 * Each input is read as every answer the driver parses: /version, /info,
 * a container's inspect (and the port bindings a health check reads in
 * it), a create, a container list, an event line, a pull progress line,
 * an exec's inspect and output, and an error body.  Beyond not crashing, a
 * refusal must say why, and an acceptance must hold to what docker.c relies on:
 * handles that can go into a URL, strings NUL-terminated inside their
 * buffers, only the node's own containers listed, times that make sense,
 * messages that are printable UTF-8 (they reach logs and JSON).
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "docker_client.h"
#include "docker_parse.h"
#include "error.h"
#include "fuzz_util.h"
#include "task.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NODE "n1"

/* s ends within its buffer of len bytes. */
static bool
terminated(const char *s, size_t len)
{
	return memchr(s, '\0', len) != NULL;
}

/* A message for a person: non-empty when required, valid UTF-8, without
 * control characters. */
static bool
message_ok(const char *s, size_t len, bool nonempty)
{
	if (!terminated(s, len) || (nonempty && s[0] == '\0'))
		return false;
	for (const char *p = s; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
	}
	return fuzz_utf8_ok(s);
}

/* What every refusal must give: a reason. */
static void
check_refusal(int rc, const char *what, size_t len)
{
	CHECK(rc == ORCH_EPROTO);
	CHECK(terminated(what, len) && what[0] != '\0');
}

static void
check_version(const char *b, size_t n)
{
	struct orch_docker_version v;
	char what[256];
	int rc = orch_docker_version_parse(b, n, &v, what, sizeof(what));

	if (rc != ORCH_OK) {
		check_refusal(rc, what, sizeof(what));
		return;
	}
	CHECK(v.api_minor >= 0 && v.api_minor <= 1000);
	CHECK(v.min_api_minor >= 0 && v.min_api_minor <= 1000);
	CHECK(v.has_min || v.min_api_minor == 12);
	CHECK(terminated(v.api, sizeof(v.api)) && strncmp(v.api, "1.", 2) == 0);
	CHECK(terminated(v.min_api, sizeof(v.min_api)));
	CHECK(v.has_min == (v.min_api[0] != '\0'));
	CHECK(message_ok(v.engine, sizeof(v.engine), true));
}

static void
check_info(const char *b, size_t n)
{
	double cpu = -1;
	int64_t mem = -1;
	char what[256];
	int rc = orch_docker_info_parse(b, n, &cpu, &mem, what, sizeof(what));

	if (rc != ORCH_OK) {
		check_refusal(rc, what, sizeof(what));
		return;
	}
	CHECK(cpu >= 1 && mem >= 0);
}

static void
check_instance(const struct orch_instance *in)
{
	CHECK(orch_docker_handle_valid(in->handle));
	CHECK(terminated(in->task_id, sizeof(in->task_id)));
	CHECK(!(in->running && in->exited));
	CHECK(in->exited || in->exit_code == 0);
	CHECK(in->started_at_ms >= 0 && in->finished_at_ms >= 0);
	CHECK(!in->running || in->finished_at_ms == 0);
	CHECK(
	    in->finished_at_ms == 0 || in->started_at_ms <= in->finished_at_ms);
	CHECK(message_ok(in->error, sizeof(in->error), false));
}

static void
check_inspect(const char *b, size_t n)
{
	struct orch_instance in, again;
	struct orch_docker_inspect_extra ex;
	char what[256];
	int rc = orch_docker_inspect_parse(b, n, &in, &ex, what, sizeof(what));

	if (rc != ORCH_OK) {
		check_refusal(rc, what, sizeof(what));
		return;
	}
	check_instance(&in);
	CHECK(terminated(ex.node, sizeof(ex.node)));
	CHECK(terminated(ex.status, sizeof(ex.status)));
	/* The extra part is optional and changes nothing else. */
	CHECK(orch_docker_inspect_parse(
	          b, n, &again, NULL, what, sizeof(what)) == ORCH_OK);
	CHECK(memcmp(&in, &again, sizeof(in)) == 0);
}

static void
check_create(const char *b, size_t n)
{
	char handle[ORCH_HANDLE_LEN], what[256];
	int rc = orch_docker_create_parse(b, n, handle, what, sizeof(what));

	if (rc != ORCH_OK) {
		check_refusal(rc, what, sizeof(what));
		CHECK(handle[0] == '\0');
		return;
	}
	CHECK(orch_docker_handle_valid(handle));
}

/* The containers of b whose orch.node label is NODE, counted with jansson
 * on its own, for comparison. */
static size_t
count_ours(const char *b, size_t n)
{
	json_t *j = json_loadb(b, n, 0, NULL), *c;
	size_t i, cnt = 0;

	json_array_foreach(j, i, c)
	{
		json_t *v =
		    json_object_get(json_object_get(c, "Labels"), "orch.node");

		if (json_is_string(v) &&
		    json_string_length(v) == strlen(NODE) &&
		    strcmp(json_string_value(v), NODE) == 0)
			cnt++;
	}
	json_decref(j);
	return cnt;
}

static void
check_list(const char *b, size_t n)
{
	struct orch_docker_listed *l = (struct orch_docker_listed *)&l;
	size_t cnt = (size_t)-1;
	char what[256];
	int rc =
	    orch_docker_list_parse(b, n, NODE, &l, &cnt, what, sizeof(what));

	if (rc != ORCH_OK) {
		check_refusal(rc, what, sizeof(what));
		CHECK(l == NULL && cnt == 0);
		return;
	}
	CHECK(cnt == count_ours(b, n));
	CHECK((cnt == 0) == (l == NULL));
	for (size_t i = 0; i < cnt; i++) {
		CHECK(orch_docker_handle_valid(l[i].handle));
		CHECK(terminated(l[i].task_id, sizeof(l[i].task_id)));
		CHECK(!(l[i].running && l[i].ended));
	}
	free(l);
}

static void
check_event(const char *b, size_t n)
{
	struct orch_docker_event ev;
	char what[256];
	int rc = orch_docker_event_parse(b, n, NODE, &ev, what, sizeof(what));

	if (rc == ORCH_ENOENT)
		return;
	if (rc != ORCH_OK) {
		check_refusal(rc, what, sizeof(what));
		CHECK(message_ok(what, sizeof(what), true));
		return;
	}
	CHECK(orch_docker_handle_valid(ev.handle));
	CHECK(orch_id_valid(ev.task_id));
	CHECK(ev.time_ns >= 0);
}

static void
check_pull(const char *b, size_t n)
{
	char msg[512];

	msg[0] = '\0';
	if (orch_docker_pull_error(b, n, msg, sizeof(msg)))
		CHECK(message_ok(msg, sizeof(msg), true));
	else
		CHECK(msg[0] == '\0');
}

static void
check_error_body(const char *b, size_t n)
{
	struct orch_docker_answer ans = {
	    .status = 500, .body = (char *)b, .len = n};
	char msg[512];

	orch_docker_answer_message(&ans, msg, sizeof(msg));
	CHECK(message_ok(msg, sizeof(msg), true));
}

/* Health checks: a port is reached only through loopback, and an
 * unreachable one says why. */
static void
check_port(const char *b, size_t n)
{
	char host[ORCH_DOCKER_HOST_LEN], what[512];
	unsigned hp = 0;
	int rc =
	    orch_docker_port_parse(b, n, 80, host, &hp, what, sizeof(what));

	if (rc == ORCH_OK) {
		CHECK(
		    strcmp(host, "127.0.0.1") == 0 || strcmp(host, "::1") == 0);
		CHECK(hp >= 1 && hp <= 65535);
	} else if (rc == ORCH_ENOENT) {
		CHECK(message_ok(what, sizeof(what), true));
	} else {
		check_refusal(rc, what, sizeof(what));
	}
}

static void
check_exec(const char *b, size_t n)
{
	char what[256], out[128];
	bool running;
	int code;
	int rc = orch_docker_exec_inspect_parse(
	    b, n, &running, &code, what, sizeof(what));

	if (rc != ORCH_OK)
		check_refusal(rc, what, sizeof(what));
	else
		CHECK(!running || code == 0);
	orch_docker_exec_output(b, n, out, sizeof(out));
	CHECK(message_ok(out, sizeof(out), false));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A NUL-terminated copy, as docker_client.c hands bodies over (and
	 * stream lines, whose end is also cut at the NUL). */
	char *b = malloc(size + 1);

	CHECK(b != NULL);
	if (size > 0)
		memcpy(b, data, size);
	b[size] = '\0';
	check_version(b, size);
	check_info(b, size);
	check_inspect(b, size);
	check_create(b, size);
	check_list(b, size);
	check_event(b, size);
	check_pull(b, size);
	check_error_body(b, size);
	check_port(b, size);
	check_exec(b, size);
	free(b);
	return 0;
}
