/*
 * policy.c: the container policy (policy.h).
 */
#include "policy.h"

#include <fnmatch.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "container.h"
#include "error.h"
#include "health.h"

#define RULES_MAX 1024
#define CAPS_MAX 64

/* What a rule may allow. */
enum {
	ALLOW_PRIVILEGED = 1 << 0,
	ALLOW_HOST_MOUNTS = 1 << 1,
	ALLOW_NETWORK_HOST = 1 << 2,
	ALLOW_CAP_ADD = 1 << 3,
	ALLOW_EXEC = 1 << 4, /* a "command" rule's only permission */
};

static const struct {
	const char *name;
	unsigned bit;
} permissions[] = {
    {"privileged", ALLOW_PRIVILEGED},
    {"host_mounts", ALLOW_HOST_MOUNTS},
    {"network_host", ALLOW_NETWORK_HOST},
    {"cap_add", ALLOW_CAP_ADD},
    {"exec", ALLOW_EXEC},
};
#define N_PERMISSIONS (sizeof(permissions) / sizeof(permissions[0]))

struct rule {
	char *image;   /* an fnmatch pattern; NULL in a command rule */
	char *command; /* an fnmatch pattern over an exec task's program */
	unsigned allow;
	char **caps; /* canonical names; NULL: any, when ALLOW_CAP_ADD */
	size_t n_caps;
};

struct orch_policy {
	struct rule *rules;
	size_t n_rules;
};

/* Refuses a key of obj not in known (NULL-terminated); where names obj. */
static int
keys_check(json_t *obj, const char *const *known, const char *where, char *err,
    size_t errlen)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v)
	{
		size_t i;

		for (i = 0; known[i] != NULL && strcmp(key, known[i]) != 0; i++)
			;
		if (known[i] == NULL) {
			snprintf(err, errlen, "%s: unknown key \"%.*s\"", where,
			    orch_text_quote_len(key, 64), key);
			return ORCH_EINVAL;
		}
	}
	return ORCH_OK;
}

/* Reads the "allow" array of rule i (v) into r->allow. */
static int
allow_parse(json_t *v, size_t i, struct rule *r, char *err, size_t errlen)
{
	size_t j;
	json_t *p;

	if (!json_is_array(v) || json_array_size(v) == 0) {
		snprintf(err, errlen,
		    "rules[%zu].allow: must be a non-empty array of "
		    "\"privileged\", \"host_mounts\", \"network_host\", "
		    "\"cap_add\" (an image rule) or \"exec\" (a command "
		    "rule)",
		    i);
		return ORCH_EINVAL;
	}
	json_array_foreach(v, j, p)
	{
		const char *s = json_string_value(p);
		size_t k;

		for (k = 0; s != NULL && k < N_PERMISSIONS; k++) {
			if (strcmp(s, permissions[k].name) == 0)
				break;
		}
		if (s == NULL || k == N_PERMISSIONS) {
			snprintf(err, errlen,
			    "rules[%zu].allow[%zu]: \"%.*s\" is not one of "
			    "privileged, host_mounts, network_host, cap_add, "
			    "exec",
			    i, j, s != NULL ? orch_text_quote_len(s, 64) : 0,
			    s != NULL ? s : "");
			return ORCH_EINVAL;
		}
		r->allow |= permissions[k].bit;
	}
	return ORCH_OK;
}

/* Reads the "caps" array of rule i (v, may be NULL) into r. */
static int
caps_parse(json_t *v, size_t i, struct rule *r, char *err, size_t errlen)
{
	size_t j;
	json_t *c;

	if (v == NULL)
		return ORCH_OK;
	if (!(r->allow & ALLOW_CAP_ADD)) {
		snprintf(err, errlen,
		    "rules[%zu].caps: given without \"cap_add\" in allow", i);
		return ORCH_EINVAL;
	}
	if (!json_is_array(v) || json_array_size(v) > CAPS_MAX) {
		snprintf(err, errlen,
		    "rules[%zu].caps: must be an array of at most %d "
		    "capability names such as \"NET_ADMIN\"",
		    i, CAPS_MAX);
		return ORCH_EINVAL;
	}
	/* An empty list is kept as one: it allows no capability. */
	if ((r->caps = calloc(json_array_size(v) + 1, sizeof(*r->caps))) ==
	    NULL)
		return ORCH_ENOMEM;
	json_array_foreach(v, j, c)
	{
		char canon[ORCH_CAP_NAME_MAX + 1];
		const char *s = json_string_value(c);

		if (s == NULL || orch_cap_name_canon(s, canon) != ORCH_OK) {
			snprintf(err, errlen,
			    "rules[%zu].caps[%zu]: not a capability name such "
			    "as \"NET_ADMIN\"",
			    i, j);
			return ORCH_EINVAL;
		}
		if ((r->caps[j] = strdup(canon)) == NULL)
			return ORCH_ENOMEM;
		r->n_caps = j + 1;
	}
	return ORCH_OK;
}

