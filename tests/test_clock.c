/*
 * test_clock.c: RFC 3339 parsing and formatting (services/common/clock.c),
 * at the edges the agent (Docker's times) and orchctl (the AGE column)
 * rely on.
 */
#include "harness.h"

#include "clock.h"
#include "error.h"

/* 2026-11-26T21:01:57Z, the instant most cases below are built on. */
#define T0 1795726917000LL

/* Parses s, which must be accepted, and returns its time. */
static int64_t
parse_ok(const char *s)
{
	int64_t ms = -42;

	if (orch_rfc3339_parse(s, &ms) != ORCH_OK)
		h_fail(__FILE__, __LINE__, "\"%s\" was refused", s);
	return ms;
}

/* s must be refused, leaving the out-parameter alone. */
static void
parse_bad(const char *s)
{
	int64_t ms = -42;

	if (orch_rfc3339_parse(s, &ms) != ORCH_EINVAL)
		h_fail(__FILE__, __LINE__, "\"%s\" was accepted", s);
	ASSERT_INT_EQ(ms, -42);
}

static void
test_basic(void)
{
	ASSERT_INT_EQ(parse_ok("1970-01-01T00:00:00Z"), 0);
	ASSERT_INT_EQ(parse_ok("2026-11-26T21:01:57Z"), T0);
	/* RFC 3339 lets "T" and "Z" be lower case. */
	ASSERT_INT_EQ(parse_ok("2026-11-26t21:01:57z"), T0);
	ASSERT_INT_EQ(parse_ok("1969-12-31T23:59:59Z"), -1000);
	ASSERT_INT_EQ(parse_ok("2000-01-01T00:00:00Z"), 946684800000LL);
	ASSERT_INT_EQ(parse_ok("9999-12-31T23:59:59Z"), 253402300799000LL);
	/* A leap second is the first second of the next minute. */
	ASSERT_INT_EQ(parse_ok("2016-12-31T23:59:60Z"), 1483228800000LL);
}

static void
test_fraction(void)
{
	/* Any number of digits; past milliseconds they are dropped. */
	ASSERT_INT_EQ(parse_ok("2026-11-26T21:01:57.5Z"), T0 + 500);
	ASSERT_INT_EQ(parse_ok("2026-11-26T21:01:57.54Z"), T0 + 540);
	ASSERT_INT_EQ(parse_ok("2026-11-26T21:01:57.543Z"), T0 + 543);
	ASSERT_INT_EQ(parse_ok("2026-11-26T21:01:57.543603306Z"), T0 + 543);
	ASSERT_INT_EQ(parse_ok("2026-11-26T21:01:57.999999999Z"), T0 + 999);
	ASSERT_INT_EQ(parse_ok("2026-11-26T21:01:57.000Z"), T0);
	ASSERT_INT_EQ(
	    parse_ok("2026-11-26T21:01:57."
	             "12345678901234567890123456789012345678901234567890Z"),
	    T0 + 123);
	/* A point needs at least one digit. */
	parse_bad("2026-11-26T21:01:57.Z");
	parse_bad("2026-11-26T21:01:57.");
	parse_bad("2026-11-26T21:01:57.5x");
}

static void
test_offsets(void)
{
	ASSERT_INT_EQ(parse_ok("2026-11-26T22:01:57+01:00"), T0);
	ASSERT_INT_EQ(parse_ok("2026-11-26T15:31:57-05:30"), T0);
	ASSERT_INT_EQ(parse_ok("2026-11-26T21:01:57+00:00"), T0);
	ASSERT_INT_EQ(parse_ok("2026-11-26T21:01:57-00:00"), T0);
	ASSERT_INT_EQ(parse_ok("2026-11-27T21:00:57+23:59"), T0);
	ASSERT_INT_EQ(parse_ok("2026-11-25T21:02:57-23:59"), T0);
	ASSERT_INT_EQ(parse_ok("2026-11-26T22:01:57.250+01:00"), T0 + 250);
	parse_bad("2026-11-26T21:01:57+24:00");
	parse_bad("2026-11-26T21:01:57+01:60");
	parse_bad("2026-11-26T21:01:57+0100");
	parse_bad("2026-11-26T21:01:57+01");
	parse_bad("2026-11-26T21:01:57+1:00");
	parse_bad("2026-11-26T21:01:57");
}

