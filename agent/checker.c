/*
 * checker.c: the agent's health checker (see checker.h).
 *
 * The entries (one per checked instance) sit in a list under one mutex.
 * A thread takes the entry that is due first, marks it running, checks
 * it without the lock, and puts the result through the state machine.
 * Sync never frees an entry a thread holds: it marks it gone, and the
 * thread frees it when its check ends.
 */
#include "checker.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "error.h"
#include "health.h"
#include "log.h"
#include "reconcile.h"

/* A probe waits in slices this long, to notice a stop. */
#define CHECK_SLICE_MS 100
/* The longest text of one check's outcome. */
#define CHECK_TEXT_LEN 400

struct entry {
	struct entry *next;
	char task_id[ORCH_ID_LEN];
	char handle[ORCH_HANDLE_LEN];
	orch_task *task; /* a copy: the check, and the env of an exec task */
	const struct orch_driver_ops *drv;
	void *drv_state;
	int64_t started_at_ms;
	int64_t due_ms; /* monotonic */
	bool running;   /* a thread checks it now */
	bool gone;      /* dropped while running: the thread frees it */
	bool synced;    /* listed by the sync in progress */
	struct orch_health_state st;
	char last[CHECK_TEXT_LEN]; /* the last failure */
};

struct orch_checker {
	orch_checker_change_fn fn;
	void *fn_arg;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* CLOCK_MONOTONIC */
	struct entry *entries;
	bool stopping;
	pthread_t threads[ORCH_CHECKER_THREADS];
	int n_threads;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_once_rc = CURLE_FAILED_INIT;

static void
curl_init_once(void)
{
	curl_once_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static bool
checker_stopping(struct orch_checker *c)
{
	bool s;

	pthread_mutex_lock(&c->mu);
	s = c->stopping;
	pthread_mutex_unlock(&c->mu);
	return s;
}

static void
entry_free(struct entry *e)
{
	if (e == NULL)
		return;
	orch_task_free(e->task);
	free(e);
}

/* ---- probes ---- */

/* The socket address of a loopback host ("127.0.0.1", "::1") and port. */
static bool
addr_make(const char *host, unsigned port, struct sockaddr_storage *ss,
    socklen_t *len)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		*len = sizeof(*v4);
		return true;
	}
	if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*v6);
		return true;
	}
	return false;
}

/* Connects to host:port within timeout_s.  Returns ORCH_OK, or an error
 * with text saying what went wrong. */
static int
tcp_probe(struct orch_checker *c, const char *host, unsigned port,
    int timeout_s, char *text, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t slen;
	int64_t deadline = orch_mono_ms() + (int64_t)timeout_s * 1000;
	int fd, soerr = 0, rc = ORCH_EIO;
	socklen_t elen = sizeof(soerr);

	if (!addr_make(host, port, &ss, &slen)) {
		snprintf(text, len, "bad address %s", host);
		return ORCH_EINVAL;
	}
	if ((fd = socket(ss.ss_family,
	         SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
		snprintf(
		    text, len, "cannot make a socket: %s", strerror(errno));
		return orch_err_from_errno(errno);
	}
	if (connect(fd, (struct sockaddr *)&ss, slen) == 0)
		goto ok;
	if (errno != EINPROGRESS) {
		soerr = errno;
		goto refused;
	}
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		int64_t left = deadline - orch_mono_ms();

		if (checker_stopping(c)) {
			snprintf(text, len, "the agent is stopping");
			rc = ORCH_ECLOSED;
			goto out;
		}
		if (left <= 0) {
			snprintf(text, len,
			    "no connection to %s:%u within %d s", host, port,
			    timeout_s);
			rc = ORCH_ETIMEDOUT;
			goto out;
		}
		if (poll(&p, 1,
		        (int)(left < CHECK_SLICE_MS ? left : CHECK_SLICE_MS)) >
		    0)
			break;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &elen) != 0)
		soerr = errno;
	if (soerr == 0)
		goto ok;
refused:
	snprintf(text, len, "cannot connect to %s:%u: %s", host, port,
	    strerror(soerr));
	goto out;
ok:
	rc = ORCH_OK;
out:
	close(fd);
	return rc;
}

