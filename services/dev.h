/*
 * dev.h: orch-manager --dev, a whole cluster in one process.
 *
 * The manager serves its RPC and notice sockets on NNG's inproc transport
 * and runs one agent (agent.h) in the same process, dialling them: nothing
 * but the HTTP API listens, and only on loopback.  The agent offers the
 * docker driver when a daemon answers (and picks it up later when one
 * starts) and the exec driver always; its node is named after the data
 * directory ("dev-" and 8 hex digits), so that a run on the same --data
 * finds its tasks again, and two runs on different directories never
 * touch each other's containers.  Without --data the data live in a new
 * temporary directory, removed at exit with every task that ran there.
 */
#ifndef ORCH_DEV_H
#define ORCH_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* The inproc URLs of the manager's sockets in dev mode. */
#define ORCH_DEV_RPC_URL "inproc://orch-dev-rpc"
#define ORCH_DEV_PUB_URL "inproc://orch-dev-pub"

/* The container policy of dev mode without --policy: exec tasks may run
 * any program (the person at the keyboard owns the host); containers get
 * nothing beyond the default. */
#define ORCH_DEV_POLICY                                                        \
	"{\"rules\": [{\"command\": \"*\", \"allow\": [\"exec\"]}]}"

struct orch_dev;

/*
 * Makes a new temporary data directory (under $TMPDIR, else /tmp) into
 * dir (OUT, len bytes).  Returns ORCH_OK or the error, with err saying
 * why.
 */
int orch_dev_data_make(
    char *dir /* OUT */, size_t len, char *err, size_t errlen);

/*
 * Starts the in-process agent for the manager whose data are in data_dir
 * and whose sockets are rpc_url and pub_url (the manager must be
 * listening).  temporary: data_dir goes away at exit, and so must the
 * agent's tasks.  On error err says why.
 */
int orch_dev_start(const char *data_dir, bool temporary, const char *rpc_url,
    const char *pub_url, struct orch_dev **out /* OUT */, char *err,
    size_t errlen);

/* Prints how to use the cluster to f: the API's address for orchctl. */
void orch_dev_banner(const struct orch_dev *d, const char *http_url, FILE *f);

/* Stops the agent (first, while the manager still runs); with a temporary
 * directory, stops and removes its tasks.  Then frees it.  NULL is a
 * no-op. */
void orch_dev_stop(struct orch_dev *d);

/* Removes the temporary data directory dir and everything in it. */
void orch_dev_data_remove(const char *dir);

#endif
