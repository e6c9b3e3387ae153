/*
 * test_task_json.c: the task's JSON, both ways (services/task_json.c).
 *
 * Every refusal is checked for the field it names, since the message is
 * what a person reads in the 400 answer.
 */
#include "harness.h"

#include <math.h>
#include <stdint.h>
#include <time.h>

#include "clock.h"
#include "error.h"
#include "constraint.h"
#include "service_json.h"
#include "task_json.h"

#define ERRLEN 256

/* Decodes a NUL-terminated body as a spec.  Returns the code; *out and
 * err are as orch_task_spec_from_json() left them. */
static int
spec_parse(const char *body, orch_task_spec **out, char *err)
{
	err[0] = '\0';
	return orch_task_spec_from_json(body, strlen(body), out, err, ERRLEN);
}

/* Asserts that body is a valid spec and returns it. */
static orch_task_spec *
spec_ok(const char *body)
{
	char err[ERRLEN];
	orch_task_spec *s = NULL;
	int rc = spec_parse(body, &s, err);

	if (rc != ORCH_OK)
		h_fail(__FILE__, __LINE__, "body %s refused: %s", body, err);
	ASSERT(s != NULL);
	return s;
}

/* Asserts that the len bytes of body are refused with a message holding
 * want, and that nothing is handed back. */
static void
spec_refused_len(const char *body, size_t len, const char *want)
{
	char err[ERRLEN];
	orch_task_spec *s = (orch_task_spec *)&s; /* must be overwritten */
	int rc;

	err[0] = '\0';
	rc = orch_task_spec_from_json(body, len, &s, err, sizeof(err));
	if (rc != ORCH_EINVAL || s != NULL || strstr(err, want) == NULL)
		h_fail(__FILE__, __LINE__,
		    "body %.*s: rc %d, error \"%s\", wanted \"%s\"", (int)len,
		    body != NULL ? body : "", rc, err, want);
}

static void
spec_refused(const char *body, const char *want)
{
	spec_refused_len(body, strlen(body), want);
}

/* True when s is valid UTF-8: jansson's json_string() checks it. */
static bool
utf8_ok(const char *s)
{
	json_t *j = json_string(s);

	json_decref(j);
	return j != NULL;
}

static void
test_spec_minimal(void)
{
	orch_task_spec *s =
	    spec_ok("{\"name\":\"web\",\"image\":\"nginx:1.25\"}");

	ASSERT_STR_EQ(s->name, "web");
	ASSERT_STR_EQ(s->image, "nginx:1.25");
	/* Defaults are orch_task_new()'s business: nothing is marked given. */
	ASSERT(!s->has_memory_mb);
	ASSERT(!s->has_cpu);
	ASSERT_INT_EQ(s->n_env, 0);
	ASSERT(s->env == NULL);
	ASSERT_INT_EQ(s->n_command, 0);
	ASSERT(s->command == NULL);
	orch_task_spec_free(s);

	/* Whitespace around the object is not garbage. */
	s = spec_ok(" \r\n\t{ \"image\" : \"a\" , \"name\" : \"b\" }\n\n");
	ASSERT_STR_EQ(s->name, "b");
	ASSERT_STR_EQ(s->image, "a");
	orch_task_spec_free(s);
}

static void
test_spec_full(void)
{
	orch_task_spec *s = spec_ok(
	    "{\"name\":\"job "
	    "\\u00e9t\\u00e9\",\"image\":\"registry.local:5000/a/b@sha256:00\","
	    "\"memory\":512,\"cpu\":1.5,"
	    "\"env\":{\"PATH\":\"/bin\",\"EMPTY\":\"\",\"Q\":\"a=b "
	    "\\\"c\\\"\\n\"},\"command\":[\"sh\",\"-c\",\"echo hi\",\"\"]}");

	ASSERT_STR_EQ(s->name, "job \xc3\xa9t\xc3\xa9");
	ASSERT_STR_EQ(s->image, "registry.local:5000/a/b@sha256:00");
	ASSERT(s->has_memory_mb);
	ASSERT_INT_EQ(s->memory_mb, 512);
	ASSERT(s->has_cpu);
	ASSERT(s->cpu == 1.5);
	ASSERT_INT_EQ(s->n_env, 3);
	/* Body order is kept. */
	ASSERT_STR_EQ(s->env[0]->key, "PATH");
	ASSERT_STR_EQ(s->env[0]->value, "/bin");
	ASSERT_STR_EQ(s->env[1]->key, "EMPTY");
	ASSERT_STR_EQ(s->env[1]->value, "");
	ASSERT_STR_EQ(s->env[2]->key, "Q");
	ASSERT_STR_EQ(s->env[2]->value, "a=b \"c\"\n");
	ASSERT_INT_EQ(s->n_command, 4);
	ASSERT_STR_EQ(s->command[0], "sh");
	ASSERT_STR_EQ(s->command[1], "-c");
	ASSERT_STR_EQ(s->command[2], "echo hi");
	ASSERT_STR_EQ(s->command[3], "");
	orch_task_spec_free(s);

	/* cpu may be an integer; an empty env and command are fine. */
	s = spec_ok("{\"name\":\"n\",\"image\":\"i\",\"cpu\":2,\"env\":{},"
	            "\"command\":[]}");
	ASSERT(s->has_cpu);
	ASSERT(s->cpu == 2.0);
	ASSERT_INT_EQ(s->n_env, 0);
	ASSERT_INT_EQ(s->n_command, 0);
	orch_task_spec_free(s);
}

static void
test_spec_null_is_absent(void)
{
	orch_task_spec *s =
	    spec_ok("{\"name\":\"n\",\"image\":\"i\",\"memory\":null,"
	            "\"cpu\":null,\"env\":null,\"command\":null}");

	ASSERT(!s->has_memory_mb);
	ASSERT(!s->has_cpu);
	ASSERT_INT_EQ(s->n_env, 0);
	ASSERT_INT_EQ(s->n_command, 0);
	orch_task_spec_free(s);

	spec_refused(
	    "{\"name\":null,\"image\":\"i\"}", "field \"name\" is required");
	spec_refused(
	    "{\"name\":\"n\",\"image\":null}", "field \"image\" is required");
}

/* The driver: docker (the default) needs an image, exec a command and no
 * container setting. */
static void
test_spec_driver(void)
{
	orch_task_spec *s;
	orch_task *t;
	json_t *o;

	s = spec_ok("{\"name\":\"n\",\"driver\":\"exec\","
	            "\"command\":[\"/bin/true\"]}");
	ASSERT_STR_EQ(s->driver, "exec");
	ASSERT(s->image == NULL);
	ASSERT_INT_EQ(orch_task_new(s, &t), ORCH_OK);
	o = orch_task_to_json(t);
	ASSERT_STR_EQ(json_string_value(json_object_get(o, "driver")), "exec");
	ASSERT(json_is_null(json_object_get(o, "image")));
	json_decref(o);
	orch_task_free(t);
	/* Absent: docker, stored so. */
	s = spec_ok("{\"name\":\"n\",\"image\":\"i\"}");
	ASSERT(s->driver == NULL);
	ASSERT_STR_EQ(orch_task_spec_driver(s), "docker");
	ASSERT_INT_EQ(orch_task_new(s, &t), ORCH_OK);
	ASSERT_STR_EQ(t->spec->driver, "docker");
	orch_task_free(t);
	orch_task_spec_free(
	    spec_ok("{\"name\":\"n\",\"image\":\"i\",\"driver\":\"docker\"}"));

	spec_refused("{\"name\":\"n\",\"image\":\"i\",\"driver\":\"lxc\"}",
	    "field \"driver\" must be \"docker\" or \"exec\", not \"lxc\"");
	spec_refused("{\"name\":\"n\",\"image\":\"i\",\"driver\":3}",
	    "field \"driver\" must be a string");
	spec_refused("{\"name\":\"n\",\"driver\":\"docker\"}",
	    "field \"image\" is required");
	spec_refused("{\"name\":\"n\",\"driver\":\"exec\"}",
	    "field \"command\" is required with driver \"exec\"");
	spec_refused("{\"name\":\"n\",\"driver\":\"exec\",\"command\":[]}",
	    "field \"command\" is required with driver \"exec\"");
	spec_refused("{\"name\":\"n\",\"driver\":\"exec\",\"command\":[\"\"]}",
	    "field \"command\" is required with driver \"exec\"");
	spec_refused("{\"name\":\"n\",\"driver\":\"exec\",\"image\":\"i\","
	             "\"command\":[\"x\"]}",
	    "field \"image\" is for the docker driver");
	spec_refused("{\"name\":\"n\",\"driver\":\"exec\",\"command\":[\"x\"],"
	             "\"volumes\":[\"/a:/b\"]}",
	    "field \"volumes\" is a container setting");
	spec_refused("{\"name\":\"n\",\"driver\":\"exec\",\"command\":[\"x\"],"
	             "\"privileged\":true}",
	    "field \"privileged\" is a container setting");
	spec_refused("{\"name\":\"n\",\"driver\":\"exec\",\"command\":[\"x\"],"
	             "\"network\":\"host\"}",
	    "field \"network\" is a container setting");
	spec_refused("{\"name\":\"n\",\"driver\":\"exec\",\"command\":[\"x\"],"
	             "\"cap_add\":[\"NET_ADMIN\"]}",
	    "field \"cap_add\" is a container setting");
}

