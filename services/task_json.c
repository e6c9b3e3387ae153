/*
 * task_json.c: the task in the original project's JSON, both ways.
 *
 * Decoding is strict: the API answers a person, so every refusal names the
 * field and says what was expected.  Encoding never fails on the content of
 * a task, only when memory runs out.
 */
#include "task_json.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "constraint.h"
#include "container.h"
#include "error.h"
#include "health.h"

/*
 * JSON_DECODE_ANY lets a body that is a bare string or number parse, so
 * that it is refused as "must be a JSON object" rather than with jansson's
 * "'[' or '{' expected".  JSON_ALLOW_NUL lets a "\u0000" through the parser
 * so that the refusal names the field instead of quoting jansson's flag.
 * Trailing garbage stays refused: JSON_DISABLE_EOF_CHECK is not given.
 */
#define DECODE_FLAGS (JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL)

/* How many bytes of a client's key an error message quotes. */
#define QUOTE_MAX 64

static json_t *json_time(bool has, int64_t ms);
static int spec_text_decode(
    json_t *obj, const char *key, char **field, char *err, size_t errlen);

/*
 * A JSON string for s.  Strings that did not come through the JSON decoder
 * (an RPC client's spec, a driver's error text) may hold bytes that are not
 * UTF-8, which json_string() refuses; those bytes become U+FFFD so that one
 * bad byte cannot hide a whole task.  NULL when out of memory.
 */
static json_t *
json_text(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), o = 0, n, k;
	char *fixed;
	json_t *j;

	for (n = 0; n < len; n += k) {
		if ((k = orch_utf8_seq_len(p + n)) == 0)
			break;
	}
	if (n == len)
		return json_stringn_nocheck(s, len);
	if (len > (SIZE_MAX - 1) / 3 || (fixed = malloc(len * 3 + 1)) == NULL)
		return NULL;
	for (size_t i = 0; i < len; i += n) {
		if ((n = orch_utf8_seq_len(p + i)) == 0) {
			memcpy(fixed + o, "\xef\xbf\xbd", 3);
			o += 3;
			n = 1;
		} else {
			memcpy(fixed + o, s + i, n);
			o += n;
		}
	}
	j = json_stringn_nocheck(fixed, o);
	free(fixed);
	return j;
}

json_t *
orch_json_text(const char *s)
{
	return json_text(s);
}

char *
orch_json_line(const json_t *j, size_t *len)
{
	size_t n = j != NULL ? json_dumpb(j, NULL, 0, JSON_COMPACT) : 0;
	char *s;

	if (n == 0 || (s = malloc(n + 1)) == NULL)
		return NULL;
	json_dumpb(j, s, n, JSON_COMPACT);
	s[n++] = '\n';
	*len = n;
	return s;
}

json_t *
orch_json_time(bool has, int64_t ms)
{
	return json_time(has, ms);
}

/* json_text(s), or null when s is NULL. */
static json_t *
json_text_or_null(const char *s)
{
	return s == NULL ? json_null() : json_text(s);
}

/* json_text(s), or null when s is NULL or empty: protobuf-c cannot tell
 * an unset string from an empty one, and the API means both as "none". */
static json_t *
json_text_or_none(const char *s)
{
	return s == NULL || s[0] == '\0' ? json_null() : json_text(s);
}

/* A time as RFC 3339, or null when it is not set. */
static json_t *
json_time(bool has, int64_t ms)
{
	char buf[ORCH_RFC3339_LEN];

	if (!has)
		return json_null();
	return json_string(orch_rfc3339(ms, buf, sizeof(buf)));
}

/*
 * How many bytes of s (valid UTF-8) to quote in a message: at most
 * QUOTE_MAX, never ending inside a character, so that the message stays
 * valid UTF-8 for the JSON error body that carries it.
 */
