/*
 * exec.c: the exec driver: a task's command run as a plain process on the
 * agent's host, for hosts without Docker (driver.h).
 *
 * Files.  Each task of node N has a directory STATE/exec/N/<task id>/
 * (STATE is the agent's --state-dir):
 *   state    who runs it: the supervisor's and the task's pids with their
 *            start times (/proc/PID/stat), the boot id, the start time,
 *            the cgroup; written (atomically) before the program is run;
 *   exit     how it ended: its wait status and the time, written by the
 *            supervisor when the program exits;
 *   error    why it could not run (a program that cannot be executed);
 *   stdout, stderr   what it printed (appended; the logs of the task);
 *   work/    its working directory, empty at start.
 * The handle of the instance is "exec-<task id>".  Each node has its own
 * directory, so agents sharing a host (and a state directory) only ever
 * see their own tasks; state also names the node, and is checked.
 *
 * Processes.  start forks a supervisor, which makes a session of its own
 * (setsid) and forks the task, which makes a process group of its own
 * (setpgid), joins its cgroup, takes /dev/null, stdout and stderr, and
 * waits for the agent's "go" before it executes the program (execve: no
 * shell).  The agent records both pids in state and only then says go, so
 * that no program ever runs without a record: if the agent dies in
 * between, the task sees its end of the pipe close and exits 127 unrun.
 * The supervisor waits for the task and writes exit, then exits itself:
 * the exit code survives an agent that is down or restarting, and
 * processes keep running across agent restarts.  Both are forked from the
 * (threaded) agent without an exec of their own, so everything they do
 * after fork is async-signal-safe: no malloc, no stdio, no locks.
 *
 * Adoption.  A restarted agent lists the directories and believes a
 * process alive only when its pid, its start time and the boot id all
 * match what state recorded: a pid recycled by another process, or a host
 * that rebooted, is never taken for the task.  An instance whose exit
 * file exists ended with that code; one whose supervisor and task are
 * both gone without an exit file (the supervisor was killed, the host
 * rebooted) ended with its exit code unknown, and is reported Failed
 * saying so.
 *
 * Stop sends SIGTERM to the task's process group, waits up to the stop
 * timeout for it to empty, then sends SIGKILL to the group and to its
 * cgroup (cgroup.kill), which also reaches processes that left the group.
 * While the task's first process lives, the group is signalled with
 * kill(-pgid); after it is gone, the group's remaining members are found
 * in /proc by process group and session, so that a recycled pid is never
 * signalled.
 *
 * Limits (cgroup.h): with a writable cgroup v2 directory each task gets a
 * cgroup with memory.max and cpu.max; without one tasks run unlimited, the
 * driver says why once at start and each start says so in the log.
 *
 * Exits are noticed by a monitor thread polling pidfds of the supervisors
 * (Linux 5.3), which also reaps the supervisors this process forked.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "clock.h"
#include "dirs.h"
#include "driver.h"
#include "error.h"
#include "log.h"

#define EXEC_HANDLE_PREFIX "exec-"
#define EXEC_STOP_TIMEOUT_DEFAULT 10 /* seconds of grace on stop */
#define EXEC_KILL_WAIT_MS 5000       /* for the group to go after SIGKILL */
#define EXEC_START_WAIT_MS 10000     /* for the supervisor's answer */
#define EXEC_POLL_MS 50              /* while waiting for processes */
#define EXEC_MONITOR_MS 1000         /* the monitor's safety-net wake-up */
#define EXEC_STATE_MAX 4096          /* bytes of a state or exit file */
#define EXEC_DEFAULT_PATH                                                      \
	"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
/* What the task's child reports when it cannot run the program. */
enum { STAGE_PGID = 1, STAGE_CGROUP, STAGE_STDIO, STAGE_CHDIR, STAGE_EXEC };

/* A process the monitor waits for: a supervisor, or a task whose
 * supervisor is gone. */
struct watch {
	char task_id[ORCH_ID_LEN];
	pid_t pid;
	unsigned long long start; /* its start time, clock ticks */
	int pidfd;                /* -1: polled through /proc */
	bool child;               /* forked by this process: reap it */
};

struct exec {
	char *node;
	char *dir;                         /* STATE/exec/<node> */
	char cgroup[ORCH_CGROUP_PATH_LEN]; /* the node's cgroup; "": none */
	char no_limits[320];               /* why there is none */
	char boot_id[64];
	int stop_timeout_s;
	orch_driver_exit_fn on_exit;
	void *on_exit_arg;

	pthread_mutex_t mu; /* the watch list, stopping and checks_off */
	struct watch *watch;
	size_t n_watch, cap_watch;
	bool stopping;
	bool checks_off; /* check_cancel: the agent is stopping */
	int wake[2];     /* a pipe that wakes the monitor */
	pthread_t monitor;
	bool monitor_running;
	bool mu_ok;
};

/* What one task's state file says. */
struct rec {
	char node[ORCH_HANDLE_LEN + 8];
	char task[ORCH_ID_LEN];
	char boot[64];
	pid_t sup;
	unsigned long long sup_start;
	pid_t pid; /* also the process group */
	unsigned long long pid_start;
	int64_t started_at_ms;
	char cgroup[ORCH_CGROUP_PATH_LEN];
};

/* ---- small helpers ---- */

static int errf(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Writes "exec: <message>" into err and returns rc. */
static int
errf(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(err, errlen, "exec: ");

	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < errlen)
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return rc;
}

/* The task id of handle "exec-<id>" into id, or false. */
static bool
handle_task(const char *handle, char id[ORCH_ID_LEN])
{
	size_t n = strlen(EXEC_HANDLE_PREFIX);

	if (handle == NULL || strncmp(handle, EXEC_HANDLE_PREFIX, n) != 0 ||
	    strlen(handle + n) != ORCH_ID_LEN - 1 || !orch_id_valid(handle + n))
		return false;
	memcpy(id, handle + n, ORCH_ID_LEN);
	return true;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Reads the whole (small) file at path into buf, NUL-terminated.
 * Returns 0 or an errno. */
static int
file_read(const char *path, char *buf, size_t len)
{
	size_t have = 0;
	ssize_t r;
	int fd, e = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno;
	while (
	    have < len - 1 && (r = read(fd, buf + have, len - 1 - have)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			e = errno;
			break;
		}
		have += (size_t)r;
	}
	buf[have] = '\0';
	close(fd);
	return e;
}

/* Writes text to dir/name through a temporary file and a rename, so that
 * a reader sees the old file or the new one.  Returns 0 or an errno. */
static int
file_replace(const char *dir, const char *name, const char *text)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	size_t n = strlen(text);
	int fd, e = 0;

	snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, name);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) <
	    0)
		return errno;
	if (write(fd, text, n) != (ssize_t)n)
		e = errno != 0 ? errno : EIO;
	if (e == 0 && fsync(fd) != 0)
		e = errno;
	close(fd);
	if (e == 0 && rename(tmp, path) != 0)
		e = errno;
	if (e != 0)
		unlink(tmp);
	return e;
}

/* ---- /proc ---- */

struct pstat {
	char state; /* R, S, D, Z... */
	pid_t pgrp;
	pid_t session;
	unsigned long long start; /* clock ticks after boot */
};

/* Reads /proc/PID/stat.  Returns false when the process does not exist
 * (or the file cannot be read). */
static bool
pstat_read(pid_t pid, struct pstat *ps)
{
	char path[64], buf[1024], *p, *end;
	unsigned long long v[20];

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (file_read(path, buf, sizeof(buf)) != 0)
		return false;
	/* "PID (COMM) S PPID PGRP SID ...": COMM may hold anything, so
	 * fields are counted from its last ')'. */
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ' || p[2] == '\0')
		return false;
	ps->state = p[2];
	p += 3;
	/* Fields 4 (ppid) to 22 (starttime). */
	for (int i = 0; i < 19; i++) {
		errno = 0;
		v[i] = strtoull(p, &end, 10);
		if (errno != 0 || end == p)
			return false;
		p = end;
	}
	ps->pgrp = (pid_t)v[1];
	ps->session = (pid_t)v[2];
	ps->start = v[18];
	return true;
}

/* True when pid is the live (not zombie) process that started at start. */
static bool
proc_alive(pid_t pid, unsigned long long start)
{
	struct pstat ps;

	return pid > 0 && pstat_read(pid, &ps) && ps.start == start &&
	    ps.state != 'Z' && ps.state != 'X';
}

