/*
 * test_task.c: the task model (services/common/task.c): status names, ids,
 * spec limits, and the life cycle rules of status reports and stops.
 */
#include "harness.h"

#include <math.h>

#include "error.h"
#include "task.h"

#define PENDING ORCH__TASK_STATUS__TASK_STATUS_PENDING
#define SCHEDULED ORCH__TASK_STATUS__TASK_STATUS_SCHEDULED
#define RUNNING ORCH__TASK_STATUS__TASK_STATUS_RUNNING
#define COMPLETED ORCH__TASK_STATUS__TASK_STATUS_COMPLETED
#define FAILED ORCH__TASK_STATUS__TASK_STATUS_FAILED
#define STOPPED ORCH__TASK_STATUS__TASK_STATUS_STOPPED

/* A new Pending task with a minimal spec. */
static orch_task *
task_make(void)
{
	orch_task_spec *s = malloc(sizeof(*s));
	orch_task *t = NULL;

	ASSERT(s != NULL);
	orch__task_spec__init(s);
	s->name = strdup("web");
	s->image = strdup("nginx");
	ASSERT(s->name != NULL && s->image != NULL);
	ASSERT_INT_EQ(orch_task_new(s, &t), ORCH_OK);
	return t;
}

/* An update to status with nothing else. */
static struct orch_task_update
update_of(int status)
{
	struct orch_task_update u = {.status = status};

	return u;
}

static void
test_status_names(void)
{
	static const struct {
		int status;
		const char *name;
	} names[] = {
	    {PENDING, "Pending"},
	    {SCHEDULED, "Scheduled"},
	    {RUNNING, "Running"},
	    {COMPLETED, "Completed"},
	    {FAILED, "Failed"},
	    {STOPPED, "Stopped"},
	};
	int st;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		ASSERT_STR_EQ(
		    orch_task_status_name(names[i].status), names[i].name);
		st = -1;
		ASSERT_INT_EQ(
		    orch_task_status_parse(names[i].name, &st), ORCH_OK);
		ASSERT_INT_EQ(st, names[i].status);
	}
	ASSERT(orch_task_status_name(
	           ORCH__TASK_STATUS__TASK_STATUS_UNSPECIFIED) == NULL);
	ASSERT(orch_task_status_name(-1) == NULL);
	ASSERT(orch_task_status_name(STOPPED + 1) == NULL);
	ASSERT(orch_task_status_name(1000000) == NULL);

	/* The original project's spelling is read, never written. */
	ASSERT_INT_EQ(orch_task_status_parse("Complete", &st), ORCH_OK);
	ASSERT_INT_EQ(st, COMPLETED);

	st = 42;
	ASSERT_INT_EQ(orch_task_status_parse("pending", &st), ORCH_EINVAL);
	ASSERT_INT_EQ(orch_task_status_parse("PENDING", &st), ORCH_EINVAL);
	ASSERT_INT_EQ(orch_task_status_parse("", &st), ORCH_EINVAL);
	ASSERT_INT_EQ(orch_task_status_parse("Running ", &st), ORCH_EINVAL);
	ASSERT_INT_EQ(orch_task_status_parse("Completes", &st), ORCH_EINVAL);
	ASSERT_INT_EQ(orch_task_status_parse("Unspecified", &st), ORCH_EINVAL);
	ASSERT_INT_EQ(st, 42);

	ASSERT(!orch_task_status_terminal(PENDING));
	ASSERT(!orch_task_status_terminal(SCHEDULED));
	ASSERT(!orch_task_status_terminal(RUNNING));
	ASSERT(orch_task_status_terminal(COMPLETED));
	ASSERT(orch_task_status_terminal(FAILED));
	ASSERT(orch_task_status_terminal(STOPPED));
}

static int
id_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void
test_id_new(void)
{
	enum { N = 2000 };
	char(*ids)[ORCH_ID_LEN] = calloc(N, sizeof(*ids));

	ASSERT(ids != NULL);
	for (int i = 0; i < N; i++) {
		const char *id = ids[i];

		orch_id_new(ids[i]);
		ASSERT_INT_EQ(strlen(id), 36);
		ASSERT(orch_id_valid(id));
		for (int k = 0; k < 36; k++) {
			if (k == 8 || k == 13 || k == 18 || k == 23)
				ASSERT(id[k] == '-');
			else
				ASSERT((id[k] >= '0' && id[k] <= '9') ||
				    (id[k] >= 'a' && id[k] <= 'f'));
		}
		/* Version 4, RFC 4122 variant. */
		ASSERT(id[14] == '4');
		ASSERT(strchr("89ab", id[19]) != NULL);
	}
	qsort(ids, N, sizeof(*ids), id_cmp);
	for (int i = 1; i < N; i++)
		ASSERT(strcmp(ids[i - 1], ids[i]) != 0);
	free(ids);
}

