/*
 * test_health.c: health checks, the model (services/common/health.c) and
 * their JSON (services/task_json.c, service_json.c): every bad check is
 * refused naming its field, the defaults are stored, the check and the
 * state come back out under their own names, reports move the state, and
 * the state machine counts failures as documented.
 */
#include "harness.h"

#include "error.h"
#include "health.h"
#include "policy.h"
#include "service_json.h"
#include "task_json.h"

#define ERRLEN 512
#define STARTING ORCH__HEALTH_STATUS__HEALTH_STATUS_STARTING
#define HEALTHY ORCH__HEALTH_STATUS__HEALTH_STATUS_HEALTHY
#define UNHEALTHY ORCH__HEALTH_STATUS__HEALTH_STATUS_UNHEALTHY
#define RUNNING ORCH__TASK_STATUS__TASK_STATUS_RUNNING
#define FAILED ORCH__TASK_STATUS__TASK_STATUS_FAILED

/* A POST /tasks body: a docker task with health check check (JSON). */
static char *
body_with(const char *check)
{
	static char buf[4096];

	snprintf(buf, sizeof(buf),
	    "{\"name\":\"web\",\"image\":\"busybox\",\"health\":%s}", check);
	return buf;
}

static orch_task_spec *
spec_ok(const char *body)
{
	char err[ERRLEN] = "";
	orch_task_spec *s = NULL;

	if (orch_task_spec_from_json(
	        body, strlen(body), &s, err, sizeof(err)) != ORCH_OK)
		h_fail(__FILE__, __LINE__, "body %s refused: %s", body, err);
	ASSERT(s != NULL);
	return s;
}

/* Asserts that the check is refused (as a task's and as a service's)
 * with a message holding want. */
static void
check_refused(const char *check, const char *want)
{
	char err[ERRLEN] = "", svc[4096];
	orch_task_spec *s = NULL;
	orch_service *sv = NULL;
	const char *body = body_with(check);
	int rc =
	    orch_task_spec_from_json(body, strlen(body), &s, err, sizeof(err));

	if (rc != ORCH_EINVAL || s != NULL || strstr(err, want) == NULL)
		h_fail(__FILE__, __LINE__,
		    "check %s: rc %d, error \"%s\", wanted \"%s\"", check, rc,
		    err, want);
	snprintf(svc, sizeof(svc),
	    "{\"name\":\"web\",\"image\":\"busybox\",\"replicas\":2,"
	    "\"health\":%s}",
	    check);
	err[0] = '\0';
	rc = orch_service_from_json(svc, strlen(svc), &sv, err, sizeof(err));
	if (rc != ORCH_EINVAL || sv != NULL || strstr(err, want) == NULL)
		h_fail(__FILE__, __LINE__,
		    "service check %s: rc %d, error \"%s\", wanted \"%s\"",
		    check, rc, err, want);
}

