/*
 * e2e_slowclients.c: the real orch-manager with 1,000 slow clients open,
 * half idle and half trickling a request head a byte every 200 ms
 * (crowd.h).
 *
 * First with long timeouts: normal requests on a fresh connection are
 * answered while the 1,000 stay open (their latency is printed, never
 * asserted: the machine is shared), and the connection past --max-conns
 * gets 503.  Then with short timeouts: every trickling connection is
 * answered 408 and closed by the header timeout, every idle one closed
 * by the idle timeout, and a client that stops reading its answers is
 * closed by the write timeout; GET /metrics counts each kind.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "crowd.h"
#include "gateway.h"
#include "harness.h"
#include "manager_proc.h"
#include "prom_text.h"

#define N_IDLE 500
#define N_TRICKLE 500
#define N_NORMAL 40
#define TICK_MS 200

static struct mgr m;

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* The q-quantile (0..1) of the n sorted values, in ms. */
static double
quantile_ms(const int64_t *us, int n, double q)
{
	int i = (int)(q * (n - 1) + 0.5);

	return (double)us[i] / 1000.0;
}

static bool
crowd_trickled(void *arg)
{
	struct crowd_counts k;

	/* Every trickling connection has its head timer running once the
	 * manager has read a byte of it: wait for a few ticks' worth. */
	crowd_counts(arg, &k);
	return k.trickle_bytes >= (long long)N_TRICKLE * 3;
}

static bool
healthz_ok(void *arg)
{
	(void)arg;
	return h_http(m.http_port, "GET", "/healthz", NULL, NULL) == 200;
}

/* Normal requests, POST /tasks and GET /tasks in turn, on one fresh
 * keep-alive connection: each must succeed; their latency is printed. */
static void
normal_requests(const char *label)
{
	int64_t post_us[N_NORMAL], get_us[N_NORMAL];
	static char buf[1 << 20];
	int fd = crowd_connect(m.http_port);

	ASSERT(fd >= 0);
	for (int i = 0; i < N_NORMAL; i++) {
		char req[512], body[128];
		int64_t t0;
		int n, bn;

		bn = snprintf(body, sizeof(body),
		    "{\"name\":\"normal-%d\",\"image\":\"busybox:1\"}", i);
		n = snprintf(req, sizeof(req),
		    "POST /tasks HTTP/1.1\r\nHost: x\r\nContent-Type: "
		    "application/json\r\nContent-Length: %d\r\n\r\n%s",
		    bn, body);
		t0 = (orch_mono_ns() / 1000);
		ASSERT_INT_EQ(
		    crowd_call(fd, req, (size_t)n, buf, sizeof(buf), 30000),
		    201);
		post_us[i] = (orch_mono_ns() / 1000) - t0;
		n = snprintf(
		    req, sizeof(req), "GET /tasks HTTP/1.1\r\nHost: x\r\n\r\n");
		t0 = (orch_mono_ns() / 1000);
		ASSERT_INT_EQ(
		    crowd_call(fd, req, (size_t)n, buf, sizeof(buf), 30000),
		    200);
		ASSERT_STR_CONTAINS(buf, "normal-");
		get_us[i] = (orch_mono_ns() / 1000) - t0;
	}
	close(fd);
	qsort(post_us, N_NORMAL, sizeof(post_us[0]), cmp_i64);
	qsort(get_us, N_NORMAL, sizeof(get_us[0]), cmp_i64);
	/* Reported, not asserted: the machine is shared and noisy. */
	fprintf(stderr,
	    "  %s: POST /tasks p50 %.2f ms p99 %.2f ms; GET /tasks p50 "
	    "%.2f ms p99 %.2f ms (%d each)\n",
	    label, quantile_ms(post_us, N_NORMAL, 0.5),
	    quantile_ms(post_us, N_NORMAL, 0.99),
	    quantile_ms(get_us, N_NORMAL, 0.5),
	    quantile_ms(get_us, N_NORMAL, 0.99), N_NORMAL);
}