/* Sends sig (0: none, just counts) to the live members of process group
 * pgrp in session sid, found in /proc.  Returns how many there are. */
static size_t
group_scan(pid_t pgrp, pid_t sid, int sig)
{
	struct dirent *de;
	struct pstat ps;
	size_t n = 0;
	DIR *d;

	if ((d = opendir("/proc")) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end != '\0' || pid <= 0 || !pstat_read((pid_t)pid, &ps) ||
		    ps.pgrp != pgrp || ps.session != sid || ps.state == 'Z' ||
		    ps.state == 'X')
			continue;
		n++;
		if (sig != 0)
			(void)kill((pid_t)pid, sig);
	}
	closedir(d);
	return n;
}

/* Sends sig (0: none) to the task's process group; with cgroup, also to
 * every process of its cgroup.  Returns how many processes are left to
 * signal (0: the task and everything it started are gone). */
static size_t
task_signal(const struct rec *r, int sig, bool cgroup)
{
	size_t n = 0, k = 0;

	/* While the group's leader lives, its pid cannot be reused: the
	 * group is addressed whole.  Afterwards only verified members. */
	if (proc_alive(r->pid, r->pid_start)) {
		if (kill(-r->pid, sig) == 0)
			n++;
	} else {
		n += group_scan(r->pid, r->sup, sig);
	}
	if (cgroup && r->cgroup[0] != '\0' &&
	    orch_cgroup_signal(r->cgroup, sig, &k) == ORCH_OK)
		n += k;
	return n;
}

/* ---- state files ---- */

static void
rec_format(const struct rec *r, char *buf, size_t len)
{
	snprintf(buf, len,
	    "node=%s\ntask=%s\nboot=%s\nsupervisor=%d %llu\npid=%d %llu\n"
	    "started_at_ms=%" PRId64 "\ncgroup=%s\n",
	    r->node, r->task, r->boot, (int)r->sup, r->sup_start, (int)r->pid,
	    r->pid_start, r->started_at_ms, r->cgroup);
}

/* Parses "PID START" into *pid and *start. */
static bool
pid_pair_parse(const char *s, pid_t *pid, unsigned long long *start)
{
	char *end;
	long p;

	errno = 0;
	p = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != ' ' || p <= 0 || p > INT_MAX)
		return false;
	s = end + 1;
	*start = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		return false;
	*pid = (pid_t)p;
	return true;
}

/* Reads the state file of task dir tdir.  Returns ORCH_OK, ORCH_ENOENT
 * (none yet), or ORCH_EIO for one that cannot be read or parsed. */
static int
rec_read(const char *tdir, struct rec *r)
{
	char path[PATH_MAX], buf[EXEC_STATE_MAX], *line, *save = NULL;
	int e, seen = 0;

	memset(r, 0, sizeof(*r));
	snprintf(path, sizeof(path), "%s/state", tdir);
	if ((e = file_read(path, buf, sizeof(buf))) != 0)
		return e == ENOENT ? ORCH_ENOENT : ORCH_EIO;
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '='), *v, *end;

		if (eq == NULL)
			return ORCH_EIO;
		*eq = '\0';
		v = eq + 1;
		if (strcmp(line, "node") == 0) {
			snprintf(r->node, sizeof(r->node), "%s", v);
		} else if (strcmp(line, "task") == 0) {
			snprintf(r->task, sizeof(r->task), "%s", v);
		} else if (strcmp(line, "boot") == 0) {
			snprintf(r->boot, sizeof(r->boot), "%s", v);
		} else if (strcmp(line, "supervisor") == 0) {
			if (!pid_pair_parse(v, &r->sup, &r->sup_start))
				return ORCH_EIO;
			seen |= 1;
		} else if (strcmp(line, "pid") == 0) {
			if (!pid_pair_parse(v, &r->pid, &r->pid_start))
				return ORCH_EIO;
			seen |= 2;
		} else if (strcmp(line, "started_at_ms") == 0) {
			errno = 0;
			r->started_at_ms = strtoll(v, &end, 10);
			if (errno != 0 || end == v || *end != '\0')
				return ORCH_EIO;
		} else if (strcmp(line, "cgroup") == 0) {
			snprintf(r->cgroup, sizeof(r->cgroup), "%s", v);
		}
	}
	return seen == 3 ? ORCH_OK : ORCH_EIO;
}

/* Reads the exit file of tdir: the wait status and the time.  Returns
 * false when there is none (yet). */
static bool
exit_read(const char *tdir, int *status, int64_t *finished_ms)
{
	char path[PATH_MAX], buf[256], *p, *end;
	long long v;

	snprintf(path, sizeof(path), "%s/exit", tdir);
	if (file_read(path, buf, sizeof(buf)) != 0 ||
	    strncmp(buf, "status=", 7) != 0)
		return false;
	errno = 0;
	v = strtoll(buf + 7, &end, 10);
	if (errno != 0 || end == buf + 7 || *end != '\n')
		return false;
	*status = (int)v;
	*finished_ms = 0;
	if ((p = strstr(end, "\nfinished_at_ms=")) != NULL)
		*finished_ms = strtoll(p + 16, NULL, 10);
	return true;
}

/* The exit code of a wait status, as a shell (and Docker) tells it:
 * 128 + the signal for a process killed by one. */
static int
status_code(int status, char *why, size_t len)
{
	if (WIFSIGNALED(status)) {
		const char *name = sigabbrev_np(WTERMSIG(status));

		snprintf(why, len, "killed by signal %d (SIG%s)",
		    WTERMSIG(status), name != NULL ? name : "?");
		return 128 + WTERMSIG(status);
	}
	why[0] = '\0';
	return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
}

/* ---- the monitor ---- */

