/*
 * driver.h: how the agent runs a task, behind a table of operations.
 *
 * A driver turns a task into a running instance (a Docker container, a
 * process) and reports what happens to it: docker.c runs containers,
 * exec.c plain processes.  The agent's core knows only
 * this table, so a driver is added without touching the core (NNG's
 * protocol ops, SQLite's VFS).  Every instance a driver creates carries the
 * task id and the node name, so that after an agent restart the driver can
 * find and adopt its instances (list), and several agents sharing one host
 * never touch each other's.
 *
 * Threading: start, stop, remove, inspect and list may be called from
 * several agent worker threads at once; the driver makes them safe.
 */
#ifndef ORCH_DRIVER_H
#define ORCH_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log_demux.h" /* ORCH_LOG_STDOUT, ORCH_LOG_STDERR */
#include "task.h"

/* The longest instance handle (a Docker container id is 64 hex digits,
 * an exec instance "exec-<task id>"). */
#define ORCH_HANDLE_LEN 128

/* Room for a loopback address a check connects to, NUL included. */
#define ORCH_CHECK_HOST_LEN 16

/* What a driver knows about one of its instances. */
struct orch_instance {
	char task_id[ORCH_ID_LEN];
	char handle[ORCH_HANDLE_LEN]; /* container id */
	bool running;
	bool exited;       /* ran and ended: exit_code is valid, unless... */
	bool exit_unknown; /* ...nothing recorded how it ended */
	int exit_code;
	int64_t started_at_ms;  /* 0 when unknown */
	int64_t finished_at_ms; /* 0 when unknown or still running */
	char error[256];        /* the runtime's own error, if any */
	/* Set by the agent, not the driver: which of its drivers has it. */
	const struct orch_driver_ops *driver;
};

/* Called by the driver's monitor when an instance ends (from the driver's
 * own thread, holding none of its locks).  The monitor is the fast path,
 * not a guarantee: an exit can be missed (the runtime restarted) or, rarely,
 * reported twice, so the agent treats it as idempotent and its periodic
 * reconcile (list, inspect) remains the safety net. */
typedef void (*orch_driver_exit_fn)(
    void *arg, const char *task_id, const char *handle, int exit_code);

/* Called by the driver when its health changes (its runtime stopped or
 * started answering, or answers with another error), from the driver's
 * own thread, holding none of its locks.  The agent then reads it with
 * the healthy operation. */
typedef void (*orch_driver_health_fn)(void *arg);

struct orch_driver_config {
	const char *node_name;       /* value of the orch.node label */
	const char *docker_socket;   /* docker: unix socket path (NULL:
	                              * /var/run/docker.sock) */
	orch_driver_exit_fn on_exit; /* may be NULL: no monitor */
	void *on_exit_arg;
	/* May be NULL: the runtime's health is not watched (the driver
	 * reports it healthy). */
	orch_driver_health_fn on_health;
	void *on_health_arg;
	int stop_timeout_s;     /* grace before SIGKILL on stop
	                         * (0: 10 s) */
	int pull_timeout_s;     /* docker: bound on one image pull
	                         * (0: 600 s) */
	int init_timeout_s;     /* docker: bound on each call init makes
	                         * (0: 60 s) */
	const char *state_dir;  /* exec: its files go in
	                         * state_dir/exec/<node>/ (required) */
	const char *cgroup_dir; /* exec: cgroup v2 directory for limits
	                         * (cgroup.h; NULL: the default, "": none) */
};

/* What a request for an instance's output asks for. */
struct orch_log_opts {
	bool follow;  /* go on with what it prints, until it ends */
	int64_t tail; /* only the last tail lines printed so far; < 0: all */
	bool out;     /* its stdout */
	bool err;     /* its stderr */
};

/*
 * Called by a driver's logs with each piece of output (stream
 * ORCH_LOG_STDOUT or ORCH_LOG_STDERR, len > 0, in the order it was
 * printed as far as the runtime knows it), and with data NULL and len 0
 * as a tick: once when the output is open, before any of it, then at
 * least every second while there is nothing new.  Returns 0 to go on;
 * anything else ends logs, which returns ORCH_ECLOSED.
 */
typedef int (*orch_driver_log_fn)(
    void *arg, int stream, const char *data, size_t len);

struct orch_driver_ops {
	const char *name; /* "docker", "exec" */

