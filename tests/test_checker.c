/*
 * test_checker.c: the agent's health checker (agent/checker.c) with a
 * fake driver for exec checks and the port lookup, and real loopback
 * servers of this test for the http and tcp probes: healthy and
 * unhealthy tasks reported through the callback with what failed, a
 * task dropped or restarted by a sync, a stop that does not wait
 * for a check that would never end, and checks that count for nothing
 * while the driver's runtime is away.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "checker.h"
#include "clock.h"
#include "error.h"
#include "harness.h"
#include "health.h"
#include "task_fixture.h"

#define WAIT_MS 15000
#define HEALTHY ORCH__HEALTH_STATUS__HEALTH_STATUS_HEALTHY
#define UNHEALTHY ORCH__HEALTH_STATUS__HEALTH_STATUS_UNHEALTHY
#define STARTING ORCH__HEALTH_STATUS__HEALTH_STATUS_STARTING

/* ---- a fake driver ---- */

static pthread_mutex_t fake_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t fake_cv = PTHREAD_COND_INITIALIZER;
static bool fake_cancelled;
static int fake_blocked; /* checks waiting in "block" */

/* The handle says what the command does: "ok" exits 0, "fail" exits 1
 * saying "boom", "block" runs until the checks are cancelled. */
static int
fake_check_exec(void *state, const char *handle, const orch_task *t,
    char *const *argv, size_t argc, int timeout_s, int *exit_code, char *out,
    size_t outlen, char *err, size_t errlen)
{
	(void)state;
	(void)t;
	(void)argv;
	(void)argc;
	(void)timeout_s;
	out[0] = '\0';
	if (strcmp(handle, "block") == 0) {
		pthread_mutex_lock(&fake_mu);
		fake_blocked++;
		pthread_cond_broadcast(&fake_cv);
		while (!fake_cancelled)
			pthread_cond_wait(&fake_cv, &fake_mu);
		pthread_mutex_unlock(&fake_mu);
		snprintf(err, errlen, "cancelled");
		return ORCH_ECLOSED;
	}
	*exit_code = strcmp(handle, "ok") == 0 ? 0 : 1;
	if (*exit_code != 0)
		snprintf(out, outlen, "boom");
	return ORCH_OK;
}

/* "unpub" is a container whose port is not published; anything else is
 * reached at the port itself on 127.0.0.1. */
static int
fake_check_addr(void *state, const char *handle, const orch_task *t,
    unsigned port, char host[ORCH_CHECK_HOST_LEN], unsigned *host_port,
    char *err, size_t errlen)
{
	(void)state;
	(void)t;
	if (strcmp(handle, "unpub") == 0) {
		snprintf(err, errlen,
		    "port %u/tcp of the container is not published on the "
		    "host",
		    port);
		return ORCH_ENOENT;
	}
	snprintf(host, ORCH_CHECK_HOST_LEN, "127.0.0.1");
	*host_port = port;
	return ORCH_OK;
}

static void
fake_check_cancel(void *state)
{
	(void)state;
	pthread_mutex_lock(&fake_mu);
	fake_cancelled = true;
	pthread_cond_broadcast(&fake_cv);
	pthread_mutex_unlock(&fake_mu);
}

static const struct orch_driver_ops fake_driver = {
    .name = "fake",
    .check_exec = fake_check_exec,
    .check_addr = fake_check_addr,
    .check_cancel = fake_check_cancel,
};

/* A driver with a runtime that goes away (as Docker's daemon does): its
 * healthy operation says whether it answers, and its exec check does as
 * rt_mode says. */
enum rt_mode {
	RT_PASS,       /* the command exits 0 */
	RT_FAIL,       /* the command exits 1 */
	RT_UNANSWERED, /* the daemon did not answer the call */
	RT_DIES,       /* it went away during the call: its answer is a
	                * failure, and the driver then finds it away */
};

static struct {
	bool up;
	enum rt_mode mode;
	int execs; /* check_exec calls */
	int downs; /* healthy() calls that said it was away */
} rt = {.up = true};

static bool
rt_healthy(void *state, char *why, size_t len)
{
	bool up;

	(void)state;
	pthread_mutex_lock(&fake_mu);
	up = rt.up;
	rt.downs += !up;
	pthread_mutex_unlock(&fake_mu);
	snprintf(why, len, "%s", up ? "" : "cannot reach the daemon");
	return up;
}

