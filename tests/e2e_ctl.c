/*
 * e2e_ctl.c: what orchctl shows a person, against the real
 * orch-manager --dev (exec tasks: no Docker needed).
 *
 * --wait on run, stop and services: plain lines to a file, the status
 * line redrawn in place on a terminal (a pty), exit codes for a task
 * that fails, a wait that gives up and one interrupted; colours on a
 * terminal only, never with NO_COLOR, and as --color says; -o name; the
 * bash completion script completing verbs, flags and task names from
 * the manager; --version on all three programs; and the manager's log in
 * --log-format json, every line an object.  Every wait is a poll with a
 * deadline.
 */
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec_util.h"
#include "harness.h"
#include "http_json.h"

#define WAIT_MS 30000

static pid_t pid;
static int port;
static char addr[64], log_path[600], node[64], state_dir[1100];
static char *tmp;
static bool finished;

static void
at_exit(void)
{
	if (!finished) {
		char *s = h_read_file(log_path);

		if (s != NULL)
			fprintf(stderr, "---- orch-manager --dev log:\n%s\n",
			    strlen(s) > 8000 ? s + strlen(s) - 8000 : s);
		free(s);
	}
	if (pid > 0)
		h_kill(pid, SIGKILL);
	if (node[0] != '\0' && state_dir[0] != '\0')
		eu_cleanup(state_dir, node);
	if (tmp != NULL)
		h_rm_rf(tmp);
	unlink(log_path);
}

static bool
healthy(void *arg)
{
	(void)arg;
	return h_http(port, "GET", "/healthz", NULL, NULL) == 200;
}

static bool
node_ready(void *arg)
{
	(void)arg;
	return hj_one_node_ready(port, node, sizeof(node));
}

/* orchctl args...; returns its exit code, with stdout and stderr. */
static int
ctl(char **out, char **err, const char *const *args)
{
	return h_orchctl(addr, out, err, args);
}

/*
 * Runs orchctl --addr addr args... on a pseudo-terminal, as a person at
 * a terminal would, with NO_COLOR set to no_color (NULL: unset) and TERM
 * xterm.  Returns its exit code; *out (OUT) is what the terminal got.
 */
static int
ctl_pty(const char *no_color, const char *const *args, char **out)
{
	char *bin = h_bin("orchctl"), *argv[24] = {bin, "--addr", addr};
	char buf[4096];
	size_t len = 0, cap = 65536;
	int n = 3, fd, st, code = -1;
	struct winsize ws = {.ws_row = 24, .ws_col = 200};
	pid_t child;

	for (int i = 0; args[i] != NULL; i++) {
		ASSERT(n < 23);
		argv[n++] = (char *)args[i];
	}
	argv[n] = NULL;
	*out = calloc(1, cap);
	ASSERT(*out != NULL);
	child = forkpty(&fd, NULL, NULL, &ws);
	ASSERT(child >= 0);
	if (child == 0) {
		if (no_color != NULL)
			setenv("NO_COLOR", no_color, 1);
		else
			unsetenv("NO_COLOR");
		setenv("TERM", "xterm", 1);
		execv(argv[0], argv);
		_exit(127);
	}
	/* Read until the child closes the terminal (EIO on Linux). */
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t k;

		if (poll(&p, 1, WAIT_MS) <= 0)
			break;
		k = read(fd, buf, sizeof(buf));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		if (len + (size_t)k < cap - 1) {
			memcpy(*out + len, buf, (size_t)k);
			len += (size_t)k;
		}
	}
	close(fd);
	st = h_wait_pid(child, WAIT_MS);
	if (st != -1 && WIFEXITED(st))
		code = WEXITSTATUS(st);
	free(bin);
	return code;
}

static void
test_version(void)
{
	static const char *const progs[] = {
	    "orchctl", "orch-manager", "orch-agent"};
	char *first = NULL;

	for (size_t i = 0; i < 3; i++) {
		char *bin = h_bin(progs[i]), *out = NULL, *err = NULL;
		char *argv[] = {bin, "--version", NULL};
		size_t n = strlen(progs[i]);

		ASSERT_INT_EQ(h_run(argv, &out, &err, 5000), 0);
		/* "NAME 0.1.0" or "NAME 0.1.0 (git abc1234)", one line, the
		 * same version for all three. */
		ASSERT(strncmp(out, progs[i], n) == 0 && out[n] == ' ');
		ASSERT(out[n + 1] >= '0' && out[n + 1] <= '9');
		ASSERT(strchr(out, '\n') == out + strlen(out) - 1);
		if (first == NULL)
			first = strdup(out + n);
		else
			ASSERT_STR_EQ(out + n, first);
		free(out);
		free(err);
		free(bin);
	}
	free(first);
}