static void
test_calendar(void)
{
	/* Leap years: every 4th, not every 100th, but every 400th. */
	ASSERT_INT_EQ(parse_ok("2024-02-29T00:00:00Z"), 1709164800000LL);
	ASSERT_INT_EQ(parse_ok("2000-02-29T00:00:00Z"), 951782400000LL);
	ASSERT_INT_EQ(
	    parse_ok("2024-03-01T00:00:00Z") - parse_ok("2024-02-28T00:00:00Z"),
	    2 * 86400000LL);
	parse_bad("2023-02-29T00:00:00Z");
	parse_bad("1900-02-29T00:00:00Z");
	parse_bad("2100-02-29T00:00:00Z");
	parse_bad("2026-02-31T00:00:00Z");
	parse_bad("2026-02-30T00:00:00Z");
	parse_bad("2026-04-31T00:00:00Z");
	parse_bad("2026-06-31T00:00:00Z");
	parse_bad("2026-09-31T00:00:00Z");
	parse_bad("2026-11-31T00:00:00Z");
	ASSERT(parse_ok("2026-01-31T00:00:00Z") > 0);
	ASSERT(parse_ok("2026-12-31T00:00:00Z") > 0);
	parse_bad("2026-00-10T00:00:00Z");
	parse_bad("2026-13-10T00:00:00Z");
	parse_bad("2026-11-00T00:00:00Z");
	parse_bad("2026-11-32T00:00:00Z");
	parse_bad("2026-11-26T24:00:00Z");
	parse_bad("2026-11-26T23:60:00Z");
	parse_bad("2026-11-26T23:59:61Z");
}

/* Docker's zero time ("never started") is read as a time before the
 * epoch; the agent maps it to 0 itself. */
static void
test_zero_time(void)
{
	ASSERT_INT_EQ(parse_ok("0001-01-01T00:00:00Z"), -62135596800000LL);
	ASSERT(parse_ok("0000-01-01T00:00:00Z") <
	    parse_ok("0001-01-01T00:00:00Z"));
}

static void
test_garbage(void)
{
	static const char *const bad[] = {
	    "",
	    "now",
	    "2026",
	    "2026-11-26",
	    "2026-11-26T",
	    "2026-11-26T21:01",
	    "2026-11-26T21:01Z",
	    "2026-11-26 21:01:57Z", /* a space is no "T" here */
	    "2026-11-26_21:01:57Z",
	    "26-11-26T21:01:57Z",
	    "02026-11-26T21:01:57Z",
	    "2026-1-26T21:01:57Z",
	    "2026-11-6T21:01:57Z",
	    "2026-11-26T1:01:57Z",
	    "2026-11-26T21:1:57Z",
	    "2026-11-26T21:01:7Z",
	    "2026/11/26T21:01:57Z",
	    "2026-11-26T21-01-57Z",
	    "2026-11-26T21:01:57ZZ",
	    "2026-11-26T21:01:57Z ",
	    " 2026-11-26T21:01:57Z",
	    "2026-11-26T21:01:57UTC",
	    "2026-11-26T21:01:57+01:00Z",
	    "+2026-11-26T21:01:57Z",
	    "-2026-11-26T21:01:57Z",
	    "2026-11-26T21:01:57,5Z",
	    "2O26-11-26T21:01:57Z",
	    "\xff\xfe",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		parse_bad(bad[i]);
}

/* Every cut of a valid time is refused without reading past its end
 * (the sanitizers watch the heap copy). */
static void
test_truncated(void)
{
	static const char full[] = "2026-11-26T22:01:57.543603306+01:00";
	size_t n = sizeof(full) - 1;

	for (size_t i = 0; i < n; i++) {
		char *s = malloc(i + 1);

		ASSERT(s != NULL);
		memcpy(s, full, i);
		s[i] = '\0';
		parse_bad(s);
		free(s);
	}
	ASSERT_INT_EQ(parse_ok(full), T0 + 543);
}

/* What orch_rfc3339 writes (the manager's times) reads back the same. */
static void
test_round_trip(void)
{
	static const int64_t times[] = {
	    0,
	    1,
	    999,
	    1000,
	    -1,
	    -1000,
	    -1001,
	    T0,
	    T0 + 543,
	    951782400000LL,
	    253402300799999LL,
	    -62135596800000LL,
	};
	char buf[ORCH_RFC3339_LEN];
	int64_t now = orch_now_ms();

	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		orch_rfc3339(times[i], buf, sizeof(buf));
		ASSERT_INT_EQ(parse_ok(buf), times[i]);
	}
	orch_rfc3339(T0 + 543, buf, sizeof(buf));
	ASSERT_STR_EQ(buf, "2026-11-26T21:01:57.543Z");
	orch_rfc3339(now, buf, sizeof(buf));
	ASSERT_INT_EQ(parse_ok(buf), now);
}

/* A deadline is ms after the monotonic time before it, normalized. */
static void
test_mono_deadline(void)
{
	static const int ms[] = {0, 1, 999, 1000, 1500, 2999, 10000};

	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
		struct timespec before, until;
		int64_t b, u;

		clock_gettime(CLOCK_MONOTONIC, &before);
		orch_mono_deadline(ms[i], &until);
		ASSERT(until.tv_nsec >= 0 && until.tv_nsec < 1000000000L);
		b = (int64_t)before.tv_sec * 1000000000LL + before.tv_nsec;
		u = (int64_t)until.tv_sec * 1000000000LL + until.tv_nsec;
		ASSERT(u - b >= (int64_t)ms[i] * 1000000LL);
	}
}

int
main(void)
{
	RUN(test_basic);
	RUN(test_fraction);
	RUN(test_offsets);
	RUN(test_calendar);
	RUN(test_zero_time);
	RUN(test_garbage);
	RUN(test_truncated);
	RUN(test_round_trip);
	RUN(test_mono_deadline);
	return 0;
}
