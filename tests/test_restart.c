/*
 * test_restart.c: restart policies (parsing, whether an ended task is
 * restarted, on-failure:N counting), the backoff arithmetic, and which
 * tasks stay open for the reconciler.
 */
#include "error.h"
#include "harness.h"
#include "restart.h"

#define PENDING ORCH__TASK_STATUS__TASK_STATUS_PENDING
#define RUNNING ORCH__TASK_STATUS__TASK_STATUS_RUNNING
#define COMPLETED ORCH__TASK_STATUS__TASK_STATUS_COMPLETED
#define FAILED ORCH__TASK_STATUS__TASK_STATUS_FAILED
#define STOPPED ORCH__TASK_STATUS__TASK_STATUS_STOPPED

static struct orch_restart_policy
policy(const char *s)
{
	struct orch_restart_policy p;
	char err[256];

	if (orch_restart_policy_parse(s, &p, err, sizeof(err)) != ORCH_OK)
		h_fail(__FILE__, __LINE__, "\"%s\" refused: %s",
		    s != NULL ? s : "(null)", err);
	return p;
}

static void
test_parse(void)
{
	struct orch_restart_policy p;
	char err[256], text[32];
	static const char *const bad[] = {"sometimes",
	    "on-failure:", "on-failure:0", "on-failure:-1", "on-failure:x",
	    "on-failure:10001", "Always", "on-failure:3 ", "on-failure: 3",
	    "on-failure:99999999999999999999"};

	p = policy(NULL);
	ASSERT_INT_EQ(p.mode, ORCH_RESTART_NEVER);
	p = policy("");
	ASSERT_INT_EQ(p.mode, ORCH_RESTART_NEVER);
	p = policy("never");
	ASSERT_INT_EQ(p.mode, ORCH_RESTART_NEVER);
	p = policy("always");
	ASSERT_INT_EQ(p.mode, ORCH_RESTART_ALWAYS);
	p = policy("on-failure");
	ASSERT_INT_EQ(p.mode, ORCH_RESTART_ON_FAILURE);
	ASSERT_INT_EQ(p.max, 0);
	p = policy("on-failure:2");
	ASSERT_INT_EQ(p.mode, ORCH_RESTART_ON_FAILURE);
	ASSERT_INT_EQ(p.max, 2);
	ASSERT_STR_EQ(
	    orch_restart_policy_text(&p, text, sizeof(text)), "on-failure:2");
	p = policy("on-failure:10000");
	ASSERT_INT_EQ(p.max, 10000);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (orch_restart_policy_parse(bad[i], &p, err, sizeof(err)) !=
		    ORCH_EINVAL)
			h_fail(__FILE__, __LINE__, "\"%s\" accepted", bad[i]);
		ASSERT_STR_CONTAINS(err,
		    "field \"restart\" must be never, "
		    "on-failure, on-failure:N");
	}
}

/* A task that ended with status after restarts earlier attempts. */
static orch_task
ended(int status, uint32_t restarts)
{
	orch_task t = ORCH__TASK__INIT;

	t.has_status = true;
	t.status = status;
	t.restarts = restarts;
	return t;
}

static void
test_wanted(void)
{
	struct orch_restart_policy never = policy("never"),
	                           always = policy("always"),
	                           onf = policy("on-failure"),
	                           onf2 = policy("on-failure:2");
	orch_task t;

	t = ended(FAILED, 0);
	ASSERT(!orch_restart_wanted(&never, &t));
	ASSERT(orch_restart_wanted(&always, &t));
	ASSERT(orch_restart_wanted(&onf, &t));
	ASSERT(orch_restart_wanted(&onf2, &t));
	/* on-failure:2: at most 2 restarts, whatever the earlier ones. */
	t = ended(FAILED, 1);
	ASSERT(orch_restart_wanted(&onf2, &t));
	t = ended(FAILED, 2);
	ASSERT(!orch_restart_wanted(&onf2, &t));
	ASSERT(orch_restart_wanted(&onf, &t));
	t = ended(FAILED, 1000);
	ASSERT(orch_restart_wanted(&onf, &t));
	/* Completed: only always. */
	t = ended(COMPLETED, 0);
	ASSERT(orch_restart_wanted(&always, &t));
	ASSERT(!orch_restart_wanted(&onf, &t));
	ASSERT(!orch_restart_wanted(&never, &t));
	/* Stopped on request: never, whatever the policy. */
	t = ended(STOPPED, 0);
	t.stop_requested = true;
	ASSERT(!orch_restart_wanted(&always, &t));
	t = ended(FAILED, 0);
	t.stop_requested = true;
	ASSERT(!orch_restart_wanted(&onf, &t));
	/* Not ended: not yet. */
	t = ended(RUNNING, 0);
	ASSERT(!orch_restart_wanted(&always, &t));
	t = ended(PENDING, 0);
	ASSERT(!orch_restart_wanted(&always, &t));
	/* Lost with its node: Failed, a failure like another. */
	t = ended(FAILED, 0);
	t.lost = true;
	ASSERT(orch_restart_wanted(&onf, &t));
}

