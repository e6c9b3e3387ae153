/*
 * docker.c: the Docker driver, speaking the Docker Engine API over the
 * daemon's unix socket (docker_client.c) and reading its JSON with jansson.
 *
 * A task's container is named "orch-<task id>" and labelled orch.task=<id>
 * and orch.node=<node>, and orch.service=<name> for a service's replica.
 * The name makes start idempotent (the daemon refuses a second container
 * of that name with 409, and we adopt the first); the labels let list find
 * this node's containers after an agent restart and keep agents sharing a
 * daemon apart.
 *
 * Exits are reported by a monitor thread that follows the daemon's event
 * stream (GET /events, filtered to "die" events of this node's
 * containers).  When the stream breaks (the daemon restarts, the socket is
 * closed) the monitor reconnects by itself with a capped exponential
 * backoff, resuming with since=<time of the last event seen> so that
 * events still in the daemon's memory are replayed.  Events can still be
 * lost (the daemon forgets them when it restarts, and nothing is streamed
 * while it is down), so the stream is only the fast path: the agent's
 * periodic reconcile (list, which inspects every exited container) is the
 * safety net that catches any exit the stream missed.  For the same
 * reason on_exit may, rarely, be called twice for one exit (a replayed
 * event), and the agent treats it as idempotent.
 *
 * Health: when the agent asks (on_health), a prober thread pings the
 * daemon (GET /_ping, 2 s at most) every 5 s while it answers, and at
 * once when the event stream breaks or a call cannot reach it.  One ping
 * that fails makes the driver unhealthy, with the ping's error as the
 * reason; it is then pinged again after 100 ms, doubling up to 1 s, and
 * the first ping answered makes it healthy again.  Each change is told to
 * the agent (on_health).  While the daemon is away, the monitor waits for
 * the prober instead of retrying the stream on its own, so nothing spins;
 * containers are neither touched nor judged (the agent leaves the
 * driver's tasks alone until it is back).
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "docker_client.h"
#include "docker_parse.h"
#include "driver.h"
#include "error.h"
#include "log.h"

/* The API version this file is written against, and the oldest daemon
 * API it accepts (1.40 is Docker 19.03; every endpoint and field used
 * here exists there). */
#define DOCKER_API_MAJOR 1
#define DOCKER_API_MINOR 41
#define DOCKER_API_MIN_MINOR 40

#define DOCKER_SOCKET_DEFAULT "/var/run/docker.sock"
#define DOCKER_CALL_TIMEOUT 60          /* seconds, ordinary calls */
#define DOCKER_STOP_TIMEOUT_DEFAULT 10  /* seconds of grace on stop */
#define DOCKER_PULL_TIMEOUT_DEFAULT 600 /* seconds for one image pull */
#define DOCKER_BACKOFF_MIN_MS 100
#define DOCKER_BACKOFF_MAX_MS 5000
/* A stream that lasted this long was healthy: restart the backoff. */
#define DOCKER_STREAM_HEALTHY_MS 10000
/* Seconds to wait for the daemon to settle a container's exit. */
#define DOCKER_SETTLE_TIMEOUT 5
/* The health probe: how often a daemon that answers is pinged, how long
 * a ping may take, and the backoff between pings of one that does not. */
#define DOCKER_PROBE_EVERY_MS 5000
#define DOCKER_PROBE_TIMEOUT_S 2
#define DOCKER_PROBE_BACKOFF_MIN_MS 100
#define DOCKER_PROBE_BACKOFF_MAX_MS 1000
#define DOCKER_HEALTH_ERR_LEN 512

struct docker {
	struct orch_docker_client *client;
	char *node;
	orch_driver_exit_fn on_exit;
	void *on_exit_arg;
	int stop_timeout_s;
	int pull_timeout_s;
	int init_timeout_s; /* negotiating, at init */
	char api_version[16];

	/* The exit monitor. */
	struct orch_docker_cancel cancel;
	bool cancel_ok;
	pthread_t monitor;
	bool monitor_running;
	char *events_path; /* "/events?filters=..." */
	/* The last event delivered (monitor thread only): where a
	 * reconnected stream resumes, and how a replay is recognised. */
	int64_t last_event_ns;
	char last_event_id[ORCH_HANDLE_LEN];

	/* Health (docker_prober), watched only with on_health. */
	orch_driver_health_fn on_health;
	void *on_health_arg;
	pthread_mutex_t hmu;
	pthread_cond_t hcv; /* CLOCK_MONOTONIC: a change, a probe asked, a
	                     * stop */
	bool h_sync;        /* hmu and hcv made */
	bool healthy;       /* under hmu, as everything below */
	char why[DOCKER_HEALTH_ERR_LEN];
	bool probe_now;
	bool hstop;
	struct orch_docker_cancel pcancel; /* stops a ping in flight */
	bool pcancel_ok;
	pthread_t prober;
	bool prober_running;

	/* Exec health checks in progress, which check_cancel ends. */
	pthread_mutex_t check_mu;
	bool check_mu_ok;
	bool checks_off;
	struct check_call *calls;
};

/* An exec health check in progress: its stream's cancel. */
struct check_call {
	struct orch_docker_cancel cancel;
	struct check_call *next;
};

/* ---- small helpers ---- */

/* Percent-encodes s for a URL query (RFC 3986 unreserved bytes stay).
 * Returns a malloc'd string or NULL. */
static char *
url_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *out, *o;

	if (n > (SIZE_MAX - 1) / 3 || (out = malloc(n * 3 + 1)) == NULL)
		return NULL;
	o = out;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~') {
			*o++ = (char)c;
		} else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o = '\0';
	return out;
}

/* ---- health ---- */

/* Asks the prober for a ping now: something suggests that the daemon went
 * away.  Any thread. */
static void
docker_probe_soon(struct docker *d)
{
	if (!d->h_sync)
		return;
	pthread_mutex_lock(&d->hmu);
	d->probe_now = true;
	pthread_cond_broadcast(&d->hcv);
	pthread_mutex_unlock(&d->hmu);
}

/* orch_docker_client_call, asking for a probe when the daemon could not
 * be reached or did not answer in time. */
static int
docker_call(struct docker *d, const char *method, const char *path,
    const char *body, long timeout_s, struct orch_docker_answer *ans, char *err,
    size_t errlen)
{
	int rc = orch_docker_client_call(
	    d->client, method, path, body, timeout_s, ans, err, errlen);

	if (rc == ORCH_EUNAVAIL || rc == ORCH_ETIMEDOUT || rc == ORCH_EIO)
		docker_probe_soon(d);
	return rc;
}

/* ---- answers ---- */

/* The error for an answer the caller did not expect: 404 is ORCH_ENOENT,
 * 409 ORCH_ECONFLICT, anything else ORCH_EIO.  err names the call and
 * carries the daemon's message. */
static int
answer_fail(struct docker *d, const char *method, const char *path,
    const struct orch_docker_answer *ans, char *err, size_t errlen)
{
	char name[320], msg[512];

	orch_docker_client_call_name(
	    d->client, method, path, name, sizeof(name));
	orch_docker_answer_message(ans, msg, sizeof(msg));
	orch_docker_errf(err, errlen, "%s: the daemon answered %ld: %s", name,
	    ans->status, msg);
	switch (ans->status) {
	case 404: return ORCH_ENOENT;
	case 409: return ORCH_ECONFLICT;
	default: return ORCH_EIO;
	}
}

/* An answer that is not what the API promises: ORCH_EPROTO, with err
 * naming the call and what was wrong. */
static int
answer_bad(struct docker *d, const char *method, const char *path,
    const char *what, char *err, size_t errlen)
{
	char name[320];

	orch_docker_client_call_name(
	    d->client, method, path, name, sizeof(name));
	orch_docker_errf(err, errlen, "%s: unexpected answer: %s", name, what);
	return ORCH_EPROTO;
}

/* GET path, into ans: ORCH_OK only for a 200, otherwise the call's or
 * the answer's error (answer_fail). */
