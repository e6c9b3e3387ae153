/*
 * test_store.c: the SQLite store: round trips, filters, write errors,
 * group commit, close, durability, migrations and a full disk; nodes:
 * registration by name, reads, the tasks of a node and what they hold,
 * commit listeners.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <math.h>

#include "clock.h"
#include "error.h"
#include "harness.h"
#include "restart.h"
#include "store.h"

#define ST_RUNNING ORCH__TASK_STATUS__TASK_STATUS_RUNNING
#define ST_PENDING ORCH__TASK_STATUS__TASK_STATUS_PENDING
#define ST_FAILED ORCH__TASK_STATUS__TASK_STATUS_FAILED

/* ---- helpers ---- */

static char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	ASSERT(p != NULL);
	return p;
}

/* A Pending task named name, built from malloc'd parts like the API's. */
static orch_task *
mk_task(const char *name)
{
	orch_task_spec *sp = malloc(sizeof(*sp));
	orch_task *t;

	ASSERT(sp != NULL);
	orch__task_spec__init(sp);
	sp->name = xstrdup(name);
	sp->image = xstrdup("alpine:3.19");
	ASSERT_INT_EQ(orch_task_new(sp, &t), ORCH_OK);
	return t;
}

static void
add_env(orch_task_spec *sp, const char *k, const char *v)
{
	Orch__TaskSpec__EnvEntry *e = malloc(sizeof(*e));

	ASSERT(e != NULL);
	orch__task_spec__env_entry__init(e);
	e->key = xstrdup(k);
	e->value = xstrdup(v);
	sp->env = realloc(sp->env, (sp->n_env + 1) * sizeof(*sp->env));
	ASSERT(sp->env != NULL);
	sp->env[sp->n_env++] = e;
}

static void
add_arg(orch_task_spec *sp, const char *a)
{
	sp->command =
	    realloc(sp->command, (sp->n_command + 1) * sizeof(*sp->command));
	ASSERT(sp->command != NULL);
	sp->command[sp->n_command++] = xstrdup(a);
}

/* True when a and b serialize to the same bytes: every field equal. */
static bool
task_same(const orch_task *a, const orch_task *b)
{
	size_t na = orch__task__get_packed_size(a);
	size_t nb = orch__task__get_packed_size(b);
	uint8_t *pa, *pb;
	bool same;

	if (na != nb)
		return false;
	pa = malloc(na + 1);
	pb = malloc(nb + 1);
	ASSERT(pa != NULL && pb != NULL);
	orch__task__pack(a, pa);
	orch__task__pack(b, pb);
	same = memcmp(pa, pb, na) == 0;
	free(pa);
	free(pb);
	return same;
}

static struct orch_store *
store_open(const char *dir)
{
	struct orch_store *st = NULL;

	ASSERT_INT_EQ(orch_store_open(dir, NULL, &st), ORCH_OK);
	ASSERT(st != NULL);
	return st;
}

static struct orch_store_reader *
reader_new(struct orch_store *st)
{
	struct orch_store_reader *r = NULL;

	ASSERT_INT_EQ(orch_store_reader_new(st, &r), ORCH_OK);
	return r;
}

/* Inserts t and returns a copy of its id (malloc'd). */
static char *
insert_ok(struct orch_store *st, orch_task *t)
{
	char err[512];
	char *id = xstrdup(t->id);
	int rc = orch_store_task_insert_sync(st, t, NULL, err, sizeof(err));

	if (rc != ORCH_OK)
		h_fail(__FILE__, __LINE__, "insert: %d %s", rc, err);
	return id;
}

static char *
db_path(const char *dir)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "%s/orch.db", dir);
	return xstrdup(buf);
}

/* Opens the database file directly, as another program would. */
static sqlite3 *
raw_open(const char *dir)
{
	char *path = db_path(dir);
	sqlite3 *db = NULL;

	ASSERT_INT_EQ(sqlite3_open(path, &db), SQLITE_OK);
	free(path);
	return db;
}

static long long
raw_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s;
	long long v;

	ASSERT_INT_EQ(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	ASSERT_INT_EQ(sqlite3_step(s), SQLITE_ROW);
	v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

/*
 * Every task row's derived columns agree with its blob, and every index
 * with the rows (integrity_check): whichever UPDATE wrote a change set
 * what changed.  Returns the number of rows checked.
 */
static int
check_derived(const char *dir)
{
	sqlite3 *db = raw_open(dir);
	sqlite3_stmt *s;
	int n = 0;

	ASSERT_INT_EQ(sqlite3_prepare_v2(db,
	                  "SELECT status, node_id, is_open, service_id, cpu, "
	                  "memory_mb, created_at, name, task FROM tasks",
	                  -1, &s, NULL),
	    SQLITE_OK);
	while (sqlite3_step(s) == SQLITE_ROW) {
		orch_task *t =
		    orch__task__unpack(NULL, (size_t)sqlite3_column_bytes(s, 8),
		        sqlite3_column_blob(s, 8));
		const char *node = (const char *)sqlite3_column_text(s, 1);
		const char *svc = (const char *)sqlite3_column_text(s, 3);

		ASSERT(t != NULL);
		ASSERT_INT_EQ(sqlite3_column_int(s, 0), (int)t->status);
		ASSERT((node == NULL) == (t->node_id == NULL));
		if (node != NULL)
			ASSERT_STR_EQ(node, t->node_id);
		ASSERT_INT_EQ(
		    sqlite3_column_int(s, 2), orch_task_open(t) ? 1 : 0);
		ASSERT((svc == NULL) ==
		    (t->service_id == NULL || t->service_id[0] == '\0'));
		ASSERT(sqlite3_column_double(s, 4) == t->spec->cpu);
		ASSERT_INT_EQ(sqlite3_column_int64(s, 5), t->spec->memory_mb);
		ASSERT_INT_EQ(sqlite3_column_int64(s, 6), t->created_at_ms);
		ASSERT_STR_EQ((const char *)sqlite3_column_text(s, 7),
		    t->spec->name != NULL ? t->spec->name : "");
		orch_task_free(t);
		n++;
	}
	sqlite3_finalize(s);
	ASSERT_INT_EQ(
	    sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL),
	    SQLITE_OK);
	ASSERT_INT_EQ(sqlite3_step(s), SQLITE_ROW);
	ASSERT_STR_EQ((const char *)sqlite3_column_text(s, 0), "ok");
	sqlite3_finalize(s);
	sqlite3_close(db);
	return n;
}

/* The outcome of one asynchronous write. */
struct outcome {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
	bool on_writer; /* completed on another thread than the caller */
	pthread_t caller;
	int rc;
	char err[512];
	orch_task *task;
};

static void
outcome_init(struct outcome *o)
{
	memset(o, 0, sizeof(*o));
	pthread_mutex_init(&o->mu, NULL);
	pthread_cond_init(&o->cv, NULL);
	o->caller = pthread_self();
	o->rc = -1;
}

static void
outcome_done(void *arg, int rc, orch_task *task, const char *err)
{
	struct outcome *o = arg;

	pthread_mutex_lock(&o->mu);
	ASSERT(!o->done);
	o->rc = rc;
	o->task = task;
	o->on_writer = !pthread_equal(pthread_self(), o->caller);
	if (rc != ORCH_OK) {
		ASSERT(err != NULL);
		ASSERT(task == NULL);
		snprintf(o->err, sizeof(o->err), "%s", err);
	}
	o->done = true;
	pthread_cond_broadcast(&o->cv);
	pthread_mutex_unlock(&o->mu);
}

static void
outcome_wait(struct outcome *o)
{
	pthread_mutex_lock(&o->mu);
	while (!o->done)
		pthread_cond_wait(&o->cv, &o->mu);
	pthread_mutex_unlock(&o->mu);
}

static void
outcome_fini(struct outcome *o)
{
	orch_task_free(o->task);
	pthread_cond_destroy(&o->cv);
	pthread_mutex_destroy(&o->mu);
}

/* A completion that holds the writer until the test opens the gate, so
 * that the writes queued meanwhile all go into the next batch. */
struct gate {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool entered;
	bool open;
	void (*then)(void *); /* run on the writer after the gate opens */
	void *then_arg;
};

static void
gate_init(struct gate *g)
{
	memset(g, 0, sizeof(*g));
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, NULL);
}

static void
gate_done(void *arg, int rc, orch_task *task, const char *err)
{
	struct gate *g = arg;

	if (rc != ORCH_OK)
		h_fail(__FILE__, __LINE__, "gate write: %s", err);
	orch_task_free(task);
	pthread_mutex_lock(&g->mu);
	g->entered = true;
	pthread_cond_broadcast(&g->cv);
	while (!g->open)
		pthread_cond_wait(&g->cv, &g->mu);
	pthread_mutex_unlock(&g->mu);
	if (g->then != NULL)
		g->then(g->then_arg);
}

/* The same, for a write whose own outcome does not matter. */
static void
gate_done_any(void *arg, int rc, orch_task *task, const char *err)
{
	gate_done(arg, ORCH_OK, task, NULL);
}

static void
gate_wait_entered(struct gate *g)
{
	pthread_mutex_lock(&g->mu);
	while (!g->entered)
		pthread_cond_wait(&g->cv, &g->mu);
	pthread_mutex_unlock(&g->mu);
}

static void
gate_open(struct gate *g)
{
	pthread_mutex_lock(&g->mu);
	g->open = true;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

static void
gate_fini(struct gate *g)
{
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->mu);
}

/* Two registrations' outcomes, for test_node_register_same_batch. */
struct node_pair {
	pthread_mutex_t mu;
	int done;
	orch_node *n[2];
};

static void
node_done_store(void *arg, int rc, orch_node *node, const char *err)
{
	struct node_pair *nd = arg;

	if (rc != ORCH_OK)
		h_fail(__FILE__, __LINE__, "register: %s", err);
	pthread_mutex_lock(&nd->mu);
	nd->n[nd->done++] = node;
	pthread_mutex_unlock(&nd->mu);
}

/* ---- modify functions ---- */

static int
mod_status(orch_task *t, void *marg, char *err, size_t errlen)
{
	t->has_status = true;
	t->status = *(const int *)marg;
	return ORCH_OK;
}

static int
mod_node(orch_task *t, void *marg, char *err, size_t errlen)
{
	return orch_str_set(&t->node_id, marg);
}

/* Changes what only a full UPDATE sets: the name and the cpu. */
static int
mod_spec(orch_task *t, void *marg, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	t->spec->cpu = 0.25;
	return orch_str_set(&t->spec->name, marg);
}

/* Changes the task, then refuses: nothing of it may be stored. */
static int
mod_refuse(orch_task *t, void *marg, char *err, size_t errlen)
{
	t->status = ST_FAILED;
	orch_str_set(&t->error, "should never be stored");
	snprintf(err, errlen, "task %s is busy: refused by the test", t->id);
	return ORCH_ECONFLICT;
}

static int
mod_id(orch_task *t, void *marg, char *err, size_t errlen)
{
	return orch_str_set(&t->id, "00000000-0000-4000-8000-000000000000");
}

/* ---- tests ---- */

