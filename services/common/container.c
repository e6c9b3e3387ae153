/*
 * container.c: the syntax of a spec's container settings (container.h).
 */
#include "container.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "error.h"

/* True when the n bytes at p are an absolute path with no "." or ".."
 * component: Docker would clean "/data/../etc" into "/etc", and a policy
 * or a person reading the task must see the path that is mounted. */
static bool
path_clean(const char *p, size_t n)
{
	size_t i = 0;

	if (n == 0 || p[0] != '/')
		return false;
	while (i < n) {
		size_t start, len;

		while (i < n && p[i] == '/')
			i++;
		start = i;
		while (i < n && p[i] != '/')
			i++;
		len = i - start;
		if ((len == 1 && p[start] == '.') ||
		    (len == 2 && p[start] == '.' && p[start + 1] == '.'))
			return false;
	}
	return true;
}

/* True for a Docker volume name: [A-Za-z0-9][A-Za-z0-9_.-]*. */
static bool
volume_name_valid(const char *p, size_t n)
{
	if (n == 0 || n > ORCH_VOLUME_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-')))
			return false;
	}
	return true;
}

int
orch_volume_parse(
    const char *s, struct orch_volume *v, char *why, size_t whylen)
{
	const char *c1, *c2, *mode = NULL;

	memset(v, 0, sizeof(*v));
	if (strlen(s) > ORCH_VOLUME_LEN_MAX || !orch_text_printable(s)) {
		snprintf(why, whylen,
		    "must be printable text of at most %d bytes",
		    ORCH_VOLUME_LEN_MAX);
		return ORCH_EINVAL;
	}
	if ((c1 = strchr(s, ':')) == NULL) {
		snprintf(why, whylen,
		    "must be SOURCE:TARGET or SOURCE:TARGET:ro, as docker -v");
		return ORCH_EINVAL;
	}
	if ((c2 = strchr(c1 + 1, ':')) != NULL) {
		mode = c2 + 1;
		if (strcmp(mode, "ro") != 0 && strcmp(mode, "rw") != 0) {
			snprintf(why, whylen,
			    "the mode after TARGET must be ro or rw, not "
			    "\"%.*s\"",
			    orch_text_quote_len(mode, 32), mode);
			return ORCH_EINVAL;
		}
	}
	v->source = s;
	v->source_len = (size_t)(c1 - s);
	v->target = c1 + 1;
	v->target_len = c2 != NULL ? (size_t)(c2 - v->target) : strlen(c1 + 1);
	v->host = v->source_len > 0 && s[0] == '/';
	v->read_only = mode != NULL && strcmp(mode, "ro") == 0;
	if (v->host ? !path_clean(v->source, v->source_len)
	            : !volume_name_valid(v->source, v->source_len)) {
		snprintf(why, whylen,
		    "SOURCE must be an absolute host path without \".\" or "
		    "\"..\" components, or a volume name "
		    "([A-Za-z0-9][A-Za-z0-9_.-]*)");
		return ORCH_EINVAL;
	}
	if (!path_clean(v->target, v->target_len)) {
		snprintf(why, whylen,
		    "TARGET must be an absolute path in the container, "
		    "without \".\" or \"..\" components");
		return ORCH_EINVAL;
	}
	return ORCH_OK;
}

int
orch_cap_name_canon(const char *s, char *out)
{
	size_t n;

	if (strncasecmp(s, "CAP_", 4) == 0)
		s += 4;
	if ((n = strlen(s)) == 0 || n > ORCH_CAP_NAME_MAX)
		return ORCH_EINVAL;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		else if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		             c == '_'))
			return ORCH_EINVAL;
		out[i] = c;
	}
	out[n] = '\0';
	return ORCH_OK;
}

int
orch_container_spec_validate(
    const orch_task_spec *spec, char *err, size_t errlen)
{
	char why[256], cap[ORCH_CAP_NAME_MAX + 1];
	struct orch_volume v;

	if (spec->n_volumes > ORCH_VOLUMES_MAX) {
		snprintf(err, errlen,
		    "field \"volumes\" has more than %d entries",
		    ORCH_VOLUMES_MAX);
		return ORCH_EINVAL;
	}
	for (size_t i = 0; i < spec->n_volumes; i++) {
		const char *s = spec->volumes[i];

		if (s == NULL ||
		    orch_volume_parse(s, &v, why, sizeof(why)) != ORCH_OK) {
			snprintf(err, errlen,
			    "field \"volumes\": entry %zu (\"%.*s\") %s", i,
			    s != NULL ? orch_text_quote_len(s, 64) : 0,
			    s != NULL ? s : "", s != NULL ? why : "is missing");
			return ORCH_EINVAL;
		}
	}
	if (spec->network != NULL && strcmp(spec->network, "bridge") != 0 &&
	    strcmp(spec->network, "host") != 0 &&
	    strcmp(spec->network, "none") != 0) {
		snprintf(err, errlen,
		    "field \"network\" must be bridge, host or none, not "
		    "\"%.*s\"",
		    orch_text_quote_len(spec->network, 40), spec->network);
		return ORCH_EINVAL;
	}
	if (spec->n_cap_add > ORCH_CAP_ADD_MAX) {
		snprintf(err, errlen,
		    "field \"cap_add\" has more than %d entries",
		    ORCH_CAP_ADD_MAX);
		return ORCH_EINVAL;
	}
	for (size_t i = 0; i < spec->n_cap_add; i++) {
		const char *s = spec->cap_add[i];

		if (s == NULL || orch_cap_name_canon(s, cap) != ORCH_OK) {
			snprintf(err, errlen,
			    "field \"cap_add\": entry %zu (\"%.*s\") is not a "
			    "capability name such as NET_ADMIN",
			    i, s != NULL ? orch_text_quote_len(s, 64) : 0,
			    s != NULL ? s : "");
			return ORCH_EINVAL;
		}
	}
	return ORCH_OK;
}
