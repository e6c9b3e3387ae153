/*
 * e2e_docker.c: the Docker driver against the real daemon.
 *
 * Needs dockerd on /var/run/docker.sock and the image
 * orch-test/busybox:latest, both made by scripts/docker-up.sh (CI runs it
 * first).  Nothing is pulled: no registry is reachable here.  Every
 * container this test makes carries orch.node=e2e-docker-<pid>-<x>, so
 * parallel runs never touch each other's, and an atexit handler removes
 * them (by that label) also when an assertion fails.  Containers left by
 * an earlier run that was killed (its pid is gone) are removed first.
 */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "docker_client.h"
#include "docker_util.h"
#include "driver.h"
#include "error.h"
#include "harness.h"
#include "log.h"
#include "task.h"
#include "task_fixture.h"

#define SOCK "/var/run/docker.sock"
#define IMAGE "orch-test/busybox:latest"
#define NODE_PREFIX "e2e-docker-"

static char node_a[64], node_b[64];
static char err[1024];

/* The test's own view of the daemon, independent of the driver. */
static struct orch_docker_client *peek;

/* ---- cleanup (docker_util.h) ---- */

static void
cleanup_at_exit(void)
{
	du_cleanup(peek, NODE_PREFIX);
	orch_docker_client_free(peek);
	peek = NULL;
}

/* ---- exits ---- */

struct exit_rec {
	char task[ORCH_ID_LEN];
	char handle[ORCH_HANDLE_LEN];
	int code;
};

static pthread_mutex_t exits_mu = PTHREAD_MUTEX_INITIALIZER;
static struct exit_rec exits[64];
static int nexits;

static void
on_exit_record(
    void *arg, const char *task_id, const char *handle, int exit_code)
{
	(void)arg;
	pthread_mutex_lock(&exits_mu);
	if (nexits < 64) {
		snprintf(exits[nexits].task, ORCH_ID_LEN, "%s", task_id);
		snprintf(exits[nexits].handle, ORCH_HANDLE_LEN, "%s", handle);
		exits[nexits].code = exit_code;
		nexits++;
	}
	pthread_mutex_unlock(&exits_mu);
}

/* The exit code reported for task, or -1000 when none yet. */
static int
exit_of(const char *task)
{
	int code = -1000;

	pthread_mutex_lock(&exits_mu);
	for (int i = 0; i < nexits; i++) {
		if (strcmp(exits[i].task, task) == 0)
			code = exits[i].code;
	}
	pthread_mutex_unlock(&exits_mu);
	return code;
}

static bool
exited_cond(void *arg)
{
	return exit_of(arg) != -1000;
}

/* ---- helpers ---- */

static void *
drv_new(const char *node, bool monitor)
{
	struct orch_driver_config cfg = {
	    .node_name = node,
	    .docker_socket = SOCK,
	    .on_exit = monitor ? on_exit_record : NULL,
	    .stop_timeout_s = 1,
	    /* A pull with no registry reachable must fail, not hang. */
	    .pull_timeout_s = 30,
	};
	void *st = NULL;
	int rc = orch_docker_driver.init(&cfg, &st, err, sizeof(err));

	if (rc != ORCH_OK)
		h_fail(__FILE__, __LINE__, "init: %s", err);
	return st;
}

/* ---- tests ---- */