static int
docker_get(struct docker *d, const char *path, struct orch_docker_answer *ans,
    char *err, size_t errlen)
{
	int rc = docker_call(
	    d, "GET", path, NULL, DOCKER_CALL_TIMEOUT, ans, err, errlen);

	if (rc == ORCH_OK && ans->status != 200)
		rc = answer_fail(d, "GET", path, ans, err, errlen);
	return rc;
}

/* The answer to a POST that creates an object (a container, an exec):
 * 201 (or 200) with its Id, read into id. */
static int
answer_created(struct docker *d, const char *path,
    const struct orch_docker_answer *ans, char id[ORCH_HANDLE_LEN], char *err,
    size_t errlen)
{
	char what[256];

	if (ans->status != 201 && ans->status != 200)
		return answer_fail(d, "POST", path, ans, err, errlen);
	if (orch_docker_create_parse(
	        ans->body, ans->len, id, what, sizeof(what)) != ORCH_OK)
		return answer_bad(d, "POST", path, what, err, errlen);
	return ORCH_OK;
}

/* ---- version negotiation ---- */

static int
docker_negotiate(struct docker *d, char *err, size_t errlen)
{
	struct orch_docker_answer ans = {0};
	struct orch_docker_version v;
	const char *sock = orch_docker_client_socket(d->client);
	char what[256];
	int rc, use;

	/* _ping first: the cheapest proof that a daemon is there at all. */
	rc = docker_call(
	    d, "GET", "/_ping", NULL, d->init_timeout_s, &ans, err, errlen);
	if (rc != ORCH_OK)
		goto out;
	if (ans.status != 200) {
		answer_fail(d, "GET", "/_ping", &ans, err, errlen);
		rc = ORCH_EUNAVAIL;
		goto out;
	}
	orch_docker_answer_free(&ans);

	rc = docker_call(
	    d, "GET", "/version", NULL, d->init_timeout_s, &ans, err, errlen);
	if (rc != ORCH_OK)
		goto out;
	if (ans.status != 200) {
		rc = answer_fail(d, "GET", "/version", &ans, err, errlen);
		goto out;
	}
	if (orch_docker_version_parse(
	        ans.body, ans.len, &v, what, sizeof(what)) != ORCH_OK) {
		rc = answer_bad(d, "GET", "/version", what, err, errlen);
		goto out;
	}
	if (v.api_minor < DOCKER_API_MIN_MINOR) {
		orch_docker_errf(err, errlen,
		    "the Docker daemon at %s speaks "
		    "API %s (Docker %s), older than the %d.%d orch needs: "
		    "upgrade "
		    "Docker to 19.03 or later",
		    sock, v.api, v.engine, DOCKER_API_MAJOR,
		    DOCKER_API_MIN_MINOR);
		rc = ORCH_EPROTO;
		goto out;
	}
	if (v.min_api_minor > DOCKER_API_MINOR) {
		orch_docker_errf(err, errlen,
		    "the Docker daemon at %s accepts "
		    "API %s or later only, and orch speaks up to %d.%d",
		    sock, v.min_api, DOCKER_API_MAJOR, DOCKER_API_MINOR);
		rc = ORCH_EPROTO;
		goto out;
	}
	use = v.api_minor < DOCKER_API_MINOR ? v.api_minor : DOCKER_API_MINOR;
	snprintf(d->api_version, sizeof(d->api_version), "%d.%d",
	    DOCKER_API_MAJOR, use);
	if ((rc = orch_docker_client_version_set(d->client, d->api_version)) !=
	    ORCH_OK) {
		orch_docker_errf(
		    err, errlen, "cannot use API version %s", d->api_version);
		goto out;
	}
	orch_info("docker", "daemon at %s: Docker %s, API %s, using %s", sock,
	    v.engine, v.api, d->api_version);
out:
	orch_docker_answer_free(&ans);
	return rc;
}

/* ---- the exit monitor ---- */

/* Waits until the daemon has finished handling container id's exit.  It
 * sends the die event while it still holds the container, before its
 * container list (what the agent reads when told of the exit) says
 * "exited": a list taken at once can still say "running", and the exit
 * would then wait for the agent's periodic list, seconds later.  An
 * inspect takes the container's lock, so it answers only once that
 * handling is done.  Its answer is not needed; a failure only loses the
 * wait. */
static void
exit_settle(struct docker *d, const char *id)
{
	struct orch_docker_answer ans = {0};
	char path[ORCH_HANDLE_LEN + 32], err[256];

	snprintf(path, sizeof(path), "/containers/%s/json", id);
	if (docker_call(d, "GET", path, NULL, DOCKER_SETTLE_TIMEOUT, &ans, err,
	        sizeof(err)) != ORCH_OK)
		orch_debug("docker", "container %.12s: %s", id, err);
	orch_docker_answer_free(&ans);
}

/* Handles one line of the event stream.  Anything unexpected is logged
 * and skipped: one bad line must not stop the monitor. */
static int
docker_event_line(void *arg, char *line, size_t len)
{
	struct docker *d = arg;
	struct orch_docker_event ev;
	char what[256];
	int rc;

	rc = orch_docker_event_parse(
	    line, len, d->node, &ev, what, sizeof(what));
	if (rc == ORCH_EPROTO)
		orch_warn("docker", "event stream: skipped %s", what);
	if (rc != ORCH_OK)
		return 0;
	if (ev.time_ns > 0) {
		/* A replay after a reconnect repeats the last event seen. */
		if (ev.time_ns < d->last_event_ns ||
		    (ev.time_ns == d->last_event_ns &&
		        strcmp(ev.handle, d->last_event_id) == 0))
			return 0;
		d->last_event_ns = ev.time_ns;
		orch_docker_str_copy(
		    d->last_event_id, sizeof(d->last_event_id), ev.handle);
	}
	orch_debug("docker", "container %.12s of task %s exited with %d",
	    ev.handle, ev.task_id, ev.exit_code);
	exit_settle(d, ev.handle);
	d->on_exit(d->on_exit_arg, ev.task_id, ev.handle, ev.exit_code);
	return 0;
}

/* Waits while the prober finds the daemon away.  Returns false when the
 * driver is stopping; *waited (OUT) says whether it had to wait. */
static bool
docker_health_wait(struct docker *d, bool *waited)
{
	bool go;

	*waited = false;
	pthread_mutex_lock(&d->hmu);
	while (!d->hstop && !d->healthy) {
		*waited = true;
		pthread_cond_wait(&d->hcv, &d->hmu);
	}
	go = !d->hstop;
	pthread_mutex_unlock(&d->hmu);
	return go;
}

/* Records what the last ping found (why: NULL when it answered), logging
 * a change of state and telling the agent of any change. */
static void
docker_health_set(struct docker *d, const char *why)
{
	const char *sock = orch_docker_client_socket(d->client);
	bool was, changed;

	pthread_mutex_lock(&d->hmu);
	was = d->healthy;
	changed =
	    was != (why == NULL) || (why != NULL && strcmp(d->why, why) != 0);
	d->healthy = why == NULL;
	orch_docker_errf(d->why, sizeof(d->why), "%s", why != NULL ? why : "");
	pthread_cond_broadcast(&d->hcv);
	pthread_mutex_unlock(&d->hmu);
	if (was && why != NULL)
		orch_warn("docker",
		    "the daemon at %s does not answer: %s; its containers "
		    "are left as they are, and it is pinged again every %d "
		    "to %d ms",
		    sock, why, DOCKER_PROBE_BACKOFF_MIN_MS,
		    DOCKER_PROBE_BACKOFF_MAX_MS);
	else if (!was && why == NULL)
		orch_info("docker", "the daemon at %s answers again", sock);
	if (changed && d->on_health != NULL)
		d->on_health(d->on_health_arg);
}

static int
ping_line(void *arg, char *line, size_t len)
{
	(void)arg;
	(void)line;
	(void)len;
	return 0;
}

/* GET /_ping, at most DOCKER_PROBE_TIMEOUT_S, cut short by a stop (it is
 * streamed only for that).  Returns ORCH_OK when the daemon answered 200;
 * otherwise err says what failed. */
