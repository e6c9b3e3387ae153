/*
 * test_trail.c: orchctl's --wait status line (ctl/trail.c) and status
 * colours (ctl/color.c): steps shown once, the oldest giving way to
 * "..." when the line would not fit the terminal, colours only when
 * asked, and what --color=auto decides from NO_COLOR and TERM.
 */
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"

#include "color.h"
#include "error.h"
#include "table.h"
#include "trail.h"

static void
test_steps(void)
{
	struct orch_trail t = {0};
	char buf[1024];
	size_t cols;

	ASSERT_STR_EQ(orch_trail_last(&t), "");
	ASSERT(orch_trail_add(&t, "Pending"));
	ASSERT(!orch_trail_add(&t, "Pending")); /* a repeat is not a step */
	ASSERT(orch_trail_add(&t, "Scheduled (node-a)"));
	ASSERT(orch_trail_add(&t, "Running (node-a)"));
	cols = orch_trail_render(&t, "web", 3250, false, 0, buf, sizeof(buf));
	ASSERT_STR_EQ(buf,
	    "web  Pending -> Scheduled (node-a) -> Running (node-a)  3.2s");
	ASSERT_INT_EQ(cols, strlen(buf));
	/* Coloured: the same columns, each status in its colour. */
	cols = orch_trail_render(&t, "web", 3250, true, 0, buf, sizeof(buf));
	ASSERT_STR_EQ(buf,
	    "web  \033[33mPending\033[0m -> \033[33mScheduled (node-a)\033[0m "
	    "-> \033[32mRunning (node-a)\033[0m  3.2s");
	ASSERT_INT_EQ(cols,
	    strlen("web  Pending -> Scheduled (node-a) -> "
	           "Running (node-a)  3.2s"));
	/* A name or step from the manager cannot drive the terminal. */
	ASSERT(orch_trail_add(&t, "Failed\033[2J"));
	ASSERT_STR_EQ(orch_trail_last(&t), "Failed\\x1b[2J");
}

static void
test_width(void)
{
	struct orch_trail t = {0};
	char buf[1024];
	size_t cols;

	orch_trail_add(&t, "Pending");
	orch_trail_add(&t, "Scheduled (node-a)");
	orch_trail_add(&t, "Running (node-a)");
	/* 40 columns: the oldest steps go first. */
	cols = orch_trail_render(&t, "web", 61000, false, 40, buf, sizeof(buf));
	ASSERT_STR_EQ(buf, "web  ... -> Running (node-a)  1m01s");
	ASSERT(cols <= 40);
	cols = orch_trail_render(&t, "web", 100, false, 50, buf, sizeof(buf));
	ASSERT_STR_EQ(buf, "web  ... -> Running (node-a)  0.1s");
	ASSERT(cols <= 50);
	/* 60 is just enough for all of it. */
	cols = orch_trail_render(&t, "web", 100, false, 60, buf, sizeof(buf));
	ASSERT_STR_EQ(buf,
	    "web  Pending -> Scheduled (node-a) -> Running (node-a)  0.1s");
	ASSERT_INT_EQ(cols, 60);
	/* The last step stays, even wider than the terminal. */
	cols = orch_trail_render(&t, "web", 100, false, 10, buf, sizeof(buf));
	ASSERT_STR_EQ(buf, "web  ... -> Running (node-a)  0.1s");
	ASSERT(cols > 10);
	/* A full trail drops its oldest step and says so. */
	for (int i = 0; i < ORCH_TRAIL_STEPS + 5; i++) {
		char s[16];

		snprintf(s, sizeof(s), "%d/9", i);
		ASSERT(orch_trail_add(&t, s));
	}
	ASSERT_INT_EQ(t.n, ORCH_TRAIL_STEPS);
	ASSERT_STR_EQ(t.steps[0], "5/9"); /* 3 + 37 added, 32 kept */
	orch_trail_render(&t, "svc", 0, false, 0, buf, sizeof(buf));
	ASSERT(strncmp(buf, "svc  ... -> 5/9 -> ", 19) == 0);
	/* A buffer too small is cut, not overrun. */
	orch_trail_render(&t, "svc", 0, false, 0, buf, 8);
	ASSERT_STR_EQ(buf, "svc  ..");
}

static void
test_colors(void)
{
	enum orch_color_mode m;

	ASSERT_INT_EQ(orch_color_mode_parse("auto", &m), ORCH_OK);
	ASSERT_INT_EQ(m, ORCH_COLOR_AUTO);
	ASSERT_INT_EQ(orch_color_mode_parse("never", &m), ORCH_OK);
	ASSERT_INT_EQ(m, ORCH_COLOR_NEVER);
	ASSERT_INT_EQ(orch_color_mode_parse("yes", &m), ORCH_EINVAL);
	ASSERT_STR_EQ(orch_color_status("Running (healthy)"), "\033[32m");
	ASSERT_STR_EQ(orch_color_status("Failed"), "\033[31m");
	ASSERT_STR_EQ(orch_color_status("NotReady"), "\033[33m");
	ASSERT(orch_color_status("Run") == NULL);
	ASSERT(orch_color_status("2/3 running") == NULL);
	ASSERT(orch_color_status(NULL) == NULL);

	/* A file is no terminal: auto says no, always says yes. */
	unsetenv("NO_COLOR");
	ASSERT(!orch_color_use(ORCH_COLOR_AUTO, STDIN_FILENO) ||
	    isatty(STDIN_FILENO));
	{
		char path[] = "/tmp/orch-test-trail-XXXXXX";
		int fd = mkstemp(path);

		ASSERT(fd >= 0);
		ASSERT(!orch_color_use(ORCH_COLOR_AUTO, fd));
		ASSERT(orch_color_use(ORCH_COLOR_ALWAYS, fd));
		setenv("NO_COLOR", "1", 1);
		ASSERT(orch_color_use(ORCH_COLOR_ALWAYS, fd));
		ASSERT(!orch_color_use(ORCH_COLOR_NEVER, fd));
		unsetenv("NO_COLOR");
		close(fd);
		unlink(path);
	}
}

int
main(void)
{
	RUN(test_steps);
	RUN(test_width);
	RUN(test_colors);
	return 0;
}