static size_t
http_discard(char *data, size_t size, size_t nmemb, void *arg)
{
	(void)data;
	(void)arg;
	return size * nmemb;
}

/* Ends a transfer at once when the agent stops. */
static int
http_progress(
    void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	return checker_stopping(arg) ? 1 : 0;
}

/* GET http://host:port/path within timeout_s: 2xx or 3xx pass.  Returns
 * ORCH_OK, or an error with text saying what it got instead ("503"). */
static int
http_probe(struct orch_checker *c, const char *host, unsigned port,
    const char *path, int timeout_s, char *text, size_t len)
{
	char url[ORCH_HEALTH_PATH_MAX + 64], errbuf[CURL_ERROR_SIZE] = "";
	long status = 0, oserr = 0;
	CURLcode cc;
	CURL *h;
	int rc = ORCH_EIO;

	pthread_once(&curl_once, curl_init_once);
	if (curl_once_rc != CURLE_OK || (h = curl_easy_init()) == NULL) {
		snprintf(text, len, "cannot start an HTTP client");
		return ORCH_ENOMEM;
	}
	snprintf(url, sizeof(url),
	    strchr(host, ':') != NULL ? "http://[%s]:%u%s" : "http://%s:%u%s",
	    host, port, path);
	/* The address is a loopback one the checker chose: no proxy from
	 * the environment may take the request elsewhere, and a redirect
	 * is an answer (3xx passes), not somewhere to go. */
	if ((cc = curl_easy_setopt(h, CURLOPT_URL, url)) != CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_NOPROXY, "*")) != CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L)) !=
	        CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L)) != CURLE_OK ||
	    (cc = curl_easy_setopt(
	         h, CURLOPT_TIMEOUT_MS, (long)timeout_s * 1000)) != CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_USERAGENT,
	         "orch-agent/" ORCH_VERSION " health check")) != CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf)) !=
	        CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, http_discard)) !=
	        CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L)) != CURLE_OK ||
	    (cc = curl_easy_setopt(
	         h, CURLOPT_XFERINFOFUNCTION, http_progress)) != CURLE_OK ||
	    (cc = curl_easy_setopt(h, CURLOPT_XFERINFODATA, c)) != CURLE_OK) {
		snprintf(text, len, "%s", curl_easy_strerror(cc));
		goto out;
	}
	cc = curl_easy_perform(h);
	if (cc == CURLE_ABORTED_BY_CALLBACK) {
		snprintf(text, len, "the agent is stopping");
		rc = ORCH_ECLOSED;
		goto out;
	}
	if (cc == CURLE_OPERATION_TIMEDOUT) {
		snprintf(text, len, "no answer from %s:%u within %d s", host,
		    port, timeout_s);
		rc = ORCH_ETIMEDOUT;
		goto out;
	}
	if (cc == CURLE_COULDNT_CONNECT &&
	    curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &oserr) == CURLE_OK &&
	    oserr != 0) {
		snprintf(text, len, "cannot connect to %s:%u: %s", host, port,
		    strerror((int)oserr));
		goto out;
	}
	if (cc != CURLE_OK) {
		snprintf(text, len, "%s:%u: %s", host, port,
		    errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	snprintf(text, len, "%ld", status);
	rc = status >= 200 && status < 400 ? ORCH_OK : ORCH_EIO;
out:
	curl_easy_cleanup(h);
	return rc;
}

/* Runs e's check once.  Returns ORCH_OK when it passed; ORCH_ECLOSED
 * when the agent stopped it (no result); otherwise text (len bytes) says
 * how it failed, after what it checked: "http GET :8080/ -> 503". */
static int
check_run(struct orch_checker *c, struct entry *e, char *text, size_t len)
{
	const orch_health_check *h = e->task->spec->health;
	const char *type = h->type != NULL ? h->type : "";
	char what[256], detail[CHECK_TEXT_LEN], out[200];
	char host[ORCH_CHECK_HOST_LEN] = "";
	unsigned hp = 0;
	int code = 0, rc;

	orch_health_check_text(h, what, sizeof(what));
	detail[0] = '\0';
	if (strcmp(type, ORCH_HEALTH_EXEC) == 0) {
		if (e->drv->check_exec == NULL) {
			rc = ORCH_EINVAL;
			snprintf(detail, sizeof(detail),
			    "the %s driver cannot run commands", e->drv->name);
		} else if ((rc = e->drv->check_exec(e->drv_state, e->handle,
		                e->task, h->command, h->n_command,
		                (int)h->timeout_s, &code, out, sizeof(out),
		                detail, sizeof(detail))) == ORCH_OK &&
		    code != 0) {
			rc = ORCH_EIO;
			snprintf(detail, sizeof(detail), "exit code %d%s%s",
			    code, out[0] != '\0' ? ": " : "", out);
		}
	} else if (e->drv->check_addr == NULL) {
		rc = ORCH_EINVAL;
		snprintf(detail, sizeof(detail),
		    "the %s driver cannot say where a port is", e->drv->name);
	} else if ((rc = e->drv->check_addr(e->drv_state, e->handle, e->task,
	                h->port, host, &hp, detail, sizeof(detail))) !=
	    ORCH_OK) {
		/* detail says why: a port that is not published. */
	} else if (strcmp(type, ORCH_HEALTH_HTTP) == 0) {
		rc = http_probe(c, host, hp, orch_health_check_path(h),
		    (int)h->timeout_s, detail, sizeof(detail));
	} else {
		rc = tcp_probe(
		    c, host, hp, (int)h->timeout_s, detail, sizeof(detail));
	}
	snprintf(text, len, "%s -> %s", what, rc == ORCH_OK ? "ok" : detail);
	return rc;
}

/* Whether e's driver finds its runtime answering (a driver without the
 * healthy operation always does); when not, why (OUT) says why.  It
 * does not wait: it reads what the driver last saw. */
static bool
runtime_up(const struct entry *e, char *why, size_t len)
{
	why[0] = '\0';
	return e->drv->healthy == NULL ||
	    e->drv->healthy(e->drv_state, why, len);
}

/* Runs e's check unless its driver's runtime is away (the Docker daemon
 * stopped).  A check that cannot reach the container says nothing of
 * the task, so there is no result, ORCH_EUNAVAIL, then, or when the
 * check failed because the runtime did not answer (the driver's
 * ORCH_EUNAVAIL) or the driver finds it away once the check failed.
 * Otherwise as check_run(). */
static int
check_once(struct orch_checker *c, struct entry *e, char *text, size_t len)
{
	char why[CHECK_TEXT_LEN];
	int rc;

	if (!runtime_up(e, why, sizeof(why))) {
		snprintf(text, len, "not run: the %s driver is unhealthy: %s",
		    e->drv->name, why);
		return ORCH_EUNAVAIL;
	}
	rc = check_run(c, e, text, len);
	if (rc == ORCH_OK || rc == ORCH_ECLOSED)
		return rc;
	if (rc != ORCH_EUNAVAIL && runtime_up(e, why, sizeof(why)))
		return rc;
	return ORCH_EUNAVAIL;
}

/* ---- the threads ---- */

/* The entry due first that no thread holds, or NULL. */
static struct entry *
next_due(struct orch_checker *c)
{
	struct entry *best = NULL;

	for (struct entry *e = c->entries; e != NULL; e = e->next) {
		if (!e->running && !e->gone &&
		    (best == NULL || e->due_ms < best->due_ms))
			best = e;
	}
	return best;
}

static void
entry_unlink(struct orch_checker *c, struct entry *e)
{
	for (struct entry **p = &c->entries; *p != NULL; p = &(*p)->next) {
		if (*p == e) {
			*p = e->next;
			return;
		}
	}
}

/* Records the outcome of one check of e (under mu).  Returns whether
 * its health changed. */
static bool
check_done(struct entry *e, int rc, const char *text)
{
	const orch_health_check *h = e->task->spec->health;
	bool passed = rc == ORCH_OK, changed;

	changed = orch_health_step(
	    &e->st, h, passed, orch_now_ms(), e->started_at_ms);
	if (!passed)
		snprintf(e->last, sizeof(e->last), "%s", text);
	orch_debug("checker", "task %s: %s (%s, %u in a row)", e->task_id, text,
	    orch_health_status_name(e->st.status), (unsigned)e->st.failures);
	if (changed)
		orch_log_kv(ORCH_LOG_INFO, "checker",
		    ORCH_LOG_FIELDS({"task", e->task_id},
		        {"health", orch_health_status_name(e->st.status)}),
		    "task %s: %s: %s", e->task_id,
		    orch_health_status_name(e->st.status), text);
	e->due_ms = orch_mono_ms() + (int64_t)h->interval_s * 1000;
	return changed;
}

static void *
checker_main(void *arg)
{
	struct orch_checker *c = arg;
	struct entry *e;
	struct timespec ts;
	char text[CHECK_TEXT_LEN], id[ORCH_ID_LEN];
	int64_t now;
	int health, rc;
	bool changed;

	pthread_mutex_lock(&c->mu);
	while (!c->stopping) {
		if ((e = next_due(c)) == NULL) {
			pthread_cond_wait(&c->cv, &c->mu);
			continue;
		}
		if ((now = orch_mono_ms()) < e->due_ms) {
			ts.tv_sec = (time_t)(e->due_ms / 1000);
			ts.tv_nsec = (long)(e->due_ms % 1000) * 1000000L;
			pthread_cond_timedwait(&c->cv, &c->mu, &ts);
			continue;
		}
		e->running = true;
		pthread_mutex_unlock(&c->mu);
		rc = check_once(c, e, text, sizeof(text));
		pthread_mutex_lock(&c->mu);
		e->running = false;
		if (e->gone) {
			entry_free(e);
			continue;
		}
		if (rc == ORCH_ECLOSED)
			continue;
		if (rc == ORCH_EUNAVAIL) {
			/* Its health stays as it was; the check runs again
			 * an interval on, and counts once the runtime is
			 * back. */
			orch_debug("checker", "task %s: not counted: %s",
			    e->task_id, text);
			e->due_ms = orch_mono_ms() +
			    (int64_t)e->task->spec->health->interval_s * 1000;
			continue;
		}
		changed = check_done(e, rc, text);
		if (!changed)
			continue;
		memcpy(id, e->task_id, sizeof(id));
		health = e->st.status;
		pthread_mutex_unlock(&c->mu);
		c->fn(c->fn_arg, id, health);
		pthread_mutex_lock(&c->mu);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* ---- the interface ---- */

int
orch_checker_new(
    orch_checker_change_fn fn, void *arg, struct orch_checker **out)
{
	struct orch_checker *c;
	pthread_condattr_t ca;
	int rv;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return ORCH_ENOMEM;
	c->fn = fn;
	c->fn_arg = arg;
	if ((rv = pthread_condattr_init(&ca)) != 0) {
		free(c);
		return orch_err_from_errno(rv);
	}
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	rv = pthread_cond_init(&c->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (rv != 0) {
		free(c);
		return orch_err_from_errno(rv);
	}
	if ((rv = pthread_mutex_init(&c->mu, NULL)) != 0) {
		pthread_cond_destroy(&c->cv);
		free(c);
		return orch_err_from_errno(rv);
	}
	*out = c;
	return ORCH_OK;
}

int
orch_checker_start(struct orch_checker *c)
{
	int rv;

	for (int i = 0; i < ORCH_CHECKER_THREADS; i++) {
		if ((rv = pthread_create(
		         &c->threads[i], NULL, checker_main, c)) != 0) {
			orch_checker_stop(c);
			return orch_err_from_errno(rv);
		}
		c->n_threads++;
	}
	return ORCH_OK;
}

void
orch_checker_stop(struct orch_checker *c)
{
	pthread_mutex_lock(&c->mu);
	c->stopping = true;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	for (int i = 0; i < c->n_threads; i++)
		pthread_join(c->threads[i], NULL);
	c->n_threads = 0;
}

void
orch_checker_free(struct orch_checker *c)
{
	struct entry *e;

	if (c == NULL)
		return;
	while ((e = c->entries) != NULL) {
		c->entries = e->next;
		entry_free(e);
	}
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

static struct entry *
entry_find(struct orch_checker *c, const char *task_id)
{
	for (struct entry *e = c->entries; e != NULL; e = e->next) {
		if (!e->gone && strcmp(e->task_id, task_id) == 0)
			return e;
	}
	return NULL;
}

/* A new entry for x, due interval_s from now.  NULL when out of
 * memory. */
static struct entry *
entry_new(const struct orch_checker_task *x)
{
	struct entry *e = calloc(1, sizeof(*e));

	if (e == NULL || (e->task = orch_task_copy(x->task)) == NULL) {
		free(e);
		return NULL;
	}
	snprintf(e->task_id, sizeof(e->task_id), "%s", x->task->id);
	snprintf(e->handle, sizeof(e->handle), "%s", x->handle);
	e->drv = x->drv;
	e->drv_state = x->drv_state;
	/* An instance whose start is unknown is taken to start now: its
	 * start period is not cut short. */
	e->started_at_ms =
	    x->started_at_ms > 0 ? x->started_at_ms : orch_now_ms();
	e->due_ms =
	    orch_mono_ms() + (int64_t)e->task->spec->health->interval_s * 1000;
	orch_health_state_init(&e->st);
	return e;
}

/* Drops e: freed now, or by its thread when its check ends. */
static void
entry_drop(struct orch_checker *c, struct entry *e)
{
	entry_unlink(c, e);
	if (e->running)
		e->gone = true;
	else
		entry_free(e);
}

int
orch_checker_sync(
    struct orch_checker *c, const struct orch_checker_task *list, size_t n)
{
	struct entry *e, *next;
	int rc = ORCH_OK;
	bool added = false;

	pthread_mutex_lock(&c->mu);
	for (e = c->entries; e != NULL; e = e->next)
		e->synced = false;
	for (size_t i = 0; i < n; i++) {
		const struct orch_checker_task *x = &list[i];

		if (x->task == NULL || x->task->id == NULL ||
		    x->task->spec == NULL || x->task->spec->health == NULL ||
		    x->handle == NULL || x->drv == NULL)
			continue;
		e = entry_find(c, x->task->id);
		if (e != NULL && strcmp(e->handle, x->handle) != 0) {
			/* Another instance of the task: its checks start
			 * over. */
			entry_drop(c, e);
			e = NULL;
		}
		if (e == NULL) {
			if ((e = entry_new(x)) == NULL) {
				rc = ORCH_ENOMEM;
				continue;
			}
			e->next = c->entries;
			c->entries = e;
			added = true;
		}
		e->synced = true;
	}
	for (e = c->entries; e != NULL; e = next) {
		next = e->next;
		if (!e->synced)
			entry_drop(c, e);
	}
	if (added)
		pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

bool
orch_checker_health(struct orch_checker *c, const char *task_id,
    const char *handle, int *health, char *why, size_t whylen)
{
	struct entry *e;
	bool found = false;

	why[0] = '\0';
	pthread_mutex_lock(&c->mu);
	if ((e = entry_find(c, task_id)) != NULL &&
	    strcmp(e->handle, handle) == 0) {
		found = true;
		*health = e->st.status;
		if (e->st.status !=
		    ORCH__HEALTH_STATUS__HEALTH_STATUS_UNHEALTHY)
			;
		else if (e->st.failures == 1)
			snprintf(why, whylen, "health check failed once: %s",
			    e->last);
		else
			snprintf(why, whylen,
			    "health check failed %u times: %s",
			    (unsigned)e->st.failures, e->last);
	}
	pthread_mutex_unlock(&c->mu);
	return found;
}