static int
docker_ping(struct docker *d, char *err, size_t errlen)
{
	struct orch_docker_answer ans = {0};
	int rc;

	rc = orch_docker_client_stream(d->client, "GET", "/_ping",
	    DOCKER_PROBE_TIMEOUT_S, &d->pcancel, ping_line, NULL, &ans, err,
	    errlen);
	if (rc == ORCH_OK && ans.status != 200) {
		answer_fail(d, "GET", "/_ping", &ans, err, errlen);
		rc = ORCH_EUNAVAIL;
	}
	orch_docker_answer_free(&ans);
	return rc;
}

/* The prober: pings the daemon every DOCKER_PROBE_EVERY_MS while it
 * answers, at once when asked (docker_probe_soon), and with a backoff
 * while it does not. */
static void *
docker_prober(void *arg)
{
	struct docker *d = arg;
	struct timespec until;
	char err[DOCKER_HEALTH_ERR_LEN];
	int wait_ms = DOCKER_PROBE_EVERY_MS;
	int backoff = DOCKER_PROBE_BACKOFF_MIN_MS;

	for (;;) {
		orch_mono_deadline(wait_ms, &until);
		pthread_mutex_lock(&d->hmu);
		while (!d->hstop && !d->probe_now &&
		    pthread_cond_timedwait(&d->hcv, &d->hmu, &until) !=
		        ETIMEDOUT)
			;
		d->probe_now = false;
		if (d->hstop) {
			pthread_mutex_unlock(&d->hmu);
			break;
		}
		pthread_mutex_unlock(&d->hmu);
		if (docker_ping(d, err, sizeof(err)) == ORCH_OK) {
			docker_health_set(d, NULL);
			wait_ms = DOCKER_PROBE_EVERY_MS;
			backoff = DOCKER_PROBE_BACKOFF_MIN_MS;
			continue;
		}
		if (orch_docker_cancel_stopped(&d->pcancel))
			break;
		docker_health_set(d, err);
		/* The first retry comes soon: a daemon restarting is back in
		 * a moment; one that stays away costs a ping a second. */
		wait_ms = backoff;
		backoff = backoff * 2 > DOCKER_PROBE_BACKOFF_MAX_MS
		    ? DOCKER_PROBE_BACKOFF_MAX_MS
		    : backoff * 2;
	}
	return NULL;
}

static bool
docker_healthy(void *state, char *why, size_t len)
{
	struct docker *d = state;
	bool ok;

	pthread_mutex_lock(&d->hmu);
	ok = d->healthy;
	orch_docker_errf(why, len, "%s", ok ? "" : d->why);
	pthread_mutex_unlock(&d->hmu);
	return ok;
}

static void *
docker_monitor(void *arg)
{
	struct docker *d = arg;
	struct orch_docker_answer ans;
	/* The node name is at most ORCH_DOCKER_NODE_MAX bytes, three times that
	 * escaped: the path fits with room to spare. */
	char err[512], msg[512], path[2048];
	int backoff = DOCKER_BACKOFF_MIN_MS;
	int64_t t0;
	bool waited;
	int rc, n;

	while (!orch_docker_cancel_stopped(&d->cancel)) {
		/* While the daemon is away the prober pings it; the stream
		 * follows once it answers. */
		if (!docker_health_wait(d, &waited))
			break;
		if (waited)
			backoff = DOCKER_BACKOFF_MIN_MS;
		n = d->last_event_ns > 0
		    ? snprintf(path, sizeof(path),
		          "%s&since=%" PRId64 ".%09" PRId64, d->events_path,
		          d->last_event_ns / 1000000000,
		          d->last_event_ns % 1000000000)
		    : snprintf(path, sizeof(path), "%s", d->events_path);
		if (n < 0 || (size_t)n >= sizeof(path)) {
			orch_error("docker",
			    "event stream path too long; no exit "
			    "monitor (reconcile still finds exits)");
			break;
		}
		t0 = orch_mono_ms();
		rc = orch_docker_client_stream(d->client, "GET", path, 0,
		    &d->cancel, docker_event_line, d, &ans, err, sizeof(err));
		if (orch_docker_cancel_stopped(&d->cancel)) {
			orch_docker_answer_free(&ans);
			break;
		}
		if (rc == ORCH_OK && ans.status == 200) {
			orch_warn("docker",
			    "event stream ended; reconnecting "
			    "(exits meanwhile are found by reconcile)");
			if (orch_mono_ms() - t0 >= DOCKER_STREAM_HEALTHY_MS)
				backoff = DOCKER_BACKOFF_MIN_MS;
			/* The daemon may be stopping. */
			docker_probe_soon(d);
		} else if (rc == ORCH_OK) {
			orch_docker_answer_message(&ans, msg, sizeof(msg));
			orch_warn("docker",
			    "event stream refused (%ld: %s); "
			    "retrying in %d ms",
			    ans.status, msg, backoff);
		} else {
			orch_warn("docker",
			    "event stream: %s; retrying in %d ms", err,
			    backoff);
			docker_probe_soon(d);
		}
		orch_docker_answer_free(&ans);
		if (orch_docker_cancel_sleep(&d->cancel, backoff))
			break;
		backoff = backoff * 2 > DOCKER_BACKOFF_MAX_MS
		    ? DOCKER_BACKOFF_MAX_MS
		    : backoff * 2;
	}
	return NULL;
}

/* Builds the path of the event stream: die events of this node's
 * containers. */
static int
docker_events_path(struct docker *d)
{
	json_t *f;
	char *label = NULL, *js = NULL, *esc = NULL;
	size_t n;
	int rc = ORCH_ENOMEM;

	n = strlen("orch.node=") + strlen(d->node) + 1;
	if ((label = malloc(n)) == NULL)
		return ORCH_ENOMEM;
	snprintf(label, n, "orch.node=%s", d->node);
	f = json_pack("{s:[s], s:[s], s:[s]}", "type", "container", "event",
	    "die", "label", label);
	if (f == NULL || (js = json_dumps(f, JSON_COMPACT)) == NULL ||
	    (esc = url_escape(js)) == NULL)
		goto out;
	n = strlen("/events?filters=") + strlen(esc) + 1;
	if ((d->events_path = malloc(n)) == NULL)
		goto out;
	snprintf(d->events_path, n, "/events?filters=%s", esc);
	rc = ORCH_OK;
out:
	free(esc);
	free(js);
	json_decref(f);
	free(label);
	return rc;
}

/* ---- lifecycle ---- */

static void
docker_free(struct docker *d)
{
	if (d == NULL)
		return;
	if (d->h_sync) {
		pthread_mutex_lock(&d->hmu);
		d->hstop = true;
		pthread_cond_broadcast(&d->hcv);
		pthread_mutex_unlock(&d->hmu);
	}
	if (d->prober_running) {
		orch_docker_cancel_fire(&d->pcancel);
		pthread_join(d->prober, NULL);
	}
	if (d->monitor_running) {
		orch_docker_cancel_fire(&d->cancel);
		pthread_join(d->monitor, NULL);
	}
	if (d->pcancel_ok)
		orch_docker_cancel_fini(&d->pcancel);
	if (d->h_sync) {
		pthread_cond_destroy(&d->hcv);
		pthread_mutex_destroy(&d->hmu);
	}
	if (d->cancel_ok)
		orch_docker_cancel_fini(&d->cancel);
	if (d->check_mu_ok)
		pthread_mutex_destroy(&d->check_mu);
	orch_docker_client_free(d->client);
	free(d->events_path);
	free(d->node);
	free(d);
}

/* Makes hmu and hcv (on the monotonic clock, so that the prober's waits
 * do not stretch when the wall clock is set back). */
static int
health_sync_init(struct docker *d)
{
	pthread_condattr_t ca;
	int e;

	if ((e = pthread_mutex_init(&d->hmu, NULL)) != 0)
		return orch_err_from_errno(e);
	if ((e = pthread_condattr_init(&ca)) != 0) {
		pthread_mutex_destroy(&d->hmu);
		return orch_err_from_errno(e);
	}
	if ((e = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC)) != 0 ||
	    (e = pthread_cond_init(&d->hcv, &ca)) != 0) {
		pthread_condattr_destroy(&ca);
		pthread_mutex_destroy(&d->hmu);
		return orch_err_from_errno(e);
	}
	pthread_condattr_destroy(&ca);
	d->h_sync = true;
	return ORCH_OK;
}