static void
test_sleep_runs_stops_and_goes(void)
{
	static const char *const env[] = {
	    "A", "1", "GREETING", "hello world", NULL};
	static const char *const cmd[] = {"sleep", "300", NULL};
	orch_task *t = tf_task_make("e2e", IMAGE, env, cmd, 64, 0.25);
	char handle[ORCH_HANDLE_LEN], again[ORCH_HANDLE_LEN], label[128];
	char path[256], name[64];
	struct orch_instance in;
	json_t *list, *c, *cfg, *hc;
	void *st = drv_new(node_a, true);

	ASSERT_INT_EQ(
	    orch_docker_driver.start(st, t, handle, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(strlen(handle), 64);
	ASSERT_INT_EQ(
	    orch_docker_driver.inspect(st, handle, &in, err, sizeof(err)),
	    ORCH_OK);
	ASSERT(in.running && !in.exited);
	ASSERT_STR_EQ(in.task_id, t->id);
	ASSERT_STR_EQ(in.handle, handle);
	ASSERT(in.started_at_ms > orch_now_ms() - 120000);

	/* Exactly one container, with our labels, env and limits. */
	snprintf(label, sizeof(label), "orch.task=%s", t->id);
	list = du_list_by_labels(peek, label, NULL);
	ASSERT_INT_EQ(json_array_size(list), 1);
	ASSERT_STR_EQ(
	    json_string_value(json_object_get(json_array_get(list, 0), "Id")),
	    handle);
	json_decref(list);
	snprintf(path, sizeof(path), "/containers/%s/json", handle);
	c = du_get(peek, path, NULL);
	ASSERT(json_is_object(c));
	snprintf(name, sizeof(name), "/orch-%s", t->id);
	ASSERT_STR_EQ(json_string_value(json_object_get(c, "Name")), name);
	cfg = json_object_get(c, "Config");
	ASSERT_STR_EQ(json_string_value(json_object_get(
	                  json_object_get(cfg, "Labels"), "orch.node")),
	    node_a);
	ASSERT_STR_EQ(json_string_value(json_object_get(
	                  json_object_get(cfg, "Labels"), "orch.task")),
	    t->id);
	ASSERT(du_env_has(json_object_get(cfg, "Env"), "A=1"));
	ASSERT(du_env_has(json_object_get(cfg, "Env"), "GREETING=hello world"));
	ASSERT_INT_EQ(json_array_size(json_object_get(cfg, "Cmd")), 2);
	ASSERT_STR_EQ(
	    json_string_value(json_array_get(json_object_get(cfg, "Cmd"), 0)),
	    "sleep");
	hc = json_object_get(c, "HostConfig");
	ASSERT_INT_EQ(json_integer_value(json_object_get(hc, "Memory")),
	    64LL * 1024 * 1024);
	ASSERT_INT_EQ(
	    json_integer_value(json_object_get(hc, "NanoCpus")), 250000000LL);
	json_decref(c);

	/* Starting it again is the same container. */
	ASSERT_INT_EQ(
	    orch_docker_driver.start(st, t, again, err, sizeof(err)), ORCH_OK);
	ASSERT_STR_EQ(again, handle);
	ASSERT_INT_EQ(du_task_count(peek, t->id, NULL), 1);

	/* Stop (sleep as PID 1 ignores SIGTERM: killed after 1 s), remove. */
	ASSERT_INT_EQ(
	    orch_docker_driver.stop(st, handle, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(
	    orch_docker_driver.inspect(st, handle, &in, err, sizeof(err)),
	    ORCH_OK);
	ASSERT(!in.running && in.exited);
	ASSERT(in.finished_at_ms >= in.started_at_ms);
	ASSERT_INT_EQ(
	    orch_docker_driver.stop(st, handle, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(
	    orch_docker_driver.remove(st, handle, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(du_task_count(peek, t->id, NULL), 0);
	ASSERT_INT_EQ(
	    orch_docker_driver.inspect(st, handle, &in, err, sizeof(err)),
	    ORCH_ENOENT);
	/* Missing is success for both. */
	ASSERT_INT_EQ(
	    orch_docker_driver.stop(st, handle, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(
	    orch_docker_driver.remove(st, handle, err, sizeof(err)), ORCH_OK);
	orch_docker_driver.fini(st);
	orch_task_free(t);
}

/* Runs cmd to its end; checks the exit callback and inspect agree on
 * want, then removes the container. */
static void
run_to_exit(const char *const *cmd, int want)
{
	orch_task *t = tf_task_make("e2e", IMAGE, NULL, cmd, 32, 0.5);
	char handle[ORCH_HANDLE_LEN];
	struct orch_instance in;
	void *st = drv_new(node_a, true);

	ASSERT_INT_EQ(
	    orch_docker_driver.start(st, t, handle, err, sizeof(err)), ORCH_OK);
	if (!h_wait_until(exited_cond, t->id, 30000))
		h_fail(__FILE__, __LINE__, "no exit event for task %s in 30 s",
		    t->id);
	ASSERT_INT_EQ(exit_of(t->id), want);
	pthread_mutex_lock(&exits_mu);
	for (int i = 0; i < nexits; i++) {
		if (strcmp(exits[i].task, t->id) == 0)
			ASSERT_STR_EQ(exits[i].handle, handle);
	}
	pthread_mutex_unlock(&exits_mu);
	ASSERT_INT_EQ(
	    orch_docker_driver.inspect(st, handle, &in, err, sizeof(err)),
	    ORCH_OK);
	ASSERT(in.exited && !in.running);
	ASSERT_INT_EQ(in.exit_code, want);
	if (!(in.started_at_ms > 0 && in.finished_at_ms >= in.started_at_ms))
		h_fail(__FILE__, __LINE__, "times: started %lld finished %lld",
		    (long long)in.started_at_ms, (long long)in.finished_at_ms);
	ASSERT_INT_EQ(
	    orch_docker_driver.remove(st, handle, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(du_task_count(peek, t->id, NULL), 0);
	orch_docker_driver.fini(st);
	orch_task_free(t);
}

static void
test_exit_code_3(void)
{
	static const char *const cmd[] = {"sh", "-c", "exit 3", NULL};

	run_to_exit(cmd, 3);
}

static void
test_echo_exits_0(void)
{
	static const char *const cmd[] = {"echo", "hi", NULL};

	run_to_exit(cmd, 0);
}

static void
test_missing_image(void)
{
	orch_task *t =
	    tf_task_make("e2e", "orch-test/nope:1", NULL, NULL, 32, 0.5);
	char handle[ORCH_HANDLE_LEN];
	void *st = drv_new(node_a, false);
	int64_t t0 = orch_mono_ms();
	int rc;

	rc = orch_docker_driver.start(st, t, handle, err, sizeof(err));
	ASSERT(rc != ORCH_OK);
	fprintf(stderr, "   start: %s\n", err);
	ASSERT_STR_CONTAINS(err,
	    "image \"orch-test/nope:1\" not found "
	    "locally and pull failed: ");
	/* Bounded by pull_timeout_s (30 s) plus the create calls. */
	ASSERT(orch_mono_ms() - t0 < 45000);
	ASSERT_INT_EQ(du_task_count(peek, t->id, NULL), 0);
	orch_docker_driver.fini(st);
	orch_task_free(t);
}

static bool
list_has(const struct orch_instance *arr, size_t n, const char *task,
    const struct orch_instance **found)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(arr[i].task_id, task) == 0) {
			*found = &arr[i];
			return true;
		}
	}
	return false;
}

/* A driver and a task id: for list_shows_exited(). */
struct list_want {
	void *drv;
	const char *task;
};

/* The driver's list shows the task exited.  Docker may still list a
 * container as running a moment after its "die" event (its list is a
 * copy of the state, updated apart), most visibly on a loaded daemon. */
static bool
list_shows_exited(void *arg)
{
	const struct list_want *w = arg;
	const struct orch_instance *in;
	struct orch_instance *arr = NULL;
	size_t n = 0;
	bool ok;

	ASSERT_INT_EQ(
	    orch_docker_driver.list(w->drv, &arr, &n, err, sizeof(err)),
	    ORCH_OK);
	ok = list_has(arr, n, w->task, &in) && !in->running && in->exited;
	free(arr);
	return ok;
}

static void
test_list_per_node(void)
{
	static const char *const sleep_cmd[] = {"sleep", "300", NULL};
	static const char *const exit_cmd[] = {"sh", "-c", "exit 5", NULL};
	orch_task *ta = tf_task_make("e2e", IMAGE, NULL, sleep_cmd, 32, 0.5);
	orch_task *te = tf_task_make("e2e", IMAGE, NULL, exit_cmd, 32, 0.5);
	orch_task *tb = tf_task_make("e2e", IMAGE, NULL, sleep_cmd, 32, 0.5);
	char ha[ORCH_HANDLE_LEN], he[ORCH_HANDLE_LEN], hb[ORCH_HANDLE_LEN];
	const struct orch_instance *in;
	struct orch_instance *arr = NULL;
	size_t n = 0;
	void *a = drv_new(node_a, true), *b = drv_new(node_b, false);

	ASSERT_INT_EQ(
	    orch_docker_driver.start(a, ta, ha, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(
	    orch_docker_driver.start(a, te, he, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(
	    orch_docker_driver.start(b, tb, hb, err, sizeof(err)), ORCH_OK);
	ASSERT(h_wait_until(exited_cond, te->id, 30000));
	ASSERT(h_wait_until(list_shows_exited,
	    &(struct list_want){.drv = a, .task = te->id}, 30000));

	ASSERT_INT_EQ(
	    orch_docker_driver.list(a, &arr, &n, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(n, 2);
	ASSERT(list_has(arr, n, ta->id, &in));
	ASSERT_STR_EQ(in->handle, ha);
	ASSERT(in->running && !in->exited);
	ASSERT(list_has(arr, n, te->id, &in));
	ASSERT_STR_EQ(in->handle, he);
	ASSERT(!in->running && in->exited);
	ASSERT_INT_EQ(in->exit_code, 5);
	ASSERT(!list_has(arr, n, tb->id, &in));
	free(arr);

	ASSERT_INT_EQ(
	    orch_docker_driver.list(b, &arr, &n, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(n, 1);
	ASSERT_STR_EQ(arr[0].task_id, tb->id);
	ASSERT_STR_EQ(arr[0].handle, hb);
	free(arr);

	/* B's stop does not need A's grace: remove kills. */
	ASSERT_INT_EQ(
	    orch_docker_driver.remove(a, ha, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(
	    orch_docker_driver.remove(a, he, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(
	    orch_docker_driver.remove(b, hb, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(
	    orch_docker_driver.list(a, &arr, &n, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(n, 0);
	free(arr);
	orch_docker_driver.fini(b);
	orch_docker_driver.fini(a);
	orch_task_free(ta);
	orch_task_free(te);
	orch_task_free(tb);
}

static void
test_capacity(void)
{
	void *st = drv_new(node_a, false);
	double cpu = 0;
	int64_t mem = 0;

	ASSERT_INT_EQ(
	    orch_docker_driver.capacity(st, &cpu, &mem, err, sizeof(err)),
	    ORCH_OK);
	ASSERT(cpu >= 1.0);
	ASSERT(mem >= 64);
	orch_docker_driver.fini(st);
}

int
main(void)
{
	struct orch_docker_answer ans;
	char e[512];
	long status = 0;
	json_t *img;

	orch_log_level_set(ORCH_LOG_WARN);
	snprintf(node_a, sizeof(node_a), NODE_PREFIX "%ld-a", (long)getpid());
	snprintf(node_b, sizeof(node_b), NODE_PREFIX "%ld-b", (long)getpid());
	ASSERT(orch_docker_client_new(SOCK, &peek) == ORCH_OK);
	if (orch_docker_client_call(peek, "GET", "/_ping", NULL, 10, &ans, e,
	        sizeof(e)) != ORCH_OK ||
	    ans.status != 200) {
		fprintf(stderr,
		    "FAIL: the Docker daemon is not reachable at " SOCK
		    " (%s); start it with scripts/docker-up.sh\n",
		    ans.status != 0 ? "it did not answer 200 to /_ping" : e);
		return 1;
	}
	orch_docker_answer_free(&ans);
	img = du_get(peek, "/images/" IMAGE "/json", &status);
	json_decref(img);
	if (status != 200) {
		fprintf(stderr,
		    "FAIL: image " IMAGE " is missing (%ld); make "
		    "it with scripts/docker-up.sh\n",
		    status);
		return 1;
	}
	atexit(cleanup_at_exit);
	du_cleanup(peek, NODE_PREFIX); /* leftovers of a killed earlier run */

	RUN(test_capacity);
	RUN(test_sleep_runs_stops_and_goes);
	RUN(test_exit_code_3);
	RUN(test_echo_exits_0);
	RUN(test_missing_image);
	RUN(test_list_per_node);
	return 0;
}