static int
quote_len(const char *s)
{
	size_t n = strnlen(s, QUOTE_MAX);

	if (s[n] != '\0') {
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	return (int)n;
}

/* Writes a message into err.  When errlen cuts it short, drops a trailing
 * partial UTF-8 character for the same reason as quote_len(). */
static void err_set(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
err_set(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	size_t end, i;
	int n;

	if (errlen == 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n < errlen)
		return;
	/* Back to the lead byte of the last character; cut it if incomplete. */
	end = errlen - 1;
	for (i = end; i > 0 && end - i < 4; i--) {
		if (((unsigned char)err[i - 1] & 0xc0) != 0x80)
			break;
	}
	if (i > 0 && orch_utf8_seq_len((const unsigned char *)err + i - 1) == 0)
		err[i - 1] = '\0';
}

/* True when the JSON string v holds no NUL byte: C strings would silently
 * cut it there. */
static bool
json_text_plain(const json_t *v)
{
	return json_string_length(v) == strlen(json_string_value(v));
}

/* Parses buf as one JSON object into *root (OUT, a new reference). */
static int
body_parse(const char *buf, size_t len, json_t **root, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *r;
	size_t i;

	*root = NULL;
	for (i = 0; i < len; i++) {
		if (buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\r' &&
		    buf[i] != '\n')
			break;
	}
	if (i == len) {
		err_set(err, errlen,
		    "request body must be a JSON object, and it is empty");
		return ORCH_EINVAL;
	}
	if ((r = json_loadb(buf, len, DECODE_FLAGS, &jerr)) == NULL) {
		orch_text_utf8_repair(jerr.text);
		err_set(err, errlen, "malformed JSON at line %d column %d: %s",
		    jerr.line, jerr.column, jerr.text);
		return ORCH_EINVAL;
	}
	if (!json_is_object(r)) {
		json_decref(r);
		err_set(err, errlen, "request body must be a JSON object");
		return ORCH_EINVAL;
	}
	*root = r;
	return ORCH_OK;
}

/* Refuses a key of obj that is not in known (NULL-terminated): a
 * misspelt optional field must not be silently ignored. */
static int
fields_check(json_t *obj, const char *const *known, char *err, size_t errlen)
{
	const char *key;
	size_t klen;
	json_t *v;

	json_object_keylen_foreach(obj, key, klen, v)
	{
		size_t i;

		for (i = 0; known[i] != NULL; i++) {
			if (strlen(known[i]) == klen &&
			    strcmp(key, known[i]) == 0)
				break;
		}
		if (known[i] == NULL) {
			err_set(err, errlen, "unknown field \"%.*s\"",
			    quote_len(key), key);
			return ORCH_EINVAL;
		}
	}
	return ORCH_OK;
}

/* Reads member key of obj, a string or null of at most max bytes, into
 * *out (OUT, pointing into obj; NULL when absent or null).  Messages name
 * the field prefix key: prefix is "" at the top level, "health." in the
 * health check. */
static int
member_text_in(json_t *obj, const char *prefix, const char *key, size_t max,
    const char **out, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return ORCH_OK;
	if (!json_is_string(v)) {
		err_set(err, errlen, "field \"%s%s\" must be a string", prefix,
		    key);
		return ORCH_EINVAL;
	}
	if (!json_text_plain(v)) {
		err_set(err, errlen,
		    "field \"%s%s\" must not contain NUL characters", prefix,
		    key);
		return ORCH_EINVAL;
	}
	if (json_string_length(v) > max) {
		err_set(err, errlen, "field \"%s%s\" must be at most %zu bytes",
		    prefix, key, max);
		return ORCH_EINVAL;
	}
	*out = json_string_value(v);
	return ORCH_OK;
}

static int
member_text(json_t *obj, const char *key, size_t max, const char **out,
    char *err, size_t errlen)
{
	return member_text_in(obj, "", key, max, out, err, errlen);
}

/* Decodes "env" (v, may be NULL) into spec.  Entries go into spec as they
 * are built, so that orch_task_spec_free() releases a partial list. */
static int
spec_env_decode(orch_task_spec *spec, json_t *v, char *err, size_t errlen)
{
	const char *key;
	size_t klen, n;
	json_t *val;

	if (v == NULL || json_is_null(v))
		return ORCH_OK;
	if (!json_is_object(v)) {
		err_set(
		    err, errlen, "field \"env\" must be an object of strings");
		return ORCH_EINVAL;
	}
	/* Checked before allocating; the words of orch_task_spec_validate(). */
	if ((n = json_object_size(v)) > ORCH_ENV_MAX) {
		err_set(err, errlen, "field \"env\" has more than %d entries",
		    ORCH_ENV_MAX);
		return ORCH_EINVAL;
	}
	if (n == 0)
		return ORCH_OK;
	if ((spec->env = calloc(n, sizeof(*spec->env))) == NULL)
		return ORCH_ENOMEM;
	json_object_keylen_foreach(v, key, klen, val)
	{
		Orch__TaskSpec__EnvEntry *e;

		if (klen != strlen(key)) {
			err_set(err, errlen,
			    "field \"env\": a variable name must "
			    "not contain NUL characters");
			return ORCH_EINVAL;
		}
		if (!json_is_string(val) || !json_text_plain(val)) {
			err_set(err, errlen,
			    "field \"env\": the value of \"%.*s\" "
			    "must be a string without NUL characters",
			    quote_len(key), key);
			return ORCH_EINVAL;
		}
		if ((e = malloc(sizeof(*e))) == NULL)
			return ORCH_ENOMEM;
		orch__task_spec__env_entry__init(e);
		spec->env[spec->n_env++] = e;
		if ((e->key = strdup(key)) == NULL ||
		    (e->value = strdup(json_string_value(val))) == NULL)
			return ORCH_ENOMEM;
	}
	return ORCH_OK;
}

/* Decodes "command" (v, may be NULL) into spec, partial lists as above. */
static int
spec_command_decode(orch_task_spec *spec, json_t *v, char *err, size_t errlen)
{
	size_t i, n;
	json_t *arg;

	if (v == NULL || json_is_null(v))
		return ORCH_OK;
	if (!json_is_array(v)) {
		err_set(err, errlen,
		    "field \"command\" must be an array of strings");
		return ORCH_EINVAL;
	}
	if ((n = json_array_size(v)) > ORCH_COMMAND_MAX) {
		err_set(err, errlen,
		    "field \"command\" has more than %d arguments",
		    ORCH_COMMAND_MAX);
		return ORCH_EINVAL;
	}
	if (n == 0)
		return ORCH_OK;
	if ((spec->command = calloc(n, sizeof(*spec->command))) == NULL)
		return ORCH_ENOMEM;
	json_array_foreach(v, i, arg)
	{
		if (!json_is_string(arg) || !json_text_plain(arg)) {
			err_set(err, errlen,
			    "field \"command\": argument %zu must "
			    "be a string without NUL characters",
			    i);
			return ORCH_EINVAL;
		}
		if ((spec->command[i] = strdup(json_string_value(arg))) == NULL)
			return ORCH_ENOMEM;
		spec->n_command = i + 1;
	}
	return ORCH_OK;
}

/*
 * Decodes the array of strings v (may be NULL) of field key into *arr and
 * *n, at most max entries; hint ends the message for a value that is not
 * an array (" such as ..."), so that it shows what an entry looks like.
 * Entries go into *arr as they are built, so that orch_task_spec_free()
 * releases a partial list; each is checked by orch_task_spec_validate().
 */
static int
strings_decode(json_t *v, const char *key, size_t max, const char *hint,
    char ***arr, size_t *n, char *err, size_t errlen)
{
	size_t i, len;
	json_t *c;

	if (v == NULL || json_is_null(v))
		return ORCH_OK;
	if (!json_is_array(v)) {
		err_set(err, errlen,
		    "field \"%s\" must be an array of strings%s", key, hint);
		return ORCH_EINVAL;
	}
	if ((len = json_array_size(v)) > max) {
		err_set(err, errlen, "field \"%s\" has more than %zu entries",
		    key, max);
		return ORCH_EINVAL;
	}
	if (len == 0)
		return ORCH_OK;
	if ((*arr = calloc(len, sizeof(**arr))) == NULL)
		return ORCH_ENOMEM;
	json_array_foreach(v, i, c)
	{
		if (!json_is_string(c) || !json_text_plain(c)) {
			err_set(err, errlen,
			    "field \"%s\": entry %zu "
			    "must be a string without NUL characters",
			    key, i);
			return ORCH_EINVAL;
		}
		if (((*arr)[i] = strdup(json_string_value(c))) == NULL)
			return ORCH_ENOMEM;
		*n = i + 1;
	}
	return ORCH_OK;
}

/* Decodes the container settings of root into spec: "privileged" (a
 * boolean), "volumes", "network" and "cap_add" (container.h). */
static int
spec_container_decode(
    orch_task_spec *spec, json_t *root, char *err, size_t errlen)
{
	json_t *v = json_object_get(root, "privileged");
	int rc;

	if (v != NULL && !json_is_null(v)) {
		if (!json_is_boolean(v)) {
			err_set(err, errlen,
			    "field \"privileged\" must be true or false");
			return ORCH_EINVAL;
		}
		spec->has_privileged = true;
		spec->privileged = json_is_true(v);
	}
	if ((rc = strings_decode(json_object_get(root, "volumes"), "volumes",
	         ORCH_VOLUMES_MAX,
	         " such as \"/srv/data:/data:ro\" or \"cache:/cache\"",
	         &spec->volumes, &spec->n_volumes, err, errlen)) != ORCH_OK ||
	    (rc = spec_text_decode(
	         root, "network", &spec->network, err, errlen)) != ORCH_OK)
		return rc;
	return strings_decode(json_object_get(root, "cap_add"), "cap_add",
	    ORCH_CAP_ADD_MAX, " such as \"NET_ADMIN\"", &spec->cap_add,
	    &spec->n_cap_add, err, errlen);
}

/* Decodes the optional string member key of obj into *field, a
 * protobuf-c string, naming it prefix key in messages (member_text_in).
 * Its limits are orch_task_spec_validate()'s. */
static int
spec_text_decode_in(json_t *obj, const char *prefix, const char *key,
    char **field, char *err, size_t errlen)
{
	const char *s;
	int rc;

	if ((rc = member_text_in(
	         obj, prefix, key, SIZE_MAX, &s, err, errlen)) != ORCH_OK)
		return rc;
	if (s != NULL && (*field = strdup(s)) == NULL)
		return ORCH_ENOMEM;
	return ORCH_OK;
}

static int
spec_text_decode(
    json_t *obj, const char *key, char **field, char *err, size_t errlen)
{
	return spec_text_decode_in(obj, "", key, field, err, errlen);
}

/* Reads the numeric member key of the check object h into *has and *v,
 * refusing what health.h's limits refuse before it is narrowed. */
static int
health_uint_decode(json_t *h, const char *key, protobuf_c_boolean *has,
    uint32_t *v, char *err, size_t errlen)
{
	json_t *j = json_object_get(h, key);

	if (j == NULL || json_is_null(j))
		return ORCH_OK;
	if (!json_is_integer(j)) {
		err_set(
		    err, errlen, "field \"health.%s\" must be an integer", key);
		return ORCH_EINVAL;
	}
	if (orch_health_field_check(key, json_integer_value(j), err, errlen) !=
	    ORCH_OK)
		return ORCH_EINVAL;
	*has = true;
	*v = (uint32_t)json_integer_value(j);
	return ORCH_OK;
}

/* Decodes "health" (v, may be NULL) into spec: an object with the keys
 * of HealthCheck (health.h checks their values).  Unknown keys are
 * refused, named with their place ("health.intervall_s"). */
static int
spec_health_decode(orch_task_spec *spec, json_t *v, char *err, size_t errlen)
{
	static const char *const keys[] = {"type", "command", "port", "path",
	    "interval_s", "timeout_s", "retries", "start_period_s", NULL};
	orch_health_check *h;
	const char *key;
	size_t klen;
	json_t *m;
	int rc;

	if (v == NULL || json_is_null(v))
		return ORCH_OK;
	if (!json_is_object(v)) {
		err_set(err, errlen,
		    "field \"health\" must be an object such as "
		    "{\"type\": \"http\", \"port\": 8080, \"path\": \"/\"}");
		return ORCH_EINVAL;
	}
	json_object_keylen_foreach(v, key, klen, m)
	{
		size_t i;

		for (i = 0; keys[i] != NULL; i++) {
			if (strlen(keys[i]) == klen &&
			    strcmp(key, keys[i]) == 0)
				break;
		}
		if (keys[i] == NULL) {
			err_set(err, errlen, "unknown field \"health.%.*s\"",
			    quote_len(key), key);
			return ORCH_EINVAL;
		}
	}
	if ((h = malloc(sizeof(*h))) == NULL)
		return ORCH_ENOMEM;
	/* The schema's defaults, which unset fields keep. */
	orch__health_check__init(h);
	spec->health = h;
	if ((rc = spec_text_decode_in(
	         v, "health.", "type", &h->type, err, errlen)) != ORCH_OK ||
	    (rc = spec_text_decode_in(
	         v, "health.", "path", &h->path, err, errlen)) != ORCH_OK ||
	    (rc = strings_decode(json_object_get(v, "command"),
	         "health.command", ORCH_COMMAND_MAX,
	         " such as [\"pg_isready\"]", &h->command, &h->n_command, err,
	         errlen)) != ORCH_OK ||
	    (rc = health_uint_decode(
	         v, "port", &h->has_port, &h->port, err, errlen)) != ORCH_OK ||
	    (rc = health_uint_decode(v, "interval_s", &h->has_interval_s,
	         &h->interval_s, err, errlen)) != ORCH_OK ||
	    (rc = health_uint_decode(v, "timeout_s", &h->has_timeout_s,
	         &h->timeout_s, err, errlen)) != ORCH_OK ||
	    (rc = health_uint_decode(v, "retries", &h->has_retries, &h->retries,
	         err, errlen)) != ORCH_OK ||
	    (rc = health_uint_decode(v, "start_period_s",
	         &h->has_start_period_s, &h->start_period_s, err, errlen)) !=
	        ORCH_OK)
		return rc;
	return ORCH_OK;
}

int
orch_json_object_parse(
    const char *buf, size_t len, json_t **root, char *err, size_t errlen)
{
	return body_parse(buf, len, root, err, errlen);
}

int
orch_json_fields_check(
    json_t *obj, const char *const *known, char *err, size_t errlen)
{
	return fields_check(obj, known, err, errlen);
}

int
orch_task_spec_from_json(
    const char *buf, size_t len, orch_task_spec **out, char *err, size_t errlen)
{
	static const char *const fields[] = {"name", "image", "memory", "cpu",
	    "env", "command", "constraints", "placement", "restart",
	    "privileged", "volumes", "network", "cap_add", "driver", "health",
	    NULL};
	json_t *root = NULL;
	int rc;

	*out = NULL;
	if ((rc = body_parse(buf, len, &root, err, errlen)) == ORCH_OK &&
	    (rc = fields_check(root, fields, err, errlen)) == ORCH_OK &&
	    (rc = orch_task_spec_from_object(root, out, err, errlen)) ==
	        ORCH_OK &&
	    (rc = orch_task_spec_validate(*out, err, errlen)) != ORCH_OK) {
		orch_task_spec_free(*out);
		*out = NULL;
	}
	json_decref(root);
	return rc;
}

int
orch_task_spec_from_object(
    json_t *root, orch_task_spec **out, char *err, size_t errlen)
{
	orch_task_spec *spec = NULL;
	json_t *v;
	int rc;

	*out = NULL;
	if ((spec = malloc(sizeof(*spec))) == NULL) {
		rc = ORCH_ENOMEM;
		goto out;
	}
	orch__task_spec__init(spec);

	if ((rc = spec_text_decode(root, "name", &spec->name, err, errlen)) !=
	        ORCH_OK ||
	    (rc = spec_text_decode(root, "image", &spec->image, err, errlen)) !=
	        ORCH_OK ||
	    (rc = spec_text_decode(
	         root, "driver", &spec->driver, err, errlen)) != ORCH_OK)
		goto out;

	/* Only given fields get has_ set: orch_task_new() stores defaults. */
	v = json_object_get(root, "memory");
	if (v != NULL && !json_is_null(v)) {
		/* Even 256.0: a real could hide a fraction of a MB. */
		if (!json_is_integer(v)) {
			err_set(err, errlen,
			    "field \"memory\" must be an integer number of MB");
			rc = ORCH_EINVAL;
			goto out;
		}
		spec->has_memory_mb = true;
		spec->memory_mb = json_integer_value(v);
	}
	v = json_object_get(root, "cpu");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_number(v)) {
			err_set(err, errlen,
			    "field \"cpu\" must be a number of cores");
			rc = ORCH_EINVAL;
			goto out;
		}
		spec->has_cpu = true;
		spec->cpu = json_number_value(v);
	}
	if ((rc = spec_env_decode(
	         spec, json_object_get(root, "env"), err, errlen)) != ORCH_OK ||
	    (rc = spec_command_decode(spec, json_object_get(root, "command"),
	         err, errlen)) != ORCH_OK ||
	    (rc = strings_decode(json_object_get(root, "constraints"),
	         "constraints", ORCH_CONSTRAINTS_MAX,
	         " such as \"zone==a\" or \"disk!=hdd\"", &spec->constraints,
	         &spec->n_constraints, err, errlen)) != ORCH_OK ||
	    (rc = spec_text_decode(root, "placement", &spec->placement, err,
	         errlen)) != ORCH_OK ||
	    (rc = spec_text_decode(
	         root, "restart", &spec->restart, err, errlen)) != ORCH_OK ||
	    (rc = spec_container_decode(spec, root, err, errlen)) != ORCH_OK ||
	    (rc = spec_health_decode(spec, json_object_get(root, "health"), err,
	         errlen)) != ORCH_OK)
		goto out;
	*out = spec;
	spec = NULL;

out:
	if (rc == ORCH_ENOMEM)
		err_set(err, errlen, "out of memory");
	orch_task_spec_free(spec);
	return rc;
}