static void
test_id_valid(void)
{
	ASSERT(orch_id_valid("123e4567-e89b-42d3-a456-426614174000"));
	ASSERT(orch_id_valid("00000000-0000-0000-0000-000000000000"));
	ASSERT(orch_id_valid("ffffffff-ffff-ffff-ffff-ffffffffffff"));
	/* Upper case hex is still the canonical layout. */
	ASSERT(orch_id_valid("123E4567-E89B-42D3-A456-426614174000"));

	ASSERT(!orch_id_valid(""));
	ASSERT(!orch_id_valid("x"));
	ASSERT(!orch_id_valid("123e4567"));
	ASSERT(!orch_id_valid("123e4567-e89b-42d3-a456-42661417400")); /* 35 */
	ASSERT(
	    !orch_id_valid("123e4567-e89b-42d3-a456-4266141740000")); /* 37 */
	ASSERT(!orch_id_valid("123e4567-e89b-42d3-a456-426614174000\n"));
	ASSERT(!orch_id_valid(" 123e4567-e89b-42d3-a456-426614174000"));
	ASSERT(!orch_id_valid("123e4567e89b42d3a456426614174000"));
	ASSERT(!orch_id_valid("123e4567-e89b-42d3-a4564-26614174000"));
	ASSERT(!orch_id_valid("123e4567-e89b-42d3-a456_426614174000"));
	ASSERT(!orch_id_valid("123e4567-e89b-42d3-a456-42661417400g"));
	ASSERT(!orch_id_valid("g23e4567-e89b-42d3-a456-426614174000"));
	ASSERT(!orch_id_valid("{23e4567-e89b-42d3-a456-426614174000}"));
	ASSERT(!orch_id_valid("123e4567-e89b-42d3-a456-42661417400-"));
	ASSERT(!orch_id_valid("------------------------------------"));
	ASSERT(!orch_id_valid("..%2F..%2F..%2Fetc%2Fpasswd-aaaaaaaa"));
	ASSERT(!orch_id_valid("123e4567-e89b-42d3-a456-426614174\xc3\xa9"));

	/* A short string at the very end of a buffer: no read past its NUL.
	 * ASan sees an overrun of this exact-size heap copy. */
	for (size_t n = 0; n <= 36; n++) {
		char *s = malloc(n + 1);

		ASSERT(s != NULL);
		memcpy(s, "123e4567-e89b-42d3-a456-426614174000", n);
		s[n] = '\0';
		ASSERT(orch_id_valid(s) == (n == 36));
		free(s);
	}
}

static void
test_spec_validate(void)
{
	orch_task *t = task_make();
	orch_task_spec *s = t->spec;
	char err[256];

	ASSERT_INT_EQ(orch_task_spec_validate(s, err, sizeof(err)), ORCH_OK);
	/* Limits JSON cannot express but an RPC client can. */
	s->has_cpu = true;
	s->cpu = NAN;
	ASSERT_INT_EQ(
	    orch_task_spec_validate(s, err, sizeof(err)), ORCH_EINVAL);
	ASSERT_STR_CONTAINS(err, "field \"cpu\"");
	s->cpu = INFINITY;
	ASSERT_INT_EQ(
	    orch_task_spec_validate(s, err, sizeof(err)), ORCH_EINVAL);
	s->cpu = 0.5;
	free(s->name);
	s->name = NULL;
	ASSERT_INT_EQ(
	    orch_task_spec_validate(s, err, sizeof(err)), ORCH_EINVAL);
	ASSERT_STR_CONTAINS(err, "field \"name\" is required");
	s->name = strdup("a\x7f");
	ASSERT_INT_EQ(
	    orch_task_spec_validate(s, err, sizeof(err)), ORCH_EINVAL);
	ASSERT_STR_CONTAINS(err, "field \"name\"");
	free(s->name);
	s->name = strdup("web");
	s->has_memory_mb = true;
	s->memory_mb = ORCH_MEMORY_MIN_MB - 1;
	ASSERT_INT_EQ(
	    orch_task_spec_validate(s, err, sizeof(err)), ORCH_EINVAL);
	ASSERT_STR_CONTAINS(err, "field \"memory\"");
	s->memory_mb = 256;
	/* An unset entry in a list (protobuf-c leaves them NULL). */
	s->n_command = 1;
	s->command = calloc(1, sizeof(*s->command));
	ASSERT_INT_EQ(
	    orch_task_spec_validate(s, err, sizeof(err)), ORCH_EINVAL);
	ASSERT_STR_CONTAINS(err, "field \"command\": argument 0");
	s->command[0] = strdup("true");
	ASSERT_INT_EQ(orch_task_spec_validate(s, err, sizeof(err)), ORCH_OK);
	orch_task_free(t);
}