/* Reads the "command" pattern of rule i (v) into r: an exec rule, whose
 * only permission is "exec". */
static int
command_rule_parse(
    json_t *v, size_t i, struct rule *r, char *err, size_t errlen)
{
	const char *cmd = json_string_value(json_object_get(v, "command"));
	int rc;

	if (json_object_get(v, "image") != NULL) {
		snprintf(err, errlen,
		    "rules[%zu]: has both \"image\" and \"command\"; a rule "
		    "is for containers (image) or exec tasks (command)",
		    i);
		return ORCH_EINVAL;
	}
	if (cmd == NULL || cmd[0] == '\0' || strlen(cmd) > ORCH_IMAGE_MAX ||
	    !orch_text_printable(cmd)) {
		snprintf(err, errlen,
		    "rules[%zu].command: must be a pattern of the program an "
		    "exec task runs, such as \"/usr/local/bin/*\" or \"*\" "
		    "(at most %d printable characters)",
		    i, ORCH_IMAGE_MAX);
		return ORCH_EINVAL;
	}
	if ((r->command = strdup(cmd)) == NULL)
		return ORCH_ENOMEM;
	if ((rc = allow_parse(
	         json_object_get(v, "allow"), i, r, err, errlen)) != ORCH_OK)
		return rc;
	if (r->allow != ALLOW_EXEC || json_object_get(v, "caps") != NULL) {
		snprintf(err, errlen,
		    "rules[%zu].allow: a command rule allows \"exec\" only", i);
		return ORCH_EINVAL;
	}
	return ORCH_OK;
}

/* Reads rule i (v) into r, which owns what it gets on every path. */
static int
rule_parse(json_t *v, size_t i, struct rule *r, char *err, size_t errlen)
{
	static const char *const keys[] = {
	    "image", "command", "allow", "caps", "comment", NULL};
	char where[32];
	const char *img;
	json_t *c;
	int rc;

	snprintf(where, sizeof(where), "rules[%zu]", i);
	if (!json_is_object(v)) {
		snprintf(err, errlen,
		    "%s: must be an object with \"image\" (or \"command\") "
		    "and \"allow\"",
		    where);
		return ORCH_EINVAL;
	}
	if ((rc = keys_check(v, keys, where, err, errlen)) != ORCH_OK)
		return rc;
	c = json_object_get(v, "comment");
	if (c != NULL && !json_is_string(c)) {
		snprintf(err, errlen, "%s.comment: must be a string", where);
		return ORCH_EINVAL;
	}
	if (json_object_get(v, "command") != NULL)
		return command_rule_parse(v, i, r, err, errlen);
	img = json_string_value(json_object_get(v, "image"));
	if (img == NULL || img[0] == '\0' || strlen(img) > ORCH_IMAGE_MAX ||
	    !orch_text_printable(img) || strchr(img, ' ') != NULL) {
		snprintf(err, errlen,
		    "%s.image: must be an image pattern such as "
		    "\"registry.example.com/team/*\" (at most %d characters, "
		    "no spaces)",
		    where, ORCH_IMAGE_MAX);
		return ORCH_EINVAL;
	}
	if ((r->image = strdup(img)) == NULL)
		return ORCH_ENOMEM;
	if ((rc = allow_parse(
	         json_object_get(v, "allow"), i, r, err, errlen)) != ORCH_OK)
		return rc;
	if (r->allow & ALLOW_EXEC) {
		snprintf(err, errlen,
		    "rules[%zu].allow: \"exec\" belongs in a command rule "
		    "({\"command\": \"*\", \"allow\": [\"exec\"]}), not an "
		    "image rule",
		    i);
		return ORCH_EINVAL;
	}
	return caps_parse(json_object_get(v, "caps"), i, r, err, errlen);
}