static int
pidfd_open_(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* Watches pid (started at start) for task id unless it is watched.
 * child: this process forked it.  Under no lock. */
static void
watch_add(struct exec *e, const char *id, pid_t pid, unsigned long long start,
    bool child)
{
	struct watch *w;
	int fd;
	char b = 1;

	pthread_mutex_lock(&e->mu);
	for (size_t i = 0; i < e->n_watch; i++) {
		if (e->watch[i].pid == pid && e->watch[i].start == start) {
			pthread_mutex_unlock(&e->mu);
			return;
		}
	}
	if (e->n_watch == e->cap_watch) {
		size_t cap = e->cap_watch > 0 ? e->cap_watch * 2 : 16;

		if ((w = realloc(e->watch, cap * sizeof(*w))) == NULL) {
			/* The agent's periodic list still sees the exit. */
			pthread_mutex_unlock(&e->mu);
			return;
		}
		e->watch = w;
		e->cap_watch = cap;
	}
	/* Opened, then checked: if the pid was recycled before the open,
	 * the start time says so and nothing is watched. */
	fd = pidfd_open_(pid);
	if (fd >= 0 && !child && !proc_alive(pid, start)) {
		close(fd);
		pthread_mutex_unlock(&e->mu);
		return;
	}
	if (fd >= 0)
		(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	w = &e->watch[e->n_watch++];
	memset(w, 0, sizeof(*w));
	snprintf(w->task_id, sizeof(w->task_id), "%s", id);
	w->pid = pid;
	w->start = start;
	w->pidfd = fd;
	w->child = child;
	pthread_mutex_unlock(&e->mu);
	(void)!write(e->wake[1], &b, 1);
}

/* True when the watched process has ended; reaps it when it is ours. */
static bool
watch_ended(struct watch *w, bool readable)
{
	siginfo_t si;

	if (w->pidfd >= 0) {
		if (!readable)
			return false;
		/* Reaps only the process the pidfd names, and only if it is
		 * this process's child (ECHILD otherwise). */
		memset(&si, 0, sizeof(si));
		(void)waitid(
		    (idtype_t)P_PIDFD, (id_t)w->pidfd, &si, WEXITED | WNOHANG);
		return true;
	}
	if (w->child)
		return waitpid(w->pid, NULL, WNOHANG) == w->pid;
	return !proc_alive(w->pid, w->start);
}

static void *
exec_monitor(void *arg)
{
	struct exec *e = arg;
	struct pollfd *fds = NULL;
	char(*ended)[ORCH_ID_LEN] = NULL;
	size_t cap = 0;
	char drain[64];

	for (;;) {
		size_t n = 0, nend = 0;

		pthread_mutex_lock(&e->mu);
		if (e->stopping) {
			pthread_mutex_unlock(&e->mu);
			break;
		}
		if (cap < e->n_watch + 1) {
			struct pollfd *f =
			    realloc(fds, (e->n_watch + 1) * sizeof(*f));
			char(*x)[ORCH_ID_LEN] = f != NULL
			    ? realloc(ended, (e->n_watch + 1) * sizeof(*x))
			    : NULL;

			if (f != NULL)
				fds = f;
			if (x != NULL) {
				ended = x;
				cap = e->n_watch + 1;
			}
		}
		if (cap == 0) {
			/* No memory for the poll set: the agent's periodic
			 * list is the safety net until there is. */
			pthread_mutex_unlock(&e->mu);
			sleep_ms(EXEC_MONITOR_MS);
			continue;
		}
		fds[n++] = (struct pollfd){.fd = e->wake[0], .events = POLLIN};
		/* Only the monitor closes pidfds, so these stay valid. */
		for (size_t i = 0; i < e->n_watch && n < cap; i++)
			fds[n++] = (struct pollfd){
			    .fd = e->watch[i].pidfd, .events = POLLIN};
		pthread_mutex_unlock(&e->mu);

		(void)poll(fds, n, EXEC_MONITOR_MS);
		if (fds[0].revents & POLLIN)
			(void)!read(e->wake[0], drain, sizeof(drain));

		pthread_mutex_lock(&e->mu);
		for (size_t i = 0; i < e->n_watch;) {
			struct watch *w = &e->watch[i];
			bool readable = false;

			for (size_t j = 1; j < n; j++) {
				if (fds[j].fd == w->pidfd && w->pidfd >= 0)
					readable = fds[j].revents != 0;
			}
			if (!watch_ended(w, readable)) {
				i++;
				continue;
			}
			if (nend < cap)
				memcpy(ended[nend++], w->task_id, ORCH_ID_LEN);
			if (w->pidfd >= 0)
				close(w->pidfd);
			*w = e->watch[--e->n_watch];
		}
		pthread_mutex_unlock(&e->mu);

		for (size_t i = 0; i < nend && e->on_exit != NULL; i++) {
			char tdir[PATH_MAX], why[64], handle[ORCH_HANDLE_LEN];
			int64_t fin;
			int st, code = -1;

			snprintf(tdir, sizeof(tdir), "%s/%s", e->dir, ended[i]);
			if (exit_read(tdir, &st, &fin))
				code = status_code(st, why, sizeof(why));
			snprintf(handle, sizeof(handle), "%s%s",
			    EXEC_HANDLE_PREFIX, ended[i]);
			e->on_exit(e->on_exit_arg, ended[i], handle, code);
		}
	}
	free(fds);
	free(ended);
	return NULL;
}

/* ---- lifecycle ---- */

static void
exec_free(struct exec *e)
{
	if (e == NULL)
		return;
	if (e->monitor_running) {
		char b = 0;

		pthread_mutex_lock(&e->mu);
		e->stopping = true;
		pthread_mutex_unlock(&e->mu);
		(void)!write(e->wake[1], &b, 1);
		pthread_join(e->monitor, NULL);
	}
	for (size_t i = 0; i < e->n_watch; i++) {
		if (e->watch[i].pidfd >= 0)
			close(e->watch[i].pidfd);
	}
	if (e->wake[0] >= 0)
		close(e->wake[0]);
	if (e->wake[1] >= 0)
		close(e->wake[1]);
	if (e->mu_ok)
		pthread_mutex_destroy(&e->mu);
	free(e->watch);
	free(e->dir);
	free(e->node);
	free(e);
}

static int
exec_init(const struct orch_driver_config *cfg, void **state, char *err,
    size_t errlen)
{
	const char *node = cfg->node_name;
	struct exec *e = NULL;
	size_t len;
	int rc, en;

	if (node == NULL || node[0] == '\0' || strchr(node, '/') != NULL ||
	    strcmp(node, ".") == 0 || strcmp(node, "..") == 0 ||
	    strlen(node) > 128)
		return errf(err, errlen, ORCH_EINVAL,
		    "the node name \"%s\" cannot name a directory",
		    node != NULL ? node : "");
	if (cfg->state_dir == NULL || cfg->state_dir[0] == '\0')
		return errf(err, errlen, ORCH_EINVAL,
		    "no state directory given (--state-dir)");
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return errf(err, errlen, ORCH_ENOMEM, "out of memory");
	e->wake[0] = e->wake[1] = -1;
	len = strlen(cfg->state_dir) + strlen(node) + 8;
	rc = ORCH_ENOMEM;
	if ((e->node = strdup(node)) == NULL || (e->dir = malloc(len)) == NULL)
		goto nomem;
	snprintf(e->dir, len, "%s/exec/%s", cfg->state_dir, node);
	/* Room below it for "/<task id>/work/..." in every path buffer. */
	if (strlen(e->dir) > PATH_MAX - 256) {
		rc = errf(err, errlen, ORCH_EINVAL,
		    "the state directory %.200s... is too long", e->dir);
		goto out;
	}
	if ((rc = orch_dir_make(e->dir, 0700)) != ORCH_OK) {
		errf(err, errlen, rc,
		    "cannot create the state directory %s: %s", e->dir,
		    orch_strerror(rc));
		goto out;
	}
	if (file_read("/proc/sys/kernel/random/boot_id", e->boot_id,
	        sizeof(e->boot_id)) != 0)
		snprintf(e->boot_id, sizeof(e->boot_id), "unknown");
	e->boot_id[strcspn(e->boot_id, "\n")] = '\0';
	e->stop_timeout_s = cfg->stop_timeout_s > 0 ? cfg->stop_timeout_s
	                                            : EXEC_STOP_TIMEOUT_DEFAULT;
	e->on_exit = cfg->on_exit;
	e->on_exit_arg = cfg->on_exit_arg;

	if (cfg->cgroup_dir != NULL && cfg->cgroup_dir[0] == '\0') {
		snprintf(e->no_limits, sizeof(e->no_limits),
		    "limits are turned off (--cgroup none)");
	} else if (orch_cgroup_probe(cfg->cgroup_dir != NULL
	                   ? cfg->cgroup_dir
	                   : ORCH_CGROUP_DIR_DEFAULT,
	               node, e->cgroup, e->no_limits,
	               sizeof(e->no_limits)) != ORCH_OK) {
		e->cgroup[0] = '\0';
	}
	if (e->cgroup[0] != '\0')
		orch_info("exec",
		    "tasks get memory and cpu limits in cgroups under %s",
		    e->cgroup);
	else
		orch_warn("exec", "tasks run without memory and cpu limits: %s",
		    e->no_limits);

	if ((en = pthread_mutex_init(&e->mu, NULL)) != 0 ||
	    pipe2(e->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
		rc = errf(err, errlen, ORCH_EINTERNAL, "cannot set up: %s",
		    strerror(en != 0 ? en : errno));
		goto out;
	}
	e->mu_ok = true;
	if ((en = pthread_create(&e->monitor, NULL, exec_monitor, e)) != 0) {
		rc = errf(err, errlen, orch_err_from_errno(en),
		    "cannot start the exit monitor: %s", strerror(en));
		goto out;
	}
	e->monitor_running = true;
	*state = e;
	return ORCH_OK;
nomem:
	errf(err, errlen, rc, "out of memory");
out:
	exec_free(e);
	return rc;
}

static void
exec_fini(void *state)
{
	exec_free(state);
}

static int
exec_capacity(
    void *state, double *cpu, int64_t *memory_mb, char *err, size_t errlen)
{
	struct sysinfo si;
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n <= 0 || sysinfo(&si) != 0)
		return errf(err, errlen, ORCH_EIO,
		    "cannot read the host's cpus and memory: %s",
		    strerror(errno));
	*cpu = (double)n;
	*memory_mb =
	    (int64_t)((unsigned long long)si.totalram * si.mem_unit >> 20);
	return ORCH_OK;
}

/* ---- inspect and list ---- */

/* What the directory of task id says about its instance. */
static int
instance_read(
    struct exec *e, const char *id, struct orch_instance *out, struct rec *r)
{
	char tdir[PATH_MAX], path[PATH_MAX + 8];
	struct stat st;
	int64_t fin;
	int status, rc;

	memset(out, 0, sizeof(*out));
	snprintf(out->task_id, sizeof(out->task_id), "%s", id);
	snprintf(
	    out->handle, sizeof(out->handle), "%s%s", EXEC_HANDLE_PREFIX, id);
	snprintf(tdir, sizeof(tdir), "%s/%s", e->dir, id);
	rc = rec_read(tdir, r);
	if (rc == ORCH_ENOENT) {
		/* A start that did not finish: neither running nor ended,
		 * which makes the agent start it again (or remove it). */
		return stat(tdir, &st) == 0 ? ORCH_OK : ORCH_ENOENT;
	}
	if (rc != ORCH_OK || strcmp(r->node, e->node) != 0 ||
	    strcmp(r->task, id) != 0) {
		snprintf(out->error, sizeof(out->error),
		    "its state file %.200s/state cannot be read", tdir);
		out->exited = out->exit_unknown = true;
		return ORCH_OK;
	}
	out->started_at_ms = r->started_at_ms;
	if (exit_read(tdir, &status, &fin)) {
		out->exited = true;
		out->exit_code =
		    status_code(status, out->error, sizeof(out->error));
		out->finished_at_ms = fin;
		snprintf(path, sizeof(path), "%s/error", tdir);
		if (file_read(path, out->error, sizeof(out->error)) == 0)
			out->error[strcspn(out->error, "\n")] = '\0';
		return ORCH_OK;
	}
	if (strcmp(r->boot, e->boot_id) != 0) {
		out->exited = out->exit_unknown = true;
		snprintf(out->error, sizeof(out->error),
		    "the host restarted while it ran; exit code unknown");
		return ORCH_OK;
	}
	if (proc_alive(r->sup, r->sup_start) ||
	    proc_alive(r->pid, r->pid_start)) {
		out->running = true;
		return ORCH_OK;
	}
	out->exited = out->exit_unknown = true;
	snprintf(out->error, sizeof(out->error),
	    "it ended while its supervisor was gone (killed); exit code "
	    "unknown");
	return ORCH_OK;
}

static int
exec_inspect(void *state, const char *handle, struct orch_instance *out,
    char *err, size_t errlen)
{
	struct exec *e = state;
	char id[ORCH_ID_LEN];
	struct rec r;

	if (!handle_task(handle, id))
		return errf(err, errlen, ORCH_EINVAL,
		    "invalid handle \"%.64s\"", handle != NULL ? handle : "");
	if (instance_read(e, id, out, &r) != ORCH_OK)
		return errf(err, errlen, ORCH_ENOENT, "no instance %s", handle);
	return ORCH_OK;
}

/* Watches a running instance found on disk (after an agent restart): its
 * supervisor, or its task when the supervisor is gone. */
static void
adopt(struct exec *e, const struct rec *r)
{
	if (proc_alive(r->sup, r->sup_start))
		watch_add(e, r->task, r->sup, r->sup_start, false);
	else if (proc_alive(r->pid, r->pid_start))
		watch_add(e, r->task, r->pid, r->pid_start, false);
}

static int
exec_list(void *state, struct orch_instance **out, size_t *n, char *err,
    size_t errlen)
{
	struct exec *e = state;
	struct orch_instance *arr = NULL, *grown;
	size_t cnt = 0, cap = 0;
	struct dirent *de;
	struct rec r;
	DIR *d;

	*out = NULL;
	*n = 0;
	if ((d = opendir(e->dir)) == NULL)
		return errf(err, errlen, orch_err_from_errno(errno),
		    "cannot list %s: %s", e->dir, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (strlen(de->d_name) != ORCH_ID_LEN - 1 ||
		    !orch_id_valid(de->d_name))
			continue;
		if (cnt == cap) {
			cap = cap > 0 ? cap * 2 : 16;
			if ((grown = realloc(arr, cap * sizeof(*arr))) ==
			    NULL) {
				free(arr);
				closedir(d);
				return errf(
				    err, errlen, ORCH_ENOMEM, "out of memory");
			}
			arr = grown;
		}
		if (instance_read(e, de->d_name, &arr[cnt], &r) != ORCH_OK)
			continue; /* removed meanwhile */
		if (arr[cnt].running)
			adopt(e, &r);
		cnt++;
	}
	closedir(d);
	*out = arr;
	*n = cnt;
	return ORCH_OK;
}

/* ---- start ---- */

/* What the forked processes use, all made before the fork: after it they
 * may not allocate. */
struct launch {
	const char *path;
	char *const *argv;
	char *const *envp;
	const char *workdir;
	int null_fd, out_fd, err_fd; /* the task's 0, 1, 2 */
	int dir_fd;                  /* the task's directory */
	int procs_fd;                /* its cgroup.procs, or -1 */
	int info_w;                  /* supervisor -> agent: the pid */
	int go_r;                    /* agent -> task: run it */
	int fail_w;                  /* task -> agent: what failed */
	int max_fd;                  /* when close_range is missing */
	const char *cgroup;          /* for the record: its cgroup, "" */
};

struct child_fail {
	int32_t stage;
	int32_t err;
};

/* Async-signal-safe, as everything below until exec_start. */
static void __attribute__((noreturn))
child_fail(const struct launch *l, int stage, int err)
{
	struct child_fail f = {stage, err};

	(void)!write(l->fail_w, &f, sizeof(f));
	_exit(127);
}

/* Marks every descriptor from lo up close-on-exec. */
static void
fds_cloexec_from(int lo, int max_fd)
{
	if (close_range((unsigned)lo, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return;
	for (int fd = lo; fd < max_fd; fd++)
		(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/* The task: its own process group, default signals, its cgroup, its
 * stdio and directory; it runs the program once the agent says go. */
static void __attribute__((noreturn)) task_run(const struct launch *l)
{
	struct sigaction dfl;
	sigset_t none;
	ssize_t r;
	char go;

	if (setpgid(0, 0) != 0)
		child_fail(l, STAGE_PGID, errno);
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	/* The agent ignores SIGPIPE and blocks SIGINT and SIGTERM: both
	 * would pass through exec. */
	for (int s = 1; s < NSIG; s++) {
		if (s != SIGKILL && s != SIGSTOP)
			(void)sigaction(s, &dfl, NULL);
	}
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	if (l->procs_fd >= 0 && write(l->procs_fd, "0", 1) != 1)
		child_fail(l, STAGE_CGROUP, errno);
	if (dup2(l->null_fd, 0) < 0 || dup2(l->out_fd, 1) < 0 ||
	    dup2(l->err_fd, 2) < 0)
		child_fail(l, STAGE_STDIO, errno);
	if (chdir(l->workdir) != 0)
		child_fail(l, STAGE_CHDIR, errno);
	/* Nothing of the agent's (sockets, files, its lock) reaches the
	 * program; the pipes below close at exec too. */
	fds_cloexec_from(3, l->max_fd);
	while ((r = read(l->go_r, &go, 1)) < 0 && errno == EINTR)
		;
	if (r != 1)
		_exit(127); /* the agent gave up before recording us */
	execve(l->path, l->argv, l->envp);
	child_fail(l, STAGE_EXEC, errno);
}

/* Writes the decimal v at p; returns the end. */
static char *
put_num(char *p, long long v)
{
	char tmp[24];
	int n = 0;
	unsigned long long u =
	    v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

	if (v < 0)
		*p++ = '-';
	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u > 0);
	while (n > 0)
		*p++ = tmp[--n];
	return p;
}

static char *
put_str(char *p, const char *s)
{
	while (*s != '\0')
		*p++ = *s++;
	return p;
}

/* The supervisor: a session of its own, the task as its child, and the
 * task's wait status in dir/exit once it ends. */
static void __attribute__((noreturn)) supervise(const struct launch *l)
{
	struct sigaction ign;
	struct timespec ts;
	char buf[96], *p;
	int status = 0, fd;
	pid_t pid;

	if (setsid() < 0)
		_exit(1);
	(void)prctl(PR_SET_NAME, "orch-exec-sup", 0, 0, 0);
	if ((pid = fork()) == 0)
		task_run(l);
	if (pid < 0) {
		int32_t v = -errno;

		(void)!write(l->info_w, &v, sizeof(v));
		_exit(1);
	}
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	/* It outlives the agent and must not die of what stops it. */
	(void)sigaction(SIGHUP, &ign, NULL);
	(void)sigaction(SIGINT, &ign, NULL);
	(void)sigaction(SIGTERM, &ign, NULL);
	(void)sigaction(SIGQUIT, &ign, NULL);
	(void)sigaction(SIGPIPE, &ign, NULL);
	{
		int32_t v = (int32_t)pid;

		(void)!write(l->info_w, &v, sizeof(v));
	}
	/* Only the task's directory is kept: the agent's descriptors would
	 * otherwise outlive it here (its listening sockets, its lock). */
	if (dup2(l->dir_fd, 0) < 0)
		_exit(1);
	if (close_range(1, ~0U, 0) != 0) {
		for (int fd2 = 1; fd2 < l->max_fd; fd2++)
			(void)close(fd2);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			_exit(1);
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	p = put_str(buf, "status=");
	p = put_num(p, status);
	p = put_str(p, "\nfinished_at_ms=");
	p = put_num(p, (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	*p++ = '\n';
	fd = openat(0, "exit.tmp", O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0) {
		(void)!write(fd, buf, (size_t)(p - buf));
		(void)fsync(fd);
		close(fd);
		(void)renameat(0, "exit.tmp", 0, "exit");
	}
	_exit(0);
}

/* Reads len bytes from fd within timeout_ms.  Returns how many it got
 * (fewer at EOF), or -1 on timeout or error. */
static ssize_t
read_timeout(int fd, void *buf, size_t len, int timeout_ms)
{
	int64_t deadline = orch_mono_ms() + timeout_ms;
	size_t have = 0;

	while (have < len) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int64_t left = deadline - orch_mono_ms();
		ssize_t r;

		if (left <= 0)
			return -1;
		if (poll(&p, 1, (int)left) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (p.revents == 0)
			continue;
		if ((r = read(fd, (char *)buf + have, len - have)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		have += (size_t)r;
	}
	return (ssize_t)have;
}

/* The value of PATH in the task's env, or the default. */
static const char *
task_path_env(const orch_task_spec *s)
{
	for (size_t i = 0; i < s->n_env; i++) {
		if (s->env[i]->key != NULL &&
		    strcmp(s->env[i]->key, "PATH") == 0)
			return s->env[i]->value;
	}
	return EXEC_DEFAULT_PATH;
}

/* Finds the program prog as execvp(3) would, in path (a PATH value), into
 * out.  A name with a '/' is taken as it is. */
static int
program_find(const char *prog, const char *path, char *out, size_t len,
    char *err, size_t errlen)
{
	const char *p = path;
	struct stat st;

	if (strchr(prog, '/') != NULL) {
		snprintf(out, len, "%s", prog);
		return ORCH_OK;
	}
	while (*p != '\0') {
		size_t n = strcspn(p, ":");

		snprintf(out, len, "%.*s/%s", n > 0 ? (int)n : 1,
		    n > 0 ? p : ".", prog);
		if (access(out, X_OK) == 0 && stat(out, &st) == 0 &&
		    S_ISREG(st.st_mode))
			return ORCH_OK;
		p += n;
		if (*p == ':')
			p++;
	}
	return errf(err, errlen, ORCH_ENOENT,
	    "program \"%.200s\" not found in PATH %.300s", prog, path);
}

/* The environment of the task: its env, and PATH unless it has one.
 * Returns a malloc'd NULL-terminated array whose strings are malloc'd. */
static char **
envp_make(const orch_task_spec *s)
{
	char **envp = calloc(s->n_env + 2, sizeof(*envp));
	size_t n = 0;
	bool path = false;

	if (envp == NULL)
		return NULL;
	for (size_t i = 0; i < s->n_env; i++) {
		const char *k = s->env[i]->key, *v = s->env[i]->value;

		if (k == NULL || v == NULL)
			continue;
		if (asprintf(&envp[n], "%s=%s", k, v) < 0)
			goto fail;
		n++;
		path |= strcmp(k, "PATH") == 0;
	}
	if (!path && (envp[n++] = strdup("PATH=" EXEC_DEFAULT_PATH)) == NULL)
		goto fail;
	return envp;
fail:
	for (size_t i = 0; i < n; i++)
		free(envp[i]);
	free(envp);
	return NULL;
}

static void
envp_free(char **envp)
{
	for (size_t i = 0; envp != NULL && envp[i] != NULL; i++)
		free(envp[i]);
	free(envp);
}

static void
fd_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Opens dir/name for the task's output, appending. */
static int
out_open(const char *dir, const char *name)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
}

static const char *
stage_name(int stage)
{
	switch (stage) {
	case STAGE_PGID: return "cannot make its process group";
	case STAGE_CGROUP: return "cannot join its cgroup";
	case STAGE_STDIO: return "cannot set up its stdin, stdout and stderr";
	case STAGE_CHDIR: return "cannot enter its work directory";
	default: return "cannot run";
	}
}

/* Runs the launch prepared in l for task t in tdir: forks, records, says
 * go.  On ORCH_OK the program runs, or could not be executed: then the
 * instance has ended with code 127 and its error file says why. */
static int
launch_run(struct exec *e, const orch_task *t, const char *tdir,
    struct launch *l, int fds[6], char *err, size_t errlen)
{
	/* fds: info_r, info_w, go_r, go_w, fail_r, fail_w */
	struct child_fail f;
	struct pstat sp, tp;
	struct rec r;
	char text[EXEC_STATE_MAX];
	int32_t v = 0;
	ssize_t got;
	pid_t sup;
	int rc = ORCH_OK, en;
	char go = 'g';

	l->info_w = fds[1];
	l->go_r = fds[2];
	l->fail_w = fds[5];
	if ((sup = fork()) < 0)
		return errf(err, errlen, ORCH_EUNAVAIL, "cannot fork: %s",
		    strerror(errno));
	if (sup == 0)
		supervise(l);
	fd_close(&fds[1]);
	fd_close(&fds[2]);
	fd_close(&fds[5]);
	got = read_timeout(fds[0], &v, sizeof(v), EXEC_START_WAIT_MS);
	if (got != (ssize_t)sizeof(v) || v <= 0) {
		rc = errf(err, errlen, ORCH_EIO,
		    "the supervisor of task %s did not start it: %s", t->id,
		    got == (ssize_t)sizeof(v) ? strerror(-v) : "no answer");
		(void)kill(sup, SIGKILL);
		(void)waitpid(sup, NULL, 0);
		return rc;
	}
	memset(&r, 0, sizeof(r));
	snprintf(r.node, sizeof(r.node), "%s", e->node);
	snprintf(r.task, sizeof(r.task), "%s", t->id);
	snprintf(r.boot, sizeof(r.boot), "%s", e->boot_id);
	r.sup = sup;
	r.pid = (pid_t)v;
	r.started_at_ms = orch_now_ms();
	if (!pstat_read(r.sup, &sp) || !pstat_read(r.pid, &tp)) {
		/* Both wait on us: neither can be gone. */
		(void)kill(r.pid, SIGKILL);
		(void)waitpid(sup, NULL, 0);
		return errf(err, errlen, ORCH_EIO,
		    "task %s: its processes vanished before they ran", t->id);
	}
	r.sup_start = sp.start;
	r.pid_start = tp.start;
	snprintf(r.cgroup, sizeof(r.cgroup), "%s", l->cgroup);
	rec_format(&r, text, sizeof(text));
	if ((en = file_replace(tdir, "state", text)) != 0) {
		/* No record, no run: the task exits 127 unrun. */
		fd_close(&fds[3]);
		(void)waitpid(sup, NULL, 0);
		return errf(err, errlen, orch_err_from_errno(en),
		    "cannot write %s/state: %s", tdir, strerror(en));
	}
	watch_add(e, t->id, sup, sp.start, true);
	if (write(fds[3], &go, 1) != 1)
		(void)kill(r.pid, SIGKILL);
	fd_close(&fds[3]);
	/* EOF: the program runs (the pipe closed at exec). */
	got = read_timeout(fds[4], &f, sizeof(f), EXEC_START_WAIT_MS);
	if (got == (ssize_t)sizeof(f)) {
		char msg[512];

		/* The instance exists and ends at once (exit code 127), with
		 * this as its error: reported as any other exit. */
		snprintf(msg, sizeof(msg), "%s \"%.200s\": %s",
		    stage_name(f.stage), l->path, strerror(f.err));
		(void)file_replace(tdir, "error", msg);
		orch_warn("exec", "task %s: %s", t->id, msg);
		return ORCH_OK;
	}
	orch_log_kv(ORCH_LOG_INFO, "exec", ORCH_LOG_FIELDS({"task", t->id}),
	    "task %s: pid %d runs \"%.200s\" (supervisor %d)%s%s", t->id,
	    (int)r.pid, l->path, (int)sup,
	    e->cgroup[0] != '\0' ? "" : ", without memory and cpu limits: ",
	    e->cgroup[0] != '\0' ? "" : e->no_limits);
	return ORCH_OK;
}

static int
exec_start(void *state, const orch_task *t, char handle[ORCH_HANDLE_LEN],
    char *err, size_t errlen)
{
	struct exec *e = state;
	const orch_task_spec *s = t->spec;
	struct launch l = {.null_fd = -1,
	    .out_fd = -1,
	    .err_fd = -1,
	    .dir_fd = -1,
	    .procs_fd = -1};
	char tdir[PATH_MAX], work[PATH_MAX + 8], prog[PATH_MAX];
	char cgpath[ORCH_CGROUP_PATH_LEN] = "", **argv = NULL, **envp = NULL;
	int fds[6] = {-1, -1, -1, -1, -1, -1};
	struct rec r;
	struct stat st;
	int rc, en;

	if (t->id == NULL || !orch_id_valid(t->id) || s == NULL ||
	    s->n_command == 0 || s->command[0] == NULL ||
	    s->command[0][0] == '\0')
		return errf(err, errlen, ORCH_EINVAL,
		    "a task needs an id and a command");
	snprintf(handle, ORCH_HANDLE_LEN, "%s%s", EXEC_HANDLE_PREFIX, t->id);
	snprintf(tdir, sizeof(tdir), "%s/%s", e->dir, t->id);
	/* Idempotent: a recorded instance is adopted as it is. */
	if ((rc = rec_read(tdir, &r)) == ORCH_OK) {
		adopt(e, &r);
		return ORCH_OK;
	}
	/* A start that did not finish left a directory without a record:
	 * nothing of it ran.  Begin again. */
	if (stat(tdir, &st) == 0 && (rc = orch_dir_remove(tdir)) != ORCH_OK)
		return errf(err, errlen, rc, "cannot clear %s: %s", tdir,
		    orch_strerror(rc));
	if ((rc = program_find(s->command[0], task_path_env(s), prog,
	         sizeof(prog), err, errlen)) != ORCH_OK)
		return rc;

	snprintf(work, sizeof(work), "%s/work", tdir);
	if (mkdir(tdir, 0700) != 0 || mkdir(work, 0755) != 0) {
		en = errno;
		rc = errf(err, errlen, orch_err_from_errno(en),
		    "cannot create %s: %s", work, strerror(en));
		goto out;
	}
	rc = ORCH_ENOMEM;
	if ((argv = calloc(s->n_command + 1, sizeof(*argv))) == NULL ||
	    (envp = envp_make(s)) == NULL) {
		errf(err, errlen, rc, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < s->n_command; i++)
		argv[i] = s->command[i];
	if ((l.null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0 ||
	    (l.out_fd = out_open(tdir, "stdout")) < 0 ||
	    (l.err_fd = out_open(tdir, "stderr")) < 0 ||
	    (l.dir_fd = open(tdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    pipe2(&fds[0], O_CLOEXEC) != 0 || pipe2(&fds[2], O_CLOEXEC) != 0 ||
	    pipe2(&fds[4], O_CLOEXEC) != 0) {
		en = errno;
		rc = errf(err, errlen, orch_err_from_errno(en),
		    "cannot set up the files of %s: %s", tdir, strerror(en));
		goto out;
	}
	if (e->cgroup[0] != '\0' &&
	    (rc = orch_cgroup_task_create(e->cgroup, t->id, s->cpu,
	         s->memory_mb, cgpath, &l.procs_fd, err, errlen)) != ORCH_OK)
		goto out;
	l.path = prog;
	l.argv = argv;
	l.envp = envp;
	l.workdir = work;
	l.cgroup = cgpath;
	l.max_fd = (int)sysconf(_SC_OPEN_MAX);
	if (l.max_fd <= 0 || l.max_fd > 65536)
		l.max_fd = 65536;
	rc = launch_run(e, t, tdir, &l, fds, err, errlen);
out:
	for (int i = 0; i < 6; i++)
		fd_close(&fds[i]);
	fd_close(&l.null_fd);
	fd_close(&l.out_fd);
	fd_close(&l.err_fd);
	fd_close(&l.dir_fd);
	fd_close(&l.procs_fd);
	free(argv);
	envp_free(envp);
	/* Nothing was recorded: nothing ran, nothing is left. */
	if (rc != ORCH_OK && rec_read(tdir, &r) != ORCH_OK) {
		(void)orch_dir_remove(tdir);
		if (cgpath[0] != '\0')
			(void)orch_cgroup_remove(cgpath);
	}
	return rc;
}

/* ---- stop and remove ---- */

/* Waits up to ms for the task's processes to be gone (with cgroup: its
 * cgroup's too).  Returns whether they are. */
static bool
task_wait_gone(const struct rec *r, bool cgroup, int ms)
{
	int64_t deadline = orch_mono_ms() + ms;

	for (;;) {
		if (task_signal(r, 0, cgroup) == 0)
			return true;
		if (orch_mono_ms() >= deadline)
			return false;
		sleep_ms(EXEC_POLL_MS);
	}
}

/* Waits up to ms for the supervisor to have written how the task ended. */
static void
supervisor_wait(const struct rec *r, int ms)
{
	int64_t deadline = orch_mono_ms() + ms;

	while (proc_alive(r->sup, r->sup_start) && orch_mono_ms() < deadline)
		sleep_ms(EXEC_POLL_MS);
}

/* SIGTERM, the grace period, SIGKILL.  grace_s 0 goes straight to
 * SIGKILL. */
static int
task_stop(const struct rec *r, int grace_s, char *err, size_t errlen)
{
	if (strcmp(r->boot, "") == 0)
		return ORCH_OK;
	if (grace_s > 0 && task_signal(r, SIGTERM, false) > 0 &&
	    task_wait_gone(r, true, grace_s * 1000)) {
		supervisor_wait(r, EXEC_KILL_WAIT_MS);
		return ORCH_OK;
	}
	if (task_signal(r, SIGKILL, true) > 0 &&
	    !task_wait_gone(r, true, EXEC_KILL_WAIT_MS))
		return errf(err, errlen, ORCH_EIO,
		    "task %s: process group %d still has processes %d s after "
		    "SIGKILL",
		    r->task, (int)r->pid, EXEC_KILL_WAIT_MS / 1000);
	supervisor_wait(r, EXEC_KILL_WAIT_MS);
	return ORCH_OK;
}

/* The record of handle's task, for stop and remove.  ORCH_ENOENT: there
 * is none (never started, or removed); r is then zeroed. */
static int
handle_rec(struct exec *e, const char *handle, char id[ORCH_ID_LEN],
    char tdir[PATH_MAX], struct rec *r, char *err, size_t errlen)
{
	int rc;

	if (!handle_task(handle, id))
		return errf(err, errlen, ORCH_EINVAL,
		    "invalid handle \"%.64s\"", handle != NULL ? handle : "");
	snprintf(tdir, PATH_MAX, "%s/%s", e->dir, id);
	rc = rec_read(tdir, r);
	/* A record from another boot names processes long gone. */
	if (rc == ORCH_OK && strcmp(r->boot, e->boot_id) != 0) {
		r->boot[0] = '\0';
		return ORCH_OK;
	}
	if (rc == ORCH_OK &&
	    (strcmp(r->node, e->node) != 0 || strcmp(r->task, id) != 0))
		return errf(err, errlen, ORCH_EIO,
		    "%s/state is not task %s's of node %s", tdir, id, e->node);
	if (rc == ORCH_EIO)
		return errf(err, errlen, rc, "cannot read %s/state", tdir);
	if (rc == ORCH_ENOENT)
		memset(r, 0, sizeof(*r));
	return rc;
}

static int
exec_stop(void *state, const char *handle, char *err, size_t errlen)
{
	struct exec *e = state;
	char id[ORCH_ID_LEN], tdir[PATH_MAX];
	struct rec r;
	int rc = handle_rec(e, handle, id, tdir, &r, err, errlen);

	if (rc == ORCH_ENOENT)
		return ORCH_OK;
	if (rc != ORCH_OK)
		return rc;
	return task_stop(&r, e->stop_timeout_s, err, errlen);
}

static int
exec_remove(void *state, const char *handle, char *err, size_t errlen)
{
	struct exec *e = state;
	char id[ORCH_ID_LEN], tdir[PATH_MAX], cg[ORCH_CGROUP_PATH_LEN];
	int64_t deadline;
	struct rec r;
	int rc = handle_rec(e, handle, id, tdir, &r, err, errlen);

	if (rc != ORCH_OK && rc != ORCH_ENOENT)
		return rc;
	/* As docker rm --force: whatever still runs is killed. */
	if (rc == ORCH_OK && (rc = task_stop(&r, 0, err, errlen)) != ORCH_OK)
		return rc;
	if ((rc = orch_dir_remove(tdir)) != ORCH_OK)
		return errf(err, errlen, rc, "cannot remove %s: %s", tdir,
		    orch_strerror(rc));
	/* An unfinished start may have made the cgroup without a record. */
	snprintf(cg, sizeof(cg), "%s", r.cgroup[0] != '\0' ? r.cgroup : "");
	if (cg[0] == '\0' && e->cgroup[0] != '\0' &&
	    snprintf(cg, sizeof(cg), "%s/%s", e->cgroup, id) >= (int)sizeof(cg))
		cg[0] = '\0';
	if (cg[0] == '\0')
		return ORCH_OK;
	/* The last processes leave the cgroup a moment after they die. */
	deadline = orch_mono_ms() + EXEC_KILL_WAIT_MS;
	while ((rc = orch_cgroup_remove(cg)) == ORCH_ECONFLICT &&
	    orch_mono_ms() < deadline)
		sleep_ms(EXEC_POLL_MS);
	if (rc != ORCH_OK)
		return errf(err, errlen, rc, "cannot remove the cgroup %s: %s",
		    cg, orch_strerror(rc));
	return ORCH_OK;
}

/* ---- logs ---- */

/* Bytes read from an output file at a time: a chunk of the agent's. */
#define EXEC_LOG_BLOCK (64 * 1024)
/* How often a followed task's files are looked at for more. */
#define EXEC_LOG_POLL_MS 200

/* One of a task's output files, read from off on. */
struct out_file {
	int fd; /* -1: not wanted, or not there (yet) */
	int stream;
	off_t off;
};

/* The offset where the last n lines of fd (size bytes) begin: after the
 * n-th newline from the end, not counting one that ends the file. */
static int
tail_offset(int fd, off_t size, int64_t n, off_t *out)
{
	char buf[8192];
	off_t end = size;
	int64_t seen = 0;
	bool last = true;

	*out = 0;
	if (n == 0) {
		*out = size;
		return ORCH_OK;
	}
	while (end > 0) {
		size_t len =
		    end > (off_t)sizeof(buf) ? sizeof(buf) : (size_t)end;
		ssize_t r = pread(fd, buf, len, end - (off_t)len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r != (ssize_t)len)
			return r < 0 ? orch_err_from_errno(errno) : ORCH_EIO;
		for (size_t i = len; i > 0; i--) {
			if (buf[i - 1] != '\n')
				continue;
			/* The newline that ends the file ends the last line. */
			if (last && end - (off_t)len + (off_t)i == size) {
				last = false;
				continue;
			}
			if (++seen == n) {
				*out = end - (off_t)len + (off_t)i;
				return ORCH_OK;
			}
		}
		last = false;
		end -= (off_t)len;
	}
	return ORCH_OK;
}

/* Hands what f has past its offset to fn.  Returns ORCH_OK, ORCH_ECLOSED
 * when fn stopped, or a read error. */
static int
out_drain(struct out_file *f, orch_driver_log_fn fn, void *arg, char *buf)
{
	for (;;) {
		ssize_t r = pread(f->fd, buf, EXEC_LOG_BLOCK, f->off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return orch_err_from_errno(errno);
		if (r == 0)
			return ORCH_OK;
		f->off += r;
		if (fn(arg, f->stream, buf, (size_t)r) != 0)
			return ORCH_ECLOSED;
	}
}

/* Opens tdir/name for f, at the start of its last tail lines (tail < 0:
 * all).  A file not there yet (a start under way) is read from 0 once
 * it appears. */
static int
out_open_read(struct out_file *f, const char *tdir, const char *name,
    int64_t tail, char *err, size_t errlen)
{
	char path[PATH_MAX + 16];
	struct stat st;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", tdir, name);
	f->off = 0;
	if ((f->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return ORCH_OK;
		return errf(err, errlen, orch_err_from_errno(errno),
		    "cannot open %s: %s", path, strerror(errno));
	}
	if (fstat(f->fd, &st) != 0)
		return errf(err, errlen, orch_err_from_errno(errno),
		    "cannot read %s: %s", path, strerror(errno));
	if (tail >= 0 &&
	    (rc = tail_offset(f->fd, st.st_size, tail, &f->off)) != ORCH_OK)
		return errf(err, errlen, rc, "cannot read %s: %s", path,
		    orch_strerror(rc));
	return ORCH_OK;
}

/*
 * The task's output is its files stdout and stderr.  They carry no times,
 * so what was printed before the call comes stdout first, then stderr
 * (tail lines of each); with follow, what each gets next is handed on as
 * it is seen, every EXEC_LOG_POLL_MS, until the task has ended and its
 * files are read to their end.
 */
static int
exec_logs(void *state, const char *handle, const struct orch_log_opts *o,
    orch_driver_log_fn fn, void *arg, char *err, size_t errlen)
{
	struct exec *e = state;
	struct out_file f[2] = {{.fd = -1, .stream = ORCH_LOG_STDOUT},
	    {.fd = -1, .stream = ORCH_LOG_STDERR}};
	const char *names[2] = {"stdout", "stderr"};
	bool want[2] = {o->out, o->err};
	char id[ORCH_ID_LEN], tdir[PATH_MAX], *buf = NULL;
	struct orch_instance inst;
	struct rec r;
	struct stat st;
	int rc = ORCH_OK;

	if (!handle_task(handle, id))
		return errf(err, errlen, ORCH_EINVAL,
		    "invalid handle \"%.64s\"", handle != NULL ? handle : "");
	snprintf(tdir, sizeof(tdir), "%s/%s", e->dir, id);
	if (stat(tdir, &st) != 0)
		return errf(err, errlen, ORCH_ENOENT,
		    "task %s has no files on node %s (it ended and was "
		    "removed, or never ran here)",
		    id, e->node);
	if ((buf = malloc(EXEC_LOG_BLOCK)) == NULL)
		return errf(err, errlen, ORCH_ENOMEM, "out of memory");
	for (int i = 0; i < 2; i++) {
		if (want[i] &&
		    (rc = out_open_read(&f[i], tdir, names[i], o->tail, err,
		         errlen)) != ORCH_OK)
			goto out;
	}
	if (fn(arg, ORCH_LOG_STDOUT, NULL, 0) != 0) {
		rc = ORCH_ECLOSED;
		goto out;
	}
	for (;;) {
		/* Ended before this read: the read gets all it printed. */
		bool ended = !o->follow ||
		    instance_read(e, id, &inst, &r) != ORCH_OK || inst.exited;

		for (int i = 0; i < 2; i++) {
			if (want[i] && f[i].fd < 0 &&
			    (rc = out_open_read(&f[i], tdir, names[i], -1, err,
			         errlen)) != ORCH_OK)
				goto out;
			if (f[i].fd >= 0 &&
			    (rc = out_drain(&f[i], fn, arg, buf)) != ORCH_OK) {
				if (rc != ORCH_ECLOSED)
					errf(err, errlen, rc,
					    "cannot read %s/%s: %s", tdir,
					    names[i], orch_strerror(rc));
				goto out;
			}
		}
		if (ended)
			break;
		/* What was read goes now; then a pause. */
		if (fn(arg, ORCH_LOG_STDOUT, NULL, 0) != 0) {
			rc = ORCH_ECLOSED;
			goto out;
		}
		sleep_ms(EXEC_LOG_POLL_MS);
	}
out:
	for (int i = 0; i < 2; i++) {
		if (f[i].fd >= 0)
			close(f[i].fd);
	}
	free(buf);
	return rc;
}

/* ---- health checks ---- */

/* How much of an exec check's output is read for its message. */
#define EXEC_CHECK_OUTPUT_MAX 4096

static bool
checks_off(struct exec *e)
{
	bool off;

	pthread_mutex_lock(&e->mu);
	off = e->checks_off;
	pthread_mutex_unlock(&e->mu);
	return off;
}

/* The first line of what a check printed (buf, n bytes, with room for a
 * NUL), made safe for a person: controls as spaces, bytes that are not
 * UTF-8 as '?', cut at a character. */
static void
check_output_line(char *buf, size_t n, char *out, size_t outlen)
{
	char *p = buf, *nl;

	buf[n] = '\0';
	out[0] = '\0';
	for (; *p != '\0'; p = nl + 1) {
		size_t len;

		nl = strchr(p, '\n');
		len = nl != NULL ? (size_t)(nl - p) : strlen(p);
		while (len > 0 && (p[len - 1] == '\r' || p[len - 1] == ' '))
			len--;
		if (len > 0 && strspn(p, " \t") < len) {
			p[len] = '\0';
			for (size_t i = 0; i < len; i++) {
				if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
					p[i] = ' ';
			}
			orch_text_utf8_repair(p);
			len = (size_t)orch_text_quote_len(p, outlen - 1);
			memcpy(out, p, len);
			out[len] = '\0';
			return;
		}
		if (nl == NULL)
			return;
	}
}

/* Starts argv for task t in tdir/work, with the task's environment and
 * PATH, stdin from /dev/null, stdout and stderr into out_w, in a process
 * group of its own (posix_spawn: this process has threads). */
static int
check_spawn(const orch_task *t, const char *tdir, char *const *argv, int out_w,
    pid_t *pid, char *err, size_t errlen)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t all, none;
	char prog[PATH_MAX], work[PATH_MAX];
	char **envp = NULL;
	int rc, en;

	if ((rc = program_find(argv[0], task_path_env(t->spec), prog,
	         sizeof(prog), err, errlen)) != ORCH_OK)
		return rc;
	if ((envp = envp_make(t->spec)) == NULL)
		return errf(err, errlen, ORCH_ENOMEM, "out of memory");
	if (snprintf(work, sizeof(work), "%s/work", tdir) >=
	    (int)sizeof(work)) {
		envp_free(envp);
		return errf(
		    err, errlen, ORCH_EINVAL, "%.200s: path too long", tdir);
	}
	sigfillset(&all);
	sigemptyset(&none);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out_w, 1);
	posix_spawn_file_actions_adddup2(&fa, out_w, 2);
	posix_spawn_file_actions_addchdir_np(&fa, work);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setflags(&attr,
	    POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
	        POSIX_SPAWN_SETSIGMASK);
	en = posix_spawn(pid, prog, &fa, &attr, argv, envp);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	envp_free(envp);
	if (en != 0)
		return errf(err, errlen, orch_err_from_errno(en),
		    "cannot run \"%.200s\" in %.200s: %s", prog, work,
		    strerror(en));
	return ORCH_OK;
}

static int
exec_check_exec(void *state, const char *handle, const orch_task *t,
    char *const *argv, size_t argc, int timeout_s, int *exit_code, char *out,
    size_t outlen, char *err, size_t errlen)
{
	struct exec *e = state;
	char id[ORCH_ID_LEN], tdir[PATH_MAX], buf[EXEC_CHECK_OUTPUT_MAX + 1];
	char drop[512];
	char **args = NULL;
	int fds[2] = {-1, -1}, pidfd = -1, status = 0, rc;
	int64_t deadline = orch_mono_ms() + (int64_t)timeout_s * 1000;
	size_t have = 0;
	pid_t pid = -1;
	bool ended = false;

	out[0] = '\0';
	if (!handle_task(handle, id) || t->spec == NULL || argc == 0)
		return errf(
		    err, errlen, ORCH_EINVAL, "invalid handle or command");
	snprintf(tdir, sizeof(tdir), "%s/%s", e->dir, id);
	if ((args = calloc(argc + 1, sizeof(*args))) == NULL)
		return errf(err, errlen, ORCH_ENOMEM, "out of memory");
	memcpy(args, argv, argc * sizeof(*args));
	if (pipe2(fds, O_CLOEXEC) != 0) {
		rc = errf(err, errlen, orch_err_from_errno(errno),
		    "cannot make a pipe: %s", strerror(errno));
		goto out;
	}
	if ((rc = check_spawn(t, tdir, args, fds[1], &pid, err, errlen)) !=
	    ORCH_OK)
		goto out;
	fd_close(&fds[1]);
	(void)fcntl(fds[0], F_SETFL, O_NONBLOCK);
	pidfd = pidfd_open_(pid);
	/* Until it ends: its output is read as it comes, so that it never
	 * blocks on a full pipe; a descendant holding the pipe open does
	 * not hold the check. */
	while (!ended) {
		struct pollfd p[2] = {{.fd = fds[0], .events = POLLIN},
		    {.fd = pidfd, .events = POLLIN}};
		int64_t left = deadline - orch_mono_ms();
		ssize_t n;

		if (checks_off(e)) {
			rc = errf(
			    err, errlen, ORCH_ECLOSED, "the agent is stopping");
			goto out;
		}
		if (left <= 0) {
			rc = errf(err, errlen, ORCH_ETIMEDOUT,
			    "timed out after %d s (killed)", timeout_s);
			goto out;
		}
		/* poll ignores a closed pipe's -1 (and a missing pidfd). */
		(void)poll(
		    p, 2, (int)(left < EXEC_POLL_MS ? left : EXEC_POLL_MS));
		if (fds[0] >= 0 && (p[0].revents & (POLLIN | POLLHUP)) != 0) {
			n = have < EXEC_CHECK_OUTPUT_MAX
			    ? read(fds[0], buf + have,
			          EXEC_CHECK_OUTPUT_MAX - have)
			    : read(fds[0], drop, sizeof(drop));
			if (n == 0)
				fd_close(&fds[0]);
			else if (n > 0 && have < EXEC_CHECK_OUTPUT_MAX)
				have += (size_t)n;
		}
		/* Without a pidfd (an old kernel), polled. */
		ended = waitpid(pid, &status, WNOHANG) == pid;
	}
	pid = -1;
	/* What it wrote just before it ended. */
	while (fds[0] >= 0 && have < EXEC_CHECK_OUTPUT_MAX) {
		ssize_t n =
		    read(fds[0], buf + have, EXEC_CHECK_OUTPUT_MAX - have);

		if (n <= 0)
			break;
		have += (size_t)n;
	}
	*exit_code = WIFEXITED(status) ? WEXITSTATUS(status)
	    : WIFSIGNALED(status)      ? 128 + WTERMSIG(status)
	                               : 255;
	check_output_line(buf, have, out, outlen);
	rc = ORCH_OK;
out:
	if (pid > 0) {
		/* Timed out or cancelled: the whole group goes. */
		(void)kill(-pid, SIGKILL);
		(void)waitpid(pid, NULL, 0);
	}
	if (pidfd >= 0)
		close(pidfd);
	fd_close(&fds[0]);
	fd_close(&fds[1]);
	free(args);
	return rc;
}

static int
exec_check_addr(void *state, const char *handle, const orch_task *t,
    unsigned port, char host[ORCH_CHECK_HOST_LEN], unsigned *host_port,
    char *err, size_t errlen)
{
	(void)state;
	(void)handle;
	(void)t;
	(void)err;
	(void)errlen;
	/* A plain process listens on the host itself. */
	snprintf(host, ORCH_CHECK_HOST_LEN, "127.0.0.1");
	*host_port = port;
	return ORCH_OK;
}

static void
exec_check_cancel(void *state)
{
	struct exec *e = state;

	pthread_mutex_lock(&e->mu);
	e->checks_off = true;
	pthread_mutex_unlock(&e->mu);
}

const struct orch_driver_ops orch_exec_driver = {
    .name = "exec",
    .init = exec_init,
    .fini = exec_fini,
    .capacity = exec_capacity,
    .start = exec_start,
    .stop = exec_stop,
    .remove = exec_remove,
    .inspect = exec_inspect,
    .list = exec_list,
    .logs = exec_logs,
    .check_exec = exec_check_exec,
    .check_addr = exec_check_addr,
    .check_cancel = exec_check_cancel,
};