static int
docker_init(const struct orch_driver_config *cfg, void **state, char *err,
    size_t errlen)
{
	const char *sock =
	    cfg->docker_socket != NULL && cfg->docker_socket[0] != '\0'
	    ? cfg->docker_socket
	    : DOCKER_SOCKET_DEFAULT;
	struct docker *d = NULL;
	size_t n;
	int rc = ORCH_EINVAL;

	n = cfg->node_name != NULL ? strlen(cfg->node_name) : 0;
	if (n == 0 || n > ORCH_DOCKER_NODE_MAX) {
		orch_docker_errf(err, errlen,
		    "docker: the node name must be 1 "
		    "to %d characters",
		    ORCH_DOCKER_NODE_MAX);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)cfg->node_name[i];

		/* Label values may hold anything, but a name with control
		 * characters or ',' would be a trap in logs and filters. */
		if (c < 0x20 || c == 0x7f || c == ',') {
			orch_docker_errf(err, errlen,
			    "docker: the node name must "
			    "be printable, without ','");
			goto out;
		}
	}
	rc = ORCH_ENOMEM;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		goto nomem;
	if ((rc = orch_docker_cancel_init(&d->cancel)) != ORCH_OK)
		goto nomem;
	d->cancel_ok = true;
	if ((rc = orch_docker_cancel_init(&d->pcancel)) != ORCH_OK)
		goto nomem;
	d->pcancel_ok = true;
	if ((rc = health_sync_init(d)) != ORCH_OK)
		goto nomem;
	d->healthy = true;
	if ((rc = pthread_mutex_init(&d->check_mu, NULL)) != 0) {
		rc = orch_err_from_errno(rc);
		goto nomem;
	}
	d->check_mu_ok = true;
	if ((rc = orch_docker_client_new(sock, &d->client)) != ORCH_OK)
		goto nomem;
	rc = ORCH_ENOMEM;
	if ((d->node = strdup(cfg->node_name)) == NULL)
		goto nomem;
	d->on_exit = cfg->on_exit;
	d->on_exit_arg = cfg->on_exit_arg;
	d->on_health = cfg->on_health;
	d->on_health_arg = cfg->on_health_arg;
	d->stop_timeout_s = cfg->stop_timeout_s > 0
	    ? cfg->stop_timeout_s
	    : DOCKER_STOP_TIMEOUT_DEFAULT;
	d->pull_timeout_s = cfg->pull_timeout_s > 0
	    ? cfg->pull_timeout_s
	    : DOCKER_PULL_TIMEOUT_DEFAULT;
	d->init_timeout_s =
	    cfg->init_timeout_s > 0 ? cfg->init_timeout_s : DOCKER_CALL_TIMEOUT;

	if ((rc = docker_negotiate(d, err, errlen)) != ORCH_OK)
		goto out;
	if (d->on_exit != NULL) {
		if ((rc = docker_events_path(d)) != ORCH_OK)
			goto nomem;
		if ((rc = pthread_create(
		         &d->monitor, NULL, docker_monitor, d)) != 0) {
			orch_docker_errf(err, errlen,
			    "docker: cannot start the "
			    "exit monitor: %s",
			    strerror(rc));
			rc = orch_err_from_errno(rc);
			goto out;
		}
		d->monitor_running = true;
	}
	if (d->on_health != NULL) {
		if ((rc = pthread_create(&d->prober, NULL, docker_prober, d)) !=
		    0) {
			orch_docker_errf(err, errlen,
			    "docker: cannot start the health prober: %s",
			    strerror(rc));
			rc = orch_err_from_errno(rc);
			goto out;
		}
		d->prober_running = true;
	}
	*state = d;
	d = NULL;
	rc = ORCH_OK;
	goto out;
nomem:
	orch_docker_errf(err, errlen, "docker: %s", orch_strerror(rc));
out:
	docker_free(d);
	return rc;
}

static void
docker_fini(void *state)
{
	docker_free(state);
}

/* ---- capacity ---- */

static int
docker_capacity(
    void *state, double *cpu, int64_t *memory_mb, char *err, size_t errlen)
{
	struct docker *d = state;
	struct orch_docker_answer ans;
	char what[256];
	int rc;

	rc = docker_call(
	    d, "GET", "/info", NULL, DOCKER_CALL_TIMEOUT, &ans, err, errlen);
	if (rc != ORCH_OK)
		goto out;
	if (ans.status != 200) {
		rc = answer_fail(d, "GET", "/info", &ans, err, errlen);
		goto out;
	}
	if (orch_docker_info_parse(ans.body, ans.len, cpu, memory_mb, what,
	        sizeof(what)) != ORCH_OK)
		rc = answer_bad(d, "GET", "/info", what, err, errlen);
out:
	orch_docker_answer_free(&ans);
	return rc;
}

/* ---- inspect ---- */

/* Reads GET /containers/{ref}/json into out (and extra when not NULL). */
static int
container_inspect(struct docker *d, const char *ref,
    struct orch_instance *out /* OUT */,
    struct orch_docker_inspect_extra *extra, char *err, size_t errlen)
{
	struct orch_docker_answer ans = {0};
	char path[ORCH_HANDLE_LEN + 32], what[256];
	int rc;

	memset(out, 0, sizeof(*out));
	if (!orch_docker_handle_valid(ref)) {
		orch_docker_errf(err, errlen,
		    "docker: invalid container "
		    "reference");
		return ORCH_EINVAL;
	}
	snprintf(path, sizeof(path), "/containers/%s/json", ref);
	if ((rc = docker_get(d, path, &ans, err, errlen)) != ORCH_OK)
		goto out;
	if (orch_docker_inspect_parse(
	        ans.body, ans.len, out, extra, what, sizeof(what)) != ORCH_OK)
		rc = answer_bad(d, "GET", path, what, err, errlen);
out:
	orch_docker_answer_free(&ans);
	return rc;
}

static int
docker_inspect(void *state, const char *handle, struct orch_instance *out,
    char *err, size_t errlen)
{
	return container_inspect(state, handle, out, NULL, err, errlen);
}

/* ---- start ---- */

/* Splits an image reference into what POST /images/create wants:
 * "repo:tag" → repo, tag; "repo@sha256:..." → repo, digest; "repo" →
 * repo, "latest" (an empty tag would pull every tag).  A ':' before the
 * last '/' belongs to a registry's port. */
static bool
image_ref_split(
    const char *image, char *repo, size_t rlen, char *tag, size_t tlen)
{
	const char *at = strchr(image, '@'), *slash, *colon, *sep = NULL;

	if (at != NULL) {
		sep = at;
	} else {
		slash = strrchr(image, '/');
		colon = strrchr(image, ':');
		if (colon != NULL && (slash == NULL || colon > slash))
			sep = colon;
	}
	if (sep == NULL)
		return orch_docker_str_copy(repo, rlen, image) &&
		    orch_docker_str_copy(tag, tlen, "latest");
	if ((size_t)(sep - image) >= rlen || sep == image || sep[1] == '\0')
		return false;
	memcpy(repo, image, (size_t)(sep - image));
	repo[sep - image] = '\0';
	return orch_docker_str_copy(tag, tlen, sep + 1);
}

/* What the pull's progress stream said. */
struct pull_state {
	char error[512];
};

static int
pull_line(void *arg, char *line, size_t len)
{
	struct pull_state *ps = arg;

	/* Progress lines are ignored; the first error is kept. */
	if (ps->error[0] == '\0')
		orch_docker_pull_error(line, len, ps->error, sizeof(ps->error));
	return 0;
}

/* Pulls image.  The answer is a stream of JSON progress lines that ends
 * when the pull does; a failure after the 200 arrives as an {"error"}
 * line, one before it as an ordinary error answer. */
