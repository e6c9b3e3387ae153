/*
 * exec_util.h: what end-to-end tests of the exec driver look at beside
 * the API: a task's files in the agent's state directory, its process,
 * and the cleanup of what an agent left running.
 */
#ifndef ORCH_EXEC_UTIL_H
#define ORCH_EXEC_UTIL_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

/* The file name (stdout, state...) of task id of node in state_dir, read
 * whole (malloc'd), or NULL when there is none. */
char *eu_task_file(
    const char *state_dir, const char *node, const char *id, const char *name);

/* The pid the state file of task id records; fails the test without one. */
pid_t eu_task_pid(const char *state_dir, const char *node, const char *id);

/* Whether pid is a live process (not a zombie). */
bool eu_pid_alive(pid_t pid);

/* Removes (killing what runs) every exec task of node in state_dir, with
 * the driver itself, so that its checks of pid and start time apply.
 * Quiet and harmless when there is nothing. */
void eu_cleanup(const char *state_dir, const char *node);

/* Polls GET /tasks/<id> on port until its status is status, or fails the
 * test showing the task after timeout_ms.  Returns the task (the caller
 * owns it). */
json_t *eu_wait_status(
    int port, const char *id, const char *status, int timeout_ms);

/* The same for the string field key of the task (its "health", say). */
json_t *eu_wait_field(int port, const char *id, const char *key,
    const char *value, int timeout_ms);

#endif
