/*
 * e2e_crash.c: kill -9 the manager while clients submit; restart it on the
 * same data directory; every task that was answered 201 must be there
 * (read by its id through the API) exactly once (no name twice in the
 * store), and the database must pass PRAGMA integrity_check.
 *
 * ORCH_CRASH_CYCLES sets the number of kill/restart cycles: 10 by
 * default, 50 in CI (scripts/test with CI=true), and 1,000 for the long
 * mode, run by hand (46 minutes on a 2-core machine: the checks read the
 * whole database, which grows by about 200 tasks a cycle):
 *
 *   ORCH_CRASH_CYCLES=1000 ORCH_BIN_DIR=build/bin build/tests/e2e_crash
 */
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <unistd.h>

#include "harness.h"
#include "manager_proc.h"

#define CLIENTS 6
#define MAX_ACKS 20000

struct client {
	int id;
	int cycle;
	int port;
	int n_acked;
	char (*names)[32]; /* acknowledged names */
	char (*ids)[40];   /* and their ids */
	pthread_t thread;
};

static struct mgr m;
static atomic_int total_acked;

/* Submits in a loop on one keep-alive connection until it breaks. */
static void *
client_main(void *arg)
{
	struct client *c = arg;
	int fd = h_connect(c->port);

	for (int seq = 0; fd >= 0 && c->n_acked < MAX_ACKS; seq++) {
		char name[32], body[128], req[512], *resp = NULL;
		json_t *j;
		int n, st;

		snprintf(
		    name, sizeof(name), "k%d-c%d-%d", c->cycle, c->id, seq);
		n = snprintf(body, sizeof(body),
		    "{\"name\":\"%s\",\"image\":\"busybox:1\"}", name);
		snprintf(req, sizeof(req),
		    "POST /tasks HTTP/1.1\r\nHost: x\r\n"
		    "Content-Length: %d\r\n\r\n%s",
		    n, body);
		if (h_send_all(fd, req, strlen(req)) != 0)
			break;
		st = h_read_response(fd, &resp, NULL, 10000);
		if (st != 201) {
			free(resp);
			break;
		}
		j = json_loads(resp, 0, NULL);
		ASSERT(j != NULL);
		snprintf(c->names[c->n_acked], 32, "%s", name);
		snprintf(c->ids[c->n_acked], 40, "%s",
		    json_string_value(json_object_get(j, "id")));
		c->n_acked++;
		atomic_fetch_add(&total_acked, 1);
		json_decref(j);
		free(resp);
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

static int kill_after;

static bool
enough_acks(void *arg)
{
	(void)arg;
	return atomic_load(&total_acked) >= kill_after;
}

/* The first column of the one row of sql, as text (malloc'd). */
static char *
db_text(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	char *v;

	ASSERT(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK);
	ASSERT(sqlite3_step(st) == SQLITE_ROW);
	v = strdup((const char *)sqlite3_column_text(st, 0));
	ASSERT(v != NULL);
	sqlite3_finalize(st);
	return v;
}

/*
 * The database passes PRAGMA integrity_check, and no task name is there
 * twice, acknowledged or not: every submission has a name of its own, so
 * a submission stored twice would show as two tasks of one name.  Counted
 * in SQLite rather than through GET /tasks, whose answer grows with every
 * cycle and made a long run quadratic.
 */
static void
check_db(const char *dir)
{
	char path[512], *v;
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/orch.db", dir);
	ASSERT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) ==
	    SQLITE_OK);
	v = db_text(db, "PRAGMA integrity_check");
	ASSERT_STR_EQ(v, "ok");
	free(v);
	v = db_text(db,
	    "SELECT count(*) FROM (SELECT name FROM tasks GROUP BY name "
	    "HAVING count(*) > 1)");
	ASSERT_STR_EQ(v, "0");
	free(v);
	sqlite3_close(db);
}

/* Each task acknowledged in the cycle, read back by its id through the
 * API of the restarted manager: there, with its name.  Returns how many. */
static int
check_acked(int cycle, const struct client *clients)
{
	int acked = 0;

	for (int i = 0; i < CLIENTS; i++) {
		for (int k = 0; k < clients[i].n_acked; k++) {
			char path[96], *resp = NULL;
			json_t *t;
			int st;

			snprintf(
			    path, sizeof(path), "/tasks/%s", clients[i].ids[k]);
			st = h_http(m.http_port, "GET", path, NULL, &resp);
			if (st != 200)
				h_fail(__FILE__, __LINE__,
				    "cycle %d: acknowledged task %s (%s) "
				    "answers %d after the restart",
				    cycle, clients[i].names[k],
				    clients[i].ids[k], st);
			t = json_loads(resp, 0, NULL);
			ASSERT(t != NULL);
			ASSERT_STR_EQ(
			    json_string_value(json_object_get(t, "name")),
			    clients[i].names[k]);
			json_decref(t);
			free(resp);
			acked++;
		}
	}
	return acked;
}

int
main(void)
{
	const char *env = getenv("ORCH_CRASH_CYCLES");
	int cycles = env != NULL ? (int)strtol(env, NULL, 10) : 10;
	struct client clients[CLIENTS];
	long long grand_total = 0;

	srand((unsigned)getpid());
	mgr_start(&m, NULL);
	for (int i = 0; i < CLIENTS; i++) {
		clients[i].names = malloc(sizeof(*clients[i].names) * MAX_ACKS);
		clients[i].ids = malloc(sizeof(*clients[i].ids) * MAX_ACKS);
		ASSERT(clients[i].names != NULL && clients[i].ids != NULL);
	}
	for (int cycle = 0; cycle < cycles; cycle++) {
		int acked;

		atomic_store(&total_acked, 0);
		/* Kill at a random point: after 1 to 400 acknowledgements. */
		kill_after = 1 + rand() % 400;
		for (int i = 0; i < CLIENTS; i++) {
			clients[i].id = i;
			clients[i].cycle = cycle;
			clients[i].port = m.http_port;
			clients[i].n_acked = 0;
			ASSERT(pthread_create(&clients[i].thread, NULL,
			           client_main, &clients[i]) == 0);
		}
		ASSERT(h_wait_until(enough_acks, NULL, 60000));
		mgr_stop(&m, SIGKILL);
		for (int i = 0; i < CLIENTS; i++)
			pthread_join(clients[i].thread, NULL);

		mgr_restart(&m, NULL);
		acked = check_acked(cycle, clients);
		check_db(m.data);
		grand_total += acked;
		fprintf(stderr,
		    "cycle %d: killed after %d acks, %d acknowledged "
		    "tasks all present once\n",
		    cycle, kill_after, acked);
	}
	fprintf(stderr, "%d cycles, %lld acknowledged tasks verified\n", cycles,
	    grand_total);
	for (int i = 0; i < CLIENTS; i++) {
		free(clients[i].names);
		free(clients[i].ids);
	}
	mgr_destroy(&m);
	return 0;
}
