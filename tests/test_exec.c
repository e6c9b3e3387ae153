/*
 * test_exec.c: the exec driver with real processes: exit codes, output
 * and environment, programs that cannot run, stop escalating from SIGTERM
 * to SIGKILL, adoption by a new driver state (an agent restart) checked by
 * pid and start time, a recycled pid never adopted nor signalled, and the
 * cgroup limits (applied where cgroup v2 can be written, reported where
 * not).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "clock.h"
#include "driver.h"
#include "error.h"
#include "exec_util.h"
#include "harness.h"
#include "task_fixture.h"

#define WAIT_MS 15000

/* What the driver's exit callback heard. */
static pthread_mutex_t heard_mu = PTHREAD_MUTEX_INITIALIZER;
static char heard_task[ORCH_ID_LEN];
static int heard_code = -1000;

static void
on_exit_cb(void *arg, const char *task_id, const char *handle, int code)
{
	(void)arg;
	(void)handle;
	pthread_mutex_lock(&heard_mu);
	snprintf(heard_task, sizeof(heard_task), "%s", task_id);
	heard_code = code;
	pthread_mutex_unlock(&heard_mu);
}

struct env {
	char *dir;
	void *st;
	char node[64];
};

static void
drv_init(struct env *e, int stop_timeout_s, const char *cgroup_dir)
{
	struct orch_driver_config cfg = {
	    .node_name = e->node,
	    .on_exit = on_exit_cb,
	    .stop_timeout_s = stop_timeout_s,
	    .state_dir = e->dir,
	    .cgroup_dir = cgroup_dir,
	};
	char err[512];

	if (orch_exec_driver.init(&cfg, &e->st, err, sizeof(err)) != ORCH_OK)
		h_fail(__FILE__, __LINE__, "init: %s", err);
}

static void
env_open(struct env *e, int stop_timeout_s)
{
	e->dir = h_tmpdir("exec");
	snprintf(e->node, sizeof(e->node), "node-%d", (int)getpid());
	/* "": no cgroups; the limits have a test of their own. */
	drv_init(e, stop_timeout_s, "");
}

static void
env_close(struct env *e)
{
	orch_exec_driver.fini(e->st);
	h_rm_rf(e->dir);
	free(e->dir);
}

struct ended {
	struct env *e;
	const char *handle;
};

static bool
instance_ended(void *arg)
{
	struct ended *x = arg;
	struct orch_instance in;
	char err[256];

	ASSERT_INT_EQ(orch_exec_driver.inspect(
	                  x->e->st, x->handle, &in, err, sizeof(err)),
	    ORCH_OK);
	return in.exited;
}

static void
inspect_ok(struct env *e, const char *handle, struct orch_instance *in)
{
	char err[256];

	if (orch_exec_driver.inspect(e->st, handle, in, err, sizeof(err)) !=
	    ORCH_OK)
		h_fail(__FILE__, __LINE__, "inspect %s: %s", handle, err);
}

static void
wait_ended(struct env *e, const char *handle, struct orch_instance *in)
{
	struct ended x = {e, handle};

	ASSERT(h_wait_until(instance_ended, &x, WAIT_MS));
	inspect_ok(e, handle, in);
}

static bool
file_has(void *arg)
{
	const char *const *pn = arg; /* path, needle */
	char *s = h_read_file(pn[0]);
	bool ok = s != NULL && strstr(s, pn[1]) != NULL;

	free(s);
	return ok;
}

/* Waits until task id has printed needle on stdout. */
static void
wait_stdout(struct env *e, const char *id, const char *needle)
{
	char path[1024];
	const char *pn[2] = {path, needle};

	snprintf(
	    path, sizeof(path), "%s/exec/%s/%s/stdout", e->dir, e->node, id);
	ASSERT(h_wait_until(file_has, pn, WAIT_MS));
}

static orch_task *
exec_task(const char *const *cmd, const char *const *env)
{
	return tf_task_make("t", NULL, env, cmd, 64, 0.5);
}

static void
start_ok(struct env *e, const orch_task *t, char handle[ORCH_HANDLE_LEN])
{
	char err[512];

	if (orch_exec_driver.start(e->st, t, handle, err, sizeof(err)) !=
	    ORCH_OK)
		h_fail(__FILE__, __LINE__, "start: %s", err);
}