static void
test_spec_field_errors(void)
{
	spec_refused("{\"image\":\"i\"}", "field \"name\" is required");
	spec_refused("{\"name\":\"n\"}", "field \"image\" is required");
	spec_refused("{}", "field \"name\" is required");
	spec_refused(
	    "{\"name\":\"\",\"image\":\"i\"}", "field \"name\" is required");
	spec_refused(
	    "{\"name\":\"n\",\"image\":\"\"}", "field \"image\" is required");
	spec_refused(
	    "{\"name\":5,\"image\":\"i\"}", "field \"name\" must be a string");
	spec_refused("{\"name\":true,\"image\":\"i\"}",
	    "field \"name\" must be a string");
	spec_refused("{\"name\":\"n\",\"image\":[\"i\"]}",
	    "field \"image\" must be a string");
	spec_refused("{\"name\":\"n\",\"image\":{}}",
	    "field \"image\" must be a string");

	spec_refused("{\"name\":\"n\",\"image\":\"i\",\"memory\":256.0}",
	    "field \"memory\" must be an integer number of MB");
	spec_refused("{\"name\":\"n\",\"image\":\"i\",\"memory\":256.5}",
	    "field \"memory\" must be an integer number of MB");
	spec_refused("{\"name\":\"n\",\"image\":\"i\",\"memory\":2.56e2}",
	    "field \"memory\" must be an integer number of MB");
	spec_refused("{\"name\":\"n\",\"image\":\"i\",\"memory\":\"256\"}",
	    "field \"memory\" must be an integer number of MB");
	spec_refused("{\"name\":\"n\",\"image\":\"i\",\"memory\":false}",
	    "field \"memory\" must be an integer number of MB");

	spec_refused("{\"name\":\"n\",\"image\":\"i\",\"cpu\":\"1\"}",
	    "field \"cpu\" must be a number");
	spec_refused("{\"name\":\"n\",\"image\":\"i\",\"cpu\":[1]}",
	    "field \"cpu\" must be a number");

	spec_refused("{\"name\":\"n\",\"image\":\"i\",\"env\":[]}",
	    "field \"env\" must be an object of strings");
	spec_refused("{\"name\":\"n\",\"image\":\"i\",\"env\":\"A=1\"}",
	    "field \"env\" must be an object of strings");
	spec_refused("{\"name\":\"n\",\"image\":\"i\",\"env\":{\"A\":1}}",
	    "field \"env\": the value of \"A\" must be a string");
	spec_refused(
	    "{\"name\":\"n\",\"image\":\"i\",\"env\":{\"A\":\"1\",\"B\":null}}",
	    "field \"env\": the value of \"B\" must be a string");
	spec_refused("{\"name\":\"n\",\"image\":\"i\",\"env\":{\"A\":{}}}",
	    "field \"env\": the value of \"A\" must be a string");
	spec_refused("{\"name\":\"n\",\"image\":\"i\",\"env\":{\"\":\"x\"}}",
	    "field \"env\": a variable name must be non-empty");
	spec_refused("{\"name\":\"n\",\"image\":\"i\",\"env\":{\"A=B\":\"x\"}}",
	    "field \"env\": a variable name must be non-empty printable text "
	    "without '='");
	spec_refused(
	    "{\"name\":\"n\",\"image\":\"i\",\"env\":{\"A\\nB\":\"x\"}}",
	    "field \"env\": a variable name");

	spec_refused("{\"name\":\"n\",\"image\":\"i\",\"command\":\"ls -l\"}",
	    "field \"command\" must be an array of strings");
	spec_refused("{\"name\":\"n\",\"image\":\"i\",\"command\":{}}",
	    "field \"command\" must be an array of strings");
	spec_refused("{\"name\":\"n\",\"image\":\"i\",\"command\":[1]}",
	    "field \"command\": argument 0 must be a string");
	spec_refused(
	    "{\"name\":\"n\",\"image\":\"i\",\"command\":[\"a\",null]}",
	    "field \"command\": argument 1 must be a string");
	spec_refused(
	    "{\"name\":\"n\",\"image\":\"i\",\"command\":[\"a\",[\"b\"]]}",
	    "field \"command\": argument 1 must be a string");

	/* A misspelt optional field must not be silently ignored; it is
	 * named even when a required field is also missing. */
	spec_refused("{\"name\":\"n\",\"image\":\"i\",\"memroy\":64}",
	    "unknown field \"memroy\"");
	spec_refused(
	    "{\"name\":\"n\",\"imgae\":\"i\"}", "unknown field \"imgae\"");
	spec_refused("{\"name\":\"n\",\"image\":\"i\",\"id\":\"x\"}",
	    "unknown field \"id\"");
	spec_refused("{\"name\":\"n\",\"image\":\"i\",\"Name\":\"x\"}",
	    "unknown field \"Name\"");
	spec_refused(
	    "{\"name\":\"n\",\"image\":\"i\",\"\":1}", "unknown field \"\"");
}

static void
test_spec_malformed(void)
{
	static const char *const non_objects[] = {
	    "[]",
	    "[{\"name\":\"n\",\"image\":\"i\"}]",
	    "\"name\"",
	    "42",
	    "-1.5",
	    "null",
	    "true",
	    "false",
	};
	char err[ERRLEN];
	orch_task_spec *s;

	for (size_t i = 0; i < sizeof(non_objects) / sizeof(non_objects[0]);
	     i++)
		spec_refused(
		    non_objects[i], "request body must be a JSON object");
	spec_refused("", "request body must be a JSON object");
	spec_refused(" \r\n ", "request body must be a JSON object");
	spec_refused_len(NULL, 0, "request body must be a JSON object");

	/* Duplicates: the second value must not win silently. */
	spec_refused("{\"name\":\"a\",\"image\":\"i\",\"name\":\"b\"}",
	    "malformed JSON at line 1 column");
	spec_refused("{\"name\":\"a\",\"image\":\"i\",\"name\":\"b\"}",
	    "duplicate object key");
	spec_refused("{\"name\":\"n\",\"image\":\"i\",\"env\":{\"A\":\"1\","
	             "\"A\":\"2\"}}",
	    "duplicate object key");

	/* Trailing garbage. */
	spec_refused("{\"name\":\"n\",\"image\":\"i\"} x",
	    "malformed JSON at line 1 column");
	spec_refused(
	    "{\"name\":\"n\",\"image\":\"i\"}x", "end of file expected");
	spec_refused(
	    "{\"name\":\"n\",\"image\":\"i\"}{}", "end of file expected");
	spec_refused("{\"name\":\"n\",\"image\":\"i\"}\n\n,",
	    "malformed JSON at line 3");
	spec_refused_len("{\"name\":\"n\",\"image\":\"i\"}\0", 25,
	    "malformed JSON at line 1");

	/* Broken documents. */
	spec_refused("{\"name\":\"n\",\"image\":\"i\"",
	    "malformed JSON at line 1 column");
	spec_refused("{\"name\":\"n\",\"image\":\"i\",}", "malformed JSON");
	spec_refused("{'name':'n'}", "malformed JSON");
	spec_refused("{\"name\":\"n\"\n,\"image\":\"i\",\n\"memory\":01}",
	    "malformed JSON at line 3");
	spec_refused("{\"name\":\"n\",\"image\":\"i\",\"memory\":NaN}",
	    "malformed JSON");
	spec_refused("{\"name\":\"n\",\"image\":\"i\",\"cpu\":Infinity}",
	    "malformed JSON");
	spec_refused(
	    "{\"name\":\"\\ud800\",\"image\":\"i\"}", "malformed JSON");
	/* Raw bytes that are not UTF-8, and a raw control character. */
	spec_refused("{\"name\":\"\xff\",\"image\":\"i\"}", "malformed JSON");
	spec_refused("{\"name\":\"a\tb\",\"image\":\"i\"}", "malformed JSON");

	/* jansson quotes the raw input near the error, here cut inside a
	 * character (found by fuzzing); the message must still be UTF-8. */
	s = NULL;
	ASSERT_INT_EQ(spec_parse("{\"name\":\"caf\\u0\xd3\x9a"
	                         "9\",\"image\":\"i\"}",
	                  &s, err),
	    ORCH_EINVAL);
	ASSERT_STR_CONTAINS(err, "malformed JSON at line 1 column");
	ASSERT_STR_CONTAINS(err, "invalid escape");
	ASSERT(utf8_ok(err));
	ASSERT_INT_EQ(
	    spec_parse("{\"name\":\"\xff\xfe\",\"image\":\"i\"}", &s, err),
	    ORCH_EINVAL);
	ASSERT(utf8_ok(err));

	/* The message of a refusal always fits and is valid UTF-8. */
	s = NULL;
	ASSERT_INT_EQ(spec_parse("{\"name\":\"\xc3\xa9", &s, err), ORCH_EINVAL);
	ASSERT(s == NULL);
	ASSERT(utf8_ok(err));
}