static int
image_pull(struct docker *d, const char *image, char *err, size_t errlen)
{
	struct orch_docker_answer ans = {0};
	struct pull_state ps = {""};
	char repo[ORCH_IMAGE_MAX + 1], tag[ORCH_IMAGE_MAX + 1], msg[512];
	char *erepo = NULL, *etag = NULL, *path = NULL;
	size_t n;
	int rc = ORCH_ENOMEM;

	if (!image_ref_split(image, repo, sizeof(repo), tag, sizeof(tag))) {
		orch_docker_errf(err, errlen,
		    "image \"%s\" not found locally "
		    "and is not a reference that can be pulled",
		    image);
		return ORCH_EINVAL;
	}
	if ((erepo = url_escape(repo)) == NULL ||
	    (etag = url_escape(tag)) == NULL)
		goto nomem;
	n = strlen(erepo) + strlen(etag) + 64;
	if ((path = malloc(n)) == NULL)
		goto nomem;
	snprintf(path, n, "/images/create?fromImage=%s&tag=%s", erepo, etag);
	orch_info("docker", "pulling image \"%s\"", image);
	rc = orch_docker_client_stream(d->client, "POST", path,
	    d->pull_timeout_s, NULL, pull_line, &ps, &ans, msg, sizeof(msg));
	if (rc != ORCH_OK) {
		orch_docker_errf(err, errlen,
		    "image \"%s\" not found locally "
		    "and pull failed: %s",
		    image, msg);
		goto out;
	}
	if (ans.status != 200) {
		orch_docker_answer_message(&ans, msg, sizeof(msg));
		orch_docker_errf(err, errlen,
		    "image \"%s\" not found locally "
		    "and pull failed: %s",
		    image, msg);
		rc = ORCH_ENOENT;
		goto out;
	}
	if (ps.error[0] != '\0') {
		orch_docker_errf(err, errlen,
		    "image \"%s\" not found locally "
		    "and pull failed: %s",
		    image, ps.error);
		rc = ORCH_ENOENT;
		goto out;
	}
	orch_info("docker", "pulled image \"%s\"", image);
	rc = ORCH_OK;
	goto out;
nomem:
	orch_docker_errf(
	    err, errlen, "docker: pulling \"%s\": out of memory", image);
out:
	orch_docker_answer_free(&ans);
	free(path);
	free(etag);
	free(erepo);
	return rc;
}

/* The n strings of a as a new JSON array, or NULL when one is not UTF-8
 * or memory runs out. */
static json_t *
string_array(char *const *a, size_t n)
{
	json_t *j = json_array();

	for (size_t i = 0; j != NULL && i < n; i++) {
		if (a[i] == NULL ||
		    json_array_append_new(j, json_string(a[i])) != 0) {
			json_decref(j);
			return NULL;
		}
	}
	return j;
}

/*
 * Sets the container settings of spec s in hc, the create body's
 * HostConfig, as data: volumes are Docker's Binds strings as they are
 * (container.h gives them its syntax), capabilities its CapAdd names.
 * Only what the spec asks for is set, so that Docker's defaults hold
 * otherwise.  The manager's policy decided they are allowed.  Returns
 * ORCH_OK, or ORCH_EINVAL for text that is not UTF-8 (or no memory).
 */
static int
host_config_container(json_t *hc, const orch_task_spec *s)
{
	int bad = 0;

	if (s->has_privileged && s->privileged)
		bad |= json_object_set_new(hc, "Privileged", json_true());
	if (s->n_volumes > 0)
		bad |= json_object_set_new(
		    hc, "Binds", string_array(s->volumes, s->n_volumes));
	if (s->network != NULL && s->network[0] != '\0')
		bad |= json_object_set_new(
		    hc, "NetworkMode", json_string(s->network));
	if (s->n_cap_add > 0)
		bad |= json_object_set_new(
		    hc, "CapAdd", string_array(s->cap_add, s->n_cap_add));
	return bad != 0 ? ORCH_EINVAL : ORCH_OK;
}

/* Builds the body of POST /containers/create for t.  Returns a malloc'd
 * JSON text or NULL (err says why). */
static char *
create_body(struct docker *d, const orch_task *t, char *err, size_t errlen)
{
	const orch_task_spec *s = t->spec;
	json_t *b = NULL, *env = NULL, *cmd = NULL, *labels = NULL, *hc = NULL;
	char *kv = NULL, *text = NULL;
	size_t n;
	bool bad = false;

	if ((b = json_object()) == NULL || (env = json_array()) == NULL ||
	    (labels = json_object()) == NULL || (hc = json_object()) == NULL)
		goto nomem;
	for (size_t i = 0; i < s->n_env; i++) {
		const char *k = s->env[i]->key, *v = s->env[i]->value;

		if (k == NULL || v == NULL)
			goto invalid;
		n = strlen(k) + strlen(v) + 2;
		if ((kv = malloc(n)) == NULL)
			goto nomem;
		snprintf(kv, n, "%s=%s", k, v);
		/* json_string refuses text that is not UTF-8. */
		if (json_array_append_new(env, json_string(kv)) != 0)
			goto invalid;
		free(kv);
		kv = NULL;
	}
	/* No Cmd at all, not an empty one, so that the image's runs. */
	if (s->n_command > 0) {
		if ((cmd = json_array()) == NULL)
			goto nomem;
		for (size_t i = 0; i < s->n_command; i++) {
			if (s->command[i] == NULL ||
			    json_array_append_new(
			        cmd, json_string(s->command[i])) != 0)
				goto invalid;
		}
	}
	bad |=
	    json_object_set_new(labels, "orch.task", json_string(t->id)) != 0;
	bad |=
	    json_object_set_new(labels, "orch.node", json_string(d->node)) != 0;
	/* A service's replicas carry its name, for people and tools
	 * (docker ps --filter label=orch.service=web). */
	if (s->service != NULL && s->service[0] != '\0')
		bad |= json_object_set_new(labels, "orch.service",
		           json_string(s->service)) != 0;
	if (s->memory_mb > 0)
		bad |= json_object_set_new(hc, "Memory",
		           json_integer(s->memory_mb * 1024 * 1024)) != 0;
	if (s->cpu > 0)
		bad |=
		    json_object_set_new(hc, "NanoCpus",
		        json_integer((json_int_t)llround(s->cpu * 1e9))) != 0;
	if (bad)
		goto nomem;
	if (host_config_container(hc, s) != ORCH_OK)
		goto invalid;
	if (json_object_set_new(b, "Image", json_string(s->image)) != 0)
		goto invalid;
	bad |= json_object_set(b, "Env", env) != 0;
	if (cmd != NULL)
		bad |= json_object_set(b, "Cmd", cmd) != 0;
	bad |= json_object_set(b, "Labels", labels) != 0;
	bad |= json_object_set(b, "HostConfig", hc) != 0;
	if (bad || (text = json_dumps(b, JSON_COMPACT)) == NULL)
		goto nomem;
	goto out;
invalid:
	orch_docker_errf(err, errlen,
	    "task %s: the image, env, command, volumes, network or "
	    "cap_add is not valid UTF-8 text",
	    t->id);
	goto out;
nomem:
	orch_docker_errf(err, errlen, "task %s: out of memory", t->id);
out:
	free(kv);
	json_decref(hc);
	json_decref(labels);
	json_decref(cmd);
	json_decref(env);
	json_decref(b);
	return text;
}

enum create_outcome {
	CREATED,
	NAME_TAKEN,
	NO_IMAGE,
};

/* POST /containers/create?name=...  On ORCH_OK *outcome says what
 * happened; handle is set when CREATED.  For NO_IMAGE, msg holds the
 * daemon's words. */