static void
test_exit_code_and_output(void)
{
	const char *cmd[] = {"/bin/sh", "-c",
	    "echo out; echo err >&2; echo \"$GREETING\"; pwd; exit 3", NULL};
	const char *env[] = {"GREETING", "hi there", NULL};
	struct env e;
	orch_task *t = exec_task(cmd, env);
	char handle[ORCH_HANDLE_LEN], again[ORCH_HANDLE_LEN], want[1200];
	struct orch_instance in;
	char *out, *errs;

	env_open(&e, 5);
	start_ok(&e, t, handle);
	ASSERT_STR_EQ(handle + 5, t->id);
	ASSERT(strncmp(handle, "exec-", 5) == 0);
	wait_ended(&e, handle, &in);
	ASSERT_INT_EQ(in.exit_code, 3);
	ASSERT(!in.exit_unknown);
	ASSERT(!in.running);
	ASSERT_STR_EQ(in.task_id, t->id);
	ASSERT(in.started_at_ms > 0);
	ASSERT(in.finished_at_ms >= in.started_at_ms);
	out = eu_task_file(e.dir, e.node, t->id, "stdout");
	errs = eu_task_file(e.dir, e.node, t->id, "stderr");
	snprintf(want, sizeof(want), "out\nhi there\n%s/exec/%s/%s/work\n",
	    e.dir, e.node, t->id);
	ASSERT_STR_EQ(out, want);
	ASSERT_STR_EQ(errs, "err\n");
	free(out);
	free(errs);
	/* Starting it again adopts what is there: nothing runs twice. */
	start_ok(&e, t, again);
	ASSERT_STR_EQ(again, handle);
	out = eu_task_file(e.dir, e.node, t->id, "stdout");
	ASSERT_STR_EQ(out, want);
	free(out);
	/* The monitor heard the end, with the code. */
	{
		int64_t deadline = 0;

		for (;;) {
			bool done;

			pthread_mutex_lock(&heard_mu);
			done = strcmp(heard_task, t->id) == 0;
			if (done)
				ASSERT_INT_EQ(heard_code, 3);
			pthread_mutex_unlock(&heard_mu);
			if (done)
				break;
			ASSERT(deadline++ < WAIT_MS / 10);
			usleep(10000);
		}
	}
	/* Remove leaves nothing. */
	{
		char err[256];
		struct orch_instance *arr;
		size_t n;

		ASSERT_INT_EQ(
		    orch_exec_driver.remove(e.st, handle, err, sizeof(err)),
		    ORCH_OK);
		ASSERT_INT_EQ(orch_exec_driver.inspect(
		                  e.st, handle, &in, err, sizeof(err)),
		    ORCH_ENOENT);
		ASSERT_INT_EQ(
		    orch_exec_driver.list(e.st, &arr, &n, err, sizeof(err)),
		    ORCH_OK);
		ASSERT_INT_EQ(n, 0);
		free(arr);
	}
	orch_task_free(t);
	env_close(&e);
}