static int
rt_check_exec(void *state, const char *handle, const orch_task *t,
    char *const *argv, size_t argc, int timeout_s, int *exit_code, char *out,
    size_t outlen, char *err, size_t errlen)
{
	enum rt_mode mode;

	(void)state;
	(void)handle;
	(void)t;
	(void)argv;
	(void)argc;
	(void)timeout_s;
	out[0] = '\0';
	pthread_mutex_lock(&fake_mu);
	rt.execs++;
	mode = rt.mode;
	if (mode == RT_DIES)
		rt.up = false;
	pthread_mutex_unlock(&fake_mu);
	if (mode == RT_UNANSWERED) {
		snprintf(err, errlen, "cannot reach the daemon");
		return ORCH_EUNAVAIL;
	}
	*exit_code = mode == RT_PASS ? 0 : 1;
	return ORCH_OK;
}

static const struct orch_driver_ops rt_driver = {
    .name = "rt",
    .healthy = rt_healthy,
    .check_exec = rt_check_exec,
};

/* ---- what the checker reported ---- */

#define MAX_HEARD 64

static pthread_mutex_t heard_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char id[ORCH_ID_LEN];
	int health;
} heard[MAX_HEARD];
static int n_heard;

static void
on_change(void *arg, const char *task_id, int health)
{
	(void)arg;
	pthread_mutex_lock(&heard_mu);
	if (n_heard < MAX_HEARD) {
		snprintf(heard[n_heard].id, ORCH_ID_LEN, "%s", task_id);
		heard[n_heard].health = health;
		n_heard++;
	}
	pthread_mutex_unlock(&heard_mu);
}

/* How many times task id was heard becoming health. */
static int
heard_count(const char *id, int health)
{
	int n = 0;

	pthread_mutex_lock(&heard_mu);
	for (int i = 0; i < n_heard; i++)
		n += strcmp(heard[i].id, id) == 0 && heard[i].health == health;
	pthread_mutex_unlock(&heard_mu);
	return n;
}

struct heard_want {
	const char *id;
	int health;
};

static bool
heard_it(void *arg)
{
	struct heard_want *w = arg;

	return heard_count(w->id, w->health) > 0;
}

static void
wait_heard(const char *id, int health)
{
	struct heard_want w = {id, health};

	if (!h_wait_until(heard_it, &w, WAIT_MS))
		h_fail(__FILE__, __LINE__, "task %s never became %s", id,
		    orch_health_status_name(health));
}

/* ---- tasks ---- */

/* A task with a check of type on port (or running an exec command),
 * interval 1 s; strings malloc'd so that orch_task_free releases it. */
static orch_task *
task_with(const char *type, unsigned port, const char *path, uint32_t retries)
{
	orch_task *t = tf_task_make("t", "img", NULL, NULL, 64, 0.5);
	orch_health_check *h = malloc(sizeof(*h));

	ASSERT(h != NULL);
	orch__health_check__init(h);
	h->type = strdup(type);
	if (strcmp(type, ORCH_HEALTH_EXEC) == 0) {
		h->command = calloc(1, sizeof(*h->command));
		ASSERT(h->command != NULL);
		h->command[0] = strdup("probe");
		h->n_command = 1;
	} else {
		h->has_port = true;
		h->port = port;
	}
	if (path != NULL)
		h->path = strdup(path);
	h->has_interval_s = true;
	h->interval_s = 1;
	h->has_timeout_s = true;
	h->timeout_s = 2;
	h->has_retries = true;
	h->retries = retries;
	t->spec->health = h;
	return t;
}

static struct orch_checker_task
entry(const orch_task *t, const char *handle)
{
	return (struct orch_checker_task){
	    .task = t,
	    .handle = handle,
	    .drv = &fake_driver,
	    .started_at_ms = orch_now_ms(),
	};
}

/* The why of an unhealthy task (static). */
static const char *
why_of(struct orch_checker *c, const orch_task *t, const char *handle)
{
	static char why[512];
	int health = 0;

	ASSERT(
	    orch_checker_health(c, t->id, handle, &health, why, sizeof(why)));
	ASSERT_INT_EQ(health, UNHEALTHY);
	return why;
}

/* ---- loopback servers ---- */

struct server {
	int fd;
	int port;
	pthread_t th;
	int stop[2];
};