int
orch_policy_parse(const char *buf, size_t len, struct orch_policy **out,
    char *err, size_t errlen)
{
	static const char *const keys[] = {"rules", NULL};
	struct orch_policy *p = NULL;
	json_error_t jerr;
	json_t *root, *rules, *r;
	size_t i;
	int rc;

	*out = NULL;
	if ((root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr)) ==
	    NULL) {
		snprintf(err, errlen, "line %d column %d: %s", jerr.line,
		    jerr.column, jerr.text);
		return ORCH_EINVAL;
	}
	if (!json_is_object(root)) {
		snprintf(
		    err, errlen, "must be a JSON object: {\"rules\": [...]}");
		rc = ORCH_EINVAL;
		goto out;
	}
	if ((rc = keys_check(root, keys, "the top level", err, errlen)) !=
	    ORCH_OK)
		goto out;
	rules = json_object_get(root, "rules");
	if (!json_is_array(rules) || json_array_size(rules) > RULES_MAX) {
		snprintf(err, errlen,
		    "rules: must be an array of at most %d rules", RULES_MAX);
		rc = ORCH_EINVAL;
		goto out;
	}
	rc = ORCH_ENOMEM;
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->rules = calloc(
	         json_array_size(rules) + 1, sizeof(*p->rules))) == NULL)
		goto out;
	json_array_foreach(rules, i, r)
	{
		/* Counted first, so that a failed rule is freed with p. */
		p->n_rules = i + 1;
		if ((rc = rule_parse(r, i, &p->rules[i], err, errlen)) !=
		    ORCH_OK)
			goto out;
	}
	rc = ORCH_OK;
	*out = p;
	p = NULL;
out:
	if (rc == ORCH_ENOMEM)
		snprintf(err, errlen, "out of memory");
	orch_policy_free(p);
	json_decref(root);
	return rc;
}

int
orch_policy_load(
    const char *path, struct orch_policy **out, char *err, size_t errlen)
{
	char why[512];
	char *buf = NULL;
	struct stat st;
	size_t len = 0;
	int rc;

	*out = NULL;
	if ((rc = orch_buf_file_read(path, ORCH_POLICY_FILE_MAX, &buf, &len,
	         &st, why, sizeof(why))) != ORCH_OK ||
	    (rc = orch_policy_parse(buf, len, out, why, sizeof(why))) !=
	        ORCH_OK)
		snprintf(err, errlen, "policy file %s: %s", path, why);
	free(buf);
	return rc;
}

void
orch_policy_free(struct orch_policy *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n_rules; i++) {
		struct rule *r = &p->rules[i];

		free(r->image);
		free(r->command);
		for (size_t j = 0; j < r->n_caps; j++)
			free(r->caps[j]);
		free(r->caps);
	}
	free(p->rules);
	free(p);
}

size_t
orch_policy_rule_count(const struct orch_policy *p)
{
	return p != NULL ? p->n_rules : 0;
}

/* True when a rule of p matching image allows bit, and, for a capability
 * cap (canonical; NULL otherwise), lists it or lists none. */
static bool
allowed(const struct orch_policy *p, const char *image, unsigned bit,
    const char *cap)
{
	for (size_t i = 0; p != NULL && i < p->n_rules; i++) {
		const struct rule *r = &p->rules[i];

		if (!(r->allow & bit) || r->image == NULL ||
		    fnmatch(r->image, image, 0) != 0)
			continue;
		if (cap == NULL || r->caps == NULL)
			return true;
		for (size_t j = 0; j < r->n_caps; j++) {
			if (strcmp(r->caps[j], cap) == 0)
				return true;
		}
	}
	return false;
}

/* Writes the refusal of what (the field, and its value when it helps)
 * for image into err, with what would allow it.  Returns ORCH_EPERM. */
static int
refuse(char *err, size_t errlen, const char *what, const char *image,
    const char *allow)
{
	snprintf(err, errlen,
	    "%s: not allowed by the container policy for image \"%.*s\" (a "
	    "--policy rule for the image must allow %s)",
	    what, orch_text_quote_len(image, 128), image, allow);
	return ORCH_EPERM;
}