static void
test_roundtrip(void)
{
	char *dir = h_tmpdir("store-rt");
	struct orch_store *st = store_open(dir);
	struct orch_store_reader *r = reader_new(st);
	orch_task *full = mk_task("full"), *bare = mk_task("bare");
	orch_task *want, *got = NULL, *stored = NULL, **list = NULL;
	char err[512];
	size_t n = 0;

	add_env(full->spec, "PATH", "/usr/bin");
	add_env(full->spec, "GREETING", "hello, world = \"x\"");
	add_arg(full->spec, "sh");
	add_arg(full->spec, "-c");
	add_arg(full->spec, "echo hi; exit 0");
	full->spec->memory_mb = 1024;
	full->spec->cpu = 1.25;
	full->status = ORCH__TASK_STATUS__TASK_STATUS_COMPLETED;
	full->has_started_at_ms = true;
	full->started_at_ms = full->created_at_ms + 10;
	full->has_finished_at_ms = true;
	full->finished_at_ms = full->created_at_ms + 20;
	full->node_id = xstrdup("node-7");
	full->container_id = xstrdup("c0ffee");
	/* Present and 0: must not come back as absent. */
	full->has_exit_code = true;
	full->exit_code = 0;
	full->error = xstrdup("none, really");
	full->has_stop_requested = true;
	full->stop_requested = true;

	/* A copy to compare with, since the store takes the original. */
	{
		size_t len = orch__task__get_packed_size(full);
		uint8_t *buf = malloc(len);

		ASSERT(buf != NULL);
		orch__task__pack(full, buf);
		want = orch__task__unpack(NULL, len, buf);
		ASSERT(want != NULL);
		free(buf);
	}
	ASSERT_INT_EQ(
	    orch_store_task_insert_sync(st, full, &stored, err, sizeof(err)),
	    ORCH_OK);
	ASSERT(stored != NULL);
	ASSERT(task_same(stored, want));
	orch_task_free(stored);
	free(insert_ok(st, bare));

	ASSERT_INT_EQ(orch_store_ping(r), ORCH_OK);
	ASSERT_INT_EQ(orch_store_task_get(r, want->id, &got), ORCH_OK);
	ASSERT(task_same(got, want));
	ASSERT_STR_EQ(got->spec->name, "full");
	ASSERT_STR_EQ(got->spec->image, "alpine:3.19");
	ASSERT_INT_EQ(got->spec->n_env, 2);
	ASSERT_STR_EQ(got->spec->env[1]->key, "GREETING");
	ASSERT_STR_EQ(got->spec->env[1]->value, "hello, world = \"x\"");
	ASSERT_INT_EQ(got->spec->n_command, 3);
	ASSERT_STR_EQ(got->spec->command[2], "echo hi; exit 0");
	ASSERT_INT_EQ(got->spec->memory_mb, 1024);
	ASSERT(got->spec->cpu == 1.25);
	ASSERT_INT_EQ(got->status, ORCH__TASK_STATUS__TASK_STATUS_COMPLETED);
	ASSERT_INT_EQ(got->created_at_ms, want->created_at_ms);
	ASSERT(got->has_started_at_ms && got->has_finished_at_ms);
	ASSERT_STR_EQ(got->node_id, "node-7");
	ASSERT_STR_EQ(got->container_id, "c0ffee");
	ASSERT(got->has_exit_code);
	ASSERT_INT_EQ(got->exit_code, 0);
	ASSERT_STR_EQ(got->error, "none, really");
	ASSERT(got->has_stop_requested && got->stop_requested);
	orch_task_free(got);

	ASSERT_INT_EQ(orch_store_task_list(r, 0, &list, &n), ORCH_OK);
	ASSERT_INT_EQ(n, 2);
	ASSERT(task_same(list[0], want));
	/* Absent stays absent. */
	ASSERT_STR_EQ(list[1]->spec->name, "bare");
	ASSERT(!list[1]->has_exit_code);
	ASSERT(!list[1]->has_started_at_ms);
	ASSERT(list[1]->node_id == NULL);
	ASSERT(!list[1]->has_stop_requested);
	orch_store_task_list_free(list, n);

	ASSERT_INT_EQ(orch_store_task_get(
	                  r, "00000000-0000-4000-8000-000000000000", &got),
	    ORCH_ENOENT);
	ASSERT(got == NULL);

	/* A task without an id is refused at once. */
	{
		orch_task *noid = mk_task("noid");

		free(noid->id);
		noid->id = NULL;
		ASSERT_INT_EQ(orch_store_task_insert_sync(
		                  st, noid, NULL, err, sizeof(err)),
		    ORCH_EINVAL);
		ASSERT_STR_CONTAINS(err, "id");
	}

	orch_task_free(want);
	orch_store_reader_free(r);
	orch_store_close(st);
	h_rm_rf(dir);
	free(dir);
}

static void
test_list_filter_order(void)
{
	static const int statuses[] = {ST_PENDING, ST_RUNNING, ST_RUNNING,
	    ST_FAILED, ST_PENDING, ST_RUNNING, ST_PENDING, ST_RUNNING};
	enum { N = sizeof(statuses) / sizeof(statuses[0]) };
	char *dir = h_tmpdir("store-list");
	struct orch_store *st = store_open(dir);
	struct orch_store_reader *r = reader_new(st);
	char *ids[N];
	orch_task **list;
	size_t n, k;

	for (int i = 0; i < N; i++) {
		char name[32];
		orch_task *t;

		snprintf(name, sizeof(name), "t%d", i);
		t = mk_task(name);
		t->status = statuses[i];
		ids[i] = insert_ok(st, t);
	}
	ASSERT_INT_EQ(orch_store_task_list(r, 0, &list, &n), ORCH_OK);
	ASSERT_INT_EQ(n, N);
	for (int i = 0; i < N; i++)
		ASSERT_STR_EQ(list[i]->id, ids[i]);
	orch_store_task_list_free(list, n);

	ASSERT_INT_EQ(orch_store_task_list(r, ST_RUNNING, &list, &n), ORCH_OK);
	ASSERT_INT_EQ(n, 4);
	k = 0;
	for (int i = 0; i < N; i++) {
		if (statuses[i] == ST_RUNNING) {
			ASSERT_INT_EQ(list[k]->status, ST_RUNNING);
			ASSERT_STR_EQ(list[k]->id, ids[i]);
			k++;
		}
	}
	orch_store_task_list_free(list, n);

	ASSERT_INT_EQ(orch_store_task_list(
	                  r, ORCH__TASK_STATUS__TASK_STATUS_STOPPED, &list, &n),
	    ORCH_OK);
	ASSERT_INT_EQ(n, 0);
	orch_store_task_list_free(list, n);

	for (int i = 0; i < N; i++)
		free(ids[i]);
	orch_store_reader_free(r);
	orch_store_close(st);
	h_rm_rf(dir);
	free(dir);
}

static void
test_duplicate_id(void)
{
	char *dir = h_tmpdir("store-dup");
	struct orch_store *st = store_open(dir);
	struct orch_store_reader *r = reader_new(st);
	orch_task *dup = mk_task("impostor"), *got;
	char *id = insert_ok(st, mk_task("original"));
	char err[512];

	ASSERT_INT_EQ(orch_str_set(&dup->id, id), ORCH_OK);
	ASSERT_INT_EQ(
	    orch_store_task_insert_sync(st, dup, &got, err, sizeof(err)),
	    ORCH_EEXIST);
	ASSERT(got == NULL);
	ASSERT_STR_CONTAINS(err, id);
	ASSERT_STR_CONTAINS(err, "already exists");

	ASSERT_INT_EQ(orch_store_task_get(r, id, &got), ORCH_OK);
	ASSERT_STR_EQ(got->spec->name, "original");
	orch_task_free(got);

	free(id);
	orch_store_reader_free(r);
	orch_store_close(st);
	h_rm_rf(dir);
	free(dir);
}

static void
test_modify(void)
{
	char *dir = h_tmpdir("store-mod");
	struct orch_store *st = store_open(dir);
	struct orch_store_reader *r = reader_new(st);
	char *id = insert_ok(st, mk_task("m"));
	orch_task *out = NULL, *before, *after, **list;
	int running = ST_RUNNING;
	char err[512];
	size_t n;

	ASSERT_INT_EQ(orch_store_task_modify_sync(
	                  st, id, mod_status, &running, &out, err, sizeof(err)),
	    ORCH_OK);
	ASSERT(out != NULL);
	ASSERT_INT_EQ(out->status, ST_RUNNING);
	orch_task_free(out);
	ASSERT_INT_EQ(orch_store_task_modify_sync(
	                  st, id, mod_node, "node-3", NULL, err, sizeof(err)),
	    ORCH_OK);

	ASSERT_INT_EQ(orch_store_task_get(r, id, &before), ORCH_OK);
	ASSERT_INT_EQ(before->status, ST_RUNNING);
	ASSERT_STR_EQ(before->node_id, "node-3");
	/* The derived status column followed the blob. */
	ASSERT_INT_EQ(orch_store_task_list(r, ST_RUNNING, &list, &n), ORCH_OK);
	ASSERT_INT_EQ(n, 1);
	orch_store_task_list_free(list, n);
	ASSERT_INT_EQ(orch_store_task_list(r, ST_PENDING, &list, &n), ORCH_OK);
	ASSERT_INT_EQ(n, 0);
	orch_store_task_list_free(list, n);

	ASSERT_INT_EQ(orch_store_task_modify_sync(st,
	                  "00000000-0000-4000-8000-000000000000", mod_status,
	                  &running, &out, err, sizeof(err)),
	    ORCH_ENOENT);
	ASSERT(out == NULL);
	ASSERT_STR_CONTAINS(err, "00000000-0000-4000-8000-000000000000");

	ASSERT_INT_EQ(orch_store_task_modify_sync(
	                  st, id, mod_refuse, NULL, &out, err, sizeof(err)),
	    ORCH_ECONFLICT);
	ASSERT(out == NULL);
	ASSERT_STR_CONTAINS(err, "is busy: refused by the test");
	ASSERT_STR_CONTAINS(err, id);

	ASSERT_INT_EQ(orch_store_task_modify_sync(
	                  st, id, mod_id, NULL, &out, err, sizeof(err)),
	    ORCH_EINVAL);
	ASSERT_STR_CONTAINS(err, "id");

	ASSERT_INT_EQ(orch_store_task_get(r, id, &after), ORCH_OK);
	ASSERT(task_same(before, after));
	ASSERT_INT_EQ(orch_store_task_get(
	                  r, "00000000-0000-4000-8000-000000000000", &out),
	    ORCH_ENOENT);

	/* Whatever changes, the row's columns follow: its node taken away,
	 * an empty node, a new name and cpu (only the full UPDATE sets
	 * those), a status that ends it, nothing but the blob. */
	{
		static const int failed = ST_FAILED;

		ASSERT_INT_EQ(check_derived(dir), 1);
		ASSERT_INT_EQ(orch_store_task_modify_sync(st, id, mod_node,
		                  NULL, NULL, err, sizeof(err)),
		    ORCH_OK);
		ASSERT_INT_EQ(check_derived(dir), 1);
		ASSERT_INT_EQ(orch_store_task_modify_sync(
		                  st, id, mod_node, "", NULL, err, sizeof(err)),
		    ORCH_OK);
		ASSERT_INT_EQ(check_derived(dir), 1);
		ASSERT_INT_EQ(orch_store_task_modify_sync(st, id, mod_spec,
		                  "renamed", NULL, err, sizeof(err)),
		    ORCH_OK);
		ASSERT_INT_EQ(check_derived(dir), 1);
		ASSERT_INT_EQ(orch_store_task_modify_sync(st, id, mod_status,
		                  (void *)&failed, NULL, err, sizeof(err)),
		    ORCH_OK);
		ASSERT_INT_EQ(check_derived(dir), 1);
		ASSERT_INT_EQ(orch_store_task_modify_sync(st, id, mod_node,
		                  "node-4", NULL, err, sizeof(err)),
		    ORCH_OK);
		ASSERT_INT_EQ(check_derived(dir), 1);
	}

	orch_task_free(before);
	orch_task_free(after);
	free(id);
	orch_store_reader_free(r);
	orch_store_close(st);
	h_rm_rf(dir);
	free(dir);
}

static void
test_batch_partial_failure(void)
{
	enum { B, C, D, E, F, G, N_OPS };
	char *dir = h_tmpdir("store-batch");
	struct orch_store *st = store_open(dir);
	struct orch_store_reader *r = reader_new(st);
	char *a = insert_ok(st, mk_task("a"));
	orch_task *tb = mk_task("b"), *tg = mk_task("g"), *dup = mk_task("dup");
	char *idb = xstrdup(tb->id), *idg = xstrdup(tg->id);
	struct orch_store_stats s0, s1;
	struct outcome o[N_OPS];
	struct gate g;
	orch_task *got;

	gate_init(&g);
	for (int i = 0; i < N_OPS; i++)
		outcome_init(&o[i]);
	ASSERT_INT_EQ(orch_str_set(&dup->id, a), ORCH_OK);

	/* Hold the writer in a completion; everything queued meanwhile is
	 * taken as one batch. */
	orch_store_task_insert(st, mk_task("gate"), gate_done, &g);
	gate_wait_entered(&g);
	orch_store_stats(st, &s0);
	orch_store_task_insert(st, tb, outcome_done, &o[B]);
	orch_store_task_insert(st, dup, outcome_done, &o[C]);
	orch_store_task_modify(st, "00000000-0000-4000-8000-000000000000",
	    mod_node, "x", outcome_done, &o[D]);
	orch_store_task_modify(st, a, mod_node, "node-1", outcome_done, &o[E]);
	orch_store_task_modify(st, a, mod_refuse, NULL, outcome_done, &o[F]);
	orch_store_task_insert(st, tg, outcome_done, &o[G]);
	for (int i = 0; i < N_OPS; i++)
		ASSERT(!o[i].done);
	gate_open(&g);
	for (int i = 0; i < N_OPS; i++) {
		outcome_wait(&o[i]);
		ASSERT(o[i].on_writer);
	}
	orch_store_stats(st, &s1);
	ASSERT_INT_EQ(s1.commits - s0.commits, 1);
	ASSERT_INT_EQ(s1.writes - s0.writes, N_OPS);
	ASSERT_INT_EQ(s1.failed - s0.failed, 3);

	ASSERT_INT_EQ(o[B].rc, ORCH_OK);
	ASSERT_STR_EQ(o[B].task->id, idb);
	ASSERT_INT_EQ(o[C].rc, ORCH_EEXIST);
	ASSERT_STR_CONTAINS(o[C].err, a);
	ASSERT_INT_EQ(o[D].rc, ORCH_ENOENT);
	ASSERT_INT_EQ(o[E].rc, ORCH_OK);
	ASSERT_STR_EQ(o[E].task->node_id, "node-1");
	ASSERT_INT_EQ(o[F].rc, ORCH_ECONFLICT);
	ASSERT_STR_CONTAINS(o[F].err, "refused by the test");
	ASSERT_INT_EQ(o[G].rc, ORCH_OK);

	ASSERT_INT_EQ(orch_store_task_get(r, idb, &got), ORCH_OK);
	orch_task_free(got);
	ASSERT_INT_EQ(orch_store_task_get(r, idg, &got), ORCH_OK);
	orch_task_free(got);
	/* E's change survives F's rollback to its own savepoint. */
	ASSERT_INT_EQ(orch_store_task_get(r, a, &got), ORCH_OK);
	ASSERT_STR_EQ(got->node_id, "node-1");
	ASSERT_STR_EQ(got->spec->name, "a");
	ASSERT(got->error == NULL);
	ASSERT_INT_EQ(got->status, ST_PENDING);
	orch_task_free(got);

	for (int i = 0; i < N_OPS; i++)
		outcome_fini(&o[i]);
	gate_fini(&g);
	free(a);
	free(idb);
	free(idg);
	orch_store_reader_free(r);
	orch_store_close(st);
	h_rm_rf(dir);
	free(dir);
}