/* An attempt that waited wait_ms before it was placed, ran ran_ms (-1:
 * never started) and failed. */
static orch_task
attempt(int64_t wait_ms, int64_t ran_ms)
{
	orch_task t = ended(FAILED, 0);

	t.has_created_at_ms = true;
	t.created_at_ms = 1000000;
	if (wait_ms > 0) {
		t.has_not_before_ms = true;
		t.not_before_ms = t.created_at_ms + wait_ms;
	}
	if (ran_ms >= 0) {
		t.has_started_at_ms = true;
		t.started_at_ms = 2000000;
		t.has_finished_at_ms = true;
		t.finished_at_ms = t.started_at_ms + ran_ms;
	}
	return t;
}

static void
test_backoff(void)
{
	orch_task t;
	int64_t d = 0;
	static const int64_t want[] = {
	    1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000};

	/* A crash loop: each delay twice the one before, up to the cap. */
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		t = attempt(d, 50);
		d = orch_restart_backoff_ms(&t);
		ASSERT_INT_EQ(d, want[i]);
	}
	ASSERT_INT_EQ(ORCH_RESTART_BACKOFF_MIN_MS, 1000);
	ASSERT_INT_EQ(ORCH_RESTART_BACKOFF_MAX_MS, 60000);
	/* One that never started counts as quick. */
	t = attempt(4000, -1);
	ASSERT_INT_EQ(orch_restart_backoff_ms(&t), 8000);
	/* One that ran for the reset time starts the count over. */
	t = attempt(32000, ORCH_RESTART_RESET_MS);
	ASSERT_INT_EQ(orch_restart_backoff_ms(&t), 1000);
	t = attempt(32000, ORCH_RESTART_RESET_MS - 1);
	ASSERT_INT_EQ(orch_restart_backoff_ms(&t), 60000);
	/* Lost with its node: at once. */
	t = attempt(32000, 50);
	t.lost = true;
	ASSERT_INT_EQ(orch_restart_backoff_ms(&t), 0);
}

static void
test_open(void)
{
	orch_task_spec sp = ORCH__TASK_SPEC__INIT;
	orch_task t;

	/* Not ended: open whatever else. */
	t = ended(RUNNING, 0);
	ASSERT(orch_task_open(&t));
	t = ended(PENDING, 0);
	ASSERT(orch_task_open(&t));
	/* A plain task: open while its own policy wants a restart. */
	t = ended(FAILED, 0);
	t.spec = &sp;
	ASSERT(!orch_task_open(&t)); /* no policy: never */
	sp.restart = "on-failure:1";
	ASSERT(orch_task_open(&t));
	t.restarts = 1;
	ASSERT(!orch_task_open(&t));
	t.restarts = 0;
	t.replaced_by = "x";
	ASSERT(!orch_task_open(&t));
	/* A replica: open until replaced, its slot being decided. */
	t = ended(COMPLETED, 0);
	t.spec = &sp;
	sp.restart = "never";
	t.service_id = "s";
	ASSERT(orch_task_open(&t));
	t.replaced_by = "x";
	ASSERT(!orch_task_open(&t));
}

int
main(void)
{
	RUN(test_parse);
	RUN(test_wanted);
	RUN(test_backoff);
	RUN(test_open);
	return 0;
}