/* A listening TCP socket on 127.0.0.1 (port chosen by the kernel). */
static int
listen_any(int *port)
{
	struct sockaddr_in a = {
	    .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ASSERT(fd >= 0);
	ASSERT(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	ASSERT(listen(fd, 64) == 0);
	ASSERT(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* Answers each request by its path: "/ok" 200, "/moved" 302 (to /fail,
 * which a check that followed it would find failing), anything else
 * 503. */
static void *
http_main(void *arg)
{
	struct server *s = arg;
	char buf[4096], resp[256];

	for (;;) {
		struct pollfd p[2] = {{.fd = s->fd, .events = POLLIN},
		    {.fd = s->stop[0], .events = POLLIN}};
		ssize_t n;
		int c, status;

		if (poll(p, 2, -1) <= 0 || (p[1].revents & POLLIN) != 0)
			break;
		if ((c = accept(s->fd, NULL, NULL)) < 0)
			continue;
		n = read(c, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = '\0';
		status = strncmp(buf, "GET /ok ", 8) == 0  ? 200
		    : strncmp(buf, "GET /moved ", 11) == 0 ? 302
		                                           : 503;
		n = snprintf(resp, sizeof(resp),
		    "HTTP/1.1 %d X\r\nContent-Length: 2\r\nLocation: "
		    "/fail\r\nConnection: close\r\n\r\nhi",
		    status);
		(void)h_send_all(c, resp, (size_t)n);
		close(c);
	}
	return NULL;
}

static void
server_start(struct server *s, bool http)
{
	s->fd = listen_any(&s->port);
	ASSERT(pipe(s->stop) == 0);
	if (http)
		ASSERT(pthread_create(&s->th, NULL, http_main, s) == 0);
}

static void
server_stop(struct server *s, bool http)
{
	if (http) {
		ASSERT(write(s->stop[1], "x", 1) == 1);
		pthread_join(s->th, NULL);
	}
	close(s->fd);
	close(s->stop[0]);
	close(s->stop[1]);
}

/* A loopback port with nothing listening (bound, not listening, so
 * that no one else takes it meanwhile). */
static int
closed_port(int *fd)
{
	struct sockaddr_in a = {
	    .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);

	*fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT(*fd >= 0);
	ASSERT(bind(*fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	ASSERT(getsockname(*fd, (struct sockaddr *)&a, &len) == 0);
	return ntohs(a.sin_port);
}

/* ---- tests ---- */

/* Every kind of check at once, each on its own timer: what passes is
 * healthy, what fails retries times in a row is unhealthy, with what it
 * got. */
static void
test_checks(void)
{
	struct orch_checker *c = NULL;
	struct server web, tcp;
	int closed_fd, closed = closed_port(&closed_fd);
	orch_task *exec_ok, *exec_fail, *http_ok, *http_moved, *http_503,
	    *tcp_ok, *tcp_closed, *unpub, *slow;
	struct orch_checker_task list[9];
	int health = 0;
	char why[512];

	server_start(&web, true);
	server_start(&tcp, false);
	exec_ok = task_with(ORCH_HEALTH_EXEC, 0, NULL, 3);
	exec_fail = task_with(ORCH_HEALTH_EXEC, 0, NULL, 2);
	http_ok = task_with(ORCH_HEALTH_HTTP, (unsigned)web.port, "/ok", 3);
	http_moved =
	    task_with(ORCH_HEALTH_HTTP, (unsigned)web.port, "/moved", 3);
	http_503 = task_with(ORCH_HEALTH_HTTP, (unsigned)web.port, "/", 1);
	tcp_ok = task_with(ORCH_HEALTH_TCP, (unsigned)tcp.port, NULL, 3);
	tcp_closed = task_with(ORCH_HEALTH_TCP, (unsigned)closed, NULL, 1);
	unpub = task_with(ORCH_HEALTH_TCP, 80, NULL, 1);
	slow = task_with(ORCH_HEALTH_EXEC, 0, NULL, 1);
	slow->spec->health->interval_s = 3600;
	list[0] = entry(exec_ok, "ok");
	list[1] = entry(exec_fail, "fail");
	list[2] = entry(http_ok, "web");
	list[3] = entry(http_moved, "web");
	list[4] = entry(http_503, "web");
	list[5] = entry(tcp_ok, "tcp");
	list[6] = entry(tcp_closed, "tcp");
	list[7] = entry(unpub, "unpub");
	list[8] = entry(slow, "ok");

	ASSERT_INT_EQ(orch_checker_new(on_change, NULL, &c), ORCH_OK);
	ASSERT_INT_EQ(orch_checker_start(c), ORCH_OK);
	ASSERT_INT_EQ(orch_checker_sync(c, list, 9), ORCH_OK);
	/* Before its first check (an hour away): starting. */
	ASSERT(
	    orch_checker_health(c, slow->id, "ok", &health, why, sizeof(why)));
	ASSERT_INT_EQ(health, STARTING);
	ASSERT(!orch_checker_health(
	    c, slow->id, "other", &health, why, sizeof(why)));

	wait_heard(exec_ok->id, HEALTHY);
	wait_heard(http_ok->id, HEALTHY);
	wait_heard(http_moved->id, HEALTHY);
	wait_heard(tcp_ok->id, HEALTHY);
	wait_heard(exec_fail->id, UNHEALTHY);
	wait_heard(http_503->id, UNHEALTHY);
	wait_heard(tcp_closed->id, UNHEALTHY);
	wait_heard(unpub->id, UNHEALTHY);

	ASSERT_STR_EQ(why_of(c, exec_fail, "fail"),
	    "health check failed 2 times: exec \"probe\" -> exit code 1: "
	    "boom");
	ASSERT(strncmp(why_of(c, http_503, "web"),
	           "health check failed once: http GET :", 36) == 0);
	ASSERT_STR_CONTAINS(why_of(c, http_503, "web"), "/ -> 503");
	ASSERT_STR_CONTAINS(
	    why_of(c, tcp_closed, "tcp"), "-> cannot connect to 127.0.0.1:");
	ASSERT_STR_CONTAINS(why_of(c, tcp_closed, "tcp"), "Connection refused");
	ASSERT_STR_EQ(why_of(c, unpub, "unpub"),
	    "health check failed once: tcp :80 -> port 80/tcp of the "
	    "container is not published on the host");
	/* exec_fail's first failure was not enough (retries 2). */
	ASSERT_INT_EQ(heard_count(exec_fail->id, HEALTHY), 0);
	ASSERT_INT_EQ(heard_count(exec_ok->id, UNHEALTHY), 0);

	orch_checker_stop(c);
	orch_checker_free(c);
	server_stop(&web, true);
	server_stop(&tcp, false);
	close(closed_fd);
	orch_task_free(exec_ok);
	orch_task_free(exec_fail);
	orch_task_free(http_ok);
	orch_task_free(http_moved);
	orch_task_free(http_503);
	orch_task_free(tcp_ok);
	orch_task_free(tcp_closed);
	orch_task_free(unpub);
	orch_task_free(slow);
}

/* A sync drops what is no longer listed and starts over a task whose
 * instance changed. */
static void
test_sync(void)
{
	struct orch_checker *c = NULL;
	orch_task *a = task_with(ORCH_HEALTH_EXEC, 0, NULL, 1);
	orch_task *b = task_with(ORCH_HEALTH_EXEC, 0, NULL, 1);
	struct orch_checker_task list[2] = {entry(a, "fail"), entry(b, "ok")};
	int health = 0;
	char why[512];

	ASSERT_INT_EQ(orch_checker_new(on_change, NULL, &c), ORCH_OK);
	ASSERT_INT_EQ(orch_checker_start(c), ORCH_OK);
	ASSERT_INT_EQ(orch_checker_sync(c, list, 2), ORCH_OK);
	wait_heard(a->id, UNHEALTHY);
	wait_heard(b->id, HEALTHY);

	/* a's new instance: starting again, then judged on its own. */
	list[0] = entry(a, "ok");
	ASSERT_INT_EQ(orch_checker_sync(c, list, 2), ORCH_OK);
	ASSERT(orch_checker_health(c, a->id, "ok", &health, why, sizeof(why)));
	/* Starting (or, on a slow machine, already checked once). */
	ASSERT(health == STARTING || health == HEALTHY);
	ASSERT(
	    !orch_checker_health(c, a->id, "fail", &health, why, sizeof(why)));
	wait_heard(a->id, HEALTHY);

	/* b no longer listed: forgotten. */
	ASSERT_INT_EQ(orch_checker_sync(c, list, 1), ORCH_OK);
	ASSERT(!orch_checker_health(c, b->id, "ok", &health, why, sizeof(why)));
	ASSERT(orch_checker_health(c, a->id, "ok", &health, why, sizeof(why)));
	/* A task without a check is not taken. */
	ASSERT_INT_EQ(orch_checker_sync(c, NULL, 0), ORCH_OK);
	ASSERT(!orch_checker_health(c, a->id, "ok", &health, why, sizeof(why)));

	orch_checker_stop(c);
	orch_checker_free(c);
	orch_task_free(a);
	orch_task_free(b);
}

static bool
blocked(void *arg)
{
	bool b;

	(void)arg;
	pthread_mutex_lock(&fake_mu);
	b = fake_blocked > 0;
	pthread_mutex_unlock(&fake_mu);
	return b;
}

/* A check that never ends does not hold a stop once the driver's checks
 * are cancelled; its result is dropped. */
static void
test_stop_during_check(void)
{
	struct orch_checker *c = NULL;
	orch_task *t = task_with(ORCH_HEALTH_EXEC, 0, NULL, 1);
	struct orch_checker_task list[1] = {entry(t, "block")};

	ASSERT_INT_EQ(orch_checker_new(on_change, NULL, &c), ORCH_OK);
	ASSERT_INT_EQ(orch_checker_start(c), ORCH_OK);
	ASSERT_INT_EQ(orch_checker_sync(c, list, 1), ORCH_OK);
	ASSERT(h_wait_until(blocked, NULL, WAIT_MS));
	/* Dropped while its check runs: freed when the check ends. */
	ASSERT_INT_EQ(orch_checker_sync(c, NULL, 0), ORCH_OK);
	fake_check_cancel(NULL);
	orch_checker_stop(c);
	orch_checker_free(c);
	ASSERT_INT_EQ(heard_count(t->id, UNHEALTHY), 0);
	ASSERT_INT_EQ(heard_count(t->id, HEALTHY), 0);
	orch_task_free(t);
}

static void
rt_set(bool up, enum rt_mode mode)
{
	pthread_mutex_lock(&fake_mu);
	rt.up = up;
	rt.mode = mode;
	pthread_mutex_unlock(&fake_mu);
}

static int
rt_get(const int *counter)
{
	int v;

	pthread_mutex_lock(&fake_mu);
	v = *counter;
	pthread_mutex_unlock(&fake_mu);
	return v;
}

struct rt_want {
	const int *counter;
	int at_least;
};

static bool
rt_reached(void *arg)
{
	struct rt_want *w = arg;

	return rt_get(w->counter) >= w->at_least;
}

/* Waits until *counter has grown by n from now. */
static void
rt_wait_more(const int *counter, int n)
{
	struct rt_want w = {counter, rt_get(counter) + n};

	ASSERT(h_wait_until(rt_reached, &w, WAIT_MS));
}

static void
assert_health(struct orch_checker *c, const orch_task *t, int want)
{
	int health = 0;
	char why[512];

	ASSERT(orch_checker_health(c, t->id, "h", &health, why, sizeof(why)));
	ASSERT_INT_EQ(health, want);
}

/* While the driver's runtime is away a check is not run, and one that
 * fails because the runtime did not answer, or went away during it, is
 * not counted: a healthy task with retries 1 stays healthy through all
 * of it.  Once the runtime is back the checks count again. */
static void
test_runtime_away(void)
{
	struct orch_checker *c = NULL;
	orch_task *t = task_with(ORCH_HEALTH_EXEC, 0, NULL, 1);
	struct orch_checker_task x = {
	    .task = t,
	    .handle = "h",
	    .drv = &rt_driver,
	    .started_at_ms = orch_now_ms(),
	};
	int execs;

	rt_set(true, RT_PASS);
	ASSERT_INT_EQ(orch_checker_new(on_change, NULL, &c), ORCH_OK);
	ASSERT_INT_EQ(orch_checker_start(c), ORCH_OK);
	ASSERT_INT_EQ(orch_checker_sync(c, &x, 1), ORCH_OK);
	wait_heard(t->id, HEALTHY);

	/* Away: the checks wait, the command is not run (a check in flight
	 * when it went may still be). */
	rt_set(false, RT_FAIL);
	rt_wait_more(&rt.downs, 1);
	execs = rt_get(&rt.execs);
	rt_wait_more(&rt.downs, 2);
	ASSERT_INT_EQ(rt_get(&rt.execs), execs);
	assert_health(c, t, HEALTHY);

	/* Back as the driver sees it, but the calls find no daemon: the
	 * second call means the first one's result was taken. */
	rt_set(true, RT_UNANSWERED);
	rt_wait_more(&rt.execs, 2);
	assert_health(c, t, HEALTHY);

	/* The daemon dies during a check, which fails: the driver finds it
	 * away, and the next check waits (the first one's result taken). */
	rt_set(true, RT_DIES);
	rt_wait_more(&rt.execs, 1);
	rt_wait_more(&rt.downs, 2);
	assert_health(c, t, HEALTHY);
	ASSERT_INT_EQ(heard_count(t->id, UNHEALTHY), 0);

	/* Back for real: a failure counts again. */
	rt_set(true, RT_FAIL);
	wait_heard(t->id, UNHEALTHY);
	ASSERT_STR_EQ(why_of(c, t, "h"),
	    "health check failed once: exec \"probe\" -> exit code 1");

	orch_checker_stop(c);
	orch_checker_free(c);
	orch_task_free(t);
}

int
main(void)
{
	RUN(test_checks);
	RUN(test_sync);
	RUN(test_stop_during_check);
	RUN(test_runtime_away);
	return 0;
}
