/*
 * dev.c: orch-manager --dev (dev.h): the in-process agent and the
 * throwaway data directory.
 */
#include "dev.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "dirs.h"
#include "driver.h"
#include "error.h"
#include "log.h"

/* The agent's beat in dev mode: quick, a person is watching. */
#define DEV_HEARTBEAT_MS 500
/* Grace for a task asked to stop before it is killed. */
#define DEV_STOP_TIMEOUT_S 5
/* Beyond it, how long an action under way may take at exit. */
#define DEV_EXIT_GRACE_MS 5000

struct orch_dev {
	struct orch_agent *agent;
	bool temporary;
	char name[32];
	char state_dir[PATH_MAX];
	char drivers[128];
};

static const struct orch_driver_ops *const dev_drivers[] = {
    &orch_docker_driver,
    &orch_exec_driver,
};

int
orch_dev_data_make(char *dir, size_t len, char *err, size_t errlen)
{
	const char *tmp = getenv("TMPDIR");

	if (tmp == NULL || tmp[0] != '/')
		tmp = "/tmp";
	if (snprintf(dir, len, "%s/orch-dev-XXXXXX", tmp) >= (int)len) {
		snprintf(err, errlen, "$TMPDIR %s is too long", tmp);
		return ORCH_ETOOBIG;
	}
	if (mkdtemp(dir) == NULL) {
		snprintf(err, errlen, "cannot make a directory in %s: %s", tmp,
		    strerror(errno));
		return orch_err_from_errno(errno);
	}
	return ORCH_OK;
}

/* "dev-" and 8 hex digits of the data directory's absolute path: the
 * same directory, the same node (and its containers' orch.node label). */
static void
dev_node_name(const char *data_dir, char *buf, size_t len)
{
	char abs[PATH_MAX];
	const char *s = realpath(data_dir, abs) != NULL ? abs : data_dir;
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	snprintf(buf, len, "dev-%08x", h);
}

int
orch_dev_start(const char *data_dir, bool temporary, const char *rpc_url,
    const char *pub_url, struct orch_dev **out, char *err, size_t errlen)
{
	struct orch_agent_config ac = {0};
	struct orch_dev *d;
	int rc;

	*out = NULL;
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return ORCH_ENOMEM;
	}
	d->temporary = temporary;
	dev_node_name(data_dir, d->name, sizeof(d->name));
	if (snprintf(d->state_dir, sizeof(d->state_dir), "%s/agent",
	        data_dir) >= (int)sizeof(d->state_dir)) {
		snprintf(err, errlen, "the data directory's path is too long");
		free(d);
		return ORCH_ETOOBIG;
	}
	ac.manager_url = rpc_url;
	ac.events_url = pub_url;
	ac.name = d->name;
	ac.address = "127.0.0.1";
	ac.heartbeat_ms = DEV_HEARTBEAT_MS;
	ac.drivers = dev_drivers;
	ac.n_drivers = sizeof(dev_drivers) / sizeof(dev_drivers[0]);
	ac.stop_timeout_s = DEV_STOP_TIMEOUT_S;
	ac.state_dir = d->state_dir;
	if ((rc = orch_agent_new(&ac, &d->agent, err, errlen)) != ORCH_OK ||
	    (rc = orch_agent_start(d->agent, err, errlen)) != ORCH_OK) {
		orch_agent_free(d->agent);
		free(d);
		return rc;
	}
	orch_agent_drivers(d->agent, d->drivers, sizeof(d->drivers));
	*out = d;
	return ORCH_OK;
}

void
orch_dev_banner(const struct orch_dev *d, const char *http_url, FILE *f)
{
	bool docker = strstr(d->drivers, "docker") != NULL;

	fprintf(f,
	    "\n"
	    "orch dev mode: a manager and one agent (node %s, drivers %s)\n"
	    "in this process; the HTTP API is at %s.\n"
	    "\n"
	    "In another terminal (orchctl is next to orch-manager):\n"
	    "  export ORCH_ADDR=%s\n"
	    "  orchctl run hello --driver exec -- /bin/sh -c 'echo hello from "
	    "orch'\n"
	    "  orchctl list\n"
	    "  orchctl get hello\n"
	    "%s"
	    "Its output is in %s/exec/%s/<task id>/stdout.\n"
	    "%s"
	    "Stop with Ctrl-C%s.\n\n",
	    d->name, d->drivers, http_url, http_url,
	    docker ? "  orchctl run web orch-test/busybox:latest -- sleep 60\n"
	           : "",
	    d->state_dir, d->name,
	    docker ? ""
	           : "Docker does not answer: container tasks wait until it "
	             "does (scripts/docker-up.sh starts it).\n",
	    d->temporary ? ": its tasks and this temporary directory go with it"
	                 : "; tasks keep running, and the next --dev on the "
	                   "same --data finds them");
	fflush(f);
}

void
orch_dev_stop(struct orch_dev *d)
{
	char err[1024];

	if (d == NULL)
		return;
	if (!orch_agent_stop(
	        d->agent, DEV_STOP_TIMEOUT_S * 1000 + DEV_EXIT_GRACE_MS)) {
		/* An action is still in a driver: leave it to the exit. */
		free(d);
		return;
	}
	if (d->temporary) {
		if (orch_agent_remove_all(d->agent, err, sizeof(err)) !=
		    ORCH_OK)
			orch_warn(
			    "dev", "not every task could be removed: %s", err);
		else
			orch_info("dev", "the agent's tasks are removed");
	}
	orch_agent_free(d->agent);
	free(d);
}

void
orch_dev_data_remove(const char *dir)
{
	int rc = orch_dir_remove(dir);

	if (rc != ORCH_OK)
		orch_warn(
		    "dev", "cannot remove %s: %s", dir, orch_strerror(rc));
	else
		orch_info("dev", "removed %s", dir);
}
