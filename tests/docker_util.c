#include "docker_util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "harness.h"

/* s percent-encoded for a query string (malloc'd). */
static char *
escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = malloc(strlen(s) * 3 + 1), *o = out;

	ASSERT(out != NULL);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_') {
			*o++ = (char)c;
		} else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o = '\0';
	return out;
}

json_t *
du_get(struct orch_docker_client *c, const char *path, long *status)
{
	struct orch_docker_answer ans;
	char e[512];
	json_t *j = NULL;

	if (orch_docker_client_call(
	        c, "GET", path, NULL, 30, &ans, e, sizeof(e)) != ORCH_OK)
		h_fail(__FILE__, __LINE__, "%s", e);
	if (status != NULL)
		*status = ans.status;
	if (ans.status == 200 && ans.body != NULL)
		j = json_loadb(ans.body, ans.len, 0, NULL);
	orch_docker_answer_free(&ans);
	return j;
}

json_t *
du_list_by_labels(struct orch_docker_client *c, const char *l1, const char *l2)
{
	char path[2048];
	char *esc, *fs;
	json_t *f = json_pack("{s:[s]}", "label", l1), *j;

	ASSERT(f != NULL);
	if (l2 != NULL)
		json_array_append_new(
		    json_object_get(f, "label"), json_string(l2));
	fs = json_dumps(f, JSON_COMPACT);
	ASSERT(fs != NULL);
	esc = escape(fs);
	snprintf(
	    path, sizeof(path), "/containers/json?all=true&filters=%s", esc);
	free(esc);
	free(fs);
	json_decref(f);
	j = du_get(c, path, NULL);
	ASSERT(json_is_array(j));
	return j;
}

json_t *
du_task_containers(
    struct orch_docker_client *c, const char *id, const char *node)
{
	char l1[128], l2[128];

	snprintf(l1, sizeof(l1), "orch.task=%s", id);
	if (node == NULL)
		return du_list_by_labels(c, l1, NULL);
	snprintf(l2, sizeof(l2), "orch.node=%s", node);
	return du_list_by_labels(c, l1, l2);
}

size_t
du_task_count(struct orch_docker_client *c, const char *id, const char *node)
{
	json_t *j = du_task_containers(c, id, node);
	size_t n = json_array_size(j);

	json_decref(j);
	return n;
}

bool
du_env_has(const json_t *env, const char *kv)
{
	size_t i;
	json_t *v;

	json_array_foreach(env, i, v)
	{
		if (json_is_string(v) && strcmp(json_string_value(v), kv) == 0)
			return true;
	}
	return false;
}

json_t *
du_inspect(struct orch_docker_client *c, const char *cid)
{
	char path[256];
	json_t *j;

	snprintf(path, sizeof(path), "/containers/%s/json", cid);
	j = du_get(c, path, NULL);
	ASSERT(json_is_object(j));
	return j;
}

void
du_remove(struct orch_docker_client *c, const char *id)
{
	struct orch_docker_answer ans;
	char path[256], e[512];

	snprintf(path, sizeof(path), "/containers/%s?force=true&v=true", id);
	if (orch_docker_client_call(
	        c, "DELETE", path, NULL, 60, &ans, e, sizeof(e)) != ORCH_OK)
		fprintf(stderr, "cleanup: %s\n", e);
	orch_docker_answer_free(&ans);
}

void
du_cleanup(struct orch_docker_client *c, const char *prefix)
{
	size_t plen = strlen(prefix), i;
	json_t *all, *ct;

	if (c == NULL)
		return;
	all = du_list_by_labels(c, "orch.node", NULL);
	json_array_foreach(all, i, ct)
	{
		const char *node = json_string_value(json_object_get(
		    json_object_get(ct, "Labels"), "orch.node"));
		const char *id = json_string_value(json_object_get(ct, "Id"));
		char *end;
		long pid;

		if (node == NULL || id == NULL ||
		    strncmp(node, prefix, plen) != 0)
			continue;
		pid = strtol(node + plen, &end, 10);
		if (end == node + plen || *end != '-')
			continue;
		if (pid == (long)getpid() ||
		    (kill((pid_t)pid, 0) != 0 && errno == ESRCH))
			du_remove(c, id);
	}
	json_decref(all);
}