int
orch_task_update_from_json(const char *buf, size_t len,
    struct orch_task_update *out, json_t **root, char *err, size_t errlen)
{
	static const char *const fields[] = {
	    "status", "container_id", "exit_code", "error", "health", NULL};
	json_t *r = NULL, *v;
	const char *s;
	int rc;

	memset(out, 0, sizeof(*out));
	*root = NULL;
	if ((rc = body_parse(buf, len, &r, err, errlen)) != ORCH_OK ||
	    (rc = fields_check(r, fields, err, errlen)) != ORCH_OK ||
	    (rc = member_text(r, "status", SIZE_MAX, &s, err, errlen)) !=
	        ORCH_OK)
		goto out;
	if (s == NULL) {
		err_set(err, errlen, "field \"status\" is required");
		rc = ORCH_EINVAL;
		goto out;
	}
	if (orch_task_status_parse(s, &out->status) != ORCH_OK) {
		err_set(err, errlen,
		    "field \"status\" must be one of Pending, Scheduled, "
		    "Running, Completed, Failed or Stopped, not \"%.*s\"",
		    quote_len(s), s);
		rc = ORCH_EINVAL;
		goto out;
	}
	if ((rc = member_text(r, "container_id", ORCH_STRING_MAX,
	         &out->container_id, err, errlen)) != ORCH_OK ||
	    (rc = member_text(r, "error", ORCH_STRING_MAX, &out->error, err,
	         errlen)) != ORCH_OK ||
	    (rc = member_text(r, "health", SIZE_MAX, &s, err, errlen)) !=
	        ORCH_OK)
		goto out;
	if (s != NULL && orch_health_status_parse(s, &out->health) != ORCH_OK) {
		err_set(err, errlen,
		    "field \"health\" must be starting, healthy or unhealthy, "
		    "not \"%.*s\"",
		    quote_len(s), s);
		rc = ORCH_EINVAL;
		goto out;
	}
	v = json_object_get(r, "exit_code");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < INT32_MIN ||
		    json_integer_value(v) > INT32_MAX) {
			err_set(err, errlen,
			    "field \"exit_code\" must be an integer "
			    "from %ld to %ld",
			    (long)INT32_MIN, (long)INT32_MAX);
			rc = ORCH_EINVAL;
			goto out;
		}
		out->has_exit_code = true;
		out->exit_code = (int32_t)json_integer_value(v);
	}
	*root = r;
	r = NULL;