static int
container_create(struct docker *d, const char *name, const char *body,
    enum create_outcome *outcome /* OUT */, char handle[ORCH_HANDLE_LEN],
    char *err, size_t errlen)
{
	struct orch_docker_answer ans = {0};
	char path[128], msg[512];
	int rc;

	snprintf(path, sizeof(path), "/containers/create?name=%s", name);
	rc = docker_call(
	    d, "POST", path, body, DOCKER_CALL_TIMEOUT, &ans, err, errlen);
	if (rc != ORCH_OK)
		goto out;
	if (ans.status == 409) {
		*outcome = NAME_TAKEN;
		goto out;
	}
	if (ans.status == 404) {
		/* 404 also means a missing network or volume: only "No such
		 * image" is worth a pull. */
		orch_docker_answer_message(&ans, msg, sizeof(msg));
		if (strstr(msg, "No such image") != NULL) {
			*outcome = NO_IMAGE;
			goto out;
		}
	}
	if ((rc = answer_created(d, path, &ans, handle, err, errlen)) !=
	    ORCH_OK)
		goto out;
	*outcome = CREATED;
out:
	orch_docker_answer_free(&ans);
	return rc;
}

/* POST /containers/{id}/start: 204 started, 304 already running. */
static int
container_start(struct docker *d, const char *id, bool *answered /* OUT */,
    char *err, size_t errlen)
{
	struct orch_docker_answer ans = {0};
	char path[ORCH_HANDLE_LEN + 32];
	int rc;

	*answered = false;
	snprintf(path, sizeof(path), "/containers/%s/start", id);
	rc = docker_call(
	    d, "POST", path, NULL, DOCKER_CALL_TIMEOUT, &ans, err, errlen);
	if (rc != ORCH_OK)
		goto out;
	*answered = true;
	if (ans.status != 204 && ans.status != 304 && ans.status != 200)
		rc = answer_fail(d, "POST", path, &ans, err, errlen);
out:
	orch_docker_answer_free(&ans);
	return rc;
}

/* Removes a container that never ran properly, best effort. */
static void
container_discard(struct docker *d, const char *id)
{
	struct orch_docker_answer ans = {0};
	char path[ORCH_HANDLE_LEN + 32], err[256];

	snprintf(path, sizeof(path), "/containers/%s?force=true&v=true", id);
	if (docker_call(d, "DELETE", path, NULL, DOCKER_CALL_TIMEOUT, &ans, err,
	        sizeof(err)) != ORCH_OK)
		orch_warn(
		    "docker", "cannot remove container %.12s: %s", id, err);
	orch_docker_answer_free(&ans);
}

/*
 * The container named name exists already (a retried start, or an agent
 * restarted mid-start): adopt it.  Started unless it runs or has run (an
 * exited one is left for the caller to inspect, not run twice).  Returns
 * ORCH_ENOENT when it vanished meanwhile, ORCH_ECONFLICT when it belongs
 * to another node or is being removed.
 */
static int
container_adopt(struct docker *d, const char *name, const char *task_id,
    char handle[ORCH_HANDLE_LEN], char *err, size_t errlen)
{
	struct orch_instance inst;
	struct orch_docker_inspect_extra ex;
	bool answered;
	int rc;

	if ((rc = container_inspect(d, name, &inst, &ex, err, errlen)) !=
	    ORCH_OK)
		return rc;
	if (strcmp(ex.node, d->node) != 0 ||
	    strcmp(inst.task_id, task_id) != 0) {
		orch_docker_errf(err, errlen,
		    "task %s: container %s exists but "
		    "belongs to node \"%s\", task \"%s\"",
		    task_id, name, ex.node, inst.task_id);
		return ORCH_ECONFLICT;
	}
	if (strcmp(ex.status, "removing") == 0) {
		orch_docker_errf(err, errlen,
		    "task %s: container %s is being "
		    "removed; retry later",
		    task_id, name);
		return ORCH_ECONFLICT;
	}
	if (!inst.running && !inst.exited) {
		rc = container_start(d, inst.handle, &answered, err, errlen);
		if (rc != ORCH_OK)
			return rc;
	}
	orch_docker_str_copy(handle, ORCH_HANDLE_LEN, inst.handle);
	return ORCH_OK;
}

static int
docker_start(void *state, const orch_task *t, char handle[ORCH_HANDLE_LEN],
    char *err, size_t errlen)
{
	struct docker *d = state;
	enum create_outcome outcome = CREATED;
	char name[ORCH_ID_LEN + 8], id[ORCH_HANDLE_LEN] = "";
	char *body = NULL;
	bool pulled = false, answered;
	int rc = ORCH_EINVAL;

	if (t == NULL || t->id == NULL || !orch_id_valid(t->id) ||
	    t->spec == NULL || t->spec->image == NULL ||
	    t->spec->image[0] == '\0' ||
	    strlen(t->spec->image) > ORCH_IMAGE_MAX ||
	    t->spec->memory_mb > INT64_MAX / (1024 * 1024) ||
	    !(t->spec->cpu <= ORCH_CPU_MAX)) {
		orch_docker_errf(err, errlen,
		    "docker: start: the task has no "
		    "valid id, image or limits");
		goto out;
	}
	snprintf(name, sizeof(name), "orch-%s", t->id);
	if ((body = create_body(d, t, err, errlen)) == NULL) {
		rc = ORCH_EINVAL;
		goto out;
	}
	/* Bounded: at most one pull, and a container that vanishes between
	 * a 409 and our inspect gets one more create. */
	for (int attempt = 0; attempt < 4; attempt++) {
		rc = container_create(d, name, body, &outcome, id, err, errlen);
		if (rc != ORCH_OK)
			goto out;
		if (outcome == CREATED)
			break;
		if (outcome == NO_IMAGE) {
			if (pulled) {
				orch_docker_errf(err, errlen,
				    "image \"%s\" is "
				    "still missing after a successful pull",
				    t->spec->image);
				rc = ORCH_ENOENT;
				goto out;
			}
			if ((rc = image_pull(d, t->spec->image, err, errlen)) !=
			    ORCH_OK)
				goto out;
			pulled = true;
			continue;
		}
		rc = container_adopt(d, name, t->id, handle, err, errlen);
		if (rc != ORCH_ENOENT)
			goto out;
	}
	if (outcome != CREATED) {
		orch_docker_errf(err, errlen,
		    "task %s: container %s keeps "
		    "appearing and vanishing",
		    t->id, name);
		rc = ORCH_ECONFLICT;
		goto out;
	}
	rc = container_start(d, id, &answered, err, errlen);
	if (rc != ORCH_OK) {
		/* The daemon refused it (a bad command, say): leave nothing
		 * behind.  When the daemon did not answer, the container is
		 * kept so that a retried start adopts it. */
		if (answered)
			container_discard(d, id);
		goto out;
	}
	orch_docker_str_copy(handle, ORCH_HANDLE_LEN, id);
	orch_debug("docker", "task %s runs in container %.12s", t->id, id);
out:
	free(body);
	return rc;
}

/* ---- stop and remove ---- */

static int
docker_stop(void *state, const char *handle, char *err, size_t errlen)
{
	struct docker *d = state;
	struct orch_docker_answer ans = {0};
	char path[ORCH_HANDLE_LEN + 48];
	int rc;

	if (!orch_docker_handle_valid(handle)) {
		orch_docker_errf(err, errlen,
		    "docker: stop: invalid container "
		    "handle");
		return ORCH_EINVAL;
	}
	snprintf(path, sizeof(path), "/containers/%s/stop?t=%d", handle,
	    d->stop_timeout_s);
	/* The daemon answers only after the grace period and the kill. */
	rc = docker_call(d, "POST", path, NULL,
	    (long)d->stop_timeout_s + DOCKER_CALL_TIMEOUT, &ans, err, errlen);
	if (rc != ORCH_OK)
		goto out;
	if (ans.status != 204 && ans.status != 304 && ans.status != 404 &&
	    ans.status != 200)
		rc = answer_fail(d, "POST", path, &ans, err, errlen);
out:
	orch_docker_answer_free(&ans);
	return rc;
}

