/*
 * fuzz_service_json.c: the service JSON decoders and the encoder
 * (services/service_json.c).
 *
 * Each input is decoded as a POST /services body, a PUT /services/{name}
 * body and a PUT /nodes/{id}/drain body.  A refusal must come with a
 * message that is valid UTF-8 (it goes into a JSON error body).  An
 * accepted service is encoded, dumped and read back: its fields, given
 * again as a body, must decode to the same service, and encoding that
 * must give the same JSON; its first replica must be a valid task.  An
 * accepted scale or drain must read back the same from its own encoding.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "fuzz_util.h"
#include "service.h"
#include "service_json.h"
#include "task_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ERRLEN 256

static void
check_refusal(int rc, const char *err)
{
	CHECK(rc == ORCH_EINVAL);
	CHECK(err[0] != '\0');
	CHECK(fuzz_utf8_ok(err));
}

/* The fields of a service's JSON that make a POST /services body, dumped
 * compactly (malloc'd). */
static char *
body_part_dump(json_t *svc)
{
	static const char *const keys[] = {"name", "image", "replicas",
	    "memory", "cpu", "env", "command", "constraints", "placement",
	    "restart"};
	json_t *sub = json_object();
	char *text;

	CHECK(sub != NULL);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_t *v = json_object_get(svc, keys[i]);

		CHECK(v != NULL);
		CHECK(json_object_set(sub, keys[i], v) == 0);
	}
	text = json_dumps(sub, JSON_COMPACT);
	CHECK(text != NULL);
	json_decref(sub);
	return text;
}

static void
service_round_trip(const uint8_t *data, size_t size)
{
	orch_service *svc = (orch_service *)&svc, *again = NULL;
	orch_task *replica = NULL;
	json_t *o, *reread, *o2;
	char err[ERRLEN], *text, *part, *part2;
	int rc;

	err[0] = '\0';
	rc = orch_service_from_json(
	    (const char *)data, size, &svc, err, sizeof(err));
	if (rc != ORCH_OK) {
		check_refusal(rc, err);
		CHECK(svc == NULL);
		return;
	}
	CHECK(svc != NULL && svc->spec != NULL);
	CHECK(
	    orch_service_name_validate(svc->name, err, sizeof(err)) == ORCH_OK);
	CHECK(svc->replicas <= ORCH_SERVICE_REPLICAS_MAX);
	CHECK(orch_id_valid(svc->id));
	CHECK(orch_task_spec_validate(svc->spec, err, sizeof(err)) == ORCH_OK);

	o = orch_service_to_json(svc, true);
	CHECK(o != NULL);
	text = json_dumps(o, JSON_COMPACT);
	CHECK(text != NULL);
	reread = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	CHECK(reread != NULL && json_equal(o, reread));
	CHECK(json_is_array(json_object_get(reread, "tasks")));
	CHECK(json_integer_value(json_object_get(reread, "replicas")) ==
	    (json_int_t)svc->replicas);

	/* Its own fields, sent again, are the same service. */
	part = body_part_dump(reread);
	rc = orch_service_from_json(
	    part, strlen(part), &again, err, sizeof(err));
	if (rc != ORCH_OK) {
		fprintf(stderr, "re-decoding %s: %s\n", part, err);
		CHECK(rc == ORCH_OK);
	}
	CHECK(strcmp(again->name, svc->name) == 0);
	CHECK(again->replicas == svc->replicas);
	o2 = orch_service_to_json(again, false);
	CHECK(o2 != NULL);
	part2 = body_part_dump(o2);
	CHECK(strcmp(part, part2) == 0);

	/* Its first replica is a task like any other. */
	CHECK(orch_service_task_new(svc, 1, 0, &replica) == ORCH_OK);
	CHECK(orch_task_spec_validate(replica->spec, err, sizeof(err)) ==
	    ORCH_OK);
	CHECK(replica->spec->service != NULL &&
	    strcmp(replica->spec->service, svc->name) == 0);
	json_decref(o2);
	o2 = orch_task_to_json(replica);
	CHECK(o2 != NULL);

	json_decref(o2);
	orch_task_free(replica);
	free(part2);
	orch_service_free(again);
	free(part);
	json_decref(reread);
	free(text);
	json_decref(o);
	orch_service_free(svc);
}

static void
scale_round_trip(const uint8_t *data, size_t size)
{
	uint32_t replicas = 0, again = 0;
	char err[ERRLEN], body[64];
	int rc;

	err[0] = '\0';
	rc = orch_service_scale_from_json(
	    (const char *)data, size, &replicas, err, sizeof(err));
	if (rc != ORCH_OK) {
		check_refusal(rc, err);
		return;
	}
	CHECK(replicas <= ORCH_SERVICE_REPLICAS_MAX);
	snprintf(body, sizeof(body), "{\"replicas\":%u}", (unsigned)replicas);
	CHECK(orch_service_scale_from_json(
	          body, strlen(body), &again, err, sizeof(err)) == ORCH_OK);
	CHECK(again == replicas);
}

static void
drain_round_trip(const uint8_t *data, size_t size)
{
	bool drain = false, again = false;
	char err[ERRLEN], body[32];
	int rc;

	err[0] = '\0';
	rc = orch_drain_from_json(
	    (const char *)data, size, &drain, err, sizeof(err));
	if (rc != ORCH_OK) {
		check_refusal(rc, err);
		return;
	}
	snprintf(
	    body, sizeof(body), "{\"drain\":%s}", drain ? "true" : "false");
	CHECK(orch_drain_from_json(
	          body, strlen(body), &again, err, sizeof(err)) == ORCH_OK);
	CHECK(again == drain);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	service_round_trip(data, size);
	scale_round_trip(data, size);
	drain_round_trip(data, size);
	return 0;
}