/* The lines --wait prints to a file: one per change, no \r, no colour. */
static void
test_wait_plain(void)
{
	const char *run[] = {"run", "w-run", "--driver", "exec", "--wait", "--",
	    "sleep", "300", NULL};
	const char *stop[] = {"stop", "w-run", "--wait", NULL};
	const char *fail[] = {"run", "w-fail", "--driver", "exec", "--wait",
	    "--", "/bin/sh", "-c", "exit 3", NULL};
	const char *done[] = {
	    "run", "w-done", "--driver", "exec", "--wait", "--", "true", NULL};
	char *out = NULL, *err = NULL, want[128];

	ASSERT_INT_EQ(ctl(&out, &err, run), 0);
	snprintf(want, sizeof(want), "\nw-run  Running (%s)  ", node);
	ASSERT_STR_CONTAINS(out, want);
	ASSERT(strchr(out, '\r') == NULL && strchr(out, '\033') == NULL);
	/* Running is where it stops: the last line. */
	ASSERT(strstr(strstr(out, want), "s\n") == out + strlen(out) - 2);
	free(out);
	free(err);

	ASSERT_INT_EQ(ctl(&out, &err, stop), 0);
	ASSERT_STR_CONTAINS(out, "\nw-run  Stopped  ");
	free(out);
	free(err);
	{
		json_t *list = hj_call(port, "GET", "/tasks", NULL, 200), *t;
		size_t i;

		json_array_foreach(list, i, t)
		{
			if (strcmp(hj_str(t, "name"), "w-run") == 0)
				ASSERT_STR_EQ(hj_str(t, "status"), "Stopped");
		}
		json_decref(list);
	}

	/* A task that fails may be seen Running first, which ends the
	 * wait: either way, what it came to is on the last line. */
	{
		int rc = ctl(&out, &err, fail);

		ASSERT(rc == 0 || rc == 5);
		if (rc == 5) {
			ASSERT_STR_CONTAINS(out, "w-fail  Failed (exit 3)  ");
			ASSERT_STR_CONTAINS(
			    err, "orchctl: task 'w-fail' failed: ");
		} else {
			ASSERT_STR_CONTAINS(out, "w-fail  Running (");
		}
	}
	free(out);
	free(err);

	/* One that ends well before it is seen running: done, exit 0. */
	ASSERT_INT_EQ(ctl(&out, &err, done), 0);
	ASSERT(strstr(out, "w-done  Completed (exit 0)  ") != NULL ||
	    strstr(out, "w-done  Running (") != NULL);
	free(out);
	free(err);
}

/* A task nothing can run: --wait-timeout gives up, says why it waits. */
static void
test_wait_timeout(void)
{
	const char *run[] = {"run", "w-nowhere", "--driver", "exec",
	    "--constraint", "node.name==nowhere", "--wait-timeout", "1", "--",
	    "true", NULL};
	const char *bad[] = {"stop", "w-nowhere", "--wait-timeout", "0", NULL};
	char *out = NULL, *err = NULL;

	ASSERT_INT_EQ(ctl(&out, &err, run), 6);
	ASSERT_STR_CONTAINS(out, "w-nowhere  Pending  ");
	ASSERT_STR_CONTAINS(err,
	    "gave up waiting after 1 s (--wait-timeout): the task is still "
	    "Pending: ");
	ASSERT_STR_CONTAINS(err, "node.name==nowhere");
	free(out);
	free(err);
	ASSERT_INT_EQ(ctl(&out, &err, bad), 2);
	ASSERT_STR_CONTAINS(err, "--wait-timeout wants whole seconds");
	free(out);
	free(err);
}

/* A file and a string for file_has(). */
struct file_str {
	const char *path;
	const char *s;
};

/* Whether the file arg->path holds arg->s. */
static bool
file_has(void *arg)
{
	const struct file_str *fs = arg;
	char *s = h_read_file(fs->path);
	bool ok = s != NULL && strstr(s, fs->s) != NULL;

	free(s);
	return ok;
}