static int
docker_remove(void *state, const char *handle, char *err, size_t errlen)
{
	struct docker *d = state;
	struct orch_docker_answer ans = {0};
	char path[ORCH_HANDLE_LEN + 48];
	char msg[512];
	int rc;

	if (!orch_docker_handle_valid(handle)) {
		orch_docker_errf(err, errlen,
		    "docker: remove: invalid container "
		    "handle");
		return ORCH_EINVAL;
	}
	snprintf(
	    path, sizeof(path), "/containers/%s?force=true&v=true", handle);
	rc = docker_call(
	    d, "DELETE", path, NULL, DOCKER_CALL_TIMEOUT, &ans, err, errlen);
	if (rc != ORCH_OK)
		goto out;
	if (ans.status == 204 || ans.status == 200 || ans.status == 404)
		goto out;
	/* A removal already under way will finish without us. */
	orch_docker_answer_message(&ans, msg, sizeof(msg));
	if (ans.status == 409 && strstr(msg, "already in progress") != NULL)
		goto out;
	rc = answer_fail(d, "DELETE", path, &ans, err, errlen);
out:
	orch_docker_answer_free(&ans);
	return rc;
}

/* ---- list ---- */

static int
docker_list(void *state, struct orch_instance **out, size_t *n, char *err,
    size_t errlen)
{
	struct docker *d = state;
	struct orch_docker_answer ans = {0};
	struct orch_docker_listed *listed = NULL;
	struct orch_instance *arr = NULL;
	json_t *f = NULL;
	char *label = NULL, *fjs = NULL, *esc = NULL, *path = NULL;
	char what[256];
	size_t len, i, nl = 0, cnt = 0;
	int rc = ORCH_ENOMEM;

	len = strlen("orch.node=") + strlen(d->node) + 1;
	if ((label = malloc(len)) == NULL)
		goto nomem;
	snprintf(label, len, "orch.node=%s", d->node);
	if ((f = json_pack("{s:[s]}", "label", label)) == NULL ||
	    (fjs = json_dumps(f, JSON_COMPACT)) == NULL ||
	    (esc = url_escape(fjs)) == NULL)
		goto nomem;
	len = strlen(esc) + 64;
	if ((path = malloc(len)) == NULL)
		goto nomem;
	snprintf(path, len, "/containers/json?all=true&filters=%s", esc);

	rc = docker_call(
	    d, "GET", path, NULL, DOCKER_CALL_TIMEOUT, &ans, err, errlen);
	if (rc != ORCH_OK)
		goto out;
	if (ans.status != 200) {
		rc = answer_fail(d, "GET", path, &ans, err, errlen);
		goto out;
	}
	rc = orch_docker_list_parse(
	    ans.body, ans.len, d->node, &listed, &nl, what, sizeof(what));
	if (rc == ORCH_ENOMEM)
		goto nomem;
	if (rc != ORCH_OK) {
		rc = answer_bad(d, "GET", path, what, err, errlen);
		goto out;
	}
	if (nl > 0 && (arr = calloc(nl, sizeof(*arr))) == NULL) {
		rc = ORCH_ENOMEM;
		goto nomem;
	}
	for (i = 0; i < nl; i++) {
		struct orch_instance *inst = &arr[cnt];

		if (listed[i].ended) {
			rc = container_inspect(
			    d, listed[i].handle, inst, NULL, err, errlen);
			if (rc == ORCH_ENOENT)
				continue; /* removed meanwhile */
			if (rc != ORCH_OK)
				goto out;
		} else {
			memset(inst, 0, sizeof(*inst));
			orch_docker_str_copy(inst->handle, sizeof(inst->handle),
			    listed[i].handle);
			inst->running = listed[i].running;
		}
		if (listed[i].task_id[0] != '\0')
			orch_docker_str_copy(inst->task_id,
			    sizeof(inst->task_id), listed[i].task_id);
		cnt++;
	}
	*out = arr;
	*n = cnt;
	arr = NULL;
	rc = ORCH_OK;
	goto out;
nomem:
	orch_docker_errf(err, errlen, "docker: list: out of memory");
out:
	free(arr);
	free(listed);
	orch_docker_answer_free(&ans);
	free(path);
	free(esc);
	free(fjs);
	json_decref(f);
	free(label);
	return rc;
}

/* ---- logs ---- */

/* The most a container's output without follow may take to arrive. */
#define DOCKER_LOGS_TIMEOUT 600

/* A logs call in progress: the demultiplexer between the daemon's bytes
 * and the agent's function. */
struct dlogs {
	struct orch_log_demux dm;
	orch_driver_log_fn fn;
	void *arg;
	bool bad; /* a frame header was not one */
	char why[200];
};

static int
dlogs_emit(void *arg, int stream, const char *data, size_t len)
{
	struct dlogs *x = arg;

	/* Docker never sends stdin in logs; nothing to show of it. */
	if (stream != ORCH_LOG_STDOUT && stream != ORCH_LOG_STDERR)
		return 0;
	return x->fn(x->arg, stream, data, len);
}

static int
dlogs_bytes(void *arg, const char *data, size_t len)
{
	struct dlogs *x = arg;

	if (len == 0)
		return x->fn(x->arg, ORCH_LOG_STDOUT, NULL, 0);
	if (orch_log_demux_feed(&x->dm, data, len, dlogs_emit, x, x->why,
	        sizeof(x->why)) != 0) {
		/* A stop by fn, or a bad header: either ends the call. */
		x->bad = x->dm.failed != 0;
		return 1;
	}
	return 0;
}

static int
docker_logs(void *state, const char *handle, const struct orch_log_opts *o,
    orch_driver_log_fn fn, void *arg, char *err, size_t errlen)
{
	struct docker *d = state;
	struct orch_docker_answer ans = {0};
	struct dlogs x = {.fn = fn, .arg = arg};
	char path[ORCH_HANDLE_LEN + 128], tail[24], name[320];
	int rc, stopped = 0;

	if (!orch_docker_handle_valid(handle)) {
		orch_docker_errf(err, errlen,
		    "docker: logs: invalid container "
		    "handle");
		return ORCH_EINVAL;
	}
	orch_log_demux_init(&x.dm);
	if (o->tail >= 0)
		snprintf(tail, sizeof(tail), "%lld", (long long)o->tail);
	else
		snprintf(tail, sizeof(tail), "all");
	snprintf(path, sizeof(path),
	    "/containers/%s/logs?stdout=%d&stderr=%d&follow=%d&tail=%s", handle,
	    o->out ? 1 : 0, o->err ? 1 : 0, o->follow ? 1 : 0, tail);
	/* A followed stream lasts as long as the container runs. */
	rc = orch_docker_client_stream_ticks(d->client, "GET", path,
	    o->follow ? 0 : DOCKER_LOGS_TIMEOUT, dlogs_bytes, &x, &ans,
	    &stopped, err, errlen);
	if (rc != ORCH_OK)
		goto out;
	orch_docker_client_call_name(
	    d->client, "GET", path, name, sizeof(name));
	if (x.bad) {
		orch_docker_errf(err, errlen, "%s: %s", name, x.why);
		rc = ORCH_EPROTO;
	} else if (stopped) {
		rc = ORCH_ECLOSED;
	} else if (ans.status != 200) {
		rc = answer_fail(d, "GET", path, &ans, err, errlen);
		/* "Dead or marked for removal": as good as gone. */
		if (rc == ORCH_ECONFLICT)
			rc = ORCH_ENOENT;
	} else if (!orch_log_demux_at_boundary(&x.dm)) {
		orch_docker_errf(err, errlen,
		    "%s: the output ended in the middle of a frame", name);
		rc = ORCH_EPROTO;
	}
out:
	orch_docker_answer_free(&ans);
	return rc;
}

/* ---- health checks ---- */

/* How much of an exec check's output is kept: its first line is all a
 * message shows. */
#define CHECK_OUTPUT_MAX 4096

/* An exec check's output as it streams: the start kept, the rest read
 * and dropped (the command must not block on a full pipe). */
struct check_output {
	char buf[CHECK_OUTPUT_MAX];
	size_t len;
};

static int
check_output_chunk(void *arg, const char *data, size_t len)
{
	struct check_output *o = arg;
	size_t n = sizeof(o->buf) - o->len;

	if (n > len)
		n = len;
	memcpy(o->buf + o->len, data, n);
	o->len += n;
	return 0;
}

/* The body of POST /containers/{id}/exec for argv.  Returns a malloc'd
 * JSON text, or NULL when an argument is not UTF-8 or memory runs out. */