/* A program that is not there, or cannot be run, says so by name. */
static void
test_bad_program(void)
{
	const char *missing[] = {"no-such-program-orch", NULL};
	struct env e;
	orch_task *t = exec_task(missing, NULL);
	char handle[ORCH_HANDLE_LEN], err[512], path[1024];
	struct orch_instance in, *arr;
	size_t n;
	int fd;

	env_open(&e, 5);
	ASSERT_INT_EQ(orch_exec_driver.start(e.st, t, handle, err, sizeof(err)),
	    ORCH_ENOENT);
	ASSERT_STR_CONTAINS(err, "program \"no-such-program-orch\" not found");
	ASSERT_INT_EQ(
	    orch_exec_driver.list(e.st, &arr, &n, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(n, 0);
	free(arr);
	orch_task_free(t);

	/* Found, but not executable: it ran as far as execve, and ended
	 * there saying why. */
	snprintf(path, sizeof(path), "%s/not-executable", e.dir);
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	ASSERT(fd >= 0);
	close(fd);
	{
		const char *cmd[] = {path, NULL};

		t = exec_task(cmd, NULL);
	}
	start_ok(&e, t, handle);
	wait_ended(&e, handle, &in);
	ASSERT_INT_EQ(in.exit_code, 127);
	ASSERT_STR_CONTAINS(in.error, "cannot run \"");
	ASSERT_STR_CONTAINS(in.error, "not-executable\": Permission denied");
	ASSERT_INT_EQ(
	    orch_exec_driver.remove(e.st, handle, err, sizeof(err)), ORCH_OK);
	orch_task_free(t);
	env_close(&e);
}

static bool
pid_gone(void *arg)
{
	return !eu_pid_alive(*(pid_t *)arg);
}

static void
test_stop(void)
{
	/* The shell ignores TERM, and so does its child (ignored signals stay
	 * ignored across exec): only SIGKILL ends them. */
	const char *stubborn[] = {"/bin/sh", "-c",
	    "trap '' TERM; sleep 300 & echo ready; wait; wait", NULL};
	const char *polite[] = {"/bin/sleep", "300", NULL};
	struct env e;
	orch_task *t1 = exec_task(stubborn, NULL),
	          *t2 = exec_task(polite, NULL);
	char h1[ORCH_HANDLE_LEN], h2[ORCH_HANDLE_LEN], err[256];
	struct orch_instance in;
	pid_t pid;

	env_open(&e, 1);
	start_ok(&e, t1, h1);
	start_ok(&e, t2, h2);
	inspect_ok(&e, h1, &in);
	ASSERT(in.running);
	wait_stdout(&e, t1->id, "ready");
	pid = eu_task_pid(e.dir, e.node, t1->id);
	ASSERT_INT_EQ(
	    orch_exec_driver.stop(e.st, h1, err, sizeof(err)), ORCH_OK);
	inspect_ok(&e, h1, &in);
	ASSERT(in.exited);
	ASSERT_INT_EQ(in.exit_code, 128 + SIGKILL);
	ASSERT_STR_CONTAINS(in.error, "killed by signal 9 (SIGKILL)");
	ASSERT(pid_gone(&pid));
	/* A process that honours SIGTERM ends with it. */
	ASSERT_INT_EQ(
	    orch_exec_driver.stop(e.st, h2, err, sizeof(err)), ORCH_OK);
	inspect_ok(&e, h2, &in);
	ASSERT(in.exited);
	ASSERT_INT_EQ(in.exit_code, 128 + SIGTERM);
	/* Stopping what ended is a no-op. */
	ASSERT_INT_EQ(
	    orch_exec_driver.stop(e.st, h2, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(
	    orch_exec_driver.remove(e.st, h1, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(
	    orch_exec_driver.remove(e.st, h2, err, sizeof(err)), ORCH_OK);
	/* Unknown handles. */
	ASSERT_INT_EQ(orch_exec_driver.stop(e.st, "exec-x", err, sizeof(err)),
	    ORCH_EINVAL);
	ASSERT_INT_EQ(
	    orch_exec_driver.stop(e.st, h1, err, sizeof(err)), ORCH_OK);
	orch_task_free(t1);
	orch_task_free(t2);
	env_close(&e);
}

/* A new driver state over the same directory (an agent restart) adopts
 * what runs, and learns how what ended meanwhile ended. */
static void
test_adopt(void)
{
	const char *long_cmd[] = {"/bin/sleep", "300", NULL};
	const char *waits[] = {"/bin/sh", "-c",
	    "while [ ! -e go ]; do sleep 0.05; done; exit 7", NULL};
	struct env e;
	orch_task *t1 = exec_task(long_cmd, NULL), *t2 = exec_task(waits, NULL);
	char h1[ORCH_HANDLE_LEN], h2[ORCH_HANDLE_LEN], err[256], path[1024];
	struct orch_instance *arr, in;
	size_t n;
	int fd;

	env_open(&e, 5);
	start_ok(&e, t1, h1);
	start_ok(&e, t2, h2);
	orch_exec_driver.fini(e.st);
	/* While no driver watches, the second ends. */
	snprintf(
	    path, sizeof(path), "%s/exec/%s/%s/work/go", e.dir, e.node, t2->id);
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	ASSERT(fd >= 0);
	close(fd);
	drv_init(&e, 5, "");
	{
		struct ended x = {&e, h2};

		ASSERT(h_wait_until(instance_ended, &x, WAIT_MS));
	}
	ASSERT_INT_EQ(
	    orch_exec_driver.list(e.st, &arr, &n, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(n, 2);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(arr[i].task_id, t1->id) == 0) {
			ASSERT_STR_EQ(arr[i].handle, h1);
			ASSERT(arr[i].running);
		} else {
			ASSERT_STR_EQ(arr[i].task_id, t2->id);
			ASSERT(arr[i].exited);
			ASSERT(!arr[i].exit_unknown);
			ASSERT_INT_EQ(arr[i].exit_code, 7);
		}
	}
	free(arr);
	/* The adopted one is stopped as if this state had started it. */
	ASSERT_INT_EQ(
	    orch_exec_driver.stop(e.st, h1, err, sizeof(err)), ORCH_OK);
	inspect_ok(&e, h1, &in);
	ASSERT_INT_EQ(in.exit_code, 128 + SIGTERM);
	ASSERT_INT_EQ(
	    orch_exec_driver.remove(e.st, h1, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(
	    orch_exec_driver.remove(e.st, h2, err, sizeof(err)), ORCH_OK);
	orch_task_free(t1);
	orch_task_free(t2);
	env_close(&e);
}

/* Writes a state file for task id naming pid with start time start. */
static void
state_forge(struct env *e, const char *id, const char *boot, pid_t pid,
    unsigned long long start)
{
	char path[1024], text[512];
	int fd;

	snprintf(path, sizeof(path), "%s/exec/%s/%s", e->dir, e->node, id);
	ASSERT(mkdir(path, 0700) == 0);
	snprintf(
	    path, sizeof(path), "%s/exec/%s/%s/state", e->dir, e->node, id);
	snprintf(text, sizeof(text),
	    "node=%s\ntask=%s\nboot=%s\nsupervisor=%d %llu\npid=%d %llu\n"
	    "started_at_ms=1\ncgroup=\n",
	    e->node, id, boot, (int)pid, start, (int)pid, start);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ASSERT(fd >= 0);
	ASSERT_INT_EQ(write(fd, text, strlen(text)), (long long)strlen(text));
	close(fd);
}

static unsigned long long
start_time(pid_t pid)
{
	char path[64], *s, *p;
	unsigned long long v = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	s = h_read_file(path);
	ASSERT(s != NULL);
	p = strrchr(s, ')');
	ASSERT(p != NULL);
	p += 2;
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		ASSERT(p != NULL);
		p++;
	}
	v = strtoull(p, NULL, 10);
	free(s);
	return v;
}

/* A pid now used by another process (or from another boot) is neither
 * adopted nor signalled. */
static void
test_recycled_pid(void)
{
	struct env e;
	char id1[ORCH_ID_LEN], id2[ORCH_ID_LEN], h1[ORCH_HANDLE_LEN],
	    h2[ORCH_HANDLE_LEN], err[256], *boot;
	struct orch_instance in;
	unsigned long long st;
	pid_t other;
	int status;

	env_open(&e, 1);
	/* A process that is not the task: same pid, another start time. */
	if ((other = fork()) == 0) {
		pause();
		_exit(0);
	}
	ASSERT(other > 0);
	st = start_time(other);
	boot = h_read_file("/proc/sys/kernel/random/boot_id");
	ASSERT(boot != NULL);
	boot[strcspn(boot, "\n")] = '\0';
	orch_id_new(id1);
	orch_id_new(id2);
	state_forge(&e, id1, boot, other, st + 1);
	/* The right start time, but recorded in another boot. */
	state_forge(&e, id2, "00000000-0000-0000-0000-000000000000", other, st);
	snprintf(h1, sizeof(h1), "exec-%s", id1);
	snprintf(h2, sizeof(h2), "exec-%s", id2);

	inspect_ok(&e, h1, &in);
	ASSERT(!in.running);
	ASSERT(in.exited);
	ASSERT(in.exit_unknown);
	ASSERT_STR_CONTAINS(in.error, "exit code unknown");
	inspect_ok(&e, h2, &in);
	ASSERT(!in.running);
	ASSERT(in.exit_unknown);
	ASSERT_STR_CONTAINS(in.error, "the host restarted");
	ASSERT_INT_EQ(
	    orch_exec_driver.stop(e.st, h1, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(
	    orch_exec_driver.stop(e.st, h2, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(
	    orch_exec_driver.remove(e.st, h1, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(
	    orch_exec_driver.remove(e.st, h2, err, sizeof(err)), ORCH_OK);
	/* The other process was never signalled. */
	ASSERT_INT_EQ(waitpid(other, &status, WNOHANG), 0);
	ASSERT_INT_EQ(kill(other, SIGKILL), 0);
	ASSERT_INT_EQ(waitpid(other, &status, 0), other);
	ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	free(boot);
	env_close(&e);
}

/* Another node's tasks, in the same state directory, are not seen. */
static void
test_nodes_apart(void)
{
	const char *cmd[] = {"/bin/true", NULL};
	struct env a, b;
	orch_task *t = exec_task(cmd, NULL);
	char handle[ORCH_HANDLE_LEN], err[256];
	struct orch_instance *arr, in;
	size_t n;

	env_open(&a, 5);
	b = a;
	snprintf(b.node, sizeof(b.node), "other-%d", (int)getpid());
	drv_init(&b, 5, "");
	start_ok(&a, t, handle);
	wait_ended(&a, handle, &in);
	ASSERT_INT_EQ(
	    orch_exec_driver.list(b.st, &arr, &n, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(n, 0);
	free(arr);
	ASSERT_INT_EQ(
	    orch_exec_driver.inspect(b.st, handle, &in, err, sizeof(err)),
	    ORCH_ENOENT);
	orch_exec_driver.fini(b.st);
	orch_task_free(t);
	env_close(&a);
}

/* Asserts that the file dir/name holds exactly want. */
static void
file_is(const char *dir, const char *name, const char *want)
{
	char file[1024], *s;

	snprintf(file, sizeof(file), "%s/%s", dir, name);
	s = h_read_file(file);
	ASSERT_STR_EQ(s, want);
	free(s);
}

/* The values written, on a made-up cgroup tree (a plain directory). */
static void
test_cgroup_files(void)
{
	char *dir = h_tmpdir("cgroup"), path[ORCH_CGROUP_PATH_LEN], err[256],
	     why[512], file[1024], mem[32], cpu[48];
	int fd;

	orch_cgroup_limits_format(0.5, 256, mem, sizeof(mem), cpu, sizeof(cpu));
	ASSERT_STR_EQ(mem, "268435456");
	ASSERT_STR_EQ(cpu, "50000 100000");
	orch_cgroup_limits_format(2, 6, mem, sizeof(mem), cpu, sizeof(cpu));
	ASSERT_STR_EQ(mem, "6291456");
	ASSERT_STR_EQ(cpu, "200000 100000");
	orch_cgroup_limits_format(0.001, 6, mem, sizeof(mem), cpu, sizeof(cpu));
	ASSERT_STR_EQ(cpu, "1000 100000"); /* the kernel's least quota */

	/* The files of a task's cgroup exist already in a real one. */
	snprintf(file, sizeof(file), "%s/t1", dir);
	ASSERT(mkdir(file, 0755) == 0);
	for (int i = 0; i < 3; i++) {
		const char *names[] = {"memory.max", "cpu.max", "cgroup.procs"};

		snprintf(file, sizeof(file), "%s/t1/%s", dir, names[i]);
		fd = open(file, O_WRONLY | O_CREAT, 0644);
		ASSERT(fd >= 0);
		close(fd);
	}
	ASSERT_INT_EQ(orch_cgroup_task_create(
	                  dir, "t1", 1.5, 128, path, &fd, err, sizeof(err)),
	    ORCH_OK);
	ASSERT(fd >= 0);
	close(fd);
	snprintf(file, sizeof(file), "%s/t1", dir);
	ASSERT_STR_EQ(path, file);
	file_is(path, "memory.max", "134217728");
	file_is(path, "cpu.max", "150000 100000");

	/* A directory that is not on cgroup v2 is refused, saying so. */
	snprintf(file, sizeof(file), "%s/orch", dir);
	ASSERT_INT_EQ(orch_cgroup_probe(file, "n", path, why, sizeof(why)),
	    ORCH_EUNAVAIL);
	ASSERT_STR_CONTAINS(why, "is not on a cgroup v2 file system");
	ASSERT_STR_EQ(path, "");
	ASSERT_INT_EQ(
	    orch_cgroup_probe("relative", "n", path, why, sizeof(why)),
	    ORCH_EINVAL);
	h_rm_rf(dir);
	free(dir);
}

/* On this host: limits in the task's cgroup where cgroup v2 can be
 * written; where it cannot, the task runs all the same. */
static void
test_cgroup_limits(void)
{
	const char *cmd[] = {"/bin/sh", "-c", "cat /proc/self/cgroup", NULL};
	struct env e;
	orch_task *t = tf_task_make("t", NULL, NULL, cmd, 64, 0.25);
	char handle[ORCH_HANDLE_LEN], path[ORCH_CGROUP_PATH_LEN], why[512],
	    err[256], file[1024], *state, *out, *cg;
	struct orch_instance in;
	int rc;

	e.dir = h_tmpdir("exec");
	snprintf(e.node, sizeof(e.node), "test-exec-%d", (int)getpid());
	rc = orch_cgroup_probe(
	    ORCH_CGROUP_DIR_DEFAULT, e.node, path, why, sizeof(why));
	drv_init(&e, 5, NULL);
	start_ok(&e, t, handle);
	wait_ended(&e, handle, &in);
	ASSERT_INT_EQ(in.exit_code, 0);
	state = eu_task_file(e.dir, e.node, t->id, "state");
	out = eu_task_file(e.dir, e.node, t->id, "stdout");
	ASSERT(state != NULL && out != NULL);
	cg = strstr(state, "\ncgroup=");
	ASSERT(cg != NULL);
	cg += 8;
	cg[strcspn(cg, "\n")] = '\0';
	if (rc != ORCH_OK) {
		printf("cgroup v2 cannot be written here: %s\n", why);
		ASSERT(why[0] != '\0');
		ASSERT_STR_EQ(cg, "");
	} else {
		printf("limits in %s\n", cg);
		snprintf(file, sizeof(file), "%s/%s", path, t->id);
		ASSERT_STR_EQ(cg, file);
		file_is(cg, "memory.max", "67108864\n");
		file_is(cg, "cpu.max", "25000 100000\n");
		/* The process ran inside it. */
		ASSERT_STR_CONTAINS(out, t->id);
	}
	ASSERT_INT_EQ(
	    orch_exec_driver.remove(e.st, handle, err, sizeof(err)), ORCH_OK);
	if (rc == ORCH_OK) {
		struct stat st;

		ASSERT(stat(cg, &st) != 0 && errno == ENOENT);
		(void)rmdir(path);
	}
	free(state);
	free(out);
	orch_task_free(t);
	env_close(&e);
}

/* ---- logs ---- */

/* What the driver's logs handed out, per stream. */
struct got_logs {
	pthread_mutex_t mu;
	char out[4096], err[4096];
	size_t nout, nerr;
	int ticks_first; /* ticks before any byte */
	bool stop_now;   /* answer the next call "stop" */
	int rc;          /* logs' result, once a thread's call is back */
	bool done;
};

static int
got_fn(void *arg, int stream, const char *data, size_t len)
{
	struct got_logs *g = arg;
	int stop;

	pthread_mutex_lock(&g->mu);
	if (len == 0) {
		ASSERT(data == NULL);
		if (g->nout + g->nerr == 0)
			g->ticks_first++;
	} else if (stream == ORCH_LOG_STDOUT) {
		ASSERT(g->nout + len < sizeof(g->out));
		memcpy(g->out + g->nout, data, len);
		g->out[g->nout += len] = '\0';
	} else {
		ASSERT_INT_EQ(stream, ORCH_LOG_STDERR);
		ASSERT(g->nerr + len < sizeof(g->err));
		memcpy(g->err + g->nerr, data, len);
		g->err[g->nerr += len] = '\0';
	}
	stop = g->stop_now;
	pthread_mutex_unlock(&g->mu);
	return stop;
}

/* Reads the output of handle as o asks, into g (fresh). */
static int
logs_read(struct env *e, const char *handle, struct orch_log_opts o,
    struct got_logs *g)
{
	char err[512] = "";
	int rc;

	memset(g, 0, sizeof(*g));
	pthread_mutex_init(&g->mu, NULL);
	rc = orch_exec_driver.logs(
	    e->st, handle, &o, got_fn, g, err, sizeof(err));
	if (rc != ORCH_OK && rc != ORCH_ECLOSED)
		ASSERT(err[0] != '\0');
	return rc;
}

struct follow_arg {
	struct env *e;
	const char *handle;
	struct got_logs *g;
};

static void *
follow_main(void *arg)
{
	struct follow_arg *f = arg;
	struct orch_log_opts o = {
	    .follow = true, .tail = -1, .out = true, .err = true};
	char err[512];
	int rc = orch_exec_driver.logs(
	    f->e->st, f->handle, &o, got_fn, f->g, err, sizeof(err));

	pthread_mutex_lock(&f->g->mu);
	f->g->rc = rc;
	f->g->done = true;
	pthread_mutex_unlock(&f->g->mu);
	return NULL;
}

static bool
got_has(void *arg)
{
	struct got_logs *g = arg;
	bool ok;

	pthread_mutex_lock(&g->mu);
	ok = strstr(g->out, "o3\n") != NULL && strstr(g->err, "e2\n") != NULL;
	pthread_mutex_unlock(&g->mu);
	return ok;
}

static bool
got_done(void *arg)
{
	struct got_logs *g = arg;
	bool done;

	pthread_mutex_lock(&g->mu);
	done = g->done;
	pthread_mutex_unlock(&g->mu);
	return done;
}

/* A task's output as the agent reads it for GET /tasks/{id}/logs: all
 * of it or its last lines, one stream, and followed until the task
 * ends. */
static void
test_logs(void)
{
	const char *cmd[] = {"/bin/sh", "-c",
	    "printf 'o1\\no2\\no3\\n'; echo e1 >&2; echo e2 >&2; "
	    "while [ ! -e go ]; do sleep 0.05; done; echo o4; echo e3 >&2",
	    NULL};
	const char *nonl[] = {"/bin/sh", "-c", "printf 'a\\nb\\nc'", NULL};
	struct orch_log_opts all = {.tail = -1, .out = true, .err = true};
	struct orch_log_opts o;
	struct env e;
	orch_task *t = exec_task(cmd, NULL), *t2 = exec_task(nonl, NULL);
	char handle[ORCH_HANDLE_LEN], h2[ORCH_HANDLE_LEN], go[1200];
	struct got_logs g, fg;
	struct follow_arg fa = {&e, handle, &fg};
	struct orch_instance in;
	pthread_t th;
	FILE *f;

	env_open(&e, 5);
	start_ok(&e, t, handle);
	wait_stdout(&e, t->id, "o3\n");
	{
		/* stderr too, before reading: the shell writes it next. */
		char path[1024];
		const char *pn[2] = {path, "e2\n"};

		snprintf(path, sizeof(path), "%s/exec/%s/%s/stderr", e.dir,
		    e.node, t->id);
		ASSERT(h_wait_until(file_has, pn, WAIT_MS));
	}
	/* All of it, stdout first (the files keep no times), after one
	 * tick that says the output is open. */
	ASSERT_INT_EQ(logs_read(&e, handle, all, &g), ORCH_OK);
	ASSERT_STR_EQ(g.out, "o1\no2\no3\n");
	ASSERT_STR_EQ(g.err, "e1\ne2\n");
	ASSERT(g.ticks_first >= 1);
	/* The last lines of each. */
	o = all;
	o.tail = 2;
	ASSERT_INT_EQ(logs_read(&e, handle, o, &g), ORCH_OK);
	ASSERT_STR_EQ(g.out, "o2\no3\n");
	ASSERT_STR_EQ(g.err, "e1\ne2\n");
	o.tail = 0;
	ASSERT_INT_EQ(logs_read(&e, handle, o, &g), ORCH_OK);
	ASSERT_INT_EQ(g.nout + g.nerr, 0);
	o.tail = 100;
	ASSERT_INT_EQ(logs_read(&e, handle, o, &g), ORCH_OK);
	ASSERT_STR_EQ(g.out, "o1\no2\no3\n");
	/* One stream. */
	o = all;
	o.out = false;
	ASSERT_INT_EQ(logs_read(&e, handle, o, &g), ORCH_OK);
	ASSERT_INT_EQ(g.nout, 0);
	ASSERT_STR_EQ(g.err, "e1\ne2\n");
	/* A reader that stops. */
	memset(&g, 0, sizeof(g));
	pthread_mutex_init(&g.mu, NULL);
	g.stop_now = true;
	{
		char err[256];

		ASSERT_INT_EQ(orch_exec_driver.logs(e.st, handle, &all, got_fn,
		                  &g, err, sizeof(err)),
		    ORCH_ECLOSED);
	}

	/* Followed: what it prints later comes, and the call returns once
	 * the task has ended, with all of it. */
	memset(&fg, 0, sizeof(fg));
	pthread_mutex_init(&fg.mu, NULL);
	ASSERT(pthread_create(&th, NULL, follow_main, &fa) == 0);
	ASSERT(h_wait_until(got_has, &fg, WAIT_MS));
	ASSERT(!got_done(&fg));
	snprintf(go, sizeof(go), "%s/exec/%s/%s/work/go", e.dir, e.node, t->id);
	ASSERT((f = fopen(go, "w")) != NULL);
	fclose(f);
	ASSERT(h_wait_until(got_done, &fg, WAIT_MS));
	pthread_join(th, NULL);
	ASSERT_INT_EQ(fg.rc, ORCH_OK);
	ASSERT_STR_EQ(fg.out, "o1\no2\no3\no4\n");
	ASSERT_STR_EQ(fg.err, "e1\ne2\ne3\n");
	wait_ended(&e, handle, &in);
	ASSERT_INT_EQ(in.exit_code, 0);

	/* A last line without its newline is a line. */
	start_ok(&e, t2, h2);
	wait_ended(&e, h2, &in);
	o = all;
	o.tail = 2;
	ASSERT_INT_EQ(logs_read(&e, h2, o, &g), ORCH_OK);
	ASSERT_STR_EQ(g.out, "b\nc");
	o.tail = 1;
	ASSERT_INT_EQ(logs_read(&e, h2, o, &g), ORCH_OK);
	ASSERT_STR_EQ(g.out, "c");

	/* Gone, or not a handle: said so. */
	{
		char err[256];

		ASSERT_INT_EQ(
		    orch_exec_driver.remove(e.st, h2, err, sizeof(err)),
		    ORCH_OK);
		ASSERT_INT_EQ(logs_read(&e, h2, all, &g), ORCH_ENOENT);
		ASSERT_INT_EQ(logs_read(&e, "nope", all, &g), ORCH_EINVAL);
		ASSERT_INT_EQ(
		    orch_exec_driver.remove(e.st, handle, err, sizeof(err)),
		    ORCH_OK);
	}
	orch_task_free(t);
	orch_task_free(t2);
	env_close(&e);
}

/* An exec health check of an exec task runs on the host with the
 * task's env, in its work directory; its exit code and first line come
 * back; one past its timeout is killed with its process group; a cancel
 * ends it at once. */
static void
test_check_exec(void)
{
	const char *cmd[] = {"/bin/sleep", "1000", NULL};
	const char *env[] = {"GREETING", "hi there", NULL};
	char *probe[] = {"sh", "-c",
	    "printf '\\n \\n'; echo \"$GREETING from $(pwd)\"; exit 4"};
	char *hang[] = {
	    "/bin/sh", "-c", "sleep 1000 & echo $! > hang.pid; sleep 1000"};
	char *missing[] = {"no-such-probe-orch"};
	struct env e;
	orch_task *t = exec_task(cmd, env);
	char handle[ORCH_HANDLE_LEN], out[256], err[512], want[1200];
	char host[ORCH_CHECK_HOST_LEN];
	unsigned hp = 0;
	int code = -1;
	int64_t t0;

	env_open(&e, 1);
	start_ok(&e, t, handle);
	ASSERT_INT_EQ(orch_exec_driver.check_exec(e.st, handle, t, probe, 3, 10,
	                  &code, out, sizeof(out), err, sizeof(err)),
	    ORCH_OK);
	ASSERT_INT_EQ(code, 4);
	snprintf(want, sizeof(want), "hi there from %s/exec/%s/%s/work", e.dir,
	    e.node, t->id);
	ASSERT_STR_EQ(out, want);

	/* Past its timeout: killed, children and all. */
	t0 = orch_mono_ms();
	ASSERT_INT_EQ(orch_exec_driver.check_exec(e.st, handle, t, hang, 3, 1,
	                  &code, out, sizeof(out), err, sizeof(err)),
	    ORCH_ETIMEDOUT);
	ASSERT_STR_CONTAINS(err, "timed out after 1 s");
	ASSERT(orch_mono_ms() - t0 >= 1000);
	{
		char *pid_text =
		    eu_task_file(e.dir, e.node, t->id, "work/hang.pid");
		pid_t bg;

		ASSERT(pid_text != NULL);
		bg = (pid_t)strtol(pid_text, NULL, 10);
		ASSERT(bg > 0);
		ASSERT(h_wait_until(pid_gone, &bg, WAIT_MS));
		free(pid_text);
	}

	ASSERT_INT_EQ(orch_exec_driver.check_exec(e.st, handle, t, missing, 1,
	                  5, &code, out, sizeof(out), err, sizeof(err)),
	    ORCH_ENOENT);
	ASSERT_STR_CONTAINS(err, "program \"no-such-probe-orch\" not found");

	/* A port of a plain process is the host's own. */
	ASSERT_INT_EQ(orch_exec_driver.check_addr(
	                  e.st, handle, t, 8080, host, &hp, err, sizeof(err)),
	    ORCH_OK);
	ASSERT_STR_EQ(host, "127.0.0.1");
	ASSERT_INT_EQ(hp, 8080);

	/* The agent stopping: no check runs any more. */
	orch_exec_driver.check_cancel(e.st);
	ASSERT_INT_EQ(orch_exec_driver.check_exec(e.st, handle, t, hang, 3, 300,
	                  &code, out, sizeof(out), err, sizeof(err)),
	    ORCH_ECLOSED);
	ASSERT_INT_EQ(
	    orch_exec_driver.remove(e.st, handle, err, sizeof(err)), ORCH_OK);
	orch_task_free(t);
	env_close(&e);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	RUN(test_exit_code_and_output);
	RUN(test_logs);
	RUN(test_bad_program);
	RUN(test_stop);
	RUN(test_adopt);
	RUN(test_recycled_pid);
	RUN(test_nodes_apart);
	RUN(test_cgroup_files);
	RUN(test_cgroup_limits);
	RUN(test_check_exec);
	return 0;
}