/* Ctrl-C ends the wait, exit 130, and leaves the task alone. */
static void
test_wait_interrupted(void)
{
	char *bin = h_bin("orchctl"), path[700], *s;
	char *argv[] = {bin, "--addr", addr, "run", "w-int", "--driver", "exec",
	    "--constraint", "node.name==nowhere", "--wait", "--", "true", NULL};
	pid_t c;
	int st;

	snprintf(path, sizeof(path), "%s/int.log", tmp);
	c = h_spawn(argv, path);
	ASSERT(h_wait_until(file_has,
	    &(struct file_str){.path = path, .s = "w-int  Pending"}, WAIT_MS));
	ASSERT_INT_EQ(kill(c, SIGINT), 0);
	st = h_wait_pid(c, WAIT_MS);
	ASSERT(st != -1 && WIFEXITED(st));
	ASSERT_INT_EQ(WEXITSTATUS(st), 130);
	s = h_read_file(path);
	ASSERT_STR_CONTAINS(s, "stopped waiting; the task goes on");
	free(s);
	free(bin);
}

/* A task stopped before it ran ends run --wait with exit 5. */
static void
test_wait_stopped_first(void)
{
	char *bin = h_bin("orchctl"), path[700], *s, *out = NULL, *err = NULL;
	char *argv[] = {bin, "--addr", addr, "run", "w-stopped", "--driver",
	    "exec", "--constraint", "node.name==nowhere", "--wait", "--",
	    "true", NULL};
	const char *stop[] = {"stop", "w-stopped", NULL};
	pid_t c;
	int st;

	snprintf(path, sizeof(path), "%s/stopped.log", tmp);
	c = h_spawn(argv, path);
	ASSERT(h_wait_until(file_has,
	    &(struct file_str){.path = path, .s = "w-stopped  Pending"},
	    WAIT_MS));
	ASSERT_INT_EQ(ctl(&out, &err, stop), 0);
	st = h_wait_pid(c, WAIT_MS);
	ASSERT(st != -1 && WIFEXITED(st));
	ASSERT_INT_EQ(WEXITSTATUS(st), 5);
	s = h_read_file(path);
	ASSERT_STR_CONTAINS(s, "w-stopped  Stopped  ");
	ASSERT_STR_CONTAINS(
	    s, "orchctl: task 'w-stopped' was stopped before it ran");
	free(s);
	free(out);
	free(err);
	free(bin);
}

/* A container whose image cannot be had fails without running: exit 5
 * with the daemon's reason (when Docker answers; CI starts it). */
static void
test_wait_failed(void)
{
	const char *run[] = {"run", "w-noimage", "orch-test/no-such-image:1",
	    "--wait", "--", "true", NULL};
	json_t *n = hj_call(port, "GET", "/nodes", NULL, 200), *d;
	char *out = NULL, *err = NULL;
	bool docker = false;
	size_t i;

	json_array_foreach(
	    json_object_get(json_array_get(n, 0), "drivers"), i, d)
	{
		docker |= strcmp(json_string_value(d), "docker") == 0;
	}
	json_decref(n);
	if (!docker) {
		printf("Docker does not answer: skipped\n");
		return;
	}
	ASSERT_INT_EQ(ctl(&out, &err, run), 5);
	ASSERT_STR_CONTAINS(out, "w-noimage  Failed");
	ASSERT(strstr(out, "Running") == NULL);
	ASSERT_STR_CONTAINS(err, "orchctl: task 'w-noimage' failed: ");
	ASSERT_STR_CONTAINS(err, "no-such-image");
	free(out);
	free(err);
}

static void
test_wait_service(void)
{
	const char *run[] = {"run", "w-svc", "--replicas", "2", "--driver",
	    "exec", "--wait", "--", "sleep", "300", NULL};
	const char *create[] = {"service", "create", "w-svc0", "--replicas",
	    "0", "--driver", "exec", "--wait", "--", "sleep", "300", NULL};
	char *out = NULL, *err = NULL;

	ASSERT_INT_EQ(ctl(&out, &err, run), 0);
	ASSERT_STR_CONTAINS(out, "\nw-svc  2/2 running  ");
	free(out);
	free(err);
	ASSERT_INT_EQ(ctl(&out, &err, create), 0);
	ASSERT_STR_CONTAINS(out, "\nw-svc0  0/0 running  ");
	free(out);
	free(err);
}