static void
test_spec_nul(void)
{
	/* jansson hands "\u0000" through; C strings would cut it short. */
	spec_refused("{\"name\":\"a\\u0000b\",\"image\":\"i\"}",
	    "field \"name\" must not contain NUL characters");
	spec_refused("{\"name\":\"n\",\"image\":\"i\\u0000:latest\"}",
	    "field \"image\" must not contain NUL characters");
	spec_refused("{\"name\":\"\\u0000\",\"image\":\"i\"}",
	    "field \"name\" must not contain NUL characters");
	spec_refused(
	    "{\"name\":\"n\",\"image\":\"i\",\"env\":{\"A\":\"x\\u0000y\"}}",
	    "field \"env\": the value of \"A\" must be a string without NUL");
	spec_refused(
	    "{\"name\":\"n\",\"image\":\"i\",\"command\":[\"a\",\"\\u0000\"]}",
	    "field \"command\": argument 1 must be a string without NUL");
	/* jansson itself refuses a NUL in a key. */
	spec_refused(
	    "{\"name\":\"n\",\"image\":\"i\",\"env\":{\"A\\u0000B\":\"x\"}}",
	    "malformed JSON");
	spec_refused(
	    "{\"name\\u0000\":\"n\",\"image\":\"i\"}", "malformed JSON");
	/* A raw NUL byte inside the body. */
	spec_refused_len(
	    "{\"name\":\"a\0b\",\"image\":\"i\"}", 27, "malformed JSON");
}

static void
test_spec_limits(void)
{
	char name[ORCH_NAME_MAX + 2], body[512], err[ERRLEN];
	orch_task_spec *s;
	char *b, *p;
	size_t cap, off;

	/* Name: 128 characters fit, 129 do not. */
	memset(name, 'a', sizeof(name));
	name[ORCH_NAME_MAX] = '\0';
	snprintf(body, sizeof(body), "{\"name\":\"%s\",\"image\":\"i\"}", name);
	orch_task_spec_free(spec_ok(body));
	name[ORCH_NAME_MAX] = 'a';
	name[ORCH_NAME_MAX + 1] = '\0';
	snprintf(body, sizeof(body), "{\"name\":\"%s\",\"image\":\"i\"}", name);
	spec_refused(body, "field \"name\" must be at most 128");
	spec_refused("{\"name\":\"a\\u0007\",\"image\":\"i\"}",
	    "field \"name\" must be at most 128 printable");
	spec_refused("{\"name\":\"n\",\"image\":\"nginx latest\"}",
	    "field \"image\" must be an image reference");

	/* Memory: Docker's minimum is 6 MB. */
	spec_refused("{\"name\":\"n\",\"image\":\"i\",\"memory\":5}",
	    "field \"memory\" must be between 6 and");
	s = spec_ok("{\"name\":\"n\",\"image\":\"i\",\"memory\":6}");
	ASSERT_INT_EQ(s->memory_mb, 6);
	orch_task_spec_free(s);
	s = spec_ok("{\"name\":\"n\",\"image\":\"i\",\"memory\":16777216}");
	ASSERT_INT_EQ(s->memory_mb, ORCH_MEMORY_MAX_MB);
	orch_task_spec_free(s);
	spec_refused("{\"name\":\"n\",\"image\":\"i\",\"memory\":16777217}",
	    "field \"memory\" must be between");
	spec_refused("{\"name\":\"n\",\"image\":\"i\",\"memory\":0}",
	    "field \"memory\" must be between");
	spec_refused("{\"name\":\"n\",\"image\":\"i\",\"memory\":-256}",
	    "field \"memory\" must be between");
	spec_refused(
	    "{\"name\":\"n\",\"image\":\"i\",\"memory\":9223372036854775807}",
	    "field \"memory\" must be between");
	spec_refused(
	    "{\"name\":\"n\",\"image\":\"i\",\"memory\":-9223372036854775808}",
	    "field \"memory\" must be between");
	/* Past int64 jansson refuses the number itself. */
	spec_refused(
	    "{\"name\":\"n\",\"image\":\"i\",\"memory\":9223372036854775808}",
	    "too big integer");
	spec_refused(
	    "{\"name\":\"n\",\"image\":\"i\",\"memory\":99999999999999999999}",
	    "malformed JSON at line 1");

	/* cpu: more than 0, at most 1024; JSON has no NaN, and a real past
	 * double's range is refused by jansson. */
	spec_refused("{\"name\":\"n\",\"image\":\"i\",\"cpu\":0}",
	    "field \"cpu\" must be more than 0 and at most 1024");
	spec_refused(
	    "{\"name\":\"n\",\"image\":\"i\",\"cpu\":0.0}", "field \"cpu\"");
	spec_refused(
	    "{\"name\":\"n\",\"image\":\"i\",\"cpu\":-0.0}", "field \"cpu\"");
	spec_refused(
	    "{\"name\":\"n\",\"image\":\"i\",\"cpu\":-1}", "field \"cpu\"");
	spec_refused(
	    "{\"name\":\"n\",\"image\":\"i\",\"cpu\":-0.5}", "field \"cpu\"");
	spec_refused(
	    "{\"name\":\"n\",\"image\":\"i\",\"cpu\":1025}", "field \"cpu\"");
	spec_refused("{\"name\":\"n\",\"image\":\"i\",\"cpu\":1024.0001}",
	    "field \"cpu\"");
	spec_refused(
	    "{\"name\":\"n\",\"image\":\"i\",\"cpu\":1e308}", "field \"cpu\"");
	spec_refused("{\"name\":\"n\",\"image\":\"i\",\"cpu\":1e400}",
	    "real number overflow");
	spec_refused("{\"name\":\"n\",\"image\":\"i\",\"cpu\":-1e400}",
	    "malformed JSON at line 1");
	/* An underflow reads as 0 (or -0), which the limit refuses. */
	spec_refused(
	    "{\"name\":\"n\",\"image\":\"i\",\"cpu\":1e-400}", "field \"cpu\"");
	s = spec_ok("{\"name\":\"n\",\"image\":\"i\",\"cpu\":1024}");
	ASSERT(s->cpu == ORCH_CPU_MAX);
	orch_task_spec_free(s);
	s = spec_ok("{\"name\":\"n\",\"image\":\"i\",\"cpu\":1e-3}");
	ASSERT(s->cpu == 0.001);
	orch_task_spec_free(s);

	/* env: 1024 entries fit, 1025 do not; command likewise. */
	for (int n = ORCH_ENV_MAX; n <= ORCH_ENV_MAX + 1; n++) {
		cap = (size_t)n * 24 + 64;
		b = malloc(cap);
		ASSERT(b != NULL);
		off = (size_t)snprintf(
		    b, cap, "{\"name\":\"n\",\"image\":\"i\",\"env\":{");
		for (int i = 0; i < n; i++)
			off += (size_t)snprintf(b + off, cap - off,
			    "%s\"V%d\":\"%d\"", i > 0 ? "," : "", i, i);
		snprintf(b + off, cap - off, "}}");
		if (n == ORCH_ENV_MAX) {
			s = spec_ok(b);
			ASSERT_INT_EQ(s->n_env, ORCH_ENV_MAX);
			ASSERT_STR_EQ(s->env[ORCH_ENV_MAX - 1]->key, "V1023");
			orch_task_spec_free(s);
		} else {
			spec_refused(
			    b, "field \"env\" has more than 1024 entries");
		}
		free(b);

		b = malloc(cap);
		ASSERT(b != NULL);
		off = (size_t)snprintf(
		    b, cap, "{\"name\":\"n\",\"image\":\"i\",\"command\":[");
		for (int i = 0; i < n; i++)
			off += (size_t)snprintf(b + off, cap - off, "%s\"%d\"",
			    i > 0 ? "," : "", i);
		snprintf(b + off, cap - off, "]}");
		if (n == ORCH_COMMAND_MAX) {
			s = spec_ok(b);
			ASSERT_INT_EQ(s->n_command, ORCH_COMMAND_MAX);
			orch_task_spec_free(s);
		} else {
			spec_refused(b,
			    "field \"command\" has more than 1024 arguments");
		}
		free(b);
	}

	/* One value or argument: at most ORCH_STRING_MAX bytes.  The key
	 * quoted in the message is cut at 64 bytes, here inside an 'é': the
	 * message must stay UTF-8 since it goes into a JSON error body. */
	cap = ORCH_STRING_MAX + 512;
	b = malloc(cap);
	ASSERT(b != NULL);
	for (int over = 0; over <= 1; over++) {
		off = (size_t)snprintf(
		    b, cap, "{\"name\":\"n\",\"image\":\"i\",\"env\":{\"K");
		for (int i = 0; i < 40; i++)
			off += (size_t)snprintf(b + off, cap - off, "\xc3\xa9");
		off += (size_t)snprintf(b + off, cap - off, "\":\"");
		p = b + off;
		memset(p, 'v', ORCH_STRING_MAX + (size_t)over);
		off += ORCH_STRING_MAX + (size_t)over;
		snprintf(b + off, cap - off, "\"}}");
		if (over == 0) {
			orch_task_spec_free(spec_ok(b));
		} else {
			s = NULL;
			ASSERT_INT_EQ(spec_parse(b, &s, err), ORCH_EINVAL);
			ASSERT_STR_CONTAINS(
			    err, "must be a string of at most 65536 bytes");
			ASSERT(utf8_ok(err));
		}
	}
	for (int over = 0; over <= 1; over++) {
		off = (size_t)snprintf(b, cap,
		    "{\"name\":\"n\",\"image\":\"i\",\"command\":[\"sh\",\"");
		memset(b + off, 'c', ORCH_STRING_MAX + (size_t)over);
		off += ORCH_STRING_MAX + (size_t)over;
		snprintf(b + off, cap - off, "\"]}");
		if (over == 0)
			orch_task_spec_free(spec_ok(b));
		else
			spec_refused(b,
			    "field \"command\": argument 1 must be a string "
			    "of at most 65536 bytes");
	}
	free(b);
}