/* A blocking write from a completion would wait for itself. */
struct sync_in_done {
	struct orch_store *st;
	struct outcome o;
	int rc;
	char err[512];
};

static void
sync_in_done_cb(void *arg, int rc, orch_task *task, const char *err)
{
	struct sync_in_done *s = arg;

	orch_task_free(task);
	s->rc = orch_store_task_insert_sync(
	    s->st, mk_task("inner"), NULL, s->err, sizeof(s->err));
	outcome_done(&s->o, rc, NULL, err);
}

static void
test_sync_from_completion(void)
{
	char *dir = h_tmpdir("store-self");
	struct sync_in_done s = {.st = store_open(dir)};

	outcome_init(&s.o);
	orch_store_task_insert(s.st, mk_task("outer"), sync_in_done_cb, &s);
	outcome_wait(&s.o);
	ASSERT_INT_EQ(s.o.rc, ORCH_OK);
	ASSERT_INT_EQ(s.rc, ORCH_EINTERNAL);
	ASSERT_STR_CONTAINS(s.err, "completion");
	outcome_fini(&s.o);
	orch_store_close(s.st);
	h_rm_rf(dir);
	free(dir);
}

/* Enqueues from the writer (in the gate's completion) until the store
 * refuses because close has begun. */
struct flood {
	struct orch_store *st;
	struct outcome o[4096];
	int n; /* enqueued, the last one refused */
};

static void
flood_run(void *arg)
{
	struct flood *f = arg;

	for (f->n = 0; f->n < (int)(sizeof(f->o) / sizeof(f->o[0]));) {
		struct outcome *o = &f->o[f->n++];

		outcome_init(o);
		orch_store_task_insert(
		    f->st, mk_task("flood"), outcome_done, o);
		if (o->done) {
			/* Completed at once: the refusal. */
			return;
		}
		usleep(1000);
	}
	h_fail(__FILE__, __LINE__, "close never began");
}

static void *
close_thread(void *arg)
{
	orch_store_close(arg);
	return NULL;
}

static void
test_close_drains(void)
{
	enum { N_EARLY = 5 };
	struct outcome early[N_EARLY];
	char *dir = h_tmpdir("store-close");
	struct flood *f = calloc(1, sizeof(*f));
	struct orch_store_reader *r;
	struct gate g;
	pthread_t th;
	orch_task **list;
	size_t n;

	ASSERT(f != NULL);
	f->st = store_open(dir);
	gate_init(&g);
	g.then = flood_run;
	g.then_arg = f;
	orch_store_task_insert(f->st, mk_task("gate"), gate_done, &g);
	gate_wait_entered(&g);
	/* Queued before close: close must complete them, durably. */
	for (int i = 0; i < N_EARLY; i++) {
		outcome_init(&early[i]);
		orch_store_task_insert(
		    f->st, mk_task("early"), outcome_done, &early[i]);
	}
	ASSERT_INT_EQ(pthread_create(&th, NULL, close_thread, f->st), 0);
	gate_open(&g);
	ASSERT_INT_EQ(pthread_join(th, NULL), 0);
	for (int i = 0; i < N_EARLY; i++) {
		ASSERT(early[i].done);
		ASSERT_INT_EQ(early[i].rc, ORCH_OK);
		outcome_fini(&early[i]);
	}

	ASSERT(f->n >= 1);
	for (int i = 0; i < f->n - 1; i++) {
		ASSERT(f->o[i].done);
		ASSERT_INT_EQ(f->o[i].rc, ORCH_OK);
	}
	ASSERT_INT_EQ(f->o[f->n - 1].rc, ORCH_EUNAVAIL);
	ASSERT_STR_CONTAINS(f->o[f->n - 1].err, "closing");
	fprintf(stderr,
	    "   %d writes queued from a completion while closing "
	    "were drained\n",
	    f->n - 1);

	f->st = store_open(dir);
	r = reader_new(f->st);
	ASSERT_INT_EQ(orch_store_task_list(r, 0, &list, &n), ORCH_OK);
	ASSERT_INT_EQ(n, 1 + N_EARLY + (size_t)(f->n - 1));
	orch_store_task_list_free(list, n);
	orch_store_reader_free(r);
	orch_store_close(f->st);

	for (int i = 0; i < f->n; i++)
		outcome_fini(&f->o[i]);
	gate_fini(&g);
	free(f);
	h_rm_rf(dir);
	free(dir);
}

static void
test_durability(void)
{
	char *dir = h_tmpdir("store-reopen");
	struct orch_store *st = store_open(dir);
	struct orch_store_reader *r;
	char *ids[5];
	orch_task *got;
	int running = ST_RUNNING;
	char err[512];

	for (int i = 0; i < 5; i++)
		ids[i] = insert_ok(st, mk_task("durable"));
	ASSERT_INT_EQ(orch_store_task_modify_sync(st, ids[2], mod_status,
	                  &running, NULL, err, sizeof(err)),
	    ORCH_OK);
	orch_store_close(st);

	st = store_open(dir);
	r = reader_new(st);
	for (int i = 0; i < 5; i++) {
		ASSERT_INT_EQ(orch_store_task_get(r, ids[i], &got), ORCH_OK);
		ASSERT_STR_EQ(got->spec->name, "durable");
		ASSERT_INT_EQ(got->status, i == 2 ? ST_RUNNING : ST_PENDING);
		orch_task_free(got);
		free(ids[i]);
	}
	orch_store_reader_free(r);
	orch_store_close(st);
	h_rm_rf(dir);
	free(dir);
}

static void
test_migrate_empty(void)
{
	char *dir = h_tmpdir("store-mig");
	sqlite3 *db = raw_open(dir);
	struct orch_store *st;
	char *id;

	/* A real database file with no tables and user_version 0. */
	ASSERT_INT_EQ(sqlite3_exec(db, "CREATE TABLE x (a); DROP TABLE x;",
	                  NULL, NULL, NULL),
	    SQLITE_OK);
	ASSERT_INT_EQ(raw_int(db, "PRAGMA user_version"), 0);
	ASSERT_INT_EQ(raw_int(db, "SELECT count(*) FROM sqlite_master"), 0);
	sqlite3_close(db);

	st = store_open(dir);
	id = insert_ok(st, mk_task("migrated"));
	orch_store_close(st);

	db = raw_open(dir);
	ASSERT(raw_int(db, "PRAGMA user_version") >= 1);
	ASSERT_INT_EQ(raw_int(db,
	                  "SELECT count(*) FROM sqlite_master WHERE "
	                  "type = 'table' AND name = 'tasks'"),
	    1);
	ASSERT_INT_EQ(raw_int(db,
	                  "SELECT count(*) FROM sqlite_master WHERE "
	                  "type = 'index' AND name IN ('tasks_status', "
	                  "'tasks_node_id')"),
	    2);
	/* Migration 6 dropped it: no query needs it. */
	ASSERT_INT_EQ(raw_int(db,
	                  "SELECT count(*) FROM sqlite_master WHERE "
	                  "type = 'index' AND name = 'tasks_name'"),
	    0);
	ASSERT_INT_EQ(raw_int(db, "SELECT count(*) FROM tasks"), 1);
	ASSERT_INT_EQ(raw_int(db,
	                  "SELECT count(*) FROM sqlite_master WHERE "
	                  "type = 'table' AND name = 'nodes'"),
	    1);
	/* Persistent: the store switched the file to WAL. */
	{
		sqlite3_stmt *s;

		ASSERT_INT_EQ(
		    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL),
		    SQLITE_OK);
		ASSERT_INT_EQ(sqlite3_step(s), SQLITE_ROW);
		ASSERT_STR_EQ((const char *)sqlite3_column_text(s, 0), "wal");
		sqlite3_finalize(s);
	}
	sqlite3_close(db);
	free(id);
	h_rm_rf(dir);
	free(dir);
}

