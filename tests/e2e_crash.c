/*
 * e2e_crash.c: kill -9 the manager while clients submit; restart it on the
 * same data directory; every task that was answered 201 must be there
 * exactly once, and the database must pass PRAGMA integrity_check.
 *
 * ORCH_CRASH_CYCLES sets the number of kill/restart cycles: 10 by
 * default, 50 in CI (scripts/test with CI=true), and 1,000 for the long
 * mode, run by hand (about 20 minutes):
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

static void
check_integrity(const char *dir)
{
	char path[512];
	sqlite3 *db;
	sqlite3_stmt *st;

	snprintf(path, sizeof(path), "%s/orch.db", dir);
	ASSERT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) ==
	    SQLITE_OK);
	ASSERT(sqlite3_prepare_v2(
	           db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK);
	ASSERT(sqlite3_step(st) == SQLITE_ROW);
	ASSERT_STR_EQ((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
	sqlite3_close(db);
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
		char *resp = NULL;
		json_t *list;
		int acked = 0;

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
		ASSERT_INT_EQ(
		    h_http(m.http_port, "GET", "/tasks", NULL, &resp), 200);
		list = json_loads(resp, 0, NULL);
		ASSERT(json_is_array(list));
		free(resp);
		/* Every acknowledged task exactly once, with its id. */
		for (int i = 0; i < CLIENTS; i++) {
			for (int k = 0; k < clients[i].n_acked; k++) {
				int seen = 0;
				size_t idx;
				json_t *v;

				json_array_foreach(list, idx, v)
				{
					const char *nm = json_string_value(
					    json_object_get(v, "name"));
					if (strcmp(nm, clients[i].names[k]) ==
					    0) {
						seen++;
						ASSERT_STR_EQ(
						    json_string_value(
						        json_object_get(
						            v, "id")),
						    clients[i].ids[k]);
					}
				}
				if (seen != 1)
					h_fail(__FILE__, __LINE__,
					    "cycle %d: task %s "
					    "seen %d times",
					    cycle, clients[i].names[k], seen);
				acked++;
			}
		}
		/* And no name twice, acknowledged or not. */
		{
			json_t *names = json_object();
			size_t idx;
			json_t *v;

			json_array_foreach(list, idx, v)
			{
				const char *nm = json_string_value(
				    json_object_get(v, "name"));
				ASSERT(json_object_get(names, nm) == NULL);
				json_object_set_new(names, nm, json_true());
			}
			json_decref(names);
		}
		json_decref(list);
		check_integrity(m.data);
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