/* Asserts what became of the crowd: so many idle and trickling
 * connections open, idle ones closed silently, trickling ones answered
 * 408 and closed; every connection opened, none otherwise answered or
 * closed. */
static void
expect_counts(struct crowd *c, int idle_open, int trickle_open, int idle_closed,
    int trickle_408)
{
	struct crowd_counts k;

	crowd_counts(c, &k);
	ASSERT_INT_EQ(k.connect_fails, 0);
	ASSERT_INT_EQ(k.idle_open, idle_open);
	ASSERT_INT_EQ(k.trickle_open, trickle_open);
	ASSERT_INT_EQ(k.idle_closed, idle_closed);
	ASSERT_INT_EQ(k.trickle_408, trickle_408);
	ASSERT_INT_EQ(k.answered + k.other_closed, 0);
}

/* Long timeouts: the 1,000 stay open while normal requests succeed, and
 * the connection past the cap gets 503. */
static void
test_crowd_open(void)
{
	struct crowd *c = NULL;
	char *body = NULL;
	int fd;

	normal_requests("no other connection");
	ASSERT_INT_EQ(
	    crowd_start(m.http_port, N_IDLE, N_TRICKLE, TICK_MS, &c), 0);
	ASSERT(h_wait_until(crowd_trickled, c, 30000));
	normal_requests("1,000 slow connections open");

	/* The cap is 1,001: the crowd and one more.  Connections are
	 * accepted in order, so this one is counted before the next. */
	fd = crowd_connect(m.http_port);
	ASSERT(fd >= 0);
	ASSERT_INT_EQ(h_http(m.http_port, "GET", "/healthz", NULL, &body), 503);
	ASSERT_STR_CONTAINS(body, "too many connections");
	free(body);

	/* Nobody of the crowd was answered or closed meanwhile. */
	expect_counts(c, N_IDLE, N_TRICKLE, 0, 0);

	/* A slot freed is a slot given. */
	close(fd);
	ASSERT(h_wait_until(healthz_ok, NULL, 10000));
	crowd_stop(c);
}

static bool
crowd_all_closed(void *arg)
{
	struct crowd_counts k;

	crowd_counts(arg, &k);
	return k.idle_open == 0 && k.trickle_open == 0;
}

/* Short timeouts: the header timeout answers every trickling connection
 * 408 and closes it; the idle timeout closes every idle one, silently. */
static void
test_crowd_timeouts(void)
{
	struct crowd *c = NULL;

	ASSERT_INT_EQ(
	    crowd_start(m.http_port, N_IDLE, N_TRICKLE, TICK_MS, &c), 0);
	ASSERT(h_wait_until(crowd_all_closed, c, 60000));
	expect_counts(c, 0, 0, N_IDLE, N_TRICKLE);
	crowd_stop(c);
	ASSERT(healthz_ok(NULL));
	/* Counted by kind (the manager is new: nothing else timed out but
	 * perhaps an idle connection of the harness). */
	ASSERT(prom_scrape_value(m.http_port, "orch_http_timeouts_total",
	           (const char *const[]){"kind", "header", NULL}) == N_TRICKLE);
	ASSERT(prom_scrape_value(m.http_port, "orch_http_timeouts_total",
	           (const char *const[]){"kind", "idle", NULL}) >= N_IDLE);
}

static bool
log_has_write_timeout(void *arg)
{
	char *log = h_read_file(m.log);
	bool found =
	    log != NULL && strstr(log, "took no byte of its answer") != NULL;

	(void)arg;
	free(log);
	return found;
}

/* A client that pipelines requests and reads none of the answers is
 * closed by the write timeout: what it can read afterwards ends before
 * all the answers it asked for. */
