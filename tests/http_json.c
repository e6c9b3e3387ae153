#include "http_json.h"

#include "harness.h"

json_t *
hj_parse(const char *s)
{
	json_error_t e;
	json_t *j = json_loads(s != NULL ? s : "", 0, &e);

	if (j == NULL)
		h_fail(__FILE__, __LINE__, "not JSON (%s): %s", e.text,
		    s != NULL ? s : "");
	return j;
}

json_t *
hj_call(
    int port, const char *method, const char *path, const char *body, int want)
{
	char *resp = NULL;
	int st = h_http(port, method, path, body, &resp);
	json_t *j;

	if (st != want)
		h_fail(__FILE__, __LINE__, "%s %s: want %d, got %d: %s", method,
		    path, want, st, resp != NULL ? resp : "");
	j = hj_parse(resp);
	free(resp);
	return j;
}

char *
hj_submit(int port, const char *body)
{
	json_t *t = hj_call(port, "POST", "/tasks", body, 201);
	char *id = hj_str(t, "id") != NULL ? strdup(hj_str(t, "id")) : NULL;

	if (id == NULL)
		h_fail(__FILE__, __LINE__, "POST /tasks: no id in the answer");
	json_decref(t);
	return id;
}

json_t *
hj_task(int port, const char *id)
{
	char path[256];

	snprintf(path, sizeof(path), "/tasks/%s", id);
	return hj_call(port, "GET", path, NULL, 200);
}

json_t *
hj_service(int port, const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "/services/%s", name);
	return hj_call(port, "GET", path, NULL, 200);
}

const char *
hj_str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

json_int_t
hj_int(const json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

bool
hj_one_node_ready(int port, char *name, size_t len)
{
	json_t *list = hj_call(port, "GET", "/nodes", NULL, 200), *n;
	bool ok = false;

	n = json_array_get(list, 0);
	if (json_array_size(list) == 1 && hj_str(n, "status") != NULL &&
	    strcmp(hj_str(n, "status"), "Ready") == 0) {
		snprintf(name, len, "%s", hj_str(n, "name"));
		ok = true;
	}
	json_decref(list);
	return ok;
}
