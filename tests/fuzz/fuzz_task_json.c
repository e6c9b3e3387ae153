/*
 * fuzz_task_json.c: the task JSON decoders and the encoder
 * (services/task_json.c).
 *
 * Each input is decoded both as a POST /tasks body and as a status report.
 * A refusal must come with a message that is valid UTF-8 (it goes into a
 * JSON error body).  An accepted spec is turned into a task, encoded,
 * dumped and decoded again: the spec must come back the same, and encoding
 * that must give the same JSON.  An accepted report is written back as
 * JSON and must decode to the same report, then applied to tasks in each
 * status without breaking the life cycle rules.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "fuzz_util.h"
#include "task_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ERRLEN 256

static bool
str_same(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* a, as given by the client, and b, decoded from a's task JSON, agree. */
static void
spec_same(const orch_task_spec *a, const orch_task_spec *b)
{
	CHECK(str_same(a->name, b->name));
	CHECK(str_same(a->image, b->image));
	CHECK(b->has_memory_mb && b->memory_mb == a->memory_mb);
	/* Reals are dumped with 17 digits, which read back exactly. */
	CHECK(b->has_cpu && b->cpu == a->cpu);
	CHECK(a->n_env == b->n_env);
	for (size_t i = 0; i < a->n_env; i++) {
		CHECK(str_same(a->env[i]->key, b->env[i]->key));
		CHECK(str_same(a->env[i]->value, b->env[i]->value));
	}
	CHECK(a->n_command == b->n_command);
	for (size_t i = 0; i < a->n_command; i++)
		CHECK(str_same(a->command[i], b->command[i]));
	CHECK(a->n_constraints == b->n_constraints);
	for (size_t i = 0; i < a->n_constraints; i++)
		CHECK(str_same(a->constraints[i], b->constraints[i]));
	CHECK(str_same(a->placement, b->placement));
	CHECK(str_same(a->restart, b->restart));
	/* Container settings: absent reads back as Docker's default. */
	CHECK((a->has_privileged && a->privileged) ==
	    (b->has_privileged && b->privileged));
	CHECK(a->n_volumes == b->n_volumes);
	for (size_t i = 0; i < a->n_volumes; i++)
		CHECK(str_same(a->volumes[i], b->volumes[i]));
	CHECK(str_same(a->network != NULL ? a->network : "bridge", b->network));
	CHECK(a->n_cap_add == b->n_cap_add);
	for (size_t i = 0; i < a->n_cap_add; i++)
		CHECK(str_same(a->cap_add[i], b->cap_add[i]));
	/* The check, shown as "healthcheck", given back as "health". */
	CHECK((a->health == NULL) == (b->health == NULL));
	if (a->health != NULL) {
		CHECK(str_same(a->health->type, b->health->type));
		CHECK(a->health->n_command == b->health->n_command);
		for (size_t i = 0; i < a->health->n_command; i++)
			CHECK(str_same(
			    a->health->command[i], b->health->command[i]));
		CHECK(a->health->port == b->health->port);
		CHECK(str_same(a->health->path, b->health->path));
		CHECK(a->health->interval_s == b->health->interval_s);
		CHECK(a->health->timeout_s == b->health->timeout_s);
		CHECK(a->health->retries == b->health->retries);
		CHECK(a->health->start_period_s == b->health->start_period_s);
	}
}

/* The spec's part of a task's JSON, as a POST /tasks body (malloc'd). */
static char *
spec_part_dump(json_t *task)
{
	json_t *sub = json_pack(
	    "{s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:O}", "name",
	    json_object_get(task, "name"), "image",
	    json_object_get(task, "image"), "memory",
	    json_object_get(task, "memory"), "cpu",
	    json_object_get(task, "cpu"), "env", json_object_get(task, "env"),
	    "command", json_object_get(task, "command"), "constraints",
	    json_object_get(task, "constraints"), "placement",
	    json_object_get(task, "placement"), "restart",
	    json_object_get(task, "restart"), "privileged",
	    json_object_get(task, "privileged"), "volumes",
	    json_object_get(task, "volumes"), "network",
	    json_object_get(task, "network"), "cap_add",
	    json_object_get(task, "cap_add"), "health",
	    json_object_get(task, "healthcheck"));
	char *text;

	CHECK(sub != NULL);
	text = json_dumps(sub, JSON_COMPACT);
	CHECK(text != NULL);
	json_decref(sub);
	return text;
}