static void
test_decode_valid(void)
{
	orch_task_spec *s;

	s = spec_ok(body_with("{\"type\":\"http\",\"port\":8080,"
	                      "\"path\":\"/healthz?full=1\",\"interval_s\":1,"
	                      "\"timeout_s\":2,\"retries\":4,"
	                      "\"start_period_s\":30}"));
	ASSERT(s->health != NULL);
	ASSERT_STR_EQ(s->health->type, "http");
	ASSERT(s->health->has_port);
	ASSERT_INT_EQ(s->health->port, 8080);
	ASSERT_STR_EQ(s->health->path, "/healthz?full=1");
	ASSERT_INT_EQ(s->health->interval_s, 1);
	ASSERT_INT_EQ(s->health->timeout_s, 2);
	ASSERT_INT_EQ(s->health->retries, 4);
	ASSERT_INT_EQ(s->health->start_period_s, 30);
	orch_task_spec_free(s);

	/* Omitted fields read as the documented defaults. */
	s = spec_ok(body_with("{\"type\":\"tcp\",\"port\":5432}"));
	ASSERT_INT_EQ(s->health->interval_s, 10);
	ASSERT_INT_EQ(s->health->timeout_s, 5);
	ASSERT_INT_EQ(s->health->retries, 3);
	ASSERT_INT_EQ(s->health->start_period_s, 0);
	ASSERT(!s->health->has_interval_s);
	ASSERT(s->health->path == NULL);
	orch_task_spec_free(s);

	s = spec_ok(
	    body_with("{\"type\":\"exec\",\"command\":[\"pg_isready\",\"-q\"],"
	              "\"start_period_s\":0,\"port\":null,\"path\":null}"));
	ASSERT_STR_EQ(s->health->type, "exec");
	ASSERT_INT_EQ(s->health->n_command, 2);
	ASSERT_STR_EQ(s->health->command[1], "-q");
	ASSERT(!s->health->has_port);
	orch_task_spec_free(s);

	/* null is no check at all. */
	s = spec_ok(body_with("null"));
	ASSERT(s->health == NULL);
	orch_task_spec_free(s);

	/* Edges of every range. */
	s = spec_ok(body_with("{\"type\":\"tcp\",\"port\":65535,"
	                      "\"interval_s\":3600,\"timeout_s\":300,"
	                      "\"retries\":100,\"start_period_s\":3600}"));
	orch_task_spec_free(s);
	s = spec_ok(body_with("{\"type\":\"tcp\",\"port\":1,\"interval_s\":1,"
	                      "\"timeout_s\":1,\"retries\":1}"));
	orch_task_spec_free(s);
}