/* Whether some command rule matching prog allows "exec". */
static bool
exec_allowed(const struct orch_policy *p, const char *prog)
{
	for (size_t i = 0; p != NULL && i < p->n_rules; i++) {
		const struct rule *r = &p->rules[i];

		if ((r->allow & ALLOW_EXEC) && r->command != NULL &&
		    fnmatch(r->command, prog, 0) == 0)
			return true;
	}
	return false;
}

/* Checks an exec task: some command rule matching its program must allow
 * it, and so must one matching the program of its exec health check,
 * which runs on the host too.  Returns ORCH_OK or ORCH_EPERM. */
static int
exec_check(const struct orch_policy *p, const orch_task_spec *spec, char *err,
    size_t errlen)
{
	const orch_health_check *h = spec->health;
	const char *prog = spec->n_command > 0 && spec->command[0] != NULL
	    ? spec->command[0]
	    : "";
	const char *field = "driver";

	if (exec_allowed(p, prog)) {
		if (h == NULL || h->type == NULL ||
		    strcmp(h->type, ORCH_HEALTH_EXEC) != 0)
			return ORCH_OK;
		prog = h->n_command > 0 && h->command[0] != NULL ? h->command[0]
		                                                 : "";
		if (exec_allowed(p, prog))
			return ORCH_OK;
		field = "health.command";
	}
	snprintf(err, errlen,
	    "field \"%s\": \"exec\" runs a process on the node's host "
	    "and is not allowed by the container policy for command \"%.*s\" "
	    "(a --policy rule {\"command\": PATTERN, \"allow\": [\"exec\"]} "
	    "must match it)",
	    field, orch_text_quote_len(prog, 128), prog);
	return ORCH_EPERM;
}

int
orch_policy_check(const struct orch_policy *p, const orch_task_spec *spec,
    char *err, size_t errlen)
{
	const char *image = spec->image != NULL ? spec->image : "";
	struct orch_volume v;
	char what[320];

	if (strcmp(orch_task_spec_driver(spec), ORCH_DRIVER_EXEC) == 0)
		return exec_check(p, spec, err, errlen);

	if (spec->has_privileged && spec->privileged &&
	    !allowed(p, image, ALLOW_PRIVILEGED, NULL))
		return refuse(err, errlen, "field \"privileged\"", image,
		    "\"privileged\"");
	for (size_t i = 0; i < spec->n_volumes; i++) {
		/* The validator refuses a malformed entry first; should one
		 * come here anyway, it is refused, not skipped. */
		if (orch_volume_parse(
		        spec->volumes[i], &v, what, sizeof(what)) != ORCH_OK) {
			snprintf(err, errlen, "field \"volumes\": entry %zu %s",
			    i, what);
			return ORCH_EINVAL;
		}
		if (!v.host || allowed(p, image, ALLOW_HOST_MOUNTS, NULL))
			continue;
		snprintf(what, sizeof(what),
		    "field \"volumes\": entry %zu, host path \"%.*s\"", i,
		    v.source_len > 128 ? 128 : (int)v.source_len, v.source);
		return refuse(err, errlen, what, image, "\"host_mounts\"");
	}
	if (spec->network != NULL && strcmp(spec->network, "host") == 0 &&
	    !allowed(p, image, ALLOW_NETWORK_HOST, NULL))
		return refuse(err, errlen, "field \"network\": \"host\"", image,
		    "\"network_host\"");
	for (size_t i = 0; i < spec->n_cap_add; i++) {
		char cap[ORCH_CAP_NAME_MAX + 1];

		/* A malformed name is the validator's to refuse; here it can
		 * only be refused. */
		if (orch_cap_name_canon(spec->cap_add[i], cap) == ORCH_OK &&
		    allowed(p, image, ALLOW_CAP_ADD, cap))
			continue;
		snprintf(what, sizeof(what),
		    "field \"cap_add\": capability \"%.*s\"",
		    orch_text_quote_len(spec->cap_add[i], 64),
		    spec->cap_add[i]);
		return refuse(err, errlen, what, image,
		    "\"cap_add\", and list it in \"caps\" if it has any");
	}
	return ORCH_OK;
}
