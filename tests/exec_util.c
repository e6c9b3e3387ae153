#include "exec_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "error.h"
#include "harness.h"
#include "http_json.h"

char *
eu_task_file(
    const char *state_dir, const char *node, const char *id, const char *name)
{
	char path[1024];

	snprintf(
	    path, sizeof(path), "%s/exec/%s/%s/%s", state_dir, node, id, name);
	return h_read_file(path);
}

pid_t
eu_task_pid(const char *state_dir, const char *node, const char *id)
{
	char *s = eu_task_file(state_dir, node, id, "state"), *p;
	pid_t pid;

	if (s == NULL)
		h_fail(__FILE__, __LINE__, "task %s has no state file", id);
	p = strstr(s, "\npid=");
	ASSERT(p != NULL);
	pid = (pid_t)strtol(p + 5, NULL, 10);
	free(s);
	ASSERT(pid > 0);
	return pid;
}

bool
eu_pid_alive(pid_t pid)
{
	char path[64], *s;
	bool alive;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	s = h_read_file(path);
	alive = s != NULL && strstr(s, ") Z ") == NULL;
	free(s);
	return alive;
}

void
eu_cleanup(const char *state_dir, const char *node)
{
	struct orch_driver_config cfg = {
	    .node_name = node, .state_dir = state_dir, .cgroup_dir = ""};
	struct orch_instance *arr = NULL;
	char err[512];
	void *st = NULL;
	size_t n = 0;

	if (orch_exec_driver.init(&cfg, &st, err, sizeof(err)) != ORCH_OK)
		return;
	if (orch_exec_driver.list(st, &arr, &n, err, sizeof(err)) == ORCH_OK) {
		for (size_t i = 0; i < n; i++)
			(void)orch_exec_driver.remove(
			    st, arr[i].handle, err, sizeof(err));
	}
	free(arr);
	orch_exec_driver.fini(st);
}

struct field_want {
	int port;
	const char *id;
	const char *key;
	const char *value;
};

static bool
field_is(void *arg)
{
	struct field_want *w = arg;
	json_t *t = hj_task(w->port, w->id);
	const char *s = hj_str(t, w->key);
	bool ok = s != NULL && strcmp(s, w->value) == 0;

	json_decref(t);
	return ok;
}

json_t *
eu_wait_field(int port, const char *id, const char *key, const char *value,
    int timeout_ms)
{
	struct field_want w = {port, id, key, value};
	json_t *t;

	if (!h_wait_until(field_is, &w, timeout_ms)) {
		char *dump;

		t = hj_task(port, id);
		dump = json_dumps(t, JSON_COMPACT);
		h_fail(__FILE__, __LINE__,
		    "task %s: %s did not become %s in %d ms: %s", id, key,
		    value, timeout_ms, dump);
	}
	return hj_task(port, id);
}

json_t *
eu_wait_status(int port, const char *id, const char *status, int timeout_ms)
{
	return eu_wait_field(port, id, "status", status, timeout_ms);
}
