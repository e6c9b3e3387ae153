/*
 * docker_util.h: the Docker daemon as the tests see it directly, through
 * its unix socket and independently of the driver under test: reading
 * containers and images, listing containers by label, and removing the
 * containers a test run left behind.
 *
 * Every test run names its nodes <prefix><pid>-<tag> and the driver
 * labels each container orch.node=<node>, so that a run removes only its
 * own containers and those of earlier runs whose process is gone.
 */
#ifndef ORCH_DOCKER_UTIL_H
#define ORCH_DOCKER_UTIL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "docker_client.h"

/* GET path from the daemon; fails the test when the daemon cannot be
 * reached.  Returns the parsed body (the caller owns it), or NULL when the
 * status is not 200; *status (OUT, may be NULL) is the status. */
json_t *du_get(struct orch_docker_client *c, const char *path, long *status);

/* The containers, in any state, carrying label l1 and, when not NULL, l2
 * (each "key=value" or "key").  Returns a JSON array (the caller owns
 * it); fails the test otherwise. */
json_t *du_list_by_labels(
    struct orch_docker_client *c, const char *l1, const char *l2);

/* Whether env (a container's Config.Env array) holds "k=v" kv. */
bool du_env_has(const json_t *env, const char *kv);

/* The containers (any state) of task id on node, or on any node when node
 * is NULL: the driver labels them orch.task=<id> and orch.node=<node>.
 * Returns a JSON array (the caller owns it), or how many there are. */
json_t *du_task_containers(
    struct orch_docker_client *c, const char *id, const char *node);
size_t du_task_count(
    struct orch_docker_client *c, const char *id, const char *node);

/* GET /containers/<cid>/json.  Returns the object (the caller owns it);
 * fails the test otherwise. */
json_t *du_inspect(struct orch_docker_client *c, const char *cid);

/* Removes container id with its volumes, forcibly; a failure is only
 * logged, as cleanup must go on. */
void du_remove(struct orch_docker_client *c, const char *id);

/* Removes the containers whose orch.node is <prefix><pid>-... where pid
 * is this process or one that is gone.  Does nothing when c is NULL. */
void du_cleanup(struct orch_docker_client *c, const char *prefix);

#endif
