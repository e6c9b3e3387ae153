/*
 * fake_agent.h: a fake orch-agent over NNG, for end-to-end tests of the
 * manager without a container runtime.
 *
 * The test plays the node itself on a REQ socket: it registers, beats and
 * reports task status with the manager's RPCs.  A beater thread plays the
 * heartbeat loops of the nodes that should stay Ready (every 100 ms, well
 * inside a 1 s TTL), on its own REQ socket; a node "dies" when it leaves
 * the beater's list.
 */
#ifndef ORCH_FAKE_AGENT_H
#define ORCH_FAKE_AGENT_H

#include <nng/nng.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orch.pb-c.h"
#include "task.h"

/* A REQ socket dialed to url with a 15 s receive timeout; fails the test
 * when it cannot be opened or dialed.  The caller closes it. */
nng_socket fa_req_open(const char *url);

/* RegisterNode with r.  Returns the error code; on success *out (OUT) is
 * the node, which the caller frees. */
int fa_node_register(nng_socket s, const Orch__NodeRegistration *r,
    Orch__Node **out, char *err, size_t errlen);

/* Heartbeat for node.  Returns the error code; on success *out (OUT) holds
 * the node's assignments, which the caller frees. */
int fa_heartbeat(nng_socket s, const char *node, Orch__Assignments **out,
    char *err, size_t errlen);

/* What an agent says of one driver (DriverHealth): its name, whether it
 * is healthy, and why not (may be NULL).  The strings are borrowed. */
Orch__DriverHealth fa_driver_health(
    const char *name, bool healthy, const char *error);

/* fa_heartbeat() reporting the health of the node's drivers,
 * health[n_health] (HeartbeatRequest.driver_health). */
int fa_heartbeat_health(nng_socket s, const char *node,
    Orch__DriverHealth **health, size_t n_health, Orch__Assignments **out,
    char *err, size_t errlen);

/* One status report, as an agent sends it. */
struct fa_report {
	const char *task;
	const char *node;
	int status;
	const char *container_id;
	bool has_exit_code;
	int exit_code;
	const char *error;
	int64_t started_at_ms; /* 0: not given */
	int64_t finished_at_ms;
};

/* UpdateTaskStatus with r.  Returns the error code (the answer is freed). */
int fa_task_report(
    nng_socket s, const struct fa_report *r, char *err, size_t errlen);

/* What a fake agent does with the assignments one beat of node brought. */
typedef void (*fa_act_fn)(
    nng_socket s, const char *node, const Orch__Assignments *a);

#define FA_BEATER_MAX 4

struct fa_beater {
	pthread_mutex_t mu;
	pthread_t thread;
	bool stop;
	char ids[FA_BEATER_MAX][ORCH_ID_LEN];
	int n;
	char url[64];
	fa_act_fn act; /* NULL: only beat */
};

/* Starts b's thread, beating no node yet, on its own socket to url; act
 * (may be NULL) sees every beat's assignments.  fa_beater_stop ends it. */
void fa_beater_start(struct fa_beater *b, const char *url, fa_act_fn act);
void fa_beater_stop(struct fa_beater *b);

/* Adds node id to (at most FA_BEATER_MAX), or removes it from, the nodes
 * b beats. */
void fa_beater_add(struct fa_beater *b, const char *id);
void fa_beater_remove(struct fa_beater *b, const char *id);

#endif