static void
test_slow_reader(void)
{
	enum { N_REQ = 600 };
	static const char get[] = "GET /tasks HTTP/1.1\r\nHost: x\r\n\r\n";
	static char buf[1 << 20];
	size_t one, total = 0;
	int rcv = 4096, fd, sfd = crowd_connect(m.http_port);
	char *reqs;

	/* The size of one answer. */
	ASSERT(sfd >= 0);
	ASSERT_INT_EQ(
	    crowd_call(sfd, get, sizeof(get) - 1, buf, sizeof(buf), 10000),
	    200);
	one = strlen(buf);
	close(sfd);

	/* A small receive window, set before the connection exists. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT(fd >= 0);
	ASSERT_INT_EQ(
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv)), 0);
	{
		struct sockaddr_in a = {.sin_family = AF_INET};

		a.sin_port = htons((uint16_t)m.http_port);
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		ASSERT_INT_EQ(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	}
	reqs = malloc(N_REQ * (sizeof(get) - 1));
	ASSERT(reqs != NULL);
	for (int i = 0; i < N_REQ; i++)
		memcpy(reqs + i * (sizeof(get) - 1), get, sizeof(get) - 1);
	ASSERT_INT_EQ(h_send_all(fd, reqs, N_REQ * (sizeof(get) - 1)), 0);
	free(reqs);
	ASSERT(h_wait_until(log_has_write_timeout, NULL, 30000));
	ASSERT(prom_scrape_value(m.http_port, "orch_http_timeouts_total",
	           (const char *const[]){"kind", "write", NULL}) == 1);

	/* Drain what the kernel buffered: it ends (EOF or reset) short of
	 * the N_REQ answers. */
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		ASSERT(poll(&p, 1, 10000) == 1);
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		total += (size_t)n;
	}
	close(fd);
	fprintf(stderr, "  slow reader: %zu bytes of %zu asked for\n", total,
	    one * N_REQ);
	ASSERT(total < one * N_REQ);
	ASSERT(healthz_ok(NULL));
}

/* The manager's soft limit on open files, from /proc, or -1. */
static long long
mgr_fd_soft_limit(void)
{
	char path[64], *s, *p;
	long long soft = -1;

	snprintf(path, sizeof(path), "/proc/%d/limits", (int)m.pid);
	if ((s = h_read_file(path)) == NULL)
		return -1;
	if ((p = strstr(s, "Max open files")) != NULL)
		soft = strtoll(p + strlen("Max open files"), NULL, 10);
	free(s);
	return soft;
}

/* Started with a soft limit on open files below what the default cap
 * needs, the manager raises it (the hard limit allowing). */
static void
test_fd_limit(void)
{
	struct rlimit rl, low;

	ASSERT_INT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_max < ORCH_GW_MAX_CONNS + 1024) {
		fprintf(stderr, "  skipped: the hard limit (%llu) is too low\n",
		    (unsigned long long)rl.rlim_max);
		return;
	}
	low = rl;
	low.rlim_cur = 1024;
	ASSERT_INT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
	mgr_restart(&m, NULL);
	ASSERT_INT_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);
	ASSERT(mgr_fd_soft_limit() > ORCH_GW_MAX_CONNS);
	mgr_stop_clean(&m);
	{
		char *log = h_read_file(m.log);

		ASSERT(log != NULL && strstr(log, "does not fit") == NULL);
		free(log);
	}
}

int
main(void)
{
	struct rlimit rl;

	signal(SIGPIPE, SIG_IGN);
	/* 1,000 connections here and as many in the manager. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_max < N_IDLE + N_TRICKLE + 256) {
		fprintf(stderr,
		    "SKIP: the hard limit on open files (%llu) is below "
		    "the %d connections this test opens\n",
		    (unsigned long long)rl.rlim_max, N_IDLE + N_TRICKLE);
		return 77;
	}
	mgr_start(&m,
	    (const char *const[]){"--max-conns", "1001", "--header-timeout",
	        "300", "--idle-timeout", "300", NULL});
	RUN(test_crowd_open);
	mgr_stop_clean(&m);
	mgr_restart(&m,
	    (const char *const[]){"--max-conns", "1001", "--header-timeout",
	        "1", "--idle-timeout", "2", "--write-timeout", "1",
	        "--log-level", "debug", NULL});
	RUN(test_crowd_timeouts);
	RUN(test_slow_reader);
	mgr_stop_clean(&m);
	RUN(test_fd_limit);
	mgr_destroy(&m);
	return 0;
}