out:
	if (rc != ORCH_OK)
		memset(out, 0, sizeof(*out));
	json_decref(r);
	return rc;
}

/* The "env" object of sp. */
static json_t *
spec_env_encode(const orch_task_spec *sp)
{
	json_t *env = json_object();

	if (env == NULL)
		return NULL;
	for (size_t i = 0; sp != NULL && i < sp->n_env; i++) {
		const Orch__TaskSpec__EnvEntry *e = sp->env[i];
		json_t *k = json_text(e->key != NULL ? e->key : "");

		/* The key goes through json_text() for the same UTF-8 repair as
		 * values; json_string_value() then gives it back repaired. */
		if (k == NULL ||
		    json_object_set_new(env, json_string_value(k),
		        json_text(e->value != NULL ? e->value : "")) != 0) {
			json_decref(k);
			json_decref(env);
			return NULL;
		}
		json_decref(k);
	}
	return env;
}

/* The n strings of a as a JSON array; [] when there is none. */
static json_t *
strings_encode(char *const *a, size_t n)
{
	json_t *j = json_array();

	for (size_t i = 0; j != NULL && i < n; i++) {
		if (json_array_append_new(
		        j, json_text(a[i] != NULL ? a[i] : "")) != 0) {
			json_decref(j);
			return NULL;
		}
	}
	return j;
}