static void
test_future_version_refused(void)
{
	char *dir = h_tmpdir("store-future");
	sqlite3 *db = raw_open(dir);
	struct orch_store *st = (struct orch_store *)&st;

	ASSERT_INT_EQ(
	    sqlite3_exec(db, "PRAGMA user_version = 999", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	ASSERT_INT_EQ(orch_store_open(dir, NULL, &st), ORCH_EIO);
	ASSERT(st == NULL);
	/* Left as it was. */
	db = raw_open(dir);
	ASSERT_INT_EQ(raw_int(db, "PRAGMA user_version"), 999);
	ASSERT_INT_EQ(raw_int(db, "SELECT count(*) FROM sqlite_master"), 0);
	/* Not even switched to WAL. */
	{
		sqlite3_stmt *s;

		ASSERT_INT_EQ(
		    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL),
		    SQLITE_OK);
		ASSERT_INT_EQ(sqlite3_step(s), SQLITE_ROW);
		ASSERT_STR_EQ(
		    (const char *)sqlite3_column_text(s, 0), "delete");
		sqlite3_finalize(s);
	}
	sqlite3_close(db);
	h_rm_rf(dir);
	free(dir);
}

static void
test_corrupt(void)
{
	char *dir = h_tmpdir("store-corrupt");
	struct orch_store *st = store_open(dir);
	struct orch_store_reader *r;
	char *bad = insert_ok(st, mk_task("bad"));
	char *good = insert_ok(st, mk_task("good"));
	orch_task *got, **list;
	char err[512], *path;
	sqlite3 *db;
	size_t n;
	int running = ST_RUNNING, fd;

	orch_store_close(st);
	/* A length-delimited field whose length runs past the end. */
	db = raw_open(dir);
	{
		sqlite3_stmt *s;

		ASSERT_INT_EQ(sqlite3_prepare_v2(db,
		                  "UPDATE tasks SET task = "
		                  "x'0a7f41' WHERE id = ?1",
		                  -1, &s, NULL),
		    SQLITE_OK);
		sqlite3_bind_text(s, 1, bad, -1, SQLITE_STATIC);
		ASSERT_INT_EQ(sqlite3_step(s), SQLITE_DONE);
		sqlite3_finalize(s);
	}
	sqlite3_close(db);

	st = store_open(dir);
	r = reader_new(st);
	ASSERT_INT_EQ(orch_store_task_get(r, bad, &got), ORCH_EIO);
	ASSERT(got == NULL);
	ASSERT_INT_EQ(orch_store_task_get(r, good, &got), ORCH_OK);
	orch_task_free(got);
	ASSERT_INT_EQ(orch_store_task_list(r, 0, &list, &n), ORCH_EIO);
	ASSERT(list == NULL && n == 0);
	ASSERT_INT_EQ(orch_store_task_modify_sync(st, bad, mod_status, &running,
	                  &got, err, sizeof(err)),
	    ORCH_EIO);
	ASSERT_STR_CONTAINS(err, bad);
	ASSERT_STR_CONTAINS(err, "does not decode");
	orch_store_reader_free(r);
	orch_store_close(st);
	free(bad);
	free(good);

	/* A file that is not a database at all. */
	path = db_path(dir);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ASSERT(fd >= 0);
	for (int i = 0; i < 64; i++)
		ASSERT_INT_EQ(
		    write(fd, "this is not an SQLite database....", 32), 32);
	close(fd);
	st = (struct orch_store *)&st;
	ASSERT_INT_EQ(orch_store_open(dir, NULL, &st), ORCH_EIO);
	ASSERT(st == NULL);
	free(path);
	h_rm_rf(dir);
	free(dir);
}

enum {
	GC_THREADS = 16,
	GC_PER_THREAD = 125,
	GC_TOTAL = GC_THREADS * GC_PER_THREAD
};

struct gc_worker {
	struct orch_store *st;
	int index;
	char (*ids)[ORCH_ID_LEN];
};

static void *
gc_worker_main(void *arg)
{
	struct gc_worker *w = arg;
	char err[512];

	for (int i = 0; i < GC_PER_THREAD; i++) {
		orch_task *t = mk_task("gc");
		int rc;

		snprintf(w->ids[w->index * GC_PER_THREAD + i], ORCH_ID_LEN,
		    "%s", t->id);
		rc = orch_store_task_insert_sync(
		    w->st, t, NULL, err, sizeof(err));
		if (rc != ORCH_OK)
			h_fail(__FILE__, __LINE__, "insert: %s", err);
	}
	return NULL;
}

static int
cmp_id(const void *a, const void *b)
{
	return strcmp(a, b);
}

static int
cmp_task_id(const void *a, const void *b)
{
	const orch_task *const *x = a, *const *y = b;

	return strcmp((*x)->id, (*y)->id);
}

static void
test_group_commit(void)
{
	char *dir = h_tmpdir("store-gc");
	struct orch_store *st = store_open(dir);
	struct orch_store_reader *r = reader_new(st);
	char(*ids)[ORCH_ID_LEN] = calloc(GC_TOTAL, ORCH_ID_LEN);
	struct gc_worker w[GC_THREADS];
	pthread_t th[GC_THREADS];
	struct orch_store_stats s0, s1;
	orch_task **list;
	size_t n;

	ASSERT(ids != NULL);
	orch_store_stats(st, &s0);
	for (int i = 0; i < GC_THREADS; i++) {
		w[i] = (struct gc_worker){.st = st, .index = i, .ids = ids};
		ASSERT_INT_EQ(
		    pthread_create(&th[i], NULL, gc_worker_main, &w[i]), 0);
	}
	for (int i = 0; i < GC_THREADS; i++)
		ASSERT_INT_EQ(pthread_join(th[i], NULL), 0);
	orch_store_stats(st, &s1);

	ASSERT_INT_EQ(s1.writes - s0.writes, GC_TOTAL);
	ASSERT_INT_EQ(s1.failed - s0.failed, 0);
	ASSERT(s1.commits - s0.commits < s1.writes - s0.writes);
	fprintf(stderr, "   %d writes in %llu commits\n", GC_TOTAL,
	    (unsigned long long)(s1.commits - s0.commits));

	/* Every one there, exactly once. */
	ASSERT_INT_EQ(orch_store_task_list(r, 0, &list, &n), ORCH_OK);
	ASSERT_INT_EQ(n, GC_TOTAL);
	qsort(list, n, sizeof(*list), cmp_task_id);
	qsort(ids, GC_TOTAL, ORCH_ID_LEN, cmp_id);
	for (size_t i = 0; i < n; i++)
		ASSERT_STR_EQ(list[i]->id, ids[i]);
	orch_store_task_list_free(list, n);

	free(ids);
	orch_store_reader_free(r);
	orch_store_close(st);
	h_rm_rf(dir);
	free(dir);
}

/* A task with a 16 KiB environment value: a few pages per insert. */
static orch_task *
mk_big_task(void)
{
	orch_task *t = mk_task("big");
	char *v = malloc(16384 + 1);

	ASSERT(v != NULL);
	for (int i = 0; i < 16384; i++)
		v[i] = (char)('a' + rand() % 26);
	v[16384] = '\0';
	add_env(t->spec, "PAYLOAD", v);
	free(v);
	return t;
}

static bool
store_writable(void *arg)
{
	struct orch_store_health h;

	orch_store_health(arg, &h);
	return h.writable;
}

/* The events the store's listeners heard, for full_disk_body. */
struct ev_heard {
	pthread_mutex_t mu;
	uint64_t n, last;
	bool gap; /* an index that was not the one after the last */
};

static void
on_event_heard(void *arg, const struct orch_store_event *e)
{
	struct ev_heard *h = arg;

	pthread_mutex_lock(&h->mu);
	if (e->index != h->last + 1)
		h->gap = true;
	h->last = e->index;
	h->n++;
	pthread_mutex_unlock(&h->mu);
}

/* Asserts that the listener heard events 1..n, in order. */
static void
expect_heard(struct ev_heard *h, uint64_t n)
{
	pthread_mutex_lock(&h->mu);
	ASSERT(!h->gap);
	ASSERT_INT_EQ(h->n, n);
	ASSERT_INT_EQ(h->last, n);
	pthread_mutex_unlock(&h->mu);
}

/* orch_store_events_read()'s callback: counts events 1, 2, 3... and
 * fails at a hole. */
static int
ev_count(void *arg, uint64_t index, const uint8_t *data, size_t len)
{
	uint64_t *n = arg;

	(void)data;
	(void)len;
	if (index != *n + 1)
		return ORCH_EINTERNAL;
	(*n)++;
	return ORCH_OK;
}

/* Runs in a child with its own mount namespace holding a 512 KiB tmpfs
 * at dir: the mount dies with the child however the child ends.  Besides
 * the writes and reads, the events: a refused batch's are never heard
 * of, and their indexes are given again to the next commit. */
static void
full_disk_body(const char *dir)
{
	struct ev_heard eh = {.mu = PTHREAD_MUTEX_INITIALIZER};
	uint64_t n_ev = 0;
	char filler[512], err[512];
	struct orch_store *st;
	struct orch_store_reader *r;
	orch_task *t, *got, **list;
	char *first, *last;
	static char chunk[4096];
	size_t n;
	int fd, rc = ORCH_OK, ok = 0;

	st = store_open(dir);
	r = reader_new(st);
	ASSERT_INT_EQ(
	    orch_store_events_listen(st, on_event_heard, &eh), ORCH_OK);
	first = insert_ok(st, mk_task("before"));

	/* Take every free byte. */
	snprintf(filler, sizeof(filler), "%s/filler", dir);
	fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ASSERT(fd >= 0);
	memset(chunk, 'x', sizeof(chunk));
	while (write(fd, chunk, sizeof(chunk)) > 0)
		;
	ASSERT_INT_EQ(errno, ENOSPC);
	close(fd);

	/* The WAL may still have room from earlier commits; write until the
	 * store refuses. */
	for (int i = 0; i < 100 && rc == ORCH_OK; i++) {
		t = mk_big_task();
		rc = orch_store_task_insert_sync(st, t, NULL, err, sizeof(err));
		if (rc == ORCH_OK)
			ok++;
	}
	ASSERT_INT_EQ(rc, ORCH_ENOSPC);
	ASSERT_STR_CONTAINS(err, "the manager's disk is full: ");
	ASSERT_STR_CONTAINS(err, "inserting task");
	ASSERT_STR_CONTAINS(err, "writes are refused until space returns");
	{
		struct orch_store_health h;

		orch_store_health(st, &h);
		ASSERT(!h.writable);
		ASSERT(h.refused >= 1);
		ASSERT(h.since_ms > 0);
		ASSERT_STR_CONTAINS(h.why, "the manager's disk is full: ");
	}
	fprintf(stderr, "   refused after %d inserts: %s\n", ok, err);
	/* And again: the writer is still there.  A failed commit fails every
	 * write of its batch, each with a message naming its own task. */
	{
		struct outcome o[3];
		struct gate g;
		char ids[3][ORCH_ID_LEN];

		gate_init(&g);
		orch_store_task_modify(
		    st, first, mod_node, "n", gate_done_any, &g);
		gate_wait_entered(&g);
		for (int i = 0; i < 3; i++) {
			outcome_init(&o[i]);
			t = mk_big_task();
			snprintf(ids[i], sizeof(ids[i]), "%s", t->id);
			orch_store_task_insert(st, t, outcome_done, &o[i]);
		}
		gate_open(&g);
		for (int i = 0; i < 3; i++) {
			outcome_wait(&o[i]);
			ASSERT_INT_EQ(o[i].rc, ORCH_ENOSPC);
			ASSERT_STR_CONTAINS(o[i].err, ids[i]);
			ASSERT_STR_CONTAINS(
			    o[i].err, "the manager's disk is full: ");
			outcome_fini(&o[i]);
		}
		gate_fini(&g);
	}

	/* No event of a refused write was heard: "before" and those taken
	 * before the disk was full. */
	expect_heard(&eh, 1 + (uint64_t)ok);

	/* Reads go on. */
	ASSERT_INT_EQ(orch_store_ping(r), ORCH_OK);
	ASSERT_INT_EQ(orch_store_task_get(r, first, &got), ORCH_OK);
	orch_task_free(got);
	ASSERT_INT_EQ(orch_store_task_list(r, 0, &list, &n), ORCH_OK);
	ASSERT_INT_EQ(n, 1 + (size_t)ok);
	orch_store_task_list_free(list, n);

	/* Space comes back, and so do writes: the store notices by itself,
	 * with no write of a client's to show it. */
	ASSERT_INT_EQ(unlink(filler), 0);
	ASSERT(h_wait_until(store_writable, st, 10000));
	last = insert_ok(st, mk_big_task());
	ASSERT_INT_EQ(orch_store_task_get(r, last, &got), ORCH_OK);
	orch_task_free(got);
	/* Its event has the index after the last committed one, as the
	 * table has: the refused batches gave theirs back. */
	expect_heard(&eh, 2 + (uint64_t)ok);
	ASSERT_INT_EQ(
	    orch_store_events_read(r, 0, 100000, ev_count, &n_ev), ORCH_OK);
	ASSERT_INT_EQ(n_ev, 2 + (uint64_t)ok);
	orch_store_events_unlisten(st, on_event_heard, &eh);

	orch_store_reader_free(r);
	orch_store_close(st);
	free(first);
	free(last);

	/* Still there after a reopen. */
	st = store_open(dir);
	r = reader_new(st);
	ASSERT_INT_EQ(orch_store_task_list(r, 0, &list, &n), ORCH_OK);
	ASSERT_INT_EQ(n, 2 + (size_t)ok);
	orch_store_task_list_free(list, n);
	orch_store_reader_free(r);
	orch_store_close(st);
}

#define SKIPPED 77

static void
test_full_disk(void)
{
	char *dir = h_tmpdir("store-full");
	pid_t pid;
	int status;

	fflush(NULL);
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		/* A private mount namespace: nothing to unmount afterwards,
		 * even when an assertion or a sanitizer ends the child. */
		if (unshare(CLONE_NEWNS) != 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
		    mount("orch-test", dir, "tmpfs", 0, "size=512k") != 0) {
			fprintf(stderr,
			    "   skipped: cannot mount a tmpfs here: %s\n",
			    strerror(errno));
			_exit(SKIPPED);
		}
		full_disk_body(dir);
		exit(0);
	}
	ASSERT_INT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT(WIFEXITED(status));
	ASSERT(WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == SKIPPED);
	h_rm_rf(dir);
	free(dir);
}

/* ---- nodes ---- */

static Orch__NodeRegistration__LabelsEntry *
label(const char *k, const char *v)
{
	Orch__NodeRegistration__LabelsEntry *e = malloc(sizeof(*e));

	ASSERT(e != NULL);
	orch__node_registration__labels_entry__init(e);
	e->key = (char *)k;
	e->value = (char *)v;
	return e;
}

/* Registers name and returns the stored node (caller frees). */
static orch_node *
node_register(struct orch_store *st, const Orch__NodeRegistration *reg)
{
	orch_node *n = NULL;
	char err[512];
	int rc = orch_store_node_register_sync(st, reg, &n, err, sizeof(err));

	if (rc != ORCH_OK)
		h_fail(__FILE__, __LINE__, "register: %d %s", rc, err);
	ASSERT(n != NULL);
	return n;
}