/* On a terminal: one line redrawn, coloured unless NO_COLOR. */
static void
test_terminal(void)
{
	const char *run[] = {"run", "t-run", "--driver", "exec", "--wait", "--",
	    "sleep", "300", NULL};
	const char *run2[] = {"run", "t-run2", "--driver", "exec", "--wait",
	    "--", "sleep", "300", NULL};
	const char *list[] = {"list", NULL};
	const char *never[] = {"--color", "never", "list", NULL};
	const char *always[] = {"list", "--color=always", NULL};
	const char *get[] = {"get", "t-run", NULL};
	char *out = NULL, *err = NULL;

	ASSERT_INT_EQ(ctl_pty(NULL, run, &out), 0);
	ASSERT_STR_CONTAINS(out, "\r\033[Kt-run  ");
	ASSERT_STR_CONTAINS(out, "\033[32mRunning (");
	/* Finished: the line is ended. */
	ASSERT(strcmp(out + strlen(out) - 2, "\r\n") == 0);
	free(out);

	/* NO_COLOR: the line is redrawn all the same, without colour. */
	ASSERT_INT_EQ(ctl_pty("1", run2, &out), 0);
	ASSERT_STR_CONTAINS(out, "\r\033[Kt-run2  ");
	ASSERT_STR_CONTAINS(out, "Running (");
	ASSERT(strstr(out, "\033[3") == NULL && strstr(out, "\033[0m") == NULL);
	free(out);

	/* list and get: coloured on a terminal only. */
	ASSERT_INT_EQ(ctl_pty(NULL, list, &out), 0);
	ASSERT_STR_CONTAINS(out, "\033[32mRunning\033[0m");
	ASSERT_STR_CONTAINS(out, "\033[31mFailed\033[0m");
	free(out);
	ASSERT_INT_EQ(ctl_pty(NULL, get, &out), 0);
	ASSERT_STR_CONTAINS(out, "status: \033[32mRunning\033[0m");
	free(out);
	ASSERT_INT_EQ(ctl_pty("", list, &out), 0); /* empty: not set */
	ASSERT_STR_CONTAINS(out, "\033[32mRunning\033[0m");
	free(out);
	ASSERT_INT_EQ(ctl_pty("yes", list, &out), 0);
	ASSERT(strchr(out, '\033') == NULL);
	free(out);
	ASSERT_INT_EQ(ctl_pty(NULL, never, &out), 0);
	ASSERT(strchr(out, '\033') == NULL);
	ASSERT_STR_CONTAINS(out, "Running");
	free(out);
	ASSERT_INT_EQ(ctl(&out, &err, list), 0);
	ASSERT(strchr(out, '\033') == NULL);
	free(out);
	free(err);
	ASSERT_INT_EQ(ctl(&out, &err, always), 0);
	ASSERT_STR_CONTAINS(out, "\033[32mRunning\033[0m");
	free(out);
	free(err);
	{
		const char *bad[] = {"list", "--color", "sometimes", NULL};

		ASSERT_INT_EQ(ctl(&out, &err, bad), 2);
		ASSERT_STR_CONTAINS(err, "--color wants auto, always or never");
		free(out);
		free(err);
	}
}

static void
test_names(void)
{
	const char *names[] = {"list", "-o", "name", NULL};
	const char *nodes[] = {"nodes", "-o", "name", NULL};
	char *out = NULL, *err = NULL, want[80];

	ASSERT_INT_EQ(ctl(&out, &err, names), 0);
	ASSERT(strncmp(out, "w-run\n", 6) == 0);
	ASSERT_STR_CONTAINS(out, "\nw-svc.1\n");
	free(out);
	free(err);
	ASSERT_INT_EQ(ctl(&out, &err, nodes), 0);
	snprintf(want, sizeof(want), "%s\n", node);
	ASSERT_STR_EQ(out, want);
	free(out);
	free(err);
}

/*
 * Runs the completion function of completions/orchctl.bash in bash for
 * the words of line (the last word being completed), with orchctl on
 * PATH and ORCH_ADDR set.  Returns the candidates, one a line.
 */
static char *
complete(const char *line)
{
	char script[4096], *bin = h_bin("orchctl"), *dir, *out = NULL;
	char *err = NULL;
	char *argv[] = {
	    "/bin/bash", "--norc", "--noprofile", "-c", script, NULL};

	dir = strdup(bin);
	*strrchr(dir, '/') = '\0';
	snprintf(script, sizeof(script),
	    "export PATH='%s':\"$PATH\" ORCH_ADDR='%s'\n"
	    "source '%s/completions/orchctl.bash' || exit 9\n"
	    "read -ra COMP_WORDS <<< '%s'\n"
	    "case '%s' in *' ') COMP_WORDS+=('');; esac\n"
	    "COMP_CWORD=$((${#COMP_WORDS[@]} - 1))\n"
	    "COMP_LINE='%s'; COMP_POINT=${#COMP_LINE}\n"
	    "_orchctl orchctl \"${COMP_WORDS[COMP_CWORD]}\" "
	    "\"${COMP_WORDS[COMP_CWORD-1]}\"\n"
	    "printf '%%s\\n' \"${COMPREPLY[@]}\"\n",
	    dir, addr, ORCH_SOURCE_DIR, line, line, line);
	ASSERT_INT_EQ(h_run(argv, &out, &err, 15000), 0);
	free(err);
	free(dir);
	free(bin);
	return out;
}