static char *
exec_create_body(char *const *argv, size_t argc)
{
	json_t *b = json_pack("{s:b, s:b, s:b, s:o}", "AttachStdout", 1,
	    "AttachStderr", 1, "Tty", 0, "Cmd", string_array(argv, argc));
	char *text = b != NULL ? json_dumps(b, JSON_COMPACT) : NULL;

	json_decref(b);
	return text;
}

/* Registers c with d (so that check_cancel fires it), unless checks are
 * off.  Returns ORCH_OK or ORCH_ECLOSED. */
static int
check_call_begin(struct docker *d, struct check_call *c)
{
	int rc = ORCH_OK;

	pthread_mutex_lock(&d->check_mu);
	if (d->checks_off) {
		rc = ORCH_ECLOSED;
	} else {
		c->next = d->calls;
		d->calls = c;
	}
	pthread_mutex_unlock(&d->check_mu);
	return rc;
}

static void
check_call_end(struct docker *d, struct check_call *c)
{
	pthread_mutex_lock(&d->check_mu);
	for (struct check_call **p = &d->calls; *p != NULL; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			break;
		}
	}
	pthread_mutex_unlock(&d->check_mu);
}

/* The error of a health check's call that the daemon did not answer
 * (rc, and no status in ans): it is away, or went away during the call,
 * which says nothing of the task: ORCH_EUNAVAIL, which the checker does
 * not count (driver.h), and a probe of the daemon now.  Any other rc as
 * it is. */
static int
check_unanswered(struct docker *d, int rc, const struct orch_docker_answer *ans)
{
	if (rc == ORCH_OK || ans->status != 0 ||
	    (rc != ORCH_EUNAVAIL && rc != ORCH_EIO && rc != ORCH_ETIMEDOUT &&
	        rc != ORCH_EPROTO))
		return rc;
	docker_probe_soon(d);
	return ORCH_EUNAVAIL;
}

/* POST /exec/{id}/start, attached: answers while the command runs with
 * its output, and ends when it does (or at timeout_s, or when cancelled).
 * Keeps the start of the output in out. */
static int
exec_run(struct docker *d, const char *exec_id, int timeout_s,
    struct check_output *out, char *err, size_t errlen)
{
	struct orch_docker_answer ans = {0};
	struct check_call call;
	char path[ORCH_HANDLE_LEN + 32];
	int rc;

	if ((rc = orch_docker_cancel_init(&call.cancel)) != ORCH_OK) {
		orch_docker_errf(
		    err, errlen, "docker: exec: %s", orch_strerror(rc));
		return rc;
	}
	if ((rc = check_call_begin(d, &call)) != ORCH_OK) {
		orch_docker_errf(err, errlen, "the agent is stopping");
		goto out;
	}
	snprintf(path, sizeof(path), "/exec/%s/start", exec_id);
	rc = orch_docker_client_stream_raw(d->client, "POST", path,
	    "{\"Detach\":false,\"Tty\":false}", timeout_s, &call.cancel,
	    check_output_chunk, out, &ans, err, errlen);
	check_call_end(d, &call);
	if (rc == ORCH_ETIMEDOUT)
		/* The Engine API has no way to stop an exec's process. */
		orch_docker_errf(err, errlen,
		    "timed out after %d s (its process is left to end by "
		    "itself in the container)",
		    timeout_s);
	else if (rc != ORCH_OK)
		rc = check_unanswered(d, rc, &ans);
	else if (ans.status != 200)
		rc = answer_fail(d, "POST", path, &ans, err, errlen);
out:
	orch_docker_answer_free(&ans);
	orch_docker_cancel_fini(&call.cancel);
	return rc;
}

static int
docker_check_exec(void *state, const char *handle, const orch_task *t,
    char *const *argv, size_t argc, int timeout_s, int *exit_code, char *out,
    size_t outlen, char *err, size_t errlen)
{
	struct docker *d = state;
	struct orch_docker_answer ans = {0};
	struct check_output *o = NULL;
	char path[ORCH_HANDLE_LEN + 32], id[ORCH_HANDLE_LEN], what[256];
	char *body = NULL;
	bool running;
	int rc = ORCH_ENOMEM;

	(void)t;
	out[0] = '\0';
	if (!orch_docker_handle_valid(handle)) {
		orch_docker_errf(err, errlen, "docker: exec: invalid handle");
		return ORCH_EINVAL;
	}
	if ((body = exec_create_body(argv, argc)) == NULL ||
	    (o = calloc(1, sizeof(*o))) == NULL) {
		orch_docker_errf(err, errlen,
		    "docker: exec: out of memory, or a command that is not "
		    "UTF-8 text");
		goto out;
	}
	snprintf(path, sizeof(path), "/containers/%s/exec", handle);
	rc = docker_call(d, "POST", path, body, timeout_s, &ans, err, errlen);
	if ((rc = check_unanswered(d, rc, &ans)) != ORCH_OK)
		goto out;
	/* 409: the container is not running (any more). */
	if ((rc = answer_created(d, path, &ans, id, err, errlen)) != ORCH_OK)
		goto out;
	orch_docker_answer_free(&ans);
	if ((rc = exec_run(d, id, timeout_s, o, err, errlen)) != ORCH_OK)
		goto out;
	snprintf(path, sizeof(path), "/exec/%s/json", id);
	rc = docker_get(d, path, &ans, err, errlen);
	if ((rc = check_unanswered(d, rc, &ans)) != ORCH_OK)
		goto out;
	if (orch_docker_exec_inspect_parse(ans.body, ans.len, &running,
	        exit_code, what, sizeof(what)) != ORCH_OK) {
		rc = answer_bad(d, "GET", path, what, err, errlen);
		goto out;
	}
	if (running) {
		/* Its output ended (it closed it) before it did. */
		orch_docker_errf(err, errlen,
		    "still running when its output ended after it was started");
		rc = ORCH_ETIMEDOUT;
		goto out;
	}
	orch_docker_exec_output(o->buf, o->len, out, outlen);
	rc = ORCH_OK;
out:
	orch_docker_answer_free(&ans);
	free(o);
	free(body);
	return rc;
}

static int
docker_check_addr(void *state, const char *handle, const orch_task *t,
    unsigned port, char host[ORCH_CHECK_HOST_LEN], unsigned *host_port,
    char *err, size_t errlen)
{
	struct docker *d = state;
	struct orch_docker_answer ans = {0};
	char path[ORCH_HANDLE_LEN + 32], what[512];
	int rc;

	(void)t;
	if (!orch_docker_handle_valid(handle)) {
		orch_docker_errf(err, errlen, "docker: invalid handle");
		return ORCH_EINVAL;
	}
	snprintf(path, sizeof(path), "/containers/%s/json", handle);
	rc = docker_get(d, path, &ans, err, errlen);
	if ((rc = check_unanswered(d, rc, &ans)) != ORCH_OK)
		goto out;
	rc = orch_docker_port_parse(
	    ans.body, ans.len, port, host, host_port, what, sizeof(what));
	if (rc == ORCH_ENOENT)
		orch_docker_errf(err, errlen, "%s", what);
	else if (rc != ORCH_OK)
		rc = answer_bad(d, "GET", path, what, err, errlen);
out:
	orch_docker_answer_free(&ans);
	return rc;
}

static void
docker_check_cancel(void *state)
{
	struct docker *d = state;

	pthread_mutex_lock(&d->check_mu);
	d->checks_off = true;
	for (struct check_call *c = d->calls; c != NULL; c = c->next)
		orch_docker_cancel_fire(&c->cancel);
	pthread_mutex_unlock(&d->check_mu);
}

const struct orch_driver_ops orch_docker_driver = {
    .name = "docker",
    .init = docker_init,
    .fini = docker_fini,
    .capacity = docker_capacity,
    .start = docker_start,
    .stop = docker_stop,
    .remove = docker_remove,
    .inspect = docker_inspect,
    .list = docker_list,
    .logs = docker_logs,
    .healthy = docker_healthy,
    .check_exec = docker_check_exec,
    .check_addr = docker_check_addr,
    .check_cancel = docker_check_cancel,
};