static void
test_node_register(void)
{
	char *dir = h_tmpdir("store-node");
	struct orch_store *st = store_open(dir);
	struct orch_store_reader *r = reader_new(st);
	Orch__NodeRegistration reg = ORCH__NODE_REGISTRATION__INIT;
	Orch__NodeRegistration__LabelsEntry *labels[2];
	char *drivers[] = {"docker"};
	orch_node *n1, *n2, *g, **list;
	int64_t before = orch_now_ms();
	char err[512];
	size_t n;

	labels[0] = label("zone", "a");
	labels[1] = label("disk", "ssd");
	reg.name = "node-a";
	reg.address = "10.0.0.5";
	reg.n_labels = 2;
	reg.labels = labels;
	reg.has_cpu = true;
	reg.cpu = 4;
	reg.has_memory_mb = true;
	reg.memory_mb = 8192;
	reg.n_drivers = 1;
	reg.drivers = drivers;
	reg.agent_version = "0.1.0";

	n1 = node_register(st, &reg);
	ASSERT(orch_id_valid(n1->id));
	ASSERT_STR_EQ(n1->name, "node-a");
	ASSERT_STR_EQ(n1->address, "10.0.0.5");
	ASSERT_INT_EQ(n1->n_labels, 2);
	ASSERT_STR_EQ(n1->labels[1]->key, "disk");
	ASSERT_STR_EQ(n1->labels[1]->value, "ssd");
	ASSERT(n1->cpu == 4.0);
	ASSERT_INT_EQ(n1->memory_mb, 8192);
	ASSERT_INT_EQ(n1->n_drivers, 1);
	ASSERT_STR_EQ(n1->drivers[0], "docker");
	ASSERT_STR_EQ(n1->agent_version, "0.1.0");
	ASSERT(n1->has_registered_at_ms && n1->registered_at_ms >= before);
	/* Live fields are not stored. */
	ASSERT(!n1->has_status && !n1->has_last_heartbeat_ms);

	/* The same name again: the same node, same id and registered_at,
	 * with what the agent says now. */
	reg.n_labels = 1;
	reg.memory_mb = 4096;
	reg.address = "10.0.0.6";
	reg.agent_version = "0.2.0";
	n2 = node_register(st, &reg);
	ASSERT_STR_EQ(n2->id, n1->id);
	ASSERT_INT_EQ(n2->registered_at_ms, n1->registered_at_ms);
	ASSERT_INT_EQ(n2->memory_mb, 4096);
	ASSERT_STR_EQ(n2->address, "10.0.0.6");
	ASSERT_STR_EQ(n2->agent_version, "0.2.0");
	ASSERT_INT_EQ(n2->n_labels, 1);

	/* Read back by id and by name. */
	ASSERT_INT_EQ(orch_store_node_get(r, n1->id, &g), ORCH_OK);
	ASSERT_STR_EQ(g->name, "node-a");
	ASSERT_INT_EQ(g->memory_mb, 4096);
	orch_node_free(g);
	ASSERT_INT_EQ(orch_store_node_get(r, "node-a", &g), ORCH_OK);
	ASSERT_STR_EQ(g->id, n1->id);
	orch_node_free(g);
	ASSERT_INT_EQ(orch_store_node_get(r, "node-z", &g), ORCH_ENOENT);
	ASSERT(g == NULL);
	ASSERT_INT_EQ(orch_store_node_get(r, "", &g), ORCH_EINVAL);

	/* A name that looks like another node's id: the id wins. */
	{
		Orch__NodeRegistration r2 = ORCH__NODE_REGISTRATION__INIT;
		orch_node *odd;

		r2.name = n1->id;
		r2.has_cpu = true;
		r2.cpu = 1;
		r2.has_memory_mb = true;
		r2.memory_mb = 64;
		odd = node_register(st, &r2);
		ASSERT(strcmp(odd->id, n1->id) != 0);
		ASSERT_INT_EQ(orch_store_node_get(r, n1->id, &g), ORCH_OK);
		ASSERT_STR_EQ(g->name, "node-a");
		orch_node_free(g);
		orch_node_free(odd);
	}

	/* Listed by name. */
	reg.name = "a-first";
	orch_node_free(node_register(st, &reg));
	ASSERT_INT_EQ(orch_store_node_list(r, &list, &n), ORCH_OK);
	ASSERT_INT_EQ(n, 3);
	for (size_t i = 1; i < n; i++)
		ASSERT(strcmp(list[i - 1]->name, list[i]->name) < 0);
	orch_store_node_list_free(list, n);

	/* No name: refused. */
	reg.name = NULL;
	ASSERT_INT_EQ(
	    orch_store_node_register_sync(st, &reg, &g, err, sizeof(err)),
	    ORCH_EINVAL);
	ASSERT(g == NULL);
	ASSERT_STR_CONTAINS(err, "name");

	orch_node_free(n1);
	orch_node_free(n2);
	free(labels[0]);
	free(labels[1]);
	orch_store_reader_free(r);
	orch_store_close(st);

	/* Durable, and a restart keeps the id. */
	st = store_open(dir);
	r = reader_new(st);
	ASSERT_INT_EQ(orch_store_node_get(r, "node-a", &g), ORCH_OK);
	ASSERT_INT_EQ(g->memory_mb, 4096);
	orch_node_free(g);
	orch_store_reader_free(r);
	orch_store_close(st);
	h_rm_rf(dir);
	free(dir);
}

/* Two registrations of one name in one batch: one node. */
static void
test_node_register_same_batch(void)
{
	char *dir = h_tmpdir("store-node-batch");
	struct orch_store *st = store_open(dir);
	struct orch_store_reader *r = reader_new(st);
	Orch__NodeRegistration reg = ORCH__NODE_REGISTRATION__INIT;
	struct gate g;
	struct node_pair nd = {.done = 0};
	orch_node **list;
	size_t n;

	reg.name = "twice";
	reg.has_cpu = true;
	reg.cpu = 1;
	reg.has_memory_mb = true;
	reg.memory_mb = 128;
	gate_init(&g);
	pthread_mutex_init(&nd.mu, NULL);
	orch_store_task_insert(st, mk_task("gate"), gate_done, &g);
	gate_wait_entered(&g);
	for (int i = 0; i < 2; i++)
		orch_store_node_register(st, &reg, node_done_store, &nd);
	gate_open(&g);
	for (;;) {
		pthread_mutex_lock(&nd.mu);
		if (nd.done == 2) {
			pthread_mutex_unlock(&nd.mu);
			break;
		}
		pthread_mutex_unlock(&nd.mu);
		sched_yield();
	}
	ASSERT(nd.n[0] != NULL && nd.n[1] != NULL);
	ASSERT_STR_EQ(nd.n[0]->id, nd.n[1]->id);
	ASSERT_INT_EQ(orch_store_node_list(r, &list, &n), ORCH_OK);
	ASSERT_INT_EQ(n, 1);
	orch_store_node_list_free(list, n);
	orch_node_free(nd.n[0]);
	orch_node_free(nd.n[1]);
	pthread_mutex_destroy(&nd.mu);
	gate_fini(&g);
	orch_store_reader_free(r);
	orch_store_close(st);
	h_rm_rf(dir);
	free(dir);
}

/* Sets a task's placement and status, as the scheduler and reports do. */
struct place {
	const char *node;
	int status;
	bool stop;
};

static int
mod_place(orch_task *t, void *marg, char *err, size_t errlen)
{
	const struct place *p = marg;

	t->has_status = true;
	t->status = p->status;
	if (p->stop) {
		t->has_stop_requested = true;
		t->stop_requested = true;
	}
	return orch_str_set(&t->node_id, p->node);
}

/* Inserts a task of cpu and mem placed on node with status. */
static char *
task_placed(struct orch_store *st, const char *node, int status, double cpu,
    int64_t mem, bool stop)
{
	orch_task *t = mk_task("placed");
	struct place p = {node, status, stop};
	char err[512], *id;

	t->spec->has_cpu = true;
	t->spec->cpu = cpu;
	t->spec->has_memory_mb = true;
	t->spec->memory_mb = mem;
	id = insert_ok(st, t);
	if (node != NULL || status != ST_PENDING)
		ASSERT_INT_EQ(orch_store_task_modify_sync(st, id, mod_place, &p,
		                  NULL, err, sizeof(err)),
		    ORCH_OK);
	return id;
}

/* For orch_store_task_blobs_node(): decodes each blob, keeps its id. */
struct blobs {
	char id[8][ORCH_ID_LEN];
	size_t n;
	size_t fail_at; /* answers ORCH_ECONFLICT at this count (0: never) */
};

static int
blob_check(void *arg, const uint8_t *b, size_t len)
{
	struct blobs *bl = arg;
	orch_task *t = orch__task__unpack(NULL, len, b);

	ASSERT(t != NULL && t->id != NULL);
	ASSERT(bl->n < 8);
	snprintf(bl->id[bl->n++], ORCH_ID_LEN, "%s", t->id);
	orch_task_free(t);
	return bl->fail_at != 0 && bl->n == bl->fail_at ? ORCH_ECONFLICT
	                                                : ORCH_OK;
}

/* For orch_store_task_blobs_assigned(): for each call, the index it
 * was given and the id its blob decodes to ("" for none). */
struct assigned {
	int index[16];
	char id[16][ORCH_ID_LEN];
	size_t n;
	size_t fail_at; /* answers ORCH_ECONFLICT at this count (0: never) */
};

static int
assigned_check(void *arg, size_t i, const uint8_t *b, size_t len)
{
	struct assigned *as = arg;

	ASSERT(as->n < 16);
	as->index[as->n] = (int)i;
	as->id[as->n][0] = '\0';
	if (b != NULL) {
		orch_task *t = orch__task__unpack(NULL, len, b);

		ASSERT(t != NULL && t->id != NULL);
		snprintf(as->id[as->n], ORCH_ID_LEN, "%s", t->id);
		orch_task_free(t);
	} else {
		ASSERT_INT_EQ(len, 0);
	}
	as->n++;
	return as->fail_at != 0 && as->n == as->fail_at ? ORCH_ECONFLICT
	                                                : ORCH_OK;
}

static void
test_node_tasks_and_usage(void)
{
	static const char A[] = "aaaaaaaa-0000-4000-8000-000000000001";
	static const char B[] = "bbbbbbbb-0000-4000-8000-000000000002";
	char *dir = h_tmpdir("store-usage");
	struct orch_store *st = store_open(dir);
	struct orch_store_reader *r = reader_new(st);
	struct orch_node_usage *u;
	orch_task **tasks;
	char *ids[8];
	size_t n;
	const struct orch_node_usage *ua = NULL, *ub = NULL;
	struct blobs blobs = {0};

	ids[0] = task_placed(
	    st, A, ORCH__TASK_STATUS__TASK_STATUS_SCHEDULED, 0.5, 256, false);
	ids[1] = task_placed(st, A, ST_RUNNING, 0.1, 100, false);
	ids[2] = task_placed(st, A, ST_RUNNING, 0.2, 200, true);
	ids[3] = task_placed(
	    st, A, ORCH__TASK_STATUS__TASK_STATUS_COMPLETED, 4, 4096, false);
	ids[4] = task_placed(
	    st, A, ORCH__TASK_STATUS__TASK_STATUS_STOPPED, 4, 4096, true);
	ids[5] = task_placed(st, B, ST_FAILED, 1, 512, false);
	ids[6] = task_placed(st, B, ST_RUNNING, 2, 1024, false);
	ids[7] = task_placed(st, NULL, ST_PENDING, 8, 8192, false);

	/* What A should run: not finished, stop requested included, in
	 * submission order. */
	ASSERT_INT_EQ(orch_store_task_list_node(r, A, &tasks, &n), ORCH_OK);
	ASSERT_INT_EQ(n, 3);
	ASSERT_STR_EQ(tasks[0]->id, ids[0]);
	ASSERT_STR_EQ(tasks[1]->id, ids[1]);
	ASSERT_STR_EQ(tasks[2]->id, ids[2]);
	ASSERT(tasks[2]->stop_requested);
	orch_store_task_list_free(tasks, n);
	ASSERT_INT_EQ(orch_store_task_list_node(r, B, &tasks, &n), ORCH_OK);
	ASSERT_INT_EQ(n, 1);
	ASSERT_STR_EQ(tasks[0]->id, ids[6]);
	orch_store_task_list_free(tasks, n);
	ASSERT_INT_EQ(
	    orch_store_task_list_node(r, "nobody", &tasks, &n), ORCH_OK);
	ASSERT(n == 0 && tasks == NULL);
	/* The same, as the stored bytes a heartbeat sends: each decodes to
	 * the task, in the same order. */
	ASSERT_INT_EQ(
	    orch_store_task_blobs_node(r, A, blob_check, &blobs), ORCH_OK);
	ASSERT_INT_EQ(blobs.n, 3);
	for (size_t i = 0; i < 3; i++)
		ASSERT_STR_EQ(blobs.id[i], ids[i]);
	ASSERT_INT_EQ(
	    orch_store_task_blobs_node(r, "nobody", blob_check, &blobs),
	    ORCH_OK);
	ASSERT_INT_EQ(blobs.n, 3);
	/* fn's error stops the walk and is returned. */
	blobs.n = 0;
	blobs.fail_at = 2;
	ASSERT_INT_EQ(orch_store_task_blobs_node(r, A, blob_check, &blobs),
	    ORCH_ECONFLICT);
	ASSERT_INT_EQ(blobs.n, 2);
	/* By id, as a heartbeat's delta reads them: each of A's list as
	 * stored, each other (ended, on B, pending, unknown) as not on it. */
	{
		char want[9][ORCH_ID_LEN];
		struct assigned as = {0};

		for (int i = 0; i < 8; i++)
			snprintf(want[i], ORCH_ID_LEN, "%s", ids[7 - i]);
		snprintf(want[8], ORCH_ID_LEN, "%s",
		    "cccccccc-0000-4000-8000-000000000003");
		ASSERT_INT_EQ(orch_store_task_blobs_assigned(
		                  r, A, want, 9, assigned_check, &as),
		    ORCH_OK);
		ASSERT_INT_EQ(as.n, 9);
		for (int i = 0; i < 9; i++) {
			/* ids[0..2], at want[7..5], are A's list. */
			bool on = i >= 5 && i <= 7;

			ASSERT_INT_EQ(as.index[i], i);
			ASSERT_STR_EQ(as.id[i], on ? want[i] : "");
		}
		/* fn's error stops the walk and is returned; the read
		 * transaction ends anyway, so the reader reads again. */
		memset(&as, 0, sizeof(as));
		as.fail_at = 2;
		ASSERT_INT_EQ(orch_store_task_blobs_assigned(
		                  r, A, want, 9, assigned_check, &as),
		    ORCH_ECONFLICT);
		ASSERT_INT_EQ(as.n, 2);
		ASSERT_INT_EQ(orch_store_task_blobs_assigned(
		                  r, B, want, 9, assigned_check, &as),
		    ORCH_OK);
		ASSERT_INT_EQ(as.n, 11);
		ASSERT_STR_EQ(as.id[2 + 1], ids[6]);
	}

	/* What each node's Scheduled and Running tasks hold. */
	ASSERT_INT_EQ(orch_store_node_usage(r, &u, &n), ORCH_OK);
	ASSERT_INT_EQ(n, 2);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(u[i].node_id, A) == 0)
			ua = &u[i];
		if (strcmp(u[i].node_id, B) == 0)
			ub = &u[i];
	}
	ASSERT(ua != NULL && ub != NULL);
	ASSERT(fabs(ua->cpu - 0.8) < 1e-9);
	ASSERT_INT_EQ(ua->memory_mb, 556);
	ASSERT_INT_EQ(ua->tasks, 3);
	ASSERT(ub->cpu == 2.0);
	ASSERT_INT_EQ(ub->memory_mb, 1024);
	ASSERT_INT_EQ(ub->tasks, 1);
	free(u);
	/* Placed, run, ended, stopped: each UPDATE set what it changed. */
	ASSERT_INT_EQ(check_derived(dir), 8);

	for (int i = 0; i < 8; i++)
		free(ids[i]);
	orch_store_reader_free(r);
	orch_store_close(st);
	h_rm_rf(dir);
	free(dir);
}