static void
test_task_new(void)
{
	orch_task *a = task_make(), *b = task_make();

	ASSERT(orch_id_valid(a->id));
	ASSERT(strcmp(a->id, b->id) != 0);
	ASSERT(a->has_status);
	ASSERT_INT_EQ(a->status, PENDING);
	ASSERT(a->has_created_at_ms && a->created_at_ms > 0);
	ASSERT(!a->has_started_at_ms && !a->has_finished_at_ms);
	ASSERT(!a->has_exit_code);
	ASSERT(
	    a->node_id == NULL && a->container_id == NULL && a->error == NULL);
	/* Defaults are stored, not implied. */
	ASSERT(a->spec->has_memory_mb);
	ASSERT_INT_EQ(a->spec->memory_mb, 256);
	ASSERT(a->spec->has_cpu);
	ASSERT(a->spec->cpu == 0.5);
	orch_task_free(a);
	orch_task_free(b);
	orch_task_free(NULL);
	orch_task_spec_free(NULL);

	/* Given values are kept. */
	orch_task_spec *s = malloc(sizeof(*s));

	ASSERT(s != NULL);
	orch__task_spec__init(s);
	s->name = strdup("n");
	s->image = strdup("i");
	s->has_memory_mb = true;
	s->memory_mb = 64;
	s->has_cpu = true;
	s->cpu = 2.0;
	ASSERT_INT_EQ(orch_task_new(s, &a), ORCH_OK);
	ASSERT_INT_EQ(a->spec->memory_mb, 64);
	ASSERT(a->spec->cpu == 2.0);
	orch_task_free(a);
}

static void
test_str_set(void)
{
	char *f = NULL;

	ASSERT_INT_EQ(orch_str_set(&f, "abc"), ORCH_OK);
	ASSERT_STR_EQ(f, "abc");
	ASSERT_INT_EQ(orch_str_set(&f, "de"), ORCH_OK);
	ASSERT_STR_EQ(f, "de");
	/* Setting a field from itself must not read freed memory. */
	ASSERT_INT_EQ(orch_str_set(&f, f), ORCH_OK);
	ASSERT_STR_EQ(f, "de");
	ASSERT_INT_EQ(orch_str_set(&f, NULL), ORCH_OK);
	ASSERT(f == NULL);
}