static void
test_decode_refused(void)
{
	static const struct {
		const char *check, *want;
	} bad[] = {
	    {"1", "field \"health\" must be an object"},
	    {"[]", "field \"health\" must be an object"},
	    {"\"http\"", "field \"health\" must be an object"},
	    {"{}", "field \"health.type\" is required"},
	    {"{\"port\":80}", "field \"health.type\" is required"},
	    {"{\"type\":\"\"}", "field \"health.type\" is required"},
	    {"{\"type\":1}", "field \"health.type\" must be a string"},
	    {"{\"type\":\"HTTP\",\"port\":80}",
	        "field \"health.type\" must be \"exec\", \"http\" or \"tcp\", "
	        "not \"HTTP\""},
	    {"{\"type\":\"grpc\",\"port\":80}", "not \"grpc\""},
	    {"{\"type\":\"http\",\"port\":80,\"intervall_s\":1}",
	        "unknown field \"health.intervall_s\""},
	    {"{\"type\":\"http\",\"port\":80,\"interval\":1}",
	        "unknown field \"health.interval\""},
	    {"{\"type\":\"exec\"}",
	        "field \"health.command\" is required with type \"exec\""},
	    {"{\"type\":\"exec\",\"command\":[]}",
	        "field \"health.command\" is required"},
	    {"{\"type\":\"exec\",\"command\":[\"\"]}",
	        "field \"health.command\" is required"},
	    {"{\"type\":\"exec\",\"command\":\"true\"}",
	        "field \"health.command\" must be an array of strings"},
	    {"{\"type\":\"exec\",\"command\":[1]}",
	        "field \"health.command\": entry 0 must be a string"},
	    {"{\"type\":\"exec\",\"command\":[\"a\\u0000b\"]}",
	        "field \"health.command\": entry 0"},
	    {"{\"type\":\"exec\",\"command\":[\"true\"],\"port\":80}",
	        "field \"health.port\" is for types \"http\" and \"tcp\""},
	    {"{\"type\":\"exec\",\"command\":[\"true\"],\"path\":\"/\"}",
	        "field \"health.path\" is for type \"http\" only"},
	    {"{\"type\":\"tcp\",\"port\":80,\"path\":\"/\"}",
	        "field \"health.path\" is for type \"http\" only"},
	    {"{\"type\":\"http\",\"port\":80,\"command\":[\"x\"]}",
	        "field \"health.command\" is for type \"exec\" only"},
	    {"{\"type\":\"http\"}",
	        "field \"health.port\" is required with type \"http\""},
	    {"{\"type\":\"tcp\",\"port\":null}",
	        "field \"health.port\" is required with type \"tcp\""},
	    {"{\"type\":\"tcp\",\"port\":0}",
	        "field \"health.port\" must be an integer from 1 to 65535"},
	    {"{\"type\":\"tcp\",\"port\":65536}", "field \"health.port\""},
	    {"{\"type\":\"tcp\",\"port\":-1}", "field \"health.port\""},
	    {"{\"type\":\"tcp\",\"port\":4294967377}",
	        "field \"health.port\" must be an integer from 1 to 65535"},
	    {"{\"type\":\"tcp\",\"port\":80.0}",
	        "field \"health.port\" must be an integer"},
	    {"{\"type\":\"tcp\",\"port\":\"80\"}",
	        "field \"health.port\" must be an integer"},
	    {"{\"type\":\"http\",\"port\":80,\"path\":\"healthz\"}",
	        "field \"health.path\" must start with '/'"},
	    {"{\"type\":\"http\",\"port\":80,\"path\":\"\"}",
	        "field \"health.path\" must start with '/'"},
	    {"{\"type\":\"http\",\"port\":80,\"path\":\"/a b\"}",
	        "field \"health.path\" must be printable ASCII without "
	        "spaces"},
	    {"{\"type\":\"http\",\"port\":80,\"path\":\"/\\u00e9\"}",
	        "field \"health.path\" must be printable ASCII"},
	    {"{\"type\":\"http\",\"port\":80,\"path\":\"/\\n\"}",
	        "field \"health.path\""},
	    {"{\"type\":\"http\",\"port\":80,\"path\":7}",
	        "field \"health.path\" must be a string"},
	    {"{\"type\":\"tcp\",\"port\":80,\"interval_s\":0}",
	        "field \"health.interval_s\" must be an integer from 1 to "
	        "3600"},
	    {"{\"type\":\"tcp\",\"port\":80,\"interval_s\":3601}",
	        "field \"health.interval_s\""},
	    {"{\"type\":\"tcp\",\"port\":80,\"interval_s\":0.5}",
	        "field \"health.interval_s\" must be an integer"},
	    {"{\"type\":\"tcp\",\"port\":80,\"timeout_s\":0}",
	        "field \"health.timeout_s\" must be an integer from 1 to 300"},
	    {"{\"type\":\"tcp\",\"port\":80,\"timeout_s\":301}",
	        "field \"health.timeout_s\""},
	    {"{\"type\":\"tcp\",\"port\":80,\"retries\":0}",
	        "field \"health.retries\" must be an integer from 1 to 100"},
	    {"{\"type\":\"tcp\",\"port\":80,\"retries\":101}",
	        "field \"health.retries\""},
	    {"{\"type\":\"tcp\",\"port\":80,\"retries\":true}",
	        "field \"health.retries\" must be an integer"},
	    {"{\"type\":\"tcp\",\"port\":80,\"start_period_s\":-1}",
	        "field \"health.start_period_s\" must be an integer from 0 "
	        "to 3600"},
	    {"{\"type\":\"tcp\",\"port\":80,\"start_period_s\":3601}",
	        "field \"health.start_period_s\""},
	    {"{\"type\":\"tcp\",\"port\":80,\"type\":\"http\"}",
	        "duplicate object key"},
	};
	char path[ORCH_HEALTH_PATH_MAX + 64];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_refused(bad[i].check, bad[i].want);

	/* A path one byte past the limit. */
	{
		char long_path[ORCH_HEALTH_PATH_MAX + 1];

		memset(long_path, 'a', sizeof(long_path) - 1);
		long_path[0] = '/';
		long_path[sizeof(long_path) - 1] = '\0';
		snprintf(path, sizeof(path),
		    "{\"type\":\"http\",\"port\":80,\"path\":\"%sa\"}",
		    long_path);
	}
	check_refused(path, "at most 1024 bytes");
}

/* The stored task carries the defaults; the output shows the state under
 * "health" and the check under "healthcheck"; a service shows its
 * check. */