/* Commit listeners hear of tasks and nodes, each with its kind. */
struct heard {
	int tasks, nodes;
	int last_status; /* of the last task object heard of */
	char last_node[ORCH_ID_LEN];
};

static void
on_commit_count(void *arg, int kind, const char *id, const void *obj)
{
	struct heard *h = arg;
	const orch_task *t = obj;

	if (kind == ORCH_STORE_TASK) {
		h->tasks++;
		/* The task as committed comes with its id. */
		ASSERT(t != NULL && strcmp(t->id, id) == 0);
		h->last_status = (int)t->status;
	} else if (kind == ORCH_STORE_NODE) {
		ASSERT(obj == NULL);
		h->nodes++;
		snprintf(h->last_node, sizeof(h->last_node), "%s", id);
	}
}

static void
test_listeners(void)
{
	char *dir = h_tmpdir("store-listen");
	struct orch_store *st = store_open(dir);
	Orch__NodeRegistration reg = ORCH__NODE_REGISTRATION__INIT;
	struct heard h = {0, 0, 0, ""};
	orch_node *n;
	char *id, err[512];
	int running = ST_RUNNING;

	ASSERT_INT_EQ(orch_store_listen(st, on_commit_count, &h), ORCH_OK);
	id = insert_ok(st, mk_task("heard"));
	ASSERT_INT_EQ(orch_store_task_modify_sync(
	                  st, id, mod_status, &running, NULL, err, sizeof(err)),
	    ORCH_OK);
	/* A refused change is not a commit of anything. */
	ASSERT_INT_EQ(orch_store_task_modify_sync(
	                  st, id, mod_refuse, NULL, NULL, err, sizeof(err)),
	    ORCH_ECONFLICT);
	reg.name = "n";
	reg.has_cpu = true;
	reg.cpu = 1;
	reg.has_memory_mb = true;
	reg.memory_mb = 64;
	n = node_register(st, &reg);
	/* Completions come after the listeners, so all is counted. */
	ASSERT_INT_EQ(h.tasks, 2);
	ASSERT_INT_EQ(h.last_status, ST_RUNNING);
	ASSERT_INT_EQ(h.nodes, 1);
	ASSERT_STR_EQ(h.last_node, n->id);
	orch_store_unlisten(st, on_commit_count, &h);
	orch_node_free(node_register(st, &reg));
	ASSERT_INT_EQ(h.nodes, 1);
	orch_node_free(n);
	free(id);
	orch_store_close(st);
	h_rm_rf(dir);
	free(dir);
}

/* A database of version 1 (tasks only) is migrated and keeps its tasks. */
static void
test_migrate_v1(void)
{
	char *dir = h_tmpdir("store-mig1");
	struct orch_store *st = store_open(dir);
	struct orch_store_reader *r;
	char *id = insert_ok(st, mk_task("old"));
	orch_task *t;
	orch_node **list;
	size_t n;
	sqlite3 *db;

	orch_store_close(st);
	db = raw_open(dir);
	ASSERT_INT_EQ(raw_int(db, "PRAGMA user_version"), 6);
	/* Back to the schema of version 1: what migrations 2 to 5 added
	 * goes, and what 6 dropped comes back. */
	ASSERT_INT_EQ(sqlite3_exec(db,
	                  "CREATE INDEX tasks_name ON tasks(name);"
	                  "DROP TABLE idempotency_keys;"
	                  "DROP INDEX tasks_open; DROP INDEX tasks_service;"
	                  "ALTER TABLE tasks DROP COLUMN is_open;"
	                  "ALTER TABLE tasks DROP COLUMN service_id;"
	                  "DROP TABLE services; DROP TABLE nodes; "
	                  "DROP TABLE events; PRAGMA user_version = 1",
	                  NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);

	st = store_open(dir);
	r = reader_new(st);
	ASSERT_INT_EQ(orch_store_task_get(r, id, &t), ORCH_OK);
	ASSERT_STR_EQ(t->spec->name, "old");
	orch_task_free(t);
	ASSERT_INT_EQ(orch_store_node_list(r, &list, &n), ORCH_OK);
	ASSERT_INT_EQ(n, 0);
	orch_store_reader_free(r);
	orch_store_close(st);
	db = raw_open(dir);
	ASSERT_INT_EQ(raw_int(db, "PRAGMA user_version"), 6);
	ASSERT_INT_EQ(raw_int(db,
	                  "SELECT count(*) FROM sqlite_master WHERE "
	                  "type = 'table' AND name = 'idempotency_keys'"),
	    1);
	ASSERT_INT_EQ(raw_int(db,
	                  "SELECT count(*) FROM sqlite_master WHERE "
	                  "type = 'index' AND name = 'tasks_name'"),
	    0);
	ASSERT_INT_EQ(raw_int(db,
	                  "SELECT count(*) FROM sqlite_master WHERE "
	                  "type = 'table' AND name = 'events'"),
	    1);
	ASSERT_INT_EQ(raw_int(db,
	                  "SELECT count(*) FROM sqlite_master WHERE "
	                  "type = 'table' AND name = 'nodes'"),
	    1);
	/* The Pending task of version 1 is open: the scheduler sees it. */
	ASSERT_INT_EQ(
	    raw_int(db, "SELECT count(*) FROM tasks WHERE is_open = 1"), 1);
	sqlite3_close(db);
	free(id);
	h_rm_rf(dir);
	free(dir);
}

/* A node record that does not decode is refused, not served. */
static void
test_node_corrupt(void)
{
	char *dir = h_tmpdir("store-node-corrupt");
	struct orch_store *st = store_open(dir);
	struct orch_store_reader *r;
	Orch__NodeRegistration reg = ORCH__NODE_REGISTRATION__INIT;
	orch_node *n, **list;
	char err[512];
	size_t nl;
	sqlite3 *db;

	reg.name = "bad";
	reg.has_cpu = true;
	reg.cpu = 1;
	reg.has_memory_mb = true;
	reg.memory_mb = 64;
	orch_node_free(node_register(st, &reg));
	orch_store_close(st);
	db = raw_open(dir);
	ASSERT_INT_EQ(sqlite3_exec(db, "UPDATE nodes SET node = x'0a7f41'",
	                  NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);

	st = store_open(dir);
	r = reader_new(st);
	ASSERT_INT_EQ(orch_store_node_get(r, "bad", &n), ORCH_EIO);
	ASSERT_INT_EQ(orch_store_node_list(r, &list, &nl), ORCH_EIO);
	ASSERT_INT_EQ(
	    orch_store_node_register_sync(st, &reg, &n, err, sizeof(err)),
	    ORCH_EIO);
	ASSERT_STR_CONTAINS(err, "\"bad\"");
	ASSERT_STR_CONTAINS(err, "does not decode");
	orch_store_reader_free(r);
	orch_store_close(st);
	h_rm_rf(dir);
	free(dir);
}

/* ---- services, replacements, drain ---- */

/* A service named name of replicas (the store takes it). */
static orch_service *
mk_service(const char *name, uint32_t replicas)
{
	orch_task_spec *sp = malloc(sizeof(*sp));
	orch_service *svc;

	ASSERT(sp != NULL);
	orch__task_spec__init(sp);
	sp->image = xstrdup("busybox:1");
	ASSERT_INT_EQ(orch_service_new(name, sp, replicas, &svc), ORCH_OK);
	return svc;
}

static int
mod_replicas(orch_service *svc, void *marg, char *err, size_t errlen)
{
	svc->replicas = *(const uint32_t *)marg;
	return ORCH_OK;
}

static int
mod_svc_rename(orch_service *svc, void *marg, char *err, size_t errlen)
{
	return orch_str_set(&svc->name, "other");
}

struct svc_heard {
	int tasks, services;
};

static void
on_commit_svc(void *arg, int kind, const char *id, const void *obj)
{
	struct svc_heard *h = arg;

	(void)id;
	(void)obj;
	if (kind == ORCH_STORE_TASK)
		h->tasks++;
	else if (kind == ORCH_STORE_SERVICE)
		h->services++;
}

/* Inserts replica slot of svc; returns the insert's code. */
static int
replica_insert(struct orch_store *st, const orch_service *svc, uint32_t slot,
    char **id /* OUT, may be NULL */, char *err, size_t errlen)
{
	orch_task *t;

	ASSERT_INT_EQ(orch_service_task_new(svc, slot, 0, &t), ORCH_OK);
	if (id != NULL)
		*id = xstrdup(t->id);
	return orch_store_task_insert_sync(st, t, NULL, err, errlen);
}

static bool
has_task(orch_task **v, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i]->id, id) == 0)
			return true;
	}
	return false;
}

/* For test_services_one_batch: a write that holds the writer until the
 * test has queued what must share the next batch. */
struct bgate {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool open;
	int done;
	int rc[8];
};

static int
mod_wait_bgate(orch_task *t, void *marg, char *err, size_t errlen)
{
	struct bgate *g = marg;

	(void)t;
	(void)err;
	(void)errlen;
	pthread_mutex_lock(&g->mu);
	while (!g->open)
		pthread_cond_wait(&g->cv, &g->mu);
	pthread_mutex_unlock(&g->mu);
	return ORCH_OK;
}

struct bslot {
	struct bgate *g;
	int i;
};

static void
bgate_done(struct bslot *gs, int rc)
{
	pthread_mutex_lock(&gs->g->mu);
	gs->g->rc[gs->i] = rc;
	gs->g->done++;
	pthread_cond_broadcast(&gs->g->cv);
	pthread_mutex_unlock(&gs->g->mu);
}

static void
bgate_task_done(void *arg, int rc, orch_task *t, const char *err)
{
	(void)err;
	orch_task_free(t);
	bgate_done(arg, rc);
}

static void
bgate_svc_done(void *arg, int rc, orch_service *svc, const char *err)
{
	(void)err;
	orch_service_free(svc);
	bgate_done(arg, rc);
}

/* Within one batch, a replica's check of its service sees a scale-down
 * or a deletion queued before it: what the batch remembers of a service
 * (read once for thousands of replicas) never outlives a write of it. */