static void
test_completion(void)
{
	char *out;

	out = complete("orchctl ru");
	ASSERT_STR_EQ(out, "run\n");
	free(out);
	out = complete("orchctl se");
	ASSERT_STR_EQ(out, "service\n");
	free(out);
	out = complete("orchctl service ");
	ASSERT_STR_CONTAINS(out, "create\n");
	ASSERT_STR_CONTAINS(out, "rm\n");
	free(out);
	out = complete("orchctl run web img --wa");
	ASSERT_STR_CONTAINS(out, "--wait\n");
	ASSERT_STR_CONTAINS(out, "--wait-timeout\n");
	free(out);
	out = complete("orchctl --col");
	ASSERT_STR_EQ(out, "--color\n");
	free(out);
	out = complete("orchctl list --color ");
	ASSERT_STR_EQ(out, "auto\nalways\nnever\n");
	free(out);
	/* Task names come from the manager. */
	out = complete("orchctl stop w-");
	ASSERT_STR_CONTAINS(out, "w-run\n");
	ASSERT_STR_CONTAINS(out, "w-svc.2\n");
	ASSERT(strstr(out, node) == NULL);
	free(out);
	out = complete("orchctl node drain ");
	ASSERT_STR_CONTAINS(out, node);
	free(out);
	out = complete("orchctl scale w-s");
	ASSERT_STR_CONTAINS(out, "w-svc\n");
	free(out);
}

/* Every line the manager logged (not the dev banner) is a JSON object
 * with the four members, and placements carry their fields. */
static void
test_log_json(void)
{
	char *s = h_read_file(log_path), *line, *save = NULL;
	int objects = 0, placed = 0;

	ASSERT(s != NULL);
	for (line = strtok_r(s, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		json_t *j;

		if (line[0] != '{')
			continue;
		j = json_loads(line, 0, NULL);
		if (j == NULL)
			h_fail(__FILE__, __LINE__, "not JSON: %s", line);
		ASSERT(hj_str(j, "time") != NULL &&
		    hj_str(j, "level") != NULL &&
		    hj_str(j, "component") != NULL && hj_str(j, "msg") != NULL);
		if (strcmp(hj_str(j, "component"), "scheduler") == 0 &&
		    strstr(hj_str(j, "msg"), " placed on node ") != NULL) {
			ASSERT_STR_EQ(hj_str(j, "node"), node);
			ASSERT(hj_str(j, "task") != NULL);
			placed++;
		}
		objects++;
		json_decref(j);
	}
	ASSERT(objects > 10);
	ASSERT(placed >= 3);
	free(s);
}

int
main(void)
{
	char *bin, port_arg[32];

	signal(SIGPIPE, SIG_IGN);
	atexit(at_exit);
	port = h_free_port();
	snprintf(addr, sizeof(addr), "http://127.0.0.1:%d", port);
	snprintf(log_path, sizeof(log_path), "/tmp/orch-e2e-ctl-%d.log",
	    (int)getpid());
	tmp = h_tmpdir("ctl");
	snprintf(state_dir, sizeof(state_dir), "%s/agent", tmp);
	snprintf(port_arg, sizeof(port_arg), "127.0.0.1:%d", port);
	bin = h_bin("orch-manager");
	{
		char *argv[] = {bin, "--dev", "--http", port_arg, "--data", tmp,
		    "--log-format", "json", NULL};

		pid = h_spawn(argv, log_path);
	}
	free(bin);
	ASSERT(h_wait_until(healthy, NULL, WAIT_MS));
	ASSERT(h_wait_until(node_ready, NULL, WAIT_MS));
	RUN(test_version);
	RUN(test_wait_plain);
	RUN(test_wait_timeout);
	RUN(test_wait_interrupted);
	RUN(test_wait_stopped_first);
	RUN(test_wait_failed);
	RUN(test_wait_service);
	RUN(test_terminal);
	RUN(test_names);
	RUN(test_completion);
	ASSERT_INT_EQ(h_kill(pid, SIGTERM), 0);
	pid = 0;
	RUN(test_log_json);
	finished = true;
	return 0;
}