static void
test_error_messages_utf8(void)
{
	char body[512], err[ERRLEN];
	orch_task_spec *s;

	/* A long unknown key is quoted in part, never cutting a character. */
	snprintf(body, sizeof(body), "{\"name\":\"n\",\"image\":\"i\",\"x");
	for (int i = 0; i < 60; i++)
		strncat(body, "\xc3\xa9", sizeof(body) - strlen(body) - 1);
	strncat(body, "\":1}", sizeof(body) - strlen(body) - 1);
	ASSERT_INT_EQ(spec_parse(body, &s, err), ORCH_EINVAL);
	ASSERT_STR_CONTAINS(err, "unknown field \"x\xc3\xa9");
	ASSERT(utf8_ok(err));
	ASSERT(strlen(err) < 100);

	/* A short err buffer: the message is cut, and not inside an 'é'.
	 * 'unknown field "' is 15 bytes. */
	const char *b2 = "{\"\xc3\xa9\xc3\xa9\":1}";

	memset(err, 'x', sizeof(err));
	ASSERT_INT_EQ(
	    orch_task_spec_from_json(b2, strlen(b2), &s, err, 17), ORCH_EINVAL);
	ASSERT_STR_EQ(err, "unknown field \"");
	ASSERT_INT_EQ(
	    orch_task_spec_from_json(b2, strlen(b2), &s, err, 18), ORCH_EINVAL);
	ASSERT_STR_EQ(err, "unknown field \"\xc3\xa9");
	ASSERT_INT_EQ(
	    orch_task_spec_from_json(b2, strlen(b2), &s, err, 19), ORCH_EINVAL);
	ASSERT_STR_EQ(err, "unknown field \"\xc3\xa9");
	ASSERT_INT_EQ(
	    orch_task_spec_from_json(b2, strlen(b2), &s, err, 1), ORCH_EINVAL);
	ASSERT_STR_EQ(err, "");
	/* errlen 0: nothing is written. */
	err[0] = 'x';
	ASSERT_INT_EQ(
	    orch_task_spec_from_json(b2, strlen(b2), &s, err, 0), ORCH_EINVAL);
	ASSERT(err[0] == 'x');
}

/* The keys of a task's JSON, in their order. */
static const char *const task_keys[] = {
    "id",
    "name",
    "image",
    "driver",
    "memory",
    "cpu",
    "env",
    "command",
    "status",
    "created_at",
    "started_at",
    "finished_at",
    "node_id",
    "container_id",
    "exit_code",
    "error",
    "constraints",
    "placement",
    "restart",
    "restarts",
    "service",
    "replaces",
    "replaced_by",
    "not_before",
    "privileged",
    "volumes",
    "network",
    "cap_add",
    "health",
    "healthcheck",
};
#define N_TASK_KEYS (sizeof(task_keys) / sizeof(task_keys[0]))

/* Asserts that o has exactly the task keys, in order. */
static void
keys_check(json_t *o)
{
	const char *key;
	json_t *v;
	size_t i = 0;

	ASSERT(json_is_object(o));
	ASSERT_INT_EQ(json_object_size(o), N_TASK_KEYS);
	json_object_foreach(o, key, v)
	{
		ASSERT(i < N_TASK_KEYS);
		ASSERT_STR_EQ(key, task_keys[i]);
		i++;
	}
	/* And in the dumped text too, which is what clients see. */
	char *text = json_dumps(o, JSON_COMPACT);
	const char *p = text;

	ASSERT(text != NULL);
	for (i = 0; i < N_TASK_KEYS; i++) {
		char q[32];

		snprintf(q, sizeof(q), "\"%s\":", task_keys[i]);
		p = strstr(p, q);
		ASSERT(p != NULL);
	}
	free(text);
}

/* Asserts that v is an RFC 3339 UTC time with milliseconds within a
 * minute of now_ms. */
static void
time_check(json_t *v, int64_t now_ms)
{
	const char *s = json_string_value(v);
	struct tm tm;
	int ms;
	char *end;
	time_t secs;

	ASSERT(s != NULL);
	ASSERT_INT_EQ(strlen(s), 24);
	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	ASSERT(end != NULL);
	ASSERT(end[0] == '.' && end[4] == 'Z' && end[5] == '\0');
	ms = (int)strtol(end + 1, NULL, 10);
	secs = timegm(&tm);
	ASSERT(llabs((long long)secs * 1000 + ms - now_ms) < 60000);
}