static void
test_defaults_and_encode(void)
{
	orch_task_spec *s =
	    spec_ok(body_with("{\"type\":\"http\",\"port\":80}"));
	orch_service *sv = NULL;
	orch_task *t = NULL;
	json_t *o, *hc;
	char err[ERRLEN], *text;
	const char *svc = "{\"name\":\"w\",\"image\":\"i\",\"health\":"
	                  "{\"type\":\"exec\",\"command\":[\"true\"]}}";

	ASSERT_INT_EQ(orch_task_new(s, &t), ORCH_OK);
	ASSERT(t->spec->health->has_interval_s);
	ASSERT(t->spec->health->has_timeout_s);
	ASSERT(t->spec->health->has_retries);
	ASSERT(t->spec->health->has_start_period_s);
	ASSERT_STR_EQ(t->spec->health->path, "/");
	ASSERT(!t->has_health);

	o = orch_task_to_json(t);
	ASSERT(o != NULL);
	ASSERT(json_is_null(json_object_get(o, "health")));
	hc = json_object_get(o, "healthcheck");
	text = json_dumps(hc, JSON_COMPACT);
	ASSERT_STR_EQ(text,
	    "{\"type\":\"http\",\"port\":80,\"path\":\"/\",\"interval_s\":10,"
	    "\"timeout_s\":5,\"retries\":3,\"start_period_s\":0}");
	free(text);
	json_decref(o);

	t->has_health = true;
	t->health = HEALTHY;
	o = orch_task_to_json(t);
	ASSERT_STR_EQ(
	    json_string_value(json_object_get(o, "health")), "healthy");
	json_decref(o);
	orch_task_free(t);

	/* A task without a check: both null. */
	s = spec_ok("{\"name\":\"n\",\"image\":\"i\"}");
	ASSERT_INT_EQ(orch_task_new(s, &t), ORCH_OK);
	o = orch_task_to_json(t);
	ASSERT(json_is_null(json_object_get(o, "health")));
	ASSERT(json_is_null(json_object_get(o, "healthcheck")));
	json_decref(o);
	orch_task_free(t);

	ASSERT_INT_EQ(
	    orch_service_from_json(svc, strlen(svc), &sv, err, sizeof(err)),
	    ORCH_OK);
	o = orch_service_to_json(sv, false);
	text = json_dumps(json_object_get(o, "healthcheck"), JSON_COMPACT);
	ASSERT_STR_EQ(text,
	    "{\"type\":\"exec\",\"command\":[\"true\"],\"interval_s\":10,"
	    "\"timeout_s\":5,\"retries\":3,\"start_period_s\":0}");
	free(text);
	json_decref(o);
	orch_service_free(sv);
}

/* PUT /tasks/{id}/status reads "health". */
static void
test_update_decode(void)
{
	struct orch_task_update u;
	json_t *root = NULL;
	char err[ERRLEN];
	const char *ok = "{\"status\":\"Running\",\"container_id\":null,"
	                 "\"health\":\"healthy\"}";
	const char *bad = "{\"status\":\"Running\",\"health\":\"sick\"}";
	const char *num = "{\"status\":\"Running\",\"health\":2}";

	ASSERT_INT_EQ(orch_task_update_from_json(
	                  ok, strlen(ok), &u, &root, err, sizeof(err)),
	    ORCH_OK);
	ASSERT_INT_EQ(u.health, HEALTHY);
	json_decref(root);
	ASSERT_INT_EQ(orch_task_update_from_json(
	                  bad, strlen(bad), &u, &root, err, sizeof(err)),
	    ORCH_EINVAL);
	ASSERT_STR_CONTAINS(err,
	    "field \"health\" must be starting, healthy or unhealthy, not "
	    "\"sick\"");
	ASSERT_INT_EQ(orch_task_update_from_json(
	                  num, strlen(num), &u, &root, err, sizeof(err)),
	    ORCH_EINVAL);
	ASSERT_STR_CONTAINS(err, "field \"health\" must be a string");
}