static void
test_update_forward(void)
{
	orch_task *t = task_make();
	struct orch_task_update u = update_of(SCHEDULED);
	char err[256];

	ASSERT_INT_EQ(
	    orch_task_apply_update(t, &u, 1000, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(t->status, SCHEDULED);
	ASSERT(!t->has_started_at_ms);

	/* Running: started_at is set once, the container id is recorded. */
	u = update_of(RUNNING);
	u.container_id = "c1";
	ASSERT_INT_EQ(
	    orch_task_apply_update(t, &u, 2000, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(t->status, RUNNING);
	ASSERT(t->has_started_at_ms);
	ASSERT_INT_EQ(t->started_at_ms, 2000);
	ASSERT(!t->has_finished_at_ms);
	ASSERT_STR_EQ(t->container_id, "c1");

	/* A repeated Running report (a retry) keeps the first start time, and
	 * a null container id keeps the stored one. */
	u = update_of(RUNNING);
	ASSERT_INT_EQ(
	    orch_task_apply_update(t, &u, 3000, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(t->started_at_ms, 2000);
	ASSERT_STR_EQ(t->container_id, "c1");

	/* A new container id replaces the old one. */
	u.container_id = "c2";
	ASSERT_INT_EQ(
	    orch_task_apply_update(t, &u, 3500, err, sizeof(err)), ORCH_OK);
	ASSERT_STR_EQ(t->container_id, "c2");

	/* Completed: finished_at and the exit code, 0 included. */
	u = update_of(COMPLETED);
	u.has_exit_code = true;
	u.exit_code = 0;
	ASSERT_INT_EQ(
	    orch_task_apply_update(t, &u, 4000, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(t->status, COMPLETED);
	ASSERT(t->has_finished_at_ms);
	ASSERT_INT_EQ(t->finished_at_ms, 4000);
	ASSERT_INT_EQ(t->started_at_ms, 2000);
	ASSERT(t->has_exit_code);
	ASSERT_INT_EQ(t->exit_code, 0);
	ASSERT_STR_EQ(t->container_id, "c2");
	orch_task_free(t);

	/* Pending straight to Running (no Scheduled step) and then Failed. */
	t = task_make();
	u = update_of(RUNNING);
	ASSERT_INT_EQ(
	    orch_task_apply_update(t, &u, 10, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(t->started_at_ms, 10);
	ASSERT(t->container_id == NULL);
	u = update_of(FAILED);
	u.has_exit_code = true;
	u.exit_code = 137;
	u.error = "OOM killed";
	ASSERT_INT_EQ(
	    orch_task_apply_update(t, &u, 20, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(t->status, FAILED);
	ASSERT_INT_EQ(t->finished_at_ms, 20);
	ASSERT_INT_EQ(t->exit_code, 137);
	ASSERT_STR_EQ(t->error, "OOM killed");
	orch_task_free(t);

	/* Failing before it ever ran: finished but never started. */
	t = task_make();
	u = update_of(FAILED);
	u.error = "image not found";
	ASSERT_INT_EQ(
	    orch_task_apply_update(t, &u, 30, err, sizeof(err)), ORCH_OK);
	ASSERT(!t->has_started_at_ms);
	ASSERT_INT_EQ(t->finished_at_ms, 30);
	ASSERT(!t->has_exit_code);
	orch_task_free(t);
}

/* A deep copy of t's status fields, to prove a refusal changed nothing. */
struct snap {
	int status;
	bool has_started, has_finished, has_exit;
	int64_t started, finished;
	int32_t exit_code;
	char cid[64], error[64];
};

static struct snap
snap_take(const orch_task *t)
{
	struct snap s = {
	    .status = t->status,
	    .has_started = t->has_started_at_ms,
	    .has_finished = t->has_finished_at_ms,
	    .has_exit = t->has_exit_code,
	    .started = t->started_at_ms,
	    .finished = t->finished_at_ms,
	    .exit_code = t->exit_code,
	};

	snprintf(s.cid, sizeof(s.cid), "%s",
	    t->container_id ? t->container_id : "(null)");
	snprintf(
	    s.error, sizeof(s.error), "%s", t->error ? t->error : "(null)");
	return s;
}

static void
snap_same(const orch_task *t, const struct snap *s)
{
	struct snap now = snap_take(t);

	ASSERT_INT_EQ(now.status, s->status);
	ASSERT_INT_EQ(now.has_started, s->has_started);
	ASSERT_INT_EQ(now.has_finished, s->has_finished);
	ASSERT_INT_EQ(now.has_exit, s->has_exit);
	ASSERT_INT_EQ(now.started, s->started);
	ASSERT_INT_EQ(now.finished, s->finished);
	ASSERT_INT_EQ(now.exit_code, s->exit_code);
	ASSERT_STR_EQ(now.cid, s->cid);
	ASSERT_STR_EQ(now.error, s->error);
}

/* A task driven to status (terminal or not) through legal reports. */
static orch_task *
task_at(int status)
{
	orch_task *t = task_make();
	struct orch_task_update u;
	char err[256];

	if (status == STOPPED) {
		ASSERT_INT_EQ(orch_task_stop(t, 50), ORCH_OK);
		ASSERT_INT_EQ(t->status, STOPPED);
		return t;
	}
	if (status >= SCHEDULED) {
		u = update_of(SCHEDULED);
		ASSERT_INT_EQ(
		    orch_task_apply_update(t, &u, 100, err, sizeof(err)),
		    ORCH_OK);
	}
	if (status >= RUNNING) {
		u = update_of(RUNNING);
		u.container_id = "c1";
		ASSERT_INT_EQ(
		    orch_task_apply_update(t, &u, 200, err, sizeof(err)),
		    ORCH_OK);
	}
	if (status >= COMPLETED) {
		u = update_of(status);
		u.has_exit_code = true;
		u.exit_code = status == COMPLETED ? 0 : 1;
		u.error = status == FAILED ? "crashed" : NULL;
		ASSERT_INT_EQ(
		    orch_task_apply_update(t, &u, 300, err, sizeof(err)),
		    ORCH_OK);
	}
	ASSERT_INT_EQ(t->status, status);
	return t;
}

static void
test_update_terminal(void)
{
	static const int terminal[] = {COMPLETED, FAILED, STOPPED};
	static const int all[] = {
	    PENDING, SCHEDULED, RUNNING, COMPLETED, FAILED, STOPPED};
	char err[256];

	for (size_t i = 0; i < 3; i++) {
		for (size_t k = 0; k < 6; k++) {
			orch_task *t = task_at(terminal[i]);
			struct snap before = snap_take(t);
			struct orch_task_update u = update_of(all[k]);
			int rc;

			u.container_id = "other";
			u.has_exit_code = true;
			u.exit_code = 99;
			u.error = "late";
			err[0] = '\0';
			rc = orch_task_apply_update(
			    t, &u, 9999, err, sizeof(err));
			if (all[k] == terminal[i]) {
				/* A retried final report: accepted, changes
				 * nothing. */
				ASSERT_INT_EQ(rc, ORCH_OK);
			} else {
				ASSERT_INT_EQ(rc, ORCH_ECONFLICT);
				ASSERT_STR_CONTAINS(err, t->id);
				ASSERT_STR_CONTAINS(
				    err, orch_task_status_name(terminal[i]));
				ASSERT_STR_CONTAINS(
				    err, orch_task_status_name(all[k]));
			}
			snap_same(t, &before);
			orch_task_free(t);
		}
	}
}

static void
test_update_backwards(void)
{
	static const struct {
		int from, to;
	} back[] = {
	    {SCHEDULED, PENDING},
	    {RUNNING, PENDING},
	    {RUNNING, SCHEDULED},
	};
	char err[256];

	for (size_t i = 0; i < sizeof(back) / sizeof(back[0]); i++) {
		orch_task *t = task_at(back[i].from);
		struct snap before = snap_take(t);
		struct orch_task_update u = update_of(back[i].to);

		u.container_id = "other";
		err[0] = '\0';
		ASSERT_INT_EQ(
		    orch_task_apply_update(t, &u, 9999, err, sizeof(err)),
		    ORCH_ECONFLICT);
		ASSERT_STR_CONTAINS(err, "cannot go back to");
		snap_same(t, &before);
		orch_task_free(t);
	}
}

static void
test_update_bad_status(void)
{
	orch_task *t = task_make();
	struct snap before = snap_take(t);
	struct orch_task_update u = update_of(0);
	char err[256];

	ASSERT_INT_EQ(
	    orch_task_apply_update(t, &u, 1, err, sizeof(err)), ORCH_EINVAL);
	ASSERT_STR_CONTAINS(err, "unknown status");
	u = update_of(STOPPED + 1);
	ASSERT_INT_EQ(
	    orch_task_apply_update(t, &u, 1, err, sizeof(err)), ORCH_EINVAL);
	u = update_of(-3);
	ASSERT_INT_EQ(
	    orch_task_apply_update(t, &u, 1, err, sizeof(err)), ORCH_EINVAL);
	snap_same(t, &before);
	orch_task_free(t);
}

static void
test_stop(void)
{
	orch_task *t = task_make();
	struct orch_task_update u;
	char err[256];

	/* Pending: nothing runs, so it is Stopped at once. */
	ASSERT_INT_EQ(orch_task_stop(t, 500), ORCH_OK);
	ASSERT_INT_EQ(t->status, STOPPED);
	ASSERT(t->has_finished_at_ms);
	ASSERT_INT_EQ(t->finished_at_ms, 500);
	ASSERT(t->stop_requested);
	/* Stopping again changes nothing. */
	ASSERT_INT_EQ(orch_task_stop(t, 600), ORCH_OK);
	ASSERT_INT_EQ(t->finished_at_ms, 500);
	/* A late Running report from a node cannot revive it. */
	u = update_of(RUNNING);
	ASSERT_INT_EQ(orch_task_apply_update(t, &u, 700, err, sizeof(err)),
	    ORCH_ECONFLICT);
	ASSERT_INT_EQ(t->status, STOPPED);
	orch_task_free(t);

	/* Scheduled with no node yet: also stopped at once. */
	t = task_at(SCHEDULED);
	ASSERT_INT_EQ(orch_task_stop(t, 500), ORCH_OK);
	ASSERT_INT_EQ(t->status, STOPPED);
	ASSERT_INT_EQ(t->finished_at_ms, 500);
	orch_task_free(t);

	/* Scheduled on a node: the node must stop it. */
	t = task_at(SCHEDULED);
	ASSERT_INT_EQ(orch_str_set(&t->node_id, "node-1"), ORCH_OK);
	ASSERT_INT_EQ(orch_task_stop(t, 500), ORCH_OK);
	ASSERT_INT_EQ(t->status, SCHEDULED);
	ASSERT(t->stop_requested);
	ASSERT(!t->has_finished_at_ms);
	orch_task_free(t);

	/* Running: keeps running with the request recorded until the node
	 * reports Stopped. */
	t = task_at(RUNNING);
	ASSERT_INT_EQ(orch_task_stop(t, 500), ORCH_OK);
	ASSERT_INT_EQ(t->status, RUNNING);
	ASSERT(t->has_stop_requested && t->stop_requested);
	ASSERT(!t->has_finished_at_ms);
	u = update_of(STOPPED);
	u.has_exit_code = true;
	u.exit_code = 143;
	ASSERT_INT_EQ(
	    orch_task_apply_update(t, &u, 800, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(t->status, STOPPED);
	ASSERT_INT_EQ(t->finished_at_ms, 800);
	ASSERT_INT_EQ(t->exit_code, 143);
	orch_task_free(t);

	/* Terminal tasks are left as they are. */
	for (int st = COMPLETED; st <= FAILED; st++) {
		struct snap before;

		t = task_at(st);
		before = snap_take(t);
		ASSERT_INT_EQ(orch_task_stop(t, 900), ORCH_OK);
		snap_same(t, &before);
		ASSERT(!t->stop_requested);
		orch_task_free(t);
	}
}

/* A report's own start and end times, and the scheduler's explanation
 * dropped when a task leaves Pending. */
static void
test_update_times_and_wait_reason(void)
{
	orch_task *t = task_make();
	struct orch_task_update u = update_of(RUNNING);
	char err[256];

	ASSERT_INT_EQ(orch_str_set(&t->error, "no Ready node"), ORCH_OK);
	u.has_started_at_ms = true;
	u.started_at_ms = 1000;
	ASSERT_INT_EQ(
	    orch_task_apply_update(t, &u, 5000, err, sizeof(err)), ORCH_OK);
	ASSERT(t->error == NULL);
	ASSERT_INT_EQ(t->started_at_ms, 1000);
	/* A later Running report keeps the first start. */
	u.started_at_ms = 2000;
	ASSERT_INT_EQ(
	    orch_task_apply_update(t, &u, 6000, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(t->started_at_ms, 1000);
	u = update_of(COMPLETED);
	u.has_finished_at_ms = true;
	u.finished_at_ms = 3000;
	ASSERT_INT_EQ(
	    orch_task_apply_update(t, &u, 7000, err, sizeof(err)), ORCH_OK);
	ASSERT_INT_EQ(t->finished_at_ms, 3000);
	orch_task_free(t);

	/* Straight to Failed with its own error and times: both kept. */
	t = task_make();
	ASSERT_INT_EQ(orch_str_set(&t->error, "no Ready node"), ORCH_OK);
	u = update_of(FAILED);
	u.error = "image not found";
	u.has_started_at_ms = true;
	u.started_at_ms = 10;
	ASSERT_INT_EQ(
	    orch_task_apply_update(t, &u, 20, err, sizeof(err)), ORCH_OK);
	ASSERT_STR_EQ(t->error, "image not found");
	ASSERT(t->has_started_at_ms && t->started_at_ms == 10);
	ASSERT(t->has_finished_at_ms && t->finished_at_ms == 20);
	orch_task_free(t);

	/* A task that never left Pending keeps the reason it waits. */
	t = task_make();
	ASSERT_INT_EQ(orch_str_set(&t->error, "no Ready node"), ORCH_OK);
	u = update_of(PENDING);
	ASSERT_INT_EQ(
	    orch_task_apply_update(t, &u, 20, err, sizeof(err)), ORCH_OK);
	ASSERT_STR_EQ(t->error, "no Ready node");
	orch_task_free(t);
}

int
main(void)
{
	RUN(test_status_names);
	RUN(test_id_new);
	RUN(test_id_valid);
	RUN(test_spec_validate);
	RUN(test_task_new);
	RUN(test_str_set);
	RUN(test_update_forward);
	RUN(test_update_terminal);
	RUN(test_update_backwards);
	RUN(test_update_bad_status);
	RUN(test_stop);
	RUN(test_update_times_and_wait_reason);
	return 0;
}