static void
test_round_trip(void)
{
	orch_task_spec *s = spec_ok(
	    "{\"name\":\"web\",\"image\":\"nginx:1.25\",\"cpu\":0.25,"
	    "\"env\":{\"A\":\"1\",\"B\":\"two words\",\"C\":\"\\u00e9\"},"
	    "\"command\":[\"nginx\",\"-g\",\"daemon off;\"]}");
	int64_t now = orch_now_ms();
	orch_task *t = NULL;
	json_t *o, *env, *cmd, *again;
	char *text, err[ERRLEN];
	json_error_t jerr;

	ASSERT_INT_EQ(orch_task_new(s, &t), ORCH_OK);
	o = orch_task_to_json(t);
	ASSERT(o != NULL);
	keys_check(o);

	ASSERT(json_is_string(json_object_get(o, "id")));
	ASSERT(orch_id_valid(json_string_value(json_object_get(o, "id"))));
	ASSERT_STR_EQ(json_string_value(json_object_get(o, "id")), t->id);
	ASSERT_STR_EQ(json_string_value(json_object_get(o, "name")), "web");
	ASSERT_STR_EQ(
	    json_string_value(json_object_get(o, "image")), "nginx:1.25");
	/* Defaults are stored by orch_task_new() and so written out. */
	ASSERT(json_is_integer(json_object_get(o, "memory")));
	ASSERT_INT_EQ(json_integer_value(json_object_get(o, "memory")), 256);
	ASSERT(json_is_real(json_object_get(o, "cpu")));
	ASSERT(json_real_value(json_object_get(o, "cpu")) == 0.25);
	env = json_object_get(o, "env");
	ASSERT(json_is_object(env));
	ASSERT_INT_EQ(json_object_size(env), 3);
	ASSERT_STR_EQ(json_string_value(json_object_get(env, "A")), "1");
	ASSERT_STR_EQ(
	    json_string_value(json_object_get(env, "B")), "two words");
	ASSERT_STR_EQ(json_string_value(json_object_get(env, "C")), "\xc3\xa9");
	cmd = json_object_get(o, "command");
	ASSERT(json_is_array(cmd));
	ASSERT_INT_EQ(json_array_size(cmd), 3);
	ASSERT_STR_EQ(json_string_value(json_array_get(cmd, 0)), "nginx");
	ASSERT_STR_EQ(json_string_value(json_array_get(cmd, 2)), "daemon off;");
	ASSERT_STR_EQ(
	    json_string_value(json_object_get(o, "status")), "Pending");
	time_check(json_object_get(o, "created_at"), now);
	ASSERT(json_is_null(json_object_get(o, "started_at")));
	ASSERT(json_is_null(json_object_get(o, "finished_at")));
	ASSERT(json_is_null(json_object_get(o, "node_id")));
	ASSERT(json_is_null(json_object_get(o, "container_id")));
	ASSERT(json_is_null(json_object_get(o, "exit_code")));
	ASSERT(json_is_null(json_object_get(o, "error")));

	/* Through text and back: the same document. */
	text = json_dumps(o, JSON_COMPACT);
	ASSERT(text != NULL);
	again = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	ASSERT(again != NULL);
	ASSERT(json_equal(o, again));
	json_decref(again);
	free(text);

	/* The spec fields of the output are a valid spec again. */
	again = json_pack("{s:O,s:O,s:O,s:O,s:O,s:O}", "name",
	    json_object_get(o, "name"), "image", json_object_get(o, "image"),
	    "memory", json_object_get(o, "memory"), "cpu",
	    json_object_get(o, "cpu"), "env", json_object_get(o, "env"),
	    "command", json_object_get(o, "command"));
	ASSERT(again != NULL);
	text = json_dumps(again, JSON_COMPACT);
	ASSERT(text != NULL);
	ASSERT_INT_EQ(
	    orch_task_spec_from_json(text, strlen(text), &s, err, sizeof(err)),
	    ORCH_OK);
	ASSERT_INT_EQ(s->memory_mb, 256);
	ASSERT(s->cpu == 0.25);
	ASSERT_INT_EQ(s->n_env, 3);
	ASSERT_STR_EQ(s->env[2]->value, "\xc3\xa9");
	ASSERT_INT_EQ(s->n_command, 3);
	orch_task_spec_free(s);
	free(text);
	json_decref(again);
	json_decref(o);
	orch_task_free(t);

	/* A minimal spec: env {} and command [] rather than null. */
	s = spec_ok("{\"name\":\"n\",\"image\":\"i\"}");
	ASSERT_INT_EQ(orch_task_new(s, &t), ORCH_OK);
	o = orch_task_to_json(t);
	ASSERT(o != NULL);
	keys_check(o);
	ASSERT(json_is_object(json_object_get(o, "env")));
	ASSERT_INT_EQ(json_object_size(json_object_get(o, "env")), 0);
	ASSERT(json_is_array(json_object_get(o, "command")));
	ASSERT_INT_EQ(json_array_size(json_object_get(o, "command")), 0);
	ASSERT(json_real_value(json_object_get(o, "cpu")) == 0.5);
	/* cpu is a real even when whole. */
	t->spec->cpu = 2.0;
	json_decref(o);
	o = orch_task_to_json(t);
	ASSERT(json_is_real(json_object_get(o, "cpu")));
	text = json_dumps(json_object_get(o, "cpu"), JSON_ENCODE_ANY);
	ASSERT_STR_EQ(text, "2.0");
	free(text);
	json_decref(o);
	orch_task_free(t);
}