static void
test_services_one_batch(void)
{
	char *dir = h_tmpdir("store-svc-batch");
	struct orch_store *st = store_open(dir);
	struct bgate g = {
	    PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0, {0}};
	struct bslot gs[8];
	orch_service *svc = NULL;
	orch_task *t, *plain;
	uint32_t one = 1;
	char err[256], *plain_id;

	for (int i = 0; i < 8; i++)
		gs[i] = (struct bslot){&g, i};
	ASSERT_INT_EQ(orch_store_service_create_sync(
	                  st, mk_service("web", 3), &svc, err, sizeof(err)),
	    ORCH_OK);
	plain = mk_task("plain");
	plain_id = xstrdup(plain->id);
	ASSERT_INT_EQ(
	    orch_store_task_insert_sync(st, plain, NULL, err, sizeof(err)),
	    ORCH_OK);
	/* 0 holds the writer; 1 to 5 queue behind it, one batch. */
	orch_store_task_modify(
	    st, plain_id, mod_wait_bgate, &g, bgate_task_done, &gs[0]);
	ASSERT_INT_EQ(orch_service_task_new(svc, 3, 0, &t), ORCH_OK);
	orch_store_task_insert(st, t, bgate_task_done, &gs[1]);
	orch_store_service_modify(
	    st, "web", mod_replicas, &one, bgate_svc_done, &gs[2]);
	ASSERT_INT_EQ(orch_service_task_new(svc, 2, 0, &t), ORCH_OK);
	orch_store_task_insert(st, t, bgate_task_done, &gs[3]);
	orch_store_service_delete(st, "web", bgate_svc_done, &gs[4]);
	ASSERT_INT_EQ(orch_service_task_new(svc, 1, 0, &t), ORCH_OK);
	orch_store_task_insert(st, t, bgate_task_done, &gs[5]);
	pthread_mutex_lock(&g.mu);
	g.open = true;
	pthread_cond_broadcast(&g.cv);
	while (g.done < 6)
		pthread_cond_wait(&g.cv, &g.mu);
	pthread_mutex_unlock(&g.mu);
	ASSERT_INT_EQ(g.rc[0], ORCH_OK);
	ASSERT_INT_EQ(g.rc[1], ORCH_OK);        /* slot 3 of 3 */
	ASSERT_INT_EQ(g.rc[2], ORCH_OK);        /* down to 1 */
	ASSERT_INT_EQ(g.rc[3], ORCH_ECONFLICT); /* slot 2 of 1 */
	ASSERT_INT_EQ(g.rc[4], ORCH_OK);        /* deleted */
	ASSERT_INT_EQ(g.rc[5], ORCH_ECONFLICT); /* of no service */
	free(plain_id);
	orch_service_free(svc);
	orch_store_close(st);
	h_rm_rf(dir);
	free(dir);
}