/* Reports move a task's health: starting at its first Running, then
 * what its node says; an unhealthy end is Failed and stays so. */
static void
test_apply_update(void)
{
	orch_task_spec *s =
	    spec_ok(body_with("{\"type\":\"tcp\",\"port\":80}"));
	orch_task *t = NULL, *plain = NULL;
	struct orch_task_update u = {.status = RUNNING, .container_id = "c1"};
	char err[ERRLEN];

	ASSERT_INT_EQ(orch_task_new(s, &t), ORCH_OK);
	ASSERT_INT_EQ(
	    orch_task_apply_update(t, &u, 1000, err, sizeof(err)), ORCH_OK);
	ASSERT(t->has_health);
	ASSERT_INT_EQ(t->health, STARTING);

	u.health = HEALTHY;
	ASSERT_INT_EQ(
	    orch_task_apply_update(t, &u, 2000, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(t->health, HEALTHY);
	/* A later Running without health keeps it. */
	u.health = 0;
	ASSERT_INT_EQ(
	    orch_task_apply_update(t, &u, 2500, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(t->health, HEALTHY);

	u.status = FAILED;
	u.health = UNHEALTHY;
	u.error = "health check failed 3 times: tcp :80 -> refused";
	ASSERT_INT_EQ(
	    orch_task_apply_update(t, &u, 3000, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(t->status, FAILED);
	ASSERT_INT_EQ(t->health, UNHEALTHY);
	ASSERT_STR_EQ(t->error, u.error);
	/* Final: a repeat changes nothing, a recovery is refused. */
	u.status = RUNNING;
	u.health = HEALTHY;
	ASSERT_INT_EQ(orch_task_apply_update(t, &u, 4000, err, sizeof(err)),
	    ORCH_ECONFLICT);
	ASSERT_INT_EQ(t->health, UNHEALTHY);

	/* Health for a task without a check, or out of range: refused. */
	s = spec_ok("{\"name\":\"n\",\"image\":\"i\"}");
	ASSERT_INT_EQ(orch_task_new(s, &plain), ORCH_OK);
	u = (struct orch_task_update){.status = RUNNING, .health = HEALTHY};
	ASSERT_INT_EQ(orch_task_apply_update(plain, &u, 1, err, sizeof(err)),
	    ORCH_EINVAL);
	ASSERT_STR_CONTAINS(err, "has no health check");
	ASSERT(!plain->has_health);
	ASSERT_INT_EQ(plain->status, ORCH__TASK_STATUS__TASK_STATUS_PENDING);
	u.health = 0;
	ASSERT_INT_EQ(
	    orch_task_apply_update(plain, &u, 1, err, sizeof(err)), ORCH_OK);
	ASSERT(!plain->has_health);
	orch_task_free(t);
	orch_task_free(plain);

	s = spec_ok(body_with("{\"type\":\"tcp\",\"port\":80}"));
	ASSERT_INT_EQ(orch_task_new(s, &t), ORCH_OK);
	u = (struct orch_task_update){.status = RUNNING, .health = 9};
	ASSERT_INT_EQ(
	    orch_task_apply_update(t, &u, 1, err, sizeof(err)), ORCH_EINVAL);
	ASSERT_STR_CONTAINS(err, "unknown health 9");
	orch_task_free(t);
}

/* A check for the state machine: retries 3, start period 10 s. */
static orch_health_check *
machine_check(uint32_t retries, uint32_t start_period_s)
{
	static orch_health_check h;

	orch__health_check__init(&h);
	h.retries = retries;
	h.start_period_s = start_period_s;
	return &h;
}

static void
test_state_machine(void)
{
	struct orch_health_state s;
	orch_health_check *h = machine_check(3, 10);
	const int64_t t0 = 1000000;

	orch_health_state_init(&s);
	ASSERT_INT_EQ(s.status, STARTING);
	ASSERT_INT_EQ(s.failures, 0);

	/* Failures within the start period do not count, however many. */
	for (int i = 0; i < 20; i++)
		ASSERT(!orch_health_step(&s, h, false, t0 + 9999, t0));
	ASSERT_INT_EQ(s.status, STARTING);
	ASSERT_INT_EQ(s.failures, 0);
	/* After it, they do: the third in a row makes it unhealthy. */
	ASSERT(!orch_health_step(&s, h, false, t0 + 10000, t0));
	ASSERT_INT_EQ(s.failures, 1);
	ASSERT(!orch_health_step(&s, h, false, t0 + 11000, t0));
	ASSERT_INT_EQ(s.status, STARTING);
	ASSERT(orch_health_step(&s, h, false, t0 + 12000, t0));
	ASSERT_INT_EQ(s.status, UNHEALTHY);
	ASSERT_INT_EQ(s.failures, 3);
	/* More failures change nothing more, not even the count that the
	 * message gives. */
	ASSERT(!orch_health_step(&s, h, false, t0 + 13000, t0));
	ASSERT_INT_EQ(s.status, UNHEALTHY);
	ASSERT_INT_EQ(s.failures, 3);

	/* A pass recovers it and resets the count. */
	ASSERT(orch_health_step(&s, h, true, t0 + 14000, t0));
	ASSERT_INT_EQ(s.status, HEALTHY);
	ASSERT_INT_EQ(s.failures, 0);
	ASSERT(!orch_health_step(&s, h, true, t0 + 15000, t0));

	/* Once healthy, the start period no longer shields failures. */
	orch_health_state_init(&s);
	ASSERT(orch_health_step(&s, h, true, t0 + 1000, t0));
	ASSERT(!orch_health_step(&s, h, false, t0 + 2000, t0));
	ASSERT_INT_EQ(s.failures, 1);
	/* Failures must be in a row: a pass between resets the count. */
	ASSERT(!orch_health_step(&s, h, false, t0 + 3000, t0));
	ASSERT(!orch_health_step(&s, h, true, t0 + 4000, t0));
	ASSERT_INT_EQ(s.failures, 0);
	ASSERT(!orch_health_step(&s, h, false, t0 + 5000, t0));
	ASSERT(!orch_health_step(&s, h, false, t0 + 6000, t0));
	ASSERT_INT_EQ(s.status, HEALTHY);
	ASSERT(orch_health_step(&s, h, false, t0 + 7000, t0));
	ASSERT_INT_EQ(s.status, UNHEALTHY);

	/* No start period, retries 1: the first failure is enough. */
	h = machine_check(1, 0);
	orch_health_state_init(&s);
	ASSERT(orch_health_step(&s, h, false, t0, t0));
	ASSERT_INT_EQ(s.status, UNHEALTHY);

	/* A pass during the start period makes it healthy at once. */
	h = machine_check(3, 60);
	orch_health_state_init(&s);
	ASSERT(orch_health_step(&s, h, true, t0 + 1, t0));
	ASSERT_INT_EQ(s.status, HEALTHY);
}

static void
test_names_and_text(void)
{
	orch_task_spec *s;
	char buf[128];
	int st = 0;

	ASSERT_STR_EQ(orch_health_status_name(STARTING), "starting");
	ASSERT_STR_EQ(orch_health_status_name(HEALTHY), "healthy");
	ASSERT_STR_EQ(orch_health_status_name(UNHEALTHY), "unhealthy");
	ASSERT(orch_health_status_name(0) == NULL);
	ASSERT(orch_health_status_name(4) == NULL);
	ASSERT_INT_EQ(orch_health_status_parse("unhealthy", &st), ORCH_OK);
	ASSERT_INT_EQ(st, UNHEALTHY);
	ASSERT_INT_EQ(orch_health_status_parse("Healthy", &st), ORCH_EINVAL);

	s = spec_ok(body_with("{\"type\":\"http\",\"port\":8080,"
	                      "\"path\":\"/ready\"}"));
	ASSERT_STR_EQ(orch_health_check_text(s->health, buf, sizeof(buf)),
	    "http GET :8080/ready");
	orch_task_spec_free(s);
	s = spec_ok(body_with("{\"type\":\"http\",\"port\":80}"));
	ASSERT_STR_EQ(orch_health_check_text(s->health, buf, sizeof(buf)),
	    "http GET :80/");
	orch_task_spec_free(s);
	s = spec_ok(body_with("{\"type\":\"tcp\",\"port\":5432}"));
	ASSERT_STR_EQ(
	    orch_health_check_text(s->health, buf, sizeof(buf)), "tcp :5432");
	orch_task_spec_free(s);
	s = spec_ok(body_with("{\"type\":\"exec\",\"command\":[\"false\"]}"));
	ASSERT_STR_EQ(orch_health_check_text(s->health, buf, sizeof(buf)),
	    "exec \"false\"");
	orch_task_spec_free(s);
}

/* An exec task's exec check runs on the host: its program needs a
 * command rule of the policy, as the task's own does. */
static void
test_policy_exec_check(void)
{
	const char *text =
	    "{\"rules\":[{\"command\":\"/usr/bin/job\",\"allow\":[\"exec\"]},"
	    "{\"command\":\"/usr/bin/ok-*\",\"allow\":[\"exec\"]}]}";
	struct orch_policy *p = NULL;
	orch_task_spec *s;
	char err[ERRLEN];

	ASSERT_INT_EQ(
	    orch_policy_parse(text, strlen(text), &p, err, sizeof(err)),
	    ORCH_OK);
	s = spec_ok("{\"name\":\"j\",\"driver\":\"exec\",\"command\":"
	            "[\"/usr/bin/job\"],\"health\":{\"type\":\"exec\","
	            "\"command\":[\"/bin/sh\",\"-c\",\"true\"]}}");
	ASSERT_INT_EQ(orch_policy_check(p, s, err, sizeof(err)), ORCH_EPERM);
	ASSERT_STR_CONTAINS(err, "field \"health.command\"");
	ASSERT_STR_CONTAINS(err, "\"/bin/sh\"");
	orch_task_spec_free(s);

	s = spec_ok("{\"name\":\"j\",\"driver\":\"exec\",\"command\":"
	            "[\"/usr/bin/job\"],\"health\":{\"type\":\"exec\","
	            "\"command\":[\"/usr/bin/ok-probe\"]}}");
	ASSERT_INT_EQ(orch_policy_check(p, s, err, sizeof(err)), ORCH_OK);
	orch_task_spec_free(s);

	/* http and tcp checks run nothing on the host. */
	s = spec_ok("{\"name\":\"j\",\"driver\":\"exec\",\"command\":"
	            "[\"/usr/bin/job\"],\"health\":{\"type\":\"tcp\","
	            "\"port\":80}}");
	ASSERT_INT_EQ(orch_policy_check(p, s, err, sizeof(err)), ORCH_OK);
	orch_task_spec_free(s);
	/* The task's own program is still checked first. */
	s = spec_ok("{\"name\":\"j\",\"driver\":\"exec\",\"command\":"
	            "[\"/bin/x\"],\"health\":{\"type\":\"exec\","
	            "\"command\":[\"/usr/bin/ok-probe\"]}}");
	ASSERT_INT_EQ(orch_policy_check(p, s, err, sizeof(err)), ORCH_EPERM);
	ASSERT_STR_CONTAINS(err, "field \"driver\"");
	orch_task_spec_free(s);
	/* A container's exec check runs inside the container: no rule. */
	s = spec_ok(body_with("{\"type\":\"exec\",\"command\":[\"/bin/sh\"]}"));
	ASSERT_INT_EQ(orch_policy_check(p, s, err, sizeof(err)), ORCH_OK);
	orch_task_spec_free(s);
	orch_policy_free(p);
}

int
main(void)
{
	RUN(test_decode_valid);
	RUN(test_decode_refused);
	RUN(test_defaults_and_encode);
	RUN(test_update_decode);
	RUN(test_apply_update);
	RUN(test_state_machine);
	RUN(test_names_and_text);
	RUN(test_policy_exec_check);
	return 0;
}