static void
test_encode_states(void)
{
	orch_task_spec *s = spec_ok("{\"name\":\"n\",\"image\":\"i\"}");
	orch_task *t = NULL;
	json_t *o;
	char *text;

	ASSERT_INT_EQ(orch_task_new(s, &t), ORCH_OK);

	/* Exit code 0 is a value, not an absence. */
	t->has_exit_code = true;
	t->exit_code = 0;
	o = orch_task_to_json(t);
	ASSERT(json_is_integer(json_object_get(o, "exit_code")));
	ASSERT_INT_EQ(json_integer_value(json_object_get(o, "exit_code")), 0);
	text = json_dumps(o, JSON_COMPACT);
	ASSERT_STR_CONTAINS(text, "\"exit_code\":0,");
	free(text);
	json_decref(o);
	t->exit_code = -2147483647 - 1;
	o = orch_task_to_json(t);
	ASSERT_INT_EQ(
	    json_integer_value(json_object_get(o, "exit_code")), INT32_MIN);
	json_decref(o);
	t->has_exit_code = false;
	o = orch_task_to_json(t);
	ASSERT(json_is_null(json_object_get(o, "exit_code")));
	json_decref(o);

	/* Empty strings mean "none" for node_id, container_id and error. */
	ASSERT_INT_EQ(orch_str_set(&t->node_id, ""), ORCH_OK);
	ASSERT_INT_EQ(orch_str_set(&t->container_id, ""), ORCH_OK);
	ASSERT_INT_EQ(orch_str_set(&t->error, ""), ORCH_OK);
	o = orch_task_to_json(t);
	ASSERT(json_is_null(json_object_get(o, "node_id")));
	ASSERT(json_is_null(json_object_get(o, "container_id")));
	ASSERT(json_is_null(json_object_get(o, "error")));
	json_decref(o);
	ASSERT_INT_EQ(orch_str_set(&t->node_id, "node-1"), ORCH_OK);
	ASSERT_INT_EQ(orch_str_set(&t->container_id, "abc123"), ORCH_OK);
	ASSERT_INT_EQ(orch_str_set(&t->error, "image not found"), ORCH_OK);

	/* Times: fixed values, in UTC with milliseconds. */
	t->has_created_at_ms = true;
	t->created_at_ms = 0;
	t->has_started_at_ms = true;
	t->started_at_ms = 1700000000123LL;
	t->has_finished_at_ms = true;
	t->finished_at_ms = 1700000060005LL;
	t->status = ORCH__TASK_STATUS__TASK_STATUS_FAILED;
	o = orch_task_to_json(t);
	keys_check(o);
	ASSERT_STR_EQ(json_string_value(json_object_get(o, "created_at")),
	    "1970-01-01T00:00:00.000Z");
	ASSERT_STR_EQ(json_string_value(json_object_get(o, "started_at")),
	    "2023-11-14T22:13:20.123Z");
	ASSERT_STR_EQ(json_string_value(json_object_get(o, "finished_at")),
	    "2023-11-14T22:14:20.005Z");
	ASSERT_STR_EQ(
	    json_string_value(json_object_get(o, "status")), "Failed");
	ASSERT_STR_EQ(
	    json_string_value(json_object_get(o, "node_id")), "node-1");
	ASSERT_STR_EQ(
	    json_string_value(json_object_get(o, "container_id")), "abc123");
	ASSERT_STR_EQ(
	    json_string_value(json_object_get(o, "error")), "image not found");
	json_decref(o);

	/* Every status has its name; an unknown one is null, not a crash. */
	for (int st = ORCH__TASK_STATUS__TASK_STATUS_PENDING;
	     st <= ORCH__TASK_STATUS__TASK_STATUS_STOPPED; st++) {
		t->status = (Orch__TaskStatus)st;
		o = orch_task_to_json(t);
		ASSERT_STR_EQ(json_string_value(json_object_get(o, "status")),
		    orch_task_status_name(st));
		json_decref(o);
	}
	t->status = (Orch__TaskStatus)99;
	o = orch_task_to_json(t);
	ASSERT(json_is_null(json_object_get(o, "status")));
	json_decref(o);

	/* Strings that did not come through JSON may not be UTF-8 (an RPC
	 * client's spec, a driver's message): bad bytes become U+FFFD. */
	ASSERT_INT_EQ(orch_str_set(&t->error, "bad \xff byte \xc3"), ORCH_OK);
	ASSERT_INT_EQ(orch_str_set(&t->spec->name, "\xed\xa0\x80x"), ORCH_OK);
	o = orch_task_to_json(t);
	ASSERT(o != NULL);
	ASSERT_STR_EQ(json_string_value(json_object_get(o, "error")),
	    "bad \xef\xbf\xbd byte \xef\xbf\xbd");
	ASSERT_STR_EQ(json_string_value(json_object_get(o, "name")),
	    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdx");
	json_decref(o);

	/* A non-finite cpu (only possible from a corrupt record) is null. */
	t->spec->cpu = NAN;
	o = orch_task_to_json(t);
	ASSERT(o != NULL);
	ASSERT(json_is_null(json_object_get(o, "cpu")));
	json_decref(o);
	orch_task_free(t);

	/* A task without a spec still encodes, with nulls and empties. */
	orch_task bare = ORCH__TASK__INIT;

	o = orch_task_to_json(&bare);
	ASSERT(o != NULL);
	keys_check(o);
	ASSERT(json_is_null(json_object_get(o, "id")));
	ASSERT(json_is_null(json_object_get(o, "name")));
	ASSERT(json_is_null(json_object_get(o, "memory")));
	ASSERT(json_is_null(json_object_get(o, "status")));
	ASSERT(json_is_null(json_object_get(o, "created_at")));
	ASSERT_INT_EQ(json_object_size(json_object_get(o, "env")), 0);
	json_decref(o);
}

static void
test_encode_env_from_rpc(void)
{
	/* A spec built by hand, as the RPC server decodes one. */
	orch_task_spec *s = malloc(sizeof(*s));
	orch_task *t = NULL;
	json_t *o, *env;

	ASSERT(s != NULL);
	orch__task_spec__init(s);
	s->name = strdup("n");
	s->image = strdup("i");
	s->n_env = 2;
	s->env = calloc(2, sizeof(*s->env));
	for (int i = 0; i < 2; i++) {
		s->env[i] = malloc(sizeof(*s->env[i]));
		orch__task_spec__env_entry__init(s->env[i]);
	}
	s->env[0]->key = strdup("K\xfe");
	s->env[0]->value = strdup("v");
	/* key and value left NULL: written as "" rather than dropped. */
	s->n_command = 1;
	s->command = calloc(1, sizeof(*s->command));
	s->command[0] = strdup("\x80");
	ASSERT_INT_EQ(orch_task_new(s, &t), ORCH_OK);
	o = orch_task_to_json(t);
	ASSERT(o != NULL);
	env = json_object_get(o, "env");
	ASSERT_STR_EQ(
	    json_string_value(json_object_get(env, "K\xef\xbf\xbd")), "v");
	ASSERT_STR_EQ(json_string_value(json_object_get(env, "")), "");
	ASSERT_STR_EQ(
	    json_string_value(json_array_get(json_object_get(o, "command"), 0)),
	    "\xef\xbf\xbd");
	json_decref(o);
	orch_task_free(t);
}

/* Decodes an update body; on success the caller decrefs *root. */
static int
update_parse(
    const char *body, struct orch_task_update *u, json_t **root, char *err)
{
	err[0] = '\0';
	return orch_task_update_from_json(
	    body, strlen(body), u, root, err, ERRLEN);
}

static void
update_refused(const char *body, const char *want)
{
	struct orch_task_update u;
	json_t *root = (json_t *)&root;
	char err[ERRLEN];
	int rc = update_parse(body, &u, &root, err);

	if (rc != ORCH_EINVAL || root != NULL || strstr(err, want) == NULL)
		h_fail(__FILE__, __LINE__,
		    "update %s: rc %d, error \"%s\", wanted \"%s\"", body, rc,
		    err, want);
	ASSERT(u.container_id == NULL && u.error == NULL && !u.has_exit_code);
}

static void
test_update_decode(void)
{
	struct orch_task_update u;
	json_t *root;
	char err[ERRLEN];

	/* The original worker's report. */
	ASSERT_INT_EQ(
	    update_parse("{\"status\":\"Running\",\"container_id\":\"abc\"}",
	        &u, &root, err),
	    ORCH_OK);
	ASSERT_INT_EQ(u.status, ORCH__TASK_STATUS__TASK_STATUS_RUNNING);
	ASSERT_STR_EQ(u.container_id, "abc");
	ASSERT(!u.has_exit_code);
	ASSERT(u.error == NULL);
	json_decref(root);

	/* The original spelling, a null container id and exit code 0. */
	ASSERT_INT_EQ(
	    update_parse("{\"status\":\"Complete\",\"container_id\":null,"
	                 "\"exit_code\":0}",
	        &u, &root, err),
	    ORCH_OK);
	ASSERT_INT_EQ(u.status, ORCH__TASK_STATUS__TASK_STATUS_COMPLETED);
	ASSERT(u.container_id == NULL);
	ASSERT(u.has_exit_code);
	ASSERT_INT_EQ(u.exit_code, 0);
	json_decref(root);

	ASSERT_INT_EQ(
	    update_parse("{\"status\":\"Completed\"}", &u, &root, err),
	    ORCH_OK);
	ASSERT_INT_EQ(u.status, ORCH__TASK_STATUS__TASK_STATUS_COMPLETED);
	ASSERT(u.container_id == NULL && u.error == NULL && !u.has_exit_code);
	json_decref(root);

	ASSERT_INT_EQ(
	    update_parse("{\"error\":\"OOM killed\",\"exit_code\":-9,"
	                 "\"status\":\"Failed\",\"container_id\":\"c\"}",
	        &u, &root, err),
	    ORCH_OK);
	ASSERT_INT_EQ(u.status, ORCH__TASK_STATUS__TASK_STATUS_FAILED);
	ASSERT_STR_EQ(u.error, "OOM killed");
	ASSERT_INT_EQ(u.exit_code, -9);
	ASSERT_STR_EQ(u.container_id, "c");
	json_decref(root);

	ASSERT_INT_EQ(update_parse("{\"status\":\"Failed\",\"exit_code\":null,"
	                           "\"error\":null}",
	                  &u, &root, err),
	    ORCH_OK);
	ASSERT(!u.has_exit_code);
	ASSERT(u.error == NULL);
	json_decref(root);

	ASSERT_INT_EQ(
	    update_parse("{\"status\":\"Failed\",\"exit_code\":2147483647}", &u,
	        &root, err),
	    ORCH_OK);
	ASSERT_INT_EQ(u.exit_code, INT32_MAX);
	json_decref(root);
	ASSERT_INT_EQ(
	    update_parse("{\"status\":\"Failed\",\"exit_code\":-2147483648}",
	        &u, &root, err),
	    ORCH_OK);
	ASSERT_INT_EQ(u.exit_code, INT32_MIN);
	json_decref(root);

	update_refused("{\"status\":\"Failed\",\"exit_code\":2147483648}",
	    "field \"exit_code\" must be an integer from -2147483648 to "
	    "2147483647");
	update_refused("{\"status\":\"Failed\",\"exit_code\":-2147483649}",
	    "field \"exit_code\" must be an integer");
	update_refused("{\"status\":\"Failed\",\"exit_code\":1.0}",
	    "field \"exit_code\" must be an integer");
	update_refused("{\"status\":\"Failed\",\"exit_code\":\"1\"}",
	    "field \"exit_code\" must be an integer");
	update_refused(
	    "{\"container_id\":\"c\"}", "field \"status\" is required");
	update_refused("{\"status\":null}", "field \"status\" is required");
	update_refused("{\"status\":3}", "field \"status\" must be a string");
	update_refused("{\"status\":\"running\"}",
	    "field \"status\" must be one of Pending, Scheduled, Running, "
	    "Completed, Failed or Stopped, not \"running\"");
	update_refused("{\"status\":\"\"}", "field \"status\" must be one of");
	update_refused("{\"status\":\"Running\\u0000\"}",
	    "field \"status\" must not contain NUL");
	update_refused("{\"status\":\"Running\",\"container_id\":5}",
	    "field \"container_id\" must be a string");
	update_refused(
	    "{\"status\":\"Running\",\"container_id\":\"a\\u0000b\"}",
	    "field \"container_id\" must not contain NUL");
	update_refused("{\"status\":\"Failed\",\"error\":[]}",
	    "field \"error\" must be a string");
	update_refused("{\"status\":\"Running\",\"node_id\":\"n\"}",
	    "unknown field \"node_id\"");
	update_refused("{\"status\":\"Running\",\"status\":\"Failed\"}",
	    "duplicate object key");
	update_refused(
	    "{\"status\":\"Running\"} trailing", "malformed JSON at line 1");
	update_refused("[\"Running\"]", "request body must be a JSON object");
	update_refused("\"Running\"", "request body must be a JSON object");
	update_refused("", "request body must be a JSON object");

	/* A long error is capped. */
	size_t cap = ORCH_STRING_MAX + 64;
	char *b = malloc(cap);
	size_t off;

	ASSERT(b != NULL);
	off = (size_t)snprintf(b, cap, "{\"status\":\"Failed\",\"error\":\"");
	memset(b + off, 'e', ORCH_STRING_MAX + 1);
	snprintf(b + off + ORCH_STRING_MAX + 1, cap - off - ORCH_STRING_MAX - 1,
	    "\"}");
	update_refused(b, "field \"error\" must be at most 65536 bytes");
	free(b);
}

/* ---- scheduling fields, services, drain ---- */

static void
test_spec_policy_fields(void)
{
	orch_task_spec *s =
	    spec_ok("{\"name\":\"n\",\"image\":\"i\","
	            "\"constraints\":[\"zone==a\",\" disk != hdd \"],"
	            "\"placement\":\"binpack\",\"restart\":\"on-failure:3\"}");
	orch_task *t;
	json_t *j;

	ASSERT_INT_EQ(s->n_constraints, 2);
	ASSERT_STR_EQ(s->constraints[0], "zone==a");
	/* Kept as given; the scheduler parses them. */
	ASSERT_STR_EQ(s->constraints[1], " disk != hdd ");
	ASSERT_STR_EQ(s->placement, "binpack");
	ASSERT_STR_EQ(s->restart, "on-failure:3");
	ASSERT_INT_EQ(orch_task_new(s, &t), ORCH_OK);
	j = orch_task_to_json(t);
	ASSERT_INT_EQ(json_array_size(json_object_get(j, "constraints")), 2);
	ASSERT_STR_EQ(
	    json_string_value(json_object_get(j, "placement")), "binpack");
	ASSERT_STR_EQ(
	    json_string_value(json_object_get(j, "restart")), "on-failure:3");
	ASSERT_INT_EQ(json_integer_value(json_object_get(j, "restarts")), 0);
	ASSERT(json_is_null(json_object_get(j, "service")));
	ASSERT(json_is_null(json_object_get(j, "replaces")));
	ASSERT(json_is_null(json_object_get(j, "replaced_by")));
	ASSERT(json_is_null(json_object_get(j, "not_before")));
	json_decref(j);
	orch_task_free(t);

	/* Absent: the defaults are stored by orch_task_new(). */
	s = spec_ok("{\"name\":\"n\",\"image\":\"i\",\"constraints\":null,"
	            "\"placement\":null,\"restart\":null}");
	ASSERT_INT_EQ(orch_task_new(s, &t), ORCH_OK);
	ASSERT_STR_EQ(t->spec->placement, "spread");
	ASSERT_STR_EQ(t->spec->restart, "never");
	orch_task_free(t);

	spec_refused("{\"name\":\"n\",\"image\":\"i\","
	             "\"constraints\":[\"zone==a\",\"zone=b\"]}",
	    "field \"constraints\": malformed constraint \"zone=b\": want "
	    "KEY==VALUE or KEY!=VALUE");
	spec_refused(
	    "{\"name\":\"n\",\"image\":\"i\",\"constraints\":[\"==\"]}",
	    "malformed constraint \"==\"");
	spec_refused(
	    "{\"name\":\"n\",\"image\":\"i\",\"constraints\":\"a==b\"}",
	    "field \"constraints\" must be an array of strings");
	spec_refused("{\"name\":\"n\",\"image\":\"i\",\"constraints\":[1]}",
	    "field \"constraints\": entry 0 must be a string");
	spec_refused("{\"name\":\"n\",\"image\":\"i\","
	             "\"constraints\":[\"a\\u0000==b\"]}",
	    "field \"constraints\": entry 0 must be a string without NUL");
	spec_refused("{\"name\":\"n\",\"image\":\"i\",\"placement\":\"pack\"}",
	    "field \"placement\" must be spread or binpack, not \"pack\"");
	spec_refused("{\"name\":\"n\",\"image\":\"i\",\"placement\":1}",
	    "field \"placement\" must be a string");
	spec_refused("{\"name\":\"n\",\"image\":\"i\",\"restart\":\"often\"}",
	    "field \"restart\" must be never, on-failure, on-failure:N");
	spec_refused("{\"name\":\"n\",\"image\":\"i\",\"service\":\"web\"}",
	    "unknown field \"service\"");
	spec_refused("{\"name\":\"n\",\"image\":\"i\",\"restarts\":1}",
	    "unknown field \"restarts\"");
	/* More than the limit, refused before anything is allocated. */
	{
		char body[8192];
		size_t o;

		o = (size_t)snprintf(body, sizeof(body),
		    "{\"name\":\"n\",\"image\":\"i\",\"constraints\":[");
		for (int i = 0; i <= ORCH_CONSTRAINTS_MAX; i++)
			o += (size_t)snprintf(body + o, sizeof(body) - o,
			    "%s\"k==%d\"", i > 0 ? "," : "", i);
		snprintf(body + o, sizeof(body) - o, "]}");
		spec_refused(body, "field \"constraints\" has more than 64");
	}
}

/* ---- container settings ---- */

static void
test_spec_container_fields(void)
{
	orch_task_spec *s =
	    spec_ok("{\"name\":\"n\",\"image\":\"i\",\"privileged\":true,"
	            "\"volumes\":[\"/srv/data:/data:ro\",\"cache:/cache\"],"
	            "\"network\":\"host\",\"cap_add\":[\"NET_ADMIN\",\"cap_sys_"
	            "time\"]}");
	orch_task *t, *back;
	json_t *j;
	char *text, err[ERRLEN];

	ASSERT(s->has_privileged && s->privileged);
	ASSERT_INT_EQ(s->n_volumes, 2);
	ASSERT_STR_EQ(s->volumes[0], "/srv/data:/data:ro");
	ASSERT_STR_EQ(s->volumes[1], "cache:/cache");
	ASSERT_STR_EQ(s->network, "host");
	ASSERT_INT_EQ(s->n_cap_add, 2);
	/* Kept as given: Docker and the policy read any accepted form. */
	ASSERT_STR_EQ(s->cap_add[1], "cap_sys_time");
	ASSERT_INT_EQ(orch_task_new(s, &t), ORCH_OK);
	j = orch_task_to_json(t);
	ASSERT(json_is_true(json_object_get(j, "privileged")));
	ASSERT_STR_EQ(
	    json_string_value(json_array_get(json_object_get(j, "volumes"), 0)),
	    "/srv/data:/data:ro");
	ASSERT_STR_EQ(json_string_value(json_object_get(j, "network")), "host");
	ASSERT_STR_EQ(
	    json_string_value(json_array_get(json_object_get(j, "cap_add"), 0)),
	    "NET_ADMIN");
	/* The encoding decodes to the same settings (through protobuf too,
	 * as the store keeps them). */
	{
		size_t n = orch__task__get_packed_size(t);
		uint8_t *buf = malloc(n);

		ASSERT(buf != NULL);
		orch__task__pack(t, buf);
		back = orch__task__unpack(NULL, n, buf);
		free(buf);
		ASSERT(back != NULL);
		ASSERT(back->spec->privileged);
		ASSERT_INT_EQ(back->spec->n_volumes, 2);
		ASSERT_STR_EQ(back->spec->network, "host");
		ASSERT_INT_EQ(back->spec->n_cap_add, 2);
		orch_task_free(back);
	}
	json_decref(j);
	orch_task_free(t);

	/* Absent: isolation as Docker gives it, written out in full. */
	s = spec_ok("{\"name\":\"n\",\"image\":\"i\",\"privileged\":null,"
	            "\"volumes\":null,\"network\":null,\"cap_add\":null}");
	ASSERT(!s->has_privileged);
	ASSERT_INT_EQ(orch_task_new(s, &t), ORCH_OK);
	j = orch_task_to_json(t);
	ASSERT(json_is_false(json_object_get(j, "privileged")));
	ASSERT_INT_EQ(json_array_size(json_object_get(j, "volumes")), 0);
	ASSERT_STR_EQ(
	    json_string_value(json_object_get(j, "network")), "bridge");
	ASSERT_INT_EQ(json_array_size(json_object_get(j, "cap_add")), 0);
	text = json_dumps(j, JSON_COMPACT);
	ASSERT_STR_CONTAINS(text,
	    "\"privileged\":false,\"volumes\":[],"
	    "\"network\":\"bridge\",\"cap_add\":[],");
	free(text);
	json_decref(j);
	orch_task_free(t);

	spec_refused("{\"name\":\"n\",\"image\":\"i\",\"privileged\":1}",
	    "field \"privileged\" must be true or false");
	spec_refused("{\"name\":\"n\",\"image\":\"i\",\"volumes\":\"/a:/b\"}",
	    "field \"volumes\" must be an array of strings such as");
	spec_refused("{\"name\":\"n\",\"image\":\"i\",\"volumes\":[\"/a\"]}",
	    "field \"volumes\": entry 0 (\"/a\") must be SOURCE:TARGET");
	spec_refused(
	    "{\"name\":\"n\",\"image\":\"i\",\"volumes\":[\"../x:/b\"]}",
	    "SOURCE must be an absolute host path");
	spec_refused("{\"name\":\"n\",\"image\":\"i\",\"volumes\":[1]}",
	    "field \"volumes\": entry 0 must be a string");
	spec_refused("{\"name\":\"n\",\"image\":\"i\",\"network\":\"mine\"}",
	    "field \"network\" must be bridge, host or none, not \"mine\"");
	spec_refused("{\"name\":\"n\",\"image\":\"i\",\"network\":true}",
	    "field \"network\" must be a string");
	spec_refused(
	    "{\"name\":\"n\",\"image\":\"i\",\"cap_add\":[\"NET ADMIN\"]}",
	    "field \"cap_add\": entry 0 (\"NET ADMIN\") is not a capability");
	spec_refused("{\"name\":\"n\",\"image\":\"i\",\"cap_add\":\"ALL\"}",
	    "field \"cap_add\" must be an array of strings");
	spec_refused("{\"name\":\"n\",\"image\":\"i\",\"cap_drop\":[]}",
	    "unknown field \"cap_drop\"");

	/* A service takes them too, and shows them. */
	{
		orch_service *svc = NULL;
		const char *body =
		    "{\"name\":\"w\",\"image\":\"i\",\"network\":\"none\","
		    "\"volumes\":[\"c:/c\"]}";

		ASSERT_INT_EQ(orch_service_from_json(
		                  body, strlen(body), &svc, err, sizeof(err)),
		    ORCH_OK);
		ASSERT_STR_EQ(svc->spec->network, "none");
		j = orch_service_to_json(svc, false);
		ASSERT_STR_EQ(
		    json_string_value(json_object_get(j, "network")), "none");
		ASSERT_INT_EQ(
		    json_array_size(json_object_get(j, "volumes")), 1);
		ASSERT(json_is_false(json_object_get(j, "privileged")));
		json_decref(j);
		orch_service_free(svc);
	}
}

static orch_service *
service_ok(const char *body)
{
	char err[ERRLEN];
	orch_service *s = NULL;

	if (orch_service_from_json(body, strlen(body), &s, err, sizeof(err)) !=
	    ORCH_OK)
		h_fail(__FILE__, __LINE__, "body %s refused: %s", body, err);
	return s;
}

static void
service_refused(const char *body, const char *want)
{
	char err[ERRLEN] = "";
	orch_service *s = NULL;
	int rc =
	    orch_service_from_json(body, strlen(body), &s, err, sizeof(err));

	if (rc != ORCH_EINVAL || s != NULL || strstr(err, want) == NULL)
		h_fail(__FILE__, __LINE__,
		    "body %s: rc %d, error \"%s\", "
		    "wanted \"%s\"",
		    body, rc, err, want);
}

static void
test_service_json(void)
{
	orch_service *s = service_ok(
	    "{\"name\":\"web-1.a_b\",\"image\":\"nginx:1\",\"replicas\":3,"
	    "\"memory\":64,\"env\":{\"K\":\"v\"},\"constraints\":[\"a==b\"]}");
	json_t *j, *t;
	orch_task *r;
	uint32_t n;
	bool drain;
	char err[ERRLEN];

	ASSERT(orch_id_valid(s->id));
	ASSERT_STR_EQ(s->name, "web-1.a_b");
	ASSERT_INT_EQ(s->replicas, 3);
	ASSERT_STR_EQ(s->spec->restart, "always");
	ASSERT_STR_EQ(s->spec->placement, "spread");
	ASSERT_STR_EQ(s->spec->service, "web-1.a_b");
	ASSERT(s->spec->has_cpu && s->spec->cpu == 0.5);
	ASSERT_INT_EQ(s->spec->memory_mb, 64);
	/* A replica: the template, named for its slot. */
	ASSERT_INT_EQ(orch_service_task_new(s, 2, 5, &r), ORCH_OK);
	ASSERT_STR_EQ(r->spec->name, "web-1.a_b.2");
	ASSERT_STR_EQ(r->spec->service, "web-1.a_b");
	ASSERT_STR_EQ(r->service_id, s->id);
	ASSERT_INT_EQ(r->slot, 2);
	ASSERT_INT_EQ(r->restarts, 5);
	ASSERT_STR_EQ(r->spec->env[0]->value, "v");
	s->has_running = true;
	s->running = 1;
	s->n_tasks = 1;
	s->tasks = malloc(sizeof(*s->tasks));
	ASSERT(s->tasks != NULL);
	s->tasks[0] = r;
	j = orch_service_to_json(s, true);
	ASSERT_STR_EQ(
	    json_string_value(json_object_get(j, "name")), "web-1.a_b");
	ASSERT_INT_EQ(json_integer_value(json_object_get(j, "replicas")), 3);
	ASSERT_INT_EQ(json_integer_value(json_object_get(j, "running")), 1);
	ASSERT_STR_EQ(
	    json_string_value(json_object_get(j, "restart")), "always");
	t = json_array_get(json_object_get(j, "tasks"), 0);
	ASSERT_STR_EQ(
	    json_string_value(json_object_get(t, "service")), "web-1.a_b");
	json_decref(j);
	j = orch_service_to_json(s, false);
	ASSERT(json_object_get(j, "tasks") == NULL);
	json_decref(j);
	orch_service_free(s);

	/* Replicas default to 1; a given restart policy is kept. */
	s = service_ok(
	    "{\"name\":\"w\",\"image\":\"i\",\"restart\":\"never\"}");
	ASSERT_INT_EQ(s->replicas, 1);
	ASSERT_STR_EQ(s->spec->restart, "never");
	orch_service_free(s);
	s = service_ok("{\"name\":\"w\",\"image\":\"i\",\"replicas\":0}");
	ASSERT_INT_EQ(s->replicas, 0);
	orch_service_free(s);

	service_refused("{\"image\":\"i\"}", "field \"name\" is required");
	service_refused("{\"name\":\"\",\"image\":\"i\"}", "field \"name\"");
	service_refused("{\"name\":\"-w\",\"image\":\"i\"}", "field \"name\"");
	service_refused("{\"name\":\"a/b\",\"image\":\"i\"}", "field \"name\"");
	service_refused("{\"name\":1,\"image\":\"i\"}", "field \"name\"");
	service_refused("{\"name\":\"w\"}", "field \"image\" is required");
	service_refused("{\"name\":\"w\",\"image\":\"i\",\"replicas\":-1}",
	    "field \"replicas\" must be an integer from 0 to 10000");
	service_refused("{\"name\":\"w\",\"image\":\"i\",\"replicas\":10001}",
	    "field \"replicas\"");
	service_refused("{\"name\":\"w\",\"image\":\"i\",\"replicas\":1.5}",
	    "field \"replicas\"");
	service_refused("{\"name\":\"w\",\"image\":\"i\",\"restart\":\"no\"}",
	    "field \"restart\"");
	service_refused(
	    "{\"name\":\"w\",\"image\":\"i\",\"constraints\":[\"x\"]}",
	    "malformed constraint \"x\"");
	service_refused("{\"name\":\"w\",\"image\":\"i\",\"slot\":1}",
	    "unknown field \"slot\"");
	service_refused("[1]", "request body must be a JSON object");

	ASSERT_INT_EQ(orch_service_scale_from_json("{\"replicas\":7}",
	                  strlen("{\"replicas\":7}"), &n, err, sizeof(err)),
	    ORCH_OK);
	ASSERT_INT_EQ(n, 7);
	ASSERT_INT_EQ(orch_service_scale_from_json(
	                  "{}", strlen("{}"), &n, err, sizeof(err)),
	    ORCH_EINVAL);
	ASSERT_STR_CONTAINS(err, "field \"replicas\" is required");
	ASSERT_INT_EQ(
	    orch_service_scale_from_json("{\"replicas\":2,\"x\":1}",
	        strlen("{\"replicas\":2,\"x\":1}"), &n, err, sizeof(err)),
	    ORCH_EINVAL);
	ASSERT_STR_CONTAINS(err, "unknown field \"x\"");
	ASSERT_INT_EQ(
	    orch_drain_from_json("{\"drain\":false}",
	        strlen("{\"drain\":false}"), &drain, err, sizeof(err)),
	    ORCH_OK);
	ASSERT(!drain);
	ASSERT_INT_EQ(
	    orch_drain_from_json("{\"drain\":\"yes\"}",
	        strlen("{\"drain\":\"yes\"}"), &drain, err, sizeof(err)),
	    ORCH_EINVAL);
	ASSERT_STR_CONTAINS(err, "field \"drain\"");
}

int
main(void)
{
	RUN(test_spec_minimal);
	RUN(test_spec_policy_fields);
	RUN(test_spec_container_fields);
	RUN(test_service_json);
	RUN(test_spec_full);
	RUN(test_spec_null_is_absent);
	RUN(test_spec_driver);
	RUN(test_spec_field_errors);
	RUN(test_spec_malformed);
	RUN(test_spec_nul);
	RUN(test_spec_limits);
	RUN(test_error_messages_utf8);
	RUN(test_round_trip);
	RUN(test_encode_states);
	RUN(test_encode_env_from_rpc);
	RUN(test_update_decode);
	return 0;
}