static void
test_services(void)
{
	char *dir = h_tmpdir("store-svc");
	struct orch_store *st = store_open(dir);
	struct orch_store_reader *r = reader_new(st);
	struct svc_heard h = {0, 0};
	orch_service *svc, *got, **list;
	orch_task **tasks, *t;
	char err[512], *r1, *r2;
	uint32_t two = 2;
	size_t n;

	ASSERT_INT_EQ(orch_store_listen(st, on_commit_svc, &h), ORCH_OK);
	ASSERT_INT_EQ(orch_store_service_create_sync(
	                  st, mk_service("web", 3), &svc, err, sizeof(err)),
	    ORCH_OK);
	ASSERT_STR_EQ(svc->name, "web");
	ASSERT(orch_id_valid(svc->id));
	ASSERT_INT_EQ(svc->replicas, 3);
	/* The template's defaults are stored. */
	ASSERT_STR_EQ(svc->spec->restart, "always");
	ASSERT_STR_EQ(svc->spec->placement, "spread");
	ASSERT_STR_EQ(svc->spec->service, "web");
	ASSERT_INT_EQ(svc->spec->memory_mb, 256);
	/* A name is one service. */
	ASSERT_INT_EQ(orch_store_service_create_sync(
	                  st, mk_service("web", 1), NULL, err, sizeof(err)),
	    ORCH_EEXIST);
	ASSERT_STR_CONTAINS(err, "service \"web\"");
	/* Found by name and by id; listed by name. */
	ASSERT_INT_EQ(orch_store_service_get(r, "web", &got), ORCH_OK);
	ASSERT_STR_EQ(got->id, svc->id);
	orch_service_free(got);
	ASSERT_INT_EQ(orch_store_service_get(r, svc->id, &got), ORCH_OK);
	ASSERT_STR_EQ(got->name, "web");
	orch_service_free(got);
	ASSERT_INT_EQ(orch_store_service_get(r, "nope", &got), ORCH_ENOENT);
	ASSERT_INT_EQ(orch_store_service_create_sync(
	                  st, mk_service("api", 0), NULL, err, sizeof(err)),
	    ORCH_OK);
	ASSERT_INT_EQ(orch_store_service_list(r, &list, &n), ORCH_OK);
	ASSERT_INT_EQ(n, 2);
	ASSERT_STR_EQ(list[0]->name, "api");
	ASSERT_STR_EQ(list[1]->name, "web");
	orch_store_service_list_free(list, n);

	/* Replicas go in only for the slots the service wants. */
	ASSERT_INT_EQ(
	    replica_insert(st, svc, 1, &r1, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(
	    replica_insert(st, svc, 3, &r2, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(
	    replica_insert(st, svc, 4, NULL, err, sizeof(err)), ORCH_ECONFLICT);
	ASSERT_STR_CONTAINS(err, "no slot 4");
	ASSERT_INT_EQ(
	    replica_insert(st, svc, 0, NULL, err, sizeof(err)), ORCH_ECONFLICT);
	ASSERT_INT_EQ(
	    orch_store_task_list_service(r, svc->id, &tasks, &n), ORCH_OK);
	ASSERT_INT_EQ(n, 2);
	ASSERT_STR_EQ(tasks[0]->id, r1);
	ASSERT_STR_EQ(tasks[0]->spec->name, "web.1");
	ASSERT_INT_EQ(tasks[1]->slot, 3);
	orch_store_task_list_free(tasks, n);

	/* Scaled down: slot 3 is no longer wanted for a new replica. */
	orch_service_free(svc);
	ASSERT_INT_EQ(orch_store_service_modify_sync(st, "web", mod_replicas,
	                  &two, &svc, err, sizeof(err)),
	    ORCH_OK);
	ASSERT_INT_EQ(svc->replicas, 2);
	ASSERT_INT_EQ(
	    replica_insert(st, svc, 3, NULL, err, sizeof(err)), ORCH_ECONFLICT);
	ASSERT_INT_EQ(orch_store_service_modify_sync(st, "web", mod_svc_rename,
	                  NULL, NULL, err, sizeof(err)),
	    ORCH_EINVAL);
	ASSERT_INT_EQ(orch_store_service_modify_sync(st, "ghost", mod_replicas,
	                  &two, NULL, err, sizeof(err)),
	    ORCH_ENOENT);

	/* Deleted with its tasks, in one go; they are handed back. */
	h.tasks = h.services = 0;
	orch_service_free(svc);
	ASSERT_INT_EQ(
	    orch_store_service_delete_sync(st, "web", &svc, err, sizeof(err)),
	    ORCH_OK);
	ASSERT_INT_EQ(svc->n_tasks, 2);
	ASSERT_INT_EQ(h.tasks, 2);
	ASSERT_INT_EQ(h.services, 1);
	ASSERT_INT_EQ(orch_store_task_get(r, r1, &t), ORCH_ENOENT);
	ASSERT_INT_EQ(orch_store_task_get(r, r2, &t), ORCH_ENOENT);
	ASSERT_INT_EQ(orch_store_service_get(r, "web", &got), ORCH_ENOENT);
	ASSERT_INT_EQ(orch_store_task_list_open(r, &tasks, &n), ORCH_OK);
	ASSERT_INT_EQ(n, 0);
	/* A replica of a deleted service never comes back. */
	ASSERT_INT_EQ(
	    replica_insert(st, svc, 1, NULL, err, sizeof(err)), ORCH_ECONFLICT);
	ASSERT_STR_CONTAINS(err, "no longer exists");
	ASSERT_INT_EQ(
	    orch_store_service_delete_sync(st, "web", NULL, err, sizeof(err)),
	    ORCH_ENOENT);
	orch_store_unlisten(st, on_commit_svc, &h);
	orch_service_free(svc);
	free(r1);
	free(r2);
	orch_store_reader_free(r);
	orch_store_close(st);
	h_rm_rf(dir);
	free(dir);
}

static int
mod_replaced(orch_task *t, void *marg, char *err, size_t errlen)
{
	if (t->replaced_by != NULL) {
		snprintf(err, errlen, "already replaced");
		return ORCH_ECONFLICT;
	}
	return orch_str_set(&t->replaced_by, marg);
}

/* Replaces old with new (taken); returns the code. */
static int
replace(struct orch_store *st, const char *old, orch_task *nt, char *err,
    size_t errlen)
{
	struct outcome o;
	int rc;

	outcome_init(&o);
	orch_store_task_replace(
	    st, old, mod_replaced, nt->id, nt, outcome_done, &o);
	outcome_wait(&o);
	rc = o.rc;
	snprintf(err, errlen, "%s", o.err);
	outcome_fini(&o);
	return rc;
}

static void
test_replace(void)
{
	char *dir = h_tmpdir("store-replace");
	struct orch_store *st = store_open(dir);
	struct orch_store_reader *r = reader_new(st);
	orch_task *t = mk_task("flaky"), *nt, **open;
	char *old, *nid, err[512];
	int failed = ST_FAILED;
	size_t n;

	orch_str_set(&t->spec->restart, "on-failure");
	old = insert_ok(st, t);
	/* Pending: open; Failed under on-failure, not replaced: still. */
	ASSERT_INT_EQ(orch_store_task_list_open(r, &open, &n), ORCH_OK);
	ASSERT_INT_EQ(n, 1);
	orch_store_task_list_free(open, n);
	ASSERT_INT_EQ(orch_store_task_modify_sync(
	                  st, old, mod_status, &failed, NULL, err, sizeof(err)),
	    ORCH_OK);
	ASSERT_INT_EQ(orch_store_task_list_open(r, &open, &n), ORCH_OK);
	ASSERT_INT_EQ(n, 1);
	orch_store_task_list_free(open, n);

	/* Both written, or neither: a refused change keeps the new one
	 * out. */
	nt = mk_task("flaky");
	nid = xstrdup(nt->id);
	ASSERT_INT_EQ(replace(st, old, nt, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(orch_store_task_get(r, old, &t), ORCH_OK);
	ASSERT_STR_EQ(t->replaced_by, nid);
	orch_task_free(t);
	ASSERT_INT_EQ(orch_store_task_list_open(r, &open, &n), ORCH_OK);
	ASSERT_INT_EQ(n, 1);
	ASSERT_STR_EQ(open[0]->id, nid);
	ASSERT(!has_task(open, n, old));
	orch_store_task_list_free(open, n);
	nt = mk_task("flaky");
	free(nid);
	nid = xstrdup(nt->id);
	ASSERT_INT_EQ(replace(st, old, nt, err, sizeof(err)), ORCH_ECONFLICT);
	ASSERT_STR_CONTAINS(err, "already replaced");
	ASSERT_INT_EQ(orch_store_task_get(r, nid, &t), ORCH_ENOENT);
	/* A new task that cannot go in undoes the change of the old. */
	free(old);
	old = insert_ok(st, mk_task("other"));
	nt = mk_task("dup");
	orch_str_set(&nt->id, old);
	ASSERT_INT_EQ(replace(st, old, nt, err, sizeof(err)), ORCH_EEXIST);
	ASSERT_INT_EQ(orch_store_task_get(r, old, &t), ORCH_OK);
	ASSERT(t->replaced_by == NULL);
	orch_task_free(t);
	free(nid);
	free(old);
	orch_store_reader_free(r);
	orch_store_close(st);
	h_rm_rf(dir);
	free(dir);
}

static void
test_node_drain(void)
{
	char *dir = h_tmpdir("store-drain");
	struct orch_store *st = store_open(dir);
	struct orch_store_reader *r = reader_new(st);
	Orch__NodeRegistration reg = ORCH__NODE_REGISTRATION__INIT;
	orch_node *n, *d;
	char err[512];

	reg.name = "node-a";
	reg.has_cpu = true;
	reg.cpu = 1;
	reg.has_memory_mb = true;
	reg.memory_mb = 64;
	n = node_register(st, &reg);
	ASSERT(!n->drain);
	ASSERT_INT_EQ(orch_store_node_drain_sync(
	                  st, "node-a", true, &d, err, sizeof(err)),
	    ORCH_OK);
	ASSERT(d->drain);
	ASSERT_STR_EQ(d->id, n->id);
	orch_node_free(d);
	/* An agent that registers again does not undo it. */
	orch_node_free(node_register(st, &reg));
	ASSERT_INT_EQ(orch_store_node_get(r, "node-a", &d), ORCH_OK);
	ASSERT(d->drain);
	orch_node_free(d);
	/* By id too, and back. */
	ASSERT_INT_EQ(
	    orch_store_node_drain_sync(st, n->id, false, &d, err, sizeof(err)),
	    ORCH_OK);
	ASSERT(!d->drain);
	orch_node_free(d);
	ASSERT_INT_EQ(
	    orch_store_node_drain_sync(st, "ghost", true, &d, err, sizeof(err)),
	    ORCH_ENOENT);
	ASSERT_STR_CONTAINS(err, "ghost");
	orch_node_free(n);
	orch_store_reader_free(r);
	orch_store_close(st);
	h_rm_rf(dir);
	free(dir);
}

/* ---- idempotency keys ---- */

/* Inserts t with key; returns the code, *out_id (malloc'd, on ORCH_OK)
 * the id answered, and what became of the key. */
static int
keyed_insert(struct orch_store *st, orch_task *t, const char *key,
    char **out_id, struct orch_store_idem *idem, char *err, size_t errlen)
{
	orch_task *got = NULL;
	int rc;

	memset(idem, 0, sizeof(*idem));
	idem->key = key;
	rc = orch_store_task_insert_idem_sync(st, t, idem, &got, err, errlen);
	if (out_id != NULL)
		*out_id = rc == ORCH_OK ? xstrdup(got->id) : NULL;
	orch_task_free(got);
	return rc;
}

static long long
key_rows(const char *dir, const char *key)
{
	sqlite3 *db = raw_open(dir);
	char sql[512];
	long long n;

	snprintf(sql, sizeof(sql),
	    "SELECT count(*) FROM idempotency_keys WHERE key = '%s'", key);
	n = raw_int(db, sql);
	sqlite3_close(db);
	return n;
}

static void
test_idem_task(void)
{
	char *dir = h_tmpdir("store-idem");
	struct orch_store *st = store_open(dir);
	struct orch_store_reader *r = reader_new(st);
	struct orch_store_idem idem;
	char err[512], long_key[ORCH_IDEM_KEY_MAX + 2];
	char *id1, *id2, *id3;
	orch_task *t, **list;
	size_t n;

	/* The first use creates; a retry gets the same task, writes
	 * nothing, and says it is a replay. */
	t = mk_task("job");
	add_env(t->spec, "A", "1");
	add_env(t->spec, "B", "2");
	ASSERT_INT_EQ(
	    keyed_insert(st, t, "key-1", &id1, &idem, err, sizeof(err)),
	    ORCH_OK);
	ASSERT(!idem.replayed && !idem.mismatch);
	/* Env given in another order is the same request; so is memory
	 * given as its default. */
	t = mk_task("job");
	add_env(t->spec, "B", "2");
	add_env(t->spec, "A", "1");
	t->spec->has_memory_mb = true;
	t->spec->memory_mb = 256;
	ASSERT_INT_EQ(
	    keyed_insert(st, t, "key-1", &id2, &idem, err, sizeof(err)),
	    ORCH_OK);
	ASSERT(idem.replayed && !idem.mismatch);
	ASSERT_STR_EQ(id2, id1);
	free(id2);
	ASSERT_INT_EQ(orch_store_task_list(r, 0, &list, &n), ORCH_OK);
	ASSERT_INT_EQ(n, 1);
	orch_store_task_list_free(list, n);

	/* The same key for another request is refused, naming both. */
	t = mk_task("job");
	add_env(t->spec, "A", "1");
	ASSERT_INT_EQ(
	    keyed_insert(st, t, "key-1", NULL, &idem, err, sizeof(err)),
	    ORCH_ECONFLICT);
	ASSERT(idem.mismatch && !idem.replayed);
	ASSERT_STR_CONTAINS(err, "idempotency key \"key-1\"");
	ASSERT_STR_CONTAINS(err, id1);

	/* Another key, or none, creates. */
	ASSERT_INT_EQ(keyed_insert(st, mk_task("job"), "key-2", &id3, &idem,
	                  err, sizeof(err)),
	    ORCH_OK);
	ASSERT(strcmp(id3, id1) != 0);
	free(insert_ok(st, mk_task("job")));
	ASSERT_INT_EQ(orch_store_task_list(r, 0, &list, &n), ORCH_OK);
	ASSERT_INT_EQ(n, 3);
	orch_store_task_list_free(list, n);

	/* Keys that are not 1 to 255 printable characters, refused
	 * before anything is written. */
	memset(long_key, 'k', ORCH_IDEM_KEY_MAX + 1);
	long_key[ORCH_IDEM_KEY_MAX + 1] = '\0';
	ASSERT_INT_EQ(keyed_insert(st, mk_task("job"), long_key, NULL, &idem,
	                  err, sizeof(err)),
	    ORCH_EINVAL);
	ASSERT_STR_CONTAINS(err, "1 to 255");
	ASSERT_INT_EQ(
	    keyed_insert(st, mk_task("job"), "", NULL, &idem, err, sizeof(err)),
	    ORCH_EINVAL);
	ASSERT_INT_EQ(keyed_insert(st, mk_task("job"), "a\tb", NULL, &idem, err,
	                  sizeof(err)),
	    ORCH_EINVAL);
	ASSERT_STR_CONTAINS(err, "byte 2 is 0x09");
	ASSERT_INT_EQ(keyed_insert(st, mk_task("job"), "a\"b", NULL, &idem, err,
	                  sizeof(err)),
	    ORCH_EINVAL);
	long_key[ORCH_IDEM_KEY_MAX] = '\0';
	ASSERT_INT_EQ(keyed_insert(st, mk_task("job"), long_key, &id2, &idem,
	                  err, sizeof(err)),
	    ORCH_OK);
	free(id2);

	/* Durable: a reopened store still knows the key. */
	orch_store_reader_free(r);
	orch_store_close(st);
	st = store_open(dir);
	t = mk_task("job");
	add_env(t->spec, "A", "1");
	add_env(t->spec, "B", "2");
	ASSERT_INT_EQ(
	    keyed_insert(st, t, "key-1", &id2, &idem, err, sizeof(err)),
	    ORCH_OK);
	ASSERT(idem.replayed);
	ASSERT_STR_EQ(id2, id1);
	free(id2);
	orch_store_close(st);
	free(id3);
	free(id1);
	h_rm_rf(dir);
	free(dir);
}

#define IDEM_RACE 16

/* Many writes with one key in one batch: exactly one task is created and
 * every write is answered it, as concurrent retries would be. */
static void
test_idem_same_batch(void)
{
	char *dir = h_tmpdir("store-idem-race");
	struct orch_store *st = store_open(dir);
	struct orch_store_reader *r = reader_new(st);
	struct outcome o[IDEM_RACE];
	struct orch_store_idem idem[IDEM_RACE];
	struct gate g;
	orch_task **list;
	int replayed = 0;
	size_t n;

	gate_init(&g);
	orch_store_task_insert(st, mk_task("gate"), gate_done, &g);
	gate_wait_entered(&g);
	for (int i = 0; i < IDEM_RACE; i++) {
		outcome_init(&o[i]);
		idem[i] = (struct orch_store_idem){.key = "race"};
		orch_store_task_insert_idem(
		    st, mk_task("raced"), &idem[i], outcome_done, &o[i]);
	}
	gate_open(&g);
	for (int i = 0; i < IDEM_RACE; i++) {
		outcome_wait(&o[i]);
		ASSERT_INT_EQ(o[i].rc, ORCH_OK);
		ASSERT_STR_EQ(o[i].task->id, o[0].task->id);
		replayed += idem[i].replayed;
	}
	ASSERT(!idem[0].replayed);
	ASSERT_INT_EQ(replayed, IDEM_RACE - 1);
	ASSERT_INT_EQ(orch_store_task_list(r, 0, &list, &n), ORCH_OK);
	ASSERT_INT_EQ(n, 2); /* the gate's and one */
	orch_store_task_list_free(list, n);
	for (int i = 0; i < IDEM_RACE; i++)
		outcome_fini(&o[i]);
	gate_fini(&g);
	orch_store_reader_free(r);
	orch_store_close(st);
	h_rm_rf(dir);
	free(dir);
}

static void
test_idem_service(void)
{
	char *dir = h_tmpdir("store-idem-svc");
	struct orch_store *st = store_open(dir);
	struct orch_store_idem idem = {.key = "svc-key"};
	orch_service *a = NULL, *b = NULL;
	char err[512];

	ASSERT_INT_EQ(orch_store_service_create_idem_sync(st,
	                  mk_service("web", 3), &idem, &a, err, sizeof(err)),
	    ORCH_OK);
	ASSERT(!idem.replayed);
	/* Without the key the same name is taken; with it, a replay. */
	ASSERT_INT_EQ(orch_store_service_create_sync(
	                  st, mk_service("web", 3), NULL, err, sizeof(err)),
	    ORCH_EEXIST);
	ASSERT_INT_EQ(orch_store_service_create_idem_sync(st,
	                  mk_service("web", 3), &idem, &b, err, sizeof(err)),
	    ORCH_OK);
	ASSERT(idem.replayed);
	ASSERT_STR_EQ(b->id, a->id);
	ASSERT_INT_EQ(b->created_at_ms, a->created_at_ms);
	orch_service_free(b);
	/* Other replicas, or another name: another request. */
	ASSERT_INT_EQ(orch_store_service_create_idem_sync(st,
	                  mk_service("web", 4), &idem, NULL, err, sizeof(err)),
	    ORCH_ECONFLICT);
	ASSERT(idem.mismatch);
	ASSERT_INT_EQ(orch_store_service_create_idem_sync(st,
	                  mk_service("api", 3), &idem, NULL, err, sizeof(err)),
	    ORCH_ECONFLICT);
	/* Task and service keys are apart. */
	idem.key = "svc-key";
	ASSERT_INT_EQ(orch_store_task_insert_idem_sync(
	                  st, mk_task("job"), &idem, NULL, err, sizeof(err)),
	    ORCH_OK);
	ASSERT(!idem.replayed);
	orch_service_free(a);
	orch_store_close(st);
	h_rm_rf(dir);
	free(dir);
}

struct clock_past {
	int64_t t;
};

static bool
clock_passed(void *arg)
{
	return orch_now_ms() > ((struct clock_past *)arg)->t;
}

/* A key is forgotten after its TTL: the same key then creates anew, and
 * the writer prunes expired keys. */
static void
test_idem_expiry(void)
{
	char *dir = h_tmpdir("store-idem-ttl");
	struct orch_store_opts opts;
	struct orch_store *st;
	struct orch_store_idem idem;
	struct clock_past past;
	char err[512], *id1, *id2;

	orch_store_opts_default(&opts);
	opts.idem_ttl_ms = 200;
	ASSERT_INT_EQ(orch_store_open(dir, &opts, &st), ORCH_OK);
	ASSERT_INT_EQ(keyed_insert(st, mk_task("a"), "old", &id1, &idem, err,
	                  sizeof(err)),
	    ORCH_OK);
	ASSERT_INT_EQ(keyed_insert(st, mk_task("b"), "gone", NULL, &idem, err,
	                  sizeof(err)),
	    ORCH_OK);
	past.t = orch_now_ms() + opts.idem_ttl_ms;
	ASSERT(h_wait_until(clock_passed, &past, 10000));
	/* Expired: another request under the key is no conflict. */
	ASSERT_INT_EQ(keyed_insert(st, mk_task("c"), "old", &id2, &idem, err,
	                  sizeof(err)),
	    ORCH_OK);
	ASSERT(!idem.replayed && !idem.mismatch);
	ASSERT(strcmp(id1, id2) != 0);
	ASSERT_INT_EQ(key_rows(dir, "old"), 1);
	/* The key nobody used again goes once a write has come after its
	 * TTL (the prune follows the batch: wait for it). */
	free(insert_ok(st, mk_task("d")));
	{
		long long rows = -1;
		int64_t deadline = orch_now_ms() + 10000;

		while ((rows = key_rows(dir, "gone")) != 0 &&
		    orch_now_ms() < deadline) {
			past.t = orch_now_ms() + 20;
			h_wait_until(clock_passed, &past, 1000);
			free(insert_ok(st, mk_task("e")));
		}
		ASSERT_INT_EQ(rows, 0);
	}
	ASSERT_INT_EQ(key_rows(dir, "old"), 1);
	orch_store_close(st);
	free(id2);
	free(id1);
	h_rm_rf(dir);
	free(dir);
}

int
main(void)
{
	RUN(test_roundtrip);
	RUN(test_list_filter_order);
	RUN(test_duplicate_id);
	RUN(test_modify);
	RUN(test_batch_partial_failure);
	RUN(test_sync_from_completion);
	RUN(test_close_drains);
	RUN(test_durability);
	RUN(test_migrate_empty);
	RUN(test_future_version_refused);
	RUN(test_corrupt);
	RUN(test_group_commit);
	RUN(test_full_disk);
	RUN(test_node_register);
	RUN(test_node_register_same_batch);
	RUN(test_node_tasks_and_usage);
	RUN(test_listeners);
	RUN(test_migrate_v1);
	RUN(test_node_corrupt);
	RUN(test_services);
	RUN(test_services_one_batch);
	RUN(test_replace);
	RUN(test_node_drain);
	RUN(test_idem_task);
	RUN(test_idem_same_batch);
	RUN(test_idem_service);
	RUN(test_idem_expiry);
	return 0;
}