int
orch_spec_json_add_base(json_t *o, const orch_task_spec *sp)
{
	int bad = 0;

	bad |= json_object_set_new(
	    o, "name", json_text_or_null(sp != NULL ? sp->name : NULL));
	bad |= json_object_set_new(
	    o, "image", json_text_or_null(sp != NULL ? sp->image : NULL));
	/* Tasks stored before drivers existed are docker's. */
	bad |= json_object_set_new(
	    o, "driver", json_text(orch_task_spec_driver(sp)));
	/* Unset fields still hold the schema's defaults (256 MB, 0.5). */
	bad |= json_object_set_new(o, "memory",
	    sp != NULL ? json_integer(sp->memory_mb) : json_null());
	bad |= json_object_set_new(o, "cpu",
	    sp != NULL && isfinite(sp->cpu) ? json_real(sp->cpu) : json_null());
	bad |= json_object_set_new(o, "env", spec_env_encode(sp));
	bad |= json_object_set_new(o, "command",
	    sp != NULL ? strings_encode(sp->command, sp->n_command)
	               : json_array());
	return bad != 0 ? ORCH_ENOMEM : ORCH_OK;
}

int
orch_spec_json_add_policy(json_t *o, const orch_task_spec *sp)
{
	int bad = 0;

	bad |= json_object_set_new(o, "constraints",
	    sp != NULL ? strings_encode(sp->constraints, sp->n_constraints)
	               : json_array());
	/* Tasks stored before policies existed mean the defaults. */
	bad |= json_object_set_new(o, "placement",
	    json_text(sp != NULL && sp->placement != NULL ? sp->placement
	                                                  : "spread"));
	bad |= json_object_set_new(o, "restart",
	    json_text(
	        sp != NULL && sp->restart != NULL ? sp->restart : "never"));
	return bad != 0 ? ORCH_ENOMEM : ORCH_OK;
}