	/* Connects to the runtime and starts the exit monitor.  On error err
	 * says why (and *state is untouched). */
	int (*init)(const struct orch_driver_config *cfg,
	    void **state /* OUT */, char *err, size_t errlen);

	/* Stops the monitor and frees the state.  NULL is a no-op. */
	void (*fini)(void *state);

	/* The host's capacity as the runtime sees it. */
	int (*capacity)(void *state, double *cpu /* OUT */,
	    int64_t *memory_mb /* OUT */, char *err, size_t errlen);

	/* Creates and starts the instance of task t (pulling the image only
	 * when it is not there).  Idempotent: when an instance of this task
	 * exists already, it is started if needed and its handle returned.
	 * On error err says what failed on what ('image "x:1" not found
	 * locally and pull failed: ...'). */
	int (*start)(void *state, const orch_task *t,
	    char handle[ORCH_HANDLE_LEN] /* OUT */, char *err, size_t errlen);

	/* Stops the instance gracefully (SIGTERM, then SIGKILL after the stop
	 * timeout).  A missing or stopped instance is success. */
	int (*stop)(void *state, const char *handle, char *err, size_t errlen);

	/* Removes a stopped instance.  A missing instance is success. */
	int (*remove)(
	    void *state, const char *handle, char *err, size_t errlen);

	/* Looks at one instance.  ORCH_ENOENT when it does not exist. */
	int (*inspect)(void *state, const char *handle,
	    struct orch_instance *out /* OUT */, char *err, size_t errlen);

	/* Lists every instance labelled with this node.  *out is a malloc'd
	 * array of *n (free it with free()). */
	int (*list)(void *state, struct orch_instance **out /* OUT */,
	    size_t *n /* OUT */, char *err, size_t errlen);

	/* Hands the output of instance handle to fn, as o asks: what it
	 * printed (the last o->tail lines), then with o->follow what it
	 * prints next, until it ends.  Returns ORCH_OK at the end of the
	 * output, ORCH_ECLOSED when fn ended it, ORCH_ENOENT when there is
	 * no such instance (err says so), or another error with err saying
	 * what failed.  May run for as long as the instance does: each call
	 * on its own thread. */
	int (*logs)(void *state, const char *handle,
	    const struct orch_log_opts *o, orch_driver_log_fn fn, void *arg,
	    char *err, size_t errlen);

	/* Whether the runtime answers, as the driver last saw it, without
	 * waiting for it; when not, why (OUT) says why, for a person.  NULL
	 * for a driver whose runtime cannot go away (exec: the host). */
	bool (*healthy)(void *state, char *why, size_t len);

	/* ---- health checks (agent/checker.c); any may be NULL ---- */

	/* Runs argv (argc arguments, no shell) for task t's instance handle,
	 * as an "exec" health check: inside the container (docker), or on
	 * the host with the task's env and work directory (exec).  Waits at
	 * most timeout_s seconds.  On ORCH_OK the command ran and ended:
	 * *exit_code is its exit code, out (outlen bytes) the first line it
	 * printed ("" for none).  Otherwise err says why not: ORCH_ETIMEDOUT
	 * when it ran too long, ORCH_ECLOSED after check_cancel,
	 * ORCH_EUNAVAIL when the runtime did not answer (the Docker daemon
	 * is away), which is no result of the check (checker.h). */
	int (*check_exec)(void *state, const char *handle, const orch_task *t,
	    char *const *argv, size_t argc, int timeout_s,
	    int *exit_code /* OUT */, char *out, size_t outlen, char *err,
	    size_t errlen);

	/* Where TCP port of task t's instance handle is reachable from this
	 * host, for "http" and "tcp" checks: a loopback address (host,
	 * "127.0.0.1" or "::1") and port.  Never an address of a container
	 * network.  ORCH_ENOENT, err saying why, when it is not reachable
	 * that way (a container's port that is not published);
	 * ORCH_EUNAVAIL when the runtime did not answer, as for
	 * check_exec. */
	int (*check_addr)(void *state, const char *handle, const orch_task *t,
	    unsigned port, char host[ORCH_CHECK_HOST_LEN] /* OUT */,
	    unsigned *host_port /* OUT */, char *err, size_t errlen);

	/* Ends the check_exec calls in progress promptly (ORCH_ECLOSED) and
	 * refuses later ones: the agent is stopping. */
	void (*check_cancel)(void *state);
};

extern const struct orch_driver_ops orch_docker_driver;
extern const struct orch_driver_ops orch_exec_driver;

#endif
