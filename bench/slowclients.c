/*
 * orch-slowclients: the latency of normal requests while many slow
 * clients hold connections to the manager (bench/slowclients.sh).
 *
 *   orch-slowclients --port PORT [--idle N] [--trickle N] [--rounds K]
 *
 * Opens N idle and N trickling connections (tests/crowd.h: a header byte
 * every 200 ms, never a whole head), waits until every trickling one has
 * sent a few bytes, then times K rounds of three normal requests on one
 * fresh keep-alive connection: POST /tasks, GET /tasks/{id} (the task the
 * first POST made) and GET /tasks?status=Running.  Prints one JSON object:
 * p50 and p99 in ms of each kind and of all, and what became of the
 * crowd.  The manager must run with timeouts longer than the run, or the
 * crowd is closed under the measurement: the exit status is 1 then, as
 * when a request fails, 2 for bad arguments.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "crowd.h"
#include "error.h"
#include "flag.h"

#define PROG "orch-slowclients"
#define TICK_MS 200

enum { K_POST, K_GET_ID, K_GET_LIST, N_KINDS };
static const char *const kind_name[N_KINDS] = {"post", "get_id", "get_list"};

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Sorts v and prints "NAME": {"p50_ms": .., "p99_ms": ..}. */
static void
print_quantiles(const char *name, int64_t *v, size_t n, bool last)
{
	qsort(v, n, sizeof(*v), cmp_i64);
	printf("\"%s\": {\"n\": %zu, \"p50_ms\": %.3f, \"p99_ms\": %.3f}%s",
	    name, n, (double)v[(size_t)(0.50 * (double)(n - 1) + 0.5)] / 1000.0,
	    (double)v[(size_t)(0.99 * (double)(n - 1) + 0.5)] / 1000.0,
	    last ? "" : ", ");
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: " PROG " --port PORT [--idle N] [--trickle N] "
	    "[--rounds K]\n");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"port", required_argument, NULL, 'p'},
	    {"idle", required_argument, NULL, 'i'},
	    {"trickle", required_argument, NULL, 't'},
	    {"rounds", required_argument, NULL, 'r'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	long long port = 0, n_idle = 0, n_trickle = 0, rounds = 1000, v;
	static char buf[1 << 20];
	struct crowd *crowd = NULL;
	struct crowd_counts k;
	int64_t *lat[N_KINDS] = {0}, *all = NULL;
	char id[64] = "", req[512];
	int c, fd = -1, status = 1;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		const char *flag = c == 'p' ? "--port"
		    : c == 'i'              ? "--idle"
		    : c == 't'              ? "--trickle"
		                            : "--rounds";

		if (c == 'h') {
			usage(stdout);
			return 0;
		}
		if (c == '?' ||
		    orch_flag_int(PROG, flag, optarg, c == 'p' || c == 'r',
		        c == 'p' ? 65535 : 1000000, &v) != ORCH_OK) {
			usage(stderr);
			return 2;
		}
		*(c == 'p'         ? &port
		        : c == 'i' ? &n_idle
		        : c == 't' ? &n_trickle
		                   : &rounds) = v;
	}
	if (port == 0) {
		fprintf(stderr, PROG ": --port is required\n");
		usage(stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < N_KINDS; i++) {
		if ((lat[i] = calloc((size_t)rounds, sizeof(int64_t))) == NULL)
			goto out;
	}
	if ((all = calloc((size_t)rounds * N_KINDS, sizeof(int64_t))) == NULL)
		goto out;
	if (crowd_start(
	        (int)port, (int)n_idle, (int)n_trickle, TICK_MS, &crowd) != 0) {
		fprintf(stderr, PROG ": cannot open the crowd: %s\n",
		    strerror(errno));
		goto out;
	}
	/* Every trickling connection's head timer running: a few bytes
	 * each (bounded: 30 s). */
	for (int64_t end = orch_mono_ms() + 30000;;) {
		crowd_counts(crowd, &k);
		if (k.trickle_bytes >= n_trickle * 3 || orch_mono_ms() > end)
			break;
		usleep(50000);
	}
	if ((fd = crowd_connect((int)port)) < 0) {
		fprintf(stderr, PROG ": cannot connect: %s\n", strerror(errno));
		goto out;
	}
	for (long long r = 0; r < rounds; r++) {
		static const char body[] =
		    "{\"name\":\"slowclients\",\"image\":\"busybox:latest\"}";
		int n, want[N_KINDS] = {201, 200, 200};

		for (int kind = 0; kind < N_KINDS; kind++) {
			int64_t t0;
			int st;

			if (kind == K_POST)
				n = snprintf(req, sizeof(req),
				    "POST /tasks HTTP/1.1\r\nHost: x\r\n"
				    "Content-Type: application/json\r\n"
				    "Content-Length: %zu\r\n\r\n%s",
				    sizeof(body) - 1, body);
			else if (kind == K_GET_ID)
				n = snprintf(req, sizeof(req),
				    "GET /tasks/%s HTTP/1.1\r\nHost: x\r\n\r\n",
				    id);
			else
				n = snprintf(req, sizeof(req),
				    "GET /tasks?status=Running HTTP/1.1\r\n"
				    "Host: x\r\n\r\n");
			t0 = (orch_mono_ns() / 1000);
			st = crowd_call(
			    fd, req, (size_t)n, buf, sizeof(buf), 30000);
			lat[kind][r] = (orch_mono_ns() / 1000) - t0;
			all[r * N_KINDS + kind] = lat[kind][r];
			if (st != want[kind]) {
				fprintf(stderr,
				    PROG
				    ": round %lld: %s answered %d: %.200s\n",
				    r, kind_name[kind], st, buf);
				goto out;
			}
			/* The task every GET /tasks/{id} reads. */
			if (kind == K_POST && id[0] == '\0' &&
			    sscanf(buf, "%*[^{]{\"id\":\"%63[^\"]", id) != 1) {
				fprintf(
				    stderr, PROG ": no id in %.200s\n", buf);
				goto out;
			}
		}
	}
	crowd_counts(crowd, &k);
	printf("{\"idle\": %lld, \"trickle\": %lld, \"rounds\": %lld, ", n_idle,
	    n_trickle, rounds);
	for (int i = 0; i < N_KINDS; i++)
		print_quantiles(kind_name[i], lat[i], (size_t)rounds, false);
	print_quantiles("all", all, (size_t)rounds * N_KINDS, false);
	printf("\"crowd\": {\"idle_open\": %d, \"trickle_open\": %d, "
	       "\"closed_or_answered\": %d, \"connect_fails\": %d}}\n",
	    k.idle_open, k.trickle_open,
	    k.idle_closed + k.trickle_408 + k.answered + k.other_closed,
	    k.connect_fails);
	status = k.idle_open == n_idle && k.trickle_open == n_trickle ? 0 : 1;
	if (status != 0)
		fprintf(stderr,
		    PROG ": the crowd did not stay open (%d idle of %lld, %d "
		         "trickling of %lld): run the manager with longer "
		         "timeouts\n",
		    k.idle_open, n_idle, k.trickle_open, n_trickle);
out:
	if (fd >= 0)
		close(fd);
	crowd_stop(crowd);
	for (int i = 0; i < N_KINDS; i++)
		free(lat[i]);
	free(all);
	return status;
}