int
orch_spec_json_add_container(json_t *o, const orch_task_spec *sp)
{
	int bad = 0;

	bad |= json_object_set_new(
	    o, "privileged", json_boolean(sp != NULL && sp->privileged));
	bad |= json_object_set_new(o, "volumes",
	    sp != NULL ? strings_encode(sp->volumes, sp->n_volumes)
	               : json_array());
	/* Absent means Docker's default. */
	bad |= json_object_set_new(o, "network",
	    json_text(
	        sp != NULL && sp->network != NULL ? sp->network : "bridge"));
	bad |= json_object_set_new(o, "cap_add",
	    sp != NULL ? strings_encode(sp->cap_add, sp->n_cap_add)
	               : json_array());
	return bad != 0 ? ORCH_ENOMEM : ORCH_OK;
}

/* The "healthcheck" object of a check: its type, then what the type
 * uses, then the timing (defaults shown for fields a spec stored before
 * they were filled in). */
static json_t *
health_check_encode(const orch_health_check *h)
{
	const char *type = h->type != NULL ? h->type : "";
	json_t *o = json_object();
	int bad = 0;

	if (o == NULL)
		return NULL;
	bad |= json_object_set_new(o, "type", json_text(type));
	if (strcmp(type, ORCH_HEALTH_EXEC) == 0) {
		bad |= json_object_set_new(
		    o, "command", strings_encode(h->command, h->n_command));
	} else {
		bad |= json_object_set_new(o, "port", json_integer(h->port));
		if (strcmp(type, ORCH_HEALTH_HTTP) == 0)
			bad |= json_object_set_new(
			    o, "path", json_text(orch_health_check_path(h)));
	}
	bad |=
	    json_object_set_new(o, "interval_s", json_integer(h->interval_s));
	bad |= json_object_set_new(o, "timeout_s", json_integer(h->timeout_s));
	bad |= json_object_set_new(o, "retries", json_integer(h->retries));
	bad |= json_object_set_new(
	    o, "start_period_s", json_integer(h->start_period_s));
	if (bad != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int
orch_spec_json_add_health(json_t *o, const orch_task_spec *sp)
{
	json_t *h = sp != NULL && sp->health != NULL
	    ? health_check_encode(sp->health)
	    : json_null();

	return json_object_set_new(o, "healthcheck", h) != 0 ? ORCH_ENOMEM
	                                                     : ORCH_OK;
}

json_t *
orch_task_to_json(const orch_task *t)
{
	const orch_task_spec *sp = t->spec;
	const char *status = orch_task_status_name(t->status), *health;
	json_t *o = json_object();
	int bad = 0;

	if (o == NULL)
		return NULL;
	/*
	 * json_object_set_new() takes the value on every path (a NULL value
	 * just fails), so failures are collected and the object dropped once.
	 * Insertion order is the order of the keys in the output.
	 */
	bad |= json_object_set_new(o, "id", json_text_or_null(t->id));
	bad |= orch_spec_json_add_base(o, sp) != ORCH_OK;
	bad |= json_object_set_new(
	    o, "status", status != NULL ? json_string(status) : json_null());
	bad |= json_object_set_new(
	    o, "created_at", json_time(t->has_created_at_ms, t->created_at_ms));
	bad |= json_object_set_new(
	    o, "started_at", json_time(t->has_started_at_ms, t->started_at_ms));
	bad |= json_object_set_new(o, "finished_at",
	    json_time(t->has_finished_at_ms, t->finished_at_ms));
	bad |= json_object_set_new(o, "node_id", json_text_or_none(t->node_id));
	bad |= json_object_set_new(
	    o, "container_id", json_text_or_none(t->container_id));
	/* 0 is an exit code like any other; only an unset one is null. */
	bad |= json_object_set_new(o, "exit_code",
	    t->has_exit_code ? json_integer(t->exit_code) : json_null());
	bad |= json_object_set_new(o, "error", json_text_or_none(t->error));
	bad |= orch_spec_json_add_policy(o, sp) != ORCH_OK;
	bad |= json_object_set_new(o, "restarts", json_integer(t->restarts));
	bad |= json_object_set_new(
	    o, "service", json_text_or_none(sp != NULL ? sp->service : NULL));
	bad |=
	    json_object_set_new(o, "replaces", json_text_or_none(t->replaces));
	bad |= json_object_set_new(
	    o, "replaced_by", json_text_or_none(t->replaced_by));
	bad |= json_object_set_new(
	    o, "not_before", json_time(t->has_not_before_ms, t->not_before_ms));
	bad |= orch_spec_json_add_container(o, sp) != ORCH_OK;
	/* The state under "health" (null without a check, or before the
	 * task ran), the check itself under "healthcheck". */
	health = t->has_health ? orch_health_status_name(t->health) : NULL;
	bad |= json_object_set_new(
	    o, "health", health != NULL ? json_string(health) : json_null());
	bad |= orch_spec_json_add_health(o, sp) != ORCH_OK;
	if (bad != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}