static void
spec_round_trip(const uint8_t *data, size_t size)
{
	orch_task_spec *spec = (orch_task_spec *)&spec, *again = NULL;
	orch_task *t = NULL, *t2 = NULL;
	json_t *o, *o2, *reread;
	char err[ERRLEN], *text, *part, *part2;
	int rc;

	err[0] = '\0';
	rc = orch_task_spec_from_json(
	    (const char *)data, size, &spec, err, sizeof(err));
	if (rc != ORCH_OK) {
		CHECK(rc == ORCH_EINVAL);
		CHECK(spec == NULL);
		CHECK(err[0] != '\0');
		CHECK(fuzz_utf8_ok(err));
		return;
	}
	CHECK(spec != NULL);
	CHECK(orch_task_spec_validate(spec, err, sizeof(err)) == ORCH_OK);
	CHECK(orch_task_new(spec, &t) == ORCH_OK);

	o = orch_task_to_json(t);
	CHECK(o != NULL);
	text = json_dumps(o, JSON_COMPACT);
	CHECK(text != NULL);
	reread = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	CHECK(reread != NULL);
	CHECK(json_equal(o, reread));
	CHECK(json_is_string(json_object_get(reread, "id")));
	CHECK(orch_id_valid(json_string_value(json_object_get(reread, "id"))));
	CHECK(json_is_integer(json_object_get(reread, "memory")));
	CHECK(json_is_real(json_object_get(reread, "cpu")));
	CHECK(json_is_null(json_object_get(reread, "exit_code")));
	CHECK(str_same(
	    json_string_value(json_object_get(reread, "status")), "Pending"));

	/* The spec fields of the output are a valid body for the same spec. */
	part = spec_part_dump(reread);
	rc = orch_task_spec_from_json(
	    part, strlen(part), &again, err, sizeof(err));
	if (rc != ORCH_OK) {
		fprintf(stderr, "re-decoding %s: %s\n", part, err);
		CHECK(rc == ORCH_OK);
	}
	spec_same(t->spec, again);

	/* And it encodes to the same spec fields: the trip is stable. */
	CHECK(orch_task_new(again, &t2) == ORCH_OK);
	o2 = orch_task_to_json(t2);
	CHECK(o2 != NULL);
	part2 = spec_part_dump(o2);
	CHECK(strcmp(part, part2) == 0);

	free(part2);
	json_decref(o2);
	orch_task_free(t2);
	free(part);
	json_decref(reread);
	free(text);
	json_decref(o);
	orch_task_free(t);
}

/* A new task driven to status through legal reports. */
static orch_task *
task_at(int status)
{
	static const char body[] = "{\"name\":\"f\",\"image\":\"i\"}";
	orch_task_spec *spec = NULL;
	orch_task *t = NULL;
	struct orch_task_update u = {0};
	char err[ERRLEN];

	CHECK(orch_task_spec_from_json(
	          body, sizeof(body) - 1, &spec, err, sizeof(err)) == ORCH_OK);
	CHECK(orch_task_new(spec, &t) == ORCH_OK);
	if (status != ORCH__TASK_STATUS__TASK_STATUS_PENDING) {
		u.status = status;
		u.container_id = "seed";
		CHECK(orch_task_apply_update(t, &u, 1, err, sizeof(err)) ==
		    ORCH_OK);
	}
	return t;
}

/* Applies u to a task in each status and checks the life cycle rules. */
static void
update_apply_all(const struct orch_task_update *u)
{
	char err[ERRLEN];

	for (int st = ORCH__TASK_STATUS__TASK_STATUS_PENDING;
	     st <= ORCH__TASK_STATUS__TASK_STATUS_STOPPED; st++) {
		orch_task *t = task_at(st);
		int rc = orch_task_apply_update(t, u, 2, err, sizeof(err));
		json_t *o;

		if (rc == ORCH_OK) {
			CHECK((int)t->status == u->status);
			if (!orch_task_status_terminal(st)) {
				CHECK(!orch_task_status_terminal(u->status) ||
				    t->has_finished_at_ms);
				CHECK(u->container_id == NULL ||
				    str_same(t->container_id, u->container_id));
				CHECK(!u->has_exit_code ||
				    (t->has_exit_code &&
				        t->exit_code == u->exit_code));
			}
		} else {
			CHECK(rc == ORCH_ECONFLICT);
			CHECK((int)t->status == st);
			CHECK(fuzz_utf8_ok(err));
		}
		o = orch_task_to_json(t);
		CHECK(o != NULL);
		json_decref(o);
		orch_task_free(t);
	}
}

static void
update_round_trip(const uint8_t *data, size_t size)
{
	struct orch_task_update u, u2;
	json_t *root = (json_t *)&root, *root2 = NULL, *o;
	char err[ERRLEN], *text;
	int rc;

	err[0] = '\0';
	rc = orch_task_update_from_json(
	    (const char *)data, size, &u, &root, err, sizeof(err));
	if (rc != ORCH_OK) {
		CHECK(rc == ORCH_EINVAL);
		CHECK(root == NULL);
		CHECK(err[0] != '\0');
		CHECK(fuzz_utf8_ok(err));
		return;
	}
	CHECK(root != NULL);
	CHECK(orch_task_status_name(u.status) != NULL);

	/* Written back as JSON it reads as the same report. */
	o = json_pack("{s:s,s:s?,s:s?}", "status",
	    orch_task_status_name(u.status), "container_id", u.container_id,
	    "error", u.error);
	CHECK(o != NULL);
	if (u.has_exit_code)
		CHECK(json_object_set_new(
		          o, "exit_code", json_integer(u.exit_code)) == 0);
	text = json_dumps(o, JSON_COMPACT);
	CHECK(text != NULL);
	CHECK(orch_task_update_from_json(text, strlen(text), &u2, &root2, err,
	          sizeof(err)) == ORCH_OK);
	CHECK(u2.status == u.status);
	CHECK(str_same(u2.container_id, u.container_id));
	CHECK(str_same(u2.error, u.error));
	CHECK(u2.has_exit_code == u.has_exit_code);
	CHECK(!u.has_exit_code || u2.exit_code == u.exit_code);

	update_apply_all(&u);

	json_decref(root2);
	free(text);
	json_decref(o);
	json_decref(root);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	spec_round_trip(data, size);
	update_round_trip(data, size);
	return 0;
}
